/* test_sio_binary.c: placeholder validation and the attachment reader. The
 * header texts are the socket.io-protocol README examples and
 * socket.io-parser 4.2.7 Encoder output (tests/data/sio_packet_vectors.txt,
 * "E" lines with type 5 or 6). */
#include <check.h>
#include <stdlib.h>
#include <string.h>

#include "check_suites.h"
#include "failmalloc.h"
#include "sio_binary.h"
#include "sio_int.h"

static json_object *parse(const char *s) {
  json_object *o = NULL;
  ck_assert_int_eq(sio_json_parse(s, strlen(s), 64, &o), 0);
  return o;
}

static int count(const char *s, size_t nattach) {
  json_object *o = parse(s);
  int rv = sio_binary_count_placeholders(o, nattach);
  json_object_put(o);
  return rv;
}

#define PH(n) "{\"_placeholder\":true,\"num\":" #n "}"

START_TEST(placeholders) {
  ck_assert_int_eq(count("[\"a\"]", 0), 0);
  ck_assert_int_eq(sio_binary_count_placeholders(NULL, 3), 0);
  ck_assert_int_eq(count("[\"a\"," PH(0) "]", 1), 1);
  ck_assert_int_eq(count("[\"a\"," PH(1) ",{\"x\":[" PH(0) "]}]", 2), 2);
  ck_assert_int_eq(count("[\"a\"," PH(1) "]", 2), 1); /* unused is fine */
  ck_assert_int_eq(count("[\"a\"," PH(1) "]", 1), SIO_ERR_PROTO);
  ck_assert_int_eq(count("[\"a\"," PH(0) "," PH(0) "]", 2), SIO_ERR_PROTO);
  ck_assert_int_eq(count("[\"a\"," PH(-1) "]", 2), SIO_ERR_PROTO);
  ck_assert_int_eq(count("[\"a\"," PH("0") "]", 2), SIO_ERR_PROTO);
  ck_assert_int_eq(count("[\"a\"," PH(null) "]", 2), SIO_ERR_PROTO);
  ck_assert_int_eq(count("[\"a\"," PH(0.5) "]", 2), SIO_ERR_PROTO);
  ck_assert_int_eq(count("[\"a\"," PH(1e400) "]", 2), SIO_ERR_PROTO);
  ck_assert_int_eq(count("[\"a\"," PH(18446744073709551616) "]", 2),
                   SIO_ERR_PROTO);
  ck_assert_int_eq(count("[\"a\"," PH(1.0) "]", 2), 1);
  ck_assert_int_eq(count("[\"a\",{\"_placeholder\":true}]", 2), SIO_ERR_PROTO);
  /* only the boolean true makes a placeholder; others are plain objects */
  ck_assert_int_eq(
      count("[{\"_placeholder\":false,\"num\":9,\"in\":" PH(0) "}]", 1), 1);
  ck_assert_int_eq(count("[{\"_placeholder\":\"true\",\"num\":0}]", 1), 0);
  ck_assert_int_eq(count("[{\"_placeholder\":1,\"num\":0}]", 1), 0);
  /* extra members do not matter; its contents are not walked */
  ck_assert_int_eq(
      count("[{\"_placeholder\":true,\"num\":0,\"x\":" PH(0) "}]", 1), 1);
}
END_TEST

START_TEST(placeholders_many_and_deep) {
  sio_buf b;
  json_object *o;
  int i;
  sio_buf_init(&b);
  sio_buf_append_byte(&b, '[');
  for (i = 0; i < 100; i++)
    sio_buf_appendf(&b, "%s{\"_placeholder\":true,\"num\":%d}", i ? "," : "",
                    99 - i);
  sio_buf_append_byte(&b, ']');
  ck_assert_int_eq(count(b.data, 100), 100);
  ck_assert_int_eq(count(b.data, 99), SIO_ERR_PROTO);
  ck_assert_int_eq(count(b.data, 1000), 100);
  sio_buf_deinit(&b);
  /* deeper than SIO_JSON_MAX_DEPTH (only C code can build this) */
  o = json_object_new_array();
  for (i = 0; i < SIO_JSON_MAX_DEPTH + 5; i++) {
    json_object *a = json_object_new_array();
    json_object_array_add(a, o);
    o = a;
  }
  ck_assert_int_eq(sio_binary_count_placeholders(o, 1), SIO_ERR_DEPTH);
  json_object_put(o);
}
END_TEST

static void decode(sio_packet *p, const char *s) {
  ck_assert_int_eq(sio_packet_decode(p, s, strlen(s), NULL), 0);
}

START_TEST(reader_flow) {
  sio_binary_reader r;
  sio_packet p;
  sio_bin_part *parts;
  size_t nparts;
  sio_buf out;
  /* the header lives in a heap buffer freed before the attachments come:
   * the reader must have copied the namespace */
  char *msg = strdup("52-/admin,5[\"baz\"," PH(0) ",{\"x\":" PH(1) "}]");
  sio_binary_reader_init(&r, 0);
  decode(&p, msg);
  ck_assert_int_eq(sio_binary_reader_start(&r, &p), 0);
  ck_assert_ptr_null(p.data);
  free(msg);
  ck_assert_int_eq(sio_binary_reader_start(&r, &p), SIO_ERR_STATE);
  ck_assert_int_eq(sio_binary_reader_add(&r, (const uint8_t *)"\1\2", 2), 0);
  ck_assert_int_eq(sio_binary_reader_add(&r, (const uint8_t *)"\3\4", 2), 1);
  ck_assert_int_eq(sio_binary_reader_add(&r, (const uint8_t *)"\5", 1),
                   SIO_ERR_STATE);
  sio_binary_reader_take(&r, &p, &parts, &nparts);
  ck_assert_int_eq(p.type, SIO_PACKET_BINARY_EVENT);
  ck_assert_uint_eq(p.nsp_len, 6);
  ck_assert_mem_eq(p.nsp, "/admin", 6);
  ck_assert_int_eq(p.id, 5);
  ck_assert_uint_eq(nparts, 2);
  ck_assert_mem_eq(parts[0].data, "\1\2", 2);
  ck_assert_mem_eq(parts[1].data, "\3\4", 2);
  sio_buf_init(&out);
  ck_assert_int_eq(
      sio_packet_encode(&out, 0, p.type, "/admin", p.id, p.nattach, p.data), 0);
  ck_assert_str_eq(out.data,
                   "52-/admin,5[\"baz\"," PH(0) ",{\"x\":" PH(1) "}]");
  sio_buf_deinit(&out);
  sio_packet_clear(&p);
  sio_binary_parts_free(parts, nparts);
  /* idle again: add is refused, a new header is taken */
  ck_assert_int_eq(sio_binary_reader_add(&r, (const uint8_t *)"x", 1),
                   SIO_ERR_STATE);
  decode(&p, "61-15[\"bar\"," PH(0) "]");
  ck_assert_int_eq(sio_binary_reader_start(&r, &p), 0);
  ck_assert_int_eq(sio_binary_reader_add(&r, NULL, 0), 1);
  sio_binary_reader_take(&r, &p, &parts, &nparts);
  ck_assert_int_eq(p.type, SIO_PACKET_BINARY_ACK);
  ck_assert_str_eq(p.nsp, "/");
  ck_assert_uint_eq(parts[0].len, 0);
  sio_packet_clear(&p);
  sio_binary_parts_free(parts, nparts);
  sio_binary_reader_deinit(&r);
  sio_binary_parts_free(NULL, 3);
}
END_TEST

START_TEST(reader_errors) {
  sio_binary_reader r;
  sio_packet p;
  sio_bin_part *parts = (sio_bin_part *)1;
  size_t nparts = 9;
  sio_binary_reader_init(&r, 5);
  /* not complete: take hands out nothing */
  sio_binary_reader_take(&r, &p, &parts, &nparts);
  ck_assert_ptr_null(parts);
  ck_assert_uint_eq(nparts, 0);
  ck_assert_ptr_null(p.data);
  /* not a binary packet */
  decode(&p, "2[\"a\"]");
  ck_assert_int_eq(sio_binary_reader_start(&r, &p), SIO_ERR_INVAL);
  ck_assert_ptr_nonnull(p.data);
  sio_packet_clear(&p);
  /* placeholder out of range: the caller keeps the data */
  decode(&p, "51-[\"a\"," PH(1) "]");
  ck_assert_int_eq(sio_binary_reader_start(&r, &p), SIO_ERR_PROTO);
  ck_assert_ptr_nonnull(p.data);
  sio_packet_clear(&p);
  decode(&p, "52-[\"a\"," PH(1) "," PH(1) "]");
  ck_assert_int_eq(sio_binary_reader_start(&r, &p), SIO_ERR_PROTO);
  sio_packet_clear(&p);
  /* max_bytes */
  decode(&p, "53-[\"a\"]");
  ck_assert_int_eq(sio_binary_reader_start(&r, &p), 0);
  ck_assert_int_eq(sio_binary_reader_add(&r, (const uint8_t *)"abc", 3), 0);
  ck_assert_int_eq(sio_binary_reader_add(&r, (const uint8_t *)"abc", 3),
                   SIO_ERR_TOOBIG);
  ck_assert_int_eq(sio_binary_reader_add(&r, (const uint8_t *)"ab", 2), 0);
  ck_assert_int_eq(sio_binary_reader_add(&r, (const uint8_t *)"a", 1),
                   SIO_ERR_TOOBIG);
  ck_assert_int_eq(sio_binary_reader_add(&r, NULL, 0), 1);
  /* deinit with a complete packet not taken frees it all */
  sio_binary_reader_deinit(&r);
  ck_assert_uint_eq(r.max_bytes, 5);
  ck_assert_int_eq(r.active, 0);
  /* deinit in the middle */
  decode(&p, "52-/x,[\"a\"]");
  ck_assert_int_eq(sio_binary_reader_start(&r, &p), 0);
  ck_assert_int_eq(sio_binary_reader_add(&r, (const uint8_t *)"a", 1), 0);
  sio_binary_reader_deinit(&r);
  sio_binary_reader_deinit(&r);
}
END_TEST

/* ---- allocation failures over decode + start + add + take ---- */

static int fm_reader(void *ud) {
  sio_binary_reader r;
  sio_packet p;
  sio_bin_part *parts;
  size_t nparts, i;
  sio_packet_limits lim = {100, 0};
  sio_buf b;
  int rv;
  (void)ud;
  sio_buf_init(&b);
  sio_binary_reader_init(&r, 0);
  rv = sio_buf_append_str(&b, "670-/admin,3[");
  for (i = 0; !rv && i < 70; i++)
    rv = sio_buf_appendf(&b, "%s{\"_placeholder\":true,\"num\":%zu}",
                         i ? "," : "", i);
  if (!rv)
    rv = sio_buf_append_byte(&b, ']');
  if (!rv)
    rv = sio_packet_decode(&p, b.data, b.len, &lim);
  if (!rv) {
    rv = sio_binary_reader_start(&r, &p);
    sio_packet_clear(&p); /* no-op on success */
  }
  for (i = 0; !rv && i < 70; i++) {
    rv = sio_binary_reader_add(&r, (const uint8_t *)"data", 4);
    if (rv == 1 && i == 69)
      rv = 0;
    else if (rv == 1)
      rv = SIO_ERR_INVAL;
  }
  if (!rv) {
    sio_binary_reader_take(&r, &p, &parts, &nparts);
    if (nparts != 70 || p.nsp_len != 6)
      rv = SIO_ERR_INVAL;
    sio_packet_clear(&p);
    sio_binary_parts_free(parts, nparts);
  }
  sio_binary_reader_deinit(&r);
  sio_buf_deinit(&b);
  return rv;
}

START_TEST(failmalloc_reader) {
  ck_assert_int_ge(failmalloc_run(fm_reader, NULL), 70);
}
END_TEST

Suite *sio_binary_suite(void) {
  Suite *s = suite_create("sio_binary");
  TCase *tc = tcase_create("core");
  tcase_add_test(tc, placeholders);
  tcase_add_test(tc, placeholders_many_and_deep);
  tcase_add_test(tc, reader_flow);
  tcase_add_test(tc, reader_errors);
  tcase_add_test(tc, failmalloc_reader);
  suite_add_tcase(s, tc);
  return s;
}
