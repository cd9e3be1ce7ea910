/* Public API beside Socket.IO: the plain-HTTP handler, deferred answers,
 * the handshake filter, stats and stop_listening, over loopback
 * (helpers/rawclient). */
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
  sio_http_req *later; /* a deferred request, answered by the timer */
  uv_timer_t timer;
  int late_rv;         /* what its answer returned */
  int late_answered;
  sio_http_req *held;  /* a deferred request nobody answers before close */
  int held_rv;
} fx;

static void answer_later(uv_timer_t *t) {
  fx *f = t->data;
  f->late_rv = sio_http_req_respond(f->later, 200, "text/plain", "later", 5,
                                    NULL);
  f->later = NULL;
  f->late_answered = 1;
}

/* /later and /never answer from a timer (the client of /never is gone by
 * then), /now defers and answers inside the callback, /held until the
 * server has closed. */
static int deferred_path(fx *f, sio_http_req *r, const char *path,
                         size_t plen) {
  sio_http_req *d;
  size_t n;
  if (!(plen == 6 && memcmp(path, "/later", 6) == 0) &&
      !(plen == 6 && memcmp(path, "/never", 6) == 0) &&
      !(plen == 4 && memcmp(path, "/now", 4) == 0) &&
      !(plen == 5 && memcmp(path, "/held", 5) == 0))
    return 0;
  d = sio_http_req_defer(r);
  ck_assert_ptr_nonnull(d);
  /* r is spent: no answer, no second defer, nothing to read */
  ck_assert_ptr_null(sio_http_req_defer(r));
  ck_assert_int_eq(sio_http_req_respond(r, 200, NULL, "", 0, NULL),
                   SIO_ERR_STATE);
  ck_assert_str_eq(sio_http_req_path(r, &n), "");
  ck_assert_ptr_null(sio_http_req_header(r, "host"));
  ck_assert_ptr_null(sio_http_req_defer(d));
  ck_assert_str_eq(sio_http_req_method(d), "GET");
  if (plen == 4) {
    ck_assert_int_eq(sio_http_req_respond(d, 200, "text/plain", "now", 3,
                                          NULL),
                     0);
  } else if (plen == 5) {
    f->held = d;
  } else {
    f->later = d;
    uv_timer_init(&f->loop, &f->timer);
    f->timer.data = f;
    uv_timer_start(&f->timer, answer_later, path[1] == 'n' ? 300 : 50, 0);
  }
  return 1;
}

static void on_http(sio_http_req *r, void *ud) {
  fx *f = ud;
  size_t plen, blen;
  const char *path = sio_http_req_path(r, &plen);
  char q[32], body[256];
  f->http_calls++;
  if (deferred_path(f, r, path, plen))
    return;
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
  /* a handshake is answered by the engine: never deferred */
  ck_assert_ptr_null(sio_http_req_defer((sio_http_req *)r));
  if (f->refuse)
    *msg = "Too many handshakes";
  return f->refuse;
}

static void closed(sio_server *s, void *ud) {
  fx *f = ud;
  (void)s;
  f->closed = 1;
  /* its connection went with the server: answered into the void, freed */
  if (f->held)
    f->held_rv = sio_http_req_respond(f->held, 200, NULL, "", 0, NULL);
}
static void done(void *ud) {
  fx *f = ud;
  sio_server_stats(f->srv, &f->stats);
  if (f->timer.data)
    uv_close((uv_handle_t *)&f->timer, NULL);
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

/* A deferred answer keeps the requests pipelined behind it waiting, in
 * order; one given inside the callback lets them on at once. */
static void sc_defer_order(fx *f) {
  static const char two[] = "GET /later HTTP/1.1\r\nHost: x\r\n\r\n"
                            "GET /echo HTTP/1.1\r\nHost: x\r\n\r\n";
  rc_response r;
  int fd = rc_connect(f->port);
  ck_assert_int_eq(rc_send(fd, two, sizeof(two) - 1), 0);
  ck_assert_int_eq(rc_read_response(fd, &r), 200);
  ck_assert_str_eq(r.body, "later");
  ck_assert_int_eq(rc_read_response(fd, &r), 200);
  ck_assert_str_eq(r.body, "GET -7 -  -");
  ck_assert_int_eq(rc_request(fd, "GET", "/now", NULL, NULL, 0, &r), 200);
  ck_assert_str_eq(r.body, "now");
  ck_assert_int_eq(rc_request(fd, "GET", "/echo", NULL, NULL, 0, &r), 200);
  /* the connection reads on after a late answer too */
  ck_assert_int_eq(rc_request(fd, "GET", "/nothing", NULL, NULL, 0, &r), 404);
  rc_close(fd);
}

START_TEST(deferred_answer_in_order) {
  fx f;
  memset(&f, 0, sizeof(f));
  run(&f, sc_defer_order);
  ck_assert_int_eq(f.late_answered, 1);
  ck_assert_int_eq(f.late_rv, 0);
  ck_assert_int_eq(f.http_calls, 5);
}
END_TEST

/* The client leaves before the answer: SIO_ERR_CLOSED, nothing sent, the
 * request freed (ASan would tell). */
static void sc_defer_client_gone(fx *f) {
  static const char one[] = "GET /never HTTP/1.1\r\nHost: x\r\n\r\n";
  int fd = rc_connect(f->port);
  ck_assert_int_eq(rc_send(fd, one, sizeof(one) - 1), 0);
  usleep(50000);
  rc_close(fd);
  usleep(500000); /* past the 300 ms answer */
}

START_TEST(deferred_client_gone) {
  fx f;
  memset(&f, 0, sizeof(f));
  run(&f, sc_defer_client_gone);
  ck_assert_int_eq(f.late_answered, 1);
  ck_assert_int_eq(f.late_rv, SIO_ERR_CLOSED);
}
END_TEST

/* The server closes while a request is deferred: the connection closes
 * (the client sees EOF, no answer) and the late answer is SIO_ERR_CLOSED. */
static void sc_defer_server_close(fx *f) {
  static const char one[] = "GET /held HTTP/1.1\r\nHost: x\r\n\r\n";
  int fd = rc_connect(f->port);
  ck_assert_int_eq(rc_send(fd, one, sizeof(one) - 1), 0);
  usleep(100000);
  f->port = fd; /* read back after the close, in the test */
}

START_TEST(deferred_server_close) {
  fx f;
  char buf[64];
  memset(&f, 0, sizeof(f));
  run(&f, sc_defer_server_close);
  ck_assert_int_eq(f.held_rv, SIO_ERR_CLOSED);
  ck_assert_int_eq(read(f.port, buf, sizeof(buf)), 0); /* EOF, no bytes */
  rc_close(f.port);
}
END_TEST

Suite *sio_server_http_suite(void) {
  Suite *s = suite_create("sio_server_http");
  TCase *tc = tcase_create("loopback");
  tcase_set_timeout(tc, 20);
  tcase_add_test(tc, http_handler);
  tcase_add_test(tc, handshake_filter_refuses);
  tcase_add_test(tc, stop_listening_drains);
  tcase_add_test(tc, deferred_answer_in_order);
  tcase_add_test(tc, deferred_client_gone);
  tcase_add_test(tc, deferred_server_close);
  suite_add_tcase(s, tc);
  return s;
}
