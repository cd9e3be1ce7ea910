/* sio_redis_history.c: the fleet's room history in Redis (see the header
 * for the layout). Both scripts are sent with EVAL: Redis caches a
 * script by its digest, so the text costs a hash per call and nothing is
 * lost when a server restarts or a failover lands on a replica that never
 * saw a SCRIPT LOAD. */
#include "sio_redis_history.h"

#include <stdio.h>
#include <string.h>

#include "sio_buf.h"
#include "sio_int.h"
#include "sio_log.h"
#include "sio_mem.h"
#include "sio_redis_reply.h"

/* KEYS: seq, id key, room streams...; ARGV: packet, max_events,
 * max_age_ms, id. Returns the event's sequence, or 0 when kept already.
 * A room's oldest entries past max_events go with XDEL, not XADD's
 * MAXLEN: only XDEL moves max-deleted-entry-id, which the read needs to
 * tell whether a room lost an event newer than since. */
static const char append_lua[] =
    "if redis.call('EXISTS', KEYS[2]) == 1 then return 0 end\n"
    "local seq = redis.call('INCR', KEYS[1])\n"
    "local t = redis.call('TIME')\n"
    "local now = t[1] .. string.format('%03d', math.floor(tonumber(t[2]) / "
    "1000))\n"
    "redis.call('SET', KEYS[2], seq, 'PX', ARGV[3])\n"
    "for i = 3, #KEYS do\n"
    "  redis.call('XADD', KEYS[i], seq .. '-0', 'i', ARGV[4], 'p', ARGV[1], "
    "'t', now)\n"
    "  local over = redis.call('XLEN', KEYS[i]) - tonumber(ARGV[2])\n"
    "  if over > 0 then\n"
    "    for _, e in ipairs(redis.call('XRANGE', KEYS[i], '-', '+', 'COUNT', "
    "over)) do\n"
    "      redis.call('XDEL', KEYS[i], e[1])\n"
    "    end\n"
    "  end\n"
    "  redis.call('PEXPIRE', KEYS[i], ARGV[3])\n"
    "end\n"
    "return seq\n";

/* KEYS: id key of since, room streams...; ARGV: max_age_ms, max_events.
 * Returns {complete, id1, packet1, id2, packet2, ...} in sequence order,
 * or {0} when since is unknown. */
static const char read_lua[] =
    "local s = redis.call('GET', KEYS[1])\n"
    "if not s then return {0} end\n"
    "s = tonumber(s)\n"
    "local t = redis.call('TIME')\n"
    "local min_t = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000) "
    "- tonumber(ARGV[1])\n"
    "local complete, seen, list = 1, {}, {}\n"
    "for i = 2, #KEYS do\n"
    "  if redis.call('EXISTS', KEYS[i]) == 1 then\n"
    "    local info = redis.call('XINFO', 'STREAM', KEYS[i])\n"
    "    for j = 1, #info - 1, 2 do\n"
    "      if info[j] == 'max-deleted-entry-id' then\n"
    "        local md = tonumber(string.match(info[j + 1], '^(%d+)'))\n"
    "        if md and md > s then complete = 0 end\n"
    "      end\n"
    "    end\n"
    "    local ents = redis.call('XRANGE', KEYS[i], '(' .. s .. '-0', '+', "
    "'COUNT', ARGV[2])\n"
    "    for _, e in ipairs(ents) do\n"
    "      local seq = tonumber(string.match(e[1], '^(%d+)'))\n"
    "      if seq and not seen[seq] then\n"
    "        local f = {}\n"
    "        for k = 1, #e[2] - 1, 2 do f[e[2][k]] = e[2][k + 1] end\n"
    "        if f.i and f.p and tonumber(f.t or '0') >= min_t then\n"
    "          seen[seq] = true\n"
    "          list[#list + 1] = {seq, f.i, f.p}\n"
    "        end\n"
    "      end\n"
    "    end\n"
    "  end\n"
    "end\n"
    "table.sort(list, function(x, y) return x[1] < y[1] end)\n"
    "local out = {complete}\n"
    "for _, v in ipairs(list) do\n"
    "  out[#out + 1] = v[2]\n"
    "  out[#out + 1] = v[3]\n"
    "end\n"
    "return out\n";

/* Appends "<key>-history{<nsp>}<suffix><name>" and a NUL to b; the
 * offset of its first byte in *off. */
static int put_key(sio_buf *b, size_t *off, const char *key, const char *nsp,
                   const char *suffix, const char *name) {
  *off = b->len;
  if (sio_buf_appendf(b, "%s-history{%s}%s%s", key, nsp, suffix,
                      name ? name : "") ||
      sio_buf_append_byte(b, 0))
    return SIO_ERR_NOMEM;
  return 0;
}

typedef struct cmd {
  sio_buf keys; /* the key strings, NUL-separated */
  size_t *offs;
  const char **argv;
  size_t *lens;
  int argc;
  char numkeys[24];
} cmd;

static void cmd_deinit(cmd *c) {
  sio_buf_deinit(&c->keys);
  sio_free(c->offs);
  sio_free(c->argv);
  sio_free(c->lens);
}

/* Builds EVAL script numkeys KEYS... ARGV... with the keys already in
 * c->keys at c->offs[0..nkeys). */
static int cmd_finish(cmd *c, const char *script, size_t nkeys,
                      const char *const *args, const size_t *arglens,
                      size_t nargs) {
  size_t i, n = 3 + nkeys + nargs;
  c->argv = sio_calloc(n, sizeof(*c->argv));
  c->lens = sio_calloc(n, sizeof(*c->lens));
  if (!c->argv || !c->lens)
    return SIO_ERR_NOMEM;
  snprintf(c->numkeys, sizeof(c->numkeys), "%zu", nkeys);
  c->argv[0] = "EVAL";
  c->argv[1] = script;
  c->argv[2] = c->numkeys;
  for (i = 0; i < nkeys; i++)
    c->argv[3 + i] = (const char *)c->keys.data + c->offs[i];
  for (i = 0; i < nargs; i++) {
    c->argv[3 + nkeys + i] = args[i];
    c->lens[3 + nkeys + i] = arglens[i];
  }
  for (i = 0; i < 3 + nkeys; i++)
    c->lens[i] = strlen(c->argv[i]);
  c->argc = (int)n;
  return 0;
}

/* The distinct rooms' stream keys, after the first nfixed keys. */
static int put_rooms(cmd *c, const char *key, const char *nsp,
                     const char *const *rooms, size_t nrooms, size_t nfixed,
                     size_t *nkeys) {
  size_t i, j, n = nfixed;
  for (i = 0; i < nrooms; i++) {
    for (j = 0; j < i; j++)
      if (strcmp(rooms[i], rooms[j]) == 0)
        break;
    if (j < i)
      continue;
    if (put_key(&c->keys, &c->offs[n], key, nsp, ":r:", rooms[i]))
      return SIO_ERR_NOMEM;
    n++;
  }
  *nkeys = n;
  return 0;
}

static void on_appended(void *ud, int status, const redisReply *rep) {
  (void)ud;
  if (status && status != SIO_ERR_CANCELED)
    SIO_LOGW("redis history: append failed: %s", sio_strerror(status));
  else if (!status && rep && rep->type == REDIS_REPLY_ERROR)
    SIO_LOGW("redis history: append refused: %.*s", (int)rep->len, rep->str);
}

int sio_redis_history_append(const sio_pubsub_ops *ops, void *drv,
                             const char *key, const char *nsp, const char *id,
                             const char *const *rooms, size_t nrooms,
                             const uint8_t *pkt, size_t len,
                             uint32_t max_events, uint32_t max_age_ms) {
  char ev[16], age[16];
  const char *args[4];
  size_t lens[4], nkeys;
  cmd c;
  int rv;
  if (!ops || !ops->command)
    return SIO_ERR_UNSUPPORTED;
  if (!id || !*id || !nrooms || !rooms || !key || !nsp)
    return SIO_ERR_INVAL;
  memset(&c, 0, sizeof(c));
  sio_buf_init(&c.keys);
  c.offs = sio_calloc(2 + nrooms, sizeof(*c.offs));
  rv = c.offs ? 0 : SIO_ERR_NOMEM;
  if (!rv && (put_key(&c.keys, &c.offs[0], key, nsp, ":seq", NULL) ||
              put_key(&c.keys, &c.offs[1], key, nsp, ":id:", id)))
    rv = SIO_ERR_NOMEM;
  if (!rv)
    rv = put_rooms(&c, key, nsp, rooms, nrooms, 2, &nkeys);
  snprintf(ev, sizeof(ev), "%u", max_events);
  snprintf(age, sizeof(age), "%u", max_age_ms);
  args[0] = (const char *)pkt;
  lens[0] = len;
  args[1] = ev;
  lens[1] = strlen(ev);
  args[2] = age;
  lens[2] = strlen(age);
  args[3] = id;
  lens[3] = strlen(id);
  if (!rv)
    rv = cmd_finish(&c, append_lua, nkeys, args, lens, 4);
  if (!rv)
    rv = ops->command(drv, SIO_PUBSUB_LANE_PUB, c.argc, c.argv, c.lens, 3, 0,
                      on_appended, NULL);
  cmd_deinit(&c);
  return rv;
}

typedef struct read_ctx {
  sio_adapter_history_cb cb;
  void *ud;
} read_ctx;

static int is_string(const redisReply *r) {
  return r && (r->type == REDIS_REPLY_STRING || r->type == REDIS_REPLY_STATUS);
}

static void on_read(void *ud, int status, const redisReply *rep) {
  read_ctx rc = *(read_ctx *)ud;
  sio_adapter_history_event *ev = NULL;
  size_t i, n = 0;
  int complete = 0;
  sio_free(ud);
  if (!status) {
    if (!rep || rep->type != REDIS_REPLY_ARRAY || rep->elements < 1 ||
        rep->element[0]->type != REDIS_REPLY_INTEGER ||
        (rep->elements - 1) % 2 != 0) {
      if (rep && rep->type == REDIS_REPLY_ERROR)
        SIO_LOGW("redis history: read refused: %.*s", (int)rep->len, rep->str);
      status = SIO_ERR_PROTO;
    } else {
      n = (rep->elements - 1) / 2;
      complete = rep->element[0]->integer == 1;
      if (n && !(ev = sio_calloc(n, sizeof(*ev))))
        status = SIO_ERR_NOMEM;
      for (i = 0; !status && i < n; i++) {
        const redisReply *id = rep->element[1 + 2 * i];
        const redisReply *pkt = rep->element[2 + 2 * i];
        if (!is_string(id) || !is_string(pkt) || id->len == 0 ||
            memchr(id->str, 0, id->len)) {
          status = SIO_ERR_PROTO;
          break;
        }
        ev[i].id = id->str; /* hiredis NUL-terminates its strings */
        ev[i].pkt = (const uint8_t *)pkt->str;
        ev[i].len = pkt->len;
      }
    }
  }
  if (status)
    rc.cb(rc.ud, status, NULL, 0, 0);
  else
    rc.cb(rc.ud, 0, ev, n, complete);
  sio_free(ev);
}

int sio_redis_history_read(const sio_pubsub_ops *ops, void *drv,
                           const char *key, const char *nsp,
                           const char *const *rooms, size_t nrooms,
                           const char *since, uint32_t max_events,
                           uint32_t max_age_ms, sio_adapter_history_cb cb,
                           void *ud) {
  char ev[16], age[16];
  const char *args[2];
  size_t lens[2], nkeys;
  read_ctx *rc;
  cmd c;
  int rv;
  if (!ops || !ops->command)
    return SIO_ERR_UNSUPPORTED;
  if (!since || !*since || !cb || (nrooms && !rooms) || !key || !nsp)
    return SIO_ERR_INVAL;
  rc = sio_calloc(1, sizeof(*rc));
  if (!rc)
    return SIO_ERR_NOMEM;
  rc->cb = cb;
  rc->ud = ud;
  memset(&c, 0, sizeof(c));
  sio_buf_init(&c.keys);
  c.offs = sio_calloc(1 + nrooms, sizeof(*c.offs));
  rv = c.offs ? 0 : SIO_ERR_NOMEM;
  if (!rv && put_key(&c.keys, &c.offs[0], key, nsp, ":id:", since))
    rv = SIO_ERR_NOMEM;
  if (!rv)
    rv = put_rooms(&c, key, nsp, rooms, nrooms, 1, &nkeys);
  snprintf(age, sizeof(age), "%u", max_age_ms);
  snprintf(ev, sizeof(ev), "%u", max_events);
  args[0] = age;
  lens[0] = strlen(age);
  args[1] = ev;
  lens[1] = strlen(ev);
  if (!rv)
    rv = cmd_finish(&c, read_lua, nkeys, args, lens, 2);
  if (!rv)
    rv = ops->command(drv, SIO_PUBSUB_LANE_PUB, c.argc, c.argv, c.lens, 3, 0,
                      on_read, rc);
  cmd_deinit(&c);
  if (rv)
    sio_free(rc);
  return rv;
}
