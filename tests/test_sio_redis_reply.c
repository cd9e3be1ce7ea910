/* test_sio_redis_reply.c: what the drivers read out of Redis replies
 * (sio_redis_reply.h). Replies are written as the RESP bytes a server
 * sends and read with hiredis's own reader, as on a connection. */
#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "check_suites.h"
#include "sio/sio_errno.h"
#include "sio_redis_reply.h"

/* The one reply in text (which must hold exactly one). */
static redisReply *resp(const char *text, size_t len) {
  redisReader *rd = redisReaderCreate();
  void *r = NULL;
  ck_assert_ptr_nonnull(rd);
  ck_assert_int_eq(redisReaderFeed(rd, text, len), REDIS_OK);
  ck_assert_int_eq(redisReaderGetReply(rd, &r), REDIS_OK);
  ck_assert_ptr_nonnull(r);
  redisReaderFree(rd);
  return r;
}
#define RESP(lit) resp(lit, sizeof(lit) - 1)

static int host_is(const sio_redis_addr *a, const char *h) {
  return a->host && a->hostlen == strlen(h) &&
         memcmp(a->host, h, a->hostlen) == 0;
}

static int slots_rv(redisReply *r) {
  sio_redis_slot_map *m = (void *)1;
  int rv = sio_redis_slots_parse(r, &m);
  ck_assert_ptr_null(m);
  freeReplyObject(r);
  return rv;
}

/* ---------------------------------------------------------- CLUSTER SLOTS */

START_TEST(test_slots_refused) {
  sio_redis_slot_map *m = (void *)1;
  ck_assert_int_eq(sio_redis_slots_parse(NULL, &m), SIO_ERR_NOTFOUND);
  ck_assert_ptr_null(m);
  /* no map at all */
  ck_assert_int_eq(slots_rv(RESP("*0\r\n")), SIO_ERR_NOTFOUND);
  ck_assert_int_eq(slots_rv(RESP("-ERR This instance has cluster support "
                                 "disabled\r\n")),
                   SIO_ERR_NOTFOUND);
  ck_assert_int_eq(slots_rv(RESP("*-1\r\n")), SIO_ERR_NOTFOUND);
  ck_assert_int_eq(slots_rv(RESP(":3\r\n")), SIO_ERR_NOTFOUND);
  /* one bad entry refuses the whole reply */
  ck_assert_int_eq(slots_rv(RESP("*2\r\n*3\r\n:0\r\n:10\r\n*2\r\n$1\r\na\r\n:"
                                 "7000\r\n:5\r\n")),
                   SIO_ERR_PROTO);
  /* too short, wrong types */
  ck_assert_int_eq(slots_rv(RESP("*1\r\n*2\r\n:0\r\n:10\r\n")),
                   SIO_ERR_PROTO);
  ck_assert_int_eq(slots_rv(RESP("*1\r\n*3\r\n$1\r\n0\r\n:10\r\n*2\r\n$1\r\n"
                                 "a\r\n:7000\r\n")),
                   SIO_ERR_PROTO);
  ck_assert_int_eq(slots_rv(RESP("*1\r\n*3\r\n:0\r\n:10\r\n$1\r\na\r\n")),
                   SIO_ERR_PROTO);
  /* the node: too short, a status host, a string port */
  ck_assert_int_eq(slots_rv(RESP("*1\r\n*3\r\n:0\r\n:10\r\n*1\r\n$1\r\na\r\n")),
                   SIO_ERR_PROTO);
  ck_assert_int_eq(slots_rv(RESP("*1\r\n*3\r\n:0\r\n:10\r\n*2\r\n+a\r\n:7000"
                                 "\r\n")),
                   SIO_ERR_PROTO);
  ck_assert_int_eq(slots_rv(RESP("*1\r\n*3\r\n:0\r\n:10\r\n*2\r\n$1\r\na\r\n$"
                                 "4\r\n7000\r\n")),
                   SIO_ERR_PROTO);
  /* ranges out of bounds or reversed */
  ck_assert_int_eq(slots_rv(RESP("*1\r\n*3\r\n:-1\r\n:10\r\n*2\r\n$1\r\na\r\n:"
                                 "7000\r\n")),
                   SIO_ERR_PROTO);
  ck_assert_int_eq(slots_rv(RESP("*1\r\n*3\r\n:0\r\n:16384\r\n*2\r\n$1\r\na\r"
                                 "\n:7000\r\n")),
                   SIO_ERR_PROTO);
  ck_assert_int_eq(slots_rv(RESP("*1\r\n*3\r\n:11\r\n:10\r\n*2\r\n$1\r\na\r\n:"
                                 "7000\r\n")),
                   SIO_ERR_PROTO);
  /* ports */
  ck_assert_int_eq(slots_rv(RESP("*1\r\n*3\r\n:0\r\n:1\r\n*2\r\n$1\r\na\r\n:0"
                                 "\r\n")),
                   SIO_ERR_PROTO);
  ck_assert_int_eq(slots_rv(RESP("*1\r\n*3\r\n:0\r\n:1\r\n*2\r\n$1\r\na\r\n:"
                                 "65536\r\n")),
                   SIO_ERR_PROTO);
  /* a host with a NUL cannot be kept as a C string */
  ck_assert_int_eq(slots_rv(RESP("*1\r\n*3\r\n:0\r\n:1\r\n*2\r\n$3\r\na\0b\r"
                                 "\n:7000\r\n")),
                   SIO_ERR_PROTO);
}
END_TEST

START_TEST(test_slots_map) {
  /* Redis 7's own shape: ranges, master with id, replicas after */
  redisReply *r = RESP(
      "*3\r\n"
      "*4\r\n:0\r\n:5460\r\n*3\r\n$9\r\n127.0.0.1\r\n:7000\r\n$4\r\nid-a\r\n"
      "*3\r\n$9\r\n127.0.0.1\r\n:7003\r\n$4\r\nid-d\r\n"
      "*3\r\n:5461\r\n:10922\r\n*2\r\n$0\r\n\r\n:7001\r\n"
      "*3\r\n:10923\r\n:16383\r\n*2\r\n$1\r\n?\r\n:7002\r\n");
  sio_redis_slot_map *m;
  size_t i;
  int seen[3] = {0, 0, 0};
  ck_assert_int_eq(sio_redis_slots_parse(r, &m), 0);
  ck_assert_uint_eq(m->nowners, 3);
  for (i = 0; i < 3; i++) {
    const sio_redis_addr *a = &m->owners[i];
    if (a->port == 7000) {
      ck_assert(host_is(a, "127.0.0.1"));
      seen[0]++;
    } else {
      /* "" and "?": the node asked */
      ck_assert_ptr_null(a->host);
      ck_assert_uint_eq(a->hostlen, 0);
      ck_assert(a->port == 7001 || a->port == 7002);
      seen[a->port - 7000]++;
    }
  }
  ck_assert(seen[0] == 1 && seen[1] == 1 && seen[2] == 1);
  ck_assert_int_eq(m->owners[m->slot[0]].port, 7000);
  ck_assert_int_eq(m->owners[m->slot[5460]].port, 7000);
  ck_assert_int_eq(m->owners[m->slot[5461]].port, 7001);
  ck_assert_int_eq(m->owners[m->slot[10922]].port, 7001);
  ck_assert_int_eq(m->owners[m->slot[10923]].port, 7002);
  ck_assert_int_eq(m->owners[m->slot[16383]].port, 7002);
  sio_redis_slot_map_free(m);
  freeReplyObject(r);
}
END_TEST

START_TEST(test_slots_gaps_overlaps) {
  /* slots 0..9 at a, 5..19 at b (overrides), 30..39 at a again, 100 at
   * b: two owners; a range entirely overridden leaves no owner */
  redisReply *r = RESP("*5\r\n"
                       "*3\r\n:0\r\n:9\r\n*2\r\n$1\r\na\r\n:1\r\n"
                       "*3\r\n:200\r\n:200\r\n*2\r\n$1\r\nc\r\n:3\r\n"
                       "*3\r\n:5\r\n:19\r\n*2\r\n$1\r\nb\r\n:2\r\n"
                       "*3\r\n:30\r\n:39\r\n*2\r\n$1\r\na\r\n:1\r\n"
                       "*3\r\n:100\r\n:200\r\n*2\r\n$1\r\nb\r\n:2\r\n");
  sio_redis_slot_map *m;
  size_t i;
  ck_assert_int_eq(sio_redis_slots_parse(r, &m), 0);
  ck_assert_uint_eq(m->nowners, 2);
  for (i = 0; i < SIO_REDIS_NSLOTS; i++) {
    const char *want = i < 5                ? "a"
                       : i < 20             ? "b"
                       : i >= 30 && i < 40  ? "a"
                       : i >= 100 && i <= 200 ? "b"
                                            : NULL;
    if (!want)
      ck_assert_uint_eq(m->slot[i], SIO_REDIS_SLOT_NONE);
    else
      ck_assert(host_is(&m->owners[m->slot[i]], want));
  }
  /* the same host on two ports is two owners */
  sio_redis_slot_map_free(m);
  freeReplyObject(r);
  r = RESP("*2\r\n*3\r\n:0\r\n:0\r\n*2\r\n$1\r\na\r\n:1\r\n"
           "*3\r\n:1\r\n:1\r\n*2\r\n$1\r\na\r\n:2\r\n");
  ck_assert_int_eq(sio_redis_slots_parse(r, &m), 0);
  ck_assert_uint_eq(m->nowners, 2);
  ck_assert_uint_ne(m->slot[0], m->slot[1]);
  sio_redis_slot_map_free(m);
  freeReplyObject(r);
}
END_TEST

/* 16384 one-slot ranges, each at another node, overridden by a second
 * pass: the owners are the last pass's only. */
START_TEST(test_slots_many_owners) {
  size_t cap = 2 * SIO_REDIS_NSLOTS * 64 + 64, len, i;
  char *text = malloc(cap);
  redisReply *r;
  sio_redis_slot_map *m;
  int pass;
  ck_assert_ptr_nonnull(text);
  len = (size_t)snprintf(text, cap, "*%d\r\n", 2 * SIO_REDIS_NSLOTS);
  for (pass = 0; pass < 2; pass++)
    for (i = 0; i < SIO_REDIS_NSLOTS; i++) {
      char host[16];
      int hl = snprintf(host, sizeof(host), "h%d", (int)i);
      len += (size_t)snprintf(text + len, cap - len,
                              "*3\r\n:%d\r\n:%d\r\n*2\r\n$%d\r\n%s\r\n:%d\r\n",
                              (int)i, (int)i, hl, host, pass ? 2 : 1);
    }
  r = resp(text, len);
  free(text);
  ck_assert_int_eq(sio_redis_slots_parse(r, &m), 0);
  ck_assert_uint_eq(m->nowners, SIO_REDIS_NSLOTS);
  for (i = 0; i < SIO_REDIS_NSLOTS; i += 1000) {
    char host[16];
    snprintf(host, sizeof(host), "h%d", (int)i);
    ck_assert(host_is(&m->owners[m->slot[i]], host));
    ck_assert_int_eq(m->owners[m->slot[i]].port, 2);
  }
  sio_redis_slot_map_free(m);
  freeReplyObject(r);
}
END_TEST

/* 200000 entries each naming every slot: the last wins, and the work is
 * bounded by entries + slots (applying each range in full, as the driver
 * once did, is 3.3e9 writes: 0.8 s of a blocked loop at -O2, per refresh). */
START_TEST(test_slots_overlaps_cost) {
  static const char unit[] = "*3\r\n:0\r\n:16383\r\n*2\r\n$1\r\na\r\n:1\r\n";
  static const char last[] = "*3\r\n:0\r\n:16383\r\n*2\r\n$1\r\nz\r\n:9\r\n";
  size_t n = 200000, ul = sizeof(unit) - 1, len, i;
  char *text = malloc(32 + n * ul);
  redisReply *r;
  sio_redis_slot_map *m;
  struct timespec t0, t1;
  double ms;
  ck_assert_ptr_nonnull(text);
  len = (size_t)snprintf(text, 32, "*%zu\r\n", n);
  for (i = 0; i + 1 < n; i++, len += ul)
    memcpy(text + len, unit, ul);
  memcpy(text + len, last, ul);
  len += ul;
  r = resp(text, len);
  free(text);
  clock_gettime(CLOCK_MONOTONIC, &t0);
  ck_assert_int_eq(sio_redis_slots_parse(r, &m), 0);
  clock_gettime(CLOCK_MONOTONIC, &t1);
  ms = (double)(t1.tv_sec - t0.tv_sec) * 1e3 +
       (double)(t1.tv_nsec - t0.tv_nsec) / 1e6;
  ck_assert_uint_eq(m->nowners, 1);
  ck_assert(host_is(&m->owners[0], "z"));
  ck_assert_int_eq(m->owners[0].port, 9);
  ck_assert_uint_eq(m->slot[0], 0);
  ck_assert_uint_eq(m->slot[16383], 0);
  fprintf(stderr, "CLUSTER SLOTS of %zu overlapping entries: %.1f ms\n", n, ms);
  {
    /* a guard against the quadratic loop (0.8 s at -O2), not a target: a
     * sanitizer build, slower by its CK_TIMEOUT_MULTIPLIER, gets as much
     * more time */
    const char *mul = getenv("CK_TIMEOUT_MULTIPLIER");
    double bound = 400 * (mul && atof(mul) > 1 ? atof(mul) : 1);
    ck_assert_msg(ms < bound, "CLUSTER SLOTS of %zu entries took %.0f ms", n,
                  ms);
  }
  sio_redis_slot_map_free(m);
  freeReplyObject(r);
}
END_TEST

/* ---------------------------------------------------------- MOVED / ASK */

START_TEST(test_redirect) {
  sio_redis_redirect d;
  /* not a redirect */
  ck_assert_int_eq(sio_redis_redirect_parse(NULL, &d), SIO_ERR_NOTFOUND);
  ck_assert_int_eq(d.kind, SIO_REDIS_REDIRECT_NONE);
  ck_assert_int_eq(sio_redis_redirect_parse("ERR unknown command", &d),
                   SIO_ERR_NOTFOUND);
  ck_assert_int_eq(sio_redis_redirect_parse("MOVED", &d), SIO_ERR_NOTFOUND);
  ck_assert_int_eq(sio_redis_redirect_parse("moved 1 a:1", &d),
                   SIO_ERR_NOTFOUND);
  ck_assert_int_eq(sio_redis_redirect_parse("ASKING", &d), SIO_ERR_NOTFOUND);
  /* a redirect, malformed: the kind is still known */
  ck_assert_int_eq(sio_redis_redirect_parse("MOVED ", &d), SIO_ERR_PROTO);
  ck_assert_int_eq(d.kind, SIO_REDIS_REDIRECT_MOVED);
  ck_assert_int_eq(sio_redis_redirect_parse("MOVED 3999", &d), SIO_ERR_PROTO);
  ck_assert_int_eq(sio_redis_redirect_parse("MOVED 3999 127.0.0.1", &d),
                   SIO_ERR_PROTO);
  ck_assert_int_eq(sio_redis_redirect_parse("MOVED 3999 :6381", &d),
                   SIO_ERR_PROTO); /* an unknown endpoint */
  ck_assert_int_eq(sio_redis_redirect_parse("MOVED 3999 h:", &d),
                   SIO_ERR_PROTO);
  ck_assert_int_eq(sio_redis_redirect_parse("MOVED 3999 h:0", &d),
                   SIO_ERR_PROTO);
  ck_assert_int_eq(sio_redis_redirect_parse("MOVED 3999 h:65536", &d),
                   SIO_ERR_PROTO);
  ck_assert_int_eq(sio_redis_redirect_parse("MOVED 3999 h:80x", &d),
                   SIO_ERR_PROTO);
  ck_assert_int_eq(sio_redis_redirect_parse("MOVED 3999 h:-80", &d),
                   SIO_ERR_PROTO);
  ck_assert_int_eq(sio_redis_redirect_parse("MOVED 16384 h:80", &d),
                   SIO_ERR_PROTO);
  ck_assert_int_eq(sio_redis_redirect_parse("MOVED x h:80", &d),
                   SIO_ERR_PROTO);
  ck_assert_int_eq(sio_redis_redirect_parse("MOVED  h:80", &d),
                   SIO_ERR_PROTO);
  ck_assert_int_eq(sio_redis_redirect_parse("ASK 1", &d), SIO_ERR_PROTO);
  ck_assert_int_eq(d.kind, SIO_REDIS_REDIRECT_ASK);

  ck_assert_int_eq(sio_redis_redirect_parse("MOVED 3999 127.0.0.1:6381", &d),
                   0);
  ck_assert_int_eq(d.kind, SIO_REDIS_REDIRECT_MOVED);
  ck_assert_uint_eq(d.slot, 3999);
  ck_assert(host_is(&d.addr, "127.0.0.1"));
  ck_assert_int_eq(d.addr.port, 6381);
  ck_assert_int_eq(sio_redis_redirect_parse("ASK 0 redis-3.local:7002", &d),
                   0);
  ck_assert_int_eq(d.kind, SIO_REDIS_REDIRECT_ASK);
  ck_assert_uint_eq(d.slot, 0);
  ck_assert(host_is(&d.addr, "redis-3.local"));
  ck_assert_int_eq(d.addr.port, 7002);
  /* an IPv6 address: the port follows the last colon */
  ck_assert_int_eq(sio_redis_redirect_parse("MOVED 16383 ::1:7000", &d), 0);
  ck_assert(host_is(&d.addr, "::1"));
  ck_assert_int_eq(d.addr.port, 7000);
}
END_TEST

/* ------------------------------------------------------------- Sentinel */

START_TEST(test_switch_master) {
  sio_redis_addr a;
  const char *ok = "mymaster 10.0.0.1 6379 10.0.0.2 6380";
  ck_assert_int_eq(sio_redis_switch_master_parse(NULL, 0, "mymaster", &a),
                   SIO_ERR_PROTO);
  ck_assert_int_eq(sio_redis_switch_master_parse("", 0, "mymaster", &a),
                   SIO_ERR_PROTO);
  ck_assert_int_eq(sio_redis_switch_master_parse(
                       "mymaster 10.0.0.1 6379 10.0.0.2", 31, "mymaster", &a),
                   SIO_ERR_PROTO);
  ck_assert_int_eq(sio_redis_switch_master_parse(
                       "mymaster 10.0.0.1 6379 10.0.0.2 0", 33, "mymaster", &a),
                   SIO_ERR_PROTO);
  ck_assert_int_eq(sio_redis_switch_master_parse(
                       "mymaster 10.0.0.1 6379 10.0.0.2 6380x", 37, "mymaster",
                       &a),
                   SIO_ERR_PROTO);
  /* the text ends at a NUL */
  ck_assert_int_eq(sio_redis_switch_master_parse(
                       "mymaster 10.0.0.1 6379\0 10.0.0.2 6380", 37, "mymaster",
                       &a),
                   SIO_ERR_PROTO);
  /* only the length given is read */
  ck_assert_int_eq(sio_redis_switch_master_parse(ok, strlen(ok) - 1,
                                                 "mymaster", &a),
                   0);
  ck_assert_int_eq(a.port, 638);
  /* another master, or a name that only starts the same */
  ck_assert_int_eq(sio_redis_switch_master_parse(ok, strlen(ok), "other", &a),
                   SIO_ERR_NOTFOUND);
  ck_assert_int_eq(sio_redis_switch_master_parse(ok, strlen(ok), "mymast", &a),
                   SIO_ERR_NOTFOUND);
  ck_assert_int_eq(sio_redis_switch_master_parse(ok, strlen(ok), NULL, &a),
                   SIO_ERR_NOTFOUND);

  ck_assert_int_eq(sio_redis_switch_master_parse(ok, strlen(ok), "mymaster",
                                                 &a),
                   0);
  ck_assert(host_is(&a, "10.0.0.2"));
  ck_assert_int_eq(a.port, 6380);
  /* runs of spaces separate as one; fields past the fifth are ignored */
  ck_assert_int_eq(sio_redis_switch_master_parse(
                       "  m  a 1   b 2 extra", 20, "m", &a),
                   0);
  ck_assert(host_is(&a, "b"));
  ck_assert_int_eq(a.port, 2);
}
END_TEST

START_TEST(test_master_addr) {
  sio_redis_addr a;
  redisReply *r;
  ck_assert_int_eq(sio_redis_master_addr_parse(NULL, &a), SIO_ERR_NOTFOUND);
#define ADDR_RV(lit, want)                                                    \
  do {                                                                         \
    r = RESP(lit);                                                             \
    ck_assert_int_eq(sio_redis_master_addr_parse(r, &a), want);                \
    freeReplyObject(r);                                                        \
  } while (0)
  /* no such master */
  ADDR_RV("*-1\r\n", SIO_ERR_NOTFOUND);
  ADDR_RV("$-1\r\n", SIO_ERR_NOTFOUND);
  ADDR_RV("-ERR unknown\r\n", SIO_ERR_NOTFOUND);
  ADDR_RV("*1\r\n$1\r\na\r\n", SIO_ERR_NOTFOUND);
  ADDR_RV("*3\r\n$1\r\na\r\n$1\r\n1\r\n$1\r\n1\r\n", SIO_ERR_NOTFOUND);
  ADDR_RV("*2\r\n$1\r\na\r\n:6379\r\n", SIO_ERR_NOTFOUND);
  ADDR_RV("*2\r\n+a\r\n$4\r\n6379\r\n", SIO_ERR_NOTFOUND);
  /* the shape, not the values */
  ADDR_RV("*2\r\n$1\r\na\r\n$0\r\n\r\n", SIO_ERR_PROTO);
  ADDR_RV("*2\r\n$1\r\na\r\n$5\r\n65536\r\n", SIO_ERR_PROTO);
  ADDR_RV("*2\r\n$1\r\na\r\n$5\r\n 6379\r\n", SIO_ERR_PROTO);
  ADDR_RV("*2\r\n$0\r\n\r\n$4\r\n6379\r\n", SIO_ERR_PROTO);
  ADDR_RV("*2\r\n$3\r\na\0b\r\n$4\r\n6379\r\n", SIO_ERR_PROTO);
#undef ADDR_RV
  r = RESP("*2\r\n$9\r\n127.0.0.1\r\n$4\r\n6379\r\n");
  ck_assert_int_eq(sio_redis_master_addr_parse(r, &a), 0);
  ck_assert(host_is(&a, "127.0.0.1"));
  ck_assert_int_eq(a.port, 6379);
  freeReplyObject(r);
}
END_TEST

/* ------------------------------------------------------ other replies */

START_TEST(test_role_numsub) {
  redisReply *r;
  int64_t n = -1;
  ck_assert_int_eq(sio_redis_role_parse(NULL), SIO_ERR_PROTO);
#define ROLE_RV(lit, want)                                                    \
  do {                                                                         \
    r = RESP(lit);                                                             \
    ck_assert_int_eq(sio_redis_role_parse(r), want);                           \
    freeReplyObject(r);                                                        \
  } while (0)
  ROLE_RV("-NOPERM\r\n", SIO_ERR_PROTO);
  ROLE_RV("*0\r\n", SIO_ERR_PROTO);
  ROLE_RV("*1\r\n+master\r\n", SIO_ERR_PROTO);
  ROLE_RV("*1\r\n:1\r\n", SIO_ERR_PROTO);
  ROLE_RV("*5\r\n$5\r\nslave\r\n$9\r\n127.0.0.1\r\n:6379\r\n$9\r\nconnected"
          "\r\n:1\r\n",
          SIO_ERR_STATE);
  ROLE_RV("*1\r\n$6\r\nMASTER\r\n", SIO_ERR_STATE);
  ROLE_RV("*1\r\n$7\r\nmasters\r\n", SIO_ERR_STATE);
  ROLE_RV("*3\r\n$6\r\nmaster\r\n:3129659\r\n*0\r\n", 0);
#undef ROLE_RV
  ck_assert_int_eq(sio_redis_numsub_parse(NULL, &n), SIO_ERR_PROTO);
#define NUMSUB_RV(lit, want)                                                  \
  do {                                                                         \
    r = RESP(lit);                                                             \
    ck_assert_int_eq(sio_redis_numsub_parse(r, &n), want);                     \
    freeReplyObject(r);                                                        \
  } while (0)
  NUMSUB_RV("-ERR\r\n", SIO_ERR_PROTO);
  NUMSUB_RV("*1\r\n$1\r\nc\r\n", SIO_ERR_PROTO);
  NUMSUB_RV("*2\r\n$1\r\nc\r\n$1\r\n3\r\n", SIO_ERR_PROTO);
  ck_assert_int_eq(n, -1);
  NUMSUB_RV("*2\r\n$1\r\nc\r\n:3\r\n", 0);
  ck_assert_int_eq(n, 3);
#undef NUMSUB_RV
}
END_TEST

/* ---------------------------------------------------------------- pushes */

START_TEST(test_push_classify) {
  redisReply *r;
  ck_assert_int_eq(sio_redis_push_classify(NULL, 0), SIO_REDIS_PUSH_NONE);
#define KIND(lit, unsub, want)                                                \
  do {                                                                         \
    r = RESP(lit);                                                             \
    ck_assert_int_eq(sio_redis_push_classify(r, unsub), want);                 \
    freeReplyObject(r);                                                        \
  } while (0)
  /* replies to commands */
  KIND("+OK\r\n", 0, SIO_REDIS_PUSH_NONE);
  KIND("*3\r\n$9\r\nsubscribe\r\n$1\r\nc\r\n:1\r\n", 0, SIO_REDIS_PUSH_NONE);
  KIND("*2\r\n$7\r\nmessage\r\n$1\r\nc\r\n", 0, SIO_REDIS_PUSH_NONE);
  KIND("*3\r\n:1\r\n$1\r\nc\r\n$1\r\nx\r\n", 0, SIO_REDIS_PUSH_NONE);
  KIND("*3\r\n$8\r\npmessage\r\n$1\r\nc\r\n$1\r\nx\r\n", 0,
       SIO_REDIS_PUSH_NONE);
  KIND("*3\r\n$8\r\nmessages\r\n$1\r\nc\r\n$1\r\nx\r\n", 0,
       SIO_REDIS_PUSH_NONE);
  /* messages, any case, bulk or status */
  KIND("*3\r\n$7\r\nmessage\r\n$1\r\nc\r\n$1\r\nx\r\n", 1,
       SIO_REDIS_PUSH_MESSAGE);
  KIND("*3\r\n+MESSAGE\r\n$1\r\nc\r\n$1\r\nx\r\n", 0, SIO_REDIS_PUSH_MESSAGE);
  KIND("*3\r\n$8\r\nsmessage\r\n$1\r\nc\r\n$1\r\nx\r\n", 0,
       SIO_REDIS_PUSH_SMESSAGE);
  KIND("*4\r\n$8\r\npmessage\r\n$1\r\n*\r\n$1\r\nc\r\n$1\r\nx\r\n", 0,
       SIO_REDIS_PUSH_PMESSAGE);
  /* an sunsubscribe: a push unless it answers the oldest command */
  KIND("*3\r\n$12\r\nsunsubscribe\r\n$1\r\nc\r\n:0\r\n", 0,
       SIO_REDIS_PUSH_SUNSUBSCRIBE);
  KIND("*3\r\n$12\r\nsunsubscribe\r\n$1\r\nc\r\n:0\r\n", 1,
       SIO_REDIS_PUSH_NONE);
#undef KIND
}
END_TEST

START_TEST(test_push_parse) {
  sio_redis_push p;
  redisReply *r;
#define PARSE(lit, want, k)                                                \
  do {                                                                         \
    r = RESP(lit);                                                             \
    ck_assert_int_eq(sio_redis_push_parse(r, &p), want);                       \
    ck_assert_int_eq(p.kind, k);                                               \
    freeReplyObject(r);                                                        \
  } while (0)
  ck_assert_int_eq(sio_redis_push_parse(NULL, &p), SIO_ERR_PROTO);
  PARSE("+OK\r\n", SIO_ERR_PROTO, SIO_REDIS_PUSH_NONE);
  /* a field that is no bulk string: a nil, an integer (once, a NULL
   * channel for the handler), a nested array, a status */
  PARSE("*3\r\n$7\r\nmessage\r\n$-1\r\n$1\r\nx\r\n", SIO_ERR_PROTO,
        SIO_REDIS_PUSH_MESSAGE);
  PARSE("*3\r\n$8\r\nsmessage\r\n:1\r\n$1\r\nx\r\n", SIO_ERR_PROTO,
        SIO_REDIS_PUSH_SMESSAGE);
  PARSE("*3\r\n$8\r\nsmessage\r\n$1\r\nc\r\n:1\r\n", SIO_ERR_PROTO,
        SIO_REDIS_PUSH_SMESSAGE);
  PARSE("*3\r\n$7\r\nmessage\r\n$1\r\nc\r\n*0\r\n", SIO_ERR_PROTO,
        SIO_REDIS_PUSH_MESSAGE);
  PARSE("*4\r\n$8\r\npmessage\r\n+p\r\n$1\r\nc\r\n$1\r\nx\r\n", SIO_ERR_PROTO,
        SIO_REDIS_PUSH_PMESSAGE);
  PARSE("*3\r\n$12\r\nsunsubscribe\r\n:1\r\n:0\r\n", SIO_ERR_PROTO,
        SIO_REDIS_PUSH_SUNSUBSCRIBE);
  /* too many elements */
  PARSE("*4\r\n$7\r\nmessage\r\n$1\r\nc\r\n$1\r\nx\r\n$1\r\ny\r\n",
        SIO_ERR_PROTO, SIO_REDIS_PUSH_MESSAGE);

  r = RESP("*3\r\n$7\r\nmessage\r\n$2\r\nch\r\n$3\r\na\0b\r\n");
  ck_assert_int_eq(sio_redis_push_parse(r, &p), 0);
  ck_assert_int_eq(p.kind, SIO_REDIS_PUSH_MESSAGE);
  ck_assert_ptr_null(p.pattern);
  ck_assert_str_eq(p.channel, "ch");
  ck_assert_uint_eq(p.channel_len, 2);
  ck_assert_uint_eq(p.payload_len, 3);
  ck_assert_int_eq(memcmp(p.payload, "a\0b", 3), 0);
  freeReplyObject(r);
  r = RESP("*4\r\n$8\r\npmessage\r\n$2\r\nc*\r\n$2\r\nc1\r\n$0\r\n\r\n");
  ck_assert_int_eq(sio_redis_push_parse(r, &p), 0);
  ck_assert_int_eq(p.kind, SIO_REDIS_PUSH_PMESSAGE);
  ck_assert_str_eq(p.pattern, "c*");
  ck_assert_str_eq(p.channel, "c1");
  ck_assert_uint_eq(p.payload_len, 0);
  freeReplyObject(r);
  r = RESP("*3\r\n$8\r\nsmessage\r\n$1\r\nc\r\n$1\r\nx\r\n");
  ck_assert_int_eq(sio_redis_push_parse(r, &p), 0);
  ck_assert_int_eq(p.kind, SIO_REDIS_PUSH_SMESSAGE);
  ck_assert_str_eq(p.channel, "c");
  freeReplyObject(r);
  r = RESP("*3\r\n$12\r\nsunsubscribe\r\n$3\r\nabc\r\n:0\r\n");
  ck_assert_int_eq(sio_redis_push_parse(r, &p), 0);
  ck_assert_int_eq(p.kind, SIO_REDIS_PUSH_SUNSUBSCRIBE);
  ck_assert_str_eq(p.channel, "abc");
  ck_assert_uint_eq(p.channel_len, 3);
  ck_assert_ptr_null(p.payload);
  freeReplyObject(r);
#undef PARSE
}
END_TEST

Suite *sio_redis_reply_suite(void) {
  Suite *s = suite_create("sio_redis_reply");
  TCase *tc = tcase_create("core");
  tcase_add_test(tc, test_slots_refused);
  tcase_add_test(tc, test_slots_map);
  tcase_add_test(tc, test_slots_gaps_overlaps);
  tcase_add_test(tc, test_slots_many_owners);
  tcase_add_test(tc, test_slots_overlaps_cost);
  tcase_add_test(tc, test_redirect);
  tcase_add_test(tc, test_switch_master);
  tcase_add_test(tc, test_master_addr);
  tcase_add_test(tc, test_role_numsub);
  tcase_add_test(tc, test_push_classify);
  tcase_add_test(tc, test_push_parse);
  suite_add_tcase(s, tc);
  return s;
}
