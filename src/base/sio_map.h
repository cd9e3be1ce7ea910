#ifndef SIO_MAP_H
#define SIO_MAP_H

/* Hash map from byte-string keys to pointers, for sids and room names.
 * Keys come from peers, so the hash is SipHash-2-4 with a per-process
 * random seed (sio_map_seed). Open addressing with linear probing and
 * backward-shift deletion; the map copies keys, values are borrowed. */

#include <stddef.h>
#include <stdint.h>

typedef struct sio_map_entry {
  char *key; /* owned copy, NUL-terminated; NULL marks a free slot */
  uint32_t keylen;
  uint32_t hash;
  void *val;
} sio_map_entry;

typedef struct sio_map {
  sio_map_entry *slots;
  size_t cap; /* power of two, or 0 */
  size_t count;
} sio_map;

/* Sets the process-wide seed (16 bytes, copied). Called once at start by
 * sio_server_new(); tests may call it for reproducible layouts. */
void sio_map_seed(const uint8_t seed[16]);
/* SipHash-2-4 of the key with the process seed. */
uint64_t sio_map_hash(const void *key, size_t len);

void sio_map_init(sio_map *m);
/* Frees the slots and key copies; values are not touched. */
void sio_map_deinit(sio_map *m);
/* Returns the value or NULL. */
void *sio_map_get(const sio_map *m, const char *key, size_t len);
/* Inserts key (copied) -> val. Returns 0, SIO_ERR_EXISTS when the key is
 * present (the map is unchanged), or SIO_ERR_NOMEM. */
int sio_map_put(sio_map *m, const char *key, size_t len, void *val);
/* Removes key; returns its value or NULL when absent. */
void *sio_map_remove(sio_map *m, const char *key, size_t len);
static inline size_t sio_map_count(const sio_map *m) { return m->count; }

/* Iteration: for (i = 0; sio_map_next(m, &i, &e);) {...}. Removing during
 * iteration is not allowed. */
int sio_map_next(const sio_map *m, size_t *iter, const sio_map_entry **e);

#endif
