/* sio_dial.c: outgoing connections (sio_dial.h).
 *
 * The dial's state lives apart from the connection, which is the owner's.
 * While dialing, c->ops points at the ops inside the state: that is how
 * the state is found from c, and the owner's on_close passes through it
 * (an owner's close ends the dial silently). When the dial ends, the
 * owner's ops are put back. The state is freed only once nothing can call
 * into it any more: the getaddrinfo request (a worker thread may still be
 * resolving long after the owner freed c), the connect attempt's handle
 * and the deadline timer.
 *
 * Each address is tried on a handle of the dial's own: a failed attempt
 * leaves a socket of one family in a state nothing can reuse. The socket
 * that connects moves into the connection's handle (dup, uv_tcp_open),
 * which therefore exists from the start, so the owner may close it in any
 * phase. */
#include "sio_dial.h"

#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/un.h>
#include <unistd.h>

#include "sio_int.h"
#include "sio_log.h"
#include "sio_mem.h"

#define DIAL_TIMEOUT_DEFAULT 5000

typedef struct dial_state {
  sio_conn_ops ops; /* c->ops while dialing */
  sio_conn *c;      /* NULL once the dial is over */
  const sio_conn_ops *owner_ops;
  sio_dial_cb cb;
  sio_tls_client_ctx *tls;
  char *name;       /* TLS: the server's name (SNI, verified) */
  uv_timer_t timer; /* the deadline; at 0 to report a failure sio_dial met */
  int status;       /* what the timer reports, 0: SIO_ERR_TIMEOUT */
  int err;          /* the last attempt's libuv error, for the log */
  uv_getaddrinfo_t gai;
  struct addrinfo *res;  /* what getaddrinfo returned */
  struct addrinfo *next; /* the next address to try */
  struct addrinfo numeric;
  struct sockaddr_storage addr; /* a numeric host */
  uv_tcp_t try;
  uv_connect_t req;
  uint8_t resolving, try_open, timer_open;
  uint8_t connected; /* the socket moved into c's handle */
  char where[64];    /* host:port or path, for the log */
} dial_state;

/* Between the owner's sio_conn_close and its close callback (which ends
 * the dial, through dial_on_close) a timer, the resolver or a connect may
 * still report: they must not act on c then. */
static int dial_live(const dial_state *d) { return d->c && !d->c->closing; }

static dial_state *dial_of(sio_conn *c) {
  return sio_container_of((sio_conn_ops *)c->ops, dial_state, ops);
}

static void dial_release(dial_state *d) {
  if (d->c || d->resolving || d->try_open || d->timer_open)
    return;
  uv_freeaddrinfo(d->res);
  sio_free(d->name);
  sio_free(d);
}

static void timer_closed(uv_handle_t *h) {
  dial_state *d = h->data;
  d->timer_open = 0;
  dial_release(d);
}

static void try_next(dial_state *d);

static void try_closed(uv_handle_t *h) {
  dial_state *d = h->data;
  d->try_open = 0;
  if (!d->c)
    dial_release(d);
  else if (dial_live(d) && !d->connected)
    try_next(d); /* that attempt failed */
}

/* Hands c back to its owner; what is still running winds down. */
static sio_conn *dial_end(dial_state *d) {
  sio_conn *c = d->c;
  d->c = NULL;
  c->dialing = 0;
  c->ops = d->owner_ops;
  if (d->resolving) /* gai_cb runs either way (UV_EAI_CANCELED) */
    uv_cancel((uv_req_t *)&d->gai);
  if (d->try_open && !uv_is_closing((uv_handle_t *)&d->try))
    uv_close((uv_handle_t *)&d->try, try_closed);
  uv_close((uv_handle_t *)&d->timer, timer_closed);
  return c;
}

static void dial_fail(dial_state *d, int status) {
  sio_dial_cb cb = d->cb;
  sio_conn *c;
  char why[160];
  snprintf(why, sizeof(why), "%s: %s", d->where,
           d->err                      ? uv_strerror(d->err)
           : status == SIO_ERR_TIMEOUT ? "timed out"
           : status == SIO_ERR_PROTO   ? sio_tls_last_failure()
                                       : "I/O error");
  SIO_LOGD("connect to %s", why);
  c = dial_end(d);
  sio_conn_close(c);
  cb(c, status, why);
}

static void dial_succeed(dial_state *d) {
  sio_dial_cb cb = d->cb;
  cb(dial_end(d), 0, "");
}

void sio_dial_tls_done(sio_conn *c) { dial_succeed(dial_of(c)); }

/* The owner closed c before the dial finished: no cb. */
static void dial_on_close(sio_conn *c) {
  dial_state *d = dial_of(c);
  const sio_conn_ops *ops = d->owner_ops;
  dial_end(d);
  ops->on_close(c);
}

/* During the TLS handshake: the peer closed, a read or write failed, or
 * the handshake did (UV_EPROTO). */
static void dial_on_error(sio_conn *c, int status) {
  dial_state *d = dial_of(c);
  d->err = status == UV_EPROTO ? 0 : status;
  dial_fail(d, status == UV_EPROTO ? SIO_ERR_PROTO : SIO_ERR_IO);
}

/* c's handle is connected. */
static void dial_connected(dial_state *d) {
  sio_conn *c = d->c;
  int rv = 0;
  if (d->tls)
    rv = sio_tls_client_attach(c, d->tls, d->name);
  if (!rv)
    rv = sio_conn_start_dialed(c);
  if (rv) {
    dial_fail(d, rv == SIO_ERR_PROTO ? SIO_ERR_PROTO : SIO_ERR_IO);
    return;
  }
  if (!d->tls)
    dial_succeed(d);
  /* else sio_tls_on_read reports the end of the handshake */
}

static void connect_cb(uv_connect_t *req, int status) {
  dial_state *d = req->data;
  uv_os_fd_t fd;
  int moved = -1;
  if (!dial_live(d) || status == UV_ECANCELED)
    return; /* the dial is over, or about to be: try_closed follows */
  if (status < 0) {
    /* refused, unreachable: the next address, at once */
    d->err = status;
    uv_close((uv_handle_t *)&d->try, try_closed);
    return;
  }
  if (uv_fileno((uv_handle_t *)&d->try, &fd) == 0)
    moved = fcntl(fd, F_DUPFD_CLOEXEC, 0);
  if (moved >= 0 && uv_tcp_open(&d->c->tcp, moved) != 0) {
    close(moved);
    moved = -1;
  }
  d->connected = 1; /* no other address either way */
  uv_close((uv_handle_t *)&d->try, try_closed);
  if (moved < 0) {
    dial_fail(d, SIO_ERR_IO);
    return;
  }
  dial_connected(d);
}

/* Connects to the next address on a fresh handle; a synchronous failure
 * closes it and try_closed moves on, so this never reports from inside
 * sio_dial. */
static void try_next(dial_state *d) {
  while (d->next) {
    struct addrinfo *ai = d->next;
    int rv;
    d->next = ai->ai_next;
    if (ai->ai_family != AF_INET && ai->ai_family != AF_INET6)
      continue;
    uv_tcp_init(d->c->net->loop, &d->try);
    d->try.data = d;
    d->try_open = 1;
    d->req.data = d;
    rv = uv_tcp_connect(&d->req, &d->try, ai->ai_addr, connect_cb);
    if (rv) {
      d->err = rv;
      uv_close((uv_handle_t *)&d->try, try_closed);
    }
    return;
  }
  dial_fail(d, SIO_ERR_IO);
}

static void gai_cb(uv_getaddrinfo_t *req, int status, struct addrinfo *res) {
  dial_state *d = req->data;
  d->resolving = 0;
  d->res = res; /* freed with d */
  if (!d->c) {
    dial_release(d);
    return;
  }
  if (!dial_live(d))
    return;
  if (status < 0) {
    d->err = status;
    dial_fail(d, SIO_ERR_IO);
    return;
  }
  d->next = res;
  try_next(d);
}

static void pipe_connect_cb(uv_connect_t *req, int status) {
  dial_state *d = req->data;
  if (!dial_live(d) || status == UV_ECANCELED)
    return; /* the owner closed c: dial_on_close follows */
  if (status < 0) {
    d->err = status;
    dial_fail(d, SIO_ERR_IO);
    return;
  }
  dial_connected(d);
}

static void timer_cb(uv_timer_t *t) {
  dial_state *d = t->data;
  if (dial_live(d))
    dial_fail(d, d->status ? d->status : SIO_ERR_TIMEOUT);
}

/* An address literal needs no resolver. */
static int numeric_host(dial_state *d, const char *host, int port) {
  if (uv_ip4_addr(host, port, (struct sockaddr_in *)&d->addr) != 0 &&
      uv_ip6_addr(host, port, (struct sockaddr_in6 *)&d->addr) != 0)
    return 0;
  d->numeric.ai_family = d->addr.ss_family;
  d->numeric.ai_socktype = SOCK_STREAM;
  d->numeric.ai_addr = (struct sockaddr *)&d->addr;
  d->next = &d->numeric;
  return 1;
}

int sio_dial(sio_conn *c, sio_net *net, const sio_conn_ops *ops,
             const sio_dial_opts *o, sio_dial_cb cb) {
  const char *name;
  dial_state *d;
  int rv;
  if (o->path) {
    if (!*o->path ||
        strlen(o->path) >= sizeof(((struct sockaddr_un *)0)->sun_path))
      return SIO_ERR_INVAL;
  } else if (!o->host || !*o->host || o->port < 1 || o->port > 65535) {
    return SIO_ERR_INVAL;
  }
  name = o->server_name && *o->server_name ? o->server_name : o->host;
  if (o->tls && !name)
    return SIO_ERR_INVAL; /* TLS over a unix socket: verify which name? */
  d = sio_calloc(1, sizeof(*d));
  if (!d)
    return SIO_ERR_NOMEM;
  if (o->tls && !(d->name = sio_strdup(name))) {
    sio_free(d);
    return SIO_ERR_NOMEM;
  }
  rv = o->path ? sio_conn_init_pipe(c, net, &d->ops)
               : sio_conn_init(c, net, &d->ops);
  if (rv) {
    sio_free(d->name);
    sio_free(d);
    return rv;
  }
  /* nothing below fails: the rest is reported through cb */
  d->ops.on_read = ops->on_read; /* TLS: only once the dial is over */
  d->ops.on_error = dial_on_error;
  d->ops.on_close = dial_on_close;
  d->owner_ops = ops;
  d->cb = cb;
  d->tls = o->tls;
  d->c = c;
  c->dialing = 1;
  sio_conn_hold_output(c);
  uv_timer_init(net->loop, &d->timer);
  d->timer.data = d;
  d->timer_open = 1;
  uv_update_time(net->loop); /* the deadline counts from this call */
  uv_timer_start(&d->timer, timer_cb,
                 o->timeout_ms ? o->timeout_ms : DIAL_TIMEOUT_DEFAULT, 0);
  if (o->path) {
    snprintf(d->where, sizeof(d->where), "%s", o->path);
    snprintf(c->remote, sizeof(c->remote), "%s", o->path);
    d->req.data = d;
    uv_pipe_connect(&d->req, c->pipe, o->path, pipe_connect_cb);
    return 0;
  }
  snprintf(d->where, sizeof(d->where), "%s:%d", o->host, o->port);
  if (numeric_host(d, o->host, o->port)) {
    try_next(d);
  } else {
    struct addrinfo hints;
    char port[8];
    memset(&hints, 0, sizeof(hints));
    hints.ai_family = AF_UNSPEC;
    hints.ai_socktype = SOCK_STREAM;
    hints.ai_protocol = IPPROTO_TCP;
    hints.ai_flags = AI_NUMERICSERV;
    snprintf(port, sizeof(port), "%d", o->port);
    d->gai.data = d;
    rv = uv_getaddrinfo(net->loop, &d->gai, gai_cb, o->host, port, &hints);
    if (rv) {
      d->err = rv; /* reported from the loop, not from here */
      d->status = SIO_ERR_IO;
      uv_timer_start(&d->timer, timer_cb, 0, 0);
    } else {
      d->resolving = 1;
    }
  }
  return 0;
}
