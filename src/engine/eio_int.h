#ifndef EIO_INT_H
#define EIO_INT_H

/* Internal structures of the Engine.IO server, shared by eio_server.c
 * (handshake, routing, errors), eio_socket.c (session state machine),
 * eio_polling.c and eio_ws.c (the two transports). */

#include <wslay/wslay.h>

#include "eio_server.h"
#include "sio_buf.h"
#include "sio_conn.h"
#include "sio_http.h"
#include "sio_http_cors.h"
#include "sio_listener.h"
#include "sio_map.h"
#include "sio_queue.h"
#include "sio_tls.h"
#include "eio_packet.h"
#include "eio_cluster_msg.h"

#define EIO_TRANSPORT_POLLING 1
#define EIO_TRANSPORT_WEBSOCKET 2

/* Engine.IO error codes of the reference server (engine.io Server.errors). */
typedef enum eio_error {
  EIO_ERR_UNKNOWN_TRANSPORT = 0,
  EIO_ERR_UNKNOWN_SID = 1,
  EIO_ERR_BAD_HANDSHAKE_METHOD = 2,
  EIO_ERR_BAD_REQUEST = 3,
  EIO_ERR_FORBIDDEN = 4,
  EIO_ERR_UNSUPPORTED_PROTOCOL_VERSION = 5
} eio_error;

typedef enum eio_conn_mode { EIO_CONN_HTTP, EIO_CONN_WS } eio_conn_mode;

typedef struct eio_conn {
  sio_conn base; /* first: a sio_conn * is an eio_conn * */
  eio_server *srv;
  sio_queue link; /* srv->conns */
  uint8_t mode;
  uint8_t held;      /* a polling GET is parked here waiting for packets */
  uint8_t keep_alive; /* of the parked request */
  uint8_t ws_probing; /* ws conn of an upgrade not yet completed */
  uint8_t answered;   /* the current request has been answered */
  uint8_t routing;    /* inside route(): an answer needs no resume */
  uint8_t deferred;   /* on_http kept the request (eio_http_defer) */
  uint8_t resume_due; /* resume is queued */
  uint8_t adopted;    /* handed here by another loop with a request not
                         yet routed: it is not handed on again */
  sio_conn **defer_ref; /* the keeper's pointer, NULLed when c closes */
  sio_defer resume;     /* reads on after a deferred answer */
  sio_http_parser *hp; /* HTTP mode only */
  sio_buf pending_in;  /* bytes that arrived while a GET was parked */
  char *held_hdrs;     /* response headers (CORS...) of the parked GET */
  eio_socket *sess;    /* session using this conn (held GET or ws) */
  wslay_event_context_ptr ws; /* only while a message is being received */
  uint64_t ws_frame_left;     /* payload bytes left in the current frame */
  uint8_t ws_hdr[14];         /* partial frame header */
  uint8_t ws_hdr_have;
  uint8_t ws_in_fragments;    /* inside a fragmented message */
  uint8_t ws_open;            /* the opening handshake was answered */
  uint8_t ws_at_boundary;     /* the input so far ended between messages */
  const uint8_t *ws_in; /* input handed to wslay_event_recv */
  size_t ws_in_len;
  uint64_t last_active; /* uv_now at the last read, for idle timeouts */
  uint64_t started;     /* uv_now when the current request (or, on a probe
                           WebSocket, the upgrade) began */
  struct eio_cl_remote *remote; /* a request for another node's session
                                   (eio_cluster.c) */
} eio_conn;

typedef enum eio_state {
  EIO_STATE_OPEN,
  EIO_STATE_CLOSING, /* close decided, upcall pending */
  EIO_STATE_CLOSED
} eio_state;

typedef struct eio_outq_item {
  sio_queue q;
  sio_rcbuf *rc;
} eio_outq_item;

struct eio_socket {
  eio_server *srv;
  char sid[21];
  uint8_t state;
  uint8_t transport;
  uint8_t upgrading; /* probe answered, waiting for "5" */
  uint8_t upgraded;
  uint8_t awaiting_pong;
  /* Closed by the server while polling: still found by its sid so that the
   * client's next GETs get what was queued, then "6\x1e1" (the reference
   * server's orderly close); freed then, or pingTimeout after the on_close
   * upcall if no GET comes (in srv->hb_linger). */
  uint8_t lingering;
  eio_conn *poll_conn;  /* conn with a parked GET, polling only */
  eio_conn *ws_conn;    /* active WebSocket */
  eio_conn *probe_conn; /* WebSocket of an upgrade in progress */
  sio_queue outq;       /* eio_outq_item, polling (and during upgrade) */
  size_t out_bytes;
  sio_queue hb_link;      /* in srv->hb_ping or srv->hb_pong (eio_socket.c) */
  uint64_t hb_due;        /* uv_now() ms of the next heartbeat step */
  uint64_t pong_deadline; /* uv_hrtime() ns by which a pong is due */
  sio_defer close_defer;
  const char *close_reason;
  char *hs;        /* handshake facts: "name\0value\0" pairs */
  size_t hs_len;
  size_t hs_headers; /* bytes of hs holding headers; query pairs follow */
  char remote[46];
  void *data;
  struct eio_cl_session *cl; /* forwarding state (eio_cluster.c), NULL
                                unless another node reads or upgrades
                                this session, or its open is held */
};

struct eio_server {
  uv_loop_t *loop;
  sio_net net;
  eio_options opts; /* strings owned */
  eio_callbacks cbs;
  void *ud;
  sio_cors cors;
  sio_tls_ctx *tls; /* NULL: plain TCP */
  sio_http_limits http_limits;
  sio_listener *listeners;
  sio_queue conns; /* eio_conn */
  sio_map sessions; /* sid -> eio_socket */
  uint64_t handshakes;
  size_t ws_sessions; /* sessions whose transport is WebSocket */
  uint64_t over_max_payload;
  uint64_t slow_consumers;
  uint64_t origin_refused;
  uint64_t connections_refused;
  size_t ws_parsers; /* live wslay contexts */
  size_t nconns;
  /* the loops' shared count of connections, for a process-wide
   * max_connections (eio_server_set_conn_counter), or NULL */
  atomic_uint *shared_conns;
  int closing;
  size_t pending_closes; /* handles still closing at shutdown */
  void (*close_cb)(void *ud);
  void *close_ud;
  uv_timer_t sweep; /* idle HTTP connection timeout */
  /* Heartbeats of every open session (eio_socket.c): one timer for the
   * server instead of one per session, and two lists kept in deadline
   * order for free, since every session waits the same pingInterval for
   * its next ping and the same pingTimeout for its pong. */
  sio_queue hb_ping; /* sessions waiting to send a ping */
  sio_queue hb_pong; /* sessions waiting for a pong */
  sio_queue hb_linger; /* closed sessions waiting for their last GET */
  size_t lingering;    /* sessions in hb_linger or about to be */
  uv_timer_t hb_timer;
  uint64_t hb_timer_due; /* uv_now() ms the timer is set for, 0: idle */
  /* Sticky-free forwarding (eio_cluster.c): off while bus.publish is
   * NULL. Each list holds entries of one duration, so it is in deadline
   * order; one timer serves them all. */
  eio_bus bus;
  char node_id[EIO_CM_NODE_ID_LEN + 1];
  uint32_t takeover_ms;
  uint64_t cl_next_id;
  sio_queue cl_waits;    /* eio_cl_remote waiting for a lock or upgrade
                            answer (EIO_CL_ANSWER_MS) */
  sio_queue cl_reads;    /* eio_cl_remote: forwarded GETs waiting for
                            output (pingInterval + pingTimeout) */
  sio_queue cl_delayed;  /* eio_cl_session: open held (takeover_ms) */
  sio_queue cl_upgrades; /* eio_cl_session: upgrading through another
                            node (EIO_CL_UPGRADE_MS) */
  sio_map cl_readers;    /* sid -> eio_cl_remote reading it here */
  /* Loops of one process (eio_server_set_loops) */
  uint8_t loop_index, nloops;
  eio_route_fn route;
  void *route_ud;
  int (*pick)(void *ud); /* the loop of a new session (route_ud), or NULL */
  uv_timer_t cl_timer;
  uint64_t cl_timer_due;
  eio_forward_stats cl_stats;
};

/* eio_server.c */
/* Writes an HTTP response with CORS headers for req. body copied. */
int eio_respond(eio_conn *c, const sio_http_request *req, int status,
                const char *content_type, const void *body, size_t len,
                const char *extra_headers);
/* Writes a response with pre-formatted headers; closes after it unless
 * keep_alive. body copied. */
int eio_respond_raw(eio_conn *c, int status, const char *headers,
                    const char *content_type, const void *body, size_t len,
                    int keep_alive);
/* The CORS lines for req, appended to h. */
int eio_common_headers(eio_conn *c, const sio_http_request *req, sio_buf *h);
/* Answers with the reference server's JSON error body. */
void eio_respond_error(eio_conn *c, const sio_http_request *req,
                       eio_error code);
/* At shutdown: closes idle connections once no session is left and frees
 * the server when nothing is open any more. */
void eio_server_reap(eio_server *srv);
/* The bare 400 of a refused upgrade; c closes after it. */
void eio_abort_upgrade(eio_conn *c, eio_error code);
/* The reference's JSON error body for code, appended to out. */
int eio_error_body(sio_buf *out, eio_error code);
/* Continues reading requests on c after a parked GET was answered. */
void eio_conn_resume_http(eio_conn *c);

/* eio_socket.c */
int eio_socket_new(eio_socket **out, eio_server *srv, int transport,
                   const sio_http_request *req, const char *remote);
/* A session not yet in the sid table: the handshake facts of req, for a
 * takeover (eio_cluster.c). eio_socket_register gives it sid and adds it;
 * eio_socket_discard frees one never registered. */
int eio_socket_shell(eio_socket **out, eio_server *srv, int transport,
                     const sio_http_request *req, const char *remote);
int eio_socket_register(eio_socket *s, const char *sid);
void eio_socket_discard(eio_socket *s);
/* Starts the heartbeat and tells the layer above. */
void eio_socket_opened(eio_socket *s);
/* The server's heartbeat timer (hb_timer): pings and ping timeouts of
 * every session whose deadline has come. */
void eio_socket_heartbeat(uv_timer_t *t);
/* Closes s with "ping timeout" when its pong deadline has passed (in real
 * time, even if the timer has not run yet this iteration). Returns 1 when
 * it did. */
int eio_socket_check_expired(eio_socket *s);
/* Handles one decoded packet from the client. */
void eio_socket_on_packet(eio_socket *s, const eio_packet *p);
/* Session close: sets state, detaches conns, defers the on_close upcall. */
void eio_socket_close_now(eio_socket *s, const char *reason);
/* The open packet text: "0{...}". */
int eio_socket_open_packet(eio_socket *s, sio_buf *out);
/* Sends what is queued to the current transport when it can take it. */
void eio_socket_flush(eio_socket *s);
/* Queue an internal packet (ping, noop...) given as text. */
int eio_socket_send_text(eio_socket *s, const char *text, size_t len);
/* Ends the lingering of a closed polling session: frees its queue and,
 * once its on_close upcall has run, the session itself (s is invalid
 * after the call). */
void eio_socket_linger_end(eio_socket *s);
/* Takes every queued packet of s into out as one polling payload. Returns
 * 0 or SIO_ERR_NOMEM (the queue is emptied either way). */
int eio_socket_take_payload(eio_socket *s, sio_buf *out);

/* eio_polling.c */
/* Serves a GET (parks it or answers at once) or a POST for session s.
 * handshake adds the sticky cookie to the answer. */
void eio_polling_handle(eio_conn *c, eio_socket *s,
                        const sio_http_request *req, int handshake);
/* Answers the parked GET with the queued packets, or with one packet. */
void eio_polling_flush(eio_socket *s);
void eio_polling_send_single(eio_socket *s, const char *pkt);

/* eio_cluster.c */
/* Takes a request for a sid this server does not hold: asks the other
 * nodes for its owner and parks c until they answer. Returns 1 when it
 * took the request, 0 when forwarding is off or the request cannot be
 * forwarded (the caller answers "Session ID unknown"). */
int eio_cluster_route(eio_conn *c, const sio_http_request *req, int transport,
                      const char *sid, size_t sid_len);
/* c is closing: ends the forwarded request or transport it carried. */
void eio_cluster_conn_gone(eio_conn *c);
/* A WebSocket message on a connection proxying another node's session. */
void eio_cluster_ws_message(eio_conn *c, int binary, const uint8_t *msg,
                            size_t len);
/* Holds back the on_open upcall of a new polling session for takeover_ms,
 * so that an upgrade through another node can take it over. Returns 1
 * when it did (the upcall comes from eio_cluster_announce). */
int eio_cluster_hold_open(eio_socket *s);
/* Makes the held upcall now (a local upgrade: no takeover can come). */
void eio_cluster_announce(eio_socket *s);
/* 1 while s's open is held: its messages wait (eio_cluster_hold_message). */
int eio_cluster_held(const eio_socket *s);
void eio_cluster_hold_message(eio_socket *s, const eio_packet *p);
/* 1 when another node reads s's output. */
int eio_cluster_has_reader(const eio_socket *s);
/* Sends s's queued output to the node reading it, at the end of this
 * iteration. */
void eio_cluster_flush(eio_socket *s);
/* Answers the reader of s at once with what is queued and pkt ("6": the
 * client is switching; "1": the session closed); NULL pkt: nothing more. */
void eio_cluster_release_reader(eio_socket *s, const char *pkt);
/* s is being freed. */
void eio_cluster_session_free(eio_socket *s);
/* At shutdown: ends every forwarded request and the timer. */
void eio_cluster_close(eio_server *srv);

/* eio_ws.c */
/* Checks the WebSocket opening handshake headers (RFC 6455 4.2.1).
 * Returns 0 or SIO_ERR_PROTO. */
int eio_ws_check(const sio_http_request *req);
/* Answers 101 and switches c to WebSocket for session s: its transport
 * (handshake) or its upgrade probe. rest holds bytes after the request. */
void eio_ws_accept(eio_conn *c, eio_socket *s, const sio_http_request *req,
                   const uint8_t *rest, size_t rest_len, int handshake);
/* Completes the opening handshake, then closes (1000) at once: a second
 * WebSocket for a session, as the reference server treats it. */
void eio_ws_accept_and_close(eio_conn *c, const sio_http_request *req);
void eio_ws_on_read(eio_conn *c, const uint8_t *data, size_t len);
/* Appends the 101 answer to req, up to and without its final blank line. */
int eio_ws_write_101(sio_buf *out, const sio_http_request *req);
/* Frames one message onto the connection. */
int eio_ws_send(eio_conn *c, sio_rcbuf *rc);
int eio_ws_send_text(eio_conn *c, const char *text, size_t len);
/* Sends a close frame and closes after flushing. */
void eio_ws_close(eio_conn *c, uint16_t code);
void eio_ws_free(eio_conn *c);
/* Frees the wslay context of a quiet connection between messages. Returns
 * 1 when it did. */
int eio_ws_release_idle(eio_conn *c);
/* Packets on the WebSocket of an upgrade in progress (eio_socket.c). */
void eio_socket_on_probe_packet(eio_socket *s, eio_conn *ws,
                                const eio_packet *p);

#endif
