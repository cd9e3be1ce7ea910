/* test_sio_tls.c: the close path of a TLS connection (sio_tls under
 * sio_conn) over a real loopback TCP pair. The server side runs on a uv
 * loop in the test's thread with a certificate made for the test; the peer
 * is a blocking OpenSSL client in a second thread, and what it reads (every
 * byte, then close_notify; or a reset) is what the assertions check. Every
 * wait is bounded by a guard timer. */
#include <check.h>
#include <errno.h>
#include <netinet/in.h>
#include <openssl/err.h>
#include <openssl/ssl.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <unistd.h>
#include <uv.h>

#include "check_suites.h"
#include "sio_conn.h"
#include "sio_int.h"
#include "sio_mailbox.h"
#include "sio_mem.h"
#include "sio_tls.h"

#define GUARD_MS 5000

enum { PEER_READ_ALL, PEER_NO_READ, PEER_GARBAGE, PEER_HALF_HELLO };

typedef struct tconn {
  sio_conn base; /* first */
  struct tctx *t;
} tconn;

typedef struct tctx {
  uv_loop_t loop;
  sio_net net;
  uv_tcp_t lsn;
  uv_timer_t guard;
  sio_tls_ctx *tls;
  int port;
  tconn *conn;
  size_t out_len;   /* plaintext queued before the close */
  size_t in_bytes;  /* plaintext read from the peer */
  int closes, timed_out;
  uint64_t close_start, close_end;
  int mode;
  pthread_t th;
  atomic_int stop;
  size_t peer_got;
  int peer_close_notify, peer_reset, peer_bad, peer_connected;
} tctx;

static char dir[64];
static char cert[96], key[96];

static uint8_t pat(size_t i) { return (uint8_t)(i * 13 + 5); }

/* A self-signed P-256 certificate for localhost, made with the openssl
 * command (installed with the test dependencies). */
static void make_cert(void) {
  char cmd[512];
  snprintf(dir, sizeof(dir), "/tmp/sio-tls-test.XXXXXX");
  ck_assert_ptr_nonnull(mkdtemp(dir));
  snprintf(cert, sizeof(cert), "%s/cert.pem", dir);
  snprintf(key, sizeof(key), "%s/key.pem", dir);
  snprintf(cmd, sizeof(cmd),
           "openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 "
           "-nodes -keyout %s -out %s -days 1 -subj /CN=localhost "
           ">/dev/null 2>&1",
           key, cert);
  ck_assert_int_eq(system(cmd), 0);
}

static void remove_cert(void) {
  unlink(cert);
  unlink(key);
  rmdir(dir);
}

static void lsn_closed(uv_handle_t *h) { (void)h; }

static void finish(tctx *t) {
  if (!uv_is_closing((uv_handle_t *)&t->guard))
    uv_close((uv_handle_t *)&t->guard, NULL);
  if (!uv_is_closing((uv_handle_t *)&t->lsn))
    uv_close((uv_handle_t *)&t->lsn, lsn_closed);
  sio_net_close(&t->net, NULL);
}

static void on_close(sio_conn *c) {
  tconn *tc = (tconn *)c;
  tctx *t = tc->t;
  t->closes++;
  t->close_end = uv_hrtime();
  t->conn = NULL;
  sio_free(tc);
  finish(t);
}

static void start_close(tctx *t) {
  sio_conn *c = &t->conn->base;
  uint8_t *buf = sio_malloc(t->out_len);
  size_t i;
  ck_assert_ptr_nonnull(buf);
  for (i = 0; i < t->out_len; i++)
    buf[i] = pat(i);
  ck_assert_int_eq(sio_conn_write(c, buf, t->out_len), 0);
  sio_free(buf);
  t->close_start = uv_hrtime();
  sio_conn_close_after_flush(c);
}

static void on_read(sio_conn *c, const uint8_t *d, size_t n) {
  tctx *t = ((tconn *)c)->t;
  size_t before = t->in_bytes;
  (void)d;
  t->in_bytes += n;
  if (before < 16 && t->in_bytes >= 16)
    start_close(t);
}

static void on_error(sio_conn *c, int status) {
  (void)c;
  (void)status;
}

static const sio_conn_ops ops = {on_read, on_error, NULL, on_close};

static void on_accept(uv_stream_t *s, int status) {
  tctx *t = s->data;
  tconn *tc;
  ck_assert_int_eq(status, 0);
  tc = sio_malloc(sizeof(*tc));
  ck_assert_ptr_nonnull(tc);
  ck_assert_int_eq(sio_conn_init(&tc->base, &t->net, &ops), 0);
  tc->t = t;
  t->conn = tc;
  ck_assert_int_eq(uv_accept(s, (uv_stream_t *)&tc->base.tcp), 0);
  ck_assert_int_eq(sio_tls_attach(&tc->base, t->tls), 0);
  ck_assert_int_eq(sio_conn_start(&tc->base), 0);
  uv_close((uv_handle_t *)&t->lsn, lsn_closed); /* one connection */
}

static void guard_cb(uv_timer_t *h) {
  tctx *t = h->data;
  t->timed_out = 1;
  if (t->conn)
    sio_conn_close(&t->conn->base); /* on_close finishes */
  else
    finish(t);
}

static int peer_socket(tctx *t, int rcvbuf) {
  struct sockaddr_in sa;
  struct timeval tv = {GUARD_MS / 1000 + 1, 0};
  int fd = socket(AF_INET, SOCK_STREAM, 0);
  if (rcvbuf)
    setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &rcvbuf, sizeof(rcvbuf));
  setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
  memset(&sa, 0, sizeof(sa));
  sa.sin_family = AF_INET;
  sa.sin_port = htons((uint16_t)t->port);
  sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  if (connect(fd, (struct sockaddr *)&sa, sizeof(sa)) != 0) {
    close(fd);
    return -1;
  }
  return fd;
}

/* Reads until the stream ends; records how it ended. */
static void peer_read_all(tctx *t, SSL *ssl) {
  uint8_t buf[16384];
  for (;;) {
    int n = SSL_read(ssl, buf, sizeof(buf)), i;
    if (n > 0) {
      for (i = 0; i < n; i++)
        if (buf[i] != pat(t->peer_got + (size_t)i))
          t->peer_bad = 1;
      t->peer_got += (size_t)n;
      continue;
    }
    if (SSL_get_error(ssl, n) == SSL_ERROR_ZERO_RETURN)
      t->peer_close_notify = 1;
    else if (errno == ECONNRESET)
      t->peer_reset = 1;
    return;
  }
}

static void *peer_main(void *ud) {
  tctx *t = ud;
  SSL_CTX *ctx;
  SSL *ssl;
  int fd;
  if (t->mode == PEER_GARBAGE || t->mode == PEER_HALF_HELLO) {
    /* not TLS: a line of text; or the first 40 bytes of a ClientHello */
    static const uint8_t half[] = {0x16, 0x03, 0x01, 0x02, 0x00, 0x01, 0x00,
                                   0x01, 0xfc, 0x03, 0x03, 0x11, 0x22, 0x33};
    char b[64];
    fd = peer_socket(t, 0);
    if (fd < 0)
      return NULL;
    if (t->mode == PEER_GARBAGE) {
      const char *g = "GET / HTTP/1.1\r\nHost: x\r\n\r\n";
      (void)!send(fd, g, strlen(g), MSG_NOSIGNAL);
      while (recv(fd, b, sizeof(b), 0) > 0)
        ; /* until the server ends it */
    } else {
      (void)!send(fd, half, sizeof(half), MSG_NOSIGNAL);
    }
    close(fd);
    return NULL;
  }
  ctx = SSL_CTX_new(TLS_client_method());
  SSL_CTX_set_verify(ctx, SSL_VERIFY_NONE, NULL);
  fd = peer_socket(t, t->mode == PEER_NO_READ ? 4096 : 0);
  if (fd < 0) {
    SSL_CTX_free(ctx);
    return NULL;
  }
  ssl = SSL_new(ctx);
  SSL_set_fd(ssl, fd);
  if (SSL_connect(ssl) == 1) {
    t->peer_connected = 1;
    /* the 16 bytes that make the server close */
    SSL_write(ssl, "0123456789abcdef", 16);
    if (t->mode == PEER_READ_ALL) {
      peer_read_all(t, ssl);
    } else {
      while (!atomic_load(&t->stop))
        usleep(1000); /* never reads */
    }
  }
  SSL_free(ssl);
  SSL_CTX_free(ctx);
  close(fd);
  return NULL;
}

static void run(tctx *t, uint64_t close_timeout_ms) {
  struct sockaddr_in sa;
  struct sockaddr_storage ss;
  char err[256];
  int len = sizeof(ss);
  make_cert();
  ck_assert_int_eq(
      sio_tls_ctx_new(&t->tls, cert, key, NULL, 0, err, sizeof(err)), 0);
  ck_assert_int_eq(uv_loop_init(&t->loop), 0);
  ck_assert_int_eq(sio_net_init(&t->net, &t->loop), 0);
  sio_net_set_close_timeout(&t->net, close_timeout_ms);
  ck_assert_int_eq(uv_tcp_init(&t->loop, &t->lsn), 0);
  t->lsn.data = t;
  uv_ip4_addr("127.0.0.1", 0, &sa);
  ck_assert_int_eq(uv_tcp_bind(&t->lsn, (struct sockaddr *)&sa, 0), 0);
  ck_assert_int_eq(uv_listen((uv_stream_t *)&t->lsn, 8, on_accept), 0);
  uv_tcp_getsockname(&t->lsn, (struct sockaddr *)&ss, &len);
  t->port = ntohs(((struct sockaddr_in *)&ss)->sin_port);
  uv_timer_init(&t->loop, &t->guard);
  t->guard.data = t;
  uv_timer_start(&t->guard, guard_cb, GUARD_MS, 0);
  atomic_init(&t->stop, 0);
  ck_assert_int_eq(pthread_create(&t->th, NULL, peer_main, t), 0);
  uv_run(&t->loop, UV_RUN_DEFAULT);
  atomic_store(&t->stop, 1);
  pthread_join(t->th, NULL);
  ck_assert_int_eq(uv_loop_close(&t->loop), 0);
  sio_tls_ctx_del(t->tls);
  remove_cert();
}

static double close_ms(const tctx *t) {
  return (double)(t->close_end - t->close_start) / 1e6;
}

/* 1 MB queued, then the graceful close: the peer decrypts every byte, then
 * the close_notify alert, never a reset. */
START_TEST(close_delivers_all_then_close_notify) {
  tctx t;
  memset(&t, 0, sizeof(t));
  t.mode = PEER_READ_ALL;
  t.out_len = 1024 * 1024;
  run(&t, 3000);
  ck_assert_int_eq(t.timed_out, 0);
  ck_assert_int_eq(t.closes, 1);
  ck_assert_int_eq(t.peer_connected, 1);
  ck_assert_uint_eq(t.peer_got, t.out_len);
  ck_assert_int_eq(t.peer_bad, 0);
  ck_assert_int_eq(t.peer_close_notify, 1);
  ck_assert_int_eq(t.peer_reset, 0);
  ck_assert_uint_eq(t.net.close_timeouts, 0);
}
END_TEST

/* A TLS peer that stops reading with 4 MB queued for it: the connection
 * and its fd go at close_timeout_ms, counted. */
START_TEST(peer_not_reading_is_closed_at_timeout) {
  tctx t;
  double ms;
  memset(&t, 0, sizeof(t));
  t.mode = PEER_NO_READ;
  t.out_len = 4 * 1024 * 1024;
  run(&t, 200);
  ms = close_ms(&t);
  ck_assert_int_eq(t.timed_out, 0);
  ck_assert_int_eq(t.closes, 1);
  ck_assert_uint_eq(t.net.close_timeouts, 1);
  ck_assert_msg(ms >= 150 && ms < 1500, "closed after %.1f ms", ms);
}
END_TEST

/* Not TLS at all, and a ClientHello cut short: the server ends the
 * connection (no crash, no hang), on_close once. */
START_TEST(garbage_instead_of_client_hello) {
  tctx t;
  memset(&t, 0, sizeof(t));
  t.mode = PEER_GARBAGE;
  run(&t, 1000);
  ck_assert_int_eq(t.timed_out, 0);
  ck_assert_int_eq(t.closes, 1);
  ck_assert_uint_eq(t.in_bytes, 0);
}
END_TEST

START_TEST(peer_leaves_mid_handshake) {
  tctx t;
  memset(&t, 0, sizeof(t));
  t.mode = PEER_HALF_HELLO;
  run(&t, 1000);
  ck_assert_int_eq(t.timed_out, 0);
  ck_assert_int_eq(t.closes, 1);
  ck_assert_uint_eq(t.in_bytes, 0);
}
END_TEST

/* ------------------------------------------------------------- hand-off */

/* A TLS connection moves to a loop on another thread after its first
 * read (sio_conn_hand_off): the session goes with it, so the peer's one
 * TLS stream goes on: what B encrypts arrives, what the peer sends next
 * is decrypted on B, and B's close ends with close_notify. */
typedef struct tho {
  uv_loop_t la, lb;
  sio_net na, nb;
  uv_tcp_t lsn;
  sio_tls_ctx *tls;
  sio_mailbox mb;
  uv_thread_t tb;
  pthread_t tp;
  int port, a_closes, b_closes, moved;
  char b_got[32];
  size_t b_len;
  char peer_got[64];
  size_t peer_len;
  int peer_close_notify, peer_err;
} tho;

typedef struct tho_conn {
  sio_conn base;
  tho *h;
  int on_b;
} tho_conn;

typedef struct tho_letter {
  sio_letter l;
  tho *h;
  sio_handoff hand;
} tho_letter;

static void tho_close(sio_conn *c) {
  tho_conn *hc = (tho_conn *)c;
  if (hc->on_b) {
    hc->h->b_closes++;
    sio_net_close(&hc->h->nb, NULL);
    sio_mailbox_close(&hc->h->mb, NULL, NULL);
  } else {
    hc->h->a_closes++;
  }
  sio_free(hc);
}

static void tho_read(sio_conn *c, const uint8_t *d, size_t n);
static const sio_conn_ops tho_ops = {tho_read, NULL, NULL, tho_close};

static void tho_arrive(sio_letter *l) {
  tho_letter *m = (tho_letter *)l;
  tho_conn *hc = sio_calloc(1, sizeof(*hc));
  hc->h = m->h;
  hc->on_b = 1;
  m->h->moved = sio_conn_take_over(&hc->base, &m->h->nb, &tho_ops, &m->hand) == 0;
  sio_conn_write(&hc->base, "moved", 5);
  sio_free(m);
}

static void tho_read(sio_conn *c, const uint8_t *d, size_t n) {
  tho_conn *hc = (tho_conn *)c;
  tho *h = hc->h;
  if (!hc->on_b) {
    tho_letter *m = sio_calloc(1, sizeof(*m));
    (void)d;
    ck_assert_uint_eq(n, 5); /* "first", decrypted */
    m->h = h;
    m->l.fn = tho_arrive;
    ck_assert_int_eq(sio_conn_hand_off(c, &m->hand), 0);
    ck_assert_ptr_nonnull(m->hand.ssl);
    ck_assert_int_eq(sio_mailbox_post(&h->mb, &m->l), 0);
    uv_close((uv_handle_t *)&h->lsn, NULL);
    sio_net_close(&h->na, NULL);
    return;
  }
  memcpy(h->b_got + h->b_len, d, n);
  h->b_len += n;
  if (h->b_len >= 6) {
    sio_conn_write(c, "bye", 3);
    sio_conn_close_after_flush(c);
  }
}

static void tho_accept(uv_stream_t *s, int status) {
  tho *h = s->data;
  tho_conn *hc = sio_calloc(1, sizeof(*hc));
  ck_assert_int_eq(status, 0);
  hc->h = h;
  ck_assert_int_eq(sio_conn_init(&hc->base, &h->na, &tho_ops), 0);
  ck_assert_int_eq(uv_accept(s, (uv_stream_t *)&hc->base.tcp), 0);
  ck_assert_int_eq(sio_tls_attach(&hc->base, h->tls), 0);
  ck_assert_int_eq(sio_conn_start(&hc->base), 0);
}

static void tho_loop_b(void *ud) {
  tho *h = ud;
  uv_run(&h->lb, UV_RUN_DEFAULT);
}

static void *tho_peer(void *ud) {
  tho *h = ud;
  SSL_CTX *ctx = SSL_CTX_new(TLS_client_method());
  struct sockaddr_in sa;
  struct timeval tv = {5, 0};
  int fd = socket(AF_INET, SOCK_STREAM, 0), n;
  SSL *ssl;
  SSL_CTX_set_verify(ctx, SSL_VERIFY_NONE, NULL);
  setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
  memset(&sa, 0, sizeof(sa));
  sa.sin_family = AF_INET;
  sa.sin_port = htons((uint16_t)h->port);
  sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  ssl = SSL_new(ctx);
  if (connect(fd, (struct sockaddr *)&sa, sizeof(sa)) || !SSL_set_fd(ssl, fd) ||
      SSL_connect(ssl) != 1 || SSL_write(ssl, "first", 5) != 5) {
    h->peer_err = 1;
    goto out;
  }
  while (h->peer_len < 5 &&
         (n = SSL_read(ssl, h->peer_got + h->peer_len,
                       (int)(sizeof(h->peer_got) - 1 - h->peer_len))) > 0)
    h->peer_len += (size_t)n;
  if (SSL_write(ssl, "second", 6) != 6)
    h->peer_err = 2;
  for (;;) {
    n = SSL_read(ssl, h->peer_got + h->peer_len,
                 (int)(sizeof(h->peer_got) - 1 - h->peer_len));
    if (n > 0) {
      h->peer_len += (size_t)n;
      continue;
    }
    if (SSL_get_error(ssl, n) == SSL_ERROR_ZERO_RETURN)
      h->peer_close_notify = 1;
    break;
  }
out:
  SSL_free(ssl);
  SSL_CTX_free(ctx);
  close(fd);
  return NULL;
}

START_TEST(hand_off_keeps_the_tls_session) {
  tho *h = sio_calloc(1, sizeof(*h));
  struct sockaddr_in sa;
  char err[256];
  int len = sizeof(sa);
  make_cert();
  ck_assert_int_eq(sio_tls_ctx_new(&h->tls, cert, key, NULL, 0, err, sizeof(err)), 0);
  ck_assert_int_eq(uv_loop_init(&h->la), 0);
  ck_assert_int_eq(uv_loop_init(&h->lb), 0);
  ck_assert_int_eq(sio_net_init(&h->na, &h->la), 0);
  ck_assert_int_eq(sio_net_init(&h->nb, &h->lb), 0);
  ck_assert_int_eq(sio_mailbox_init(&h->mb, &h->lb, 0), 0);
  uv_tcp_init(&h->la, &h->lsn);
  h->lsn.data = h;
  uv_ip4_addr("127.0.0.1", 0, &sa);
  ck_assert_int_eq(uv_tcp_bind(&h->lsn, (struct sockaddr *)&sa, 0), 0);
  ck_assert_int_eq(uv_listen((uv_stream_t *)&h->lsn, 8, tho_accept), 0);
  uv_tcp_getsockname(&h->lsn, (struct sockaddr *)&sa, &len);
  h->port = ntohs(sa.sin_port);
  ck_assert_int_eq(uv_thread_create(&h->tb, tho_loop_b, h), 0);
  ck_assert_int_eq(pthread_create(&h->tp, NULL, tho_peer, h), 0);
  uv_run(&h->la, UV_RUN_DEFAULT);
  pthread_join(h->tp, NULL);
  uv_thread_join(&h->tb);
  ck_assert_int_eq(h->peer_err, 0);
  ck_assert_int_eq(h->a_closes, 1);
  ck_assert_int_eq(h->moved, 1);
  ck_assert_int_eq(h->b_closes, 1);
  h->b_got[h->b_len] = 0;
  h->peer_got[h->peer_len] = 0;
  ck_assert_str_eq(h->b_got, "second");
  ck_assert_str_eq(h->peer_got, "movedbye");
  ck_assert_int_eq(h->peer_close_notify, 1);
  ck_assert_int_eq(uv_loop_close(&h->la), 0);
  ck_assert_int_eq(uv_loop_close(&h->lb), 0);
  sio_tls_ctx_del(h->tls);
  remove_cert();
  sio_free(h);
}
END_TEST

Suite *sio_tls_suite(void) {
  Suite *s = suite_create("sio_tls");
  TCase *tc = tcase_create("close");
  tcase_set_timeout(tc, 20);
  tcase_add_test(tc, close_delivers_all_then_close_notify);
  tcase_add_test(tc, peer_not_reading_is_closed_at_timeout);
  tcase_add_test(tc, garbage_instead_of_client_hello);
  tcase_add_test(tc, peer_leaves_mid_handshake);
  suite_add_tcase(s, tc);
  tc = tcase_create("hand-off");
  tcase_set_timeout(tc, 20);
  tcase_add_test(tc, hand_off_keeps_the_tls_session);
  suite_add_tcase(s, tc);
  return s;
}
