/* sio_server_http.c: the public face of what the engine does beside
 * Socket.IO: plain HTTP requests outside the Socket.IO path (the daemon's
 * /health, /metrics, /api...), vetting handshakes before a session exists,
 * draining, and the counters behind /metrics. */
#include <string.h>

#include "sio_http.h"
#include "sio_int.h"
#include "sio_mem.h"
#include "sio_server.h"

struct sio_http_req {
  sio_conn *conn; /* NULL: moved by a defer, or a deferred request's
                     connection closed */
  const sio_http_request *req;
  uint8_t can_respond; /* 0 inside a handshake filter */
  uint8_t deferred;    /* the heap copy sio_http_req_defer returned */
};

const char *sio_http_req_method(const sio_http_req *r) {
  return r->conn ? r->req->method_str : "";
}

const char *sio_http_req_path(const sio_http_req *r, size_t *len) {
  *len = r->conn ? r->req->path_len : 0;
  return r->conn ? r->req->path : "";
}

const char *sio_http_req_header(const sio_http_req *r, const char *name) {
  size_t len;
  return r->conn ? sio_http_request_header(r->req, name, &len) : NULL;
}

int sio_http_req_query(const sio_http_req *r, const char *name, char *out,
                       size_t cap) {
  sio_buf v;
  int rv;
  if (!r->conn)
    return SIO_ERR_NOTFOUND;
  sio_buf_init(&v);
  rv = sio_http_query_get(r->req->query, r->req->query_len, name, &v);
  if (rv == 1) {
    if (v.len >= cap) {
      rv = SIO_ERR_TOOBIG;
    } else {
      memcpy(out, v.data ? v.data : "", v.len + 1);
      rv = (int)v.len;
    }
  } else if (rv == 0) {
    rv = SIO_ERR_NOTFOUND;
  }
  sio_buf_deinit(&v);
  return rv;
}

const uint8_t *sio_http_req_body(const sio_http_req *r, size_t *len) {
  *len = r->conn ? r->req->body_len : 0;
  return r->conn ? r->req->body : NULL;
}

const char *sio_http_req_remote_addr(const sio_http_req *r) {
  return r->conn ? eio_conn_remote_addr(r->conn) : "";
}

int sio_http_req_respond(sio_http_req *r, int status,
                         const char *content_type, const void *body,
                         size_t len, const char *extra_headers) {
  int rv;
  if (!r->deferred)
    return r->can_respond && r->conn
               ? eio_http_respond(r->conn, r->req, status, content_type, body,
                                  len, extra_headers)
               : SIO_ERR_STATE;
  rv = r->conn ? eio_http_respond(r->conn, r->req, status, content_type, body,
                                  len, extra_headers)
               : SIO_ERR_CLOSED;
  sio_free(r);
  return rv;
}

sio_http_req *sio_http_req_defer(sio_http_req *r) {
  sio_http_req *d;
  if (!r->can_respond || r->deferred || !r->conn)
    return NULL;
  d = sio_malloc(sizeof(*d));
  if (!d)
    return NULL;
  *d = *r;
  d->deferred = 1;
  if (eio_http_defer(r->conn, &d->conn)) {
    sio_free(d);
    return NULL;
  }
  r->conn = NULL;
  r->can_respond = 0;
  return d;
}

void sio_server_set_http_handler(sio_server *s, sio_http_cb cb, void *ud) {
  s->http_cb = cb;
  s->http_ud = ud;
}

void sio_server_set_handshake_filter(sio_server *s, sio_handshake_cb cb,
                                     void *ud) {
  s->handshake_cb = cb;
  s->handshake_ud = ud;
}

void sio_server_on_http(sio_conn *c, const sio_http_request *req, void *ud) {
  sio_server *s = ud;
  sio_http_req r = {c, req, 1, 0};
  if (s->http_cb)
    s->http_cb(&r, s->http_ud);
}

int sio_server_on_handshake(sio_conn *c, const sio_http_request *req,
                            const char **message, void *ud) {
  sio_server *s = ud;
  sio_http_req r = {c, req, 0, 0};
  if (!s->handshake_cb || s->closing)
    return s->closing ? 503 : 0;
  return s->handshake_cb(&r, message, s->handshake_ud);
}

void sio_server_stop_listening(sio_server *s) {
  if (s->eio)
    eio_server_stop_listening(s->eio);
}

void sio_server_abort_closes(sio_server *s) {
  if (s->eio)
    eio_server_abort_closes(s->eio);
}

void sio_server_stats(const sio_server *s, sio_stats *out) {
  eio_stats es;
  memset(out, 0, sizeof(*out));
  if (s->eio) {
    eio_server_stats(s->eio, &es);
    out->handshakes = es.handshakes;
    out->bytes_in = es.bytes_in;
    out->bytes_out = es.bytes_out;
    out->polling = es.polling;
    out->websocket = es.websocket;
    out->tcp_connections = es.tcp_connections;
    out->over_max_payload = es.over_max_payload;
    out->slow_consumers = es.slow_consumers;
    out->origin_refused = es.origin_refused;
    out->connections_refused = es.connections_refused;
    out->close_timeouts = es.close_timeouts;
    out->forward_carried = es.forward.requests;
    out->forward_unknown = es.forward.unknown;
    out->forward_served = es.forward.served;
    out->forward_taken_over = es.forward.takeovers;
    out->forward_handed_over = es.forward.handed_over;
    out->forward_proxied = es.forward.proxied;
    out->forward_bad_messages = es.forward.bad_messages;
    out->forward_dropped = es.forward.bus_errors;
    out->loop_handed = es.forward.handed_to_loop;
    out->loop_adopted = es.forward.adopted;
    out->loop_handoff_failures = es.forward.handoff_failures;
    out->loop_relay_failures = s->relay_failures;
  }
  out->packets_in = s->stats.packets_in;
  out->packets_out = s->stats.packets_out;
  out->broadcasts = s->stats.broadcasts;
  out->acks = s->stats.acks_resolved + s->stats.acks_sent;
  out->parse_errors = s->stats.parse_errors;
  out->replayed = s->stats.replayed;
  out->replay_overflows = s->stats.replay_overflows;
  if (s->has_adapter) {
    sio_adapter_stats as;
    memset(&as, 0, sizeof(as));
    out->redis_enabled = 1;
    if (s->adapter.stats)
      s->adapter.stats(s->adapter_ud, &as);
    out->redis_connected = as.connected != 0;
    out->redis_messages_in = as.messages_in;
    out->redis_messages_out = as.messages_out;
    out->redis_dropped = as.dropped;
    out->redis_latency_us = as.latency_us;
  }
}
