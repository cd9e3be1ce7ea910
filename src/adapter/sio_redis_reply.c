/* sio_redis_reply.c: reading Redis, Sentinel and Cluster replies
 * (sio_redis_reply.h). */
#include "sio_redis_reply.h"

#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "sio_int.h"
#include "sio_mem.h"

static int is_type(const redisReply *r, int type) {
  return r && r->type == type;
}

/* A bulk or status string equal to s, ignoring case. */
static int is_word(const redisReply *r, const char *s) {
  size_t n = strlen(s);
  return r && (r->type == REDIS_REPLY_STRING ||
               r->type == REDIS_REPLY_STATUS) &&
         r->len == n && strncasecmp(r->str, s, n) == 0;
}

/* Decimal digits only, lo..hi. */
static int parse_uint(const char *s, size_t n, long lo, long hi, long *out) {
  long v = 0;
  size_t i;
  if (n == 0 || n > 9)
    return SIO_ERR_PROTO;
  for (i = 0; i < n; i++) {
    if (s[i] < '0' || s[i] > '9')
      return SIO_ERR_PROTO;
    v = v * 10 + (s[i] - '0');
  }
  if (v < lo || v > hi)
    return SIO_ERR_PROTO;
  *out = v;
  return 0;
}

static int parse_port(const char *s, size_t n, int *port) {
  long v;
  int rv = parse_uint(s, n, 1, 65535, &v);
  if (rv == 0)
    *port = (int)v;
  return rv;
}

/* A host is never empty and never holds a NUL: the drivers keep hosts as
 * C strings and compare them. */
static int host_ok(const char *s, size_t n) {
  return n > 0 && !memchr(s, 0, n);
}

/* ---------------------------------------------------------- CLUSTER SLOTS */

/* One entry: [start, end, [host, port, ...], replicas...]. */
static int slot_entry(const redisReply *e, unsigned *a, unsigned *b,
                      sio_redis_addr *addr) {
  const redisReply *m;
  long long s, t, port;
  if (!is_type(e, REDIS_REPLY_ARRAY) || e->elements < 3 ||
      !is_type(e->element[0], REDIS_REPLY_INTEGER) ||
      !is_type(e->element[1], REDIS_REPLY_INTEGER) ||
      !is_type(e->element[2], REDIS_REPLY_ARRAY))
    return SIO_ERR_PROTO;
  s = e->element[0]->integer;
  t = e->element[1]->integer;
  m = e->element[2];
  if (s < 0 || t >= SIO_REDIS_NSLOTS || s > t || m->elements < 2 ||
      !is_type(m->element[0], REDIS_REPLY_STRING) ||
      !is_type(m->element[1], REDIS_REPLY_INTEGER))
    return SIO_ERR_PROTO;
  port = m->element[1]->integer;
  if (port < 1 || port > 65535)
    return SIO_ERR_PROTO;
  addr->host = m->element[0]->str;
  addr->hostlen = m->element[0]->len;
  addr->port = (int)port;
  /* "" or "?": the node's address is the one asked */
  if (addr->hostlen == 0 || (addr->hostlen == 1 && addr->host[0] == '?')) {
    addr->host = NULL;
    addr->hostlen = 0;
  } else if (!host_ok(addr->host, addr->hostlen)) {
    return SIO_ERR_PROTO;
  }
  *a = (unsigned)s;
  *b = (unsigned)t;
  return 0;
}

static int addr_cmp(const sio_redis_addr *x, const sio_redis_addr *y) {
  if (x->port != y->port)
    return x->port < y->port ? -1 : 1;
  if (!x->host || !y->host) /* "the node asked" first */
    return (x->host != NULL) - (y->host != NULL);
  if (x->hostlen != y->hostlen)
    return x->hostlen < y->hostlen ? -1 : 1;
  return memcmp(x->host, y->host, x->hostlen);
}

typedef struct cand {
  sio_redis_addr addr;
  uint32_t range; /* the entry's index in the reply */
  uint16_t owner;
} cand;

static int cand_by_range(const void *x, const void *y) {
  uint32_t a = ((const cand *)x)->range, b = ((const cand *)y)->range;
  return a < b ? -1 : a > b;
}

static int cand_by_addr(const void *x, const void *y) {
  return addr_cmp(&((const cand *)x)->addr, &((const cand *)y)->addr);
}

/* The first free slot at or after j (next[j] == j: free), compressing the
 * path walked. */
static size_t free_slot(uint32_t *next, size_t j) {
  size_t root = j, n;
  while (next[root] != root)
    root = next[root];
  while (next[j] != root) {
    n = next[j];
    next[j] = (uint32_t)root;
    j = n;
  }
  return root;
}

int sio_redis_slots_parse(const redisReply *r, sio_redis_slot_map **out) {
  uint32_t *range = NULL, *next; /* per slot: the entry that owns it */
  cand *c = NULL;
  sio_redis_slot_map *m = NULL;
  size_t i, j, nc = 0;
  int rv = SIO_ERR_NOMEM;
  *out = NULL;
  if (!is_type(r, REDIS_REPLY_ARRAY) || r->elements == 0)
    return SIO_ERR_NOTFOUND;
  /* every entry is checked, even one a later entry overrides, before
   * anything is allocated */
  for (i = 0; i < r->elements; i++) {
    sio_redis_addr a;
    unsigned s, t;
    if (slot_entry(r->element[i], &s, &t, &a))
      return SIO_ERR_PROTO;
  }
  /* range[] and, past it, next[]: the last entry naming a slot owns it,
   * so entries are applied from the last, each to the slots still free
   * only (next[j]: a free slot at or after j), which bounds the work by
   * entries + slots however many entries overlap */
  range = sio_malloc((2 * SIO_REDIS_NSLOTS + 1) * sizeof(*range));
  if (!range)
    return SIO_ERR_NOMEM;
  next = range + SIO_REDIS_NSLOTS;
  for (j = 0; j < SIO_REDIS_NSLOTS; j++) {
    range[j] = UINT32_MAX;
    next[j] = (uint32_t)j;
  }
  next[SIO_REDIS_NSLOTS] = SIO_REDIS_NSLOTS;
  for (i = r->elements; i-- > 0;) {
    sio_redis_addr a;
    unsigned s, t;
    slot_entry(r->element[i], &s, &t, &a);
    for (j = free_slot(next, s); j <= t; j = free_slot(next, j)) {
      range[j] = (uint32_t)i;
      next[j] = (uint32_t)j + 1;
    }
  }
  /* the entries still owning a slot (at most one per slot), then their
   * distinct addresses, sorted, so that a hostile reply with many owners
   * costs n log n and not n squared */
  c = sio_malloc(SIO_REDIS_NSLOTS * sizeof(*c));
  if (!c)
    goto out;
  for (j = 0; j < SIO_REDIS_NSLOTS; j++)
    if (range[j] != UINT32_MAX && (j == 0 || range[j] != range[j - 1]))
      c[nc++].range = range[j];
  qsort(c, nc, sizeof(*c), cand_by_range);
  for (i = 0, j = 0; i < nc; i++)
    if (i == 0 || c[i].range != c[j - 1].range)
      c[j++] = c[i];
  nc = j;
  for (i = 0; i < nc; i++) {
    unsigned s, t;
    slot_entry(r->element[c[i].range], &s, &t, &c[i].addr);
  }
  qsort(c, nc, sizeof(*c), cand_by_addr);
  m = sio_malloc(sizeof(*m) + nc * sizeof(m->owners[0]));
  if (!m)
    goto out;
  m->nowners = 0;
  for (i = 0; i < nc; i++) {
    if (i == 0 || addr_cmp(&c[i].addr, &m->owners[m->nowners - 1]) != 0)
      m->owners[m->nowners++] = c[i].addr;
    c[i].owner = (uint16_t)(m->nowners - 1);
  }
  qsort(c, nc, sizeof(*c), cand_by_range);
  for (j = 0; j < SIO_REDIS_NSLOTS; j++) {
    cand key, *hit;
    if (range[j] == UINT32_MAX) {
      m->slot[j] = SIO_REDIS_SLOT_NONE;
      continue;
    }
    if (j > 0 && range[j] == range[j - 1]) {
      m->slot[j] = m->slot[j - 1];
      continue;
    }
    key.range = range[j];
    hit = bsearch(&key, c, nc, sizeof(*c), cand_by_range);
    m->slot[j] = hit->owner;
  }
  *out = m;
  m = NULL;
  rv = 0;
out:
  sio_free(m);
  sio_free(c);
  sio_free(range);
  return rv;
}

void sio_redis_slot_map_free(sio_redis_slot_map *m) { sio_free(m); }

/* --------------------------------------------------------- MOVED / ASK */

int sio_redis_redirect_parse(const char *err, sio_redis_redirect *out) {
  const char *p, *sp, *addr, *colon, *end;
  long slot;
  memset(out, 0, sizeof(*out));
  if (!err)
    return SIO_ERR_NOTFOUND;
  if (strncmp(err, "MOVED ", 6) == 0) {
    out->kind = SIO_REDIS_REDIRECT_MOVED;
    p = err + 6;
  } else if (strncmp(err, "ASK ", 4) == 0) {
    out->kind = SIO_REDIS_REDIRECT_ASK;
    p = err + 4;
  } else {
    return SIO_ERR_NOTFOUND;
  }
  sp = strchr(p, ' ');
  if (!sp || parse_uint(p, (size_t)(sp - p), 0, SIO_REDIS_NSLOTS - 1, &slot))
    return SIO_ERR_PROTO;
  addr = sp + 1;
  end = addr + strlen(addr);
  colon = strrchr(addr, ':');
  if (!colon || !host_ok(addr, (size_t)(colon - addr)) ||
      parse_port(colon + 1, (size_t)(end - colon - 1), &out->addr.port))
    return SIO_ERR_PROTO;
  out->slot = (unsigned)slot;
  out->addr.host = addr;
  out->addr.hostlen = (size_t)(colon - addr);
  return 0;
}

/* ------------------------------------------------------------- Sentinel */

int sio_redis_switch_master_parse(const char *payload, size_t len,
                                  const char *master_name,
                                  sio_redis_addr *out) {
  const char *f[5], *nul, *p, *end;
  size_t fl[5];
  int n = 0;
  memset(out, 0, sizeof(*out));
  if (!payload)
    return SIO_ERR_PROTO;
  nul = memchr(payload, 0, len);
  end = nul ? nul : payload + len;
  for (p = payload; p < end && n < 5;) {
    const char *q;
    if (*p == ' ') {
      p++;
      continue;
    }
    for (q = p; q < end && *q != ' '; q++)
      ;
    f[n] = p;
    fl[n++] = (size_t)(q - p);
    p = q;
  }
  if (n < 5 || parse_port(f[4], fl[4], &out->port))
    return SIO_ERR_PROTO;
  if (!master_name || fl[0] != strlen(master_name) ||
      memcmp(f[0], master_name, fl[0]) != 0)
    return SIO_ERR_NOTFOUND;
  out->host = f[3];
  out->hostlen = fl[3];
  return 0;
}

int sio_redis_master_addr_parse(const redisReply *r, sio_redis_addr *out) {
  memset(out, 0, sizeof(*out));
  if (!is_type(r, REDIS_REPLY_ARRAY) || r->elements != 2 ||
      !is_type(r->element[0], REDIS_REPLY_STRING) ||
      !is_type(r->element[1], REDIS_REPLY_STRING))
    return SIO_ERR_NOTFOUND;
  if (!host_ok(r->element[0]->str, r->element[0]->len) ||
      parse_port(r->element[1]->str, r->element[1]->len, &out->port))
    return SIO_ERR_PROTO;
  out->host = r->element[0]->str;
  out->hostlen = r->element[0]->len;
  return 0;
}

/* ------------------------------------------------------ other replies */

int sio_redis_role_parse(const redisReply *r) {
  if (!is_type(r, REDIS_REPLY_ARRAY) || r->elements < 1 ||
      !is_type(r->element[0], REDIS_REPLY_STRING))
    return SIO_ERR_PROTO;
  return r->element[0]->len == 6 && memcmp(r->element[0]->str, "master", 6) == 0
             ? 0
             : SIO_ERR_STATE;
}

int sio_redis_numsub_parse(const redisReply *r, int64_t *count) {
  if (!is_type(r, REDIS_REPLY_ARRAY) || r->elements < 2 ||
      !is_type(r->element[1], REDIS_REPLY_INTEGER))
    return SIO_ERR_PROTO;
  *count = r->element[1]->integer;
  return 0;
}

/* ---------------------------------------------------------------- pushes */

sio_redis_push_kind sio_redis_push_classify(const redisReply *r,
                                            int oldest_is_unsub) {
  const redisReply *t;
  if (!is_type(r, REDIS_REPLY_ARRAY) || r->elements < 3)
    return SIO_REDIS_PUSH_NONE;
  t = r->element[0];
  if (is_word(t, "message"))
    return SIO_REDIS_PUSH_MESSAGE;
  if (is_word(t, "smessage"))
    return SIO_REDIS_PUSH_SMESSAGE;
  if (is_word(t, "pmessage") && r->elements == 4)
    return SIO_REDIS_PUSH_PMESSAGE;
  if (is_word(t, "sunsubscribe") && !oldest_is_unsub)
    return SIO_REDIS_PUSH_SUNSUBSCRIBE;
  return SIO_REDIS_PUSH_NONE;
}

int sio_redis_push_parse(const redisReply *r, sio_redis_push *out) {
  size_t want, i;
  memset(out, 0, sizeof(*out));
  out->kind = sio_redis_push_classify(r, 0);
  if (out->kind == SIO_REDIS_PUSH_NONE)
    return SIO_ERR_PROTO;
  want = out->kind == SIO_REDIS_PUSH_PMESSAGE ? 4 : 3;
  if (r->elements != want)
    return SIO_ERR_PROTO;
  /* the strings: all but the sunsubscribe's count */
  for (i = 1; i < (out->kind == SIO_REDIS_PUSH_SUNSUBSCRIBE ? 2 : want); i++)
    if (!is_type(r->element[i], REDIS_REPLY_STRING))
      return SIO_ERR_PROTO;
  i = 1;
  if (out->kind == SIO_REDIS_PUSH_PMESSAGE)
    out->pattern = r->element[i++]->str;
  out->channel = r->element[i]->str;
  out->channel_len = r->element[i]->len;
  if (out->kind != SIO_REDIS_PUSH_SUNSUBSCRIBE) {
    out->payload = r->element[i + 1]->str;
    out->payload_len = r->element[i + 1]->len;
  }
  return 0;
}

/* ---------------------------------------------------- the bounded reader */

/* The reply objects hiredis builds are counted before they are made: the
 * reader's own functions, wrapped. */
static int charge(const redisReadTask *t, size_t extra) {
  sio_redis_reader *r = t->privdata;
  size_t c = sizeof(redisReply) + extra;
  if (r->over || c > r->max_reply_bytes - r->cost) {
    r->over = 1;
    return -1; /* hiredis reports out of memory and frees the reply */
  }
  r->cost += c;
  return 0;
}

static const redisReplyObjectFunctions *base(const redisReadTask *t) {
  return ((sio_redis_reader *)t->privdata)->base;
}

static void *b_string(const redisReadTask *t, char *s, size_t len) {
  return charge(t, len + 1) ? NULL : base(t)->createString(t, s, len);
}

static void *b_array(const redisReadTask *t, int elements) {
  size_t n = elements > 0 ? (size_t)elements : 0;
  return charge(t, n * sizeof(redisReply *)) ? NULL
                                             : base(t)->createArray(t, elements);
}

static void *b_integer(const redisReadTask *t, long long v) {
  return charge(t, 0) ? NULL : base(t)->createInteger(t, v);
}

static void *b_nil(const redisReadTask *t) {
  return charge(t, 0) ? NULL : base(t)->createNil(t);
}

/* freeReplyObject: a reply outlives its reader */
static redisReplyObjectFunctions bounded_fn = {b_string, b_array, b_integer,
                                               b_nil, freeReplyObject};

int sio_redis_reader_init(sio_redis_reader *r, size_t max_reply_bytes) {
  memset(r, 0, sizeof(*r));
  r->max_reply_bytes = max_reply_bytes ? max_reply_bytes : SIO_REDIS_MAX_REPLY;
  r->rd = redisReaderCreate();
  if (!r->rd)
    return SIO_ERR_NOMEM;
  r->base = r->rd->fn; /* hiredis's own, which make redisReply */
  r->rd->fn = &bounded_fn;
  r->rd->privdata = r;
  return 0;
}

void sio_redis_reader_deinit(sio_redis_reader *r) {
  if (r->rd)
    redisReaderFree(r->rd);
  r->rd = NULL;
}

int sio_redis_reader_feed(sio_redis_reader *r, const void *data, size_t len) {
  return redisReaderFeed(r->rd, data, len) == REDIS_OK ? 0 : SIO_ERR_NOMEM;
}

int sio_redis_reader_get(sio_redis_reader *r, redisReply **out) {
  void *reply = NULL;
  *out = NULL;
  if (r->over)
    return SIO_ERR_TOOBIG;
  if (redisReaderGetReply(r->rd, &reply) != REDIS_OK)
    return r->over ? SIO_ERR_TOOBIG
           : r->rd->err == REDIS_ERR_OOM ? SIO_ERR_NOMEM
                                         : SIO_ERR_PROTO;
  if (reply) {
    r->cost = 0;
    *out = reply;
    return 0;
  }
  /* incomplete: what is buffered for it counts too (a bulk string is made
   * only once all its bytes are in) */
  if (r->rd->len - r->rd->pos > r->max_reply_bytes - r->cost) {
    r->over = 1;
    return SIO_ERR_TOOBIG;
  }
  return 0;
}
