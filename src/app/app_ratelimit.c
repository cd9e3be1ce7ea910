/* app_ratelimit.c: token buckets and the bounded per-key table behind the
 * daemon's per-socket event rate, per-IP handshake rate and per-user
 * connection limit.
 *
 * Bucket: the level counts 1/60000 of a token, so that a rate of N tokens a
 * minute adds exactly N units per millisecond and all arithmetic is on
 * integers (no drift, no floating point). The bucket starts full (burst
 * tokens) and each take removes 60000 units.
 *
 * Table: open hashing into a fixed power-of-two array of chains (sized from
 * max_entries, never resized), plus a doubly linked list in order of last
 * use. Expiry walks that list from its oldest end; when the table is full,
 * an insertion first expires and then evicts the least recently used entry
 * with no connections, and only reports APP_RL_FULL when every entry holds
 * a live connection. Keys are peer-controlled (IPs, token subjects), so the
 * chains are chosen with SipHash-2-4 keyed by a random per-table seed. */
#include "app_ratelimit.h"

#include <stdlib.h>
#include <string.h>

#define UNITS_PER_TOKEN 60000u /* ms per minute */

/* --------------------------------------------------------- token bucket */

static uint64_t capacity(const struct app_rate *r) {
  return (uint64_t)(r->burst ? r->burst : 1) * UNITS_PER_TOKEN;
}

void app_bucket_init(struct app_bucket *b, const struct app_rate *r,
                     uint64_t now_ms) {
  b->level = capacity(r);
  b->last_ms = now_ms;
}

/* Adds the tokens earned since last_ms. r->per_minute is not 0. */
static void refill(struct app_bucket *b, const struct app_rate *r,
                   uint64_t now_ms) {
  uint64_t cap = capacity(r);
  if (now_ms > b->last_ms) {
    uint64_t elapsed = now_ms - b->last_ms;
    /* Past a full refill the product could overflow: just fill up. */
    if (elapsed > cap / r->per_minute)
      b->level = cap;
    else
      b->level += elapsed * r->per_minute;
    b->last_ms = now_ms;
  }
  if (b->level > cap)
    b->level = cap;
}

bool app_bucket_take(struct app_bucket *b, const struct app_rate *r,
                     uint64_t now_ms) {
  if (r->per_minute == 0)
    return true;
  refill(b, r, now_ms);
  if (b->level < UNITS_PER_TOKEN)
    return false;
  b->level -= UNITS_PER_TOKEN;
  return true;
}

uint64_t app_bucket_wait_ms(const struct app_bucket *b,
                            const struct app_rate *r, uint64_t now_ms) {
  struct app_bucket c = *b;
  uint64_t missing;
  if (r->per_minute == 0)
    return 0;
  refill(&c, r, now_ms);
  if (c.level >= UNITS_PER_TOKEN)
    return 0;
  missing = UNITS_PER_TOKEN - c.level;
  return (missing + r->per_minute - 1) / r->per_minute;
}

/* -------------------------------------------------------------- SipHash */

static uint64_t rotl(uint64_t x, int b) { return (x << b) | (x >> (64 - b)); }

static uint64_t le64(const uint8_t *p) {
  uint64_t v = 0;
  int i;
  for (i = 7; i >= 0; i--)
    v = (v << 8) | p[i];
  return v;
}

#define SIPROUND                                                               \
  do {                                                                         \
    v0 += v1;                                                                  \
    v1 = rotl(v1, 13);                                                         \
    v1 ^= v0;                                                                  \
    v0 = rotl(v0, 32);                                                         \
    v2 += v3;                                                                  \
    v3 = rotl(v3, 16);                                                         \
    v3 ^= v2;                                                                  \
    v0 += v3;                                                                  \
    v3 = rotl(v3, 21);                                                         \
    v3 ^= v0;                                                                  \
    v2 += v1;                                                                  \
    v1 = rotl(v1, 17);                                                         \
    v1 ^= v2;                                                                  \
    v2 = rotl(v2, 32);                                                         \
  } while (0)

/* SipHash-2-4 (Aumasson and Bernstein) of in[0..len) under key k. */
static uint64_t siphash24(const uint8_t k[16], const uint8_t *in, size_t len) {
  uint64_t k0 = le64(k), k1 = le64(k + 8);
  uint64_t v0 = 0x736f6d6570736575ULL ^ k0, v1 = 0x646f72616e646f6dULL ^ k1;
  uint64_t v2 = 0x6c7967656e657261ULL ^ k0, v3 = 0x7465646279746573ULL ^ k1;
  uint64_t m, b = (uint64_t)len << 56;
  size_t i, full = len & ~(size_t)7;
  uint8_t tail[8] = {0};

  for (i = 0; i < full; i += 8) {
    m = le64(in + i);
    v3 ^= m;
    SIPROUND;
    SIPROUND;
    v0 ^= m;
  }
  memcpy(tail, in + full, len - full);
  b |= le64(tail);
  v3 ^= b;
  SIPROUND;
  SIPROUND;
  v0 ^= b;
  v2 ^= 0xff;
  SIPROUND;
  SIPROUND;
  SIPROUND;
  SIPROUND;
  return v0 ^ v1 ^ v2 ^ v3;
}

/* ---------------------------------------------------------------- table */

struct entry {
  struct entry *chain;         /* next in the hash chain */
  struct entry *newer, *older; /* use order */
  uint64_t hash;
  uint64_t last_ms;
  uint32_t count;
  bool has_bucket;
  struct app_bucket bucket;
  char key[]; /* NUL-terminated */
};

struct app_keytab {
  struct entry **chains;
  size_t mask; /* number of chains - 1 */
  size_t n, max;
  uint64_t idle_ms;
  struct entry *newest, *oldest;
  uint8_t seed[16];
};

int app_keytab_new(struct app_keytab **out, size_t max_entries,
                   uint64_t idle_ms, const uint8_t seed[16]) {
  struct app_keytab *t = calloc(1, sizeof(*t));
  size_t nchains = 16;
  *out = NULL;
  if (!t)
    return -1;
  if (max_entries < 1)
    max_entries = 1;
  while (nchains < max_entries && nchains < ((size_t)1 << 20))
    nchains <<= 1;
  t->chains = calloc(nchains, sizeof(*t->chains));
  if (!t->chains) {
    free(t);
    return -1;
  }
  t->mask = nchains - 1;
  t->max = max_entries;
  t->idle_ms = idle_ms;
  memcpy(t->seed, seed, 16);
  *out = t;
  return 0;
}

void app_keytab_del(struct app_keytab *t) {
  struct entry *e, *next;
  if (!t)
    return;
  for (e = t->newest; e; e = next) {
    next = e->older;
    free(e);
  }
  free(t->chains);
  free(t);
}

size_t app_keytab_size(const struct app_keytab *t) { return t->n; }

static uint64_t hash_key(const struct app_keytab *t, const char *key) {
  return siphash24(t->seed, (const uint8_t *)key, strlen(key));
}

static struct entry *lookup(const struct app_keytab *t, const char *key,
                            uint64_t h) {
  struct entry *e;
  for (e = t->chains[h & t->mask]; e; e = e->chain)
    if (e->hash == h && strcmp(e->key, key) == 0)
      return e;
  return NULL;
}

static void list_unlink(struct app_keytab *t, struct entry *e) {
  if (e->newer)
    e->newer->older = e->older;
  else
    t->newest = e->older;
  if (e->older)
    e->older->newer = e->newer;
  else
    t->oldest = e->newer;
  e->newer = e->older = NULL;
}

static void list_push_newest(struct app_keytab *t, struct entry *e) {
  e->older = t->newest;
  e->newer = NULL;
  if (t->newest)
    t->newest->newer = e;
  t->newest = e;
  if (!t->oldest)
    t->oldest = e;
}

static void touch(struct app_keytab *t, struct entry *e, uint64_t now_ms) {
  if (now_ms > e->last_ms)
    e->last_ms = now_ms;
  if (t->newest != e) {
    list_unlink(t, e);
    list_push_newest(t, e);
  }
}

static void remove_entry(struct app_keytab *t, struct entry *e) {
  struct entry **pp = &t->chains[e->hash & t->mask];
  while (*pp != e)
    pp = &(*pp)->chain;
  *pp = e->chain;
  list_unlink(t, e);
  free(e);
  t->n--;
}

size_t app_keytab_expire(struct app_keytab *t, uint64_t now_ms) {
  struct entry *e = t->oldest, *newer;
  size_t removed = 0;
  for (; e; e = newer) {
    newer = e->newer;
    /* Everything newer was used more recently: stop at the first entry
     * whose time is not up (entries in use are skipped). */
    if (now_ms < e->last_ms || now_ms - e->last_ms < t->idle_ms)
      break;
    if (e->count == 0) {
      remove_entry(t, e);
      removed++;
    }
  }
  return removed;
}

/* Makes room for one entry. Returns true when there is room. */
static bool make_room(struct app_keytab *t, uint64_t now_ms) {
  struct entry *e;
  size_t scanned = 0;
  if (t->n < t->max)
    return true;
  app_keytab_expire(t, now_ms);
  if (t->n < t->max)
    return true;
  /* Evict the least recently used entry without connections. Its bucket,
   * if any, is forgotten: the price of a bounded table under a flood. */
  for (e = t->oldest; e && scanned < 64; e = e->newer, scanned++) {
    if (e->count == 0) {
      remove_entry(t, e);
      return true;
    }
  }
  return false;
}

/* Finds or creates key's entry. Returns it, or NULL with *rc set. */
static struct entry *get(struct app_keytab *t, const char *key, uint64_t now_ms,
                         int *rc) {
  uint64_t h = hash_key(t, key);
  struct entry *e = lookup(t, key, h);
  size_t len;
  if (e) {
    touch(t, e, now_ms);
    return e;
  }
  if (!make_room(t, now_ms)) {
    *rc = APP_RL_FULL;
    return NULL;
  }
  len = strlen(key);
  e = calloc(1, sizeof(*e) + len + 1);
  if (!e) {
    *rc = -1;
    return NULL;
  }
  memcpy(e->key, key, len + 1);
  e->hash = h;
  e->last_ms = now_ms;
  e->chain = t->chains[h & t->mask];
  t->chains[h & t->mask] = e;
  list_push_newest(t, e);
  t->n++;
  return e;
}

int app_keytab_acquire(struct app_keytab *t, const char *key, uint32_t limit,
                       uint64_t now_ms) {
  int rc = 0;
  struct entry *e;
  if (limit) {
    e = lookup(t, key, hash_key(t, key));
    if (e && e->count >= limit) {
      touch(t, e, now_ms);
      return APP_RL_LIMITED;
    }
  }
  e = get(t, key, now_ms, &rc);
  if (!e)
    return rc;
  if (e->count == UINT32_MAX)
    return APP_RL_LIMITED;
  e->count++;
  return APP_RL_OK;
}

void app_keytab_release(struct app_keytab *t, const char *key,
                        uint64_t now_ms) {
  struct entry *e = lookup(t, key, hash_key(t, key));
  if (!e)
    return;
  if (e->count > 0)
    e->count--;
  touch(t, e, now_ms);
}

uint32_t app_keytab_count(const struct app_keytab *t, const char *key) {
  struct entry *e = lookup(t, key, hash_key(t, key));
  return e ? e->count : 0;
}

int app_keytab_take(struct app_keytab *t, const char *key,
                    const struct app_rate *r, uint64_t now_ms) {
  int rc = 0;
  struct entry *e;
  if (r->per_minute == 0)
    return APP_RL_OK;
  e = get(t, key, now_ms, &rc);
  if (!e)
    return rc;
  if (!e->has_bucket) {
    app_bucket_init(&e->bucket, r, now_ms);
    e->has_bucket = true;
  }
  return app_bucket_take(&e->bucket, r, now_ms) ? APP_RL_OK : APP_RL_LIMITED;
}
