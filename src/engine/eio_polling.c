/* eio_polling.c: the HTTP long-polling transport (engine.io-protocol
 * README, "HTTP long-polling").
 *
 * GET: answered at once when packets are queued, else parked on its
 * connection until one is (eio_socket_send -> eio_polling_flush) or the
 * session closes ("1") or an upgrade releases it ("6"). A second GET while
 * one is parked is an error that closes the session, as in the reference.
 * POST: the body is a \x1e payload; each packet goes to the session; the
 * answer is "ok". A malformed body gets 400 and closes the session.
 * A session the server closed (lingering, see eio_socket.c) answers GETs
 * at once, with its queue or the orderly close, and ignores POSTs. */
#include <string.h>

#include "eio_int.h"
#include "eio_payload.h"
#include "sio_int.h"
#include "sio_log.h"
#include "sio_mem.h"

#define POLL_CTYPE "text/plain; charset=UTF-8"

static void unpark(eio_conn *c, eio_socket *s) {
  c->held = 0;
  c->sess = NULL;
  s->poll_conn = NULL;
  sio_free(c->held_hdrs);
  c->held_hdrs = NULL;
  if (!c->base.closing)
    eio_conn_resume_http(c);
}

static void answer(eio_socket *s, const void *body, size_t len) {
  eio_conn *c = s->poll_conn;
  eio_respond_raw(c, 200, c->held_hdrs, POLL_CTYPE, body, len, c->keep_alive);
  unpark(c, s);
}

void eio_polling_send_single(eio_socket *s, const char *pkt) {
  if (s->poll_conn)
    answer(s, pkt, strlen(pkt));
}

void eio_polling_flush(eio_socket *s) {
  sio_buf body;
  if (!s->poll_conn || sio_queue_empty(&s->outq))
    return;
  sio_buf_init(&body);
  if (eio_socket_take_payload(s, &body)) {
    sio_buf_deinit(&body);
    eio_socket_close_now(s, "transport error");
    return;
  }
  answer(s, body.data, body.len);
  sio_buf_deinit(&body);
}

/* A GET of a session the server closed: what was still queued, else the
 * reference's orderly close "6\x1e1", after which the sid is unknown. */
static void linger_get(eio_conn *c, eio_socket *s,
                       const sio_http_request *req) {
  sio_buf body;
  sio_buf_init(&body);
  if (sio_queue_empty(&s->outq) || eio_socket_take_payload(s, &body)) {
    eio_socket_linger_end(s);
    eio_respond(c, req, 200, POLL_CTYPE, "6\x1e" "1", 3, NULL);
  } else {
    eio_respond(c, req, 200, POLL_CTYPE, body.data, body.len, NULL);
  }
  sio_buf_deinit(&body);
}

static void handle_get(eio_conn *c, eio_socket *s, const sio_http_request *req,
                       int handshake) {
  sio_buf h;
  if (s->lingering) {
    linger_get(c, s, req);
    return;
  }
  if (s->poll_conn || eio_cluster_has_reader(s)) {
    SIO_LOGD("session %s: overlapping poll", s->sid);
    eio_respond_error(c, req, EIO_ERR_BAD_REQUEST);
    eio_socket_close_now(s, "transport error");
    return;
  }
  sio_buf_init(&h);
  if (eio_common_headers(c, req, &h) ||
      (handshake && s->srv->opts.cookie &&
       sio_buf_appendf(&h, "Set-Cookie: %s=%s; Path=/; HttpOnly; SameSite=Lax\r\n",
                       s->srv->opts.cookie, s->sid))) {
    sio_buf_deinit(&h);
    sio_conn_close(&c->base);
    return;
  }
  c->held_hdrs = sio_buf_steal(&h, NULL);
  c->held = 1;
  c->keep_alive = (uint8_t)req->keep_alive;
  c->sess = s;
  s->poll_conn = c;
  if (s->upgrading) /* the client is switching: release the poll at once */
    eio_polling_send_single(s, "6");
  else
    eio_polling_flush(s);
}

static int on_post_packet(const eio_packet *p, void *ud) {
  eio_socket *s = ud;
  eio_socket_on_packet(s, p);
  return s->state == EIO_STATE_OPEN ? 0 : 1;
}

/* Packets POSTed to a session the server closed are ignored, as the
 * reference does, except a close: the client has left, and nothing that
 * was waiting for its GET is wanted any more. */
static int on_linger_packet(const eio_packet *p, void *ud) {
  int *client_closed = ud;
  if (p->type != EIO_PACKET_CLOSE)
    return 0;
  *client_closed = 1;
  return 1;
}

static void linger_post(eio_conn *c, eio_socket *s,
                        const sio_http_request *req) {
  sio_buf scratch;
  int client_closed = 0, rv;
  sio_buf_init(&scratch);
  rv = eio_payload_decode(req->body, req->body_len, 0, &scratch,
                          on_linger_packet, &client_closed);
  sio_buf_deinit(&scratch);
  if (rv < 0)
    eio_respond_error(c, req, EIO_ERR_BAD_REQUEST);
  else
    eio_respond(c, req, 200, "text/html", "ok", 2, NULL);
  if (rv < 0 || client_closed)
    eio_socket_linger_end(s);
}

static void handle_post(eio_conn *c, eio_socket *s,
                        const sio_http_request *req) {
  sio_buf scratch;
  int rv;
  if (s->lingering) {
    linger_post(c, s, req);
    return;
  }
  sio_buf_init(&scratch);
  rv = eio_payload_decode(req->body, req->body_len, 0, &scratch,
                          on_post_packet, s);
  sio_buf_deinit(&scratch);
  if (rv < 0) {
    eio_respond_error(c, req, EIO_ERR_BAD_REQUEST);
    eio_socket_close_now(s, "parse error");
    return;
  }
  eio_respond(c, req, 200, "text/html", "ok", 2, NULL);
}

void eio_polling_handle(eio_conn *c, eio_socket *s,
                        const sio_http_request *req, int handshake) {
  if (req->method == HTTP_GET)
    handle_get(c, s, req, handshake);
  else if (req->method == HTTP_POST)
    handle_post(c, s, req);
  else
    eio_respond_error(c, req, EIO_ERR_BAD_REQUEST);
}
