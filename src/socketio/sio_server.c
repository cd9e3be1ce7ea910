/* sio_server.c: the public sio_options_* and sio_server_* API, and the glue
 * between the Engine.IO server and the Socket.IO layer.
 *
 * Role: a sio_server owns the eio_server and registers itself as its
 * eio_callbacks: on_open creates the session's sio_client, on_message hands
 * the client each message (Engine.IO text arrives without its leading '4'),
 * on_close makes the client disconnect its sockets and go away. It also
 * owns the namespaces (the main namespace "/" exists from the start, as in
 * the reference server), the list of clients, the shared encode buffer
 * and the counters.
 *
 * States: RUNNING -> CLOSING (sio_server_close: pending cluster calls
 * are canceled, every socket disconnects with "server shutting down", the
 * cluster adapter closes, then the engine closes its listeners and
 * sessions) -> freed once both the engine's and the adapter's close
 * callbacks ran, i.e. their last handles have closed; the user's callback
 * runs right after. Nothing is freed inside sio_server_close itself, so it
 * may be called from any callback. */
#include "sio_server.h"
#include "sio_restore.h"

#include <string.h>

#include "sio_client.h"
#include "sio_crypto.h"
#include "sio_group.h"
#include "sio_int.h"
#include "sio_log.h"
#include "sio_mem.h"
#include "sio_namespace.h"

#define SIO_DEFAULT_MAX_BUFFERED ((size_t)4 << 20)
#define SIO_SCRATCH_KEEP 65536

/* --------------------------------------------------------------- options */

static void opts_defaults(struct sio_options *o) {
  memset(o, 0, sizeof(*o));
  o->ping_interval = 25000;
  o->ping_timeout = 20000;
  o->max_payload = 1000000;
  o->connect_timeout = 45000;
  o->transports = SIO_TRANSPORT_POLLING | SIO_TRANSPORT_WEBSOCKET;
}

static void opts_free_strings(struct sio_options *o) {
  sio_free(o->path);
  sio_free(o->cors_origins);
  sio_free(o->cookie);
  sio_free(o->tls_cert);
  sio_free(o->tls_key);
  sio_free(o->tls_chain);
  o->path = o->cors_origins = o->cookie = NULL;
  o->tls_cert = o->tls_key = o->tls_chain = NULL;
}

/* Replaces *dst with a copy of src (NULL or "" stores NULL when
 * empty_is_null). Returns 0 or SIO_ERR_NOMEM (*dst unchanged). */
static int set_str(char **dst, const char *src, int empty_is_null) {
  char *copy = NULL;
  if (src && !(empty_is_null && !*src)) {
    copy = sio_strdup(src);
    if (!copy)
      return SIO_ERR_NOMEM;
  }
  sio_free(*dst);
  *dst = copy;
  return 0;
}

static int opts_copy(struct sio_options *dst, const struct sio_options *src) {
  *dst = *src;
  dst->path = dst->cors_origins = dst->cookie = NULL;
  dst->tls_cert = dst->tls_key = dst->tls_chain = NULL;
  if (set_str(&dst->path, src->path, 0) ||
      set_str(&dst->cors_origins, src->cors_origins, 1) ||
      set_str(&dst->cookie, src->cookie, 1) ||
      set_str(&dst->tls_cert, src->tls_cert, 1) ||
      set_str(&dst->tls_key, src->tls_key, 1) ||
      set_str(&dst->tls_chain, src->tls_chain, 1)) {
    opts_free_strings(dst);
    return SIO_ERR_NOMEM;
  }
  return 0;
}

int sio_options_new(sio_options **out) {
  sio_options *o = sio_malloc(sizeof(*o));
  *out = NULL;
  if (!o)
    return SIO_ERR_NOMEM;
  opts_defaults(o);
  if (set_str(&o->path, "/socket.io/", 0) ||
      set_str(&o->cors_origins, "*", 1)) {
    opts_free_strings(o);
    sio_free(o);
    return SIO_ERR_NOMEM;
  }
  *out = o;
  return 0;
}

void sio_options_del(sio_options *o) {
  if (!o)
    return;
  opts_free_strings(o);
  sio_free(o);
}

void sio_options_set_recovery(sio_options *o, int enabled,
                              uint32_t max_disconnection_ms) {
  o->recovery = enabled != 0;
  o->max_disconnection_ms =
      max_disconnection_ms ? max_disconnection_ms : 120000;
}

void sio_options_set_recovery_persist_interval(sio_options *o,
                                               uint32_t interval_ms) {
  o->persist_interval_ms = interval_ms;
}

int sio_options_set_tls(sio_options *o, const char *cert_file,
                        const char *key_file, const char *chain_file) {
  char *c = NULL, *k = NULL, *ch = NULL;
  if (cert_file && *cert_file && !(key_file && *key_file))
    return SIO_ERR_INVAL;
  if (set_str(&c, cert_file, 1) || set_str(&k, key_file, 1) ||
      set_str(&ch, chain_file, 1)) {
    sio_free(c);
    sio_free(k);
    sio_free(ch);
    return SIO_ERR_NOMEM;
  }
  sio_free(o->tls_cert);
  sio_free(o->tls_key);
  sio_free(o->tls_chain);
  o->tls_cert = c;
  o->tls_key = k;
  o->tls_chain = ch;
  return 0;
}

int sio_options_set_tls_min_version(sio_options *o, const char *version) {
  if (!version || (strcmp(version, "1.2") && strcmp(version, "1.3")))
    return SIO_ERR_INVAL;
  o->tls13_only = version[2] == '3';
  return 0;
}

int sio_options_set_path(sio_options *o, const char *path) {
  size_t n;
  if (!path)
    return SIO_ERR_INVAL;
  n = strlen(path);
  if (n == 0 || path[0] != '/' || path[n - 1] != '/')
    return SIO_ERR_INVAL;
  return set_str(&o->path, path, 0);
}

void sio_options_set_ping(sio_options *o, uint32_t interval_ms,
                          uint32_t timeout_ms) {
  o->ping_interval = interval_ms;
  o->ping_timeout = timeout_ms;
}

void sio_options_set_max_payload(sio_options *o, size_t bytes) {
  o->max_payload = bytes;
}

void sio_options_set_connect_timeout(sio_options *o, uint32_t ms) {
  o->connect_timeout = ms;
}

int sio_options_set_transports(sio_options *o, int mask) {
  int all = SIO_TRANSPORT_POLLING | SIO_TRANSPORT_WEBSOCKET;
  if (mask == 0 || (mask & ~all))
    return SIO_ERR_INVAL;
  o->transports = mask;
  return 0;
}

int sio_options_set_cors(sio_options *o, const char *origins, int credentials) {
  int rv = set_str(&o->cors_origins, origins, 1);
  if (rv)
    return rv;
  o->cors_credentials = credentials != 0;
  return 0;
}

int sio_options_set_cookie(sio_options *o, const char *name) {
  return set_str(&o->cookie, name, 1);
}

void sio_options_set_forwarding(sio_options *o, int enabled,
                                uint32_t takeover_ms) {
  o->forwarding = enabled != 0;
  o->takeover_ms = takeover_ms;
}

int sio_server_forwarding(const sio_server *s) {
  return s && s->opts.forwarding;
}

static int bus_publish(void *ud, const char *channel, const uint8_t *msg,
                       size_t len) {
  sio_server *s = ud;
  return s->bus_publish(s->bus_ud, channel, msg, len);
}

int sio_server_engine_bus(sio_server *s, sio_engine_publish_fn publish,
                          void *ud) {
  eio_bus bus;
  if (!s)
    return SIO_ERR_INVAL;
  if (!s->opts.forwarding)
    return SIO_ERR_STATE;
  s->bus_publish = publish;
  s->bus_ud = ud;
  bus.publish = bus_publish;
  bus.ud = s;
  return eio_server_set_bus(s->eio, publish ? &bus : NULL,
                            s->opts.takeover_ms);
}

const char *sio_server_engine_node(const sio_server *s) {
  return eio_server_node_id(s->eio);
}

void sio_server_engine_message(sio_server *s, const uint8_t *msg,
                               size_t len) {
  if (s && s->eio && s->bus_publish)
    eio_server_bus_message(s->eio, msg, len);
}

void sio_options_set_close_timeout_ms(sio_options *o, uint32_t ms) {
  o->close_timeout_ms = ms;
}

void sio_options_set_max_buffered(sio_options *o, size_t bytes) {
  o->max_buffered = bytes;
}

void sio_options_set_max_connections(sio_options *o, uint32_t n) {
  o->max_connections = n;
}

void sio_options_set_listen_backlog(sio_options *o, uint32_t n) {
  o->backlog = n;
}

/* -------------------------------------------------------- engine upcalls */

static void on_open(eio_socket *es, void *ud) {
  sio_server *s = ud;
  sio_client *c;
  if (s->closing || sio_client_new(&c, s, es) != 0)
    eio_socket_close(es, NULL);
}

static void on_message(eio_socket *es, int binary, const uint8_t *data,
                       size_t len, void *ud) {
  sio_client *c = eio_socket_get_data(es);
  (void)ud;
  if (c)
    sio_client_on_message(c, binary, data, len);
}

static void on_close(eio_socket *es, const char *reason, void *ud) {
  sio_client *c = eio_socket_get_data(es);
  (void)ud;
  if (c)
    sio_client_on_close(c, reason);
}

/* ---------------------------------------------------------------- server */

static void seed_maps(void) {
  uint8_t seed[16];
  if (sio_random_bytes(seed, sizeof(seed)) == 0)
    sio_map_seed(seed);
}

/* Once per process, whichever loop's thread makes the first server. */
static void seed_maps_once(void) {
  static uv_once_t once = UV_ONCE_INIT;
  uv_once(&once, seed_maps);
}

static void free_namespaces(sio_server *s) {
  size_t it = 0;
  const sio_map_entry *e;
  while (sio_map_next(&s->nsps, &it, &e))
    sio_namespace_del(e->val);
  sio_map_deinit(&s->nsps);
}

/* Frees everything but the engine (gone or never made) and s itself. */
static void server_release(sio_server *s) {
  free_namespaces(s);
  sio_buf_deinit(&s->scratch);
  opts_free_strings(&s->opts);
}

static void recovery_tick(uv_timer_t *t);

/* The recovery timer's period: 10 s, or the session refresh interval
 * when that is shorter. */
static uint32_t recovery_period(const sio_server *s) {
  uint32_t p = s->opts.persist_interval_ms ? s->opts.persist_interval_ms
                                           : SIO_PERSIST_INTERVAL_MS;
  return p < 10000 ? p : 10000;
}

int sio_server_new(sio_server **out, uv_loop_t *loop, const sio_options *opts) {
  sio_server *s;
  struct sio_options defaults;
  eio_options eo;
  eio_callbacks cbs;
  int rv;
  *out = NULL;
  if (!loop)
    return SIO_ERR_INVAL;
  seed_maps_once();
  s = sio_calloc(1, sizeof(*s));
  if (!s)
    return SIO_ERR_NOMEM;
  s->loop = loop;
  sio_map_init(&s->nsps);
  sio_queue_init(&s->clients);
  sio_queue_init(&s->pending);
  sio_buf_init(&s->scratch);
  if (!opts) {
    opts_defaults(&defaults);
    defaults.path = "/socket.io/";
    defaults.cors_origins = "*";
    opts = &defaults;
  }
  rv = opts_copy(&s->opts, opts);
  if (rv)
    goto fail;
  if (!sio_server_of(s, "/")) {
    rv = SIO_ERR_NOMEM;
    goto fail;
  }
  memset(&eo, 0, sizeof(eo));
  eo.path = s->opts.path;
  eo.ping_interval = s->opts.ping_interval;
  eo.ping_timeout = s->opts.ping_timeout;
  eo.max_payload = s->opts.max_payload;
  eo.transports = s->opts.transports;
  eo.cors_origins = s->opts.cors_origins;
  eo.cors_credentials = s->opts.cors_credentials;
  eo.cookie = s->opts.cookie;
  eo.max_buffered =
      s->opts.max_buffered ? s->opts.max_buffered : SIO_DEFAULT_MAX_BUFFERED;
  eo.max_connections = s->opts.max_connections;
  eo.backlog = s->opts.backlog;
  eo.tls_cert = s->opts.tls_cert;
  eo.tls_key = s->opts.tls_key;
  eo.tls_chain = s->opts.tls_chain;
  eo.tls13_only = s->opts.tls13_only;
  eo.close_timeout_ms = s->opts.close_timeout_ms;
  memset(&cbs, 0, sizeof(cbs));
  cbs.on_open = on_open;
  cbs.on_message = on_message;
  cbs.on_close = on_close;
  cbs.on_http = sio_server_on_http;
  cbs.on_handshake = sio_server_on_handshake;
  rv = eio_server_new(&s->eio, loop, &eo, &cbs, s);
  if (rv)
    goto fail;
  if (sio_mailbox_init(&s->inbox, loop, 0)) {
    /* freed through its close: the engine is up already */
    eio_server_close(s->eio, NULL, NULL);
    rv = SIO_ERR_NOMEM;
    goto fail;
  }
  uv_unref((uv_handle_t *)&s->inbox.async); /* idle, it keeps no loop alive */
  if (s->opts.recovery) {
    uv_timer_init(loop, &s->recovery_timer);
    s->recovery_timer.data = s;
    uv_timer_start(&s->recovery_timer, recovery_tick, recovery_period(s),
                   recovery_period(s));
    uv_unref((uv_handle_t *)&s->recovery_timer);
  }
  *out = s;
  return 0;
fail:
  server_release(s);
  sio_free(s);
  return rv;
}

int sio_server_listen(sio_server *s, const char *addr) {
  if (!s || !addr)
    return SIO_ERR_INVAL;
  if (s->closing)
    return SIO_ERR_INVAL;
  return eio_server_listen(s->eio, addr);
}

int sio_server_port(const sio_server *s, size_t idx) {
  if (!s)
    return SIO_ERR_INVAL;
  return eio_server_port(s->eio, idx);
}

/* Frees s once the engine and the adapter have both closed. */
static void close_step(sio_server *s) {
  sio_server_closed_cb cb;
  void *cb_ud;
  if (--s->close_waits > 0)
    return;
  cb = s->close_cb;
  cb_ud = s->close_ud;
  server_release(s);
  sio_free(s);
  if (cb)
    cb(s, cb_ud);
}

static void on_adapter_closed(void *ud) { close_step(ud); }

/* ------------------------------------------------------- sio_server_post */

typedef struct post_letter {
  sio_letter l;
  sio_server *s;
  sio_post_fn fn;
  void *ud;
} post_letter;

static void post_run(sio_letter *l) {
  post_letter *p = (post_letter *)l;
  p->fn(p->s, p->ud);
  sio_free(p);
}

static void post_cancel(sio_letter *l) {
  post_letter *p = (post_letter *)l;
  p->fn(NULL, p->ud); /* the server closed first: ud may be freed */
  sio_free(p);
}

static void on_inbox_closed(sio_mailbox *mb) {
  close_step(sio_container_of(mb, sio_server, inbox));
}

int sio_server_post(sio_server *s, sio_post_fn fn, void *ud) {
  post_letter *p;
  int rv;
  if (!s || !fn)
    return SIO_ERR_INVAL;
  p = sio_malloc(sizeof(*p));
  if (!p)
    return SIO_ERR_NOMEM;
  p->l.fn = post_run;
  p->s = s;
  p->fn = fn;
  p->ud = ud;
  rv = sio_mailbox_post(&s->inbox, &p->l);
  if (rv)
    sio_free(p);
  return rv;
}

static void on_recovery_timer_closed(uv_handle_t *h) { close_step(h->data); }

/* Every period: forget recovery sessions and packets past their time;
 * with the adapter keeping them, refresh its copies instead. */
static void recovery_tick(uv_timer_t *t) {
  sio_server *s = t->data;
  size_t it = 0;
  const sio_map_entry *e;
  uint64_t now = uv_now(s->loop);
  s->recovery_ticks++;
  if (sio_server_adapter_recovery(s)) {
    sio_restore_refresh(s, recovery_period(s));
    return;
  }
  while (sio_map_next(&s->nsps, &it, &e)) {
    sio_namespace *ns = e->val;
    if (ns->recovery)
      sio_recovery_expire(ns->recovery, now);
  }
}

static void on_engine_closed(void *ud) {
  sio_server *s = ud;
  sio_queue *q, *n;
  /* The engine reported every session closed; a client still listed here
   * means it did not, so end it now rather than leak it. */
  sio_queue_foreach_safe(q, n, &s->clients) {
    sio_client *c = sio_container_of(q, sio_client, link);
    SIO_LOGE("session left open by the engine at shutdown");
    c->es = NULL; /* gone with the engine: do not touch it */
    sio_client_on_close(c, "server shutting down");
  }
  s->eio = NULL;
  close_step(s);
}

void sio_server_close(sio_server *s, sio_server_closed_cb cb, void *ud) {
  sio_queue *q, *n;
  if (!s || s->closing)
    return;
  s->closing = 1;
  sio_group_leave(s); /* before the mailbox closes: no loop posts here */
  s->close_cb = cb;
  s->close_ud = ud;
  s->close_waits = 1; /* held until both closes have started */
  /* Cluster calls in flight learn first: their callbacks may still look
   * at sockets. */
  while (!sio_queue_empty(&s->pending)) {
    sio_pending *p =
        sio_container_of(sio_queue_head(&s->pending), sio_pending, link);
    sio_queue_remove(&p->link);
    p->cancel(p);
  }
  /* The reference disconnects every socket before closing the engine. */
  sio_queue_foreach_safe(q, n, &s->clients) {
    sio_client_shutdown(sio_container_of(q, sio_client, link));
  }
  if (s->has_adapter) {
    s->has_adapter = 0; /* nothing reaches it after close() */
    s->close_waits++;
    s->adapter.close(s->adapter_ud, on_adapter_closed, s);
  }
  if (s->opts.recovery) {
    s->close_waits++;
    uv_close((uv_handle_t *)&s->recovery_timer, on_recovery_timer_closed);
  }
  s->close_waits++;
  sio_mailbox_close(&s->inbox, post_cancel, on_inbox_closed);
  s->close_waits++;
  eio_server_close(s->eio, on_engine_closed, s);
  close_step(s);
}

sio_namespace *sio_server_of(sio_server *s, const char *name) {
  sio_namespace *ns;
  size_t len;
  if (!s || !name || name[0] != '/')
    return NULL;
  len = strlen(name);
  ns = sio_map_get(&s->nsps, name, len);
  if (ns)
    return ns;
  if (sio_namespace_new(&ns, s, name))
    return NULL;
  if (sio_map_put(&s->nsps, name, len, ns)) {
    sio_namespace_del(ns);
    return NULL;
  }
  if (s->has_adapter && s->adapter.nsp_open) {
    int rv = s->adapter.nsp_open(s->adapter_ud, ns);
    if (rv)
      SIO_LOGE("adapter cannot serve namespace %s: %s", name, sio_strerror(rv));
  }
  return ns;
}

int sio_server_set_adapter(sio_server *s, const sio_adapter_ops *ops,
                           void *ad) {
  size_t it = 0;
  const sio_map_entry *e;
  if (!s || !ops || !ops->broadcast || !ops->close)
    return SIO_ERR_INVAL;
  if ((ops->flags & SIO_ADAPTER_RECOVERY) &&
      (!ops->persist_session || !ops->restore_session || !ops->drop_session))
    return SIO_ERR_INVAL;
  if (s->has_adapter || s->closing)
    return SIO_ERR_STATE;
  s->adapter = *ops;
  s->adapter_ud = ad;
  s->has_adapter = 1;
  while (ops->nsp_open && sio_map_next(&s->nsps, &it, &e)) {
    int rv = ops->nsp_open(ad, e->val);
    if (rv)
      SIO_LOGE("adapter cannot serve namespace %s: %s",
               ((sio_namespace *)e->val)->name, sio_strerror(rv));
  }
  return 0;
}

uv_loop_t *sio_server_loop(const sio_server *s) { return s ? s->loop : NULL; }

int sio_server_closing(const sio_server *s) { return s && s->closing; }

int sio_server_has_adapter(const sio_server *s) { return s && s->has_adapter; }

int sio_server_recovery(const sio_server *s) { return s && s->opts.recovery; }

sio_namespace *sio_server_find_nsp(const sio_server *s, const char *name,
                                   size_t len) {
  return sio_map_get(&s->nsps, name, len);
}

sio_buf *sio_server_scratch(sio_server *s) {
  if (s->scratch.cap > SIO_SCRATCH_KEEP) {
    sio_buf_deinit(&s->scratch);
    sio_buf_init(&s->scratch);
  }
  sio_buf_reset(&s->scratch);
  return &s->scratch;
}

