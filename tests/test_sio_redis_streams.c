/* test_sio_redis_streams.c: the wire codec of
 * @socket.io/redis-streams-adapter 0.3.1 (sio_redis_streams.c). The golden
 * vectors are what the Node package (0.3.1, socket.io 4.8.4, redis 4.7.1)
 * wrote to a redis-server 7.0: an XREAD reply's exact bytes and two
 * session values. Malformed replies are RESP text read by hiredis's own
 * reader, so every shape is one a server could send. The last test runs
 * XADD with the argv built here in a real redis-server and reads it back
 * with XRANGE. */
#include <check.h>
#include <hiredis/hiredis.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "check_suites.h"
#include "redis_proc.h"
#include "sio/sio.h"
#include "sio_json.h"
#include "sio_mem.h"
#include "sio_redis_streams.h"

/* XREAD COUNT 3 STREAMS socket.io 0-0 after a Node server's io.to("r1")
 * .emit("ev1", {a: 1, b: [true, null, "x"]}, 2.5, "\u00e9"), io.to("r2")
 * .except("r3").emit("bin", Buffer [de ad be ef], {n: 1}) and io.emit(
 * "all"). */
static const char golden_xread[] =
    "*1\r\n"
    "*2\r\n"
    "$9\r\n"
    "socket.io\r\n"
    "*3\r\n"
    "*2\r\n"
    "$15\r\n"
    "1796301226036-0\r\n"
    "*8\r\n"
    "$3\r\n"
    "uid\r\n"
    "$16\r\n"
    "8eff591ee177d946\r\n"
    "$3\r\n"
    "nsp\r\n"
    "$1\r\n"
    "/\r\n"
    "$4\r\n"
    "type\r\n"
    "$1\r\n"
    "3\r\n"
    "$4\r\n"
    "data\r\n"
    "$120\r\n"
    "{\"packet\":{\"type\":2,\"data\":[\"ev1\",{\"a\":1,\"b\":[true,null,\"x\"]"
    "},2.5,\"\xc3\xa9\"]},\"opts\":{\"rooms\":[\"r1\"],\"except\":[],\"flags\":"
    "{}}}\r\n"
    "*2\r\n"
    "$15\r\n"
    "1796301226137-0\r\n"
    "*8\r\n"
    "$3\r\n"
    "uid\r\n"
    "$16\r\n"
    "8eff591ee177d946\r\n"
    "$3\r\n"
    "nsp\r\n"
    "$1\r\n"
    "/\r\n"
    "$4\r\n"
    "type\r\n"
    "$1\r\n"
    "3\r\n"
    "$4\r\n"
    "data\r\n"
    "$92\r\n"
    "gqZwYWNrZXSCpHR5cGUCpGRhdGGTo2JpbsQE3q2+"
    "74GhbgGkb3B0c4Olcm9vbXORonIypmV4Y2VwdJGicjOlZmxhZ3OA\r\n"
    "*2\r\n"
    "$15\r\n"
    "1796301226239-0\r\n"
    "*8\r\n"
    "$3\r\n"
    "uid\r\n"
    "$16\r\n"
    "8eff591ee177d946\r\n"
    "$3\r\n"
    "nsp\r\n"
    "$1\r\n"
    "/\r\n"
    "$4\r\n"
    "type\r\n"
    "$1\r\n"
    "3\r\n"
    "$4\r\n"
    "data\r\n"
    "$79\r\n"
    "{\"packet\":{\"type\":2,\"data\":[\"all\"]},\"opts\":{\"rooms\":[],"
    "\"except\":[],\"flags\":{}}}\r\n";

/* GET sio:session:<pid> after a transport close: a socket with the
 * default data {}, and one whose data.owner was set. */
static const char golden_session_plain[] =
    "hKNzaWS0d2xPWHFpdkxlREVpTmE4UEFBQUOjcGlktDZydE1WdEVRTTFfS2JrN2xBQUFEpXJv"
    "b21zlLR3bE9YcWl2TGVERWlOYThQQUFBQ6JyMaJyMqJyOaRkYXRhgA==";
static const char golden_session_owner[] =
    "hKNzaWS0OGxDbFZ1MDhXR0Utb2tEbUFBQUGjcGlktDhhdTdvUEZaLWhRY1VxOExBQUFCpXJv"
    "b21zlLQ4bENsVnUwOFdHRS1va0RtQUFBQaJyMaJyMqJyOaRkYXRhgaVvd25lcqVhbGljZQ==";

static const char golden_ev1_data[] =
    "{\"packet\":{\"type\":2,\"data\":[\"ev1\",{\"a\":1,\"b\":[true,null,\"x\"]"
    "},"
    "2.5,\"\xc3\xa9\"]},\"opts\":{\"rooms\":[\"r1\"],\"except\":[],\"flags\":{}"
    "}}";
static const char golden_bin_data[] =
    "gqZwYWNrZXSCpHR5cGUCpGRhdGGTo2JpbsQE3q2+74GhbgGkb3B0c4Olcm9vbXORonIypmV4Y2"
    "VwdJGicjOlZmxhZ3OA";

/* One reply parsed from RESP text (the caller frees it). */
static redisReply *resp(const char *text, size_t len) {
  redisReader *rd = redisReaderCreate();
  void *rep = NULL;
  ck_assert_ptr_nonnull(rd);
  ck_assert_int_eq(redisReaderFeed(rd, text, len), REDIS_OK);
  ck_assert_int_eq(redisReaderGetReply(rd, &rep), REDIS_OK);
  ck_assert_ptr_nonnull(rep);
  redisReaderFree(rd);
  return rep;
}
#define RESP(lit) resp(lit, sizeof(lit) - 1)

static int span_eq(sio_redis_streams_span s, const char *lit) {
  return s.p && s.n == strlen(lit) && memcmp(s.p, lit, s.n) == 0;
}

static int xread_rv(const char *text, size_t len) {
  sio_redis_streams_entries e;
  redisReply *r = resp(text, len);
  int rv = sio_redis_streams_parse_xread(r, "socket.io", 0, &e);
  if (rv == 0)
    sio_redis_streams_entries_clear(&e);
  else
    ck_assert(e.v == NULL && e.n == 0);
  freeReplyObject(r);
  return rv;
}
#define XREAD_RV(lit) xread_rv(lit, sizeof(lit) - 1)

/* An XRANGE reply of one entry [id, fields] decoded. */
static int decode_rv(const char *text, size_t len) {
  sio_redis_streams_entries e;
  sio_redis_streams_msg x;
  redisReply *r = resp(text, len);
  int rv = sio_redis_streams_parse_xrange(r, 0, &e);
  if (rv == 0) {
    ck_assert_uint_eq(e.n, 1);
    rv = sio_redis_streams_entry_decode(&e.v[0], &x, NULL);
    if (rv == 0)
      sio_redis_streams_msg_clear(&x);
    else
      ck_assert_ptr_null(x.env.data);
    sio_redis_streams_entries_clear(&e);
  }
  freeReplyObject(r);
  return rv;
}
#define ENTRY(fields) "*1\r\n*2\r\n$3\r\n1-1\r\n" fields
#define DECODE_RV(lit) decode_rv(lit, sizeof(lit) - 1)

/* An entry {uid: u, nsp: /, type, data} decoded. */
static int data_rv(const char *type, const char *data) {
  char r[1024];
  snprintf(r, sizeof(r),
           "*1\r\n*2\r\n$3\r\n1-1\r\n*8\r\n$3\r\nuid\r\n$1\r\nu\r\n"
           "$3\r\nnsp\r\n$1\r\n/\r\n$4\r\ntype\r\n$%zu\r\n%s\r\n"
           "$4\r\ndata\r\n$%zu\r\n%s\r\n",
           strlen(type), type, strlen(data), data);
  return decode_rv(r, strlen(r));
}

START_TEST(ids) {
  sio_redis_streams_id a, b;
  char t[SIO_REDIS_STREAMS_ID_MAX + 1];
  static const char *bad[] = {"",
                              "-",
                              "1",
                              "1-",
                              "-1",
                              "a-1",
                              "1-a",
                              "1--1",
                              "1-1-1",
                              " 1-1",
                              "1-1 ",
                              "+1-1",
                              "18446744073709551616-0",
                              "0-18446744073709551616",
                              "0x1-1"};
  size_t i;
  for (i = 0; i < sizeof(bad) / sizeof(*bad); i++)
    ck_assert_int_eq(sio_redis_streams_id_parse(bad[i], strlen(bad[i]), &a),
                     SIO_ERR_PROTO);
  ck_assert_int_eq(sio_redis_streams_id_parse(NULL, 0, &a), SIO_ERR_PROTO);
  /* 42 bytes: over the bound even when each part would fit */
  ck_assert_int_eq(sio_redis_streams_id_parse(
                       "018446744073709551615-18446744073709551615", 42, &a),
                   SIO_ERR_PROTO);
  ck_assert_int_eq(sio_redis_streams_id_parse(
                       "18446744073709551615-18446744073709551615", 41, &a),
                   0);
  ck_assert(a.ms == UINT64_MAX && a.seq == UINT64_MAX);
  ck_assert_int_eq(sio_redis_streams_id_next(a, &b), SIO_ERR_LIMIT);
  a.seq = UINT64_MAX;
  a.ms = 7;
  ck_assert_int_eq(sio_redis_streams_id_next(a, &b), 0);
  ck_assert(b.ms == 8 && b.seq == 0);
  ck_assert_int_eq(sio_redis_streams_id_parse("1796301226036-9", 15, &a), 0);
  ck_assert_int_eq(sio_redis_streams_id_parse("1796301226036-10", 16, &b), 0);
  /* numeric, not text order */
  ck_assert_int_eq(sio_redis_streams_id_cmp(a, b), -1);
  ck_assert_int_eq(sio_redis_streams_id_cmp(b, a), 1);
  ck_assert_int_eq(sio_redis_streams_id_cmp(a, a), 0);
  ck_assert_int_eq(sio_redis_streams_id_next(a, &a), 0);
  ck_assert_int_eq(sio_redis_streams_id_cmp(a, b), 0);
  ck_assert_uint_eq(sio_redis_streams_id_format(t, a), 16);
  ck_assert_str_eq(t, "1796301226036-10");
}
END_TEST

/* Every wrong shape is refused, never a crash. */
START_TEST(bad_replies) {
  /* whole replies */
  ck_assert_int_eq(XREAD_RV("-ERR no\r\n"), SIO_ERR_PROTO);
  ck_assert_int_eq(XREAD_RV(":1\r\n"), SIO_ERR_PROTO);
  ck_assert_int_eq(XREAD_RV("*0\r\n"), SIO_ERR_PROTO);
  ck_assert_int_eq(XREAD_RV("*2\r\n*0\r\n*0\r\n"), SIO_ERR_PROTO);
  ck_assert_int_eq(XREAD_RV("*1\r\n$1\r\nx\r\n"), SIO_ERR_PROTO);
  ck_assert_int_eq(XREAD_RV("*1\r\n*1\r\n$9\r\nsocket.io\r\n"), SIO_ERR_PROTO);
  ck_assert_int_eq(XREAD_RV("*1\r\n*2\r\n$5\r\nother\r\n*0\r\n"),
                   SIO_ERR_PROTO); /* another stream */
  ck_assert_int_eq(XREAD_RV("*1\r\n*2\r\n:1\r\n*0\r\n"), SIO_ERR_PROTO);
  ck_assert_int_eq(XREAD_RV("*1\r\n*2\r\n$9\r\nsocket.io\r\n$-1\r\n"),
                   SIO_ERR_PROTO);
  ck_assert_int_eq(XREAD_RV("*1\r\n*2\r\n$9\r\nsocket.io\r\n*0\r\n"), 0);
  /* entries */
#define S "*1\r\n*2\r\n$9\r\nsocket.io\r\n*1\r\n"
  ck_assert_int_eq(XREAD_RV(S ":1\r\n"), SIO_ERR_PROTO);
  ck_assert_int_eq(XREAD_RV(S "*1\r\n$3\r\n1-1\r\n"), SIO_ERR_PROTO);
  ck_assert_int_eq(XREAD_RV(S "*3\r\n$3\r\n1-1\r\n*0\r\n*0\r\n"),
                   SIO_ERR_PROTO);
  ck_assert_int_eq(XREAD_RV(S "*2\r\n$3\r\n1-x\r\n*0\r\n"), SIO_ERR_PROTO);
  ck_assert_int_eq(XREAD_RV(S "*2\r\n:1\r\n*0\r\n"), SIO_ERR_PROTO);
  ck_assert_int_eq(XREAD_RV(S "*2\r\n$3\r\n1-1\r\n$-1\r\n"), SIO_ERR_PROTO);
  ck_assert_int_eq(XREAD_RV(S "*2\r\n$3\r\n1-1\r\n*1\r\n$3\r\nuid\r\n"),
                   SIO_ERR_PROTO); /* odd field count */
  ck_assert_int_eq(XREAD_RV(S "*2\r\n$3\r\n1-1\r\n*2\r\n$3\r\nuid\r\n:5\r\n"),
                   SIO_ERR_PROTO); /* a non-string value */
  ck_assert_int_eq(XREAD_RV(S "*2\r\n$3\r\n1-1\r\n*2\r\n*0\r\n$1\r\nx\r\n"),
                   SIO_ERR_PROTO); /* a non-string name */
  ck_assert_int_eq(XREAD_RV(S "*2\r\n$3\r\n1-1\r\n*2\r\n$3\r\nuid\r\n$-1\r\n"),
                   SIO_ERR_PROTO);
  ck_assert_int_eq(XREAD_RV(S "*2\r\n$3\r\n1-1\r\n*0\r\n"), 0);
#undef S
  /* ids must increase */
  ck_assert_int_eq(
      XREAD_RV("*1\r\n*2\r\n$9\r\nsocket.io\r\n*2\r\n*2\r\n$3\r\n1-1\r\n*0\r\n"
               "*2\r\n$3\r\n1-1\r\n*0\r\n"),
      SIO_ERR_PROTO);
  {
    /* more entries than allowed */
    sio_redis_streams_entries e;
    redisReply *r = RESP("*2\r\n*2\r\n$3\r\n1-1\r\n*0\r\n"
                         "*2\r\n$3\r\n1-2\r\n*0\r\n");
    ck_assert_int_eq(sio_redis_streams_parse_xrange(r, 1, &e), SIO_ERR_LIMIT);
    ck_assert_int_eq(sio_redis_streams_parse_xrange(r, 2, &e), 0);
    ck_assert_uint_eq(e.n, 2);
    sio_redis_streams_entries_clear(&e);
    ck_assert_int_eq(sio_redis_streams_parse_xrange(NULL, 0, &e),
                     SIO_ERR_PROTO);
    ck_assert_int_eq(sio_redis_streams_parse_xread(NULL, NULL, 0, &e),
                     SIO_ERR_PROTO);
    freeReplyObject(r);
  }
}
END_TEST

#define F3(uid, nsp, type)                                                     \
  "$3\r\nuid\r\n" uid "$3\r\nnsp\r\n" nsp "$4\r\ntype\r\n" type
#define U "$1\r\nu\r\n"
#define N "$1\r\n/\r\n"

/* Entries that parse but do not decode. */
START_TEST(bad_entries) {
  /* missing or malformed envelope fields */
  ck_assert_int_eq(
      DECODE_RV(ENTRY("*4\r\n$3\r\nnsp\r\n" N "$4\r\ntype\r\n$1\r\n2\r\n")),
      SIO_ERR_PROTO); /* no uid */
  ck_assert_int_eq(
      DECODE_RV(ENTRY("*4\r\n$3\r\nuid\r\n" U "$4\r\ntype\r\n$1\r\n2\r\n")),
      SIO_ERR_PROTO); /* no nsp */
  ck_assert_int_eq(DECODE_RV(ENTRY("*4\r\n$3\r\nuid\r\n" U "$3\r\nnsp\r\n" N)),
                   SIO_ERR_PROTO); /* no type */
  ck_assert_int_eq(DECODE_RV(ENTRY("*6\r\n" F3(U, N, "$0\r\n\r\n"))),
                   SIO_ERR_PROTO);
  ck_assert_int_eq(DECODE_RV(ENTRY("*6\r\n" F3(U, N, "$2\r\n3x\r\n"))),
                   SIO_ERR_PROTO);
  ck_assert_int_eq(DECODE_RV(ENTRY("*6\r\n" F3(U, N, "$2\r\n-3\r\n"))),
                   SIO_ERR_PROTO);
  ck_assert_int_eq(DECODE_RV(ENTRY("*6\r\n" F3(U, N, "$10\r\n1234567890\r\n"))),
                   SIO_ERR_PROTO);
  /* a heartbeat-like type without data is fine; a broadcast without is not */
  ck_assert_int_eq(DECODE_RV(ENTRY("*6\r\n" F3(U, N, "$1\r\n2\r\n"))), 0);
  ck_assert_int_eq(DECODE_RV(ENTRY("*6\r\n" F3(U, N, "$1\r\n3\r\n"))),
                   SIO_ERR_PROTO);
  /* JSON data: not one object, trailing text, injected envelope keys */
  ck_assert_int_eq(data_rv("2", "{}"), 0);
  ck_assert_int_eq(data_rv("2", "{"), SIO_ERR_PROTO);
  ck_assert_int_eq(data_rv("2", "{}}"), SIO_ERR_PROTO);
  ck_assert_int_eq(data_rv("2", "{} x"), SIO_ERR_PROTO);
  ck_assert_int_eq(data_rv("2", "{},\"type\":3"), SIO_ERR_PROTO);
  ck_assert_int_eq(data_rv("2", "{\"a\":\"}"), SIO_ERR_PROTO);
  ck_assert_int_eq(data_rv("2", "{\"a\":1]}"), SIO_ERR_PROTO);
  ck_assert_int_eq(data_rv("2", "{\"a\":}"), SIO_ERR_PROTO);
  ck_assert_int_eq(data_rv("3", "{}"), SIO_ERR_PROTO);
  /* base64 data: bad base64, bad msgpack, truncated, trailing bytes, not
   * a map (a broadcast's data must be one), JSON behind the base64 */
  ck_assert_int_eq(data_rv("3", "!!!!"), SIO_ERR_PROTO);
  ck_assert_int_eq(data_rv("3", "gqZwY"), SIO_ERR_PROTO);
  ck_assert_int_eq(data_rv("3", "wQ=="), SIO_ERR_PROTO);
  ck_assert_int_eq(data_rv("3", "gAA="), SIO_ERR_PROTO);
  ck_assert_int_eq(data_rv("3", "kA=="), SIO_ERR_PROTO);
  ck_assert_int_eq(data_rv("2", "gA=="), 0); /* {} */
  ck_assert_int_eq(data_rv("2", "e30="), SIO_ERR_PROTO);
  /* the golden binary broadcast cut short */
  ck_assert_int_eq(
      data_rv("3", "gqZwYWNrZXSCpHR5cGUCpGRhdGGTo2JpbsQE3q2+74GhbgGkb3B0c4Olc"
                   "m9vbXORonIypmV4Y2VwdJGicjOlZmxh"),
      SIO_ERR_PROTO);
  /* nesting past the limits */
  {
    char text[512], r[600];
    size_t i, n = 0;
    for (i = 0; i < 100; i++)
      text[n++] = i % 2 ? '[' : '{';
    text[n] = 0;
    /* not closed: refused by the bracket scan; closed: by the depth */
    snprintf(
        r, sizeof(r),
        ENTRY("*8\r\n" F3(U, N, "$1\r\n2\r\n") "$4\r\ndata\r\n$%zu\r\n%s\r\n"),
        n, text);
    ck_assert_int_eq(decode_rv(r, strlen(r)), SIO_ERR_PROTO);
    n = 0;
    text[n++] = '{';
    memcpy(text + n, "\"a\":", 4);
    n += 4;
    for (i = 0; i < 40; i++)
      text[n++] = '[';
    for (i = 0; i < 40; i++)
      text[n++] = ']';
    text[n++] = '}';
    text[n] = 0;
    snprintf(
        r, sizeof(r),
        ENTRY("*8\r\n" F3(U, N, "$1\r\n2\r\n") "$4\r\ndata\r\n$%zu\r\n%s\r\n"),
        n, text);
    ck_assert_int_eq(decode_rv(r, strlen(r)), SIO_ERR_DEPTH);
  }
  {
    /* a data field over the bound, without building a reply that size */
    sio_redis_streams_entry e;
    sio_redis_streams_msg x;
    memset(&e, 0, sizeof(e));
    e.uid.p = e.nsp.p = "/";
    e.uid.n = e.nsp.n = 1;
    e.type.p = "3";
    e.type.n = 1;
    e.data.p = "{";
    e.data.n = SIO_REDIS_STREAMS_DATA_MAX + 1;
    ck_assert_int_eq(sio_redis_streams_entry_decode(&e, &x, NULL),
                     SIO_ERR_LIMIT);
  }
}
END_TEST

/* The captured entries parse and decode to what the Node server sent; a
 * timed-out XREAD is no entries. */
START_TEST(golden_entries) {
  sio_redis_streams_entries e;
  sio_redis_streams_msg x;
  redisReply *r = RESP("*-1\r\n");
  sio_buf t;
  ck_assert_int_eq(sio_redis_streams_parse_xread(r, "socket.io", 0, &e), 0);
  ck_assert_uint_eq(e.n, 0);
  freeReplyObject(r);
  r = RESP(golden_xread);
  ck_assert_int_eq(sio_redis_streams_parse_xread(r, "socket.io", 0, &e), 0);
  ck_assert_uint_eq(e.n, 3);
  ck_assert(span_eq(e.v[0].id, "1796301226036-0"));
  ck_assert(span_eq(e.v[0].uid, "8eff591ee177d946"));
  ck_assert(span_eq(e.v[0].nsp, "/"));
  ck_assert(span_eq(e.v[0].type, "3"));
  ck_assert(span_eq(e.v[0].data, golden_ev1_data));
  ck_assert(span_eq(e.v[1].data, golden_bin_data));
  ck_assert(e.v[2].idv.ms == 1796301226239ull && e.v[2].idv.seq == 0);

  sio_buf_init(&t);
  ck_assert_int_eq(sio_redis_streams_entry_decode(&e.v[0], &x, NULL), 0);
  ck_assert_int_eq(x.m.type, SIO_REDIS_CLUSTER_BROADCAST);
  ck_assert_str_eq(x.m.uid, "8eff591ee177d946");
  ck_assert_str_eq(x.m.nsp, "/");
  ck_assert_str_eq(x.m.packet.event, "ev1");
  ck_assert_ptr_null(x.m.request_id);
  ck_assert_uint_eq(x.m.opts.rooms.n, 1);
  ck_assert_str_eq(x.m.opts.rooms.v[0], "r1");
  ck_assert_int_eq(sio_json_append(&t, x.m.packet.args), 0);
  ck_assert_str_eq(t.data,
                   "[{\"a\":1,\"b\":[true,null,\"x\"]},2.5,\"\xc3\xa9\"]");
  {
    const char *in_r1[] = {"sid", "r1"}, *in_r2[] = {"r2"};
    ck_assert(sio_redis_streams_replays(&x.m, "/", in_r1, 2));
    ck_assert(!sio_redis_streams_replays(&x.m, "/", in_r2, 1));
    ck_assert(!sio_redis_streams_replays(&x.m, "/admin", in_r1, 2));
  }
  sio_redis_streams_msg_clear(&x);

  ck_assert_int_eq(sio_redis_streams_entry_decode(&e.v[1], &x, NULL), 0);
  ck_assert_str_eq(x.m.packet.event, "bin");
  ck_assert_uint_eq(x.m.root.nbins, 1);
  ck_assert_uint_eq(x.m.root.bins[0].len, 4);
  ck_assert(memcmp(x.m.root.bins[0].data, "\xde\xad\xbe\xef", 4) == 0);
  ck_assert_uint_eq(x.m.opts.except.n, 1);
  ck_assert_str_eq(x.m.opts.except.v[0], "r3");
  {
    const char *r2[] = {"r2"}, *r2r3[] = {"r2", "r3"}, *none[] = {"x"};
    ck_assert(sio_redis_streams_replays(&x.m, "/", r2, 1));
    ck_assert(!sio_redis_streams_replays(&x.m, "/", r2r3, 2)); /* except */
    ck_assert(!sio_redis_streams_replays(&x.m, "/", none, 1));
  }
  sio_redis_streams_msg_clear(&x);

  ck_assert_int_eq(sio_redis_streams_entry_decode(&e.v[2], &x, NULL), 0);
  ck_assert_str_eq(x.m.packet.event, "all");
  {
    const char *any[] = {"x"};
    ck_assert(sio_redis_streams_replays(&x.m, "/", any, 1));
    ck_assert(sio_redis_streams_replays(&x.m, "/", NULL, 0));
  }
  sio_redis_streams_msg_clear(&x);
  sio_redis_streams_entries_clear(&e);
  freeReplyObject(r);
  sio_buf_deinit(&t);
}
END_TEST

/* Our XADD for the same broadcasts writes the Node server's data bytes. */
START_TEST(xadd_golden) {
  sio_redis_streams_cmd c;
  sio_buf env;
  json_object *args = json_tokener_parse(
      "[{\"a\":1,\"b\":[true,null,\"x\"]},2.5,\"\xc3\xa9\"]");
  json_object *bargs =
      json_tokener_parse("[{\"_placeholder\":true,\"num\":0},{\"n\":1}]");
  const char *r1 = "r1", *r2 = "r2", *r3 = "r3";
  sio_broadcast_opts o;
  sio_bin bin = {(const uint8_t *)"\xde\xad\xbe\xef", 4};
  static const char *want[] = {
      "XADD", "socket.io",        "MAXLEN", "~", "10000", "*",
      "uid",  "8eff591ee177d946", "nsp",    "/", "type",  "3",
      "data"};
  int i;
  memset(&o, 0, sizeof(o));
  sio_redis_streams_cmd_init(&c);
  sio_buf_init(&env);
  o.rooms = &r1;
  o.nrooms = 1;
  ck_assert_int_eq(sio_redis_encode_cluster_bcast(&env, "8eff591ee177d946", "/",
                                                  NULL, "ev1", args, NULL, 0,
                                                  &o, -1),
                   0);
  ck_assert_int_eq(sio_redis_streams_xadd_envelope(
                       &c, SIO_REDIS_STREAMS_NAME, SIO_REDIS_STREAMS_MAXLEN,
                       (const uint8_t *)env.data, env.len, NULL),
                   0);
  ck_assert_int_eq(c.argc, 14);
  for (i = 0; i < 13; i++) {
    ck_assert_uint_eq(c.argvlen[i], strlen(want[i]));
    ck_assert(memcmp(c.argv[i], want[i], c.argvlen[i]) == 0);
  }
  ck_assert_uint_eq(c.argvlen[13], strlen(golden_ev1_data));
  ck_assert(memcmp(c.argv[13], golden_ev1_data, c.argvlen[13]) == 0);

  sio_buf_reset(&env);
  o.rooms = &r2;
  o.except = &r3;
  o.nexcept = 1;
  ck_assert_int_eq(sio_redis_encode_cluster_bcast(&env, "8eff591ee177d946", "/",
                                                  NULL, "bin", bargs, &bin, 1,
                                                  &o, -1),
                   0);
  ck_assert_int_eq(sio_redis_streams_xadd_envelope(&c, "socket.io", 10000,
                                                   (const uint8_t *)env.data,
                                                   env.len, NULL),
                   0);
  ck_assert_int_eq(c.argc, 14);
  ck_assert_uint_eq(c.argvlen[13], strlen(golden_bin_data));
  ck_assert(memcmp(c.argv[13], golden_bin_data, c.argvlen[13]) == 0);

  /* a message without data omits the field */
  {
    static const char hb[] = "{\"type\":2,\"uid\":\"u\",\"nsp\":\"/\"}";
    ck_assert_int_eq(sio_redis_streams_xadd_envelope(
                         &c, "s", 5, (const uint8_t *)hb, sizeof(hb) - 1, NULL),
                     0);
  }
  ck_assert_int_eq(c.argc, 12);
  ck_assert(memcmp(c.argv[11], "2", 1) == 0);
  /* not envelopes */
#define XE(lit)                                                                \
  sio_redis_streams_xadd_envelope(&c, "s", 5, (const uint8_t *)lit,            \
                                  sizeof(lit) - 1, NULL)
  ck_assert_int_eq(XE("[1]"), SIO_ERR_PROTO);
  ck_assert_int_eq(XE("{\"type\":-1,\"uid\":\"u\",\"nsp\":\"/\"}"),
                   SIO_ERR_PROTO);
  ck_assert_int_eq(XE("{\"type\":\"3\",\"uid\":\"u\",\"nsp\":\"/\"}"),
                   SIO_ERR_PROTO);
  ck_assert_int_eq(XE("{\"type\":3,\"nsp\":\"/\"}"), SIO_ERR_PROTO);
  ck_assert_int_eq(XE("{\"type\":3,\"uid\":\"u\",\"nsp\":1}"), SIO_ERR_PROTO);
  ck_assert_int_eq(XE("{\"type\":3,\"uid\":\"u\",\"nsp\":\"/\",\"data\":[1]}"),
                   SIO_ERR_PROTO);
  ck_assert_int_eq(XE("\xc1"), SIO_ERR_PROTO);
#undef XE
  ck_assert_int_eq(sio_redis_streams_xadd(&c, NULL, 1, "u", "/", 3, NULL, 0),
                   SIO_ERR_INVAL);
  ck_assert_int_eq(sio_redis_streams_xadd(&c, "s", 1, "u", "/", -1, NULL, 0),
                   SIO_ERR_INVAL);
  json_object_put(args);
  json_object_put(bargs);
  sio_buf_deinit(&env);
  sio_redis_streams_cmd_deinit(&c);
}
END_TEST

/* Every encoder's envelope survives XADD fields and back. */
START_TEST(round_trips) {
  sio_redis_streams_cmd c;
  sio_buf env;
  const char *rooms[] = {"a", "b"};
  sio_broadcast_opts o;
  json_object *v =
      json_tokener_parse("{\"x\":[1,{\"_placeholder\":true,\"num\":0}]}");
  sio_bin bin = {(const uint8_t *)"\x00\x01", 2};
  int k;
  memset(&o, 0, sizeof(o));
  o.rooms = rooms;
  o.nrooms = 2;
  o.flags = SIO_BCAST_VOLATILE;
  sio_redis_streams_cmd_init(&c);
  sio_buf_init(&env);
  for (k = 0; k < 6; k++) {
    sio_redis_streams_entry e;
    sio_redis_streams_msg x;
    sio_buf_reset(&env);
    switch (k) {
    case 0:
      ck_assert_int_eq(
          sio_redis_encode_cluster_rooms(&env, SIO_REDIS_CLUSTER_SOCKETS_JOIN,
                                         "u1", "/n", &o, rooms, 2),
          0);
      break;
    case 1:
      ck_assert_int_eq(
          sio_redis_encode_cluster_disconnect(&env, "u1", "/n", &o, 1), 0);
      break;
    case 2:
      ck_assert_int_eq(
          sio_redis_encode_cluster_answer(&env, SIO_REDIS_CLUSTER_BROADCAST_ACK,
                                          "u1", "/n", "req", v, &bin, 1),
          0);
      break;
    case 3:
      ck_assert_int_eq(
          sio_redis_encode_cluster_client_count(&env, "u1", "/n", "req", 7), 0);
      break;
    case 4:
      ck_assert_int_eq(
          sio_redis_encode_cluster_sse(&env, "u1", "/n", NULL, "ev", NULL), 0);
      break;
    default:
      ck_assert_int_eq(sio_redis_encode_cluster_bcast(
                           &env, "u1", "/n", NULL, "e", NULL, NULL, 0, &o, 5),
                       0);
      break;
    }
    ck_assert_int_eq(sio_redis_streams_xadd_envelope(
                         &c, "s", 1, (const uint8_t *)env.data, env.len, NULL),
                     0);
    ck_assert_int_eq(c.argc, 14);
    memset(&e, 0, sizeof(e));
    e.id.p = "1-1";
    e.id.n = 3;
    e.uid.p = c.argv[7], e.uid.n = c.argvlen[7];
    e.nsp.p = c.argv[9], e.nsp.n = c.argvlen[9];
    e.type.p = c.argv[11], e.type.n = c.argvlen[11];
    e.data.p = c.argv[13], e.data.n = c.argvlen[13];
    ck_assert_int_eq(sio_redis_streams_entry_decode(&e, &x, NULL), 0);
    ck_assert_str_eq(x.m.uid, "u1");
    ck_assert_str_eq(x.m.nsp, "/n");
    switch (k) {
    case 0:
      ck_assert_int_eq(x.m.type, SIO_REDIS_CLUSTER_SOCKETS_JOIN);
      ck_assert_uint_eq(x.m.rooms.n, 2);
      ck_assert_str_eq(x.m.rooms.v[1], "b");
      break;
    case 1:
      ck_assert_int_eq(x.m.type, SIO_REDIS_CLUSTER_DISCONNECT_SOCKETS);
      ck_assert_int_eq(x.m.close, 1);
      break;
    case 2:
      ck_assert(c.argv[13][0] != '{'); /* binary: base64 */
      ck_assert_int_eq(x.m.type, SIO_REDIS_CLUSTER_BROADCAST_ACK);
      ck_assert_str_eq(x.m.request_id, "req");
      ck_assert_uint_eq(x.m.root.nbins, 1);
      ck_assert(memcmp(x.m.root.bins[0].data, "\x00\x01", 2) == 0);
      break;
    case 3:
      ck_assert_int_eq(x.m.client_count, 7);
      break;
    case 4:
      ck_assert_int_eq(x.m.type, SIO_REDIS_CLUSTER_SERVER_SIDE_EMIT);
      break;
    default:
      ck_assert_str_eq(x.m.packet.event, "e");
      ck_assert_int_eq(x.m.opts.timeout, 5);
      ck_assert(x.m.opts.flags & SIO_BCAST_VOLATILE);
      break;
    }
    sio_redis_streams_msg_clear(&x);
  }
  json_object_put(v);
  sio_buf_deinit(&env);
  sio_redis_streams_cmd_deinit(&c);
}
END_TEST

static int session_rv(const char *b64) {
  sio_redis_streams_session s;
  int rv = sio_redis_streams_session_decode(&s, b64, strlen(b64), NULL);
  if (rv == 0)
    sio_redis_streams_session_clear(&s);
  else
    ck_assert(!s.raw && !s.root.json && !s.rooms.v);
  return rv;
}

START_TEST(sessions) {
  sio_redis_streams_session s;
  sio_buf b, t;
  const char *rooms[] = {"wlOXqivLeDEiNa8PAAAC", "r1", "r2", "r9"};
  const char *rooms2[] = {"8lClVu08WGE-okDmAAAA", "r1", "r2", "r9"};
  json_object *owner = json_tokener_parse("{\"owner\":\"alice\"}");
  /* malformed first */
  ck_assert_int_eq(session_rv(""), SIO_ERR_PROTO);
  ck_assert_int_eq(session_rv("!!!!"), SIO_ERR_PROTO);
  ck_assert_int_eq(session_rv("hKNz"), SIO_ERR_PROTO); /* truncated */
  ck_assert_int_eq(session_rv("kA=="), SIO_ERR_PROTO); /* [] */
  ck_assert_int_eq(session_rv("gA=="), SIO_ERR_PROTO); /* {} */
  ck_assert_int_eq(session_rv("e30="), SIO_ERR_PROTO); /* JSON "{}" */
  ck_assert_int_eq(session_rv("gqNzaWQBo3BpZKFw"), SIO_ERR_PROTO); /* sid 1 */
  /* {sid: "s", pid: "p", rooms: [1]} */
  ck_assert_int_eq(session_rv("g6NzaWShc6NwaWShcKVyb29tc5EB"), SIO_ERR_PROTO);
  /* {sid: "s", pid: "p", rooms: "r"} */
  ck_assert_int_eq(session_rv("g6NzaWShc6NwaWShcKVyb29tc6Fy"), SIO_ERR_PROTO);
  /* {sid: "s", pid: "p"}: no rooms, no data */
  ck_assert_int_eq(session_rv("gqNzaWShc6NwaWShcA=="), 0);
  ck_assert_int_eq(session_rv("gqNzaWShc6NwaWShcAA="),
                   SIO_ERR_PROTO); /* trailing */
  ck_assert_int_eq(sio_redis_streams_session_decode(
                       &s, "gA==", SIO_REDIS_STREAMS_DATA_MAX + 1, NULL),
                   SIO_ERR_LIMIT);

  ck_assert_int_eq(
      sio_redis_streams_session_decode(&s, golden_session_owner,
                                       strlen(golden_session_owner), NULL),
      0);
  ck_assert_str_eq(s.sid, "8lClVu08WGE-okDmAAAA");
  ck_assert_str_eq(s.pid, "8au7oPFZ-hQcUq8LAAAB");
  ck_assert_uint_eq(s.rooms.n, 4);
  ck_assert_str_eq(s.rooms.v[0], "8lClVu08WGE-okDmAAAA");
  ck_assert_str_eq(s.rooms.v[3], "r9");
  sio_buf_init(&t);
  ck_assert_int_eq(sio_json_append(&t, s.data), 0);
  ck_assert_str_eq(t.data, "{\"owner\":\"alice\"}");
  sio_redis_streams_session_clear(&s);

  /* encoding writes the Node server's bytes */
  sio_buf_init(&b);
  ck_assert_int_eq(sio_redis_streams_session_encode(&b, "wlOXqivLeDEiNa8PAAAC",
                                                    "6rtMVtEQM1_Kbk7lAAAD",
                                                    rooms, 4, NULL, NULL, 0),
                   0);
  ck_assert_str_eq(b.data, golden_session_plain);
  sio_buf_reset(&b);
  ck_assert_int_eq(sio_redis_streams_session_encode(&b, "8lClVu08WGE-okDmAAAA",
                                                    "8au7oPFZ-hQcUq8LAAAB",
                                                    rooms2, 4, owner, NULL, 0),
                   0);
  ck_assert_str_eq(b.data, golden_session_owner);
  ck_assert_int_eq(
      sio_redis_streams_session_decode(&s, golden_session_plain,
                                       strlen(golden_session_plain), NULL),
      0);
  ck_assert(json_object_is_type(s.data, json_type_object));
  ck_assert_int_eq(json_object_object_length(s.data), 0);
  sio_redis_streams_session_clear(&s);
  ck_assert_int_eq(
      sio_redis_streams_session_encode(&b, NULL, "p", NULL, 0, NULL, NULL, 0),
      SIO_ERR_INVAL);
  json_object_put(owner);
  sio_buf_deinit(&b);
  sio_buf_deinit(&t);
}
END_TEST

/* Our argv in a real redis-server: XADD, then XRANGE parsed back and the
 * entry decoded; the id XADD answered is the one read. */
START_TEST(real_redis) {
  redis_proc rp;
  redisContext *rc;
  redisReply *r;
  sio_redis_streams_cmd c;
  sio_redis_streams_entries e;
  sio_redis_streams_msg x;
  sio_buf env;
  char id[SIO_REDIS_STREAMS_ID_MAX + 1];
  const char *room = "r1";
  sio_broadcast_opts o;
  SKIP_WITHOUT_REDIS();
  redis_init(&rp);
  redis_start(&rp, 0, NULL);
  rc = redisConnect("127.0.0.1", rp.port);
  ck_assert(rc && !rc->err);
  memset(&o, 0, sizeof(o));
  o.rooms = &room;
  o.nrooms = 1;
  sio_redis_streams_cmd_init(&c);
  sio_buf_init(&env);
  ck_assert_int_eq(sio_redis_encode_cluster_bcast(&env, "uid1", "/", NULL, "ev",
                                                  NULL, NULL, 0, &o, -1),
                   0);
  ck_assert_int_eq(sio_redis_streams_xadd_envelope(&c, "socket.io", 10000,
                                                   (const uint8_t *)env.data,
                                                   env.len, NULL),
                   0);
  r = redisCommandArgv(rc, c.argc, c.argv, c.argvlen);
  ck_assert(r && r->type == REDIS_REPLY_STRING);
  ck_assert_int_eq(sio_redis_streams_id_parse(r->str, r->len, NULL), 0);
  snprintf(id, sizeof(id), "%s", r->str);
  freeReplyObject(r);
  r = redisCommand(rc, "XRANGE socket.io %s %s", id, id);
  ck_assert_int_eq(sio_redis_streams_parse_xrange(r, 0, &e), 0);
  ck_assert_uint_eq(e.n, 1);
  ck_assert(span_eq(e.v[0].id, id));
  ck_assert_int_eq(sio_redis_streams_entry_decode(&e.v[0], &x, NULL), 0);
  ck_assert_int_eq(x.m.type, SIO_REDIS_CLUSTER_BROADCAST);
  ck_assert_str_eq(x.m.packet.event, "ev");
  ck_assert_str_eq(x.m.uid, "uid1");
  sio_redis_streams_msg_clear(&x);
  sio_redis_streams_entries_clear(&e);
  freeReplyObject(r);
  /* a timed-out XREAD is nil, no entries */
  r = redisCommand(rc, "XREAD BLOCK 10 COUNT 100 STREAMS socket.io $");
  ck_assert_int_eq(sio_redis_streams_parse_xread(r, "socket.io", 0, &e), 0);
  ck_assert_uint_eq(e.n, 0);
  freeReplyObject(r);
  /* and one that found it */
  r = redisCommand(rc, "XREAD COUNT 100 STREAMS socket.io 0-0");
  ck_assert_int_eq(sio_redis_streams_parse_xread(r, "socket.io", 0, &e), 0);
  ck_assert_uint_eq(e.n, 1);
  sio_redis_streams_entries_clear(&e);
  freeReplyObject(r);
  sio_buf_deinit(&env);
  sio_redis_streams_cmd_deinit(&c);
  redisFree(rc);
  redis_cleanup(&rp);
}
END_TEST

/* Out of memory at every allocation of each operation: it fails with
 * SIO_ERR_NOMEM and leaves nothing behind (ASan's leak check), or it
 * succeeds. */
START_TEST(out_of_memory) {
  redisReply *r = RESP(golden_xread);
  sio_redis_streams_entries e;
  long n;
  int rv, done = 0;
  ck_assert_int_eq(sio_redis_streams_parse_xread(r, "socket.io", 0, &e), 0);
  for (n = 0; n < 200 && done != 0xf; n++) {
    sio_redis_streams_msg x;
    sio_redis_streams_session ss;
    sio_redis_streams_entries e2;
    sio_redis_streams_cmd c;
    sio_buf b;
    const char *room = "r1";
    static const char hb[] =
        "{\"type\":2,\"uid\":\"u\",\"nsp\":\"/\",\"data\":{}}";
    sio_mem_fail_after(n);
    rv = sio_redis_streams_entry_decode(&e.v[1], &x, NULL);
    sio_mem_fail_after(-1);
    ck_assert(rv == 0 || rv == SIO_ERR_NOMEM);
    if (rv == 0) {
      done |= 1;
      sio_redis_streams_msg_clear(&x);
    }
    sio_mem_fail_after(n);
    rv = sio_redis_streams_session_decode(&ss, golden_session_owner,
                                          strlen(golden_session_owner), NULL);
    sio_mem_fail_after(-1);
    ck_assert(rv == 0 || rv == SIO_ERR_NOMEM);
    if (rv == 0) {
      done |= 2;
      sio_redis_streams_session_clear(&ss);
    }
    sio_buf_init(&b);
    sio_mem_fail_after(n);
    rv =
        sio_redis_streams_session_encode(&b, "s", "p", &room, 1, NULL, NULL, 0);
    sio_mem_fail_after(-1);
    ck_assert(rv == 0 || rv == SIO_ERR_NOMEM);
    if (rv == 0)
      done |= 4;
    sio_buf_deinit(&b);
    sio_redis_streams_cmd_init(&c);
    sio_mem_fail_after(n);
    rv = sio_redis_streams_xadd_envelope(
        &c, "socket.io", 10000, (const uint8_t *)hb, sizeof(hb) - 1, NULL);
    ck_assert(rv == 0 || rv == SIO_ERR_NOMEM);
    if (rv == 0)
      ck_assert_int_eq(c.argc, 14);
    rv = sio_redis_streams_parse_xrange(r->element[0]->element[1], 0, &e2);
    sio_mem_fail_after(-1);
    ck_assert(rv == 0 || rv == SIO_ERR_NOMEM);
    if (rv == 0) {
      done |= 8;
      sio_redis_streams_entries_clear(&e2);
    }
    sio_redis_streams_cmd_deinit(&c);
  }
  ck_assert_int_eq(done, 0xf);
  sio_redis_streams_entries_clear(&e);
  freeReplyObject(r);
}
END_TEST

Suite *sio_redis_streams_suite(void) {
  Suite *s = suite_create("sio_redis_streams");
  TCase *tc = tcase_create("streams");
  tcase_set_timeout(tc, 30);
  tcase_add_test(tc, ids);
  tcase_add_test(tc, bad_replies);
  tcase_add_test(tc, bad_entries);
  tcase_add_test(tc, golden_entries);
  tcase_add_test(tc, xadd_golden);
  tcase_add_test(tc, round_trips);
  tcase_add_test(tc, sessions);
  tcase_add_test(tc, out_of_memory);
  tcase_add_test(tc, real_redis);
  suite_add_tcase(s, tc);
  return s;
}
