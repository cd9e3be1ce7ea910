#ifndef SIO_DIAL_H
#define SIO_DIAL_H

/* Outgoing connections: the client side of sio_conn, for the connections
 * libsio makes itself (Redis, Sentinel, Cluster nodes). One call resolves
 * the host (uv_getaddrinfo, never blocking the loop), connects without
 * blocking to each address in turn (TCP), or to a unix socket, and with a
 * TLS client context runs the handshake (SNI, certificate and host name
 * verified). One deadline bounds all of it. Once connected the sio_conn is
 * an ordinary one: sio_conn_write, the flush, the graceful close.
 *
 * A refused connect is reported at once (the next address is tried first,
 * if any): there is no waiting for the deadline when the kernel already
 * said no. */

#include <stddef.h>
#include <stdint.h>

#include "sio_conn.h"
#include "sio_tls.h"

/* Called once per sio_dial that returned 0, never from inside sio_dial:
 * status 0 when connected (and, with TLS, the handshake done and the
 * peer verified), else SIO_ERR_IO (refused, unreachable, reset, name not
 * resolved), SIO_ERR_TIMEOUT (the deadline passed) or SIO_ERR_PROTO (TLS
 * handshake or verification failed). After a failure the connection is
 * closing and ops->on_close follows. why is a short text for a log line
 * ("127.0.0.1:6379: connection refused"), borrowed for the call; "" on
 * success. Not called when the owner closed c
 * (sio_conn_close) before the dial finished; on_close still runs once. */
typedef void (*sio_dial_cb)(sio_conn *c, int status, const char *why);

typedef struct sio_dial_opts {
  const char *host;    /* name or address (IPv6 without brackets); NULL
                          with path */
  int port;            /* 1..65535 with host */
  const char *path;    /* unix socket path, or NULL */
  uint32_t timeout_ms; /* resolve + connect + TLS handshake; 0: 5000 */
  sio_tls_client_ctx *tls; /* NULL: plain TCP (or unix) */
  const char *server_name; /* TLS: SNI and the name verified; NULL: host */
} sio_dial_opts;

/* Starts connecting c, a caller-allocated sio_conn (not initialised:
 * sio_dial initialises it, as TCP or unix socket), on net's loop. o and
 * its strings are borrowed for the call. ops->on_read etc. apply once
 * connected; cb reports the outcome. Returns 0 (cb will fire, or
 * on_close if closed first), SIO_ERR_INVAL (no host and no path, bad
 * port) or SIO_ERR_NOMEM / SIO_ERR_IO; on error c needs no cleanup and
 * no callback fires.
 *
 * Added to the contract above:
 * - o->tls is used until the handshake starts: it must outlive the dial
 *   (until cb, or on_close). TLS over a unix socket (o->path) needs
 *   o->server_name (else SIO_ERR_INVAL).
 * - o->path longer than a sockaddr_un holds: SIO_ERR_INVAL.
 * - sio_conn_write while dialing queues: the bytes leave once connected
 *   (with TLS, once the handshake is done), in order, ahead of what cb
 *   writes.
 * - sio_conn_close_after_flush while dialing is sio_conn_close: there is
 *   no peer to flush to yet; queued bytes are dropped, cb does not fire.
 * - c->remote: the peer's address once connected (TCP), the path (unix). */
int sio_dial(sio_conn *c, sio_net *net, const sio_conn_ops *ops,
             const sio_dial_opts *o, sio_dial_cb cb);

/* Used by sio_tls.c: c's TLS client handshake completed. */
void sio_dial_tls_done(sio_conn *c);

#endif
