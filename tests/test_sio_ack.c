/* test_sio_ack.c: ack id allocation and the pending table: every callback
 * fires exactly once (answer, timeout or cancel) or never (discard), and
 * every loop test ends with uv_loop_close() == 0. */
#include <check.h>
#include <stdlib.h>
#include <string.h>
#include <uv.h>

#include "check_suites.h"
#include "failmalloc.h"
#include "sio_ack.h"
#include "sio_mem.h"

#define OWNER ((sio_socket *)(uintptr_t)0x1234)

typedef struct rec {
  int calls;
  int status;
  int order;
  sio_socket *owner;
  int nargs;
  size_t nbins;
} rec;

static int seq;

static void record(sio_socket *s, int status, json_object *args,
                   const sio_bin *bins, size_t nbins, void *ud) {
  rec *r = ud;
  r->calls++;
  r->status = status;
  r->owner = s;
  r->order = seq++;
  r->nargs = args ? (int)json_object_array_length(args) : -1;
  r->nbins = nbins;
  (void)bins;
}

static void close_loop(uv_loop_t *loop) {
  uv_run(loop, UV_RUN_DEFAULT);
  ck_assert_int_eq(uv_loop_close(loop), 0);
}

START_TEST(ids_count_up_and_wrap) {
  int64_t c = 0;
  ck_assert_int_eq(sio_ack_next_id(&c), 0);
  ck_assert_int_eq(sio_ack_next_id(&c), 1);
  ck_assert_int_eq(sio_ack_next_id(&c), 2);
  ck_assert_int_eq(c, 3);
  c = SIO_ACK_ID_LIMIT - 1;
  ck_assert_int_eq(sio_ack_next_id(&c), SIO_ACK_ID_LIMIT - 1);
  ck_assert_int_eq(sio_ack_next_id(&c), 0);
  c = -5;
  ck_assert_int_eq(sio_ack_next_id(&c), 0);
  ck_assert_int_eq(sio_ack_next_id(&c), 1);
}
END_TEST

START_TEST(resolve_fires_once) {
  sio_ack_table t;
  rec a = {0}, b = {0};
  json_object *args = json_tokener_parse("[1,\"x\"]");
  sio_bin bins[1] = {{(const uint8_t *)"\1\2", 2}};
  sio_ack_table_init(&t);
  ck_assert_int_eq(sio_ack_table_add(&t, NULL, 7, 0, OWNER, record, &a), 0);
  ck_assert_int_eq(sio_ack_table_add(&t, NULL, 8, 0, OWNER, record, &b), 0);
  ck_assert_uint_eq(sio_ack_table_count(&t), 2);
  ck_assert_int_eq(sio_ack_table_add(&t, NULL, 7, 0, OWNER, record, &a),
                   SIO_ERR_EXISTS);
  ck_assert_int_eq(sio_ack_table_add(&t, NULL, 9, 0, OWNER, NULL, &a),
                   SIO_ERR_INVAL);
  ck_assert_int_eq(sio_ack_table_add(&t, NULL, 9, 10, OWNER, record, &a),
                   SIO_ERR_INVAL);
  ck_assert_int_eq(sio_ack_table_resolve(&t, 99, args, NULL, 0),
                   SIO_ERR_NOTFOUND);
  ck_assert_int_eq(sio_ack_table_resolve(&t, 8, args, bins, 1), 0);
  ck_assert_int_eq(b.calls, 1);
  ck_assert_int_eq(b.status, 0);
  ck_assert_int_eq(b.nargs, 2);
  ck_assert_uint_eq(b.nbins, 1);
  ck_assert_ptr_eq(b.owner, OWNER);
  ck_assert_int_eq(sio_ack_table_resolve(&t, 8, args, NULL, 0),
                   SIO_ERR_NOTFOUND);
  ck_assert_int_eq(b.calls, 1);
  ck_assert_int_eq(a.calls, 0);
  ck_assert_uint_eq(sio_ack_table_count(&t), 1);
  sio_ack_table_cancel_all(&t);
  ck_assert_int_eq(a.calls, 1);
  ck_assert_int_eq(a.status, SIO_ERR_CANCELED);
  ck_assert_int_eq(a.nargs, -1);
  ck_assert_uint_eq(sio_ack_table_count(&t), 0);
  sio_ack_table_cancel_all(&t); /* nothing left: no second call */
  ck_assert_int_eq(a.calls, 1);
  json_object_put(args);
}
END_TEST

START_TEST(timeout_fires_once_then_late_answer_ignored) {
  uv_loop_t loop;
  sio_ack_table t;
  rec a = {0}, b = {0};
  ck_assert_int_eq(uv_loop_init(&loop), 0);
  sio_ack_table_init(&t);
  ck_assert_int_eq(sio_ack_table_add(&t, &loop, 1, 5, OWNER, record, &a), 0);
  ck_assert_int_eq(sio_ack_table_add(&t, &loop, 2, 5000, OWNER, record, &b), 0);
  /* b is answered before its timer: the timer must never fire. */
  ck_assert_int_eq(sio_ack_table_resolve(&t, 2, NULL, NULL, 0), 0);
  uv_run(&loop, UV_RUN_DEFAULT); /* returns once a's timer fired */
  ck_assert_int_eq(a.calls, 1);
  ck_assert_int_eq(a.status, SIO_ERR_TIMEOUT);
  ck_assert_int_eq(b.calls, 1);
  ck_assert_int_eq(b.status, 0);
  ck_assert_int_eq(sio_ack_table_resolve(&t, 1, NULL, NULL, 0),
                   SIO_ERR_NOTFOUND);
  ck_assert_int_eq(a.calls, 1);
  ck_assert_uint_eq(sio_ack_table_count(&t), 0);
  close_loop(&loop);
}
END_TEST

START_TEST(cancel_all_in_order_and_discard_is_silent) {
  uv_loop_t loop;
  sio_ack_table t;
  rec r[4];
  int i;
  memset(r, 0, sizeof(r));
  seq = 0;
  ck_assert_int_eq(uv_loop_init(&loop), 0);
  sio_ack_table_init(&t);
  for (i = 0; i < 4; i++)
    ck_assert_int_eq(
        sio_ack_table_add(&t, &loop, i, i % 2 ? 1000 : 0, OWNER, record, &r[i]),
        0);
  ck_assert_int_eq(sio_ack_table_discard(&t, 2), 0);
  ck_assert_int_eq(sio_ack_table_discard(&t, 2), SIO_ERR_NOTFOUND);
  sio_ack_table_cancel_all(&t);
  ck_assert_int_eq(r[0].calls, 1);
  ck_assert_int_eq(r[1].calls, 1);
  ck_assert_int_eq(r[2].calls, 0);
  ck_assert_int_eq(r[3].calls, 1);
  ck_assert_int_eq(r[0].status, SIO_ERR_CANCELED);
  ck_assert_int_eq(r[3].status, SIO_ERR_CANCELED);
  ck_assert_int_lt(r[0].order, r[1].order);
  ck_assert_int_lt(r[1].order, r[3].order);
  close_loop(&loop); /* the timers were closed: nothing fires later */
  ck_assert_int_eq(r[1].calls, 1);
  ck_assert_int_eq(r[3].calls, 1);
}
END_TEST

/* A callback may free the structure that embeds the table (the socket's
 * last reference going away): the remaining entries still fire once. */
typedef struct holder {
  sio_ack_table t;
  int calls;
} holder;

static int freed_calls;

static void free_holder(sio_socket *s, int status, json_object *args,
                        const sio_bin *bins, size_t nbins, void *ud) {
  holder *h = ud;
  (void)s;
  (void)args;
  (void)bins;
  (void)nbins;
  ck_assert_int_eq(status, SIO_ERR_CANCELED);
  freed_calls++;
  if (h) {
    memset(h, 0xa5, sizeof(*h));
    free(h);
  }
}

START_TEST(cancel_survives_owner_freed_in_callback) {
  uv_loop_t loop;
  holder *h = malloc(sizeof(*h));
  ck_assert_int_eq(uv_loop_init(&loop), 0);
  sio_ack_table_init(&h->t);
  freed_calls = 0;
  ck_assert_int_eq(
      sio_ack_table_add(&h->t, &loop, 1, 100, OWNER, free_holder, h), 0);
  ck_assert_int_eq(
      sio_ack_table_add(&h->t, &loop, 2, 100, OWNER, free_holder, NULL), 0);
  ck_assert_int_eq(
      sio_ack_table_add(&h->t, NULL, 3, 0, OWNER, free_holder, NULL), 0);
  sio_ack_table_cancel_all(&h->t);
  ck_assert_int_eq(freed_calls, 3);
  close_loop(&loop);
}
END_TEST

typedef struct fm_ctx {
  uv_loop_t loop;
  rec r;
} fm_ctx;

static int fm_add(void *ud) {
  fm_ctx *c = ud;
  sio_ack_table t;
  int rv;
  memset(&c->r, 0, sizeof(c->r));
  sio_ack_table_init(&t);
  rv = sio_ack_table_add(&t, &c->loop, 1, 50, OWNER, record, &c->r);
  if (rv == 0)
    rv = sio_ack_table_add(&t, NULL, 2, 0, OWNER, record, &c->r);
  sio_ack_table_cancel_all(&t);
  uv_run(&c->loop, UV_RUN_DEFAULT);
  /* Registered callbacks fired once each; a failed add fired nothing. */
  ck_assert_int_eq(c->r.calls, rv == 0 ? 2 : (c->r.calls ? 1 : 0));
  return rv;
}

START_TEST(add_survives_allocation_failures) {
  fm_ctx c;
  ck_assert_int_eq(uv_loop_init(&c.loop), 0);
  ck_assert_int_eq(failmalloc_run(fm_add, &c), 2);
  close_loop(&c.loop);
}
END_TEST

Suite *sio_ack_suite(void) {
  Suite *s = suite_create("sio_ack");
  TCase *tc = tcase_create("core");
  tcase_add_test(tc, ids_count_up_and_wrap);
  tcase_add_test(tc, resolve_fires_once);
  tcase_add_test(tc, timeout_fires_once_then_late_answer_ignored);
  tcase_add_test(tc, cancel_all_in_order_and_discard_is_silent);
  tcase_add_test(tc, cancel_survives_owner_freed_in_callback);
  tcase_add_test(tc, add_survives_allocation_failures);
  suite_add_tcase(s, tc);
  return s;
}
