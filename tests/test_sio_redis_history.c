/* test_sio_redis_history.c: the fleet's room history in a real
 * redis-server (sio_redis_history.c): what the scripts keep and read back,
 * the bounds, and replies of the wrong shape. The driver here is the
 * smallest one with a command op (hiredis's blocking client, answers
 * handed back when the test drains them, never from inside the call):
 * the scripts and Redis are what is under test. */
#include <check.h>
#include <hiredis/hiredis.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "check_suites.h"
#include "redis_proc.h"
#include "sio/sio.h"
#include "sio_redis_history.h"

typedef struct pending {
  sio_pubsub_reply_cb cb;
  void *ud;
  redisReply *rep;
} pending;

typedef struct tdrv {
  redisContext *c;
  pending q[64];
  size_t n;
  int fail;            /* command returns this */
  const char *instead; /* run this command instead (a reply of the wrong
                          shape) */
  int last_key;
} tdrv;

static int td_command(void *drv, int lane, int argc, const char **argv,
                      const size_t *lens, int key, uint32_t timeout_ms,
                      sio_pubsub_reply_cb cb, void *ud) {
  tdrv *d = drv;
  redisReply *r;
  ck_assert_int_eq(lane, SIO_PUBSUB_LANE_PUB); /* ordered with publishes */
  ck_assert_uint_eq(timeout_ms, 0);
  if (d->fail)
    return d->fail;
  d->last_key = key;
  r = d->instead ? redisCommand(d->c, d->instead)
                 : redisCommandArgv(d->c, argc, argv, lens);
  ck_assert_ptr_nonnull(r);
  ck_assert_uint_lt(d->n, 64);
  d->q[d->n].cb = cb;
  d->q[d->n].ud = ud;
  d->q[d->n++].rep = r;
  return 0;
}

static void drain(tdrv *d) {
  size_t i, n = d->n;
  d->n = 0;
  for (i = 0; i < n; i++) {
    d->q[i].cb(d->q[i].ud, 0, d->q[i].rep);
    freeReplyObject(d->q[i].rep);
  }
}

static sio_pubsub_ops td_ops(void) {
  sio_pubsub_ops o;
  memset(&o, 0, sizeof(o));
  o.command = td_command;
  return o;
}

typedef struct got {
  int calls, status, complete;
  size_t n;
  char ids[16][40];
  char pkts[16][64];
} got;

static void on_read(void *ud, int status, const sio_adapter_history_event *ev,
                    size_t n, int complete) {
  got *g = ud;
  size_t i;
  g->calls++;
  g->status = status;
  g->complete = complete;
  g->n = n;
  for (i = 0; i < n && i < 16; i++) {
    snprintf(g->ids[i], sizeof(g->ids[i]), "%s", ev[i].id);
    snprintf(g->pkts[i], sizeof(g->pkts[i]), "%.*s", (int)ev[i].len,
             (const char *)ev[i].pkt);
  }
}

typedef struct fx {
  redis_proc r;
  tdrv d;
  sio_pubsub_ops ops;
} fx;

static int fx_start(fx *f) {
  if (!have_redis())
    return 0;
  memset(f, 0, sizeof(*f));
  redis_init(&f->r);
  redis_start(&f->r, 0, NULL);
  f->d.c = redisConnect("127.0.0.1", f->r.port);
  ck_assert(f->d.c && !f->d.c->err);
  f->ops = td_ops();
  return 1;
}

static void fx_stop(fx *f) {
  redisFree(f->d.c);
  redis_cleanup(&f->r);
}

/* Offers event id (its packet names it) to rooms r1[, r2]. */
static void offer(fx *f, const char *id, const char *r1, const char *r2,
                  uint32_t max_events, uint32_t max_age_ms) {
  const char *rooms[2] = {r1, r2};
  char pkt[64];
  snprintf(pkt, sizeof(pkt), "42[\"ev\",{\"id\":\"%s\"}]", id);
  ck_assert_int_eq(sio_redis_history_append(&f->ops, &f->d, "socket.io", "/",
                                            id, rooms, r2 ? 2 : 1,
                                            (const uint8_t *)pkt, strlen(pkt),
                                            max_events, max_age_ms),
                   0);
  ck_assert_int_eq(f->d.last_key, 3); /* routed by the namespace's tag */
  drain(&f->d);
}

static void read_back(fx *f, got *g, const char *r1, const char *r2,
                      const char *since, uint32_t max_age_ms) {
  const char *rooms[2] = {r1, r2};
  memset(g, 0, sizeof(*g));
  ck_assert_int_eq(sio_redis_history_read(&f->ops, &f->d, "socket.io", "/",
                                          rooms, r2 ? 2 : 1, since, 1000,
                                          max_age_ms, on_read, g),
                   0);
  ck_assert_int_eq(g->calls, 0); /* never from inside the call */
  drain(&f->d);
  ck_assert_int_eq(g->calls, 1);
}

/* Every instance offers what it delivers: kept once, in the order of the
 * first offers; a read merges the rooms in that order, each event once,
 * with the packet as offered. */
START_TEST(kept_once_read_in_order) {
  fx f;
  got g;
  if (!fx_start(&f)) {
    fprintf(stderr, "%s: skipped, redis-server is not installed\n", __func__);
    return;
  }
  offer(&f, "e1", "a", NULL, 1000, 60000);
  offer(&f, "e2", "b", NULL, 1000, 60000);
  offer(&f, "e3", "a", "b", 1000, 60000);
  offer(&f, "e2", "b", NULL, 1000, 60000); /* another instance's offer */
  offer(&f, "e4", "z", NULL, 1000, 60000);
  offer(&f, "e5", "b", "b", 1000, 60000); /* a room named twice */
  read_back(&f, &g, "a", "b", "e1", 60000);
  ck_assert_int_eq(g.status, 0);
  ck_assert_int_eq(g.complete, 1);
  ck_assert_uint_eq(g.n, 3);
  ck_assert_str_eq(g.ids[0], "e2");
  ck_assert_str_eq(g.ids[1], "e3");
  ck_assert_str_eq(g.ids[2], "e5");
  ck_assert_str_eq(g.pkts[1], "42[\"ev\",{\"id\":\"e3\"}]");
  /* only a room's own events; nothing after the last */
  read_back(&f, &g, "z", NULL, "e1", 60000);
  ck_assert_uint_eq(g.n, 1);
  ck_assert_str_eq(g.ids[0], "e4");
  read_back(&f, &g, "a", "b", "e5", 60000);
  ck_assert_uint_eq(g.n, 0);
  ck_assert_int_eq(g.complete, 1);
  /* unknown: nothing, incomplete */
  read_back(&f, &g, "a", NULL, "never", 60000);
  ck_assert_int_eq(g.status, 0);
  ck_assert_uint_eq(g.n, 0);
  ck_assert_int_eq(g.complete, 0);
  fx_stop(&f);
}
END_TEST

/* max_events per room: an id pushed out, or one after which a room lost
 * an event, is incomplete; max_age: an id aged out is unknown. */
START_TEST(bounds_make_it_incomplete) {
  fx f;
  got g;
  if (!fx_start(&f)) {
    fprintf(stderr, "%s: skipped, redis-server is not installed\n", __func__);
    return;
  }
  offer(&f, "e1", "a", NULL, 2, 60000);
  offer(&f, "e2", "a", NULL, 2, 60000);
  offer(&f, "e3", "a", NULL, 2, 60000);
  offer(&f, "e4", "a", NULL, 2, 60000);
  read_back(&f, &g, "a", NULL, "e1", 60000); /* e2 is gone too */
  ck_assert_int_eq(g.complete, 0);
  read_back(&f, &g, "a", NULL, "e2", 60000); /* only e2 itself went */
  ck_assert_int_eq(g.complete, 1);
  ck_assert_uint_eq(g.n, 2);
  ck_assert_str_eq(g.ids[0], "e3");
  offer(&f, "old", "c", NULL, 1000, 300);
  offer(&f, "new", "c", NULL, 1000, 300);
  read_back(&f, &g, "c", NULL, "old", 300);
  ck_assert_uint_eq(g.n, 1);
  usleep(450 * 1000);
  read_back(&f, &g, "c", NULL, "old", 300);
  ck_assert_int_eq(g.complete, 0);
  ck_assert_uint_eq(g.n, 0);
  fx_stop(&f);
}
END_TEST

/* A reply of the wrong shape is SIO_ERR_PROTO, never a crash; a driver
 * that refuses the command returns its error and never calls back; bad
 * arguments are refused up front. */
START_TEST(bad_replies_and_refusals) {
  fx f;
  got g;
  const char *room = "a";
  sio_pubsub_ops none;
  static const char *const wrong[] = {
      "PING",
      "DEL nothing",
      "ECHO x",
      "EVAL \"return {1, 'id'}\" 0",
      "EVAL \"return {'x'}\" 0",
      "EVAL \"return {1, {1}, 'p'}\" 0",
      "EVAL \"return redis.error_reply('no')\" 0"};
  size_t i;
  if (!fx_start(&f)) {
    fprintf(stderr, "%s: skipped, redis-server is not installed\n", __func__);
    return;
  }
  for (i = 0; i < sizeof(wrong) / sizeof(wrong[0]); i++) {
    f.d.instead = wrong[i];
    read_back(&f, &g, "a", NULL, "e1", 60000);
    ck_assert_msg(g.status == SIO_ERR_PROTO, "%s: %d", wrong[i], g.status);
    ck_assert_uint_eq(g.n, 0);
  }
  f.d.instead = NULL;
  f.d.fail = SIO_ERR_CLOSED;
  memset(&g, 0, sizeof(g));
  ck_assert_int_eq(sio_redis_history_read(&f.ops, &f.d, "socket.io", "/", &room,
                                          1, "e1", 10, 10, on_read, &g),
                   SIO_ERR_CLOSED);
  ck_assert_int_eq(sio_redis_history_append(&f.ops, &f.d, "socket.io", "/",
                                            "e1", &room, 1,
                                            (const uint8_t *)"x", 1, 10, 10),
                   SIO_ERR_CLOSED);
  ck_assert_int_eq(g.calls, 0);
  ck_assert_int_eq(sio_redis_history_append(&f.ops, &f.d, "socket.io", "/", "",
                                            &room, 1, (const uint8_t *)"x", 1,
                                            10, 10),
                   SIO_ERR_INVAL);
  ck_assert_int_eq(sio_redis_history_append(&f.ops, &f.d, "socket.io", "/",
                                            "e1", &room, 0,
                                            (const uint8_t *)"x", 1, 10, 10),
                   SIO_ERR_INVAL);
  ck_assert_int_eq(sio_redis_history_read(&f.ops, &f.d, "socket.io", "/", &room,
                                          1, "", 10, 10, on_read, &g),
                   SIO_ERR_INVAL);
  memset(&none, 0, sizeof(none));
  ck_assert_int_eq(sio_redis_history_read(&none, &f.d, "socket.io", "/", &room,
                                          1, "e1", 10, 10, on_read, &g),
                   SIO_ERR_UNSUPPORTED);
  fx_stop(&f);
}
END_TEST

Suite *sio_redis_history_suite(void) {
  Suite *s = suite_create("sio_redis_history");
  TCase *tc = tcase_create("history");
  tcase_set_timeout(tc, 30);
  tcase_add_test(tc, kept_once_read_in_order);
  tcase_add_test(tc, bounds_make_it_incomplete);
  tcase_add_test(tc, bad_replies_and_refusals);
  suite_add_tcase(s, tc);
  return s;
}
