/* test_sio_restore.c: connection state recovery kept by the cluster
 * adapter (SIO_ADAPTER_RECOVERY; src/socketio/sio_restore.c and the
 * broadcast path's offsets), through "logbus", below: an adapter written
 * against the public headers only that keeps one numbered log of the
 * broadcasts of two servers on one loop and their sessions, the way the
 * streams adapter keeps them in Redis. Its answers come on later loop
 * turns, as Redis's would. What the tests check is what WebSocket clients
 * of both servers receive. */
#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "check_suites.h"
#include "sio/adapter.h"
#include "sio/sio.h"
#include "sio_steps.h"
#include "ws_client.h"

#define WS_PATH "/socket.io/?EIO=4&transport=websocket"
#define T 2000
#define MAXE 1200
#define MAXSESS 16
#define MAXR 8

/* ------------------------------------------------------------ the bus */

typedef struct entry {
  char offset[24];
  char *event;
  json_object *args;
  char *rooms[MAXR], *except[MAXR];
  size_t nrooms, nexcept;
} entry;

typedef struct lsession {
  char pid[32], sid[32], owner[32];
  char *rooms[MAXR];
  size_t nrooms;
  int live;
} lsession;

typedef struct logbus logbus;

struct member;
typedef struct rreq {
  uv_timer_t t;
  logbus *b;
  struct rreq *next;
  struct member *m;
  char pid[32], offset[32], owner[32];
  sio_adapter_restore_cb cb;
  void *ud;
} rreq;

typedef struct member {
  logbus *b;
  sio_server *srv;
  size_t cursor; /* the next entry to deliver here */
  int closed;
} member;

struct logbus {
  uv_loop_t *loop;
  uv_timer_t deliver;
  entry e[MAXE];
  size_t n;
  lsession sess[MAXSESS];
  member m[2];
  rreq *pending;
  int down; /* broadcasts refused (the log unreachable) */
  uint32_t restore_delay_ms;
  int persists, drops, restores;
};

static void deliver_all(uv_timer_t *t) {
  logbus *b = t->data;
  int i;
  for (i = 0; i < 2; i++) {
    member *m = &b->m[i];
    while (!m->closed && m->cursor < b->n) {
      entry *e = &b->e[m->cursor++];
      sio_broadcast_opts o;
      memset(&o, 0, sizeof(o));
      o.rooms = (const char *const *)e->rooms;
      o.nrooms = e->nrooms;
      o.except = (const char *const *)e->except;
      o.nexcept = e->nexcept;
      ck_assert_int_ge(sio_adapter_deliver(sio_server_of(m->srv, "/"), &o,
                                           e->event, e->args, NULL, 0,
                                           e->offset),
                       0);
    }
  }
}

static int lb_broadcast(void *ad, sio_namespace *ns,
                        const sio_broadcast_opts *o, const char *event,
                        json_object *args, const sio_bin *bins, size_t nbins) {
  member *m = ad;
  logbus *b = m->b;
  entry *e;
  size_t i;
  (void)ns;
  (void)bins;
  if (b->down || nbins || b->n == MAXE)
    return SIO_ERR_CLOSED;
  e = &b->e[b->n];
  memset(e, 0, sizeof(*e));
  snprintf(e->offset, sizeof(e->offset), "%zu-0", 1000 + b->n);
  e->event = strdup(event);
  e->args = json_object_get(args);
  for (i = 0; o && i < o->nrooms && i < MAXR; i++)
    e->rooms[e->nrooms++] = strdup(o->rooms[i]);
  for (i = 0; o && i < o->nexcept && i < MAXR; i++)
    e->except[e->nexcept++] = strdup(o->except[i]);
  b->n++;
  uv_timer_start(&b->deliver, deliver_all, 0, 0);
  return 0;
}

static lsession *find_session(logbus *b, const char *pid) {
  size_t i;
  for (i = 0; i < MAXSESS; i++)
    if (b->sess[i].live && strcmp(b->sess[i].pid, pid) == 0)
      return &b->sess[i];
  return NULL;
}

static void session_free(lsession *s) {
  size_t i;
  for (i = 0; i < s->nrooms; i++)
    free(s->rooms[i]);
  memset(s, 0, sizeof(*s));
}

static int lb_persist(void *ad, sio_namespace *ns,
                      const sio_adapter_session *sess, uint32_t ttl_ms) {
  member *m = ad;
  lsession *s = find_session(m->b, sess->pid);
  size_t i;
  (void)ns;
  ck_assert_uint_eq(ttl_ms, 60000);
  for (i = 0; !s && i < MAXSESS; i++)
    if (!m->b->sess[i].live)
      s = &m->b->sess[i];
  ck_assert_ptr_nonnull(s);
  session_free(s);
  s->live = 1;
  snprintf(s->pid, sizeof(s->pid), "%s", sess->pid);
  snprintf(s->sid, sizeof(s->sid), "%s", sess->sid);
  snprintf(s->owner, sizeof(s->owner), "%s", sess->owner ? sess->owner : "");
  for (i = 0; i < sess->nrooms && i < MAXR; i++)
    s->rooms[s->nrooms++] = strdup(sess->rooms[i]);
  m->b->persists++;
  return 0;
}

static int lb_drop(void *ad, sio_namespace *ns, const char *pid) {
  member *m = ad;
  lsession *s = find_session(m->b, pid);
  (void)ns;
  if (s)
    session_free(s);
  m->b->drops++;
  return 0;
}

static void rreq_closed(uv_handle_t *h) { free(h->data); }

static void rreq_unlink(rreq *q) {
  rreq **p;
  for (p = &q->b->pending; *p; p = &(*p)->next)
    if (*p == q) {
      *p = q->next;
      break;
    }
  uv_close((uv_handle_t *)&q->t, rreq_closed);
}

/* As the streams adapter: the session is taken (another owner's is left
 * alone), the offset must still be in the log, then every entry after it
 * is handed over with the rooms it was sent to. */
static void restore_fire(uv_timer_t *t) {
  rreq *q = t->data;
  logbus *b = q->b;
  lsession *s = find_session(b, q->pid);
  static sio_adapter_missed missed[MAXE];
  static sio_broadcast_opts opts[MAXE];
  sio_adapter_session sess;
  size_t i, at = b->n, n = 0;
  rreq_unlink(q);
  b->restores++;
  if (!s || strcmp(s->owner, q->owner) != 0) {
    q->cb(q->ud, SIO_ERR_NOTFOUND, NULL, NULL, 0);
    return;
  }
  for (i = 0; i < b->n; i++)
    if (strcmp(b->e[i].offset, q->offset) == 0)
      at = i;
  if (at == b->n) {
    session_free(s);
    q->cb(q->ud, SIO_ERR_NOTFOUND, NULL, NULL, 0);
    return;
  }
  for (i = at + 1; i < b->n; i++, n++) {
    entry *e = &b->e[i];
    memset(&opts[n], 0, sizeof(opts[n]));
    opts[n].rooms = (const char *const *)e->rooms;
    opts[n].nrooms = e->nrooms;
    opts[n].except = (const char *const *)e->except;
    opts[n].nexcept = e->nexcept;
    missed[n].offset = e->offset;
    missed[n].event = e->event;
    missed[n].args = e->args;
    missed[n].bins = NULL;
    missed[n].nbins = 0;
    missed[n].o = &opts[n];
  }
  sess.pid = s->pid;
  sess.sid = s->sid;
  sess.owner = s->owner[0] ? s->owner : NULL;
  sess.rooms = (const char *const *)s->rooms;
  sess.nrooms = s->nrooms;
  q->cb(q->ud, 0, &sess, missed, n);
  session_free(s);
}

static int lb_restore(void *ad, sio_namespace *ns, const char *pid,
                      const char *offset, const char *owner,
                      sio_adapter_restore_cb cb, void *ud) {
  member *m = ad;
  rreq *q = calloc(1, sizeof(*q));
  ck_assert_ptr_nonnull(q);
  (void)ns;
  q->b = m->b;
  q->m = m;
  snprintf(q->pid, sizeof(q->pid), "%s", pid);
  snprintf(q->offset, sizeof(q->offset), "%s", offset);
  snprintf(q->owner, sizeof(q->owner), "%s", owner ? owner : "");
  q->cb = cb;
  q->ud = ud;
  uv_timer_init(m->b->loop, &q->t);
  q->t.data = q;
  q->next = m->b->pending;
  m->b->pending = q;
  uv_timer_start(&q->t, restore_fire, m->b->restore_delay_ms, 0);
  return 0;
}

static void lb_close(void *ad, void (*done)(void *arg), void *arg) {
  member *m = ad;
  rreq **p = &m->b->pending;
  m->closed = 1;
  while (*p) {
    rreq *q = *p;
    if (q->m == m) {
      *p = q->next;
      uv_timer_stop(&q->t);
      q->cb(q->ud, SIO_ERR_CANCELED, NULL, NULL, 0);
      uv_close((uv_handle_t *)&q->t, rreq_closed);
    } else {
      p = &q->next;
    }
  }
  done(arg);
}

static const sio_adapter_ops logbus_ops = {
    .flags = SIO_ADAPTER_RECOVERY,
    .broadcast = lb_broadcast,
    .persist_session = lb_persist,
    .restore_session = lb_restore,
    .drop_session = lb_drop,
    .close = lb_close,
};

/* ------------------------------------------------------------ fixture */

typedef struct fx {
  uv_loop_t loop;
  logbus b;
  sio_server *s[2];
  int port[2];
  int connections[2];
  int recovered[2];
  int disconnects;
  char reason[64];
} fx;

static fx *F;

static int server_index(sio_socket *s) {
  return sio_socket_namespace(s) == sio_server_of(F->s[0], "/") ? 0 : 1;
}

static void on_connection(sio_socket *s, void *ud) {
  int i = server_index(s);
  (void)ud;
  F->connections[i]++;
  F->recovered[i] += sio_socket_recovered(s);
}

static void on_event(sio_socket *s, const char *event, json_object *args,
                     const sio_bin *bins, size_t nbins, int64_t ack_id,
                     void *ud) {
  if (strcmp(event, "echo") == 0)
    ck_assert_int_eq(sio_socket_emit(s, "echo", args, NULL, 0), 0);
  steps_join_on_event(s, event, args, bins, nbins, ack_id, ud);
}

static void on_disconnect(sio_socket *s, const char *reason, void *ud) {
  (void)s;
  (void)ud;
  F->disconnects++;
  snprintf(F->reason, sizeof(F->reason), "%s", reason);
}

static void start_with(fx *f, uint32_t persist_ms) {
  static const sio_namespace_handlers h = {steps_authorize_user, on_connection,
                                           on_event, on_disconnect};
  int i;
  memset(f, 0, sizeof(*f));
  F = f;
  ck_assert_int_eq(uv_loop_init(&f->loop), 0);
  f->b.loop = &f->loop;
  uv_timer_init(&f->loop, &f->b.deliver);
  f->b.deliver.data = &f->b;
  for (i = 0; i < 2; i++) {
    sio_options *o;
    ck_assert_int_eq(sio_options_new(&o), 0);
    sio_options_set_ping(o, 20000, 20000);
    sio_options_set_recovery(o, 1, 60000);
    sio_options_set_recovery_persist_interval(o, persist_ms);
    ck_assert_int_eq(sio_server_new(&f->s[i], &f->loop, o), 0);
    sio_options_del(o);
    sio_namespace_set_handlers(sio_server_of(f->s[i], "/"), &h, f);
    f->b.m[i].b = &f->b;
    f->b.m[i].srv = f->s[i];
    ck_assert_int_eq(sio_server_set_adapter(f->s[i], &logbus_ops, &f->b.m[i]),
                     0);
    ck_assert_int_eq(sio_server_listen(f->s[i], "127.0.0.1:0"), 0);
    f->port[i] = sio_server_port(f->s[i], 0);
  }
}

static void start(fx *f) { start_with(f, 0); }

static void stop(fx *f, ws_client *cs, int n) {
  size_t i;
  int k;
  sio_server_close(f->s[0], NULL, NULL);
  sio_server_close(f->s[1], NULL, NULL);
  for (k = 0; k < n; k++)
    ws_client_close(&cs[k]);
  uv_close((uv_handle_t *)&f->b.deliver, NULL);
  uv_run(&f->loop, UV_RUN_DEFAULT);
  ck_assert_ptr_null(f->b.pending);
  ck_assert_int_eq(uv_loop_close(&f->loop), 0);
  for (i = 0; i < f->b.n; i++) {
    size_t r;
    free(f->b.e[i].event);
    json_object_put(f->b.e[i].args);
    for (r = 0; r < f->b.e[i].nrooms; r++)
      free(f->b.e[i].rooms[r]);
    for (r = 0; r < f->b.e[i].nexcept; r++)
      free(f->b.e[i].except[r]);
  }
  for (i = 0; i < MAXSESS; i++)
    session_free(&f->b.sess[i]);
  F = NULL;
}

typedef steps_session session;

static void open_ws(fx *f, ws_client *c, int i) {
  const ws_msg *m;
  ck_assert_int_eq(ws_client_open(c, &f->loop, f->port[i], WS_PATH), 0);
  m = ws_client_recv(c, T);
  ck_assert_ptr_nonnull(m);
  ck_assert_msg(m->data[0] == '0', "open packet: %s", m->data);
}

static void connect_as(fx *f, ws_client *c, int i, const char *auth,
                       session *out) {
  steps_connect_auth(c, &f->loop, f->port[i], auth, out);
}

static void resume_as(fx *f, ws_client *c, int i, const char *user,
                      const session *old, const char *offset, session *out) {
  steps_resume(c, &f->loop, f->port[i], user, old, offset, out);
}

static void drop(fx *f, ws_client *c) {
  int want = f->disconnects + 1, i;
  ws_client_close(c);
  for (i = 0; i < 500 && f->disconnects < want; i++)
    uv_run(&f->loop, UV_RUN_NOWAIT), uv_sleep(1);
  ck_assert_int_eq(f->disconnects, want);
  ck_assert_str_eq(f->reason, "transport close");
}

static void join(ws_client *c, const char *room) {
  char pkt[96];
  snprintf(pkt, sizeof(pkt), "4210[\"join\",\"%s\"]", room);
  ck_assert_int_eq(ws_client_send_text(c, pkt), 0);
  ck_assert(ws_client_expect(c, "4310[]", T));
}

/* Server i broadcasts "e" [n] to room (NULL: all) except except (NULL:
 * none); it comes back from the log. */
static void publish(fx *f, int i, const char *room, const char *except, int n) {
  sio_broadcast_opts o;
  json_object *args = json_object_new_array();
  memset(&o, 0, sizeof(o));
  o.rooms = room ? &room : NULL;
  o.nrooms = room ? 1 : 0;
  o.except = except ? &except : NULL;
  o.nexcept = except ? 1 : 0;
  json_object_array_add(args, json_object_new_int(n));
  /* the count is the log's to know: nothing delivered yet */
  ck_assert_int_eq(sio_namespace_broadcast(sio_server_of(f->s[i], "/"), &o, "e",
                                           args, NULL, 0),
                   0);
  json_object_put(args);
}

static const char *expect_e(ws_client *c, int n) {
  return steps_expect_e(c, n);
}

static void expect_only_mark(fx *f, ws_client *c, const char *user) {
  char room[64];
  snprintf(room, sizeof(room), "user:%s", user);
  publish(f, 0, room, NULL, 9999);
  expect_e(c, 9999);
}

/* ------------------------------------------------------------- tests */

/* A client drops its transport on A; what B and A publish meanwhile to its
 * rooms is replayed on B, in the log's order, each once, with the log's
 * offsets; what its rooms did not select is not; its id, pid and rooms
 * come back and the socket says it recovered. */
START_TEST(recovers_on_another_instance) {
  fx f;
  ws_client c[2];
  session a, b;
  char off0[32], off1[32];
  start(&f);
  connect_as(&f, &c[0], 0, "{\"user\":\"alice\"}", &a);
  join(&c[0], "room1");
  publish(&f, 1, NULL, NULL, 0);
  snprintf(off0, sizeof(off0), "%s", expect_e(&c[0], 0));
  drop(&f, &c[0]);
  ck_assert_int_eq(f.b.persists, 1);
  publish(&f, 1, "room1", NULL, 1);
  publish(&f, 0, "other", NULL, 2);
  publish(&f, 1, NULL, "room1", 3);
  publish(&f, 0, "user:alice", NULL, 4);
  publish(&f, 1, "user:bob", NULL, 5);
  uv_run(&f.loop, UV_RUN_NOWAIT);
  resume_as(&f, &c[1], 1, "alice", &a, off0, &b);
  ck_assert_str_eq(b.sid, a.sid);
  ck_assert_str_eq(b.pid, a.pid);
  snprintf(off1, sizeof(off1), "%s", expect_e(&c[1], 1));
  ck_assert_str_ne(off1, off0);
  expect_e(&c[1], 4);
  ck_assert_int_eq(f.recovered[1], 1);
  /* its rooms are back: a broadcast to room1 reaches it */
  publish(&f, 0, "room1", NULL, 6);
  expect_e(&c[1], 6);
  expect_only_mark(&f, &c[1], "alice");
  stop(&f, c, 2);
}
END_TEST

/* Another user presenting alice's pid gets a fresh session, and the
 * attempt does not spend alice's. A stale offset (no longer in the log)
 * gets a fresh session too. */
START_TEST(foreign_owner_and_stale_offset_get_fresh) {
  fx f;
  ws_client c[4];
  session a, m, a2, a3;
  char off0[32];
  start(&f);
  connect_as(&f, &c[0], 0, "{\"user\":\"alice\"}", &a);
  join(&c[0], "secret");
  publish(&f, 0, NULL, NULL, 0);
  snprintf(off0, sizeof(off0), "%s", expect_e(&c[0], 0));
  drop(&f, &c[0]);
  publish(&f, 0, "secret", NULL, 1);
  resume_as(&f, &c[1], 1, "mallory", &a, off0, &m);
  ck_assert_str_ne(m.sid, a.sid);
  ck_assert_str_ne(m.pid, a.pid);
  ck_assert_int_eq(f.recovered[1], 0);
  expect_only_mark(&f, &c[1], "mallory");
  resume_as(&f, &c[2], 1, "alice", &a, off0, &a2);
  ck_assert_str_eq(a2.sid, a.sid);
  expect_e(&c[2], 1);
  expect_only_mark(&f, &c[2], "alice");
  drop(&f, &c[2]);
  resume_as(&f, &c[3], 0, "alice", &a, "999999-0", &a3);
  ck_assert_str_ne(a3.sid, a.sid);
  ck_assert_int_eq(f.recovered[0], 0);
  expect_only_mark(&f, &c[3], "alice");
  stop(&f, c, 4);
}
END_TEST

/* The client goes away while its session is being read: nothing is
 * accepted, nothing leaks, the late answer is dropped. A packet sent
 * before the CONNECT reply ends the session, as before any CONNECT. */
START_TEST(client_leaves_or_talks_while_restoring) {
  fx f;
  ws_client c[3];
  session a;
  char off0[32], pkt[192];
  start(&f);
  connect_as(&f, &c[0], 0, "{\"user\":\"alice\"}", &a);
  publish(&f, 0, NULL, NULL, 0);
  snprintf(off0, sizeof(off0), "%s", expect_e(&c[0], 0));
  drop(&f, &c[0]);
  f.b.restore_delay_ms = 150;
  open_ws(&f, &c[1], 1);
  snprintf(pkt, sizeof(pkt),
           "40{\"user\":\"alice\",\"pid\":\"%s\",\"offset\":\"%s\"}", a.pid,
           off0);
  ck_assert_int_eq(ws_client_send_text(&c[1], pkt), 0);
  ws_client_pump(&c[1], 20);
  ws_client_close(&c[1]);
  steps_pump(&f.loop, 300);
  ck_assert_int_eq(f.b.restores, 1);
  ck_assert_int_eq(f.connections[1], 0);
  ck_assert_int_eq(f.disconnects, 1);
  /* talking before the reply */
  open_ws(&f, &c[2], 1);
  ck_assert_int_eq(ws_client_send_text(&c[2], pkt), 0);
  ck_assert_int_eq(ws_client_send_text(&c[2], "42[\"echo\",1]"), 0);
  ck_assert(ws_client_wait_closed(&c[2], T));
  steps_pump(&f.loop, 300);
  ck_assert_int_eq(f.connections[1], 0);
  stop(&f, c, 3);
}
END_TEST

/* The log unreachable: a broadcast still reaches the sockets connected
 * now, without an offset (it cannot be recovered); sio_socket_emit goes
 * through the log as well. */
START_TEST(log_down_delivers_without_offset) {
  fx f;
  ws_client c[1];
  session a;
  const ws_msg *m;
  start(&f);
  connect_as(&f, &c[0], 0, "{\"user\":\"alice\"}", &a);
  ck_assert_int_eq(ws_client_send_text(&c[0], "42[\"echo\",7]"), 0);
  m = ws_client_recv(&c[0], T);
  ck_assert_ptr_nonnull(m);
  ck_assert_msg(strncmp(m->data, "42[\"echo\",7,\"", 13) == 0, "got %s",
                m->data);
  ck_assert_uint_eq(f.b.n, 1);
  f.b.down = 1;
  {
    json_object *args = json_object_new_array();
    json_object_array_add(args, json_object_new_int(8));
    ck_assert_int_eq(sio_namespace_broadcast(sio_server_of(f.s[0], "/"), NULL,
                                             "e", args, NULL, 0),
                     1);
    json_object_put(args);
  }
  ck_assert(ws_client_expect(&c[0], "42[\"e\",8]", T));
  ck_assert_int_eq(ws_client_send_text(&c[0], "42[\"echo\",9]"), 0);
  ck_assert(ws_client_expect(&c[0], "42[\"echo\",9]", T));
  ck_assert_uint_eq(f.b.n, 1);
  stop(&f, c, 1);
}
END_TEST

/* A deliberate disconnect drops the session; persist_sessions hands over
 * every connected one, so a client whose instance died resumes on the
 * other with the rooms it had. */
START_TEST(clean_leave_drops_and_persist_covers_a_crash) {
  fx f;
  ws_client c[3];
  session a, b, a2;
  char off0[32];
  start(&f);
  connect_as(&f, &c[0], 0, "{\"user\":\"alice\"}", &a);
  connect_as(&f, &c[1], 0, "{\"user\":\"bob\"}", &b);
  join(&c[0], "room1");
  ck_assert_int_eq(ws_client_send_text(&c[1], "41"), 0);
  ws_client_pump(&c[1], 100);
  ck_assert_int_eq(f.b.drops, 1);
  ck_assert_int_eq(f.b.persists, 0);
  publish(&f, 0, NULL, NULL, 0);
  snprintf(off0, sizeof(off0), "%s", expect_e(&c[0], 0));
  ck_assert_uint_eq(sio_server_persist_sessions(f.s[0]), 1);
  ck_assert_int_eq(f.b.persists, 1);
  publish(&f, 1, "room1", NULL, 1);
  expect_e(&c[0], 1);
  /* A "dies": its client resumes on B while A still holds the socket */
  resume_as(&f, &c[2], 1, "alice", &a, off0, &a2);
  ck_assert_str_eq(a2.sid, a.sid);
  expect_e(&c[2], 1);
  publish(&f, 0, "room1", NULL, 2);
  expect_e(&c[2], 2);
  expect_e(&c[0], 2);
  stop(&f, c, 3);
}
END_TEST

/* Sessions of connected sockets are copied to the adapter each interval
 * when new or changed, not otherwise: a client of an instance that was
 * killed resumes with the rooms it had one interval before. */
START_TEST(periodic_copies_of_changed_sessions) {
  fx f;
  ws_client c[3];
  session a, b, a2;
  char off0[32];
  start_with(&f, 50);
  connect_as(&f, &c[0], 0, "{\"user\":\"alice\"}", &a);
  connect_as(&f, &c[1], 0, "{\"user\":\"bob\"}", &b);
  steps_pump(&f.loop, 130);
  ck_assert_int_eq(f.b.persists, 2);
  steps_pump(&f.loop, 130);
  ck_assert_int_eq(f.b.persists, 2); /* nothing changed */
  join(&c[0], "room1");
  publish(&f, 0, NULL, NULL, 0);
  snprintf(off0, sizeof(off0), "%s", expect_e(&c[0], 0));
  expect_e(&c[1], 0);
  steps_pump(&f.loop, 130);
  ck_assert_int_eq(f.b.persists, 3);
  publish(&f, 1, "room1", NULL, 1);
  expect_e(&c[0], 1);
  resume_as(&f, &c[2], 1, "alice", &a, off0, &a2);
  ck_assert_str_eq(a2.sid, a.sid);
  expect_e(&c[2], 1);
  expect_only_mark(&f, &c[2], "alice");
  stop(&f, c, 3);
}
END_TEST

/* More missed events than one restore replays: a fresh session. */
START_TEST(too_many_missed_gives_fresh) {
  fx f;
  ws_client c[2];
  session a, b;
  char off0[32];
  int i;
  start(&f);
  connect_as(&f, &c[0], 0, "{\"user\":\"alice\"}", &a);
  publish(&f, 0, NULL, NULL, 0);
  snprintf(off0, sizeof(off0), "%s", expect_e(&c[0], 0));
  drop(&f, &c[0]);
  for (i = 1; i <= 1001; i++)
    publish(&f, 1, "user:alice", NULL, i);
  uv_run(&f.loop, UV_RUN_NOWAIT);
  resume_as(&f, &c[1], 1, "alice", &a, off0, &b);
  ck_assert_str_ne(b.sid, a.sid);
  ck_assert_int_eq(f.recovered[1], 0);
  expect_only_mark(&f, &c[1], "alice");
  stop(&f, c, 2);
}
END_TEST

START_TEST(recovery_adapter_needs_its_session_ops) {
  uv_loop_t loop;
  sio_server *s;
  sio_adapter_ops ops = logbus_ops;
  member m;
  memset(&m, 0, sizeof(m));
  ck_assert_int_eq(uv_loop_init(&loop), 0);
  ck_assert_int_eq(sio_server_new(&s, &loop, NULL), 0);
  ops.drop_session = NULL;
  ck_assert_int_eq(sio_server_set_adapter(s, &ops, &m), SIO_ERR_INVAL);
  ck_assert_int_eq(sio_server_has_adapter(s), 0);
  /* recovery off: the flag changes nothing, sessions are never asked */
  ck_assert_uint_eq(sio_server_persist_sessions(s), 0);
  sio_server_close(s, NULL, NULL);
  uv_run(&loop, UV_RUN_DEFAULT);
  ck_assert_int_eq(uv_loop_close(&loop), 0);
}
END_TEST

Suite *sio_restore_suite(void) {
  Suite *s = suite_create("sio_restore");
  TCase *tc = tcase_create("core");
  tcase_set_timeout(tc, 30);
  tcase_add_test(tc, recovers_on_another_instance);
  tcase_add_test(tc, foreign_owner_and_stale_offset_get_fresh);
  tcase_add_test(tc, client_leaves_or_talks_while_restoring);
  tcase_add_test(tc, log_down_delivers_without_offset);
  tcase_add_test(tc, clean_leave_drops_and_persist_covers_a_crash);
  tcase_add_test(tc, too_many_missed_gives_fresh);
  tcase_add_test(tc, periodic_copies_of_changed_sessions);
  tcase_add_test(tc, recovery_adapter_needs_its_session_ops);
  suite_add_tcase(s, tc);
  return s;
}
