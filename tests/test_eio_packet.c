/* test_eio_packet.c: one Engine.IO packet <-> bytes. Golden vectors ("T"
 * lines of tests/data/eio_vectors.txt) come from engine.io-parser 5.2.3's
 * encodePacket under Node 20, captured by tests/data/gen_vectors.js. */
#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "check_suites.h"
#include "eio_packet.h"
#include "failmalloc.h"
#include "sio_int.h"

/* Reads the "T" lines: type, data ("-" = none), encoded; \xHH unescaped. */
typedef struct tvec {
  int type;
  char data[512], enc[512];
  size_t dlen, elen;
  int has_data;
} tvec;

static size_t unesc(char *o, const char *s, size_t len) {
  size_t i, n = 0;
  for (i = 0; i < len; i++) {
    if (s[i] == '\\' && i + 3 < len + 1 && s[i + 1] == 'x') {
      o[n++] = (char)strtol((char[]){s[i + 2], s[i + 3], 0}, NULL, 16);
      i += 3;
    } else {
      o[n++] = s[i];
    }
  }
  o[n] = '\0';
  return n;
}

static FILE *open_vectors(void) {
  char path[4200];
  const char *sd = getenv("srcdir");
  const char *slash = strrchr(__FILE__, '/');
  FILE *fp;
  if (sd)
    snprintf(path, sizeof(path), "%s/tests/data/eio_vectors.txt", sd);
  else
    snprintf(path, sizeof(path), "%.*s/data/eio_vectors.txt",
             slash ? (int)(slash - __FILE__) : 1, slash ? __FILE__ : ".");
  fp = fopen(path, "r");
  ck_assert_msg(fp != NULL, "cannot open %s", path);
  return fp;
}

static size_t load_t(tvec *v, size_t max) {
  FILE *fp = open_vectors();
  char line[2048];
  size_t n = 0;
  while (fgets(line, sizeof(line), fp) && n < max) {
    char *f[3], *p;
    int i;
    if (strncmp(line, "T\t", 2) != 0)
      continue;
    line[strcspn(line, "\n")] = '\0';
    p = line + 2;
    for (i = 0; i < 3; i++) {
      f[i] = p;
      p = strchr(p, '\t');
      if (p)
        *p++ = '\0';
      else
        ck_assert_int_eq(i, 2);
    }
    v[n].type = atoi(f[0]);
    v[n].has_data = strcmp(f[1], "-") != 0;
    v[n].dlen = v[n].has_data ? unesc(v[n].data, f[1], strlen(f[1])) : 0;
    v[n].elen = unesc(v[n].enc, f[2], strlen(f[2]));
    n++;
  }
  fclose(fp);
  return n;
}

START_TEST(golden_text) {
  tvec v[32];
  size_t n = load_t(v, SIO_ARRLEN(v)), i;
  sio_buf b;
  ck_assert_uint_ge(n, 10);
  sio_buf_init(&b);
  for (i = 0; i < n; i++) {
    eio_packet p = {(eio_packet_type)v[i].type, 0, (const uint8_t *)v[i].data,
                    v[i].dlen};
    eio_packet q;
    sio_buf_reset(&b);
    ck_assert_int_eq(eio_packet_encode_text(&b, &p), 0);
    ck_assert_uint_eq(b.len, v[i].elen);
    ck_assert_mem_eq(b.data, v[i].enc, b.len);
    ck_assert_int_eq(
        eio_packet_decode_text(&q, (const uint8_t *)v[i].enc, v[i].elen), 0);
    ck_assert_int_eq(q.type, v[i].type);
    ck_assert_int_eq(q.binary, 0);
    ck_assert_uint_eq(q.len, v[i].dlen);
    ck_assert_mem_eq(q.data, v[i].data, q.len);
  }
  sio_buf_deinit(&b);
}
END_TEST

START_TEST(decode_text_rules) {
  eio_packet p;
  const uint8_t *in = (const uint8_t *)"0123456789bx/";
  int c;
  for (c = 0; c < 256; c++) {
    uint8_t one = (uint8_t)c;
    int rv = eio_packet_decode_text(&p, &one, 1);
    if (c >= '0' && c <= '6') {
      ck_assert_int_eq(rv, 0);
      ck_assert_int_eq(p.type, c - '0');
      ck_assert_uint_eq(p.len, 0);
      ck_assert_ptr_eq(p.data, &one + 1);
    } else {
      ck_assert_int_eq(rv, SIO_ERR_PROTO);
    }
  }
  ck_assert_int_eq(eio_packet_decode_text(&p, in, 0), SIO_ERR_PROTO);
  /* 'b' base64 records belong to polling payloads only */
  ck_assert_int_eq(eio_packet_decode_text(&p, in + 10, 3), SIO_ERR_PROTO);
  ck_assert_int_eq(eio_packet_decode_text(&p, in + 4, 3), 0);
  ck_assert_int_eq(p.type, EIO_PACKET_MESSAGE);
  ck_assert_ptr_eq(p.data, in + 5);
  ck_assert_uint_eq(p.len, 2);
}
END_TEST

START_TEST(binary_frames) {
  eio_packet p;
  sio_buf b;
  const uint8_t raw[] = {0, 1, 2, 0xff};
  eio_packet_decode_binary(&p, raw, sizeof(raw));
  ck_assert_int_eq(p.type, EIO_PACKET_MESSAGE);
  ck_assert_int_eq(p.binary, 1);
  ck_assert_ptr_eq(p.data, raw);
  ck_assert_uint_eq(p.len, 4);
  sio_buf_init(&b);
  sio_buf_append_str(&b, "keep");
  ck_assert_int_eq(eio_packet_encode_text(&b, &p), SIO_ERR_INVAL);
  p.binary = 0;
  p.type = (eio_packet_type)7;
  ck_assert_int_eq(eio_packet_encode_text(&b, &p), SIO_ERR_INVAL);
  ck_assert_str_eq(b.data, "keep");
  p.type = EIO_PACKET_PING;
  p.data = NULL;
  p.len = 0;
  ck_assert_int_eq(eio_packet_encode_text(&b, &p), 0);
  ck_assert_str_eq(b.data, "keep2");
  sio_buf_deinit(&b);
}
END_TEST

static int fm_encode(void *ud) {
  sio_buf b;
  char big[300];
  eio_packet p = {EIO_PACKET_MESSAGE, 0, (const uint8_t *)big, sizeof(big)};
  int rv;
  (void)ud;
  memset(big, 'x', sizeof(big));
  sio_buf_init(&b);
  rv = eio_packet_encode_text(&b, &p);
  if (!rv)
    rv = eio_packet_encode_text(&b, &p);
  if (!rv && b.len != 2 * (sizeof(big) + 1))
    rv = SIO_ERR_INVAL;
  sio_buf_deinit(&b);
  return rv;
}

START_TEST(failmalloc_encode) {
  ck_assert_int_ge(failmalloc_run(fm_encode, NULL), 1);
}
END_TEST

Suite *eio_packet_suite(void) {
  Suite *s = suite_create("eio_packet");
  TCase *tc = tcase_create("core");
  tcase_add_test(tc, golden_text);
  tcase_add_test(tc, decode_text_rules);
  tcase_add_test(tc, binary_frames);
  tcase_add_test(tc, failmalloc_encode);
  suite_add_tcase(s, tc);
  return s;
}
