/* sio_recovery: the pure stores behind connection state recovery. */
#include <check.h>
#include <string.h>

#include "check_suites.h"
#include "failmalloc.h"
#include "sio_int.h"
#include "sio_mem.h"
#include "sio_recovery.h"

/* A fake encoded packet: one head buffer holding its name. */
static sio_outpkt pkt(const char *text) {
  sio_outpkt p;
  memset(&p, 0, sizeof(p));
  p.atts = p.inline_atts;
  p.head = sio_rcbuf_new_copy(text, strlen(text));
  p.bytes = strlen(text);
  return p;
}

typedef struct seen {
  char v[16][32];
  int n;
} seen;

static void collect(const sio_outpkt *p, void *ud) {
  seen *s = ud;
  ck_assert_int_lt(s->n, 16);
  memcpy(s->v[s->n], p->head->data, p->head->len);
  s->v[s->n][p->head->len] = 0;
  s->n++;
}

static void store(sio_recovery *r, char off[SIO_OFFSET_MAX], const char *text,
                  const char *room, const char *except, uint64_t now) {
  sio_outpkt p = pkt(text);
  sio_broadcast_opts o;
  p.atts = p.inline_atts; /* the copy's own array */
  memset(&o, 0, sizeof(o));
  o.rooms = room ? &room : NULL;
  o.nrooms = room ? 1 : 0;
  o.except = except ? &except : NULL;
  o.nexcept = except ? 1 : 0;
  sio_recovery_next_offset(r, off);
  ck_assert_int_eq(sio_recovery_store(r, off, &p, &o, now), 0);
  sio_outpkt_release(&p); /* the store holds its own reference */
}

START_TEST(restores_rooms_and_selected_packets) {
  sio_recovery r;
  char o1[SIO_OFFSET_MAX], o2[SIO_OFFSET_MAX], o3[SIO_OFFSET_MAX],
      o4[SIO_OFFSET_MAX], o5[SIO_OFFSET_MAX];
  const char *rooms[] = {"sid1", "a"};
  sio_recovered rec;
  seen s = {.n = 0};
  sio_recovery_init(&r, NULL);
  store(&r, o1, "p1", "a", NULL, 100);
  store(&r, o2, "p2-all", NULL, NULL, 110);
  store(&r, o3, "p3-b", "b", NULL, 120);
  store(&r, o4, "p4-a-not-a", NULL, "a", 130);
  store(&r, o5, "p5-own", "sid1", NULL, 140);
  ck_assert_str_ne(o1, o2);
  ck_assert_int_eq(sio_recovery_persist(&r, "pidX", "sid1", rooms, 2, 150), 0);
  ck_assert_int_eq(
      sio_recovery_restore(&r, "pidX", o1, 200, &rec, collect, &s), 0);
  ck_assert_str_eq(rec.sid, "sid1");
  ck_assert_uint_eq(rec.nrooms, 2);
  ck_assert_str_eq(rec.rooms[1], "a");
  ck_assert_int_eq(s.n, 2);
  ck_assert_str_eq(s.v[0], "p2-all");
  ck_assert_str_eq(s.v[1], "p5-own");
  /* a pid is restored once */
  ck_assert_int_eq(sio_recovery_restore(&r, "pidX", o1, 200, &rec, collect, &s),
                   SIO_ERR_NOTFOUND);
  sio_recovery_deinit(&r);
}
END_TEST

START_TEST(refuses_unknown_expired_or_too_old) {
  sio_recovery r;
  sio_recovery_limits lim = {1000, 3, 0, 0};
  char o[6][SIO_OFFSET_MAX];
  const char *rooms[] = {"s"};
  sio_recovered rec;
  seen s = {.n = 0};
  int i;
  sio_recovery_init(&r, &lim);
  for (i = 0; i < 5; i++)
    store(&r, o[i], "x", NULL, NULL, 10);
  /* only 3 packets are kept: the first two are gone */
  ck_assert_uint_eq(r.npackets, 3);
  ck_assert_int_eq(sio_recovery_persist(&r, "p", "s", rooms, 1, 20), 0);
  ck_assert_int_eq(sio_recovery_restore(&r, "nope", o[4], 30, &rec, collect, &s),
                   SIO_ERR_NOTFOUND);
  ck_assert_int_eq(sio_recovery_restore(&r, "p", o[0], 30, &rec, collect, &s),
                   SIO_ERR_NOTFOUND);
  /* the session stays after a failed offset, then expires */
  ck_assert_int_eq(sio_recovery_restore(&r, "p", o[2], 5000, &rec, collect, &s),
                   SIO_ERR_NOTFOUND);
  ck_assert_uint_eq(r.nsessions, 0);
  ck_assert_int_eq(s.n, 0);
  /* expiry drops packets and sessions past their time */
  ck_assert_int_eq(sio_recovery_persist(&r, "q", "s", rooms, 1, 6000), 0);
  store(&r, o[5], "y", NULL, NULL, 6000);
  sio_recovery_expire(&r, 6500);
  ck_assert_uint_eq(r.npackets, 1);
  ck_assert_uint_eq(r.nsessions, 1);
  sio_recovery_expire(&r, 8000);
  ck_assert_uint_eq(r.npackets, 0);
  ck_assert_uint_eq(r.nsessions, 0);
  ck_assert_uint_eq(r.bytes, 0);
  sio_recovery_deinit(&r);
}
END_TEST

START_TEST(bounded_by_bytes_and_sessions) {
  sio_recovery r;
  sio_recovery_limits lim = {0, 0, 10, 2};
  char o[SIO_OFFSET_MAX];
  const char *rooms[] = {"s"};
  sio_recovery_init(&r, &lim);
  store(&r, o, "12345", NULL, NULL, 1);
  store(&r, o, "67890", NULL, NULL, 1);
  store(&r, o, "abc", NULL, NULL, 1);
  ck_assert_uint_le(r.bytes, 10);
  ck_assert_uint_eq(r.npackets, 2);
  sio_recovery_persist(&r, "p1", "s", rooms, 1, 1);
  sio_recovery_persist(&r, "p2", "s", rooms, 1, 1);
  sio_recovery_persist(&r, "p3", "s", rooms, 1, 1);
  ck_assert_uint_eq(r.nsessions, 2);
  ck_assert_ptr_null(sio_map_get(&r.by_pid, "p1", 2));
  sio_recovery_deinit(&r);
}
END_TEST

static int work(void *ud) {
  sio_recovery r;
  sio_outpkt p = pkt("payload");
  const char *room = "a", *rooms[] = {"s", "a"};
  sio_broadcast_opts o;
  char off[SIO_OFFSET_MAX];
  sio_recovered rec;
  seen s = {.n = 0};
  int rv;
  (void)ud;
  p.atts = p.inline_atts;
  if (!p.head)
    return SIO_ERR_NOMEM;
  memset(&o, 0, sizeof(o));
  o.rooms = &room;
  o.nrooms = 1;
  sio_recovery_init(&r, NULL);
  sio_recovery_next_offset(&r, off);
  rv = sio_recovery_store(&r, "0", &p, &o, 1);
  if (!rv)
    rv = sio_recovery_store(&r, off, &p, &o, 1);
  if (!rv)
    rv = sio_recovery_persist(&r, "pid", "s", rooms, 2, 1);
  if (!rv)
    rv = sio_recovery_restore(&r, "pid", "0", 2, &rec, collect, &s);
  sio_recovery_deinit(&r);
  sio_outpkt_release(&p);
  return rv;
}

START_TEST(failmalloc_recovery) {
  ck_assert_int_ge(failmalloc_run(work, NULL), 5);
}
END_TEST

Suite *sio_recovery_suite(void) {
  Suite *s = suite_create("sio_recovery");
  TCase *tc = tcase_create("core");
  tcase_add_test(tc, restores_rooms_and_selected_packets);
  tcase_add_test(tc, refuses_unknown_expired_or_too_old);
  tcase_add_test(tc, bounded_by_bytes_and_sessions);
  tcase_add_test(tc, failmalloc_recovery);
  suite_add_tcase(s, tc);
  return s;
}
