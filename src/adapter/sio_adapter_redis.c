/* sio_adapter_redis.c: the socket.io Redis adapter protocol
 * (@socket.io/redis-adapter 8, read together with @socket.io/redis-emitter
 * 5) as a libsio adapter, over the pub/sub driver interface of
 * sio_pubsub.h.
 *
 * Role: make this server one member of a fleet that shares a Redis: other
 * sio-server instances, Node socket.io servers with the Redis adapter,
 * and emitters. Per namespace it subscribes to
 *   <key>#<nsp>#*            (PSUBSCRIBE) broadcasts, all or per room
 *   <key>-request#<nsp>#     requests from the other servers
 *   <key>-response#<nsp>#    answers (and <key>-response#<nsp>#<uid>#,
 *                            where a v8 peer may answer only us)
 * and the subscription to the request channel is what makes it count in
 * PUBSUB NUMSUB, the reference's serverCount().
 *
 * Outgoing: a broadcast is published as [uid, packet, opts] on the room's
 * channel when it targets exactly one room, else on the namespace
 * channel; socketsJoin/Leave and disconnectSockets publish a request and
 * are applied locally at once (the reference applies its own request when
 * it comes back; we ignore our own messages instead, so local delivery
 * does not depend on Redis); fetchSockets, allRooms and serverSideEmit
 * with acknowledgements first ask NUMSUB how many servers there are, then
 * publish the request and wait for one answer per other server, or the
 * requests timeout (the request lifecycle is sio_adapter_req.c's; this
 * file counts on and publishes to the request channel).
 * Broadcasts with acknowledgements publish a BROADCAST request and
 * collect BROADCAST_CLIENT_COUNT and BROADCAST_ACK answers until their
 * timeout.
 *
 * Incoming: broadcast messages are dropped early when they name a room
 * nobody here is in (the reference's hasRoom check), or come from our own
 * uid, or from another namespace; the rest is delivered to local sockets,
 * encoded once. Requests are served with the server's in-memory answers
 * (the incoming half of <sio/adapter.h>) and answered on the shared
 * response channel (the reference's default). Unknown request types are
 * ignored with a debug log; malformed messages are dropped. Everything
 * received or published is counted, and a publish that fails while the
 * driver is down is counted as dropped: local delivery never waits for
 * Redis. */
#include "sio_adapter_redis.h"

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
#define ID_LEN 6

/* one namespace's channels */
typedef struct rns {
  sio_namespace *ns;
  char *prefix; /* "<key>#<nsp>#" */
  size_t prefix_len;
  char *pattern;
  char *req_chan;
  char *resp_chan;
  char *resp_uid_chan;
} rns;

/* a BROADCAST with acks from another server, being answered by our
 * clients: one reference per client asked */
typedef struct rback {
  sio_queue link;
  sio_adapter_redis *a; /* NULL once the adapter closed */
  rns *r;
  int refs;
  char request_id[];
} rback;

struct sio_adapter_redis {
  sio_server *srv;
  uv_loop_t *loop;
  const sio_pubsub_ops *ops;
  void *drv;
  char *key;
  char uid[ID_LEN + 1];
  uint32_t requests_timeout;
  sio_map by_nsp;     /* namespace name -> rns */
  sio_map by_pattern; /* pattern -> rns */
  sio_map by_channel; /* request / response channels -> rns */
  sio_adapter_req_table reqs;
  sio_queue rbacks;
  sio_buf scratch;
  sio_buf chan;
  sio_adapter_stats stats;
  int closing;
  int outstanding; /* while closing: the requests, the driver */
  void (*done)(void *arg);
  void *done_arg;
};

/* ------------------------------------------------------------- helpers */

static int random_id(char out[ID_LEN + 1]) {
  static const char alphabet[] =
      "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
  uint8_t rnd[ID_LEN];
  size_t i;
  if (sio_random_bytes(rnd, sizeof(rnd)))
    return SIO_ERR_IO;
  for (i = 0; i < ID_LEN; i++)
    out[i] = alphabet[rnd[i] & 63];
  out[ID_LEN] = 0;
  return 0;
}

static rns *rns_of(sio_adapter_redis *a, sio_namespace *ns) {
  const char *name = sio_namespace_name(ns);
  return sio_map_get(&a->by_nsp, name, strlen(name));
}

/* Publishes a->scratch on channel, counting it. */
static int publish(sio_adapter_redis *a, const char *channel,
                   const sio_buf *msg) {
  int rv =
      a->ops->publish(a->drv, channel, (const uint8_t *)msg->data, msg->len);
  if (rv == 0) {
    a->stats.messages_out++;
  } else {
    a->stats.dropped++;
    SIO_LOGD("redis: publish on %s dropped: %s", channel, sio_err_name(rv));
  }
  return rv;
}

static void opts_from(sio_broadcast_opts *o, const sio_redis_opts *ro) {
  o->rooms = ro->rooms.v;
  o->nrooms = ro->rooms.n;
  o->except = ro->except.v;
  o->nexcept = ro->except.n;
  o->flags = ro->flags & SIO_BCAST_VOLATILE;
}

/* ------------------------------------------------------------- requests */

/* the requests are counted with NUMSUB on, and published to, the
 * namespace's request channel */
static int req_count(void *ud, void *ctx, sio_pubsub_count_cb cb, void *cb_ud) {
  sio_adapter_redis *a = ud;
  rns *r = ctx;
  return a->ops->numsub(a->drv, r->req_chan, cb, cb_ud);
}

static int req_publish(void *ud, void *ctx, const sio_buf *msg) {
  return publish(ud, ((rns *)ctx)->req_chan, msg);
}

static const sio_adapter_req_ops req_ops = {req_count, req_publish, random_id};

static sio_adapter_req *req_new(sio_adapter_redis *a, rns *r, int kind,
                                sio_adapter_req_cb cb, void *ud) {
  return sio_adapter_req_new(&a->reqs, kind, r->ns, r, cb, ud);
}

/* ----------------------------------------------------------- responses */

static void on_response(sio_adapter_redis *a, const uint8_t *data, size_t len) {
  sio_redis_response res;
  sio_adapter_req *q;
  if (sio_redis_response_decode(&res, data, len, NULL)) {
    SIO_LOGD("redis: malformed response ignored");
    return;
  }
  q = sio_adapter_req_find(&a->reqs, res.request_id);
  switch (q ? sio_adapter_req_kind(q) : -1) {
  case SIO_ADAPTER_REQ_BACK:
    if (res.type == SIO_REDIS_BROADCAST_CLIENT_COUNT && res.client_count >= 0)
      sio_adapter_req_ack_count(q, (size_t)res.client_count);
    else if (res.type == SIO_REDIS_BROADCAST_ACK)
      sio_adapter_req_ack(q, res.packet, res.root.bins, res.root.nbins);
    break;
  case SIO_ADAPTER_REQ_FETCH:
    sio_adapter_req_answer(q, res.sockets);
    break;
  case SIO_ADAPTER_REQ_ROOMS:
    sio_adapter_req_answer(q, res.rooms);
    break;
  case SIO_ADAPTER_REQ_SSE:
    if (res.type == SIO_REDIS_SERVER_SIDE_EMIT || res.type == -1)
      sio_adapter_req_answer(q, res.data);
    break;
  default:
    break; /* someone else's */
  }
  sio_redis_response_clear(&res);
}

/* ------------------------------------------------------------ requests in */

static void respond(sio_adapter_redis *a, rns *r, const char *request_id,
                    const char *field, json_object *value) {
  sio_buf_reset(&a->scratch);
  if (sio_redis_encode_response(&a->scratch, request_id, field, value) == 0)
    publish(a, r->resp_chan, &a->scratch);
}

static void rback_put(rback *b) {
  if (--b->refs > 0)
    return;
  if (b->a)
    sio_queue_remove(&b->link);
  sio_free(b);
}

static void rback_ack(sio_socket *s, int status, json_object *args,
                      const sio_bin *bins, size_t nbins, void *ud) {
  rback *b = ud;
  (void)s;
  if (status == 0 && b->a) {
    sio_adapter_redis *a = b->a;
    json_object *first = args ? json_object_array_get_idx(args, 0) : NULL;
    sio_buf_reset(&a->scratch);
    if (sio_redis_encode_bcast_ack(&a->scratch, b->request_id, first, bins,
                                   nbins) == 0)
      publish(a, b->r->resp_chan, &a->scratch);
  }
  rback_put(b);
}

/* BROADCAST from another server: deliver asking our clients for acks,
 * tell the requester how many we asked, relay each answer. */
static void serve_broadcast(sio_adapter_redis *a, rns *r,
                            sio_redis_request *q) {
  size_t idlen = strlen(q->request_id);
  sio_broadcast_opts o;
  uint32_t timeout;
  rback *b;
  int n;
  if (q->packet.nsp && strcmp(q->packet.nsp, sio_namespace_name(r->ns)) != 0)
    return;
  b = sio_malloc(sizeof(*b) + idlen + 1);
  if (!b)
    return;
  memcpy(b->request_id, q->request_id, idlen + 1);
  b->a = a;
  b->r = r;
  b->refs = 1;
  sio_queue_insert_tail(&a->rbacks, &b->link);
  opts_from(&o, &q->opts);
  timeout = q->opts.timeout > 0 && q->opts.timeout < UINT32_MAX
                ? (uint32_t)q->opts.timeout
                : a->requests_timeout;
  n = sio_adapter_broadcast_local_ack(r->ns, &o, q->packet.event,
                                      q->packet.args, q->root.bins,
                                      q->root.nbins, timeout, rback_ack, b);
  if (n >= 0) {
    b->refs += n;
    sio_buf_reset(&a->scratch);
    if (sio_redis_encode_client_count(&a->scratch, q->request_id,
                                      (uint64_t)n) == 0)
      publish(a, r->resp_chan, &a->scratch);
  }
  rback_put(b);
}

static void on_request(sio_adapter_redis *a, rns *r, const uint8_t *data,
                       size_t len) {
  sio_redis_request q;
  sio_broadcast_opts o;
  json_object *v;
  sio_socket *s;
  if (sio_redis_request_decode(&q, data, len, NULL)) {
    SIO_LOGD("redis: malformed request on %s ignored", r->req_chan);
    return;
  }
  if (q.uid && strcmp(q.uid, a->uid) == 0)
    goto out; /* our own: already applied or being collected */
  if (sio_adapter_req_find(&a->reqs, q.request_id))
    goto out; /* ours too (the reference's requests.has check) */
  opts_from(&o, &q.opts);
  switch (q.type) {
  case SIO_REDIS_SOCKETS:
    if (!q.request_id)
      break;
    v = sio_adapter_local_ids(r->ns, q.rooms.v, q.rooms.n);
    if (v)
      respond(a, r, q.request_id, "sockets", v);
    json_object_put(v);
    break;
  case SIO_REDIS_ALL_ROOMS:
    if (!q.request_id)
      break;
    v = sio_adapter_local_rooms(r->ns);
    if (v)
      respond(a, r, q.request_id, "rooms", v);
    json_object_put(v);
    break;
  case SIO_REDIS_REMOTE_JOIN:
  case SIO_REDIS_REMOTE_LEAVE: {
    int leave = q.type == SIO_REDIS_REMOTE_LEAVE;
    if (q.has_opts) {
      o.flags = 0;
      sio_adapter_apply_rooms(r->ns, &o, q.rooms.v, q.rooms.n, leave);
      break;
    }
    s = sio_adapter_find_socket(r->ns, q.sid);
    if (!s)
      break;
    if (leave)
      sio_socket_leave(s, q.room);
    else
      sio_socket_join(s, q.room);
    if (q.request_id)
      respond(a, r, q.request_id, NULL, NULL);
    break;
  }
  case SIO_REDIS_REMOTE_DISCONNECT:
    if (q.has_opts) {
      o.flags = 0;
      sio_adapter_apply_disconnect(r->ns, &o, q.close);
      break;
    }
    s = sio_adapter_find_socket(r->ns, q.sid);
    if (!s)
      break;
    /* answer first: disconnecting runs application callbacks */
    if (q.request_id)
      respond(a, r, q.request_id, NULL, NULL);
    sio_socket_disconnect(s, q.close);
    break;
  case SIO_REDIS_REMOTE_FETCH:
    if (!q.request_id)
      break;
    o.flags = 0;
    v = sio_adapter_local_sockets(r->ns, &o, NULL, NULL);
    if (v)
      respond(a, r, q.request_id, "sockets", v);
    json_object_put(v);
    break;
  case SIO_REDIS_SERVER_SIDE_EMIT: {
    json_object *ack = NULL;
    if (!q.request_id) {
      sio_adapter_server_event(r->ns, q.data, 0, NULL);
      break;
    }
    if (sio_adapter_server_event(r->ns, q.data, 1, &ack)) {
      sio_buf_reset(&a->scratch);
      if (sio_redis_encode_sse_response(&a->scratch, q.request_id, ack) == 0)
        publish(a, r->resp_chan, &a->scratch);
      json_object_put(ack);
    }
    break;
  }
  case SIO_REDIS_BROADCAST:
    serve_broadcast(a, r, &q);
    break;
  default:
    SIO_LOGD("redis: request type %d on %s ignored", q.type, r->req_chan);
    break;
  }
out:
  sio_redis_request_clear(&q);
}

/* ---------------------------------------------------------- broadcasts in */

static void on_broadcast(sio_adapter_redis *a, rns *r, const char *channel,
                         const uint8_t *data, size_t len) {
  size_t clen = strlen(channel);
  sio_redis_bcast m;
  sio_broadcast_opts o;
  if (clen < r->prefix_len || memcmp(channel, r->prefix, r->prefix_len) != 0)
    return;
  if (clen > r->prefix_len) {
    /* "<prefix><room>#": nobody here is in room and no history keeps
     * it, nothing to do */
    const char *room = channel + r->prefix_len;
    size_t rlen = clen - r->prefix_len - 1;
    if (channel[clen - 1] != '#' || !sio_adapter_room_wanted(r->ns, room, rlen))
      return;
  }
  if (sio_redis_bcast_decode(&m, data, len, NULL)) {
    SIO_LOGD("redis: malformed broadcast on %s ignored", channel);
    return;
  }
  if ((m.uid && strcmp(m.uid, a->uid) == 0) ||
      strcmp(m.packet.nsp, sio_namespace_name(r->ns)) != 0) {
    sio_redis_bcast_clear(&m);
    return;
  }
  opts_from(&o, &m.opts);
  o.flags |= SIO_BCAST_LOCAL;
  if (sio_namespace_broadcast(r->ns, &o, m.packet.event, m.packet.args,
                              m.root.bins, m.root.nbins) < 0)
    SIO_LOGD("redis: broadcast %s on %s not delivered", m.packet.event,
             sio_namespace_name(r->ns));
  sio_redis_bcast_clear(&m);
}

static void drv_message(void *ud, const char *pattern, const char *channel,
                        const uint8_t *data, size_t len) {
  sio_adapter_redis *a = ud;
  rns *r;
  if (a->closing)
    return;
  a->stats.messages_in++;
  if (pattern) {
    r = sio_map_get(&a->by_pattern, pattern, strlen(pattern));
    if (r)
      on_broadcast(a, r, channel, data, len);
    return;
  }
  r = sio_map_get(&a->by_channel, channel, strlen(channel));
  if (!r)
    return;
  if (strcmp(channel, r->req_chan) == 0)
    on_request(a, r, data, len);
  else
    on_response(a, data, len);
}

static void drv_state(void *ud, int ready) {
  sio_adapter_redis *a = ud;
  if (a->stats.connected == ready)
    return;
  a->stats.connected = ready;
  if (ready)
    SIO_LOGI("redis: connected, cluster delivery on");
  else
    SIO_LOGW("redis: connection lost, local delivery only until it returns");
}

/* ---------------------------------------------------------- adapter ops */

static void rns_free(rns *r) {
  if (!r)
    return;
  sio_free(r->prefix);
  sio_free(r->pattern);
  sio_free(r->req_chan);
  sio_free(r->resp_chan);
  sio_free(r->resp_uid_chan);
  sio_free(r);
}

static char *chan_copy(sio_buf *b, int rv) {
  char *s = rv ? NULL : sio_strndup(b->data, b->len);
  sio_buf_reset(b);
  return s;
}

static int ad_nsp_open(void *ad, sio_namespace *ns) {
  sio_adapter_redis *a = ad;
  const char *nsp = sio_namespace_name(ns);
  rns *r;
  int rv;
  if (rns_of(a, ns))
    return 0;
  r = sio_calloc(1, sizeof(*r));
  if (!r)
    return SIO_ERR_NOMEM;
  r->ns = ns;
  sio_buf_reset(&a->chan);
  r->prefix =
      chan_copy(&a->chan, sio_redis_channel(&a->chan, a->key, nsp, NULL));
  r->pattern = chan_copy(&a->chan, sio_redis_pattern(&a->chan, a->key, nsp));
  r->req_chan =
      chan_copy(&a->chan, sio_redis_request_channel(&a->chan, a->key, nsp));
  r->resp_chan = chan_copy(
      &a->chan, sio_redis_response_channel(&a->chan, a->key, nsp, NULL));
  r->resp_uid_chan = chan_copy(
      &a->chan, sio_redis_response_channel(&a->chan, a->key, nsp, a->uid));
  if (!r->prefix || !r->pattern || !r->req_chan || !r->resp_chan ||
      !r->resp_uid_chan) {
    rns_free(r);
    return SIO_ERR_NOMEM;
  }
  r->prefix_len = strlen(r->prefix);
  rv = sio_map_put(&a->by_nsp, nsp, strlen(nsp), r);
  if (rv) {
    rns_free(r);
    return rv;
  }
  /* the maps borrow r; it lives until the adapter is freed */
  if (sio_map_put(&a->by_pattern, r->pattern, strlen(r->pattern), r) ||
      sio_map_put(&a->by_channel, r->req_chan, strlen(r->req_chan), r) ||
      sio_map_put(&a->by_channel, r->resp_chan, strlen(r->resp_chan), r) ||
      sio_map_put(&a->by_channel, r->resp_uid_chan, strlen(r->resp_uid_chan),
                  r))
    return SIO_ERR_NOMEM; /* freed with the adapter through by_nsp */
  rv = a->ops->subscribe(a->drv, r->pattern, 1);
  if (!rv)
    rv = a->ops->subscribe(a->drv, r->req_chan, 0);
  if (!rv)
    rv = a->ops->subscribe(a->drv, r->resp_chan, 0);
  if (!rv)
    rv = a->ops->subscribe(a->drv, r->resp_uid_chan, 0);
  return rv;
}

static int ad_broadcast(void *ad, sio_namespace *ns,
                        const sio_broadcast_opts *o, const char *event,
                        json_object *args, const sio_bin *bins, size_t nbins) {
  sio_adapter_redis *a = ad;
  rns *r = rns_of(a, ns);
  const char *channel;
  int rv;
  if (!r)
    return SIO_ERR_STATE;
  sio_buf_reset(&a->scratch);
  rv = sio_redis_encode_bcast(&a->scratch, a->uid, sio_namespace_name(ns),
                              event, args, bins, nbins, o, -1);
  if (rv)
    return rv;
  channel = r->prefix;
  if (o && o->nrooms == 1) {
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
  sio_adapter_redis *a = ad;
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
  return sio_adapter_req_send(q,
                              sio_redis_encode_bcast_request(
                                  sio_adapter_req_msg(q), a->uid,
                                  sio_adapter_req_id(q), sio_namespace_name(ns),
                                  event, args, bins, nbins, o, timeout_ms),
                              timeout_ms);
}

static int rooms_op(sio_adapter_redis *a, sio_namespace *ns, int type,
                    const sio_broadcast_opts *o, const char *const *rooms,
                    size_t nrooms) {
  rns *r = rns_of(a, ns);
  int rv;
  if (!r)
    return SIO_ERR_STATE;
  sio_buf_reset(&a->scratch);
  rv = sio_redis_encode_rooms_request(&a->scratch, type, a->uid, o, rooms,
                                      nrooms);
  return rv ? rv : publish(a, r->req_chan, &a->scratch);
}

static int ad_sockets_join(void *ad, sio_namespace *ns,
                           const sio_broadcast_opts *o,
                           const char *const *rooms, size_t nrooms) {
  return rooms_op(ad, ns, SIO_REDIS_REMOTE_JOIN, o, rooms, nrooms);
}

static int ad_sockets_leave(void *ad, sio_namespace *ns,
                            const sio_broadcast_opts *o,
                            const char *const *rooms, size_t nrooms) {
  return rooms_op(ad, ns, SIO_REDIS_REMOTE_LEAVE, o, rooms, nrooms);
}

static int ad_disconnect_sockets(void *ad, sio_namespace *ns,
                                 const sio_broadcast_opts *o,
                                 int close_transport) {
  sio_adapter_redis *a = ad;
  rns *r = rns_of(a, ns);
  int rv;
  if (!r)
    return SIO_ERR_STATE;
  sio_buf_reset(&a->scratch);
  rv = sio_redis_encode_disconnect_request(&a->scratch, a->uid, o,
                                           close_transport);
  return rv ? rv : publish(a, r->req_chan, &a->scratch);
}

static int ad_fetch_sockets(void *ad, sio_namespace *ns,
                            const sio_broadcast_opts *o, sio_fetch_cb cb,
                            void *ud) {
  sio_adapter_redis *a = ad;
  rns *r = rns_of(a, ns);
  sio_adapter_req *q;
  if (!r)
    return SIO_ERR_STATE;
  q = req_new(a, r, SIO_ADAPTER_REQ_FETCH, (sio_adapter_req_cb){.fetch = cb},
              ud);
  if (!q)
    return SIO_ERR_NOMEM;
  return sio_adapter_req_start(
      q, sio_redis_encode_fetch_request(sio_adapter_req_msg(q), a->uid,
                                        sio_adapter_req_id(q), o));
}

static int ad_all_rooms(void *ad, sio_namespace *ns, sio_rooms_cb cb,
                        void *ud) {
  sio_adapter_redis *a = ad;
  rns *r = rns_of(a, ns);
  sio_adapter_req *q;
  if (!r)
    return SIO_ERR_STATE;
  q = req_new(a, r, SIO_ADAPTER_REQ_ROOMS, (sio_adapter_req_cb){.rooms = cb},
              ud);
  if (!q)
    return SIO_ERR_NOMEM;
  return sio_adapter_req_start(
      q, sio_redis_encode_all_rooms_request(sio_adapter_req_msg(q), a->uid,
                                            sio_adapter_req_id(q)));
}

static int ad_server_count(void *ad, sio_namespace *ns, sio_count_cb cb,
                           void *ud) {
  sio_adapter_redis *a = ad;
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
  sio_adapter_redis *a = ad;
  rns *r = rns_of(a, ns);
  sio_adapter_req *q;
  int rv;
  if (!r)
    return SIO_ERR_STATE;
  if (!cb) {
    sio_buf_reset(&a->scratch);
    rv = sio_redis_encode_sse_request(&a->scratch, a->uid, NULL, event, args);
    return rv ? rv : publish(a, r->req_chan, &a->scratch);
  }
  q = req_new(a, r, SIO_ADAPTER_REQ_SSE, (sio_adapter_req_cb){.sse = cb}, ud);
  if (!q)
    return SIO_ERR_NOMEM;
  return sio_adapter_req_start(
      q, sio_redis_encode_sse_request(sio_adapter_req_msg(q), a->uid,
                                      sio_adapter_req_id(q), event, args));
}

static void ad_stats(void *ad, sio_adapter_stats *out) {
  sio_adapter_redis *a = ad;
  *out = a->stats;
  if (a->ops->latency_us)
    out->latency_us = a->ops->latency_us(a->drv);
}

/* Frees everything once every request timer and the driver have closed,
 * then tells the server. */
static void final_step(sio_adapter_redis *a) {
  size_t it = 0;
  const sio_map_entry *e;
  void (*done)(void *);
  void *arg;
  if (!a->closing || a->outstanding > 0)
    return;
  while (sio_map_next(&a->by_nsp, &it, &e))
    rns_free(e->val);
  sio_map_deinit(&a->by_nsp);
  sio_map_deinit(&a->by_pattern);
  sio_map_deinit(&a->by_channel);
  sio_buf_deinit(&a->scratch);
  sio_buf_deinit(&a->chan);
  sio_free(a->key);
  done = a->done;
  arg = a->done_arg;
  sio_free(a);
  if (done)
    done(arg);
}

/* the requests or the driver, closed */
static void part_closed(void *arg) {
  sio_adapter_redis *a = arg;
  a->outstanding--;
  final_step(a);
}

static void ad_close(void *ad, void (*done)(void *arg), void *arg) {
  sio_adapter_redis *a = ad;
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
  a->outstanding++; /* the driver */
  a->ops->close(a->drv, part_closed, a);
  a->outstanding--;
  final_step(a);
}

/* The room history, kept in Redis for the fleet when the driver can run
 * commands (sio_redis_history.c). */
static int ad_history_append(void *ad, sio_namespace *ns, const char *id,
                             const char *const *rooms, size_t nrooms,
                             const uint8_t *pkt, size_t len,
                             uint32_t max_events, uint32_t max_age_ms) {
  sio_adapter_redis *a = ad;
  return sio_redis_history_append(a->ops, a->drv, a->key,
                                  sio_namespace_name(ns), id, rooms, nrooms,
                                  pkt, len, max_events, max_age_ms);
}

static int ad_history_read(void *ad, sio_namespace *ns,
                           const char *const *rooms, size_t nrooms,
                           const char *since, uint32_t max_events,
                           uint32_t max_age_ms, sio_adapter_history_cb cb,
                           void *ud) {
  sio_adapter_redis *a = ad;
  return sio_redis_history_read(a->ops, a->drv, a->key,
                                sio_namespace_name(ns), rooms, nrooms, since,
                                max_events, max_age_ms, cb, ud);
}

static const sio_adapter_ops redis_ops = {
    .nsp_open = ad_nsp_open,
    .broadcast = ad_broadcast,
    .broadcast_ack = ad_broadcast_ack,
    .sockets_join = ad_sockets_join,
    .sockets_leave = ad_sockets_leave,
    .disconnect_sockets = ad_disconnect_sockets,
    .fetch_sockets = ad_fetch_sockets,
    .all_rooms = ad_all_rooms,
    .server_count = ad_server_count,
    .server_side_emit = ad_server_side_emit,
    .stats = ad_stats,
    .close = ad_close,
};

static void drv_discarded(void *arg) { (void)arg; }

int sio_adapter_redis_install(sio_server *srv, const sio_pubsub_ops *ops,
                              void *drv, const sio_adapter_redis_config *cfg) {
  static const sio_pubsub_handler handler = {drv_message, drv_state};
  sio_adapter_redis *a;
  const char *key = cfg && cfg->key && *cfg->key ? cfg->key : "socket.io";
  int rv = SIO_ERR_NOMEM;
  if (!srv || !ops || !drv) {
    if (ops && drv)
      ops->close(drv, drv_discarded, NULL);
    return SIO_ERR_INVAL;
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
  a->requests_timeout = cfg && cfg->requests_timeout_ms
                            ? cfg->requests_timeout_ms
                            : DEFAULT_REQUESTS_TIMEOUT;
  sio_map_init(&a->by_nsp);
  sio_map_init(&a->by_pattern);
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
  ops->set_handler(drv, &handler, a);
  {
    sio_adapter_ops o = redis_ops;
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
  return 0;
fail:
  ops->close(drv, drv_discarded, NULL);
  return rv;
}
