#ifndef SIO_ADAPTER_SHARDED_H
#define SIO_ADAPTER_SHARDED_H

/* The socket.io sharded Redis adapter protocol (createShardedAdapter of
 * @socket.io/redis-adapter >= 8.2: Redis 7 sharded pub/sub, the one that
 * scales on a Redis Cluster) as a libsio adapter (<sio/adapter.h>), over
 * a pub/sub driver with spublish and shardnumsub (sio_pubsub.h). See
 * sio_adapter_sharded.c for the protocol walk-through. */

#include <stdint.h>

#include "sio/adapter.h"
#include "sio/sio.h"
#include "sio_adapter_streams.h"
#include "sio_pubsub.h"

typedef struct sio_adapter_sharded sio_adapter_sharded;

/* The reference's subscriptionMode: which rooms get a channel of their
 * own (a broadcast to exactly one such room goes there, and only the
 * servers with members in it receive it). */
typedef enum sio_sharded_mode {
  SIO_SHARDED_DYNAMIC = 0,        /* "dynamic": public rooms (not a socket
                                     id of this server) */
  SIO_SHARDED_STATIC = 1,         /* "static": none, one channel per
                                     namespace */
  SIO_SHARDED_DYNAMIC_PRIVATE = 2 /* "dynamic-private": every room */
} sio_sharded_mode;

typedef struct sio_adapter_sharded_config {
  const char *key;              /* channelPrefix; NULL: "socket.io" */
  sio_sharded_mode mode;        /* 0: dynamic */
  uint32_t requests_timeout_ms; /* 0: 5000 */
  sio_adapter_sharded **handle; /* when not NULL, receives the adapter
                                   (tests; valid until the server closed) */
  /* Not NULL: the streams adapter (@socket.io/redis-streams-adapter 0.3),
   * a mode of this one: "static" channels, on classic pub/sub (PUBLISH,
   * SUBSCRIBE, NUMSUB) unless sharded_pubsub (its useShardedPubSub), for
   * the ephemeral messages; broadcasts without acknowledgements,
   * socketsJoin/Leave and disconnectSockets on the stream instead
   * (sio_adapter_streams.h), which also keeps connection state recovery
   * for the fleet (SIO_ADAPTER_RECOVERY). Needs the driver's command op. */
  const sio_adapter_streams_config *streams;
  int sharded_pubsub;
} sio_adapter_sharded_config;

/* Messages received and not acted on, for tests and diagnostics. */
typedef struct sio_adapter_sharded_counts {
  uint64_t malformed; /* not a message of the protocol */
  uint64_t ignored;   /* another namespace, an unknown type, no requester
                         uid to answer, a response nobody waits for */
} sio_adapter_sharded_counts;

/* As sio_adapter_redis_install (ownership of drv passes to the adapter;
 * on error drv is closed here and nothing is installed), and
 * SIO_ERR_UNSUPPORTED when the driver has no sharded pub/sub (spublish or
 * shardnumsub NULL) or the mode is unknown (SIO_ERR_INVAL). */
int sio_adapter_sharded_install(sio_server *srv, const sio_pubsub_ops *ops,
                                void *drv,
                                const sio_adapter_sharded_config *cfg);

/* This adapter's uid (16 hex digits, like ClusterAdapter's), borrowed. */
const char *sio_adapter_sharded_uid(const sio_adapter_sharded *a);
void sio_adapter_sharded_get_counts(const sio_adapter_sharded *a,
                                    sio_adapter_sharded_counts *out);

#endif
