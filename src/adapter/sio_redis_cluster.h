#ifndef SIO_REDIS_CLUSTER_H
#define SIO_REDIS_CLUSTER_H

/* The pub/sub driver (sio_pubsub.h) for a Redis Cluster, sharded pub/sub
 * only (SSUBSCRIBE, SPUBLISH, PUBSUB SHARDNUMSUB: what the sharded adapter
 * uses). A channel lives in the slot of its name (CRC16, hash tags
 * honoured), and the master owning that slot is the one to subscribe and
 * publish at: the driver keeps the cluster's slot map (CLUSTER SLOTS),
 * one subscriber connection per master owning a subscribed channel's slot
 * and one publisher connection per master published to, each a
 * sio_redis_conn.
 *
 * The map is refreshed when it proves stale: a MOVED reply, a subscription
 * the server ends by itself (it sends sunsubscribe when the slot migrates
 * away), a node lost; and every refresh_interval_ms. A refresh moves each
 * subscription whose slot changed owner. A publish answered with ASK (its
 * slot is migrating) is sent again to the importing node with ASKING, and
 * one answered with MOVED to the new owner, so a slot migration loses
 * nothing on the publishing side.
 *
 * Commands (sio_pubsub_ops.command) go to the master owning their key's
 * slot (key 0: any master), LANE_PUB on its publisher connection,
 * LANE_BLOCKING on a third connection per master, opened on first use;
 * MOVED (which also corrects the map) and ASK are followed up to 5 times,
 * then the last redirection is delivered as the error reply it is. */

#include <stdint.h>
#include <uv.h>

#include "sio_pubsub.h"
#include "sio_redis.h"

typedef struct sio_redis_cluster sio_redis_cluster;

/* The slot of a key or sharded channel: CRC16-XMODEM of the name (or of
 * the part between the first '{' and the next '}', when not empty) mod
 * 16384. PURE. */
unsigned sio_redis_key_slot(const char *key, size_t len);

/* Creates the driver for a redis+cluster:// (or rediss+cluster://) URL
 * and starts connecting to its seeds. url and o borrowed (o NULL:
 * defaults; reconnect_* and ping_interval_ms as for sio_redis_new).
 * Returns 0, SIO_ERR_INVAL (not a cluster URL, or malformed),
 * SIO_ERR_IO (a TLS file unreadable: logged) or SIO_ERR_NOMEM. */
int sio_redis_cluster_new(sio_redis_cluster **out, uv_loop_t *loop,
                          const char *url, const sio_redis_options *o);

extern const sio_pubsub_ops sio_redis_cluster_pubsub_ops;

#endif
