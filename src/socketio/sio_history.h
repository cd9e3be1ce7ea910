#ifndef SIO_HISTORY_H
#define SIO_HISTORY_H

/* PURE (time passed in): the rooms' event history behind "replay from
 * the last event id" (SPEC §3), one instance's in-memory store.
 *
 * Every event broadcast through rooms whose id the application can name
 * is kept, already encoded (the shared sio_outpkt buffers), in each of its
 * rooms: at most max_events per room (the oldest of a room go first) and
 * for max_age_ms. All events share one sequence, so a client that
 * presents the id of the last event it saw gets, for any set of rooms,
 * every later event of those rooms in publish order, each once even when
 * it was sent to several of them.
 *
 * "Complete" tells the client whether that is everything it missed: the
 * presented id must still be kept (known and not expired), and none of
 * the rooms may have lost an event newer than it to the count bound.
 * Expiry goes by age, and age follows the sequence, so an event that aged
 * out is always older than one still kept. */

#include <stddef.h>
#include <stdint.h>

#include "sio_broadcast.h"

typedef struct sio_history sio_history;

typedef struct sio_history_limits {
  size_t max_events;   /* per room; 0: 1000 */
  uint64_t max_age_ms; /* 0: 300000 */
} sio_history_limits;

/* One replayed event: id and pkt owned by the result. */
typedef struct sio_history_event {
  char *id;
  sio_outpkt pkt;
} sio_history_event;

typedef struct sio_history_result {
  sio_history_event *ev; /* n events, oldest first */
  size_t n;
  int complete;
} sio_history_result;

/* lim may be NULL (defaults); copied. Returns NULL when out of memory. */
sio_history *sio_history_new(const sio_history_limits *lim);
void sio_history_free(sio_history *h); /* NULL-safe */

/* Keeps pkt (its own references) as event id in each of rooms[0..n)
 * (duplicates among them count once). Returns 0; SIO_ERR_EXISTS when id
 * is kept already (every instance or path delivering an event may offer
 * it: it is kept once, where it was first offered); SIO_ERR_INVAL (id
 * empty or over 256 bytes, no rooms); SIO_ERR_NOMEM (nothing kept). */
int sio_history_append(sio_history *h, const char *id,
                       const char *const *rooms, size_t nrooms,
                       const sio_outpkt *pkt, uint64_t now_ms);

/* Fills *out with the events of rooms[0..n) kept after event since,
 * oldest first, each once, and whether that is complete (see above). An
 * unknown or expired since gives no events and complete 0: the client
 * must refetch. Returns 0 or SIO_ERR_NOMEM (*out empty). Release *out
 * with sio_history_result_release. */
int sio_history_read(sio_history *h, const char *const *rooms, size_t nrooms,
                     const char *since, uint64_t now_ms,
                     sio_history_result *out);
void sio_history_result_release(sio_history_result *out); /* idempotent */

/* Drops the events older than max_age_ms (append and read do it too). */
void sio_history_expire(sio_history *h, uint64_t now_ms);
/* Distinct events kept, and their encoded bytes (for /metrics). */
size_t sio_history_events(const sio_history *h);
size_t sio_history_bytes(const sio_history *h);

#endif
