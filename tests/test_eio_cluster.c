/* Loop-level tests of sticky-free forwarding (eio_cluster.c): two real
 * eio_servers, A and B, on one loop and 127.0.0.1:0, joined by an
 * in-memory bus that delivers each message on a later loop iteration, as
 * Redis pub/sub would; a blocking client thread (helpers/rawclient) talks
 * to either, and every assertion is on what the client reads or on what
 * the layer above each server was told. The servers are scripted as in
 * eio_fixture: "kill" queues "4bye" and "4bye2" then closes; anything else
 * is echoed by the server that holds the session. */
#include <check.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "check_suites.h"
#include "eio_fixture.h"
#include "eio_server.h"
#include "rawclient.h"
#include "sio/sio.h"
#include "sio_int.h"
#include "sio_mem.h"


typedef struct cfx cfx;

typedef struct side {
  cfx *f;
  eio_server *srv;
  int port;
  int opens, closes, messages;
  char reasons[8][32];
  eio_stats stats;
} side;

typedef struct bus_msg {
  struct bus_msg *next;
  char channel[40];
  size_t len;
  uint8_t data[];
} bus_msg;

struct cfx {
  uv_loop_t loop;
  side a, b;
  uv_timer_t deliver;
  bus_msg *head, **tail;
  int closed;
  int bus_down;        /* publish fails */
  int to_b_left;       /* messages to B's own channel still delivered; -1 all */
  void (*scenario)(cfx *f);
};

/* --------------------------------------------------------------- the bus */

static void deliver_cb(uv_timer_t *t) {
  cfx *f = t->data;
  bus_msg *m = f->head;
  f->head = NULL;
  f->tail = &f->head;
  while (m) {
    bus_msg *next = m->next;
    char own[40];
    side *sides[2] = {&f->a, &f->b};
    int i;
    for (i = 0; i < 2; i++) {
      snprintf(own, sizeof(own), "engine.io#%s#", eio_server_node_id(sides[i]->srv));
      if (strcmp(m->channel, "engine.io#") == 0 || strcmp(m->channel, own) == 0) {
        if (sides[i] == &f->b && strcmp(m->channel, own) == 0 &&
            f->to_b_left >= 0 && f->to_b_left-- == 0) {
          f->to_b_left = 0;
          continue; /* B no longer hears its owner */
        }
        eio_server_bus_message(sides[i]->srv, m->data, m->len);
      }
    }
    sio_free(m);
    m = next;
  }
}

static int bus_publish(void *ud, const char *channel, const uint8_t *msg,
                       size_t len) {
  cfx *f = ud;
  bus_msg *m;
  if (f->bus_down)
    return SIO_ERR_CLOSED;
  m = sio_malloc(sizeof(*m) + len);
  ck_assert_ptr_nonnull(m);
  m->next = NULL;
  snprintf(m->channel, sizeof(m->channel), "%s", channel);
  memcpy(m->data, msg, len);
  m->len = len;
  *f->tail = m;
  f->tail = &m->next;
  uv_timer_start(&f->deliver, deliver_cb, 0, 0);
  return 0;
}

/* ------------------------------------------------------------ the servers */

static void send_text(eio_socket *es, const char *t) {
  sio_rcbuf *rc = sio_rcbuf_new_copy(t, strlen(t));
  eio_socket_send(es, rc);
  sio_rcbuf_unref(rc);
}

static void on_open(eio_socket *es, void *ud) {
  ((side *)ud)->opens++;
  (void)es;
}

static void on_message(eio_socket *es, int binary, const uint8_t *data,
                       size_t len, void *ud) {
  side *s = ud;
  char buf[256];
  s->messages++;
  (void)binary;
  if (len == 5 && memcmp(data, "flood", 5) == 0) {
    /* 4 MiB in 8 KiB messages: more than loopback buffers hold */
    static char big[8193];
    int i;
    memset(big, 'f', sizeof(big) - 1);
    big[0] = '4';
    for (i = 0; i < 512; i++)
      send_text(es, big); /* refused once the session closed */
    return;
  }
  if (len == 4 && memcmp(data, "kill", 4) == 0) {
    send_text(es, "4bye");
    send_text(es, "4bye2");
    eio_socket_close(es, NULL);
    return;
  }
  /* the echo names the server that holds the session */
  snprintf(buf, sizeof(buf), "4%s:%.*s", s == &s->f->a ? "A" : "B", (int)len,
           (const char *)data);
  send_text(es, buf);
}

static void on_close(eio_socket *es, const char *reason, void *ud) {
  side *s = ud;
  if (s->closes < 8)
    snprintf(s->reasons[s->closes], sizeof(s->reasons[0]), "%s", reason);
  s->closes++;
  (void)es;
}

static void closed_cb(void *ud) { ((cfx *)ud)->closed++; }
static void timer_closed(uv_handle_t *h) { (void)h; }

static void done(void *ud) {
  cfx *f = ud;
  eio_server_stats(f->a.srv, &f->a.stats);
  eio_server_stats(f->b.srv, &f->b.stats);
  eio_server_close(f->a.srv, closed_cb, f);
  eio_server_close(f->b.srv, closed_cb, f);
  uv_close((uv_handle_t *)&f->deliver, timer_closed);
  while (f->head) {
    bus_msg *n = f->head->next;
    sio_free(f->head);
    f->head = n;
  }
}

static void thread_fn(void *ud) {
  cfx *f = ud;
  f->scenario(f);
}

static eio_options opts(void) {
  eio_options o = {0};
  o.path = "/engine.io/";
  o.ping_interval = 5000;
  o.ping_timeout = 300;
  o.max_payload = 1000;
  o.transports = SIO_TRANSPORT_POLLING | SIO_TRANSPORT_WEBSOCKET;
  o.cors_origins = "*";
  return o;
}

static void start_side(cfx *f, side *s, const eio_options *o,
                       uint32_t takeover_ms) {
  eio_callbacks cbs = {on_open, on_message, on_close, NULL, NULL};
  eio_bus bus = {bus_publish, f};
  s->f = f;
  ck_assert_int_eq(eio_server_new(&s->srv, &f->loop, o, &cbs, s), 0);
  ck_assert_int_eq(eio_server_set_bus(s->srv, &bus, takeover_ms), 0);
  ck_assert_int_eq(eio_server_listen(s->srv, "127.0.0.1:0"), 0);
  s->port = eio_server_port(s->srv, 0);
}

static void run(cfx *f, const eio_options *o, uint32_t takeover_ms,
                void (*scenario)(cfx *f)) {
  int to_b = f->to_b_left, down = f->bus_down;
  memset(f, 0, sizeof(*f));
  f->to_b_left = to_b;
  f->bus_down = down;
  f->tail = &f->head;
  f->scenario = scenario;
  ck_assert_int_eq(uv_loop_init(&f->loop), 0);
  uv_timer_init(&f->loop, &f->deliver);
  f->deliver.data = f;
  start_side(f, &f->a, o, takeover_ms);
  start_side(f, &f->b, o, takeover_ms);
  ck_assert_str_ne(eio_server_node_id(f->a.srv), eio_server_node_id(f->b.srv));
  rc_run(&f->loop, thread_fn, done, f);
  ck_assert_int_eq(f->closed, 2);
  ck_assert_int_eq(uv_loop_close(&f->loop), 0);
}

static cfx *fresh(void) {
  cfx *f = sio_calloc(1, sizeof(*f));
  f->to_b_left = -1;
  return f;
}

static int park_get(int port, const char *u) {
  char req[256];
  int fd = rc_connect(port), n;
  ck_assert_int_ge(fd, 0);
  n = snprintf(req, sizeof(req), "GET %s HTTP/1.1\r\nHost: x\r\n\r\n", u);
  ck_assert_int_eq(rc_send(fd, req, (size_t)n), 0);
  return fd;
}

static double now_ms(void) { return (double)uv_hrtime() / 1e6; }

/* ------------------------------------------------------------ the tests */

/* Requests for A's session sent to B are A's: a POSTed message is echoed
 * by A, and the echo is the answer to a GET sent to B. */
static void sc_polling_both_ways(cfx *f) {
  char sid[32], u[128];
  rc_response r;
  rc_eio_handshake(f->a.port, sid, u);
  ck_assert_int_eq(rc_fetch(f->b.port, "POST", u, "4hi", &r), 200);
  ck_assert_str_eq(r.body, "ok");
  ck_assert_int_eq(rc_fetch(f->b.port, "GET", u, NULL, &r), 200);
  ck_assert_str_eq(r.body, "4A:hi");
  /* a payload of several packets, one PACKET message each, in order */
  ck_assert_int_eq(rc_fetch(f->b.port, "POST", u, "4x\x1e" "4y", &r), 200);
  ck_assert_int_eq(rc_fetch(f->a.port, "GET", u, NULL, &r), 200);
  ck_assert_str_eq(r.body, "4A:x\x1e" "4A:y");
}

START_TEST(polling_requests_reach_the_owner) {
  cfx *f = fresh();
  eio_options o = opts();
  run(f, &o, 0, sc_polling_both_ways);
  ck_assert_int_eq(f->a.opens, 1);
  ck_assert_int_eq(f->b.opens, 0);
  ck_assert_int_eq(f->a.messages, 3);
  ck_assert_uint_eq(f->b.stats.forward.requests, 3);
  ck_assert_uint_ge(f->a.stats.forward.served, 3);
  sio_free(f);
}
END_TEST

/* A GET waiting on B gets A's output as soon as there is some. */
static void sc_parked_remote(cfx *f) {
  char sid[32], u[128];
  rc_response r;
  int fd;
  rc_eio_handshake(f->a.port, sid, u);
  fd = park_get(f->b.port, u);
  usleep(100000); /* parked on B: nothing queued on A */
  ck_assert_int_eq(rc_fetch(f->a.port, "POST", u, "4late", &r), 200);
  ck_assert_int_eq(rc_read_response(fd, &r), 200);
  ck_assert_str_eq(r.body, "4A:late");
  rc_close(fd);
}

START_TEST(parked_remote_get_gets_later_output) {
  cfx *f = fresh();
  eio_options o = opts();
  run(f, &o, 0, sc_parked_remote);
  ck_assert_int_eq(f->a.closes, 0 + 1); /* closed at shutdown */
  sio_free(f);
}
END_TEST

/* A sid that nobody owns is unknown once the owners had their second. */
static void sc_unknown(cfx *f) {
  char u[128];
  rc_response r;
  double t0 = now_ms();
  sprintf(u, "/engine.io/?EIO=4&transport=polling&sid=%s",
          "AAAAAAAAAAAAAAAAAAAA");
  ck_assert_int_eq(rc_fetch(f->b.port, "GET", u, NULL, &r), 400);
  ck_assert_str_eq(r.body, UNKNOWN);
  ck_assert(now_ms() - t0 >= 900);
  /* the connection is usable again (keep-alive after the answer) */
  ck_assert_int_eq(rc_fetch(f->b.port, "POST", u, "4x", &r), 400);
}

START_TEST(unknown_sid_after_the_answer_deadline) {
  cfx *f = fresh();
  eio_options o = opts();
  run(f, &o, 0, sc_unknown);
  ck_assert_uint_eq(f->b.stats.forward.unknown, 2);
  ck_assert_uint_eq(f->b.stats.forward.requests, 0);
  sio_free(f);
}
END_TEST

/* The bus is down: nothing can be asked, the sid is unknown at once. */
static void sc_bus_down(cfx *f) {
  char sid[32], u[128];
  rc_response r;
  double t0;
  rc_eio_handshake(f->a.port, sid, u);
  t0 = now_ms();
  ck_assert_int_eq(rc_fetch(f->b.port, "GET", u, NULL, &r), 400);
  ck_assert_str_eq(r.body, UNKNOWN);
  ck_assert(now_ms() - t0 < 500);
}

START_TEST(bus_down_is_unknown_at_once) {
  cfx *f = fresh();
  eio_options o = opts();
  f->bus_down = 1;
  run(f, &o, 0, sc_bus_down);
  ck_assert_uint_ge(f->b.stats.forward.bus_errors, 1);
  sio_free(f);
}
END_TEST

/* The client drops a GET that waits on B: the session ends on A with the
 * reason a dropped local poll has. */
static void sc_dropped_get(cfx *f) {
  char sid[32], u[128];
  int fd;
  rc_eio_handshake(f->a.port, sid, u);
  fd = park_get(f->b.port, u);
  usleep(100000);
  rc_close(fd);
  usleep(200000);
}

START_TEST(dropped_remote_get_closes_the_session) {
  cfx *f = fresh();
  eio_options o = opts();
  run(f, &o, 0, sc_dropped_get);
  ck_assert_int_eq(f->a.closes, 1);
  ck_assert_str_eq(f->a.reasons[0], "transport error");
  sio_free(f);
}
END_TEST

/* A GET on A while one waits on B is an overlapping poll, as two local
 * GETs are: 400, and the session closes. */
static void sc_overlap(cfx *f) {
  char sid[32], u[128];
  rc_response r;
  int fd;
  rc_eio_handshake(f->a.port, sid, u);
  fd = park_get(f->b.port, u);
  usleep(100000);
  ck_assert_int_eq(rc_fetch(f->a.port, "GET", u, NULL, &r), 400);
  ck_assert_int_eq(rc_read_response(fd, &r), 200);
  ck_assert_str_eq(r.body, "1"); /* the session closed under it */
  rc_close(fd);
}

START_TEST(overlapping_local_and_remote_polls) {
  cfx *f = fresh();
  eio_options o = opts();
  run(f, &o, 0, sc_overlap);
  ck_assert_int_eq(f->a.closes, 1);
  ck_assert_str_eq(f->a.reasons[0], "transport error");
  sio_free(f);
}
END_TEST

/* The server closes a session whose GET waits on B: that GET gets what was
 * queued before the close, and the close. */
static void sc_server_close(cfx *f) {
  char sid[32], u[128];
  rc_response r;
  int fd;
  rc_eio_handshake(f->a.port, sid, u);
  fd = park_get(f->b.port, u);
  usleep(100000);
  ck_assert_int_eq(rc_fetch(f->a.port, "POST", u, "4kill", &r), 200);
  ck_assert_int_eq(rc_read_response(fd, &r), 200);
  ck_assert_str_eq(r.body, "4bye\x1e" "4bye2\x1e" "1");
  rc_close(fd);
  ck_assert_int_eq(rc_fetch(f->b.port, "GET", u, NULL, &r), 400);
}

START_TEST(server_close_reaches_the_remote_get) {
  cfx *f = fresh();
  eio_options o = opts();
  run(f, &o, 0, sc_server_close);
  ck_assert_int_eq(f->a.closes, 1);
  sio_free(f);
}
END_TEST

/* B stops hearing A after the lock answer: its GET is not held forever,
 * it is answered with a close after pingInterval + pingTimeout. */
static void sc_owner_silent(cfx *f) {
  char sid[32], u[128];
  rc_response r;
  double t0;
  rc_eio_handshake(f->a.port, sid, u);
  t0 = now_ms();
  ck_assert_int_eq(rc_fetch(f->b.port, "GET", u, NULL, &r), 200);
  ck_assert_str_eq(r.body, "1");
  ck_assert(now_ms() - t0 >= 400 && now_ms() - t0 < 2000);
}

START_TEST(silent_owner_bounds_the_remote_get) {
  cfx *f = fresh();
  eio_options o = opts();
  o.ping_interval = 300;
  o.ping_timeout = 300;
  f->to_b_left = 1; /* the lock answer, then nothing */
  run(f, &o, 0, sc_owner_silent);
  sio_free(f);
}
END_TEST

/* WebSocket upgrade on B of a session A holds back: B takes it over with
 * the message A received meanwhile; A's layer never saw the session. */
static void sc_takeover(cfx *f) {
  char sid[32], u[128], w[128];
  rc_response r;
  uint8_t buf[256];
  size_t n;
  int ws;
  rc_eio_handshake(f->a.port, sid, u);
  ck_assert_int_eq(rc_fetch(f->a.port, "POST", u, "4first", &r), 200);
  sprintf(w, "/engine.io/?EIO=4&transport=websocket&sid=%s", sid);
  ws = rc_ws_open(f->b.port, w);
  ck_assert_int_ge(ws, 0);
  ck_assert_int_eq(rc_ws_send(ws, 1, "2probe", 6), 0);
  ck_assert_int_eq(rc_ws_recv(ws, buf, sizeof(buf), &n), 1);
  ck_assert_int_eq((int)n, 6);
  ck_assert_int_eq(memcmp(buf, "3probe", 6), 0);
  ck_assert_int_eq(rc_ws_send(ws, 1, "5", 1), 0);
  ck_assert_int_eq(rc_ws_send(ws, 1, "4second", 7), 0); /* before the answer */
  ck_assert_int_eq(rc_ws_recv(ws, buf, sizeof(buf), &n), 1);
  ck_assert_int_eq(memcmp(buf, "4B:first", 8), 0);
  ck_assert_int_eq(rc_ws_recv(ws, buf, sizeof(buf), &n), 1);
  ck_assert_int_eq(memcmp(buf, "4B:second", 9), 0);
  /* A forgot the sid; B refuses polling for a WebSocket session */
  ck_assert_int_eq(rc_fetch(f->a.port, "GET", u, NULL, &r), 400);
  rc_close(ws);
  usleep(100000);
}

START_TEST(upgrade_elsewhere_takes_the_session_over) {
  cfx *f = fresh();
  eio_options o = opts();
  run(f, &o, 2000, sc_takeover);
  ck_assert_int_eq(f->a.opens, 0);
  ck_assert_int_eq(f->a.closes, 0);
  ck_assert_int_eq(f->b.opens, 1);
  ck_assert_int_eq(f->b.messages, 2);
  ck_assert_int_eq(f->b.closes, 1);
  ck_assert_uint_eq(f->b.stats.forward.takeovers, 1);
  ck_assert_uint_eq(f->a.stats.forward.handed_over, 1);
  sio_free(f);
}
END_TEST

/* Without the hold (takeover 0) the upgrade on B proxies A's session: the
 * echo still comes from A, through B's WebSocket, and the WebSocket's
 * close ends the session on A. */
static void sc_proxy(cfx *f) {
  char sid[32], u[128], w[128];
  uint8_t buf[256];
  size_t n;
  int ws;
  rc_eio_handshake(f->a.port, sid, u);
  sprintf(w, "/engine.io/?EIO=4&transport=websocket&sid=%s", sid);
  ws = rc_ws_open(f->b.port, w);
  ck_assert_int_ge(ws, 0);
  ck_assert_int_eq(rc_ws_send(ws, 1, "2probe", 6), 0);
  ck_assert_int_eq(rc_ws_recv(ws, buf, sizeof(buf), &n), 1);
  ck_assert_int_eq(rc_ws_send(ws, 1, "5", 1), 0);
  ck_assert_int_eq(rc_ws_send(ws, 1, "4via", 4), 0);
  ck_assert_int_eq(rc_ws_recv(ws, buf, sizeof(buf), &n), 1);
  ck_assert_int_eq((int)n, 6);
  ck_assert_int_eq(memcmp(buf, "4A:via", 6), 0);
  ck_assert_int_eq(rc_ws_send(ws, 2, "\x01\x02", 2), 0); /* binary too */
  ck_assert_int_eq(rc_ws_recv(ws, buf, sizeof(buf), &n), 1);
  ck_assert_int_eq(memcmp(buf, "4A:\x01\x02", 5), 0);
  rc_close(ws);
  usleep(200000);
}

START_TEST(upgrade_elsewhere_after_open_is_proxied) {
  cfx *f = fresh();
  eio_options o = opts();
  run(f, &o, 0, sc_proxy);
  ck_assert_int_eq(f->a.opens, 1);
  ck_assert_int_eq(f->b.opens, 0);
  ck_assert_int_eq(f->a.messages, 2);
  ck_assert_int_eq(f->a.closes, 1);
  ck_assert_str_eq(f->a.reasons[0], "transport close");
  ck_assert_uint_eq(f->b.stats.forward.proxied, 1);
  sio_free(f);
}
END_TEST

/* The hold ends by itself: the session opens on A after takeover_ms, with
 * the message it received meanwhile, and a local upgrade ends it at once. */
static void sc_hold_expires(cfx *f) {
  char sid[32], u[128], w[128];
  rc_response r;
  uint8_t buf[256];
  size_t n;
  int ws;
  double t0 = now_ms();
  rc_eio_handshake(f->a.port, sid, u);
  ck_assert_int_eq(rc_fetch(f->a.port, "POST", u, "4held", &r), 200);
  ck_assert_int_eq(rc_fetch(f->a.port, "GET", u, NULL, &r), 200);
  ck_assert_str_eq(r.body, "4A:held");
  ck_assert(now_ms() - t0 >= 250);
  /* a second session upgrades on A itself: no wait for its open */
  rc_eio_handshake(f->a.port, sid, u);
  sprintf(w, "/engine.io/?EIO=4&transport=websocket&sid=%s", sid);
  t0 = now_ms();
  ws = rc_ws_open(f->a.port, w);
  ck_assert_int_eq(rc_ws_send(ws, 1, "2probe", 6), 0);
  ck_assert_int_eq(rc_ws_recv(ws, buf, sizeof(buf), &n), 1);
  ck_assert_int_eq(rc_ws_send(ws, 1, "5", 1), 0);
  ck_assert_int_eq(rc_ws_send(ws, 1, "4up", 3), 0);
  ck_assert_int_eq(rc_ws_recv(ws, buf, sizeof(buf), &n), 1);
  ck_assert_int_eq(memcmp(buf, "4A:up", 5), 0);
  ck_assert(now_ms() - t0 < 250);
  rc_close(ws);
}

START_TEST(hold_ends_by_time_or_local_upgrade) {
  cfx *f = fresh();
  eio_options o = opts();
  run(f, &o, 300, sc_hold_expires);
  ck_assert_int_eq(f->a.opens, 2);
  sio_free(f);
}
END_TEST

/* A client that stops reading its proxied WebSocket: the proxy does not
 * queue the owner's output without end; it closes the WebSocket at the
 * session's bound and the owner ends the session as a slow consumer. */
static void sc_proxy_slow(cfx *f) {
  char sid[32], u[128], w[128];
  uint8_t buf[256];
  size_t n;
  int ws;
  rc_eio_handshake(f->a.port, sid, u);
  sprintf(w, "/engine.io/?EIO=4&transport=websocket&sid=%s", sid);
  ws = rc_ws_open(f->b.port, w);
  ck_assert_int_ge(ws, 0);
  ck_assert_int_eq(rc_ws_send(ws, 1, "2probe", 6), 0);
  ck_assert_int_eq(rc_ws_recv(ws, buf, sizeof(buf), &n), 1);
  ck_assert_int_eq(rc_ws_send(ws, 1, "5", 1), 0);
  usleep(100000);
  ck_assert_int_eq(rc_ws_send(ws, 1, "4flood", 6), 0);
  usleep(1000000); /* not reading */
  rc_close(ws);
}

START_TEST(proxied_client_not_reading_is_closed_at_the_bound) {
  cfx *f = fresh();
  eio_options o = opts();
  o.max_buffered = 256 * 1024;
  run(f, &o, 0, sc_proxy_slow);
  ck_assert_uint_eq(f->b.stats.slow_consumers, 1);
  ck_assert_int_eq(f->a.closes, 1);
  ck_assert_str_eq(f->a.reasons[0], "transport error");
  sio_free(f);
}
END_TEST

Suite *eio_cluster_suite(void) {
  Suite *s = suite_create("eio_cluster");
  TCase *tc = tcase_create("forwarding");
  tcase_set_timeout(tc, 30);
  tcase_add_test(tc, polling_requests_reach_the_owner);
  tcase_add_test(tc, parked_remote_get_gets_later_output);
  tcase_add_test(tc, unknown_sid_after_the_answer_deadline);
  tcase_add_test(tc, bus_down_is_unknown_at_once);
  tcase_add_test(tc, dropped_remote_get_closes_the_session);
  tcase_add_test(tc, overlapping_local_and_remote_polls);
  tcase_add_test(tc, server_close_reaches_the_remote_get);
  tcase_add_test(tc, silent_owner_bounds_the_remote_get);
  tcase_add_test(tc, upgrade_elsewhere_takes_the_session_over);
  tcase_add_test(tc, upgrade_elsewhere_after_open_is_proxied);
  tcase_add_test(tc, hold_ends_by_time_or_local_upgrade);
  tcase_add_test(tc, proxied_client_not_reading_is_closed_at_the_bound);
  suite_add_tcase(s, tc);
  return s;
}
