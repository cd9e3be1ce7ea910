/* sio_rcbuf.c: refcounted payloads shared across output queues. */
#include "sio_rcbuf.h"

#include <stddef.h>
#include <string.h>

#include "sio_mem.h"

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
  b->refcnt++;
  return b;
}

void sio_rcbuf_unref(sio_rcbuf *b) {
  if (b && --b->refcnt == 0)
    sio_free(b);
}
