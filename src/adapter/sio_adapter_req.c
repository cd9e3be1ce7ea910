/* sio_adapter_req.c: a cluster adapter's requests to the other servers
 * and their answers (see sio_adapter_req.h). */
#include "sio_adapter_req.h"

#include <string.h>

#include "sio_int.h"
#include "sio_mem.h"

#define ID_TRIES 8

struct sio_adapter_req {
  sio_queue link; /* in t->reqs */
  sio_adapter_req_table *t;
  sio_namespace *ns;
  void *ctx;
  uv_timer_t timer;
  int kind;
  int holds; /* the count callback still to come */
  uint8_t done;
  uint8_t closing;
  uint8_t in_map;
  long expected; /* answers wanted */
  long got;
  json_object *acc; /* answers so far */
  sio_buf msg;      /* the request, published once the count is known */
  sio_adapter_req_cb cb;
  void *ud;
  char id[];
};

void sio_adapter_req_table_init(sio_adapter_req_table *t, uv_loop_t *loop,
                                const sio_adapter_req_ops *ops, void *ud,
                                size_t id_len, uint32_t timeout_ms) {
  memset(t, 0, sizeof(*t));
  t->ops = ops;
  t->ud = ud;
  t->loop = loop;
  t->id_len = id_len;
  t->timeout_ms = timeout_ms;
  sio_map_init(&t->by_id);
  sio_queue_init(&t->reqs);
}

/* Tells the owner once a closing table has no request left. */
static void table_maybe_closed(sio_adapter_req_table *t) {
  void (*closed)(void *);
  if (!t->closing || !sio_queue_empty(&t->reqs) || !t->closed)
    return;
  sio_map_deinit(&t->by_id);
  closed = t->closed;
  t->closed = NULL;
  closed(t->closed_arg); /* may free t */
}

static void req_closed(uv_handle_t *h) {
  sio_adapter_req *q =
      sio_container_of((uv_timer_t *)h, sio_adapter_req, timer);
  sio_adapter_req_table *t = q->t;
  json_object_put(q->acc);
  sio_buf_deinit(&q->msg);
  sio_queue_remove(&q->link);
  sio_free(q);
  table_maybe_closed(t);
}

static void req_maybe_free(sio_adapter_req *q) {
  if (!q->done || q->holds > 0 || q->closing)
    return;
  q->closing = 1;
  uv_close((uv_handle_t *)&q->timer, req_closed);
}

static void req_unmap(sio_adapter_req *q) {
  if (q->in_map) {
    sio_map_remove(&q->t->by_id, q->id, q->t->id_len);
    q->in_map = 0;
  }
}

static void finish_fetch(sio_adapter_req *q, int status) {
  size_t n = json_object_array_length(q->acc), i, k = 0;
  sio_socket_info *infos = n ? sio_calloc(n, sizeof(*infos)) : NULL;
  const char ***rooms = n ? sio_calloc(n, sizeof(*rooms)) : NULL;
  if (n && (!infos || !rooms)) {
    if (!status)
      status = SIO_ERR_NOMEM;
    n = 0;
  }
  for (i = 0; i < n; i++)
    if (sio_adapter_info_from_json(json_object_array_get_idx(q->acc, i),
                                   &infos[k], &rooms[k]) == 0)
      k++;
  q->cb.fetch(q->ns, status, infos, k, q->ud);
  for (i = 0; rooms && i < k; i++)
    sio_adapter_free_rooms(rooms[i]);
  sio_free(rooms);
  sio_free(infos);
}

static void finish_rooms(sio_adapter_req *q, int status) {
  size_t n = json_object_array_length(q->acc), i;
  const char **v = n ? sio_malloc(n * sizeof(*v)) : NULL;
  if (n && !v) {
    if (!status)
      status = SIO_ERR_NOMEM;
    n = 0;
  }
  for (i = 0; i < n; i++)
    v[i] = json_object_get_string(json_object_array_get_idx(q->acc, i));
  q->cb.rooms(q->ns, status, v, n, q->ud);
  sio_free(v);
}

/* Fires q's callback once with status and what was collected. */
static void req_finish(sio_adapter_req *q, int status) {
  if (q->done)
    return;
  q->done = 1;
  uv_timer_stop(&q->timer);
  req_unmap(q);
  switch (q->kind) {
  case SIO_ADAPTER_REQ_FETCH:
    finish_fetch(q, status);
    break;
  case SIO_ADAPTER_REQ_ROOMS:
    finish_rooms(q, status);
    break;
  case SIO_ADAPTER_REQ_COUNT:
    q->cb.count(q->ns, status, status ? 0 : (size_t)q->expected, q->ud);
    break;
  case SIO_ADAPTER_REQ_SSE:
    q->cb.sse(q->ns, status, q->acc, q->ud);
    break;
  case SIO_ADAPTER_REQ_BACK:
    q->cb.sink->done(q->ud);
    break;
  }
  req_maybe_free(q);
}

static void req_timeout(uv_timer_t *timer) {
  sio_adapter_req *q = sio_container_of(timer, sio_adapter_req, timer);
  req_finish(q, q->kind == SIO_ADAPTER_REQ_BACK ? 0 : SIO_ERR_TIMEOUT);
}

sio_adapter_req *sio_adapter_req_new(sio_adapter_req_table *t, int kind,
                                     sio_namespace *ns, void *ctx,
                                     sio_adapter_req_cb cb, void *ud) {
  sio_adapter_req *q = sio_calloc(1, sizeof(*q) + t->id_len + 1);
  int tries;
  if (!q)
    return NULL;
  q->t = t;
  q->ns = ns;
  q->ctx = ctx;
  q->kind = kind;
  q->cb = cb;
  q->ud = ud;
  sio_buf_init(&q->msg);
  if (kind != SIO_ADAPTER_REQ_COUNT) {
    q->acc = json_object_new_array();
    if (!q->acc)
      goto fail;
    for (tries = 0; tries < ID_TRIES; tries++) {
      int rv;
      if (t->ops->new_id(q->id))
        goto fail;
      rv = sio_map_put(&t->by_id, q->id, t->id_len, q);
      if (rv == 0)
        break;
      if (rv != SIO_ERR_EXISTS)
        goto fail;
    }
    if (tries == ID_TRIES)
      goto fail;
    q->in_map = 1;
  }
  uv_timer_init(t->loop, &q->timer);
  sio_queue_insert_tail(&t->reqs, &q->link);
  return q;
fail:
  json_object_put(q->acc);
  sio_free(q);
  return NULL;
}

const char *sio_adapter_req_id(const sio_adapter_req *q) { return q->id; }

int sio_adapter_req_kind(const sio_adapter_req *q) { return q->kind; }

sio_buf *sio_adapter_req_msg(sio_adapter_req *q) { return &q->msg; }

/* Frees a request whose start failed: nothing fires. */
static int req_abort(sio_adapter_req *q, int rv) {
  q->done = 1;
  req_unmap(q);
  req_maybe_free(q);
  return rv;
}

static void on_count(void *ud, int status, int64_t count) {
  sio_adapter_req *q = ud;
  q->holds--;
  if (q->done) {
    req_maybe_free(q);
    return;
  }
  if (status) {
    req_finish(q, status == SIO_ERR_CANCELED ? status : SIO_ERR_CLOSED);
    return;
  }
  if (q->kind == SIO_ADAPTER_REQ_COUNT) {
    q->expected = count > 0 ? (long)count : 1;
    req_finish(q, 0);
    return;
  }
  /* every other server answers once (we are one of count) */
  q->expected = (long)count - 1;
  if (q->expected <= 0) {
    req_finish(q, 0);
    return;
  }
  if (q->t->ops->publish(q->t->ud, q->ctx, &q->msg)) {
    req_finish(q, SIO_ERR_CLOSED);
    return;
  }
  sio_buf_deinit(&q->msg);
  sio_buf_init(&q->msg);
}

int sio_adapter_req_start(sio_adapter_req *q, int encoded) {
  sio_adapter_req_table *t = q->t;
  int rv;
  if (encoded)
    return req_abort(q, encoded);
  q->holds = 1;
  rv = t->ops->count(t->ud, q->ctx, on_count, q);
  if (rv) {
    q->holds = 0;
    return req_abort(q, rv);
  }
  uv_timer_start(&q->timer, req_timeout, t->timeout_ms, 0);
  return 0;
}

int sio_adapter_req_send(sio_adapter_req *q, int encoded, uint32_t timeout_ms) {
  int rv = encoded ? encoded : q->t->ops->publish(q->t->ud, q->ctx, &q->msg);
  if (rv)
    return req_abort(q, rv);
  sio_buf_deinit(&q->msg);
  sio_buf_init(&q->msg);
  uv_timer_start(&q->timer, req_timeout, timeout_ms, 0);
  return 0;
}

sio_adapter_req *sio_adapter_req_find(sio_adapter_req_table *t,
                                      const char *id) {
  return id ? sio_map_get(&t->by_id, id, strlen(id)) : NULL;
}

static void acc_add(sio_adapter_req *q, json_object *v) {
  if (json_object_array_add(q->acc, json_object_get(v)))
    json_object_put(v);
}

void sio_adapter_req_answer(sio_adapter_req *q, json_object *v) {
  size_t i, n;
  if (q->done)
    return;
  switch (q->kind) {
  case SIO_ADAPTER_REQ_FETCH:
  case SIO_ADAPTER_REQ_ROOMS:
    q->got++;
    n = json_object_is_type(v, json_type_array) ? json_object_array_length(v)
                                                : 0;
    for (i = 0; i < n; i++) {
      json_object *it = json_object_array_get_idx(v, i);
      if (q->kind == SIO_ADAPTER_REQ_ROOMS &&
          !json_object_is_type(it, json_type_string))
        continue;
      acc_add(q, it);
    }
    break;
  case SIO_ADAPTER_REQ_SSE:
    q->got++;
    acc_add(q, v);
    break;
  default:
    return;
  }
  if (q->got >= q->expected && q->expected > 0)
    req_finish(q, 0);
}

void sio_adapter_req_ack_count(sio_adapter_req *q, size_t nclients) {
  if (!q->done && q->kind == SIO_ADAPTER_REQ_BACK)
    q->cb.sink->count(q->ud, nclients);
}

void sio_adapter_req_ack(sio_adapter_req *q, json_object *arg,
                         const sio_bin *bins, size_t nbins) {
  if (!q->done && q->kind == SIO_ADAPTER_REQ_BACK)
    q->cb.sink->response(q->ud, arg, bins, nbins);
}

void sio_adapter_req_table_close(sio_adapter_req_table *t,
                                 void (*closed)(void *arg), void *arg) {
  sio_queue *it, *next;
  t->closing = 1;
  t->closed = closed;
  t->closed_arg = arg;
  sio_queue_foreach_safe(it, next, &t->reqs) {
    req_finish(sio_container_of(it, sio_adapter_req, link), SIO_ERR_CANCELED);
  }
  table_maybe_closed(t);
}
