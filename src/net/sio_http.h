#ifndef SIO_HTTP_H
#define SIO_HTTP_H

/* HTTP/1.1 request parser (llhttp glue) and response-head writer.
 *
 * Sans-I/O: the connection module feeds the bytes it read and writes the
 * bytes these functions produce; nothing here touches a socket or a clock.
 * One sio_http_parser per connection, embedded by value. Every string of the
 * request being parsed (target, header names and values, body) lives in one
 * growable arena owned by the parser; the sio_http_request handed out points
 * into it and stays valid until the next feed, reset or deinit. */

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include <llhttp.h>

#include "sio_buf.h"

/* Defaults of sio_http_limits (NULL limits in sio_http_parser_init). */
#define SIO_HTTP_DEFAULT_MAX_HEADER_BYTES 8192
#define SIO_HTTP_DEFAULT_MAX_HEADERS 64
#define SIO_HTTP_DEFAULT_MAX_BODY 1000000
/* reset keeps an arena up to this capacity; a larger one is freed. */
#define SIO_HTTP_ARENA_KEEP 4096

typedef struct sio_http_limits {
  /* request line + all header lines (leading empty lines and the final
   * CRLF included), raw bytes; over it: SIO_ERR_LIMIT (431). 0 = default;
   * values above UINT32_MAX are clamped. */
  size_t max_header_bytes;
  /* header count; over it: SIO_ERR_LIMIT (431). 0 = default. */
  size_t max_headers;
  /* decoded body bytes; over it: SIO_ERR_TOOBIG (413). 0 = default. */
  size_t max_body;
} sio_http_limits;

typedef struct sio_http_header {
  const char *name; /* NUL-terminated, as received (case kept) */
  size_t name_len;
  const char *value; /* NUL-terminated, leading/trailing SP/HTAB removed */
  size_t value_len;
} sio_http_header;

typedef struct sio_http_request {
  int method;             /* llhttp_method_t: HTTP_GET, HTTP_POST, ... */
  const char *method_str; /* static string, e.g. "GET" */
  const char *url;        /* raw request target, NUL-terminated */
  size_t url_len;
  const char *path; /* target up to '?' or '#' (not NUL-terminated) */
  size_t path_len;
  const char *query; /* after '?' up to '#', without the '?'; len 0 if none
                        (not NUL-terminated) */
  size_t query_len;
  sio_http_header *headers; /* in arrival order; trailers are dropped */
  size_t nheaders;
  const uint8_t *body; /* never NULL; NUL-terminated (body[body_len]==0) */
  size_t body_len;
  int keep_alive; /* llhttp_should_keep_alive(); 0 for CONNECT */
  /* 1 for a WebSocket upgrade: Connection: upgrade and an Upgrade header
   * naming "websocket". Other Upgrade protocols are ignored (upgrade 0, the
   * request is an ordinary one) as RFC 9110 7.8 allows. */
  int upgrade;
  int http_major, http_minor;
} sio_http_request;

/* Embed by value; fields are private to sio_http.c. Idle size is the llhttp
 * state (~80 bytes), a few counters and the arena (<= SIO_HTTP_ARENA_KEEP
 * kept between requests). */
typedef struct sio_http_parser {
  llhttp_t ll;
  sio_http_limits lim;
  sio_buf arena;
  size_t url_len;
  size_t cur;      /* arena offset of the current header's length slot */
  size_t body_off; /* arena offset of the body */
  size_t req_off;  /* arena offset of the resolved request when done */
  size_t raw_hdr;  /* raw bytes fed while in the head */
  size_t raw_body; /* raw bytes fed after the head (chunked framing budget) */
  uint32_t nheaders;
  int err;         /* sticky SIO_ERR_* once feed failed */
  uint8_t hstate;  /* 0 between headers, 1 in a name, 2 in a value */
  uint8_t started; /* a byte of this request was consumed */
  uint8_t head_done;
  uint8_t msg_done;
  uint8_t done; /* request resolved and handed out */
  uint8_t keep_alive;
  uint8_t ll_upgrade;
  uint8_t expect_continue; /* Expect: 100-continue seen */
  uint8_t continue_due;    /* ... and the head is in: answer it */
} sio_http_parser;

/* Prepares hp for a first request. lim (copied) may be NULL for the
 * defaults; a 0 field takes its default. Does not allocate; cannot fail. */
void sio_http_parser_init(sio_http_parser *hp, const sio_http_limits *lim);

/* Frees what hp owns (the arena), not hp itself; any request handed out
 * becomes invalid. hp may be re-initialised afterwards. */
void sio_http_parser_deinit(sio_http_parser *hp);

/* Feeds len bytes of data (borrowed; nothing of it is kept after return,
 * the parser copies what it needs into its arena).
 *
 * Returns the number of bytes consumed (0..len) or a negative error. While
 * no request completes, every byte is consumed. When a whole request has
 * been parsed, *done is set to 1 (else 0), parsing stops
 * right after its last byte and the rest of data is NOT consumed: a
 * pipelined next request or, after an upgrade, the first WebSocket bytes.
 * The request is then available from sio_http_parser_request() until
 * sio_http_parser_reset(), which must be called before feeding again.
 *
 * Errors (sticky: later feeds return the same error until reset; the caller
 * answers with sio_http_status_for_error() and closes the connection):
 *   SIO_ERR_PROTO        malformed request (400), including a request with
 *                        both Content-Length and Transfer-Encoding, a
 *                        duplicate Content-Length, a Transfer-Encoding other
 *                        than chunked, whitespace before a header's colon
 *   SIO_ERR_LIMIT        head over max_header_bytes or more than
 *                        max_headers headers (431)
 *   SIO_ERR_TOOBIG       body over max_body, detected from Content-Length
 *                        before any body byte is read, or while a chunked
 *                        body is decoded; also a chunked body whose framing
 *                        (chunk sizes, extensions, trailers) makes the raw
 *                        body bytes exceed 2 * max_body + max_header_bytes
 *                        (413)
 *   SIO_ERR_UNSUPPORTED  an HTTP version other than 1.x, or the HTTP/2
 *                        connection preface (505)
 *   SIO_ERR_NOMEM        the arena could not grow
 *   SIO_ERR_STATE        a request is complete and reset was not called */
ssize_t sio_http_parser_feed(sio_http_parser *hp, const char *data, size_t len,
                             int *done);

/* 1 once per request, after a feed that completed the head of an HTTP/1.1
 * request carrying "Expect: 100-continue" and a body not received yet:
 * the caller writes "HTTP/1.1 100 Continue" so that the client sends the
 * body (a refusal is sent instead when the head was refused: feed then
 * returned the error and this returns 0). */
int sio_http_parser_take_continue(sio_http_parser *hp);

/* The completed request, or NULL when none is complete. Borrowed: owned by
 * hp, valid until the next feed, reset or deinit. */
const sio_http_request *sio_http_parser_request(const sio_http_parser *hp);

/* Forgets the current request (and any error) to parse the next one on the
 * same connection. Keeps the arena's storage unless it grew beyond
 * SIO_HTTP_ARENA_KEEP bytes. Cannot fail. */
void sio_http_parser_reset(sio_http_parser *hp);

/* 1 while a request has been started (a byte of it consumed since the last
 * reset) but not completed, else 0: drives the request timeout. */
int sio_http_parser_in_request(const sio_http_parser *hp);

/* The HTTP status a feed error maps to: PROTO 400, LIMIT 431, TOOBIG 413,
 * UNSUPPORTED 505, TIMEOUT 408, FORBIDDEN 403, NOTFOUND 404; anything else
 * (NOMEM included) 500. */
int sio_http_status_for_error(int err);

/* Case-insensitive lookup of the first header named name (borrowed,
 * NUL-terminated). Returns its value (borrowed from req, NUL-terminated)
 * and sets *len (len may be NULL), or returns NULL when absent. */
const char *sio_http_request_header(const sio_http_request *req,
                                    const char *name, size_t *len);

/* Looks up query parameter name (borrowed, NUL-terminated; compared with
 * each key after percent-decoding it) in the raw query string (borrowed;
 * without the '?'; '&'-separated "key=value" or "key"). The first match's
 * value is percent-decoded ('+' as space) and appended to out (borrowed;
 * NUL-terminated by sio_buf; the value may itself contain NUL bytes, out->len
 * is authoritative). A key without '=' has the empty value.
 * Returns 1 found, 0 absent, or one of:
 *   SIO_ERR_PROTO  the value holds a bad %-escape (out is left unchanged)
 *   SIO_ERR_NOMEM  out could not grow (out is left unchanged) */
int sio_http_query_get(const char *query, size_t query_len, const char *name,
                       sio_buf *out);

/* Reason phrase of an HTTP status (static string; "Unknown" when the code
 * is not in the table). */
const char *sio_http_status_text(int status);

/* Appends a response head to out (borrowed): "HTTP/1.1 <status> <text>\r\n",
 * extra_headers (borrowed, pre-formatted "Name: value\r\n" lines, or NULL),
 * "Content-Type: <content_type>\r\n" when content_type (borrowed) is not
 * NULL, "Content-Length: <n>\r\n" (omitted for 204, which may not carry
 * one), "Connection: keep-alive" or "close", and the empty line. For final
 * responses only: a 101 head is the WebSocket module's business.
 * Returns 0 or one of (out is left unchanged on error):
 *   SIO_ERR_INVAL  status outside 200..999
 *   SIO_ERR_NOMEM  out could not grow */
int sio_http_write_head(sio_buf *out, int status, const char *extra_headers,
                        const char *content_type, size_t content_length,
                        int keep_alive);


#endif
