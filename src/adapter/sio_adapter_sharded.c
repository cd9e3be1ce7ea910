/* sio_adapter_sharded.c: the socket.io sharded Redis adapter protocol
 * (createShardedAdapter of @socket.io/redis-adapter >= 8.2, built on the
 * ClusterAdapter of socket.io-adapter 2.5) as a libsio adapter, over the
 * sharded calls of the pub/sub driver interface (sio_pubsub.h).
 *
 * Role: the classic adapter's job (sio_adapter_redis.c) for a fleet on
 * Redis 7 sharded pub/sub, where PSUBSCRIBE does not exist and a channel
 * lives on one shard. Per namespace it SSUBSCRIBEs to
 *   <key>#<nsp>#          requests, and broadcasts to all / several rooms
 *   <key>#<nsp>#<uid>#    responses to us
 * and, in the dynamic modes, to <key>#<nsp>#<room># for each room with a
 * local member (public rooms in "dynamic", every room in
 * "dynamic-private"): subscribed when the room's first local member
 * joins, unsubscribed once it is empty. The namespace channel's
 * subscriber count (PUBSUB SHARDNUMSUB) is the reference's serverCount().
 *
 * Every message is the envelope {type, data, uid, nsp} of
 * sio_redis_msg.h, JSON unless it carries binary. Outgoing: a broadcast
 * without acknowledgements to exactly one room goes to that room's
 * channel when the mode gives the room one (in "dynamic", a name of 20
 * characters is taken for a socket id, as the reference does), anything
 * else to the namespace channel. socketsJoin/Leave and disconnectSockets
 * are published and applied locally at once (our own messages coming back
 * are ignored by uid); fetchSockets and serverSideEmit with
 * acknowledgements ask SHARDNUMSUB how many servers there are, publish the
 * request and wait for one answer per other server or the requests
 * timeout (sio_adapter_req.c, as in the classic adapter); broadcasts with
 * acknowledgements publish at once and collect BROADCAST_CLIENT_COUNT
 * and BROADCAST_ACK answers until their timeout.
 * allRooms has no message in this protocol: it answers for this server.
 *
 * Incoming: a message on our response channel is a response, whoever sent
 * it; on any other channel messages from our own uid or for another
 * namespace are dropped, requests are served with the in-memory answers
 * of sio_adapter.c and answered on the requester's response channel
 * <key>#<nsp>#<its uid>#. Heartbeat types (ClusterAdapterWithHeartbeat)
 * are ignored; malformed messages and the rest are counted and dropped.
 *
 * Room bookkeeping rides on the adapter's joined/left/disconnected hooks:
 * a socket that disconnects has already left its rooms when we hear of
 * it, so the namespace is marked and its subscribed rooms are swept for
 * empty ones on the next loop turn (one sweep however many sockets went).
 * A socket's own room is joined without the hook today, so in
 * "dynamic-private" it gets its channel only once libsio names it to the
 * joined hook at connection (the hook handles it: subscribed then, swept
 * at disconnect). */
#include "sio_adapter_sharded.h"

#include <string.h>

#include "sio_adapter_req.h"
#include "sio_crypto.h"
#include "sio_int.h"
#include "sio_log.h"
#include "sio_map.h"
#include "sio_mem.h"
#include "sio_queue.h"
#include "sio_redis_history.h"
#include "sio_redis_msg.h"

#define DEFAULT_REQUESTS_TIMEOUT 5000
#define ID_BYTES 8
#define ID_LEN (2 * ID_BYTES)
#define SOCKET_ID_LEN 20 /* the reference's looksLikeASocketId */

/* one namespace's channels */
typedef struct rns {
  sio_namespace *ns;
  char *chan;      /* "<key>#<nsp>#" */
  char *resp_chan; /* "<key>#<nsp>#<uid>#" */
  sio_map rooms;   /* room -> rns: rooms whose channel we subscribed */
  int sweep;       /* a socket disconnected: look for emptied rooms */
} rns;

/* a BROADCAST with acks from another server, being answered by our
 * clients: one reference per client asked */
typedef struct rback {
  sio_queue link;
  sio_adapter_sharded *a; /* NULL once the adapter closed */
  rns *r;
  int refs;
  char *to; /* the requester's response channel */
  char request_id[];
} rback;

struct sio_adapter_sharded {
  sio_server *srv;
  uv_loop_t *loop;
  const sio_pubsub_ops *ops;
  void *drv;
  char *key;
  sio_sharded_mode mode;
  char uid[ID_LEN + 1];
  uint32_t requests_timeout;
  sio_map by_nsp;     /* namespace name -> rns */
  sio_map by_channel; /* every subscribed channel -> rns */
  sio_adapter_req_table reqs;
  sio_queue rbacks;
  uv_timer_t sweep_timer;
  sio_buf scratch;
  sio_buf chan;
  sio_adapter_stats stats;
  sio_adapter_sharded_counts counts;
  sio_adapter_streams *st; /* the streams mode's stream, else NULL */
  int plain_pubsub;        /* PUBLISH / SUBSCRIBE / NUMSUB */
  int closing;
  int outstanding; /* while closing: the requests, the sweep timer, the
                    * driver */
  void (*done)(void *arg);
  void *done_arg;
};

/* ------------------------------------------------------------- helpers */

static int random_id(char out[ID_LEN + 1]) {
  static const char hex[] = "0123456789abcdef";
  uint8_t rnd[ID_BYTES];
  size_t i;
  if (sio_random_bytes(rnd, sizeof(rnd)))
    return SIO_ERR_IO;
  for (i = 0; i < ID_BYTES; i++) {
    out[2 * i] = hex[rnd[i] >> 4];
    out[2 * i + 1] = hex[rnd[i] & 15];
  }
  out[ID_LEN] = 0;
  return 0;
}

static int sub_kind(const sio_adapter_sharded *a) {
  return a->plain_pubsub ? SIO_PUBSUB_CHANNEL : SIO_PUBSUB_SHARD;
}

/* The streams mode: a non-ephemeral message goes on the stream. With
 * recovery on, a broadcast libsio left to us (not volatile) must reach
 * this instance's sockets even when the append fails. */
static int to_stream(sio_adapter_sharded *a, sio_namespace *ns,
                     const sio_broadcast_opts *o) {
  int ours = ns && sio_server_recovery(a->srv) &&
             !(o && (o->flags & SIO_BCAST_VOLATILE));
  int rv = sio_adapter_streams_append(a->st, &a->scratch, ours ? ns : NULL);
  if (rv == 0) {
    a->stats.messages_out++;
  } else {
    a->stats.dropped++;
    SIO_LOGD("streams: append dropped: %s", sio_err_name(rv));
  }
  return rv;
}

static rns *rns_of(sio_adapter_sharded *a, sio_namespace *ns) {
  return sio_map_get(&a->by_nsp, sio_namespace_name(ns),
                     strlen(sio_namespace_name(ns)));
}

/* SPUBLISHes msg on channel, counting it. */
static int publish(sio_adapter_sharded *a, const char *channel,
                   const sio_buf *msg) {
  int rv = (a->plain_pubsub ? a->ops->publish : a->ops->spublish)(
      a->drv, channel, (const uint8_t *)msg->data, msg->len);
  if (rv == 0) {
    a->stats.messages_out++;
  } else {
    a->stats.dropped++;
    SIO_LOGD("sharded: publish on %s dropped: %s", channel, sio_err_name(rv));
  }
  return rv;
}

/* The length of s as JavaScript counts it (UTF-16 code units), which is
 * what the reference's socket id test looks at. */
static size_t js_length(const char *s) {
  size_t n = 0;
  const unsigned char *p;
  for (p = (const unsigned char *)s; *p; p++) {
    if ((*p & 0xc0) == 0x80)
      continue; /* continuation byte */
    n += *p >= 0xf0 ? 2 : 1;
  }
  return n;
}

/* Publishes a->scratch on the response channel of the server with uid. */
static void answer(sio_adapter_sharded *a, rns *r, const char *uid) {
  sio_buf_reset(&a->chan);
  if (sio_redis_channel(&a->chan, a->key, sio_namespace_name(r->ns), uid) == 0)
    publish(a, a->chan.data, &a->scratch);
}

static void opts_from(sio_broadcast_opts *o, const sio_redis_opts *ro) {
  o->rooms = ro->rooms.v;
  o->nrooms = ro->rooms.n;
  o->except = ro->except.v;
  o->nexcept = ro->except.n;
  o->flags = ro->flags & SIO_BCAST_VOLATILE;
}

/* ------------------------------------------------------------- requests */

/* the requests are counted with SHARDNUMSUB on, and published to, the
 * namespace channel */
static int req_count(void *ud, void *ctx, sio_pubsub_count_cb cb, void *cb_ud) {
  sio_adapter_sharded *a = ud;
  rns *r = ctx;
  return (a->plain_pubsub ? a->ops->numsub : a->ops->shardnumsub)(
      a->drv, r->chan, cb, cb_ud);
}

static int req_publish(void *ud, void *ctx, const sio_buf *msg) {
  return publish(ud, ((rns *)ctx)->chan, msg);
}

static const sio_adapter_req_ops req_ops = {req_count, req_publish, random_id};

static sio_adapter_req *req_new(sio_adapter_sharded *a, rns *r, int kind,
                                sio_adapter_req_cb cb, void *ud) {
  return sio_adapter_req_new(&a->reqs, kind, r->ns, r, cb, ud);
}

/* ----------------------------------------------------------- responses */

static void on_response(sio_adapter_sharded *a, sio_redis_cluster_msg *m) {
  sio_adapter_req *q = sio_adapter_req_find(&a->reqs, m->request_id);
  int kind;
  if (!q) {
    a->counts.ignored++; /* late, or someone else's */
    return;
  }
  kind = sio_adapter_req_kind(q);
  switch (m->type) {
  case SIO_REDIS_CLUSTER_BROADCAST_CLIENT_COUNT:
    if (kind != SIO_ADAPTER_REQ_BACK)
      break;
    sio_adapter_req_ack_count(q, (size_t)m->client_count);
    return;
  case SIO_REDIS_CLUSTER_BROADCAST_ACK:
    if (kind != SIO_ADAPTER_REQ_BACK)
      break;
    sio_adapter_req_ack(q, m->answer, m->root.bins, m->root.nbins);
    return;
  case SIO_REDIS_CLUSTER_FETCH_SOCKETS_RESPONSE:
    if (kind != SIO_ADAPTER_REQ_FETCH)
      break;
    sio_adapter_req_answer(q, m->sockets);
    return;
  case SIO_REDIS_CLUSTER_SERVER_SIDE_EMIT_RESPONSE:
    if (kind != SIO_ADAPTER_REQ_SSE)
      break;
    sio_adapter_req_answer(q, m->answer);
    return;
  default:
    break;
  }
  a->counts.ignored++; /* a response of the wrong kind */
}

/* ------------------------------------------------------------ requests in */

static void rback_put(rback *b) {
  if (--b->refs > 0)
    return;
  if (b->a)
    sio_queue_remove(&b->link);
  sio_free(b->to);
  sio_free(b);
}

static void rback_ack(sio_socket *s, int status, json_object *args,
                      const sio_bin *bins, size_t nbins, void *ud) {
  rback *b = ud;
  (void)s;
  if (status == 0 && b->a) {
    sio_adapter_sharded *a = b->a;
    json_object *first = args ? json_object_array_get_idx(args, 0) : NULL;
    sio_buf_reset(&a->scratch);
    if (sio_redis_encode_cluster_answer(&a->scratch,
                                        SIO_REDIS_CLUSTER_BROADCAST_ACK, a->uid,
                                        sio_namespace_name(b->r->ns),
                                        b->request_id, first, bins, nbins) == 0)
      publish(a, b->to, &a->scratch);
  }
  rback_put(b);
}

/* BROADCAST with acks from another server: deliver asking our clients for
 * acks, tell the requester how many we asked, relay each answer. */
static void serve_broadcast(sio_adapter_sharded *a, rns *r,
                            sio_redis_cluster_msg *m) {
  size_t idlen = strlen(m->request_id);
  sio_broadcast_opts o;
  uint32_t timeout;
  rback *b;
  int n;
  b = sio_malloc(sizeof(*b) + idlen + 1);
  if (!b)
    return;
  memcpy(b->request_id, m->request_id, idlen + 1);
  sio_buf_reset(&a->chan);
  b->to = sio_redis_channel(&a->chan, a->key, sio_namespace_name(r->ns), m->uid)
              ? NULL
              : sio_strndup(a->chan.data, a->chan.len);
  if (!b->to) {
    sio_free(b);
    return;
  }
  b->a = a;
  b->r = r;
  b->refs = 1;
  sio_queue_insert_tail(&a->rbacks, &b->link);
  opts_from(&o, &m->opts);
  timeout = m->opts.timeout > 0 && m->opts.timeout < UINT32_MAX
                ? (uint32_t)m->opts.timeout
                : a->requests_timeout;
  n = sio_adapter_broadcast_local_ack(r->ns, &o, m->packet.event,
                                      m->packet.args, m->root.bins,
                                      m->root.nbins, timeout, rback_ack, b);
  if (n >= 0) {
    b->refs += n;
    sio_buf_reset(&a->scratch);
    if (sio_redis_encode_cluster_client_count(&a->scratch, a->uid,
                                              sio_namespace_name(r->ns),
                                              m->request_id, (uint64_t)n) == 0)
      publish(a, b->to, &a->scratch);
  }
  rback_put(b);
}

static void serve(sio_adapter_sharded *a, rns *r, sio_redis_cluster_msg *m) {
  sio_broadcast_opts o;
  json_object *v;
  opts_from(&o, &m->opts);
  switch (m->type) {
  case SIO_REDIS_CLUSTER_BROADCAST:
    if (m->request_id) {
      if (!m->uid)
        break; /* nobody to answer */
      serve_broadcast(a, r, m);
      return;
    }
    o.flags |= SIO_BCAST_LOCAL;
    if (sio_namespace_broadcast(r->ns, &o, m->packet.event, m->packet.args,
                                m->root.bins, m->root.nbins) < 0)
      SIO_LOGD("sharded: broadcast %s on %s not delivered", m->packet.event,
               sio_namespace_name(r->ns));
    return;
  case SIO_REDIS_CLUSTER_SOCKETS_JOIN:
  case SIO_REDIS_CLUSTER_SOCKETS_LEAVE:
    o.flags = 0;
    sio_adapter_apply_rooms(r->ns, &o, m->rooms.v, m->rooms.n,
                            m->type == SIO_REDIS_CLUSTER_SOCKETS_LEAVE);
    return;
  case SIO_REDIS_CLUSTER_DISCONNECT_SOCKETS:
    o.flags = 0;
    sio_adapter_apply_disconnect(r->ns, &o, m->close);
    return;
  case SIO_REDIS_CLUSTER_FETCH_SOCKETS:
    if (!m->uid)
      break;
    o.flags = 0;
    v = sio_adapter_local_sockets(r->ns, &o, NULL, NULL);
    sio_buf_reset(&a->scratch);
    if (v && sio_redis_encode_cluster_answer(
                 &a->scratch, SIO_REDIS_CLUSTER_FETCH_SOCKETS_RESPONSE, a->uid,
                 sio_namespace_name(r->ns), m->request_id, v, NULL, 0) == 0)
      answer(a, r, m->uid);
    json_object_put(v);
    return;
  case SIO_REDIS_CLUSTER_SERVER_SIDE_EMIT: {
    json_object *ack = NULL;
    if (!m->request_id) {
      sio_adapter_server_event(r->ns, m->sse, 0, NULL);
      return;
    }
    if (!m->uid)
      break;
    if (sio_adapter_server_event(r->ns, m->sse, 1, &ack)) {
      sio_buf_reset(&a->scratch);
      if (sio_redis_encode_cluster_answer(
              &a->scratch, SIO_REDIS_CLUSTER_SERVER_SIDE_EMIT_RESPONSE, a->uid,
              sio_namespace_name(r->ns), m->request_id, ack, NULL, 0) == 0)
        answer(a, r, m->uid);
      json_object_put(ack);
    }
    return;
  }
  case SIO_REDIS_CLUSTER_FETCH_SOCKETS_RESPONSE:
  case SIO_REDIS_CLUSTER_SERVER_SIDE_EMIT_RESPONSE:
  case SIO_REDIS_CLUSTER_BROADCAST_CLIENT_COUNT:
  case SIO_REDIS_CLUSTER_BROADCAST_ACK:
    on_response(a, m); /* the reference accepts them anywhere */
    return;
  case SIO_REDIS_CLUSTER_INITIAL_HEARTBEAT:
  case SIO_REDIS_CLUSTER_HEARTBEAT:
  case SIO_REDIS_CLUSTER_ADAPTER_CLOSE:
    return; /* ClusterAdapterWithHeartbeat's, not this protocol's */
  default:
    SIO_LOGD("sharded: message type %d on %s ignored", m->type, r->chan);
    break;
  }
  a->counts.ignored++;
}

/* An entry of the stream (streams mode), in the stream's order. With
 * recovery on, broadcasts are delivered with their entry id as offset,
 * ours too (libsio left them to the stream); otherwise ours were
 * delivered when made, as the rest of our own messages were applied. */
static void on_entry(void *ud, const char *id, sio_redis_cluster_msg *m) {
  sio_adapter_sharded *a = ud;
  int own = m->uid && strcmp(m->uid, a->uid) == 0;
  rns *r;
  if (a->closing)
    return;
  a->stats.messages_in++;
  r = m->nsp ? sio_map_get(&a->by_nsp, m->nsp, strlen(m->nsp)) : NULL;
  if (!r) {
    a->counts.ignored++; /* a namespace this server does not serve */
    return;
  }
  if (m->type == SIO_REDIS_CLUSTER_BROADCAST && !m->request_id &&
      sio_server_recovery(a->srv) &&
      !(m->opts.flags & SIO_BCAST_VOLATILE)) {
    sio_broadcast_opts o;
    opts_from(&o, &m->opts);
    if (sio_adapter_deliver(r->ns, &o, m->packet.event, m->packet.args,
                            m->root.bins, m->root.nbins, id) < 0)
      SIO_LOGD("streams: broadcast %s on %s not delivered", m->packet.event,
               sio_namespace_name(r->ns));
    return;
  }
  if (!own)
    serve(a, r, m);
}

static void drv_message(void *ud, const char *pattern, const char *channel,
                        const uint8_t *data, size_t len) {
  sio_adapter_sharded *a = ud;
  sio_redis_cluster_msg m;
  rns *r;
  if (a->closing || pattern)
    return;
  a->stats.messages_in++;
  r = sio_map_get(&a->by_channel, channel, strlen(channel));
  if (!r)
    return;
  if (sio_redis_cluster_decode(&m, data, len, NULL)) {
    a->counts.malformed++;
    SIO_LOGD("sharded: malformed message on %s ignored", channel);
    return;
  }
  if (strcmp(channel, r->resp_chan) == 0) {
    on_response(a, &m);
  } else if (m.uid && strcmp(m.uid, a->uid) == 0) {
    /* our own: already applied or being collected */
  } else if (!m.nsp || strcmp(m.nsp, sio_namespace_name(r->ns)) != 0) {
    a->counts.ignored++;
  } else {
    serve(a, r, &m);
  }
  sio_redis_cluster_clear(&m);
}

static void drv_state(void *ud, int ready) {
  sio_adapter_sharded *a = ud;
  if (a->st && !a->closing)
    sio_adapter_streams_state(a->st, ready);
  if (a->stats.connected == ready)
    return;
  a->stats.connected = ready;
  if (ready)
    SIO_LOGI("%s: connected, cluster delivery on", a->st ? "streams" : "sharded");
  else
    SIO_LOGW("%s: connection lost, local delivery only until it returns",
             a->st ? "streams" : "sharded");
}

/* ---------------------------------------------------------- room channels */

/* Whether room gets a channel of its own in this mode (the reference's
 * shouldUseASeparateNamespace: a room is private when it is one of our
 * socket ids). */
static int room_has_channel(sio_adapter_sharded *a, rns *r, const char *room) {
  if (a->mode == SIO_SHARDED_DYNAMIC_PRIVATE)
    return 1;
  if (a->mode != SIO_SHARDED_DYNAMIC)
    return 0;
  return sio_adapter_find_socket(r->ns, room) == NULL;
}

static void room_subscribe(sio_adapter_sharded *a, rns *r, const char *room) {
  size_t len = strlen(room);
  int rv;
  if (sio_map_get(&r->rooms, room, len) || !room_has_channel(a, r, room))
    return;
  sio_buf_reset(&a->chan);
  rv = sio_redis_channel(&a->chan, a->key, sio_namespace_name(r->ns), room);
  if (!rv && sio_map_get(&a->by_channel, a->chan.data, a->chan.len)) {
    /* the name of one of our channels already (a room named like our uid,
     * or a namespace with '#' in its name): its messages would be taken
     * for that channel's */
    SIO_LOGW("sharded: room %s of %s shares channel %s, not subscribed", room,
             sio_namespace_name(r->ns), a->chan.data);
    return;
  }
  if (!rv)
    rv = sio_map_put(&r->rooms, room, len, r);
  if (!rv) {
    rv = sio_map_put(&a->by_channel, a->chan.data, a->chan.len, r);
    if (!rv)
      rv = a->ops->subscribe(a->drv, a->chan.data, SIO_PUBSUB_SHARD);
    if (rv) {
      sio_map_remove(&a->by_channel, a->chan.data, a->chan.len);
      sio_map_remove(&r->rooms, room, len);
    }
  }
  if (rv)
    SIO_LOGW("sharded: room %s of %s not subscribed: %s", room,
             sio_namespace_name(r->ns), sio_err_name(rv));
}

/* Ends the subscription of an emptied room (kept when the driver cannot
 * unsubscribe: messages to an empty room deliver nothing). */
static void room_unsubscribe(sio_adapter_sharded *a, rns *r, const char *room,
                             size_t len) {
  if (!a->ops->unsubscribe)
    return;
  sio_buf_reset(&a->chan);
  if (sio_redis_channel(&a->chan, a->key, sio_namespace_name(r->ns), room) ||
      a->ops->unsubscribe(a->drv, a->chan.data, SIO_PUBSUB_SHARD))
    return;
  sio_map_remove(&a->by_channel, a->chan.data, a->chan.len);
  sio_map_remove(&r->rooms, room, len);
}

static void room_maybe_unsubscribe(sio_adapter_sharded *a, rns *r,
                                   const char *room, size_t len) {
  if (sio_map_get(&r->rooms, room, len) &&
      !sio_adapter_room_has_members(r->ns, room, len))
    room_unsubscribe(a, r, room, len);
}

static void ad_joined(void *ad, sio_socket *s, const char *room) {
  sio_adapter_sharded *a = ad;
  rns *r = rns_of(a, sio_socket_namespace(s));
  if (r && !a->closing)
    room_subscribe(a, r, room);
}

static void ad_left(void *ad, sio_socket *s, const char *room) {
  sio_adapter_sharded *a = ad;
  rns *r = rns_of(a, sio_socket_namespace(s));
  if (r && !a->closing)
    room_maybe_unsubscribe(a, r, room, strlen(room));
}

/* The emptied rooms of r, unsubscribed (names copied first: the map may
 * not change while it is walked). */
static void sweep_rns(sio_adapter_sharded *a, rns *r) {
  size_t it = 0, n = 0, i;
  const sio_map_entry *e;
  char **empty;
  r->sweep = 0;
  if (sio_map_count(&r->rooms) == 0)
    return;
  empty = sio_malloc(sio_map_count(&r->rooms) * sizeof(*empty));
  if (!empty)
    return;
  while (sio_map_next(&r->rooms, &it, &e))
    if (!sio_adapter_room_has_members(r->ns, e->key, e->keylen)) {
      empty[n] = sio_strndup(e->key, e->keylen);
      if (empty[n])
        n++;
    }
  for (i = 0; i < n; i++) {
    room_unsubscribe(a, r, empty[i], strlen(empty[i]));
    sio_free(empty[i]);
  }
  sio_free(empty);
}

static void sweep(uv_timer_t *t) {
  sio_adapter_sharded *a = t->data;
  size_t it = 0;
  const sio_map_entry *e;
  while (sio_map_next(&a->by_nsp, &it, &e)) {
    rns *r = e->val;
    if (r->sweep)
      sweep_rns(a, r);
  }
}

static void ad_disconnected(void *ad, sio_socket *s) {
  sio_adapter_sharded *a = ad;
  rns *r = rns_of(a, sio_socket_namespace(s));
  if (!r || a->closing || sio_map_count(&r->rooms) == 0)
    return;
  r->sweep = 1;
  if (!uv_is_active((uv_handle_t *)&a->sweep_timer))
    uv_timer_start(&a->sweep_timer, sweep, 0, 0);
}

/* ---------------------------------------------------------- adapter ops */

static void rns_free(rns *r) {
  if (!r)
    return;
  sio_map_deinit(&r->rooms);
  sio_free(r->chan);
  sio_free(r->resp_chan);
  sio_free(r);
}

static char *chan_copy(sio_buf *b, int rv) {
  char *s = rv ? NULL : sio_strndup(b->data, b->len);
  sio_buf_reset(b);
  return s;
}

static int ad_nsp_open(void *ad, sio_namespace *ns) {
  sio_adapter_sharded *a = ad;
  rns *r;
  int rv;
  if (rns_of(a, ns))
    return 0;
  r = sio_calloc(1, sizeof(*r));
  if (!r)
    return SIO_ERR_NOMEM;
  r->ns = ns;
  sio_map_init(&r->rooms);
  sio_buf_reset(&a->chan);
  r->chan =
      chan_copy(&a->chan, sio_redis_channel(&a->chan, a->key,
                                            sio_namespace_name(ns), NULL));
  r->resp_chan =
      chan_copy(&a->chan, sio_redis_channel(&a->chan, a->key,
                                            sio_namespace_name(ns), a->uid));
  if (!r->chan || !r->resp_chan) {
    rns_free(r);
    return SIO_ERR_NOMEM;
  }
  rv = sio_map_put(&a->by_nsp, sio_namespace_name(ns),
                   strlen(sio_namespace_name(ns)), r);
  if (rv) {
    rns_free(r);
    return rv;
  }
  /* the maps borrow r; it lives until the adapter is freed */
  if (sio_map_put(&a->by_channel, r->chan, strlen(r->chan), r) ||
      sio_map_put(&a->by_channel, r->resp_chan, strlen(r->resp_chan), r))
    return SIO_ERR_NOMEM; /* freed with the adapter through by_nsp */
  rv = a->ops->subscribe(a->drv, r->chan, sub_kind(a));
  if (!rv)
    rv = a->ops->subscribe(a->drv, r->resp_chan, sub_kind(a));
  return rv;
}

static int ad_broadcast(void *ad, sio_namespace *ns,
                        const sio_broadcast_opts *o, const char *event,
                        json_object *args, const sio_bin *bins, size_t nbins) {
  sio_adapter_sharded *a = ad;
  rns *r = rns_of(a, ns);
  const char *channel;
  int rv;
  if (!r)
    return SIO_ERR_STATE;
  sio_buf_reset(&a->scratch);
  rv = sio_redis_encode_cluster_bcast(&a->scratch, a->uid,
                                      sio_namespace_name(ns), NULL, event, args,
                                      bins, nbins, o, -1);
  if (rv)
    return rv;
  if (a->st)
    return to_stream(a, ns, o);
  channel = r->chan;
  if (o && o->nrooms == 1 &&
      (a->mode == SIO_SHARDED_DYNAMIC_PRIVATE ||
       (a->mode == SIO_SHARDED_DYNAMIC &&
        js_length(o->rooms[0]) != SOCKET_ID_LEN))) {
    sio_buf_reset(&a->chan);
    rv = sio_redis_channel(&a->chan, a->key, sio_namespace_name(ns),
                           o->rooms[0]);
    if (rv)
      return rv;
    channel = a->chan.data;
  }
  return publish(a, channel, &a->scratch);
}

static int ad_broadcast_ack(void *ad, sio_namespace *ns,
                            const sio_broadcast_opts *o, const char *event,
                            json_object *args, const sio_bin *bins,
                            size_t nbins, uint32_t timeout_ms,
                            const sio_adapter_ack_sink *sink, void *ud) {
  sio_adapter_sharded *a = ad;
  rns *r = rns_of(a, ns);
  sio_adapter_req *q;
  if (!r)
    return SIO_ERR_STATE;
  if (!a->ops->ready(a->drv))
    return SIO_ERR_CLOSED;
  q = req_new(a, r, SIO_ADAPTER_REQ_BACK, (sio_adapter_req_cb){.sink = sink},
              ud);
  if (!q)
    return SIO_ERR_NOMEM;
  /* always the namespace channel: the server count covers every server,
   * not only those with members in the room */
  return sio_adapter_req_send(q,
                              sio_redis_encode_cluster_bcast(
                                  sio_adapter_req_msg(q), a->uid,
                                  sio_namespace_name(ns), sio_adapter_req_id(q),
                                  event, args, bins, nbins, o, timeout_ms),
                              timeout_ms);
}

static int rooms_op(sio_adapter_sharded *a, sio_namespace *ns, int type,
                    const sio_broadcast_opts *o, const char *const *rooms,
                    size_t nrooms) {
  rns *r = rns_of(a, ns);
  int rv;
  if (!r)
    return SIO_ERR_STATE;
  sio_buf_reset(&a->scratch);
  rv = sio_redis_encode_cluster_rooms(&a->scratch, type, a->uid,
                                      sio_namespace_name(ns), o, rooms, nrooms);
  if (!rv && a->st)
    return to_stream(a, NULL, NULL);
  return rv ? rv : publish(a, r->chan, &a->scratch);
}

static int ad_sockets_join(void *ad, sio_namespace *ns,
                           const sio_broadcast_opts *o,
                           const char *const *rooms, size_t nrooms) {
  return rooms_op(ad, ns, SIO_REDIS_CLUSTER_SOCKETS_JOIN, o, rooms, nrooms);
}

static int ad_sockets_leave(void *ad, sio_namespace *ns,
                            const sio_broadcast_opts *o,
                            const char *const *rooms, size_t nrooms) {
  return rooms_op(ad, ns, SIO_REDIS_CLUSTER_SOCKETS_LEAVE, o, rooms, nrooms);
}

static int ad_disconnect_sockets(void *ad, sio_namespace *ns,
                                 const sio_broadcast_opts *o,
                                 int close_transport) {
  sio_adapter_sharded *a = ad;
  rns *r = rns_of(a, ns);
  int rv;
  if (!r)
    return SIO_ERR_STATE;
  sio_buf_reset(&a->scratch);
  rv = sio_redis_encode_cluster_disconnect(
      &a->scratch, a->uid, sio_namespace_name(ns), o, close_transport);
  if (!rv && a->st)
    return to_stream(a, NULL, NULL);
  return rv ? rv : publish(a, r->chan, &a->scratch);
}

static int ad_fetch_sockets(void *ad, sio_namespace *ns,
                            const sio_broadcast_opts *o, sio_fetch_cb cb,
                            void *ud) {
  sio_adapter_sharded *a = ad;
  rns *r = rns_of(a, ns);
  sio_adapter_req *q;
  if (!r)
    return SIO_ERR_STATE;
  q = req_new(a, r, SIO_ADAPTER_REQ_FETCH, (sio_adapter_req_cb){.fetch = cb},
              ud);
  if (!q)
    return SIO_ERR_NOMEM;
  return sio_adapter_req_start(
      q, sio_redis_encode_cluster_fetch(sio_adapter_req_msg(q), a->uid,
                                        sio_namespace_name(ns),
                                        sio_adapter_req_id(q), o));
}

static int ad_server_count(void *ad, sio_namespace *ns, sio_count_cb cb,
                           void *ud) {
  sio_adapter_sharded *a = ad;
  rns *r = rns_of(a, ns);
  sio_adapter_req *q;
  if (!r)
    return SIO_ERR_STATE;
  q = req_new(a, r, SIO_ADAPTER_REQ_COUNT, (sio_adapter_req_cb){.count = cb},
              ud);
  if (!q)
    return SIO_ERR_NOMEM;
  return sio_adapter_req_start(q, 0);
}

static int ad_server_side_emit(void *ad, sio_namespace *ns, const char *event,
                               json_object *args, sio_server_ack_cb cb,
                               void *ud) {
  sio_adapter_sharded *a = ad;
  rns *r = rns_of(a, ns);
  sio_adapter_req *q;
  int rv;
  if (!r)
    return SIO_ERR_STATE;
  if (!cb) {
    sio_buf_reset(&a->scratch);
    rv = sio_redis_encode_cluster_sse(
        &a->scratch, a->uid, sio_namespace_name(ns), NULL, event, args);
    return rv ? rv : publish(a, r->chan, &a->scratch);
  }
  q = req_new(a, r, SIO_ADAPTER_REQ_SSE, (sio_adapter_req_cb){.sse = cb}, ud);
  if (!q)
    return SIO_ERR_NOMEM;
  return sio_adapter_req_start(
      q, sio_redis_encode_cluster_sse(sio_adapter_req_msg(q), a->uid,
                                      sio_namespace_name(ns),
                                      sio_adapter_req_id(q), event, args));
}

static void ad_stats(void *ad, sio_adapter_stats *out) {
  sio_adapter_sharded *a = ad;
  *out = a->stats;
  if (a->ops->latency_us)
    out->latency_us = a->ops->latency_us(a->drv);
}

/* Frees everything once every request timer, the sweep timer and the
 * driver have closed, then tells the server. */
static void final_step(sio_adapter_sharded *a) {
  size_t it = 0;
  const sio_map_entry *e;
  void (*done)(void *);
  void *arg;
  if (!a->closing || a->outstanding > 0)
    return;
  while (sio_map_next(&a->by_nsp, &it, &e))
    rns_free(e->val);
  sio_map_deinit(&a->by_nsp);
  sio_map_deinit(&a->by_channel);
  sio_buf_deinit(&a->scratch);
  sio_buf_deinit(&a->chan);
  sio_adapter_streams_free(a->st);
  sio_free(a->key);
  done = a->done;
  arg = a->done_arg;
  sio_free(a);
  if (done)
    done(arg);
}

/* the requests or the driver, closed */
static void part_closed(void *arg) {
  sio_adapter_sharded *a = arg;
  a->outstanding--;
  final_step(a);
}

static void sweep_closed(uv_handle_t *h) {
  sio_adapter_sharded *a = h->data;
  a->outstanding--;
  final_step(a);
}

static void ad_close(void *ad, void (*done)(void *arg), void *arg) {
  sio_adapter_sharded *a = ad;
  if (a->closing)
    return;
  a->closing = 1;
  a->done = done;
  a->done_arg = arg;
  a->outstanding++; /* held while starting */
  a->outstanding++; /* the requests, canceled */
  sio_adapter_req_table_close(&a->reqs, part_closed, a);
  while (!sio_queue_empty(&a->rbacks)) {
    rback *b = sio_container_of(sio_queue_head(&a->rbacks), rback, link);
    sio_queue_remove(&b->link);
    b->a = NULL;
  }
  a->outstanding++; /* the sweep timer */
  uv_close((uv_handle_t *)&a->sweep_timer, sweep_closed);
  if (a->st) {
    a->outstanding++; /* the stream's retry timer */
    sio_adapter_streams_close(a->st, part_closed, a);
  }
  a->outstanding++; /* the driver: its subscriptions end with it */
  a->ops->close(a->drv, part_closed, a);
  a->outstanding--;
  final_step(a);
}

/* The room history, kept in Redis for the fleet when the driver can run
 * commands (sio_redis_history.c). Every instance that delivers an event
 * offers it: the one that broadcast it always does, so the fleet's
 * history holds every event published through an instance even where no
 * other instance has members in its rooms. */
static int ad_history_append(void *ad, sio_namespace *ns, const char *id,
                             const char *const *rooms, size_t nrooms,
                             const uint8_t *pkt, size_t len,
                             uint32_t max_events, uint32_t max_age_ms) {
  sio_adapter_sharded *a = ad;
  return sio_redis_history_append(a->ops, a->drv, a->key,
                                  sio_namespace_name(ns), id, rooms, nrooms,
                                  pkt, len, max_events, max_age_ms);
}

static int ad_history_read(void *ad, sio_namespace *ns,
                           const char *const *rooms, size_t nrooms,
                           const char *since, uint32_t max_events,
                           uint32_t max_age_ms, sio_adapter_history_cb cb,
                           void *ud) {
  sio_adapter_sharded *a = ad;
  return sio_redis_history_read(a->ops, a->drv, a->key,
                                sio_namespace_name(ns), rooms, nrooms, since,
                                max_events, max_age_ms, cb, ud);
}

static int ad_persist(void *ad, sio_namespace *ns,
                      const sio_adapter_session *sess, uint32_t ttl_ms) {
  return sio_adapter_streams_persist(((sio_adapter_sharded *)ad)->st, ns, sess,
                                     ttl_ms);
}

static int ad_restore(void *ad, sio_namespace *ns, const char *pid,
                      const char *offset, const char *owner,
                      sio_adapter_restore_cb cb, void *ud) {
  return sio_adapter_streams_restore(((sio_adapter_sharded *)ad)->st, ns, pid,
                                     offset, owner, cb, ud);
}

static int ad_drop(void *ad, sio_namespace *ns, const char *pid) {
  return sio_adapter_streams_drop(((sio_adapter_sharded *)ad)->st, ns, pid);
}

/* The streams mode: every instance reads every entry, so nothing is
 * received on demand, and the stream keeps recovery for the fleet. */
static const sio_adapter_ops streams_ops = {
    .flags = SIO_ADAPTER_RECOVERY,
    .nsp_open = ad_nsp_open,
    .broadcast = ad_broadcast,
    .broadcast_ack = ad_broadcast_ack,
    .sockets_join = ad_sockets_join,
    .sockets_leave = ad_sockets_leave,
    .disconnect_sockets = ad_disconnect_sockets,
    .fetch_sockets = ad_fetch_sockets,
    .all_rooms = NULL,
    .server_count = ad_server_count,
    .server_side_emit = ad_server_side_emit,
    .stats = ad_stats,
    .persist_session = ad_persist,
    .restore_session = ad_restore,
    .drop_session = ad_drop,
    .close = ad_close,
};

static const sio_adapter_ops sharded_ops = {
    .flags = SIO_ADAPTER_ROOMS_ON_DEMAND,
    .nsp_open = ad_nsp_open,
    .broadcast = ad_broadcast,
    .broadcast_ack = ad_broadcast_ack,
    .sockets_join = ad_sockets_join,
    .sockets_leave = ad_sockets_leave,
    .disconnect_sockets = ad_disconnect_sockets,
    .fetch_sockets = ad_fetch_sockets,
    .all_rooms = NULL, /* no such request in this protocol */
    .server_count = ad_server_count,
    .server_side_emit = ad_server_side_emit,
    .joined = ad_joined,
    .left = ad_left,
    .disconnected = ad_disconnected,
    .stats = ad_stats,
    .close = ad_close,
};

static void drv_discarded(void *arg) { (void)arg; }

int sio_adapter_sharded_install(sio_server *srv, const sio_pubsub_ops *ops,
                                void *drv,
                                const sio_adapter_sharded_config *cfg) {
  static const sio_pubsub_handler handler = {drv_message, drv_state};
  sio_adapter_sharded *a;
  const char *key = cfg && cfg->key && *cfg->key ? cfg->key : "socket.io";
  sio_sharded_mode mode = cfg ? cfg->mode : SIO_SHARDED_DYNAMIC;
  int rv = SIO_ERR_NOMEM;
  if (!srv || !ops || !drv) {
    if (ops && drv)
      ops->close(drv, drv_discarded, NULL);
    return SIO_ERR_INVAL;
  }
  if (cfg && cfg->streams) {
    mode = SIO_SHARDED_STATIC; /* the streams adapter's channels */
    if (!ops->command ||
        (cfg->sharded_pubsub ? !ops->spublish || !ops->shardnumsub
                             : !ops->publish || !ops->numsub)) {
      rv = SIO_ERR_UNSUPPORTED;
      goto fail;
    }
  } else if (!ops->spublish || !ops->shardnumsub) {
    rv = SIO_ERR_UNSUPPORTED;
    goto fail;
  }
  if (mode != SIO_SHARDED_DYNAMIC && mode != SIO_SHARDED_STATIC &&
      mode != SIO_SHARDED_DYNAMIC_PRIVATE) {
    rv = SIO_ERR_INVAL;
    goto fail;
  }
  if (sio_server_has_adapter(srv) || sio_server_closing(srv)) {
    rv = SIO_ERR_STATE;
    goto fail;
  }
  a = sio_calloc(1, sizeof(*a));
  if (!a)
    goto fail;
  a->srv = srv;
  a->loop = sio_server_loop(srv);
  a->ops = ops;
  a->drv = drv;
  a->mode = mode;
  a->requests_timeout = cfg && cfg->requests_timeout_ms
                            ? cfg->requests_timeout_ms
                            : DEFAULT_REQUESTS_TIMEOUT;
  sio_map_init(&a->by_nsp);
  sio_map_init(&a->by_channel);
  sio_adapter_req_table_init(&a->reqs, a->loop, &req_ops, a, ID_LEN,
                             a->requests_timeout);
  sio_queue_init(&a->rbacks);
  sio_buf_init(&a->scratch);
  sio_buf_init(&a->chan);
  a->key = sio_strdup(key);
  rv = a->key ? random_id(a->uid) : SIO_ERR_NOMEM;
  if (rv) {
    sio_free(a->key);
    sio_free(a);
    goto fail;
  }
  uv_timer_init(a->loop, &a->sweep_timer);
  a->sweep_timer.data = a;
  if (cfg && cfg->streams) {
    a->plain_pubsub = !cfg->sharded_pubsub;
    rv = sio_adapter_streams_new(&a->st, a->loop, ops, drv, cfg->streams,
                                 on_entry, a);
    if (rv) {
      a->done = NULL;
      ad_close(a, NULL, NULL);
      return rv;
    }
  }
  ops->set_handler(drv, &handler, a);
  {
    sio_adapter_ops o = a->st ? streams_ops : sharded_ops;
    if (ops->command) {
      o.history_append = ad_history_append;
      o.history_read = ad_history_read;
    }
    rv = sio_server_set_adapter(srv, &o, a);
  }
  if (rv) {
    /* nothing was installed: close it all here */
    a->done = NULL;
    ad_close(a, NULL, NULL);
    return rv;
  }
  if (cfg && cfg->handle)
    *cfg->handle = a;
  return 0;
fail:
  ops->close(drv, drv_discarded, NULL);
  return rv;
}

const char *sio_adapter_sharded_uid(const sio_adapter_sharded *a) {
  return a->uid;
}

void sio_adapter_sharded_get_counts(const sio_adapter_sharded *a,
                                    sio_adapter_sharded_counts *out) {
  *out = a->counts;
}
