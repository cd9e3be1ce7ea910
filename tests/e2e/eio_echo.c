/* eio_echo: the Engine.IO conformance server of the engine.io-protocol
 * test suite ("Test suite" section of its README): port 3000 (argv[1] or
 * PORT overrides), path /engine.io/, pingInterval 300, pingTimeout 200,
 * maxPayload 1e6, CORS origin "*", every message echoed back. Built on the
 * internal Engine.IO layer, since Engine.IO alone is not public API. */
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <uv.h>

#include "eio_server.h"
#include "sio/sio.h"
#include "sio_rcbuf.h"

static eio_server *srv;
static uv_signal_t sigint, sigterm;

static void on_message(eio_socket *es, int binary, const uint8_t *data,
                       size_t len, void *ud) {
  sio_rcbuf *rc;
  (void)ud;
  if (binary) {
    rc = sio_rcbuf_new_copy(data, len);
    if (rc)
      rc->flags |= SIO_RCBUF_BINARY;
  } else {
    rc = sio_rcbuf_new(len + 1);
    if (rc) {
      rc->data[0] = '4';
      memcpy(rc->data + 1, data, len);
    }
  }
  if (!rc)
    return;
  eio_socket_send(es, rc);
  sio_rcbuf_unref(rc);
}

static void closed(void *ud) { (void)ud; }

static void on_signal(uv_signal_t *h, int signum) {
  (void)signum;
  uv_signal_stop(&sigint);
  uv_signal_stop(&sigterm);
  uv_close((uv_handle_t *)&sigint, NULL);
  uv_close((uv_handle_t *)&sigterm, NULL);
  eio_server_close(srv, closed, NULL);
  (void)h;
}

int main(int argc, char **argv) {
  uv_loop_t *loop = uv_default_loop();
  const char *port = argc > 1 ? argv[1] : getenv("PORT");
  char addr[64];
  eio_options o = {0};
  eio_callbacks cbs = {0};
  int rv;
  o.path = "/engine.io/";
  o.ping_interval = 300;
  o.ping_timeout = 200;
  o.max_payload = 1000000;
  o.transports = SIO_TRANSPORT_POLLING | SIO_TRANSPORT_WEBSOCKET;
  o.cors_origins = "*";
  cbs.on_message = on_message;
  if (eio_server_new(&srv, loop, &o, &cbs, NULL)) {
    fprintf(stderr, "eio_echo: out of memory\n");
    return 1;
  }
  snprintf(addr, sizeof(addr), "127.0.0.1:%s", port ? port : "3000");
  rv = eio_server_listen(srv, addr);
  if (rv) {
    fprintf(stderr, "eio_echo: cannot listen on %s: %s\n", addr,
            sio_strerror(rv));
    return 1;
  }
  printf("LISTENING %d\n", eio_server_port(srv, 0));
  fflush(stdout);
  uv_signal_init(loop, &sigint);
  uv_signal_init(loop, &sigterm);
  uv_signal_start(&sigint, on_signal, SIGINT);
  uv_signal_start(&sigterm, on_signal, SIGTERM);
  uv_run(loop, UV_RUN_DEFAULT);
  return uv_loop_close(loop) == 0 ? 0 : 1;
}
