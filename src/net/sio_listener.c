/* sio_listener.c: uv_tcp listen/accept. */
#include "sio_listener.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "sio_int.h"
#include "sio_log.h"

int sio_listener_parse_addr(const char *addr, struct sockaddr_storage *ss) {
  char host[64];
  const char *colon, *port_s;
  char *end;
  long port;
  size_t hl;
  if (!addr || !*addr)
    return SIO_ERR_INVAL;
  if (addr[0] == '[') {
    const char *rb = strchr(addr, ']');
    if (!rb || rb[1] != ':')
      return SIO_ERR_INVAL;
    hl = (size_t)(rb - addr - 1);
    if (hl >= sizeof(host))
      return SIO_ERR_INVAL;
    memcpy(host, addr + 1, hl);
    host[hl] = '\0';
    port_s = rb + 2;
  } else {
    colon = strrchr(addr, ':');
    if (!colon) {
      strcpy(host, "0.0.0.0");
      port_s = addr;
    } else {
      hl = (size_t)(colon - addr);
      if (hl >= sizeof(host))
        return SIO_ERR_INVAL;
      memcpy(host, addr, hl);
      host[hl] = '\0';
      if (!hl)
        strcpy(host, "0.0.0.0");
      port_s = colon + 1;
    }
  }
  port = strtol(port_s, &end, 10);
  if (!*port_s || *end || port < 0 || port > 65535)
    return SIO_ERR_INVAL;
  if (strcmp(host, "localhost") == 0)
    strcpy(host, "127.0.0.1");
  memset(ss, 0, sizeof(*ss));
  if (uv_ip4_addr(host, (int)port, (struct sockaddr_in *)ss) == 0)
    return 0;
  if (uv_ip6_addr(host, (int)port, (struct sockaddr_in6 *)ss) == 0)
    return 0;
  return SIO_ERR_INVAL;
}

static void refuse_close_cb(uv_handle_t *h) { free(h); }

static void connection_cb(uv_stream_t *server, int status) {
  sio_listener *l = server->data;
  sio_conn *c;
  if (status < 0) {
    SIO_LOGW("accept failed: %s", uv_strerror(status));
    return;
  }
  c = l->accept(l, l->ud);
  if (!c) {
    /* Refused (connection cap, shutting down, no memory): take it off the
     * backlog and close it so the peer sees a reset, not a hang. */
    uv_tcp_t *t = malloc(sizeof(*t));
    if (t && uv_tcp_init(server->loop, t) == 0) {
      if (uv_accept(server, (uv_stream_t *)t) == 0)
        uv_close((uv_handle_t *)t, refuse_close_cb);
      else
        uv_close((uv_handle_t *)t, refuse_close_cb);
    } else {
      free(t);
    }
    return;
  }
  if (uv_accept(server, (uv_stream_t *)&c->tcp) || sio_conn_start(c)) {
    sio_conn_close(c);
    return;
  }
}

/* A socket bound to ss with SO_REUSEPORT (libuv 1.44 has no flag for it):
 * opened into l->tcp. Returns 0 or a libuv error. */
static int bind_shared(sio_listener *l, const struct sockaddr_storage *ss) {
  int one = 1, rv;
  int fd = socket(ss->ss_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC,
                  0);
  if (fd < 0)
    return uv_translate_sys_error(errno);
  if (setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one)) ||
      setsockopt(fd, SOL_SOCKET, SO_REUSEPORT, &one, sizeof(one)) ||
      bind(fd, (const struct sockaddr *)ss,
           ss->ss_family == AF_INET6 ? sizeof(struct sockaddr_in6)
                                     : sizeof(struct sockaddr_in))) {
    rv = uv_translate_sys_error(errno);
    close(fd);
    return rv;
  }
  rv = uv_tcp_open(&l->tcp, fd);
  if (rv)
    close(fd);
  return rv;
}

int sio_listener_open(sio_listener *l, sio_net *net, const char *addr,
                      int backlog, sio_listener_accept_cb cb, void *ud,
                      int *handle_open) {
  return sio_listener_open_ex(l, net, addr, backlog, 0, cb, ud, handle_open);
}

int sio_listener_open_ex(sio_listener *l, sio_net *net, const char *addr,
                         int backlog, int flags, sio_listener_accept_cb cb,
                         void *ud, int *handle_open) {
  struct sockaddr_storage ss;
  int rv, len = sizeof(ss);
  *handle_open = 0;
  rv = sio_listener_parse_addr(addr, &ss);
  if (rv)
    return rv;
  memset(l, 0, sizeof(*l));
  l->net = net;
  l->accept = cb;
  l->ud = ud;
  if (uv_tcp_init(net->loop, &l->tcp))
    return SIO_ERR_IO;
  *handle_open = 1;
  l->tcp.data = l;
  rv = flags & SIO_LISTEN_REUSEPORT ? bind_shared(l, &ss)
                                    : uv_tcp_bind(&l->tcp, (struct sockaddr *)&ss, 0);
  if (rv == 0)
    rv = uv_listen((uv_stream_t *)&l->tcp, backlog, connection_cb);
  if (rv) {
    SIO_LOGE("listen on %s failed: %s", addr, uv_strerror(rv));
    return SIO_ERR_IO;
  }
  if (uv_tcp_getsockname(&l->tcp, (struct sockaddr *)&ss, &len) == 0)
    l->port = ntohs(ss.ss_family == AF_INET6
                        ? ((struct sockaddr_in6 *)&ss)->sin6_port
                        : ((struct sockaddr_in *)&ss)->sin_port);
  return 0;
}

void sio_listener_close(sio_listener *l, uv_close_cb cb) {
  uv_close((uv_handle_t *)&l->tcp, cb);
}
