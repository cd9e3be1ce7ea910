/* Unit tests of src/app/app_config.c: SPEC §4 key names and defaults, the
 * INI file, SIO_<SECTION>_<KEY> and CLI sources and their precedence, every
 * error naming key and source, validation, --help/--check-config output
 * with secrets masked, reload of reloadable keys only, and that the
 * committed generated files (packaging/sio-server.conf,
 * docs/configuration.md, docs/events.md) match the tables. */
#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "app_config.h"
#include "app_events.h"
#include "check_suites.h"

/* ------------------------------------------------------------- helpers */

static const char *top_srcdir(void) {
  static char buf[2048];
  const char *env = getenv("srcdir");
  const char *f = __FILE__, *p;
  if (env && *env)
    return env;
  p = strstr(f, "tests/test_app_config.c");
  if (!p || p == f)
    return ".";
  snprintf(buf, sizeof(buf), "%.*s", (int)(p - f - 1), f);
  return buf;
}

static char tmp_path[64];

static const char *write_tmp(const char *text) {
  int fd;
  snprintf(tmp_path, sizeof(tmp_path), "/tmp/sio-test-conf-XXXXXX");
  fd = mkstemp(tmp_path);
  ck_assert_int_ge(fd, 0);
  ck_assert_int_eq(write(fd, text, strlen(text)), (ssize_t)strlen(text));
  close(fd);
  return tmp_path;
}

/* Loads from an optional file text, env and argv; returns load's result. */
static int load(struct app_config *cfg, const char *file, char **env,
                char **argv, struct app_msgs *m) {
  struct app_cli cli;
  int argc = 0, rc;
  const char *path = file ? write_tmp(file) : NULL;
  char *def_argv[] = {"sio-server", NULL};
  if (!argv)
    argv = def_argv;
  while (argv[argc])
    argc++;
  ck_assert_int_eq(app_cli_parse(&cli, argc, argv, m), 0);
  rc = app_config_load(cfg, path, env, &cli, m);
  app_cli_deinit(&cli);
  if (path)
    unlink(path);
  return rc;
}

static bool has_msg(const struct app_msgs *m, enum app_msg_level level,
                    const char *text) {
  size_t i;
  for (i = 0; i < m->n; i++)
    if (m->v[i].level == level && strstr(m->v[i].text, text))
      return true;
  return false;
}

static void dump_msgs(const struct app_msgs *m) {
  size_t i;
  for (i = 0; i < m->n; i++)
    fprintf(stderr, "msg[%zu] %d: %s\n", i, m->v[i].level, m->v[i].text);
}

/* Loads and expects exactly one error containing text. */
static void expect_error(const char *file, char **env, char **argv,
                         const char *text) {
  struct app_config cfg;
  struct app_msgs m = {0};
  int rc = load(&cfg, file, env, argv, &m);
  if (rc != -1 || !has_msg(&m, APP_MSG_ERROR, text))
    dump_msgs(&m);
  ck_assert_int_eq(rc, -1);
  ck_assert_msg(has_msg(&m, APP_MSG_ERROR, text), "want error: %s", text);
  ck_assert_ptr_null(cfg.src);
  app_msgs_deinit(&m);
}

static char *capture(void (*fn)(FILE *, void *), void *arg) {
  char *buf = NULL;
  size_t len = 0;
  FILE *f = open_memstream(&buf, &len);
  fn(f, arg);
  fclose(f);
  return buf;
}

/* --------------------------------------------------------------- tests */

START_TEST(spec_keys_and_defaults) {
  static const char *spec[][3] = {
      {"server", "listen", "0.0.0.0:3000"},
      {"server", "path", "/socket.io/"},
      {"server", "trusted_proxies", ""},
      {"engine", "ping_interval_ms", "25000"},
      {"engine", "ping_timeout_ms", "20000"},
      {"engine", "max_payload", "1000000"},
      {"engine", "transports", "polling,websocket"},
      {"engine", "connect_timeout_ms", "45000"},
      {"engine", "cookie", ""},
      {"auth", "mode", "jwt"},
      {"auth", "algorithm", "HS256"},
      {"auth", "secret", "(not set)"},
      {"auth", "secret_file", ""},
      {"auth", "public_key_file", ""},
      {"auth", "issuer", ""},
      {"auth", "audience", ""},
      {"auth", "require_exp", "true"},
      {"auth", "leeway_s", "30"},
      {"auth", "claim_projects", "projects"},
      {"auth", "claim_agents", "agents"},
      {"auth", "claim_role", "role"},
      {"redis", "url", ""},
      {"redis", "key", "socket.io"},
      {"redis", "adapter", "classic"},
      {"redis", "tls_ca_file", ""},
      {"redis", "tls_cert_file", ""},
      {"redis", "tls_key_file", ""},
      {"api", "key", "(not set)"},
      {"cors", "origins", "*"},
      {"cors", "credentials", "false"},
      {"limits", "max_connections", NULL},
      {"limits", "max_connections_per_user", "5"},
      {"limits", "events_per_minute", "60"},
      {"limits", "events_burst", "30"},
      {"limits", "max_buffered_bytes", NULL},
      {"limits", "handshakes_per_ip_per_s", NULL},
      {"limits", "max_rooms_per_socket", NULL},
      {"recovery", "enabled", "false"},
      {"recovery", "max_disconnection_ms", "120000"},
      {"tls", "cert_file", ""},
      {"tls", "key_file", ""},
      {"tls", "chain_file", ""},
      {"log", "level", "info"},
      {"log", "format", "text"},
      {"metrics", "enabled", "true"},
  };
  struct app_config cfg;
  struct app_msgs m = {0};
  size_t i;
  ck_assert_int_eq(load(&cfg, NULL, NULL, NULL, &m), 0);
  for (i = 0; i < sizeof(spec) / sizeof(spec[0]); i++) {
    const struct app_config_key *k = app_config_find(spec[i][0], spec[i][1]);
    char v[256];
    ck_assert_msg(k != NULL, "missing %s.%s", spec[i][0], spec[i][1]);
    app_config_display(&cfg, (size_t)(k - app_config_keys), v, sizeof(v));
    if (spec[i][2])
      ck_assert_msg(strcmp(v, spec[i][2]) == 0, "%s.%s = %s", spec[i][0],
                    spec[i][1], v);
    ck_assert_int_eq(cfg.src[k - app_config_keys].kind, APP_CFG_SRC_DEFAULT);
  }
  /* typed fields */
  ck_assert_str_eq(cfg.server_listen, "0.0.0.0:3000");
  ck_assert_int_eq(cfg.engine_ping_interval_ms, 25000);
  ck_assert_uint_eq(cfg.engine_max_payload, 1000000);
  ck_assert_int_eq(cfg.limits_max_connections_per_user, 5);
  ck_assert_uint_eq(cfg.limits_max_buffered_bytes, 4u << 20);
  ck_assert(cfg.auth_require_exp && !cfg.recovery_enabled &&
            cfg.metrics_enabled && !cfg.cors_credentials);
  ck_assert_str_eq(cfg.auth_secret, "");
  ck_assert_ptr_null(cfg.file);
  /* the only message of a default run: no HS secret yet */
  ck_assert_uint_eq(m.n_errors, 0);
  ck_assert(has_msg(&m, APP_MSG_WARN, "auth.secret: no secret set"));
  app_config_deinit(&cfg);
  app_config_deinit(&cfg);
  app_msgs_deinit(&m);
}
END_TEST

START_TEST(table_is_sane) {
  size_t i, j;
  for (i = 0; i < app_config_nkeys; i++) {
    const struct app_config_key *k = &app_config_keys[i];
    char env[80];
    ck_assert_uint_gt(strlen(k->help), 10);
    ck_assert_ptr_nonnull(k->def);
    app_config_env_name(k, env, sizeof(env));
    ck_assert_int_eq(strncmp(env, "SIO_", 4), 0);
    for (j = 0; env[j]; j++)
      ck_assert(env[j] == '_' || (env[j] >= 'A' && env[j] <= 'Z') ||
                (env[j] >= '0' && env[j] <= '9'));
    ck_assert_ptr_eq(app_config_find(k->section, k->name), k);
    for (j = 0; j < i; j++) {
      ck_assert(strcmp(k->section, app_config_keys[j].section) != 0 ||
                strcmp(k->name, app_config_keys[j].name) != 0);
      if (k->cli && app_config_keys[j].cli)
        ck_assert_str_ne(k->cli, app_config_keys[j].cli);
    }
    if (k->flags & APP_CFG_SECRET)
      ck_assert_ptr_null(k->cli);
  }
  {
    char env[80];
    app_config_env_name(app_config_find("engine", "ping_interval_ms"), env,
                        sizeof(env));
    ck_assert_str_eq(env, "SIO_ENGINE_PING_INTERVAL_MS");
  }
  ck_assert_ptr_nonnull(app_config_find("ENGINE", "Ping_Interval_MS"));
  ck_assert_ptr_null(app_config_find("engine", "nope"));
}
END_TEST

START_TEST(file_values_and_syntax) {
  struct app_config cfg;
  struct app_msgs m = {0};
  const char *text = "; comment\n"
                     "# another\n"
                     "[server]\n"
                     "listen = 127.0.0.1:8080 , [::1]:8081,,\n"
                     "  path = /rt/   \n" /* leading blanks are fine */
                     "[engine]\n"
                     "max_payload = 2m\n"
                     "ping_interval_ms = 30s\n"
                     "transports = WebSocket\n"
                     "[auth]\n"
                     "algorithm = hs512\n"
                     "secret = \"a secret with spaces;and=signs\"\n"
                     "require_exp = no\n"
                     "[cors]\n"
                     "credentials = on\n"
                     "origins = https://a.example, http://b.example:8080\n"
                     "[LOG]\n"
                     "Level = DEBUG ; inline comment\n";
  ck_assert_int_eq(load(&cfg, text, NULL, NULL, &m), 0);
  ck_assert_str_eq(cfg.server_listen, "127.0.0.1:8080,[::1]:8081");
  ck_assert_str_eq(cfg.server_path, "/rt/");
  ck_assert_uint_eq(cfg.engine_max_payload, 2u << 20);
  ck_assert_int_eq(cfg.engine_ping_interval_ms, 30000);
  ck_assert_str_eq(cfg.engine_transports, "websocket");
  ck_assert_str_eq(cfg.auth_algorithm, "HS512");
  ck_assert_str_eq(cfg.auth_secret, "a secret with spaces;and=signs");
  ck_assert(!cfg.auth_require_exp);
  ck_assert(cfg.cors_credentials);
  ck_assert_str_eq(cfg.cors_origins, "https://a.example,http://b.example:8080");
  ck_assert_str_eq(cfg.log_level, "debug");
  ck_assert_int_eq(
      cfg.src[app_config_find("log", "level") - app_config_keys].kind,
      APP_CFG_SRC_FILE);
  ck_assert_ptr_nonnull(strstr(
      cfg.src[app_config_find("log", "level") - app_config_keys].where, ":18"));
  ck_assert_str_eq(cfg.file, tmp_path);
  app_config_deinit(&cfg);
  app_msgs_deinit(&m);
}
END_TEST

START_TEST(precedence) {
  struct app_config cfg;
  struct app_msgs m = {0};
  char *env[] = {"SIO_SERVER_LISTEN=0.0.0.0:2", "SIO_LOG_LEVEL=warn",
                 "SIO_REDIS_KEY=env-key",       "HOME=/root",
                 "SIO_NOT_A_SECTION_X=1",       NULL};
  char *argv[] = {"sio-server", "--listen", "0.0.0.0:3", "--redis.key=cli-key",
                  NULL};
  const char *file = "[server]\nlisten = 0.0.0.0:1\npath = /f/\n"
                     "[log]\nlevel = error\nformat = json\n";
  size_t i_listen =
      (size_t)(app_config_find("server", "listen") - app_config_keys);
  ck_assert_int_eq(load(&cfg, file, env, argv, &m), 0);
  ck_assert_str_eq(cfg.server_listen, "0.0.0.0:3"); /* cli */
  ck_assert_str_eq(cfg.redis_key, "cli-key");       /* cli over env */
  ck_assert_str_eq(cfg.log_level, "warn");          /* env over file */
  ck_assert_str_eq(cfg.log_format, "json");         /* file */
  ck_assert_str_eq(cfg.server_path, "/f/");         /* file */
  ck_assert_str_eq(cfg.engine_transports, "polling,websocket"); /* default */
  ck_assert_int_eq(cfg.src[i_listen].kind, APP_CFG_SRC_CLI);
  ck_assert_str_eq(cfg.src[i_listen].where, "--listen");
  ck_assert_str_eq(
      cfg.src[app_config_find("log", "level") - app_config_keys].where,
      "SIO_LOG_LEVEL");
  ck_assert_uint_eq(m.n_errors, 0);
  app_config_deinit(&cfg);
  app_msgs_deinit(&m);
}
END_TEST

START_TEST(errors_name_key_and_source) {
  char *env1[] = {"SIO_ENGINE_PING_INTERVAL_MS=abc", NULL};
  char *env2[] = {"SIO_AUTH_MODE=maybe", NULL};
  char *argv1[] = {"sio-server", "--ping-timeout", "0", NULL};
  char *argv2[] = {"sio-server", "--engine.max_payload=5x", NULL};
  expect_error(NULL, env1, NULL,
               "engine.ping_interval_ms: not a number (from "
               "SIO_ENGINE_PING_INTERVAL_MS)");
  expect_error(NULL, env2, NULL,
               "auth.mode: \"maybe\" is not one of jwt, none (from "
               "SIO_AUTH_MODE)");
  expect_error(NULL, NULL, argv1,
               "engine.ping_timeout_ms: 0 is out of range 1..3600000 (from "
               "--ping-timeout)");
  expect_error(NULL, NULL, argv2,
               "engine.max_payload: unknown size suffix (use k, m or g) "
               "(from --engine.max_payload)");
  expect_error("[engine]\n\nconnect_timeout_ms = soon\n", NULL, NULL,
               "engine.connect_timeout_ms: not a number (from /tmp/");
  expect_error("[engine]\n\nconnect_timeout_ms = soon\n", NULL, NULL, ":3)");
  expect_error("[limits]\nevents_burst = 0\n", NULL, NULL,
               "limits.events_burst: 0 is out of range");
  expect_error("[cors]\ncredentials = maybe\n", NULL, NULL,
               "cors.credentials: not a boolean");
  expect_error("[engine]\ntransports = polling,carrier-pigeon\n", NULL, NULL,
               "engine.transports: \"carrier-pigeon\" is not one of polling, "
               "websocket");
  expect_error("[engine]\ntransports = ,\n", NULL, NULL,
               "engine.transports: at least one");
  expect_error("[server]\nlisten = localhost\n", NULL, NULL,
               "server.listen: \"localhost\": expected host:port");
  expect_error("[server]\nlisten = 0.0.0.0:65536\n", NULL, NULL,
               "server.listen: \"0.0.0.0:65536\": port must be");
  expect_error("[server]\nlisten = ::1:80\n", NULL, NULL, "[addr]:port");
  expect_error("[server]\npath = socket.io\n", NULL, NULL,
               "server.path: \"socket.io\": must start with /");
  expect_error("[server]\ntrusted_proxies = 10.0.0.0/33\n", NULL, NULL,
               "server.trusted_proxies: \"10.0.0.0/33\": bad CIDR");
  expect_error("[server]\ntrusted_proxies = proxy.local\n", NULL, NULL,
               "expected an IP address or CIDR range");
  expect_error("[cors]\norigins = https://a.example/\n", NULL, NULL,
               "cors.origins: \"https://a.example/\": an Origin has no path");
  expect_error("[cors]\norigins = *, https://a.example\n", NULL, NULL,
               "cors.origins: * must be the only item");
  expect_error("[engine]\ncookie = io cookie\n", NULL, NULL,
               "engine.cookie: \"io cookie\": must be a cookie name");
  expect_error("[redis]\nurl = http://x\n", NULL, NULL,
               "redis.url: \"http://x\": must start with redis://");
  expect_error("[auth]\nclaim_role =\n", NULL, NULL,
               "auth.claim_role: \"\": must not be empty");
}
END_TEST

/* server.threads: a count from 1 to 64 or auto, never reloaded. */
START_TEST(threads_key) {
  char *zero[] = {"SIO_SERVER_THREADS=0", NULL};
  char *over[] = {"SIO_SERVER_THREADS=65", NULL};
  char *word[] = {"SIO_SERVER_THREADS=x", NULL};
  char *neg[] = {"SIO_SERVER_THREADS=-2", NULL};
  char *two[] = {"SIO_SERVER_THREADS=2", NULL};
  char *max[] = {"SIO_SERVER_THREADS=64", NULL};
  char *argv[] = {"sio-server", "--threads", "AUTO", NULL};
  struct app_config cfg, copy;
  struct app_msgs m = {0};
  long cpus = sysconf(_SC_NPROCESSORS_ONLN);
#define THREADS_ERR(v)                                                         \
  "server.threads: \"" v "\": expected auto or a number of threads from 1 "   \
  "to 64 (from SIO_SERVER_THREADS)"
  expect_error(NULL, zero, NULL, THREADS_ERR("0"));
  expect_error(NULL, over, NULL, THREADS_ERR("65"));
  expect_error(NULL, word, NULL, THREADS_ERR("x"));
  expect_error(NULL, neg, NULL, THREADS_ERR("-2"));
#undef THREADS_ERR
  expect_error("[server]\nthreads = 1.5\n", NULL, NULL,
               "server.threads: \"1.5\": expected auto");

  ck_assert_int_eq(load(&cfg, NULL, NULL, NULL, &m), 0);
  ck_assert_uint_eq(app_config_threads(&cfg), 1);
  app_config_deinit(&cfg);
  ck_assert_int_eq(load(&cfg, NULL, two, NULL, &m), 0);
  ck_assert_uint_eq(app_config_threads(&cfg), 2);
  /* a loop's copy owns its strings: it outlives the original */
  ck_assert_int_eq(app_config_copy(&copy, &cfg), 0);
  ck_assert_ptr_ne(copy.server_threads, cfg.server_threads);
  ck_assert_ptr_null(copy.src);
  app_config_deinit(&cfg);
  ck_assert_str_eq(copy.server_threads, "2");
  ck_assert_str_eq(copy.server_path, "/socket.io/");
  ck_assert_int_eq(copy.limits_events_per_minute, 60);
  app_config_deinit(&copy);
  ck_assert_int_eq(load(&cfg, NULL, max, NULL, &m), 0);
  ck_assert_uint_eq(app_config_threads(&cfg), 64);
  app_config_deinit(&cfg);
  ck_assert_int_eq(load(&cfg, NULL, NULL, argv, &m), 0);
  ck_assert_uint_eq(app_config_threads(&cfg),
                    cpus < 1 ? 1 : cpus > 64 ? 64 : (unsigned)cpus);
  app_config_deinit(&cfg);
  ck_assert_uint_eq(app_config_find("server", "threads")->flags &
                        APP_CFG_RELOAD,
                    0);
  app_msgs_deinit(&m);
}
END_TEST

START_TEST(file_structure_errors) {
  char longline[400];
  expect_error("[server]\nlisten = 0.0.0.0:1\nbogus = 1\n", NULL, NULL,
               ":3: unknown key \"bogus\" in [server]");
  expect_error("[nope]\nx = 1\n", NULL, NULL, ":2: unknown section [nope]");
  expect_error("listen = 0.0.0.0:1\n", NULL, NULL,
               ":1: key \"listen\" is outside any [section]");
  expect_error("[log]\nlevel = info\n\nlevel = debug\n", NULL, NULL,
               "log.level: set twice in");
  expect_error("[log]\nlevel = info\n\nlevel = debug\n", NULL, NULL,
               "(lines 2 and 4)");
  expect_error("[log\nlevel = info\n", NULL, NULL, ":1: syntax error");
  expect_error("[log]\nlevel info\n", NULL, NULL, ":2: syntax error");
  snprintf(longline, sizeof(longline), "[auth]\nissuer = %0300d\n", 1);
  expect_error(longline, NULL, NULL, ":2: line too long");
  {
    struct app_config cfg;
    struct app_msgs m = {0};
    struct app_cli cli = {0};
    ck_assert_int_eq(
        app_config_load(&cfg, "/nonexistent/sio.conf", NULL, &cli, &m), -1);
    ck_assert(has_msg(&m, APP_MSG_ERROR,
                      "cannot read config file /nonexistent/sio.conf"));
    app_msgs_deinit(&m);
  }
}
END_TEST

START_TEST(cross_key_validation) {
  struct app_config cfg;
  struct app_msgs m = {0};
  char *env_rs[] = {"SIO_AUTH_ALGORITHM=RS256", NULL};
  char *env_both[] = {"SIO_AUTH_SECRET=0123456789abcdef0123456789abcdef",
                      "SIO_AUTH_SECRET_FILE=/etc/hostname", NULL};
  char *env_tls[] = {"SIO_TLS_CERT_FILE=/etc/hostname", NULL};
  char *env_none[] = {"SIO_AUTH_MODE=none", "SIO_API_KEY=short", NULL};
  expect_error(NULL, env_rs, NULL,
               "auth.public_key_file: required with algorithm RS256 (from "
               "SIO_AUTH_ALGORITHM)");
  expect_error(NULL, env_both, NULL,
               "auth.secret_file: set either auth.secret or auth.secret_file");
  expect_error(NULL, env_tls, NULL,
               "tls.key_file: tls.cert_file and tls.key_file must be set "
               "together");
  expect_error("[auth]\nsecret_file = /nonexistent/secret\n", NULL, NULL,
               "auth.secret_file: cannot read /nonexistent/secret");
  ck_assert_int_eq(load(&cfg, NULL, env_none, NULL, &m), 0);
  ck_assert(has_msg(&m, APP_MSG_WARN, "auth.mode: none accepts every"));
  ck_assert(has_msg(&m, APP_MSG_WARN, "api.key: shorter than 16"));
  ck_assert(!has_msg(&m, APP_MSG_WARN, "short\""));
  app_config_deinit(&cfg);
  app_msgs_deinit(&m);
}
END_TEST

START_TEST(env_typos_warned) {
  struct app_config cfg;
  struct app_msgs m = {0};
  char *env[] = {"SIO_AUTH_SECRTE=x", "SIO_BENCH_X=1", "SIO_=1", "SIO_AUTH",
                 NULL};
  ck_assert_int_eq(load(&cfg, NULL, env, NULL, &m), 0);
  ck_assert(
      has_msg(&m, APP_MSG_WARN, "SIO_AUTH_SECRTE: no such configuration key"));
  ck_assert(!has_msg(&m, APP_MSG_WARN, "SIO_BENCH_X"));
  app_config_deinit(&cfg);
  app_msgs_deinit(&m);
}
END_TEST

START_TEST(value_syntax) {
  static const struct {
    const char *key, *value, *want;
  } ok[] = {
      {"SIO_ENGINE_MAX_PAYLOAD", "1k", "1024"},
      {"SIO_ENGINE_MAX_PAYLOAD", "64 KB", "65536"},
      {"SIO_ENGINE_MAX_PAYLOAD", "1G", "1073741824"},
      {"SIO_ENGINE_MAX_PAYLOAD", " 123 ", "123"},
      {"SIO_ENGINE_PING_INTERVAL_MS", "2s", "2000"},
      {"SIO_ENGINE_PING_INTERVAL_MS", "1m", "60000"},
      {"SIO_ENGINE_PING_INTERVAL_MS", "1h", "3600000"},
      {"SIO_ENGINE_PING_INTERVAL_MS", "250ms", "250"},
      {"SIO_RECOVERY_ENABLED", "OFF", "false"},
      {"SIO_RECOVERY_ENABLED", "1", "true"},
      {"SIO_RECOVERY_ENABLED", "Yes", "true"},
      {"SIO_LIMITS_MAX_CONNECTIONS", "0", "0"},
      {"SIO_LOG_FORMAT", "JSON", "json"},
  };
  size_t i;
  for (i = 0; i < sizeof(ok) / sizeof(ok[0]); i++) {
    struct app_config cfg;
    struct app_msgs m = {0};
    char var[128], v[64];
    char *env[] = {var, NULL};
    const struct app_config_key *k = NULL;
    size_t j;
    snprintf(var, sizeof(var), "%s=%s", ok[i].key, ok[i].value);
    ck_assert_int_eq(load(&cfg, NULL, env, NULL, &m), 0);
    for (j = 0; j < app_config_nkeys; j++) {
      char name[80];
      app_config_env_name(&app_config_keys[j], name, sizeof(name));
      if (strcmp(name, ok[i].key) == 0)
        k = &app_config_keys[j];
    }
    ck_assert_ptr_nonnull(k);
    app_config_display(&cfg, (size_t)(k - app_config_keys), v, sizeof(v));
    ck_assert_msg(strcmp(v, ok[i].want) == 0, "%s -> %s", var, v);
    app_config_deinit(&cfg);
    app_msgs_deinit(&m);
  }
  {
    char *env[] = {"SIO_ENGINE_MAX_PAYLOAD=99999999999999999999999", NULL};
    expect_error(NULL, env, NULL, "engine.max_payload: number too large");
  }
  {
    char *env[] = {"SIO_ENGINE_PING_INTERVAL_MS=-5", NULL};
    expect_error(NULL, env, NULL, "-5 is out of range");
  }
  {
    char *env[] = {"SIO_ENGINE_PING_INTERVAL_MS=5 days", NULL};
    expect_error(NULL, env, NULL, "unknown duration suffix");
  }
}
END_TEST

START_TEST(cli_parsing) {
  struct app_cli cli;
  struct app_msgs m = {0};
  char *a1[] = {"x",           "-c",    "/etc/s.conf",        "--check-config",
                "--log-level", "debug", "--engine.cookie=io", NULL};
  char *a2[] = {"x", "--config=/a", "--help", "--version", NULL};
  char *a3[] = {"x", "-V", NULL};
  ck_assert_int_eq(app_cli_parse(&cli, 7, a1, &m), 0);
  ck_assert_int_eq(cli.action, APP_CLI_CHECK_CONFIG);
  ck_assert_str_eq(cli.config_path, "/etc/s.conf");
  ck_assert_uint_eq(cli.n_ov, 2);
  ck_assert_str_eq(app_config_keys[cli.ov[0].key].name, "level");
  ck_assert_str_eq(cli.ov[0].value, "debug");
  ck_assert_str_eq(app_config_keys[cli.ov[1].key].name, "cookie");
  ck_assert_str_eq(cli.ov[1].value, "io");
  app_cli_deinit(&cli);
  ck_assert_int_eq(app_cli_parse(&cli, 4, a2, &m), 0);
  ck_assert_int_eq(cli.action, APP_CLI_HELP);
  ck_assert_str_eq(cli.config_path, "/a");
  app_cli_deinit(&cli);
  ck_assert_int_eq(app_cli_parse(&cli, 2, a3, &m), 0);
  ck_assert_int_eq(cli.action, APP_CLI_VERSION);
  app_cli_deinit(&cli);
  ck_assert_uint_eq(m.n, 0);
  {
    static const struct {
      char *argv[4];
      const char *msg;
    } bad[] = {
        {{"x", "--frobnicate", NULL}, "unknown option --frobnicate"},
        {{"x", "-z", NULL}, "unknown option -z"},
        {{"x", "stray", NULL}, "unexpected argument \"stray\""},
        {{"x", "--listen", NULL}, "option --listen needs a value"},
        {{"x", "--config", NULL}, "option --config needs a file name"},
        {{"x", "--auth.secret=hunter2", NULL},
         "auth.secret cannot be set on the command line"},
        {{"x", "--api.key", "k", NULL}, "api.key cannot be set on the"},
        {{"x", "--engine.nope=1", NULL}, "unknown option --engine.nope"},
    };
    size_t i;
    for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
      int argc = 0;
      struct app_msgs e = {0};
      while (bad[i].argv[argc])
        argc++;
      ck_assert_int_eq(app_cli_parse(&cli, argc, (char **)bad[i].argv, &e), -1);
      ck_assert_msg(has_msg(&e, APP_MSG_ERROR, bad[i].msg), "%s", bad[i].msg);
      ck_assert(!has_msg(&e, APP_MSG_ERROR, "hunter2"));
      app_cli_deinit(&cli);
      app_msgs_deinit(&e);
    }
  }
}
END_TEST

struct check_args {
  char **env;
  int rc;
  char *err;
};

static void run_check(FILE *out, void *arg) {
  struct check_args *a = arg;
  struct app_cli cli = {0};
  size_t len;
  FILE *err = open_memstream(&a->err, &len);
  a->rc = app_config_check(NULL, a->env, &cli, out, err);
  fclose(err);
}

static void run_help(FILE *out, void *arg) {
  (void)arg;
  app_config_help(out, "sio-server");
}

START_TEST(secrets_never_printed) {
  char *env[] = {"SIO_AUTH_SECRET=hunter2-hunter2-hunter2-hunter2-xx",
                 "SIO_API_KEY=apikey-apikey-apikey",
                 "SIO_REDIS_URL=redis://user:pa55word@cache:6379/2", NULL};
  char *env_bad[] = {"SIO_AUTH_SECRET=hunter2-hunter2-hunter2-hunter2-xx",
                     "SIO_ENGINE_PING_INTERVAL_MS=x", NULL};
  struct check_args a = {env, -1, NULL};
  struct app_config cfg;
  struct app_msgs m = {0};
  char *out = capture(run_check, &a), v[128];
  ck_assert_int_eq(a.rc, 0);
  ck_assert_ptr_null(strstr(out, "hunter2"));
  ck_assert_ptr_null(strstr(out, "apikey"));
  ck_assert_ptr_null(strstr(out, "pa55word"));
  ck_assert_ptr_null(strstr(a.err, "hunter2"));
  ck_assert_ptr_nonnull(
      strstr(out, "auth.secret = (set)    # from SIO_AUTH_SECRET\n"));
  ck_assert_ptr_nonnull(strstr(out, "api.key = (set)"));
  ck_assert_ptr_nonnull(
      strstr(out, "redis.url = redis://user:***@cache:6379/2"));
  ck_assert_ptr_nonnull(strstr(out, "engine.ping_interval_ms = 25000\n"));
  ck_assert_ptr_nonnull(strstr(out, "configuration OK\n"));
  free(out);
  free(a.err);

  a.env = env_bad;
  out = capture(run_check, &a);
  ck_assert_int_eq(a.rc, 1);
  ck_assert_ptr_nonnull(
      strstr(a.err, "error: engine.ping_interval_ms: not a number (from "
                    "SIO_ENGINE_PING_INTERVAL_MS)\n"));
  ck_assert_ptr_nonnull(strstr(a.err, "configuration has 1 error\n"));
  ck_assert_ptr_null(strstr(a.err, "hunter2"));
  ck_assert_ptr_null(strstr(out, "hunter2"));
  free(out);
  free(a.err);

  /* --check-config of a sentinel URL, then of a malformed cluster one */
  {
    char *env_s[] = {
        "SIO_AUTH_SECRET=hunter2-hunter2-hunter2-hunter2-xx",
        "SIO_REDIS_URL=rediss+sentinel://app:pa55word@s1:26379,s2:1/mymaster",
        NULL};
    char *env_c[] = {"SIO_AUTH_SECRET=hunter2-hunter2-hunter2-hunter2-xx",
                     "SIO_REDIS_URL=redis+cluster://app:pa55word@n1:7000,n2:0",
                     NULL};
    a.env = env_s;
    out = capture(run_check, &a);
    ck_assert_int_eq(a.rc, 0);
    ck_assert_ptr_nonnull(strstr(out, "redis.url = rediss+sentinel://"
                                      "app:***@s1:26379,s2:1/mymaster"));
    ck_assert_ptr_null(strstr(out, "pa55word"));
    ck_assert_ptr_null(strstr(a.err, "pa55word"));
    free(out);
    free(a.err);
    a.env = env_c;
    out = capture(run_check, &a);
    ck_assert_int_eq(a.rc, 1);
    ck_assert_ptr_nonnull(
        strstr(a.err, "error: redis.url: \"redis+cluster://app:***@n1:7000,"
                      "n2:0\": \"n2:0\": port must be a number from 1 to "
                      "65535 (from SIO_REDIS_URL)\n"));
    ck_assert_ptr_null(strstr(out, "pa55word"));
    ck_assert_ptr_null(strstr(a.err, "pa55word"));
    free(out);
    free(a.err);
  }

  /* masks for other URL shapes */
  {
    static const char *urls[][2] = {
        {"redis://:pw@h:1", "redis://:***@h:1"},
        {"redis://pw@h:1/0", "redis://***@h:1/0"},
        {"redis://h:1", "redis://h:1"},
        {"unix:///run/redis.sock", "unix:///run/redis.sock"},
        {"rediss://u:pw@h:1/3", "rediss://u:***@h:1/3"},
        {"redis://u:p@ss/w,rd@h:1", "redis://u:***@h:1"},
        {"unix:///run/r.sock?db=2&password=pw", "unix:///run/r.sock?db=2&"
                                                "password=***"},
        {"redis+unix:///r.sock?password=pw&db=1",
         "redis+unix:///r.sock?password=***&db=1"},
        {"unix:///run/a@b.sock", "unix:///run/a@b.sock"},
        {"redis+sentinel://u:pw@s1:26379,s2:26379/mymaster/1",
         "redis+sentinel://u:***@s1:26379,s2:26379/mymaster/1"},
        {"rediss+sentinel://:pw@s1:1/m", "rediss+sentinel://:***@s1:1/m"},
        {"redis+cluster://u:pw@n1:7000,n2:7001",
         "redis+cluster://u:***@n1:7000,n2:7001"},
        {"rediss+cluster://pw@n1:7000", "rediss+cluster://***@n1:7000"},
    };
    size_t i, k = (size_t)(app_config_find("redis", "url") - app_config_keys);
    for (i = 0; i < sizeof(urls) / sizeof(urls[0]); i++) {
      char var[128];
      /* sharded: a Cluster URL needs it, and any URL takes it */
      char *e[] = {var, "SIO_REDIS_ADAPTER=sharded", NULL};
      snprintf(var, sizeof(var), "SIO_REDIS_URL=%s", urls[i][0]);
      ck_assert_int_eq(load(&cfg, NULL, e, NULL, &m), 0);
      app_config_display(&cfg, k, v, sizeof(v));
      ck_assert_str_eq(v, urls[i][1]);
      ck_assert_uint_eq(m.n_errors, 0);
      app_config_deinit(&cfg);
    }
  }
  /* a bad secret value is never echoed in an error either */
  {
    char *e[] = {"SIO_AUTH_SECRET=hunter2", "SIO_AUTH_SECRET_FILE=/x", NULL};
    size_t i;
    ck_assert_int_eq(load(&cfg, NULL, e, NULL, &m), -1);
    for (i = 0; i < m.n; i++)
      ck_assert_ptr_null(strstr(m.v[i].text, "hunter2"));
  }
  app_msgs_deinit(&m);
}
END_TEST

/* Every scheme of sio.h's sio_redis_config.url is accepted; a malformed URL
 * is reported with the reason and never with its password. */
START_TEST(redis_url_schemes) {
  static const char *good[] = {
      "redis://127.0.0.1:6379",
      "redis://h",
      "REDIS://h:1/15",
      "redis://:pw@h:1/0",
      "redis://user:pw@[::1]:6380/",
      "rediss://user:p@ss/w,rd@cache.example:6380/2",
      "unix:///run/redis/redis.sock",
      "unix:///run/redis.sock?db=3&password=pw",
      "redis+unix:///run/redis.sock",
      "redis+sentinel://s1:26379,s2:26379,[::1]:26380/mymaster",
      "redis+sentinel://user:pw@s1:26379/mymaster/2",
      "rediss+sentinel://:pw@s1:26379/mymaster",
      "redis+cluster://n1:7000,n2:7001,n3:7002",
      "redis+cluster://user:pw@n1:7000/",
      "rediss+cluster://user:pw@n1:7000",
  };
  static const char *bad[][2] = {
      {"http://user:pw@h:1", "must start with redis://, rediss://, unix://, "
                             "redis+unix://, redis+sentinel://, "
                             "rediss+sentinel://, redis+cluster:// or "
                             "rediss+cluster://"},
      {"redis+tcp://h:1", "must start with redis://"},
      {"h:6379", "must start with redis://"},
      {"redis://", "empty host"},
      {"redis://user:pw@:6379", "empty host"},
      {"redis://h:0", "\"h:0\": port must be a number from 1 to 65535"},
      {"redis://h:65536", "port must be a number"},
      {"redis://h:6379x", "port must be a number"},
      {"redis://::1:6379", "write IPv6 addresses as [addr]:port"},
      {"redis://[::1:6379", "expected [ipv6]:port"},
      {"redis://a:1,b:2", "one host:port only (several need "
                          "redis+sentinel:// or redis+cluster://)"},
      {"redis://h:1/db0", "the path must be a database number (/N)"},
      {"redis://h:1#x", "no #fragment"},
      {"unix://", "expected unix:///path/to/redis.sock"},
      {"unix://relative.sock", "expected unix:///path/to/redis.sock"},
      {"redis+unix:///run/", "expected unix:///path/to/redis.sock"},
      {"redis+sentinel://user:pw@s1:26379", "expected the master's name"},
      {"redis+sentinel://s1:26379/", "expected the master's name"},
      {"redis+sentinel://s1:26379//0", "empty master name"},
      {"redis+sentinel://s1:26379/m/x", "only a database number"},
      {"redis+sentinel://s1:26379,,s2:1/m", "empty host"},
      {"rediss+sentinel://s1:99999/m", "\"s1:99999\": port must be"},
      {"redis+cluster://user:pw@n1:7000/1", "a Redis Cluster has no database"},
      {"rediss+cluster://", "empty host"},
  };
  size_t i;
  for (i = 0; i < sizeof(good) / sizeof(good[0]); i++) {
    struct app_config cfg;
    struct app_msgs m = {0};
    char var[256];
    char *env[] = {var, "SIO_REDIS_ADAPTER=sharded", NULL};
    snprintf(var, sizeof(var), "SIO_REDIS_URL=%s", good[i]);
    if (load(&cfg, NULL, env, NULL, &m) != 0)
      dump_msgs(&m);
    ck_assert_msg(m.n_errors == 0, "%s refused", good[i]);
    ck_assert_str_eq(cfg.redis_url, good[i]);
    app_config_deinit(&cfg);
    app_msgs_deinit(&m);
  }
  for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
    struct app_config cfg;
    struct app_msgs m = {0};
    char var[256], want[256];
    char *env[] = {var, NULL};
    size_t j;
    snprintf(var, sizeof(var), "SIO_REDIS_URL=%s", bad[i][0]);
    ck_assert_int_eq(load(&cfg, NULL, env, NULL, &m), -1);
    snprintf(want, sizeof(want), "redis.url: \"");
    ck_assert_msg(has_msg(&m, APP_MSG_ERROR, want) &&
                      has_msg(&m, APP_MSG_ERROR, bad[i][1]) &&
                      has_msg(&m, APP_MSG_ERROR, "(from SIO_REDIS_URL)"),
                  "%s: want \"%s\"", bad[i][0], bad[i][1]);
    for (j = 0; j < m.n; j++)
      ck_assert_msg(strstr(m.v[j].text, ":pw@") == NULL, "%s", m.v[j].text);
    app_msgs_deinit(&m);
  }
  /* the message shows the URL masked */
  {
    char *env[] = {"SIO_REDIS_URL=redis+cluster://admin:s3cret@n1:7000/4",
                   NULL};
    expect_error(NULL, env, NULL,
                 "redis.url: \"redis+cluster://admin:***@n1:7000/4\": a "
                 "Redis Cluster has no database number or path (from "
                 "SIO_REDIS_URL)");
  }
}
END_TEST

START_TEST(redis_adapter_and_tls_keys) {
  struct app_config cfg;
  struct app_msgs m = {0};
  char *env_ok[] = {"SIO_REDIS_URL=rediss://u:pw@127.0.0.1:6380",
                    "SIO_REDIS_ADAPTER=Sharded",
                    "SIO_REDIS_TLS_CA_FILE=/etc/hostname",
                    "SIO_REDIS_TLS_CERT_FILE=/etc/hostname",
                    "SIO_REDIS_TLS_KEY_FILE=/etc/hostname",
                    NULL};
  char *argv_ok[] = {"sio-server", "--redis-adapter", "classic",
                     "--redis.tls_ca_file=/etc/passwd", NULL};
  char *env_half[] = {"SIO_REDIS_URL=rediss://h:1",
                      "SIO_REDIS_TLS_KEY_FILE=/etc/hostname", NULL};
  char *env_half2[] = {"SIO_REDIS_URL=rediss://h:1",
                       "SIO_REDIS_TLS_CERT_FILE=/etc/hostname", NULL};
  char *env_missing[] = {"SIO_REDIS_URL=rediss+sentinel://s:1/m",
                         "SIO_REDIS_TLS_CA_FILE=/nonexistent/ca.pem", NULL};
  char *env_missing_cert[] = {"SIO_REDIS_URL=rediss://h:1",
                              "SIO_REDIS_TLS_CERT_FILE=/nonexistent/c.pem",
                              "SIO_REDIS_TLS_KEY_FILE=/nonexistent/k.pem",
                              NULL};
  char *env_bad_adapter[] = {"SIO_REDIS_ADAPTER=cluster", NULL};
  char *env_plain[] = {"SIO_REDIS_URL=redis+cluster://n:1",
                       "SIO_REDIS_TLS_CA_FILE=/etc/hostname",
                       "SIO_REDIS_ADAPTER=sharded", NULL};
  char *env_nourl[] = {"SIO_REDIS_TLS_CERT_FILE=/etc/hostname",
                       "SIO_REDIS_TLS_KEY_FILE=/etc/hostname",
                       "SIO_REDIS_ADAPTER=sharded", NULL};

  ck_assert_int_eq(load(&cfg, NULL, env_ok, NULL, &m), 0);
  ck_assert_str_eq(cfg.redis_adapter, "sharded"); /* canonical spelling */
  ck_assert_str_eq(cfg.redis_tls_ca_file, "/etc/hostname");
  ck_assert_str_eq(cfg.redis_tls_cert_file, "/etc/hostname");
  ck_assert_str_eq(cfg.redis_tls_key_file, "/etc/hostname");
  ck_assert(!has_msg(&m, APP_MSG_WARN, "redis."));
  app_config_deinit(&cfg);
  ck_assert_int_eq(load(&cfg, NULL, env_ok, argv_ok, &m), 0);
  ck_assert_str_eq(cfg.redis_adapter, "classic");
  ck_assert_str_eq(cfg.redis_tls_ca_file, "/etc/passwd");
  ck_assert_str_eq(
      cfg.src[app_config_find("redis", "adapter") - app_config_keys].where,
      "--redis-adapter");
  app_config_deinit(&cfg);
  app_msgs_deinit(&m);

  expect_error(NULL, env_half, NULL,
               "redis.tls_cert_file: redis.tls_cert_file and "
               "redis.tls_key_file must be set together (from "
               "SIO_REDIS_TLS_KEY_FILE)");
  expect_error(NULL, env_half2, NULL,
               "redis.tls_key_file: redis.tls_cert_file and "
               "redis.tls_key_file must be set together (from "
               "SIO_REDIS_TLS_CERT_FILE)");
  expect_error(NULL, env_missing, NULL,
               "redis.tls_ca_file: cannot read /nonexistent/ca.pem: No such "
               "file or directory (from SIO_REDIS_TLS_CA_FILE)");
  expect_error("[redis]\nurl = rediss://h:1\ntls_cert_file = /nonexistent/c\n"
               "tls_key_file = /etc/hostname\n",
               NULL, NULL, "redis.tls_cert_file: cannot read /nonexistent/c");
  expect_error("[redis]\nurl = rediss://h:1\ntls_cert_file = /nonexistent/c\n"
               "tls_key_file = /etc/hostname\n",
               NULL, NULL, ":3)");
  {
    ck_assert_int_eq(load(&cfg, NULL, env_missing_cert, NULL, &m), -1);
    ck_assert_uint_eq(m.n_errors, 2);
    ck_assert(has_msg(&m, APP_MSG_ERROR, "redis.tls_cert_file: cannot read"));
    ck_assert(has_msg(&m, APP_MSG_ERROR, "redis.tls_key_file: cannot read"));
    app_msgs_deinit(&m);
  }
  expect_error(NULL, env_bad_adapter, NULL,
               "redis.adapter: \"cluster\" is not one of classic, sharded, streams "
               "(from SIO_REDIS_ADAPTER)");
  {
    /* a Cluster with the classic protocol is refused before any start */
    char *env_cluster_classic[] = {"SIO_REDIS_URL=redis+cluster://n:1", NULL};
    expect_error(NULL, env_cluster_classic, NULL,
                 "redis.adapter: a Redis Cluster needs redis.adapter sharded");
  }

  /* TLS files with a plain URL, or without Redis: loaded, but said so */
  ck_assert_int_eq(load(&cfg, NULL, env_plain, NULL, &m), 0);
  ck_assert(has_msg(&m, APP_MSG_WARN,
                    "redis.tls_ca_file: ignored: redis.url is not a TLS URL "
                    "(rediss://, rediss+sentinel:// or rediss+cluster://) "
                    "(from SIO_REDIS_TLS_CA_FILE)"));
  ck_assert(!has_msg(&m, APP_MSG_WARN, "redis.adapter"));
  app_config_deinit(&cfg);
  app_msgs_deinit(&m);
  ck_assert_int_eq(load(&cfg, NULL, env_nourl, NULL, &m), 0);
  ck_assert(has_msg(&m, APP_MSG_WARN,
                    "redis.tls_cert_file: ignored without redis.url (from "
                    "SIO_REDIS_TLS_CERT_FILE)"));
  ck_assert(has_msg(&m, APP_MSG_WARN,
                    "redis.adapter: sharded has no effect without redis.url "
                    "(from SIO_REDIS_ADAPTER)"));
  app_config_deinit(&cfg);
  app_msgs_deinit(&m);
}
END_TEST

START_TEST(help_lists_every_key) {
  char *out = capture(run_help, NULL);
  size_t i;
  ck_assert_int_eq(strncmp(out, "Usage: sio-server [OPTIONS]\n", 28), 0);
  ck_assert_ptr_nonnull(strstr(out, "--check-config"));
  ck_assert_ptr_nonnull(strstr(out, "--version"));
  for (i = 0; i < app_config_nkeys; i++) {
    const struct app_config_key *k = &app_config_keys[i];
    char want[256], env[80];
    app_config_env_name(k, env, sizeof(env));
    snprintf(want, sizeof(want), "  %s.%s (", k->section, k->name);
    ck_assert_msg(strstr(out, want) != NULL, "%s", want);
    snprintf(want, sizeof(want), "default %s)", *k->def ? k->def : "empty");
    ck_assert_msg(strstr(out, want) != NULL, "%s", want);
    snprintf(want, sizeof(want), "env %s", env);
    ck_assert_msg(strstr(out, want) != NULL, "%s", want);
    if (k->cli) {
      snprintf(want, sizeof(want), "--%s ", k->cli);
      ck_assert_msg(strstr(out, want) != NULL, "%s", want);
    }
  }
  free(out);
}
END_TEST

START_TEST(reload_applies_reloadable_only) {
  struct app_config cfg;
  struct app_msgs m = {0};
  struct app_config_changes ch;
  struct app_cli cli = {0};
  char path[64];
  FILE *f;
  int fd;
  snprintf(path, sizeof(path), "/tmp/sio-test-reload-XXXXXX");
  fd = mkstemp(path);
  ck_assert_int_ge(fd, 0);
  f = fdopen(fd, "w");
  fputs("[server]\nlisten = 0.0.0.0:1\n[log]\nlevel = info\n"
        "[limits]\nevents_per_minute = 60\n",
        f);
  fclose(f);
  ck_assert_int_eq(app_config_load(&cfg, path, NULL, &cli, &m), 0);

  f = fopen(path, "w");
  fputs("[server]\nlisten = 0.0.0.0:2\n[log]\nlevel = debug\n"
        "[limits]\nevents_per_minute = 10\n",
        f);
  fclose(f);
  app_msgs_deinit(&m);
  ck_assert_int_eq(app_config_reload(&cfg, path, NULL, &cli, &m, &ch), 0);
  ck_assert_uint_eq(ch.n, 2);
  ck_assert(app_config_changed(&ch, "log", "level"));
  ck_assert(app_config_changed(&ch, "limits", "events_per_minute"));
  ck_assert(!app_config_changed(&ch, "server", "listen"));
  ck_assert_str_eq(cfg.log_level, "debug");
  ck_assert_int_eq(cfg.limits_events_per_minute, 10);
  ck_assert_str_eq(cfg.server_listen, "0.0.0.0:1");
  ck_assert(has_msg(&m, APP_MSG_WARN,
                    "server.listen: changed, but takes effect only after a "
                    "restart"));
  app_config_changes_deinit(&ch);

  /* an invalid file changes nothing */
  f = fopen(path, "w");
  fputs("[log]\nlevel = loud\n", f);
  fclose(f);
  app_msgs_deinit(&m);
  ck_assert_int_eq(app_config_reload(&cfg, path, NULL, &cli, &m, &ch), -1);
  ck_assert_uint_eq(ch.n, 0);
  ck_assert_str_eq(cfg.log_level, "debug");
  ck_assert(has_msg(&m, APP_MSG_ERROR, "log.level: \"loud\" is not one of"));

  /* nothing changed: nothing reported */
  f = fopen(path, "w");
  fputs("[server]\nlisten = 0.0.0.0:1\n[log]\nlevel = debug\n"
        "[limits]\nevents_per_minute = 10\n",
        f);
  fclose(f);
  app_msgs_deinit(&m);
  ck_assert_int_eq(app_config_reload(&cfg, path, NULL, &cli, &m, &ch), 0);
  ck_assert_uint_eq(ch.n, 0);
  app_config_changes_deinit(&ch);
  app_config_deinit(&cfg);
  app_msgs_deinit(&m);
  unlink(path);
}
END_TEST

START_TEST(sample_conf_loads_to_defaults) {
  char *text = app_config_sample_conf();
  struct app_config a, b;
  struct app_msgs m = {0};
  size_t i;
  ck_assert_ptr_nonnull(text);
  ck_assert_int_eq(load(&a, text, NULL, NULL, &m), 0);
  ck_assert_int_eq(load(&b, NULL, NULL, NULL, &m), 0);
  for (i = 0; i < app_config_nkeys; i++) {
    char va[256], vb[256];
    app_config_display(&a, i, va, sizeof(va));
    app_config_display(&b, i, vb, sizeof(vb));
    ck_assert_str_eq(va, vb);
  }
  /* every line fits the INI parser, every key is documented */
  {
    const char *p = text;
    while (*p) {
      const char *nl = strchr(p, '\n');
      size_t n = nl ? (size_t)(nl - p) : strlen(p);
      ck_assert_uint_le(n, 80);
      p += n + (nl ? 1 : 0);
    }
  }
  for (i = 0; i < app_config_nkeys; i++) {
    char want[128];
    snprintf(want, sizeof(want), "\n# %s =", app_config_keys[i].name);
    ck_assert_msg(strstr(text, want) != NULL, "%s", want);
  }
  app_config_deinit(&a);
  app_config_deinit(&b);
  app_msgs_deinit(&m);
  free(text);
}
END_TEST

/* The committed generated files must equal what the tables produce now
 * (run `make update-config-docs` after changing a table). */
START_TEST(generated_files_match) {
  static const struct {
    const char *path;
    char *(*make)(void);
  } files[] = {
      {"packaging/sio-server.conf", app_config_sample_conf},
      {"docs/configuration.md", app_config_markdown},
      {"docs/events.md", app_events_markdown},
  };
  size_t i;
  for (i = 0; i < sizeof(files) / sizeof(files[0]); i++) {
    char path[4096], *want = files[i].make(), *have = NULL;
    size_t len;
    snprintf(path, sizeof(path), "%s/%s", top_srcdir(), files[i].path);
    ck_assert_msg(app_read_file(path, 1 << 22, &have, &len) == 0,
                  "cannot read %s", path);
    ck_assert_msg(strcmp(have, want) == 0,
                  "%s differs from the table: run `make update-config-docs`",
                  path);
    free(have);
    free(want);
  }
}
END_TEST

START_TEST(markdown_documents_every_key) {
  char *md = app_config_markdown();
  size_t i;
  for (i = 0; i < app_config_nkeys; i++) {
    char want[128], env[80];
    app_config_env_name(&app_config_keys[i], env, sizeof(env));
    snprintf(want, sizeof(want), "| `%s` |", app_config_keys[i].name);
    ck_assert_msg(strstr(md, want) != NULL, "%s", want);
    snprintf(want, sizeof(want), "| `%s` |", env);
    ck_assert_msg(strstr(md, want) != NULL, "%s", want);
  }
  free(md);
}
END_TEST

Suite *app_config_suite(void) {
  Suite *s = suite_create("app_config");
  TCase *tc = tcase_create("core");
  tcase_add_test(tc, spec_keys_and_defaults);
  tcase_add_test(tc, table_is_sane);
  tcase_add_test(tc, file_values_and_syntax);
  tcase_add_test(tc, precedence);
  tcase_add_test(tc, errors_name_key_and_source);
  tcase_add_test(tc, threads_key);
  tcase_add_test(tc, file_structure_errors);
  tcase_add_test(tc, cross_key_validation);
  tcase_add_test(tc, env_typos_warned);
  tcase_add_test(tc, value_syntax);
  tcase_add_test(tc, cli_parsing);
  tcase_add_test(tc, secrets_never_printed);
  tcase_add_test(tc, redis_url_schemes);
  tcase_add_test(tc, redis_adapter_and_tls_keys);
  tcase_add_test(tc, help_lists_every_key);
  tcase_add_test(tc, reload_applies_reloadable_only);
  tcase_add_test(tc, sample_conf_loads_to_defaults);
  tcase_add_test(tc, generated_files_match);
  tcase_add_test(tc, markdown_documents_every_key);
  suite_add_tcase(s, tc);
  return s;
}
