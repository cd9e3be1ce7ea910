#ifndef SIO_ADAPTER_REQ_H
#define SIO_ADAPTER_REQ_H

/* sio_adapter_req: the requests a cluster adapter sends to the other
 * servers and the answers it waits for (fetchSockets, allRooms,
 * serverCount, serverSideEmit with acknowledgements, broadcasts with
 * acknowledgements), shared by the Redis protocols (sio_adapter_redis.c,
 * sio_adapter_sharded.c) so that each only decodes and encodes its own
 * messages. A table owns the requests of one adapter: their ids (in a map,
 * so an answer finds its request), a timer each, the answers collected so
 * far and the public callback, which fires exactly once, never from
 * inside the call that started the request.
 *
 * A counted request (sio_adapter_req_start) first asks the adapter's
 * count op how many servers there are (we are one of them), then
 * publishes the encoded request and waits for one answer per other
 * server, or the table's timeout (SIO_ERR_TIMEOUT): COUNTING -> WAITING
 * -> DONE. No other server means done at once with nothing; a count that
 * fails means SIO_ERR_CLOSED (SIO_ERR_CANCELED when the driver is
 * closing). serverCount is done with the count itself. A broadcast with
 * acknowledgements (sio_adapter_req_send) is published at once and relays
 * answers to its sink until its own timeout, then calls done. A request
 * is freed once done, its count callback has returned and its timer has
 * closed. */

#include <sio/adapter.h>
#include <stdint.h>
#include <uv.h>

#include "sio_buf.h"
#include "sio_map.h"
#include "sio_pubsub.h"
#include "sio_queue.h"

enum {
  SIO_ADAPTER_REQ_FETCH, /* answers: arrays of socket objects */
  SIO_ADAPTER_REQ_ROOMS, /* answers: arrays of room names */
  SIO_ADAPTER_REQ_COUNT, /* no message: the count is the answer */
  SIO_ADAPTER_REQ_SSE,   /* answers: one value each */
  SIO_ADAPTER_REQ_BACK   /* broadcast acks: relayed to a sink */
};

typedef struct sio_adapter_req sio_adapter_req;

/* What differs between protocols. ud is the table's, ctx the request's
 * (the adapter's namespace record). */
typedef struct sio_adapter_req_ops {
  /* Counts the servers (PUBSUB NUMSUB, SHARDNUMSUB): 0 and cb(cb_ud, ...)
   * later exactly once, or an error and cb never fires. */
  int (*count)(void *ud, void *ctx, sio_pubsub_count_cb cb, void *cb_ud);
  /* Publishes an encoded request where the other servers read it. */
  int (*publish)(void *ud, void *ctx, const sio_buf *msg);
  /* Writes a fresh request id of the table's id_len characters and a NUL;
   * 0 or an error. */
  int (*new_id)(char *out);
} sio_adapter_req_ops;

typedef struct sio_adapter_req_table {
  const sio_adapter_req_ops *ops;
  void *ud;
  uv_loop_t *loop;
  size_t id_len;
  uint32_t timeout_ms; /* a counted request's */
  sio_map by_id;       /* id -> request not yet done */
  sio_queue reqs;      /* every request not yet freed */
  int closing;
  void (*closed)(void *arg);
  void *closed_arg;
} sio_adapter_req_table;

/* The public callback, by kind (sink for SIO_ADAPTER_REQ_BACK). */
typedef union sio_adapter_req_cb {
  sio_fetch_cb fetch;
  sio_rooms_cb rooms;
  sio_count_cb count;
  sio_server_ack_cb sse;
  const sio_adapter_ack_sink *sink;
} sio_adapter_req_cb;

/* Allocates nothing; ops and ud borrowed for the table's life. */
void sio_adapter_req_table_init(sio_adapter_req_table *t, uv_loop_t *loop,
                                const sio_adapter_req_ops *ops, void *ud,
                                size_t id_len, uint32_t timeout_ms);
/* Fires every pending callback with SIO_ERR_CANCELED (a sink's done),
 * then calls closed(arg) once every request is freed (possibly before
 * returning); the table may be freed from closed. */
void sio_adapter_req_table_close(sio_adapter_req_table *t,
                                 void (*closed)(void *arg), void *arg);

/* A request of kind for ns (its callbacks' namespace), registered under a
 * fresh id unless it is a SIO_ADAPTER_REQ_COUNT; NULL when out of memory
 * or out of ids. Nothing fires until it is started or sent (or the table
 * closes). */
sio_adapter_req *sio_adapter_req_new(sio_adapter_req_table *t, int kind,
                                     sio_namespace *ns, void *ctx,
                                     sio_adapter_req_cb cb, void *ud);
/* Its id ("" for SIO_ADAPTER_REQ_COUNT), kind, and the buffer to encode
 * the request into before starting or sending it. */
const char *sio_adapter_req_id(const sio_adapter_req *q);
int sio_adapter_req_kind(const sio_adapter_req *q);
sio_buf *sio_adapter_req_msg(sio_adapter_req *q);

/* Starts a counted request. encoded is what encoding the message
 * returned: on an error, as on a count that cannot start, q is freed
 * without firing and the error returned. */
int sio_adapter_req_start(sio_adapter_req *q, int encoded);
/* Publishes a SIO_ADAPTER_REQ_BACK now and arms its timeout; errors as
 * sio_adapter_req_start (a publish that fails among them). */
int sio_adapter_req_send(sio_adapter_req *q, int encoded, uint32_t timeout_ms);

/* The request not yet done under id, or NULL (late, or someone else's). */
sio_adapter_req *sio_adapter_req_find(sio_adapter_req_table *t, const char *id);
/* One server's answer (borrowed): the socket objects of a FETCH, the
 * room names of a ROOMS (other items skipped), the value of a SSE
 * (stored as is). The last one expected fires the callback. Ignored by
 * the other kinds. */
void sio_adapter_req_answer(sio_adapter_req *q, json_object *v);
/* A BACK's relays to its sink (ignored by the other kinds). */
void sio_adapter_req_ack_count(sio_adapter_req *q, size_t nclients);
void sio_adapter_req_ack(sio_adapter_req *q, json_object *arg,
                         const sio_bin *bins, size_t nbins);

#endif
