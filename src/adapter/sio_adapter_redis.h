#ifndef SIO_ADAPTER_REDIS_H
#define SIO_ADAPTER_REDIS_H

/* The socket.io Redis adapter protocol (@socket.io/redis-adapter 8) as a
 * libsio adapter (<sio/adapter.h>), over any pub/sub driver
 * (sio_pubsub.h): hiredis in production (sio_redis.c), an in-memory bus
 * in tests. See sio_adapter_redis.c for the protocol walk-through. */

#include <stdint.h>

#include "sio/adapter.h"
#include "sio/sio.h"
#include "sio_pubsub.h"

typedef struct sio_adapter_redis sio_adapter_redis;

typedef struct sio_adapter_redis_config {
  const char *key;              /* channel prefix; NULL: "socket.io" */
  uint32_t requests_timeout_ms; /* 0: 5000 */
} sio_adapter_redis_config;

/* Creates the adapter on driver drv (ops borrowed: static tables;
 * ownership of drv passes to the adapter, which closes it in its own
 * close) and installs it on srv with sio_server_set_adapter. cfg borrowed
 * (NULL: defaults). Returns 0, SIO_ERR_STATE (srv has an adapter or is
 * closing), SIO_ERR_IO (no randomness for the uid) or SIO_ERR_NOMEM; on
 * error drv is closed here (its done callback frees it) and nothing is
 * installed. */
int sio_adapter_redis_install(sio_server *srv, const sio_pubsub_ops *ops,
                              void *drv, const sio_adapter_redis_config *cfg);

#endif
