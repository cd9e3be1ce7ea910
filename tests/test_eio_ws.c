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
#include "eio_fixture.h"
#include "eio_server.h"
#include "rawclient.h"
#include "sio/sio.h"
#include "sio_int.h"


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
  eio_options o = fx_default_opts();
  fx_run(&f, &o, sc_client_close_frame);
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
  eio_options o = fx_default_opts();
  fx_run(&f, &o, sc_drop_mid_frame);
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
  fx_handshake(f, sid, u);
  sprintf(w, "/engine.io/?EIO=4&transport=websocket&sid=%s", sid);
  ws = rc_ws_open(f->port, w);
  ck_assert_int_ge(ws, 0);
  ck_assert_int_eq(rc_ws_send(ws, 1, "5", 1), 0); /* upgrade before probe */
  ck_assert_int_eq(rc_ws_recv(ws, buf, sizeof(buf), &len), 8);
  ck_assert_int_eq(buf[0] << 8 | buf[1], 1000);
  ck_assert_int_eq(rc_wait_eof(ws, 2000), 1);
  rc_close(ws);
  ck_assert_int_eq(rc_fetch(f->port, "POST", u, "4still", &r), 200);
  fx_expect_get(f, u, 200, "4still");
}

START_TEST(bad_probe_keeps_polling) {
  fx f;
  eio_options o = fx_default_opts();
  fx_run(&f, &o, sc_bad_probe);
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
  fx_handshake(f, sid, u);
  sprintf(w, "/engine.io/?EIO=4&transport=websocket&sid=%s", sid);
  ws = rc_ws_open(f->port, w);
  ck_assert_int_ge(ws, 0);
  ck_assert_int_eq(rc_ws_send(ws, 1, "2probe", 6), 0);
  ck_assert_int_eq(rc_ws_recv(ws, buf, sizeof(buf), &len), 1);
  ck_assert_str_eq((char *)buf, "3probe");
  rc_close(ws);
  usleep(50000);
  ck_assert_int_eq(rc_fetch(f->port, "POST", u, "4back", &r), 200);
  fx_expect_get(f, u, 200, "4back");
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
  eio_options o = fx_default_opts();
  fx_run(&f, &o, sc_probe_dropped);
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
