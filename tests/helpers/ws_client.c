/* ws_client.c: the smallest WebSocket client that drives the server in
 * loopback tests (RFC 6455 sections 4.1 and 5.2: an upgrade request, then
 * masked frames out and unmasked frames in). States: connecting ->
 * handshaking -> open -> closed; the test reads messages through blocking
 * helpers that run the loop with a deadline. Test code: plain malloc. */
#include "ws_client.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

typedef struct wreq {
  uv_write_t req;
  uv_buf_t buf;
  char data[];
} wreq;

static void on_write(uv_write_t *req, int status) {
  (void)status;
  free(req);
}

static int write_raw(ws_client *c, const void *p, size_t n) {
  wreq *w;
  if (c->closed)
    return -1;
  w = malloc(sizeof(*w) + n);
  if (!w)
    return -1;
  memcpy(w->data, p, n);
  w->buf = uv_buf_init(w->data, (unsigned)n);
  if (uv_write(&w->req, (uv_stream_t *)&c->tcp, &w->buf, 1, on_write)) {
    free(w);
    return -1;
  }
  return 0;
}

static int send_frame(ws_client *c, int opcode, const void *data, size_t len) {
  uint8_t *f = malloc(len + 14);
  const uint8_t *p = data;
  uint8_t mask[4] = {0x12, 0x34, 0x56, 0x78};
  size_t h = 0, i;
  int rv;
  if (!f)
    return -1;
  f[h++] = (uint8_t)(0x80 | opcode);
  if (len < 126) {
    f[h++] = (uint8_t)(0x80 | len);
  } else if (len < 65536) {
    f[h++] = 0x80 | 126;
    f[h++] = (uint8_t)(len >> 8);
    f[h++] = (uint8_t)len;
  } else {
    f[h++] = 0x80 | 127;
    for (i = 0; i < 8; i++)
      f[h++] = (uint8_t)((uint64_t)len >> (56 - 8 * i));
  }
  memcpy(f + h, mask, 4);
  h += 4;
  for (i = 0; i < len; i++)
    f[h + i] = p[i] ^ mask[i & 3];
  rv = write_raw(c, f, h + len);
  free(f);
  return rv;
}

int ws_client_send(ws_client *c, int binary, const void *data, size_t len) {
  return send_frame(c, binary ? 2 : 1, data, len);
}

int ws_client_send_text(ws_client *c, const char *text) {
  return send_frame(c, 1, text, strlen(text));
}

static void push_msg(ws_client *c, int binary, const uint8_t *p, size_t n) {
  ws_msg *m;
  if (!binary && c->auto_pong && n == 1 && p[0] == '2') {
    ws_client_send_text(c, "3");
    return;
  }
  if (c->nmsgs == c->cap) {
    c->cap = c->cap ? c->cap * 2 : 8;
    c->msgs = realloc(c->msgs, c->cap * sizeof(*c->msgs));
  }
  m = &c->msgs[c->nmsgs++];
  m->binary = binary;
  m->len = n;
  m->data = malloc(n + 1);
  memcpy(m->data, p, n);
  m->data[n] = 0;
}

static void parse(ws_client *c) {
  size_t off = 0;
  if (!c->open) {
    char *end;
    if (c->inlen < 4)
      return;
    c->in[c->inlen] = 0;
    end = strstr(c->in, "\r\n\r\n");
    if (!end)
      return;
    if (strncmp(c->in, "HTTP/1.1 101", 12) != 0) {
      c->failed = 1;
      c->closed = 1;
      return;
    }
    c->open = 1;
    off = (size_t)(end - c->in) + 4;
  }
  for (;;) {
    const uint8_t *b = (const uint8_t *)c->in + off;
    size_t avail = c->inlen - off, hdr = 2, len, i;
    int op;
    if (avail < 2)
      break;
    op = b[0] & 0x0f;
    len = b[1] & 0x7f;
    if (len == 126) {
      if (avail < 4)
        break;
      len = ((size_t)b[2] << 8) | b[3];
      hdr = 4;
    } else if (len == 127) {
      if (avail < 10)
        break;
      len = 0;
      for (i = 0; i < 8; i++)
        len = (len << 8) | b[2 + i];
      hdr = 10;
    }
    if (b[1] & 0x80)
      hdr += 4; /* servers do not mask; skip the key if one did */
    if (avail < hdr + len)
      break;
    switch (op) {
    case 1:
    case 2:
      push_msg(c, op == 2, b + hdr, len);
      break;
    case 8:
      c->closed = 1;
      break;
    case 9:
      send_frame(c, 10, b + hdr, len);
      break;
    default:
      break;
    }
    off += hdr + len;
  }
  memmove(c->in, c->in + off, c->inlen - off);
  c->inlen -= off;
}

static void on_alloc(uv_handle_t *h, size_t hint, uv_buf_t *buf) {
  ws_client *c = h->data;
  (void)hint;
  if (c->incap - c->inlen < 65536 + 1) {
    c->incap = c->inlen + 65536 + 1;
    c->in = realloc(c->in, c->incap);
  }
  *buf = uv_buf_init(c->in + c->inlen, 65536);
}

static void on_read(uv_stream_t *s, ssize_t n, const uv_buf_t *buf) {
  ws_client *c = s->data;
  (void)buf;
  if (n < 0) {
    c->closed = 1;
    uv_read_stop(s);
    return;
  }
  c->inlen += (size_t)n;
  parse(c);
}

static void on_connect(uv_connect_t *req, int status) {
  ws_client *c = req->data;
  if (status < 0) {
    c->failed = 1;
    c->closed = 1;
    return;
  }
  uv_read_start((uv_stream_t *)&c->tcp, on_alloc, on_read);
  write_raw(c, c->in, c->inlen); /* the request, staged in `in` */
  c->inlen = 0;
}

static void on_timeout(uv_timer_t *t) {
  ws_client *c = t->data;
  c->timed_out = 1;
}

static int run_until(ws_client *c, int (*cond)(const ws_client *),
                     uint32_t ms) {
  c->timed_out = 0;
  uv_timer_start(&c->timer, on_timeout, ms, 0);
  while (!cond(c) && !c->timed_out)
    uv_run(c->loop, UV_RUN_ONCE);
  uv_timer_stop(&c->timer);
  return cond(c);
}

static int is_open_or_done(const ws_client *c) { return c->open || c->closed; }

int ws_client_open(ws_client *c, uv_loop_t *loop, int port, const char *path) {
  struct sockaddr_in addr;
  int n;
  memset(c, 0, sizeof(*c));
  c->loop = loop;
  c->auto_pong = 1;
  uv_tcp_init(loop, &c->tcp);
  uv_timer_init(loop, &c->timer);
  c->handles = 2;
  c->tcp.data = c;
  c->timer.data = c;
  c->creq.data = c;
  c->incap = 1024;
  c->in = malloc(c->incap);
  n = snprintf(c->in, c->incap,
               "GET %s HTTP/1.1\r\nHost: 127.0.0.1:%d\r\n"
               "Upgrade: websocket\r\nConnection: Upgrade\r\n"
               "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n"
               "Sec-WebSocket-Version: 13\r\n\r\n",
               path, port);
  c->inlen = (size_t)n;
  uv_ip4_addr("127.0.0.1", port, &addr);
  if (uv_tcp_connect(&c->creq, &c->tcp, (const struct sockaddr *)&addr,
                     on_connect))
    return -1;
  run_until(c, is_open_or_done, 2000);
  return c->open && !c->failed ? 0 : -1;
}

static int has_msg_or_closed(const ws_client *c) {
  return c->head < c->nmsgs || c->closed;
}

const ws_msg *ws_client_recv(ws_client *c, uint32_t timeout_ms) {
  free(c->last.data);
  c->last.data = NULL;
  run_until(c, has_msg_or_closed, timeout_ms);
  if (c->head >= c->nmsgs)
    return NULL;
  c->last = c->msgs[c->head++];
  if (c->head == c->nmsgs)
    c->head = c->nmsgs = 0;
  return &c->last;
}

int ws_client_expect(ws_client *c, const char *expect, uint32_t timeout_ms) {
  const ws_msg *m = ws_client_recv(c, timeout_ms);
  if (m && !m->binary && strcmp(m->data, expect) == 0)
    return 1;
  fprintf(stderr, "ws_client: expected '%s', got %s'%s'\n", expect,
          m ? (m->binary ? "binary " : "") : "nothing ", m ? m->data : "");
  return 0;
}

static int is_closed(const ws_client *c) { return c->closed; }

int ws_client_wait_closed(ws_client *c, uint32_t timeout_ms) {
  return run_until(c, is_closed, timeout_ms);
}

static int never(const ws_client *c) {
  (void)c;
  return 0;
}

void ws_client_pump(ws_client *c, uint32_t ms) { run_until(c, never, ms); }

static void on_handle_closed(uv_handle_t *h) {
  ws_client *c = h->data;
  c->handles--;
}

void ws_client_close(ws_client *c) {
  size_t i;
  if (!uv_is_closing((uv_handle_t *)&c->tcp))
    uv_close((uv_handle_t *)&c->tcp, on_handle_closed);
  if (!uv_is_closing((uv_handle_t *)&c->timer))
    uv_close((uv_handle_t *)&c->timer, on_handle_closed);
  for (i = c->head; i < c->nmsgs; i++)
    free(c->msgs[i].data);
  free(c->msgs);
  c->msgs = NULL;
  c->nmsgs = c->head = c->cap = 0;
  free(c->last.data);
  c->last.data = NULL;
  free(c->in);
  c->in = NULL;
  c->inlen = c->incap = 0;
  c->closed = 1;
}
