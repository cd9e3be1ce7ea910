/* sio_restore.c: connection state recovery kept by the cluster adapter
 * (see sio_restore.h). The local store (sio_recovery.c) answers a restore
 * in the CONNECT's own call; the adapter answers later, so the socket
 * waits on its client's restoring queue with a request holding a
 * reference to it. When the answer comes the session is applied the way
 * try_recover (sio_namespace.c) applies a local one: the owner must match,
 * the id must be free, the recovery filter picks the rooms, and only the
 * missed events those rooms select are replayed, in the adapter's order,
 * each with its offset. Anything short of that is a fresh session. */
#include "sio_restore.h"

#include <string.h>

#include "sio/adapter.h"
#include "sio_broadcast.h"
#include "sio_client.h"
#include "sio_int.h"
#include "sio_log.h"
#include "sio_mem.h"
#include "sio_namespace.h"
#include "sio_server.h"
#include "sio_socket.h"

/* the local store's bound on one restore (sio_recovery_limits) */
#define MAX_MISSED 1000
#define MAX_MISSED_BYTES (1024 * 1024)

typedef struct restore_req {
  sio_socket *s; /* referenced; s->client NULL once cancelled */
  sio_namespace *ns;
} restore_req;

static int same_owner(const char *a, const char *b) {
  return strcmp(a ? a : "", b ? b : "") == 0;
}

/* The rooms a resumed session keeps: its id room and those of sess the
 * recovery filter keeps. */
typedef struct kept_rooms {
  const char **v;
  size_t n;
} kept_rooms;

static int kept_has(const kept_rooms *k, const char *room) {
  size_t i;
  for (i = 0; i < k->n; i++)
    if (strcmp(k->v[i], room) == 0)
      return 1;
  return 0;
}

/* 1 when a broadcast sent with o reaches a socket in the kept rooms. */
static int selects(const kept_rooms *k, const sio_broadcast_opts *o) {
  size_t i;
  int in = o->nrooms == 0;
  for (i = 0; i < o->nrooms && !in; i++)
    in = o->rooms[i] && kept_has(k, o->rooms[i]);
  for (i = 0; i < o->nexcept && in; i++)
    in = !(o->except[i] && kept_has(k, o->except[i]));
  return in;
}

/* Encodes the missed events the kept rooms select into *out (*n of them).
 * Returns 0, SIO_ERR_LIMIT (more than one restore may replay) or
 * SIO_ERR_NOMEM. */
static int encode_missed(sio_namespace *ns, const kept_rooms *k,
                         const sio_adapter_missed *m, size_t nm,
                         sio_outpkt **out, size_t *n) {
  static const sio_broadcast_opts all = {NULL, 0, NULL, 0, 0};
  size_t i, bytes = 0;
  sio_outpkt *v;
  *out = NULL;
  *n = 0;
  if (!nm)
    return 0;
  if (nm > MAX_MISSED)
    return SIO_ERR_LIMIT;
  v = sio_calloc(nm, sizeof(*v));
  if (!v)
    return SIO_ERR_NOMEM;
  for (i = 0; i < nm; i++) {
    int rv;
    if (!m[i].offset || !m[i].event || !selects(k, m[i].o ? m[i].o : &all))
      continue;
    rv = sio_outpkt_event_offset(&v[*n], sio_server_scratch(ns->srv), ns->name,
                                 m[i].event, m[i].args, m[i].bins, m[i].nbins,
                                 m[i].offset);
    if (!rv) {
      bytes += v[*n].bytes;
      (*n)++;
    }
    if (!rv && bytes > MAX_MISSED_BYTES)
      rv = SIO_ERR_LIMIT;
    if (rv) {
      while (*n)
        sio_outpkt_release(&v[--*n]);
      sio_free(v);
      return rv;
    }
  }
  *out = v;
  return 0;
}

static void release_pkts(sio_outpkt *v, size_t n) {
  size_t i;
  for (i = 0; i < n; i++)
    sio_outpkt_release(&v[i]);
  sio_free(v);
}

/* Resumes sess on s: the missed events into *pkts, then s's id, pid and
 * rooms. Returns 0, or an error with s untouched (a fresh session). */
static int resume(sio_namespace *ns, sio_socket *s,
                  const sio_adapter_session *sess,
                  const sio_adapter_missed *missed, size_t nmissed,
                  sio_outpkt **pkts, size_t *npkts) {
  kept_rooms k;
  size_t i;
  int rv;
  *pkts = NULL;
  *npkts = 0;
  if (!sess || !sess->sid || !sess->pid || !same_owner(sess->owner, s->owner) ||
      strlen(sess->pid) >= sizeof(s->pid) || (sess->nrooms && !sess->rooms))
    return SIO_ERR_NOTFOUND;
  k.v = sio_malloc((sess->nrooms + 1) * sizeof(*k.v));
  if (!k.v)
    return SIO_ERR_NOMEM;
  k.v[0] = sess->sid;
  k.n = 1;
  for (i = 0; i < sess->nrooms; i++)
    if (sess->rooms[i] && !kept_has(&k, sess->rooms[i]) &&
        sio_namespace_keeps_room(ns, s, sess->rooms[i]))
      k.v[k.n++] = sess->rooms[i];
  rv = encode_missed(ns, &k, missed, nmissed, pkts, npkts);
  if (!rv && strcmp(sess->sid, s->id) != 0 &&
      sio_socket_take_id(s, sess->sid)) {
    rv = SIO_ERR_EXISTS; /* the id is in use again: not the same session */
    release_pkts(*pkts, *npkts);
    *pkts = NULL;
    *npkts = 0;
  }
  if (!rv) {
    snprintf(s->pid, sizeof(s->pid), "%s", sess->pid);
    s->recovered = 1;
    for (i = 1; i < k.n; i++)
      sio_socket_join(s, k.v[i]);
  }
  sio_free(k.v);
  return rv;
}

static void on_restored(void *ud, int status, const sio_adapter_session *sess,
                        const sio_adapter_missed *missed, size_t nmissed) {
  restore_req *q = ud;
  sio_socket *s = q->s;
  sio_namespace *ns = q->ns;
  sio_client *c = s->client;
  sio_outpkt *pkts = NULL;
  size_t npkts = 0;
  int rv;
  sio_free(q);
  if (!c) { /* the client went away meanwhile */
    sio_socket_unref(s);
    return;
  }
  sio_queue_remove(&s->client_link);
  sio_queue_init(&s->client_link);
  if (!status)
    status = resume(ns, s, sess, missed, nmissed, &pkts, &npkts);
  if (status && status != SIO_ERR_NOTFOUND)
    SIO_LOGD("session not resumed on %s: %s", ns->name, sio_err_name(status));
  rv = sio_namespace_accept(ns, s, pkts, npkts);
  release_pkts(pkts, npkts);
  if (rv && s->client)
    sio_client_close(s->client);
  sio_socket_unref(s);
}

int sio_restore_start(sio_namespace *ns, sio_socket *s, const char *pid,
                      const char *offset) {
  sio_server *srv = ns->srv;
  restore_req *q = sio_malloc(sizeof(*q));
  int rv;
  if (!q)
    return 0;
  q->s = s;
  q->ns = ns;
  sio_socket_ref(s);
  rv = srv->adapter.restore_session(srv->adapter_ud, ns, pid, offset, s->owner,
                                    on_restored, q);
  if (rv) {
    SIO_LOGD("session restore on %s not asked: %s", ns->name, sio_err_name(rv));
    sio_socket_unref(s);
    sio_free(q);
    return 0;
  }
  sio_queue_insert_tail(&s->client->restoring, &s->client_link);
  return 1;
}

int sio_restore_pending(const sio_client *c, const sio_namespace *ns) {
  const sio_queue *q;
  for (q = c->restoring.next; q != &c->restoring; q = q->next) {
    const sio_socket *s = sio_container_of(q, sio_socket, client_link);
    if (s->ns == ns)
      return 1;
  }
  return 0;
}

void sio_restore_cancel(sio_client *c) {
  while (!sio_queue_empty(&c->restoring)) {
    sio_socket *s = sio_container_of(sio_queue_head(&c->restoring), sio_socket,
                                     client_link);
    sio_queue_remove(&s->client_link);
    sio_queue_init(&s->client_link);
    sio_socket_refuse(s); /* the request's reference keeps it */
  }
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

static int persist(sio_socket *s) {
  sio_server *srv = s->ns->srv;
  room_vec rooms = {{NULL}, 0};
  sio_adapter_session sess;
  sio_socket_rooms(s, add_room, &rooms);
  sess.pid = s->pid;
  sess.sid = s->id;
  sess.owner = s->owner;
  sess.rooms = rooms.v;
  sess.nrooms = rooms.n;
  return srv->adapter.persist_session(srv->adapter_ud, s->ns, &sess,
                                      srv->opts.max_disconnection_ms);
}

void sio_restore_refresh(sio_server *srv, uint32_t period_ms) {
  sio_queue *cq, *sq;
  /* ticks a copy may age before it is renewed: half its TTL */
  uint32_t renew =
      srv->opts.max_disconnection_ms / 2 / (period_ms ? period_ms : 1);
  sio_queue_foreach(cq, &srv->clients) {
    sio_client *c = sio_container_of(cq, sio_client, link);
    sio_queue_foreach(sq, &c->sockets) {
      sio_socket *s = sio_container_of(sq, sio_socket, client_link);
      if (s->state != SIO_SOCKET_CONNECTED || !s->pid[0])
        continue;
      if (!s->persist_dirty &&
          srv->recovery_ticks - s->persisted_tick < (renew ? renew : 1))
        continue;
      if (persist(s) == 0) {
        s->persist_dirty = 0;
        s->persisted_tick = srv->recovery_ticks;
      }
    }
  }
}

size_t sio_server_persist_sessions(sio_server *srv) {
  sio_queue *cq, *sq;
  size_t n = 0;
  if (!srv || !sio_server_adapter_recovery(srv))
    return 0;
  sio_queue_foreach(cq, &srv->clients) {
    sio_client *c = sio_container_of(cq, sio_client, link);
    sio_queue_foreach(sq, &c->sockets) {
      sio_socket *s = sio_container_of(sq, sio_socket, client_link);
      if (s->state == SIO_SOCKET_CONNECTED && s->pid[0] && persist(s) == 0) {
        s->persist_dirty = 0;
        s->persisted_tick = srv->recovery_ticks;
        n++;
      }
    }
  }
  return n;
}

void sio_restore_on_close(sio_socket *s, int recoverable) {
  sio_server *srv = s->ns->srv;
  int rv;
  if (!s->pid[0])
    return;
  if (recoverable) {
    rv = persist(s);
  } else {
    rv = srv->adapter.drop_session(srv->adapter_ud, s->ns, s->pid);
  }
  if (rv)
    SIO_LOGD("session %s on %s not %s: %s", s->pid, s->ns->name,
             recoverable ? "persisted" : "dropped", sio_err_name(rv));
}
