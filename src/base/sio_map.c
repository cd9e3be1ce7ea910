/* sio_map.c: seeded open-addressing hash map (SipHash-2-4, Aumasson &
 * Bernstein 2012). Load factor is kept under 3/4; deletion shifts later
 * entries of the probe run back so no tombstones accumulate. */
#include "sio_map.h"

#include <string.h>

#include "sio_int.h"
#include "sio_mem.h"

static uint64_t seed_k0 = 0x736f6d6570736575ULL, seed_k1 = 0x646f72616e646f6dULL;

void sio_map_seed(const uint8_t seed[16]) {
  memcpy(&seed_k0, seed, 8);
  memcpy(&seed_k1, seed + 8, 8);
}

#define ROTL(x, b) (uint64_t)(((x) << (b)) | ((x) >> (64 - (b))))
#define SIPROUND                                                               \
  do {                                                                         \
    v0 += v1;                                                                  \
    v1 = ROTL(v1, 13);                                                         \
    v1 ^= v0;                                                                  \
    v0 = ROTL(v0, 32);                                                         \
    v2 += v3;                                                                  \
    v3 = ROTL(v3, 16);                                                         \
    v3 ^= v2;                                                                  \
    v0 += v3;                                                                  \
    v3 = ROTL(v3, 21);                                                         \
    v3 ^= v0;                                                                  \
    v2 += v1;                                                                  \
    v1 = ROTL(v1, 17);                                                         \
    v1 ^= v2;                                                                  \
    v2 = ROTL(v2, 32);                                                         \
  } while (0)

uint64_t sio_map_hash(const void *key, size_t len) {
  const uint8_t *in = key;
  uint64_t v0 = 0x736f6d6570736575ULL ^ seed_k0;
  uint64_t v1 = 0x646f72616e646f6dULL ^ seed_k1;
  uint64_t v2 = 0x6c7967656e657261ULL ^ seed_k0;
  uint64_t v3 = 0x7465646279746573ULL ^ seed_k1;
  uint64_t b = ((uint64_t)len) << 56, m;
  size_t i, left = len & 7, end = len - left;
  for (i = 0; i < end; i += 8) {
    memcpy(&m, in + i, 8); /* little-endian hosts only (x86_64, arm64) */
    v3 ^= m;
    SIPROUND;
    SIPROUND;
    v0 ^= m;
  }
  switch (left) {
  case 7:
    b |= ((uint64_t)in[end + 6]) << 48; /* fall through */
  case 6:
    b |= ((uint64_t)in[end + 5]) << 40; /* fall through */
  case 5:
    b |= ((uint64_t)in[end + 4]) << 32; /* fall through */
  case 4:
    b |= ((uint64_t)in[end + 3]) << 24; /* fall through */
  case 3:
    b |= ((uint64_t)in[end + 2]) << 16; /* fall through */
  case 2:
    b |= ((uint64_t)in[end + 1]) << 8; /* fall through */
  case 1:
    b |= ((uint64_t)in[end]);
    break;
  case 0:
    break;
  }
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

void sio_map_init(sio_map *m) {
  m->slots = NULL;
  m->cap = 0;
  m->count = 0;
}

void sio_map_deinit(sio_map *m) {
  size_t i;
  for (i = 0; i < m->cap; i++)
    sio_free(m->slots[i].key);
  sio_free(m->slots);
  sio_map_init(m);
}

static size_t find_slot(const sio_map *m, const char *key, size_t len,
                        uint32_t h) {
  size_t mask = m->cap - 1, i = h & mask;
  for (;;) {
    const sio_map_entry *e = &m->slots[i];
    if (!e->key)
      return i;
    if (e->hash == h && e->keylen == len && memcmp(e->key, key, len) == 0)
      return i;
    i = (i + 1) & mask;
  }
}

void *sio_map_get(const sio_map *m, const char *key, size_t len) {
  size_t i;
  if (!m->count)
    return NULL;
  i = find_slot(m, key, len, (uint32_t)sio_map_hash(key, len));
  return m->slots[i].key ? m->slots[i].val : NULL;
}

static int grow(sio_map *m) {
  size_t ncap = m->cap ? m->cap * 2 : 8, i;
  sio_map_entry *ns = sio_calloc(ncap, sizeof(*ns)), *old = m->slots;
  size_t ocap = m->cap;
  if (!ns)
    return SIO_ERR_NOMEM;
  m->slots = ns;
  m->cap = ncap;
  for (i = 0; i < ocap; i++) {
    if (old[i].key) {
      size_t j = old[i].hash & (ncap - 1);
      while (ns[j].key)
        j = (j + 1) & (ncap - 1);
      ns[j] = old[i];
    }
  }
  sio_free(old);
  return 0;
}

int sio_map_put(sio_map *m, const char *key, size_t len, void *val) {
  uint32_t h;
  size_t i;
  char *k;
  if (len > UINT32_MAX)
    return SIO_ERR_INVAL;
  if ((m->count + 1) * 4 > m->cap * 3) {
    int rv = grow(m);
    if (rv)
      return rv;
  }
  h = (uint32_t)sio_map_hash(key, len);
  i = find_slot(m, key, len, h);
  if (m->slots[i].key)
    return SIO_ERR_EXISTS;
  k = sio_strndup(key, len);
  if (!k)
    return SIO_ERR_NOMEM;
  m->slots[i].key = k;
  m->slots[i].keylen = (uint32_t)len;
  m->slots[i].hash = h;
  m->slots[i].val = val;
  m->count++;
  return 0;
}

void *sio_map_remove(sio_map *m, const char *key, size_t len) {
  size_t mask, i, j;
  void *val;
  if (!m->count)
    return NULL;
  mask = m->cap - 1;
  i = find_slot(m, key, len, (uint32_t)sio_map_hash(key, len));
  if (!m->slots[i].key)
    return NULL;
  val = m->slots[i].val;
  sio_free(m->slots[i].key);
  m->slots[i].key = NULL;
  m->count--;
  /* Backward-shift: move later members of the run into the hole when their
   * home slot is at or before it (cyclically). */
  j = i;
  for (;;) {
    size_t home;
    j = (j + 1) & mask;
    if (!m->slots[j].key)
      break;
    home = m->slots[j].hash & mask;
    if (((j - home) & mask) >= ((j - i) & mask)) {
      m->slots[i] = m->slots[j];
      m->slots[j].key = NULL;
      i = j;
    }
  }
  return val;
}

int sio_map_next(const sio_map *m, size_t *iter, const sio_map_entry **e) {
  while (*iter < m->cap) {
    const sio_map_entry *s = &m->slots[(*iter)++];
    if (s->key) {
      *e = s;
      return 1;
    }
  }
  return 0;
}
