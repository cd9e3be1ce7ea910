/* test_sio_mailbox.c: letters posted from other threads run on the
 * mailbox's loop, in each poster's order, exactly once; a full mailbox
 * refuses and counts; closing cancels what waits and refuses what comes.
 * Runs under ThreadSanitizer in CI (scripts/test.sh). */
#include <check.h>
#include <stdatomic.h>
#include <string.h>
#include <uv.h>

#include "check_suites.h"
#include "sio/sio_errno.h"
#include "sio_mailbox.h"
#include "sio_mem.h"

#define POSTERS 3
#define PER_POSTER 20000

typedef struct note {
  sio_letter l;
  int poster, seq;
  struct ctx *c;
} note;

typedef struct ctx {
  uv_loop_t loop;
  sio_mailbox mb;
  uv_thread_t loop_thread;
  int next[POSTERS]; /* loop thread only */
  int ran, wrong_thread, out_of_order, canceled;
  atomic_int posted_done;
  int done;
} ctx;

static void note_run(sio_letter *l) {
  note *n = (note *)l;
  ctx *c = n->c;
  uv_thread_t self = uv_thread_self();
  if (!uv_thread_equal(&self, &c->loop_thread))
    c->wrong_thread++;
  if (n->seq != c->next[n->poster])
    c->out_of_order++;
  c->next[n->poster] = n->seq + 1;
  c->ran++;
  sio_free(n);
  if (c->ran == POSTERS * PER_POSTER)
    uv_stop(&c->loop);
}

static void note_cancel(sio_letter *l) {
  ((note *)l)->c->canceled++;
  sio_free(l);
}

typedef struct poster_arg {
  ctx *c;
  int id;
} poster_arg;

static void poster(void *ud) {
  poster_arg *a = ud;
  int i;
  for (i = 0; i < PER_POSTER; i++) {
    note *n = sio_calloc(1, sizeof(*n));
    n->l.fn = note_run;
    n->poster = a->id;
    n->seq = i;
    n->c = a->c;
    while (sio_mailbox_post(&a->c->mb, &n->l) == SIO_ERR_LIMIT)
      uv_sleep(1); /* the loop is behind: wait, as a producer must */
  }
  atomic_fetch_add(&a->c->posted_done, 1);
}

static void done_cb(sio_mailbox *mb) {
  ctx *c = (ctx *)((char *)mb - offsetof(ctx, mb));
  c->done = 1;
}

START_TEST(letters_run_on_the_loop_in_order_once) {
  ctx *c = sio_calloc(1, sizeof(*c));
  uv_thread_t t[POSTERS];
  poster_arg a[POSTERS];
  int i;
  ck_assert_int_eq(uv_loop_init(&c->loop), 0);
  c->loop_thread = uv_thread_self();
  ck_assert_int_eq(sio_mailbox_init(&c->mb, &c->loop, 1024), 0);
  for (i = 0; i < POSTERS; i++) {
    a[i].c = c;
    a[i].id = i;
    ck_assert_int_eq(uv_thread_create(&t[i], poster, &a[i]), 0);
  }
  uv_run(&c->loop, UV_RUN_DEFAULT);
  for (i = 0; i < POSTERS; i++)
    uv_thread_join(&t[i]);
  ck_assert_int_eq(c->ran, POSTERS * PER_POSTER);
  ck_assert_int_eq(c->wrong_thread, 0);
  ck_assert_int_eq(c->out_of_order, 0);
  sio_mailbox_close(&c->mb, note_cancel, done_cb);
  uv_run(&c->loop, UV_RUN_DEFAULT);
  ck_assert_int_eq(c->done, 1);
  ck_assert_int_eq(c->canceled, 0);
  ck_assert_int_eq(uv_loop_close(&c->loop), 0);
  sio_free(c);
}
END_TEST

static note *make(ctx *c, int seq) {
  note *n = sio_calloc(1, sizeof(*n));
  n->l.fn = note_run;
  n->seq = seq;
  n->c = c;
  return n;
}

START_TEST(full_mailbox_refuses_and_counts) {
  ctx *c = sio_calloc(1, sizeof(*c));
  note *extra;
  int i;
  ck_assert_int_eq(uv_loop_init(&c->loop), 0);
  c->loop_thread = uv_thread_self();
  ck_assert_int_eq(sio_mailbox_init(&c->mb, &c->loop, 4), 0);
  for (i = 0; i < 4; i++)
    ck_assert_int_eq(sio_mailbox_post(&c->mb, &make(c, i)->l), 0);
  extra = make(c, 4);
  ck_assert_int_eq(sio_mailbox_post(&c->mb, &extra->l), SIO_ERR_LIMIT);
  ck_assert_uint_eq(sio_mailbox_refused(&c->mb), 1);
  /* the four run (and nothing else), then room again */
  uv_run(&c->loop, UV_RUN_NOWAIT);
  ck_assert_int_eq(c->ran, 4);
  ck_assert_int_eq(sio_mailbox_post(&c->mb, &extra->l), 0);
  uv_run(&c->loop, UV_RUN_NOWAIT);
  ck_assert_int_eq(c->ran, 5);
  ck_assert_int_eq(c->out_of_order, 0);
  sio_mailbox_close(&c->mb, note_cancel, done_cb);
  uv_run(&c->loop, UV_RUN_DEFAULT);
  ck_assert_int_eq(uv_loop_close(&c->loop), 0);
  sio_free(c);
}
END_TEST

START_TEST(close_cancels_waiting_and_refuses_later) {
  ctx *c = sio_calloc(1, sizeof(*c));
  note *late;
  int i;
  ck_assert_int_eq(uv_loop_init(&c->loop), 0);
  c->loop_thread = uv_thread_self();
  ck_assert_int_eq(sio_mailbox_init(&c->mb, &c->loop, 0), 0);
  for (i = 0; i < 3; i++)
    ck_assert_int_eq(sio_mailbox_post(&c->mb, &make(c, i)->l), 0);
  sio_mailbox_close(&c->mb, note_cancel, done_cb);
  ck_assert_int_eq(c->canceled, 3);
  late = make(c, 3);
  ck_assert_int_eq(sio_mailbox_post(&c->mb, &late->l), SIO_ERR_CLOSED);
  sio_free(late);
  uv_run(&c->loop, UV_RUN_DEFAULT);
  ck_assert_int_eq(c->done, 1);
  ck_assert_int_eq(c->ran, 0);
  ck_assert_int_eq(uv_loop_close(&c->loop), 0);
  sio_free(c);
}
END_TEST

/* A letter that posts another to its own mailbox: the second runs in a
 * later round, not inside the first. */
static int depth, max_depth;
static void chain_run(sio_letter *l);
static void chain_run(sio_letter *l) {
  note *n = (note *)l;
  depth++;
  if (depth > max_depth)
    max_depth = depth;
  n->c->ran++;
  if (n->seq < 5) {
    n->seq++;
    sio_mailbox_post(&n->c->mb, &n->l);
  } else {
    sio_free(n);
  }
  depth--;
}

START_TEST(letter_posting_from_its_fn_runs_later) {
  ctx *c = sio_calloc(1, sizeof(*c));
  note *n;
  ck_assert_int_eq(uv_loop_init(&c->loop), 0);
  ck_assert_int_eq(sio_mailbox_init(&c->mb, &c->loop, 0), 0);
  n = make(c, 0);
  n->l.fn = chain_run;
  ck_assert_int_eq(sio_mailbox_post(&c->mb, &n->l), 0);
  while (c->ran < 6)
    uv_run(&c->loop, UV_RUN_ONCE);
  ck_assert_int_eq(max_depth, 1);
  sio_mailbox_close(&c->mb, note_cancel, done_cb);
  uv_run(&c->loop, UV_RUN_DEFAULT);
  ck_assert_int_eq(uv_loop_close(&c->loop), 0);
  sio_free(c);
}
END_TEST

Suite *sio_mailbox_suite(void) {
  Suite *s = suite_create("sio_mailbox");
  TCase *tc = tcase_create("core");
  tcase_set_timeout(tc, 60);
  tcase_add_test(tc, letters_run_on_the_loop_in_order_once);
  tcase_add_test(tc, full_mailbox_refuses_and_counts);
  tcase_add_test(tc, close_cancels_waiting_and_refuses_later);
  tcase_add_test(tc, letter_posting_from_its_fn_runs_later);
  suite_add_tcase(s, tc);
  return s;
}
