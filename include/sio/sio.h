#ifndef SIO_SIO_H
#define SIO_SIO_H

/* libsio: a Socket.IO v5 / Engine.IO v4 server on libuv.
 *
 * Threading:
 * - every function must be called on the thread running the loop of the
 *   server it is given (directly, or through a namespace, socket or
 *   client of that server): libsio takes no locks, and its objects belong
 *   to their loop;
 * - every callback runs on that thread, and never from inside the call
 *   that made it due unless its description says so;
 * - the one exception is sio_server_post(), which any thread may call: it
 *   is how another thread hands work to a loop (a backend thread that
 *   wants to broadcast posts a function that does it);
 * - several loops in one process (server.threads) each run a server of
 *   their own under these rules; nothing of one loop's server may be
 *   used from another loop.
 * An embedder with one loop and one thread sees nothing of this.
 * Ownership words used below: "borrowed" (valid only during
 * the call or callback), "copied" (libsio keeps its own copy), "takes
 * ownership" (libsio frees it). Errors are the negative SIO_ERR_* codes of
 * <sio/sio_errno.h>; sio_strerror() names them. */

#include <json-c/json.h>
#include <stddef.h>
#include <stdint.h>
#include <uv.h>

#include "sio/sio_errno.h"
#include "sio/sio_json.h"
#include "sio/version.h"

#ifdef __cplusplus
extern "C" {
#endif

#ifndef SIO_EXTERN
#if defined(__GNUC__) && defined(BUILDING_LIBSIO)
#define SIO_EXTERN __attribute__((visibility("default")))
#else
#define SIO_EXTERN
#endif
#endif

typedef struct sio_server sio_server;
typedef struct sio_options sio_options;
typedef struct sio_namespace sio_namespace;
typedef struct sio_socket sio_socket;

/* ---------------------------------------------------------------- errors */

/* Message and symbolic name of an error code; never NULL. */
SIO_EXTERN const char *sio_strerror(int err);
SIO_EXTERN const char *sio_err_name(int err);

/* --------------------------------------------------------------- logging */

enum { SIO_LOG_ERROR = 0, SIO_LOG_WARN = 1, SIO_LOG_INFO = 2, SIO_LOG_DEBUG = 3 };
/* msg is borrowed and has no trailing newline. */
typedef void (*sio_log_cb)(int level, const char *msg, void *ud);
/* Sets the process-wide log sink (NULL turns logging off) and its level:
 * before any loop runs (cb is called from every loop's thread, so it must
 * be thread-safe with server.threads). The level alone may change at any
 * time, from any thread. */
SIO_EXTERN void sio_set_log(sio_log_cb cb, void *ud, int level);
SIO_EXTERN void sio_set_log_level(int level);

/* --------------------------------------------------------------- options */

enum { SIO_TRANSPORT_POLLING = 1, SIO_TRANSPORT_WEBSOCKET = 2 };

/* Creates options holding the reference server's defaults: path
 * "/socket.io/", pingInterval 25000, pingTimeout 20000, maxPayload 1000000,
 * connectTimeout 45000, both transports, CORS origin "*", no cookie.
 * Returns 0 or SIO_ERR_NOMEM. */
SIO_EXTERN int sio_options_new(sio_options **out);
SIO_EXTERN void sio_options_del(sio_options *o);
/* String setters copy their argument; return 0, SIO_ERR_NOMEM or
 * SIO_ERR_INVAL (a path must start and end with '/'). */
SIO_EXTERN int sio_options_set_path(sio_options *o, const char *path);
SIO_EXTERN void sio_options_set_ping(sio_options *o, uint32_t interval_ms,
                                     uint32_t timeout_ms);
SIO_EXTERN void sio_options_set_max_payload(sio_options *o, size_t bytes);
SIO_EXTERN void sio_options_set_connect_timeout(sio_options *o, uint32_t ms);
/* Bitmask of SIO_TRANSPORT_*; 0 is SIO_ERR_INVAL. */
SIO_EXTERN int sio_options_set_transports(sio_options *o, int mask);
/* Comma-separated allowed origins, or "*" (any). Empty/NULL disables CORS
 * headers. Requests whose Origin is not allowed get 403. */
SIO_EXTERN int sio_options_set_cors(sio_options *o, const char *origins,
                                    int credentials);
/* Name of the sticky-session cookie set on the handshake ("io"); NULL or
 * "" for none. */
SIO_EXTERN int sio_options_set_cookie(sio_options *o, const char *name);
/* Bound on a connection's unsent bytes; passing it disconnects the client
 * (reason "transport error"). 0 means the default (4 MiB). */
SIO_EXTERN void sio_options_set_max_buffered(sio_options *o, size_t bytes);
/* Bound, in ms, of every close the server starts: the last bytes are
 * flushed, the connection half-closed and the peer's input drained until
 * its EOF; a peer that stops reading or never closes loses the connection
 * and its file descriptor this long after the close began (counted in
 * sio_stats.close_timeouts). 0 means the default (5000); a close is never
 * unbounded. */
SIO_EXTERN void sio_options_set_close_timeout_ms(sio_options *o, uint32_t ms);
/* Cap on concurrent TCP connections; 0 means unlimited. */
SIO_EXTERN void sio_options_set_max_connections(sio_options *o, uint32_t n);
/* Accept queue length asked of listen(2) (the kernel caps it at
 * net.core.somaxconn); 0 means the default, 511. A longer queue rides out
 * a reconnection storm without SYN retries. */
SIO_EXTERN void sio_options_set_listen_backlog(sio_options *o, uint32_t n);

/* Connection state recovery (socket.io >= 4.6): the CONNECT reply carries
 * a private session id, events carry an offset, and a client reconnecting
 * within max_disconnection_ms (0: 120000) gets back its id, its rooms and
 * the events it missed (sio_socket_recovered() is then 1). Off by
 * default, as in the reference server. A session is resumed only by its
 * owner (sio_socket_set_owner), never from an offset older than the
 * newest event its last resumption replayed, and only when it missed at
 * most 1000 events and 1 MiB (half of set_max_buffered when that is
 * smaller); otherwise the client gets a fresh session and refetches. */
SIO_EXTERN void sio_options_set_recovery(sio_options *o, int enabled,
                                         uint32_t max_disconnection_ms);
/* With recovery on and an adapter that keeps it for the cluster
 * (SIO_ADAPTER_RECOVERY, <sio/adapter.h>): hands the session of every
 * connected socket to the adapter, as if each had just lost its
 * connection, so that a client whose instance stops (a drain) or dies
 * resumes on another one. Call it when a drain starts. Returns the number
 * of sessions handed over (0 without such an adapter). */
SIO_EXTERN size_t sio_server_persist_sessions(sio_server *s);
/* With such an adapter, the sessions of connected sockets are also handed
 * over every interval_ms (0: 10000) when they are new or changed rooms,
 * and before their copy expires: a client whose instance was killed
 * resumes with the rooms it had at most interval_ms before. */
SIO_EXTERN void sio_options_set_recovery_persist_interval(sio_options *o,
                                                          uint32_t interval_ms);

/* No sticky sessions needed (SPEC §2): a polling request or WebSocket
 * upgrade for a session another instance owns is carried to it over the
 * cluster's bus (<sio/adapter.h>: the Redis adapters provide one, in the
 * protocol of @socket.io/cluster-engine, so Node instances using its
 * RedisEngine take part) and answered as if it had gone there. A new
 * polling session's connection is held takeover_ms (the reference's 300)
 * so that its upgrade, wherever it lands, takes the session over instead
 * of proxying it; 0 never holds. Off by default. */
SIO_EXTERN void sio_options_set_forwarding(sio_options *o, int enabled,
                                           uint32_t takeover_ms);

/* Native TLS: PEM certificate (may include the chain), private key and an
 * optional extra chain file (NULL). Files are read by sio_server_new.
 * Returns 0, SIO_ERR_INVAL (cert without key) or SIO_ERR_NOMEM. */
SIO_EXTERN int sio_options_set_tls(sio_options *o, const char *cert_file,
                                   const char *key_file,
                                   const char *chain_file);
/* Oldest TLS version accepted: "1.2" (the default) or "1.3". Returns 0 or
 * SIO_ERR_INVAL. */
SIO_EXTERN int sio_options_set_tls_min_version(sio_options *o,
                                               const char *version);

/* ---------------------------------------------------------------- server */

/* Creates a server on loop. opts is copied (NULL means defaults).
 * Returns 0, SIO_ERR_NOMEM or SIO_ERR_IO. */
SIO_EXTERN int sio_server_new(sio_server **out, uv_loop_t *loop,
                              const sio_options *opts);
/* Listens on "host:port" ("0.0.0.0:3000", "[::1]:0"). Port 0 picks a free
 * port (see sio_server_port). Returns 0, SIO_ERR_INVAL (bad address),
 * SIO_ERR_IO (bind/listen failed) or SIO_ERR_NOMEM. */
SIO_EXTERN int sio_server_listen(sio_server *s, const char *addr);
/* Port of the idx-th listener, or a negative error. */
SIO_EXTERN int sio_server_port(const sio_server *s, size_t idx);
typedef void (*sio_server_closed_cb)(sio_server *s, void *ud);
/* Stops listening, disconnects every client (reason "server shutting
 * down"), closes all handles and frees the server; cb (may be NULL) runs
 * once after the last handle closed, with s no longer usable. */
SIO_EXTERN void sio_server_close(sio_server *s, sio_server_closed_cb cb,
                                 void *ud);

/* Work handed to s's loop from another thread (the threading rules at the
 * top): fn runs once, on s's loop thread, in the order posted, as
 * fn(s, ud); or as fn(NULL, ud) when s was closed before it could run
 * (from sio_server_close, on the loop thread), so that ud can be freed.
 * Callable from any thread until sio_server_close's callback has run.
 * Returns 0, SIO_ERR_LIMIT (65536 already waiting: refused, fn never
 * runs), SIO_ERR_CLOSED (s is closing: fn never runs), SIO_ERR_INVAL or
 * SIO_ERR_NOMEM. */
typedef void (*sio_post_fn)(sio_server *s, void *ud);
SIO_EXTERN int sio_server_post(sio_server *s, sio_post_fn fn, void *ud);

/* ----------------------------------------------------------- loop groups */

/* Several loops in one process (server.threads = N): each loop's thread
 * runs a server of its own (same options, same handlers), and the group
 * joins them into one. Each server listens on the same addresses
 * (SO_REUSEPORT: the kernel spreads connections over the loops); a session
 * lives on the loop that created it, and a request or upgrade for it that
 * reaches another loop is handed to the owner with its connection. With
 * the loops adapter (sio_server_use_loops), a server's broadcasts reach
 * every loop (encoded once and shared), connection state recovery works
 * whichever loop a client comes back to, and the cluster calls
 * (fetch_sockets, sockets_join, server_count, server_side_emit,
 * broadcast_ack...) are answered by every loop and merged, as instances'
 * answers are: each loop counts as one server. A server with an adapter
 * of its own (Redis) is one instance of the fleet and joins with
 * sio_group_join: the group then only hands connections between loops. */
typedef struct sio_group sio_group;
/* A group of nloops loops (1..64). Any thread. Returns 0, SIO_ERR_INVAL
 * or SIO_ERR_NOMEM. */
SIO_EXTERN int sio_group_new(sio_group **out, unsigned nloops);
/* On s's loop thread, after its adapter is installed and before
 * sio_server_listen: s becomes loop index (0..nloops-1) of g, until it
 * closes. Returns 0, SIO_ERR_INVAL (index out of range), SIO_ERR_EXISTS
 * (index taken, or s already in a group) or SIO_ERR_STATE (s closing or
 * already listening). */
SIO_EXTERN int sio_group_join(sio_group *g, unsigned index, sio_server *s);
/* The number of loops of g, and of those joined now. Any thread. */
SIO_EXTERN unsigned sio_group_size(const sio_group *g);
SIO_EXTERN unsigned sio_group_joined(sio_group *g);
/* For a loop without an adapter of its own: installs the adapter between
 * the loops of g (sio_server_set_adapter, so before anything else does),
 * then joins g as sio_group_join does. Returns 0, or what either call
 * returns (then close s). */
SIO_EXTERN int sio_server_use_loops(sio_server *s, sio_group *g,
                                    unsigned index);
/* sio_server_post to the server of loop index. Any thread. Returns as
 * sio_server_post does, or SIO_ERR_CLOSED when no server is joined at
 * index (not yet, or it closed). */
SIO_EXTERN int sio_group_post(sio_group *g, unsigned index, sio_post_fn fn,
                              void *ud);
/* Frees g once every joined server has closed (its close callback ran).
 * NULL-safe. */
SIO_EXTERN void sio_group_free(sio_group *g);

/* Stops accepting new connections; existing ones go on (draining). */
SIO_EXTERN void sio_server_stop_listening(sio_server *s);
/* Ends at once the closes still waiting for slow peers (flush or linger,
 * see sio_options_set_close_timeout_ms), and those started afterwards
 * after one loop iteration: for a second SIGTERM during a drain. */
SIO_EXTERN void sio_server_abort_closes(sio_server *s);

/* Counters and gauges for metrics. */
typedef struct sio_stats {
  uint64_t handshakes;     /* Engine.IO sessions opened */
  uint64_t packets_in;     /* Socket.IO packets received / queued */
  uint64_t packets_out;
  uint64_t bytes_in;       /* TCP bytes read / written */
  uint64_t bytes_out;
  uint64_t broadcasts;
  uint64_t acks;           /* acks sent and received */
  uint64_t parse_errors;   /* sessions closed for a malformed packet */
  uint64_t polling;        /* sessions on each transport now */
  uint64_t websocket;
  uint64_t tcp_connections; /* open TCP connections now */
  /* Limit hits, cumulative. */
  uint64_t over_max_payload;   /* bodies over maxPayload (413 / close 1009) */
  uint64_t slow_consumers;     /* sessions closed for unsent output */
  uint64_t origin_refused;     /* requests from a disallowed Origin (403) */
  uint64_t connections_refused; /* TCP connections over max_connections */
  /* The cluster adapter (sio_server_use_redis); all 0 without one. */
  uint64_t redis_enabled;      /* 1 when a cluster adapter is installed */
  uint64_t redis_connected;    /* 1 while it reaches the other instances */
  uint64_t redis_messages_in;  /* messages received from the cluster */
  uint64_t redis_messages_out; /* messages published to the cluster */
  uint64_t redis_dropped;      /* messages not published (disconnected) */
  uint64_t redis_latency_us;   /* round trip of the last Redis PING, 0
                                  before the first */
  uint64_t close_timeouts;     /* closes cut short by close_timeout_ms */
  uint64_t replayed;           /* events sent by sio_socket_replay */
  uint64_t replay_overflows;   /* clients closed: too many broadcasts
                                  arrived while a replay was pending */
  /* Sticky-free forwarding (sio_options_set_forwarding), cumulative. */
  uint64_t forward_carried;     /* requests carried to the owning instance */
  uint64_t forward_unknown;     /* requests no instance owned (400) */
  uint64_t forward_served;      /* other instances' requests we owned */
  uint64_t forward_taken_over;  /* sessions taken over by an upgrade here */
  uint64_t forward_handed_over; /* sessions given to their upgrade's
                                   instance */
  uint64_t forward_proxied;     /* upgrades here proxied to the owner */
  uint64_t forward_bad_messages; /* bus messages dropped as malformed */
  uint64_t forward_dropped;     /* bus messages that could not be sent */
  /* Loop groups (sio_group_join), cumulative. */
  uint64_t loop_handed;    /* connections handed to the loop owning the
                              session their request named */
  uint64_t loop_adopted;   /* connections other loops handed here */
  uint64_t loop_handoff_failures; /* could not move (an answer still being
                                     written) or not delivered */
  uint64_t loop_relay_failures; /* broadcasts this loop could not hand to
                                  another loop (out of memory, mailbox
                                  full): delivered here only */
} sio_stats;
/* Fills out (borrowed). */
SIO_EXTERN void sio_server_stats(const sio_server *s, sio_stats *out);

/* ------------------------------------------------- plain HTTP beside it */

/* A request outside the Socket.IO path (or a handshake being vetted),
 * borrowed for the duration of the callback. */
typedef struct sio_http_req sio_http_req;
SIO_EXTERN const char *sio_http_req_method(const sio_http_req *r);
/* The path without the query string; *len receives its length (the text
 * is not NUL-terminated). */
SIO_EXTERN const char *sio_http_req_path(const sio_http_req *r, size_t *len);
/* Header value (name case-insensitive), NUL-terminated, or NULL. */
SIO_EXTERN const char *sio_http_req_header(const sio_http_req *r,
                                           const char *name);
/* Copies the percent-decoded query parameter into out (NUL-terminated).
 * Returns its length, SIO_ERR_NOTFOUND, SIO_ERR_TOOBIG (cap too small) or
 * SIO_ERR_PROTO (bad escape). */
SIO_EXTERN int sio_http_req_query(const sio_http_req *r, const char *name,
                                  char *out, size_t cap);
SIO_EXTERN const uint8_t *sio_http_req_body(const sio_http_req *r,
                                            size_t *len);
SIO_EXTERN const char *sio_http_req_remote_addr(const sio_http_req *r);
/* Answers the request (CORS headers added). body and extra_headers
 * ("Name: value\r\n"... or NULL) are copied. Returns 0, SIO_ERR_STATE
 * (already answered; also inside a handshake filter) or SIO_ERR_NOMEM. */
SIO_EXTERN int sio_http_req_respond(sio_http_req *r, int status,
                                    const char *content_type,
                                    const void *body, size_t len,
                                    const char *extra_headers);
/* Keeps r past the callback, for an answer that needs work elsewhere
 * (other loops, a backend): returns the request to answer later, and r
 * itself may no longer be used; or NULL (r answered or deferred already,
 * r from a handshake filter, or out of memory), r unchanged. The
 * connection reads no further request until the answer (pipelined ones
 * wait). Answer it exactly once, on the server's loop, with
 * sio_http_req_respond, which frees it whatever it returns: SIO_ERR_CLOSED
 * when its connection closed meanwhile (the peer went, its idle bound
 * passed, the server closed), nothing sent. Until then its accessors
 * answer as in the callback while the connection is open, and give NULL
 * or "" (empty path and body) once it closed. */
SIO_EXTERN sio_http_req *sio_http_req_defer(sio_http_req *r);
/* Requests outside the Socket.IO path; an unanswered request gets 404
 * (unless deferred). */
typedef void (*sio_http_cb)(sio_http_req *r, void *ud);
SIO_EXTERN void sio_server_set_http_handler(sio_server *s, sio_http_cb cb,
                                            void *ud);
/* Vets each Engine.IO handshake before a session exists (per-IP rates,
 * draining...). Return 0 to accept, or an HTTP status to refuse with the
 * reference server's Forbidden body; *message (a static string needing no
 * JSON escaping) may replace "Forbidden". */
typedef int (*sio_handshake_cb)(const sio_http_req *r, const char **message,
                                void *ud);
SIO_EXTERN void sio_server_set_handshake_filter(sio_server *s,
                                                sio_handshake_cb cb, void *ud);

/* ------------------------------------------------------------ namespaces */

typedef struct sio_bin {
  const uint8_t *data;
  size_t len;
} sio_bin;

/* A CONNECT-time decision: return 0 to accept, or a negative value to
 * refuse with a CONNECT_ERROR whose data is *err (takes ownership; an object
 * such as {"message":"unauthorized","data":{...}}; NULL gives
 * {"message":"Not authorized"}). auth is the CONNECT payload (borrowed,
 * NULL when absent). */
typedef int (*sio_authorize_cb)(sio_socket *s, json_object *auth,
                                json_object **err, void *ud);
typedef void (*sio_connection_cb)(sio_socket *s, void *ud);
/* An event from the client. event and args (a JSON array of the arguments
 * after the name, placeholders in place of binary) and bins are borrowed.
 * ack_id is >= 0 when the client asked for an acknowledgement: answer it
 * with sio_socket_ack(), now or later. */
typedef void (*sio_event_cb)(sio_socket *s, const char *event,
                             json_object *args, const sio_bin *bins,
                             size_t nbins, int64_t ack_id, void *ud);
/* reason is one of the reference server's strings: "client namespace
 * disconnect", "server namespace disconnect", "transport close",
 * "transport error", "ping timeout", "parse error", "server shutting down",
 * "forced close" (also after an undecodable packet), "forced server close"
 * (a packet in an invalid state, or no CONNECT within connectTimeout). */
typedef void (*sio_disconnect_cb)(sio_socket *s, const char *reason,
                                  void *ud);

typedef struct sio_namespace_handlers {
  sio_authorize_cb on_authorize;   /* may be NULL: accept all */
  sio_connection_cb on_connection; /* may be NULL */
  sio_event_cb on_event;           /* may be NULL */
  sio_disconnect_cb on_disconnect; /* may be NULL */
} sio_namespace_handlers;

/* Returns the namespace named name ("/" or "/admin"), creating it. A client
 * CONNECT to a namespace that was never created gets CONNECT_ERROR
 * {"message":"Invalid namespace"}. Returns NULL when out of memory or when
 * name does not start with '/'. */
SIO_EXTERN sio_namespace *sio_server_of(sio_server *s, const char *name);
/* h is copied; ud is borrowed until the server is closed. */
SIO_EXTERN void sio_namespace_set_handlers(sio_namespace *ns,
                                           const sio_namespace_handlers *h,
                                           void *ud);
SIO_EXTERN const char *sio_namespace_name(const sio_namespace *ns);
SIO_EXTERN size_t sio_namespace_socket_count(const sio_namespace *ns);

/* Connection state recovery's room check: when a socket resumes a session
 * (after on_authorize accepted it, before the CONNECT reply), each room of
 * the session other than its id room is offered to cb; 1 gives it back,
 * 0 leaves it out, and the missed events that reached the session only
 * through rooms left out are not replayed. room is borrowed for the call;
 * cb must only decide (no emit, join, broadcast or disconnect). NULL (the
 * default) gives every room back. ud is borrowed until the server is
 * closed. */
typedef int (*sio_recovery_room_cb)(sio_socket *s, const char *room,
                                    void *ud);
SIO_EXTERN void sio_namespace_set_recovery_filter(sio_namespace *ns,
                                                  sio_recovery_room_cb cb,
                                                  void *ud);

/* Room history, for replay from the last event id (SPEC §3; not the
 * socket.io recovery above, and nothing is appended to the events): every
 * event broadcast through rooms (not volatile, without acknowledgements)
 * that id_of names is kept in each of those rooms, already encoded: at
 * most max_events per room (0: 1000), for max_age_ms (0: 300000); an id
 * offered twice (every path that delivers an event may offer it) is kept
 * once. id_of(event, args, ud) returns the event's id, borrowed from args,
 * or NULL (not kept); it runs once per broadcast and must only read.
 * Except rooms are not kept: a replay serves everyone in the rooms. Set it
 * once, before clients connect; ud is borrowed until the server is
 * closed. Returns 0, SIO_ERR_INVAL (id_of NULL), SIO_ERR_STATE (set
 * already) or SIO_ERR_NOMEM. */
typedef const char *(*sio_history_id_cb)(const char *event, json_object *args,
                                         void *ud);
typedef struct sio_history_config {
  uint32_t max_events;
  uint32_t max_age_ms;
  sio_history_id_cb id_of;
  void *ud;
} sio_history_config;
SIO_EXTERN int sio_namespace_set_history(sio_namespace *ns,
                                         const sio_history_config *cfg);
/* The namespace's kept events and their encoded bytes (0 without a
 * history), after dropping the expired ones. */
SIO_EXTERN void sio_namespace_history_stats(sio_namespace *ns, size_t *events,
                                            size_t *bytes);

/* --------------------------------------------------------------- sockets */

SIO_EXTERN const char *sio_socket_id(const sio_socket *s);
SIO_EXTERN sio_namespace *sio_socket_namespace(const sio_socket *s);
SIO_EXTERN sio_server *sio_socket_server(const sio_socket *s);
/* Handshake facts, borrowed for the socket's life: a request header (name
 * case-insensitive) or query parameter (percent-decoded), NULL if absent
 * or once the disconnect callback has returned. */
SIO_EXTERN const char *sio_socket_header(const sio_socket *s,
                                         const char *name);
SIO_EXTERN const char *sio_socket_query(const sio_socket *s, const char *name);
/* Peer address as text ("127.0.0.1"). */
SIO_EXTERN const char *sio_socket_remote_addr(const sio_socket *s);
/* "polling" or "websocket": the transport in use now. */
SIO_EXTERN const char *sio_socket_transport(const sio_socket *s);
SIO_EXTERN void sio_socket_set_data(sio_socket *s, void *data);
SIO_EXTERN void *sio_socket_get_data(const sio_socket *s);
/* Keeps s (not its connection) alive past its disconnect callback. */
SIO_EXTERN void sio_socket_ref(sio_socket *s);
SIO_EXTERN void sio_socket_unref(sio_socket *s);
SIO_EXTERN int sio_socket_connected(const sio_socket *s);
/* 1 when s resumed an earlier session (connection state recovery): same
 * id, its rooms back, missed events already queued before
 * on_connection. */
SIO_EXTERN int sio_socket_recovered(const sio_socket *s);
/* Binds s's recovery session to owner (copied; NULL or "": none), such as
 * the authenticated user: a later CONNECT presenting s's pid resumes it
 * only when its own socket was given the same owner, otherwise it gets a
 * fresh session and nothing of this one (no id, rooms or events). Call it
 * from on_authorize. Returns 0, SIO_ERR_STATE (s already accepted or closed),
 * SIO_ERR_INVAL (s NULL) or SIO_ERR_NOMEM. */
SIO_EXTERN int sio_socket_set_owner(sio_socket *s, const char *owner);

/* Sends an event. event and args (a JSON array or NULL) and bins are
 * borrowed: the packet is encoded before return. args may hold
 * {"_placeholder":true,"num":i} objects standing for bins[i].
 * Returns 0, SIO_ERR_CLOSED (not connected), SIO_ERR_INVAL (event NULL or
 * a reserved name such as "disconnect"), SIO_ERR_LIMIT (the output
 * bound was passed: the client is being disconnected) or SIO_ERR_NOMEM. */
SIO_EXTERN int sio_socket_emit(sio_socket *s, const char *event,
                               json_object *args, const sio_bin *bins,
                               size_t nbins);
/* Result of an emit with ack: status 0 with the client's args (borrowed),
 * SIO_ERR_TIMEOUT, or SIO_ERR_CANCELED when the socket disconnected. Fires
 * exactly once when sio_socket_emit_ack() returned 0. */
typedef void (*sio_ack_cb)(sio_socket *s, int status, json_object *args,
                           const sio_bin *bins, size_t nbins, void *ud);
/* Like sio_socket_emit, asking the client for an acknowledgement within
 * timeout_ms (0: no timeout). Errors as sio_socket_emit. */
SIO_EXTERN int sio_socket_emit_ack(sio_socket *s, const char *event,
                                   json_object *args, const sio_bin *bins,
                                   size_t nbins, uint32_t timeout_ms,
                                   sio_ack_cb cb, void *ud);
/* Answers the client's ack_id with args (JSON array or NULL; borrowed).
 * Returns 0, SIO_ERR_CLOSED, SIO_ERR_INVAL (ack_id < 0), SIO_ERR_NOMEM. */
SIO_EXTERN int sio_socket_ack(sio_socket *s, int64_t ack_id,
                              json_object *args, const sio_bin *bins,
                              size_t nbins);
/* Replays to s the events its namespace's history keeps in rooms[0..n)
 * (copied) after the event named since (copied): each once, in publish
 * order, before any event newer than them. From the call on, broadcasts
 * to s are held (up to 1024 packets or 1 MiB: past that s's client is
 * closed as a consumer that stopped reading, and reconnects); once the
 * history is read, cb(s, SIO_REPLAY_FOUND, status, n, complete, ud) runs
 * (status 0, or the error that left the history unread: then n is 0 and
 * complete 0), where the application may emit what must precede the
 * events; then the n events are sent, cb(..., SIO_REPLAY_DONE, ...)
 * runs, and the held broadcasts the replay did not contain follow.
 * complete 0 means events after since may be missing (since unknown or
 * aged out, or a room's count bound dropped newer ones): the client
 * should refetch its state. Replays of one socket run one after the other
 * (at most 8 waiting), never from inside this call. DONE comes exactly
 * once per replay accepted: when s disconnects first, with status
 * SIO_ERR_CANCELED, after on_disconnect (FOUND may or may not have
 * come). Returns 0, SIO_ERR_INVAL, SIO_ERR_CLOSED (s not
 * connected), SIO_ERR_STATE (no history on the namespace), SIO_ERR_LIMIT
 * (8 replays waiting) or SIO_ERR_NOMEM. */
enum { SIO_REPLAY_FOUND = 0, SIO_REPLAY_DONE = 1 };
typedef void (*sio_replay_cb)(sio_socket *s, int stage, int status,
                              size_t replayed, int complete, void *ud);
SIO_EXTERN int sio_socket_replay(sio_socket *s, const char *const *rooms,
                                 size_t nrooms, const char *since,
                                 sio_replay_cb cb, void *ud);
/* Room membership. room is copied. join returns 0 (also when already a
 * member), SIO_ERR_CLOSED (disconnected) or SIO_ERR_NOMEM; leave returns 0
 * or SIO_ERR_NOTFOUND. Joining is allowed inside on_authorize. */
SIO_EXTERN int sio_socket_join(sio_socket *s, const char *room);
SIO_EXTERN int sio_socket_leave(sio_socket *s, const char *room);
SIO_EXTERN int sio_socket_in_room(const sio_socket *s, const char *room);
/* Calls cb for each room of s (its own id room included); room borrowed. */
SIO_EXTERN void sio_socket_rooms(const sio_socket *s,
                                 void (*cb)(const char *room, void *ud),
                                 void *ud);
/* Disconnects from the namespace (reason "server namespace disconnect"),
 * closing the whole Engine.IO session too when close_transport is set. */
SIO_EXTERN void sio_socket_disconnect(sio_socket *s, int close_transport);
/* The socket's JSON data, what the reference server calls socket.data:
 * other instances see it in sio_namespace_fetch_sockets() results. set
 * takes ownership of data (NULL clears it); get returns it borrowed. */
SIO_EXTERN void sio_socket_set_json_data(sio_socket *s, json_object *data);
SIO_EXTERN json_object *sio_socket_get_json_data(const sio_socket *s);

/* ------------------------------------------------------------- broadcast */

enum {
  SIO_BCAST_VOLATILE = 1, /* skip recipients that cannot take it now */
  SIO_BCAST_LOCAL = 2     /* this instance only (no cluster fan-out) */
};

/* Target of a broadcast. All arrays borrowed. No rooms means every socket
 * of the namespace. A socket in any of `except` rooms is skipped. */
typedef struct sio_broadcast_opts {
  const char *const *rooms;
  size_t nrooms;
  const char *const *except;
  size_t nexcept;
  int flags;
} sio_broadcast_opts;

/* Encodes the event once and queues it by reference to every local
 * recipient; with a cluster adapter (sio_server_use_redis) and without
 * SIO_BCAST_LOCAL, also publishes it to the other instances, which
 * deliver it to theirs (a publish that fails while the cluster is
 * unreachable is counted as dropped, see sio_stats, and is no error).
 * Returns the number of local recipients, SIO_ERR_INVAL (event NULL or
 * reserved) or SIO_ERR_NOMEM. With recovery on and an adapter that keeps
 * it (SIO_ADAPTER_RECOVERY) a broadcast recovery keeps is delivered here
 * too once the cluster numbered it, later: then 0. */
SIO_EXTERN int sio_namespace_broadcast(sio_namespace *ns,
                                       const sio_broadcast_opts *o,
                                       const char *event, json_object *args,
                                       const sio_bin *bins, size_t nbins);

/* The connected sockets of ns (this server's) that a broadcast with o
 * (NULL: all) would reach now, each once. */
SIO_EXTERN size_t sio_namespace_count_selected(sio_namespace *ns,
                                               const sio_broadcast_opts *o);

/* sio_placeholder_new (<sio/sio_json.h>) builds the placeholders of args
 * with binary. */

/* --------------------------------------------------------------- cluster
 *
 * With a cluster adapter (sio_server_use_redis), broadcasts and the calls
 * below reach every instance of the cluster: other sio-server instances,
 * Node socket.io servers using @socket.io/redis-adapter 8, and messages of
 * any @socket.io/redis-emitter. Without one (the in-memory adapter) they
 * act on this instance only. SIO_BCAST_LOCAL in o->flags limits one call
 * to this instance. o selects sockets as for broadcasts (NULL: all). */

/* Makes the selected sockets join (leave) rooms (arrays borrowed).
 * Returns 0 (the local part is done; remote instances apply it when the
 * message reaches them), SIO_ERR_INVAL or SIO_ERR_NOMEM. */
SIO_EXTERN int sio_namespace_sockets_join(sio_namespace *ns,
                                          const sio_broadcast_opts *o,
                                          const char *const *rooms,
                                          size_t nrooms);
SIO_EXTERN int sio_namespace_sockets_leave(sio_namespace *ns,
                                           const sio_broadcast_opts *o,
                                           const char *const *rooms,
                                           size_t nrooms);
/* Disconnects the selected sockets (as sio_socket_disconnect). Returns 0,
 * SIO_ERR_INVAL or SIO_ERR_NOMEM. */
SIO_EXTERN int sio_namespace_disconnect_sockets(sio_namespace *ns,
                                                const sio_broadcast_opts *o,
                                                int close_transport);

/* A socket as sio_namespace_fetch_sockets reports it; everything borrowed
 * for the callback. */
typedef struct sio_socket_info {
  const char *id;
  const char *const *rooms; /* its own id room included */
  size_t nrooms;
  /* {headers, time, address, xdomain, secure, issued, url, query, auth}
   * as the reference server describes a handshake; NULL when unknown */
  json_object *handshake;
  json_object *data;  /* socket.data (sio_socket_set_json_data) or NULL */
  sio_socket *local;  /* the socket when it lives on this instance */
} sio_socket_info;

/* Results of the asynchronous cluster calls. Each fires exactly once when
 * the call returned 0, never from inside the call, with status 0 (every
 * instance answered), SIO_ERR_TIMEOUT (some did not in time: the results
 * hold what arrived), SIO_ERR_CLOSED (the cluster is unreachable: local
 * results only) or SIO_ERR_CANCELED (the server is closing). */
typedef void (*sio_fetch_cb)(sio_namespace *ns, int status,
                             const sio_socket_info *sockets, size_t n,
                             void *ud);
typedef void (*sio_rooms_cb)(sio_namespace *ns, int status,
                             const char *const *rooms, size_t n, void *ud);
typedef void (*sio_count_cb)(sio_namespace *ns, int status, size_t count,
                             void *ud);

/* fetchSockets(): the selected sockets of every instance. Returns 0,
 * SIO_ERR_INVAL (cb NULL), SIO_ERR_CLOSED (the server is closing) or
 * SIO_ERR_NOMEM; cb never fires after an error. */
SIO_EXTERN int sio_namespace_fetch_sockets(sio_namespace *ns,
                                           const sio_broadcast_opts *o,
                                           sio_fetch_cb cb, void *ud);
/* allRooms(): every room of the namespace across the cluster (socket id
 * rooms included, as the reference lists them). Errors as above. */
SIO_EXTERN int sio_namespace_all_rooms(sio_namespace *ns, sio_rooms_cb cb,
                                       void *ud);
/* serverCount(): instances serving the namespace, this one included
 * (1 without a cluster adapter). Errors as above. */
SIO_EXTERN int sio_namespace_server_count(sio_namespace *ns, sio_count_cb cb,
                                          void *ud);
/* sio_namespace_server_count() of the main namespace "/". */
SIO_EXTERN int sio_server_count(sio_server *s, sio_count_cb cb, void *ud);

/* serverSideEmit(): an event for the other instances' servers (not their
 * clients). event and args (a JSON array or NULL) are borrowed. With cb,
 * each other instance may answer once; cb receives the array of answers
 * (borrowed), status 0 when all answered, SIO_ERR_TIMEOUT otherwise.
 * Returns 0, SIO_ERR_INVAL (event NULL or reserved) or SIO_ERR_NOMEM. */
typedef void (*sio_server_ack_cb)(sio_namespace *ns, int status,
                                  json_object *responses, void *ud);
SIO_EXTERN int sio_namespace_server_side_emit(sio_namespace *ns,
                                              const char *event,
                                              json_object *args,
                                              sio_server_ack_cb cb, void *ud);
/* Receives other instances' server-side events: event and args borrowed.
 * ack is NULL when the sender wants no answer. Otherwise, to answer,
 * store the answer in *ack (ownership passes to libsio; NULL is null) and
 * return 1; return 0 not to answer (the sender then waits until its
 * timeout, as with a reference server that has no listener for it). */
typedef int (*sio_server_event_cb)(sio_namespace *ns, const char *event,
                                   json_object *args, json_object **ack,
                                   void *ud);
SIO_EXTERN void sio_namespace_on_server_event(sio_namespace *ns,
                                              sio_server_event_cb cb,
                                              void *ud);

/* Broadcast asking every recipient for an acknowledgement within
 * timeout_ms (> 0). cb fires once with status 0 when every recipient of
 * every instance answered, else SIO_ERR_TIMEOUT (or SIO_ERR_CANCELED at
 * shutdown), and the answers so far: responses is an array of each
 * client's first acknowledgement argument, whose placeholders index bins
 * (all borrowed for the call). Other arguments as sio_namespace_broadcast.
 * Returns 0, SIO_ERR_INVAL or SIO_ERR_NOMEM (cb never fires then). */
typedef void (*sio_broadcast_ack_cb)(sio_namespace *ns, int status,
                                     json_object *responses,
                                     const sio_bin *bins, size_t nbins,
                                     void *ud);
SIO_EXTERN int sio_namespace_broadcast_ack(sio_namespace *ns,
                                           const sio_broadcast_opts *o,
                                           const char *event,
                                           json_object *args,
                                           const sio_bin *bins, size_t nbins,
                                           uint32_t timeout_ms,
                                           sio_broadcast_ack_cb cb, void *ud);

/* ----------------------------------------------------------------- redis */

/* sio_redis_config.adapter: which socket.io adapter protocol runs over
 * Redis. */
typedef enum sio_redis_adapter {
  SIO_REDIS_ADAPTER_CLASSIC = 0, /* @socket.io/redis-adapter createAdapter:
                                    PUBLISH / PSUBSCRIBE */
  SIO_REDIS_ADAPTER_SHARDED = 1, /* createShardedAdapter: Redis 7 sharded
                                    pub/sub (SPUBLISH / SSUBSCRIBE), the
                                    one for a Redis Cluster */
  SIO_REDIS_ADAPTER_STREAMS = 2  /* @socket.io/redis-streams-adapter 0.3:
                                    a Redis stream (the key) and classic
                                    pub/sub; keeps connection state
                                    recovery for the whole fleet */
} sio_redis_adapter;

typedef struct sio_redis_config {
  const char *url; /* redis://[[user]:password@]host[:port][/db],
                      rediss://... (TLS), unix:///path[?db=N&password=P]
                      (redis+unix too),
                      redis+sentinel://[[user]:password@]host:port[,host:port...]/master-name[/db]
                      (rediss+sentinel: TLS), or
                      redis+cluster://[[user]:password@]host:port[,host:port...]
                      (rediss+cluster: TLS) */
  const char *key; /* channel prefix, NULL: "socket.io" */
  uint32_t requests_timeout_ms; /* cluster requests, 0: 5000 */
  uint32_t connect_timeout_ms;  /* one connection attempt, 0: 5000 */
  uint32_t command_timeout_ms;  /* a command's reply, 0: 5000 */
  uint32_t reconnect_min_ms;    /* first retry delay, 0: 100 (the
                                   first retry comes after a random
                                   half to all of it) */
  uint32_t reconnect_max_ms;    /* backoff cap, 0: 500 */
  uint32_t ping_interval_ms;    /* PING Redis this often to measure the
                                   round trip and notice a Redis that
                                   stopped answering while nothing is
                                   published, 0: 5000 */
  sio_redis_adapter adapter;    /* protocol, 0: classic */
  const char *tls_ca_file;   /* rediss: CA bundle (PEM), NULL or "": the
                                system's CA paths */
  const char *tls_cert_file; /* rediss: client certificate, NULL: none */
  const char *tls_key_file;  /* its private key */
} sio_redis_config;

/* Joins the cluster on Redis through the socket.io Redis adapter protocol
 * (@socket.io/redis-adapter 8): connects a subscriber and a publisher,
 * reconnecting with backoff for the server's life; while Redis is
 * unreachable local delivery goes on and cluster messages are dropped and
 * counted. Call before sio_server_listen, once. Strings are copied.
 * Returns 0, SIO_ERR_INVAL (bad URL, or the sharded adapter asked of a
 * Redis without sharded pub/sub support in libsio), SIO_ERR_IO (a TLS
 * file unreadable), SIO_ERR_STATE (an adapter is already installed, or the server is
 * closing) or SIO_ERR_NOMEM. The connection is made in the background. */
SIO_EXTERN int sio_server_use_redis(sio_server *s, const char *url,
                                    const char *key);
/* The same with every setting; cfg borrowed (zero fields: defaults). */
SIO_EXTERN int sio_server_use_redis_config(sio_server *s,
                                           const sio_redis_config *cfg);
/* 1 while the cluster adapter reaches the other instances (subscriber and
 * publisher connected, subscriptions in place), 0 otherwise or without a
 * cluster adapter. */
SIO_EXTERN int sio_server_redis_connected(const sio_server *s);

#ifdef __cplusplus
}
#endif

#endif
