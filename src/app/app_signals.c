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
 * is told to the service manager too).
 * With several loops the signals arrive on loop 0, which posts each step
 * to every loop (each stops listening, tells its sockets and closes once
 * they have gone); a reload hands every loop a copy of the new values and
 * the keys. Every loop has its tick; loop 0's also does the process-wide
 * chores. */
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "app_daemon.h"
#include "app_events.h"
#include "app_log.h"
#include "app_sdnotify.h"
#include "app_util.h"

static void server_closed(sio_server *s, void *ud) {
  struct app_loop *l = ud;
  (void)s;
  l->srv = NULL;
  app_loops_closed(l);
}

static void close_now(struct app_loop *l) {
  if (!l->srv || l->closing_now)
    return;
  l->closing_now = true;
  uv_timer_stop(&l->tick);
  uv_timer_stop(&l->close_timer);
  sio_server_close(l->srv, server_closed, l);
}

static void close_timer_cb(uv_timer_t *t) { close_now(t->data); }

/* The line `systemctl status` shows, after an optional state line. */
static void sd_status(struct app_daemon *d, const char *first) {
  char msg[256];
  struct app_loop *l0 = &d->loops[0];
  snprintf(msg, sizeof(msg), "%sSTATUS=%s%zu sockets%s", first ? first : "",
           d->draining ? "draining, " : "",
           atomic_load_explicit(&d->nsocks, memory_order_relaxed),
           !*d->cfg.redis_url ? ""
           : l0->srv && sio_server_redis_connected(l0->srv)
               ? ", Redis connected"
               : ", Redis unreachable");
  app_sd_notify(msg);
}

/* On each loop: what a drain does there. */
static void loop_drain(sio_server *s, void *ud) {
  struct app_loop *l = ud;
  struct app_sock *as;
  json_object *data;
  if (!s || l->draining)
    return;
  l->draining = true;
  sio_server_stop_listening(s);
  /* a client of ours that resumes elsewhere gets its rooms back even if
   * this process is killed before its socket closes (streams adapter) */
  sio_server_persist_sessions(s);
  for (as = l->socks; as; as = as->next) {
    data = app_event_error_data("server_shutdown",
                                "server is shutting down; reconnect");
    if (data)
      app_emit_envelope(as->s, APP_EVENT_CONNECTION_ERROR, data);
  }
  app_loop_drain_check(l);
}

static void loop_close(sio_server *s, void *ud) {
  if (s)
    close_now(ud);
}

static void loop_abort(sio_server *s, void *ud) {
  struct app_loop *l = ud;
  if (!s)
    return;
  close_now(l);
  /* without waiting for slow peers' closes (close_timeout_ms) */
  if (l->srv)
    sio_server_abort_closes(l->srv);
}

/* From loop 0 to every loop (a loop already closed is skipped). */
static void each_loop(struct app_daemon *d, sio_post_fn fn) {
  unsigned i;
  for (i = 0; i < d->nloops; i++)
    app_loops_post(&d->loops[0], i, fn, &d->loops[i]);
}

static void drain_timer_cb(uv_timer_t *t) { each_loop(t->data, loop_close); }

void app_daemon_drain(struct app_daemon *d) {
  if (d->draining)
    return;
  d->draining = true;
  APP_LOGI("draining: %zu sockets, closing within %lld ms",
           atomic_load_explicit(&d->nsocks, memory_order_relaxed),
           (long long)d->cfg.server_drain_timeout_ms);
  sd_status(d, "STOPPING=1\n");
  uv_timer_start(&d->drain_timer, drain_timer_cb,
                 (uint64_t)d->cfg.server_drain_timeout_ms, 0);
  each_loop(d, loop_drain);
}

void app_loop_drain_check(struct app_loop *l) {
  struct app_daemon *d = l->d;
  unsigned i;
  /* The process closes when its last socket is gone, every loop at once: a
   * loop without sockets of its own still answers /ready and /health (503)
   * on the connections it holds until then. */
  if (!l->draining || l->closing_now ||
      atomic_load_explicit(&d->nsocks, memory_order_relaxed) != 0 ||
      atomic_exchange_explicit(&d->drained, true, memory_order_relaxed))
    return;
  for (i = 0; i < d->nloops; i++) {
    if (i == l->index) /* next iteration: the caller may be inside libsio */
      uv_timer_start(&l->close_timer, close_timer_cb, 0, 0);
    else
      app_loops_post(l, i, loop_close, &d->loops[i]);
  }
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
    each_loop(d, loop_abort);
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

/* What a reload changes on a loop: its copy of the reloadable values and
 * the keys. */
struct reload_msg {
  struct app_loop *l;
  struct app_config cfg; /* loops 1..N-1: the new values */
  struct app_keys *keys; /* a reference */
};

static void loop_apply(struct app_loop *l) {
  l->event_rate.per_minute = (uint32_t)l->cfg->limits_events_per_minute;
  l->event_rate.burst = (uint32_t)l->cfg->limits_events_burst;
  l->handshake_rate = app_rate_per_second(
      (uint32_t)l->cfg->limits_handshakes_per_ip_per_s,
      (uint32_t)l->cfg->limits_handshakes_burst);
}

static void loop_reload(sio_server *s, void *ud) {
  struct reload_msg *m = ud;
  struct app_loop *l = m->l;
  if (s) {
    app_config_deinit(&l->cfg_copy);
    l->cfg_copy = m->cfg; /* taken */
    memset(&m->cfg, 0, sizeof(m->cfg));
    app_keys_unref(l->keys);
    l->keys = m->keys;
    m->keys = NULL;
    loop_apply(l);
  }
  app_config_deinit(&m->cfg);
  app_keys_unref(m->keys);
  free(m);
}

/* Loops 1..N-1 get a copy of the new values and the keys. */
static void reload_loops(struct app_daemon *d) {
  unsigned i;
  for (i = 1; i < d->nloops; i++) {
    struct reload_msg *m = calloc(1, sizeof(*m));
    if (!m || app_config_copy(&m->cfg, &d->cfg)) {
      free(m);
      APP_LOGE("reload: loop %u keeps its configuration (out of memory)", i);
      continue;
    }
    m->l = &d->loops[i];
    m->keys = app_keys_ref(d->keys);
    if (app_loops_post(&d->loops[0], i, loop_reload, m))
      loop_reload(NULL, m); /* closed: nothing to apply */
  }
}

int app_daemon_reload(struct app_daemon *d) {
  struct app_msgs msgs;
  struct app_config_changes changes;
  struct app_auth *auth = NULL;
  struct app_loop *l0 = &d->loops[0];
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
  if (lvl >= 0 && section_changed(&changes, "log"))
    app_log_configure(lvl, app_log_format_parse(d->cfg.log_format) == 1);
  loop_apply(l0);
  if (section_changed(&changes, "auth")) {
    struct app_keys *keys;
    app_msgs_deinit(&msgs);
    app_msgs_init(&msgs);
    if (app_auth_new_from_config(&auth, &d->cfg, &msgs) == 0 &&
        (app_auth_has_key(auth) || !app_auth_has_key(d->keys->auth)) &&
        (keys = app_keys_new(auth)) != NULL) {
      app_keys_unref(d->keys);
      d->keys = keys;
      app_keys_unref(l0->keys);
      l0->keys = app_keys_ref(keys);
      APP_LOGI("reload: authentication keys replaced");
    } else {
      app_auth_del(auth);
      for (i = 0; i < msgs.n; i++)
        APP_LOGE("reload: %s", msgs.v[i].text);
      APP_LOGE("reload: auth settings not applied; the old keys stay");
    }
  }
  reload_loops(d);
  APP_LOGI("configuration reloaded");
  app_msgs_deinit(&msgs);
  app_config_changes_deinit(&changes);
  return 0;
}

static void tick_cb(uv_timer_t *t) {
  struct app_loop *l = t->data;
  struct app_daemon *d = l->d;
  uint64_t now = uv_now(l->loop), ms = app_now_ms();
  int64_t now_s = (int64_t)(ms / 1000);
  struct app_sock *as, *next;
  unsigned ticks = l->ticks++;
  /* lag: how late this tick ran behind its schedule */
  l->loop_lag_s = now > l->tick_expected
                      ? (double)(now - l->tick_expected) / 1000.0
                      : 0.0;
  l->tick_expected = now + 1000;
  for (as = l->socks; as; as = next) {
    next = as->next;
    if (as->claims.has_exp &&
        now_s >= as->claims.exp + l->cfg->auth_leeway_s &&
        !app_auth_is_none(l->keys->auth)) {
      APP_LOGI("socket %s (user %s): token expired", sio_socket_id(as->s),
               as->claims.sub);
      app_sock_close_with_error(as, "token_expired",
                                "the token expired; reconnect with a new one");
    }
  }
  if (ticks % 10 == 0)
    app_cluster_refresh(l);
  app_loop_drain_check(l);
  if (l->index != 0)
    return;
  /* loop 0: the process-wide chores */
  if ((ticks + 1) % 10 == 0) {
    uv_mutex_lock(&d->tab_lock);
    app_keytab_expire(d->users, ms);
    app_keytab_expire(d->ips, ms);
    uv_mutex_unlock(&d->tab_lock);
  }
  if (app_sd_watchdog_usec())
    app_sd_notify("WATCHDOG=1");
  if ((ticks + 1) % 10 == 5)
    sd_status(d, NULL);
}

void app_daemon_ready(struct app_daemon *d) {
  uint64_t wd = app_sd_watchdog_usec();
  if (wd && wd < 2000000)
    APP_LOGW("WatchdogSec= below 2 s: the watchdog is kept from a 1 s tick");
  sd_status(d, "READY=1\n");
}

void app_loop_timers_init(struct app_loop *l) {
  uv_timer_init(l->loop, &l->tick);
  uv_timer_init(l->loop, &l->close_timer);
  l->tick.data = l;
  l->close_timer.data = l;
  l->tick_expected = uv_now(l->loop) + 1000;
  uv_timer_start(&l->tick, tick_cb, 1000, 1000);
}

int app_signals_install(struct app_daemon *d) {
  uv_loop_t *loop = uv_default_loop();
  uv_timer_init(loop, &d->drain_timer);
  d->drain_timer.data = d;
  uv_signal_init(loop, &d->sig_term);
  uv_signal_init(loop, &d->sig_int);
  uv_signal_init(loop, &d->sig_hup);
  d->sig_term.data = d->sig_int.data = d->sig_hup.data = d;
  if (uv_signal_start(&d->sig_term, on_signal, SIGTERM) ||
      uv_signal_start(&d->sig_int, on_signal, SIGINT) ||
      uv_signal_start(&d->sig_hup, on_signal, SIGHUP))
    return -1;
  return 0;
}
