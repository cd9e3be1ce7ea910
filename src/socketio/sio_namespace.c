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
  *out = ns;
  return 0;
}

void sio_namespace_del(sio_namespace *ns) {
  if (!ns)
    return;
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

int sio_namespace_connect(sio_namespace *ns, sio_client *c, json_object *auth) {
  sio_socket *s;
  int rv;
  rv = sio_socket_new(&s, ns, c);
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
  rv = sio_socket_accept(s);
  if (rv)
    return rv; /* the caller closes the session, which closes s */
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
