/* sio_cluster.c: the cluster-wide calls of the public API (the outgoing
 * half of <sio/adapter.h>), and the in-memory adapter's answers to the
 * other instances (its incoming half, sio_adapter_*).
 *
 * Role: the reference server routes broadcasts, socketsJoin/Leave,
 * disconnectSockets, fetchSockets, allRooms, serverCount and
 * serverSideEmit through its namespace's Adapter; the in-memory Adapter
 * acts on this instance, a cluster adapter adds the other instances. Here
 * the local part always runs on the namespace's room index first (a
 * broadcast is encoded once for all local recipients, in
 * sio_broadcast.c), then, unless SIO_BCAST_LOCAL is set, the installed
 * adapter (<sio/adapter.h>) carries the call to the other instances. With
 * no adapter installed, this file is the whole in-memory adapter.
 *
 * Asynchronous calls (fetchSockets, allRooms, serverCount, serverSideEmit
 * with acks, broadcast with acks) are "calls": a small object linked in
 * the server's pending list, with a libuv timer that completes local-only
 * answers on the next loop turn (callbacks never fire inside the call that
 * registered them) and bounds broadcasts with acks. A call fires its
 * user's callback exactly once: with the merged results, or with
 * SIO_ERR_CANCELED when the server closes first. It is freed when it has
 * fired, every party that may still call it back (the adapter, local
 * sockets' ack tables) has done so ("holds"), and its timer has closed.
 *
 *   LINKED --fire--> FIRED --holds reach 0--> CLOSING --timer closed--> freed
 */
#include "sio/adapter.h"

#include <inttypes.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "sio_broadcast.h"
#include "sio_client.h"
#include "sio_group.h"
#include "sio_int.h"
#include "sio_log.h"
#include "sio_map.h"
#include "sio_mem.h"
#include "sio_namespace.h"
#include "sio_rooms.h"
#include "sio_server.h"
#include "sio_socket.h"

static const sio_broadcast_opts all_sockets = {NULL, 0, NULL, 0, 0};

static int opts_ok(const sio_broadcast_opts *o) {
  return !o || ((!o->nrooms || o->rooms) && (!o->nexcept || o->except));
}

static int remote_wanted(const sio_namespace *ns, const sio_broadcast_opts *o) {
  return ns->srv->has_adapter && !(o && (o->flags & SIO_BCAST_LOCAL));
}

/* ------------------------------------------------------ local selection */

typedef struct collect {
  sio_socket **v;
  size_t n, cap;
  int err;
} collect;

static void collect_visit(sio_room_member *m, void *ud) {
  collect *c = ud;
  sio_socket *s = sio_container_of(m, sio_socket, member);
  if (c->err || s->state != SIO_SOCKET_CONNECTED)
    return;
  if (c->n == c->cap) {
    size_t ncap = c->cap ? c->cap * 2 : 16;
    sio_socket **nv = sio_realloc(c->v, ncap * sizeof(*nv));
    if (!nv) {
      c->err = SIO_ERR_NOMEM;
      return;
    }
    c->v = nv;
    c->cap = ncap;
  }
  sio_socket_ref(s);
  c->v[c->n++] = s;
}

void sio_adapter_release_sockets(sio_socket **socks, size_t n) {
  size_t i;
  for (i = 0; i < n; i++)
    sio_socket_unref(socks[i]);
  sio_free(socks);
}

/* The selected connected sockets, referenced (the visit of
 * sio_rooms_select may not change rooms, so changes happen afterwards). */
static int select_sockets(sio_namespace *ns, const sio_broadcast_opts *o,
                          collect *c) {
  memset(c, 0, sizeof(*c));
  if (!o)
    o = &all_sockets;
  sio_rooms_select(&ns->rooms, o->rooms, o->nrooms, o->except, o->nexcept,
                   collect_visit, c);
  if (c->err) {
    sio_adapter_release_sockets(c->v, c->n);
    memset(c, 0, sizeof(*c));
    return SIO_ERR_NOMEM;
  }
  return 0;
}

static void count_visit(sio_room_member *m, void *ud) {
  sio_socket *s = sio_container_of(m, sio_socket, member);
  if (s->state == SIO_SOCKET_CONNECTED)
    (*(size_t *)ud)++;
}

size_t sio_namespace_count_selected(sio_namespace *ns,
                                    const sio_broadcast_opts *o) {
  size_t n = 0;
  if (!ns || !opts_ok(o))
    return 0;
  if (o)
    sio_rooms_select(&ns->rooms, o->rooms, o->nrooms, o->except, o->nexcept,
                     count_visit, &n);
  else
    sio_rooms_select(&ns->rooms, NULL, 0, NULL, 0, count_visit, &n);
  return n;
}

int sio_adapter_apply_rooms(sio_namespace *ns, const sio_broadcast_opts *o,
                            const char *const *rooms, size_t nrooms,
                            int leave) {
  collect c;
  size_t i, j;
  int rv;
  if (!ns || !opts_ok(o) || (nrooms && !rooms))
    return SIO_ERR_INVAL;
  rv = select_sockets(ns, o, &c);
  if (rv)
    return rv;
  for (i = 0; i < c.n; i++)
    for (j = 0; j < nrooms; j++) {
      if (!rooms[j])
        continue;
      if (leave)
        sio_socket_leave(c.v[i], rooms[j]);
      else if (sio_socket_join(c.v[i], rooms[j]) == SIO_ERR_NOMEM)
        SIO_LOGW("socket %s: out of memory joining a room", c.v[i]->id);
    }
  rv = c.n > INT32_MAX ? INT32_MAX : (int)c.n;
  sio_adapter_release_sockets(c.v, c.n);
  return rv;
}

int sio_adapter_apply_disconnect(sio_namespace *ns, const sio_broadcast_opts *o,
                                 int close_transport) {
  collect c;
  size_t i;
  int rv;
  if (!ns || !opts_ok(o))
    return SIO_ERR_INVAL;
  rv = select_sockets(ns, o, &c);
  if (rv)
    return rv;
  for (i = 0; i < c.n; i++)
    sio_socket_disconnect(c.v[i], close_transport);
  rv = c.n > INT32_MAX ? INT32_MAX : (int)c.n;
  sio_adapter_release_sockets(c.v, c.n);
  return rv;
}

/* ----------------------------------------------------- socket as JSON */

typedef struct jctx {
  json_object *obj;
  int err;
} jctx;

static void add_pair(const char *name, const char *value, void *ud) {
  jctx *j = ud;
  json_object *v;
  if (j->err)
    return;
  v = json_object_new_string(value);
  if (!v || json_object_object_add(j->obj, name, v)) {
    json_object_put(v);
    j->err = 1;
  }
}

static void add_room(const char *room, void *ud) {
  jctx *j = ud;
  json_object *v;
  if (j->err)
    return;
  v = json_object_new_string(room);
  if (!v || json_object_array_add(j->obj, v)) {
    json_object_put(v);
    j->err = 1;
  }
}

/* encodeURIComponent's unreserved set */
static int uri_plain(unsigned char c) {
  return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') ||
         (c >= '0' && c <= '9') || strchr("-_.!~*'()", c);
}

static void uri_append(sio_buf *b, const char *s, int *err) {
  static const char hex[] = "0123456789ABCDEF";
  for (; *s && !*err; s++) {
    unsigned char c = (unsigned char)*s;
    if (c && uri_plain(c))
      *err = sio_buf_append_byte(b, c) != 0;
    else
      *err = sio_buf_appendf(b, "%%%c%c", hex[c >> 4], hex[c & 15]) != 0;
  }
}

typedef struct urlctx {
  sio_buf *b;
  int first;
  int err;
} urlctx;

static void add_query_pair(const char *name, const char *value, void *ud) {
  urlctx *u = ud;
  if (u->err)
    return;
  u->err = sio_buf_append_byte(u->b, u->first ? '?' : '&') != 0;
  u->first = 0;
  uri_append(u->b, name, &u->err);
  if (!u->err)
    u->err = sio_buf_append_byte(u->b, '=') != 0;
  uri_append(u->b, value, &u->err);
}

static int obj_add(json_object *o, const char *k, json_object *v) {
  if (!v || json_object_object_add(o, k, v)) {
    json_object_put(v);
    return -1;
  }
  return 0;
}

/* The handshake as the reference describes it, from what the session
 * kept; NULL when the session is gone or out of memory. */
static json_object *handshake_json(sio_socket *s) {
  eio_socket *es = s->client ? s->client->es : NULL;
  json_object *hs, *headers, *query, *auth;
  const char *origin, *addr;
  char when[96];
  time_t secs;
  struct tm tm;
  sio_buf url;
  urlctx u;
  jctx j;
  int bad = 0;
  if (!es)
    return NULL;
  hs = json_object_new_object();
  headers = json_object_new_object();
  query = json_object_new_object();
  auth = json_object_new_object();
  if (!hs || !headers || !query || !auth)
    goto fail;
  j.obj = headers;
  j.err = 0;
  eio_socket_handshake_each(es, 0, add_pair, &j);
  bad |= j.err;
  j.obj = query;
  eio_socket_handshake_each(es, 1, add_pair, &j);
  bad |= j.err;
  secs = (time_t)(s->client->issued_ms / 1000);
  if (!gmtime_r(&secs, &tm) ||
      !strftime(when, sizeof(when),
                "%a %b %d %Y %H:%M:%S GMT+0000 (Coordinated Universal Time)",
                &tm))
    when[0] = 0;
  sio_buf_init(&url);
  u.b = &url;
  u.first = 1;
  u.err = sio_buf_append_str(&url, s->ns->srv->opts.path) != 0;
  eio_socket_handshake_each(es, 1, add_query_pair, &u);
  bad |= u.err;
  origin = eio_socket_header(es, "origin");
  addr = eio_socket_remote_addr(es);
  bad |= obj_add(hs, "headers", headers);
  headers = NULL;
  bad |= obj_add(hs, "time", json_object_new_string(when));
  bad |= obj_add(hs, "address", json_object_new_string(addr ? addr : ""));
  bad |= obj_add(hs, "xdomain", json_object_new_boolean(origin != NULL));
  bad |= obj_add(hs, "secure",
                 json_object_new_boolean(s->ns->srv->opts.tls_cert != NULL));
  bad |= obj_add(hs, "issued",
                 json_object_new_int64((int64_t)s->client->issued_ms));
  bad |= obj_add(hs, "url", json_object_new_string(url.data ? url.data : "/"));
  sio_buf_deinit(&url);
  bad |= obj_add(hs, "query", query);
  query = NULL;
  bad |= obj_add(hs, "auth", auth);
  auth = NULL;
  if (bad)
    goto fail;
  return hs;
fail:
  json_object_put(hs);
  json_object_put(headers);
  json_object_put(query);
  json_object_put(auth);
  return NULL;
}

json_object *sio_adapter_socket_json(sio_socket *s) {
  json_object *o, *hs;
  jctx j;
  if (!s || !(o = json_object_new_object()))
    return NULL;
  if (obj_add(o, "id", json_object_new_string(s->id)))
    goto fail;
  hs = handshake_json(s);
  if (hs) {
    if (obj_add(o, "handshake", hs))
      goto fail;
  } else if (s->client && s->client->es) {
    goto fail; /* out of memory; NULL is fine only once the session ended */
  }
  j.obj = json_object_new_array();
  j.err = j.obj == NULL;
  if (!j.err)
    sio_socket_rooms(s, add_room, &j);
  if (j.err) {
    json_object_put(j.obj);
    goto fail;
  }
  if (obj_add(o, "rooms", j.obj))
    goto fail;
  /* the reference's socket.data starts as {} */
  if (obj_add(o, "data",
              s->jdata ? json_object_get(s->jdata) : json_object_new_object()))
    goto fail;
  return o;
fail:
  json_object_put(o);
  return NULL;
}

json_object *sio_adapter_local_sockets(sio_namespace *ns,
                                       const sio_broadcast_opts *o,
                                       sio_socket ***socks, size_t *nsocks) {
  json_object *arr;
  collect c;
  size_t i;
  if (socks) {
    *socks = NULL;
    *nsocks = 0;
  }
  if (!ns || !opts_ok(o) || (socks && !nsocks) || select_sockets(ns, o, &c))
    return NULL;
  arr = json_object_new_array();
  for (i = 0; arr && i < c.n; i++) {
    json_object *one = sio_adapter_socket_json(c.v[i]);
    if (!one || json_object_array_add(arr, one)) {
      json_object_put(one);
      json_object_put(arr);
      arr = NULL;
    }
  }
  if (arr && socks) {
    *socks = c.v;
    *nsocks = c.n;
  } else {
    sio_adapter_release_sockets(c.v, c.n);
  }
  return arr;
}

static void id_visit(sio_room_member *m, void *ud) {
  jctx *j = ud;
  sio_socket *s = sio_container_of(m, sio_socket, member);
  if (s->state == SIO_SOCKET_CONNECTED)
    add_room(s->id, j);
}

json_object *sio_adapter_local_ids(sio_namespace *ns, const char *const *rooms,
                                   size_t nrooms) {
  jctx j;
  if (!ns || (nrooms && !rooms))
    return NULL;
  j.obj = json_object_new_array();
  j.err = j.obj == NULL;
  if (!j.err)
    sio_rooms_select(&ns->rooms, rooms, nrooms, NULL, 0, id_visit, &j);
  if (j.err) {
    json_object_put(j.obj);
    return NULL;
  }
  return j.obj;
}

static void room_visit(const char *room, size_t n, void *ud) {
  (void)n;
  add_room(room, ud);
}

json_object *sio_adapter_local_rooms(sio_namespace *ns) {
  size_t it = 0;
  const sio_map_entry *e;
  jctx j;
  if (!ns)
    return NULL;
  j.obj = json_object_new_array();
  j.err = j.obj == NULL;
  /* socket id rooms first (their sockets join them first) */
  while (!j.err && sio_map_next(&ns->rooms.members, &it, &e)) {
    const sio_room_member *m = e->val;
    if (m->flags & SIO_ROOM_MEMBER_OWN)
      add_room(m->id, &j);
  }
  if (!j.err)
    sio_rooms_foreach_room(&ns->rooms, room_visit, &j);
  if (j.err) {
    json_object_put(j.obj);
    return NULL;
  }
  return j.obj;
}

int sio_adapter_room_has_members(const sio_namespace *ns, const char *room,
                                 size_t len) {
  return ns && room && sio_rooms_room_size(&ns->rooms, room, len) > 0;
}

int sio_adapter_room_wanted(const sio_namespace *ns, const char *room,
                            size_t len) {
  return ns && room &&
         (ns->history || sio_adapter_room_has_members(ns, room, len));
}

sio_socket *sio_adapter_find_socket(sio_namespace *ns, const char *sid) {
  sio_room_member *m;
  sio_socket *s;
  if (!ns || !sid)
    return NULL;
  m = sio_rooms_find_member(&ns->rooms, sid, strlen(sid));
  s = m ? sio_container_of(m, sio_socket, member) : NULL;
  return s && s->state == SIO_SOCKET_CONNECTED ? s : NULL;
}

void sio_adapter_free_rooms(const char **rooms) { sio_free((void *)rooms); }

int sio_adapter_info_from_json(json_object *obj, sio_socket_info *info,
                               const char ***rooms) {
  json_object *id, *r, *hs, *data;
  size_t i, n;
  if (!obj || !info || !rooms)
    return SIO_ERR_INVAL;
  memset(info, 0, sizeof(*info));
  *rooms = NULL;
  if (!json_object_object_get_ex(obj, "id", &id) ||
      !json_object_is_type(id, json_type_string))
    return SIO_ERR_PROTO;
  info->id = json_object_get_string(id);
  if (json_object_object_get_ex(obj, "handshake", &hs) &&
      json_object_is_type(hs, json_type_object))
    info->handshake = hs;
  if (json_object_object_get_ex(obj, "data", &data))
    info->data = data;
  if (json_object_object_get_ex(obj, "rooms", &r) && r) {
    if (!json_object_is_type(r, json_type_array))
      return SIO_ERR_PROTO;
    n = json_object_array_length(r);
    if (n) {
      *rooms = sio_malloc(n * sizeof(**rooms));
      if (!*rooms)
        return SIO_ERR_NOMEM;
      for (i = 0; i < n; i++) {
        json_object *it = json_object_array_get_idx(r, i);
        if (!json_object_is_type(it, json_type_string)) {
          sio_free(*rooms);
          *rooms = NULL;
          return SIO_ERR_PROTO;
        }
        (*rooms)[i] = json_object_get_string(it);
      }
    }
    info->rooms = *rooms;
    info->nrooms = n;
  }
  return 0;
}

int sio_adapter_server_event(sio_namespace *ns, json_object *data, int want_ack,
                             json_object **ack) {
  json_object *args, *answer = NULL;
  const char *event;
  size_t i, n;
  int answered;
  if (ack)
    *ack = NULL;
  if (!ns || (want_ack && !ack) ||
      !json_object_is_type(data, json_type_array) ||
      json_object_array_length(data) == 0 ||
      !json_object_is_type(json_object_array_get_idx(data, 0),
                           json_type_string))
    return 0;
  event = json_object_get_string(json_object_array_get_idx(data, 0));
  if (!ns->server_event_cb) {
    SIO_LOGD("server-side event %s on %s: no handler", event, ns->name);
    return 0;
  }
  n = json_object_array_length(data);
  args = json_object_new_array();
  for (i = 1; args && i < n; i++) {
    json_object *it = json_object_array_get_idx(data, i);
    if (json_object_array_add(args, json_object_get(it))) {
      json_object_put(it);
      json_object_put(args);
      args = NULL;
    }
  }
  if (!args)
    return 0;
  answered = ns->server_event_cb(ns, event, args, want_ack ? &answer : NULL,
                                 ns->server_event_ud);
  json_object_put(args);
  if (!want_ack || !answered) {
    json_object_put(answer);
    return 0;
  }
  *ack = answer;
  return 1;
}

/* ---------------------------------------------------------------- calls */

typedef struct call call;
struct call {
  sio_pending p;
  uv_timer_t timer;
  sio_namespace *ns; /* not touched once fired */
  int status;        /* for a completion through the timer */
  int holds;         /* parties that may still call back */
  uint8_t fired;
  uint8_t linked;
  uint8_t closing;
  /* fires the user's callback with what is known (local results) */
  void (*fire)(call *c, int status);
  /* the timer expired (a deadline, or the next-turn completion) */
  void (*expire)(call *c);
  void (*release)(call *c); /* frees kind-specific state */
};

static void call_closed(uv_handle_t *h) {
  call *c = sio_container_of((uv_timer_t *)h, call, timer);
  c->release(c);
  sio_free(c);
}

static void call_maybe_free(call *c) {
  if (!c->fired || c->holds > 0 || c->closing)
    return;
  c->closing = 1;
  uv_timer_stop(&c->timer);
  uv_close((uv_handle_t *)&c->timer, call_closed);
}

static void call_unlink(call *c) {
  if (c->linked) {
    c->linked = 0;
    sio_queue_remove(&c->p.link);
  }
}

/* Marks c fired (the caller then calls the user back). 0 when it already
 * had fired. */
static int call_take(call *c) {
  if (c->fired)
    return 0;
  c->fired = 1;
  call_unlink(c);
  uv_timer_stop(&c->timer);
  return 1;
}

static void call_cancel(sio_pending *p) {
  call *c = sio_container_of(p, call, p);
  c->linked = 0; /* the server unlinked it */
  if (!c->fired) {
    c->fired = 1;
    uv_timer_stop(&c->timer);
    c->fire(c, SIO_ERR_CANCELED);
  }
  call_maybe_free(c);
}

static void call_timer(uv_timer_t *t) {
  call *c = sio_container_of(t, call, timer);
  c->expire(c);
  call_maybe_free(c);
}

/* The default expiry: complete with local results and c->status. */
static void expire_fire(call *c) {
  if (call_take(c))
    c->fire(c, c->status);
}

static void call_init(call *c, sio_namespace *ns) {
  c->ns = ns;
  c->p.cancel = call_cancel;
  uv_timer_init(ns->srv->loop, &c->timer);
  sio_queue_insert_tail(&ns->srv->pending, &c->p.link);
  c->linked = 1;
}

/* Allocates a call of size bytes (the kind's struct, call first) for
 * namespace ns with its fire and release; call_init comes once the
 * kind's local part is ready. Its expiry is expire_fire unless the kind
 * sets its own. NULL with *err SIO_ERR_CLOSED (the server
 * is closing) or SIO_ERR_NOMEM. */
static void *call_new(sio_namespace *ns, size_t size,
                      void (*fire)(call *c, int status),
                      void (*release)(call *c), int *err) {
  call *c;
  if (ns->srv->closing) {
    *err = SIO_ERR_CLOSED;
    return NULL;
  }
  c = sio_calloc(1, size);
  if (!c) {
    *err = SIO_ERR_NOMEM;
    return NULL;
  }
  c->fire = fire;
  c->expire = expire_fire;
  c->release = release;
  return c;
}

/* Completes c with status on the next loop turn. */
static void call_later(call *c, int status) {
  c->status = status;
  uv_timer_start(&c->timer, call_timer, 0, 0);
}

/* Frees a call that never fired nor armed anything (registration failed):
 * the callback never fires. */
static void call_abort(call *c) {
  call_unlink(c);
  c->fired = 1;
  c->holds = 0;
  call_maybe_free(c);
}

/* After the adapter was asked for its half of call c (holds raised first;
 * rv is what the adapter answered): wait for it, or, when it could not be
 * asked, finish with the local half on the next turn (SIO_ERR_CLOSED).
 * Returns 0, or the fatal rv (SIO_ERR_NOMEM and those in `fatal`): then c
 * is freed and its callback never fires. */
static int call_started(call *c, int rv, int fatal) {
  if (rv == 0)
    return 0;
  c->holds--;
  if (rv == SIO_ERR_NOMEM || rv == fatal) {
    call_abort(c);
    return rv;
  }
  call_later(c, SIO_ERR_CLOSED);
  return 0;
}

/* ----------------------------------------------------------- broadcast */

int sio_cluster_recovery_broadcast(sio_namespace *ns,
                                   const sio_broadcast_opts *o,
                                   const char *event, json_object *args,
                                   const sio_bin *bins, size_t nbins,
                                   int *result) {
  sio_server *srv = ns ? ns->srv : NULL;
  int rv;
  if (!srv || !sio_server_adapter_recovery(srv) || !remote_wanted(ns, o) ||
      (o && (o->flags & SIO_BCAST_VOLATILE)))
    return 0;
  if (!event || (nbins && !bins) ||
      sio_event_name_reserved(event, strlen(event)) || !opts_ok(o)) {
    *result = SIO_ERR_INVAL;
    return 1;
  }
  /* the adapter delivers it here too once the cluster's log numbered it */
  rv = srv->adapter.broadcast(srv->adapter_ud, ns, o, event, args, bins,
                              nbins);
  if (rv == 0) {
    *result = 0;
    return 1;
  }
  SIO_LOGD("broadcast %s on %s not logged by the cluster (%s): delivered "
           "here without an offset",
           event, ns->name, sio_err_name(rv));
  *result = sio_adapter_deliver(ns, o, event, args, bins, nbins, NULL);
  return 1;
}

int sio_namespace_broadcast(sio_namespace *ns, const sio_broadcast_opts *o,
                            const char *event, json_object *args,
                            const sio_bin *bins, size_t nbins) {
  int n;
  if (sio_cluster_recovery_broadcast(ns, o, event, args, bins, nbins, &n))
    return n;
  if (ns && sio_group_relays(ns->srv) && remote_wanted(ns, o))
    return sio_broadcast_shared(ns, o, event, args, bins, nbins);
  n = sio_namespace_broadcast_local(ns, o, event, args, bins, nbins);
  if (n < 0 || !remote_wanted(ns, o))
    return n;
  {
    sio_server *srv = ns->srv;
    int rv = srv->adapter.broadcast(srv->adapter_ud, ns, o, event, args, bins,
                                    nbins);
    if (rv)
      SIO_LOGD("broadcast %s on %s not sent to the cluster: %s", event,
               ns->name, sio_err_name(rv));
  }
  return n;
}

/* ------------------------------------------------- rooms and disconnects */

static int rooms_call(sio_namespace *ns, const sio_broadcast_opts *o,
                      const char *const *rooms, size_t nrooms, int leave) {
  sio_server *srv;
  int rv;
  if (!ns || !opts_ok(o) || (nrooms && !rooms))
    return SIO_ERR_INVAL;
  rv = sio_adapter_apply_rooms(ns, o, rooms, nrooms, leave);
  if (rv < 0 || !remote_wanted(ns, o))
    return rv < 0 ? rv : 0;
  srv = ns->srv;
  rv = leave ? (srv->adapter.sockets_leave
                    ? srv->adapter.sockets_leave(srv->adapter_ud, ns, o, rooms,
                                                 nrooms)
                    : 0)
             : (srv->adapter.sockets_join
                    ? srv->adapter.sockets_join(srv->adapter_ud, ns, o, rooms,
                                                nrooms)
                    : 0);
  if (rv)
    SIO_LOGD("sockets %s on %s not sent to the cluster: %s",
             leave ? "leave" : "join", ns->name, sio_err_name(rv));
  return rv == SIO_ERR_NOMEM ? rv : 0;
}

int sio_namespace_sockets_join(sio_namespace *ns, const sio_broadcast_opts *o,
                               const char *const *rooms, size_t nrooms) {
  return rooms_call(ns, o, rooms, nrooms, 0);
}

int sio_namespace_sockets_leave(sio_namespace *ns, const sio_broadcast_opts *o,
                                const char *const *rooms, size_t nrooms) {
  return rooms_call(ns, o, rooms, nrooms, 1);
}

int sio_namespace_disconnect_sockets(sio_namespace *ns,
                                     const sio_broadcast_opts *o,
                                     int close_transport) {
  sio_server *srv;
  int rv;
  if (!ns || !opts_ok(o))
    return SIO_ERR_INVAL;
  srv = ns->srv;
  /* the remote part first: the local disconnects run application
   * callbacks, which may close the server */
  if (remote_wanted(ns, o) && srv->adapter.disconnect_sockets) {
    rv = srv->adapter.disconnect_sockets(srv->adapter_ud, ns, o,
                                         close_transport);
    if (rv)
      SIO_LOGD("disconnectSockets on %s not sent to the cluster: %s", ns->name,
               sio_err_name(rv));
  }
  rv = sio_adapter_apply_disconnect(ns, o, close_transport);
  return rv < 0 ? rv : 0;
}

/* -------------------------------------------------------------- fetch */

typedef struct fetch_call {
  call c;
  sio_fetch_cb cb;
  void *ud;
  json_object *local; /* array of socket objects */
  sio_socket **socks; /* the same sockets, referenced */
  size_t nsocks;
} fetch_call;

static void fetch_deliver(fetch_call *f, int status,
                          const sio_socket_info *remote, size_t nremote) {
  size_t n = f->nsocks + nremote, i, k = 0;
  sio_socket_info *infos = NULL;
  const char ***rooms = NULL;
  if (n) {
    infos = sio_calloc(n, sizeof(*infos));
    rooms = sio_calloc(f->nsocks ? f->nsocks : 1, sizeof(*rooms));
    if (!infos || !rooms) {
      sio_free(infos);
      sio_free(rooms);
      infos = NULL;
      n = 0;
      status = SIO_ERR_NOMEM;
    }
  }
  for (i = 0; infos && i < f->nsocks; i++) {
    if (sio_adapter_info_from_json(json_object_array_get_idx(f->local, i),
                                   &infos[k], &rooms[i]) == 0) {
      infos[k].local = f->socks[i];
      k++;
    }
  }
  for (i = 0; infos && i < nremote; i++)
    infos[k++] = remote[i];
  f->cb(f->c.ns, status, infos, infos ? k : 0, f->ud);
  for (i = 0; rooms && i < f->nsocks; i++)
    sio_free(rooms[i]);
  sio_free(rooms);
  sio_free(infos);
}

static void fetch_fire(call *c, int status) {
  fetch_deliver((fetch_call *)c, status, NULL, 0);
}

static void fetch_release(call *c) {
  fetch_call *f = (fetch_call *)c;
  json_object_put(f->local);
  sio_adapter_release_sockets(f->socks, f->nsocks);
}

static void fetch_remote(sio_namespace *ns, int status,
                         const sio_socket_info *sockets, size_t n, void *ud) {
  fetch_call *f = ud;
  (void)ns;
  f->c.holds--;
  if (call_take(&f->c))
    fetch_deliver(f, status, sockets, n);
  call_maybe_free(&f->c);
}

int sio_namespace_fetch_sockets(sio_namespace *ns, const sio_broadcast_opts *o,
                                sio_fetch_cb cb, void *ud) {
  fetch_call *f;
  sio_server *srv;
  int rv;
  if (!ns || !cb || !opts_ok(o))
    return SIO_ERR_INVAL;
  srv = ns->srv;
  f = call_new(ns, sizeof(*f), fetch_fire, fetch_release, &rv);
  if (!f)
    return rv;
  f->cb = cb;
  f->ud = ud;
  f->local = sio_adapter_local_sockets(ns, o, &f->socks, &f->nsocks);
  if (!f->local) {
    sio_free(f);
    return SIO_ERR_NOMEM;
  }
  call_init(&f->c, ns);
  if (remote_wanted(ns, o) && srv->adapter.fetch_sockets) {
    f->c.holds++;
    rv = srv->adapter.fetch_sockets(srv->adapter_ud, ns, o, fetch_remote, f);
    return call_started(&f->c, rv, SIO_ERR_NOMEM);
  }
  call_later(&f->c, 0);
  return 0;
}

/* ------------------------------------------------------------ all rooms */

typedef struct rooms_call_t {
  call c;
  sio_rooms_cb cb;
  void *ud;
  json_object *local; /* array of names */
} rooms_call_t;

static void rooms_deliver(rooms_call_t *r, int status,
                          const char *const *remote, size_t nremote) {
  size_t nlocal = json_object_array_length(r->local), i, k = 0;
  const char **v = NULL;
  sio_map seen;
  sio_map_init(&seen);
  if (nlocal + nremote) {
    v = sio_malloc((nlocal + nremote) * sizeof(*v));
    if (!v)
      status = SIO_ERR_NOMEM;
  }
  /* a Set, as the reference's result */
  for (i = 0; v && i < nlocal + nremote; i++) {
    const char *name =
        i < nlocal
            ? json_object_get_string(json_object_array_get_idx(r->local, i))
            : remote[i - nlocal];
    int rv;
    if (!name)
      continue;
    rv = sio_map_put(&seen, name, strlen(name), NULL);
    if (rv == 0)
      v[k++] = name;
    else if (rv == SIO_ERR_NOMEM)
      status = SIO_ERR_NOMEM;
  }
  r->cb(r->c.ns, status, v, k, r->ud);
  sio_map_deinit(&seen);
  sio_free(v);
}

static void rooms_fire(call *c, int status) {
  rooms_deliver((rooms_call_t *)c, status, NULL, 0);
}

static void rooms_release(call *c) {
  json_object_put(((rooms_call_t *)c)->local);
}

static void rooms_remote(sio_namespace *ns, int status,
                         const char *const *rooms, size_t n, void *ud) {
  rooms_call_t *r = ud;
  (void)ns;
  r->c.holds--;
  if (call_take(&r->c))
    rooms_deliver(r, status, rooms, n);
  call_maybe_free(&r->c);
}

int sio_namespace_all_rooms(sio_namespace *ns, sio_rooms_cb cb, void *ud) {
  rooms_call_t *r;
  sio_server *srv;
  int rv;
  if (!ns || !cb)
    return SIO_ERR_INVAL;
  srv = ns->srv;
  r = call_new(ns, sizeof(*r), rooms_fire, rooms_release, &rv);
  if (!r)
    return rv;
  r->cb = cb;
  r->ud = ud;
  r->local = sio_adapter_local_rooms(ns);
  if (!r->local) {
    sio_free(r);
    return SIO_ERR_NOMEM;
  }
  call_init(&r->c, ns);
  if (srv->has_adapter && srv->adapter.all_rooms) {
    r->c.holds++;
    rv = srv->adapter.all_rooms(srv->adapter_ud, ns, rooms_remote, r);
    return call_started(&r->c, rv, SIO_ERR_NOMEM);
  }
  call_later(&r->c, 0);
  return 0;
}

/* --------------------------------------------------------- server count */

typedef struct count_call {
  call c;
  sio_count_cb cb;
  void *ud;
} count_call;

static void count_fire(call *c, int status) {
  count_call *k = (count_call *)c;
  k->cb(c->ns, status, 1, k->ud);
}

static void count_release(call *c) { (void)c; }

static void count_remote(sio_namespace *ns, int status, size_t count,
                         void *ud) {
  count_call *k = ud;
  (void)ns;
  k->c.holds--;
  if (call_take(&k->c))
    k->cb(k->c.ns, status, status == 0 && count ? count : 1, k->ud);
  call_maybe_free(&k->c);
}

int sio_namespace_server_count(sio_namespace *ns, sio_count_cb cb, void *ud) {
  count_call *k;
  sio_server *srv;
  int rv;
  if (!ns || !cb)
    return SIO_ERR_INVAL;
  srv = ns->srv;
  k = call_new(ns, sizeof(*k), count_fire, count_release, &rv);
  if (!k)
    return rv;
  k->cb = cb;
  k->ud = ud;
  call_init(&k->c, ns);
  if (srv->has_adapter && srv->adapter.server_count) {
    k->c.holds++;
    rv = srv->adapter.server_count(srv->adapter_ud, ns, count_remote, k);
    return call_started(&k->c, rv, SIO_ERR_NOMEM);
  }
  call_later(&k->c, 0);
  return 0;
}

int sio_server_count(sio_server *s, sio_count_cb cb, void *ud) {
  sio_namespace *ns;
  if (!s)
    return SIO_ERR_INVAL;
  ns = sio_server_find_nsp(s, "/", 1);
  return ns ? sio_namespace_server_count(ns, cb, ud) : SIO_ERR_STATE;
}

/* ----------------------------------------------------- server-side emit */

void sio_namespace_on_server_event(sio_namespace *ns, sio_server_event_cb cb,
                                   void *ud) {
  if (!ns)
    return;
  ns->server_event_cb = cb;
  ns->server_event_ud = ud;
}

typedef struct sse_call {
  call c;
  sio_server_ack_cb cb;
  void *ud;
} sse_call;

static void sse_fire(call *c, int status) {
  sse_call *e = (sse_call *)c;
  json_object *none = json_object_new_array();
  e->cb(c->ns, status, none, e->ud);
  json_object_put(none);
}

static void sse_release(call *c) { (void)c; }

static void sse_remote(sio_namespace *ns, int status, json_object *responses,
                       void *ud) {
  sse_call *e = ud;
  (void)ns;
  e->c.holds--;
  if (call_take(&e->c))
    e->cb(e->c.ns, status, responses, e->ud);
  call_maybe_free(&e->c);
}

int sio_namespace_server_side_emit(sio_namespace *ns, const char *event,
                                   json_object *args, sio_server_ack_cb cb,
                                   void *ud) {
  sio_server *srv;
  sse_call *e;
  int rv;
  if (!ns || !event || sio_event_name_reserved(event, strlen(event)) ||
      (args && !json_object_is_type(args, json_type_array)))
    return SIO_ERR_INVAL;
  srv = ns->srv;
  if (srv->closing)
    return SIO_ERR_CLOSED;
  if (!cb) {
    if (!srv->has_adapter || !srv->adapter.server_side_emit)
      return 0; /* no other instance to tell */
    rv = srv->adapter.server_side_emit(srv->adapter_ud, ns, event, args, NULL,
                                       NULL);
    return rv == SIO_ERR_NOMEM || rv == SIO_ERR_INVAL ? rv : 0;
  }
  e = call_new(ns, sizeof(*e), sse_fire, sse_release, &rv);
  if (!e)
    return rv;
  e->cb = cb;
  e->ud = ud;
  call_init(&e->c, ns);
  if (srv->has_adapter && srv->adapter.server_side_emit) {
    e->c.holds++;
    rv = srv->adapter.server_side_emit(srv->adapter_ud, ns, event, args,
                                       sse_remote, e);
    return call_started(&e->c, rv, SIO_ERR_INVAL);
  }
  call_later(&e->c, 0); /* alone: nobody to answer, like the reference */
  return 0;
}

/* ------------------------------------------------- broadcast with acks */

typedef struct back_call {
  call c;
  sio_broadcast_ack_cb cb;
  void *ud;
  json_object *responses; /* answers so far */
  sio_bin *bins;          /* their attachments (owned copies) */
  size_t nbins;
  size_t expected_clients;
  long expected_servers; /* -1 until serverCount answered */
  long counted_servers;
  int status_hint; /* SIO_ERR_CLOSED when the cluster was unreachable */
} back_call;

static void back_fire(call *c, int status) {
  back_call *b = (back_call *)c;
  b->cb(c->ns, status, b->responses, b->bins, b->nbins, b->ud);
}

static int back_complete(const back_call *b) {
  return b->expected_servers >= 0 &&
         b->counted_servers >= b->expected_servers &&
         json_object_array_length(b->responses) >= b->expected_clients;
}

/* The deadline passed (or, with nobody to ask, the next loop turn came). */
static void back_expire(call *c) {
  back_call *b = (back_call *)c;
  int status = b->status_hint;
  if (!back_complete(b) && !status)
    status = SIO_ERR_TIMEOUT;
  if (call_take(c))
    back_fire(c, status);
}

static void back_release(call *c) {
  back_call *b = (back_call *)c;
  size_t i;
  json_object_put(b->responses);
  for (i = 0; i < b->nbins; i++)
    sio_free((void *)b->bins[i].data);
  sio_free(b->bins);
}

static void back_check(back_call *b) {
  if (b->c.fired || !back_complete(b))
    return;
  if (call_take(&b->c))
    back_fire(&b->c, b->status_hint);
}

/* Renumbers the placeholders of v (a private copy) by adding off. */
static void shift_placeholders(json_object *v, size_t off, int depth) {
  if (!v || depth > SIO_JSON_MAX_DEPTH)
    return;
  if (json_object_is_type(v, json_type_array)) {
    size_t i, n = json_object_array_length(v);
    for (i = 0; i < n; i++)
      shift_placeholders(json_object_array_get_idx(v, i), off, depth + 1);
  } else if (json_object_is_type(v, json_type_object)) {
    json_object *t, *num;
    if (json_object_object_get_ex(v, "_placeholder", &t) &&
        json_object_get_boolean(t) &&
        json_object_object_get_ex(v, "num", &num) &&
        json_object_is_type(num, json_type_int)) {
      json_object_object_add(
          v, "num",
          json_object_new_int64(json_object_get_int64(num) + (int64_t)off));
      return;
    }
    json_object_object_foreach(v, key, val) {
      (void)key;
      shift_placeholders(val, off, depth + 1);
    }
  }
}

/* Adds one client's answer: the first argument, with its attachments. */
static void back_add(back_call *b, json_object *arg, const sio_bin *bins,
                     size_t nbins) {
  json_object *copy = NULL;
  size_t i;
  if (b->c.fired)
    return;
  if (arg && json_object_deep_copy(arg, &copy, NULL) != 0)
    return;
  if (nbins) {
    sio_bin *nb = sio_realloc(b->bins, (b->nbins + nbins) * sizeof(*nb));
    if (!nb) {
      json_object_put(copy);
      return;
    }
    b->bins = nb;
    for (i = 0; i < nbins; i++) {
      uint8_t *d = sio_malloc(bins[i].len ? bins[i].len : 1);
      if (!d) {
        json_object_put(copy);
        return;
      }
      memcpy(d, bins[i].data, bins[i].len);
      b->bins[b->nbins + i].data = d;
      b->bins[b->nbins + i].len = bins[i].len;
    }
    shift_placeholders(copy, b->nbins, 0);
    b->nbins += nbins;
  }
  if (json_object_array_add(b->responses, copy))
    json_object_put(copy);
  back_check(b);
}

static void back_local_ack(sio_socket *s, int status, json_object *args,
                           const sio_bin *bins, size_t nbins, void *ud) {
  back_call *b = ud;
  (void)s;
  b->c.holds--;
  if (status == 0)
    back_add(b, args ? json_object_array_get_idx(args, 0) : NULL, bins, nbins);
  call_maybe_free(&b->c);
}

static void back_sink_count(void *ud, size_t n) {
  back_call *b = ud;
  b->expected_clients += n;
  b->counted_servers++;
  back_check(b);
}

static void back_sink_response(void *ud, json_object *arg, const sio_bin *bins,
                               size_t nbins) {
  back_add(ud, arg, bins, nbins);
}

static void back_sink_done(void *ud) {
  back_call *b = ud;
  b->c.holds--;
  call_maybe_free(&b->c);
}

static const sio_adapter_ack_sink back_sink = {
    back_sink_count, back_sink_response, back_sink_done};

static void back_servers(sio_namespace *ns, int status, size_t count,
                         void *ud) {
  back_call *b = ud;
  (void)ns;
  b->c.holds--;
  b->expected_servers = status == 0 ? (long)count : 1;
  if (status)
    b->status_hint = SIO_ERR_CLOSED;
  back_check(b);
  call_maybe_free(&b->c);
}

int sio_namespace_broadcast_ack(sio_namespace *ns, const sio_broadcast_opts *o,
                                const char *event, json_object *args,
                                const sio_bin *bins, size_t nbins,
                                uint32_t timeout_ms, sio_broadcast_ack_cb cb,
                                void *ud) {
  sio_server *srv;
  back_call *b;
  int n, rv;
  if (!ns || !cb || !timeout_ms || !event || (nbins && !bins) || !opts_ok(o) ||
      sio_event_name_reserved(event, strlen(event)))
    return SIO_ERR_INVAL;
  srv = ns->srv;
  b = call_new(ns, sizeof(*b), back_fire, back_release, &rv);
  if (!b)
    return rv;
  b->cb = cb;
  b->ud = ud;
  b->c.expire = back_expire;
  b->expected_servers = -1;
  b->responses = json_object_new_array();
  if (!b->responses) {
    sio_free(b);
    return SIO_ERR_NOMEM;
  }
  call_init(&b->c, ns);
  n = sio_adapter_broadcast_local_ack(ns, o, event, args, bins, nbins,
                                      timeout_ms, back_local_ack, b);
  if (n < 0) {
    call_abort(&b->c);
    return n;
  }
  b->c.holds += n;
  b->expected_clients = (size_t)n;
  b->counted_servers = 1;
  uv_timer_start(&b->c.timer, call_timer, timeout_ms, 0);
  if (remote_wanted(ns, o) && srv->adapter.broadcast_ack &&
      srv->adapter.server_count) {
    b->c.holds++;
    rv = srv->adapter.broadcast_ack(srv->adapter_ud, ns, o, event, args, bins,
                                    nbins, timeout_ms, &back_sink, b);
    if (rv) {
      b->c.holds--;
      b->status_hint = SIO_ERR_CLOSED;
      b->expected_servers = 1;
    } else {
      b->c.holds++;
      rv = srv->adapter.server_count(srv->adapter_ud, ns, back_servers, b);
      if (rv) {
        b->c.holds--;
        b->expected_servers = 1;
        b->status_hint = SIO_ERR_CLOSED;
      }
    }
  } else {
    b->expected_servers = 1;
  }
  /* complete on the next turn at the earliest */
  if (b->expected_servers == 1 && b->expected_clients == 0)
    uv_timer_start(&b->c.timer, call_timer, 0, 0);
  return 0;
}

/* When every answer is in before the timer, back_check fires at once:
 * but never inside sio_namespace_broadcast_ack itself, since answers only
 * come from later loop turns. */

/* ---------------------------------------------------------------- stats */

int sio_server_redis_connected(const sio_server *s) {
  sio_adapter_stats st;
  if (!s || !s->has_adapter || !s->adapter.stats)
    return 0;
  memset(&st, 0, sizeof(st));
  s->adapter.stats(s->adapter_ud, &st);
  return st.connected != 0;
}
