/* sio_http.c: HTTP/1.1 request parsing over llhttp, and response heads.
 *
 * llhttp does the RFC 9112 grammar (request line, header syntax, chunked
 * decoding, the Content-Length / Transfer-Encoding smuggling checks); this
 * module adds what a server needs around it: limits, storage and a request
 * struct. It is sans-I/O: bytes in, a request out, nothing kept from the
 * caller's buffer.
 *
 * Storage. Every string of a request is appended to one sio_buf arena as the
 * llhttp callbacks deliver it, possibly in pieces across feeds:
 *
 *   target \0 { [u32 name_len][u32 value_len] name \0 value \0 }* body \0
 *   [pad] sio_http_request sio_http_header[nheaders]
 *
 * While parsing, only offsets are kept (the arena may move when it grows);
 * the length slot in front of each header is written when the header ends.
 * Once the message is complete the request struct and header array are
 * appended and every pointer is resolved in one pass, so no pointer can be
 * left dangling by a realloc. Trailers of a chunked body are not stored.
 *
 * Limits. The head (request line and headers) is fed to llhttp in slices no
 * longer than what is left of max_header_bytes, so a head that is not
 * complete when the budget runs out is rejected without reading further;
 * on_headers_complete pauses llhttp so that feed learns exactly where the
 * head ended, which keeps the accounting independent of how the bytes were
 * chunked. The body is checked against max_body from Content-Length in
 * on_headers_complete (before any body byte is read) and from each chunk size
 * for chunked bodies. Chunk framing that carries no body bytes (leading zeros,
 * chunk extensions, trailers) is bounded by a raw byte budget for the body
 * phase.
 *
 * Stopping after one request. on_message_complete returns HPE_PAUSED, so
 * llhttp_execute stops right after the request's last byte and error_pos
 * tells how much was consumed; what follows (a pipelined request, the first
 * WebSocket frame) stays with the caller, who resets and feeds it again. */
#include "sio_http.h"

#include <string.h>

#include "sio_int.h"
#include "sio_mem.h"
#include "sio_util.h"

#define SLOT_SIZE 8 /* two uint32_t lengths before each header name */

static int ascii_ieq(const char *a, size_t alen, const char *b, size_t blen);

static sio_http_parser *hp_of(llhttp_t *ll) {
  return sio_container_of(ll, sio_http_parser, ll);
}

/* Records err as the reason the current callback fails. llhttp turns the
 * -1 into HPE_USER or HPE_CB_*; feed reports hp->err instead. */
static int cb_fail(sio_http_parser *hp, int err) {
  if (!hp->err)
    hp->err = err;
  return -1;
}

static int arena_add(sio_http_parser *hp, const char *p, size_t n) {
  if (sio_buf_append(&hp->arena, p, n))
    return cb_fail(hp, SIO_ERR_NOMEM);
  return 0;
}

static void slot_get(const sio_http_parser *hp, size_t off, uint32_t *nlen,
                     uint32_t *vlen) {
  memcpy(nlen, hp->arena.data + off, sizeof(*nlen));
  memcpy(vlen, hp->arena.data + off + sizeof(*nlen), sizeof(*vlen));
}

static void slot_set(sio_http_parser *hp, size_t off, uint32_t nlen,
                     uint32_t vlen) {
  memcpy(hp->arena.data + off, &nlen, sizeof(nlen));
  memcpy(hp->arena.data + off + sizeof(nlen), &vlen, sizeof(vlen));
}

static int on_url(llhttp_t *ll, const char *at, size_t n) {
  sio_http_parser *hp = hp_of(ll);
  hp->url_len += n;
  return arena_add(hp, at, n);
}

static int on_url_complete(llhttp_t *ll) { return arena_add(hp_of(ll), "", 1); }

static int begin_header(sio_http_parser *hp) {
  static const char zero[SLOT_SIZE];
  if (hp->nheaders >= hp->lim.max_headers)
    return cb_fail(hp, SIO_ERR_LIMIT);
  hp->nheaders++;
  hp->cur = hp->arena.len;
  hp->hstate = 1;
  return arena_add(hp, zero, sizeof(zero));
}

static int on_header_field(llhttp_t *ll, const char *at, size_t n) {
  sio_http_parser *hp = hp_of(ll);
  if (hp->head_done)
    return 0; /* trailer: not stored */
  if (hp->hstate != 1 && begin_header(hp))
    return -1;
  return arena_add(hp, at, n);
}

static int on_header_field_complete(llhttp_t *ll) {
  sio_http_parser *hp = hp_of(ll);
  size_t off, nlen;
  if (hp->head_done)
    return 0;
  if (hp->hstate != 1 && begin_header(hp))
    return -1;
  off = hp->cur + SLOT_SIZE;
  nlen = hp->arena.len - off;
  /* Loose llhttp accepts "Name :"; RFC 9112 5.1 requires a 400, since a
   * proxy may read such a line differently (request smuggling). */
  if (nlen == 0 || memchr(hp->arena.data + off, ' ', nlen) ||
      memchr(hp->arena.data + off, '\t', nlen))
    return cb_fail(hp, SIO_ERR_PROTO);
  slot_set(hp, hp->cur, (uint32_t)nlen, 0);
  hp->hstate = 2;
  return arena_add(hp, "", 1);
}

static int on_header_value(llhttp_t *ll, const char *at, size_t n) {
  sio_http_parser *hp = hp_of(ll);
  if (hp->head_done)
    return 0;
  if (hp->hstate != 2)
    return cb_fail(hp, SIO_ERR_PROTO);
  return arena_add(hp, at, n);
}

static int on_header_value_complete(llhttp_t *ll) {
  sio_http_parser *hp = hp_of(ll);
  uint32_t nlen, vlen;
  size_t voff;
  if (hp->head_done)
    return 0;
  if (hp->hstate != 2)
    return cb_fail(hp, SIO_ERR_PROTO);
  slot_get(hp, hp->cur, &nlen, &vlen);
  voff = hp->cur + SLOT_SIZE + nlen + 1;
  /* llhttp drops leading whitespace but hands trailing OWS over. */
  while (hp->arena.len > voff && (hp->arena.data[hp->arena.len - 1] == ' ' ||
                                  hp->arena.data[hp->arena.len - 1] == '\t'))
    hp->arena.len--;
  slot_set(hp, hp->cur, nlen, (uint32_t)(hp->arena.len - voff));
  hp->hstate = 0;
  /* RFC 9110 10.1.1: the client may wait for "100 Continue" before the
   * body (curl does past 1 KB); other expectations are ignored, as the
   * RFC allows. */
  if (ascii_ieq(hp->arena.data + hp->cur + SLOT_SIZE, nlen, "expect", 6) &&
      ascii_ieq(hp->arena.data + voff, hp->arena.len - voff, "100-continue",
                12))
    hp->expect_continue = 1;
  return arena_add(hp, "", 1);
}

static int on_headers_complete(llhttp_t *ll) {
  sio_http_parser *hp = hp_of(ll);
  hp->head_done = 1;
  if (ll->http_major != 1)
    return cb_fail(hp, SIO_ERR_UNSUPPORTED);
  if ((ll->flags & F_CONTENT_LENGTH) && ll->content_length > hp->lim.max_body)
    return cb_fail(hp, SIO_ERR_TOOBIG);
  hp->body_off = hp->arena.len;
  /* a body is to come (HTTP/1.1 only: a 1.0 client cannot take a 1xx) */
  if (hp->expect_continue && ll->http_minor >= 1 &&
      ((ll->flags & F_CONTENT_LENGTH) ? ll->content_length > 0
                                      : (ll->flags & F_CHUNKED) != 0))
    hp->continue_due = 1;
  /* Pause so feed learns exactly where the head ended; llhttp resumes at
   * after_headers_complete, as if 0 had been returned. */
  return HPE_PAUSED;
}

static int on_chunk_header(llhttp_t *ll) {
  sio_http_parser *hp = hp_of(ll);
  size_t have = hp->arena.len - hp->body_off;
  /* content_length holds this chunk's size: refuse before reading it. */
  if (ll->content_length > hp->lim.max_body - have)
    return cb_fail(hp, SIO_ERR_TOOBIG);
  return 0;
}

static int on_body(llhttp_t *ll, const char *at, size_t n) {
  sio_http_parser *hp = hp_of(ll);
  size_t have = hp->arena.len - hp->body_off;
  if (n > hp->lim.max_body - have)
    return cb_fail(hp, SIO_ERR_TOOBIG);
  return arena_add(hp, at, n);
}

static int on_message_complete(llhttp_t *ll) {
  sio_http_parser *hp = hp_of(ll);
  hp->msg_done = 1;
  hp->keep_alive = (uint8_t)(llhttp_should_keep_alive(ll) != 0);
  hp->ll_upgrade = ll->upgrade;
  return HPE_PAUSED;
}

static const llhttp_settings_t http_settings = {
    .on_url = on_url,
    .on_header_field = on_header_field,
    .on_header_value = on_header_value,
    .on_headers_complete = on_headers_complete,
    .on_body = on_body,
    .on_message_complete = on_message_complete,
    .on_url_complete = on_url_complete,
    .on_header_field_complete = on_header_field_complete,
    .on_header_value_complete = on_header_value_complete,
    .on_chunk_header = on_chunk_header,
};

void sio_http_parser_init(sio_http_parser *hp, const sio_http_limits *lim) {
  memset(hp, 0, sizeof(*hp));
  llhttp_init(&hp->ll, HTTP_REQUEST, &http_settings);
  if (lim)
    hp->lim = *lim;
  if (!hp->lim.max_header_bytes)
    hp->lim.max_header_bytes = SIO_HTTP_DEFAULT_MAX_HEADER_BYTES;
  if (hp->lim.max_header_bytes > UINT32_MAX)
    hp->lim.max_header_bytes = UINT32_MAX; /* header lengths are u32 */
  if (!hp->lim.max_headers)
    hp->lim.max_headers = SIO_HTTP_DEFAULT_MAX_HEADERS;
  if (hp->lim.max_headers > UINT32_MAX)
    hp->lim.max_headers = UINT32_MAX;
  if (!hp->lim.max_body)
    hp->lim.max_body = SIO_HTTP_DEFAULT_MAX_BODY;
  sio_buf_init(&hp->arena);
}

void sio_http_parser_deinit(sio_http_parser *hp) {
  sio_buf_deinit(&hp->arena);
  sio_http_parser_reset(hp);
}

void sio_http_parser_reset(sio_http_parser *hp) {
  llhttp_reset(&hp->ll);
  if (hp->arena.cap > SIO_HTTP_ARENA_KEEP)
    sio_buf_deinit(&hp->arena);
  else
    sio_buf_reset(&hp->arena);
  hp->url_len = 0;
  hp->cur = 0;
  hp->body_off = 0;
  hp->req_off = 0;
  hp->raw_hdr = 0;
  hp->raw_body = 0;
  hp->nheaders = 0;
  hp->err = 0;
  hp->hstate = 0;
  hp->started = 0;
  hp->head_done = 0;
  hp->msg_done = 0;
  hp->done = 0;
  hp->keep_alive = 0;
  hp->ll_upgrade = 0;
  hp->expect_continue = 0;
  hp->continue_due = 0;
}

int sio_http_parser_take_continue(sio_http_parser *hp) {
  int due = hp->continue_due && !hp->msg_done && !hp->err;
  hp->continue_due = 0;
  return due;
}

int sio_http_parser_in_request(const sio_http_parser *hp) {
  return hp->started && !hp->done;
}

static int ascii_lower(int c) {
  return c >= 'A' && c <= 'Z' ? c + ('a' - 'A') : c;
}

static int ascii_ieq(const char *a, size_t alen, const char *b, size_t blen) {
  size_t i;
  if (alen != blen)
    return 0;
  for (i = 0; i < alen; i++)
    if (ascii_lower((unsigned char)a[i]) != ascii_lower((unsigned char)b[i]))
      return 0;
  return 1;
}

/* 1 when the comma-separated protocol list of an Upgrade header names
 * websocket (any "/version" suffix ignored). */
static int upgrade_is_websocket(const char *v, size_t len) {
  size_t i = 0;
  while (i < len) {
    size_t s, e, t;
    while (i < len && (v[i] == ' ' || v[i] == '\t' || v[i] == ','))
      i++;
    s = i;
    while (i < len && v[i] != ',')
      i++;
    e = i;
    while (e > s && (v[e - 1] == ' ' || v[e - 1] == '\t'))
      e--;
    for (t = s; t < e && v[t] != '/'; t++)
      ;
    if (ascii_ieq(v + s, t - s, "websocket", 9))
      return 1;
  }
  return 0;
}

/* Splits the target into path and query. Absolute-form targets
 * ("http://host/p?q", RFC 9112 3.2.2) are reduced to their path. */
static void split_target(sio_http_request *req) {
  const char *u = req->url, *end = u + req->url_len, *p = u, *q;
  if (req->url_len >= 7 &&
      (ascii_ieq(u, 7, "http://", 7) ||
       (req->url_len >= 8 && ascii_ieq(u, 8, "https://", 8)))) {
    p = u + (u[4] == ':' ? 7 : 8);
    while (p < end && *p != '/' && *p != '?' && *p != '#')
      p++;
  }
  for (q = p; q < end && *q != '?' && *q != '#'; q++)
    ;
  req->path = p;
  req->path_len = (size_t)(q - p);
  if (req->path_len == 0 && p != u) {
    req->path = "/"; /* "http://host" or "http://host?q" */
    req->path_len = 1;
  }
  req->query = q;
  req->query_len = 0;
  if (q < end && *q == '?') {
    const char *e = q + 1;
    while (e < end && *e != '#')
      e++;
    req->query = q + 1;
    req->query_len = (size_t)(e - (q + 1));
  }
}

/* Appends the request struct and header array to the arena and points
 * everything into it. Returns 0 or SIO_ERR_NOMEM. */
static int finalize(sio_http_parser *hp) {
  const size_t align = _Alignof(max_align_t);
  size_t body_len = hp->arena.len - hp->body_off;
  size_t req_off, hdr_off, total, off, i;
  sio_http_request *req;
  sio_http_header *h;
  char *base;
  const char *up;
  size_t uplen;
  int rv;

  rv = sio_buf_append(&hp->arena, "", 1); /* body terminator */
  if (rv)
    return rv;
  req_off = (hp->arena.len + align - 1) / align * align;
  hdr_off = req_off + sizeof(sio_http_request);
  hdr_off = (hdr_off + align - 1) / align * align;
  total = hdr_off + (size_t)hp->nheaders * sizeof(sio_http_header);
  rv = sio_buf_reserve(&hp->arena, total - hp->arena.len);
  if (rv)
    return rv;
  memset(hp->arena.data + hp->arena.len, 0, total - hp->arena.len);
  hp->arena.len = total;
  hp->arena.data[total] = '\0';

  base = hp->arena.data;
  req = (sio_http_request *)(void *)(base + req_off);
  h = hp->nheaders ? (sio_http_header *)(void *)(base + hdr_off) : NULL;
  req->method = hp->ll.method;
  req->method_str = llhttp_method_name((llhttp_method_t)hp->ll.method);
  req->url = base;
  req->url_len = hp->url_len;
  split_target(req);
  off = hp->url_len + 1;
  for (i = 0; i < hp->nheaders; i++) {
    uint32_t nlen, vlen;
    slot_get(hp, off, &nlen, &vlen);
    h[i].name = base + off + SLOT_SIZE;
    h[i].name_len = nlen;
    h[i].value = h[i].name + nlen + 1;
    h[i].value_len = vlen;
    off += SLOT_SIZE + nlen + 1 + vlen + 1;
  }
  req->headers = h;
  req->nheaders = hp->nheaders;
  req->body = (const uint8_t *)base + hp->body_off;
  req->body_len = body_len;
  req->http_major = hp->ll.http_major;
  req->http_minor = hp->ll.http_minor;
  req->keep_alive = hp->keep_alive;
  req->upgrade = 0;
  if (req->method == HTTP_CONNECT) {
    /* What follows a CONNECT is a tunnel, never a next request. */
    req->keep_alive = 0;
  } else if (hp->ll_upgrade) {
    up = sio_http_request_header(req, "upgrade", &uplen);
    req->upgrade = up && upgrade_is_websocket(up, uplen);
  }
  hp->req_off = req_off;
  hp->done = 1;
  return 0;
}

static ssize_t feed_fail(sio_http_parser *hp, int err) {
  if (!hp->err)
    hp->err = err;
  return hp->err;
}

ssize_t sio_http_parser_feed(sio_http_parser *hp, const char *data, size_t len,
                             int *done) {
  size_t off = 0;
  int kick = 0;
  *done = 0;
  if (hp->err)
    return hp->err;
  if (hp->done)
    return SIO_ERR_STATE;
  /* kick: after the head pause, llhttp must run once more even with no
   * bytes left, so that a request without a body completes now rather than
   * when the next bytes arrive. */
  while (off < len || kick) {
    size_t n = len - off, used;
    int in_head = !hp->head_done;
    llhttp_errno_t e;

    kick = 0;
    if (n && in_head) {
      size_t left = hp->lim.max_header_bytes - hp->raw_hdr;
      if (left == 0)
        return feed_fail(hp, SIO_ERR_LIMIT);
      n = SIO_MIN(n, left);
    } else if (n && (hp->ll.flags & F_CHUNKED)) {
      /* Decoded bytes are checked in on_body; this bounds the framing. */
      size_t budget = SIZE_MAX;
      if (hp->lim.max_body <= (SIZE_MAX - hp->lim.max_header_bytes) / 2)
        budget = 2 * hp->lim.max_body + hp->lim.max_header_bytes;
      if (hp->raw_body >= budget)
        return feed_fail(hp, SIO_ERR_TOOBIG);
      n = SIO_MIN(n, budget - hp->raw_body);
    }

    e = llhttp_execute(&hp->ll, data + off, n);
    if (e == HPE_OK) {
      used = n;
    } else if (e == HPE_PAUSED && (hp->msg_done || hp->head_done)) {
      used = (size_t)(llhttp_get_error_pos(&hp->ll) - (data + off));
      if (!hp->msg_done) {
        llhttp_resume(&hp->ll); /* the head pause */
        kick = 1;
      }
    } else if (e == HPE_PAUSED_H2_UPGRADE) {
      return feed_fail(hp, SIO_ERR_UNSUPPORTED);
    } else {
      return feed_fail(hp, hp->err ? hp->err : SIO_ERR_PROTO);
    }
    if (used)
      hp->started = 1;
    if (in_head)
      hp->raw_hdr += used;
    else
      hp->raw_body += used;
    off += used;
    if (hp->msg_done) {
      int rv = finalize(hp);
      if (rv)
        return feed_fail(hp, rv);
      *done = 1;
      return (ssize_t)off;
    }
  }
  return (ssize_t)off;
}

const sio_http_request *sio_http_parser_request(const sio_http_parser *hp) {
  if (!hp->done)
    return NULL;
  return (const sio_http_request *)(const void *)(hp->arena.data + hp->req_off);
}

#define SIO_HTTP_ERR_STATUS_MAP(XX)                                            \
  XX(SIO_ERR_PROTO, 400)                                                       \
  XX(SIO_ERR_FORBIDDEN, 403)                                                   \
  XX(SIO_ERR_NOTFOUND, 404)                                                    \
  XX(SIO_ERR_TIMEOUT, 408)                                                     \
  XX(SIO_ERR_TOOBIG, 413)                                                      \
  XX(SIO_ERR_LIMIT, 431)                                                       \
  XX(SIO_ERR_UNSUPPORTED, 505)

int sio_http_status_for_error(int err) {
  switch (err) {
#define SIO_HTTP_ERR_CASE(e, status)                                           \
  case e:                                                                      \
    return status;
    SIO_HTTP_ERR_STATUS_MAP(SIO_HTTP_ERR_CASE)
#undef SIO_HTTP_ERR_CASE
  default:
    return 500;
  }
}

const char *sio_http_request_header(const sio_http_request *req,
                                    const char *name, size_t *len) {
  size_t i, nlen = strlen(name);
  for (i = 0; i < req->nheaders; i++) {
    const sio_http_header *h = &req->headers[i];
    if (ascii_ieq(h->name, h->name_len, name, nlen)) {
      if (len)
        *len = h->value_len;
      return h->value;
    }
  }
  return NULL;
}

/* Decodes the byte at s[*i] ('+' is a space, %XX an escape) and advances
 * *i. Returns the byte, or -1 for a bad escape. */
static int query_byte(const char *s, size_t n, size_t *i) {
  int c = (unsigned char)s[*i], hi, lo;
  if (c == '+') {
    (*i)++;
    return ' ';
  }
  if (c != '%') {
    (*i)++;
    return c;
  }
  if (n - *i < 3)
    return -1;
  hi = sio_hex_digit((unsigned char)s[*i + 1]);
  lo = sio_hex_digit((unsigned char)s[*i + 2]);
  if (hi < 0 || lo < 0)
    return -1;
  *i += 3;
  return hi << 4 | lo;
}

/* 1 when the encoded key s[0..n) decodes to name[0..nlen). */
static int query_key_eq(const char *s, size_t n, const char *name,
                        size_t nlen) {
  size_t i = 0, j = 0;
  while (i < n) {
    int c = query_byte(s, n, &i);
    if (c < 0 || j == nlen || (unsigned char)name[j] != c)
      return 0;
    j++;
  }
  return j == nlen;
}

int sio_http_query_get(const char *query, size_t query_len, const char *name,
                       sio_buf *out) {
  size_t nlen = strlen(name), i = 0;
  while (i < query_len) {
    size_t s = i, eq, e, k;
    while (i < query_len && query[i] != '&')
      i++;
    e = i++;
    for (eq = s; eq < e && query[eq] != '='; eq++)
      ;
    if (e == s || !query_key_eq(query + s, eq - s, name, nlen))
      continue;
    {
      size_t orig = out->len, vn = eq < e ? e - eq - 1 : 0;
      const char *v = query + eq + 1;
      int rv = sio_buf_reserve(out, vn); /* decoded is never longer */
      if (rv)
        return rv;
      for (k = 0; k < vn;) {
        int c = query_byte(v, vn, &k);
        if (c < 0) {
          out->len = orig;
          out->data[orig] = '\0';
          return SIO_ERR_PROTO;
        }
        out->data[out->len++] = (char)c;
      }
      out->data[out->len] = '\0';
      return 1;
    }
  }
  return 0;
}

#define SIO_HTTP_STATUS_MAP(XX)                                                \
  XX(100, "Continue")                                                          \
  XX(101, "Switching Protocols")                                               \
  XX(200, "OK")                                                                \
  XX(201, "Created")                                                           \
  XX(202, "Accepted")                                                          \
  XX(204, "No Content")                                                        \
  XX(301, "Moved Permanently")                                                 \
  XX(302, "Found")                                                             \
  XX(304, "Not Modified")                                                      \
  XX(400, "Bad Request")                                                       \
  XX(401, "Unauthorized")                                                      \
  XX(403, "Forbidden")                                                         \
  XX(404, "Not Found")                                                         \
  XX(405, "Method Not Allowed")                                                \
  XX(408, "Request Timeout")                                                   \
  XX(411, "Length Required")                                                   \
  XX(413, "Payload Too Large")                                                 \
  XX(414, "URI Too Long")                                                      \
  XX(415, "Unsupported Media Type")                                            \
  XX(426, "Upgrade Required")                                                  \
  XX(429, "Too Many Requests")                                                 \
  XX(431, "Request Header Fields Too Large")                                   \
  XX(500, "Internal Server Error")                                             \
  XX(501, "Not Implemented")                                                   \
  XX(502, "Bad Gateway")                                                       \
  XX(503, "Service Unavailable")                                               \
  XX(504, "Gateway Timeout")                                                   \
  XX(505, "HTTP Version Not Supported")

const char *sio_http_status_text(int status) {
  switch (status) {
#define SIO_HTTP_STATUS_CASE(code, text)                                       \
  case code:                                                                   \
    return text;
    SIO_HTTP_STATUS_MAP(SIO_HTTP_STATUS_CASE)
#undef SIO_HTTP_STATUS_CASE
  default:
    return "Unknown";
  }
}

int sio_http_write_head(sio_buf *out, int status, const char *extra_headers,
                        const char *content_type, size_t content_length,
                        int keep_alive) {
  size_t orig = out->len;
  int rv;
  if (status < 200 || status > 999)
    return SIO_ERR_INVAL;
  rv = sio_buf_appendf(out, "HTTP/1.1 %d %s\r\n", status,
                       sio_http_status_text(status));
  if (!rv && extra_headers)
    rv = sio_buf_append_str(out, extra_headers);
  if (!rv && content_type)
    rv = sio_buf_appendf(out, "Content-Type: %s\r\n", content_type);
  if (!rv && status != 204) {
    rv = sio_buf_append_str(out, "Content-Length: ");
    if (!rv)
      rv = sio_buf_append_u64(out, content_length);
    if (!rv)
      rv = sio_buf_append_str(out, "\r\n");
  }
  if (!rv)
    rv = sio_buf_append_str(out, keep_alive ? "Connection: keep-alive\r\n\r\n"
                                            : "Connection: close\r\n\r\n");
  if (rv) {
    out->len = orig;
    if (out->data)
      out->data[orig] = '\0';
  }
  return rv;
}

