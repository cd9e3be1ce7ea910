#ifndef SIO_ACK_H
#define SIO_ACK_H

/* Acknowledgements asked by the server (sio_socket_emit_ack): ack id
 * allocation and the per-socket table of pending callbacks, each with an
 * optional uv timer. Every pending callback fires exactly once: with the
 * client's answer (status 0), SIO_ERR_TIMEOUT, or SIO_ERR_CANCELED from
 * sio_ack_table_cancel_all(); or never, when it was discarded because the
 * emit that registered it failed. Acks asked by the client need no state
 * here: the application answers them with sio_socket_ack(). */

#include <json-c/json.h>
#include <stddef.h>
#include <stdint.h>
#include <uv.h>

#include "sio/sio.h"
#include "sio_queue.h"

/* Ids run from 0 to SIO_ACK_ID_LIMIT - 1 and wrap (the packet decoder
 * refuses ids above 2^53, JavaScript's largest exact integer). */
#define SIO_ACK_ID_LIMIT ((int64_t)1 << 53)

/* Embedded by value in a socket: a list of pending entries. */
typedef struct sio_ack_table {
  sio_queue pending;
  uint32_t count;
} sio_ack_table;

void sio_ack_table_init(sio_ack_table *t);

/* Returns *counter and advances it, wrapping at SIO_ACK_ID_LIMIT. */
int64_t sio_ack_next_id(int64_t *counter);

/* Registers cb for ack id on behalf of owner (borrowed; handed back to cb).
 * With timeout_ms > 0 a timer on loop fires SIO_ERR_TIMEOUT if no answer
 * came in time (loop may be NULL when timeout_ms is 0). Returns 0,
 * SIO_ERR_EXISTS (id already pending in t), SIO_ERR_INVAL (cb NULL, or a
 * timeout without a loop) or SIO_ERR_NOMEM; on error cb never fires. */
int sio_ack_table_add(sio_ack_table *t, uv_loop_t *loop, int64_t id,
                      uint32_t timeout_ms, sio_socket *owner, sio_ack_cb cb,
                      void *ud);
/* The client answered id: removes the entry and calls its cb with status 0
 * and args/bins (borrowed, passed through). Returns 0 when a callback ran or
 * SIO_ERR_NOTFOUND (unknown id, or already timed out: ignored). The entry is
 * unlinked before cb runs, so cb may do anything, including freeing the
 * structure that embeds t. */
int sio_ack_table_resolve(sio_ack_table *t, int64_t id, json_object *args,
                          const sio_bin *bins, size_t nbins);
/* Removes id without calling its cb (the registering emit failed). Returns 0
 * or SIO_ERR_NOTFOUND. */
int sio_ack_table_discard(sio_ack_table *t, int64_t id);
/* Fires every pending entry with SIO_ERR_CANCELED, in registration order.
 * The entries are detached from t first, so callbacks may free the
 * structure embedding t; entries added to t by those callbacks stay pending
 * (callers prevent that by refusing new acks once closing). */
void sio_ack_table_cancel_all(sio_ack_table *t);
static inline size_t sio_ack_table_count(const sio_ack_table *t) {
  return t->count;
}

#endif
