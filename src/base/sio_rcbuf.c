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
  /* slots whose count is not zero, plus references in transit */
  _Alignas(64) atomic_uint holders;
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
  if (b->flags & SIO_RCBUF_SHARED) {
    /* a thread that starts holding it again got it from a holder that
     * keeps it alive (a transit, a locked store): holders is not zero */
    if (b->share->slot[thread_slot].n++ == 0)
      atomic_fetch_add_explicit(&b->share->holders, 1, memory_order_relaxed);
  } else {
    b->refcnt++;
  }
  return b;
}

/* Drops one holder: a slot that reached zero or a transit reference. The
 * last holder frees (acq_rel: every thread's reads of the bytes happen
 * before the free). */
static void holder_drop(sio_rcbuf *b) {
  sio_rcshare *sh = b->share;
  if (atomic_fetch_sub_explicit(&sh->holders, 1, memory_order_acq_rel) == 1) {
    sio_free(sh);
    sio_free(b);
  }
}

static void shared_unref(sio_rcbuf *b) {
  if (--b->share->slot[thread_slot].n == 0)
    holder_drop(b);
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
  if (!nslots || (b->flags & SIO_RCBUF_SHARED) || b->refcnt != 1 ||
      thread_slot >= nslots)
    return SIO_ERR_INVAL;
  sh = sio_aligned_calloc(64, sizeof(*sh) + (size_t)nslots * sizeof(rcslot));
  if (!sh)
    return SIO_ERR_NOMEM;
  sh->slot[thread_slot].n = 1; /* the caller's reference */
  sh->nslots = nslots;
  atomic_init(&sh->holders, 1);
  b->share = sh;
  b->flags |= SIO_RCBUF_SHARED;
  return 0;
}

sio_rcbuf *sio_rcbuf_transit_ref(sio_rcbuf *b) {
  atomic_fetch_add_explicit(&b->share->holders, 1, memory_order_relaxed);
  return b;
}

void sio_rcbuf_transit_arrive(sio_rcbuf *b) {
  /* the transit's holder becomes this slot's, unless the slot already
   * holds it (then one holder too many: the slot keeps it alive) */
  if (b->share->slot[thread_slot].n++ != 0)
    atomic_fetch_sub_explicit(&b->share->holders, 1, memory_order_relaxed);
}

void sio_rcbuf_transit_drop(sio_rcbuf *b) {
  if (b)
    holder_drop(b);
}
