/* sio_redis_msg.c: the messages of the socket.io Redis adapter protocol
 * (PURE: msgpack-c and json-c only, no I/O).
 *
 * Role: turn the bytes published by @socket.io/redis-adapter 8 and
 * @socket.io/redis-emitter 5 into typed structs, and libsio's broadcasts,
 * requests and responses into the bytes those packages expect. The shapes
 * were learnt by capturing what the Node packages publish
 * (tests/data/redis/capture_vectors.js); tests/data/redis/vectors.txt holds
 * the captures, and the tests decode every one and re-encode the ones
 * libsio also writes, byte for byte.
 *
 * Decoding happens in two passes. A bounds pass walks the msgpack bytes
 * without allocating: every container's declared count must fit in the
 * bytes left (each item takes at least one byte), nesting stays within the
 * limit, binary leaves are counted, and the value must end exactly at the
 * end of the input. Only then does msgpack-c unpack it (msgpack-c sizes a
 * container's item array from the declared count, so a 5-byte message
 * claiming 2^32 items would otherwise ask for gigabytes). The unpacked
 * object becomes json-c with each binary leaf replaced by a placeholder,
 * following notepack.io's decoder: ext type 0 is an ArrayBuffer (binary),
 * fixext 1 of type 0 is `undefined` (dropped from objects, null in
 * arrays), ext type -1 is a Date (written as its ISO-8601 text, as
 * JSON.stringify would), other ext types become [type, binary]. JSON
 * messages go through sio_json_parse, which reads exactly what JSON.parse
 * reads. The typed decoders then check the fields each message kind uses.
 *
 * Encoding mirrors notepack.io's encoder: integers in their smallest
 * msgpack form (json-c doubles with an integral value count as integers,
 * as they would in JavaScript), other numbers as float64, strings as
 * fixstr/str8/16/32, objects with their integer-like keys first. JSON text
 * goes through sio_json_append (JSON.stringify's output). */
#include "sio_redis_msg.h"

#include <inttypes.h>
#include <math.h>
#include <msgpack.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "sio_int.h"
#include "sio_json.h"
#include "sio_mem.h"
#include "sio_util.h"

#define MSG_DEFAULT_DEPTH 32
#define MSG_DEFAULT_BINS 256
/* msgpack-c's unpacker holds at most this many open containers. */
#define MSG_MAX_DEPTH 32

/* ------------------------------------------------------------- channels */

int sio_redis_channel(sio_buf *out, const char *key, const char *nsp,
                      const char *room) {
  size_t mark = out->len;
  int rv = sio_buf_append_str(out, key);
  if (!rv)
    rv = sio_buf_append_byte(out, '#');
  if (!rv)
    rv = sio_buf_append_str(out, nsp);
  if (!rv)
    rv = sio_buf_append_byte(out, '#');
  if (!rv && room) {
    rv = sio_buf_append_str(out, room);
    if (!rv)
      rv = sio_buf_append_byte(out, '#');
  }
  if (rv)
    sio_buf_truncate(out, mark);
  return rv;
}

static int channel3(sio_buf *out, const char *key, const char *mid,
                    const char *nsp, const char *uid) {
  size_t mark = out->len;
  int rv = sio_buf_appendf(out, "%s%s#%s#", key, mid, nsp);
  if (!rv && uid)
    rv = sio_buf_appendf(out, "%s#", uid);
  if (rv)
    sio_buf_truncate(out, mark);
  return rv == SIO_ERR_INVAL ? SIO_ERR_NOMEM : rv;
}

int sio_redis_request_channel(sio_buf *out, const char *key, const char *nsp) {
  return channel3(out, key, "-request", nsp, NULL);
}

int sio_redis_response_channel(sio_buf *out, const char *key, const char *nsp,
                               const char *uid) {
  return channel3(out, key, "-response", nsp, uid);
}

static int append_glob_escaped(sio_buf *out, const char *s) {
  int rv = 0;
  for (; *s && !rv; s++) {
    if (*s == '*' || *s == '?' || *s == '[' || *s == ']' || *s == '\\')
      rv = sio_buf_append_byte(out, '\\');
    if (!rv)
      rv = sio_buf_append_byte(out, (uint8_t)*s);
  }
  return rv;
}

int sio_redis_pattern(sio_buf *out, const char *key, const char *nsp) {
  size_t mark = out->len;
  int rv = append_glob_escaped(out, key);
  if (!rv)
    rv = sio_buf_append_byte(out, '#');
  if (!rv)
    rv = append_glob_escaped(out, nsp);
  if (!rv)
    rv = sio_buf_append(out, "#*", 2);
  if (rv)
    sio_buf_truncate(out, mark);
  return rv;
}

/* ------------------------------------------------------------ bounds pass */

static uint32_t be16(const uint8_t *p) { return (uint32_t)p[0] << 8 | p[1]; }
static uint32_t be32(const uint8_t *p) {
  return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 |
         p[3];
}

/* Checks that in[0..len) is exactly one msgpack value whose containers all
 * fit, nested at most max_depth deep; counts its binary leaves. */
static int scan(const uint8_t *in, size_t len, int max_depth, size_t *nbins) {
  size_t left[MSG_MAX_DEPTH + 1];
  int depth = 0;
  size_t i = 0;
  *nbins = 0;
  left[0] = 1;
  while (depth >= 0) {
    uint8_t b;
    size_t skip = 0, n = 0, hdr = 0;
    int container = 0, ext_array = 0;
    if (left[depth] == 0) {
      depth--;
      continue;
    }
    left[depth]--;
    if (i >= len)
      return SIO_ERR_PROTO;
    b = in[i++];
    if (b <= 0x7f || b >= 0xe0) {
      /* fixint */
    } else if (b <= 0x8f) {
      container = 1;
      n = 2 * (size_t)(b & 0x0f);
    } else if (b <= 0x9f) {
      container = 1;
      n = b & 0x0f;
    } else if (b <= 0xbf) {
      skip = b & 0x1f;
    } else {
      switch (b) {
      case 0xc0: /* nil */
      case 0xc2: /* false */
      case 0xc3: /* true */
        break;
      case 0xc4: /* bin 8/16/32 */
      case 0xc5:
      case 0xc6:
      case 0xd9: /* str 8/16/32 */
      case 0xda:
      case 0xdb:
        hdr = (b == 0xc4 || b == 0xd9) ? 1 : (b == 0xc5 || b == 0xda) ? 2 : 4;
        if (len - i < hdr)
          return SIO_ERR_PROTO;
        skip = hdr == 1 ? in[i] : hdr == 2 ? be16(in + i) : be32(in + i);
        i += hdr;
        if (b <= 0xc6)
          (*nbins)++;
        break;
      case 0xc7: /* ext 8/16/32: length, type */
      case 0xc8:
      case 0xc9:
        hdr = b == 0xc7 ? 1 : b == 0xc8 ? 2 : 4;
        if (len - i < hdr + 1)
          return SIO_ERR_PROTO;
        skip = hdr == 1 ? in[i] : hdr == 2 ? be16(in + i) : be32(in + i);
        if (in[i + hdr] != 0xff) /* all but Dates carry binary */
          (*nbins)++;
        ext_array = in[i + hdr] != 0xff && in[i + hdr] != 0;
        i += hdr + 1;
        break;
      case 0xca:
        skip = 4;
        break;
      case 0xcb:
        skip = 8;
        break;
      case 0xcc:
      case 0xd0:
        skip = 1;
        break;
      case 0xcd:
      case 0xd1:
        skip = 2;
        break;
      case 0xce:
      case 0xd2:
        skip = 4;
        break;
      case 0xcf:
      case 0xd3:
        skip = 8;
        break;
      case 0xd4: /* fixext 1/2/4/8/16: type + data */
      case 0xd5:
      case 0xd6:
      case 0xd7:
      case 0xd8:
        skip = 1 + ((size_t)1 << (b - 0xd4));
        if (i < len && in[i] != 0xff && !(b == 0xd4 && in[i] == 0))
          (*nbins)++; /* all but Dates and `undefined` carry binary */
        ext_array = i < len && in[i] != 0xff && in[i] != 0;
        break;
      case 0xdc: /* array 16/32 */
      case 0xdd:
      case 0xde: /* map 16/32 */
      case 0xdf:
        hdr = (b == 0xdc || b == 0xde) ? 2 : 4;
        if (len - i < hdr)
          return SIO_ERR_PROTO;
        n = hdr == 2 ? be16(in + i) : be32(in + i);
        if (b >= 0xde)
          n *= 2;
        i += hdr;
        container = 1;
        break;
      default: /* 0xc1: never used */
        return SIO_ERR_PROTO;
      }
    }
    if (skip > len - i)
      return SIO_ERR_PROTO;
    i += skip;
    /* an ext of another type decodes to notepack's [type, binary]: one
     * level deeper, which the value must still fit in once decoded */
    if (ext_array && depth + 1 > max_depth)
      return SIO_ERR_DEPTH;
    if (container) {
      /* an empty container is a level too: msgpack-c checks its stack
       * before it looks at the count */
      if (depth + 1 > max_depth)
        return SIO_ERR_DEPTH;
      if (n > len - i)
        return SIO_ERR_PROTO;
      if (n)
        left[++depth] = n;
    }
  }
  return i == len ? 0 : SIO_ERR_PROTO;
}

/* ------------------------------------------------- msgpack-c -> json-c */

typedef struct conv {
  sio_bin *bins;
  size_t nbins;
  size_t cap;
} conv;

static int add_bin(conv *c, const char *p, size_t n, json_object **out) {
  if (c->nbins >= c->cap)
    return SIO_ERR_LIMIT;
  /* never a NULL pointer, even for no bytes */
  c->bins[c->nbins].data = n ? (const uint8_t *)p : (const uint8_t *)"";
  c->bins[c->nbins].len = n;
  *out = sio_placeholder_new((int)c->nbins);
  if (!*out)
    return SIO_ERR_NOMEM;
  c->nbins++;
  return 0;
}

/* 1 when o is notepack's `undefined` (fixext 1, type 0). */
static int is_undefined(const msgpack_object *o) {
  return o->type == MSGPACK_OBJECT_EXT && o->via.ext.type == 0 &&
         o->via.ext.size == 1;
}

static int to_json(conv *c, const msgpack_object *o, json_object **out);

static int ext_to_json(conv *c, const msgpack_object_ext *e,
                       json_object **out) {
  if (e->type == 0)
    return add_bin(c, e->ptr, e->size, out);
  if (e->type == -1) {
    /* timestamp 32/64/96 -> Date -> JSON.stringify's ISO text */
    const uint8_t *p = (const uint8_t *)e->ptr;
    int64_t sec;
    uint32_t nsec = 0;
    char iso[25];
    double ms;
    if (e->size == 4) {
      sec = be32(p);
    } else if (e->size == 8) {
      uint64_t v = (uint64_t)be32(p) << 32 | be32(p + 4);
      nsec = (uint32_t)(v >> 34);
      sec = (int64_t)(v & 0x3ffffffffull);
    } else if (e->size == 12) {
      nsec = be32(p);
      sec = (int64_t)((uint64_t)be32(p + 4) << 32 | be32(p + 8));
    } else {
      return SIO_ERR_PROTO;
    }
    ms = (double)sec * 1000.0 + (double)(nsec / 1000000);
    if (sec < 0 || ms > 8.64e15) {
      *out = NULL; /* an Invalid Date stringifies as null */
      return 0;
    }
    sio_iso8601_ms(iso, (uint64_t)ms);
    *out = json_object_new_string(iso);
    return *out ? 0 : SIO_ERR_NOMEM;
  }
  /* notepack: [type, Buffer] */
  {
    json_object *a = json_object_new_array(), *t, *b = NULL;
    int rv;
    if (!a)
      return SIO_ERR_NOMEM;
    t = json_object_new_int(e->type);
    if (!t || json_object_array_add(a, t)) {
      json_object_put(t);
      json_object_put(a);
      return SIO_ERR_NOMEM;
    }
    rv = add_bin(c, e->ptr, e->size, &b);
    if (!rv && json_object_array_add(a, b)) {
      json_object_put(b);
      rv = SIO_ERR_NOMEM;
    }
    if (rv) {
      json_object_put(a);
      return rv;
    }
    *out = a;
    return 0;
  }
}

static int map_key(const msgpack_object *k, char *buf, size_t cap,
                   const char **key) {
  switch (k->type) {
  case MSGPACK_OBJECT_STR:
    if (k->via.str.size == 0) { /* msgpack-c may leave ptr NULL then */
      buf[0] = 0;
      *key = buf;
      return 0;
    }
    if (memchr(k->via.str.ptr, 0, k->via.str.size))
      return SIO_ERR_PROTO; /* JSON.parse refuses such keys too */
    if (k->via.str.size >= cap)
      return 1; /* the caller copies it to the heap */
    memcpy(buf, k->via.str.ptr, k->via.str.size);
    buf[k->via.str.size] = 0;
    *key = buf;
    return 0;
  case MSGPACK_OBJECT_POSITIVE_INTEGER:
    snprintf(buf, cap, "%" PRIu64, k->via.u64);
    *key = buf;
    return 0;
  case MSGPACK_OBJECT_NEGATIVE_INTEGER:
    snprintf(buf, cap, "%" PRId64, k->via.i64);
    *key = buf;
    return 0;
  default:
    return SIO_ERR_PROTO;
  }
}

static int map_to_json(conv *c, const msgpack_object_map *m,
                       json_object **out) {
  json_object *obj = json_object_new_object();
  char small[64];
  uint32_t i;
  int rv = 0;
  if (!obj)
    return SIO_ERR_NOMEM;
  for (i = 0; i < m->size && !rv; i++) {
    const msgpack_object_kv *kv = &m->ptr[i];
    const char *key = NULL;
    char *big = NULL;
    json_object *val = NULL;
    rv = map_key(&kv->key, small, sizeof(small), &key);
    if (rv == 1) { /* a long string key */
      big = sio_strndup(kv->key.via.str.ptr, kv->key.via.str.size);
      if (!big) {
        rv = SIO_ERR_NOMEM;
        break;
      }
      key = big;
      rv = 0;
    }
    if (!rv && is_undefined(&kv->val)) {
      /* an undefined member does not exist; it still replaces an earlier
       * one of the same name (JavaScript assignment) */
      json_object_object_del(obj, key);
    } else if (!rv) {
      rv = to_json(c, &kv->val, &val);
      if (!rv && json_object_object_add(obj, key, val)) {
        json_object_put(val);
        rv = SIO_ERR_NOMEM;
      }
    }
    sio_free(big);
  }
  if (rv) {
    json_object_put(obj);
    return rv;
  }
  *out = obj;
  return 0;
}

static int to_json(conv *c, const msgpack_object *o, json_object **out) {
  *out = NULL;
  switch (o->type) {
  case MSGPACK_OBJECT_NIL:
    return 0;
  case MSGPACK_OBJECT_BOOLEAN:
    *out = json_object_new_boolean(o->via.boolean);
    break;
  case MSGPACK_OBJECT_POSITIVE_INTEGER:
    *out = o->via.u64 <= (uint64_t)INT64_MAX
               ? json_object_new_int64((int64_t)o->via.u64)
               : json_object_new_uint64(o->via.u64);
    break;
  case MSGPACK_OBJECT_NEGATIVE_INTEGER:
    *out = json_object_new_int64(o->via.i64);
    break;
  case MSGPACK_OBJECT_FLOAT32:
  case MSGPACK_OBJECT_FLOAT64:
    *out = json_object_new_double(o->via.f64);
    break;
  case MSGPACK_OBJECT_STR:
    *out = o->via.str.size ? json_object_new_string_len(o->via.str.ptr,
                                                        (int)o->via.str.size)
                           : json_object_new_string("");
    break;
  case MSGPACK_OBJECT_BIN:
    return add_bin(c, o->via.bin.ptr, o->via.bin.size, out);
  case MSGPACK_OBJECT_EXT:
    if (is_undefined(o))
      return 0;
    return ext_to_json(c, &o->via.ext, out);
  case MSGPACK_OBJECT_ARRAY: {
    json_object *a = json_object_new_array();
    uint32_t i;
    if (!a)
      return SIO_ERR_NOMEM;
    for (i = 0; i < o->via.array.size; i++) {
      json_object *item = NULL;
      int rv = to_json(c, &o->via.array.ptr[i], &item);
      if (!rv && json_object_array_add(a, item)) {
        json_object_put(item);
        rv = SIO_ERR_NOMEM;
      }
      if (rv) {
        json_object_put(a);
        return rv;
      }
    }
    *out = a;
    return 0;
  }
  case MSGPACK_OBJECT_MAP:
    return map_to_json(c, &o->via.map, out);
  default:
    return SIO_ERR_PROTO;
  }
  return *out ? 0 : SIO_ERR_NOMEM;
}

/* -------------------------------------------------------------- decoding */

static void limits_of(const sio_redis_limits *lim, int *depth, size_t *bins) {
  *depth = lim && lim->max_depth > 0 ? lim->max_depth : MSG_DEFAULT_DEPTH;
  if (*depth > MSG_MAX_DEPTH)
    *depth = MSG_MAX_DEPTH;
  *bins = lim && lim->max_bins ? lim->max_bins : MSG_DEFAULT_BINS;
}

void sio_redis_value_clear(sio_redis_value *v) {
  json_object_put(v->json);
  sio_free(v->bins);
  v->json = NULL;
  v->bins = NULL;
  v->nbins = 0;
}

int sio_redis_value_decode(sio_redis_value *v, const uint8_t *in, size_t len,
                           const sio_redis_limits *lim) {
  msgpack_unpacked up;
  size_t off = 0, nbins = 0, maxbins;
  int depth, rv;
  conv c;
  v->json = NULL;
  v->bins = NULL;
  v->nbins = 0;
  if (!in || len == 0)
    return SIO_ERR_PROTO;
  limits_of(lim, &depth, &maxbins);
  if (in[0] == '{') {
    rv = sio_json_parse((const char *)in, len, depth, &v->json);
    return rv == SIO_ERR_TOOBIG ? SIO_ERR_PROTO : rv;
  }
  rv = scan(in, len, depth, &nbins);
  if (rv)
    return rv;
  if (nbins > maxbins)
    return SIO_ERR_LIMIT;
  c.nbins = 0;
  c.cap = nbins;
  c.bins = NULL;
  if (nbins) {
    c.bins = sio_malloc(nbins * sizeof(*c.bins));
    if (!c.bins)
      return SIO_ERR_NOMEM;
  }
  msgpack_unpacked_init(&up);
  switch (msgpack_unpack_next(&up, (const char *)in, len, &off)) {
  case MSGPACK_UNPACK_SUCCESS:
    rv = off == len ? to_json(&c, &up.data, &v->json) : SIO_ERR_PROTO;
    break;
  case MSGPACK_UNPACK_NOMEM_ERROR:
    rv = SIO_ERR_NOMEM;
    break;
  default:
    rv = SIO_ERR_PROTO;
    break;
  }
  msgpack_unpacked_destroy(&up);
  if (rv) {
    json_object_put(v->json);
    v->json = NULL;
    sio_free(c.bins);
    return rv;
  }
  if (c.nbins == 0) {
    sio_free(c.bins);
    c.bins = NULL;
  }
  v->bins = c.bins;
  v->nbins = c.nbins;
  return 0;
}

/* ------------------------------------------------------- typed decoders */

static json_object *field(json_object *obj, const char *name) {
  json_object *v = NULL;
  if (!json_object_object_get_ex(obj, name, &v))
    return NULL;
  return v;
}

static int has_field(json_object *obj, const char *name) {
  return json_object_object_get_ex(obj, name, NULL);
}

/* The string value of obj.name: 0 with *out NULL when absent or null,
 * SIO_ERR_PROTO when another type. */
static int opt_string(json_object *obj, const char *name, const char **out) {
  json_object *v = field(obj, name);
  *out = NULL;
  if (!v)
    return 0;
  if (!json_object_is_type(v, json_type_string))
    return SIO_ERR_PROTO;
  *out = json_object_get_string(v);
  return 0;
}

static int is_number(json_object *v) {
  return json_object_is_type(v, json_type_int) ||
         json_object_is_type(v, json_type_double);
}

static int64_t number_i64(json_object *v) {
  if (json_object_is_type(v, json_type_double)) {
    double d = json_object_get_double(v);
    if (!(d > -9.2e18 && d < 9.2e18))
      return d > 0 ? INT64_MAX : INT64_MIN;
    return (int64_t)d;
  }
  return json_object_get_int64(v);
}

static void strv_clear(sio_redis_strv *s) {
  sio_free(s->v);
  s->v = NULL;
  s->n = 0;
}

/* Reads an array of room names into s. Absent or null: empty. Numbers are
 * taken in their String() form (socket.io rooms may be numbers; the Node
 * adapter matches them that way too): such items are replaced in place by
 * strings, so every name lives as long as the array. */
static int strv_of(json_object *arr, sio_redis_strv *s) {
  size_t i, n;
  s->v = NULL;
  s->n = 0;
  if (!arr)
    return 0;
  if (!json_object_is_type(arr, json_type_array))
    return SIO_ERR_PROTO;
  n = json_object_array_length(arr);
  if (n == 0)
    return 0;
  s->v = sio_malloc(n * sizeof(*s->v));
  if (!s->v)
    return SIO_ERR_NOMEM;
  for (i = 0; i < n; i++) {
    json_object *it = json_object_array_get_idx(arr, i);
    if (is_number(it)) {
      char buf[SIO_JSON_NUMBER_MAX];
      json_object *str;
      sio_json_number_text(it, buf);
      str = json_object_new_string(buf);
      if (!str || json_object_array_put_idx(arr, i, str)) {
        json_object_put(str);
        strv_clear(s);
        return SIO_ERR_NOMEM;
      }
      it = str;
    }
    if (!json_object_is_type(it, json_type_string)) {
      strv_clear(s);
      return SIO_ERR_PROTO;
    }
    s->v[s->n++] = json_object_get_string(it);
  }
  return 0;
}

static void opts_clear(sio_redis_opts *o) {
  strv_clear(&o->rooms);
  strv_clear(&o->except);
}

static int truthy(json_object *v) {
  if (!v)
    return 0;
  switch (json_object_get_type(v)) {
  case json_type_boolean:
    return json_object_get_boolean(v);
  case json_type_int:
    return json_object_get_int64(v) != 0;
  case json_type_double: {
    double d = json_object_get_double(v);
    return d != 0 && d == d;
  }
  case json_type_string:
    return json_object_get_string_len(v) > 0;
  case json_type_null:
    return 0;
  default:
    return 1;
  }
}

static int opts_of(json_object *o, sio_redis_opts *out) {
  json_object *flags, *t;
  int rv;
  memset(out, 0, sizeof(*out));
  out->timeout = -1;
  if (!json_object_is_type(o, json_type_object))
    return SIO_ERR_PROTO;
  rv = strv_of(field(o, "rooms"), &out->rooms);
  if (!rv)
    rv = strv_of(field(o, "except"), &out->except);
  if (rv) {
    opts_clear(out);
    return rv;
  }
  flags = field(o, "flags");
  if (json_object_is_type(flags, json_type_object)) {
    if (truthy(field(flags, "volatile")))
      out->flags |= SIO_BCAST_VOLATILE;
    if (truthy(field(flags, "local")))
      out->flags |= SIO_BCAST_LOCAL;
    t = field(flags, "timeout");
    if (t && is_number(t) && number_i64(t) >= 0)
      out->timeout = number_i64(t);
  }
  return 0;
}

static void packet_clear(sio_redis_packet *p) {
  json_object_put(p->args);
  p->args = NULL;
}

/* Reads socket.io-parser's packet object {type, data, nsp, id}. */
static int packet_of(json_object *o, sio_redis_packet *p,
                     char event_buf[SIO_JSON_NUMBER_MAX]) {
  json_object *type, *data, *first, *id, *args;
  size_t i, n;
  int rv;
  memset(p, 0, sizeof(*p));
  p->id = -1;
  if (!json_object_is_type(o, json_type_object))
    return SIO_ERR_PROTO;
  type = field(o, "type");
  if (!type || !is_number(type))
    return SIO_ERR_PROTO;
  p->type = (int)number_i64(type);
  if (p->type != 2 && p->type != 5)
    return SIO_ERR_PROTO;
  rv = opt_string(o, "nsp", &p->nsp);
  if (rv)
    return rv;
  if (!p->nsp)
    p->nsp = "/";
  id = field(o, "id");
  if (id) {
    if (!is_number(id) || number_i64(id) < 0)
      return SIO_ERR_PROTO;
    p->id = number_i64(id);
  }
  data = field(o, "data");
  if (!json_object_is_type(data, json_type_array) ||
      json_object_array_length(data) == 0)
    return SIO_ERR_PROTO;
  first = json_object_array_get_idx(data, 0);
  if (json_object_is_type(first, json_type_string)) {
    p->event = json_object_get_string(first);
  } else if (is_number(first)) {
    sio_json_number_text(first, event_buf);
    p->event = event_buf;
  } else {
    return SIO_ERR_PROTO;
  }
  n = json_object_array_length(data);
  args = json_object_new_array();
  if (!args)
    return SIO_ERR_NOMEM;
  for (i = 1; i < n; i++) {
    json_object *it = json_object_array_get_idx(data, i);
    if (json_object_array_add(args, json_object_get(it))) {
      json_object_put(it);
      json_object_put(args);
      return SIO_ERR_NOMEM;
    }
  }
  p->args = args;
  return 0;
}

void sio_redis_bcast_clear(sio_redis_bcast *m) {
  packet_clear(&m->packet);
  opts_clear(&m->opts);
  sio_redis_value_clear(&m->root);
  m->uid = NULL;
}

int sio_redis_bcast_decode(sio_redis_bcast *m, const uint8_t *in, size_t len,
                           const sio_redis_limits *lim) {
  json_object *a, *uid;
  int rv;
  memset(m, 0, sizeof(*m));
  m->packet.id = -1;
  m->opts.timeout = -1;
  rv = sio_redis_value_decode(&m->root, in, len, lim);
  if (rv)
    return rv;
  a = m->root.json;
  rv = SIO_ERR_PROTO;
  if (!json_object_is_type(a, json_type_array) ||
      json_object_array_length(a) < 3)
    goto fail;
  uid = json_object_array_get_idx(a, 0);
  if (json_object_is_type(uid, json_type_string))
    m->uid = json_object_get_string(uid);
  else if (uid)
    goto fail;
  rv = packet_of(json_object_array_get_idx(a, 1), &m->packet, m->event_buf);
  if (rv)
    goto fail;
  rv = opts_of(json_object_array_get_idx(a, 2), &m->opts);
  if (rv)
    goto fail;
  return 0;
fail:
  sio_redis_bcast_clear(m);
  return rv;
}

void sio_redis_request_clear(sio_redis_request *r) {
  packet_clear(&r->packet);
  opts_clear(&r->opts);
  strv_clear(&r->rooms);
  sio_redis_value_clear(&r->root);
  r->uid = r->request_id = r->sid = r->room = NULL;
  r->data = NULL;
}

int sio_redis_request_decode(sio_redis_request *r, const uint8_t *in,
                             size_t len, const sio_redis_limits *lim) {
  json_object *o, *t, *opts;
  int rv;
  memset(r, 0, sizeof(*r));
  r->packet.id = -1;
  r->opts.timeout = -1;
  rv = sio_redis_value_decode(&r->root, in, len, lim);
  if (rv)
    return rv;
  o = r->root.json;
  rv = SIO_ERR_PROTO;
  if (!json_object_is_type(o, json_type_object))
    goto fail;
  t = field(o, "type");
  if (!t || !is_number(t))
    goto fail;
  r->type = (int)SIO_MAX(SIO_MIN(number_i64(t), INT32_MAX), INT32_MIN);
  if (opt_string(o, "uid", &r->uid) ||
      opt_string(o, "requestId", &r->request_id))
    goto fail;
  opts = field(o, "opts");
  switch (r->type) {
  case SIO_REDIS_SOCKETS:
    rv = strv_of(field(o, "rooms"), &r->rooms);
    break;
  case SIO_REDIS_ALL_ROOMS:
    rv = 0;
    break;
  case SIO_REDIS_REMOTE_JOIN:
  case SIO_REDIS_REMOTE_LEAVE:
  case SIO_REDIS_REMOTE_DISCONNECT:
    if (opts) {
      r->has_opts = 1;
      rv = opts_of(opts, &r->opts);
      if (!rv && r->type != SIO_REDIS_REMOTE_DISCONNECT)
        rv = strv_of(field(o, "rooms"), &r->rooms);
    } else {
      /* the single-socket form of older adapters */
      rv = opt_string(o, "sid", &r->sid);
      if (!rv && r->type != SIO_REDIS_REMOTE_DISCONNECT)
        rv = opt_string(o, "room", &r->room);
      if (!rv &&
          (!r->sid || (r->type != SIO_REDIS_REMOTE_DISCONNECT && !r->room)))
        rv = SIO_ERR_PROTO;
    }
    r->close = truthy(field(o, "close"));
    break;
  case SIO_REDIS_REMOTE_FETCH:
    r->has_opts = 1;
    rv = opts ? opts_of(opts, &r->opts) : SIO_ERR_PROTO;
    break;
  case SIO_REDIS_SERVER_SIDE_EMIT: {
    json_object *first;
    r->data = field(o, "data");
    rv = SIO_ERR_PROTO;
    if (json_object_is_type(r->data, json_type_array) &&
        json_object_array_length(r->data) > 0) {
      first = json_object_array_get_idx(r->data, 0);
      if (json_object_is_type(first, json_type_string))
        rv = 0;
    }
    break;
  }
  case SIO_REDIS_BROADCAST:
    r->has_opts = 1;
    r->has_packet = 1;
    rv = opts ? opts_of(opts, &r->opts) : SIO_ERR_PROTO;
    if (!rv)
      rv = packet_of(field(o, "packet"), &r->packet, r->event_buf);
    if (!rv && !r->request_id)
      rv = SIO_ERR_PROTO;
    break;
  default:
    rv = 0; /* unknown: the caller ignores it */
    break;
  }
  if (rv)
    goto fail;
  return 0;
fail:
  sio_redis_request_clear(r);
  return rv;
}

void sio_redis_response_clear(sio_redis_response *r) {
  sio_redis_value_clear(&r->root);
  r->request_id = NULL;
  r->sockets = r->rooms = r->data = r->packet = NULL;
}

int sio_redis_response_decode(sio_redis_response *r, const uint8_t *in,
                              size_t len, const sio_redis_limits *lim) {
  json_object *o, *t, *cc;
  int rv;
  memset(r, 0, sizeof(*r));
  r->type = -1;
  r->client_count = -1;
  rv = sio_redis_value_decode(&r->root, in, len, lim);
  if (rv)
    return rv;
  o = r->root.json;
  rv = SIO_ERR_PROTO;
  if (!json_object_is_type(o, json_type_object))
    goto fail;
  if (opt_string(o, "requestId", &r->request_id) || !r->request_id)
    goto fail;
  t = field(o, "type");
  if (t) {
    if (!is_number(t))
      goto fail;
    r->type = (int)SIO_MAX(SIO_MIN(number_i64(t), INT32_MAX), INT32_MIN);
  }
  r->sockets = field(o, "sockets");
  r->rooms = field(o, "rooms");
  if ((r->sockets && !json_object_is_type(r->sockets, json_type_array)) ||
      (r->rooms && !json_object_is_type(r->rooms, json_type_array)))
    goto fail;
  r->has_data = has_field(o, "data");
  r->data = field(o, "data");
  r->has_packet = has_field(o, "packet");
  r->packet = field(o, "packet");
  cc = field(o, "clientCount");
  if (cc) {
    if (!is_number(cc) || number_i64(cc) < 0)
      goto fail;
    r->client_count = number_i64(cc);
  }
  return 0;
fail:
  sio_redis_response_clear(r);
  return rv;
}

/* ------------------------------------------------ json-c -> msgpack-c */

static int buf_write(void *data, const char *p, size_t n) {
  return sio_buf_append(data, p, n) ? -1 : 0;
}

typedef struct packer {
  msgpack_packer pk;
  const sio_bin *bins;
  size_t nbins;
  int err; /* first error other than out-of-memory */
} packer;

static void packer_init(packer *p, sio_buf *out, const sio_bin *bins,
                        size_t nbins) {
  msgpack_packer_init(&p->pk, out, buf_write);
  p->bins = bins;
  p->nbins = nbins;
  p->err = 0;
}

static int pack_str(packer *p, const char *s, size_t n) {
  if (msgpack_pack_str(&p->pk, n) || msgpack_pack_str_body(&p->pk, s, n))
    return SIO_ERR_NOMEM;
  return 0;
}

static int pack_cstr(packer *p, const char *s) {
  return pack_str(p, s, strlen(s));
}

/* The placeholder number of v, or -1 when v is no placeholder. */
static int64_t placeholder_num(json_object *v) {
  json_object *t, *n;
  if (json_object_object_length(v) != 2 ||
      !json_object_object_get_ex(v, "_placeholder", &t) ||
      !json_object_is_type(t, json_type_boolean) ||
      !json_object_get_boolean(t) || !json_object_object_get_ex(v, "num", &n) ||
      !json_object_is_type(n, json_type_int))
    return -1;
  return json_object_get_int64(n);
}

static int pack_json(packer *p, json_object *v, int depth);

typedef struct pack_member_ctx {
  packer *p;
  int depth;
} pack_member_ctx;

static int pack_member(const char *key, json_object *val, void *ud) {
  pack_member_ctx *m = ud;
  int rv = pack_cstr(m->p, key);
  if (!rv)
    rv = pack_json(m->p, val, m->depth + 1);
  return rv;
}

static int pack_object(packer *p, json_object *v, int depth) {
  pack_member_ctx m = {p, depth};
  int64_t num = placeholder_num(v);
  if (num >= 0 || (num < -1)) {
    if (num < 0 || (uint64_t)num >= p->nbins) {
      p->err = SIO_ERR_INVAL;
      return SIO_ERR_INVAL;
    }
    if (msgpack_pack_bin(&p->pk, p->bins[num].len) ||
        msgpack_pack_bin_body(&p->pk, p->bins[num].data, p->bins[num].len))
      return SIO_ERR_NOMEM;
    return 0;
  }
  /* keys in JavaScript's order, as the Node peer's msgpack encoder
   * writes them */
  if (msgpack_pack_map(&p->pk, (size_t)json_object_object_length(v)))
    return SIO_ERR_NOMEM;
  return sio_json_each_member(v, pack_member, &m);
}

static int pack_double(packer *p, double d) {
  /* notepack writes an integral number as an integer (and -0 as 0) */
  if (d == d && d >= -9223372036854775808.0 && d < 9223372036854775808.0 &&
      d == floor(d)) {
    if (d >= 0)
      return msgpack_pack_uint64(&p->pk, (uint64_t)d) ? SIO_ERR_NOMEM : 0;
    return msgpack_pack_int64(&p->pk, (int64_t)d) ? SIO_ERR_NOMEM : 0;
  }
  return msgpack_pack_double(&p->pk, d) ? SIO_ERR_NOMEM : 0;
}

static int pack_json(packer *p, json_object *v, int depth) {
  size_t i, n;
  int rv = 0;
  if (depth > SIO_JSON_MAX_DEPTH) {
    p->err = SIO_ERR_DEPTH;
    return SIO_ERR_DEPTH;
  }
  if (!v)
    return msgpack_pack_nil(&p->pk) ? SIO_ERR_NOMEM : 0;
  switch (json_object_get_type(v)) {
  case json_type_null:
    return msgpack_pack_nil(&p->pk) ? SIO_ERR_NOMEM : 0;
  case json_type_boolean:
    return (json_object_get_boolean(v) ? msgpack_pack_true(&p->pk)
                                       : msgpack_pack_false(&p->pk))
               ? SIO_ERR_NOMEM
               : 0;
  case json_type_int: {
    int64_t x = json_object_get_int64(v);
    if (x == INT64_MAX)
      return msgpack_pack_uint64(&p->pk, json_object_get_uint64(v))
                 ? SIO_ERR_NOMEM
                 : 0;
    if (x >= 0)
      return msgpack_pack_uint64(&p->pk, (uint64_t)x) ? SIO_ERR_NOMEM : 0;
    return msgpack_pack_int64(&p->pk, x) ? SIO_ERR_NOMEM : 0;
  }
  case json_type_double:
    return pack_double(p, json_object_get_double(v));
  case json_type_string:
    return pack_str(p, json_object_get_string(v),
                    (size_t)json_object_get_string_len(v));
  case json_type_array:
    n = json_object_array_length(v);
    if (msgpack_pack_array(&p->pk, n))
      return SIO_ERR_NOMEM;
    for (i = 0; i < n && !rv; i++)
      rv = pack_json(p, json_object_array_get_idx(v, i), depth + 1);
    return rv;
  case json_type_object:
    return pack_object(p, v, depth);
  }
  return SIO_ERR_INVAL;
}

/* Maps a failed pack to its error and restores out. */
static int pack_end(packer *p, sio_buf *out, size_t mark, int rv) {
  if (rv) {
    sio_buf_truncate(out, mark);
    if (p->err)
      return p->err;
  }
  return rv;
}

int sio_redis_pack_value(sio_buf *out, json_object *v, const sio_bin *bins,
                         size_t nbins) {
  packer p;
  size_t mark = out->len;
  packer_init(&p, out, bins, nbins);
  return pack_end(&p, out, mark, pack_json(&p, v, 0));
}

static int pack_strv(packer *p, const char *const *v, size_t n) {
  size_t i;
  int rv = 0;
  if (msgpack_pack_array(&p->pk, n))
    return SIO_ERR_NOMEM;
  for (i = 0; i < n && !rv; i++)
    rv = pack_cstr(p, v[i] ? v[i] : "");
  return rv;
}

/* {type: 2, data: [event, ...args], nsp} */
static int pack_packet(packer *p, const char *nsp, const char *event,
                       json_object *args) {
  size_t i, n = args ? json_object_array_length(args) : 0;
  int rv;
  if (msgpack_pack_map(&p->pk, 3))
    return SIO_ERR_NOMEM;
  rv = pack_str(p, "type", 4);
  if (!rv && msgpack_pack_int(&p->pk, 2))
    rv = SIO_ERR_NOMEM;
  if (!rv)
    rv = pack_str(p, "data", 4);
  if (!rv && msgpack_pack_array(&p->pk, n + 1))
    rv = SIO_ERR_NOMEM;
  if (!rv)
    rv = pack_cstr(p, event);
  for (i = 0; i < n && !rv; i++)
    rv = pack_json(p, json_object_array_get_idx(args, i), 2);
  if (!rv)
    rv = pack_str(p, "nsp", 3);
  if (!rv)
    rv = pack_cstr(p, nsp ? nsp : "/");
  return rv;
}

/* {rooms, except, flags: {volatile?, timeout?}} */
static int pack_opts(packer *p, const sio_broadcast_opts *o,
                     int64_t timeout_ms) {
  static const sio_broadcast_opts none = {NULL, 0, NULL, 0, 0};
  int vol, rv;
  if (!o)
    o = &none;
  vol = (o->flags & SIO_BCAST_VOLATILE) != 0;
  if (msgpack_pack_map(&p->pk, 3))
    return SIO_ERR_NOMEM;
  rv = pack_str(p, "rooms", 5);
  if (!rv)
    rv = pack_strv(p, o->rooms, o->nrooms);
  if (!rv)
    rv = pack_str(p, "except", 6);
  if (!rv)
    rv = pack_strv(p, o->except, o->nexcept);
  if (!rv)
    rv = pack_str(p, "flags", 5);
  if (!rv && msgpack_pack_map(&p->pk, (size_t)vol + (timeout_ms >= 0)))
    rv = SIO_ERR_NOMEM;
  if (!rv && vol) {
    rv = pack_str(p, "volatile", 8);
    if (!rv && msgpack_pack_true(&p->pk))
      rv = SIO_ERR_NOMEM;
  }
  if (!rv && timeout_ms >= 0) {
    rv = pack_str(p, "timeout", 7);
    if (!rv && msgpack_pack_int64(&p->pk, timeout_ms))
      rv = SIO_ERR_NOMEM;
  }
  return rv;
}

static int check_event(const char *event, json_object *args,
                       const sio_broadcast_opts *o) {
  if (!event || (args && !json_object_is_type(args, json_type_array)))
    return SIO_ERR_INVAL;
  if (o && ((o->nrooms && !o->rooms) || (o->nexcept && !o->except)))
    return SIO_ERR_INVAL;
  return 0;
}

int sio_redis_encode_bcast(sio_buf *out, const char *uid, const char *nsp,
                           const char *event, json_object *args,
                           const sio_bin *bins, size_t nbins,
                           const sio_broadcast_opts *o, int64_t timeout_ms) {
  packer p;
  size_t mark = out->len;
  int rv = check_event(event, args, o);
  if (rv)
    return rv;
  packer_init(&p, out, bins, nbins);
  if (msgpack_pack_array(&p.pk, 3))
    return pack_end(&p, out, mark, SIO_ERR_NOMEM);
  rv = pack_cstr(&p, uid);
  if (!rv)
    rv = pack_packet(&p, nsp, event, args);
  if (!rv)
    rv = pack_opts(&p, o, timeout_ms);
  return pack_end(&p, out, mark, rv);
}

int sio_redis_encode_bcast_request(sio_buf *out, const char *uid,
                                   const char *request_id, const char *nsp,
                                   const char *event, json_object *args,
                                   const sio_bin *bins, size_t nbins,
                                   const sio_broadcast_opts *o,
                                   int64_t timeout_ms) {
  packer p;
  size_t mark = out->len;
  int rv = check_event(event, args, o);
  if (rv)
    return rv;
  if (!request_id)
    return SIO_ERR_INVAL;
  packer_init(&p, out, bins, nbins);
  if (msgpack_pack_map(&p.pk, 5))
    return pack_end(&p, out, mark, SIO_ERR_NOMEM);
  rv = pack_str(&p, "uid", 3);
  if (!rv)
    rv = pack_cstr(&p, uid);
  if (!rv)
    rv = pack_str(&p, "requestId", 9);
  if (!rv)
    rv = pack_cstr(&p, request_id);
  if (!rv)
    rv = pack_str(&p, "type", 4);
  if (!rv && msgpack_pack_int(&p.pk, SIO_REDIS_BROADCAST))
    rv = SIO_ERR_NOMEM;
  if (!rv)
    rv = pack_str(&p, "packet", 6);
  if (!rv)
    rv = pack_packet(&p, nsp, event, args);
  if (!rv)
    rv = pack_str(&p, "opts", 4);
  if (!rv)
    rv = pack_opts(&p, o, timeout_ms);
  return pack_end(&p, out, mark, rv);
}

int sio_redis_encode_bcast_ack(sio_buf *out, const char *request_id,
                               json_object *packet, const sio_bin *bins,
                               size_t nbins) {
  packer p;
  size_t mark = out->len;
  int rv;
  if (!request_id)
    return SIO_ERR_INVAL;
  packer_init(&p, out, bins, nbins);
  if (msgpack_pack_map(&p.pk, 3))
    return pack_end(&p, out, mark, SIO_ERR_NOMEM);
  rv = pack_str(&p, "type", 4);
  if (!rv && msgpack_pack_int(&p.pk, SIO_REDIS_BROADCAST_ACK))
    rv = SIO_ERR_NOMEM;
  if (!rv)
    rv = pack_str(&p, "requestId", 9);
  if (!rv)
    rv = pack_cstr(&p, request_id);
  if (!rv)
    rv = pack_str(&p, "packet", 6);
  if (!rv)
    rv = pack_json(&p, packet, 1);
  return pack_end(&p, out, mark, rv);
}

/* --------------------------------------------------------- JSON requests */

/* Builds JSON objects member by member; the first failure sticks. */
typedef struct jb {
  json_object *obj;
  int err;
} jb;

static void jb_init(jb *b) {
  b->obj = json_object_new_object();
  b->err = b->obj ? 0 : SIO_ERR_NOMEM;
}

/* Adds name: val, taking ownership of val (NULL means JSON null only when
 * allow_null; otherwise a NULL val is an allocation failure). */
static void jb_add(jb *b, const char *name, json_object *val, int allow_null) {
  if (b->err) {
    json_object_put(val);
    return;
  }
  if (!val && !allow_null) {
    b->err = SIO_ERR_NOMEM;
    return;
  }
  if (json_object_object_add(b->obj, name, val)) {
    json_object_put(val);
    b->err = SIO_ERR_NOMEM;
  }
}

static json_object *strv_json(const char *const *v, size_t n) {
  json_object *a = json_object_new_array();
  size_t i;
  if (!a)
    return NULL;
  for (i = 0; i < n; i++) {
    json_object *s = json_object_new_string(v[i] ? v[i] : "");
    if (!s || json_object_array_add(a, s)) {
      json_object_put(s);
      json_object_put(a);
      return NULL;
    }
  }
  return a;
}

static json_object *opts_json(const sio_broadcast_opts *o) {
  jb b;
  jb_init(&b);
  jb_add(&b, "rooms", strv_json(o ? o->rooms : NULL, o ? o->nrooms : 0), 0);
  jb_add(&b, "except", strv_json(o ? o->except : NULL, o ? o->nexcept : 0), 0);
  if (b.err) {
    json_object_put(b.obj);
    return NULL;
  }
  return b.obj;
}

/* Appends b's object as JSON text and frees it. */
static int jb_finish(jb *b, sio_buf *out) {
  int rv = b->err;
  if (!rv)
    rv = sio_json_append(out, b->obj);
  json_object_put(b->obj);
  return rv;
}

static void jb_head(jb *b, const char *uid, const char *request_id, int type) {
  jb_init(b);
  if (uid)
    jb_add(b, "uid", json_object_new_string(uid), 0);
  if (request_id)
    jb_add(b, "requestId", json_object_new_string(request_id), 0);
  jb_add(b, "type", json_object_new_int(type), 0);
}

static int check_opts(const sio_broadcast_opts *o) {
  if (o && ((o->nrooms && !o->rooms) || (o->nexcept && !o->except)))
    return SIO_ERR_INVAL;
  return 0;
}

int sio_redis_encode_rooms_request(sio_buf *out, int type, const char *uid,
                                   const sio_broadcast_opts *o,
                                   const char *const *rooms, size_t nrooms) {
  jb b;
  if ((type != SIO_REDIS_REMOTE_JOIN && type != SIO_REDIS_REMOTE_LEAVE) ||
      check_opts(o) || (nrooms && !rooms))
    return SIO_ERR_INVAL;
  jb_head(&b, uid, NULL, type);
  jb_add(&b, "opts", opts_json(o), 0);
  jb_add(&b, "rooms", strv_json(rooms, nrooms), 0);
  return jb_finish(&b, out);
}

int sio_redis_encode_disconnect_request(sio_buf *out, const char *uid,
                                        const sio_broadcast_opts *o,
                                        int close) {
  jb b;
  if (check_opts(o))
    return SIO_ERR_INVAL;
  jb_head(&b, uid, NULL, SIO_REDIS_REMOTE_DISCONNECT);
  jb_add(&b, "opts", opts_json(o), 0);
  jb_add(&b, "close", json_object_new_boolean(close != 0), 0);
  return jb_finish(&b, out);
}

int sio_redis_encode_fetch_request(sio_buf *out, const char *uid,
                                   const char *request_id,
                                   const sio_broadcast_opts *o) {
  jb b;
  if (check_opts(o) || !request_id)
    return SIO_ERR_INVAL;
  jb_head(&b, uid, request_id, SIO_REDIS_REMOTE_FETCH);
  jb_add(&b, "opts", opts_json(o), 0);
  return jb_finish(&b, out);
}

int sio_redis_encode_all_rooms_request(sio_buf *out, const char *uid,
                                       const char *request_id) {
  jb b;
  if (!request_id)
    return SIO_ERR_INVAL;
  jb_head(&b, uid, request_id, SIO_REDIS_ALL_ROOMS);
  return jb_finish(&b, out);
}

int sio_redis_encode_sse_request(sio_buf *out, const char *uid,
                                 const char *request_id, const char *event,
                                 json_object *args) {
  json_object *data;
  size_t i, n;
  jb b;
  if (check_event(event, args, NULL))
    return SIO_ERR_INVAL;
  n = args ? json_object_array_length(args) : 0;
  data = json_object_new_array();
  if (data) {
    json_object *ev = json_object_new_string(event);
    if (!ev || json_object_array_add(data, ev)) {
      json_object_put(ev);
      json_object_put(data);
      data = NULL;
    }
  }
  for (i = 0; data && i < n; i++) {
    json_object *it = json_object_array_get_idx(args, i);
    if (json_object_array_add(data, json_object_get(it))) {
      json_object_put(it);
      json_object_put(data);
      data = NULL;
    }
  }
  jb_head(&b, uid, request_id, SIO_REDIS_SERVER_SIDE_EMIT);
  jb_add(&b, "data", data, 0);
  return jb_finish(&b, out);
}

int sio_redis_encode_response(sio_buf *out, const char *request_id,
                              const char *field_name, json_object *value) {
  jb b;
  if (!request_id)
    return SIO_ERR_INVAL;
  jb_init(&b);
  jb_add(&b, "requestId", json_object_new_string(request_id), 0);
  if (field_name)
    jb_add(&b, field_name, json_object_get(value), 1);
  return jb_finish(&b, out);
}

int sio_redis_encode_sse_response(sio_buf *out, const char *request_id,
                                  json_object *data) {
  jb b;
  if (!request_id)
    return SIO_ERR_INVAL;
  jb_head(&b, NULL, NULL, SIO_REDIS_SERVER_SIDE_EMIT);
  jb_add(&b, "requestId", json_object_new_string(request_id), 0);
  jb_add(&b, "data", json_object_get(data), 1);
  return jb_finish(&b, out);
}

int sio_redis_encode_client_count(sio_buf *out, const char *request_id,
                                  uint64_t count) {
  jb b;
  if (!request_id)
    return SIO_ERR_INVAL;
  jb_head(&b, NULL, NULL, SIO_REDIS_BROADCAST_CLIENT_COUNT);
  jb_add(&b, "requestId", json_object_new_string(request_id), 0);
  jb_add(&b, "clientCount",
         json_object_new_int64(count > INT64_MAX ? INT64_MAX : (int64_t)count),
         0);
  return jb_finish(&b, out);
}

/* ------------------------------------------- the sharded adapter (v8.2) */

void sio_redis_cluster_clear(sio_redis_cluster_msg *m) {
  packet_clear(&m->packet);
  opts_clear(&m->opts);
  strv_clear(&m->rooms);
  sio_redis_value_clear(&m->root);
  m->uid = m->nsp = m->request_id = NULL;
  m->sse = m->sockets = m->answer = NULL;
}

/* The fields of data each known type uses (see the header). */
static int cluster_data_of(sio_redis_cluster_msg *m, json_object *d) {
  json_object *cc, *first;
  int rv;
  if (!json_object_is_type(d, json_type_object))
    return SIO_ERR_PROTO;
  if (opt_string(d, "requestId", &m->request_id))
    return SIO_ERR_PROTO;
  switch (m->type) {
  case SIO_REDIS_CLUSTER_BROADCAST:
    rv = opts_of(field(d, "opts"), &m->opts);
    if (!rv)
      rv = packet_of(field(d, "packet"), &m->packet, m->event_buf);
    return rv;
  case SIO_REDIS_CLUSTER_SOCKETS_JOIN:
  case SIO_REDIS_CLUSTER_SOCKETS_LEAVE:
    rv = opts_of(field(d, "opts"), &m->opts);
    return rv ? rv : strv_of(field(d, "rooms"), &m->rooms);
  case SIO_REDIS_CLUSTER_DISCONNECT_SOCKETS:
    m->close = truthy(field(d, "close"));
    return opts_of(field(d, "opts"), &m->opts);
  case SIO_REDIS_CLUSTER_FETCH_SOCKETS:
    if (!m->request_id)
      return SIO_ERR_PROTO;
    return opts_of(field(d, "opts"), &m->opts);
  case SIO_REDIS_CLUSTER_FETCH_SOCKETS_RESPONSE:
    m->sockets = field(d, "sockets");
    return m->request_id && json_object_is_type(m->sockets, json_type_array)
               ? 0
               : SIO_ERR_PROTO;
  case SIO_REDIS_CLUSTER_SERVER_SIDE_EMIT:
    m->sse = field(d, "packet");
    if (!json_object_is_type(m->sse, json_type_array) ||
        json_object_array_length(m->sse) == 0)
      return SIO_ERR_PROTO;
    first = json_object_array_get_idx(m->sse, 0);
    return json_object_is_type(first, json_type_string) ? 0 : SIO_ERR_PROTO;
  case SIO_REDIS_CLUSTER_SERVER_SIDE_EMIT_RESPONSE:
  case SIO_REDIS_CLUSTER_BROADCAST_ACK:
    m->answer = field(d, "packet");
    return m->request_id ? 0 : SIO_ERR_PROTO;
  case SIO_REDIS_CLUSTER_BROADCAST_CLIENT_COUNT:
    cc = field(d, "clientCount");
    if (!m->request_id || !cc || !is_number(cc) || number_i64(cc) < 0)
      return SIO_ERR_PROTO;
    m->client_count = number_i64(cc);
    return 0;
  default:
    return 0;
  }
}

int sio_redis_cluster_decode(sio_redis_cluster_msg *m, const uint8_t *in,
                             size_t len, const sio_redis_limits *lim) {
  json_object *o, *t, *d;
  int rv;
  memset(m, 0, sizeof(*m));
  m->packet.id = -1;
  m->opts.timeout = -1;
  m->client_count = -1;
  rv = sio_redis_value_decode(&m->root, in, len, lim);
  if (rv)
    return rv;
  o = m->root.json;
  rv = SIO_ERR_PROTO;
  if (!json_object_is_type(o, json_type_object))
    goto fail;
  t = field(o, "type");
  if (!t || !is_number(t))
    goto fail;
  m->type = (int)SIO_MAX(SIO_MIN(number_i64(t), INT32_MAX), INT32_MIN);
  if (opt_string(o, "uid", &m->uid) || opt_string(o, "nsp", &m->nsp))
    goto fail;
  d = field(o, "data");
  if (m->type >= SIO_REDIS_CLUSTER_BROADCAST &&
      m->type <= SIO_REDIS_CLUSTER_BROADCAST_ACK)
    rv = cluster_data_of(m, d);
  else
    rv = 0; /* heartbeats and unknown types: the envelope only */
  if (rv)
    goto fail;
  return 0;
fail:
  sio_redis_cluster_clear(m);
  return rv;
}

/* Appends {type, data, uid, nsp} (takes data): msgpack when the message
 * carries binary, JSON text otherwise, as the reference chooses. */
static int cluster_finish(sio_buf *out, int type, const char *uid,
                          const char *nsp, jb *data, const sio_bin *bins,
                          size_t nbins) {
  jb b;
  int rv;
  jb_init(&b);
  jb_add(&b, "type", json_object_new_int(type), 0);
  if (data->err) {
    json_object_put(data->obj);
    jb_add(&b, "data", NULL, 0);
  } else {
    jb_add(&b, "data", data->obj, 0);
  }
  jb_add(&b, "uid", json_object_new_string(uid), 0);
  jb_add(&b, "nsp", json_object_new_string(nsp), 0);
  if (b.err || nbins == 0)
    return jb_finish(&b, out);
  rv = sio_redis_pack_value(out, b.obj, bins, nbins);
  json_object_put(b.obj);
  return rv;
}

/* obj.name = val, val released when that fails. Returns 1 on failure. */
static int add_owned(json_object *obj, const char *name, json_object *val) {
  if (val && json_object_object_add(obj, name, val) == 0)
    return 0;
  json_object_put(val);
  return 1;
}

static json_object *cluster_opts_json(const sio_broadcast_opts *o,
                                      int64_t timeout_ms) {
  json_object *opts = opts_json(o), *flags = json_object_new_object();
  int err = !opts || !flags;
  if (!err && o && (o->flags & SIO_BCAST_VOLATILE))
    err = add_owned(flags, "volatile", json_object_new_boolean(1));
  if (!err && timeout_ms >= 0)
    err = add_owned(flags, "timeout", json_object_new_int64(timeout_ms));
  if (!err && json_object_object_add(opts, "flags", flags) == 0)
    return opts;
  json_object_put(flags); /* a failed add leaves it ours */
  json_object_put(opts);
  return NULL;
}

/* [event, ...args] */
static json_object *event_array(const char *event, json_object *args) {
  json_object *a = json_object_new_array(), *ev;
  size_t i, n = args ? json_object_array_length(args) : 0;
  if (!a)
    return NULL;
  ev = json_object_new_string(event);
  if (!ev || json_object_array_add(a, ev)) {
    json_object_put(ev);
    json_object_put(a);
    return NULL;
  }
  for (i = 0; i < n; i++) {
    json_object *it = json_object_array_get_idx(args, i);
    if (json_object_array_add(a, json_object_get(it))) {
      json_object_put(it);
      json_object_put(a);
      return NULL;
    }
  }
  return a;
}

static int cluster_head_ok(const char *uid, const char *nsp) {
  return uid && nsp;
}

int sio_redis_encode_cluster_bcast(sio_buf *out, const char *uid,
                                   const char *nsp, const char *request_id,
                                   const char *event, json_object *args,
                                   const sio_bin *bins, size_t nbins,
                                   const sio_broadcast_opts *o,
                                   int64_t timeout_ms) {
  jb d, pkt;
  size_t mark = out->len;
  int rv;
  if (check_event(event, args, o) || !cluster_head_ok(uid, nsp) ||
      (nbins && !bins))
    return SIO_ERR_INVAL;
  jb_init(&pkt);
  jb_add(&pkt, "type", json_object_new_int(2), 0);
  jb_add(&pkt, "data", event_array(event, args), 0);
  jb_init(&d);
  if (pkt.err) {
    json_object_put(pkt.obj);
    jb_add(&d, "packet", NULL, 0);
  } else {
    jb_add(&d, "packet", pkt.obj, 0);
  }
  if (request_id)
    jb_add(&d, "requestId", json_object_new_string(request_id), 0);
  jb_add(&d, "opts", cluster_opts_json(o, timeout_ms), 0);
  rv = cluster_finish(out, SIO_REDIS_CLUSTER_BROADCAST, uid, nsp, &d, bins,
                      nbins);
  if (rv)
    sio_buf_truncate(out, mark);
  return rv;
}

int sio_redis_encode_cluster_rooms(sio_buf *out, int type, const char *uid,
                                   const char *nsp, const sio_broadcast_opts *o,
                                   const char *const *rooms, size_t nrooms) {
  jb d;
  if ((type != SIO_REDIS_CLUSTER_SOCKETS_JOIN &&
       type != SIO_REDIS_CLUSTER_SOCKETS_LEAVE) ||
      check_opts(o) || (nrooms && !rooms) || !cluster_head_ok(uid, nsp))
    return SIO_ERR_INVAL;
  jb_init(&d);
  jb_add(&d, "opts", cluster_opts_json(o, -1), 0);
  jb_add(&d, "rooms", strv_json(rooms, nrooms), 0);
  return cluster_finish(out, type, uid, nsp, &d, NULL, 0);
}

int sio_redis_encode_cluster_disconnect(sio_buf *out, const char *uid,
                                        const char *nsp,
                                        const sio_broadcast_opts *o,
                                        int close) {
  jb d;
  if (check_opts(o) || !cluster_head_ok(uid, nsp))
    return SIO_ERR_INVAL;
  jb_init(&d);
  jb_add(&d, "opts", cluster_opts_json(o, -1), 0);
  jb_add(&d, "close", json_object_new_boolean(close != 0), 0);
  return cluster_finish(out, SIO_REDIS_CLUSTER_DISCONNECT_SOCKETS, uid, nsp, &d,
                        NULL, 0);
}

int sio_redis_encode_cluster_fetch(sio_buf *out, const char *uid,
                                   const char *nsp, const char *request_id,
                                   const sio_broadcast_opts *o) {
  jb d;
  if (check_opts(o) || !request_id || !cluster_head_ok(uid, nsp))
    return SIO_ERR_INVAL;
  jb_init(&d);
  jb_add(&d, "opts", cluster_opts_json(o, -1), 0);
  jb_add(&d, "requestId", json_object_new_string(request_id), 0);
  return cluster_finish(out, SIO_REDIS_CLUSTER_FETCH_SOCKETS, uid, nsp, &d,
                        NULL, 0);
}

int sio_redis_encode_cluster_sse(sio_buf *out, const char *uid, const char *nsp,
                                 const char *request_id, const char *event,
                                 json_object *args) {
  jb d;
  if (check_event(event, args, NULL) || !cluster_head_ok(uid, nsp))
    return SIO_ERR_INVAL;
  jb_init(&d);
  if (request_id)
    jb_add(&d, "requestId", json_object_new_string(request_id), 0);
  jb_add(&d, "packet", event_array(event, args), 0);
  return cluster_finish(out, SIO_REDIS_CLUSTER_SERVER_SIDE_EMIT, uid, nsp, &d,
                        NULL, 0);
}

int sio_redis_encode_cluster_answer(sio_buf *out, int type, const char *uid,
                                    const char *nsp, const char *request_id,
                                    json_object *value, const sio_bin *bins,
                                    size_t nbins) {
  jb d;
  size_t mark = out->len;
  int rv;
  if ((type != SIO_REDIS_CLUSTER_FETCH_SOCKETS_RESPONSE &&
       type != SIO_REDIS_CLUSTER_SERVER_SIDE_EMIT_RESPONSE &&
       type != SIO_REDIS_CLUSTER_BROADCAST_ACK) ||
      !request_id || !cluster_head_ok(uid, nsp) || (nbins && !bins))
    return SIO_ERR_INVAL;
  jb_init(&d);
  jb_add(&d, "requestId", json_object_new_string(request_id), 0);
  jb_add(&d,
         type == SIO_REDIS_CLUSTER_FETCH_SOCKETS_RESPONSE ? "sockets"
                                                          : "packet",
         json_object_get(value), 1);
  rv = cluster_finish(out, type, uid, nsp, &d, bins, nbins);
  if (rv)
    sio_buf_truncate(out, mark);
  return rv;
}

int sio_redis_encode_cluster_client_count(sio_buf *out, const char *uid,
                                          const char *nsp,
                                          const char *request_id,
                                          uint64_t count) {
  jb d;
  if (!request_id || !cluster_head_ok(uid, nsp))
    return SIO_ERR_INVAL;
  jb_init(&d);
  jb_add(&d, "requestId", json_object_new_string(request_id), 0);
  jb_add(&d, "clientCount",
         json_object_new_int64(count > INT64_MAX ? INT64_MAX : (int64_t)count),
         0);
  return cluster_finish(out, SIO_REDIS_CLUSTER_BROADCAST_CLIENT_COUNT, uid, nsp,
                        &d, NULL, 0);
}
