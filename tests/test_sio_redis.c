/* test_sio_redis.c: the hiredis driver (sio_redis.c) against a real
 * redis-server, and two libsio servers sharing it.
 *
 * Each loop test starts a private redis-server on 127.0.0.1 and a free
 * port (or a unix socket) in a temporary directory, with no persistence,
 * and stops it by PID at the end. When redis-server is not installed the
 * test returns early with a message (automake's "skip", in Check terms).
 * Every loop test ends with uv_loop_close() == 0. */
#include <check.h>
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>

#include <netinet/in.h>
#ifdef __linux__
#include <sys/prctl.h>
#endif

#include "check_suites.h"
#include "redis_proc.h"
#include "sio/sio.h"
#include "sio_conn.h"
#include "sio_redis.h"
#include "sio_redis_conn.h"
#include "sio_tls.h"
#include "ws_client.h"

#define WS_PATH "/socket.io/?EIO=4&transport=websocket"
#define T 2000

/* ------------------------------------------------------------ loop glue */

static void tick(uv_timer_t *t) { (void)t; }

/* Runs the loop until *flag (or pred) holds or ms passed. */
static int run_until(uv_loop_t *loop, int (*pred)(void *), void *arg,
                     uint32_t ms) {
  uv_timer_t t;
  uint64_t end = uv_now(loop) + ms;
  int ok;
  uv_timer_init(loop, &t);
  uv_timer_start(&t, tick, 5, 5);
  while (!(ok = pred(arg)) && uv_now(loop) < end)
    uv_run(loop, UV_RUN_ONCE);
  uv_close((uv_handle_t *)&t, NULL);
  uv_run(loop, UV_RUN_NOWAIT);
  return ok;
}

static int connected(void *arg) { return sio_server_redis_connected(arg) == 1; }

static int disconnected(void *arg) {
  return sio_server_redis_connected(arg) == 0;
}

static int both_connected(void *arg) {
  sio_server **s = arg;
  return sio_server_redis_connected(s[0]) && sio_server_redis_connected(s[1]);
}

static int closed_count;
static void on_closed(sio_server *s, void *ud) {
  (void)s;
  (void)ud;
  closed_count++;
}

static sio_socket *last_socket[2];
static void on_connection(sio_socket *s, void *ud) {
  int i = (int)(intptr_t)ud;
  if (last_socket[i])
    sio_socket_unref(last_socket[i]);
  sio_socket_ref(s);
  last_socket[i] = s;
}

static uint32_t ping_interval_ms; /* 0: the default */

/* A server on cfg (borrowed), listening on a free loopback port. */
static sio_server *new_server_cfg(uv_loop_t *loop, const sio_redis_config *cfg,
                                  int idx) {
  static const sio_namespace_handlers h = {NULL, on_connection, NULL, NULL};
  sio_server *s;
  ck_assert_int_eq(sio_server_new(&s, loop, NULL), 0);
  sio_namespace_set_handlers(sio_server_of(s, "/"), &h, (void *)(intptr_t)idx);
  ck_assert_int_eq(sio_server_use_redis_config(s, cfg), 0);
  ck_assert_int_eq(sio_server_use_redis(s, cfg->url, NULL), SIO_ERR_STATE);
  ck_assert_int_eq(sio_server_listen(s, "127.0.0.1:0"), 0);
  return s;
}

/* A server with short test timings. */
static sio_server *new_server(uv_loop_t *loop, const char *url, int idx) {
  sio_redis_config cfg;
  memset(&cfg, 0, sizeof(cfg));
  cfg.url = url;
  cfg.reconnect_min_ms = 20;
  cfg.reconnect_max_ms = 300;
  cfg.connect_timeout_ms = 1000;
  cfg.command_timeout_ms = 500;
  cfg.requests_timeout_ms = 1000;
  cfg.ping_interval_ms = ping_interval_ms;
  return new_server_cfg(loop, &cfg, idx);
}

/* A server with the shipped reconnect timings (backoff, connect timeout):
 * what the daemon runs with. */
static sio_server *new_server_defaults(uv_loop_t *loop, const char *url,
                                       int idx) {
  sio_redis_config cfg;
  memset(&cfg, 0, sizeof(cfg));
  cfg.url = url;
  cfg.requests_timeout_ms = 1000;
  return new_server_cfg(loop, &cfg, idx);
}

/* ------------------------------------------------------- log and clock */

static double now_ms(void) { return (double)uv_hrtime() / 1e6; }

/* The driver's warnings, with the time each was logged. */
static struct {
  char line[16][256];
  double at[16];
  int n;
} logs;

static void capture_log(int level, const char *msg, void *ud) {
  (void)level;
  (void)ud;
  if (logs.n < 16) {
    snprintf(logs.line[logs.n], sizeof(logs.line[0]), "%s", msg);
    logs.at[logs.n++] = now_ms();
  }
}

static void capture_logs(void) {
  memset(&logs, 0, sizeof(logs));
  sio_set_log(capture_log, NULL, SIO_LOG_WARN);
}

/* The index of the first line containing needle, or -1. */
static int logged_at(const char *needle) {
  int i;
  for (i = 0; i < logs.n; i++)
    if (strstr(logs.line[i], needle))
      return i;
  return -1;
}

static int logged(void *needle) { return logged_at(needle) >= 0; }

/* A stand-in for Redis on its port: counts connection attempts, notes the
 * first one's time, and closes each at once (polled by run_until). */
typedef struct fake_listener {
  int fd;
  int accepted;
  double first_at;
} fake_listener;

static void fake_listen(fake_listener *f, int port) {
  struct sockaddr_in a;
  int one = 1;
  memset(f, 0, sizeof(*f));
  memset(&a, 0, sizeof(a));
  a.sin_family = AF_INET;
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  a.sin_port = htons((uint16_t)port);
  f->fd = socket(AF_INET, SOCK_STREAM, 0);
  ck_assert_int_ge(f->fd, 0);
  setsockopt(f->fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
  ck_assert_int_eq(bind(f->fd, (struct sockaddr *)&a, sizeof(a)), 0);
  ck_assert_int_eq(listen(f->fd, 64), 0);
  fcntl(f->fd, F_SETFL, O_NONBLOCK);
}

static int fake_accepted(void *arg) {
  fake_listener *f = arg;
  int a;
  while ((a = accept(f->fd, NULL, NULL)) >= 0) {
    if (!f->accepted++)
      f->first_at = now_ms();
    close(a);
  }
  return f->accepted > 0;
}

static void client_connect(ws_client *c, uv_loop_t *loop, sio_server *s) {
  const ws_msg *m;
  ck_assert_int_eq(ws_client_open(c, loop, sio_server_port(s, 0), WS_PATH), 0);
  c->auto_pong = 1;
  m = ws_client_recv(c, T);
  ck_assert_ptr_nonnull(m);
  ck_assert_int_eq(ws_client_send_text(c, "40"), 0);
  m = ws_client_recv(c, T);
  ck_assert_ptr_nonnull(m);
  ck_assert_msg(strncmp(m->data, "40", 2) == 0, "%s", m->data);
}

static void finish(uv_loop_t *loop, sio_server **s, int n, ws_client *c,
                   int nc) {
  int i;
  closed_count = 0;
  for (i = 0; i < 2; i++) {
    if (last_socket[i])
      sio_socket_unref(last_socket[i]);
    last_socket[i] = NULL;
  }
  for (i = 0; i < n; i++)
    sio_server_close(s[i], on_closed, NULL);
  for (i = 0; i < nc; i++)
    ws_client_close(&c[i]);
  uv_run(loop, UV_RUN_DEFAULT);
  ck_assert_int_eq(closed_count, n);
  ck_assert_int_eq(uv_loop_close(loop), 0);
}

/* ---------------------------------------------------------------- tests */

static void on_fetch(sio_namespace *ns, int status,
                     const sio_socket_info *socks, size_t n, void *ud) {
  int *out = ud;
  (void)ns;
  (void)socks;
  out[0] = 1;
  out[1] = status;
  out[2] = (int)n;
}

static int flag_set(void *arg) { return ((int *)arg)[0] != 0; }

static void on_count(sio_namespace *ns, int status, size_t count, void *ud) {
  int *out = ud;
  (void)ns;
  out[0] = 1;
  out[1] = status;
  out[2] = (int)count;
}

/* Two instances on one Redis: a room broadcast reaches both, except
 * holds; fetchSockets and serverCount see both; Redis killed and
 * restarted: no crash, local delivery meanwhile, cluster delivery back. */
START_TEST(test_two_instances_and_restart) {
  redis_proc rp;
  uv_loop_t loop;
  sio_server *s[2];
  ws_client c[3];
  const char *room = "r", *ex = "x";
  sio_broadcast_opts o = {&room, 1, &ex, 1, 0};
  sio_stats st;
  int res[3] = {0, 0, 0};
  uint64_t t0;
  SKIP_WITHOUT_REDIS();
  redis_init(&rp);
  redis_start(&rp, 0, NULL);
  snprintf(rp.url, sizeof(rp.url), "redis://127.0.0.1:%d", rp.port);
  memset(c, 0, sizeof(c));
  ck_assert_int_eq(uv_loop_init(&loop), 0);
  s[0] = new_server(&loop, rp.url, 0);
  s[1] = new_server(&loop, rp.url, 1);
  ck_assert(run_until(&loop, both_connected, s, 3000));
  client_connect(&c[0], &loop, s[0]);
  sio_socket_join(last_socket[0], "r");
  client_connect(&c[1], &loop, s[1]);
  sio_socket_join(last_socket[1], "r");
  client_connect(&c[2], &loop, s[1]);
  sio_socket_join(last_socket[1], "r");
  sio_socket_join(last_socket[1], "x");
  ck_assert_int_eq(sio_namespace_broadcast(sio_server_of(s[0], "/"), &o, "hi",
                                           NULL, NULL, 0),
                   1);
  ck_assert(ws_client_expect(&c[0], "42[\"hi\"]", T));
  ck_assert(ws_client_expect(&c[1], "42[\"hi\"]", T));
  ck_assert_ptr_null(ws_client_recv(&c[2], 200)); /* in x */
  /* fetchSockets across, serverCount */
  ck_assert_int_eq(sio_namespace_fetch_sockets(sio_server_of(s[0], "/"), NULL,
                                               on_fetch, res),
                   0);
  ck_assert(run_until(&loop, flag_set, res, 3000));
  ck_assert_int_eq(res[1], 0);
  ck_assert_int_eq(res[2], 3);
  memset(res, 0, sizeof(res));
  ck_assert_int_eq(sio_server_count(s[1], on_count, res), 0);
  ck_assert(run_until(&loop, flag_set, res, 3000));
  ck_assert_int_eq(res[1], 0);
  ck_assert_int_eq(res[2], 2);

  /* Redis dies */
  redis_kill(&rp, SIGKILL);
  ck_assert(run_until(&loop, disconnected, s[0], 3000));
  ck_assert(run_until(&loop, disconnected, s[1], 3000));
  ck_assert_int_eq(sio_namespace_broadcast(sio_server_of(s[0], "/"), NULL,
                                           "alone", NULL, NULL, 0),
                   1);
  ck_assert(ws_client_expect(&c[0], "42[\"alone\"]", T));
  ck_assert_ptr_null(ws_client_recv(&c[1], 100));
  sio_server_stats(s[0], &st);
  ck_assert_uint_ge(st.redis_dropped, 1);
  ck_assert_uint_eq(st.redis_connected, 0);
  /* requests while down: local results, at once */
  memset(res, 0, sizeof(res));
  ck_assert_int_eq(sio_namespace_fetch_sockets(sio_server_of(s[0], "/"), NULL,
                                               on_fetch, res),
                   0);
  ck_assert(run_until(&loop, flag_set, res, 1000));
  ck_assert_int_eq(res[1], SIO_ERR_CLOSED);
  ck_assert_int_eq(res[2], 1);
  /* keep the servers busy retrying a little, then bring Redis back */
  run_until(&loop, flag_set, (int[]){0}, 400);
  redis_start(&rp, 0, NULL);
  t0 = uv_now(&loop);
  ck_assert(run_until(&loop, both_connected, s, 10000));
  ck_assert_uint_lt(uv_now(&loop) - t0, 10000);
  ck_assert_int_eq(sio_namespace_broadcast(sio_server_of(s[1], "/"), &o, "back",
                                           NULL, NULL, 0),
                   1);
  ck_assert(ws_client_expect(&c[0], "42[\"back\"]", T));
  ck_assert(ws_client_expect(&c[1], "42[\"back\"]", T));
  finish(&loop, s, 2, c, 3);
  redis_cleanup(&rp);
}
END_TEST

/* A Redis that stops answering (SIGSTOP): the command watchdog and the
 * connect timeout notice; SIGCONT brings it back. */
START_TEST(test_stalled_redis) {
  redis_proc rp;
  uv_loop_t loop;
  sio_server *s[1];
  int res[3] = {0, 0, 0};
  SKIP_WITHOUT_REDIS();
  redis_init(&rp);
  redis_start(&rp, 0, NULL);
  snprintf(rp.url, sizeof(rp.url), "redis://localhost:%d", rp.port);
  ck_assert_int_eq(uv_loop_init(&loop), 0);
  s[0] = new_server(&loop, rp.url, 0); /* a host name: uv_getaddrinfo */
  ck_assert(run_until(&loop, connected, s[0], 3000));
  kill(rp.pid, SIGSTOP);
  /* NUMSUB gets no reply: the watchdog drops the connection */
  ck_assert_int_eq(sio_server_count(s[0], on_count, res), 0);
  ck_assert(run_until(&loop, disconnected, s[0], 3000));
  ck_assert(run_until(&loop, flag_set, res, 3000));
  ck_assert_int_eq(res[1], SIO_ERR_CLOSED);
  ck_assert_int_eq(res[2], 1);
  run_until(&loop, flag_set, (int[]){0}, 300);
  kill(rp.pid, SIGCONT);
  ck_assert(run_until(&loop, connected, s[0], 10000));
  finish(&loop, s, 1, NULL, 0);
  redis_cleanup(&rp);
}
END_TEST

static int latency_changed(void *arg) {
  uint64_t *prev = arg;
  sio_stats st;
  sio_server_stats((sio_server *)(uintptr_t)prev[1], &st);
  return st.redis_latency_us && st.redis_latency_us != prev[0];
}

/* The publisher PINGs Redis every ping_interval_ms: the round trip is the
 * reported latency (known from the handshake on), and a Redis that stops
 * answering is noticed although nothing is published. */
START_TEST(test_ping_latency) {
  redis_proc rp;
  uv_loop_t loop;
  sio_server *s[1];
  sio_stats st;
  uint64_t arg[2];
  int i;
  SKIP_WITHOUT_REDIS();
  redis_init(&rp);
  redis_start(&rp, 0, NULL);
  snprintf(rp.url, sizeof(rp.url), "redis://127.0.0.1:%d", rp.port);
  ck_assert_int_eq(uv_loop_init(&loop), 0);
  ping_interval_ms = 50;
  s[0] = new_server(&loop, rp.url, 0);
  ping_interval_ms = 0;
  sio_server_stats(s[0], &st);
  ck_assert_uint_eq(st.redis_latency_us, 0);
  ck_assert(run_until(&loop, connected, s[0], 3000));
  sio_server_stats(s[0], &st);
  ck_assert_uint_gt(st.redis_latency_us, 0);
  ck_assert_uint_lt(st.redis_latency_us, 1000000);
  /* later PINGs update it (a new round trip differs by some ns at least:
   * try a few, each within two intervals) */
  arg[1] = (uint64_t)(uintptr_t)s[0];
  for (i = 0; i < 5; i++) {
    arg[0] = st.redis_latency_us;
    if (run_until(&loop, latency_changed, arg, 200))
      break;
  }
  ck_assert_int_lt(i, 5);
  /* idle, and Redis stops answering: the PING times out (500 ms) */
  kill(rp.pid, SIGSTOP);
  ck_assert(run_until(&loop, disconnected, s[0], 2000));
  kill(rp.pid, SIGCONT);
  ck_assert(run_until(&loop, connected, s[0], 10000));
  finish(&loop, s, 1, NULL, 0);
  redis_cleanup(&rp);
}
END_TEST

/* AUTH and SELECT, a wrong password, and a unix socket. */
START_TEST(test_auth_db_unix) {
  static const char *const pass[] = {"--requirepass", "s3cret", NULL};
  redis_proc rp, ru;
  uv_loop_t loop;
  sio_server *s[3];
  char url[300];
  SKIP_WITHOUT_REDIS();
  redis_init(&rp);
  redis_start(&rp, 0, pass);
  redis_init(&ru);
  redis_start(&ru, 1, NULL);
  ck_assert_int_eq(uv_loop_init(&loop), 0);
  snprintf(url, sizeof(url), "redis://:s3cret@127.0.0.1:%d/3", rp.port);
  s[0] = new_server(&loop, url, 0);
  snprintf(url, sizeof(url), "redis://default:wrong@127.0.0.1:%d", rp.port);
  s[1] = new_server(&loop, url, 1);
  snprintf(url, sizeof(url), "unix://%s?db=1", ru.sock);
  s[2] = new_server(&loop, url, 0);
  ck_assert(run_until(&loop, connected, s[0], 3000));
  ck_assert(run_until(&loop, connected, s[2], 3000));
  run_until(&loop, flag_set, (int[]){0}, 300);
  ck_assert_int_eq(sio_server_redis_connected(s[1]), 0);
  finish(&loop, s, 3, NULL, 0);
  redis_cleanup(&rp);
  redis_cleanup(&ru);
}
END_TEST

/* Nothing listens: retries without end, closes cleanly. */
START_TEST(test_unreachable) {
  uv_loop_t loop;
  sio_server *s[1];
  char url[64];
  ck_assert_int_eq(uv_loop_init(&loop), 0);
  snprintf(url, sizeof(url), "redis://127.0.0.1:%d", free_port());
  s[0] = new_server(&loop, url, 0);
  run_until(&loop, flag_set, (int[]){0}, 300);
  ck_assert_int_eq(sio_server_redis_connected(s[0]), 0);
  ck_assert_int_eq(sio_namespace_broadcast(sio_server_of(s[0], "/"), NULL, "x",
                                           NULL, NULL, 0),
                   0);
  {
    sio_server *t;
    ck_assert_int_eq(sio_server_new(&t, &loop, NULL), 0);
    sio_redis_config bad;
    memset(&bad, 0, sizeof(bad));
    bad.url = "rediss://h";
    bad.tls_ca_file = "/nonexistent/ca.pem";
    ck_assert_int_eq(sio_server_use_redis_config(t, &bad), SIO_ERR_IO);
    bad.url = "redis+cluster://h"; /* the classic protocol needs one Redis */
    bad.tls_ca_file = NULL;
    ck_assert_int_eq(sio_server_use_redis_config(t, &bad), SIO_ERR_INVAL);
    ck_assert_int_eq(sio_server_use_redis(t, "nope", NULL), SIO_ERR_INVAL);
    sio_server_close(t, NULL, NULL);
  }
  finish(&loop, s, 1, NULL, 0);
}
END_TEST

/* SPEC §4 Redis: a refused connect is seen at once, not at the connect
 * timeout (hiredis' stock libuv adapter dropped the poll error, and the
 * refusal surfaced after connect_timeout_ms, 5 s), and the retries go on
 * with a small, capped backoff: a Redis that starts later is reached within
 * 1 s of accepting. */
START_TEST(test_refused_seen_at_once) {
  redis_proc rp;
  uv_loop_t loop;
  sio_server *s[1];
  double t0, t_up, refused_ms, up_ms;
  int i;
  SKIP_WITHOUT_REDIS();
  redis_init(&rp);
  rp.port = free_port(); /* nothing listens there yet */
  snprintf(rp.url, sizeof(rp.url), "redis://127.0.0.1:%d", rp.port);
  ck_assert_int_eq(uv_loop_init(&loop), 0);
  capture_logs();
  t0 = now_ms();
  s[0] = new_server_defaults(&loop, rp.url, 0);
  ck_assert_msg(run_until(&loop, logged, "refused", 2000),
                "no refused connect logged within 2 s (first log: %s)",
                logs.n ? logs.line[0] : "none");
  i = logged_at("refused");
  refused_ms = logs.at[i] - t0;
  fprintf(stderr, "refused connect reported after %.1f ms: %s\n", refused_ms,
          logs.line[i]);
  ck_assert_msg(refused_ms < 150, "refused seen after %.1f ms", refused_ms);
  ck_assert_int_eq(sio_server_redis_connected(s[0]), 0);
  /* refused again and again for a while, then Redis starts */
  run_until(&loop, flag_set, (int[]){0}, 1500);
  redis_start(&rp, 0, NULL);
  t_up = now_ms();
  ck_assert(run_until(&loop, connected, s[0], 5000));
  up_ms = now_ms() - t_up;
  fprintf(stderr, "connected %.1f ms after redis-server accepted\n", up_ms);
  ck_assert_msg(up_ms < 1000, "connected %.1f ms after Redis came", up_ms);
  finish(&loop, s, 1, NULL, 0);
  sio_set_log(NULL, NULL, SIO_LOG_ERROR);
  redis_cleanup(&rp);
}
END_TEST

/* Both servers saw the loss (when: lost_at), and the stand-in listener
 * an attempt; the listener is polled all along, for the attempt's time. */
typedef struct kill_watch {
  sio_server **s;
  fake_listener *f;
  double lost_at;
} kill_watch;

static int lost_and_tried(void *arg) {
  kill_watch *k = arg;
  int tried = fake_accepted(k->f);
  if (!k->lost_at && !sio_server_redis_connected(k->s[0]) &&
      !sio_server_redis_connected(k->s[1]))
    k->lost_at = now_ms();
  return tried && k->lost_at > 0;
}

/* Redis killed (SIGKILL) under two instances with the shipped timings: the
 * loss is seen at once and the first reconnect attempt comes within
 * 100 ms (a stand-in listener on Redis' port sees it); refused attempts
 * follow; Redis restarted on the same port: both instances connected and
 * resubscribed within 1 s, broadcasts cross both ways. */
START_TEST(test_kill_restart_reconnects_fast) {
  redis_proc rp;
  uv_loop_t loop;
  sio_server *s[2];
  ws_client c[2];
  fake_listener f;
  kill_watch k;
  double t_kill, lost_ms, attempt_ms, t_up, up_ms;
  SKIP_WITHOUT_REDIS();
  redis_init(&rp);
  redis_start(&rp, 0, NULL);
  snprintf(rp.url, sizeof(rp.url), "redis://127.0.0.1:%d", rp.port);
  memset(c, 0, sizeof(c));
  ck_assert_int_eq(uv_loop_init(&loop), 0);
  s[0] = new_server_defaults(&loop, rp.url, 0);
  s[1] = new_server_defaults(&loop, rp.url, 1);
  ck_assert(run_until(&loop, both_connected, s, 3000));
  client_connect(&c[0], &loop, s[0]);
  client_connect(&c[1], &loop, s[1]);
  ck_assert_int_eq(sio_namespace_broadcast(sio_server_of(s[0], "/"), NULL,
                                           "before", NULL, NULL, 0),
                   1);
  ck_assert(ws_client_expect(&c[1], "42[\"before\"]", T));
  ck_assert(ws_client_expect(&c[0], "42[\"before\"]", T));
  t_kill = now_ms();
  redis_kill(&rp, SIGKILL);
  fake_listen(&f, rp.port);
  k.s = s;
  k.f = &f;
  k.lost_at = 0;
  ck_assert(run_until(&loop, lost_and_tried, &k, 1000));
  lost_ms = k.lost_at - t_kill;
  attempt_ms = f.first_at - t_kill;
  fprintf(stderr,
          "loss seen after %.1f ms, first reconnect attempt %.1f ms "
          "after the kill\n",
          lost_ms, attempt_ms);
  ck_assert_msg(lost_ms < 100, "loss seen after %.1f ms", lost_ms);
  ck_assert_msg(attempt_ms < 150, "first attempt after %.1f ms", attempt_ms);
  close(f.fd);
  /* nothing listens: refused attempts for a second */
  run_until(&loop, flag_set, (int[]){0}, 1000);
  ck_assert_int_eq(sio_server_redis_connected(s[0]), 0);
  redis_start(&rp, 0, NULL);
  t_up = now_ms();
  ck_assert(run_until(&loop, both_connected, s, 5000));
  up_ms = now_ms() - t_up;
  fprintf(stderr,
          "both instances connected and subscribed %.1f ms after "
          "redis-server accepted again\n",
          up_ms);
  ck_assert_msg(up_ms < 1000, "reconnected %.1f ms after Redis came", up_ms);
  /* each subscriber resubscribed, each publisher publishes */
  ck_assert_int_eq(sio_namespace_broadcast(sio_server_of(s[1], "/"), NULL,
                                           "to-a", NULL, NULL, 0),
                   1);
  ck_assert(ws_client_expect(&c[0], "42[\"to-a\"]", T));
  ck_assert(ws_client_expect(&c[1], "42[\"to-a\"]", T));
  ck_assert_int_eq(sio_namespace_broadcast(sio_server_of(s[0], "/"), NULL,
                                           "to-b", NULL, NULL, 0),
                   1);
  ck_assert(ws_client_expect(&c[1], "42[\"to-b\"]", T));
  ck_assert(ws_client_expect(&c[0], "42[\"to-b\"]", T));
  finish(&loop, s, 2, c, 2);
  redis_cleanup(&rp);
}
END_TEST

/* A blackhole: a listening socket whose connections are accepted by the
 * kernel and never answered. connect_timeout_ms (300 here) ends each
 * attempt: Redis' side sees the driver close it after 300 ms, and the
 * next attempt comes. */
typedef struct blackhole {
  int lfd;
  int fd[8];
  double at[8], eof_at[8];
  int n;
} blackhole;

static int blackhole_step(void *arg) {
  blackhole *b = arg;
  int i, a;
  char buf[256];
  while (b->n < 8 && (a = accept(b->lfd, NULL, NULL)) >= 0) {
    fcntl(a, F_SETFL, O_NONBLOCK);
    b->at[b->n] = now_ms();
    b->eof_at[b->n] = 0;
    b->fd[b->n++] = a;
  }
  for (i = 0; i < b->n; i++) {
    ssize_t r = 1;
    while (!b->eof_at[i] && r > 0) /* the PING, never answered */
      r = recv(b->fd[i], buf, sizeof(buf), 0);
    if (!b->eof_at[i] &&
        (r == 0 || (r < 0 && errno != EAGAIN && errno != EWOULDBLOCK)))
      b->eof_at[i] = now_ms(); /* closed (or reset) by the driver */
  }
  /* done: the first attempt ended and a second one came */
  return b->n >= 2 && b->eof_at[0] > 0;
}

START_TEST(test_connect_timeout_blackhole) {
  uv_loop_t loop;
  sio_server *s[1];
  sio_redis_config cfg;
  blackhole b;
  struct sockaddr_in a;
  socklen_t len = sizeof(a);
  char url[64];
  double held;
  int i;
  memset(&b, 0, sizeof(b));
  b.lfd = socket(AF_INET, SOCK_STREAM, 0);
  memset(&a, 0, sizeof(a));
  a.sin_family = AF_INET;
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  ck_assert_int_eq(bind(b.lfd, (struct sockaddr *)&a, sizeof(a)), 0);
  ck_assert_int_eq(listen(b.lfd, 16), 0);
  ck_assert_int_eq(getsockname(b.lfd, (struct sockaddr *)&a, &len), 0);
  fcntl(b.lfd, F_SETFL, O_NONBLOCK);
  snprintf(url, sizeof(url), "redis://127.0.0.1:%d", ntohs(a.sin_port));
  ck_assert_int_eq(uv_loop_init(&loop), 0);
  capture_logs();
  memset(&cfg, 0, sizeof(cfg));
  cfg.url = url;
  cfg.connect_timeout_ms = 300;
  s[0] = new_server_cfg(&loop, &cfg, 0);
  ck_assert(run_until(&loop, blackhole_step, &b, 3000));
  /* the first of the two connections (subscriber or publisher) */
  held = b.eof_at[0] - b.at[0];
  fprintf(stderr, "blackholed attempt closed by the driver after %.1f ms\n",
          held);
  ck_assert_msg(held > 250 && held < 600, "closed after %.1f ms", held);
  ck_assert_int_ge(logged_at("not ready within 300 ms"), 0);
  ck_assert_int_eq(sio_server_redis_connected(s[0]), 0);
  finish(&loop, s, 1, NULL, 0);
  sio_set_log(NULL, NULL, SIO_LOG_ERROR);
  for (i = 0; i < b.n; i++)
    close(b.fd[i]);
  close(b.lfd);
}
END_TEST

/* ------------------------------------------------------------ Sentinel */

/* One command's outcome, as its callback saw it. */
typedef struct creply {
  int fired; /* callback calls: must end at 1 */
  int status;
  int type; /* REDIS_REPLY_*, -1 without a reply */
  long long integer;
  size_t elements, len;
  char str[1024];
  double at;
} creply;

static void on_reply(void *ud, int status, const redisReply *rep) {
  creply *c = ud;
  c->fired++;
  c->status = status;
  c->at = now_ms();
  c->type = rep ? rep->type : -1;
  if (status)
    ck_assert_ptr_null(rep);
  else
    ck_assert_ptr_nonnull(rep);
  if (rep && (rep->type == REDIS_REPLY_STRING ||
              rep->type == REDIS_REPLY_STATUS ||
              rep->type == REDIS_REPLY_ERROR)) {
    c->len = rep->len;
    size_t n = rep->len < sizeof(c->str) - 1 ? rep->len : sizeof(c->str) - 1;
    memcpy(c->str, rep->str, n);
    c->str[n] = 0;
  }
  if (rep && rep->type == REDIS_REPLY_INTEGER)
    c->integer = rep->integer;
  if (rep && rep->type == REDIS_REPLY_ARRAY)
    c->elements = rep->elements;
}

static int fired(void *arg) { return ((creply *)arg)->fired > 0; }

/* Sends argv (NULL-terminated, NUL-terminated strings) on lane. */
static int cmd(sio_redis *d, int lane, uint32_t wait_ms, creply *c,
               const char *const *argv) {
  size_t lens[16];
  int argc;
  for (argc = 0; argv[argc]; argc++)
    lens[argc] = strlen(argv[argc]);
  memset(c, 0, sizeof(*c));
  return sio_redis_pubsub_ops.command(d, lane, argc, (const char **)argv,
                                      lens, argc > 1 ? 1 : 0, wait_ms,
                                      on_reply, c);
}

#define ARGV(...) ((const char *const[]){__VA_ARGS__, NULL})


typedef struct sstream {
  sio_redis *d;
  int ready, pub_seq, refused, got, last_seq, back_seq;
  int master_port, switched;
  uint64_t t_switch, t_back;
  redis_sentinels *g;
} sstream;

static void ss_message(void *ud, const char *pattern, const char *channel,
                       const uint8_t *data, size_t len) {
  sstream *s = ud;
  char buf[32];
  (void)pattern;
  (void)channel;
  if (len < 2 || len >= sizeof(buf))
    return;
  memcpy(buf, data + 1, len - 1);
  buf[len - 1] = 0;
  s->got++;
  s->last_seq = atoi(buf);
  /* back: the first message published after the switch came through */
  if (s->switched && !s->t_back && s->last_seq > s->back_seq)
    s->t_back = uv_hrtime();
}

static void ss_state(void *ud, int ready) { ((sstream *)ud)->ready = ready; }

static void ss_publish(uv_timer_t *t) {
  sstream *s = t->data;
  char buf[32];
  int n = snprintf(buf, sizeof(buf), "#%d", s->pub_seq + 1);
  if (sio_redis_pubsub_ops.publish(s->d, "stream", (uint8_t *)buf, (size_t)n) ==
      0)
    s->pub_seq++;
  else
    s->refused++;
}

/* The test's own subscriber to +switch-master on another sentinel: the
 * moment the sentinels announce the new master. */
static void sw_push(void *ud, sio_redis_conn *c, const redisReply *r) {
  sstream *s = ud;
  (void)c;
  if (!s->switched && r->elements == 3 &&
      strcmp(r->element[1]->str, "+switch-master") == 0) {
    s->switched = 1;
    s->t_switch = uv_hrtime();
    s->back_seq = s->pub_seq;
  }
}

static void ss_closed(void *arg) { (*(int *)arg)++; }

static int ss_flag(void *arg) { return *(int *)arg != 0; }

static int ss_back(void *arg) { return ((sstream *)arg)->t_back != 0; }

/* A forced failover under a publish stream: the driver learns the new
 * master from +switch-master and is publishing and receiving through it
 * within 2 s of the switch. */
static void sentinel_failover(int tls) {
  redis_sentinels g;
  redis_proc certs;
  sio_tls_client_ctx *wtls = NULL;
  char ca[160], err[256];
  uv_loop_t loop;
  sstream s;
  uv_timer_t pub;
  sio_net net;
  sio_redis_conn *watch;
  sio_redis_target wt;
  sio_redis_conn_handler wh = {NULL, sw_push, NULL, NULL};
  const char *wargv[2] = {"SUBSCRIBE", "+switch-master"};
  sio_redis_options o;
  sio_pubsub_handler h = {ss_message, ss_state};
  char args[64];
  int closed = 0;
  double back_ms;
  creply bx;
  memset(&o, 0, sizeof(o));
  if (tls) {
    redis_init(&certs);
    ck_assert(redis_make_certs(certs.dir));
    snprintf(ca, sizeof(ca), "%s/ca.crt", certs.dir);
    redis_sentinels_start_tls(&g, certs.dir);
    o.tls_ca_file = ca;
    ck_assert_int_eq(
        sio_tls_client_ctx_new(&wtls, ca, NULL, NULL, err, sizeof(err)), 0);
  } else {
    redis_sentinels_start(&g);
  }
  ck_assert_int_eq(uv_loop_init(&loop), 0);
  memset(&s, 0, sizeof(s));
  s.g = &g;
  s.master_port = g.master.port;
  o.connect_timeout_ms = 1000;
  o.command_timeout_ms = 1000;
  ck_assert_int_eq(sio_redis_new(&s.d, &loop, g.url, &o), 0);
  sio_redis_pubsub_ops.set_handler(s.d, &h, &s);
  ck_assert_int_eq(sio_redis_pubsub_ops.subscribe(s.d, "stream", 0), 0);
  ck_assert(run_until(&loop, ss_flag, &s.ready, 5000));
  uv_timer_init(&loop, &pub);
  pub.data = &s;
  uv_timer_start(&pub, ss_publish, 5, 5);
  ck_assert_int_eq(sio_net_init(&net, &loop), 0);
  memset(&wt, 0, sizeof(wt));
  wt.host = "127.0.0.1";
  wt.port = g.sentinel[2].port;
  wt.tls = wtls;
  ck_assert_int_eq(sio_redis_conn_open(&watch, &net, &wt, NULL, &wh, &s), 0);
  ck_assert_int_eq(sio_redis_conn_command(watch, 2, wargv, NULL, NULL, NULL),
                   0);
  ck_assert(!run_until(&loop, ss_back, &s, 300));
  ck_assert_int_gt(s.got, 10);
  /* the blocking connection, up and blocked in the old master */
  ck_assert_int_eq(cmd(s.d, SIO_PUBSUB_LANE_BLOCKING, 0, &bx,
                       ARGV("XADD", "bs", "*", "f", "old")),
                   0);
  ck_assert(run_until(&loop, fired, &bx, 3000));
  ck_assert_int_eq(bx.type, REDIS_REPLY_STRING);
  ck_assert_int_eq(cmd(s.d, SIO_PUBSUB_LANE_BLOCKING, 20000, &bx,
                       ARGV("XREAD", "BLOCK", "20000", "STREAMS", "bs", "$")),
                   0);
  snprintf(args, sizeof(args), "SENTINEL FAILOVER %s", g.name);
  ck_assert_int_eq(redis_cli(&g.sentinel[0], args, NULL, 0), 0);
  ck_assert_msg(run_until(&loop, ss_back, &s, 15000),
                "not back on the new master (switched: %d)", s.switched);
  back_ms = (double)(s.t_back - s.t_switch) / 1e6;
  /* the XREAD ended with the old master's role (lost, or the server's
   * UNBLOCKED error, whichever came first); the blocking connection
   * moved: a write on it is taken by the new master */
  ck_assert(run_until(&loop, fired, &bx, 3000));
  ck_assert_int_eq(bx.fired, 1);
  ck_assert_msg(bx.status == SIO_ERR_IO ||
                    (bx.status == 0 && bx.type == REDIS_REPLY_ERROR),
                "status %d type %d %s", bx.status, bx.type, bx.str);
  ck_assert_int_eq(cmd(s.d, SIO_PUBSUB_LANE_BLOCKING, 0, &bx,
                       ARGV("XADD", "bs", "*", "f", "new")),
                   0);
  ck_assert(run_until(&loop, fired, &bx, 3000));
  ck_assert_msg(bx.status == 0 && bx.type == REDIS_REPLY_STRING,
                "status %d type %d %s", bx.status, bx.type, bx.str);
  run_until(&loop, ss_back, &s, 0);
  uv_timer_stop(&pub);
  sio_redis_conn_close(watch);
  {
    int never = 0;
    run_until(&loop, ss_flag, &never, 300);
  }
  fprintf(stderr,
          "sentinel failover%s: back %.0f ms after the switch; %d published, "
          "%d received, %d lost, %d refused while down\n",
          tls ? " (TLS)" : "", back_ms, s.pub_seq, s.got, s.pub_seq - s.got,
          s.refused);
  ck_assert_int_eq(redis_sentinels_master_port(&g), g.replica.port);
  ck_assert(back_ms < 2000);
  ck_assert_int_eq(s.last_seq, s.pub_seq);
  uv_close((uv_handle_t *)&pub, NULL);
  uv_run(&loop, UV_RUN_NOWAIT);
  sio_net_close(&net, NULL);
  sio_redis_pubsub_ops.close(s.d, ss_closed, &closed);
  ck_assert(run_until(&loop, ss_flag, &closed, 5000));
  ck_assert_int_eq(uv_loop_close(&loop), 0);
  redis_sentinels_cleanup(&g);
  sio_tls_client_ctx_del(wtls);
  if (tls)
    redis_cleanup(&certs);
}

START_TEST(test_sentinel_failover) {
  SKIP_WITHOUT_REDIS();
  sentinel_failover(0);
}
END_TEST

/* rediss+sentinel://: sentinels and servers on TLS only. */
START_TEST(test_sentinel_failover_tls) {
  SKIP_WITHOUT_REDIS();
  sentinel_failover(1);
}
END_TEST

/* ------------------------------------------------------------ commands */

typedef struct cdrv {
  sio_redis *d;
  int ready, downs, closed;
} cdrv;

static void cd_state(void *ud, int ready) {
  cdrv *v = ud;
  v->ready = ready;
  if (!ready)
    v->downs++;
}

/* A driver on url with a 300 ms command timeout (a BLOCK of 500 ms or
 * more outlasts it); max_pending as given (0: default). */
static void cdrv_open(cdrv *v, uv_loop_t *loop, const char *url,
                      uint32_t max_pending) {
  static const sio_pubsub_handler h = {NULL, cd_state};
  sio_redis_options o;
  memset(v, 0, sizeof(*v));
  memset(&o, 0, sizeof(o));
  o.connect_timeout_ms = 1000;
  o.command_timeout_ms = 300;
  o.reconnect_min_ms = 20;
  o.reconnect_max_ms = 200;
  o.ping_interval_ms = 60000; /* no PING in the way of the counts */
  o.max_pending = max_pending;
  ck_assert_int_eq(sio_redis_new(&v->d, loop, url, &o), 0);
  sio_redis_pubsub_ops.set_handler(v->d, &h, v);
}

static int disconnected_drv(void *arg) { return ((cdrv *)arg)->ready == 0; }

static void cdrv_close(cdrv *v, uv_loop_t *loop) {
  sio_redis_pubsub_ops.close(v->d, ss_closed, &v->closed);
  ck_assert(run_until(loop, ss_flag, &v->closed, 5000));
}

/* The number after "blocked_clients:" in INFO clients, asked on the
 * publisher's lane (-1: no answer). */
static int blocked_clients(uv_loop_t *loop, sio_redis *d) {
  creply c;
  const char *p;
  if (cmd(d, SIO_PUBSUB_LANE_PUB, 0, &c, ARGV("INFO", "clients")) ||
      !run_until(loop, fired, &c, 2000) || c.status)
    return -1;
  /* str holds the first 1023 bytes, which include the field */
  p = strstr(c.str, "blocked_clients:");
  return p ? atoi(p + 16) : -1;
}

typedef struct blocked_wait {
  uv_loop_t *loop;
  sio_redis *d;
  int want;
} blocked_wait;

static int blocked_is(void *arg) {
  blocked_wait *b = arg;
  return blocked_clients(b->loop, b->d) == b->want;
}

static int wait_blocked(uv_loop_t *loop, sio_redis *d, int want) {
  blocked_wait b = {loop, d, want};
  return run_until(loop, blocked_is, &b, 3000);
}

/* Bad calls and a driver not ready first; then SET/GET (binary, through
 * lens), an error reply (status 0), ordered with publish. */
START_TEST(test_command_pub_lane) {
  redis_proc rp;
  uv_loop_t loop;
  cdrv v;
  creply a, b, c, e;
  const char *argv[3] = {"SET", "bin", "a\0b"};
  size_t lens[3] = {3, 3, 3};
  const sio_pubsub_ops *ops = &sio_redis_pubsub_ops;
  SKIP_WITHOUT_REDIS();
  redis_init(&rp);
  redis_start(&rp, 0, NULL);
  snprintf(rp.url, sizeof(rp.url), "redis://127.0.0.1:%d", rp.port);
  ck_assert_int_eq(uv_loop_init(&loop), 0);
  cdrv_open(&v, &loop, rp.url, 0);
  ck_assert_ptr_nonnull(ops->command);
  /* not ready yet (connecting): refused on either lane, no callback */
  ck_assert_int_eq(cmd(v.d, SIO_PUBSUB_LANE_PUB, 0, &a, ARGV("PING")),
                   SIO_ERR_CLOSED);
  ck_assert_int_eq(cmd(v.d, SIO_PUBSUB_LANE_BLOCKING, 100, &b,
                       ARGV("XREAD", "BLOCK", "100", "STREAMS", "s", "$")),
                   SIO_ERR_CLOSED);
  ck_assert(run_until(&loop, ss_flag, &v.ready, 3000));
  ck_assert_int_eq(a.fired + b.fired, 0);
  /* bad calls */
  ck_assert_int_eq(ops->command(v.d, SIO_PUBSUB_LANE_PUB, 0, argv, lens, 0, 0,
                                on_reply, &c),
                   SIO_ERR_INVAL);
  ck_assert_int_eq(ops->command(v.d, SIO_PUBSUB_LANE_PUB, 3, argv, lens, 3, 0,
                                on_reply, &c),
                   SIO_ERR_INVAL);
  ck_assert_int_eq(ops->command(v.d, 7, 3, argv, lens, 1, 0, on_reply, &c),
                   SIO_ERR_INVAL);
  /* an error reply is a reply */
  ck_assert_int_eq(cmd(v.d, SIO_PUBSUB_LANE_PUB, 0, &e, ARGV("NOSUCHCMD", "x")),
                   0);
  ck_assert(run_until(&loop, fired, &e, 2000));
  ck_assert_int_eq(e.status, 0);
  ck_assert_int_eq(e.type, REDIS_REPLY_ERROR);
  ck_assert_msg(strncmp(e.str, "ERR", 3) == 0, "%s", e.str);
  /* SET (a NUL inside the value), a publish, GET: in order on one
   * connection, so GET sees the value */
  memset(&a, 0, sizeof(a));
  ck_assert_int_eq(ops->command(v.d, SIO_PUBSUB_LANE_PUB, 3, argv, lens, 1, 0,
                                on_reply, &a),
                   0);
  argv[1] = "gone"; /* arguments were copied */
  ck_assert_int_eq(ops->publish(v.d, "chan", (const uint8_t *)"x", 1), 0);
  ck_assert_int_eq(cmd(v.d, SIO_PUBSUB_LANE_PUB, 0, &b, ARGV("GET", "bin")), 0);
  ck_assert(run_until(&loop, fired, &b, 2000));
  ck_assert_int_eq(a.fired, 1);
  ck_assert_int_eq(a.status, 0);
  ck_assert_int_eq(a.type, REDIS_REPLY_STATUS);
  ck_assert_str_eq(a.str, "OK");
  ck_assert_int_eq(b.status, 0);
  ck_assert_int_eq(b.type, REDIS_REPLY_STRING);
  ck_assert_uint_eq(b.len, 3);
  ck_assert_int_eq(memcmp(b.str, "a\0b", 3), 0);
  /* INCR on that string: an error reply again, the connection fine */
  ck_assert_int_eq(cmd(v.d, SIO_PUBSUB_LANE_PUB, 0, &c, ARGV("INCR", "bin")), 0);
  ck_assert(run_until(&loop, fired, &c, 2000));
  ck_assert_int_eq(c.status, 0);
  ck_assert_int_eq(c.type, REDIS_REPLY_ERROR);
  ck_assert_int_eq(v.ready, 1);
  ck_assert_int_eq(v.downs, 0);
  cdrv_close(&v, &loop);
  ck_assert_int_eq(a.fired + b.fired + c.fired + e.fired, 4);
  ck_assert_int_eq(uv_loop_close(&loop), 0);
  redis_cleanup(&rp);
}
END_TEST

/* XREAD BLOCK on its own connection (command timeout 300 ms, shorter
 * than the BLOCK): publishes and commands on the publisher go on while
 * it waits in Redis; an XADD ends it with the entry; a BLOCK that runs
 * out is a nil reply, not SIO_ERR_TIMEOUT, also for a second BLOCK
 * pipelined behind a first (its reply can only come after). The driver's
 * ready never depends on the blocking connection. */
START_TEST(test_command_blocking_lane) {
  /* Redis ends a BLOCK on its cron (hz): 10 ms late at most, not 100 */
  static const char *const hz100[] = {"--hz", "100", NULL};
  redis_proc rp;
  uv_loop_t loop;
  cdrv v;
  creply x, p, add, n1, n2;
  double t0;
  SKIP_WITHOUT_REDIS();
  redis_init(&rp);
  redis_start(&rp, 0, hz100);
  snprintf(rp.url, sizeof(rp.url), "redis://127.0.0.1:%d", rp.port);
  ck_assert_int_eq(uv_loop_init(&loop), 0);
  cdrv_open(&v, &loop, rp.url, 0);
  ck_assert(run_until(&loop, ss_flag, &v.ready, 3000));
  ck_assert_int_eq(blocked_clients(&loop, v.d), 0);
  /* the first blocking command opens the connection */
  ck_assert_int_eq(cmd(v.d, SIO_PUBSUB_LANE_BLOCKING, 800, &x,
                       ARGV("XREAD", "BLOCK", "800", "STREAMS", "s", "$")),
                   0);
  ck_assert(wait_blocked(&loop, v.d, 1)); /* waiting in Redis */
  ck_assert_int_eq(x.fired, 0);
  /* the publisher's lane is free meanwhile */
  ck_assert_int_eq(sio_redis_pubsub_ops.publish(v.d, "chan",
                                                (const uint8_t *)"m", 1),
                   0);
  ck_assert_int_eq(
      cmd(v.d, SIO_PUBSUB_LANE_PUB, 0, &p, ARGV("PUBLISH", "chan", "m")), 0);
  ck_assert(run_until(&loop, fired, &p, 1000));
  ck_assert_int_eq(p.status, 0);
  ck_assert_int_eq(p.type, REDIS_REPLY_INTEGER);
  ck_assert_int_eq(x.fired, 0); /* still blocked */
  ck_assert_int_eq(cmd(v.d, SIO_PUBSUB_LANE_PUB, 0, &add,
                       ARGV("XADD", "s", "*", "f", "v")),
                   0);
  ck_assert(run_until(&loop, fired, &x, 1000));
  /* the two replies come on two connections: either may be read first */
  ck_assert(run_until(&loop, fired, &add, 1000));
  ck_assert_int_eq(add.type, REDIS_REPLY_STRING);
  ck_assert_int_eq(x.status, 0);
  ck_assert_int_eq(x.type, REDIS_REPLY_ARRAY);
  ck_assert_uint_eq(x.elements, 1); /* [[s, [[id, [f, v]]]]] */
  /* nothing comes: nil after the BLOCK, twice in a row on one
   * connection (the second one's reply comes 1 s after it was sent) */
  t0 = now_ms();
  ck_assert_int_eq(cmd(v.d, SIO_PUBSUB_LANE_BLOCKING, 500, &n1,
                       ARGV("XREAD", "BLOCK", "500", "STREAMS", "s", "$")),
                   0);
  ck_assert_int_eq(cmd(v.d, SIO_PUBSUB_LANE_BLOCKING, 500, &n2,
                       ARGV("XREAD", "BLOCK", "500", "STREAMS", "s", "$")),
                   0);
  ck_assert(run_until(&loop, fired, &n2, 3000));
  fprintf(stderr, "two XREAD BLOCK 500 in a row: nil after %.0f and %.0f ms\n",
          n1.at - t0, n2.at - t0);
  ck_assert_int_eq(n1.fired, 1);
  ck_assert_int_eq(n1.status, 0);
  ck_assert_int_eq(n1.type, REDIS_REPLY_NIL);
  ck_assert_int_eq(n2.status, 0);
  ck_assert_int_eq(n2.type, REDIS_REPLY_NIL);
  ck_assert(n1.at - t0 >= 450);
  ck_assert(n2.at - t0 >= 950);
  ck_assert_int_eq(v.ready, 1);
  ck_assert_int_eq(v.downs, 0);
  cdrv_close(&v, &loop);
  ck_assert_int_eq(x.fired + p.fired + add.fired + n1.fired + n2.fired, 5);
  ck_assert_int_eq(uv_loop_close(&loop), 0);
  redis_cleanup(&rp);
}
END_TEST

/* A Redis that stops answering: a command times out on either lane
 * (SIO_ERR_TIMEOUT; the BLOCK after its wait plus the command timeout);
 * Redis killed under a blocked XREAD and a pending GET: SIO_ERR_IO for
 * both, then SIO_ERR_CLOSED once the driver knows. */
START_TEST(test_command_timeout_and_loss) {
  redis_proc rp;
  uv_loop_t loop;
  cdrv v;
  creply g, x, late;
  double t0;
  SKIP_WITHOUT_REDIS();
  redis_init(&rp);
  redis_start(&rp, 0, NULL);
  snprintf(rp.url, sizeof(rp.url), "redis://127.0.0.1:%d", rp.port);
  ck_assert_int_eq(uv_loop_init(&loop), 0);
  cdrv_open(&v, &loop, rp.url, 0);
  ck_assert(run_until(&loop, ss_flag, &v.ready, 3000));
  /* open the blocking connection first */
  ck_assert_int_eq(cmd(v.d, SIO_PUBSUB_LANE_BLOCKING, 0, &x, ARGV("PING")), 0);
  ck_assert(run_until(&loop, fired, &x, 2000));
  ck_assert_str_eq(x.str, "PONG");
  kill(rp.pid, SIGSTOP);
  t0 = now_ms();
  ck_assert_int_eq(cmd(v.d, SIO_PUBSUB_LANE_PUB, 0, &g, ARGV("GET", "k")), 0);
  ck_assert_int_eq(cmd(v.d, SIO_PUBSUB_LANE_BLOCKING, 200, &x,
                       ARGV("XREAD", "BLOCK", "200", "STREAMS", "s", "$")),
                   0);
  ck_assert(run_until(&loop, fired, &x, 3000));
  ck_assert(run_until(&loop, fired, &g, 3000));
  fprintf(stderr, "stopped Redis: GET timed out after %.0f ms, XREAD BLOCK "
                  "200 after %.0f ms\n",
          g.at - t0, x.at - t0);
  ck_assert_int_eq(g.status, SIO_ERR_TIMEOUT);
  ck_assert_int_eq(x.status, SIO_ERR_TIMEOUT);
  ck_assert(g.at - t0 >= 250 && g.at - t0 < 1000);
  ck_assert(x.at - t0 >= 450 && x.at - t0 < 1200);
  kill(rp.pid, SIGCONT);
  ck_assert(run_until(&loop, ss_flag, &v.ready, 5000));
  /* killed mid-command */
  ck_assert_int_eq(cmd(v.d, SIO_PUBSUB_LANE_BLOCKING, 5000, &x,
                       ARGV("XREAD", "BLOCK", "5000", "STREAMS", "s", "$")),
                   0);
  ck_assert(wait_blocked(&loop, v.d, 1));
  kill(rp.pid, SIGSTOP);
  ck_assert_int_eq(cmd(v.d, SIO_PUBSUB_LANE_PUB, 0, &g, ARGV("GET", "k")), 0);
  redis_kill(&rp, SIGKILL);
  ck_assert(run_until(&loop, fired, &x, 2000));
  ck_assert(run_until(&loop, fired, &g, 2000));
  ck_assert_int_eq(x.status, SIO_ERR_IO);
  ck_assert_int_eq(g.status, SIO_ERR_IO);
  ck_assert(run_until(&loop, disconnected_drv, &v, 2000));
  ck_assert_int_eq(cmd(v.d, SIO_PUBSUB_LANE_BLOCKING, 0, &late, ARGV("PING")),
                   SIO_ERR_CLOSED);
  cdrv_close(&v, &loop);
  ck_assert_int_eq(x.fired + g.fired + late.fired, 2);
  ck_assert_int_eq(uv_loop_close(&loop), 0);
  redis_cleanup(&rp);
}
END_TEST

/* The blocking connection cannot be opened (maxclients: the subscriber
 * and the publisher take both): what waited for it fails with
 * SIO_ERR_IO, the driver stays ready; room made, the next command opens
 * it (after the backoff). */
START_TEST(test_command_blocking_connect_fails) {
  static const char *const two[] = {"--maxclients", "2", NULL};
  redis_proc rp;
  uv_loop_t loop;
  cdrv v;
  creply a, b, c;
  SKIP_WITHOUT_REDIS();
  redis_init(&rp);
  redis_start(&rp, 0, two);
  snprintf(rp.url, sizeof(rp.url), "redis://127.0.0.1:%d", rp.port);
  ck_assert_int_eq(uv_loop_init(&loop), 0);
  cdrv_open(&v, &loop, rp.url, 0);
  ck_assert(run_until(&loop, ss_flag, &v.ready, 3000));
  ck_assert_int_eq(cmd(v.d, SIO_PUBSUB_LANE_BLOCKING, 0, &a, ARGV("PING")), 0);
  ck_assert_int_eq(cmd(v.d, SIO_PUBSUB_LANE_BLOCKING, 0, &b, ARGV("PING")), 0);
  ck_assert(run_until(&loop, fired, &b, 3000));
  ck_assert_int_eq(a.fired, 1);
  ck_assert_int_eq(a.status, SIO_ERR_IO);
  ck_assert_int_eq(b.status, SIO_ERR_IO);
  ck_assert_int_eq(v.ready, 1);
  ck_assert_int_eq(v.downs, 0);
  ck_assert_int_eq(cmd(v.d, SIO_PUBSUB_LANE_PUB, 0, &c,
                       ARGV("CONFIG", "SET", "maxclients", "10")),
                   0);
  ck_assert(run_until(&loop, fired, &c, 2000));
  ck_assert_str_eq(c.str, "OK");
  ck_assert_int_eq(cmd(v.d, SIO_PUBSUB_LANE_BLOCKING, 0, &a, ARGV("PING")), 0);
  ck_assert(run_until(&loop, fired, &a, 3000));
  ck_assert_int_eq(a.status, 0);
  ck_assert_str_eq(a.str, "PONG");
  cdrv_close(&v, &loop);
  ck_assert_int_eq(uv_loop_close(&loop), 0);
  redis_cleanup(&rp);
}
END_TEST

/* close() with commands in every place: waiting for the blocking
 * connection, blocked in Redis, pending on the publisher: each reports
 * SIO_ERR_CANCELED once, nothing after. */
START_TEST(test_command_close_cancels) {
  redis_proc rp;
  uv_loop_t loop;
  cdrv v, w;
  creply x, q, g;
  SKIP_WITHOUT_REDIS();
  redis_init(&rp);
  redis_start(&rp, 0, NULL);
  snprintf(rp.url, sizeof(rp.url), "redis://127.0.0.1:%d", rp.port);
  ck_assert_int_eq(uv_loop_init(&loop), 0);
  cdrv_open(&v, &loop, rp.url, 0);
  cdrv_open(&w, &loop, rp.url, 0);
  ck_assert(run_until(&loop, ss_flag, &v.ready, 3000));
  ck_assert(run_until(&loop, ss_flag, &w.ready, 3000));
  /* v: blocked in Redis and a GET behind a stopped Redis */
  ck_assert_int_eq(cmd(v.d, SIO_PUBSUB_LANE_BLOCKING, 5000, &x,
                       ARGV("XREAD", "BLOCK", "5000", "STREAMS", "s", "$")),
                   0);
  ck_assert(wait_blocked(&loop, v.d, 1));
  kill(rp.pid, SIGSTOP);
  ck_assert_int_eq(cmd(v.d, SIO_PUBSUB_LANE_PUB, 0, &g, ARGV("GET", "k")), 0);
  /* w: waiting for its blocking connection (Redis cannot answer) */
  ck_assert_int_eq(cmd(w.d, SIO_PUBSUB_LANE_BLOCKING, 0, &q, ARGV("PING")), 0);
  run_until(&loop, ss_flag, (int[]){0}, 50);
  ck_assert_int_eq(x.fired + g.fired + q.fired, 0);
  sio_redis_pubsub_ops.close(v.d, ss_closed, &v.closed);
  sio_redis_pubsub_ops.close(w.d, ss_closed, &w.closed);
  ck_assert_int_eq(x.fired, 1); /* fired within close */
  ck_assert_int_eq(g.fired, 1);
  ck_assert_int_eq(q.fired, 1);
  ck_assert_int_eq(x.status, SIO_ERR_CANCELED);
  ck_assert_int_eq(g.status, SIO_ERR_CANCELED);
  ck_assert_int_eq(q.status, SIO_ERR_CANCELED);
  ck_assert(run_until(&loop, ss_flag, &v.closed, 5000));
  ck_assert(run_until(&loop, ss_flag, &w.closed, 5000));
  kill(rp.pid, SIGCONT);
  uv_run(&loop, UV_RUN_DEFAULT);
  ck_assert_int_eq(x.fired + g.fired + q.fired, 3);
  ck_assert_int_eq(uv_loop_close(&loop), 0);
  redis_cleanup(&rp);
}
END_TEST

/* max_pending 2: a third command waiting on a lane is refused
 * (SIO_ERR_LIMIT, no callback); the two run. */
START_TEST(test_command_limit) {
  redis_proc rp;
  uv_loop_t loop;
  cdrv v;
  creply c[3];
  int i;
  SKIP_WITHOUT_REDIS();
  redis_init(&rp);
  redis_start(&rp, 0, NULL);
  snprintf(rp.url, sizeof(rp.url), "redis://127.0.0.1:%d", rp.port);
  ck_assert_int_eq(uv_loop_init(&loop), 0);
  cdrv_open(&v, &loop, rp.url, 2);
  ck_assert(run_until(&loop, ss_flag, &v.ready, 3000));
  for (i = 0; i < 2; i++) /* the blocking connection is being opened */
    ck_assert_int_eq(cmd(v.d, SIO_PUBSUB_LANE_BLOCKING, 0, &c[i],
                         ARGV("ECHO", "b")),
                     0);
  ck_assert_int_eq(
      cmd(v.d, SIO_PUBSUB_LANE_BLOCKING, 0, &c[2], ARGV("ECHO", "b")),
      SIO_ERR_LIMIT);
  ck_assert(run_until(&loop, fired, &c[1], 2000));
  ck_assert_int_eq(c[0].status, 0);
  ck_assert_int_eq(c[1].status, 0);
  ck_assert_str_eq(c[1].str, "b");
  for (i = 0; i < 2; i++) /* the publisher: both written, unanswered */
    ck_assert_int_eq(
        cmd(v.d, SIO_PUBSUB_LANE_PUB, 0, &c[i], ARGV("ECHO", "p")), 0);
  ck_assert_int_eq(cmd(v.d, SIO_PUBSUB_LANE_PUB, 0, &c[2], ARGV("ECHO", "p")),
                   SIO_ERR_LIMIT);
  ck_assert_int_eq(
      sio_redis_pubsub_ops.publish(v.d, "c", (const uint8_t *)"x", 1),
      SIO_ERR_LIMIT);
  ck_assert(run_until(&loop, fired, &c[1], 2000));
  ck_assert_str_eq(c[0].str, "p");
  ck_assert_str_eq(c[1].str, "p");
  run_until(&loop, ss_flag, (int[]){0}, 50);
  ck_assert_int_eq(c[2].fired, 0);
  cdrv_close(&v, &loop);
  ck_assert_int_eq(uv_loop_close(&loop), 0);
  redis_cleanup(&rp);
}
END_TEST

Suite *sio_redis_suite(void) {
  Suite *s = suite_create("sio_redis");
  TCase *tc = tcase_create("redis-server");
  tcase_add_test(tc, test_two_instances_and_restart);
  tcase_add_test(tc, test_stalled_redis);
  tcase_add_test(tc, test_ping_latency);
  tcase_add_test(tc, test_auth_db_unix);
  tcase_add_test(tc, test_unreachable);
  tcase_add_test(tc, test_refused_seen_at_once);
  tcase_add_test(tc, test_kill_restart_reconnects_fast);
  tcase_add_test(tc, test_connect_timeout_blackhole);
  tcase_add_test(tc, test_sentinel_failover);
  tcase_add_test(tc, test_sentinel_failover_tls);
  tcase_add_test(tc, test_command_pub_lane);
  tcase_add_test(tc, test_command_blocking_lane);
  tcase_add_test(tc, test_command_timeout_and_loss);
  tcase_add_test(tc, test_command_blocking_connect_fails);
  tcase_add_test(tc, test_command_close_cancels);
  tcase_add_test(tc, test_command_limit);
  tcase_set_timeout(tc, 60);
  suite_add_tcase(s, tc);
  return s;
}
