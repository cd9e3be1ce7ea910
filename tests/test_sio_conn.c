/* test_sio_conn.c: the close path of sio_conn over a real loopback TCP
 * pair. The server side runs on a uv loop in the test's thread; the peer is
 * a plain socket driven from a second thread, and what it reads (bytes,
 * FIN or RST) is what the assertions check. Every wait is bounded: a guard
 * timer ends the loop after GUARD_MS and fails the test. */
#include <check.h>
#include <errno.h>
#include <fcntl.h>
#include <arpa/inet.h>
#include <netinet/in.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <time.h>
#include <unistd.h>
#include <uv.h>

#include "check_suites.h"
#include "sio_conn.h"
#include "sio_listener.h"
#include "sio_mailbox.h"
#include "sio_int.h"
#include "sio_mem.h"

#define GUARD_MS 4000

/* PEER_IDLE sends one chunk, then only reads, and never closes: a pooled
 * keep-alive HTTP client. */
enum { PEER_SEND_AND_READ, PEER_NO_READ, PEER_FLOOD_IGNORE_EOF, PEER_IDLE };

typedef struct tctx tctx;
typedef struct tconn {
  sio_conn base;
  tctx *t;
} tconn;

struct tctx {
  uv_loop_t loop;
  sio_net net;
  uv_tcp_t lsn;
  uv_timer_t guard;
  int port;
  tconn *conn;
  /* server side */
  size_t out_len;        /* bytes queued before the close */
  size_t close_after_in; /* start the close once this much input arrived */
  size_t in_bytes;
  int abort_after; /* sio_conn_close right after the graceful close */
  int double_close;
  int write_after_close_rv;
  int closes;
  int timed_out;
  uint64_t close_start, close_end; /* uv_hrtime, ns */
  /* peer */
  int mode;
  pthread_t th;
  atomic_int stop;
  size_t peer_got, peer_sent;
  int peer_eof, peer_reset, peer_bad;
};

static uint8_t pat(size_t i) { return (uint8_t)(i * 7 + 3); }

static void lsn_closed(uv_handle_t *h) { (void)h; }

static void finish(tctx *t) {
  if (!uv_is_closing((uv_handle_t *)&t->guard))
    uv_close((uv_handle_t *)&t->guard, NULL);
  if (!uv_is_closing((uv_handle_t *)&t->lsn))
    uv_close((uv_handle_t *)&t->lsn, lsn_closed);
  sio_net_close(&t->net, NULL);
}

static void on_close(sio_conn *c) {
  tconn *tc = (tconn *)c;
  tctx *t = tc->t;
  t->closes++;
  t->close_end = uv_hrtime();
  t->conn = NULL;
  sio_free(tc);
  finish(t);
}

static void start_close(tctx *t) {
  sio_conn *c = &t->conn->base;
  uint8_t *buf = sio_malloc(t->out_len);
  size_t i;
  ck_assert_ptr_nonnull(buf);
  for (i = 0; i < t->out_len; i++)
    buf[i] = pat(i);
  ck_assert_int_eq(sio_conn_write(c, buf, t->out_len), 0);
  sio_free(buf);
  t->close_start = uv_hrtime();
  sio_conn_close_after_flush(c);
  if (t->double_close)
    sio_conn_close_after_flush(c);
  t->write_after_close_rv = sio_conn_write(c, "x", 1);
  if (t->abort_after)
    sio_conn_close(c);
}

static void on_read(sio_conn *c, const uint8_t *d, size_t n) {
  tctx *t = ((tconn *)c)->t;
  size_t before = t->in_bytes;
  (void)d;
  t->in_bytes += n;
  if (before < t->close_after_in && t->in_bytes >= t->close_after_in)
    start_close(t);
}

static void on_error(sio_conn *c, int status) {
  (void)c;
  (void)status;
}

static const sio_conn_ops ops = {on_read, on_error, NULL, on_close};

static void on_accept(uv_stream_t *s, int status) {
  tctx *t = s->data;
  tconn *tc;
  ck_assert_int_eq(status, 0);
  tc = sio_malloc(sizeof(*tc));
  ck_assert_ptr_nonnull(tc);
  ck_assert_int_eq(sio_conn_init(&tc->base, &t->net, &ops), 0);
  tc->t = t;
  t->conn = tc;
  ck_assert_int_eq(uv_accept(s, (uv_stream_t *)&tc->base.tcp), 0);
  ck_assert_int_eq(sio_conn_start(&tc->base), 0);
  uv_close((uv_handle_t *)&t->lsn, lsn_closed); /* one connection */
}

static void guard_cb(uv_timer_t *h) {
  tctx *t = h->data;
  t->timed_out = 1;
  if (t->conn)
    sio_conn_close(&t->conn->base); /* on_close finishes */
  else
    finish(t);
}

static uint64_t ms_now(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

/* Reads what is there without blocking; checks the byte pattern. Returns
 * 1 on EOF or reset, 0 otherwise. */
static int peer_read(tctx *t, int fd) {
  uint8_t buf[65536];
  for (;;) {
    ssize_t n = recv(fd, buf, sizeof(buf), MSG_DONTWAIT);
    if (n > 0) {
      ssize_t i;
      for (i = 0; i < n; i++)
        if (buf[i] != pat(t->peer_got + (size_t)i))
          t->peer_bad = 1;
      t->peer_got += (size_t)n;
      continue;
    }
    if (n == 0) {
      t->peer_eof = 1;
      return 1;
    }
    if (errno == EAGAIN || errno == EWOULDBLOCK)
      return 0;
    if (errno == ECONNRESET)
      t->peer_reset = 1;
    return 1;
  }
}

static void *peer_main(void *ud) {
  tctx *t = ud;
  struct sockaddr_in sa;
  uint8_t chunk[512];
  uint64_t end = ms_now() + GUARD_MS + 1000;
  int fd = socket(AF_INET, SOCK_STREAM, 0);
  memset(chunk, 'p', sizeof(chunk));
  if (t->mode == PEER_NO_READ) {
    int sz = 4096;
    setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &sz, sizeof(sz));
  }
  memset(&sa, 0, sizeof(sa));
  sa.sin_family = AF_INET;
  sa.sin_port = htons((uint16_t)t->port);
  sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  if (connect(fd, (struct sockaddr *)&sa, sizeof(sa)) != 0) {
    close(fd);
    return NULL;
  }
  while (ms_now() < end && !atomic_load(&t->stop)) {
    ssize_t n;
    if (t->mode != PEER_NO_READ && peer_read(t, fd) &&
        (t->mode == PEER_SEND_AND_READ || t->peer_reset))
      break;
    if (t->mode == PEER_FLOOD_IGNORE_EOF && t->peer_sent >= 4096 &&
        t->peer_got < t->out_len) {
      /* read the server's last bytes first: the reset that ends a flood
       * makes the kernel drop what was not yet read */
      usleep(1000);
      continue;
    }
    if ((t->mode == PEER_NO_READ || t->mode == PEER_IDLE) &&
        t->peer_sent >= sizeof(chunk)) {
      usleep(1000);
      continue;
    }
    n = send(fd, chunk, sizeof(chunk), MSG_DONTWAIT | MSG_NOSIGNAL);
    if (n > 0)
      t->peer_sent += (size_t)n;
    else if (n < 0 && errno != EAGAIN && errno != EWOULDBLOCK) {
      if (errno == ECONNRESET)
        t->peer_reset = 1;
      if (t->mode == PEER_FLOOD_IGNORE_EOF)
        break;
    }
    if (t->mode == PEER_SEND_AND_READ)
      usleep(500);
  }
  if (t->peer_eof && t->mode == PEER_SEND_AND_READ) {
    /* our EOF ends the server's linger; then its close must be clean */
    shutdown(fd, SHUT_WR);
    while (ms_now() < end && !atomic_load(&t->stop)) {
      char b[256];
      ssize_t n = recv(fd, b, sizeof(b), MSG_DONTWAIT);
      if (n < 0 && errno == ECONNRESET) {
        t->peer_reset = 1;
        break;
      }
      usleep(1000);
    }
  }
  close(fd);
  return NULL;
}

static void run(tctx *t, uint64_t close_timeout_ms) {
  struct sockaddr_in sa;
  struct sockaddr_storage ss;
  int len = sizeof(ss);
  ck_assert_int_eq(uv_loop_init(&t->loop), 0);
  ck_assert_int_eq(sio_net_init(&t->net, &t->loop), 0);
  sio_net_set_close_timeout(&t->net, close_timeout_ms);
  ck_assert_int_eq(uv_tcp_init(&t->loop, &t->lsn), 0);
  t->lsn.data = t;
  uv_ip4_addr("127.0.0.1", 0, &sa);
  ck_assert_int_eq(uv_tcp_bind(&t->lsn, (struct sockaddr *)&sa, 0), 0);
  ck_assert_int_eq(uv_listen((uv_stream_t *)&t->lsn, 8, on_accept), 0);
  uv_tcp_getsockname(&t->lsn, (struct sockaddr *)&ss, &len);
  t->port = ntohs(((struct sockaddr_in *)&ss)->sin_port);
  uv_timer_init(&t->loop, &t->guard);
  t->guard.data = t;
  uv_timer_start(&t->guard, guard_cb, GUARD_MS, 0);
  atomic_init(&t->stop, 0);
  ck_assert_int_eq(pthread_create(&t->th, NULL, peer_main, t), 0);
  uv_run(&t->loop, UV_RUN_DEFAULT);
  atomic_store(&t->stop, 1);
  pthread_join(t->th, NULL);
  ck_assert_int_eq(uv_loop_close(&t->loop), 0);
}

static double close_ms(const tctx *t) {
  return (double)(t->close_end - t->close_start) / 1e6;
}

/* The peer keeps sending while the server closes with 4 MB queued: it must
 * read every byte, then a FIN, never a reset. Before the lingering close
 * the server stopped reading and closed with input unread: RST. */
START_TEST(close_while_peer_sends_delivers_all_then_fin) {
  tctx t;
  memset(&t, 0, sizeof(t));
  t.mode = PEER_SEND_AND_READ;
  t.out_len = 4u << 20;
  t.close_after_in = 4096;
  run(&t, 2000);
  ck_assert_int_eq(t.timed_out, 0);
  ck_assert_int_eq(t.closes, 1);
  ck_assert_int_eq(t.peer_bad, 0);
  ck_assert_uint_eq(t.peer_got, t.out_len);
  ck_assert_int_eq(t.peer_reset, 0);
  ck_assert_int_eq(t.peer_eof, 1);
  ck_assert_uint_eq(t.net.close_timeouts, 0);
}
END_TEST

/* A peer that stops reading with 8 MB queued for it: the connection and
 * its fd go within close_timeout_ms of the close, counted as a timeout. */
START_TEST(peer_not_reading_is_closed_at_timeout) {
  tctx t;
  double ms;
  memset(&t, 0, sizeof(t));
  t.mode = PEER_NO_READ;
  t.out_len = 8u << 20;
  t.close_after_in = 1;
  run(&t, 200);
  ms = close_ms(&t);
  ck_assert_int_eq(t.timed_out, 0);
  ck_assert_int_eq(t.closes, 1);
  ck_assert_uint_eq(t.net.close_timeouts, 1);
  ck_assert_msg(ms >= 150 && ms < 1000, "closed after %.1f ms", ms);
  ck_assert_uint_lt(t.peer_got, t.out_len);
}
END_TEST

/* A peer that floods and never sends EOF: after SIO_LINGER_MAX_BYTES of
 * discarded input the linger stops reading but does not close (a close
 * then would reset a peer that has not yet read our last bytes); the
 * deadline ends it, and the peer has read everything first. */
START_TEST(linger_bounded_in_bytes) {
  tctx t;
  double ms;
  memset(&t, 0, sizeof(t));
  t.mode = PEER_FLOOD_IGNORE_EOF;
  t.out_len = 1000;
  t.close_after_in = 4096;
  run(&t, 300);
  ms = close_ms(&t);
  ck_assert_int_eq(t.timed_out, 0);
  ck_assert_int_eq(t.closes, 1);
  ck_assert_uint_eq(t.net.close_timeouts, 1);
  ck_assert_uint_ge(t.peer_sent, SIO_LINGER_MAX_BYTES);
  ck_assert_uint_eq(t.peer_got, t.out_len);
  ck_assert_msg(ms >= 250 && ms < 2000, "closed after %.1f ms", ms);
}
END_TEST

/* Closing twice is one close: writes are refused, on_close runs once, the
 * peer still gets everything and a FIN. */
/* A peer that read everything but stays silent and never closes (a pooled
 * HTTP connection, idle on the client) ends the linger after
 * SIO_LINGER_IDLE_MS, not at close_timeout_ms: a drain is not held for it,
 * and that close is complete, not cut short. */
START_TEST(silent_peer_ends_linger_when_idle) {
  tctx t;
  double ms;
  memset(&t, 0, sizeof(t));
  t.mode = PEER_IDLE;
  t.out_len = 10000;
  t.close_after_in = 512;
  run(&t, 60000);
  ms = close_ms(&t);
  ck_assert_int_eq(t.timed_out, 0);
  ck_assert_int_eq(t.closes, 1);
  ck_assert_uint_eq(t.net.close_timeouts, 0);
  ck_assert_uint_eq(t.peer_got, t.out_len);
  ck_assert_int_eq(t.peer_eof, 1);
  ck_assert_int_eq(t.peer_reset, 0);
  ck_assert_msg(ms >= SIO_LINGER_IDLE_MS * 0.9 && ms < SIO_LINGER_IDLE_MS * 3,
                "closed after %.1f ms", ms);
}
END_TEST

START_TEST(close_idempotent_on_close_once) {
  tctx t;
  memset(&t, 0, sizeof(t));
  t.mode = PEER_SEND_AND_READ;
  t.out_len = 100000;
  t.close_after_in = 512;
  t.double_close = 1;
  run(&t, 2000);
  ck_assert_int_eq(t.timed_out, 0);
  ck_assert_int_eq(t.closes, 1);
  ck_assert_int_eq(t.write_after_close_rv, SIO_ERR_CLOSED);
  ck_assert_uint_eq(t.peer_got, t.out_len);
  ck_assert_int_eq(t.peer_eof, 1);
  ck_assert_int_eq(t.peer_reset, 0);
}
END_TEST

/* An abrupt close during a graceful one wins at once (shutdown request
 * cancelled, close state freed: ASan checks), on_close once. */
START_TEST(abort_during_graceful_close) {
  tctx t;
  memset(&t, 0, sizeof(t));
  t.mode = PEER_SEND_AND_READ;
  t.out_len = 1u << 20;
  t.close_after_in = 512;
  t.abort_after = 1;
  run(&t, 2000);
  ck_assert_int_eq(t.timed_out, 0);
  ck_assert_int_eq(t.closes, 1);
  ck_assert_uint_eq(t.net.close_timeouts, 0);
  ck_assert_uint_lt(t.peer_got, t.out_len + 1);
}
END_TEST

/* --------------------------------------------- writes across two nets */

typedef struct xnet {
  sio_defer d;
  sio_conn *to; /* written from the other net's deferred work */
  const char *what;
} xnet;

static void xnet_write(sio_defer *d) {
  xnet *x = (xnet *)d;
  ck_assert_int_eq(sio_conn_write(x->to, x->what, 1), 0);
}

static void xnet_read(sio_conn *c, const uint8_t *d, size_t n) {
  (void)c;
  (void)d;
  (void)n;
}

static void xnet_closed(sio_conn *c) { (void)c; }

static const sio_conn_ops xnet_ops = {xnet_read, NULL, NULL, xnet_closed};

/* Output queued from another net's deferred work (an Engine.IO message
 * handled there that publishes to Redis, whose connection is on the
 * driver's net) is on the wire when that loop iteration polls, whatever
 * order libuv runs the nets' prepare callbacks in, both ways round. It
 * used to wait for the next poll to return: up to a timer's period (the
 * daemon's 1 s tick), which made a replay's read take a second. */
START_TEST(write_from_another_nets_deferred_work_goes_out_at_once) {
  uv_loop_t loop;
  sio_net net[2];
  sio_conn conn[2];
  xnet x[2];
  int sv[2][2], i;
  char got;
  ck_assert_int_eq(uv_loop_init(&loop), 0);
  for (i = 0; i < 2; i++) {
    ck_assert_int_eq(sio_net_init(&net[i], &loop), 0);
    ck_assert_int_eq(socketpair(AF_UNIX, SOCK_STREAM, 0, sv[i]), 0);
    ck_assert_int_eq(sio_conn_init_pipe(&conn[i], &net[i], &xnet_ops), 0);
    ck_assert_int_eq(uv_pipe_open(conn[i].pipe, sv[i][0]), 0);
    ck_assert_int_eq(sio_conn_start(&conn[i]), 0);
  }
  for (i = 0; i < 2; i++) {
    memset(&x[i], 0, sizeof(x[i]));
    sio_queue_init(&x[i].d.q);
    x[i].to = &conn[1 - i];
    x[i].what = i ? "b" : "a";
    sio_net_defer(&net[i], &x[i].d, xnet_write);
  }
  uv_run(&loop, UV_RUN_NOWAIT); /* one iteration: prepare, poll */
  ck_assert_int_eq(recv(sv[1][1], &got, 1, MSG_DONTWAIT), 1);
  ck_assert_int_eq(got, 'a');
  ck_assert_int_eq(recv(sv[0][1], &got, 1, MSG_DONTWAIT), 1);
  ck_assert_int_eq(got, 'b');
  for (i = 0; i < 2; i++) {
    sio_conn_close(&conn[i]);
    close(sv[i][1]);
  }
  uv_run(&loop, UV_RUN_DEFAULT);
  for (i = 0; i < 2; i++)
    sio_net_close(&net[i], NULL);
  uv_run(&loop, UV_RUN_DEFAULT);
  ck_assert_int_eq(uv_loop_close(&loop), 0);
}
END_TEST

/* ----------------------------------------------------------- hand-off */

/* A connection accepted on loop A (this thread) moves, after its first
 * read, to loop B (its own thread) through a mailbox: the peer, a blocking
 * socket on a third thread, sees one TCP connection throughout: what B
 * writes arrives, what it sends next reaches B, and A's close of its
 * handle sent nothing (no FIN, no reset: B's goodbye and FIN come after). */
typedef struct ho {
  uv_loop_t la, lb;
  sio_net na, nb;
  uv_tcp_t lsn;
  sio_mailbox mb; /* B's */
  uv_thread_t tb, tp;
  int port;
  int a_closes, b_closes, b_started, hand_rv;
  char a_got[64], b_got[64];
  size_t a_len, b_len;
  /* peer */
  char peer_got[64];
  size_t peer_len;
  int peer_eof, peer_err;
} ho;

typedef struct ho_conn {
  sio_conn base;
  ho *h;
  int on_b;
} ho_conn;

typedef struct ho_letter {
  sio_letter l;
  ho *h;
  sio_handoff hand;
} ho_letter;

static void ho_close(sio_conn *c) {
  ho_conn *hc = (ho_conn *)c;
  if (hc->on_b) {
    hc->h->b_closes++;
    sio_net_close(&hc->h->nb, NULL);
    sio_mailbox_close(&hc->h->mb, NULL, NULL);
  } else {
    hc->h->a_closes++;
  }
  sio_free(hc);
}

static void ho_read(sio_conn *c, const uint8_t *d, size_t n);
static const sio_conn_ops ho_ops = {ho_read, NULL, NULL, ho_close};

static void ho_arrive(sio_letter *l) { /* on B */
  ho_letter *m = (ho_letter *)l;
  ho_conn *hc = sio_calloc(1, sizeof(*hc));
  hc->h = m->h;
  hc->on_b = 1;
  m->h->b_started = sio_conn_take_over(&hc->base, &m->h->nb, &ho_ops,
                                       &m->hand) == 0;
  ck_assert_int_eq(m->hand.fd, -1);
  sio_conn_write(&hc->base, "moved", 5);
  sio_free(m);
}

static void ho_read(sio_conn *c, const uint8_t *d, size_t n) {
  ho_conn *hc = (ho_conn *)c;
  ho *h = hc->h;
  if (!hc->on_b) {
    ho_letter *m = sio_calloc(1, sizeof(*m));
    memcpy(h->a_got + h->a_len, d, n);
    h->a_len += n;
    /* output queued and not yet flushed (a TLS 1.3 server's tickets) is
     * written before the connection goes: the peer sees "x" first */
    ck_assert_int_eq(sio_conn_write(c, "x", 1), 0);
    ck_assert_uint_eq(sio_conn_pending(c), 1);
    m->h = h;
    m->l.fn = ho_arrive;
    h->hand_rv = sio_conn_hand_off(c, &m->hand);
    ck_assert_int_eq(sio_mailbox_post(&h->mb, &m->l), 0);
    uv_close((uv_handle_t *)&h->lsn, NULL);
    sio_net_close(&h->na, NULL);
    return;
  }
  memcpy(h->b_got + h->b_len, d, n);
  h->b_len += n;
  if (h->b_len >= 6) {
    sio_conn_write(c, "bye", 3);
    sio_conn_close_after_flush(c);
  }
}

static void ho_accept(uv_stream_t *s, int status) {
  ho *h = s->data;
  ho_conn *hc = sio_calloc(1, sizeof(*hc));
  ck_assert_int_eq(status, 0);
  hc->h = h;
  ck_assert_int_eq(sio_conn_init(&hc->base, &h->na, &ho_ops), 0);
  ck_assert_int_eq(uv_accept(s, (uv_stream_t *)&hc->base.tcp), 0);
  ck_assert_int_eq(sio_conn_start(&hc->base), 0);
}

static void ho_loop_b(void *ud) {
  ho *h = ud;
  uv_run(&h->lb, UV_RUN_DEFAULT);
}

static void ho_peer(void *ud) {
  ho *h = ud;
  struct sockaddr_in sa;
  struct timeval tv = {5, 0};
  int fd = socket(AF_INET, SOCK_STREAM, 0);
  ssize_t n;
  memset(&sa, 0, sizeof(sa));
  sa.sin_family = AF_INET;
  sa.sin_port = htons((uint16_t)h->port);
  sa.sin_addr.s_addr = htonl(0x7f000001);
  setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
  if (connect(fd, (struct sockaddr *)&sa, sizeof(sa)) ||
      send(fd, "first", 5, 0) != 5) {
    h->peer_err = 1;
    close(fd);
    return;
  }
  /* "x" from A, then "moved" from B, on the same connection */
  while (h->peer_len < 6 &&
         (n = recv(fd, h->peer_got + h->peer_len, sizeof(h->peer_got) - 1 - h->peer_len, 0)) > 0)
    h->peer_len += (size_t)n;
  if (send(fd, "second", 6, 0) != 6)
    h->peer_err = 1;
  while ((n = recv(fd, h->peer_got + h->peer_len, sizeof(h->peer_got) - 1 - h->peer_len, 0)) > 0)
    h->peer_len += (size_t)n;
  if (n == 0)
    h->peer_eof = 1;
  else
    h->peer_err = 2; /* a reset or the timeout */
  close(fd);
}

START_TEST(hand_off_moves_a_connection_to_another_loop) {
  ho *h = sio_calloc(1, sizeof(*h));
  struct sockaddr_in sa;
  int len = sizeof(sa);
  ck_assert_int_eq(uv_loop_init(&h->la), 0);
  ck_assert_int_eq(uv_loop_init(&h->lb), 0);
  ck_assert_int_eq(sio_net_init(&h->na, &h->la), 0);
  ck_assert_int_eq(sio_net_init(&h->nb, &h->lb), 0);
  ck_assert_int_eq(sio_mailbox_init(&h->mb, &h->lb, 0), 0);
  uv_tcp_init(&h->la, &h->lsn);
  h->lsn.data = h;
  uv_ip4_addr("127.0.0.1", 0, &sa);
  ck_assert_int_eq(uv_tcp_bind(&h->lsn, (struct sockaddr *)&sa, 0), 0);
  ck_assert_int_eq(uv_listen((uv_stream_t *)&h->lsn, 8, ho_accept), 0);
  uv_tcp_getsockname(&h->lsn, (struct sockaddr *)&sa, &len);
  h->port = ntohs(sa.sin_port);
  ck_assert_int_eq(uv_thread_create(&h->tb, ho_loop_b, h), 0);
  ck_assert_int_eq(uv_thread_create(&h->tp, ho_peer, h), 0);
  uv_run(&h->la, UV_RUN_DEFAULT);
  uv_thread_join(&h->tp);
  uv_thread_join(&h->tb);
  ck_assert_int_eq(h->hand_rv, 0);
  ck_assert_int_eq(h->a_closes, 1);
  ck_assert_int_eq(h->b_started, 1);
  ck_assert_int_eq(h->b_closes, 1);
  ck_assert_int_eq(h->peer_err, 0);
  ck_assert_int_eq(h->peer_eof, 1);
  h->a_got[h->a_len] = 0;
  h->b_got[h->b_len] = 0;
  h->peer_got[h->peer_len] = 0;
  ck_assert_str_eq(h->a_got, "first");
  ck_assert_str_eq(h->b_got, "second");
  ck_assert_str_eq(h->peer_got, "xmovedbye");
  ck_assert_int_eq(uv_loop_close(&h->la), 0);
  ck_assert_int_eq(uv_loop_close(&h->lb), 0);
  sio_free(h);
}
END_TEST

/* A connection whose output the kernel has not taken (its peer does not
 * read) cannot move: what is in flight would be lost. */
static int inflight_closed;
static void inflight_on_close(sio_conn *c) {
  (void)c;
  inflight_closed = 1;
}
static void inflight_accept(uv_stream_t *s, int status) {
  sio_conn *c = s->data;
  ck_assert_int_eq(status, 0);
  ck_assert_int_eq(uv_accept(s, (uv_stream_t *)&c->tcp), 0);
  ck_assert_int_eq(sio_conn_start(c), 0);
  c->remote[0] = 'x'; /* accepted */
}

START_TEST(hand_off_refused_while_output_in_flight) {
  static const sio_conn_ops inflight_ops = {NULL, NULL, NULL,
                                           inflight_on_close};
  size_t big = 16u << 20;
  uint8_t *blob = sio_calloc(1, big);
  uv_loop_t loop;
  sio_net net;
  sio_conn c;
  uv_tcp_t lsn;
  struct sockaddr_in sa;
  int len = sizeof(sa), fd, rcv = 4096, i;
  sio_handoff h;
  ck_assert_int_eq(uv_loop_init(&loop), 0);
  ck_assert_int_eq(sio_net_init(&net, &loop), 0);
  ck_assert_int_eq(sio_conn_init(&c, &net, &inflight_ops), 0);
  c.remote[0] = 0;
  uv_tcp_init(&loop, &lsn);
  lsn.data = &c;
  uv_ip4_addr("127.0.0.1", 0, &sa);
  ck_assert_int_eq(uv_tcp_bind(&lsn, (struct sockaddr *)&sa, 0), 0);
  ck_assert_int_eq(uv_listen((uv_stream_t *)&lsn, 8, inflight_accept), 0);
  uv_tcp_getsockname(&lsn, (struct sockaddr *)&sa, &len);
  fd = socket(AF_INET, SOCK_STREAM, 0);
  setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &rcv, sizeof(rcv));
  ck_assert_int_eq(connect(fd, (struct sockaddr *)&sa, sizeof(sa)), 0);
  for (i = 0; i < 100 && !c.remote[0]; i++)
    uv_run(&loop, UV_RUN_NOWAIT);
  ck_assert(c.remote[0]);
  ck_assert_int_eq(sio_conn_write(&c, blob, big), 0);
  sio_net_flush(&net); /* the kernel takes a part: a uv_write waits */
  ck_assert_uint_gt(sio_conn_pending(&c), 0);
  ck_assert_int_eq(sio_conn_hand_off(&c, &h), SIO_ERR_STATE);
  ck_assert_uint_gt(sio_conn_pending(&c), 0); /* unchanged */
  close(fd);
  sio_conn_close(&c);
  uv_close((uv_handle_t *)&lsn, NULL);
  sio_net_close(&net, NULL);
  uv_run(&loop, UV_RUN_DEFAULT);
  ck_assert_int_eq(inflight_closed, 1);
  ck_assert_int_eq(uv_loop_close(&loop), 0);
  sio_free(blob);
}
END_TEST

START_TEST(hand_off_drop_closes_the_socket) {
  sio_handoff h;
  int sv[2];
  char c;
  ck_assert_int_eq(socketpair(AF_UNIX, SOCK_STREAM, 0, sv), 0);
  h.fd = sv[0];
  h.ssl = NULL;
  sio_handoff_drop(&h);
  ck_assert_int_eq(h.fd, -1);
  ck_assert_int_eq(read(sv[1], &c, 1), 0); /* EOF: nobody holds it */
  close(sv[1]);
}
END_TEST

/* ------------------------------------------------------------ listeners */

/* Two listeners with SO_REUSEPORT on one address (one per loop with
 * server.threads; one loop here): both bind, a listener without it cannot,
 * and the kernel spreads connections over both. */
typedef struct rp {
  uv_loop_t loop;
  sio_net net;
  sio_listener l[2];
  int accepted[2], closed, port;
} rp;

typedef struct rp_conn {
  sio_conn base;
  rp *r;
} rp_conn;

static void rp_close(sio_conn *c) {
  rp *r = ((rp_conn *)c)->r;
  sio_free(c);
  if (++r->closed == 20) {
    sio_listener_close(&r->l[0], NULL);
    sio_listener_close(&r->l[1], NULL);
    sio_net_close(&r->net, NULL);
  }
}

static void rp_read(sio_conn *c, const uint8_t *d, size_t n) {
  (void)d;
  (void)n;
  sio_conn_close(c);
}

static const sio_conn_ops rp_ops = {rp_read, NULL, NULL, rp_close};

static sio_conn *rp_accept(sio_listener *l, void *ud) {
  rp *r = ud;
  rp_conn *c = sio_calloc(1, sizeof(*c));
  c->r = r;
  r->accepted[l == &r->l[1]]++;
  ck_assert_int_eq(sio_conn_init(&c->base, &r->net, &rp_ops), 0);
  return &c->base;
}

static void rp_clients(void *ud) {
  rp *r = ud;
  int i;
  for (i = 0; i < 20; i++) {
    struct sockaddr_in sa;
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    char c;
    memset(&sa, 0, sizeof(sa));
    sa.sin_family = AF_INET;
    sa.sin_port = htons((uint16_t)r->port);
    sa.sin_addr.s_addr = htonl(0x7f000001);
    ck_assert_int_eq(connect(fd, (struct sockaddr *)&sa, sizeof(sa)), 0);
    ck_assert_int_eq(send(fd, "x", 1, 0), 1);
    (void)!recv(fd, &c, 1, 0); /* the server's close */
    close(fd);
  }
}

START_TEST(reuseport_listeners_share_an_address) {
  rp *r = sio_calloc(1, sizeof(*r));
  sio_listener plain, nowhere, bad;
  char addr[32];
  int open = 0;
  uv_thread_t t;
  ck_assert_int_eq(uv_loop_init(&r->loop), 0);
  ck_assert_int_eq(sio_net_init(&r->net, &r->loop), 0);
  ck_assert_int_eq(sio_listener_open_ex(&r->l[0], &r->net, "127.0.0.1:0", 64,
                                        SIO_LISTEN_REUSEPORT, rp_accept, r,
                                        &open),
                   0);
  r->port = r->l[0].port;
  snprintf(addr, sizeof(addr), "127.0.0.1:%d", r->port);
  ck_assert_int_eq(sio_listener_open_ex(&r->l[1], &r->net, addr, 64,
                                        SIO_LISTEN_REUSEPORT, rp_accept, r,
                                        &open),
                   0);
  ck_assert_int_eq(r->l[1].port, r->port);
  ck_assert_int_eq(sio_listener_open(&plain, &r->net, addr, 64, rp_accept, r,
                                     &open),
                   SIO_ERR_IO);
  if (open)
    sio_listener_close(&plain, NULL);
  /* an address of no interface here: the shared bind fails cleanly */
  ck_assert_int_eq(sio_listener_open_ex(&nowhere, &r->net, "192.0.2.1:0", 64,
                                        SIO_LISTEN_REUSEPORT, rp_accept, r,
                                        &open),
                   SIO_ERR_IO);
  if (open)
    sio_listener_close(&nowhere, NULL);
  ck_assert_int_eq(sio_listener_open_ex(&bad, &r->net, "nowhere:x", 64,
                                        SIO_LISTEN_REUSEPORT, rp_accept, r,
                                        &open),
                   SIO_ERR_INVAL);
  ck_assert_int_eq(uv_thread_create(&t, rp_clients, r), 0);
  uv_run(&r->loop, UV_RUN_DEFAULT);
  uv_thread_join(&t);
  ck_assert_int_eq(r->accepted[0] + r->accepted[1], 20);
  ck_assert_int_gt(r->accepted[0], 0); /* all 20 on one: 1 in 500000 */
  ck_assert_int_gt(r->accepted[1], 0);
  ck_assert_int_eq(uv_loop_close(&r->loop), 0);
  sio_free(r);
}
END_TEST

Suite *sio_conn_suite(void) {
  Suite *s = suite_create("sio_conn");
  TCase *tc = tcase_create("close");
  tcase_set_timeout(tc, 20);
  tcase_add_test(tc, close_while_peer_sends_delivers_all_then_fin);
  tcase_add_test(tc, peer_not_reading_is_closed_at_timeout);
  tcase_add_test(tc, linger_bounded_in_bytes);
  tcase_add_test(tc, silent_peer_ends_linger_when_idle);
  tcase_add_test(tc, close_idempotent_on_close_once);
  tcase_add_test(tc, abort_during_graceful_close);
  tcase_add_test(tc, write_from_another_nets_deferred_work_goes_out_at_once);
  suite_add_tcase(s, tc);
  tc = tcase_create("loops"); /* what server.threads builds on */
  tcase_set_timeout(tc, 20);
  tcase_add_test(tc, hand_off_moves_a_connection_to_another_loop);
  tcase_add_test(tc, hand_off_refused_while_output_in_flight);
  tcase_add_test(tc, hand_off_drop_closes_the_socket);
  tcase_add_test(tc, reuseport_listeners_share_an_address);
  suite_add_tcase(s, tc);
  return s;
}
