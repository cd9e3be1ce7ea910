/* Loop-level tests of the long-polling transport's close paths: a real
 * eio_server on 127.0.0.1:0 driven over loopback by a blocking client
 * thread (helpers/rawclient), as test_eio_server.c does. The server side
 * is scripted by the messages the client POSTs ("4kill": queue two
 * packets, then close, as a rate-limit disconnect does); every assertion
 * is on what the client reads. Reference: engine.io 6, whose
 * socket.close() lets the queued packets out on the next GETs, then
 * answers "6\x1e1", then forgets the sid. */
#include <check.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "check_suites.h"
#include "eio_server.h"
#include "rawclient.h"
#include "sio/sio.h"
#include "sio_int.h"

typedef struct fx {
  uv_loop_t loop;
  eio_server *srv;
  int port;
  int opens, closes, messages, closed;
  char reasons[8][32];
  eio_stats stats; /* taken just before the server closes */
  size_t sessions; /* eio_server_session_count then */
  void (*scenario)(struct fx *f);
} fx;

static void on_open(eio_socket *es, void *ud) {
  ((fx *)ud)->opens++;
  (void)es;
}

static void send_text(eio_socket *es, const char *t) {
  sio_rcbuf *rc = sio_rcbuf_new_copy(t, strlen(t));
  eio_socket_send(es, rc);
  sio_rcbuf_unref(rc);
}

/* "kill": two packets then a server close; "quiet": a close with nothing
 * queued; anything else is echoed. */
static void on_message(eio_socket *es, int binary, const uint8_t *data,
                       size_t len, void *ud) {
  fx *f = ud;
  f->messages++;
  (void)binary;
  if (len == 4 && memcmp(data, "kill", 4) == 0) {
    send_text(es, "4bye");
    send_text(es, "4bye2");
    eio_socket_close(es, NULL);
  } else if (len == 5 && memcmp(data, "quiet", 5) == 0) {
    eio_socket_close(es, NULL);
  } else {
    char buf[256];
    snprintf(buf, sizeof(buf), "4%.*s", (int)len, (const char *)data);
    send_text(es, buf);
  }
}

static void on_close(eio_socket *es, const char *reason, void *ud) {
  fx *f = ud;
  if (f->closes < 8)
    snprintf(f->reasons[f->closes], sizeof(f->reasons[0]), "%s", reason);
  f->closes++;
  (void)es;
}

static void server_closed(void *ud) { ((fx *)ud)->closed = 1; }
static void done(void *ud) {
  fx *f = ud;
  eio_server_stats(f->srv, &f->stats);
  f->sessions = eio_server_session_count(f->srv);
  eio_server_close(f->srv, server_closed, f);
}
static void thread_fn(void *ud) {
  fx *f = ud;
  f->scenario(f);
}

static eio_options default_opts(void) {
  eio_options o = {0};
  o.path = "/engine.io/";
  o.ping_interval = 5000; /* no ping in the way of the scripted answers */
  o.ping_timeout = 300;   /* and the bound of a closed session's last GET */
  o.max_payload = 1000;
  o.transports = SIO_TRANSPORT_POLLING | SIO_TRANSPORT_WEBSOCKET;
  o.cors_origins = "*";
  return o;
}

static void run(fx *f, const eio_options *o, void (*scenario)(fx *f)) {
  eio_callbacks cbs = {on_open, on_message, on_close, NULL};
  memset(f, 0, sizeof(*f));
  f->scenario = scenario;
  ck_assert_int_eq(uv_loop_init(&f->loop), 0);
  ck_assert_int_eq(eio_server_new(&f->srv, &f->loop, o, &cbs, f), 0);
  ck_assert_int_eq(eio_server_listen(f->srv, "127.0.0.1:0"), 0);
  f->port = eio_server_port(f->srv, 0);
  ck_assert_int_gt(f->port, 0);
  rc_run(&f->loop, thread_fn, done, f);
  ck_assert_int_eq(f->closed, 1);
  ck_assert_int_eq(uv_loop_close(&f->loop), 0);
}

/* Opens a polling session; its sid in sid, its polling URL in u. */
static void handshake(fx *f, char sid[32], char u[128]) {
  rc_response r;
  const char *p;
  ck_assert_int_eq(
      rc_fetch(f->port, "GET", "/engine.io/?EIO=4&transport=polling", NULL, &r),
      200);
  p = strstr(r.body, "\"sid\":\"");
  ck_assert_ptr_nonnull(p);
  memcpy(sid, p + 7, 20);
  sid[20] = 0;
  sprintf(u, "/engine.io/?EIO=4&transport=polling&sid=%s", sid);
}

/* Sends a GET on a new connection without reading the answer (parked). */
static int park_get(fx *f, const char *u) {
  char req[256];
  int fd = rc_connect(f->port), n;
  ck_assert_int_ge(fd, 0);
  n = snprintf(req, sizeof(req), "GET %s HTTP/1.1\r\nHost: x\r\n\r\n", u);
  ck_assert_int_eq(rc_send(fd, req, (size_t)n), 0);
  usleep(50000); /* parked: nothing is queued, so no answer can come */
  return fd;
}

static void expect_get(fx *f, const char *u, int status, const char *body) {
  rc_response r;
  ck_assert_int_eq(rc_fetch(f->port, "GET", u, NULL, &r), status);
  ck_assert_str_eq(r.body, body);
}

#define UNKNOWN "{\"code\":1,\"message\":\"Session ID unknown\"}"

/* ---------------------------------------------------------------- tests */

/* No GET parked when the server closes: the next GET gets both queued
 * packets, the one after the orderly close, then the sid is unknown. */
static void sc_close_no_get(fx *f) {
  char sid[32], u[128];
  rc_response r;
  handshake(f, sid, u);
  ck_assert_int_eq(rc_fetch(f->port, "POST", u, "4kill", &r), 200);
  ck_assert_str_eq(r.body, "ok");
  expect_get(f, u, 200, "4bye\x1e" "4bye2");
  expect_get(f, u, 200, "6\x1e" "1");
  expect_get(f, u, 400, UNKNOWN);
}

START_TEST(close_without_get_flushes_queue) {
  fx f;
  eio_options o = default_opts();
  run(&f, &o, sc_close_no_get);
  ck_assert_int_eq(f.closes, 1);
  ck_assert_str_eq(f.reasons[0], "forced close");
  ck_assert_uint_eq(f.sessions, 0);
}
END_TEST

/* A GET parked when the server closes takes what was sent before the
 * close; the close itself comes on the next GET. */
static void sc_close_parked(fx *f) {
  char sid[32], u[128];
  rc_response r;
  int a;
  handshake(f, sid, u);
  a = park_get(f, u);
  ck_assert_int_eq(rc_fetch(f->port, "POST", u, "4kill", &r), 200);
  ck_assert_int_eq(rc_read_response(a, &r), 200);
  ck_assert_str_eq(r.body, "4bye");
  rc_close(a);
  expect_get(f, u, 200, "4bye2");
  expect_get(f, u, 200, "6\x1e" "1");
  expect_get(f, u, 400, UNKNOWN);
}

START_TEST(close_with_parked_get_flushes_queue) {
  fx f;
  eio_options o = default_opts();
  run(&f, &o, sc_close_parked);
  ck_assert_int_eq(f.closes, 1);
  ck_assert_uint_eq(f.sessions, 0);
}
END_TEST

/* Nothing queued and a GET parked: it gets "1" at once and the session is
 * gone (no lingering). */
static void sc_quiet_parked(fx *f) {
  char sid[32], u[128];
  rc_response r;
  int a;
  handshake(f, sid, u);
  a = park_get(f, u);
  ck_assert_int_eq(rc_fetch(f->port, "POST", u, "4quiet", &r), 200);
  ck_assert_int_eq(rc_read_response(a, &r), 200);
  ck_assert_str_eq(r.body, "1");
  rc_close(a);
  expect_get(f, u, 400, UNKNOWN);
}

START_TEST(quiet_close_with_parked_get) {
  fx f;
  eio_options o = default_opts();
  run(&f, &o, sc_quiet_parked);
  ck_assert_int_eq(f.closes, 1);
  ck_assert_uint_eq(f.sessions, 0);
}
END_TEST

/* Nothing queued, no GET parked: the next GET gets the orderly close. */
static void sc_quiet_no_get(fx *f) {
  char sid[32], u[128];
  rc_response r;
  handshake(f, sid, u);
  ck_assert_int_eq(rc_fetch(f->port, "POST", u, "4quiet", &r), 200);
  expect_get(f, u, 200, "6\x1e" "1");
  expect_get(f, u, 400, UNKNOWN);
}

START_TEST(quiet_close_without_get) {
  fx f;
  eio_options o = default_opts();
  run(&f, &o, sc_quiet_no_get);
  ck_assert_int_eq(f.closes, 1);
}
END_TEST

/* The client keeps POSTing after the close (its packets were in flight):
 * answered "ok" and ignored, as the reference does; the queue still comes
 * out. A POST in the same body as the kill is ignored too. */
static void sc_post_after_close(fx *f) {
  char sid[32], u[128];
  rc_response r;
  handshake(f, sid, u);
  ck_assert_int_eq(rc_fetch(f->port, "POST", u, "4kill\x1e" "4late", &r), 200);
  ck_assert_str_eq(r.body, "ok");
  ck_assert_int_eq(rc_fetch(f->port, "POST", u, "4later", &r), 200);
  ck_assert_str_eq(r.body, "ok");
  expect_get(f, u, 200, "4bye\x1e" "4bye2");
  expect_get(f, u, 200, "6\x1e" "1");
  ck_assert_int_eq(rc_fetch(f->port, "POST", u, "4gone", &r), 400);
}

START_TEST(post_after_server_close) {
  fx f;
  eio_options o = default_opts();
  run(&f, &o, sc_post_after_close);
  ck_assert_int_eq(f.messages, 1); /* only the kill reached the app */
  ck_assert_int_eq(f.closes, 1);
}
END_TEST

/* The client says it left (its close packet, as socket.io-client sends
 * on "io server disconnect"): the queue is dropped, the sid forgotten at
 * once instead of after the bound. A malformed POST ends it too. */
static void sc_client_leaves(fx *f) {
  char sid[32], u[128];
  rc_response r;
  handshake(f, sid, u);
  ck_assert_int_eq(rc_fetch(f->port, "POST", u, "4kill", &r), 200);
  ck_assert_int_eq(rc_fetch(f->port, "POST", u, "4x\x1e" "1", &r), 200);
  ck_assert_str_eq(r.body, "ok");
  expect_get(f, u, 400, UNKNOWN);
  handshake(f, sid, u);
  ck_assert_int_eq(rc_fetch(f->port, "POST", u, "4kill", &r), 200);
  ck_assert_int_eq(rc_fetch(f->port, "POST", u, "zz", &r), 400);
  expect_get(f, u, 400, UNKNOWN);
}

START_TEST(client_close_ends_linger) {
  fx f;
  eio_options o = default_opts();
  o.ping_timeout = 20000; /* only the client's packet can end it in time */
  run(&f, &o, sc_client_leaves);
  ck_assert_int_eq(f.closes, 2);
  ck_assert_uint_eq(f.sessions, 0);
}
END_TEST

/* A client that never polls again after the close does not keep the
 * session: it is freed pingTimeout (300 ms) later (ASan: no leak). */
static void sc_linger_bound(fx *f) {
  char sid[32], u[128];
  rc_response r;
  handshake(f, sid, u);
  ck_assert_int_eq(rc_fetch(f->port, "POST", u, "4kill", &r), 200);
  usleep(700000);
  expect_get(f, u, 400, UNKNOWN);
}

START_TEST(linger_is_bounded) {
  fx f;
  eio_options o = default_opts();
  run(&f, &o, sc_linger_bound);
  ck_assert_int_eq(f.closes, 1);
  ck_assert_uint_eq(f.sessions, 0);
  ck_assert_uint_eq(f.stats.polling, 0);
}
END_TEST

/* The server shuts down while a closed session waits for its GET: freed
 * at once, the shutdown does not wait for the bound. */
static void sc_linger_shutdown(fx *f) {
  char sid[32], u[128];
  rc_response r;
  handshake(f, sid, u);
  ck_assert_int_eq(rc_fetch(f->port, "POST", u, "4kill", &r), 200);
}

START_TEST(linger_at_shutdown) {
  fx f;
  eio_options o = default_opts();
  o.ping_timeout = 20000; /* would hold the 20 s test timeout if waited */
  run(&f, &o, sc_linger_shutdown);
  ck_assert_int_eq(f.closes, 1);
  ck_assert_uint_eq(f.sessions, 0); /* not counted as a live session */
}
END_TEST

/* The parked GET's connection drops after the close: the queue waits for
 * the next GET. A WebSocket upgrade of the closed session is refused. */
static void sc_linger_other_requests(fx *f) {
  char sid[32], u[128], w[128];
  rc_response r;
  handshake(f, sid, u);
  ck_assert_int_eq(rc_fetch(f->port, "POST", u, "4kill", &r), 200);
  sprintf(w, "/engine.io/?EIO=4&transport=websocket&sid=%s", sid);
  ck_assert_int_lt(rc_ws_open(f->port, w), 0);
  expect_get(f, u, 200, "4bye\x1e" "4bye2");
  expect_get(f, u, 200, "6\x1e" "1");
}

START_TEST(linger_refuses_upgrade) {
  fx f;
  eio_options o = default_opts();
  run(&f, &o, sc_linger_other_requests);
  ck_assert_int_eq(f.closes, 1);
}
END_TEST

Suite *eio_polling_suite(void) {
  Suite *s = suite_create("eio_polling");
  TCase *tc = tcase_create("server_close");
  tcase_set_timeout(tc, 20);
  tcase_add_test(tc, close_without_get_flushes_queue);
  tcase_add_test(tc, close_with_parked_get_flushes_queue);
  tcase_add_test(tc, quiet_close_with_parked_get);
  tcase_add_test(tc, quiet_close_without_get);
  tcase_add_test(tc, post_after_server_close);
  tcase_add_test(tc, client_close_ends_linger);
  tcase_add_test(tc, linger_is_bounded);
  tcase_add_test(tc, linger_at_shutdown);
  tcase_add_test(tc, linger_refuses_upgrade);
  suite_add_tcase(s, tc);
  return s;
}
