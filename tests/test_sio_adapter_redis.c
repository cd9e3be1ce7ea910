/* test_sio_adapter_redis.c: the cluster calls (sio_cluster.c) and the Redis
 * adapter protocol (sio_adapter_redis.c) with three sio_servers in one
 * process, each on its own stub driver of one in-memory bus
 * (tests/helpers/pubsub_stub.c), and raw WebSocket clients
 * (tests/helpers/ws_client.c). Every test ends with every handle closed
 * and uv_loop_close() == 0. */
#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "check_suites.h"
#include "pubsub_stub.h"
#include "sio/adapter.h"
#include "sio/sio.h"
#include "sio_adapter_redis.h"
#include "sio_buf.h"
#include "sio_json.h"
#include "sio_redis_msg.h"
#include "sio_steps.h"
#include "ws_client.h"

#define NSRV 3

typedef struct srv {
  sio_server *s;
  pubsub_stub *stub;
  int port;
  steps_sockets kept;
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
  steps_result r; /* what the calls answered */
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
  (void)ud;
  steps_keep(&srv_of(s)->kept, s);
}

static void on_event(sio_socket *s, const char *event, json_object *args,
                     const sio_bin *bins, size_t nbins, int64_t ack_id,
                     void *ud) {
  (void)ud;
  (void)bins;
  (void)nbins;
  if (strcmp(event, "join") == 0)
    sio_socket_join(s,
                    json_object_get_string(json_object_array_get_idx(args, 0)));
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
  (void)data;
  (void)len;
  f->published++;
  snprintf(f->last_channel, sizeof(f->last_channel), "%s", channel);
}

static void start(fx *f) {
  static const sio_namespace_handlers h = {NULL, on_connection, on_event,
                                           on_disconnect};
  sio_adapter_redis_config cfg = {NULL, 400};
  int i;
  memset(f, 0, sizeof(*f));
  F = f;
  ck_assert_int_eq(uv_loop_init(&f->loop), 0);
  f->bus = pubsub_bus_new(&f->loop);
  pubsub_bus_tap(f->bus, tap, f);
  for (i = 0; i < NSRV; i++) {
    srv *v = &f->s[i];
    sio_namespace *ns;
    ck_assert_int_eq(sio_server_new(&v->s, &f->loop, NULL), 0);
    ns = sio_server_of(v->s, "/");
    sio_namespace_set_handlers(ns, &h, v);
    sio_namespace_on_server_event(ns, on_server_event, v);
    v->stub = pubsub_stub_new(f->bus);
    ck_assert_int_eq(
        sio_adapter_redis_install(v->s, &pubsub_stub_ops, v->stub, &cfg), 0);
    /* a namespace created after the adapter was installed */
    ns = sio_server_of(v->s, "/admin");
    sio_namespace_set_handlers(ns, &h, v);
    ck_assert_int_eq(sio_server_listen(v->s, "127.0.0.1:0"), 0);
    v->port = sio_server_port(v->s, 0);
  }
}

static void on_closed(sio_server *s, void *ud) {
  fx *f = ud;
  (void)s;
  f->closed++;
}

static void stop(fx *f, ws_client *cs, int n) {
  int i;
  for (i = 0; i < NSRV; i++) {
    steps_release(&f->s[i].kept);
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
  F = NULL;
}

static void pump(fx *f, uint32_t ms) { steps_pump(&f->loop, ms); }

/* Connects a client to server i, namespace "/" (or nsp), and returns the
 * server-side socket. */
static sio_socket *connect_to(fx *f, ws_client *c, int i, const char *nsp) {
  return steps_connect_kept(c, &f->loop, f->s[i].port, nsp, &f->s[i].kept);
}

/* ------------------------------------------------------------ broadcast */

START_TEST(test_broadcast_everywhere) {
  fx f;
  ws_client c[NSRV];
  json_object *args;
  int i;
  memset(c, 0, sizeof(c));
  start(&f);
  for (i = 0; i < NSRV; i++)
    connect_to(&f, &c[i], i, NULL);
  pump(&f, 20);
  for (i = 0; i < NSRV; i++)
    ck_assert_int_eq(sio_server_redis_connected(f.s[i].s), 1);
  args = steps_json("[1,\"two\"]");
  f.published = 0;
  ck_assert_int_eq(sio_namespace_broadcast(sio_server_of(f.s[0].s, "/"), NULL,
                                           "hello", args, NULL, 0),
                   1);
  ck_assert_int_eq(f.published, 1);
  ck_assert_str_eq(f.last_channel, "socket.io#/#");
  for (i = 0; i < NSRV; i++)
    steps_expect(&c[i], "42[\"hello\",1,\"two\"]");
  /* the sender's own message comes back from the bus and is ignored */
  steps_expect_nothing(&c[0], 100);
  json_object_put(args);
  {
    sio_stats st;
    sio_server_stats(f.s[1].s, &st);
    ck_assert_int_eq(st.redis_enabled, 1);
    ck_assert_int_eq(st.redis_connected, 1);
    ck_assert_uint_ge(st.redis_messages_in, 1);
    sio_server_stats(f.s[0].s, &st);
    ck_assert_uint_eq(st.redis_messages_out, 1);
  }
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
  (void)s3;
  args = json_object_new_array();
  json_object_array_add(args, sio_placeholder_new(0));
  ck_assert_int_eq(sio_namespace_broadcast(sio_server_of(f.s[0].s, "/"), &o,
                                           "bin", args, &bin, 1),
                   0);
  ck_assert_str_eq(f.last_channel, "socket.io#/#r1#");
  steps_expect(&c[1], "451-[\"bin\",{\"_placeholder\":true,\"num\":0}]");
  m = ws_client_recv(&c[1], STEPS_T);
  ck_assert_ptr_nonnull(m);
  ck_assert_int_eq(m->binary, 1);
  ck_assert_uint_eq(m->len, 2);
  steps_expect_nothing(&c[2], 100); /* in r1 but also in x */
  steps_expect_nothing(&c[3], 10);  /* not in r1 */
  steps_expect_nothing(&c[0], 10);
  json_object_put(args);
  /* SIO_BCAST_LOCAL stays home */
  o.nexcept = 0;
  o.flags = SIO_BCAST_LOCAL;
  f.published = 0;
  ck_assert_int_eq(sio_namespace_broadcast(sio_server_of(f.s[1].s, "/"), &o,
                                           "loc", NULL, NULL, 0),
                   1);
  steps_expect(&c[1], "42[\"loc\"]");
  steps_expect_nothing(&c[2], 100);
  ck_assert_int_eq(f.published, 0);
  /* two rooms: the namespace channel */
  {
    const char *two[] = {"r1", "nobody"};
    sio_broadcast_opts t = {two, 2, NULL, 0, SIO_BCAST_VOLATILE};
    ck_assert_int_eq(sio_namespace_broadcast(sio_server_of(f.s[0].s, "/"), &t,
                                             "two", NULL, NULL, 0),
                     0);
    ck_assert_str_eq(f.last_channel, "socket.io#/#");
    steps_expect(&c[1], "42[\"two\"]");
    steps_expect(&c[2], "42[\"two\"]");
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
  steps_expect(&c[0], "42/admin,[\"adm\"]");
  steps_expect_nothing(&c[1], 100);
  stop(&f, c, 2);
}
END_TEST

/* what a @socket.io/redis-emitter publishes, built with the codec */
START_TEST(test_emitter_messages) {
  fx f;
  ws_client c[3];
  sio_socket *a, *b;
  sio_buf msg;
  const char *room = "room1";
  sio_broadcast_opts o = {&room, 1, NULL, 0, 0};
  memset(c, 0, sizeof(c));
  start(&f);
  a = connect_to(&f, &c[0], 0, NULL);
  b = connect_to(&f, &c[1], 1, NULL);
  connect_to(&f, &c[2], 2, NULL);
  sio_socket_join(a, "room1");
  sio_socket_join(b, "room1");
  sio_buf_init(&msg);
  ck_assert_int_eq(
      sio_redis_encode_bcast(&msg, "emitter", "/", "e2", NULL, NULL, 0, &o, -1),
      0);
  pubsub_bus_publish(f.bus, "socket.io#/#room1#", (uint8_t *)msg.data, msg.len);
  steps_expect(&c[0], "42[\"e2\"]");
  steps_expect(&c[1], "42[\"e2\"]");
  steps_expect_nothing(&c[2], 100);
  /* requests: socketsJoin from an emitter (no uid), then an unknown
   * request type and garbage, which change nothing */
  {
    static const char join[] = "{\"type\":2,\"opts\":{\"rooms\":[\"room1\"],"
                               "\"except\":[]},\"rooms\":[\"r9\"]}";
    static const char unknown[] = "{\"type\":42,\"uid\":\"zz\"}";
    static const uint8_t junk[] = {0xdd, 0xff, 0xff, 0xff, 0xff, 0x01};
    pubsub_bus_publish(f.bus, "socket.io-request#/#", (const uint8_t *)join,
                       sizeof(join) - 1);
    pubsub_bus_publish(f.bus, "socket.io-request#/#", (const uint8_t *)unknown,
                       sizeof(unknown) - 1);
    pubsub_bus_publish(f.bus, "socket.io-request#/#", junk, sizeof(junk));
    pubsub_bus_publish(f.bus, "socket.io#/#", junk, sizeof(junk));
    pubsub_bus_publish(f.bus, "socket.io#/#room1#", junk, 3);
    pubsub_bus_publish(f.bus, "socket.io-response#/#", junk, sizeof(junk));
    pump(&f, 30);
    ck_assert_int_eq(sio_socket_in_room(a, "r9"), 1);
    ck_assert_int_eq(sio_socket_in_room(b, "r9"), 1);
  }
  /* a serverSideEmit from an emitter */
  {
    static const char sse[] =
        "{\"uid\":\"emitter\",\"type\":6,\"data\":[\"e8\",{\"a\":1}]}";
    pubsub_bus_publish(f.bus, "socket.io-request#/#", (const uint8_t *)sse,
                       sizeof(sse) - 1);
    pump(&f, 30);
    ck_assert_int_eq(f.s[2].server_events, 1);
    ck_assert_str_eq(f.s[2].last_server_event, "e8");
    ck_assert_str_eq(f.s[2].last_server_args, "[{\"a\":1}]");
  }
  sio_buf_deinit(&msg);
  stop(&f, c, 3);
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
  ck_assert_int_eq(
      sio_namespace_sockets_join(sio_server_of(f.s[0].s, "/"), NULL, rooms, 2),
      0);
  /* local part at once, remote after the bus delivered */
  ck_assert_int_eq(sio_socket_in_room(s[0], "j2"), 1);
  pump(&f, 30);
  for (i = 0; i < 3; i++) {
    ck_assert_int_eq(sio_socket_in_room(s[i], "j1"), 1);
    ck_assert_int_eq(sio_socket_in_room(s[i], "j2"), 1);
  }
  /* leave j2 for the sockets in "keep" only */
  {
    const char *keep = "keep", *j2 = "j2";
    sio_broadcast_opts in_keep = {&keep, 1, NULL, 0, 0};
    ck_assert_int_eq(sio_namespace_sockets_leave(sio_server_of(f.s[1].s, "/"),
                                                 &in_keep, &j2, 1),
                     0);
    pump(&f, 30);
    ck_assert_int_eq(sio_socket_in_room(s[2], "j2"), 0);
    ck_assert_int_eq(sio_socket_in_room(s[0], "j2"), 1);
  }
  /* disconnect everyone in j1 but the sockets in "keep" */
  {
    const char *keep = "keep";
    in_j1.except = &keep;
    in_j1.nexcept = 1;
    ck_assert_int_eq(sio_namespace_disconnect_sockets(
                         sio_server_of(f.s[2].s, "/"), &in_j1, 0),
                     0);
    steps_expect(&c[0], "41");
    steps_expect(&c[1], "41");
    steps_expect_nothing(&c[2], 100);
    ck_assert_int_eq(f.s[0].disconnects, 1);
    ck_assert_int_eq(f.s[1].disconnects, 1);
    ck_assert_int_eq(f.s[2].disconnects, 0);
    ck_assert_int_eq(sio_socket_connected(s[2]), 1);
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
  steps_answer(&f->r, status, n);
  f->r.nlocal = 0;
  sio_buf_init(&b);
  for (i = 0; i < n; i++) {
    size_t r;
    if (socks[i].local) {
      f->r.nlocal++;
      ck_assert_str_eq(sio_socket_id(socks[i].local), socks[i].id);
    }
    sio_buf_appendf(&b, "%s:", socks[i].id);
    for (r = 0; r < socks[i].nrooms; r++)
      if (strcmp(socks[i].rooms[r], socks[i].id) != 0)
        sio_buf_appendf(&b, "%s,", socks[i].rooms[r]);
    if (socks[i].data) {
      char t[128];
      json_text(t, sizeof(t), socks[i].data);
      sio_buf_appendf(&b, "%s", t);
    }
    if (socks[i].handshake) {
      json_object *addr;
      ck_assert(
          json_object_object_get_ex(socks[i].handshake, "address", &addr));
      ck_assert_str_eq(json_object_get_string(addr), "127.0.0.1");
    }
    sio_buf_append_str(&b, ";");
  }
  snprintf(f->r.text, sizeof(f->r.text), "%s", b.data ? b.data : "");
  sio_buf_deinit(&b);
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
  sio_socket_set_json_data(s[2], steps_json("{\"user\":\"u2\"}"));
  ck_assert_int_eq(sio_namespace_fetch_sockets(sio_server_of(f.s[1].s, "/"), &o,
                                               on_fetch, &f),
                   0);
  ck_assert_int_eq(f.r.calls, 0); /* never from inside the call */
  while (f.r.calls == 0)
    uv_run(&f.loop, UV_RUN_ONCE);
  ck_assert_int_eq(f.r.status, 0);
  ck_assert_uint_eq(f.r.count, 2);
  ck_assert_int_eq(f.r.nlocal, 0);
  /* order: local first, then answers as they come */
  snprintf(want, sizeof(want), "%s:team,{};", sio_socket_id(s[0]));
  ck_assert_msg(strstr(f.r.text, want), "%s", f.r.text);
  snprintf(want, sizeof(want), "%s:team,{\"user\":\"u2\"};",
           sio_socket_id(s[2]));
  ck_assert_msg(strstr(f.r.text, want), "%s", f.r.text);
  /* everyone, from server 0: one local */
  f.r.calls = 0;
  ck_assert_int_eq(sio_namespace_fetch_sockets(sio_server_of(f.s[0].s, "/"),
                                               NULL, on_fetch, &f),
                   0);
  while (f.r.calls == 0)
    uv_run(&f.loop, UV_RUN_ONCE);
  ck_assert_int_eq(f.r.status, 0);
  ck_assert_uint_eq(f.r.count, 3);
  ck_assert_int_eq(f.r.nlocal, 1);
  /* local only */
  f.r.calls = 0;
  o.flags = SIO_BCAST_LOCAL;
  ck_assert_int_eq(sio_namespace_fetch_sockets(sio_server_of(f.s[0].s, "/"), &o,
                                               on_fetch, &f),
                   0);
  while (f.r.calls == 0)
    uv_run(&f.loop, UV_RUN_ONCE);
  ck_assert_uint_eq(f.r.count, 1);
  ck_assert_int_eq(f.r.nlocal, 1);
  stop(&f, c, 3);
}
END_TEST

static void on_rooms(sio_namespace *ns, int status, const char *const *rooms,
                     size_t n, void *ud) {
  fx *f = ud;
  size_t i;
  (void)ns;
  steps_answer(&f->r, status, n);
  f->r.text[0] = 0;
  for (i = 0; i < n; i++)
    if (strlen(rooms[i]) < 10) {
      strcat(f->r.text, rooms[i]);
      strcat(f->r.text, ",");
    }
}

static void on_count(sio_namespace *ns, int status, size_t count, void *ud) {
  fx *f = ud;
  (void)ns;
  steps_answer(&f->r, status, count);
}

START_TEST(test_all_rooms_and_count) {
  fx f;
  ws_client c[2];
  sio_socket *a, *b;
  memset(c, 0, sizeof(c));
  start(&f);
  a = connect_to(&f, &c[0], 0, NULL);
  b = connect_to(&f, &c[1], 2, NULL);
  sio_socket_join(a, "ra");
  sio_socket_join(b, "rb");
  sio_socket_join(b, "ra");
  ck_assert_int_eq(
      sio_namespace_all_rooms(sio_server_of(f.s[1].s, "/"), on_rooms, &f), 0);
  while (f.r.calls == 0)
    uv_run(&f.loop, UV_RUN_ONCE);
  ck_assert_int_eq(f.r.status, 0);
  ck_assert_uint_eq(f.r.count, 4); /* two socket id rooms, ra, rb */
  ck_assert_msg(strstr(f.r.text, "ra,") && strstr(f.r.text, "rb,"), "%s",
                f.r.text);
  ck_assert_ptr_null(strstr(strstr(f.r.text, "ra,") + 3, "ra,"));
  f.r.calls = 0;
  ck_assert_int_eq(sio_server_count(f.s[2].s, on_count, &f), 0);
  while (f.r.calls == 0)
    uv_run(&f.loop, UV_RUN_ONCE);
  ck_assert_int_eq(f.r.status, 0);
  ck_assert_uint_eq(f.r.count, 3);
  stop(&f, c, 2);
}
END_TEST

static void on_sse_ack(sio_namespace *ns, int status, json_object *responses,
                       void *ud) {
  fx *f = ud;
  (void)ns;
  steps_answer(&f->r, status, 0);
  json_text(f->r.text, sizeof(f->r.text), responses);
}

START_TEST(test_server_side_emit) {
  fx f;
  json_object *args = steps_json("[1,{\"k\":\"v\"}]");
  start(&f);
  ck_assert_int_eq(sio_namespace_server_side_emit(sio_server_of(f.s[0].s, "/"),
                                                  "tick", args, NULL, NULL),
                   0);
  pump(&f, 30);
  ck_assert_int_eq(f.s[0].server_events, 0); /* not to itself */
  ck_assert_int_eq(f.s[1].server_events, 1);
  ck_assert_int_eq(f.s[2].server_events, 1);
  ck_assert_str_eq(f.s[1].last_server_event, "tick");
  ck_assert_str_eq(f.s[2].last_server_args, "[1,{\"k\":\"v\"}]");
  /* with acknowledgements: both answer */
  f.s[1].answer_server_events = f.s[2].answer_server_events = 1;
  ck_assert_int_eq(sio_namespace_server_side_emit(sio_server_of(f.s[0].s, "/"),
                                                  "ask", NULL, on_sse_ack, &f),
                   0);
  while (f.r.calls == 0)
    uv_run(&f.loop, UV_RUN_ONCE);
  ck_assert_int_eq(f.r.status, 0);
  ck_assert_msg(strcmp(f.r.text, "[1,2]") == 0 ||
                    strcmp(f.r.text, "[2,1]") == 0,
                "%s", f.r.text);
  /* one stays silent: timeout with the other's answer */
  f.s[2].answer_server_events = 0;
  f.r.calls = 0;
  ck_assert_int_eq(sio_namespace_server_side_emit(sio_server_of(f.s[0].s, "/"),
                                                  "ask", NULL, on_sse_ack, &f),
                   0);
  while (f.r.calls == 0)
    uv_run(&f.loop, UV_RUN_ONCE);
  ck_assert_int_eq(f.r.status, SIO_ERR_TIMEOUT);
  ck_assert_str_eq(f.r.text, "[1]");
  ck_assert_int_eq(sio_namespace_server_side_emit(sio_server_of(f.s[0].s, "/"),
                                                  "disconnect", NULL, NULL,
                                                  NULL),
                   SIO_ERR_INVAL);
  json_object_put(args);
  stop(&f, NULL, 0);
}
END_TEST

static void on_bcast_ack(sio_namespace *ns, int status, json_object *responses,
                         const sio_bin *bins, size_t nbins, void *ud) {
  fx *f = ud;
  (void)ns;
  (void)bins;
  steps_answer(&f->r, status, nbins);
  json_text(f->r.text, sizeof(f->r.text), responses);
}

START_TEST(test_broadcast_with_acks) {
  fx f;
  ws_client c[3];
  const ws_msg *m;
  int i;
  memset(c, 0, sizeof(c));
  start(&f);
  for (i = 0; i < 3; i++)
    connect_to(&f, &c[i], i, NULL);
  ck_assert_int_eq(sio_namespace_broadcast_ack(sio_server_of(f.s[0].s, "/"),
                                               NULL, "q", NULL, NULL, 0, 1000,
                                               on_bcast_ack, &f),
                   0);
  for (i = 0; i < 3; i++) {
    char reply[64];
    const char *p;
    m = ws_client_recv(&c[i], STEPS_T);
    ck_assert_ptr_nonnull(m);
    ck_assert_msg(strncmp(m->data, "42", 2) == 0, "%s", m->data);
    /* answer with the packet id and this client's number */
    p = m->data + 2;
    snprintf(reply, sizeof(reply), "43%.*s[%d]", (int)strspn(p, "0123456789"),
             p, i + 10);
    ck_assert_int_eq(ws_client_send_text(&c[i], reply), 0);
  }
  while (f.r.calls == 0)
    uv_run(&f.loop, UV_RUN_ONCE);
  ck_assert_int_eq(f.r.status, 0);
  ck_assert_msg(strstr(f.r.text, "10") && strstr(f.r.text, "11") &&
                    strstr(f.r.text, "12"),
                "%s", f.r.text);
  /* a silent client: timeout with the others' answers */
  f.r.calls = 0;
  ck_assert_int_eq(sio_namespace_broadcast_ack(sio_server_of(f.s[1].s, "/"),
                                               NULL, "q", NULL, NULL, 0, 300,
                                               on_bcast_ack, &f),
                   0);
  for (i = 0; i < 2; i++) {
    char reply[64];
    const char *p;
    m = ws_client_recv(&c[i], STEPS_T);
    ck_assert_ptr_nonnull(m);
    p = m->data + 2;
    snprintf(reply, sizeof(reply), "43%.*s[%d]", (int)strspn(p, "0123456789"),
             p, i);
    ck_assert_int_eq(ws_client_send_text(&c[i], reply), 0);
  }
  ck_assert_ptr_nonnull(
      ws_client_recv(&c[2], STEPS_T)); /* asked, never answers */
  while (f.r.calls == 0)
    uv_run(&f.loop, UV_RUN_ONCE);
  ck_assert_int_eq(f.r.status, SIO_ERR_TIMEOUT);
  ck_assert_msg(strcmp(f.r.text, "[0,1]") == 0 ||
                    strcmp(f.r.text, "[1,0]") == 0,
                "%s", f.r.text);
  stop(&f, c, 3);
}
END_TEST

/* ------------------------------------------------------------ degraded */

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
  ck_assert_int_eq(sio_server_redis_connected(f.s[0].s), 1);
  /* local delivery goes on; the cluster message is dropped and counted */
  ck_assert_int_eq(sio_namespace_broadcast(sio_server_of(f.s[1].s, "/"), NULL,
                                           "local", NULL, NULL, 0),
                   1);
  steps_expect(&c[1], "42[\"local\"]");
  steps_expect_nothing(&c[0], 100);
  sio_server_stats(f.s[1].s, &st);
  ck_assert_uint_eq(st.redis_dropped, 1);
  ck_assert_uint_eq(st.redis_connected, 0);
  /* fetchSockets while down: local answers, status CLOSED */
  ck_assert_int_eq(sio_namespace_fetch_sockets(sio_server_of(f.s[1].s, "/"),
                                               NULL, on_fetch, &f),
                   0);
  while (f.r.calls == 0)
    uv_run(&f.loop, UV_RUN_ONCE);
  ck_assert_int_eq(f.r.status, SIO_ERR_CLOSED);
  ck_assert_uint_eq(f.r.count, 1);
  /* back up: cluster delivery resumes */
  pubsub_stub_set_up(f.s[1].stub, 1);
  pump(&f, 20);
  ck_assert_int_eq(sio_server_redis_connected(f.s[1].s), 1);
  ck_assert_int_eq(sio_namespace_broadcast(sio_server_of(f.s[0].s, "/"), NULL,
                                           "again", NULL, NULL, 0),
                   1);
  steps_expect(&c[0], "42[\"again\"]");
  steps_expect(&c[1], "42[\"again\"]");
  stop(&f, c, 2);
}
END_TEST

/* a subscriber on the request channel that never answers (an emitter-like
 * process subscribed by mistake, or a hung server) */
START_TEST(test_request_timeout_and_cancel) {
  fx f;
  pubsub_stub *mute;
  start(&f);
  mute = pubsub_stub_new(f.bus);
  pubsub_stub_ops.subscribe(mute, "socket.io-request#/#", 0);
  ck_assert_int_eq(sio_namespace_fetch_sockets(sio_server_of(f.s[0].s, "/"),
                                               NULL, on_fetch, &f),
                   0);
  while (f.r.calls == 0)
    uv_run(&f.loop, UV_RUN_ONCE);
  ck_assert_int_eq(f.r.status, SIO_ERR_TIMEOUT); /* 2 of 3 answered */
  ck_assert_uint_eq(f.r.count, 0);
  /* pending at shutdown: canceled, once */
  f.r.calls = 0;
  ck_assert_int_eq(sio_namespace_fetch_sockets(sio_server_of(f.s[0].s, "/"),
                                               NULL, on_fetch, &f),
                   0);
  ck_assert_int_eq(
      sio_namespace_all_rooms(sio_server_of(f.s[0].s, "/"), on_rooms, &f), 0);
  pump(&f, 10);
  sio_server_close(f.s[0].s, on_closed, &f);
  f.s[0].s = NULL;
  ck_assert_int_eq(f.r.calls, 2);
  ck_assert_int_eq(f.r.status, SIO_ERR_CANCELED);
  ck_assert_int_eq(sio_namespace_fetch_sockets(sio_server_of(f.s[1].s, "/"),
                                               NULL, NULL, NULL),
                   SIO_ERR_INVAL);
  pubsub_stub_ops.close(mute, NULL, NULL);
  stop(&f, NULL, 0);
}
END_TEST

/* no adapter: the in-memory one answers for this instance alone */
START_TEST(test_in_memory) {
  uv_loop_t loop;
  sio_server *s;
  fx f;
  memset(&f, 0, sizeof(f));
  ck_assert_int_eq(uv_loop_init(&loop), 0);
  ck_assert_int_eq(sio_server_new(&s, &loop, NULL), 0);
  ck_assert_int_eq(sio_server_redis_connected(s), 0);
  ck_assert_int_eq(
      sio_namespace_fetch_sockets(sio_server_of(s, "/"), NULL, on_fetch, &f),
      0);
  ck_assert_int_eq(sio_server_count(s, on_count, &f), 0);
  ck_assert_int_eq(sio_namespace_server_side_emit(sio_server_of(s, "/"), "x",
                                                  NULL, on_sse_ack, &f),
                   0);
  ck_assert_int_eq(sio_namespace_broadcast_ack(sio_server_of(s, "/"), NULL, "q",
                                               NULL, NULL, 0, 100, on_bcast_ack,
                                               &f),
                   0);
  ck_assert_int_eq(f.r.calls, 0);
  uv_run(&loop, UV_RUN_NOWAIT);
  ck_assert_int_eq(f.r.calls, 4);
  ck_assert_int_eq(f.r.status, 0);
  ck_assert_str_eq(f.r.text, "[]");
  {
    const char *r = "x";
    ck_assert_int_eq(
        sio_namespace_sockets_join(sio_server_of(s, "/"), NULL, &r, 1), 0);
    ck_assert_int_eq(
        sio_namespace_disconnect_sockets(sio_server_of(s, "/"), NULL, 1), 0);
  }
  sio_server_close(s, NULL, NULL);
  uv_run(&loop, UV_RUN_DEFAULT);
  ck_assert_int_eq(uv_loop_close(&loop), 0);
}
END_TEST

Suite *sio_adapter_redis_suite(void) {
  Suite *s = suite_create("sio_adapter_redis");
  TCase *tc = tcase_create("stub bus");
  tcase_add_test(tc, test_broadcast_everywhere);
  tcase_add_test(tc, test_broadcast_rooms_except_binary);
  tcase_add_test(tc, test_namespaces_apart);
  tcase_add_test(tc, test_emitter_messages);
  tcase_add_test(tc, test_sockets_join_leave_disconnect);
  tcase_add_test(tc, test_fetch_sockets);
  tcase_add_test(tc, test_all_rooms_and_count);
  tcase_add_test(tc, test_server_side_emit);
  tcase_add_test(tc, test_broadcast_with_acks);
  tcase_add_test(tc, test_degraded_and_back);
  tcase_add_test(tc, test_request_timeout_and_cancel);
  tcase_add_test(tc, test_in_memory);
  tcase_set_timeout(tc, 20);
  suite_add_tcase(s, tc);
  return s;
}
