/* embed-echo: the smallest program embedding libsio. It serves Socket.IO on
 * a port (default 3000): every event a client emits is sent back to it with
 * the same name and arguments, an event that asks for an ack is answered
 * with its arguments, and "broadcast" events go to every connected client.
 *
 *   cc embed-echo.c $(pkg-config --cflags --libs libsio) -o embed-echo
 */
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <sio/sio.h>

static sio_server *server;
static uv_signal_t sigint, sigterm;

static void on_event(sio_socket *s, const char *event, json_object *args,
                     const sio_bin *bins, size_t nbins, int64_t ack_id,
                     void *ud) {
  (void)ud;
  if (ack_id >= 0) {
    sio_socket_ack(s, ack_id, args, bins, nbins);
  } else if (strcmp(event, "broadcast") == 0) {
    sio_broadcast_opts all = {0};
    sio_namespace_broadcast(sio_socket_namespace(s), &all, event, args, bins,
                            nbins);
  } else {
    sio_socket_emit(s, event, args, bins, nbins);
  }
}

static void on_log(int level, const char *msg, void *ud) {
  (void)ud;
  fprintf(stderr, "[%d] %s\n", level, msg);
}

static void on_signal(uv_signal_t *h, int signum) {
  (void)h;
  (void)signum;
  uv_close((uv_handle_t *)&sigint, NULL);
  uv_close((uv_handle_t *)&sigterm, NULL);
  sio_server_close(server, NULL, NULL);
}

int main(int argc, char **argv) {
  uv_loop_t *loop = uv_default_loop();
  sio_namespace_handlers h = {0};
  char addr[64];
  int rv;

  sio_set_log(on_log, NULL, SIO_LOG_INFO);
  if (sio_server_new(&server, loop, NULL)) {
    fprintf(stderr, "embed-echo: out of memory\n");
    return 1;
  }
  h.on_event = on_event;
  sio_namespace_set_handlers(sio_server_of(server, "/"), &h, NULL);
  snprintf(addr, sizeof(addr), "0.0.0.0:%s", argc > 1 ? argv[1] : "3000");
  rv = sio_server_listen(server, addr);
  if (rv) {
    fprintf(stderr, "embed-echo: listen %s: %s\n", addr, sio_strerror(rv));
    return 1;
  }
  printf("embed-echo: Socket.IO on %s (path /socket.io/)\n", addr);
  fflush(stdout);
  uv_signal_init(loop, &sigint);
  uv_signal_init(loop, &sigterm);
  uv_signal_start(&sigint, on_signal, SIGINT);
  uv_signal_start(&sigterm, on_signal, SIGTERM);
  uv_run(loop, UV_RUN_DEFAULT);
  return uv_loop_close(loop) == 0 ? 0 : 1;
}
