/* bench_client.c: one sio-bench worker process and its Socket.IO clients.
 *
 * Each client speaks Engine.IO v4 / Socket.IO v5 by hand, as the stock
 * socket.io-client would on the wire but with none of its per-message work:
 *
 *   WebSocket: GET /socket.io/?EIO=4&transport=websocket (upgrade), then
 *     RFC 6455 frames, masked from client to server with a fresh key each.
 *     Server "0{...}" (open) -> client "40"; server "40{...}" -> ready.
 *   Polling: GET ...&transport=polling (handshake, body "0{...sid...}"),
 *     then a second TCP connection carries the POSTs ("40", events, pongs;
 *     one POST in flight, packets joined by \x1e as the spec asks) while
 *     the first keeps one GET parked.
 *
 * With --auth the CONNECT packet carries that payload ("40{...}"), as
 * socket.io-client's `auth` option sends it.
 *
 * Server pings ("2") are answered ("3") in every mode. An event's payload
 * carries its send time "t" (ns since the run's origin, CLOCK_MONOTONIC,
 * which every process on the host shares) so receivers in any worker
 * compute the delivery latency without a round trip.
 *
 * Input is parsed straight from one per-process read buffer; only a frame
 * or response cut by the end of a read is copied into the connection's own
 * buffer. Output goes out with uv_try_write and only what the kernel did not
 * take is copied into a uv_write request, so the client's cost per message
 * stays near one syscall and the benchmark measures the server.
 *
 * With --publisher, worker 0 does not emit the broadcasts itself: it spawns
 * the command with a pipe on its stdin and writes it one line per
 * broadcast, "SEQ T PAD" (sequence number, send time as in "t", padding
 * bytes); the command publishes each one, e.g. with @socket.io/redis-emitter,
 * and the clients count the resulting event (--event) as they count
 * "bcast". */
#define _GNU_SOURCE /* memmem */
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>
#include <uv.h>

#include "bench.h"

#ifndef IP_BIND_ADDRESS_NO_PORT
#define IP_BIND_ADDRESS_NO_PORT 24
#endif

#define MAX_FRAME (64u << 20)
#define MAX_HEAD 65536

enum { LINK_WS, LINK_GET, LINK_POST };
/* L_NONE: no handle. L_CONNECTING: handle open, TCP connecting. L_HTTP:
 * connected, reading HTTP responses. L_WS: reading WebSocket frames. */
enum { L_NONE, L_CONNECTING, L_HTTP, L_WS };
enum { CL_NEW, CL_SETUP, CL_READY, CL_DEAD };

typedef struct worker worker;
typedef struct client client;

typedef struct blink {
  uv_tcp_t tcp;
  uv_connect_t creq;
  client *cl;
  uint8_t role;
  uint8_t state;
  uint8_t frag_op;
  char *in; /* bytes of an incomplete frame or response */
  size_t in_len, in_cap;
  char *frag; /* a fragmented WebSocket message being reassembled */
  size_t frag_len, frag_cap;
} blink;

struct client {
  worker *w;
  uint32_t gidx;
  uint8_t state;
  uint8_t post_busy;
  blink main; /* the WebSocket, or the polling GET connection */
  blink *post;
  char sid[64];
  char *pend; /* polling: packets waiting for the next POST */
  size_t pend_len, pend_cap;
  uint64_t t_start;
  uint64_t next_ack;
  uint64_t *tsent; /* echo: send time by ack id modulo inflight */
};

struct worker {
  uv_loop_t loop;
  const bench_opts *o;
  bench_shared *sh;
  bench_wstat *st;
  int id;
  client *cl;
  uint32_t n, next, active, conc, ready, settled;
  uint32_t nslots, local_total;
  uint32_t *lcount; /* fanout: deliveries of each broadcast here */
  uint64_t *lmax;   /* fanout: latest delivery time of each here */
  uint64_t *tsent;
  uv_pipe_t wake;
  uv_timer_t watchdog;
  pid_t parent;
  int phase, stopping, window_done;
  uint64_t cpu_a, t_a;
  char *pad;
  struct sockaddr_in dst[BENCH_MAX_SERVERS]; /* client i: dst[i % nports] */
  struct sockaddr_in src[BENCH_MAX_SRC];
  char hostport[BENCH_MAX_SERVERS][96];
  uint64_t rng;
  char evpfx[80]; /* ["<event>", : how a counted broadcast starts */
  size_t evpfx_len;
  /* --publisher (worker 0): the command, its stdin and stdout. */
  uv_process_t pub;
  uv_pipe_t pub_in, pub_out;
  uv_timer_t pub_kill;
  int pub_state; /* PUB_NONE .. PUB_EXITED */
  char pub_line[64];
  size_t pub_line_len;
  char rbuf[1 << 16];
  char wbuf[64];
};

enum { PUB_NONE, PUB_STARTING, PUB_READY, PUB_EXITED };

static worker W;

typedef struct wreq {
  uv_write_t req;
  blink *l;
  uv_buf_t buf;
} wreq;

static void client_fail(client *c, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));
static void on_eio(client *c, char *p, size_t len);
static void stop_all(worker *w);

/* ------------------------------------------------------------ helpers */

static void note_error(worker *w, const char *msg) {
  if (!w->st->err[0])
    snprintf(w->st->err, sizeof(w->st->err), "%s", msg);
}

static uint32_t rng32(worker *w) {
  /* xorshift64: masks only need to vary, not to be secret. */
  w->rng ^= w->rng << 13;
  w->rng ^= w->rng >> 7;
  w->rng ^= w->rng << 17;
  return (uint32_t)w->rng;
}

static void atomic_max_u64(_Atomic uint64_t *a, uint64_t v) {
  uint64_t cur = atomic_load(a);
  while (cur < v && !atomic_compare_exchange_weak(a, &cur, v))
    ;
}

static void atomic_min_u64(_Atomic uint64_t *a, uint64_t v) {
  uint64_t cur = atomic_load(a);
  while ((cur == 0 || cur > v) && !atomic_compare_exchange_weak(a, &cur, v))
    ;
}

static int buf_append(char **b, size_t *len, size_t *cap, const void *p,
                      size_t n) {
  if (*len + n > *cap) {
    size_t nc = *cap ? *cap : 256;
    char *nb;
    while (nc < *len + n)
      nc *= 2;
    nb = realloc(*b, nc);
    if (!nb)
      return -1;
    *b = nb;
    *cap = nc;
  }
  memcpy(*b + *len, p, n);
  *len += n;
  return 0;
}

/* ------------------------------------------------------------- output */

static void write_cb(uv_write_t *req, int status) {
  wreq *r = (wreq *)req;
  blink *l = r->l;
  free(r);
  if (status < 0 && status != UV_ECANCELED && l->cl->state != CL_DEAD &&
      !l->cl->w->stopping)
    client_fail(l->cl, "write: %s", uv_strerror(status));
}

static int link_write(blink *l, const char *p, size_t n) {
  uv_buf_t b = uv_buf_init((char *)p, (unsigned)n);
  int rv = uv_try_write((uv_stream_t *)&l->tcp, &b, 1);
  wreq *r;
  if (rv == (int)n)
    return 0;
  if (rv == UV_EAGAIN)
    rv = 0;
  if (rv < 0) {
    client_fail(l->cl, "write: %s", uv_strerror(rv));
    return -1;
  }
  /* The kernel took part (or none): the rest waits in libuv's queue. */
  r = malloc(sizeof(*r) + n - (size_t)rv);
  if (!r) {
    client_fail(l->cl, "out of memory");
    return -1;
  }
  memcpy(r + 1, p + rv, n - (size_t)rv);
  r->l = l;
  r->buf = uv_buf_init((char *)(r + 1), (unsigned)(n - (size_t)rv));
  if (uv_write(&r->req, (uv_stream_t *)&l->tcp, &r->buf, 1, write_cb)) {
    free(r);
    client_fail(l->cl, "write failed");
    return -1;
  }
  return 0;
}

/* A masked client frame (RFC 6455 5.3). */
static int ws_send(blink *l, int op, const char *p, size_t n) {
  char stackbuf[4096], *f = stackbuf;
  size_t hl = 2, i;
  uint32_t key = rng32(l->cl->w);
  uint8_t m[4];
  int rv;
  if (n + 14 > sizeof(stackbuf)) {
    f = malloc(n + 14);
    if (!f) {
      client_fail(l->cl, "out of memory");
      return -1;
    }
  }
  f[0] = (char)(0x80 | op);
  if (n < 126) {
    f[1] = (char)(0x80 | n);
  } else if (n <= 0xffff) {
    f[1] = (char)(0x80 | 126);
    f[2] = (char)(n >> 8);
    f[3] = (char)n;
    hl = 4;
  } else {
    f[1] = (char)(0x80 | 127);
    for (i = 0; i < 8; i++)
      f[2 + i] = (char)((uint64_t)n >> (56 - 8 * i));
    hl = 10;
  }
  memcpy(m, &key, 4);
  memcpy(f + hl, m, 4);
  hl += 4;
  for (i = 0; i < n; i++)
    f[hl + i] = (char)(p[i] ^ m[i & 3]);
  rv = link_write(l, f, hl + n);
  if (f != stackbuf)
    free(f);
  return rv;
}

static void post_flush(client *c) {
  worker *w = c->w;
  char head[512];
  int hl;
  if (!c->post || c->post->state != L_HTTP || c->post_busy || !c->pend_len)
    return;
  hl = snprintf(head, sizeof(head),
                "POST %s?EIO=4&transport=polling&sid=%s HTTP/1.1\r\n"
                "Host: %s\r\nContent-Type: text/plain;charset=UTF-8\r\n"
                "Content-Length: %zu\r\n\r\n",
                w->o->path, c->sid, w->hostport[c->gidx % w->o->nports],
                c->pend_len);
  /* Head and body in one write: a split POST costs the server a read. */
  if (buf_append(&c->pend, &c->pend_len, &c->pend_cap, head, (size_t)hl)) {
    client_fail(c, "out of memory");
    return;
  }
  memmove(c->pend + hl, c->pend, c->pend_len - (size_t)hl);
  memcpy(c->pend, head, (size_t)hl);
  c->post_busy = 1;
  if (link_write(c->post, c->pend, c->pend_len))
    return;
  c->pend_len = 0;
}

/* Sends one Engine.IO packet on whichever transport the client uses. */
static void send_eio(client *c, const char *p, size_t n) {
  if (c->w->o->transport == TR_WEBSOCKET) {
    ws_send(&c->main, 0x1, p, n);
    return;
  }
  if ((c->pend_len &&
       buf_append(&c->pend, &c->pend_len, &c->pend_cap, "\x1e", 1)) ||
      buf_append(&c->pend, &c->pend_len, &c->pend_cap, p, n)) {
    client_fail(c, "out of memory");
    return;
  }
  post_flush(c);
}

/* Socket.IO CONNECT to "/", with the --auth payload if any. */
static void send_connect(client *c) {
  const char *auth = c->w->o->auth;
  char *pkt;
  int len;
  if (!auth) {
    send_eio(c, "40", 2);
    return;
  }
  len = asprintf(&pkt, "40%s", auth);
  if (len < 0) {
    client_fail(c, "out of memory");
    return;
  }
  send_eio(c, pkt, (size_t)len);
  free(pkt);
}

static void send_poll(client *c) {
  worker *w = c->w;
  char req[512];
  int n = snprintf(req, sizeof(req),
                   "GET %s?EIO=4&transport=polling%s%s HTTP/1.1\r\n"
                   "Host: %s\r\n\r\n",
                   w->o->path, c->sid[0] ? "&sid=" : "", c->sid,
                   w->hostport[c->gidx % w->o->nports]);
  link_write(&c->main, req, (size_t)n);
}

/* ------------------------------------------------------- connections */

static void link_close_cb(uv_handle_t *h) {
  blink *l = h->data;
  free(l->in);
  free(l->frag);
  l->in = l->frag = NULL;
  l->in_len = l->in_cap = l->frag_len = l->frag_cap = 0;
  l->state = L_NONE;
  if (l->role == LINK_POST)
    free(l);
}

static void link_close(blink *l, int reset) {
  if (l->state == L_NONE || uv_is_closing((uv_handle_t *)&l->tcp))
    return;
  /* A reset leaves no TIME_WAIT behind, so repeated runs of tens of
   * thousands of connections do not run out of ports. */
  if (reset && l->state != L_CONNECTING &&
      uv_tcp_close_reset(&l->tcp, link_close_cb) == 0)
    return;
  uv_close((uv_handle_t *)&l->tcp, link_close_cb);
}

static void client_close(client *c, int reset) {
  link_close(&c->main, reset);
  if (c->post) {
    link_close(c->post, reset);
    c->post = NULL;
  }
}

static void start_more(worker *w);

static void setup_settled(worker *w) {
  w->active--;
  w->settled++;
  if (w->settled == w->n &&
      (w->o->mode == MODE_IDLE || w->o->mode == MODE_CONNECT)) {
    /* The connect modes measure the worker over its connection setup. */
    w->st->cpu_ns = self_cpu_ns() - w->cpu_a;
    w->st->wall_ns = uv_hrtime() - w->t_a;
    w->window_done = 1;
  }
  start_more(w);
}

static void client_fail(client *c, const char *fmt, ...) {
  worker *w = c->w;
  char msg[160], full[192];
  va_list ap;
  if (c->state == CL_DEAD)
    return;
  va_start(ap, fmt);
  vsnprintf(msg, sizeof(msg), fmt, ap);
  va_end(ap);
  snprintf(full, sizeof(full), "client %u: %s", c->gidx, msg);
  /* A ready client lost is a "dropped" connection (the run is void); one
   * that never got ready "failed" (the connect modes still report). */
  atomic_fetch_add(c->state == CL_READY ? &w->sh->dropped : &w->sh->failed, 1);
  note_error(w, full);
  if (c->state == CL_SETUP) {
    c->state = CL_DEAD;
    setup_settled(w);
  }
  c->state = CL_DEAD;
  client_close(c, 0);
}

static void client_ready(client *c) {
  worker *w = c->w;
  uint64_t now = uv_hrtime();
  c->state = CL_READY;
  w->ready++;
  if (w->o->mode == MODE_IDLE || w->o->mode == MODE_CONNECT) {
    hist_add(&w->st->lat, now - c->t_start);
    w->st->measured++;
  }
  atomic_max_u64(&w->sh->last_ready_ns, now);
  atomic_fetch_add(&w->sh->connected, 1);
  setup_settled(w);
}

static void on_read(uv_stream_t *s, ssize_t nread, const uv_buf_t *buf);

static void read_alloc(uv_handle_t *h, size_t suggested, uv_buf_t *buf) {
  (void)h;
  (void)suggested;
  *buf = uv_buf_init(W.rbuf, sizeof(W.rbuf));
}

static void on_connect(uv_connect_t *req, int status) {
  blink *l = req->data;
  client *c = l->cl;
  worker *w = c->w;
  char r[512];
  int n;
  if (status == UV_ECANCELED || c->state == CL_DEAD || w->stopping)
    return;
  if (status < 0) {
    client_fail(c, "connect: %s", uv_strerror(status));
    return;
  }
  l->state = L_HTTP;
  uv_tcp_nodelay(&l->tcp, 1);
  if (uv_read_start((uv_stream_t *)&l->tcp, read_alloc, on_read)) {
    client_fail(c, "read_start failed");
    return;
  }
  if (l->role == LINK_WS) {
    n = snprintf(r, sizeof(r),
                 "GET %s?EIO=4&transport=websocket HTTP/1.1\r\n"
                 "Host: %s\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
                 "Sec-WebSocket-Key: c2lvLWJlbmNoLWtleS0wMQ==\r\n"
                 "Sec-WebSocket-Version: 13\r\n\r\n",
                 w->o->path, w->hostport[c->gidx % w->o->nports]);
    link_write(l, r, (size_t)n);
  } else if (l->role == LINK_GET) {
    send_poll(c);
  } else {
    post_flush(c);
  }
}

static int link_connect(client *c, blink *l, int role) {
  worker *w = c->w;
  const struct sockaddr_in *src = &w->src[c->gidx % w->o->nsrc];
  uv_os_fd_t fd;
  int one = 1, rv;
  l->cl = c;
  l->role = (uint8_t)role;
  rv = uv_tcp_init_ex(&w->loop, &l->tcp, AF_INET);
  if (rv) {
    client_fail(c, "socket: %s", uv_strerror(rv));
    return -1;
  }
  l->tcp.data = l;
  l->state = L_CONNECTING;
  l->creq.data = l;
  /* Bind the source address without a port: the port is picked at
   * connect() from the whole 4-tuple, so each 127.0.0.x source gives
   * another ~28000 ports towards the one server port. */
  if (w->o->nsrc > 1 || src->sin_addr.s_addr != htonl(0x7f000001)) {
    if (uv_fileno((uv_handle_t *)&l->tcp, &fd) == 0)
      setsockopt(fd, IPPROTO_IP, IP_BIND_ADDRESS_NO_PORT, &one, sizeof(one));
    rv = uv_tcp_bind(&l->tcp, (const struct sockaddr *)src, 0);
    if (rv) {
      client_fail(c, "bind: %s", uv_strerror(rv));
      return -1;
    }
  }
  rv = uv_tcp_connect(&l->creq, &l->tcp,
                      (const struct sockaddr *)&w->dst[c->gidx % w->o->nports],
                      on_connect);
  if (rv) {
    client_fail(c, "connect: %s", uv_strerror(rv));
    return -1;
  }
  return 0;
}

static void client_start(client *c) {
  worker *w = c->w;
  c->t_start = uv_hrtime();
  c->state = CL_SETUP;
  w->active++;
  atomic_min_u64(&w->sh->first_start_ns, c->t_start);
  link_connect(c, &c->main,
               w->o->transport == TR_WEBSOCKET ? LINK_WS : LINK_GET);
}

static void start_more(worker *w) {
  while (!w->stopping && w->active < w->conc && w->next < w->n)
    client_start(&w->cl[w->next++]);
}

/* -------------------------------------------------------------- fanout */

static int pub_send(worker *w, uint64_t seq, uint64_t t);

/* Worker 0's first ready client (or its publisher) sends broadcasts while
 * fewer than `inflight` are incomplete and the phase allows more. */
static void fanout_pump(worker *w) {
  bench_shared *sh = w->sh;
  const bench_opts *o = w->o;
  int ph = atomic_load(&sh->phase);
  uint64_t limit = ph == PH_WARMUP    ? o->warmup
                   : ph == PH_MEASURE ? (uint64_t)o->warmup + o->count
                                      : 0;
  client *s = NULL;
  uint32_t i;
  if (o->publisher) {
    /* Nothing goes out before the publisher said READY: a broadcast it
     * published before connecting would be lost, and its start-up would
     * count as latency. */
    if (w->pub_state != PUB_READY || w->stopping)
      return;
  } else {
    for (i = 0; i < w->n && !s; i++)
      if (w->cl[i].state == CL_READY)
        s = &w->cl[i];
    if (!s)
      return;
  }
  for (;;) {
    uint64_t sent = atomic_load(&sh->sent);
    uint64_t now, t;
    char *pkt;
    int len;
    if (sent >= limit || sent - atomic_load(&sh->completed) >= o->inflight)
      break;
    now = uv_hrtime();
    t = now - sh->t0;
    atomic_store(&sh->slots[sent].sent_ns, now);
    atomic_store(&sh->sent, sent + 1);
    if (o->publisher) {
      if (pub_send(w, sent, t))
        return;
      continue;
    }
    len = asprintf(&pkt, "42[\"bcast\",{\"s\":%llu,\"t\":%llu%s%s%s}]",
                   (unsigned long long)sent, (unsigned long long)t,
                   o->payload ? ",\"p\":\"" : "", o->payload ? w->pad : "",
                   o->payload ? "\"" : "");
    if (len < 0) {
      client_fail(s, "out of memory");
      return;
    }
    send_eio(s, pkt, (size_t)len);
    free(pkt);
  }
}

static void slot_done(worker *w, uint64_t seq) {
  bench_shared *sh = w->sh;
  bench_slot *slot = &sh->slots[seq];
  uint64_t c;
  /* last_ns first: whoever sees the broadcast complete sees its time. */
  atomic_max_u64(&slot->last_ns, w->lmax[seq]);
  c = atomic_fetch_add(&slot->count, w->local_total) + w->local_total;
  if (c != atomic_load(&sh->total))
    return;
  atomic_fetch_add(&sh->completed, 1);
  if (w->id == 0)
    fanout_pump(w);
  else
    bench_wake(sh, 0);
}

static uint64_t field_u64(const char *p, size_t len, const char *key, int *ok) {
  const char *f = memmem(p, len, key, strlen(key));
  uint64_t v = 0;
  *ok = 0;
  if (!f)
    return 0;
  f += strlen(key);
  while (f < p + len && *f >= '0' && *f <= '9') {
    v = v * 10 + (uint64_t)(*f++ - '0');
    *ok = 1;
  }
  return v;
}

static void on_bcast(client *c, const char *p, size_t len) {
  worker *w = c->w;
  bench_shared *sh = w->sh;
  uint64_t now = uv_hrtime(), seq, t, sent_at;
  int ok1, ok2;
  seq = field_u64(p, len, "\"s\":", &ok1);
  t = field_u64(p, len, "\"t\":", &ok2);
  if (!ok1 || !ok2 || seq >= w->nslots || c->state != CL_READY)
    return;
  sent_at = sh->t0 + t;
  if (seq >= w->o->warmup) {
    hist_add(&w->st->lat, now > sent_at ? now - sent_at : 0);
    w->st->measured++;
  }
  if (!w->local_total)
    w->local_total = w->ready;
  if (w->lmax[seq] < now)
    w->lmax[seq] = now;
  if (++w->lcount[seq] == w->local_total)
    slot_done(w, seq);
}

/* ----------------------------------------------------------- publisher */

typedef struct pubreq {
  uv_write_t req;
  uv_buf_t buf;
} pubreq;

static void pub_write_cb(uv_write_t *req, int status) {
  worker *w = req->handle->data;
  free(req);
  if (status < 0 && status != UV_ECANCELED && !w->stopping) {
    note_error(w, "publisher: write to its stdin failed");
    stop_all(w);
  }
}

/* One line "SEQ T PAD\n" to the publisher's stdin; what the pipe does not
 * take at once waits in libuv's queue. Returns -1 when the run stops. */
static int pub_send(worker *w, uint64_t seq, uint64_t t) {
  char line[80];
  int n = snprintf(line, sizeof(line), "%llu %llu %u\n",
                   (unsigned long long)seq, (unsigned long long)t,
                   w->o->payload);
  uv_buf_t b = uv_buf_init(line, (unsigned)n);
  int rv = uv_try_write((uv_stream_t *)&w->pub_in, &b, 1);
  pubreq *r;
  if (rv == n)
    return 0;
  if (rv == UV_EAGAIN)
    rv = 0;
  if (rv >= 0) {
    r = malloc(sizeof(*r) + (size_t)(n - rv));
    if (r) {
      memcpy(r + 1, line + rv, (size_t)(n - rv));
      r->buf = uv_buf_init((char *)(r + 1), (unsigned)(n - rv));
      if (uv_write(&r->req, (uv_stream_t *)&w->pub_in, &r->buf, 1,
                   pub_write_cb) == 0)
        return 0;
      free(r);
    }
  }
  note_error(w, "publisher: cannot write to its stdin");
  stop_all(w);
  return -1;
}

static void pub_kill_cb(uv_timer_t *t) {
  worker *w = t->data;
  if (w->pub_state != PUB_EXITED)
    uv_process_kill(&w->pub, SIGKILL);
}

static void pub_exit_cb(uv_process_t *p, int64_t status, int sig) {
  worker *w = p->data;
  char msg[96];
  int was = w->pub_state;
  w->pub_state = PUB_EXITED;
  uv_close((uv_handle_t *)p, NULL);
  if (!uv_is_closing((uv_handle_t *)&w->pub_kill))
    uv_close((uv_handle_t *)&w->pub_kill, NULL);
  if (!uv_is_closing((uv_handle_t *)&w->pub_out))
    uv_close((uv_handle_t *)&w->pub_out, NULL);
  if (w->stopping)
    return;
  /* Before the run is over, a publisher that exits voids it. */
  snprintf(msg, sizeof(msg), "publisher exited %s (status %lld, signal %d)",
           was == PUB_READY ? "early" : "before READY", (long long)status,
           sig);
  note_error(w, msg);
  stop_all(w);
}

static void pub_alloc(uv_handle_t *h, size_t suggested, uv_buf_t *buf) {
  (void)h;
  (void)suggested;
  *buf = uv_buf_init(W.wbuf, sizeof(W.wbuf));
}

/* The publisher's stdout: its first line must be READY; the rest is read
 * and dropped so that it never blocks on a full pipe. */
static void pub_read_cb(uv_stream_t *s, ssize_t nread, const uv_buf_t *buf) {
  worker *w = s->data;
  ssize_t i;
  if (nread < 0) {
    if (!uv_is_closing((uv_handle_t *)s))
      uv_close((uv_handle_t *)s, NULL);
    return;
  }
  for (i = 0; i < nread && w->pub_state == PUB_STARTING; i++) {
    char ch = buf->base[i];
    if (ch != '\n') {
      if (w->pub_line_len < sizeof(w->pub_line) - 1)
        w->pub_line[w->pub_line_len++] = ch;
      continue;
    }
    w->pub_line[w->pub_line_len] = '\0';
    w->pub_line_len = 0;
    if (strcmp(w->pub_line, "READY") == 0) {
      w->pub_state = PUB_READY;
      fanout_pump(w);
    }
  }
}

/* Spawns --publisher through /bin/sh -c, stdin and stdout on pipes, stderr
 * shared with sio-bench. */
static int pub_start(worker *w) {
  uv_process_options_t po;
  uv_stdio_container_t io[3];
  char *args[4];
  int i, rv;
  /* The command must not hold the workers' wake pipes (a dead worker
   * would not be noticed) nor anything else of ours. */
  for (i = 0; i < BENCH_MAX_WORKERS && i < (int)w->o->workers; i++) {
    fcntl(w->sh->wake_fd[i][0], F_SETFD, FD_CLOEXEC);
    fcntl(w->sh->wake_fd[i][1], F_SETFD, FD_CLOEXEC);
  }
  uv_pipe_init(&w->loop, &w->pub_in, 0);
  uv_pipe_init(&w->loop, &w->pub_out, 0);
  uv_timer_init(&w->loop, &w->pub_kill);
  w->pub_in.data = w->pub_out.data = w->pub.data = w->pub_kill.data = w;
  args[0] = "/bin/sh";
  args[1] = "-c";
  args[2] = (char *)w->o->publisher;
  args[3] = NULL;
  memset(&po, 0, sizeof(po));
  io[0].flags = UV_CREATE_PIPE | UV_READABLE_PIPE;
  io[0].data.stream = (uv_stream_t *)&w->pub_in;
  io[1].flags = UV_CREATE_PIPE | UV_WRITABLE_PIPE;
  io[1].data.stream = (uv_stream_t *)&w->pub_out;
  io[2].flags = UV_INHERIT_FD;
  io[2].data.fd = 2;
  po.file = args[0];
  po.args = args;
  po.stdio = io;
  po.stdio_count = 3;
  po.exit_cb = pub_exit_cb;
  rv = uv_spawn(&w->loop, &w->pub, &po);
  if (rv) {
    char msg[96];
    snprintf(msg, sizeof(msg), "publisher: spawn failed: %s", uv_strerror(rv));
    note_error(w, msg);
    w->pub_state = PUB_EXITED;
    uv_close((uv_handle_t *)&w->pub, NULL);
    uv_close((uv_handle_t *)&w->pub_in, NULL);
    uv_close((uv_handle_t *)&w->pub_out, NULL);
    uv_close((uv_handle_t *)&w->pub_kill, NULL);
    return -1;
  }
  w->pub_state = PUB_STARTING;
  uv_read_start((uv_stream_t *)&w->pub_out, pub_alloc, pub_read_cb);
  return 0;
}

/* End of the run: EOF on its stdin and SIGTERM, SIGKILL 3 s later; the
 * exit callback closes the handles, so the loop ends once it is reaped. */
static void pub_stop(worker *w) {
  if (w->pub_state == PUB_NONE)
    return;
  if (!uv_is_closing((uv_handle_t *)&w->pub_in))
    uv_close((uv_handle_t *)&w->pub_in, NULL);
  if (w->pub_state == PUB_EXITED)
    return;
  uv_process_kill(&w->pub, SIGTERM);
  uv_timer_start(&w->pub_kill, pub_kill_cb, 3000, 0);
}

/* ---------------------------------------------------------------- echo */

static void send_echo(client *c) {
  worker *w = c->w;
  uint64_t id = c->next_ack++, now = uv_hrtime();
  char *pkt;
  int len;
  c->tsent[id % w->o->inflight] = now;
  len = asprintf(&pkt, "42%llu[\"echo\",{\"t\":%llu%s%s%s}]",
                 (unsigned long long)id, (unsigned long long)(now - w->sh->t0),
                 w->o->payload ? ",\"p\":\"" : "", w->o->payload ? w->pad : "",
                 w->o->payload ? "\"" : "");
  if (len < 0) {
    client_fail(c, "out of memory");
    return;
  }
  send_eio(c, pkt, (size_t)len);
  free(pkt);
}

static void on_ack(client *c, const char *p, size_t len) {
  worker *w = c->w;
  uint64_t id = 0, now = uv_hrtime();
  size_t i = 0;
  int ph;
  while (i < len && p[i] >= '0' && p[i] <= '9')
    id = id * 10 + (uint64_t)(p[i++] - '0');
  if (!i || !c->tsent)
    return;
  atomic_fetch_add(&w->sh->acks, 1);
  ph = atomic_load(&w->sh->phase);
  if (ph == PH_MEASURE) {
    hist_add(&w->st->lat, now - c->tsent[id % w->o->inflight]);
    w->st->measured++;
  }
  if (ph == PH_WARMUP || ph == PH_MEASURE)
    send_echo(c);
}

/* ----------------------------------------------------------- protocol */

static void on_sio(client *c, char *p, size_t len) {
  if (!len)
    return;
  switch (p[0]) {
  case '0': /* CONNECT reply for "/" */
    if (c->state == CL_SETUP)
      client_ready(c);
    break;
  case '1':
    client_fail(c, "disconnected by the server");
    break;
  case '2': { /* other events (connection.established...) are not ours */
    size_t k = c->w->evpfx_len;
    if (len > k && memcmp(p + 1, c->w->evpfx, k) == 0)
      on_bcast(c, p + 1 + k, len - 1 - k);
    break;
  }
  case '3':
    on_ack(c, p + 1, len - 1);
    break;
  case '4':
    client_fail(c, "CONNECT_ERROR %.*s", (int)(len > 80 ? 80 : len), p);
    break;
  default:
    break;
  }
}

static void on_open_polling(client *c, const char *p, size_t len) {
  const char *f = memmem(p, len, "\"sid\":\"", 7), *e;
  if (!f) {
    client_fail(c, "handshake without sid");
    return;
  }
  f += 7;
  e = memchr(f, '"', len - (size_t)(f - p));
  if (!e || (size_t)(e - f) >= sizeof(c->sid)) {
    client_fail(c, "bad sid");
    return;
  }
  memcpy(c->sid, f, (size_t)(e - f));
  c->sid[e - f] = '\0';
  c->post = calloc(1, sizeof(*c->post));
  if (!c->post) {
    client_fail(c, "out of memory");
    return;
  }
  send_connect(c); /* queued until the POST connection is up */
  if (c->state != CL_DEAD)
    link_connect(c, c->post, LINK_POST);
}

static void on_eio(client *c, char *p, size_t len) {
  if (!len || c->state == CL_DEAD)
    return;
  switch (p[0]) {
  case '0':
    if (c->w->o->transport == TR_WEBSOCKET)
      send_connect(c);
    else if (!c->sid[0])
      on_open_polling(c, p + 1, len - 1);
    break;
  case '1':
    client_fail(c, "Engine.IO close from the server");
    break;
  case '2':
    atomic_fetch_add(&c->w->sh->pings, 1);
    send_eio(c, "3", 1);
    break;
  case '4':
    on_sio(c, p + 1, len - 1);
    break;
  default: /* noop "6", pong: nothing to do */
    break;
  }
}

/* One polling GET body: packets separated by \x1e. Binary ("b...")
 * packets are not part of this benchmark's contract and are skipped. */
static void on_poll_body(client *c, char *p, size_t len) {
  size_t i = 0;
  while (i < len && c->state != CL_DEAD) {
    char *e = memchr(p + i, '\x1e', len - i);
    size_t n = e ? (size_t)(e - (p + i)) : len - i;
    on_eio(c, p + i, n);
    i += n + 1;
  }
  if (c->state != CL_DEAD && !c->w->stopping)
    send_poll(c);
}

static int head_has(const char *h, size_t len, const char *needle) {
  size_t n = strlen(needle), i;
  for (i = 0; i + n <= len; i++)
    if (strncasecmp(h + i, needle, n) == 0)
      return 1;
  return 0;
}

/* Returns bytes consumed, 0 when the response is incomplete, -1 when the
 * client failed. */
static ssize_t parse_http(blink *l, char *p, size_t len) {
  client *c = l->cl;
  char *end = memmem(p, len, "\r\n\r\n", 4), *cl;
  size_t hl, clen = 0, i;
  int status = 0;
  if (!end) {
    if (len > MAX_HEAD) {
      client_fail(c, "response head too long");
      return -1;
    }
    return 0;
  }
  hl = (size_t)(end - p) + 4;
  if (len < 12 || memcmp(p, "HTTP/1.", 7) != 0 ||
      sscanf(p + 9, "%3d", &status) != 1) {
    client_fail(c, "bad HTTP response");
    return -1;
  }
  if (l->role == LINK_WS) {
    if (status != 101) {
      client_fail(c, "upgrade refused: HTTP %d", status);
      return -1;
    }
    l->state = L_WS;
    return (ssize_t)hl;
  }
  if (head_has(p, hl, "transfer-encoding: chunked")) {
    client_fail(c, "chunked responses are not supported");
    return -1;
  }
  for (i = 0; i + 15 < hl; i++) {
    if (strncasecmp(p + i, "\ncontent-length:", 16) == 0) {
      cl = p + i + 16;
      while (*cl == ' ')
        cl++;
      clen = strtoul(cl, NULL, 10);
      break;
    }
  }
  if (clen > MAX_FRAME) {
    client_fail(c, "response too large");
    return -1;
  }
  if (len < hl + clen)
    return 0;
  if (status != 200) {
    client_fail(c, "HTTP %d: %.*s", status, (int)(clen > 80 ? 80 : clen),
                p + hl);
    return -1;
  }
  if (l->role == LINK_GET) {
    on_poll_body(c, p + hl, clen);
  } else {
    c->post_busy = 0;
    post_flush(c);
  }
  return c->state == CL_DEAD ? -1 : (ssize_t)(hl + clen);
}

static void ws_message(blink *l, int op, char *p, size_t n) {
  if (op == 0x1)
    on_eio(l->cl, p, n);
  /* binary messages are not part of the contract */
}

static ssize_t parse_ws(blink *l, char *p, size_t len) {
  client *c = l->cl;
  uint8_t b0, b1;
  uint64_t plen;
  size_t hl = 2, i;
  int op, fin;
  char *pl;
  if (len < 2)
    return 0;
  b0 = (uint8_t)p[0];
  b1 = (uint8_t)p[1];
  plen = b1 & 0x7f;
  if (plen == 126) {
    if (len < 4)
      return 0;
    plen = (uint64_t)(uint8_t)p[2] << 8 | (uint8_t)p[3];
    hl = 4;
  } else if (plen == 127) {
    if (len < 10)
      return 0;
    for (plen = 0, i = 0; i < 8; i++)
      plen = plen << 8 | (uint8_t)p[2 + i];
    hl = 10;
  }
  if (plen > MAX_FRAME) {
    client_fail(c, "frame too large");
    return -1;
  }
  if (b1 & 0x80)
    hl += 4;
  if (len < hl + plen)
    return 0;
  pl = p + hl;
  if (b1 & 0x80) /* servers must not mask; unmask anyway */
    for (i = 0; i < plen; i++)
      pl[i] ^= p[hl - 4 + (i & 3)];
  op = b0 & 0x0f;
  fin = (b0 & 0x80) != 0;
  switch (op) {
  case 0x8:
    client_fail(c, "WebSocket closed by the server");
    return -1;
  case 0x9:
    ws_send(l, 0xA, pl, (size_t)plen);
    break;
  case 0xA:
    break;
  case 0x0:
  case 0x1:
  case 0x2:
    if (fin && op && !l->frag_len) {
      ws_message(l, op, pl, (size_t)plen);
      break;
    }
    if (op)
      l->frag_op = (uint8_t)op;
    if (buf_append(&l->frag, &l->frag_len, &l->frag_cap, pl, (size_t)plen)) {
      client_fail(c, "out of memory");
      return -1;
    }
    if (fin) {
      ws_message(l, l->frag_op, l->frag, l->frag_len);
      l->frag_len = 0;
    }
    break;
  default:
    client_fail(c, "bad opcode %d", op);
    return -1;
  }
  return c->state == CL_DEAD ? -1 : (ssize_t)(hl + plen);
}

static ssize_t link_parse(blink *l, char *p, size_t len) {
  size_t off = 0;
  while (off < len) {
    ssize_t r;
    if (l->state == L_HTTP)
      r = parse_http(l, p + off, len - off);
    else if (l->state == L_WS)
      r = parse_ws(l, p + off, len - off);
    else
      return -1;
    if (r < 0)
      return -1;
    if (r == 0)
      break;
    off += (size_t)r;
  }
  return (ssize_t)off;
}

static void on_read(uv_stream_t *s, ssize_t nread, const uv_buf_t *buf) {
  blink *l = s->data;
  client *c = l->cl;
  char *p;
  size_t len;
  ssize_t used;
  if (nread == 0)
    return;
  if (nread < 0) {
    if (c->state != CL_DEAD && !c->w->stopping)
      client_fail(c, "connection lost: %s", uv_strerror((int)nread));
    return;
  }
  if (l->in_len) {
    if (buf_append(&l->in, &l->in_len, &l->in_cap, buf->base, (size_t)nread)) {
      client_fail(c, "out of memory");
      return;
    }
    p = l->in;
    len = l->in_len;
  } else {
    p = buf->base;
    len = (size_t)nread;
  }
  used = link_parse(l, p, len);
  if (used < 0 || c->state == CL_DEAD)
    return;
  if ((size_t)used == len) {
    l->in_len = 0;
  } else if (p == l->in) {
    memmove(l->in, l->in + used, len - (size_t)used);
    l->in_len = len - (size_t)used;
  } else if (buf_append(&l->in, &l->in_len, &l->in_cap, p + used,
                        len - (size_t)used)) {
    client_fail(c, "out of memory");
  }
}

/* -------------------------------------------------------------- phases */

static void report(worker *w) {
  if (!w->window_done) {
    w->st->cpu_ns = self_cpu_ns() - w->cpu_a;
    w->st->wall_ns = uv_hrtime() - w->t_a;
    w->window_done = 1;
  }
  w->st->nclients = w->ready;
  w->st->reported = 1;
}

static void stop_all(worker *w) {
  uint32_t i;
  if (w->stopping) /* the publisher's end may come after another stop */
    return;
  w->stopping = 1;
  report(w);
  for (i = 0; i < w->n; i++)
    client_close(&w->cl[i], 1);
  uv_close((uv_handle_t *)&w->wake, NULL);
  uv_close((uv_handle_t *)&w->watchdog, NULL);
  pub_stop(w);
}

static void on_phase(worker *w) {
  int ph = atomic_load(&w->sh->phase);
  int prev = w->phase;
  uint32_t i, k;
  if (ph == prev) {
    if (w->o->mode == MODE_FANOUT && w->id == 0)
      fanout_pump(w);
    return;
  }
  w->phase = ph;
  if (ph == PH_STOP) {
    stop_all(w);
    return;
  }
  if (ph == PH_MEASURE &&
      (w->o->mode == MODE_FANOUT || w->o->mode == MODE_ECHO)) {
    w->cpu_a = self_cpu_ns();
    w->t_a = uv_hrtime();
  }
  if (prev == PH_CONNECT && w->o->mode == MODE_ECHO) {
    for (i = 0; i < w->n; i++)
      for (k = 0; k < w->o->inflight && w->cl[i].state == CL_READY; k++)
        send_echo(&w->cl[i]);
  }
  if (w->o->mode == MODE_FANOUT && w->id == 0)
    fanout_pump(w);
}

static void wake_alloc(uv_handle_t *h, size_t suggested, uv_buf_t *buf) {
  (void)h;
  (void)suggested;
  *buf = uv_buf_init(W.wbuf, sizeof(W.wbuf));
}

static void on_wake(uv_stream_t *s, ssize_t nread, const uv_buf_t *buf) {
  (void)buf;
  (void)s;
  if (W.stopping)
    return;
  if (nread < 0) {
    note_error(&W, "wake pipe closed");
    stop_all(&W);
    return;
  }
  on_phase(&W);
}

/* A worker whose parent died (killed by a timeout or by hand) stops. */
static void on_watchdog(uv_timer_t *t) {
  (void)t;
  if (getppid() != W.parent && !W.stopping)
    stop_all(&W);
}

int bench_worker_main(const bench_opts *o, bench_shared *sh, int id,
                      uint32_t first, uint32_t n) {
  worker *w = &W;
  uint32_t i;
  signal(SIGPIPE, SIG_IGN);
  memset(w, 0, sizeof(*w));
  w->o = o;
  w->sh = sh;
  w->st = &sh->w[id];
  w->id = id;
  w->n = n;
  w->parent = getppid();
  w->rng = 0x9e3779b97f4a7c15ull ^ ((uint64_t)getpid() << 20) ^ uv_hrtime();
  w->conc = o->concurrency / o->workers;
  if (w->conc < 1)
    w->conc = 1;
  w->phase = PH_CONNECT;
  w->cpu_a = self_cpu_ns();
  w->t_a = uv_hrtime();
  for (i = 0; i < o->nports; i++) {
    snprintf(w->hostport[i], sizeof(w->hostport[i]), "%s:%d", o->host,
             o->ports[i]);
    if (uv_ip4_addr(o->host, o->ports[i], &w->dst[i])) {
      note_error(w, "bad host address");
      return 1;
    }
  }
  for (i = 0; i < o->nsrc; i++) {
    char a[32];
    snprintf(a, sizeof(a), "127.0.0.%u", i + 1);
    uv_ip4_addr(a, 0, &w->src[i]);
  }
  w->cl = calloc(n ? n : 1, sizeof(*w->cl));
  w->pad = malloc(o->payload + 1);
  if (o->mode == MODE_FANOUT) {
    w->nslots = o->warmup + o->count;
    w->lcount = calloc(w->nslots, sizeof(*w->lcount));
    w->lmax = calloc(w->nslots, sizeof(*w->lmax));
  }
  if (o->mode == MODE_ECHO)
    w->tsent = calloc((size_t)(n ? n : 1) * o->inflight, sizeof(uint64_t));
  if (!w->cl || !w->pad ||
      (o->mode == MODE_FANOUT && (!w->lcount || !w->lmax)) ||
      (o->mode == MODE_ECHO && !w->tsent)) {
    note_error(w, "out of memory");
    return 1;
  }
  memset(w->pad, 'x', o->payload);
  w->pad[o->payload] = '\0';
  for (i = 0; i < n; i++) {
    w->cl[i].w = w;
    w->cl[i].gidx = first + i;
    if (w->tsent)
      w->cl[i].tsent = w->tsent + (size_t)i * o->inflight;
  }
  if (uv_loop_init(&w->loop)) {
    note_error(w, "uv_loop_init failed");
    return 1;
  }
  uv_pipe_init(&w->loop, &w->wake, 0);
  if (uv_pipe_open(&w->wake, sh->wake_fd[id][0]) ||
      uv_read_start((uv_stream_t *)&w->wake, wake_alloc, on_wake)) {
    note_error(w, "wake pipe failed");
    return 1;
  }
  uv_timer_init(&w->loop, &w->watchdog);
  uv_timer_start(&w->watchdog, on_watchdog, 500, 500);
  w->evpfx_len = (size_t)snprintf(w->evpfx, sizeof(w->evpfx), "[\"%s\",",
                                  o->event);
  /* The publisher starts (Node, a Redis connection) while clients
   * connect; the broadcasts wait for its READY. */
  if (o->mode == MODE_FANOUT && o->publisher && id == 0 && pub_start(w)) {
    stop_all(w);
    uv_run(&w->loop, UV_RUN_DEFAULT);
    return 1;
  }
  start_more(w);
  uv_run(&w->loop, UV_RUN_DEFAULT);
  if (!w->st->reported)
    report(w);
  /* The kernel reclaims the rest; freeing 20k clients one by one would
   * only delay the parent's report. */
  return 0;
}
