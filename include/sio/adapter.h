#ifndef SIO_ADAPTER_H
#define SIO_ADAPTER_H

/* The adapter contract: how a server's namespaces reach the other
 * instances of a cluster (the reference server's Adapter class).
 *
 * Every namespace keeps its own room index; that index is the in-memory
 * adapter, and with no adapter installed every broadcast and cluster call
 * acts on this instance only. An adapter installed with
 * sio_server_set_adapter() carries the remote part: libsio delivers
 * locally first (a broadcast is encoded once for every local recipient),
 * then hands the same call to the adapter for the other instances, and
 * merges what they answer. libsio's Redis adapter (sio_server_use_redis)
 * is one; an embedder may write another (NATS, a test bus...) against
 * this header.
 *
 * Rules for an implementation:
 * - every function runs on the loop thread; pointers are borrowed for the
 *   call (copy what you keep); ad is the pointer given at installation;
 * - the functions returning int return 0 or a negative SIO_ERR_* code;
 *   a callback handed to one of them fires exactly once when it returned
 *   0 and never when it failed; never from inside the call itself;
 * - results from other instances are applied locally with the public
 *   calls and SIO_BCAST_LOCAL (sio_namespace_broadcast,
 *   sio_namespace_sockets_join...), which never come back to the adapter;
 * - close() is the last call: the adapter fires every pending callback
 *   with SIO_ERR_CANCELED, starts closing its handles and calls done(arg)
 *   once they are all closed (possibly from inside close()). */

#include "sio/sio.h"

#ifdef __cplusplus
extern "C" {
#endif

/* Where the remote part of sio_namespace_broadcast_ack() reports: count
 * once per other instance with the number of its clients that were asked,
 * response for each of their answers (the first acknowledgement argument,
 * placeholders indexing bins; all borrowed), done last and exactly once
 * (after the timeout, or at close), after which ud is forgotten. */
typedef struct sio_adapter_ack_sink {
  void (*count)(void *ud, size_t nclients);
  void (*response)(void *ud, json_object *arg, const sio_bin *bins,
                   size_t nbins);
  void (*done)(void *ud);
} sio_adapter_ack_sink;

typedef struct sio_adapter_stats {
  int connected;         /* 1 while the other instances are reachable */
  uint64_t messages_in;  /* messages received from the cluster */
  uint64_t messages_out; /* messages published */
  uint64_t dropped;      /* messages that could not be published */
  uint64_t latency_us;   /* round trip to the bus (Redis PING), 0: unknown */
} sio_adapter_stats;

typedef struct sio_adapter_ops {
  /* A namespace exists (those created before installation are announced
   * at installation). An error is logged; the namespace stays local. */
  int (*nsp_open)(void *ad, sio_namespace *ns);
  /* The remote part of a broadcast (SIO_BCAST_LOCAL broadcasts never
   * arrive here). */
  int (*broadcast)(void *ad, sio_namespace *ns, const sio_broadcast_opts *o,
                   const char *event, json_object *args, const sio_bin *bins,
                   size_t nbins);
  /* The remote part of sio_namespace_broadcast_ack (may be NULL: local
   * only). */
  int (*broadcast_ack)(void *ad, sio_namespace *ns, const sio_broadcast_opts *o,
                       const char *event, json_object *args,
                       const sio_bin *bins, size_t nbins, uint32_t timeout_ms,
                       const sio_adapter_ack_sink *sink, void *ud);
  /* Remote parts of sio_namespace_sockets_join/leave and
   * sio_namespace_disconnect_sockets. */
  int (*sockets_join)(void *ad, sio_namespace *ns, const sio_broadcast_opts *o,
                      const char *const *rooms, size_t nrooms);
  int (*sockets_leave)(void *ad, sio_namespace *ns, const sio_broadcast_opts *o,
                       const char *const *rooms, size_t nrooms);
  int (*disconnect_sockets)(void *ad, sio_namespace *ns,
                            const sio_broadcast_opts *o, int close_transport);
  /* The other instances' sockets (cb's sockets never have local set). */
  int (*fetch_sockets)(void *ad, sio_namespace *ns, const sio_broadcast_opts *o,
                       sio_fetch_cb cb, void *ud);
  /* The other instances' rooms. */
  int (*all_rooms)(void *ad, sio_namespace *ns, sio_rooms_cb cb, void *ud);
  /* Every instance serving ns, this one included. */
  int (*server_count)(void *ad, sio_namespace *ns, sio_count_cb cb, void *ud);
  /* sio_namespace_server_side_emit (cb may be NULL: no answers wanted). */
  int (*server_side_emit)(void *ad, sio_namespace *ns, const char *event,
                          json_object *args, sio_server_ack_cb cb, void *ud);
  /* Local membership changes, after the fact (each may be NULL). */
  void (*joined)(void *ad, sio_socket *s, const char *room);
  void (*left)(void *ad, sio_socket *s, const char *room);
  void (*disconnected)(void *ad, sio_socket *s);
  /* Fills out (may be NULL). */
  void (*stats)(void *ad, sio_adapter_stats *out);
  /* See the rules above. */
  void (*close)(void *ad, void (*done)(void *arg), void *arg);
} sio_adapter_ops;

/* Installs an adapter: ops is copied, ad is handed back to every call
 * until close(). Call before sio_server_listen, at most once. Returns 0,
 * SIO_ERR_INVAL (ops NULL or without broadcast/close) or SIO_ERR_STATE
 * (an adapter is already installed, or the server is closing); on error
 * nothing of ops is called. */
SIO_EXTERN int sio_server_set_adapter(sio_server *s, const sio_adapter_ops *ops,
                                      void *ad);

#ifdef __cplusplus
}
#endif

#endif
