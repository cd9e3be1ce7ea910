/* sio_redis.c: the pub/sub driver for one Redis server (standalone or
 * Sentinel-managed) over sio_redis_conn, and sio_server_use_redis().
 *
 * Each of the two roles, subscriber and publisher, runs
 *
 *   DOWN --timer--> CONNECTING (sio_redis_conn: dial, TLS, AUTH, SELECT;
 *   then, Sentinel: ROLE must say master; subscriber: every subscription
 *   confirmed, publisher: a PING answered) --> READY
 *
 * READY means Redis answered, not merely that a kernel accepted the
 * connection. Any failure goes back to DOWN and the next attempt starts
 * after min(reconnect_max, reconnect_min * 2^attempt) ms, of which a
 * random half is jitter so that a fleet does not reconnect in step. While
 * READY each role PINGs every ping_interval_ms: the publisher's round trip
 * is the latency the server reports, and a PING gives the connection's
 * command deadline something to time when nothing else is sent. The driver
 * is ready when both roles are READY.
 *
 * Commands (the command op): LANE_PUB goes out on the publisher, in order
 * with publishes. LANE_BLOCKING has a role of its own, opened on the first
 * blocking command and never part of `ready`: commands that come while it
 * is DOWN or CONNECTING wait in the driver's queue (`bq`, max_pending
 * long) and leave once it is READY, or fail with SIO_ERR_IO when the
 * attempt fails. It sends no PING while READY (a PING behind an XREAD
 * BLOCK would measure the BLOCK), so an idle blocking connection is only
 * watched by the deadlines of the commands sent on it (their wait plus
 * the command timeout). Once lost it stays DOWN until the next blocking
 * command, which waits for the backoff delay when the last attempt
 * failed.
 *
 * Sentinel: the sentinel connection sends SENTINEL get-master-addr-by-name
 * and SUBSCRIBE +switch-master in one pipeline, so no switch can fall
 * between the answer and the subscription. A new address (from either)
 * drops both roles and connects them to it at once, without backoff: the
 * fleet is back within a round trip of the sentinels' announcement. A
 * sentinel lost is replaced by the next one in the URL.
 *
 * Ownership: every sio_redis_conn callback carries its role (or the
 * sentinel); a role drops its connection by forgetting it first, so the
 * callbacks the close fires (SIO_ERR_CANCELED) find it gone. The driver
 * is freed after every connection reported freed, every timer closed and
 * the sio_net closed. */
#include "sio_redis.h"

#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "sio/sio.h"
#include "sio_adapter_redis.h"
#include "sio_adapter_sharded.h"
#include "sio_conn.h"
#include "sio_crypto.h"
#include "sio_engine_bus.h"
#include "sio_int.h"
#include "sio_log.h"
#include "sio_mem.h"
#include "sio_redis_cluster.h"
#include "sio_redis_conn.h"
#include "sio_redis_reply.h"
#include "sio_tls.h"

enum { R_DOWN, R_CONNECTING, R_READY };
enum { ROLE_SUB = 0, ROLE_PUB = 1, ROLE_SENTINEL = 2, ROLE_BLOCK = 3 };
#define NROLES 4

typedef struct rsub {
  char *name;
  int kind; /* SIO_PUBSUB_* */
} rsub;

typedef struct role {
  sio_redis *r;
  int which;
  int state;
  sio_redis_conn *rc;
  uv_timer_t timer; /* DOWN: the retry; READY: the next PING */
  unsigned attempt;
  int failed_once;     /* logged the first failure of a series */
  size_t confirm_left; /* CONNECTING: replies still due before READY */
  int ping_out;
  uint64_t ping_sent_ns;
  size_t sentinel_idx; /* ROLE_SENTINEL: the sentinel in use */
} role;

struct sio_redis {
  uv_loop_t *loop;
  sio_net net;
  sio_tls_client_ctx *tls;
  sio_redis_url url;
  sio_redis_options o;
  role roles[NROLES]; /* sub, pub, sentinel, blocking */
  char *master_host; /* Sentinel: the master's address, NULL until known */
  int master_port;
  rsub *subs;
  size_t nsubs, capsubs;
  sio_pubsub_handler h;
  void *ud;
  int ready;
  int closing;
  int outstanding; /* connections not freed + timers not closed */
  void (*done)(void *arg);
  void *done_arg;
  uint64_t rng;
  uint64_t latency_us; /* round trip of the last PING answered */
  sio_queue bq;        /* cmd_reqs waiting for the blocking connection */
  size_t nbq;
};

/* One command op call, until its callback. A request waiting in bq keeps
 * a copy of its arguments (argv, lens) in the same allocation. */
typedef struct cmd_req {
  sio_queue link;
  sio_redis *r;
  sio_pubsub_reply_cb cb;
  void *ud;
  uint32_t wait_ms;
  int argc;
  const char **argv;
  size_t *lens;
} cmd_req;

typedef struct count_req {
  sio_redis *r;
  sio_pubsub_count_cb cb;
  void *ud;
} count_req;

static const char *role_name(const role *ro) {
  static const char *const names[NROLES] = {"subscriber", "publisher",
                                            "sentinel", "blocking"};
  return names[ro->which];
}

static int sentinel_mode(const sio_redis *r) {
  return r->url.topology == SIO_REDIS_SENTINEL;
}

static void role_start(role *ro);
static void role_timer(uv_timer_t *t);
static void final_step(sio_redis *r);
static void block_lost(sio_redis *r, int retry_now);

/* The blocking role is only wanted while commands wait for it. */
static int role_wanted(const role *ro) {
  return ro->which != ROLE_BLOCK || ro->r->nbq > 0;
}

static void update_ready(sio_redis *r) {
  int ready = r->roles[ROLE_SUB].state == R_READY &&
              r->roles[ROLE_PUB].state == R_READY;
  if (ready == r->ready || r->closing)
    return;
  r->ready = ready;
  if (r->h.state)
    r->h.state(r->ud, ready);
}

static uint64_t rng_next(sio_redis *r) {
  /* xorshift64*: jitter only, not security */
  r->rng ^= r->rng >> 12;
  r->rng ^= r->rng << 25;
  r->rng ^= r->rng >> 27;
  return r->rng * 2685821657736338717ull;
}

static void schedule_retry(role *ro) {
  sio_redis *r = ro->r;
  uint64_t delay = r->o.reconnect_min_ms;
  unsigned i;
  if (r->closing)
    return;
  for (i = 0; i < ro->attempt && delay < r->o.reconnect_max_ms; i++)
    delay *= 2;
  if (delay > r->o.reconnect_max_ms)
    delay = r->o.reconnect_max_ms;
  /* equal jitter: half fixed, half random */
  delay = delay / 2 + (delay > 1 ? rng_next(r) % (delay / 2 + 1) : 0);
  ro->attempt++;
  uv_timer_start(&ro->timer, role_timer, delay, 0);
}

/* Forgets the role's connection and closes it (its pending callbacks see
 * SIO_ERR_CANCELED and a role without it). */
static void role_forget(role *ro) {
  sio_redis_conn *rc = ro->rc;
  ro->rc = NULL;
  ro->ping_out = 0;
  sio_redis_conn_close(rc);
}

static void sentinel_requery(sio_redis *r);

/* The role's connection is gone (or never came): DOWN, then a retry. */
static void role_lost(role *ro, const char *why, int retry_now) {
  sio_redis *r = ro->r;
  int was_ready = ro->state == R_READY;
  role_forget(ro);
  ro->state = R_DOWN;
  ro->confirm_left = 0;
  uv_timer_stop(&ro->timer);
  if (r->closing)
    return;
  if (was_ready || !ro->failed_once)
    SIO_LOGW("redis %s: %s", role_name(ro), why);
  else
    SIO_LOGD("redis %s: %s", role_name(ro), why);
  ro->failed_once = 1;
  update_ready(r);
  if (ro->which == ROLE_BLOCK) {
    block_lost(r, retry_now);
    return;
  }
  if (retry_now) {
    ro->attempt = 0;
    uv_timer_start(&ro->timer, role_timer, 0, 0);
    return;
  }
  /* A master that keeps failing may no longer be the master: ask again
   * rather than wait for an announcement that may have been missed. */
  if (ro->which != ROLE_SENTINEL && sentinel_mode(r) && ro->attempt >= 1)
    sentinel_requery(r);
  schedule_retry(ro);
}

static void arm_ping(role *ro) {
  if (ro->which == ROLE_BLOCK) /* see the top of the file */
    return;
  if (ro->state == R_READY && !ro->ping_out)
    uv_timer_start(&ro->timer, role_timer, ro->r->o.ping_interval_ms, 0);
}

static void block_flush(role *ro);

static void set_ready(role *ro) {
  ro->state = R_READY;
  ro->confirm_left = 0;
  if (ro->attempt || ro->failed_once)
    SIO_LOGI("redis %s: connected", role_name(ro));
  ro->attempt = 0;
  ro->failed_once = 0;
  arm_ping(ro);
  update_ready(ro->r);
  if (ro->which == ROLE_BLOCK)
    block_flush(ro);
}

/* A reply the role counts before READY (PING, ROLE, confirmations). */
static void confirmed(role *ro) {
  if (ro->state == R_CONNECTING && ro->confirm_left && --ro->confirm_left == 0)
    set_ready(ro);
}

/* ------------------------------------------------------------ commands */

static int role_send(role *ro, int argc, const char **argv, const size_t *lens,
                     sio_redis_reply_cb cb, void *ud) {
  if (!ro->rc)
    return SIO_ERR_CLOSED;
  return sio_redis_conn_command(ro->rc, argc, argv, lens, cb, ud);
}

/* The callbacks below run for the connection they were sent on; the role
 * may have moved on (rc changed) or be closing, hence the checks. */

static void on_pong(void *ud, int status, const redisReply *rep) {
  role *ro = ud;
  sio_redis *r = ro->r;
  if (status || r->closing)
    return; /* lost: role_lost runs from the conn's lost() */
  if (rep->type == REDIS_REPLY_ERROR) {
    role_lost(ro, "PING refused", 0);
    return;
  }
  if (ro->which == ROLE_PUB) {
    uint64_t us = (uv_hrtime() - ro->ping_sent_ns) / 1000;
    r->latency_us = us ? us : 1;
  }
  ro->ping_out = 0;
  if (ro->state == R_READY)
    arm_ping(ro);
  else
    confirmed(ro);
}

static int send_ping(role *ro) {
  static const char *const argv[1] = {"PING"};
  int rv = role_send(ro, 1, (const char **)argv, NULL, on_pong, ro);
  if (rv == 0) {
    ro->ping_out = 1;
    ro->ping_sent_ns = uv_hrtime();
  }
  return rv;
}

static void on_subscribed(void *ud, int status, const redisReply *rep) {
  role *ro = ud;
  if (status || ro->r->closing)
    return;
  if (rep->type == REDIS_REPLY_ERROR) {
    char why[200];
    snprintf(why, sizeof(why), "subscription refused: %s",
             rep->str ? rep->str : "error");
    role_lost(ro, why, 0);
    return;
  }
  confirmed(ro);
}

static const char *const sub_cmd[3] = {"SUBSCRIBE", "PSUBSCRIBE", "SSUBSCRIBE"};
static const char *const unsub_cmd[3] = {"UNSUBSCRIBE", "PUNSUBSCRIBE",
                                         "SUNSUBSCRIBE"};

static int send_subscribe(role *ro, const rsub *s) {
  const char *argv[2] = {sub_cmd[s->kind], s->name};
  return role_send(ro, 2, argv, NULL, on_subscribed, ro);
}

static void on_role(void *ud, int status, const redisReply *rep) {
  role *ro = ud;
  sio_redis *r = ro->r;
  if (status || r->closing)
    return;
  if (sio_redis_role_parse(rep)) {
    role_lost(ro, "the server the sentinels named is not a master", 0);
    sentinel_requery(r);
    return;
  }
  confirmed(ro);
}

/* The connection is authenticated: verify, subscribe, PING. */
static void on_conn_ready(void *ud, sio_redis_conn *c) {
  role *ro = ud;
  sio_redis *r = ro->r;
  static const char *const role_argv[1] = {"ROLE"};
  size_t i;
  (void)c;
  ro->confirm_left = 0;
  if (sentinel_mode(r)) {
    if (role_send(ro, 1, (const char **)role_argv, NULL, on_role, ro))
      goto fail;
    ro->confirm_left++;
  }
  if (ro->which == ROLE_SUB && r->nsubs) {
    for (i = 0; i < r->nsubs; i++) {
      if (send_subscribe(ro, &r->subs[i]))
        goto fail;
      ro->confirm_left++;
    }
  } else {
    if (send_ping(ro))
      goto fail;
    ro->confirm_left++;
  }
  return;
fail:
  role_lost(ro, "cannot send the handshake", 0);
}

static void on_push(void *ud, sio_redis_conn *c, const redisReply *rep) {
  role *ro = ud;
  sio_redis *r = ro->r;
  sio_redis_push p;
  int rv;
  (void)c;
  if (r->closing)
    return;
  rv = sio_redis_push_parse(rep, &p);
  if (p.kind == SIO_REDIS_PUSH_SUNSUBSCRIBE) {
    /* The slot moved (a cluster node's doing): one standalone server has
     * no slots to move, so this only means the subscription is gone. */
    role_lost(ro, "the server dropped a sharded subscription", 1);
    return;
  }
  if (rv == 0 && r->h.message)
    r->h.message(r->ud, p.pattern, p.channel, (const uint8_t *)p.payload,
                 p.payload_len);
}

static void on_conn_lost(void *ud, sio_redis_conn *c, int status,
                         const char *why) {
  role *ro = ud;
  char buf[200];
  (void)status;
  if (ro->rc != c)
    return;
  ro->rc = NULL; /* it frees itself */
  snprintf(buf, sizeof(buf), "%s", why);
  role_lost(ro, buf, 0);
}

static void on_conn_freed(void *ud) {
  role *ro = ud;
  sio_redis *r = ro->r;
  r->outstanding--;
  final_step(r);
}

static const sio_redis_conn_handler role_handler = {
    .ready = on_conn_ready,
    .push = on_push,
    .lost = on_conn_lost,
    .freed = on_conn_freed,
};

/* ------------------------------------------------------------ Sentinel */

static void set_master(sio_redis *r, const sio_redis_addr *a) {
  int i;
  if (r->master_host && strlen(r->master_host) == a->hostlen &&
      memcmp(r->master_host, a->host, a->hostlen) == 0 &&
      r->master_port == a->port) {
    for (i = 0; i < NROLES; i++) { /* known, and a role waits for it */
      role *ro = &r->roles[i];
      if (i != ROLE_SENTINEL && ro->state == R_DOWN && !ro->rc &&
          ro->attempt && role_wanted(ro))
        uv_timer_start(&ro->timer, role_timer, 0, 0);
    }
    return;
  }
  {
    char *h = sio_strndup(a->host, a->hostlen);
    if (!h)
      return;
    sio_free(r->master_host);
    r->master_host = h;
    r->master_port = a->port;
  }
  SIO_LOGI("redis: master %s is at %s:%d", r->url.master_name, r->master_host,
           r->master_port);
  /* the blocking connection moves too: what waited on the old master
   * fails (SIO_ERR_IO), what waits for the connection follows */
  for (i = 0; i < NROLES; i++) {
    role *ro = &r->roles[i];
    if (i == ROLE_SENTINEL)
      continue;
    if (ro->rc || ro->state != R_DOWN)
      role_lost(ro, "the master moved", 1);
    else if (role_wanted(ro)) {
      ro->attempt = 0;
      uv_timer_start(&ro->timer, role_timer, 0, 0);
    }
  }
}

static void on_master_addr(void *ud, int status, const redisReply *rep) {
  role *ro = ud;
  sio_redis *r = ro->r;
  sio_redis_addr a;
  int rv;
  if (status || r->closing)
    return;
  rv = sio_redis_master_addr_parse(rep, &a);
  if (rv == SIO_ERR_NOTFOUND) {
    char why[200];
    snprintf(why, sizeof(why), "no master named %s", r->url.master_name);
    ro->sentinel_idx++;
    role_lost(ro, why, 0);
    return;
  }
  /* a malformed address is ignored, as the announcement that fixes it
   * would be taken */
  if (rv == 0)
    set_master(r, &a);
  confirmed(ro);
}

static void on_sentinel_ready(void *ud, sio_redis_conn *c) {
  role *ro = ud;
  sio_redis *r = ro->r;
  const char *q[3] = {"SENTINEL", "get-master-addr-by-name",
                      r->url.master_name};
  const char *s[2] = {"SUBSCRIBE", "+switch-master"};
  (void)c;
  if (role_send(ro, 3, q, NULL, on_master_addr, ro) ||
      role_send(ro, 2, s, NULL, on_subscribed, ro)) {
    role_lost(ro, "cannot query the sentinel", 0);
    return;
  }
  ro->confirm_left = 2;
}

/* "+switch-master <name> <old-ip> <old-port> <new-ip> <new-port>" */
static void on_sentinel_push(void *ud, sio_redis_conn *c,
                             const redisReply *rep) {
  role *ro = ud;
  sio_redis *r = ro->r;
  sio_redis_push p;
  sio_redis_addr a;
  (void)c;
  if (r->closing || sio_redis_push_parse(rep, &p) ||
      p.kind != SIO_REDIS_PUSH_MESSAGE)
    return;
  if (sio_redis_switch_master_parse(p.payload, p.payload_len,
                                    r->url.master_name, &a) == 0)
    set_master(r, &a);
}

static void on_sentinel_lost(void *ud, sio_redis_conn *c, int status,
                             const char *why) {
  role *ro = ud;
  char buf[200];
  (void)status;
  if (ro->rc != c)
    return;
  ro->rc = NULL;
  ro->sentinel_idx++; /* the next one */
  snprintf(buf, sizeof(buf), "%s", why);
  role_lost(ro, buf, 0);
}

static const sio_redis_conn_handler sentinel_handler = {
    .ready = on_sentinel_ready,
    .push = on_sentinel_push,
    .lost = on_sentinel_lost,
    .freed = on_conn_freed,
};

/* Asks the sentinels again, at once (keeping the one in use first). */
static void sentinel_requery(sio_redis *r) {
  role *ro = &r->roles[ROLE_SENTINEL];
  if (r->closing || ro->state == R_CONNECTING)
    return;
  role_forget(ro);
  ro->state = R_DOWN;
  ro->attempt = 0;
  uv_timer_start(&ro->timer, role_timer, 0, 0);
}

/* ---------------------------------------------------------- connecting */

static void role_start(role *ro) {
  sio_redis *r = ro->r;
  sio_redis_target t;
  sio_redis_conn_opts co;
  const sio_redis_conn_handler *h = &role_handler;
  int rv;
  memset(&t, 0, sizeof(t));
  memset(&co, 0, sizeof(co));
  co.connect_timeout_ms = r->o.connect_timeout_ms;
  co.command_timeout_ms = r->o.command_timeout_ms;
  co.max_pending = r->o.max_pending;
  t.tls = r->tls;
  if (ro->which == ROLE_SENTINEL) {
    const sio_redis_node *n = &r->url.nodes[ro->sentinel_idx % r->url.nnodes];
    t.host = n->host;
    t.port = n->port;
    h = &sentinel_handler;
  } else {
    if (sentinel_mode(r)) {
      if (!r->master_host) /* set_master starts the role */
        return;
      t.host = r->master_host;
      t.port = r->master_port;
    } else {
      t.host = r->url.host;
      t.port = r->url.port;
      t.path = r->url.path;
    }
    t.user = r->url.user;
    t.password = r->url.password;
    t.db = r->url.db;
  }
  ro->state = R_CONNECTING;
  rv = sio_redis_conn_open(&ro->rc, &r->net, &t, &co, h, ro);
  if (rv) {
    ro->rc = NULL;
    role_lost(ro, sio_strerror(rv), 0);
    return;
  }
  r->outstanding++;
  /* the deadline covers the role's own handshake too (ROLE, the
   * subscriptions, the PING): a server that accepts and never answers is
   * left at connect_timeout_ms */
  uv_timer_start(&ro->timer, role_timer, r->o.connect_timeout_ms, 0);
}

static void role_timer(uv_timer_t *t) {
  role *ro = t->data;
  if (ro->r->closing)
    return;
  if (ro->state == R_DOWN) {
    if (role_wanted(ro))
      role_start(ro);
  } else if (ro->state == R_CONNECTING) {
    char why[64];
    snprintf(why, sizeof(why), "not ready within %u ms",
             (unsigned)ro->r->o.connect_timeout_ms);
    role_lost(ro, why, 0);
  } else if (ro->state == R_READY && !ro->ping_out) {
    if (send_ping(ro))
      role_lost(ro, "cannot send PING", 0);
  }
}

/* ---------------------------------------------------------------- ops */

static void op_set_handler(void *drv, const sio_pubsub_handler *h, void *ud) {
  sio_redis *r = drv;
  r->h = *h;
  r->ud = ud;
}

static int op_subscribe(void *drv, const char *name, int kind) {
  sio_redis *r = drv;
  role *ro = &r->roles[ROLE_SUB];
  size_t i;
  if (kind < SIO_PUBSUB_CHANNEL || kind > SIO_PUBSUB_SHARD)
    return SIO_ERR_UNSUPPORTED;
  for (i = 0; i < r->nsubs; i++)
    if (r->subs[i].kind == kind && strcmp(r->subs[i].name, name) == 0)
      return 0;
  if (r->nsubs == r->capsubs) {
    size_t ncap = r->capsubs ? r->capsubs * 2 : 8;
    rsub *ns = sio_realloc(r->subs, ncap * sizeof(*ns));
    if (!ns)
      return SIO_ERR_NOMEM;
    r->subs = ns;
    r->capsubs = ncap;
  }
  r->subs[r->nsubs].name = sio_strdup(name);
  if (!r->subs[r->nsubs].name)
    return SIO_ERR_NOMEM;
  r->subs[r->nsubs].kind = kind;
  r->nsubs++;
  /* live now when the subscriber is authenticated; otherwise its
   * handshake sends every subscription */
  if (ro->rc && sio_redis_conn_is_ready(ro->rc)) {
    if (send_subscribe(ro, &r->subs[r->nsubs - 1]))
      role_lost(ro, "cannot subscribe", 0);
    else if (ro->state == R_CONNECTING)
      ro->confirm_left++;
  }
  return 0;
}

static int op_unsubscribe(void *drv, const char *name, int kind) {
  sio_redis *r = drv;
  role *ro = &r->roles[ROLE_SUB];
  size_t i;
  for (i = 0; i < r->nsubs; i++)
    if (r->subs[i].kind == kind && strcmp(r->subs[i].name, name) == 0)
      break;
  if (i == r->nsubs)
    return 0;
  sio_free(r->subs[i].name);
  r->subs[i] = r->subs[--r->nsubs];
  if (ro->state == R_READY) {
    const char *argv[2] = {unsub_cmd[kind], name};
    if (role_send(ro, 2, argv, NULL, NULL, NULL))
      role_lost(ro, "cannot unsubscribe", 0);
  }
  return 0;
}

static int publish_as(sio_redis *r, const char *cmd, const char *channel,
                      const uint8_t *data, size_t len) {
  role *ro = &r->roles[ROLE_PUB];
  const char *argv[3] = {cmd, channel, (const char *)data};
  size_t lens[3] = {strlen(cmd), strlen(channel), len};
  if (ro->state != R_READY)
    return SIO_ERR_CLOSED;
  return role_send(ro, 3, argv, lens, NULL, NULL);
}

static int op_publish(void *drv, const char *channel, const uint8_t *data,
                      size_t len) {
  return publish_as(drv, "PUBLISH", channel, data, len);
}

static int op_spublish(void *drv, const char *channel, const uint8_t *data,
                       size_t len) {
  return publish_as(drv, "SPUBLISH", channel, data, len);
}

static void on_count(void *ud, int status, const redisReply *rep) {
  count_req *q = ud;
  int64_t n = 0;
  if (status)
    status = q->r->closing ? SIO_ERR_CANCELED : status;
  else if (sio_redis_numsub_parse(rep, &n))
    status = SIO_ERR_IO;
  q->cb(q->ud, status, n);
  sio_free(q);
}

static int count_as(sio_redis *r, const char *sub, const char *channel,
                    sio_pubsub_count_cb cb, void *ud) {
  role *ro = &r->roles[ROLE_PUB];
  const char *argv[3] = {"PUBSUB", sub, channel};
  count_req *q;
  int rv;
  if (ro->state != R_READY)
    return SIO_ERR_CLOSED;
  q = sio_malloc(sizeof(*q));
  if (!q)
    return SIO_ERR_NOMEM;
  q->r = r;
  q->cb = cb;
  q->ud = ud;
  rv = role_send(ro, 3, argv, NULL, on_count, q);
  if (rv)
    sio_free(q);
  return rv;
}

static int op_numsub(void *drv, const char *channel, sio_pubsub_count_cb cb,
                     void *ud) {
  return count_as(drv, "NUMSUB", channel, cb, ud);
}

static int op_shardnumsub(void *drv, const char *channel,
                          sio_pubsub_count_cb cb, void *ud) {
  return count_as(drv, "SHARDNUMSUB", channel, cb, ud);
}

/* ------------------------------------------------------------ command */

/* A connection the driver dropped on purpose (the master moved, a PING
 * refused) cancels its commands: for the caller that is a lost
 * connection, unless the driver is closing. */
static void on_cmd_reply(void *ud, int status, const redisReply *rep) {
  cmd_req *q = ud;
  if (status)
    status = q->r->closing               ? SIO_ERR_CANCELED
             : status == SIO_ERR_TIMEOUT ? SIO_ERR_TIMEOUT
                                         : SIO_ERR_IO;
  if (q->cb)
    q->cb(q->ud, status, status ? NULL : rep);
  sio_free(q);
}

/* Fails every command waiting for the blocking connection, in order. The
 * queue is taken first: a callback may queue a new command. */
static void bq_fail(sio_redis *r, int status) {
  sio_queue q;
  sio_queue_init(&q);
  if (sio_queue_empty(&r->bq))
    return;
  /* move the whole list onto q */
  q.next = r->bq.next;
  q.prev = r->bq.prev;
  q.next->prev = &q;
  q.prev->next = &q;
  sio_queue_init(&r->bq);
  r->nbq = 0;
  while (!sio_queue_empty(&q)) {
    cmd_req *k = sio_container_of(sio_queue_head(&q), cmd_req, link);
    sio_queue_remove(&k->link);
    if (k->cb)
      k->cb(k->ud, status, NULL);
    sio_free(k);
  }
}

/* The blocking role went DOWN (role_lost): a new master is connected to
 * at once with what waits; otherwise what waits has failed with the
 * attempt, and the role stays DOWN until the next command. */
static void block_lost(sio_redis *r, int retry_now) {
  role *ro = &r->roles[ROLE_BLOCK];
  if (retry_now && r->nbq) {
    ro->attempt = 0;
    uv_timer_start(&ro->timer, role_timer, 0, 0);
    return;
  }
  bq_fail(r, SIO_ERR_IO);
}

/* READY: the connect deadline is over (no PING follows) and what waited
 * leaves, in order. */
static void block_flush(role *ro) {
  sio_redis *r = ro->r;
  uv_timer_stop(&ro->timer);
  while (!sio_queue_empty(&r->bq) && ro->rc && ro->state == R_READY) {
    cmd_req *k = sio_container_of(sio_queue_head(&r->bq), cmd_req, link);
    sio_queue_remove(&k->link);
    r->nbq--;
    if (sio_redis_conn_command_wait(ro->rc, k->argc, k->argv, k->lens,
                                    k->wait_ms, on_cmd_reply, k)) {
      if (k->cb)
        k->cb(k->ud, SIO_ERR_IO, NULL);
      sio_free(k);
    }
  }
}

/* A request; with copy, its arguments copied after it (for bq). */
static cmd_req *cmd_req_new(sio_redis *r, int argc, const char **argv,
                            const size_t *lens, int copy) {
  cmd_req *q = sio_calloc(
      1, sizeof(*q) + (copy ? sio_redis_argv_bytes(argc, argv, lens) : 0));
  if (!q)
    return NULL;
  q->r = r;
  if (!copy)
    return q;
  q->argc = argc;
  sio_redis_argv_copy(q + 1, argc, argv, lens, &q->argv, &q->lens);
  return q;
}

/* One server: key routes nothing. The publisher must be READY on either
 * lane (a blocking command would otherwise only fail later). */
static int op_command(void *drv, int lane, int argc, const char **argv,
                      const size_t *lens, int key, uint32_t timeout_ms,
                      sio_pubsub_reply_cb cb, void *ud) {
  sio_redis *r = drv;
  role *pub = &r->roles[ROLE_PUB], *ro = &r->roles[ROLE_BLOCK];
  cmd_req *q;
  int rv;
  if (argc < 1 || !argv || key < 0 || key >= argc ||
      (lane != SIO_PUBSUB_LANE_PUB && lane != SIO_PUBSUB_LANE_BLOCKING))
    return SIO_ERR_INVAL;
  if (r->closing || pub->state != R_READY)
    return SIO_ERR_CLOSED;
  if (lane == SIO_PUBSUB_LANE_PUB || (ro->state == R_READY && ro->rc)) {
    role *via = lane == SIO_PUBSUB_LANE_PUB ? pub : ro;
    q = cmd_req_new(r, argc, argv, lens, 0);
    if (!q)
      return SIO_ERR_NOMEM;
    q->cb = cb;
    q->ud = ud;
    rv = via->rc ? sio_redis_conn_command_wait(via->rc, argc, argv, lens,
                                               timeout_ms, on_cmd_reply, q)
                 : SIO_ERR_CLOSED;
    if (rv)
      sio_free(q);
    return rv;
  }
  /* the blocking connection is not up: wait for it */
  if (r->nbq >= r->o.max_pending)
    return SIO_ERR_LIMIT;
  q = cmd_req_new(r, argc, argv, lens, 1);
  if (!q)
    return SIO_ERR_NOMEM;
  q->cb = cb;
  q->ud = ud;
  q->wait_ms = timeout_ms;
  sio_queue_insert_tail(&r->bq, &q->link);
  r->nbq++;
  /* started from the timer, so no callback fires inside this call; after
   * a failed attempt, not before the backoff delay */
  if (ro->state == R_DOWN && !uv_is_active((uv_handle_t *)&ro->timer)) {
    if (ro->attempt == 0 && !ro->failed_once)
      uv_timer_start(&ro->timer, role_timer, 0, 0);
    else
      schedule_retry(ro);
  }
  return 0;
}

static int op_ready(void *drv) { return ((sio_redis *)drv)->ready; }

static uint64_t op_latency_us(void *drv) {
  return ((sio_redis *)drv)->latency_us;
}

static void net_closed(uv_handle_t *h) {
  sio_redis *r = h->data;
  size_t i;
  void (*done)(void *) = r->done;
  void *arg = r->done_arg;
  for (i = 0; i < r->nsubs; i++)
    sio_free(r->subs[i].name);
  sio_free(r->subs);
  sio_free(r->master_host);
  sio_redis_url_clear(&r->url);
  sio_tls_client_ctx_del(r->tls);
  sio_free(r);
  if (done)
    done(arg);
}

static void final_step(sio_redis *r) {
  if (!r->closing || r->outstanding > 0)
    return;
  r->outstanding = -1; /* once */
  r->net.flush.data = r;
  sio_net_close(&r->net, net_closed);
}

static void timer_closed(uv_handle_t *h) {
  role *ro = h->data;
  sio_redis *r = ro->r;
  r->outstanding--;
  final_step(r);
}

static void op_close(void *drv, void (*done)(void *arg), void *arg) {
  sio_redis *r = drv;
  int i;
  if (r->closing)
    return;
  r->closing = 1;
  r->done = done;
  r->done_arg = arg;
  for (i = 0; i < NROLES; i++) {
    role *ro = &r->roles[i];
    role_forget(ro); /* pending commands report SIO_ERR_CANCELED */
    ro->state = R_DOWN;
    uv_timer_stop(&ro->timer);
    uv_close((uv_handle_t *)&ro->timer, timer_closed);
  }
  bq_fail(r, SIO_ERR_CANCELED);
}

const sio_pubsub_ops sio_redis_pubsub_ops = {
    .set_handler = op_set_handler,
    .subscribe = op_subscribe,
    .unsubscribe = op_unsubscribe,
    .publish = op_publish,
    .numsub = op_numsub,
    .spublish = op_spublish,
    .shardnumsub = op_shardnumsub,
    .command = op_command,
    .ready = op_ready,
    .latency_us = op_latency_us,
    .close = op_close,
};

int sio_redis_new(sio_redis **out, uv_loop_t *loop, const char *url,
                  const sio_redis_options *o) {
  sio_redis *r;
  struct sigaction sa;
  int rv, i;
  *out = NULL;
  if (!loop)
    return SIO_ERR_INVAL;
  r = sio_calloc(1, sizeof(*r));
  if (!r)
    return SIO_ERR_NOMEM;
  rv = sio_redis_url_parse(url, &r->url);
  if (rv) {
    sio_free(r);
    return rv;
  }
  if (r->url.topology == SIO_REDIS_CLUSTER) {
    sio_redis_url_clear(&r->url);
    sio_free(r);
    return SIO_ERR_INVAL;
  }
  r->loop = loop;
  if (o)
    r->o = *o;
  if (!r->o.connect_timeout_ms)
    r->o.connect_timeout_ms = 5000;
  if (!r->o.command_timeout_ms)
    r->o.command_timeout_ms = 5000;
  if (!r->o.reconnect_min_ms)
    r->o.reconnect_min_ms = 100;
  if (!r->o.reconnect_max_ms) /* Redis back: reconnected within 0.5 s */
    r->o.reconnect_max_ms = 500;
  if (r->o.reconnect_max_ms < r->o.reconnect_min_ms)
    r->o.reconnect_max_ms = r->o.reconnect_min_ms;
  if (!r->o.max_pending)
    r->o.max_pending = 10000;
  if (!r->o.ping_interval_ms)
    r->o.ping_interval_ms = 5000;
  if (r->url.tls) {
    char err[256];
    rv = sio_tls_client_ctx_new(&r->tls, r->o.tls_ca_file, r->o.tls_cert_file,
                                r->o.tls_key_file, err, sizeof(err));
    if (rv) {
      SIO_LOGE("redis TLS: %s", err);
      sio_redis_url_clear(&r->url);
      sio_free(r);
      return rv;
    }
  }
  r->o.tls_ca_file = r->o.tls_cert_file = r->o.tls_key_file = NULL;
  if (sio_net_init(&r->net, loop)) {
    sio_tls_client_ctx_del(r->tls);
    sio_redis_url_clear(&r->url);
    sio_free(r);
    return SIO_ERR_NOMEM;
  }
  if (sio_random_bytes(&r->rng, sizeof(r->rng)) || !r->rng)
    r->rng = uv_hrtime() | 1;
  /* a write on a connection Redis closed must not kill the process */
  if (sigaction(SIGPIPE, NULL, &sa) == 0 && sa.sa_handler == SIG_DFL)
    signal(SIGPIPE, SIG_IGN);
  sio_queue_init(&r->bq);
  for (i = 0; i < NROLES; i++) {
    role *ro = &r->roles[i];
    ro->r = r;
    ro->which = i;
    ro->state = R_DOWN;
    uv_timer_init(loop, &ro->timer);
    ro->timer.data = ro;
    r->outstanding++;
  }
  if (sentinel_mode(r))
    role_start(&r->roles[ROLE_SENTINEL]);
  role_start(&r->roles[ROLE_SUB]);
  role_start(&r->roles[ROLE_PUB]);
  *out = r;
  return 0;
}

/* ------------------------------------------------- sio_server_use_redis */

static int is_cluster_url(const char *url) {
  return strncmp(url, "redis+cluster://", 16) == 0 ||
         strncmp(url, "rediss+cluster://", 17) == 0;
}

/* With forwarding asked for, the Engine.IO request bus rides on the
 * adapter's driver. Without plain pub/sub (a Cluster's driver) there is
 * none: requests for other instances' sessions stay unknown, as before. */
static void forward_bus(sio_server *s, const sio_pubsub_ops **ops, void **d) {
  int rv;
  if (!sio_server_forwarding(s))
    return;
  rv = sio_engine_bus_wrap(s, ops, d);
  if (rv == SIO_ERR_UNSUPPORTED)
    SIO_LOGW("redis: no sticky-free forwarding over a Redis Cluster (its "
             "driver has sharded pub/sub only); use a sticky balancer");
  else if (rv)
    SIO_LOGE("redis: the forwarding bus: %s", sio_strerror(rv));
}

int sio_server_use_redis_config(sio_server *s, const sio_redis_config *cfg) {
  sio_adapter_redis_config acfg;
  sio_redis_options ro;
  sio_redis *drv;
  int rv;
  if (!s || !cfg || !cfg->url)
    return SIO_ERR_INVAL;
  if (sio_server_has_adapter(s) || sio_server_closing(s))
    return SIO_ERR_STATE;
  /* the classic protocol's PUBLISH/PSUBSCRIBE want one Redis */
  if (cfg->adapter == SIO_REDIS_ADAPTER_CLASSIC && is_cluster_url(cfg->url))
    return SIO_ERR_INVAL;
  memset(&ro, 0, sizeof(ro));
  ro.connect_timeout_ms = cfg->connect_timeout_ms;
  ro.command_timeout_ms = cfg->command_timeout_ms;
  ro.reconnect_min_ms = cfg->reconnect_min_ms;
  ro.reconnect_max_ms = cfg->reconnect_max_ms;
  ro.ping_interval_ms = cfg->ping_interval_ms;
  ro.tls_ca_file = cfg->tls_ca_file;
  ro.tls_cert_file = cfg->tls_cert_file;
  ro.tls_key_file = cfg->tls_key_file;
  if (cfg->adapter == SIO_REDIS_ADAPTER_SHARDED ||
      cfg->adapter == SIO_REDIS_ADAPTER_STREAMS) {
    sio_adapter_sharded_config scfg;
    sio_adapter_streams_config stcfg;
    const sio_pubsub_ops *ops = &sio_redis_pubsub_ops;
    void *d;
    if (is_cluster_url(cfg->url)) {
      sio_redis_cluster *k;
      rv = sio_redis_cluster_new(&k, sio_server_loop(s), cfg->url, &ro);
      ops = &sio_redis_cluster_pubsub_ops;
      d = k;
    } else {
      rv = sio_redis_new(&drv, sio_server_loop(s), cfg->url, &ro);
      d = drv;
    }
    if (rv)
      return rv;
    forward_bus(s, &ops, &d);
    memset(&scfg, 0, sizeof(scfg));
    scfg.key = cfg->key;
    scfg.requests_timeout_ms = cfg->requests_timeout_ms;
    if (cfg->adapter == SIO_REDIS_ADAPTER_STREAMS) {
      /* the stream is named by the key, as streamName and channelPrefix
       * both default to "socket.io"; a Cluster takes sharded pub/sub */
      memset(&stcfg, 0, sizeof(stcfg));
      stcfg.stream = cfg->key;
      scfg.streams = &stcfg;
      scfg.sharded_pubsub = is_cluster_url(cfg->url);
    }
    return sio_adapter_sharded_install(s, ops, d, &scfg);
  }
  if (cfg->adapter != SIO_REDIS_ADAPTER_CLASSIC)
    return SIO_ERR_INVAL;
  rv = sio_redis_new(&drv, sio_server_loop(s), cfg->url, &ro);
  if (rv)
    return rv;
  {
    const sio_pubsub_ops *ops = &sio_redis_pubsub_ops;
    void *d = drv;
    forward_bus(s, &ops, &d);
    acfg.key = cfg->key;
    acfg.requests_timeout_ms = cfg->requests_timeout_ms;
    return sio_adapter_redis_install(s, ops, d, &acfg);
  }
}

int sio_server_use_redis(sio_server *s, const char *url, const char *key) {
  sio_redis_config cfg;
  memset(&cfg, 0, sizeof(cfg));
  cfg.url = url;
  cfg.key = key;
  return sio_server_use_redis_config(s, &cfg);
}
