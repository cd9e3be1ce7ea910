#ifndef SIO_REDIS_H
#define SIO_REDIS_H

/* The one module that owns hiredis (0.14, on libuv through its own event
 * adapter, as hiredis' stock one ignores poll errors): a pub/sub driver
 * (sio_pubsub.h) on two Redis connections, a subscriber and a publisher,
 * as the Node adapter uses. Each connection resolves its host with
 * uv_getaddrinfo, connects without blocking, authenticates and selects its
 * database, and (the subscriber) restores every subscription; a lost or
 * failed connection (a refused connect is seen at once) is retried after a
 * capped exponential backoff with jitter; commands that get no reply
 * within the command timeout drop the connection (and are reported as
 * timed out). hiredis replies are only looked at inside hiredis'
 * callbacks. */

#include <stdint.h>
#include <uv.h>

#include "sio_pubsub.h"

typedef struct sio_redis sio_redis;

/* A parsed Redis URL. Strings owned (sio_redis_url_clear). */
typedef struct sio_redis_url {
  char *host;     /* NULL for a unix socket; IPv6 without brackets */
  int port;       /* 6379 by default */
  char *path;     /* unix socket path, or NULL */
  char *user;     /* NULL: none (AUTH password alone) */
  char *password; /* NULL: no AUTH */
  int db;         /* SELECT db when > 0 */
} sio_redis_url;

/* Parses redis://[[user][:password]@]host[:port][/db] (host may be
 * [v6addr]) and unix:///path (or redis+unix:///path) with an optional
 * ?db=N&password=P&user=U; user and password are percent-decoded. url
 * borrowed. Returns 0, SIO_ERR_INVAL (malformed, port or db out of range),
 * SIO_ERR_UNSUPPORTED (rediss://: TLS) or SIO_ERR_NOMEM; on error out owns
 * nothing. */
int sio_redis_url_parse(const char *url, sio_redis_url *out);
/* Frees u's strings and zeroes it. Cannot fail. */
void sio_redis_url_clear(sio_redis_url *u);

/* A zero field takes its default. */
typedef struct sio_redis_options {
  uint32_t connect_timeout_ms; /* resolve + connect + AUTH/SELECT, 5000 */
  uint32_t command_timeout_ms; /* a reply, 5000 */
  uint32_t reconnect_min_ms;   /* first retry delay, 100 */
  uint32_t reconnect_max_ms;   /* backoff cap, 500: a Redis accepting
                                  again is reached within it */
  uint32_t max_pending;        /* commands awaiting replies per connection,
                                  10000 */
  uint32_t ping_interval_ms;   /* PING on the publisher while ready, 5000 */
} sio_redis_options;

/* Creates the driver on loop and starts connecting in the background. url
 * and o borrowed (o NULL: defaults). Ignores SIGPIPE process-wide when it
 * is at its default disposition (hiredis writes with write(2)). Returns 0,
 * the errors of sio_redis_url_parse, or SIO_ERR_NOMEM. The driver is used
 * and closed through sio_redis_pubsub_ops. */
int sio_redis_new(sio_redis **out, uv_loop_t *loop, const char *url,
                  const sio_redis_options *o);

extern const sio_pubsub_ops sio_redis_pubsub_ops;

#endif
