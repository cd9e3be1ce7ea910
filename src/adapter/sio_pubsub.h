#ifndef SIO_PUBSUB_H
#define SIO_PUBSUB_H

/* The pub/sub driver interface the Redis adapter logic runs over
 * (socketioxide's driver split): sio_redis.c implements it with hiredis on
 * two Redis connections; tests/helpers/pubsub_stub.c implements it as an
 * in-memory bus shared by several servers in one process.
 *
 * A driver delivers messages and state changes to one handler, on the
 * loop thread, never from inside one of its own calls. Subscriptions are
 * remembered and restored after every reconnection; while the driver is
 * not ready, publish fails (the message is dropped, the caller counts it)
 * and numsub fails at once. */

#include <stddef.h>
#include <stdint.h>

/* subscribe's kinds */
enum { SIO_PUBSUB_CHANNEL = 0, SIO_PUBSUB_PATTERN = 1, SIO_PUBSUB_SHARD = 2 };

typedef struct sio_pubsub_handler {
  /* A message on a subscribed channel: pattern is the PSUBSCRIBE pattern
   * it matched, NULL for a SUBSCRIBE or SSUBSCRIBE channel. Everything borrowed for the
   * call; channel is NUL-terminated. */
  void (*message)(void *ud, const char *pattern, const char *channel,
                  const uint8_t *data, size_t len);
  /* ready is 1 once every connection is up and every subscription
   * confirmed, 0 when one is lost. */
  void (*state)(void *ud, int ready);
} sio_pubsub_handler;

/* count is the subscriber count (PUBSUB NUMSUB) when status is 0; status
 * is otherwise SIO_ERR_TIMEOUT, SIO_ERR_IO (connection lost) or
 * SIO_ERR_CANCELED (the driver is closing). */
typedef void (*sio_pubsub_count_cb)(void *ud, int status, int64_t count);

struct redisReply;
/* A command's outcome: status 0 with the reply (borrowed for the call; it
 * may be an error reply, REDIS_REPLY_ERROR), or SIO_ERR_TIMEOUT,
 * SIO_ERR_IO (connection lost) or SIO_ERR_CANCELED (the driver is
 * closing) with rep NULL. A Cluster's MOVED and ASK are followed by the
 * driver, never reported. */
typedef void (*sio_pubsub_reply_cb)(void *ud, int status,
                                    const struct redisReply *rep);

/* command's lanes */
enum {
  /* the publisher's connection: ordered with publish and spublish */
  SIO_PUBSUB_LANE_PUB = 0,
  /* a connection of its own, opened on first use, for commands that wait
   * in Redis (XREAD BLOCK): they never hold up publishes, and their
   * deadline is the timeout given plus the driver's command timeout */
  SIO_PUBSUB_LANE_BLOCKING = 1
};

typedef struct sio_pubsub_ops {
  /* h copied, ud borrowed until close. */
  void (*set_handler)(void *drv, const sio_pubsub_handler *h, void *ud);
  /* Subscribes (kind SIO_PUBSUB_CHANNEL: SUBSCRIBE, SIO_PUBSUB_PATTERN:
   * PSUBSCRIBE of a glob pattern, SIO_PUBSUB_SHARD: SSUBSCRIBE, Redis 7
   * sharded pub/sub); name copied. Returns 0 (taking effect now or at the
   * next connection), SIO_ERR_UNSUPPORTED (kind not offered) or
   * SIO_ERR_NOMEM. Subscribing twice to one name is one subscription. */
  int (*subscribe)(void *drv, const char *name, int kind);
  /* Ends a subscription made with subscribe (same name and kind); unknown
   * names are ignored. Returns 0 or SIO_ERR_NOMEM. May be NULL (a driver
   * whose users never unsubscribe). */
  int (*unsubscribe)(void *drv, const char *name, int kind);
  /* Publishes data (copied) on channel. Returns 0, SIO_ERR_CLOSED (not
   * ready: dropped), SIO_ERR_LIMIT (too many commands waiting: dropped)
   * or SIO_ERR_NOMEM. */
  int (*publish)(void *drv, const char *channel, const uint8_t *data,
                 size_t len);
  /* PUBSUB NUMSUB channel. Returns 0 (cb fires once, later), or
   * SIO_ERR_CLOSED / SIO_ERR_LIMIT / SIO_ERR_NOMEM (cb never fires). */
  int (*numsub)(void *drv, const char *channel, sio_pubsub_count_cb cb,
                void *ud);
  /* SPUBLISH and PUBSUB SHARDNUMSUB, as publish and numsub (the sharded
   * adapter's serverCount). Both NULL for a driver without sharded
   * pub/sub. */
  int (*spublish)(void *drv, const char *channel, const uint8_t *data,
                  size_t len);
  int (*shardnumsub)(void *drv, const char *channel, sio_pubsub_count_cb cb,
                     void *ud);
  /* Any command (argv[i] of lens[i] bytes, copied) on lane. key is the
   * index in argv of the key a Redis Cluster routes it by (0: none, any
   * node; commands whose keys are all in one hash slot only). timeout_ms
   * is what a BLOCKING command waits in Redis (0 on LANE_PUB). Returns 0
   * (cb fires once, later), SIO_ERR_CLOSED (not ready), SIO_ERR_LIMIT
   * (too many commands waiting), SIO_ERR_INVAL or SIO_ERR_NOMEM (cb never
   * fires). May be NULL: a driver without commands (the streams adapter
   * and the Redis history need one). */
  int (*command)(void *drv, int lane, int argc, const char **argv,
                 const size_t *lens, int key, uint32_t timeout_ms,
                 sio_pubsub_reply_cb cb, void *ud);
  int (*ready)(void *drv);
  /* Round trip of the last PING answered, in microseconds; 0 before the
   * first. May be NULL (a driver without a server to ping). */
  uint64_t (*latency_us)(void *drv);
  /* Fires pending callbacks with SIO_ERR_CANCELED, closes everything and
   * calls done(arg) once the last handle closed (possibly before
   * returning). The driver is gone after done. */
  void (*close)(void *drv, void (*done)(void *arg), void *arg);
} sio_pubsub_ops;

#endif
