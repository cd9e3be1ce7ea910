/* sio-bench: a Socket.IO load generator for comparing servers on loopback.
 *
 *   sio-bench idle    -p PORT --pid PID -n 10000   RSS per held connection
 *   sio-bench connect -p PORT --pid PID -n 5000    connection setup rate
 *   sio-bench fanout  -p PORT --pid PID -n 10000 --inflight 8
 *   sio-bench echo    -p PORT --pid PID -n 100 --duration 5
 *   sio-bench fanout  -p P1,P2,P3 --pid A,B,C -n 50000 --hold 5
 *                     (several servers of one cluster: clients dealt over
 *                     the ports, RSS and CPU summed over the pids)
 *   sio-bench fanout  -p PORT --pid PID -n 10000 --auth '{"token":"..."}'
 *                     --event workflow.progress --publisher 'node pub.js'
 *                     (a daemon: clients authenticate, and broadcasts come
 *                     from a publisher process, e.g. through Redis)
 *
 * The server under test must follow the bench contract (docs/performance.md):
 * "bcast" broadcasts its payload to every client of "/", "echo" acks its
 * payload. Figures that need the server's process
 * (RSS, CPU) come from /proc/PID and are left out without --pid.
 *
 * This file is the parent process: it parses options, forks the workers
 * (bench_client.c), steps the phases from the shared counters, samples the
 * server at phase boundaries, and prints a human summary followed by one
 * JSON line ({"tool":"sio-bench",...}) for scripts. Every run is bounded by
 * --timeout; the exit status is 0 when the tool did its job, 1 when it
 * could not (clients failed to connect, a connection dropped, a stall, a
 * timeout), 2 on a usage error. */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>
#include <uv.h>

#include "bench.h"

#define POLL_NS 1000000ull      /* parent's polling period */
#define STALL_NS 15000000000ull /* no broadcast completed for this long */

static const char *const mode_names[] = {"idle", "connect", "fanout", "echo"};

static volatile sig_atomic_t interrupted;

static void on_signal(int sig) {
  (void)sig;
  interrupted = 1;
}

static void usage(FILE *f) {
  fprintf(
      f,
      "usage: sio-bench idle|connect|fanout|echo -p PORT [options]\n"
      "  -p, --port PORT[,..]   server port(s) on --host; clients are dealt"
      " over them\n"
      "      --host ADDR        server IPv4 loopback address (127.0.0.1)\n"
      "      --path PATH        Engine.IO path (/socket.io/)\n"
      "      --pid PID[,..]     server process(es): RSS and CPU from /proc,"
      " summed\n"
      "  -n, --clients N        Socket.IO clients (idle/connect/fanout 1000,"
      " echo 100)\n"
      "  -t, --transport T      websocket (default) or polling\n"
      "  -k, --inflight K       fanout: broadcasts in flight; echo: per"
      " client (1)\n"
      "  -c, --count M          fanout: measured broadcasts (about 200000/N,"
      " 10..5000)\n"
      "      --warmup W         fanout: broadcasts sent before measuring"
      " (M/10, 2..50)\n"
      "  -d, --duration S       echo: measured seconds (5); fanout: time"
      " limit (60)\n"
      "      --warmup-time S    echo: seconds before measuring (1)\n"
      "      --payload B        padding bytes in each event payload (0)\n"
      "      --concurrency C    connection setups in progress (256)\n"
      "  -w, --workers W        client processes (one per %d fds)\n"
      "      --src-addrs K      source addresses 127.0.0.1..K (one per 25000"
      " fds)\n"
      "      --hold S           idle (3), fanout (0): seconds all clients"
      " are held before reading RSS\n"
      "      --timeout S        bound on the whole run (300)\n"
      "      --label TEXT       copied into the JSON line\n"
      "      --auth JSON        CONNECT payload, e.g. '{\"token\":\"...\"}'\n"
      "      --event NAME       fanout: event counted as a broadcast (bcast)\n"
      "      --publisher CMD    fanout: run CMD (/bin/sh -c) and write it one\n"
      "                         line \"SEQ T PAD\" per broadcast (T: send time,\n"
      "                         PAD: padding bytes) instead of a client\n"
      "                         emitting bcast; CMD prints READY when it can\n"
      "                         publish; every client is a receiver\n",
      BENCH_FDS_PER_WORKER);
}

static int parse_u32(const char *s, uint32_t min, uint32_t max, uint32_t *out) {
  char *end;
  unsigned long v;
  errno = 0;
  v = strtoul(s, &end, 10);
  if (errno || !*s || *end || v < min || v > max)
    return -1;
  *out = (uint32_t)v;
  return 0;
}

/* A comma list of 1..BENCH_MAX_SERVERS numbers in [min, max]. */
static int parse_list(const char *s, uint32_t min, uint32_t max, int *out,
                      uint32_t *n) {
  char buf[256], *tok, *save = NULL;
  uint32_t u;
  snprintf(buf, sizeof(buf), "%s", s);
  *n = 0;
  for (tok = strtok_r(buf, ",", &save); tok; tok = strtok_r(NULL, ",", &save)) {
    if (*n == BENCH_MAX_SERVERS || parse_u32(tok, min, max, &u))
      return -1;
    out[(*n)++] = (int)u;
  }
  return *n ? 0 : -1;
}

static int parse_secs(const char *s, double *out) {
  char *end;
  double v = strtod(s, &end);
  if (!*s || *end || v < 0 || v > 86400)
    return -1;
  *out = v;
  return 0;
}

static int parse_opts(int argc, char **argv, bench_opts *o) {
  static const struct option lo[] = {
      {"port", 1, 0, 'p'},        {"host", 1, 0, 'H'},
      {"path", 1, 0, 'P'},        {"pid", 1, 0, 'i'},
      {"clients", 1, 0, 'n'},     {"transport", 1, 0, 't'},
      {"inflight", 1, 0, 'k'},    {"count", 1, 0, 'c'},
      {"warmup", 1, 0, 'W'},      {"duration", 1, 0, 'd'},
      {"warmup-time", 1, 0, 'T'}, {"payload", 1, 0, 'b'},
      {"concurrency", 1, 0, 'C'}, {"workers", 1, 0, 'w'},
      {"src-addrs", 1, 0, 's'},   {"hold", 1, 0, 'h'},
      {"timeout", 1, 0, 'o'},     {"label", 1, 0, 'l'},
      {"auth", 1, 0, 'A'},        {"event", 1, 0, 'E'},
      {"publisher", 1, 0, 'U'},   {"help", 0, 0, 'q'},
      {0, 0, 0, 0}};
  int ch, i, have_count = 0, have_warmup = 0;
  if (argc < 2) {
    usage(stderr);
    return -1;
  }
  memset(o, 0, sizeof(*o));
  o->mode = -1;
  for (i = 0; i < 4; i++)
    if (strcmp(argv[1], mode_names[i]) == 0)
      o->mode = i;
  if (o->mode < 0) {
    usage(strcmp(argv[1], "--help") && strcmp(argv[1], "-h") ? stderr : stdout);
    return -1;
  }
  snprintf(o->host, sizeof(o->host), "127.0.0.1");
  snprintf(o->path, sizeof(o->path), "/socket.io/");
  o->n = o->mode == MODE_ECHO ? 100 : 1000;
  o->inflight = 1;
  o->duration_s = o->mode == MODE_ECHO ? 5 : 60;
  o->warmup_s = 1;
  o->concurrency = 256;
  o->hold_s = o->mode == MODE_IDLE ? 3 : 0;
  o->timeout_s = 300;
  snprintf(o->event, sizeof(o->event), "bcast");
  optind = 2;
  while ((ch = getopt_long(argc, argv, "p:n:t:k:c:d:w:", lo, NULL)) != -1) {
    switch (ch) {
    case 'p':
      if (parse_list(optarg, 1, 65535, o->ports, &o->nports))
        goto bad;
      o->port = o->ports[0];
      break;
    case 'H':
      snprintf(o->host, sizeof(o->host), "%s", optarg);
      break;
    case 'P':
      snprintf(o->path, sizeof(o->path), "%s", optarg);
      break;
    case 'i':
      if (parse_list(optarg, 1, 1u << 30, o->pids, &o->npids))
        goto bad;
      o->server_pid = o->pids[0];
      break;
    case 'n':
      if (parse_u32(optarg, 1, 1000000, &o->n))
        goto bad;
      break;
    case 't':
      if (strcmp(optarg, "websocket") == 0)
        o->transport = TR_WEBSOCKET;
      else if (strcmp(optarg, "polling") == 0)
        o->transport = TR_POLLING;
      else
        goto bad;
      break;
    case 'k':
      if (parse_u32(optarg, 1, 1024, &o->inflight))
        goto bad;
      break;
    case 'c':
      if (parse_u32(optarg, 1, 1000000, &o->count))
        goto bad;
      have_count = 1;
      break;
    case 'W':
      if (parse_u32(optarg, 0, 100000, &o->warmup))
        goto bad;
      have_warmup = 1;
      break;
    case 'd':
      if (parse_secs(optarg, &o->duration_s))
        goto bad;
      break;
    case 'T':
      if (parse_secs(optarg, &o->warmup_s))
        goto bad;
      break;
    case 'b':
      if (parse_u32(optarg, 0, 1u << 20, &o->payload))
        goto bad;
      break;
    case 'C':
      if (parse_u32(optarg, 1, 100000, &o->concurrency))
        goto bad;
      break;
    case 'w':
      if (parse_u32(optarg, 1, BENCH_MAX_WORKERS, &o->workers))
        goto bad;
      break;
    case 's':
      if (parse_u32(optarg, 1, BENCH_MAX_SRC, &o->nsrc))
        goto bad;
      break;
    case 'h':
      if (parse_secs(optarg, &o->hold_s))
        goto bad;
      break;
    case 'o':
      if (parse_secs(optarg, &o->timeout_s))
        goto bad;
      break;
    case 'l':
      snprintf(o->label, sizeof(o->label), "%s", optarg);
      break;
    case 'A':
      /* A Socket.IO CONNECT payload must be an object. */
      if (optarg[0] != '{' || strlen(optarg) > 60000)
        goto bad;
      o->auth = optarg;
      break;
    case 'E':
      /* Matched as the literal JSON string ["NAME", in received events. */
      if (!optarg[0] || strlen(optarg) >= sizeof(o->event) ||
          strpbrk(optarg, "\"\\"))
        goto bad;
      snprintf(o->event, sizeof(o->event), "%s", optarg);
      break;
    case 'U':
      if (!optarg[0])
        goto bad;
      o->publisher = optarg;
      break;
    case 'q':
      usage(stdout);
      return -1;
    default:
      usage(stderr);
      return -1;
    }
  }
  if (optind < argc || !o->port) {
    fprintf(stderr, "sio-bench: %s\n",
            o->port ? "unexpected argument" : "--port is required");
    return -1;
  }
  if (o->publisher && o->mode != MODE_FANOUT) {
    fprintf(stderr, "sio-bench: --publisher is for fanout only\n");
    return -1;
  }
  if (o->path[0] != '/') {
    fprintf(stderr, "sio-bench: --path must start with '/'\n");
    return -1;
  }
  {
    /* Loopback only: this tool opens tens of thousands of connections. */
    unsigned a, b, c, d;
    char extra;
    if (sscanf(o->host, "%u.%u.%u.%u%c", &a, &b, &c, &d, &extra) != 4 ||
        a != 127 || b > 255 || c > 255 || d > 255) {
      fprintf(stderr, "sio-bench: --host must be an IPv4 loopback address\n");
      return -1;
    }
  }
  if (!have_count) {
    uint32_t m = 200000 / o->n;
    o->count = m < 10 ? 10 : m > 5000 ? 5000 : m;
  }
  if (!have_warmup) {
    uint32_t wu = o->count / 10;
    o->warmup = wu < 2 ? 2 : wu > 50 ? 50 : wu;
  }
  return 0;
bad:
  fprintf(stderr, "sio-bench: bad value for option: %s\n", optarg);
  return -1;
}

/* Soft "Max open files" of another process, or 0 when unknown. */
static uint64_t proc_fd_limit(int pid) {
  char path[64], line[256];
  unsigned long long soft = 0;
  FILE *f;
  snprintf(path, sizeof(path), "/proc/%d/limits", pid);
  f = fopen(path, "r");
  if (!f)
    return 0;
  while (fgets(line, sizeof(line), f))
    if (sscanf(line, "Max open files %llu", &soft) == 1)
      break;
  fclose(f);
  return soft;
}

static int cmp_u64(const void *a, const void *b) {
  uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
  return x < y ? -1 : x > y;
}

static double us(uint64_t ns) { return (double)ns / 1000.0; }

/* Appends printf output to the JSON line being built. */
static char json[4096];
static size_t json_len;
static void jadd(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static void jadd(const char *fmt, ...) {
  va_list ap;
  int n;
  if (json_len >= sizeof(json))
    return;
  va_start(ap, fmt);
  n = vsnprintf(json + json_len, sizeof(json) - json_len, fmt, ap);
  va_end(ap);
  if (n > 0)
    json_len += (size_t)n;
}

/* JSON string body: the label and error texts are ours or the server's
 * short messages; escape what JSON requires. */
static void jstr(const char *key, const char *s) {
  jadd(",\"%s\":\"", key);
  for (; *s; s++) {
    unsigned char ch = (unsigned char)*s;
    if (ch == '"' || ch == '\\')
      jadd("\\%c", ch);
    else if (ch < 0x20)
      jadd("\\u%04x", ch);
    else
      jadd("%c", ch);
  }
  jadd("\"");
}

/* CPU (ns) and VmRSS (bytes) summed over every --pid; -1 when one is
 * gone. */
static int servers_cpu_ns(const bench_opts *o, uint64_t *out) {
  uint32_t i;
  *out = 0;
  for (i = 0; i < o->npids; i++) {
    uint64_t v;
    if (proc_cpu_ns(o->pids[i], &v))
      return -1;
    *out += v;
  }
  return o->npids ? 0 : -1;
}

static int servers_rss_bytes(const bench_opts *o, uint64_t *out) {
  uint32_t i;
  *out = 0;
  for (i = 0; i < o->npids; i++) {
    uint64_t v;
    if (proc_rss_bytes(o->pids[i], &v))
      return -1;
    *out += v;
  }
  return o->npids ? 0 : -1;
}

typedef struct snap {
  uint64_t t, cpu, count;
  int cpu_ok;
} snap;

static void take_snap(const bench_opts *o, bench_shared *sh, snap *s) {
  s->t = uv_hrtime();
  s->cpu_ok = o->server_pid && servers_cpu_ns(o, &s->cpu) == 0;
  s->count = o->mode == MODE_FANOUT ? atomic_load(&sh->completed)
                                    : atomic_load(&sh->acks);
}

int main(int argc, char **argv) {
  bench_opts o;
  bench_shared *sh;
  size_t shm_size, nslots;
  pid_t pids[BENCH_MAX_WORKERS];
  int exited[BENCH_MAX_WORKERS] = {0};
  uint32_t fpc, i, nw, nexited = 0;
  struct rlimit rl;
  uint64_t rss0 = 0, rss1 = 0, cpu0 = 0, cpu_conn = 0, t_begin, t_conn = 0;
  uint64_t t_phase = 0, last_completed = 0, t_progress = 0, stop_at = 0;
  uint64_t now;
  int rss_ok = 0, cpu0_ok = 0, cpu_conn_ok = 0, phase = PH_CONNECT;
  int partial = 0, held = 0;
  char err[256] = "", late_err[256] = "";
  snap a = {0}, b = {0};
  bench_hist lat;
  long nproc = sysconf(_SC_NPROCESSORS_ONLN);

  if (parse_opts(argc, argv, &o))
    return 2;
  fpc = o.transport == TR_POLLING ? 2 : 1;
  if (!o.workers) {
    uint64_t fds = (uint64_t)o.n * fpc;
    o.workers =
        (uint32_t)((fds + BENCH_FDS_PER_WORKER - 1) / BENCH_FDS_PER_WORKER);
    if (o.workers > BENCH_MAX_WORKERS) {
      fprintf(stderr, "sio-bench: %u clients need more than %d workers\n", o.n,
              BENCH_MAX_WORKERS);
      return 2;
    }
  }
  if (o.workers > o.n)
    o.workers = o.n;
  if (!o.nsrc) {
    uint64_t k = ((uint64_t)o.n * fpc + 24999) / 25000;
    o.nsrc = (uint32_t)(k > BENCH_MAX_SRC ? BENCH_MAX_SRC : k);
  }
  nw = o.workers;

  /* Each worker needs its share of fds; ask for the hard limit. */
  if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur < rl.rlim_max) {
    rl.rlim_cur = rl.rlim_max;
    setrlimit(RLIMIT_NOFILE, &rl);
  }
  if (getrlimit(RLIMIT_NOFILE, &rl) == 0 &&
      (uint64_t)((o.n + nw - 1) / nw) * fpc + 64 > rl.rlim_cur) {
    fprintf(stderr,
            "sio-bench: %u fds per worker exceed the limit %llu: raise "
            "ulimit -n or pass --workers\n",
            (o.n + nw - 1) / nw * fpc, (unsigned long long)rl.rlim_cur);
    return 2;
  }
  for (i = 0; i < o.npids; i++) {
    uint64_t lim = proc_fd_limit(o.pids[i]);
    uint64_t per = ((uint64_t)o.n + o.npids - 1) / o.npids;
    if (kill(o.pids[i], 0) && errno == ESRCH) {
      fprintf(stderr, "sio-bench: no process %d\n", o.pids[i]);
      return 2;
    }
    if (lim && lim < per * fpc + 32)
      fprintf(stderr,
              "sio-bench: warning: server pid %d may open only %llu fds; "
              "start it from a shell with a higher ulimit -n\n",
              o.pids[i], (unsigned long long)lim);
  }

  nslots = o.mode == MODE_FANOUT ? (size_t)o.warmup + o.count : 0;
  shm_size = sizeof(bench_shared) + nslots * sizeof(bench_slot);
  sh = mmap(NULL, shm_size, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS,
            -1, 0);
  if (sh == MAP_FAILED) {
    perror("sio-bench: mmap");
    return 1;
  }
  for (i = 0; i < nw; i++) {
    if (pipe(sh->wake_fd[i])) {
      perror("sio-bench: pipe");
      return 1;
    }
    fcntl(sh->wake_fd[i][1], F_SETFL,
          fcntl(sh->wake_fd[i][1], F_GETFL) | O_NONBLOCK);
  }

  if (o.server_pid) {
    rss_ok = servers_rss_bytes(&o, &rss0) == 0;
    cpu0_ok = servers_cpu_ns(&o, &cpu0) == 0;
  }
  signal(SIGINT, on_signal);
  signal(SIGTERM, on_signal);
  signal(SIGPIPE, SIG_IGN);
  fflush(NULL);
  t_begin = now = uv_hrtime();
  sh->t0 = t_begin;
  for (i = 0; i < nw; i++) {
    uint32_t first = (uint32_t)((uint64_t)o.n * i / nw);
    uint32_t last = (uint32_t)((uint64_t)o.n * (i + 1) / nw);
    pid_t p = fork();
    if (p < 0) {
      perror("sio-bench: fork");
      o.n = first; /* the workers forked so far cover [0, first) */
      snprintf(err, sizeof(err), "fork failed");
      nw = i;
      break;
    }
    if (p == 0) {
      signal(SIGINT, SIG_IGN); /* the parent stops us */
      _exit(bench_worker_main(&o, sh, (int)i, first, last - first));
    }
    pids[i] = p;
  }
  for (i = 0; i < nw; i++)
    close(sh->wake_fd[i][0]);
  if (err[0])
    goto stop;

  for (;;) {
    struct timespec ts = {0, (long)POLL_NS};
    int st;
    pid_t p;
    nanosleep(&ts, NULL);
    now = uv_hrtime();
    while ((p = waitpid(-1, &st, WNOHANG)) > 0) {
      for (i = 0; i < nw; i++) {
        if (pids[i] != p)
          continue;
        exited[i] = 1;
        nexited++;
        if (phase != PH_STOP && !err[0])
          snprintf(err, sizeof(err), "worker %u exited early (status %d)%s%s",
                   i, st, sh->w[i].err[0] ? ": " : "", sh->w[i].err);
      }
    }
    if (phase == PH_STOP) {
      if (nexited == nw)
        break;
      if (now > stop_at) {
        for (i = 0; i < nw; i++)
          if (!exited[i])
            kill(pids[i], SIGKILL);
        stop_at = now + 5000000000ull;
      }
      continue;
    }
    if (interrupted && !err[0])
      snprintf(err, sizeof(err), "interrupted");
    if ((double)(now - t_begin) > o.timeout_s * 1e9 && !err[0])
      snprintf(err, sizeof(err), "timed out after %.0f s (--timeout)",
               o.timeout_s);
    if (atomic_load(&sh->dropped) && !err[0])
      snprintf(err, sizeof(err), "%llu connection(s) dropped",
               (unsigned long long)atomic_load(&sh->dropped));
    if (err[0])
      goto stop;
    switch (phase) {
    case PH_CONNECT: {
      uint64_t c = atomic_load(&sh->connected), f = atomic_load(&sh->failed);
      if (c + f < o.n)
        break;
      if (!t_conn) {
        t_conn = now;
        cpu_conn_ok = o.server_pid && servers_cpu_ns(&o, &cpu_conn) == 0;
      }
      if (f && !late_err[0]) {
        unsigned j;
        const char *why = "";
        for (j = 0; j < nw && !why[0]; j++)
          why = sh->w[j].err;
        snprintf(late_err, sizeof(late_err),
                 "%llu of %u clients failed to connect: %s",
                 (unsigned long long)f, o.n, why);
        /* The connect modes still report on the clients that made it. */
        if (o.mode == MODE_FANOUT || o.mode == MODE_ECHO || !c)
          goto stop;
      }
      if (o.mode == MODE_CONNECT)
        goto stop;
      if (o.mode == MODE_IDLE || (o.mode == MODE_FANOUT && o.hold_s > 0)) {
        /* Let the server settle (deferred frees, GC) before reading. */
        if (!held) {
          if ((double)(now - t_conn) < o.hold_s * 1e9)
            break;
          if (o.server_pid)
            rss_ok = rss_ok && servers_rss_bytes(&o, &rss1) == 0;
          held = 1;
        }
        if (o.mode == MODE_IDLE)
          goto stop;
      }
      atomic_store(&sh->total, c);
      phase = (o.mode == MODE_FANOUT ? o.warmup > 0 : o.warmup_s > 0)
                  ? PH_WARMUP
                  : PH_MEASURE;
      if (phase == PH_MEASURE)
        take_snap(&o, sh, &a);
      t_phase = t_progress = now;
      atomic_store(&sh->phase, phase);
      for (i = 0; i < nw; i++)
        bench_wake(sh, (int)i);
      break;
    }
    case PH_WARMUP:
      if (o.mode == MODE_FANOUT ? atomic_load(&sh->completed) >= o.warmup
                                : (double)(now - t_phase) >= o.warmup_s * 1e9) {
        /* Fanout: the sender holds back until this phase change, so the
         * server is idle here and the window starts clean. */
        take_snap(&o, sh, &a);
        phase = PH_MEASURE;
        t_phase = t_progress = now;
        atomic_store(&sh->phase, phase);
        for (i = 0; i < nw; i++)
          bench_wake(sh, (int)i);
      } else if (o.mode == MODE_FANOUT) {
        /* A publisher that never says READY or whose messages never
         * arrive (another Redis, another key) ends the run here, not at
         * --timeout. */
        uint64_t done = atomic_load(&sh->completed);
        if (done != last_completed) {
          last_completed = done;
          t_progress = now;
        } else if (now - t_progress > STALL_NS) {
          snprintf(err, sizeof(err),
                   "stalled in warm-up: broadcast %llu did not reach every "
                   "client within %llu s%s",
                   (unsigned long long)done,
                   (unsigned long long)(STALL_NS / 1000000000ull),
                   o.publisher && !atomic_load(&sh->sent)
                       ? " (the publisher never said READY)"
                       : "");
          goto stop;
        }
      }
      break;
    case PH_MEASURE:
      if (o.mode == MODE_ECHO) {
        if ((double)(now - t_phase) >= o.duration_s * 1e9) {
          take_snap(&o, sh, &b);
          goto stop;
        }
        break;
      }
      {
        uint64_t done = atomic_load(&sh->completed);
        if (done >= (uint64_t)o.warmup + o.count) {
          take_snap(&o, sh, &b);
          goto stop;
        }
        if ((double)(now - t_phase) >= o.duration_s * 1e9) {
          take_snap(&o, sh, &b);
          partial = 1;
          goto stop;
        }
        if (done != last_completed) {
          last_completed = done;
          t_progress = now;
        } else if (now - t_progress > STALL_NS) {
          snprintf(err, sizeof(err),
                   "stalled: broadcast %llu did not reach every client "
                   "within %llu s",
                   (unsigned long long)done,
                   (unsigned long long)(STALL_NS / 1000000000ull));
          goto stop;
        }
      }
      break;
    default:
      break;
    }
    continue;
  stop:
    phase = PH_STOP;
    atomic_store(&sh->phase, PH_STOP);
    for (i = 0; i < nw; i++)
      bench_wake(sh, (int)i);
    stop_at = now + 10000000000ull;
  }

  /* ------------------------------------------------------------ report */
  {
    uint64_t connected = atomic_load(&sh->connected);
    uint64_t failed = atomic_load(&sh->failed);
    double cmax = 0, csum = 0, server_util = -1, window = 0;
    int client_bound, ok;
    if (!err[0] && late_err[0])
      snprintf(err, sizeof(err), "%s", late_err);
    ok = !err[0];
    memset(&lat, 0, sizeof(lat));
    for (i = 0; i < nw; i++) {
      double u = sh->w[i].wall_ns
                     ? (double)sh->w[i].cpu_ns / (double)sh->w[i].wall_ns
                     : 0;
      hist_merge(&lat, &sh->w[i].lat);
      csum += u;
      if (u > cmax)
        cmax = u;
      if (!err[0] && sh->w[i].err[0] &&
          (o.mode == MODE_FANOUT || o.mode == MODE_ECHO))
        snprintf(err, sizeof(err), "%s", sh->w[i].err);
    }
    client_bound = cmax >= 0.9;
    printf("sio-bench %s %s n=%u workers=%u src-addrs=%u%s%s\n",
           mode_names[o.mode],
           o.transport == TR_POLLING ? "polling" : "websocket", o.n, nw, o.nsrc,
           o.label[0] ? " label=" : "", o.label);
    json_len = 0;
    jadd("{\"tool\":\"sio-bench\"");
    jstr("mode", mode_names[o.mode]);
    jstr("transport", o.transport == TR_POLLING ? "polling" : "websocket");
    jstr("label", o.label);
    if (o.mode == MODE_FANOUT) {
      jstr("event", o.event);
      jadd(",\"publisher\":%s", o.publisher ? "true" : "false");
    }
    jadd(",\"n\":%u,\"connected\":%llu,\"failed\":%llu,\"workers\":%u,"
         "\"src_addrs\":%u,\"server_pid\":%d,\"servers\":%u,"
         "\"payload\":%u",
         o.n, (unsigned long long)connected, (unsigned long long)failed, nw,
         o.nsrc, o.server_pid, o.nports, o.payload);

    if (o.mode == MODE_IDLE || o.mode == MODE_CONNECT) {
      uint64_t t1 = atomic_load(&sh->last_ready_ns);
      uint64_t t0 = atomic_load(&sh->first_start_ns);
      double secs = t1 > t0 ? (double)(t1 - t0) / 1e9 : 0;
      double rate = secs > 0 ? (double)connected / secs : 0;
      window = secs;
      printf("  connected       %llu of %u in %.2f s = %.0f/s "
             "(%llu failed)\n",
             (unsigned long long)connected, o.n, secs, rate,
             (unsigned long long)failed);
      printf("  setup time      p50 %.2f ms  p99 %.2f ms  max %.2f ms\n",
             us(hist_quantile(&lat, 0.5)) / 1000,
             us(hist_quantile(&lat, 0.99)) / 1000, us(lat.max) / 1000);
      jadd(",\"connect_per_s\":%.1f,\"setup_p50_us\":%.1f,"
           "\"setup_p99_us\":%.1f",
           rate, us(hist_quantile(&lat, 0.5)), us(hist_quantile(&lat, 0.99)));
      if (cpu0_ok && cpu_conn_ok && connected) {
        double per = us(cpu_conn - cpu0) / (double)connected;
        server_util = secs > 0 ? (double)(cpu_conn - cpu0) / 1e9 / secs : -1;
        printf("  server CPU      %.1f us per connection setup\n", per);
        jadd(",\"server_cpu_us_per_conn\":%.2f", per);
      }
      if (o.mode == MODE_IDLE && held && rss_ok && connected) {
        double per = ((double)rss1 - (double)rss0) / (double)connected;
        printf("  server RSS      %.1f MB before, %.1f MB after: %.0f bytes "
               "per connection (held %.1f s)\n",
               (double)rss0 / 1048576, (double)rss1 / 1048576, per, o.hold_s);
        jadd(",\"rss_before\":%llu,\"rss_after\":%llu,"
             "\"rss_per_conn\":%.0f",
             (unsigned long long)rss0, (unsigned long long)rss1, per);
      }
    } else if (o.mode == MODE_FANOUT) {
      uint64_t total = atomic_load(&sh->total);
      uint64_t bdone = b.count > a.count ? b.count - a.count : 0;
      uint64_t deliveries = lat.n, first_sent = 0, last_recv = 0, k = 0;
      uint64_t *lastv = calloc(o.count ? o.count : 1, sizeof(uint64_t));
      size_t s;
      double rate;
      for (s = o.warmup; s < nslots && lastv; s++) {
        bench_slot *sl = &sh->slots[s];
        uint64_t sent = atomic_load(&sl->sent_ns);
        uint64_t last = atomic_load(&sl->last_ns);
        if (atomic_load(&sl->count) != total || !sent)
          continue;
        if (!first_sent || sent < first_sent)
          first_sent = sent;
        if (last > last_recv)
          last_recv = last;
        lastv[k++] = last > sent ? last - sent : 0;
      }
      if (lastv)
        qsort(lastv, k, sizeof(*lastv), cmp_u64);
      window =
          last_recv > first_sent ? (double)(last_recv - first_sent) / 1e9 : 0;
      rate = window > 0 ? (double)deliveries / window : 0;
      printf("  broadcasts      %llu measured (+%u warmup) to %llu clients, "
             "%u in flight%s\n",
             (unsigned long long)bdone, o.warmup, (unsigned long long)total,
             o.inflight, partial ? " (time limit reached)" : "");
      printf("  deliveries      %llu in %.3f s = %.0f/s\n",
             (unsigned long long)deliveries, window, rate);
      printf("  latency         p50 %.1f us  p99 %.1f us  max %.1f us "
             "(send to each receive)\n",
             us(hist_quantile(&lat, 0.5)), us(hist_quantile(&lat, 0.99)),
             us(lat.max));
      if (k)
        printf("  last client     p50 %.1f us  p99 %.1f us  max %.1f us "
               "(send to the last receive)\n",
               us(lastv[k / 2]),
               us(lastv[(k * 99) / 100 < k ? (k * 99) / 100 : k - 1]),
               us(lastv[k - 1]));
      jadd(",\"inflight\":%u,\"broadcasts\":%llu,\"receivers\":%llu,"
           "\"deliveries\":%llu,\"deliveries_per_s\":%.1f,"
           "\"lat_p50_us\":%.1f,\"lat_p99_us\":%.1f,\"partial\":%s",
           o.inflight, (unsigned long long)bdone, (unsigned long long)total,
           (unsigned long long)deliveries, rate, us(hist_quantile(&lat, 0.5)),
           us(hist_quantile(&lat, 0.99)), partial ? "true" : "false");
      if (k)
        jadd(",\"last_p50_us\":%.1f,\"last_p99_us\":%.1f,"
             "\"last_max_us\":%.1f",
             us(lastv[k / 2]),
             us(lastv[(k * 99) / 100 < k ? (k * 99) / 100 : k - 1]),
             us(lastv[k - 1]));
      if (held && rss_ok && connected) {
        double per = ((double)rss1 - (double)rss0) / (double)connected;
        printf("  server RSS      %.1f MB before, %.1f MB with every client "
               "held %.1f s: %.0f bytes per connection\n",
               (double)rss0 / 1048576, (double)rss1 / 1048576, o.hold_s, per);
        jadd(",\"rss_before\":%llu,\"rss_after\":%llu,"
             "\"rss_per_conn\":%.0f",
             (unsigned long long)rss0, (unsigned long long)rss1, per);
      }
      if (a.cpu_ok && b.cpu_ok && bdone && total) {
        double per = us(b.cpu - a.cpu) / ((double)bdone * (double)total);
        server_util = (double)(b.cpu - a.cpu) / (double)(b.t - a.t);
        printf("  server CPU      %.2f us per delivery (%.0f%% of a core)\n",
               per, server_util * 100);
        jadd(",\"server_cpu_us_per_delivery\":%.3f", per);
      }
      free(lastv);
    } else {
      uint64_t acks = b.count > a.count ? b.count - a.count : 0;
      double secs = b.t > a.t ? (double)(b.t - a.t) / 1e9 : 0;
      double rate = secs > 0 ? (double)acks / secs : 0;
      window = secs;
      printf("  acks            %llu in %.2f s = %.0f/s (%u in flight per "
             "client)\n",
             (unsigned long long)acks, secs, rate, o.inflight);
      printf("  round trip      p50 %.1f us  p99 %.1f us  max %.1f us\n",
             us(hist_quantile(&lat, 0.5)), us(hist_quantile(&lat, 0.99)),
             us(lat.max));
      jadd(",\"inflight\":%u,\"acks\":%llu,\"acks_per_s\":%.1f,"
           "\"rtt_p50_us\":%.1f,\"rtt_p99_us\":%.1f",
           o.inflight, (unsigned long long)acks, rate,
           us(hist_quantile(&lat, 0.5)), us(hist_quantile(&lat, 0.99)));
      if (a.cpu_ok && b.cpu_ok && acks) {
        double per = us(b.cpu - a.cpu) / (double)acks;
        server_util = (double)(b.cpu - a.cpu) / (double)(b.t - a.t);
        printf("  server CPU      %.2f us per ack (%.0f%% of a core)\n", per,
               server_util * 100);
        jadd(",\"server_cpu_us_per_ack\":%.3f", per);
      }
    }
    printf("  client CPU      busiest worker %.0f%%, all workers %.0f%% of a "
           "core (%ld CPUs)\n",
           cmax * 100, csum * 100, nproc);
    if (client_bound)
      printf("  NOTE: a client worker was at %.0f%% CPU: the client, not the "
             "server, may bound these figures (try --workers)\n",
             cmax * 100);
    else if (server_util >= 0 && server_util + csum > 0.9 * (double)nproc)
      printf("  NOTE: server and client together used %.0f%% of %ld CPUs: "
             "the machine is saturated\n",
             (server_util + csum) * 100, nproc);
    jadd(",\"window_s\":%.3f,\"server_cpu_util\":%.3f,"
         "\"client_cpu_max\":%.3f,\"client_cpu_sum\":%.3f,"
         "\"client_bound\":%s,\"pings\":%llu",
         window, server_util, cmax, csum, client_bound ? "true" : "false",
         (unsigned long long)atomic_load(&sh->pings));
    if (err[0]) {
      printf("  ERROR: %s\n", err);
      ok = 0;
    }
    jadd(",\"ok\":%s", ok ? "true" : "false");
    jstr("error", err);
    jadd("}");
    printf("%s\n", json);
    return ok ? 0 : 1;
  }
}
