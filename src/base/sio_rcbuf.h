#ifndef SIO_RCBUF_H
#define SIO_RCBUF_H

/* Refcounted immutable byte string: a broadcast is encoded once into one of
 * these and every recipient's output queue holds a reference (nghttp2 rcbuf,
 * h2o shared chunks). The count is a plain integer. The bytes, their length
 * and flags must not change once the buffer has been queued anywhere: the
 * framing header cached in head depends on them.
 *
 * Across threads (loops), sio_rcbuf_share gives each thread a count of its
 * own, on its own cache line: a loop refs and unrefs the buffer for every
 * delivery with plain arithmetic, as before, and touches memory another
 * loop writes only when it starts or stops holding the buffer (an atomic
 * operation or two per loop and broadcast, none per delivery). */

#include <stddef.h>
#include <stdint.h>

/* Bytes reserved in front of data for a framing header that is the same
 * for every recipient (a WebSocket frame header is at most 10 bytes): the
 * transport writes it once, and each delivery is then one contiguous span,
 * header and payload, while data alone stays the raw message (what a
 * polling session sends). */
#define SIO_RCBUF_HEADROOM 10

struct sio_rcshare;

typedef struct sio_rcbuf {
  uint32_t refcnt;
  uint32_t flags; /* SIO_RCBUF_BINARY when the bytes are a binary message;
                     SIO_RCBUF_SHARED once shared across threads */
  size_t len;
  struct sio_rcshare *share; /* the per-thread counts, when shared */
  uint8_t hlen; /* bytes at the end of head in use; 0: not framed yet */
  uint8_t head[SIO_RCBUF_HEADROOM]; /* ends exactly where data begins */
  uint8_t data[]; /* len bytes, then a NUL guard */
} sio_rcbuf;

#define SIO_RCBUF_BINARY 1u
#define SIO_RCBUF_SHARED 2u

/* Allocates a buffer of len bytes (contents uninitialised, refcount 1).
 * Returns NULL when out of memory. */
sio_rcbuf *sio_rcbuf_new(size_t len);
/* Allocates and copies len bytes from p (copied). NULL when out of memory. */
sio_rcbuf *sio_rcbuf_new_copy(const void *p, size_t len);
/* Adds a reference; returns b. */
sio_rcbuf *sio_rcbuf_ref(sio_rcbuf *b);
/* Drops a reference, freeing at zero. NULL-safe. */
void sio_rcbuf_unref(sio_rcbuf *b);

/* The slot the calling thread's references to shared buffers count in: a
 * loop's index, set once by the loop's thread (0 by default). */
void sio_rcbuf_thread_slot(unsigned slot);
/* Makes b, whose one reference the caller holds, shareable by the threads
 * of slots 0..nslots-1; the caller's reference is its slot's. A thread
 * refs and unrefs it from its own slot as usual; another thread gets it
 * only through a transit reference (below) or from a holder that keeps it
 * alive meanwhile (a store under a lock: its first ref then counts it in
 * again). b is freed when no slot and no transit holds it. Frame b first
 * (head), as nothing of it may change after. Returns 0, SIO_ERR_INVAL
 * (nslots 0, the caller's slot not below it, b already shared or held
 * more than once) or SIO_ERR_NOMEM (b unchanged). */
int sio_rcbuf_share(sio_rcbuf *b, unsigned nslots);
/* A reference of a shared b for another thread, held by no slot while it
 * travels (in a letter): that thread takes it with transit_arrive, or, if
 * it never arrives, anyone drops it with transit_drop. Returns b. */
sio_rcbuf *sio_rcbuf_transit_ref(sio_rcbuf *b);
/* On the receiving thread: the transit reference becomes one of its slot
 * (released with sio_rcbuf_unref). */
void sio_rcbuf_transit_arrive(sio_rcbuf *b);
/* Drops a transit reference that never arrived (any thread). NULL-safe. */
void sio_rcbuf_transit_drop(sio_rcbuf *b);

#endif
