/* test_sio_cluster.c: the cluster dispatch (src/socketio/sio_cluster.c)
 * and the incoming half of <sio/adapter.h>, through an adapter written the
 * way an embedder would: "twin", below, includes nothing of libsio but its
 * public headers and joins two servers of one process, answering each
 * call of one with the other's incoming-half functions. What the tests
 * check is what the clients of both servers receive and what the public
 * calls report. */
#include <check.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "check_suites.h"
#include "sio/adapter.h"
#include "sio/sio.h"
#include "sio_steps.h"
#include "ws_client.h"

/* ------------------------------------------------------ the twin adapter */

typedef struct twin twin;

/* A link in one of the adapter's lists of things in flight. */
typedef struct node {
  struct node *next;
} node;

static void node_push(node **head, node *n) {
  n->next = *head;
  *head = n;
}

static void node_remove(node **head, node *n) {
  for (; *head; head = &(*head)->next)
    if (*head == n) {
      *head = n->next;
      return;
    }
}

/* One deferred answer: callbacks never fire inside the adapter call. */
typedef struct op {
  uv_timer_t timer;
  twin *t;
  node link;
  int kind;
  sio_namespace *ns;
  sio_broadcast_opts o;
  const char *rooms[4]; /* copies of o's rooms */
  char *event;
  json_object *args;
  void *cb;
  void *ud;
} op;

/* A broadcast with acknowledgements served by the peer. */
typedef struct back {
  node link; /* first: a node is its back */
  twin *t;
  const sio_adapter_ack_sink *sink;
  void *ud;
  size_t asked;   /* recipients on the peer */
  size_t pending; /* their answers still to come */
  int refs;       /* the peer's ack callbacks, plus the adapter's own */
  int counted;    /* sink->count called */
  int done;       /* sink->done called */
} back;

struct twin {
  sio_server *self;
  sio_server *peer;
  uv_loop_t *loop;
  node *ops;   /* op.link */
  node *backs; /* back.link */
  int handles; /* op timers not yet closed */
  int closing;
  void (*done)(void *arg);
  void *done_arg;
  int joined, left, disconnected;
};

enum { OP_FETCH, OP_ROOMS, OP_COUNT, OP_SSE, OP_NOBODY };

static sio_namespace *peer_ns(twin *t, sio_namespace *ns) {
  if (t->closing || !t->peer || sio_server_closing(t->peer))
    return NULL;
  return sio_server_of(t->peer, sio_namespace_name(ns));
}

static void op_closed(uv_handle_t *h) {
  op *o = (op *)h;
  twin *t = o->t;
  free(o->event);
  json_object_put(o->args);
  free(o);
  if (--t->handles == 0 && t->closing && t->done)
    t->done(t->done_arg);
}

static op *op_of(node *n) {
  return (op *)(void *)((char *)n - offsetof(op, link));
}

static void fetch_answer(op *o, int status) {
  sio_namespace *pns = status ? NULL : peer_ns(o->t, o->ns);
  json_object *arr =
      pns ? sio_adapter_local_sockets(pns, &o->o, NULL, NULL) : NULL;
  size_t n = arr ? json_object_array_length(arr) : 0, i, k = 0;
  sio_socket_info *infos = calloc(n ? n : 1, sizeof(*infos));
  const char ***rooms = calloc(n ? n : 1, sizeof(*rooms));
  for (i = 0; i < n; i++)
    if (sio_adapter_info_from_json(json_object_array_get_idx(arr, i), &infos[k],
                                   &rooms[k]) == 0)
      k++;
  ((sio_fetch_cb)o->cb)(o->ns, status, infos, k, o->ud);
  for (i = 0; i < k; i++)
    sio_adapter_free_rooms(rooms[i]);
  free(rooms);
  free(infos);
  json_object_put(arr);
}

static void rooms_answer(op *o, int status) {
  sio_namespace *pns = status ? NULL : peer_ns(o->t, o->ns);
  json_object *arr = pns ? sio_adapter_local_rooms(pns) : NULL;
  size_t n = arr ? json_object_array_length(arr) : 0, i;
  const char **v = calloc(n ? n : 1, sizeof(*v));
  for (i = 0; i < n; i++)
    v[i] = json_object_get_string(json_object_array_get_idx(arr, i));
  ((sio_rooms_cb)o->cb)(o->ns, status, v, n, o->ud);
  free(v);
  json_object_put(arr);
}

static void sse_answer(op *o, int status) {
  sio_namespace *pns = status ? NULL : peer_ns(o->t, o->ns);
  json_object *data = json_object_new_array(), *ack = NULL;
  json_object *responses = json_object_new_array();
  size_t i, n = o->args ? json_object_array_length(o->args) : 0;
  json_object_array_add(data, json_object_new_string(o->event));
  for (i = 0; i < n; i++)
    json_object_array_add(
        data, json_object_get(json_object_array_get_idx(o->args, i)));
  if (pns && sio_adapter_server_event(pns, data, o->cb != NULL, &ack))
    json_object_array_add(responses, ack);
  if (o->cb)
    ((sio_server_ack_cb)o->cb)(o->ns, status, responses, o->ud);
  json_object_put(responses);
  json_object_put(data);
}

static void back_finish(struct back *b);

static void op_fire(op *o, int status) {
  switch (o->kind) {
  case OP_NOBODY: /* a broadcast with acks nobody on the peer was asked */
    back_finish(o->ud);
    break;
  case OP_FETCH:
    fetch_answer(o, status);
    break;
  case OP_ROOMS:
    rooms_answer(o, status);
    break;
  case OP_COUNT:
    ((sio_count_cb)o->cb)(o->ns, status, status ? 0 : 2, o->ud);
    break;
  case OP_SSE:
    sse_answer(o, status);
    break;
  }
}

static void op_due(uv_timer_t *h) {
  op *o = (op *)h;
  node_remove(&o->t->ops, &o->link);
  op_fire(o, 0);
  uv_close((uv_handle_t *)&o->timer, op_closed);
}

static int op_start(twin *t, int kind, sio_namespace *ns,
                    const sio_broadcast_opts *bo, void *cb, void *ud) {
  op *o;
  size_t i;
  if (t->closing)
    return SIO_ERR_CLOSED;
  o = calloc(1, sizeof(*o));
  if (!o)
    return SIO_ERR_NOMEM;
  o->t = t;
  o->kind = kind;
  o->ns = ns;
  o->cb = cb;
  o->ud = ud;
  if (bo) {
    ck_assert_uint_le(bo->nrooms, 4);
    for (i = 0; i < bo->nrooms; i++)
      o->rooms[i] = bo->rooms[i]; /* string literals in these tests */
    o->o.rooms = o->rooms;
    o->o.nrooms = bo->nrooms;
  }
  uv_timer_init(t->loop, &o->timer);
  uv_timer_start(&o->timer, op_due, 0, 0);
  t->handles++;
  node_push(&t->ops, &o->link);
  return 0;
}

static int tw_broadcast(void *ad, sio_namespace *ns,
                        const sio_broadcast_opts *o, const char *event,
                        json_object *args, const sio_bin *bins, size_t nbins) {
  sio_namespace *pns = peer_ns(ad, ns);
  sio_broadcast_opts local = {NULL, 0, NULL, 0, SIO_BCAST_LOCAL};
  if (!pns)
    return SIO_ERR_CLOSED;
  if (o) {
    local = *o;
    local.flags |= SIO_BCAST_LOCAL;
  }
  return sio_namespace_broadcast(pns, &local, event, args, bins, nbins) < 0
             ? SIO_ERR_NOMEM
             : 0;
}

static void back_put(back *b) {
  if (--b->refs > 0)
    return;
  node_remove(&b->t->backs, &b->link);
  free(b);
}

static void back_finish(struct back *b) {
  if (!b->counted) {
    b->counted = 1;
    b->sink->count(b->ud, b->asked);
  }
  if (!b->done && b->pending == 0) {
    b->done = 1;
    b->sink->done(b->ud);
  }
}

static void back_ack(sio_socket *s, int status, json_object *args,
                     const sio_bin *bins, size_t nbins, void *ud) {
  back *b = ud;
  (void)s;
  if (!b->done) {
    if (!b->counted) {
      b->counted = 1;
      b->sink->count(b->ud, b->asked);
    }
    if (status == 0)
      b->sink->response(b->ud, json_object_array_get_idx(args, 0), bins, nbins);
    b->pending--;
    back_finish(b);
  }
  back_put(b);
}

static int tw_broadcast_ack(void *ad, sio_namespace *ns,
                            const sio_broadcast_opts *o, const char *event,
                            json_object *args, const sio_bin *bins,
                            size_t nbins, uint32_t timeout_ms,
                            const sio_adapter_ack_sink *sink, void *ud) {
  twin *t = ad;
  sio_namespace *pns = peer_ns(t, ns);
  back *b;
  int n, rv;
  if (!pns)
    return SIO_ERR_CLOSED;
  b = calloc(1, sizeof(*b));
  if (!b)
    return SIO_ERR_NOMEM;
  b->t = t;
  b->sink = sink;
  b->ud = ud;
  b->refs = 1;
  node_push(&t->backs, &b->link);
  n = sio_adapter_broadcast_local_ack(pns, o, event, args, bins, nbins,
                                      timeout_ms, back_ack, b);
  if (n < 0) {
    back_put(b);
    return n;
  }
  b->asked = b->pending = (size_t)n;
  b->refs += n;
  /* nobody asked: the count (0) and done come on the next turn */
  if (n == 0 && (rv = op_start(t, OP_NOBODY, ns, NULL, NULL, b)) != 0) {
    back_put(b); /* the sink is never called: the call failed */
    return rv;
  }
  return 0;
}

static int tw_rooms(void *ad, sio_namespace *ns, const sio_broadcast_opts *o,
                    const char *const *rooms, size_t nrooms, int leave) {
  sio_namespace *pns = peer_ns(ad, ns);
  return pns && sio_adapter_apply_rooms(pns, o, rooms, nrooms, leave) >= 0
             ? 0
             : SIO_ERR_CLOSED;
}

static int tw_join(void *ad, sio_namespace *ns, const sio_broadcast_opts *o,
                   const char *const *rooms, size_t nrooms) {
  return tw_rooms(ad, ns, o, rooms, nrooms, 0);
}

static int tw_leave(void *ad, sio_namespace *ns, const sio_broadcast_opts *o,
                    const char *const *rooms, size_t nrooms) {
  return tw_rooms(ad, ns, o, rooms, nrooms, 1);
}

static int tw_disconnect(void *ad, sio_namespace *ns,
                         const sio_broadcast_opts *o, int close_transport) {
  sio_namespace *pns = peer_ns(ad, ns);
  return pns && sio_adapter_apply_disconnect(pns, o, close_transport) >= 0
             ? 0
             : SIO_ERR_CLOSED;
}

static int tw_fetch(void *ad, sio_namespace *ns, const sio_broadcast_opts *o,
                    sio_fetch_cb cb, void *ud) {
  return op_start(ad, OP_FETCH, ns, o, (void *)cb, ud);
}

static int tw_all_rooms(void *ad, sio_namespace *ns, sio_rooms_cb cb,
                        void *ud) {
  return op_start(ad, OP_ROOMS, ns, NULL, (void *)cb, ud);
}

static int tw_count(void *ad, sio_namespace *ns, sio_count_cb cb, void *ud) {
  return op_start(ad, OP_COUNT, ns, NULL, (void *)cb, ud);
}

static int tw_sse(void *ad, sio_namespace *ns, const char *event,
                  json_object *args, sio_server_ack_cb cb, void *ud) {
  twin *t = ad;
  int rv = op_start(t, OP_SSE, ns, NULL, (void *)cb, ud);
  if (rv)
    return rv;
  op_of(t->ops)->event = strdup(event);
  op_of(t->ops)->args = args ? json_object_get(args) : NULL;
  return 0;
}

static void tw_joined(void *ad, sio_socket *s, const char *room) {
  (void)s;
  (void)room;
  ((twin *)ad)->joined++;
}

static void tw_left(void *ad, sio_socket *s, const char *room) {
  (void)s;
  (void)room;
  ((twin *)ad)->left++;
}

static void tw_disconnected(void *ad, sio_socket *s) {
  (void)s;
  ((twin *)ad)->disconnected++;
}

static void tw_stats(void *ad, sio_adapter_stats *out) {
  out->connected = !((twin *)ad)->closing;
}

static void tw_close(void *ad, void (*done)(void *arg), void *arg) {
  twin *t = ad;
  t->closing = 1;
  t->done = done;
  t->done_arg = arg;
  while (t->ops) {
    op *o = op_of(t->ops);
    t->ops = o->link.next;
    uv_timer_stop(&o->timer);
    op_fire(o, SIO_ERR_CANCELED);
    uv_close((uv_handle_t *)&o->timer, op_closed);
  }
  while (t->backs) {
    back *b = (back *)t->backs;
    t->backs = b->link.next; /* the peer's acks may still hold it */
    b->pending = 0;
    back_finish(b);
    back_put(b); /* the adapter's own reference */
  }
  if (t->handles == 0 && done)
    done(arg);
}

static const sio_adapter_ops twin_ops = {
    .broadcast = tw_broadcast,
    .broadcast_ack = tw_broadcast_ack,
    .sockets_join = tw_join,
    .sockets_leave = tw_leave,
    .disconnect_sockets = tw_disconnect,
    .fetch_sockets = tw_fetch,
    .all_rooms = tw_all_rooms,
    .server_count = tw_count,
    .server_side_emit = tw_sse,
    .joined = tw_joined,
    .left = tw_left,
    .disconnected = tw_disconnected,
    .stats = tw_stats,
    .close = tw_close,
};

/* ------------------------------------------------------------- fixture */

typedef struct srv {
  sio_server *s;
  twin tw;
  int port;
  steps_sockets kept;
  int server_events;
  char last_server_args[128];
} srv;

typedef struct fx {
  uv_loop_t loop;
  srv s[2];
  int closed;
  steps_result r; /* what the calls answered */
} fx;

static fx *F;

static const char *text_of(json_object *v) {
  return v ? json_object_to_json_string_ext(
                 v, JSON_C_TO_STRING_PLAIN | JSON_C_TO_STRING_NOSLASHESCAPE)
           : "null";
}

static srv *srv_of(sio_socket *s) {
  return sio_socket_server(s) == F->s[0].s ? &F->s[0] : &F->s[1];
}

static void on_connection(sio_socket *s, void *ud) {
  (void)ud;
  steps_keep(&srv_of(s)->kept, s);
}

static void on_event(sio_socket *s, const char *event, json_object *args,
                     const sio_bin *bins, size_t nbins, int64_t ack_id,
                     void *ud) {
  (void)event;
  (void)bins;
  (void)nbins;
  (void)ud;
  if (ack_id >= 0)
    sio_socket_ack(s, ack_id, args, NULL, 0);
}

static int on_server_event(sio_namespace *ns, const char *event,
                           json_object *args, json_object **ack, void *ud) {
  srv *v = ud;
  (void)ns;
  v->server_events++;
  snprintf(v->last_server_args, sizeof(v->last_server_args), "%s:%s", event,
           text_of(args));
  if (!ack)
    return 0;
  *ack = json_object_new_string("pong");
  return 1;
}

static void start(fx *f) {
  static const sio_namespace_handlers h = {NULL, on_connection, on_event, NULL};
  int i;
  memset(f, 0, sizeof(*f));
  F = f;
  ck_assert_int_eq(uv_loop_init(&f->loop), 0);
  for (i = 0; i < 2; i++) {
    srv *v = &f->s[i];
    sio_namespace *ns;
    ck_assert_int_eq(sio_server_new(&v->s, &f->loop, NULL), 0);
    ns = sio_server_of(v->s, "/");
    sio_namespace_set_handlers(ns, &h, v);
    sio_namespace_on_server_event(ns, on_server_event, v);
  }
  for (i = 0; i < 2; i++) {
    srv *v = &f->s[i];
    ck_assert_ptr_eq(sio_server_loop(v->s), &f->loop);
    ck_assert_int_eq(sio_server_has_adapter(v->s), 0);
    v->tw.self = v->s;
    v->tw.peer = f->s[1 - i].s;
    v->tw.loop = sio_server_loop(v->s);
    ck_assert_int_eq(sio_server_set_adapter(v->s, &twin_ops, &v->tw), 0);
    ck_assert_int_eq(sio_server_has_adapter(v->s), 1);
    ck_assert_int_eq(sio_server_listen(v->s, "127.0.0.1:0"), 0);
    v->port = sio_server_port(v->s, 0);
  }
}

static void on_closed(sio_server *s, void *ud) {
  fx *f = ud;
  int i;
  for (i = 0; i < 2; i++)
    if (f->s[i].s == s)
      f->s[1 - i].tw.peer = NULL; /* s is gone */
  f->closed++;
}

static void stop(fx *f, ws_client *cs, int n) {
  int i;
  for (i = 0; i < 2; i++)
    steps_release(&f->s[i].kept);
  for (i = 0; i < 2; i++) {
    ck_assert_int_eq(sio_server_closing(f->s[i].s), 0);
    sio_server_close(f->s[i].s, on_closed, f);
    ck_assert_int_eq(sio_server_closing(f->s[i].s), 1);
  }
  for (i = 0; i < n; i++)
    ws_client_close(&cs[i]);
  uv_run(&f->loop, UV_RUN_DEFAULT);
  ck_assert_int_eq(f->closed, 2);
  ck_assert_int_eq(uv_loop_close(&f->loop), 0);
  F = NULL;
}

static void pump(fx *f, uint32_t ms) { steps_pump(&f->loop, ms); }

static sio_socket *connect_to(fx *f, ws_client *c, int i) {
  return steps_connect_kept(c, &f->loop, f->s[i].port, NULL, &f->s[i].kept);
}

static sio_namespace *root(fx *f, int i) {
  return sio_server_of(f->s[i].s, "/");
}

static void count_ack(sio_socket *s, int status, json_object *args,
                      const sio_bin *bins, size_t nbins, void *ud) {
  fx *f = ud;
  (void)s;
  (void)bins;
  (void)nbins;
  f->r.calls++;
  f->r.status |= status;
  f->r.count += (size_t)json_object_get_int(json_object_array_get_idx(args, 0));
}

/* ------------------------------------------- the incoming half, alone */

START_TEST(incoming_bad_arguments) {
  fx f;
  ws_client c;
  sio_socket_info info;
  const char **rooms = (const char **)1;
  const char *r = "r";
  sio_broadcast_opts bad = {NULL, 1, NULL, 0, 0};
  json_object *o, *ack = (json_object *)1;
  memset(&c, 0, sizeof(c));
  start(&f);
  ck_assert_ptr_null(sio_server_loop(NULL));
  ck_assert_int_eq(sio_server_closing(NULL), 0);
  ck_assert_int_eq(sio_server_has_adapter(NULL), 0);
  /* a second adapter is refused */
  ck_assert_int_eq(sio_server_set_adapter(f.s[0].s, &twin_ops, NULL),
                   SIO_ERR_STATE);
  ck_assert_int_eq(sio_adapter_apply_rooms(NULL, NULL, &r, 1, 0),
                   SIO_ERR_INVAL);
  ck_assert_int_eq(sio_adapter_apply_rooms(root(&f, 0), &bad, &r, 1, 0),
                   SIO_ERR_INVAL);
  ck_assert_int_eq(sio_adapter_apply_rooms(root(&f, 0), NULL, NULL, 1, 0),
                   SIO_ERR_INVAL);
  ck_assert_int_eq(sio_adapter_apply_disconnect(NULL, NULL, 0), SIO_ERR_INVAL);
  ck_assert_int_eq(sio_adapter_apply_disconnect(root(&f, 0), &bad, 0),
                   SIO_ERR_INVAL);
  ck_assert_ptr_null(sio_adapter_socket_json(NULL));
  ck_assert_ptr_null(sio_adapter_local_sockets(NULL, NULL, NULL, NULL));
  ck_assert_ptr_null(sio_adapter_local_sockets(root(&f, 0), &bad, NULL, NULL));
  ck_assert_ptr_null(sio_adapter_local_ids(NULL, NULL, 0));
  ck_assert_ptr_null(sio_adapter_local_ids(root(&f, 0), NULL, 1));
  ck_assert_ptr_null(sio_adapter_local_rooms(NULL));
  ck_assert_int_eq(sio_adapter_room_has_members(NULL, "r", 1), 0);
  ck_assert_int_eq(sio_adapter_room_has_members(root(&f, 0), NULL, 0), 0);
  ck_assert_ptr_null(sio_adapter_find_socket(NULL, "x"));
  ck_assert_ptr_null(sio_adapter_find_socket(root(&f, 0), NULL));
  ck_assert_int_eq(sio_adapter_broadcast_local_ack(root(&f, 0), NULL, "e", NULL,
                                                   NULL, 0, 100, NULL, NULL),
                   SIO_ERR_INVAL);
  sio_adapter_release_sockets(NULL, 0);
  sio_adapter_free_rooms(NULL);
  /* fetch answers that are not socket objects */
  ck_assert_int_eq(sio_adapter_info_from_json(NULL, &info, &rooms),
                   SIO_ERR_INVAL);
  o = steps_json("{\"rooms\":[]}");
  ck_assert_int_eq(sio_adapter_info_from_json(o, &info, &rooms), SIO_ERR_PROTO);
  ck_assert_ptr_null(rooms);
  json_object_put(o);
  o = steps_json("{\"id\":7}");
  ck_assert_int_eq(sio_adapter_info_from_json(o, &info, &rooms), SIO_ERR_PROTO);
  json_object_put(o);
  o = steps_json("{\"id\":\"a\",\"rooms\":\"a\"}");
  ck_assert_int_eq(sio_adapter_info_from_json(o, &info, &rooms), SIO_ERR_PROTO);
  json_object_put(o);
  o = steps_json("{\"id\":\"a\",\"rooms\":[\"a\",1]}");
  ck_assert_int_eq(sio_adapter_info_from_json(o, &info, &rooms), SIO_ERR_PROTO);
  ck_assert_ptr_null(rooms);
  json_object_put(o);
  o = steps_json("{\"id\":\"a\",\"rooms\":[\"a\",\"b\"],\"data\":{\"k\":1},"
                 "\"handshake\":{\"auth\":{}}}");
  ck_assert_int_eq(sio_adapter_info_from_json(o, &info, &rooms), 0);
  ck_assert_str_eq(info.id, "a");
  ck_assert_uint_eq(info.nrooms, 2);
  ck_assert_str_eq(info.rooms[1], "b");
  ck_assert_str_eq(text_of(info.data), "{\"k\":1}");
  ck_assert_ptr_nonnull(info.handshake);
  ck_assert_ptr_null(info.local);
  sio_adapter_free_rooms(rooms);
  json_object_put(o);
  /* server-side events that cannot be delivered */
  o = steps_json("[1,2]");
  ck_assert_int_eq(sio_adapter_server_event(root(&f, 0), o, 1, &ack), 0);
  ck_assert_ptr_null(ack);
  json_object_put(o);
  o = steps_json("[\"ev\"]");
  ck_assert_int_eq(sio_adapter_server_event(NULL, o, 0, NULL), 0);
  ck_assert_int_eq(sio_adapter_server_event(root(&f, 0), o, 1, NULL), 0);
  ck_assert_int_eq(f.s[0].server_events, 0);
  ck_assert_int_eq(
      sio_adapter_server_event(sio_server_of(f.s[0].s, "/none"), o, 1, &ack),
      0); /* no handler there */
  ck_assert_ptr_null(ack);
  ck_assert_int_eq(sio_adapter_server_event(root(&f, 0), o, 1, &ack), 1);
  ck_assert_str_eq(text_of(ack), "\"pong\"");
  ck_assert_str_eq(f.s[0].last_server_args, "ev:[]");
  json_object_put(ack);
  json_object_put(o);
  stop(&f, &c, 0);
}
END_TEST

START_TEST(incoming_local_answers) {
  fx f;
  ws_client c[2];
  sio_socket *a, *b, **socks;
  size_t n;
  const char *r1 = "r1";
  sio_broadcast_opts in_r1 = {&r1, 1, NULL, 0, 0};
  json_object *v;
  char want[256];
  memset(c, 0, sizeof(c));
  start(&f);
  a = connect_to(&f, &c[0], 0);
  b = connect_to(&f, &c[1], 0);
  sio_socket_join(a, "r1");
  /* ids, rooms, membership */
  v = sio_adapter_local_ids(root(&f, 0), &r1, 1);
  snprintf(want, sizeof(want), "[\"%s\"]", sio_socket_id(a));
  ck_assert_str_eq(text_of(v), want);
  json_object_put(v);
  v = sio_adapter_local_ids(root(&f, 0), NULL, 0);
  ck_assert_uint_eq(json_object_array_length(v), 2);
  json_object_put(v);
  v = sio_adapter_local_rooms(root(&f, 0));
  ck_assert_uint_eq(json_object_array_length(v), 3);
  snprintf(want, sizeof(want), "%s %s",
           json_object_get_string(json_object_array_get_idx(v, 0)),
           json_object_get_string(json_object_array_get_idx(v, 1)));
  ck_assert(strstr(want, sio_socket_id(a)) && strstr(want, sio_socket_id(b)));
  ck_assert_str_eq(json_object_get_string(json_object_array_get_idx(v, 2)),
                   "r1"); /* the id rooms come first */
  json_object_put(v);
  ck_assert_int_eq(sio_adapter_room_has_members(root(&f, 0), "r1x", 2), 1);
  ck_assert_int_eq(sio_adapter_room_has_members(root(&f, 0), "r2", 2), 0);
  ck_assert_int_eq(sio_adapter_room_has_members(root(&f, 1), "r1", 2), 0);
  ck_assert_ptr_eq(sio_adapter_find_socket(root(&f, 0), sio_socket_id(b)), b);
  ck_assert_ptr_null(sio_adapter_find_socket(root(&f, 1), sio_socket_id(b)));
  ck_assert_ptr_null(sio_adapter_find_socket(root(&f, 0), "r1"));
  /* the fetch form, with the sockets themselves */
  v = sio_adapter_local_sockets(root(&f, 0), &in_r1, &socks, &n);
  ck_assert_uint_eq(n, 1);
  ck_assert_ptr_eq(socks[0], a);
  ck_assert_uint_eq(json_object_array_length(v), 1);
  {
    json_object *one = json_object_array_get_idx(v, 0), *hs, *x;
    ck_assert(json_object_object_get_ex(one, "id", &x));
    ck_assert_str_eq(json_object_get_string(x), sio_socket_id(a));
    ck_assert(json_object_object_get_ex(one, "handshake", &hs));
    ck_assert(json_object_object_get_ex(hs, "url", &x));
    ck_assert_int_eq(strncmp(json_object_get_string(x), "/socket.io/?", 12), 0);
    ck_assert(json_object_object_get_ex(one, "data", &x));
    ck_assert_str_eq(text_of(x), "{}");
  }
  sio_adapter_release_sockets(socks, n);
  json_object_put(v);
  /* rooms and disconnects applied here */
  ck_assert_int_eq(sio_adapter_apply_rooms(root(&f, 0), NULL, &r1, 1, 0), 2);
  ck_assert_int_eq(sio_socket_in_room(b, "r1"), 1);
  ck_assert_int_eq(sio_adapter_apply_rooms(root(&f, 0), NULL, &r1, 1, 1), 2);
  ck_assert_int_eq(sio_socket_in_room(a, "r1"), 0);
  /* local ack broadcast: nobody in the room asks nobody */
  ck_assert_int_eq(sio_adapter_broadcast_local_ack(root(&f, 0), &in_r1, "e",
                                                   NULL, NULL, 0, 100,
                                                   count_ack, &f),
                   0);
  ck_assert_int_eq(sio_adapter_broadcast_local_ack(root(&f, 0), NULL,
                                                   "disconnect", NULL, NULL, 0,
                                                   100, count_ack, &f),
                   SIO_ERR_INVAL);
  /* everyone: each recipient's answer comes to the callback */
  ck_assert_int_eq(sio_adapter_broadcast_local_ack(root(&f, 0), NULL, "e", NULL,
                                                   NULL, 0, 1000, count_ack,
                                                   &f),
                   2);
  ck_assert_int_eq(f.r.calls, 0);
  {
    int i;
    for (i = 0; i < 2; i++) {
      const ws_msg *m = ws_client_recv(&c[i], STEPS_T);
      char reply[64];
      ck_assert_ptr_nonnull(m);
      snprintf(reply, sizeof(reply), "43%ld[%d]", strtol(m->data + 2, NULL, 10),
               i);
      ck_assert_int_eq(ws_client_send_text(&c[i], reply), 0);
    }
  }
  steps_wait_answers(&f.loop, &f.r, 2);
  ck_assert_int_eq(f.r.status, 0);
  ck_assert_uint_eq(f.r.count, 1); /* 0 + 1 */
  ck_assert_int_eq(sio_adapter_apply_disconnect(root(&f, 0), NULL, 0), 2);
  steps_expect(&c[0], "41");
  steps_expect(&c[1], "41");
  ck_assert_ptr_null(sio_adapter_find_socket(root(&f, 0), sio_socket_id(a)));
  stop(&f, c, 2);
}
END_TEST

/* ------------------------------------- the dispatch over a public adapter */

START_TEST(twin_broadcast) {
  fx f;
  ws_client c[3];
  sio_socket *s1;
  const char *r1 = "r1";
  sio_broadcast_opts o = {&r1, 1, NULL, 0, 0};
  sio_broadcast_opts local = {NULL, 0, NULL, 0, SIO_BCAST_LOCAL};
  json_object *args = steps_json("[1,\"two\"]");
  memset(c, 0, sizeof(c));
  start(&f);
  connect_to(&f, &c[0], 0);
  s1 = connect_to(&f, &c[1], 1);
  connect_to(&f, &c[2], 1);
  ck_assert_int_eq(
      sio_namespace_broadcast(root(&f, 0), NULL, "hi", args, NULL, 0), 1);
  steps_expect(&c[0], "42[\"hi\",1,\"two\"]");
  steps_expect(&c[1], "42[\"hi\",1,\"two\"]");
  steps_expect(&c[2], "42[\"hi\",1,\"two\"]");
  /* SIO_BCAST_LOCAL never reaches the adapter */
  ck_assert_int_eq(
      sio_namespace_broadcast(root(&f, 0), &local, "here", NULL, NULL, 0), 1);
  steps_expect(&c[0], "42[\"here\"]");
  steps_expect_nothing(&c[1], 50);
  /* a room only the other server has members in */
  {
    int before = f.s[1].tw.joined;
    sio_socket_join(s1, "r1");
    ck_assert_int_eq(f.s[1].tw.joined, before + 1); /* told after the fact */
  }
  ck_assert_int_eq(
      sio_namespace_broadcast(root(&f, 0), &o, "room", NULL, NULL, 0), 0);
  steps_expect(&c[1], "42[\"room\"]");
  steps_expect_nothing(&c[0], 50);
  steps_expect_nothing(&c[2], 10);
  json_object_put(args);
  stop(&f, c, 3);
}
END_TEST

static void fetch_cb(sio_namespace *ns, int status,
                     const sio_socket_info *sockets, size_t n, void *ud) {
  fx *f = ud;
  size_t i;
  (void)ns;
  steps_answer(&f->r, status, n);
  f->r.nlocal = 0;
  f->r.text[0] = 0;
  for (i = 0; i < n; i++) {
    size_t l = strlen(f->r.text);
    f->r.nlocal += sockets[i].local != NULL;
    snprintf(f->r.text + l, sizeof(f->r.text) - l, "%s%s/%zu/%s", i ? " " : "",
             sockets[i].local ? "L" : "R", sockets[i].nrooms,
             text_of(sockets[i].data));
  }
}

static void rooms_cb(sio_namespace *ns, int status, const char *const *rooms,
                     size_t n, void *ud) {
  fx *f = ud;
  size_t i;
  (void)ns;
  steps_answer(&f->r, status, n);
  f->r.text[0] = 0;
  for (i = 0; i < n; i++)
    if (strlen(rooms[i]) == 2) { /* the named rooms, not the id rooms */
      size_t l = strlen(f->r.text);
      snprintf(f->r.text + l, sizeof(f->r.text) - l, "%s,", rooms[i]);
    }
}

static void count_cb(sio_namespace *ns, int status, size_t count, void *ud) {
  fx *f = ud;
  (void)ns;
  steps_answer(&f->r, status, count);
}

START_TEST(twin_fetch_rooms_count) {
  fx f;
  ws_client c[2];
  sio_socket *a, *b;
  memset(c, 0, sizeof(c));
  start(&f);
  a = connect_to(&f, &c[0], 0);
  b = connect_to(&f, &c[1], 1);
  sio_socket_join(a, "ra");
  sio_socket_join(b, "rb");
  sio_socket_join(b, "ra");
  sio_socket_set_json_data(b, steps_json("{\"who\":\"b\"}"));
  ck_assert_int_eq(sio_namespace_fetch_sockets(root(&f, 0), NULL, fetch_cb, &f),
                   0);
  ck_assert_int_eq(f.r.calls, 0); /* never inside the call */
  steps_wait_answers(&f.loop, &f.r, 1);
  ck_assert_int_eq(f.r.status, 0);
  ck_assert_uint_eq(f.r.count, 2);
  ck_assert_int_eq(f.r.nlocal, 1);
  ck_assert_str_eq(f.r.text, "L/2/{} R/3/{\"who\":\"b\"}");
  f.r.calls = 0;
  ck_assert_int_eq(sio_namespace_all_rooms(root(&f, 0), rooms_cb, &f), 0);
  steps_wait_answers(&f.loop, &f.r, 1);
  ck_assert_int_eq(f.r.status, 0);
  ck_assert_uint_eq(f.r.count, 4); /* two id rooms, ra once, rb */
  ck_assert_str_eq(f.r.text, "ra,rb,");
  f.r.calls = 0;
  ck_assert_int_eq(sio_namespace_server_count(root(&f, 1), count_cb, &f), 0);
  steps_wait_answers(&f.loop, &f.r, 1);
  ck_assert_int_eq(f.r.status, 0);
  ck_assert_uint_eq(f.r.count, 2);
  stop(&f, c, 2);
}
END_TEST

START_TEST(twin_join_leave_disconnect) {
  fx f;
  ws_client c[2];
  sio_socket *b;
  const char *rooms[] = {"x", "y"};
  const char *x = "x";
  sio_broadcast_opts in_x = {&x, 1, NULL, 0, 0};
  memset(c, 0, sizeof(c));
  start(&f);
  connect_to(&f, &c[0], 0);
  b = connect_to(&f, &c[1], 1);
  ck_assert_int_eq(sio_namespace_sockets_join(root(&f, 0), NULL, rooms, 2), 0);
  ck_assert_int_eq(sio_socket_in_room(b, "x"), 1);
  ck_assert_int_eq(sio_socket_in_room(b, "y"), 1);
  ck_assert_int_eq(
      sio_namespace_sockets_leave(root(&f, 0), &in_x, &rooms[1], 1), 0);
  ck_assert_int_eq(sio_socket_in_room(b, "y"), 0);
  ck_assert_int_ge(f.s[1].tw.left, 1);
  ck_assert_int_eq(sio_namespace_disconnect_sockets(root(&f, 0), &in_x, 0), 0);
  steps_expect(&c[0], "41");
  steps_expect(&c[1], "41");
  ck_assert_int_eq(sio_socket_connected(b), 0);
  ck_assert_int_eq(f.s[1].tw.disconnected, 1);
  ck_assert_int_eq(f.s[0].tw.disconnected, 1);
  stop(&f, c, 2);
}
END_TEST

static void sse_cb(sio_namespace *ns, int status, json_object *responses,
                   void *ud) {
  fx *f = ud;
  (void)ns;
  steps_answer(&f->r, status, 0);
  snprintf(f->r.text, sizeof(f->r.text), "%s", text_of(responses));
}

START_TEST(twin_server_side_emit) {
  fx f;
  json_object *args = steps_json("[{\"n\":1}]");
  start(&f);
  ck_assert_int_eq(
      sio_namespace_server_side_emit(root(&f, 0), "ping", args, NULL, NULL), 0);
  pump(&f, 20);
  ck_assert_int_eq(f.s[1].server_events, 1);
  ck_assert_int_eq(f.s[0].server_events, 0); /* not to itself */
  ck_assert_str_eq(f.s[1].last_server_args, "ping:[{\"n\":1}]");
  ck_assert_int_eq(
      sio_namespace_server_side_emit(root(&f, 0), "ping", args, sse_cb, &f), 0);
  steps_wait_answers(&f.loop, &f.r, 1);
  ck_assert_int_eq(f.r.status, 0);
  ck_assert_str_eq(f.r.text, "[\"pong\"]");
  ck_assert_int_eq(f.s[1].server_events, 2);
  json_object_put(args);
  stop(&f, NULL, 0);
}
END_TEST

static void back_cb(sio_namespace *ns, int status, json_object *responses,
                    const sio_bin *bins, size_t nbins, void *ud) {
  fx *f = ud;
  (void)ns;
  (void)bins;
  steps_answer(&f->r, status, nbins);
  snprintf(f->r.text, sizeof(f->r.text), "%s", text_of(responses));
}

START_TEST(twin_broadcast_ack) {
  fx f;
  ws_client c[2];
  json_object *args = steps_json("[\"q\"]");
  const ws_msg *m;
  int i;
  memset(c, 0, sizeof(c));
  start(&f);
  connect_to(&f, &c[0], 0);
  connect_to(&f, &c[1], 1);
  ck_assert_int_eq(sio_namespace_broadcast_ack(root(&f, 0), NULL, "ask", args,
                                               NULL, 0, 1000, back_cb, &f),
                   0);
  for (i = 0; i < 2; i++) {
    char reply[64];
    m = ws_client_recv(&c[i], STEPS_T);
    ck_assert_ptr_nonnull(m);
    ck_assert_msg(strncmp(m->data, "42", 2) == 0 && strstr(m->data, "[\"ask\""),
                  "got %s", m->data);
    /* answer with the ack id the packet carries, and who we are */
    snprintf(reply, sizeof(reply), "43%ld[\"c%d\"]",
             strtol(m->data + 2, NULL, 10), i);
    ck_assert_int_eq(ws_client_send_text(&c[i], reply), 0);
  }
  steps_wait_answers(&f.loop, &f.r, 1);
  ck_assert_int_eq(f.r.status, 0);
  ck_assert(strcmp(f.r.text, "[\"c0\",\"c1\"]") == 0 ||
            strcmp(f.r.text, "[\"c1\",\"c0\"]") == 0);
  json_object_put(args);
  stop(&f, c, 2);
}
END_TEST

START_TEST(twin_broadcast_ack_nobody_remote) {
  fx f;
  ws_client c;
  const ws_msg *m;
  char reply[64];
  memset(&c, 0, sizeof(c));
  start(&f);
  connect_to(&f, &c, 0);
  ck_assert_int_eq(sio_namespace_broadcast_ack(root(&f, 0), NULL, "ask", NULL,
                                               NULL, 0, 1000, back_cb, &f),
                   0);
  m = ws_client_recv(&c, STEPS_T);
  ck_assert_ptr_nonnull(m);
  snprintf(reply, sizeof(reply), "43%ld[\"c0\"]",
           strtol(m->data + 2, NULL, 10));
  ck_assert_int_eq(ws_client_send_text(&c, reply), 0);
  /* complete once the local answer is in, well before the timeout */
  steps_pump(&f.loop, 200);
  ck_assert_int_eq(f.r.calls, 1);
  ck_assert_int_eq(f.r.status, 0);
  ck_assert_str_eq(f.r.text, "[\"c0\"]");
  stop(&f, &c, 1);
}
END_TEST

START_TEST(twin_close_cancels) {
  fx f;
  start(&f);
  ck_assert_int_eq(sio_namespace_fetch_sockets(root(&f, 0), NULL, fetch_cb, &f),
                   0);
  /* closed before the answer's turn: the call ends with SIO_ERR_CANCELED */
  sio_server_close(f.s[0].s, on_closed, &f);
  ck_assert_int_eq(sio_server_closing(f.s[0].s), 1);
  ck_assert_int_eq(sio_namespace_fetch_sockets(root(&f, 0), NULL, fetch_cb, &f),
                   SIO_ERR_CLOSED);
  pump(&f, 20);
  ck_assert_int_eq(f.r.calls, 1);
  ck_assert_int_eq(f.r.status, SIO_ERR_CANCELED);
  sio_server_close(f.s[1].s, on_closed, &f);
  uv_run(&f.loop, UV_RUN_DEFAULT);
  ck_assert_int_eq(f.closed, 2);
  ck_assert_int_eq(uv_loop_close(&f.loop), 0);
  F = NULL;
}
END_TEST

Suite *sio_cluster_suite(void) {
  Suite *s = suite_create("sio_cluster");
  TCase *tc = tcase_create("incoming");
  tcase_set_timeout(tc, 30);
  tcase_add_test(tc, incoming_bad_arguments);
  tcase_add_test(tc, incoming_local_answers);
  suite_add_tcase(s, tc);
  tc = tcase_create("twin");
  tcase_set_timeout(tc, 30);
  tcase_add_test(tc, twin_broadcast);
  tcase_add_test(tc, twin_fetch_rooms_count);
  tcase_add_test(tc, twin_join_leave_disconnect);
  tcase_add_test(tc, twin_server_side_emit);
  tcase_add_test(tc, twin_broadcast_ack);
  tcase_add_test(tc, twin_broadcast_ack_nobody_remote);
  tcase_add_test(tc, twin_close_cancels);
  suite_add_tcase(s, tc);
  return s;
}
