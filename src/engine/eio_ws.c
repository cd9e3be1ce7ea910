/* eio_ws.c: the WebSocket transport (engine.io-protocol README,
 * "WebSocket"; RFC 6455).
 *
 * The opening handshake is answered here (Sec-WebSocket-Accept through
 * libcrypto's SHA-1). Incoming frames go through wslay's event API, which
 * enforces masking, reassembles fragments, bounds message size
 * (max_payload: close 1009) and answers pings and close frames. Outgoing
 * data frames bypass wslay: the 2-10 byte frame header is written once
 * into the headroom in front of the shared payload, so a broadcast is never
 * copied per recipient and each delivery is a single span; wslay's own control
 * frames (pong, close) reach the same connection queue in order through its
 * send callback.
 *
 * Input: most client messages arrive as whole, small, unfragmented frames.
 * Those are decoded here directly (unmasked into a scratch copy, checked as
 * wslay would check them) without a wslay context: wslay's context costs
 * about 9 KB (two 4 KB buffers) and a calloc, which per message was half of
 * the user-space cost of an echo, and kept on a quiet connection it is most
 * of the memory the connection holds (freed later, it leaves holes in the
 * heap that RSS still counts). Anything else - a frame cut by the end of a
 * read, a fragment, a control frame, a frame over max_payload, invalid
 * UTF-8, reserved bits, an unmasked frame - goes to a wslay context created
 * at that frame boundary, which produces the exact protocol behaviour (pong,
 * close codes 1002/1007/1009). A small tracker follows frame boundaries in
 * what wslay is given; as soon as its input ends between messages with
 * nothing left for it to write, the context is freed again. Since wslay
 * holds no state across message boundaries other than close status (after
 * which the connection is closing anyway), this is exact. */
#include <string.h>

#include "eio_int.h"
#include "sio_crypto.h"
#include "sio_int.h"
#include "sio_log.h"
#include "sio_mem.h"
#include "sio_util.h"

static const char ws_guid[] = "258EAFA5-E914-47DA-95CA-C5AB0DC85B11";

static int header_is(const sio_http_request *req, const char *name,
                     const char *want) {
  size_t len = 0;
  const char *v = sio_http_request_header(req, name, &len);
  return v && len == strlen(want) && strncasecmp(v, want, len) == 0;
}

int eio_ws_check(const sio_http_request *req) {
  size_t klen = 0;
  const char *key = sio_http_request_header(req, "sec-websocket-key", &klen);
  uint8_t raw[32];
  if (req->method != HTTP_GET || !header_is(req, "upgrade", "websocket"))
    return SIO_ERR_PROTO;
  if (!header_is(req, "sec-websocket-version", "13") &&
      !header_is(req, "sec-websocket-version", "8"))
    return SIO_ERR_PROTO;
  if (!key || klen != 24 || sio_base64_decode(raw, key, klen) != 16)
    return SIO_ERR_PROTO;
  return 0;
}

static ssize_t recv_cb(wslay_event_context_ptr ctx, uint8_t *buf, size_t len,
                       int flags, void *ud) {
  eio_conn *c = ud;
  size_t n = SIO_MIN(len, c->ws_in_len);
  (void)flags;
  if (!n) {
    wslay_event_set_error(ctx, WSLAY_ERR_WOULDBLOCK);
    return -1;
  }
  memcpy(buf, c->ws_in, n);
  c->ws_in += n;
  c->ws_in_len -= n;
  return (ssize_t)n;
}

static ssize_t send_cb(wslay_event_context_ptr ctx, const uint8_t *data,
                       size_t len, int flags, void *ud) {
  eio_conn *c = ud;
  (void)flags;
  if (sio_conn_write(&c->base, data, len)) {
    wslay_event_set_error(ctx, WSLAY_ERR_CALLBACK_FAILURE);
    return -1;
  }
  return (ssize_t)len;
}

/* One complete data message from the client (text or binary). */
static void deliver(eio_conn *c, int binary, const uint8_t *msg, size_t len) {
  eio_socket *s = c->sess;
  eio_packet p;
  if (c->remote) {
    eio_cluster_ws_message(c, binary, msg, len);
    return;
  }
  if (!s || s->state != EIO_STATE_OPEN)
    return;
  if (!binary) {
    if (eio_packet_decode_text(&p, msg, len)) {
      SIO_LOGD("session %s: bad packet on websocket", s->sid);
      if (c->ws_probing) {
        eio_socket_on_probe_packet(s, c, &(eio_packet){EIO_PACKET_NOOP, 0, NULL, 0});
        return;
      }
      eio_socket_close_now(s, "parse error");
      return;
    }
  } else {
    eio_packet_decode_binary(&p, msg, len);
  }
  if (c->ws_probing)
    eio_socket_on_probe_packet(s, c, &p);
  else
    eio_socket_on_packet(s, &p);
}

static void on_msg(wslay_event_context_ptr ctx,
                   const struct wslay_event_on_msg_recv_arg *arg, void *ud) {
  (void)ctx;
  if (arg->opcode != WSLAY_TEXT_FRAME && arg->opcode != WSLAY_BINARY_FRAME)
    return; /* ping/pong/close are handled by wslay */
  deliver(ud, arg->opcode == WSLAY_BINARY_FRAME, arg->msg, arg->msg_length);
}

static const struct wslay_event_callbacks ws_callbacks = {
    recv_cb, send_cb, NULL, NULL, NULL, NULL, on_msg};

/* Appends the 101 response head (without its final blank line). */
int eio_ws_write_101(sio_buf *out, const sio_http_request *req) {
  size_t klen = 0;
  const char *key = sio_http_request_header(req, "sec-websocket-key", &klen);
  uint8_t digest[20];
  char accept[29];
  sio_buf in;
  int rv;
  sio_buf_init(&in);
  rv = sio_buf_append(&in, key, klen);
  if (!rv)
    rv = sio_buf_append_str(&in, ws_guid);
  if (!rv) {
    sio_sha1(digest, in.data, in.len);
    sio_base64_encode(accept, digest, 20);
    accept[28] = 0;
    rv = sio_buf_appendf(out,
                         "HTTP/1.1 101 Switching Protocols\r\n"
                         "Upgrade: websocket\r\nConnection: Upgrade\r\n"
                         "Sec-WebSocket-Accept: %s\r\n",
                         accept);
  }
  sio_buf_deinit(&in);
  return rv;
}

void eio_ws_accept_and_close(eio_conn *c, const sio_http_request *req) {
  static const uint8_t close_frame[] = {0x88, 0x02, 0x03, 0xe8}; /* 1000 */
  sio_buf out;
  sio_buf_init(&out);
  if (eio_ws_write_101(&out, req) == 0 && sio_buf_append_str(&out, "\r\n") == 0 &&
      sio_buf_append(&out, close_frame, sizeof(close_frame)) == 0)
    sio_conn_write(&c->base, out.data, out.len);
  sio_buf_deinit(&out);
  c->mode = EIO_CONN_WS;
  sio_conn_close_after_flush(&c->base);
}

void eio_ws_accept(eio_conn *c, eio_socket *s, const sio_http_request *req,
                   const uint8_t *rest, size_t rest_len, int handshake) {
  eio_server *srv = c->srv;
  sio_buf out;
  int rv;

  sio_buf_init(&out);
  rv = eio_ws_write_101(&out, req);
  if (!rv && handshake && srv->opts.cookie)
    rv = sio_buf_appendf(&out,
                         "Set-Cookie: %s=%s; Path=/; HttpOnly; SameSite=Lax\r\n",
                         srv->opts.cookie, s->sid);
  if (!rv)
    rv = sio_buf_append_str(&out, "\r\n");
  if (!rv)
    rv = sio_conn_write(&c->base, out.data, out.len);
  sio_buf_deinit(&out);
  if (rv) {
    sio_conn_close(&c->base);
    if (handshake)
      eio_socket_close_now(s, "transport error");
    return;
  }
  c->mode = EIO_CONN_WS;
  c->ws_open = 1;
  c->sess = s;
  if (handshake) {
    sio_buf open;
    s->ws_conn = c;
    sio_buf_init(&open);
    if (eio_socket_open_packet(s, &open) == 0)
      eio_ws_send_text(c, open.data, open.len);
    sio_buf_deinit(&open);
    eio_socket_opened(s);
  } else {
    s->probe_conn = c;
    c->ws_probing = 1;
    c->started = uv_now(srv->loop);
  }
  if (rest_len && !c->base.closing)
    eio_ws_on_read(c, rest, rest_len);
}

/* Follows frame boundaries through data (RFC 6455 5.2). Returns 1 when the
 * input ends between messages. Malformed headers are left to wslay. */
static int track_frames(eio_conn *c, const uint8_t *p, size_t len) {
  while (len) {
    if (c->ws_frame_left) {
      size_t n = c->ws_frame_left < len ? (size_t)c->ws_frame_left : len;
      c->ws_frame_left -= n;
      p += n;
      len -= n;
      continue;
    }
    c->ws_hdr[c->ws_hdr_have++] = *p++;
    len--;
    if (c->ws_hdr_have >= 2) {
      uint8_t l7 = c->ws_hdr[1] & 0x7f, op = c->ws_hdr[0] & 0x0f;
      size_t need = 2 + (l7 == 126 ? 2 : l7 == 127 ? 8 : 0) +
                    ((c->ws_hdr[1] & 0x80) ? 4 : 0);
      uint64_t plen = l7;
      int i;
      if (c->ws_hdr_have < need)
        continue;
      if (l7 == 126)
        plen = (uint64_t)c->ws_hdr[2] << 8 | c->ws_hdr[3];
      else if (l7 == 127)
        for (plen = 0, i = 0; i < 8; i++)
          plen = plen << 8 | c->ws_hdr[2 + i];
      if (op < 8) /* data or continuation: control frames may interleave */
        c->ws_in_fragments = !(c->ws_hdr[0] & 0x80);
      c->ws_frame_left = plen;
      c->ws_hdr_have = 0;
    }
  }
  return !c->ws_frame_left && !c->ws_hdr_have && !c->ws_in_fragments;
}

/* 1 when p[0..n) is well-formed UTF-8 (RFC 3629: no overlong forms, no
 * surrogates, nothing past U+10FFFF), the check wslay makes on text
 * messages (close 1007 otherwise). ASCII is skipped 8 bytes at a time. */
static int utf8_valid(const uint8_t *p, size_t n) {
  size_t i = 0;
  while (i < n) {
    uint8_t b = p[i];
    if (b < 0x80) {
      uint64_t w;
      if (i + 8 <= n) {
        memcpy(&w, p + i, 8);
        if (!(w & 0x8080808080808080ull)) {
          i += 8;
          continue;
        }
      }
      i++;
    } else if (b >= 0xc2 && b <= 0xdf) {
      if (i + 1 >= n || (p[i + 1] & 0xc0) != 0x80)
        return 0;
      i += 2;
    } else if (b >= 0xe0 && b <= 0xef) {
      uint8_t lo = b == 0xe0 ? 0xa0 : 0x80, hi = b == 0xed ? 0x9f : 0xbf;
      if (i + 2 >= n || p[i + 1] < lo || p[i + 1] > hi ||
          (p[i + 2] & 0xc0) != 0x80)
        return 0;
      i += 3;
    } else if (b >= 0xf0 && b <= 0xf4) {
      uint8_t lo = b == 0xf0 ? 0x90 : 0x80, hi = b == 0xf4 ? 0x8f : 0xbf;
      if (i + 3 >= n || p[i + 1] < lo || p[i + 1] > hi ||
          (p[i + 2] & 0xc0) != 0x80 || (p[i + 3] & 0xc0) != 0x80)
        return 0;
      i += 4;
    } else {
      return 0;
    }
  }
  return 1;
}

#define EIO_WS_STACK_MSG 2048

/* Decodes the whole, simple data frames at the start of data and delivers
 * them; returns the bytes consumed. It stops at the first frame it does not
 * take (see the file comment), which is then wslay's, or when a delivery
 * closed the connection. Returns SIZE_MAX when out of memory. */
static size_t fast_frames(eio_conn *c, const uint8_t *data, size_t len) {
  size_t used = 0;
  while (len - used >= 6 && !c->base.closing && !c->base.shutdown_after_flush) {
    const uint8_t *p = data + used;
    size_t avail = len - used, hl = 6, n, i;
    uint8_t stackbuf[EIO_WS_STACK_MSG], *msg = stackbuf, mask[4];
    int binary;
    /* FIN set, no RSV bits, text or binary; masked (RFC 6455 5.1) */
    if ((p[0] & 0xf0) != 0x80 ||
        ((p[0] & 0x0f) != 0x1 && (p[0] & 0x0f) != 0x2) || !(p[1] & 0x80))
      break;
    binary = (p[0] & 0x0f) == 0x2;
    n = p[1] & 0x7f;
    if (n == 127)
      break; /* 64 KB and more: rare, wslay's */
    if (n == 126) {
      if (avail < 8)
        break;
      n = (size_t)p[2] << 8 | p[3];
      if (n < 126)
        break; /* not the minimal length encoding: wslay refuses it */
      hl = 8;
    }
    if (n > c->srv->opts.max_payload || avail - hl < n)
      break;
    if (n > sizeof(stackbuf)) {
      msg = sio_malloc(n);
      if (!msg)
        return SIZE_MAX;
    }
    memcpy(mask, p + hl - 4, 4);
    for (i = 0; i < n; i++)
      msg[i] = p[hl + i] ^ mask[i & 3];
    if (!binary && !utf8_valid(msg, n)) {
      if (msg != stackbuf)
        sio_free(msg);
      break; /* wslay closes with 1007 */
    }
    used += hl + n;
    deliver(c, binary, msg, n);
    if (msg != stackbuf)
      sio_free(msg);
  }
  return used;
}

void eio_ws_on_read(eio_conn *c, const uint8_t *data, size_t len) {
  int rv, boundary;
  if (!c->ws_open)
    return;
  if (!c->ws) {
    size_t used = fast_frames(c, data, len);
    if (used == SIZE_MAX) {
      sio_conn_close(&c->base);
      return;
    }
    if (used == len || c->base.closing || c->base.shutdown_after_flush)
      return;
    data += used;
    len -= used;
    /* at a frame boundary: the tracker starts clean */
    if (wslay_event_context_server_init(&c->ws, &ws_callbacks, c) != 0) {
      c->ws = NULL;
      sio_conn_close(&c->base);
      return;
    }
    wslay_event_config_set_max_recv_msg_length(c->ws,
                                                c->srv->opts.max_payload);
    c->srv->ws_parsers++;
  }
  boundary = track_frames(c, data, len);
  c->ws_in = data;
  c->ws_in_len = len;
  rv = wslay_event_recv(c->ws);
  c->ws_in = NULL;
  c->ws_in_len = 0;
  if (c->base.closing || !c->ws)
    return;
  if (rv == 0)
    rv = wslay_event_send(c->ws);
  if (rv != 0) {
    /* Protocol violation (unmasked frame, bad opcode...): 1002. */
    eio_socket *s = c->sess;
    c->sess = NULL;
    if (s) {
      if (s->ws_conn == c)
        s->ws_conn = NULL;
      if (s->probe_conn == c) {
        s->probe_conn = NULL;
        s->upgrading = 0;
      } else {
        eio_socket_close_now(s, "transport error");
      }
    }
    eio_ws_close(c, 1002);
    return;
  }
  if (!wslay_event_get_read_enabled(c->ws)) {
    /* The peer sent close (or passed max_payload: wslay queued 1009). */
    eio_socket *s = c->sess;
    if (wslay_event_get_status_code_sent(c->ws) == WSLAY_CODE_MESSAGE_TOO_BIG)
      c->srv->over_max_payload++;
    c->sess = NULL;
    if (s) {
      if (s->ws_conn == c) {
        s->ws_conn = NULL;
        eio_socket_close_now(s, "transport close");
      } else if (s->probe_conn == c) {
        s->probe_conn = NULL;
        s->upgrading = 0;
      }
    }
    sio_conn_close_after_flush(&c->base);
    return;
  }
  c->ws_at_boundary = (uint8_t)boundary;
  /* Between messages again: the next whole frames take the fast path. */
  eio_ws_release_idle(c);
}

int eio_ws_release_idle(eio_conn *c) {
  if (!c->ws || !c->ws_at_boundary || wslay_event_want_write(c->ws) ||
      wslay_event_get_close_sent(c->ws))
    return 0;
  eio_ws_free(c);
  return 1;
}

static int frame_header(uint8_t *h, int binary, size_t len) {
  h[0] = (uint8_t)(0x80 | (binary ? 0x2 : 0x1));
  if (len < 126) {
    h[1] = (uint8_t)len;
    return 2;
  }
  if (len <= 0xffff) {
    h[1] = 126;
    h[2] = (uint8_t)(len >> 8);
    h[3] = (uint8_t)len;
    return 4;
  }
  h[1] = 127;
  for (int i = 0; i < 8; i++)
    h[2 + i] = (uint8_t)((uint64_t)len >> (56 - 8 * i));
  return 10;
}

void eio_frame_ahead(sio_rcbuf *rc) {
  if (!rc->hlen) {
    uint8_t h[10];
    int hl = frame_header(h, (rc->flags & SIO_RCBUF_BINARY) != 0, rc->len);
    memcpy(rc->head + SIO_RCBUF_HEADROOM - hl, h, (size_t)hl);
    rc->hlen = (uint8_t)hl;
  }
}

int eio_ws_send(eio_conn *c, sio_rcbuf *rc) {
  /* The frame header depends only on the message, so it is written once
   * into the buffer's headroom, by whichever recipient comes first; every
   * delivery is then one span, header and payload (one iovec), and a
   * polling recipient of the same buffer still reads the bare message. */
  eio_frame_ahead(rc);
  return sio_conn_write_ref(&c->base, rc,
                            rc->head + SIO_RCBUF_HEADROOM - rc->hlen,
                            rc->hlen + rc->len);
}

int eio_ws_send_text(eio_conn *c, const char *text, size_t len) {
  uint8_t h[10];
  int hl = frame_header(h, 0, len), rv;
  rv = sio_conn_write(&c->base, h, (size_t)hl);
  if (!rv)
    rv = sio_conn_write(&c->base, text, len);
  return rv;
}

void eio_ws_close(eio_conn *c, uint16_t code) {
  if (c->base.closing)
    return;
  if (c->ws) {
    if (wslay_event_get_close_sent(c->ws) == 0) {
      wslay_event_queue_close(c->ws, code, NULL, 0);
      wslay_event_send(c->ws);
    }
  } else if (c->ws_open) {
    uint8_t f[4] = {0x88, 0x02, (uint8_t)(code >> 8), (uint8_t)code};
    sio_conn_write(&c->base, f, sizeof(f));
  }
  sio_conn_close_after_flush(&c->base);
}

void eio_ws_free(eio_conn *c) {
  if (c->ws) {
    wslay_event_context_free(c->ws);
    c->ws = NULL;
    c->srv->ws_parsers--;
  }
}
