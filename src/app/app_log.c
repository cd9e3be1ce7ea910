/* app_log.c: text or JSON log lines on stderr, written with one write(2)
 * each so lines from several sources never interleave. */
#include "app_log.h"

#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>
#include <string.h>
#include <sys/time.h>
#include <time.h>
#include <unistd.h>

/* read by every loop's thread, set by a reload on loop 0 */
static atomic_int log_level = SIO_LOG_INFO;
static atomic_int log_json;

static const char *const level_names[] = {"error", "warn", "info", "debug"};

int app_log_level_parse(const char *s) {
  int i;
  for (i = 0; i < 4; i++)
    if (strcasecmp(s, level_names[i]) == 0)
      return i;
  if (strcasecmp(s, "warning") == 0)
    return SIO_LOG_WARN;
  return -1;
}

int app_log_format_parse(const char *s) {
  if (strcasecmp(s, "text") == 0)
    return 0;
  if (strcasecmp(s, "json") == 0)
    return 1;
  return -1;
}

static uint64_t now_ms(void) {
  struct timeval tv;
  gettimeofday(&tv, NULL);
  return (uint64_t)tv.tv_sec * 1000 + (uint64_t)tv.tv_usec / 1000;
}

/* Appends s JSON-escaped; returns the new length (truncated at cap). */
static size_t json_escape(char *buf, size_t n, size_t cap, const char *s) {
  for (; *s && n + 7 < cap; s++) {
    unsigned char c = (unsigned char)*s;
    if (c == '"' || c == '\\') {
      buf[n++] = '\\';
      buf[n++] = (char)c;
    } else if (c == '\n') {
      buf[n++] = '\\';
      buf[n++] = 'n';
    } else if (c < 0x20) {
      n += (size_t)snprintf(buf + n, cap - n, "\\u%04x", c);
    } else {
      buf[n++] = (char)c;
    }
  }
  return n;
}

size_t app_log_format(char *buf, size_t cap, int json, int level,
                      uint64_t ms, const char *msg) {
  char ts[32];
  time_t t = (time_t)(ms / 1000);
  struct tm tm;
  size_t n;
  const char *lv = level >= 0 && level < 4 ? level_names[level] : "debug";
  gmtime_r(&t, &tm);
  strftime(ts, sizeof(ts), "%Y-%m-%dT%H:%M:%S", &tm);
  if (json) {
    n = (size_t)snprintf(buf, cap, "{\"ts\":\"%s.%03uZ\",\"level\":\"%s\",\"msg\":\"",
                         ts, (unsigned)(ms % 1000), lv);
    if (n >= cap)
      n = cap - 1;
    n = json_escape(buf, n, cap - 3, msg);
    buf[n++] = '"';
    buf[n++] = '}';
  } else {
    n = (size_t)snprintf(buf, cap, "%s.%03uZ %s ", ts, (unsigned)(ms % 1000),
                         lv);
    if (n >= cap)
      n = cap - 1;
    /* one line per event: control characters (newlines from a peer's data)
     * are replaced so a message cannot forge extra lines */
    for (; *msg && n + 2 < cap; msg++)
      buf[n++] = (unsigned char)*msg < 0x20 ? '?' : *msg;
  }
  buf[n++] = '\n';
  buf[n] = '\0';
  return n;
}

static void emit(int level, const char *msg) {
  char line[2048];
  size_t n = app_log_format(line, sizeof(line), log_json, level, now_ms(), msg);
  ssize_t w = write(STDERR_FILENO, line, n);
  (void)w;
}

static void sio_sink(int level, const char *msg, void *ud) {
  (void)ud;
  emit(level, msg);
}

void app_log_init(int level, int json) {
  log_level = level;
  log_json = json;
  sio_set_log(sio_sink, NULL, level);
}

void app_log_configure(int level, int json) {
  /* the sink stays (other loops may be logging through it): only what it
   * reads changes */
  log_json = json;
  app_log_set_level(level);
}

void app_log_set_level(int level) {
  log_level = level;
  sio_set_log_level(level);
}

int app_log_enabled(int level) { return level <= log_level; }

void app_log(int level, const char *fmt, ...) {
  char msg[1024];
  va_list ap;
  if (level > log_level)
    return;
  va_start(ap, fmt);
  vsnprintf(msg, sizeof(msg), fmt, ap);
  va_end(ap);
  emit(level, msg);
}
