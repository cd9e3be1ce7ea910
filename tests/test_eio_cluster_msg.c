/* test_eio_cluster_msg.c: the messages of @socket.io/cluster-engine 0.1.0
 * (eio_cluster_msg.c).
 *
 * The golden vectors were captured with @msgpack/msgpack 2.8.0 encode of
 * the objects engine.ts builds (its object literals, keys in their order,
 * with RedisEngine.publishMessage's `_source: "_eio"` appended), under
 * Node 20: node ids "1a2b3c" and "4d5e6f", sid "Hl6UcXz5hcpjXqYzAAAB".
 * DRAIN packets are what engine.io 6.6.12's own Socket.prototype.sendPacket
 * queued (socket.send("..."), a Buffer, sendPacket("ping"), ("noop")); the
 * "drain_options" ones were sent with a socket.io broadcast's packetOpts
 * ({preEncoded, volatile, compress} plus ws's Sender.frame as
 * wsPreEncodedFrame), with {compress: false}, with "" (no data key), a
 * 45-byte string (str8) and a 300-byte Buffer (bin16). PACKET and
 * UPGRADE_RESPONSE packets are engine.io-parser 5.2.3's decodePacket of
 * what a client sends ("42[...]", a binary frame, "3", "40", and "9",
 * which decodes to its {type: "error", data: "parser error"}).
 * "close_primary" is a worker's CLOSE as setupPrimaryWithRedis relays it:
 * JSON (IPC) and then `_primaryId` after _source. The encoder must give
 * the exact bytes of every vector marked exact. */
#include <check.h>
#include <msgpack.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "check_suites.h"
#include "eio_cluster_msg.h"
#include "failmalloc.h"
#include "sio_buf.h"
#include "sio_int.h"
#include "sio_mem.h"

#define A "1a2b3c"
#define B "4d5e6f"
#define SID "Hl6UcXz5hcpjXqYzAAAB"

/* ------------------------------------------------------------- helpers */

static uint8_t *unhex(const char *h, size_t *n) {
  size_t len = strlen(h), i;
  uint8_t *o = malloc(len / 2 + 1);
  ck_assert_ptr_nonnull(o);
  ck_assert_uint_eq(len % 2, 0);
  for (i = 0; i < len / 2; i++) {
    unsigned v;
    ck_assert_int_eq(sscanf(h + 2 * i, "%2x", &v), 1);
    o[i] = (uint8_t)v;
  }
  *n = len / 2;
  return o;
}

static eio_cm_str S(const char *s) {
  eio_cm_str v = {s, s ? strlen(s) : 0};
  return v;
}

static eio_packet T(eio_packet_type t, const char *data) {
  eio_packet p = {t, 0, (const uint8_t *)data, data ? strlen(data) : 0};
  return p;
}

static eio_packet BIN(const void *data, size_t len) {
  eio_packet p = {EIO_PACKET_MESSAGE, 1, data, len};
  return p;
}

static void str_eq(eio_cm_str a, eio_cm_str b, const char *what) {
  ck_assert_msg(a.len == b.len && (a.len == 0 || memcmp(a.s, b.s, a.len) == 0),
                "%s: \"%.*s\" != \"%.*s\"", what, (int)a.len, a.s ? a.s : "",
                (int)b.len, b.s ? b.s : "");
}

static void packet_eq(const eio_packet *a, const eio_packet *b) {
  ck_assert_int_eq(a->type, b->type);
  ck_assert_int_eq(a->binary, b->binary);
  ck_assert_uint_eq(a->len, b->len);
  if (!a->binary) /* no data and "" differ; binary data is always there */
    ck_assert_int_eq(a->data == NULL, b->data == NULL);
  if (a->len)
    ck_assert_mem_eq(a->data, b->data, a->len);
}

static void msg_eq(const eio_cm_msg *a, const eio_cm_msg *b) {
  size_t i;
  ck_assert_int_eq(a->type, b->type);
  str_eq(a->sender, b->sender, "sender");
  str_eq(a->recipient, b->recipient, "recipient");
  ck_assert_int_eq(a->has_request_id, b->has_request_id);
  ck_assert_uint_eq(a->request_id, b->request_id);
  str_eq(a->sid, b->sid, "sid");
  str_eq(a->transport, b->transport, "transport");
  ck_assert_int_eq(a->write, b->write);
  ck_assert_int_eq(a->success, b->success);
  ck_assert_int_eq(a->take_over, b->take_over);
  str_eq(a->reason, b->reason, "reason");
  ck_assert_uint_eq(a->npackets, b->npackets);
  for (i = 0; i < a->npackets; i++)
    packet_eq(&a->packets[i], &b->packets[i]);
}

/* Decodes a heap copy of exactly len bytes (so that ASan sees a read past
 * the end) and returns the result; d must be freed when 0. */
static int dec(eio_cm_decoded *d, const uint8_t *in, size_t len) {
  uint8_t *c = malloc(len ? len : 1);
  int rv;
  ck_assert_ptr_nonnull(c);
  if (len)
    memcpy(c, in, len);
  rv = eio_cm_decode(d, c, len);
  /* the decoded views point into the decoder's copy, not into c */
  memset(c, 0xee, len);
  free(c);
  if (rv)
    ck_assert_ptr_null(d->priv);
  return rv;
}

/* ----------------------------------------------------- msgpack builder */

static sio_buf mb;
static msgpack_packer mpk;

static int mb_write(void *data, const char *p, size_t n) {
  return sio_buf_append(data, p, n) ? -1 : 0;
}

/* Builds a msgpack value in mb from fmt: m map, a array (the count an int
 * argument; digits after them in fmt are only a reminder), s str, u uint64, i
 * int64, d double, n nil, t true, f false, b bin (pointer, size_t), x raw bytes
 * (pointer, size_t). */
static void mbv(const char *fmt, va_list ap) {
  for (; *fmt; fmt++) {
    switch (*fmt) {
    case 'm':
      msgpack_pack_map(&mpk, (size_t)va_arg(ap, int));
      break;
    case 'a':
      msgpack_pack_array(&mpk, (size_t)va_arg(ap, int));
      break;
    case 's': {
      const char *s = va_arg(ap, const char *);
      msgpack_pack_str(&mpk, strlen(s));
      msgpack_pack_str_body(&mpk, s, strlen(s));
      break;
    }
    case 'u':
      msgpack_pack_uint64(&mpk, va_arg(ap, uint64_t));
      break;
    case 'i':
      msgpack_pack_int64(&mpk, va_arg(ap, int64_t));
      break;
    case 'd':
      msgpack_pack_double(&mpk, va_arg(ap, double));
      break;
    case 'n':
      msgpack_pack_nil(&mpk);
      break;
    case 't':
      msgpack_pack_true(&mpk);
      break;
    case 'f':
      msgpack_pack_false(&mpk);
      break;
    case 'b': {
      const void *p = va_arg(ap, const void *);
      size_t n = va_arg(ap, size_t);
      msgpack_pack_bin(&mpk, n);
      msgpack_pack_bin_body(&mpk, p, n);
      break;
    }
    case 'x': {
      const void *p = va_arg(ap, const void *);
      size_t n = va_arg(ap, size_t);
      sio_buf_append(&mb, p, n);
      break;
    }
    case ' ': /* spaces and digits are for the reader */
    case '0':
    case '1':
    case '2':
    case '3':
    case '4':
    case '5':
    case '6':
    case '7':
    case '8':
    case '9':
      break;
    default:
      ck_abort_msg("bad format %c", *fmt);
    }
  }
}

static void mb_start(void) {
  sio_buf_reset(&mb);
  msgpack_packer_init(&mpk, &mb, mb_write);
}

static void mb_add(const char *fmt, ...) {
  va_list ap;
  va_start(ap, fmt);
  mbv(fmt, ap);
  va_end(ap);
}

/* Decodes what fmt builds; expects rv. */
static void expect(int rv, const char *fmt, ...) {
  eio_cm_decoded d;
  va_list ap;
  int got;
  mb_start();
  va_start(ap, fmt);
  mbv(fmt, ap);
  va_end(ap);
  got = dec(&d, (const uint8_t *)mb.data, mb.len);
  if (got == 0)
    eio_cm_decoded_free(&d);
  ck_assert_msg(got == rv, "%s: got %d, want %d", fmt, got, rv);
}

/* Decodes mb (built by the caller), which must decode. */
static void mb_decode(eio_cm_decoded *d) {
  int rv = dec(d, (const uint8_t *)mb.data, mb.len);
  ck_assert_msg(rv == 0, "rv %d", rv);
}

static void setup(void) { sio_buf_init(&mb); }
static void teardown(void) { sio_buf_deinit(&mb); }

/* --------------------------------------------------------------- golden */

static const char v_acquire_lock[] =
    "85a972657175657374496401a873656e6465724964a6316132623363a47479706500a4"
    "6461746183a3736964b4486c365563587a356863706a5871597a41414142ad7472616e"
    "73706f72744e616d65a7706f6c6c696e67a474797065a472656164a75f736f75726365"
    "a45f65696f";
static const char v_acquire_lock_ws[] =
    "85a9726571756573744964cd012ca873656e6465724964a6316132623363a474797065"
    "00a46461746183a3736964b4486c365563587a356863706a5871597a41414142ad7472"
    "616e73706f72744e616d65a9776562736f636b6574a474797065a472656164a75f736f"
    "75726365a45f65696f";
static const char v_acquire_lock_write[] =
    "85a9726571756573744964ce00011170a873656e6465724964a6316132623363a47479"
    "706500a46461746183a3736964b4486c365563587a356863706a5871597a41414142ad"
    "7472616e73706f72744e616d65a7706f6c6c696e67a474797065a57772697465a75f73"
    "6f75726365a45f65696f";
static const char v_acquire_lock_response[] =
    "86a972657175657374496401a873656e6465724964a6346435653666ab726563697069"
    "656e744964a6316132623363a47479706501a46461746181a773756363657373c3a75f"
    "736f75726365a45f65696f";
static const char v_acquire_lock_response_false[] =
    "86a9726571756573744964cd012ca873656e6465724964a6346435653666ab72656369"
    "7069656e744964a6316132623363a47479706501a46461746181a773756363657373c2"
    "a75f736f75726365a45f65696f";
static const char v_drain[] =
    "85a873656e6465724964a6346435653666ab726563697069656e744964a63161326233"
    "63a47479706502a46461746182a3736964b4486c365563587a356863706a5871597a41"
    "414142a77061636b6574739483a474797065a76d657373616765a76f7074696f6e7381"
    "a8636f6d7072657373c3a464617461ac325b2268656c6c6f222c315d83a474797065a7"
    "6d657373616765a76f7074696f6e7381a8636f6d7072657373c3a464617461c4030102"
    "0382a474797065a470696e67a76f7074696f6e7381a8636f6d7072657373c382a47479"
    "7065a46e6f6f70a76f7074696f6e7381a8636f6d7072657373c3a75f736f75726365a4"
    "5f65696f";
static const char v_drain_options[] =
    "85a873656e6465724964a6346435653666ab726563697069656e744964a63161326233"
    "63a47479706502a46461746182a3736964b4486c365563587a356863706a5871597a41"
    "414142a77061636b6574739583a474797065a76d657373616765a76f7074696f6e7384"
    "aa707265456e636f646564c3a8766f6c6174696c65c0a8636f6d7072657373c3b17773"
    "507265456e636f6465644672616d6592c4028109c40934325b22616c6c225da4646174"
    "61a8325b22616c6c225d83a474797065a76d657373616765a76f7074696f6e7381a863"
    "6f6d7072657373c2a464617461aa325b226e6f7a6970225d82a474797065a76d657373"
    "616765a76f7074696f6e7381a8636f6d7072657373c383a474797065a76d6573736167"
    "65a76f7074696f6e7381a8636f6d7072657373c3a464617461d92d325b227878787878"
    "7878787878787878787878787878787878787878787878787878787878787878787878"
    "225d83a474797065a76d657373616765a76f7074696f6e7381a8636f6d7072657373c3"
    "a464617461c5012cababababababababababababababababababababababababababab"
    "ababababababababababababababababababababababababababababababababababab"
    "ababababababababababababababababababababababababababababababababababab"
    "ababababababababababababababababababababababababababababababababababab"
    "ababababababababababababababababababababababababababababababababababab"
    "ababababababababababababababababababababababababababababababababababab"
    "ababababababababababababababababababababababababababababababababababab"
    "ababababababababababababababababababababababababababababababababababab"
    "ababababababababababababababababababababababababababababa75f736f757263"
    "65a45f65696f";
static const char v_packet[] =
    "85a873656e6465724964a6316132623363ab726563697069656e744964a63464356536"
    "66a47479706503a46461746182a3736964b4486c365563587a356863706a5871597a41"
    "414142a67061636b657482a474797065a76d657373616765a464617461af325b226576"
    "222c7b2261223a317d5da75f736f75726365a45f65696f";
static const char v_packet_bin[] =
    "85a873656e6465724964a6316132623363ab726563697069656e744964a63464356536"
    "66a47479706503a46461746182a3736964b4486c365563587a356863706a5871597a41"
    "414142a67061636b657482a474797065a76d657373616765a464617461c404deadbeef"
    "a75f736f75726365a45f65696f";
static const char v_packet_pong[] =
    "85a873656e6465724964a6316132623363ab726563697069656e744964a63464356536"
    "66a47479706503a46461746182a3736964b4486c365563587a356863706a5871597a41"
    "414142a67061636b657481a474797065a4706f6e67a75f736f75726365a45f65696f";
static const char v_packet_error[] =
    "85a873656e6465724964a6316132623363ab726563697069656e744964a63464356536"
    "66a47479706503a46461746182a3736964b4486c365563587a356863706a5871597a41"
    "414142a67061636b657482a474797065a56572726f72a464617461ac70617273657220"
    "6572726f72a75f736f75726365a45f65696f";
static const char v_upgrade[] =
    "86a972657175657374496402a873656e6465724964a6316132623363ab726563697069"
    "656e744964a6346435653666a47479706504a46461746182a3736964b4486c36556358"
    "7a356863706a5871597a41414142a773756363657373c3a75f736f75726365a45f6569"
    "6f";
static const char v_upgrade_response[] =
    "86a972657175657374496402a873656e6465724964a6346435653666ab726563697069"
    "656e744964a6316132623363a47479706505a46461746182a874616b654f766572c3a7"
    "7061636b6574739382a474797065a76d657373616765a464617461a13082a474797065"
    "a76d657373616765a464617461a7325b226576225d81a474797065a4706f6e67a75f73"
    "6f75726365a45f65696f";
static const char v_upgrade_response_false[] =
    "86a972657175657374496403a873656e6465724964a6346435653666ab726563697069"
    "656e744964a6316132623363a47479706505a46461746182a874616b654f766572c2a7"
    "7061636b65747390a75f736f75726365a45f65696f";
static const char v_close[] =
    "85a873656e6465724964a6316132623363ab726563697069656e744964a63464356536"
    "66a47479706506a46461746182a3736964b4486c365563587a356863706a5871597a41"
    "414142a6726561736f6eaf7472616e73706f727420636c6f7365a75f736f75726365a4"
    "5f65696f";
static const char v_close_primary[] =
    "86a873656e6465724964a6316132623363ab726563697069656e744964a63464356536"
    "66a47479706506a46461746182a3736964b4486c365563587a356863706a5871597a41"
    "414142a6726561736f6eaf7472616e73706f7274206572726f72a75f736f75726365a4"
    "5f65696faa5f7072696d6172794964d92430663363386634332d386134652d34633465"
    "2d396435332d316635623563396532613131";

static uint8_t bin123[] = {1, 2, 3};
static uint8_t deadbeef[] = {0xde, 0xad, 0xbe, 0xef};
static uint8_t ab300[300];

static eio_packet drain_pk[4], drain_opt_pk[5], packet_pk[1], packet_bin_pk[1],
    packet_pong_pk[1], upres_pk[3];

typedef struct golden {
  const char *name;
  const char *hex;
  int exact; /* eio_cm_encode of want gives these bytes */
  eio_cm_msg want;
} golden;

static golden goldens[16];
static size_t ngoldens;

static eio_cm_msg M(eio_cm_type t, const char *from, const char *to) {
  eio_cm_msg m;
  memset(&m, 0, sizeof(m));
  m.type = t;
  m.sender = S(from);
  m.recipient = S(to);
  return m;
}

static eio_cm_msg R(eio_cm_msg m, uint64_t id) {
  m.has_request_id = 1;
  m.request_id = id;
  return m;
}

static void add(const char *name, const char *hex, int exact, eio_cm_msg m) {
  ck_assert_uint_lt(ngoldens, SIO_ARRLEN(goldens));
  goldens[ngoldens].name = name;
  goldens[ngoldens].hex = hex;
  goldens[ngoldens].exact = exact;
  goldens[ngoldens].want = m;
  ngoldens++;
}

static void goldens_init(void) {
  static char long_str[64];
  eio_cm_msg m;
  if (ngoldens)
    return;
  memset(ab300, 0xab, sizeof(ab300));
  snprintf(long_str, sizeof(long_str), "2[\"%s\"]",
           "xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx");

  m = R(M(EIO_CM_ACQUIRE_LOCK, A, NULL), 1);
  m.sid = S(SID);
  m.transport = S("polling");
  add("acquire_lock", v_acquire_lock, 1, m);
  m.request_id = 300; /* uint16 */
  m.transport = S("websocket");
  add("acquire_lock_ws", v_acquire_lock_ws, 1, m);
  m.request_id = 70000; /* uint32 */
  m.transport = S("polling");
  m.write = 1;
  add("acquire_lock_write", v_acquire_lock_write, 1, m);

  m = R(M(EIO_CM_ACQUIRE_LOCK_RESPONSE, B, A), 1);
  m.success = 1;
  add("acquire_lock_response", v_acquire_lock_response, 1, m);
  m.request_id = 300;
  m.success = 0;
  add("acquire_lock_response_false", v_acquire_lock_response_false, 1, m);

  drain_pk[0] = T(EIO_PACKET_MESSAGE, "2[\"hello\",1]");
  drain_pk[1] = BIN(bin123, sizeof(bin123));
  drain_pk[2] = T(EIO_PACKET_PING, NULL);
  drain_pk[3] = T(EIO_PACKET_NOOP, NULL);
  m = M(EIO_CM_DRAIN, B, A);
  m.sid = S(SID);
  m.packets = drain_pk;
  m.npackets = 4;
  add("drain", v_drain, 1, m);

  drain_opt_pk[0] = T(EIO_PACKET_MESSAGE, "2[\"all\"]");
  drain_opt_pk[1] = T(EIO_PACKET_MESSAGE, "2[\"nozip\"]");
  drain_opt_pk[2] = T(EIO_PACKET_MESSAGE, NULL);
  drain_opt_pk[3] = T(EIO_PACKET_MESSAGE, long_str);
  drain_opt_pk[4] = BIN(ab300, sizeof(ab300));
  m.packets = drain_opt_pk;
  m.npackets = 5;
  add("drain_options", v_drain_options, 0, m);

  packet_pk[0] = T(EIO_PACKET_MESSAGE, "2[\"ev\",{\"a\":1}]");
  m = M(EIO_CM_PACKET, A, B);
  m.sid = S(SID);
  m.packets = packet_pk;
  m.npackets = 1;
  add("packet", v_packet, 1, m);
  packet_bin_pk[0] = BIN(deadbeef, sizeof(deadbeef));
  m.packets = packet_bin_pk;
  add("packet_bin", v_packet_bin, 1, m);
  packet_pong_pk[0] = T(EIO_PACKET_PONG, NULL);
  m.packets = packet_pong_pk;
  add("packet_pong", v_packet_pong, 1, m);

  m = R(M(EIO_CM_UPGRADE, A, B), 2);
  m.sid = S(SID);
  m.success = 1;
  add("upgrade", v_upgrade, 1, m);

  upres_pk[0] = T(EIO_PACKET_MESSAGE, "0");
  upres_pk[1] = T(EIO_PACKET_MESSAGE, "2[\"ev\"]");
  upres_pk[2] = T(EIO_PACKET_PONG, NULL);
  m = R(M(EIO_CM_UPGRADE_RESPONSE, B, A), 2);
  m.take_over = 1;
  m.packets = upres_pk;
  m.npackets = 3;
  add("upgrade_response", v_upgrade_response, 1, m);
  m = R(M(EIO_CM_UPGRADE_RESPONSE, B, A), 3);
  add("upgrade_response_false", v_upgrade_response_false, 1, m);

  m = M(EIO_CM_CLOSE, A, B);
  m.sid = S(SID);
  m.reason = S("transport close");
  add("close", v_close, 1, m);
  m.reason = S("transport error");
  add("close_primary", v_close_primary, 0, m);
}

/* Every vector, including the one that must not decode. */
static const char *all_hex[] = {v_acquire_lock,
                                v_acquire_lock_ws,
                                v_acquire_lock_write,
                                v_acquire_lock_response,
                                v_acquire_lock_response_false,
                                v_drain,
                                v_drain_options,
                                v_packet,
                                v_packet_bin,
                                v_packet_pong,
                                v_packet_error,
                                v_upgrade,
                                v_upgrade_response,
                                v_upgrade_response_false,
                                v_close,
                                v_close_primary};

START_TEST(golden_decode) {
  size_t i;
  goldens_init();
  ck_assert_uint_eq(ngoldens, 15);
  for (i = 0; i < ngoldens; i++) {
    const golden *g = &goldens[i];
    eio_cm_decoded d;
    size_t n;
    uint8_t *in = unhex(g->hex, &n);
    int rv = dec(&d, in, n);
    ck_assert_msg(rv == 0, "%s: %d", g->name, rv);
    msg_eq(&d.msg, &g->want);
    eio_cm_decoded_free(&d);
    ck_assert_ptr_null(d.priv);
    free(in);
  }
}
END_TEST

START_TEST(golden_encode) {
  size_t i, exact = 0;
  goldens_init();
  for (i = 0; i < ngoldens; i++) {
    const golden *g = &goldens[i];
    sio_buf out;
    size_t n;
    uint8_t *want;
    if (!g->exact)
      continue;
    want = unhex(g->hex, &n);
    sio_buf_init(&out);
    ck_assert_int_eq(sio_buf_append(&out, "pre", 3), 0);
    ck_assert_msg(eio_cm_encode(&out, &g->want) == 0, "%s", g->name);
    ck_assert_msg(out.len == n + 3 && memcmp(out.data + 3, want, n) == 0,
                  "%s: encoding differs from the capture", g->name);
    sio_buf_deinit(&out);
    free(want);
    exact++;
  }
  ck_assert_uint_eq(exact, 13);
}
END_TEST

/* Decode, encode, decode: the same message (the vectors that are not
 * exact lose their options and _primaryId on the way). */
START_TEST(golden_round_trip) {
  size_t i;
  goldens_init();
  for (i = 0; i < ngoldens; i++) {
    eio_cm_decoded d, e;
    sio_buf out;
    size_t n;
    uint8_t *in = unhex(goldens[i].hex, &n);
    ck_assert_int_eq(dec(&d, in, n), 0);
    sio_buf_init(&out);
    ck_assert_int_eq(eio_cm_encode(&out, &d.msg), 0);
    ck_assert_int_eq(dec(&e, (const uint8_t *)out.data, out.len), 0);
    msg_eq(&e.msg, &d.msg);
    msg_eq(&e.msg, &goldens[i].want);
    if (goldens[i].exact)
      ck_assert(out.len == n && memcmp(out.data, in, n) == 0);
    else
      ck_assert_uint_lt(out.len, n);
    eio_cm_decoded_free(&e);
    eio_cm_decoded_free(&d);
    sio_buf_deinit(&out);
    free(in);
  }
}
END_TEST

/* engine.io-parser's error packet (a POST the sender could not parse)
 * decodes to EIO_PACKET_ERROR, on which the owner closes the session with
 * "parse error", as a Node owner does. */
START_TEST(golden_error_packet) {
  eio_cm_decoded d;
  size_t n;
  uint8_t *in = unhex(v_packet_error, &n);
  ck_assert_int_eq(dec(&d, in, n), 0);
  ck_assert_int_eq(d.msg.type, EIO_CM_PACKET);
  ck_assert_uint_eq(d.msg.npackets, 1);
  ck_assert_int_eq(d.msg.packets[0].type, EIO_PACKET_ERROR);
  ck_assert_uint_eq(d.msg.packets[0].len, 12);
  ck_assert_int_eq(memcmp(d.msg.packets[0].data, "parser error", 12), 0);
  eio_cm_decoded_free(&d);
  free(in);
}
END_TEST

/* Every proper prefix of every vector is an error; every 1-bit flip and
 * every byte replaced by a few special values decodes or fails cleanly. */
START_TEST(truncations_and_flips) {
  static const uint8_t specials[] = {
      0x00, 0x7f, 0x80, 0x8f, 0x90, 0x9f, 0xa0, 0xbf, 0xc0, 0xc1, 0xc2, 0xc4,
      0xc7, 0xcb, 0xcf, 0xd3, 0xd4, 0xd9, 0xdb, 0xdc, 0xdd, 0xde, 0xdf, 0xff};
  size_t v, cut, i, bit, ok = 0;
  for (v = 0; v < SIO_ARRLEN(all_hex); v++) {
    size_t n;
    uint8_t *in = unhex(all_hex[v], &n);
    for (cut = 0; cut < n; cut++) {
      eio_cm_decoded d;
      ck_assert_int_eq(dec(&d, in, cut), SIO_ERR_PROTO);
    }
    for (i = 0; i < n; i++) {
      uint8_t save = in[i];
      for (bit = 0; bit < 8 + SIO_ARRLEN(specials); bit++) {
        eio_cm_decoded d;
        int rv;
        in[i] = bit < 8 ? (uint8_t)(save ^ (1u << bit)) : specials[bit - 8];
        rv = dec(&d, in, n);
        ck_assert(rv == 0 || rv == SIO_ERR_PROTO || rv == SIO_ERR_UNSUPPORTED);
        if (rv == 0) {
          ck_assert_uint_ge(d.msg.sender.len, 1);
          ck_assert_int_le(d.msg.type, EIO_CM_CLOSE);
          ok++;
          eio_cm_decoded_free(&d);
        }
      }
      in[i] = save;
    }
    free(in);
  }
  ck_assert_uint_gt(ok, 0);
}
END_TEST

START_TEST(trailing_bytes) {
  static const uint8_t tails[] = {0x00, 0xc0, 0xc1, 0x90};
  size_t v, t;
  for (v = 0; v < SIO_ARRLEN(all_hex); v++) {
    size_t n;
    uint8_t *in = unhex(all_hex[v], &n), *more = malloc(n + 1);
    memcpy(more, in, n);
    for (t = 0; t < SIO_ARRLEN(tails); t++) {
      eio_cm_decoded d;
      more[n] = tails[t];
      ck_assert_int_eq(dec(&d, more, n + 1), SIO_ERR_PROTO);
    }
    free(more);
    free(in);
  }
}
END_TEST

/* --------------------------------------------------------------- shapes */

#define U(x) ((uint64_t)(x))
#define I(x) ((int64_t)(x))
#define Z(x) ((size_t)(x))
#define OK 0
#define PROTO SIO_ERR_PROTO
#define UNSUP SIO_ERR_UNSUPPORTED

/* the tail of a CLOSE message after its map header and senderId */
#define CLOSE_REST "ss su s m2 ssss ss"
#define CLOSE_ARGS                                                             \
  "recipientId", B, "type", U(6), "data", 2, "sid", SID, "reason", "r",        \
      "_source", "_eio"

START_TEST(not_messages) {
  eio_cm_decoded d;
  ck_assert_int_eq(eio_cm_decode(&d, NULL, 4), PROTO);
  ck_assert_int_eq(eio_cm_decode(&d, (const uint8_t *)"\x80", 0), PROTO);
  ck_assert_ptr_null(d.priv);
  expect(PROTO, "a0", 0);
  expect(PROTO, "s", "_eio");
  expect(PROTO, "n");
  expect(PROTO, "u", U(3));
  expect(PROTO, "t");
  expect(PROTO, "b", "\x85", Z(1));
  expect(PROTO, "x", "\xc1", Z(1));
  /* a map, but nobody's message */
  expect(UNSUP, "m0", 0);
  expect(OK, "m5 ss" CLOSE_REST, 5, "senderId", A, CLOSE_ARGS);
}
END_TEST

START_TEST(foreign_source) {
  static const char *const others[] = {"_sio", "", "_eiox", "_ei", "_EIO"};
  size_t i;
  for (i = 0; i < SIO_ARRLEN(others); i++)
    expect(UNSUP, "m5 ss ss su s m2 ssss ss", 5, "senderId", A, "recipientId",
           B, "type", U(6), "data", 2, "sid", SID, "reason", "r", "_source",
           others[i]);
  /* missing, nil, not a string */
  expect(UNSUP, "m4 ss ss su s m2 ssss", 4, "senderId", A, "recipientId", B,
         "type", U(6), "data", 2, "sid", SID, "reason", "r");
  expect(UNSUP, "m5 ss ss su s m2 ssss sn", 5, "senderId", A, "recipientId", B,
         "type", U(6), "data", 2, "sid", SID, "reason", "r", "_source");
  expect(UNSUP, "m5 ss ss su s m2 ssss su", 5, "senderId", A, "recipientId", B,
         "type", U(6), "data", 2, "sid", SID, "reason", "r", "_source", U(1));
  expect(UNSUP, "m5 ss ss su s m2 ssss sb", 5, "senderId", A, "recipientId", B,
         "type", U(6), "data", 2, "sid", SID, "reason", "r", "_source", "_eio",
         Z(4));
  /* a foreign message need not look like ours at all */
  expect(UNSUP, "m2 su ss", 2, "type", U(99), "_source", "_sio");
  /* ours but broken: a protocol error */
  expect(PROTO, "m2 su ss", 2, "type", U(99), "_source", "_eio");
  /* the last _source wins */
  expect(UNSUP, "m6 ss ss su s m2 ssss ss ss", 6, "senderId", A, "recipientId",
         B, "type", U(6), "data", 2, "sid", SID, "reason", "r", "_source",
         "_eio", "_source", "_sio");
  expect(OK, "m6 ss ss ss su s m2 ssss ss", 6, "_source", "x", "senderId", A,
         "recipientId", B, "type", U(6), "data", 2, "sid", SID, "reason", "r",
         "_source", "_eio");
  expect(UNSUP, "m6 ss ss su s m2 ssss ss sn", 6, "senderId", A, "recipientId",
         B, "type", U(6), "data", 2, "sid", SID, "reason", "r", "_source",
         "_eio", "_source");
}
END_TEST

START_TEST(envelope_keys) {
  eio_cm_decoded d;
  /* senderId: a non-empty string */
  expect(PROTO, "m4" CLOSE_REST, 4, CLOSE_ARGS);
  expect(PROTO, "m5 ss" CLOSE_REST, 5, "senderId", "", CLOSE_ARGS);
  expect(PROTO, "m5 sn" CLOSE_REST, 5, "senderId", CLOSE_ARGS);
  expect(PROTO, "m5 su" CLOSE_REST, 5, "senderId", U(1), CLOSE_ARGS);
  expect(PROTO, "m5 sb" CLOSE_REST, 5, "senderId", A, Z(6), CLOSE_ARGS);
  /* type: an integer 0..6 */
  expect(PROTO, "m4 ss ss s m2 ssss ss", 4, "senderId", A, "recipientId", B,
         "data", 2, "sid", SID, "reason", "r", "_source", "_eio");
  expect(PROTO, "m5 ss ss su s m2 ssss ss", 5, "senderId", A, "recipientId", B,
         "type", U(7), "data", 2, "sid", SID, "reason", "r", "_source", "_eio");
  expect(PROTO, "m5 ss ss si s m2 ssss ss", 5, "senderId", A, "recipientId", B,
         "type", I(-1), "data", 2, "sid", SID, "reason", "r", "_source",
         "_eio");
  expect(PROTO, "m5 ss ss ss s m2 ssss ss", 5, "senderId", A, "recipientId", B,
         "type", "6", "data", 2, "sid", SID, "reason", "r", "_source", "_eio");
  expect(PROTO, "m5 ss ss sd s m2 ssss ss", 5, "senderId", A, "recipientId", B,
         "type", 6.5, "data", 2, "sid", SID, "reason", "r", "_source", "_eio");
  expect(PROTO, "m5 ss ss sn s m2 ssss ss", 5, "senderId", A, "recipientId", B,
         "type", "data", 2, "sid", SID, "reason", "r", "_source", "_eio");
  /* a JavaScript number is a number: 6.0 is CLOSE */
  expect(OK, "m5 ss ss sd s m2 ssss ss", 5, "senderId", A, "recipientId", B,
         "type", 6.0, "data", 2, "sid", SID, "reason", "r", "_source", "_eio");
  /* data: a map */
  expect(PROTO, "m4 ss ss su ss", 4, "senderId", A, "recipientId", B, "type",
         U(6), "_source", "_eio");
  expect(PROTO, "m5 ss ss su sn ss", 5, "senderId", A, "recipientId", B, "type",
         U(6), "data", "_source", "_eio");
  expect(PROTO, "m5 ss ss su s a2 ss ss", 5, "senderId", A, "recipientId", B,
         "type", U(6), "data", 2, "sid", SID, "_source", "_eio");
  expect(PROTO, "m5 ss ss su ss ss", 5, "senderId", A, "recipientId", B, "type",
         U(6), "data", "x", "_source", "_eio");
  /* recipientId: a string when there is one */
  expect(PROTO, "m5 ss su su s m2 ssss ss", 5, "senderId", A, "recipientId",
         U(5), "type", U(6), "data", 2, "sid", SID, "reason", "r", "_source",
         "_eio");
  mb_start();
  mb_add("m5 ss sn su s m2 ssss ss", 5, "senderId", A, "recipientId", "type",
         U(6), "data", 2, "sid", SID, "reason", "r", "_source", "_eio");
  mb_decode(&d);
  ck_assert_uint_eq(d.msg.recipient.len, 0);
  eio_cm_decoded_free(&d);
  mb_start();
  mb_add("m4 ss su s m2 ssss ss", 4, "senderId", A, "type", U(6), "data", 2,
         "sid", SID, "reason", "r", "_source", "_eio");
  mb_decode(&d);
  ck_assert_uint_eq(d.msg.recipient.len, 0);
  ck_assert_int_eq(d.msg.has_request_id, 0);
  eio_cm_decoded_free(&d);
  /* a requestId where the type has none is kept */
  mb_start();
  mb_add("m6 su ss ss su s m2 ssss ss", 6, "requestId", U(9), "senderId", A,
         "recipientId", B, "type", U(6), "data", 2, "sid", SID, "reason", "r",
         "_source", "_eio");
  mb_decode(&d);
  ck_assert_int_eq(d.msg.has_request_id, 1);
  ck_assert_uint_eq(d.msg.request_id, 9);
  eio_cm_decoded_free(&d);
}
END_TEST

/* an ACQUIRE_LOCK with requestId of fmt r and data (3 pairs) of fmt dat */
#define LOCK(rv, r, dat, ...)                                                  \
  expect(rv, "m5 s" r " ss su s m3 " dat " ss", 5, "requestId", __VA_ARGS__,   \
         "_source", "_eio")
#define LOCK_MID "senderId", A, "type", U(0), "data", 3

START_TEST(request_ids) {
  eio_cm_decoded d;
  LOCK(OK, "u", "ss ss ss", U(1), LOCK_MID, "sid", SID, "transportName",
       "polling", "type", "read");
  LOCK(PROTO, "n", "ss ss ss", LOCK_MID, "sid", SID, "transportName", "polling",
       "type", "read");
  LOCK(PROTO, "i", "ss ss ss", I(-1), LOCK_MID, "sid", SID, "transportName",
       "polling", "type", "read");
  LOCK(PROTO, "s", "ss ss ss", "1", LOCK_MID, "sid", SID, "transportName",
       "polling", "type", "read");
  LOCK(PROTO, "d", "ss ss ss", 1.5, LOCK_MID, "sid", SID, "transportName",
       "polling", "type", "read");
  LOCK(PROTO, "d", "ss ss ss", -1.0, LOCK_MID, "sid", SID, "transportName",
       "polling", "type", "read");
  LOCK(PROTO, "d", "ss ss ss", 18014398509481984.0, LOCK_MID, "sid", SID,
       "transportName", "polling", "type", "read");
  LOCK(PROTO, "t", "ss ss ss", LOCK_MID, "sid", SID, "transportName", "polling",
       "type", "read");
  /* missing where the type needs it */
  expect(PROTO, "m4 ss su s m3 ss ss ss ss", 4, LOCK_MID, "sid", SID,
         "transportName", "polling", "type", "read", "_source", "_eio");
  expect(PROTO, "m5 ss ss su s m1 st ss", 5, "senderId", B, "recipientId", A,
         "type", U(1), "data", 1, "success", "_source", "_eio");
  expect(PROTO, "m5 ss ss su s m2 ss st ss", 5, "senderId", B, "recipientId", A,
         "type", U(4), "data", 2, "sid", SID, "success", "_source", "_eio");
  expect(PROTO, "m5 ss ss su s m2 st sa0 ss", 5, "senderId", B, "recipientId",
         A, "type", U(5), "data", 2, "takeOver", "packets", 0, "_source",
         "_eio");
  /* widths and forms of one number */
  mb_start();
  mb_add("m5 s x ss su s m3 ss ss ss ss", 5, "requestId", "\xd1\x01\x2c", Z(3),
         LOCK_MID, "sid", SID, "transportName", "polling", "type", "read",
         "_source", "_eio");
  mb_decode(&d);
  ck_assert_uint_eq(d.msg.request_id, 300);
  eio_cm_decoded_free(&d);
  mb_start();
  mb_add("m5 su ss su s m3 ss ss ss ss", 5, "requestId", U(UINT64_MAX),
         LOCK_MID, "sid", SID, "transportName", "polling", "type", "read",
         "_source", "_eio");
  mb_decode(&d);
  ck_assert_uint_eq(d.msg.request_id, UINT64_MAX);
  eio_cm_decoded_free(&d);
  mb_start();
  mb_add("m5 sd ss su s m3 ss ss ss ss", 5, "requestId", 9007199254740992.0,
         LOCK_MID, "sid", SID, "transportName", "polling", "type", "read",
         "_source", "_eio");
  mb_decode(&d);
  ck_assert_uint_eq(d.msg.request_id, 9007199254740992ull);
  eio_cm_decoded_free(&d);
  mb_start();
  mb_add("m5 s x ss su s m3 ss ss ss ss", 5, "requestId",
         "\xca\x40\x40\x00\x00", Z(5), LOCK_MID, "sid", SID, "transportName",
         "polling", "type", "read", "_source", "_eio");
  mb_decode(&d);
  ck_assert_uint_eq(d.msg.request_id, 3);
  eio_cm_decoded_free(&d);
}
END_TEST

START_TEST(acquire_lock_data) {
  eio_cm_decoded d;
  LOCK(PROTO, "u", "ss ss ss", U(1), LOCK_MID, "sid", SID, "transportName",
       "polling", "type", "exclusive");
  LOCK(PROTO, "u", "ss ss ss", U(1), LOCK_MID, "sid", SID, "transportName",
       "polling", "type", "READ");
  LOCK(PROTO, "u", "ss ss sn", U(1), LOCK_MID, "sid", SID, "transportName",
       "polling", "type");
  LOCK(PROTO, "u", "ss ss st", U(1), LOCK_MID, "sid", SID, "transportName",
       "polling", "type");
  LOCK(PROTO, "u", "ss ss ss", U(1), LOCK_MID, "sid", SID, "transportName", "",
       "type", "read");
  LOCK(PROTO, "u", "ss su ss", U(1), LOCK_MID, "sid", SID, "transportName",
       U(1), "type", "read");
  LOCK(PROTO, "u", "ss ss ss", U(1), LOCK_MID, "sid", "", "transportName",
       "polling", "type", "read");
  LOCK(PROTO, "u", "su ss ss", U(1), LOCK_MID, "sid", U(1), "transportName",
       "polling", "type", "read");
  LOCK(PROTO, "u", "ss ss ss", U(1), LOCK_MID, "sId", SID, "transportName",
       "polling", "type", "read");
  /* keys in any order; unknown keys skipped; any transport name */
  mb_start();
  mb_add("m7 ss s m4 ss ss su ss s a1 m1 ss su s x ss su", 7, "_source", "_eio",
         "data", 4, "type", "write", "transportName", "webtransport", "extra",
         U(1), "sid", SID, "more", 1, 1, "a", "b", "requestId", U(5), "type",
         "\xcc\x00", Z(2), "senderId", A, "x", U(1));
  mb_decode(&d);
  ck_assert_int_eq(d.msg.type, EIO_CM_ACQUIRE_LOCK);
  ck_assert_uint_eq(d.msg.request_id, 5);
  ck_assert_int_eq(d.msg.write, 1);
  str_eq(d.msg.transport, S("webtransport"), "transport");
  str_eq(d.msg.sid, S(SID), "sid");
  str_eq(d.msg.sender, S(A), "sender");
  eio_cm_decoded_free(&d);
}
END_TEST

/* a DRAIN whose packets array is built by the caller after this */
static void drain_start(int npackets) {
  mb_start();
  mb_add("m5 ss ss ss su s m2 ss s a", 5, "_source", "_eio", "senderId", B,
         "recipientId", A, "type", U(2), "data", 2, "sid", SID, "packets",
         npackets);
}

static int drain_end(void) {
  eio_cm_decoded d;
  int rv = dec(&d, (const uint8_t *)mb.data, mb.len);
  if (rv == 0)
    eio_cm_decoded_free(&d);
  return rv;
}

START_TEST(other_data) {
  eio_cm_decoded d;
  /* success / takeOver: bool, absent or nil is false */
  mb_start();
  mb_add("m6 su ss ss su s m0 ss", 6, "requestId", U(1), "senderId", B,
         "recipientId", A, "type", U(1), "data", 0, "_source", "_eio");
  mb_decode(&d);
  ck_assert_int_eq(d.msg.success, 0);
  eio_cm_decoded_free(&d);
  mb_start();
  mb_add("m6 su ss ss su s m1 sn ss", 6, "requestId", U(1), "senderId", B,
         "recipientId", A, "type", U(1), "data", 1, "success", "_source",
         "_eio");
  mb_decode(&d);
  ck_assert_int_eq(d.msg.success, 0);
  eio_cm_decoded_free(&d);
  mb_start();
  mb_add("m6 su ss ss su s m2 st sf ss", 6, "requestId", U(1), "senderId", B,
         "recipientId", A, "type", U(1), "data", 2, "success", "success",
         "_source", "_eio");
  mb_decode(&d);
  ck_assert_int_eq(d.msg.success, 0); /* the last one */
  eio_cm_decoded_free(&d);
  expect(PROTO, "m6 su ss ss su s m1 su ss", 6, "requestId", U(1), "senderId",
         B, "recipientId", A, "type", U(1), "data", 1, "success", U(1),
         "_source", "_eio");
  expect(PROTO, "m6 su ss ss su s m1 ss ss", 6, "requestId", U(1), "senderId",
         B, "recipientId", A, "type", U(1), "data", 1, "success", "true",
         "_source", "_eio");
  /* UPGRADE */
  mb_start();
  mb_add("m6 su ss ss su s m2 ss st ss", 6, "requestId", U(2), "senderId", A,
         "recipientId", B, "type", U(4), "data", 2, "sid", SID, "success",
         "_source", "_eio");
  mb_decode(&d);
  ck_assert_int_eq(d.msg.success, 1);
  eio_cm_decoded_free(&d);
  expect(PROTO, "m6 su ss ss su s m1 st ss", 6, "requestId", U(2), "senderId",
         A, "recipientId", B, "type", U(4), "data", 1, "success", "_source",
         "_eio");
  /* UPGRADE_RESPONSE: packets required, takeOver a bool */
  expect(PROTO, "m6 su ss ss su s m1 st ss", 6, "requestId", U(2), "senderId",
         A, "recipientId", B, "type", U(5), "data", 1, "takeOver", "_source",
         "_eio");
  expect(PROTO, "m6 su ss ss su s m2 st sn ss", 6, "requestId", U(2),
         "senderId", A, "recipientId", B, "type", U(5), "data", 2, "takeOver",
         "packets", "_source", "_eio");
  expect(PROTO, "m6 su ss ss su s m2 st sm0 ss", 6, "requestId", U(2),
         "senderId", A, "recipientId", B, "type", U(5), "data", 2, "takeOver",
         "packets", 0, "_source", "_eio");
  expect(PROTO, "m6 su ss ss su s m2 ss sa0 ss", 6, "requestId", U(2),
         "senderId", A, "recipientId", B, "type", U(5), "data", 2, "takeOver",
         "yes", "packets", 0, "_source", "_eio");
  mb_start();
  mb_add("m6 su ss ss su s m1 sa0 ss", 6, "requestId", U(2), "senderId", A,
         "recipientId", B, "type", U(5), "data", 1, "packets", 0, "_source",
         "_eio");
  mb_decode(&d);
  ck_assert_int_eq(d.msg.take_over, 0);
  ck_assert_uint_eq(d.msg.npackets, 0);
  ck_assert_ptr_null(d.msg.packets);
  eio_cm_decoded_free(&d);
  /* PACKET: one packet map */
  expect(PROTO, "m5 ss ss su s m1 ss ss", 5, "senderId", A, "recipientId", B,
         "type", U(3), "data", 1, "sid", SID, "_source", "_eio");
  expect(PROTO, "m5 ss ss su s m2 ss s a1 m1 ss ss", 5, "senderId", A,
         "recipientId", B, "type", U(3), "data", 2, "sid", SID, "packet", 1, 1,
         "type", "ping", "_source", "_eio");
  expect(PROTO, "m5 ss ss su s m2 sn s m1 ss ss", 5, "senderId", A,
         "recipientId", B, "type", U(3), "data", 2, "sid", "packet", 1, "type",
         "ping", "_source", "_eio");
  /* CLOSE: reason a string, maybe empty */
  expect(PROTO, "m5 ss ss su s m1 ss ss", 5, "senderId", A, "recipientId", B,
         "type", U(6), "data", 1, "sid", SID, "_source", "_eio");
  expect(PROTO, "m5 ss ss su s m2 ss su ss", 5, "senderId", A, "recipientId", B,
         "type", U(6), "data", 2, "sid", SID, "reason", U(1), "_source",
         "_eio");
  mb_start();
  mb_add("m5 ss ss su s m2 ss ss ss", 5, "senderId", A, "recipientId", B,
         "type", U(6), "data", 2, "sid", SID, "reason", "", "_source", "_eio");
  mb_decode(&d);
  ck_assert_uint_eq(d.msg.reason.len, 0);
  eio_cm_decoded_free(&d);
  /* DRAIN */
  expect(PROTO, "m5 ss ss su s m1 ss ss", 5, "senderId", A, "recipientId", B,
         "type", U(2), "data", 1, "sid", SID, "_source", "_eio");
  expect(PROTO, "m5 ss ss su s m1 s a0 ss", 5, "senderId", A, "recipientId", B,
         "type", U(2), "data", 1, "packets", 0, "_source", "_eio");
}
END_TEST

START_TEST(packets) {
  static const uint8_t bytes[] = {0, 1, 2};
  eio_cm_decoded d;
  size_t i;
  /* what Node writes and what it may */
  drain_start(9);
  mb_add("m1 ss", 1, "type", "open");                       /* no data */
  mb_add("m2 ss sn", 2, "type", "close", "data");           /* nil data */
  mb_add("m3 ss ss sm1 sn", 3, "data", "x", "type", "ping", /* any order */
         "options", 1, "compress");
  mb_add("m2 ss sm1 sf", 2, "type", "pong", "options", 1, "compress");
  mb_add("m3 ss sb sn", 3, "type", "message", "data", bytes, Z(3), "options");
  mb_add("m2 ss ss", 2, "type", "message", "data", "");
  mb_add("m3 ss ss sa2 uu", 3, "type", "upgrade", "options", "whatever",
         "extra", 2, U(1), U(2));
  mb_add("m3 ss su ss", 3, "type", "noop", "1", U(1), "type", "noop");
  mb_add("m3 ss sb ss", 3, "type", "message", "data", bytes, Z(0), "x", "y");
  mb_decode(&d);
  ck_assert_uint_eq(d.msg.npackets, 9);
  for (i = 0; i < 9; i++)
    ck_assert_int_eq(d.msg.packets[i].binary, i == 4 || i == 8);
  ck_assert_int_eq(d.msg.packets[0].type, EIO_PACKET_OPEN);
  ck_assert_ptr_null(d.msg.packets[0].data);
  ck_assert_int_eq(d.msg.packets[1].type, EIO_PACKET_CLOSE);
  ck_assert_ptr_null(d.msg.packets[1].data);
  ck_assert_int_eq(d.msg.packets[2].type, EIO_PACKET_PING);
  ck_assert_uint_eq(d.msg.packets[2].len, 1);
  ck_assert_int_eq(d.msg.packets[2].data[0], 'x');
  ck_assert_int_eq(d.msg.packets[3].type, EIO_PACKET_PONG);
  ck_assert_int_eq(d.msg.packets[4].type, EIO_PACKET_MESSAGE);
  ck_assert_uint_eq(d.msg.packets[4].len, 3);
  ck_assert_mem_eq(d.msg.packets[4].data, bytes, 3);
  ck_assert_ptr_nonnull(d.msg.packets[5].data); /* "" is data */
  ck_assert_uint_eq(d.msg.packets[5].len, 0);
  ck_assert_int_eq(d.msg.packets[6].type, EIO_PACKET_UPGRADE);
  ck_assert_int_eq(d.msg.packets[7].type, EIO_PACKET_NOOP);
  ck_assert_ptr_nonnull(d.msg.packets[8].data);
  ck_assert_uint_eq(d.msg.packets[8].len, 0);
  eio_cm_decoded_free(&d);

  /* what does not make a packet */
  drain_start(1);
  mb_add("u", U(4));
  ck_assert_int_eq(drain_end(), PROTO);
  drain_start(1);
  mb_add("m0", 0);
  ck_assert_int_eq(drain_end(), PROTO);
  drain_start(1);
  mb_add("m1 ss", 1, "data", "x");
  ck_assert_int_eq(drain_end(), PROTO);
  drain_start(1);
  mb_add("m1 sn", 1, "type");
  ck_assert_int_eq(drain_end(), PROTO);
  drain_start(1);
  mb_add("m1 su", 1, "type", U(4));
  ck_assert_int_eq(drain_end(), PROTO);
  drain_start(1);
  mb_add("m2 ss ss", 2, "type", "error", "data", "parser error");
  ck_assert_int_eq(drain_end(), PROTO);
  drain_start(1);
  mb_add("m1 ss", 1, "type", "Message");
  ck_assert_int_eq(drain_end(), PROTO);
  drain_start(1);
  mb_add("m1 ss", 1, "type", "message ");
  ck_assert_int_eq(drain_end(), PROTO);
  drain_start(1);
  mb_add("m1 sb", 1, "type", "message", Z(7));
  ck_assert_int_eq(drain_end(), PROTO);
  drain_start(1);
  mb_add("m2 ss sb", 2, "type", "ping", "data", bytes, Z(3));
  ck_assert_int_eq(drain_end(), PROTO);
  drain_start(1);
  mb_add("m2 ss su", 2, "type", "message", "data", U(5));
  ck_assert_int_eq(drain_end(), PROTO);
  drain_start(1);
  mb_add("m2 ss st", 2, "type", "message", "data");
  ck_assert_int_eq(drain_end(), PROTO);
  /* a Buffer relayed through a cluster primary's JSON IPC */
  drain_start(1);
  mb_add("m2 ss s m2 ss s a1 u", 2, "type", "message", "data", 2, "type",
         "Buffer", "data", 1, U(1));
  ck_assert_int_eq(drain_end(), PROTO);
  drain_start(1);
  mb_add("m2 ss sa0", 2, "type", "message", "data", 0);
  ck_assert_int_eq(drain_end(), PROTO);
}
END_TEST

START_TEST(packet_count) {
  eio_cm_decoded d;
  int i;
  drain_start(EIO_CM_PACKETS_MAX);
  for (i = 0; i < EIO_CM_PACKETS_MAX; i++)
    mb_add("m1 ss", 1, "type", "noop");
  mb_decode(&d);
  ck_assert_uint_eq(d.msg.npackets, EIO_CM_PACKETS_MAX);
  ck_assert_int_eq(d.msg.packets[EIO_CM_PACKETS_MAX - 1].type, EIO_PACKET_NOOP);
  eio_cm_decoded_free(&d);
  drain_start(EIO_CM_PACKETS_MAX + 1);
  for (i = 0; i < EIO_CM_PACKETS_MAX + 1; i++)
    mb_add("m1 ss", 1, "type", "noop");
  ck_assert_int_eq(drain_end(), PROTO);
  /* counts the bytes cannot hold */
  drain_start(0);
  sio_buf_truncate(&mb, mb.len - 1);
  mb_add("x m1 ss", "\xdd\xff\xff\xff\xff", Z(5), 1, "type", "noop");
  ck_assert_int_eq(drain_end(), PROTO);
  drain_start(0);
  sio_buf_truncate(&mb, mb.len - 1);
  mb_add("x", "\xdf\xff\xff\xff\xff", Z(5));
  ck_assert_int_eq(drain_end(), PROTO);
  drain_start(0);
  sio_buf_truncate(&mb, mb.len - 1);
  mb_add("x", "\xdb\xff\xff\xff\xff", Z(5));
  ck_assert_int_eq(drain_end(), PROTO);
  drain_start(0);
  sio_buf_truncate(&mb, mb.len - 1);
  mb_add("x", "\xc6\xff\xff\xff\xf0", Z(5));
  ck_assert_int_eq(drain_end(), PROTO);
  expect(PROTO, "x", "\xdf\x7f\xff\xff\xff", Z(5));
  expect(PROTO, "x", "\xdf\x00\x00\x00\x01\xa1", Z(6));
}
END_TEST

/* a CLOSE with one extra member "x": fmt is its value */
#define EXTRA(rv, fmt, ...)                                                    \
  expect(rv, "m6 ss ss su s m2 ssss ss s " fmt, 6, "senderId", A,              \
         "recipientId", B, "type", U(6), "data", 2, "sid", SID, "reason", "r", \
         "_source", "_eio", "x", __VA_ARGS__)
/* the same with an extra key of fmt (and a value) */
#define EXTRA_KEY(rv, fmt, ...)                                                \
  expect(rv, "m6 ss ss su s m2 ssss ss " fmt, 6, "senderId", A, "recipientId", \
         B, "type", U(6), "data", 2, "sid", SID, "reason", "r", "_source",     \
         "_eio", __VA_ARGS__)

/* What @msgpack/msgpack's decode throws on, anywhere in the message. */
START_TEST(msgpack_rules) {
  int depth;
  EXTRA(OK, "u", U(1));
  EXTRA(OK, "i", I(-5));
  EXTRA(OK, "d", 0.5);
  EXTRA(OK, "b", "ab", Z(2));
  EXTRA(OK, "x", "\xd4\x05\x01", Z(3));             /* fixext 1 */
  EXTRA(OK, "x", "\xd6\xff\x00\x00\x00\x01", Z(6)); /* timestamp 32 */
  EXTRA(OK, "x", "\xc7\x0c\xff\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x01",
        Z(15));                                /* timestamp 96 */
  EXTRA(OK, "x", "\xc7\x00\x05", Z(3));        /* ext 8, empty */
  EXTRA(PROTO, "x", "\xd5\xff\x00\x00", Z(4)); /* timestamp of 2 bytes */
  EXTRA(PROTO, "x", "\xc7\x05\xff\x00\x00\x00\x00\x00", Z(8));
  EXTRA(PROTO, "x", "\xc1", Z(1));
  EXTRA(PROTO, "x", "\x91\xc1", Z(2));
  EXTRA(PROTO, "x", "\x81\xa1\x61\xc1", Z(4));
  /* map keys: strings and numbers, never __proto__ */
  EXTRA_KEY(OK, "u u", U(7), U(0));
  EXTRA_KEY(OK, "i u", I(-7), U(0));
  EXTRA_KEY(OK, "d u", 1.5, U(0));
  EXTRA_KEY(PROTO, "s u", "__proto__", U(0));
  EXTRA_KEY(PROTO, "n u", U(0));
  EXTRA_KEY(PROTO, "t u", U(0));
  EXTRA_KEY(PROTO, "b u", "k", Z(1), U(0));
  EXTRA_KEY(PROTO, "a0 u", 0, U(0));
  EXTRA_KEY(PROTO, "m0 u", 0, U(0));
  EXTRA_KEY(PROTO, "x u", "\xd4\x01\x00", Z(3), U(0));
  EXTRA(PROTO, "m1 s u", 1, "__proto__", U(1));
  EXTRA(PROTO, "a1 m1 n u", 1, 1, U(1));
  EXTRA(OK, "a1 m1 s u", 1, 1, "__proto_", U(1));
  expect(PROTO, "m5 ss ss su s m3 ssss sn ss", 5, "senderId", A, "recipientId",
         B, "type", U(6), "data", 3, "sid", SID, "reason", "r", "__proto__",
         "_source", "_eio");
  /* nesting: 64 levels are skipped, 65 are not */
  for (depth = 63; depth <= 66; depth++) {
    int j;
    mb_start();
    mb_add("m6 ss ss su s m2 ssss ss s", 6, "senderId", A, "recipientId", B,
           "type", U(6), "data", 2, "sid", SID, "reason", "r", "_source",
           "_eio", "x");
    for (j = 0; j < depth; j++)
      mb_add("a1", 1);
    mb_add("u", U(1));
    ck_assert_int_eq(drain_end(), depth <= 64 ? OK : PROTO);
  }
}
END_TEST

/* A decoded message is one allocation, whatever its packets. */
START_TEST(one_allocation) {
  size_t v;
  for (v = 0; v < SIO_ARRLEN(all_hex); v++) {
    eio_cm_decoded d;
    size_t n;
    uint8_t *in = unhex(all_hex[v], &n);
    int rv;
    sio_mem_fail_after(-1);
    rv = eio_cm_decode(&d, in, n);
    ck_assert_int_eq(sio_mem_fail_after(-1), rv == 0);
    eio_cm_decoded_free(&d);
    free(in);
  }
}
END_TEST

/* ------------------------------------------------------------- encoding */

static int enc_rv(const eio_cm_msg *m) {
  sio_buf out;
  int rv;
  sio_buf_init(&out);
  ck_assert_int_eq(sio_buf_append(&out, "keep", 4), 0);
  rv = eio_cm_encode(&out, m);
  if (rv) {
    ck_assert_uint_eq(out.len, 4);
    ck_assert_str_eq(out.data, "keep");
  }
  sio_buf_deinit(&out);
  return rv;
}

START_TEST(encode_errors) {
  eio_packet one = T(EIO_PACKET_MESSAGE, "x"), many[EIO_CM_PACKETS_MAX + 1];
  eio_cm_msg base, m;
  size_t i;
  for (i = 0; i < SIO_ARRLEN(many); i++)
    many[i] = T(EIO_PACKET_NOOP, NULL);
  base = M(EIO_CM_CLOSE, A, B);
  base.sid = S(SID);
  base.reason = S("r");
  ck_assert_int_eq(enc_rv(&base), 0);
  m = base;
  m.sender = S("");
  ck_assert_int_eq(enc_rv(&m), SIO_ERR_INVAL);
  m.sender.len = 3; /* NULL with a length */
  m.sender.s = NULL;
  ck_assert_int_eq(enc_rv(&m), SIO_ERR_INVAL);
  m = base;
  m.recipient = S(NULL);
  ck_assert_int_eq(enc_rv(&m), SIO_ERR_INVAL);
  m = base;
  m.type = (eio_cm_type)7;
  ck_assert_int_eq(enc_rv(&m), SIO_ERR_INVAL);
  m.type = (eio_cm_type)-1;
  ck_assert_int_eq(enc_rv(&m), SIO_ERR_INVAL);
  m = base;
  m.sid = S("");
  ck_assert_int_eq(enc_rv(&m), SIO_ERR_INVAL);
  m = base;
  m.reason.s = NULL;
  ck_assert_int_eq(enc_rv(&m), SIO_ERR_INVAL);
  m.reason.len = 0; /* an empty reason is fine */
  ck_assert_int_eq(enc_rv(&m), 0);

  m = R(M(EIO_CM_ACQUIRE_LOCK, A, NULL), 1);
  m.sid = S(SID);
  m.transport = S("polling");
  ck_assert_int_eq(enc_rv(&m), 0);
  m.transport = S("");
  ck_assert_int_eq(enc_rv(&m), SIO_ERR_INVAL);
  m.transport = S("polling");
  m.has_request_id = 0;
  ck_assert_int_eq(enc_rv(&m), SIO_ERR_INVAL);
  m = R(M(EIO_CM_UPGRADE_RESPONSE, B, A), 1);
  ck_assert_int_eq(enc_rv(&m), 0);
  m.has_request_id = 0;
  ck_assert_int_eq(enc_rv(&m), SIO_ERR_INVAL);
  m = R(M(EIO_CM_UPGRADE_RESPONSE, B, ""), 1);
  ck_assert_int_eq(enc_rv(&m), SIO_ERR_INVAL);

  m = M(EIO_CM_PACKET, A, B);
  m.sid = S(SID);
  ck_assert_int_eq(enc_rv(&m), SIO_ERR_INVAL); /* no packet */
  m.packets = many;
  m.npackets = 2;
  ck_assert_int_eq(enc_rv(&m), SIO_ERR_INVAL);
  m.npackets = 1;
  ck_assert_int_eq(enc_rv(&m), 0);
  m.packets = NULL;
  ck_assert_int_eq(enc_rv(&m), SIO_ERR_INVAL);
  m.packets = &one;
  one.type = (eio_packet_type)8;
  ck_assert_int_eq(enc_rv(&m), SIO_ERR_INVAL);
  one.type = EIO_PACKET_ERROR; /* a client's: in a PACKET, yes */
  ck_assert_int_eq(enc_rv(&m), 0);
  m.type = EIO_CM_DRAIN; /* never in a server's output */
  ck_assert_int_eq(enc_rv(&m), SIO_ERR_INVAL);
  m.type = EIO_CM_PACKET;
  one.type = EIO_PACKET_PING;
  one.binary = 1;
  ck_assert_int_eq(enc_rv(&m), SIO_ERR_INVAL);
  one.type = EIO_PACKET_MESSAGE;
  ck_assert_int_eq(enc_rv(&m), 0);
  one.data = NULL;
  ck_assert_int_eq(enc_rv(&m), SIO_ERR_INVAL);
  one.len = 0;
  ck_assert_int_eq(enc_rv(&m), 0);

  m = M(EIO_CM_DRAIN, B, A);
  m.sid = S(SID);
  m.packets = many;
  m.npackets = EIO_CM_PACKETS_MAX;
  ck_assert_int_eq(enc_rv(&m), 0);
  m.npackets = EIO_CM_PACKETS_MAX + 1;
  ck_assert_int_eq(enc_rv(&m), SIO_ERR_INVAL);
  m.npackets = 0; /* nothing to drain, but well formed */
  ck_assert_int_eq(enc_rv(&m), 0);
  m.npackets = 1;
  m.packets = NULL;
  ck_assert_int_eq(enc_rv(&m), SIO_ERR_INVAL);
}
END_TEST

static int has(const sio_buf *b, const char *bytes, size_t n) {
  size_t i;
  for (i = 0; i + n <= b->len; i++)
    if (memcmp(b->data + i, bytes, n) == 0)
      return 1;
  return 0;
}

#define HAS(b, lit) has(b, lit, sizeof(lit) - 1)

/* Encodes m, checks that it decodes to m; out keeps the bytes. */
static void round_trip(sio_buf *out, const eio_cm_msg *m) {
  eio_cm_decoded d;
  sio_buf_reset(out);
  ck_assert_int_eq(eio_cm_encode(out, m), 0);
  ck_assert_int_eq(dec(&d, (const uint8_t *)out->data, out->len), 0);
  msg_eq(&d.msg, m);
  eio_cm_decoded_free(&d);
}

/* What the encoder chooses where the captures do not say. */
START_TEST(encode_choices) {
  static char big[70001];
  eio_packet pk[17];
  eio_cm_msg m;
  sio_buf out;
  size_t i;
  sio_buf_init(&out);
  memset(big, 'y', sizeof(big) - 1);
  /* an ACQUIRE_LOCK may name its recipient; the types without a request
   * id do not write one */
  m = R(M(EIO_CM_ACQUIRE_LOCK, A, B), 1);
  m.sid = S(SID);
  m.transport = S("polling");
  round_trip(&out, &m);
  ck_assert_int_eq((uint8_t)out.data[0], 0x86);
  ck_assert(HAS(&out, "\xab"
                      "recipientId\xa6" B));
  m = R(M(EIO_CM_CLOSE, A, B), 7);
  m.sid = S(SID);
  m.reason = S(big); /* str32 */
  sio_buf_reset(&out);
  ck_assert_int_eq(eio_cm_encode(&out, &m), 0);
  ck_assert_int_eq((uint8_t)out.data[0], 0x85);
  ck_assert(!HAS(&out, "requestId"));
  ck_assert(HAS(&out, "\xdb\x00\x01\x11\x70yyyy"));
  m.has_request_id = 0;
  m.request_id = 0;
  round_trip(&out, &m);
  /* widths: requestId uint64, sid str16, array16, bin32, bin8 0, str "" */
  m = R(M(EIO_CM_UPGRADE_RESPONSE, B, A), UINT64_MAX);
  m.take_over = 1;
  for (i = 0; i < 17; i++)
    pk[i] = T(EIO_PACKET_MESSAGE, "");
  pk[3] = BIN(big, 70000);
  pk[4] = BIN(NULL, 0);
  pk[5] = T(EIO_PACKET_PING, NULL);
  m.packets = pk;
  m.npackets = 17;
  round_trip(&out, &m);
  ck_assert(HAS(&out, "\xa9requestId\xcf\xff\xff\xff\xff\xff\xff\xff\xff"));
  ck_assert(HAS(&out, "\xa7packets\xdc\x00\x11"));
  ck_assert(HAS(&out, "\xa4"
                      "data\xc6\x00\x01\x11\x70yy"));
  ck_assert(HAS(&out, "\xa4"
                      "data\xc4\x00\x81\xa4type\xa4ping\x82"));
  ck_assert(HAS(&out, "\x82\xa4type\xa7message\xa4"
                      "data\xa0\x82"));
  ck_assert(HAS(&out, "\x81\xa4type\xa4ping\x82"));
  m = M(EIO_CM_DRAIN, B, A);
  big[300] = 0;
  m.sid = S(big); /* str16 */
  m.packets = pk + 5;
  m.npackets = 1;
  round_trip(&out, &m);
  ck_assert(HAS(&out, "\xa3sid\xda\x01\x2cyy"));
  ck_assert(HAS(&out, "\x82\xa4type\xa4ping\xa7options\x81\xa8"
                      "compress\xc3\xa7_source"));
  /* bools are bools */
  m = R(M(EIO_CM_UPGRADE, A, B), 0);
  m.sid = S(SID);
  m.success = 42;
  sio_buf_reset(&out);
  ck_assert_int_eq(eio_cm_encode(&out, &m), 0);
  ck_assert(HAS(&out, "\xa7success\xc3\xa7_source"));
  sio_buf_deinit(&out);
}
END_TEST

/* ------------------------------------------------------------- channels */

START_TEST(channels) {
  eio_cm_str none = {NULL, 0}, empty = {"", 0}, bad = {NULL, 3};
  eio_cm_str node = S(B), part = {"4d5e6fXX", 6};
  sio_buf out;
  sio_buf_init(&out);
  ck_assert_int_eq(eio_cm_channel(&out, NULL, NULL), 0);
  ck_assert_str_eq(out.data, "engine.io#");
  sio_buf_reset(&out);
  ck_assert_int_eq(eio_cm_channel(&out, NULL, &none), 0);
  ck_assert_int_eq(eio_cm_channel(&out, "", &empty), 0);
  ck_assert_str_eq(out.data, "engine.io#engine.io#");
  sio_buf_reset(&out);
  ck_assert_int_eq(eio_cm_channel(&out, NULL, &node), 0);
  ck_assert_str_eq(out.data, "engine.io#4d5e6f#");
  sio_buf_reset(&out);
  ck_assert_int_eq(eio_cm_channel(&out, "my-app", &part), 0);
  ck_assert_uint_eq(out.len, strlen("my-app#4d5e6f#"));
  ck_assert_str_eq(out.data, "my-app#4d5e6f#");
  ck_assert_int_eq(eio_cm_channel(&out, "my-app", &bad), SIO_ERR_INVAL);
  ck_assert_str_eq(out.data, "my-app#4d5e6f#");
  sio_buf_deinit(&out);
}
END_TEST

START_TEST(packet_type_names) {
  static const char *const want[] = {"open",    "close",   "ping", "pong",
                                     "message", "upgrade", "noop", "error"};
  int t;
  for (t = 0; t < 8; t++)
    ck_assert_str_eq(eio_cm_packet_type_name((eio_packet_type)t), want[t]);
  ck_assert_ptr_null(eio_cm_packet_type_name((eio_packet_type)8));
  ck_assert_ptr_null(eio_cm_packet_type_name((eio_packet_type)-1));
  eio_cm_decoded_free(NULL);
}
END_TEST

/* ----------------------------------------------------------- failmalloc */

/* Decodes every vector, encodes it again and names its channel. */
static int fm_all(void *ud) {
  size_t v;
  int rv = 0;
  (void)ud;
  for (v = 0; v < SIO_ARRLEN(all_hex) && !rv; v++) {
    eio_cm_decoded d;
    sio_buf out;
    size_t n;
    uint8_t *in = unhex(all_hex[v], &n);
    rv = eio_cm_decode(&d, in, n);
    free(in);
    if (rv)
      break;
    sio_buf_init(&out);
    rv = eio_cm_encode(&out, &d.msg);
    if (!rv)
      rv = eio_cm_channel(&out, NULL, &d.msg.recipient);
    sio_buf_deinit(&out);
    eio_cm_decoded_free(&d);
  }
  return rv;
}

START_TEST(out_of_memory) {
  ck_assert_int_ge(failmalloc_run(fm_all, NULL), 30);
}
END_TEST

Suite *eio_cluster_msg_suite(void) {
  Suite *s = suite_create("eio_cluster_msg");
  TCase *tc = tcase_create("golden");
  /* every prefix and bit flip of every vector: seconds under ASan */
  tcase_set_timeout(tc, 60);
  tcase_add_checked_fixture(tc, setup, teardown);
  tcase_add_test(tc, golden_decode);
  tcase_add_test(tc, golden_encode);
  tcase_add_test(tc, golden_round_trip);
  tcase_add_test(tc, golden_error_packet);
  tcase_add_test(tc, truncations_and_flips);
  tcase_add_test(tc, trailing_bytes);
  suite_add_tcase(s, tc);
  tc = tcase_create("decode");
  tcase_add_checked_fixture(tc, setup, teardown);
  tcase_add_test(tc, not_messages);
  tcase_add_test(tc, foreign_source);
  tcase_add_test(tc, envelope_keys);
  tcase_add_test(tc, request_ids);
  tcase_add_test(tc, acquire_lock_data);
  tcase_add_test(tc, other_data);
  tcase_add_test(tc, packets);
  tcase_add_test(tc, packet_count);
  tcase_add_test(tc, msgpack_rules);
  tcase_add_test(tc, one_allocation);
  suite_add_tcase(s, tc);
  tc = tcase_create("encode");
  tcase_add_checked_fixture(tc, setup, teardown);
  tcase_add_test(tc, encode_errors);
  tcase_add_test(tc, encode_choices);
  tcase_add_test(tc, channels);
  tcase_add_test(tc, packet_type_names);
  tcase_add_test(tc, out_of_memory);
  suite_add_tcase(s, tc);
  return s;
}
