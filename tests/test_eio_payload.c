/* test_eio_payload.c: HTTP long-polling payloads. Golden vectors ("B", "Y"
 * and "Z" lines of tests/data/eio_vectors.txt) come from engine.io-parser
 * 5.2.3 (encodePacket without binary support, encodePayload,
 * decodePayload) under Node 20, captured by tests/data/gen_vectors.js. */
#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "check_suites.h"
#include "eio_payload.h"
#include "failmalloc.h"
#include "sio_int.h"

#define MAXF 12

typedef struct pvec {
  char tag;
  int nf;
  char *f[MAXF];
  size_t n[MAXF];
} pvec;

static int hexval(int c) { return c <= '9' ? c - '0' : (c | 0x20) - 'a' + 10; }

static char *unesc(const char *s, size_t len, size_t *outn) {
  char *o = malloc(len + 1);
  size_t i, n = 0;
  for (i = 0; i < len; i++) {
    if (s[i] == '\\' && i + 3 < len + 1 && s[i + 1] == 'x') {
      o[n++] = (char)(hexval(s[i + 2]) << 4 | hexval(s[i + 3]));
      i += 3;
    } else {
      o[n++] = s[i];
    }
  }
  o[n] = '\0';
  *outn = n;
  return o;
}

static size_t load(pvec *v, size_t max) {
  char path[4200], line[4096];
  const char *sd = getenv("srcdir");
  const char *slash = strrchr(__FILE__, '/');
  FILE *fp;
  size_t n = 0;
  if (sd)
    snprintf(path, sizeof(path), "%s/tests/data/eio_vectors.txt", sd);
  else
    snprintf(path, sizeof(path), "%.*s/data/eio_vectors.txt",
             slash ? (int)(slash - __FILE__) : 1, slash ? __FILE__ : ".");
  fp = fopen(path, "r");
  ck_assert_msg(fp != NULL, "cannot open %s", path);
  while (fgets(line, sizeof(line), fp) && n < max) {
    char *p = line + 2, *tab;
    if (line[0] == '#' || line[1] != '\t')
      continue;
    line[strcspn(line, "\n")] = '\0';
    v[n].tag = line[0];
    v[n].nf = 0;
    for (;;) {
      tab = strchr(p, '\t');
      ck_assert_int_lt(v[n].nf, MAXF);
      v[n].f[v[n].nf] =
          unesc(p, tab ? (size_t)(tab - p) : strlen(p), &v[n].n[v[n].nf]);
      v[n].nf++;
      if (!tab)
        break;
      p = tab + 1;
    }
    n++;
  }
  fclose(fp);
  return n;
}

static void unload(pvec *v, size_t n) {
  size_t i;
  int j;
  for (i = 0; i < n; i++)
    for (j = 0; j < v[i].nf; j++)
      free(v[i].f[j]);
}

/* "t<type>:<data>" or "b:<hex>" ("b:-" empty) -> packet bytes in buf */
static void desc_packet(const char *d, int *binary, int *type, char *buf,
                        size_t *len) {
  size_t i;
  if (d[0] == 'b') {
    *binary = 1;
    *type = EIO_PACKET_MESSAGE;
    *len = 0;
    if (strcmp(d + 2, "-") != 0)
      for (i = 2; d[i] && d[i + 1]; i += 2)
        buf[(*len)++] = (char)(hexval(d[i]) << 4 | hexval(d[i + 1]));
  } else {
    *binary = 0;
    *type = d[1] - '0';
    *len = strlen(d + 3);
    memcpy(buf, d + 3, *len);
  }
}

/* Collects decoded packets as descriptions for comparison. */
typedef struct collect {
  char got[16][2048];
  size_t n;
  int stop_after; /* return 7 after this many packets (0 = never) */
} collect;

static int collect_cb(const eio_packet *p, void *ud) {
  collect *c = ud;
  char *o = c->got[c->n];
  size_t i;
  ck_assert_uint_lt(c->n, 16);
  if (p->binary) {
    o += sprintf(o, "b:");
    if (p->len == 0)
      sprintf(o, "-");
    for (i = 0; i < p->len; i++)
      o += sprintf(o, "%02x", p->data[i]);
  } else {
    o += sprintf(o, "t%d:", p->type);
    memcpy(o, p->data, p->len);
    o[p->len] = '\0';
  }
  c->n++;
  return c->stop_after && (int)c->n == c->stop_after ? 7 : 0;
}

START_TEST(golden_encode) {
  pvec v[64];
  size_t n = load(v, SIO_ARRLEN(v)), i, k = 0;
  sio_buf b;
  char buf[512];
  sio_buf_init(&b);
  for (i = 0; i < n; i++) {
    int j, binary, type;
    size_t len;
    sio_buf_reset(&b);
    if (v[i].tag == 'B') {
      len = 0;
      if (strcmp(v[i].f[0], "-") != 0)
        for (j = 0; v[i].f[0][j]; j += 2)
          buf[len++] =
              (char)(hexval(v[i].f[0][j]) << 4 | hexval(v[i].f[0][j + 1]));
      ck_assert_int_eq(eio_payload_append(&b, 1, 1, (uint8_t *)buf, len), 0);
      ck_assert_str_eq(b.data, v[i].f[1]);
      k++;
    } else if (v[i].tag == 'Y') {
      for (j = 1; j < v[i].nf; j++) {
        desc_packet(v[i].f[j], &binary, &type, buf + 1, &len);
        if (!binary) { /* text packets are given in full: "4hello" */
          buf[0] = (char)('0' + type);
          ck_assert_int_eq(
              eio_payload_append(&b, j == 1, 0, (uint8_t *)buf, len + 1), 0);
        } else {
          ck_assert_int_eq(
              eio_payload_append(&b, j == 1, 1, (uint8_t *)buf + 1, len), 0);
        }
      }
      ck_assert_uint_eq(b.len, v[i].n[0]);
      ck_assert_mem_eq(b.data, v[i].f[0], b.len);
      k++;
    }
  }
  ck_assert_uint_ge(k, 10);
  sio_buf_deinit(&b);
  unload(v, n);
}
END_TEST

START_TEST(golden_decode) {
  pvec v[64];
  size_t n = load(v, SIO_ARRLEN(v)), i, k = 0;
  sio_buf scratch;
  sio_buf_init(&scratch);
  for (i = 0; i < n; i++) {
    collect c;
    const char *status;
    int rv, j, first = 1;
    size_t len;
    char *in;
    if (v[i].tag == 'Y') {
      status = "OK";
      first = 1;
    } else if (v[i].tag == 'Z') {
      status = v[i].f[1];
      first = 2;
    } else {
      continue;
    }
    k++;
    len = strcmp(v[i].f[0], "-") == 0 ? 0 : v[i].n[0];
    in = malloc(len ? len : 1); /* exact size: ASan catches overreads */
    memcpy(in, v[i].f[0], len);
    memset(&c, 0, sizeof(c));
    rv = eio_payload_decode((uint8_t *)in, len, 0, &scratch, collect_cb, &c);
    if (strcmp(status, "OK") == 0)
      ck_assert_msg(rv == 0, "%s: rv %d", v[i].f[0], rv);
    else
      ck_assert_msg(rv == SIO_ERR_PROTO, "%s: rv %d", v[i].f[0], rv);
    if (strcmp(status, "STRICT") != 0) {
      ck_assert_uint_eq(c.n, (size_t)(v[i].nf - first));
      for (j = first; j < v[i].nf; j++)
        ck_assert_str_eq(c.got[j - first], v[i].f[j]);
    }
    free(in);
  }
  ck_assert_uint_ge(k, 20);
  sio_buf_deinit(&scratch);
  unload(v, n);
}
END_TEST

/* Every prefix of every payload vector: an error or packets, no crash. */
START_TEST(golden_prefixes) {
  pvec v[64];
  size_t n = load(v, SIO_ARRLEN(v)), i, cut;
  sio_buf scratch;
  sio_buf_init(&scratch);
  for (i = 0; i < n; i++) {
    if (v[i].tag != 'Y' && v[i].tag != 'Z')
      continue;
    for (cut = 0; cut <= v[i].n[0]; cut++) {
      collect c;
      char *in = malloc(cut ? cut : 1);
      int rv;
      memcpy(in, v[i].f[0], cut);
      memset(&c, 0, sizeof(c));
      rv = eio_payload_decode((uint8_t *)in, cut, 0, &scratch, collect_cb, &c);
      ck_assert(rv == 0 || rv == SIO_ERR_PROTO);
      if (cut == 0)
        ck_assert_int_eq(rv, SIO_ERR_PROTO);
      free(in);
    }
  }
  sio_buf_deinit(&scratch);
  unload(v, n);
}
END_TEST

static int run(const char *s, size_t max, collect *c) {
  sio_buf scratch;
  int rv;
  sio_buf_init(&scratch);
  memset(c, 0, sizeof(*c));
  rv = eio_payload_decode((const uint8_t *)s, strlen(s), max, &scratch,
                          collect_cb, c);
  sio_buf_deinit(&scratch);
  return rv;
}

START_TEST(rules) {
  collect c;
  sio_buf scratch;
  /* several packets, binary records, scratch reuse */
  ck_assert_int_eq(run("4a\x1e"
                       "bAQID\x1e"
                       "b/w==\x1e"
                       "2\x1e"
                       "4é",
                       0, &c),
                   0);
  ck_assert_uint_eq(c.n, 5);
  ck_assert_str_eq(c.got[0], "t4:a");
  ck_assert_str_eq(c.got[1], "b:010203");
  ck_assert_str_eq(c.got[2], "b:ff");
  ck_assert_str_eq(c.got[3], "t2:");
  ck_assert_str_eq(c.got[4], "t4:é");
  /* empty body, empty records */
  ck_assert_int_eq(run("", 0, &c), SIO_ERR_PROTO);
  ck_assert_int_eq(run("\x1e", 0, &c), SIO_ERR_PROTO);
  ck_assert_uint_eq(c.n, 0);
  ck_assert_int_eq(run("4a\x1e\x1e"
                       "4b",
                       0, &c),
                   SIO_ERR_PROTO);
  ck_assert_uint_eq(c.n, 1);
  ck_assert_int_eq(run("4a\x1e", 0, &c), SIO_ERR_PROTO);
  ck_assert_uint_eq(c.n, 1);
  /* bad base64 (Node's Buffer.from would skip the junk; we refuse) */
  ck_assert_int_eq(run("b!!!!", 0, &c), SIO_ERR_PROTO);
  ck_assert_int_eq(run("bA", 0, &c), SIO_ERR_PROTO);
  ck_assert_int_eq(run("bAQI=DBA", 0, &c), SIO_ERR_PROTO);
  ck_assert_int_eq(run("b AQID", 0, &c), SIO_ERR_PROTO);
  ck_assert_int_eq(run("bAQID\n", 0, &c), SIO_ERR_PROTO);
  ck_assert_int_eq(run("bAQ", 0, &c), 0); /* unpadded is fine */
  ck_assert_str_eq(c.got[0], "b:01");
  ck_assert_int_eq(run("b", 0, &c), 0);
  ck_assert_str_eq(c.got[0], "b:-");
  /* unknown types */
  ck_assert_int_eq(run("7", 0, &c), SIO_ERR_PROTO);
  ck_assert_int_eq(run("4a\x1e"
                       "x",
                       0, &c),
                   SIO_ERR_PROTO);
  ck_assert_uint_eq(c.n, 1);
  /* max_packets: checked before anything is delivered */
  ck_assert_int_eq(run("4a\x1e"
                       "4b\x1e"
                       "4c",
                       3, &c),
                   0);
  ck_assert_uint_eq(c.n, 3);
  ck_assert_int_eq(run("4a\x1e"
                       "4b\x1e"
                       "4c",
                       2, &c),
                   SIO_ERR_LIMIT);
  ck_assert_uint_eq(c.n, 0);
  ck_assert_int_eq(run("4a\x1e"
                       "4b\x1e"
                       "4c\x1e",
                       3, &c),
                   SIO_ERR_LIMIT);
  ck_assert_int_eq(run("4a", 1, &c), 0);
  ck_assert_int_eq(run("\x1e\x1e\x1e\x1e", 1, &c), SIO_ERR_LIMIT);
  /* the callback's value stops decoding and comes back */
  sio_buf_init(&scratch);
  memset(&c, 0, sizeof(c));
  c.stop_after = 2;
  ck_assert_int_eq(eio_payload_decode((const uint8_t *)"4a\x1e"
                                                       "4b\x1e"
                                                       "4c",
                                      8, 0, &scratch, collect_cb, &c),
                   7);
  ck_assert_uint_eq(c.n, 2);
  sio_buf_deinit(&scratch);
}
END_TEST

START_TEST(append_forms) {
  sio_buf b;
  sio_buf_init(&b);
  ck_assert_int_eq(eio_payload_append(&b, 1, 0, (const uint8_t *)"4hello", 6),
                   0);
  ck_assert_int_eq(eio_payload_append(&b, 0, 0, (const uint8_t *)"2", 1), 0);
  ck_assert_int_eq(eio_payload_append(&b, 0, 1, (const uint8_t *)"\1\2\3\4", 4),
                   0);
  ck_assert_int_eq(eio_payload_append(&b, 0, 1, NULL, 0), 0);
  ck_assert_str_eq(b.data, "4hello\x1e"
                           "2\x1e"
                           "bAQIDBA==\x1e"
                           "b");
  sio_buf_deinit(&b);
}
END_TEST

static int fm_payload(void *ud) {
  sio_buf out, scratch;
  uint8_t big[600];
  collect c;
  size_t i;
  int rv;
  (void)ud;
  for (i = 0; i < sizeof(big); i++)
    big[i] = (uint8_t)i;
  sio_buf_init(&out);
  sio_buf_init(&scratch);
  rv = eio_payload_append(&out, 1, 0, (const uint8_t *)"4hello", 6);
  if (!rv)
    rv = eio_payload_append(&out, 0, 1, big, sizeof(big));
  if (!rv)
    rv = eio_payload_append(&out, 0, 1, big, 10);
  if (!rv) {
    memset(&c, 0, sizeof(c));
    rv = eio_payload_decode((const uint8_t *)out.data, out.len, 3, &scratch,
                            collect_cb, &c);
  }
  if (!rv && c.n != 3)
    rv = SIO_ERR_INVAL;
  sio_buf_deinit(&out);
  sio_buf_deinit(&scratch);
  return rv;
}

START_TEST(failmalloc_payload) {
  ck_assert_int_ge(failmalloc_run(fm_payload, NULL), 2);
}
END_TEST

Suite *eio_payload_suite(void) {
  Suite *s = suite_create("eio_payload");
  TCase *tc = tcase_create("core");
  tcase_add_test(tc, golden_encode);
  tcase_add_test(tc, golden_decode);
  tcase_add_test(tc, golden_prefixes);
  tcase_add_test(tc, rules);
  tcase_add_test(tc, append_forms);
  tcase_add_test(tc, failmalloc_payload);
  suite_add_tcase(s, tc);
  return s;
}
