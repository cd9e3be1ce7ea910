/* rawclient.c: blocking loopback client for loop-level tests. */
#include "rawclient.h"

#include <check.h>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <unistd.h>

#define RC_TIMEOUT_MS 5000

int rc_connect(int port) {
  struct sockaddr_in a;
  int fd = socket(AF_INET, SOCK_STREAM, 0), one = 1;
  if (fd < 0)
    return -1;
  memset(&a, 0, sizeof(a));
  a.sin_family = AF_INET;
  a.sin_port = htons((uint16_t)port);
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  if (connect(fd, (struct sockaddr *)&a, sizeof(a))) {
    close(fd);
    return -1;
  }
  setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
  return fd;
}

void rc_close(int fd) {
  if (fd >= 0)
    close(fd);
}

int rc_send(int fd, const void *p, size_t n) {
  const char *c = p;
  while (n) {
    ssize_t w = send(fd, c, n, MSG_NOSIGNAL);
    if (w <= 0)
      return -1;
    c += w;
    n -= (size_t)w;
  }
  return 0;
}

/* Reads exactly n bytes; 0 on success, -1 on EOF, error or timeout. */
static int read_n(int fd, void *p, size_t n) {
  char *c = p;
  while (n) {
    struct pollfd pfd = {fd, POLLIN, 0};
    ssize_t r;
    if (poll(&pfd, 1, RC_TIMEOUT_MS) <= 0)
      return -1;
    r = recv(fd, c, n, 0);
    if (r <= 0)
      return -1;
    c += r;
    n -= (size_t)r;
  }
  return 0;
}

const char *rc_header(const rc_response *r, const char *name, char *out,
                      size_t cap) {
  const char *p = r->head;
  size_t nl = strlen(name);
  while ((p = strstr(p, "\r\n")) != NULL) {
    p += 2;
    if (strncasecmp(p, name, nl) == 0 && p[nl] == ':') {
      const char *v = p + nl + 1, *e;
      size_t len;
      while (*v == ' ')
        v++;
      e = strstr(v, "\r\n");
      len = e ? (size_t)(e - v) : strlen(v);
      if (len >= cap)
        len = cap - 1;
      memcpy(out, v, len);
      out[len] = 0;
      return out;
    }
  }
  return NULL;
}

int rc_read_response(int fd, rc_response *r) {
  size_t n = 0;
  char cl[32];
  memset(r, 0, sizeof(*r));
  /* head, one byte at a time: simple, and never reads past it */
  while (n + 1 < sizeof(r->head)) {
    if (read_n(fd, r->head + n, 1))
      return 0;
    n++;
    if (n >= 4 && memcmp(r->head + n - 4, "\r\n\r\n", 4) == 0)
      break;
  }
  r->head[n] = 0;
  if (sscanf(r->head, "HTTP/1.1 %d", &r->status) != 1)
    return r->status = 0;
  if (rc_header(r, "content-length", cl, sizeof(cl))) {
    r->body_len = (size_t)atol(cl);
    if (r->body_len >= sizeof(r->body) ||
        read_n(fd, r->body, r->body_len))
      return r->status = 0;
  }
  r->body[r->body_len] = 0;
  return r->status;
}

int rc_request(int fd, const char *method, const char *target,
               const char *extra_headers, const char *body, size_t body_len,
               rc_response *r) {
  char head[2048];
  int n = snprintf(head, sizeof(head),
                   "%s %s HTTP/1.1\r\nHost: 127.0.0.1\r\n%s"
                   "Content-Length: %zu\r\n\r\n",
                   method, target, extra_headers ? extra_headers : "",
                   body_len);
  if (rc_send(fd, head, (size_t)n) || (body_len && rc_send(fd, body, body_len)))
    return 0;
  return rc_read_response(fd, r);
}

int rc_fetch(int port, const char *method, const char *target,
             const char *body, rc_response *r) {
  int fd = rc_connect(port), st;
  if (fd < 0)
    return 0;
  st = rc_request(fd, method, target, NULL, body, body ? strlen(body) : 0, r);
  rc_close(fd);
  return st;
}

int rc_ws_open(int port, const char *target) {
  char req[1024];
  rc_response r;
  int fd = rc_connect(port);
  if (fd < 0)
    return -1;
  snprintf(req, sizeof(req),
           "GET %s HTTP/1.1\r\nHost: 127.0.0.1\r\nUpgrade: websocket\r\n"
           "Connection: Upgrade\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n"
           "Sec-WebSocket-Version: 13\r\n\r\n",
           target);
  if (rc_send(fd, req, strlen(req)) || rc_read_response(fd, &r) != 101) {
    close(fd);
    return -1;
  }
  return fd;
}

int rc_ws_send(int fd, int opcode, const void *p, size_t n) {
  return rc_ws_send_frame(fd, 1, opcode, p, n);
}

int rc_ws_send_frame(int fd, int fin, int opcode, const void *p, size_t n) {
  uint8_t h[14], mask[4] = {0x12, 0x34, 0x56, 0x78}, *m;
  size_t hl, i;
  int rv;
  h[0] = (uint8_t)((fin ? 0x80 : 0) | opcode);
  if (n < 126) {
    h[1] = (uint8_t)(0x80 | n);
    hl = 2;
  } else if (n <= 0xffff) {
    h[1] = 0x80 | 126;
    h[2] = (uint8_t)(n >> 8);
    h[3] = (uint8_t)n;
    hl = 4;
  } else {
    h[1] = 0x80 | 127;
    for (i = 0; i < 8; i++)
      h[2 + i] = (uint8_t)((uint64_t)n >> (56 - 8 * i));
    hl = 10;
  }
  memcpy(h + hl, mask, 4);
  hl += 4;
  m = malloc(n ? n : 1);
  for (i = 0; i < n; i++)
    m[i] = ((const uint8_t *)p)[i] ^ mask[i % 4];
  rv = rc_send(fd, h, hl) || rc_send(fd, m, n) ? -1 : 0;
  free(m);
  return rv;
}

int rc_ws_recv(int fd, uint8_t *buf, size_t cap, size_t *len) {
  uint8_t h[2], ext[8];
  uint64_t n;
  int i;
  if (read_n(fd, h, 2))
    return -1;
  n = h[1] & 0x7f;
  if (n == 126) {
    if (read_n(fd, ext, 2))
      return -1;
    n = (uint64_t)ext[0] << 8 | ext[1];
  } else if (n == 127) {
    if (read_n(fd, ext, 8))
      return -1;
    for (n = 0, i = 0; i < 8; i++)
      n = n << 8 | ext[i];
  }
  if (n >= cap || read_n(fd, buf, (size_t)n))
    return -1;
  buf[n] = 0;
  *len = (size_t)n;
  return h[0] & 0x0f;
}

int rc_ws_recv_skip_pings(int fd, uint8_t *buf, size_t cap, size_t *len,
                          int pong) {
  for (;;) {
    int op = rc_ws_recv(fd, buf, cap, len);
    if (op == 1 && *len == 1 && buf[0] == '2') {
      if (pong)
        rc_ws_send(fd, 1, "3", 1);
      continue;
    }
    return op;
  }
}

int rc_wait_eof(int fd, int timeout_ms) {
  char b[4096];
  for (;;) {
    struct pollfd pfd = {fd, POLLIN, 0};
    ssize_t r;
    if (poll(&pfd, 1, timeout_ms) <= 0)
      return 0;
    r = recv(fd, b, sizeof(b), 0);
    if (r <= 0)
      return 1;
  }
}

typedef struct rc_job {
  void (*fn)(void *ud);
  void (*done)(void *ud);
  void *ud;
  uv_async_t async;
} rc_job;

static void *thread_main(void *p) {
  rc_job *j = p;
  j->fn(j->ud);
  uv_async_send(&j->async);
  return NULL;
}

static void async_cb(uv_async_t *a) {
  rc_job *j = a->data;
  uv_close((uv_handle_t *)a, NULL);
  j->done(j->ud);
}

void rc_run(uv_loop_t *loop, void (*fn)(void *ud), void (*done)(void *ud),
            void *ud) {
  rc_job j;
  pthread_t t;
  j.fn = fn;
  j.done = done;
  j.ud = ud;
  uv_async_init(loop, &j.async, async_cb);
  j.async.data = &j;
  pthread_create(&t, NULL, thread_main, &j);
  uv_run(loop, UV_RUN_DEFAULT);
  pthread_join(t, NULL);
}

void rc_eio_handshake(int port, char sid[32], char u[128]) {
  rc_response r;
  const char *p;
  ck_assert_int_eq(
      rc_fetch(port, "GET", "/engine.io/?EIO=4&transport=polling", NULL, &r),
      200);
  p = strstr(r.body, "\"sid\":\"");
  ck_assert_ptr_nonnull(p);
  memcpy(sid, p + 7, 20);
  sid[20] = 0;
  sprintf(u, "/engine.io/?EIO=4&transport=polling&sid=%s", sid);
}
