#ifndef SIO_JSON_H
#define SIO_JSON_H

/* PURE: JSON text <-> json-c objects the way JavaScript reads and writes
 * it (JSON.parse / JSON.stringify), for every layer that carries JSON a
 * peer wrote (Socket.IO packets, Redis adapter messages, the daemon's
 * publish API). json-c's tokener and writer differ from JavaScript where
 * it matters to a relay (see sio_json.c), so both directions are done here.
 *
 * - parsing (sio_json_parse, public: <sio/sio_json.h>) accepts exactly what
 *   JSON.parse accepts. Integers that fit int64 become json-c ints; every
 *   other number becomes a json-c double that keeps its source text
 *   (json_object_new_double_s) and is written back as written ("1.50"
 *   stays "1.50", 1e400 stays "1e400"). Strings must be valid UTF-8;
 *   "\u0000" is kept (use json_object_get_string_len) except in keys, where
 *   it is an error; a lone surrogate escape such as "\ud800" becomes the 3
 *   bytes ED A0 80 and is written back as "\ud800". Duplicate keys: the
 *   last value wins, at the first position.
 * - writing produces what JSON.stringify writes for the same JavaScript
 *   value: no spaces, "/" not escaped, only '"', '\\' and U+0000..U+001F
 *   escaped (\b \f \n \r \t, else \u00xx lowercase), other UTF-8 passed
 *   through (an invalid byte sequence becomes U+FFFD), doubles in their
 *   shortest round-trip form (sio_json_format_number; NaN and infinities
 *   as null), keys that are array indices ("0".."4294967294") first in
 *   ascending order, then the others in insertion order. int64/uint64
 *   values are written exactly, even past 2^53 where JavaScript would
 *   round them. */

#include <json-c/json.h>
#include <stddef.h>

#include "sio/sio_json.h"
#include "sio_buf.h"

/* Deepest container nesting the parser and writer accept ([] is 1);
 * callers' depth limits are capped to it. */
#define SIO_JSON_MAX_DEPTH 512
/* The parser's depth when the caller gives none. */
#define SIO_JSON_DEFAULT_DEPTH 32

/* Appends v (borrowed; NULL is JSON null) as JSON text. Returns 0,
 * SIO_ERR_DEPTH (nested deeper than SIO_JSON_MAX_DEPTH) or SIO_ERR_NOMEM;
 * on error out is unchanged. */
int sio_json_append(sio_buf *out, json_object *v);
/* The same for v written inside depth containers the caller opened (it
 * counts towards SIO_JSON_MAX_DEPTH), without the rollback: on error out
 * holds part of v and the caller truncates it. */
int sio_json_write(sio_buf *out, json_object *v, int depth);
/* Appends the JSON string literal of s[0..n) (borrowed, may hold NUL
 * bytes). Returns 0 or SIO_ERR_NOMEM (out may hold part of it). */
int sio_json_append_string(sio_buf *out, const char *s, size_t n);
/* JavaScript's String(v) for a json-c number v (an int or a double; ints
 * written exactly, even past 2^53): how a numeric event or room name
 * reads as a string. Returns the length written to out. */
size_t sio_json_number_text(json_object *v, char out[SIO_JSON_NUMBER_MAX]);
/* Calls fn(key, val, ud) for each member of obj in the order JavaScript
 * enumerates an object's keys: array-index keys ("0".."4294967294") first,
 * ascending, then the others in insertion order. key and val are borrowed.
 * Stops at the first non-zero return of fn and returns it; otherwise 0, or
 * SIO_ERR_NOMEM. */
int sio_json_each_member(json_object *obj,
                         int (*fn)(const char *key, json_object *val, void *ud),
                         void *ud);

#endif
