/* sio_http_cors.c: Origin allow-list and CORS response headers.
 *
 * engine.io applies the Node `cors` middleware to every HTTP request when
 * a `cors` option is given; browsers use the headers to decide whether a
 * page may read a long-polling response, and the preflight answer to
 * decide whether it may send one. The header sets and their order below
 * are those cors 2.8 writes (configureOrigin, configureCredentials, then
 * for OPTIONS configureMethods and configureAllowedHeaders), captured from
 * a real engine.io server. The one intended difference: "*" with
 * credentials reflects the Origin, as `origin: true` does, because a
 * literal "*" is refused by browsers for credentialed requests.
 *
 * The cors package itself never rejects a request; sio_cors_origin_allowed
 * adds that check so the server can answer 403 to a foreign Origin, which
 * also protects WebSocket upgrades (no CORS applies to those) against
 * cross-site WebSocket hijacking. */
#include "sio_http_cors.h"

#include <string.h>

#include "sio_int.h"
#include "sio_mem.h"

static int is_blank(int c) { return c == ' ' || c == '\t'; }

/* Header-safe: no control characters (CR and LF above all) and no DEL. */
static int value_safe(const char *s, size_t n) {
  size_t i;
  for (i = 0; i < n; i++) {
    unsigned char c = (unsigned char)s[i];
    if ((c < 0x20 && c != '\t') || c == 0x7f)
      return 0;
  }
  return 1;
}

int sio_cors_init(sio_cors *c, const char *origins, int credentials) {
  const char *p, *end;
  char *w;
  memset(c, 0, sizeof(*c));
  if (!origins || !*origins)
    return 0;
  c->credentials = credentials != 0;
  if (strcmp(origins, "*") == 0) {
    c->mode = SIO_CORS_ANY;
    return 0;
  }
  /* The copy is never longer than the input. */
  c->list = sio_malloc(strlen(origins) + 1);
  if (!c->list)
    return SIO_ERR_NOMEM;
  w = c->list;
  p = origins;
  end = p + strlen(p);
  while (p <= end) {
    const char *s, *e;
    size_t i;
    while (p < end && is_blank(*p))
      p++;
    s = p;
    while (p < end && *p != ',')
      p++;
    e = p;
    while (e > s && is_blank(e[-1]))
      e--;
    p++; /* past the comma, or past end to stop */
    for (i = 0; i < (size_t)(e - s); i++)
      if ((unsigned char)s[i] <= 0x20 || s[i] == 0x7f)
        goto invalid;
    if (e == s || (e - s == 1 && *s == '*'))
      goto invalid;
    memcpy(w, s, (size_t)(e - s));
    w += e - s;
    *w++ = '\0';
    c->nlist++;
  }
  c->mode = SIO_CORS_LIST;
  return 0;

invalid:
  sio_cors_deinit(c);
  return SIO_ERR_INVAL;
}

void sio_cors_deinit(sio_cors *c) {
  sio_free(c->list);
  memset(c, 0, sizeof(*c));
}

static int in_list(const sio_cors *c, const char *origin, size_t len) {
  const char *p = c->list;
  size_t i;
  for (i = 0; i < c->nlist; i++) {
    size_t n = strlen(p);
    if (n == len && memcmp(p, origin, len) == 0)
      return 1;
    p += n + 1;
  }
  return 0;
}

int sio_cors_origin_allowed(const sio_cors *c, const char *origin,
                            size_t origin_len) {
  if (!origin || c->mode != SIO_CORS_LIST)
    return 1;
  return in_list(c, origin, origin_len);
}

static int eq_nocase(const char *a, const char *b, size_t n) {
  size_t i;
  for (i = 0; i < n; i++) {
    unsigned char x = (unsigned char)a[i], y = (unsigned char)b[i];
    if (x >= 'A' && x <= 'Z')
      x = (unsigned char)(x + 32);
    if (y >= 'A' && y <= 'Z')
      y = (unsigned char)(y + 32);
    if (x != y)
      return 0;
  }
  return 1;
}

int sio_cors_same_origin(const char *origin, size_t origin_len,
                         const char *host, size_t host_len,
                         const char *forwarded_proto, size_t proto_len,
                         int tls) {
  const char *scheme = tls ? "https" : "http";
  size_t slen;
  if (forwarded_proto && proto_len) {
    if (proto_len == 5 && eq_nocase(forwarded_proto, "https", 5))
      scheme = "https";
    else if (proto_len == 4 && eq_nocase(forwarded_proto, "http", 4))
      scheme = "http";
    else
      return 0;
  }
  slen = strlen(scheme);
  if (!origin || !host || !host_len)
    return 0;
  return origin_len == slen + 3 + host_len &&
         eq_nocase(origin, scheme, slen) &&
         memcmp(origin + slen, "://", 3) == 0 &&
         eq_nocase(origin + slen + 3, host, host_len);
}

static int append_line(sio_buf *out, const char *name, const char *v,
                       size_t n) {
  int rv = sio_buf_append_str(out, name);
  if (!rv)
    rv = sio_buf_append(out, v, n);
  if (!rv)
    rv = sio_buf_append(out, "\r\n", 2);
  return rv;
}

int sio_cors_append_headers(const sio_cors *c, sio_buf *out, const char *origin,
                            size_t origin_len, int preflight,
                            const char *req_headers, size_t req_headers_len) {
  size_t orig = out->len;
  int reflect, rv = 0;
  if (c->mode == SIO_CORS_OFF)
    return 0;
  reflect = c->mode == SIO_CORS_LIST || c->credentials;
  if (!reflect) {
    rv = sio_buf_append_str(out, "Access-Control-Allow-Origin: *\r\n");
  } else {
    if (origin && origin_len && value_safe(origin, origin_len) &&
        sio_cors_origin_allowed(c, origin, origin_len))
      rv =
          append_line(out, "Access-Control-Allow-Origin: ", origin, origin_len);
    if (!rv)
      rv = sio_buf_append_str(out, preflight ? "Vary: Origin, "
                                               "Access-Control-Request-"
                                               "Headers\r\n"
                                             : "Vary: Origin\r\n");
  }
  if (!rv && c->credentials)
    rv = sio_buf_append_str(out, "Access-Control-Allow-Credentials: true\r\n");
  if (!rv && preflight) {
    rv = sio_buf_append_str(
        out,
        "Access-Control-Allow-Methods: GET,HEAD,PUT,PATCH,POST,DELETE\r\n");
    if (!rv && !reflect)
      rv = sio_buf_append_str(out, "Vary: Access-Control-Request-Headers\r\n");
    if (!rv && req_headers && req_headers_len &&
        value_safe(req_headers, req_headers_len))
      rv = append_line(out, "Access-Control-Allow-Headers: ", req_headers,
                       req_headers_len);
  }
  if (rv) {
    out->len = orig;
    if (out->data)
      out->data[orig] = '\0';
  }
  return rv;
}
