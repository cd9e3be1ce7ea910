/* bench.h: shared declarations of sio-bench, the Socket.IO load generator.
 *
 * Processes: the parent (sio_bench.c) forks W workers (bench_client.c),
 * each owning a slice of the N client connections on its own libuv loop.
 * They share one anonymous MAP_SHARED region (bench_shared): phase, counters
 * updated with C11 atomics, one slot per broadcast, and one stats block per
 * worker written before it exits. The parent never runs a loop: it polls
 * the region every couple of milliseconds, samples the server's
 * /proc/PID/stat and status at phase boundaries, and wakes workers through
 * one pipe each when the phase changes. Workers wake the broadcast sender
 * through the same pipes, so a broadcast completed in worker B lets worker A
 * send the next one without a round trip through the parent. */
#ifndef SIO_BENCH_H
#define SIO_BENCH_H

#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

enum { MODE_IDLE, MODE_CONNECT, MODE_FANOUT, MODE_ECHO };
enum { TR_WEBSOCKET, TR_POLLING };
/* CONNECT: clients connect (all modes). WARMUP: first broadcasts or echo
 * round trips, not recorded. MEASURE: recorded. STOP: workers report and
 * exit. */
enum { PH_CONNECT, PH_WARMUP, PH_MEASURE, PH_STOP };

#define BENCH_MAX_WORKERS 32
#define BENCH_MAX_SRC 250
/* Servers of one run (-p P1,P2,... and --pid A,B,...): clients are dealt
 * round-robin over the ports, and RSS and CPU are summed over the pids. */
#define BENCH_MAX_SERVERS 8
/* A process keeps this many fds for itself below the 20000 hard cap. */
#define BENCH_FDS_PER_WORKER 15000

/* Log-linear histogram of nanosecond values: exact below 128 ns, then 64
 * sub-buckets per power of two (about 1.5% resolution) up to 2^42 ns. */
#define HIST_SUB_BITS 6
#define HIST_BUCKETS (128 + 36 * 64)
typedef struct bench_hist {
  uint64_t n;
  uint64_t max;
  uint64_t sum;
  uint64_t b[HIST_BUCKETS];
} bench_hist;

void hist_add(bench_hist *h, uint64_t v);
void hist_merge(bench_hist *into, const bench_hist *from);
/* Value at quantile q (0..1), in ns; 0 for an empty histogram. */
uint64_t hist_quantile(const bench_hist *h, double q);

typedef struct bench_opts {
  int mode;
  int transport;
  char host[64];
  int port; /* ports[0] */
  int ports[BENCH_MAX_SERVERS];
  uint32_t nports;
  char path[128];
  uint32_t n;           /* client connections (Socket.IO clients) */
  uint32_t inflight;    /* fanout: broadcasts in flight; echo: per client */
  uint32_t count;       /* fanout: measured broadcasts */
  uint32_t warmup;      /* fanout: broadcasts before measuring */
  double warmup_s;      /* echo: seconds before measuring */
  double duration_s;    /* echo: measured seconds; fanout: time limit */
  uint32_t payload;     /* bytes of padding in each event payload */
  uint32_t concurrency; /* connection setups in progress, all workers */
  uint32_t workers;
  uint32_t nsrc; /* source addresses 127.0.0.1 .. 127.0.0.<nsrc> */
  int server_pid; /* pids[0], 0 without --pid */
  int pids[BENCH_MAX_SERVERS];
  uint32_t npids;
  double hold_s;    /* idle (3), fanout (0: none): seconds all clients are
                       held connected before reading RSS */
  double timeout_s; /* whole run */
  char label[64];
  const char *auth;      /* CONNECT payload (JSON) or NULL: "40<auth>" */
  char event[64];        /* fanout: the event counted as a broadcast */
  const char *publisher; /* fanout: command fed "SEQ T PAD\n" per broadcast
                            instead of a client emitting "bcast", or NULL */
} bench_opts;

/* One broadcast: sent_ns by the sender, count and last_ns by receivers. */
typedef struct bench_slot {
  _Atomic uint64_t sent_ns;
  _Atomic uint64_t count;
  _Atomic uint64_t last_ns;
} bench_slot;

/* Written by its worker only, read by the parent after the worker exited. */
typedef struct bench_wstat {
  bench_hist lat;    /* delivery latency, ack RTT or setup time */
  uint64_t cpu_ns;   /* the worker's CPU during the measured window */
  uint64_t wall_ns;  /* that window's length */
  uint64_t measured; /* deliveries or acks in the histogram */
  uint32_t nclients; /* ready clients */
  int reported;
  char err[192]; /* first error seen, "" if none */
} bench_wstat;

typedef struct bench_shared {
  _Atomic int phase;
  _Atomic uint64_t connected; /* clients that got the CONNECT reply */
  _Atomic uint64_t failed;    /* clients that never got it */
  _Atomic uint64_t dropped;   /* ready clients lost afterwards */
  _Atomic uint64_t total;     /* receivers of each broadcast */
  _Atomic uint64_t sent;      /* broadcasts sent */
  _Atomic uint64_t completed; /* broadcasts that reached every receiver */
  _Atomic uint64_t acks;      /* echo acks received, all phases */
  _Atomic uint64_t pings;     /* server pings answered */
  _Atomic uint64_t first_start_ns;
  _Atomic uint64_t last_ready_ns;
  uint64_t t0; /* uv_hrtime() origin of payload timestamps */
  int wake_fd[BENCH_MAX_WORKERS][2];
  bench_wstat w[BENCH_MAX_WORKERS];
  bench_slot slots[]; /* warmup + count */
} bench_shared;

/* Runs worker id (0-based) over global client indices [first, first+n) and
 * returns the process exit status. In fanout mode worker 0 sends the
 * broadcasts: its first ready client emits "bcast", or with --publisher the
 * command it spawned publishes them (through Redis, say). */
int bench_worker_main(const bench_opts *o, bench_shared *sh, int id,
                      uint32_t first, uint32_t n);

/* Wakes worker id (a byte on its pipe; a full pipe already means awake). */
void bench_wake(bench_shared *sh, int id);

/* Server facts from /proc: CPU (utime+stime) in ns and VmRSS in bytes;
 * return 0 or -1 when the process is gone. */
int proc_cpu_ns(int pid, uint64_t *out);
int proc_rss_bytes(int pid, uint64_t *out);
/* This process' own CPU (user+system) in ns. */
uint64_t self_cpu_ns(void);

#endif
