/* sio_util.c: base64, percent-decoding, uuid, timestamps, constant-time
 * compare. */
#include "sio_util.h"

#include <stdio.h>
#include <string.h>
#include <time.h>

#include "sio_int.h"

static const char b64[] =
    "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

void sio_base64_encode(char *dst, const uint8_t *src, size_t n) {
  size_t i;
  for (i = 0; i + 2 < n; i += 3) {
    uint32_t v =
        (uint32_t)src[i] << 16 | (uint32_t)src[i + 1] << 8 | src[i + 2];
    *dst++ = b64[v >> 18];
    *dst++ = b64[(v >> 12) & 63];
    *dst++ = b64[(v >> 6) & 63];
    *dst++ = b64[v & 63];
  }
  if (n - i == 1) {
    uint32_t v = (uint32_t)src[i] << 16;
    *dst++ = b64[v >> 18];
    *dst++ = b64[(v >> 12) & 63];
    *dst++ = '=';
    *dst++ = '=';
  } else if (n - i == 2) {
    uint32_t v = (uint32_t)src[i] << 16 | (uint32_t)src[i + 1] << 8;
    *dst++ = b64[v >> 18];
    *dst++ = b64[(v >> 12) & 63];
    *dst++ = b64[(v >> 6) & 63];
    *dst++ = '=';
  }
}

int sio_base64_append(sio_buf *b, const uint8_t *src, size_t n) {
  size_t m = sio_base64_len(n);
  int rv = sio_buf_reserve(b, m);
  if (rv)
    return rv;
  sio_base64_encode(b->data + b->len, src, n);
  b->len += m;
  b->data[b->len] = '\0';
  return 0;
}

static int b64val(unsigned char c) {
  if (c >= 'A' && c <= 'Z')
    return c - 'A';
  if (c >= 'a' && c <= 'z')
    return c - 'a' + 26;
  if (c >= '0' && c <= '9')
    return c - '0' + 52;
  if (c == '+')
    return 62;
  if (c == '/')
    return 63;
  return -1;
}

long sio_base64_decode(uint8_t *dst, const char *src, size_t n) {
  size_t i, o = 0;
  uint32_t acc = 0;
  int bits = 0;
  while (n > 0 && src[n - 1] == '=')
    n--;
  if (n % 4 == 1)
    return SIO_ERR_PROTO;
  for (i = 0; i < n; i++) {
    int v = b64val((unsigned char)src[i]);
    if (v < 0)
      return SIO_ERR_PROTO;
    acc = (acc << 6) | (uint32_t)v;
    bits += 6;
    if (bits >= 8) {
      bits -= 8;
      dst[o++] = (uint8_t)(acc >> bits);
    }
  }
  return (long)o;
}

void sio_uuid_format(char out[37], const uint8_t rnd[16]) {
  static const char hex[] = "0123456789abcdef";
  uint8_t u[16];
  int i, o = 0;
  memcpy(u, rnd, 16);
  u[6] = (uint8_t)((u[6] & 0x0f) | 0x40);
  u[8] = (uint8_t)((u[8] & 0x3f) | 0x80);
  for (i = 0; i < 16; i++) {
    if (i == 4 || i == 6 || i == 8 || i == 10)
      out[o++] = '-';
    out[o++] = hex[u[i] >> 4];
    out[o++] = hex[u[i] & 15];
  }
  out[o] = '\0';
}

void sio_iso8601_ms(char out[25], uint64_t ms) {
  time_t t = (time_t)(ms / 1000);
  struct tm tm;
  char tmp[64]; /* roomy: the compiler cannot bound tm's fields */
  gmtime_r(&t, &tm);
  snprintf(tmp, sizeof(tmp), "%04d-%02d-%02dT%02d:%02d:%02d.%03uZ",
           tm.tm_year + 1900, tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min,
           tm.tm_sec, (unsigned)(ms % 1000));
  memcpy(out, tmp, 24);
  out[24] = '\0';
}

int sio_ct_memcmp(const void *a, const void *b, size_t n) {
  const volatile uint8_t *x = a, *y = b;
  uint8_t d = 0;
  size_t i;
  for (i = 0; i < n; i++)
    d |= x[i] ^ y[i];
  return d != 0;
}

int sio_hex_digit(int c) {
  if (c >= '0' && c <= '9')
    return c - '0';
  if (c >= 'a' && c <= 'f')
    return c - 'a' + 10;
  if (c >= 'A' && c <= 'F')
    return c - 'A' + 10;
  return -1;
}

int sio_pct_decode(sio_buf *out, const char *s, size_t n, int plus_space) {
  size_t i, len0 = out->len;
  int rv = n ? sio_buf_reserve(out, n) : 0; /* decoding never lengthens */
  if (rv || n == 0)
    return rv;
  for (i = 0; i < n; i++) {
    int c = (unsigned char)s[i];
    if (c == '%') {
      int hi = n - i > 2 ? sio_hex_digit(s[i + 1]) : -1;
      int lo = hi >= 0 ? sio_hex_digit(s[i + 2]) : -1;
      if (lo < 0) {
        sio_buf_truncate(out, len0);
        return SIO_ERR_PROTO;
      }
      c = hi << 4 | lo;
      i += 2;
    } else if (c == '+' && plus_space) {
      c = ' ';
    }
    out->data[out->len++] = (char)c;
  }
  out->data[out->len] = '\0';
  return 0;
}
