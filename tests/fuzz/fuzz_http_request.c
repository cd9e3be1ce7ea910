/* fuzz_http_request.c: libFuzzer target for the HTTP/1.1 request parser.
 *
 * The first byte picks the limits (defaults, or small ones so that the
 * limit paths are reached), the next four seed the chunk sizes; the rest is
 * fed to a parser twice, once whole and once in pseudo-random chunks, with
 * a reset after each complete request as a connection would do. Both runs
 * must see the same requests and consumed counts and end the same way (an
 * error in both, or none), and every request
 * must respect the limits and the struct's invariants. Query lookups and
 * header lookups are run on each request too. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "sio_buf.h"
#include "sio_http.h"
#include "sio_int.h"

#define CHECK(x)                                                               \
  do {                                                                         \
    if (!(x))                                                                  \
      abort();                                                                 \
  } while (0)

static uint32_t next_rand(uint32_t *s) {
  uint32_t x = *s ? *s : 0x9e3779b9u;
  x ^= x << 13;
  x ^= x >> 17;
  x ^= x << 5;
  *s = x;
  return x;
}

static void check_request(const sio_http_request *req,
                          const sio_http_limits *lim, sio_buf *trace) {
  size_t i;
  sio_buf v;
  CHECK(req->url && req->url[req->url_len] == '\0');
  CHECK(req->body && req->body[req->body_len] == 0);
  CHECK(req->body_len <= lim->max_body);
  CHECK(req->nheaders <= lim->max_headers);
  CHECK(req->path_len <= req->url_len || req->path_len == 1);
  CHECK(req->query_len <= req->url_len);
  CHECK(req->method_str != NULL);
  CHECK(req->http_major == 1);
  sio_buf_appendf(trace, "%d %s %zu %zu %zu %d %d|", req->method, req->url,
                  req->path_len, req->query_len, req->nheaders, req->keep_alive,
                  req->upgrade);
  for (i = 0; i < req->nheaders; i++) {
    const sio_http_header *h = &req->headers[i];
    size_t len = 0;
    const char *got;
    CHECK(h->name[h->name_len] == '\0' && h->value[h->value_len] == '\0');
    CHECK(h->name_len > 0);
    CHECK(h->value_len == 0 || (h->value[h->value_len - 1] != ' ' &&
                                h->value[h->value_len - 1] != '\t'));
    got = sio_http_request_header(req, h->name, &len);
    CHECK(got != NULL && got <= h->value);
    sio_buf_append(trace, h->name, h->name_len);
    sio_buf_append(trace, ":", 1);
    sio_buf_append(trace, h->value, h->value_len);
    sio_buf_append(trace, "|", 1);
  }
  sio_buf_append(trace, req->body, req->body_len);
  sio_buf_init(&v);
  (void)sio_http_query_get(req->query, req->query_len, "sid", &v);
  (void)sio_http_query_get(req->query, req->query_len, "EIO", &v);
  if (req->nheaders)
    (void)sio_http_query_get(req->query, req->query_len, req->headers[0].name,
                             &v);
  sio_buf_deinit(&v);
}

/* Parses data in chunks (seed 0: whole); returns the trace's result. */
static int run(const uint8_t *data, size_t len, const sio_http_limits *lim,
               uint32_t seed, sio_buf *trace) {
  sio_http_parser hp;
  size_t pos = 0;
  int rv = 0;
  sio_http_parser_init(&hp, lim);
  while (pos < len) {
    size_t n = len - pos;
    int done = 0;
    ssize_t r;
    if (seed) {
      uint32_t x = next_rand(&seed);
      size_t want = (x & 3) == 0 ? 1 : (x >> 8) % 64 + 1;
      n = SIO_MIN(n, want);
    }
    r = sio_http_parser_feed(&hp, (const char *)data + pos, n, &done);
    if (r < 0) {
      CHECK(sio_http_parser_request(&hp) == NULL);
      CHECK(sio_http_status_for_error((int)r) >= 400);
      rv = (int)r;
      break;
    }
    CHECK((size_t)r <= n);
    pos += (size_t)r;
    if (!done) {
      CHECK((size_t)r == n);
      continue;
    }
    check_request(sio_http_parser_request(&hp), &hp.lim, trace);
    sio_buf_appendf(trace, "@%zu\n", pos);
    if (sio_http_parser_request(&hp)->upgrade ||
        !sio_http_parser_request(&hp)->keep_alive)
      break;
    sio_http_parser_reset(&hp);
  }
  sio_http_parser_deinit(&hp);
  return rv;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  sio_http_limits lim = {0};
  sio_buf t1, t2;
  uint32_t seed;
  int r1, r2;
  if (size < 5)
    return 0;
  if (data[0] & 1) {
    lim.max_header_bytes = 64 + (data[0] >> 1) * 4;
    lim.max_headers = 1 + (data[0] >> 4);
    lim.max_body = 1 + (data[0] >> 2) * 8;
  }
  memcpy(&seed, data + 1, sizeof(seed));
  seed |= 1;
  data += 5;
  size -= 5;

  sio_buf_init(&t1);
  sio_buf_init(&t2);
  r1 = run(data, size, &lim, 0, &t1);
  r2 = run(data, size, &lim, seed, &t2);
  /* llhttp reports a data span when it ends or when the input does, and
   * finds a bad byte inside a span before reporting it; so when a request
   * breaks two rules (say a header over the count and a bad token in its
   * name) the chunking decides which is seen first. Both runs must fail or
   * neither, and the requests before must match. */
  CHECK(r1 == r2 || (r1 < 0 && r2 < 0));
  CHECK(t1.len == t2.len && (t1.len == 0 || !memcmp(t1.data, t2.data, t1.len)));
  sio_buf_deinit(&t1);
  sio_buf_deinit(&t2);
  return 0;
}
