#ifndef APP_UTIL_H
#define APP_UTIL_H

/* Small helpers shared by the daemon's modules: a message list for
 * diagnostics, a growable string builder, base64url decoding, the uuid and
 * ISO-8601 text forms, comma-separated lists, bounded file reads, and the
 * two impure sources (random bytes, wall clock) kept here so every other
 * module can take them as parameters. The daemon reaches libsio only through
 * <sio/sio.h>, so none of this comes from src/base. */

#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#if defined(__GNUC__)
#define APP_PRINTF(f, a) __attribute__((format(printf, f, a)))
#else
#define APP_PRINTF(f, a)
#endif

#define APP_ARRLEN(a) (sizeof(a) / sizeof((a)[0]))

/* ------------------------------------------------------------- messages */

enum app_msg_level { APP_MSG_ERROR = 0, APP_MSG_WARN = 1, APP_MSG_INFO = 2 };

struct app_msg {
  enum app_msg_level level;
  char *text; /* owned; one line, no trailing newline */
};

/* A list of diagnostics collected by loaders and validators, so the caller
 * decides where they go (stderr at start, the log on reload). Initialise
 * with app_msgs_init() or `= {0}`. */
struct app_msgs {
  struct app_msg *v;
  size_t n, cap;
  size_t n_errors;
};

void app_msgs_init(struct app_msgs *m);
/* Frees every message; the struct may be reused after. NULL-safe. */
void app_msgs_deinit(struct app_msgs *m);
/* Appends a formatted message. Returns 0, or -1 when out of memory (the
 * message is lost; n_errors still counts an error so it is never hidden). */
int app_msgs_add(struct app_msgs *m, enum app_msg_level level, const char *fmt,
                 ...) APP_PRINTF(3, 4);
int app_msgs_vadd(struct app_msgs *m, enum app_msg_level level, const char *fmt,
                  va_list ap);

/* ------------------------------------------------------- string builder */

/* Growable NUL-terminated string. `= {0}` is an empty builder. Once an
 * allocation fails the builder is marked failed and later appends are
 * no-ops, so callers check once at the end with app_sbuf_failed(). */
struct app_sbuf {
  char *p;
  size_t len, cap;
  bool failed;
};

void app_sbuf_append(struct app_sbuf *b, const char *s, size_t n);
void app_sbuf_puts(struct app_sbuf *b, const char *s);
void app_sbuf_printf(struct app_sbuf *b, const char *fmt, ...) APP_PRINTF(2, 3);
void app_sbuf_putc(struct app_sbuf *b, char c);
/* Appends s escaped for a Markdown table cell or paragraph: '|' and '*'
 * get a backslash, '<' and '>' become entities. */
void app_sbuf_put_md(struct app_sbuf *b, const char *s);
static inline bool app_sbuf_failed(const struct app_sbuf *b) {
  return b->failed;
}
/* Hands the string to the caller (who frees it with free()); the builder is
 * left empty. Returns NULL if an append failed (the text is then freed) or
 * nothing was appended and an empty string cannot be allocated. */
char *app_sbuf_take(struct app_sbuf *b, size_t *len);
/* Frees the text. NULL-safe; the builder may be reused after. */
void app_sbuf_reset(struct app_sbuf *b);

/* --------------------------------------------------------- encodings */

/* Decodes base64url (RFC 4648 §5, no padding required; '=' padding is
 * accepted at the end) of in[0..len) into out, which must hold
 * app_b64url_decoded_max(len) bytes. Returns the decoded length, or -1 on a
 * character outside the alphabet or an impossible length. in is borrowed. */
ssize_t app_b64url_decode(uint8_t *out, const char *in, size_t len);
static inline size_t app_b64url_decoded_max(size_t len) {
  return len / 4 * 3 + 3;
}
/* Encodes in[0..len) as unpadded base64url into out, which must hold
 * app_b64url_encoded_len(len) + 1 bytes; NUL-terminates. (Tests build
 * hand-made tokens with it.) */
void app_b64url_encode(char *out, const uint8_t *in, size_t len);
static inline size_t app_b64url_encoded_len(size_t len) {
  return len / 3 * 4 + (len % 3 ? len % 3 + 1 : 0);
}

/* Writes the RFC 4122 version-4 text form of 16 random bytes (the version
 * and variant bits are forced) into out[37], lowercase, NUL-terminated. */
void app_uuid_v4(char out[37], const uint8_t rnd[16]);

/* Writes ms since the Unix epoch as "YYYY-MM-DDTHH:MM:SS.mmmZ" into out[25].
 * Years past 9999 are clamped to 9999-12-31T23:59:59.999Z. */
void app_iso8601_ms(char out[25], uint64_t ms);

/* True when s[0..n) equals the NUL-terminated t ignoring ASCII case. */
bool app_strn_ieq(const char *s, size_t n, const char *t);

/* ---------------------------------------------------------------- lists */

/* Splits a comma-separated list into trimmed, non-empty items. On success
 * *out is a NULL-terminated array of *n strings, all owned by the caller and
 * freed with app_strv_free(). An empty or all-blank string gives n == 0 (and
 * a one-element array holding NULL). Returns 0 or -1 when out of memory. */
int app_list_split(const char *s, char ***out, size_t *n);
/* Frees a NULL-terminated array of strings and the strings. NULL-safe. */
void app_strv_free(char **v);
/* Joins v[0..n) with ",". v is borrowed. Returns a malloc'd string or NULL
 * when out of memory. */
char *app_list_join(char *const *v, size_t n);
/* Normalises a comma-separated list: items trimmed, empty items dropped,
 * joined with ",". Returns a malloc'd string or NULL when out of memory. */
char *app_list_normalize(const char *s);

/* ---------------------------------------------------------------- files */

/* Reads the whole file at path (at most max bytes) into a malloc'd,
 * NUL-terminated buffer *out of *len bytes. Returns 0, or a negative errno
 * (-EFBIG when the file is larger than max). path is borrowed. */
int app_read_file(const char *path, size_t max, char **out, size_t *len);

/* ---------------------------------------------------------- impure bits */

/* Fills buf with n cryptographically random bytes (getrandom() or
 * /dev/urandom). Returns 0 or a negative errno. */
int app_random_bytes(void *buf, size_t n);
/* Wall-clock time in ms since the Unix epoch (CLOCK_REALTIME). */
uint64_t app_now_ms(void);

#endif
