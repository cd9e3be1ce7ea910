#include <check.h>
#include <string.h>

#include "check_suites.h"
#include "sio_crypto.h"
#include "sio_int.h"
#include "sio_util.h"

START_TEST(base64_roundtrip_rfc4648) {
  static const char *vec[][2] = {{"", ""},
                                 {"f", "Zg=="},
                                 {"fo", "Zm8="},
                                 {"foo", "Zm9v"},
                                 {"foob", "Zm9vYg=="},
                                 {"fooba", "Zm9vYmE="},
                                 {"foobar", "Zm9vYmFy"}};
  size_t i;
  for (i = 0; i < SIO_ARRLEN(vec); i++) {
    char enc[16] = {0};
    uint8_t dec[16];
    size_t n = strlen(vec[i][0]);
    sio_base64_encode(enc, (const uint8_t *)vec[i][0], n);
    ck_assert_str_eq(enc, vec[i][1]);
    ck_assert_int_eq(sio_base64_decode(dec, vec[i][1], strlen(vec[i][1])),
                     (long)n);
    ck_assert_mem_eq(dec, vec[i][0], n);
  }
}
END_TEST

START_TEST(base64_rejects_garbage) {
  uint8_t dec[16];
  ck_assert_int_eq(sio_base64_decode(dec, "Zm9v!", 5), SIO_ERR_PROTO);
  ck_assert_int_eq(sio_base64_decode(dec, "Z", 1), SIO_ERR_PROTO);
  ck_assert_int_eq(sio_base64_decode(dec, "Zm 9", 4), SIO_ERR_PROTO);
}
END_TEST

START_TEST(uuid_and_time) {
  uint8_t r[16];
  char u[37], t[25];
  memset(r, 0xff, sizeof(r));
  sio_uuid_format(u, r);
  ck_assert_str_eq(u, "ffffffff-ffff-4fff-bfff-ffffffffffff");
  sio_iso8601_ms(t, 1700000000123ULL);
  ck_assert_str_eq(t, "2023-11-14T22:13:20.123Z");
}
END_TEST

START_TEST(random_ids_differ) {
  char a[21], b[21];
  ck_assert_int_eq(sio_random_id(a), 0);
  ck_assert_int_eq(sio_random_id(b), 0);
  ck_assert_uint_eq(strlen(a), 20);
  ck_assert_str_ne(a, b);
  ck_assert_int_eq(sio_ct_memcmp("abc", "abc", 3), 0);
  ck_assert_int_ne(sio_ct_memcmp("abc", "abd", 3), 0);
}
END_TEST

START_TEST(percent_decoding) {
  sio_buf b;
  sio_buf_init(&b);
  /* bad escapes first: nothing is appended */
  sio_buf_append_str(&b, "kept");
  ck_assert_int_eq(sio_pct_decode(&b, "a%4", 3, 0), SIO_ERR_PROTO);
  ck_assert_int_eq(sio_pct_decode(&b, "%", 1, 1), SIO_ERR_PROTO);
  ck_assert_int_eq(sio_pct_decode(&b, "%zz", 3, 0), SIO_ERR_PROTO);
  ck_assert_int_eq(sio_pct_decode(&b, "%4g", 3, 0), SIO_ERR_PROTO);
  ck_assert_str_eq(b.data, "kept");
  ck_assert_uint_eq(b.len, 4);
  sio_buf_reset(&b);
  ck_assert_int_eq(sio_pct_decode(&b, "", 0, 0), 0);
  ck_assert_uint_eq(b.len, 0);
  ck_assert_int_eq(sio_pct_decode(&b, "a%41b%2f+%e2%82%AC", 18, 0), 0);
  ck_assert_str_eq(b.data, "aAb/+\xe2\x82\xac");
  sio_buf_reset(&b);
  ck_assert_int_eq(sio_pct_decode(&b, "a+b%2B", 6, 1), 0);
  ck_assert_str_eq(b.data, "a b+");
  sio_buf_reset(&b);
  /* an encoded NUL is kept; len tells */
  ck_assert_int_eq(sio_pct_decode(&b, "x%00y", 5, 0), 0);
  ck_assert_uint_eq(b.len, 3);
  ck_assert_int_eq(memcmp(b.data, "x\0y", 3), 0);
  sio_buf_deinit(&b);
  ck_assert_int_eq(sio_hex_digit('0'), 0);
  ck_assert_int_eq(sio_hex_digit('F'), 15);
  ck_assert_int_eq(sio_hex_digit('a'), 10);
  ck_assert_int_eq(sio_hex_digit('g'), -1);
  ck_assert_int_eq(sio_hex_digit(-61), -1);
}
END_TEST

Suite *sio_util_suite(void) {
  Suite *s = suite_create("sio_util");
  TCase *tc = tcase_create("core");
  tcase_add_test(tc, base64_roundtrip_rfc4648);
  tcase_add_test(tc, base64_rejects_garbage);
  tcase_add_test(tc, uuid_and_time);
  tcase_add_test(tc, random_ids_differ);
  tcase_add_test(tc, percent_decoding);
  suite_add_tcase(s, tc);
  return s;
}
