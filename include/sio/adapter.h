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
 *   sio_namespace_sockets_join...) or with the incoming half below
 *   (sio_adapter_*), which never come back to the adapter;
 * - close() is the last call: the adapter fires every pending callback
 *   with SIO_ERR_CANCELED, starts closing its handles and calls done(arg)
 *   once they are all closed (possibly from inside close()).
 *
 * The header has two halves: sio_adapter_ops is what the server asks of
 * an adapter (outgoing); the sio_adapter_* and sio_server_* functions at
 * the end are what an adapter may ask of the server (incoming: this
 * instance's answers to the other instances' requests). An adapter needs
 * nothing else: libsio's own Redis adapter is written against this header
 * and <sio/sio.h> only. */

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

/* One event of a room history kept by the cluster: its id and its encoded
 * Socket.IO packet text (as sio_namespace_broadcast sends it, without a
 * recovery offset), both borrowed for the callback. */
typedef struct sio_adapter_history_event {
  const char *id;
  const uint8_t *pkt;
  size_t len;
} sio_adapter_history_event;
/* history_read's answer: status 0 with the n events after since in
 * publish order, each once, and complete (see sio_socket_replay); or an
 * error (SIO_ERR_IO, SIO_ERR_TIMEOUT, SIO_ERR_CANCELED...) with n 0. */
typedef void (*sio_adapter_history_cb)(void *ud, int status,
                                       const sio_adapter_history_event *ev,
                                       size_t n, int complete);

/* sio_adapter_ops.flags: another instance's broadcast to a room reaches
 * this one only while a local socket is in that room (the sharded
 * adapter's subscriptions), so an in-memory history here may lack events:
 * its replays are never called complete. */
#define SIO_ADAPTER_ROOMS_ON_DEMAND 1u
/* sio_adapter_ops.flags: the adapter keeps connection state recovery for
 * the whole cluster (the streams adapter). With recovery on, a broadcast
 * recovery would keep (no acknowledgement, not volatile, not
 * SIO_BCAST_LOCAL, sio_socket_emit included) is not delivered here at
 * once: it goes to broadcast() only, and the adapter numbers it and
 * delivers it on every instance, this one too, with sio_adapter_deliver,
 * so every instance gives its sockets the cluster's events in one order
 * under one offset. Sessions go to persist_session, restore_session and
 * drop_session (all three required) instead of this instance's memory. */
#define SIO_ADAPTER_RECOVERY 2u

/* sio_adapter_ops.flags: the adapter connects the loops of one process
 * (a sio_group; libsio's sio_server_use_loops). A grouped server with it
 * hands its broadcasts, encoded once, to the other loops itself (and
 * numbers those recovery keeps for the whole group), so broadcast() is
 * never called; the rest of the cluster calls go to the adapter. */
#define SIO_ADAPTER_LOOPS 4u

/* A recovery session: pid and sid as the CONNECT reply gave them, owner
 * (NULL: none; see sio_socket_set_owner) and the socket's rooms, its id
 * room included. All borrowed for the call. */
typedef struct sio_adapter_session {
  const char *pid;
  const char *sid;
  const char *owner;
  const char *const *rooms;
  size_t nrooms;
} sio_adapter_session;

/* One event a restored session missed: its offset, the broadcast as it
 * was made (event, args without the offset, attachments, and the rooms
 * and except-rooms it was sent to in o). Borrowed for the callback. libsio
 * replays those the restored rooms select, in the order given. */
typedef struct sio_adapter_missed {
  const char *offset;
  const char *event;
  json_object *args;
  const sio_bin *bins;
  size_t nbins;
  const sio_broadcast_opts *o;
} sio_adapter_missed;

/* restore_session's answer: status 0 with the session and what it missed
 * after the offset presented, oldest first; SIO_ERR_NOTFOUND (no such
 * session, expired, or the offset is no longer known: the client gets a
 * fresh session) or another error (the same, logged). */
typedef void (*sio_adapter_restore_cb)(void *ud, int status,
                                       const sio_adapter_session *sess,
                                       const sio_adapter_missed *missed,
                                       size_t nmissed);

typedef struct sio_adapter_ops {
  unsigned flags; /* SIO_ADAPTER_* */
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
  /* Local membership changes, after the fact (each may be NULL); joined
   * also reports the socket's own id room when it connects, as the
   * reference's addAll(id, [id]) does. */
  void (*joined)(void *ad, sio_socket *s, const char *room);
  void (*left)(void *ad, sio_socket *s, const char *room);
  void (*disconnected)(void *ad, sio_socket *s);
  /* Fills out (may be NULL). */
  void (*stats)(void *ad, sio_adapter_stats *out);
  /* The room history behind sio_socket_replay, kept for the whole cluster
   * (both NULL: each instance keeps its own, in memory). history_append
   * offers an event this instance delivered through rooms (pkt as above,
   * borrowed; events with attachments are never offered): every instance
   * that delivers an event offers it, and it is kept once, in the order
   * of the first offers, for max_age_ms and at most max_events per room.
   * history_read answers through cb (the rules above). */
  int (*history_append)(void *ad, sio_namespace *ns, const char *id,
                        const char *const *rooms, size_t nrooms,
                        const uint8_t *pkt, size_t len, uint32_t max_events,
                        uint32_t max_age_ms);
  int (*history_read)(void *ad, sio_namespace *ns, const char *const *rooms,
                      size_t nrooms, const char *since, uint32_t max_events,
                      uint32_t max_age_ms, sio_adapter_history_cb cb, void *ud);
  /* SIO_ADAPTER_RECOVERY: keeps sess for ttl_ms (replacing one of the
   * same pid); a socket that went away for a recoverable reason, every
   * connected one at sio_server_persist_sessions, and periodically. */
  int (*persist_session)(void *ad, sio_namespace *ns,
                         const sio_adapter_session *sess, uint32_t ttl_ms);
  /* Takes the session of pid (it is handed out once) and the events after
   * offset; cb fires once, later (the rules above). A session of another
   * owner (owner NULL: none) is neither handed out nor spent. */
  int (*restore_session)(void *ad, sio_namespace *ns, const char *pid,
                         const char *offset, const char *owner,
                         sio_adapter_restore_cb cb, void *ud);
  /* Forgets the session of pid: its socket left on purpose. */
  int (*drop_session)(void *ad, sio_namespace *ns, const char *pid);
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

/* -------------------------------------------------------- incoming half */

/* What an adapter may ask of the server: this instance's part of the
 * other instances' requests. All run on the loop thread and borrow their
 * pointer arguments; none calls back into the adapter. o selects sockets
 * as for sio_namespace_broadcast (NULL: every socket of ns);
 * SIO_BCAST_LOCAL changes nothing here. */

/* The loop s runs on (for the adapter's timers and handles); NULL when s
 * is NULL. */
SIO_EXTERN uv_loop_t *sio_server_loop(const sio_server *s);
/* 1 once sio_server_close(s) was called, else 0 (0 for NULL). */
SIO_EXTERN int sio_server_closing(const sio_server *s);
/* 1 when an adapter is installed on s, else 0 (0 for NULL). */
SIO_EXTERN int sio_server_has_adapter(const sio_server *s);
/* 1 when connection state recovery is on for s (sio_options_set_recovery),
 * else 0: an adapter with SIO_ADAPTER_RECOVERY then numbers and delivers
 * the broadcasts it is given. */
SIO_EXTERN int sio_server_recovery(const sio_server *s);

/* Delivers event with args (an array or NULL) and its attachments to
 * this instance's selected sockets, encoded once, asking each recipient
 * for an acknowledgement (one packet id for all): cb(socket, status, args,
 * bins, nbins, ud) fires once per recipient with its answer (status 0,
 * args and bins borrowed for the call), SIO_ERR_TIMEOUT after timeout_ms
 * (0: no deadline) or SIO_ERR_CANCELED when it disconnects first. This is
 * how an adapter serves another instance's broadcast with
 * acknowledgements. Returns the number of recipients asked (cb fires that
 * many times, never from inside this call), or SIO_ERR_INVAL (ns, event
 * or cb NULL, event reserved, args not an array, bins NULL with nbins)
 * or SIO_ERR_NOMEM; then cb never fires. */
SIO_EXTERN int
sio_adapter_broadcast_local_ack(sio_namespace *ns, const sio_broadcast_opts *o,
                                const char *event, json_object *args,
                                const sio_bin *bins, size_t nbins,
                                uint32_t timeout_ms, sio_ack_cb cb, void *ud);

/* Delivers a broadcast to this instance's selected sockets, encoded once,
 * with offset (NUL-terminated, copied into the packet) appended to its
 * arguments as connection state recovery does, or as it is when offset is
 * NULL (the cluster's log is unreachable: the event cannot be recovered,
 * but it is not lost for the sockets connected now). How an adapter with
 * SIO_ADAPTER_RECOVERY delivers every broadcast, its own included.
 * Returns the number of recipients or SIO_ERR_INVAL / SIO_ERR_NOMEM. */
SIO_EXTERN int sio_adapter_deliver(sio_namespace *ns,
                                   const sio_broadcast_opts *o,
                                   const char *event, json_object *args,
                                   const sio_bin *bins, size_t nbins,
                                   const char *offset);

/* Makes the selected local sockets join (leave = 0) or leave rooms
 * (socketsJoin / socketsLeave from another instance). Returns the number
 * of sockets affected, SIO_ERR_INVAL or SIO_ERR_NOMEM (then nothing
 * changed). */
SIO_EXTERN int sio_adapter_apply_rooms(sio_namespace *ns,
                                       const sio_broadcast_opts *o,
                                       const char *const *rooms, size_t nrooms,
                                       int leave);
/* Disconnects the selected local sockets (close_transport as
 * sio_socket_disconnect; runs the application's disconnect handlers).
 * Returns the number of sockets, SIO_ERR_INVAL or SIO_ERR_NOMEM (then
 * nothing changed). */
SIO_EXTERN int sio_adapter_apply_disconnect(sio_namespace *ns,
                                            const sio_broadcast_opts *o,
                                            int close_transport);

/* A local socket the way the reference adapter answers REMOTE_FETCH:
 * {"id", "handshake", "rooms", "data"} (no handshake once its session
 * ended). Returns a new object (the caller owns it) or NULL (s NULL, out
 * of memory). */
SIO_EXTERN json_object *sio_adapter_socket_json(sio_socket *s);
/* The selected connected local sockets as an array of
 * sio_adapter_socket_json objects (the caller owns it). When socks is not
 * NULL, *socks receives an array of the same sockets in the same order,
 * each referenced, and *nsocks their number (release both with
 * sio_adapter_release_sockets). Returns the array or NULL (ns NULL, out of
 * memory; then *socks is NULL). */
SIO_EXTERN json_object *sio_adapter_local_sockets(sio_namespace *ns,
                                                  const sio_broadcast_opts *o,
                                                  sio_socket ***socks,
                                                  size_t *nsocks);
/* Drops one reference on each of socks[0..n) and frees the array (takes
 * ownership of it). NULL-safe. */
SIO_EXTERN void sio_adapter_release_sockets(sio_socket **socks, size_t n);
/* The ids of the connected local sockets in any of rooms (all of them
 * when nrooms is 0): a new array (the caller owns it), or NULL (ns NULL,
 * rooms NULL with nrooms, out of memory). */
SIO_EXTERN json_object *sio_adapter_local_ids(sio_namespace *ns,
                                              const char *const *rooms,
                                              size_t nrooms);
/* This instance's rooms of ns, socket id rooms first (the reference's
 * adapter.rooms keys): a new array (the caller owns it), or NULL (ns NULL,
 * out of memory). */
SIO_EXTERN json_object *sio_adapter_local_rooms(sio_namespace *ns);
/* 1 when a local socket of ns is in room[0..len) (which need not be
 * NUL-terminated; a socket id is a room), else 0: an adapter skips a
 * broadcast to a room nobody here is in. */
SIO_EXTERN int sio_adapter_room_has_members(const sio_namespace *ns,
                                            const char *room, size_t len);
/* 1 when another instance's broadcast to room[0..len) matters here: a
 * local socket is in it, or ns keeps a room history (sio_namespace_set_
 * history: every room's events are kept for replay, members here or not,
 * so that a client reconnecting to this instance misses nothing). */
SIO_EXTERN int sio_adapter_room_wanted(const sio_namespace *ns,
                                       const char *room, size_t len);
/* The connected local socket of ns whose id is sid (NUL-terminated), or
 * NULL: the target of another instance's remoteJoin, remoteLeave or
 * remoteDisconnect. Borrowed: valid until it disconnects (take a
 * reference with sio_socket_ref to keep it). */
SIO_EXTERN sio_socket *sio_adapter_find_socket(sio_namespace *ns,
                                               const char *sid);

/* Reads one socket object of another instance's fetch answer (the
 * sio_adapter_socket_json form) into *info for sio_fetch_cb, borrowing
 * from obj (info->local is NULL); *rooms receives the array info->rooms
 * points to (free it with sio_adapter_free_rooms). Returns 0,
 * SIO_ERR_INVAL (an argument NULL), SIO_ERR_PROTO (no string id, rooms not
 * an array of strings) or SIO_ERR_NOMEM; on error *rooms is NULL. */
SIO_EXTERN int sio_adapter_info_from_json(json_object *obj,
                                          sio_socket_info *info,
                                          const char ***rooms);
/* Frees an array from sio_adapter_info_from_json. NULL-safe. */
SIO_EXTERN void sio_adapter_free_rooms(const char **rooms);

/* Hands another instance's server-side event to ns's handler
 * (sio_namespace_on_server_event). data is [event, ...args] (borrowed).
 * With want_ack, returns 1 and sets *ack to the answer (the caller owns
 * it; NULL stands for JSON null) when the handler answered; otherwise
 * returns 0 (no handler, data not an array starting with a string, out of
 * memory) with *ack NULL. ack may be NULL without want_ack. */
SIO_EXTERN int sio_adapter_server_event(sio_namespace *ns, json_object *data,
                                        int want_ack, json_object **ack);

/* ------------------------------------------- the Engine.IO request bus */

/* Sticky-free load balancing (sio_options_set_forwarding): a pub/sub bus
 * carries an Engine.IO request for a session another instance owns to
 * that instance, in the messages of @socket.io/cluster-engine's
 * RedisEngine. The bus belongs to whoever connects the instances (the
 * Redis adapters do it): it publishes what the server gives it and hands
 * back every message of the channels "engine.io#" and
 * "engine.io#<sio_server_engine_node(s)>#". Loop thread only. */
typedef int (*sio_engine_publish_fn)(void *ud, const char *channel,
                                     const uint8_t *msg, size_t len);
/* 1 when the options asked for forwarding (a bus is then wanted). */
SIO_EXTERN int sio_server_forwarding(const sio_server *s);
/* Attaches the bus (publish NULL: detaches; requests waiting for an
 * answer then fail as unknown sids). publish returns 0, or an error when
 * the message was dropped. Returns 0, SIO_ERR_STATE (forwarding is off)
 * or SIO_ERR_INVAL. */
SIO_EXTERN int sio_server_engine_bus(sio_server *s,
                                     sio_engine_publish_fn publish, void *ud);
/* This instance's id on the bus: 6 hex digits. */
SIO_EXTERN const char *sio_server_engine_node(const sio_server *s);
/* A message from one of the bus's two channels (borrowed for the call). */
SIO_EXTERN void sio_server_engine_message(sio_server *s, const uint8_t *msg,
                                          size_t len);

#ifdef __cplusplus
}
#endif

#endif
