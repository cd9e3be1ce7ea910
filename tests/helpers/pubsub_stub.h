#ifndef PUBSUB_STUB_H
#define PUBSUB_STUB_H

/* An in-memory pub/sub bus implementing sio_pubsub_ops for tests: several
 * sio_servers in one process, each on its own stub driver, all on one bus
 * (what Redis is in production). Messages are delivered on a later loop
 * turn, in publish order, to every stub that subscribed to the channel or
 * to a matching glob pattern (Redis' rules: *, ?, [...], \ escapes);
 * PUBSUB NUMSUB counts the stubs subscribed to a channel. Sharded pub/sub
 * is a space of its own, as in Redis 7: SPUBLISH reaches SSUBSCRIBE
 * (SIO_PUBSUB_SHARD) subscriptions only, PUBLISH never reaches them, and
 * PUBSUB SHARDNUMSUB counts them. A stub can be
 * taken down and brought back up to play a lost Redis connection. */

#include <stddef.h>
#include <stdint.h>
#include <uv.h>

#include "sio_pubsub.h"

typedef struct pubsub_bus pubsub_bus;
typedef struct pubsub_stub pubsub_stub;

extern const sio_pubsub_ops pubsub_stub_ops;

/* Creates a bus on loop. Returns NULL when out of memory. */
pubsub_bus *pubsub_bus_new(uv_loop_t *loop);
/* Closes the bus' timer and frees it once closed; every stub must have
 * been closed. Undelivered messages are dropped. */
void pubsub_bus_close(pubsub_bus *b);
/* A new stub driver on b (its owner closes it through the ops). */
pubsub_stub *pubsub_stub_new(pubsub_bus *b);
/* Takes s down (up 0: publish and numsub fail, nothing is delivered to
 * it, its handler hears state 0) or up again (subscriptions kept, state
 * 1). */
void pubsub_stub_set_up(pubsub_stub *s, int up);
/* Publishes as an outside publisher would (an emitter). data copied. */
void pubsub_bus_publish(pubsub_bus *b, const char *channel, const uint8_t *data,
                        size_t len);
/* SPUBLISH as an outside publisher (a Node peer, a malformed one). */
void pubsub_bus_spublish(pubsub_bus *b, const char *channel,
                         const uint8_t *data, size_t len);
/* Messages SPUBLISHed on b so far. */
uint64_t pubsub_bus_spublished(const pubsub_bus *b);
/* 1 when s holds a subscription of kind to name. */
int pubsub_stub_subscribed(const pubsub_stub *s, const char *name, int kind);
/* s's subscriptions of kind. */
size_t pubsub_stub_count(const pubsub_stub *s, int kind);
/* Unsubscribe calls that ended a subscription of s. */
uint64_t pubsub_stub_unsubscribes(const pubsub_stub *s);
/* Calls cb for every message published on the bus, at publish time
 * (channel and data borrowed). */
void pubsub_bus_tap(pubsub_bus *b,
                    void (*cb)(const char *channel, const uint8_t *data,
                               size_t len, void *ud),
                    void *ud);
/* 1 when pattern (Redis glob) matches s. */
int pubsub_glob_match(const char *pattern, const char *s);

#endif
