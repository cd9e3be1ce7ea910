/* test_sio_json.c: the JSON reader/writer (sio_json), as JavaScript's
 * JSON.parse / JSON.stringify / String(number) behave. Golden R/D/S lines
 * come from tests/data/sio_packet_vectors.txt (see test_sio_packet.c). */
#include <check.h>
#include <float.h>
#include <locale.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "check_suites.h"
#include "failmalloc.h"
#include "sio_int.h"
#include "sio_json.h"
#include "vectors.h"

START_TEST(golden_json) {
  size_t n, i, kr = 0, kd = 0, ks = 0;
  vline *v = vec_load("sio_packet_vectors.txt", &n);
  for (i = 0; i < n; i++) {
    vline *l = &v[i];
    json_object *o = NULL;
    if (strcmp(l->f[0], "R") == 0) {
      ck_assert_msg(sio_json_parse(l->f[1], l->n[1], 0, &o) == 0, "line %d",
                    l->lineno);
      ck_assert_msg(strcmp(vec_js(o), l->f[2]) == 0, "line %d: got %s",
                    l->lineno, vec_js(o));
      kr++;
    } else if (strcmp(l->f[0], "D") == 0) {
      uint64_t bits = strtoull(l->f[1], NULL, 16);
      double d;
      memcpy(&d, &bits, sizeof(d));
      o = json_object_new_double(d);
      ck_assert_msg(strcmp(vec_js(o), l->f[2]) == 0, "line %d: %.17g got %s",
                    l->lineno, d, vec_js(o));
      kd++;
    } else if (strcmp(l->f[0], "S") == 0) {
      char bytes[512];
      size_t j, m = 0;
      if (strcmp(l->f[1], "-") != 0)
        for (j = 0; j + 1 < l->n[1]; j += 2)
          bytes[m++] = (char)(sio_hex_digit(l->f[1][j]) << 4 |
                              sio_hex_digit(l->f[1][j + 1]));
      o = json_object_new_string_len(bytes, (int)m);
      ck_assert_msg(strcmp(vec_js(o), l->f[2]) == 0, "line %d: got %s",
                    l->lineno, vec_js(o));
      ks++;
    } else {
      continue;
    }
    json_object_put(o);
  }
  ck_assert_uint_ge(kr, 10);
  ck_assert_uint_ge(kd, 2000);
  ck_assert_uint_ge(ks, 5);
  vec_free(v, n);
}
END_TEST

START_TEST(numbers_as_written) {
  static const char *const keep[] = {
      "[1.50,1E5,1.0e-7,-0.0,1e400,-1e400,0."
      "1000000000000000055511151231257827]",
      "[12345678901234567890,123456789012345678901234567890,-"
      "9223372036854775809]",
      "[-9223372036854775808,9223372036854775807,0,-1,9007199254740993]",
      "[1e-400,5E-324,2e+0]",
  };
  size_t i;
  json_object *o;
  for (i = 0; i < SIO_ARRLEN(keep); i++) {
    o = vec_parse(keep[i]);
    ck_assert_str_eq(vec_js(o), keep[i]);
    json_object_put(o);
  }
  o = vec_parse("[-0, 0 ,-0]");
  ck_assert_str_eq(vec_js(o), "[0,0,0]");
  ck_assert(
      json_object_is_type(json_object_array_get_idx(o, 0), json_type_int));
  json_object_put(o);
  o = vec_parse("[9223372036854775807,-9223372036854775808,1.5,1e2]");
  ck_assert(
      json_object_is_type(json_object_array_get_idx(o, 0), json_type_int));
  ck_assert(
      json_object_is_type(json_object_array_get_idx(o, 1), json_type_int));
  ck_assert(
      json_object_is_type(json_object_array_get_idx(o, 2), json_type_double));
  ck_assert(json_object_get_double(json_object_array_get_idx(o, 3)) == 100.0);
  json_object_put(o);
  o = vec_parse("[9223372036854775808]");
  ck_assert(
      json_object_is_type(json_object_array_get_idx(o, 0), json_type_double));
  json_object_put(o);
}
END_TEST

START_TEST(c_built_values) {
  json_object *o = json_object_new_object(), *a;
  char key[16];
  int i;
  /* JavaScript lists array-index keys first, ascending */
  json_object_object_add(o, "b", json_object_new_int(1));
  json_object_object_add(o, "10", json_object_new_int(2));
  json_object_object_add(o, "2", json_object_new_int(3));
  json_object_object_add(o, "a", NULL);
  json_object_object_add(o, "02", json_object_new_boolean(0));
  json_object_object_add(o, "4294967295", json_object_new_int(4));
  json_object_object_add(o, "4294967294", json_object_new_int(5));
  ck_assert_str_eq(vec_js(o),
                   "{\"2\":3,\"10\":2,\"4294967294\":5,\"b\":1,\"a\":"
                   "null,\"02\":false,\"4294967295\":4}");
  json_object_put(o);
  /* more index keys than the writer's stack array */
  o = json_object_new_object();
  for (i = 39; i >= 0; i--) {
    snprintf(key, sizeof(key), "%d", i);
    json_object_object_add(o, key, json_object_new_int(i));
  }
  json_object_object_add(o, "x", json_object_new_int(-1));
  {
    sio_buf want;
    sio_buf_init(&want);
    sio_buf_append_byte(&want, '{');
    for (i = 0; i < 40; i++)
      sio_buf_appendf(&want, "\"%d\":%d,", i, i);
    sio_buf_append_str(&want, "\"x\":-1}");
    ck_assert_str_eq(vec_js(o), want.data);
    sio_buf_deinit(&want);
  }
  json_object_put(o);
  /* integers and doubles */
  a = json_object_new_array();
  json_object_array_add(a, json_object_new_int64(INT64_MAX));
  json_object_array_add(a, json_object_new_int64(INT64_MIN));
  json_object_array_add(a, json_object_new_uint64(UINT64_MAX));
  json_object_array_add(a, json_object_new_double(NAN));
  json_object_array_add(a, json_object_new_double(INFINITY));
  json_object_array_add(a, json_object_new_double(-INFINITY));
  json_object_array_add(a, json_object_new_double(-0.0));
  json_object_array_add(a, json_object_new_double(0.1));
  json_object_array_add(a, json_object_new_double(100));
  json_object_array_add(a, json_object_new_double_s(2.5, "2.50"));
  json_object_array_add(a, json_object_new_boolean(1));
  json_object_array_add(a, NULL);
  ck_assert_str_eq(vec_js(a), "[9223372036854775807,-9223372036854775808,"
                              "18446744073709551615,null,null,null,0,0.1,100,"
                              "2.50,true,null]");
  json_object_put(a);
  ck_assert_str_eq(vec_js(NULL), "null");
  /* strings that are not UTF-8 */
  {
    static const char bad[] = "\xff|\xe2\x82|\xc0\xaf|\xed\xa0\x80|"
                              "\xed\xbf\xbf|\xf4\x90\x80\x80|\xf0\x9f\x98";
    o = json_object_new_string_len(bad, (int)sizeof(bad) - 1);
  }
  ck_assert_str_eq(vec_js(o),
                   "\"\xef\xbf\xbd|\xef\xbf\xbd|\xef\xbf\xbd\xef\xbf"
                   "\xbd|\\ud800|\\udfff|\xef\xbf\xbd\xef\xbf\xbd\xef"
                   "\xbf\xbd\xef\xbf\xbd|\xef\xbf\xbd\"");
  json_object_put(o);
  o = json_object_new_string("</script>\\\"\x7f\xe2\x80\xa8");
  ck_assert_str_eq(vec_js(o), "\"</script>\\\\\\\"\x7f\xe2\x80\xa8\"");
  json_object_put(o);
}
END_TEST

START_TEST(unicode_round_trip) {
  /* escapes become bytes and are written back the way JSON.stringify
   * writes the string: only controls, quote and backslash escaped */
  json_object *o = vec_parse(
      "[\"\\u00e9\\u4E2D\\ud83d\\ude00\\/\\b\\f\\n\\r\\t\\u0000\\u001f\\u007f"
      "\\u2028\", \"\\ud800x\\udc00\", \"\\ud83d\\u0041\", "
      "\"\\udbff\\udfff\"]");
  const char *want =
      "[\"\xc3\xa9\xe4\xb8\xad\xf0\x9f\x98\x80/\\b\\f\\n\\r\\t\\u0000\\u001f"
      "\x7f\xe2\x80\xa8\",\"\\ud800x\\udc00\",\"\\ud83dA\","
      "\"\xf4\x8f\xbf\xbf\"]";
  ck_assert_str_eq(vec_js(o), want);
  ck_assert_int_eq(json_object_get_string_len(json_object_array_get_idx(o, 0)),
                   21);
  json_object_put(o);
  o = vec_parse(want);
  ck_assert_str_eq(vec_js(o), want);
  json_object_put(o);
}
END_TEST

START_TEST(json_parse_api) {
  json_object *o = (json_object *)1;
  ck_assert_int_eq(sio_json_parse(" null ", 6, 0, &o), 0);
  ck_assert_ptr_null(o);
  ck_assert_int_eq(sio_json_parse("", 0, 0, &o), SIO_ERR_PROTO);
  ck_assert_int_eq(sio_json_parse("  ", 2, 0, &o), SIO_ERR_PROTO);
  ck_assert_ptr_null(o);
  ck_assert_int_eq(sio_json_parse("12", 2, 0, &o), 0);
  ck_assert_str_eq(vec_js(o), "12");
  json_object_put(o);
  ck_assert_int_eq(sio_json_parse("12", 1, 0, &o), 0); /* len bounds it */
  ck_assert_str_eq(vec_js(o), "1");
  json_object_put(o);
  ck_assert_int_eq(sio_json_parse("\"x\"", 3, 0, &o), 0);
  ck_assert_str_eq(json_object_get_string(o), "x");
  json_object_put(o);
  ck_assert_int_eq(sio_json_parse("[[1]]", 5, 1, &o), SIO_ERR_DEPTH);
  ck_assert_int_eq(sio_json_parse("[[1]]", 5, 2, &o), 0);
  json_object_put(o);
  ck_assert_int_eq(sio_json_parse("{\"a\":1,\"a\":2}", 13, 0, &o), 0);
  ck_assert_str_eq(vec_js(o), "{\"a\":2}");
  json_object_put(o);
  ck_assert_int_eq(sio_json_parse("tru", 3, 0, &o), SIO_ERR_PROTO);
  ck_assert_int_eq(sio_json_parse("-", 1, 0, &o), SIO_ERR_PROTO);
  ck_assert_int_eq(sio_json_parse("\"\\", 2, 0, &o), SIO_ERR_PROTO);
  ck_assert_int_eq(sio_json_parse("\"\\u12", 5, 0, &o), SIO_ERR_PROTO);
  ck_assert_int_eq(sio_json_parse("{\"a\"", 4, 0, &o), SIO_ERR_PROTO);
  ck_assert_int_eq(sio_json_parse("{\"a\":", 5, 0, &o), SIO_ERR_PROTO);
  ck_assert_int_eq(sio_json_parse("[1,", 3, 0, &o), SIO_ERR_PROTO);
  ck_assert_int_eq(sio_json_parse("{", 1, 0, &o), SIO_ERR_PROTO);
}
END_TEST

START_TEST(locale_independent) {
  /* a locale with a decimal comma must not change parsing or writing */
  json_object *o;
  if (!setlocale(LC_NUMERIC, "de_DE.UTF-8") &&
      !setlocale(LC_NUMERIC, "fr_FR.UTF-8") && !setlocale(LC_NUMERIC, "de_DE"))
    return; /* no such locale installed: nothing to test */
  o = vec_parse("[1.5,2.25e1]");
  ck_assert(json_object_get_double(json_object_array_get_idx(o, 0)) == 1.5);
  ck_assert(json_object_get_double(json_object_array_get_idx(o, 1)) == 22.5);
  json_object_put(o);
  o = json_object_new_double(1.25);
  ck_assert_str_eq(vec_js(o), "1.25");
  json_object_put(o);
  setlocale(LC_NUMERIC, "C");
}
END_TEST

START_TEST(format_number) {
  static const struct {
    double d;
    const char *want;
  } cases[] = {
      {0.0, "0"},
      {-0.0, "0"},
      {100, "100"},
      {-1.5, "-1.5"},
      {0.1 + 0.2, "0.30000000000000004"},
      {1e21, "1e+21"},
      {123456789012345680000.0, "123456789012345680000"},
      {1e-7, "1e-7"},
      {0.000001, "0.000001"},
      {-2.5e-10, "-2.5e-10"},
      {5e-324, "5e-324"},
      {DBL_MAX, "1.7976931348623157e+308"},
      {9007199254740993.0, "9007199254740992"},
  };
  char out[SIO_JSON_NUMBER_MAX];
  size_t i;
  for (i = 0; i < SIO_ARRLEN(cases); i++) {
    size_t n = sio_json_format_number(cases[i].d, out);
    ck_assert_str_eq(out, cases[i].want);
    ck_assert_uint_eq(n, strlen(cases[i].want));
  }
  /* String(x) spells these out; JSON.stringify writes null instead */
  sio_json_format_number(NAN, out);
  ck_assert_str_eq(out, "NaN");
  sio_json_format_number(INFINITY, out);
  ck_assert_str_eq(out, "Infinity");
  sio_json_format_number(-INFINITY, out);
  ck_assert_str_eq(out, "-Infinity");
  /* the longest forms fit */
  ck_assert_uint_lt(sio_json_format_number(-2.2250738585072014e-308, out),
                    SIO_JSON_NUMBER_MAX);
  ck_assert_uint_lt(sio_json_format_number(-1.2345678901234567e-7, out),
                    SIO_JSON_NUMBER_MAX);
  ck_assert_uint_lt(sio_json_format_number(-1.2345678901234567e20, out),
                    SIO_JSON_NUMBER_MAX);
  ck_assert_str_eq(out, "-123456789012345670000");
}
END_TEST

START_TEST(number_text) {
  char out[SIO_JSON_NUMBER_MAX];
  /* past int64 the parser keeps a double, as JavaScript does */
  json_object *v = vec_parse("[1.50,-7,18446744073709551615,"
                             "-9223372036854775808,1e21,1E400]");
  static const char *const want[] = {
      "1.5",   "-7",      "18446744073709552000", "-9223372036854775808",
      "1e+21", "Infinity"};
  size_t i;
  for (i = 0; i < SIO_ARRLEN(want); i++) {
    size_t n = sio_json_number_text(json_object_array_get_idx(v, i), out);
    ck_assert_str_eq(out, want[i]);
    ck_assert_uint_eq(n, strlen(want[i]));
  }
  json_object_put(v);
  /* a json-c uint64 built in C is written exactly */
  v = json_object_new_uint64(UINT64_MAX);
  sio_json_number_text(v, out);
  ck_assert_str_eq(out, "18446744073709551615");
  json_object_put(v);
}
END_TEST

START_TEST(write_depth_and_rollback) {
  sio_buf b;
  json_object *deep = vec_nest(SIO_JSON_MAX_DEPTH + 1), *ok = vec_nest(2);
  sio_buf_init(&b);
  sio_buf_append_str(&b, "kept");
  /* too deep: nothing of it stays */
  ck_assert_int_eq(sio_json_append(&b, deep), SIO_ERR_DEPTH);
  ck_assert_str_eq(b.data, "kept");
  ck_assert_uint_eq(b.len, 4);
  json_object_put(deep);
  deep = vec_nest(SIO_JSON_MAX_DEPTH);
  ck_assert_int_eq(sio_json_append(&b, deep), 0);
  json_object_put(deep);
  /* containers the caller opened count */
  sio_buf_reset(&b);
  ck_assert_int_eq(sio_json_write(&b, ok, SIO_JSON_MAX_DEPTH - 1),
                   SIO_ERR_DEPTH);
  sio_buf_reset(&b);
  ck_assert_int_eq(sio_json_write(&b, ok, SIO_JSON_MAX_DEPTH - 2), 0);
  ck_assert_str_eq(b.data, "[[1]]");
  json_object_put(ok);
  /* a string with a NUL byte inside */
  sio_buf_reset(&b);
  ck_assert_int_eq(sio_json_append_string(&b, "a\0\"b", 4), 0);
  ck_assert_str_eq(b.data, "\"a\\u0000\\\"b\"");
  sio_buf_deinit(&b);
}
END_TEST

static int stop_at_b(const char *key, json_object *val, void *ud) {
  int *seen = ud;
  (void)val;
  ++*seen;
  return strcmp(key, "b") == 0 ? SIO_ERR_LIMIT : 0;
}

START_TEST(each_member_stops) {
  json_object *o = vec_parse("{\"a\":1,\"b\":2,\"c\":3,\"1\":0}");
  int seen = 0;
  ck_assert_int_eq(sio_json_each_member(o, stop_at_b, &seen), SIO_ERR_LIMIT);
  ck_assert_int_eq(seen, 3); /* "1", "a", "b" */
  json_object_put(o);
}
END_TEST

START_TEST(placeholder) {
  json_object *p = sio_placeholder_new(3);
  ck_assert_ptr_nonnull(p);
  ck_assert_str_eq(vec_js(p), "{\"_placeholder\":true,\"num\":3}");
  json_object_put(p);
}
END_TEST

static int fm_parse_write(void *ud) {
  static const char text[] =
      "{\"k\":{\"0\":1,\"1\":2,\"2\":3,\"3\":4,\"4\":5,\"5\":6,\"6\":7,"
      "\"7\":8,\"8\":9,\"9\":10,\"10\":11,\"11\":12,\"12\":13,\"13\":14,"
      "\"14\":15,\"15\":16,\"16\":17,\"x\":[1.5,-2e-5,\"\\u00e9\"]}}";
  json_object *o = NULL;
  sio_buf b;
  int rv;
  (void)ud;
  rv = sio_json_parse(text, sizeof(text) - 1, 0, &o);
  if (rv)
    return rv;
  sio_buf_init(&b);
  rv = sio_json_append(&b, o);
  sio_buf_deinit(&b);
  json_object_put(o);
  return rv;
}

START_TEST(failmalloc_json) {
  ck_assert_int_ge(failmalloc_run(fm_parse_write, NULL), 5);
}
END_TEST

Suite *sio_json_suite(void) {
  Suite *s = suite_create("sio_json");
  TCase *tc = tcase_create("golden");
  tcase_set_timeout(tc, 60);
  tcase_add_test(tc, golden_json);
  suite_add_tcase(s, tc);
  tc = tcase_create("rules");
  tcase_add_test(tc, numbers_as_written);
  tcase_add_test(tc, c_built_values);
  tcase_add_test(tc, unicode_round_trip);
  tcase_add_test(tc, json_parse_api);
  tcase_add_test(tc, locale_independent);
  tcase_add_test(tc, format_number);
  tcase_add_test(tc, number_text);
  tcase_add_test(tc, write_depth_and_rollback);
  tcase_add_test(tc, each_member_stops);
  tcase_add_test(tc, placeholder);
  tcase_add_test(tc, failmalloc_json);
  suite_add_tcase(s, tc);
  return s;
}
