#ifndef SIO_NAMESPACE_H
#define SIO_NAMESPACE_H

/* Internal view of the public sio_namespace: its handlers, its room index
 * (which is also its socket table) and its ack id counter. */

#include <json-c/json.h>
#include <stddef.h>
#include <stdint.h>

#include "sio/sio.h"
#include "sio_recovery.h"
#include "sio_rooms.h"

typedef struct sio_client sio_client;

typedef struct sio_namespace_stats {
  uint64_t connects;    /* sockets accepted */
  uint64_t refusals;    /* CONNECT_ERROR answers (authorize refused) */
  uint64_t disconnects; /* sockets that left, any reason */
} sio_namespace_stats;

struct sio_namespace {
  sio_server *srv;
  char *name; /* owned, "/" or "/admin" */
  size_t namelen;
  sio_namespace_handlers h;
  void *ud;
  sio_rooms rooms;     /* id -> member table and room index */
  size_t nsockets;     /* connected sockets */
  int64_t next_ack_id; /* shared by the namespace's sockets (reference) */
  sio_namespace_stats stats;
  sio_recovery *recovery; /* NULL unless connection state recovery is on */
  sio_recovery_room_cb recovery_filter; /* may be NULL: keep every room */
  void *recovery_filter_ud;
  struct sio_history *history; /* NULL unless sio_namespace_set_history */
  sio_history_id_cb history_id;
  void *history_ud;
  uint32_t history_max_events; /* the limits, defaults resolved, for an */
  uint32_t history_max_age_ms; /* adapter that keeps the history */
  sio_server_event_cb server_event_cb; /* other instances' server events */
  void *server_event_ud;
};

/* Creates namespace name (copied). Returns 0 or SIO_ERR_NOMEM. */
int sio_namespace_new(sio_namespace **out, sio_server *srv, const char *name);
/* Frees ns; every socket must have left it. NULL-safe. */
void sio_namespace_del(sio_namespace *ns);

/* Namespace._add(): runs on_authorize, then accepts (CONNECT reply, then
 * on_connection) or refuses (CONNECT_ERROR). auth borrowed (NULL when the
 * CONNECT had no payload). Returns 0, or SIO_ERR_NOMEM when nothing could
 * be answered (the caller closes the session). */
int sio_namespace_connect(sio_namespace *ns, sio_client *c, json_object *auth);
/* Accepts PENDING s (CONNECT reply), queues missed[0..nmissed) (borrowed)
 * to it in order, then runs on_connection. Returns 0 or SIO_ERR_NOMEM (the
 * caller closes the session). */
int sio_namespace_accept(sio_namespace *ns, sio_socket *s,
                         const sio_outpkt *missed, size_t nmissed);
/* 1 when a resumed session of s keeps room (the recovery filter's say). */
int sio_namespace_keeps_room(sio_namespace *ns, sio_socket *s,
                             const char *room);

#endif
