/* sio_mailbox.c: see sio_mailbox.h. */
#include "sio_mailbox.h"

#include "sio/sio_errno.h"

#define SIO_MAILBOX_MAX 65536

/* Takes every waiting letter under the lock, then runs them outside it:
 * a letter may post again (to this mailbox too: it runs next round). */
static void async_cb(uv_async_t *a) {
  sio_mailbox *mb = a->data;
  sio_letter *l;
  uv_mutex_lock(&mb->lock);
  l = mb->head;
  mb->head = NULL;
  mb->tail = &mb->head;
  mb->count = 0;
  uv_mutex_unlock(&mb->lock);
  while (l) {
    sio_letter *next = l->next;
    l->fn(l);
    l = next;
  }
}

int sio_mailbox_init(sio_mailbox *mb, uv_loop_t *loop, size_t max) {
  mb->head = NULL;
  mb->tail = &mb->head;
  mb->count = 0;
  mb->max = max ? max : SIO_MAILBOX_MAX;
  mb->refused = 0;
  mb->closed = 0;
  mb->cancel = NULL;
  mb->done = NULL;
  if (uv_mutex_init(&mb->lock))
    return SIO_ERR_NOMEM;
  if (uv_async_init(loop, &mb->async, async_cb)) {
    uv_mutex_destroy(&mb->lock);
    return SIO_ERR_NOMEM;
  }
  mb->async.data = mb;
  return 0;
}

int sio_mailbox_post(sio_mailbox *mb, sio_letter *l) {
  int rv = 0;
  l->next = NULL;
  uv_mutex_lock(&mb->lock);
  if (mb->closed) {
    rv = SIO_ERR_CLOSED;
  } else if (mb->count >= mb->max) {
    mb->refused++;
    rv = SIO_ERR_LIMIT;
  } else {
    *mb->tail = l;
    mb->tail = &l->next;
    mb->count++;
    /* under the lock: close cannot have run uv_close in between */
    uv_async_send(&mb->async);
  }
  uv_mutex_unlock(&mb->lock);
  return rv;
}

uint64_t sio_mailbox_refused(sio_mailbox *mb) {
  uint64_t n;
  uv_mutex_lock(&mb->lock);
  n = mb->refused;
  uv_mutex_unlock(&mb->lock);
  return n;
}

static void closed_cb(uv_handle_t *h) {
  sio_mailbox *mb = h->data;
  uv_mutex_destroy(&mb->lock);
  if (mb->done)
    mb->done(mb);
}

void sio_mailbox_close(sio_mailbox *mb, void (*cancel)(sio_letter *l),
                       void (*done)(sio_mailbox *mb)) {
  sio_letter *l;
  uv_mutex_lock(&mb->lock);
  mb->closed = 1;
  l = mb->head;
  mb->head = NULL;
  mb->tail = &mb->head;
  mb->count = 0;
  mb->cancel = cancel;
  mb->done = done;
  uv_close((uv_handle_t *)&mb->async, closed_cb);
  uv_mutex_unlock(&mb->lock);
  while (l) {
    sio_letter *next = l->next;
    if (cancel)
      cancel(l);
    l = next;
  }
}
