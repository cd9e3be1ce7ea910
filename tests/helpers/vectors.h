#ifndef TEST_VECTORS_H
#define TEST_VECTORS_H

/* The golden vector files of tests/data (tab-separated fields, "\xNN"
 * escapes, '#' comments) and the JSON helpers the codec suites share. */

#include <json-c/json.h>
#include <stddef.h>

#include "sio_json.h"
#include "sio_util.h" /* sio_hex_digit */

#define VEC_MAXF 24

typedef struct vline {
  int lineno;
  int nf;
  char *f[VEC_MAXF]; /* unescaped, NUL-terminated */
  size_t n[VEC_MAXF];
} vline;

/* The lines of tests/data/<name>; fails the test when it cannot be read. */
vline *vec_load(const char *name, size_t *count);
void vec_free(vline *v, size_t n);
/* sio_json_parse of s, failing the test when it does not parse. */
json_object *vec_parse(const char *s);
/* The JSON text of v (sio_json_append), in a static buffer. */
const char *vec_js(json_object *v);
/* 1 inside depth nested arrays: [[...[1]...]]. */
json_object *vec_nest(int depth);

#endif
