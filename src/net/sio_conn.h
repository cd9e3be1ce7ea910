#ifndef SIO_CONN_H
#define SIO_CONN_H

/* One TCP connection (or, dialed, a unix socket one): reads into a
 * loop-wide shared buffer, an output queue of chunks (copied bytes, or a span of a shared sio_rcbuf held by
 * reference; one iovec each), written as one writev per flush (uv_try_write
 * first, then at most one uv_write in flight for what the kernel did not take),
 * and a close lifecycle. Writes made during a loop iteration
 * are flushed once, from a uv_prepare_t (redis flush-before-sleep). With
 * sio_listener.c and sio_dial.c this is the only code that touches
 * sockets. */

#include <stddef.h>
#include <stdint.h>
#include <uv.h>

#include "sio_queue.h"
#include "sio_rcbuf.h"

typedef struct sio_conn sio_conn;
typedef struct sio_net sio_net;

typedef struct sio_conn_ops {
  /* Bytes arrived; data is borrowed (the shared read buffer). */
  void (*on_read)(sio_conn *c, const uint8_t *data, size_t len);
  /* The peer closed or a read/write failed (status is a libuv error or
   * UV_EOF). The connection is already closing. May be NULL. */
  void (*on_error)(sio_conn *c, int status);
  /* Every queued byte has been written. May be NULL. */
  void (*on_drain)(sio_conn *c);
  /* The handle is closed; the owner frees the object here. Runs once. */
  void (*on_close)(sio_conn *c);
} sio_conn_ops;

/* Work deferred to the end of the loop iteration (redis freeClientAsync):
 * runs from the prepare callback, before output is flushed. */
typedef struct sio_defer {
  sio_queue q;
  void (*fn)(struct sio_defer *d);
} sio_defer;

/* Default bound of every wait in a close (flush, then linger), ms. */
#define SIO_CLOSE_TIMEOUT_DEFAULT 5000
/* Input a lingering close reads and discards before it gives up waiting
 * for the peer's EOF and closes anyway. Large enough for what a peer has
 * in flight when it learns of the close (Linux's largest autotuned send
 * buffer is 4 MiB) and for a request body over the limit that is still
 * being sent (a 2 MB POST must get its 413, not a reset); reading into
 * the shared read buffer costs no memory, and close_timeout_ms bounds the
 * time. */
#define SIO_LINGER_MAX_BYTES (4u * 1024u * 1024u)
/* Once our FIN is out, how long the peer may stay silent before the close
 * ends without its EOF (nginx's lingering_timeout): a peer still sending
 * keeps sending within a round trip, while an idle keep-alive client (a
 * pooled HTTP connection) may never read its socket again. Capped by
 * close_timeout_ms. */
#define SIO_LINGER_IDLE_MS 1000

/* Loop-wide state shared by all connections of one server. */
struct sio_net {
  uv_loop_t *loop;
  uv_prepare_t flush;
  /* Closing connections, oldest first: every close waits the same bound,
   * so one timer armed for the head serves them all. */
  uv_timer_t close_timer;
  sio_queue closing_conns;
  sio_queue lingering; /* FIN sent, waiting for the peer: by idle deadline */
  uint64_t close_timeout_ms; /* SIO_CLOSE_TIMEOUT_DEFAULT unless set */
  uint64_t close_timeouts;   /* closes cut short by close_timeout_ms */
  int abort_closes;          /* sio_net_abort_closes: no more waiting */
  void (*close_cb)(uv_handle_t *h);
  sio_queue deferred; /* sio_defer list */
  sio_queue dirty;    /* connections with unflushed output */
  /* dirtied while another net's prepare callback ran (this one's may
   * have run already this iteration): flushed before that callback
   * returns, not after the next poll */
  struct sio_net *late_next;
  uint8_t late;
  uint8_t in_flush;
  size_t nconns;
  int closing;
  uint64_t bytes_in;  /* counters for metrics */
  uint64_t bytes_out;
  uint8_t *readbuf; /* shared: reads are handled synchronously */
  size_t readbuf_size;
  int readbuf_busy;
  struct sio_chunk *chunk_pool; /* freed output chunks for reuse */
  size_t npool;
};

struct ssl_st;

struct sio_conn {
  /* First; the handle's data points at the conn. A unix socket
   * (sio_dial.h) has its uv_pipe_t allocated apart, since a uv_pipe_t is
   * 16 bytes larger than a uv_tcp_t and every accepted connection would
   * carry them: sio_conn_stream() is the view both share. */
  union {
    uv_tcp_t tcp;
    uv_pipe_t *pipe; /* with is_pipe */
  };
  /* What queueing a write and flushing it touch, together (61 bytes): a
   * broadcast does that once per recipient, so this is one or two cache
   * lines per delivery rather than scattered ones. */
  sio_queue outq;      /* sio_chunk list, oldest first */
  sio_queue dirty;     /* link in net->dirty when output waits */
  size_t out_bytes;    /* unsent bytes, in flight included */
  sio_net *net;
  const sio_conn_ops *ops;
  uint8_t writing;
  uint8_t closing;
  uint8_t shutdown_after_flush;
  uint8_t reading;
  uint8_t tls_notified; /* close_notify sealed */
  uint8_t is_pipe;      /* a unix socket: the handle is *pipe */
  uint8_t dialing;      /* sio_dial: connecting or in the TLS handshake */
  uint8_t moving;       /* sio_conn_hand_off flushing: no on_drain */
  size_t inflight;      /* bytes in the uv_write in flight */
  struct ssl_st *ssl;   /* TLS session (sio_tls.c), NULL for plain TCP */
  /* Allocated only while a graceful close runs (sio_conn.c). */
  struct sio_closing *cl;
  /* No uv_write_t here (192 bytes per connection): one is allocated only
   * while a write waits for the kernel, which uv_try_write makes rare. */
  char remote[46];     /* peer address text; a unix socket's path */
};

static inline uv_stream_t *sio_conn_stream(sio_conn *c) {
  return c->is_pipe ? (uv_stream_t *)c->pipe : (uv_stream_t *)&c->tcp;
}

/* Initialises the shared state on loop. Returns 0, SIO_ERR_NOMEM, SIO_ERR_IO. */
int sio_net_init(sio_net *net, uv_loop_t *loop);
/* Sets the bound of a graceful close, ms; 0 restores the default (a close
 * is never left unbounded). Applies to closes started afterwards. */
void sio_net_set_close_timeout(sio_net *net, uint64_t ms);
/* Closes the prepare and timer handles; every connection must be closed
 * first. cb runs once, for the prepare handle, after both are closed (may be
 * NULL). */
void sio_net_close(sio_net *net, void (*cb)(uv_handle_t *h));

/* Runs d->fn(d) before this iteration's flush; a pending d is not queued
 * twice. */
void sio_net_defer(sio_net *net, sio_defer *d, void (*fn)(sio_defer *d));
static inline void sio_defer_init(sio_defer *d) { sio_queue_init(&d->q); }
/* Cancels a pending deferral (no-op when not pending). */
static inline void sio_defer_cancel(sio_defer *d) { sio_queue_remove(&d->q); }
/* Runs deferred work and starts the writes of dirty connections now. */
void sio_net_flush(sio_net *net);

/* Initialises c's handle on net's loop (c is caller-allocated, usually the
 * first member of a larger struct). Returns 0 or SIO_ERR_IO; on error c
 * needs no cleanup. ops is borrowed for c's life. */
int sio_conn_init(sio_conn *c, sio_net *net, const sio_conn_ops *ops);
/* After uv_accept: records the peer address and starts reading.
 * Returns 0 or SIO_ERR_IO (then close with sio_conn_close). */
int sio_conn_start(sio_conn *c);

/* Used by sio_dial.c. */
/* Like sio_conn_init for a unix socket: the uv_pipe_t is allocated, and
 * freed with the connection. Returns 0 or SIO_ERR_NOMEM. */
int sio_conn_init_pipe(sio_conn *c, sio_net *net, const sio_conn_ops *ops);
/* Output written to a connection still connecting waits (c->writing holds
 * it, at no cost to the write path) until sio_conn_start_dialed. */
static inline void sio_conn_hold_output(sio_conn *c) { c->writing = 1; }
/* The handle is connected (with TLS, the client SSL attached): starts
 * reading, kicks off the TLS handshake, and lets the held output (behind
 * the ClientHello) leave with the next flush. Returns 0, SIO_ERR_IO or
 * SIO_ERR_PROTO (then close with sio_conn_close). */
int sio_conn_start_dialed(sio_conn *c);
/* Starts a write at the next flush (no-op once closing): TLS records left
 * in the SSL object then leave ahead of the plaintext queued after them. */
void sio_conn_flush_soon(sio_conn *c);
/* Queues n bytes (copied). Returns 0, SIO_ERR_CLOSED, SIO_ERR_NOMEM. */
int sio_conn_write(sio_conn *c, const void *p, size_t n);
/* Queues the n bytes at p, which lie inside rc's allocation (its head and
 * data), without copying them: a reference to rc is taken and dropped once
 * they are written. Returns 0, SIO_ERR_CLOSED, SIO_ERR_NOMEM. */
int sio_conn_write_ref(sio_conn *c, sio_rcbuf *rc, const void *p, size_t n);
/* Queues n bytes that must not be encrypted (TLS records); takes
 * ownership of p (allocated with sio_malloc) on success. Returns 0,
 * SIO_ERR_CLOSED or SIO_ERR_NOMEM. */
int sio_conn_write_raw(sio_conn *c, uint8_t *p, size_t n);
/* Closes now, dropping unsent output (the kernel resets the connection if
 * unread input is pending). on_close follows. Idempotent. */
void sio_conn_close(sio_conn *c);
/* The graceful close (SPEC §2 "Close semantics"): no more writes are
 * accepted; every queued byte is written (TLS: then close_notify), the
 * write side is shut down (FIN), and input is read and discarded until the
 * peer's EOF (after SIO_LINGER_MAX_BYTES of it, no more is read), for
 * SIO_LINGER_IDLE_MS without input after the FIN, or until
 * net->close_timeout_ms after this call, whichever is first; then the
 * handle closes and on_close runs.
 * A close cut short by the timeout counts in net->close_timeouts. Without
 * memory for the close state it closes at once. Idempotent; on_read is
 * not called again. */
void sio_conn_close_after_flush(sio_conn *c);
/* Ends every graceful close still running now, and gives those started
 * later one loop iteration to write what the kernel takes at once (a
 * second SIGTERM: shut down now). */
void sio_net_abort_closes(sio_net *net);
/* A connection on its way from one loop to another (issue 12: a request
 * for a session another loop owns goes to that loop with its connection):
 * a duplicate of its descriptor and its TLS session, nothing else; what
 * was read but not used travels with it at the layer above. */
typedef struct sio_handoff {
  uv_os_fd_t fd; /* -1: none */
  struct ssl_st *ssl;
  char remote[46];
} sio_handoff;
/* Takes c's socket into h and closes c without touching the socket (no
 * FIN, no close_notify; on_close follows as for any close). Output queued
 * but not yet written (a TLS 1.3 server's session tickets, sealed by the
 * handshake that read this request) is written first, as far as the
 * kernel takes it at once. Only a TCP connection with nothing left queued
 * or in flight then, not closing: returns 0, SIO_ERR_STATE (otherwise: c
 * unchanged) or SIO_ERR_IO (dup failed: c unchanged). */
int sio_conn_hand_off(sio_conn *c, sio_handoff *h);
/* On the loop of net (its thread): c, uninitialised, becomes the
 * connection of h and starts reading (TLS records the session still holds
 * go out with the next flush). h is emptied either way. Returns 0;
 * SIO_ERR_IO when no handle could be made (nothing to close); or
 * SIO_ERR_CLOSED when it failed once c was set up: c is closing and its
 * on_close runs, as for any connection of net. */
int sio_conn_take_over(sio_conn *c, sio_net *net, const sio_conn_ops *ops,
                       sio_handoff *h);
/* Closes what h holds (a handoff that cannot be delivered). */
void sio_handoff_drop(sio_handoff *h);

/* Stops / resumes reading (backpressure, held requests). */
void sio_conn_pause(sio_conn *c);
void sio_conn_resume(sio_conn *c);
static inline size_t sio_conn_pending(const sio_conn *c) {
  return c->out_bytes;
}

#endif
