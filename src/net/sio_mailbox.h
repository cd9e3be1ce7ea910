#ifndef SIO_MAILBOX_H
#define SIO_MAILBOX_H

/* Work posted to a loop from any thread: the one way anything crosses
 * loops (DESIGN §24). A mutex-guarded intrusive queue and a uv_async_t:
 * any thread posts a letter, the loop that owns the mailbox runs its fn,
 * in the order posted, from the async callback (never inside post). The
 * mailbox is bounded: a post past max is refused and counted, as a full
 * Redis publish queue is, so a stuck loop cannot grow another's memory.
 * Closing runs cancel for every letter still queued (its owner frees it)
 * and refuses later posts. */

#include <stddef.h>
#include <stdint.h>
#include <uv.h>

typedef struct sio_letter {
  struct sio_letter *next;
  void (*fn)(struct sio_letter *l); /* runs on the mailbox's loop */
} sio_letter;

typedef struct sio_mailbox {
  uv_async_t async;
  uv_mutex_t lock;
  /* guarded by lock */
  sio_letter *head, **tail;
  size_t count, max;
  uint64_t refused;
  int closed;
  /* loop thread only */
  void (*cancel)(sio_letter *l);
  void (*done)(struct sio_mailbox *mb);
} sio_mailbox;

/* On the loop's thread. max 0: 65536. Returns 0 or SIO_ERR_NOMEM. */
int sio_mailbox_init(sio_mailbox *mb, uv_loop_t *loop, size_t max);
/* From any thread, the loop's included. l (with l->fn set) belongs to the
 * mailbox until fn or cancel runs. Returns 0, SIO_ERR_LIMIT (max letters
 * waiting: refused and counted) or SIO_ERR_CLOSED. */
int sio_mailbox_post(sio_mailbox *mb, sio_letter *l);
/* Letters refused so far (any thread). */
uint64_t sio_mailbox_refused(sio_mailbox *mb);
/* On the loop's thread: refuses later posts (SIO_ERR_CLOSED), runs
 * cancel(l) for every letter still waiting (cancel NULL: they are
 * dropped, for letters that need no freeing), and
 * calls done(mb) once the async handle closed; mb may be freed then. No
 * thread may still be posting when done runs: stop the posters first (a
 * loop group closes its mailboxes after its threads joined). */
void sio_mailbox_close(sio_mailbox *mb, void (*cancel)(sio_letter *l),
                       void (*done)(sio_mailbox *mb));

#endif
