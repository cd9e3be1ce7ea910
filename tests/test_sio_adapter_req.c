/* test_sio_adapter_req.c: a cluster adapter's requests
 * (sio_adapter_req.c) driven directly, with a fake count and publish in
 * place of Redis: what the public callbacks receive and when, what is
 * published, and that every request is freed (the loop ends with no
 * handle left). */
#include <check.h>
#include <stdio.h>
#include <string.h>

#include "check_suites.h"
#include "failmalloc.h"
#include "sio/sio_errno.h"
#include "sio_adapter_req.h"
#include "sio_json.h"

#define ID_LEN 4
#define TIMEOUT_MS 30

typedef struct fix {
  uv_loop_t loop;
  sio_adapter_req_table t;
  int ctx;
  /* the fake protocol */
  int count_rv;   /* what count returns */
  int publish_rv; /* what publish returns */
  int counts;     /* count calls */
  sio_pubsub_count_cb count_cb;
  void *count_ud;
  void *count_ctx;
  int published;
  char last[64];
  int ids;      /* ids handed out */
  int same_ids; /* the first same_ids ids are all "same" */
  int id_rv;
  /* what the callbacks saw */
  int fired;
  int status;
  size_t n;
  char first[64];
  size_t nclients;
  int acks;
  int closed;
} fix;

static fix *cur;

static int f_count(void *ud, void *ctx, sio_pubsub_count_cb cb, void *cb_ud) {
  fix *f = ud;
  f->counts++;
  if (f->count_rv)
    return f->count_rv;
  f->count_cb = cb;
  f->count_ud = cb_ud;
  f->count_ctx = ctx;
  return 0;
}

static int f_publish(void *ud, void *ctx, const sio_buf *msg) {
  fix *f = ud;
  ck_assert_ptr_eq(ctx, &f->ctx);
  if (f->publish_rv)
    return f->publish_rv;
  f->published++;
  snprintf(f->last, sizeof(f->last), "%.*s", (int)msg->len, msg->data);
  return 0;
}

static int f_new_id(char *out) {
  fix *f = cur;
  if (f->id_rv)
    return f->id_rv;
  if (f->ids++ < f->same_ids)
    memcpy(out, "same", ID_LEN + 1);
  else
    snprintf(out, ID_LEN + 1, "i%03u", (unsigned)f->ids % 1000u);
  return 0;
}

static const sio_adapter_req_ops f_ops = {f_count, f_publish, f_new_id};

static void fix_init(fix *f) {
  memset(f, 0, sizeof(*f));
  cur = f;
  ck_assert_int_eq(uv_loop_init(&f->loop), 0);
  sio_adapter_req_table_init(&f->t, &f->loop, &f_ops, f, ID_LEN, TIMEOUT_MS);
}

static void on_closed(void *arg) { ((fix *)arg)->closed++; }

/* Closes the table and the loop: every request must be gone. */
static void fix_done(fix *f) {
  sio_adapter_req_table_close(&f->t, on_closed, f);
  uv_run(&f->loop, UV_RUN_DEFAULT);
  ck_assert_int_eq(f->closed, 1);
  ck_assert_int_eq(uv_loop_close(&f->loop), 0);
}

/* the namespace is only handed back to the callbacks */
#define NS ((sio_namespace *)&cur->ctx)

static void on_fetch(sio_namespace *ns, int status,
                     const sio_socket_info *infos, size_t n, void *ud) {
  fix *f = ud;
  ck_assert_ptr_eq(ns, NS);
  f->fired++;
  f->status = status;
  f->n = n;
  if (n)
    snprintf(f->first, sizeof(f->first), "%s/%zu", infos[0].id,
             infos[0].nrooms);
}

static void on_rooms(sio_namespace *ns, int status, const char *const *rooms,
                     size_t n, void *ud) {
  fix *f = ud;
  (void)ns;
  f->fired++;
  f->status = status;
  f->n = n;
  if (n)
    snprintf(f->first, sizeof(f->first), "%s", rooms[n - 1]);
}

static void on_count(sio_namespace *ns, int status, size_t count, void *ud) {
  fix *f = ud;
  (void)ns;
  f->fired++;
  f->status = status;
  f->n = count;
}

static void on_sse(sio_namespace *ns, int status, json_object *answers,
                   void *ud) {
  fix *f = ud;
  (void)ns;
  f->fired++;
  f->status = status;
  f->n = json_object_array_length(answers);
  if (f->n)
    snprintf(f->first, sizeof(f->first), "%s",
             json_object_to_json_string(answers));
}

static void sink_count(void *ud, size_t n) { ((fix *)ud)->nclients += n; }

static void sink_response(void *ud, json_object *arg, const sio_bin *bins,
                          size_t nbins) {
  fix *f = ud;
  (void)bins;
  ck_assert_int_eq(nbins, 0);
  f->acks++;
  snprintf(f->first, sizeof(f->first), "%s", json_object_get_string(arg));
}

static void sink_done(void *ud) { ((fix *)ud)->fired++; }

static const sio_adapter_ack_sink f_sink = {sink_count, sink_response,
                                            sink_done};

static sio_adapter_req *new_fetch(fix *f) {
  sio_adapter_req *q =
      sio_adapter_req_new(&f->t, SIO_ADAPTER_REQ_FETCH, NS, &f->ctx,
                          (sio_adapter_req_cb){.fetch = on_fetch}, f);
  ck_assert_ptr_nonnull(q);
  return q;
}

static int encode(sio_adapter_req *q, const char *what) {
  return sio_buf_appendf(sio_adapter_req_msg(q), "%s:%s", what,
                         sio_adapter_req_id(q));
}

static json_object *parse(const char *s) {
  json_object *v = json_tokener_parse(s);
  ck_assert_ptr_nonnull(v);
  return v;
}

static void answer(sio_adapter_req *q, const char *json) {
  json_object *v = parse(json);
  sio_adapter_req_answer(q, v);
  json_object_put(v);
}

/* ------------------------------------------------------- unhappy paths */

START_TEST(test_count_fails_at_once_nothing_fires) {
  fix f;
  sio_adapter_req *q;
  fix_init(&f);
  f.count_rv = SIO_ERR_CLOSED;
  q = new_fetch(&f);
  ck_assert_int_eq(sio_adapter_req_start(q, encode(q, "fetch")),
                   SIO_ERR_CLOSED);
  ck_assert_ptr_null(sio_adapter_req_find(&f.t, "i001"));
  fix_done(&f);
  ck_assert_int_eq(f.fired, 0);
  ck_assert_int_eq(f.published, 0);
}
END_TEST

START_TEST(test_encoding_error_nothing_fires) {
  fix f;
  sio_adapter_req *q;
  fix_init(&f);
  q = new_fetch(&f);
  ck_assert_int_eq(sio_adapter_req_start(q, SIO_ERR_NOMEM), SIO_ERR_NOMEM);
  ck_assert_int_eq(f.counts, 0);
  q = sio_adapter_req_new(&f.t, SIO_ADAPTER_REQ_BACK, NS, &f.ctx,
                          (sio_adapter_req_cb){.sink = &f_sink}, &f);
  ck_assert_int_eq(sio_adapter_req_send(q, SIO_ERR_LIMIT, 100), SIO_ERR_LIMIT);
  fix_done(&f);
  ck_assert_int_eq(f.fired, 0);
  ck_assert_int_eq(f.published, 0);
}
END_TEST

START_TEST(test_count_answer_fails_closed_or_canceled) {
  fix f;
  sio_adapter_req *q;
  fix_init(&f);
  q = new_fetch(&f);
  ck_assert_int_eq(sio_adapter_req_start(q, encode(q, "fetch")), 0);
  ck_assert_ptr_eq(f.count_ctx, &f.ctx);
  f.count_cb(f.count_ud, SIO_ERR_IO, 0);
  ck_assert_int_eq(f.fired, 1);
  ck_assert_int_eq(f.status, SIO_ERR_CLOSED);
  ck_assert_int_eq(f.n, 0);
  /* serverCount: the driver closing is reported as such */
  q = sio_adapter_req_new(&f.t, SIO_ADAPTER_REQ_COUNT, NS, &f.ctx,
                          (sio_adapter_req_cb){.count = on_count}, &f);
  ck_assert_str_eq(sio_adapter_req_id(q), "");
  ck_assert_int_eq(sio_adapter_req_start(q, 0), 0);
  f.count_cb(f.count_ud, SIO_ERR_CANCELED, 7);
  ck_assert_int_eq(f.fired, 2);
  ck_assert_int_eq(f.status, SIO_ERR_CANCELED);
  ck_assert_int_eq(f.n, 0);
  fix_done(&f);
  ck_assert_int_eq(f.published, 0);
}
END_TEST

START_TEST(test_publish_fails_after_count) {
  fix f;
  sio_adapter_req *q;
  fix_init(&f);
  f.publish_rv = SIO_ERR_CLOSED;
  q = new_fetch(&f);
  ck_assert_int_eq(sio_adapter_req_start(q, encode(q, "fetch")), 0);
  f.count_cb(f.count_ud, 0, 3);
  ck_assert_int_eq(f.fired, 1);
  ck_assert_int_eq(f.status, SIO_ERR_CLOSED);
  /* a broadcast with acks: the error is the call's, nothing fires */
  q = sio_adapter_req_new(&f.t, SIO_ADAPTER_REQ_BACK, NS, &f.ctx,
                          (sio_adapter_req_cb){.sink = &f_sink}, &f);
  ck_assert_int_eq(sio_adapter_req_send(q, encode(q, "back"), 100),
                   SIO_ERR_CLOSED);
  fix_done(&f);
  ck_assert_int_eq(f.fired, 1);
}
END_TEST

START_TEST(test_ids_collide_then_run_out) {
  fix f;
  sio_adapter_req *a, *b;
  fix_init(&f);
  f.same_ids = 9;
  a = new_fetch(&f); /* "same" */
  ck_assert_str_eq(sio_adapter_req_id(a), "same");
  /* eight more tries, every one "same": no id left */
  ck_assert_ptr_null(sio_adapter_req_new(&f.t, SIO_ADAPTER_REQ_SSE, NS, &f.ctx,
                                         (sio_adapter_req_cb){.sse = on_sse},
                                         &f));
  ck_assert_int_eq(f.ids, 9);
  f.same_ids = 10; /* one more collision, then a fresh id */
  b = new_fetch(&f);
  ck_assert_str_eq(sio_adapter_req_id(b), "i011");
  ck_assert_ptr_eq(sio_adapter_req_find(&f.t, "same"), a);
  ck_assert_ptr_eq(sio_adapter_req_find(&f.t, "i011"), b);
  ck_assert_ptr_null(sio_adapter_req_find(&f.t, NULL));
  f.id_rv = SIO_ERR_IO;
  ck_assert_ptr_null(
      sio_adapter_req_new(&f.t, SIO_ADAPTER_REQ_FETCH, NS, &f.ctx,
                          (sio_adapter_req_cb){.fetch = on_fetch}, &f));
  /* never started: close cancels them */
  fix_done(&f);
  ck_assert_int_eq(f.fired, 2);
  ck_assert_int_eq(f.status, SIO_ERR_CANCELED);
}
END_TEST

START_TEST(test_timeout_with_part_of_the_answers_then_late_answer) {
  fix f;
  sio_adapter_req *q;
  fix_init(&f);
  q = new_fetch(&f);
  ck_assert_int_eq(sio_adapter_req_start(q, encode(q, "fetch")), 0);
  f.count_cb(f.count_ud, 0, 3); /* two others */
  ck_assert_int_eq(f.published, 1);
  ck_assert_str_eq(f.last, "fetch:i001");
  answer(q, "[{\"id\":\"s1\",\"rooms\":[\"s1\",\"r\"]},{\"rooms\":[]}]");
  ck_assert_int_eq(f.fired, 0);
  uv_run(&f.loop, UV_RUN_DEFAULT);
  ck_assert_int_eq(f.fired, 1);
  ck_assert_int_eq(f.status, SIO_ERR_TIMEOUT);
  ck_assert_int_eq(f.n, 1); /* the object without an id is skipped */
  ck_assert_str_eq(f.first, "s1/2");
  /* the second server answers late: nobody waits for it */
  ck_assert_ptr_null(sio_adapter_req_find(&f.t, "i001"));
  fix_done(&f);
  ck_assert_int_eq(f.fired, 1);
}
END_TEST

START_TEST(test_close_cancels_every_pending_request) {
  fix f;
  sio_adapter_req *counting, *waiting, *back, *idle;
  sio_pubsub_count_cb cb;
  void *cb_ud;
  fix_init(&f);
  counting = new_fetch(&f);
  ck_assert_int_eq(sio_adapter_req_start(counting, encode(counting, "f")), 0);
  cb = f.count_cb;
  cb_ud = f.count_ud;
  waiting = sio_adapter_req_new(&f.t, SIO_ADAPTER_REQ_SSE, NS, &f.ctx,
                                (sio_adapter_req_cb){.sse = on_sse}, &f);
  ck_assert_int_eq(sio_adapter_req_start(waiting, encode(waiting, "e")), 0);
  f.count_cb(f.count_ud, 0, 2);
  back = sio_adapter_req_new(&f.t, SIO_ADAPTER_REQ_BACK, NS, &f.ctx,
                             (sio_adapter_req_cb){.sink = &f_sink}, &f);
  ck_assert_int_eq(sio_adapter_req_send(back, encode(back, "b"), 10000), 0);
  ck_assert_str_eq(f.last, "b:i003");
  idle = new_fetch(&f); /* never started */
  (void)idle;
  sio_adapter_req_table_close(&f.t, on_closed, &f);
  ck_assert_int_eq(f.fired, 4);
  ck_assert_int_eq(f.status, SIO_ERR_CANCELED);
  /* the driver cancels the count later: nothing fires twice, and the
   * table waits for it */
  uv_run(&f.loop, UV_RUN_NOWAIT);
  ck_assert_int_eq(f.closed, 0);
  cb(cb_ud, SIO_ERR_CANCELED, 0);
  uv_run(&f.loop, UV_RUN_DEFAULT);
  ck_assert_int_eq(f.fired, 4);
  ck_assert_int_eq(f.closed, 1);
  ck_assert_int_eq(uv_loop_close(&f.loop), 0);
}
END_TEST

START_TEST(test_close_with_nothing_pending_is_at_once) {
  fix f;
  fix_init(&f);
  sio_adapter_req_table_close(&f.t, on_closed, &f);
  ck_assert_int_eq(f.closed, 1);
  ck_assert_int_eq(uv_loop_close(&f.loop), 0);
}
END_TEST

/* --------------------------------------------------------- happy paths */

START_TEST(test_fetch_answers_before_the_timeout) {
  fix f;
  sio_adapter_req *q;
  fix_init(&f);
  q = new_fetch(&f);
  ck_assert_int_eq(sio_adapter_req_kind(q), SIO_ADAPTER_REQ_FETCH);
  ck_assert_int_eq(sio_adapter_req_start(q, encode(q, "fetch")), 0);
  ck_assert_int_eq(f.published, 0); /* counting first */
  f.count_cb(f.count_ud, 0, 3);
  ck_assert_str_eq(f.last, "fetch:i001");
  ck_assert_ptr_eq(sio_adapter_req_find(&f.t, "i001"), q);
  answer(q, "[{\"id\":\"a\"}]");
  ck_assert_int_eq(f.fired, 0);
  answer(q, "[{\"id\":\"b\",\"rooms\":[\"x\"]},{\"id\":\"c\"}]");
  ck_assert_int_eq(f.fired, 1);
  ck_assert_int_eq(f.status, 0);
  ck_assert_int_eq(f.n, 3);
  ck_assert_str_eq(f.first, "a/0");
  /* after done: a further answer changes nothing */
  sio_adapter_req_answer(q, NULL);
  ck_assert_ptr_null(sio_adapter_req_find(&f.t, "i001"));
  fix_done(&f);
  ck_assert_int_eq(f.fired, 1);
}
END_TEST

START_TEST(test_no_other_server_done_at_once_with_nothing) {
  fix f;
  sio_adapter_req *q;
  fix_init(&f);
  q = sio_adapter_req_new(&f.t, SIO_ADAPTER_REQ_ROOMS, NS, &f.ctx,
                          (sio_adapter_req_cb){.rooms = on_rooms}, &f);
  ck_assert_int_eq(sio_adapter_req_start(q, encode(q, "rooms")), 0);
  ck_assert_int_eq(f.fired, 0); /* never from inside the call */
  f.count_cb(f.count_ud, 0, 1);
  ck_assert_int_eq(f.fired, 1);
  ck_assert_int_eq(f.status, 0);
  ck_assert_int_eq(f.n, 0);
  ck_assert_int_eq(f.published, 0);
  fix_done(&f);
}
END_TEST

START_TEST(test_rooms_keep_only_names) {
  fix f;
  sio_adapter_req *q;
  fix_init(&f);
  q = sio_adapter_req_new(&f.t, SIO_ADAPTER_REQ_ROOMS, NS, &f.ctx,
                          (sio_adapter_req_cb){.rooms = on_rooms}, &f);
  ck_assert_int_eq(sio_adapter_req_start(q, encode(q, "rooms")), 0);
  f.count_cb(f.count_ud, 0, 2);
  answer(q, "[\"r1\",3,null,\"r2\"]");
  ck_assert_int_eq(f.fired, 1);
  ck_assert_int_eq(f.n, 2);
  ck_assert_str_eq(f.first, "r2");
  fix_done(&f);
}
END_TEST

START_TEST(test_server_count) {
  fix f;
  sio_adapter_req *q;
  fix_init(&f);
  q = sio_adapter_req_new(&f.t, SIO_ADAPTER_REQ_COUNT, NS, &f.ctx,
                          (sio_adapter_req_cb){.count = on_count}, &f);
  ck_assert_int_eq(sio_adapter_req_start(q, 0), 0);
  f.count_cb(f.count_ud, 0, 4);
  ck_assert_int_eq(f.fired, 1);
  ck_assert_int_eq(f.n, 4);
  /* nobody subscribed (not even us, yet): we still count */
  q = sio_adapter_req_new(&f.t, SIO_ADAPTER_REQ_COUNT, NS, &f.ctx,
                          (sio_adapter_req_cb){.count = on_count}, &f);
  ck_assert_int_eq(sio_adapter_req_start(q, 0), 0);
  f.count_cb(f.count_ud, 0, 0);
  ck_assert_int_eq(f.fired, 2);
  ck_assert_int_eq(f.status, 0);
  ck_assert_int_eq(f.n, 1);
  ck_assert_int_eq(f.published, 0);
  fix_done(&f);
}
END_TEST

START_TEST(test_sse_answers_are_stored_as_sent) {
  fix f;
  sio_adapter_req *q;
  fix_init(&f);
  q = sio_adapter_req_new(&f.t, SIO_ADAPTER_REQ_SSE, NS, &f.ctx,
                          (sio_adapter_req_cb){.sse = on_sse}, &f);
  ck_assert_int_eq(sio_adapter_req_start(q, encode(q, "sse")), 0);
  f.count_cb(f.count_ud, 0, 3);
  /* relays are a broadcast's only */
  sio_adapter_req_ack_count(q, 5);
  answer(q, "[1]");
  sio_adapter_req_answer(q, NULL);
  ck_assert_int_eq(f.fired, 1);
  ck_assert_int_eq(f.status, 0);
  ck_assert_str_eq(f.first, "[ [ 1 ], null ]");
  ck_assert_int_eq(f.nclients, 0);
  fix_done(&f);
}
END_TEST

START_TEST(test_broadcast_ack_relays_until_its_timeout) {
  fix f;
  sio_adapter_req *q;
  json_object *v = json_object_new_string("ok");
  fix_init(&f);
  q = sio_adapter_req_new(&f.t, SIO_ADAPTER_REQ_BACK, NS, &f.ctx,
                          (sio_adapter_req_cb){.sink = &f_sink}, &f);
  ck_assert_int_eq(sio_adapter_req_send(q, encode(q, "back"), 20), 0);
  ck_assert_int_eq(f.counts, 0); /* no count: published at once */
  ck_assert_str_eq(f.last, "back:i001");
  sio_adapter_req_ack_count(q, 2);
  sio_adapter_req_ack(q, v, NULL, 0);
  answer(q, "[{\"id\":\"x\"}]"); /* not a broadcast's: ignored */
  ck_assert_int_eq(f.nclients, 2);
  ck_assert_int_eq(f.acks, 1);
  ck_assert_str_eq(f.first, "ok");
  ck_assert_int_eq(f.fired, 0);
  uv_run(&f.loop, UV_RUN_DEFAULT);
  ck_assert_int_eq(f.fired, 1); /* done, after the timeout */
  ck_assert_ptr_null(sio_adapter_req_find(&f.t, "i001"));
  json_object_put(v);
  fix_done(&f);
  ck_assert_int_eq(f.fired, 1);
}
END_TEST

/* ------------------------------------------------- allocation failures */

/* A fetch from start to its callback, and a broadcast canceled at close:
 * with any allocation failing, an error from a call or a callback's
 * status, nothing leaked, the table closes. */
static int fm_requests(void *ud) {
  fix f;
  sio_adapter_req *q;
  int rv;
  (void)ud;
  fix_init(&f);
  f.status = 1;
  q = sio_adapter_req_new(&f.t, SIO_ADAPTER_REQ_FETCH, NS, &f.ctx,
                          (sio_adapter_req_cb){.fetch = on_fetch}, &f);
  rv = q ? sio_adapter_req_start(q, encode(q, "fetch")) : SIO_ERR_NOMEM;
  if (rv == 0) {
    f.count_cb(f.count_ud, 0, 2);
    if (f.fired == 0)
      answer(q, "[{\"id\":\"a\",\"rooms\":[\"a\",\"r\"]},{\"id\":\"b\"}]");
    ck_assert_int_eq(f.fired, 1);
    rv = f.status;
  }
  q = sio_adapter_req_new(&f.t, SIO_ADAPTER_REQ_BACK, NS, &f.ctx,
                          (sio_adapter_req_cb){.sink = &f_sink}, &f);
  if (q && sio_adapter_req_send(q, encode(q, "back"), 10000))
    rv = rv ? rv : SIO_ERR_NOMEM;
  if (!q)
    rv = rv ? rv : SIO_ERR_NOMEM;
  fix_done(&f);
  return rv;
}

START_TEST(test_failmalloc_requests) {
  ck_assert_int_gt(failmalloc_run(fm_requests, NULL), 0);
}
END_TEST

Suite *sio_adapter_req_suite(void) {
  Suite *s = suite_create("sio_adapter_req");
  TCase *tc = tcase_create("core");
  tcase_add_test(tc, test_count_fails_at_once_nothing_fires);
  tcase_add_test(tc, test_encoding_error_nothing_fires);
  tcase_add_test(tc, test_count_answer_fails_closed_or_canceled);
  tcase_add_test(tc, test_publish_fails_after_count);
  tcase_add_test(tc, test_ids_collide_then_run_out);
  tcase_add_test(tc, test_timeout_with_part_of_the_answers_then_late_answer);
  tcase_add_test(tc, test_close_cancels_every_pending_request);
  tcase_add_test(tc, test_close_with_nothing_pending_is_at_once);
  tcase_add_test(tc, test_fetch_answers_before_the_timeout);
  tcase_add_test(tc, test_no_other_server_done_at_once_with_nothing);
  tcase_add_test(tc, test_rooms_keep_only_names);
  tcase_add_test(tc, test_server_count);
  tcase_add_test(tc, test_sse_answers_are_stored_as_sent);
  tcase_add_test(tc, test_broadcast_ack_relays_until_its_timeout);
  tcase_add_test(tc, test_failmalloc_requests);
  suite_add_tcase(s, tc);
  return s;
}
