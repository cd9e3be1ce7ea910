/* eio_server.c: the Engine.IO v4 server (engine.io-protocol README,
 * "Transports" and "Handshake").
 *
 * Every accepted TCP connection starts in HTTP mode: bytes go through the
 * llhttp glue (sio_http) and each complete request is routed here:
 *   - outside the Engine.IO path: the on_http upcall, or 404;
 *   - OPTIONS: CORS preflight;
 *   - no sid: a handshake (GET only, EIO=4), creating a session whose
 *     first transport is this request's (polling answer, or WebSocket 101);
 *   - sid: the session's polling GET/POST, or a WebSocket upgrade.
 * Errors are answered with the reference server's codes and messages from
 * one table (eio_error_messages). A connection that switched to WebSocket
 * never returns to HTTP. */
#include "eio_int.h"

#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "eio_packet.h"
#include "sio/sio.h"
#include "sio_crypto.h"
#include "sio_int.h"
#include "sio_log.h"
#include "sio_mem.h"

#define EIO_IDLE_TIMEOUT_MS 30000    /* keep-alive connection idle */
#define EIO_REQUEST_TIMEOUT_MS 30000 /* a request must arrive whole */
#define EIO_UPGRADE_TIMEOUT_MS 10000 /* probe to "5", as the reference */
#define EIO_WS_IDLE_MS 2000          /* quiet WebSocket: free wslay's context */

static const char *const eio_error_messages[] = {
    "Transport unknown", "Session ID unknown", "Bad handshake method",
    "Bad request",       "Forbidden",          "Unsupported protocol version"};

static void conn_on_read(sio_conn *bc, const uint8_t *data, size_t len);
static void conn_on_error(sio_conn *bc, int status);
static void conn_on_close(sio_conn *bc);
static void http_feed(eio_conn *c, const uint8_t *data, size_t len);

/* No drain upcall: WebSocket output goes straight to the connection and a
 * polling session's queue is flushed when a GET arrives, so nothing ever
 * waits for a connection to drain (and a broadcast pays no call per
 * recipient for it). */
static const sio_conn_ops eio_conn_ops = {conn_on_read, conn_on_error, NULL,
                                          conn_on_close};

static char *dup_opt(const char *s) { return s ? sio_strdup(s) : NULL; }

int eio_server_new(eio_server **out, uv_loop_t *loop, const eio_options *opts,
                   const eio_callbacks *cbs, void *ud) {
  eio_server *srv = sio_calloc(1, sizeof(*srv));
  int rv = SIO_ERR_NOMEM;
  if (!srv)
    return SIO_ERR_NOMEM;
  srv->loop = loop;
  srv->opts = *opts;
  srv->opts.path = dup_opt(opts->path ? opts->path : "/engine.io/");
  srv->opts.cors_origins = dup_opt(opts->cors_origins);
  srv->opts.cookie = opts->cookie && *opts->cookie ? dup_opt(opts->cookie)
                                                   : NULL;
  if (!srv->opts.path || (opts->cors_origins && !srv->opts.cors_origins) ||
      (opts->cookie && *opts->cookie && !srv->opts.cookie))
    goto fail;
  if (!srv->opts.max_buffered)
    srv->opts.max_buffered = 4u << 20;
  srv->cbs = *cbs;
  srv->ud = ud;
  sio_queue_init(&srv->conns);
  sio_map_init(&srv->sessions);
  srv->http_limits.max_header_bytes = 8192;
  srv->http_limits.max_headers = 64;
  srv->http_limits.max_body = srv->opts.max_payload;
  rv = sio_cors_init(&srv->cors, srv->opts.cors_origins,
                     srv->opts.cors_credentials);
  if (rv)
    goto fail;
  if (opts->tls_cert && *opts->tls_cert) {
    char err[512];
    rv = sio_tls_ctx_new(&srv->tls, opts->tls_cert, opts->tls_key,
                         opts->tls_chain, opts->tls13_only, err, sizeof(err));
    if (rv) {
      SIO_LOGE("tls: %s", err);
      sio_cors_deinit(&srv->cors);
      goto fail;
    }
  }
  rv = sio_net_init(&srv->net, loop);
  if (rv) {
    sio_tls_ctx_del(srv->tls);
    sio_cors_deinit(&srv->cors);
    goto fail;
  }
  sio_net_set_close_timeout(&srv->net, opts->close_timeout_ms);
  sio_queue_init(&srv->hb_ping);
  sio_queue_init(&srv->hb_pong);
  sio_queue_init(&srv->hb_linger);
  uv_timer_init(loop, &srv->hb_timer);
  srv->hb_timer.data = srv;
  sio_queue_init(&srv->cl_waits);
  sio_queue_init(&srv->cl_reads);
  sio_queue_init(&srv->cl_delayed);
  sio_queue_init(&srv->cl_upgrades);
  sio_map_init(&srv->cl_readers);
  {
    uint8_t b[EIO_CM_NODE_ID_LEN / 2];
    static const char hex[] = "0123456789abcdef";
    size_t i;
    if (sio_random_bytes(b, sizeof(b)))
      memset(b, 0, sizeof(b));
    for (i = 0; i < sizeof(b); i++) {
      srv->node_id[2 * i] = hex[b[i] >> 4];
      srv->node_id[2 * i + 1] = hex[b[i] & 15];
    }
  }
  *out = srv;
  return 0;
fail:
  sio_free((char *)srv->opts.path);
  sio_free((char *)srv->opts.cors_origins);
  sio_free((char *)srv->opts.cookie);
  sio_free(srv);
  return rv;
}

/* With loops sharing max_connections, every connection of every loop
 * holds one unit of the shared count from its accept or adoption to its
 * close. */
static int shared_limit(const eio_server *srv) {
  return srv->shared_conns && srv->opts.max_connections;
}

static void shared_release(eio_server *srv) {
  if (shared_limit(srv))
    atomic_fetch_sub_explicit(srv->shared_conns, 1, memory_order_relaxed);
}

/* Room for one more connection: taken at once from the shared count, so
 * two loops accepting together cannot both pass the last place. */
static int conn_slot_take(eio_server *srv) {
  if (!srv->opts.max_connections)
    return 1;
  if (!srv->shared_conns)
    return srv->nconns < srv->opts.max_connections;
  if (atomic_fetch_add_explicit(srv->shared_conns, 1, memory_order_relaxed) <
      srv->opts.max_connections)
    return 1;
  shared_release(srv);
  return 0;
}

void eio_server_set_conn_counter(eio_server *srv, atomic_uint *count) {
  srv->shared_conns = count;
}

static sio_conn *accept_cb(sio_listener *l, void *ud) {
  eio_server *srv = ud;
  eio_conn *c;
  (void)l;
  if (srv->closing)
    return NULL;
  if (!conn_slot_take(srv)) {
    srv->connections_refused++;
    SIO_LOGW("connection refused: max_connections (%u) reached",
             srv->opts.max_connections);
    return NULL;
  }
  c = sio_calloc(1, sizeof(*c));
  if (!c) {
    shared_release(srv);
    return NULL;
  }
  if (sio_conn_init(&c->base, &srv->net, &eio_conn_ops)) {
    sio_free(c);
    shared_release(srv);
    return NULL;
  }
  if (srv->tls && sio_tls_attach(&c->base, srv->tls)) {
    sio_conn_close(&c->base); /* on_close frees it */
    c->srv = srv;
    sio_queue_init(&c->link);
    srv->nconns++;
    return NULL;
  }
  c->srv = srv;
  c->mode = EIO_CONN_HTTP;
  sio_buf_init(&c->pending_in);
  c->last_active = uv_now(srv->loop);
  sio_queue_insert_tail(&srv->conns, &c->link);
  srv->nconns++;
  return &c->base;
}

static void respond_status(eio_conn *c, const sio_http_request *req,
                           int status);

static void sweep_cb(uv_timer_t *t) {
  eio_server *srv = t->data;
  uint64_t now = uv_now(srv->loop);
  sio_queue *q, *n;
  sio_queue_foreach_safe(q, n, &srv->conns) {
    eio_conn *c = sio_container_of(q, eio_conn, link);
    /* Parked GETs and WebSockets are bounded by the heartbeat instead. */
    if (c->base.closing || c->held)
      continue;
    if (c->mode == EIO_CONN_HTTP) {
      if (c->hp && sio_http_parser_in_request(c->hp) &&
          now - c->started > EIO_REQUEST_TIMEOUT_MS) {
        respond_status(c, NULL, 408); /* slow request (slowloris) */
        sio_conn_close_after_flush(&c->base);
      } else if (now - c->last_active > EIO_IDLE_TIMEOUT_MS) {
        sio_conn_close(&c->base);
      }
    } else if (c->ws && now - c->last_active > EIO_WS_IDLE_MS) {
      eio_ws_release_idle(c);
    } else if (c->ws_probing && now - c->started > EIO_UPGRADE_TIMEOUT_MS) {
      eio_socket *s = c->sess;
      if (s && s->probe_conn == c) {
        s->probe_conn = NULL;
        s->upgrading = 0;
      }
      c->sess = NULL;
      eio_ws_close(c, 1000);
    }
  }
}

int eio_server_listen(eio_server *srv, const char *addr) {
  sio_listener *l = sio_calloc(1, sizeof(*l));
  int rv, open = 0;
  if (!l)
    return SIO_ERR_NOMEM;
  /* the loops of one process listen on the same addresses */
  rv = sio_listener_open_ex(l, &srv->net, addr,
                            srv->opts.backlog ? (int)srv->opts.backlog : 511,
                            srv->nloops > 1 ? SIO_LISTEN_REUSEPORT : 0,
                            accept_cb, srv, &open);
  if (rv) {
    if (open)
      sio_listener_close(l, (uv_close_cb)sio_free);
    else
      sio_free(l);
    return rv;
  }
  l->tcp.data = l;
  l->next = srv->listeners;
  srv->listeners = l;
  if (!uv_is_active((uv_handle_t *)&srv->sweep)) {
    uv_timer_init(srv->loop, &srv->sweep);
    srv->sweep.data = srv;
    uv_timer_start(&srv->sweep, sweep_cb, 1000, 1000);
    uv_unref((uv_handle_t *)&srv->sweep);
  }
  return 0;
}

int eio_server_port(const eio_server *srv, size_t idx) {
  const sio_listener *l;
  size_t n = 0, i;
  for (l = srv->listeners; l; l = l->next)
    n++;
  if (idx >= n)
    return SIO_ERR_NOTFOUND;
  /* listeners are kept newest first; idx counts in listen order */
  l = srv->listeners;
  for (i = 0; i < n - 1 - idx; i++)
    l = l->next;
  return l->port;
}

size_t eio_server_session_count(const eio_server *srv) {
  return sio_map_count(&srv->sessions) - srv->lingering;
}

void eio_server_stats(const eio_server *srv, eio_stats *out) {
  out->bytes_in = srv->net.bytes_in;
  out->bytes_out = srv->net.bytes_out;
  out->handshakes = srv->handshakes;
  out->forward = srv->cl_stats;
  out->websocket = srv->ws_sessions;
  out->polling =
      sio_map_count(&srv->sessions) - srv->lingering - srv->ws_sessions;
  out->tcp_connections = srv->nconns;
  out->over_max_payload = srv->over_max_payload;
  out->slow_consumers = srv->slow_consumers;
  out->close_timeouts = srv->net.close_timeouts;
  out->origin_refused = srv->origin_refused;
  out->connections_refused = srv->connections_refused;
  out->ws_parsers = srv->ws_parsers;
}

/* ---------------------------------------------------------------- replies */

int eio_common_headers(eio_conn *c, const sio_http_request *req,
                       sio_buf *h) {
  size_t olen = 0;
  const char *origin =
      req ? sio_http_request_header(req, "origin", &olen) : NULL;
  return sio_cors_append_headers(&c->srv->cors, h, origin, olen, 0, NULL, 0);
}

int eio_respond_raw(eio_conn *c, int status, const char *headers,
                    const char *content_type, const void *body, size_t len,
                    int keep_alive) {
  sio_buf out;
  int rv;
  c->answered = 1;
  sio_buf_init(&out);
  rv = sio_http_write_head(&out, status, headers, content_type, len,
                           keep_alive);
  if (!rv && len)
    rv = sio_buf_append(&out, body, len);
  if (!rv)
    rv = sio_conn_write(&c->base, out.data, out.len);
  sio_buf_deinit(&out);
  if (rv || !keep_alive)
    sio_conn_close_after_flush(&c->base);
  return rv;
}

int eio_respond(eio_conn *c, const sio_http_request *req, int status,
                const char *content_type, const void *body, size_t len,
                const char *extra_headers) {
  sio_buf hdrs;
  int rv = 0;
  sio_buf_init(&hdrs);
  if (req)
    rv = eio_common_headers(c, req, &hdrs);
  if (!rv && extra_headers)
    rv = sio_buf_append_str(&hdrs, extra_headers);
  if (!rv)
    rv = eio_respond_raw(c, status, hdrs.data, content_type, body, len,
                         req ? req->keep_alive : 0);
  else
    sio_conn_close(&c->base);
  sio_buf_deinit(&hdrs);
  return rv;
}

int eio_error_body(sio_buf *out, eio_error code) {
  return sio_buf_appendf(out, "{\"code\":%d,\"message\":\"%s\"}", (int)code,
                         eio_error_messages[code]);
}

void eio_respond_error(eio_conn *c, const sio_http_request *req,
                       eio_error code) {
  sio_buf body;
  sio_buf_init(&body);
  if (eio_error_body(&body, code) == 0)
    eio_respond(c, req, code == EIO_ERR_FORBIDDEN ? 403 : 400,
                "application/json", body.data, body.len, NULL);
  else
    sio_conn_close(&c->base);
  sio_buf_deinit(&body);
}

/* A failed WebSocket upgrade gets a bare 400 and the socket is destroyed,
 * as the reference server's abortUpgrade does. */
void eio_abort_upgrade(eio_conn *c, eio_error code) {
  sio_buf out;
  const char *msg = eio_error_messages[code];
  sio_buf_init(&out);
  if (sio_buf_appendf(&out,
                      "HTTP/1.1 400 Bad Request\r\nConnection: close\r\n"
                      "Content-type: text/html\r\nContent-Length: %zu\r\n\r\n%s",
                      strlen(msg), msg) == 0)
    sio_conn_write(&c->base, out.data, out.len);
  sio_buf_deinit(&out);
  sio_conn_close_after_flush(&c->base);
}

static void handle_closed(uv_handle_t *h);

static void resume_deferred(sio_defer *d) {
  eio_conn *c = sio_container_of(d, eio_conn, resume);
  c->resume_due = 0;
  if (!c->base.closing)
    eio_conn_resume_http(c);
}

int eio_http_defer(sio_conn *bc, sio_conn **ref) {
  eio_conn *c = (eio_conn *)bc;
  if (c->answered || c->deferred || !c->routing || c->base.closing)
    return SIO_ERR_STATE;
  c->deferred = 1;
  c->defer_ref = ref;
  return 0;
}

int eio_http_respond(sio_conn *bc, const sio_http_request *req, int status,
                     const char *content_type, const void *body, size_t len,
                     const char *extra_headers) {
  eio_conn *c = (eio_conn *)bc;
  int rv;
  if (!c->deferred)
    return c->answered ? SIO_ERR_STATE
                       : eio_respond(c, req, status, content_type, body, len,
                                     extra_headers);
  /* the keeper frees its handle after this: forget it first */
  c->deferred = 0;
  c->defer_ref = NULL;
  if (c->base.closing || c->answered)
    return SIO_ERR_CLOSED;
  rv = eio_respond(c, req, status, content_type, body, len, extra_headers);
  /* Requests pipelined behind it are read on the next iteration, not from
   * inside the caller's respond. */
  if (!c->routing && !c->base.closing) {
    sio_defer_init(&c->resume);
    c->resume_due = 1;
    eio_server_defer(c->srv, &c->resume, resume_deferred);
  }
  return rv;
}

const char *eio_conn_remote_addr(const sio_conn *c) { return c->remote; }

void eio_server_stop_listening(eio_server *srv) {
  sio_listener *l, *next;
  for (l = srv->listeners; l; l = next) {
    next = l->next;
    l->tcp.data = srv;
    srv->pending_closes++;
    sio_listener_close(l, handle_closed);
  }
  srv->listeners = NULL;
}

static void respond_status(eio_conn *c, const sio_http_request *req,
                           int status) {
  const char *text = sio_http_status_text(status);
  eio_respond(c, req, status, "text/plain; charset=UTF-8", text,
              strlen(text), NULL);
}

/* --------------------------------------------------------------- routing */

static int query_get(const sio_http_request *req, const char *name,
                     sio_buf *out) {
  sio_buf_reset(out);
  return sio_http_query_get(req->query, req->query_len, name, out);
}

static int transport_of(const eio_server *srv, const char *name) {
  if (strcmp(name, "polling") == 0 &&
      (srv->opts.transports & SIO_TRANSPORT_POLLING))
    return EIO_TRANSPORT_POLLING;
  if (strcmp(name, "websocket") == 0 &&
      (srv->opts.transports & SIO_TRANSPORT_WEBSOCKET))
    return EIO_TRANSPORT_WEBSOCKET;
  return 0;
}

static void fail(eio_conn *c, const sio_http_request *req, eio_error code) {
  if (req->upgrade)
    eio_abort_upgrade(c, code);
  else
    eio_respond_error(c, req, code);
}

/* The reference server's Forbidden body (code 4) with the given status;
 * an upgrade gets a bare status line. */
static void refuse_handshake(eio_conn *c, const sio_http_request *req,
                             int status, const char *msg) {
  sio_buf body;
  sio_buf_init(&body);
  if (!msg)
    msg = eio_error_messages[EIO_ERR_FORBIDDEN];
  if (req->upgrade) {
    if (sio_buf_appendf(&body,
                        "HTTP/1.1 %d %s\r\nConnection: close\r\n"
                        "Content-Length: 0\r\n\r\n",
                        status, sio_http_status_text(status)) == 0)
      sio_conn_write(&c->base, body.data, body.len);
    sio_conn_close_after_flush(&c->base);
  } else if (sio_buf_appendf(&body, "{\"code\":%d,\"message\":\"%s\"}",
                             (int)EIO_ERR_FORBIDDEN, msg) == 0) {
    eio_respond(c, req, status, "application/json", body.data, body.len,
                NULL);
  } else {
    sio_conn_close(&c->base);
  }
  sio_buf_deinit(&body);
}

static void handshake(eio_conn *c, const sio_http_request *req, int transport,
                      const uint8_t *rest, size_t rest_len) {
  eio_server *srv = c->srv;
  eio_socket *s;
  sio_buf v;
  int rv;
  if (req->method != HTTP_GET) {
    fail(c, req, EIO_ERR_BAD_HANDSHAKE_METHOD);
    return;
  }
  sio_buf_init(&v);
  rv = query_get(req, "EIO", &v);
  if (rv != 1 || strcmp(v.data, "4") != 0) {
    sio_buf_deinit(&v);
    fail(c, req, EIO_ERR_UNSUPPORTED_PROTOCOL_VERSION);
    return;
  }
  sio_buf_deinit(&v);
  if (transport == EIO_TRANSPORT_WEBSOCKET && !req->upgrade) {
    fail(c, req, EIO_ERR_BAD_REQUEST);
    return;
  }
  if (transport == EIO_TRANSPORT_POLLING && req->upgrade) {
    fail(c, req, EIO_ERR_BAD_REQUEST);
    return;
  }
  if (req->upgrade && eio_ws_check(req)) {
    fail(c, req, EIO_ERR_BAD_REQUEST);
    return;
  }
  if (srv->cbs.on_handshake) {
    const char *msg = NULL;
    int status = srv->cbs.on_handshake(&c->base, req, &msg, srv->ud);
    if (status) {
      refuse_handshake(c, req, status, msg);
      return;
    }
  }
  rv = eio_socket_new(&s, srv, transport, req, c->base.remote);
  if (rv) {
    fail(c, req, EIO_ERR_BAD_REQUEST);
    return;
  }
  if (transport == EIO_TRANSPORT_POLLING) {
    sio_buf open;
    sio_buf_init(&open);
    rv = eio_socket_open_packet(s, &open);
    if (!rv)
      rv = eio_socket_send_text(s, open.data, open.len);
    sio_buf_deinit(&open);
    if (rv) {
      eio_socket_close_now(s, "transport error");
      fail(c, req, EIO_ERR_BAD_REQUEST);
      return;
    }
    eio_polling_handle(c, s, req, 1);
    eio_socket_opened(s);
  } else {
    eio_ws_accept(c, s, req, rest, rest_len, 1);
  }
}

/* A page the server itself serves (the daemon's dashboard) talks to it from
 * its own origin, which no allow-list needs to name. */
static int same_origin(const eio_conn *c, const sio_http_request *req,
                       const char *origin, size_t olen) {
  size_t hlen = 0, plen = 0;
  const char *host = sio_http_request_header(req, "host", &hlen);
  const char *proto =
      sio_http_request_header(req, "x-forwarded-proto", &plen);
  return sio_cors_same_origin(origin, olen, host, hlen, proto, plen,
                              c->base.ssl != NULL);
}

/* ------------------------------------------------------- loops of one process */

int eio_sid_loop(const char *sid, size_t len) {
  char ch;
  if (len != 20)
    return -1;
  ch = sid[0];
  if (ch >= 'A' && ch <= 'Z')
    return ch - 'A';
  if (ch >= 'a' && ch <= 'z')
    return 26 + ch - 'a';
  if (ch >= '0' && ch <= '9')
    return 52 + ch - '0';
  return ch == '-' ? 62 : ch == '_' ? 63 : -1;
}

int eio_server_set_loops(eio_server *srv, unsigned index, unsigned n,
                         eio_route_fn route, void *ud) {
  if (n > 64 || (n > 1 && (index >= n || !route)))
    return SIO_ERR_INVAL;
  srv->nloops = (uint8_t)(n > 1 ? n : 0);
  srv->loop_index = (uint8_t)(n > 1 ? index : 0);
  srv->route = route;
  srv->route_ud = ud;
  return 0;
}

/* The request as its owner's parser must see it again: request line,
 * headers but the framing ones, the body with its length (a chunked body
 * arrives whole, decoded). */
static int request_bytes(const sio_http_request *req, sio_buf *out) {
  size_t i;
  int rv = sio_buf_appendf(out, "%s %s HTTP/%d.%d\r\n", req->method_str,
                           req->url, req->http_major, req->http_minor);
  for (i = 0; i < req->nheaders && !rv; i++) {
    const sio_http_header *h = &req->headers[i];
    if ((h->name_len == 14 && strncasecmp(h->name, "content-length", 14) == 0) ||
        (h->name_len == 17 &&
         strncasecmp(h->name, "transfer-encoding", 17) == 0))
      continue;
    rv = sio_buf_append(out, h->name, h->name_len);
    if (!rv)
      rv = sio_buf_append(out, ": ", 2);
    if (!rv)
      rv = sio_buf_append(out, h->value, h->value_len);
    if (!rv)
      rv = sio_buf_append(out, "\r\n", 2);
  }
  if (!rv && (req->body_len || req->method == HTTP_POST))
    rv = sio_buf_appendf(out, "Content-Length: %zu\r\n", req->body_len);
  if (!rv)
    rv = sio_buf_append(out, "\r\n", 2);
  if (!rv)
    rv = sio_buf_append(out, req->body, req->body_len);
  return rv;
}

/* c goes to another loop of this process with the request: 1 when it
 * went (or was lost on the way, counted), 0 when it stays here. */
static int hand_to_loop(eio_conn *c, const sio_http_request *req, int loop,
                        const uint8_t *rest, size_t rest_len) {
  eio_server *srv = c->srv;
  sio_handoff h;
  sio_buf b;
  size_t len;
  uint8_t *bytes;
  if (srv->nloops < 2 || loop < 0 || loop == srv->loop_index ||
      loop >= srv->nloops || srv->closing)
    return 0;
  sio_buf_init(&b);
  if (request_bytes(req, &b) || sio_buf_append(&b, rest, rest_len) ||
      sio_buf_append(&b, c->pending_in.data, c->pending_in.len)) {
    sio_buf_deinit(&b);
    return 0;
  }
  if (sio_conn_hand_off(&c->base, &h)) {
    /* an answer still on its way out would be lost: not moved */
    srv->cl_stats.handoff_failures++;
    sio_buf_deinit(&b);
    return 0;
  }
  srv->cl_stats.handed_to_loop++;
  bytes = (uint8_t *)sio_buf_steal(&b, &len);
  if (!bytes || srv->route(srv->route_ud, (unsigned)loop, &h, bytes, len)) {
    srv->cl_stats.handoff_failures++;
    sio_free(bytes);
    sio_handoff_drop(&h);
  }
  return 1;
}

/* A sid of another loop of this process: c goes there with the request. */
static int loops_route(eio_conn *c, const sio_http_request *req,
                       const char *sid, size_t sid_len, const uint8_t *rest,
                       size_t rest_len) {
  return hand_to_loop(c, req, eio_sid_loop(sid, sid_len), rest, rest_len);
}

/* A handshake: the session goes to the loop the group picks (the least
 * loaded, when this one is ahead by more than a margin). A balancer
 * that keeps a few connections alive to the server would otherwise put
 * every session on the loops of those connections. */
static int loops_balance(eio_conn *c, const sio_http_request *req,
                         const uint8_t *rest, size_t rest_len, int adopted) {
  eio_server *srv = c->srv;
  if (srv->nloops < 2 || !srv->pick || adopted)
    return 0;
  return hand_to_loop(c, req, srv->pick(srv->route_ud), rest, rest_len);
}

void eio_server_set_balance(eio_server *srv, int (*pick)(void *ud)) {
  srv->pick = pick;
}

int eio_server_adopt(eio_server *srv, sio_handoff *h, const uint8_t *bytes,
                     size_t len) {
  eio_conn *c;
  int rv;
  if (srv->closing) {
    sio_handoff_drop(h);
    return SIO_ERR_CLOSED;
  }
  c = sio_calloc(1, sizeof(*c));
  if (!c) {
    sio_handoff_drop(h);
    return SIO_ERR_IO;
  }
  c->srv = srv;
  c->mode = EIO_CONN_HTTP;
  sio_buf_init(&c->pending_in);
  c->last_active = uv_now(srv->loop);
  rv = sio_conn_take_over(&c->base, &srv->net, &eio_conn_ops, h);
  if (rv == SIO_ERR_IO) {
    sio_free(c);
    return rv;
  }
  sio_queue_insert_tail(&srv->conns, &c->link);
  srv->nconns++;
  if (shared_limit(srv)) /* it moved, so it was counted: never refused */
    atomic_fetch_add_explicit(srv->shared_conns, 1, memory_order_relaxed);
  if (rv)
    return rv; /* closing: conn_on_close frees it */
  srv->cl_stats.adopted++;
  c->adopted = 1;
  http_feed(c, bytes, len);
  return 0;
}

static void route(eio_conn *c, const sio_http_request *req,
                  const uint8_t *rest, size_t rest_len) {
  eio_server *srv = c->srv;
  size_t plen = strlen(srv->opts.path), olen = 0;
  const char *origin;
  sio_buf tname, sid;
  int transport, adopted = c->adopted;
  eio_socket *s;

  c->adopted = 0; /* only the request it came with stays put */
  /* The engine answers "/socket.io/" (and "/socket.io"); anything below
   * it, such as "/socket.io/socket.io.js", is plain HTTP. */
  if (req->path_len < plen - 1 || req->path_len > plen ||
      memcmp(req->path, srv->opts.path, plen - 1) != 0 ||
      (req->path_len == plen && req->path[plen - 1] != '/')) {
    if (srv->cbs.on_http && !req->upgrade)
      srv->cbs.on_http(&c->base, req, srv->ud);
    if (!c->answered && !c->deferred)
      respond_status(c, req, 404);
    return;
  }
  origin = sio_http_request_header(req, "origin", &olen);
  if (!sio_cors_origin_allowed(&srv->cors, origin, olen) &&
      !same_origin(c, req, origin, olen)) {
    srv->origin_refused++;
    fail(c, req, EIO_ERR_FORBIDDEN);
    return;
  }
  if (req->method == HTTP_OPTIONS && !req->upgrade) {
    sio_buf h, out;
    size_t rhl = 0;
    const char *rh =
        sio_http_request_header(req, "access-control-request-headers", &rhl);
    sio_buf_init(&h);
    sio_buf_init(&out);
    if (sio_cors_append_headers(&srv->cors, &h, origin, olen, 1, rh, rhl) ||
        sio_http_write_head(&out, 204, h.data, NULL, 0, req->keep_alive) ||
        sio_conn_write(&c->base, out.data, out.len) || !req->keep_alive)
      sio_conn_close_after_flush(&c->base);
    sio_buf_deinit(&h);
    sio_buf_deinit(&out);
    return;
  }

  sio_buf_init(&tname);
  sio_buf_init(&sid);
  if (query_get(req, "transport", &tname) != 1 ||
      !(transport = transport_of(srv, tname.data))) {
    fail(c, req, EIO_ERR_UNKNOWN_TRANSPORT);
    goto out;
  }
  if (query_get(req, "sid", &sid) != 1) {
    if (!loops_balance(c, req, rest, rest_len, adopted))
      handshake(c, req, transport, rest, rest_len);
    goto out;
  }
  s = sio_map_get(&srv->sessions, sid.data, sid.len);
  if (s)
    eio_socket_check_expired(s);
  if (s && s->lingering && !req->upgrade &&
      transport == EIO_TRANSPORT_POLLING) {
    eio_polling_handle(c, s, req, 0);
    goto out;
  }
  if (!s && loops_route(c, req, sid.data, sid.len, rest, rest_len))
    goto out; /* another loop's: handed over */
  if (!s && eio_cluster_route(c, req, transport, sid.data, sid.len))
    goto out; /* another node's, perhaps: asked */
  if (!s || s->state != EIO_STATE_OPEN) {
    fail(c, req, EIO_ERR_UNKNOWN_SID);
    goto out;
  }
  if (req->upgrade) {
    if (transport != EIO_TRANSPORT_WEBSOCKET || eio_ws_check(req)) {
      eio_abort_upgrade(c, EIO_ERR_BAD_REQUEST);
      goto out;
    }
    if (s->transport != EIO_TRANSPORT_POLLING || s->upgrading ||
        s->probe_conn) {
      /* One WebSocket per session: a second one is opened, then closed. */
      eio_ws_accept_and_close(c, req);
      goto out;
    }
    eio_ws_accept(c, s, req, rest, rest_len, 0);
    goto out;
  }
  if (transport != s->transport) {
    fail(c, req, EIO_ERR_BAD_REQUEST);
    goto out;
  }
  eio_polling_handle(c, s, req, 0);
out:
  sio_buf_deinit(&tname);
  sio_buf_deinit(&sid);
}

/* ------------------------------------------------------------ HTTP input */

static void http_feed(eio_conn *c, const uint8_t *data, size_t len) {
  eio_server *srv = c->srv;
  while (len > 0 && !c->base.closing && c->mode == EIO_CONN_HTTP &&
         !c->held && !c->deferred) {
    int done = 0;
    ssize_t n;
    if (!c->hp) {
      c->hp = sio_malloc(sizeof(*c->hp));
      if (!c->hp) {
        sio_conn_close(&c->base);
        return;
      }
      sio_http_parser_init(c->hp, &srv->http_limits);
    }
    if (!sio_http_parser_in_request(c->hp))
      c->started = uv_now(srv->loop);
    n = sio_http_parser_feed(c->hp, (const char *)data, len, &done);
    if (n < 0) {
      int status = sio_http_status_for_error((int)n);
      if (n == SIO_ERR_TOOBIG)
        srv->over_max_payload++;
      respond_status(c, NULL, status);
      sio_conn_close_after_flush(&c->base);
      return;
    }
    data += n;
    len -= (size_t)n;
    if (sio_http_parser_take_continue(c->hp) &&
        sio_conn_write(&c->base, "HTTP/1.1 100 Continue\r\n\r\n", 25)) {
      sio_conn_close(&c->base);
      return;
    }
    if (!done)
      return;
    {
      const sio_http_request *req = sio_http_parser_request(c->hp);
      int upgrade = req->upgrade;
      c->answered = 0;
      c->routing = 1;
      route(c, req, data, len);
      c->routing = 0;
      if (c->mode != EIO_CONN_HTTP) {
        /* The parser's job is over for good on a WebSocket. */
        sio_http_parser_deinit(c->hp);
        sio_free(c->hp);
        c->hp = NULL;
        return;
      }
      if (upgrade || c->base.closing)
        return;
      if (c->deferred)
        continue; /* its parser keeps the request until the answer */
    }
    sio_http_parser_reset(c->hp);
  }
  if (len > 0 && (c->held || c->deferred) && !c->base.closing) {
    /* Pipelined behind a parked GET or a deferred request: kept until it
     * is answered. */
    if (c->pending_in.len + len > srv->http_limits.max_header_bytes +
                                      srv->opts.max_payload ||
        sio_buf_append(&c->pending_in, data, len))
      sio_conn_close(&c->base);
  }
}

void eio_conn_resume_http(eio_conn *c) {
  sio_buf in;
  if (c->hp)
    sio_http_parser_reset(c->hp);
  if (!c->pending_in.len)
    return;
  in = c->pending_in;
  sio_buf_init(&c->pending_in);
  http_feed(c, (const uint8_t *)in.data, in.len);
  sio_buf_deinit(&in);
}

static void conn_on_read(sio_conn *bc, const uint8_t *data, size_t len) {
  eio_conn *c = (eio_conn *)bc;
  c->last_active = uv_now(c->srv->loop);
  if (c->mode == EIO_CONN_WS)
    eio_ws_on_read(c, data, len);
  else
    http_feed(c, data, len);
}

static void conn_detach(eio_conn *c, const char *reason) {
  eio_socket *s = c->sess;
  if (c->remote)
    eio_cluster_conn_gone(c);
  if (!s)
    return;
  c->sess = NULL;
  if (s->poll_conn == c) {
    s->poll_conn = NULL;
    /* The client dropped a parked poll: the reference server treats it as
     * a transport error ("poll connection closed prematurely"). */
    eio_socket_close_now(s, "transport error");
  } else if (s->ws_conn == c) {
    s->ws_conn = NULL;
    eio_socket_close_now(s, reason);
  } else if (s->probe_conn == c) {
    s->probe_conn = NULL;
    s->upgrading = 0;
  }
}

static void conn_on_error(sio_conn *bc, int status) {
  eio_conn *c = (eio_conn *)bc;
  conn_detach(c, "transport close");
  (void)status;
}

static void maybe_finish_close(eio_server *srv);

static void conn_on_close(sio_conn *bc) {
  eio_conn *c = (eio_conn *)bc;
  eio_server *srv = c->srv;
  conn_detach(c, "transport close");
  if (c->defer_ref)
    *c->defer_ref = NULL;
  if (c->resume_due)
    sio_defer_cancel(&c->resume);
  sio_queue_remove(&c->link);
  srv->nconns--;
  shared_release(srv);
  if (c->hp) {
    sio_http_parser_deinit(c->hp);
    sio_free(c->hp);
  }
  eio_ws_free(c);
  sio_free(c->held_hdrs);
  sio_buf_deinit(&c->pending_in);
  sio_free(c);
  maybe_finish_close(srv);
}

/* --------------------------------------------------------------- closing */

static void free_server(eio_server *srv) {
  void (*cb)(void *) = srv->close_cb;
  void *ud = srv->close_ud;
  sio_map_deinit(&srv->sessions);
  sio_map_deinit(&srv->cl_readers);
  sio_cors_deinit(&srv->cors);
  sio_tls_ctx_del(srv->tls);
  sio_free((char *)srv->opts.path);
  sio_free((char *)srv->opts.cors_origins);
  sio_free((char *)srv->opts.cookie);
  sio_free(srv);
  if (cb)
    cb(ud);
}

static void maybe_finish_close(eio_server *srv);

static void handle_closed(uv_handle_t *h) {
  eio_server *srv = h->data;
  if (h->type == UV_TCP)
    sio_free(sio_container_of((uv_tcp_t *)h, sio_listener, tcp));
  srv->pending_closes--;
  maybe_finish_close(srv);
}

static void maybe_finish_close(eio_server *srv) {
  if (!srv->closing || srv->pending_closes || srv->nconns ||
      sio_map_count(&srv->sessions))
    return;
  if (srv->closing == 1) {
    srv->closing = 2;
    srv->pending_closes++;
    srv->net.flush.data = srv;
    sio_net_close(&srv->net, handle_closed);
    return;
  }
  if (srv->closing == 2)
    free_server(srv);
}

void eio_server_abort_closes(eio_server *srv) {
  sio_net_abort_closes(&srv->net);
}

void eio_server_defer(eio_server *srv, sio_defer *d,
                      void (*fn)(sio_defer *d)) {
  sio_net_defer(&srv->net, d, fn);
}

void eio_server_reap(eio_server *srv) {
  if (!sio_map_count(&srv->sessions)) {
    /* The last session is gone: its connections close once flushed. */
    sio_queue *q, *n;
    sio_queue_foreach_safe(q, n, &srv->conns) {
      eio_conn *c = sio_container_of(q, eio_conn, link);
      sio_conn_close_after_flush(&c->base);
    }
  }
  maybe_finish_close(srv);
}

void eio_server_close(eio_server *srv, void (*cb)(void *ud), void *ud) {
  sio_queue *q, *n;
  size_t it = 0;
  const sio_map_entry *e;
  srv->closing = 1;
  srv->close_cb = cb;
  srv->close_ud = ud;
  eio_server_stop_listening(srv);
  srv->pending_closes++;
  uv_close((uv_handle_t *)&srv->hb_timer, handle_closed);
  eio_cluster_close(srv);
  if (srv->cl_timer.data) {
    srv->pending_closes++;
    uv_close((uv_handle_t *)&srv->cl_timer, handle_closed);
  }
  if (uv_is_active((uv_handle_t *)&srv->sweep) ||
      srv->sweep.type == UV_TIMER) {
    srv->pending_closes++;
    srv->sweep.data = srv;
    uv_close((uv_handle_t *)&srv->sweep, handle_closed);
  }
  /* Closed sessions waiting for a last GET go now: the drain is over. */
  while (!sio_queue_empty(&srv->hb_linger))
    eio_socket_linger_end(sio_container_of(sio_queue_head(&srv->hb_linger),
                                           eio_socket, hb_link));
  while (sio_map_next(&srv->sessions, &it, &e))
    eio_socket_close_now(e->val, "server shutting down");
  sio_queue_foreach_safe(q, n, &srv->conns) {
    eio_conn *c = sio_container_of(q, eio_conn, link);
    if (!c->sess)
      sio_conn_close_after_flush(&c->base);
  }
  /* Sessions finish closing from the deferred pass, which flushes their
   * last packets; their connections then close after flushing. */
  maybe_finish_close(srv);
}
