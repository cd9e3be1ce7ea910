/* test_sio_redis_conn.c: one Redis connection over src/net
 * (sio_redis_conn.c), against a scripted fake Redis for what a real one
 * will not do on request (garbage, silence, unsolicited replies) and a
 * real redis-server for the handshake (AUTH with an ACL user, SELECT,
 * TLS). Every test ends with the loop closed cleanly. */
#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "check_suites.h"
#include "failmalloc.h"
#include "redis_proc.h"
#include "sio/sio_errno.h"
#include "sio_conn.h"
#include "sio_redis_conn.h"
#include "sio_tls.h"

/* ------------------------------------------------------------ the fake */

/* What the fake answers to everything it reads. */
enum {
  F_SILENT,
  F_GARBAGE,
  F_UNSOLICITED,
  F_PUSH_THEN_REPLY,
  F_SUB2,
  F_SCRIPT /* writes fake.script once */
};

typedef struct fake {
  uv_tcp_t server;
  uv_tcp_t peer;
  int has_peer;
  int mode;
  int port;
  size_t bytes_in;
  const char *script;
} fake;

static void fake_alloc(uv_handle_t *h, size_t n, uv_buf_t *b) {
  static char buf[65536];
  (void)h;
  (void)n;
  *b = uv_buf_init(buf, sizeof(buf));
}

static void fake_write(fake *f, const char *s) {
  uv_buf_t b = uv_buf_init((char *)s, (unsigned)strlen(s));
  ck_assert_int_ge(uv_try_write((uv_stream_t *)&f->peer, &b, 1), 0);
}

static void fake_read(uv_stream_t *s, ssize_t n, const uv_buf_t *b) {
  fake *f = s->data;
  (void)b;
  if (n < 0) {
    uv_read_stop(s);
    return;
  }
  f->bytes_in += (size_t)n;
  switch (f->mode) {
  case F_GARBAGE:
    fake_write(f, "?what\r\n");
    break;
  case F_UNSOLICITED:
    fake_write(f, "+OK\r\n+OK\r\n"); /* one reply too many */
    break;
  case F_PUSH_THEN_REPLY:
    fake_write(f, "*3\r\n$7\r\nmessage\r\n$2\r\nch\r\n$4\r\ndata\r\n+PONG\r\n");
    break;
  case F_SUB2:
    fake_write(f, "*3\r\n$9\r\nsubscribe\r\n$1\r\na\r\n:1\r\n"
                  "*3\r\n$9\r\nsubscribe\r\n$1\r\nb\r\n:2\r\n"
                  "*3\r\n$12\r\nsunsubscribe\r\n$1\r\nc\r\n:1\r\n");
    break;
  case F_SCRIPT:
    if (f->script)
      fake_write(f, f->script);
    f->script = NULL;
    break;
  default:
    break;
  }
}

static void fake_accept(uv_stream_t *s, int status) {
  fake *f = s->data;
  ck_assert_int_eq(status, 0);
  ck_assert(!f->has_peer);
  uv_tcp_init(s->loop, &f->peer);
  f->peer.data = f;
  ck_assert_int_eq(uv_accept(s, (uv_stream_t *)&f->peer), 0);
  f->has_peer = 1;
  uv_read_start((uv_stream_t *)&f->peer, fake_alloc, fake_read);
}

static void fake_start(fake *f, uv_loop_t *loop, int mode) {
  struct sockaddr_in a;
  struct sockaddr_storage ss;
  int len = sizeof(ss);
  memset(f, 0, sizeof(*f));
  f->mode = mode;
  uv_tcp_init(loop, &f->server);
  f->server.data = f;
  uv_ip4_addr("127.0.0.1", 0, &a);
  ck_assert_int_eq(uv_tcp_bind(&f->server, (struct sockaddr *)&a, 0), 0);
  ck_assert_int_eq(uv_listen((uv_stream_t *)&f->server, 8, fake_accept), 0);
  uv_tcp_getsockname(&f->server, (struct sockaddr *)&ss, &len);
  f->port = ntohs(((struct sockaddr_in *)&ss)->sin_port);
}

static void fake_stop(fake *f) {
  uv_close((uv_handle_t *)&f->server, NULL);
  if (f->has_peer)
    uv_close((uv_handle_t *)&f->peer, NULL);
}

/* ------------------------------------------------------------- the owner */

typedef struct owner {
  int ready, lost, lost_status, freed, pushes;
  char last_push[64];
  int replies, last_status;
  char last_reply[1024];
  int last_type;
} owner;

static void o_ready(void *ud, sio_redis_conn *c) {
  (void)c;
  ((owner *)ud)->ready++;
}

static void o_push(void *ud, sio_redis_conn *c, const redisReply *r) {
  owner *o = ud;
  (void)c;
  o->pushes++;
  snprintf(o->last_push, sizeof(o->last_push), "%s:%s", r->element[0]->str,
           r->element[1]->str);
}

static void o_lost(void *ud, sio_redis_conn *c, int status, const char *why) {
  owner *o = ud;
  (void)c;
  (void)why;
  o->lost++;
  o->lost_status = status;
}

static void o_freed(void *ud) { ((owner *)ud)->freed++; }

static const sio_redis_conn_handler handler = {o_ready, o_push, o_lost,
                                               o_freed};

static void on_reply(void *ud, int status, const redisReply *r) {
  owner *o = ud;
  o->replies++;
  o->last_status = status;
  o->last_type = r ? r->type : -1;
  snprintf(o->last_reply, sizeof(o->last_reply), "%s",
           sio_redis_reply_str(r) ? sio_redis_reply_str(r) : "");
}

typedef struct env {
  uv_loop_t loop;
  sio_net net;
} env;

static void env_init(env *e) {
  ck_assert_int_eq(uv_loop_init(&e->loop), 0);
  ck_assert_int_eq(sio_net_init(&e->net, &e->loop), 0);
}

static void env_done(env *e) {
  sio_net_close(&e->net, NULL);
  uv_run(&e->loop, UV_RUN_DEFAULT);
  ck_assert_int_eq(uv_loop_close(&e->loop), 0);
}

static void noop(uv_timer_t *t) { (void)t; }

/* Runs the loop until *flag is at least want or ms passed. */
static int run_until(env *e, const int *flag, int want, uint32_t ms) {
  uv_timer_t t;
  uint64_t end = uv_now(&e->loop) + ms;
  uv_timer_init(&e->loop, &t);
  uv_timer_start(&t, noop, 5, 5);
  while (*flag < want && uv_now(&e->loop) < end)
    uv_run(&e->loop, UV_RUN_ONCE);
  uv_close((uv_handle_t *)&t, NULL);
  uv_run(&e->loop, UV_RUN_NOWAIT);
  return *flag >= want;
}

static sio_redis_conn *open_fake_max(env *e, fake *f, owner *o,
                                     uint32_t command_timeout_ms,
                                     size_t max_reply_bytes) {
  sio_redis_target t;
  sio_redis_conn_opts co;
  sio_redis_conn *c;
  memset(&t, 0, sizeof(t));
  memset(&co, 0, sizeof(co));
  t.host = "127.0.0.1";
  t.port = f->port;
  co.command_timeout_ms = command_timeout_ms;
  co.max_pending = 4;
  co.max_reply_bytes = max_reply_bytes;
  ck_assert_int_eq(sio_redis_conn_open(&c, &e->net, &t, &co, &handler, o), 0);
  return c;
}

static sio_redis_conn *open_fake(env *e, fake *f, owner *o,
                                 uint32_t command_timeout_ms) {
  return open_fake_max(e, f, o, command_timeout_ms, 0);
}

static void ping(sio_redis_conn *c, owner *o) {
  static const char *argv[1] = {"PING"};
  ck_assert_int_eq(sio_redis_conn_command(c, 1, argv, NULL, on_reply, o), 0);
}

/* ----------------------------------------------------------------- tests */

START_TEST(test_garbage_reply_is_a_protocol_error) {
  env e;
  fake f;
  owner o = {0};
  sio_redis_conn *c;
  env_init(&e);
  fake_start(&f, &e.loop, F_GARBAGE);
  c = open_fake(&e, &f, &o, 2000);
  ping(c, &o); /* held until ready, then sent */
  ck_assert(run_until(&e, &o.freed, 1, 3000));
  ck_assert_int_eq(o.ready, 1);
  ck_assert_int_eq(o.lost, 1);
  ck_assert_int_eq(o.lost_status, SIO_ERR_PROTO);
  ck_assert_int_eq(o.replies, 1);
  ck_assert_int_eq(o.last_status, SIO_ERR_IO);
  fake_stop(&f);
  env_done(&e);
}
END_TEST

START_TEST(test_unsolicited_reply_ends_the_connection) {
  env e;
  fake f;
  owner o = {0};
  sio_redis_conn *c;
  env_init(&e);
  fake_start(&f, &e.loop, F_UNSOLICITED);
  c = open_fake(&e, &f, &o, 2000);
  ck_assert(run_until(&e, &o.ready, 1, 3000));
  ping(c, &o);
  ck_assert(run_until(&e, &o.freed, 1, 3000));
  ck_assert_int_eq(o.replies, 1); /* the first +OK answered PING */
  ck_assert_int_eq(o.last_status, 0);
  ck_assert_str_eq(o.last_reply, "OK");
  ck_assert_int_eq(o.lost_status, SIO_ERR_PROTO);
  fake_stop(&f);
  env_done(&e);
}
END_TEST

START_TEST(test_silent_server_times_out) {
  env e;
  fake f;
  owner o = {0};
  sio_redis_conn *c;
  uint64_t t0;
  env_init(&e);
  fake_start(&f, &e.loop, F_SILENT);
  c = open_fake(&e, &f, &o, 300);
  ck_assert(run_until(&e, &o.ready, 1, 3000));
  t0 = uv_now(&e.loop);
  ping(c, &o);
  ck_assert(run_until(&e, &o.freed, 1, 3000));
  ck_assert_uint_ge(uv_now(&e.loop) - t0, 250);
  ck_assert_uint_lt(uv_now(&e.loop) - t0, 2000);
  ck_assert_int_eq(o.last_status, SIO_ERR_TIMEOUT);
  ck_assert_int_eq(o.lost_status, SIO_ERR_TIMEOUT);
  ck_assert_uint_gt(f.bytes_in, 0);
  fake_stop(&f);
  env_done(&e);
}
END_TEST

START_TEST(test_push_between_replies) {
  env e;
  fake f;
  owner o = {0};
  sio_redis_conn *c;
  env_init(&e);
  fake_start(&f, &e.loop, F_PUSH_THEN_REPLY);
  c = open_fake(&e, &f, &o, 2000);
  ck_assert(run_until(&e, &o.ready, 1, 3000));
  ping(c, &o);
  ck_assert(run_until(&e, &o.replies, 1, 3000));
  ck_assert_int_eq(o.pushes, 1);
  ck_assert_str_eq(o.last_push, "message:ch");
  ck_assert_str_eq(o.last_reply, "PONG");
  ck_assert_uint_eq(sio_redis_conn_pending(c), 0);
  sio_redis_conn_close(c);
  ck_assert(run_until(&e, &o.freed, 1, 3000));
  ck_assert_int_eq(o.lost, 0); /* the owner closed it: no lost() */
  fake_stop(&f);
  env_done(&e);
}
END_TEST

START_TEST(test_subscribe_counts_confirmations) {
  env e;
  fake f;
  owner o = {0};
  sio_redis_conn *c;
  const char *argv[3] = {"SUBSCRIBE", "a", "b"};
  env_init(&e);
  fake_start(&f, &e.loop, F_SUB2);
  c = open_fake(&e, &f, &o, 2000);
  ck_assert(run_until(&e, &o.ready, 1, 3000));
  ck_assert_int_eq(sio_redis_conn_command(c, 3, argv, NULL, on_reply, &o), 0);
  ck_assert(run_until(&e, &o.pushes, 1, 3000));
  /* one callback for both confirmations, then the server's own
   * sunsubscribe as a push */
  ck_assert_int_eq(o.replies, 1);
  ck_assert_int_eq(o.last_type, REDIS_REPLY_ARRAY);
  ck_assert_str_eq(o.last_push, "sunsubscribe:c");
  sio_redis_conn_close(c);
  ck_assert(run_until(&e, &o.freed, 1, 3000));
  fake_stop(&f);
  env_done(&e);
}
END_TEST

/* The reply script sent to a PING on a connection bounded at max bytes
 * per reply: the lost() status (0: none) and the PING's outcome. */
static void big_reply(const char *script, size_t max, int want_lost,
                      owner *o) {
  env e;
  fake f;
  sio_redis_conn *c;
  env_init(&e);
  fake_start(&f, &e.loop, F_SCRIPT);
  f.script = script;
  c = open_fake_max(&e, &f, o, 2000, max);
  ck_assert(run_until(&e, &o->ready, 1, 3000));
  ping(c, o);
  ck_assert(run_until(&e, &o->replies, 1, 3000));
  if (want_lost) {
    ck_assert(run_until(&e, &o->freed, 1, 3000));
    ck_assert_int_eq(o->lost, 1);
    ck_assert_int_eq(o->lost_status, want_lost);
    ck_assert_int_eq(o->last_status, SIO_ERR_IO);
  } else {
    ck_assert_int_eq(o->lost, 0);
    sio_redis_conn_close(c);
    ck_assert(run_until(&e, &o->freed, 1, 3000));
  }
  fake_stop(&f);
  env_done(&e);
}

static char *repeat(const char *head, const char *unit, size_t n,
                    const char *tail) {
  size_t hl = strlen(head), ul = strlen(unit), tl = strlen(tail), i;
  char *s = malloc(hl + ul * n + tl + 1);
  ck_assert_ptr_nonnull(s);
  memcpy(s, head, hl);
  for (i = 0; i < n; i++)
    memcpy(s + hl + i * ul, unit, ul);
  memcpy(s + hl + n * ul, tail, tl + 1);
  return s;
}

/* hiredis 0.14 would allocate what a header declares: 16 GiB for this
 * array, and a bulk string's bytes for as long as they come. */
START_TEST(test_oversized_replies_are_refused) {
  owner o1 = {0}, o2 = {0}, o3 = {0}, o4 = {0}, o5 = {0};
  char *s, *u;
  /* the default bound (512 MiB) refuses the 16 GiB table at once */
  big_reply("*2147483647\r\n", 0, SIO_ERR_TOOBIG, &o1);
  /* a bulk string still arriving, past the bound */
  s = repeat("$100000\r\n", "x", 8192, "");
  big_reply(s, 4096, SIO_ERR_TOOBIG, &o2);
  free(s);
  /* many small elements: their objects count, not only their bytes */
  s = repeat("*1000\r\n", ":1\r\n", 1000, "");
  big_reply(s, 4096, SIO_ERR_TOOBIG, &o3);
  free(s);
  /* under the bound: the reply is the PING's */
  s = repeat("$1000\r\n", "x", 1000, "\r\n");
  big_reply(s, 4096, 0, &o4);
  free(s);
  ck_assert_int_eq(o4.last_status, 0);
  ck_assert_int_eq(o4.last_type, REDIS_REPLY_STRING);
  ck_assert_uint_eq(strlen(o4.last_reply), 1000);
  /* the bound is per reply: many replies under it pass */
  u = repeat("*3\r\n$7\r\nmessage\r\n$2\r\nch\r\n$500\r\n", "x", 500,
             "\r\n");
  s = repeat("", u, 20, "+PONG\r\n");
  free(u);
  big_reply(s, 4096, 0, &o5);
  free(s);
  ck_assert_int_eq(o5.pushes, 20);
  ck_assert_str_eq(o5.last_reply, "PONG");
}
END_TEST

START_TEST(test_close_cancels_pending_and_limits) {
  env e;
  fake f;
  owner o = {0};
  sio_redis_conn *c;
  static const char *argv[1] = {"PING"};
  int i;
  env_init(&e);
  fake_start(&f, &e.loop, F_SILENT);
  c = open_fake(&e, &f, &o, 5000);
  for (i = 0; i < 4; i++)
    ping(c, &o);
  ck_assert_int_eq(sio_redis_conn_command(c, 1, argv, NULL, on_reply, &o),
                   SIO_ERR_LIMIT);
  ck_assert(run_until(&e, &o.ready, 1, 3000));
  sio_redis_conn_close(c);
  ck_assert_int_eq(o.replies, 4); /* at once */
  ck_assert_int_eq(o.last_status, SIO_ERR_CANCELED);
  ck_assert(run_until(&e, &o.freed, 1, 3000));
  ck_assert_int_eq(o.lost, 0);
  fake_stop(&f);
  env_done(&e);
}
END_TEST

START_TEST(test_close_while_dialing) {
  env e;
  fake f;
  owner o = {0};
  sio_redis_conn *c;
  env_init(&e);
  fake_start(&f, &e.loop, F_SILENT);
  c = open_fake(&e, &f, &o, 2000);
  ping(c, &o);
  sio_redis_conn_close(c); /* before the connect completed */
  ck_assert_int_eq(o.replies, 1);
  ck_assert_int_eq(o.last_status, SIO_ERR_CANCELED);
  ck_assert(run_until(&e, &o.freed, 1, 3000));
  ck_assert_int_eq(o.ready + o.lost, 0);
  fake_stop(&f);
  env_done(&e);
}
END_TEST

START_TEST(test_refused_is_seen_at_once) {
  env e;
  owner o = {0};
  sio_redis_target t;
  sio_redis_conn *c;
  uint64_t t0;
  env_init(&e);
  memset(&t, 0, sizeof(t));
  t.host = "127.0.0.1";
  t.port = free_port();
  t0 = uv_hrtime();
  ck_assert_int_eq(sio_redis_conn_open(&c, &e.net, &t, NULL, &handler, &o), 0);
  ck_assert(run_until(&e, &o.freed, 1, 3000));
  ck_assert_int_eq(o.lost_status, SIO_ERR_IO);
  ck_assert_uint_lt((uv_hrtime() - t0) / 1000000, 1000);
  env_done(&e);
}
END_TEST

/* ACL user + password, and SELECT, against the real thing. */
START_TEST(test_acl_user_and_select) {
  env e;
  redis_proc rp;
  owner o = {0}, bad = {0}, nopass = {0};
  sio_redis_target t;
  sio_redis_conn *c;
  const char *extra[] = {"--user", "app",    "on",      ">s3cret", "~*", "&*",
                         "+@all",  "--user", "default", "off",     NULL};
  static const char *argv[1] = {"CLIENT"};
  SKIP_WITHOUT_REDIS();
  (void)argv;
  redis_init(&rp);
  redis_start(&rp, 0, extra);
  env_init(&e);
  memset(&t, 0, sizeof(t));
  t.host = "127.0.0.1";
  t.port = rp.port;
  t.user = "app";
  t.password = "s3cret";
  t.db = 3;
  ck_assert_int_eq(sio_redis_conn_open(&c, &e.net, &t, NULL, &handler, &o), 0);
  {
    const char *q[2] = {"CLIENT", "INFO"};
    ck_assert_int_eq(sio_redis_conn_command(c, 2, q, NULL, on_reply, &o), 0);
  }
  ck_assert(run_until(&e, &o.replies, 1, 3000));
  ck_assert_int_eq(o.ready, 1);
  ck_assert_int_eq(o.last_status, 0);
  ck_assert_ptr_nonnull(strstr(o.last_reply, "user=app"));
  ck_assert_ptr_nonnull(strstr(o.last_reply, "db=3"));
  sio_redis_conn_close(c);
  ck_assert(run_until(&e, &o.freed, 1, 3000));

  t.password = "wrong";
  ck_assert_int_eq(sio_redis_conn_open(&c, &e.net, &t, NULL, &handler, &bad),
                   0);
  ck_assert(run_until(&e, &bad.freed, 1, 3000));
  ck_assert_int_eq(bad.ready, 0);
  ck_assert_int_eq(bad.lost_status, SIO_ERR_FORBIDDEN);

  /* the default user is off: without AUTH the first command is refused
   * (NOAUTH), which the owner sees as an error reply */
  t.user = t.password = NULL;
  t.db = 0;
  ck_assert_int_eq(sio_redis_conn_open(&c, &e.net, &t, NULL, &handler, &nopass),
                   0);
  ping(c, &nopass);
  ck_assert(run_until(&e, &nopass.replies, 1, 3000));
  ck_assert_int_eq(nopass.last_type, REDIS_REPLY_ERROR);
  sio_redis_conn_close(c);
  ck_assert(run_until(&e, &nopass.freed, 1, 3000));
  env_done(&e);
  redis_cleanup(&rp);
}
END_TEST

/* rediss: a CA and certificates made here (redis_make_certs), a
 * TLS-only redis-server that requires a client certificate. */
START_TEST(test_tls_with_client_certificate) {
  env e;
  redis_proc rp;
  owner o = {0}, noclient = {0};
  sio_redis_target t;
  sio_redis_conn *c;
  sio_tls_client_ctx *tls, *tls_nocert;
  char ca[128], crt[128], key[128], scrt[128], skey[128], port[16], err[256];
  SKIP_WITHOUT_REDIS();
  redis_init(&rp);
  ck_assert(redis_make_certs(rp.dir));
  snprintf(ca, sizeof(ca), "%s/ca.crt", rp.dir);
  snprintf(crt, sizeof(crt), "%s/client.crt", rp.dir);
  snprintf(key, sizeof(key), "%s/client.key", rp.dir);
  snprintf(scrt, sizeof(scrt), "%s/server.crt", rp.dir);
  snprintf(skey, sizeof(skey), "%s/server.key", rp.dir);
  rp.port = free_port();
  snprintf(port, sizeof(port), "%d", rp.port);
  {
    /* TLS only: the plain port is 0; redis_start waits on rp.port, which
     * accepts TCP for the TLS listener */
    const char *extra[] = {"--tls-port",
                           port,
                           "--tls-cert-file",
                           scrt,
                           "--tls-key-file",
                           skey,
                           "--tls-ca-cert-file",
                           ca,
                           "--tls-auth-clients",
                           "yes",
                           NULL};
    int tls_port = rp.port;
    rp.port = free_port(); /* the plain one, unused */
    redis_start(&rp, 0, extra);
    rp.port = tls_port;
  }
  env_init(&e);
  ck_assert_int_eq(sio_tls_client_ctx_new(&tls, ca, crt, key, err, sizeof(err)),
                   0);
  ck_assert_int_eq(
      sio_tls_client_ctx_new(&tls_nocert, ca, NULL, NULL, err, sizeof(err)), 0);
  memset(&t, 0, sizeof(t));
  t.host = "127.0.0.1";
  t.port = rp.port;
  t.tls = tls;
  ck_assert_int_eq(sio_redis_conn_open(&c, &e.net, &t, NULL, &handler, &o), 0);
  ping(c, &o);
  ck_assert(run_until(&e, &o.replies, 1, 5000));
  ck_assert_int_eq(o.last_status, 0);
  ck_assert_str_eq(o.last_reply, "PONG");
  sio_redis_conn_close(c);
  ck_assert(run_until(&e, &o.freed, 1, 3000));

  /* no client certificate: the server refuses the handshake */
  t.tls = tls_nocert;
  ck_assert_int_eq(
      sio_redis_conn_open(&c, &e.net, &t, NULL, &handler, &noclient), 0);
  ping(c, &noclient);
  ck_assert(run_until(&e, &noclient.freed, 1, 5000));
  ck_assert_int_eq(noclient.last_status == SIO_ERR_IO ||
                       noclient.last_status == SIO_ERR_CANCELED,
                   1);
  ck_assert_int_ne(noclient.lost_status, 0);
  env_done(&e);
  sio_tls_client_ctx_del(tls);
  sio_tls_client_ctx_del(tls_nocert);
  redis_cleanup(&rp);
}
END_TEST

/* Every allocation of a connection's life failing in turn (open, the
 * held command, the dial, the reply): each run either gets its PONG or
 * fails cleanly: no crash, no leak, the loop closes. */
static int fm_conn(void *ud) {
  uv_loop_t loop;
  sio_net net;
  fake f;
  owner o = {0};
  sio_redis_target t;
  sio_redis_conn *c = NULL;
  static const char *argv[1] = {"PING"};
  uv_timer_t guard;
  int rv, i;
  (void)ud;
  ck_assert_int_eq(uv_loop_init(&loop), 0);
  rv = sio_net_init(&net, &loop);
  if (rv) {
    ck_assert_int_eq(uv_loop_close(&loop), 0);
    return rv;
  }
  fake_start(&f, &loop, F_PUSH_THEN_REPLY);
  memset(&t, 0, sizeof(t));
  t.host = "127.0.0.1";
  t.port = f.port;
  t.password = "pw"; /* a handshake to go through: the fake answers +PONG */
  rv = sio_redis_conn_open(&c, &net, &t, NULL, &handler, &o);
  if (!rv)
    rv = sio_redis_conn_command(c, 1, argv, NULL, on_reply, &o);
  uv_timer_init(&loop, &guard);
  for (i = 0; c && i < 3000 && !o.freed && !o.replies; i++) {
    uv_timer_start(&guard, noop, 1, 0);
    uv_run(&loop, UV_RUN_ONCE);
  }
  uv_close((uv_handle_t *)&guard, NULL);
  if (!rv && !(o.replies == 1 && o.last_status == 0))
    rv = SIO_ERR_NOMEM;
  if (c && !o.lost) /* after lost() the connection is gone: forget it */
    sio_redis_conn_close(c);
  for (i = 0; c && i < 3000 && !o.freed; i++)
    uv_run(&loop, UV_RUN_ONCE);
  ck_assert(!c || o.freed == 1);
  fake_stop(&f);
  sio_net_close(&net, NULL);
  uv_run(&loop, UV_RUN_DEFAULT);
  ck_assert_int_eq(uv_loop_close(&loop), 0);
  return rv;
}

START_TEST(test_failmalloc_connection) {
  ck_assert_int_gt(failmalloc_run(fm_conn, NULL), 0);
}
END_TEST

Suite *sio_redis_conn_suite(void) {
  Suite *s = suite_create("sio_redis_conn");
  TCase *tc = tcase_create("core");
  tcase_set_timeout(tc, 30);
  tcase_add_test(tc, test_garbage_reply_is_a_protocol_error);
  tcase_add_test(tc, test_unsolicited_reply_ends_the_connection);
  tcase_add_test(tc, test_silent_server_times_out);
  tcase_add_test(tc, test_push_between_replies);
  tcase_add_test(tc, test_subscribe_counts_confirmations);
  tcase_add_test(tc, test_oversized_replies_are_refused);
  tcase_add_test(tc, test_close_cancels_pending_and_limits);
  tcase_add_test(tc, test_close_while_dialing);
  tcase_add_test(tc, test_refused_is_seen_at_once);
  tcase_add_test(tc, test_acl_user_and_select);
  tcase_add_test(tc, test_tls_with_client_certificate);
  tcase_add_test(tc, test_failmalloc_connection);
  suite_add_tcase(s, tc);
  return s;
}
