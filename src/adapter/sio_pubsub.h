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
