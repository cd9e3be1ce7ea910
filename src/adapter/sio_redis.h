#ifndef SIO_REDIS_H
#define SIO_REDIS_H

/* The pub/sub driver (sio_pubsub.h) for one Redis server: a standalone
 * one, or the master a Sentinel group names. Two connections, a
 * subscriber and a publisher, as the Node adapter uses, each a
 * sio_redis_conn (hiredis as the codec, bytes over src/net: TCP, unix
 * socket or TLS). A lost or failed connection (a refused connect is seen
 * at once) is retried after a capped exponential backoff with jitter, and
 * the subscriber restores every subscription; a Redis that stops
 * answering is dropped after the command timeout (every connection PINGs
 * while idle).
 *
 * Commands (sio_pubsub_ops.command): LANE_PUB on the publisher, in order
 * with publishes; LANE_BLOCKING on a connection of its own, opened on the
 * first blocking command (what comes meanwhile waits, max_pending at
 * most), never PINGed and not part of ready. Either lane needs the
 * publisher up (SIO_ERR_CLOSED otherwise). A command's deadline is its
 * timeout_ms plus the command timeout, and a command behind it on the
 * same connection waits that long too.
 *
 * With Sentinel, a third connection asks the sentinels in turn for the
 * master's address (SENTINEL get-master-addr-by-name) and stays
 * subscribed to +switch-master: a failover moves every connection to the
 * new master at once (a blocking command waiting in the old one fails
 * with SIO_ERR_IO); a connection that finds its server is not a master
 * (ROLE) asks again. */

#include <stdint.h>
#include <uv.h>

#include "sio_pubsub.h"
#include "sio_redis_url.h"

typedef struct sio_redis sio_redis;

/* A zero field takes its default. */
typedef struct sio_redis_options {
  uint32_t connect_timeout_ms; /* resolve + connect + TLS + AUTH/SELECT,
                                  5000 */
  uint32_t command_timeout_ms; /* a reply, 5000 */
  uint32_t reconnect_min_ms;   /* first retry delay, 100 */
  uint32_t reconnect_max_ms;   /* backoff cap, 500: a Redis accepting
                                  again is reached within it */
  uint32_t max_pending;        /* commands awaiting replies per connection,
                                  10000 */
  uint32_t ping_interval_ms;   /* PING while idle, 5000 */
  const char *tls_ca_file;     /* rediss: CA bundle, NULL: system paths */
  const char *tls_cert_file;   /* rediss: client certificate, NULL: none */
  const char *tls_key_file;
} sio_redis_options;

/* Creates the driver on loop and starts connecting in the background. url
 * and o borrowed (o NULL: defaults). Ignores SIGPIPE process-wide when it
 * is at its default disposition. Returns 0, the errors of
 * sio_redis_url_parse, SIO_ERR_INVAL (a cluster URL: see
 * sio_redis_cluster.h), SIO_ERR_IO (a TLS file unreadable: logged) or
 * SIO_ERR_NOMEM. The driver is used and closed through
 * sio_redis_pubsub_ops. */
int sio_redis_new(sio_redis **out, uv_loop_t *loop, const char *url,
                  const sio_redis_options *o);

extern const sio_pubsub_ops sio_redis_pubsub_ops;

#endif
