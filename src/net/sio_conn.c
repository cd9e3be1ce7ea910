/* sio_conn.c: TCP connection I/O.
 *
 * Output: every write appends a chunk to outq and marks the connection
 * dirty; the loop's prepare callback (run once per iteration, just before
 * the loop polls) writes all queued chunks as one writev, with
 * uv_try_write: a reader that keeps up costs one syscall and no request.
 * What the kernel does not take goes into one uv_write whose completion
 * writes whatever was queued meanwhile. So there is never more than one
 * write in flight, and many small packets produced in one iteration leave
 * in one writev. Chunks are recycled through a per-server pool.
 *
 * Close: sio_conn_close() stops I/O and closes the handle; on_close runs
 * from the close callback, where the owner frees the object (libuv rule:
 * free only in the last close callback). sio_conn_close_after_flush() is
 * the lingering close: flush, shutdown(SHUT_WR), read and discard until
 * EOF, then close, so the peer reads the last bytes (a close with unread
 * input makes the kernel send RST, and the peer's stack may then drop what
 * it had not yet read). Its state (sio_closing) exists only while it runs;
 * closing connections wait in one FIFO under one net-wide timer, since all
 * of them wait the same close_timeout_ms. */
#include "sio_conn.h"

#include <string.h>
#include <unistd.h>

#include "sio_tls.h"

#include "sio_int.h"
#include "sio_mem.h"

#define SIO_READBUF_SIZE 65536
#define SIO_MAX_IOV 128
#define SIO_INLINE_MAX 16
/* Freed chunks kept for reuse, at most (80 bytes each: 1.3 MB). A
 * broadcast queues a chunk on every recipient and frees them all in the
 * same loop iteration; recycling them costs a few instructions where malloc
 * and free of a thousands-deep batch cost about 250 per delivery. */
#define SIO_CHUNK_POOL_MAX 16384

/* One queued span of output, written as one iovec: bytes inside a shared
 * rcbuf (a reference keeps them alive), an owned copy, or, for a few
 * bytes, a copy inside the chunk itself. */
typedef struct sio_chunk {
  sio_queue q;
  sio_rcbuf *rc;    /* holds p's bytes, or NULL */
  const uint8_t *p; /* the bytes: in rc, in an owned block, or in small */
  size_t len;
  size_t done;   /* bytes already written by a partial write */
  uint8_t owned; /* p was allocated for this chunk (sio_malloc) */
  uint8_t raw;   /* TLS: already ciphertext */
  uint8_t small[SIO_INLINE_MAX];
} sio_chunk;

static sio_chunk *chunk_new(sio_net *net) {
  sio_chunk *ch = net->chunk_pool;
  if (!ch)
    return sio_malloc(sizeof(*ch));
  net->chunk_pool = (sio_chunk *)ch->q.next; /* the pool's link */
  net->npool--;
  return ch;
}

static void chunk_free(sio_net *net, sio_chunk *ch) {
  sio_rcbuf_unref(ch->rc);
  if (ch->owned)
    sio_free((void *)ch->p);
  if (net->npool < SIO_CHUNK_POOL_MAX && !net->closing) {
    ch->q.next = (sio_queue *)net->chunk_pool;
    net->chunk_pool = ch;
    net->npool++;
    return;
  }
  sio_free(ch);
}

/* The nets of this thread dirtied from inside another net's flush (its
 * deferred work: an Engine.IO message handled there that writes to Redis,
 * whose net is another): libuv runs the prepare handles in an order of
 * its own, so theirs may have run already, and their output would wait
 * for the next poll to return, up to a timer's period. */
static _Thread_local sio_net *late_nets;
static _Thread_local int flush_depth;

static void flush_cb(uv_prepare_t *h);
static void mark_dirty(sio_conn *c);

/* A graceful close in progress. */
typedef struct sio_closing {
  sio_queue q;       /* link in net->closing_conns */
  sio_queue idle_q;  /* link in net->lingering once the FIN is out */
  sio_conn *c;
  uint64_t deadline; /* loop time, ms */
  uint64_t idle_deadline; /* loop time, ms; while in net->lingering */
  size_t discarded;  /* input read and dropped since the close began */
  uv_shutdown_t req;
  uint8_t shut;      /* req issued */
  uint8_t eof;       /* the peer's EOF arrived */
} sio_closing;

static void close_timer_cb(uv_timer_t *t);

int sio_net_init(sio_net *net, uv_loop_t *loop) {
  memset(net, 0, sizeof(*net));
  net->loop = loop;
  sio_queue_init(&net->dirty);
  sio_queue_init(&net->deferred);
  net->readbuf = sio_malloc(SIO_READBUF_SIZE);
  if (!net->readbuf)
    return SIO_ERR_NOMEM;
  net->readbuf_size = SIO_READBUF_SIZE;
  if (uv_prepare_init(loop, &net->flush)) {
    sio_free(net->readbuf);
    return SIO_ERR_IO;
  }
  net->flush.data = net;
  uv_prepare_start(&net->flush, flush_cb);
  uv_unref((uv_handle_t *)&net->flush);
  sio_queue_init(&net->closing_conns);
  sio_queue_init(&net->lingering);
  net->close_timeout_ms = SIO_CLOSE_TIMEOUT_DEFAULT;
  uv_timer_init(loop, &net->close_timer);
  net->close_timer.data = net;
  return 0;
}

void sio_net_set_close_timeout(sio_net *net, uint64_t ms) {
  net->close_timeout_ms = ms ? ms : SIO_CLOSE_TIMEOUT_DEFAULT;
}

static uint64_t linger_idle_ms(const sio_net *net) {
  return SIO_MIN((uint64_t)SIO_LINGER_IDLE_MS, net->close_timeout_ms);
}

/* Arms the timer for the earliest of the oldest close's deadline and the
 * oldest lingering close's idle deadline, or stops it when none is left. */
static void arm_close_timer(sio_net *net) {
  uint64_t now = uv_now(net->loop), when = UINT64_MAX;
  if (!sio_queue_empty(&net->closing_conns))
    when = sio_container_of(sio_queue_head(&net->closing_conns), sio_closing,
                            q)->deadline;
  if (!sio_queue_empty(&net->lingering))
    when = SIO_MIN(when, sio_container_of(sio_queue_head(&net->lingering),
                                          sio_closing, idle_q)
                             ->idle_deadline);
  if (when == UINT64_MAX) {
    uv_timer_stop(&net->close_timer);
    return;
  }
  uv_timer_start(&net->close_timer, close_timer_cb,
                 when > now ? when - now : 0, 0);
}

static void close_timer_cb(uv_timer_t *t) {
  sio_net *net = t->data;
  uint64_t now = uv_now(net->loop);
  while (!sio_queue_empty(&net->closing_conns)) {
    sio_closing *cl =
        sio_container_of(sio_queue_head(&net->closing_conns), sio_closing, q);
    if (cl->deadline > now)
      break;
    net->close_timeouts++;
    sio_conn_close(cl->c); /* unlinks cl */
  }
  /* a silent peer after our FIN: the close is complete, not cut short */
  while (!sio_queue_empty(&net->lingering)) {
    sio_closing *cl = sio_container_of(sio_queue_head(&net->lingering),
                                       sio_closing, idle_q);
    if (cl->idle_deadline > now)
      break;
    sio_conn_close(cl->c);
  }
  arm_close_timer(net);
}

/* (Re)starts the idle wait of a lingering close: at the tail, since every
 * idle deadline is now plus the same bound. */
static void linger_touch(sio_conn *c) {
  sio_net *net = c->net;
  sio_closing *cl = c->cl;
  int was_head = sio_queue_head(&net->lingering) == &cl->idle_q;
  sio_queue_remove(&cl->idle_q);
  cl->idle_deadline = uv_now(net->loop) + linger_idle_ms(net);
  sio_queue_insert_tail(&net->lingering, &cl->idle_q);
  if (was_head || sio_queue_head(&net->lingering) == &cl->idle_q)
    arm_close_timer(net);
}

void sio_net_abort_closes(sio_net *net) {
  net->abort_closes = 1;
  while (!sio_queue_empty(&net->closing_conns)) {
    sio_closing *cl =
        sio_container_of(sio_queue_head(&net->closing_conns), sio_closing, q);
    sio_conn_close(cl->c);
  }
  uv_timer_stop(&net->close_timer);
}

static void net_timer_closed(uv_handle_t *h) {
  sio_net *net = h->data;
  /* the prepare handle last: cb may free the memory net lives in */
  uv_close((uv_handle_t *)&net->flush, net->close_cb);
}

void sio_net_close(sio_net *net, void (*cb)(uv_handle_t *h)) {
  while (net->chunk_pool) {
    sio_chunk *ch = net->chunk_pool;
    net->chunk_pool = (sio_chunk *)ch->q.next;
    sio_free(ch);
  }
  net->npool = 0;
  net->closing = 1;
  sio_free(net->readbuf);
  net->readbuf = NULL;
  net->close_cb = cb;
  /* the owner may have repointed flush.data for cb: no more flushes */
  uv_prepare_stop(&net->flush);
  if (net->late) {
    sio_net **p;
    for (p = &late_nets; *p; p = &(*p)->late_next)
      if (*p == net) {
        *p = net->late_next;
        break;
      }
    net->late = 0;
  }
  net->close_timer.data = net;
  uv_close((uv_handle_t *)&net->close_timer, net_timer_closed);
}

/* The connection's own bytes past its handle: what a broadcast touches
 * per recipient. Grows only with a reason (a unix socket's larger handle
 * lives apart for this). */
_Static_assert(sizeof(sio_conn) - sizeof(uv_tcp_t) <= 136,
               "sio_conn grew");

static void conn_setup(sio_conn *c, sio_net *net, const sio_conn_ops *ops) {
  c->net = net;
  c->ops = ops;
  sio_queue_init(&c->outq);
  sio_queue_init(&c->dirty);
  net->nconns++;
}

int sio_conn_init(sio_conn *c, sio_net *net, const sio_conn_ops *ops) {
  memset(c, 0, sizeof(*c));
  if (uv_tcp_init(net->loop, &c->tcp))
    return SIO_ERR_IO;
  c->tcp.data = c;
  conn_setup(c, net, ops);
  return 0;
}

int sio_conn_init_pipe(sio_conn *c, sio_net *net, const sio_conn_ops *ops) {
  uv_pipe_t *p = sio_malloc(sizeof(*p));
  memset(c, 0, sizeof(*c));
  if (!p)
    return SIO_ERR_NOMEM;
  if (uv_pipe_init(net->loop, p, 0)) {
    sio_free(p);
    return SIO_ERR_IO;
  }
  p->data = c;
  c->pipe = p;
  c->is_pipe = 1;
  conn_setup(c, net, ops);
  return 0;
}

static void alloc_cb(uv_handle_t *h, size_t suggested, uv_buf_t *buf) {
  sio_conn *c = h->data;
  sio_net *net = c->net;
  (void)suggested;
  if (net->readbuf_busy || !net->readbuf) {
    buf->base = NULL;
    buf->len = 0;
    return;
  }
  net->readbuf_busy = 1;
  buf->base = (char *)net->readbuf;
  buf->len = net->readbuf_size;
}

/* A lingering close reads only to drop what arrives, until EOF or a
 * bound. Past SIO_LINGER_MAX_BYTES it stops reading rather than closing:
 * a close now would reset a peer that is still sending before it read our
 * last bytes (a WebSocket client would see 1006, not 1009); the deadline
 * closes it. */
static void linger_read(sio_conn *c, ssize_t n) {
  sio_closing *cl = c->cl;
  if (n > 0) {
    cl->discarded += (size_t)n;
    if (cl->discarded > SIO_LINGER_MAX_BYTES) {
      /* enough: the idle bound (no more reads now) or close_timeout_ms
       * ends the close, leaving the peer time to read our last bytes */
      c->reading = 0;
      uv_read_stop(sio_conn_stream(c));
    } else if (cl->shut) {
      linger_touch(c);
    }
    return;
  }
  if (n == 0 || n == UV_ENOBUFS)
    return;
  if (n != UV_EOF || cl->shut) {
    sio_conn_close(c); /* EOF after our FIN, or a read error */
    return;
  }
  /* The peer is done sending but may still read: finish the flush. */
  cl->eof = 1;
  c->reading = 0;
  uv_read_stop(sio_conn_stream(c));
}

static void read_cb(uv_stream_t *s, ssize_t n, const uv_buf_t *buf) {
  sio_conn *c = s->data;
  if (buf->base == (char *)c->net->readbuf)
    c->net->readbuf_busy = 0;
  if (c->cl && !c->closing) {
    if (n > 0)
      c->net->bytes_in += (uint64_t)n;
    linger_read(c, n);
    return;
  }
  if (n > 0) {
    c->net->bytes_in += (uint64_t)n;
    /* The buffer is marked free before the upcall: a nested read cannot
     * happen (libuv does not re-enter), and handlers consume synchronously. */
    if (c->ssl) {
      int rv = sio_tls_on_read(c, (const uint8_t *)buf->base, (size_t)n);
      if (rv < 0 && !c->closing) {
        sio_conn_close_after_flush(c);
        if (c->ops->on_error)
          c->ops->on_error(c, UV_EPROTO);
      }
      return;
    }
    c->ops->on_read(c, (const uint8_t *)buf->base, (size_t)n);
    return;
  }
  if (n == 0 || n == UV_ENOBUFS)
    return;
  if (!c->closing) {
    sio_conn_close(c);
    if (c->ops->on_error)
      c->ops->on_error(c, (int)n);
  }
}

int sio_conn_start(sio_conn *c) {
  struct sockaddr_storage ss;
  int len = sizeof(ss);
  if (!c->is_pipe) { /* a unix socket's remote is its path, set by sio_dial */
    c->remote[0] = '\0';
    if (uv_tcp_getpeername(&c->tcp, (struct sockaddr *)&ss, &len) == 0) {
      if (ss.ss_family == AF_INET6)
        uv_ip6_name((struct sockaddr_in6 *)&ss, c->remote, sizeof(c->remote));
      else
        uv_ip4_name((struct sockaddr_in *)&ss, c->remote, sizeof(c->remote));
    }
    uv_tcp_nodelay(&c->tcp, 1);
  }
  if (uv_read_start(sio_conn_stream(c), alloc_cb, read_cb))
    return SIO_ERR_IO;
  c->reading = 1;
  return 0;
}

int sio_conn_start_dialed(sio_conn *c) {
  int rv;
  c->writing = 0; /* sio_conn_hold_output */
  rv = sio_conn_start(c);
  if (!rv && c->ssl)
    rv = sio_tls_client_hello(c);
  if (rv)
    return rv;
  /* the ClientHello is taken from the SSL object ahead of any held
   * plaintext (tls_encrypt_queue) */
  if (c->ssl || !sio_queue_empty(&c->outq) || c->shutdown_after_flush)
    mark_dirty(c);
  return 0;
}

void sio_conn_flush_soon(sio_conn *c) {
  if (!c->closing)
    mark_dirty(c);
}

void sio_conn_pause(sio_conn *c) {
  if (c->reading && !c->closing && !c->cl) {
    uv_read_stop(sio_conn_stream(c));
    c->reading = 0;
  }
}

void sio_conn_resume(sio_conn *c) {
  if (!c->reading && !c->closing &&
      !(c->cl && c->cl->discarded > SIO_LINGER_MAX_BYTES)) {
    if (uv_read_start(sio_conn_stream(c), alloc_cb, read_cb) == 0)
      c->reading = 1;
  }
}

/* The prepare handle is referenced only while work waits for it, so a loop
 * with nothing else to do still runs it before exiting. */
static void mark_dirty(sio_conn *c) {
  sio_net *net = c->net;
  if (sio_queue_empty(&c->dirty) && !c->writing) {
    sio_queue_insert_tail(&net->dirty, &c->dirty);
    uv_ref((uv_handle_t *)&net->flush);
  }
  if (flush_depth && !net->in_flush && !net->late && !net->closing) {
    net->late = 1;
    net->late_next = late_nets;
    late_nets = net;
  }
}

static void enqueue(sio_conn *c, sio_chunk *ch) {
  sio_queue_insert_tail(&c->outq, &ch->q);
  c->out_bytes += ch->len;
  mark_dirty(c);
}

int sio_conn_write(sio_conn *c, const void *p, size_t n) {
  sio_chunk *ch;
  if (c->closing || c->shutdown_after_flush)
    return SIO_ERR_CLOSED;
  if (n == 0)
    return 0;
  ch = chunk_new(c->net);
  if (!ch)
    return SIO_ERR_NOMEM;
  ch->rc = NULL;
  ch->raw = 0;
  ch->done = 0;
  ch->len = n;
  ch->owned = 0;
  if (n <= SIO_INLINE_MAX) {
    memcpy(ch->small, p, n);
    ch->p = ch->small;
  } else {
    uint8_t *own = sio_malloc(n);
    if (!own) {
      chunk_free(c->net, ch);
      return SIO_ERR_NOMEM;
    }
    memcpy(own, p, n);
    ch->p = own;
    ch->owned = 1;
  }
  enqueue(c, ch);
  return 0;
}

int sio_conn_write_ref(sio_conn *c, sio_rcbuf *rc, const void *p, size_t n) {
  sio_chunk *ch;
  if (c->closing || c->shutdown_after_flush)
    return SIO_ERR_CLOSED;
  ch = chunk_new(c->net);
  if (!ch)
    return SIO_ERR_NOMEM;
  ch->rc = sio_rcbuf_ref(rc);
  ch->p = p;
  ch->len = n;
  ch->done = 0;
  ch->owned = 0;
  ch->raw = 0;
  enqueue(c, ch);
  return 0;
}

int sio_conn_write_raw(sio_conn *c, uint8_t *p, size_t n) {
  sio_chunk *ch;
  if (c->closing)
    return SIO_ERR_CLOSED;
  ch = chunk_new(c->net);
  if (!ch)
    return SIO_ERR_NOMEM;
  memset(ch, 0, sizeof(*ch));
  ch->p = p;
  ch->owned = 1;
  ch->len = n;
  ch->raw = 1;
  enqueue(c, ch);
  return 0;
}

/* Moves the ciphertext produced so far into a raw chunk at the tail of q. */
static int take_cipher(sio_conn *c, sio_queue *q) {
  size_t n;
  uint8_t *p = sio_tls_take_output(c, &n);
  sio_chunk *ch;
  if (!p)
    return n ? SIO_ERR_NOMEM : 0;
  ch = chunk_new(c->net);
  if (!ch) {
    sio_free(p);
    return SIO_ERR_NOMEM;
  }
  memset(ch, 0, sizeof(*ch));
  ch->p = p;
  ch->owned = 1;
  ch->len = n;
  ch->raw = 1;
  sio_queue_insert_tail(q, &ch->q);
  c->out_bytes += n;
  return 0;
}

/* TLS: encrypts queued plaintext in order, as far as the handshake allows;
 * plaintext that must wait stays queued behind the ciphertext. */
static int tls_encrypt_queue(sio_conn *c) {
  sio_queue nq;
  int stuck = 0, rv = 0;
  sio_queue_init(&nq);
  while (!sio_queue_empty(&c->outq)) {
    sio_queue *q = sio_queue_head(&c->outq);
    sio_chunk *ch = sio_container_of(q, sio_chunk, q);
    sio_queue_remove(q);
    if (ch->raw || stuck || rv) {
      if (!rv)
        rv = take_cipher(c, &nq);
      sio_queue_insert_tail(&nq, q);
      continue;
    }
    rv = sio_tls_encrypt(c, ch->p, ch->len);
    if (rv == SIO_ERR_AGAIN) {
      stuck = 1;
      rv = take_cipher(c, &nq);
      sio_queue_insert_tail(&nq, q);
      continue;
    }
    c->out_bytes -= ch->len;
    chunk_free(c->net, ch);
  }
  if (!rv && !stuck && c->shutdown_after_flush && !c->tls_notified) {
    /* closing: close_notify goes after the last data record */
    c->tls_notified = 1;
    sio_tls_shutdown(c);
  }
  if (!rv)
    rv = take_cipher(c, &nq);
  /* splice nq back into outq */
  if (!sio_queue_empty(&nq)) {
    c->outq.next = nq.next;
    c->outq.prev = nq.prev;
    nq.next->prev = &c->outq;
    nq.prev->next = &c->outq;
  }
  return rv;
}

static void start_write(sio_conn *c);

static void shutdown_cb(uv_shutdown_t *req, int status) {
  sio_conn *c = req->data;
  if (c->closing)
    return; /* close_cb frees the close state */
  if (status < 0 || c->cl->eof)
    sio_conn_close(c);
  /* else: FIN sent; the peer's EOF, a bound or the deadline closes */
}

/* Everything is written: half-close, or close if the peer has already
 * sent its EOF (nothing is left to drain). */
static void linger_shutdown(sio_conn *c) {
  sio_closing *cl = c->cl;
  if (!cl || cl->eof) {
    sio_conn_close(c);
    return;
  }
  if (cl->shut)
    return;
  cl->shut = 1;
  cl->req.data = c;
  if (uv_shutdown(&cl->req, sio_conn_stream(c), shutdown_cb)) {
    sio_conn_close(c);
    return;
  }
  linger_touch(c);
}

/* Releases n written bytes from the head of the queue; a chunk written in
 * part keeps its offset. */
static void consume(sio_conn *c, size_t n) {
  while (n) {
    sio_queue *q = sio_queue_head(&c->outq);
    sio_chunk *ch = sio_container_of(q, sio_chunk, q);
    size_t left = ch->len - ch->done;
    if (n < left) {
      ch->done += n;
      c->out_bytes -= n;
      c->net->bytes_out += n;
      return;
    }
    n -= left;
    c->out_bytes -= left;
    c->net->bytes_out += left;
    sio_queue_remove(q);
    chunk_free(c->net, ch);
  }
}

static void write_cb(uv_write_t *req, int status) {
  sio_conn *c = req->data;
  size_t n = c->inflight;
  sio_free(req);
  c->inflight = 0;
  c->writing = 0;
  if (c->closing)
    return; /* close_cb frees the queue */
  if (status < 0) {
    sio_conn_close(c);
    if (c->ops->on_error)
      c->ops->on_error(c, status);
    return;
  }
  consume(c, n);
  start_write(c);
}

/* Fills iov with the chunks ready to go (all of them, or under TLS the
 * sealed ones), past what an earlier partial write took; returns the
 * count and the bytes in *bytes. */
static size_t build_iov(sio_conn *c, uv_buf_t *iov, size_t *bytes) {
  sio_queue *q;
  size_t n = 0;
  *bytes = 0;
  sio_queue_foreach(q, &c->outq) {
    sio_chunk *ch = sio_container_of(q, sio_chunk, q);
    if ((c->ssl && !ch->raw) || n == SIO_MAX_IOV)
      break;
    iov[n++] =
        uv_buf_init((char *)ch->p + ch->done, (unsigned)(ch->len - ch->done));
    *bytes += ch->len - ch->done;
  }
  return n;
}

/* Writes what is queued: first straight away with uv_try_write (no request,
 * no completion callback: the common case for a fast reader), then, for
 * what the kernel did not take, one uv_write whose callback continues. */
static void start_write(sio_conn *c) {
  uv_buf_t iov[SIO_MAX_IOV]; /* uv_write copies the array */
  uv_write_t *req; /* freed by write_cb, which always runs (ECANCELED on
                      close) */
  size_t n, bytes;
  int r;
  for (;;) {
    if (c->writing || c->closing)
      return;
    if (c->ssl && tls_encrypt_queue(c)) {
      sio_conn_close(c);
      if (c->ops->on_error)
        c->ops->on_error(c, UV_EPROTO);
      return;
    }
    if (sio_queue_empty(&c->outq)) {
      if (c->shutdown_after_flush)
        linger_shutdown(c);
      else if (c->ops->on_drain && !c->moving)
        c->ops->on_drain(c);
      return;
    }
    n = build_iov(c, iov, &bytes);
    if (!n)
      return; /* TLS: plaintext waits for the handshake */
    r = uv_try_write(sio_conn_stream(c), iov, (unsigned)n);
    if (r == UV_EAGAIN || r == UV_ENOSYS)
      r = 0;
    if (r < 0) {
      sio_conn_close(c);
      if (c->ops->on_error)
        c->ops->on_error(c, r);
      return;
    }
    consume(c, (size_t)r);
    if ((size_t)r == bytes)
      continue; /* all taken: more may be ready (TLS), or it is drained */
    n = build_iov(c, iov, &bytes);
    req = sio_malloc(sizeof(*req));
    if (!req) {
      sio_conn_close(c);
      if (c->ops->on_error)
        c->ops->on_error(c, UV_ENOMEM);
      return;
    }
    req->data = c;
    c->inflight = bytes;
    if (uv_write(req, sio_conn_stream(c), iov, (unsigned)n, write_cb)) {
      sio_free(req);
      c->inflight = 0;
      sio_conn_close(c);
      if (c->ops->on_error)
        c->ops->on_error(c, UV_EIO);
      return;
    }
    c->writing = 1;
    return;
  }
}

void sio_net_defer(sio_net *net, sio_defer *d, void (*fn)(sio_defer *d)) {
  d->fn = fn;
  if (sio_queue_empty(&d->q))
    sio_queue_insert_tail(&net->deferred, &d->q);
  uv_ref((uv_handle_t *)&net->flush);
}

static void flush_cb(uv_prepare_t *h) { sio_net_flush(h->data); }

void sio_net_flush(sio_net *net) {
  flush_depth++;
  net->in_flush = 1;
  while (!sio_queue_empty(&net->deferred)) {
    sio_queue *q = sio_queue_head(&net->deferred);
    sio_defer *d = sio_container_of(q, sio_defer, q);
    sio_queue_remove(q);
    d->fn(d);
  }
  while (!sio_queue_empty(&net->dirty)) {
    sio_queue *q = sio_queue_head(&net->dirty);
    sio_conn *c = sio_container_of(q, sio_conn, dirty);
    sio_queue_remove(q);
    start_write(c);
  }
  if (!net->closing)
    uv_unref((uv_handle_t *)&net->flush);
  net->in_flush = 0;
  if (--flush_depth == 0) {
    while (late_nets) {
      sio_net *n = late_nets;
      late_nets = n->late_next;
      n->late = 0;
      sio_net_flush(n);
    }
  }
}

static void close_cb(uv_handle_t *h) {
  sio_conn *c = h->data;
  sio_queue *q, *n;
  sio_queue_foreach_safe(q, n, &c->outq) {
    sio_queue_remove(q);
    chunk_free(c->net, sio_container_of(q, sio_chunk, q));
  }
  c->out_bytes = 0;
  sio_tls_free(c);
  sio_free(c->cl);
  c->cl = NULL;
  c->net->nconns--;
  if (c->is_pipe)
    sio_free(c->pipe); /* freeing in its close callback is allowed */
  c->ops->on_close(c);
}

void sio_conn_close(sio_conn *c) {
  if (c->closing)
    return;
  c->closing = 1;
  sio_queue_remove(&c->dirty);
  if (c->cl) {
    /* freed in close_cb, after shutdown_cb */
    sio_queue_remove(&c->cl->q);
    sio_queue_remove(&c->cl->idle_q);
  }
  /* A write in flight completes with UV_ECANCELED before close_cb; its
   * chunks are released there, the rest in close_cb. */
  uv_close((uv_handle_t *)sio_conn_stream(c), close_cb);
}

int sio_conn_hand_off(sio_conn *c, sio_handoff *h) {
  uv_os_fd_t fd;
  if (c->closing || c->is_pipe || c->dialing || c->cl ||
      c->shutdown_after_flush)
    return SIO_ERR_STATE;
  if (!c->writing && (c->out_bytes || !sio_queue_empty(&c->outq))) {
    c->moving = 1;
    start_write(c);
    c->moving = 0;
  }
  if (c->closing || c->writing || c->out_bytes || !sio_queue_empty(&c->outq))
    return SIO_ERR_STATE;
  if (uv_fileno((const uv_handle_t *)&c->tcp, &fd))
    return SIO_ERR_IO;
  h->fd = dup(fd);
  if (h->fd < 0)
    return SIO_ERR_IO;
  /* the duplicate keeps the socket open while this handle closes; its
   * TLS session goes with it, so close_cb frees nothing of it */
  h->ssl = c->ssl;
  c->ssl = NULL;
  memcpy(h->remote, c->remote, sizeof(h->remote));
  if (c->reading) {
    uv_read_stop(sio_conn_stream(c));
    c->reading = 0;
  }
  sio_conn_close(c);
  return 0;
}

void sio_handoff_drop(sio_handoff *h) {
  if (h->fd >= 0)
    close(h->fd);
  h->fd = -1;
  sio_tls_free_session(h->ssl);
  h->ssl = NULL;
}

int sio_conn_take_over(sio_conn *c, sio_net *net, const sio_conn_ops *ops,
                       sio_handoff *h) {
  int rv = sio_conn_init(c, net, ops);
  if (rv) {
    sio_handoff_drop(h);
    return rv;
  }
  if (uv_tcp_open(&c->tcp, h->fd)) {
    sio_handoff_drop(h);
    sio_conn_close(c); /* its on_close runs: the caller owns c there */
    return SIO_ERR_CLOSED;
  }
  h->fd = -1;
  c->ssl = h->ssl;
  h->ssl = NULL;
  memcpy(c->remote, h->remote, sizeof(c->remote));
  uv_tcp_nodelay(&c->tcp, 1);
  if (uv_read_start(sio_conn_stream(c), alloc_cb, read_cb)) {
    sio_conn_close(c);
    return SIO_ERR_CLOSED;
  }
  c->reading = 1;
  if (sio_tls_has_output(c->ssl))
    mark_dirty(c);
  return 0;
}

void sio_conn_close_after_flush(sio_conn *c) {
  sio_net *net = c->net;
  sio_closing *cl;
  if (c->closing || c->cl)
    return;
  if (c->dialing) {
    sio_conn_close(c); /* no peer yet to flush to (sio_dial.h) */
    return;
  }
  cl = sio_malloc(sizeof(*cl));
  if (!cl) {
    sio_conn_close(c);
    return;
  }
  memset(cl, 0, sizeof(*cl));
  sio_queue_init(&cl->idle_q);
  cl->c = c;
  /* the loop's time may be stale by a long iteration (a big write before
   * this close): the bound is real time from now */
  uv_update_time(net->loop);
  cl->deadline =
      uv_now(net->loop) + (net->abort_closes ? 0 : net->close_timeout_ms);
  c->cl = cl;
  sio_queue_insert_tail(&net->closing_conns, &cl->q);
  if (sio_queue_head(&net->closing_conns) == &cl->q)
    arm_close_timer(net);
  c->shutdown_after_flush = 1;
  /* Keep reading (and discarding): a peer still sending would otherwise
   * fill our receive buffer, and the final close would reset it. */
  sio_conn_resume(c);
  /* The next flush writes what is queued (TLS: seals close_notify after
   * it), then half-closes. */
  mark_dirty(c);
}
