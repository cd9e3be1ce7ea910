/* test_sio_replay.c: the room history and replays from the last event id
 * (sio_history.c behind sio_namespace_set_history, sio_replay.c behind
 * sio_socket_replay) over loopback: what a WebSocket client receives, in
 * which order, and what the callbacks see. */
#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "check_suites.h"
#include "sio/adapter.h"
#include "sio/sio.h"
#include "ws_client.h"

#define WS_PATH "/socket.io/?EIO=4&transport=websocket"
#define T 2000

/* An adapter that keeps the history for "the cluster" (a list here) and
 * answers reads only when the test says so, as Redis answers later. */
typedef struct kept_ev {
  char id[32];
  char rooms[4][16];
  size_t nrooms;
  char pkt[128];
  size_t len;
} kept_ev;

typedef struct test_cluster {
  kept_ev ev[64];
  size_t n, offers;
  sio_adapter_history_cb cb; /* the read waiting for an answer */
  void *cb_ud;
  char since[32];
  char rooms[4][16];
  size_t nrooms;
} test_cluster;

typedef struct fixture {
  test_cluster tc;
  int cluster; /* 1: the test_cluster adapter; 2: one without history
                 that receives rooms on demand */
  uv_loop_t loop;
  sio_server *srv;
  sio_namespace *ns;
  int port;
  int recovery;
  uint32_t max_events;
  sio_socket *sock; /* referenced */
  int found, done, disconnects;
  int status;
  size_t replayed;
  int complete;
  int emit_in_found;    /* FOUND emits "hello", DONE emits "bye" */
  int publish_in_found; /* FOUND broadcasts e-live to room a */
} fixture;

/* The event's id: its first argument's "id". */
static const char *id_of(const char *event, json_object *args, void *ud) {
  json_object *first, *id;
  (void)event;
  (void)ud;
  if (!args || json_object_array_length(args) < 1)
    return NULL;
  first = json_object_array_get_idx(args, 0);
  if (!json_object_object_get_ex(first, "id", &id))
    return NULL;
  return json_object_get_string(id);
}

static void on_connection(sio_socket *s, void *ud) {
  fixture *f = ud;
  sio_socket_ref(s);
  f->sock = s;
  sio_socket_join(s, "a");
  sio_socket_join(s, "b");
}

static void on_disconnect(sio_socket *s, const char *reason, void *ud) {
  fixture *f = ud;
  (void)s;
  (void)reason;
  f->disconnects++;
}

static void publish(fixture *f, const char *room, const char *id, int flags) {
  char text[128];
  json_object *args;
  sio_broadcast_opts o;
  memset(&o, 0, sizeof(o));
  o.rooms = &room;
  o.nrooms = room ? 1 : 0;
  o.flags = flags;
  snprintf(text, sizeof(text), "[{\"id\":\"%s\"}]", id);
  args = json_tokener_parse(text);
  ck_assert_int_ge(sio_namespace_broadcast(f->ns, &o, "ev", args, NULL, 0), 0);
  json_object_put(args);
}

static void on_replay(sio_socket *s, int stage, int status, size_t replayed,
                      int complete, void *ud) {
  fixture *f = ud;
  f->status = status;
  f->replayed = replayed;
  f->complete = complete;
  if (stage == SIO_REPLAY_FOUND) {
    /* DONE has not run yet */
    ck_assert_int_eq(f->done, f->found);
    f->found++;
    if (f->emit_in_found)
      ck_assert_int_eq(sio_socket_emit(s, "hello", NULL, NULL, 0), 0);
    if (f->publish_in_found)
      publish(f, "a", "e-live", 0);
  } else {
    if (status == SIO_ERR_CANCELED)
      ck_assert_int_eq(f->disconnects, 1); /* after on_disconnect */
    f->done++;
    if (f->emit_in_found)
      ck_assert_int_eq(sio_socket_emit(s, "bye", NULL, NULL, 0), 0);
  }
}

static int tc_broadcast(void *ad, sio_namespace *ns,
                        const sio_broadcast_opts *o, const char *event,
                        json_object *args, const sio_bin *bins, size_t nbins) {
  (void)ad, (void)ns, (void)o, (void)event, (void)args, (void)bins, (void)nbins;
  return 0;
}

static void tc_close(void *ad, void (*done)(void *arg), void *arg) {
  test_cluster *tc = ad;
  if (tc->cb) { /* the rules: pending callbacks fire, cancelled */
    sio_adapter_history_cb cb = tc->cb;
    tc->cb = NULL;
    cb(tc->cb_ud, SIO_ERR_CANCELED, NULL, 0, 0);
  }
  done(arg);
}

static int tc_append(void *ad, sio_namespace *ns, const char *id,
                     const char *const *rooms, size_t nrooms,
                     const uint8_t *pkt, size_t len, uint32_t max_events,
                     uint32_t max_age_ms) {
  test_cluster *tc = ad;
  kept_ev *e;
  size_t i;
  (void)ns;
  ck_assert_uint_eq(max_events, 1000); /* the defaults, resolved */
  ck_assert_uint_eq(max_age_ms, 300000);
  tc->offers++;
  for (i = 0; i < tc->n; i++)
    if (strcmp(tc->ev[i].id, id) == 0)
      return 0;
  ck_assert_uint_lt(tc->n, 64);
  e = &tc->ev[tc->n++];
  snprintf(e->id, sizeof(e->id), "%s", id);
  for (i = 0; i < nrooms && i < 4; i++)
    snprintf(e->rooms[i], sizeof(e->rooms[i]), "%s", rooms[i]);
  e->nrooms = i;
  ck_assert_uint_lt(len, sizeof(e->pkt));
  memcpy(e->pkt, pkt, len);
  e->len = len;
  return 0;
}

static int tc_read(void *ad, sio_namespace *ns, const char *const *rooms,
                   size_t nrooms, const char *since, uint32_t max_events,
                   uint32_t max_age_ms, sio_adapter_history_cb cb, void *ud) {
  test_cluster *tc = ad;
  size_t i;
  (void)ns, (void)max_events, (void)max_age_ms;
  ck_assert_ptr_null(tc->cb); /* one read at a time per socket */
  tc->cb = cb;
  tc->cb_ud = ud;
  snprintf(tc->since, sizeof(tc->since), "%s", since);
  for (i = 0; i < nrooms && i < 4; i++)
    snprintf(tc->rooms[i], sizeof(tc->rooms[i]), "%s", rooms[i]);
  tc->nrooms = i;
  return 0;
}

/* Answers the waiting read from the list (status 0) or with status. */
static void tc_answer(test_cluster *tc, int status) {
  sio_adapter_history_event out[64];
  sio_adapter_history_cb cb = tc->cb;
  size_t i, j, k, n = 0, from = tc->n;
  ck_assert_ptr_nonnull(cb);
  tc->cb = NULL;
  for (i = 0; i < tc->n; i++)
    if (strcmp(tc->ev[i].id, tc->since) == 0)
      from = i + 1;
  for (i = from; !status && i < tc->n; i++) {
    int in = 0;
    for (j = 0; j < tc->ev[i].nrooms; j++)
      for (k = 0; k < tc->nrooms; k++)
        in |= strcmp(tc->ev[i].rooms[j], tc->rooms[k]) == 0;
    if (in) {
      out[n].id = tc->ev[i].id;
      out[n].pkt = (const uint8_t *)tc->ev[i].pkt;
      out[n++].len = tc->ev[i].len;
    }
  }
  cb(tc->cb_ud, status, out, n, !status && from <= tc->n && from > 0);
}

static void fixture_start(fixture *f) {
  static const sio_namespace_handlers h = {NULL, on_connection, NULL,
                                           on_disconnect};
  sio_history_config hc = {0};
  sio_options *o;
  ck_assert_int_eq(uv_loop_init(&f->loop), 0);
  ck_assert_int_eq(sio_options_new(&o), 0);
  sio_options_set_ping(o, 20000, 20000);
  if (f->recovery)
    sio_options_set_recovery(o, 1, 60000);
  ck_assert_int_eq(sio_server_new(&f->srv, &f->loop, o), 0);
  sio_options_del(o);
  f->ns = sio_server_of(f->srv, "/");
  sio_namespace_set_handlers(f->ns, &h, f);
  hc.max_events = f->max_events;
  hc.id_of = id_of;
  ck_assert_int_eq(sio_namespace_set_history(f->ns, &hc), 0);
  ck_assert_int_eq(sio_namespace_set_history(f->ns, &hc), SIO_ERR_STATE);
  if (f->cluster) {
    sio_adapter_ops ops;
    memset(&ops, 0, sizeof(ops));
    ops.broadcast = tc_broadcast;
    ops.close = tc_close;
    if (f->cluster == 1) {
      ops.history_append = tc_append;
      ops.history_read = tc_read;
    } else {
      ops.flags = SIO_ADAPTER_ROOMS_ON_DEMAND;
    }
    ck_assert_int_eq(sio_server_set_adapter(f->srv, &ops, &f->tc), 0);
  }
  ck_assert_int_eq(sio_server_listen(f->srv, "127.0.0.1:0"), 0);
  f->port = sio_server_port(f->srv, 0);
}

static void fixture_stop(fixture *f, ws_client *c) {
  if (f->sock)
    sio_socket_unref(f->sock);
  sio_server_close(f->srv, NULL, NULL);
  if (c)
    ws_client_close(c);
  uv_run(&f->loop, UV_RUN_DEFAULT);
  ck_assert_int_eq(uv_loop_close(&f->loop), 0);
}

static void connect_root(fixture *f, ws_client *c) {
  const ws_msg *m;
  ck_assert_int_eq(ws_client_open(c, &f->loop, f->port, WS_PATH), 0);
  m = ws_client_recv(c, T);
  ck_assert_ptr_nonnull(m);
  ck_assert_int_eq(ws_client_send_text(c, "40"), 0);
  m = ws_client_recv(c, T);
  ck_assert_ptr_nonnull(m);
  ck_assert_int_eq(m->data[0], '4');
  ck_assert_ptr_nonnull(f->sock);
}

static void expect_ev(ws_client *c, const char *id) {
  char want[64];
  snprintf(want, sizeof(want), "42[\"ev\",{\"id\":\"%s\"}]", id);
  ck_assert_msg(ws_client_expect(c, want, T), "wanted %s", want);
}

static void replay(fixture *f, const char *r1, const char *r2,
                   const char *since) {
  const char *rooms[2] = {r1, r2};
  ck_assert_int_eq(
      sio_socket_replay(f->sock, rooms, r2 ? 2 : 1, since, on_replay, f), 0);
}

static void wait_done(fixture *f, int n) {
  int i;
  for (i = 0; i < 2000 && f->done < n; i++)
    uv_run(&f->loop, UV_RUN_NOWAIT), uv_sleep(1);
  ck_assert_int_eq(f->done, n);
}

/* Events of the socket's rooms after the id come in order, each once,
 * between what FOUND and DONE emit; another room's events do not; what is
 * published while the replay waits comes once, after, in order. */
START_TEST(replays_in_order_between_found_and_done_then_held) {
  fixture f = {0};
  ws_client c;
  f.emit_in_found = 1;
  fixture_start(&f);
  connect_root(&f, &c);
  publish(&f, "a", "e1", 0);
  publish(&f, "b", "e2", 0);
  publish(&f, "z", "e3", 0); /* not the socket's */
  publish(&f, "a", "e4", 0);
  expect_ev(&c, "e1");
  expect_ev(&c, "e2");
  expect_ev(&c, "e4");
  replay(&f, "a", "b", "e1");
  /* while it waits: an event both kept and held, and a broadcast to every
   * socket that is not kept (no room) but held */
  publish(&f, "b", "e5", 0);
  publish(&f, NULL, "e6", 0);
  ck_assert_int_eq(f.found, 0); /* never from inside the call */
  ck_assert(ws_client_expect(&c, "42[\"hello\"]", T));
  expect_ev(&c, "e2");
  expect_ev(&c, "e4");
  expect_ev(&c, "e5");
  ck_assert(ws_client_expect(&c, "42[\"bye\"]", T));
  expect_ev(&c, "e6"); /* held, not replayed; e5 not again */
  wait_done(&f, 1);
  ck_assert_int_eq(f.status, 0);
  ck_assert_uint_eq(f.replayed, 3);
  ck_assert_int_eq(f.complete, 1);
  /* and the socket is live again */
  publish(&f, "a", "e7", 0);
  expect_ev(&c, "e7");
  ws_client_pump(&c, 50);
  ck_assert_ptr_null(ws_client_recv(&c, 0));
  fixture_stop(&f, &c);
}
END_TEST

/* An id the history does not know: nothing replayed, incomplete. So is an
 * id the room's count bound dropped. */
START_TEST(unknown_or_dropped_id_is_incomplete) {
  fixture f = {0};
  ws_client c;
  f.max_events = 2;
  fixture_start(&f);
  connect_root(&f, &c);
  replay(&f, "a", NULL, "never-seen");
  wait_done(&f, 1);
  ck_assert_int_eq(f.complete, 0);
  ck_assert_uint_eq(f.replayed, 0);
  publish(&f, "a", "e1", 0);
  publish(&f, "a", "e2", 0);
  publish(&f, "a", "e3", 0);
  expect_ev(&c, "e1");
  expect_ev(&c, "e2");
  expect_ev(&c, "e3");
  replay(&f, "a", NULL, "e1"); /* e1 went with the bound */
  wait_done(&f, 2);
  ck_assert_int_eq(f.complete, 0);
  replay(&f, "a", NULL, "e2");
  wait_done(&f, 3);
  ck_assert_int_eq(f.complete, 1);
  ck_assert_uint_eq(f.replayed, 1);
  expect_ev(&c, "e3");
  fixture_stop(&f, &c);
}
END_TEST

/* A broadcast published from inside FOUND goes out at once, before the
 * replayed events (it is what the application emits there), and is not
 * replayed again. */
START_TEST(broadcast_from_found_is_not_held) {
  fixture f = {0};
  ws_client c;
  f.publish_in_found = 1;
  fixture_start(&f);
  connect_root(&f, &c);
  publish(&f, "a", "e1", 0);
  publish(&f, "a", "e2", 0);
  expect_ev(&c, "e1");
  expect_ev(&c, "e2");
  replay(&f, "a", NULL, "e1");
  expect_ev(&c, "e-live");
  expect_ev(&c, "e2");
  wait_done(&f, 1);
  ws_client_pump(&c, 50);
  ck_assert_ptr_null(ws_client_recv(&c, 0));
  fixture_stop(&f, &c);
}
END_TEST

/* Replays of one socket run one after the other, held packets wait for
 * the last; a ninth waiting one is refused; bad calls are refused. */
START_TEST(queued_replays_and_refusals) {
  fixture f = {0};
  ws_client c;
  const char *room = "a";
  int i;
  fixture_start(&f);
  connect_root(&f, &c);
  publish(&f, "a", "e1", 0);
  publish(&f, "b", "e2", 0);
  expect_ev(&c, "e1");
  expect_ev(&c, "e2");
  replay(&f, "b", NULL, "e1"); /* e2 */
  replay(&f, "a", NULL, "e1"); /* nothing after e1 in a */
  publish(&f, "a", "e3", 0);   /* held, and in a by the time the second
                                  runs: it comes once, replayed */
  for (i = 2; i < 8; i++)
    replay(&f, "z", NULL, "e1");
  ck_assert_int_eq(sio_socket_replay(f.sock, &room, 1, "e1", on_replay, &f),
                   SIO_ERR_LIMIT);
  ck_assert_int_eq(sio_socket_replay(f.sock, &room, 1, NULL, on_replay, &f),
                   SIO_ERR_INVAL);
  ck_assert_int_eq(sio_socket_replay(f.sock, &room, 1, "e1", NULL, &f),
                   SIO_ERR_INVAL);
  expect_ev(&c, "e2");
  expect_ev(&c, "e3");
  wait_done(&f, 8);
  ws_client_pump(&c, 50);
  ck_assert_ptr_null(ws_client_recv(&c, 0));
  fixture_stop(&f, &c);
}
END_TEST

/* The client goes while its replay waits: DONE says cancelled, after
 * on_disconnect, nothing leaks (ASan), the server closes cleanly. */
START_TEST(disconnect_cancels_without_callbacks) {
  fixture f = {0};
  ws_client c;
  int i;
  fixture_start(&f);
  connect_root(&f, &c);
  publish(&f, "a", "e1", 0);
  publish(&f, "a", "e2", 0);
  replay(&f, "a", NULL, "e1");
  publish(&f, "a", "e3", 0); /* held */
  sio_socket_disconnect(f.sock, 1);
  for (i = 0; i < 200 && !f.disconnects; i++)
    uv_run(&f.loop, UV_RUN_NOWAIT), uv_sleep(1);
  ck_assert_int_eq(f.disconnects, 1);
  ws_client_pump(&c, 50);
  ck_assert_int_eq(f.found, 0);
  ck_assert_int_eq(f.done, 1);
  ck_assert_int_eq(f.status, SIO_ERR_CANCELED);
  ck_assert_int_eq(sio_socket_replay(f.sock, NULL, 0, "e1", on_replay, &f),
                   SIO_ERR_CLOSED);
  fixture_stop(&f, &c);
}
END_TEST

/* More arrives while a replay waits than the hold may keep: the client is
 * closed (it reconnects with its last id), counted, never given a gap. */
START_TEST(hold_overflow_closes_the_client) {
  fixture f = {0};
  ws_client c;
  sio_stats st;
  char id[16];
  int i;
  fixture_start(&f);
  connect_root(&f, &c);
  replay(&f, "a", NULL, "e0");
  for (i = 0; i < 1100; i++) {
    snprintf(id, sizeof(id), "x%d", i);
    publish(&f, "a", id, 0);
  }
  for (i = 0; i < 2000 && !f.disconnects; i++)
    uv_run(&f.loop, UV_RUN_NOWAIT), uv_sleep(1);
  ck_assert_int_eq(f.disconnects, 1);
  ck_assert_int_eq(f.found, 0);
  ck_assert_int_eq(f.done, 1);
  ck_assert_int_eq(f.status, SIO_ERR_CANCELED);
  sio_server_stats(f.srv, &st);
  ck_assert_uint_eq(st.replay_overflows, 1);
  ck_assert(ws_client_wait_closed(&c, T));
  fixture_stop(&f, &c);
}
END_TEST

/* Volatile broadcasts are dropped while held; the history keeps neither
 * them nor events without an id nor, with recovery on, the socket's own
 * emits; history events carry no recovery offset. */
START_TEST(what_is_kept) {
  fixture f = {0};
  ws_client c;
  size_t events = 9, bytes = 9;
  json_object *args;
  const ws_msg *m;
  f.recovery = 1;
  fixture_start(&f);
  connect_root(&f, &c);
  publish(&f, "a", "e1", 0);
  publish(&f, "a", "v1", SIO_BCAST_VOLATILE);
  args = json_tokener_parse("[{\"id\":\"self\"}]");
  ck_assert_int_eq(sio_socket_emit(f.sock, "ev", args, NULL, 0), 0);
  json_object_put(args);
  args = json_tokener_parse("[{\"no\":\"id\"}]");
  ck_assert_int_ge(sio_namespace_broadcast(f.ns, NULL, "ev", args, NULL, 0), 0);
  json_object_put(args);
  publish(&f, "a", "e2", 0);
  sio_namespace_history_stats(f.ns, &events, &bytes);
  ck_assert_uint_eq(events, 2);
  ck_assert_uint_gt(bytes, 0);
  for (;;) { /* drain the live copies (with offsets) */
    m = ws_client_recv(&c, 200);
    if (!m)
      break;
  }
  replay(&f, "a", NULL, "e1");
  publish(&f, "a", "v2", SIO_BCAST_VOLATILE);
  expect_ev(&c, "e2"); /* the history's copy: no offset after it */
  wait_done(&f, 1);
  ck_assert_uint_eq(f.replayed, 1);
  ws_client_pump(&c, 50);
  ck_assert_ptr_null(ws_client_recv(&c, 0));
  fixture_stop(&f, &c);
}
END_TEST

static void pump_until_read(fixture *f) {
  int i;
  for (i = 0; i < 2000 && !f->tc.cb; i++)
    uv_run(&f->loop, UV_RUN_NOWAIT), uv_sleep(1);
  ck_assert_ptr_nonnull(f->tc.cb);
}

/* An adapter that keeps the history for the cluster gets every event with
 * an id (its text packet, offered by each delivery) instead of the local
 * store; a replay waits for its read, holding what arrives meanwhile, and
 * sends each event once, in order. */
START_TEST(cluster_history_read_later_in_order_once) {
  fixture f = {0};
  ws_client c;
  size_t events = 9;
  f.cluster = 1;
  f.emit_in_found = 1;
  fixture_start(&f);
  connect_root(&f, &c);
  publish(&f, "a", "e1", 0);
  publish(&f, "b", "e2", 0);
  publish(&f, "z", "e3", 0);
  expect_ev(&c, "e1");
  expect_ev(&c, "e2");
  ck_assert_uint_eq(f.tc.n, 3);
  ck_assert_str_eq(f.tc.ev[1].pkt, "42[\"ev\",{\"id\":\"e2\"}]");
  ck_assert_str_eq(f.tc.ev[1].rooms[0], "b");
  sio_namespace_history_stats(f.ns, &events, NULL);
  ck_assert_uint_eq(events, 0); /* nothing kept here */
  replay(&f, "a", "b", "e1");
  pump_until_read(&f);
  ck_assert_str_eq(f.tc.since, "e1");
  ck_assert_uint_eq(f.tc.nrooms, 2);
  publish(&f, "a", "e4", 0);  /* held, and in the answer: once */
  publish(&f, NULL, "e5", 0); /* held, no room: not in the answer */
  ws_client_pump(&c, 50);
  ck_assert_ptr_null(ws_client_recv(&c, 0)); /* all held */
  ck_assert_int_eq(f.found, 0);
  tc_answer(&f.tc, 0);
  ck_assert(ws_client_expect(&c, "42[\"hello\"]", T));
  expect_ev(&c, "e2");
  expect_ev(&c, "e4");
  ck_assert(ws_client_expect(&c, "42[\"bye\"]", T));
  expect_ev(&c, "e5");
  wait_done(&f, 1);
  ck_assert_uint_eq(f.replayed, 2);
  ck_assert_int_eq(f.complete, 1);
  publish(&f, "a", "e6", 0);
  expect_ev(&c, "e6");
  ws_client_pump(&c, 50);
  ck_assert_ptr_null(ws_client_recv(&c, 0));
  fixture_stop(&f, &c);
}
END_TEST

/* The cluster's read fails: FOUND and DONE say so (nothing replayed,
 * incomplete: the client refetches), and what was held follows. */
START_TEST(cluster_history_read_error) {
  fixture f = {0};
  ws_client c;
  f.cluster = 1;
  fixture_start(&f);
  connect_root(&f, &c);
  publish(&f, "a", "e1", 0);
  expect_ev(&c, "e1");
  replay(&f, "a", NULL, "e1");
  pump_until_read(&f);
  publish(&f, "a", "e2", 0);
  tc_answer(&f.tc, SIO_ERR_IO);
  wait_done(&f, 1);
  ck_assert_int_eq(f.status, SIO_ERR_IO);
  ck_assert_int_eq(f.complete, 0);
  ck_assert_uint_eq(f.replayed, 0);
  expect_ev(&c, "e2");
  fixture_stop(&f, &c);
}
END_TEST

/* The client goes while the cluster's read is out: DONE says cancelled
 * once; the late answer finds nothing to serve (ASan: no use after free);
 * events with attachments are never offered to the cluster. */
START_TEST(cluster_history_late_answer_and_binaries) {
  fixture f = {0};
  ws_client c;
  sio_bin bin = {(const uint8_t *)"xyz", 3};
  const char *room = "a";
  sio_broadcast_opts o;
  json_object *args;
  int i;
  f.cluster = 1;
  fixture_start(&f);
  connect_root(&f, &c);
  memset(&o, 0, sizeof(o));
  o.rooms = &room;
  o.nrooms = 1;
  args = json_tokener_parse("[{\"id\":\"bin1\"},{\"_placeholder\":true,"
                            "\"num\":0}]");
  ck_assert_int_ge(sio_namespace_broadcast(f.ns, &o, "ev", args, &bin, 1), 0);
  json_object_put(args);
  ck_assert_uint_eq(f.tc.offers, 0);
  publish(&f, "a", "e1", 0);
  ck_assert_uint_eq(f.tc.offers, 1);
  replay(&f, "a", NULL, "e1");
  pump_until_read(&f);
  sio_socket_disconnect(f.sock, 1);
  for (i = 0; i < 200 && !f.disconnects; i++)
    uv_run(&f.loop, UV_RUN_NOWAIT), uv_sleep(1);
  ck_assert_int_eq(f.done, 1);
  ck_assert_int_eq(f.status, SIO_ERR_CANCELED);
  tc_answer(&f.tc, 0);
  ck_assert_int_eq(f.done, 1);
  ck_assert_int_eq(f.found, 0);
  fixture_stop(&f, &c);
}
END_TEST

/* An adapter that receives rooms only while they have members here: the
 * local history replays what it has but never calls it complete. */
START_TEST(rooms_on_demand_never_complete) {
  fixture f = {0};
  ws_client c;
  f.cluster = 2;
  fixture_start(&f);
  connect_root(&f, &c);
  publish(&f, "a", "e1", 0);
  publish(&f, "a", "e2", 0);
  expect_ev(&c, "e1");
  expect_ev(&c, "e2");
  replay(&f, "a", NULL, "e1");
  expect_ev(&c, "e2");
  wait_done(&f, 1);
  ck_assert_uint_eq(f.replayed, 1);
  ck_assert_int_eq(f.complete, 0);
  fixture_stop(&f, &c);
}
END_TEST

START_TEST(no_history_is_refused) {
  uv_loop_t loop;
  sio_server *srv;
  size_t ev = 1;
  ck_assert_int_eq(uv_loop_init(&loop), 0);
  ck_assert_int_eq(sio_server_new(&srv, &loop, NULL), 0);
  sio_namespace_history_stats(sio_server_of(srv, "/"), &ev, NULL);
  ck_assert_uint_eq(ev, 0);
  ck_assert_int_eq(sio_namespace_set_history(sio_server_of(srv, "/"), NULL),
                   SIO_ERR_INVAL);
  sio_server_close(srv, NULL, NULL);
  uv_run(&loop, UV_RUN_DEFAULT);
  ck_assert_int_eq(uv_loop_close(&loop), 0);
}
END_TEST

Suite *sio_replay_suite(void) {
  Suite *s = suite_create("sio_replay");
  TCase *tc = tcase_create("replay");
  tcase_set_timeout(tc, 20);
  tcase_add_test(tc, replays_in_order_between_found_and_done_then_held);
  tcase_add_test(tc, unknown_or_dropped_id_is_incomplete);
  tcase_add_test(tc, broadcast_from_found_is_not_held);
  tcase_add_test(tc, queued_replays_and_refusals);
  tcase_add_test(tc, disconnect_cancels_without_callbacks);
  tcase_add_test(tc, hold_overflow_closes_the_client);
  tcase_add_test(tc, what_is_kept);
  tcase_add_test(tc, no_history_is_refused);
  tcase_add_test(tc, cluster_history_read_later_in_order_once);
  tcase_add_test(tc, cluster_history_read_error);
  tcase_add_test(tc, rooms_on_demand_never_complete);
  tcase_add_test(tc, cluster_history_late_answer_and_binaries);
  suite_add_tcase(s, tc);
  return s;
}
