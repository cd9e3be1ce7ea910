#ifndef FAILMALLOC_H
#define FAILMALLOC_H

/* Drives a code path through every allocation failure (nghttp2 style):
 * runs fn once to count its allocations, then once per allocation with that
 * allocation failing. fn must return 0 on success or a negative error, and
 * must not leak or crash in either case. Returns how many allocation points
 * were exercised. */
typedef int (*failmalloc_fn)(void *ud);
long failmalloc_run(failmalloc_fn fn, void *ud);

#endif
