/* eio_cluster.c: Engine.IO without sticky sessions (SPEC §2), in the
 * protocol of @socket.io/cluster-engine's RedisEngine, so that C and Node
 * nodes forward to each other (messages: eio_cluster_msg.h).
 *
 * A node that gets a request for a sid it does not hold (the requester)
 * asks every node for a lock on it (ACQUIRE_LOCK); only the owner answers,
 * and no answer within EIO_CL_ANSWER_MS means the sid is unknown. Then:
 *  - a polling GET waits here until the owner sends the session's output
 *    (DRAIN), which answers it: one GET, one DRAIN;
 *  - a polling POST's packets go to the owner one by one (PACKET);
 *  - a WebSocket upgrade is answered here (101, "3probe"); on "5" the
 *    owner is told (UPGRADE) and either hands the session over with what
 *    it received so far (takeOver: the session lives here from now on) or
 *    keeps it, and this node proxies the WebSocket: PACKET up, DRAIN down.
 * A forwarded transport that closes tells the owner (CLOSE), as a local
 * one closing would end the session.
 *
 * The owner holds a new polling session's open upcall for takeover_ms
 * (the reference's delayedConnectionTimeout, 300 ms) so that the usual
 * upgrade, which comes within a round trip or two, can still take it
 * over: until the layer above has seen a session, moving it is free.
 * A local upgrade ends the hold at once.
 *
 * Bounds: every wait has a deadline (answers 1 s, a forwarded GET
 * pingInterval + pingTimeout, a remote upgrade 10 s, the probe the
 * sweep's upgrade timeout); what a session receives while held counts
 * against max_buffered. */
#include <string.h>

#include "eio_int.h"
#include "eio_payload.h"
#include "sio/sio.h"
#include "sio_crypto.h"
#include "sio_int.h"
#include "sio_log.h"
#include "sio_mem.h"

#define EIO_CL_ANSWER_MS 1000   /* the reference's responseTimeout */
#define EIO_CL_UPGRADE_MS 10000 /* the reference's upgradeTimeout */
#define POLL_CTYPE "text/plain; charset=UTF-8"

enum { CL_GET = 1, CL_POST, CL_WS };
enum { CL_LOCKING = 1, CL_READING, CL_PROBING, CL_UPGRADING, CL_PROXY };

/* A request or transport this node carries for another node's session. */
typedef struct eio_cl_remote {
  sio_queue wait_link; /* in cl_waits or cl_reads */
  uint64_t due;
  eio_server *srv;
  eio_conn *conn; /* NULL once it closed */
  uint8_t kind;
  uint8_t phase;
  uint8_t reading; /* in cl_readers */
  uint8_t probed;  /* "3probe" sent */
  int keep_alive;
  uint64_t request_id;
  char sid[21];
  char owner[EIO_CM_NODE_ID_LEN + 1];
  char *head;      /* GET/POST: the response's CORS lines; WS: the 101 */
  uint8_t *body;   /* POST */
  size_t body_len;
  eio_socket *shell; /* WS: the handshake facts, for a takeover */
  sio_queue early;   /* eio_outq_item: messages after "5", before the
                        owner's answer */
  size_t early_bytes;
} eio_cl_remote;

/* The owner's side of a session others read or upgrade. */
typedef struct eio_cl_session {
  eio_socket *s;
  sio_queue delay_link; /* in cl_delayed while the open is held */
  uint64_t delay_due;
  sio_queue upgrade_link; /* in cl_upgrades while upgrading remotely */
  uint64_t upgrade_due;
  sio_queue held; /* eio_outq_item: messages received while held */
  size_t held_bytes;
  sio_defer drain_defer;
  char reader[EIO_CM_NODE_ID_LEN + 1]; /* "" none */
  uint8_t proxy;   /* the reader proxies a WebSocket: it stays */
  uint8_t delayed; /* open upcall held */
  uint8_t remote_upgrade;
  uint8_t handed_over; /* closing because another node took it */
} eio_cl_session;

static eio_cm_str cstr(const char *s) {
  eio_cm_str v = {s, s ? strlen(s) : 0};
  return v;
}

static int str_is(eio_cm_str v, const char *s) {
  return v.len == strlen(s) && memcmp(v.s, s, v.len) == 0;
}

static void copy_id(char dst[EIO_CM_NODE_ID_LEN + 1], eio_cm_str v) {
  size_t n = v.len < EIO_CM_NODE_ID_LEN ? v.len : EIO_CM_NODE_ID_LEN;
  memcpy(dst, v.s, n);
  dst[n] = 0;
}

/* ------------------------------------------------------------ publishing */

static int publish(eio_server *srv, eio_cm_msg *m) {
  sio_buf out, ch;
  int rv;
  if (!srv->bus.publish)
    return SIO_ERR_CLOSED;
  m->sender = cstr(srv->node_id);
  sio_buf_init(&out);
  sio_buf_init(&ch);
  rv = eio_cm_encode(&out, m);
  if (!rv)
    rv = eio_cm_channel(&ch, NULL, &m->recipient);
  if (!rv)
    rv = srv->bus.publish(srv->bus.ud, ch.data, (const uint8_t *)out.data,
                          out.len);
  if (rv)
    srv->cl_stats.bus_errors++;
  sio_buf_deinit(&out);
  sio_buf_deinit(&ch);
  return rv;
}

static int send_close(eio_server *srv, const char *owner, const char *sid,
                      const char *reason) {
  eio_cm_msg m;
  memset(&m, 0, sizeof(m));
  m.type = EIO_CM_CLOSE;
  m.recipient = cstr(owner);
  m.sid = cstr(sid);
  m.reason = cstr(reason);
  return publish(srv, &m);
}

static int send_upgrade(eio_server *srv, eio_cl_remote *r, int success) {
  eio_cm_msg m;
  memset(&m, 0, sizeof(m));
  m.type = EIO_CM_UPGRADE;
  m.has_request_id = 1;
  m.request_id = r->request_id = ++srv->cl_next_id;
  m.recipient = cstr(r->owner);
  m.sid = cstr(r->sid);
  m.success = success;
  return publish(srv, &m);
}

static int send_packet(eio_server *srv, const char *owner, const char *sid,
                       const eio_packet *p) {
  eio_cm_msg m;
  memset(&m, 0, sizeof(m));
  m.type = EIO_CM_PACKET;
  m.recipient = cstr(owner);
  m.sid = cstr(sid);
  m.packets = p;
  m.npackets = 1;
  return publish(srv, &m);
}

/* Packets from an output queue's text form ("4...", "2") or binary. */
static int item_packet(const eio_outq_item *it, eio_packet *p) {
  if (it->rc->flags & SIO_RCBUF_BINARY) {
    eio_packet_decode_binary(p, it->rc->data, it->rc->len);
    return 0;
  }
  return eio_packet_decode_text(p, it->rc->data, it->rc->len);
}

static void free_items(sio_queue *q) {
  while (!sio_queue_empty(q)) {
    sio_queue *h = sio_queue_head(q);
    eio_outq_item *it = sio_container_of(h, eio_outq_item, q);
    sio_queue_remove(h);
    sio_rcbuf_unref(it->rc);
    sio_free(it);
  }
}

/* Appends a message packet's data (p->data, without the '4') to q. */
static int push_message(sio_queue *q, size_t *bytes, const eio_packet *p) {
  eio_outq_item *it = sio_malloc(sizeof(*it));
  if (!it)
    return SIO_ERR_NOMEM;
  it->rc = sio_rcbuf_new_copy(p->data, p->len);
  if (!it->rc) {
    sio_free(it);
    return SIO_ERR_NOMEM;
  }
  if (p->binary)
    it->rc->flags |= SIO_RCBUF_BINARY;
  sio_queue_insert_tail(q, &it->q);
  *bytes += p->len;
  return 0;
}

/* The messages of q as packets (data borrowed from q's items). */
static eio_packet *message_packets(const sio_queue *q, size_t *n) {
  const sio_queue *h;
  size_t count = 0, i = 0;
  eio_packet *ps;
  for (h = q->next; h != q; h = h->next)
    count++;
  *n = count;
  ps = sio_calloc(count ? count : 1, sizeof(*ps));
  if (!ps)
    return NULL;
  for (h = q->next; h != q; h = h->next, i++) {
    const eio_outq_item *it = sio_container_of(h, eio_outq_item, q);
    ps[i].type = EIO_PACKET_MESSAGE;
    ps[i].binary = (it->rc->flags & SIO_RCBUF_BINARY) != 0;
    ps[i].data = it->rc->data;
    ps[i].len = it->rc->len;
  }
  return ps;
}

/* ---------------------------------------------------------------- timers */

static void cl_timer_cb(uv_timer_t *t);

static void timer_schedule(eio_server *srv, uint64_t due) {
  uint64_t now = uv_now(srv->loop);
  if (srv->closing || (srv->cl_timer_due && srv->cl_timer_due <= due))
    return;
  srv->cl_timer_due = due;
  uv_timer_start(&srv->cl_timer, cl_timer_cb, due > now ? due - now : 0, 0);
}

static void wait_on(eio_cl_remote *r, sio_queue *list, uint64_t ms) {
  sio_queue_remove(&r->wait_link);
  r->due = uv_now(r->srv->loop) + ms;
  sio_queue_insert_tail(list, &r->wait_link);
  timer_schedule(r->srv, r->due);
}

/* ------------------------------------------------------------- requester */

static void unregister_reader(eio_cl_remote *r) {
  if (!r->reading)
    return;
  r->reading = 0;
  if (sio_map_get(&r->srv->cl_readers, r->sid, strlen(r->sid)) == r)
    sio_map_remove(&r->srv->cl_readers, r->sid, strlen(r->sid));
}

static void remote_free(eio_cl_remote *r) {
  unregister_reader(r);
  sio_queue_remove(&r->wait_link);
  if (r->conn)
    r->conn->remote = NULL;
  if (r->shell)
    eio_socket_discard(r->shell);
  free_items(&r->early);
  sio_free(r->head);
  sio_free(r->body);
  sio_free(r);
}

/* Lets an HTTP connection read its next request. */
static void release_conn(eio_cl_remote *r) {
  eio_conn *c = r->conn;
  if (!c)
    return;
  r->conn = NULL;
  c->remote = NULL;
  c->held = 0;
  if (!c->base.closing)
    eio_conn_resume_http(c);
}

static void answer_http(eio_cl_remote *r, int status, const char *ctype,
                        const void *body, size_t len) {
  if (r->conn)
    eio_respond_raw(r->conn, status, r->head, ctype, body, len,
                    r->keep_alive);
  release_conn(r);
}

/* No node owns the sid (or the bus is gone): the reference's answer. */
static void answer_unknown(eio_cl_remote *r) {
  r->srv->cl_stats.unknown++;
  if (!r->conn)
    return;
  if (r->kind == CL_WS) {
    eio_conn *c = r->conn;
    r->conn = NULL;
    c->remote = NULL;
    eio_abort_upgrade(c, EIO_ERR_UNKNOWN_SID);
  } else {
    sio_buf b;
    sio_buf_init(&b);
    if (eio_error_body(&b, EIO_ERR_UNKNOWN_SID) == 0)
      answer_http(r, 400, "application/json", b.data, b.len);
    else
      sio_conn_close(&r->conn->base);
    sio_buf_deinit(&b);
  }
}

/* Answers a forwarded GET with packets (a DRAIN) and ends it. */
static void answer_get(eio_cl_remote *r, const eio_packet *ps, size_t n) {
  sio_buf body, one;
  size_t i;
  int rv = 0;
  sio_buf_init(&body);
  sio_buf_init(&one);
  for (i = 0; i < n && !rv; i++) {
    if (ps[i].binary) {
      rv = eio_payload_append(&body, i == 0, 1, ps[i].data, ps[i].len);
    } else {
      sio_buf_reset(&one);
      rv = eio_packet_encode_text(&one, &ps[i]);
      if (!rv)
        rv = eio_payload_append(&body, i == 0, 0, (const uint8_t *)one.data,
                                one.len);
    }
  }
  if (!rv && n == 0)
    rv = sio_buf_append(&body, "6", 1);
  if (rv && r->conn)
    sio_conn_close(&r->conn->base);
  else if (!rv)
    answer_http(r, 200, POLL_CTYPE, body.data, body.len);
  sio_buf_deinit(&body);
  sio_buf_deinit(&one);
  remote_free(r);
}

static void answer_get_text(eio_cl_remote *r, const char *pkt) {
  eio_packet p;
  if (eio_packet_decode_text(&p, (const uint8_t *)pkt, strlen(pkt)) == 0)
    answer_get(r, &p, 1);
  else
    remote_free(r);
}

/* r reads sid here from now on; a GET that did is released ("6"), as a
 * parked poll is when the transport changes. */
static int become_reader(eio_cl_remote *r) {
  eio_server *srv = r->srv;
  eio_cl_remote *old = sio_map_get(&srv->cl_readers, r->sid, strlen(r->sid));
  if (old && old != r) {
    if (old->kind == CL_GET)
      answer_get_text(old, "6");
    else
      unregister_reader(old);
  }
  if (sio_map_put(&srv->cl_readers, r->sid, strlen(r->sid), r))
    return SIO_ERR_NOMEM;
  r->reading = 1;
  return 0;
}

static int on_post_packet(const eio_packet *p, void *ud) {
  eio_cl_remote *r = ud;
  return send_packet(r->srv, r->owner, r->sid, p) ? 1 : 0;
}

static void post_granted(eio_cl_remote *r) {
  sio_buf scratch;
  int rv;
  sio_buf_init(&scratch);
  rv = eio_payload_decode(r->body, r->body_len, 0, &scratch, on_post_packet,
                          r);
  sio_buf_deinit(&scratch);
  if (rv < 0) {
    sio_buf b;
    sio_buf_init(&b);
    send_close(r->srv, r->owner, r->sid, "parse error");
    if (eio_error_body(&b, EIO_ERR_BAD_REQUEST) == 0)
      answer_http(r, 400, "application/json", b.data, b.len);
    sio_buf_deinit(&b);
  } else {
    answer_http(r, 200, "text/html", "ok", 2);
  }
  remote_free(r);
}

static void ws_granted(eio_cl_remote *r) {
  eio_conn *c = r->conn;
  sio_buf in;
  r->phase = CL_PROBING;
  if (sio_conn_write(&c->base, r->head, strlen(r->head))) {
    sio_conn_close(&c->base); /* conn_gone ends r */
    return;
  }
  sio_free(r->head);
  r->head = NULL;
  c->held = 0;
  c->mode = EIO_CONN_WS;
  c->ws_open = 1;
  c->ws_probing = 1; /* the sweep bounds the probe */
  c->started = uv_now(r->srv->loop);
  if (c->hp) {
    sio_http_parser_deinit(c->hp);
    sio_free(c->hp);
    c->hp = NULL;
  }
  in = c->pending_in;
  sio_buf_init(&c->pending_in);
  if (in.len)
    eio_ws_on_read(c, (const uint8_t *)in.data, in.len);
  sio_buf_deinit(&in);
}

static void lock_answered(eio_cl_remote *r, const eio_cm_msg *m) {
  eio_server *srv = r->srv;
  sio_queue_remove(&r->wait_link);
  if (!m->success) {
    answer_unknown(r);
    remote_free(r);
    return;
  }
  copy_id(r->owner, m->sender);
  srv->cl_stats.requests++;
  SIO_LOGD("session %s: %s carried to node %s", r->sid,
           r->kind == CL_GET ? "GET" : r->kind == CL_POST ? "POST" : "upgrade",
           r->owner);
  if (!r->conn) {
    /* The client left while we asked: a dropped poll ends the session,
     * as it would on the owner. */
    if (r->kind == CL_GET)
      send_close(srv, r->owner, r->sid, "transport error");
    remote_free(r);
    return;
  }
  switch (r->kind) {
  case CL_GET:
    r->phase = CL_READING;
    if (become_reader(r)) {
      sio_conn_close(&r->conn->base);
      return;
    }
    wait_on(r, &srv->cl_reads,
            (uint64_t)srv->opts.ping_interval + srv->opts.ping_timeout);
    break;
  case CL_POST:
    post_granted(r);
    break;
  case CL_WS:
    ws_granted(r);
    break;
  }
}

/* The owner gave the session to this node: it lives here from now on. */
static void take_over(eio_cl_remote *r, const eio_cm_msg *m) {
  eio_server *srv = r->srv;
  eio_conn *c = r->conn;
  eio_socket *s = r->shell;
  sio_queue *h;
  size_t i;
  if (!c) {
    remote_free(r); /* its WebSocket is gone: so is the session */
    return;
  }
  r->shell = NULL;
  if (eio_socket_register(s, r->sid)) {
    eio_socket_discard(s);
    eio_ws_close(c, 1000);
    remote_free(r);
    return;
  }
  unregister_reader(r);
  c->remote = NULL;
  r->conn = NULL;
  c->ws_probing = 0;
  c->sess = s;
  s->ws_conn = c;
  s->upgraded = 1;
  srv->cl_stats.takeovers++;
  eio_socket_opened(s);
  for (i = 0; i < m->npackets && s->state == EIO_STATE_OPEN; i++)
    eio_socket_on_packet(s, &m->packets[i]);
  for (h = r->early.next; h != &r->early && s->state == EIO_STATE_OPEN;
       h = h->next) {
    eio_outq_item *it = sio_container_of(h, eio_outq_item, q);
    eio_packet p;
    if (item_packet(it, &p) == 0)
      eio_socket_on_packet(s, &p);
  }
  remote_free(r);
}

static void proxy_early(eio_cl_remote *r) {
  sio_queue *h;
  for (h = r->early.next; h != &r->early; h = h->next) {
    eio_outq_item *it = sio_container_of(h, eio_outq_item, q);
    eio_packet p;
    if (item_packet(it, &p) == 0)
      send_packet(r->srv, r->owner, r->sid, &p);
  }
  free_items(&r->early);
  r->early_bytes = 0;
}

static void upgrade_answered(eio_cl_remote *r, const eio_cm_msg *m) {
  sio_queue_remove(&r->wait_link);
  SIO_LOGD("session %s: upgraded here, %s", r->sid,
           m->take_over ? "taken over" : "proxied to its owner");
  if (m->take_over) {
    take_over(r, m);
    return;
  }
  if (!r->conn) {
    send_close(r->srv, r->owner, r->sid, "transport close");
    remote_free(r);
    return;
  }
  r->phase = CL_PROXY;
  r->conn->ws_probing = 0;
  r->srv->cl_stats.proxied++;
  if (become_reader(r)) {
    eio_ws_close(r->conn, 1000);
    return;
  }
  proxy_early(r);
}

/* A DRAIN: output of a session this node reads for its owner. */
static void drained(eio_server *srv, const eio_cm_msg *m) {
  char sid[21];
  eio_cl_remote *r;
  size_t i;
  if (m->sid.len != 20)
    return;
  memcpy(sid, m->sid.s, 20);
  sid[20] = 0;
  r = sio_map_get(&srv->cl_readers, sid, 20);
  if (!r)
    return;
  if (r->kind == CL_GET) {
    answer_get(r, m->packets, m->npackets);
    return;
  }
  for (i = 0; i < m->npackets && r->conn; i++) {
    const eio_packet *p = &m->packets[i];
    sio_rcbuf *rc;
    if (p->binary) {
      rc = sio_rcbuf_new_copy(p->data, p->len);
      if (rc)
        rc->flags |= SIO_RCBUF_BINARY;
    } else {
      sio_buf t;
      sio_buf_init(&t);
      rc = eio_packet_encode_text(&t, p) == 0
               ? sio_rcbuf_new_copy(t.data, t.len)
               : NULL;
      sio_buf_deinit(&t);
    }
    if (!rc) {
      eio_ws_close(r->conn, 1011);
      return;
    }
    if (sio_conn_pending(&r->conn->base) &&
        sio_conn_pending(&r->conn->base) + rc->len > srv->opts.max_buffered) {
      /* a client that stopped reading: the bound its owner would apply
       * (the owner's own queue empties into the bus at once) */
      eio_conn *c = r->conn;
      SIO_LOGW("session %s: proxied output bound passed, closing", r->sid);
      srv->slow_consumers++;
      sio_rcbuf_unref(rc);
      send_close(srv, r->owner, r->sid, "transport error");
      remote_free(r);
      eio_ws_close(c, 1000);
      return;
    }
    eio_ws_send(r->conn, rc);
    sio_rcbuf_unref(rc);
  }
}

int eio_cluster_route(eio_conn *c, const sio_http_request *req, int transport,
                      const char *sid, size_t sid_len) {
  eio_server *srv = c->srv;
  eio_cl_remote *r;
  eio_cm_msg m;
  sio_buf h;
  int kind, rv;
  if (!srv->bus.publish || srv->closing || sid_len != 20)
    return 0;
  if (req->upgrade) {
    if (transport != EIO_TRANSPORT_WEBSOCKET || eio_ws_check(req))
      return 0;
    kind = CL_WS;
  } else if (transport != EIO_TRANSPORT_POLLING) {
    return 0;
  } else if (req->method == HTTP_GET) {
    kind = CL_GET;
  } else if (req->method == HTTP_POST) {
    kind = CL_POST;
  } else {
    return 0;
  }
  r = sio_calloc(1, sizeof(*r));
  if (!r)
    return 0;
  r->srv = srv;
  r->kind = (uint8_t)kind;
  r->keep_alive = req->keep_alive;
  sio_queue_init(&r->wait_link);
  sio_queue_init(&r->early);
  memcpy(r->sid, sid, 20);
  sio_buf_init(&h);
  if (kind == CL_WS) {
    rv = eio_ws_write_101(&h, req);
    if (!rv)
      rv = sio_buf_append_str(&h, "\r\n");
    if (!rv)
      rv = eio_socket_shell(&r->shell, srv, EIO_TRANSPORT_WEBSOCKET, req,
                            c->base.remote);
  } else {
    rv = eio_common_headers(c, req, &h);
    if (!rv && kind == CL_POST && req->body_len) {
      r->body = sio_malloc(req->body_len);
      if (!r->body)
        rv = SIO_ERR_NOMEM;
      else
        memcpy(r->body, req->body, req->body_len);
      r->body_len = req->body_len;
    }
  }
  if (!rv && !(r->head = sio_buf_steal(&h, NULL)))
    rv = SIO_ERR_NOMEM;
  sio_buf_deinit(&h);
  if (!rv) {
    memset(&m, 0, sizeof(m));
    m.type = EIO_CM_ACQUIRE_LOCK;
    m.has_request_id = 1;
    m.request_id = r->request_id = ++srv->cl_next_id;
    m.sid = cstr(r->sid);
    m.transport = cstr(kind == CL_WS ? "websocket" : "polling");
    m.write = kind == CL_POST;
    rv = publish(srv, &m);
  }
  if (rv) {
    remote_free(r);
    return 0;
  }
  SIO_LOGD("session %s: not here, asking the other nodes (%s)", r->sid,
           kind == CL_GET ? "GET" : kind == CL_POST ? "POST" : "upgrade");
  r->conn = c;
  r->phase = CL_LOCKING;
  c->remote = r;
  c->held = 1;
  wait_on(r, &srv->cl_waits, EIO_CL_ANSWER_MS);
  return 1;
}

void eio_cluster_conn_gone(eio_conn *c) {
  eio_cl_remote *r = c->remote;
  if (!r)
    return;
  c->remote = NULL;
  r->conn = NULL;
  switch (r->phase) {
  case CL_LOCKING:
  case CL_UPGRADING:
    return; /* settled when the answer (or its deadline) comes */
  case CL_READING:
    send_close(r->srv, r->owner, r->sid, "transport error");
    break;
  case CL_PROBING:
    send_upgrade(r->srv, r, 0); /* the owner stops waiting for it */
    break;
  case CL_PROXY:
    send_close(r->srv, r->owner, r->sid, "transport close");
    break;
  }
  remote_free(r);
}

void eio_cluster_ws_message(eio_conn *c, int binary, const uint8_t *msg,
                            size_t len) {
  eio_cl_remote *r = c->remote;
  eio_packet p;
  if (binary)
    eio_packet_decode_binary(&p, msg, len);
  else if (eio_packet_decode_text(&p, msg, len)) {
    if (r->phase == CL_PROXY)
      send_close(r->srv, r->owner, r->sid, "parse error");
    remote_free(r);
    eio_ws_close(c, 1000);
    return;
  }
  switch (r->phase) {
  case CL_PROBING:
    if (p.type == EIO_PACKET_PING && p.len == 5 &&
        memcmp(p.data, "probe", 5) == 0) {
      eio_ws_send_text(c, "3probe", 6);
      r->probed = 1;
    } else if (p.type == EIO_PACKET_UPGRADE && r->probed) {
      if (send_upgrade(r->srv, r, 1)) {
        remote_free(r);
        eio_ws_close(c, 1000);
        return;
      }
      r->phase = CL_UPGRADING;
      wait_on(r, &r->srv->cl_waits, EIO_CL_ANSWER_MS);
    } else {
      send_upgrade(r->srv, r, 0);
      remote_free(r);
      eio_ws_close(c, 1000);
    }
    break;
  case CL_UPGRADING: {
    /* The client writes as soon as it sent "5": kept for the new home. */
    eio_outq_item *it;
    sio_rcbuf *rc;
    if (r->early_bytes + len > r->srv->opts.max_buffered)
      goto too_much;
    it = sio_malloc(sizeof(*it));
    rc = sio_rcbuf_new_copy(msg, len);
    if (!it || !rc) {
      sio_free(it);
      if (rc)
        sio_rcbuf_unref(rc);
      goto too_much;
    }
    if (binary)
      rc->flags |= SIO_RCBUF_BINARY;
    it->rc = rc;
    sio_queue_insert_tail(&r->early, &it->q);
    r->early_bytes += len;
    break;
  too_much:
    eio_ws_close(c, 1009);
    break;
  }
  case CL_PROXY:
    send_packet(r->srv, r->owner, r->sid, &p);
    break;
  default:
    break;
  }
}

/* ----------------------------------------------------------------- owner */

static eio_cl_session *cl_of(eio_socket *s) {
  if (!s->cl) {
    eio_cl_session *cl = sio_calloc(1, sizeof(*cl));
    if (!cl)
      return NULL;
    sio_queue_init(&cl->delay_link);
    sio_queue_init(&cl->upgrade_link);
    sio_queue_init(&cl->held);
    sio_defer_init(&cl->drain_defer);
    cl->s = s;
    s->cl = cl;
  }
  return s->cl;
}

/* Sends the queued output of s, then extra (NULL: none), to its reader. */
static void drain_to_reader(eio_socket *s, const char *extra) {
  eio_cl_session *cl = s->cl;
  eio_server *srv = s->srv;
  sio_queue *h;
  size_t n = 0, i = 0;
  eio_packet *ps;
  eio_cm_msg m;
  if (!cl || !cl->reader[0])
    return;
  sio_defer_cancel(&cl->drain_defer);
  for (h = s->outq.next; h != &s->outq; h = h->next)
    n++;
  if (!n && !extra)
    return;
  ps = sio_calloc(n + 1, sizeof(*ps));
  if (!ps) {
    eio_socket_close_now(s, "transport error");
    return;
  }
  for (h = s->outq.next; h != &s->outq; h = h->next) {
    eio_outq_item *it = sio_container_of(h, eio_outq_item, q);
    if (item_packet(it, &ps[i]) == 0)
      i++;
  }
  if (extra &&
      eio_packet_decode_text(&ps[i], (const uint8_t *)extra, strlen(extra)) ==
          0)
    i++;
  memset(&m, 0, sizeof(m));
  m.type = EIO_CM_DRAIN;
  m.recipient = cstr(cl->reader);
  m.sid = cstr(s->sid);
  m.packets = ps;
  m.npackets = i;
  publish(srv, &m);
  sio_free(ps);
  free_items(&s->outq);
  s->out_bytes = 0;
  if (!cl->proxy)
    cl->reader[0] = 0;
}

static void drain_deferred(sio_defer *d) {
  eio_cl_session *cl = sio_container_of(d, eio_cl_session, drain_defer);
  eio_socket *s = cl->s;
  if (s->state == EIO_STATE_OPEN && !s->upgrading)
    drain_to_reader(s, NULL);
}

void eio_cluster_flush(eio_socket *s) {
  eio_cl_session *cl = s->cl;
  if (!cl || !cl->reader[0] || s->upgrading || sio_queue_empty(&s->outq))
    return;
  /* what the rest of this iteration queues goes in the same message */
  sio_net_defer(&s->srv->net, &cl->drain_defer, drain_deferred);
}

void eio_cluster_release_reader(eio_socket *s, const char *pkt) {
  if (s->cl && s->cl->reader[0] && !s->cl->handed_over)
    drain_to_reader(s, pkt);
}

int eio_cluster_has_reader(const eio_socket *s) {
  return s->cl && s->cl->reader[0];
}

static void reply_lock(eio_server *srv, const eio_cm_msg *m, int success) {
  eio_cm_msg a;
  memset(&a, 0, sizeof(a));
  a.type = EIO_CM_ACQUIRE_LOCK_RESPONSE;
  a.has_request_id = 1;
  a.request_id = m->request_id;
  a.recipient = m->sender;
  a.success = success;
  publish(srv, &a);
}

static void lock_asked(eio_server *srv, const eio_cm_msg *m) {
  eio_socket *s;
  eio_cl_session *cl;
  int ok, polling = str_is(m->transport, "polling");
  if (m->sid.len != 20 || !m->has_request_id)
    return;
  s = sio_map_get(&srv->sessions, m->sid.s, m->sid.len);
  if (!s)
    return; /* another node's, or nobody's: the owner answers */
  if (s->lingering && polling) {
    /* closed by the server, its last output waits for a GET */
    reply_lock(srv, m, 1);
    if (!m->write && (cl = cl_of(s))) {
      copy_id(cl->reader, m->sender);
      cl->proxy = 0;
      drain_to_reader(s, sio_queue_empty(&s->outq) ? "1" : NULL);
      if (sio_queue_empty(&s->outq))
        eio_socket_linger_end(s);
    }
    return;
  }
  if (s->state != EIO_STATE_OPEN || eio_socket_check_expired(s))
    return;
  if (polling)
    ok = s->transport == EIO_TRANSPORT_POLLING && !(s->cl && s->cl->proxy) &&
         (m->write || (!s->poll_conn && !eio_cluster_has_reader(s)));
  else
    ok = s->transport == EIO_TRANSPORT_POLLING && !s->upgrading &&
         !s->upgraded && !s->probe_conn;
  cl = ok && !(polling && m->write) ? cl_of(s) : NULL;
  if (ok && !(polling && m->write) && !cl)
    ok = 0;
  reply_lock(srv, m, ok);
  SIO_LOGD("session %s: node %.*s asks to %s it (%.*s): %s", s->sid,
           (int)m->sender.len, m->sender.s, m->write ? "write" : "read",
           (int)m->transport.len, m->transport.s, ok ? "granted" : "refused");
  if (!ok)
    return;
  srv->cl_stats.served++;
  if (polling && m->write)
    return;
  if (polling) {
    copy_id(cl->reader, m->sender);
    cl->proxy = 0;
    if (s->upgrading)
      drain_to_reader(s, "6");
    else
      eio_cluster_flush(s);
    return;
  }
  /* an upgrade through the sender: polls are released from now on */
  s->upgrading = 1;
  cl->remote_upgrade = 1;
  cl->upgrade_due = uv_now(srv->loop) + EIO_CL_UPGRADE_MS;
  sio_queue_insert_tail(&srv->cl_upgrades, &cl->upgrade_link);
  timer_schedule(srv, cl->upgrade_due);
  if (s->poll_conn)
    eio_polling_send_single(s, "6");
  eio_cluster_release_reader(s, "6");
}

static void end_remote_upgrade(eio_socket *s) {
  eio_cl_session *cl = s->cl;
  cl->remote_upgrade = 0;
  sio_queue_remove(&cl->upgrade_link);
  sio_queue_init(&cl->upgrade_link);
  s->upgrading = 0;
}

static void upgrade_asked(eio_server *srv, const eio_cm_msg *m) {
  eio_socket *s;
  eio_cl_session *cl;
  eio_cm_msg a;
  if (m->sid.len != 20)
    return;
  s = sio_map_get(&srv->sessions, m->sid.s, m->sid.len);
  if (!s || s->state != EIO_STATE_OPEN || !(cl = s->cl) ||
      !cl->remote_upgrade)
    return;
  end_remote_upgrade(s);
  if (!m->success) {
    eio_socket_flush(s);
    return;
  }
  memset(&a, 0, sizeof(a));
  a.type = EIO_CM_UPGRADE_RESPONSE;
  a.has_request_id = 1;
  a.request_id = m->request_id;
  a.recipient = m->sender;
  if (cl->delayed) {
    /* never seen by the layer above: it moves, with what it received */
    size_t n;
    eio_packet *ps = message_packets(&cl->held, &n);
    if (!ps) {
      eio_socket_close_now(s, "transport error");
      return;
    }
    a.take_over = 1;
    a.packets = ps;
    a.npackets = n;
    publish(srv, &a);
    sio_free(ps);
    srv->cl_stats.handed_over++;
    cl->handed_over = 1;
    cl->reader[0] = 0;
    eio_socket_close_now(s, "transport close");
    return;
  }
  copy_id(cl->reader, m->sender);
  cl->proxy = 1;
  s->upgraded = 1;
  publish(srv, &a);
  eio_socket_flush(s);
}

static const char *close_reason(eio_cm_str r) {
  static const char *const known[] = {"transport error", "transport close",
                                      "parse error"};
  size_t i;
  for (i = 0; i < sizeof(known) / sizeof(known[0]); i++)
    if (str_is(r, known[i]))
      return known[i];
  return "transport close";
}

static void close_asked(eio_server *srv, const eio_cm_msg *m) {
  eio_socket *s;
  if (m->sid.len != 20)
    return;
  s = sio_map_get(&srv->sessions, m->sid.s, m->sid.len);
  if (!s || s->state != EIO_STATE_OPEN)
    return;
  /* the reader that closed is gone: nothing more goes to it */
  if (s->cl && str_is(m->sender, s->cl->reader))
    s->cl->reader[0] = 0;
  eio_socket_close_now(s, close_reason(m->reason));
}

static void packet_came(eio_server *srv, const eio_cm_msg *m) {
  eio_socket *s;
  if (m->sid.len != 20 || m->npackets != 1)
    return;
  s = sio_map_get(&srv->sessions, m->sid.s, m->sid.len);
  if (!s || s->state != EIO_STATE_OPEN)
    return;
  if (m->packets[0].type == EIO_PACKET_ERROR) /* the sender could not */
    eio_socket_close_now(s, "parse error");  /* parse the client's POST */
  else if (m->packets[0].type == EIO_PACKET_MESSAGE && eio_cluster_held(s))
    eio_cluster_hold_message(s, &m->packets[0]);
  else
    eio_socket_on_packet(s, &m->packets[0]);
}

int eio_cluster_hold_open(eio_socket *s) {
  eio_server *srv = s->srv;
  eio_cl_session *cl;
  if (!srv->bus.publish || !srv->takeover_ms ||
      s->transport != EIO_TRANSPORT_POLLING ||
      !(srv->opts.transports & SIO_TRANSPORT_WEBSOCKET) || !(cl = cl_of(s)))
    return 0;
  cl->delayed = 1;
  cl->delay_due = uv_now(srv->loop) + srv->takeover_ms;
  sio_queue_insert_tail(&srv->cl_delayed, &cl->delay_link);
  timer_schedule(srv, cl->delay_due);
  return 1;
}

int eio_cluster_held(const eio_socket *s) { return s->cl && s->cl->delayed; }

void eio_cluster_hold_message(eio_socket *s, const eio_packet *p) {
  eio_cl_session *cl = s->cl;
  if (cl->held_bytes + p->len > s->srv->opts.max_buffered ||
      push_message(&cl->held, &cl->held_bytes, p)) {
    SIO_LOGW("session %s: input bound passed while held, closing", s->sid);
    eio_socket_close_now(s, "transport error");
  }
}

void eio_cluster_announce(eio_socket *s) {
  eio_cl_session *cl = s->cl;
  eio_server *srv = s->srv;
  if (!cl || !cl->delayed || s->state != EIO_STATE_OPEN)
    return;
  cl->delayed = 0;
  sio_queue_remove(&cl->delay_link);
  sio_queue_init(&cl->delay_link);
  if (srv->cbs.on_open)
    srv->cbs.on_open(s, srv->ud);
  while (s->cl && !sio_queue_empty(&cl->held) &&
         s->state == EIO_STATE_OPEN) {
    sio_queue *h = sio_queue_head(&cl->held);
    eio_outq_item *it = sio_container_of(h, eio_outq_item, q);
    sio_queue_remove(h);
    cl->held_bytes -= it->rc->len;
    if (srv->cbs.on_message)
      srv->cbs.on_message(s, (it->rc->flags & SIO_RCBUF_BINARY) != 0,
                          it->rc->data, it->rc->len, srv->ud);
    sio_rcbuf_unref(it->rc);
    sio_free(it);
  }
  /* nobody else reads or upgrades it: the record goes (an idle session
   * keeps only its pointer) */
  if (s->cl == cl && !cl->reader[0] && !cl->remote_upgrade &&
      sio_queue_empty(&cl->held) && s->state == EIO_STATE_OPEN)
    eio_cluster_session_free(s);
}

void eio_cluster_session_free(eio_socket *s) {
  eio_cl_session *cl = s->cl;
  if (!cl)
    return;
  s->cl = NULL;
  sio_queue_remove(&cl->delay_link);
  sio_queue_remove(&cl->upgrade_link);
  sio_defer_cancel(&cl->drain_defer);
  free_items(&cl->held);
  sio_free(cl);
}

/* ------------------------------------------------------------ dispatch */

static void cl_timer_cb(uv_timer_t *t) {
  eio_server *srv = t->data;
  uint64_t now = uv_now(srv->loop), next = 0;
  sio_queue *lists[2] = {&srv->cl_waits, &srv->cl_reads};
  size_t i;
  srv->cl_timer_due = 0;
  for (i = 0; i < 2; i++) {
    while (!sio_queue_empty(lists[i])) {
      eio_cl_remote *r =
          sio_container_of(sio_queue_head(lists[i]), eio_cl_remote, wait_link);
      if (r->due > now)
        break;
      sio_queue_remove(&r->wait_link);
      sio_queue_init(&r->wait_link);
      if (r->phase == CL_LOCKING) {
        answer_unknown(r);
      } else if (r->phase == CL_READING) {
        /* the owner sent nothing for a whole heartbeat: it is gone */
        answer_get_text(r, "1");
        continue;
      } else if (r->conn) {
        eio_ws_close(r->conn, 1011); /* no answer to the upgrade */
      }
      remote_free(r);
    }
  }
  while (!sio_queue_empty(&srv->cl_delayed)) {
    eio_cl_session *cl = sio_container_of(sio_queue_head(&srv->cl_delayed),
                                          eio_cl_session, delay_link);
    if (cl->delay_due > now)
      break;
    eio_cluster_announce(cl->s); /* no upgrade came for it elsewhere */
  }
  while (!sio_queue_empty(&srv->cl_upgrades)) {
    eio_cl_session *cl = sio_container_of(sio_queue_head(&srv->cl_upgrades),
                                          eio_cl_session, upgrade_link);
    if (cl->upgrade_due > now)
      break;
    end_remote_upgrade(cl->s); /* it never completed: back to polling */
    eio_socket_flush(cl->s);
  }
  for (i = 0; i < 2; i++)
    if (!sio_queue_empty(lists[i])) {
      eio_cl_remote *r =
          sio_container_of(sio_queue_head(lists[i]), eio_cl_remote, wait_link);
      if (!next || r->due < next)
        next = r->due;
    }
  if (!sio_queue_empty(&srv->cl_delayed)) {
    eio_cl_session *cl = sio_container_of(sio_queue_head(&srv->cl_delayed),
                                          eio_cl_session, delay_link);
    if (!next || cl->delay_due < next)
      next = cl->delay_due;
  }
  if (!sio_queue_empty(&srv->cl_upgrades)) {
    eio_cl_session *cl = sio_container_of(sio_queue_head(&srv->cl_upgrades),
                                          eio_cl_session, upgrade_link);
    if (!next || cl->upgrade_due < next)
      next = cl->upgrade_due;
  }
  if (next)
    timer_schedule(srv, next);
}

/* -------------------------------------------------------------- the bus */

int eio_server_set_bus(eio_server *srv, const eio_bus *bus,
                       uint32_t takeover_ms) {
  if (!srv->cl_timer.data) {
    uv_timer_init(srv->loop, &srv->cl_timer);
    srv->cl_timer.data = srv;
  }
  if (bus) {
    srv->bus = *bus;
  } else {
    memset(&srv->bus, 0, sizeof(srv->bus));
    /* requests in flight cannot be answered any more */
    while (!sio_queue_empty(&srv->cl_waits)) {
      eio_cl_remote *r = sio_container_of(sio_queue_head(&srv->cl_waits),
                                          eio_cl_remote, wait_link);
      if (r->phase == CL_LOCKING)
        answer_unknown(r);
      else if (r->conn)
        eio_ws_close(r->conn, 1011);
      remote_free(r);
    }
  }
  srv->takeover_ms = takeover_ms;
  return 0;
}

const char *eio_server_node_id(const eio_server *srv) { return srv->node_id; }

void eio_cluster_close(eio_server *srv) {
  sio_queue *lists[2] = {&srv->cl_waits, &srv->cl_reads};
  size_t i;
  for (i = 0; i < 2; i++)
    while (!sio_queue_empty(lists[i])) {
      eio_cl_remote *r = sio_container_of(sio_queue_head(lists[i]),
                                          eio_cl_remote, wait_link);
      if (r->phase == CL_READING && r->conn) {
        answer_get_text(r, "1"); /* frees r */
        continue;
      }
      if (r->phase == CL_LOCKING)
        answer_unknown(r);
      remote_free(r);
    }
  /* proxied WebSockets end with their connections */
  memset(&srv->bus, 0, sizeof(srv->bus));
}

void eio_server_bus_message(eio_server *srv, const uint8_t *msg, size_t len) {
  eio_cm_decoded d;
  const eio_cm_msg *m;
  eio_cl_remote *r = NULL;
  sio_queue *h;
  int rv = eio_cm_decode(&d, msg, len);
  if (rv) {
    if (rv != SIO_ERR_UNSUPPORTED)
      srv->cl_stats.bad_messages++;
    return;
  }
  m = &d.msg;
  if (str_is(m->sender, srv->node_id) || srv->closing ||
      (m->recipient.len && !str_is(m->recipient, srv->node_id)))
    goto out;
  switch (m->type) {
  case EIO_CM_ACQUIRE_LOCK:
    lock_asked(srv, m);
    break;
  case EIO_CM_ACQUIRE_LOCK_RESPONSE:
  case EIO_CM_UPGRADE_RESPONSE:
    for (h = srv->cl_waits.next; h != &srv->cl_waits; h = h->next) {
      eio_cl_remote *x = sio_container_of(h, eio_cl_remote, wait_link);
      if (m->has_request_id && x->request_id == m->request_id) {
        r = x;
        break;
      }
    }
    if (r && m->type == EIO_CM_ACQUIRE_LOCK_RESPONSE &&
        r->phase == CL_LOCKING)
      lock_answered(r, m);
    else if (r && m->type == EIO_CM_UPGRADE_RESPONSE &&
             r->phase == CL_UPGRADING)
      upgrade_answered(r, m);
    break;
  case EIO_CM_DRAIN:
    drained(srv, m);
    break;
  case EIO_CM_PACKET:
    packet_came(srv, m);
    break;
  case EIO_CM_UPGRADE:
    upgrade_asked(srv, m);
    break;
  case EIO_CM_CLOSE:
    close_asked(srv, m);
    break;
  }
out:
  eio_cm_decoded_free(&d);
}
