/* Loop-level tests of the WebSocket transport's endings (eio_ws.c): a real
 * eio_server on 127.0.0.1:0 driven over loopback by a blocking client
 * thread (helpers/rawclient). Each test ends a WebSocket a different way
 * (close frame, TCP drop mid-frame, a failed probe) and asserts what the
 * client reads and which reason the layer above is given; the fixture is
 * test_eio_polling.c's ("4kill" closes from the server side). */
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

static void expect_get(fx *f, const char *u, int status, const char *body) {
  rc_response r;
  ck_assert_int_eq(rc_fetch(f->port, "GET", u, NULL, &r), status);
  ck_assert_str_eq(r.body, body);
}

#define UNKNOWN "{\"code\":1,\"message\":\"Session ID unknown\"}"

/* ---------------------------------------------------------------- tests */

#define WS_URL "/engine.io/?EIO=4&transport=websocket"

static int ws_session(fx *f) {
  uint8_t buf[4096];
  size_t len;
  int fd = rc_ws_open(f->port, WS_URL);
  ck_assert_int_ge(fd, 0);
  ck_assert_int_eq(rc_ws_recv(fd, buf, sizeof(buf), &len), 1);
  ck_assert_int_eq(buf[0], '0');
  return fd;
}

/* The client's close frame is answered with a close frame, then EOF. */
static void sc_client_close_frame(fx *f) {
  uint8_t buf[256];
  size_t len;
  int fd = ws_session(f);
  ck_assert_int_eq(rc_ws_send(fd, 8, "\x03\xe8", 2), 0);
  ck_assert_int_eq(rc_ws_recv(fd, buf, sizeof(buf), &len), 8);
  ck_assert_int_eq(rc_wait_eof(fd, 2000), 1);
  rc_close(fd);
}

START_TEST(client_close_frame) {
  fx f;
  eio_options o = default_opts();
  run(&f, &o, sc_client_close_frame);
  ck_assert_int_eq(f.closes, 1);
  ck_assert_str_eq(f.reasons[0], "transport close");
  ck_assert_uint_eq(f.sessions, 0);
}
END_TEST

/* The client drops TCP in the middle of a frame: the session closes with
 * "transport close" and nothing is delivered of the partial message. */
static void sc_drop_mid_frame(fx *f) {
  /* FIN text, masked, 10 bytes announced; 3 sent */
  static const uint8_t part[] = {0x81, 0x8a, 0, 0, 0, 0, '4', 'a', 'b'};
  int fd = ws_session(f);
  ck_assert_int_eq(rc_send(fd, part, sizeof(part)), 0);
  usleep(30000);
  rc_close(fd);
  usleep(50000);
}

START_TEST(drop_mid_frame) {
  fx f;
  eio_options o = default_opts();
  run(&f, &o, sc_drop_mid_frame);
  ck_assert_int_eq(f.messages, 0);
  ck_assert_int_eq(f.closes, 1);
  ck_assert_str_eq(f.reasons[0], "transport close");
  ck_assert_uint_eq(f.sessions, 0);
}
END_TEST

/* A probe that sends something else than "2probe" is closed (1000); the
 * session stays on polling and keeps working. */
static void sc_bad_probe(fx *f) {
  char sid[32], u[128], w[128];
  uint8_t buf[256];
  size_t len;
  rc_response r;
  int ws;
  handshake(f, sid, u);
  sprintf(w, "/engine.io/?EIO=4&transport=websocket&sid=%s", sid);
  ws = rc_ws_open(f->port, w);
  ck_assert_int_ge(ws, 0);
  ck_assert_int_eq(rc_ws_send(ws, 1, "5", 1), 0); /* upgrade before probe */
  ck_assert_int_eq(rc_ws_recv(ws, buf, sizeof(buf), &len), 8);
  ck_assert_int_eq(buf[0] << 8 | buf[1], 1000);
  ck_assert_int_eq(rc_wait_eof(ws, 2000), 1);
  rc_close(ws);
  ck_assert_int_eq(rc_fetch(f->port, "POST", u, "4still", &r), 200);
  expect_get(f, u, 200, "4still");
}

START_TEST(bad_probe_keeps_polling) {
  fx f;
  eio_options o = default_opts();
  run(&f, &o, sc_bad_probe);
  ck_assert_int_eq(f.closes, 1); /* at shutdown only */
  ck_assert_str_eq(f.reasons[0], "server shutting down");
}
END_TEST

/* The client drops its probe after "3probe": the upgrade is abandoned,
 * polling works again, and a later probe may succeed. */
static void sc_probe_dropped(fx *f) {
  char sid[32], u[128], w[128];
  uint8_t buf[256];
  size_t len;
  rc_response r;
  int ws;
  handshake(f, sid, u);
  sprintf(w, "/engine.io/?EIO=4&transport=websocket&sid=%s", sid);
  ws = rc_ws_open(f->port, w);
  ck_assert_int_ge(ws, 0);
  ck_assert_int_eq(rc_ws_send(ws, 1, "2probe", 6), 0);
  ck_assert_int_eq(rc_ws_recv(ws, buf, sizeof(buf), &len), 1);
  ck_assert_str_eq((char *)buf, "3probe");
  rc_close(ws);
  usleep(50000);
  ck_assert_int_eq(rc_fetch(f->port, "POST", u, "4back", &r), 200);
  expect_get(f, u, 200, "4back");
  ws = rc_ws_open(f->port, w);
  ck_assert_int_ge(ws, 0);
  ck_assert_int_eq(rc_ws_send(ws, 1, "2probe", 6), 0);
  ck_assert_int_eq(rc_ws_recv(ws, buf, sizeof(buf), &len), 1);
  ck_assert_str_eq((char *)buf, "3probe");
  ck_assert_int_eq(rc_ws_send(ws, 1, "5", 1), 0);
  ck_assert_int_eq(rc_ws_send(ws, 1, "4up", 3), 0);
  ck_assert_int_eq(rc_ws_recv(ws, buf, sizeof(buf), &len), 1);
  ck_assert_str_eq((char *)buf, "4up");
  rc_close(ws);
  usleep(50000);
}

START_TEST(dropped_probe_then_upgrade) {
  fx f;
  eio_options o = default_opts();
  run(&f, &o, sc_probe_dropped);
  ck_assert_int_eq(f.messages, 2);
  ck_assert_int_eq(f.closes, 1);
  ck_assert_str_eq(f.reasons[0], "transport close");
}
END_TEST

Suite *eio_ws_suite(void) {
  Suite *s = suite_create("eio_ws");
  TCase *tc = tcase_create("endings");
  tcase_set_timeout(tc, 20);
  tcase_add_test(tc, client_close_frame);
  tcase_add_test(tc, drop_mid_frame);
  tcase_add_test(tc, bad_probe_keeps_polling);
  tcase_add_test(tc, dropped_probe_then_upgrade);
  suite_add_tcase(s, tc);
  return s;
}
