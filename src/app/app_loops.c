/* app_loops.c: the event loops of one process (server.threads = N).
 *
 * Loop 0 runs on the main thread; loops 1..N-1 each on a thread with its
 * own uv_loop_t. Every loop has a server of its own with the same options
 * and handlers, joined into one sio_group (which makes their listeners
 * SO_REUSEPORT and hands a request for another loop's session to its
 * owner): without Redis through the loops adapter, so that broadcasts
 * and cluster calls reach every loop; with Redis each loop keeps its own
 * Redis adapter and is an instance of the fleet. Every loop listens on
 * the same addresses: loop 0 first, so that a port 0 is bound once and
 * the others take that port. With one loop there is no group and no
 * thread.
 *
 * What is process-wide and must be exact crosses loops in two ways only:
 * - the per-user connection counts and per-IP handshake buckets are one
 *   table each under tab_lock, taken at connect, disconnect and handshake
 *   only, so a limit holds whichever loops the connections land on;
 * - figures (/metrics, /health) are gathered by posting to every loop:
 *   each loop copies its libsio stats and its own counters into a slot
 *   of the request (an API broadcast is run the same way, each loop
 *   counting its recipients) (a loop writes only its slot, so counting stays plain
 *   arithmetic on the loop's own registry, with no atomic or lock per
 *   event), and the loop that took the request answers it once all have
 *   answered or after 1 s. A post runs after everything the loop did
 *   before it, so a scrape made after an action sees that action. */
#include <stdlib.h>
#include <string.h>

#include "app_daemon.h"
#include "app_log.h"
#include "app_util.h"

#define APP_FIGURES_DEADLINE_MS 1000

/* ----------------------------------------------------------------- keys */

struct app_keys *app_keys_new(struct app_auth *auth) {
  struct app_keys *k = calloc(1, sizeof(*k));
  if (!k)
    return NULL;
  atomic_init(&k->refs, 1);
  k->auth = auth;
  return k;
}

struct app_keys *app_keys_ref(struct app_keys *k) {
  atomic_fetch_add_explicit(&k->refs, 1, memory_order_relaxed);
  return k;
}

void app_keys_unref(struct app_keys *k) {
  if (!k || atomic_fetch_sub_explicit(&k->refs, 1, memory_order_acq_rel) != 1)
    return;
  app_auth_del(k->auth);
  free(k);
}

/* --------------------------------------------------------------- tables */

int app_users_acquire(struct app_daemon *d, const char *user, uint32_t max) {
  int rv;
  uv_mutex_lock(&d->tab_lock);
  rv = app_keytab_acquire(d->users, user, max, app_now_ms());
  uv_mutex_unlock(&d->tab_lock);
  return rv;
}

void app_users_release(struct app_daemon *d, const char *user) {
  uv_mutex_lock(&d->tab_lock);
  app_keytab_release(d->users, user, app_now_ms());
  uv_mutex_unlock(&d->tab_lock);
}

int app_ips_take(struct app_daemon *d, const char *ip,
                 const struct app_rate *rate) {
  int rv;
  uv_mutex_lock(&d->tab_lock);
  rv = app_keytab_take(d->ips, ip, rate, app_now_ms());
  uv_mutex_unlock(&d->tab_lock);
  return rv;
}

/* ---------------------------------------------------------------- start */

/* Listens on addrs; on loop 0 also writes d->listen: the addresses with
 * the ports bound (port 0 picks one, and every loop must share it). */
static int listen_all(struct app_loop *l, const char *addrs_text) {
  struct app_daemon *d = l->d;
  struct app_sbuf bound = {0};
  char **addrs = NULL;
  size_t n = 0, i;
  int rv = 0;
  if (app_list_split(addrs_text, &addrs, &n) || n == 0) {
    APP_LOGE("server.listen: no address");
    app_strv_free(addrs);
    return -1;
  }
  for (i = 0; i < n && !rv; i++) {
    const char *colon = strrchr(addrs[i], ':');
    rv = sio_server_listen(l->srv, addrs[i]);
    if (rv) {
      APP_LOGE("server.listen: cannot listen on %s: %s", addrs[i],
               sio_strerror(rv));
    } else if (l->index == 0) {
      APP_LOGI("listening on %s%s (path %s, port %d)", addrs[i],
               *l->cfg->tls_cert_file ? " with TLS" : "", l->cfg->server_path,
               sio_server_port(l->srv, i));
      app_sbuf_printf(&bound, "%s%.*s:%d", i ? "," : "",
                      (int)(colon - addrs[i]), addrs[i],
                      sio_server_port(l->srv, i));
    }
  }
  app_strv_free(addrs);
  if (l->index == 0 && !rv && !(d->listen = app_sbuf_take(&bound, NULL)))
    rv = -1;
  app_sbuf_reset(&bound);
  return rv ? -1 : 0;
}

static int loop_open(struct app_loop *l, int (*build)(struct app_loop *l)) {
  struct app_daemon *d = l->d;
  int rv = 0;
  if (app_metrics_new(&l->metrics) || build(l))
    return -1;
  /* after build's Redis adapter, if any; before listening */
  if (d->group)
    rv = *l->cfg->redis_url ? sio_group_join(d->group, l->index, l->srv)
                            : sio_server_use_loops(l->srv, d->group, l->index);
  if (rv) {
    APP_LOGE("loop %u: cannot join the other loops: %s", l->index,
             sio_strerror(rv));
    return -1;
  }
  app_loop_timers_init(l);
  return listen_all(l, l->index == 0 ? l->cfg->server_listen : d->listen);
}

static int (*loop_build)(struct app_loop *l);

static void on_loop_closed(uv_async_t *a);

static void loop_thread(void *arg) {
  struct app_loop *l = arg;
  struct app_daemon *d = l->d;
  l->start_rv = loop_open(l, loop_build);
  uv_sem_post(&l->started);
  if (l->start_rv)
    return; /* the process exits: start-up failed */
  uv_run(l->loop, UV_RUN_DEFAULT);
  if (uv_loop_close(l->loop))
    APP_LOGW("loop %u closed with handles open", l->index);
  /* sent under the lock: loop 0 closes loop_closed only after it saw the
   * count reach 0, so never while a send is still to come */
  uv_mutex_lock(&d->tab_lock);
  d->open_loops--;
  uv_async_send(&d->loop_closed);
  uv_mutex_unlock(&d->tab_lock);
}

int app_loops_start(struct app_daemon *d, int (*build)(struct app_loop *l)) {
  unsigned i, n = app_config_threads(&d->cfg);
  int rv;
  d->loops = calloc(n, sizeof(*d->loops));
  if (!d->loops)
    return -1;
  d->nloops = n;
  d->open_loops = n;
  d->loop_closed.data = d;
  if (uv_async_init(uv_default_loop(), &d->loop_closed, on_loop_closed))
    return -1;
  if (n > 1 && (rv = sio_group_new(&d->group, n)) != 0) {
    APP_LOGE("server.threads %u: %s", n, sio_strerror(rv));
    return -1;
  }
  for (i = 0; i < n; i++) {
    struct app_loop *l = &d->loops[i];
    l->d = d;
    l->index = i;
    l->keys = app_keys_ref(d->keys);
    if (i == 0) {
      l->loop = uv_default_loop();
      l->cfg = &d->cfg;
    } else {
      l->loop = &l->own;
      l->cfg = &l->cfg_copy;
      if (app_config_copy(&l->cfg_copy, &d->cfg))
        return -1;
    }
    l->event_rate.per_minute = (uint32_t)l->cfg->limits_events_per_minute;
    l->event_rate.burst = (uint32_t)l->cfg->limits_events_burst;
    l->handshake_rate = app_rate_per_second(
        (uint32_t)l->cfg->limits_handshakes_per_ip_per_s,
        (uint32_t)l->cfg->limits_handshakes_burst);
  }
  if (loop_open(&d->loops[0], build))
    return -1;
  loop_build = build;
  for (i = 1; i < n; i++) {
    struct app_loop *l = &d->loops[i];
    if (uv_loop_init(&l->own) || uv_sem_init(&l->started, 0))
      return -1;
    if (uv_thread_create(&l->thread, loop_thread, l)) {
      APP_LOGE("loop %u: cannot start its thread", i);
      return -1;
    }
    uv_sem_wait(&l->started);
    if (l->start_rv)
      return -1;
  }
  if (n > 1)
    APP_LOGI("running %u event loops", n);
  /* one Redis adapter for the whole process is not built yet */
  if (n > 1 && d->cfg.redis_url && d->cfg.redis_url[0])
    APP_LOGW("server.threads = %u with redis.url: each loop joins the fleet "
             "as an instance of its own (serverCount counts loops, and the "
             "loops reach each other through Redis)",
             n);
  return 0;
}

/* ------------------------------------------------------------- crossing */

int app_loops_post(struct app_loop *from, unsigned i, sio_post_fn fn,
                   void *ud) {
  if (i == from->index) {
    fn(from->srv, ud);
    return 0;
  }
  return sio_group_post(from->d->group, i, fn, ud);
}

/* ---------------------------------------------------------------- close */

static void all_closed_check(struct app_daemon *d) {
  unsigned open;
  uv_mutex_lock(&d->tab_lock);
  open = d->open_loops;
  uv_mutex_unlock(&d->tab_lock);
  if (open || uv_is_closing((uv_handle_t *)&d->loop_closed))
    return;
  uv_close((uv_handle_t *)&d->drain_timer, NULL);
  uv_close((uv_handle_t *)&d->sig_term, NULL);
  uv_close((uv_handle_t *)&d->sig_int, NULL);
  uv_close((uv_handle_t *)&d->sig_hup, NULL);
  uv_close((uv_handle_t *)&d->loop_closed, NULL);
  APP_LOGI("stopped");
}

static void on_loop_closed(uv_async_t *a) { all_closed_check(a->data); }

void app_loops_closed(struct app_loop *l) {
  struct app_daemon *d = l->d;
  uv_close((uv_handle_t *)&l->tick, NULL);
  uv_close((uv_handle_t *)&l->close_timer, NULL);
  if (l->index != 0)
    return; /* its thread reports once the loop has returned */
  uv_mutex_lock(&d->tab_lock);
  d->open_loops--;
  uv_mutex_unlock(&d->tab_lock);
  all_closed_check(d);
}

void app_loops_join(struct app_daemon *d) {
  unsigned i;
  for (i = 0; i < d->nloops; i++) {
    struct app_loop *l = &d->loops[i];
    if (i > 0) {
      uv_thread_join(&l->thread);
      uv_sem_destroy(&l->started);
      app_config_deinit(&l->cfg_copy);
    }
    app_metrics_del(l->metrics);
    app_keys_unref(l->keys);
  }
  sio_group_free(d->group);
  free(d->loops);
  free(d->listen);
}

/* -------------------------------------------------------------- figures */

struct figures_req;

struct figures_slot {
  struct figures_req *q;
  unsigned i;
  atomic_bool ok; /* f is written and will not change */
  struct app_loop_figures f;
};

struct figures_req {
  atomic_uint refs;    /* home's, one per message out, the completion's */
  atomic_uint pending; /* loops yet to answer */
  struct app_loop *home;
  sio_http_req *r;     /* deferred */
  app_loop_work work;
  app_figures_cb done;
  void *ud;
  void (*free_ud)(void *ud);
  bool finished;       /* home's thread only */
  uv_timer_t deadline; /* on home's loop */
  unsigned n;
  struct figures_slot *slots;
};

void app_loop_figures_fill(struct app_loop *l, struct app_loop_figures *f,
                           void *ud) {
  (void)ud;
  if (l->srv) {
    sio_server_stats(l->srv, &f->st);
    f->sockets = sio_namespace_socket_count(l->ns);
    sio_namespace_history_stats(l->ns, &f->history_events,
                                &f->history_bytes);
  }
  f->cluster_sockets = l->cluster_sockets;
  f->loop_lag_s = l->loop_lag_s;
  f->metrics = app_metrics_copy(l->metrics);
}

static void run_work(struct figures_req *q, struct app_loop *l,
                     struct app_loop_figures *f) {
  memset(f, 0, sizeof(*f));
  f->answered = true;
  q->work(l, f, q->ud);
}

static void figures_unref(struct figures_req *q) {
  unsigned i;
  if (atomic_fetch_sub_explicit(&q->refs, 1, memory_order_acq_rel) != 1)
    return;
  for (i = 0; i < q->n; i++)
    app_metrics_del(q->slots[i].f.metrics);
  if (q->free_ud)
    q->free_ud(q->ud);
  free(q->slots);
  free(q);
}

static void deadline_closed(uv_handle_t *h) { figures_unref(h->data); }

/* On home's loop: answers with what has come (once). */
static void figures_finish(struct figures_req *q) {
  struct app_loop_figures *out;
  unsigned i;
  if (q->finished)
    return;
  q->finished = true;
  out = calloc(q->n, sizeof(*out));
  if (out) {
    for (i = 0; i < q->n; i++)
      if (atomic_load_explicit(&q->slots[i].ok, memory_order_acquire))
        out[i] = q->slots[i].f;
    q->done(q->home, q->r, out, q->n, q->ud);
    free(out);
  } else {
    sio_http_req_respond(q->r, 500, "text/plain", "out of memory", 13, NULL);
  }
  uv_close((uv_handle_t *)&q->deadline, deadline_closed);
}

static void figures_late(uv_timer_t *t) { figures_finish(t->data); }

static void figures_complete(sio_server *s, void *ud) {
  struct figures_req *q = ud;
  if (s)
    figures_finish(q);
  figures_unref(q);
}

static void figures_answered(struct figures_req *q) {
  if (atomic_fetch_sub_explicit(&q->pending, 1, memory_order_acq_rel) != 1)
    return;
  if (sio_group_post(q->home->d->group, q->home->index, figures_complete, q))
    figures_unref(q); /* home has closed: its deadline answers */
}

static void figures_on_loop(sio_server *s, void *ud) {
  struct figures_slot *sl = ud;
  struct figures_req *q = sl->q;
  if (s) {
    run_work(q, &q->home->d->loops[sl->i], &sl->f);
    atomic_store_explicit(&sl->ok, true, memory_order_release);
  }
  figures_answered(q);
  figures_unref(q);
}

void app_loops_gather(struct app_loop *home, sio_http_req *r,
                      app_loop_work work, app_figures_cb done, void *ud,
                      void (*free_ud)(void *ud)) {
  struct app_daemon *d = home->d;
  struct figures_req one = {.work = work, .ud = ud}, *q;
  struct app_loop_figures f;
  sio_http_req *later = NULL;
  unsigned i;
  if (d->nloops == 1) {
    run_work(&one, home, &f);
    done(home, r, &f, 1, ud);
    app_metrics_del(f.metrics);
    if (free_ud)
      free_ud(ud);
    return;
  }
  q = calloc(1, sizeof(*q));
  if (q)
    q->slots = calloc(d->nloops, sizeof(*q->slots));
  if (!q || !q->slots || !(later = sio_http_req_defer(r))) {
    if (q)
      free(q->slots);
    free(q);
    if (free_ud)
      free_ud(ud);
    sio_http_req_respond(r, 500, "text/plain", "out of memory", 13, NULL);
    return;
  }
  q->home = home;
  q->r = later;
  q->work = work;
  q->done = done;
  q->ud = ud;
  q->free_ud = free_ud;
  q->n = d->nloops;
  atomic_init(&q->refs, 1 + (d->nloops - 1) + 1);
  atomic_init(&q->pending, d->nloops - 1);
  uv_timer_init(home->loop, &q->deadline);
  q->deadline.data = q;
  uv_timer_start(&q->deadline, figures_late, APP_FIGURES_DEADLINE_MS, 0);
  for (i = 0; i < q->n; i++) {
    q->slots[i].q = q;
    q->slots[i].i = i;
    atomic_init(&q->slots[i].ok, false);
  }
  run_work(q, home, &q->slots[home->index].f);
  atomic_store_explicit(&q->slots[home->index].ok, true, memory_order_release);
  for (i = 0; i < q->n; i++) {
    if (i == home->index)
      continue;
    if (sio_group_post(d->group, i, figures_on_loop, &q->slots[i])) {
      /* closed, or its mailbox full: reported as not answering */
      figures_answered(q);
      figures_unref(q);
    }
  }
}
