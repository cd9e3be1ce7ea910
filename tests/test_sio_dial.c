/* test_sio_dial.c: outgoing connections (sio_dial) as their owner sees
 * them: the one cb and its status, how long it took, on_close exactly
 * once, and the bytes that cross. The peers are in-process servers on the
 * same loop (sio_listener + sio_conn, plain or sio_tls), a unix socket
 * server, a listener whose accept queue is full (a connect that hangs),
 * and a real redis-server with TLS. Certificates (a CA, a server
 * certificate for localhost and 127.0.0.1, a client certificate, and an
 * unrelated CA) are made per test with the openssl command. Every test
 * runs under a guard timer and ends with uv_loop_close() == 0, so a
 * handle or request left behind fails it; ASan checks the memory. */
#include <check.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <openssl/ssl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>
#include <uv.h>

#include "check_suites.h"
#include "failmalloc.h"
#include "sio_conn.h"
#include "sio_dial.h"
#include "sio_int.h"
#include "sio_listener.h"
#include "sio_tls.h"

#define GUARD_MS 8000
#define MAX_CONNS 8

/* ------------------------------------------------------------ certificates */

static char dir[64];

static const char *file(const char *name) {
  static char buf[8][128];
  static int i;
  char *b = buf[i++ % 8];
  snprintf(b, 128, "%s/%s", dir, name);
  return b;
}

static void make_certs(void) {
  char cmd[2048];
  snprintf(dir, sizeof(dir), "/tmp/sio-dial-test.XXXXXX");
  ck_assert_ptr_nonnull(mkdtemp(dir));
  snprintf(
      cmd, sizeof(cmd),
      "(cd %s && K='-newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes' && "
      "openssl req -x509 $K -keyout ca.key -out ca.pem -days 1 "
      "-subj /CN=sio-test-ca && "
      "openssl req -x509 $K -keyout other.key -out other.pem -days 1 "
      "-subj /CN=sio-other-ca && "
      "openssl req -new $K -keyout server.key -out server.csr "
      "-subj /CN=localhost && "
      "printf 'subjectAltName=DNS:localhost,IP:127.0.0.1\\n' >server.ext && "
      "openssl x509 -req -in server.csr -CA ca.pem -CAkey ca.key "
      "-CAcreateserial -out server.pem -days 1 -extfile server.ext && "
      "openssl req -new $K -keyout client.key -out client.csr "
      "-subj /CN=sio-client && "
      "printf 'extendedKeyUsage=clientAuth\\n' >client.ext && "
      "openssl x509 -req -in client.csr -CA ca.pem -CAkey ca.key "
      "-CAcreateserial -out client.pem -days 1 -extfile client.ext) "
      ">/dev/null 2>&1",
      dir);
  ck_assert_int_eq(system(cmd), 0);
}

static void remove_certs(void) {
  char cmd[128];
  snprintf(cmd, sizeof(cmd), "rm -rf %s", dir);
  (void)!system(cmd);
}

/* ------------------------------------------------------------- fixture */

typedef struct tctx tctx;

typedef struct tconn {
  sio_conn base; /* first */
  tctx *t;
  int server;
} tconn;

struct tctx {
  uv_loop_t loop;
  sio_net net;
  uv_timer_t guard;
  uv_timer_t later; /* a test's delayed action */
  int timed_out;
  /* in-process server */
  sio_listener lsn;
  int lsn_open;
  int port;
  sio_tls_ctx *srv_tls;
  int srv_require_cert; /* verify client certificates against ca.pem */
  int srv_tls12;        /* the server speaks TLS 1.2 at most */
  int srv_silent;       /* read, never answer */
  int srv_hangup;       /* with srv_silent: close on the first bytes */
  size_t srv_in;
  int srv_peer_cert_ok; /* the client's certificate was verified */
  int srv_got_close_notify;
  int srv_errors;
  int srv_closes;
  sio_conn *srv_conn; /* the latest accepted */
  /* unix socket server */
  uv_pipe_t usrv;
  int usrv_open;
  char upath[108];
  /* the dialing connection */
  tconn *cli;
  sio_tls_client_ctx *cli_tls;
  sio_dial_opts o;
  int cb_calls, cb_status;
  uint64_t t0, t_cb; /* uv_hrtime */
  int cli_closes, cli_errors, cli_drains;
  int cli_got_close_notify;
  char got[256];
  size_t got_len;
  const char *send_early; /* written right after sio_dial */
  const char *send;       /* written from cb */
  size_t expect;          /* client closes gracefully once it has this */
  int close_on_hello;     /* the server closes the client on its first bytes */
  int graceful_on_hello;  /* ...with sio_conn_close_after_flush */
  /* everything open, to close on the guard */
  sio_conn *conns[MAX_CONNS];
  int finished;
};

static void track(tctx *t, sio_conn *c) {
  int i;
  for (i = 0; i < MAX_CONNS; i++)
    if (!t->conns[i]) {
      t->conns[i] = c;
      return;
    }
  ck_abort_msg("too many connections");
}

static int untrack(tctx *t, sio_conn *c) {
  int i, live = 0;
  for (i = 0; i < MAX_CONNS; i++) {
    if (t->conns[i] == c)
      t->conns[i] = NULL;
    live += t->conns[i] != NULL;
  }
  return live;
}

static void noop_closed(uv_handle_t *h) { (void)h; }

/* Once the client is gone and every server connection closed. */
static void maybe_finish(tctx *t) {
  int i;
  if (t->finished || t->cli)
    return;
  for (i = 0; i < MAX_CONNS; i++)
    if (t->conns[i])
      return;
  t->finished = 1;
  uv_close((uv_handle_t *)&t->guard, NULL);
  if (!uv_is_closing((uv_handle_t *)&t->later))
    uv_close((uv_handle_t *)&t->later, NULL);
  if (t->lsn_open)
    sio_listener_close(&t->lsn, noop_closed);
  if (t->usrv_open)
    uv_close((uv_handle_t *)&t->usrv, noop_closed);
  sio_net_close(&t->net, NULL);
}

static void guard_cb(uv_timer_t *h) {
  tctx *t = h->data;
  int i;
  t->timed_out = 1;
  for (i = 0; i < MAX_CONNS; i++)
    if (t->conns[i])
      sio_conn_close(t->conns[i]);
}

/* --------------------------------------------------------- server side */

static void write_b_cb(uv_timer_t *h) {
  tctx *t = h->data;
  sio_conn_write(t->srv_conn, "b", 1);
}

static void srv_on_read(sio_conn *c, const uint8_t *d, size_t n) {
  tctx *t = ((tconn *)c)->t;
  if (c->ssl && SSL_get0_peer_certificate(c->ssl) &&
      SSL_get_verify_result(c->ssl) == X509_V_OK)
    t->srv_peer_cert_ok = 1;
  t->srv_in += n;
  if (t->srv_silent) {
    if (t->srv_hangup)
      sio_conn_close(c);
    else if (t->cli && t->srv_in == n && t->close_on_hello) {
      if (t->graceful_on_hello)
        sio_conn_close_after_flush(&t->cli->base);
      else
        sio_conn_close(&t->cli->base);
    }
    return;
  }
  if (n >= 5 && memcmp(d, "twice", 5) == 0) {
    sio_conn_write(c, "a", 1); /* and "b" a moment later */
    uv_timer_start(&t->later, write_b_cb, 50, 0);
    return;
  }
  if (n >= 4 && memcmp(d, "quit", 4) == 0) {
    sio_conn_write(c, "bye", 3);
    sio_conn_close_after_flush(c);
    return;
  }
  if (sio_conn_write(c, d, n)) /* echo */
    sio_conn_close(c);         /* out of memory (failmalloc) */
}

static void srv_on_error(sio_conn *c, int status) {
  tctx *t = ((tconn *)c)->t;
  (void)status;
  t->srv_errors++;
  if (c->ssl && (SSL_get_shutdown(c->ssl) & SSL_RECEIVED_SHUTDOWN))
    t->srv_got_close_notify = 1;
}

static void srv_on_close(sio_conn *c) {
  tctx *t = ((tconn *)c)->t;
  t->srv_closes++;
  untrack(t, c);
  free(c);
  maybe_finish(t);
}

static const sio_conn_ops srv_ops = {srv_on_read, srv_on_error, NULL,
                                     srv_on_close};

static int verify_any_depth(int ok, X509_STORE_CTX *x) {
  (void)x;
  return ok;
}

static sio_conn *srv_accept(sio_listener *l, void *ud) {
  tctx *t = ud;
  tconn *sc = calloc(1, sizeof(*sc));
  (void)l;
  ck_assert_ptr_nonnull(sc);
  ck_assert_int_eq(sio_conn_init(&sc->base, &t->net, &srv_ops), 0);
  sc->t = t;
  sc->server = 1;
  track(t, &sc->base);
  t->srv_conn = &sc->base;
  if (t->srv_tls) {
    ck_assert_int_eq(sio_tls_attach(&sc->base, t->srv_tls), 0);
    if (t->srv_tls12)
      SSL_set_max_proto_version(sc->base.ssl, TLS1_2_VERSION);
    if (t->srv_require_cert) {
      /* sio_tls has no client verification (the server never needed it):
       * the test sets it on the SSL object */
      SSL_CTX_load_verify_locations(SSL_get_SSL_CTX(sc->base.ssl),
                                    file("ca.pem"), NULL);
      SSL_set_verify(sc->base.ssl,
                     SSL_VERIFY_PEER | SSL_VERIFY_FAIL_IF_NO_PEER_CERT,
                     verify_any_depth);
    }
  }
  return &sc->base;
}

static void start_server_at(tctx *t, int tls, const char *addr) {
  char err[256];
  int open = 0;
  if (tls)
    ck_assert_int_eq(sio_tls_ctx_new(&t->srv_tls, file("server.pem"),
                                     file("server.key"), NULL, 0, err,
                                     sizeof(err)),
                     0);
  ck_assert_int_eq(
      sio_listener_open(&t->lsn, &t->net, addr, 16, srv_accept, t, &open), 0);
  t->lsn_open = 1;
  t->port = t->lsn.port;
}

static void start_server(tctx *t, int tls) {
  start_server_at(t, tls, "127.0.0.1:0");
}

/* The unix socket server: its connections are sio_conns too. */
static void free_handle(uv_handle_t *h) { free(h); }

static void usrv_on_connection(uv_stream_t *s, int status) {
  tctx *t = s->data;
  tconn *sc = calloc(1, sizeof(*sc));
  ck_assert_int_eq(status, 0);
  ck_assert_ptr_nonnull(sc);
  if (sio_conn_init_pipe(&sc->base, &t->net, &srv_ops) != 0) {
    /* out of memory (failmalloc): refuse, as sio_listener does */
    uv_pipe_t *p = malloc(sizeof(*p));
    free(sc);
    ck_assert_ptr_nonnull(p);
    uv_pipe_init(s->loop, p, 0);
    uv_accept(s, (uv_stream_t *)p);
    uv_close((uv_handle_t *)p, free_handle);
    return;
  }
  sc->t = t;
  sc->server = 1;
  track(t, &sc->base);
  ck_assert_int_eq(uv_accept(s, (uv_stream_t *)sc->base.pipe), 0);
  if (t->srv_tls)
    ck_assert_int_eq(sio_tls_attach(&sc->base, t->srv_tls), 0);
  ck_assert_int_eq(sio_conn_start(&sc->base), 0);
}

static void start_unix_server(tctx *t) {
  snprintf(t->upath, sizeof(t->upath), "%s/echo.sock", dir);
  ck_assert_int_eq(uv_pipe_init(&t->loop, &t->usrv, 0), 0);
  t->usrv.data = t;
  t->usrv_open = 1;
  ck_assert_int_eq(uv_pipe_bind(&t->usrv, t->upath), 0);
  ck_assert_int_eq(uv_listen((uv_stream_t *)&t->usrv, 8, usrv_on_connection),
                   0);
}

/* --------------------------------------------------------- client side */

static void cli_on_read(sio_conn *c, const uint8_t *d, size_t n) {
  tctx *t = ((tconn *)c)->t;
  size_t room = sizeof(t->got) - 1 - t->got_len;
  memcpy(t->got + t->got_len, d, SIO_MIN(n, room));
  t->got_len += SIO_MIN(n, room);
  t->got[t->got_len] = '\0';
  if (t->expect && t->got_len >= t->expect)
    sio_conn_close_after_flush(c);
}

static void cli_on_error(sio_conn *c, int status) {
  tctx *t = ((tconn *)c)->t;
  (void)status;
  t->cli_errors++;
  if (c->ssl && (SSL_get_shutdown(c->ssl) & SSL_RECEIVED_SHUTDOWN))
    t->cli_got_close_notify = 1;
}

static void cli_on_close(sio_conn *c) {
  tctx *t = ((tconn *)c)->t;
  t->cli_closes++;
  untrack(t, c);
  t->cli = NULL;
  free(c);
  maybe_finish(t);
}

static void cli_on_drain(sio_conn *c) { ((tconn *)c)->t->cli_drains++; }

static const sio_conn_ops cli_ops = {cli_on_read, cli_on_error, cli_on_drain,
                                     cli_on_close};

static void dial_cb(sio_conn *c, int status, const char *why) {
  (void)why;
  tctx *t = ((tconn *)c)->t;
  t->cb_calls++;
  t->cb_status = status;
  t->t_cb = uv_hrtime();
  if (status == 0 && t->send && sio_conn_write(c, t->send, strlen(t->send)))
    sio_conn_close(c); /* out of memory (failmalloc): got stays short */
}

static void setup(tctx *t) {
  memset(t, 0, sizeof(*t));
  ck_assert_int_eq(uv_loop_init(&t->loop), 0);
  ck_assert_int_eq(sio_net_init(&t->net, &t->loop), 0);
  sio_net_set_close_timeout(&t->net, 2000);
  uv_timer_init(&t->loop, &t->guard);
  t->guard.data = t;
  uv_timer_start(&t->guard, guard_cb, GUARD_MS, 0);
  uv_timer_init(&t->loop, &t->later);
  t->later.data = t;
  t->cb_status = 1; /* no status yet */
}

static void client_tls(tctx *t, const char *ca, int with_cert) {
  char err[256];
  ck_assert_int_eq(sio_tls_client_ctx_new(&t->cli_tls, file(ca),
                                          with_cert ? file("client.pem") : NULL,
                                          with_cert ? file("client.key") : NULL,
                                          err, sizeof(err)),
                   0);
  t->o.tls = t->cli_tls;
}

/* Dials t->o; returns sio_dial's result. */
static int dial(tctx *t) {
  tconn *c = calloc(1, sizeof(*c));
  int rv;
  ck_assert_ptr_nonnull(c);
  c->t = t;
  t->t0 = uv_hrtime();
  rv = sio_dial(&c->base, &t->net, &cli_ops, &t->o, dial_cb);
  if (rv) {
    free(c);
    return rv;
  }
  t->cli = c;
  track(t, &c->base);
  ck_assert_int_eq(t->cb_calls, 0); /* never from inside sio_dial */
  if (t->send_early &&
      sio_conn_write(&c->base, t->send_early, strlen(t->send_early)))
    sio_conn_close(&c->base); /* out of memory (failmalloc) */
  return 0;
}

static void run(tctx *t) {
  uv_run(&t->loop, UV_RUN_DEFAULT);
  ck_assert_int_eq(t->timed_out, 0);
  ck_assert_int_eq(uv_loop_close(&t->loop), 0);
  sio_tls_ctx_del(t->srv_tls);
  sio_tls_client_ctx_del(t->cli_tls);
}

static double cb_ms(const tctx *t) { return (double)(t->t_cb - t->t0) / 1e6; }

/* A port nothing listens on: bound, then closed. */
static int closed_port(void) {
  struct sockaddr_in a;
  socklen_t len = sizeof(a);
  int fd = socket(AF_INET, SOCK_STREAM, 0), port;
  memset(&a, 0, sizeof(a));
  a.sin_family = AF_INET;
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  ck_assert_int_eq(bind(fd, (struct sockaddr *)&a, sizeof(a)), 0);
  ck_assert_int_eq(getsockname(fd, (struct sockaddr *)&a, &len), 0);
  port = ntohs(a.sin_port);
  close(fd);
  return port;
}

/* A listener that never accepts, at fds[0]. With fill, its accept queue
 * is full (fds[1] took the one place): a further SYN is dropped, so a
 * connect to it hangs. */
static int idle_port(int fds[2], int fill) {
  struct sockaddr_in a;
  socklen_t len = sizeof(a);
  fds[0] = socket(AF_INET, SOCK_STREAM, 0);
  fds[1] = -1;
  memset(&a, 0, sizeof(a));
  a.sin_family = AF_INET;
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  ck_assert_int_eq(bind(fds[0], (struct sockaddr *)&a, sizeof(a)), 0);
  ck_assert_int_eq(listen(fds[0], fill ? 0 : 8), 0);
  ck_assert_int_eq(getsockname(fds[0], (struct sockaddr *)&a, &len), 0);
  if (fill) {
    fds[1] = socket(AF_INET, SOCK_STREAM, 0);
    ck_assert_int_eq(connect(fds[1], (struct sockaddr *)&a, sizeof(a)), 0);
  }
  return ntohs(a.sin_port);
}

static int hanging_port(int fds[2]) { return idle_port(fds, 1); }

static void close_fds(int fds[2]) {
  if (fds[1] >= 0)
    close(fds[1]);
  close(fds[0]);
}

static void close_cli_cb(uv_timer_t *h) {
  tctx *t = h->data;
  ck_assert_ptr_nonnull(t->cli);
  sio_conn_close(&t->cli->base);
}

/* ------------------------------------------------------ unhappy paths */

START_TEST(bad_arguments_are_refused_without_callbacks) {
  tctx t;
  sio_dial_opts o;
  char longpath[200];
  setup(&t);
  memset(&o, 0, sizeof(o));
  t.o = o; /* no host, no path */
  ck_assert_int_eq(dial(&t), SIO_ERR_INVAL);
  t.o.host = "127.0.0.1";
  t.o.port = 0;
  ck_assert_int_eq(dial(&t), SIO_ERR_INVAL);
  t.o.port = 65536;
  ck_assert_int_eq(dial(&t), SIO_ERR_INVAL);
  t.o.host = "";
  t.o.port = 80;
  ck_assert_int_eq(dial(&t), SIO_ERR_INVAL);
  memset(longpath, 'a', sizeof(longpath) - 1);
  longpath[sizeof(longpath) - 1] = '\0';
  memset(&t.o, 0, sizeof(t.o));
  t.o.path = longpath; /* longer than sun_path */
  ck_assert_int_eq(dial(&t), SIO_ERR_INVAL);
  t.o.path = "";
  ck_assert_int_eq(dial(&t), SIO_ERR_INVAL);
  /* TLS over a unix socket needs the name to verify */
  t.o.path = "/tmp/x.sock";
  t.o.tls = (sio_tls_client_ctx *)&t; /* never used */
  ck_assert_int_eq(dial(&t), SIO_ERR_INVAL);
  ck_assert_uint_eq(t.net.nconns, 0);
  maybe_finish(&t);
  run(&t);
  ck_assert_int_eq(t.cb_calls, 0);
  ck_assert_int_eq(t.cli_closes, 0);
}
END_TEST

START_TEST(refused_is_reported_at_once) {
  tctx t;
  setup(&t);
  t.o.host = "127.0.0.1";
  t.o.port = closed_port();
  ck_assert_int_eq(dial(&t), 0);
  run(&t);
  ck_assert_int_eq(t.cb_calls, 1);
  ck_assert_int_eq(t.cb_status, SIO_ERR_IO);
  ck_assert_int_eq(t.cli_closes, 1);
  ck_assert_int_eq(t.cli_errors, 0);
  ck_assert_msg(cb_ms(&t) < 1000, "refused after %.1f ms", cb_ms(&t));
}
END_TEST

/* A connect the kernel refuses inside the call (TCP to a broadcast
 * address: ENETUNREACH): still reported from the loop, never from inside
 * sio_dial (dial() checks). */
START_TEST(connect_failing_at_once_is_reported_from_the_loop) {
  tctx t;
  setup(&t);
  t.o.host = "255.255.255.255";
  t.o.port = 80;
  ck_assert_int_eq(dial(&t), 0);
  run(&t);
  ck_assert_int_eq(t.cb_calls, 1);
  ck_assert_int_eq(t.cb_status, SIO_ERR_IO);
  ck_assert_int_eq(t.cli_closes, 1);
  ck_assert_msg(cb_ms(&t) < 1000, "failed after %.1f ms", cb_ms(&t));
}
END_TEST

/* "localhost" goes through getaddrinfo, then the same refusal. */
START_TEST(refused_after_resolving_a_name) {
  tctx t;
  setup(&t);
  t.o.host = "localhost";
  t.o.port = closed_port();
  ck_assert_int_eq(dial(&t), 0);
  run(&t);
  ck_assert_int_eq(t.cb_calls, 1);
  ck_assert_int_eq(t.cb_status, SIO_ERR_IO);
  ck_assert_int_eq(t.cli_closes, 1);
  ck_assert_msg(cb_ms(&t) < 1000, "refused after %.1f ms", cb_ms(&t));
}
END_TEST

START_TEST(name_that_does_not_resolve) {
  tctx t;
  setup(&t);
  t.o.host = "nonexistent.invalid";
  t.o.port = 6379;
  ck_assert_int_eq(dial(&t), 0);
  run(&t);
  ck_assert_int_eq(t.cb_calls, 1);
  ck_assert_int_eq(t.cb_status, SIO_ERR_IO);
  ck_assert_int_eq(t.cli_closes, 1);
}
END_TEST

/* Work that keeps every threadpool thread busy, so a getaddrinfo waits
 * in the queue (libuv's pool has 4 threads unless UV_THREADPOOL_SIZE). */
static void busy_work(uv_work_t *w) {
  (void)w;
  usleep(400 * 1000);
}

static void busy_done(uv_work_t *w, int status) {
  (void)status;
  free(w);
}

static void occupy_threadpool(tctx *t) {
  int i;
  for (i = 0; i < 16; i++) {
    uv_work_t *w = malloc(sizeof(*w));
    ck_assert_int_eq(uv_queue_work(&t->loop, w, busy_work, busy_done), 0);
  }
}

/* The deadline passes while the name is still being resolved: reported
 * on time, and the resolver request is withdrawn. */
START_TEST(timeout_while_resolving) {
  tctx t;
  setup(&t);
  occupy_threadpool(&t);
  t.o.host = "localhost";
  t.o.port = closed_port();
  t.o.timeout_ms = 100;
  ck_assert_int_eq(dial(&t), 0);
  run(&t);
  ck_assert_int_eq(t.cb_calls, 1);
  ck_assert_int_eq(t.cb_status, SIO_ERR_TIMEOUT);
  ck_assert_int_eq(t.cli_closes, 1);
  ck_assert_msg(cb_ms(&t) >= 95 && cb_ms(&t) < 390, "timed out after %.1f ms",
                cb_ms(&t));
}
END_TEST

/* Closed while the getaddrinfo waits for a thread: it is withdrawn, and
 * the owner's memory is gone before it would have run. */
START_TEST(close_while_resolve_is_queued) {
  tctx t;
  setup(&t);
  occupy_threadpool(&t);
  t.o.host = "localhost";
  t.o.port = closed_port();
  ck_assert_int_eq(dial(&t), 0);
  uv_timer_start(&t.later, close_cli_cb, 50, 0);
  run(&t);
  ck_assert_int_eq(t.cb_calls, 0);
  ck_assert_int_eq(t.cli_closes, 1);
}
END_TEST

START_TEST(unix_socket_that_does_not_exist) {
  tctx t;
  setup(&t);
  t.o.path = "/nonexistent/sio-dial.sock";
  ck_assert_int_eq(dial(&t), 0);
  run(&t);
  ck_assert_int_eq(t.cb_calls, 1);
  ck_assert_int_eq(t.cb_status, SIO_ERR_IO);
  ck_assert_int_eq(t.cli_closes, 1);
}
END_TEST

/* A connect that hangs (the SYN is dropped): the deadline ends it. */
START_TEST(timeout_while_connecting) {
  tctx t;
  int fds[2];
  setup(&t);
  t.o.host = "127.0.0.1";
  t.o.port = hanging_port(fds);
  t.o.timeout_ms = 300;
  ck_assert_int_eq(dial(&t), 0);
  run(&t);
  close_fds(fds);
  ck_assert_int_eq(t.cb_calls, 1);
  ck_assert_int_eq(t.cb_status, SIO_ERR_TIMEOUT);
  ck_assert_int_eq(t.cli_closes, 1);
  ck_assert_msg(cb_ms(&t) >= 290 && cb_ms(&t) < 1000, "timed out after %.1f ms",
                cb_ms(&t));
}
END_TEST

/* A server that accepts TCP and never answers the ClientHello. */
START_TEST(timeout_in_the_tls_handshake) {
  tctx t;
  make_certs();
  setup(&t);
  start_server(&t, 0);
  t.srv_silent = 1;
  client_tls(&t, "ca.pem", 0);
  t.o.host = "127.0.0.1";
  t.o.port = t.port;
  t.o.timeout_ms = 300;
  ck_assert_int_eq(dial(&t), 0);
  run(&t);
  remove_certs();
  ck_assert_int_eq(t.cb_calls, 1);
  ck_assert_int_eq(t.cb_status, SIO_ERR_TIMEOUT);
  ck_assert_int_eq(t.cli_closes, 1);
  ck_assert_int_eq(t.cli_errors, 0);
  ck_assert_uint_gt(t.srv_in, 0); /* the ClientHello arrived */
  ck_assert_msg(cb_ms(&t) >= 290 && cb_ms(&t) < 1000, "timed out after %.1f ms",
                cb_ms(&t));
}
END_TEST

static void tls_failure(const char *ca, const char *server_name) {
  tctx t;
  make_certs();
  setup(&t);
  start_server(&t, 1);
  client_tls(&t, ca, 0);
  t.o.host = "127.0.0.1";
  t.o.port = t.port;
  t.o.server_name = server_name;
  t.send_early = "never sent";
  ck_assert_int_eq(dial(&t), 0);
  run(&t);
  remove_certs();
  ck_assert_int_eq(t.cb_calls, 1);
  ck_assert_int_eq(t.cb_status, SIO_ERR_PROTO);
  ck_assert_int_eq(t.cli_closes, 1);
  ck_assert_int_eq(t.cli_errors, 0);
  ck_assert_uint_eq(t.got_len, 0);
  ck_assert_msg(cb_ms(&t) < 1000, "failed after %.1f ms", cb_ms(&t));
}

START_TEST(tls_wrong_ca) { tls_failure("other.pem", NULL); }
END_TEST

START_TEST(tls_name_not_in_certificate) {
  tls_failure("ca.pem", "redis.example.com");
}
END_TEST

START_TEST(tls_address_not_in_certificate) {
  tls_failure("ca.pem", "10.1.2.3");
}
END_TEST

/* TLS 1.2: the server rejects the missing client certificate before its
 * Finished, so the dial itself fails. */
START_TEST(tls12_client_certificate_required_but_missing) {
  tctx t;
  make_certs();
  setup(&t);
  start_server(&t, 1);
  t.srv_require_cert = 1;
  t.srv_tls12 = 1;
  client_tls(&t, "ca.pem", 0);
  t.o.host = "localhost";
  t.o.port = t.port;
  ck_assert_int_eq(dial(&t), 0);
  run(&t);
  remove_certs();
  ck_assert_int_eq(t.cb_calls, 1);
  ck_assert_int_eq(t.cb_status, SIO_ERR_PROTO);
  ck_assert_int_eq(t.cli_closes, 1);
}
END_TEST

/* Plain TCP to a TLS-less server that closes: EOF in the handshake. */
START_TEST(tls_peer_closes_in_the_handshake) {
  tctx t;
  make_certs();
  setup(&t);
  start_server(&t, 0);
  t.srv_silent = 1;
  client_tls(&t, "ca.pem", 0);
  t.o.host = "127.0.0.1";
  t.o.port = t.port;
  t.srv_silent = 1;
  t.srv_hangup = 1; /* on the ClientHello */
  ck_assert_int_eq(dial(&t), 0);
  run(&t);
  remove_certs();
  ck_assert_uint_gt(t.srv_in, 0);
  ck_assert_int_eq(t.cb_calls, 1);
  ck_assert_int_eq(t.cb_status, SIO_ERR_IO);
  ck_assert_int_eq(t.cli_closes, 1);
  ck_assert_int_eq(t.cli_errors, 0);
}
END_TEST

START_TEST(client_ctx_errors_name_the_file) {
  sio_tls_client_ctx *x = NULL;
  char err[256];
  make_certs();
  ck_assert_int_eq(sio_tls_client_ctx_new(&x, "/nonexistent/ca.pem", NULL, NULL,
                                          err, sizeof(err)),
                   SIO_ERR_IO);
  ck_assert_ptr_nonnull(strstr(err, "/nonexistent/ca.pem"));
  ck_assert_int_eq(sio_tls_client_ctx_new(&x, file("ca.pem"),
                                          file("client.pem"), NULL, err,
                                          sizeof(err)),
                   SIO_ERR_IO);
  ck_assert_ptr_nonnull(strstr(err, "client.pem"));
  ck_assert_int_eq(sio_tls_client_ctx_new(&x, file("ca.pem"),
                                          file("client.pem"),
                                          file("server.key"), err, sizeof(err)),
                   SIO_ERR_IO);
  ck_assert_ptr_nonnull(strstr(err, "server.key"));
  ck_assert_int_eq(sio_tls_client_ctx_new(&x, file("ca.pem"),
                                          "/nonexistent/c.pem",
                                          file("client.key"), err, sizeof(err)),
                   SIO_ERR_IO);
  ck_assert_ptr_nonnull(strstr(err, "/nonexistent/c.pem"));
  ck_assert_ptr_null(x);
  /* the system's CAs, no client certificate */
  ck_assert_int_eq(
      sio_tls_client_ctx_new(&x, NULL, NULL, NULL, err, sizeof(err)), 0);
  sio_tls_client_ctx_del(x);
  sio_tls_client_ctx_del(NULL);
  remove_certs();
}
END_TEST

/* ---------------------------------------------- closed by the owner */

START_TEST(close_while_resolving) {
  tctx t;
  setup(&t);
  t.o.host = "localhost";
  t.o.port = closed_port();
  t.send_early = "dropped";
  ck_assert_int_eq(dial(&t), 0);
  sio_conn_close(&t.cli->base); /* getaddrinfo is still out */
  run(&t);
  ck_assert_int_eq(t.cb_calls, 0);
  ck_assert_int_eq(t.cli_closes, 1);
}
END_TEST

static void close_cli_gracefully_cb(uv_timer_t *h) {
  tctx *t = h->data;
  ck_assert_ptr_nonnull(t->cli);
  sio_conn_close_after_flush(&t->cli->base);
}

static void close_while_connecting(uv_timer_cb how) {
  tctx t;
  int fds[2];
  setup(&t);
  t.o.host = "127.0.0.1";
  t.o.port = hanging_port(fds);
  t.send_early = "dropped";
  ck_assert_int_eq(dial(&t), 0);
  uv_timer_start(&t.later, how, 50, 0);
  run(&t);
  close_fds(fds);
  ck_assert_int_eq(t.cb_calls, 0);
  ck_assert_int_eq(t.cli_closes, 1);
}

START_TEST(close_while_connecting_hangs) {
  close_while_connecting(close_cli_cb);
}
END_TEST

START_TEST(close_after_flush_while_connecting) {
  close_while_connecting(close_cli_gracefully_cb);
}
END_TEST

/* Closed right away: the attempt's connect request is still out (the
 * listener never accepts, so no server connection is left behind). */
START_TEST(close_right_after_dial) {
  tctx t;
  int fds[2];
  setup(&t);
  t.o.host = "127.0.0.1";
  t.o.port = idle_port(fds, 0); /* the kernel completes the connect */
  ck_assert_int_eq(dial(&t), 0);
  sio_conn_close(&t.cli->base);
  run(&t);
  close_fds(fds);
  ck_assert_int_eq(t.cb_calls, 0);
  ck_assert_int_eq(t.cli_closes, 1);
}
END_TEST

static void close_in_handshake(int graceful) {
  tctx t;
  make_certs();
  setup(&t);
  start_server(&t, 0);
  t.srv_silent = 1;
  t.close_on_hello = 1;
  t.graceful_on_hello = graceful;
  client_tls(&t, "ca.pem", 0);
  t.o.host = "127.0.0.1";
  t.o.port = t.port;
  ck_assert_int_eq(dial(&t), 0);
  run(&t);
  remove_certs();
  ck_assert_uint_gt(t.srv_in, 0);
  ck_assert_int_eq(t.cb_calls, 0);
  ck_assert_int_eq(t.cli_closes, 1);
}

START_TEST(close_during_tls_handshake) { close_in_handshake(0); }
END_TEST

START_TEST(close_after_flush_during_tls_handshake) { close_in_handshake(1); }
END_TEST

START_TEST(close_while_unix_connecting) {
  tctx t;
  make_certs();
  setup(&t);
  start_unix_server(&t);
  t.o.path = t.upath;
  ck_assert_int_eq(dial(&t), 0);
  sio_conn_close(&t.cli->base);
  run(&t);
  remove_certs();
  ck_assert_int_eq(t.cb_calls, 0);
  ck_assert_int_eq(t.cli_closes, 1);
}
END_TEST

/* -------------------------------------------------------- happy paths */

/* Bytes written before the connect completed wait, then go first. */
START_TEST(tcp_echo_round_trip) {
  tctx t;
  make_certs();
  setup(&t);
  start_server(&t, 0);
  t.o.host = "127.0.0.1";
  t.o.port = t.port;
  t.send_early = "early,";
  t.send = "late";
  t.expect = strlen("early,late");
  ck_assert_int_eq(dial(&t), 0);
  run(&t);
  remove_certs();
  ck_assert_int_eq(t.cb_calls, 1);
  ck_assert_int_eq(t.cb_status, 0);
  ck_assert_str_eq(t.got, "early,late");
  ck_assert_int_eq(t.cli_closes, 1);
  ck_assert_int_eq(t.srv_closes, 1);
  ck_assert_uint_eq(t.net.close_timeouts, 0);
}
END_TEST

static void check_remote_cb(sio_conn *c, int status, const char *why) {
  (void)why;
  tctx *t = ((tconn *)c)->t;
  if (status == 0)
    ck_assert_str_eq(c->remote, t->o.path ? t->o.path : "127.0.0.1");
  dial_cb(c, status, why);
}

/* "localhost" resolves; the server listens on 127.0.0.1 only. */
START_TEST(tcp_by_name_and_remote_address) {
  tctx t;
  tconn *c;
  make_certs();
  setup(&t);
  start_server(&t, 0);
  t.o.host = "localhost";
  t.o.port = t.port;
  t.send = "hello";
  t.expect = 5;
  c = calloc(1, sizeof(*c));
  c->t = &t;
  t.t0 = uv_hrtime();
  ck_assert_int_eq(sio_dial(&c->base, &t.net, &cli_ops, &t.o, check_remote_cb),
                   0);
  t.cli = c;
  track(&t, &c->base);
  run(&t);
  remove_certs();
  ck_assert_int_eq(t.cb_status, 0);
  ck_assert_str_eq(t.got, "hello");
  ck_assert_int_eq(t.cli_closes, 1);
}
END_TEST

static void check_remote_v6_cb(sio_conn *c, int status, const char *why) {
  (void)why;
  if (status == 0)
    ck_assert_str_eq(c->remote, "::1");
  dial_cb(c, status, why);
}

/* An IPv6 literal, without brackets. */
START_TEST(tcp_echo_over_ipv6) {
  tctx t;
  tconn *c;
  make_certs();
  setup(&t);
  start_server_at(&t, 0, "[::1]:0");
  t.o.host = "::1";
  t.o.port = t.port;
  t.send = "six";
  t.expect = 3;
  c = calloc(1, sizeof(*c));
  c->t = &t;
  ck_assert_int_eq(
      sio_dial(&c->base, &t.net, &cli_ops, &t.o, check_remote_v6_cb), 0);
  t.cli = c;
  track(&t, &c->base);
  run(&t);
  remove_certs();
  ck_assert_int_eq(t.cb_status, 0);
  ck_assert_str_eq(t.got, "six");
  ck_assert_int_eq(t.cli_closes, 1);
}
END_TEST

/* The certificate names 127.0.0.1, not ::1. */
START_TEST(tls_ipv6_address_not_in_certificate) {
  tctx t;
  make_certs();
  setup(&t);
  start_server_at(&t, 1, "[::1]:0");
  client_tls(&t, "ca.pem", 0);
  t.o.host = "::1";
  t.o.port = t.port;
  ck_assert_int_eq(dial(&t), 0);
  run(&t);
  remove_certs();
  ck_assert_int_eq(t.cb_calls, 1);
  ck_assert_int_eq(t.cb_status, SIO_ERR_PROTO);
  ck_assert_int_eq(t.cli_closes, 1);
}
END_TEST

START_TEST(unix_socket_echo) {
  tctx t;
  tconn *c;
  make_certs();
  setup(&t);
  start_unix_server(&t);
  t.o.path = t.upath;
  t.send_early = "over ";
  t.send = "unix";
  t.expect = strlen("over unix");
  c = calloc(1, sizeof(*c));
  c->t = &t;
  ck_assert_int_eq(sio_dial(&c->base, &t.net, &cli_ops, &t.o, check_remote_cb),
                   0);
  t.cli = c;
  track(&t, &c->base);
  ck_assert_int_eq(sio_conn_write(&c->base, t.send_early, strlen(t.send_early)),
                   0);
  run(&t);
  remove_certs();
  ck_assert_int_eq(t.cb_calls, 1);
  ck_assert_int_eq(t.cb_status, 0);
  ck_assert_str_eq(t.got, "over unix");
  ck_assert_int_eq(t.cli_closes, 1);
  ck_assert_int_eq(t.srv_closes, 1);
  ck_assert_uint_eq(t.net.close_timeouts, 0);
}
END_TEST

/* TLS works over a unix socket too, given the name to verify. */
START_TEST(tls_over_unix_socket) {
  tctx t;
  char err[256];
  make_certs();
  setup(&t);
  ck_assert_int_eq(sio_tls_ctx_new(&t.srv_tls, file("server.pem"),
                                   file("server.key"), NULL, 0, err,
                                   sizeof(err)),
                   0);
  start_unix_server(&t);
  client_tls(&t, "ca.pem", 0);
  t.o.path = t.upath;
  t.o.server_name = "localhost";
  t.send_early = "sealed ";
  t.send = "unix";
  t.expect = strlen("sealed unix");
  ck_assert_int_eq(dial(&t), 0);
  run(&t);
  remove_certs();
  ck_assert_int_eq(t.cb_status, 0);
  ck_assert_str_eq(t.got, "sealed unix");
  ck_assert_int_eq(t.srv_got_close_notify, 1);
  ck_assert_int_eq(t.cli_closes, 1);
  ck_assert_int_eq(t.srv_closes, 1);
}
END_TEST

/* The client closes: its close_notify reaches the server, which answers
 * with its own, and neither close waits for the timeout. */
START_TEST(tls_round_trip_client_closes) {
  tctx t;
  make_certs();
  setup(&t);
  start_server(&t, 1);
  client_tls(&t, "ca.pem", 0);
  t.o.host = "localhost";
  t.o.port = t.port;
  t.send_early = "queued in the handshake,";
  t.send = "then";
  t.expect = strlen("queued in the handshake,then");
  ck_assert_int_eq(dial(&t), 0);
  run(&t);
  remove_certs();
  ck_assert_int_eq(t.cb_calls, 1);
  ck_assert_int_eq(t.cb_status, 0);
  ck_assert_str_eq(t.got, "queued in the handshake,then");
  /* one flush wrote it all; reading the echo drains nothing */
  ck_assert_int_eq(t.cli_drains, 1);
  ck_assert_int_eq(t.srv_got_close_notify, 1);
  ck_assert_int_eq(t.cli_closes, 1);
  ck_assert_int_eq(t.srv_closes, 1);
  ck_assert_uint_eq(t.net.close_timeouts, 0);
}
END_TEST

/* The server closes after its last bytes: the client reads them, then
 * the close_notify, and closes in turn. Verified by address. */
START_TEST(tls_round_trip_server_closes) {
  tctx t;
  make_certs();
  setup(&t);
  start_server(&t, 1);
  client_tls(&t, "ca.pem", 0);
  t.o.host = "127.0.0.1";
  t.o.port = t.port;
  t.send = "quit";
  ck_assert_int_eq(dial(&t), 0);
  run(&t);
  remove_certs();
  ck_assert_int_eq(t.cb_calls, 1);
  ck_assert_int_eq(t.cb_status, 0);
  ck_assert_str_eq(t.got, "bye");
  ck_assert_int_eq(t.cli_got_close_notify, 1);
  ck_assert_int_eq(t.cli_closes, 1);
  ck_assert_int_eq(t.srv_closes, 1);
  ck_assert_uint_eq(t.net.close_timeouts, 0);
}
END_TEST

/* A TLS client reading, with nothing to write, is not told its output
 * drained: one write, one on_drain. */
START_TEST(tls_reads_do_not_drain) {
  tctx t;
  make_certs();
  setup(&t);
  start_server(&t, 1);
  client_tls(&t, "ca.pem", 0);
  t.o.host = "localhost";
  t.o.port = t.port;
  t.send = "twice";
  t.expect = 2;
  ck_assert_int_eq(dial(&t), 0);
  run(&t);
  remove_certs();
  ck_assert_int_eq(t.cb_status, 0);
  ck_assert_str_eq(t.got, "ab");
  ck_assert_int_eq(t.cli_drains, 1);
  ck_assert_int_eq(t.cli_closes, 1);
}
END_TEST

static void client_cert_accepted(int tls12) {
  tctx t;
  make_certs();
  setup(&t);
  start_server(&t, 1);
  t.srv_require_cert = 1;
  t.srv_tls12 = tls12;
  client_tls(&t, "ca.pem", 1);
  t.o.host = "localhost";
  t.o.port = t.port;
  t.send = "with a certificate";
  t.expect = strlen(t.send);
  ck_assert_int_eq(dial(&t), 0);
  run(&t);
  remove_certs();
  ck_assert_int_eq(t.cb_status, 0);
  ck_assert_str_eq(t.got, "with a certificate");
  ck_assert_int_eq(t.srv_peer_cert_ok, 1);
  ck_assert_int_eq(t.cli_closes, 1);
}

START_TEST(tls_client_certificate_accepted) { client_cert_accepted(0); }
END_TEST

START_TEST(tls12_client_certificate_accepted) { client_cert_accepted(1); }
END_TEST

/* The owner closes from cb: on_close once, nothing else. */
static void close_in_cb(sio_conn *c, int status, const char *why) {
  (void)why;
  dial_cb(c, status, why);
  sio_conn_close(c);
}

START_TEST(close_from_the_callback) {
  tctx t;
  tconn *c;
  make_certs();
  setup(&t);
  start_server(&t, 1);
  client_tls(&t, "ca.pem", 0);
  t.o.host = "localhost";
  t.o.port = t.port;
  c = calloc(1, sizeof(*c));
  c->t = &t;
  ck_assert_int_eq(sio_dial(&c->base, &t.net, &cli_ops, &t.o, close_in_cb), 0);
  t.cli = c;
  track(&t, &c->base);
  run(&t);
  remove_certs();
  ck_assert_int_eq(t.cb_calls, 1);
  ck_assert_int_eq(t.cb_status, 0);
  ck_assert_int_eq(t.cli_closes, 1);
}
END_TEST

/* ------------------------------------------------ allocation failures */

enum { FM_TCP, FM_TLS, FM_UNIX };

/* One dial and echo with whichever allocation failing: sio_dial returns
 * SIO_ERR_NOMEM, or cb reports a failure, or the echo is cut short; in
 * every case on_close runs once and nothing is left on the loop (ASan:
 * nothing leaks). Returns 0 when the echo came back whole. */
static int fm_dial(void *ud) {
  int mode = *(int *)ud, rv, open = 0, result = 0;
  tctx *t = calloc(1, sizeof(*t));
  char err[256];
  ck_assert_ptr_nonnull(t);
  ck_assert_int_eq(uv_loop_init(&t->loop), 0);
  rv = sio_net_init(&t->net, &t->loop);
  if (rv) {
    ck_assert_int_eq(uv_loop_close(&t->loop), 0);
    free(t);
    return rv;
  }
  sio_net_set_close_timeout(&t->net, 300);
  uv_timer_init(&t->loop, &t->guard);
  t->guard.data = t;
  uv_timer_start(&t->guard, guard_cb, 3000, 0);
  uv_timer_init(&t->loop, &t->later);
  t->later.data = t;
  t->cb_status = 1;
  if (mode == FM_TLS) {
    rv = sio_tls_ctx_new(&t->srv_tls, file("server.pem"), file("server.key"),
                         NULL, 0, err, sizeof(err));
    if (!rv)
      rv = sio_tls_client_ctx_new(&t->cli_tls, file("ca.pem"), NULL, NULL, err,
                                  sizeof(err));
    t->o.tls = t->cli_tls;
  }
  if (!rv && mode == FM_UNIX) {
    start_unix_server(t);
    t->o.path = t->upath;
  } else if (!rv) {
    rv = sio_listener_open(&t->lsn, &t->net, "127.0.0.1:0", 16, srv_accept, t,
                           &open);
    t->lsn_open = open;
    t->o.host = "localhost";
    t->o.port = t->lsn.port;
  }
  t->send_early = "early,";
  t->send = "late";
  t->expect = strlen("early,late");
  if (!rv)
    rv = dial(t);
  maybe_finish(t); /* when nothing was dialed */
  uv_run(&t->loop, UV_RUN_DEFAULT);
  ck_assert_int_eq(t->timed_out, 0);
  ck_assert_int_eq(uv_loop_close(&t->loop), 0);
  sio_tls_ctx_del(t->srv_tls);
  sio_tls_client_ctx_del(t->cli_tls);
  if (!rv) {
    /* no cb when dial() closed at once, its early write out of memory */
    ck_assert_int_le(t->cb_calls, 1);
    ck_assert_int_eq(t->cli_closes, 1);
    if (!t->cb_calls)
      result = SIO_ERR_NOMEM;
    else if (t->cb_status)
      result = t->cb_status;
    else if (strcmp(t->got, "early,late") != 0)
      result = SIO_ERR_IO;
  }
  free(t);
  return rv ? rv : result;
}

static void failmalloc_mode(int mode) {
  make_certs();
  ck_assert_int_gt(failmalloc_run(fm_dial, &mode), 0);
  remove_certs();
}

START_TEST(failmalloc_tcp_dial) { failmalloc_mode(FM_TCP); }
END_TEST

START_TEST(failmalloc_tls_dial) { failmalloc_mode(FM_TLS); }
END_TEST

START_TEST(failmalloc_unix_dial) { failmalloc_mode(FM_UNIX); }
END_TEST

/* ------------------------------------------------------ redis-server */

static int have_redis(void) {
  return system("command -v redis-server >/dev/null 2>&1") == 0;
}

static int can_connect(int port) {
  struct sockaddr_in a;
  int fd = socket(AF_INET, SOCK_STREAM, 0), ok;
  memset(&a, 0, sizeof(a));
  a.sin_family = AF_INET;
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  a.sin_port = htons((uint16_t)port);
  ok = connect(fd, (struct sockaddr *)&a, sizeof(a)) == 0;
  close(fd);
  return ok;
}

static pid_t redis_tls_start(int port, const char *auth_clients) {
  char portbuf[16];
  pid_t pid;
  int i;
  snprintf(portbuf, sizeof(portbuf), "%d", port);
  pid = fork();
  ck_assert_int_ge(pid, 0);
  if (pid == 0) {
    int null = open("/dev/null", O_WRONLY);
    dup2(null, 1);
    dup2(null, 2);
    execlp("redis-server", "redis-server", "--bind", "127.0.0.1", "--port", "0",
           "--tls-port", portbuf, "--tls-cert-file", file("server.pem"),
           "--tls-key-file", file("server.key"), "--tls-ca-cert-file",
           file("ca.pem"), "--tls-auth-clients", auth_clients, "--save", "",
           "--appendonly", "no", "--dir", dir, (char *)NULL);
    _exit(127);
  }
  for (i = 0; i < 500 && !can_connect(port); i++)
    usleep(10000);
  ck_assert_msg(can_connect(port), "redis-server did not start");
  return pid;
}

static void redis_stop(pid_t pid) {
  int st;
  kill(pid, SIGTERM);
  waitpid(pid, &st, 0);
}

static void redis_ping(const char *auth_clients, int with_cert) {
  tctx t;
  pid_t pid;
  int port;
  if (!have_redis()) {
    fprintf(stderr, "%s: skipped, redis-server is not installed\n", __func__);
    return;
  }
  make_certs();
  port = closed_port(); /* free for redis-server to take */
  pid = redis_tls_start(port, auth_clients);
  setup(&t);
  client_tls(&t, "ca.pem", with_cert);
  t.o.host = "localhost";
  t.o.port = port;
  t.send = "PING\r\n";
  t.expect = strlen("+PONG\r\n");
  ck_assert_int_eq(dial(&t), 0);
  run(&t);
  redis_stop(pid);
  remove_certs();
  if (with_cert || strcmp(auth_clients, "yes") != 0) {
    ck_assert_int_eq(t.cb_calls, 1);
    ck_assert_int_eq(t.cb_status, 0);
    ck_assert_str_eq(t.got, "+PONG\r\n");
  } else {
    /* TLS 1.3: the client's handshake ends before the server checks the
     * (missing) certificate, so the dial may succeed and the connection
     * fail right after; never a reply */
    ck_assert_int_eq(t.cb_calls, 1);
    ck_assert_msg(t.cb_status == SIO_ERR_PROTO ||
                      (t.cb_status == 0 && t.cli_errors == 1),
                  "status %d errors %d", t.cb_status, t.cli_errors);
    ck_assert_uint_eq(t.got_len, 0);
  }
  ck_assert_int_eq(t.cli_closes, 1);
}

START_TEST(redis_tls_ping) { redis_ping("optional", 0); }
END_TEST

START_TEST(redis_tls_ping_with_client_certificate) { redis_ping("yes", 1); }
END_TEST

START_TEST(redis_tls_client_certificate_missing) { redis_ping("yes", 0); }
END_TEST

Suite *sio_dial_suite(void) {
  Suite *s = suite_create("sio_dial");
  TCase *tc = tcase_create("fail");
  tcase_set_timeout(tc, 20);
  tcase_add_test(tc, bad_arguments_are_refused_without_callbacks);
  tcase_add_test(tc, refused_is_reported_at_once);
  tcase_add_test(tc, connect_failing_at_once_is_reported_from_the_loop);
  tcase_add_test(tc, refused_after_resolving_a_name);
  tcase_add_test(tc, name_that_does_not_resolve);
  tcase_add_test(tc, timeout_while_resolving);
  tcase_add_test(tc, unix_socket_that_does_not_exist);
  tcase_add_test(tc, timeout_while_connecting);
  tcase_add_test(tc, timeout_in_the_tls_handshake);
  tcase_add_test(tc, tls_wrong_ca);
  tcase_add_test(tc, tls_name_not_in_certificate);
  tcase_add_test(tc, tls_address_not_in_certificate);
  tcase_add_test(tc, tls_ipv6_address_not_in_certificate);
  tcase_add_test(tc, tls12_client_certificate_required_but_missing);
  tcase_add_test(tc, tls_peer_closes_in_the_handshake);
  tcase_add_test(tc, client_ctx_errors_name_the_file);
  suite_add_tcase(s, tc);
  tc = tcase_create("owner_close");
  tcase_set_timeout(tc, 20);
  tcase_add_test(tc, close_while_resolving);
  tcase_add_test(tc, close_while_resolve_is_queued);
  tcase_add_test(tc, close_while_connecting_hangs);
  tcase_add_test(tc, close_after_flush_while_connecting);
  tcase_add_test(tc, close_right_after_dial);
  tcase_add_test(tc, close_during_tls_handshake);
  tcase_add_test(tc, close_after_flush_during_tls_handshake);
  tcase_add_test(tc, close_while_unix_connecting);
  suite_add_tcase(s, tc);
  tc = tcase_create("connected");
  tcase_set_timeout(tc, 20);
  tcase_add_test(tc, tcp_echo_round_trip);
  tcase_add_test(tc, tcp_by_name_and_remote_address);
  tcase_add_test(tc, tcp_echo_over_ipv6);
  tcase_add_test(tc, unix_socket_echo);
  tcase_add_test(tc, tls_over_unix_socket);
  tcase_add_test(tc, tls_round_trip_client_closes);
  tcase_add_test(tc, tls_round_trip_server_closes);
  tcase_add_test(tc, tls_reads_do_not_drain);
  tcase_add_test(tc, tls_client_certificate_accepted);
  tcase_add_test(tc, tls12_client_certificate_accepted);
  tcase_add_test(tc, close_from_the_callback);
  suite_add_tcase(s, tc);
  tc = tcase_create("failmalloc");
  tcase_set_timeout(tc, 60);
  tcase_add_test(tc, failmalloc_tcp_dial);
  tcase_add_test(tc, failmalloc_tls_dial);
  tcase_add_test(tc, failmalloc_unix_dial);
  suite_add_tcase(s, tc);
  tc = tcase_create("redis");
  tcase_set_timeout(tc, 30);
  tcase_add_test(tc, redis_tls_ping);
  tcase_add_test(tc, redis_tls_ping_with_client_certificate);
  tcase_add_test(tc, redis_tls_client_certificate_missing);
  suite_add_tcase(s, tc);
  return s;
}
