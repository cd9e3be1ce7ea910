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
#include "eio_fixture.h"
#include "eio_server.h"
#include "rawclient.h"
#include "sio/sio.h"
#include "sio_int.h"


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
  eio_options o = fx_default_opts();
  fx_run(&f, &o, sc_ws_close_order);
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
  int a = fx_park_get(f, u), ws;
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
  fx_handshake(f, sid, u);
  ws = start_upgrade(f, sid, u);
  ck_assert_int_eq(rc_fetch(f->port, "POST", u, "4kill", &r), 200);
  ck_assert_int_eq(rc_ws_recv(ws, buf, sizeof(buf), &len), 8);
  ck_assert_int_eq(rc_wait_eof(ws, 2000), 1);
  rc_close(ws);
  fx_expect_get(f, u, 200, "4bye\x1e" "4bye2");
  fx_expect_get(f, u, 200, "6\x1e" "1");
  fx_expect_get(f, u, 400, UNKNOWN);
}

START_TEST(server_close_mid_upgrade) {
  fx f;
  eio_options o = fx_default_opts();
  fx_run(&f, &o, sc_close_mid_upgrade);
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
  fx_handshake(f, sid, u);
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
  fx_expect_get(f, u, 400, UNKNOWN);
}

START_TEST(server_close_after_upgrade) {
  fx f;
  eio_options o = fx_default_opts();
  fx_run(&f, &o, sc_close_after_upgrade);
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
  fx_handshake(f, sid, u);
  fx_expect_get(f, u, 200, "2"); /* the ping, never answered */
  a = fx_park_get(f, u);
  ck_assert_int_eq(rc_read_response(a, &r), 200);
  ck_assert_str_eq(r.body, "1");
  rc_close(a);
  fx_expect_get(f, u, 400, UNKNOWN);
}

START_TEST(ping_timeout_with_parked_get) {
  fx f;
  eio_options o = fx_default_opts();
  o.ping_interval = 100;
  o.ping_timeout = 200;
  fx_run(&f, &o, sc_ping_timeout_parked);
  ck_assert_int_eq(f.closes, 1);
  ck_assert_str_eq(f.reasons[0], "ping timeout");
}
END_TEST

/* Ping timeout with packets queued and no GET: they are dropped with the
 * session (the reference frees a timed-out session at once). */
static void sc_ping_timeout_queued(fx *f) {
  char sid[32], u[128];
  rc_response r;
  fx_handshake(f, sid, u);
  fx_expect_get(f, u, 200, "2");
  ck_assert_int_eq(rc_fetch(f->port, "POST", u, "4echo", &r), 200);
  usleep(400000);
  fx_expect_get(f, u, 400, UNKNOWN);
}

START_TEST(ping_timeout_drops_queue) {
  fx f;
  eio_options o = fx_default_opts();
  o.ping_interval = 100;
  o.ping_timeout = 200;
  fx_run(&f, &o, sc_ping_timeout_queued);
  ck_assert_int_eq(f.closes, 1);
  ck_assert_str_eq(f.reasons[0], "ping timeout");
  ck_assert_uint_eq(f.sessions, 0);
}
END_TEST

/* The pong keeps the session: the next ping comes pingInterval later. */
static void sc_pong_keeps(fx *f) {
  char sid[32], u[128];
  rc_response r;
  fx_handshake(f, sid, u);
  fx_expect_get(f, u, 200, "2");
  ck_assert_int_eq(rc_fetch(f->port, "POST", u, "3", &r), 200);
  fx_expect_get(f, u, 200, "2");
  ck_assert_int_eq(rc_fetch(f->port, "POST", u, "3", &r), 200);
  ck_assert_int_eq(rc_fetch(f->port, "POST", u, "4kill", &r), 200);
  fx_expect_get(f, u, 200, "4bye\x1e" "4bye2");
}

START_TEST(pong_keeps_session) {
  fx f;
  eio_options o = fx_default_opts();
  o.ping_interval = 100;
  o.ping_timeout = 1000;
  fx_run(&f, &o, sc_pong_keeps);
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
