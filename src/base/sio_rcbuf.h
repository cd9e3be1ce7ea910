#ifndef SIO_RCBUF_H
#define SIO_RCBUF_H

/* Refcounted immutable byte string: a broadcast is encoded once into one of
 * these and every recipient's output queue holds a reference (nghttp2 rcbuf,
 * h2o shared chunks). Single-threaded: the count is a plain integer. The
 * bytes, their length and flags must not change once the buffer has been
 * queued anywhere: the framing header cached in head depends on them. */

#include <stddef.h>
#include <stdint.h>

/* Bytes reserved in front of data for a framing header that is the same
 * for every recipient (a WebSocket frame header is at most 10 bytes): the
 * transport writes it once, and each delivery is then one contiguous span,
 * header and payload, while data alone stays the raw message (what a
 * polling session sends). */
#define SIO_RCBUF_HEADROOM 10

typedef struct sio_rcbuf {
  uint32_t refcnt;
  uint32_t flags; /* SIO_RCBUF_BINARY when the bytes are a binary message */
  size_t len;
  uint8_t hlen; /* bytes at the end of head in use; 0: not framed yet */
  uint8_t head[SIO_RCBUF_HEADROOM]; /* ends exactly where data begins */
  uint8_t data[]; /* len bytes, then a NUL guard */
} sio_rcbuf;

#define SIO_RCBUF_BINARY 1u

/* Allocates a buffer of len bytes (contents uninitialised, refcount 1).
 * Returns NULL when out of memory. */
sio_rcbuf *sio_rcbuf_new(size_t len);
/* Allocates and copies len bytes from p (copied). NULL when out of memory. */
sio_rcbuf *sio_rcbuf_new_copy(const void *p, size_t len);
/* Adds a reference; returns b. */
sio_rcbuf *sio_rcbuf_ref(sio_rcbuf *b);
/* Drops a reference, freeing at zero. NULL-safe. */
void sio_rcbuf_unref(sio_rcbuf *b);

#endif
