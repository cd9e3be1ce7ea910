/* test_sio_redis_cluster.c: the Redis Cluster driver
 * (sio_redis_cluster.c): key slots, then against a real 3-master cluster
 * started here: sharded subscriptions spread over every master, SPUBLISH
 * routed to the owner, SHARDNUMSUB, and a slot migrated under a publish
 * stream (the subscription follows its slot, the publisher follows
 * MOVED/ASK). Every loop test ends with the loop closed cleanly. */
#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

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

Suite *sio_redis_cluster_suite(void) {
  Suite *s = suite_create("sio_redis_cluster");
  TCase *tc = tcase_create("core");
  tcase_set_timeout(tc, 60);
  tcase_add_test(tc, test_key_slot);
  tcase_add_test(tc, test_unreachable_cluster);
  tcase_add_test(tc, test_sharded_pubsub_on_three_masters);
  tcase_add_test(tc, test_slot_migration_under_a_stream);
  tcase_add_test(tc, test_tls_cluster);
  suite_add_tcase(s, tc);
  return s;
}
