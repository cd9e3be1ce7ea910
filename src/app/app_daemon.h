#ifndef APP_DAEMON_H
#define APP_DAEMON_H

/* The sio-server daemon's running state, shared by the Socket.IO handlers
 * (app_commands.c), the HTTP endpoints (app_http_api.c), the loops
 * (app_loops.c) and the process lifecycle (app_signals.c, main.c). It
 * reaches libsio only through <sio/sio.h>.
 *
 * server.threads = N runs N event loops: loop 0 on the main thread (it
 * also has the signals, the service manager and the drain timer), loops
 * 1..N-1 on threads of their own. What one loop owns is in struct
 * app_loop and is touched by that loop's thread only; struct app_daemon
 * holds what is process-wide: the configuration as read (loop 0's), the
 * per-user and per-IP tables (under tab_lock), the drain state and the
 * exit code. Work crosses loops only as functions posted to the owner
 * (app_loops_post). */

#include <sio/sio.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>

#include "app_auth.h"
#include "app_config.h"
#include "app_metrics.h"
#include "app_ratelimit.h"

struct app_sock;
struct app_daemon;

/* Authentication keys shared by the loops: replaced by a reload on loop
 * 0, freed when the last loop has let go of the old ones. */
struct app_keys {
  atomic_uint refs;
  struct app_auth *auth;
};

struct app_loop {
  struct app_daemon *d;
  unsigned index;          /* 0..nloops-1: the sid's first digit */
  uv_loop_t *loop;         /* uv_default_loop() for loop 0, else &own */
  uv_loop_t own;
  uv_thread_t thread;      /* loops 1..N-1 */
  uv_sem_t started;        /* posted when start_rv is known */
  int start_rv;
  sio_server *srv;
  sio_namespace *ns;       /* "/" */
  struct app_config *cfg;  /* loop 0: &d->cfg; others: cfg_copy */
  struct app_config cfg_copy;
  struct app_keys *keys;   /* a reference */
  struct app_metrics *metrics; /* this loop's own counters */
  struct app_rate event_rate;
  struct app_rate handshake_rate;
  struct app_sock *socks;  /* every connected socket (token expiry sweep) */
  size_t nsocks;
  uv_timer_t tick;         /* 1 s housekeeping */
  uint64_t tick_expected;  /* uv_now the tick was due, for loop lag */
  double loop_lag_s;
  unsigned ticks;
  uv_timer_t close_timer;  /* drained: closes on the next iteration */
  size_t cluster_sockets;  /* sockets on every instance (last count) */
  bool counting;           /* a cluster count is under way */
  bool draining;
  bool closing_now;        /* sio_server_close called */
};

struct app_daemon {
  struct app_config cfg;   /* as read; loop 0's thread only */
  struct app_cli *cli;     /* borrowed from main */
  char *const *envp;       /* borrowed from main */
  struct app_keys *keys;   /* the current keys (loop 0's reference) */
  struct app_loop *loops;
  unsigned nloops;
  sio_group *group;        /* NULL with one loop */
  char *listen;            /* server.listen with loop 0's bound ports */
  uv_mutex_t tab_lock;     /* users and ips, touched by every loop */
  struct app_keytab *users; /* user id -> open sockets */
  struct app_keytab *ips;   /* client IP -> handshake bucket */
  atomic_size_t nsocks;    /* sockets of every loop */
  atomic_bool drained;     /* draining and the last socket is gone: every
                              loop was told to close */
  char server_id[128];
  uint64_t start_ms;
  bool draining;
  bool dev_mode;           /* auth none, or a generated development secret */
  bool dashboard;          /* serve examples/dashboard at / */
  char *client_js;         /* socket.io.min.js served at <path>socket.io.js */
  char *dev_token;         /* development mode: the printed sample token */
  size_t client_js_len;
  uv_timer_t drain_timer;
  uv_signal_t sig_term, sig_int, sig_hup;
  uv_async_t loop_closed;  /* a loop's server has closed */
  unsigned open_loops;     /* under tab_lock */
  int exit_code;
};

/* Per-socket state, owned by its loop (sio_socket_set_data). */
struct app_sock {
  struct app_loop *l;
  sio_socket *s;
  struct app_claims claims;
  struct app_bucket bucket;
  uint32_t rejected; /* events refused in a row by the rate limit */
  char user_room[160];
  char *since;      /* the last event id presented, until connected */
  bool since_given; /* one was presented (since NULL: not a valid id) */
  struct app_sock *prev, *next;
};

/* app_commands.c: the "/" namespace's handlers. */
void app_commands_install(struct app_loop *l);
/* Sends connection.error {code, message} to s, then disconnects it. */
void app_sock_close_with_error(struct app_sock *as, const char *code,
                               const char *message);
/* Sends payload (taken; NULL: nothing) as the ack ack_id of s (< 0: no
 * ack asked, payload dropped). */
void app_send_ack(sio_socket *s, int64_t ack_id, json_object *payload);
/* Emits the envelope of a catalog event to one socket. Returns 0 or -1. */
int app_emit_envelope(sio_socket *s, const char *type, json_object *data);

/* app_http_api.c: /health /ready /metrics /config /api/v1/emit and the
 * handshake filter (draining, per-IP rate). */
void app_http_install(struct app_loop *l);
/* Client address, honouring X-Forwarded-For from trusted proxies only. */
const char *app_client_ip(const struct app_config *cfg, const char *remote,
                          const char *xff, char *buf, size_t cap);

/* The dashboard page, embedded at build time from
 * examples/dashboard/index.html. */
extern const char app_dashboard_html[];
extern const unsigned long app_dashboard_html_len;

/* app_cluster.c: with Redis, instances tell each other their socket
 * counts (a server-side event) so /health can report the cluster total. */
int app_cluster_install(struct app_loop *l);
void app_cluster_refresh(struct app_loop *l);

/* app_loops.c: the loops of the process. */
/* Builds loop 0's server on the main thread's loop, listens, then starts
 * loops 1..nloops-1 on their threads and waits until each listens.
 * build(l) makes l's server (l->srv, l->ns, handlers). Returns 0 or -1
 * (logged). */
int app_loops_start(struct app_daemon *d, int (*build)(struct app_loop *l));
/* Runs fn(l's server, ud) on loop i: at once when i is the calling loop
 * (from is that loop), else posted. fn(NULL, ud) means loop i has closed:
 * it must only free ud. Returns 0 or the error of sio_group_post (fn
 * never runs then). */
int app_loops_post(struct app_loop *from, unsigned i, sio_post_fn fn,
                   void *ud);
/* On loop 0, after its loop returned: joins the threads, frees the group
 * and every loop's state. */
void app_loops_join(struct app_daemon *d);
/* A loop's server closed (on that loop). */
void app_loops_closed(struct app_loop *l);
/* The keys, with a reference for the caller; app_keys_unref lets go. */
struct app_keys *app_keys_new(struct app_auth *auth);
struct app_keys *app_keys_ref(struct app_keys *k);
void app_keys_unref(struct app_keys *k);
/* The process-wide tables (any loop). */
int app_users_acquire(struct app_daemon *d, const char *user, uint32_t max);
void app_users_release(struct app_daemon *d, const char *user);
int app_ips_take(struct app_daemon *d, const char *ip,
                 const struct app_rate *rate);

/* What one loop reports for /metrics, /health and an API call. */
struct app_loop_figures {
  bool answered;       /* false: the loop did not answer in time */
  sio_stats st;
  size_t sockets;      /* on "/" */
  size_t cluster_sockets;
  size_t history_events, history_bytes;
  double loop_lag_s;
  struct app_metrics *metrics; /* a copy of the loop's counters */
  int recipients;      /* of a broadcast on the loop (< 0: it failed) */
};
/* Runs work(l, f, ud) on every loop l (f is l's slot), then
 * done(home, r, figs, n, ud) on home's loop with figs[i] for loop i: at
 * once with one loop, else r is deferred and done runs once every loop
 * answered or after 1 s (the loops that did not are marked). figs are
 * borrowed for the call. ud is shared by the loops, read only, and freed
 * with free_ud (NULL: not freed) on any thread once all are done. */
typedef void (*app_loop_work)(struct app_loop *l, struct app_loop_figures *f,
                              void *ud);
typedef void (*app_figures_cb)(struct app_loop *home, sio_http_req *r,
                               const struct app_loop_figures *figs,
                               unsigned n, void *ud);
void app_loops_gather(struct app_loop *home, sio_http_req *r,
                      app_loop_work work, app_figures_cb done, void *ud,
                      void (*free_ud)(void *ud));
/* The work of /metrics and /health: the loop's stats and counters. */
void app_loop_figures_fill(struct app_loop *l, struct app_loop_figures *f,
                           void *ud);

/* app_signals.c: SIGTERM/SIGINT drain, SIGHUP reload, the 1 s tick. */
int app_signals_install(struct app_daemon *d);
/* Loop l's tick and drain timer. */
void app_loop_timers_init(struct app_loop *l);
void app_daemon_drain(struct app_daemon *d);
/* Draining and l's last socket has gone: close l's server without waiting
 * for the drain timeout (on the next loop iteration). */
void app_loop_drain_check(struct app_loop *l);
/* Start-up is complete (listening): tells the service manager. */
void app_daemon_ready(struct app_daemon *d);
/* Applies the reloadable keys of a fresh config on every loop. Returns 0
 * or -1. */
int app_daemon_reload(struct app_daemon *d);

#endif
