/* Loop-level tests of the Engine.IO session state machine (eio_socket.c)
 * through a real eio_server on 127.0.0.1:0, driven over loopback by a
 * blocking client thread (helpers/rawclient): server closes on each
 * transport and mid-upgrade, ping timeouts with and without a parked GET.
 * The server side is scripted by the client's messages ("4kill": queue
 * two packets, then close, as a rate-limit disconnect does). Assertions
 * are on what the client reads; the fixture is test_eio_polling.c's. */
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

#define WS_URL "/engine.io/?EIO=4&transport=websocket"

/* WebSocket: what the server sent before closing arrives, then the close
 * frame (1000), then EOF. */
static void sc_ws_close_order(fx *f) {
  uint8_t buf[4096];
  size_t len;
  int fd = rc_ws_open(f->port, WS_URL);
  ck_assert_int_ge(fd, 0);
  ck_assert_int_eq(rc_ws_recv(fd, buf, sizeof(buf), &len), 1);
  ck_assert_int_eq(buf[0], '0');
  ck_assert_int_eq(rc_ws_send(fd, 1, "4kill", 5), 0);
  ck_assert_int_eq(rc_ws_recv(fd, buf, sizeof(buf), &len), 1);
  ck_assert_str_eq((char *)buf, "4bye");
  ck_assert_int_eq(rc_ws_recv(fd, buf, sizeof(buf), &len), 1);
  ck_assert_str_eq((char *)buf, "4bye2");
  ck_assert_int_eq(rc_ws_recv(fd, buf, sizeof(buf), &len), 8);
  ck_assert_uint_eq(len, 2);
  ck_assert_int_eq(buf[0] << 8 | buf[1], 1000);
  ck_assert_int_eq(rc_wait_eof(fd, 2000), 1);
  rc_close(fd);
}

START_TEST(ws_server_close_sends_queue_then_close) {
  fx f;
  eio_options o = default_opts();
  run(&f, &o, sc_ws_close_order);
  ck_assert_int_eq(f.closes, 1);
  ck_assert_str_eq(f.reasons[0], "forced close");
  ck_assert_uint_eq(f.sessions, 0);
}
END_TEST

/* Starts an upgrade of the polling session at u: a parked GET released
 * with "6" by the probe. Returns the probe WebSocket. */
static int start_upgrade(fx *f, const char *sid, const char *u) {
  char w[128];
  uint8_t buf[256];
  size_t len;
  rc_response r;
  int a = park_get(f, u), ws;
  sprintf(w, "/engine.io/?EIO=4&transport=websocket&sid=%s", sid);
  ws = rc_ws_open(f->port, w);
  ck_assert_int_ge(ws, 0);
  ck_assert_int_eq(rc_ws_send(ws, 1, "2probe", 6), 0);
  ck_assert_int_eq(rc_ws_recv(ws, buf, sizeof(buf), &len), 1);
  ck_assert_str_eq((char *)buf, "3probe");
  ck_assert_int_eq(rc_read_response(a, &r), 200);
  ck_assert_str_eq(r.body, "6"); /* the noop that lets the client pause */
  rc_close(a);
  return ws;
}

/* The server closes between "3probe" and "5": the probe is closed (1000)
 * and the client, back on polling, still gets what was queued, then the
 * orderly close. */
static void sc_close_mid_upgrade(fx *f) {
  char sid[32], u[128];
  uint8_t buf[256];
  size_t len;
  rc_response r;
  int ws;
  handshake(f, sid, u);
  ws = start_upgrade(f, sid, u);
  ck_assert_int_eq(rc_fetch(f->port, "POST", u, "4kill", &r), 200);
  ck_assert_int_eq(rc_ws_recv(ws, buf, sizeof(buf), &len), 8);
  ck_assert_int_eq(rc_wait_eof(ws, 2000), 1);
  rc_close(ws);
  expect_get(f, u, 200, "4bye\x1e" "4bye2");
  expect_get(f, u, 200, "6\x1e" "1");
  expect_get(f, u, 400, UNKNOWN);
}

START_TEST(server_close_mid_upgrade) {
  fx f;
  eio_options o = default_opts();
  run(&f, &o, sc_close_mid_upgrade);
  ck_assert_int_eq(f.closes, 1);
  ck_assert_str_eq(f.reasons[0], "forced close");
  ck_assert_uint_eq(f.sessions, 0);
}
END_TEST

/* After a completed upgrade a server close goes over the WebSocket:
 * queue first, then the close frame; polling stays refused. */
static void sc_close_after_upgrade(fx *f) {
  char sid[32], u[128];
  uint8_t buf[256];
  size_t len;
  int ws;
  handshake(f, sid, u);
  ws = start_upgrade(f, sid, u);
  ck_assert_int_eq(rc_ws_send(ws, 1, "5", 1), 0);
  ck_assert_int_eq(rc_ws_send(ws, 1, "4kill", 5), 0);
  ck_assert_int_eq(rc_ws_recv(ws, buf, sizeof(buf), &len), 1);
  ck_assert_str_eq((char *)buf, "4bye");
  ck_assert_int_eq(rc_ws_recv(ws, buf, sizeof(buf), &len), 1);
  ck_assert_str_eq((char *)buf, "4bye2");
  ck_assert_int_eq(rc_ws_recv(ws, buf, sizeof(buf), &len), 8);
  ck_assert_int_eq(rc_wait_eof(ws, 2000), 1);
  rc_close(ws);
  expect_get(f, u, 400, UNKNOWN);
}

START_TEST(server_close_after_upgrade) {
  fx f;
  eio_options o = default_opts();
  run(&f, &o, sc_close_after_upgrade);
  ck_assert_int_eq(f.closes, 1);
  ck_assert_uint_eq(f.sessions, 0);
}
END_TEST

/* Ping timeout with a GET parked: it gets "1", the session is gone at
 * once (not a server close: nothing lingers, as in the reference). */
static void sc_ping_timeout_parked(fx *f) {
  char sid[32], u[128];
  rc_response r;
  int a;
  handshake(f, sid, u);
  expect_get(f, u, 200, "2"); /* the ping, never answered */
  a = park_get(f, u);
  ck_assert_int_eq(rc_read_response(a, &r), 200);
  ck_assert_str_eq(r.body, "1");
  rc_close(a);
  expect_get(f, u, 400, UNKNOWN);
}

START_TEST(ping_timeout_with_parked_get) {
  fx f;
  eio_options o = default_opts();
  o.ping_interval = 100;
  o.ping_timeout = 200;
  run(&f, &o, sc_ping_timeout_parked);
  ck_assert_int_eq(f.closes, 1);
  ck_assert_str_eq(f.reasons[0], "ping timeout");
}
END_TEST

/* Ping timeout with packets queued and no GET: they are dropped with the
 * session (the reference frees a timed-out session at once). */
static void sc_ping_timeout_queued(fx *f) {
  char sid[32], u[128];
  rc_response r;
  handshake(f, sid, u);
  expect_get(f, u, 200, "2");
  ck_assert_int_eq(rc_fetch(f->port, "POST", u, "4echo", &r), 200);
  usleep(400000);
  expect_get(f, u, 400, UNKNOWN);
}

START_TEST(ping_timeout_drops_queue) {
  fx f;
  eio_options o = default_opts();
  o.ping_interval = 100;
  o.ping_timeout = 200;
  run(&f, &o, sc_ping_timeout_queued);
  ck_assert_int_eq(f.closes, 1);
  ck_assert_str_eq(f.reasons[0], "ping timeout");
  ck_assert_uint_eq(f.sessions, 0);
}
END_TEST

/* The pong keeps the session: the next ping comes pingInterval later. */
static void sc_pong_keeps(fx *f) {
  char sid[32], u[128];
  rc_response r;
  handshake(f, sid, u);
  expect_get(f, u, 200, "2");
  ck_assert_int_eq(rc_fetch(f->port, "POST", u, "3", &r), 200);
  expect_get(f, u, 200, "2");
  ck_assert_int_eq(rc_fetch(f->port, "POST", u, "3", &r), 200);
  ck_assert_int_eq(rc_fetch(f->port, "POST", u, "4kill", &r), 200);
  expect_get(f, u, 200, "4bye\x1e" "4bye2");
}

START_TEST(pong_keeps_session) {
  fx f;
  eio_options o = default_opts();
  o.ping_interval = 100;
  o.ping_timeout = 1000;
  run(&f, &o, sc_pong_keeps);
  ck_assert_int_eq(f.closes, 1);
  ck_assert_str_eq(f.reasons[0], "forced close");
}
END_TEST

Suite *eio_socket_suite(void) {
  Suite *s = suite_create("eio_socket");
  TCase *tc = tcase_create("states");
  tcase_set_timeout(tc, 20);
  tcase_add_test(tc, ws_server_close_sends_queue_then_close);
  tcase_add_test(tc, server_close_mid_upgrade);
  tcase_add_test(tc, server_close_after_upgrade);
  tcase_add_test(tc, ping_timeout_with_parked_get);
  tcase_add_test(tc, ping_timeout_drops_queue);
  tcase_add_test(tc, pong_keeps_session);
  suite_add_tcase(s, tc);
  return s;
}
