#ifndef APP_LOG_H
#define APP_LOG_H

/* The daemon's log sink: one line per event on stderr (journald picks it
 * up), as text ("2026-01-02T03:04:05.678Z warn message") or JSON
 * ({"ts":...,"level":"warn","msg":"..."}). libsio's messages arrive through
 * sio_set_log(); the daemon's own through app_log(). Callers never pass
 * tokens, keys or full payloads. */

#include <sio/sio.h>

/* Parses "error", "warn", "info", "debug" into SIO_LOG_*; -1 otherwise. */
int app_log_level_parse(const char *s);
/* Parses "text" / "json": 0 / 1; -1 otherwise. */
int app_log_format_parse(const char *s);
/* Installs the sink (also as libsio's). level: SIO_LOG_*; json: 0 or 1. */
void app_log_init(int level, int json);
/* A reload's level and format, from any thread, while loops log. */
void app_log_configure(int level, int json);
/* Changes the level (SIGHUP reload). */
void app_log_set_level(int level);
int app_log_enabled(int level);
void app_log(int level, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));
/* Formats one line into buf (for tests); returns its length. */
size_t app_log_format(char *buf, size_t cap, int json, int level,
                      uint64_t ms, const char *msg);

#define APP_LOGE(...) app_log(SIO_LOG_ERROR, __VA_ARGS__)
#define APP_LOGW(...) app_log(SIO_LOG_WARN, __VA_ARGS__)
#define APP_LOGI(...) app_log(SIO_LOG_INFO, __VA_ARGS__)
#define APP_LOGD(...)                                                          \
  do {                                                                         \
    if (app_log_enabled(SIO_LOG_DEBUG))                                        \
      app_log(SIO_LOG_DEBUG, __VA_ARGS__);                                     \
  } while (0)

#endif
