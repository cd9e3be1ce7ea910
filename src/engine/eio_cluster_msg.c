/* eio_cluster_msg.c: the messages of @socket.io/cluster-engine 0.1
 * (RedisEngine) <-> eio_cm_msg (PURE: msgpack-c for writing, no I/O).
 *
 * Role: the Engine.IO servers of a cluster without sticky sessions ask the
 * node that owns a session for a lock on it, and that node answers, drains
 * its queued packets to them, takes packets from them and hands the session
 * over on upgrade. The header lists the messages; the shapes were learnt
 * from the objects engine.ts builds and confirmed on captures of
 * @msgpack/msgpack 2.8.0 encode (tests/test_eio_cluster_msg.c holds them).
 *
 * Writing uses msgpack-c's packer, which picks the same widths as
 * @msgpack/msgpack (positive fixint/uint8/16/32/64 by value, fixstr/str8/
 * 16/32, bin8/16/32, fixmap/map16/map32, fixarray/array16/array32), with
 * the keys in the order engine.ts writes its object literals, so that what
 * we publish is byte for byte what a Node node would publish. DRAIN packets
 * are written as engine.io's Socket.sendPacket queues them ({type, options:
 * {compress: true}, data}): a Node node that drains them to a polling
 * client computes its HTTP compression from options.compress. PACKET and
 * UPGRADE_RESPONSE packets are written as engine.io-parser's decodePacket
 * returns them ({type, data}), as the Node nodes do.
 *
 * Reading does not use msgpack-c's unpacker: it sizes each container's
 * item array from the declared count (a 5-byte input claiming 2^32 items
 * would ask for gigabytes) and allocates outside sio_malloc. A cursor over
 * the bytes reads the few shapes the protocol has and skips everything else
 * with an explicit stack, checking what @msgpack/msgpack's decode checks
 * (every length within the input, no 0xc1, map keys strings or numbers and
 * never "__proto__", a timestamp ext of 4, 8 or 12 bytes, no trailing
 * bytes), so that a message a Node node would drop as malformed is
 * SIO_ERR_PROTO here. A first pass validates and counts the packets; the
 * one allocation then holds the packet array and a copy of the input, and
 * the second pass fills the views from that copy. A map's keys are looked
 * up by an index pass in which the last occurrence of a key wins and a nil
 * value counts as no value, as in the JavaScript object the Node decoder
 * builds (nil is what @msgpack/msgpack writes for undefined). */
#include "eio_cluster_msg.h"

#include <msgpack.h>
#include <string.h>

#include "sio_int.h"
#include "sio_mem.h"

/* nesting of the values we skip (packet options, unknown keys); Node has
 * no limit, but no message of the protocol nests more than 6 deep */
#define CM_SKIP_DEPTH 64
#define CM_ABSENT ((size_t)-1)

/* ------------------------------------------------------ packet type names */

static const char *const packet_names[] = {
    "open", "close", "ping", "pong", "message", "upgrade", "noop", "error"};

const char *eio_cm_packet_type_name(eio_packet_type t) {
  if ((unsigned)t >= SIO_ARRLEN(packet_names))
    return NULL;
  return packet_names[t];
}

/* -------------------------------------------------------------- channels */

int eio_cm_channel(sio_buf *out, const char *prefix,
                   const eio_cm_str *recipient) {
  size_t mark = out->len;
  int rv;
  /* the Node side writes `opts.channelPrefix || "engine.io"` and tests the
   * recipient for truthiness: "" is the default prefix and no recipient */
  if (!prefix || !*prefix)
    prefix = EIO_CM_PREFIX;
  if (recipient && recipient->len && !recipient->s)
    return SIO_ERR_INVAL;
  rv = sio_buf_append_str(out, prefix);
  if (!rv)
    rv = sio_buf_append_byte(out, '#');
  if (!rv && recipient && recipient->len) {
    rv = sio_buf_append(out, recipient->s, recipient->len);
    if (!rv)
      rv = sio_buf_append_byte(out, '#');
  }
  if (rv)
    sio_buf_truncate(out, mark);
  return rv;
}

/* ---------------------------------------------------------------- reader */

typedef enum mp_kind {
  MP_NIL,
  MP_BOOL,
  MP_UINT,
  MP_NINT, /* negative integer */
  MP_FLOAT,
  MP_STR,
  MP_BIN,
  MP_ARRAY,
  MP_MAP,
  MP_EXT
} mp_kind;

typedef struct mp_val {
  mp_kind k;
  int b;      /* MP_BOOL */
  uint64_t u; /* MP_UINT */
  double f;   /* MP_FLOAT */
  size_t off; /* MP_STR, MP_BIN: offset of the bytes */
  size_t n;   /* MP_STR, MP_BIN, MP_EXT: bytes; MP_ARRAY, MP_MAP: items */
} mp_val;

typedef struct rd {
  const uint8_t *p;
  size_t len;
  size_t i;
} rd;

static uint64_t be(const uint8_t *p, size_t n) {
  uint64_t v = 0;
  size_t k;
  for (k = 0; k < n; k++)
    v = v << 8 | p[k];
  return v;
}

/* Reads n bytes of big-endian length or value. */
static int rd_be(rd *r, size_t n, uint64_t *v) {
  if (r->len - r->i < n)
    return SIO_ERR_PROTO;
  *v = be(r->p + r->i, n);
  r->i += n;
  return 0;
}

/* Takes n body bytes (a string, binary or ext body). */
static int rd_body(rd *r, uint64_t n, mp_val *v) {
  if (n > r->len - r->i)
    return SIO_ERR_PROTO;
  v->off = r->i;
  v->n = (size_t)n;
  r->i += (size_t)n;
  return 0;
}

/* An ext: @msgpack/msgpack decodes type -1 as a timestamp and throws on
 * any size but 4, 8 and 12; the other types become ExtData. */
static int rd_ext(rd *r, uint64_t n, mp_val *v) {
  int8_t type;
  if (r->i >= r->len)
    return SIO_ERR_PROTO;
  type = (int8_t)r->p[r->i++];
  v->k = MP_EXT;
  if (type == -1 && n != 4 && n != 8 && n != 12)
    return SIO_ERR_PROTO;
  return rd_body(r, n, v);
}

/* Reads one value's head: a scalar whole, a container's item count (the
 * items follow). */
static int rd_head(rd *r, mp_val *v) {
  uint64_t x = 0;
  uint8_t b;
  int rv = 0;
  memset(v, 0, sizeof(*v));
  if (r->i >= r->len)
    return SIO_ERR_PROTO;
  b = r->p[r->i++];
  if (b <= 0x7f) {
    v->k = MP_UINT;
    v->u = b;
    return 0;
  }
  if (b >= 0xe0) {
    v->k = MP_NINT;
    return 0;
  }
  if (b <= 0x8f) {
    v->k = MP_MAP;
    v->n = b & 0x0f;
    return 0;
  }
  if (b <= 0x9f) {
    v->k = MP_ARRAY;
    v->n = b & 0x0f;
    return 0;
  }
  if (b <= 0xbf) {
    v->k = MP_STR;
    return rd_body(r, b & 0x1f, v);
  }
  switch (b) {
  case 0xc0:
    v->k = MP_NIL;
    return 0;
  case 0xc2:
  case 0xc3:
    v->k = MP_BOOL;
    v->b = b == 0xc3;
    return 0;
  case 0xc4: /* bin 8/16/32 */
  case 0xc5:
  case 0xc6:
    v->k = MP_BIN;
    rv = rd_be(r, (size_t)1 << (b - 0xc4), &x);
    return rv ? rv : rd_body(r, x, v);
  case 0xc7: /* ext 8/16/32 */
  case 0xc8:
  case 0xc9:
    rv = rd_be(r, (size_t)1 << (b - 0xc7), &x);
    return rv ? rv : rd_ext(r, x, v);
  case 0xca: { /* float 32 */
    uint32_t w;
    float f;
    rv = rd_be(r, 4, &x);
    w = (uint32_t)x;
    memcpy(&f, &w, sizeof(f));
    v->k = MP_FLOAT;
    v->f = f;
    return rv;
  }
  case 0xcb: /* float 64 */
    rv = rd_be(r, 8, &x);
    memcpy(&v->f, &x, sizeof(v->f));
    v->k = MP_FLOAT;
    return rv;
  case 0xcc: /* uint 8/16/32/64 */
  case 0xcd:
  case 0xce:
  case 0xcf:
    v->k = MP_UINT;
    return rd_be(r, (size_t)1 << (b - 0xcc), &v->u);
  case 0xd0: /* int 8/16/32/64 */
  case 0xd1:
  case 0xd2:
  case 0xd3: {
    size_t n = (size_t)1 << (b - 0xd0);
    rv = rd_be(r, n, &x);
    /* a non-negative value in a signed width is still a plain number */
    if (!rv && !(x >> (8 * n - 1))) {
      v->k = MP_UINT;
      v->u = x;
    } else {
      v->k = MP_NINT;
    }
    return rv;
  }
  case 0xd4: /* fixext 1/2/4/8/16 */
  case 0xd5:
  case 0xd6:
  case 0xd7:
  case 0xd8:
    return rd_ext(r, (uint64_t)1 << (b - 0xd4), v);
  case 0xd9: /* str 8/16/32 */
  case 0xda:
  case 0xdb:
    v->k = MP_STR;
    rv = rd_be(r, (size_t)1 << (b - 0xd9), &x);
    return rv ? rv : rd_body(r, x, v);
  case 0xdc: /* array 16/32 */
  case 0xdd:
    v->k = MP_ARRAY;
    rv = rd_be(r, b == 0xdc ? 2 : 4, &x);
    v->n = (size_t)x;
    return rv;
  case 0xde: /* map 16/32 */
  case 0xdf:
    v->k = MP_MAP;
    rv = rd_be(r, b == 0xde ? 2 : 4, &x);
    v->n = (size_t)x;
    return rv;
  default: /* 0xc1 */
    return SIO_ERR_PROTO;
  }
}

static int str_is(const rd *r, const mp_val *v, const char *s) {
  size_t n = strlen(s);
  return v->k == MP_STR && v->n == n && memcmp(r->p + v->off, s, n) == 0;
}

/* What the Node decoder accepts as a map key. */
static int key_ok(const rd *r, const mp_val *k) {
  if (k->k == MP_STR)
    return !str_is(r, k, "__proto__");
  return k->k == MP_UINT || k->k == MP_NINT || k->k == MP_FLOAT;
}

/* Skips one whole value, checking it as the Node decoder would. */
static int rd_skip(rd *r) {
  struct {
    uint64_t left; /* items still to read; a map's are keys when even */
    int map;
  } st[CM_SKIP_DEPTH];
  int top = -1;
  for (;;) {
    mp_val v;
    int is_key = 0, rv;
    if (top >= 0) {
      is_key = st[top].map && st[top].left % 2 == 0;
      st[top].left--;
    }
    rv = rd_head(r, &v);
    if (rv)
      return rv;
    if (is_key && !key_ok(r, &v))
      return SIO_ERR_PROTO;
    if ((v.k == MP_ARRAY || v.k == MP_MAP) && v.n) {
      uint64_t items = (uint64_t)v.n * (v.k == MP_MAP ? 2 : 1);
      /* each item takes a byte at least */
      if (items > r->len - r->i || top + 1 >= CM_SKIP_DEPTH)
        return SIO_ERR_PROTO;
      top++;
      st[top].left = items;
      st[top].map = v.k == MP_MAP;
      continue;
    }
    while (top >= 0 && st[top].left == 0)
      top--;
    if (top < 0)
      return 0;
  }
}

/* Reads the map at r and notes where the value of each key in names[0..n)
 * starts (CM_ABSENT for a key missing or nil; the last occurrence wins),
 * skipping every value. Returns 0 or SIO_ERR_PROTO (not a map, a bad key,
 * a bad value). */
static int rd_index(rd *r, const char *const *names, size_t n, size_t *at) {
  mp_val m, k;
  size_t e, j;
  int rv = rd_head(r, &m);
  for (j = 0; j < n; j++)
    at[j] = CM_ABSENT;
  if (rv)
    return rv;
  if (m.k != MP_MAP || m.n > (r->len - r->i) / 2)
    return SIO_ERR_PROTO;
  for (e = 0; e < m.n; e++) {
    size_t vat;
    rv = rd_head(r, &k);
    if (rv)
      return rv;
    if (!key_ok(r, &k))
      return SIO_ERR_PROTO;
    vat = r->i;
    rv = rd_skip(r);
    if (rv)
      return rv;
    for (j = 0; j < n; j++) {
      if (str_is(r, &k, names[j])) {
        at[j] = r->p[vat] == 0xc0 ? CM_ABSENT : vat;
        break;
      }
    }
  }
  return 0;
}

/* The head of the value at offset at (already validated by rd_index). */
static int rd_at(const rd *r, size_t at, mp_val *v) {
  rd c = *r;
  c.i = at;
  return rd_head(&c, v);
}

static int rd_str(const rd *r, size_t at, int nonempty, eio_cm_str *s) {
  mp_val v;
  if (at == CM_ABSENT || rd_at(r, at, &v) || v.k != MP_STR ||
      (nonempty && v.n == 0))
    return SIO_ERR_PROTO;
  s->s = (const char *)r->p + v.off;
  s->len = v.n;
  return 0;
}

/* A bool where absent or nil is false: @msgpack/msgpack writes undefined
 * as nil, and a message relayed by the cluster primary went through JSON,
 * which drops undefined members (the ACQUIRE_LOCK_RESPONSE's success is
 * undefined for a transport name engine.ts does not know). */
static int rd_bool(const rd *r, size_t at, int *b) {
  mp_val v;
  *b = 0;
  if (at == CM_ABSENT)
    return 0;
  if (rd_at(r, at, &v) || v.k != MP_BOOL)
    return SIO_ERR_PROTO;
  *b = v.b;
  return 0;
}

/* A non-negative integer; an integral float too (a JavaScript number is
 * one type: 2.0 is the DRAIN of a Node node's switch). */
static int rd_uint(const rd *r, size_t at, uint64_t *u) {
  mp_val v;
  if (at == CM_ABSENT || rd_at(r, at, &v))
    return SIO_ERR_PROTO;
  if (v.k == MP_UINT) {
    *u = v.u;
    return 0;
  }
  /* up to 2^53, where a double still counts by ones */
  if (v.k == MP_FLOAT && v.f >= 0 && v.f <= 9007199254740992.0 &&
      v.f == (double)(uint64_t)v.f) {
    *u = (uint64_t)v.f;
    return 0;
  }
  return SIO_ERR_PROTO;
}

enum { PK_TYPE, PK_DATA, PK_N };
static const char *const packet_keys[PK_N] = {"type", "data"};

static int rd_packet(const rd *r, size_t at, eio_packet *p) {
  rd c = *r;
  size_t k[PK_N];
  mp_val v;
  size_t t;
  int rv;
  c.i = at;
  rv = rd_index(&c, packet_keys, PK_N, k);
  if (rv)
    return rv;
  if (k[PK_TYPE] == CM_ABSENT || rd_at(r, k[PK_TYPE], &v))
    return SIO_ERR_PROTO;
  for (t = 0; t < SIO_ARRLEN(packet_names); t++)
    if (str_is(r, &v, packet_names[t]))
      break;
  if (t == SIO_ARRLEN(packet_names))
    return SIO_ERR_PROTO;
  memset(p, 0, sizeof(*p));
  p->type = (eio_packet_type)t;
  if (k[PK_DATA] == CM_ABSENT)
    return 0;
  if (rd_at(r, k[PK_DATA], &v))
    return SIO_ERR_PROTO;
  if (v.k == MP_BIN && t == EIO_PACKET_MESSAGE)
    p->binary = 1;
  else if (v.k != MP_STR)
    return SIO_ERR_PROTO;
  p->data = r->p + v.off;
  p->len = v.n;
  return 0;
}

/* The packets array at at into pk[0..) (NULL: count only). errors_ok:
 * engine.io-parser's error packet may be among them (what a client sent,
 * never what a server sends). */
static int rd_packets(const rd *r, size_t at, eio_packet *pk, size_t *n,
                      int errors_ok) {
  rd c = *r;
  mp_val v;
  size_t j;
  int rv;
  c.i = at;
  if (at == CM_ABSENT || rd_head(&c, &v) || v.k != MP_ARRAY ||
      v.n > EIO_CM_PACKETS_MAX)
    return SIO_ERR_PROTO;
  for (j = 0; j < v.n; j++) {
    eio_packet tmp, *p = pk ? &pk[j] : &tmp;
    rv = rd_packet(&c, c.i, p);
    if (!rv && !errors_ok && p->type == EIO_PACKET_ERROR)
      rv = SIO_ERR_PROTO;
    if (!rv)
      rv = rd_skip(&c);
    if (rv)
      return rv;
  }
  *n = v.n;
  return 0;
}

enum { K_REQ, K_SENDER, K_RECIP, K_TYPE, K_DATA, K_SOURCE, K_N };
static const char *const top_keys[K_N] = {
    "requestId", "senderId", "recipientId", "type", "data", "_source"};

enum {
  D_SID,
  D_TRANSPORT,
  D_TYPE,
  D_SUCCESS,
  D_PACKETS,
  D_PACKET,
  D_TAKEOVER,
  D_REASON,
  D_N
};
static const char *const data_keys[D_N] = {
    "sid",     "transportName", "type",     "success",
    "packets", "packet",        "takeOver", "reason"};

static int needs_request_id(eio_cm_type t) {
  return t == EIO_CM_ACQUIRE_LOCK || t == EIO_CM_ACQUIRE_LOCK_RESPONSE ||
         t == EIO_CM_UPGRADE || t == EIO_CM_UPGRADE_RESPONSE;
}

static int needs_sid(eio_cm_type t) {
  return t != EIO_CM_ACQUIRE_LOCK_RESPONSE && t != EIO_CM_UPGRADE_RESPONSE;
}

/* One pass over in[0..len): validates, fills m and, when pk is not NULL,
 * the packets; *npk is how many packets the message has. */
static int parse(const uint8_t *in, size_t len, eio_cm_msg *m, eio_packet *pk,
                 size_t *npk) {
  rd r = {in, len, 0};
  size_t k[K_N], d[D_N];
  eio_cm_str src;
  uint64_t type;
  int rv;
  memset(m, 0, sizeof(*m));
  *npk = 0;
  rv = rd_index(&r, top_keys, K_N, k);
  if (rv)
    return rv;
  if (r.i != len)
    return SIO_ERR_PROTO; /* "Extra N of M byte(s)" in Node */
  if (rd_str(&r, k[K_SOURCE], 0, &src) || src.len != strlen(EIO_CM_SOURCE) ||
      memcmp(src.s, EIO_CM_SOURCE, src.len) != 0)
    return SIO_ERR_UNSUPPORTED;
  if (rd_str(&r, k[K_SENDER], 1, &m->sender) || rd_uint(&r, k[K_TYPE], &type) ||
      type > EIO_CM_CLOSE)
    return SIO_ERR_PROTO;
  m->type = (eio_cm_type)type;
  if (k[K_REQ] != CM_ABSENT) {
    if (rd_uint(&r, k[K_REQ], &m->request_id))
      return SIO_ERR_PROTO;
    m->has_request_id = 1;
  } else if (needs_request_id(m->type)) {
    return SIO_ERR_PROTO;
  }
  /* the recipient is not checked by the Node nodes (the channel routes) */
  if (k[K_RECIP] != CM_ABSENT && rd_str(&r, k[K_RECIP], 0, &m->recipient))
    return SIO_ERR_PROTO;
  if (k[K_DATA] == CM_ABSENT)
    return SIO_ERR_PROTO;
  r.i = k[K_DATA];
  rv = rd_index(&r, data_keys, D_N, d);
  if (rv)
    return rv;
  if (needs_sid(m->type) && rd_str(&r, d[D_SID], 1, &m->sid))
    return SIO_ERR_PROTO;
  switch (m->type) {
  case EIO_CM_ACQUIRE_LOCK: {
    eio_cm_str lock;
    if (rd_str(&r, d[D_TRANSPORT], 1, &m->transport) ||
        rd_str(&r, d[D_TYPE], 1, &lock))
      return SIO_ERR_PROTO;
    if (lock.len == 5 && memcmp(lock.s, "write", 5) == 0)
      m->write = 1;
    else if (lock.len != 4 || memcmp(lock.s, "read", 4) != 0)
      return SIO_ERR_PROTO;
    return 0;
  }
  case EIO_CM_ACQUIRE_LOCK_RESPONSE:
  case EIO_CM_UPGRADE:
    return rd_bool(&r, d[D_SUCCESS], &m->success);
  case EIO_CM_DRAIN:
    return rd_packets(&r, d[D_PACKETS], pk, npk, 0);
  case EIO_CM_PACKET:
    if (d[D_PACKET] == CM_ABSENT)
      return SIO_ERR_PROTO;
    if (pk) {
      rv = rd_packet(&r, d[D_PACKET], pk);
    } else {
      eio_packet tmp;
      rv = rd_packet(&r, d[D_PACKET], &tmp);
    }
    *npk = 1;
    return rv;
  case EIO_CM_UPGRADE_RESPONSE:
    rv = rd_bool(&r, d[D_TAKEOVER], &m->take_over);
    return rv ? rv : rd_packets(&r, d[D_PACKETS], pk, npk, 1);
  case EIO_CM_CLOSE:
    return rd_str(&r, d[D_REASON], 0, &m->reason);
  }
  return SIO_ERR_PROTO;
}

int eio_cm_decode(eio_cm_decoded *d, const uint8_t *in, size_t len) {
  size_t npk = 0, n2 = 0, head;
  uint8_t *block, *copy;
  eio_packet *pk;
  int rv;
  memset(d, 0, sizeof(*d));
  if (!in || len == 0)
    return SIO_ERR_PROTO;
  rv = parse(in, len, &d->msg, NULL, &npk);
  if (rv) {
    memset(&d->msg, 0, sizeof(d->msg));
    return rv;
  }
  /* npk <= EIO_CM_PACKETS_MAX: no overflow */
  head = npk * sizeof(eio_packet);
  block = len <= SIZE_MAX - head ? sio_malloc(head + len) : NULL;
  if (!block) {
    memset(&d->msg, 0, sizeof(d->msg));
    return SIO_ERR_NOMEM;
  }
  pk = (eio_packet *)(void *)block;
  copy = block + head;
  memcpy(copy, in, len);
  rv = parse(copy, len, &d->msg, pk, &n2);
  if (rv || n2 != npk) { /* cannot happen: the same bytes parse the same */
    sio_free(block);
    memset(&d->msg, 0, sizeof(d->msg));
    return rv ? rv : SIO_ERR_PROTO;
  }
  d->msg.packets = npk ? pk : NULL;
  d->msg.npackets = npk;
  d->priv = block;
  return 0;
}

void eio_cm_decoded_free(eio_cm_decoded *d) {
  if (!d)
    return;
  sio_free(d->priv);
  memset(d, 0, sizeof(*d));
}

/* ---------------------------------------------------------------- writer */

static int buf_write(void *data, const char *p, size_t n) {
  return sio_buf_append(data, p, n) ? -1 : 0;
}

static int str_ok(const eio_cm_str *s, int nonempty) {
  return (s->s || s->len == 0) && (!nonempty || s->len > 0);
}

static int packet_ok(const eio_packet *p) {
  if ((unsigned)p->type > EIO_PACKET_ERROR || (p->len && !p->data))
    return 0;
  return !p->binary || p->type == EIO_PACKET_MESSAGE;
}

static int check(const eio_cm_msg *m) {
  size_t j;
  if ((unsigned)m->type > EIO_CM_CLOSE || !str_ok(&m->sender, 1) ||
      !str_ok(&m->recipient, m->type != EIO_CM_ACQUIRE_LOCK))
    return SIO_ERR_INVAL;
  if (needs_request_id(m->type) && !m->has_request_id)
    return SIO_ERR_INVAL;
  if (needs_sid(m->type) && !str_ok(&m->sid, 1))
    return SIO_ERR_INVAL;
  if (m->type == EIO_CM_ACQUIRE_LOCK && !str_ok(&m->transport, 1))
    return SIO_ERR_INVAL;
  if (m->type == EIO_CM_CLOSE && !str_ok(&m->reason, 0))
    return SIO_ERR_INVAL;
  if (m->type == EIO_CM_DRAIN || m->type == EIO_CM_UPGRADE_RESPONSE ||
      m->type == EIO_CM_PACKET) {
    if (m->type == EIO_CM_PACKET ? m->npackets != 1
                                 : m->npackets > EIO_CM_PACKETS_MAX)
      return SIO_ERR_INVAL;
    if (m->npackets && !m->packets)
      return SIO_ERR_INVAL;
    for (j = 0; j < m->npackets; j++)
      if (!packet_ok(&m->packets[j]) ||
          /* a client's error, never a server's output */
          (m->type == EIO_CM_DRAIN && m->packets[j].type == EIO_PACKET_ERROR))
        return SIO_ERR_INVAL;
  }
  return 0;
}

/* msgpack-c's pack functions return the write callback's -1 */
#define TRY(x)                                                                 \
  do {                                                                         \
    if ((x) != 0)                                                              \
      return SIO_ERR_NOMEM;                                                    \
  } while (0)

static int pack_mem(msgpack_packer *pk, const void *s, size_t n) {
  TRY(msgpack_pack_str(pk, n));
  TRY(msgpack_pack_str_body(pk, s, n));
  return 0;
}

static int pack_key(msgpack_packer *pk, const char *k) {
  return pack_mem(pk, k, strlen(k));
}

static int pack_s(msgpack_packer *pk, const char *k, const eio_cm_str *s) {
  int rv = pack_key(pk, k);
  return rv ? rv : pack_mem(pk, s->s ? s->s : "", s->len);
}

static int pack_bool(msgpack_packer *pk, const char *k, int b) {
  int rv = pack_key(pk, k);
  if (rv)
    return rv;
  TRY(b ? msgpack_pack_true(pk) : msgpack_pack_false(pk));
  return 0;
}

/* A packet as sendPacket queues it (options: 1) or as decodePacket
 * returns it. A text packet without data has no data key; a binary one
 * always has its bytes (Node's Buffer, even an empty one). */
static int pack_packet(msgpack_packer *pk, const eio_packet *p, int options) {
  int has_data = p->binary || p->data;
  int rv;
  TRY(msgpack_pack_map(pk, 1 + (size_t)options + (size_t)has_data));
  rv = pack_key(pk, "type");
  if (!rv)
    rv = pack_key(pk, packet_names[p->type]);
  if (!rv && options) {
    rv = pack_key(pk, "options");
    if (!rv) {
      TRY(msgpack_pack_map(pk, 1));
      rv = pack_bool(pk, "compress", 1);
    }
  }
  if (rv || !has_data)
    return rv;
  rv = pack_key(pk, "data");
  if (rv)
    return rv;
  if (p->binary) {
    TRY(msgpack_pack_bin(pk, p->len));
    TRY(msgpack_pack_bin_body(pk, p->len ? (const void *)p->data : "", p->len));
    return 0;
  }
  return pack_mem(pk, p->data, p->len);
}

static int pack_packets(msgpack_packer *pk, const eio_cm_msg *m, int options) {
  size_t j;
  int rv = pack_key(pk, "packets");
  if (rv)
    return rv;
  TRY(msgpack_pack_array(pk, m->npackets));
  for (j = 0; j < m->npackets && !rv; j++)
    rv = pack_packet(pk, &m->packets[j], options);
  return rv;
}

/* data, keys in the order of engine.ts's object literals */
static int pack_data(msgpack_packer *pk, const eio_cm_msg *m) {
  int rv;
  switch (m->type) {
  case EIO_CM_ACQUIRE_LOCK:
    TRY(msgpack_pack_map(pk, 3));
    rv = pack_s(pk, "sid", &m->sid);
    if (!rv)
      rv = pack_s(pk, "transportName", &m->transport);
    if (!rv) {
      eio_cm_str lock = {m->write ? "write" : "read", m->write ? 5u : 4u};
      rv = pack_s(pk, "type", &lock);
    }
    return rv;
  case EIO_CM_ACQUIRE_LOCK_RESPONSE:
    TRY(msgpack_pack_map(pk, 1));
    return pack_bool(pk, "success", m->success);
  case EIO_CM_DRAIN:
    TRY(msgpack_pack_map(pk, 2));
    rv = pack_s(pk, "sid", &m->sid);
    return rv ? rv : pack_packets(pk, m, 1);
  case EIO_CM_PACKET:
    TRY(msgpack_pack_map(pk, 2));
    rv = pack_s(pk, "sid", &m->sid);
    if (!rv)
      rv = pack_key(pk, "packet");
    return rv ? rv : pack_packet(pk, &m->packets[0], 0);
  case EIO_CM_UPGRADE:
    TRY(msgpack_pack_map(pk, 2));
    rv = pack_s(pk, "sid", &m->sid);
    return rv ? rv : pack_bool(pk, "success", m->success);
  case EIO_CM_UPGRADE_RESPONSE:
    TRY(msgpack_pack_map(pk, 2));
    rv = pack_bool(pk, "takeOver", m->take_over);
    return rv ? rv : pack_packets(pk, m, 0);
  case EIO_CM_CLOSE:
    TRY(msgpack_pack_map(pk, 2));
    rv = pack_s(pk, "sid", &m->sid);
    return rv ? rv : pack_s(pk, "reason", &m->reason);
  }
  return SIO_ERR_INVAL;
}

static int pack_msg(msgpack_packer *pk, const eio_cm_msg *m) {
  int req = needs_request_id(m->type), rcpt = m->recipient.len > 0;
  eio_cm_str src = {EIO_CM_SOURCE, sizeof(EIO_CM_SOURCE) - 1};
  int rv = 0;
  TRY(msgpack_pack_map(pk, 4 + (size_t)req + (size_t)rcpt));
  if (req) {
    rv = pack_key(pk, "requestId");
    if (!rv)
      TRY(msgpack_pack_uint64(pk, m->request_id));
  }
  if (!rv)
    rv = pack_s(pk, "senderId", &m->sender);
  if (!rv && rcpt)
    rv = pack_s(pk, "recipientId", &m->recipient);
  if (!rv) {
    rv = pack_key(pk, "type");
    if (!rv)
      TRY(msgpack_pack_uint8(pk, (uint8_t)m->type));
  }
  if (!rv)
    rv = pack_key(pk, "data");
  if (!rv)
    rv = pack_data(pk, m);
  if (!rv)
    rv = pack_s(pk, "_source", &src);
  return rv;
}

int eio_cm_encode(sio_buf *out, const eio_cm_msg *m) {
  msgpack_packer pk;
  size_t mark = out->len;
  int rv = check(m);
  if (rv)
    return rv;
  msgpack_packer_init(&pk, out, buf_write);
  rv = pack_msg(&pk, m);
  if (rv)
    sio_buf_truncate(out, mark);
  return rv;
}
