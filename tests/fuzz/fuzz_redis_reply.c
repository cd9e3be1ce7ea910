/* fuzz_redis_reply.c: libFuzzer harness for what the Redis drivers read
 * out of replies (sio_redis_reply.c), as a hostile or broken Redis,
 * Sentinel or Cluster node would send them. The bytes go through the
 * bounded reader sio_redis_conn uses (hiredis 0.14 underneath, which
 * would otherwise calloc whatever element count a header declares), and
 * every node of every complete reply through every function of the
 * module. Besides "no crash, no sanitizer report, no leak", it checks
 * each function's promises, that the reader's bound holds, and that
 * feeding the bytes in pieces reads the same replies as all at once. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "sio_int.h"
#include "sio_redis_reply.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define BOUND ((size_t)1 << 20)

static int port_ok(int p) { return p >= 1 && p <= 65535; }

/* host is a non-empty span of [base, base + len) without NUL */
static void check_span(const char *host, size_t hostlen, const char *base,
                       size_t len) {
  if (!host || hostlen == 0 || host < base || host + hostlen > base + len ||
      memchr(host, 0, hostlen))
    abort();
}

static int addr_eq(const sio_redis_addr *a, const char *host, size_t hostlen,
                   int port) {
  if (a->port != port)
    return 0;
  if (!a->host || !host)
    return !a->host && !host;
  return a->hostlen == hostlen && memcmp(a->host, host, hostlen) == 0;
}

/* The owner of slot s by the definition: the last entry naming it. */
static const redisReply *naive_owner(const redisReply *r, long long s) {
  size_t i = r->elements;
  while (i-- > 0) {
    const redisReply *e = r->element[i];
    if (e->element[0]->integer <= s && s <= e->element[1]->integer)
      return e->element[2];
  }
  return NULL;
}

static void check_slot(const redisReply *r, const sio_redis_slot_map *m,
                       long long s) {
  const redisReply *o = naive_owner(r, s);
  const char *h;
  size_t hl;
  if (!o) {
    if (m->slot[s] != SIO_REDIS_SLOT_NONE)
      abort();
    return;
  }
  if (m->slot[s] >= m->nowners)
    abort();
  h = o->element[0]->str;
  hl = o->element[0]->len;
  if (hl == 0 || (hl == 1 && h[0] == '?'))
    h = NULL, hl = 0;
  if (!addr_eq(&m->owners[m->slot[s]], h, hl, (int)o->element[1]->integer))
    abort();
}

static void check_slots(const redisReply *r) {
  sio_redis_slot_map *m = NULL;
  unsigned char *used;
  size_t i, j;
  int rv = sio_redis_slots_parse(r, &m);
  if (rv) {
    if (m || (rv != SIO_ERR_NOTFOUND && rv != SIO_ERR_PROTO &&
              rv != SIO_ERR_NOMEM))
      abort();
    if (rv == SIO_ERR_NOTFOUND && r && r->type == REDIS_REPLY_ARRAY &&
        r->elements)
      abort();
    return;
  }
  if (!m || m->nowners < 1 || m->nowners > SIO_REDIS_NSLOTS)
    abort();
  used = calloc(m->nowners, 1);
  if (!used)
    abort();
  for (j = 0; j < SIO_REDIS_NSLOTS; j++)
    if (m->slot[j] != SIO_REDIS_SLOT_NONE) {
      if (m->slot[j] >= m->nowners)
        abort();
      used[m->slot[j]] = 1;
    }
  for (i = 0; i < m->nowners; i++) {
    const sio_redis_addr *a = &m->owners[i];
    if (!used[i] || !port_ok(a->port))
      abort();
    if (!a->host ? a->hostlen != 0
                 : a->hostlen == 0 || memchr(a->host, 0, a->hostlen))
      abort();
    for (j = 0; j < i; j++) /* distinct */
      if (addr_eq(&m->owners[j], a->host, a->hostlen, a->port))
        abort();
  }
  free(used);
  /* against the definition, at every range's ends and the map's */
  check_slot(r, m, 0);
  check_slot(r, m, SIO_REDIS_NSLOTS - 1);
  for (i = 0; i < r->elements; i++) {
    const redisReply *e = r->element[i];
    check_slot(r, m, e->element[0]->integer);
    check_slot(r, m, e->element[1]->integer);
    if (e->element[1]->integer + 1 < SIO_REDIS_NSLOTS)
      check_slot(r, m, e->element[1]->integer + 1);
  }
  sio_redis_slot_map_free(m);
}

static void check_text(const char *s, size_t len) {
  sio_redis_redirect d;
  sio_redis_addr a;
  int rv = sio_redis_redirect_parse(s, &d);
  if (rv == 0) {
    if (d.kind == SIO_REDIS_REDIRECT_NONE || d.slot >= SIO_REDIS_NSLOTS ||
        !port_ok(d.addr.port))
      abort();
    check_span(d.addr.host, d.addr.hostlen, s, strlen(s));
  } else if ((rv == SIO_ERR_NOTFOUND) != (d.kind == SIO_REDIS_REDIRECT_NONE) ||
             (rv != SIO_ERR_NOTFOUND && rv != SIO_ERR_PROTO)) {
    abort();
  }
  rv = sio_redis_switch_master_parse(s, len, "mymaster", &a);
  if (rv == 0) {
    check_span(a.host, a.hostlen, s, len);
    if (memchr(a.host, ' ', a.hostlen) || !port_ok(a.port) ||
        strncmp(s + strspn(s, " "), "mymaster ", 9) != 0)
      abort();
  } else if (rv != SIO_ERR_NOTFOUND && rv != SIO_ERR_PROTO) {
    abort();
  }
  if (sio_redis_switch_master_parse(s, len, NULL, &a) == 0)
    abort();
}

static void check_push(const redisReply *r) {
  sio_redis_push p;
  sio_redis_push_kind k0 = sio_redis_push_classify(r, 0);
  sio_redis_push_kind k1 = sio_redis_push_classify(r, 1);
  int rv;
  if (k1 != (k0 == SIO_REDIS_PUSH_SUNSUBSCRIBE ? SIO_REDIS_PUSH_NONE : k0))
    abort();
  rv = sio_redis_push_parse(r, &p);
  if (p.kind != k0)
    abort();
  if (rv) {
    if (rv != SIO_ERR_PROTO)
      abort();
    return;
  }
  if (k0 == SIO_REDIS_PUSH_NONE || !p.channel ||
      (p.pattern != NULL) != (k0 == SIO_REDIS_PUSH_PMESSAGE) ||
      (p.payload != NULL) != (k0 != SIO_REDIS_PUSH_SUNSUBSCRIBE) ||
      p.channel[p.channel_len] != 0)
    abort();
}

/* Every function on r and on each node below it. */
static void check_tree(const redisReply *r, int depth) {
  sio_redis_addr a;
  int64_t n;
  int rv;
  size_t i;
  if (depth > 16)
    abort(); /* hiredis nests 7 deep at most */
  check_slots(r);
  check_push(r);
  rv = sio_redis_master_addr_parse(r, &a);
  if (rv == 0) {
    check_span(a.host, a.hostlen, r->element[0]->str, r->element[0]->len);
    if (!port_ok(a.port))
      abort();
  } else if (rv != SIO_ERR_NOTFOUND && rv != SIO_ERR_PROTO) {
    abort();
  }
  rv = sio_redis_role_parse(r);
  if (rv && rv != SIO_ERR_STATE && rv != SIO_ERR_PROTO)
    abort();
  rv = sio_redis_numsub_parse(r, &n);
  if (rv == 0 ? n != r->element[1]->integer : rv != SIO_ERR_PROTO)
    abort();
  switch (r->type) {
  case REDIS_REPLY_STRING:
  case REDIS_REPLY_STATUS:
  case REDIS_REPLY_ERROR:
    if (!r->str || r->str[r->len] != 0)
      abort();
    check_text(r->str, r->len);
    break;
  case REDIS_REPLY_ARRAY:
    for (i = 0; i < r->elements; i++)
      check_tree(r->element[i], depth + 1);
    break;
  default:
    break;
  }
}

/* What the bounded reader charges for r. */
static size_t cost(const redisReply *r) {
  size_t c = sizeof(redisReply), i;
  if (r->type == REDIS_REPLY_STRING || r->type == REDIS_REPLY_STATUS ||
      r->type == REDIS_REPLY_ERROR)
    c += r->len + 1;
  if (r->type == REDIS_REPLY_ARRAY) {
    c += r->elements * sizeof(redisReply *);
    for (i = 0; i < r->elements; i++)
      c += cost(r->element[i]);
  }
  return c;
}

static uint64_t mix(uint64_t h, uint64_t v) {
  return (h ^ v) * 0x100000001b3ull;
}

static uint64_t digest(uint64_t h, const redisReply *r) {
  size_t i;
  h = mix(h, (uint64_t)r->type);
  switch (r->type) {
  case REDIS_REPLY_INTEGER:
    return mix(h, (uint64_t)r->integer);
  case REDIS_REPLY_ARRAY:
    h = mix(h, r->elements);
    for (i = 0; i < r->elements; i++)
      h = digest(h, r->element[i]);
    return h;
  case REDIS_REPLY_NIL:
    return h;
  default:
    h = mix(h, r->len);
    for (i = 0; i < r->len; i++)
      h = mix(h, (unsigned char)r->str[i]);
    return h;
  }
}

typedef struct run {
  uint64_t h;
  size_t replies;
  int rv;
} run;

/* Reads data fed in pieces cut at the given points (sorted, <= size). */
static run read_all(const uint8_t *data, size_t size, const size_t *cuts,
                    size_t ncuts, int check) {
  sio_redis_reader rd;
  run out = {0xcbf29ce484222325ull, 0, 0};
  size_t from = 0, k;
  if (sio_redis_reader_init(&rd, BOUND))
    abort();
  for (k = 0; k <= ncuts && !out.rv; k++) {
    size_t to = k < ncuts ? cuts[k] : size;
    if (to > from && sio_redis_reader_feed(&rd, data + from, to - from))
      abort();
    from = to;
    for (;;) {
      redisReply *r;
      int rv = sio_redis_reader_get(&rd, &r);
      if (rv) {
        if (rv != SIO_ERR_PROTO && rv != SIO_ERR_TOOBIG)
          abort();
        out.rv = rv;
        break;
      }
      if (!r)
        break;
      if (cost(r) > BOUND)
        abort();
      out.replies++;
      out.h = digest(out.h, r);
      if (check)
        check_tree(r, 0);
      freeReplyObject(r);
    }
  }
  sio_redis_reader_deinit(&rd);
  return out;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  size_t cuts[2];
  run a, b;
  a = read_all(data, size, NULL, 0, 1);
  if (a.replies > size / 3)
    abort(); /* the shortest reply is 3 bytes */
  /* cut points from the first bytes, so that the fuzzer steers them */
  cuts[0] = size ? data[0] % (size + 1) : 0;
  cuts[1] = size > 1 ? cuts[0] + (size_t)data[1] * 7 % (size - cuts[0] + 1)
                     : cuts[0];
  b = read_all(data, size, cuts, 2, 0);
  if (a.h != b.h || a.replies != b.replies || a.rv != b.rv)
    abort();
  return 0;
}
