/* bench_server: the libsio side of bench/compare. Same contract as
 * bench/node-server.js, through the public API only:
 *
 *   namespace "/", no auth, WebSocket and polling on /socket.io/;
 *   "bcast" (payload)       -> broadcast the payload to every socket of "/"
 *                              (the sender included) as "bcast";
 *   "echo"  (payload, ack)  -> ack with the same payload.
 *
 * Usage: bench_server [port] [--redis URL [--adapter classic|sharded|streams]]
 *                     [--recovery]
 *        (port 0 or absent: a free one)
 * Listens on 127.0.0.1 only, prints "LISTENING <port>" on stdout once
 * ready; SIGTERM or SIGINT closes it. Options are libsio's defaults, which
 * are the reference server's (pingInterval 25000, pingTimeout 20000...), so
 * both servers do the same work per client.
 *
 * With --redis, the server joins a cluster through libsio's Redis adapter
 * (bench/fifty-k.sh runs several on one private redis-server): a "bcast"
 * then reaches the clients of every instance, published once to Redis by
 * the instance that received it. LISTENING is printed once the adapter is
 * connected (or after 5 s, with a warning). */
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <sio/sio.h>

static sio_server *server;
static uv_signal_t sigint_h, sigterm_h;
static uv_timer_t ready_h;
static int ready_waits;

static void on_event(sio_socket *s, const char *event, json_object *args,
                     const sio_bin *bins, size_t nbins, int64_t ack_id,
                     void *ud) {
  static const sio_broadcast_opts everyone = {0};
  (void)ud;
  if (strcmp(event, "bcast") == 0) {
    sio_namespace_broadcast(sio_socket_namespace(s), &everyone, "bcast", args,
                            bins, nbins);
  } else if (strcmp(event, "echo") == 0 && ack_id >= 0) {
    sio_socket_ack(s, ack_id, args, bins, nbins);
  }
}

static void on_log(int level, const char *msg, void *ud) {
  (void)ud;
  fprintf(stderr, "bench_server: [%d] %s\n", level, msg);
}

static void on_signal(uv_signal_t *h, int signum) {
  (void)h;
  (void)signum;
  uv_close((uv_handle_t *)&sigint_h, NULL);
  uv_close((uv_handle_t *)&sigterm_h, NULL);
  if (!uv_is_closing((uv_handle_t *)&ready_h))
    uv_close((uv_handle_t *)&ready_h, NULL);
  sio_server_close(server, NULL, NULL);
}

/* Announces the port once the cluster adapter (if any) is connected, so a
 * script starting several instances knows a broadcast will reach all. */
static void on_ready_check(uv_timer_t *t) {
  if (!sio_server_redis_connected(server) && ++ready_waits < 500)
    return;
  if (ready_waits >= 500)
    fprintf(stderr, "bench_server: redis not connected after 5 s\n");
  printf("LISTENING %d\n", sio_server_port(server, 0));
  fflush(stdout);
  uv_close((uv_handle_t *)t, NULL);
}

int main(int argc, char **argv) {
  uv_loop_t *loop = uv_default_loop();
  sio_namespace_handlers h = {0};
  const char *port_s = getenv("PORT"), *redis = NULL;
  sio_redis_config rc;
  char addr[64];
  char *end;
  long port = 0;
  int rv, i, recovery = 0;
  sio_options *opts = NULL;

  memset(&rc, 0, sizeof(rc));
  for (i = 1; i < argc; i++) {
    if (strcmp(argv[i], "--redis") == 0 && i + 1 < argc) {
      redis = argv[++i];
    } else if (strcmp(argv[i], "--adapter") == 0 && i + 1 < argc &&
               (strcmp(argv[i + 1], "classic") == 0 ||
                strcmp(argv[i + 1], "sharded") == 0 ||
                strcmp(argv[i + 1], "streams") == 0)) {
      i++;
      rc.adapter = strcmp(argv[i], "sharded") == 0   ? SIO_REDIS_ADAPTER_SHARDED
                   : strcmp(argv[i], "streams") == 0 ? SIO_REDIS_ADAPTER_STREAMS
                                                     : SIO_REDIS_ADAPTER_CLASSIC;
    } else if (strcmp(argv[i], "--recovery") == 0) {
      recovery = 1; /* connection state recovery (the streams adapter's) */
    } else if (argv[i][0] != '-') {
      port_s = argv[i];
    } else {
      fprintf(stderr, "usage: bench_server [port] [--redis URL [--adapter A]]\n");
      return 2;
    }
  }
  if (port_s && *port_s) {
    errno = 0;
    port = strtol(port_s, &end, 10);
    if (errno || *end || port < 0 || port > 65535) {
      fprintf(stderr, "usage: bench_server [port] [--redis URL [--adapter A]]\n");
      return 2;
    }
  }
  /* Warnings only: a log line per event would be the benchmark. */
  sio_set_log(on_log, NULL, SIO_LOG_WARN);
  if (recovery && sio_options_new(&opts) == 0)
    sio_options_set_recovery(opts, 1, 0);
  if (sio_server_new(&server, loop, opts)) {
    fprintf(stderr, "bench_server: out of memory\n");
    return 1;
  }
  sio_options_del(opts);
  h.on_event = on_event;
  sio_namespace_set_handlers(sio_server_of(server, "/"), &h, NULL);
  if (redis) {
    rc.url = redis;
    rv = sio_server_use_redis_config(server, &rc);
    if (rv) {
      fprintf(stderr, "bench_server: redis %s: %s\n", redis, sio_strerror(rv));
      return 1;
    }
  }
  snprintf(addr, sizeof(addr), "127.0.0.1:%ld", port);
  rv = sio_server_listen(server, addr);
  if (rv) {
    fprintf(stderr, "bench_server: listen %s: %s\n", addr, sio_strerror(rv));
    return 1;
  }
  uv_timer_init(loop, &ready_h);
  if (redis) {
    uv_timer_start(&ready_h, on_ready_check, 10, 10);
  } else {
    printf("LISTENING %d\n", sio_server_port(server, 0));
    fflush(stdout);
    uv_close((uv_handle_t *)&ready_h, NULL);
  }
  uv_signal_init(loop, &sigint_h);
  uv_signal_init(loop, &sigterm_h);
  uv_signal_start(&sigint_h, on_signal, SIGINT);
  uv_signal_start(&sigterm_h, on_signal, SIGTERM);
  uv_run(loop, UV_RUN_DEFAULT);
  return uv_loop_close(loop) == 0 ? 0 : 1;
}
