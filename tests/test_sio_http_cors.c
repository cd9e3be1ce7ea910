/* test_sio_http_cors.c: Origin checks and CORS headers. The expected header
 * lines are those a Node engine.io 6.6 server with cors 2.8.6 sent for the
 * same requests (captured with raw sockets; only the CORS lines are kept),
 * except "*" with credentials, which reflects the origin as cors'
 * `origin: true` does. */
#include <check.h>
#include <string.h>

#include "check_suites.h"
#include "failmalloc.h"
#include "sio_http_cors.h"
#include "sio_int.h"
#include "sio_mem.h"

#define A "http://a.com"
#define EVIL "http://evil.com"
#define ACRH "content-type, x-foo"

/* Header lines for a request from origin (NULL: no Origin header). */
static void hdrs(const sio_cors *c, const char *origin, int preflight,
                 const char *acrh, sio_buf *out) {
  sio_buf_reset(out);
  ck_assert_int_eq(
      sio_cors_append_headers(c, out, origin, origin ? strlen(origin) : 0,
                              preflight, acrh, acrh ? strlen(acrh) : 0),
      0);
}

#define EXPECT(c, origin, preflight, acrh, text)                               \
  do {                                                                         \
    hdrs(c, origin, preflight, acrh, &out);                                    \
    ck_assert_str_eq(out.data ? out.data : "", text);                          \
  } while (0)

START_TEST(star) {
  sio_cors c;
  sio_buf out;
  sio_buf_init(&out);
  ck_assert_int_eq(sio_cors_init(&c, "*", 0), 0);
  EXPECT(&c, A, 0, NULL, "Access-Control-Allow-Origin: *\r\n");
  EXPECT(&c, EVIL, 0, NULL, "Access-Control-Allow-Origin: *\r\n");
  EXPECT(&c, NULL, 0, NULL, "Access-Control-Allow-Origin: *\r\n");
  EXPECT(&c, A, 1, ACRH,
         "Access-Control-Allow-Origin: *\r\n"
         "Access-Control-Allow-Methods: GET,HEAD,PUT,PATCH,POST,DELETE\r\n"
         "Vary: Access-Control-Request-Headers\r\n"
         "Access-Control-Allow-Headers: content-type, x-foo\r\n");
  EXPECT(&c, A, 1, NULL,
         "Access-Control-Allow-Origin: *\r\n"
         "Access-Control-Allow-Methods: GET,HEAD,PUT,PATCH,POST,DELETE\r\n"
         "Vary: Access-Control-Request-Headers\r\n");
  EXPECT(&c, EVIL, 1, "",
         "Access-Control-Allow-Origin: *\r\n"
         "Access-Control-Allow-Methods: GET,HEAD,PUT,PATCH,POST,DELETE\r\n"
         "Vary: Access-Control-Request-Headers\r\n");
  ck_assert_int_eq(sio_cors_origin_allowed(&c, EVIL, strlen(EVIL)), 1);
  ck_assert_int_eq(sio_cors_origin_allowed(&c, NULL, 0), 1);
  sio_cors_deinit(&c);
  sio_buf_deinit(&out);
}
END_TEST

START_TEST(star_credentials_reflects) {
  sio_cors c;
  sio_buf out;
  sio_buf_init(&out);
  ck_assert_int_eq(sio_cors_init(&c, "*", 1), 0);
  /* Same lines as cors({origin: true, credentials: true}). */
  EXPECT(&c, A, 0, NULL,
         "Access-Control-Allow-Origin: http://a.com\r\n"
         "Vary: Origin\r\n"
         "Access-Control-Allow-Credentials: true\r\n");
  EXPECT(&c, EVIL, 0, NULL,
         "Access-Control-Allow-Origin: http://evil.com\r\n"
         "Vary: Origin\r\n"
         "Access-Control-Allow-Credentials: true\r\n");
  EXPECT(&c, NULL, 0, NULL,
         "Vary: Origin\r\n"
         "Access-Control-Allow-Credentials: true\r\n");
  EXPECT(&c, A, 1, ACRH,
         "Access-Control-Allow-Origin: http://a.com\r\n"
         "Vary: Origin, Access-Control-Request-Headers\r\n"
         "Access-Control-Allow-Credentials: true\r\n"
         "Access-Control-Allow-Methods: GET,HEAD,PUT,PATCH,POST,DELETE\r\n"
         "Access-Control-Allow-Headers: content-type, x-foo\r\n");
  EXPECT(&c, EVIL, 1, NULL,
         "Access-Control-Allow-Origin: http://evil.com\r\n"
         "Vary: Origin, Access-Control-Request-Headers\r\n"
         "Access-Control-Allow-Credentials: true\r\n"
         "Access-Control-Allow-Methods: GET,HEAD,PUT,PATCH,POST,DELETE\r\n");
  ck_assert_int_eq(sio_cors_origin_allowed(&c, EVIL, strlen(EVIL)), 1);
  sio_cors_deinit(&c);
  sio_buf_deinit(&out);
}
END_TEST

START_TEST(list) {
  sio_cors c;
  sio_buf out;
  sio_buf_init(&out);
  ck_assert_int_eq(sio_cors_init(&c, "http://a.com, http://b.com", 0), 0);
  EXPECT(&c, A, 0, NULL,
         "Access-Control-Allow-Origin: http://a.com\r\n"
         "Vary: Origin\r\n");
  EXPECT(&c, "http://b.com", 0, NULL,
         "Access-Control-Allow-Origin: http://b.com\r\n"
         "Vary: Origin\r\n");
  EXPECT(&c, EVIL, 0, NULL, "Vary: Origin\r\n");
  EXPECT(&c, NULL, 0, NULL, "Vary: Origin\r\n");
  EXPECT(&c, A, 1, ACRH,
         "Access-Control-Allow-Origin: http://a.com\r\n"
         "Vary: Origin, Access-Control-Request-Headers\r\n"
         "Access-Control-Allow-Methods: GET,HEAD,PUT,PATCH,POST,DELETE\r\n"
         "Access-Control-Allow-Headers: content-type, x-foo\r\n");
  EXPECT(&c, A, 1, NULL,
         "Access-Control-Allow-Origin: http://a.com\r\n"
         "Vary: Origin, Access-Control-Request-Headers\r\n"
         "Access-Control-Allow-Methods: GET,HEAD,PUT,PATCH,POST,DELETE\r\n");
  EXPECT(&c, EVIL, 1, NULL,
         "Vary: Origin, Access-Control-Request-Headers\r\n"
         "Access-Control-Allow-Methods: GET,HEAD,PUT,PATCH,POST,DELETE\r\n");

  ck_assert_int_eq(sio_cors_origin_allowed(&c, A, strlen(A)), 1);
  ck_assert_int_eq(sio_cors_origin_allowed(&c, "http://b.com", 12), 1);
  ck_assert_int_eq(sio_cors_origin_allowed(&c, NULL, 0), 1);
  /* Exact matches only: no prefix, suffix, case or port games. */
  ck_assert_int_eq(sio_cors_origin_allowed(&c, EVIL, strlen(EVIL)), 0);
  ck_assert_int_eq(sio_cors_origin_allowed(&c, "http://a.co", 11), 0);
  ck_assert_int_eq(sio_cors_origin_allowed(&c, "http://a.com.evil", 17), 0);
  ck_assert_int_eq(sio_cors_origin_allowed(&c, "HTTP://A.COM", 12), 0);
  ck_assert_int_eq(sio_cors_origin_allowed(&c, "http://a.com:80", 15), 0);
  ck_assert_int_eq(sio_cors_origin_allowed(&c, "", 0), 0);
  ck_assert_int_eq(sio_cors_origin_allowed(&c, "null", 4), 0);
  /* origin_len bounds the comparison. */
  ck_assert_int_eq(sio_cors_origin_allowed(&c, "http://a.comX", 12), 1);
  sio_cors_deinit(&c);
  sio_buf_deinit(&out);
}
END_TEST

START_TEST(list_credentials) {
  sio_cors c;
  sio_buf out;
  sio_buf_init(&out);
  ck_assert_int_eq(sio_cors_init(&c, "http://a.com,http://b.com", 1), 0);
  EXPECT(&c, A, 0, NULL,
         "Access-Control-Allow-Origin: http://a.com\r\n"
         "Vary: Origin\r\n"
         "Access-Control-Allow-Credentials: true\r\n");
  EXPECT(&c, EVIL, 0, NULL,
         "Vary: Origin\r\n"
         "Access-Control-Allow-Credentials: true\r\n");
  EXPECT(&c, NULL, 0, NULL,
         "Vary: Origin\r\n"
         "Access-Control-Allow-Credentials: true\r\n");
  EXPECT(&c, A, 1, ACRH,
         "Access-Control-Allow-Origin: http://a.com\r\n"
         "Vary: Origin, Access-Control-Request-Headers\r\n"
         "Access-Control-Allow-Credentials: true\r\n"
         "Access-Control-Allow-Methods: GET,HEAD,PUT,PATCH,POST,DELETE\r\n"
         "Access-Control-Allow-Headers: content-type, x-foo\r\n");
  EXPECT(&c, EVIL, 1, NULL,
         "Vary: Origin, Access-Control-Request-Headers\r\n"
         "Access-Control-Allow-Credentials: true\r\n"
         "Access-Control-Allow-Methods: GET,HEAD,PUT,PATCH,POST,DELETE\r\n");
  ck_assert_int_eq(sio_cors_origin_allowed(&c, EVIL, strlen(EVIL)), 0);
  sio_cors_deinit(&c);
  sio_buf_deinit(&out);
}
END_TEST

START_TEST(disabled) {
  sio_cors c;
  sio_buf out;
  sio_buf_init(&out);
  ck_assert_int_eq(sio_cors_init(&c, NULL, 1), 0);
  EXPECT(&c, A, 0, NULL, "");
  EXPECT(&c, A, 1, ACRH, "");
  ck_assert_int_eq(sio_cors_origin_allowed(&c, EVIL, strlen(EVIL)), 1);
  sio_cors_deinit(&c);
  ck_assert_int_eq(sio_cors_init(&c, "", 0), 0);
  EXPECT(&c, A, 0, NULL, "");
  sio_cors_deinit(&c);
  sio_buf_deinit(&out);
}
END_TEST

START_TEST(bad_config) {
  static const char *bad[] = {
      "http://a.com,",
      ",http://a.com",
      "http://a.com,,http://b.com",
      " , ",
      "*,http://a.com",
      "http://a.com,*",
      "http://a .com",
      "http://a.com\r\nX-Evil: 1",
      "http://a.com\x7f",
  };
  size_t i;
  for (i = 0; i < SIO_ARRLEN(bad); i++) {
    sio_cors c;
    ck_assert_msg(sio_cors_init(&c, bad[i], 0) == SIO_ERR_INVAL, "case %zu", i);
    ck_assert_ptr_null(c.list);
    sio_cors_deinit(&c); /* harmless */
  }
}
END_TEST

START_TEST(never_echo_control_chars) {
  sio_cors c;
  sio_buf out;
  sio_buf_init(&out);
  ck_assert_int_eq(sio_cors_init(&c, "*", 1), 0);
  EXPECT(&c, "http://x\r\nSet-Cookie: a=b", 1, "a\r\nb",
         "Vary: Origin, Access-Control-Request-Headers\r\n"
         "Access-Control-Allow-Credentials: true\r\n"
         "Access-Control-Allow-Methods: GET,HEAD,PUT,PATCH,POST,DELETE\r\n");
  sio_cors_deinit(&c);
  sio_buf_deinit(&out);
}
END_TEST

static int fm_cors(void *ud) {
  sio_cors c;
  sio_buf out;
  int rv;
  (void)ud;
  rv = sio_cors_init(&c, "http://a.com, http://b.com", 1);
  if (rv)
    return rv;
  sio_buf_init(&out);
  rv = sio_buf_append_str(&out, "HTTP/1.1 204 No Content\r\n");
  if (!rv) {
    rv = sio_cors_append_headers(&c, &out, A, strlen(A), 1, ACRH, strlen(ACRH));
    if (rv) /* out is left as it was */
      ck_assert_str_eq(out.data, "HTTP/1.1 204 No Content\r\n");
  }
  sio_buf_deinit(&out);
  sio_cors_deinit(&c);
  return rv;
}

/* The daemon's own page: its Origin is the server's scheme and Host. */
static size_t len_of(const char *s) { return s ? strlen(s) : 0; }
#define SAME(o, h, fp, tls)                                                   \
  sio_cors_same_origin(o, len_of(o), h, len_of(h), fp, len_of(fp), tls)
START_TEST(same_origin) {
  ck_assert_int_eq(SAME("http://h.example:3000", "h.example:3000", NULL, 0),
                   1);
  ck_assert_int_eq(SAME("HTTP://H.Example:3000", "h.example:3000", NULL, 0),
                   1);
  ck_assert_int_eq(SAME("https://h.example", "h.example", NULL, 1), 1);
  ck_assert_int_eq(SAME("https://h.example", "h.example", "https", 0), 1);
  /* another scheme, host or port is another origin */
  ck_assert_int_eq(SAME("https://h.example:3000", "h.example:3000", NULL, 0),
                   0);
  ck_assert_int_eq(SAME("http://h.example", "h.example", NULL, 1), 0);
  ck_assert_int_eq(SAME("http://h.example:3001", "h.example:3000", NULL, 0),
                   0);
  ck_assert_int_eq(SAME("http://h.example:3000.evil.com", "h.example:3000",
                        NULL, 0),
                   0);
  ck_assert_int_eq(SAME("http://evil.com", "h.example", NULL, 0), 0);
  ck_assert_int_eq(SAME("http://h.example", "h.example", "gopher", 0), 0);
  ck_assert_int_eq(SAME("http://", "", NULL, 0), 0);
  ck_assert_int_eq(SAME(NULL, "h.example", NULL, 0), 0);
  ck_assert_int_eq(SAME("http://h.example", NULL, NULL, 0), 0);
  ck_assert_int_eq(SAME("null", "h.example", NULL, 0), 0);
}
END_TEST

START_TEST(failmalloc_cors) {
  ck_assert_int_gt(failmalloc_run(fm_cors, NULL), 0);
}
END_TEST

Suite *sio_http_cors_suite(void) {
  Suite *s = suite_create("sio_http_cors");
  TCase *tc = tcase_create("core");
  tcase_add_test(tc, star);
  tcase_add_test(tc, star_credentials_reflects);
  tcase_add_test(tc, list);
  tcase_add_test(tc, list_credentials);
  tcase_add_test(tc, disabled);
  tcase_add_test(tc, bad_config);
  tcase_add_test(tc, never_echo_control_chars);
  tcase_add_test(tc, same_origin);
  tcase_add_test(tc, failmalloc_cors);
  suite_add_tcase(s, tc);
  return s;
}
