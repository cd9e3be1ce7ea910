#ifndef SIO_MEM_H
#define SIO_MEM_H

/* Allocation wrappers. Every libsio allocation goes through these so tests
 * can make the Nth one fail (see tests/helpers/failmalloc.h). */

#include <stddef.h>

void *sio_malloc(size_t size);
void *sio_calloc(size_t n, size_t size);
void *sio_realloc(void *p, size_t size);
/* Zeroed memory aligned to align (a power of two, at least
 * sizeof(void *)), freed with sio_free. */
void *sio_aligned_calloc(size_t align, size_t size);
void sio_free(void *p);
/* Copies n bytes of s and NUL-terminates; returns NULL on failure. */
char *sio_strndup(const char *s, size_t n);
char *sio_strdup(const char *s);

/* Test hook: after `n` more successful allocations on the calling thread,
 * every allocation of that thread fails until reset with a negative n.
 * Returns how many allocations the thread made since its last call (so a
 * driver can count a code path's allocations). */
long sio_mem_fail_after(long n);

#endif
