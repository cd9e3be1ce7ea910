/* Public API beside Socket.IO: the plain-HTTP handler, the handshake
 * filter, stats and stop_listening, over loopback (helpers/rawclient). */
#include <check.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "check_suites.h"
#include "rawclient.h"
#include "sio/sio.h"

typedef struct fx {
  uv_loop_t loop;
  sio_server *srv;
  int port;
  int refuse; /* handshake filter answer */
  int http_calls;
  sio_stats stats;
  int closed;
  void (*scenario)(struct fx *f);
} fx;

static void on_http(sio_http_req *r, void *ud) {
  fx *f = ud;
  size_t plen, blen;
  const char *path = sio_http_req_path(r, &plen);
  char q[32], body[256];
  f->http_calls++;
  if (plen == 5 && memcmp(path, "/echo", 5) == 0) {
    const uint8_t *b = sio_http_req_body(r, &blen);
    int n = sio_http_req_query(r, "q", q, sizeof(q));
    snprintf(body, sizeof(body), "%s %d %s %.*s %s", sio_http_req_method(r),
             n, n >= 0 ? q : "-", (int)blen, (const char *)b,
             sio_http_req_header(r, "x-test") ? sio_http_req_header(r, "x-test")
                                              : "-");
    ck_assert_int_eq(sio_http_req_respond(r, 200, "text/plain", body,
                                          strlen(body), "X-Extra: 1\r\n"),
                     0);
    /* a second answer is refused */
    ck_assert_int_eq(sio_http_req_respond(r, 200, NULL, "", 0, NULL),
                     SIO_ERR_STATE);
  }
  /* other paths are left unanswered: 404 */
}

static int on_handshake(const sio_http_req *r, const char **msg, void *ud) {
  fx *f = ud;
  ck_assert_str_eq(sio_http_req_remote_addr(r), "127.0.0.1");
  if (f->refuse)
    *msg = "Too many handshakes";
  return f->refuse;
}

static void closed(sio_server *s, void *ud) {
  (void)s;
  ((fx *)ud)->closed = 1;
}
static void done(void *ud) {
  fx *f = ud;
  sio_server_stats(f->srv, &f->stats);
  sio_server_close(f->srv, closed, f);
}
static void thread_fn(void *ud) {
  fx *f = ud;
  f->scenario(f);
}

static void run(fx *f, void (*scenario)(fx *f)) {
  sio_options *o;
  f->scenario = scenario;
  ck_assert_int_eq(uv_loop_init(&f->loop), 0);
  ck_assert_int_eq(sio_options_new(&o), 0);
  ck_assert_int_eq(sio_server_new(&f->srv, &f->loop, o), 0);
  sio_options_del(o);
  sio_server_set_http_handler(f->srv, on_http, f);
  sio_server_set_handshake_filter(f->srv, on_handshake, f);
  ck_assert_int_eq(sio_server_listen(f->srv, "127.0.0.1:0"), 0);
  f->port = sio_server_port(f->srv, 0);
  rc_run(&f->loop, thread_fn, done, f);
  ck_assert_int_eq(f->closed, 1);
  ck_assert_int_eq(uv_loop_close(&f->loop), 0);
}

static void sc_http(fx *f) {
  rc_response r;
  char v[64];
  int fd = rc_connect(f->port);
  ck_assert_int_eq(rc_request(fd, "POST", "/echo?q=a%20b", "X-Test: yes\r\n",
                              "payload", 7, &r),
                   200);
  ck_assert_str_eq(r.body, "POST 3 a b payload yes");
  ck_assert_str_eq(rc_header(&r, "x-extra", v, sizeof(v)), "1");
  ck_assert_str_eq(rc_header(&r, "content-type", v, sizeof(v)), "text/plain");
  ck_assert_int_eq(rc_request(fd, "GET", "/echo", NULL, NULL, 0, &r), 200);
  ck_assert_str_eq(r.body, "GET -7 -  -");
  ck_assert_int_eq(rc_request(fd, "GET", "/nothing", NULL, NULL, 0, &r), 404);
  rc_close(fd);
  /* the Socket.IO path is not handed to the HTTP handler */
  ck_assert_int_eq(
      rc_fetch(f->port, "GET", "/socket.io/?EIO=4&transport=polling", NULL, &r),
      200);
}

START_TEST(http_handler) {
  fx f;
  memset(&f, 0, sizeof(f));
  run(&f, sc_http);
  ck_assert_int_eq(f.http_calls, 3);
  ck_assert_uint_eq(f.stats.handshakes, 1);
  ck_assert_uint_eq(f.stats.polling, 1);
  ck_assert_uint_gt(f.stats.bytes_in, 0);
  ck_assert_uint_gt(f.stats.bytes_out, 0);
}
END_TEST

static void sc_refused(fx *f) {
  rc_response r;
  ck_assert_int_eq(
      rc_fetch(f->port, "GET", "/socket.io/?EIO=4&transport=polling", NULL, &r),
      429);
  ck_assert_str_eq(r.body, "{\"code\":4,\"message\":\"Too many handshakes\"}");
  ck_assert_int_eq(rc_ws_open(f->port, "/socket.io/?EIO=4&transport=websocket"),
                   -1);
}

START_TEST(handshake_filter_refuses) {
  fx f;
  memset(&f, 0, sizeof(f));
  f.refuse = 429;
  run(&f, sc_refused);
  ck_assert_uint_eq(f.stats.handshakes, 0);
}
END_TEST

/* stop_listening: the open connection keeps working, new ones fail. */
static uv_async_t stop_async;
static void stop_cb(uv_async_t *a) {
  fx *f = a->data;
  sio_server_stop_listening(f->srv);
  uv_close((uv_handle_t *)a, NULL);
}

static void sc_stop(fx *f) {
  rc_response r;
  int fd = rc_connect(f->port);
  ck_assert_int_ge(fd, 0);
  /* accepted for sure once it has been answered */
  ck_assert_int_eq(rc_request(fd, "GET", "/echo", NULL, NULL, 0, &r), 200);
  uv_async_send(&stop_async);
  usleep(100000);
  ck_assert_int_eq(rc_connect(f->port), -1);
  ck_assert_int_eq(rc_request(fd, "GET", "/echo", NULL, NULL, 0, &r), 200);
  rc_close(fd);
}

START_TEST(stop_listening_drains) {
  fx f;
  memset(&f, 0, sizeof(f));
  f.scenario = sc_stop;
  ck_assert_int_eq(uv_loop_init(&f.loop), 0);
  ck_assert_int_eq(sio_server_new(&f.srv, &f.loop, NULL), 0);
  sio_server_set_http_handler(f.srv, on_http, &f);
  ck_assert_int_eq(sio_server_listen(f.srv, "127.0.0.1:0"), 0);
  f.port = sio_server_port(f.srv, 0);
  uv_async_init(&f.loop, &stop_async, stop_cb);
  stop_async.data = &f;
  rc_run(&f.loop, thread_fn, done, &f);
  ck_assert_int_eq(f.closed, 1);
  ck_assert_int_eq(uv_loop_close(&f.loop), 0);
}
END_TEST

Suite *sio_server_http_suite(void) {
  Suite *s = suite_create("sio_server_http");
  TCase *tc = tcase_create("loopback");
  tcase_set_timeout(tc, 20);
  tcase_add_test(tc, http_handler);
  tcase_add_test(tc, handshake_filter_refuses);
  tcase_add_test(tc, stop_listening_drains);
  suite_add_tcase(s, tc);
  return s;
}
