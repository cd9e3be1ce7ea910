#ifndef SIO_BUF_H
#define SIO_BUF_H

/* Growable byte buffer, embedded by value: sio_buf_init() / sio_buf_deinit().
 * `data` is always NUL-terminated when non-NULL (so text can be handed to
 * json-c and printf without a copy); `len` excludes the terminator. */

#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

typedef struct sio_buf {
  char *data;
  size_t len;
  size_t cap;
} sio_buf;

void sio_buf_init(sio_buf *b);
/* Frees the storage; the struct may be reused after sio_buf_init(). */
void sio_buf_deinit(sio_buf *b);
/* Makes room for `extra` more bytes. Returns 0 or SIO_ERR_NOMEM. */
int sio_buf_reserve(sio_buf *b, size_t extra);
/* Appends n bytes (copied). Returns 0 or SIO_ERR_NOMEM. */
int sio_buf_append(sio_buf *b, const void *p, size_t n);
int sio_buf_append_str(sio_buf *b, const char *s);
int sio_buf_append_byte(sio_buf *b, uint8_t c);
/* Appends the decimal form of v. Returns 0 or SIO_ERR_NOMEM. */
int sio_buf_append_u64(sio_buf *b, uint64_t v);
/* printf-style append. Returns 0, SIO_ERR_NOMEM or SIO_ERR_INVAL. */
int sio_buf_appendf(sio_buf *b, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));
/* Drops the first n bytes (n <= len). */
void sio_buf_consume(sio_buf *b, size_t n);
/* Cuts the buffer back to its first len bytes (len <= b->len), as after
 * a failed append; it stays NUL-terminated. */
void sio_buf_truncate(sio_buf *b, size_t len);
/* Empties the buffer, keeping its storage. */
void sio_buf_reset(sio_buf *b);
/* Hands the storage to the caller (free with sio_free) and re-inits b.
 * Returns NULL when the buffer never held data. */
char *sio_buf_steal(sio_buf *b, size_t *len);

#endif
