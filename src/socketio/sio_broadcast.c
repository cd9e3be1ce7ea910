/* sio_broadcast.c: outgoing packets encoded once, and namespace broadcasts.
 *
 * Role: turn an event, an ack or a control packet into the Engine.IO
 * messages that carry it (socket.io-protocol README, "Packet encoding": a
 * BINARY_EVENT / BINARY_ACK header announcing N attachments, then the N
 * attachments as binary messages) and hand those same buffers, by
 * reference, to one session or to every recipient of a broadcast. A
 * broadcast (the local part; sio_cluster.c adds the cluster) selects its
 * recipients through the namespace's room index
 * (union of rooms, minus except rooms, each socket once; the reference
 * in-memory adapter's semantics), skips sockets not yet or no longer
 * connected, and with SIO_BCAST_VOLATILE skips sessions that could not
 * send now (the reference drops volatile packets when the transport is
 * not writable).
 *
 * No state machine: an outpkt is built, sent any number of times and
 * released. */
#include "sio_broadcast.h"

#include <string.h>

#include "sio_client.h"
#include "sio_int.h"
#include "sio_log.h"
#include "sio_mem.h"
#include "sio_group.h"
#include "sio_history.h"
#include "sio_namespace.h"
#include "sio_replay.h"
#include "sio_server.h"
#include "sio_socket.h"

static void outpkt_zero(sio_outpkt *p) {
  p->head = NULL;
  p->atts = p->inline_atts;
  p->natts = 0;
  p->bytes = 0;
}

void sio_outpkt_release(sio_outpkt *p) {
  size_t i;
  sio_rcbuf_unref(p->head);
  for (i = 0; i < p->natts; i++)
    sio_rcbuf_unref(p->atts[i]);
  if (p->atts != p->inline_atts)
    sio_free(p->atts);
  outpkt_zero(p);
}

/* Copies the encoded header out of scratch and each attachment into its own
 * binary rcbuf. On failure p owns nothing. */
static int finish(sio_outpkt *p, const sio_buf *scratch, const sio_bin *bins,
                  size_t nbins) {
  size_t i;
  outpkt_zero(p);
  p->head = sio_rcbuf_new_copy(scratch->data, scratch->len);
  if (!p->head)
    return SIO_ERR_NOMEM;
  p->bytes = scratch->len;
  if (nbins > SIO_OUTPKT_INLINE) {
    if (nbins > SIZE_MAX / sizeof(*p->atts))
      goto fail;
    p->atts = sio_malloc(nbins * sizeof(*p->atts));
    if (!p->atts) {
      p->atts = p->inline_atts;
      goto fail;
    }
  }
  for (i = 0; i < nbins; i++) {
    sio_rcbuf *b = sio_rcbuf_new_copy(bins[i].data, bins[i].len);
    if (!b)
      goto fail;
    b->flags |= SIO_RCBUF_BINARY;
    p->atts[p->natts++] = b;
    p->bytes += bins[i].len;
  }
  return 0;
fail:
  sio_outpkt_release(p);
  return SIO_ERR_NOMEM;
}

int sio_outpkt_from_text(sio_outpkt *p, const uint8_t *text, size_t len) {
  outpkt_zero(p);
  p->head = sio_rcbuf_new_copy(text, len);
  if (!p->head)
    return SIO_ERR_NOMEM;
  p->bytes = len;
  return 0;
}

int sio_outpkt_copy_ref(sio_outpkt *dst, const sio_outpkt *src) {
  size_t i;
  *dst = *src;
  if (src->natts > SIO_ARRLEN(dst->inline_atts)) {
    dst->atts = sio_malloc(src->natts * sizeof(*dst->atts));
    if (!dst->atts) {
      outpkt_zero(dst);
      return SIO_ERR_NOMEM;
    }
  } else {
    dst->atts = dst->inline_atts;
  }
  sio_rcbuf_ref(dst->head);
  for (i = 0; i < src->natts; i++)
    dst->atts[i] = sio_rcbuf_ref(src->atts[i]);
  return 0;
}

int sio_outpkt_event(sio_outpkt *p, sio_buf *scratch, const char *nsp,
                     int64_t id, const char *event, json_object *args,
                     const sio_bin *bins, size_t nbins) {
  int rv;
  sio_buf_reset(scratch);
  rv = sio_packet_encode_event(scratch, 1, nsp, id, event, args, nbins);
  if (rv) {
    outpkt_zero(p);
    return rv;
  }
  return finish(p, scratch, bins, nbins);
}

int sio_outpkt_ack(sio_outpkt *p, sio_buf *scratch, const char *nsp, int64_t id,
                   json_object *args, const sio_bin *bins, size_t nbins) {
  int rv;
  sio_buf_reset(scratch);
  rv = sio_packet_encode_ack(scratch, 1, nsp, id, args, nbins);
  if (rv) {
    outpkt_zero(p);
    return rv;
  }
  return finish(p, scratch, bins, nbins);
}

int sio_outpkt_control(sio_outpkt *p, sio_buf *scratch, sio_packet_type type,
                       const char *nsp, json_object *data) {
  int rv;
  sio_buf_reset(scratch);
  rv = sio_packet_encode(scratch, 1, type, nsp, -1, 0, data);
  if (rv) {
    outpkt_zero(p);
    return rv;
  }
  return finish(p, scratch, NULL, 0);
}

int sio_outpkt_send(const sio_outpkt *p, eio_socket *es, int *partial) {
  size_t i;
  int rv;
  *partial = 0;
  rv = eio_socket_send(es, p->head);
  if (rv)
    return rv;
  for (i = 0; i < p->natts; i++) {
    rv = eio_socket_send(es, p->atts[i]);
    if (rv) {
      *partial = 1;
      return rv;
    }
  }
  return 0;
}

typedef struct bcast_ctx {
  const sio_outpkt *pkt;
  const char *history_id; /* the event's id in the room history, or NULL */
  int is_volatile;
  int to_self; /* sio_socket_emit: not a room broadcast */
  int relay;   /* to the other loops of the group too (sio_group.c) */
  /* the adapter keeps recovery (SIO_ADAPTER_RECOVERY): offset is the one
   * it gave (NULL: none could be had), nothing is stored here */
  int adapter_offset;
  const char *offset;
  size_t sent;
  /* with acknowledgements */
  sio_ack_cb cb;
  void *ud;
  int64_t id;
  uint32_t timeout_ms;
  uv_loop_t *loop;
} bcast_ctx;

/* One recipient. This runs once per socket of a broadcast, so it reads as
 * little as it can: the socket (its room slot, state and out pointer sit
 * together) and the session it writes to, not the client in between;
 * the server's counters are added once per broadcast, in bcast(). */
static void bcast_visit(sio_room_member *m, void *ud) {
  bcast_ctx *ctx = ud;
  sio_socket *s = sio_container_of(m, sio_socket, member);
  eio_socket *es = s->out;
  int partial, rv;
  if (s->state != SIO_SOCKET_CONNECTED || !es)
    return;
  if (s->replay && !ctx->cb &&
      sio_replay_hold(s, ctx->pkt, ctx->history_id, ctx->is_volatile))
    return;
  if (ctx->is_volatile && !eio_socket_writable(es))
    return;
  if (ctx->cb && sio_ack_table_add(&s->acks, ctx->loop, ctx->id,
                                   ctx->timeout_ms, s, ctx->cb, ctx->ud) != 0)
    return;
  rv = sio_outpkt_send(ctx->pkt, es, &partial);
  if (rv == 0) {
    ctx->sent++;
    return;
  }
  sio_client_send_failed(s->client, rv, partial);
  if (ctx->cb)
    sio_ack_table_discard(&s->acks, ctx->id); /* its cb never fires */
}

/* Stores kept, the event as a replay sends it, in its rooms' history:
 * the adapter's, shared by the cluster, when it keeps one, else this
 * instance's. A failure costs only the event's replay. */
static void keep_store(sio_namespace *ns, const sio_broadcast_opts *o,
                       const char *id, const sio_outpkt *kept) {
  sio_server *srv = ns->srv;
  int rv;
  if (srv->has_adapter && srv->adapter.history_append)
    rv = srv->adapter.history_append(
        srv->adapter_ud, ns, id, o->rooms, o->nrooms, kept->head->data,
        kept->head->len, ns->history_max_events, ns->history_max_age_ms);
  else
    rv = sio_history_append(ns->history, id, o->rooms, o->nrooms, kept,
                            uv_now(srv->loop));
  /* the cluster's bus down is reported by the adapter, once: not here
   * for every event it costs */
  if (rv == SIO_ERR_CLOSED)
    SIO_LOGD("event %s not kept for replay: %s", id, sio_strerror(rv));
  else if (rv && rv != SIO_ERR_EXISTS)
    SIO_LOGW("event %s not kept for replay: %s", id, sio_strerror(rv));
}

/* What the history keeps of pkt: pkt itself, or with recovery on (pkt
 * then carries an offset that means nothing to a replay) its own
 * encoding into *plain; NULL when it keeps nothing (the cluster's history
 * keeps text packets only) or the encoding failed (the event's replay is
 * lost, logged). */
static const sio_outpkt *keep_packet(sio_namespace *ns, const char *id,
                                     const char *event, json_object *args,
                                     const sio_bin *bins, size_t nbins,
                                     const sio_outpkt *pkt,
                                     sio_outpkt *plain) {
  sio_server *srv = ns->srv;
  int rv;
  if (srv->has_adapter && srv->adapter.history_append && nbins)
    return NULL;
  if (!ns->recovery)
    return pkt;
  rv = sio_outpkt_event(plain, sio_server_scratch(srv), ns->name, -1, event,
                        args, bins, nbins);
  if (rv) {
    SIO_LOGW("event %s not kept for replay: %s", id, sio_strerror(rv));
    return NULL;
  }
  return plain;
}

int sio_outpkt_event_offset(sio_outpkt *pkt, sio_buf *scratch,
                            const char *nsp, const char *event,
                            json_object *args, const sio_bin *bins,
                            size_t nbins, const char *offset) {
  json_object *tagged = json_object_new_array();
  size_t i, n = args ? json_object_array_length(args) : 0;
  int rv = tagged ? 0 : SIO_ERR_NOMEM;
  for (i = 0; i < n && !rv; i++)
    rv = json_object_array_add(
             tagged, json_object_get(json_object_array_get_idx(args, i)))
             ? SIO_ERR_NOMEM
             : 0;
  if (!rv) {
    json_object *off = json_object_new_string(offset);
    if (!off || json_object_array_add(tagged, off)) {
      json_object_put(off);
      rv = SIO_ERR_NOMEM;
    }
  }
  if (!rv)
    rv = sio_outpkt_event(pkt, scratch, nsp, -1, event, tagged, bins, nbins);
  json_object_put(tagged);
  return rv;
}

/* The packet cannot go to the other loops (out of memory): this loop
 * delivers it alone, counted. */
static void relay_failed(sio_namespace *ns, const char *event,
                         bcast_ctx *ctx) {
  ns->srv->relay_failures++;
  SIO_LOGW("broadcast %s on %s not shared with the other loops", event,
           ns->name);
  ctx->relay = 0;
}

static int bcast(sio_namespace *ns, const sio_broadcast_opts *o,
                 const char *event, json_object *args, const sio_bin *bins,
                 size_t nbins, bcast_ctx *ctx) {
  static const sio_broadcast_opts all = {NULL, 0, NULL, 0, 0};
  sio_outpkt pkt, plain;
  const sio_outpkt *kept = NULL;
  char offset[SIO_OFFSET_MAX];
  int rv, stored = 0, sequenced = 0;
  if (!ns || !event || (nbins && !bins) || sio_event_name_reserved(event, strlen(event)))
    return SIO_ERR_INVAL;
  if (!o)
    o = &all;
  if ((o->nrooms && !o->rooms) || (o->nexcept && !o->except))
    return SIO_ERR_INVAL;
  ctx->is_volatile = (o->flags & SIO_BCAST_VOLATILE) != 0;
  if (ctx->adapter_offset && ctx->offset) {
    rv = sio_outpkt_event_offset(&pkt, sio_server_scratch(ns->srv), ns->name,
                                 event, args, bins, nbins, ctx->offset);
    if (rv)
      return rv;
  } else if (ns->recovery && !ctx->adapter_offset &&
             !sio_server_adapter_recovery(ns->srv) && ctx->id < 0 &&
             !ctx->is_volatile) {
    /* Connection state recovery: the event carries an offset as its last
     * argument (what the client reports on reconnection) and is kept,
     * encoded, for the clients that miss it. Packets with an ack are not
     * kept, as in the reference: the ack could not be honoured later. */
    sequenced = ctx->relay; /* numbered by the group, for every loop */
    if (sequenced)
      sio_group_seq_begin(ns->srv, offset);
    else
      sio_recovery_next_offset(ns->recovery, offset);
    rv = sio_outpkt_event_offset(&pkt, sio_server_scratch(ns->srv), ns->name,
                                 event, args, bins, nbins, offset);
    if (rv) {
      if (sequenced)
        sio_group_seq_end(ns, o, NULL, NULL, NULL, NULL);
      return rv;
    }
    stored = 1;
  } else {
    rv = sio_outpkt_event(&pkt, sio_server_scratch(ns->srv), ns->name,
                          ctx->id, event, args, bins, nbins);
    if (rv)
      return rv;
  }
  /* shared before anything else holds it (sharing wants one holder) */
  if (ctx->relay && sio_group_share(ns->srv, &pkt))
    relay_failed(ns, event, ctx);
  ctx->history_id = NULL;
  if (ns->history && ctx->id < 0 && !ctx->is_volatile && !ctx->to_self &&
      o->nrooms) {
    ctx->history_id = ns->history_id(event, args, ns->history_ud);
    if (ctx->history_id)
      kept = keep_packet(ns, ctx->history_id, event, args, bins, nbins, &pkt,
                         &plain);
    if (kept == &plain && ctx->relay && sio_group_share(ns->srv, &plain))
      relay_failed(ns, event, ctx);
  }
  if (sequenced) {
    /* every loop, this one included, keeps and delivers it when its
     * letter comes, in the order of the offsets */
    sio_group_seq_end(ns, o, ctx->relay ? &pkt : NULL, kept, offset,
                      kept ? ctx->history_id : NULL);
    if (ctx->relay) {
      if (kept == &plain)
        sio_outpkt_release(&plain);
      sio_outpkt_release(&pkt);
      ns->srv->stats.broadcasts++;
      return 0;
    }
  }
  if (stored)
    sio_recovery_store(ns->recovery, offset, &pkt, o, uv_now(ns->srv->loop));
  if (kept)
    keep_store(ns, o, ctx->history_id, kept);
  if (ctx->relay)
    sio_group_relay(ns, o, &pkt, kept, NULL, kept ? ctx->history_id : NULL);
  if (kept == &plain)
    sio_outpkt_release(&plain);
  ctx->pkt = &pkt;
  ctx->sent = 0;
  sio_rooms_select(&ns->rooms, o->rooms, o->nrooms, o->except, o->nexcept,
                   bcast_visit, ctx);
  ns->srv->stats.packets_out += ctx->sent;
  ns->srv->stats.bytes_out += ctx->sent * pkt.bytes;
  sio_outpkt_release(&pkt);
  ns->srv->stats.broadcasts++;
  SIO_LOGD("broadcast %s on %s to %zu sockets", event, ns->name, ctx->sent);
  return ctx->sent > INT32_MAX ? INT32_MAX : (int)ctx->sent;
}

int sio_broadcast_shared(sio_namespace *ns, const sio_broadcast_opts *o,
                         const char *event, json_object *args,
                         const sio_bin *bins, size_t nbins) {
  bcast_ctx ctx;
  memset(&ctx, 0, sizeof(ctx));
  ctx.id = -1;
  ctx.relay = 1;
  return bcast(ns, o, event, args, bins, nbins, &ctx);
}

int sio_broadcast_relayed(sio_namespace *ns, const sio_broadcast_opts *o,
                          const sio_outpkt *pkt, const sio_outpkt *kept,
                          const char *offset, const char *history_id) {
  sio_server *srv = ns->srv;
  bcast_ctx ctx;
  memset(&ctx, 0, sizeof(ctx));
  ctx.id = -1;
  ctx.is_volatile = (o->flags & SIO_BCAST_VOLATILE) != 0;
  if (offset && ns->recovery)
    sio_recovery_store(ns->recovery, offset, pkt, o, uv_now(srv->loop));
  if (history_id && kept && ns->history) {
    keep_store(ns, o, history_id, kept);
    ctx.history_id = history_id;
  }
  ctx.pkt = pkt;
  sio_rooms_select(&ns->rooms, o->rooms, o->nrooms, o->except, o->nexcept,
                   bcast_visit, &ctx);
  srv->stats.packets_out += ctx.sent;
  srv->stats.bytes_out += ctx.sent * pkt->bytes;
  return ctx.sent > INT32_MAX ? INT32_MAX : (int)ctx.sent;
}

int sio_namespace_broadcast_local(sio_namespace *ns,
                                  const sio_broadcast_opts *o,
                                  const char *event, json_object *args,
                                  const sio_bin *bins, size_t nbins) {
  bcast_ctx ctx;
  memset(&ctx, 0, sizeof(ctx));
  ctx.id = -1;
  return bcast(ns, o, event, args, bins, nbins, &ctx);
}

int sio_adapter_deliver(sio_namespace *ns, const sio_broadcast_opts *o,
                        const char *event, json_object *args,
                        const sio_bin *bins, size_t nbins,
                        const char *offset) {
  bcast_ctx ctx;
  memset(&ctx, 0, sizeof(ctx));
  ctx.id = -1;
  ctx.adapter_offset = 1;
  ctx.offset = offset;
  return bcast(ns, o, event, args, bins, nbins, &ctx);
}

int sio_broadcast_to_self(sio_namespace *ns, const sio_broadcast_opts *o,
                          const char *event, json_object *args,
                          const sio_bin *bins, size_t nbins) {
  bcast_ctx ctx;
  memset(&ctx, 0, sizeof(ctx));
  ctx.id = -1;
  ctx.to_self = 1;
  /* kept by every loop, as the session may come back on any */
  ctx.relay = ns && sio_group_sequences(ns);
  return bcast(ns, o, event, args, bins, nbins, &ctx);
}

int sio_adapter_broadcast_local_ack(sio_namespace *ns,
                                      const sio_broadcast_opts *o,
                                      const char *event, json_object *args,
                                      const sio_bin *bins, size_t nbins,
                                      uint32_t timeout_ms, sio_ack_cb cb,
                                      void *ud) {
  bcast_ctx ctx;
  if (!ns || !cb)
    return SIO_ERR_INVAL;
  memset(&ctx, 0, sizeof(ctx));
  ctx.cb = cb;
  ctx.ud = ud;
  ctx.timeout_ms = timeout_ms;
  ctx.loop = ns->srv->loop;
  ctx.id = sio_ack_next_id(&ns->next_ack_id);
  return bcast(ns, o, event, args, bins, nbins, &ctx);
}
