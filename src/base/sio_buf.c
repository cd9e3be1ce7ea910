/* sio_buf.c: growable byte buffer with a NUL guard byte. */
#include "sio_buf.h"

#include <stdio.h>
#include <string.h>

#include "sio_int.h"
#include "sio_mem.h"

void sio_buf_init(sio_buf *b) {
  b->data = NULL;
  b->len = 0;
  b->cap = 0;
}

void sio_buf_deinit(sio_buf *b) {
  sio_free(b->data);
  sio_buf_init(b);
}

int sio_buf_reserve(sio_buf *b, size_t extra) {
  size_t need, cap;
  char *p;
  if (extra > SIZE_MAX - b->len - 1)
    return SIO_ERR_NOMEM;
  need = b->len + extra + 1;
  if (need <= b->cap)
    return 0;
  cap = b->cap ? b->cap : 64;
  while (cap < need)
    cap = cap > SIZE_MAX / 2 ? need : cap * 2;
  p = sio_realloc(b->data, cap);
  if (!p)
    return SIO_ERR_NOMEM;
  b->data = p;
  b->cap = cap;
  return 0;
}

int sio_buf_append(sio_buf *b, const void *p, size_t n) {
  int rv = sio_buf_reserve(b, n);
  if (rv)
    return rv;
  if (n)
    memcpy(b->data + b->len, p, n);
  b->len += n;
  b->data[b->len] = '\0';
  return 0;
}

int sio_buf_append_str(sio_buf *b, const char *s) {
  return sio_buf_append(b, s, strlen(s));
}

int sio_buf_append_byte(sio_buf *b, uint8_t c) {
  return sio_buf_append(b, &c, 1);
}

int sio_buf_append_u64(sio_buf *b, uint64_t v) {
  char tmp[24];
  size_t i = sizeof(tmp);
  do {
    tmp[--i] = (char)('0' + v % 10);
    v /= 10;
  } while (v);
  return sio_buf_append(b, tmp + i, sizeof(tmp) - i);
}

int sio_buf_appendf(sio_buf *b, const char *fmt, ...) {
  va_list ap;
  int n, rv;
  char small[256];
  va_start(ap, fmt);
  n = vsnprintf(small, sizeof(small), fmt, ap);
  va_end(ap);
  if (n < 0)
    return SIO_ERR_INVAL;
  if ((size_t)n < sizeof(small))
    return sio_buf_append(b, small, (size_t)n);
  rv = sio_buf_reserve(b, (size_t)n);
  if (rv)
    return rv;
  va_start(ap, fmt);
  vsnprintf(b->data + b->len, (size_t)n + 1, fmt, ap);
  va_end(ap);
  b->len += (size_t)n;
  return 0;
}

void sio_buf_consume(sio_buf *b, size_t n) {
  if (n >= b->len) {
    sio_buf_reset(b);
    return;
  }
  memmove(b->data, b->data + n, b->len - n);
  b->len -= n;
  b->data[b->len] = '\0';
}

void sio_buf_truncate(sio_buf *b, size_t len) {
  b->len = len;
  if (b->data)
    b->data[len] = '\0';
}

void sio_buf_reset(sio_buf *b) {
  b->len = 0;
  if (b->data)
    b->data[0] = '\0';
}

char *sio_buf_steal(sio_buf *b, size_t *len) {
  char *p = b->data;
  if (len)
    *len = b->len;
  sio_buf_init(b);
  return p;
}
