/* sio_redis.c: the hiredis 0.14 + libuv pub/sub driver, and
 * sio_server_use_redis().
 *
 * Role: the only code that touches hiredis. It implements sio_pubsub.h
 * with two connections, as the Node adapter uses a pub and a sub client:
 * the subscriber sits in (P)SUBSCRIBE mode, the publisher sends PUBLISH
 * and PUBSUB NUMSUB. Nothing blocks: host names are resolved with
 * uv_getaddrinfo and hiredis connects to the numeric address with a
 * non-blocking connect; our own event adapter (a uv_poll_t, below) drives
 * the socket and hands poll errors to hiredis.
 *
 * Each connection runs this state machine (one uv timer serves every
 * state's deadline):
 *
 *   DOWN --timer--> RESOLVING --address--> CONNECTING --connected-->
 *   HANDSHAKE (AUTH, SELECT, PING; then, subscriber: every PSUBSCRIBE and
 *   SUBSCRIBE, waiting for each confirmation) --> READY
 *
 * Once READY, the publisher sends a PING every ping_interval_ms: its round
 * trip (and the handshake PING's) is the latency the server reports, and
 * it gives the watchdog a command to time even when nothing is published.
 *
 * Any failure, a connect timeout (connect_timeout_ms from RESOLVING to
 * READY), an error reply during the handshake, a command left without a
 * reply for command_timeout_ms (the READY watchdog), or hiredis reporting
 * a disconnection, goes back to DOWN, and the next attempt starts after
 * min(reconnect_max, reconnect_min * 2^attempt) ms, of which a random
 * half is jitter so that a fleet does not reconnect in step. The driver is
 * ready when both connections are READY; the handler hears each change.
 *
 * hiredis rules followed here: a reply is only read inside its callback;
 * redisAsyncFree() runs every pending callback with a NULL reply (so each
 * command record, allocated per command, reports exactly once: timed out,
 * I/O error, or canceled at close) and may be deferred by hiredis when
 * called from one of its callbacks; a failed connect frees the context
 * without a disconnect callback. The driver struct is freed only in the
 * close callback of its last uv handle (the two timers) and after every
 * getaddrinfo request returned, which always comes after hiredis finished
 * any deferred free. */
#include "sio_redis.h"

#include <arpa/inet.h>
#include <hiredis/async.h>
#include <hiredis/hiredis.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include "sio/sio.h"
#include "sio_adapter_redis.h"
#include "sio_crypto.h"
#include "sio_int.h"
#include "sio_log.h"
#include "sio_mem.h"
#include "sio_queue.h"

enum { C_DOWN, C_RESOLVING, C_CONNECTING, C_HANDSHAKE, C_READY };
enum { ROLE_SUB = 0, ROLE_PUB = 1 };
enum { CMD_PUBLISH, CMD_NUMSUB, CMD_HANDSHAKE, CMD_PING };

typedef struct rsub {
  char *name;
  int pattern;
} rsub;

typedef struct gai_req gai_req;

typedef struct rconn {
  sio_redis *r;
  int role;
  int state;
  redisAsyncContext *ac;
  uv_timer_t timer;
  gai_req *gai; /* the resolution in flight, if any */
  unsigned attempt;
  int failed_once; /* logged the first failure of a series */
  sio_queue pending;
  size_t npending;
  size_t hs_waiting; /* handshake replies and confirmations awaited */
  int subscribing;   /* subscriber: subscriptions were sent */
  int ping_out;      /* publisher: a periodic PING awaits its reply */
  uint64_t next_ping; /* publisher: uv_now() of the next PING */
} rconn;

struct gai_req {
  uv_getaddrinfo_t req;
  rconn *c; /* NULL once stale */
};

struct sio_redis {
  uv_loop_t *loop;
  sio_redis_url url;
  sio_redis_options o;
  rconn conn[2];
  rsub *subs;
  size_t nsubs, capsubs;
  sio_pubsub_handler h;
  void *ud;
  int ready;
  int closing;
  int outstanding; /* timers not closed + resolutions in flight */
  void (*done)(void *arg);
  void *done_arg;
  uint64_t rng;
  uint64_t latency_us; /* round trip of the last PING answered */
};

typedef struct cmd {
  sio_queue link;
  rconn *c;
  uint64_t deadline;
  uint64_t ping_sent_ns; /* uv_hrtime() at sending, PINGs only */
  int kind;
  int timed_out;
  sio_pubsub_count_cb cb;
  void *ud;
} cmd;

static const char *role_name(const rconn *c) {
  return c->role == ROLE_SUB ? "subscriber" : "publisher";
}

/* ------------------------------------------------------------------ URL */

static int hexval(char c) {
  if (c >= '0' && c <= '9')
    return c - '0';
  if (c >= 'a' && c <= 'f')
    return c - 'a' + 10;
  if (c >= 'A' && c <= 'F')
    return c - 'A' + 10;
  return -1;
}

/* A percent-decoded copy of s[0..n), or NULL (bad escape: *err INVAL). */
static char *pct_dup(const char *s, size_t n, int *err) {
  char *o = sio_malloc(n + 1);
  size_t i, k = 0;
  if (!o) {
    *err = SIO_ERR_NOMEM;
    return NULL;
  }
  for (i = 0; i < n; i++) {
    if (s[i] == '%') {
      if (i + 2 >= n || hexval(s[i + 1]) < 0 || hexval(s[i + 2]) < 0) {
        sio_free(o);
        *err = SIO_ERR_INVAL;
        return NULL;
      }
      o[k++] = (char)(hexval(s[i + 1]) << 4 | hexval(s[i + 2]));
      i += 2;
    } else {
      o[k++] = s[i];
    }
  }
  o[k] = 0;
  if (strlen(o) != k) { /* an encoded NUL */
    sio_free(o);
    *err = SIO_ERR_INVAL;
    return NULL;
  }
  return o;
}

static int parse_int(const char *s, size_t n, long lo, long hi, int *out) {
  long v = 0;
  size_t i;
  if (n == 0 || n > 9)
    return SIO_ERR_INVAL;
  for (i = 0; i < n; i++) {
    if (s[i] < '0' || s[i] > '9')
      return SIO_ERR_INVAL;
    v = v * 10 + (s[i] - '0');
  }
  if (v < lo || v > hi)
    return SIO_ERR_INVAL;
  *out = (int)v;
  return 0;
}

/* ?db=N&password=P&user=U */
static int parse_params(const char *q, sio_redis_url *u) {
  int rv = 0;
  while (*q && !rv) {
    const char *amp = strchr(q, '&'), *eq;
    size_t len = amp ? (size_t)(amp - q) : strlen(q);
    eq = memchr(q, '=', len);
    if (eq) {
      size_t kl = (size_t)(eq - q), vl = len - kl - 1;
      if (kl == 2 && memcmp(q, "db", 2) == 0) {
        rv = parse_int(eq + 1, vl, 0, 100000, &u->db);
      } else if (kl == 8 && memcmp(q, "password", 8) == 0) {
        sio_free(u->password);
        u->password = pct_dup(eq + 1, vl, &rv);
      } else if (kl == 4 && memcmp(q, "user", 4) == 0) {
        sio_free(u->user);
        u->user = pct_dup(eq + 1, vl, &rv);
      }
    }
    q += len + (amp ? 1 : 0);
  }
  return rv;
}

void sio_redis_url_clear(sio_redis_url *u) {
  sio_free(u->host);
  sio_free(u->path);
  sio_free(u->user);
  sio_free(u->password);
  memset(u, 0, sizeof(*u));
}

int sio_redis_url_parse(const char *url, sio_redis_url *u) {
  const char *p, *at, *end, *hs, *he, *slash, *query;
  int rv = 0;
  memset(u, 0, sizeof(*u));
  u->port = 6379;
  if (!url)
    return SIO_ERR_INVAL;
  if (strncmp(url, "rediss://", 9) == 0)
    return SIO_ERR_UNSUPPORTED;
  if (strncmp(url, "unix://", 7) == 0 ||
      strncmp(url, "redis+unix://", 13) == 0) {
    p = url + (url[0] == 'u' ? 7 : 13);
    query = strchr(p, '?');
    end = query ? query : p + strlen(p);
    if (end == p || *p != '/')
      return SIO_ERR_INVAL;
    u->path = sio_strndup(p, (size_t)(end - p));
    if (!u->path)
      return SIO_ERR_NOMEM;
    if (query)
      rv = parse_params(query + 1, u);
    if (rv)
      sio_redis_url_clear(u);
    return rv;
  }
  if (strncmp(url, "redis://", 8) != 0)
    return SIO_ERR_INVAL;
  p = url + 8;
  query = strchr(p, '?');
  end = query ? query : p + strlen(p);
  slash = memchr(p, '/', (size_t)(end - p));
  if (!slash)
    slash = end;
  /* userinfo: the last '@' before the path */
  at = NULL;
  {
    const char *x;
    for (x = p; x < slash; x++)
      if (*x == '@')
        at = x;
  }
  if (at) {
    const char *colon = memchr(p, ':', (size_t)(at - p));
    if (colon) {
      if (colon > p)
        u->user = pct_dup(p, (size_t)(colon - p), &rv);
      if (!rv)
        u->password = pct_dup(colon + 1, (size_t)(at - colon - 1), &rv);
    } else if (at > p) {
      u->password = pct_dup(p, (size_t)(at - p), &rv);
    }
    if (rv)
      goto fail;
    hs = at + 1;
  } else {
    hs = p;
  }
  /* host[:port] or [v6][:port] */
  if (*hs == '[') {
    const char *rb = memchr(hs, ']', (size_t)(slash - hs));
    if (!rb || rb == hs + 1)
      goto inval;
    u->host = sio_strndup(hs + 1, (size_t)(rb - hs - 1));
    he = rb + 1;
    if (he < slash && *he != ':')
      goto inval;
  } else {
    he = memchr(hs, ':', (size_t)(slash - hs));
    if (!he)
      he = slash;
    if (he == hs)
      goto inval;
    u->host = sio_strndup(hs, (size_t)(he - hs));
  }
  if (!u->host) {
    rv = SIO_ERR_NOMEM;
    goto fail;
  }
  if (he < slash && *he == ':') {
    rv = parse_int(he + 1, (size_t)(slash - he - 1), 1, 65535, &u->port);
    if (rv)
      goto fail;
  }
  if (slash < end && slash + 1 < end) {
    rv = parse_int(slash + 1, (size_t)(end - slash - 1), 0, 100000, &u->db);
    if (rv)
      goto fail;
  }
  if (query) {
    rv = parse_params(query + 1, u);
    if (rv)
      goto fail;
  }
  return 0;
inval:
  rv = SIO_ERR_INVAL;
fail:
  sio_redis_url_clear(u);
  return rv;
}

/* ------------------------------------------------------------- state */

static void conn_start(rconn *c);
static void conn_timer(uv_timer_t *t);
static void final_step(sio_redis *r);

static void update_ready(sio_redis *r) {
  int ready = r->conn[0].state == C_READY && r->conn[1].state == C_READY;
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

static void schedule_retry(rconn *c) {
  sio_redis *r = c->r;
  uint64_t delay = r->o.reconnect_min_ms;
  unsigned i;
  if (r->closing)
    return;
  for (i = 0; i < c->attempt && delay < r->o.reconnect_max_ms; i++)
    delay *= 2;
  if (delay > r->o.reconnect_max_ms)
    delay = r->o.reconnect_max_ms;
  /* equal jitter: half fixed, half random */
  delay = delay / 2 + (delay > 1 ? rng_next(r) % (delay / 2 + 1) : 0);
  c->attempt++;
  c->state = C_DOWN;
  uv_timer_start(&c->timer, conn_timer, delay, 0);
}

/* The connection is gone (or never came): DOWN, then a retry. */
static void conn_lost(rconn *c, const char *why) {
  sio_redis *r = c->r;
  int was_ready = c->state == C_READY;
  c->state = C_DOWN;
  c->subscribing = 0;
  c->hs_waiting = 0;
  uv_timer_stop(&c->timer);
  if (!r->closing) {
    if (was_ready || !c->failed_once)
      SIO_LOGW("redis %s: %s", role_name(c), why);
    else
      SIO_LOGD("redis %s: %s", role_name(c), why);
    c->failed_once = 1;
  }
  update_ready(r);
  schedule_retry(c);
}

/* Drops the connection now (pending commands report through their
 * callbacks, with a NULL reply). */
static void conn_drop(rconn *c, const char *why) {
  redisAsyncContext *ac = c->ac;
  c->ac = NULL;
  if (ac)
    redisAsyncFree(ac);
  conn_lost(c, why);
}

/* READY: the timer serves the oldest command's deadline and, on the
 * publisher, the next PING. */
static void arm_watchdog(rconn *c) {
  uint64_t now, at = UINT64_MAX;
  if (c->state != C_READY)
    return;
  if (!sio_queue_empty(&c->pending))
    at = sio_container_of(sio_queue_head(&c->pending), cmd, link)->deadline;
  if (c->role == ROLE_PUB && !c->ping_out && c->next_ping < at)
    at = c->next_ping;
  if (at == UINT64_MAX)
    return;
  now = uv_now(c->r->loop);
  uv_timer_start(&c->timer, conn_timer, at > now ? at - now : 0, 0);
}

static void set_ready(rconn *c) {
  c->state = C_READY;
  c->hs_waiting = 0;
  if (c->attempt || c->failed_once)
    SIO_LOGI("redis %s: connected", role_name(c));
  c->attempt = 0;
  c->failed_once = 0;
  c->ping_out = 0;
  c->next_ping = uv_now(c->r->loop) + c->r->o.ping_interval_ms;
  uv_timer_stop(&c->timer);
  arm_watchdog(c);
  update_ready(c->r);
}

/* ------------------------------------------------------------ commands */

static void on_cmd(redisAsyncContext *ac, void *reply, void *privdata);

/* Queues a command on c. Returns 0 or SIO_ERR_CLOSED / SIO_ERR_NOMEM. */
static int send_cmd(rconn *c, int kind, int argc, const char **argv,
                    const size_t *lens, sio_pubsub_count_cb cb, void *ud) {
  sio_redis *r = c->r;
  cmd *k;
  if (!c->ac)
    return SIO_ERR_CLOSED;
  k = sio_calloc(1, sizeof(*k));
  if (!k)
    return SIO_ERR_NOMEM;
  k->c = c;
  k->kind = kind;
  k->cb = cb;
  k->ud = ud;
  k->deadline = uv_now(r->loop) + r->o.command_timeout_ms;
  if (redisAsyncCommandArgv(c->ac, on_cmd, k, argc, argv, lens) != REDIS_OK) {
    sio_free(k);
    return SIO_ERR_CLOSED;
  }
  sio_queue_insert_tail(&c->pending, &k->link);
  c->npending++;
  if (c->state == C_READY && c->npending == 1)
    arm_watchdog(c);
  return 0;
}

/* PING, timed: the handshake's (kind CMD_HANDSHAKE) and the periodic one
 * (CMD_PING). */
static int send_ping(rconn *c, int kind) {
  static const char *const argv[1] = {"PING"};
  static const size_t lens[1] = {4};
  cmd *k;
  int rv = send_cmd(c, kind, 1, (const char **)argv, lens, NULL, NULL);
  if (rv)
    return rv;
  k = sio_container_of(sio_queue_tail(&c->pending), cmd, link);
  k->ping_sent_ns = uv_hrtime();
  return 0;
}

static void on_sub(redisAsyncContext *ac, void *reply, void *privdata);

static int send_subscribe(rconn *c, const rsub *s) {
  const char *argv[2];
  size_t lens[2];
  argv[0] = s->pattern ? "PSUBSCRIBE" : "SUBSCRIBE";
  lens[0] = strlen(argv[0]);
  argv[1] = s->name;
  lens[1] = strlen(s->name);
  if (redisAsyncCommandArgv(c->ac, on_sub, c, 2, argv, lens) != REDIS_OK)
    return SIO_ERR_CLOSED;
  return 0;
}

/* The handshake replies are in: the subscriber subscribes, the publisher
 * is ready. */
static void handshake_done(rconn *c) {
  sio_redis *r = c->r;
  size_t i;
  if (c->role == ROLE_PUB || r->nsubs == 0) {
    set_ready(c);
    return;
  }
  c->subscribing = 1;
  c->hs_waiting = r->nsubs;
  for (i = 0; i < r->nsubs; i++)
    if (send_subscribe(c, &r->subs[i])) {
      conn_drop(c, "cannot subscribe");
      return;
    }
}

static void on_cmd(redisAsyncContext *ac, void *reply, void *privdata) {
  redisReply *rep = reply;
  cmd *k = privdata;
  rconn *c = k->c;
  sio_redis *r = c->r;
  int status;
  (void)ac;
  sio_queue_remove(&k->link);
  c->npending--;
  if (!rep)
    status = r->closing     ? SIO_ERR_CANCELED
             : k->timed_out ? SIO_ERR_TIMEOUT
                            : SIO_ERR_IO;
  else
    status = rep->type == REDIS_REPLY_ERROR ? SIO_ERR_IO : 0;
  if (k->ping_sent_ns && !status) {
    uint64_t us = (uv_hrtime() - k->ping_sent_ns) / 1000;
    r->latency_us = us ? us : 1;
  }
  switch (k->kind) {
  case CMD_NUMSUB: {
    int64_t n = 0;
    if (!status) {
      if (rep->type == REDIS_REPLY_ARRAY && rep->elements >= 2 &&
          rep->element[1]->type == REDIS_REPLY_INTEGER)
        n = rep->element[1]->integer;
      else
        status = SIO_ERR_IO;
    }
    if (k->cb)
      k->cb(k->ud, status, n);
    break;
  }
  case CMD_PING:
    if (c->ac == ac) {
      c->ping_out = 0;
      c->next_ping = uv_now(r->loop) + r->o.ping_interval_ms;
    }
    break;
  case CMD_HANDSHAKE:
    if (rep && c->ac == ac && c->state == C_HANDSHAKE) {
      if (status) {
        SIO_LOGE("redis %s: handshake refused: %s", role_name(c),
                 rep->str ? rep->str : "error");
        conn_drop(c, "handshake refused");
      } else if (--c->hs_waiting == 0) {
        handshake_done(c);
      }
    }
    break;
  default:
    if (rep && status)
      SIO_LOGD("redis %s: error reply: %s", role_name(c), rep->str);
    break;
  }
  sio_free(k);
  if (c->ac == ac && c->state == C_READY && !r->closing)
    arm_watchdog(c);
}

static void on_sub(redisAsyncContext *ac, void *reply, void *privdata) {
  redisReply *rep = reply;
  rconn *c = privdata;
  sio_redis *r = c->r;
  const char *type;
  if (!rep || c->ac != ac || r->closing || rep->type != REDIS_REPLY_ARRAY ||
      rep->elements < 3 || rep->element[0]->type != REDIS_REPLY_STRING)
    return;
  type = rep->element[0]->str;
  if (strcmp(type, "subscribe") == 0 || strcmp(type, "psubscribe") == 0) {
    if (c->state == C_HANDSHAKE && c->hs_waiting && --c->hs_waiting == 0)
      set_ready(c);
  } else if (strcmp(type, "message") == 0) {
    if (r->h.message && rep->element[1]->type == REDIS_REPLY_STRING &&
        rep->element[2]->type == REDIS_REPLY_STRING)
      r->h.message(r->ud, NULL, rep->element[1]->str,
                   (const uint8_t *)rep->element[2]->str, rep->element[2]->len);
  } else if (strcmp(type, "pmessage") == 0) {
    if (r->h.message && rep->elements >= 4 &&
        rep->element[1]->type == REDIS_REPLY_STRING &&
        rep->element[2]->type == REDIS_REPLY_STRING &&
        rep->element[3]->type == REDIS_REPLY_STRING)
      r->h.message(r->ud, rep->element[1]->str, rep->element[2]->str,
                   (const uint8_t *)rep->element[3]->str, rep->element[3]->len);
  }
}

/* ---------------------------------------------------------- connecting */

static void on_connect(const redisAsyncContext *cac, int status) {
  redisAsyncContext *ac = (redisAsyncContext *)cac;
  rconn *c = ac->data;
  sio_redis *r = c->r;
  const char *argv[3];
  size_t lens[3];
  char dbuf[16];
  if (c->ac != ac)
    return; /* dropped meanwhile */
  if (status != REDIS_OK) {
    char why[160];
    snprintf(why, sizeof(why), "cannot connect: %s",
             ac->errstr ? ac->errstr : "error");
    c->ac = NULL; /* hiredis frees it */
    conn_lost(c, why);
    return;
  }
  if (r->url.host) /* TCP only: on a unix socket it fails the context */
    redisEnableKeepAlive(&ac->c);
  c->state = C_HANDSHAKE;
  c->hs_waiting = 0;
  if (r->url.password) {
    int n = 0;
    argv[n] = "AUTH";
    lens[n++] = 4;
    if (r->url.user) {
      argv[n] = r->url.user;
      lens[n] = strlen(r->url.user);
      n++;
    }
    argv[n] = r->url.password;
    lens[n] = strlen(r->url.password);
    n++;
    if (send_cmd(c, CMD_HANDSHAKE, n, argv, lens, NULL, NULL)) {
      conn_drop(c, "cannot send AUTH");
      return;
    }
    c->hs_waiting++;
  }
  if (r->url.db > 0) {
    argv[0] = "SELECT";
    lens[0] = 6;
    snprintf(dbuf, sizeof(dbuf), "%d", r->url.db);
    argv[1] = dbuf;
    lens[1] = strlen(dbuf);
    if (send_cmd(c, CMD_HANDSHAKE, 2, argv, lens, NULL, NULL)) {
      conn_drop(c, "cannot send SELECT");
      return;
    }
    c->hs_waiting++;
  }
  /* PING: READY means Redis answered, not merely that a kernel accepted
   * the connection (a stalled server is noticed here) */
  if (send_ping(c, CMD_HANDSHAKE)) {
    conn_drop(c, "cannot send PING");
    return;
  }
  c->hs_waiting++;
}

static void on_disconnect(const redisAsyncContext *cac, int status) {
  redisAsyncContext *ac = (redisAsyncContext *)cac;
  rconn *c = ac->data;
  char why[160];
  if (c->ac != ac)
    return; /* we dropped it ourselves */
  c->ac = NULL;
  snprintf(why, sizeof(why), "connection lost%s%s",
           status == REDIS_OK ? "" : ": ",
           status == REDIS_OK ? "" : (ac->errstr ? ac->errstr : "error"));
  conn_lost(c, why);
}

/* ------------------------------------------------------ event adapter */

/* hiredis' event hooks over one uv_poll_t, in place of hiredis 0.14's
 * stock libuv adapter. That adapter returns from its poll callback when
 * libuv reports an error, and libuv reports POLLERR (a refused or reset
 * connection) as exactly that error after stopping the poll: hiredis then
 * never looks at the socket again, and a refused connect was only noticed
 * at connect_timeout_ms. Here a poll error is handed to hiredis as an I/O
 * event, so it reads SO_ERROR (connecting) or the failing read (connected)
 * and fails the context; should the context survive that, the driver
 * drops it. (DESIGN §12.25: a Redis connection on src/net replaces this
 * later.) */
typedef struct rpoll {
  uv_poll_t handle;
  redisAsyncContext *ac; /* NULL once hiredis cleaned up */
  int events;            /* UV_READABLE | UV_WRITABLE wanted by hiredis */
} rpoll;

static void rpoll_cb(uv_poll_t *h, int status, int events) {
  rpoll *p = h->data;
  redisAsyncContext *ac = p->ac;
  rconn *c;
  if (!ac)
    return;
  c = ac->data;
  if (status < 0) {
    /* libuv stopped the poll; hiredis still believes it is armed */
    if (!(ac->c.flags & REDIS_CONNECTED) || (p->events & UV_WRITABLE))
      redisAsyncHandleWrite(ac);
    else
      redisAsyncHandleRead(ac);
    /* p->ac is NULL once hiredis freed the context (cleanup hook) */
    if (p->ac && c->ac == ac) {
      char why[96];
      snprintf(why, sizeof(why), "connection lost: %s", uv_strerror(status));
      conn_drop(c, why);
    }
    return;
  }
  if (events & UV_READABLE)
    redisAsyncHandleRead(ac);
  if (p->ac && (events & UV_WRITABLE))
    redisAsyncHandleWrite(ac);
}

static void rpoll_update(rpoll *p) {
  if (p->events)
    uv_poll_start(&p->handle, p->events, rpoll_cb);
  else
    uv_poll_stop(&p->handle);
}

static void rpoll_add_read(void *d) {
  rpoll *p = d;
  p->events |= UV_READABLE;
  rpoll_update(p);
}

static void rpoll_del_read(void *d) {
  rpoll *p = d;
  p->events &= ~UV_READABLE;
  rpoll_update(p);
}

static void rpoll_add_write(void *d) {
  rpoll *p = d;
  p->events |= UV_WRITABLE;
  rpoll_update(p);
}

static void rpoll_del_write(void *d) {
  rpoll *p = d;
  p->events &= ~UV_WRITABLE;
  rpoll_update(p);
}

static void rpoll_closed(uv_handle_t *h) { sio_free(h->data); }

/* hiredis frees the context: the poll goes, its memory in its close
 * callback (the fd is hiredis', closed by it right after). */
static void rpoll_cleanup(void *d) {
  rpoll *p = d;
  p->ac = NULL;
  uv_close((uv_handle_t *)&p->handle, rpoll_closed);
}

/* Attaches ac to loop. Returns 0, or SIO_ERR_NOMEM / SIO_ERR_IO (ac
 * untouched: the caller frees it). */
static int rpoll_attach(redisAsyncContext *ac, uv_loop_t *loop) {
  rpoll *p = sio_calloc(1, sizeof(*p));
  if (!p)
    return SIO_ERR_NOMEM;
  if (uv_poll_init(loop, &p->handle, ac->c.fd) != 0) {
    sio_free(p);
    return SIO_ERR_IO;
  }
  p->handle.data = p;
  p->ac = ac;
  ac->ev.data = p;
  ac->ev.addRead = rpoll_add_read;
  ac->ev.delRead = rpoll_del_read;
  ac->ev.addWrite = rpoll_add_write;
  ac->ev.delWrite = rpoll_del_write;
  ac->ev.cleanup = rpoll_cleanup;
  return 0;
}

/* Starts hiredis on a numeric address (ip NULL: the unix socket). */
static void conn_connect(rconn *c, const char *ip) {
  sio_redis *r = c->r;
  redisAsyncContext *ac;
  ac = ip ? redisAsyncConnect(ip, r->url.port)
          : redisAsyncConnectUnix(r->url.path);
  if (!ac) {
    conn_lost(c, "cannot connect: out of memory");
    return;
  }
  if (ac->err) {
    char why[160];
    snprintf(why, sizeof(why), "cannot connect: %s", ac->errstr);
    redisAsyncFree(ac);
    conn_lost(c, why);
    return;
  }
  ac->data = c;
  if (rpoll_attach(ac, r->loop)) {
    redisAsyncFree(ac);
    conn_lost(c, "cannot attach to the loop");
    return;
  }
  redisAsyncSetConnectCallback(ac, on_connect);
  redisAsyncSetDisconnectCallback(ac, on_disconnect);
  c->ac = ac;
  c->state = C_CONNECTING;
}

static void gai_done(uv_getaddrinfo_t *req, int status, struct addrinfo *res) {
  gai_req *g = sio_container_of(req, gai_req, req);
  rconn *c = g->c;
  sio_redis *r;
  char ip[INET6_ADDRSTRLEN];
  if (c) {
    r = c->r;
    c->gai = NULL;
    if (status || !res) {
      char why[160];
      snprintf(why, sizeof(why), "cannot resolve %s: %s", r->url.host,
               uv_strerror(status));
      conn_lost(c, why);
    } else {
      const void *a =
          res->ai_family == AF_INET6
              ? (const void *)&((struct sockaddr_in6 *)res->ai_addr)->sin6_addr
              : (const void *)&((struct sockaddr_in *)res->ai_addr)->sin_addr;
      if (inet_ntop(res->ai_family, a, ip, sizeof(ip)))
        conn_connect(c, ip);
      else
        conn_lost(c, "cannot use the resolved address");
    }
  }
  if (res)
    uv_freeaddrinfo(res);
  r = (sio_redis *)req->data;
  sio_free(g);
  r->outstanding--;
  final_step(r);
}

static void conn_start(rconn *c) {
  sio_redis *r = c->r;
  struct in6_addr a6;
  struct in_addr a4;
  struct addrinfo hints;
  gai_req *g;
  uv_timer_start(&c->timer, conn_timer, r->o.connect_timeout_ms, 0);
  if (!r->url.host) {
    conn_connect(c, NULL);
    return;
  }
  if (inet_pton(AF_INET, r->url.host, &a4) == 1 ||
      inet_pton(AF_INET6, r->url.host, &a6) == 1) {
    conn_connect(c, r->url.host);
    return;
  }
  g = sio_calloc(1, sizeof(*g));
  if (!g) {
    conn_lost(c, "cannot resolve: out of memory");
    return;
  }
  g->c = c;
  g->req.data = r;
  memset(&hints, 0, sizeof(hints));
  hints.ai_family = AF_UNSPEC;
  hints.ai_socktype = SOCK_STREAM;
  if (uv_getaddrinfo(r->loop, &g->req, gai_done, r->url.host, NULL, &hints)) {
    sio_free(g);
    conn_lost(c, "cannot resolve");
    return;
  }
  r->outstanding++;
  c->gai = g;
  c->state = C_RESOLVING;
}

static void conn_timer(uv_timer_t *t) {
  rconn *c = sio_container_of(t, rconn, timer);
  sio_redis *r = c->r;
  char why[96];
  if (r->closing)
    return;
  switch (c->state) {
  case C_DOWN:
    conn_start(c);
    break;
  case C_RESOLVING:
  case C_CONNECTING:
  case C_HANDSHAKE:
    if (c->gai) {
      c->gai->c = NULL; /* stale: gai_done only frees it */
      uv_cancel((uv_req_t *)&c->gai->req);
      c->gai = NULL;
    }
    snprintf(why, sizeof(why), "not ready within %u ms",
             (unsigned)r->o.connect_timeout_ms);
    conn_drop(c, why);
    break;
  case C_READY: {
    uint64_t now = uv_now(r->loop);
    sio_queue *q;
    int expired = 0;
    sio_queue_foreach(q, &c->pending) {
      cmd *k = sio_container_of(q, cmd, link);
      if (k->deadline > now)
        break;
      k->timed_out = 1;
      expired = 1;
    }
    if (expired) {
      snprintf(why, sizeof(why), "no reply within %u ms",
               (unsigned)r->o.command_timeout_ms);
      conn_drop(c, why);
      break;
    }
    if (c->role == ROLE_PUB && !c->ping_out && now >= c->next_ping) {
      if (send_ping(c, CMD_PING)) {
        conn_drop(c, "cannot send PING");
        break;
      }
      c->ping_out = 1;
    }
    arm_watchdog(c);
    break;
  }
  }
}

/* ---------------------------------------------------------------- ops */

static void op_set_handler(void *drv, const sio_pubsub_handler *h, void *ud) {
  sio_redis *r = drv;
  r->h = *h;
  r->ud = ud;
}

static int op_subscribe(void *drv, const char *name, int pattern) {
  sio_redis *r = drv;
  rconn *c = &r->conn[ROLE_SUB];
  size_t i;
  for (i = 0; i < r->nsubs; i++)
    if (r->subs[i].pattern == pattern && strcmp(r->subs[i].name, name) == 0)
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
  r->subs[r->nsubs].pattern = pattern;
  r->nsubs++;
  /* live now when the subscriber already runs its subscriptions */
  if (c->ac && (c->state == C_READY || c->subscribing)) {
    if (send_subscribe(c, &r->subs[r->nsubs - 1]))
      conn_drop(c, "cannot subscribe");
    else if (c->state == C_HANDSHAKE)
      c->hs_waiting++;
  }
  return 0;
}

static int op_publish(void *drv, const char *channel, const uint8_t *data,
                      size_t len) {
  sio_redis *r = drv;
  rconn *c = &r->conn[ROLE_PUB];
  const char *argv[3];
  size_t lens[3];
  if (c->state != C_READY)
    return SIO_ERR_CLOSED;
  if (c->npending >= r->o.max_pending)
    return SIO_ERR_LIMIT;
  argv[0] = "PUBLISH";
  lens[0] = 7;
  argv[1] = channel;
  lens[1] = strlen(channel);
  argv[2] = (const char *)data;
  lens[2] = len;
  return send_cmd(c, CMD_PUBLISH, 3, argv, lens, NULL, NULL);
}

static int op_numsub(void *drv, const char *channel, sio_pubsub_count_cb cb,
                     void *ud) {
  sio_redis *r = drv;
  rconn *c = &r->conn[ROLE_PUB];
  const char *argv[3];
  size_t lens[3];
  if (c->state != C_READY)
    return SIO_ERR_CLOSED;
  if (c->npending >= r->o.max_pending)
    return SIO_ERR_LIMIT;
  argv[0] = "PUBSUB";
  lens[0] = 6;
  argv[1] = "NUMSUB";
  lens[1] = 6;
  argv[2] = channel;
  lens[2] = strlen(channel);
  return send_cmd(c, CMD_NUMSUB, 3, argv, lens, cb, ud);
}

static int op_ready(void *drv) { return ((sio_redis *)drv)->ready; }

static uint64_t op_latency_us(void *drv) {
  return ((sio_redis *)drv)->latency_us;
}

static void final_step(sio_redis *r) {
  size_t i;
  void (*done)(void *);
  void *arg;
  if (!r->closing || r->outstanding > 0)
    return;
  for (i = 0; i < r->nsubs; i++)
    sio_free(r->subs[i].name);
  sio_free(r->subs);
  sio_redis_url_clear(&r->url);
  done = r->done;
  arg = r->done_arg;
  sio_free(r);
  if (done)
    done(arg);
}

static void timer_closed(uv_handle_t *h) {
  rconn *c = sio_container_of((uv_timer_t *)h, rconn, timer);
  sio_redis *r = c->r;
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
  for (i = 0; i < 2; i++) {
    rconn *c = &r->conn[i];
    redisAsyncContext *ac = c->ac;
    if (c->gai) {
      c->gai->c = NULL;
      uv_cancel((uv_req_t *)&c->gai->req);
      c->gai = NULL;
    }
    c->ac = NULL;
    c->state = C_DOWN;
    if (ac)
      redisAsyncFree(ac); /* pending commands report SIO_ERR_CANCELED */
    uv_timer_stop(&c->timer);
    r->outstanding++;
    uv_close((uv_handle_t *)&c->timer, timer_closed);
  }
}

const sio_pubsub_ops sio_redis_pubsub_ops = {
    .set_handler = op_set_handler,
    .subscribe = op_subscribe,
    .publish = op_publish,
    .numsub = op_numsub,
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
  if (sio_random_bytes(&r->rng, sizeof(r->rng)) || !r->rng)
    r->rng = uv_hrtime() | 1;
  /* a write on a connection Redis closed must not kill the process */
  if (sigaction(SIGPIPE, NULL, &sa) == 0 && sa.sa_handler == SIG_DFL)
    signal(SIGPIPE, SIG_IGN);
  for (i = 0; i < 2; i++) {
    rconn *c = &r->conn[i];
    c->r = r;
    c->role = i;
    c->state = C_DOWN;
    sio_queue_init(&c->pending);
    uv_timer_init(loop, &c->timer);
  }
  for (i = 0; i < 2; i++)
    conn_start(&r->conn[i]);
  *out = r;
  return 0;
}

/* ------------------------------------------------- sio_server_use_redis */

int sio_server_use_redis_config(sio_server *s, const sio_redis_config *cfg) {
  sio_adapter_redis_config acfg;
  sio_redis_options ro;
  sio_redis *drv;
  int rv;
  if (!s || !cfg || !cfg->url)
    return SIO_ERR_INVAL;
  if (sio_server_has_adapter(s) || sio_server_closing(s))
    return SIO_ERR_STATE;
  memset(&ro, 0, sizeof(ro));
  ro.connect_timeout_ms = cfg->connect_timeout_ms;
  ro.command_timeout_ms = cfg->command_timeout_ms;
  ro.reconnect_min_ms = cfg->reconnect_min_ms;
  ro.reconnect_max_ms = cfg->reconnect_max_ms;
  ro.ping_interval_ms = cfg->ping_interval_ms;
  rv = sio_redis_new(&drv, sio_server_loop(s), cfg->url, &ro);
  if (rv)
    return rv;
  acfg.key = cfg->key;
  acfg.requests_timeout_ms = cfg->requests_timeout_ms;
  return sio_adapter_redis_install(s, &sio_redis_pubsub_ops, drv, &acfg);
}

int sio_server_use_redis(sio_server *s, const char *url, const char *key) {
  sio_redis_config cfg;
  memset(&cfg, 0, sizeof(cfg));
  cfg.url = url;
  cfg.key = key;
  return sio_server_use_redis_config(s, &cfg);
}
