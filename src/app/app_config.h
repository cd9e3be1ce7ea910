#ifndef APP_CONFIG_H
#define APP_CONFIG_H

/* The daemon's configuration: one table (app_config_keys[], defined in
 * app_config.c) describes every key once, and everything else is derived
 * from it: INI parsing (libinih), SIO_<SECTION>_<KEY> environment overrides,
 * command-line flags, --help, --check-config, SIGHUP reload, the sample
 * sio-server.conf and docs/configuration.md.
 *
 * Precedence, highest first: command line > environment > INI file >
 * built-in default.
 *
 * Typical use in main():
 *
 *   struct app_cli cli;
 *   struct app_config cfg;
 *   struct app_msgs msgs = {0};
 *   if (app_cli_parse(&cli, argc, argv, &msgs) != 0) -> print msgs, exit 2
 *   switch (cli.action) { HELP: app_config_help(stdout, argv[0]); ... }
 *   if (app_config_load(&cfg, cli.config_path, environ, &cli, &msgs) != 0)
 *     -> print msgs, exit 1
 *   ... on SIGHUP: app_config_reload(&cfg, cli.config_path, environ, &cli,
 *                                    &msgs, &changes);
 *   app_config_deinit(&cfg); app_cli_deinit(&cli); app_msgs_deinit(&msgs);
 *
 * Nothing here logs; every diagnostic goes into a struct app_msgs and names
 * the key and where its value came from. Secret keys (auth.secret, api.key)
 * and the password of redis.url are never put into any message or output:
 * they are shown as "(set)". */

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "app_util.h"

/* ------------------------------------------------------------ the table */

enum app_cfg_type {
  APP_CFG_STRING,   /* char *, never NULL ("" when empty) */
  APP_CFG_LIST,     /* char *, comma-separated, normalised "a,b,c" */
  APP_CFG_ENUM,     /* char *, one of `choices` (canonical spelling) */
  APP_CFG_INT,      /* int64_t */
  APP_CFG_BOOL,     /* bool: true/false, yes/no, on/off, 1/0 */
  APP_CFG_SIZE,     /* uint64_t bytes; suffix k, m, g (powers of 1024) */
  APP_CFG_DURATION, /* int64_t ms; suffix ms, s, m, h (no suffix = ms) */
};

enum {
  APP_CFG_RELOAD = 1u << 0, /* applied by app_config_reload() (SIGHUP) */
  APP_CFG_SECRET = 1u << 1, /* never printed; not settable on the CLI */
  APP_CFG_URL = 1u << 2,    /* printed with any password masked */
};

/* A per-key validator: returns NULL when value is acceptable, else a static
 * English reason ("must start with /"). value is borrowed. */
typedef const char *(*app_cfg_check_fn)(const char *value);

struct app_config_key {
  const char *section; /* "engine" */
  const char *name;    /* "ping_interval_ms" */
  enum app_cfg_type type;
  const char *def;     /* default, in file syntax */
  int64_t min, max;    /* INT, SIZE and DURATION bounds (inclusive) */
  const char *choices; /* ENUM: "a|b|c"; LIST: allowed items or NULL */
  unsigned flags;      /* APP_CFG_* */
  const char *cli;     /* long flag without "--" (e.g. "listen") or NULL */
  const char *metavar; /* placeholder shown in --help, e.g. "ADDR" */
  const char *help;    /* one paragraph, English */
  app_cfg_check_fn check;
  size_t offset; /* of the field in struct app_config */
};

/* The table, in file order (sections grouped), and its length. */
extern const struct app_config_key app_config_keys[];
extern const size_t app_config_nkeys;

/* Returns the entry for section.name (ASCII case-insensitive) or NULL. */
const struct app_config_key *app_config_find(const char *section,
                                             const char *name);
/* Writes "SIO_<SECTION>_<NAME>" (uppercase) for k into buf (NUL-terminated,
 * truncated to cap). */
void app_config_env_name(const struct app_config_key *k, char *buf, size_t cap);

/* ---------------------------------------------------- the typed values */

/* Where a value came from. */
enum app_cfg_source {
  APP_CFG_SRC_DEFAULT = 0,
  APP_CFG_SRC_FILE,
  APP_CFG_SRC_ENV,
  APP_CFG_SRC_CLI,
};

struct app_config_src {
  enum app_cfg_source kind;
  char *where; /* owned: "default", "/etc/x.conf:12", "SIO_X", "--listen" */
};

/* Every key as a plain C field named <section>_<name>. Strings are owned by
 * the struct (never NULL) and freed by app_config_deinit(). Lists keep their
 * comma-separated text; split them with app_list_split(). Sizes are bytes,
 * durations milliseconds. The comments give the defaults; the table in
 * app_config.c is authoritative. */
struct app_config {
  /* [server] */
  char *server_listen;             /* "0.0.0.0:3000" */
  char *server_path;               /* "/socket.io/" */
  char *server_trusted_proxies;    /* "" */
  char *server_id;                 /* "" = "<hostname>-<pid>" (caller) */
  char *server_threads;            /* "1".."64" or "auto" */
  int64_t server_drain_timeout_ms; /* 10000 */
  int64_t server_backlog;          /* 511 */
  char *server_dashboard;          /* "auto" | "on" | "off" */
  char *server_client_js;          /* "" */
  /* [engine] */
  int64_t engine_ping_interval_ms;   /* 25000 */
  int64_t engine_ping_timeout_ms;    /* 20000 */
  uint64_t engine_max_payload;       /* 1000000 */
  char *engine_transports;           /* "polling,websocket" */
  int64_t engine_connect_timeout_ms; /* 45000 */
  char *engine_cookie;               /* "" */
  bool engine_forwarding;            /* true */
  int64_t engine_takeover_ms;        /* 300 */
  /* [auth] */
  char *auth_mode;      /* "jwt" | "none" */
  char *auth_algorithm; /* "HS256" */
  char *auth_secret;    /* secret */
  char *auth_secret_file;
  char *auth_public_key_file;
  char *auth_issuer;
  char *auth_audience;       /* list */
  bool auth_require_exp;     /* true */
  int64_t auth_leeway_s;     /* 30 */
  char *auth_claim_projects; /* "projects" */
  char *auth_claim_agents;   /* "agents" */
  char *auth_claim_role;     /* "role" */
  /* [redis] */
  char *redis_url; /* "" = in-memory adapter */
  char *redis_key; /* "socket.io" */
  int64_t redis_connect_timeout_ms; /* 5000 */
  char *redis_adapter;              /* "classic" or "sharded" */
  char *redis_tls_ca_file;          /* "" = the system's CA paths */
  char *redis_tls_cert_file;        /* "" = no client certificate */
  char *redis_tls_key_file;         /* its key */
  /* [api] */
  char *api_key; /* secret; "" disables /api/v1/emit */
  /* [cors] */
  char *cors_origins;    /* "*" */
  bool cors_credentials; /* false */
  /* [limits] (0 = unlimited where the help says so) */
  int64_t limits_max_connections;          /* 10000 */
  int64_t limits_max_connections_per_user; /* 5 */
  int64_t limits_events_per_minute;        /* 60 */
  int64_t limits_events_burst;             /* 30 */
  uint64_t limits_max_buffered_bytes;      /* 4 MiB */
  int64_t limits_close_timeout_ms;         /* 5000 */
  int64_t limits_handshakes_per_ip_per_s;  /* 10 */
  int64_t limits_handshakes_burst;         /* 20 */
  int64_t limits_max_rooms_per_socket;     /* 100 */
  /* [recovery] */
  bool recovery_enabled;                 /* true */
  int64_t recovery_max_disconnection_ms; /* 120000 */
  int64_t recovery_persist_interval_ms;  /* 10000 */
  /* [replay] */
  bool replay_enabled;       /* true */
  int64_t replay_max_events; /* 1000 */
  int64_t replay_max_age_s;  /* 300 */
  /* [tls] */
  char *tls_cert_file;
  char *tls_key_file;
  char *tls_chain_file;
  char *tls_min_version; /* "1.2" | "1.3" */
  /* [log] */
  char *log_level;  /* "error" | "warn" | "info" | "debug" */
  char *log_format; /* "text" | "json" */
  /* [metrics] */
  bool metrics_enabled; /* true */

  /* Filled by app_config_load(): src[i] describes app_config_keys[i]. */
  struct app_config_src *src;
  char *file; /* the file read, or NULL */
};

/* ------------------------------------------------------ command line */

enum app_cli_action {
  APP_CLI_RUN = 0,
  APP_CLI_HELP,
  APP_CLI_VERSION,
  APP_CLI_CHECK_CONFIG,
};

struct app_cli_override {
  size_t key;        /* index into app_config_keys */
  const char *flag;  /* borrowed from argv: "--listen" */
  const char *value; /* borrowed from argv */
};

struct app_cli {
  enum app_cli_action action;
  const char *config_path;     /* borrowed from argv; NULL without --config */
  struct app_cli_override *ov; /* owned; in argv order */
  size_t n_ov;
};

/* Parses argv: -c/--config FILE, --check-config, -h/--help, -V/--version,
 * and for every key `--<section>.<name> VALUE` (or `=VALUE`) plus the key's
 * short long flag from the table (`--listen ADDR`). Secret keys are refused
 * on the command line (they would show in ps). argv is borrowed and must
 * outlive cli. Returns 0, or -1 with an error in msgs (unknown option,
 * missing value, stray argument, out of memory). cli is always safe to
 * app_cli_deinit(). */
int app_cli_parse(struct app_cli *cli, int argc, char **argv,
                  struct app_msgs *msgs);
void app_cli_deinit(struct app_cli *cli);

/* ------------------------------------------------------------ loading */

/* Builds cfg from defaults, then the INI file at path (NULL: no file), then
 * envp (NULL-terminated "NAME=value" array, e.g. environ; NULL: none), then
 * cli overrides (NULL: none), parses every value and runs
 * app_config_validate(). All arguments are borrowed. Returns 0 when no error
 * was found (warnings may still be in msgs), -1 otherwise; every error names
 * the key and the source of the value, e.g.
 *   engine.ping_interval_ms: not a number (from SIO_ENGINE_PING_INTERVAL_MS)
 * On -1 cfg holds no allocations. On 0 the caller owns cfg and frees it with
 * app_config_deinit(). */
int app_config_load(struct app_config *cfg, const char *path, char *const *envp,
                    const struct app_cli *cli, struct app_msgs *msgs);

/* Cross-key checks (key material for the chosen algorithm, TLS pairs,
 * readable files) and warnings (auth.mode none, a short api.key). Returns
 * the number of errors added to msgs. cfg is borrowed. */
size_t app_config_validate(const struct app_config *cfg, struct app_msgs *msgs);

/* The most event loops server.threads may ask for. */
#define APP_MAX_THREADS 64
/* server.threads as a number of loops: auto is the online CPUs, at most
 * APP_MAX_THREADS. */
unsigned app_config_threads(const struct app_config *cfg);
/* A deep copy of src's values (not where they came from: dst->src and
 * dst->file are NULL), for a loop on another thread. Returns 0 or -1 (out
 * of memory; dst then holds nothing). */
int app_config_copy(struct app_config *dst, const struct app_config *src);

/* Frees what cfg owns (not cfg itself). NULL-safe and idempotent. */
void app_config_deinit(struct app_config *cfg);

/* Index of a key changed by a reload. */
struct app_config_changes {
  size_t *keys; /* owned; indexes into app_config_keys */
  size_t n;
};

/* Re-reads path and envp (cli overrides keep their precedence), validates
 * the result as a whole and, only if it has no error, copies the values of
 * the reloadable keys that changed into cfg and lists them in *changes
 * (which the caller frees with app_config_changes_deinit()). A changed key
 * that is not reloadable stays as it was and gets a warning ("needs a
 * restart"). Returns 0, or -1 with cfg untouched (errors in msgs). */
int app_config_reload(struct app_config *cfg, const char *path,
                      char *const *envp, const struct app_cli *cli,
                      struct app_msgs *msgs,
                      struct app_config_changes *changes);
void app_config_changes_deinit(struct app_config_changes *c);
/* True if section.name is listed in c. */
bool app_config_changed(const struct app_config_changes *c, const char *section,
                        const char *name);

/* ------------------------------------------------------------ output */

/* Writes key i's value of cfg as it may be shown to a person into buf
 * (NUL-terminated, truncated to cap): secrets as "(set)" or "(not set)",
 * URLs with the password replaced by "***", other values in file syntax. */
void app_config_display(const struct app_config *cfg, size_t i, char *buf,
                        size_t cap);

/* Writes every key as "section.key = value   # source" to out (secrets
 * masked as above). */
void app_config_dump(const struct app_config *cfg, FILE *out);

/* --check-config: loads like app_config_load(), prints every message to err
 * ("error: ...", "warning: ...") and, when valid, the effective
 * configuration (app_config_dump) to out followed by "configuration OK".
 * Returns 0 when valid, 1 otherwise. */
int app_config_check(const char *path, char *const *envp,
                     const struct app_cli *cli, FILE *out, FILE *err);

/* --help text generated from the table: usage, the general options, then
 * every key with its flag, environment variable and default. */
void app_config_help(FILE *out, const char *progname);

/* The commented sample sio-server.conf and docs/configuration.md, both
 * generated from the table (src/app/gen_config_docs.c writes them). Return
 * a malloc'd NUL-terminated text the caller frees, or NULL when out of
 * memory. */
char *app_config_sample_conf(void);
char *app_config_markdown(void);

#endif
