/* app_signals.c: the daemon's lifecycle on the loop.
 *
 * SIGTERM / SIGINT: drain. The listeners close (no new connections),
 * /ready and /health answer 503, new handshakes on open connections get
 * 503, every socket is told with connection.error {"code":"server_shutdown"}
 * and the server closes (each client then sees a disconnect and reconnects
 * elsewhere) when server.drain_timeout_ms has passed or every socket has
 * gone, whichever is first. A second signal closes at once.
 * SIGHUP: reload. The config file and environment are read again; the
 * reloadable keys apply (log level, limits, auth keys, trusted proxies);
 * the others are reported as needing a restart.
 * The 1 s tick: token expiry (a socket whose token's exp + leeway has
 * passed gets connection.error {"code":"token_expired"} and is
 * disconnected), idle rate-limit entries, event-loop lag, and the systemd
 * watchdog and status line (app_sdnotify.h; each step of this lifecycle
 * is told to the service manager too). */
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "app_daemon.h"
#include "app_events.h"
#include "app_log.h"
#include "app_sdnotify.h"
#include "app_util.h"

static void server_closed(sio_server *s, void *ud) {
  struct app_daemon *d = ud;
  (void)s;
  d->srv = NULL;
  uv_close((uv_handle_t *)&d->tick, NULL);
  uv_close((uv_handle_t *)&d->drain_timer, NULL);
  uv_close((uv_handle_t *)&d->sig_term, NULL);
  uv_close((uv_handle_t *)&d->sig_int, NULL);
  uv_close((uv_handle_t *)&d->sig_hup, NULL);
  APP_LOGI("stopped");
}

static void close_now(struct app_daemon *d) {
  if (!d->srv || d->closing_now)
    return;
  d->closing_now = true;
  uv_timer_stop(&d->tick);
  uv_timer_stop(&d->drain_timer);
  sio_server_close(d->srv, server_closed, d);
}

static void drain_timer_cb(uv_timer_t *t) { close_now(t->data); }

/* The line `systemctl status` shows, after an optional state line. */
static void sd_status(struct app_daemon *d, const char *first) {
  char msg[256];
  snprintf(msg, sizeof(msg), "%sSTATUS=%s%zu sockets%s", first ? first : "",
           d->draining ? "draining, " : "", d->nsocks,
           !*d->cfg.redis_url                 ? ""
           : sio_server_redis_connected(d->srv) ? ", Redis connected"
                                                : ", Redis unreachable");
  app_sd_notify(msg);
}

void app_daemon_drain(struct app_daemon *d) {
  struct app_sock *as;
  json_object *data;
  if (d->draining)
    return;
  d->draining = true;
  APP_LOGI("draining: %zu sockets, closing within %lld ms", d->nsocks,
           (long long)d->cfg.server_drain_timeout_ms);
  sd_status(d, "STOPPING=1\n");
  sio_server_stop_listening(d->srv);
  /* a client of ours that resumes elsewhere gets its rooms back even if
   * this process is killed before its socket closes (streams adapter) */
  sio_server_persist_sessions(d->srv);
  for (as = d->socks; as; as = as->next) {
    data = app_event_error_data("server_shutdown",
                                "server is shutting down; reconnect");
    if (data)
      app_emit_envelope(as->s, APP_EVENT_CONNECTION_ERROR, data);
  }
  uv_timer_start(&d->drain_timer, drain_timer_cb,
                 (uint64_t)d->cfg.server_drain_timeout_ms, 0);
  app_daemon_drain_check(d);
}

void app_daemon_drain_check(struct app_daemon *d) {
  /* on the next loop iteration: the caller may be inside libsio */
  if (d->draining && d->nsocks == 0 && !d->closing_now)
    uv_timer_start(&d->drain_timer, drain_timer_cb, 0, 0);
}

static void on_signal(uv_signal_t *h, int signum) {
  struct app_daemon *d = h->data;
  if (signum == SIGHUP) {
    char msg[64];
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    snprintf(msg, sizeof(msg), "RELOADING=1\nMONOTONIC_USEC=%llu",
             (unsigned long long)ts.tv_sec * 1000000ull +
                 (unsigned long long)ts.tv_nsec / 1000);
    app_sd_notify(msg);
    app_daemon_reload(d);
    sd_status(d, "READY=1\n");
    return;
  }
  if (d->draining) {
    APP_LOGI("second signal: closing now");
    close_now(d);
    /* without waiting for slow peers' closes (close_timeout_ms) */
    if (d->srv)
      sio_server_abort_closes(d->srv);
    return;
  }
  app_daemon_drain(d);
}

static bool section_changed(const struct app_config_changes *c,
                            const char *section) {
  size_t i;
  for (i = 0; i < c->n; i++)
    if (strcmp(app_config_keys[c->keys[i]].section, section) == 0)
      return true;
  return false;
}

int app_daemon_reload(struct app_daemon *d) {
  struct app_msgs msgs;
  struct app_config_changes changes;
  struct app_auth *auth = NULL;
  size_t i;
  int rv, lvl;
  app_msgs_init(&msgs);
  memset(&changes, 0, sizeof(changes));
  rv = app_config_reload(&d->cfg, d->cli->config_path, d->envp, d->cli,
                         &msgs, &changes);
  for (i = 0; i < msgs.n; i++)
    app_log(msgs.v[i].level == APP_MSG_ERROR ? SIO_LOG_ERROR : SIO_LOG_WARN,
            "reload: %s", msgs.v[i].text);
  if (rv != 0) {
    APP_LOGE("reload failed; the running configuration is kept");
    app_msgs_deinit(&msgs);
    app_config_changes_deinit(&changes);
    return -1;
  }
  lvl = app_log_level_parse(d->cfg.log_level);
  if (lvl >= 0)
    app_log_init(lvl, app_log_format_parse(d->cfg.log_format) == 1);
  d->event_rate.per_minute = (uint32_t)d->cfg.limits_events_per_minute;
  d->event_rate.burst = (uint32_t)d->cfg.limits_events_burst;
  d->handshake_rate = app_rate_per_second(
      (uint32_t)d->cfg.limits_handshakes_per_ip_per_s,
      (uint32_t)d->cfg.limits_handshakes_burst);
  if (section_changed(&changes, "auth")) {
    app_msgs_deinit(&msgs);
    app_msgs_init(&msgs);
    if (app_auth_new_from_config(&auth, &d->cfg, &msgs) == 0 &&
        (app_auth_has_key(auth) || !app_auth_has_key(d->auth))) {
      app_auth_del(d->auth);
      d->auth = auth;
      APP_LOGI("reload: authentication keys replaced");
    } else {
      app_auth_del(auth);
      for (i = 0; i < msgs.n; i++)
        APP_LOGE("reload: %s", msgs.v[i].text);
      APP_LOGE("reload: auth settings not applied; the old keys stay");
    }
  }
  APP_LOGI("configuration reloaded");
  app_msgs_deinit(&msgs);
  app_config_changes_deinit(&changes);
  return 0;
}

static void tick_cb(uv_timer_t *t) {
  struct app_daemon *d = t->data;
  uint64_t now = uv_now(d->loop), ms = app_now_ms();
  int64_t now_s = (int64_t)(ms / 1000);
  struct app_sock *as, *next;
  static unsigned ticks;
  /* lag: how late this tick ran behind its schedule */
  d->loop_lag_s = now > d->tick_expected
                      ? (double)(now - d->tick_expected) / 1000.0
                      : 0.0;
  d->tick_expected = now + 1000;
  for (as = d->socks; as; as = next) {
    next = as->next;
    if (as->claims.has_exp &&
        now_s >= as->claims.exp + d->cfg.auth_leeway_s &&
        !app_auth_is_none(d->auth)) {
      APP_LOGI("socket %s (user %s): token expired", sio_socket_id(as->s),
               as->claims.sub);
      app_sock_close_with_error(as, "token_expired",
                                "the token expired; reconnect with a new one");
    }
  }
  if (ticks % 10 == 0)
    app_cluster_refresh(d);
  if (++ticks % 10 == 0) {
    app_keytab_expire(d->users, ms);
    app_keytab_expire(d->ips, ms);
  }
  if (app_sd_watchdog_usec())
    app_sd_notify("WATCHDOG=1");
  if (ticks % 10 == 5)
    sd_status(d, NULL);
  if (d->draining && d->nsocks == 0)
    close_now(d);
}

void app_daemon_ready(struct app_daemon *d) {
  uint64_t wd = app_sd_watchdog_usec();
  if (wd && wd < 2000000)
    APP_LOGW("WatchdogSec= below 2 s: the watchdog is kept from a 1 s tick");
  sd_status(d, "READY=1\n");
}

int app_signals_install(struct app_daemon *d) {
  uv_timer_init(d->loop, &d->tick);
  uv_timer_init(d->loop, &d->drain_timer);
  d->tick.data = d;
  d->drain_timer.data = d;
  d->tick_expected = uv_now(d->loop) + 1000;
  uv_timer_start(&d->tick, tick_cb, 1000, 1000);
  uv_signal_init(d->loop, &d->sig_term);
  uv_signal_init(d->loop, &d->sig_int);
  uv_signal_init(d->loop, &d->sig_hup);
  d->sig_term.data = d->sig_int.data = d->sig_hup.data = d;
  if (uv_signal_start(&d->sig_term, on_signal, SIGTERM) ||
      uv_signal_start(&d->sig_int, on_signal, SIGINT) ||
      uv_signal_start(&d->sig_hup, on_signal, SIGHUP))
    return -1;
  return 0;
}
