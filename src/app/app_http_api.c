/* app_http_api.c: the daemon's HTTP endpoints beside /socket.io/ (SPEC §3)
 * and the handshake filter.
 *
 *   GET  /health       liveness and figures; 503 while draining
 *   GET  /ready        200 when accepting connections, 503 while draining
 *   GET  /metrics      Prometheus text (when metrics.enabled)
 *   GET  /config       what a client needs to connect (no secrets)
 *   POST /api/v1/emit  publish an event (API key; 202 with the event_id)
 *
 * The handshake filter refuses new Engine.IO sessions while draining (503)
 * and past the per-IP handshake rate (429). The client IP is the peer
 * address, or the first X-Forwarded-For hop when the peer is a trusted
 * proxy (server.trusted_proxies). */
#include <arpa/inet.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "app_daemon.h"
#include "app_events.h"
#include "app_log.h"
#include "app_util.h"

#define JSON_CT "application/json"

/* ------------------------------------------------------------ client IP */

/* 1 when addr is inside the "a.b.c.d[/n]" or "v6[/n]" range. */
static int in_range(const char *addr, const char *range) {
  char net[64];
  const char *slash = strchr(range, '/');
  size_t n = slash ? (size_t)(slash - range) : strlen(range);
  unsigned char a[16], b[16];
  int fam, bits, len, i;
  if (n >= sizeof(net))
    return 0;
  memcpy(net, range, n);
  net[n] = 0;
  fam = strchr(net, ':') ? AF_INET6 : AF_INET;
  len = fam == AF_INET6 ? 16 : 4;
  if (inet_pton(fam, net, b) != 1 || inet_pton(fam, addr, a) != 1)
    return 0;
  bits = slash ? atoi(slash + 1) : len * 8;
  if (bits < 0 || bits > len * 8)
    return 0;
  for (i = 0; i < len && bits > 0; i++, bits -= 8) {
    unsigned char mask = bits >= 8 ? 0xff : (unsigned char)(0xff << (8 - bits));
    if ((a[i] & mask) != (b[i] & mask))
      return 0;
  }
  return 1;
}

static int trusted(const struct app_config *cfg, const char *remote) {
  const char *p = cfg->server_trusted_proxies;
  char item[80];
  while (p && *p) {
    const char *comma = strchr(p, ',');
    size_t n = comma ? (size_t)(comma - p) : strlen(p);
    if (n < sizeof(item)) {
      memcpy(item, p, n);
      item[n] = 0;
      if (in_range(remote, item))
        return 1;
    }
    p = comma ? comma + 1 : NULL;
  }
  return 0;
}

/* The client is the rightmost X-Forwarded-For hop that is not one of our
 * proxies: hops to its left were written by the client itself and prove
 * nothing. */
const char *app_client_ip(const struct app_config *cfg, const char *remote,
                          const char *xff, char *buf, size_t cap) {
  const char *start[32];
  size_t len[32], n = 0, i;
  const char *p = xff;
  if (!xff || !*xff || !trusted(cfg, remote))
    return remote;
  while (*p) {
    const char *q = strchr(p, ',');
    size_t l = q ? (size_t)(q - p) : strlen(p);
    while (l && *p == ' ') {
      p++;
      l--;
    }
    while (l && p[l - 1] == ' ')
      l--;
    if (n == 32) { /* keep the 32 nearest hops */
      memmove(start, start + 1, sizeof(start[0]) * 31);
      memmove(len, len + 1, sizeof(len[0]) * 31);
      n--;
    }
    start[n] = p;
    len[n++] = l;
    if (!q)
      break;
    p = q + 1;
  }
  for (i = n; i-- > 0;) {
    if (len[i] == 0 || len[i] >= cap)
      return remote;
    memcpy(buf, start[i], len[i]);
    buf[len[i]] = 0;
    if (!trusted(cfg, buf) || i == 0)
      return buf;
  }
  return remote;
}

/* ------------------------------------------------------------- replies */

static void reply_json(sio_http_req *r, int status, json_object *o) {
  const char *text =
      o ? json_object_to_json_string_ext(o, JSON_C_TO_STRING_PLAIN |
                                                JSON_C_TO_STRING_NOSLASHESCAPE)
        : "{}";
  sio_http_req_respond(r, status, JSON_CT, text, strlen(text),
                       "Cache-Control: no-store\r\n");
  json_object_put(o);
}

static void reply_error(sio_http_req *r, int status, const char *message) {
  json_object *o = json_object_new_object();
  if (o)
    json_object_object_add(o, "error", json_object_new_string(message));
  reply_json(r, status, o);
}

static int path_is(const sio_http_req *r, const char *want) {
  size_t n;
  const char *p = sio_http_req_path(r, &n);
  return n == strlen(want) && memcmp(p, want, n) == 0;
}

static int method_is(const sio_http_req *r, const char *m) {
  return strcmp(sio_http_req_method(r), m) == 0;
}

/* -------------------------------------------------------------- health */

static bool redis_configured(const struct app_config *cfg) {
  return cfg->redis_url && *cfg->redis_url;
}

/* Every loop answered and has its adapter connected. */
static bool redis_up(const struct app_loop_figures *figs, unsigned n) {
  unsigned i;
  for (i = 0; i < n; i++)
    if (!figs[i].answered || !figs[i].st.redis_connected)
      return false;
  return n > 0;
}

static void health_done(struct app_loop *l, sio_http_req *r,
                        const struct app_loop_figures *figs, unsigned n,
                        void *ud) {
  json_object *o = json_object_new_object(), *c, *rd;
  size_t local = 0, cluster = 0;
  bool redis = redis_configured(l->cfg), up = redis && redis_up(figs, n);
  const char *status = l->draining         ? "draining"
                       : redis && !up ? "degraded"
                                      : "ok";
  unsigned i;
  (void)ud;
  if (!o) {
    reply_error(r, 500, "out of memory");
    return;
  }
  for (i = 0; i < n; i++) {
    local += figs[i].sockets;
    if (figs[i].cluster_sockets > cluster)
      cluster = figs[i].cluster_sockets;
  }
  json_object_object_add(o, "status", json_object_new_string(status));
  json_object_object_add(
      o, "uptime_s",
      json_object_new_int64((int64_t)((app_now_ms() - l->d->start_ms) / 1000)));
  c = json_object_new_object();
  json_object_object_add(c, "local", json_object_new_int64((int64_t)local));
  /* the cluster count is refreshed every 10 s; never below what we hold */
  json_object_object_add(
      c, "total",
      json_object_new_int64((int64_t)(redis && cluster > local ? cluster
                                                               : local)));
  json_object_object_add(o, "connections", c);
  rd = json_object_new_object();
  json_object_object_add(rd, "connected", json_object_new_boolean(up));
  json_object_object_add(o, "redis", rd);
  json_object_object_add(o, "server_id",
                         json_object_new_string(l->d->server_id));
  reply_json(r, l->draining ? 503 : 200, o);
}

static void handle_health(struct app_loop *l, sio_http_req *r) {
  app_loops_gather(l, r, app_loop_figures_fill, health_done, NULL, NULL);
}

static void handle_ready(struct app_loop *l, sio_http_req *r) {
  json_object *o = json_object_new_object();
  json_object_object_add(o, "ready", json_object_new_boolean(!l->draining));
  reply_json(r, l->draining ? 503 : 200, o);
}

/* ------------------------------------------------------------- metrics */

/* sio_stats is made of uint64_t figures only: the loops' are summed field
 * by field (the few that are not counts are fixed up by the caller). */
_Static_assert(sizeof(sio_stats) % sizeof(uint64_t) == 0,
               "sio_stats holds uint64_t fields only");
static void stats_add(sio_stats *sum, const sio_stats *st) {
  uint64_t v[sizeof(sio_stats) / sizeof(uint64_t)], w[sizeof(v) / sizeof(v[0])];
  size_t i;
  memcpy(v, sum, sizeof(v));
  memcpy(w, st, sizeof(w));
  for (i = 0; i < sizeof(v) / sizeof(v[0]); i++)
    v[i] += w[i];
  memcpy(sum, v, sizeof(v));
}

static void metrics_done(struct app_loop *l, sio_http_req *r,
                         const struct app_loop_figures *figs, unsigned n,
                         void *ud) {
  struct app_process_stats ps;
  struct app_metrics *m;
  sio_stats st;
  size_t sockets = 0, events = 0, bytes = 0, len, i;
  uint64_t latency = 0;
  double lag = 0;
  char *text;
  (void)ud;
  if (app_metrics_new(&m)) {
    reply_error(r, 500, "out of memory");
    return;
  }
  memset(&st, 0, sizeof(st));
  for (i = 0; i < n; i++) {
    const struct app_loop_figures *f = &figs[i];
    char loop[24];
    snprintf(loop, sizeof(loop), "%zu", i);
    app_metrics_set(m, APP_M_LOOP_UP, loop, f->answered);
    if (!f->answered)
      continue;
    if (f->metrics)
      app_metrics_merge(m, f->metrics);
    stats_add(&st, &f->st);
    sockets += f->sockets;
    /* every loop keeps the same events (each gets every broadcast), each
     * in memory of its own */
    if (f->history_events > events)
      events = f->history_events;
    bytes += f->history_bytes;
    if (f->loop_lag_s > lag)
      lag = f->loop_lag_s;
    if (f->st.redis_latency_us > latency)
      latency = f->st.redis_latency_us;
    app_metrics_set(m, APP_M_LOOP_CONNECTIONS, loop,
                    (double)(f->st.polling + f->st.websocket));
    app_metrics_set(m, APP_M_LOOP_LAG, loop, f->loop_lag_s);
  }
  app_metrics_set(m, APP_M_CONNECTIONS, "polling", (double)st.polling);
  app_metrics_set(m, APP_M_CONNECTIONS, "websocket", (double)st.websocket);
  app_metrics_set(m, APP_M_SOCKETS, "/", (double)sockets);
  app_metrics_set(m, APP_M_HANDSHAKES, NULL, (double)st.handshakes);
  app_metrics_set(m, APP_M_PACKETS_RECEIVED, NULL, (double)st.packets_in);
  app_metrics_set(m, APP_M_PACKETS_SENT, NULL, (double)st.packets_out);
  app_metrics_set(m, APP_M_BYTES_RECEIVED, NULL, (double)st.bytes_in);
  app_metrics_set(m, APP_M_BYTES_SENT, NULL, (double)st.bytes_out);
  app_metrics_set(m, APP_M_BROADCASTS, NULL, (double)st.broadcasts);
  app_metrics_set(m, APP_M_ACKS, NULL, (double)st.acks);
  /* one adapter per loop: connected when all are */
  app_metrics_set(m, APP_M_REDIS_CONNECTED, NULL,
                  redis_configured(l->cfg) && redis_up(figs, n));
  app_metrics_set(m, APP_M_REDIS_MESSAGES, "in", (double)st.redis_messages_in);
  app_metrics_set(m, APP_M_REDIS_MESSAGES, "out",
                  (double)st.redis_messages_out);
  app_metrics_set(m, APP_M_REDIS_MESSAGES, "dropped",
                  (double)st.redis_dropped);
  app_metrics_set(m, APP_M_REDIS_LATENCY, NULL, (double)latency / 1e6);
  app_metrics_set(m, APP_M_EVENT_LOOP_LAG, NULL, lag);
  /* limit hits counted inside libsio */
  app_metrics_set(m, APP_M_LIMIT_HITS, APP_LIMIT_MAX_PAYLOAD,
                  (double)st.over_max_payload);
  app_metrics_set(m, APP_M_LIMIT_HITS, APP_LIMIT_SLOW_CONSUMER,
                  (double)st.slow_consumers);
  app_metrics_set(m, APP_M_LIMIT_HITS, APP_LIMIT_ORIGIN,
                  (double)st.origin_refused);
  app_metrics_set(m, APP_M_LIMIT_HITS, APP_LIMIT_MAX_CONNECTIONS,
                  (double)st.connections_refused);
  app_metrics_set(m, APP_M_CLOSE_TIMEOUTS, NULL, (double)st.close_timeouts);
  app_metrics_set(m, APP_M_LIMIT_HITS, APP_LIMIT_REPLAY_BACKLOG,
                  (double)st.replay_overflows);
  app_metrics_set(m, APP_M_REPLAYED, NULL, (double)st.replayed);
  {
    const struct {
      const char *outcome;
      uint64_t n;
    } fw[] = {{"carried", st.forward_carried},
              {"unknown", st.forward_unknown},
              {"served", st.forward_served},
              {"taken_over", st.forward_taken_over},
              {"handed_over", st.forward_handed_over},
              {"proxied", st.forward_proxied},
              {"bad_message", st.forward_bad_messages},
              {"dropped", st.forward_dropped}};
    for (i = 0; i < APP_ARRLEN(fw); i++)
      app_metrics_set(m, APP_M_FORWARDED, fw[i].outcome, (double)fw[i].n);
  }
  app_metrics_set(m, APP_M_LOOP_HANDOFFS, "handed", (double)st.loop_handed);
  app_metrics_set(m, APP_M_LOOP_HANDOFFS, "adopted", (double)st.loop_adopted);
  app_metrics_set(m, APP_M_LOOP_HANDOFFS, "failed",
                  (double)st.loop_handoff_failures);
  app_metrics_set(m, APP_M_LOOP_RELAY_FAILURES, NULL,
                  (double)st.loop_relay_failures);
  app_metrics_set(m, APP_M_REPLAY_EVENTS, NULL, (double)events);
  app_metrics_set(m, APP_M_REPLAY_BYTES, NULL, (double)bytes);
  app_process_stats_read(&ps);
  text = app_metrics_render(m, &ps, &len);
  app_metrics_del(m);
  if (!text) {
    reply_error(r, 500, "out of memory");
    return;
  }
  sio_http_req_respond(r, 200, "text/plain; version=0.0.4; charset=utf-8",
                       text, len, NULL);
  free(text);
}

static void handle_metrics(struct app_loop *l, sio_http_req *r) {
  app_loops_gather(l, r, app_loop_figures_fill, metrics_done, NULL, NULL);
}

/* -------------------------------------------------------------- config */

static void handle_config(struct app_loop *lp, sio_http_req *r) {
  const struct app_config *cfg = lp->cfg;
  json_object *ev = json_object_new_array();
  json_object *o = json_object_new_object(), *t = json_object_new_array(),
              *l = json_object_new_object(), *a = json_object_new_object(),
              *rc = json_object_new_object(), *rp = json_object_new_object();
  char **items = NULL;
  size_t n = 0, i;
  if (app_list_split(cfg->engine_transports, &items, &n) == 0) {
    for (i = 0; i < n; i++)
      json_object_array_add(t, json_object_new_string(items[i]));
    app_strv_free(items);
  }
  json_object_object_add(o, "path", json_object_new_string(cfg->server_path));
  json_object_object_add(o, "transports", t);
  json_object_object_add(o, "pingInterval",
                         json_object_new_int64(cfg->engine_ping_interval_ms));
  json_object_object_add(o, "pingTimeout",
                         json_object_new_int64(cfg->engine_ping_timeout_ms));
  json_object_object_add(
      o, "maxPayload", json_object_new_int64((int64_t)cfg->engine_max_payload));
  json_object_object_add(
      o, "connectTimeout",
      json_object_new_int64(cfg->engine_connect_timeout_ms));
  json_object_object_add(a, "required",
                         json_object_new_boolean(!app_auth_is_none(lp->keys->auth)));
  json_object_object_add(a, "mode", json_object_new_string(cfg->auth_mode));
  json_object_object_add(a, "token_sources",
                         json_object_new_string("auth.token,header,query"));
  json_object_object_add(o, "auth", a);
  json_object_object_add(
      l, "max_connections_per_user",
      json_object_new_int64(cfg->limits_max_connections_per_user));
  json_object_object_add(l, "events_per_minute",
                         json_object_new_int64(cfg->limits_events_per_minute));
  json_object_object_add(l, "events_burst",
                         json_object_new_int64(cfg->limits_events_burst));
  json_object_object_add(
      l, "max_rooms_per_socket",
      json_object_new_int64(cfg->limits_max_rooms_per_socket));
  json_object_object_add(o, "limits", l);
  json_object_object_add(rc, "enabled",
                         json_object_new_boolean(cfg->recovery_enabled));
  json_object_object_add(
      rc, "max_disconnection_ms",
      json_object_new_int64(cfg->recovery_max_disconnection_ms));
  json_object_object_add(
      rc, "persist_interval_ms",
      json_object_new_int64(cfg->recovery_persist_interval_ms));
  json_object_object_add(o, "recovery", rc);
  json_object_object_add(rp, "enabled",
                         json_object_new_boolean(cfg->replay_enabled));
  json_object_object_add(rp, "max_events",
                         json_object_new_int64(cfg->replay_max_events));
  json_object_object_add(rp, "max_age_s",
                         json_object_new_int64(cfg->replay_max_age_s));
  json_object_object_add(o, "replay", rp);
  for (i = 0; i < app_event_ntypes; i++)
    if (!app_event_types[i].server_only)
      json_object_array_add(ev,
                            json_object_new_string(app_event_types[i].name));
  json_object_object_add(o, "events", ev);
  json_object_object_add(o, "threads", json_object_new_int64(lp->d->nloops));
  json_object_object_add(o, "server_id",
                         json_object_new_string(lp->d->server_id));
  reply_json(r, 200, o);
}

static void handle_dashboard(struct app_loop *l, sio_http_req *r) {
  (void)l;
  sio_http_req_respond(r, 200, "text/html; charset=utf-8", app_dashboard_html,
                       app_dashboard_html_len,
                       "Cache-Control: no-cache\r\n"
                       "X-Content-Type-Options: nosniff\r\n");
}

static void handle_client_js(struct app_loop *l, sio_http_req *r) {
  sio_http_req_respond(r, 200, "application/javascript; charset=utf-8",
                       l->d->client_js, l->d->client_js_len,
                       "Cache-Control: public, max-age=3600\r\n");
}

/* "<path>socket.io.js", e.g. "/socket.io/socket.io.js". */
static int is_client_js(const struct app_loop *l, const sio_http_req *r) {
  size_t n, pl = strlen(l->cfg->server_path);
  const char *p = sio_http_req_path(r, &n);
  return n == pl + 12 && memcmp(p, l->cfg->server_path, pl) == 0 &&
         memcmp(p + pl, "socket.io.js", 12) == 0;
}

/* ----------------------------------------------------------------- emit */

static int api_key_ok(const struct app_loop *l, const sio_http_req *r) {
  const char *h = sio_http_req_header(r, "authorization");
  const char *key = l->cfg->api_key;
  size_t kl = strlen(key), hl, i;
  unsigned char diff = 0;
  if (!h || strncasecmp(h, "Bearer ", 7) != 0)
    return 0;
  h += 7;
  while (*h == ' ')
    h++;
  hl = strlen(h);
  while (hl && h[hl - 1] == ' ')
    hl--;
  /* constant time in the key's length */
  diff = (unsigned char)(hl != kl);
  for (i = 0; i < kl; i++)
    diff |= (unsigned char)(key[i] ^ (i < hl ? h[i] : 0));
  return diff == 0;
}

static void reply_published(sio_http_req *r, const char *id,
                            const char *type, size_t nrooms, int rv) {
  json_object *o;
  APP_LOGD("published %s to %zu rooms (%d local recipients)", type, nrooms,
           rv);
  o = json_object_new_object();
  json_object_object_add(o, "event_id", json_object_new_string(id));
  json_object_object_add(o, "type", json_object_new_string(type));
  json_object_object_add(o, "local_recipients", json_object_new_int(rv));
  reply_json(r, 202, o);
}

/* A publish with several loops and no Redis: the broadcast is made once,
 * here (the loops adapter hands its encoded packet to the other loops),
 * then every loop counts the sockets it reached, so that local_recipients
 * counts the whole process. Each loop's count runs after the broadcast
 * reached it (its mailbox keeps the order). The loops read the job's
 * rooms only. */
struct emit_job {
  const char *type; /* the catalog's */
  char **rooms;
  size_t nrooms;
  char id[37];
};

static void emit_job_free(void *ud) {
  struct emit_job *j = ud;
  app_strv_free(j->rooms);
  free(j);
}

static void emit_count(struct app_loop *l, struct app_loop_figures *f,
                       void *ud) {
  const struct emit_job *j = ud;
  sio_broadcast_opts bo;
  memset(&bo, 0, sizeof(bo));
  bo.rooms = (const char *const *)j->rooms;
  bo.nrooms = j->nrooms;
  f->recipients =
      l->srv ? (int)sio_namespace_count_selected(l->ns, &bo) : 0;
}

static void emit_done(struct app_loop *l, sio_http_req *r,
                      const struct app_loop_figures *figs, unsigned n,
                      void *ud) {
  const struct emit_job *j = ud;
  unsigned i;
  int sum = 0;
  (void)l;
  for (i = 0; i < n; i++) {
    if (figs[i].answered && figs[i].recipients < 0) {
      reply_error(r, 500, "broadcast failed");
      return;
    }
    if (figs[i].answered)
      sum += figs[i].recipients;
  }
  reply_published(r, j->id, j->type, j->nrooms, sum);
}

static void handle_emit(struct app_loop *l, sio_http_req *r) {
  struct app_publish pub;
  struct emit_job *j;
  char err[256], id[37];
  uint8_t rnd[16];
  size_t blen;
  const uint8_t *body = sio_http_req_body(r, &blen);
  json_object *env, *args;
  sio_broadcast_opts bo;
  int rv;
  if (!api_key_ok(l, r)) {
    app_metrics_inc(l->metrics, APP_M_PUBLISH_REJECTED,
                    APP_PUBLISH_UNAUTHORIZED);
    reply_error(r, 401, "missing or wrong API key");
    return;
  }
  rv = app_event_parse_publish_text((const char *)body, blen, &pub, err,
                                    sizeof(err));
  if (rv == -2) {
    reply_error(r, 500, "out of memory");
    return;
  }
  if (rv != 0) {
    app_metrics_inc(l->metrics, APP_M_PUBLISH_REJECTED,
                    APP_PUBLISH_BAD_REQUEST);
    reply_error(r, 400, err);
    return;
  }
  app_random_bytes(rnd, sizeof(rnd));
  env = app_event_envelope(pub.type->name, json_object_get(pub.data), rnd,
                           app_now_ms(), id);
  args = json_object_new_array();
  if (!env || !args) {
    json_object_put(env);
    json_object_put(args);
    app_publish_deinit(&pub);
    reply_error(r, 500, "out of memory");
    return;
  }
  json_object_array_add(args, env);
  memset(&bo, 0, sizeof(bo));
  bo.rooms = (const char *const *)pub.rooms;
  bo.nrooms = pub.n_rooms;
  rv = sio_namespace_broadcast(l->ns, &bo, pub.type->name, args, NULL, 0);
  json_object_put(args);
  /* With Redis each loop is an instance of the fleet: the count is this
   * loop's, as it is this instance's. */
  if (rv >= 0 && l->d->nloops > 1 && !redis_configured(l->cfg)) {
    j = calloc(1, sizeof(*j));
    if (!j) {
      app_publish_deinit(&pub);
      reply_error(r, 500, "out of memory");
      return;
    }
    j->type = pub.type->name;
    j->rooms = pub.rooms;
    j->nrooms = pub.n_rooms;
    pub.rooms = NULL;
    memcpy(j->id, id, sizeof(id));
    app_publish_deinit(&pub);
    app_loops_gather(l, r, emit_count, emit_done, j, emit_job_free);
    return;
  }
  if (rv < 0)
    reply_error(r, 500, "broadcast failed");
  else
    reply_published(r, id, pub.type->name, pub.n_rooms, rv);
  app_publish_deinit(&pub);
}

/* ------------------------------------------------------------- routing */

static void on_http(sio_http_req *r, void *ud) {
  struct app_loop *l = ud;
  const char *want = NULL;
  void (*fn)(struct app_loop *, sio_http_req *) = NULL;
  if (path_is(r, "/health")) {
    fn = handle_health;
    want = "GET";
  } else if (path_is(r, "/ready")) {
    fn = handle_ready;
    want = "GET";
  } else if (path_is(r, "/metrics") && l->cfg->metrics_enabled) {
    fn = handle_metrics;
    want = "GET";
  } else if (path_is(r, "/config")) {
    fn = handle_config;
    want = "GET";
  } else if (path_is(r, "/api/v1/emit") && *l->cfg->api_key) {
    fn = handle_emit;
    want = "POST";
  } else if (path_is(r, "/") && l->d->dashboard) {
    fn = handle_dashboard;
    want = "GET";
  } else if (l->d->client_js && is_client_js(l, r)) {
    fn = handle_client_js;
    want = "GET";
  }
  if (!fn)
    return; /* 404 */
  if (!method_is(r, want) && !(strcmp(want, "GET") == 0 && method_is(r, "HEAD"))) {
    char allow[32];
    snprintf(allow, sizeof(allow), "Allow: %s\r\n", want);
    sio_http_req_respond(r, 405, JSON_CT, "{\"error\":\"method not allowed\"}",
                         31, allow);
    return;
  }
  fn(l, r);
}

static int on_handshake(const sio_http_req *r, const char **message,
                        void *ud) {
  struct app_loop *l = ud;
  char buf[64];
  const char *ip;
  int rv;
  if (l->draining) {
    *message = "Server draining";
    return 503;
  }
  if (l->cfg->limits_handshakes_per_ip_per_s <= 0)
    return 0;
  ip = app_client_ip(l->cfg, sio_http_req_remote_addr(r),
                     sio_http_req_header(r, "x-forwarded-for"), buf,
                     sizeof(buf));
  /* one bucket per IP for every loop */
  rv = app_ips_take(l->d, ip, &l->handshake_rate);
  if (rv == APP_RL_OK)
    return 0;
  app_metrics_inc(l->metrics, APP_M_LIMIT_HITS, APP_LIMIT_HANDSHAKE_RATE);
  *message = "Too many handshakes";
  return 429;
}

void app_http_install(struct app_loop *l) {
  sio_server_set_http_handler(l->srv, on_http, l);
  sio_server_set_handshake_filter(l->srv, on_handshake, l);
}
