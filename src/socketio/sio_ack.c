/* sio_ack.c: pending server-to-client acknowledgements (socket.io-protocol
 * README, "Acknowledgement": the sender adds an id to an EVENT and the
 * receiver answers with an ACK carrying the same id).
 *
 * Each pending entry lives in its socket's table until exactly one of:
 *   - resolve: the ACK arrived          -> cb(status 0, args)
 *   - its timer fired                   -> cb(SIO_ERR_TIMEOUT)
 *   - cancel_all at socket teardown     -> cb(SIO_ERR_CANCELED)
 *   - discard: the emit never went out  -> no callback
 * An entry is always unlinked and its memory handed to its release path
 * before the callback runs; an entry with a timer is freed in the timer's
 * close callback (libuv rule: free a handle only once closed), one without
 * is freed at once. Nothing here touches the owner socket, so the callback
 * may drop the last reference to it. */
#include "sio_ack.h"

#include "sio_int.h"
#include "sio_mem.h"

typedef struct sio_ack_pending {
  sio_queue link;
  int64_t id;
  sio_socket *owner;
  sio_ack_cb cb;
  void *ud;
  int has_timer;
  uv_timer_t timer;
} sio_ack_pending;

void sio_ack_table_init(sio_ack_table *t) {
  sio_queue_init(&t->pending);
  t->count = 0;
}

int64_t sio_ack_next_id(int64_t *counter) {
  int64_t id = *counter;
  if (id < 0 || id >= SIO_ACK_ID_LIMIT)
    id = 0;
  *counter = id + 1 >= SIO_ACK_ID_LIMIT ? 0 : id + 1;
  return id;
}

static sio_ack_pending *find(const sio_ack_table *t, int64_t id) {
  sio_queue *q;
  sio_queue_foreach(q, &t->pending) {
    sio_ack_pending *p = sio_container_of(q, sio_ack_pending, link);
    if (p->id == id)
      return p;
  }
  return NULL;
}

static void on_timer_closed(uv_handle_t *h) {
  sio_free(sio_container_of((uv_timer_t *)h, sio_ack_pending, timer));
}

/* Frees p (already unlinked), through the timer's close when it has one. */
static void release(sio_ack_pending *p) {
  if (p->has_timer) {
    uv_timer_stop(&p->timer);
    uv_close((uv_handle_t *)&p->timer, on_timer_closed);
  } else {
    sio_free(p);
  }
}

/* Unlinks p from t, releases it and runs its callback once. */
static void fire(sio_ack_table *t, sio_ack_pending *p, int status,
                 json_object *args, const sio_bin *bins, size_t nbins) {
  sio_ack_cb cb = p->cb;
  sio_socket *owner = p->owner;
  void *ud = p->ud;
  if (t)
    t->count--;
  sio_queue_remove(&p->link);
  release(p);
  cb(owner, status, args, bins, nbins, ud);
}

static void on_timeout(uv_timer_t *h) {
  sio_ack_pending *p = sio_container_of(h, sio_ack_pending, timer);
  sio_ack_table *t = h->data;
  fire(t, p, SIO_ERR_TIMEOUT, NULL, NULL, 0);
}

int sio_ack_table_add(sio_ack_table *t, uv_loop_t *loop, int64_t id,
                      uint32_t timeout_ms, sio_socket *owner, sio_ack_cb cb,
                      void *ud) {
  sio_ack_pending *p;
  if (!cb || (timeout_ms && !loop))
    return SIO_ERR_INVAL;
  if (find(t, id))
    return SIO_ERR_EXISTS;
  p = sio_malloc(sizeof(*p));
  if (!p)
    return SIO_ERR_NOMEM;
  p->id = id;
  p->owner = owner;
  p->cb = cb;
  p->ud = ud;
  p->has_timer = 0;
  if (timeout_ms) {
    /* uv_timer_init and uv_timer_start cannot fail for a valid loop and a
     * non-NULL callback. */
    uv_timer_init(loop, &p->timer);
    p->timer.data = t;
    uv_timer_start(&p->timer, on_timeout, timeout_ms, 0);
    p->has_timer = 1;
  }
  sio_queue_insert_tail(&t->pending, &p->link);
  t->count++;
  return 0;
}

int sio_ack_table_resolve(sio_ack_table *t, int64_t id, json_object *args,
                          const sio_bin *bins, size_t nbins) {
  sio_ack_pending *p = find(t, id);
  if (!p)
    return SIO_ERR_NOTFOUND;
  fire(t, p, 0, args, bins, nbins);
  return 0;
}

int sio_ack_table_discard(sio_ack_table *t, int64_t id) {
  sio_ack_pending *p = find(t, id);
  if (!p)
    return SIO_ERR_NOTFOUND;
  t->count--;
  sio_queue_remove(&p->link);
  release(p);
  return 0;
}

void sio_ack_table_cancel_all(sio_ack_table *t) {
  sio_queue detached;
  if (sio_queue_empty(&t->pending))
    return;
  /* Move the whole list to a local head: from here on nothing refers to
   * t, which a callback may free. */
  detached.next = t->pending.next;
  detached.prev = t->pending.prev;
  detached.next->prev = &detached;
  detached.prev->next = &detached;
  sio_queue_init(&t->pending);
  t->count = 0;
  while (!sio_queue_empty(&detached)) {
    sio_ack_pending *p =
        sio_container_of(sio_queue_head(&detached), sio_ack_pending, link);
    fire(NULL, p, SIO_ERR_CANCELED, NULL, NULL, 0);
  }
}
