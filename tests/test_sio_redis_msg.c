/* test_sio_redis_msg.c: the Redis adapter protocol codec (sio_redis_msg.c).
 *
 * Golden vectors come from tests/data/redis/vectors.txt, captured from
 * @socket.io/redis-adapter 8.3 and @socket.io/redis-emitter 5.1 under Node
 * 20 by tests/data/redis/capture_vectors.js: every message is decoded, and
 * every kind libsio writes itself is re-encoded from the decoded fields
 * and compared byte for byte. Malformed input (every truncation of every
 * vector, byte flips, lying container sizes, deep nesting) must fail
 * cleanly.
 *
 * The sharded adapter's envelope (createShardedAdapter, >= 8.2) has its own
 * vectors, tests/data/redis/sharded_vectors.txt, captured by
 * compat/node/test/sharded-capture.mjs the same way: decoded, re-encoded
 * byte for byte, truncated. */
#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "check_suites.h"
#include "failmalloc.h"
#include "sio_buf.h"
#include "sio_int.h"
#include "sio_json.h"
#include "sio_redis_msg.h"

typedef struct vec {
  char *step;
  char *channel;
  int json;
  uint8_t *bytes;
  size_t len;
} vec;

static const char *datadir(void) {
  static char dir[4096];
  const char *sd = getenv("srcdir");
  if (sd) {
    snprintf(dir, sizeof(dir), "%s/tests/data/redis", sd);
  } else {
    const char *slash = strrchr(__FILE__, '/');
    int n = slash ? (int)(slash - __FILE__) : 1;
    snprintf(dir, sizeof(dir), "%.*s/data/redis", n, slash ? __FILE__ : ".");
  }
  return dir;
}

static int hexv(char c) {
  if (c >= '0' && c <= '9')
    return c - '0';
  if (c >= 'a' && c <= 'f')
    return c - 'a' + 10;
  return -1;
}

static vec *load_file(const char *name, size_t min, size_t *count) {
  char path[4200], *line = NULL;
  size_t cap = 0, n = 0, vcap = 0;
  ssize_t got;
  vec *v = NULL;
  FILE *fp;
  snprintf(path, sizeof(path), "%s/%s", datadir(), name);
  fp = fopen(path, "r");
  ck_assert_msg(fp != NULL, "cannot open %s", path);
  while ((got = getline(&line, &cap, fp)) > 0) {
    char *f[4], *p = line;
    size_t i, hl;
    if (line[got - 1] == '\n')
      line[--got] = 0;
    if (line[0] == '#' || got == 0)
      continue;
    for (i = 0; i < 4; i++) {
      f[i] = p;
      p = strchr(p, '\t');
      if (i < 3) {
        ck_assert_ptr_nonnull(p);
        *p++ = 0;
      }
    }
    if (n == vcap) {
      vcap = vcap ? vcap * 2 : 64;
      v = realloc(v, vcap * sizeof(*v));
      ck_assert_ptr_nonnull(v);
    }
    v[n].step = strdup(f[0]);
    v[n].channel = strdup(f[1]);
    v[n].json = strcmp(f[2], "json") == 0;
    hl = strlen(f[3]);
    ck_assert_int_eq(hl % 2, 0);
    v[n].len = hl / 2;
    v[n].bytes = malloc(v[n].len + 1);
    for (i = 0; i < v[n].len; i++) {
      int hi = hexv(f[3][2 * i]), lo = hexv(f[3][2 * i + 1]);
      ck_assert(hi >= 0 && lo >= 0);
      v[n].bytes[i] = (uint8_t)(hi << 4 | lo);
    }
    n++;
  }
  free(line);
  fclose(fp);
  ck_assert_uint_ge(n, min);
  *count = n;
  return v;
}

static vec *load(size_t *count) { return load_file("vectors.txt", 41, count); }

static void unload(vec *v, size_t n) {
  size_t i;
  for (i = 0; i < n; i++) {
    free(v[i].step);
    free(v[i].channel);
    free(v[i].bytes);
  }
  free(v);
}

static const vec *find(const vec *v, size_t n, const char *step,
                       const char *chan_prefix, int nth) {
  size_t i;
  for (i = 0; i < n; i++)
    if (strcmp(v[i].step, step) == 0 &&
        strncmp(v[i].channel, chan_prefix, strlen(chan_prefix)) == 0 &&
        nth-- == 0)
      return &v[i];
  ck_abort_msg("no vector %s on %s", step, chan_prefix);
  return NULL;
}

static void json_text(char *out, size_t n, json_object *v) {
  sio_buf b;
  sio_buf_init(&b);
  ck_assert_int_eq(sio_json_append(&b, v), 0);
  snprintf(out, n, "%s", b.data);
  sio_buf_deinit(&b);
}

static void assert_bytes(const sio_buf *b, const vec *v) {
  if (b->len != v->len || memcmp(b->data, v->bytes, v->len) != 0) {
    size_t i;
    fprintf(stderr, "%s on %s:\n want ", v->step, v->channel);
    for (i = 0; i < v->len; i++)
      fprintf(stderr, "%02x", v->bytes[i]);
    fprintf(stderr, "\n got  ");
    for (i = 0; i < b->len; i++)
      fprintf(stderr, "%02x", (uint8_t)b->data[i]);
    fprintf(stderr, "\n");
    ck_abort_msg("bytes differ for %s", v->step);
  }
}

/* The namespace of a broadcast channel "socket.io#<nsp>#...". */
static void channel_nsp(const char *ch, char *out, size_t n) {
  const char *a = strchr(ch, '#') + 1, *b = strchr(a, '#');
  snprintf(out, n, "%.*s", (int)(b - a), a);
}

/* -------------------------------------------------------- golden vectors */

START_TEST(test_vectors_broadcast) {
  size_t n, i, checked = 0, reencoded = 0;
  vec *v = load(&n);
  for (i = 0; i < n; i++) {
    sio_redis_bcast m;
    char nsp[64];
    sio_buf b;
    int emitter;
    if (strncmp(v[i].channel, "socket.io#", 10) != 0)
      continue;
    ck_assert_msg(!v[i].json, "%s", v[i].step);
    ck_assert_int_eq(sio_redis_bcast_decode(&m, v[i].bytes, v[i].len, NULL), 0);
    channel_nsp(v[i].channel, nsp, sizeof(nsp));
    ck_assert_str_eq(m.packet.nsp, nsp);
    ck_assert_int_eq(m.packet.type, 2);
    ck_assert_int_eq(m.packet.id, -1);
    ck_assert_ptr_nonnull(m.uid);
    emitter = strcmp(m.uid, "emitter") == 0;
    ck_assert_int_eq(emitter, strncmp(v[i].step, "emitter_", 8) == 0);
    /* a one-room broadcast goes to that room's channel */
    if (m.opts.rooms.n == 1) {
      char want[128];
      snprintf(want, sizeof(want), "socket.io#%s#%s#", nsp, m.opts.rooms.v[0]);
      ck_assert_str_eq(v[i].channel, want);
    }
    /* the emitter orders its options differently, and the compress flag
     * is not something libsio writes: compare the others byte for byte */
    if (!emitter && !strstr(v[i].step, "compress")) {
      sio_broadcast_opts o = {m.opts.rooms.v, m.opts.rooms.n, m.opts.except.v,
                              m.opts.except.n, m.opts.flags};
      sio_buf_init(&b);
      ck_assert_int_eq(sio_redis_encode_bcast(&b, m.uid, m.packet.nsp,
                                              m.packet.event, m.packet.args,
                                              m.root.bins, m.root.nbins, &o,
                                              m.opts.timeout),
                       0);
      assert_bytes(&b, &v[i]);
      sio_buf_deinit(&b);
      reencoded++;
    }
    sio_redis_bcast_clear(&m);
    checked++;
  }
  ck_assert_uint_ge(checked, 18);
  ck_assert_uint_ge(reencoded, 10);
  unload(v, n);
}
END_TEST

START_TEST(test_vectors_broadcast_fields) {
  size_t n;
  vec *v = load(&n);
  sio_redis_bcast m;
  char t[512];
  const vec *x;

  x = find(v, n, "bcast_all", "socket.io#", 0);
  ck_assert_int_eq(sio_redis_bcast_decode(&m, x->bytes, x->len, NULL), 0);
  ck_assert_str_eq(m.packet.event, "hello");
  json_text(t, sizeof(t), m.packet.args);
  ck_assert_str_eq(t, "[\"world\",42,{\"a\":[true,null,1.5],\"s\":\"é\"}]");
  ck_assert_uint_eq(m.opts.rooms.n, 0);
  ck_assert_uint_eq(m.opts.except.n, 0);
  ck_assert_int_eq(m.opts.flags, 0);
  ck_assert_int_eq(m.opts.timeout, -1);
  sio_redis_bcast_clear(&m);

  x = find(v, n, "bcast_rooms_except", "socket.io#", 0);
  ck_assert_str_eq(x->channel, "socket.io#/#");
  ck_assert_int_eq(sio_redis_bcast_decode(&m, x->bytes, x->len, NULL), 0);
  ck_assert_uint_eq(m.opts.rooms.n, 2);
  ck_assert_str_eq(m.opts.rooms.v[1], "b");
  ck_assert_uint_eq(m.opts.except.n, 2);
  ck_assert_str_eq(m.opts.except.v[0], "c");
  sio_redis_bcast_clear(&m);

  x = find(v, n, "bcast_volatile", "socket.io#", 0);
  ck_assert_int_eq(sio_redis_bcast_decode(&m, x->bytes, x->len, NULL), 0);
  ck_assert_int_eq(m.opts.flags, SIO_BCAST_VOLATILE);
  sio_redis_bcast_clear(&m);

  x = find(v, n, "bcast_binary", "socket.io#", 0);
  ck_assert_int_eq(sio_redis_bcast_decode(&m, x->bytes, x->len, NULL), 0);
  json_text(t, sizeof(t), m.packet.args);
  ck_assert_str_eq(t, "[{\"_placeholder\":true,\"num\":0},{\"x\":{\"_"
                      "placeholder\":true,\"num\":1},\"y\":[{\"_placeholder\":"
                      "true,\"num\":2}]}]");
  ck_assert_uint_eq(m.root.nbins, 3);
  ck_assert_uint_eq(m.root.bins[0].len, 3);
  ck_assert_int_eq(m.root.bins[0].data[2], 3);
  ck_assert_uint_eq(m.root.bins[1].len, 0);
  ck_assert_int_eq(memcmp(m.root.bins[2].data, "ab", 2), 0);
  sio_redis_bcast_clear(&m);

  x = find(v, n, "bcast_socket_broadcast", "socket.io#", 0);
  ck_assert_int_eq(sio_redis_bcast_decode(&m, x->bytes, x->len, NULL), 0);
  ck_assert_uint_eq(m.opts.except.n, 1);
  ck_assert_uint_eq(strlen(m.opts.except.v[0]), 20); /* the sender's id */
  sio_redis_bcast_clear(&m);

  x = find(v, n, "bcast_numbers", "socket.io#", 0);
  ck_assert_int_eq(sio_redis_bcast_decode(&m, x->bytes, x->len, NULL), 0);
  json_text(t, sizeof(t), m.packet.args);
  ck_assert_str_eq(t, "[0,127,128,255,256,65535,65536,4294967295,4294967296,"
                      "-1,-32,-33,-128,-129,-32768,-32769,-2147483648,"
                      "-2147483649,9007199254740991,-9007199254740991,0.5,"
                      "-0.25,1152921504606846976,-1152921504606846976,1,0]");
  sio_redis_bcast_clear(&m);

  x = find(v, n, "bcast_sizes", "socket.io#", 0);
  ck_assert_int_eq(sio_redis_bcast_decode(&m, x->bytes, x->len, NULL), 0);
  ck_assert_uint_eq(json_object_array_length(m.packet.args), 9);
  ck_assert_int_eq(
      json_object_get_string_len(json_object_array_get_idx(m.packet.args, 4)),
      70000);
  ck_assert_uint_eq(m.root.nbins, 1);
  ck_assert_uint_eq(m.root.bins[0].len, 300);
  json_text(t, sizeof(t), json_object_array_get_idx(m.packet.args, 8));
  ck_assert_str_eq(t, "{\"1\":\"a\",\"2\":\"b\",\"x\":\"c\"}");
  sio_redis_bcast_clear(&m);

  x = find(v, n, "emitter_to_except", "socket.io#", 0);
  ck_assert_int_eq(sio_redis_bcast_decode(&m, x->bytes, x->len, NULL), 0);
  ck_assert_str_eq(m.uid, "emitter");
  ck_assert_str_eq(m.packet.event, "e3");
  ck_assert_uint_eq(m.opts.rooms.n, 2);
  ck_assert_uint_eq(m.opts.except.n, 1);
  ck_assert_str_eq(m.opts.except.v[0], "r3");
  sio_redis_bcast_clear(&m);

  x = find(v, n, "emitter_nsp_noslash", "socket.io#", 0);
  ck_assert_str_eq(x->channel, "socket.io#/admin#r1#");
  ck_assert_int_eq(sio_redis_bcast_decode(&m, x->bytes, x->len, NULL), 0);
  ck_assert_str_eq(m.packet.nsp, "/admin");
  sio_redis_bcast_clear(&m);

  x = find(v, n, "emitter_binary", "socket.io#", 0);
  ck_assert_int_eq(sio_redis_bcast_decode(&m, x->bytes, x->len, NULL), 0);
  ck_assert_uint_eq(m.root.nbins, 1);
  ck_assert_int_eq(memcmp(m.root.bins[0].data, "hi", 2), 0);
  sio_redis_bcast_clear(&m);
  unload(v, n);
}
END_TEST

/* Re-encodes a decoded request with the encoder libsio uses for its kind. */
static void reencode_request(const sio_redis_request *r, sio_buf *b) {
  sio_broadcast_opts o = {r->opts.rooms.v, r->opts.rooms.n, r->opts.except.v,
                          r->opts.except.n, r->opts.flags};
  switch (r->type) {
  case SIO_REDIS_REMOTE_JOIN:
  case SIO_REDIS_REMOTE_LEAVE:
    ck_assert_int_eq(sio_redis_encode_rooms_request(b, r->type, r->uid, &o,
                                                    r->rooms.v, r->rooms.n),
                     0);
    break;
  case SIO_REDIS_REMOTE_DISCONNECT:
    ck_assert_int_eq(
        sio_redis_encode_disconnect_request(b, r->uid, &o, r->close), 0);
    break;
  case SIO_REDIS_REMOTE_FETCH:
    ck_assert_int_eq(
        sio_redis_encode_fetch_request(b, r->uid, r->request_id, &o), 0);
    break;
  case SIO_REDIS_ALL_ROOMS:
    ck_assert_int_eq(
        sio_redis_encode_all_rooms_request(b, r->uid, r->request_id), 0);
    break;
  case SIO_REDIS_SERVER_SIDE_EMIT: {
    json_object *args = json_object_new_array();
    size_t i;
    for (i = 1; i < json_object_array_length(r->data); i++)
      json_object_array_add(
          args, json_object_get(json_object_array_get_idx(r->data, i)));
    ck_assert_int_eq(
        sio_redis_encode_sse_request(
            b, r->uid, r->request_id,
            json_object_get_string(json_object_array_get_idx(r->data, 0)),
            args),
        0);
    json_object_put(args);
    break;
  }
  case SIO_REDIS_BROADCAST:
    ck_assert_int_eq(sio_redis_encode_bcast_request(
                         b, r->uid, r->request_id, r->packet.nsp,
                         r->packet.event, r->packet.args, r->root.bins,
                         r->root.nbins, &o, r->opts.timeout),
                     0);
    break;
  default:
    ck_abort_msg("unexpected request type %d", r->type);
  }
}

START_TEST(test_vectors_requests) {
  size_t n, i, checked = 0;
  vec *v = load(&n);
  for (i = 0; i < n; i++) {
    sio_redis_request r;
    sio_buf b;
    if (strncmp(v[i].channel, "socket.io-request#", 18) != 0)
      continue;
    ck_assert_int_eq(sio_redis_request_decode(&r, v[i].bytes, v[i].len, NULL),
                     0);
    ck_assert_int_eq(v[i].json, r.type != SIO_REDIS_BROADCAST);
    sio_buf_init(&b);
    reencode_request(&r, &b);
    assert_bytes(&b, &v[i]);
    sio_buf_deinit(&b);
    sio_redis_request_clear(&r);
    checked++;
  }
  ck_assert_uint_ge(checked, 15);
  unload(v, n);
}
END_TEST

START_TEST(test_vectors_request_fields) {
  size_t n;
  vec *v = load(&n);
  sio_redis_request r;
  const vec *x;
  char t[256];

  x = find(v, n, "sockets_join_opts", "socket.io-request#", 0);
  ck_assert_int_eq(sio_redis_request_decode(&r, x->bytes, x->len, NULL), 0);
  ck_assert_int_eq(r.type, SIO_REDIS_REMOTE_JOIN);
  ck_assert_int_eq(r.has_opts, 1);
  ck_assert_str_eq(r.opts.rooms.v[0], "r1");
  ck_assert_str_eq(r.opts.except.v[0], "x");
  ck_assert_uint_eq(r.rooms.n, 2);
  ck_assert_str_eq(r.rooms.v[1], "j3");
  ck_assert_ptr_null(r.request_id);
  sio_redis_request_clear(&r);

  x = find(v, n, "disconnect_sockets", "socket.io-request#", 0);
  ck_assert_int_eq(sio_redis_request_decode(&r, x->bytes, x->len, NULL), 0);
  ck_assert_int_eq(r.type, SIO_REDIS_REMOTE_DISCONNECT);
  ck_assert_int_eq(r.close, 1);
  sio_redis_request_clear(&r);

  x = find(v, n, "emitter_sockets_join", "socket.io-request#", 0);
  ck_assert_int_eq(sio_redis_request_decode(&r, x->bytes, x->len, NULL), 0);
  ck_assert_ptr_null(r.uid);
  ck_assert_int_eq(r.type, SIO_REDIS_REMOTE_JOIN);
  ck_assert_str_eq(r.rooms.v[0], "r9");
  sio_redis_request_clear(&r);

  x = find(v, n, "server_side_emit_ack", "socket.io-request#", 0);
  ck_assert_int_eq(sio_redis_request_decode(&r, x->bytes, x->len, NULL), 0);
  ck_assert_int_eq(r.type, SIO_REDIS_SERVER_SIDE_EMIT);
  ck_assert_ptr_nonnull(r.request_id);
  json_text(t, sizeof(t), r.data);
  ck_assert_str_eq(t, "[\"sse-ack\",3]");
  sio_redis_request_clear(&r);

  x = find(v, n, "emitter_server_side_emit", "socket.io-request#", 0);
  ck_assert_int_eq(sio_redis_request_decode(&r, x->bytes, x->len, NULL), 0);
  ck_assert_str_eq(r.uid, "emitter");
  ck_assert_ptr_null(r.request_id);
  sio_redis_request_clear(&r);

  x = find(v, n, "broadcast_ack", "socket.io-request#", 0);
  ck_assert_int_eq(sio_redis_request_decode(&r, x->bytes, x->len, NULL), 0);
  ck_assert_int_eq(r.type, SIO_REDIS_BROADCAST);
  ck_assert_int_eq(r.opts.timeout, 2000);
  ck_assert_str_eq(r.packet.event, "q");
  json_text(t, sizeof(t), r.packet.args);
  ck_assert_str_eq(t, "[7]");
  sio_redis_request_clear(&r);
  unload(v, n);
}
END_TEST

START_TEST(test_vectors_responses) {
  size_t n, i, checked = 0;
  vec *v = load(&n);
  for (i = 0; i < n; i++) {
    sio_redis_response r;
    sio_buf b;
    int rv;
    if (strncmp(v[i].channel, "socket.io-response#", 19) != 0)
      continue;
    ck_assert_int_eq(sio_redis_response_decode(&r, v[i].bytes, v[i].len, NULL),
                     0);
    sio_buf_init(&b);
    if (r.type == SIO_REDIS_BROADCAST_ACK)
      rv = sio_redis_encode_bcast_ack(&b, r.request_id, r.packet, r.root.bins,
                                      r.root.nbins);
    else if (r.type == SIO_REDIS_BROADCAST_CLIENT_COUNT)
      rv = sio_redis_encode_client_count(&b, r.request_id,
                                         (uint64_t)r.client_count);
    else if (r.type == SIO_REDIS_SERVER_SIDE_EMIT)
      rv = sio_redis_encode_sse_response(&b, r.request_id, r.data);
    else if (r.sockets)
      rv = sio_redis_encode_response(&b, r.request_id, "sockets", r.sockets);
    else if (r.rooms)
      rv = sio_redis_encode_response(&b, r.request_id, "rooms", r.rooms);
    else
      rv = sio_redis_encode_response(&b, r.request_id, NULL, NULL);
    ck_assert_int_eq(rv, 0);
    assert_bytes(&b, &v[i]);
    sio_buf_deinit(&b);
    sio_redis_response_clear(&r);
    checked++;
  }
  ck_assert_uint_ge(checked, 7);
  unload(v, n);
}
END_TEST

START_TEST(test_vectors_response_fields) {
  size_t n;
  vec *v = load(&n);
  sio_redis_response r;
  const vec *x;
  json_object *s0, *f;

  x = find(v, n, "fetch_sockets", "socket.io-response#", 0);
  ck_assert_int_eq(sio_redis_response_decode(&r, x->bytes, x->len, NULL), 0);
  ck_assert_int_eq(r.type, -1);
  ck_assert_uint_eq(json_object_array_length(r.sockets), 1);
  s0 = json_object_array_get_idx(r.sockets, 0);
  ck_assert(json_object_object_get_ex(s0, "handshake", &f));
  ck_assert(json_object_object_get_ex(f, "address", NULL));
  ck_assert(json_object_object_get_ex(s0, "data", &f));
  ck_assert_str_eq(json_object_get_string(json_object_object_get(f, "user")),
                   "u1");
  sio_redis_response_clear(&r);

  x = find(v, n, "broadcast_ack", "socket.io-response#", 0);
  ck_assert_int_eq(sio_redis_response_decode(&r, x->bytes, x->len, NULL), 0);
  ck_assert_int_eq(r.type, SIO_REDIS_BROADCAST_CLIENT_COUNT);
  ck_assert_int_eq(r.client_count, 1);
  sio_redis_response_clear(&r);

  x = find(v, n, "broadcast_ack_binary", "socket.io-response#", 1);
  ck_assert_int_eq(sio_redis_response_decode(&r, x->bytes, x->len, NULL), 0);
  ck_assert_int_eq(r.type, SIO_REDIS_BROADCAST_ACK);
  ck_assert_int_eq(r.has_packet, 1);
  ck_assert_uint_eq(r.root.nbins, 1);
  ck_assert_int_eq(r.root.bins[0].data[0], 9);
  sio_redis_response_clear(&r);

  x = find(v, n, "server_side_emit_ack", "socket.io-response#", 0);
  ck_assert_int_eq(sio_redis_response_decode(&r, x->bytes, x->len, NULL), 0);
  ck_assert_int_eq(r.type, SIO_REDIS_SERVER_SIDE_EMIT);
  ck_assert_int_eq(r.has_data, 1);
  sio_redis_response_clear(&r);
  unload(v, n);
}
END_TEST

/* ------------------------------------------------------------- channels */

START_TEST(test_channels) {
  sio_buf b;
  sio_buf_init(&b);
  ck_assert_int_eq(sio_redis_channel(&b, "socket.io", "/", NULL), 0);
  ck_assert_str_eq(b.data, "socket.io#/#");
  sio_buf_reset(&b);
  ck_assert_int_eq(sio_redis_channel(&b, "socket.io", "/admin", "room1"), 0);
  ck_assert_str_eq(b.data, "socket.io#/admin#room1#");
  sio_buf_reset(&b);
  ck_assert_int_eq(sio_redis_request_channel(&b, "k", "/"), 0);
  ck_assert_str_eq(b.data, "k-request#/#");
  sio_buf_reset(&b);
  ck_assert_int_eq(sio_redis_response_channel(&b, "k", "/x", NULL), 0);
  ck_assert_str_eq(b.data, "k-response#/x#");
  sio_buf_reset(&b);
  ck_assert_int_eq(sio_redis_response_channel(&b, "k", "/x", "abc"), 0);
  ck_assert_str_eq(b.data, "k-response#/x#abc#");
  sio_buf_reset(&b);
  ck_assert_int_eq(sio_redis_pattern(&b, "socket.io", "/"), 0);
  ck_assert_str_eq(b.data, "socket.io#/#*");
  sio_buf_reset(&b);
  ck_assert_int_eq(sio_redis_pattern(&b, "a*b", "/[x]?"), 0);
  ck_assert_str_eq(b.data, "a\\*b#/\\[x\\]\\?#*");
  sio_buf_deinit(&b);
}
END_TEST

/* ------------------------------------------------------------- malformed */

static void decode_all(const uint8_t *p, size_t n) {
  sio_redis_bcast m;
  sio_redis_request r;
  sio_redis_response s;
  sio_redis_limits tight = {4, 2};
  if (sio_redis_bcast_decode(&m, p, n, NULL) == 0)
    sio_redis_bcast_clear(&m);
  if (sio_redis_request_decode(&r, p, n, NULL) == 0)
    sio_redis_request_clear(&r);
  if (sio_redis_response_decode(&s, p, n, NULL) == 0)
    sio_redis_response_clear(&s);
  if (sio_redis_bcast_decode(&m, p, n, &tight) == 0)
    sio_redis_bcast_clear(&m);
}

START_TEST(test_truncations_and_flips) {
  size_t n, i, k;
  vec *v = load(&n);
  for (i = 0; i < n; i++) {
    size_t len = v[i].len > 4096 ? 4096 : v[i].len;
    uint8_t *copy = malloc(v[i].len);
    /* every proper prefix of a msgpack message is incomplete */
    for (k = 0; k < len; k++) {
      sio_redis_value val;
      int rv = sio_redis_value_decode(&val, v[i].bytes, k, NULL);
      if (!v[i].json)
        ck_assert_msg(rv < 0, "%s: prefix %zu decoded", v[i].step, k);
      if (rv == 0)
        sio_redis_value_clear(&val);
      decode_all(v[i].bytes, k);
    }
    /* flipped bytes: anything but a crash */
    for (k = 0; k < len; k += 1 + k / 16) {
      memcpy(copy, v[i].bytes, v[i].len);
      copy[k] ^= 0xff;
      decode_all(copy, v[i].len);
      copy[k] ^= 0x5a;
      decode_all(copy, v[i].len);
    }
    free(copy);
  }
  unload(v, n);
}
END_TEST

START_TEST(test_malformed) {
  static const struct {
    const char *hex;
    int want;
  } cases[] = {
      {"", SIO_ERR_PROTO},
      {"c1", SIO_ERR_PROTO},                /* never used */
      {"dd ffffffff", SIO_ERR_PROTO},       /* array32 of 4G items */
      {"df ffffffff c0", SIO_ERR_PROTO},    /* map32 of 4G pairs */
      {"c6 ffffffff 00", SIO_ERR_PROTO},    /* bin32 past the end */
      {"db 00000010 41", SIO_ERR_PROTO},    /* str32 past the end */
      {"93 01 02", SIO_ERR_PROTO},          /* missing item */
      {"01 02", SIO_ERR_PROTO},             /* trailing bytes */
      {"81 c0 01", SIO_ERR_PROTO},          /* nil key */
      {"81 93010203 01", SIO_ERR_PROTO},    /* array key */
      {"81 a3610062 01", SIO_ERR_PROTO},    /* NUL in a key */
      {"c7 01", SIO_ERR_PROTO},             /* ext8 cut */
      {"d6 ff 0000", SIO_ERR_PROTO},        /* fixext4 cut */
      {"c7 03 ff 000000", SIO_ERR_PROTO},   /* timestamp of 3 bytes */
      {"{\"a\":", SIO_ERR_PROTO},           /* JSON cut */
      {"{\"a\":1}x", SIO_ERR_PROTO},        /* JSON trailing */
      {"93 c400 c400 c400", SIO_ERR_LIMIT}, /* 3 bins, limit 2 below */
  };
  sio_redis_limits lim = {0, 2};
  size_t i;
  for (i = 0; i < SIO_ARRLEN(cases); i++) {
    uint8_t buf[64];
    size_t n = 0;
    const char *h;
    sio_redis_value v;
    for (h = cases[i].hex; *h; h++) {
      if (*h == ' ')
        continue;
      if (cases[i].hex[0] == '{') {
        n = strlen(cases[i].hex);
        memcpy(buf, cases[i].hex, n);
        break;
      }
      buf[n++] = (uint8_t)(hexv(h[0]) << 4 | hexv(h[1]));
      h++;
    }
    ck_assert_msg(sio_redis_value_decode(&v, buf, n, &lim) == cases[i].want,
                  "case %zu (%s)", i, cases[i].hex);
    ck_assert_ptr_null(v.json);
    ck_assert_ptr_null(v.bins);
  }
}
END_TEST

START_TEST(test_depth) {
  uint8_t buf[64];
  sio_redis_value v;
  sio_redis_limits lim = {0, 0};
  size_t i;
  /* 32 nested one-item arrays around nil: accepted; 33: refused */
  for (i = 0; i < 32; i++)
    buf[i] = 0x91;
  buf[32] = 0xc0;
  ck_assert_int_eq(sio_redis_value_decode(&v, buf, 33, &lim), 0);
  sio_redis_value_clear(&v);
  for (i = 0; i < 33; i++)
    buf[i] = 0x91;
  buf[33] = 0xc0;
  ck_assert_int_eq(sio_redis_value_decode(&v, buf, 34, &lim), SIO_ERR_DEPTH);
  lim.max_depth = 3;
  ck_assert_int_eq(sio_redis_value_decode(&v, buf + 30, 4, &lim), 0);
  sio_redis_value_clear(&v);
  ck_assert_int_eq(sio_redis_value_decode(&v, buf + 29, 5, &lim),
                   SIO_ERR_DEPTH);
  /* an empty container is a level too (msgpack-c's stack counts it): 31
   * one-item arrays around [] are accepted, 32 refused as too deep, not
   * left to msgpack-c, which would call it out of memory (fuzz find) */
  ck_assert_int_eq(
      sio_redis_value_decode(&v, (const uint8_t *)"\x91\x90", 2, &lim), 0);
  sio_redis_value_clear(&v);
  lim.max_depth = 0;
  memset(buf, 0x91, 32);
  buf[31] = 0x90;
  ck_assert_int_eq(sio_redis_value_decode(&v, buf, 32, &lim), 0);
  sio_redis_value_clear(&v);
  buf[31] = 0x91;
  buf[32] = 0x90;
  ck_assert_int_eq(sio_redis_value_decode(&v, buf, 33, &lim), SIO_ERR_DEPTH);
  buf[32] = 0x80; /* an empty map alike */
  ck_assert_int_eq(sio_redis_value_decode(&v, buf, 33, &lim), SIO_ERR_DEPTH);
  /* an ext of another type than 0 (binary) and -1 (Date) decodes to
   * notepack's [type, binary], a level deeper: 31 arrays around it fit, 32
   * are refused, so that what is decoded can be encoded and decoded again
   * (fuzz find: the re-encoded message was one level too deep) */
  memset(buf, 0x91, 32);
  memcpy(buf + 31, "\xd4\x26\x00", 3); /* fixext 1, type 38 */
  ck_assert_int_eq(sio_redis_value_decode(&v, buf, 34, &lim), 0);
  sio_redis_value_clear(&v);
  buf[31] = 0x91;
  memcpy(buf + 32, "\xd4\x26\x00", 3);
  ck_assert_int_eq(sio_redis_value_decode(&v, buf, 35, &lim), SIO_ERR_DEPTH);
  memcpy(buf + 32, "\xc7\x01\x26\x00", 4); /* ext 8 alike */
  ck_assert_int_eq(sio_redis_value_decode(&v, buf, 36, &lim), SIO_ERR_DEPTH);
  memcpy(buf + 32, "\xd4\x00\x00", 3); /* `undefined` is no level */
  ck_assert_int_eq(sio_redis_value_decode(&v, buf, 35, &lim), 0);
  sio_redis_value_clear(&v);
  memcpy(buf + 32, "\xd6\xff\x00\x00\x00\x01", 6); /* a Date neither */
  ck_assert_int_eq(sio_redis_value_decode(&v, buf, 38, &lim), 0);
  sio_redis_value_clear(&v);
}
END_TEST

START_TEST(test_wrong_shapes) {
  static const char *bcast[] = {
      "92a1780a",                                /* two items */
      "93a178a17880",                            /* packet not an object */
      "93a17881a474797065028380",                /* opts not an object */
      "93a17882a474797065 03a46461746191a17880", /* ACK type */
      "93a17882a474797065 02a46461746190 80",    /* empty data */
      "93a17882a474797065 02a46461746191c0 80",  /* nil event */
  };
  static const char *req[] = {
      "{}",
      "{\"type\":\"2\"}",
      "{\"type\":2,\"sid\":\"x\"}", /* legacy join without room */
      "{\"type\":5}",               /* fetch without opts */
      "{\"type\":6,\"data\":[]}",   /* emit without name */
      "{\"type\":6,\"data\":[1]}",  /* emit with a numeric name */
      "{\"type\":2,\"opts\":{\"rooms\":[{}]},\"rooms\":[]}",
      "{\"type\":2,\"opts\":{},\"rooms\":\"x\"}",
      "{\"type\":1,\"uid\":5}",
      "{\"type\":7,\"requestId\":\"a\",\"opts\":{}}", /* no packet */
  };
  static const char *resp[] = {
      "{}",
      "{\"requestId\":1}",
      "{\"requestId\":\"a\",\"sockets\":{}}",
      "{\"requestId\":\"a\",\"clientCount\":\"1\"}",
      "[]",
  };
  size_t i;
  for (i = 0; i < SIO_ARRLEN(bcast); i++) {
    uint8_t buf[64];
    size_t n = 0;
    const char *h;
    sio_redis_bcast m;
    for (h = bcast[i]; *h; h++) {
      if (*h == ' ')
        continue;
      buf[n++] = (uint8_t)(hexv(h[0]) << 4 | hexv(h[1]));
      h++;
    }
    ck_assert_msg(sio_redis_bcast_decode(&m, buf, n, NULL) == SIO_ERR_PROTO,
                  "bcast %zu", i);
  }
  for (i = 0; i < SIO_ARRLEN(req); i++) {
    sio_redis_request r;
    ck_assert_msg(sio_redis_request_decode(&r, (const uint8_t *)req[i],
                                           strlen(req[i]),
                                           NULL) == SIO_ERR_PROTO,
                  "request %zu", i);
  }
  for (i = 0; i < SIO_ARRLEN(resp); i++) {
    sio_redis_response r;
    ck_assert_msg(sio_redis_response_decode(&r, (const uint8_t *)resp[i],
                                            strlen(resp[i]),
                                            NULL) == SIO_ERR_PROTO,
                  "response %zu", i);
  }
}
END_TEST

START_TEST(test_lenient_shapes) {
  /* what the Node adapter also accepts: unknown types, numeric rooms, a
   * legacy single-socket request, a response with only requestId */
  static const char *req[] = {
      "{\"type\":42,\"whatever\":[1]}",
      "{\"type\":2,\"opts\":{\"rooms\":[7]},\"rooms\":[8.5]}",
      "{\"type\":3,\"requestId\":\"r\",\"sid\":\"s\",\"room\":\"x\"}",
      "{\"type\":4,\"requestId\":\"r\",\"sid\":\"s\",\"close\":1}",
  };
  sio_redis_request r;
  sio_redis_response s;
  ck_assert_int_eq(sio_redis_request_decode(&r, (const uint8_t *)req[0],
                                            strlen(req[0]), NULL),
                   0);
  ck_assert_int_eq(r.type, 42);
  sio_redis_request_clear(&r);
  ck_assert_int_eq(sio_redis_request_decode(&r, (const uint8_t *)req[1],
                                            strlen(req[1]), NULL),
                   0);
  ck_assert_str_eq(r.opts.rooms.v[0], "7");
  ck_assert_str_eq(r.rooms.v[0], "8.5");
  sio_redis_request_clear(&r);
  ck_assert_int_eq(sio_redis_request_decode(&r, (const uint8_t *)req[2],
                                            strlen(req[2]), NULL),
                   0);
  ck_assert_int_eq(r.has_opts, 0);
  ck_assert_str_eq(r.sid, "s");
  ck_assert_str_eq(r.room, "x");
  sio_redis_request_clear(&r);
  ck_assert_int_eq(sio_redis_request_decode(&r, (const uint8_t *)req[3],
                                            strlen(req[3]), NULL),
                   0);
  ck_assert_int_eq(r.close, 1);
  sio_redis_request_clear(&r);
  ck_assert_int_eq(sio_redis_response_decode(
                       &s, (const uint8_t *)"{\"requestId\":\"q\"}", 17, NULL),
                   0);
  ck_assert_str_eq(s.request_id, "q");
  ck_assert_int_eq(s.has_data, 0);
  sio_redis_response_clear(&s);
}
END_TEST

START_TEST(test_msgpack_values) {
  /* notepack's encodings of undefined, Date and ArrayBuffer */
  static const uint8_t undef_map[] = {0x82, 0xa1, 'a', 0xd4, 0x00,
                                      0x00, 0xa1, 'b', 0x01};
  static const uint8_t undef_arr[] = {0x92, 0xd4, 0x00, 0x00, 0x01};
  static const uint8_t date32[] = {0xd6, 0xff, 0x5f, 0x5e, 0x10, 0x00};
  static const uint8_t abuf[] = {0xc7, 0x02, 0x00, 0x07, 0x08};
  static const uint8_t other_ext[] = {0xd5, 0x05, 0x01, 0x02};
  static const uint8_t int_key[] = {0x82, 0x07, 0xa1, 'x', 0xff, 0xa1, 'y'};
  sio_redis_value v;
  char t[128];
  ck_assert_int_eq(
      sio_redis_value_decode(&v, undef_map, sizeof(undef_map), NULL), 0);
  json_text(t, sizeof(t), v.json);
  ck_assert_str_eq(t, "{\"b\":1}");
  sio_redis_value_clear(&v);
  ck_assert_int_eq(
      sio_redis_value_decode(&v, undef_arr, sizeof(undef_arr), NULL), 0);
  json_text(t, sizeof(t), v.json);
  ck_assert_str_eq(t, "[null,1]");
  sio_redis_value_clear(&v);
  ck_assert_int_eq(sio_redis_value_decode(&v, date32, sizeof(date32), NULL), 0);
  json_text(t, sizeof(t), v.json);
  ck_assert_str_eq(t, "\"2020-09-13T12:26:40.000Z\"");
  sio_redis_value_clear(&v);
  ck_assert_int_eq(sio_redis_value_decode(&v, abuf, sizeof(abuf), NULL), 0);
  ck_assert_uint_eq(v.nbins, 1);
  ck_assert_uint_eq(v.bins[0].len, 2);
  sio_redis_value_clear(&v);
  ck_assert_int_eq(
      sio_redis_value_decode(&v, other_ext, sizeof(other_ext), NULL), 0);
  json_text(t, sizeof(t), v.json);
  ck_assert_str_eq(t, "[5,{\"_placeholder\":true,\"num\":0}]");
  sio_redis_value_clear(&v);
  ck_assert_int_eq(sio_redis_value_decode(&v, int_key, sizeof(int_key), NULL),
                   0);
  json_text(t, sizeof(t), v.json);
  ck_assert_str_eq(t, "{\"7\":\"x\",\"-1\":\"y\"}");
  sio_redis_value_clear(&v);
}
END_TEST

START_TEST(test_pack_roundtrip) {
  static const char *docs[] = {
      "[1,-1,1.5,\"s\",true,false,null,{\"a\":{\"b\":[]}}]",
      "{\"10\":1,\"2\":2,\"b\":3,\"a\":4}",
      "[18446744073709551615,-9223372036854775808,1e300,-0.0]",
  };
  size_t i;
  for (i = 0; i < SIO_ARRLEN(docs); i++) {
    json_object *j = NULL;
    sio_buf b;
    sio_redis_value v;
    char t1[256], t2[256];
    ck_assert_int_eq(sio_json_parse(docs[i], strlen(docs[i]), 0, &j), 0);
    sio_buf_init(&b);
    ck_assert_int_eq(sio_redis_pack_value(&b, j, NULL, 0), 0);
    ck_assert_int_eq(
        sio_redis_value_decode(&v, (const uint8_t *)b.data, b.len, NULL), 0);
    json_text(t1, sizeof(t1), j);
    json_text(t2, sizeof(t2), v.json);
    if (i == 2)
      ck_assert_str_eq(t2, "[18446744073709552000,-9223372036854775808,1e+300,"
                           "0]");
    else if (i == 1)
      ck_assert_str_eq(t2, "{\"2\":2,\"10\":1,\"b\":3,\"a\":4}");
    else
      ck_assert_str_eq(t1, t2);
    sio_redis_value_clear(&v);
    sio_buf_deinit(&b);
    json_object_put(j);
  }
}
END_TEST

START_TEST(test_encode_errors) {
  sio_buf b;
  json_object *args = json_object_new_array();
  sio_bin bin = {(const uint8_t *)"z", 1};
  const char *room = "r";
  sio_broadcast_opts bad = {NULL, 1, NULL, 0, 0};
  sio_broadcast_opts one = {&room, 1, NULL, 0, SIO_BCAST_VOLATILE};
  sio_redis_bcast m;
  sio_buf_init(&b);
  ck_assert_int_eq(sio_buf_append_str(&b, "keep"), 0);
  json_object_array_add(args, sio_placeholder_new(1));
  /* a placeholder naming a missing attachment */
  ck_assert_int_eq(
      sio_redis_encode_bcast(&b, "u", "/", "e", args, &bin, 1, NULL, -1),
      SIO_ERR_INVAL);
  ck_assert_str_eq(b.data, "keep");
  ck_assert_int_eq(
      sio_redis_encode_bcast(&b, "u", "/", NULL, NULL, NULL, 0, NULL, -1),
      SIO_ERR_INVAL);
  ck_assert_int_eq(
      sio_redis_encode_bcast(&b, "u", "/", "e", NULL, NULL, 0, &bad, -1),
      SIO_ERR_INVAL);
  ck_assert_uint_eq(b.len, 4);
  /* a good one, with binary and flags, decodes back */
  json_object_put(args);
  args = json_object_new_array();
  json_object_array_add(args, sio_placeholder_new(0));
  sio_buf_reset(&b);
  ck_assert_int_eq(
      sio_redis_encode_bcast(&b, "u", "/n", "e", args, &bin, 1, &one, 500), 0);
  ck_assert_int_eq(
      sio_redis_bcast_decode(&m, (const uint8_t *)b.data, b.len, NULL), 0);
  ck_assert_str_eq(m.packet.nsp, "/n");
  ck_assert_int_eq(m.opts.flags, SIO_BCAST_VOLATILE);
  ck_assert_int_eq(m.opts.timeout, 500);
  ck_assert_uint_eq(m.root.nbins, 1);
  ck_assert_int_eq(m.root.bins[0].data[0], 'z');
  sio_redis_bcast_clear(&m);
  json_object_put(args);
  sio_buf_deinit(&b);
}
END_TEST

/* ----------------------------------------------------------- failmalloc */

typedef struct fm_ctx {
  vec *v;
  size_t n;
} fm_ctx;

/* Decodes every kind of message and re-encodes it; under failmalloc each
 * failing allocation must come back as SIO_ERR_NOMEM, with nothing leaked
 * (ASan builds check that). */
static int fm_roundtrip(void *ud) {
  fm_ctx *f = ud;
  size_t i;
  int rv = 0;
  for (i = 0; i < f->n && !rv; i++) {
    const vec *x = &f->v[i];
    sio_buf b;
    if (x->len > 2048)
      continue;
    sio_buf_init(&b);
    if (strncmp(x->channel, "socket.io#", 10) == 0) {
      sio_redis_bcast m;
      rv = sio_redis_bcast_decode(&m, x->bytes, x->len, NULL);
      if (!rv) {
        sio_broadcast_opts o = {m.opts.rooms.v, m.opts.rooms.n, m.opts.except.v,
                                m.opts.except.n, m.opts.flags};
        rv = sio_redis_encode_bcast(&b, m.uid, m.packet.nsp, m.packet.event,
                                    m.packet.args, m.root.bins, m.root.nbins,
                                    &o, m.opts.timeout);
        sio_redis_bcast_clear(&m);
      }
    } else if (strncmp(x->channel, "socket.io-request#", 18) == 0) {
      sio_redis_request r;
      rv = sio_redis_request_decode(&r, x->bytes, x->len, NULL);
      if (!rv) {
        sio_broadcast_opts o = {r.opts.rooms.v, r.opts.rooms.n, r.opts.except.v,
                                r.opts.except.n, 0};
        if (r.type == SIO_REDIS_REMOTE_JOIN || r.type == SIO_REDIS_REMOTE_LEAVE)
          rv = sio_redis_encode_rooms_request(&b, r.type, r.uid, &o, r.rooms.v,
                                              r.rooms.n);
        else if (r.type == SIO_REDIS_BROADCAST)
          rv = sio_redis_encode_bcast_request(
              &b, r.uid, r.request_id, r.packet.nsp, r.packet.event,
              r.packet.args, r.root.bins, r.root.nbins, &o, r.opts.timeout);
        else if (r.type == SIO_REDIS_REMOTE_FETCH)
          rv = sio_redis_encode_fetch_request(&b, r.uid, r.request_id, &o);
        sio_redis_request_clear(&r);
      }
    } else {
      sio_redis_response r;
      rv = sio_redis_response_decode(&r, x->bytes, x->len, NULL);
      if (!rv) {
        if (r.type == SIO_REDIS_BROADCAST_ACK)
          rv = sio_redis_encode_bcast_ack(&b, r.request_id, r.packet,
                                          r.root.bins, r.root.nbins);
        else if (r.sockets)
          rv =
              sio_redis_encode_response(&b, r.request_id, "sockets", r.sockets);
        sio_redis_response_clear(&r);
      }
    }
    sio_buf_deinit(&b);
  }
  return rv;
}

START_TEST(test_failmalloc) {
  fm_ctx f;
  f.v = load(&f.n);
  ck_assert_int_ge(failmalloc_run(fm_roundtrip, &f), 50);
  unload(f.v, f.n);
}
END_TEST

/* ------------------------------------------------ the sharded envelope */

static vec *load_sharded(size_t *count) {
  return load_file("sharded_vectors.txt", 20, count);
}

/* Re-encodes m with the encoder libsio uses for its type. */
static int reencode_cluster(const sio_redis_cluster_msg *m, sio_buf *b) {
  sio_broadcast_opts o = {m->opts.rooms.v, m->opts.rooms.n, m->opts.except.v,
                          m->opts.except.n, m->opts.flags};
  switch (m->type) {
  case SIO_REDIS_CLUSTER_BROADCAST:
    return sio_redis_encode_cluster_bcast(
        b, m->uid, m->nsp, m->request_id, m->packet.event, m->packet.args,
        m->root.bins, m->root.nbins, &o, m->opts.timeout);
  case SIO_REDIS_CLUSTER_SOCKETS_JOIN:
  case SIO_REDIS_CLUSTER_SOCKETS_LEAVE:
    return sio_redis_encode_cluster_rooms(b, m->type, m->uid, m->nsp, &o,
                                          m->rooms.v, m->rooms.n);
  case SIO_REDIS_CLUSTER_DISCONNECT_SOCKETS:
    return sio_redis_encode_cluster_disconnect(b, m->uid, m->nsp, &o, m->close);
  case SIO_REDIS_CLUSTER_FETCH_SOCKETS:
    return sio_redis_encode_cluster_fetch(b, m->uid, m->nsp, m->request_id, &o);
  case SIO_REDIS_CLUSTER_SERVER_SIDE_EMIT: {
    json_object *args = json_object_new_array();
    size_t i, n = json_object_array_length(m->sse);
    int rv;
    for (i = 1; args && i < n; i++)
      json_object_array_add(
          args, json_object_get(json_object_array_get_idx(m->sse, i)));
    rv = args
             ? sio_redis_encode_cluster_sse(
                   b, m->uid, m->nsp, m->request_id,
                   json_object_get_string(json_object_array_get_idx(m->sse, 0)),
                   args)
             : SIO_ERR_NOMEM;
    json_object_put(args);
    return rv;
  }
  case SIO_REDIS_CLUSTER_FETCH_SOCKETS_RESPONSE:
    return sio_redis_encode_cluster_answer(b, m->type, m->uid, m->nsp,
                                           m->request_id, m->sockets, NULL, 0);
  case SIO_REDIS_CLUSTER_SERVER_SIDE_EMIT_RESPONSE:
  case SIO_REDIS_CLUSTER_BROADCAST_ACK:
    return sio_redis_encode_cluster_answer(b, m->type, m->uid, m->nsp,
                                           m->request_id, m->answer,
                                           m->root.bins, m->root.nbins);
  case SIO_REDIS_CLUSTER_BROADCAST_CLIENT_COUNT:
    return sio_redis_encode_cluster_client_count(
        b, m->uid, m->nsp, m->request_id, (uint64_t)m->client_count);
  default:
    return SIO_ERR_INVAL;
  }
}

START_TEST(test_sharded_vectors) {
  size_t n, i;
  vec *v = load_sharded(&n);
  int seen[16] = {0};
  for (i = 0; i < n; i++) {
    sio_redis_cluster_msg m;
    sio_buf b;
    char want[256];
    ck_assert_msg(sio_redis_cluster_decode(&m, v[i].bytes, v[i].len, NULL) == 0,
                  "%s does not decode", v[i].step);
    ck_assert_ptr_nonnull(m.uid);
    ck_assert_uint_eq(strlen(m.uid), 16);
    ck_assert_ptr_nonnull(m.nsp);
    /* JSON unless there is binary, as the reference decides */
    ck_assert_int_eq(v[i].json, m.root.nbins == 0);
    /* a channel of the namespace: its own, a room's or a response one */
    snprintf(want, sizeof(want), "socket.io#%s#", m.nsp);
    ck_assert_msg(strncmp(v[i].channel, want, strlen(want)) == 0, "%s on %s",
                  v[i].step, v[i].channel);
    ck_assert(m.type >= 0 && m.type < 16);
    seen[m.type]++;
    sio_buf_init(&b);
    ck_assert_int_eq(reencode_cluster(&m, &b), 0);
    assert_bytes(&b, &v[i]);
    sio_buf_deinit(&b);
    sio_redis_cluster_clear(&m);
  }
  /* every type this protocol publishes was captured */
  for (i = SIO_REDIS_CLUSTER_BROADCAST; i <= SIO_REDIS_CLUSTER_BROADCAST_ACK;
       i++)
    ck_assert_msg(seen[i] > 0, "no vector of type %zu", i);
  unload(v, n);
}
END_TEST

START_TEST(test_sharded_vector_fields) {
  size_t n;
  vec *v = load_sharded(&n);
  sio_redis_cluster_msg m;
  const vec *x;
  char t[512];

  x = find(v, n, "bcast_all", "socket.io#/#", 0);
  ck_assert_str_eq(x->channel, "socket.io#/#");
  ck_assert_int_eq(sio_redis_cluster_decode(&m, x->bytes, x->len, NULL), 0);
  ck_assert_int_eq(m.type, SIO_REDIS_CLUSTER_BROADCAST);
  ck_assert_str_eq(m.nsp, "/");
  ck_assert_ptr_null(m.request_id);
  ck_assert_str_eq(m.packet.event, "hello");
  json_text(t, sizeof(t), m.packet.args);
  ck_assert_str_eq(t, "[\"world\",42,{\"a\":[true,null,1.5],\"s\":\"é/\"}]");
  ck_assert_uint_eq(m.opts.rooms.n, 0);
  sio_redis_cluster_clear(&m);

  /* one room: the room's channel */
  x = find(v, n, "bcast_room", "socket.io#/#", 0);
  ck_assert_str_eq(x->channel, "socket.io#/#room1#");
  x = find(v, n, "bcast_room_binary", "socket.io#/#", 0);
  ck_assert_str_eq(x->channel, "socket.io#/#room1#");
  ck_assert_int_eq(sio_redis_cluster_decode(&m, x->bytes, x->len, NULL), 0);
  ck_assert_uint_eq(m.root.nbins, 1);
  ck_assert_uint_eq(m.root.bins[0].len, 1);
  ck_assert_int_eq(m.root.bins[0].data[0], 9);
  sio_redis_cluster_clear(&m);
  /* a socket id, several rooms: the namespace channel */
  x = find(v, n, "bcast_socket_id", "socket.io#/#", 0);
  ck_assert_str_eq(x->channel, "socket.io#/#");
  x = find(v, n, "bcast_rooms_except", "socket.io#/#", 0);
  ck_assert_str_eq(x->channel, "socket.io#/#");
  ck_assert_int_eq(sio_redis_cluster_decode(&m, x->bytes, x->len, NULL), 0);
  ck_assert_uint_eq(m.opts.rooms.n, 2);
  ck_assert_str_eq(m.opts.except.v[1], "d");
  sio_redis_cluster_clear(&m);
  x = find(v, n, "bcast_volatile", "socket.io#/#", 0);
  ck_assert_int_eq(sio_redis_cluster_decode(&m, x->bytes, x->len, NULL), 0);
  ck_assert_int_eq(m.opts.flags, SIO_BCAST_VOLATILE);
  sio_redis_cluster_clear(&m);
  x = find(v, n, "bcast_nsp", "socket.io#/admin#", 0);
  ck_assert_int_eq(sio_redis_cluster_decode(&m, x->bytes, x->len, NULL), 0);
  ck_assert_str_eq(m.nsp, "/admin");
  sio_redis_cluster_clear(&m);

  x = find(v, n, "sockets_join_opts", "socket.io#/#", 0);
  ck_assert_int_eq(sio_redis_cluster_decode(&m, x->bytes, x->len, NULL), 0);
  ck_assert_int_eq(m.type, SIO_REDIS_CLUSTER_SOCKETS_JOIN);
  ck_assert_str_eq(m.opts.rooms.v[0], "r1");
  ck_assert_str_eq(m.opts.except.v[0], "x");
  ck_assert_uint_eq(m.rooms.n, 2);
  ck_assert_str_eq(m.rooms.v[1], "j3");
  sio_redis_cluster_clear(&m);
  x = find(v, n, "disconnect_sockets", "socket.io#/#", 0);
  ck_assert_int_eq(sio_redis_cluster_decode(&m, x->bytes, x->len, NULL), 0);
  ck_assert_int_eq(m.type, SIO_REDIS_CLUSTER_DISCONNECT_SOCKETS);
  ck_assert_int_eq(m.close, 1);
  sio_redis_cluster_clear(&m);

  /* fetchSockets: the request on the namespace channel, the answer on the
   * requester's response channel <key>#<nsp>#<its uid># */
  {
    char uid[32], rid[32], chan[64];
    x = find(v, n, "fetch_sockets", "socket.io#/#", 0);
    ck_assert_int_eq(sio_redis_cluster_decode(&m, x->bytes, x->len, NULL), 0);
    ck_assert_int_eq(m.type, SIO_REDIS_CLUSTER_FETCH_SOCKETS);
    snprintf(uid, sizeof(uid), "%s", m.uid);
    snprintf(rid, sizeof(rid), "%s", m.request_id);
    sio_redis_cluster_clear(&m);
    x = find(v, n, "fetch_sockets", "socket.io#/#", 1);
    snprintf(chan, sizeof(chan), "socket.io#/#%s#", uid);
    ck_assert_str_eq(x->channel, chan);
    ck_assert_int_eq(sio_redis_cluster_decode(&m, x->bytes, x->len, NULL), 0);
    ck_assert_int_eq(m.type, SIO_REDIS_CLUSTER_FETCH_SOCKETS_RESPONSE);
    ck_assert_str_eq(m.request_id, rid);
    ck_assert_str_ne(m.uid, uid);
    ck_assert_uint_eq(json_object_array_length(m.sockets), 1);
    {
      json_object *s0 = json_object_array_get_idx(m.sockets, 0), *f;
      ck_assert(json_object_object_get_ex(s0, "id", &f));
      ck_assert_uint_eq(strlen(json_object_get_string(f)), 20);
      ck_assert(json_object_object_get_ex(s0, "data", &f));
      json_text(t, sizeof(t), f);
      ck_assert_str_eq(t, "{\"user\":\"u1\"}");
    }
    sio_redis_cluster_clear(&m);
  }

  x = find(v, n, "server_side_emit", "socket.io#/#", 0);
  ck_assert_int_eq(sio_redis_cluster_decode(&m, x->bytes, x->len, NULL), 0);
  ck_assert_int_eq(m.type, SIO_REDIS_CLUSTER_SERVER_SIDE_EMIT);
  ck_assert_ptr_null(m.request_id);
  json_text(t, sizeof(t), m.sse);
  ck_assert_str_eq(t, "[\"sse\",1,\"two\"]");
  sio_redis_cluster_clear(&m);
  x = find(v, n, "server_side_emit_ack", "socket.io#/#", 1);
  ck_assert_int_eq(sio_redis_cluster_decode(&m, x->bytes, x->len, NULL), 0);
  ck_assert_int_eq(m.type, SIO_REDIS_CLUSTER_SERVER_SIDE_EMIT_RESPONSE);
  json_text(t, sizeof(t), m.answer);
  ck_assert_str_eq(t, "{\"got\":3}");
  sio_redis_cluster_clear(&m);

  x = find(v, n, "broadcast_ack", "socket.io#/#", 0);
  ck_assert_str_eq(x->channel, "socket.io#/#");
  ck_assert_int_eq(sio_redis_cluster_decode(&m, x->bytes, x->len, NULL), 0);
  ck_assert_ptr_nonnull(m.request_id);
  ck_assert_int_eq(m.opts.timeout, 2000);
  sio_redis_cluster_clear(&m);
  x = find(v, n, "broadcast_ack", "socket.io#/#", 1);
  ck_assert_int_eq(sio_redis_cluster_decode(&m, x->bytes, x->len, NULL), 0);
  ck_assert_int_eq(m.type, SIO_REDIS_CLUSTER_BROADCAST_CLIENT_COUNT);
  ck_assert_int_eq(m.client_count, 1);
  sio_redis_cluster_clear(&m);
  /* with one room: still the namespace channel */
  x = find(v, n, "broadcast_ack_binary", "socket.io#/#", 0);
  ck_assert_str_eq(x->channel, "socket.io#/#");
  x = find(v, n, "broadcast_ack_binary", "socket.io#/#", 2);
  ck_assert_int_eq(x->json, 0);
  ck_assert_int_eq(sio_redis_cluster_decode(&m, x->bytes, x->len, NULL), 0);
  ck_assert_int_eq(m.type, SIO_REDIS_CLUSTER_BROADCAST_ACK);
  ck_assert_uint_eq(m.root.nbins, 1);
  json_text(t, sizeof(t), m.answer);
  ck_assert_str_eq(t, "{\"_placeholder\":true,\"num\":0}");
  sio_redis_cluster_clear(&m);
  unload(v, n);
}
END_TEST

/* Every strict prefix of every vector is rejected cleanly. */
START_TEST(test_sharded_truncations) {
  size_t n, i, k;
  vec *v = load_sharded(&n);
  for (i = 0; i < n; i++)
    for (k = 0; k < v[i].len; k++) {
      sio_redis_cluster_msg m;
      ck_assert_msg(sio_redis_cluster_decode(&m, v[i].bytes, k, NULL) != 0,
                    "%s cut at %zu decodes", v[i].step, k);
    }
  unload(v, n);
}
END_TEST

static int cluster_decode_str(const char *s) {
  sio_redis_cluster_msg m;
  int rv = sio_redis_cluster_decode(&m, (const uint8_t *)s, strlen(s), NULL);
  if (rv == 0)
    sio_redis_cluster_clear(&m);
  return rv;
}

START_TEST(test_sharded_shapes) {
  static const char *bad[] = {
      "{}",
      "{\"type\":\"3\"}",
      "{\"type\":3,\"uid\":1}",
      "{\"type\":3,\"nsp\":[]}",
      "{\"type\":3}",
      "{\"type\":3,\"data\":[]}",
      "{\"type\":3,\"data\":{\"opts\":{}}}",
      "{\"type\":3,\"data\":{\"packet\":{\"type\":2,\"data\":[\"e\"]}}}",
      "{\"type\":3,\"data\":{\"packet\":{\"type\":1,\"data\":[\"e\"]},"
      "\"opts\":{}}}",
      "{\"type\":3,\"data\":{\"requestId\":5,\"packet\":{\"type\":2,"
      "\"data\":[\"e\"]},\"opts\":{}}}",
      "{\"type\":4,\"data\":{\"opts\":{},\"rooms\":\"r\"}}",
      "{\"type\":5,\"data\":{\"opts\":{\"except\":{}},\"rooms\":[]}}",
      "{\"type\":6,\"data\":{}}",
      "{\"type\":7,\"data\":{\"opts\":{}}}",
      "{\"type\":8,\"data\":{\"requestId\":\"r\"}}",
      "{\"type\":8,\"data\":{\"requestId\":\"r\",\"sockets\":{}}}",
      "{\"type\":9,\"data\":{\"packet\":[]}}",
      "{\"type\":9,\"data\":{\"packet\":[1]}}",
      "{\"type\":10,\"data\":{\"packet\":1}}",
      "{\"type\":11,\"data\":{\"requestId\":\"r\"}}",
      "{\"type\":11,\"data\":{\"requestId\":\"r\",\"clientCount\":\"1\"}}",
      "{\"type\":12,\"data\":{}}",
  };
  static const char *good[] = {
      "{\"type\":1,\"uid\":\"u\",\"nsp\":\"/\"}",
      "{\"type\":13}",
      "{\"type\":99,\"data\":7}",
      "{\"type\":6,\"data\":{\"opts\":{}}}",
      "{\"type\":4,\"data\":{\"opts\":{\"rooms\":[1]}}}",
      "{\"type\":12,\"data\":{\"requestId\":\"r\"}}",
      "{\"type\":11,\"data\":{\"requestId\":\"r\",\"clientCount\":0}}",
  };
  size_t i;
  for (i = 0; i < SIO_ARRLEN(bad); i++)
    ck_assert_msg(cluster_decode_str(bad[i]) == SIO_ERR_PROTO, "%s", bad[i]);
  for (i = 0; i < SIO_ARRLEN(good); i++)
    ck_assert_msg(cluster_decode_str(good[i]) == 0, "%s", good[i]);
}
END_TEST

START_TEST(test_sharded_encode_errors) {
  sio_buf b;
  json_object *args = json_object_new_array();
  const char *room = "r";
  sio_broadcast_opts bad = {NULL, 1, NULL, 0, 0};
  sio_bin bin = {(const uint8_t *)"x", 1};
  sio_buf_init(&b);
  ck_assert_int_eq(sio_redis_encode_cluster_bcast(&b, NULL, "/", NULL, "e",
                                                  NULL, NULL, 0, NULL, -1),
                   SIO_ERR_INVAL);
  ck_assert_int_eq(sio_redis_encode_cluster_bcast(&b, "u", NULL, NULL, "e",
                                                  NULL, NULL, 0, NULL, -1),
                   SIO_ERR_INVAL);
  ck_assert_int_eq(sio_redis_encode_cluster_bcast(&b, "u", "/", NULL, NULL,
                                                  NULL, NULL, 0, NULL, -1),
                   SIO_ERR_INVAL);
  ck_assert_int_eq(sio_redis_encode_cluster_bcast(&b, "u", "/", NULL, "e", NULL,
                                                  NULL, 0, &bad, -1),
                   SIO_ERR_INVAL);
  /* a placeholder naming no attachment: msgpack refuses it */
  json_object_array_add(args, sio_placeholder_new(3));
  ck_assert_int_eq(sio_redis_encode_cluster_bcast(&b, "u", "/", NULL, "e", args,
                                                  &bin, 1, NULL, -1),
                   SIO_ERR_INVAL);
  ck_assert_int_eq(
      sio_redis_encode_cluster_answer(&b, SIO_REDIS_CLUSTER_BROADCAST_ACK, "u",
                                      "/", "r", args, &bin, 1),
      SIO_ERR_INVAL);
  ck_assert_int_eq(
      sio_redis_encode_cluster_rooms(&b, 3, "u", "/", NULL, &room, 1),
      SIO_ERR_INVAL);
  ck_assert_int_eq(
      sio_redis_encode_cluster_rooms(&b, SIO_REDIS_CLUSTER_SOCKETS_JOIN, "u",
                                     "/", NULL, NULL, 1),
      SIO_ERR_INVAL);
  ck_assert_int_eq(sio_redis_encode_cluster_disconnect(&b, "u", "/", &bad, 0),
                   SIO_ERR_INVAL);
  ck_assert_int_eq(sio_redis_encode_cluster_fetch(&b, "u", "/", NULL, NULL),
                   SIO_ERR_INVAL);
  {
    json_object *obj = json_object_new_object(); /* args not an array */
    ck_assert_int_eq(sio_redis_encode_cluster_sse(&b, "u", "/", NULL, "e", obj),
                     SIO_ERR_INVAL);
    json_object_put(obj);
  }
  ck_assert_int_eq(
      sio_redis_encode_cluster_answer(&b, SIO_REDIS_CLUSTER_BROADCAST, "u", "/",
                                      "r", NULL, NULL, 0),
      SIO_ERR_INVAL);
  ck_assert_int_eq(
      sio_redis_encode_cluster_answer(&b, SIO_REDIS_CLUSTER_BROADCAST_ACK, "u",
                                      "/", NULL, NULL, NULL, 0),
      SIO_ERR_INVAL);
  ck_assert_int_eq(sio_redis_encode_cluster_client_count(&b, "u", "/", NULL, 1),
                   SIO_ERR_INVAL);
  ck_assert_uint_eq(b.len, 0); /* nothing written on any error */
  /* null answers and huge counts */
  ck_assert_int_eq(sio_redis_encode_cluster_answer(
                       &b, SIO_REDIS_CLUSTER_SERVER_SIDE_EMIT_RESPONSE, "u",
                       "/", "r", NULL, NULL, 0),
                   0);
  ck_assert_str_eq(b.data, "{\"type\":10,\"data\":{\"requestId\":\"r\","
                           "\"packet\":null},\"uid\":\"u\",\"nsp\":\"/\"}");
  sio_buf_reset(&b);
  ck_assert_int_eq(
      sio_redis_encode_cluster_client_count(&b, "u", "/", "r", UINT64_MAX), 0);
  ck_assert_ptr_nonnull(strstr(b.data, "\"clientCount\":9223372036854775807"));
  json_object_put(args);
  sio_buf_deinit(&b);
}
END_TEST

static int fm_sharded(void *ud) {
  fm_ctx *f = ud;
  size_t i;
  int rv = 0;
  for (i = 0; i < f->n; i++) {
    sio_redis_cluster_msg m;
    sio_buf b;
    sio_buf_init(&b);
    rv = sio_redis_cluster_decode(&m, f->v[i].bytes, f->v[i].len, NULL);
    if (!rv) {
      rv = reencode_cluster(&m, &b);
      sio_redis_cluster_clear(&m);
    }
    sio_buf_deinit(&b);
    if (rv)
      return rv;
  }
  return 0;
}

START_TEST(test_sharded_failmalloc) {
  fm_ctx f;
  f.v = load_sharded(&f.n);
  ck_assert_int_ge(failmalloc_run(fm_sharded, &f), 50);
  unload(f.v, f.n);
}
END_TEST

Suite *sio_redis_msg_suite(void) {
  Suite *s = suite_create("sio_redis_msg");
  TCase *tc = tcase_create("vectors");
  tcase_add_test(tc, test_vectors_broadcast);
  tcase_add_test(tc, test_vectors_broadcast_fields);
  tcase_add_test(tc, test_vectors_requests);
  tcase_add_test(tc, test_vectors_request_fields);
  tcase_add_test(tc, test_vectors_responses);
  tcase_add_test(tc, test_vectors_response_fields);
  tcase_add_test(tc, test_sharded_vectors);
  tcase_add_test(tc, test_sharded_vector_fields);
  suite_add_tcase(s, tc);
  tc = tcase_create("codec");
  tcase_add_test(tc, test_channels);
  tcase_add_test(tc, test_truncations_and_flips);
  tcase_add_test(tc, test_malformed);
  tcase_add_test(tc, test_depth);
  tcase_add_test(tc, test_wrong_shapes);
  tcase_add_test(tc, test_lenient_shapes);
  tcase_add_test(tc, test_msgpack_values);
  tcase_add_test(tc, test_pack_roundtrip);
  tcase_add_test(tc, test_encode_errors);
  tcase_add_test(tc, test_failmalloc);
  tcase_add_test(tc, test_sharded_truncations);
  tcase_add_test(tc, test_sharded_shapes);
  tcase_add_test(tc, test_sharded_encode_errors);
  tcase_add_test(tc, test_sharded_failmalloc);
  tcase_set_timeout(tc, 30);
  suite_add_tcase(s, tc);
  return s;
}
