/* sio_adapter_streams.c: the stream and the sessions of the streams
 * adapter (see the header). Everything goes through the driver's command
 * op: appends, the position probe, sessions and restores on the publisher
 * lane (ordered with each other), the reader's XREAD on the blocking
 * lane. */
#include "sio_adapter_streams.h"

#include <stdio.h>
#include <string.h>

#include "sio_int.h"
#include "sio_log.h"
#include "sio_mem.h"
#include "sio_redis_streams.h"

#define READ_COUNT 100
#define READ_BLOCK_MS SIO_REDIS_STREAMS_BLOCK_MS
#define RETRY_MS 200
/* a restore reads at most this many entries of the stream (its MAXLEN ~
 * keeps about 10000), in rounds of RANGE_COUNT */
#define RANGE_COUNT 1000
#define RANGE_MAX 20000
/* libsio replays at most 1000 events (sio_restore.c): more is a fresh
 * session */
#define MISSED_MAX 1000

struct sio_adapter_streams {
  uv_loop_t *loop;
  const sio_pubsub_ops *ops;
  void *drv;
  char *stream;
  char *prefix;
  uint32_t maxlen;
  sio_adapter_streams_entry_cb entry;
  void *ud;
  char pos[SIO_REDIS_STREAMS_ID_MAX + 1]; /* the last entry handed over */
  int have_pos;
  int probing;
  int reading;
  int ready;
  int closing;
  uv_timer_t retry;
  void (*closed)(void *arg);
  void *closed_arg;
  sio_redis_streams_cmd cmd;
};

/* ---------------------------------------------------------------- reader */

static void read_next(sio_adapter_streams *st);

static void on_retry(uv_timer_t *t) {
  sio_adapter_streams *st = t->data;
  read_next(st);
}

static void retry_later(sio_adapter_streams *st) {
  if (!st->closing)
    uv_timer_start(&st->retry, on_retry, RETRY_MS, 0);
}

static void hand_over(sio_adapter_streams *st,
                      const sio_redis_streams_entries *es) {
  size_t i;
  for (i = 0; i < es->n; i++) {
    const sio_redis_streams_entry *e = &es->v[i];
    sio_redis_streams_msg x;
    /* the position moves first: a restore completing from inside the
     * callback sees this entry as given */
    snprintf(st->pos, sizeof(st->pos), "%.*s", (int)e->id.n, e->id.p);
    if (!e->nsp.p || e->nsp.n == 0)
      continue; /* the reference skips them too */
    if (sio_redis_streams_entry_decode(e, &x, NULL)) {
      SIO_LOGD("streams: malformed entry %s ignored", st->pos);
      continue;
    }
    st->entry(st->ud, st->pos, &x.m);
    sio_redis_streams_msg_clear(&x);
    if (st->closing)
      return;
  }
}

static void on_read(void *ud, int status, const struct redisReply *rep) {
  sio_adapter_streams *st = ud;
  sio_redis_streams_entries es;
  st->reading = 0;
  if (st->closing)
    return;
  if (status || rep->type == REDIS_REPLY_ERROR) {
    SIO_LOGD("streams: XREAD failed: %s",
             status ? sio_err_name(status) : rep->str);
    retry_later(st);
    return;
  }
  if (sio_redis_streams_parse_xread(rep, st->stream, 0, &es)) {
    SIO_LOGW("streams: XREAD reply of the wrong shape");
    retry_later(st);
    return;
  }
  hand_over(st, &es);
  sio_redis_streams_entries_clear(&es);
  read_next(st);
}

static void on_probe(void *ud, int status, const struct redisReply *rep) {
  sio_adapter_streams *st = ud;
  sio_redis_streams_entries es;
  st->probing = 0;
  if (st->closing)
    return;
  if (status || rep->type == REDIS_REPLY_ERROR ||
      sio_redis_streams_parse_xrange(rep, 1, &es)) {
    retry_later(st);
    return;
  }
  if (es.n)
    snprintf(st->pos, sizeof(st->pos), "%.*s", (int)es.v[0].id.n, es.v[0].id.p);
  else
    strcpy(st->pos, "0-0");
  st->have_pos = 1;
  sio_redis_streams_entries_clear(&es);
  read_next(st);
}

static void read_next(sio_adapter_streams *st) {
  char block[16];
  int rv;
  if (st->closing || st->reading || st->probing || !st->ready)
    return;
  if (!st->have_pos) {
    const char *argv[] = {"XREVRANGE", st->stream, "+", "-", "COUNT", "1"};
    rv = st->ops->command(st->drv, SIO_PUBSUB_LANE_PUB, 6, argv, NULL, 1, 0,
                          on_probe, st);
    if (rv)
      retry_later(st);
    else
      st->probing = 1;
    return;
  }
  snprintf(block, sizeof(block), "%u", (unsigned)READ_BLOCK_MS);
  {
    char count[16];
    const char *argv[] = {"XREAD", "BLOCK",   block,      "COUNT",
                          count,   "STREAMS", st->stream, st->pos};
    snprintf(count, sizeof(count), "%u", (unsigned)READ_COUNT);
    rv = st->ops->command(st->drv, SIO_PUBSUB_LANE_BLOCKING, 8, argv, NULL, 6,
                          READ_BLOCK_MS, on_read, st);
  }
  if (rv)
    retry_later(st);
  else
    st->reading = 1;
}

void sio_adapter_streams_state(sio_adapter_streams *st, int ready) {
  st->ready = ready;
  if (ready)
    read_next(st);
}

/* --------------------------------------------------------------- appends */

/* An append whose failure must still reach this instance's sockets. */
typedef struct append_req {
  sio_namespace *ns;
  size_t len;
  uint8_t env[];
} append_req;

static void deliver_here(append_req *q) {
  sio_redis_cluster_msg m;
  sio_broadcast_opts o;
  if (sio_redis_cluster_decode(&m, q->env, q->len, NULL))
    return;
  if (m.type == SIO_REDIS_CLUSTER_BROADCAST) {
    memset(&o, 0, sizeof(o));
    o.rooms = m.opts.rooms.v;
    o.nrooms = m.opts.rooms.n;
    o.except = m.opts.except.v;
    o.nexcept = m.opts.except.n;
    sio_adapter_deliver(q->ns, &o, m.packet.event, m.packet.args, m.root.bins,
                        m.root.nbins, NULL);
  }
  sio_redis_cluster_clear(&m);
}

static void on_appended(void *ud, int status, const struct redisReply *rep) {
  append_req *q = ud;
  if (status) {
    /* the connection went with the command in flight: whether Redis had
     * it is unknown, so it is left to the stream (the reader hands it
     * over once it reads again if it was appended): never twice */
    SIO_LOGD("streams: XADD outcome unknown: %s", sio_err_name(status));
  } else if (rep->type == REDIS_REPLY_ERROR) {
    /* refused, so not numbered: this instance's sockets get it without an
     * offset */
    SIO_LOGD("streams: XADD refused: %s", rep->str);
    if (q)
      deliver_here(q);
  }
  sio_free(q);
}

int sio_adapter_streams_append(sio_adapter_streams *st, const sio_buf *env,
                               sio_namespace *ns) {
  append_req *q = NULL;
  int rv;
  if (st->closing)
    return SIO_ERR_CLOSED;
  rv = sio_redis_streams_xadd_envelope(&st->cmd, st->stream, st->maxlen,
                                       (const uint8_t *)env->data, env->len,
                                       NULL);
  if (rv)
    return rv;
  if (ns) {
    q = sio_malloc(sizeof(*q) + env->len);
    if (!q)
      return SIO_ERR_NOMEM;
    q->ns = ns;
    q->len = env->len;
    memcpy(q->env, env->data, env->len);
  }
  rv = st->ops->command(st->drv, SIO_PUBSUB_LANE_PUB, st->cmd.argc,
                        st->cmd.argv, st->cmd.argvlen, 1, 0, on_appended, q);
  if (rv)
    sio_free(q);
  return rv;
}

/* -------------------------------------------------------------- sessions */

static int session_key(sio_adapter_streams *st, sio_buf *b, const char *pid) {
  sio_buf_reset(b);
  if (sio_buf_append_str(b, st->prefix) || sio_buf_append_str(b, pid) ||
      sio_buf_append_byte(b, 0))
    return SIO_ERR_NOMEM;
  return 0;
}

static void on_done_quietly(void *ud, int status,
                            const struct redisReply *rep) {
  (void)ud;
  if (status || rep->type == REDIS_REPLY_ERROR)
    SIO_LOGD("streams: session command failed: %s",
             status ? sio_err_name(status) : rep->str);
}

int sio_adapter_streams_persist(sio_adapter_streams *st, sio_namespace *ns,
                                const sio_adapter_session *sess,
                                uint32_t ttl_ms) {
  sio_buf key, val;
  json_object *data = NULL;
  char px[16];
  int rv;
  (void)ns;
  if (st->closing)
    return SIO_ERR_CLOSED;
  sio_buf_init(&key);
  sio_buf_init(&val);
  if (sess->owner && *sess->owner) {
    data = json_object_new_object();
    if (!data || json_object_object_add(data, "owner",
                                        json_object_new_string(sess->owner))) {
      json_object_put(data);
      return SIO_ERR_NOMEM;
    }
  }
  rv = session_key(st, &key, sess->pid);
  if (!rv)
    rv = sio_redis_streams_session_encode(
        &val, sess->sid, sess->pid, sess->rooms, sess->nrooms, data, NULL, 0);
  json_object_put(data);
  if (!rv) {
    const char *argv[] = {"SET", key.data, val.data, "PX", px};
    size_t lens[] = {3, key.len - 1, val.len, 2, 0};
    snprintf(px, sizeof(px), "%u", (unsigned)(ttl_ms ? ttl_ms : 1));
    lens[4] = strlen(px);
    rv = st->ops->command(st->drv, SIO_PUBSUB_LANE_PUB, 5, argv, lens, 1, 0,
                          on_done_quietly, NULL);
  }
  sio_buf_deinit(&key);
  sio_buf_deinit(&val);
  return rv;
}

int sio_adapter_streams_drop(sio_adapter_streams *st, sio_namespace *ns,
                             const char *pid) {
  sio_buf key;
  int rv;
  (void)ns;
  if (st->closing)
    return SIO_ERR_CLOSED;
  sio_buf_init(&key);
  rv = session_key(st, &key, pid);
  if (!rv) {
    const char *argv[] = {"DEL", key.data};
    rv = st->ops->command(st->drv, SIO_PUBSUB_LANE_PUB, 2, argv, NULL, 1, 0,
                          on_done_quietly, NULL);
  }
  sio_buf_deinit(&key);
  return rv;
}

/* A restore in flight: GET the session, delete it if unchanged, then the
 * stream from the offset up to the reader's position. */
typedef struct restore {
  sio_adapter_streams *st;
  sio_namespace *ns;
  sio_adapter_restore_cb cb;
  void *ud;
  char *owner;
  char *value; /* the session as stored (for the compare-and-delete) */
  size_t value_len;
  sio_redis_streams_session sess;
  int have_sess;
  char offset[SIO_REDIS_STREAMS_ID_MAX + 1];
  char from[SIO_REDIS_STREAMS_ID_MAX + 2]; /* next range start */
  char to[SIO_REDIS_STREAMS_ID_MAX + 1];   /* the reader's position */
  int checked;                             /* the offset was found */
  size_t read;                             /* entries read */
  sio_redis_streams_msg *missed;           /* the namespace's broadcasts */
  char (*ids)[SIO_REDIS_STREAMS_ID_MAX + 1];
  size_t nmissed;
  int too_many;
} restore;

static void restore_free(restore *r) {
  size_t i;
  for (i = 0; i < r->nmissed; i++)
    sio_redis_streams_msg_clear(&r->missed[i]);
  sio_free(r->missed);
  sio_free(r->ids);
  if (r->have_sess)
    sio_redis_streams_session_clear(&r->sess);
  sio_free(r->owner);
  sio_free(r->value);
  sio_free(r);
}

static void restore_end(restore *r, int status) {
  r->cb(r->ud, status, NULL, NULL, 0);
  restore_free(r);
}

static void restore_complete(restore *r) {
  sio_adapter_missed *m = NULL;
  sio_broadcast_opts *o = NULL;
  sio_adapter_session s;
  const char *owner = NULL;
  json_object *jo;
  size_t i;
  if (r->nmissed) {
    m = sio_calloc(r->nmissed, sizeof(*m));
    o = sio_calloc(r->nmissed, sizeof(*o));
    if (!m || !o) {
      sio_free(m);
      sio_free(o);
      restore_end(r, SIO_ERR_NOMEM);
      return;
    }
  }
  for (i = 0; i < r->nmissed; i++) {
    const sio_redis_cluster_msg *x = &r->missed[i].m;
    o[i].rooms = x->opts.rooms.v;
    o[i].nrooms = x->opts.rooms.n;
    o[i].except = x->opts.except.v;
    o[i].nexcept = x->opts.except.n;
    m[i].offset = r->ids[i];
    m[i].event = x->packet.event;
    m[i].args = x->packet.args;
    m[i].bins = x->root.bins;
    m[i].nbins = x->root.nbins;
    m[i].o = &o[i];
  }
  if (r->sess.data && json_object_object_get_ex(r->sess.data, "owner", &jo) &&
      json_object_is_type(jo, json_type_string))
    owner = json_object_get_string(jo);
  s.pid = r->sess.pid;
  s.sid = r->sess.sid;
  s.owner = owner;
  s.rooms = r->sess.rooms.v;
  s.nrooms = r->sess.rooms.n;
  r->cb(r->ud, 0, &s, m, r->nmissed);
  sio_free(m);
  sio_free(o);
  restore_free(r);
}

static void range_next(restore *r);

static int keep_entry(restore *r, const sio_redis_streams_entry *e) {
  sio_redis_streams_msg x;
  if (!e->nsp.p || e->type.n != 1 || e->type.p[0] != '3' ||
      strlen(sio_namespace_name(r->ns)) != e->nsp.n ||
      memcmp(sio_namespace_name(r->ns), e->nsp.p, e->nsp.n) != 0)
    return 0; /* not a broadcast of this namespace */
  if (r->nmissed == MISSED_MAX) {
    r->too_many = 1;
    return 0;
  }
  if (sio_redis_streams_entry_decode(e, &x, NULL))
    return 0;
  if (x.m.request_id) {
    sio_redis_streams_msg_clear(&x);
    return 0;
  }
  if (!r->missed) {
    r->missed = sio_calloc(MISSED_MAX, sizeof(*r->missed));
    r->ids = sio_calloc(MISSED_MAX, sizeof(*r->ids));
    if (!r->missed || !r->ids) {
      sio_redis_streams_msg_clear(&x);
      return SIO_ERR_NOMEM;
    }
  }
  r->missed[r->nmissed] = x;
  snprintf(r->ids[r->nmissed], sizeof(r->ids[0]), "%.*s", (int)e->id.n,
           e->id.p);
  r->nmissed++;
  return 0;
}

static void on_range(void *ud, int status, const struct redisReply *rep) {
  restore *r = ud;
  sio_redis_streams_entries es;
  sio_redis_streams_id last;
  size_t i = 0;
  if (status) {
    restore_end(r, status);
    return;
  }
  if (rep->type == REDIS_REPLY_ERROR ||
      sio_redis_streams_parse_xrange(rep, RANGE_COUNT, &es)) {
    restore_end(r, SIO_ERR_PROTO);
    return;
  }
  if (!r->checked) {
    /* the offset must still be the stream's */
    if (es.n == 0 || es.v[0].id.n != strlen(r->offset) ||
        memcmp(es.v[0].id.p, r->offset, es.v[0].id.n) != 0) {
      sio_redis_streams_entries_clear(&es);
      restore_end(r, SIO_ERR_NOTFOUND);
      return;
    }
    r->checked = 1;
    i = 1;
  }
  for (; i < es.n; i++)
    if (keep_entry(r, &es.v[i])) {
      sio_redis_streams_entries_clear(&es);
      restore_end(r, SIO_ERR_NOMEM);
      return;
    }
  r->read += es.n;
  if (es.n == RANGE_COUNT && r->read < RANGE_MAX && !r->too_many) {
    /* a full round: read on after its last entry */
    sio_redis_streams_id_parse(es.v[es.n - 1].id.p, es.v[es.n - 1].id.n, &last);
    sio_redis_streams_entries_clear(&es);
    if (sio_redis_streams_id_next(last, &last)) {
      restore_end(r, SIO_ERR_LIMIT);
      return;
    }
    sio_redis_streams_id_format(r->from, last);
    range_next(r);
    return;
  }
  sio_redis_streams_entries_clear(&es);
  if (!r->too_many && r->read < RANGE_MAX && strcmp(r->st->pos, r->to) != 0) {
    /* the reader moved on meanwhile: what it handed over since r->to was
     * not given to this socket, which is not accepted yet */
    sio_redis_streams_id_parse(r->to, strlen(r->to), &last);
    if (sio_redis_streams_id_next(last, &last) == 0) {
      sio_redis_streams_id_format(r->from, last);
      range_next(r);
      return;
    }
  }
  if (r->too_many || r->read >= RANGE_MAX)
    restore_end(r, SIO_ERR_LIMIT); /* more than one restore replays */
  else
    restore_complete(r);
}

static void range_next(restore *r) {
  sio_adapter_streams *st = r->st;
  char count[16];
  int rv;
  if (!st->have_pos) {
    restore_end(r, SIO_ERR_CLOSED);
    return;
  }
  snprintf(r->to, sizeof(r->to), "%s", st->pos);
  snprintf(count, sizeof(count), "%u", (unsigned)RANGE_COUNT);
  {
    const char *argv[] = {"XRANGE", st->stream, r->from, r->to, "COUNT", count};
    rv = st->ops->command(st->drv, SIO_PUBSUB_LANE_PUB, 6, argv, NULL, 1, 0,
                          on_range, r);
  }
  if (rv)
    restore_end(r, rv);
}

/* deletes the key only while it holds the value read */
static const char take_lua[] = "if redis.call('GET', KEYS[1]) == ARGV[1] then\n"
                               "  return redis.call('DEL', KEYS[1])\n"
                               "end\n"
                               "return 0\n";

static void on_taken(void *ud, int status, const struct redisReply *rep) {
  restore *r = ud;
  sio_redis_streams_id off, to;
  if (status) {
    restore_end(r, status);
    return;
  }
  if (rep->type != REDIS_REPLY_INTEGER || rep->integer != 1) {
    restore_end(r, SIO_ERR_NOTFOUND); /* taken or changed meanwhile */
    return;
  }
  if (!r->st->have_pos) {
    restore_end(r, SIO_ERR_CLOSED);
    return;
  }
  sio_redis_streams_id_parse(r->offset, strlen(r->offset), &off);
  sio_redis_streams_id_parse(r->st->pos, strlen(r->st->pos), &to);
  if (sio_redis_streams_id_cmp(off, to) > 0) {
    restore_end(r, SIO_ERR_NOTFOUND); /* an offset not given yet */
    return;
  }
  snprintf(r->from, sizeof(r->from), "%s", r->offset);
  range_next(r);
}

static void on_session(void *ud, int status, const struct redisReply *rep) {
  restore *r = ud;
  json_object *jo;
  const char *owner = NULL;
  sio_buf key;
  int rv;
  if (status) {
    restore_end(r, status);
    return;
  }
  if (rep->type != REDIS_REPLY_STRING ||
      sio_redis_streams_session_decode(&r->sess, rep->str, rep->len, NULL)) {
    restore_end(r, SIO_ERR_NOTFOUND);
    return;
  }
  r->have_sess = 1;
  if (r->sess.data && json_object_object_get_ex(r->sess.data, "owner", &jo) &&
      json_object_is_type(jo, json_type_string))
    owner = json_object_get_string(jo);
  if (strcmp(owner ? owner : "", r->owner ? r->owner : "") != 0) {
    restore_end(r, SIO_ERR_NOTFOUND); /* not spent: it is not theirs */
    return;
  }
  r->value = sio_malloc(rep->len);
  if (!r->value) {
    restore_end(r, SIO_ERR_NOMEM);
    return;
  }
  memcpy(r->value, rep->str, rep->len);
  r->value_len = rep->len;
  sio_buf_init(&key);
  rv = session_key(r->st, &key, r->sess.pid);
  if (!rv) {
    const char *argv[] = {"EVAL", take_lua, "1", key.data, r->value};
    size_t lens[] = {4, sizeof(take_lua) - 1, 1, key.len - 1, r->value_len};
    rv = r->st->ops->command(r->st->drv, SIO_PUBSUB_LANE_PUB, 5, argv, lens, 3,
                             0, on_taken, r);
  }
  sio_buf_deinit(&key);
  if (rv)
    restore_end(r, rv);
}

int sio_adapter_streams_restore(sio_adapter_streams *st, sio_namespace *ns,
                                const char *pid, const char *offset,
                                const char *owner, sio_adapter_restore_cb cb,
                                void *ud) {
  restore *r;
  sio_buf key;
  int rv;
  if (st->closing)
    return SIO_ERR_CLOSED;
  if (!pid || !offset || !*pid ||
      sio_redis_streams_id_parse(offset, strlen(offset), NULL))
    return SIO_ERR_NOTFOUND; /* the reference refuses them before Redis */
  r = sio_calloc(1, sizeof(*r));
  if (!r)
    return SIO_ERR_NOMEM;
  r->st = st;
  r->ns = ns;
  r->cb = cb;
  r->ud = ud;
  snprintf(r->offset, sizeof(r->offset), "%s", offset);
  if (owner && *owner && !(r->owner = sio_strdup(owner))) {
    sio_free(r);
    return SIO_ERR_NOMEM;
  }
  sio_buf_init(&key);
  rv = session_key(st, &key, pid);
  if (!rv) {
    const char *argv[] = {"GET", key.data};
    rv = st->ops->command(st->drv, SIO_PUBSUB_LANE_PUB, 2, argv, NULL, 1, 0,
                          on_session, r);
  }
  sio_buf_deinit(&key);
  if (rv)
    restore_free(r);
  return rv;
}

/* ------------------------------------------------------------- lifecycle */

int sio_adapter_streams_new(sio_adapter_streams **out, uv_loop_t *loop,
                            const sio_pubsub_ops *ops, void *drv,
                            const sio_adapter_streams_config *cfg,
                            sio_adapter_streams_entry_cb entry, void *ud) {
  sio_adapter_streams *st = sio_calloc(1, sizeof(*st));
  const char *stream =
      cfg && cfg->stream && *cfg->stream ? cfg->stream : SIO_REDIS_STREAMS_NAME;
  const char *prefix = cfg && cfg->session_prefix && *cfg->session_prefix
                           ? cfg->session_prefix
                           : SIO_REDIS_STREAMS_SESSION_PREFIX;
  *out = NULL;
  if (!st)
    return SIO_ERR_NOMEM;
  st->stream = sio_strdup(stream);
  st->prefix = sio_strdup(prefix);
  if (!st->stream || !st->prefix) {
    sio_free(st->stream);
    sio_free(st->prefix);
    sio_free(st);
    return SIO_ERR_NOMEM;
  }
  st->loop = loop;
  st->ops = ops;
  st->drv = drv;
  st->maxlen = cfg && cfg->maxlen ? cfg->maxlen : SIO_REDIS_STREAMS_MAXLEN;
  st->entry = entry;
  st->ud = ud;
  sio_redis_streams_cmd_init(&st->cmd);
  uv_timer_init(loop, &st->retry);
  st->retry.data = st;
  *out = st;
  return 0;
}

static void retry_closed(uv_handle_t *h) {
  sio_adapter_streams *st = h->data;
  if (st->closed)
    st->closed(st->closed_arg);
}

void sio_adapter_streams_close(sio_adapter_streams *st,
                               void (*closed)(void *arg), void *arg) {
  st->closing = 1;
  st->closed = closed;
  st->closed_arg = arg;
  uv_close((uv_handle_t *)&st->retry, retry_closed);
}

void sio_adapter_streams_free(sio_adapter_streams *st) {
  if (!st)
    return;
  sio_redis_streams_cmd_deinit(&st->cmd);
  sio_free(st->stream);
  sio_free(st->prefix);
  sio_free(st);
}
