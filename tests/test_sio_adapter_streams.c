/* test_sio_adapter_streams.c: the streams adapter (the streams mode of
 * sio_adapter_sharded.c over sio_adapter_streams.c) with two servers of
 * one process on a real redis-server, as two instances of a fleet: what
 * their WebSocket clients receive when one drops its transport on A and
 * resumes on B, when the session is another user's, when Redis is gone,
 * and after A handed its sessions over (a drain, or a crash after the
 * periodic copy). */
#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "check_suites.h"
#include "redis_proc.h"
#include "sio/sio.h"
#include "sio_steps.h"
#include "ws_client.h"

#define T 3000

typedef struct fx {
  uv_loop_t loop;
  redis_proc redis;
  char url[64];
  sio_server *s[2];
  int port[2];
  int recovered[2];
  int disconnects;
  char reason[64];
} fx;

static fx *F;

static void on_connection(sio_socket *s, void *ud) {
  int i = sio_socket_namespace(s) == sio_server_of(F->s[0], "/") ? 0 : 1;
  (void)ud;
  F->recovered[i] += sio_socket_recovered(s);
}

static void on_disconnect(sio_socket *s, const char *reason, void *ud) {
  (void)s;
  (void)ud;
  F->disconnects++;
  snprintf(F->reason, sizeof(F->reason), "%s", reason);
}

static int both_connected(fx *f) {
  return sio_server_redis_connected(f->s[0]) &&
         sio_server_redis_connected(f->s[1]);
}

static void start_with(fx *f, int recovery) {
  static const sio_namespace_handlers h = {steps_authorize_user, on_connection,
                                           steps_join_on_event, on_disconnect};
  int i;
  memset(f, 0, sizeof(*f));
  F = f;
  redis_init(&f->redis);
  redis_start(&f->redis, 0, NULL);
  snprintf(f->url, sizeof(f->url), "redis://127.0.0.1:%d", f->redis.port);
  ck_assert_int_eq(uv_loop_init(&f->loop), 0);
  for (i = 0; i < 2; i++) {
    sio_options *o;
    sio_redis_config rc;
    ck_assert_int_eq(sio_options_new(&o), 0);
    sio_options_set_ping(o, 20000, 20000);
    sio_options_set_recovery(o, recovery, 60000);
    ck_assert_int_eq(sio_server_new(&f->s[i], &f->loop, o), 0);
    sio_options_del(o);
    sio_namespace_set_handlers(sio_server_of(f->s[i], "/"), &h, f);
    memset(&rc, 0, sizeof(rc));
    rc.url = f->url;
    rc.adapter = SIO_REDIS_ADAPTER_STREAMS;
    rc.command_timeout_ms = 1000;
    rc.reconnect_max_ms = 200;
    ck_assert_int_eq(sio_server_use_redis_config(f->s[i], &rc), 0);
    ck_assert_int_eq(sio_server_listen(f->s[i], "127.0.0.1:0"), 0);
    f->port[i] = sio_server_port(f->s[i], 0);
  }
  for (i = 0; i < 300 && !both_connected(f); i++)
    steps_pump(&f->loop, 10);
  ck_assert(both_connected(f));
  steps_pump(&f->loop, 50); /* the readers found the stream's end */
}

static void start(fx *f) { start_with(f, 1); }

static void stop(fx *f, ws_client *cs, int n) {
  int k;
  sio_server_close(f->s[0], NULL, NULL);
  sio_server_close(f->s[1], NULL, NULL);
  for (k = 0; k < n; k++)
    ws_client_close(&cs[k]);
  uv_run(&f->loop, UV_RUN_DEFAULT);
  ck_assert_int_eq(uv_loop_close(&f->loop), 0);
  redis_cleanup(&f->redis);
  F = NULL;
}

static void connect_as(fx *f, ws_client *c, int i, const char *user,
                       steps_session *out) {
  char auth[64];
  snprintf(auth, sizeof(auth), "{\"user\":\"%s\"}", user);
  steps_connect_auth(c, &f->loop, f->port[i], auth, out);
}

static void join(ws_client *c, const char *room) {
  char pkt[96];
  snprintf(pkt, sizeof(pkt), "4210[\"join\",\"%s\"]", room);
  ck_assert_int_eq(ws_client_send_text(c, pkt), 0);
  ck_assert(ws_client_expect(c, "4310[]", T));
}

static void drop(fx *f, ws_client *c) {
  int want = f->disconnects + 1, i;
  ws_client_close(c);
  for (i = 0; i < 500 && f->disconnects < want; i++)
    steps_pump(&f->loop, 2);
  ck_assert_int_eq(f->disconnects, want);
  ck_assert_str_eq(f->reason, "transport close");
  steps_pump(&f->loop, 20); /* the session's SET */
}

static int publish(fx *f, int i, const char *room, int n) {
  sio_broadcast_opts o;
  json_object *args = json_object_new_array();
  int rv;
  memset(&o, 0, sizeof(o));
  o.rooms = room ? &room : NULL;
  o.nrooms = room ? 1 : 0;
  json_object_array_add(args, json_object_new_int(n));
  rv = sio_namespace_broadcast(sio_server_of(f->s[i], "/"), &o, "e", args, NULL,
                               0);
  json_object_put(args);
  return rv;
}

/* "<ms>-<seq>" of a Redis stream entry */
static void assert_stream_id(const char *id) {
  const char *d = strchr(id, '-');
  ck_assert_msg(d && d > id && d[1] &&
                    strspn(id, "0123456789") == (size_t)(d - id) &&
                    strspn(d + 1, "0123456789") == strlen(d + 1),
                "not a stream id: %s", id);
}

/* The next message of c is "e" [n, offset]: n and the offset. */
static int read_e(ws_client *c, char off[48]) {
  const ws_msg *m = ws_client_recv(c, T);
  const char *q;
  int n;
  ck_assert_ptr_nonnull(m);
  ck_assert_msg(sscanf(m->data, "42[\"e\",%d,\"", &n) == 1, "got %s", m->data);
  q = strchr(m->data + 6, '"');
  ck_assert_ptr_nonnull(q);
  snprintf(off, 48, "%.*s", (int)strcspn(q + 1, "\""), q + 1);
  assert_stream_id(off);
  return n;
}

/* Alice drops her transport on A while A and B publish 50 events to her
 * rooms (and others to a room she is not in); she resumes on B: same id,
 * recovered, the 50 once each, in the fleet's order (the stream's, which
 * Carol, connected to B all along, saw live) with the same offsets; then
 * live events again. */
START_TEST(resumes_on_another_instance_with_every_missed_event) {
  fx f;
  ws_client c[3];
  steps_session a, b, w;
  char off0[48], seen[51][48], off[48];
  int i, order[51], got[51];
  SKIP_WITHOUT_REDIS();
  start(&f);
  connect_as(&f, &c[0], 0, "alice", &a);
  join(&c[0], "room1");
  connect_as(&f, &c[2], 1, "carol", &w);
  join(&c[2], "room1");
  join(&c[2], "user:alice");
  ck_assert_int_eq(publish(&f, 1, NULL, 0), 0);
  snprintf(off0, sizeof(off0), "%s", steps_expect_e(&c[0], 0));
  assert_stream_id(off0);
  steps_expect_e(&c[2], 0);
  drop(&f, &c[0]);
  for (i = 1; i <= 50; i++) {
    ck_assert_int_eq(publish(&f, i % 2, i % 3 ? "room1" : "user:alice", i), 0);
    ck_assert_int_eq(publish(&f, i % 2, "room2", 1000 + i), 0);
  }
  memset(got, 0, sizeof(got));
  for (i = 1; i <= 50; i++) {
    order[i] = read_e(&c[2], seen[i]);
    ck_assert(order[i] >= 1 && order[i] <= 50 && !got[order[i]]);
    got[order[i]] = 1;
  }
  steps_resume(&c[1], &f.loop, f.port[1], "alice", &a, off0, &b);
  ck_assert_str_eq(b.sid, a.sid);
  ck_assert_str_eq(b.pid, a.pid);
  for (i = 1; i <= 50; i++) {
    ck_assert_int_eq(read_e(&c[1], off), order[i]);
    ck_assert_str_eq(off, seen[i]);
  }
  ck_assert_int_eq(f.recovered[1], 1);
  ck_assert_int_eq(publish(&f, 0, "room1", 51), 0);
  steps_expect_e(&c[1], 51);
  ck_assert_int_eq(publish(&f, 0, "user:alice", 52), 0);
  steps_expect_e(&c[1], 52);
  stop(&f, c, 3);
}
END_TEST

/* Events keep coming while B reads alice's session and what she missed:
 * the missed set ends where live delivery starts, so she gets 1..60 once
 * each, in the stream's order (Carol's on B), nothing twice. */
START_TEST(resume_while_events_keep_coming) {
  fx f;
  ws_client c[3];
  steps_session a, w;
  char off0[48], seen[61][48], off[48], pkt[192];
  const ws_msg *m;
  int i, order[61], got[61];
  SKIP_WITHOUT_REDIS();
  start(&f);
  connect_as(&f, &c[0], 0, "alice", &a);
  connect_as(&f, &c[2], 1, "carol", &w);
  join(&c[2], "user:alice");
  ck_assert_int_eq(publish(&f, 0, "user:alice", 0), 0);
  snprintf(off0, sizeof(off0), "%s", steps_expect_e(&c[0], 0));
  steps_expect_e(&c[2], 0);
  drop(&f, &c[0]);
  for (i = 1; i <= 20; i++)
    ck_assert_int_eq(publish(&f, i % 2, "user:alice", i), 0);
  ck_assert_int_eq(ws_client_open(&c[1], &f.loop, f.port[1], STEPS_WS_PATH), 0);
  ck_assert_ptr_nonnull(ws_client_recv(&c[1], T));
  snprintf(pkt, sizeof(pkt),
           "40{\"user\":\"alice\",\"pid\":\"%s\",\"offset\":\"%s\"}", a.pid,
           off0);
  ck_assert_int_eq(ws_client_send_text(&c[1], pkt), 0);
  for (i = 21; i <= 40; i++) {
    ck_assert_int_eq(publish(&f, i % 2, "user:alice", i), 0);
    uv_run(&f.loop, UV_RUN_NOWAIT); /* while B reads: its reader moves on */
  }
  m = ws_client_recv(&c[1], T);
  ck_assert_ptr_nonnull(m);
  ck_assert_msg(strstr(m->data, a.sid) != NULL, "resumed: %s", m->data);
  for (i = 41; i <= 60; i++)
    ck_assert_int_eq(publish(&f, i % 2, "user:alice", i), 0);
  memset(got, 0, sizeof(got));
  for (i = 1; i <= 60; i++) {
    order[i] = read_e(&c[2], seen[i]);
    ck_assert(order[i] >= 1 && order[i] <= 60 && !got[order[i]]);
    got[order[i]] = 1;
  }
  for (i = 1; i <= 60; i++) {
    ck_assert_int_eq(read_e(&c[1], off), order[i]);
    ck_assert_str_eq(off, seen[i]);
  }
  steps_expect_nothing(&c[1], 200);
  stop(&f, c, 3);
}
END_TEST

/* Mallory presenting alice's pid gets a fresh session and does not spend
 * hers; an offset the stream never had gets a fresh session. */
START_TEST(foreign_owner_or_unknown_offset_resume_nothing) {
  fx f;
  ws_client c[4];
  steps_session a, m, a2, a3;
  char off0[48];
  SKIP_WITHOUT_REDIS();
  start(&f);
  connect_as(&f, &c[0], 0, "alice", &a);
  join(&c[0], "secret");
  ck_assert_int_eq(publish(&f, 0, NULL, 0), 0);
  snprintf(off0, sizeof(off0), "%s", steps_expect_e(&c[0], 0));
  drop(&f, &c[0]);
  ck_assert_int_eq(publish(&f, 1, "secret", 1), 0);
  steps_resume(&c[1], &f.loop, f.port[1], "mallory", &a, off0, &m);
  ck_assert_str_ne(m.sid, a.sid);
  ck_assert_int_eq(f.recovered[1], 0);
  ck_assert_int_eq(publish(&f, 0, "user:mallory", 2), 0);
  steps_expect_e(&c[1], 2); /* not 1: nothing of alice's */
  steps_resume(&c[2], &f.loop, f.port[1], "alice", &a, off0, &a2);
  ck_assert_str_eq(a2.sid, a.sid);
  steps_expect_e(&c[2], 1);
  drop(&f, &c[2]);
  steps_resume(&c[3], &f.loop, f.port[0], "alice", &a, "1-0", &a3);
  ck_assert_str_ne(a3.sid, a.sid);
  ck_assert_int_eq(f.recovered[0], 0);
  stop(&f, c, 4);
}
END_TEST

/* Redis gone: a broadcast still reaches the sockets here, without an
 * offset; a resume gets a fresh session at once; once Redis is back,
 * broadcasts are numbered and cross instances again. */
START_TEST(redis_down_then_back) {
  fx f;
  ws_client c[3];
  steps_session a, b, a2;
  char off0[48];
  int i;
  SKIP_WITHOUT_REDIS();
  start(&f);
  connect_as(&f, &c[0], 0, "alice", &a);
  connect_as(&f, &c[1], 1, "bob", &b);
  ck_assert_int_eq(publish(&f, 0, NULL, 0), 0);
  snprintf(off0, sizeof(off0), "%s", steps_expect_e(&c[0], 0));
  steps_expect_e(&c[1], 0);
  redis_kill(&f.redis, SIGKILL);
  for (i = 0; i < 300 && sio_server_redis_connected(f.s[0]); i++)
    steps_pump(&f.loop, 10);
  ck_assert_int_eq(sio_server_redis_connected(f.s[0]), 0);
  ck_assert_int_ge(publish(&f, 0, NULL, 1), 0);
  ck_assert(ws_client_expect(&c[0], "42[\"e\",1]", T));
  steps_resume(&c[2], &f.loop, f.port[0], "alice", &a, off0, &a2);
  ck_assert_str_ne(a2.sid, a.sid);
  redis_start(&f.redis, 0, NULL);
  for (i = 0; i < 300 && !both_connected(&f); i++)
    steps_pump(&f.loop, 10);
  ck_assert(both_connected(&f));
  steps_pump(&f.loop, 300); /* the readers read again */
  ck_assert_int_eq(publish(&f, 0, "user:bob", 2), 0);
  steps_expect_e(&c[1], 2);
  stop(&f, c, 3);
}
END_TEST

/* A's sessions handed over while its sockets are still connected (a
 * drain starting, or the periodic copy before a crash): alice resumes on
 * B with the rooms she had, and the events since her last offset. */
START_TEST(handed_over_sessions_resume_elsewhere) {
  fx f;
  ws_client c[2];
  steps_session a, a2;
  char off1[48];
  SKIP_WITHOUT_REDIS();
  start(&f);
  connect_as(&f, &c[0], 0, "alice", &a);
  join(&c[0], "room1");
  ck_assert_int_eq(publish(&f, 1, "room1", 1), 0);
  snprintf(off1, sizeof(off1), "%s", steps_expect_e(&c[0], 1));
  ck_assert_uint_eq(sio_server_persist_sessions(f.s[0]), 1);
  ck_assert_int_eq(publish(&f, 1, "room1", 2), 0);
  steps_expect_e(&c[0], 2);
  steps_pump(&f.loop, 20);
  steps_resume(&c[1], &f.loop, f.port[1], "alice", &a, off1, &a2);
  ck_assert_str_eq(a2.sid, a.sid);
  steps_expect_e(&c[1], 2);
  ck_assert_int_eq(publish(&f, 0, "room1", 3), 0);
  steps_expect_e(&c[1], 3);
  steps_expect_e(&c[0], 3);
  stop(&f, c, 2);
}
END_TEST

/* Without recovery the mode is the reference's fleet: broadcasts cross
 * instances through the stream, without offsets, and reach A's own
 * sockets once. */
START_TEST(without_recovery_broadcasts_cross_once) {
  fx f;
  ws_client c[2];
  steps_session a, b;
  SKIP_WITHOUT_REDIS();
  start_with(&f, 0);
  ck_assert_int_eq(ws_client_open(&c[0], &f.loop, f.port[0], STEPS_WS_PATH), 0);
  ck_assert_ptr_nonnull(ws_client_recv(&c[0], T));
  ck_assert_int_eq(ws_client_send_text(&c[0], "40{\"user\":\"alice\"}"), 0);
  ck_assert_ptr_nonnull(ws_client_recv(&c[0], T));
  ck_assert_int_eq(ws_client_open(&c[1], &f.loop, f.port[1], STEPS_WS_PATH), 0);
  ck_assert_ptr_nonnull(ws_client_recv(&c[1], T));
  ck_assert_int_eq(ws_client_send_text(&c[1], "40{\"user\":\"bob\"}"), 0);
  ck_assert_ptr_nonnull(ws_client_recv(&c[1], T));
  (void)a;
  (void)b;
  ck_assert_int_eq(publish(&f, 0, NULL, 7), 1);
  ck_assert(ws_client_expect(&c[0], "42[\"e\",7]", T));
  ck_assert(ws_client_expect(&c[1], "42[\"e\",7]", T));
  ck_assert_int_eq(publish(&f, 1, "user:alice", 8), 0);
  ck_assert(ws_client_expect(&c[0], "42[\"e\",8]", T));
  steps_expect_nothing(&c[0], 200);
  stop(&f, c, 2);
}
END_TEST

Suite *sio_adapter_streams_suite(void) {
  Suite *s = suite_create("sio_adapter_streams");
  TCase *tc = tcase_create("core");
  tcase_set_timeout(tc, 60);
  tcase_add_test(tc, resumes_on_another_instance_with_every_missed_event);
  tcase_add_test(tc, resume_while_events_keep_coming);
  tcase_add_test(tc, foreign_owner_or_unknown_offset_resume_nothing);
  tcase_add_test(tc, redis_down_then_back);
  tcase_add_test(tc, handed_over_sessions_resume_elsewhere);
  tcase_add_test(tc, without_recovery_broadcasts_cross_once);
  suite_add_tcase(s, tc);
  return s;
}
