/* test_sio_client.c: the Client's connection state machine (sio_client.c)
 * with connection state recovery on, end to end over loopback: CONNECT,
 * drop, reconnect with the old pid and offset, replay it again, with
 * another user's pid, past the replay bound, and the connect timeout.
 * Each test runs a sio_server on 127.0.0.1, port 0, on its own loop and
 * asserts what the WebSocket client of tests/helpers/ws_client.c
 * receives. */
#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "check_suites.h"
#include "sio/sio.h"
#include "ws_client.h"

#define WS_PATH "/socket.io/?EIO=4&transport=websocket"
#define T 2000 /* ms: deadline for anything that should happen */
#define MAXS 64

typedef struct fixture {
  uv_loop_t loop;
  sio_server *srv;
  sio_namespace *ns;
  int port;
  int connect_ms;
  size_t max_buffered;
  const char *deny; /* room the recovery filter refuses */
  int disconnects;
  char reason[64];
  sio_socket *socks[MAXS]; /* referenced, in connection order */
  int nsocks;
} fixture;

static int on_authorize(sio_socket *s, json_object *auth, json_object **err,
                        void *ud) {
  json_object *u;
  char room[64];
  (void)err;
  (void)ud;
  if (!auth || !json_object_object_get_ex(auth, "user", &u))
    return -1;
  snprintf(room, sizeof(room), "user:%s", json_object_get_string(u));
  ck_assert_int_eq(sio_socket_set_owner(s, json_object_get_string(u)), 0);
  ck_assert_int_eq(sio_socket_join(s, room), 0);
  return 0;
}

static int keep_room(sio_socket *s, const char *room, void *ud) {
  fixture *f = ud;
  (void)s;
  return !f->deny || strcmp(room, f->deny) != 0;
}

static void on_connection(sio_socket *s, void *ud) {
  fixture *f = ud;
  ck_assert_int_eq(sio_socket_set_owner(s, "late"), SIO_ERR_STATE);
  if (f->nsocks < MAXS) {
    sio_socket_ref(s);
    f->socks[f->nsocks++] = s;
  }
}

static void on_event(sio_socket *s, const char *event, json_object *args,
                     const sio_bin *bins, size_t nbins, int64_t ack_id,
                     void *ud) {
  (void)bins;
  (void)nbins;
  (void)ud;
  if (strcmp(event, "join") == 0) {
    ck_assert_int_eq(
        sio_socket_join(
            s, json_object_get_string(json_object_array_get_idx(args, 0))),
        0);
    if (ack_id >= 0)
      sio_socket_ack(s, ack_id, NULL, NULL, 0);
  }
}

static void on_disconnect(sio_socket *s, const char *reason, void *ud) {
  fixture *f = ud;
  (void)s;
  f->disconnects++;
  snprintf(f->reason, sizeof(f->reason), "%s", reason);
}

static void fixture_start(fixture *f) {
  static const sio_namespace_handlers h = {on_authorize, on_connection,
                                           on_event, on_disconnect};
  sio_options *o;
  ck_assert_int_eq(uv_loop_init(&f->loop), 0);
  ck_assert_int_eq(sio_options_new(&o), 0);
  sio_options_set_ping(o, 20000, 20000);
  sio_options_set_recovery(o, 1, 60000);
  if (f->connect_ms)
    sio_options_set_connect_timeout(o, (uint32_t)f->connect_ms);
  if (f->max_buffered)
    sio_options_set_max_buffered(o, f->max_buffered);
  ck_assert_int_eq(sio_server_new(&f->srv, &f->loop, o), 0);
  sio_options_del(o);
  f->ns = sio_server_of(f->srv, "/");
  sio_namespace_set_handlers(f->ns, &h, f);
  sio_namespace_set_recovery_filter(f->ns, keep_room, f);
  ck_assert_int_eq(sio_server_listen(f->srv, "127.0.0.1:0"), 0);
  f->port = sio_server_port(f->srv, 0);
}

static void fixture_stop(fixture *f, ws_client *const *cs, int n) {
  int i;
  for (i = 0; i < f->nsocks; i++)
    sio_socket_unref(f->socks[i]);
  f->nsocks = 0;
  sio_server_close(f->srv, NULL, NULL);
  for (i = 0; i < n; i++)
    ws_client_close(cs[i]);
  uv_run(&f->loop, UV_RUN_DEFAULT);
  ck_assert_int_eq(uv_loop_close(&f->loop), 0);
}

static sio_socket *last_sock(fixture *f) {
  ck_assert_int_gt(f->nsocks, 0);
  return f->socks[f->nsocks - 1];
}

typedef struct session {
  char sid[32];
  char pid[32];
  char reply[256];
} session;

/* Copies the string value of "key":"..." in text into out. */
static void field(const char *text, const char *key, char *out, size_t n) {
  char pat[32];
  const char *p, *q;
  out[0] = 0;
  snprintf(pat, sizeof(pat), "\"%s\":\"", key);
  p = strstr(text, pat);
  if (!p)
    return;
  p += strlen(pat);
  q = strchr(p, '"');
  if (q && (size_t)(q - p) < n)
    snprintf(out, n, "%.*s", (int)(q - p), p);
}

/* Opens a session and connects "/" with auth (JSON text); checks the
 * CONNECT reply and fills *out. */
static void connect_as(fixture *f, ws_client *c, const char *auth,
                       session *out) {
  const ws_msg *m;
  char pkt[256];
  ck_assert_int_eq(ws_client_open(c, &f->loop, f->port, WS_PATH), 0);
  m = ws_client_recv(c, T);
  ck_assert_ptr_nonnull(m);
  ck_assert_msg(m->data[0] == '0', "open packet: %s", m->data);
  snprintf(pkt, sizeof(pkt), "40%s", auth);
  ck_assert_int_eq(ws_client_send_text(c, pkt), 0);
  m = ws_client_recv(c, T);
  ck_assert_ptr_nonnull(m);
  ck_assert_msg(strncmp(m->data, "40{", 3) == 0, "reply: %s", m->data);
  snprintf(out->reply, sizeof(out->reply), "%s", m->data);
  field(m->data, "sid", out->sid, sizeof(out->sid));
  field(m->data, "pid", out->pid, sizeof(out->pid));
  ck_assert_uint_eq(strlen(out->sid), 20);
  ck_assert_uint_eq(strlen(out->pid), 20);
}

/* The client goes away abruptly ("transport close": recoverable). */
static void drop(fixture *f, ws_client *c) {
  int want = f->disconnects + 1, i;
  ws_client_close(c);
  for (i = 0; i < 200 && f->disconnects < want; i++)
    uv_run(&f->loop, UV_RUN_NOWAIT), uv_sleep(1);
  ck_assert_int_eq(f->disconnects, want);
  ck_assert_str_eq(f->reason, "transport close");
}

/* Joins room through the client (acked, so it is done on return). */
static void join(ws_client *c, const char *room) {
  char pkt[96], want[16];
  snprintf(pkt, sizeof(pkt), "4210[\"join\",\"%s\"]", room);
  ck_assert_int_eq(ws_client_send_text(c, pkt), 0);
  snprintf(want, sizeof(want), "4310[]");
  ck_assert(ws_client_expect(c, want, T));
}

/* Broadcasts event "e" [n, ...nbins attachments] to room (NULL: all). */
static void publish(fixture *f, const char *room, int n, size_t nbins) {
  static const uint8_t blob[8] = {0xde, 0xad, 0xbe, 0xef, 0, 1, 2, 3};
  sio_bin bins[8];
  sio_broadcast_opts o;
  json_object *args = json_object_new_array();
  size_t i;
  memset(&o, 0, sizeof(o));
  o.rooms = room ? &room : NULL;
  o.nrooms = room ? 1 : 0;
  json_object_array_add(args, json_object_new_int(n));
  for (i = 0; i < nbins; i++) {
    json_object *ph = json_object_new_object();
    json_object_object_add(ph, "_placeholder", json_object_new_boolean(1));
    json_object_object_add(ph, "num", json_object_new_int((int)i));
    json_object_array_add(args, ph);
    bins[i].data = blob;
    bins[i].len = 1 + (size_t)(n + (int)i) % 8;
  }
  ck_assert_int_ge(sio_namespace_broadcast(f->ns, &o, "e", args, bins, nbins),
                   0);
  json_object_put(args);
}

/* Reads event "e" number n (with nbins attachments, as publish made them)
 * and returns its offset (static). */
static const char *expect_e(ws_client *c, int n, size_t nbins) {
  static char off[32];
  char want[64];
  const ws_msg *m = ws_client_recv(c, T);
  const char *q;
  size_t i;
  ck_assert_ptr_nonnull(m);
  if (nbins)
    snprintf(want, sizeof(want), "45%zu-[\"e\",%d,", nbins, n);
  else
    snprintf(want, sizeof(want), "42[\"e\",%d,\"", n);
  ck_assert_msg(strncmp(m->data, want, strlen(want)) == 0, "want %s..., got %s",
                want, m->data);
  q = strrchr(m->data, ',');
  snprintf(off, sizeof(off), "%s", q + 2);
  off[strlen(off) - 2] = 0; /* "..."] */
  for (i = 0; i < nbins; i++) {
    size_t len = 1 + (size_t)(n + (int)i) % 8;
    m = ws_client_recv(c, T);
    ck_assert_ptr_nonnull(m);
    ck_assert_int_eq(m->binary, 1);
    ck_assert_uint_eq(m->len, len);
    ck_assert_int_eq((uint8_t)m->data[0], 0xde);
  }
  return off;
}

/* Nothing else is queued for c: the next message is a marker broadcast to
 * the user's room now. */
static void expect_only_mark(fixture *f, ws_client *c, const char *user) {
  char room[64];
  snprintf(room, sizeof(room), "user:%s", user);
  publish(f, room, 9999, 0);
  expect_e(c, 9999, 0);
}

static size_t nbins_of(int i) { return i % 5 == 0 ? 6 : (size_t)(i % 3); }

/* More than 16 missed packets, with inline and allocated attachment
 * arrays, replayed in order; then the same old pid and offset replayed
 * again and again (the report: ~18 reconnections with the same old
 * pid/offset corrupt the heap) get a fresh session each time: what they
 * would replay went out already. */
START_TEST(reconnect_replays_many_missed_then_old_offset_gets_nothing) {
  fixture f = {0};
  ws_client c[3];
  ws_client *cs[] = {&c[0], &c[1], &c[2]};
  session a, b, x;
  char off0[32];
  int i, round;
  fixture_start(&f);
  connect_as(&f, &c[0], "{\"user\":\"alice\"}", &a);
  join(&c[0], "r");
  publish(&f, "r", 0, 0);
  snprintf(off0, sizeof(off0), "%s", expect_e(&c[0], 0, 0));
  drop(&f, &c[0]);
  for (i = 1; i <= 40; i++)
    publish(&f, "r", i, nbins_of(i));
  {
    char auth[160];
    snprintf(auth, sizeof(auth),
             "{\"user\":\"alice\",\"pid\":\"%s\",\"offset\":\"%s\"}", a.pid,
             off0);
    connect_as(&f, &c[1], auth, &b);
    /* same id and pid (the stock client's socket.recovered needs it) */
    ck_assert_str_eq(b.sid, a.sid);
    ck_assert_str_eq(b.pid, a.pid);
    for (i = 1; i <= 40; i++)
      expect_e(&c[1], i, nbins_of(i));
    expect_only_mark(&f, &c[1], "alice");
    ck_assert_int_eq(sio_socket_recovered(last_sock(&f)), 1);
    ck_assert_int_eq(sio_socket_in_room(last_sock(&f), "r"), 1);
    drop(&f, &c[1]);
    for (round = 0; round < 20; round++) {
      ws_client *w = &c[2];
      connect_as(&f, w, auth, &x);
      ck_assert_str_ne(x.sid, a.sid);
      ck_assert_int_eq(sio_socket_recovered(last_sock(&f)), 0);
      ck_assert_int_eq(sio_socket_in_room(last_sock(&f), "r"), 0);
      expect_only_mark(&f, w, "alice");
      drop(&f, w);
      memset(w, 0, sizeof(*w));
      uv_run(&f.loop, UV_RUN_NOWAIT);
    }
  }
  fixture_stop(&f, cs, 0);
}
END_TEST

/* Another user presenting alice's pid and offset gets a fresh session:
 * not her id, not her rooms, none of her events. Alice still can. */
START_TEST(foreign_pid_gets_nothing) {
  fixture f = {0};
  ws_client c[3];
  ws_client *cs[] = {&c[1], &c[2]};
  session a, m, a2;
  char auth[160], off0[32];
  fixture_start(&f);
  connect_as(&f, &c[0], "{\"user\":\"alice\"}", &a);
  join(&c[0], "secret");
  publish(&f, NULL, 0, 0);
  snprintf(off0, sizeof(off0), "%s", expect_e(&c[0], 0, 0));
  drop(&f, &c[0]);
  publish(&f, "secret", 1, 0);
  publish(&f, "user:alice", 2, 1);
  snprintf(auth, sizeof(auth),
           "{\"user\":\"mallory\",\"pid\":\"%s\",\"offset\":\"%s\"}", a.pid,
           off0);
  connect_as(&f, &c[1], auth, &m);
  ck_assert_str_ne(m.sid, a.sid);
  ck_assert_int_eq(sio_socket_recovered(last_sock(&f)), 0);
  ck_assert_int_eq(sio_socket_in_room(last_sock(&f), "secret"), 0);
  ck_assert_int_eq(sio_socket_in_room(last_sock(&f), "user:alice"), 0);
  expect_only_mark(&f, &c[1], "mallory");
  /* the session was not spent by the attempt */
  snprintf(auth, sizeof(auth),
           "{\"user\":\"alice\",\"pid\":\"%s\",\"offset\":\"%s\"}", a.pid,
           off0);
  connect_as(&f, &c[2], auth, &a2);
  ck_assert_str_eq(a2.sid, a.sid);
  expect_e(&c[2], 1, 0);
  expect_e(&c[2], 2, 1);
  expect_only_mark(&f, &c[2], "alice");
  fixture_stop(&f, cs, 2);
}
END_TEST

/* The room rules apply before the replay: a room the filter refuses now
 * is not rejoined and its events are not replayed. */
START_TEST(filtered_room_not_restored_nor_replayed) {
  fixture f = {0};
  ws_client c[2];
  ws_client *cs[] = {&c[1]};
  session a, b;
  char auth[160], off0[32];
  fixture_start(&f);
  connect_as(&f, &c[0], "{\"user\":\"alice\"}", &a);
  join(&c[0], "p1");
  join(&c[0], "p2");
  publish(&f, NULL, 0, 0);
  snprintf(off0, sizeof(off0), "%s", expect_e(&c[0], 0, 0));
  drop(&f, &c[0]);
  publish(&f, "p2", 1, 0);
  publish(&f, "p1", 2, 0);
  publish(&f, "p2", 3, 2);
  f.deny = "p2";
  snprintf(auth, sizeof(auth),
           "{\"user\":\"alice\",\"pid\":\"%s\",\"offset\":\"%s\"}", a.pid,
           off0);
  connect_as(&f, &c[1], auth, &b);
  ck_assert_str_eq(b.sid, a.sid);
  expect_e(&c[1], 2, 0);
  expect_only_mark(&f, &c[1], "alice");
  ck_assert_int_eq(sio_socket_in_room(last_sock(&f), "p1"), 1);
  ck_assert_int_eq(sio_socket_in_room(last_sock(&f), "p2"), 0);
  fixture_stop(&f, cs, 1);
}
END_TEST

/* A missed set beyond the replay bound is not replayed: fresh session. */
START_TEST(missed_set_past_bound_gives_fresh_session) {
  fixture f = {0};
  ws_client c[2];
  ws_client *cs[] = {&c[1]};
  session a, b;
  char auth[160], off0[32];
  int i;
  f.max_buffered = 8192; /* replay bound: 4 KiB */
  fixture_start(&f);
  connect_as(&f, &c[0], "{\"user\":\"alice\"}", &a);
  publish(&f, NULL, 0, 0);
  snprintf(off0, sizeof(off0), "%s", expect_e(&c[0], 0, 0));
  drop(&f, &c[0]);
  for (i = 1; i <= 100; i++)
    publish(&f, NULL, i, 1); /* about 60 bytes each, 6 KB in all */
  snprintf(auth, sizeof(auth),
           "{\"user\":\"alice\",\"pid\":\"%s\",\"offset\":\"%s\"}", a.pid,
           off0);
  connect_as(&f, &c[1], auth, &b);
  ck_assert_str_ne(b.sid, a.sid);
  ck_assert_int_eq(sio_socket_recovered(last_sock(&f)), 0);
  expect_only_mark(&f, &c[1], "alice");
  fixture_stop(&f, cs, 1);
}
END_TEST

/* A namespace DISCONNECT ends the session on purpose: its pid resumes
 * nothing. An unknown offset resumes nothing either. */
START_TEST(deliberate_disconnect_and_bad_offset_resume_nothing) {
  fixture f = {0};
  ws_client c[3];
  ws_client *cs[] = {&c[0], &c[2]};
  session a, b, d;
  char auth[160], off0[32];
  int i;
  fixture_start(&f);
  connect_as(&f, &c[0], "{\"user\":\"alice\"}", &a);
  publish(&f, NULL, 0, 0);
  snprintf(off0, sizeof(off0), "%s", expect_e(&c[0], 0, 0));
  ck_assert_int_eq(ws_client_send_text(&c[0], "41"), 0);
  for (i = 0; i < 200 && f.disconnects < 1; i++)
    uv_run(&f.loop, UV_RUN_NOWAIT), uv_sleep(1);
  ck_assert_str_eq(f.reason, "client namespace disconnect");
  snprintf(auth, sizeof(auth),
           "{\"user\":\"alice\",\"pid\":\"%s\",\"offset\":\"%s\"}", a.pid,
           off0);
  connect_as(&f, &c[1], auth, &b);
  ck_assert_str_ne(b.sid, a.sid);
  expect_only_mark(&f, &c[1], "alice");
  /* b drops for real, but asks back with an offset never handed out */
  drop(&f, &c[1]);
  memset(&c[1], 0, sizeof(c[1]));
  snprintf(auth, sizeof(auth),
           "{\"user\":\"alice\",\"pid\":\"%s\",\"offset\":\"nope\"}", b.pid);
  connect_as(&f, &c[2], auth, &d);
  ck_assert_str_ne(d.sid, b.sid);
  expect_only_mark(&f, &c[2], "alice");
  fixture_stop(&f, cs, 2);
}
END_TEST

/* No CONNECT within connectTimeout: the server closes the session. */
START_TEST(connect_timeout_closes_session) {
  fixture f = {0};
  ws_client c;
  ws_client *cs[] = {&c};
  const ws_msg *m;
  f.connect_ms = 100;
  fixture_start(&f);
  ck_assert_int_eq(ws_client_open(&c, &f.loop, f.port, WS_PATH), 0);
  m = ws_client_recv(&c, T);
  ck_assert_ptr_nonnull(m);
  ck_assert_int_eq(m->data[0], '0');
  ck_assert_int_eq(ws_client_wait_closed(&c, T), 1);
  ck_assert_int_eq(f.disconnects, 0);
  fixture_stop(&f, cs, 1);
}
END_TEST

Suite *sio_client_suite(void) {
  Suite *s = suite_create("sio_client");
  TCase *tc = tcase_create("recovery");
  tcase_set_timeout(tc, 30);
  tcase_add_test(tc,
                 reconnect_replays_many_missed_then_old_offset_gets_nothing);
  tcase_add_test(tc, foreign_pid_gets_nothing);
  tcase_add_test(tc, filtered_room_not_restored_nor_replayed);
  tcase_add_test(tc, missed_set_past_bound_gives_fresh_session);
  tcase_add_test(tc, deliberate_disconnect_and_bad_offset_resume_nothing);
  tcase_add_test(tc, connect_timeout_closes_session);
  suite_add_tcase(s, tc);
  return s;
}
