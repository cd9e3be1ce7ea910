#ifndef SIO_LISTENER_H
#define SIO_LISTENER_H

/* A listening TCP socket. Each accepted connection is handed to the owner's
 * accept callback, which allocates and initialises a sio_conn (or returns
 * NULL to refuse: the connection is then accepted and closed at once). */

#include <uv.h>

#include "sio_conn.h"

typedef struct sio_listener sio_listener;
/* Returns an initialised (sio_conn_init) connection or NULL. */
typedef sio_conn *(*sio_listener_accept_cb)(sio_listener *l, void *ud);

struct sio_listener {
  uv_tcp_t tcp;
  sio_net *net;
  sio_listener_accept_cb accept;
  void *ud;
  int port;
  sio_listener *next;
};

/* Parses "host:port" / "[v6]:port" / ":port" / "port" into ss.
 * Returns 0 or SIO_ERR_INVAL. */
int sio_listener_parse_addr(const char *addr, struct sockaddr_storage *ss);
/* Binds and listens with an accept queue of backlog. l is
 * caller-allocated. Returns 0,
 * SIO_ERR_INVAL or SIO_ERR_IO; on error l needs sio_listener_close only if
 * *handle_open is set. */
int sio_listener_open(sio_listener *l, sio_net *net, const char *addr,
                      int backlog, sio_listener_accept_cb cb, void *ud,
                      int *handle_open);
/* sio_listener_open_ex flags: the socket is bound with SO_REUSEPORT, so
 * listeners of several loops share one address and the kernel spreads
 * the connections over them (server.threads). Every listener of the
 * address must set it. */
#define SIO_LISTEN_REUSEPORT 1
/* sio_listener_open with flags (SIO_LISTEN_*). */
int sio_listener_open_ex(sio_listener *l, sio_net *net, const char *addr,
                         int backlog, int flags, sio_listener_accept_cb cb,
                         void *ud, int *handle_open);
/* Closes the handle; cb runs from its close callback. */
void sio_listener_close(sio_listener *l, uv_close_cb cb);

#endif
