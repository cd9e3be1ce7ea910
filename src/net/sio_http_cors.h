#ifndef SIO_HTTP_CORS_H
#define SIO_HTTP_CORS_H

/* CORS response headers and the Origin allow-list, with the behaviour of the
 * Node `cors` package as engine.io/socket.io use it (checked against cors
 * 2.8.6 under engine.io 6.6). Sans-I/O: strings in, header lines out. */

#include <stddef.h>

#include "sio_buf.h"

typedef struct sio_cors {
  char *list;   /* owned: exact origins, each NUL-terminated, back to
                   back; NULL unless mode is SIO_CORS_LIST */
  size_t nlist; /* number of origins in list */
  int mode;     /* SIO_CORS_OFF, SIO_CORS_ANY or SIO_CORS_LIST */
  int credentials;
} sio_cors;

enum { SIO_CORS_OFF = 0, SIO_CORS_ANY = 1, SIO_CORS_LIST = 2 };

/* Configures c from origins (borrowed; parsed and copied): NULL or "" turns
 * CORS off (no headers, every Origin allowed, as socket.io without a `cors`
 * option); "*" allows every origin; otherwise a comma-separated list of exact
 * origins ("https://app.example.com"), blanks around commas ignored.
 * credentials adds Access-Control-Allow-Credentials: true.
 * Returns 0 or one of (c is then left off and needs no deinit):
 *   SIO_ERR_INVAL  an empty list entry, "*" inside a list, or an origin
 *                  with a blank or a control character
 *   SIO_ERR_NOMEM  the copy could not be allocated */
int sio_cors_init(sio_cors *c, const char *origins, int credentials);

/* Frees what c owns, not c. c may be re-initialised afterwards. */
void sio_cors_deinit(sio_cors *c);

/* 1 when a request with this Origin header value (borrowed; NULL when the
 * header is absent) may proceed, else 0 and the caller answers 403. No
 * Origin, CORS off and "*" always pass; a list passes only its exact
 * (case-sensitive) entries. This is also the CSWSH check of WebSocket
 * upgrades. Cannot fail. */
int sio_cors_origin_allowed(const sio_cors *c, const char *origin,
                            size_t origin_len);

/* 1 when origin (borrowed, NULL when absent) names the server the request
 * was sent to: scheme "://" host, where host equals the request's Host
 * header (borrowed; compared case-insensitively, port included) and scheme
 * is forwarded_proto when given (borrowed: X-Forwarded-Proto, "http" or
 * "https"), else "https" on a TLS connection (tls 1), else "http". A page
 * served by the server itself (the daemon's dashboard) is same-origin and
 * must pass whatever the allow-list says, as a browser never applies CORS
 * to it. A browser sets both headers, so a foreign page cannot pass this;
 * non-browser clients can forge Origin anyway. Cannot fail. */
int sio_cors_same_origin(const char *origin, size_t origin_len,
                         const char *host, size_t host_len,
                         const char *forwarded_proto, size_t proto_len,
                         int tls);

/* Appends to out (borrowed) the CORS header lines ("Name: value\r\n") of a
 * response to a request carrying origin (borrowed, NULL when absent), in the
 * order the Node `cors` package writes them:
 *   - "*" without credentials: Access-Control-Allow-Origin: *
 *   - a list, or "*" with credentials (which browsers refuse to pair with a
 *     literal "*", so the origin is reflected as with cors' `origin: true`):
 *     the request's origin echoed when allowed (omitted when not, or when
 *     absent), then Vary: Origin
 *   - with credentials: Access-Control-Allow-Credentials: true
 * For an OPTIONS preflight (preflight 1) then also
 * Access-Control-Allow-Methods: GET,HEAD,PUT,PATCH,POST,DELETE, Vary:
 * Access-Control-Request-Headers (merged into the Vary: Origin line when
 * there is one) and Access-Control-Allow-Headers echoing req_headers
 * (borrowed: the request's Access-Control-Request-Headers value, NULL or
 * empty for none). Values holding control characters are never echoed.
 * Nothing is appended when CORS is off.
 * Returns 0 or SIO_ERR_NOMEM (out is left unchanged). */
int sio_cors_append_headers(const sio_cors *c, sio_buf *out, const char *origin,
                            size_t origin_len, int preflight,
                            const char *req_headers, size_t req_headers_len);

#endif
