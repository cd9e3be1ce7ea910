#ifndef SIO_BROADCAST_H
#define SIO_BROADCAST_H

/* Outgoing packets, encoded once and shared by reference (DESIGN §11.10):
 * a sio_outpkt is the Engine.IO message of a Socket.IO packet ("4..." text,
 * in a sio_rcbuf) plus one binary rcbuf per attachment. A single emit, an
 * ack, a CONNECT reply and a broadcast to thousands of sockets all go
 * through it; eio_socket_send takes its own reference to each rcbuf, so the
 * bytes exist once however many sessions queue them.
 *
 * The local part of broadcasts is here too; the public
 * sio_namespace_broadcast() (src/socketio/sio_cluster.c) adds the cluster
 * fan-out on top. */

#include <json-c/json.h>
#include <stddef.h>
#include <stdint.h>

#include "eio_server.h"
#include "sio/adapter.h"
#include "sio/sio.h"
#include "sio_buf.h"
#include "sio_packet.h"
#include "sio_rcbuf.h"

#define SIO_OUTPKT_INLINE 4

typedef struct sio_outpkt {
  sio_rcbuf *head;  /* the text message, "4" prefix included (owned ref) */
  sio_rcbuf **atts; /* natts binary messages (owned refs) */
  size_t natts;
  size_t bytes; /* head + attachments, for the byte counters */
  sio_rcbuf *inline_atts[SIO_OUTPKT_INLINE];
} sio_outpkt;

/* Each encoder fills *p (fully on success, nothing owned on failure) using
 * scratch (emptied first; left with its storage for the next call) as the
 * text buffer. nsp NULL means "/"; every pointer argument is borrowed.
 * They return 0 or SIO_ERR_NOMEM. */

/* EVENT or, with nbins > 0, BINARY_EVENT [event, ...args]; id < 0: none. */
int sio_outpkt_event(sio_outpkt *p, sio_buf *scratch, const char *nsp,
                     int64_t id, const char *event, json_object *args,
                     const sio_bin *bins, size_t nbins);
/* The same for a broadcast event with offset appended to its arguments
 * (connection state recovery's form; no acknowledgement id). */
int sio_outpkt_event_offset(sio_outpkt *pkt, sio_buf *scratch,
                            const char *nsp, const char *event,
                            json_object *args, const sio_bin *bins,
                            size_t nbins, const char *offset);
/* ACK or, with nbins > 0, BINARY_ACK carrying args (NULL means []). */
int sio_outpkt_ack(sio_outpkt *p, sio_buf *scratch, const char *nsp, int64_t id,
                   json_object *args, const sio_bin *bins, size_t nbins);
/* CONNECT, DISCONNECT or CONNECT_ERROR with optional data. */
int sio_outpkt_control(sio_outpkt *p, sio_buf *scratch, sio_packet_type type,
                       const char *nsp, json_object *data);
/* A text packet already encoded (the Engine.IO message, "4" prefix
 * included), copied: a kept event read back from a cluster history. */
int sio_outpkt_from_text(sio_outpkt *p, const uint8_t *text, size_t len);
/* Makes dst a second holder of src's buffers (its own references; an
 * attachment array of its own when src's is not inline). Returns 0 or
 * SIO_ERR_NOMEM (dst owns nothing). */
int sio_outpkt_copy_ref(sio_outpkt *dst, const sio_outpkt *src);
/* Drops p's references. NULL-safe fields; p may be reused after. */
void sio_outpkt_release(sio_outpkt *p);

/* Queues the head then each attachment on es. Returns 0 or the first
 * eio_socket_send error: SIO_ERR_CLOSED, SIO_ERR_LIMIT or SIO_ERR_NOMEM.
 * When a failure comes after the head was queued the session's packet
 * stream is broken; *partial is set to 1 so the caller closes it. */
int sio_outpkt_send(const sio_outpkt *p, eio_socket *es, int *partial);

/* Delivers an event to this instance's selected sockets (o NULL: all;
 * SIO_BCAST_LOCAL changes nothing here), encoded once. Everything
 * borrowed. Returns the number of recipients, SIO_ERR_INVAL (event NULL or
 * reserved, bad arrays) or SIO_ERR_NOMEM. */
int sio_namespace_broadcast_local(sio_namespace *ns,
                                  const sio_broadcast_opts *o,
                                  const char *event, json_object *args,
                                  const sio_bin *bins, size_t nbins);
/* sio_namespace_broadcast on a server whose group relays (sio_group.h):
 * delivered here and handed, encoded once, to the other loops. Returns
 * what sio_namespace_broadcast_local returns. */
int sio_broadcast_shared(sio_namespace *ns, const sio_broadcast_opts *o,
                         const char *event, json_object *args,
                         const sio_bin *bins, size_t nbins);
/* Another loop's broadcast (sio_group_relay), on this loop: pkt to the
 * sockets o selects; kept under offset for recovery and under history_id
 * (kept, when not NULL) for replay, as this loop's own. Returns the
 * number of recipients. */
int sio_broadcast_relayed(sio_namespace *ns, const sio_broadcast_opts *o,
                          const sio_outpkt *pkt, const sio_outpkt *kept,
                          const char *offset, const char *history_id);
/* The same for sio_socket_emit with recovery on (o names the socket's id
 * room): never kept in the room history, as no room was addressed. In a
 * group that numbers recovery (sio_group_sequences) it is delivered when
 * its turn comes: then 0. */
int sio_broadcast_to_self(sio_namespace *ns, const sio_broadcast_opts *o,
                          const char *event, json_object *args,
                          const sio_bin *bins, size_t nbins);
/* sio_adapter_broadcast_local_ack, the same asking each recipient for an
 * acknowledgement, is public: <sio/adapter.h>. */

/* With SIO_ADAPTER_RECOVERY in force (sio_server_adapter_recovery) and a
 * broadcast recovery keeps (not local, not volatile): hands it to the
 * adapter, which delivers it here later with its offset (or delivers it
 * here at once without one when the adapter refuses it), sets *result (0,
 * the local count of that fallback, or SIO_ERR_INVAL) and returns 1.
 * Otherwise returns 0 and does nothing. (sio_cluster.c) */
int sio_cluster_recovery_broadcast(sio_namespace *ns,
                                   const sio_broadcast_opts *o,
                                   const char *event, json_object *args,
                                   const sio_bin *bins, size_t nbins,
                                   int *result);

#endif
