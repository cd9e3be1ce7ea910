/* app_util.c: the daemon's small shared helpers (see app_util.h). Nothing
 * here knows about configuration, tokens or rooms; the modules that do take
 * randomness and time as parameters and the daemon feeds them from
 * app_random_bytes() and app_now_ms(), which are the only impure functions
 * of this file besides app_read_file(). */
#include "config.h"

#include "app_util.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>
#ifdef HAVE_GETRANDOM
#include <sys/random.h>
#endif

/* ------------------------------------------------------------- messages */

void app_msgs_init(struct app_msgs *m) { memset(m, 0, sizeof(*m)); }

void app_msgs_deinit(struct app_msgs *m) {
  size_t i;
  if (!m)
    return;
  for (i = 0; i < m->n; i++)
    free(m->v[i].text);
  free(m->v);
  memset(m, 0, sizeof(*m));
}

int app_msgs_vadd(struct app_msgs *m, enum app_msg_level level, const char *fmt,
                  va_list ap) {
  char *text = NULL;
  va_list cp;
  int len;

  if (level == APP_MSG_ERROR)
    m->n_errors++;
  va_copy(cp, ap);
  len = vsnprintf(NULL, 0, fmt, cp);
  va_end(cp);
  if (len < 0)
    return -1;
  text = malloc((size_t)len + 1);
  if (!text)
    return -1;
  vsnprintf(text, (size_t)len + 1, fmt, ap);
  if (m->n == m->cap) {
    size_t cap = m->cap ? m->cap * 2 : 8;
    struct app_msg *v = realloc(m->v, cap * sizeof(*v));
    if (!v) {
      free(text);
      return -1;
    }
    m->v = v;
    m->cap = cap;
  }
  m->v[m->n].level = level;
  m->v[m->n].text = text;
  m->n++;
  return 0;
}

int app_msgs_add(struct app_msgs *m, enum app_msg_level level, const char *fmt,
                 ...) {
  va_list ap;
  int rc;
  va_start(ap, fmt);
  rc = app_msgs_vadd(m, level, fmt, ap);
  va_end(ap);
  return rc;
}

/* ------------------------------------------------------- string builder */

static bool sbuf_reserve(struct app_sbuf *b, size_t extra) {
  size_t need, cap;
  char *p;
  if (b->failed)
    return false;
  need = b->len + extra + 1;
  if (need <= b->cap)
    return true;
  cap = b->cap ? b->cap : 64;
  while (cap < need)
    cap *= 2;
  p = realloc(b->p, cap);
  if (!p) {
    b->failed = true;
    return false;
  }
  b->p = p;
  b->cap = cap;
  b->p[b->len] = '\0';
  return true;
}

void app_sbuf_append(struct app_sbuf *b, const char *s, size_t n) {
  if (!sbuf_reserve(b, n))
    return;
  memcpy(b->p + b->len, s, n);
  b->len += n;
  b->p[b->len] = '\0';
}

void app_sbuf_puts(struct app_sbuf *b, const char *s) {
  app_sbuf_append(b, s, strlen(s));
}

void app_sbuf_putc(struct app_sbuf *b, char c) { app_sbuf_append(b, &c, 1); }

void app_sbuf_printf(struct app_sbuf *b, const char *fmt, ...) {
  va_list ap;
  int len;
  va_start(ap, fmt);
  len = vsnprintf(NULL, 0, fmt, ap);
  va_end(ap);
  if (len < 0) {
    b->failed = true;
    return;
  }
  if (!sbuf_reserve(b, (size_t)len))
    return;
  va_start(ap, fmt);
  vsnprintf(b->p + b->len, (size_t)len + 1, fmt, ap);
  va_end(ap);
  b->len += (size_t)len;
}

void app_sbuf_put_md(struct app_sbuf *b, const char *s) {
  for (; *s; s++) {
    if (*s == '|')
      app_sbuf_puts(b, "\\|");
    else if (*s == '*')
      app_sbuf_puts(b, "\\*");
    else if (*s == '<')
      app_sbuf_puts(b, "&lt;");
    else if (*s == '>')
      app_sbuf_puts(b, "&gt;");
    else
      app_sbuf_putc(b, *s);
  }
}

char *app_sbuf_take(struct app_sbuf *b, size_t *len) {
  char *p;
  if (!b->failed && !b->p)
    sbuf_reserve(b, 0);
  if (b->failed) {
    app_sbuf_reset(b);
    return NULL;
  }
  p = b->p;
  if (len)
    *len = b->len;
  memset(b, 0, sizeof(*b));
  return p;
}

void app_sbuf_reset(struct app_sbuf *b) {
  if (!b)
    return;
  free(b->p);
  memset(b, 0, sizeof(*b));
}

/* --------------------------------------------------------- encodings */

static const char b64url_alpha[] =
    "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";

static int b64url_val(unsigned char c) {
  if (c >= 'A' && c <= 'Z')
    return c - 'A';
  if (c >= 'a' && c <= 'z')
    return c - 'a' + 26;
  if (c >= '0' && c <= '9')
    return c - '0' + 52;
  if (c == '-')
    return 62;
  if (c == '_')
    return 63;
  return -1;
}

ssize_t app_b64url_decode(uint8_t *out, const char *in, size_t len) {
  uint32_t acc = 0;
  size_t i, o = 0;
  int bits = 0;

  while (len > 0 && in[len - 1] == '=')
    len--;
  if (len % 4 == 1)
    return -1;
  for (i = 0; i < len; i++) {
    int v = b64url_val((unsigned char)in[i]);
    if (v < 0)
      return -1;
    acc = (acc << 6) | (uint32_t)v;
    bits += 6;
    if (bits >= 8) {
      bits -= 8;
      out[o++] = (uint8_t)(acc >> bits);
    }
  }
  return (ssize_t)o;
}

void app_b64url_encode(char *out, const uint8_t *in, size_t len) {
  size_t i, o = 0;
  for (i = 0; i + 2 < len; i += 3) {
    uint32_t v = (uint32_t)in[i] << 16 | (uint32_t)in[i + 1] << 8 | in[i + 2];
    out[o++] = b64url_alpha[v >> 18 & 63];
    out[o++] = b64url_alpha[v >> 12 & 63];
    out[o++] = b64url_alpha[v >> 6 & 63];
    out[o++] = b64url_alpha[v & 63];
  }
  if (len - i == 1) {
    uint32_t v = (uint32_t)in[i] << 16;
    out[o++] = b64url_alpha[v >> 18 & 63];
    out[o++] = b64url_alpha[v >> 12 & 63];
  } else if (len - i == 2) {
    uint32_t v = (uint32_t)in[i] << 16 | (uint32_t)in[i + 1] << 8;
    out[o++] = b64url_alpha[v >> 18 & 63];
    out[o++] = b64url_alpha[v >> 12 & 63];
    out[o++] = b64url_alpha[v >> 6 & 63];
  }
  out[o] = '\0';
}

void app_uuid_v4(char out[37], const uint8_t rnd[16]) {
  static const char hex[] = "0123456789abcdef";
  uint8_t b[16];
  size_t i, o = 0;
  memcpy(b, rnd, 16);
  b[6] = (uint8_t)((b[6] & 0x0f) | 0x40);
  b[8] = (uint8_t)((b[8] & 0x3f) | 0x80);
  for (i = 0; i < 16; i++) {
    if (i == 4 || i == 6 || i == 8 || i == 10)
      out[o++] = '-';
    out[o++] = hex[b[i] >> 4];
    out[o++] = hex[b[i] & 15];
  }
  out[o] = '\0';
}

void app_iso8601_ms(char out[25], uint64_t ms) {
  /* 253402300799999 is 9999-12-31T23:59:59.999Z. */
  const uint64_t max = 253402300799999ULL;
  time_t secs;
  struct tm tm;
  if (ms > max)
    ms = max;
  secs = (time_t)(ms / 1000);
  char buf[80];
  gmtime_r(&secs, &tm);
  /* The clamp keeps every field in range; buf only silences -Wformat. */
  snprintf(buf, sizeof(buf), "%04d-%02d-%02dT%02d:%02d:%02d.%03uZ",
           tm.tm_year + 1900, tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min,
           tm.tm_sec, (unsigned)(ms % 1000));
  memcpy(out, buf, 24);
  out[24] = '\0';
}

bool app_strn_ieq(const char *s, size_t n, const char *t) {
  size_t i;
  for (i = 0; i < n; i++) {
    unsigned char a = (unsigned char)s[i], c = (unsigned char)t[i];
    if (c == '\0')
      return false;
    if (a >= 'A' && a <= 'Z')
      a = (unsigned char)(a - 'A' + 'a');
    if (c >= 'A' && c <= 'Z')
      c = (unsigned char)(c - 'A' + 'a');
    if (a != c)
      return false;
  }
  return t[n] == '\0';
}

/* ---------------------------------------------------------------- lists */

static bool is_blank(char c) {
  return c == ' ' || c == '\t' || c == '\r' || c == '\n';
}

int app_list_split(const char *s, char ***out, size_t *n) {
  const char *p = s ? s : "";
  size_t cap = 2, count = 0;
  char **v;

  for (const char *q = p; *q; q++)
    if (*q == ',')
      cap++;
  v = calloc(cap, sizeof(*v));
  if (!v)
    return -1;
  for (;;) {
    const char *start = p, *end;
    while (*p && *p != ',')
      p++;
    end = p;
    while (start < end && is_blank(*start))
      start++;
    while (end > start && is_blank(end[-1]))
      end--;
    if (end > start) {
      v[count] = strndup(start, (size_t)(end - start));
      if (!v[count]) {
        app_strv_free(v);
        return -1;
      }
      count++;
    }
    if (!*p)
      break;
    p++;
  }
  *out = v;
  *n = count;
  return 0;
}

void app_strv_free(char **v) {
  size_t i;
  if (!v)
    return;
  for (i = 0; v[i]; i++)
    free(v[i]);
  free(v);
}

char *app_list_join(char *const *v, size_t n) {
  struct app_sbuf b = {0};
  size_t i;
  for (i = 0; i < n; i++) {
    if (i)
      app_sbuf_putc(&b, ',');
    app_sbuf_puts(&b, v[i]);
  }
  return app_sbuf_take(&b, NULL);
}

char *app_list_normalize(const char *s) {
  char **v, *out;
  size_t n;
  if (app_list_split(s, &v, &n) != 0)
    return NULL;
  out = app_list_join(v, n);
  app_strv_free(v);
  return out;
}

/* ---------------------------------------------------------------- files */

int app_read_file(const char *path, size_t max, char **out, size_t *len) {
  struct app_sbuf b = {0};
  char chunk[4096];
  int fd, err = 0;

  fd = open(path, O_RDONLY | O_CLOEXEC);
  if (fd < 0)
    return -errno;
  for (;;) {
    ssize_t r = read(fd, chunk, sizeof(chunk));
    if (r < 0) {
      if (errno == EINTR)
        continue;
      err = -errno;
      break;
    }
    if (r == 0)
      break;
    if (b.len + (size_t)r > max) {
      err = -EFBIG;
      break;
    }
    app_sbuf_append(&b, chunk, (size_t)r);
  }
  close(fd);
  if (err) {
    app_sbuf_reset(&b);
    return err;
  }
  *out = app_sbuf_take(&b, len);
  return *out ? 0 : -ENOMEM;
}

/* ---------------------------------------------------------- impure bits */

int app_random_bytes(void *buf, size_t n) {
  uint8_t *p = buf;
#ifdef HAVE_GETRANDOM
  while (n > 0) {
    ssize_t r = getrandom(p, n, 0);
    if (r < 0) {
      if (errno == EINTR)
        continue;
      break;
    }
    p += r;
    n -= (size_t)r;
  }
  if (n == 0)
    return 0;
#endif
  {
    int fd = open("/dev/urandom", O_RDONLY | O_CLOEXEC);
    if (fd < 0)
      return -errno;
    while (n > 0) {
      ssize_t r = read(fd, p, n);
      if (r < 0 && errno == EINTR)
        continue;
      if (r <= 0) {
        int err = r < 0 ? -errno : -EIO;
        close(fd);
        return err;
      }
      p += r;
      n -= (size_t)r;
    }
    close(fd);
  }
  return 0;
}

uint64_t app_now_ms(void) {
  struct timespec ts;
  clock_gettime(CLOCK_REALTIME, &ts);
  return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}
