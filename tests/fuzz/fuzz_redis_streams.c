/* fuzz_redis_streams.c: libFuzzer harness for the Redis streams adapter's
 * codec (sio_redis_streams.c), fed what a hostile Redis or another
 * writer of the stream could send. The first byte picks the input:
 *   0..127   RESP bytes, through the bounded reader the drivers use, each
 *            reply as an XREAD and as an XRANGE answer, every entry
 *            decoded; a decoded entry written again as XADD fields decodes
 *            to the same type, uid and namespace;
 *   128..223 a session value; a decoded one encodes again to a value that
 *            decodes to the same sid, pid and rooms;
 *   224..255 an entry id; a parsed one formats to a text that parses to
 *            the same id.
 * Besides those, "no crash, no sanitizer report, no leak". */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "sio_int.h"
#include "sio_json.h"
#include "sio_redis_reply.h"
#include "sio_redis_streams.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static int span_in(sio_redis_streams_span s) { return !s.n || s.p; }

/* argv[i] is name (the arguments are not NUL-separated) */
static int arg_is(const sio_redis_streams_cmd *c, int i, const char *name) {
  size_t n = strlen(name);
  return c->argvlen[i] == n && memcmp(c->argv[i], name, n) == 0;
}

/* The entry from an XADD argv (fields from argv[6]). */
static void entry_of_cmd(const sio_redis_streams_cmd *c,
                         sio_redis_streams_entry *e) {
  int i;
  memset(e, 0, sizeof(*e));
  e->id.p = "1-1";
  e->id.n = 3;
  for (i = 6; i + 1 < c->argc; i += 2) {
    sio_redis_streams_span v = {c->argv[i + 1], c->argvlen[i + 1]};
    if (arg_is(c, i, "uid"))
      e->uid = v;
    else if (arg_is(c, i, "nsp"))
      e->nsp = v;
    else if (arg_is(c, i, "type"))
      e->type = v;
    else if (arg_is(c, i, "data"))
      e->data = v;
  }
}

/* a and b as JSON string literals are one text: a field that is not UTF-8
 * becomes U+FFFD where the entry's data is JSON (as it does in the Node
 * reader, whose Redis client decodes every field as UTF-8) and stays as
 * is inside a msgpack envelope; writing the entry again may switch. */
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

static void check_entry(const sio_redis_streams_entry *e) {
  sio_redis_streams_msg x, y;
  sio_redis_streams_cmd c;
  sio_redis_streams_entry f;
  int rv;
  if (!e->id.p || sio_redis_streams_id_parse(e->id.p, e->id.n, NULL) ||
      !span_in(e->uid) || !span_in(e->nsp) || !span_in(e->type) ||
      !span_in(e->data))
    abort();
  rv = sio_redis_streams_entry_decode(e, &x, NULL);
  if (rv) {
    if (x.env.data || x.m.root.json)
      abort();
    return;
  }
  if (!x.m.uid || !x.m.nsp)
    abort();
  sio_redis_streams_cmd_init(&c);
  if (sio_redis_streams_xadd_envelope(&c, "s", 1, (const uint8_t *)x.env.data,
                                      x.env.len, NULL) == 0) {
    entry_of_cmd(&c, &f);
    if (sio_redis_streams_entry_decode(&f, &y, NULL))
      abort();
    if (y.m.type != x.m.type || !same_json_text(y.m.uid, x.m.uid) ||
        !same_json_text(y.m.nsp, x.m.nsp))
      abort();
    sio_redis_streams_msg_clear(&y);
  }
  sio_redis_streams_cmd_deinit(&c);
  (void)sio_redis_streams_replays(&x.m, "/", NULL, 0);
  sio_redis_streams_msg_clear(&x);
}

static void check_entries(const redisReply *r) {
  sio_redis_streams_entries e;
  size_t i;
  if (sio_redis_streams_parse_xread(r, NULL, 64, &e) == 0) {
    for (i = 0; i < e.n; i++)
      check_entry(&e.v[i]);
    sio_redis_streams_entries_clear(&e);
  } else if (e.v || e.n) {
    abort();
  }
  if (sio_redis_streams_parse_xrange(r, 64, &e) == 0) {
    for (i = 0; i < e.n; i++) {
      if (i && sio_redis_streams_id_cmp(e.v[i - 1].idv, e.v[i].idv) >= 0)
        abort();
      check_entry(&e.v[i]);
    }
    sio_redis_streams_entries_clear(&e);
  } else if (e.v || e.n) {
    abort();
  }
}

static void check_resp(const uint8_t *data, size_t size) {
  sio_redis_reader rd;
  redisReply *r;
  int n = 0;
  if (sio_redis_reader_init(&rd, (size_t)1 << 20))
    return;
  if (sio_redis_reader_feed(&rd, data, size) == 0) {
    while (n++ < 16 && sio_redis_reader_get(&rd, &r) == 0 && r) {
      check_entries(r);
      freeReplyObject(r);
    }
  }
  sio_redis_reader_deinit(&rd);
}

static void check_session(const char *in, size_t len) {
  sio_redis_streams_session s, t;
  sio_buf b;
  size_t i;
  int rv;
  rv = sio_redis_streams_session_decode(&s, in, len, NULL);
  if (rv) {
    if (s.raw || s.root.json || s.rooms.v)
      abort();
    return;
  }
  if (!s.sid || !s.pid || (s.rooms.n && !s.rooms.v))
    abort();
  sio_buf_init(&b);
  rv = sio_redis_streams_session_encode(&b, s.sid, s.pid, s.rooms.v, s.rooms.n,
                                        s.data, s.root.bins, s.root.nbins);
  if (rv == 0) {
    if (sio_redis_streams_session_decode(&t, b.data, b.len, NULL))
      abort();
    if (strcmp(t.sid, s.sid) || strcmp(t.pid, s.pid) || t.rooms.n != s.rooms.n)
      abort();
    for (i = 0; i < s.rooms.n; i++)
      if (strcmp(t.rooms.v[i], s.rooms.v[i]))
        abort();
    sio_redis_streams_session_clear(&t);
  } else if (rv != SIO_ERR_DEPTH && rv != SIO_ERR_INVAL) {
    abort();
  }
  sio_buf_deinit(&b);
  sio_redis_streams_session_clear(&s);
}

static void check_id(const char *in, size_t len) {
  sio_redis_streams_id a, b, n;
  char t[SIO_REDIS_STREAMS_ID_MAX + 1];
  size_t tl;
  if (sio_redis_streams_id_parse(in, len, &a))
    return;
  tl = sio_redis_streams_id_format(t, a);
  if (tl > len || sio_redis_streams_id_parse(t, tl, &b) ||
      sio_redis_streams_id_cmp(a, b) != 0)
    abort();
  if (sio_redis_streams_id_next(a, &n) == 0 &&
      sio_redis_streams_id_cmp(a, n) >= 0)
    abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  if (size == 0)
    return 0;
  if (data[0] < 128)
    check_resp(data + 1, size - 1);
  else if (data[0] < 224)
    check_session((const char *)data + 1, size - 1);
  else
    check_id((const char *)data + 1, size - 1);
  return 0;
}
