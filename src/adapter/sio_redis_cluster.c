/* sio_redis_cluster.c: sharded pub/sub on a Redis Cluster.
 *
 * The driver does not run one state machine per connection; it keeps
 * what should be (every subscription confirmed at its slot's owner) and
 * reconciles what is with it, from one timer: after every event that can
 * change either (a map loaded, a connection ready or lost, a subscription
 * added, an sunsubscribe from a server) and every tick. Each connection
 * (a link: a node's subscriber, a node's publisher, or the control link
 * that asks for the slot map) is a sio_redis_conn opened when needed and
 * retried after a capped exponential backoff when it fails; a link
 * whose node owns nothing we need is closed.
 *
 * Subscription states: UNSENT (to be sent to its owner's subscriber),
 * SENT (SSUBSCRIBE out), CONFIRMED. A subscription whose slot moved to
 * another owner is unsubscribed at the old one (if still connected) and
 * sent again at the new one; the driver is ready when the map is known
 * and every subscription CONFIRMED.
 *
 * Publishing copies channel and payload into a request that lives until
 * the reply: MOVED and ASK replies resend it (ASK with ASKING first) to
 * the node they name, at most three times.
 *
 * Commands (the command op) go to the master owning their key's slot (key
 * 0: any master of the map), on the node's publisher (LANE_PUB) or on a
 * third per-node link of their own (LANE_BLOCKING: opened on first use,
 * never PINGed, so that an XREAD BLOCK holds up nothing and nothing is
 * timed behind it but its own wait plus the command timeout). A command
 * request keeps a copy of its arguments: MOVED updates the slot's owner
 * in the map (and asks for a refresh) and resends it there, ASK resends it
 * with ASKING first to the importing node, at most CMD_MAX_REDIRECTS
 * times, after which the last error reply is delivered. Before its link
 * is authenticated a command waits in the sio_redis_conn (max_pending
 * long) and fails with it (SIO_ERR_IO). */
#include "sio_redis_cluster.h"

#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "sio_conn.h"
#include "sio_crypto.h"
#include "sio_int.h"
#include "sio_log.h"
#include "sio_mem.h"
#include "sio_redis_conn.h"
#include "sio_redis_reply.h"
#include "sio_redis_url.h"
#include "sio_tls.h"

#define NSLOTS SIO_REDIS_NSLOTS
#define MAX_REDIRECTS 3
#define CMD_MAX_REDIRECTS 5
/* the map is read again this often even when nothing says it changed */
#define REFRESH_INTERVAL_MS 5000

enum { L_SUB, L_PUB, L_CONTROL, L_BLOCK };
enum { S_UNSENT, S_SENT, S_CONFIRMED };

typedef struct cnode cnode;

typedef struct link {
  sio_redis_cluster *k;
  cnode *node; /* NULL: the control link */
  int which;
  sio_redis_conn *rc;
  int ready; /* authenticated */
  unsigned attempt;
  uint64_t retry_at; /* uv_now() before which no new connection */
  int ping_out;
  uint64_t ping_sent_ns;
} link;

struct cnode {
  char *host;
  int port;
  int in_map;   /* owns slots in the current map */
  size_t nsubs; /* subscriptions placed here (SENT or CONFIRMED) */
  link sub, pub, blk;
};

typedef struct csub {
  char *name;
  unsigned slot;
  int state;
  cnode *node;       /* where it is SENT or CONFIRMED */
  uint64_t sent_seq; /* order of the SSUBSCRIBEs sent */
  int fresh;         /* added while ready and never confirmed yet: a room's
                        channel being placed does not make the driver unready */
} csub;

struct sio_redis_cluster {
  uv_loop_t *loop;
  sio_net net;
  sio_tls_client_ctx *tls;
  sio_redis_url url;
  sio_redis_options o;
  uv_timer_t tick;
  cnode **nodes;
  size_t nnodes;
  cnode *slots[NSLOTS]; /* NULL: not covered, or no map yet */
  int have_map;
  link control;
  cnode *control_node; /* where the control link is, NULL: a seed */
  size_t next_seed;
  int refreshing;     /* CLUSTER SLOTS in flight */
  int refresh_wanted; /* ask again once the answer is in */
  uint64_t last_refresh;
  uint64_t next_ping;
  csub *subs;
  size_t nsubs, capsubs;
  uint64_t sub_seq;
  sio_pubsub_handler h;
  void *ud;
  int ready;
  int closing;
  int outstanding; /* connections not freed + the timer */
  void (*done)(void *arg);
  void *done_arg;
  uint64_t rng;
  uint64_t latency_us;
};

typedef struct pubreq {
  sio_redis_cluster *k;
  int redirects;
  int is_count;
  sio_pubsub_count_cb cb; /* is_count */
  void *ud;
  size_t chanlen, len;
  char buf[]; /* channel, NUL, payload */
} pubreq;

/* A command op call until its callback; argv/lens/bytes follow it. */
typedef struct cmdreq {
  sio_redis_cluster *k;
  int redirects;
  int lane;
  uint32_t wait_ms;
  sio_pubsub_reply_cb cb;
  void *ud;
  int argc;
  const char **argv;
  size_t *lens;
} cmdreq;

static void kick(sio_redis_cluster *k);
static void final_step(sio_redis_cluster *k);
static void request_refresh(sio_redis_cluster *k);

/* ---------------------------------------------------------------- slots */

unsigned sio_redis_key_slot(const char *key, size_t len) {
  const char *p = key;
  size_t n = len, i;
  unsigned crc = 0;
  const char *open = memchr(key, '{', len);
  if (open) {
    const char *close = memchr(open + 1, '}', len - (size_t)(open + 1 - key));
    if (close && close > open + 1) {
      p = open + 1;
      n = (size_t)(close - p);
    }
  }
  for (i = 0; i < n; i++) { /* CRC16-XMODEM, polynomial 0x1021 */
    int b;
    crc ^= (unsigned)(uint8_t)p[i] << 8;
    for (b = 0; b < 8; b++)
      crc = crc & 0x8000 ? (crc << 1) ^ 0x1021 : crc << 1;
    crc &= 0xffff;
  }
  return crc % NSLOTS;
}

/* ---------------------------------------------------------------- nodes */

static cnode *node_find(sio_redis_cluster *k, const char *host, size_t hostlen,
                        int port, int create) {
  cnode *n, **nn;
  size_t i;
  for (i = 0; i < k->nnodes; i++)
    if (k->nodes[i]->port == port && strlen(k->nodes[i]->host) == hostlen &&
        memcmp(k->nodes[i]->host, host, hostlen) == 0)
      return k->nodes[i];
  if (!create)
    return NULL;
  nn = sio_realloc(k->nodes, (k->nnodes + 1) * sizeof(*nn));
  if (!nn)
    return NULL;
  k->nodes = nn;
  n = sio_calloc(1, sizeof(*n));
  if (!n)
    return NULL;
  n->host = sio_strndup(host, hostlen);
  if (!n->host) {
    sio_free(n);
    return NULL;
  }
  n->port = port;
  n->sub.k = n->pub.k = n->blk.k = k;
  n->sub.node = n->pub.node = n->blk.node = n;
  n->sub.which = L_SUB;
  n->pub.which = L_PUB;
  n->blk.which = L_BLOCK;
  k->nodes[k->nnodes++] = n;
  return n;
}

static uint64_t rng_next(sio_redis_cluster *k) {
  k->rng ^= k->rng >> 12;
  k->rng ^= k->rng << 25;
  k->rng ^= k->rng >> 27;
  return k->rng * 2685821657736338717ull;
}

static uint64_t backoff(sio_redis_cluster *k, unsigned attempt) {
  uint64_t d = k->o.reconnect_min_ms;
  unsigned i;
  for (i = 0; i < attempt && d < k->o.reconnect_max_ms; i++)
    d *= 2;
  if (d > k->o.reconnect_max_ms)
    d = k->o.reconnect_max_ms;
  return d / 2 + (d > 1 ? rng_next(k) % (d / 2 + 1) : 0);
}

static void update_ready(sio_redis_cluster *k) {
  size_t i;
  int ready = k->have_map && !k->closing;
  for (i = 0; i < k->nsubs && ready; i++)
    if (k->subs[i].state != S_CONFIRMED && !k->subs[i].fresh)
      ready = 0;
  if (ready == k->ready || k->closing)
    return;
  k->ready = ready;
  if (ready)
    SIO_LOGI("redis cluster: subscriptions in place");
  if (k->h.state)
    k->h.state(k->ud, ready);
}

/* Subscriptions placed on node n go back to UNSENT (its link is gone). */
static void unplace_subs(sio_redis_cluster *k, cnode *n) {
  size_t i;
  for (i = 0; i < k->nsubs; i++)
    if (k->subs[i].node == n) {
      k->subs[i].node = NULL;
      k->subs[i].state = S_UNSENT;
    }
  n->nsubs = 0;
}

static void link_forget(link *l) {
  sio_redis_conn *rc = l->rc;
  l->rc = NULL;
  l->ready = 0;
  l->ping_out = 0;
  sio_redis_conn_close(rc);
  if (l->which == L_SUB && l->node)
    unplace_subs(l->k, l->node);
}

static const char *link_name(const link *l) {
  return l->which == L_SUB     ? "subscriber"
         : l->which == L_PUB   ? "publisher"
         : l->which == L_BLOCK ? "blocking"
                               : "control";
}

static void link_failed(link *l, const char *why) {
  sio_redis_cluster *k = l->k;
  int was_ready = l->ready;
  link_forget(l);
  if (k->closing)
    return;
  if (was_ready || l->attempt == 0)
    SIO_LOGW("redis cluster %s %s:%d: %s", link_name(l),
             l->node ? l->node->host : "-", l->node ? l->node->port : 0, why);
  l->retry_at = uv_now(k->loop) + backoff(k, l->attempt);
  l->attempt++;
  if (l->which == L_CONTROL) {
    k->refreshing = 0;
    k->refresh_wanted = 1;
    k->control_node = NULL;
    k->next_seed++;
  } else {
    request_refresh(k); /* the node may be gone */
  }
  update_ready(k);
  kick(k);
}

/* ------------------------------------------------------- link handlers */

static void on_link_ready(void *ud, sio_redis_conn *c) {
  link *l = ud;
  (void)c;
  l->ready = 1;
  l->attempt = 0;
  kick(l->k);
}

static void on_link_lost(void *ud, sio_redis_conn *c, int status,
                         const char *why) {
  link *l = ud;
  (void)status;
  if (l->rc != c)
    return;
  l->rc = NULL;
  link_failed(l, why);
}

static void on_link_freed(void *ud) {
  link *l = ud;
  l->k->outstanding--;
  final_step(l->k);
}

static csub *sub_find(sio_redis_cluster *k, const char *name, size_t len) {
  size_t i;
  for (i = 0; i < k->nsubs; i++)
    if (strlen(k->subs[i].name) == len &&
        memcmp(k->subs[i].name, name, len) == 0)
      return &k->subs[i];
  return NULL;
}

static void on_push(void *ud, sio_redis_conn *c, const redisReply *rep) {
  link *l = ud;
  sio_redis_cluster *k = l->k;
  sio_redis_push p;
  (void)c;
  if (k->closing || sio_redis_push_parse(rep, &p))
    return;
  if (p.kind == SIO_REDIS_PUSH_SMESSAGE) {
    if (k->h.message)
      k->h.message(k->ud, NULL, p.channel, (const uint8_t *)p.payload,
                   p.payload_len);
  } else if (p.kind == SIO_REDIS_PUSH_SUNSUBSCRIBE) {
    /* the slot migrated away: place it again once the map says where */
    csub *s = sub_find(k, p.channel, p.channel_len);
    if (s && s->node == l->node) {
      SIO_LOGI("redis cluster: %s moved away from %s:%d", s->name,
               l->node->host, l->node->port);
      s->node->nsubs--;
      s->node = NULL;
      s->state = S_UNSENT;
      request_refresh(k);
      update_ready(k);
      kick(k);
    }
  }
}

static const sio_redis_conn_handler link_handler = {
    .ready = on_link_ready,
    .push = on_push,
    .lost = on_link_lost,
    .freed = on_link_freed,
};

/* Opens l's connection to host:port when its backoff allows. */
static void link_open(link *l, const char *host, int port) {
  sio_redis_cluster *k = l->k;
  sio_redis_target t;
  sio_redis_conn_opts co;
  if (l->rc || k->closing || uv_now(k->loop) < l->retry_at)
    return;
  memset(&t, 0, sizeof(t));
  memset(&co, 0, sizeof(co));
  t.host = host;
  t.port = port;
  t.tls = k->tls;
  t.user = k->url.user;
  t.password = k->url.password;
  co.connect_timeout_ms = k->o.connect_timeout_ms;
  co.command_timeout_ms = k->o.command_timeout_ms;
  co.max_pending = k->o.max_pending;
  if (sio_redis_conn_open(&l->rc, &k->net, &t, &co, &link_handler, l)) {
    l->rc = NULL;
    l->retry_at = uv_now(k->loop) + backoff(k, l->attempt++);
    return;
  }
  k->outstanding++;
}

/* --------------------------------------------------------- the slot map */

static void on_slots(void *ud, int status, const redisReply *rep) {
  link *l = ud;
  sio_redis_cluster *k = l->k;
  sio_redis_slot_map *m;
  cnode **owner;
  size_t i;
  int rv;
  if (status || k->closing)
    return; /* lost: link_failed asks again */
  k->refreshing = 0;
  k->last_refresh = uv_now(k->loop);
  rv = sio_redis_slots_parse(rep, &m);
  if (rv == SIO_ERR_NOTFOUND) {
    SIO_LOGW("redis cluster: CLUSTER SLOTS: %s",
             sio_redis_reply_str(rep) ? sio_redis_reply_str(rep) : "no slots");
    link_failed(l, "no slot map");
    return;
  }
  owner = rv ? NULL : sio_calloc(m->nowners, sizeof(*owner));
  for (i = 0; owner && i < m->nowners; i++) {
    const sio_redis_addr *a = &m->owners[i];
    const char *host = a->host;
    size_t hostlen = a->hostlen;
    if (!host) { /* the node asked */
      host = k->control_node ? k->control_node->host
                             : k->url.nodes[k->next_seed % k->url.nnodes].host;
      hostlen = strlen(host);
    }
    owner[i] = node_find(k, host, hostlen, a->port, 1);
    if (!owner[i]) {
      sio_free(owner);
      owner = NULL;
    }
  }
  if (!owner) {
    sio_redis_slot_map_free(m);
    link_failed(l, "the slot map does not parse");
    return;
  }
  for (i = 0; i < k->nnodes; i++)
    k->nodes[i]->in_map = 0;
  for (i = 0; i < NSLOTS; i++) {
    k->slots[i] = m->slot[i] == SIO_REDIS_SLOT_NONE ? NULL : owner[m->slot[i]];
    if (k->slots[i])
      k->slots[i]->in_map = 1;
  }
  sio_free(owner);
  sio_redis_slot_map_free(m);
  if (!k->have_map)
    SIO_LOGI("redis cluster: slot map loaded (%zu nodes)", k->nnodes);
  k->have_map = 1;
  kick(k);
}

static void request_refresh(sio_redis_cluster *k) {
  k->refresh_wanted = 1;
  if (!k->refreshing)
    kick(k);
}

/* Asks for the map on the control link, opening it first if needed (at a
 * node of the current map, else at the next seed). */
static void refresh(sio_redis_cluster *k) {
  static const char *const argv[2] = {"CLUSTER", "SLOTS"};
  link *l = &k->control;
  if (k->refreshing)
    return;
  if (!l->rc) {
    cnode *pick = NULL;
    size_t i;
    for (i = 0; i < k->nnodes && !pick; i++)
      if (k->nodes[(i + k->next_seed) % k->nnodes]->in_map)
        pick = k->nodes[(i + k->next_seed) % k->nnodes];
    k->control_node = pick;
    if (pick)
      link_open(l, pick->host, pick->port);
    else {
      const sio_redis_node *s = &k->url.nodes[k->next_seed % k->url.nnodes];
      link_open(l, s->host, s->port);
    }
    if (!l->rc)
      return;
  }
  if (sio_redis_conn_command(l->rc, 2, (const char **)argv, NULL, on_slots,
                             l) == 0) {
    k->refreshing = 1;
    k->refresh_wanted = 0;
  }
}

/* ------------------------------------------------------- subscriptions */

static void on_ssubscribed(void *ud, int status, const redisReply *rep) {
  link *l = ud;
  sio_redis_cluster *k = l->k;
  csub *s = NULL;
  size_t i;
  if (status || k->closing)
    return;
  if (rep->type == REDIS_REPLY_ARRAY && rep->elements >= 2 &&
      rep->element[1]->type == REDIS_REPLY_STRING) {
    /* ["ssubscribe", channel, count]; a channel unsubscribed meanwhile is
     * not found */
    s = sub_find(k, rep->element[1]->str, rep->element[1]->len);
    if (s && s->node == l->node && s->state == S_SENT) {
      s->state = S_CONFIRMED;
      s->fresh = 0;
    }
  } else if (rep->type == REDIS_REPLY_ERROR) {
    /* replies come in order: the error is the oldest one sent here */
    for (i = 0; i < k->nsubs; i++) {
      csub *c = &k->subs[i];
      if (c->node == l->node && c->state == S_SENT &&
          (!s || c->sent_seq < s->sent_seq))
        s = c;
    }
    if (s) {
      SIO_LOGD("redis cluster: SSUBSCRIBE %s: %s", s->name, rep->str);
      s->node->nsubs--;
      s->node = NULL;
      s->state = S_UNSENT;
      request_refresh(k); /* MOVED, ASK, CLUSTERDOWN: the map is stale */
    }
  }
  update_ready(k);
  kick(k);
}

static int send_ssubscribe(link *l, csub *s) {
  const char *argv[2] = {"SSUBSCRIBE", s->name};
  return sio_redis_conn_command(l->rc, 2, argv, NULL, on_ssubscribed, l);
}

static void send_sunsubscribe(cnode *n, const char *name) {
  const char *argv[2] = {"SUNSUBSCRIBE", name};
  if (n->sub.rc && n->sub.ready)
    sio_redis_conn_command(n->sub.rc, 2, argv, NULL, NULL, NULL);
}

/* ---------------------------------------------------------- reconcile */

static void pings(sio_redis_cluster *k);

static void reconcile(sio_redis_cluster *k) {
  size_t i;
  if (k->closing)
    return;
  if (!k->have_map || k->refresh_wanted ||
      uv_now(k->loop) - k->last_refresh >= REFRESH_INTERVAL_MS)
    refresh(k);
  if (!k->have_map)
    return;
  for (i = 0; i < k->nsubs; i++) {
    csub *s = &k->subs[i];
    cnode *owner = k->slots[s->slot];
    if (s->node && s->node != owner) { /* the slot changed hands */
      send_sunsubscribe(s->node, s->name);
      s->node->nsubs--;
      s->node = NULL;
      s->state = S_UNSENT;
    }
    if (s->state != S_UNSENT || !owner)
      continue;
    if (!owner->sub.rc)
      link_open(&owner->sub, owner->host, owner->port);
    if (!owner->sub.rc || !owner->sub.ready)
      continue;
    if (send_ssubscribe(&owner->sub, s) == 0) {
      s->state = S_SENT;
      s->sent_seq = ++k->sub_seq;
      s->node = owner;
      owner->nsubs++;
    }
  }
  /* links no longer needed */
  for (i = 0; i < k->nnodes; i++) {
    cnode *n = k->nodes[i];
    if (n->sub.rc && n->nsubs == 0 && !n->in_map)
      link_forget(&n->sub);
    /* (a redirected publish may still wait on one) */
    if (n->pub.rc && !n->in_map && !sio_redis_conn_pending(n->pub.rc))
      link_forget(&n->pub);
    if (n->blk.rc && !n->in_map && !sio_redis_conn_pending(n->blk.rc))
      link_forget(&n->blk);
  }
  update_ready(k);
  pings(k);
}

static void on_tick(uv_timer_t *t) {
  sio_redis_cluster *k = t->data;
  reconcile(k);
  if (!k->closing)
    uv_timer_start(&k->tick, on_tick, k->have_map ? 250 : 100, 0);
}

/* Reconciles soon (coalesced: once per loop iteration). */
static void kick(sio_redis_cluster *k) {
  if (!k->closing)
    uv_timer_start(&k->tick, on_tick, 0, 0);
}

/* --------------------------------------------------------------- pings */

static void on_pong(void *ud, int status, const redisReply *rep) {
  link *l = ud;
  (void)rep;
  if (status || l->k->closing)
    return;
  l->ping_out = 0;
  if (l->which == L_CONTROL) {
    uint64_t us = (uv_hrtime() - l->ping_sent_ns) / 1000;
    l->k->latency_us = us ? us : 1;
  }
}

static void ping_link(link *l) {
  static const char *const argv[1] = {"PING"};
  if (!l->rc || !l->ready || l->ping_out)
    return;
  if (sio_redis_conn_command(l->rc, 1, (const char **)argv, NULL, on_pong, l) ==
      0) {
    l->ping_out = 1;
    l->ping_sent_ns = uv_hrtime();
  }
}

/* A PING on every idle link each ping interval: a node that stopped
 * answering is dropped by the command deadline. */
static void pings(sio_redis_cluster *k) {
  size_t i;
  uint64_t now = uv_now(k->loop);
  if (now < k->next_ping)
    return;
  k->next_ping = now + k->o.ping_interval_ms;
  ping_link(&k->control);
  for (i = 0; i < k->nnodes; i++) {
    ping_link(&k->nodes[i]->sub);
    ping_link(&k->nodes[i]->pub);
  }
}

/* ----------------------------------------------------------- publishing */

static int send_req(sio_redis_cluster *k, cnode *n, pubreq *q, int asking);

static void on_published(void *ud, int status, const redisReply *rep) {
  pubreq *q = ud;
  sio_redis_cluster *k = q->k;
  if (!status && rep->type == REDIS_REPLY_ERROR && !k->closing &&
      q->redirects < MAX_REDIRECTS) {
    sio_redis_redirect to;
    int rv = sio_redis_redirect_parse(rep->str, &to);
    cnode *n =
        rv ? NULL
           : node_find(k, to.addr.host, to.addr.hostlen, to.addr.port, 1);
    if (to.kind == SIO_REDIS_REDIRECT_MOVED)
      request_refresh(k);
    if (n) {
      q->redirects++;
      if (send_req(k, n, q, to.kind == SIO_REDIS_REDIRECT_ASK) == 0)
        return; /* q lives on */
    }
  }
  if (q->is_count) {
    int64_t count = 0;
    int st = status ? (k->closing ? SIO_ERR_CANCELED : status) : 0;
    if (!st && sio_redis_numsub_parse(rep, &count))
      st = SIO_ERR_IO;
    q->cb(q->ud, st, count);
  } else if (!status && rep->type == REDIS_REPLY_ERROR) {
    SIO_LOGD("redis cluster: SPUBLISH: %s", rep->str);
  }
  sio_free(q);
}

static int send_req(sio_redis_cluster *k, cnode *n, pubreq *q, int asking) {
  static const char *const ask_argv[1] = {"ASKING"};
  const char *argv[3];
  size_t lens[3];
  int argc, rv;
  if (!n->pub.rc)
    link_open(&n->pub, n->host, n->port);
  if (!n->pub.rc)
    return SIO_ERR_CLOSED;
  if (asking &&
      (rv = sio_redis_conn_command(n->pub.rc, 1, (const char **)ask_argv, NULL,
                                   NULL, NULL)) != 0)
    return rv;
  if (q->is_count) {
    argv[0] = "PUBSUB";
    argv[1] = "SHARDNUMSUB";
    argv[2] = q->buf;
    lens[0] = 6;
    lens[1] = 11;
    lens[2] = q->chanlen;
    argc = 3;
  } else {
    argv[0] = "SPUBLISH";
    argv[1] = q->buf;
    argv[2] = q->buf + q->chanlen + 1;
    lens[0] = 8;
    lens[1] = q->chanlen;
    lens[2] = q->len;
    argc = 3;
  }
  return sio_redis_conn_command(n->pub.rc, argc, argv, lens, on_published, q);
}

static int submit(sio_redis_cluster *k, const char *channel,
                  const uint8_t *data, size_t len, int is_count,
                  sio_pubsub_count_cb cb, void *ud) {
  size_t cl = strlen(channel);
  cnode *n;
  pubreq *q;
  int rv;
  if (k->closing || !k->have_map)
    return SIO_ERR_CLOSED;
  n = k->slots[sio_redis_key_slot(channel, cl)];
  if (!n)
    return SIO_ERR_CLOSED;
  q = sio_malloc(sizeof(*q) + cl + 1 + len);
  if (!q)
    return SIO_ERR_NOMEM;
  q->k = k;
  q->redirects = 0;
  q->is_count = is_count;
  q->cb = cb;
  q->ud = ud;
  q->chanlen = cl;
  q->len = len;
  memcpy(q->buf, channel, cl + 1);
  if (len)
    memcpy(q->buf + cl + 1, data, len);
  rv = send_req(k, n, q, 0);
  if (rv)
    sio_free(q);
  return rv;
}

/* ------------------------------------------------------------ commands */

static int send_cmd(sio_redis_cluster *k, cnode *n, cmdreq *q, int asking);

static void on_cmd_reply(void *ud, int status, const redisReply *rep) {
  cmdreq *q = ud;
  sio_redis_cluster *k = q->k;
  if (!status && rep->type == REDIS_REPLY_ERROR && !k->closing &&
      q->redirects < CMD_MAX_REDIRECTS) {
    sio_redis_redirect to;
    cnode *n = NULL;
    if (sio_redis_redirect_parse(rep->str, &to) == 0) {
      n = node_find(k, to.addr.host, to.addr.hostlen, to.addr.port, 1);
      if (n && to.kind == SIO_REDIS_REDIRECT_MOVED && to.slot < NSLOTS) {
        /* the node says so: later commands go there at once */
        k->slots[to.slot] = n;
        n->in_map = 1;
        request_refresh(k);
      }
    }
    if (n) {
      q->redirects++;
      if (send_cmd(k, n, q, to.kind == SIO_REDIS_REDIRECT_ASK) == 0)
        return; /* q lives on */
      status = SIO_ERR_IO; /* the node named cannot be reached */
    }
  }
  /* a link the driver dropped cancels: lost, for the caller */
  if (status)
    status = k->closing                 ? SIO_ERR_CANCELED
             : status == SIO_ERR_TIMEOUT ? SIO_ERR_TIMEOUT
                                         : SIO_ERR_IO;
  if (q->cb)
    q->cb(q->ud, status, status ? NULL : rep);
  sio_free(q);
}

/* Sends q on its lane's link at n (opened if needed; it waits in the
 * sio_redis_conn until authenticated); ASKING first when asked to. */
static int send_cmd(sio_redis_cluster *k, cnode *n, cmdreq *q, int asking) {
  static const char *const ask_argv[1] = {"ASKING"};
  link *l = q->lane == SIO_PUBSUB_LANE_BLOCKING ? &n->blk : &n->pub;
  int rv;
  if (!l->rc)
    link_open(l, n->host, n->port);
  if (!l->rc)
    return SIO_ERR_CLOSED;
  /* two slots: ASKING must be the command just before q's on the link */
  if (asking && sio_redis_conn_pending(l->rc) + 2 > k->o.max_pending)
    return SIO_ERR_LIMIT;
  if (asking &&
      (rv = sio_redis_conn_command(l->rc, 1, (const char **)ask_argv, NULL,
                                   NULL, NULL)) != 0)
    return rv;
  return sio_redis_conn_command_wait(l->rc, q->argc, q->argv, q->lens,
                                     q->wait_ms, on_cmd_reply, q);
}

/* key 0: a master of the map, the first found from a rotating start. */
static cnode *any_master(sio_redis_cluster *k) {
  size_t i;
  for (i = 0; i < k->nnodes; i++) {
    cnode *n = k->nodes[(i + k->next_seed) % k->nnodes];
    if (n->in_map)
      return n;
  }
  return NULL;
}

static int op_command(void *drv, int lane, int argc, const char **argv,
                      const size_t *lens, int key, uint32_t timeout_ms,
                      sio_pubsub_reply_cb cb, void *ud) {
  sio_redis_cluster *k = drv;
  cnode *n;
  cmdreq *q;
  int rv;
  if (argc < 1 || !argv || key < 0 || key >= argc ||
      (lane != SIO_PUBSUB_LANE_PUB && lane != SIO_PUBSUB_LANE_BLOCKING))
    return SIO_ERR_INVAL;
  if (k->closing || !k->have_map)
    return SIO_ERR_CLOSED;
  if (key)
    n = k->slots[sio_redis_key_slot(argv[key], lens ? lens[key]
                                                    : strlen(argv[key]))];
  else
    n = any_master(k);
  if (!n)
    return SIO_ERR_CLOSED; /* the slot is not covered */
  q = sio_malloc(sizeof(*q) + sio_redis_argv_bytes(argc, argv, lens));
  if (!q)
    return SIO_ERR_NOMEM;
  q->k = k;
  q->redirects = 0;
  q->lane = lane;
  q->wait_ms = timeout_ms;
  q->cb = cb;
  q->ud = ud;
  q->argc = argc;
  sio_redis_argv_copy(q + 1, argc, argv, lens, &q->argv, &q->lens);
  rv = send_cmd(k, n, q, 0);
  if (rv)
    sio_free(q);
  return rv;
}

/* ---------------------------------------------------------------- ops */

static void op_set_handler(void *drv, const sio_pubsub_handler *h, void *ud) {
  sio_redis_cluster *k = drv;
  k->h = *h;
  k->ud = ud;
}

static int op_subscribe(void *drv, const char *name, int kind) {
  sio_redis_cluster *k = drv;
  size_t len = strlen(name);
  csub *s;
  if (kind != SIO_PUBSUB_SHARD)
    return SIO_ERR_UNSUPPORTED;
  if (sub_find(k, name, len))
    return 0;
  if (k->nsubs == k->capsubs) {
    size_t ncap = k->capsubs ? k->capsubs * 2 : 8;
    csub *ns = sio_realloc(k->subs, ncap * sizeof(*ns));
    if (!ns)
      return SIO_ERR_NOMEM;
    k->subs = ns;
    k->capsubs = ncap;
  }
  s = &k->subs[k->nsubs];
  s->name = sio_strdup(name);
  if (!s->name)
    return SIO_ERR_NOMEM;
  s->slot = sio_redis_key_slot(name, len);
  s->state = S_UNSENT;
  s->node = NULL;
  s->fresh = k->ready;
  k->nsubs++;
  update_ready(k);
  kick(k);
  return 0;
}

static int op_unsubscribe(void *drv, const char *name, int kind) {
  sio_redis_cluster *k = drv;
  csub *s;
  size_t i;
  if (kind != SIO_PUBSUB_SHARD)
    return 0;
  s = sub_find(k, name, strlen(name));
  if (!s)
    return 0;
  if (s->node) {
    send_sunsubscribe(s->node, s->name);
    s->node->nsubs--;
  }
  i = (size_t)(s - k->subs);
  sio_free(s->name);
  k->subs[i] = k->subs[--k->nsubs];
  /* a SENT one moved: its confirmation still matches by node and state */
  update_ready(k);
  kick(k);
  return 0;
}

static int op_spublish(void *drv, const char *channel, const uint8_t *data,
                       size_t len) {
  return submit(drv, channel, data, len, 0, NULL, NULL);
}

static int op_shardnumsub(void *drv, const char *channel,
                          sio_pubsub_count_cb cb, void *ud) {
  return submit(drv, channel, NULL, 0, 1, cb, ud);
}

static int op_ready(void *drv) { return ((sio_redis_cluster *)drv)->ready; }

static uint64_t op_latency_us(void *drv) {
  return ((sio_redis_cluster *)drv)->latency_us;
}

static void net_closed(uv_handle_t *h) {
  sio_redis_cluster *k = h->data;
  void (*done)(void *) = k->done;
  void *arg = k->done_arg;
  size_t i;
  for (i = 0; i < k->nsubs; i++)
    sio_free(k->subs[i].name);
  sio_free(k->subs);
  for (i = 0; i < k->nnodes; i++) {
    sio_free(k->nodes[i]->host);
    sio_free(k->nodes[i]);
  }
  sio_free(k->nodes);
  sio_redis_url_clear(&k->url);
  sio_tls_client_ctx_del(k->tls);
  sio_free(k);
  if (done)
    done(arg);
}

static void final_step(sio_redis_cluster *k) {
  if (!k->closing || k->outstanding > 0)
    return;
  k->outstanding = -1;
  k->net.flush.data = k;
  sio_net_close(&k->net, net_closed);
}

static void tick_closed(uv_handle_t *h) {
  sio_redis_cluster *k = h->data;
  k->outstanding--;
  final_step(k);
}

static void op_close(void *drv, void (*done)(void *arg), void *arg) {
  sio_redis_cluster *k = drv;
  size_t i;
  if (k->closing)
    return;
  k->closing = 1;
  k->done = done;
  k->done_arg = arg;
  link_forget(&k->control);
  for (i = 0; i < k->nnodes; i++) {
    link_forget(&k->nodes[i]->sub);
    link_forget(&k->nodes[i]->pub);
    link_forget(&k->nodes[i]->blk); /* commands: SIO_ERR_CANCELED */
  }
  uv_timer_stop(&k->tick);
  uv_close((uv_handle_t *)&k->tick, tick_closed);
}

const sio_pubsub_ops sio_redis_cluster_pubsub_ops = {
    .set_handler = op_set_handler,
    .subscribe = op_subscribe,
    .unsubscribe = op_unsubscribe,
    .spublish = op_spublish,
    .shardnumsub = op_shardnumsub,
    .command = op_command,
    .ready = op_ready,
    .latency_us = op_latency_us,
    .close = op_close,
};

int sio_redis_cluster_new(sio_redis_cluster **out, uv_loop_t *loop,
                          const char *url, const sio_redis_options *o) {
  sio_redis_cluster *k;
  struct sigaction sa;
  int rv;
  *out = NULL;
  if (!loop)
    return SIO_ERR_INVAL;
  k = sio_calloc(1, sizeof(*k));
  if (!k)
    return SIO_ERR_NOMEM;
  rv = sio_redis_url_parse(url, &k->url);
  if (rv || k->url.topology != SIO_REDIS_CLUSTER) {
    sio_redis_url_clear(&k->url);
    sio_free(k);
    return rv ? rv : SIO_ERR_INVAL;
  }
  k->loop = loop;
  if (o)
    k->o = *o;
  if (!k->o.connect_timeout_ms)
    k->o.connect_timeout_ms = 5000;
  if (!k->o.command_timeout_ms)
    k->o.command_timeout_ms = 5000;
  if (!k->o.reconnect_min_ms)
    k->o.reconnect_min_ms = 100;
  if (!k->o.reconnect_max_ms)
    k->o.reconnect_max_ms = 500;
  if (k->o.reconnect_max_ms < k->o.reconnect_min_ms)
    k->o.reconnect_max_ms = k->o.reconnect_min_ms;
  if (!k->o.max_pending)
    k->o.max_pending = 10000;
  if (!k->o.ping_interval_ms)
    k->o.ping_interval_ms = 5000;
  if (k->url.tls) {
    char err[256];
    rv = sio_tls_client_ctx_new(&k->tls, k->o.tls_ca_file, k->o.tls_cert_file,
                                k->o.tls_key_file, err, sizeof(err));
    if (rv) {
      SIO_LOGE("redis TLS: %s", err);
      sio_redis_url_clear(&k->url);
      sio_free(k);
      return rv;
    }
  }
  k->o.tls_ca_file = k->o.tls_cert_file = k->o.tls_key_file = NULL;
  if (sio_net_init(&k->net, loop)) {
    sio_tls_client_ctx_del(k->tls);
    sio_redis_url_clear(&k->url);
    sio_free(k);
    return SIO_ERR_NOMEM;
  }
  if (sio_random_bytes(&k->rng, sizeof(k->rng)) || !k->rng)
    k->rng = uv_hrtime() | 1;
  if (sigaction(SIGPIPE, NULL, &sa) == 0 && sa.sa_handler == SIG_DFL)
    signal(SIGPIPE, SIG_IGN);
  k->control.k = k;
  k->control.which = L_CONTROL;
  uv_timer_init(loop, &k->tick);
  k->tick.data = k;
  k->outstanding = 1;
  k->next_ping = uv_now(loop) + k->o.ping_interval_ms;
  kick(k);
  *out = k;
  return 0;
}
