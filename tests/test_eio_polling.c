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
#include "eio_fixture.h"
#include "eio_server.h"
#include "rawclient.h"
#include "sio/sio.h"
#include "sio_int.h"


/* ---------------------------------------------------------------- tests */

/* No GET parked when the server closes: the next GET gets both queued
 * packets, the one after the orderly close, then the sid is unknown. */
static void sc_close_no_get(fx *f) {
  char sid[32], u[128];
  rc_response r;
  fx_handshake(f, sid, u);
  ck_assert_int_eq(rc_fetch(f->port, "POST", u, "4kill", &r), 200);
  ck_assert_str_eq(r.body, "ok");
  fx_expect_get(f, u, 200, "4bye\x1e" "4bye2");
  fx_expect_get(f, u, 200, "6\x1e" "1");
  fx_expect_get(f, u, 400, UNKNOWN);
}

START_TEST(close_without_get_flushes_queue) {
  fx f;
  eio_options o = fx_default_opts();
  fx_run(&f, &o, sc_close_no_get);
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
  fx_handshake(f, sid, u);
  a = fx_park_get(f, u);
  ck_assert_int_eq(rc_fetch(f->port, "POST", u, "4kill", &r), 200);
  ck_assert_int_eq(rc_read_response(a, &r), 200);
  ck_assert_str_eq(r.body, "4bye");
  rc_close(a);
  fx_expect_get(f, u, 200, "4bye2");
  fx_expect_get(f, u, 200, "6\x1e" "1");
  fx_expect_get(f, u, 400, UNKNOWN);
}

START_TEST(close_with_parked_get_flushes_queue) {
  fx f;
  eio_options o = fx_default_opts();
  fx_run(&f, &o, sc_close_parked);
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
  fx_handshake(f, sid, u);
  a = fx_park_get(f, u);
  ck_assert_int_eq(rc_fetch(f->port, "POST", u, "4quiet", &r), 200);
  ck_assert_int_eq(rc_read_response(a, &r), 200);
  ck_assert_str_eq(r.body, "1");
  rc_close(a);
  fx_expect_get(f, u, 400, UNKNOWN);
}

START_TEST(quiet_close_with_parked_get) {
  fx f;
  eio_options o = fx_default_opts();
  fx_run(&f, &o, sc_quiet_parked);
  ck_assert_int_eq(f.closes, 1);
  ck_assert_uint_eq(f.sessions, 0);
}
END_TEST

/* Nothing queued, no GET parked: the next GET gets the orderly close. */
static void sc_quiet_no_get(fx *f) {
  char sid[32], u[128];
  rc_response r;
  fx_handshake(f, sid, u);
  ck_assert_int_eq(rc_fetch(f->port, "POST", u, "4quiet", &r), 200);
  fx_expect_get(f, u, 200, "6\x1e" "1");
  fx_expect_get(f, u, 400, UNKNOWN);
}

START_TEST(quiet_close_without_get) {
  fx f;
  eio_options o = fx_default_opts();
  fx_run(&f, &o, sc_quiet_no_get);
  ck_assert_int_eq(f.closes, 1);
}
END_TEST

/* The client keeps POSTing after the close (its packets were in flight):
 * answered "ok" and ignored, as the reference does; the queue still comes
 * out. A POST in the same body as the kill is ignored too. */
static void sc_post_after_close(fx *f) {
  char sid[32], u[128];
  rc_response r;
  fx_handshake(f, sid, u);
  ck_assert_int_eq(rc_fetch(f->port, "POST", u, "4kill\x1e" "4late", &r), 200);
  ck_assert_str_eq(r.body, "ok");
  ck_assert_int_eq(rc_fetch(f->port, "POST", u, "4later", &r), 200);
  ck_assert_str_eq(r.body, "ok");
  fx_expect_get(f, u, 200, "4bye\x1e" "4bye2");
  fx_expect_get(f, u, 200, "6\x1e" "1");
  ck_assert_int_eq(rc_fetch(f->port, "POST", u, "4gone", &r), 400);
}

START_TEST(post_after_server_close) {
  fx f;
  eio_options o = fx_default_opts();
  fx_run(&f, &o, sc_post_after_close);
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
  fx_handshake(f, sid, u);
  ck_assert_int_eq(rc_fetch(f->port, "POST", u, "4kill", &r), 200);
  ck_assert_int_eq(rc_fetch(f->port, "POST", u, "4x\x1e" "1", &r), 200);
  ck_assert_str_eq(r.body, "ok");
  fx_expect_get(f, u, 400, UNKNOWN);
  fx_handshake(f, sid, u);
  ck_assert_int_eq(rc_fetch(f->port, "POST", u, "4kill", &r), 200);
  ck_assert_int_eq(rc_fetch(f->port, "POST", u, "zz", &r), 400);
  fx_expect_get(f, u, 400, UNKNOWN);
}

START_TEST(client_close_ends_linger) {
  fx f;
  eio_options o = fx_default_opts();
  o.ping_timeout = 20000; /* only the client's packet can end it in time */
  fx_run(&f, &o, sc_client_leaves);
  ck_assert_int_eq(f.closes, 2);
  ck_assert_uint_eq(f.sessions, 0);
}
END_TEST

/* A client that never polls again after the close does not keep the
 * session: it is freed pingTimeout (300 ms) later (ASan: no leak). */
static void sc_linger_bound(fx *f) {
  char sid[32], u[128];
  rc_response r;
  fx_handshake(f, sid, u);
  ck_assert_int_eq(rc_fetch(f->port, "POST", u, "4kill", &r), 200);
  usleep(700000);
  fx_expect_get(f, u, 400, UNKNOWN);
}

START_TEST(linger_is_bounded) {
  fx f;
  eio_options o = fx_default_opts();
  fx_run(&f, &o, sc_linger_bound);
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
  fx_handshake(f, sid, u);
  ck_assert_int_eq(rc_fetch(f->port, "POST", u, "4kill", &r), 200);
}

START_TEST(linger_at_shutdown) {
  fx f;
  eio_options o = fx_default_opts();
  o.ping_timeout = 20000; /* would hold the 20 s test timeout if waited */
  fx_run(&f, &o, sc_linger_shutdown);
  ck_assert_int_eq(f.closes, 1);
  ck_assert_uint_eq(f.sessions, 0); /* not counted as a live session */
}
END_TEST

/* The parked GET's connection drops after the close: the queue waits for
 * the next GET. A WebSocket upgrade of the closed session is refused. */
static void sc_linger_other_requests(fx *f) {
  char sid[32], u[128], w[128];
  rc_response r;
  fx_handshake(f, sid, u);
  ck_assert_int_eq(rc_fetch(f->port, "POST", u, "4kill", &r), 200);
  sprintf(w, "/engine.io/?EIO=4&transport=websocket&sid=%s", sid);
  ck_assert_int_lt(rc_ws_open(f->port, w), 0);
  fx_expect_get(f, u, 200, "4bye\x1e" "4bye2");
  fx_expect_get(f, u, 200, "6\x1e" "1");
}

START_TEST(linger_refuses_upgrade) {
  fx f;
  eio_options o = fx_default_opts();
  fx_run(&f, &o, sc_linger_other_requests);
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
