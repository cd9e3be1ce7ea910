/* sio_adapter_loops.c: cluster calls between the loops of one process.
 *
 * Role: the adapter a loop of a group installs when it has no adapter of
 * its own (see sio_adapter_loops.h for the messages). The request side is
 * sio_adapter_req's (count the loops, send the request to every other
 * one, wait for their answers or the timeout); this file encodes requests
 * as JSON text, serves the other loops' requests with the incoming half
 * of <sio/adapter.h> and sends the answers back. Every message crosses
 * threads as bytes: nothing of one loop's objects reaches another.
 *
 * A broadcast with acknowledgements is served on each loop by
 * sio_adapter_broadcast_local_ack; each recipient's answer travels back
 * as it comes, until the origin's timeout (then its sink is done). */
#include "sio_adapter_loops.h"

#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "sio_adapter_req.h"
#include "sio_buf.h"
#include "sio_int.h"
#include "sio_json.h"
#include "sio_log.h"
#include "sio_mem.h"
#include "sio_queue.h"

#define ID_LEN 16
#define MAX_DEPTH 64
#define MAX_ROOMS 1024

struct sio_adapter_loops {
  sio_server *srv;
  sio_loops_bus bus;
  /* sio_server_use_loops: the group, and this adapter's place in the
   * registry where the other loops' letters find it */
  sio_group *group;
  sio_queue reg_link;
  sio_adapter_req_table reqs;
  /* attachments of the request being sent (sio_adapter_req_send publishes
   * at once, from inside the call that set them) */
  const sio_bin *out_bins;
  size_t out_nbins;
  uint64_t messages_in, messages_out, dropped, malformed;
  void (*closed)(void *arg);
  void *closed_arg;
};

/* ------------------------------------------------------------- encoding */

static json_object *strings_json(const char *const *v, size_t n) {
  json_object *a = json_object_new_array();
  size_t i;
  for (i = 0; a && i < n; i++) {
    json_object *s = json_object_new_string(v[i]);
    if (!s || json_object_array_add(a, s)) {
      json_object_put(s);
      json_object_put(a);
      return NULL;
    }
  }
  return a;
}

static int add(json_object *obj, const char *key, json_object *v) {
  if (!v)
    return SIO_ERR_NOMEM;
  if (json_object_object_add(obj, key, v)) {
    json_object_put(v);
    return SIO_ERR_NOMEM;
  }
  return 0;
}

static json_object *opts_json(const sio_broadcast_opts *o) {
  json_object *j = json_object_new_object();
  int rv;
  if (!j)
    return NULL;
  rv = add(j, "rooms", strings_json(o ? o->rooms : NULL, o ? o->nrooms : 0));
  if (!rv)
    rv = add(j, "except",
             strings_json(o ? o->except : NULL, o ? o->nexcept : 0));
  if (!rv)
    rv = add(j, "flags", json_object_new_int(o ? (int)o->flags : 0));
  if (rv) {
    json_object_put(j);
    return NULL;
  }
  return j;
}

/* A request or answer of type t for ns (NULL: an answer) as an object. */
static json_object *msg_new(sio_adapter_loops *a, const char *t,
                            const char *id, sio_namespace *ns) {
  json_object *m = json_object_new_object();
  int rv;
  if (!m)
    return NULL;
  rv = add(m, "t", json_object_new_string(t));
  if (!rv && id)
    rv = add(m, "id", json_object_new_string(id));
  if (!rv && ns) {
    rv = add(m, "from", json_object_new_int((int)a->bus.self));
    if (!rv)
      rv = add(m, "nsp", json_object_new_string(sio_namespace_name(ns)));
  }
  if (rv) {
    json_object_put(m);
    return NULL;
  }
  return m;
}

/* Hands an encoded message to loop `to`, counted either way. */
static int deliver(sio_adapter_loops *a, unsigned to, const sio_buf *msg,
                   const sio_bin *bins, size_t nbins) {
  int rv = a->bus.send(a->bus.ud, to, (const uint8_t *)msg->data, msg->len,
                       bins, nbins);
  if (rv)
    a->dropped++;
  else
    a->messages_out++;
  return rv;
}

/* Sends the encoded msg to every other loop: 0 when each took it. */
static int send_all(sio_adapter_loops *a, const sio_buf *msg,
                    const sio_bin *bins, size_t nbins) {
  unsigned i;
  int rv = 0;
  for (i = 0; i < a->bus.n; i++)
    if (i != a->bus.self && deliver(a, i, msg, bins, nbins))
      rv = SIO_ERR_CLOSED;
  return rv;
}

/* Encodes m (taken) and sends it to loop `to`, or to every other loop
 * when `to` is the adapter's own. */
static int send_obj(sio_adapter_loops *a, unsigned to, json_object *m,
                    const sio_bin *bins, size_t nbins) {
  sio_buf b;
  int rv;
  sio_buf_init(&b);
  rv = m ? sio_json_append(&b, m) : SIO_ERR_NOMEM;
  json_object_put(m);
  if (!rv)
    rv = to == a->bus.self ? send_all(a, &b, bins, nbins)
                           : deliver(a, to, &b, bins, nbins);
  else
    a->dropped++;
  sio_buf_deinit(&b);
  return rv;
}

/* -------------------------------------------- the request table's side */

typedef struct count_post {
  sio_pubsub_count_cb cb;
  void *ud;
  unsigned n;
} count_post;

static void count_run(sio_server *s, void *ud) {
  count_post *p = ud;
  p->cb(p->ud, s ? 0 : SIO_ERR_CANCELED, (int64_t)p->n);
  sio_free(p);
}

/* The loops joined now; the answer comes on the next turn of the loop, as
 * the table wants. */
static int req_count(void *ud, void *ctx, sio_pubsub_count_cb cb,
                     void *cb_ud) {
  sio_adapter_loops *a = ud;
  count_post *p = sio_malloc(sizeof(*p));
  int rv;
  (void)ctx;
  if (!p)
    return SIO_ERR_NOMEM;
  p->cb = cb;
  p->ud = cb_ud;
  p->n = a->bus.count(a->bus.ud);
  rv = sio_server_post(a->srv, count_run, p);
  if (rv)
    sio_free(p);
  return rv;
}

static int req_publish(void *ud, void *ctx, const sio_buf *msg) {
  sio_adapter_loops *a = ud;
  (void)ctx;
  return send_all(a, msg, a->out_bins, a->out_nbins);
}

static int req_new_id(char *out) {
  static atomic_uint_fast64_t next;
  uint64_t v = atomic_fetch_add_explicit(&next, 1, memory_order_relaxed) + 1;
  snprintf(out, ID_LEN + 1, "%016llx", (unsigned long long)v);
  return 0;
}

static const sio_adapter_req_ops req_ops = {req_count, req_publish,
                                            req_new_id};

/* Encodes m (taken) into q's message and starts or sends it. */
static int req_go(sio_adapter_loops *a, sio_adapter_req *q, json_object *m,
                  int back, uint32_t timeout_ms) {
  int rv = m ? sio_json_append(sio_adapter_req_msg(q), m) : SIO_ERR_NOMEM;
  json_object_put(m);
  if (!back)
    return sio_adapter_req_start(q, rv);
  rv = sio_adapter_req_send(q, rv, timeout_ms);
  a->out_bins = NULL;
  a->out_nbins = 0;
  return rv;
}

/* ---------------------------------------------------------- outgoing */

static int op_broadcast(void *ad, sio_namespace *ns,
                        const sio_broadcast_opts *o, const char *event,
                        json_object *args, const sio_bin *bins, size_t nbins) {
  /* never called: a grouped server shares its broadcasts' encoded packet
   * with the other loops before the adapter would be asked */
  (void)ad, (void)ns, (void)o, (void)event, (void)args, (void)bins,
      (void)nbins;
  return SIO_ERR_STATE;
}

static int op_broadcast_ack(void *ad, sio_namespace *ns,
                            const sio_broadcast_opts *o, const char *event,
                            json_object *args, const sio_bin *bins,
                            size_t nbins, uint32_t timeout_ms,
                            const sio_adapter_ack_sink *sink, void *ud) {
  sio_adapter_loops *a = ad;
  sio_adapter_req_cb cb;
  sio_adapter_req *q;
  json_object *m;
  int rv;
  cb.sink = sink;
  q = sio_adapter_req_new(&a->reqs, SIO_ADAPTER_REQ_BACK, ns, NULL, cb, ud);
  if (!q)
    return SIO_ERR_NOMEM;
  m = msg_new(a, "back", sio_adapter_req_id(q), ns);
  rv = m ? add(m, "opts", opts_json(o)) : SIO_ERR_NOMEM;
  if (!rv)
    rv = add(m, "event", json_object_new_string(event));
  if (!rv)
    rv = add(m, "args", args ? json_object_get(args) : json_object_new_array());
  if (!rv)
    rv = add(m, "timeout", json_object_new_int64(timeout_ms));
  if (rv) {
    json_object_put(m);
    m = NULL;
  }
  a->out_bins = bins;
  a->out_nbins = nbins;
  return req_go(a, q, m, 1, timeout_ms);
}

static int rooms_op(sio_adapter_loops *a, sio_namespace *ns, const char *t,
                    const sio_broadcast_opts *o, const char *const *rooms,
                    size_t nrooms) {
  json_object *m = msg_new(a, t, NULL, ns);
  int rv = m ? add(m, "opts", opts_json(o)) : SIO_ERR_NOMEM;
  if (!rv)
    rv = add(m, "rooms", strings_json(rooms, nrooms));
  if (rv) {
    json_object_put(m);
    return rv;
  }
  return send_obj(a, a->bus.self, m, NULL, 0);
}

static int op_sockets_join(void *ad, sio_namespace *ns,
                           const sio_broadcast_opts *o,
                           const char *const *rooms, size_t nrooms) {
  return rooms_op(ad, ns, "join", o, rooms, nrooms);
}

static int op_sockets_leave(void *ad, sio_namespace *ns,
                            const sio_broadcast_opts *o,
                            const char *const *rooms, size_t nrooms) {
  return rooms_op(ad, ns, "leave", o, rooms, nrooms);
}

static int op_disconnect(void *ad, sio_namespace *ns,
                         const sio_broadcast_opts *o, int close_transport) {
  sio_adapter_loops *a = ad;
  json_object *m = msg_new(a, "dc", NULL, ns);
  int rv = m ? add(m, "opts", opts_json(o)) : SIO_ERR_NOMEM;
  if (!rv)
    rv = add(m, "close", json_object_new_boolean(close_transport != 0));
  if (rv) {
    json_object_put(m);
    return rv;
  }
  return send_obj(a, a->bus.self, m, NULL, 0);
}

/* A counted request of kind: the message is built once the id is known. */
static int counted(sio_adapter_loops *a, int kind, const char *t,
                   sio_namespace *ns, const sio_broadcast_opts *o,
                   json_object *data, sio_adapter_req_cb cb, void *ud) {
  sio_adapter_req *q = sio_adapter_req_new(&a->reqs, kind, ns, NULL, cb, ud);
  json_object *m;
  int rv = 0;
  if (!q)
    return SIO_ERR_NOMEM;
  m = kind == SIO_ADAPTER_REQ_COUNT ? NULL
                                    : msg_new(a, t, sio_adapter_req_id(q), ns);
  if (kind == SIO_ADAPTER_REQ_COUNT)
    return sio_adapter_req_start(q, 0);
  if (!m)
    rv = SIO_ERR_NOMEM;
  if (!rv && kind == SIO_ADAPTER_REQ_FETCH)
    rv = add(m, "opts", opts_json(o));
  if (!rv && data)
    rv = add(m, "data", json_object_get(data));
  if (rv) {
    json_object_put(m);
    m = NULL;
  }
  return req_go(a, q, m, 0, 0);
}

static int op_fetch(void *ad, sio_namespace *ns, const sio_broadcast_opts *o,
                    sio_fetch_cb cb, void *ud) {
  sio_adapter_req_cb c;
  c.fetch = cb;
  return counted(ad, SIO_ADAPTER_REQ_FETCH, "fetch", ns, o, NULL, c, ud);
}

static int op_all_rooms(void *ad, sio_namespace *ns, sio_rooms_cb cb,
                        void *ud) {
  sio_adapter_req_cb c;
  c.rooms = cb;
  return counted(ad, SIO_ADAPTER_REQ_ROOMS, "rooms", ns, NULL, NULL, c, ud);
}

static int op_server_count(void *ad, sio_namespace *ns, sio_count_cb cb,
                           void *ud) {
  sio_adapter_req_cb c;
  c.count = cb;
  return counted(ad, SIO_ADAPTER_REQ_COUNT, NULL, ns, NULL, NULL, c, ud);
}

static json_object *sse_data(const char *event, json_object *args) {
  json_object *d = json_object_new_array();
  size_t i, n = args ? json_object_array_length(args) : 0;
  json_object *ev = d ? json_object_new_string(event) : NULL;
  if (!ev || json_object_array_add(d, ev)) {
    json_object_put(ev);
    json_object_put(d);
    return NULL;
  }
  for (i = 0; i < n; i++)
    if (json_object_array_add(
            d, json_object_get(json_object_array_get_idx(args, i)))) {
      json_object_put(d);
      return NULL;
    }
  return d;
}

static int op_server_side_emit(void *ad, sio_namespace *ns, const char *event,
                               json_object *args, sio_server_ack_cb cb,
                               void *ud) {
  sio_adapter_loops *a = ad;
  json_object *d = sse_data(event, args), *m;
  sio_adapter_req_cb c;
  int rv;
  if (!d)
    return SIO_ERR_NOMEM;
  if (cb) {
    c.sse = cb;
    rv = counted(a, SIO_ADAPTER_REQ_SSE, "sse", ns, NULL, d, c, ud);
    json_object_put(d);
    return rv;
  }
  m = msg_new(a, "sse", NULL, ns);
  rv = m ? add(m, "data", d) : (json_object_put(d), SIO_ERR_NOMEM);
  if (rv) {
    json_object_put(m);
    return rv;
  }
  return send_obj(a, a->bus.self, m, NULL, 0);
}

static void op_stats(void *ad, sio_adapter_stats *out) {
  sio_adapter_loops *a = ad;
  out->connected = 1;
  out->messages_in = a->messages_in;
  out->messages_out = a->messages_out;
  out->dropped = a->dropped;
  out->latency_us = 0;
}

/* ------------------------------------------------------ the registry */

/* Every adapter sio_server_use_loops installed, for the letters of the
 * other loops: a letter names the group and the loop, and runs on that
 * loop, whose adapter is looked up here (only its own loop closes it). */
static uv_once_t reg_once = UV_ONCE_INIT;
static uv_mutex_t reg_lock;
static sio_queue reg_list;

static void reg_init(void) {
  if (uv_mutex_init(&reg_lock))
    abort();
  sio_queue_init(&reg_list);
}

static sio_adapter_loops *reg_find(sio_group *g, unsigned index,
                                   const sio_server *s) {
  sio_adapter_loops *found = NULL;
  sio_queue *q;
  uv_mutex_lock(&reg_lock);
  sio_queue_foreach(q, &reg_list) {
    sio_adapter_loops *a = sio_container_of(q, sio_adapter_loops, reg_link);
    if (a->group == g && a->bus.self == index && a->srv == s) {
      found = a;
      break;
    }
  }
  uv_mutex_unlock(&reg_lock);
  return found;
}

static void reg_remove(sio_adapter_loops *a) {
  if (!a->group)
    return;
  uv_mutex_lock(&reg_lock);
  sio_queue_remove(&a->reg_link);
  uv_mutex_unlock(&reg_lock);
  a->group = NULL;
}

static void reqs_closed(void *arg) {
  sio_adapter_loops *a = arg;
  void (*done)(void *) = a->closed;
  void *done_arg = a->closed_arg;
  sio_free(a);
  done(done_arg);
}

static void op_close(void *ad, void (*done)(void *arg), void *arg) {
  sio_adapter_loops *a = ad;
  a->closed = done;
  a->closed_arg = arg;
  reg_remove(a); /* no letter finds it any more */
  sio_adapter_req_table_close(&a->reqs, reqs_closed, a);
}

static const sio_adapter_ops loops_ops = {
    .flags = SIO_ADAPTER_LOOPS,
    .broadcast = op_broadcast,
    .broadcast_ack = op_broadcast_ack,
    .sockets_join = op_sockets_join,
    .sockets_leave = op_sockets_leave,
    .disconnect_sockets = op_disconnect,
    .fetch_sockets = op_fetch,
    .all_rooms = op_all_rooms,
    .server_count = op_server_count,
    .server_side_emit = op_server_side_emit,
    .stats = op_stats,
    .close = op_close,
};

int sio_adapter_loops_install(sio_server *s, const sio_loops_bus *bus,
                              uint32_t timeout_ms, sio_adapter_loops **out) {
  sio_adapter_loops *a;
  int rv;
  if (!s || !bus || !bus->send || !bus->count || bus->self >= bus->n)
    return SIO_ERR_INVAL;
  a = sio_calloc(1, sizeof(*a));
  if (!a)
    return SIO_ERR_NOMEM;
  a->srv = s;
  a->bus = *bus;
  sio_adapter_req_table_init(&a->reqs, sio_server_loop(s), &req_ops, a,
                             ID_LEN, timeout_ms ? timeout_ms : 5000);
  rv = sio_server_set_adapter(s, &loops_ops, a);
  if (rv) {
    sio_free(a);
    return rv;
  }
  if (out)
    *out = a;
  return 0;
}

/* ------------------------------------------------------------ incoming */

/* The strings of arr (an array of strings, at most MAX_ROOMS) into a new
 * vector (*out; NULL when empty). */
static int strings_of(json_object *arr, const char ***out, size_t *n) {
  size_t i, len;
  *out = NULL;
  *n = 0;
  if (!arr)
    return 0;
  if (!json_object_is_type(arr, json_type_array))
    return SIO_ERR_PROTO;
  len = json_object_array_length(arr);
  if (len > MAX_ROOMS)
    return SIO_ERR_PROTO;
  if (!len)
    return 0;
  *out = sio_malloc(len * sizeof(**out));
  if (!*out)
    return SIO_ERR_NOMEM;
  for (i = 0; i < len; i++) {
    json_object *it = json_object_array_get_idx(arr, i);
    if (!json_object_is_type(it, json_type_string)) {
      sio_free(*out);
      *out = NULL;
      return SIO_ERR_PROTO;
    }
    (*out)[i] = json_object_get_string(it);
  }
  *n = len;
  return 0;
}

typedef struct in_opts {
  sio_broadcast_opts o;
  const char **rooms, **except;
} in_opts;

static int opts_of(json_object *j, in_opts *io) {
  json_object *f, *r = NULL, *x = NULL;
  int rv;
  memset(io, 0, sizeof(*io));
  if (!j || !json_object_is_type(j, json_type_object))
    return SIO_ERR_PROTO;
  json_object_object_get_ex(j, "rooms", &r);
  json_object_object_get_ex(j, "except", &x);
  rv = strings_of(r, &io->rooms, &io->o.nrooms);
  if (!rv)
    rv = strings_of(x, &io->except, &io->o.nexcept);
  if (!rv && json_object_object_get_ex(j, "flags", &f))
    io->o.flags = (unsigned)json_object_get_int(f) & SIO_BCAST_VOLATILE;
  io->o.rooms = io->rooms;
  io->o.except = io->except;
  if (rv) {
    sio_free(io->rooms);
    sio_free(io->except);
  }
  return rv;
}

static void opts_free(in_opts *io) {
  sio_free(io->rooms);
  sio_free(io->except);
}

static const char *str_of(json_object *m, const char *key) {
  json_object *v;
  if (!json_object_object_get_ex(m, key, &v) ||
      !json_object_is_type(v, json_type_string))
    return NULL;
  return json_object_get_string(v);
}

/* The loop an answer goes to: "from", a loop of the group other than us. */
static int from_of(sio_adapter_loops *a, json_object *m, unsigned *from) {
  json_object *v;
  int64_t f;
  if (!json_object_object_get_ex(m, "from", &v) ||
      !json_object_is_type(v, json_type_int))
    return SIO_ERR_PROTO;
  f = json_object_get_int64(v);
  if (f < 0 || f >= (int64_t)a->bus.n || f == (int64_t)a->bus.self)
    return SIO_ERR_PROTO;
  *from = (unsigned)f;
  return 0;
}

/* Sends v (taken; NULL: null) as the answer id to loop `to`. */
static void answer(sio_adapter_loops *a, unsigned to, const char *id,
                   json_object *v) {
  json_object *m = msg_new(a, "ans", id, NULL);
  if (!m || json_object_object_add(m, "v", v)) {
    json_object_put(v);
    json_object_put(m);
    a->dropped++;
    return;
  }
  send_obj(a, to, m, NULL, 0);
}

/* One loop's part of a broadcast with acknowledgements: each answer goes
 * to the origin as it comes; freed after the last recipient's. */
typedef struct back_serve {
  sio_adapter_loops *a;
  unsigned to;
  size_t left;
  char id[ID_LEN + 1];
} back_serve;

static void back_local(sio_socket *s, int status, json_object *args,
                       const sio_bin *bins, size_t nbins, void *ud) {
  back_serve *b = ud;
  (void)s;
  if (status == 0) {
    json_object *m = msg_new(b->a, "ack", b->id, NULL);
    json_object *arg =
        args && json_object_array_length(args)
            ? json_object_get(json_object_array_get_idx(args, 0))
            : NULL;
    if (m && json_object_object_add(m, "arg", arg) == 0)
      send_obj(b->a, b->to, m, bins, nbins);
    else {
      json_object_put(arg);
      json_object_put(m);
    }
  }
  if (--b->left == 0)
    sio_free(b);
}

static void serve_back(sio_adapter_loops *a, sio_namespace *ns, json_object *m,
                       unsigned from, const char *id, const sio_bin *bins,
                       size_t nbins) {
  json_object *args = NULL, *to = NULL;
  const char *event = str_of(m, "event");
  json_object *oj = NULL;
  back_serve *b;
  in_opts io;
  int n;
  json_object_object_get_ex(m, "opts", &oj);
  json_object_object_get_ex(m, "args", &args);
  json_object_object_get_ex(m, "timeout", &to);
  if (!event || !args || !json_object_is_type(args, json_type_array) ||
      opts_of(oj, &io)) {
    a->malformed++;
    return;
  }
  b = sio_calloc(1, sizeof(*b));
  if (!b) {
    opts_free(&io);
    return;
  }
  b->a = a;
  b->to = from;
  snprintf(b->id, sizeof(b->id), "%s", id);
  n = sio_adapter_broadcast_local_ack(
      ns, &io.o, event, args, bins, nbins,
      to ? (uint32_t)json_object_get_int64(to) : 0, back_local, b);
  opts_free(&io);
  {
    json_object *c = msg_new(a, "ackc", id, NULL);
    if (c && add(c, "n", json_object_new_int(n > 0 ? n : 0)) == 0)
      send_obj(a, from, c, NULL, 0);
    else
      json_object_put(c);
  }
  if (n > 0)
    b->left = (size_t)n;
  else
    sio_free(b);
}

/* Another loop's request for ns. */
static void serve(sio_adapter_loops *a, const char *t, json_object *m,
                  const sio_bin *bins, size_t nbins) {
  const char *nsp = str_of(m, "nsp"), *id = str_of(m, "id");
  json_object *oj = NULL, *v = NULL;
  sio_namespace *ns;
  unsigned from = 0;
  in_opts io;
  int want = id != NULL;
  if (!nsp || (want && from_of(a, m, &from))) {
    a->malformed++;
    return;
  }
  ns = sio_server_of(a->srv, nsp);
  if (!ns)
    return;
  json_object_object_get_ex(m, "opts", &oj);
  if (!strcmp(t, "fetch") && want) {
    if (opts_of(oj, &io)) {
      a->malformed++;
      return;
    }
    v = sio_adapter_local_sockets(ns, &io.o, NULL, NULL);
    opts_free(&io);
    if (v)
      answer(a, from, id, v);
  } else if (!strcmp(t, "rooms") && want) {
    v = sio_adapter_local_rooms(ns);
    if (v)
      answer(a, from, id, v);
  } else if (!strcmp(t, "sse")) {
    json_object *data = NULL, *ack = NULL;
    json_object_object_get_ex(m, "data", &data);
    if (!data || !json_object_is_type(data, json_type_array)) {
      a->malformed++;
      return;
    }
    if (sio_adapter_server_event(ns, data, want, want ? &ack : NULL) == 1 &&
        want)
      answer(a, from, id, ack);
  } else if (!strcmp(t, "back") && want) {
    serve_back(a, ns, m, from, id, bins, nbins);
  } else if (!strcmp(t, "join") || !strcmp(t, "leave")) {
    json_object *r = NULL;
    const char **rooms;
    size_t nrooms;
    json_object_object_get_ex(m, "rooms", &r);
    if (opts_of(oj, &io)) {
      a->malformed++;
      return;
    }
    if (strings_of(r, &rooms, &nrooms) == 0) {
      sio_adapter_apply_rooms(ns, &io.o, rooms, nrooms, t[0] == 'l');
      sio_free(rooms);
    } else {
      a->malformed++;
    }
    opts_free(&io);
  } else if (!strcmp(t, "dc")) {
    json_object *c = NULL;
    json_object_object_get_ex(m, "close", &c);
    if (opts_of(oj, &io)) {
      a->malformed++;
      return;
    }
    sio_adapter_apply_disconnect(ns, &io.o, c && json_object_get_boolean(c));
    opts_free(&io);
  } else {
    a->malformed++;
  }
}

/* An answer to one of our requests (late ones find nothing). */
static void on_answer(sio_adapter_loops *a, const char *t, json_object *m,
                      const sio_bin *bins, size_t nbins) {
  sio_adapter_req *q = sio_adapter_req_find(&a->reqs, str_of(m, "id"));
  json_object *v = NULL;
  if (!q)
    return;
  if (!strcmp(t, "ans")) {
    json_object_object_get_ex(m, "v", &v);
    sio_adapter_req_answer(q, v);
  } else if (!strcmp(t, "ackc")) {
    if (json_object_object_get_ex(m, "n", &v))
      sio_adapter_req_ack_count(q, (size_t)json_object_get_int64(v));
  } else {
    json_object_object_get_ex(m, "arg", &v);
    sio_adapter_req_ack(q, v, bins, nbins);
  }
}

void sio_adapter_loops_message(sio_adapter_loops *a, const uint8_t *msg,
                               size_t len, const sio_bin *bins, size_t nbins) {
  json_object *m = NULL;
  const char *t;
  a->messages_in++;
  if (sio_json_parse((const char *)msg, len, MAX_DEPTH, &m) ||
      !json_object_is_type(m, json_type_object) || !(t = str_of(m, "t"))) {
    a->malformed++;
    json_object_put(m);
    return;
  }
  if (!strcmp(t, "ans") || !strcmp(t, "ackc") || !strcmp(t, "ack"))
    on_answer(a, t, m, bins, nbins);
  else
    serve(a, t, m, bins, nbins);
  json_object_put(m);
}

/* ------------------------------------------------- over a real group */

typedef struct loops_letter {
  sio_group *g;
  unsigned to;
  size_t len, nbins;
  uint8_t *text;
  sio_bin *bins;
} loops_letter;

static void letter_run(sio_server *s, void *ud) {
  loops_letter *l = ud;
  sio_adapter_loops *a = s ? reg_find(l->g, l->to, s) : NULL;
  if (a && !sio_server_closing(s))
    sio_adapter_loops_message(a, l->text, l->len, l->bins, l->nbins);
  sio_free(l);
}

/* One allocation: the letter, its attachments' descriptors, the text and
 * the attachments' bytes. */
static int group_send(void *ud, unsigned to, const uint8_t *msg, size_t len,
                      const sio_bin *bins, size_t nbins) {
  sio_adapter_loops *a = ud;
  size_t size = sizeof(loops_letter) + nbins * sizeof(sio_bin) + len, i;
  loops_letter *l;
  uint8_t *p;
  int rv;
  for (i = 0; i < nbins; i++)
    size += bins[i].len;
  l = sio_malloc(size);
  if (!l)
    return SIO_ERR_NOMEM;
  l->g = a->group;
  l->to = to;
  l->len = len;
  l->nbins = nbins;
  l->bins = (sio_bin *)(l + 1);
  p = (uint8_t *)(l->bins + nbins);
  l->text = p;
  memcpy(p, msg, len);
  p += len;
  for (i = 0; i < nbins; i++) {
    if (bins[i].len)
      memcpy(p, bins[i].data, bins[i].len);
    l->bins[i].data = p;
    l->bins[i].len = bins[i].len;
    p += bins[i].len;
  }
  rv = a->group ? sio_group_post(a->group, to, letter_run, l) : SIO_ERR_CLOSED;
  if (rv)
    sio_free(l);
  return rv;
}

static unsigned group_count(void *ud) {
  sio_adapter_loops *a = ud;
  return a->group ? sio_group_joined(a->group) : 1;
}

int sio_server_use_loops(sio_server *s, sio_group *g, unsigned index) {
  sio_loops_bus bus;
  sio_adapter_loops *a;
  int rv;
  if (!s || !g || index >= sio_group_size(g))
    return SIO_ERR_INVAL;
  uv_once(&reg_once, reg_init);
  bus.send = group_send;
  bus.count = group_count;
  bus.ud = NULL; /* the adapter itself, set below */
  bus.self = index;
  bus.n = sio_group_size(g);
  rv = sio_adapter_loops_install(s, &bus, 0, &a);
  if (rv)
    return rv;
  a->bus.ud = a;
  a->group = g;
  uv_mutex_lock(&reg_lock);
  sio_queue_insert_tail(&reg_list, &a->reg_link);
  uv_mutex_unlock(&reg_lock);
  return sio_group_join(g, index, s);
}
