/* eio_socket.c: one Engine.IO session (engine.io-protocol README,
 * "Protocol": handshake, heartbeat, upgrade, message).
 *
 * States: OPEN -> CLOSING -> freed. CLOSING is entered by
 * eio_socket_close_now() from any cause (client close packet, ping timeout,
 * transport error, server close); the layer above hears of it once, from a
 * deferred pass (never inside the call that caused it), right after which
 * the session is freed -- except after a server close (eio_socket_close)
 * of a polling session with no GET parked: like the reference's
 * socket.close(), it lingers, still found by its sid, so that the next GET
 * gets what was queued and the one after "6\x1e1"; it is freed then, when
 * the client POSTs its close, at shutdown, or pingTimeout after on_close
 * (the hb_linger list), whichever comes first.
 *
 * Heartbeat: after open (and after each pong) the session waits
 * pingInterval in the server's hb_ping list; when that is due a ping is
 * sent and it waits pingTimeout in hb_pong; if that comes due before a
 * pong, the session closes with "ping timeout". Every session appends to a
 * list with the same duration from a clock that never goes back, so each
 * list is in deadline order and one server timer, set for the earlier of
 * the two heads, serves all sessions (a uv_timer_t per session was 152
 * bytes of every idle connection).
 *
 * Output: on WebSocket a message is framed straight onto the connection;
 * on polling it waits in outq (refcounted buffers, bytes counted against
 * max_buffered) until a GET is parked, and is flushed then. */
#include <stdio.h>
#include <string.h>

#include "eio_int.h"
#include "eio_packet.h"
#include "eio_payload.h"
#include "sio/sio.h"
#include "sio_crypto.h"
#include "sio_int.h"
#include "sio_log.h"
#include "sio_mem.h"
#include "sio_util.h"

/* 1 when the query part of the blob being built already has key. */
static int hs_has(const sio_buf *b, size_t from, const char *key) {
  size_t i = from;
  while (i < b->len) {
    const char *k = b->data + i, *val = k + strlen(k) + 1;
    if (strcmp(k, key) == 0)
      return 1;
    i = (size_t)(val - b->data) + strlen(val) + 1;
  }
  return 0;
}

/* Copies the handshake facts a later layer asks for (auth headers, query,
 * origin...) into one blob: lowercase header names, decoded query. */
static int save_handshake(eio_socket *s, const sio_http_request *req) {
  sio_buf b, v;
  size_t i;
  const char *p, *end;
  int rv = 0;
  sio_buf_init(&b);
  sio_buf_init(&v);
  for (i = 0; i < req->nheaders && !rv; i++) {
    const sio_http_header *h = &req->headers[i];
    size_t j;
    for (j = 0; j < h->name_len && !rv; j++) {
      char ch = h->name[j];
      if (ch >= 'A' && ch <= 'Z')
        ch = (char)(ch - 'A' + 'a');
      rv = sio_buf_append_byte(&b, (uint8_t)ch);
    }
    if (!rv)
      rv = sio_buf_append_byte(&b, 0);
    if (!rv)
      rv = sio_buf_append(&b, h->value, h->value_len);
    if (!rv)
      rv = sio_buf_append_byte(&b, 0);
  }
  s->hs_headers = b.len;
  /* query: decoded keys and values, each key once (first wins) */
  p = req->query;
  end = req->query + req->query_len;
  while (!rv && p < end) {
    const char *amp = memchr(p, '&', (size_t)(end - p));
    const char *eq;
    size_t klen, vstart;
    if (!amp)
      amp = end;
    eq = memchr(p, '=', (size_t)(amp - p));
    klen = (size_t)((eq ? eq : amp) - p);
    sio_buf_reset(&v);
    if (klen && sio_pct_decode(&v, p, klen, 1) == 0 &&
        strlen(v.data) == v.len && !hs_has(&b, s->hs_headers, v.data)) {
      vstart = v.len + 1;
      rv = sio_buf_append_byte(&v, 0);
      if (!rv && eq)
        rv = sio_pct_decode(&v, eq + 1, (size_t)(amp - eq - 1), 1) ==
                     SIO_ERR_NOMEM
                 ? SIO_ERR_NOMEM
                 : 0;
      if (!rv && v.len >= vstart) {
        /* keep the value up to an embedded NUL, which no caller can see */
        rv = sio_buf_append(&b, v.data, vstart);
        if (!rv)
          rv = sio_buf_append(&b, v.data + vstart, strlen(v.data + vstart) + 1);
      }
    }
    p = amp + 1;
  }
  sio_buf_deinit(&v);
  if (rv) {
    sio_buf_deinit(&b);
    return rv;
  }
  s->hs = sio_buf_steal(&b, &s->hs_len);
  if (s->hs) {
    /* The blob lives as long as the session: give back the slack of the
     * buffer's doubling (up to half of it). */
    char *fit = sio_realloc(s->hs, s->hs_len + 1);
    if (fit)
      s->hs = fit;
  }
  return 0;
}

int eio_socket_shell(eio_socket **out, eio_server *srv, int transport,
                     const sio_http_request *req, const char *remote) {
  eio_socket *s = sio_calloc(1, sizeof(*s));
  int rv;
  if (!s)
    return SIO_ERR_NOMEM;
  s->srv = srv;
  s->transport = (uint8_t)transport;
  s->state = EIO_STATE_OPEN;
  sio_queue_init(&s->outq);
  sio_queue_init(&s->hb_link);
  sio_defer_init(&s->close_defer);
  snprintf(s->remote, sizeof(s->remote), "%s", remote);
  rv = save_handshake(s, req);
  if (rv) {
    sio_free(s);
    return rv;
  }
  *out = s;
  return 0;
}

void eio_socket_discard(eio_socket *s) {
  sio_free(s->hs);
  sio_free(s);
}

int eio_socket_register(eio_socket *s, const char *sid) {
  eio_server *srv = s->srv;
  int rv = 0;
  if (sid) {
    memcpy(s->sid, sid, sizeof(s->sid));
  } else {
    rv = sio_random_id(s->sid);
    if (srv->nloops > 1) /* the sid names its loop (eio_sid_loop) */
      s->sid[0] =
          "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"
              [srv->loop_index];
  }
  if (!rv)
    rv = sio_map_put(&srv->sessions, s->sid, strlen(s->sid), s);
  if (rv)
    return rv == SIO_ERR_EXISTS ? SIO_ERR_IO : rv;
  srv->handshakes++;
  if (s->transport == EIO_TRANSPORT_WEBSOCKET)
    srv->ws_sessions++;
  return 0;
}

int eio_socket_new(eio_socket **out, eio_server *srv, int transport,
                   const sio_http_request *req, const char *remote) {
  int rv = eio_socket_shell(out, srv, transport, req, remote);
  if (!rv && (rv = eio_socket_register(*out, NULL)))
    eio_socket_discard(*out);
  return rv;
}

int eio_socket_open_packet(eio_socket *s, sio_buf *out) {
  const eio_options *o = &s->srv->opts;
  int up = s->transport == EIO_TRANSPORT_POLLING &&
           (o->transports & SIO_TRANSPORT_WEBSOCKET);
  return sio_buf_appendf(out,
                         "0{\"sid\":\"%s\",\"upgrades\":[%s],"
                         "\"pingInterval\":%u,\"pingTimeout\":%u,"
                         "\"maxPayload\":%zu}",
                         s->sid, up ? "\"websocket\"" : "", o->ping_interval,
                         o->ping_timeout, o->max_payload);
}

/* ------------------------------------------------------------ heartbeat */

/* Makes the server timer fire by due (uv_now() ms) at the latest. */
static void hb_schedule(eio_server *srv, uint64_t due) {
  uint64_t now = uv_now(srv->loop);
  if (srv->closing || (srv->hb_timer_due && srv->hb_timer_due <= due))
    return;
  srv->hb_timer_due = due;
  uv_timer_start(&srv->hb_timer, eio_socket_heartbeat,
                 due > now ? due - now : 0, 0);
}

/* Moves s to the tail of list (hb_ping or hb_pong), due ms from now. */
static void hb_arm(eio_socket *s, sio_queue *list, uint32_t ms) {
  sio_queue_remove(&s->hb_link);
  s->hb_due = uv_now(s->srv->loop) + ms;
  sio_queue_insert_tail(list, &s->hb_link);
  hb_schedule(s->srv, s->hb_due);
}

/* The session at the head of list (the earliest deadline), or NULL. */
static eio_socket *hb_head(const sio_queue *list) {
  if (sio_queue_empty(list))
    return NULL;
  return sio_container_of(sio_queue_head(list), eio_socket, hb_link);
}

/* The head of list when its deadline has come, else NULL. */
static eio_socket *hb_head_due(const sio_queue *list, uint64_t now) {
  eio_socket *s = hb_head(list);
  return s && s->hb_due <= now ? s : NULL;
}

void eio_socket_heartbeat(uv_timer_t *t) {
  eio_server *srv = t->data;
  uint64_t now = uv_now(srv->loop), next = 0;
  eio_socket *s;
  srv->hb_timer_due = 0;
  /* Timeouts first: a ping sent below waits pingTimeout, never due now. */
  while ((s = hb_head_due(&srv->hb_pong, now))) {
    sio_queue_remove(&s->hb_link);
    eio_socket_close_now(s, "ping timeout");
  }
  while ((s = hb_head_due(&srv->hb_linger, now)))
    eio_socket_linger_end(s); /* its last GET never came */
  while ((s = hb_head_due(&srv->hb_ping, now))) {
    /* armed before the ping goes: a send that closes s unlinks it */
    s->awaiting_pong = 1;
    s->pong_deadline = uv_hrtime() + (uint64_t)srv->opts.ping_timeout * 1000000;
    hb_arm(s, &srv->hb_pong, srv->opts.ping_timeout);
    eio_socket_send_text(s, "2", 1);
  }
  s = hb_head(&srv->hb_pong);
  if (s)
    next = s->hb_due;
  s = hb_head(&srv->hb_ping);
  if (s && (!next || s->hb_due < next))
    next = s->hb_due;
  s = hb_head(&srv->hb_linger);
  if (s && (!next || s->hb_due < next))
    next = s->hb_due;
  if (next)
    hb_schedule(srv, next);
}

void eio_socket_opened(eio_socket *s) {
  if (s->state != EIO_STATE_OPEN)
    return;
  hb_arm(s, &s->srv->hb_ping, s->srv->opts.ping_interval);
  if (eio_cluster_hold_open(s))
    return; /* eio_cluster_announce makes the upcall */
  if (s->srv->cbs.on_open)
    s->srv->cbs.on_open(s, s->srv->ud);
}

int eio_socket_check_expired(eio_socket *s) {
  /* A request may be read in the same loop iteration in which the timer
   * was due but had not run yet: the deadline, not the timer, decides. */
  if (s->state == EIO_STATE_OPEN && s->awaiting_pong &&
      uv_hrtime() >= s->pong_deadline) {
    eio_socket_close_now(s, "ping timeout");
    return 1;
  }
  return 0;
}

/* ----------------------------------------------------------------- output */

static int enqueue(eio_socket *s, sio_rcbuf *rc) {
  eio_outq_item *it;
  /* The bound is on a backlog: one message, however large, may always be
   * queued behind an empty queue (redis' output limit counts the same). */
  if (s->out_bytes && s->out_bytes + rc->len > s->srv->opts.max_buffered) {
    SIO_LOGW("session %s: output bound passed, closing", s->sid);
    s->srv->slow_consumers++;
    eio_socket_close_now(s, "transport error");
    return SIO_ERR_LIMIT;
  }
  it = sio_malloc(sizeof(*it));
  if (!it)
    return SIO_ERR_NOMEM;
  it->rc = sio_rcbuf_ref(rc);
  sio_queue_insert_tail(&s->outq, &it->q);
  s->out_bytes += rc->len;
  return 0;
}

int eio_socket_send(eio_socket *s, sio_rcbuf *msg) {
  int rv;
  if (s->state != EIO_STATE_OPEN)
    return SIO_ERR_CLOSED;
  if (s->ws_conn && s->transport == EIO_TRANSPORT_WEBSOCKET) {
    size_t pending = sio_conn_pending(&s->ws_conn->base);
    if (pending && pending + msg->len > s->srv->opts.max_buffered) {
      SIO_LOGW("session %s: output bound passed, closing", s->sid);
      s->srv->slow_consumers++;
      eio_socket_close_now(s, "transport error");
      return SIO_ERR_LIMIT;
    }
    return eio_ws_send(s->ws_conn, msg);
  }
  rv = enqueue(s, msg);
  if (!rv && s->poll_conn && !s->upgrading)
    eio_polling_flush(s);
  else if (!rv && s->cl)
    eio_cluster_flush(s);
  return rv;
}

int eio_socket_send_text(eio_socket *s, const char *text, size_t len) {
  sio_rcbuf *rc = sio_rcbuf_new_copy(text, len);
  int rv;
  if (!rc)
    return SIO_ERR_NOMEM;
  rv = eio_socket_send(s, rc);
  sio_rcbuf_unref(rc);
  return rv;
}

int eio_socket_writable(const eio_socket *s) {
  if (s->state != EIO_STATE_OPEN)
    return 0;
  if (s->transport == EIO_TRANSPORT_WEBSOCKET)
    return s->ws_conn && !s->ws_conn->base.writing;
  return (s->poll_conn != NULL || eio_cluster_has_reader(s)) && !s->upgrading;
}

void eio_socket_flush(eio_socket *s) {
  if (s->state != EIO_STATE_OPEN)
    return;
  if (s->transport == EIO_TRANSPORT_WEBSOCKET && s->ws_conn) {
    while (!sio_queue_empty(&s->outq)) {
      sio_queue *q = sio_queue_head(&s->outq);
      eio_outq_item *it = sio_container_of(q, eio_outq_item, q);
      sio_queue_remove(q);
      s->out_bytes -= it->rc->len;
      eio_ws_send(s->ws_conn, it->rc);
      sio_rcbuf_unref(it->rc);
      sio_free(it);
    }
  } else if (s->poll_conn && !s->upgrading) {
    eio_polling_flush(s);
  } else if (s->cl) {
    eio_cluster_flush(s);
  }
}

int eio_socket_take_payload(eio_socket *s, sio_buf *out) {
  int first = 1, rv = 0;
  while (!sio_queue_empty(&s->outq)) {
    sio_queue *q = sio_queue_head(&s->outq);
    eio_outq_item *it = sio_container_of(q, eio_outq_item, q);
    if (!rv)
      rv = eio_payload_append(out, first,
                              (it->rc->flags & SIO_RCBUF_BINARY) != 0,
                              it->rc->data, it->rc->len);
    first = 0;
    sio_queue_remove(q);
    s->out_bytes -= it->rc->len;
    sio_rcbuf_unref(it->rc);
    sio_free(it);
  }
  return rv;
}

/* ------------------------------------------------------------------ input */

static void complete_upgrade(eio_socket *s) {
  eio_conn *ws = s->probe_conn;
  s->probe_conn = NULL;
  s->upgrading = 0;
  s->upgraded = 1;
  ws->ws_probing = 0;
  s->ws_conn = ws;
  s->transport = EIO_TRANSPORT_WEBSOCKET;
  s->srv->ws_sessions++;
  if (s->poll_conn) /* a GET parked meanwhile is released */
    eio_polling_send_single(s, "6");
  eio_cluster_release_reader(s, "6");
  eio_socket_flush(s);
  eio_cluster_announce(s); /* here to stay: no other node takes it over */
}

void eio_socket_on_packet(eio_socket *s, const eio_packet *p) {
  if (s->state != EIO_STATE_OPEN)
    return;
  switch (p->type) {
  case EIO_PACKET_PONG:
    if (s->awaiting_pong) {
      s->awaiting_pong = 0;
      hb_arm(s, &s->srv->hb_ping, s->srv->opts.ping_interval);
    }
    break;
  case EIO_PACKET_MESSAGE:
    if (eio_cluster_held(s))
      eio_cluster_hold_message(s, p);
    else if (s->srv->cbs.on_message)
      s->srv->cbs.on_message(s, p->binary, p->data, p->len, s->srv->ud);
    break;
  case EIO_PACKET_CLOSE:
    /* Client-initiated close: a parked GET is released with a noop. */
    if (s->poll_conn)
      eio_polling_send_single(s, "6");
    eio_cluster_release_reader(s, "6");
    eio_socket_close_now(s, "transport close");
    break;
  case EIO_PACKET_PING: /* clients do not ping in v4; probes are ws-only */
  case EIO_PACKET_OPEN:
  case EIO_PACKET_UPGRADE:
  case EIO_PACKET_NOOP:
  default:
    /* ignored, as the reference server does for unexpected packets */
    break;
  }
}

/* Packets on the WebSocket of an upgrade in progress. */
void eio_socket_on_probe_packet(eio_socket *s, eio_conn *ws,
                                const eio_packet *p) {
  if (p->type == EIO_PACKET_PING && p->len == 5 &&
      memcmp(p->data, "probe", 5) == 0) {
    eio_ws_send_text(ws, "3probe", 6);
    s->upgrading = 1;
    /* Release the parked GET so the client can pause polling. */
    if (s->poll_conn)
      eio_polling_send_single(s, "6");
    eio_cluster_release_reader(s, "6");
  } else if (p->type == EIO_PACKET_UPGRADE && s->upgrading) {
    complete_upgrade(s);
  } else {
    s->probe_conn = NULL;
    s->upgrading = 0;
    ws->sess = NULL;
    eio_ws_close(ws, 1000);
  }
}

/* ---------------------------------------------------------------- closing */

static void free_outq(eio_socket *s) {
  sio_queue *q, *n;
  sio_queue_foreach_safe(q, n, &s->outq) {
    eio_outq_item *it = sio_container_of(q, eio_outq_item, q);
    sio_queue_remove(q);
    sio_rcbuf_unref(it->rc);
    sio_free(it);
  }
  s->out_bytes = 0;
}

/* Removes s from the server and frees it; its on_close upcall has run. */
static void session_free(eio_socket *s) {
  eio_server *srv = s->srv;
  sio_map_remove(&srv->sessions, s->sid, strlen(s->sid));
  if (s->transport == EIO_TRANSPORT_WEBSOCKET)
    srv->ws_sessions--;
  free_outq(s);
  eio_cluster_session_free(s);
  /* Nothing refers to s any more: its connections were detached by
   * eio_socket_close_now and the layer above dropped it in on_close. */
  sio_free(s->hs);
  sio_free(s);
  if (srv->closing)
    eio_server_reap(srv);
}

void eio_socket_linger_end(eio_socket *s) {
  if (!s->lingering)
    return;
  s->lingering = 0;
  s->srv->lingering--;
  sio_queue_remove(&s->hb_link);
  free_outq(s);
  if (s->state == EIO_STATE_CLOSED)
    session_free(s);
  /* else close_deferred, still pending, frees it */
}

static void close_deferred(sio_defer *d) {
  eio_socket *s = sio_container_of(d, eio_socket, close_defer);
  eio_server *srv = s->srv;
  s->state = EIO_STATE_CLOSED;
  if (srv->cbs.on_close && !eio_cluster_held(s)) /* never opened above */
    srv->cbs.on_close(s, s->close_reason, srv->ud);
  if (s->lingering && !srv->closing) {
    /* Bounded: a client that never polls again does not keep it. */
    hb_arm(s, &srv->hb_linger, srv->opts.ping_timeout);
    return;
  }
  if (s->lingering) {
    s->lingering = 0;
    srv->lingering--;
  }
  session_free(s);
}

void eio_socket_close_now(eio_socket *s, const char *reason) {
  if (s->state != EIO_STATE_OPEN)
    return;
  s->state = EIO_STATE_CLOSING;
  s->close_reason = reason;
  sio_queue_remove(&s->hb_link);
  if (s->poll_conn) {
    /* A server-side close tells a parked GET with a close packet. */
    s->state = EIO_STATE_OPEN; /* let the single packet out */
    eio_polling_send_single(s, "1");
    s->state = EIO_STATE_CLOSING;
  }
  if (eio_cluster_has_reader(s)) { /* its GET (or WebSocket) is elsewhere */
    s->state = EIO_STATE_OPEN;
    eio_cluster_release_reader(s, "1");
    s->state = EIO_STATE_CLOSING;
  }
  if (s->ws_conn) {
    /* Whatever was sent is on the connection already: the close frame
     * goes after it. */
    eio_conn *c = s->ws_conn;
    s->ws_conn = NULL;
    c->sess = NULL;
    eio_ws_close(c, 1000);
  }
  if (s->probe_conn) {
    eio_conn *c = s->probe_conn;
    s->probe_conn = NULL;
    c->sess = NULL;
    s->upgrading = 0;
    eio_ws_close(c, 1000);
  }
  if (!s->lingering)
    free_outq(s);
  sio_net_defer(&s->srv->net, &s->close_defer, close_deferred);
}

void eio_socket_close(eio_socket *s, const char *reason) {
  /* The reference server's socket.close(): a polling session with no GET
   * parked keeps its output (connection.error, DISCONNECT...) for the
   * client's next GETs instead of dropping it. At shutdown the session
   * goes at once, as the drain has its own deadline. */
  if (s->state == EIO_STATE_OPEN && !s->srv->closing &&
      s->transport == EIO_TRANSPORT_POLLING && !s->poll_conn &&
      !eio_cluster_has_reader(s)) {
    s->lingering = 1;
    s->srv->lingering++;
  }
  eio_socket_close_now(s, reason ? reason : "forced close");
}

/* -------------------------------------------------------------- accessors */

const char *eio_socket_sid(const eio_socket *s) { return s->sid; }

const char *eio_socket_transport(const eio_socket *s) {
  return s->transport == EIO_TRANSPORT_WEBSOCKET || s->upgraded ? "websocket"
                                                                : "polling";
}

static const char *hs_find(const eio_socket *s, size_t from, size_t to,
                           const char *name, int fold) {
  size_t i = from;
  while (i < to) {
    const char *k = s->hs + i, *v;
    size_t kl = strlen(k);
    v = k + kl + 1;
    if ((fold ? strcasecmp(k, name) : strcmp(k, name)) == 0)
      return v;
    i += kl + 1 + strlen(v) + 1;
  }
  return NULL;
}

const char *eio_socket_header(const eio_socket *s, const char *name) {
  return hs_find(s, 0, s->hs_headers, name, 1);
}

const char *eio_socket_query(const eio_socket *s, const char *name) {
  return hs_find(s, s->hs_headers, s->hs_len, name, 0);
}

void eio_socket_handshake_each(const eio_socket *s, int query,
                               void (*cb)(const char *name, const char *value,
                                          void *ud),
                               void *ud) {
  size_t i = query ? s->hs_headers : 0, to = query ? s->hs_len : s->hs_headers;
  while (i < to) {
    const char *k = s->hs + i, *v = k + strlen(k) + 1;
    cb(k, v, ud);
    i = (size_t)(v - s->hs) + strlen(v) + 1;
  }
}

const char *eio_socket_remote_addr(const eio_socket *s) { return s->remote; }
void eio_socket_set_data(eio_socket *s, void *data) { s->data = data; }
void *eio_socket_get_data(const eio_socket *s) { return s->data; }
