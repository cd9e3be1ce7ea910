#include <check.h>
#include <stdio.h>
#include <string.h>

#include "check_suites.h"
#include "sio_int.h"
#include "sio_map.h"

START_TEST(put_get_remove_many) {
  sio_map m;
  char k[32];
  int i;
  sio_map_init(&m);
  for (i = 0; i < 5000; i++) {
    snprintf(k, sizeof(k), "room:%d", i);
    ck_assert_int_eq(sio_map_put(&m, k, strlen(k), (void *)(intptr_t)(i + 1)), 0);
  }
  ck_assert_uint_eq(sio_map_count(&m), 5000);
  ck_assert_int_eq(sio_map_put(&m, "room:7", 6, NULL), SIO_ERR_EXISTS);
  for (i = 0; i < 5000; i += 2) {
    snprintf(k, sizeof(k), "room:%d", i);
    ck_assert_int_eq((intptr_t)sio_map_remove(&m, k, strlen(k)), i + 1);
  }
  for (i = 0; i < 5000; i++) {
    snprintf(k, sizeof(k), "room:%d", i);
    if (i % 2)
      ck_assert_int_eq((intptr_t)sio_map_get(&m, k, strlen(k)), i + 1);
    else
      ck_assert_ptr_null(sio_map_get(&m, k, strlen(k)));
  }
  ck_assert_ptr_null(sio_map_remove(&m, "nope", 4));
  sio_map_deinit(&m);
}
END_TEST

START_TEST(iterate_visits_each_once) {
  sio_map m;
  size_t it = 0, n = 0;
  const sio_map_entry *e;
  sio_map_init(&m);
  ck_assert_int_eq(sio_map_put(&m, "a", 1, &m), 0);
  ck_assert_int_eq(sio_map_put(&m, "b", 1, &m), 0);
  ck_assert_int_eq(sio_map_put(&m, "", 0, &m), 0);
  while (sio_map_next(&m, &it, &e))
    n++;
  ck_assert_uint_eq(n, 3);
  ck_assert_ptr_eq(sio_map_get(&m, "", 0), &m);
  sio_map_deinit(&m);
}
END_TEST

START_TEST(siphash_reference_vector) {
  /* SipHash-2-4 paper, appendix A: key 00..0f, message 00..0e. */
  uint8_t key[16], msg[15];
  int i;
  for (i = 0; i < 16; i++)
    key[i] = (uint8_t)i;
  for (i = 0; i < 15; i++)
    msg[i] = (uint8_t)i;
  sio_map_seed(key);
  ck_assert_uint_eq(sio_map_hash(msg, 15), 0xa129ca6149be45e5ULL);
}
END_TEST

Suite *sio_map_suite(void) {
  Suite *s = suite_create("sio_map");
  TCase *tc = tcase_create("core");
  tcase_add_test(tc, put_get_remove_many);
  tcase_add_test(tc, iterate_visits_each_once);
  tcase_add_test(tc, siphash_reference_vector);
  suite_add_tcase(s, tc);
  return s;
}
