/* sio_recovery: the pure stores behind connection state recovery. */
#include <check.h>
#include <stdio.h>
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

/* restore() as the namespace calls it, the missed packets gathered into s
 * (and released). */
static int restore_as(sio_recovery *r, const char *pid, const char *off,
                      const char *owner, uint64_t now, sio_recovered *rec,
                      seen *s) {
  size_t i;
  int rv = sio_recovery_restore(r, pid, off, owner, now, NULL, NULL, rec);
  for (i = 0; rv == 0 && i < rec->nmissed; i++)
    collect(&rec->missed[i], s);
  sio_recovered_release(rec);
  return rv;
}

static int restore(sio_recovery *r, const char *pid, const char *off,
                   uint64_t now, sio_recovered *rec, seen *s) {
  return restore_as(r, pid, off, NULL, now, rec, s);
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
  ck_assert_int_eq(
      sio_recovery_persist(&r, "pidX", "sid1", NULL, NULL, rooms, 2, 150), 0);
  ck_assert_int_eq(restore(&r, "pidX", o1, 200, &rec, &s), 0);
  ck_assert_str_eq(rec.sid, "sid1");
  ck_assert_uint_eq(rec.nrooms, 2);
  ck_assert_str_eq(rec.rooms[1], "a");
  ck_assert_int_eq(s.n, 2);
  ck_assert_str_eq(s.v[0], "p2-all");
  ck_assert_str_eq(s.v[1], "p5-own");
  /* a pid is restored once */
  ck_assert_int_eq(restore(&r, "pidX", o1, 200, &rec, &s), SIO_ERR_NOTFOUND);
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
  ck_assert_int_eq(sio_recovery_persist(&r, "p", "s", NULL, NULL, rooms, 1, 20),
                   0);
  ck_assert_int_eq(restore(&r, "nope", o[4], 30, &rec, &s), SIO_ERR_NOTFOUND);
  ck_assert_int_eq(restore(&r, "p", o[0], 30, &rec, &s), SIO_ERR_NOTFOUND);
  /* the session stays after a failed offset, then expires */
  ck_assert_int_eq(restore(&r, "p", o[2], 5000, &rec, &s), SIO_ERR_NOTFOUND);
  ck_assert_uint_eq(r.nsessions, 0);
  ck_assert_int_eq(s.n, 0);
  /* expiry drops packets and sessions past their time */
  ck_assert_int_eq(
      sio_recovery_persist(&r, "q", "s", NULL, NULL, rooms, 1, 6000), 0);
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
  sio_recovery_persist(&r, "p1", "s", NULL, NULL, rooms, 1, 1);
  sio_recovery_persist(&r, "p2", "s", NULL, NULL, rooms, 1, 1);
  sio_recovery_persist(&r, "p3", "s", NULL, NULL, rooms, 1, 1);
  ck_assert_uint_eq(r.nsessions, 2);
  ck_assert_ptr_null(sio_map_get(&r.by_pid, "p1", 2));
  sio_recovery_deinit(&r);
}
END_TEST

/* A fake binary packet in *p (which must not move: its inline attachment
 * array is its own): head "text" and natts attachments "text/i". */
static void bin_pkt(sio_outpkt *p, const char *text, size_t natts) {
  size_t i;
  *p = pkt(text);
  p->atts = natts > SIO_OUTPKT_INLINE ? sio_calloc(natts, sizeof(*p->atts))
                                      : p->inline_atts;
  for (i = 0; i < natts; i++) {
    char b[48];
    snprintf(b, sizeof(b), "%s/%zu", text, i);
    p->atts[i] = sio_rcbuf_new_copy(b, strlen(b));
    p->bytes += strlen(b);
  }
  p->natts = natts;
}

/* More missed packets than any first guess at an array size, with inline
 * and allocated attachment arrays, restored one after another: each copy
 * keeps its own buffers, whatever the store does next. */
START_TEST(many_missed_with_attachments_restored_repeatedly) {
  sio_recovery r;
  const char *rooms[] = {"sid1"};
  char first[SIO_OFFSET_MAX], off[SIO_OFFSET_MAX];
  sio_recovered rec[3];
  int i, k;
  sio_recovery_init(&r, NULL);
  for (i = 0; i < 40; i++) {
    char name[16];
    sio_outpkt p;
    snprintf(name, sizeof(name), "p%d", i);
    bin_pkt(&p, name, (size_t)(i % 7)); /* 0..6: inline and heap arrays */
    sio_recovery_next_offset(&r, i ? off : first);
    ck_assert_int_eq(sio_recovery_store(&r, i ? off : first, &p, NULL, 10), 0);
    sio_outpkt_release(&p);
  }
  for (k = 0; k < 3; k++) {
    char pid[8];
    snprintf(pid, sizeof(pid), "pid%d", k);
    ck_assert_int_eq(
        sio_recovery_persist(&r, pid, "sid1", "alice", NULL, rooms, 1, 20), 0);
    ck_assert_int_eq(
        sio_recovery_restore(&r, pid, first, "alice", 30, NULL, NULL, &rec[k]),
        0);
    ck_assert_uint_eq(rec[k].nmissed, 39);
  }
  /* drop everything from the store: the restored copies still hold theirs */
  sio_recovery_expire(&r, 1000000);
  for (k = 0; k < 3; k++) {
    for (i = 0; i < 39; i++) {
      const sio_outpkt *m = &rec[k].missed[i];
      char name[16], att[48];
      snprintf(name, sizeof(name), "p%d", i + 1);
      ck_assert_uint_eq(m->head->len, strlen(name));
      ck_assert_int_eq(memcmp(m->head->data, name, m->head->len), 0);
      ck_assert_uint_eq(m->natts, (size_t)((i + 1) % 7));
      if (m->natts) {
        snprintf(att, sizeof(att), "%s/%zu", name, m->natts - 1);
        ck_assert_int_eq(memcmp(m->atts[m->natts - 1]->data, att, strlen(att)),
                         0);
      }
    }
    sio_recovered_release(&rec[k]);
    sio_recovered_release(&rec[k]); /* idempotent */
  }
  sio_recovery_deinit(&r);
}
END_TEST

/* Beyond max_missed (or max_missed_bytes) nothing is replayed and the
 * session is gone: the client starts afresh and refetches. */
START_TEST(missed_set_is_bounded) {
  sio_recovery r;
  sio_recovery_limits lim;
  const char *rooms[] = {"s"};
  char o[8][SIO_OFFSET_MAX];
  sio_recovered rec;
  seen s = {.n = 0};
  int i;
  memset(&lim, 0, sizeof(lim));
  lim.max_missed = 3;
  lim.max_missed_bytes = 100;
  sio_recovery_init(&r, &lim);
  for (i = 0; i < 5; i++)
    store(&r, o[i], "xxxxxxxxxx", NULL, NULL, 10);
  sio_recovery_persist(&r, "p", "s", NULL, NULL, rooms, 1, 20);
  /* four missed: one too many */
  ck_assert_int_eq(restore(&r, "p", o[0], 30, &rec, &s), SIO_ERR_LIMIT);
  ck_assert_int_eq(s.n, 0);
  ck_assert_uint_eq(r.nsessions, 0);
  ck_assert_int_eq(restore(&r, "p", o[1], 30, &rec, &s), SIO_ERR_NOTFOUND);
  /* three is fine */
  sio_recovery_persist(&r, "p", "s", NULL, NULL, rooms, 1, 20);
  ck_assert_int_eq(restore(&r, "p", o[1], 30, &rec, &s), 0);
  ck_assert_int_eq(s.n, 3);
  /* and bytes count too: 2 x 60 > 100 */
  store(&r, o[5],
        "xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx", NULL,
        NULL, 40);
  store(&r, o[6],
        "xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx", NULL,
        NULL, 40);
  sio_recovery_persist(&r, "q", "s", NULL, NULL, rooms, 1, 50);
  s.n = 0;
  ck_assert_int_eq(restore(&r, "q", o[4], 60, &rec, &s), SIO_ERR_LIMIT);
  ck_assert_int_eq(s.n, 0);
  sio_recovery_deinit(&r);
}
END_TEST

/* A session is its owner's: another owner (or none) gets nothing and does
 * not spend it. */
START_TEST(owner_mismatch_restores_nothing) {
  sio_recovery r;
  const char *rooms[] = {"sid1", "user:alice"};
  char o1[SIO_OFFSET_MAX], o2[SIO_OFFSET_MAX];
  sio_recovered rec;
  seen s = {.n = 0};
  sio_recovery_init(&r, NULL);
  store(&r, o1, "p1", "user:alice", NULL, 10);
  store(&r, o2, "p2", "user:alice", NULL, 11);
  ck_assert_int_eq(
      sio_recovery_persist(&r, "pa", "sid1", "alice", NULL, rooms, 2, 20), 0);
  ck_assert_int_eq(restore_as(&r, "pa", o1, "mallory", 30, &rec, &s),
                   SIO_ERR_NOTFOUND);
  ck_assert_ptr_null(rec.sid);
  ck_assert_uint_eq(rec.nrooms, 0);
  ck_assert_int_eq(restore_as(&r, "pa", o1, NULL, 30, &rec, &s),
                   SIO_ERR_NOTFOUND);
  ck_assert_int_eq(restore_as(&r, "pa", o1, "", 30, &rec, &s),
                   SIO_ERR_NOTFOUND);
  ck_assert_int_eq(s.n, 0);
  ck_assert_int_eq(restore_as(&r, "pa", o1, "alice", 30, &rec, &s), 0);
  ck_assert_int_eq(s.n, 1);
  ck_assert_str_eq(s.v[0], "p2");
  /* an ownerless session is not everyone's either once owned ones exist:
   * it needs an ownerless restore */
  ck_assert_int_eq(
      sio_recovery_persist(&r, "pn", "sid2", NULL, NULL, rooms, 1, 40), 0);
  ck_assert_int_eq(restore_as(&r, "pn", o1, "alice", 50, &rec, &s),
                   SIO_ERR_NOTFOUND);
  sio_recovery_deinit(&r);
}
END_TEST

/* After a restore the session the socket leaves behind has a floor: the
 * newest offset replayed; an older offset (the one replayed before) gets
 * nothing, the floor itself and newer ones are fine. */
START_TEST(old_offset_below_floor_restores_nothing) {
  sio_recovery r;
  const char *rooms[] = {"sid1"};
  char o[4][SIO_OFFSET_MAX], floor[SIO_OFFSET_MAX];
  sio_recovered rec;
  seen s = {.n = 0};
  int i;
  sio_recovery_init(&r, NULL);
  for (i = 0; i < 3; i++)
    store(&r, o[i], "x", NULL, NULL, 10);
  sio_recovery_persist(&r, "p", "sid1", NULL, NULL, rooms, 1, 20);
  ck_assert_int_eq(
      sio_recovery_restore(&r, "p", o[0], NULL, 30, NULL, NULL, &rec), 0);
  ck_assert_uint_eq(rec.nmissed, 2);
  ck_assert_str_eq(rec.floor, o[2]);
  snprintf(floor, sizeof(floor), "%s", rec.floor);
  sio_recovered_release(&rec);
  /* the socket goes away again, same pid, with its floor */
  sio_recovery_persist(&r, "p", "sid1", NULL, floor, rooms, 1, 40);
  ck_assert_int_eq(restore(&r, "p", o[0], 50, &rec, &s), SIO_ERR_NOTFOUND);
  ck_assert_int_eq(restore(&r, "p", o[1], 50, &rec, &s), SIO_ERR_NOTFOUND);
  ck_assert_int_eq(s.n, 0);
  store(&r, o[3], "y", NULL, NULL, 45);
  ck_assert_int_eq(restore(&r, "p", o[2], 50, &rec, &s), 0);
  ck_assert_int_eq(s.n, 1);
  ck_assert_str_eq(s.v[0], "y");
  /* nothing missed: the floor is the offset presented */
  sio_recovery_persist(&r, "p", "sid1", NULL, o[3], rooms, 1, 60);
  ck_assert_int_eq(
      sio_recovery_restore(&r, "p", o[3], NULL, 70, NULL, NULL, &rec), 0);
  ck_assert_str_eq(rec.floor, o[3]);
  sio_recovered_release(&rec);
  sio_recovery_deinit(&r);
}
END_TEST

static int keep_not_b(const char *room, void *ud) {
  int *asked = ud;
  ck_assert_str_ne(room, "sid1"); /* the id room is never asked about */
  (*asked)++;
  return strcmp(room, "b") != 0;
}

/* Rooms the filter drops are not restored, nor the packets that reached
 * the session only through them. */
START_TEST(filter_drops_rooms_and_their_packets) {
  sio_recovery r;
  const char *rooms[] = {"sid1", "a", "b"};
  char o0[SIO_OFFSET_MAX], o1[SIO_OFFSET_MAX], o2[SIO_OFFSET_MAX],
      o3[SIO_OFFSET_MAX];
  sio_recovered rec;
  int asked = 0;
  sio_recovery_init(&r, NULL);
  store(&r, o0, "p0", NULL, NULL, 10);
  store(&r, o1, "p1-a", "a", NULL, 10);
  store(&r, o2, "p2-b", "b", NULL, 10);
  store(&r, o3, "p3-own", "sid1", NULL, 10);
  sio_recovery_persist(&r, "p", "sid1", NULL, NULL, rooms, 3, 20);
  ck_assert_int_eq(
      sio_recovery_restore(&r, "p", o0, NULL, 30, keep_not_b, &asked, &rec), 0);
  ck_assert_int_eq(asked, 2);
  ck_assert_uint_eq(rec.nrooms, 2);
  ck_assert_str_eq(rec.rooms[0], "sid1");
  ck_assert_str_eq(rec.rooms[1], "a");
  ck_assert_uint_eq(rec.nmissed, 2);
  ck_assert_int_eq(memcmp(rec.missed[0].head->data, "p1-a", 4), 0);
  ck_assert_int_eq(memcmp(rec.missed[1].head->data, "p3-own", 6), 0);
  sio_recovered_release(&rec);
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
    rv = sio_recovery_persist(&r, "pid", "s", NULL, NULL, rooms, 2, 1);
  if (!rv)
    rv = restore(&r, "pid", "0", 2, &rec, &s);
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
  tcase_add_test(tc, many_missed_with_attachments_restored_repeatedly);
  tcase_add_test(tc, missed_set_is_bounded);
  tcase_add_test(tc, owner_mismatch_restores_nothing);
  tcase_add_test(tc, filter_drops_rooms_and_their_packets);
  tcase_add_test(tc, old_offset_below_floor_restores_nothing);
  tcase_add_test(tc, failmalloc_recovery);
  suite_add_tcase(s, tc);
  return s;
}
