/* main.c: the sio-server daemon's entry point.
 *
 * Reads the configuration (file, SIO_<SECTION>_<KEY> environment, flags),
 * sets up logging, authentication and limits, builds a libsio server with
 * the "/" namespace's handlers and the HTTP endpoints on each of the
 * server.threads loops (app_loops.c), listens and runs loop 0 until a
 * drain has finished on every loop.
 *
 * Exit codes: 0 after a clean stop, 1 for a configuration or start-up
 * error, 2 for a command-line error. */
#include <jwt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "app_daemon.h"
#include "app_replay.h"
#include "app_log.h"
#include "app_sdnotify.h"
#include "app_util.h"

extern char **environ;

static void print_msgs(const struct app_msgs *m) {
  size_t i;
  for (i = 0; i < m->n; i++)
    fprintf(stderr, "sio-server: %s: %s\n",
            m->v[i].level == APP_MSG_ERROR  ? "error"
            : m->v[i].level == APP_MSG_WARN ? "warning"
                                            : "note",
            m->v[i].text);
}

/* Development default: no secret configured. A random one is made for
 * this run and a sample token printed, so a newcomer can connect at once.
 * Tokens die with the process. */
static int dev_secret(struct app_daemon *d) {
  uint8_t secret[32];
  jwt_t *jwt = NULL;
  char *tok = NULL;
  int64_t now = (int64_t)(app_now_ms() / 1000);
  if (app_random_bytes(secret, sizeof(secret)) ||
      app_auth_set_secret(d->keys->auth, secret, sizeof(secret)))
    return -1;
  if (jwt_new(&jwt) == 0 &&
      jwt_set_alg(jwt, jwt_str_alg(d->cfg.auth_algorithm), secret,
                  sizeof(secret)) == 0 &&
      jwt_add_grant(jwt, "sub", "dev") == 0 &&
      jwt_add_grant_int(jwt, "iat", now) == 0 &&
      jwt_add_grant_int(jwt, "exp", now + 24 * 3600) == 0 &&
      jwt_add_grants_json(jwt, "{\"projects\":[\"*\"],\"agents\":[\"*\"]}") ==
          0)
    tok = jwt_encode_str(jwt);
  jwt_free(jwt);
  memset(secret, 0, sizeof(secret));
  APP_LOGW("no auth.secret configured: using a random development secret "
           "for this run only");
  if (tok) {
    /* Printed on stdout, not in the log: it is the point of this mode. */
    printf("Development token (user \"dev\", all projects and agents, valid "
           "24 h):\n  %s\n",
           tok);
    fflush(stdout);
    d->dev_token = tok; /* for the dashboard link; freed at exit */
  }
  d->dev_mode = true;
  return 0;
}

/* Dashboard, client bundle, and in development mode an API key, so the
 * dashboard can publish at once; prints where to point a browser. */
static int finish_dev_setup(struct app_daemon *d) {
  const char *dash = d->cfg.server_dashboard;
  char host[64] = "localhost";
  const char *colon;
  size_t len;
  d->dashboard = strcmp(dash, "on") == 0 ||
                 (strcmp(dash, "auto") == 0 && d->dev_mode);
  if (*d->cfg.server_client_js) {
    if (app_read_file(d->cfg.server_client_js, 8u << 20, &d->client_js,
                      &len) != 0) {
      APP_LOGE("server.client_js: cannot read %s", d->cfg.server_client_js);
      return -1;
    }
    d->client_js_len = len;
  }
  if (d->dev_mode && !*d->cfg.api_key) {
    uint8_t rnd[18];
    char *key = malloc(25);
    if (!key || app_random_bytes(rnd, sizeof(rnd))) {
      free(key);
      return -1;
    }
    app_b64url_encode(key, rnd, sizeof(rnd));
    key[24] = 0;
    free(d->cfg.api_key);
    d->cfg.api_key = key;
    printf("Development API key for POST /api/v1/emit:\n  %s\n", key);
  }
  if (d->dashboard) {
    colon = strrchr(d->cfg.server_listen, ':');
    printf("Dashboard: http%s://%s:%s/#%s%s%s%s\n",
           *d->cfg.tls_cert_file ? "s" : "", host,
           colon ? colon + 1 : "3000", d->dev_token ? "token=" : "",
           d->dev_token ? d->dev_token : "", d->dev_mode ? "&key=" : "",
           d->dev_mode ? d->cfg.api_key : "");
  }
  fflush(stdout);
  return 0;
}

static int transports_mask(const char *list) {
  int mask = 0;
  if (strstr(list, "polling"))
    mask |= SIO_TRANSPORT_POLLING;
  if (strstr(list, "websocket"))
    mask |= SIO_TRANSPORT_WEBSOCKET;
  return mask;
}

/* One loop's server; every loop builds the same. */
static int build_server(struct app_loop *l) {
  const struct app_config *c = l->cfg;
  sio_options *o;
  int rv;
  if (sio_options_new(&o))
    return -1;
  rv = sio_options_set_path(o, c->server_path);
  sio_options_set_ping(o, (uint32_t)c->engine_ping_interval_ms,
                       (uint32_t)c->engine_ping_timeout_ms);
  sio_options_set_max_payload(o, (size_t)c->engine_max_payload);
  sio_options_set_connect_timeout(o, (uint32_t)c->engine_connect_timeout_ms);
  if (!rv)
    rv = sio_options_set_transports(o, transports_mask(c->engine_transports));
  if (!rv)
    rv = sio_options_set_cors(o, c->cors_origins, c->cors_credentials);
  if (!rv)
    rv = sio_options_set_cookie(o, c->engine_cookie);
  sio_options_set_forwarding(o, c->engine_forwarding && *c->redis_url,
                             (uint32_t)c->engine_takeover_ms);
  sio_options_set_max_buffered(o, (size_t)c->limits_max_buffered_bytes);
  sio_options_set_close_timeout_ms(o, (uint32_t)c->limits_close_timeout_ms);
  sio_options_set_max_connections(o, (uint32_t)c->limits_max_connections);
  sio_options_set_listen_backlog(o, (uint32_t)c->server_backlog);
  sio_options_set_recovery(o, c->recovery_enabled,
                           (uint32_t)c->recovery_max_disconnection_ms);
  sio_options_set_recovery_persist_interval(
      o, (uint32_t)c->recovery_persist_interval_ms);
  if (!rv && *c->tls_cert_file)
    rv = sio_options_set_tls(o, c->tls_cert_file, c->tls_key_file,
                             c->tls_chain_file);
  if (!rv && *c->tls_cert_file)
    rv = sio_options_set_tls_min_version(o, c->tls_min_version);
  if (!rv)
    rv = sio_server_new(&l->srv, l->loop, o);
  sio_options_del(o);
  if (rv) {
    APP_LOGE("cannot create the server: %s", sio_strerror(rv));
    return -1;
  }
  l->ns = sio_server_of(l->srv, "/");
  if (!l->ns)
    return -1;
  if (app_replay_install(l) != 0)
    return -1;
  app_commands_install(l);
  app_http_install(l);
  return app_cluster_install(l);
}

static int setup(struct app_daemon *d) {
  struct app_msgs msgs;
  struct app_auth *auth = NULL;
  uint8_t seed[32];
  char host[64];
  int rv;
  app_msgs_init(&msgs);
  rv = app_auth_new_from_config(&auth, &d->cfg, &msgs);
  print_msgs(&msgs);
  app_msgs_deinit(&msgs);
  if (rv || !(d->keys = app_keys_new(auth))) {
    app_auth_del(auth);
    return -1;
  }
  if (app_auth_is_none(auth)) {
    APP_LOGW("auth.mode = none: every client is accepted WITHOUT a token; "
             "for development only, never in production");
    d->dev_mode = true;
  } else if (!app_auth_has_key(auth) && dev_secret(d) != 0) {
    return -1;
  }
  if (app_random_bytes(seed, sizeof(seed)) || uv_mutex_init(&d->tab_lock) ||
      app_keytab_new(&d->users, 1u << 20, 60000, seed) ||
      app_keytab_new(&d->ips, 1u << 16, 60000, seed + 16))
    return -1;
  if (*d->cfg.server_id) {
    snprintf(d->server_id, sizeof(d->server_id), "%s", d->cfg.server_id);
  } else {
    if (gethostname(host, sizeof(host)) != 0)
      strcpy(host, "sio-server");
    host[sizeof(host) - 1] = 0;
    snprintf(d->server_id, sizeof(d->server_id), "%s-%ld", host,
             (long)getpid());
  }
  d->start_ms = app_now_ms();
  /* before the loops copy the configuration: it may add an API key */
  if (finish_dev_setup(d) != 0 || app_signals_install(d) ||
      app_loops_start(d, build_server))
    return -1;
  return 0;
}

static void teardown(struct app_daemon *d) {
  app_loops_join(d);
  free(d->dev_token);
  free(d->client_js);
  app_keytab_del(d->users);
  app_keytab_del(d->ips);
  uv_mutex_destroy(&d->tab_lock);
  app_keys_unref(d->keys);
  app_config_deinit(&d->cfg);
}

int main(int argc, char **argv) {
  struct app_daemon d;
  struct app_cli cli;
  struct app_msgs msgs;
  int rv, lvl, fmt;

  memset(&d, 0, sizeof(d));
  app_msgs_init(&msgs);
  if (app_cli_parse(&cli, argc, argv, &msgs) != 0) {
    print_msgs(&msgs);
    fprintf(stderr, "Try '%s --help'.\n", argv[0]);
    app_msgs_deinit(&msgs);
    return 2;
  }
  switch (cli.action) {
  case APP_CLI_HELP:
    app_config_help(stdout, argv[0]);
    app_cli_deinit(&cli);
    return 0;
  case APP_CLI_VERSION:
    printf("sio-server %s\n", SIO_VERSION);
    app_cli_deinit(&cli);
    return 0;
  case APP_CLI_CHECK_CONFIG:
    rv = app_config_check(cli.config_path, environ, &cli, stdout, stderr);
    app_cli_deinit(&cli);
    return rv ? 1 : 0;
  case APP_CLI_RUN:
    break;
  }
  rv = app_config_load(&d.cfg, cli.config_path, environ, &cli, &msgs);
  print_msgs(&msgs);
  app_msgs_deinit(&msgs);
  if (rv) {
    app_cli_deinit(&cli);
    return 1;
  }
  lvl = app_log_level_parse(d.cfg.log_level);
  fmt = app_log_format_parse(d.cfg.log_format);
  app_log_init(lvl < 0 ? SIO_LOG_INFO : lvl, fmt == 1);
  d.cli = &cli;
  d.envp = environ;
  d.exit_code = 0;
  APP_LOGI("sio-server %s starting%s%s", SIO_VERSION,
           d.cfg.file ? " with " : " with defaults (no config file)",
           d.cfg.file ? d.cfg.file : "");
  app_sd_init();
  if (setup(&d) != 0) {
    /* Nothing has been served yet: exit without unwinding the loop. */
    APP_LOGE("start-up failed");
    return 1;
  }
  app_daemon_ready(&d);
  uv_run(uv_default_loop(), UV_RUN_DEFAULT);
  rv = uv_loop_close(uv_default_loop());
  if (rv)
    APP_LOGW("loop closed with handles open");
  teardown(&d);
  app_cli_deinit(&cli);
  return d.exit_code;
}
