/* sio_log.c: the process-wide log sink of libsio. */
#include "sio_log.h"

#include <stdarg.h>
#include <stdio.h>

#include "config.h"

atomic_int sio_log_level_ = -1; /* nothing is logged until a sink is set */
static sio_log_cb log_cb;
static void *log_ud;

void sio_set_log(sio_log_cb cb, void *ud, int level) {
  log_cb = cb;
  log_ud = ud;
  atomic_store_explicit(&sio_log_level_, cb ? level : -1,
                        memory_order_relaxed);
}

void sio_set_log_level(int level) {
  if (log_cb)
    atomic_store_explicit(&sio_log_level_, level, memory_order_relaxed);
}

void sio_log_emit(int level, const char *fmt, ...) {
  char msg[512];
  va_list ap;
  if (!log_cb)
    return;
  va_start(ap, fmt);
  vsnprintf(msg, sizeof(msg), fmt, ap);
  va_end(ap);
  log_cb(level, msg, log_ud);
}
