#ifndef SIO_SERVER_H
#define SIO_SERVER_H

/* Internal view of the public sio_server and sio_options objects (the
 * Socket.IO layer's root). Never installed: the public API stays opaque. */

#include <stddef.h>
#include <stdint.h>
#include <uv.h>

#include "eio_server.h"
#include "sio/adapter.h"
#include "sio/sio.h"
#include "sio_buf.h"
#include "sio_mailbox.h"
#include "sio_map.h"
#include "sio_queue.h"

struct sio_options {
  char *path; /* owned */
  uint32_t ping_interval;
  uint32_t ping_timeout;
  size_t max_payload;
  uint32_t connect_timeout; /* ms; 0 disables the CONNECT deadline */
  int transports;
  char *cors_origins; /* owned; NULL: no CORS headers */
  int cors_credentials;
  char *cookie; /* owned; NULL: none */
  size_t max_buffered;
  uint32_t max_connections;
  uint32_t backlog; /* 0: 511 */
  int recovery;                  /* connection state recovery on */
  uint32_t max_disconnection_ms; /* how long a session can be recovered */
  uint32_t persist_interval_ms;  /* adapter recovery: session refresh */
  char *tls_cert; /* owned; NULL: plain TCP */
  char *tls_key;
  char *tls_chain;
  int tls13_only; /* tls min version 1.3 */
  uint32_t close_timeout_ms; /* graceful close bound; 0: default */
  int forwarding;            /* sticky-free: a bus is wanted */
  uint32_t takeover_ms;
};

/* Counters of the Socket.IO layer, for the daemon's /metrics. Packets are
 * Socket.IO packets (a binary packet counts once); bytes are every
 * Engine.IO message payload, attachments included. Outgoing counts are per
 * recipient, as queued. */
typedef struct sio_counters {
  uint64_t packets_in;
  uint64_t packets_out;
  uint64_t bytes_in;
  uint64_t bytes_out;
  uint64_t clients;       /* Engine.IO sessions open now */
  uint64_t broadcasts;    /* sio_namespace_broadcast calls that encoded */
  uint64_t acks_resolved; /* server-asked acks answered by a client */
  uint64_t acks_sent;     /* acks the server sent for client events */
  uint64_t parse_errors;  /* sessions closed for a bad packet */
  uint64_t replayed;      /* events sent by replays from a last event id */
  uint64_t replay_overflows; /* clients closed: too much held in a replay */
} sio_counters;

/* An asynchronous cluster call in flight (sio_cluster.c): the server
 * cancels whatever is left when it closes. cancel unlinks nothing (the
 * server already did) and must fire the call's callback with
 * SIO_ERR_CANCELED. */
typedef struct sio_pending {
  sio_queue link; /* in sio_server.pending */
  void (*cancel)(struct sio_pending *p);
} sio_pending;

struct sio_server {
  uv_loop_t *loop;
  eio_server *eio;
  struct sio_options opts;
  sio_map nsps;      /* name -> sio_namespace * (owned) */
  sio_queue clients; /* sio_client.link */
  sio_buf scratch;   /* encode buffer shared by every emit */
  sio_counters stats;
  uv_timer_t recovery_timer; /* expires recovery stores (when enabled) */
  sio_mailbox inbox; /* sio_server_post */
  sio_engine_publish_fn bus_publish; /* the Engine.IO request bus */
  void *bus_ud;
  uint32_t recovery_ticks;   /* recovery_timer runs so far */
  sio_http_cb http_cb;
  void *http_ud;
  sio_handshake_cb handshake_cb;
  void *handshake_ud;
  /* the cluster adapter (include/sio/adapter.h); has_adapter 0: the
   * in-memory one, i.e. this instance only */
  sio_adapter_ops adapter;
  void *adapter_ud;
  int has_adapter;
  sio_queue pending; /* sio_pending */
  /* server.threads (sio_group.c): the group and this loop's index in it;
   * group_relays when its adapter is the loops adapter
   * (SIO_ADAPTER_LOOPS), not one of its own */
  struct sio_group *group;
  unsigned group_index;
  int group_relays;
  uint64_t relay_failures; /* broadcasts not handed to another loop */
  int closing;
  int close_waits; /* engine and adapter closes still outstanding */
  sio_server_closed_cb close_cb;
  void *close_ud;
};

/* The namespace named by name[0..len), or NULL. name borrowed. */
sio_namespace *sio_server_find_nsp(const sio_server *s, const char *name,
                                   size_t len);
/* eio upcalls for plain HTTP and handshake vetting (sio_server_http.c). */
void sio_server_on_http(sio_conn *c, const sio_http_request *req, void *ud);
int sio_server_on_handshake(sio_conn *c, const sio_http_request *req,
                            const char **message, void *ud);
/* 1 when recovery is on and the adapter keeps it for the cluster
 * (SIO_ADAPTER_RECOVERY): sessions and offsets are the adapter's. */
static inline int sio_server_adapter_recovery(const sio_server *s) {
  return s->opts.recovery && s->has_adapter &&
         (s->adapter.flags & SIO_ADAPTER_RECOVERY);
}
/* The shared encode buffer, emptied. Shrinks it first when a large packet
 * left it big, so one huge emit does not pin memory. */
sio_buf *sio_server_scratch(sio_server *s);

#endif
