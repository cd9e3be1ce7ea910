#ifndef SIO_INT_H
#define SIO_INT_H

/* Internal macros shared by every libsio module. Never installed. */

#include <stddef.h>
#include <stdint.h>

#include "sio/sio_errno.h"

#define SIO_ARRLEN(a) (sizeof(a) / sizeof((a)[0]))
#define SIO_MIN(a, b) ((a) < (b) ? (a) : (b))
#define SIO_MAX(a, b) ((a) > (b) ? (a) : (b))
#define sio_container_of(ptr, type, member)                                    \
  ((type *)((char *)(ptr)-offsetof(type, member)))

#if defined(__GNUC__)
#define SIO_LIKELY(x) __builtin_expect(!!(x), 1)
#define SIO_UNLIKELY(x) __builtin_expect(!!(x), 0)
#else
#define SIO_LIKELY(x) (x)
#define SIO_UNLIKELY(x) (x)
#endif

#endif
