/* test_sio_redis_cluster.c: the Redis Cluster driver
 * (sio_redis_cluster.c): key slots, then against a real 3-master cluster
 * started here: sharded subscriptions spread over every master, SPUBLISH
 * routed to the owner, SHARDNUMSUB, and a slot migrated under a publish
 * stream (the subscription follows its slot, the publisher follows
 * MOVED/ASK); commands routed to their key's owner, following MOVED and
 * ASK a bounded number of times, and XREAD BLOCK on a node's blocking
 * connection. Every loop test ends with the loop closed cleanly. */
#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <hiredis/hiredis.h>

#include "check_suites.h"
#include "redis_proc.h"
#include "sio/sio_errno.h"
#include "sio_redis_cluster.h"

START_TEST(test_key_slot) {
  ck_assert_uint_eq(sio_redis_key_slot("123456789", 9), 12739);
  ck_assert_uint_eq(sio_redis_key_slot("foo", 3), 12182);
  ck_assert_uint_eq(sio_redis_key_slot("{user1000}.following", 20),
                    sio_redis_key_slot("{user1000}.followers", 20));
  ck_assert_uint_eq(sio_redis_key_slot("{user1000}.following", 20),
                    sio_redis_key_slot("user1000", 8));
  /* an empty tag hashes the whole name; only the first tag counts */
  ck_assert_uint_eq(sio_redis_key_slot("foo{}{bar}", 10),
                    sio_redis_key_slot("foo{}{bar}", 10));
  ck_assert_uint_ne(sio_redis_key_slot("foo{}{bar}", 10),
                    sio_redis_key_slot("bar", 3));
  ck_assert_uint_eq(sio_redis_key_slot("foo{{bar}}zap", 13),
                    sio_redis_key_slot("{bar", 4));
  ck_assert_uint_eq(sio_redis_key_slot("foo{bar}{zap}", 13),
                    sio_redis_key_slot("bar", 3));
  ck_assert_uint_eq(sio_redis_key_slot("", 0), 0);
}
END_TEST

/* ------------------------------------------------------------- the bus */

#define NCHAN 24

typedef struct sink {
  int ready;
  int state_changes;
  int got[NCHAN];
  int total;
  int last_seq[NCHAN]; /* migration test: highest sequence seen */
  int seq_count;
  int counted;
  int64_t count;
} sink;

static void on_message(void *ud, const char *pattern, const char *channel,
                       const uint8_t *data, size_t len) {
  sink *s = ud;
  int i = atoi(strrchr(channel, '-') + 1);
  (void)pattern;
  ck_assert_int_lt(i, NCHAN);
  s->got[i]++;
  s->total++;
  if (len && data[0] == '#') {
    char buf[32];
    size_t n = len < sizeof(buf) - 1 ? len : sizeof(buf) - 1;
    memcpy(buf, data + 1, n - 1);
    buf[n - 1] = 0;
    s->last_seq[i] = atoi(buf);
    s->seq_count++;
  }
}

static void on_state(void *ud, int ready) {
  sink *s = ud;
  s->ready = ready;
  s->state_changes++;
}

static const sio_pubsub_handler handler = {on_message, on_state};

static void noop(uv_timer_t *t) { (void)t; }

static int run_until(uv_loop_t *loop, const int *flag, int want, uint32_t ms) {
  uv_timer_t t;
  uint64_t end = uv_now(loop) + ms;
  uv_timer_init(loop, &t);
  uv_timer_start(&t, noop, 5, 5);
  while (*flag < want && uv_now(loop) < end)
    uv_run(loop, UV_RUN_ONCE);
  uv_close((uv_handle_t *)&t, NULL);
  uv_run(loop, UV_RUN_NOWAIT);
  return *flag >= want;
}

static void run_for(uv_loop_t *loop, uint32_t ms) {
  int never = 0;
  run_until(loop, &never, 1, ms);
}

static int closed;
static void on_closed(void *arg) {
  (void)arg;
  closed++;
}

static void close_drv(uv_loop_t *loop, sio_redis_cluster *k) {
  int before = closed;
  sio_redis_cluster_pubsub_ops.close(k, on_closed, NULL);
  ck_assert(run_until(loop, &closed, before + 1, 5000));
}

static void chan_name(char *buf, size_t len, int i) {
  snprintf(buf, len, "socket.io#/#room-%d", i);
}

static void on_count(void *ud, int status, int64_t count) {
  sink *s = ud;
  ck_assert_int_eq(status, 0);
  s->count = count;
  s->counted++;
}

static sio_redis_cluster *open_drv(uv_loop_t *loop, const char *url, sink *s) {
  sio_redis_cluster *k;
  sio_redis_options o;
  memset(&o, 0, sizeof(o));
  o.connect_timeout_ms = 2000;
  o.command_timeout_ms = 2000;
  ck_assert_int_eq(sio_redis_cluster_new(&k, loop, url, &o), 0);
  sio_redis_cluster_pubsub_ops.set_handler(k, &handler, s);
  return k;
}

START_TEST(test_sharded_pubsub_on_three_masters) {
  redis_cluster rc;
  uv_loop_t loop;
  sink sub = {0}, pub = {0};
  sio_redis_cluster *ks, *kp;
  const sio_pubsub_ops *ops = &sio_redis_cluster_pubsub_ops;
  int owners[3] = {0, 0, 0}, i;
  char name[64];
  SKIP_WITHOUT_REDIS();
  redis_cluster_start(&rc, 3);
  ck_assert_int_eq(uv_loop_init(&loop), 0);
  ks = open_drv(&loop, rc.url, &sub);
  kp = open_drv(&loop, rc.url, &pub);
  ck_assert_int_eq(ops->subscribe(ks, "x", SIO_PUBSUB_CHANNEL),
                   SIO_ERR_UNSUPPORTED);
  for (i = 0; i < NCHAN; i++) {
    chan_name(name, sizeof(name), i);
    ck_assert_int_eq(ops->subscribe(ks, name, SIO_PUBSUB_SHARD), 0);
    owners[redis_cluster_owner(&rc, sio_redis_key_slot(name, strlen(name)))]++;
  }
  /* the channels really are spread over the three masters */
  ck_assert_int_gt(owners[0], 0);
  ck_assert_int_gt(owners[1], 0);
  ck_assert_int_gt(owners[2], 0);
  ck_assert(run_until(&loop, &sub.ready, 1, 5000));
  ck_assert(run_until(&loop, &pub.ready, 1, 5000));
  for (i = 0; i < NCHAN; i++) {
    chan_name(name, sizeof(name), i);
    ck_assert_int_eq(ops->spublish(kp, name, (const uint8_t *)"hi", 2), 0);
  }
  ck_assert(run_until(&loop, &sub.total, NCHAN, 5000));
  for (i = 0; i < NCHAN; i++)
    ck_assert_int_eq(sub.got[i], 1);
  chan_name(name, sizeof(name), 5);
  ck_assert_int_eq(ops->shardnumsub(kp, name, on_count, &pub), 0);
  ck_assert(run_until(&loop, &pub.counted, 1, 5000));
  ck_assert_int_eq(pub.count, 1);
  /* unsubscribed: no longer delivered, no longer counted */
  ck_assert_int_eq(ops->unsubscribe(ks, name, SIO_PUBSUB_SHARD), 0);
  run_for(&loop, 200);
  ck_assert_int_eq(ops->shardnumsub(kp, name, on_count, &pub), 0);
  ck_assert(run_until(&loop, &pub.counted, 2, 5000));
  ck_assert_int_eq(pub.count, 0);
  close_drv(&loop, ks);
  close_drv(&loop, kp);
  ck_assert_int_eq(uv_loop_close(&loop), 0);
  redis_cluster_cleanup(&rc);
}
END_TEST

typedef struct stream {
  uv_timer_t t;
  sio_redis_cluster *k;
  char chan[64];
  int seq;
  int failed;
} stream;

static void stream_tick(uv_timer_t *t) {
  stream *s = t->data;
  char buf[32];
  int n = snprintf(buf, sizeof(buf), "#%d", s->seq + 1);
  if (sio_redis_cluster_pubsub_ops.spublish(s->k, s->chan, (uint8_t *)buf,
                                            (size_t)n) == 0)
    s->seq++;
  else
    s->failed++;
}

/* A numbered stream on one channel while its slot moves to another
 * master: the subscriber follows the slot (sunsubscribe from the old
 * owner, SSUBSCRIBE at the new), the publisher follows MOVED/ASK, and
 * every message published once the subscription is back arrives. */
START_TEST(test_slot_migration_under_a_stream) {
  redis_cluster rc;
  uv_loop_t loop;
  sink sub = {0}, pub = {0};
  sio_redis_cluster *ks, *kp;
  const sio_pubsub_ops *ops = &sio_redis_cluster_pubsub_ops;
  stream st;
  unsigned slot;
  int from, to, before, sent_at_move, lost;
  SKIP_WITHOUT_REDIS();
  redis_cluster_start(&rc, 3);
  ck_assert_int_eq(uv_loop_init(&loop), 0);
  ks = open_drv(&loop, rc.url, &sub);
  kp = open_drv(&loop, rc.url, &pub);
  memset(&st, 0, sizeof(st));
  chan_name(st.chan, sizeof(st.chan), 7);
  ck_assert_int_eq(ops->subscribe(ks, st.chan, SIO_PUBSUB_SHARD), 0);
  ck_assert(run_until(&loop, &sub.ready, 1, 5000));
  ck_assert(run_until(&loop, &pub.ready, 1, 5000));
  st.k = kp;
  uv_timer_init(&loop, &st.t);
  st.t.data = &st;
  uv_timer_start(&st.t, stream_tick, 5, 5);
  run_for(&loop, 300);
  before = sub.got[7];
  ck_assert_int_gt(before, 10);
  slot = sio_redis_key_slot(st.chan, strlen(st.chan));
  from = redis_cluster_owner(&rc, slot);
  to = (from + 1) % 3;
  sent_at_move = st.seq;
  ck_assert_int_eq(redis_cluster_move_slot(&rc, slot, to), 0);
  ck_assert_int_eq(redis_cluster_owner(&rc, slot), to);
  run_for(&loop, 1500);
  uv_timer_stop(&st.t);
  run_for(&loop, 300);
  lost = st.seq - sub.got[7];
  fprintf(stderr,
          "slot migration: %d published (%d before the move), %d received, "
          "%d lost, %d refused by the driver\n",
          st.seq, sent_at_move, sub.got[7], lost, st.failed);
  /* the stream went on at the new owner and reached the subscriber */
  ck_assert_int_gt(sub.got[7], before + 50);
  ck_assert_int_eq(sub.last_seq[7], st.seq);
  ck_assert_int_ge(lost, 0);
  uv_close((uv_handle_t *)&st.t, NULL);
  close_drv(&loop, ks);
  close_drv(&loop, kp);
  ck_assert_int_eq(uv_loop_close(&loop), 0);
  redis_cluster_cleanup(&rc);
}
END_TEST

START_TEST(test_unreachable_cluster) {
  uv_loop_t loop;
  sink s = {0};
  sio_redis_cluster *k;
  char url[128];
  snprintf(url, sizeof(url), "redis+cluster://127.0.0.1:%d,127.0.0.1:%d",
           free_port(), free_port());
  ck_assert_int_eq(uv_loop_init(&loop), 0);
  k = open_drv(&loop, url, &s);
  ck_assert_int_eq(
      sio_redis_cluster_pubsub_ops.subscribe(k, "c-1", SIO_PUBSUB_SHARD), 0);
  run_for(&loop, 600);
  ck_assert_int_eq(s.ready, 0);
  ck_assert_int_eq(
      sio_redis_cluster_pubsub_ops.spublish(k, "c-1", (uint8_t *)"x", 1),
      SIO_ERR_CLOSED);
  close_drv(&loop, k);
  ck_assert_int_eq(sio_redis_cluster_new(&k, &loop, "redis://h", NULL),
                   SIO_ERR_INVAL);
  ck_assert_int_eq(uv_loop_close(&loop), 0);
}
END_TEST

/* rediss+cluster://: a TLS-only cluster (tls-cluster yes), the CA given
 * to the driver; the slot map names the TLS ports. */
START_TEST(test_tls_cluster) {
  redis_cluster rc;
  redis_proc certs;
  uv_loop_t loop;
  sink sub = {0}, pub = {0};
  sio_redis_cluster *ks, *kp;
  sio_redis_options o;
  const sio_pubsub_ops *ops = &sio_redis_cluster_pubsub_ops;
  char name[64], ca[160];
  int i;
  SKIP_WITHOUT_REDIS();
  redis_init(&certs);
  ck_assert(redis_make_certs(certs.dir));
  snprintf(ca, sizeof(ca), "%s/ca.crt", certs.dir);
  redis_cluster_start_tls(&rc, 3, certs.dir);
  ck_assert_int_eq(uv_loop_init(&loop), 0);
  memset(&o, 0, sizeof(o));
  o.connect_timeout_ms = 2000;
  o.tls_ca_file = ca;
  ck_assert_int_eq(sio_redis_cluster_new(&ks, &loop, rc.url, &o), 0);
  ck_assert_int_eq(sio_redis_cluster_new(&kp, &loop, rc.url, &o), 0);
  ops->set_handler(ks, &handler, &sub);
  ops->set_handler(kp, &handler, &pub);
  for (i = 0; i < NCHAN; i++) {
    chan_name(name, sizeof(name), i);
    ck_assert_int_eq(ops->subscribe(ks, name, SIO_PUBSUB_SHARD), 0);
  }
  ck_assert(run_until(&loop, &sub.ready, 1, 8000));
  ck_assert(run_until(&loop, &pub.ready, 1, 8000));
  for (i = 0; i < NCHAN; i++) {
    chan_name(name, sizeof(name), i);
    ck_assert_int_eq(ops->spublish(kp, name, (const uint8_t *)"hi", 2), 0);
  }
  ck_assert(run_until(&loop, &sub.total, NCHAN, 8000));
  close_drv(&loop, ks);
  close_drv(&loop, kp);
  ck_assert_int_eq(uv_loop_close(&loop), 0);
  /* a CA that did not sign the nodes' certificates: never ready */
  ck_assert_int_eq(uv_loop_init(&loop), 0);
  o.tls_ca_file = "/etc/ssl/certs/ca-certificates.crt";
  memset(&sub, 0, sizeof(sub));
  ck_assert_int_eq(sio_redis_cluster_new(&ks, &loop, rc.url, &o), 0);
  ops->set_handler(ks, &handler, &sub);
  run_for(&loop, 800);
  ck_assert_int_eq(sub.ready, 0);
  close_drv(&loop, ks);
  ck_assert_int_eq(uv_loop_close(&loop), 0);
  redis_cluster_cleanup(&rc);
  redis_cleanup(&certs);
}
END_TEST

/* ------------------------------------------------------------ commands */

typedef struct creply {
  int fired;
  int status;
  int type; /* REDIS_REPLY_*, -1 without a reply */
  size_t elements;
  char str[256];
} creply;

static int replies; /* every callback, any command */

static void on_reply(void *ud, int status, const redisReply *rep) {
  creply *c = ud;
  replies++;
  c->fired++;
  c->status = status;
  c->type = rep ? rep->type : -1;
  if (status)
    ck_assert_ptr_null(rep);
  if (rep && rep->str) {
    size_t n = rep->len < sizeof(c->str) - 1 ? rep->len : sizeof(c->str) - 1;
    memcpy(c->str, rep->str, n);
    c->str[n] = 0;
  }
  if (rep && rep->type == REDIS_REPLY_ARRAY)
    c->elements = rep->elements;
}

/* argv NULL-terminated; key: its index (0: none). The tests block the
 * loop in redis-cli: the loop's time is brought up to date first, or the
 * command's deadline would start in the past. */
static int cmd(uv_loop_t *loop, sio_redis_cluster *k, int lane,
               uint32_t wait_ms, int key, creply *c,
               const char *const *argv) {
  size_t lens[16];
  int argc;
  uv_update_time(loop);
  for (argc = 0; argv[argc]; argc++)
    lens[argc] = strlen(argv[argc]);
  memset(c, 0, sizeof(*c));
  return sio_redis_cluster_pubsub_ops.command(
      k, lane, argc, (const char **)argv, lens, key, wait_ms, on_reply, c);
}

#define ARGV(...) ((const char *const[]){__VA_ARGS__, NULL})

/* A driver with the command timeout given. A cluster node fsyncs
 * nodes.conf on every config change while the cluster settles, which on
 * a busy disk stalls it for hundreds of ms: only the test of BLOCKs that
 * outlast the timeout uses a short one. */
static sio_redis_cluster *open_cmd_drv(uv_loop_t *loop, const char *url,
                                       sink *s, uint32_t command_timeout_ms) {
  sio_redis_cluster *k;
  sio_redis_options o;
  memset(&o, 0, sizeof(o));
  o.connect_timeout_ms = 2000;
  o.command_timeout_ms = command_timeout_ms;
  o.ping_interval_ms = 60000; /* no PING out while redis-cli blocks */
  ck_assert_int_eq(sio_redis_cluster_new(&k, loop, url, &o), 0);
  sio_redis_cluster_pubsub_ops.set_handler(k, &handler, s);
  return k;
}

/* How many `command` calls node i refused with a redirection (INFO
 * commandstats' rejected_calls; 0 when never called). */
static int rejected(redis_cluster *rc, int i, const char *command) {
  char out[16384], needle[64], *p, *e;
  ck_assert_int_eq(redis_cli(&rc->node[i], "INFO commandstats", out,
                             sizeof(out)),
                   0);
  snprintf(needle, sizeof(needle), "cmdstat_%s:", command);
  p = strstr(out, needle);
  if (!p)
    return 0;
  e = strchr(p, '\n');
  if (e)
    *e = 0;
  p = strstr(p, "rejected_calls=");
  ck_assert_ptr_nonnull(p);
  return atoi(p + 15);
}

/* The keys in slot on node i (CLUSTER COUNTKEYSINSLOT). */
static int keys_in_slot(redis_cluster *rc, int i, unsigned slot) {
  char out[64], args[64];
  snprintf(args, sizeof(args), "CLUSTER COUNTKEYSINSLOT %u", slot);
  ck_assert_int_eq(redis_cli(&rc->node[i], args, out, sizeof(out)), 0);
  return atoi(out);
}

static int blocked_on(redis_cluster *rc, int i) {
  char out[4096], *p;
  ck_assert_int_eq(redis_cli(&rc->node[i], "INFO clients", out, sizeof(out)),
                   0);
  p = strstr(out, "blocked_clients:");
  return p ? atoi(p + 16) : -1;
}

/* Keys on all three masters: each command reaches its key's owner at
 * once (no node refused one with MOVED), what SET wrote is on the owner,
 * GET reads it back; key 0 goes to any master; an error reply is a reply;
 * no map yet: SIO_ERR_CLOSED. */
START_TEST(test_commands_on_three_masters) {
  redis_cluster rc;
  uv_loop_t loop;
  sink s = {0};
  sio_redis_cluster *k;
  creply c[NCHAN], e;
  int owners[3] = {0, 0, 0}, i, base;
  char key[NCHAN][32], val[NCHAN][32], out[128], args[64];
  SKIP_WITHOUT_REDIS();
  redis_cluster_start(&rc, 3);
  ck_assert_int_eq(uv_loop_init(&loop), 0);
  k = open_cmd_drv(&loop, rc.url, &s, 2000);
  ck_assert_int_eq(cmd(&loop, k, SIO_PUBSUB_LANE_PUB, 0, 0, &e, ARGV("PING")),
                   SIO_ERR_CLOSED);
  ck_assert_int_eq(cmd(&loop, k, 5, 0, 0, &e, ARGV("PING")), SIO_ERR_INVAL);
  ck_assert(run_until(&loop, &s.ready, 1, 5000));
  ck_assert_int_eq(cmd(&loop, k, SIO_PUBSUB_LANE_PUB, 0, 2, &e, ARGV("GET", "x")),
                   SIO_ERR_INVAL);
  ck_assert_int_eq(cmd(&loop, k, SIO_PUBSUB_LANE_PUB, 0, 0, &e, ARGV("PING")), 0);
  ck_assert(run_until(&loop, &e.fired, 1, 2000));
  ck_assert_int_eq(e.status, 0);
  ck_assert_str_eq(e.str, "PONG");
  base = replies;
  for (i = 0; i < NCHAN; i++) {
    snprintf(key[i], sizeof(key[i]), "key-%d", i);
    snprintf(val[i], sizeof(val[i]), "val-%d", i);
    owners[redis_cluster_owner(&rc,
                               sio_redis_key_slot(key[i], strlen(key[i])))]++;
    ck_assert_int_eq(
        cmd(&loop, k, SIO_PUBSUB_LANE_PUB, 0, 1, &c[i], ARGV("SET", key[i], val[i])),
        0);
  }
  ck_assert_int_gt(owners[0], 0);
  ck_assert_int_gt(owners[1], 0);
  ck_assert_int_gt(owners[2], 0);
  /* from three nodes: in any order */
  ck_assert(run_until(&loop, &replies, base + NCHAN, 3000));
  for (i = 0; i < NCHAN; i++) {
    int o = redis_cluster_owner(&rc, sio_redis_key_slot(key[i], strlen(key[i])));
    ck_assert_int_eq(c[i].fired, 1);
    ck_assert_int_eq(c[i].status, 0);
    ck_assert_str_eq(c[i].str, "OK");
    snprintf(args, sizeof(args), "GET %s", key[i]);
    ck_assert_int_eq(redis_cli(&rc.node[o], args, out, sizeof(out)), 0);
    out[strcspn(out, "\r\n")] = 0;
    ck_assert_str_eq(out, val[i]);
  }
  for (i = 0; i < 3; i++)
    ck_assert_int_eq(rejected(&rc, i, "set"), 0);
  base = replies;
  for (i = 0; i < NCHAN; i++)
    ck_assert_int_eq(cmd(&loop, k, SIO_PUBSUB_LANE_PUB, 0, 1, &c[i],
                         ARGV("GET", key[i])),
                     0);
  ck_assert(run_until(&loop, &replies, base + NCHAN, 3000));
  for (i = 0; i < NCHAN; i++) {
    ck_assert_int_eq(c[i].status, 0);
    ck_assert_str_eq(c[i].str, val[i]);
  }
  /* several keys of one slot (a hash tag) */
  ck_assert_int_eq(cmd(&loop, k, SIO_PUBSUB_LANE_PUB, 0, 1, &e,
                       ARGV("MSET", "{t}a", "1", "{t}b", "2")),
                   0);
  ck_assert(run_until(&loop, &e.fired, 1, 2000));
  ck_assert_str_eq(e.str, "OK");
  ck_assert_int_eq(cmd(&loop, k, SIO_PUBSUB_LANE_PUB, 0, 1, &e, ARGV("INCR", key[0])),
                   0);
  ck_assert(run_until(&loop, &e.fired, 1, 2000));
  ck_assert_int_eq(e.status, 0);
  ck_assert_int_eq(e.type, REDIS_REPLY_ERROR);
  for (i = 0; i < 3; i++)
    ck_assert_int_eq(rejected(&rc, i, "get") + rejected(&rc, i, "mset"), 0);
  close_drv(&loop, k);
  ck_assert_int_eq(uv_loop_close(&loop), 0);
  redis_cluster_cleanup(&rc);
}
END_TEST

static int node_id_of(redis_cluster *rc, int i, char *id, size_t len) {
  char out[128];
  size_t n;
  if (redis_cli(&rc->node[i], "CLUSTER MYID", out, sizeof(out)) != 0)
    return -1;
  n = strcspn(out, "\r\n");
  ck_assert(n > 0 && n < len);
  memcpy(id, out, n);
  id[n] = 0;
  return 0;
}

/* A slot moved after the driver read the map: MOVED (the old owner
 * refuses once), the command lands on the new owner, and the next one
 * goes there at once. A slot half migrated: ASK, answered with ASKING
 * at the importing node. A slot that redirects in a circle (MIGRATING
 * towards a node that is not IMPORTING): the last redirection is
 * delivered after CMD_MAX_REDIRECTS (5) resends, as an error reply. */
START_TEST(test_command_follows_moved_and_ask) {
  redis_cluster rc;
  uv_loop_t loop;
  sink s = {0};
  sio_redis_cluster *k;
  creply c;
  unsigned slot;
  int from, to, r0, r1;
  char ida[64], idb[64], args[160];
  SKIP_WITHOUT_REDIS();
  redis_cluster_start(&rc, 3);
  ck_assert_int_eq(uv_loop_init(&loop), 0);
  k = open_cmd_drv(&loop, rc.url, &s, 2000);
  ck_assert(run_until(&loop, &s.ready, 1, 5000));
  /* MOVED */
  slot = sio_redis_key_slot("mv", 2);
  from = redis_cluster_owner(&rc, slot);
  to = (from + 1) % 3;
  ck_assert_int_eq(redis_cluster_move_slot(&rc, slot, to), 0);
  ck_assert_int_eq(cmd(&loop, k, SIO_PUBSUB_LANE_PUB, 0, 1, &c, ARGV("SET", "mv", "1")),
                   0);
  ck_assert(run_until(&loop, &c.fired, 1, 3000));
  ck_assert_int_eq(c.status, 0);
  ck_assert_str_eq(c.str, "OK");
  ck_assert_int_eq(rejected(&rc, from, "set"), 1);
  ck_assert_int_eq(keys_in_slot(&rc, to, slot), 1);
  ck_assert_int_eq(
      cmd(&loop, k, SIO_PUBSUB_LANE_PUB, 0, 1, &c, ARGV("APPEND", "mv", "2")), 0);
  ck_assert(run_until(&loop, &c.fired, 1, 3000));
  ck_assert_int_eq(c.type, REDIS_REPLY_INTEGER);
  ck_assert_int_eq(rejected(&rc, from, "append"), 0);

  /* ASK: the importing node takes a key the migrating one lacks */
  slot = sio_redis_key_slot("ask", 3);
  from = redis_cluster_owner(&rc, slot);
  to = (from + 1) % 3;
  ck_assert_int_eq(node_id_of(&rc, from, ida, sizeof(ida)), 0);
  ck_assert_int_eq(node_id_of(&rc, to, idb, sizeof(idb)), 0);
  snprintf(args, sizeof(args), "CLUSTER SETSLOT %u IMPORTING %s", slot, ida);
  ck_assert_int_eq(redis_cli(&rc.node[to], args, NULL, 0), 0);
  snprintf(args, sizeof(args), "CLUSTER SETSLOT %u MIGRATING %s", slot, idb);
  ck_assert_int_eq(redis_cli(&rc.node[from], args, NULL, 0), 0);
  ck_assert_int_eq(
      cmd(&loop, k, SIO_PUBSUB_LANE_PUB, 0, 1, &c, ARGV("SET", "ask", "v")), 0);
  ck_assert(run_until(&loop, &c.fired, 1, 3000));
  ck_assert_int_eq(c.status, 0);
  ck_assert_str_eq(c.str, "OK");
  ck_assert_int_eq(keys_in_slot(&rc, to, slot), 1);
  ck_assert_int_eq(keys_in_slot(&rc, from, slot), 0);
  /* the migration completes: GET is MOVED there */
  snprintf(args, sizeof(args), "CLUSTER SETSLOT %u NODE %s", slot, idb);
  for (r0 = 0; r0 < 3; r0++)
    ck_assert_int_eq(redis_cli(&rc.node[r0], args, NULL, 0), 0);
  ck_assert_int_eq(cmd(&loop, k, SIO_PUBSUB_LANE_PUB, 0, 1, &c, ARGV("GET", "ask")),
                   0);
  ck_assert(run_until(&loop, &c.fired, 1, 3000));
  ck_assert_int_eq(c.status, 0);
  ck_assert_str_eq(c.str, "v");

  /* a circle: from says ASK to, to (not importing) says MOVED from */
  slot = sio_redis_key_slot("loop", 4);
  from = redis_cluster_owner(&rc, slot);
  to = (from + 1) % 3;
  ck_assert_int_eq(node_id_of(&rc, to, idb, sizeof(idb)), 0);
  snprintf(args, sizeof(args), "CLUSTER SETSLOT %u MIGRATING %s", slot, idb);
  ck_assert_int_eq(redis_cli(&rc.node[from], args, NULL, 0), 0);
  r0 = rejected(&rc, from, "strlen");
  r1 = rejected(&rc, to, "strlen");
  ck_assert_int_eq(cmd(&loop, k, SIO_PUBSUB_LANE_PUB, 0, 1, &c, ARGV("STRLEN", "loop")),
                   0);
  ck_assert(run_until(&loop, &c.fired, 1, 3000));
  ck_assert_int_eq(c.status, 0);
  ck_assert_int_eq(c.type, REDIS_REPLY_ERROR);
  ck_assert_msg(strncmp(c.str, "MOVED", 5) == 0, "%s", c.str);
  /* sent 6 times: the first and 5 redirections */
  ck_assert_int_eq(rejected(&rc, from, "strlen") - r0, 3);
  ck_assert_int_eq(rejected(&rc, to, "strlen") - r1, 3);
  snprintf(args, sizeof(args), "CLUSTER SETSLOT %u STABLE", slot);
  ck_assert_int_eq(redis_cli(&rc.node[from], args, NULL, 0), 0);
  ck_assert_int_eq(c.fired, 1);
  close_drv(&loop, k);
  ck_assert_int_eq(c.fired, 1);
  ck_assert_int_eq(uv_loop_close(&loop), 0);
  redis_cluster_cleanup(&rc);
}
END_TEST

/* XREAD BLOCK on a cluster key waits at its owner on that node's
 * blocking connection: SPUBLISH and commands on the publisher lane go on
 * meanwhile; an XADD ends it; a BLOCK that runs out (1500 ms, the command
 * timeout is 1000) is a nil reply; close() cancels one still waiting,
 * once. */
START_TEST(test_command_blocking_xread) {
  redis_cluster rc;
  uv_loop_t loop;
  sink s = {0};
  sio_redis_cluster *k;
  creply x, p, a;
  int owner, i;
  const char *sk = "{bs}stream";
  SKIP_WITHOUT_REDIS();
  redis_cluster_start(&rc, 3);
  ck_assert_int_eq(uv_loop_init(&loop), 0);
  k = open_cmd_drv(&loop, rc.url, &s, 1000);
  ck_assert(run_until(&loop, &s.ready, 1, 5000));
  owner = redis_cluster_owner(&rc, sio_redis_key_slot(sk, strlen(sk)));
  ck_assert_int_eq(cmd(&loop, k, SIO_PUBSUB_LANE_BLOCKING, 2000, 4, &x,
                       ARGV("XREAD", "BLOCK", "2000", "STREAMS", sk, "$")),
                   0);
  for (i = 0; i < 100 && blocked_on(&rc, owner) != 1; i++)
    run_for(&loop, 20);
  ck_assert_int_eq(blocked_on(&rc, owner), 1);
  ck_assert_int_eq(x.fired, 0);
  ck_assert_int_eq(sio_redis_cluster_pubsub_ops.spublish(
                       k, sk, (const uint8_t *)"m", 1),
                   0);
  ck_assert_int_eq(
      cmd(&loop, k, SIO_PUBSUB_LANE_PUB, 0, 1, &p, ARGV("XLEN", sk)), 0);
  ck_assert(run_until(&loop, &p.fired, 1, 1000));
  ck_assert_int_eq(p.status, 0);
  ck_assert_int_eq(p.type, REDIS_REPLY_INTEGER);
  ck_assert_int_eq(x.fired, 0);
  ck_assert_int_eq(cmd(&loop, k, SIO_PUBSUB_LANE_PUB, 0, 1, &a,
                       ARGV("XADD", sk, "*", "f", "v")),
                   0);
  ck_assert(run_until(&loop, &x.fired, 1, 1000));
  ck_assert_int_eq(x.status, 0);
  ck_assert_int_eq(x.type, REDIS_REPLY_ARRAY);
  ck_assert_uint_eq(x.elements, 1);
  /* nothing comes */
  ck_assert_int_eq(cmd(&loop, k, SIO_PUBSUB_LANE_BLOCKING, 1500, 4, &x,
                       ARGV("XREAD", "BLOCK", "1500", "STREAMS", sk, "$")),
                   0);
  ck_assert(run_until(&loop, &x.fired, 1, 3000));
  ck_assert_int_eq(x.status, 0);
  ck_assert_int_eq(x.type, REDIS_REPLY_NIL);
  /* close while one waits */
  ck_assert_int_eq(cmd(&loop, k, SIO_PUBSUB_LANE_BLOCKING, 5000, 4, &x,
                       ARGV("XREAD", "BLOCK", "5000", "STREAMS", sk, "$")),
                   0);
  for (i = 0; i < 100 && blocked_on(&rc, owner) != 1; i++)
    run_for(&loop, 20);
  ck_assert_int_eq(blocked_on(&rc, owner), 1);
  close_drv(&loop, k);
  ck_assert_int_eq(x.fired, 1);
  ck_assert_int_eq(x.status, SIO_ERR_CANCELED);
  ck_assert_int_eq(uv_loop_close(&loop), 0);
  redis_cluster_cleanup(&rc);
}
END_TEST

Suite *sio_redis_cluster_suite(void) {
  Suite *s = suite_create("sio_redis_cluster");
  TCase *tc = tcase_create("core");
  tcase_set_timeout(tc, 60);
  tcase_add_test(tc, test_key_slot);
  tcase_add_test(tc, test_unreachable_cluster);
  tcase_add_test(tc, test_sharded_pubsub_on_three_masters);
  tcase_add_test(tc, test_slot_migration_under_a_stream);
  tcase_add_test(tc, test_tls_cluster);
  tcase_add_test(tc, test_commands_on_three_masters);
  tcase_add_test(tc, test_command_follows_moved_and_ask);
  tcase_add_test(tc, test_command_blocking_xread);
  suite_add_tcase(s, tc);
  return s;
}
