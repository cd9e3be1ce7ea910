/* Unit tests of src/app/app_ratelimit.c: the token bucket driven by a
 * hand-moved clock, and the bounded per-key table (connection counts, rate
 * per key, expiry of idle entries, eviction when full). */
#include <check.h>
#include <stdio.h>
#include <string.h>

#include "app_ratelimit.h"
#include "check_suites.h"

static const uint8_t seed[16] = {1, 2,  3,  4,  5,  6,  7,  8,
                                 9, 10, 11, 12, 13, 14, 15, 16};

START_TEST(bucket_burst_then_rate) {
  struct app_rate r = {60, 30}; /* SPEC default: 60/min, burst 30 */
  struct app_bucket b;
  uint64_t t = 1000000;
  int i, ok;
  app_bucket_init(&b, &r, t);
  for (i = 0; i < 30; i++)
    ck_assert(app_bucket_take(&b, &r, t));
  ck_assert(!app_bucket_take(&b, &r, t));
  ck_assert_uint_eq(app_bucket_wait_ms(&b, &r, t), 1000);
  ck_assert(!app_bucket_take(&b, &r, t + 999));
  ck_assert_uint_eq(app_bucket_wait_ms(&b, &r, t + 999), 1);
  ck_assert(app_bucket_take(&b, &r, t + 1000));
  ck_assert(!app_bucket_take(&b, &r, t + 1000));
  /* a long pause refills to the burst, not beyond */
  t += 1000000;
  for (i = 0; i < 30; i++)
    ck_assert(app_bucket_take(&b, &r, t));
  ck_assert(!app_bucket_take(&b, &r, t));
  /* over the next minute exactly 60 more */
  ok = 0;
  for (i = 1; i <= 60000; i++)
    ok += app_bucket_take(&b, &r, t + (uint64_t)i);
  ck_assert_int_eq(ok, 60);
}
END_TEST

START_TEST(bucket_exact_count_per_minute) {
  struct app_rate r = {600, 1};
  struct app_bucket b;
  int i, ok = 0;
  app_bucket_init(&b, &r, 0);
  ck_assert(app_bucket_take(&b, &r, 0));
  for (i = 1; i <= 60000; i++)
    ok += app_bucket_take(&b, &r, (uint64_t)i);
  ck_assert_int_eq(ok, 600);
}
END_TEST

START_TEST(bucket_edges) {
  struct app_rate unlimited = {0, 0}, r = {60, 0}, small = {60, 2};
  struct app_bucket b;
  struct app_rate big = {60, 10};
  struct app_rate ps = app_rate_per_second(10, 20);
  int i;
  app_bucket_init(&b, &unlimited, 0);
  for (i = 0; i < 1000; i++)
    ck_assert(app_bucket_take(&b, &unlimited, 0));
  ck_assert_uint_eq(app_bucket_wait_ms(&b, &unlimited, 0), 0);
  /* burst 0 behaves as 1 */
  app_bucket_init(&b, &r, 0);
  ck_assert(app_bucket_take(&b, &r, 0));
  ck_assert(!app_bucket_take(&b, &r, 0));
  /* a clock going backwards refills nothing */
  app_bucket_init(&b, &r, 5000);
  ck_assert(app_bucket_take(&b, &r, 5000));
  ck_assert(!app_bucket_take(&b, &r, 1000));
  ck_assert(!app_bucket_take(&b, &r, 5999));
  ck_assert(app_bucket_take(&b, &r, 6000));
  /* a reload to a smaller burst clamps the level */
  app_bucket_init(&b, &big, 0);
  ck_assert(app_bucket_take(&b, &small, 0));
  ck_assert(app_bucket_take(&b, &small, 0));
  ck_assert(!app_bucket_take(&b, &small, 0));
  ck_assert_uint_eq(ps.per_minute, 600);
  ck_assert_uint_eq(ps.burst, 20);
  ck_assert_uint_eq(app_rate_per_second(UINT32_MAX, 1).per_minute, UINT32_MAX);
}
END_TEST

START_TEST(keytab_connection_counts) {
  struct app_keytab *t;
  ck_assert_int_eq(app_keytab_new(&t, 100, 1000, seed), 0);
  ck_assert_int_eq(app_keytab_acquire(t, "u1", 2, 0), APP_RL_OK);
  ck_assert_int_eq(app_keytab_acquire(t, "u1", 2, 0), APP_RL_OK);
  ck_assert_int_eq(app_keytab_acquire(t, "u1", 2, 0), APP_RL_LIMITED);
  ck_assert_int_eq(app_keytab_acquire(t, "u2", 2, 0), APP_RL_OK);
  ck_assert_uint_eq(app_keytab_count(t, "u1"), 2);
  ck_assert_uint_eq(app_keytab_count(t, "nobody"), 0);
  app_keytab_release(t, "u1", 10);
  ck_assert_uint_eq(app_keytab_count(t, "u1"), 1);
  ck_assert_int_eq(app_keytab_acquire(t, "u1", 2, 20), APP_RL_OK);
  app_keytab_release(t, "nobody", 20); /* ignored */
  app_keytab_release(t, "u2", 20);
  app_keytab_release(t, "u2", 20); /* never below 0 */
  ck_assert_uint_eq(app_keytab_count(t, "u2"), 0);
  ck_assert_int_eq(app_keytab_acquire(t, "u3", 0, 20), APP_RL_OK);
  ck_assert_uint_eq(app_keytab_size(t), 3);
  app_keytab_del(t);
  app_keytab_del(NULL);
}
END_TEST

START_TEST(keytab_rate_per_key) {
  struct app_keytab *t;
  struct app_rate r = app_rate_per_second(1, 2);
  struct app_rate off = {0, 0};
  ck_assert_int_eq(app_keytab_new(&t, 100, 10000, seed), 0);
  ck_assert_int_eq(app_keytab_take(t, "10.0.0.1", &r, 0), APP_RL_OK);
  ck_assert_int_eq(app_keytab_take(t, "10.0.0.1", &r, 0), APP_RL_OK);
  ck_assert_int_eq(app_keytab_take(t, "10.0.0.1", &r, 0), APP_RL_LIMITED);
  ck_assert_int_eq(app_keytab_take(t, "10.0.0.2", &r, 0), APP_RL_OK);
  ck_assert_int_eq(app_keytab_take(t, "10.0.0.1", &r, 1000), APP_RL_OK);
  ck_assert_int_eq(app_keytab_take(t, "10.0.0.1", &r, 1000), APP_RL_LIMITED);
  ck_assert_int_eq(app_keytab_take(t, "10.0.0.9", &off, 0), APP_RL_OK);
  ck_assert_uint_eq(app_keytab_size(t), 2); /* unlimited adds no entry */
  app_keytab_del(t);
}
END_TEST

START_TEST(keytab_expiry) {
  struct app_keytab *t;
  struct app_rate r = {60, 1};
  ck_assert_int_eq(app_keytab_new(&t, 100, 5000, seed), 0);
  ck_assert_int_eq(app_keytab_take(t, "a", &r, 0), APP_RL_OK);
  ck_assert_int_eq(app_keytab_acquire(t, "b", 0, 1000), APP_RL_OK);
  ck_assert_int_eq(app_keytab_take(t, "c", &r, 3000), APP_RL_OK);
  ck_assert_uint_eq(app_keytab_expire(t, 4999), 0);
  ck_assert_uint_eq(app_keytab_expire(t, 5000), 1); /* a */
  ck_assert_uint_eq(app_keytab_size(t), 2);
  ck_assert_uint_eq(app_keytab_expire(t, 100000), 1); /* c; b is in use */
  ck_assert_uint_eq(app_keytab_count(t, "b"), 1);
  app_keytab_release(t, "b", 100000);
  ck_assert_uint_eq(app_keytab_expire(t, 104999), 0);
  ck_assert_uint_eq(app_keytab_expire(t, 105000), 1);
  ck_assert_uint_eq(app_keytab_size(t), 0);
  /* a fresh entry after expiry starts with a full bucket */
  ck_assert_int_eq(app_keytab_take(t, "a", &r, 200000), APP_RL_OK);
  app_keytab_del(t);
}
END_TEST

START_TEST(keytab_bounded) {
  struct app_keytab *t;
  struct app_rate r = {60, 1};
  char key[32];
  int i;
  ck_assert_int_eq(app_keytab_new(&t, 2, 60000, seed), 0);
  ck_assert_int_eq(app_keytab_acquire(t, "u1", 0, 0), APP_RL_OK);
  ck_assert_int_eq(app_keytab_acquire(t, "u2", 0, 0), APP_RL_OK);
  ck_assert_int_eq(app_keytab_acquire(t, "u3", 0, 0), APP_RL_FULL);
  ck_assert_int_eq(app_keytab_take(t, "ip", &r, 0), APP_RL_FULL);
  /* an existing key still works when full */
  ck_assert_int_eq(app_keytab_acquire(t, "u1", 0, 0), APP_RL_OK);
  app_keytab_release(t, "u2", 1);
  /* u2 holds no connection: it is evicted for the newcomer */
  ck_assert_int_eq(app_keytab_acquire(t, "u3", 0, 2), APP_RL_OK);
  ck_assert_uint_eq(app_keytab_count(t, "u2"), 0);
  ck_assert_uint_eq(app_keytab_size(t), 2);
  app_keytab_del(t);

  /* a flood of keys never grows the table past its bound */
  ck_assert_int_eq(app_keytab_new(&t, 64, 60000, seed), 0);
  for (i = 0; i < 5000; i++) {
    snprintf(key, sizeof(key), "10.%d.%d.%d", i >> 16, (i >> 8) & 255, i & 255);
    ck_assert_int_eq(app_keytab_take(t, key, &r, (uint64_t)i), APP_RL_OK);
    ck_assert_uint_le(app_keytab_size(t), 64);
  }
  /* the most recent keys are still remembered */
  ck_assert_int_eq(app_keytab_take(t, key, &r, 5000), APP_RL_LIMITED);
  app_keytab_del(t);
}
END_TEST

Suite *app_ratelimit_suite(void) {
  Suite *s = suite_create("app_ratelimit");
  TCase *tc = tcase_create("core");
  tcase_add_test(tc, bucket_burst_then_rate);
  tcase_add_test(tc, bucket_exact_count_per_minute);
  tcase_add_test(tc, bucket_edges);
  tcase_add_test(tc, keytab_connection_counts);
  tcase_add_test(tc, keytab_rate_per_key);
  tcase_add_test(tc, keytab_expiry);
  tcase_add_test(tc, keytab_bounded);
  suite_add_tcase(s, tc);
  return s;
}
