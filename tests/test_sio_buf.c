#include <check.h>
#include <string.h>
#include <uv.h>

#include "check_suites.h"
#include "failmalloc.h"
#include "sio_buf.h"
#include "sio_rcbuf.h"
#include "sio_int.h"
#include "sio_mem.h"

START_TEST(append_grows_and_terminates) {
  sio_buf b;
  int i;
  sio_buf_init(&b);
  for (i = 0; i < 1000; i++)
    ck_assert_int_eq(sio_buf_append_str(&b, "ab"), 0);
  ck_assert_uint_eq(b.len, 2000);
  ck_assert_int_eq(b.data[2000], 0);
  ck_assert_int_eq(sio_buf_append_u64(&b, 18446744073709551615ULL), 0);
  ck_assert_str_eq(b.data + 2000, "18446744073709551615");
  sio_buf_consume(&b, 1998);
  ck_assert_str_eq(b.data, "ab18446744073709551615");
  sio_buf_reset(&b);
  ck_assert_uint_eq(b.len, 0);
  ck_assert_int_eq(sio_buf_appendf(&b, "%d-%s", 42, "x"), 0);
  ck_assert_str_eq(b.data, "42-x");
  sio_buf_deinit(&b);
}
END_TEST

START_TEST(appendf_long) {
  sio_buf b;
  char big[1000];
  memset(big, 'z', sizeof(big) - 1);
  big[sizeof(big) - 1] = 0;
  sio_buf_init(&b);
  ck_assert_int_eq(sio_buf_appendf(&b, "<%s>", big), 0);
  ck_assert_uint_eq(b.len, 1001);
  ck_assert_int_eq(b.data[1000], '>');
  sio_buf_deinit(&b);
}
END_TEST

static int buf_work(void *ud) {
  sio_buf b;
  int rv;
  (void)ud;
  sio_buf_init(&b);
  rv = sio_buf_append(&b, "hello", 5);
  if (!rv)
    rv = sio_buf_appendf(&b, "%0300d", 1);
  sio_buf_deinit(&b);
  return rv;
}

START_TEST(failmalloc_buf) {
  ck_assert_int_ge(failmalloc_run(buf_work, NULL), 1);
}
END_TEST

START_TEST(rcbuf_refcount) {
  sio_rcbuf *b = sio_rcbuf_new_copy("xyz", 3);
  ck_assert_ptr_nonnull(b);
  ck_assert_uint_eq(b->refcnt, 1);
  ck_assert_ptr_eq(sio_rcbuf_ref(b), b);
  ck_assert_uint_eq(b->refcnt, 2);
  sio_rcbuf_unref(b);
  ck_assert_mem_eq(b->data, "xyz", 4);
  sio_rcbuf_unref(b);
  sio_rcbuf_unref(NULL);
}
END_TEST

/* A buffer shared by four threads, each receiving it in transit, making
 * 100000 references of its own and dropping them, then the one it
 * received; the last thread to finish
 * frees it (ASan sees a leak or a double free; ThreadSanitizer a race on
 * the counts). The sharer's own reference keeps the bytes readable to the
 * end. */
#define SHARE_THREADS 4
typedef struct share_arg {
  sio_rcbuf *b;
  unsigned slot;
  int ok;
} share_arg;

static void share_worker(void *ud) {
  share_arg *a = ud;
  sio_rcbuf *held[1000];
  int i, round;
  sio_rcbuf_thread_slot(a->slot);
  sio_rcbuf_transit_arrive(a->b); /* the letter's reference */
  a->ok = 1;
  for (round = 0; round < 100; round++) {
    for (i = 0; i < 1000; i++)
      held[i] = sio_rcbuf_ref(a->b);
    for (i = 0; i < 1000; i++) {
      if (held[i]->len != 5 || memcmp(held[i]->data, "hello", 5) != 0)
        a->ok = 0;
      sio_rcbuf_unref(held[i]);
    }
  }
  sio_rcbuf_unref(a->b); /* the one that arrived */
}

START_TEST(rcbuf_shared_across_threads) {
  sio_rcbuf *b = sio_rcbuf_new_copy("hello", 5);
  uv_thread_t t[SHARE_THREADS];
  share_arg a[SHARE_THREADS];
  unsigned i;
  sio_rcbuf_thread_slot(0);
  ck_assert_int_eq(sio_rcbuf_share(b, SHARE_THREADS + 1), 0);
  ck_assert(b->flags & SIO_RCBUF_SHARED);
  for (i = 0; i < SHARE_THREADS; i++) {
    a[i].b = sio_rcbuf_transit_ref(b);
    a[i].slot = i + 1;
    ck_assert_int_eq(uv_thread_create(&t[i], share_worker, &a[i]), 0);
  }
  for (i = 0; i < SHARE_THREADS; i++) {
    uv_thread_join(&t[i]);
    ck_assert(a[i].ok);
  }
  ck_assert_int_eq(memcmp(b->data, "hello", 5), 0);
  sio_rcbuf_ref(b);
  sio_rcbuf_unref(b);
  sio_rcbuf_unref(b); /* the last reference: freed */
}
END_TEST

/* Transit references that never arrive are dropped by anyone, the last
 * holder frees; a slot that stopped holding starts again from a holder
 * that keeps the buffer alive (ASan sees a leak or a use after free). */
START_TEST(rcbuf_transit_and_rejoin) {
  sio_rcbuf *b = sio_rcbuf_new_copy("abc", 3), *t1, *t2;
  sio_rcbuf_thread_slot(0);
  ck_assert_int_eq(sio_rcbuf_share(b, 3), 0);
  t1 = sio_rcbuf_transit_ref(b);
  t2 = sio_rcbuf_transit_ref(b);
  sio_rcbuf_unref(b);       /* slot 0 lets go: the transits keep it */
  sio_rcbuf_transit_drop(t1); /* never delivered */
  sio_rcbuf_thread_slot(1);
  sio_rcbuf_ref(t2);        /* slot 1 from a live holder */
  sio_rcbuf_transit_drop(t2);
  ck_assert_int_eq(memcmp(b->data, "abc", 3), 0);
  sio_rcbuf_transit_arrive(sio_rcbuf_transit_ref(b)); /* a second one */
  sio_rcbuf_unref(b);
  sio_rcbuf_unref(b); /* the last holder: freed */
  sio_rcbuf_thread_slot(0);
  sio_rcbuf_transit_drop(NULL);
}
END_TEST

START_TEST(rcbuf_share_refusals) {
  sio_rcbuf *b = sio_rcbuf_new_copy("x", 1);
  sio_rcbuf_thread_slot(0);
  ck_assert_int_eq(sio_rcbuf_share(b, 0), SIO_ERR_INVAL);
  sio_rcbuf_ref(b);
  ck_assert_int_eq(sio_rcbuf_share(b, 2), SIO_ERR_INVAL); /* two holders */
  sio_rcbuf_unref(b);
  sio_rcbuf_thread_slot(3);
  ck_assert_int_eq(sio_rcbuf_share(b, 2), SIO_ERR_INVAL); /* not a sharer */
  sio_rcbuf_thread_slot(0);
  sio_mem_fail_after(0);
  ck_assert_int_eq(sio_rcbuf_share(b, 2), SIO_ERR_NOMEM);
  sio_mem_fail_after(-1);
  ck_assert(!(b->flags & SIO_RCBUF_SHARED)); /* unchanged */
  ck_assert_int_eq(sio_rcbuf_share(b, 1), 0);
  ck_assert_int_eq(sio_rcbuf_share(b, 1), SIO_ERR_INVAL); /* already */
  sio_rcbuf_unref(b);
}
END_TEST

Suite *sio_buf_suite(void) {
  Suite *s = suite_create("sio_buf");
  TCase *tc = tcase_create("core");
  tcase_add_test(tc, append_grows_and_terminates);
  tcase_add_test(tc, appendf_long);
  tcase_add_test(tc, failmalloc_buf);
  tcase_add_test(tc, rcbuf_refcount);
  tcase_add_test(tc, rcbuf_shared_across_threads);
  tcase_add_test(tc, rcbuf_transit_and_rejoin);
  tcase_add_test(tc, rcbuf_share_refusals);
  suite_add_tcase(s, tc);
  return s;
}
