/* Loop-level tests of the Engine.IO server: a real eio_server on
 * 127.0.0.1:0 driven over loopback by a blocking client thread
 * (helpers/rawclient). Callback outcomes are recorded on the loop thread
 * and asserted after the loop ended, which also proves every handle was
 * closed (uv_loop_close() == 0). */
#include <check.h>
#include <poll.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include <openssl/ssl.h>
#include <stdlib.h>

#include "check_suites.h"
#include "eio_server.h"
#include "rawclient.h"
#include "sio_mailbox.h"
#include "sio_mem.h"
#include "sio/sio.h"
#include "sio_int.h"

typedef struct fx {
  uv_loop_t loop;
  eio_server *srv;
  int port;
  int opens;
  int closes;
  char reasons[16][32];
  int messages;
  int closed;
  eio_stats stats; /* taken just before the server closes */
  int keep_fd;      /* a client fd left open until the server closed */
  void (*scenario)(struct fx *f);
} fx;

static void on_open(eio_socket *es, void *ud) {
  fx *f = ud;
  f->opens++;
  (void)es;
}

/* Echoes every message, like the conformance server. */
static void on_message(eio_socket *es, int binary, const uint8_t *data,
                       size_t len, void *ud) {
  fx *f = ud;
  sio_rcbuf *rc = sio_rcbuf_new(len + !binary);
  f->messages++;
  if (binary) {
    memcpy(rc->data, data, len);
    rc->flags |= SIO_RCBUF_BINARY;
  } else {
    rc->data[0] = '4';
    memcpy(rc->data + 1, data, len);
  }
  eio_socket_send(es, rc);
  sio_rcbuf_unref(rc);
}

static void on_close(eio_socket *es, const char *reason, void *ud) {
  fx *f = ud;
  if (f->closes < 16)
    snprintf(f->reasons[f->closes], sizeof(f->reasons[0]), "%s", reason);
  f->closes++;
  (void)es;
}

static void server_closed(void *ud) { ((fx *)ud)->closed = 1; }
static void done(void *ud) {
  fx *f = ud;
  eio_server_stats(f->srv, &f->stats);
  eio_server_close(f->srv, server_closed, f);
}
static void thread_fn(void *ud) {
  fx *f = ud;
  f->scenario(f);
}

static eio_options default_opts(void) {
  eio_options o = {0};
  o.path = "/engine.io/";
  o.ping_interval = 300;
  o.ping_timeout = 200;
  o.max_payload = 1000;
  o.transports = SIO_TRANSPORT_POLLING | SIO_TRANSPORT_WEBSOCKET;
  o.cors_origins = "*";
  return o;
}

static void run(fx *f, const eio_options *o, void (*scenario)(fx *f)) {
  eio_callbacks cbs = {on_open, on_message, on_close, NULL};
  memset(f, 0, sizeof(*f));
  f->scenario = scenario;
  ck_assert_int_eq(uv_loop_init(&f->loop), 0);
  ck_assert_int_eq(eio_server_new(&f->srv, &f->loop, o, &cbs, f), 0);
  ck_assert_int_eq(eio_server_listen(f->srv, "127.0.0.1:0"), 0);
  f->port = eio_server_port(f->srv, 0);
  ck_assert_int_gt(f->port, 0);
  rc_run(&f->loop, thread_fn, done, f);
  ck_assert_int_eq(f->closed, 1);
  ck_assert_int_eq(uv_loop_close(&f->loop), 0);
}

/* Opens a polling session; returns its sid in sid[21]. */
static void handshake(fx *f, char sid[32]) {
  rc_response r;
  const char *p;
  ck_assert_int_eq(
      rc_fetch(f->port, "GET", "/engine.io/?EIO=4&transport=polling", NULL, &r),
      200);
  ck_assert_int_eq(r.body[0], '0');
  p = strstr(r.body, "\"sid\":\"");
  ck_assert_ptr_nonnull(p);
  memcpy(sid, p + 7, 20);
  sid[20] = 0;
}

static const char *url(char *buf, const char *sid, const char *transport) {
  sprintf(buf, "/engine.io/?EIO=4&transport=%s&sid=%s", transport, sid);
  return buf;
}

/* ---------------------------------------------------------------- tests */

static void sc_handshake_fields(fx *f) {
  rc_response r;
  char v[128];
  ck_assert_int_eq(
      rc_fetch(f->port, "GET", "/engine.io/?EIO=4&transport=polling", NULL, &r),
      200);
  ck_assert_ptr_nonnull(strstr(r.body, "\"upgrades\":[\"websocket\"]"));
  ck_assert_ptr_nonnull(strstr(
      r.body, "\"pingInterval\":300,\"pingTimeout\":200,\"maxPayload\":1000}"));
  ck_assert_str_eq(rc_header(&r, "content-type", v, sizeof(v)),
                   "text/plain; charset=UTF-8");
  ck_assert_str_eq(rc_header(&r, "access-control-allow-origin", v, sizeof(v)),
                   "*");
  ck_assert_ptr_null(rc_header(&r, "set-cookie", v, sizeof(v)));
}

START_TEST(handshake_polling) {
  fx f;
  eio_options o = default_opts();
  run(&f, &o, sc_handshake_fields);
  ck_assert_int_eq(f.opens, 1);
  ck_assert_int_eq(f.closes, 1);
  ck_assert_str_eq(f.reasons[0], "server shutting down");
}
END_TEST

static void sc_errors(fx *f) {
  rc_response r;
  ck_assert_int_eq(rc_fetch(f->port, "GET", "/engine.io/?EIO=4&transport=x",
                            NULL, &r),
                   400);
  ck_assert_str_eq(r.body, "{\"code\":0,\"message\":\"Transport unknown\"}");
  ck_assert_int_eq(rc_fetch(f->port, "GET",
                            "/engine.io/?EIO=4&transport=polling&sid=nope",
                            NULL, &r),
                   400);
  ck_assert_str_eq(r.body, "{\"code\":1,\"message\":\"Session ID unknown\"}");
  ck_assert_int_eq(
      rc_fetch(f->port, "POST", "/engine.io/?EIO=4&transport=polling", "", &r),
      400);
  ck_assert_str_eq(r.body,
                   "{\"code\":2,\"message\":\"Bad handshake method\"}");
  ck_assert_int_eq(
      rc_fetch(f->port, "GET", "/engine.io/?EIO=3&transport=polling", NULL, &r),
      400);
  ck_assert_str_eq(
      r.body, "{\"code\":5,\"message\":\"Unsupported protocol version\"}");
  ck_assert_int_eq(
      rc_fetch(f->port, "GET", "/engine.io/?EIO=4&transport=websocket", NULL,
               &r),
      400);
  ck_assert_str_eq(r.body, "{\"code\":3,\"message\":\"Bad request\"}");
  ck_assert_int_eq(rc_fetch(f->port, "GET", "/elsewhere", NULL, &r), 404);
}

START_TEST(error_codes) {
  fx f;
  eio_options o = default_opts();
  run(&f, &o, sc_errors);
  ck_assert_int_eq(f.opens, 0);
}
END_TEST

static void sc_post_get_echo(fx *f) {
  char sid[32], u[128];
  rc_response r;
  int fd;
  handshake(f, sid);
  fd = rc_connect(f->port);
  /* keep-alive: POST then GET on the same connection */
  ck_assert_int_eq(rc_request(fd, "POST", url(u, sid, "polling"), NULL,
                              "4hello\x1e" "bAQIDBA==", 15, &r),
                   200);
  ck_assert_str_eq(r.body, "ok");
  ck_assert_int_eq(rc_request(fd, "GET", u, NULL, NULL, 0, &r), 200);
  ck_assert_str_eq(r.body, "4hello\x1e" "bAQIDBA==");
  rc_close(fd);
}

START_TEST(polling_echo_keepalive) {
  fx f;
  eio_options o = default_opts();
  run(&f, &o, sc_post_get_echo);
  ck_assert_int_eq(f.messages, 2);
  ck_assert_uint_eq(f.stats.handshakes, 1);
  ck_assert_uint_eq(f.stats.polling, 1);
  ck_assert_uint_eq(f.stats.websocket, 0);
  ck_assert_uint_gt(f.stats.bytes_in, 100);
  ck_assert_uint_gt(f.stats.bytes_out, 100);
}
END_TEST

static void sc_pipelined(fx *f) {
  char sid[32], u[128], req[1024];
  rc_response r;
  int fd, n;
  handshake(f, sid);
  fd = rc_connect(f->port);
  url(u, sid, "polling");
  n = snprintf(req, sizeof(req),
               "POST %s HTTP/1.1\r\nHost: x\r\nContent-Length: 3\r\n\r\n4ab"
               "GET %s HTTP/1.1\r\nHost: x\r\n\r\n",
               u, u);
  ck_assert_int_eq(rc_send(fd, req, (size_t)n), 0);
  ck_assert_int_eq(rc_read_response(fd, &r), 200);
  ck_assert_str_eq(r.body, "ok");
  ck_assert_int_eq(rc_read_response(fd, &r), 200);
  ck_assert_str_eq(r.body, "4ab");
  rc_close(fd);
}

START_TEST(polling_pipelined) {
  fx f;
  eio_options o = default_opts();
  run(&f, &o, sc_pipelined);
}
END_TEST

static void sc_limits(fx *f) {
  char sid[32], u[128], big[2000], hdr[10000];
  rc_response r;
  handshake(f, sid);
  memset(big, '4', sizeof(big) - 1);
  big[sizeof(big) - 1] = 0;
  ck_assert_int_eq(rc_fetch(f->port, "POST", url(u, sid, "polling"), big, &r),
                   413);
  /* header block over 8 KiB */
  {
    int fd = rc_connect(f->port), n;
    n = snprintf(hdr, sizeof(hdr), "GET / HTTP/1.1\r\nX-Big: ");
    memset(hdr + n, 'a', sizeof(hdr) - (size_t)n);
    ck_assert_int_eq(rc_send(fd, hdr, sizeof(hdr)), 0);
    ck_assert_int_eq(rc_send(fd, "\r\n\r\n", 4), 0);
    ck_assert_int_eq(rc_read_response(fd, &r), 431);
    rc_close(fd);
  }
  {
    int fd = rc_connect(f->port);
    ck_assert_int_eq(rc_send(fd, "BLAH\r\n\r\n", 8), 0);
    ck_assert_int_eq(rc_read_response(fd, &r), 400);
    rc_close(fd);
  }
}

START_TEST(http_limits) {
  fx f;
  eio_options o = default_opts();
  run(&f, &o, sc_limits);
  ck_assert_uint_eq(f.stats.over_max_payload, 1);
}
END_TEST

static void sc_bad_packet(fx *f) {
  char sid[32], u[128];
  rc_response r;
  handshake(f, sid);
  ck_assert_int_eq(rc_fetch(f->port, "POST", url(u, sid, "polling"), "abc", &r),
                   400);
  ck_assert_int_eq(rc_fetch(f->port, "GET", u, NULL, &r), 400);
}

START_TEST(polling_bad_packet_closes) {
  fx f;
  eio_options o = default_opts();
  run(&f, &o, sc_bad_packet);
  ck_assert_int_eq(f.closes, 1);
  ck_assert_str_eq(f.reasons[0], "parse error");
}
END_TEST

static void sc_overlap(fx *f) {
  char sid[32], u[128];
  rc_response r1, r2;
  int a, b;
  handshake(f, sid);
  url(u, sid, "polling");
  a = rc_connect(f->port);
  b = rc_connect(f->port);
  ck_assert_int_eq(rc_send(a, "GET ", 4), 0);
  {
    char req[256];
    int n = snprintf(req, sizeof(req), "%s HTTP/1.1\r\nHost: x\r\n\r\n", u);
    rc_send(a, req, (size_t)n);
    usleep(50000);
    ck_assert_int_eq(rc_request(b, "GET", u, NULL, NULL, 0, &r2), 400);
  }
  ck_assert_int_eq(rc_read_response(a, &r1), 200);
  ck_assert_str_eq(r1.body, "1");
  rc_close(a);
  rc_close(b);
  ck_assert_int_eq(rc_fetch(f->port, "GET", u, NULL, &r1), 400);
}

START_TEST(polling_overlap_closes) {
  fx f;
  eio_options o = default_opts();
  run(&f, &o, sc_overlap);
  ck_assert_int_eq(f.closes, 1);
  ck_assert_str_eq(f.reasons[0], "transport error");
}
END_TEST

static void sc_client_close(fx *f) {
  char sid[32], u[128], req[256];
  rc_response r;
  int a, n;
  handshake(f, sid);
  url(u, sid, "polling");
  a = rc_connect(f->port);
  n = snprintf(req, sizeof(req), "GET %s HTTP/1.1\r\nHost: x\r\n\r\n", u);
  rc_send(a, req, (size_t)n);
  usleep(50000);
  ck_assert_int_eq(rc_fetch(f->port, "POST", u, "1", &r), 200);
  ck_assert_int_eq(rc_read_response(a, &r), 200);
  ck_assert_str_eq(r.body, "6");
  rc_close(a);
}

START_TEST(polling_client_close) {
  fx f;
  eio_options o = default_opts();
  run(&f, &o, sc_client_close);
  ck_assert_int_eq(f.closes, 1);
  ck_assert_str_eq(f.reasons[0], "transport close");
}
END_TEST

static void sc_ping_timeout(fx *f) {
  char sid[32], u[128];
  rc_response r;
  handshake(f, sid);
  ck_assert_int_eq(rc_fetch(f->port, "GET", url(u, sid, "polling"), NULL, &r),
                   200);
  ck_assert_str_eq(r.body, "2");
  usleep(400000);
  ck_assert_int_eq(rc_fetch(f->port, "GET", u, NULL, &r), 400);
}

START_TEST(ping_timeout) {
  fx f;
  eio_options o = default_opts();
  run(&f, &o, sc_ping_timeout);
  ck_assert_int_eq(f.closes, 1);
  ck_assert_str_eq(f.reasons[0], "ping timeout");
}
END_TEST

/* Answers every ping on the open fds for ms milliseconds; counts them. */
static void pong_for(const int *fds, int *pings, int n, int ms) {
  uint64_t end = uv_hrtime() + (uint64_t)ms * 1000000;
  uint8_t buf[256];
  size_t len;
  while (uv_hrtime() < end) {
    struct pollfd p[4];
    int i;
    for (i = 0; i < n; i++) {
      p[i].fd = fds[i];
      p[i].events = POLLIN;
    }
    if (poll(p, (nfds_t)n, 20) <= 0)
      continue;
    for (i = 0; i < n; i++) {
      if (!(p[i].revents & POLLIN))
        continue;
      ck_assert_int_eq(rc_ws_recv(fds[i], buf, sizeof(buf), &len), 1);
      ck_assert_uint_eq(len, 1);
      ck_assert_int_eq(buf[0], '2');
      ck_assert_int_eq(rc_ws_send(fds[i], 1, "3", 1), 0);
      pings[i]++;
    }
  }
}

/* Sessions opened at different times share the server's heartbeat timer:
 * each is pinged on its own schedule, and only the one that stops
 * answering times out. */
static void sc_heartbeats(fx *f) {
  uint8_t buf[4096];
  size_t len;
  int fds[2], pings[2] = {0, 0}, silent;
  fds[0] = rc_ws_open(f->port, "/engine.io/?EIO=4&transport=websocket");
  ck_assert_int_ge(fds[0], 0);
  ck_assert_int_eq(rc_ws_recv(fds[0], buf, sizeof(buf), &len), 1);
  pong_for(fds, pings, 1, 100);
  silent = rc_ws_open(f->port, "/engine.io/?EIO=4&transport=websocket");
  ck_assert_int_ge(silent, 0);
  ck_assert_int_eq(rc_ws_recv(silent, buf, sizeof(buf), &len), 1);
  pong_for(fds, pings, 1, 100);
  fds[1] = rc_ws_open(f->port, "/engine.io/?EIO=4&transport=websocket");
  ck_assert_int_ge(fds[1], 0);
  ck_assert_int_eq(rc_ws_recv(fds[1], buf, sizeof(buf), &len), 1);
  pong_for(fds, pings, 2, 1300);
  /* ping at 300 ms, closed at 500 ms: a ping, then the close frame */
  ck_assert_int_eq(rc_ws_recv(silent, buf, sizeof(buf), &len), 1);
  ck_assert_int_eq(buf[0], '2');
  ck_assert_int_eq(rc_ws_recv(silent, buf, sizeof(buf), &len), 8);
  ck_assert_int_eq(rc_wait_eof(silent, 1000), 1);
  rc_close(silent);
  /* about every 300 ms over 1.4 s and 1.3 s */
  ck_assert_int_ge(pings[0], 3);
  ck_assert_int_le(pings[0], 5);
  ck_assert_int_ge(pings[1], 3);
  ck_assert_int_le(pings[1], 5);
  rc_close(fds[0]);
  rc_close(fds[1]);
}

START_TEST(heartbeat_many_sessions) {
  fx f;
  eio_options o = default_opts();
  run(&f, &o, sc_heartbeats);
  ck_assert_int_eq(f.opens, 3);
  ck_assert_int_eq(f.closes, 3);
  ck_assert_str_eq(f.reasons[0], "ping timeout");
}
END_TEST

static void sc_ws(fx *f) {
  uint8_t buf[4096];
  size_t len;
  int fd = rc_ws_open(f->port, "/engine.io/?EIO=4&transport=websocket");
  ck_assert_int_ge(fd, 0);
  ck_assert_int_eq(rc_ws_recv(fd, buf, sizeof(buf), &len), 1);
  ck_assert_ptr_nonnull(strstr((char *)buf, "\"upgrades\":[]"));
  ck_assert_int_eq(rc_ws_send(fd, 1, "4hi", 3), 0);
  ck_assert_int_eq(rc_ws_recv_skip_pings(fd, buf, sizeof(buf), &len, 1), 1);
  ck_assert_str_eq((char *)buf, "4hi");
  ck_assert_int_eq(rc_ws_send(fd, 2, "\x01\x02\x03", 3), 0);
  ck_assert_int_eq(rc_ws_recv_skip_pings(fd, buf, sizeof(buf), &len, 1), 2);
  ck_assert_uint_eq(len, 3);
  ck_assert_mem_eq(buf, "\x01\x02\x03", 3);
  /* a ping frame gets a pong frame */
  ck_assert_int_eq(rc_ws_send(fd, 9, "xy", 2), 0);
  ck_assert_int_eq(rc_ws_recv_skip_pings(fd, buf, sizeof(buf), &len, 1), 10);
  ck_assert_mem_eq(buf, "xy", 2);
  /* an invalid Engine.IO packet closes the session */
  ck_assert_int_eq(rc_ws_send(fd, 1, "abc", 3), 0);
  ck_assert_int_eq(rc_ws_recv_skip_pings(fd, buf, sizeof(buf), &len, 1), 8);
  ck_assert_int_eq(rc_wait_eof(fd, 2000), 1);
  rc_close(fd);
}

START_TEST(websocket_session) {
  fx f;
  eio_options o = default_opts();
  run(&f, &o, sc_ws);
  ck_assert_int_eq(f.opens, 1);
  ck_assert_int_eq(f.messages, 2);
  ck_assert_str_eq(f.reasons[0], "parse error");
}
END_TEST

static void sc_ws_fragments(fx *f) {
  uint8_t buf[4096];
  size_t len;
  int fd = rc_ws_open(f->port, "/engine.io/?EIO=4&transport=websocket"), i;
  ck_assert_int_ge(fd, 0);
  ck_assert_int_eq(rc_ws_recv(fd, buf, sizeof(buf), &len), 1);
  for (i = 0; i < 3; i++) {
    /* one message in three fragments over separate reads, a ping between */
    ck_assert_int_eq(rc_ws_send_frame(fd, 0, 1, "4fr", 3), 0);
    usleep(10000);
    ck_assert_int_eq(rc_ws_send_frame(fd, 1, 9, "p", 1), 0);
    usleep(10000);
    ck_assert_int_eq(rc_ws_send_frame(fd, 0, 0, "ag", 2), 0);
    usleep(10000);
    ck_assert_int_eq(rc_ws_send_frame(fd, 1, 0, "ment", 4), 0);
    ck_assert_int_eq(rc_ws_recv_skip_pings(fd, buf, sizeof(buf), &len, 1),
                     10);
    ck_assert_int_eq(rc_ws_recv_skip_pings(fd, buf, sizeof(buf), &len, 1), 1);
    ck_assert_str_eq((char *)buf, "4fragment");
  }
  /* a frame header split across reads */
  {
    uint8_t fr[9] = {0x81, 0x83, 1, 2, 3, 4, '4' ^ 1, 'o' ^ 2, 'k' ^ 3};
    ck_assert_int_eq(rc_send(fd, fr, 1), 0);
    usleep(10000);
    ck_assert_int_eq(rc_send(fd, fr + 1, 4), 0);
    usleep(10000);
    ck_assert_int_eq(rc_send(fd, fr + 5, 4), 0);
    ck_assert_int_eq(rc_ws_recv_skip_pings(fd, buf, sizeof(buf), &len, 1), 1);
    ck_assert_str_eq((char *)buf, "4ok");
  }
  f->keep_fd = fd; /* still connected when the stats are taken */
}

START_TEST(websocket_fragments_across_reads) {
  fx f;
  eio_options o = default_opts();
  run(&f, &o, sc_ws_fragments);
  ck_assert_int_eq(f.messages, 4);
  ck_assert_uint_eq(f.stats.websocket, 1);
  ck_assert_uint_eq(f.stats.polling, 0);
  ck_assert_str_eq(f.reasons[0], "server shutting down");
  rc_close(f.keep_fd);
}
END_TEST

/* The client does not read while ~6 MB of echoes are written: the kernel
 * takes part of a write, the rest goes out later from the partial offset;
 * every byte must arrive, in order. */
static void sc_ws_backpressure(fx *f) {
  static uint8_t msg[30001], buf[65536];
  size_t len;
  int fd = rc_ws_open(f->port, "/engine.io/?EIO=4&transport=websocket"), i;
  ck_assert_int_ge(fd, 0);
  ck_assert_int_eq(rc_ws_recv(fd, buf, sizeof(buf), &len), 1);
  msg[0] = '4';
  for (i = 0; i < 200; i++) {
    memset(msg + 1, 'a' + i % 26, sizeof(msg) - 1);
    ck_assert_int_eq(rc_ws_send(fd, 1, msg, sizeof(msg)), 0);
  }
  for (i = 0; i < 200; i++) {
    ck_assert_int_eq(rc_ws_recv_skip_pings(fd, buf, sizeof(buf), &len, 1), 1);
    ck_assert_uint_eq(len, sizeof(msg));
    ck_assert_int_eq(buf[0], '4');
    ck_assert_int_eq(buf[1], 'a' + i % 26);
    ck_assert_int_eq(buf[len - 1], 'a' + i % 26);
  }
  rc_close(fd);
}

START_TEST(websocket_partial_writes) {
  fx f;
  eio_options o = default_opts();
  o.max_payload = 100000;
  o.max_buffered = 64u << 20;
  o.ping_interval = 5000; /* the test must not race a heartbeat */
  run(&f, &o, sc_ws_backpressure);
  ck_assert_int_eq(f.messages, 200);
  ck_assert_uint_gt(f.stats.bytes_out, 200u * 30000);
}
END_TEST

/* A quiet WebSocket gives its wslay context back; it comes back with the
 * next message. */
static void sc_ws_idle(fx *f) {
  uint8_t buf[4096];
  size_t len;
  int fd = rc_ws_open(f->port, "/engine.io/?EIO=4&transport=websocket");
  ck_assert_int_ge(fd, 0);
  ck_assert_int_eq(rc_ws_recv(fd, buf, sizeof(buf), &len), 1);
  ck_assert_int_eq(rc_ws_send(fd, 1, "4one", 4), 0);
  ck_assert_int_eq(rc_ws_recv_skip_pings(fd, buf, sizeof(buf), &len, 1), 1);
  usleep(3500000); /* past the idle time and one sweep */
  ck_assert_int_eq(rc_ws_send(fd, 1, "4two", 4), 0);
  ck_assert_int_eq(rc_ws_recv_skip_pings(fd, buf, sizeof(buf), &len, 1), 1);
  ck_assert_str_eq((char *)buf, "4two");
  usleep(3500000);
  f->keep_fd = fd;
}

START_TEST(websocket_idle_releases_parser) {
  fx f;
  eio_options o = default_opts();
  o.ping_interval = 20000;
  o.ping_timeout = 20000;
  run(&f, &o, sc_ws_idle);
  ck_assert_int_eq(f.messages, 2);
  ck_assert_uint_eq(f.stats.websocket, 1);
  ck_assert_uint_eq(f.stats.ws_parsers, 0);
  rc_close(f.keep_fd);
}
END_TEST

static void sc_ws_too_big(fx *f) {
  uint8_t buf[4096], big[1500];
  size_t len;
  int fd = rc_ws_open(f->port, "/engine.io/?EIO=4&transport=websocket");
  ck_assert_int_ge(fd, 0);
  ck_assert_int_eq(rc_ws_recv(fd, buf, sizeof(buf), &len), 1);
  memset(big, '4', sizeof(big));
  ck_assert_int_eq(rc_ws_send(fd, 1, big, sizeof(big)), 0);
  ck_assert_int_eq(rc_ws_recv_skip_pings(fd, buf, sizeof(buf), &len, 1), 8);
  ck_assert_uint_ge(len, 2);
  ck_assert_int_eq(buf[0] << 8 | buf[1], 1009);
  rc_close(fd);
}

START_TEST(websocket_max_payload_1009) {
  fx f;
  eio_options o = default_opts();
  run(&f, &o, sc_ws_too_big);
  ck_assert_uint_eq(f.stats.over_max_payload, 1);
  ck_assert_int_eq(f.closes, 1);
  ck_assert_int_eq(f.messages, 0);
}
END_TEST

/* Appends one masked client frame (FIN set) to out; returns its size. */
static size_t put_frame(uint8_t *out, int opcode, const void *p, size_t n) {
  static const uint8_t key[4] = {0x11, 0x22, 0x33, 0x44};
  size_t hl = 2, i;
  out[0] = (uint8_t)(0x80 | opcode);
  if (n < 126) {
    out[1] = (uint8_t)(0x80 | n);
  } else {
    out[1] = 0x80 | 126;
    out[2] = (uint8_t)(n >> 8);
    out[3] = (uint8_t)n;
    hl = 4;
  }
  memcpy(out + hl, key, 4);
  for (i = 0; i < n; i++)
    out[hl + 4 + i] = ((const uint8_t *)p)[i] ^ key[i & 3];
  return hl + 4 + n;
}

/* Whole frames are decoded without a wslay context; anything else in the
 * same read (a control frame, a cut frame) is wslay's from that frame on,
 * and what each path accepts or refuses is the same. */
static void sc_ws_fast_path(fx *f) {
  uint8_t buf[4096], out[1024], big[300];
  size_t len, n;
  int fd = rc_ws_open(f->port, "/engine.io/?EIO=4&transport=websocket");
  ck_assert_int_ge(fd, 0);
  ck_assert_int_eq(rc_ws_recv(fd, buf, sizeof(buf), &len), 1);
  /* two messages in one read */
  n = put_frame(out, 1, "4one", 4);
  n += put_frame(out + n, 1, "4two", 4);
  ck_assert_int_eq(rc_send(fd, out, n), 0);
  ck_assert_int_eq(rc_ws_recv_skip_pings(fd, buf, sizeof(buf), &len, 1), 1);
  ck_assert_mem_eq(buf, "4one", 4);
  ck_assert_int_eq(rc_ws_recv_skip_pings(fd, buf, sizeof(buf), &len, 1), 1);
  ck_assert_mem_eq(buf, "4two", 4);
  /* message, ping, message, and a cut frame completed by the next read */
  n = put_frame(out, 1, "4x", 2);
  n += put_frame(out + n, 9, "pp", 2);
  n += put_frame(out + n, 1, "4y", 2);
  n += put_frame(out + n, 1, "4z", 2);
  ck_assert_int_eq(rc_send(fd, out, n - 3), 0);
  usleep(10000);
  ck_assert_int_eq(rc_send(fd, out + n - 3, 3), 0);
  ck_assert_int_eq(rc_ws_recv_skip_pings(fd, buf, sizeof(buf), &len, 1), 1);
  ck_assert_mem_eq(buf, "4x", 2);
  /* wslay writes its pong once the read is processed (RFC 6455 5.5: a
   * control frame may come between any two messages) */
  ck_assert_int_eq(rc_ws_recv_skip_pings(fd, buf, sizeof(buf), &len, 1), 1);
  ck_assert_mem_eq(buf, "4y", 2);
  ck_assert_int_eq(rc_ws_recv_skip_pings(fd, buf, sizeof(buf), &len, 1), 10);
  ck_assert_mem_eq(buf, "pp", 2);
  ck_assert_int_eq(rc_ws_recv_skip_pings(fd, buf, sizeof(buf), &len, 1), 1);
  ck_assert_mem_eq(buf, "4z", 2);
  /* a 16-bit length, binary, and multi-byte UTF-8 */
  memset(big, 'b', sizeof(big));
  big[0] = '4';
  n = put_frame(out, 1, big, sizeof(big));
  n += put_frame(out + n, 2, "\xff\x00", 2);
  n += put_frame(out + n, 1, "4\xc3\xa9\xe2\x82\xac\xf0\x9f\x98\x80", 10);
  ck_assert_int_eq(rc_send(fd, out, n), 0);
  ck_assert_int_eq(rc_ws_recv_skip_pings(fd, buf, sizeof(buf), &len, 1), 1);
  ck_assert_uint_eq(len, sizeof(big));
  ck_assert_int_eq(rc_ws_recv_skip_pings(fd, buf, sizeof(buf), &len, 1), 2);
  ck_assert_mem_eq(buf, "\xff\x00", 2);
  ck_assert_int_eq(rc_ws_recv_skip_pings(fd, buf, sizeof(buf), &len, 1), 1);
  ck_assert_uint_eq(len, 10);
  /* a 16-bit length that fits 7 bits is refused (wslay closes) */
  {
    static const uint8_t fr[10] = {0x81, 0xfe, 0, 2, 0, 0, 0, 0, '4', 'q'};
    ck_assert_int_eq(rc_send(fd, fr, sizeof(fr)), 0);
  }
  ck_assert_int_eq(rc_ws_recv_skip_pings(fd, buf, sizeof(buf), &len, 1), 8);
  ck_assert_int_eq(rc_wait_eof(fd, 2000), 1);
  rc_close(fd);
  /* invalid UTF-8 (a surrogate) after a good message: 1007 */
  fd = rc_ws_open(f->port, "/engine.io/?EIO=4&transport=websocket");
  ck_assert_int_ge(fd, 0);
  ck_assert_int_eq(rc_ws_recv(fd, buf, sizeof(buf), &len), 1);
  n = put_frame(out, 1, "4ok", 3);
  n += put_frame(out + n, 1, "4\xed\xa0\x80", 4);
  ck_assert_int_eq(rc_send(fd, out, n), 0);
  ck_assert_int_eq(rc_ws_recv_skip_pings(fd, buf, sizeof(buf), &len, 1), 1);
  ck_assert_mem_eq(buf, "4ok", 3);
  ck_assert_int_eq(rc_ws_recv_skip_pings(fd, buf, sizeof(buf), &len, 1), 8);
  ck_assert_int_eq(buf[0] << 8 | buf[1], 1007);
  rc_close(fd);
}

START_TEST(websocket_fast_path) {
  fx f;
  eio_options o = default_opts();
  o.ping_interval = 5000;
  run(&f, &o, sc_ws_fast_path);
  ck_assert_int_eq(f.opens, 2);
  ck_assert_int_eq(f.messages, 9);
  ck_assert_int_eq(f.closes, 2);
}
END_TEST

static void sc_ws_unmasked(fx *f) {
  uint8_t buf[4096];
  size_t len;
  int fd = rc_ws_open(f->port, "/engine.io/?EIO=4&transport=websocket");
  ck_assert_int_ge(fd, 0);
  ck_assert_int_eq(rc_ws_recv(fd, buf, sizeof(buf), &len), 1);
  ck_assert_int_eq(rc_send(fd, "\x81\x02" "4x", 4), 0); /* not masked */
  ck_assert_int_eq(rc_ws_recv_skip_pings(fd, buf, sizeof(buf), &len, 1), 8);
  ck_assert_int_eq(buf[0] << 8 | buf[1], 1002);
  rc_close(fd);
}

START_TEST(websocket_unmasked_1002) {
  fx f;
  eio_options o = default_opts();
  run(&f, &o, sc_ws_unmasked);
  ck_assert_int_eq(f.messages, 0);
  ck_assert_int_eq(f.closes, 1);
}
END_TEST

static void sc_upgrade(fx *f) {
  char sid[32], u[128], req[256];
  uint8_t buf[4096];
  size_t len;
  rc_response r;
  int ws, a, n, second;
  handshake(f, sid);
  url(u, sid, "polling");
  /* a GET parked before the probe is released with a noop */
  a = rc_connect(f->port);
  n = snprintf(req, sizeof(req), "GET %s HTTP/1.1\r\nHost: x\r\n\r\n", u);
  rc_send(a, req, (size_t)n);
  usleep(30000);
  ws = rc_ws_open(f->port, url(req, sid, "websocket"));
  ck_assert_int_ge(ws, 0);
  ck_assert_int_eq(rc_ws_send(ws, 1, "2probe", 6), 0);
  ck_assert_int_eq(rc_ws_recv(ws, buf, sizeof(buf), &len), 1);
  ck_assert_str_eq((char *)buf, "3probe");
  ck_assert_int_eq(rc_read_response(a, &r), 200);
  ck_assert_str_eq(r.body, "6");
  rc_close(a);
  /* queued before the upgrade completes: delivered on the WebSocket */
  ck_assert_int_eq(rc_fetch(f->port, "POST", u, "4queued", &r), 200);
  ck_assert_int_eq(rc_ws_send(ws, 1, "5", 1), 0);
  ck_assert_int_eq(rc_ws_recv_skip_pings(ws, buf, sizeof(buf), &len, 1), 1);
  ck_assert_str_eq((char *)buf, "4queued");
  /* polling is refused after the upgrade, the session lives on */
  ck_assert_int_eq(rc_fetch(f->port, "GET", u, NULL, &r), 400);
  /* a second WebSocket for the session is opened then closed */
  second = rc_ws_open(f->port, url(req, sid, "websocket"));
  ck_assert_int_ge(second, 0);
  ck_assert_int_eq(rc_ws_recv(second, buf, sizeof(buf), &len), 8);
  rc_close(second);
  ck_assert_int_eq(rc_ws_send(ws, 1, "4after", 6), 0);
  ck_assert_int_eq(rc_ws_recv_skip_pings(ws, buf, sizeof(buf), &len, 1), 1);
  ck_assert_str_eq((char *)buf, "4after");
  rc_close(ws);
  usleep(50000);
}

START_TEST(upgrade_polling_to_websocket) {
  fx f;
  eio_options o = default_opts();
  run(&f, &o, sc_upgrade);
  ck_assert_int_eq(f.opens, 1);
  ck_assert_int_eq(f.messages, 2);
  ck_assert_int_eq(f.closes, 1);
  ck_assert_str_eq(f.reasons[0], "transport close");
}
END_TEST

static void sc_cors_cookie(fx *f) {
  rc_response r;
  char v[256];
  int fd = rc_connect(f->port);
  ck_assert_int_eq(rc_request(fd, "GET", "/engine.io/?EIO=4&transport=polling",
                              "Origin: http://good.example\r\n", NULL, 0, &r),
                   200);
  ck_assert_str_eq(rc_header(&r, "access-control-allow-origin", v, sizeof(v)),
                   "http://good.example");
  ck_assert_str_eq(
      rc_header(&r, "access-control-allow-credentials", v, sizeof(v)), "true");
  ck_assert_ptr_nonnull(rc_header(&r, "set-cookie", v, sizeof(v)));
  ck_assert_int_eq(strncmp(v, "io=", 3), 0);
  ck_assert_ptr_nonnull(strstr(v, "; Path=/; HttpOnly; SameSite=Lax"));
  ck_assert_int_eq(rc_request(fd, "GET", "/engine.io/?EIO=4&transport=polling",
                              "Origin: http://evil.example\r\n", NULL, 0, &r),
                   403);
  ck_assert_str_eq(r.body, "{\"code\":4,\"message\":\"Forbidden\"}");
  rc_close(fd);
  fd = rc_connect(f->port);
  ck_assert_int_eq(
      rc_request(fd, "OPTIONS", "/engine.io/?EIO=4&transport=polling",
                 "Origin: http://good.example\r\n"
                 "Access-Control-Request-Headers: content-type\r\n",
                 NULL, 0, &r),
      204);
  ck_assert_ptr_nonnull(
      rc_header(&r, "access-control-allow-methods", v, sizeof(v)));
  rc_close(fd);
}

START_TEST(cors_origins_and_cookie) {
  fx f;
  eio_options o = default_opts();
  o.cors_origins = "http://good.example,http://other.example";
  o.cors_credentials = 1;
  o.cookie = "io";
  run(&f, &o, sc_cors_cookie);
  ck_assert_int_eq(f.opens, 1);
  ck_assert_uint_eq(f.stats.origin_refused, 1);
}
END_TEST

static void sc_buffer_bound(fx *f) {
  char sid[32], u[128], body[600];
  rc_response r;
  int i;
  handshake(f, sid);
  url(u, sid, "polling");
  memset(body, 'x', sizeof(body) - 1);
  body[0] = '4';
  body[sizeof(body) - 1] = 0;
  /* each echo queues ~600 bytes with no GET to take them: the second
   * passes the 1000-byte bound and the session is closed */
  for (i = 0; i < 3; i++)
    rc_fetch(f->port, "POST", u, body, &r);
  ck_assert_int_eq(rc_fetch(f->port, "GET", u, NULL, &r), 400);
}

START_TEST(output_bound_closes_session) {
  fx f;
  eio_options o = default_opts();
  o.max_buffered = 1000;
  run(&f, &o, sc_buffer_bound);
  ck_assert_uint_eq(f.stats.slow_consumers, 1);
  ck_assert_int_eq(f.closes, 1);
  ck_assert_str_eq(f.reasons[0], "transport error");
}
END_TEST

static void sc_conn_cap(fx *f) {
  rc_response r;
  int a = rc_connect(f->port), b;
  usleep(30000);
  b = rc_connect(f->port);
  ck_assert_int_eq(rc_wait_eof(b, 2000), 1);
  ck_assert_int_eq(
      rc_request(a, "GET", "/engine.io/?EIO=4&transport=polling", NULL, NULL,
                 0, &r),
      200);
  rc_close(a);
  rc_close(b);
}

START_TEST(max_connections) {
  fx f;
  eio_options o = default_opts();
  o.max_connections = 1;
  run(&f, &o, sc_conn_cap);
  ck_assert_int_eq(f.opens, 1);
  ck_assert_uint_ge(f.stats.connections_refused, 1);
}
END_TEST

/* TLS: a certificate made for the test; a blocking OpenSSL client does a
 * handshake, a polling handshake over HTTPS, then a WebSocket over TLS. */
static char tls_dir[64];

static int tls_read_all(SSL *ssl, char *buf, size_t cap, const char *until) {
  size_t n = 0;
  while (n + 1 < cap) {
    int r = SSL_read(ssl, buf + n, (int)(cap - 1 - n));
    if (r <= 0)
      break;
    n += (size_t)r;
    buf[n] = 0;
    if (strstr(buf, until))
      break;
  }
  buf[n] = 0;
  return (int)n;
}

static void sc_tls(fx *f) {
  SSL_CTX *ctx = SSL_CTX_new(TLS_client_method());
  SSL *ssl;
  char buf[4096];
  int fd, i;
  const char *req = "GET /engine.io/?EIO=4&transport=polling HTTP/1.1\r\n"
                    "Host: x\r\n\r\n";
  /* Several connections: with TLS 1.3 the request often arrives in the
   * same read as the client's Finished, so the server's session tickets
   * and its response are sealed in one turn and must leave in order. */
  for (i = 0; i < 10; i++) {
    fd = rc_connect(f->port);
    ck_assert_int_ge(fd, 0);
    ssl = SSL_new(ctx);
    SSL_set_fd(ssl, fd);
    ck_assert_int_eq(SSL_connect(ssl), 1);
    ck_assert_int_ge(SSL_version(ssl), TLS1_2_VERSION);
    ck_assert_int_eq(SSL_write(ssl, req, (int)strlen(req)), (int)strlen(req));
    tls_read_all(ssl, buf, sizeof(buf), "maxPayload");
    ck_assert_int_eq(strncmp(buf, "HTTP/1.1 200 OK", 15), 0);
    ck_assert_ptr_nonnull(strstr(buf, "\r\n\r\n0{\"sid\":"));
    SSL_free(ssl);
    rc_close(fd);
  }
  /* TLS 1.1 is refused */
  fd = rc_connect(f->port);
  ssl = SSL_new(ctx);
  SSL_set_max_proto_version(ssl, TLS1_1_VERSION);
  SSL_set_fd(ssl, fd);
  ck_assert_int_ne(SSL_connect(ssl), 1);
  SSL_free(ssl);
  rc_close(fd);
  SSL_CTX_free(ctx);
}

START_TEST(tls_native) {
  fx f;
  eio_options o = default_opts();
  char cmd[512], cert[128], key[128];
  snprintf(tls_dir, sizeof(tls_dir), "/tmp/sio-tls-XXXXXX");
  ck_assert_ptr_nonnull(mkdtemp(tls_dir));
  snprintf(cert, sizeof(cert), "%s/cert.pem", tls_dir);
  snprintf(key, sizeof(key), "%s/key.pem", tls_dir);
  snprintf(cmd, sizeof(cmd),
           "openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:prime256v1"
           " -nodes -keyout %s -out %s -days 1 -subj /CN=localhost"
           " >/dev/null 2>&1",
           key, cert);
  ck_assert_int_eq(system(cmd), 0);
  o.tls_cert = cert;
  o.tls_key = key;
  run(&f, &o, sc_tls);
  ck_assert_int_eq(f.opens, 10);
  snprintf(cmd, sizeof(cmd), "rm -rf %s", tls_dir);
  ck_assert_int_eq(system(cmd), 0);
}
END_TEST

START_TEST(tls_bad_files) {
  eio_options o = default_opts();
  eio_callbacks cbs = {0};
  eio_server *srv = NULL;
  uv_loop_t loop;
  uv_loop_init(&loop);
  o.tls_cert = "/nonexistent/cert.pem";
  o.tls_key = "/nonexistent/key.pem";
  ck_assert_int_eq(eio_server_new(&srv, &loop, &o, &cbs, NULL), SIO_ERR_IO);
  ck_assert_ptr_null(srv);
  ck_assert_int_eq(uv_loop_close(&loop), 0);
}
END_TEST

/* ------------------------------------------------- loops of one process */

/* Two servers, loop 0 on this thread and loop 1 on its own, as
 * server.threads = 2 runs them: each listens on its own port here (the
 * daemon shares one with SO_REUSEPORT), and a request for the other loop's
 * sid is handed to it with its connection through a mailbox. The client
 * thread aims requests at the wrong loop on purpose; each answer must be
 * the owner's. */
typedef struct lp lp;
typedef struct lp_side {
  lp *g;
  unsigned index;
  uv_loop_t loop;
  eio_server *srv;
  sio_mailbox mb;
  int port;
  int opens, messages;
  eio_stats stats;
} lp_side;

struct lp {
  lp_side s[2];
  uv_thread_t t1, client;
  int closed;
  void (*scenario)(lp *g);
};

typedef struct lp_letter {
  sio_letter l;
  lp_side *to;
  sio_handoff h;
  uint8_t *bytes;
  size_t len;
} lp_letter;

static void lp_on_open(eio_socket *es, void *ud) {
  ((lp_side *)ud)->opens++;
  (void)es;
}

static void lp_on_message(eio_socket *es, int binary, const uint8_t *data,
                          size_t len, void *ud) {
  lp_side *x = ud;
  char buf[128];
  sio_rcbuf *rc;
  (void)binary;
  x->messages++;
  snprintf(buf, sizeof(buf), "4%u:%.*s", x->index, (int)len,
           (const char *)data);
  rc = sio_rcbuf_new_copy(buf, strlen(buf));
  eio_socket_send(es, rc);
  sio_rcbuf_unref(rc);
}

static void lp_arrive(sio_letter *l) {
  lp_letter *m = (lp_letter *)l;
  eio_server_adopt(m->to->srv, &m->h, m->bytes, m->len);
  sio_free(m->bytes);
  sio_free(m);
}

static int lp_route(void *ud, unsigned loop, sio_handoff *h, uint8_t *bytes,
                    size_t len) {
  lp *g = ud;
  lp_letter *m = sio_calloc(1, sizeof(*m));
  if (!m || loop > 1)
    return SIO_ERR_INVAL;
  m->l.fn = lp_arrive;
  m->to = &g->s[loop];
  m->h = *h;
  m->bytes = bytes;
  m->len = len;
  if (sio_mailbox_post(&g->s[loop].mb, &m->l)) {
    sio_free(m);
    return SIO_ERR_LIMIT;
  }
  return 0;
}

static void lp_server_closed(void *ud) {
  lp_side *x = ud;
  sio_mailbox_close(&x->mb, NULL, NULL);
}

static void lp_close_letter(sio_letter *l) { /* on the side's loop */
  lp_letter *m = (lp_letter *)l;
  eio_server_stats(m->to->srv, &m->to->stats);
  eio_server_close(m->to->srv, lp_server_closed, m->to);
  sio_free(m);
}

static void lp_client(void *ud) {
  lp *g = ud;
  int i;
  g->scenario(g);
  for (i = 0; i < 2; i++) {
    lp_letter *m = sio_calloc(1, sizeof(*m));
    m->l.fn = lp_close_letter;
    m->to = &g->s[i];
    ck_assert_int_eq(sio_mailbox_post(&g->s[i].mb, &m->l), 0);
  }
}

static void lp_loop1(void *ud) {
  lp *g = ud;
  uv_run(&g->s[1].loop, UV_RUN_DEFAULT);
}

static void lp_run(lp *g, void (*scenario)(lp *g)) {
  eio_callbacks cbs = {lp_on_open, lp_on_message, NULL, NULL, NULL};
  eio_options o = {0};
  unsigned i;
  o.path = "/engine.io/";
  o.ping_interval = 5000;
  o.ping_timeout = 300;
  o.max_payload = 1000;
  o.transports = SIO_TRANSPORT_POLLING | SIO_TRANSPORT_WEBSOCKET;
  g->scenario = scenario;
  for (i = 0; i < 2; i++) {
    lp_side *x = &g->s[i];
    x->g = g;
    x->index = i;
    ck_assert_int_eq(uv_loop_init(&x->loop), 0);
    ck_assert_int_eq(eio_server_new(&x->srv, &x->loop, &o, &cbs, x), 0);
    ck_assert_int_eq(eio_server_set_loops(x->srv, i, 2, lp_route, g), 0);
    ck_assert_int_eq(eio_server_listen(x->srv, "127.0.0.1:0"), 0);
    x->port = eio_server_port(x->srv, 0);
    ck_assert_int_eq(sio_mailbox_init(&x->mb, &x->loop, 0), 0);
  }
  ck_assert_int_eq(uv_thread_create(&g->t1, lp_loop1, g), 0);
  ck_assert_int_eq(uv_thread_create(&g->client, lp_client, g), 0);
  uv_run(&g->s[0].loop, UV_RUN_DEFAULT);
  uv_thread_join(&g->client);
  uv_thread_join(&g->t1);
  for (i = 0; i < 2; i++)
    ck_assert_int_eq(uv_loop_close(&g->s[i].loop), 0);
}

/* Polling requests on the other loop's connections reach the owner; a
 * keep-alive connection that carried a request of its own loop first is
 * handed over for the next one and answers it. */
static void sc_loops_polling(lp *g) {
  char s0[32], u0[128], s1[32], u1[128];
  rc_response r;
  int fd;
  rc_eio_handshake(g->s[0].port, s0, u0);
  rc_eio_handshake(g->s[1].port, s1, u1);
  ck_assert_int_eq(eio_sid_loop(s0, 20), 0);
  ck_assert_int_eq(eio_sid_loop(s1, 20), 1);
  ck_assert_int_eq(rc_fetch(g->s[1].port, "POST", u0, "4hi", &r), 200);
  ck_assert_str_eq(r.body, "ok");
  ck_assert_int_eq(rc_fetch(g->s[1].port, "GET", u0, NULL, &r), 200);
  ck_assert_str_eq(r.body, "40:hi");
  fd = rc_connect(g->s[0].port);
  ck_assert_int_eq(rc_request(fd, "POST", u0, NULL, "4own", 4, &r), 200);
  ck_assert_int_eq(rc_request(fd, "POST", u1, NULL, "4moved", 6, &r), 200);
  ck_assert_str_eq(r.body, "ok");
  ck_assert_int_eq(rc_request(fd, "GET", u1, NULL, NULL, 0, &r), 200);
  ck_assert_str_eq(r.body, "41:moved");
  ck_assert_int_eq(rc_request(fd, "GET", u0, NULL, NULL, 0, &r), 200);
  ck_assert_str_eq(r.body, "40:own"); /* and back again */
  rc_close(fd);
}

START_TEST(loops_hand_requests_to_the_owner) {
  lp *g = sio_calloc(1, sizeof(*g));
  lp_run(g, sc_loops_polling);
  ck_assert_int_eq(g->s[0].opens, 1);
  ck_assert_int_eq(g->s[1].opens, 1);
  ck_assert_int_eq(g->s[0].messages, 2);
  ck_assert_int_eq(g->s[1].messages, 1);
  /* POST and GET of loop 0's session on loop 1; the keep-alive connection
   * to loop 1 for its POST (its GET is then at home), back to loop 0 */
  ck_assert_uint_eq(g->s[1].stats.forward.handed_to_loop, 3);
  ck_assert_uint_eq(g->s[0].stats.forward.handed_to_loop, 1);
  ck_assert_uint_eq(g->s[0].stats.forward.adopted, 3);
  ck_assert_uint_eq(g->s[1].stats.forward.adopted, 1);
  sio_free(g);
}
END_TEST

/* A WebSocket upgrade on the other loop: the owner answers the probe and
 * the session lives on its WebSocket there. */
static void sc_loops_upgrade(lp *g) {
  char s0[32], u0[128], w[128];
  uint8_t buf[128];
  size_t n;
  int ws;
  rc_eio_handshake(g->s[0].port, s0, u0);
  sprintf(w, "/engine.io/?EIO=4&transport=websocket&sid=%s", s0);
  ws = rc_ws_open(g->s[1].port, w);
  ck_assert_int_ge(ws, 0);
  ck_assert_int_eq(rc_ws_send(ws, 1, "2probe", 6), 0);
  ck_assert_int_eq(rc_ws_recv(ws, buf, sizeof(buf), &n), 1);
  ck_assert_int_eq(memcmp(buf, "3probe", 6), 0);
  ck_assert_int_eq(rc_ws_send(ws, 1, "5", 1), 0);
  ck_assert_int_eq(rc_ws_send(ws, 1, "4up", 3), 0);
  ck_assert_int_eq(rc_ws_recv(ws, buf, sizeof(buf), &n), 1);
  ck_assert_int_eq((int)n, 5);
  ck_assert_int_eq(memcmp(buf, "40:up", 5), 0);
  rc_close(ws);
}

START_TEST(loops_hand_an_upgrade_to_the_owner) {
  lp *g = sio_calloc(1, sizeof(*g));
  lp_run(g, sc_loops_upgrade);
  ck_assert_int_eq(g->s[0].messages, 1); /* the echo came over the */
  ck_assert_int_eq(g->s[1].messages, 0); /* WebSocket from loop 0 */
  ck_assert_uint_eq(g->s[0].stats.forward.adopted, 1);
  sio_free(g);
}
END_TEST

START_TEST(sid_names_its_loop) {
  ck_assert_int_eq(eio_sid_loop("AAAAAAAAAAAAAAAAAAAA", 20), 0);
  ck_assert_int_eq(eio_sid_loop("zAAAAAAAAAAAAAAAAAAA", 20), 51);
  ck_assert_int_eq(eio_sid_loop("9AAAAAAAAAAAAAAAAAAA", 20), 61);
  ck_assert_int_eq(eio_sid_loop("_AAAAAAAAAAAAAAAAAAA", 20), 63);
  ck_assert_int_eq(eio_sid_loop("*AAAAAAAAAAAAAAAAAAA", 20), -1);
  ck_assert_int_eq(eio_sid_loop("AAAA", 4), -1);
}
END_TEST

Suite *eio_server_suite(void) {
  Suite *s = suite_create("eio_server");
  TCase *tc = tcase_create("loopback");
  tcase_set_timeout(tc, 20);
  tcase_add_test(tc, handshake_polling);
  tcase_add_test(tc, error_codes);
  tcase_add_test(tc, polling_echo_keepalive);
  tcase_add_test(tc, polling_pipelined);
  tcase_add_test(tc, http_limits);
  tcase_add_test(tc, polling_bad_packet_closes);
  tcase_add_test(tc, polling_overlap_closes);
  tcase_add_test(tc, polling_client_close);
  tcase_add_test(tc, ping_timeout);
  tcase_add_test(tc, heartbeat_many_sessions);
  tcase_add_test(tc, websocket_session);
  tcase_add_test(tc, websocket_fragments_across_reads);
  tcase_add_test(tc, websocket_partial_writes);
  tcase_add_test(tc, websocket_idle_releases_parser);
  tcase_add_test(tc, websocket_max_payload_1009);
  tcase_add_test(tc, websocket_unmasked_1002);
  tcase_add_test(tc, websocket_fast_path);
  tcase_add_test(tc, upgrade_polling_to_websocket);
  tcase_add_test(tc, cors_origins_and_cookie);
  tcase_add_test(tc, output_bound_closes_session);
  tcase_add_test(tc, max_connections);
  tcase_add_test(tc, tls_native);
  tcase_add_test(tc, tls_bad_files);
  suite_add_tcase(s, tc);
  tc = tcase_create("loops");
  tcase_set_timeout(tc, 30);
  tcase_add_test(tc, loops_hand_requests_to_the_owner);
  tcase_add_test(tc, loops_hand_an_upgrade_to_the_owner);
  tcase_add_test(tc, sid_names_its_loop);
  suite_add_tcase(s, tc);
  return s;
}
