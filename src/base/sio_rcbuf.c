/* sio_rcbuf.c: refcounted payloads shared across output queues. */
#include "sio_rcbuf.h"

#include <stdatomic.h>
#include <stddef.h>
#include <string.h>

#include "sio/sio_errno.h"
#include "sio_mem.h"

/* One thread's count of a shared buffer, alone on its cache line. */
typedef struct rcslot {
  _Alignas(64) uint64_t n;
} rcslot;

typedef struct sio_rcshare {
  _Alignas(64) atomic_uint holders; /* slots whose count is not zero */
  unsigned nslots;
  rcslot slot[];
} sio_rcshare;

static _Thread_local unsigned thread_slot;

/* head and data must be one contiguous span (a framed delivery is a single
 * iovec starting inside head). */
_Static_assert(offsetof(sio_rcbuf, data) ==
                   offsetof(sio_rcbuf, head) + SIO_RCBUF_HEADROOM,
               "sio_rcbuf: head must end where data begins");

sio_rcbuf *sio_rcbuf_new(size_t len) {
  sio_rcbuf *b;
  if (len > SIZE_MAX - sizeof(*b) - 1)
    return NULL;
  b = sio_malloc(sizeof(*b) + len + 1);
  if (!b)
    return NULL;
  b->refcnt = 1;
  b->flags = 0;
  b->len = len;
  b->share = NULL;
  b->hlen = 0;
  b->data[len] = 0;
  return b;
}

sio_rcbuf *sio_rcbuf_new_copy(const void *p, size_t len) {
  sio_rcbuf *b = sio_rcbuf_new(len);
  if (b && len)
    memcpy(b->data, p, len);
  return b;
}

sio_rcbuf *sio_rcbuf_ref(sio_rcbuf *b) {
  if (b->flags & SIO_RCBUF_SHARED)
    b->share->slot[thread_slot].n++;
  else
    b->refcnt++;
  return b;
}

static void shared_unref(sio_rcbuf *b) {
  sio_rcshare *sh = b->share;
  if (--sh->slot[thread_slot].n)
    return;
  /* this thread is done with it; the last thread frees (acq_rel: every
   * thread's reads of the bytes happen before the free) */
  if (atomic_fetch_sub_explicit(&sh->holders, 1, memory_order_acq_rel) == 1) {
    sio_free(sh);
    sio_free(b);
  }
}

void sio_rcbuf_unref(sio_rcbuf *b) {
  if (!b)
    return;
  if (b->flags & SIO_RCBUF_SHARED)
    shared_unref(b);
  else if (--b->refcnt == 0)
    sio_free(b);
}

void sio_rcbuf_thread_slot(unsigned slot) { thread_slot = slot; }

int sio_rcbuf_share(sio_rcbuf *b, unsigned nslots) {
  sio_rcshare *sh;
  unsigned i;
  if (!nslots || (b->flags & SIO_RCBUF_SHARED) || b->refcnt != 1 ||
      thread_slot >= nslots)
    return SIO_ERR_INVAL;
  sh = sio_aligned_calloc(64, sizeof(*sh) + (size_t)nslots * sizeof(rcslot));
  if (!sh)
    return SIO_ERR_NOMEM;
  for (i = 0; i < nslots; i++)
    sh->slot[i].n = 1;
  sh->nslots = nslots;
  atomic_init(&sh->holders, nslots);
  b->share = sh;
  b->flags |= SIO_RCBUF_SHARED;
  return 0;
}
