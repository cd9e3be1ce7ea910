#ifndef SIO_ENGINE_BUS_H
#define SIO_ENGINE_BUS_H

/* The Engine.IO request bus (sio_server_engine_bus, <sio/adapter.h>) on
 * the pub/sub driver an adapter already uses, so that forwarding costs no
 * connection of its own: a driver in front of the driver. The adapter
 * runs over it unchanged; it subscribes to the two channels of
 * @socket.io/cluster-engine's RedisEngine ("engine.io#" and
 * "engine.io#<node>#", plain SUBSCRIBE and PUBLISH as the RedisEngine
 * uses), hands their messages to the server and everything else to the
 * adapter, and detaches the bus when the adapter closes the driver. */

#include "sio/adapter.h"
#include "sio_pubsub.h"

/* Puts a bus in front of (*ops, *drv) for s and replaces them with it.
 * Returns 0, SIO_ERR_UNSUPPORTED (the driver has no plain pub/sub: a
 * Redis Cluster's; *ops and *drv unchanged) or SIO_ERR_NOMEM. */
int sio_engine_bus_wrap(sio_server *s, const sio_pubsub_ops **ops,
                        void **drv);

#endif
