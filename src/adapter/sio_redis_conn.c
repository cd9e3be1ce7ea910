/* sio_redis_conn.c: one Redis connection over src/net, hiredis as the
 * RESP codec.
 *
 *   DIALING --sio_dial ok--> HANDSHAKE (AUTH, SELECT pipelined; commands
 *   the owner sends meanwhile wait in `held`) --replies OK--> READY
 *
 * and from any state to DEAD exactly once: lost() (failure) or close()
 * (owner). The struct outlives DEAD until the socket's on_close, where it
 * is freed; a dial the owner closes ends the same way.
 *
 * The pending FIFO holds every command written and not answered, oldest
 * first, each with the uv_now() deadline of its reply; one timer armed for
 * the head serves them all, as replies come in order. A command that may
 * wait in Redis (XREAD BLOCK: wait_ms) delays every reply behind it, so a
 * deadline is the later of its own command timeout and the deadline of
 * the command ahead, plus its own wait: deadlines stay in FIFO order and
 * the head's is the earliest. */
#include "sio_redis_conn.h"

#include <hiredis/hiredis.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "sio_dial.h"
#include "sio_int.h"
#include "sio_log.h"
#include "sio_mem.h"
#include "sio_queue.h"
#include "sio_redis_reply.h"

enum { RC_DIALING, RC_HANDSHAKE, RC_READY, RC_DEAD };

/* What a command expects back. */
enum { K_PLAIN, K_SUB, K_UNSUB, K_HANDSHAKE };

typedef struct rc_cmd {
  sio_queue link;
  uint64_t deadline;
  uint32_t wait_ms; /* what it may wait in Redis beyond the timeout */
  int kind;
  size_t replies_left; /* K_SUB / K_UNSUB: confirmations still due */
  sio_redis_reply_cb cb;
  void *ud;
  /* Held commands (sent before ready) keep their bytes here. */
  char *wire;
  size_t wirelen;
} rc_cmd;

struct sio_redis_conn {
  sio_conn conn; /* first: sio_conn callbacks get it */
  sio_net *net;
  sio_redis_conn_handler h;
  void *ud;
  sio_redis_reader reader;
  int reader_open;
  uv_timer_t timer;
  int timer_open;
  int state;
  int handle_open; /* sio_conn initialised by sio_dial: on_close frees */
  uint32_t connect_timeout_ms;
  uint32_t command_timeout_ms;
  uint32_t max_pending;
  sio_queue pending; /* written, awaiting replies */
  sio_queue held;    /* sent by the owner before ready */
  size_t npending, nheld;
  size_t hs_left; /* handshake replies still due */
  /* Handshake commands, formatted at open (the target's strings are
   * borrowed only for that call). */
  char *hs_wire;
  size_t hs_wirelen;
  int hs_count;
};

static const sio_conn_ops rc_conn_ops;

const char *sio_redis_reply_str(const redisReply *r) {
  if (!r)
    return NULL;
  switch (r->type) {
  case REDIS_REPLY_ERROR:
  case REDIS_REPLY_STATUS:
  case REDIS_REPLY_STRING:
    return r->str;
  default:
    return NULL;
  }
}

static void cmd_free(rc_cmd *k) {
  if (k->wire)
    redisFreeCommand(k->wire);
  sio_free(k);
}

/* Reports status to every command still waiting, in order. */
static void fail_all(sio_redis_conn *c, int status) {
  sio_queue *qs[2] = {&c->pending, &c->held};
  int i;
  for (i = 0; i < 2; i++) {
    while (!sio_queue_empty(qs[i])) {
      rc_cmd *k = sio_container_of(sio_queue_head(qs[i]), rc_cmd, link);
      sio_queue_remove(&k->link);
      if (k->cb)
        k->cb(k->ud, status, NULL);
      cmd_free(k);
    }
  }
  c->npending = c->nheld = 0;
}

static void rc_free(sio_redis_conn *c) {
  void (*freed)(void *) = c->h.freed;
  void *ud = c->ud;
  sio_free(c);
  if (freed)
    freed(ud);
}

static void timer_closed(uv_handle_t *h) {
  sio_redis_conn *c = h->data;
  c->timer_open = 0;
  if (!c->handle_open)
    rc_free(c);
}

static void rc_release(sio_redis_conn *c) {
  if (c->reader_open) {
    sio_redis_reader_deinit(&c->reader);
    c->reader_open = 0;
  }
  if (c->hs_wire) {
    redisFreeCommand(c->hs_wire);
    c->hs_wire = NULL;
  }
}

/* Ends the connection once, from any state: the handler hears lost()
 * unless the owner closed it. */
static void rc_end(sio_redis_conn *c, int status, const char *why, int notify) {
  if (c->state == RC_DEAD)
    return;
  c->state = RC_DEAD;
  fail_all(c, notify
                  ? (status == SIO_ERR_TIMEOUT ? SIO_ERR_TIMEOUT : SIO_ERR_IO)
                  : SIO_ERR_CANCELED);
  if (c->timer_open && !uv_is_closing((uv_handle_t *)&c->timer))
    uv_close((uv_handle_t *)&c->timer, timer_closed);
  if (c->handle_open)
    sio_conn_close(&c->conn);
  rc_release(c);
  if (notify && c->h.lost)
    c->h.lost(c->ud, c, status, why);
}

static void on_timer(uv_timer_t *t);

/* READY: the timer watches the oldest reply due (before, it is the
 * connect deadline). */
static void arm_timer(sio_redis_conn *c) {
  rc_cmd *k;
  uint64_t now;
  if (c->state != RC_READY)
    return;
  if (sio_queue_empty(&c->pending)) {
    uv_timer_stop(&c->timer);
    return;
  }
  k = sio_container_of(sio_queue_head(&c->pending), rc_cmd, link);
  now = uv_now(c->net->loop);
  uv_timer_start(&c->timer, on_timer, k->deadline > now ? k->deadline - now : 0,
                 0);
}

static void on_timer(uv_timer_t *t) {
  sio_redis_conn *c = t->data;
  if (c->state == RC_DIALING || c->state == RC_HANDSHAKE) {
    char why[64];
    snprintf(why, sizeof(why), "not ready within %u ms",
             (unsigned)c->connect_timeout_ms);
    rc_end(c, SIO_ERR_TIMEOUT, why, 1);
    return;
  }
  if (!sio_queue_empty(&c->pending)) {
    rc_cmd *k = sio_container_of(sio_queue_head(&c->pending), rc_cmd, link);
    if (k->deadline <= uv_now(c->net->loop)) {
      char why[64];
      snprintf(why, sizeof(why), "no reply within %u ms",
               (unsigned)c->command_timeout_ms);
      rc_end(c, SIO_ERR_TIMEOUT, why, 1);
      return;
    }
  }
  arm_timer(c);
}

static int write_cmd(sio_redis_conn *c, rc_cmd *k, const char *wire,
                     size_t len) {
  uint64_t due = uv_now(c->net->loop) + c->command_timeout_ms;
  int rv = sio_conn_write(&c->conn, wire, len);
  if (rv)
    return rv;
  if (!sio_queue_empty(&c->pending)) {
    /* behind a command that waits in Redis, this one waits too */
    const rc_cmd *tail =
        sio_container_of(sio_queue_tail(&c->pending), rc_cmd, link);
    if (tail->kind != K_HANDSHAKE && tail->deadline > due)
      due = tail->deadline;
  }
  k->deadline = due + k->wait_ms;
  sio_queue_insert_tail(&c->pending, &k->link);
  c->npending++;
  if (c->npending == 1 && c->state == RC_READY)
    arm_timer(c);
  return 0;
}

/* A subscription command's confirmations: one per channel argument
 * (UNSUBSCRIBE without arguments answers once per subscription, which the
 * owners never send). */
static int cmd_kind(int argc, const char **argv, const size_t *lens) {
  static const char *const sub[] = {"SUBSCRIBE", "PSUBSCRIBE", "SSUBSCRIBE"};
  static const char *const unsub[] = {"UNSUBSCRIBE", "PUNSUBSCRIBE",
                                      "SUNSUBSCRIBE"};
  size_t n = lens ? lens[0] : strlen(argv[0]), i;
  if (argc < 2)
    return K_PLAIN;
  for (i = 0; i < 3; i++) {
    if (n == strlen(sub[i]) && strncasecmp(argv[0], sub[i], n) == 0)
      return K_SUB;
    if (n == strlen(unsub[i]) && strncasecmp(argv[0], unsub[i], n) == 0)
      return K_UNSUB;
  }
  return K_PLAIN;
}

int sio_redis_conn_command(sio_redis_conn *c, int argc, const char **argv,
                           const size_t *lens, sio_redis_reply_cb cb,
                           void *ud) {
  return sio_redis_conn_command_wait(c, argc, argv, lens, 0, cb, ud);
}

int sio_redis_conn_command_wait(sio_redis_conn *c, int argc, const char **argv,
                                const size_t *lens, uint32_t wait_ms,
                                sio_redis_reply_cb cb, void *ud) {
  rc_cmd *k;
  char *wire = NULL;
  int len, rv;
  if (!c || argc < 1 || !argv)
    return SIO_ERR_INVAL;
  if (c->state == RC_DEAD)
    return SIO_ERR_CLOSED;
  if (c->npending + c->nheld >= c->max_pending)
    return SIO_ERR_LIMIT;
  k = sio_calloc(1, sizeof(*k));
  if (!k)
    return SIO_ERR_NOMEM;
  len = redisFormatCommandArgv(&wire, argc, argv, lens);
  if (len < 0 || !wire) {
    sio_free(k);
    return SIO_ERR_NOMEM;
  }
  k->kind = cmd_kind(argc, argv, lens);
  k->replies_left = k->kind == K_PLAIN ? 1 : (size_t)(argc - 1);
  k->wait_ms = wait_ms;
  k->cb = cb;
  k->ud = ud;
  if (c->state != RC_READY) {
    k->wire = wire;
    k->wirelen = (size_t)len;
    sio_queue_insert_tail(&c->held, &k->link);
    c->nheld++;
    return 0;
  }
  rv = write_cmd(c, k, wire, (size_t)len);
  redisFreeCommand(wire);
  if (rv)
    sio_free(k);
  return rv;
}

size_t sio_redis_conn_pending(const sio_redis_conn *c) {
  return c ? c->npending + c->nheld : 0;
}

int sio_redis_conn_is_ready(const sio_redis_conn *c) {
  return c && c->state == RC_READY;
}

static void become_ready(sio_redis_conn *c) {
  c->state = RC_READY;
  uv_timer_stop(&c->timer);
  while (!sio_queue_empty(&c->held)) {
    rc_cmd *k = sio_container_of(sio_queue_head(&c->held), rc_cmd, link);
    int rv;
    sio_queue_remove(&k->link);
    c->nheld--;
    rv = write_cmd(c, k, k->wire, k->wirelen);
    redisFreeCommand(k->wire);
    k->wire = NULL;
    if (rv) {
      if (k->cb)
        k->cb(k->ud, SIO_ERR_IO, NULL);
      sio_free(k);
      rc_end(c, SIO_ERR_IO, "cannot write", 1);
      return;
    }
  }
  arm_timer(c);
  if (c->h.ready)
    c->h.ready(c->ud, c);
}

/* Messages, and an sunsubscribe no command asked for. */
static int is_push(const sio_redis_conn *c, const redisReply *r) {
  int oldest_is_unsub = 0;
  if (!sio_queue_empty(&c->pending)) {
    const rc_cmd *k = sio_container_of(sio_queue_head((sio_queue *)&c->pending),
                                       rc_cmd, link);
    oldest_is_unsub = k->kind == K_UNSUB;
  }
  return sio_redis_push_classify(r, oldest_is_unsub) != SIO_REDIS_PUSH_NONE;
}

/* Returns 0, or -1 once the connection ended. */
static int dispatch(sio_redis_conn *c, redisReply *r) {
  rc_cmd *k;
  if (is_push(c, r)) {
    if (c->h.push)
      c->h.push(c->ud, c, r);
    return c->state == RC_DEAD ? -1 : 0;
  }
  if (sio_queue_empty(&c->pending)) {
    rc_end(c, SIO_ERR_PROTO, "reply to no command", 1);
    return -1;
  }
  k = sio_container_of(sio_queue_head(&c->pending), rc_cmd, link);
  if (k->kind == K_HANDSHAKE) {
    if (r->type == REDIS_REPLY_ERROR) {
      const char *e = r->str ? r->str : "";
      int st = strncmp(e, "WRONGPASS", 9) == 0 ||
                       strncmp(e, "NOAUTH", 6) == 0 ||
                       strncmp(e, "NOPERM", 6) == 0 ||
                       strncmp(e, "ERR invalid password", 20) == 0
                   ? SIO_ERR_FORBIDDEN
                   : SIO_ERR_PROTO;
      SIO_LOGD("redis handshake: %s", e);
      rc_end(c, st,
             st == SIO_ERR_FORBIDDEN ? "authentication refused"
                                     : "handshake refused",
             1);
      return -1;
    }
    sio_queue_remove(&k->link);
    c->npending--;
    cmd_free(k);
    if (--c->hs_left == 0)
      become_ready(c);
    return c->state == RC_DEAD ? -1 : 0;
  }
  /* A subscription's error ends it at once; a confirmation counts. */
  if (k->kind != K_PLAIN && r->type != REDIS_REPLY_ERROR &&
      --k->replies_left > 0) {
    k->deadline = uv_now(c->net->loop) + c->command_timeout_ms;
    return 0;
  }
  sio_queue_remove(&k->link);
  c->npending--;
  if (k->cb)
    k->cb(k->ud, 0, r);
  cmd_free(k);
  if (c->state == RC_DEAD)
    return -1;
  arm_timer(c);
  return 0;
}

static void rc_on_read(sio_conn *sc, const uint8_t *data, size_t len) {
  sio_redis_conn *c = (sio_redis_conn *)sc;
  if (c->state == RC_DEAD || !c->reader_open)
    return;
  if (sio_redis_reader_feed(&c->reader, data, len)) {
    rc_end(c, SIO_ERR_NOMEM, "out of memory", 1);
    return;
  }
  for (;;) {
    redisReply *reply;
    int rv = sio_redis_reader_get(&c->reader, &reply);
    if (rv) {
      char why[64];
      if (rv == SIO_ERR_TOOBIG)
        snprintf(why, sizeof(why), "a reply over %zu bytes",
                 c->reader.max_reply_bytes);
      rc_end(c, rv == SIO_ERR_NOMEM ? SIO_ERR_PROTO : rv,
             rv == SIO_ERR_TOOBIG ? why : "reply does not parse", 1);
      return;
    }
    if (!reply)
      return;
    if (dispatch(c, reply) < 0) {
      freeReplyObject(reply);
      return;
    }
    freeReplyObject(reply);
  }
}

static void rc_on_error(sio_conn *sc, int status) {
  sio_redis_conn *c = (sio_redis_conn *)sc;
  char why[200];
  snprintf(why, sizeof(why), "connection lost: %s",
           status == UV_EOF      ? "closed by the server"
           : status == UV_EPROTO ? sio_tls_last_failure()
                                 : uv_strerror(status));
  rc_end(c, SIO_ERR_IO, why, 1);
}

static void rc_on_close(sio_conn *sc) {
  sio_redis_conn *c = (sio_redis_conn *)sc;
  c->handle_open = 0;
  /* A dial closed before it finished ends here too. */
  rc_end(c, SIO_ERR_IO, "connection lost", 1);
  if (!c->timer_open)
    rc_free(c);
}

static void rc_dialed(sio_conn *sc, int status, const char *why) {
  sio_redis_conn *c = (sio_redis_conn *)sc;
  rc_cmd *k;
  int i;
  if (c->state != RC_DIALING)
    return;
  if (status) {
    rc_end(c, status, why, 1);
    return;
  }
  c->state = RC_HANDSHAKE;
  if (!c->hs_count) {
    become_ready(c);
    return;
  }
  if (sio_conn_write(&c->conn, c->hs_wire, c->hs_wirelen)) {
    rc_end(c, SIO_ERR_IO, "cannot write", 1);
    return;
  }
  redisFreeCommand(c->hs_wire);
  c->hs_wire = NULL;
  /* One FIFO record per handshake reply, so replies stay in order with
   * whatever follows. */
  for (i = 0; i < c->hs_count; i++) {
    k = sio_calloc(1, sizeof(*k));
    if (!k) {
      rc_end(c, SIO_ERR_NOMEM, "out of memory", 1);
      return;
    }
    k->kind = K_HANDSHAKE;
    k->replies_left = 1;
    k->deadline = UINT64_MAX; /* the connect deadline covers them */
    sio_queue_insert_tail(&c->pending, &k->link);
    c->npending++;
  }
  c->hs_left = (size_t)c->hs_count;
}

static const sio_conn_ops rc_conn_ops = {
    .on_read = rc_on_read,
    .on_error = rc_on_error,
    .on_close = rc_on_close,
};

/* Formats AUTH and SELECT into one buffer. */
static int format_handshake(sio_redis_conn *c, const sio_redis_target *t) {
  char *parts[2] = {NULL, NULL};
  size_t lens[2] = {0, 0};
  char dbtxt[16];
  int n = 0, len, i;
  if (t->password) {
    const char *argv[3] = {"AUTH", t->user ? t->user : t->password,
                           t->password};
    len = redisFormatCommandArgv(&parts[n], t->user ? 3 : 2, argv, NULL);
    if (len < 0)
      goto nomem;
    lens[n++] = (size_t)len;
  }
  if (t->db > 0) {
    const char *argv[2] = {"SELECT", dbtxt};
    snprintf(dbtxt, sizeof(dbtxt), "%d", t->db);
    len = redisFormatCommandArgv(&parts[n], 2, argv, NULL);
    if (len < 0)
      goto nomem;
    lens[n++] = (size_t)len;
  }
  c->hs_count = n;
  if (!n)
    return 0;
  c->hs_wirelen = lens[0] + lens[1];
  c->hs_wire = malloc(c->hs_wirelen); /* freed with redisFreeCommand */
  if (!c->hs_wire)
    goto nomem;
  memcpy(c->hs_wire, parts[0], lens[0]);
  if (n > 1)
    memcpy(c->hs_wire + lens[0], parts[1], lens[1]);
  for (i = 0; i < n; i++)
    redisFreeCommand(parts[i]);
  return 0;
nomem:
  for (i = 0; i < 2; i++)
    if (parts[i])
      redisFreeCommand(parts[i]);
  return SIO_ERR_NOMEM;
}

int sio_redis_conn_open(sio_redis_conn **out, sio_net *net,
                        const sio_redis_target *t, const sio_redis_conn_opts *o,
                        const sio_redis_conn_handler *h, void *ud) {
  sio_redis_conn *c;
  sio_dial_opts d;
  uint32_t connect_ms;
  int rv;
  *out = NULL;
  if (!net || !t || !h || (!t->host && !t->path))
    return SIO_ERR_INVAL;
  c = sio_calloc(1, sizeof(*c));
  if (!c)
    return SIO_ERR_NOMEM;
  c->net = net;
  c->h = *h;
  c->ud = ud;
  c->command_timeout_ms =
      o && o->command_timeout_ms ? o->command_timeout_ms : 5000;
  c->max_pending = o && o->max_pending ? o->max_pending : 10000;
  connect_ms = o && o->connect_timeout_ms ? o->connect_timeout_ms : 5000;
  c->connect_timeout_ms = connect_ms;
  sio_queue_init(&c->pending);
  sio_queue_init(&c->held);
  if (sio_redis_reader_init(&c->reader, o ? o->max_reply_bytes : 0) == 0)
    c->reader_open = 1;
  if (!c->reader_open || format_handshake(c, t)) {
    rc_release(c);
    sio_free(c);
    return SIO_ERR_NOMEM;
  }
  if (uv_timer_init(net->loop, &c->timer)) {
    rc_release(c);
    sio_free(c);
    return SIO_ERR_NOMEM;
  }
  c->timer.data = c;
  c->timer_open = 1;
  memset(&d, 0, sizeof(d));
  d.host = t->host;
  d.port = t->port;
  d.path = t->path;
  d.timeout_ms = connect_ms;
  d.tls = t->tls;
  d.server_name = t->server_name;
  rv = sio_dial(&c->conn, net, &rc_conn_ops, &d, rc_dialed);
  if (rv) {
    c->h.freed = NULL; /* the caller hears the error instead */
    rc_release(c);
    c->state = RC_DEAD;
    uv_close((uv_handle_t *)&c->timer, timer_closed);
    return rv;
  }
  c->handle_open = 1;
  c->state = RC_DIALING;
  /* The connect deadline covers the dial and the AUTH/SELECT replies. */
  uv_timer_start(&c->timer, on_timer, connect_ms, 0);
  *out = c;
  return 0;
}

void sio_redis_conn_close(sio_redis_conn *c) {
  if (c)
    rc_end(c, SIO_ERR_CANCELED, "closed", 0);
}

size_t sio_redis_argv_bytes(int argc, const char **argv, const size_t *lens) {
  size_t total = (size_t)argc * (sizeof(char *) + sizeof(size_t));
  int i;
  for (i = 0; i < argc; i++)
    total += lens ? lens[i] : strlen(argv[i]);
  return total;
}

void sio_redis_argv_copy(void *mem, int argc, const char **argv,
                         const size_t *lens, const char ***argv_out,
                         size_t **lens_out) {
  const char **av = mem;
  size_t *lv = (size_t *)(av + argc), off = 0;
  char *p = (char *)(lv + argc);
  int i;
  for (i = 0; i < argc; i++) {
    lv[i] = lens ? lens[i] : strlen(argv[i]);
    memcpy(p + off, argv[i], lv[i]);
    av[i] = p + off;
    off += lv[i];
  }
  *argv_out = av;
  *lens_out = lv;
}
