/* sio_redis_streams.c: the wire codec of @socket.io/redis-streams-adapter
 * (see the header for the protocol). An entry is decoded by rebuilding the
 * ClusterAdapter envelope {type, data, uid, nsp} from its fields and
 * handing it to sio_redis_cluster_decode, so the stream and the sharded
 * adapter check message bodies the same way; a message is written the
 * other way round, from the envelope the sio_redis_encode_cluster_*
 * encoders produce (no separate data encoders to keep in step). */
#include "sio_redis_streams.h"

#include <string.h>

#include "sio_int.h"
#include "sio_json.h"
#include "sio_mem.h"
#include "sio_util.h"

/* ------------------------------------------------------------- entry ids */

/* Decimal digits of a uint64 in s[0..n). Returns 0 or SIO_ERR_PROTO. */
static int u64_of(const char *s, size_t n, uint64_t *out) {
  uint64_t v = 0;
  size_t i;
  if (n == 0 || n > 20)
    return SIO_ERR_PROTO;
  for (i = 0; i < n; i++) {
    unsigned d = (unsigned char)s[i] - '0';
    if (d > 9 || v > (UINT64_MAX - d) / 10)
      return SIO_ERR_PROTO;
    v = v * 10 + d;
  }
  *out = v;
  return 0;
}

int sio_redis_streams_id_parse(const char *s, size_t n,
                               sio_redis_streams_id *out) {
  sio_redis_streams_id id;
  const char *dash;
  if (!s || n == 0 || n > SIO_REDIS_STREAMS_ID_MAX)
    return SIO_ERR_PROTO;
  dash = memchr(s, '-', n);
  if (!dash || u64_of(s, (size_t)(dash - s), &id.ms) ||
      u64_of(dash + 1, n - (size_t)(dash - s) - 1, &id.seq))
    return SIO_ERR_PROTO;
  if (out)
    *out = id;
  return 0;
}

int sio_redis_streams_id_cmp(sio_redis_streams_id a, sio_redis_streams_id b) {
  if (a.ms != b.ms)
    return a.ms < b.ms ? -1 : 1;
  if (a.seq != b.seq)
    return a.seq < b.seq ? -1 : 1;
  return 0;
}

int sio_redis_streams_id_next(sio_redis_streams_id a,
                              sio_redis_streams_id *out) {
  if (a.seq < UINT64_MAX) {
    out->ms = a.ms;
    out->seq = a.seq + 1;
    return 0;
  }
  if (a.ms == UINT64_MAX)
    return SIO_ERR_LIMIT;
  out->ms = a.ms + 1;
  out->seq = 0;
  return 0;
}

static size_t u64_text(char *out, uint64_t v) {
  char tmp[20];
  size_t n = 0, i;
  do {
    tmp[n++] = (char)('0' + v % 10);
    v /= 10;
  } while (v);
  for (i = 0; i < n; i++)
    out[i] = tmp[n - 1 - i];
  return n;
}

size_t sio_redis_streams_id_format(char out[SIO_REDIS_STREAMS_ID_MAX + 1],
                                   sio_redis_streams_id a) {
  size_t n = u64_text(out, a.ms);
  out[n++] = '-';
  n += u64_text(out + n, a.seq);
  out[n] = '\0';
  return n;
}

/* ------------------------------------------------------------------ XADD */

void sio_redis_streams_cmd_init(sio_redis_streams_cmd *c) {
  memset(c, 0, sizeof(*c));
  sio_buf_init(&c->buf);
}

void sio_redis_streams_cmd_deinit(sio_redis_streams_cmd *c) {
  sio_buf_deinit(&c->buf);
  memset(c, 0, sizeof(*c));
}

int sio_redis_streams_xadd(sio_redis_streams_cmd *c, const char *stream,
                           uint64_t maxlen, const char *uid, const char *nsp,
                           int type, const char *data, size_t data_len) {
  size_t off[SIO_REDIS_STREAMS_XADD_ARGC + 1];
  int n = 0, i, rv = 0;
  if (!stream || !uid || !nsp || type < 0 || (data_len && !data))
    return SIO_ERR_INVAL;
  sio_buf_reset(&c->buf);
  c->argc = 0;
  /* offsets first: the buffer may move while it grows */
#define ARG(expr)                                                              \
  do {                                                                         \
    off[n++] = c->buf.len;                                                     \
    if (!rv)                                                                   \
      rv = (expr);                                                             \
  } while (0)
  ARG(sio_buf_append_str(&c->buf, "XADD"));
  ARG(sio_buf_append_str(&c->buf, stream));
  ARG(sio_buf_append_str(&c->buf, "MAXLEN"));
  ARG(sio_buf_append_str(&c->buf, "~"));
  ARG(sio_buf_append_u64(&c->buf, maxlen));
  ARG(sio_buf_append_str(&c->buf, "*"));
  ARG(sio_buf_append_str(&c->buf, "uid"));
  ARG(sio_buf_append_str(&c->buf, uid));
  ARG(sio_buf_append_str(&c->buf, "nsp"));
  ARG(sio_buf_append_str(&c->buf, nsp));
  ARG(sio_buf_append_str(&c->buf, "type"));
  ARG(sio_buf_append_u64(&c->buf, (uint64_t)type));
  if (data) {
    ARG(sio_buf_append_str(&c->buf, "data"));
    ARG(sio_buf_append(&c->buf, data, data_len));
  }
#undef ARG
  off[n] = c->buf.len;
  if (rv) {
    sio_buf_reset(&c->buf);
    return rv;
  }
  for (i = 0; i < n; i++) {
    c->argv[i] = c->buf.data + off[i];
    c->argvlen[i] = off[i + 1] - off[i];
  }
  c->argc = n;
  return 0;
}

static json_object *member(json_object *o, const char *k) {
  json_object *v = NULL;
  return json_object_object_get_ex(o, k, &v) ? v : NULL;
}

int sio_redis_streams_xadd_envelope(sio_redis_streams_cmd *c,
                                    const char *stream, uint64_t maxlen,
                                    const uint8_t *env, size_t len,
                                    const sio_redis_limits *lim) {
  sio_redis_value v;
  json_object *t, *u, *ns, *d;
  sio_buf body, pack;
  int64_t type;
  int rv;
  rv = sio_redis_value_decode(&v, env, len, lim);
  if (rv)
    return rv;
  sio_buf_init(&body);
  sio_buf_init(&pack);
  rv = SIO_ERR_PROTO;
  if (!json_object_is_type(v.json, json_type_object))
    goto out;
  t = member(v.json, "type");
  u = member(v.json, "uid");
  ns = member(v.json, "nsp");
  d = member(v.json, "data");
  if (!json_object_is_type(t, json_type_int) ||
      !json_object_is_type(u, json_type_string) ||
      !json_object_is_type(ns, json_type_string))
    goto out;
  type = json_object_get_int64(t);
  if (type < 0 || type > INT32_MAX)
    goto out;
  /* data is an object or nothing: the Node reader takes text starting
   * with '{' as JSON and anything else as base64 */
  if (d && !json_object_is_type(d, json_type_object))
    goto out;
  if (d && v.nbins) {
    rv = sio_redis_pack_value(&pack, d, v.bins, v.nbins);
    if (!rv)
      rv = sio_base64_append(&body, (const uint8_t *)pack.data, pack.len);
  } else if (d) {
    rv = sio_json_append(&body, d);
  } else {
    rv = 0;
  }
  if (!rv)
    rv = sio_redis_streams_xadd(c, stream, maxlen, json_object_get_string(u),
                                json_object_get_string(ns), (int)type,
                                d ? (body.data ? body.data : "") : NULL,
                                body.len);
out:
  sio_buf_deinit(&body);
  sio_buf_deinit(&pack);
  sio_redis_value_clear(&v);
  return rv;
}

/* ------------------------------------------------------- reading entries */

static int span_of(const redisReply *r, sio_redis_streams_span *s) {
  if (!r || (r->type != REDIS_REPLY_STRING && r->type != REDIS_REPLY_STATUS) ||
      (r->len && !r->str))
    return SIO_ERR_PROTO;
  s->p = r->str ? r->str : "";
  s->n = r->len;
  return 0;
}

static int span_is(const sio_redis_streams_span *s, const char *lit) {
  size_t n = strlen(lit);
  return s->n == n && memcmp(s->p, lit, n) == 0;
}

/* [id, [f, v, ...]] */
static int entry_of(const redisReply *r, sio_redis_streams_entry *e) {
  const redisReply *f;
  size_t i;
  memset(e, 0, sizeof(*e));
  if (!r || r->type != REDIS_REPLY_ARRAY || r->elements != 2 || !r->element)
    return SIO_ERR_PROTO;
  if (span_of(r->element[0], &e->id) ||
      sio_redis_streams_id_parse(e->id.p, e->id.n, &e->idv))
    return SIO_ERR_PROTO;
  f = r->element[1];
  if (!f || f->type != REDIS_REPLY_ARRAY || f->elements % 2 != 0 ||
      (f->elements && !f->element))
    return SIO_ERR_PROTO;
  for (i = 0; i < f->elements; i += 2) {
    sio_redis_streams_span k, v;
    if (span_of(f->element[i], &k) || span_of(f->element[i + 1], &v))
      return SIO_ERR_PROTO;
    if (span_is(&k, "uid"))
      e->uid = v;
    else if (span_is(&k, "nsp"))
      e->nsp = v;
    else if (span_is(&k, "type"))
      e->type = v;
    else if (span_is(&k, "data"))
      e->data = v;
  }
  return 0;
}

static int entries_of(const redisReply *list, size_t max,
                      sio_redis_streams_entries *out) {
  size_t i;
  if (!list || list->type != REDIS_REPLY_ARRAY ||
      (list->elements && !list->element))
    return SIO_ERR_PROTO;
  if (max == 0)
    max = SIO_REDIS_STREAMS_ENTRIES_MAX;
  if (list->elements > max)
    return SIO_ERR_LIMIT;
  if (list->elements == 0)
    return 0;
  out->v = sio_calloc(list->elements, sizeof(*out->v));
  if (!out->v)
    return SIO_ERR_NOMEM;
  for (i = 0; i < list->elements; i++) {
    if (entry_of(list->element[i], &out->v[i]) ||
        (i && sio_redis_streams_id_cmp(out->v[i - 1].idv, out->v[i].idv) >= 0))
      return SIO_ERR_PROTO;
    out->n = i + 1;
  }
  return 0;
}

void sio_redis_streams_entries_clear(sio_redis_streams_entries *e) {
  sio_free(e->v);
  e->v = NULL;
  e->n = 0;
}

int sio_redis_streams_parse_xrange(const redisReply *r, size_t max_entries,
                                   sio_redis_streams_entries *out) {
  int rv;
  out->v = NULL;
  out->n = 0;
  rv = entries_of(r, max_entries, out);
  if (rv)
    sio_redis_streams_entries_clear(out);
  return rv;
}

int sio_redis_streams_parse_xread(const redisReply *r, const char *stream,
                                  size_t max_entries,
                                  sio_redis_streams_entries *out) {
  const redisReply *s;
  sio_redis_streams_span name;
  out->v = NULL;
  out->n = 0;
  if (r && r->type == REDIS_REPLY_NIL)
    return 0; /* BLOCK timed out */
  if (!r || r->type != REDIS_REPLY_ARRAY || r->elements != 1 || !r->element)
    return SIO_ERR_PROTO;
  s = r->element[0];
  if (!s || s->type != REDIS_REPLY_ARRAY || s->elements != 2 || !s->element ||
      span_of(s->element[0], &name) || (stream && !span_is(&name, stream)))
    return SIO_ERR_PROTO;
  return sio_redis_streams_parse_xrange(s->element[1], max_entries, out);
}

/* Whether JSON text t[0..n), starting with '{', closes its first value at
 * its last byte: then, placed inside an envelope, it cannot close the
 * data member early and add or override envelope keys (the parser checks
 * the rest). Brackets are counted outside strings. */
static int one_value(const char *t, size_t n) {
  size_t i, depth = 0;
  int in_str = 0;
  for (i = 0; i < n; i++) {
    char ch = t[i];
    if (in_str) {
      if (ch == '\\')
        i++;
      else if (ch == '"')
        in_str = 0;
      continue;
    }
    if (ch == '"') {
      in_str = 1;
    } else if (ch == '{' || ch == '[') {
      depth++;
    } else if (ch == '}' || ch == ']') {
      if (depth == 0 || (--depth == 0 && i + 1 != n))
        return 0;
    }
  }
  return depth == 0 && !in_str;
}

/* A msgpack str header for n bytes. */
static int mp_str(sio_buf *b, const char *s, size_t n) {
  uint8_t h[5];
  size_t hl;
  if (n < 32) {
    h[0] = (uint8_t)(0xa0 | n);
    hl = 1;
  } else if (n <= 0xff) {
    h[0] = 0xd9;
    h[1] = (uint8_t)n;
    hl = 2;
  } else if (n <= 0xffff) {
    h[0] = 0xda;
    h[1] = (uint8_t)(n >> 8);
    h[2] = (uint8_t)n;
    hl = 3;
  } else if ((uint64_t)n <= 0xffffffffu) {
    h[0] = 0xdb;
    h[1] = (uint8_t)(n >> 24);
    h[2] = (uint8_t)(n >> 16);
    h[3] = (uint8_t)(n >> 8);
    h[4] = (uint8_t)n;
    hl = 5;
  } else {
    return SIO_ERR_LIMIT;
  }
  if (sio_buf_append(b, h, hl))
    return SIO_ERR_NOMEM;
  return sio_buf_append(b, s, n) ? SIO_ERR_NOMEM : 0;
}

static int mp_uint(sio_buf *b, uint32_t v) {
  uint8_t h[5] = {0xce, (uint8_t)(v >> 24), (uint8_t)(v >> 16),
                  (uint8_t)(v >> 8), (uint8_t)v};
  if (v < 128)
    return sio_buf_append_byte(b, (uint8_t)v) ? SIO_ERR_NOMEM : 0;
  return sio_buf_append(b, h, sizeof(h)) ? SIO_ERR_NOMEM : 0;
}

/* {type, uid, nsp[, data]} as msgpack, data's bytes (one msgpack value,
 * so last: a truncated or longer one leaves the map malformed) raw. */
static int env_msgpack(sio_buf *b, uint32_t type,
                       const sio_redis_streams_entry *e, const uint8_t *data,
                       size_t n) {
  int rv;
  if (sio_buf_append_byte(b, data ? 0x84 : 0x83))
    return SIO_ERR_NOMEM;
  if ((rv = mp_str(b, "type", 4)) || (rv = mp_uint(b, type)) ||
      (rv = mp_str(b, "uid", 3)) || (rv = mp_str(b, e->uid.p, e->uid.n)) ||
      (rv = mp_str(b, "nsp", 3)) || (rv = mp_str(b, e->nsp.p, e->nsp.n)))
    return rv;
  if (!data)
    return 0;
  if ((rv = mp_str(b, "data", 4)))
    return rv;
  return sio_buf_append(b, data, n) ? SIO_ERR_NOMEM : 0;
}

/* {"data":<text>,"type":..,"uid":..,"nsp":..}: data first, so that even
 * a duplicate key inside could not override the envelope's (one_value
 * already refuses such text). */
static int env_json(sio_buf *b, uint32_t type,
                    const sio_redis_streams_entry *e) {
  int err = sio_buf_append_str(b, "{\"data\":") ||
            sio_buf_append(b, e->data.p, e->data.n) ||
            sio_buf_appendf(b, ",\"type\":%u,\"uid\":", (unsigned)type) ||
            sio_json_append_string(b, e->uid.p, e->uid.n) ||
            sio_buf_append_str(b, ",\"nsp\":") ||
            sio_json_append_string(b, e->nsp.p, e->nsp.n) ||
            sio_buf_append_byte(b, '}');
  return err ? SIO_ERR_NOMEM : 0;
}

int sio_redis_streams_entry_decode(const sio_redis_streams_entry *e,
                                   sio_redis_streams_msg *x,
                                   const sio_redis_limits *lim) {
  uint32_t type = 0;
  size_t i;
  int rv;
  memset(&x->m, 0, sizeof(x->m));
  sio_buf_init(&x->env);
  if (!e->uid.p || !e->nsp.p || !e->type.p || e->type.n == 0 || e->type.n > 9)
    return SIO_ERR_PROTO;
  for (i = 0; i < e->type.n; i++) {
    unsigned d = (unsigned char)e->type.p[i] - '0';
    if (d > 9)
      return SIO_ERR_PROTO;
    type = type * 10 + d;
  }
  if (e->data.n > SIO_REDIS_STREAMS_DATA_MAX)
    return SIO_ERR_LIMIT;
  if (!e->data.p || e->data.n == 0) {
    rv = env_msgpack(&x->env, type, e, NULL, 0);
  } else if (e->data.p[0] == '{') {
    rv = one_value(e->data.p, e->data.n) ? env_json(&x->env, type, e)
                                         : SIO_ERR_PROTO;
  } else {
    size_t cap = e->data.n / 4 * 3 + 3;
    uint8_t *raw = sio_malloc(cap);
    long n;
    if (!raw)
      return SIO_ERR_NOMEM;
    n = sio_base64_decode(raw, e->data.p, e->data.n);
    rv = n <= 0 ? SIO_ERR_PROTO : env_msgpack(&x->env, type, e, raw, (size_t)n);
    sio_free(raw);
  }
  if (!rv)
    rv = sio_redis_cluster_decode(&x->m, (const uint8_t *)x->env.data,
                                  x->env.len, lim);
  if (rv) {
    sio_buf_deinit(&x->env);
    memset(&x->m, 0, sizeof(x->m));
  }
  return rv;
}

void sio_redis_streams_msg_clear(sio_redis_streams_msg *x) {
  sio_redis_cluster_clear(&x->m);
  sio_buf_deinit(&x->env);
}

static int strv_has(const sio_redis_strv *v, const char *s) {
  size_t i;
  for (i = 0; i < v->n; i++)
    if (strcmp(v->v[i], s) == 0)
      return 1;
  return 0;
}

int sio_redis_streams_replays(const sio_redis_cluster_msg *m, const char *nsp,
                              const char *const *rooms, size_t nrooms) {
  size_t i;
  int met;
  /* a broadcast with acknowledgements is never on the stream (ephemeral):
   * refused all the same, its ack could not be served */
  if (m->type != SIO_REDIS_CLUSTER_BROADCAST || m->request_id || !m->nsp ||
      !nsp || strcmp(m->nsp, nsp) != 0)
    return 0;
  met = m->opts.rooms.n == 0;
  for (i = 0; i < nrooms; i++) {
    if (strv_has(&m->opts.except, rooms[i]))
      return 0;
    if (!met && strv_has(&m->opts.rooms, rooms[i]))
      met = 1;
  }
  return met;
}

/* ------------------------------------------------------------- sessions */

/* o.k = v (taken; a NULL v is a failed allocation). Returns 1 on failure. */
static int add_val(json_object *o, const char *k, json_object *v) {
  if (!v)
    return 1;
  if (json_object_object_add(o, k, v) == 0)
    return 0;
  json_object_put(v);
  return 1;
}

int sio_redis_streams_session_encode(sio_buf *out, const char *sid,
                                     const char *pid, const char *const *rooms,
                                     size_t nrooms, json_object *data,
                                     const sio_bin *bins, size_t nbins) {
  json_object *o, *r;
  sio_buf pack;
  size_t i;
  int rv = SIO_ERR_NOMEM;
  if (!sid || !pid || (nrooms && !rooms) || (nbins && !bins))
    return SIO_ERR_INVAL;
  for (i = 0; i < nrooms; i++)
    if (!rooms[i])
      return SIO_ERR_INVAL;
  o = json_object_new_object();
  if (!o)
    return SIO_ERR_NOMEM;
  sio_buf_init(&pack);
  r = json_object_new_array();
  if (add_val(o, "sid", json_object_new_string(sid)) ||
      add_val(o, "pid", json_object_new_string(pid)) || add_val(o, "rooms", r))
    goto out;
  for (i = 0; i < nrooms; i++) {
    json_object *s = json_object_new_string(rooms[i]);
    if (!s || json_object_array_add(r, s)) {
      json_object_put(s);
      goto out;
    }
  }
  if (add_val(o, "data",
              data ? json_object_get(data) : json_object_new_object()))
    goto out;
  rv = sio_redis_pack_value(&pack, o, bins, nbins);
  if (!rv)
    rv = sio_base64_append(out, (const uint8_t *)pack.data, pack.len);
out:
  json_object_put(o);
  sio_buf_deinit(&pack);
  return rv;
}

void sio_redis_streams_session_clear(sio_redis_streams_session *s) {
  sio_free((void *)s->rooms.v);
  sio_redis_value_clear(&s->root);
  sio_free(s->raw);
  memset(s, 0, sizeof(*s));
}

int sio_redis_streams_session_decode(sio_redis_streams_session *s,
                                     const char *in, size_t len,
                                     const sio_redis_limits *lim) {
  json_object *o, *sid, *pid, *rooms;
  long n;
  size_t i;
  int rv;
  memset(s, 0, sizeof(*s));
  if (!in || len == 0)
    return SIO_ERR_PROTO;
  if (len > SIO_REDIS_STREAMS_DATA_MAX)
    return SIO_ERR_LIMIT;
  s->raw = sio_malloc(len / 4 * 3 + 3);
  if (!s->raw)
    return SIO_ERR_NOMEM;
  n = sio_base64_decode(s->raw, in, len);
  /* msgpack only: the value decoder would take a '{' as JSON text */
  rv = SIO_ERR_PROTO;
  if (n <= 0 || s->raw[0] == '{')
    goto fail;
  rv = sio_redis_value_decode(&s->root, s->raw, (size_t)n, lim);
  if (rv)
    goto fail;
  rv = SIO_ERR_PROTO;
  o = s->root.json;
  if (!json_object_is_type(o, json_type_object))
    goto fail;
  sid = member(o, "sid");
  pid = member(o, "pid");
  rooms = member(o, "rooms");
  if (!json_object_is_type(sid, json_type_string) ||
      !json_object_is_type(pid, json_type_string) ||
      (rooms && !json_object_is_type(rooms, json_type_array)))
    goto fail;
  s->sid = json_object_get_string(sid);
  s->pid = json_object_get_string(pid);
  s->rooms.n = rooms ? json_object_array_length(rooms) : 0;
  if (s->rooms.n) {
    s->rooms.v = sio_calloc(s->rooms.n, sizeof(*s->rooms.v));
    if (!s->rooms.v) {
      rv = SIO_ERR_NOMEM;
      goto fail;
    }
    for (i = 0; i < s->rooms.n; i++) {
      json_object *it = json_object_array_get_idx(rooms, i);
      if (!json_object_is_type(it, json_type_string))
        goto fail;
      s->rooms.v[i] = json_object_get_string(it);
    }
  }
  s->data = member(o, "data");
  return 0;
fail:
  sio_redis_streams_session_clear(s);
  return rv;
}
