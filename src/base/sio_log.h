#ifndef SIO_LOG_H
#define SIO_LOG_H

/* Level-gated logging into the user's callback (sio_set_log). libsio never
 * writes to stdout or stderr itself. The level check happens before any
 * formatting; SIO_LOGD compiles away without --enable-debug. */

#include <stdatomic.h>

#include "sio/sio.h"

/* Read by every loop's thread, changed by a reload: relaxed loads, a
 * plain mov on the platforms we run on. */
extern atomic_int sio_log_level_;

void sio_log_emit(int level, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

#define SIO_LOG(level, ...)                                                    \
  do {                                                                         \
    if ((level) <=                                                             \
        atomic_load_explicit(&sio_log_level_, memory_order_relaxed))           \
      sio_log_emit((level), __VA_ARGS__);                                      \
  } while (0)
#define SIO_LOGE(...) SIO_LOG(SIO_LOG_ERROR, __VA_ARGS__)
#define SIO_LOGW(...) SIO_LOG(SIO_LOG_WARN, __VA_ARGS__)
#define SIO_LOGI(...) SIO_LOG(SIO_LOG_INFO, __VA_ARGS__)
#ifdef SIO_DEBUG
#define SIO_LOGD(...) SIO_LOG(SIO_LOG_DEBUG, __VA_ARGS__)
#else
#define SIO_LOGD(...)                                                          \
  do {                                                                         \
  } while (0)
#endif

#endif
