/* Suite sio_group: two loops, each on a thread of its own with a server
 * of its own, joined into one group on one port (SO_REUSEPORT), driven by
 * blocking clients from the test's thread. What a client sees: sessions
 * on both loops, a broadcast from either loop reaching every client once,
 * a request for one loop's session answered through the other loop's
 * connection, the cluster calls merged over both loops, and a loop that
 * closed costing the others nothing. ThreadSanitizer runs this suite in
 * CI. */
#include <check.h>
#include <stdio.h>
#include <string.h>
#include <uv.h>

#include "check_suites.h"
#include "rawclient.h"
#include "sio/sio.h"

#define NLOOPS 2

typedef struct loopctx {
  uv_thread_t th;
  uv_loop_t loop;
  uv_sem_t ready;
  sio_group *g;
  sio_server *srv;
  unsigned index;
  int port; /* in: the port to share (0: pick one); out: the port */
  int rv;   /* setup result */
} loopctx;

static loopctx loops[NLOOPS];
static sio_group *group;
static int with_recovery; /* servers started with connection state recovery */
static uint32_t max_conns; /* sio_options_set_max_connections, 0: none */

/* ------------------------------------------------------ server handlers */

typedef struct pending_ack {
  sio_socket *s;
  int64_t ack_id;
} pending_ack;

static pending_ack *hold(sio_socket *s, int64_t ack_id) {
  pending_ack *p = malloc(sizeof(*p));
  sio_socket_ref(s);
  p->s = s;
  p->ack_id = ack_id;
  return p;
}

static void answer(pending_ack *p, json_object *v) {
  json_object *args = json_object_new_array();
  json_object_array_add(args, v);
  sio_socket_ack(p->s, p->ack_id, args, NULL, 0);
  json_object_put(args);
  sio_socket_unref(p->s);
  free(p);
}

static void on_count(sio_namespace *ns, int status, size_t count, void *ud) {
  (void)ns;
  answer(ud, json_object_new_int(status ? status : (int)count));
}

static void on_fetch(sio_namespace *ns, int status,
                     const sio_socket_info *sockets, size_t n, void *ud) {
  (void)ns, (void)sockets;
  answer(ud, json_object_new_int(status ? status : (int)n));
}

static void on_sse(sio_namespace *ns, int status, json_object *responses,
                   void *ud) {
  (void)ns;
  answer(ud, status ? json_object_new_int(status) : json_object_get(responses));
}

static void on_back(sio_namespace *ns, int status, json_object *responses,
                    const sio_bin *bins, size_t nbins, void *ud) {
  (void)ns, (void)bins, (void)nbins;
  answer(ud, status ? json_object_new_int(status)
                    : json_object_new_int((int)json_object_array_length(
                          responses)));
}

static int server_event(sio_namespace *ns, const char *event,
                        json_object *args, json_object **ack, void *ud) {
  loopctx *l = ud;
  (void)ns, (void)args;
  if (!ack || strcmp(event, "who"))
    return 0;
  *ack = json_object_new_int((int)l->index);
  return 1;
}

static void on_event(sio_socket *s, const char *event, json_object *args,
                     const sio_bin *bins, size_t nbins, int64_t ack_id,
                     void *ud) {
  sio_namespace *ns = sio_socket_namespace(s);
  (void)bins, (void)nbins, (void)ud;
  if (!strcmp(event, "all")) {
    sio_namespace_broadcast(ns, NULL, "news", args, NULL, 0);
  } else if (!strcmp(event, "toj")) {
    const char *room = "j";
    sio_broadcast_opts o = {&room, 1, NULL, 0, 0};
    sio_namespace_broadcast(ns, &o, "jnews", args, NULL, 0);
  } else if (!strcmp(event, "join")) {
    const char *room = "j";
    sio_namespace_sockets_join(ns, NULL, &room, 1);
    answer(hold(s, ack_id), json_object_new_int(0));
  } else if (!strcmp(event, "count")) {
    sio_namespace_server_count(ns, on_count, hold(s, ack_id));
  } else if (!strcmp(event, "fetch")) {
    sio_namespace_fetch_sockets(ns, NULL, on_fetch, hold(s, ack_id));
  } else if (!strcmp(event, "sse")) {
    sio_namespace_server_side_emit(ns, "who", NULL, on_sse, hold(s, ack_id));
  } else if (!strcmp(event, "back")) {
    sio_namespace_broadcast_ack(ns, NULL, "q", NULL, NULL, 0, 2000, on_back,
                                hold(s, ack_id));
  }
}

static void loop_main(void *ud) {
  loopctx *l = ud;
  sio_namespace_handlers h = {NULL, NULL, on_event, NULL};
  sio_namespace *ns;
  char addr[64];
  sio_options *opts = NULL;
  uv_loop_init(&l->loop);
  l->rv = sio_options_new(&opts);
  if (!l->rv && with_recovery)
    sio_options_set_recovery(opts, 1, 60000);
  if (!l->rv && max_conns)
    sio_options_set_max_connections(opts, max_conns);
  if (!l->rv)
    l->rv = sio_server_new(&l->srv, &l->loop, opts);
  sio_options_del(opts);
  if (!l->rv) {
    ns = sio_server_of(l->srv, "/");
    sio_namespace_set_handlers(ns, &h, l);
    sio_namespace_on_server_event(ns, server_event, l);
    l->rv = sio_server_use_loops(l->srv, l->g, l->index);
  }
  if (!l->rv) {
    snprintf(addr, sizeof(addr), "127.0.0.1:%d", l->port);
    l->rv = sio_server_listen(l->srv, addr);
  }
  if (!l->rv)
    l->port = sio_server_port(l->srv, 0);
  uv_sem_post(&l->ready);
  if (!l->rv)
    uv_run(&l->loop, UV_RUN_DEFAULT);
  else if (l->srv)
    sio_server_close(l->srv, NULL, NULL);
  uv_run(&l->loop, UV_RUN_DEFAULT);
  uv_loop_close(&l->loop);
}

static void start_loops(void) {
  unsigned i;
  ck_assert_int_eq(sio_group_new(&group, NLOOPS), 0);
  for (i = 0; i < NLOOPS; i++) {
    loopctx *l = &loops[i];
    memset(l, 0, sizeof(*l));
    l->g = group;
    l->index = i;
    l->port = i ? loops[0].port : 0;
    uv_sem_init(&l->ready, 0);
    ck_assert_int_eq(uv_thread_create(&l->th, loop_main, l), 0);
    uv_sem_wait(&l->ready);
    ck_assert_int_eq(l->rv, 0);
  }
  ck_assert_int_eq(loops[1].port, loops[0].port);
}

static void close_server(sio_server *s, void *ud) {
  (void)ud;
  if (s)
    sio_server_close(s, NULL, NULL);
}

static void stop_loop(unsigned i) {
  ck_assert_int_eq(sio_group_post(group, i, close_server, NULL), 0);
  uv_thread_join(&loops[i].th);
  uv_sem_destroy(&loops[i].ready);
}

static void stop_loops(void) {
  unsigned i;
  for (i = 0; i < NLOOPS; i++)
    stop_loop(i);
  sio_group_free(group);
  group = NULL;
}

/* ------------------------------------------------------------- clients */

typedef struct client {
  int fd;
  int loop; /* the loop its session lives on */
  char sid[32];
} client;

static int sid_loop(const char *sid) {
  char c = sid[0];
  return c >= 'A' && c <= 'Z' ? c - 'A' : -1;
}

/* A Socket.IO client over WebSocket, connected to "/". */
static void ws_connect(client *c, int port) {
  uint8_t buf[4096];
  size_t n;
  const char *p;
  c->fd = rc_ws_open(port, "/socket.io/?EIO=4&transport=websocket");
  ck_assert_int_ge(c->fd, 0);
  ck_assert_int_eq(rc_ws_recv(c->fd, buf, sizeof(buf) - 1, &n), 1);
  buf[n] = 0;
  p = strstr((char *)buf, "\"sid\":\"");
  ck_assert_ptr_nonnull(p);
  memcpy(c->sid, p + 7, 20);
  c->sid[20] = 0;
  c->loop = sid_loop(c->sid);
  ck_assert_int_eq(rc_ws_send(c->fd, 1, "40", 2), 0);
  ck_assert_int_eq(rc_ws_recv_skip_pings(c->fd, buf, sizeof(buf) - 1, &n, 1),
                   1);
  buf[n] = 0;
  ck_assert_msg(!strncmp((char *)buf, "40{", 3), "connect: %s", buf);
}

/* Connects clients until each loop has at least per_loop (at most 64). */
static size_t connect_spread(client *cs, size_t cap, int port, int per_loop) {
  int seen[NLOOPS] = {0};
  size_t n = 0;
  while (n < cap && (seen[0] < per_loop || seen[1] < per_loop)) {
    ws_connect(&cs[n], port);
    ck_assert_int_ge(cs[n].loop, 0);
    ck_assert_int_lt(cs[n].loop, NLOOPS);
    seen[cs[n].loop]++;
    n++;
  }
  ck_assert_msg(seen[0] >= per_loop && seen[1] >= per_loop,
                "the kernel gave %d and %d connections to the two loops",
                seen[0], seen[1]);
  return n;
}

static void expect_text(client *c, const char *want) {
  uint8_t buf[4096];
  size_t n;
  ck_assert_int_eq(rc_ws_recv_skip_pings(c->fd, buf, sizeof(buf) - 1, &n, 1),
                   1);
  buf[n] = 0;
  ck_assert_msg(!strcmp((char *)buf, want), "loop %d got %s, wanted %s",
                c->loop, buf, want);
}

static void close_all(client *cs, size_t n) {
  size_t i;
  for (i = 0; i < n; i++)
    rc_close(cs[i].fd);
}

/* ---------------------------------------------------------------- tests */

START_TEST(group_api_refusals) {
  sio_group *g;
  uv_loop_t loop;
  sio_server *s;
  ck_assert_int_eq(sio_group_new(&g, 0), SIO_ERR_INVAL);
  ck_assert_int_eq(sio_group_new(&g, 65), SIO_ERR_INVAL);
  ck_assert_int_eq(sio_group_new(NULL, 2), SIO_ERR_INVAL);
  ck_assert_int_eq(sio_group_new(&g, 2), 0);
  ck_assert_uint_eq(sio_group_size(g), 2);
  ck_assert_int_eq(sio_group_post(g, 1, close_server, NULL), SIO_ERR_CLOSED);
  ck_assert_int_eq(sio_group_post(g, 2, close_server, NULL), SIO_ERR_INVAL);
  uv_loop_init(&loop);
  ck_assert_int_eq(sio_server_new(&s, &loop, NULL), 0);
  ck_assert_int_eq(sio_group_join(g, 2, s), SIO_ERR_INVAL);
  ck_assert_int_eq(sio_group_join(g, 0, s), 0);
  ck_assert_int_eq(sio_group_join(g, 1, s), SIO_ERR_EXISTS); /* in one */
  sio_server_close(s, NULL, NULL);
  uv_run(&loop, UV_RUN_DEFAULT);
  /* a listening server cannot join: its listener is not shared */
  ck_assert_int_eq(sio_server_new(&s, &loop, NULL), 0);
  ck_assert_int_eq(sio_server_listen(s, "127.0.0.1:0"), 0);
  ck_assert_int_eq(sio_group_join(g, 0, s), SIO_ERR_STATE);
  sio_server_close(s, NULL, NULL);
  uv_run(&loop, UV_RUN_DEFAULT);
  ck_assert_int_eq(uv_loop_close(&loop), 0);
  sio_group_free(g);
  sio_group_free(NULL);
}
END_TEST

/* Connection state recovery across loops: a client that drops off one
 * loop and comes back on the other gets its id back and every event it
 * missed, once, in the order the others saw them, whichever loop made
 * them. */
static void recv_text(client *c, char *out, size_t cap) {
  size_t n;
  ck_assert_int_eq(
      rc_ws_recv_skip_pings(c->fd, (uint8_t *)out, cap - 1, &n, 1), 1);
  out[n] = 0;
}

/* The offset a recovery-numbered event ends with: ...,"<offset>"] */
static void offset_of(const char *msg, char *out, size_t cap) {
  const char *end = strrchr(msg, '"'), *start;
  ck_assert_ptr_nonnull(end);
  start = end - 1;
  while (start > msg && *start != '"')
    start--;
  ck_assert_uint_lt((size_t)(end - start), cap);
  memcpy(out, start + 1, (size_t)(end - start - 1));
  out[end - start - 1] = 0;
}

/* A WebSocket client whose CONNECT is connect_pkt, landing on loop `on`
 * (-1: any; others are tried until one does): the CONNECT reply in
 * reply. Returns 0, or -1 when 64 tries never reached that loop. */
static int ws_connect_on(client *c, int port, int on, const char *connect_pkt,
                         char *reply, size_t cap) {
  int tries;
  for (tries = 0; tries < 64; tries++) {
    char buf[512];
    const char *p;
    c->fd = rc_ws_open(port, "/socket.io/?EIO=4&transport=websocket");
    ck_assert_int_ge(c->fd, 0);
    recv_text(c, buf, sizeof(buf));
    p = strstr(buf, "\"sid\":\"");
    ck_assert_ptr_nonnull(p);
    memcpy(c->sid, p + 7, 20);
    c->sid[20] = 0;
    c->loop = sid_loop(c->sid);
    if (on >= 0 && c->loop != on) {
      rc_close(c->fd);
      continue;
    }
    ck_assert_int_eq(rc_ws_send(c->fd, 1, connect_pkt, strlen(connect_pkt)),
                     0);
    recv_text(c, reply, cap);
    return 0;
  }
  return -1;
}

/* The value of "key":"..." in text, copied into out. */
static void field_of(const char *text, const char *key, char *out,
                     size_t cap) {
  char pat[32];
  const char *p, *e;
  snprintf(pat, sizeof(pat), "\"%s\":\"", key);
  p = strstr(text, pat);
  ck_assert_msg(p != NULL, "no %s in %s", key, text);
  p += strlen(pat);
  e = strchr(p, '"');
  ck_assert_ptr_nonnull(e);
  ck_assert_uint_lt((size_t)(e - p), cap);
  memcpy(out, p, (size_t)(e - p));
  out[e - p] = 0;
}

START_TEST(group_recovery_on_another_loop) {
  client cs[64], v, again;
  client *s0 = NULL, *s1 = NULL;
  char reply[512], id[64], pid[64], off[32], got[512], seen[3][512];
  char resume[256];
  size_t n, i;
  int k;
  with_recovery = 1;
  start_loops();
  n = connect_spread(cs, 64, loops[0].port, 1);
  for (i = 0; i < n; i++) {
    if (cs[i].loop == 0 && !s0)
      s0 = &cs[i];
    if (cs[i].loop == 1 && !s1)
      s1 = &cs[i];
  }
  ck_assert_int_eq(ws_connect_on(&v, loops[0].port, -1, "40", reply,
                                 sizeof(reply)),
                   0);
  field_of(reply, "sid", id, sizeof(id));
  field_of(reply, "pid", pid, sizeof(pid));
  ck_assert_int_eq(rc_ws_send(s0->fd, 1, "42[\"all\",0]", 11), 0);
  recv_text(&v, got, sizeof(got));
  offset_of(got, off, sizeof(off));
  for (i = 0; i < n; i++)
    recv_text(&cs[i], got, sizeof(got));
  rc_close(v.fd); /* transport close: recoverable */
  /* three events from both loops while it is away */
  ck_assert_int_eq(rc_ws_send(s1->fd, 1, "42[\"all\",1]", 11), 0);
  ck_assert_int_eq(rc_ws_send(s0->fd, 1, "42[\"all\",2]", 11), 0);
  ck_assert_int_eq(rc_ws_send(s1->fd, 1, "42[\"all\",3]", 11), 0);
  for (k = 0; k < 3; k++)
    recv_text(s0, seen[k], sizeof(seen[k]));
  for (i = 0; i < n; i++)
    if (&cs[i] != s0)
      for (k = 0; k < 3; k++) {
        recv_text(&cs[i], got, sizeof(got));
        ck_assert_str_eq(got, seen[k]); /* one order on both loops */
      }
  /* back on the other loop */
  snprintf(resume, sizeof(resume), "40{\"pid\":\"%s\",\"offset\":\"%s\"}",
           pid, off);
  ck_assert_int_eq(ws_connect_on(&again, loops[0].port, 1 - v.loop, resume,
                                 reply, sizeof(reply)),
                   0);
  field_of(reply, "sid", got, sizeof(got));
  ck_assert_str_eq(got, id);
  field_of(reply, "pid", got, sizeof(got));
  ck_assert_str_eq(got, pid);
  for (k = 0; k < 3; k++) {
    recv_text(&again, got, sizeof(got));
    ck_assert_str_eq(got, seen[k]);
  }
  /* the same pid and offset again: spent, a fresh session */
  ck_assert_int_eq(ws_connect_on(&v, loops[0].port, -1, resume, reply,
                                 sizeof(reply)),
                   0);
  field_of(reply, "sid", got, sizeof(got));
  ck_assert_str_ne(got, id);
  rc_close(v.fd);
  rc_close(again.fd);
  close_all(cs, n);
  stop_loops();
  with_recovery = 0;
}
END_TEST

/* A broadcast made on either loop reaches every client of both, once. */
START_TEST(group_broadcast_reaches_every_loop) {
  client cs[64];
  size_t n, i;
  int from;
  start_loops();
  n = connect_spread(cs, 64, loops[0].port, 2);
  for (from = 0; from < NLOOPS; from++) {
    client *sender = NULL;
    for (i = 0; i < n && !sender; i++)
      if (cs[i].loop == from)
        sender = &cs[i];
    ck_assert_int_eq(
        rc_ws_send(sender->fd, 1, "42[\"all\",\"x\"]", 13), 0);
    for (i = 0; i < n; i++)
      expect_text(&cs[i], "42[\"news\",\"x\"]");
  }
  /* exactly once: the next thing each sees is the next broadcast */
  ck_assert_int_eq(rc_ws_send(cs[0].fd, 1, "42[\"all\",\"y\"]", 13), 0);
  for (i = 0; i < n; i++)
    expect_text(&cs[i], "42[\"news\",\"y\"]");
  close_all(cs, n);
  stop_loops();
}
END_TEST

/* A polling session of one loop, driven over a connection the other loop
 * accepted: the connection is handed to the owner, never "Session ID
 * unknown". */
START_TEST(group_polling_handed_to_owner) {
  rc_response r;
  char sid[32], u[160];
  int fd = -1, tries, owner;
  const char *p;
  start_loops();
  ck_assert_int_eq(rc_fetch(loops[0].port, "GET",
                            "/socket.io/?EIO=4&transport=polling", NULL, &r),
                   200);
  p = strstr(r.body, "\"sid\":\"");
  ck_assert_ptr_nonnull(p);
  memcpy(sid, p + 7, 20);
  sid[20] = 0;
  owner = sid_loop(sid);
  snprintf(u, sizeof(u), "/socket.io/?EIO=4&transport=polling&sid=%s", sid);
  /* a keep-alive connection of the other loop: its own handshake says so */
  for (tries = 0; tries < 64; tries++) {
    fd = rc_connect(loops[0].port);
    ck_assert_int_ge(fd, 0);
    ck_assert_int_eq(rc_request(fd, "GET",
                                "/socket.io/?EIO=4&transport=polling", NULL,
                                NULL, 0, &r),
                     200);
    p = strstr(r.body, "\"sid\":\"");
    ck_assert_ptr_nonnull(p);
    if (sid_loop(p + 7) != owner)
      break;
    rc_close(fd);
    fd = -1;
  }
  ck_assert_int_ge(fd, 0);
  ck_assert_int_eq(rc_request(fd, "POST", u, NULL, "40", 2, &r), 200);
  ck_assert_str_eq(r.body, "ok");
  ck_assert_int_eq(rc_request(fd, "GET", u, NULL, NULL, 0, &r), 200);
  ck_assert_msg(!strncmp(r.body, "40{\"sid\":", 9), "got %s", r.body);
  rc_close(fd);
  stop_loops();
}
END_TEST

/* Handshakes that all arrive over one keep-alive connection (a balancer's
 * upstream connection) still spread over both loops: a loop ahead of the
 * other by more than the margin hands the new session over. */
START_TEST(group_handshakes_over_one_connection_spread) {
  rc_response r;
  int fd, i, seen[NLOOPS] = {0};
  start_loops();
  fd = rc_connect(loops[0].port);
  ck_assert_int_ge(fd, 0);
  for (i = 0; i < 60; i++) {
    const char *p;
    ck_assert_int_eq(rc_request(fd, "GET",
                                "/socket.io/?EIO=4&transport=polling", NULL,
                                NULL, 0, &r),
                     200);
    p = strstr(r.body, "\"sid\":\"");
    ck_assert_ptr_nonnull(p);
    seen[sid_loop(p + 7)]++;
  }
  ck_assert_msg(seen[0] >= 20 && seen[1] >= 20,
                "60 sessions over one connection: %d and %d", seen[0],
                seen[1]);
  rc_close(fd);
  stop_loops();
}
END_TEST

/* max_connections is the process's: with 4 allowed, 4 connections are
 * open over both loops and the fifth is refused, wherever it lands; one
 * closing makes room again. */
START_TEST(group_max_connections_for_the_process) {
  int fds[4], extra, i;
  rc_response r;
  max_conns = 4;
  start_loops();
  for (i = 0; i < 4; i++) {
    fds[i] = rc_connect(loops[0].port);
    ck_assert_int_ge(fds[i], 0);
    ck_assert_int_eq(rc_request(fds[i], "GET",
                                "/socket.io/?EIO=4&transport=polling", NULL,
                                NULL, 0, &r),
                     200);
  }
  for (i = 0; i < 8; i++) { /* on either loop: refused */
    extra = rc_connect(loops[0].port);
    ck_assert_int_ge(extra, 0);
    ck_assert_int_eq(rc_wait_eof(extra, 2000), 1);
    rc_close(extra);
  }
  rc_close(fds[0]);
  for (i = 0; i < 50; i++) { /* the close reaches its loop */
    extra = rc_connect(loops[0].port);
    if (rc_request(extra, "GET", "/socket.io/?EIO=4&transport=polling", NULL,
                   NULL, 0, &r) == 200)
      break;
    rc_close(extra);
    extra = -1;
    uv_sleep(20);
  }
  ck_assert_int_ge(extra, 0);
  rc_close(extra);
  for (i = 1; i < 4; i++)
    rc_close(fds[i]);
  stop_loops();
  max_conns = 0;
}
END_TEST

static void ask(client *c, const char *ev, const char *want) {
  char msg[64], expect[128];
  snprintf(msg, sizeof(msg), "427[\"%s\"]", ev);
  ck_assert_int_eq(rc_ws_send(c->fd, 1, msg, strlen(msg)), 0);
  snprintf(expect, sizeof(expect), "437[%s]", want);
  expect_text(c, expect);
}

/* fetchSockets, serverCount, socketsJoin, serverSideEmit and broadcasts
 * with acknowledgements answered by both loops and merged. */
START_TEST(group_cluster_calls_merge) {
  client cs[64];
  char total[16], want[64];
  size_t n, i;
  client *a = NULL;
  start_loops();
  n = connect_spread(cs, 64, loops[0].port, 1);
  snprintf(total, sizeof(total), "%zu", n);
  for (i = 0; i < n && !a; i++)
    if (cs[i].loop == 1)
      a = &cs[i];
  ask(a, "count", "2");
  ask(a, "fetch", total);
  /* the other loop answers its server-side event with its index */
  snprintf(want, sizeof(want), "[%d]", 1 - a->loop);
  ask(a, "sse", want);
  ask(a, "join", "0");
  ck_assert_int_eq(rc_ws_send(a->fd, 1, "42[\"toj\",1]", 11), 0);
  for (i = 0; i < n; i++)
    expect_text(&cs[i], "42[\"jnews\",1]");
  /* every client of both loops is asked, and answers */
  ck_assert_int_eq(rc_ws_send(a->fd, 1, "429[\"back\"]", 11), 0);
  for (i = 0; i < n; i++) {
    uint8_t buf[256];
    size_t len;
    int id;
    ck_assert_int_eq(
        rc_ws_recv_skip_pings(cs[i].fd, buf, sizeof(buf) - 1, &len, 1), 1);
    buf[len] = 0;
    ck_assert_msg(sscanf((char *)buf, "42%d[\"q\"]", &id) == 1, "got %s", buf);
    snprintf(want, sizeof(want), "43%d[\"ok\"]", id);
    ck_assert_int_eq(rc_ws_send(cs[i].fd, 1, want, strlen(want)), 0);
  }
  snprintf(want, sizeof(want), "439[%s]", total);
  expect_text(a, want);
  close_all(cs, n);
  stop_loops();
}
END_TEST

/* One loop closed: the other's broadcasts and calls go on; a request for
 * a session of the closed loop fails cleanly. */
START_TEST(group_loop_closed_first) {
  client cs[64];
  size_t n, i;
  client *a = NULL;
  rc_response r;
  char u[160];
  start_loops();
  n = connect_spread(cs, 64, loops[0].port, 1);
  for (i = 0; i < n && !a; i++)
    if (cs[i].loop == 0)
      a = &cs[i];
  stop_loop(1);
  ck_assert_int_eq(rc_ws_send(a->fd, 1, "42[\"all\",2]", 11), 0);
  expect_text(a, "42[\"news\",2]");
  ask(a, "count", "1");
  /* loop 1's sessions are gone, and a sid naming it finds nobody */
  snprintf(u, sizeof(u), "/socket.io/?EIO=4&transport=polling&sid=B%s",
           "AAAAAAAAAAAAAAAAAAA");
  ck_assert_int_ne(rc_fetch(loops[0].port, "GET", u, NULL, &r), 200);
  close_all(cs, n);
  stop_loop(0);
  sio_group_free(group);
  group = NULL;
}
END_TEST

Suite *sio_group_suite(void) {
  Suite *s = suite_create("sio_group");
  TCase *tc = tcase_create("core");
  tcase_set_timeout(tc, 30);
  tcase_add_test(tc, group_api_refusals);
  tcase_add_test(tc, group_broadcast_reaches_every_loop);
  tcase_add_test(tc, group_polling_handed_to_owner);
  tcase_add_test(tc, group_handshakes_over_one_connection_spread);
  tcase_add_test(tc, group_cluster_calls_merge);
  tcase_add_test(tc, group_loop_closed_first);
  tcase_add_test(tc, group_recovery_on_another_loop);
  tcase_add_test(tc, group_max_connections_for_the_process);
  suite_add_tcase(s, tc);
  return s;
}
