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
 * is dropped without an answer.
 *
 * Unlike the reference, a recovery request ({pid, offset}) is honoured
 * only after on_authorize accepted: the hook sees a fresh socket, may bind
 * it to an owner (sio_socket_set_owner), and only then does the socket take
 * the old session's id, its rooms (each re-checked by the namespace's
 * recovery filter) and the packets those rooms missed. */
#include "sio_namespace.h"

#include <stdio.h>
#include <string.h>

#include "sio_broadcast.h"
#include "sio_client.h"
#include "sio_group.h"
#include "sio_history.h"
#include "sio_int.h"
#include "sio_log.h"
#include "sio_mem.h"
#include "sio_restore.h"
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
    /* a replay must fit in the output bound with room to spare, or the
     * resumed session would be closed as a slow consumer at once */
    if (srv->opts.max_buffered && srv->opts.max_buffered / 2 < (1u << 20))
      lim.max_missed_bytes =
          srv->opts.max_buffered / 2 ? srv->opts.max_buffered / 2 : 1;
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
  sio_history_free(ns->history);
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

typedef struct keep_ctx {
  sio_namespace *ns;
  sio_socket *s;
} keep_ctx;

static int keep_room(const char *room, void *ud) {
  keep_ctx *k = ud;
  return sio_namespace_keeps_room(k->ns, k->s, room);
}

/* Resumes the session of pid for s, already authorized (so its owner is
 * known): s takes the session's id and the rooms the filter keeps, and
 * *rec holds the missed packets to replay. Any failure leaves s a fresh
 * socket, with nothing of the old session. Returns 1 when resumed. */
static int try_recover(sio_namespace *ns, sio_socket *s, const char *pid,
                       const char *offset, sio_recovered *rec) {
  keep_ctx k = {ns, s};
  size_t i;
  if (sio_group_sequences(ns)) /* the group keeps the sessions */
    sio_group_claim_session(ns, pid, s->owner, uv_now(ns->srv->loop));
  if (sio_recovery_restore(ns->recovery, pid, offset, s->owner,
                           uv_now(ns->srv->loop),
                           ns->recovery_filter ? keep_room : NULL, &k, rec))
    return 0;
  if (sio_socket_take_id(s, rec->sid)) {
    /* the id is in use again (only by a socket that took it meanwhile):
     * resuming under another id would not be the same session */
    sio_recovered_release(rec);
    return 0;
  }
  /* the same pid, as the reference: the stock client reports
   * socket.recovered only when the reply carries the pid it presented */
  snprintf(s->pid, sizeof(s->pid), "%s", pid);
  snprintf(s->floor, sizeof(s->floor), "%s", rec->floor);
  s->recovered = 1;
  for (i = 0; i < rec->nrooms; i++)
    if (strcmp(rec->rooms[i], s->id) != 0)
      sio_socket_join(s, rec->rooms[i]);
  return 1;
}

int sio_namespace_connect(sio_namespace *ns, sio_client *c, json_object *auth) {
  sio_socket *s;
  const char *pid = NULL, *offset = NULL;
  sio_recovered rec;
  int rv;
  memset(&rec, 0, sizeof(rec));
  rv = sio_socket_new(&s, ns, c, NULL);
  if (rv)
    return rv;
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
      return 0;
    }
    if (verdict < 0) {
      ns->stats.refusals++;
      if (!err)
        err = default_refusal();
      rv = err ? send_connect_error(c, ns->name, err) : SIO_ERR_NOMEM;
      json_object_put(err);
      sio_socket_refuse(s);
      return rv;
    }
    json_object_put(err); /* set although accepted: not ours to keep */
  }
  /* Recovery comes after authorization: the session is resumed only for
   * its owner, and the room rules apply before anything is replayed. */
  if (recovery_request(ns, auth, &pid, &offset)) {
    if (sio_server_adapter_recovery(ns->srv)) {
      if (sio_restore_start(ns, s, pid, offset))
        return 0; /* the connect completes when the adapter answers */
    } else {
      try_recover(ns, s, pid, offset, &rec);
    }
  }
  rv = sio_namespace_accept(ns, s, rec.missed, rec.nmissed);
  sio_recovered_release(&rec);
  return rv;
}

int sio_namespace_accept(sio_namespace *ns, sio_socket *s,
                         const sio_outpkt *missed, size_t nmissed) {
  size_t i;
  int rv = sio_socket_accept(s);
  if (rv)
    return rv; /* the caller closes the session, which closes s */
  /* the events missed while away, in order, before anything new */
  for (i = 0; i < nmissed && s->client; i++)
    sio_client_send(s->client, &missed[i]);
  if (ns->h.on_connection) {
    sio_socket_ref(s);
    ns->h.on_connection(s, ns->ud);
    sio_socket_unref(s);
  }
  return 0;
}

int sio_namespace_keeps_room(sio_namespace *ns, sio_socket *s,
                             const char *room) {
  return !ns->recovery_filter ||
         ns->recovery_filter(s, room, ns->recovery_filter_ud) == 1;
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

void sio_namespace_set_recovery_filter(sio_namespace *ns,
                                       sio_recovery_room_cb cb, void *ud) {
  ns->recovery_filter = cb;
  ns->recovery_filter_ud = ud;
}

int sio_namespace_set_history(sio_namespace *ns,
                              const sio_history_config *cfg) {
  sio_history_limits lim;
  if (!ns || !cfg || !cfg->id_of)
    return SIO_ERR_INVAL;
  if (ns->history)
    return SIO_ERR_STATE;
  lim.max_events = cfg->max_events;
  lim.max_age_ms = cfg->max_age_ms;
  ns->history = sio_history_new(&lim);
  if (!ns->history)
    return SIO_ERR_NOMEM;
  ns->history_id = cfg->id_of;
  ns->history_ud = cfg->ud;
  ns->history_max_events = cfg->max_events ? cfg->max_events : 1000;
  ns->history_max_age_ms = cfg->max_age_ms ? cfg->max_age_ms : 300000;
  return 0;
}

void sio_namespace_history_stats(sio_namespace *ns, size_t *events,
                                 size_t *bytes) {
  if (ns && ns->history)
    sio_history_expire(ns->history, uv_now(ns->srv->loop));
  if (events)
    *events = ns ? sio_history_events(ns->history) : 0;
  if (bytes)
    *bytes = ns ? sio_history_bytes(ns->history) : 0;
}

const char *sio_namespace_name(const sio_namespace *ns) { return ns->name; }

size_t sio_namespace_socket_count(const sio_namespace *ns) {
  return ns->nsockets;
}
