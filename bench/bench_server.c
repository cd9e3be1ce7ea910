/* bench_server: the libsio side of bench/compare. Same contract as
 * bench/node-server.js, through the public API only:
 *
 *   namespace "/", no auth, WebSocket and polling on /socket.io/;
 *   "bcast" (payload)       -> broadcast the payload to every socket of "/"
 *                              (the sender included) as "bcast";
 *   "echo"  (payload, ack)  -> ack with the same payload.
 *
 * Usage: bench_server [port] [--redis URL [--adapter classic|sharded|streams]]
 *                     [--recovery] [--threads N]
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
 * connected (or after 5 s, with a warning).
 *
 * With --threads N (1..64; 1, the default, is the single-loop code path
 * with no group), the process runs N event loops on N threads of their
 * own, joined by a sio_group (server.threads, issue 12): each loop has a
 * server of its own with the same handlers, all listening on the same
 * port (SO_REUSEPORT, so the kernel deals connections over the loops),
 * and a "bcast" received by any loop reaches the clients of every loop
 * (the loops adapter: encoded once, the bytes shared). With --redis each
 * loop is one instance of the cluster (sio_group_join: only connections
 * move between loops). The main thread only waits for signals; on
 * SIGTERM/SIGINT it posts a close to every loop and joins the threads. */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE /* pthread_setname_np */
#endif
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <sio/sio.h>

#ifdef __linux__
#include <pthread.h>
#endif

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

/* ------------------------------------------------- --threads N (N > 1) */

typedef struct bench_loop {
  uv_thread_t th;
  uv_loop_t loop;
  uv_sem_t up;    /* posted once rv and port are set */
  uv_sem_t ready; /* posted once the adapter is connected (or not needed) */
  uv_timer_t ready_t;
  int waits;
  sio_group *g;
  sio_server *srv;
  unsigned index;
  int port; /* in: the port to listen on (0: a free one); out: the port */
  int rv;   /* setup result */
} bench_loop;

/* What every loop's server is made with (read-only once threads start). */
static const char *mt_redis;
static sio_redis_config mt_rc;
static int mt_recovery;

static void mt_ready_check(uv_timer_t *t) {
  bench_loop *l = t->data;
  if (!sio_server_redis_connected(l->srv) && ++l->waits < 500)
    return;
  if (l->waits >= 500)
    fprintf(stderr, "bench_server: loop %u: redis not connected after 5 s\n",
            l->index);
  uv_close((uv_handle_t *)t, NULL);
  uv_sem_post(&l->ready);
}

static int mt_setup(bench_loop *l) {
  sio_namespace_handlers h = {0};
  sio_options *opts = NULL;
  sio_redis_config rc = mt_rc;
  char addr[64];
  int rv;
  if (mt_recovery && sio_options_new(&opts) == 0)
    sio_options_set_recovery(opts, 1, 0);
  rv = sio_server_new(&l->srv, &l->loop, opts);
  sio_options_del(opts);
  if (rv)
    return rv;
  h.on_event = on_event;
  sio_namespace_set_handlers(sio_server_of(l->srv, "/"), &h, NULL);
  if (mt_redis) {
    /* a Redis adapter of its own: one instance of the fleet per loop */
    rc.url = mt_redis;
    rv = sio_server_use_redis_config(l->srv, &rc);
    if (!rv)
      rv = sio_group_join(l->g, l->index, l->srv);
  } else {
    rv = sio_server_use_loops(l->srv, l->g, l->index);
  }
  if (rv)
    return rv;
  snprintf(addr, sizeof(addr), "127.0.0.1:%d", l->port);
  rv = sio_server_listen(l->srv, addr);
  if (rv)
    return rv;
  l->port = sio_server_port(l->srv, 0);
  return 0;
}

static void mt_loop_main(void *ud) {
  bench_loop *l = ud;
#ifdef __linux__
  char name[16];
  snprintf(name, sizeof(name), "sio-loop-%u", l->index);
  pthread_setname_np(pthread_self(), name); /* for perf and top -H */
#endif
  l->rv = uv_loop_init(&l->loop);
  if (l->rv) {
    uv_sem_post(&l->up);
    uv_sem_post(&l->ready);
    return;
  }
  l->rv = mt_setup(l);
  uv_sem_post(&l->up);
  if (l->rv) {
    if (l->srv)
      sio_server_close(l->srv, NULL, NULL);
    uv_sem_post(&l->ready);
  } else if (mt_redis) {
    l->ready_t.data = l;
    uv_timer_init(&l->loop, &l->ready_t);
    uv_timer_start(&l->ready_t, mt_ready_check, 10, 10);
  } else {
    uv_sem_post(&l->ready);
  }
  uv_run(&l->loop, UV_RUN_DEFAULT); /* until the server closed */
  if (uv_loop_close(&l->loop) != 0) {
    fprintf(stderr, "bench_server: loop %u: handles left open\n", l->index);
    l->rv = SIO_ERR_STATE;
  }
}

static sio_group *mt_group;
static bench_loop *mt_loops;
static unsigned mt_n;

static void mt_close_server(sio_server *s, void *ud) {
  (void)ud;
  if (s)
    sio_server_close(s, NULL, NULL);
}

static void mt_on_signal(uv_signal_t *h, int signum) {
  unsigned i;
  (void)h;
  (void)signum;
  uv_close((uv_handle_t *)&sigint_h, NULL);
  uv_close((uv_handle_t *)&sigterm_h, NULL);
  for (i = 0; i < mt_n; i++)
    sio_group_post(mt_group, i, mt_close_server, NULL); /* closed: ignored */
}

static int run_threads(unsigned n, long port) {
  uv_loop_t *loop = uv_default_loop();
  unsigned i, started = 0;
  int rv = 0, failed = 0;

  rv = sio_group_new(&mt_group, n);
  mt_loops = calloc(n, sizeof(*mt_loops));
  if (rv || !mt_loops) {
    fprintf(stderr, "bench_server: out of memory\n");
    return 1;
  }
  mt_n = n;
  /* Signals first, so that a SIGTERM during start-up is not lost (it is
   * handled once the main loop runs). */
  uv_signal_init(loop, &sigint_h);
  uv_signal_init(loop, &sigterm_h);
  uv_signal_start(&sigint_h, mt_on_signal, SIGINT);
  uv_signal_start(&sigterm_h, mt_on_signal, SIGTERM);
  /* One after the other: loop 0 gets the port, the others share it. */
  for (i = 0; i < n; i++) {
    bench_loop *l = &mt_loops[i];
    l->g = mt_group;
    l->index = i;
    l->port = i ? mt_loops[0].port : (int)port;
    uv_sem_init(&l->up, 0);
    uv_sem_init(&l->ready, 0);
    if (uv_thread_create(&l->th, mt_loop_main, l)) {
      fprintf(stderr, "bench_server: cannot start loop %u\n", i);
      uv_sem_destroy(&l->up);
      uv_sem_destroy(&l->ready);
      failed = 1;
      break;
    }
    started++;
    uv_sem_wait(&l->up);
    if (l->rv) {
      fprintf(stderr, "bench_server: loop %u on 127.0.0.1:%d: %s\n", i, l->port,
              sio_strerror(l->rv));
      failed = 1;
      break;
    }
  }
  for (i = 0; i < started; i++)
    uv_sem_wait(&mt_loops[i].ready);
  if (!failed) {
    printf("LISTENING %d\n", mt_loops[0].port);
    fflush(stdout);
    uv_run(loop, UV_RUN_DEFAULT); /* until SIGTERM/SIGINT */
  } else {
    mt_on_signal(NULL, 0);
  }
  for (i = 0; i < started; i++) {
    uv_thread_join(&mt_loops[i].th);
    if (mt_loops[i].rv)
      failed = 1;
    uv_sem_destroy(&mt_loops[i].up);
    uv_sem_destroy(&mt_loops[i].ready);
  }
  /* every joined server has closed: its thread returned after that */
  sio_group_free(mt_group);
  free(mt_loops);
  uv_run(loop, UV_RUN_DEFAULT);
  if (uv_loop_close(loop) != 0)
    failed = 1;
  return failed ? 1 : 0;
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
  unsigned long threads = 1;
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
    } else if (strcmp(argv[i], "--threads") == 0 && i + 1 < argc) {
      errno = 0;
      threads = strtoul(argv[++i], &end, 10);
      if (errno || *end || !argv[i][0] || threads < 1 || threads > 64) {
        fprintf(stderr, "bench_server: --threads takes 1 to 64\n");
        return 2;
      }
    } else if (argv[i][0] != '-') {
      port_s = argv[i];
    } else {
      fprintf(stderr, "usage: bench_server [port] [--redis URL [--adapter A]] "
                      "[--recovery] [--threads N]\n");
      return 2;
    }
  }
  if (port_s && *port_s) {
    errno = 0;
    port = strtol(port_s, &end, 10);
    if (errno || *end || port < 0 || port > 65535) {
      fprintf(stderr, "usage: bench_server [port] [--redis URL [--adapter A]] "
                      "[--recovery] [--threads N]\n");
      return 2;
    }
  }
  /* Warnings only: a log line per event would be the benchmark. */
  sio_set_log(on_log, NULL, SIO_LOG_WARN);
  if (threads > 1) {
    mt_redis = redis;
    mt_rc = rc;
    mt_recovery = recovery;
    return run_threads((unsigned)threads, port);
  }
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
