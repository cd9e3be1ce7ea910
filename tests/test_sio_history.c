/* sio_history: the rooms' event history behind replay from the last event
 * id. */
#include <check.h>
#include <stdio.h>
#include <string.h>

#include "check_suites.h"
#include "failmalloc.h"
#include "sio_history.h"
#include "sio_int.h"

/* A fake encoded packet whose head is its text. */
static void pkt(sio_outpkt *p, const char *text) {
  memset(p, 0, sizeof(*p));
  p->atts = p->inline_atts;
  p->head = sio_rcbuf_new_copy(text, strlen(text));
  p->bytes = strlen(text);
}

static int add(sio_history *h, const char *id, const char *r1, const char *r2,
               uint64_t now) {
  const char *rooms[2] = {r1, r2};
  sio_outpkt p;
  int rv;
  pkt(&p, id);
  rv = sio_history_append(h, id, rooms, r2 ? 2 : 1, &p, now);
  sio_outpkt_release(&p);
  return rv;
}

/* The ids read, space-separated, and complete as "+" or "-" first. */
static const char *read_ids(sio_history *h, const char *r1, const char *r2,
                            const char *since, uint64_t now) {
  static char out[512];
  const char *rooms[2] = {r1, r2};
  sio_history_result res;
  size_t i, len;
  ck_assert_int_eq(
      sio_history_read(h, rooms, r2 ? 2 : 1, since, now, &res), 0);
  len = (size_t)snprintf(out, sizeof(out), "%c", res.complete ? '+' : '-');
  for (i = 0; i < res.n; i++) {
    /* the packet kept is the one appended under that id */
    ck_assert_int_eq((int)res.ev[i].pkt.head->len, (int)strlen(res.ev[i].id));
    ck_assert(memcmp(res.ev[i].pkt.head->data, res.ev[i].id,
                     res.ev[i].pkt.head->len) == 0);
    len += (size_t)snprintf(out + len, sizeof(out) - len, " %s",
                            res.ev[i].id);
  }
  sio_history_result_release(&res);
  sio_history_result_release(&res); /* idempotent */
  return out;
}

START_TEST(replays_after_id_in_order_each_once) {
  sio_history *h = sio_history_new(NULL);
  ck_assert_ptr_nonnull(h);
  ck_assert_int_eq(add(h, "e1", "global", NULL, 10), 0);
  ck_assert_int_eq(add(h, "e2", "user:a", NULL, 11), 0);
  ck_assert_int_eq(add(h, "e3", "global", "user:a", 12), 0);
  ck_assert_int_eq(add(h, "e4", "user:b", NULL, 13), 0);
  ck_assert_int_eq(add(h, "e5", "global", NULL, 14), 0);
  /* an event offered again (another delivery path) is kept once */
  ck_assert_int_eq(add(h, "e3", "global", "user:a", 15), SIO_ERR_EXISTS);
  ck_assert_uint_eq(sio_history_events(h), 5);
  ck_assert_str_eq(read_ids(h, "global", "user:a", "e1", 20), "+ e2 e3 e5");
  /* the id of an event of another room is only a position: user:b's
   * events never come to a reader of global */
  ck_assert_str_eq(read_ids(h, "global", NULL, "e4", 20), "+ e5");
  ck_assert_str_eq(read_ids(h, "user:b", NULL, "e1", 20), "+ e4");
  /* the newest id: nothing missed, complete */
  ck_assert_str_eq(read_ids(h, "global", "user:a", "e5", 20), "+");
  /* a room with nothing kept */
  ck_assert_str_eq(read_ids(h, "project:9", NULL, "e1", 20), "+");
  /* the same room named twice */
  ck_assert_str_eq(read_ids(h, "global", "global", "e2", 20), "+ e3 e5");
  sio_history_free(h);
}
END_TEST

START_TEST(unknown_id_is_incomplete) {
  sio_history *h = sio_history_new(NULL);
  ck_assert_int_eq(add(h, "e1", "global", NULL, 10), 0);
  ck_assert_str_eq(read_ids(h, "global", NULL, "nope", 20), "-");
  ck_assert_str_eq(read_ids(h, "global", NULL, "", 20), "-");
  sio_history_free(h);
}
END_TEST

START_TEST(count_bound_per_room_makes_incomplete) {
  sio_history_limits lim = {3, 0};
  sio_history *h = sio_history_new(&lim);
  char id[8];
  int i;
  ck_assert_int_eq(add(h, "q0", "quiet", NULL, 1), 0);
  for (i = 1; i <= 6; i++) {
    snprintf(id, sizeof(id), "e%d", i);
    ck_assert_int_eq(add(h, id, "busy", NULL, 1), 0);
  }
  /* busy kept e4..e6: e1..e3 went, e1 with them */
  ck_assert_uint_eq(sio_history_events(h), 4);
  ck_assert_str_eq(read_ids(h, "busy", NULL, "e1", 2), "-");
  /* e4 is kept and nothing newer was dropped */
  ck_assert_str_eq(read_ids(h, "busy", NULL, "e4", 2), "+ e5 e6");
  /* from q0: busy dropped e1..e3, newer than q0, so busy is incomplete;
   * quiet alone is complete */
  ck_assert_str_eq(read_ids(h, "busy", "quiet", "q0", 2), "- e4 e5 e6");
  ck_assert_str_eq(read_ids(h, "quiet", NULL, "q0", 2), "+");
  sio_history_free(h);
}
END_TEST

START_TEST(age_bound_expires_oldest_first) {
  sio_history_limits lim = {0, 100};
  sio_history *h = sio_history_new(&lim);
  ck_assert_int_eq(add(h, "e1", "global", "user:a", 0), 0);
  ck_assert_int_eq(add(h, "e2", "global", NULL, 50), 0);
  ck_assert_int_eq(add(h, "e3", "user:a", NULL, 120), 0);
  /* at 120 e1 (age 120) is gone: its id is no longer a position */
  ck_assert_str_eq(read_ids(h, "global", "user:a", "e1", 120), "-");
  ck_assert_str_eq(read_ids(h, "global", "user:a", "e2", 120), "+ e3");
  ck_assert_uint_eq(sio_history_events(h), 2);
  sio_history_expire(h, 1000);
  ck_assert_uint_eq(sio_history_events(h), 0);
  ck_assert_uint_eq(sio_history_bytes(h), 0);
  /* rooms emptied by expiry are usable again */
  ck_assert_int_eq(add(h, "e4", "global", NULL, 1000), 0);
  ck_assert_int_eq(add(h, "e5", "global", NULL, 1001), 0);
  ck_assert_str_eq(read_ids(h, "global", NULL, "e4", 1001), "+ e5");
  sio_history_free(h);
}
END_TEST

START_TEST(refuses_bad_arguments) {
  sio_history *h = sio_history_new(NULL);
  sio_outpkt p;
  const char *room = "r";
  char big[300];
  sio_history_result res;
  pkt(&p, "x");
  memset(big, 'i', sizeof(big) - 1);
  big[sizeof(big) - 1] = 0;
  ck_assert_int_eq(sio_history_append(h, "", &room, 1, &p, 0), SIO_ERR_INVAL);
  ck_assert_int_eq(sio_history_append(h, NULL, &room, 1, &p, 0),
                   SIO_ERR_INVAL);
  ck_assert_int_eq(sio_history_append(h, big, &room, 1, &p, 0),
                   SIO_ERR_INVAL);
  ck_assert_int_eq(sio_history_append(h, "a", &room, 0, &p, 0),
                   SIO_ERR_INVAL);
  ck_assert_int_eq(sio_history_read(h, &room, 1, NULL, 0, &res),
                   SIO_ERR_INVAL);
  ck_assert_uint_eq(res.n, 0);
  ck_assert_uint_eq(sio_history_events(h), 0);
  sio_outpkt_release(&p);
  sio_history_free(h);
  sio_history_free(NULL);
}
END_TEST

/* Many rooms and a ring that wraps: the merge stays in sequence order. */
START_TEST(wrapped_rings_merge_in_order) {
  sio_history_limits lim = {5, 0};
  sio_history *h = sio_history_new(&lim);
  char id[16];
  int i;
  for (i = 0; i < 40; i++) {
    snprintf(id, sizeof(id), "e%d", i);
    ck_assert_int_eq(add(h, id, (i % 2) ? "odd" : "even",
                         (i % 3) ? NULL : "third", 1),
                     0);
  }
  /* odd keeps e31..e39, even e30..e38, third the last five multiples of
   * three: e27 e30 e33 e36 e39 */
  ck_assert_str_eq(read_ids(h, "odd", "even", "e30", 1),
                   "+ e31 e32 e33 e34 e35 e36 e37 e38 e39");
  /* e29 went with odd's count bound */
  ck_assert_str_eq(read_ids(h, "odd", "even", "e29", 1), "-");
  ck_assert_str_eq(read_ids(h, "third", "odd", "e33", 1), "+ e35 e36 e37 e39");
  sio_history_free(h);
}
END_TEST

static int work(void *ud) {
  sio_history *h = sio_history_new(NULL);
  sio_outpkt p;
  const char *rooms[3] = {"a", "b", "c"};
  sio_history_result res;
  int rv;
  (void)ud;
  pkt(&p, "payload");
  if (!h || !p.head) {
    sio_history_free(h);
    sio_outpkt_release(&p);
    return SIO_ERR_NOMEM;
  }
  rv = sio_history_append(h, "e1", rooms, 3, &p, 0);
  if (!rv)
    rv = sio_history_append(h, "e2", rooms + 1, 2, &p, 0);
  if (!rv)
    rv = sio_history_append(h, "e3", rooms, 1, &p, 0);
  if (!rv) {
    rv = sio_history_read(h, rooms, 3, "e1", 1, &res);
    if (!rv && res.n != 2)
      rv = -1000;
    sio_history_result_release(&res);
  }
  sio_history_free(h);
  sio_outpkt_release(&p);
  return rv;
}

START_TEST(failmalloc_history) {
  ck_assert_int_ge(failmalloc_run(work, NULL), 8);
}
END_TEST

Suite *sio_history_suite(void) {
  Suite *s = suite_create("sio_history");
  TCase *tc = tcase_create("core");
  tcase_add_test(tc, replays_after_id_in_order_each_once);
  tcase_add_test(tc, unknown_id_is_incomplete);
  tcase_add_test(tc, count_bound_per_room_makes_incomplete);
  tcase_add_test(tc, age_bound_expires_oldest_first);
  tcase_add_test(tc, refuses_bad_arguments);
  tcase_add_test(tc, wrapped_rings_merge_in_order);
  tcase_add_test(tc, failmalloc_history);
  suite_add_tcase(s, tc);
  return s;
}
