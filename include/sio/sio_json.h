#ifndef SIO_SIO_JSON_H
#define SIO_SIO_JSON_H

/* JSON as the Socket.IO layer reads it, for code that must accept exactly
 * what the stock clients' JSON.parse accepts (a publish API, a bridge).
 * Included by <sio/sio.h>; usable alone, without libuv. */

#include <json-c/json.h>
#include <stddef.h>

#include "sio/sio_errno.h"

#ifdef __cplusplus
extern "C" {
#endif

#ifndef SIO_EXTERN
#if defined(__GNUC__) && defined(BUILDING_LIBSIO)
#define SIO_EXTERN __attribute__((visibility("default")))
#else
#define SIO_EXTERN
#endif
#endif

/* Parses one JSON text (whitespace around it allowed) exactly as
 * JavaScript's JSON.parse would (RFC 8259: no NaN, no trailing commas or
 * decimal points, no raw control characters, valid UTF-8), the parser the
 * Socket.IO layer reads packets with. Whatever it accepts, every stock
 * client can read back. Numbers keep their text, so they are written back
 * exactly as received. in is borrowed; max_depth <= 0 means 32 (capped at
 * 512). On success *out is owned by the caller (json_object_put) and is
 * NULL for the JSON text null. Returns 0, SIO_ERR_PROTO (not JSON),
 * SIO_ERR_DEPTH, SIO_ERR_TOOBIG (a string over 2 GiB) or SIO_ERR_NOMEM; on
 * error *out is NULL. */
SIO_EXTERN int sio_json_parse(const char *in, size_t len, int max_depth,
                              json_object **out);

/* The longest text sio_json_format_number writes, NUL included. */
#define SIO_JSON_NUMBER_MAX 32

/* Writes d the way JavaScript's String(d) (Number.prototype.toString)
 * does, which is also how JSON.stringify writes a finite number: the
 * shortest digits that read back as d, "1e+21" from 10^21 up, "1e-7" below
 * 10^-6, -0 as "0", NaN as "NaN" and the infinities as "Infinity" and
 * "-Infinity" (JSON.stringify writes those three as null). out receives
 * the NUL-terminated text; returns its length. Independent of the C
 * locale. */
SIO_EXTERN size_t sio_json_format_number(double d,
                                         char out[SIO_JSON_NUMBER_MAX]);

/* A new placeholder {"_placeholder":true,"num":num}, the object standing
 * for attachment num in a binary event's arguments. Returns it (owned by
 * the caller) or NULL when out of memory. */
SIO_EXTERN json_object *sio_placeholder_new(int num);

#ifdef __cplusplus
}
#endif

#endif
