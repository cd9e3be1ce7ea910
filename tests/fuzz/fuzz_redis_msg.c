/* fuzz_redis_msg.c: libFuzzer harness for the Redis adapter protocol codec
 * (sio_redis_msg.c): broadcast, request and response messages in msgpack
 * or JSON, as other servers and emitters publish them. Besides "no crash,
 * no sanitizer report, no unbounded allocation", it checks that packing a
 * decoded value is a fixed point after one round trip, and that a decoded
 * broadcast re-encodes to a message with the same event, namespace and
 * targets, whose encoding is a fixed point. The sharded adapter's
 * envelope (sio_redis_cluster_decode) gets the same treatment for its
 * broadcasts. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "sio_int.h"
#include "sio_json.h"
#include "sio_redis_msg.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void json_text(sio_buf *b, json_object *v) {
  if (sio_json_append(b, v))
    abort();
}

static void check_value(const uint8_t *in, size_t len,
                        const sio_redis_limits *lim) {
  sio_redis_value v, w;
  sio_buf m, t1, t2;
  int rv = sio_redis_value_decode(&v, in, len, lim);
  if (rv) {
    if (v.json || v.bins || v.nbins)
      abort();
    if (rv != SIO_ERR_PROTO && rv != SIO_ERR_DEPTH && rv != SIO_ERR_LIMIT)
      abort();
    return;
  }
  sio_buf_init(&m);
  sio_buf_init(&t1);
  sio_buf_init(&t2);
  /* packing is a fixed point after one round (the first may turn JSON
   * number texts such as "1.50" or 1e400 into their msgpack values);
   * values nested past the writer's depth cannot be packed: skip them */
  if (sio_redis_pack_value(&m, v.json, v.bins, v.nbins) == 0) {
    sio_redis_value x;
    sio_buf m2;
    int rv2;
    /* a message whose first byte is '{' is JSON, as the Node adapter
     * decides: the integer 123 packs to that very byte (positive fixint
     * 0x7b), a bare value no adapter message is */
    if (m.data[0] == '{')
      goto out;
    /* an ext of another type becomes [type, bin], one level deeper; a
     * repeated map key drops the bins of the value it replaced */
    rv2 = sio_redis_value_decode(&w, (const uint8_t *)m.data, m.len, NULL);
    if (rv2 == SIO_ERR_DEPTH)
      goto out;
    if (rv2 || w.nbins > v.nbins)
      abort();
    sio_buf_init(&m2);
    if (sio_redis_pack_value(&m2, w.json, w.bins, w.nbins) ||
        sio_redis_value_decode(&x, (const uint8_t *)m2.data, m2.len, NULL))
      abort();
    json_text(&t1, w.json);
    json_text(&t2, x.json);
    if (t1.len != t2.len || memcmp(t1.data, t2.data, t1.len) != 0 ||
        m.len != m2.len || memcmp(m.data, m2.data, m.len) != 0)
      abort();
    sio_redis_value_clear(&x);
    sio_buf_deinit(&m2);
    sio_redis_value_clear(&w);
  }
out:
  sio_buf_deinit(&m);
  sio_buf_deinit(&t1);
  sio_buf_deinit(&t2);
  sio_redis_value_clear(&v);
}

/* Re-encodes m; 0 and *n decoded when that worked. */
static int reencode(const sio_redis_bcast *m, sio_buf *e, sio_redis_bcast *n) {
  sio_broadcast_opts o;
  o.rooms = m->opts.rooms.v;
  o.nrooms = m->opts.rooms.n;
  o.except = m->opts.except.v;
  o.nexcept = m->opts.except.n;
  o.flags = m->opts.flags;
  sio_buf_reset(e);
  if (sio_redis_encode_bcast(e, m->uid ? m->uid : "", m->packet.nsp,
                             m->packet.event, m->packet.args, m->root.bins,
                             m->root.nbins, &o, m->opts.timeout))
    return -1;
  if (sio_redis_bcast_decode(n, (const uint8_t *)e->data, e->len, NULL))
    abort();
  if (strcmp(m->packet.event, n->packet.event) != 0 ||
      strcmp(m->packet.nsp, n->packet.nsp) != 0 ||
      n->opts.rooms.n != m->opts.rooms.n ||
      n->opts.except.n != m->opts.except.n ||
      n->opts.timeout != m->opts.timeout ||
      (n->opts.flags & SIO_BCAST_VOLATILE) !=
          (m->opts.flags & SIO_BCAST_VOLATILE) ||
      json_object_array_length(n->packet.args) !=
          json_object_array_length(m->packet.args))
    abort();
  return 0;
}

/* A decoded broadcast re-encodes to one with the same event, namespace,
 * targets and arguments; after one round (which renumbers attachments a
 * repeated key dropped) the bytes are a fixed point. */
static void check_bcast(const uint8_t *in, size_t len) {
  sio_redis_bcast m, n, n2;
  sio_buf e, e2, a1, a2;
  if (sio_redis_bcast_decode(&m, in, len, NULL))
    return;
  if (!m.packet.nsp || !m.packet.event || !m.packet.args)
    abort();
  sio_buf_init(&e);
  sio_buf_init(&e2);
  sio_buf_init(&a1);
  sio_buf_init(&a2);
  if (reencode(&m, &e, &n) == 0) {
    if (reencode(&n, &e2, &n2))
      abort();
    json_text(&a1, n.packet.args);
    json_text(&a2, n2.packet.args);
    if (a1.len != a2.len || memcmp(a1.data, a2.data, a1.len) != 0 ||
        e.len != e2.len || memcmp(e.data, e2.data, e.len) != 0)
      abort();
    sio_redis_bcast_clear(&n2);
    sio_redis_bcast_clear(&n);
  }
  sio_buf_deinit(&e);
  sio_buf_deinit(&e2);
  sio_buf_deinit(&a1);
  sio_buf_deinit(&a2);
  sio_redis_bcast_clear(&m);
}

/* a and b as JSON string literals are one text: the sharded envelope is
 * JSON when it carries no binary, and the JSON writer turns a byte that is
 * not UTF-8 (which a msgpack str may hold) into U+FFFD, as JavaScript's
 * decoder would have on the way in. */
static int same_json_text(const char *a, const char *b) {
  sio_buf x, y;
  int same;
  sio_buf_init(&x);
  sio_buf_init(&y);
  if (sio_json_append_string(&x, a, strlen(a)) ||
      sio_json_append_string(&y, b, strlen(b)))
    abort(); /* out of memory in a fuzzer: not a finding */
  same = x.len == y.len && memcmp(x.data, y.data, x.len) == 0;
  sio_buf_deinit(&x);
  sio_buf_deinit(&y);
  return same;
}

/* A decoded sharded broadcast re-encodes (or is refused for its depth) to
 * a message that decodes to the same type, event, targets and request. */
static void check_cluster(const uint8_t *in, size_t len) {
  sio_redis_cluster_msg m, n;
  sio_broadcast_opts o;
  sio_buf e;
  int rv;
  if (sio_redis_cluster_decode(&m, in, len, NULL))
    return;
  if (m.type != SIO_REDIS_CLUSTER_BROADCAST) {
    sio_redis_cluster_clear(&m);
    return;
  }
  o.rooms = m.opts.rooms.v;
  o.nrooms = m.opts.rooms.n;
  o.except = m.opts.except.v;
  o.nexcept = m.opts.except.n;
  o.flags = m.opts.flags;
  sio_buf_init(&e);
  rv = sio_redis_encode_cluster_bcast(
      &e, m.uid ? m.uid : "", m.nsp ? m.nsp : "/", m.request_id, m.packet.event,
      m.packet.args, m.root.bins, m.root.nbins, &o, m.opts.timeout);
  if (rv == 0) {
    if (sio_redis_cluster_decode(&n, (const uint8_t *)e.data, e.len, NULL))
      abort();
    if (n.type != m.type || !same_json_text(n.packet.event, m.packet.event) ||
        n.opts.rooms.n != m.opts.rooms.n ||
        n.opts.except.n != m.opts.except.n ||
        n.opts.timeout != m.opts.timeout || !n.request_id != !m.request_id ||
        json_object_array_length(n.packet.args) !=
            json_object_array_length(m.packet.args))
      abort();
    sio_redis_cluster_clear(&n);
  } else if (rv != SIO_ERR_DEPTH && rv != SIO_ERR_INVAL) {
    abort();
  }
  sio_buf_deinit(&e);
  sio_redis_cluster_clear(&m);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  static const sio_redis_limits tight = {4, 2};
  sio_redis_request r;
  sio_redis_response s;
  check_value(data, size, NULL);
  check_value(data, size, &tight);
  check_bcast(data, size);
  check_cluster(data, size);
  if (sio_redis_request_decode(&r, data, size, NULL) == 0)
    sio_redis_request_clear(&r);
  if (sio_redis_response_decode(&s, data, size, NULL) == 0)
    sio_redis_response_clear(&s);
  return 0;
}
