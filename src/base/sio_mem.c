/* sio_mem.c: malloc wrappers with a failure-injection counter for tests.
 * The counter is per thread: each loop thread allocates on its own, and a
 * test arms the failures of the thread that runs the code under test
 * (ThreadSanitizer found the shared counter raced as soon as two threads
 * allocated). */
#include "sio_mem.h"

#include <stdlib.h>
#include <string.h>

static _Thread_local long fail_countdown = -1;
static _Thread_local long alloc_count;

static int should_fail(void) {
  alloc_count++;
  if (fail_countdown < 0)
    return 0;
  if (fail_countdown == 0)
    return 1;
  fail_countdown--;
  return 0;
}

long sio_mem_fail_after(long n) {
  long c = alloc_count;
  fail_countdown = n;
  alloc_count = 0;
  return c;
}

void *sio_malloc(size_t size) {
  if (should_fail())
    return NULL;
  return malloc(size ? size : 1);
}

void *sio_calloc(size_t n, size_t size) {
  if (should_fail())
    return NULL;
  return calloc(n ? n : 1, size ? size : 1);
}

void *sio_realloc(void *p, size_t size) {
  if (should_fail())
    return NULL;
  return realloc(p, size ? size : 1);
}

void *sio_aligned_calloc(size_t align, size_t size) {
  void *p;
  if (should_fail() || posix_memalign(&p, align, size ? size : 1))
    return NULL;
  memset(p, 0, size);
  return p;
}

void sio_free(void *p) { free(p); }

char *sio_strndup(const char *s, size_t n) {
  char *d = sio_malloc(n + 1);
  if (!d)
    return NULL;
  memcpy(d, s, n);
  d[n] = '\0';
  return d;
}

char *sio_strdup(const char *s) { return sio_strndup(s, strlen(s)); }
