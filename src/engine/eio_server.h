#ifndef EIO_SERVER_H
#define EIO_SERVER_H

/* The Engine.IO v4 server: handshake, sid table, transports (polling,
 * WebSocket), upgrade, heartbeat. The Socket.IO layer reaches it only
 * through eio_callbacks (upcalls) and the eio_socket_* functions below
 * (downcalls); it never sees HTTP, WebSocket frames or sockets. */

#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>
#include <uv.h>

#include "sio_conn.h"
#include "sio_rcbuf.h"

typedef struct eio_server eio_server;
typedef struct eio_socket eio_socket;
typedef struct sio_http_request sio_http_request;
typedef struct sio_conn sio_conn;

typedef struct eio_options {
  const char *path;        /* "/engine.io/" or "/socket.io/" (borrowed) */
  uint32_t ping_interval;  /* ms */
  uint32_t ping_timeout;   /* ms */
  size_t max_payload;      /* bytes, per message and per polling body */
  int transports;          /* SIO_TRANSPORT_* mask */
  const char *cors_origins; /* "*", a comma list, or NULL/"" for no CORS */
  int cors_credentials;
  const char *cookie;      /* sticky cookie name or NULL */
  size_t max_buffered;     /* per-session unsent-bytes bound */
  uint32_t max_connections; /* 0 = unlimited */
  uint32_t backlog;         /* listen(2) queue, 0 = 511 */
  const char *tls_cert;     /* PEM files for native TLS, or NULL */
  const char *tls_key;
  const char *tls_chain;
  int tls13_only; /* refuse TLS 1.2 */
  uint32_t close_timeout_ms; /* bound of a graceful close; 0: default */
} eio_options;

/* Upcalls into the layer above. Each receives the ud given to
 * eio_server_new. Data pointers are borrowed for the call. */
typedef struct eio_callbacks {
  /* A session was opened (handshake done, open packet queued). */
  void (*on_open)(eio_socket *es, void *ud);
  /* A message packet arrived: text (without the '4') or binary. */
  void (*on_message)(eio_socket *es, int binary, const uint8_t *data,
                     size_t len, void *ud);
  /* The session ended; reason is "transport close", "transport error",
   * "ping timeout", "parse error", "forced close" or "server shutting
   * down". es is freed after this returns: drop every pointer to it. */
  void (*on_close)(eio_socket *es, const char *reason, void *ud);
  /* An HTTP request outside the Engine.IO path (may be NULL: 404). The
   * handler answers through eio_http_respond() before returning; if it
   * does not, the engine answers 404. */
  void (*on_http)(sio_conn *c, const sio_http_request *req, void *ud);
  /* Called before a handshake creates a session (may be NULL). Return 0 to
   * go on, or an HTTP status (403, 429, 503...) to refuse it with the
   * reference server's Forbidden error body (code 4) and that status;
   * *message, when set, replaces "Forbidden" in the body (a static string
   * that needs no JSON escaping). */
  int (*on_handshake)(sio_conn *c, const sio_http_request *req,
                      const char **message, void *ud);
} eio_callbacks;

/* Creates the engine on loop. opts and cbs are copied (strings too).
 * Returns 0, SIO_ERR_NOMEM or SIO_ERR_IO (TLS files unusable: logged). */
int eio_server_new(eio_server **out, uv_loop_t *loop, const eio_options *opts,
                   const eio_callbacks *cbs, void *ud);
/* Listens on "host:port". Returns 0, SIO_ERR_INVAL, SIO_ERR_IO. */
int eio_server_listen(eio_server *srv, const char *addr);
/* Bound port of the idx-th listener or SIO_ERR_NOTFOUND. */
int eio_server_port(const eio_server *srv, size_t idx);
/* Answers a request handed to on_http (CORS headers added). body and
 * extra_headers ("Name: value\r\n"..., or NULL) are copied. Returns 0,
 * SIO_ERR_STATE (already answered), SIO_ERR_CLOSED (a deferred request
 * whose connection is closing: nothing sent) or SIO_ERR_NOMEM. */
int eio_http_respond(sio_conn *c, const sio_http_request *req, int status,
                     const char *content_type, const void *body, size_t len,
                     const char *extra_headers);
/* Inside on_http: the request stays unanswered when on_http returns
 * (req stays valid) and c reads no further request until
 * eio_http_respond answers it; *ref (the keeper's pointer to c) is set to
 * NULL if c closes first. Returns 0 or SIO_ERR_STATE (answered, deferred
 * already, or not inside on_http). */
int eio_http_defer(sio_conn *c, sio_conn **ref);
/* Peer address of the connection ("127.0.0.1"). */
const char *eio_conn_remote_addr(const sio_conn *c);
/* Stops accepting connections (closes the listeners); sessions go on.
 * Used to drain before eio_server_close. */
void eio_server_stop_listening(eio_server *srv);

/* Closes listeners and every session (on_close fires with "server shutting
 * down" for each), then frees srv once all handles closed and calls cb. */
void eio_server_close(eio_server *srv, void (*cb)(void *ud), void *ud);
size_t eio_server_session_count(const eio_server *srv);
/* Ends the graceful closes still waiting for slow peers now (a second
 * SIGTERM during a drain). */
void eio_server_abort_closes(eio_server *srv);
/* Runs d->fn(d) at the end of this loop iteration, before output is
 * flushed (sio_net_defer on the server's network). */
void eio_server_defer(eio_server *srv, sio_defer *d, void (*fn)(sio_defer *d));

/* Sticky-free load balancing (SPEC §2): a request for a session another
 * node owns is carried to it over a bus, in the messages of
 * @socket.io/cluster-engine's RedisEngine (eio_cluster_msg.h). The bus is
 * pub/sub: publish sends one message to a channel; every message of the
 * channels "engine.io#" and "engine.io#<node id>#" must come back through
 * eio_server_bus_message. */
typedef struct eio_bus {
  /* Returns 0, or an error when the message cannot go (dropped). */
  int (*publish)(void *ud, const char *channel, const uint8_t *msg,
                 size_t len);
  void *ud;
} eio_bus;
/* Turns forwarding on (bus copied) or off (NULL: requests in flight fail).
 * takeover_ms holds a new polling session's open that long, so that a
 * WebSocket upgrade arriving at another node takes the session over
 * instead of proxying it (0: never held). Returns 0 or SIO_ERR_NOMEM. */
int eio_server_set_bus(eio_server *srv, const eio_bus *bus,
                       uint32_t takeover_ms);
/* This node's id on the bus (6 hex digits, NUL-terminated). */
const char *eio_server_node_id(const eio_server *srv);
/* A message that came on the bus; anything malformed is counted and
 * dropped. */
void eio_server_bus_message(eio_server *srv, const uint8_t *msg, size_t len);

/* Loops of one process (server.threads = N): each loop's server holds
 * the sessions it created, and a sid names its loop in its first
 * character (the base64url digit of the loop's index: up to 64 loops). A
 * request that names another loop's sid is handed to that loop with its
 * connection: route is called with the connection (sio_handoff, the socket
 * and its TLS session; this loop's handle is already closing) and the
 * bytes the owner must parse first (the request, then whatever followed
 * it), and posts both to the owner's loop, which gives them to
 * eio_server_adopt. route returns 0 when it took both (it frees bytes
 * with sio_free), an error otherwise (both are then dropped here and the
 * client sees its connection close). */
typedef int (*eio_route_fn)(void *ud, unsigned loop, sio_handoff *h,
                            uint8_t *bytes, size_t len);
/* index of n loops (n 0 or 1: a single loop, the default); with n > 1,
 * listeners opened afterwards share their address with the other loops'
 * (SO_REUSEPORT). Returns 0 or
 * SIO_ERR_INVAL (n > 64, index >= n, no route with n > 1). */
int eio_server_set_loops(eio_server *srv, unsigned index, unsigned n,
                         eio_route_fn route, void *ud);
/* Writes rc's WebSocket frame header into its headroom now instead of at
 * its first WebSocket delivery: a buffer shared with other loops must not
 * change once they can see it. */
void eio_frame_ahead(sio_rcbuf *rc);
/* With loops: pick(route_ud) names the loop a new session goes to (its
 * handshake is handed there with its connection; this loop's index, or
 * -1, keeps it here). A connection handed here is not handed on with the
 * request it came with. NULL: every loop keeps its handshakes. */
void eio_server_set_balance(eio_server *srv, int (*pick)(void *ud));
/* With loops: count is the connections of every loop together, against
 * which max_connections is checked (NULL: this loop's own). */
void eio_server_set_conn_counter(eio_server *srv, atomic_uint *count);
/* The loop a sid names, or -1 (not a 20-character sid). */
int eio_sid_loop(const char *sid, size_t len);
/* On srv's loop: a connection another loop handed over, with the bytes to
 * parse first (borrowed). Returns 0, SIO_ERR_IO (h dropped) or
 * SIO_ERR_CLOSED (the server is closing; h dropped). */
int eio_server_adopt(eio_server *srv, sio_handoff *h, const uint8_t *bytes,
                     size_t len);

typedef struct eio_forward_stats {
  uint64_t requests;     /* requests carried to their owner */
  uint64_t unknown;      /* requests no node owned (answered 400) */
  uint64_t served;       /* requests of other nodes for our sessions */
  uint64_t takeovers;    /* sessions taken over by an upgrade here */
  uint64_t handed_over;  /* sessions given to the node of their upgrade */
  uint64_t proxied;      /* upgrades proxied to their owner */
  uint64_t bad_messages; /* bus messages dropped as malformed */
  uint64_t bus_errors;   /* messages the bus could not send */
  uint64_t handed_to_loop;   /* connections handed to the owner's loop */
  uint64_t adopted;          /* connections another loop handed here */
  uint64_t handoff_failures; /* could not move (output still queued) or
                                not delivered */
} eio_forward_stats;

typedef struct eio_stats {
  uint64_t bytes_in;   /* TCP bytes read / written, TLS records included */
  uint64_t bytes_out;
  uint64_t handshakes; /* sessions opened */
  size_t polling;      /* sessions on each transport now */
  size_t websocket;
  size_t tcp_connections;
  uint64_t over_max_payload; /* 413 on a POST, 1009 on a WebSocket */
  uint64_t slow_consumers;   /* sessions closed for passing max_buffered */
  uint64_t origin_refused;   /* 403 for a disallowed Origin */
  uint64_t connections_refused; /* accepted then closed: max_connections */
  size_t ws_parsers; /* WebSocket connections holding a wslay context now */
  uint64_t close_timeouts; /* closes cut short by close_timeout_ms */
  eio_forward_stats forward;
} eio_stats;
/* Fills out (borrowed) with the engine's counters. */
void eio_server_stats(const eio_server *srv, eio_stats *out);

/* Queues one message packet. msg holds the Engine.IO packet's text form
 * ("4..." for a Socket.IO packet) or, with SIO_RCBUF_BINARY in msg->flags,
 * raw binary data. The session takes its own reference; the caller keeps
 * its own. Returns 0, SIO_ERR_CLOSED (session closing), SIO_ERR_LIMIT (the
 * unsent-bytes bound was passed; the session is being closed with
 * "transport error") or SIO_ERR_NOMEM. */
int eio_socket_send(eio_socket *es, sio_rcbuf *msg);
/* 1 when a message queued now would go out without waiting behind a full
 * buffer (used to drop volatile packets), else 0. */
int eio_socket_writable(const eio_socket *es);
/* Closes the session from the server side (sends close, flushes). on_close
 * fires later with reason "forced close" (or the given reason when not
 * NULL), never from inside this call. */
void eio_socket_close(eio_socket *es, const char *reason);

const char *eio_socket_sid(const eio_socket *es);
/* "polling" or "websocket". */
const char *eio_socket_transport(const eio_socket *es);
/* Handshake request facts, borrowed for the session's life. Header names
 * are case-insensitive; query values are percent-decoded. NULL if absent. */
const char *eio_socket_header(const eio_socket *es, const char *name);
const char *eio_socket_query(const eio_socket *es, const char *name);
/* Calls cb for each handshake header (lowercase name, in request order;
 * query 0) or each query parameter (decoded, first of each name; query 1).
 * Strings borrowed for the call. */
void eio_socket_handshake_each(const eio_socket *es, int query,
                               void (*cb)(const char *name, const char *value,
                                          void *ud),
                               void *ud);
const char *eio_socket_remote_addr(const eio_socket *es);
void eio_socket_set_data(eio_socket *es, void *data);
void *eio_socket_get_data(const eio_socket *es);

#endif
