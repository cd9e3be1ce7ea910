/* sio_namespace.c: namespaces (socket.io-protocol README, "Connection to a
 * namespace") and the CONNECT decision.
 *
 * Role: a namespace is created by sio_server_of() (the main namespace "/"
 * exists from the start, as in the reference server) and lives until the
 * server is freed. It owns its room index, which doubles as its socket
 * table, and the ack id counter its sockets share (the reference counts
 * ids per namespace too).
 *
 * CONNECT handling mirrors the reference's Namespace._add(): the socket is
 * created first (so the authorize hook sees its id and handshake), then
 * on_authorize decides; a refusal answers CONNECT_ERROR with the hook's
 * object (default {"message":"Not authorized"}) and leaves the session
 * open; an acceptance queues the CONNECT reply {"sid":...} and only then
 * runs on_connection, so whatever on_connection emits follows the reply on
 * the wire. If the session started closing while the hook ran, the socket
 * is dropped without an answer. */
#include "sio_namespace.h"

#include <stdio.h>
#include <string.h>

#include "sio_broadcast.h"
#include "sio_client.h"
#include "sio_int.h"
#include "sio_log.h"
#include "sio_mem.h"
#include "sio_server.h"
#include "sio_socket.h"

int sio_namespace_new(sio_namespace **out, sio_server *srv, const char *name) {
  sio_namespace *ns = sio_calloc(1, sizeof(*ns));
  *out = NULL;
  if (!ns)
    return SIO_ERR_NOMEM;
  ns->namelen = strlen(name);
  ns->name = sio_strndup(name, ns->namelen);
  if (!ns->name) {
    sio_free(ns);
    return SIO_ERR_NOMEM;
  }
  ns->srv = srv;
  sio_rooms_init(&ns->rooms);
  if (srv->opts.recovery) {
    sio_recovery_limits lim;
    memset(&lim, 0, sizeof(lim));
    lim.max_disconnection_ms = srv->opts.max_disconnection_ms;
    ns->recovery = sio_malloc(sizeof(*ns->recovery));
    if (!ns->recovery) {
      sio_rooms_deinit(&ns->rooms);
      sio_free(ns->name);
      sio_free(ns);
      return SIO_ERR_NOMEM;
    }
    sio_recovery_init(ns->recovery, &lim);
  }
  *out = ns;
  return 0;
}

void sio_namespace_del(sio_namespace *ns) {
  if (!ns)
    return;
  if (ns->recovery) {
    sio_recovery_deinit(ns->recovery);
    sio_free(ns->recovery);
  }
  sio_rooms_deinit(&ns->rooms);
  sio_free(ns->name);
  sio_free(ns);
}

/* Queues CONNECT_ERROR with data (borrowed) on the socket's namespace. */
static int send_connect_error(sio_client *c, const char *nsp,
                              json_object *data) {
  sio_outpkt p;
  int rv = sio_outpkt_control(&p, sio_server_scratch(c->srv),
                              SIO_PACKET_CONNECT_ERROR, nsp, data);
  if (rv)
    return rv;
  rv = sio_client_send(c, &p);
  sio_outpkt_release(&p);
  return rv == SIO_ERR_NOMEM ? rv : 0;
}

static json_object *default_refusal(void) {
  json_object *o = json_object_new_object();
  json_object *m = json_object_new_string("Not authorized");
  if (!o || !m || json_object_object_add(o, "message", m)) {
    json_object_put(m);
    json_object_put(o);
    return NULL;
  }
  return o;
}

/* The recovery request in a CONNECT payload: {"pid": "...", "offset":
 * "..."} (socket.io-client adds both to its auth object). */
static int recovery_request(const sio_namespace *ns, json_object *auth,
                            const char **pid, const char **offset) {
  json_object *p, *o;
  if (!ns->recovery || !auth || !json_object_is_type(auth, json_type_object) ||
      !json_object_object_get_ex(auth, "pid", &p) ||
      !json_object_object_get_ex(auth, "offset", &o) ||
      !json_object_is_type(p, json_type_string) ||
      !json_object_is_type(o, json_type_string))
    return 0;
  *pid = json_object_get_string(p);
  *offset = json_object_get_string(o);
  return 1;
}

typedef struct missed_list {
  sio_outpkt *v;
  size_t n, cap;
  int failed;
} missed_list;

/* Collects the missed packets (references) to send after the CONNECT
 * reply. */
static void collect_missed(const sio_outpkt *p, void *ud) {
  missed_list *l = ud;
  sio_outpkt *slot;
  size_t i;
  if (l->failed)
    return;
  if (l->n == l->cap) {
    size_t cap = l->cap ? l->cap * 2 : 16;
    sio_outpkt *v = sio_realloc(l->v, cap * sizeof(*v));
    if (!v) {
      l->failed = 1;
      return;
    }
    l->v = v;
    l->cap = cap;
  }
  slot = &l->v[l->n++];
  *slot = *p;
  /* the slot only borrows: the store keeps p alive until the next call on
   * it, so hold our own references */
  sio_rcbuf_ref(slot->head);
  if (p->atts == p->inline_atts || !p->natts) {
    slot->atts = slot->inline_atts;
  } else {
    slot->atts = sio_malloc(p->natts * sizeof(*slot->atts));
    if (!slot->atts) {
      sio_rcbuf_unref(slot->head);
      l->n--;
      l->failed = 1;
      return;
    }
  }
  for (i = 0; i < p->natts; i++)
    slot->atts[i] = sio_rcbuf_ref(p->atts[i]);
}

static void missed_free(missed_list *l) {
  size_t i;
  for (i = 0; i < l->n; i++)
    sio_outpkt_release(&l->v[i]);
  sio_free(l->v);
}

int sio_namespace_connect(sio_namespace *ns, sio_client *c, json_object *auth) {
  sio_socket *s;
  const char *pid = NULL, *offset = NULL;
  missed_list missed = {NULL, 0, 0, 0};
  sio_recovered rec;
  int rv, recovered = 0;
  size_t i;
  if (recovery_request(ns, auth, &pid, &offset) &&
      sio_recovery_restore(ns->recovery, pid, offset, uv_now(ns->srv->loop),
                           &rec, collect_missed, &missed) == 0 &&
      !missed.failed)
    recovered = 1;
  rv = sio_socket_new(&s, ns, c, recovered ? rec.sid : NULL);
  if (rv) {
    missed_free(&missed);
    return rv;
  }
  if (recovered) {
    s->recovered = 1;
    snprintf(s->pid, sizeof(s->pid), "%s", pid);
    for (i = 0; i < rec.nrooms; i++)
      if (strcmp(rec.rooms[i], rec.sid) != 0)
        sio_socket_join(s, rec.rooms[i]);
  }
  if (ns->h.on_authorize) {
    json_object *err = NULL;
    int verdict;
    sio_socket_ref(s);
    verdict = ns->h.on_authorize(s, auth, &err, ns->ud);
    sio_socket_unref(s);
    if (c->closing) {
      SIO_LOGD("authorize on %s returned after the session closed", ns->name);
      json_object_put(err);
      sio_socket_refuse(s);
      missed_free(&missed);
      return 0;
    }
    if (verdict < 0) {
      ns->stats.refusals++;
      if (!err)
        err = default_refusal();
      rv = err ? send_connect_error(c, ns->name, err) : SIO_ERR_NOMEM;
      json_object_put(err);
      sio_socket_refuse(s);
      missed_free(&missed);
      return rv;
    }
    json_object_put(err); /* set although accepted: not ours to keep */
  }
  rv = sio_socket_accept(s);
  if (rv) {
    missed_free(&missed);
    return rv; /* the caller closes the session, which closes s */
  }
  /* the events missed while away, in order, before anything new */
  for (i = 0; i < missed.n && s->client; i++)
    sio_client_send(s->client, &missed.v[i]);
  missed_free(&missed);
  if (ns->h.on_connection) {
    sio_socket_ref(s);
    ns->h.on_connection(s, ns->ud);
    sio_socket_unref(s);
  }
  return 0;
}

/* ------------------------------------------------------------ public API */

void sio_namespace_set_handlers(sio_namespace *ns,
                                const sio_namespace_handlers *h, void *ud) {
  if (h)
    ns->h = *h;
  else
    memset(&ns->h, 0, sizeof(ns->h));
  ns->ud = ud;
}

const char *sio_namespace_name(const sio_namespace *ns) { return ns->name; }

size_t sio_namespace_socket_count(const sio_namespace *ns) {
  return ns->nsockets;
}
