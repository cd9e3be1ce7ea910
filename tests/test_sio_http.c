/* test_sio_http.c: the HTTP/1.1 request parser and response-head writer.
 * Every request is also fed in small chunks (1, 2, 3, 7 bytes) and must give
 * the same requests, consumed counts and errors as a whole feed. */
#include <check.h>
#include <stdio.h>
#include <string.h>

#include "check_suites.h"
#include "failmalloc.h"
#include "sio_http.h"
#include "sio_int.h"
#include "sio_mem.h"

/* Appends a one-line description of req to d. */
static void dump_request(sio_buf *d, const sio_http_request *req) {
  size_t i;
  ck_assert_ptr_nonnull(req->body);
  ck_assert_int_eq(req->body[req->body_len], 0);
  ck_assert_int_eq(req->url[req->url_len], 0);
  sio_buf_appendf(d, "%s %.*s path=%.*s query=%.*s v=%d.%d ka=%d up=%d",
                  req->method_str, (int)req->url_len, req->url,
                  (int)req->path_len, req->path, (int)req->query_len,
                  req->query, req->http_major, req->http_minor, req->keep_alive,
                  req->upgrade);
  for (i = 0; i < req->nheaders; i++) {
    const sio_http_header *h = &req->headers[i];
    ck_assert_int_eq(h->name[h->name_len], 0);
    ck_assert_int_eq(h->value[h->value_len], 0);
    sio_buf_appendf(d, " [%s|%s]", h->name, h->value);
  }
  sio_buf_appendf(d, " body(%zu)=", req->body_len);
  sio_buf_append(d, req->body, req->body_len);
}

/* Feeds data in pieces of `chunk` bytes (0: all at once), resetting after
 * each request, until the data ends, an error occurs, or an upgrade or a
 * request without keep-alive ends HTTP on the connection. Describes every
 * request and where it ended in d; returns the number of requests or the error.
 */
static int run(const char *data, size_t len, size_t chunk,
               const sio_http_limits *lim, sio_buf *d) {
  sio_http_parser hp;
  size_t pos = 0;
  int nreq = 0, rv = 0;
  sio_http_parser_init(&hp, lim);
  while (pos < len) {
    size_t n = chunk ? SIO_MIN(chunk, len - pos) : len - pos;
    int done = -1;
    ssize_t r = sio_http_parser_feed(&hp, data + pos, n, &done);
    if (r < 0) {
      ck_assert_int_eq(done, 0);
      /* sticky */
      ck_assert_int_eq(sio_http_parser_feed(&hp, "x", 1, &done), r);
      rv = (int)r;
      break;
    }
    ck_assert_uint_le((size_t)r, n);
    pos += (size_t)r;
    if (!done) {
      ck_assert_uint_eq((size_t)r, n);
      ck_assert(sio_http_parser_request(&hp) == NULL);
      continue;
    }
    ck_assert(!sio_http_parser_in_request(&hp));
    dump_request(d, sio_http_parser_request(&hp));
    sio_buf_appendf(d, " @%zu\n", pos);
    nreq++;
    /* The connection stops speaking HTTP after these. */
    if (sio_http_parser_request(&hp)->upgrade ||
        !sio_http_parser_request(&hp)->keep_alive)
      break;
    sio_http_parser_reset(&hp);
  }
  sio_http_parser_deinit(&hp);
  return rv ? rv : nreq;
}

/* Runs data whole and in small chunks; all runs must agree. Returns the
 * result of the whole feed and leaves its description in d. */
static int run_all(const char *data, size_t len, const sio_http_limits *lim,
                   sio_buf *d) {
  static const size_t chunks[] = {1, 2, 3, 7};
  size_t i;
  int rv;
  sio_buf_init(d);
  rv = run(data, len, 0, lim, d);
  for (i = 0; i < SIO_ARRLEN(chunks); i++) {
    sio_buf d2;
    int rv2;
    sio_buf_init(&d2);
    rv2 = run(data, len, chunks[i], lim, &d2);
    ck_assert_msg(rv2 == rv, "chunk %zu: %d != %d", chunks[i], rv2, rv);
    ck_assert_str_eq(d2.data ? d2.data : "", d->data ? d->data : "");
    sio_buf_deinit(&d2);
  }
  return rv;
}

static int run_str(const char *s, const sio_http_limits *lim, sio_buf *d) {
  return run_all(s, strlen(s), lim, d);
}

/* Parses exactly one complete request from s into hp. */
static const sio_http_request *parse_one(sio_http_parser *hp, const char *s,
                                         size_t len) {
  int done = 0;
  ssize_t r;
  sio_http_parser_init(hp, NULL);
  r = sio_http_parser_feed(hp, s, len, &done);
  ck_assert_int_eq(r, (ssize_t)len);
  ck_assert_int_eq(done, 1);
  return sio_http_parser_request(hp);
}

START_TEST(get_with_query) {
  static const char s[] = "GET /socket.io/?EIO=4&transport=polling&t=N8hyd6w "
                          "HTTP/1.1\r\n"
                          "Host: localhost:3000\r\n"
                          "Accept: */*\r\n"
                          "X-Spaced: \t  two words \t \r\n"
                          "X-Empty:\r\n"
                          "\r\n";
  sio_http_parser hp;
  const sio_http_request *req = parse_one(&hp, s, sizeof(s) - 1);
  size_t len = 99;
  sio_buf d;

  ck_assert_int_eq(req->method, HTTP_GET);
  ck_assert_str_eq(req->method_str, "GET");
  ck_assert_str_eq(req->url, "/socket.io/?EIO=4&transport=polling&t=N8hyd6w");
  ck_assert_uint_eq(req->path_len, 11);
  ck_assert_mem_eq(req->path, "/socket.io/", 11);
  ck_assert_uint_eq(req->query_len, 33);
  ck_assert_mem_eq(req->query, "EIO=4&transport=polling&t=N8hyd6w", 33);
  ck_assert_uint_eq(req->nheaders, 4);
  ck_assert_str_eq(req->headers[0].name, "Host");
  ck_assert_str_eq(sio_http_request_header(req, "host", &len),
                   "localhost:3000");
  ck_assert_uint_eq(len, 14);
  ck_assert_str_eq(sio_http_request_header(req, "ACCEPT", NULL), "*/*");
  ck_assert_str_eq(sio_http_request_header(req, "x-spaced", &len), "two words");
  ck_assert_uint_eq(len, 9);
  ck_assert_str_eq(sio_http_request_header(req, "x-empty", &len), "");
  ck_assert_uint_eq(len, 0);
  ck_assert_ptr_null(sio_http_request_header(req, "x-missing", &len));
  ck_assert_ptr_null(sio_http_request_header(req, "hos", &len));
  ck_assert_uint_eq(req->body_len, 0);
  ck_assert_int_eq(req->body[0], 0);
  ck_assert_int_eq(req->keep_alive, 1);
  ck_assert_int_eq(req->upgrade, 0);
  ck_assert_int_eq(req->http_major, 1);
  ck_assert_int_eq(req->http_minor, 1);
  sio_http_parser_deinit(&hp);

  ck_assert_int_eq(run_str(s, NULL, &d), 1);
  sio_buf_deinit(&d);
}
END_TEST

START_TEST(target_forms) {
  sio_http_parser hp;
  const sio_http_request *req;
  static const char a[] = "GET /p HTTP/1.1\r\n\r\n";
  static const char b[] = "GET /p? HTTP/1.1\r\n\r\n";
  static const char c[] = "GET http://example.com:80/x/y?q=1 HTTP/1.1\r\n\r\n";
  static const char e[] = "GET HTTP://example.com?q=2 HTTP/1.1\r\n\r\n";
  static const char f[] = "OPTIONS * HTTP/1.1\r\n\r\n";

  req = parse_one(&hp, a, sizeof(a) - 1);
  ck_assert_uint_eq(req->path_len, 2);
  ck_assert_uint_eq(req->query_len, 0);
  sio_http_parser_deinit(&hp);

  req = parse_one(&hp, b, sizeof(b) - 1);
  ck_assert_uint_eq(req->path_len, 2);
  ck_assert_uint_eq(req->query_len, 0);
  sio_http_parser_deinit(&hp);

  req = parse_one(&hp, c, sizeof(c) - 1);
  ck_assert_uint_eq(req->path_len, 4);
  ck_assert_mem_eq(req->path, "/x/y", 4);
  ck_assert_uint_eq(req->query_len, 3);
  ck_assert_mem_eq(req->query, "q=1", 3);
  sio_http_parser_deinit(&hp);

  req = parse_one(&hp, e, sizeof(e) - 1);
  ck_assert_uint_eq(req->path_len, 1);
  ck_assert_mem_eq(req->path, "/", 1);
  ck_assert_mem_eq(req->query, "q=2", 3);
  sio_http_parser_deinit(&hp);

  req = parse_one(&hp, f, sizeof(f) - 1);
  ck_assert_int_eq(req->method, HTTP_OPTIONS);
  ck_assert_str_eq(req->method_str, "OPTIONS");
  ck_assert_uint_eq(req->path_len, 1);
  sio_http_parser_deinit(&hp);
}
END_TEST

START_TEST(post_content_length) {
  static const char s[] = "POST /socket.io/?EIO=4&transport=polling&sid=abc "
                          "HTTP/1.1\r\n"
                          "Content-Type: text/plain;charset=UTF-8\r\n"
                          "Content-Length: 11\r\n"
                          "\r\n"
                          "4hello\x1e"
                          "4you";
  sio_http_parser hp;
  const sio_http_request *req = parse_one(&hp, s, sizeof(s) - 1);
  sio_buf d;
  ck_assert_int_eq(req->method, HTTP_POST);
  ck_assert_uint_eq(req->body_len, 11);
  ck_assert_mem_eq(req->body,
                   "4hello\x1e"
                   "4you",
                   12);
  sio_http_parser_deinit(&hp);
  ck_assert_int_eq(run_str(s, NULL, &d), 1);
  sio_buf_deinit(&d);
}
END_TEST

START_TEST(post_chunked) {
  static const char s[] = "POST /api/v1/emit HTTP/1.1\r\n"
                          "Host: h\r\n"
                          "Transfer-Encoding: chunked\r\n"
                          "\r\n"
                          "5\r\nhello\r\n"
                          "6;ext=1\r\n world\r\n"
                          "0\r\n"
                          "X-Trailer: dropped\r\n"
                          "\r\n";
  sio_http_parser hp;
  const sio_http_request *req = parse_one(&hp, s, sizeof(s) - 1);
  sio_buf d;
  ck_assert_uint_eq(req->body_len, 11);
  ck_assert_str_eq((const char *)req->body, "hello world");
  ck_assert_uint_eq(req->nheaders, 2);
  ck_assert_ptr_null(sio_http_request_header(req, "x-trailer", NULL));
  sio_http_parser_deinit(&hp);
  ck_assert_int_eq(run_str(s, NULL, &d), 1);
  ck_assert_ptr_nonnull(strstr(d.data, "body(11)=hello world @"));
  sio_buf_deinit(&d);
}
END_TEST

START_TEST(pipelined_keep_alive) {
  static const char s[] = "POST /a HTTP/1.1\r\nContent-Length: 3\r\n\r\nabc"
                          "GET /b?x=1 HTTP/1.1\r\nHost: h\r\n\r\n";
  size_t first = strlen("POST /a HTTP/1.1\r\nContent-Length: 3\r\n\r\nabc");
  sio_http_parser hp;
  int done = 0;
  ssize_t r;
  const sio_http_request *req;
  sio_buf d;

  sio_http_parser_init(&hp, NULL);
  r = sio_http_parser_feed(&hp, s, sizeof(s) - 1, &done);
  ck_assert_int_eq(r, (ssize_t)first);
  ck_assert_int_eq(done, 1);
  req = sio_http_parser_request(&hp);
  ck_assert_str_eq(req->url, "/a");
  ck_assert_str_eq((const char *)req->body, "abc");
  ck_assert_int_eq(req->keep_alive, 1);
  /* Feeding again before reset is a caller bug. */
  ck_assert_int_eq(sio_http_parser_feed(&hp, s + first, 1, &done),
                   SIO_ERR_STATE);
  sio_http_parser_reset(&hp);
  ck_assert_ptr_null(sio_http_parser_request(&hp));
  r = sio_http_parser_feed(&hp, s + first, sizeof(s) - 1 - first, &done);
  ck_assert_int_eq(r, (ssize_t)(sizeof(s) - 1 - first));
  ck_assert_int_eq(done, 1);
  req = sio_http_parser_request(&hp);
  ck_assert_str_eq(req->url, "/b?x=1");
  ck_assert_uint_eq(req->nheaders, 1);
  sio_http_parser_deinit(&hp);

  ck_assert_int_eq(run_str(s, NULL, &d), 2);
  ck_assert_str_eq(d.data,
                   "POST /a path=/a query= v=1.1 ka=1 up=0 "
                   "[Content-Length|3] body(3)=abc @42\n"
                   "GET /b?x=1 path=/b query=x=1 v=1.1 ka=1 up=0 [Host|h] "
                   "body(0)= @74\n");
  sio_buf_deinit(&d);
}
END_TEST

START_TEST(keep_alive_rules) {
  sio_buf d;
  ck_assert_int_eq(run_str("GET / HTTP/1.0\r\n\r\n", NULL, &d), 1);
  ck_assert_ptr_nonnull(strstr(d.data, "v=1.0 ka=0"));
  sio_buf_deinit(&d);
  ck_assert_int_eq(
      run_str("GET / HTTP/1.0\r\nConnection: keep-alive\r\n\r\n", NULL, &d), 1);
  ck_assert_ptr_nonnull(strstr(d.data, "v=1.0 ka=1"));
  sio_buf_deinit(&d);
  ck_assert_int_eq(
      run_str("GET / HTTP/1.1\r\nConnection: close\r\n\r\n", NULL, &d), 1);
  ck_assert_ptr_nonnull(strstr(d.data, "v=1.1 ka=0"));
  sio_buf_deinit(&d);
  /* Leading empty lines before a request are skipped (RFC 9112 2.2). */
  ck_assert_int_eq(run_str("\r\n\r\nGET / HTTP/1.1\r\n\r\n", NULL, &d), 1);
  ck_assert_ptr_nonnull(strstr(d.data, "@22\n"));
  sio_buf_deinit(&d);
}
END_TEST

START_TEST(upgrade_leaves_frames) {
  static const char head[] =
      "GET /socket.io/?EIO=4&transport=websocket HTTP/1.1\r\n"
      "Host: localhost\r\n"
      "Connection: keep-alive, Upgrade\r\n"
      "Upgrade: websocket\r\n"
      "Sec-WebSocket-Version: 13\r\n"
      "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n"
      "\r\n";
  char s[sizeof(head) + 8];
  size_t hl = sizeof(head) - 1;
  sio_http_parser hp;
  const sio_http_request *req;
  int done = 0;
  ssize_t r;
  sio_buf d;

  memcpy(s, head, hl);
  memcpy(s + hl, "\x81\x85\x01\x02\x03\x04\x33", 7);
  sio_http_parser_init(&hp, NULL);
  r = sio_http_parser_feed(&hp, s, hl + 7, &done);
  ck_assert_int_eq(r, (ssize_t)hl);
  ck_assert_int_eq(done, 1);
  req = sio_http_parser_request(&hp);
  ck_assert_int_eq(req->upgrade, 1);
  ck_assert_int_eq(req->keep_alive, 1);
  ck_assert_str_eq(sio_http_request_header(req, "sec-websocket-key", NULL),
                   "dGhlIHNhbXBsZSBub25jZQ==");
  sio_http_parser_deinit(&hp);

  ck_assert_int_eq(run_all(s, hl + 7, NULL, &d), 1);
  ck_assert_ptr_nonnull(strstr(d.data, " up=1 "));
  sio_buf_deinit(&d);
}
END_TEST

START_TEST(upgrade_other_protocols) {
  sio_buf d;
  /* Upgrade: h2c is ignored: an ordinary request, the next one follows. */
  ck_assert_int_eq(run_str("GET / HTTP/1.1\r\nConnection: Upgrade, "
                           "HTTP2-Settings\r\nUpgrade: h2c\r\n"
                           "HTTP2-Settings: AAMAAABkAAQAAP__\r\n\r\n"
                           "GET /2 HTTP/1.1\r\n\r\n",
                           NULL, &d),
                   2);
  ck_assert_ptr_nonnull(strstr(d.data, "GET / path=/ query= v=1.1 ka=1 up=0"));
  sio_buf_deinit(&d);
  /* An Upgrade header without Connection: upgrade is no upgrade. */
  ck_assert_int_eq(
      run_str("GET / HTTP/1.1\r\nUpgrade: websocket\r\n\r\n", NULL, &d), 1);
  ck_assert_ptr_nonnull(strstr(d.data, " up=0 "));
  sio_buf_deinit(&d);
  /* Protocol list, other case. */
  ck_assert_int_eq(run_str("GET / HTTP/1.1\r\nConnection: upgrade\r\n"
                           "Upgrade: foo/2, WebSocket\r\n\r\n",
                           NULL, &d),
                   1);
  ck_assert_ptr_nonnull(strstr(d.data, " up=1 "));
  sio_buf_deinit(&d);
  /* CONNECT: a tunnel follows, never a next request. */
  ck_assert_int_eq(run_str("CONNECT h:443 HTTP/1.1\r\n\r\nxx", NULL, &d), 1);
  ck_assert_str_eq(d.data, "CONNECT h:443 path=h:443 query= v=1.1 ka=0 up=0 "
                           "body(0)= @26\n");
  sio_buf_deinit(&d);
}
END_TEST

static char *repeat(char c, size_t n) {
  char *p = sio_malloc(n + 1);
  memset(p, c, n);
  p[n] = '\0';
  return p;
}

START_TEST(header_bytes_limit) {
  sio_http_limits lim = {0};
  sio_buf d, s;
  char *big = repeat('a', 9000);
  size_t i;

  sio_buf_init(&s);
  sio_buf_appendf(&s, "GET / HTTP/1.1\r\nX-Big: %s\r\n\r\n", big);
  ck_assert_int_eq(run_all(s.data, s.len, NULL, &d), SIO_ERR_LIMIT);
  sio_buf_deinit(&d);
  ck_assert_int_eq(sio_http_status_for_error(SIO_ERR_LIMIT), 431);
  /* A long target counts too. */
  sio_buf_reset(&s);
  sio_buf_appendf(&s, "GET /%s HTTP/1.1\r\n\r\n", big);
  ck_assert_int_eq(run_all(s.data, s.len, NULL, &d), SIO_ERR_LIMIT);
  sio_buf_deinit(&d);

  /* The budget is exact: a head of max_header_bytes passes, one byte more
   * fails, whatever the chunking. */
  sio_buf_reset(&s);
  sio_buf_append_str(&s, "GET / HTTP/1.1\r\nX: 12345\r\n\r\n");
  lim.max_header_bytes = s.len;
  ck_assert_int_eq(run_all(s.data, s.len, &lim, &d), 1);
  sio_buf_deinit(&d);
  lim.max_header_bytes = s.len - 1;
  ck_assert_int_eq(run_all(s.data, s.len, &lim, &d), SIO_ERR_LIMIT);
  sio_buf_deinit(&d);
  /* The budget is per request: many small pipelined requests pass. */
  lim.max_header_bytes = 32;
  sio_buf_reset(&s);
  for (i = 0; i < 20; i++)
    sio_buf_append_str(&s, "GET /x HTTP/1.1\r\n\r\n");
  ck_assert_int_eq(run_all(s.data, s.len, &lim, &d), 20);
  sio_buf_deinit(&d);
  /* Body bytes do not count against it. */
  sio_buf_reset(&s);
  sio_buf_appendf(&s, "POST / HTTP/1.1\r\nContent-Length: 100\r\n\r\n%.100s",
                  big);
  lim.max_header_bytes = 64;
  ck_assert_int_eq(run_all(s.data, s.len, &lim, &d), 1);
  sio_buf_deinit(&d);

  sio_buf_deinit(&s);
  sio_free(big);
}
END_TEST

START_TEST(header_count_limit) {
  sio_buf s, d;
  int i;
  sio_buf_init(&s);
  sio_buf_append_str(&s, "GET / HTTP/1.1\r\n");
  for (i = 0; i < 64; i++)
    sio_buf_appendf(&s, "X-%d: %d\r\n", i, i);
  sio_buf_append_str(&s, "\r\n");
  ck_assert_int_eq(run_all(s.data, s.len, NULL, &d), 1);
  sio_buf_deinit(&d);
  s.len -= 2;
  sio_buf_append_str(&s, "X-64: 64\r\n\r\n");
  ck_assert_int_eq(run_all(s.data, s.len, NULL, &d), SIO_ERR_LIMIT);
  sio_buf_deinit(&d);
  sio_buf_deinit(&s);
}
END_TEST

START_TEST(body_limit) {
  sio_http_limits lim = {0};
  sio_http_parser hp;
  int done = 0;
  static const char head[] = "POST / HTTP/1.1\r\nContent-Length: 1000001\r\n"
                             "\r\n";
  sio_buf d;

  /* Refused from Content-Length, before any body byte arrives. */
  sio_http_parser_init(&hp, NULL);
  ck_assert_int_eq(sio_http_parser_feed(&hp, head, sizeof(head) - 1, &done),
                   SIO_ERR_TOOBIG);
  ck_assert_int_eq(sio_http_status_for_error(SIO_ERR_TOOBIG), 413);
  sio_http_parser_deinit(&hp);
  ck_assert_int_eq(run_str(head, NULL, &d), SIO_ERR_TOOBIG);
  sio_buf_deinit(&d);

  lim.max_body = 10;
  ck_assert_int_eq(
      run_str("POST / HTTP/1.1\r\nContent-Length: 10\r\n\r\n0123456789", &lim,
              &d),
      1);
  sio_buf_deinit(&d);
  ck_assert_int_eq(
      run_str("POST / HTTP/1.1\r\nContent-Length: 11\r\n\r\n", &lim, &d),
      SIO_ERR_TOOBIG);
  sio_buf_deinit(&d);
  /* Chunked: refused from the chunk size, or from the running total. */
  ck_assert_int_eq(run_str("POST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\n"
                           "\r\nb\r\n",
                           &lim, &d),
                   SIO_ERR_TOOBIG);
  sio_buf_deinit(&d);
  ck_assert_int_eq(run_str("POST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\n"
                           "\r\n6\r\n012345\r\n5\r\n",
                           &lim, &d),
                   SIO_ERR_TOOBIG);
  sio_buf_deinit(&d);
  ck_assert_int_eq(run_str("POST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\n"
                           "\r\n6\r\n012345\r\n4\r\n6789\r\n0\r\n\r\n",
                           &lim, &d),
                   1);
  ck_assert_ptr_nonnull(strstr(d.data, "body(10)=0123456789"));
  sio_buf_deinit(&d);
}
END_TEST

START_TEST(chunk_framing_bounded) {
  /* Chunk extensions and trailers carry no body bytes but are bounded:
   * raw body bytes <= 2 * max_body + max_header_bytes. */
  sio_http_limits lim = {0};
  sio_buf s, d;
  char *ext = repeat('e', 600);
  lim.max_body = 100;
  lim.max_header_bytes = 100;
  sio_buf_init(&s);
  sio_buf_appendf(&s,
                  "POST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n"
                  "1;x=%s\r\na\r\n0\r\n\r\n",
                  ext);
  ck_assert_int_eq(run_all(s.data, s.len, &lim, &d), SIO_ERR_TOOBIG);
  sio_buf_deinit(&d);
  sio_buf_reset(&s);
  sio_buf_appendf(&s,
                  "POST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n"
                  "1\r\na\r\n0\r\nX-T: %s\r\n\r\n",
                  ext);
  ck_assert_int_eq(run_all(s.data, s.len, &lim, &d), SIO_ERR_TOOBIG);
  sio_buf_deinit(&d);
  /* Ordinary framing well within it. */
  sio_buf_reset(&s);
  sio_buf_appendf(&s,
                  "POST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n"
                  "32;a=b\r\n%.50s\r\n32\r\n%.50s\r\n0\r\nX-T: t\r\n\r\n",
                  ext, ext);
  ck_assert_int_eq(run_all(s.data, s.len, &lim, &d), 1);
  ck_assert_ptr_nonnull(strstr(d.data, "body(100)="));
  sio_buf_deinit(&d);
  sio_buf_deinit(&s);
  sio_free(ext);
}
END_TEST

START_TEST(malformed) {
  static const char *bad[] = {
      "GET / HTTP/1.1 x\r\n\r\n",
      "get / HTTP/1.1\r\n\r\n",
      "GET /\x7f HTTP/1.1\r\n\r\n",
      "GET / HTTP/1.1\r\nX : a\r\n\r\n",
      "GET / HTTP/1.1\r\n: a\r\n\r\n",
      "GET / HTTP/1.1\r\nX: a\x01\r\n\r\n",
      "GET / HTTP/1.1\r\n X: a\r\n\r\n",
      "GET / HTTP/1.1\nHost: a\n\n",
      "GET / HTTP/1.2\r\n\r\n",
      "POST / HTTP/1.1\r\nContent-Length: 3\r\n"
      "Transfer-Encoding: chunked\r\n\r\n0\r\n\r\n",
      "POST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\n"
      "Content-Length: 3\r\n\r\n0\r\n\r\n",
      "POST / HTTP/1.1\r\nContent-Length: 1\r\nContent-Length: 1\r\n\r\nx",
      "POST / HTTP/1.1\r\nContent-Length: -1\r\n\r\n",
      "POST / HTTP/1.1\r\nTransfer-Encoding: gzip\r\n\r\n",
      "POST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n",
      "\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03",
  };
  size_t i;
  for (i = 0; i < SIO_ARRLEN(bad); i++) {
    sio_buf d;
    ck_assert_msg(run_str(bad[i], NULL, &d) == SIO_ERR_PROTO, "case %zu", i);
    sio_buf_deinit(&d);
  }
  ck_assert_int_eq(sio_http_status_for_error(SIO_ERR_PROTO), 400);
}
END_TEST

START_TEST(unsupported_versions) {
  static const char *bad[] = {
      "GET / HTTP/2.0\r\n\r\n",
      "GET /\r\n\r\n", /* HTTP/0.9 */
      "PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n",
  };
  size_t i;
  for (i = 0; i < SIO_ARRLEN(bad); i++) {
    sio_buf d;
    ck_assert_msg(run_str(bad[i], NULL, &d) == SIO_ERR_UNSUPPORTED, "case %zu",
                  i);
    sio_buf_deinit(&d);
  }
  ck_assert_int_eq(sio_http_status_for_error(SIO_ERR_UNSUPPORTED), 505);
}
END_TEST

START_TEST(in_request_and_reset) {
  sio_http_parser hp;
  int done = 0;
  sio_buf big;
  size_t i;
  sio_http_parser_init(&hp, NULL);
  ck_assert_int_eq(sio_http_parser_in_request(&hp), 0);
  ck_assert_int_eq(sio_http_parser_feed(&hp, "", 0, &done), 0);
  ck_assert_int_eq(sio_http_parser_in_request(&hp), 0);
  ck_assert_int_eq(sio_http_parser_feed(&hp, "G", 1, &done), 1);
  ck_assert_int_eq(sio_http_parser_in_request(&hp), 1);
  ck_assert_int_eq(sio_http_parser_feed(&hp, "ET / HTTP/1.1\r\n\r", 16, &done),
                   16);
  ck_assert_int_eq(done, 0);
  ck_assert_int_eq(sio_http_parser_in_request(&hp), 1);
  ck_assert_int_eq(sio_http_parser_feed(&hp, "\nGET", 4, &done), 1);
  ck_assert_int_eq(done, 1);
  ck_assert_int_eq(sio_http_parser_in_request(&hp), 0);
  sio_http_parser_reset(&hp);
  ck_assert_int_eq(sio_http_parser_in_request(&hp), 0);
  ck_assert_uint_le(hp.arena.cap, SIO_HTTP_ARENA_KEEP);

  /* A large request's arena is released by reset, a small one's kept. */
  sio_buf_init(&big);
  sio_buf_append_str(&big, "POST / HTTP/1.1\r\nContent-Length: 100000\r\n\r\n");
  for (i = 0; i < 100000; i++)
    sio_buf_append_byte(&big, (uint8_t)('a' + i % 26));
  ck_assert_int_eq(sio_http_parser_feed(&hp, big.data, big.len, &done),
                   (ssize_t)big.len);
  ck_assert_int_eq(done, 1);
  ck_assert_uint_eq(sio_http_parser_request(&hp)->body_len, 100000);
  ck_assert_uint_gt(hp.arena.cap, SIO_HTTP_ARENA_KEEP);
  sio_http_parser_reset(&hp);
  ck_assert_uint_eq(hp.arena.cap, 0);
  ck_assert_int_eq(
      sio_http_parser_feed(&hp, "GET / HTTP/1.1\r\n\r\n", 18, &done), 18);
  ck_assert_int_eq(done, 1);
  sio_http_parser_reset(&hp);
  ck_assert_uint_gt(hp.arena.cap, 0);
  ck_assert_uint_le(hp.arena.cap, SIO_HTTP_ARENA_KEEP);
  /* After an error, reset makes the parser usable again. */
  ck_assert_int_eq(sio_http_parser_feed(&hp, "BAD\x01", 4, &done),
                   SIO_ERR_PROTO);
  sio_http_parser_reset(&hp);
  ck_assert_int_eq(
      sio_http_parser_feed(&hp, "GET / HTTP/1.1\r\n\r\n", 18, &done), 18);
  ck_assert_int_eq(done, 1);
  sio_buf_deinit(&big);
  sio_http_parser_deinit(&hp);
  /* An idle parser is small and owns nothing. */
  ck_assert_uint_le(sizeof(sio_http_parser), 256);
  ck_assert_ptr_null(hp.arena.data);
}
END_TEST

static sio_buf qout;

/* Looks name up in q with "pre:" already in the output buffer: a hit
 * appends after it, anything else must leave it untouched. */
static int query(const char *q, const char *name, const char **value) {
  int rv;
  sio_buf_reset(&qout);
  sio_buf_append_str(&qout, "pre:");
  rv = sio_http_query_get(q, strlen(q), name, &qout);
  *value = qout.data + 4;
  if (rv != 1)
    ck_assert_str_eq(qout.data, "pre:");
  return rv;
}

START_TEST(query_decoding) {
  const char *v;
  ck_assert_int_eq(query("EIO=4&transport=polling", "EIO", &v), 1);
  ck_assert_str_eq(v, "4");
  ck_assert_int_eq(query("EIO=4&transport=polling", "transport", &v), 1);
  ck_assert_str_eq(v, "polling");
  ck_assert_int_eq(query("a=%41%62c%2f%2F&b", "a", &v), 1);
  ck_assert_str_eq(v, "Abc//");
  ck_assert_int_eq(query("token=a+b%2Bc", "token", &v), 1);
  ck_assert_str_eq(v, "a b+c");
  ck_assert_int_eq(query("a=1&b=2", "c", &v), 0);
  ck_assert_int_eq(query("", "a", &v), 0);
  ck_assert_int_eq(query("ab=1", "a", &v), 0);
  ck_assert_int_eq(query("a=1", "ab", &v), 0);
  ck_assert_int_eq(query("a=&b=2", "a", &v), 1);
  ck_assert_str_eq(v, "");
  ck_assert_int_eq(query("x&a&b=2", "a", &v), 1);
  ck_assert_str_eq(v, "");
  ck_assert_int_eq(query("&&a=1&&", "a", &v), 1);
  ck_assert_str_eq(v, "1");
  ck_assert_int_eq(query("a=1&a=2", "a", &v), 1);
  ck_assert_str_eq(v, "1");
  ck_assert_int_eq(query("a=x=y", "a", &v), 1);
  ck_assert_str_eq(v, "x=y");
  /* Keys are decoded before comparing. */
  ck_assert_int_eq(query("%61+b=1", "a b", &v), 1);
  ck_assert_str_eq(v, "1");
  ck_assert_int_eq(query("%zz=1&a=2", "a", &v), 1);
  ck_assert_str_eq(v, "2");
  /* Bad escapes in the value. */
  ck_assert_int_eq(query("a=%zz", "a", &v), SIO_ERR_PROTO);
  ck_assert_int_eq(query("a=%4", "a", &v), SIO_ERR_PROTO);
  ck_assert_int_eq(query("a=%", "a", &v), SIO_ERR_PROTO);
  ck_assert_int_eq(query("a=ok%g0", "a", &v), SIO_ERR_PROTO);
  /* A bad escape elsewhere does not matter. */
  ck_assert_int_eq(query("b=%zz&a=1", "a", &v), 1);
  /* %00 decodes to a NUL byte; len tells. */
  {
    sio_buf out;
    sio_buf_init(&out);
    ck_assert_int_eq(sio_http_query_get("a=x%00y", 7, "a", &out), 1);
    ck_assert_uint_eq(out.len, 3);
    ck_assert_mem_eq(out.data, "x\0y", 4);
    /* The query length bounds the scan. */
    ck_assert_int_eq(sio_http_query_get("a=1&b=2", 3, "b", &out), 0);
    sio_buf_deinit(&out);
  }
  sio_buf_deinit(&qout);
}
END_TEST

START_TEST(write_head) {
  sio_buf out;
  sio_buf_init(&out);
  ck_assert_int_eq(sio_http_write_head(&out, 200, "X-A: 1\r\nX-B: 2\r\n",
                                       "text/plain; charset=UTF-8", 5, 1),
                   0);
  ck_assert_str_eq(out.data, "HTTP/1.1 200 OK\r\n"
                             "X-A: 1\r\nX-B: 2\r\n"
                             "Content-Type: text/plain; charset=UTF-8\r\n"
                             "Content-Length: 5\r\n"
                             "Connection: keep-alive\r\n\r\n");
  sio_buf_reset(&out);
  ck_assert_int_eq(sio_http_write_head(&out, 431, NULL, NULL, 0, 0), 0);
  ck_assert_str_eq(out.data, "HTTP/1.1 431 Request Header Fields Too Large\r\n"
                             "Content-Length: 0\r\n"
                             "Connection: close\r\n\r\n");
  sio_buf_reset(&out);
  ck_assert_int_eq(sio_http_write_head(&out, 204, NULL, NULL, 0, 1), 0);
  ck_assert_str_eq(out.data, "HTTP/1.1 204 No Content\r\n"
                             "Connection: keep-alive\r\n\r\n");
  sio_buf_reset(&out);
  ck_assert_int_eq(sio_http_write_head(&out, 101, NULL, NULL, 0, 1),
                   SIO_ERR_INVAL);
  ck_assert_uint_eq(out.len, 0);
  ck_assert_int_eq(
      sio_http_write_head(&out, 799, NULL, NULL, 12345678901ULL, 0), 0);
  ck_assert_str_eq(out.data, "HTTP/1.1 799 Unknown\r\n"
                             "Content-Length: 12345678901\r\n"
                             "Connection: close\r\n\r\n");
  sio_buf_deinit(&out);

  ck_assert_str_eq(sio_http_status_text(413), "Payload Too Large");
  ck_assert_str_eq(sio_http_status_text(403), "Forbidden");
  ck_assert_str_eq(sio_http_status_text(503), "Service Unavailable");
  ck_assert_int_eq(sio_http_status_for_error(SIO_ERR_NOMEM), 500);
  ck_assert_int_eq(sio_http_status_for_error(SIO_ERR_TIMEOUT), 408);
  ck_assert_int_eq(sio_http_status_for_error(SIO_ERR_FORBIDDEN), 403);
}
END_TEST

/* failmalloc: each allocation of a parse fails in turn; every run must
 * return NOMEM (or succeed) without leaking or crashing. */
static const char fm_req[] =
    "POST /socket.io/?EIO=4&transport=polling&sid=x HTTP/1.1\r\n"
    "Host: localhost\r\nUser-Agent: node\r\nAccept: */*\r\n"
    "X-Long: "
    "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa\r\n"
    "Transfer-Encoding: chunked\r\n\r\n"
    "40\r\n0123456789012345678901234567890123456789012345678901234567890123"
    "\r\n0\r\n\r\n"
    "GET / HTTP/1.1\r\n\r\n";

static int fm_parse(void *ud) {
  size_t chunk = *(size_t *)ud, pos = 0, len = sizeof(fm_req) - 1;
  sio_http_parser hp;
  int nreq = 0, rv = 0;
  sio_http_parser_init(&hp, NULL);
  while (pos < len) {
    size_t n = chunk ? SIO_MIN(chunk, len - pos) : len - pos;
    int done;
    ssize_t r = sio_http_parser_feed(&hp, fm_req + pos, n, &done);
    if (r < 0) {
      ck_assert_int_eq(r, SIO_ERR_NOMEM);
      rv = (int)r;
      break;
    }
    pos += (size_t)r;
    if (done) {
      const sio_http_request *req = sio_http_parser_request(&hp);
      ck_assert_uint_eq(req->nheaders, nreq ? 0 : 5);
      nreq++;
      sio_http_parser_reset(&hp);
    }
  }
  if (!rv)
    ck_assert_int_eq(nreq, 2);
  sio_http_parser_deinit(&hp);
  return rv;
}

static int fm_query(void *ud) {
  sio_buf out;
  int rv;
  (void)ud;
  sio_buf_init(&out);
  rv = sio_http_query_get("a=1&b=hello%20world", 19, "b", &out);
  if (rv == 1) {
    ck_assert_str_eq(out.data, "hello world");
    rv = 0;
  }
  if (!rv) {
    rv = sio_http_write_head(&out, 200, "X: y\r\n", "text/plain", 2, 1);
    if (rv)
      ck_assert_str_eq(out.data, "hello world");
  }
  sio_buf_deinit(&out);
  return rv;
}

/* Expect: 100-continue: due once the head is in and the body is not;
 * never for HTTP/1.0, an empty body, a whole request, another
 * expectation, or a head refused for its Content-Length. */
static int continue_after_head(const char *head, const char *body,
                               const sio_http_limits *lim) {
  sio_http_parser hp;
  int done = 0, due, again;
  ssize_t r;
  sio_http_parser_init(&hp, lim);
  r = sio_http_parser_feed(&hp, head, strlen(head), &done);
  if (r < 0) {
    due = sio_http_parser_take_continue(&hp) ? 1 : (int)r;
    sio_http_parser_deinit(&hp);
    return due;
  }
  ck_assert_int_eq(r, (ssize_t)strlen(head));
  due = sio_http_parser_take_continue(&hp);
  again = sio_http_parser_take_continue(&hp);
  ck_assert_int_eq(again, 0); /* once */
  if (!done) {
    r = sio_http_parser_feed(&hp, body, strlen(body), &done);
    ck_assert_int_eq(r, (ssize_t)strlen(body));
    ck_assert_int_eq(done, 1);
    ck_assert_int_eq(sio_http_parser_take_continue(&hp), 0);
  }
  /* the flag does not outlive the request */
  sio_http_parser_reset(&hp);
  ck_assert_int_eq(sio_http_parser_take_continue(&hp), 0);
  sio_http_parser_deinit(&hp);
  return due;
}

START_TEST(expect_continue) {
  static const sio_http_limits small = {0, 0, 100};
  static const struct {
    const char *head, *body;
    const sio_http_limits *lim;
    int want; /* 1 due, 0 not, or feed's error */
  } cases[] = {
      {"POST /e HTTP/1.1\r\nExpect: 100-continue\r\nContent-Length: 5\r\n\r\n",
       "hello", NULL, 1},
      {"POST /e HTTP/1.1\r\nEXPECT:  100-Continue \r\n"
       "Transfer-Encoding: chunked\r\n\r\n",
       "5\r\nhello\r\n0\r\n\r\n", NULL, 1},
      {"POST /e HTTP/1.1\r\nContent-Length: 5\r\n\r\n", "hello", NULL, 0},
      /* HTTP/1.0 cannot take a 1xx */
      {"POST /e HTTP/1.0\r\nExpect: 100-continue\r\nContent-Length: 5\r\n\r\n",
       "hello", NULL, 0},
      {"POST /e HTTP/1.1\r\nExpect: 100-continue\r\nContent-Length: 0\r\n\r\n",
       "", NULL, 0},
      {"POST /e HTTP/1.1\r\nExpect: something\r\nContent-Length: 5\r\n\r\n",
       "hello", NULL, 0},
      /* whole request in one feed: nothing to wait for */
      {"POST /e HTTP/1.1\r\nExpect: 100-continue\r\nContent-Length: 5\r\n\r\n"
       "hello",
       "", NULL, 0},
      /* over max_body: the 413 goes instead */
      {"POST /e HTTP/1.1\r\nExpect: 100-continue\r\nContent-Length: "
       "500\r\n\r\n",
       "", &small, SIO_ERR_TOOBIG},
  };
  size_t i;
  for (i = 0; i < SIO_ARRLEN(cases); i++)
    ck_assert_msg(continue_after_head(cases[i].head, cases[i].body,
                                      cases[i].lim) == cases[i].want,
                  "case %zu", i);
}
END_TEST

START_TEST(failmalloc_parse) {
  size_t whole = 0, bytewise = 1;
  ck_assert_int_gt(failmalloc_run(fm_parse, &whole), 0);
  ck_assert_int_gt(failmalloc_run(fm_parse, &bytewise), 0);
  ck_assert_int_gt(failmalloc_run(fm_query, NULL), 0);
}
END_TEST

Suite *sio_http_suite(void) {
  Suite *s = suite_create("sio_http");
  TCase *tc = tcase_create("parser");
  tcase_add_test(tc, get_with_query);
  tcase_add_test(tc, target_forms);
  tcase_add_test(tc, post_content_length);
  tcase_add_test(tc, post_chunked);
  tcase_add_test(tc, pipelined_keep_alive);
  tcase_add_test(tc, keep_alive_rules);
  tcase_add_test(tc, upgrade_leaves_frames);
  tcase_add_test(tc, upgrade_other_protocols);
  tcase_add_test(tc, header_bytes_limit);
  tcase_add_test(tc, header_count_limit);
  tcase_add_test(tc, body_limit);
  tcase_add_test(tc, chunk_framing_bounded);
  tcase_add_test(tc, malformed);
  tcase_add_test(tc, unsupported_versions);
  tcase_add_test(tc, in_request_and_reset);
  suite_add_tcase(s, tc);
  tc = tcase_create("helpers");
  tcase_add_test(tc, query_decoding);
  tcase_add_test(tc, write_head);
  tcase_add_test(tc, expect_continue);
  tcase_add_test(tc, failmalloc_parse);
  suite_add_tcase(s, tc);
  return s;
}
