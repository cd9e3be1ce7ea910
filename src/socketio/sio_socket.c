/* sio_socket.c: one client's connection to one namespace (the reference
 * server's Socket), and the public sio_socket_* API.
 *
 * States (socket.io-protocol README, "Connection to a namespace" and
 * "Disconnection from a namespace"):
 *
 *   PENDING ---accept---> CONNECTED ---close(reason)---> CLOSED
 *      \--------------------refuse---------------------->/
 *
 * PENDING: created on CONNECT, in the namespace's member table (so
 *   on_authorize may read its id and join rooms) but invisible to
 *   broadcasts and unable to emit.
 * CONNECTED: the CONNECT reply was queued; events, acks and DISCONNECT
 *   from the client are dispatched here; emits go out.
 * CLOSED: rooms left, unlinked from its client, pending acks canceled;
 *   the struct lives on only while the application holds references
 *   (sio_socket_ref). Emits return SIO_ERR_CLOSED.
 *
 * Lifetime: the connection owns one reference from creation to
 * close/refuse; every upcall into the application is bracketed by a
 * reference of its own, so the application may unref, disconnect or close
 * the server from inside a callback. The last unref frees the struct and
 * touches nothing else (the namespace may be gone by then). */
#include "sio_socket.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "sio_broadcast.h"
#include "sio_client.h"
#include "sio_group.h"
#include "sio_crypto.h"
#include "sio_int.h"
#include "sio_log.h"
#include "sio_mem.h"
#include "sio_namespace.h"
#include "sio_replay.h"
#include "sio_restore.h"
#include "sio_server.h"

int sio_socket_new(sio_socket **out, sio_namespace *ns, sio_client *c,
                   const char *want_id) {
  sio_socket *s = sio_calloc(1, sizeof(*s));
  int rv = SIO_ERR_EXISTS, tries;
  *out = NULL;
  if (!s)
    return SIO_ERR_NOMEM;
  s->refcnt = 1;
  s->state = SIO_SOCKET_PENDING;
  s->ns = ns;
  s->client = c;
  sio_queue_init(&s->client_link);
  sio_room_member_init(&s->member);
  sio_ack_table_init(&s->acks);
  /* A recovered session gets its old id back when it is free. */
  if (want_id && strlen(want_id) < sizeof(s->id)) {
    strcpy(s->id, want_id);
    rv = sio_rooms_add_member(&ns->rooms, &s->member, s->id);
  }
  /* 120 random bits collide in theory only; retry rather than assume. */
  for (tries = 0; tries < 4 && rv == SIO_ERR_EXISTS; tries++) {
    rv = sio_random_id(s->id);
    if (rv)
      break;
    rv = sio_rooms_add_member(&ns->rooms, &s->member, s->id);
  }
  if (!rv && ns->recovery)
    rv = sio_random_id(s->pid);
  if (rv) {
    sio_rooms_remove_member(&ns->rooms, &s->member);
    sio_free(s->member.slots);
    sio_free(s);
    return rv == SIO_ERR_EXISTS ? SIO_ERR_IO : rv;
  }
  *out = s;
  return 0;
}

void sio_socket_ref(sio_socket *s) { s->refcnt++; }

void sio_socket_unref(sio_socket *s) {
  if (!s || --s->refcnt)
    return;
  /* Only a CLOSED socket can lose its last reference: the connection holds
   * one until close or refuse. */
  json_object_put(s->jdata);
  sio_free(s->owner);
  sio_free(s->member.slots);
  sio_free(s);
}

int sio_socket_take_id(sio_socket *s, const char *want) {
  int rv;
  if (s->state != SIO_SOCKET_PENDING)
    return SIO_ERR_STATE;
  if (strlen(want) >= sizeof(s->id))
    return SIO_ERR_INVAL;
  rv = sio_rooms_rekey_member(&s->ns->rooms, &s->member, want);
  if (rv)
    return rv;
  /* the member now borrows want; point it back at our own copy */
  strcpy(s->id, want);
  s->member.id = s->id;
  return 0;
}

/* Queues a control packet for s (CONNECT reply, DISCONNECT). */
static int send_control(sio_socket *s, sio_packet_type type,
                        json_object *data) {
  sio_outpkt p;
  int rv;
  if (!s->client)
    return SIO_ERR_CLOSED;
  rv = sio_outpkt_control(&p, sio_server_scratch(s->ns->srv), type, s->ns->name,
                          data);
  if (rv)
    return rv;
  rv = sio_client_send(s->client, &p);
  sio_outpkt_release(&p);
  return rv;
}

int sio_socket_accept(sio_socket *s) {
  sio_namespace *ns = s->ns;
  json_object *data, *sid;
  int rv;
  s->state = SIO_SOCKET_CONNECTED;
  s->persist_dirty = 1;
  s->out = s->client->closing ? NULL : s->client->es;
  /* the id room was joined at creation, before the socket counted: an
   * adapter hears of it now (the sharded adapter's dynamic-private mode
   * subscribes it) */
  if (ns->srv->has_adapter && ns->srv->adapter.joined)
    ns->srv->adapter.joined(ns->srv->adapter_ud, s, s->id);
  ns->nsockets++;
  ns->stats.connects++;
  sio_queue_insert_tail(&s->client->sockets, &s->client_link);
  sio_client_connected(s->client);
  data = json_object_new_object();
  sid = json_object_new_string(s->id);
  if (!data || !sid || json_object_object_add(data, "sid", sid)) {
    json_object_put(sid); /* not consumed when the add failed */
    json_object_put(data);
    return SIO_ERR_NOMEM;
  }
  if (s->pid[0]) {
    /* recovery on: the client keeps the pid to resume this session */
    json_object *pid = json_object_new_string(s->pid);
    if (!pid || json_object_object_add(data, "pid", pid)) {
      json_object_put(pid);
      json_object_put(data);
      return SIO_ERR_NOMEM;
    }
  }
  rv = send_control(s, SIO_PACKET_CONNECT, data);
  json_object_put(data);
  /* CLOSED or LIMIT: the session is closing and will disconnect s. */
  return rv == SIO_ERR_NOMEM ? rv : 0;
}

void sio_socket_refuse(sio_socket *s) {
  sio_rooms_remove_member(&s->ns->rooms, &s->member);
  s->state = SIO_SOCKET_CLOSED;
  s->out = NULL;
  s->client = NULL;
  sio_socket_unref(s);
}

void sio_socket_send_disconnect(sio_socket *s) {
  send_control(s, SIO_PACKET_DISCONNECT, NULL);
}

/* The reasons after which the reference keeps a session for recovery: the
 * connection was lost, not ended on purpose by either side. */
static int recoverable(const char *reason) {
  static const char *const ok[] = {
      "transport error", "transport close",      "forced close",
      "ping timeout",    "server shutting down", "forced server close"};
  size_t i;
  for (i = 0; i < SIO_ARRLEN(ok); i++)
    if (strcmp(reason, ok[i]) == 0)
      return 1;
  return 0;
}

typedef struct room_vec {
  const char *v[256];
  size_t n;
} room_vec;

static void add_room(const char *room, void *ud) {
  room_vec *r = ud;
  if (r->n < SIO_ARRLEN(r->v))
    r->v[r->n++] = room;
}

static void persist(sio_socket *s) {
  room_vec rooms = {{NULL}, 0};
  sio_socket_rooms(s, add_room, &rooms);
  if (sio_group_sequences(s->ns)) {
    /* the session may come back on any loop */
    sio_group_persist_session(s->ns, s->pid, s->id, s->owner, s->floor,
                              rooms.v, rooms.n, uv_now(s->ns->srv->loop));
    return;
  }
  sio_recovery_persist(s->ns->recovery, s->pid, s->id, s->owner, s->floor,
                       rooms.v, rooms.n, uv_now(s->ns->srv->loop));
}

void sio_socket_close(sio_socket *s, const char *reason) {
  sio_namespace *ns = s->ns;
  if (s->state != SIO_SOCKET_CONNECTED)
    return;
  SIO_LOGD("socket %s on %s closing: %s", s->id, ns->name, reason);
  sio_socket_ref(s);
  if (sio_server_adapter_recovery(ns->srv))
    sio_restore_on_close(s, recoverable(reason));
  else if (ns->recovery && s->pid[0] && recoverable(reason))
    persist(s);
  s->state = SIO_SOCKET_CLOSED;
  s->out = NULL;
  sio_rooms_remove_member(&ns->rooms, &s->member);
  sio_queue_remove(&s->client_link);
  ns->nsockets--;
  ns->stats.disconnects++;
  if (ns->srv->has_adapter && ns->srv->adapter.disconnected)
    ns->srv->adapter.disconnected(ns->srv->adapter_ud, s);
  /* The client stays reachable during the callback, so handshake facts can
   * still be read there. */
  if (ns->h.on_disconnect)
    ns->h.on_disconnect(s, reason, ns->ud);
  sio_ack_table_cancel_all(&s->acks);
  sio_replay_cancel(s);
  s->client = NULL;
  sio_socket_unref(s); /* the connection's */
  sio_socket_unref(s); /* ours */
}

static void on_event(sio_socket *s, sio_packet *pkt, const sio_bin *bins,
                     size_t nbins) {
  sio_namespace *ns = s->ns;
  json_object *args = pkt->data, *name;
  char numbuf[SIO_JSON_NUMBER_MAX];
  const char *event;
  if (!args || !json_object_is_type(args, json_type_array) ||
      json_object_array_length(args) == 0)
    return; /* the decoder guarantees otherwise */
  name = json_object_get(json_object_array_get_idx(args, 0));
  if (json_object_is_type(name, json_type_string)) {
    event = json_object_get_string(name);
  } else {
    sio_json_number_text(name, numbuf);
    event = numbuf;
  }
  /* The application sees the arguments after the name. */
  json_object_array_del_idx(args, 0, 1);
  if (ns->h.on_event)
    ns->h.on_event(s, event, args, bins, nbins, pkt->id, ns->ud);
  else
    SIO_LOGD("event %s on %s ignored: no handler", event, ns->name);
  json_object_put(name);
}

void sio_socket_on_packet(sio_socket *s, sio_packet *pkt, const sio_bin *bins,
                          size_t nbins) {
  if (s->state != SIO_SOCKET_CONNECTED)
    return;
  sio_socket_ref(s);
  switch (pkt->type) {
  case SIO_PACKET_EVENT:
  case SIO_PACKET_BINARY_EVENT:
    on_event(s, pkt, bins, nbins);
    break;
  case SIO_PACKET_ACK:
  case SIO_PACKET_BINARY_ACK:
    if (sio_ack_table_resolve(&s->acks, pkt->id, pkt->data, bins, nbins) == 0)
      s->ns->srv->stats.acks_resolved++;
    else
      SIO_LOGD("socket %s: unknown ack id %" PRId64, s->id, pkt->id);
    break;
  case SIO_PACKET_DISCONNECT:
    sio_socket_close(s, "client namespace disconnect");
    break;
  default:
    break;
  }
  sio_socket_unref(s);
}

/* ------------------------------------------------------------ public API */

const char *sio_socket_id(const sio_socket *s) { return s->id; }

sio_namespace *sio_socket_namespace(const sio_socket *s) { return s->ns; }

sio_server *sio_socket_server(const sio_socket *s) { return s->ns->srv; }

static eio_socket *session_of(const sio_socket *s) {
  return s->client ? s->client->es : NULL;
}

const char *sio_socket_header(const sio_socket *s, const char *name) {
  eio_socket *es = session_of(s);
  return es && name ? eio_socket_header(es, name) : NULL;
}

const char *sio_socket_query(const sio_socket *s, const char *name) {
  eio_socket *es = session_of(s);
  return es && name ? eio_socket_query(es, name) : NULL;
}

const char *sio_socket_remote_addr(const sio_socket *s) {
  eio_socket *es = session_of(s);
  return es ? eio_socket_remote_addr(es) : NULL;
}

const char *sio_socket_transport(const sio_socket *s) {
  eio_socket *es = session_of(s);
  return es ? eio_socket_transport(es) : NULL;
}

void sio_socket_set_data(sio_socket *s, void *data) { s->data = data; }

void *sio_socket_get_data(const sio_socket *s) { return s->data; }

int sio_socket_connected(const sio_socket *s) {
  return s->state == SIO_SOCKET_CONNECTED;
}

static int emit_id(sio_socket *s, const char *event, json_object *args,
                   const sio_bin *bins, size_t nbins, int64_t id) {
  sio_outpkt p;
  int rv;
  rv = sio_outpkt_event(&p, sio_server_scratch(s->ns->srv), s->ns->name, id,
                        event, args, bins, nbins);
  if (rv)
    return rv;
  rv = sio_client_send(s->client, &p);
  sio_outpkt_release(&p);
  return rv;
}

static int emit_check(const sio_socket *s, const char *event,
                      const sio_bin *bins, size_t nbins) {
  if (!s || !event || (nbins && !bins))
    return SIO_ERR_INVAL;
  if (s->state != SIO_SOCKET_CONNECTED || !s->client)
    return SIO_ERR_CLOSED;
  if (sio_event_name_reserved(event, strlen(event)))
    return SIO_ERR_INVAL;
  return 0;
}

int sio_socket_emit(sio_socket *s, const char *event, json_object *args,
                    const sio_bin *bins, size_t nbins) {
  int rv = emit_check(s, event, bins, nbins);
  if (rv)
    return rv;
  if (s->ns->recovery) {
    /* As the reference does with recovery on: through the broadcast path,
     * to the socket's own room, so the event gets an offset and is kept
     * for a reconnection. */
    const char *room = s->id;
    sio_broadcast_opts o;
    memset(&o, 0, sizeof(o));
    o.rooms = &room;
    o.nrooms = 1;
    if (sio_cluster_recovery_broadcast(s->ns, &o, event, args, bins, nbins,
                                       &rv))
      return rv < 0 ? rv : 0; /* it comes back numbered by the cluster */
    rv = sio_broadcast_to_self(s->ns, &o, event, args, bins, nbins);
    if (sio_group_sequences(s->ns))
      return rv < 0 ? rv : 0; /* it comes back in the group's order */
    return rv < 0 ? rv : rv == 0 ? SIO_ERR_CLOSED : 0;
  }
  return emit_id(s, event, args, bins, nbins, -1);
}

int sio_socket_recovered(const sio_socket *s) { return s && s->recovered; }

int sio_socket_set_owner(sio_socket *s, const char *owner) {
  char *copy = NULL;
  if (!s)
    return SIO_ERR_INVAL;
  if (s->state != SIO_SOCKET_PENDING)
    return SIO_ERR_STATE;
  if (owner && owner[0]) {
    copy = sio_strdup(owner);
    if (!copy)
      return SIO_ERR_NOMEM;
  }
  sio_free(s->owner);
  s->owner = copy;
  return 0;
}

int sio_socket_emit_ack(sio_socket *s, const char *event, json_object *args,
                        const sio_bin *bins, size_t nbins, uint32_t timeout_ms,
                        sio_ack_cb cb, void *ud) {
  int64_t id;
  int rv = emit_check(s, event, bins, nbins);
  if (rv)
    return rv;
  if (!cb)
    return SIO_ERR_INVAL;
  id = sio_ack_next_id(&s->ns->next_ack_id);
  rv = sio_ack_table_add(&s->acks, s->ns->srv->loop, id, timeout_ms, s, cb, ud);
  if (rv)
    return rv;
  rv = emit_id(s, event, args, bins, nbins, id);
  if (rv)
    sio_ack_table_discard(&s->acks, id); /* cb never fires */
  return rv;
}

int sio_socket_ack(sio_socket *s, int64_t ack_id, json_object *args,
                   const sio_bin *bins, size_t nbins) {
  sio_outpkt p;
  int rv;
  if (!s || ack_id < 0 || (nbins && !bins))
    return SIO_ERR_INVAL;
  if (s->state != SIO_SOCKET_CONNECTED || !s->client)
    return SIO_ERR_CLOSED;
  rv = sio_outpkt_ack(&p, sio_server_scratch(s->ns->srv), s->ns->name, ack_id,
                      args, bins, nbins);
  if (rv)
    return rv;
  rv = sio_client_send(s->client, &p);
  sio_outpkt_release(&p);
  if (!rv)
    s->ns->srv->stats.acks_sent++;
  return rv;
}

int sio_socket_join(sio_socket *s, const char *room) {
  sio_server *srv;
  int rv;
  if (!room)
    return SIO_ERR_INVAL;
  if (s->state == SIO_SOCKET_CLOSED)
    return SIO_ERR_CLOSED;
  rv = sio_rooms_join(&s->ns->rooms, &s->member, room, strlen(room));
  s->persist_dirty = 1;
  srv = s->ns->srv;
  if (rv == 0 && srv->has_adapter && srv->adapter.joined)
    srv->adapter.joined(srv->adapter_ud, s, room);
  return rv;
}

int sio_socket_leave(sio_socket *s, const char *room) {
  sio_server *srv;
  int rv;
  if (!room || s->state == SIO_SOCKET_CLOSED)
    return SIO_ERR_NOTFOUND;
  rv = sio_rooms_leave(&s->ns->rooms, &s->member, room, strlen(room));
  s->persist_dirty = 1;
  srv = s->ns->srv;
  if (rv == 0 && srv->has_adapter && srv->adapter.left)
    srv->adapter.left(srv->adapter_ud, s, room);
  return rv;
}

int sio_socket_in_room(const sio_socket *s, const char *room) {
  if (!room || s->state == SIO_SOCKET_CLOSED)
    return 0;
  return sio_rooms_contains(&s->ns->rooms, &s->member, room, strlen(room));
}

void sio_socket_rooms(const sio_socket *s,
                      void (*cb)(const char *room, void *ud), void *ud) {
  if (!cb || s->state == SIO_SOCKET_CLOSED)
    return;
  sio_rooms_foreach_of(&s->member, cb, ud);
}

void sio_socket_set_json_data(sio_socket *s, json_object *data) {
  if (!s) {
    json_object_put(data);
    return;
  }
  json_object_put(s->jdata);
  s->jdata = data;
}

json_object *sio_socket_get_json_data(const sio_socket *s) {
  return s ? s->jdata : NULL;
}

void sio_socket_disconnect(sio_socket *s, int close_transport) {
  if (!s || s->state != SIO_SOCKET_CONNECTED)
    return;
  if (close_transport) {
    sio_client_disconnect_all(s->client);
    return;
  }
  sio_socket_send_disconnect(s);
  sio_socket_close(s, "server namespace disconnect");
}
