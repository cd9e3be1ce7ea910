#include <check.h>
#include <string.h>

#include "check_suites.h"
#include "failmalloc.h"
#include "sio_buf.h"
#include "sio_rcbuf.h"
#include "sio_int.h"

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

Suite *sio_buf_suite(void) {
  Suite *s = suite_create("sio_buf");
  TCase *tc = tcase_create("core");
  tcase_add_test(tc, append_grows_and_terminates);
  tcase_add_test(tc, appendf_long);
  tcase_add_test(tc, failmalloc_buf);
  tcase_add_test(tc, rcbuf_refcount);
  suite_add_tcase(s, tc);
  return s;
}
