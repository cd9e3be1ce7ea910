/* test_sio_packet.c: the Socket.IO packet codec (the JSON inside is
 * test_sio_json.c's).
 * Golden vectors come from tests/data/sio_packet_vectors.txt, captured from
 * socket.io-parser 4.2.7 under Node 20 by tests/data/gen_vectors.js (see
 * that file for the line format and how to regenerate). */
#include <check.h>
#include <locale.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "check_suites.h"
#include "failmalloc.h"
#include "sio_int.h"
#include "sio_packet.h"
#include "vectors.h"

/* ---- helpers ---- */

static void check_fields(const vline *l, const sio_packet *p, int base) {
  /* type nsp id nattach data at f[base..base+4] */
  ck_assert_msg(p->type == atoi(l->f[base]), "line %d: type", l->lineno);
  ck_assert_msg(p->nsp_len == l->n[base + 1] &&
                    memcmp(p->nsp, l->f[base + 1], p->nsp_len) == 0,
                "line %d: nsp %.*s", l->lineno, (int)p->nsp_len, p->nsp);
  ck_assert_msg(p->id == strtoll(l->f[base + 2], NULL, 10), "line %d: id",
                l->lineno);
  ck_assert_msg(p->nattach == strtoull(l->f[base + 3], NULL, 10),
                "line %d: nattach", l->lineno);
  if (strcmp(l->f[base + 4], "-") == 0) {
    ck_assert_msg(p->data == NULL, "line %d: data", l->lineno);
  } else {
    ck_assert_msg(p->data != NULL, "line %d: no data", l->lineno);
    ck_assert_msg(strcmp(vec_js(p->data), l->f[base + 4]) == 0,
                  "line %d: data %s", l->lineno, vec_js(p->data));
  }
}

static const char *nsp_arg(const vline *l, int i) { return l->f[i]; }

/* ---- golden vectors ---- */

START_TEST(golden_encode) {
  size_t n, i, k = 0;
  vline *v = vec_load("sio_packet_vectors.txt", &n);
  sio_buf b;
  sio_buf_init(&b);
  for (i = 0; i < n; i++) {
    vline *l = &v[i];
    json_object *data = NULL;
    sio_packet_type type;
    int64_t id;
    size_t nattach;
    if (strcmp(l->f[0], "E") != 0)
      continue;
    k++;
    type = (sio_packet_type)atoi(l->f[1]);
    id = strtoll(l->f[3], NULL, 10);
    nattach = strtoull(l->f[4], NULL, 10);
    if (strcmp(l->f[5], "-") != 0)
      data = vec_parse(l->f[5]);
    sio_buf_reset(&b);
    ck_assert_int_eq(
        sio_packet_encode(&b, 0, type, nsp_arg(l, 2), id, nattach, data), 0);
    ck_assert_msg(b.len == l->n[6] && memcmp(b.data, l->f[6], b.len) == 0,
                  "line %d: got %s", l->lineno, b.data);
    sio_buf_reset(&b);
    ck_assert_int_eq(
        sio_packet_encode(&b, 1, type, nsp_arg(l, 2), id, nattach, data), 0);
    ck_assert_int_eq(b.data[0], '4');
    ck_assert_msg(memcmp(b.data + 1, l->f[6], l->n[6]) == 0, "line %d",
                  l->lineno);
    if ((type == SIO_PACKET_EVENT || type == SIO_PACKET_BINARY_EVENT) &&
        json_object_is_type(json_object_array_get_idx(data, 0),
                            json_type_string)) {
      json_object *args = json_object_new_array();
      size_t j;
      for (j = 1; j < json_object_array_length(data); j++)
        json_object_array_add(
            args, json_object_get(json_object_array_get_idx(data, j)));
      sio_buf_reset(&b);
      ck_assert_int_eq(
          sio_packet_encode_event(
              &b, 0, nsp_arg(l, 2), id,
              json_object_get_string(json_object_array_get_idx(data, 0)), args,
              nattach),
          0);
      ck_assert_msg(b.len == l->n[6] && memcmp(b.data, l->f[6], b.len) == 0,
                    "line %d: event got %s", l->lineno, b.data);
      json_object_put(args);
    }
    if (type == SIO_PACKET_ACK || type == SIO_PACKET_BINARY_ACK) {
      sio_buf_reset(&b);
      ck_assert_int_eq(
          sio_packet_encode_ack(&b, 0, nsp_arg(l, 2), id, data, nattach), 0);
      ck_assert_msg(b.len == l->n[6] && memcmp(b.data, l->f[6], b.len) == 0,
                    "line %d: ack got %s", l->lineno, b.data);
    }
    json_object_put(data);
  }
  ck_assert_uint_ge(k, 20);
  sio_buf_deinit(&b);
  vec_free(v, n);
}
END_TEST

START_TEST(golden_decode) {
  size_t n, i, k = 0;
  vline *v = vec_load("sio_packet_vectors.txt", &n);
  for (i = 0; i < n; i++) {
    vline *l = &v[i];
    sio_packet p;
    int rv;
    if (strcmp(l->f[0], "E") == 0) {
      rv = sio_packet_decode(&p, l->f[6], l->n[6], NULL);
      ck_assert_msg(rv == 0, "line %d: rv %d", l->lineno, rv);
      check_fields(l, &p, 1);
      sio_packet_clear(&p);
      k++;
    } else if (strcmp(l->f[0], "P") == 0) {
      rv = sio_packet_decode(&p, l->f[1], l->n[1], NULL);
      if (strcmp(l->f[2], "OK") == 0) {
        ck_assert_msg(rv == 0, "line %d: rv %d", l->lineno, rv);
        check_fields(l, &p, 3);
        sio_packet_clear(&p);
      } else {
        ck_assert_msg(rv < 0, "line %d: %s accepted", l->lineno, l->f[1]);
        ck_assert_ptr_null(p.data);
      }
      k++;
    }
  }
  ck_assert_uint_ge(k, 100);
  vec_free(v, n);
}
END_TEST

/* Every prefix of every vector decodes to an error or to a packet that
 * re-encodes to text decoding to the same packet. */
START_TEST(golden_prefixes) {
  size_t n, i, cut, total = 0;
  vline *v = vec_load("sio_packet_vectors.txt", &n);
  sio_buf b, b2;
  sio_buf_init(&b);
  sio_buf_init(&b2);
  for (i = 0; i < n; i++) {
    vline *l = &v[i];
    const char *text;
    size_t len;
    if (strcmp(l->f[0], "E") == 0) {
      text = l->f[6];
      len = l->n[6];
    } else if (strcmp(l->f[0], "P") == 0) {
      text = l->f[1];
      len = l->n[1];
    } else {
      continue;
    }
    for (cut = 0; cut <= len; cut++) {
      /* a heap copy of exactly cut bytes, so ASan sees any overread */
      char *c = malloc(cut ? cut : 1);
      sio_packet p, q;
      char *nsp;
      memcpy(c, text, cut);
      total++;
      if (sio_packet_decode(&p, c, cut, NULL) != 0) {
        free(c);
        continue;
      }
      nsp = strndup(p.nsp, p.nsp_len);
      sio_buf_reset(&b);
      ck_assert_int_eq(
          sio_packet_encode(&b, 0, p.type, nsp, p.id, p.nattach, p.data), 0);
      ck_assert_int_eq(sio_packet_decode(&q, b.data, b.len, NULL), 0);
      ck_assert_int_eq(q.type, p.type);
      ck_assert_int_eq(q.id, p.id);
      ck_assert_uint_eq(q.nattach, p.nattach);
      ck_assert_uint_eq(q.nsp_len, p.nsp_len);
      ck_assert_mem_eq(q.nsp, nsp, p.nsp_len);
      sio_buf_reset(&b2);
      ck_assert_int_eq(
          sio_packet_encode(&b2, 0, q.type, nsp, q.id, q.nattach, q.data), 0);
      ck_assert_str_eq(b.data, b2.data);
      sio_packet_clear(&p);
      sio_packet_clear(&q);
      free(nsp);
      free(c);
    }
  }
  ck_assert_uint_ge(total, 1000);
  sio_buf_deinit(&b);
  sio_buf_deinit(&b2);
  vec_free(v, n);
}
END_TEST

/* ---- decoding rules ---- */

static int dec(const char *s) {
  sio_packet p;
  int rv = sio_packet_decode(&p, s, strlen(s), NULL);
  if (rv == 0)
    sio_packet_clear(&p);
  else
    ck_assert_ptr_null(p.data);
  return rv;
}

START_TEST(malformed) {
  /* "4abc" over the wire: the socket.io text is "abc" */
  ck_assert_int_eq(dec("abc"), SIO_ERR_PROTO);
  ck_assert_int_eq(dec("2{}"), SIO_ERR_PROTO);
  ck_assert_int_eq(dec("2"), SIO_ERR_PROTO);
  ck_assert_int_eq(dec(""), SIO_ERR_PROTO);
  ck_assert_int_eq(dec("2abc[\"x\"]"), SIO_ERR_PROTO);
  ck_assert_int_eq(dec("7"), SIO_ERR_PROTO);
  ck_assert_int_eq(dec("/"), SIO_ERR_PROTO);
  ck_assert_int_eq(dec("2 [\"a\"]"), SIO_ERR_PROTO);
  ck_assert_int_eq(dec("2[\"a\"] \t\r\n"), 0);
  ck_assert_int_eq(dec("2null"), SIO_ERR_PROTO);
  ck_assert_int_eq(dec("0null"), SIO_ERR_PROTO);
  ck_assert_int_eq(dec("4null"), SIO_ERR_PROTO);
  ck_assert_int_eq(dec("3"), SIO_ERR_PROTO);
  ck_assert_int_eq(dec("3\"x\""), SIO_ERR_PROTO);
  ck_assert_int_eq(dec("1{}"), SIO_ERR_PROTO);
  ck_assert_int_eq(dec("1"), 0);
  ck_assert_int_eq(dec("0"), 0);
  ck_assert_int_eq(dec("4"), 0);
  /* binary header */
  ck_assert_int_eq(dec("5-[\"a\"]"), SIO_ERR_PROTO);
  ck_assert_int_eq(dec("50-[\"a\"]"), SIO_ERR_PROTO);
  ck_assert_int_eq(dec("51[\"a\"]"), SIO_ERR_PROTO);
  ck_assert_int_eq(dec("51"), SIO_ERR_PROTO);
  ck_assert_int_eq(dec("5"), SIO_ERR_PROTO);
  ck_assert_int_eq(dec("5 1-[\"a\"]"), SIO_ERR_PROTO);
  ck_assert_int_eq(dec("5x-[\"a\"]"), SIO_ERR_PROTO);
  ck_assert_int_eq(dec("51-[\"a\"]"), 0);
  ck_assert_int_eq(dec("610-[]"), 0);
  ck_assert_int_eq(dec("611-[]"), SIO_ERR_LIMIT);
  ck_assert_int_eq(dec("699999999999999999999999999999-[]"), SIO_ERR_LIMIT);
  ck_assert_int_eq(dec("699999999999999999999999999999[]"), SIO_ERR_PROTO);
  /* JSON that JSON.parse refuses and json-c's tokener takes */
  ck_assert_int_eq(dec("2[\"a\",NaN]"), SIO_ERR_PROTO);
  ck_assert_int_eq(dec("2[\"a\",Infinity]"), SIO_ERR_PROTO);
  ck_assert_int_eq(dec("2[\"a\",-Infinity]"), SIO_ERR_PROTO);
  ck_assert_int_eq(dec("2[\"a\",1.]"), SIO_ERR_PROTO);
  ck_assert_int_eq(dec("2[\"a\x01\"]"), SIO_ERR_PROTO);
  ck_assert_int_eq(dec("2[\"a\"]\v"), SIO_ERR_PROTO);
  ck_assert_int_eq(dec("2[\"a\",/*x*/1]"), SIO_ERR_PROTO);
  ck_assert_int_eq(dec("2[\"a\",-01]"), SIO_ERR_PROTO);
  ck_assert_int_eq(dec("2[\"a\",1e+]"), SIO_ERR_PROTO);
  ck_assert_int_eq(dec("2[\"a\",\"\\u00g0\"]"), SIO_ERR_PROTO);
  ck_assert_int_eq(dec("2[\"a\",nulL]"), SIO_ERR_PROTO);
  ck_assert_int_eq(dec("2[\"a\",{\"k\":1 \"j\":2}]"), SIO_ERR_PROTO);
  ck_assert_int_eq(dec("2[\"a\"]]"), SIO_ERR_PROTO);
  ck_assert_int_eq(dec("2[\"a\"][]"), SIO_ERR_PROTO);
  /* invalid UTF-8: overlong, surrogate, past U+10FFFF, truncated, stray */
  ck_assert_int_eq(dec("2[\"\xc0\xaf\"]"), SIO_ERR_PROTO);
  ck_assert_int_eq(dec("2[\"\xed\xa0\x80\"]"), SIO_ERR_PROTO);
  ck_assert_int_eq(dec("2[\"\xf4\x90\x80\x80\"]"), SIO_ERR_PROTO);
  ck_assert_int_eq(dec("2[\"\xe2\x82\"]"), SIO_ERR_PROTO);
  ck_assert_int_eq(dec("2[\"\x80\"]"), SIO_ERR_PROTO);
  ck_assert_int_eq(dec("2[\"\xff\"]"), SIO_ERR_PROTO);
  ck_assert_int_eq(dec("2[\"\xf0\x9f\x98\x80\xe2\x82\xac\xc3\xa9\"]"), 0);
  /* U+0000 is fine in values, not in keys (json-c keys are C strings) */
  ck_assert_int_eq(dec("2[\"a\\u0000\"]"), 0);
  ck_assert_int_eq(dec("2[\"a\",{\"k\\u0000\":1}]"), SIO_ERR_PROTO);
}
END_TEST

START_TEST(ids_and_namespaces) {
  sio_packet p;
  ck_assert_int_eq(sio_packet_decode(&p, "29007199254740991[\"a\"]", 22, NULL),
                   0);
  ck_assert_int_eq(p.id, 9007199254740991LL);
  sio_packet_clear(&p);
  ck_assert_int_eq(dec("29007199254740992[\"a\"]"), SIO_ERR_LIMIT);
  ck_assert_int_eq(dec("2999999999999999999999999999[\"a\"]"), SIO_ERR_LIMIT);
  ck_assert_int_eq(sio_packet_decode(&p, "40/random", 9, NULL),
                   SIO_ERR_PROTO); /* "4" is CONNECT_ERROR, then an id */
  ck_assert_int_eq(sio_packet_decode(&p, "0/random", 8, NULL), 0);
  ck_assert_uint_eq(p.nsp_len, 7);
  ck_assert_mem_eq(p.nsp, "/random", 7);
  ck_assert_ptr_null(p.data);
  ck_assert_int_eq(p.id, -1);
  ck_assert_int_eq(sio_packet_decode(&p, "0", 1, NULL), 0);
  ck_assert_str_eq(p.nsp, "/");
  ck_assert_uint_eq(p.nsp_len, 1);
  /* input not NUL-terminated: the namespace stops at len */
  ck_assert_int_eq(sio_packet_decode(&p, "1/abcXYZ", 4, NULL), 0);
  ck_assert_uint_eq(p.nsp_len, 3);
  ck_assert_int_eq(sio_packet_decode(&p, "3/a,0[]", 7, NULL), 0);
  ck_assert_int_eq(p.id, 0);
  ck_assert_uint_eq(p.nsp_len, 2);
  sio_packet_clear(&p);
  ck_assert_int_eq(sio_packet_decode(&p, "21[1]", 5, NULL), 0);
  ck_assert_int_eq(p.id, 1);
  ck_assert_str_eq(vec_js(p.data), "[1]");
  sio_packet_clear(&p);
  sio_packet_clear(&p); /* NULL-safe */
}
END_TEST

static int decl(const char *s, const sio_packet_limits *lim) {
  sio_packet p;
  int rv = sio_packet_decode(&p, s, strlen(s), lim);
  if (rv == 0)
    sio_packet_clear(&p);
  else
    ck_assert_ptr_null(p.data);
  return rv;
}

START_TEST(limits) {
  sio_packet p;
  sio_packet_limits lim = {2, 3};
  int i;
  ck_assert_int_eq(decl("52-[\"a\"]", &lim), 0);
  ck_assert_int_eq(decl("53-[\"a\"]", &lim), SIO_ERR_LIMIT);
  ck_assert_int_eq(decl("2[\"a\",[{\"b\":1}]]", &lim), 0);
  ck_assert_int_eq(decl("2[\"a\",[{\"b\":[]}]]", &lim), SIO_ERR_DEPTH);
  ck_assert_int_eq(decl("2[\"a\",[{\"b\":{}}]]", &lim), SIO_ERR_DEPTH);
  ck_assert_int_eq(decl("2[\"a\",[{\"b\":[1,2,\"x\"]}]]", &lim), SIO_ERR_DEPTH);
  /* zero fields take the defaults (10, 32) */
  lim.max_attachments = 0;
  lim.max_depth = 0;
  ck_assert_int_eq(decl("610-[]", &lim), 0);
  ck_assert_int_eq(decl("611-[]", &lim), SIO_ERR_LIMIT);
  /* default depth 32 containers, counting the outer array */
  {
    sio_buf b;
    sio_buf_init(&b);
    sio_buf_append_str(&b, "2[\"a\",");
    for (i = 0; i < 31; i++)
      sio_buf_append_byte(&b, '[');
    for (i = 0; i < 31; i++)
      sio_buf_append_byte(&b, ']');
    sio_buf_append_byte(&b, ']');
    ck_assert_int_eq(sio_packet_decode(&p, b.data, b.len, NULL), 0);
    sio_packet_clear(&p);
    ck_assert_int_eq(sio_packet_decode(&p, b.data, b.len, &lim), 0);
    sio_packet_clear(&p);
    sio_buf_reset(&b);
    sio_buf_append_str(&b, "2[\"a\",");
    for (i = 0; i < 32; i++)
      sio_buf_append_byte(&b, '[');
    for (i = 0; i < 32; i++)
      sio_buf_append_byte(&b, ']');
    sio_buf_append_byte(&b, ']');
    ck_assert_int_eq(sio_packet_decode(&p, b.data, b.len, NULL), SIO_ERR_DEPTH);
    /* a huge limit is capped at SIO_JSON_MAX_DEPTH, so no stack blowup */
    lim.max_depth = 1 << 30;
    sio_buf_reset(&b);
    sio_buf_append_str(&b, "2[\"a\",");
    for (i = 0; i < 100000; i++)
      sio_buf_append_byte(&b, '[');
    ck_assert_int_eq(sio_packet_decode(&p, b.data, b.len, &lim), SIO_ERR_DEPTH);
    sio_buf_deinit(&b);
  }
}
END_TEST

/* ---- encoding ---- */

START_TEST(encode_forms) {
  sio_buf b;
  json_object *args = vec_parse("[1,{\"a\":\"b\"}]"), *d;
  sio_buf_init(&b);
  ck_assert_int_eq(
      sio_packet_encode(&b, 1, SIO_PACKET_CONNECT, NULL, -1, 0, NULL), 0);
  ck_assert_str_eq(b.data, "40");
  sio_buf_reset(&b);
  ck_assert_int_eq(
      sio_packet_encode(&b, 0, SIO_PACKET_DISCONNECT, "", -1, 0, NULL), 0);
  ck_assert_str_eq(b.data, "1");
  sio_buf_reset(&b);
  ck_assert_int_eq(
      sio_packet_encode(&b, 0, SIO_PACKET_CONNECT, "/admin", -1, 0, NULL), 0);
  ck_assert_str_eq(b.data, "0/admin,");
  sio_buf_reset(&b);
  ck_assert_int_eq(
      sio_packet_encode_event(&b, 1, "/", 3, "chat \"x\"", args, 0), 0);
  ck_assert_str_eq(b.data, "423[\"chat \\\"x\\\"\",1,{\"a\":\"b\"}]");
  sio_buf_reset(&b);
  ck_assert_int_eq(sio_packet_encode_event(&b, 0, "/n", -1, "e", NULL, 2), 0);
  ck_assert_str_eq(b.data, "52-/n,[\"e\"]");
  sio_buf_reset(&b);
  ck_assert_int_eq(sio_packet_encode_ack(&b, 1, NULL, 0, NULL, 0), 0);
  ck_assert_str_eq(b.data, "430[]");
  sio_buf_reset(&b);
  ck_assert_int_eq(sio_packet_encode_ack(&b, 0, "/x", 7, args, 1), 0);
  ck_assert_str_eq(b.data, "61-/x,7[1,{\"a\":\"b\"}]");
  /* errors leave the buffer as it was */
  sio_buf_reset(&b);
  sio_buf_append_str(&b, "keep");
  d = json_object_new_object();
  ck_assert_int_eq(sio_packet_encode_event(&b, 0, NULL, -1, "e", d, 0),
                   SIO_ERR_INVAL);
  ck_assert_int_eq(sio_packet_encode_event(&b, 0, NULL, -1, NULL, NULL, 0),
                   SIO_ERR_INVAL);
  ck_assert_int_eq(sio_packet_encode_ack(&b, 0, NULL, 1, d, 0), SIO_ERR_INVAL);
  ck_assert_int_eq(
      sio_packet_encode(&b, 0, (sio_packet_type)7, NULL, -1, 0, NULL),
      SIO_ERR_INVAL);
  json_object_put(d);
  d = vec_nest(SIO_JSON_MAX_DEPTH + 1);
  ck_assert_int_eq(sio_packet_encode(&b, 1, SIO_PACKET_EVENT, "/a", 5, 0, d),
                   SIO_ERR_DEPTH);
  ck_assert_int_eq(sio_json_append(&b, d), SIO_ERR_DEPTH);
  ck_assert_str_eq(b.data, "keep");
  ck_assert_uint_eq(b.len, 4);
  json_object_put(d);
  d = vec_nest(SIO_JSON_MAX_DEPTH);
  ck_assert_int_eq(sio_json_append(&b, d), 0);
  json_object_put(d);
  json_object_put(args);
  sio_buf_deinit(&b);
}
END_TEST

/* ---- allocation failures ---- */

static const char *const fm_inputs[] = {
    "52-/admin,77[\"ev\",{\"_placeholder\":true,\"num\":0},\"a long string "
    "that makes the scratch buffer grow past its first sixty-four bytes\","
    "{\"k\":{\"0\":1,\"1\":2,\"2\":3,\"3\":4,\"4\":5,\"5\":6,\"6\":7,\"7\":8,"
    "\"8\":9,\"9\":10,\"10\":11,\"11\":12,\"12\":13,\"13\":14,\"14\":15,"
    "\"15\":16,\"16\":17,\"x\":[1.5,-2e-5,"
    "0.1234567890123456789012345678901234567890123456789]}},"
    "{\"_placeholder\":true,\"num\":1}]",
    "0/admin,{\"token\":\"\\u00e9\\ud83d\\ude00\"}",
    "2[\"x\",NaN]",
};

static int fm_decode_encode(void *ud) {
  size_t i;
  int rv = 0;
  (void)ud;
  for (i = 0; !rv && i < SIO_ARRLEN(fm_inputs); i++) {
    sio_packet p;
    sio_buf b;
    sio_buf_init(&b);
    rv = sio_packet_decode(&p, fm_inputs[i], strlen(fm_inputs[i]), NULL);
    if (rv == SIO_ERR_PROTO && i == 2)
      rv = 0;
    else if (!rv) {
      rv = sio_packet_encode(&b, 1, p.type, "/admin", p.id, p.nattach, p.data);
      if (!rv)
        rv = sio_json_append(&b, p.data);
      if (!rv && json_object_is_type(p.data, json_type_array))
        rv = sio_packet_encode_event(&b, 1, NULL, 1, "e", p.data, 0);
      if (!rv)
        rv = sio_packet_encode_ack(&b, 0, "/", 2, NULL, 0);
      sio_packet_clear(&p);
    }
    sio_buf_deinit(&b);
  }
  return rv;
}

START_TEST(failmalloc_codec) {
  ck_assert_int_ge(failmalloc_run(fm_decode_encode, NULL), 5);
}
END_TEST

Suite *sio_packet_suite(void) {
  Suite *s = suite_create("sio_packet");
  TCase *tc = tcase_create("golden");
  tcase_set_timeout(tc, 60);
  tcase_add_test(tc, golden_encode);
  tcase_add_test(tc, golden_decode);
  tcase_add_test(tc, golden_prefixes);
  suite_add_tcase(s, tc);
  tc = tcase_create("rules");
  tcase_add_test(tc, malformed);
  tcase_add_test(tc, ids_and_namespaces);
  tcase_add_test(tc, limits);
  tcase_add_test(tc, encode_forms);
  tcase_add_test(tc, failmalloc_codec);
  suite_add_tcase(s, tc);
  return s;
}
