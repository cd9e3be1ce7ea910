/* test_sio_rooms.c: the pure room index (join, leave, own-id rooms,
 * membership bookkeeping under swap-removal, broadcast selection). */
#include <check.h>
#include <stdio.h>
#include <string.h>

#include "check_suites.h"
#include "failmalloc.h"
#include "sio_int.h"
#include "sio_mem.h"
#include "sio_rooms.h"

#define N 1000

typedef struct fake_sock {
  char id[24];
  sio_room_member m;
  int hits;
} fake_sock;

static fake_sock socks[N];

static void add_all(sio_rooms *r, int n) {
  int i;
  for (i = 0; i < n; i++) {
    snprintf(socks[i].id, sizeof(socks[i].id), "sid%04d", i);
    sio_room_member_init(&socks[i].m);
    socks[i].hits = 0;
    ck_assert_int_eq(sio_rooms_add_member(r, &socks[i].m, socks[i].id), 0);
  }
}

static void remove_all(sio_rooms *r, int n) {
  int i;
  for (i = 0; i < n; i++)
    sio_rooms_remove_member(r, &socks[i].m);
}

static int J(sio_rooms *r, int i, const char *room) {
  return sio_rooms_join(r, &socks[i].m, room, strlen(room));
}

static int L(sio_rooms *r, int i, const char *room) {
  return sio_rooms_leave(r, &socks[i].m, room, strlen(room));
}

static int IN(sio_rooms *r, int i, const char *room) {
  return sio_rooms_contains(r, &socks[i].m, room, strlen(room));
}

static size_t SZ(sio_rooms *r, const char *room) {
  return sio_rooms_room_size(r, room, strlen(room));
}

static void hit(sio_room_member *m, void *ud) {
  fake_sock *s = sio_container_of(m, fake_sock, m);
  (void)ud;
  s->hits++;
}

static void clear_hits(int n) {
  int i;
  for (i = 0; i < n; i++)
    socks[i].hits = 0;
}

static size_t nrooms_stored(sio_rooms *r) { return sio_map_count(&r->rooms); }

START_TEST(join_leave_basics) {
  sio_rooms r;
  sio_rooms_init(&r);
  add_all(&r, 3);
  ck_assert_uint_eq(sio_rooms_member_count(&r), 3);
  ck_assert_ptr_eq(sio_rooms_find_member(&r, "sid0001", 7), &socks[1].m);
  ck_assert_ptr_null(sio_rooms_find_member(&r, "nope", 4));
  /* Own-id room is implicit and costs no stored room. */
  ck_assert_int_eq(IN(&r, 0, "sid0000"), 1);
  ck_assert_int_eq(IN(&r, 0, "sid0001"), 0);
  ck_assert_uint_eq(nrooms_stored(&r), 0);
  ck_assert_uint_eq(SZ(&r, "sid0002"), 1);

  ck_assert_int_eq(J(&r, 0, "a"), 0);
  ck_assert_int_eq(J(&r, 0, "a"), 0); /* idempotent */
  ck_assert_int_eq(J(&r, 1, "a"), 0);
  ck_assert_int_eq(J(&r, 1, "b"), 0);
  ck_assert_uint_eq(SZ(&r, "a"), 2);
  ck_assert_uint_eq(SZ(&r, "b"), 1);
  ck_assert_uint_eq(socks[0].m.nslots, 1);
  ck_assert_int_eq(IN(&r, 1, "b"), 1);
  ck_assert_int_eq(IN(&r, 2, "a"), 0);

  ck_assert_int_eq(L(&r, 2, "a"), SIO_ERR_NOTFOUND);
  ck_assert_int_eq(L(&r, 0, "zzz"), SIO_ERR_NOTFOUND);
  ck_assert_int_eq(L(&r, 1, "b"), 0);
  ck_assert_uint_eq(SZ(&r, "b"), 0);
  ck_assert_uint_eq(nrooms_stored(&r), 1); /* "b" freed when emptied */
  ck_assert_int_eq(L(&r, 1, "b"), SIO_ERR_NOTFOUND);

  /* Leaving and rejoining the own-id room. */
  ck_assert_int_eq(L(&r, 2, "sid0002"), 0);
  ck_assert_int_eq(IN(&r, 2, "sid0002"), 0);
  ck_assert_uint_eq(SZ(&r, "sid0002"), 0);
  ck_assert_int_eq(L(&r, 2, "sid0002"), SIO_ERR_NOTFOUND);
  ck_assert_int_eq(J(&r, 2, "sid0002"), 0);
  ck_assert_int_eq(IN(&r, 2, "sid0002"), 1);
  ck_assert_uint_eq(nrooms_stored(&r), 1);

  /* Joining another member's id room stores a real room beside it. */
  ck_assert_int_eq(J(&r, 0, "sid0002"), 0);
  ck_assert_uint_eq(SZ(&r, "sid0002"), 2);
  ck_assert_int_eq(IN(&r, 0, "sid0002"), 1);

  /* A duplicate id and a second add are refused. */
  {
    sio_room_member m;
    sio_room_member_init(&m);
    ck_assert_int_eq(sio_rooms_add_member(&r, &m, "sid0000"), SIO_ERR_EXISTS);
    ck_assert_int_eq(sio_rooms_join(&r, &m, "x", 1), SIO_ERR_STATE);
    ck_assert_int_eq(sio_rooms_contains(&r, &m, "x", 1), 0);
    ck_assert_int_eq(sio_rooms_add_member(&r, &socks[0].m, "other"),
                     SIO_ERR_STATE);
    sio_rooms_remove_member(&r, &m); /* never added: no-op */
  }

  remove_all(&r, 3);
  ck_assert_uint_eq(sio_rooms_member_count(&r), 0);
  ck_assert_uint_eq(nrooms_stored(&r), 0);
  sio_rooms_deinit(&r);
}
END_TEST

static void collect(const char *room, void *ud) {
  char *out = ud;
  strcat(out, room);
  strcat(out, ";");
}

START_TEST(rooms_of_member_own_first) {
  sio_rooms r;
  char out[256] = "";
  sio_rooms_init(&r);
  add_all(&r, 1);
  J(&r, 0, "x");
  J(&r, 0, "y");
  sio_rooms_foreach_of(&socks[0].m, collect, out);
  ck_assert_str_eq(out, "sid0000;x;y;");
  L(&r, 0, "x");
  out[0] = 0;
  sio_rooms_foreach_of(&socks[0].m, collect, out);
  ck_assert_str_eq(out, "sid0000;y;");
  remove_all(&r, 1);
  out[0] = 0;
  sio_rooms_foreach_of(&socks[0].m, collect, out);
  ck_assert_str_eq(out, "");
  sio_rooms_deinit(&r);
}
END_TEST

START_TEST(many_members_churn) {
  sio_rooms r;
  char name[32];
  int i, k;
  sio_rooms_init(&r);
  add_all(&r, N);
  for (i = 0; i < N; i++) {
    snprintf(name, sizeof(name), "mod%d", i % 7);
    ck_assert_int_eq(J(&r, i, name), 0);
    ck_assert_int_eq(J(&r, i, "global"), 0);
    snprintf(name, sizeof(name), "user:%d", i / 2);
    ck_assert_int_eq(J(&r, i, name), 0);
  }
  ck_assert_uint_eq(SZ(&r, "global"), N);
  ck_assert_uint_eq(SZ(&r, "user:3"), 2);
  /* Leave global from every third member, in an order that exercises the
   * swap of the last entry into the middle. */
  for (i = N - 1; i >= 0; i -= 3)
    ck_assert_int_eq(L(&r, i, "global"), 0);
  for (i = 0; i < N; i++)
    ck_assert_int_eq(IN(&r, i, "global"), (N - 1 - i) % 3 != 0);
  /* Remove every fifth member entirely. */
  for (i = 0; i < N; i += 5)
    sio_rooms_remove_member(&r, &socks[i].m);
  for (i = 0; i < N; i++) {
    int alive = i % 5 != 0;
    snprintf(name, sizeof(name), "mod%d", i % 7);
    ck_assert_int_eq(IN(&r, i, name), alive);
    ck_assert_int_eq(IN(&r, i, "global"), alive && (N - 1 - i) % 3 != 0);
    ck_assert_int_eq(IN(&r, i, socks[i].id), alive);
  }
  for (k = 0; k < 7; k++) {
    size_t expect = 0;
    snprintf(name, sizeof(name), "mod%d", k);
    for (i = 0; i < N; i++)
      expect += (i % 7 == k) && (i % 5 != 0);
    ck_assert_uint_eq(SZ(&r, name), expect);
  }
  /* user:0 had members 0 and 1; 0 was removed. */
  ck_assert_uint_eq(SZ(&r, "user:0"), 1);
  remove_all(&r, N);
  ck_assert_uint_eq(nrooms_stored(&r), 0);
  ck_assert_uint_eq(sio_rooms_member_count(&r), 0);
  sio_rooms_deinit(&r);
}
END_TEST

START_TEST(select_union_except) {
  sio_rooms r;
  const char *rooms[3], *except[2];
  size_t n;
  int i;
  sio_rooms_init(&r);
  add_all(&r, 100);
  for (i = 0; i < 100; i++) {
    if (i % 2 == 0)
      J(&r, i, "even");
    if (i % 3 == 0)
      J(&r, i, "three");
    if (i < 10)
      J(&r, i, "low");
  }
  /* All members. */
  n = sio_rooms_select(&r, NULL, 0, NULL, 0, hit, NULL);
  ck_assert_uint_eq(n, 100);
  for (i = 0; i < 100; i++)
    ck_assert_int_eq(socks[i].hits, 1);
  clear_hits(100);

  /* Union visits each member once. */
  rooms[0] = "even";
  rooms[1] = "three";
  n = sio_rooms_select(&r, rooms, 2, NULL, 0, hit, NULL);
  ck_assert_uint_eq(n, 67); /* 50 + 34 - 17 */
  for (i = 0; i < 100; i++)
    ck_assert_int_eq(socks[i].hits, (i % 2 == 0 || i % 3 == 0) ? 1 : 0);
  clear_hits(100);

  /* Except removes whole rooms, own-id rooms included. */
  except[0] = "low";
  except[1] = "sid0012";
  n = sio_rooms_select(&r, rooms, 2, except, 2, hit, NULL);
  for (i = 0; i < 100; i++) {
    int want = (i % 2 == 0 || i % 3 == 0) && i >= 10 && i != 12;
    ck_assert_int_eq(socks[i].hits, want);
  }
  ck_assert_uint_eq(n, 67 - 7 - 1); /* low has 0,2,3,4,6,8,9 */
  clear_hits(100);

  /* Everyone except one room. */
  except[0] = "even";
  n = sio_rooms_select(&r, NULL, 0, except, 1, hit, NULL);
  ck_assert_uint_eq(n, 50);
  clear_hits(100);

  /* An own-id room as target, a missing room, and a room named like a
   * member's id that others joined. */
  J(&r, 5, "sid0007");
  rooms[0] = "sid0007";
  rooms[1] = "missing";
  rooms[2] = "sid0007";
  n = sio_rooms_select(&r, rooms, 3, NULL, 0, hit, NULL);
  ck_assert_uint_eq(n, 2);
  ck_assert_int_eq(socks[7].hits, 1);
  ck_assert_int_eq(socks[5].hits, 1);
  clear_hits(100);

  /* A member that left its own room is not reached through it. */
  L(&r, 7, "sid0007");
  n = sio_rooms_select(&r, rooms, 1, NULL, 0, hit, NULL);
  ck_assert_uint_eq(n, 1);
  ck_assert_int_eq(socks[5].hits, 1);
  clear_hits(100);

  /* Epoch wrap-around resets the marks instead of skipping members. */
  r.epoch = UINT32_MAX;
  n = sio_rooms_select(&r, NULL, 0, NULL, 0, hit, NULL);
  ck_assert_uint_eq(n, 100);
  ck_assert_uint_eq(r.epoch, 1);
  n = sio_rooms_select(&r, NULL, 0, NULL, 0, hit, NULL);
  ck_assert_uint_eq(n, 100);

  remove_all(&r, 100);
  sio_rooms_deinit(&r);
}
END_TEST

static void count_room(const char *room, size_t nmembers, void *ud) {
  size_t *total = ud;
  (void)room;
  *total += nmembers;
}

START_TEST(foreach_room_lists_stored) {
  sio_rooms r;
  size_t total = 0;
  sio_rooms_init(&r);
  add_all(&r, 4);
  J(&r, 0, "a");
  J(&r, 1, "a");
  J(&r, 2, "b");
  sio_rooms_foreach_room(&r, count_room, &total);
  ck_assert_uint_eq(total, 3);
  ck_assert_uint_eq(nrooms_stored(&r), 2);
  /* deinit with members still present detaches them without crashing. */
  sio_rooms_deinit(&r);
  for (int i = 0; i < 4; i++)
    sio_free(socks[i].m.slots);
}
END_TEST

/* Allocation failure at any point of a join leaves the index unchanged. */
typedef struct fm_ctx {
  sio_rooms r;
} fm_ctx;

static int fm_join(void *ud) {
  fm_ctx *c = ud;
  char name[16];
  int i, rv = 0;
  sio_rooms_init(&c->r);
  for (i = 0; i < 8; i++) {
    snprintf(socks[i].id, sizeof(socks[i].id), "sid%04d", i);
    sio_room_member_init(&socks[i].m);
  }
  for (i = 0; i < 8 && rv == 0; i++)
    rv = sio_rooms_add_member(&c->r, &socks[i].m, socks[i].id);
  for (i = 0; i < 8 && rv == 0; i++) {
    snprintf(name, sizeof(name), "r%d", i % 3);
    rv = J(&c->r, i, name);
    if (rv == 0)
      ck_assert_int_eq(IN(&c->r, i, name), 1);
    else
      ck_assert_int_eq(IN(&c->r, i, name), 0);
  }
  remove_all(&c->r, 8);
  ck_assert_uint_eq(nrooms_stored(&c->r), 0);
  sio_rooms_deinit(&c->r);
  return rv;
}

START_TEST(join_survives_allocation_failures) {
  fm_ctx c;
  long n = failmalloc_run(fm_join, &c);
  ck_assert_int_gt(n, 0);
}
END_TEST

Suite *sio_rooms_suite(void) {
  Suite *s = suite_create("sio_rooms");
  TCase *tc = tcase_create("core");
  tcase_add_test(tc, join_leave_basics);
  tcase_add_test(tc, rooms_of_member_own_first);
  tcase_add_test(tc, many_members_churn);
  tcase_add_test(tc, select_union_except);
  tcase_add_test(tc, foreach_room_lists_stored);
  tcase_add_test(tc, join_survives_allocation_failures);
  suite_add_tcase(s, tc);
  return s;
}
