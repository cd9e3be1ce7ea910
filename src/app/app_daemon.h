#ifndef APP_DAEMON_H
#define APP_DAEMON_H

/* The sio-server daemon: one struct holding the running state, shared by
 * the Socket.IO handlers (app_commands.c), the HTTP endpoints
 * (app_http_api.c) and the process lifecycle (app_signals.c, main.c). It
 * reaches libsio only through <sio/sio.h>. */

#include <sio/sio.h>
#include <stdbool.h>
#include <stdint.h>

#include "app_auth.h"
#include "app_config.h"
#include "app_metrics.h"
#include "app_ratelimit.h"

struct app_sock;

struct app_daemon {
  uv_loop_t *loop;
  sio_server *srv;
  sio_namespace *ns; /* "/" */
  struct app_config cfg;
  struct app_cli *cli;   /* borrowed from main */
  char *const *envp;     /* borrowed from main */
  struct app_auth *auth;
  struct app_metrics *metrics;
  struct app_keytab *users; /* user id -> open sockets */
  struct app_keytab *ips;   /* client IP -> handshake bucket */
  struct app_rate event_rate;
  struct app_rate handshake_rate;
  char server_id[128];
  uint64_t start_ms;
  bool draining;
  bool closing_now;        /* sio_server_close called */
  bool dev_mode;           /* auth none, or a generated development secret */
  bool dashboard;          /* serve examples/dashboard at / */
  char *client_js;         /* socket.io.min.js served at <path>socket.io.js */
  char *dev_token;         /* development mode: the printed sample token */
  size_t client_js_len;
  struct app_sock *socks;  /* every connected socket (token expiry sweep) */
  size_t nsocks;
  uv_timer_t tick;         /* 1 s housekeeping */
  uint64_t tick_expected;  /* uv_now the tick was due, for loop lag */
  double loop_lag_s;
  size_t cluster_sockets;  /* sockets on every instance (last count) */
  bool counting;           /* a cluster count is under way */
  uv_timer_t drain_timer;
  uv_signal_t sig_term, sig_int, sig_hup;
  int exit_code;
};

/* Per-socket state, owned by the daemon (sio_socket_set_data). */
struct app_sock {
  struct app_daemon *d;
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
void app_commands_install(struct app_daemon *d);
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
void app_http_install(struct app_daemon *d);
/* Client address, honouring X-Forwarded-For from trusted proxies only. */
const char *app_client_ip(const struct app_daemon *d, const char *remote,
                          const char *xff, char *buf, size_t cap);

/* The dashboard page, embedded at build time from
 * examples/dashboard/index.html. */
extern const char app_dashboard_html[];
extern const unsigned long app_dashboard_html_len;

/* app_cluster.c: with Redis, instances tell each other their socket
 * counts (a server-side event) so /health can report the cluster total. */
int app_cluster_install(struct app_daemon *d);
void app_cluster_refresh(struct app_daemon *d);

/* app_signals.c: SIGTERM/SIGINT drain, SIGHUP reload, the 1 s tick. */
int app_signals_install(struct app_daemon *d);
void app_daemon_drain(struct app_daemon *d);
/* Draining and the last socket has gone: close without waiting for the
 * drain timeout (on the next loop iteration). */
void app_daemon_drain_check(struct app_daemon *d);
/* Start-up is complete (listening): tells the service manager. */
void app_daemon_ready(struct app_daemon *d);
/* Applies the reloadable keys of a fresh config. Returns 0 or -1. */
int app_daemon_reload(struct app_daemon *d);

#endif
