#ifndef SIO_UTIL_H
#define SIO_UTIL_H

/* Small pure helpers: base64 (RFC 4648, with padding), percent-decoding,
 * uuid text form, ISO-8601 timestamps, constant-time compare. */

#include <stddef.h>
#include <stdint.h>

#include "sio_buf.h"

/* Length of the base64 text for n bytes. */
static inline size_t sio_base64_len(size_t n) { return (n + 2) / 3 * 4; }
/* Writes base64 of src into dst (sio_base64_len(n) bytes, no NUL). */
void sio_base64_encode(char *dst, const uint8_t *src, size_t n);
/* Appends base64 of src to b. Returns 0 or SIO_ERR_NOMEM. */
int sio_base64_append(sio_buf *b, const uint8_t *src, size_t n);
/* Decodes standard base64 (padding optional, no whitespace) into dst, which
 * must hold n/4*3+3 bytes. Returns the decoded length or SIO_ERR_PROTO. */
long sio_base64_decode(uint8_t *dst, const char *src, size_t n);

/* The value of the hexadecimal digit c (either case), or -1. */
int sio_hex_digit(int c);
/* Appends the percent-decoded form of s[0..n) to out (RFC 3986 %XX, either
 * case; with plus_space, '+' is a space as in a query string). The result
 * may hold NUL bytes (out->len is authoritative). Returns 0, SIO_ERR_PROTO
 * (a '%' not followed by two hex digits) or SIO_ERR_NOMEM; on error out is
 * unchanged. */
int sio_pct_decode(sio_buf *out, const char *s, size_t n, int plus_space);

/* Formats 16 random bytes as a version 4 uuid: 36 chars + NUL into out. */
void sio_uuid_format(char out[37], const uint8_t rnd[16]);
/* ISO-8601 UTC with milliseconds, "2024-01-02T03:04:05.678Z": 24 chars + NUL.
 */
void sio_iso8601_ms(char out[25], uint64_t ms_since_epoch);
/* Compares n bytes in time independent of the contents: 0 when equal. */
int sio_ct_memcmp(const void *a, const void *b, size_t n);

#endif
