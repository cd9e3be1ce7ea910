/* test_sio_adapter_sharded.c: the sharded Redis adapter protocol
 * (sio_adapter_sharded.c) with three sio_servers in one process, each on
 * its own stub driver of one in-memory bus (tests/helpers/pubsub_stub.c,
 * sharded pub/sub included), and raw WebSocket clients. What is asserted
 * is what a peer sees: the channels and bytes published, the
 * subscriptions held, and what the clients receive. Every test ends with
 * every handle closed and uv_loop_close() == 0. */
#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "check_suites.h"
#include "pubsub_stub.h"
#include "sio/adapter.h"
#include "sio/sio.h"
#include "sio_adapter_sharded.h"
#include "sio_buf.h"
#include "sio_packet.h"
#include "sio_redis_msg.h"
#include "ws_client.h"

#define WS_PATH "/socket.io/?EIO=4&transport=websocket"
#define T 2000
#define NSRV 3
#define MAXS 8

typedef struct srv {
  sio_server *s;
  pubsub_stub *stub;
  sio_adapter_sharded *ad;
  int port;
  sio_socket *socks[MAXS];
  int nsocks;
  int disconnects;
  int server_events;
  char last_server_event[64];
  char last_server_args[128];
  int answer_server_events;
} srv;

typedef struct fx {
  uv_loop_t loop;
  pubsub_bus *bus;
  srv s[NSRV];
  int closed;
  /* bus tap */
  int published;
  char last_channel[128];
  sio_buf last_msg;
  sio_redis_cluster_msg log[32]; /* what the bus carried, decoded */
  char log_chan[32][64];
  uint8_t *log_bytes[32];
  int nlog;
  /* results */
  int calls;
  int status;
  size_t count;
  char text[1024];
  int nlocal;
} fx;

static fx *F; /* the running fixture, for handlers */

static void json_text(char *out, size_t n, json_object *v) {
  sio_buf b;
  sio_buf_init(&b);
  if (sio_json_append(&b, v) == 0)
    snprintf(out, n, "%s", b.data);
  else
    snprintf(out, n, "?");
  sio_buf_deinit(&b);
}

static srv *srv_of(sio_socket *s) {
  int i;
  for (i = 0; i < NSRV; i++)
    if (F->s[i].s == sio_socket_server(s))
      return &F->s[i];
  ck_abort_msg("unknown server");
  return NULL;
}

static void on_connection(sio_socket *s, void *ud) {
  srv *v = srv_of(s);
  (void)ud;
  if (v->nsocks < MAXS) {
    sio_socket_ref(s);
    v->socks[v->nsocks++] = s;
  }
}

static void on_event(sio_socket *s, const char *event, json_object *args,
                     const sio_bin *bins, size_t nbins, int64_t ack_id,
                     void *ud) {
  (void)ud;
  (void)event;
  (void)bins;
  (void)nbins;
  if (ack_id >= 0)
    sio_socket_ack(s, ack_id, args, NULL, 0);
}

static void on_disconnect(sio_socket *s, const char *reason, void *ud) {
  (void)reason;
  (void)ud;
  srv_of(s)->disconnects++;
}

static int on_server_event(sio_namespace *ns, const char *event,
                           json_object *args, json_object **ack, void *ud) {
  srv *v = ud;
  (void)ns;
  v->server_events++;
  snprintf(v->last_server_event, sizeof(v->last_server_event), "%s", event);
  json_text(v->last_server_args, sizeof(v->last_server_args), args);
  if (ack && v->answer_server_events) {
    *ack = json_object_new_int((int)(v - F->s));
    return 1;
  }
  return 0;
}

static void tap(const char *channel, const uint8_t *data, size_t len,
                void *ud) {
  fx *f = ud;
  f->published++;
  snprintf(f->last_channel, sizeof(f->last_channel), "%s", channel);
  sio_buf_reset(&f->last_msg);
  sio_buf_append(&f->last_msg, data, len);
  if (f->nlog < 32) {
    /* the decoded message borrows its bytes: keep a copy */
    uint8_t *copy = malloc(len ? len : 1);
    memcpy(copy, data, len);
    if (sio_redis_cluster_decode(&f->log[f->nlog], copy, len, NULL) == 0) {
      snprintf(f->log_chan[f->nlog], sizeof(f->log_chan[0]), "%s", channel);
      f->log_bytes[f->nlog++] = copy;
    } else {
      free(copy);
    }
  }
}

static void log_clear(fx *f) {
  int i;
  for (i = 0; i < f->nlog; i++) {
    sio_redis_cluster_clear(&f->log[i]);
    free(f->log_bytes[i]);
  }
  f->nlog = 0;
}

/* How many logged messages of type went to channel for request_id. */
static int logged(fx *f, int type, const char *channel,
                  const char *request_id) {
  int i, n = 0;
  for (i = 0; i < f->nlog; i++)
    if (f->log[i].type == type && strcmp(f->log_chan[i], channel) == 0 &&
        f->log[i].request_id && strcmp(f->log[i].request_id, request_id) == 0)
      n++;
  return n;
}

static void start_mode(fx *f, sio_sharded_mode mode) {
  static const sio_namespace_handlers h = {NULL, on_connection, on_event,
                                           on_disconnect};
  int i;
  memset(f, 0, sizeof(*f));
  F = f;
  sio_buf_init(&f->last_msg);
  ck_assert_int_eq(uv_loop_init(&f->loop), 0);
  f->bus = pubsub_bus_new(&f->loop);
  pubsub_bus_tap(f->bus, tap, f);
  for (i = 0; i < NSRV; i++) {
    srv *v = &f->s[i];
    sio_adapter_sharded_config cfg = {NULL, mode, 400, &v->ad};
    sio_namespace *ns;
    ck_assert_int_eq(sio_server_new(&v->s, &f->loop, NULL), 0);
    ns = sio_server_of(v->s, "/");
    sio_namespace_set_handlers(ns, &h, v);
    sio_namespace_on_server_event(ns, on_server_event, v);
    v->stub = pubsub_stub_new(f->bus);
    ck_assert_int_eq(
        sio_adapter_sharded_install(v->s, &pubsub_stub_ops, v->stub, &cfg), 0);
    ck_assert_ptr_nonnull(v->ad);
    ck_assert_uint_eq(strlen(sio_adapter_sharded_uid(v->ad)), 16);
    ns = sio_server_of(v->s, "/admin");
    sio_namespace_set_handlers(ns, &h, v);
    ck_assert_int_eq(sio_server_listen(v->s, "127.0.0.1:0"), 0);
    v->port = sio_server_port(v->s, 0);
  }
}

static void start(fx *f) { start_mode(f, SIO_SHARDED_DYNAMIC); }

static void on_closed(sio_server *s, void *ud) {
  fx *f = ud;
  (void)s;
  f->closed++;
}

static void stop(fx *f, ws_client *cs, int n) {
  int i, j;
  for (i = 0; i < NSRV; i++) {
    for (j = 0; j < f->s[i].nsocks; j++)
      sio_socket_unref(f->s[i].socks[j]);
    f->s[i].nsocks = 0;
    if (f->s[i].s)
      sio_server_close(f->s[i].s, on_closed, f);
    f->s[i].s = NULL;
  }
  for (i = 0; i < n; i++)
    ws_client_close(&cs[i]);
  pubsub_bus_close(f->bus);
  uv_run(&f->loop, UV_RUN_DEFAULT);
  ck_assert_int_eq(f->closed, NSRV);
  ck_assert_int_eq(uv_loop_close(&f->loop), 0);
  sio_buf_deinit(&f->last_msg);
  log_clear(f);
  F = NULL;
}

static void pump_done(uv_timer_t *t) { (void)t; }

static void pump(fx *f, uint32_t ms) {
  uv_timer_t t;
  uv_timer_init(&f->loop, &t);
  uv_timer_start(&t, pump_done, ms, 0);
  while (uv_is_active((uv_handle_t *)&t))
    uv_run(&f->loop, UV_RUN_ONCE);
  uv_close((uv_handle_t *)&t, NULL);
  uv_run(&f->loop, UV_RUN_NOWAIT);
}

static sio_socket *connect_to(fx *f, ws_client *c, int i, const char *nsp) {
  const ws_msg *m;
  char pkt[64];
  srv *v = &f->s[i];
  int before = v->nsocks;
  ck_assert_int_eq(ws_client_open(c, &f->loop, v->port, WS_PATH), 0);
  c->auto_pong = 1;
  m = ws_client_recv(c, T);
  ck_assert_ptr_nonnull(m);
  ck_assert_int_eq(m->data[0], '0');
  snprintf(pkt, sizeof(pkt), "40%s%s", nsp ? nsp : "", nsp ? "," : "");
  ck_assert_int_eq(ws_client_send_text(c, pkt), 0);
  m = ws_client_recv(c, T);
  ck_assert_ptr_nonnull(m);
  ck_assert_msg(strncmp(m->data, "40", 2) == 0, "connect reply %s", m->data);
  ck_assert_int_eq(v->nsocks, before + 1);
  return v->socks[before];
}

static void expect(ws_client *c, const char *want) {
  ck_assert_msg(ws_client_expect(c, want, T), "expected %s", want);
}

static void expect_nothing(ws_client *c, uint32_t ms) {
  const ws_msg *m = ws_client_recv(c, ms);
  ck_assert_msg(m == NULL, "unexpected message %s", m ? m->data : "");
}

static json_object *jparse(const char *s) {
  json_object *o = NULL;
  ck_assert_int_eq(sio_json_parse(s, strlen(s), 0, &o), 0);
  return o;
}

static sio_namespace *root(fx *f, int i) {
  return sio_server_of(f->s[i].s, "/");
}

static int room_subscribed(fx *f, int i, const char *room) {
  char chan[128];
  snprintf(chan, sizeof(chan), "socket.io#/#%s#", room);
  return pubsub_stub_subscribed(f->s[i].stub, chan, SIO_PUBSUB_SHARD);
}

static sio_adapter_sharded_counts counts(fx *f, int i) {
  sio_adapter_sharded_counts c;
  sio_adapter_sharded_get_counts(f->s[i].ad, &c);
  return c;
}

/* -------------------------------------------------------------- install */

static int discarded;
static void count_close(void *arg) {
  (void)arg;
  discarded++;
}

/* a stub whose close is counted, to see the adapter closes what it was
 * given on every error */
static void stub_close_counted(void *drv, void (*done)(void *), void *arg) {
  count_close(NULL);
  pubsub_stub_ops.close(drv, done, arg);
}

START_TEST(test_install_errors) {
  uv_loop_t loop;
  sio_server *s;
  pubsub_bus *bus;
  sio_pubsub_ops classic = pubsub_stub_ops, counted = pubsub_stub_ops;
  sio_adapter_sharded_config bad = {NULL, (sio_sharded_mode)7, 0, NULL};
  ck_assert_int_eq(uv_loop_init(&loop), 0);
  bus = pubsub_bus_new(&loop);
  ck_assert_int_eq(sio_server_new(&s, &loop, NULL), 0);
  discarded = 0;
  /* a driver without sharded pub/sub (the classic one's shape) */
  classic.spublish = NULL;
  classic.close = stub_close_counted;
  ck_assert_int_eq(
      sio_adapter_sharded_install(s, &classic, pubsub_stub_new(bus), NULL),
      SIO_ERR_UNSUPPORTED);
  classic.spublish = pubsub_stub_ops.spublish;
  classic.shardnumsub = NULL;
  ck_assert_int_eq(
      sio_adapter_sharded_install(s, &classic, pubsub_stub_new(bus), NULL),
      SIO_ERR_UNSUPPORTED);
  counted.close = stub_close_counted;
  ck_assert_int_eq(
      sio_adapter_sharded_install(s, &counted, pubsub_stub_new(bus), &bad),
      SIO_ERR_INVAL);
  ck_assert_int_eq(
      sio_adapter_sharded_install(NULL, &counted, pubsub_stub_new(bus), NULL),
      SIO_ERR_INVAL);
  ck_assert_int_eq(discarded, 4);
  ck_assert_int_eq(sio_server_redis_connected(s), 0);
  /* installed once; a second adapter is refused */
  ck_assert_int_eq(
      sio_adapter_sharded_install(s, &counted, pubsub_stub_new(bus), NULL), 0);
  ck_assert_int_eq(
      sio_adapter_sharded_install(s, &counted, pubsub_stub_new(bus), NULL),
      SIO_ERR_STATE);
  ck_assert_int_eq(discarded, 5);
  sio_server_close(s, NULL, NULL);
  pubsub_bus_close(bus);
  uv_run(&loop, UV_RUN_DEFAULT);
  ck_assert_int_eq(discarded, 6);
  ck_assert_int_eq(uv_loop_close(&loop), 0);
}
END_TEST

/* ------------------------------------------------------------ broadcast */

START_TEST(test_broadcast_all) {
  fx f;
  ws_client c[NSRV];
  json_object *args;
  sio_redis_cluster_msg m;
  int i;
  memset(c, 0, sizeof(c));
  start(&f);
  for (i = 0; i < NSRV; i++)
    connect_to(&f, &c[i], i, NULL);
  pump(&f, 20);
  for (i = 0; i < NSRV; i++) {
    ck_assert_int_eq(sio_server_redis_connected(f.s[i].s), 1);
    ck_assert(
        pubsub_stub_subscribed(f.s[i].stub, "socket.io#/#", SIO_PUBSUB_SHARD));
    ck_assert(pubsub_stub_subscribed(f.s[i].stub, "socket.io#/admin#",
                                     SIO_PUBSUB_SHARD));
    /* nothing through classic pub/sub */
    ck_assert_uint_eq(pubsub_stub_count(f.s[i].stub, SIO_PUBSUB_CHANNEL), 0);
    ck_assert_uint_eq(pubsub_stub_count(f.s[i].stub, SIO_PUBSUB_PATTERN), 0);
  }
  {
    char resp[64];
    snprintf(resp, sizeof(resp), "socket.io#/#%s#",
             sio_adapter_sharded_uid(f.s[1].ad));
    ck_assert(pubsub_stub_subscribed(f.s[1].stub, resp, SIO_PUBSUB_SHARD));
  }
  args = jparse("[1,\"two\"]");
  f.published = 0;
  ck_assert_int_eq(
      sio_namespace_broadcast(root(&f, 0), NULL, "hello", args, NULL, 0), 1);
  ck_assert_int_eq(f.published, 1);
  ck_assert_uint_eq(pubsub_bus_spublished(f.bus), 1);
  ck_assert_str_eq(f.last_channel, "socket.io#/#");
  /* what a Node peer reads: JSON text, {type, data, uid, nsp} */
  {
    char want[256];
    snprintf(want, sizeof(want),
             "{\"type\":3,\"data\":{\"packet\":{\"type\":2,\"data\":[\"hello\","
             "1,\"two\"]},\"opts\":{\"rooms\":[],\"except\":[],\"flags\":{}}},"
             "\"uid\":\"%s\",\"nsp\":\"/\"}",
             sio_adapter_sharded_uid(f.s[0].ad));
    ck_assert_uint_eq(f.last_msg.len, strlen(want));
    ck_assert(memcmp(f.last_msg.data, want, f.last_msg.len) == 0);
  }
  ck_assert_int_eq(sio_redis_cluster_decode(&m, (uint8_t *)f.last_msg.data,
                                            f.last_msg.len, NULL),
                   0);
  ck_assert_int_eq(m.type, SIO_REDIS_CLUSTER_BROADCAST);
  ck_assert_str_eq(m.packet.event, "hello");
  sio_redis_cluster_clear(&m);
  for (i = 0; i < NSRV; i++)
    expect(&c[i], "42[\"hello\",1,\"two\"]");
  expect_nothing(&c[0], 100); /* our own message came back and was ignored */
  json_object_put(args);
  {
    sio_stats st;
    sio_server_stats(f.s[1].s, &st);
    ck_assert_int_eq(st.redis_connected, 1);
    ck_assert_uint_ge(st.redis_messages_in, 1);
    sio_server_stats(f.s[0].s, &st);
    ck_assert_uint_eq(st.redis_messages_out, 1);
  }
  ck_assert_uint_eq(counts(&f, 1).malformed, 0);
  ck_assert_uint_eq(counts(&f, 1).ignored, 0);
  stop(&f, c, NSRV);
}
END_TEST

START_TEST(test_broadcast_rooms_except_binary) {
  fx f;
  ws_client c[4];
  sio_socket *s1, *s2, *s3;
  const char *r1 = "r1", *x = "x";
  sio_broadcast_opts o = {&r1, 1, &x, 1, 0};
  json_object *args;
  sio_bin bin = {(const uint8_t *)"\x01\x02", 2};
  const ws_msg *m;
  memset(c, 0, sizeof(c));
  start(&f);
  connect_to(&f, &c[0], 0, NULL);
  s1 = connect_to(&f, &c[1], 1, NULL);
  s2 = connect_to(&f, &c[2], 2, NULL);
  s3 = connect_to(&f, &c[3], 2, NULL);
  sio_socket_join(s1, "r1");
  sio_socket_join(s2, "r1");
  sio_socket_join(s2, "x");
  args = json_object_new_array();
  json_object_array_add(args, sio_placeholder_new(0));
  ck_assert_int_eq(
      sio_namespace_broadcast(root(&f, 0), &o, "bin", args, &bin, 1), 0);
  /* one room: its own channel, and binary makes it msgpack */
  ck_assert_str_eq(f.last_channel, "socket.io#/#r1#");
  ck_assert_int_eq((uint8_t)f.last_msg.data[0], 0x84); /* fixmap of 4 */
  expect(&c[1], "451-[\"bin\",{\"_placeholder\":true,\"num\":0}]");
  m = ws_client_recv(&c[1], T);
  ck_assert_ptr_nonnull(m);
  ck_assert_int_eq(m->binary, 1);
  ck_assert_uint_eq(m->len, 2);
  expect_nothing(&c[2], 100); /* in r1 but also in x */
  expect_nothing(&c[3], 10);  /* not in r1 */
  expect_nothing(&c[0], 10);
  json_object_put(args);
  /* SIO_BCAST_LOCAL stays home */
  o.nexcept = 0;
  o.flags = SIO_BCAST_LOCAL;
  f.published = 0;
  ck_assert_int_eq(
      sio_namespace_broadcast(root(&f, 1), &o, "loc", NULL, NULL, 0), 1);
  expect(&c[1], "42[\"loc\"]");
  expect_nothing(&c[2], 100);
  ck_assert_int_eq(f.published, 0);
  /* two rooms: the namespace channel */
  {
    const char *two[] = {"r1", "nobody"};
    sio_broadcast_opts t = {two, 2, NULL, 0, SIO_BCAST_VOLATILE};
    ck_assert_int_eq(
        sio_namespace_broadcast(root(&f, 0), &t, "two", NULL, NULL, 0), 0);
    ck_assert_str_eq(f.last_channel, "socket.io#/#");
    ck_assert_ptr_nonnull(
        strstr(f.last_msg.data, "\"flags\":{\"volatile\":true}"));
    expect(&c[1], "42[\"two\"]");
    expect(&c[2], "42[\"two\"]");
  }
  /* 20 characters as JavaScript counts them (here 40 bytes of UTF-8) look
   * like a socket id to the reference: the namespace channel too; 20
   * bytes but 10 characters do not */
  {
    const char *r20 = "\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9"
                      "\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9"
                      "\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9"
                      "\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9";
    const char *r10 = "\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9"
                      "\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9";
    /* an astral character counts twice: 9 x 2 + 2 = 20 units */
    const char *astral = "\xf0\x9f\x98\x80\xf0\x9f\x98\x80"
                         "\xf0\x9f\x98\x80\xf0\x9f\x98\x80"
                         "\xf0\x9f\x98\x80\xf0\x9f\x98\x80"
                         "\xf0\x9f\x98\x80\xf0\x9f\x98\x80"
                         "\xf0\x9f\x98\x80"
                         "ab";
    sio_broadcast_opts t = {&r20, 1, NULL, 0, 0};
    ck_assert_int_eq(
        sio_namespace_broadcast(root(&f, 0), &t, "u", NULL, NULL, 0), 0);
    ck_assert_str_eq(f.last_channel, "socket.io#/#");
    t.rooms = &astral;
    ck_assert_int_eq(
        sio_namespace_broadcast(root(&f, 0), &t, "u", NULL, NULL, 0), 0);
    ck_assert_str_eq(f.last_channel, "socket.io#/#");
    t.rooms = &r10;
    ck_assert_int_eq(
        sio_namespace_broadcast(root(&f, 0), &t, "u", NULL, NULL, 0), 0);
    ck_assert_str_ne(f.last_channel, "socket.io#/#");
  }
  /* a socket id (20 characters): the namespace channel, delivered by the
   * one server that has it */
  {
    const char *sid = sio_socket_id(s3);
    sio_broadcast_opts t = {&sid, 1, NULL, 0, 0};
    ck_assert_uint_eq(strlen(sid), 20);
    ck_assert_int_eq(room_subscribed(&f, 2, sid), 0);
    ck_assert_int_eq(
        sio_namespace_broadcast(root(&f, 0), &t, "dm", NULL, NULL, 0), 0);
    ck_assert_str_eq(f.last_channel, "socket.io#/#");
    expect(&c[3], "42[\"dm\"]");
    expect_nothing(&c[2], 100);
  }
  stop(&f, c, 4);
}
END_TEST

START_TEST(test_namespaces_apart) {
  fx f;
  ws_client c[2];
  memset(c, 0, sizeof(c));
  start(&f);
  connect_to(&f, &c[0], 1, "/admin");
  connect_to(&f, &c[1], 1, NULL);
  ck_assert_int_eq(sio_namespace_broadcast(sio_server_of(f.s[0].s, "/admin"),
                                           NULL, "adm", NULL, NULL, 0),
                   0);
  ck_assert_str_eq(f.last_channel, "socket.io#/admin#");
  expect(&c[0], "42/admin,[\"adm\"]");
  expect_nothing(&c[1], 100);
  stop(&f, c, 2);
}
END_TEST

/* --------------------------------------------------------- room channels */

START_TEST(test_room_channels_dynamic) {
  fx f;
  ws_client c[3];
  sio_socket *a, *b, *d;
  uint64_t unsubs;
  memset(c, 0, sizeof(c));
  start(&f);
  a = connect_to(&f, &c[0], 0, NULL);
  b = connect_to(&f, &c[1], 0, NULL);
  d = connect_to(&f, &c[2], 1, NULL);
  /* socket id rooms never get a channel in "dynamic", even when the
   * joined hook names one (as it does for an explicit join of one's own
   * room) */
  ck_assert_int_eq(sio_socket_join(a, sio_socket_id(a)), 0);
  ck_assert_int_eq(room_subscribed(&f, 0, sio_socket_id(a)), 0);
  ck_assert_int_eq(sio_socket_join(a, sio_socket_id(b)), 0);
  ck_assert_int_eq(room_subscribed(&f, 0, sio_socket_id(b)), 0);
  ck_assert_int_eq(sio_socket_leave(a, sio_socket_id(b)), 0);
  /* first local member: subscribed, on that server only */
  sio_socket_join(a, "game");
  ck_assert_int_eq(room_subscribed(&f, 0, "game"), 1);
  ck_assert_int_eq(room_subscribed(&f, 1, "game"), 0);
  sio_socket_join(b, "game");
  unsubs = pubsub_stub_unsubscribes(f.s[0].stub);
  sio_socket_leave(a, "game");
  ck_assert_int_eq(room_subscribed(&f, 0, "game"), 1); /* b is still in */
  /* a broadcast to the room reaches only the servers subscribed to it */
  {
    const char *g = "game";
    sio_broadcast_opts o = {&g, 1, NULL, 0, 0};
    f.published = 0;
    ck_assert_int_eq(
        sio_namespace_broadcast(root(&f, 2), &o, "g", NULL, NULL, 0), 0);
    ck_assert_str_eq(f.last_channel, "socket.io#/#game#");
    expect(&c[1], "42[\"g\"]");
    expect_nothing(&c[0], 100);
    expect_nothing(&c[2], 10);
  }
  /* last one out: unsubscribed */
  sio_socket_leave(b, "game");
  ck_assert_int_eq(room_subscribed(&f, 0, "game"), 0);
  ck_assert_uint_eq(pubsub_stub_unsubscribes(f.s[0].stub), unsubs + 1);
  /* a disconnect empties rooms: swept on the next loop turn */
  sio_socket_join(d, "r1");
  sio_socket_join(d, "r2");
  ck_assert_int_eq(room_subscribed(&f, 1, "r1"), 1);
  ck_assert_int_eq(room_subscribed(&f, 1, "r2"), 1);
  sio_socket_disconnect(d, 0);
  pump(&f, 20);
  ck_assert_int_eq(room_subscribed(&f, 1, "r1"), 0);
  ck_assert_int_eq(room_subscribed(&f, 1, "r2"), 0);
  /* the namespace and response channels stay */
  ck_assert_uint_eq(pubsub_stub_count(f.s[1].stub, SIO_PUBSUB_SHARD), 4);
  stop(&f, c, 3);
}
END_TEST

START_TEST(test_static_mode) {
  fx f;
  ws_client c[2];
  sio_socket *a;
  const char *g = "game";
  sio_broadcast_opts o = {&g, 1, NULL, 0, 0};
  memset(c, 0, sizeof(c));
  start_mode(&f, SIO_SHARDED_STATIC);
  a = connect_to(&f, &c[0], 0, NULL);
  connect_to(&f, &c[1], 1, NULL);
  sio_socket_join(a, "game");
  ck_assert_int_eq(room_subscribed(&f, 0, "game"), 0);
  ck_assert_uint_eq(pubsub_stub_count(f.s[0].stub, SIO_PUBSUB_SHARD), 4);
  ck_assert_int_eq(sio_namespace_broadcast(root(&f, 1), &o, "g", NULL, NULL, 0),
                   0);
  ck_assert_str_eq(f.last_channel, "socket.io#/#");
  expect(&c[0], "42[\"g\"]");
  expect_nothing(&c[1], 100);
  stop(&f, c, 2);
}
END_TEST

START_TEST(test_dynamic_private_mode) {
  fx f;
  ws_client c[2];
  sio_socket *a, *b;
  memset(c, 0, sizeof(c));
  start_mode(&f, SIO_SHARDED_DYNAMIC_PRIVATE);
  a = connect_to(&f, &c[0], 0, NULL);
  b = connect_to(&f, &c[1], 1, NULL);
  /* a socket's own room has its channel from the connection on */
  ck_assert_int_eq(room_subscribed(&f, 0, sio_socket_id(a)), 1);
  ck_assert_int_eq(room_subscribed(&f, 1, sio_socket_id(b)), 1);
  /* private rooms get a channel too */
  ck_assert_int_eq(sio_socket_join(a, sio_socket_id(b)), 0);
  ck_assert_int_eq(room_subscribed(&f, 0, sio_socket_id(b)), 1);
  sio_socket_join(a, "pub");
  ck_assert_int_eq(room_subscribed(&f, 0, "pub"), 1);
  {
    const char *sid = sio_socket_id(b);
    sio_broadcast_opts o = {&sid, 1, NULL, 0, 0};
    ck_assert_int_eq(
        sio_namespace_broadcast(root(&f, 1), &o, "p", NULL, NULL, 0), 1);
    {
      char want[64];
      snprintf(want, sizeof(want), "socket.io#/#%s#", sid);
      ck_assert_str_eq(f.last_channel, want);
    }
    expect(&c[1], "42[\"p\"]"); /* locally */
    expect(&c[0], "42[\"p\"]"); /* a joined b's room, through its channel */
  }
  sio_socket_leave(a, sio_socket_id(b));
  ck_assert_int_eq(room_subscribed(&f, 0, sio_socket_id(b)), 0);
  /* a socket's own room keeps its channel (joining it again changes
   * nothing) and loses it when the socket goes */
  ck_assert_int_eq(sio_socket_join(b, sio_socket_id(b)), 0);
  ck_assert_int_eq(room_subscribed(&f, 1, sio_socket_id(b)), 1);
  {
    char chan[64], msg[256];
    snprintf(chan, sizeof(chan), "socket.io#/#%s#", sio_socket_id(b));
    snprintf(msg, sizeof(msg),
             "{\"type\":3,\"data\":{\"packet\":{\"type\":2,\"data\":"
             "[\"dm\"]},\"opts\":{\"rooms\":[\"%s\"],\"except\":[],"
             "\"flags\":{}}},\"uid\":\"nodepeer\",\"nsp\":\"/\"}",
             sio_socket_id(b));
    pubsub_bus_spublish(f.bus, chan, (const uint8_t *)msg, strlen(msg));
    expect(&c[1], "42[\"dm\"]");
  }
  sio_socket_disconnect(b, 0);
  pump(&f, 20);
  ck_assert_int_eq(room_subscribed(&f, 1, sio_socket_id(b)), 0);
  stop(&f, c, 2);
}
END_TEST

/* ------------------------------------------------------- rooms, disconnect */

START_TEST(test_sockets_join_leave_disconnect) {
  fx f;
  ws_client c[3];
  sio_socket *s[3];
  const char *rooms[] = {"j1", "j2"};
  const char *j1 = "j1";
  sio_broadcast_opts in_j1 = {&j1, 1, NULL, 0, 0};
  int i;
  memset(c, 0, sizeof(c));
  start(&f);
  for (i = 0; i < 3; i++)
    s[i] = connect_to(&f, &c[i], i, NULL);
  sio_socket_join(s[2], "keep");
  ck_assert_int_eq(sio_namespace_sockets_join(root(&f, 0), NULL, rooms, 2), 0);
  ck_assert_str_eq(f.last_channel, "socket.io#/#");
  ck_assert_ptr_nonnull(strstr(f.last_msg.data, "\"type\":4,"));
  ck_assert_ptr_nonnull(strstr(f.last_msg.data, "\"rooms\":[\"j1\",\"j2\"]}"));
  ck_assert_int_eq(sio_socket_in_room(s[0], "j2"), 1); /* local at once */
  pump(&f, 30);
  for (i = 0; i < 3; i++) {
    ck_assert_int_eq(sio_socket_in_room(s[i], "j1"), 1);
    ck_assert_int_eq(sio_socket_in_room(s[i], "j2"), 1);
    /* joined from the cluster: the room channels follow */
    ck_assert_int_eq(room_subscribed(&f, i, "j1"), 1);
  }
  {
    const char *keep = "keep", *j2 = "j2";
    sio_broadcast_opts in_keep = {&keep, 1, NULL, 0, 0};
    ck_assert_int_eq(sio_namespace_sockets_leave(root(&f, 1), &in_keep, &j2, 1),
                     0);
    ck_assert_ptr_nonnull(strstr(f.last_msg.data, "\"type\":5,"));
    pump(&f, 30);
    ck_assert_int_eq(sio_socket_in_room(s[2], "j2"), 0);
    ck_assert_int_eq(room_subscribed(&f, 2, "j2"), 0);
    ck_assert_int_eq(sio_socket_in_room(s[0], "j2"), 1);
  }
  {
    const char *keep = "keep";
    in_j1.except = &keep;
    in_j1.nexcept = 1;
    ck_assert_int_eq(sio_namespace_disconnect_sockets(root(&f, 2), &in_j1, 0),
                     0);
    ck_assert_ptr_nonnull(strstr(f.last_msg.data, "\"type\":6,"));
    ck_assert_ptr_nonnull(strstr(f.last_msg.data, "\"close\":false"));
    expect(&c[0], "41");
    expect(&c[1], "41");
    expect_nothing(&c[2], 100);
    ck_assert_int_eq(f.s[0].disconnects, 1);
    ck_assert_int_eq(f.s[1].disconnects, 1);
    ck_assert_int_eq(f.s[2].disconnects, 0);
  }
  stop(&f, c, 3);
}
END_TEST

/* -------------------------------------------------------------- requests */

static void on_fetch(sio_namespace *ns, int status,
                     const sio_socket_info *socks, size_t n, void *ud) {
  fx *f = ud;
  size_t i;
  sio_buf b;
  (void)ns;
  f->calls++;
  f->status = status;
  f->count = n;
  f->nlocal = 0;
  sio_buf_init(&b);
  for (i = 0; i < n; i++) {
    size_t r;
    if (socks[i].local)
      f->nlocal++;
    sio_buf_appendf(&b, "%s:", socks[i].id);
    for (r = 0; r < socks[i].nrooms; r++)
      if (strcmp(socks[i].rooms[r], socks[i].id) != 0)
        sio_buf_appendf(&b, "%s,", socks[i].rooms[r]);
    if (socks[i].data) {
      char t[128];
      json_text(t, sizeof(t), socks[i].data);
      sio_buf_appendf(&b, "%s", t);
    }
    sio_buf_append_str(&b, ";");
  }
  snprintf(f->text, sizeof(f->text), "%s", b.data ? b.data : "");
  sio_buf_deinit(&b);
}

static void wait_calls(fx *f, int n) {
  while (f->calls < n)
    uv_run(&f->loop, UV_RUN_ONCE);
}

START_TEST(test_fetch_sockets) {
  fx f;
  ws_client c[3];
  sio_socket *s[3];
  char want[256];
  const char *room = "team";
  sio_broadcast_opts o = {&room, 1, NULL, 0, 0};
  int i;
  memset(c, 0, sizeof(c));
  start(&f);
  for (i = 0; i < 3; i++)
    s[i] = connect_to(&f, &c[i], i, NULL);
  sio_socket_join(s[0], "team");
  sio_socket_join(s[2], "team");
  sio_socket_set_json_data(s[2], jparse("{\"user\":\"u2\"}"));
  /* a room named like the requester's uid shares its response channel:
   * no subscription of its own, and leaving it keeps the responses coming */
  {
    const char *uid = sio_adapter_sharded_uid(f.s[1].ad);
    uint64_t unsubs = pubsub_stub_unsubscribes(f.s[1].stub);
    sio_socket_join(s[1], uid);
    sio_socket_leave(s[1], uid);
    ck_assert_uint_eq(pubsub_stub_unsubscribes(f.s[1].stub), unsubs);
    ck_assert_int_eq(room_subscribed(&f, 1, uid), 1);
  }
  ck_assert_int_eq(sio_namespace_fetch_sockets(root(&f, 1), &o, on_fetch, &f),
                   0);
  ck_assert_int_eq(f.calls, 0);
  wait_calls(&f, 1);
  ck_assert_int_eq(f.status, 0);
  ck_assert_uint_eq(f.count, 2);
  ck_assert_int_eq(f.nlocal, 0);
  snprintf(want, sizeof(want), "%s:team,{};", sio_socket_id(s[0]));
  ck_assert_msg(strstr(f.text, want), "%s", f.text);
  snprintf(want, sizeof(want), "%s:team,{\"user\":\"u2\"};",
           sio_socket_id(s[2]));
  ck_assert_msg(strstr(f.text, want), "%s", f.text);
  /* the last answer went to the requester's response channel */
  snprintf(want, sizeof(want), "socket.io#/#%s#",
           sio_adapter_sharded_uid(f.s[1].ad));
  ck_assert_str_eq(f.last_channel, want);
  ck_assert_ptr_nonnull(strstr(f.last_msg.data, "{\"type\":8,"));
  f.calls = 0;
  ck_assert_int_eq(sio_namespace_fetch_sockets(root(&f, 0), NULL, on_fetch, &f),
                   0);
  wait_calls(&f, 1);
  ck_assert_int_eq(f.status, 0);
  ck_assert_uint_eq(f.count, 3);
  ck_assert_int_eq(f.nlocal, 1);
  stop(&f, c, 3);
}
END_TEST

static void on_count(sio_namespace *ns, int status, size_t count, void *ud) {
  fx *f = ud;
  (void)ns;
  f->calls++;
  f->status = status;
  f->count = count;
}

static void on_rooms(sio_namespace *ns, int status, const char *const *rooms,
                     size_t n, void *ud) {
  fx *f = ud;
  (void)ns;
  (void)rooms;
  f->calls++;
  f->status = status;
  f->count = n;
}

START_TEST(test_server_count_and_rooms) {
  fx f;
  ws_client c[2];
  sio_socket *a, *b;
  memset(c, 0, sizeof(c));
  start(&f);
  ck_assert_int_eq(sio_server_count(f.s[2].s, on_count, &f), 0);
  wait_calls(&f, 1);
  ck_assert_int_eq(f.status, 0);
  ck_assert_uint_eq(f.count, 3);
  /* one server goes: two left */
  sio_server_close(f.s[1].s, on_closed, &f);
  f.s[1].s = NULL;
  f.calls = 0;
  ck_assert_int_eq(sio_server_count(f.s[0].s, on_count, &f), 0);
  wait_calls(&f, 1);
  ck_assert_uint_eq(f.count, 2);
  /* allRooms has no message in this protocol: this server's rooms only */
  a = connect_to(&f, &c[0], 0, NULL);
  b = connect_to(&f, &c[1], 2, NULL);
  sio_socket_join(a, "ra");
  sio_socket_join(b, "rb");
  f.calls = 0;
  f.published = 0;
  ck_assert_int_eq(sio_namespace_all_rooms(root(&f, 0), on_rooms, &f), 0);
  wait_calls(&f, 1);
  ck_assert_int_eq(f.status, 0);
  ck_assert_uint_eq(f.count, 2); /* a's id room and ra */
  ck_assert_int_eq(f.published, 0);
  stop(&f, c, 2);
}
END_TEST

static void on_sse_ack(sio_namespace *ns, int status, json_object *responses,
                       void *ud) {
  fx *f = ud;
  (void)ns;
  f->calls++;
  f->status = status;
  json_text(f->text, sizeof(f->text), responses);
}

START_TEST(test_server_side_emit) {
  fx f;
  json_object *args = jparse("[1,{\"k\":\"v\"}]");
  start(&f);
  ck_assert_int_eq(
      sio_namespace_server_side_emit(root(&f, 0), "tick", args, NULL, NULL), 0);
  ck_assert_ptr_nonnull(
      strstr(f.last_msg.data,
             "{\"type\":9,\"data\":{\"packet\":[\"tick\",1,{\"k\":\"v\"}]},"));
  pump(&f, 30);
  ck_assert_int_eq(f.s[0].server_events, 0);
  ck_assert_int_eq(f.s[1].server_events, 1);
  ck_assert_int_eq(f.s[2].server_events, 1);
  ck_assert_str_eq(f.s[1].last_server_event, "tick");
  ck_assert_str_eq(f.s[2].last_server_args, "[1,{\"k\":\"v\"}]");
  f.s[1].answer_server_events = f.s[2].answer_server_events = 1;
  ck_assert_int_eq(
      sio_namespace_server_side_emit(root(&f, 0), "ask", NULL, on_sse_ack, &f),
      0);
  wait_calls(&f, 1);
  ck_assert_int_eq(f.status, 0);
  ck_assert_msg(strcmp(f.text, "[1,2]") == 0 || strcmp(f.text, "[2,1]") == 0,
                "%s", f.text);
  ck_assert_ptr_nonnull(strstr(f.last_msg.data, "{\"type\":10,"));
  /* one stays silent: timeout with the other's answer */
  f.s[2].answer_server_events = 0;
  f.calls = 0;
  ck_assert_int_eq(
      sio_namespace_server_side_emit(root(&f, 0), "ask", NULL, on_sse_ack, &f),
      0);
  wait_calls(&f, 1);
  ck_assert_int_eq(f.status, SIO_ERR_TIMEOUT);
  ck_assert_str_eq(f.text, "[1]");
  json_object_put(args);
  stop(&f, NULL, 0);
}
END_TEST

static void on_bcast_ack(sio_namespace *ns, int status, json_object *responses,
                         const sio_bin *bins, size_t nbins, void *ud) {
  fx *f = ud;
  (void)ns;
  (void)bins;
  f->calls++;
  f->status = status;
  f->count = nbins;
  json_text(f->text, sizeof(f->text), responses);
}

static void answer_all(ws_client *c, int n, int base) {
  int i;
  for (i = 0; i < n; i++) {
    char reply[64];
    const char *p;
    const ws_msg *m = ws_client_recv(&c[i], T);
    ck_assert_ptr_nonnull(m);
    ck_assert_msg(strncmp(m->data, "42", 2) == 0, "%s", m->data);
    p = m->data + 2;
    snprintf(reply, sizeof(reply), "43%.*s[%d]", (int)strspn(p, "0123456789"),
             p, base + i);
    ck_assert_int_eq(ws_client_send_text(&c[i], reply), 0);
  }
}

START_TEST(test_broadcast_with_acks) {
  fx f;
  ws_client c[4];
  sio_socket *s3;
  int i;
  memset(c, 0, sizeof(c));
  start(&f);
  for (i = 0; i < 3; i++)
    connect_to(&f, &c[i], i, NULL);
  s3 = connect_to(&f, &c[3], 2, NULL);
  ck_assert_int_eq(sio_namespace_broadcast_ack(root(&f, 0), NULL, "q", NULL,
                                               NULL, 0, 1000, on_bcast_ack, &f),
                   0);
  /* always the namespace channel, with a requestId and the timeout */
  ck_assert_str_eq(f.last_channel, "socket.io#/#");
  ck_assert_ptr_nonnull(strstr(f.last_msg.data, "\"requestId\":\""));
  ck_assert_ptr_nonnull(
      strstr(f.last_msg.data, "\"flags\":{\"timeout\":1000}"));
  answer_all(c, 4, 10);
  wait_calls(&f, 1);
  ck_assert_int_eq(f.status, 0);
  ck_assert_msg(strstr(f.text, "10") && strstr(f.text, "11") &&
                    strstr(f.text, "12") && strstr(f.text, "13"),
                "%s", f.text);
  /* to one room: still the namespace channel, counts from every server */
  sio_socket_join(s3, "solo");
  {
    const char *solo = "solo";
    sio_broadcast_opts o = {&solo, 1, NULL, 0, 0};
    f.calls = 0;
    ck_assert_int_eq(sio_namespace_broadcast_ack(root(&f, 0), &o, "q", NULL,
                                                 NULL, 0, 1000, on_bcast_ack,
                                                 &f),
                     0);
    ck_assert_str_eq(f.last_channel, "socket.io#/#");
    answer_all(&c[3], 1, 7);
    wait_calls(&f, 1);
    ck_assert_int_eq(f.status, 0);
    ck_assert_str_eq(f.text, "[7]");
  }
  /* a silent client: timeout with the others' answers */
  f.calls = 0;
  ck_assert_int_eq(sio_namespace_broadcast_ack(root(&f, 1), NULL, "q", NULL,
                                               NULL, 0, 300, on_bcast_ack, &f),
                   0);
  answer_all(c, 3, 0);
  ck_assert_ptr_nonnull(ws_client_recv(&c[3], T)); /* asked, never answers */
  wait_calls(&f, 1);
  ck_assert_int_eq(f.status, SIO_ERR_TIMEOUT);
  ck_assert_msg(strstr(f.text, "0") && strstr(f.text, "1") &&
                    strstr(f.text, "2"),
                "%s", f.text);
  stop(&f, c, 4);
}
END_TEST

/* a client answers with binary: the BROADCAST_ACK crosses as msgpack and
 * the requester gets the attachment */
START_TEST(test_broadcast_ack_binary) {
  fx f;
  ws_client c[2];
  const ws_msg *m;
  char reply[64];
  const char *p;
  memset(c, 0, sizeof(c));
  start(&f);
  connect_to(&f, &c[0], 0, NULL);
  connect_to(&f, &c[1], 1, NULL);
  ck_assert_int_eq(sio_namespace_broadcast_ack(root(&f, 0), NULL, "qb", NULL,
                                               NULL, 0, 1000, on_bcast_ack, &f),
                   0);
  m = ws_client_recv(&c[0], T);
  ck_assert_ptr_nonnull(m);
  p = m->data + 2;
  snprintf(reply, sizeof(reply), "43%.*s[\"here\"]",
           (int)strspn(p, "0123456789"), p);
  ck_assert_int_eq(ws_client_send_text(&c[0], reply), 0);
  m = ws_client_recv(&c[1], T);
  ck_assert_ptr_nonnull(m);
  p = m->data + 2;
  snprintf(reply, sizeof(reply), "461-%.*s[{\"_placeholder\":true,\"num\":0}]",
           (int)strspn(p, "0123456789"), p);
  ck_assert_int_eq(ws_client_send_text(&c[1], reply), 0);
  ck_assert_int_eq(ws_client_send(&c[1], 1, "\x04\x05\x06", 3), 0);
  wait_calls(&f, 1);
  ck_assert_int_eq(f.status, 0);
  ck_assert_uint_eq(f.count, 1); /* one attachment */
  ck_assert_msg(strstr(f.text, "\"here\"") &&
                    strstr(f.text, "{\"_placeholder\":true,\"num\":0}"),
                "%s", f.text);
  stop(&f, c, 2);
}
END_TEST

/* a subscriber on the namespace channel that never answers */
START_TEST(test_request_timeout_and_cancel) {
  fx f;
  pubsub_stub *mute;
  start(&f);
  mute = pubsub_stub_new(f.bus);
  pubsub_stub_ops.subscribe(mute, "socket.io#/#", SIO_PUBSUB_SHARD);
  ck_assert_int_eq(sio_namespace_fetch_sockets(root(&f, 0), NULL, on_fetch, &f),
                   0);
  wait_calls(&f, 1);
  ck_assert_int_eq(f.status, SIO_ERR_TIMEOUT); /* 2 of 3 answered */
  ck_assert_uint_eq(f.count, 0);
  f.calls = 0;
  ck_assert_int_eq(
      sio_namespace_server_side_emit(root(&f, 0), "x", NULL, on_sse_ack, &f),
      0);
  wait_calls(&f, 1);
  ck_assert_int_eq(f.status, SIO_ERR_TIMEOUT);
  /* pending at shutdown: canceled, once */
  f.calls = 0;
  ck_assert_int_eq(sio_namespace_fetch_sockets(root(&f, 0), NULL, on_fetch, &f),
                   0);
  ck_assert_int_eq(sio_server_count(f.s[0].s, on_count, &f), 0);
  pump(&f, 10);
  ck_assert_int_eq(f.calls, 1); /* the count came back */
  ck_assert_uint_eq(f.count, 4);
  sio_server_close(f.s[0].s, on_closed, &f);
  f.s[0].s = NULL;
  ck_assert_int_eq(f.calls, 2);
  ck_assert_int_eq(f.status, SIO_ERR_CANCELED);
  pubsub_stub_ops.close(mute, NULL, NULL);
  stop(&f, NULL, 0);
}
END_TEST

/* ------------------------------------------------------------- hostile */

static void spub(fx *f, const char *chan, const void *data, size_t len) {
  pubsub_bus_spublish(f->bus, chan, data, len);
}

static void spub_str(fx *f, const char *chan, const char *s) {
  spub(f, chan, s, strlen(s));
}

START_TEST(test_malformed_ignored) {
  fx f;
  ws_client c[2];
  sio_socket *a;
  sio_adapter_sharded_counts k;
  char resp[64];
  static const uint8_t truncated[] = {0x84, 0xa4, 't', 'y', 'p', 'e', 0x03};
  static const uint8_t huge[] = {0xdf, 0xff, 0xff, 0xff, 0xff, 0x01};
  memset(c, 0, sizeof(c));
  start(&f);
  a = connect_to(&f, &c[0], 0, NULL);
  connect_to(&f, &c[1], 1, NULL);
  sio_socket_join(a, "room1");
  snprintf(resp, sizeof(resp), "socket.io#/#%s#",
           sio_adapter_sharded_uid(f.s[0].ad));
  /* malformed: counted as such */
  spub(&f, "socket.io#/#", truncated, sizeof(truncated));
  spub(&f, "socket.io#/#", huge, sizeof(huge));
  spub(&f, "socket.io#/#room1#", "\xc1", 1);
  spub(&f, resp, truncated, 3);
  spub_str(&f, "socket.io#/#", "{\"type\":3");  /* cut JSON */
  spub_str(&f, "socket.io#/#", "[3,{},\"x\"]"); /* not an object */
  spub_str(&f, "socket.io#/#", "{\"type\":\"3\",\"nsp\":\"/\"}"); /* type */
  spub_str(&f, "socket.io#/#", "{\"type\":3,\"uid\":7,\"nsp\":\"/\"}");
  spub_str(&f, "socket.io#/#", "{\"type\":3,\"data\":{},\"nsp\":\"/\"}");
  spub_str(&f, "socket.io#/#",
           "{\"type\":3,\"data\":{\"packet\":{\"type\":2,\"data\":[]},"
           "\"opts\":{\"rooms\":[],\"except\":[]}},\"nsp\":\"/\"}");
  spub_str(&f, "socket.io#/#",
           "{\"type\":4,\"data\":{\"opts\":{\"rooms\":[]},\"rooms\":[1.5,{}]},"
           "\"nsp\":\"/\"}");
  spub_str(&f, "socket.io#/#",
           "{\"type\":7,\"data\":{\"opts\":{}},\"uid\":\"p\",\"nsp\":\"/\"}");
  spub_str(&f, resp,
           "{\"type\":11,\"data\":{\"requestId\":\"x\","
           "\"clientCount\":-1}}");
  pump(&f, 30);
  k = counts(&f, 0);
  ck_assert_uint_eq(k.malformed, 13);
  ck_assert_uint_eq(k.ignored, 0);
  /* well formed but not for us: ignored */
  spub_str(&f, "socket.io#/#",
           "{\"type\":3,\"data\":{\"packet\":{\"type\":2,\"data\":[\"f\"]},"
           "\"opts\":{\"rooms\":[],\"except\":[],\"flags\":{}}},"
           "\"uid\":\"peer\",\"nsp\":\"/admin\"}");
  spub_str(&f, "socket.io#/#",
           "{\"type\":3,\"data\":{\"packet\":{\"type\":2,\"data\":[\"f\"]},"
           "\"opts\":{\"rooms\":[],\"except\":[],\"flags\":{}}},"
           "\"uid\":\"peer\"}"); /* no nsp */
  spub_str(&f, "socket.io#/#", "{\"type\":99,\"uid\":\"peer\",\"nsp\":\"/\"}");
  spub_str(&f, resp,
           "{\"type\":8,\"data\":{\"requestId\":\"nobody\",\"sockets\":[]}}");
  spub_str(&f, "socket.io#/#",
           "{\"type\":7,\"data\":{\"opts\":{\"rooms\":[],\"except\":[]},"
           "\"requestId\":\"r\"},\"nsp\":\"/\"}"); /* no uid to answer */
  /* heartbeats of ClusterAdapterWithHeartbeat: silently dropped */
  spub_str(&f, "socket.io#/#", "{\"type\":1,\"uid\":\"peer\",\"nsp\":\"/\"}");
  spub_str(&f, "socket.io#/#", "{\"type\":2,\"uid\":\"peer\",\"nsp\":\"/\"}");
  /* a channel we never subscribed */
  spub_str(&f, "socket.io#/#nothere#", "{\"type\":99}");
  /* PUBLISH (not SPUBLISH) never reaches the sharded subscriptions */
  pubsub_bus_publish(f.bus, "socket.io#/#", huge, sizeof(huge));
  pump(&f, 30);
  k = counts(&f, 0);
  ck_assert_uint_eq(k.malformed, 13);
  ck_assert_uint_eq(k.ignored, 5);
  expect_nothing(&c[0], 50);
  /* a well-formed peer message on the room channel still works */
  spub_str(&f, "socket.io#/#room1#",
           "{\"type\":3,\"data\":{\"packet\":{\"type\":2,\"data\":[\"ok\",1]},"
           "\"opts\":{\"rooms\":[\"room1\"],\"except\":[],\"flags\":{}}},"
           "\"uid\":\"peer\",\"nsp\":\"/\"}");
  expect(&c[0], "42[\"ok\",1]");
  expect_nothing(&c[1], 50);
  stop(&f, c, 2);
}
END_TEST

START_TEST(test_degraded_and_back) {
  fx f;
  ws_client c[2];
  sio_stats st;
  memset(c, 0, sizeof(c));
  start(&f);
  connect_to(&f, &c[0], 0, NULL);
  connect_to(&f, &c[1], 1, NULL);
  pubsub_stub_set_up(f.s[1].stub, 0);
  pump(&f, 20);
  ck_assert_int_eq(sio_server_redis_connected(f.s[1].s), 0);
  ck_assert_int_eq(
      sio_namespace_broadcast(root(&f, 1), NULL, "local", NULL, NULL, 0), 1);
  expect(&c[1], "42[\"local\"]");
  expect_nothing(&c[0], 100);
  sio_server_stats(f.s[1].s, &st);
  ck_assert_uint_eq(st.redis_dropped, 1);
  ck_assert_int_eq(sio_namespace_fetch_sockets(root(&f, 1), NULL, on_fetch, &f),
                   0);
  wait_calls(&f, 1);
  ck_assert_int_eq(f.status, SIO_ERR_CLOSED);
  ck_assert_uint_eq(f.count, 1);
  pubsub_stub_set_up(f.s[1].stub, 1);
  pump(&f, 20);
  ck_assert_int_eq(sio_server_redis_connected(f.s[1].s), 1);
  ck_assert_int_eq(
      sio_namespace_broadcast(root(&f, 0), NULL, "again", NULL, NULL, 0), 1);
  expect(&c[0], "42[\"again\"]");
  expect(&c[1], "42[\"again\"]");
  stop(&f, c, 2);
}
END_TEST

/* ------------------------------------------------ a Node peer's bytes */

/* A message of tests/data/redis/sharded_vectors.txt: what Node's
 * createShardedAdapter published (server A of the capture). */
typedef struct nvec {
  char step[48];
  char channel[64];
  uint8_t *bytes;
  size_t len;
} nvec;

static const nvec *node_vec(nvec *v, size_t n, const char *step, int nth) {
  size_t i;
  for (i = 0; i < n; i++)
    if (strcmp(v[i].step, step) == 0 && nth-- == 0)
      return &v[i];
  ck_abort_msg("no vector %s", step);
  return NULL;
}

static size_t node_vectors(nvec *v, size_t cap) {
  char path[4200], line[16384];
  const char *sd = getenv("srcdir");
  size_t n = 0;
  FILE *fp;
  if (sd) {
    snprintf(path, sizeof(path), "%s/tests/data/redis/sharded_vectors.txt", sd);
  } else {
    const char *slash = strrchr(__FILE__, '/');
    snprintf(path, sizeof(path), "%.*s/data/redis/sharded_vectors.txt",
             slash ? (int)(slash - __FILE__) : 1, slash ? __FILE__ : ".");
  }
  fp = fopen(path, "r");
  ck_assert_msg(fp != NULL, "cannot open %s", path);
  while (n < cap && fgets(line, sizeof(line), fp)) {
    char *f1, *f2, *f3, *hex;
    size_t i, hl;
    if (line[0] == '#' || line[0] == '\n')
      continue;
    f1 = strchr(line, '\t');
    ck_assert_ptr_nonnull(f1);
    *f1++ = 0;
    f2 = strchr(f1, '\t');
    ck_assert_ptr_nonnull(f2);
    *f2++ = 0;
    f3 = strchr(f2, '\t');
    ck_assert_ptr_nonnull(f3);
    hex = f3 + 1;
    hl = strcspn(hex, "\n");
    ck_assert_uint_lt(strlen(line), sizeof(v[n].step));
    snprintf(v[n].step, sizeof(v[n].step), "%.47s", line);
    ck_assert_uint_lt(strlen(f1), sizeof(v[n].channel));
    snprintf(v[n].channel, sizeof(v[n].channel), "%.63s", f1);
    v[n].len = hl / 2;
    v[n].bytes = malloc(v[n].len + 1);
    for (i = 0; i < v[n].len; i++) {
      unsigned x;
      ck_assert_int_eq(sscanf(hex + 2 * i, "%2x", &x), 1);
      v[n].bytes[i] = (uint8_t)x;
    }
    n++;
  }
  fclose(fp);
  return n;
}

static void inject(fx *f, const nvec *x) {
  pubsub_bus_spublish(f->bus, x->channel, x->bytes, x->len);
}

/* The requestId and uid of a captured request. */
static void vec_ids(const nvec *x, char *rid, char *uid) {
  sio_redis_cluster_msg m;
  ck_assert_int_eq(sio_redis_cluster_decode(&m, x->bytes, x->len, NULL), 0);
  snprintf(rid, 32, "%s", m.request_id ? m.request_id : "");
  snprintf(uid, 32, "%s", m.uid);
  sio_redis_cluster_clear(&m);
}

START_TEST(test_node_peer_messages) {
  fx f;
  ws_client c[2];
  sio_socket *s0;
  nvec v[64];
  size_t n = node_vectors(v, 64), i;
  char rid[32], uid[32], resp[64];
  const ws_msg *m;
  memset(c, 0, sizeof(c));
  ck_assert_uint_ge(n, 20);
  start(&f);
  s0 = connect_to(&f, &c[0], 0, NULL);
  connect_to(&f, &c[1], 1, NULL);
  sio_socket_join(s0, "room1");
  sio_socket_join(s0, "r1");
  /* broadcasts: to all (JSON), to a room on its channel, with binary */
  inject(&f, node_vec(v, n, "bcast_all", 0));
  expect(&c[0], "42[\"hello\",\"world\",42,{\"a\":[true,null,1.5],"
                "\"s\":\"\xc3\xa9/\"}]");
  expect(&c[1], "42[\"hello\",\"world\",42,{\"a\":[true,null,1.5],"
                "\"s\":\"\xc3\xa9/\"}]");
  inject(&f, node_vec(v, n, "bcast_room", 0));
  expect(&c[0], "42[\"ev\",-1]");
  expect_nothing(&c[1], 50);
  inject(&f, node_vec(v, n, "bcast_room_binary", 0));
  expect(&c[0], "451-[\"rb\",{\"_placeholder\":true,\"num\":0}]");
  m = ws_client_recv(&c[0], T);
  ck_assert_ptr_nonnull(m);
  ck_assert_int_eq(m->binary, 1);
  ck_assert_int_eq((uint8_t)m->data[0], 9);
  /* another namespace's message on its channel reaches /admin only */
  inject(&f, node_vec(v, n, "bcast_nsp", 0));
  expect_nothing(&c[0], 50);
  /* socketsJoin to everyone: joined, and the room channel follows */
  inject(&f, node_vec(v, n, "sockets_join", 0));
  pump(&f, 20);
  ck_assert_int_eq(sio_socket_in_room(s0, "j1"), 1);
  ck_assert_int_eq(room_subscribed(&f, 0, "j1"), 1);
  /* fetchSockets: every server answers on the requester's channel */
  log_clear(&f);
  vec_ids(node_vec(v, n, "fetch_sockets", 0), rid, uid);
  snprintf(resp, sizeof(resp), "socket.io#/#%s#", uid);
  inject(&f, node_vec(v, n, "fetch_sockets", 0));
  pump(&f, 30);
  ck_assert_int_eq(
      logged(&f, SIO_REDIS_CLUSTER_FETCH_SOCKETS_RESPONSE, resp, rid), NSRV);
  for (i = 0; i < (size_t)f.nlog; i++)
    if (f.log[i].type == SIO_REDIS_CLUSTER_FETCH_SOCKETS_RESPONSE &&
        strcmp(f.log[i].uid, sio_adapter_sharded_uid(f.s[0].ad)) == 0)
      ck_assert_uint_eq(json_object_array_length(f.log[i].sockets), 1);
  /* serverSideEmit with an acknowledgement: every server answers */
  f.s[0].answer_server_events = f.s[1].answer_server_events = 1;
  log_clear(&f);
  vec_ids(node_vec(v, n, "server_side_emit_ack", 0), rid, uid);
  inject(&f, node_vec(v, n, "server_side_emit_ack", 0));
  pump(&f, 30);
  ck_assert_str_eq(f.s[2].last_server_event, "sse-ack");
  ck_assert_int_eq(
      logged(&f, SIO_REDIS_CLUSTER_SERVER_SIDE_EMIT_RESPONSE, resp, rid), 2);
  /* a broadcast with acknowledgements: counts from everyone, our
   * client's answer relayed */
  log_clear(&f);
  vec_ids(node_vec(v, n, "broadcast_ack", 0), rid, uid);
  inject(&f, node_vec(v, n, "broadcast_ack", 0));
  answer_all(c, 2, 30);
  pump(&f, 30);
  ck_assert_int_eq(
      logged(&f, SIO_REDIS_CLUSTER_BROADCAST_CLIENT_COUNT, resp, rid), NSRV);
  ck_assert_int_eq(logged(&f, SIO_REDIS_CLUSTER_BROADCAST_ACK, resp, rid), 2);
  /* Node's own responses to Node went to a channel nobody here holds */
  ck_assert_uint_eq(counts(&f, 0).malformed, 0);
  for (i = 0; i < n; i++)
    free(v[i].bytes);
  stop(&f, c, 2);
}
END_TEST

Suite *sio_adapter_sharded_suite(void) {
  Suite *s = suite_create("sio_adapter_sharded");
  TCase *tc = tcase_create("stub bus");
  tcase_add_test(tc, test_install_errors);
  tcase_add_test(tc, test_broadcast_all);
  tcase_add_test(tc, test_broadcast_rooms_except_binary);
  tcase_add_test(tc, test_namespaces_apart);
  tcase_add_test(tc, test_room_channels_dynamic);
  tcase_add_test(tc, test_static_mode);
  tcase_add_test(tc, test_dynamic_private_mode);
  tcase_add_test(tc, test_sockets_join_leave_disconnect);
  tcase_add_test(tc, test_fetch_sockets);
  tcase_add_test(tc, test_server_count_and_rooms);
  tcase_add_test(tc, test_server_side_emit);
  tcase_add_test(tc, test_broadcast_with_acks);
  tcase_add_test(tc, test_broadcast_ack_binary);
  tcase_add_test(tc, test_request_timeout_and_cancel);
  tcase_add_test(tc, test_malformed_ignored);
  tcase_add_test(tc, test_node_peer_messages);
  tcase_add_test(tc, test_degraded_and_back);
  tcase_set_timeout(tc, 20);
  suite_add_tcase(s, tc);
  return s;
}
