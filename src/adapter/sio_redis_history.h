#ifndef SIO_REDIS_HISTORY_H
#define SIO_REDIS_HISTORY_H

/* The rooms' event history kept in Redis for the whole fleet (replay
 * from the last event id with redis.url set), over any pub/sub driver
 * with the command op (sio_pubsub.h): what the adapters' history_append
 * and history_read do (<sio/adapter.h>).
 *
 * Layout, every key of a namespace under one hash tag so that a Cluster
 * keeps them on one shard (<key> is the adapter's key, "socket.io"):
 *
 *   <key>-history{<nsp>}:seq        INCR: the fleet's publish order
 *   <key>-history{<nsp>}:id:<id>    the event's sequence, PX max_age
 *   <key>-history{<nsp>}:r:<room>   a stream per room, entry id
 *                                   "<seq>-0", fields i (the event id),
 *                                   p (the packet), t (ms); at most
 *                                   max_events, PEXPIRE max_age
 *
 * One script appends: an id already there is not appended again (every
 * instance that delivers an event offers it), so each event is kept once,
 * in the order of the first offers. Another reads: the sequence of since,
 * each room's entries after it (XRANGE exclusive), merged in sequence
 * order and deduplicated, and "complete" unless since is unknown or a
 * room trimmed an entry newer than since (XINFO STREAM's
 * max-deleted-entry-id). Both run on the publisher's lane, so a read
 * follows every append this instance made before it. */

#include <stddef.h>
#include <stdint.h>

#include "sio/adapter.h"
#include "sio_pubsub.h"

/* Offers event id (pkt copied) to the rooms' history of nsp under key.
 * Returns 0 (sent; a failure in Redis is logged), or what ops->command
 * returns (SIO_ERR_CLOSED, SIO_ERR_LIMIT, SIO_ERR_NOMEM), SIO_ERR_INVAL
 * (no rooms, an empty id) or SIO_ERR_UNSUPPORTED (no command op). */
int sio_redis_history_append(const sio_pubsub_ops *ops, void *drv,
                             const char *key, const char *nsp, const char *id,
                             const char *const *rooms, size_t nrooms,
                             const uint8_t *pkt, size_t len,
                             uint32_t max_events, uint32_t max_age_ms);

/* Reads the events of rooms after since; cb fires once, later, as
 * <sio/adapter.h> says (SIO_ERR_PROTO for a reply of the wrong shape).
 * Returns 0, or an error as above (cb never fires). */
int sio_redis_history_read(const sio_pubsub_ops *ops, void *drv,
                           const char *key, const char *nsp,
                           const char *const *rooms, size_t nrooms,
                           const char *since, uint32_t max_events,
                           uint32_t max_age_ms, sio_adapter_history_cb cb,
                           void *ud);

#endif
