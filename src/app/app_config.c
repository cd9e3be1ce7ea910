/* app_config.c: THE configuration table of sio-server, and everything derived
 * from it. Each key appears exactly once, in app_config_keys[] below, with
 * its section, name, type, default, bounds, flags (reloadable, secret),
 * command-line flag, help text and field in struct app_config. The loader
 * gathers a raw text value per key from the sources in rising precedence
 * (default, INI file, SIO_<SECTION>_<KEY> environment, command line),
 * remembering where each came from, then parses every value into the typed
 * struct so that an error can always name the key and its source. --help,
 * --check-config, the sample sio-server.conf and docs/configuration.md are
 * all printed from the same table (the sample and the markdown by
 * gen_config_docs, a build-time tool; a `make check` test fails when the
 * committed copies differ from the table). The INI syntax is libinih's;
 * lines are fed to it through a reader that counts lines (so messages carry
 * file:line) and strips leading blanks (so indented lines are never taken as
 * continuations of the previous value). */
#include "app_config.h"

#include <arpa/inet.h>
#include <errno.h>
#include <ini.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#include "sio/version.h"

/* ------------------------------------------------------ field plumbing */

#define APP_CFG_CTYPE_STRING char *
#define APP_CFG_CTYPE_LIST char *
#define APP_CFG_CTYPE_ENUM char *
#define APP_CFG_CTYPE_INT int64_t
#define APP_CFG_CTYPE_BOOL bool
#define APP_CFG_CTYPE_SIZE uint64_t
#define APP_CFG_CTYPE_DURATION int64_t

/* offsetof the field, plus a compile-time check that the field has the C
 * type the table says (the _Generic has no other association, so a mismatch
 * does not compile). */
#define APP_CFG_OFF(field, ctype)                                              \
  (offsetof(struct app_config, field) +                                        \
   0 * sizeof(_Generic(((struct app_config *)0)->field, ctype : 1)))

#define KEY(sec, nm, ty)                                                       \
  .section = #sec, .name = #nm, .type = APP_CFG_##ty,                          \
  .offset = APP_CFG_OFF(sec##_##nm, APP_CFG_CTYPE_##ty)

#define H1 3600000 /* one hour in ms */
#define GIB 1073741824LL

/* ------------------------------------------------------------- checks */

static const char *check_listen(const char *v) {
  const char *colon, *p;
  size_t n = 0;
  if (v[0] == '[') {
    const char *rb = strchr(v, ']');
    if (!rb || rb == v + 1 || rb[1] != ':')
      return "expected [ipv6]:port";
    colon = rb + 1;
  } else {
    colon = strrchr(v, ':');
    if (!colon || colon == v)
      return "expected host:port";
    for (p = v; p < colon; p++)
      if (*p == ':')
        return "write IPv6 addresses as [addr]:port";
  }
  for (p = colon + 1; *p; p++, n++)
    if (*p < '0' || *p > '9' || n >= 5)
      return "port must be a number from 0 to 65535";
  if (n == 0 || atol(colon + 1) > 65535)
    return "port must be a number from 0 to 65535";
  return NULL;
}

static const char *check_path(const char *v) {
  if (v[0] != '/')
    return "must start with /";
  for (; *v; v++)
    if ((unsigned char)*v <= ' ' || *v == '?' || *v == '#' || *v == 0x7f)
      return "must not contain blanks, ? or #";
  return NULL;
}

static const char *check_proxy(const char *v) {
  char addr[64];
  const char *slash = strchr(v, '/');
  size_t n = slash ? (size_t)(slash - v) : strlen(v);
  unsigned char bin[16];
  int maxbits;
  if (n == 0 || n >= sizeof(addr))
    return "expected an IP address or CIDR range";
  memcpy(addr, v, n);
  addr[n] = '\0';
  if (inet_pton(AF_INET, addr, bin) == 1)
    maxbits = 32;
  else if (inet_pton(AF_INET6, addr, bin) == 1)
    maxbits = 128;
  else
    return "expected an IP address or CIDR range";
  if (slash) {
    const char *p = slash + 1;
    long bits;
    if (!*p || strlen(p) > 3)
      return "bad CIDR prefix length";
    for (; *p; p++)
      if (*p < '0' || *p > '9')
        return "bad CIDR prefix length";
    bits = atol(slash + 1);
    if (bits > maxbits)
      return "bad CIDR prefix length";
  }
  return NULL;
}

static const char *check_cookie(const char *v) {
  static const char ok[] = "!#$%&'*+-.^_`|~";
  for (; *v; v++) {
    unsigned char c = (unsigned char)*v;
    if (!((c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') ||
          (c >= '0' && c <= '9') || strchr(ok, c)))
      return "must be a cookie name (letters, digits, !#$%&'*+-.^_`|~)";
  }
  return NULL;
}

/* The redis.url schemes of sio_server_use_redis_config (sio.h). */
enum redis_kind { REDIS_HOST, REDIS_UNIX, REDIS_SENTINEL, REDIS_CLUSTER };
static const struct {
  const char *scheme;
  enum redis_kind kind;
  bool tls;
} redis_schemes[] = {
    {"redis", REDIS_HOST, false},
    {"rediss", REDIS_HOST, true},
    {"unix", REDIS_UNIX, false},
    {"redis+unix", REDIS_UNIX, false},
    {"redis+sentinel", REDIS_SENTINEL, false},
    {"rediss+sentinel", REDIS_SENTINEL, true},
    {"redis+cluster", REDIS_CLUSTER, false},
    {"rediss+cluster", REDIS_CLUSTER, true},
};

#define REDIS_SCHEMES_TEXT                                                     \
  "must start with redis://, rediss://, unix://, redis+unix://, "              \
  "redis+sentinel://, rediss+sentinel://, redis+cluster:// or "                \
  "rediss+cluster://"

/* Index in redis_schemes[] of url's scheme, or -1. */
static int redis_scheme(const char *url) {
  const char *sep = strstr(url, "://");
  size_t i, n;
  if (!sep)
    return -1;
  n = (size_t)(sep - url);
  for (i = 0; i < APP_ARRLEN(redis_schemes); i++)
    if (strlen(redis_schemes[i].scheme) == n &&
        strncasecmp(redis_schemes[i].scheme, url, n) == 0)
      return (int)i;
  return -1;
}

/* Where the part after scheme:// and the userinfo begins. The userinfo ends
 * at the last '@' (a password may hold one); a part starting with '/' (a
 * unix socket path) has none. */
static const char *redis_after_userinfo(const char *url) {
  const char *rest = strstr(url, "://") + 3, *at;
  if (*rest == '/')
    return rest;
  at = strrchr(rest, '@');
  return at ? at + 1 : rest;
}

/* Checks one host[:port] or [ipv6][:port] of n bytes. */
static const char *check_redis_host(const char *h, size_t n) {
  const char *colon = NULL, *p;
  size_t digits = 0;
  if (n == 0)
    return "empty host (expected host:port)";
  if (h[0] == '[') {
    const char *rb = memchr(h, ']', n);
    if (!rb || rb == h + 1)
      return "expected [ipv6]:port";
    if (rb + 1 < h + n && rb[1] != ':')
      return "expected [ipv6]:port";
    colon = rb + 1 < h + n ? rb + 1 : NULL;
  } else {
    colon = memchr(h, ':', n);
    if (colon && memchr(colon + 1, ':', (size_t)(h + n - colon - 1)))
      return "write IPv6 addresses as [addr]:port";
    if (colon == h)
      return "empty host (expected host:port)";
  }
  if (!colon)
    return NULL;
  for (p = colon + 1; p < h + n; p++, digits++)
    if (*p < '0' || *p > '9' || digits >= 5)
      return "port must be a number from 1 to 65535";
  if (digits == 0 || atol(colon + 1) < 1 || atol(colon + 1) > 65535)
    return "port must be a number from 1 to 65535";
  return NULL;
}

/* Checks "/N" (a database number) of n bytes; n == 0 or "/" is fine. */
static bool redis_db_ok(const char *p, size_t n) {
  size_t i;
  if (n <= 1)
    return true;
  if (n > 6)
    return false;
  for (i = 1; i < n; i++)
    if (p[i] < '0' || p[i] > '9')
      return false;
  return true;
}

/* No reason names the password: the value is printed masked. A reason
 * naming the bad host is built in a static buffer (the loader runs on one
 * thread and copies the reason at once). */
static const char *check_redis_url(const char *v) {
  static char why[160];
  const char *hosts, *end, *path, *item;
  size_t pathlen, nhosts = 0;
  int i;
  if (!*v)
    return NULL;
  i = redis_scheme(v);
  if (i < 0)
    return REDIS_SCHEMES_TEXT;
  hosts = redis_after_userinfo(v);
  if (redis_schemes[i].kind == REDIS_UNIX) {
    size_t n = strcspn(hosts, "?#");
    if (hosts[0] != '/' || n < 2 || hosts[n - 1] == '/')
      return "expected unix:///path/to/redis.sock[?db=N]";
    return NULL;
  }
  end = hosts + strcspn(hosts, "/?#");
  if (*end == '#')
    return "a Redis URL has no #fragment";
  path = end;
  pathlen = strcspn(path, "?#");
  for (item = hosts; item <= end; nhosts++) {
    const char *comma = memchr(item, ',', (size_t)(end - item));
    size_t n = comma ? (size_t)(comma - item) : (size_t)(end - item);
    const char *r = check_redis_host(item, n);
    if (r) {
      snprintf(why, sizeof(why), "\"%.*s\": %s", (int)(n > 64 ? 64 : n), item,
               r);
      return why;
    }
    item += n + 1;
  }
  switch (redis_schemes[i].kind) {
  case REDIS_HOST:
    if (nhosts > 1)
      return "one host:port only (several need redis+sentinel:// or "
             "redis+cluster://)";
    if (!redis_db_ok(path, pathlen))
      return "the path must be a database number (/N)";
    break;
  case REDIS_SENTINEL: {
    const char *name = path + 1, *slash;
    if (pathlen < 2)
      return "expected the master's name after the sentinels "
             "(redis+sentinel://host:port,host:port/master-name)";
    slash = memchr(name, '/', pathlen - 1);
    if (slash == name)
      return "empty master name";
    if (slash && !redis_db_ok(slash, (size_t)(path + pathlen - slash)))
      return "after the master name only a database number (/N) may follow";
    break;
  }
  case REDIS_CLUSTER:
    if (pathlen > 1)
      return "a Redis Cluster has no database number or path";
    break;
  case REDIS_UNIX:
    break;
  }
  return NULL;
}

static const char *check_origin(const char *v) {
  const char *sep;
  if (strcmp(v, "*") == 0)
    return NULL;
  sep = strstr(v, "://");
  if (!sep || sep == v)
    return "expected * or scheme://host[:port]";
  if (sep[3] == '\0' || strchr(sep + 3, '/'))
    return "an Origin has no path or trailing slash (scheme://host[:port])";
  return NULL;
}

static const char *check_nonempty(const char *v) {
  return *v ? NULL : "must not be empty";
}

static const char *check_server_id(const char *v) {
  size_t n = 0;
  for (; *v; v++, n++) {
    unsigned char c = (unsigned char)*v;
    if (!((c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') ||
          (c >= '0' && c <= '9') || c == '_' || c == '.' || c == ':' ||
          c == '-'))
      return "only letters, digits and _ . : - are allowed";
  }
  return n > 64 ? "at most 64 characters" : NULL;
}

/* "auto" or a whole number of loops, 1..APP_MAX_THREADS. */
static const char *check_threads(const char *v) {
  const char *p = v;
  if (strcasecmp(v, "auto") == 0)
    return NULL;
  for (; *p; p++)
    if (*p < '0' || *p > '9' || p - v >= 2)
      return "expected auto or a number of threads from 1 to 64";
  if (p == v || atoi(v) < 1 || atoi(v) > APP_MAX_THREADS)
    return "expected auto or a number of threads from 1 to 64";
  return NULL;
}

/* ------------------------------------------------------------ the table */

const struct app_config_key app_config_keys[] = {
    /* [server] */
    {KEY(server, listen, LIST), .def = "0.0.0.0:3000", .cli = "listen",
     .metavar = "ADDR[,ADDR]", .check = check_listen,
     .help = "Addresses to listen on, as host:port (IPv6 as [addr]:port); "
             "several separated by commas. Port 0 picks a free port."},
    {KEY(server, path, STRING), .def = "/socket.io/", .cli = "path",
     .metavar = "PATH", .check = check_path,
     .help = "HTTP path of the Engine.IO endpoint, as the client's `path` "
             "option."},
    {KEY(server, trusted_proxies, LIST), .def = "", .flags = APP_CFG_RELOAD,
     .metavar = "CIDR[,CIDR]", .check = check_proxy,
     .help = "Addresses or CIDR ranges of reverse proxies whose "
             "X-Forwarded-For header is believed (for per-IP limits and "
             "logs). Empty: the header is ignored."},
    {KEY(server, id, STRING), .def = "", .cli = "server-id", .metavar = "ID",
     .check = check_server_id,
     .help = "Name of this instance, reported as server_id in "
             "connection.established and in /health. Empty: "
             "<hostname>-<pid>."},
    {KEY(server, threads, STRING), .def = "1", .cli = "threads",
     .metavar = "N|auto", .check = check_threads,
     .help = "Event loops of this process, each on a thread of its own "
             "with its own connections and sessions (SO_REUSEPORT "
             "listeners on the same addresses; a request for another "
             "loop's session is handed to it with its connection). A "
             "number from 1 to 64, or auto: one per online CPU (at most "
             "64)."},
    {KEY(server, drain_timeout_ms, DURATION), .def = "10000", .min = 0,
     .max = H1, .flags = APP_CFG_RELOAD,
     .help = "On SIGTERM or SIGINT, how long to wait for clients to "
             "disconnect after being told to before the remaining "
             "connections are closed."},
    {KEY(server, backlog, INT), .def = "511", .min = 1, .max = 65535,
     .help = "Length of the queue of connections not yet accepted, as "
             "asked of listen(2); the kernel caps it at net.core.somaxconn "
             "(4096 on Debian 12). Raise both to absorb reconnection storms "
             "(every client of a drained instance comes back at once)."},
    {KEY(server, dashboard, ENUM), .def = "auto", .choices = "auto|on|off",
     .help = "Serve the demo dashboard (examples/dashboard) at /: on, off, "
             "or auto (only in development mode: auth.mode none or no key "
             "configured)."},
    {KEY(server, client_js, STRING), .def = "", .metavar = "FILE",
     .help = "socket.io-client's dist/socket.io.min.js, served at "
             "<path>socket.io.js as the Node server does. Empty: not "
             "served (the dashboard then loads it from the socket.io CDN)."},

    /* [engine] */
    {KEY(engine, ping_interval_ms, DURATION), .def = "25000", .min = 1,
     .max = H1, .cli = "ping-interval", .metavar = "MS",
     .help = "Interval between the server's Engine.IO pings "
             "(pingInterval)."},
    {KEY(engine, ping_timeout_ms, DURATION), .def = "20000", .min = 1,
     .max = H1, .cli = "ping-timeout", .metavar = "MS",
     .help = "How long a client may take to answer a ping before it is "
             "disconnected (pingTimeout)."},
    {KEY(engine, max_payload, SIZE), .def = "1000000", .min = 1, .max = GIB,
     .cli = "max-payload", .metavar = "BYTES",
     .help = "Largest message or polling payload accepted "
             "(maxHttpBufferSize/maxPayload). A bigger one closes the "
             "connection (WebSocket close 1009, HTTP 413)."},
    {KEY(engine, transports, LIST), .def = "polling,websocket",
     .choices = "polling|websocket", .cli = "transports", .metavar = "LIST",
     .help = "Transports offered to clients: polling, websocket or both."},
    {KEY(engine, connect_timeout_ms, DURATION), .def = "45000", .min = 1,
     .max = H1,
     .help = "How long a client has to join a namespace after the Engine.IO "
             "handshake (connectTimeout)."},
    {KEY(engine, cookie, STRING), .def = "", .metavar = "NAME",
     .check = check_cookie,
     .help = "Name of the sticky-session cookie set on the handshake (io "
             "for load balancers keyed on it). Empty: no cookie."},
    {KEY(engine, forwarding, BOOL), .def = "true",
     .help = "With redis.url set: a polling request or WebSocket upgrade "
             "for a session another instance owns is carried to it over "
             "Redis and answered as if it had gone there, so the load "
             "balancer need not be sticky (the protocol of "
             "@socket.io/cluster-engine's RedisEngine: Node instances "
             "using it take part). Not over a Redis Cluster URL."},
    {KEY(engine, takeover_ms, DURATION), .def = "300", .min = 0, .max = 10000,
     .help = "With forwarding: how long a new polling session's connection "
             "is held so that its WebSocket upgrade, on whichever instance "
             "it lands, takes the session over instead of proxying it "
             "through Redis for its whole life. A local upgrade ends the "
             "wait at once; polling-only clients wait it in full. 0: never "
             "held (for sticky balancers)."},

    /* [auth] */
    {KEY(auth, mode, ENUM), .def = "jwt", .choices = "jwt|none",
     .cli = "auth-mode", .metavar = "MODE",
     .help = "jwt: every connection must present a valid JSON Web Token. "
             "none: no authentication, for development only (a warning is "
             "logged at start)."},
    {KEY(auth, algorithm, ENUM), .def = "HS256",
     .choices = "HS256|HS384|HS512|RS256|RS384|RS512|ES256|ES384|ES512",
     .flags = APP_CFG_RELOAD, .cli = "auth-algorithm", .metavar = "ALG",
     .help = "The only JWT alg accepted; a token whose header names another "
             "one (including none) is rejected. HS* use auth.secret or "
             "auth.secret_file, RS* and ES* use auth.public_key_file."},
    {KEY(auth, secret, STRING), .def = "",
     .flags = APP_CFG_RELOAD | APP_CFG_SECRET,
     .help = "Shared secret for HS256/384/512 (at least as many bytes as "
             "the hash: 32, 48, 64). Never printed; cannot be given on the "
             "command line. Prefer auth.secret_file."},
    {KEY(auth, secret_file, STRING), .def = "", .flags = APP_CFG_RELOAD,
     .cli = "auth-secret-file", .metavar = "FILE",
     .help = "File holding the HS* secret (trailing newlines are removed). "
             "Set either this or auth.secret."},
    {KEY(auth, public_key_file, STRING), .def = "", .flags = APP_CFG_RELOAD,
     .cli = "auth-public-key-file", .metavar = "FILE",
     .help = "PEM public key for RS* (RSA) or ES* (EC, curve matching the "
             "algorithm)."},
    {KEY(auth, issuer, STRING), .def = "", .flags = APP_CFG_RELOAD,
     .help = "When set, the token's iss claim must equal it."},
    {KEY(auth, audience, LIST), .def = "", .flags = APP_CFG_RELOAD,
     .help = "When set, the token's aud claim (a string or an array) must "
             "contain one of these comma-separated values."},
    {KEY(auth, require_exp, BOOL), .def = "true", .flags = APP_CFG_RELOAD,
     .help = "Reject tokens without an exp claim."},
    {KEY(auth, leeway_s, INT), .def = "30", .min = 0, .max = 86400,
     .flags = APP_CFG_RELOAD,
     .help = "Clock skew allowed when checking exp and nbf, in seconds."},
    {KEY(auth, claim_projects, STRING), .def = "projects",
     .flags = APP_CFG_RELOAD, .check = check_nonempty,
     .help = "Claim listing the project ids the user may subscribe to (an "
             "array; \"*\" allows all)."},
    {KEY(auth, claim_agents, STRING), .def = "agents", .flags = APP_CFG_RELOAD,
     .check = check_nonempty,
     .help = "Claim listing the agent ids the user may subscribe to (an "
             "array; \"*\" allows all)."},
    {KEY(auth, claim_role, STRING), .def = "role", .flags = APP_CFG_RELOAD,
     .check = check_nonempty,
     .help = "Claim holding the user's role (a string or an array); the "
             "role admin may join every project: and agent: room."},

    /* [redis] */
    {KEY(redis, url, STRING), .def = "", .flags = APP_CFG_URL,
     .cli = "redis-url", .metavar = "URL", .check = check_redis_url,
     .help = "Where the Redis adapter connects. "
             "redis://[[user]:password@]host:port[/db]; rediss://... for "
             "TLS; unix:///path/to/redis.sock[?db=N&password=P] (or "
             "redis+unix://); "
             "redis+sentinel://[[user]:password@]host:port[,host:port...]"
             "/master-name[/db] to follow the master that Redis Sentinel "
             "names (rediss+sentinel:// for TLS); "
             "redis+cluster://[[user]:password@]host:port[,host:port...] "
             "for a Redis Cluster (rediss+cluster:// for TLS; use "
             "redis.adapter sharded or streams). A password is shown as "
             "***. Empty: the in-memory adapter (a single instance)."},
    {KEY(redis, key, STRING), .def = "socket.io", .cli = "redis-key",
     .metavar = "PREFIX", .check = check_nonempty,
     .help = "Channel prefix shared with the other servers and emitters "
             "(the redis-adapter's key option)."},
    {KEY(redis, connect_timeout_ms, DURATION), .def = "5000", .min = 1,
     .max = H1,
     .help = "How long one connection attempt to Redis may take, from "
             "the connect to the first PING answered, before it is given "
             "up and retried (a refused connect is retried at once, with "
             "backoff from 100 ms to 500 ms)."},
    {KEY(redis, adapter, ENUM), .def = "classic", .choices = "classic|sharded|streams",
     .cli = "redis-adapter", .metavar = "PROTOCOL",
     .help = "The adapter protocol, as the Node servers of the fleet use: "
             "classic is @socket.io/redis-adapter's createAdapter "
             "(PUBLISH/PSUBSCRIBE), sharded its createShardedAdapter "
             "(Redis 7 sharded pub/sub, SPUBLISH/SSUBSCRIBE), needed on a "
             "Redis Cluster and usable on a single Redis 7; streams is "
             "@socket.io/redis-streams-adapter 0.3 (a Redis stream named by "
             "redis.key), with which connection state recovery works across "
             "instances (recovery.enabled)."},
    {KEY(redis, tls_ca_file, STRING), .def = "", .metavar = "FILE",
     .help = "rediss: PEM bundle of the CAs the Redis server's certificate "
             "must chain to (its name is checked against the URL's host). "
             "Empty: the system's CA paths."},
    {KEY(redis, tls_cert_file, STRING), .def = "", .metavar = "FILE",
     .help = "rediss: PEM client certificate, for a Redis with "
             "tls-auth-clients; set with redis.tls_key_file. Empty: none."},
    {KEY(redis, tls_key_file, STRING), .def = "", .metavar = "FILE",
     .help = "rediss: PEM private key of redis.tls_cert_file."},

    /* [api] */
    {KEY(api, key, STRING), .def = "", .flags = APP_CFG_RELOAD | APP_CFG_SECRET,
     .help = "Bearer key required by POST /api/v1/emit. Empty disables the "
             "endpoint. Never printed; cannot be given on the command "
             "line."},

    /* [cors] */
    {KEY(cors, origins, LIST), .def = "*", .cli = "cors-origins",
     .metavar = "LIST", .check = check_origin,
     .help = "Origins allowed to connect (CORS and WebSocket Origin check), "
             "as scheme://host[:port], separated by commas; * allows "
             "any. The server's own origin (its scheme and the request's "
             "Host, as the daemon's dashboard sends) is always allowed."},
    {KEY(cors, credentials, BOOL), .def = "false",
     .help = "Send Access-Control-Allow-Credentials (needs explicit "
             "origins, not *)."},

    /* [limits] */
    {KEY(limits, max_connections, INT), .def = "10000", .min = 0,
     .max = 10000000,
     .help = "Most concurrent connections of this instance; 0: no limit."},
    {KEY(limits, max_connections_per_user, INT), .def = "5", .min = 0,
     .max = 1000000, .flags = APP_CFG_RELOAD,
     .help = "Most concurrent connections of one user (token sub) on this "
             "instance; more are refused with connection_limit. 0: no "
             "limit."},
    {KEY(limits, events_per_minute, INT), .def = "60", .min = 0, .max = 6000000,
     .flags = APP_CFG_RELOAD,
     .help = "Sustained rate of events a socket may send (token bucket); an "
             "event over it is not processed. 0: no limit."},
    {KEY(limits, events_burst, INT), .def = "30", .min = 1, .max = 1000000,
     .flags = APP_CFG_RELOAD,
     .help = "Events a socket may send at once before the rate applies "
             "(bucket size)."},
    {KEY(limits, max_buffered_bytes, SIZE), .def = "4m", .min = 1024,
     .max = GIB,
     .help = "Unsent output allowed per connection; a slower consumer is "
             "disconnected."},
    {KEY(limits, close_timeout_ms, DURATION), .def = "5000", .min = 1,
     .max = H1,
     .help = "Bound of every close the server starts: flushing the last "
             "bytes, then draining the client's input until it closes. A "
             "client that stops reading loses its connection this long "
             "after the close began."},
    {KEY(limits, handshakes_per_ip_per_s, INT), .def = "10", .min = 0,
     .max = 1000000, .flags = APP_CFG_RELOAD,
     .help = "Sustained rate of new handshakes per client IP, per second; "
             "more get HTTP 429. 0: no limit."},
    {KEY(limits, handshakes_burst, INT), .def = "20", .min = 1, .max = 1000000,
     .flags = APP_CFG_RELOAD,
     .help = "Handshakes one IP may make at once before the rate "
             "applies."},
    {KEY(limits, max_rooms_per_socket, INT), .def = "100", .min = 0,
     .max = 100000, .flags = APP_CFG_RELOAD,
     .help = "Most rooms a socket may subscribe to (global and its user: "
             "room not counted); more get the limit error. 0: no limit."},

    /* [recovery] */
    {KEY(recovery, enabled, BOOL), .def = "false",
     .help = "Connection state recovery: a client reconnecting in time gets "
             "its id, rooms and missed events back. Opt-in, as in the "
             "reference server: events then carry a trailing offset "
             "argument, which fixed-arity handlers of non-JS clients do "
             "not expect."},
    {KEY(recovery, max_disconnection_ms, DURATION), .def = "120000", .min = 0,
     .max = 86400000,
     .help = "How long missed events are kept for a disconnected client "
             "(maxDisconnectionDuration)."},
    {KEY(recovery, persist_interval_ms, DURATION), .def = "10000", .min = 100,
     .max = 3600000,
     .help = "With redis.adapter = streams: how often the sessions of "
             "connected clients that are new or changed rooms are copied to "
             "Redis, so that the clients of a killed instance resume on "
             "another with the rooms they had at most this long before "
             "(all are copied when a drain starts)."},

    /* [replay] */
    {KEY(replay, enabled, BOOL), .def = "true",
     .help = "Replay from the last event id: every event delivered through "
             "a room is kept in that room's bounded history, and a client "
             "reconnecting with auth {last_event_id} (or subscribing with "
             "since) gets what it missed. Nothing is appended to the "
             "events, so every client library works."},
    {KEY(replay, max_events, INT), .def = "1000", .min = 1, .max = 1000000,
     .help = "Events kept per room; older ones are dropped first."},
    {KEY(replay, max_age_s, INT), .def = "300", .min = 1, .max = 86400,
     .help = "Seconds an event stays in the history."},

    /* [tls] */
    {KEY(tls, cert_file, STRING), .def = "", .cli = "tls-cert",
     .metavar = "FILE",
     .help = "PEM certificate: when set (with tls.key_file) every listener "
             "speaks HTTPS/WSS."},
    {KEY(tls, key_file, STRING), .def = "", .cli = "tls-key", .metavar = "FILE",
     .help = "PEM private key of tls.cert_file."},
    {KEY(tls, chain_file, STRING), .def = "", .metavar = "FILE",
     .help = "Optional PEM file of intermediate certificates."},
    {KEY(tls, min_version, ENUM), .def = "1.2", .choices = "1.2|1.3",
     .help = "Oldest TLS version accepted."},

    /* [log] */
    {KEY(log, level, ENUM), .def = "info", .choices = "error|warn|info|debug",
     .flags = APP_CFG_RELOAD, .cli = "log-level", .metavar = "LEVEL",
     .help = "Least severe level written: error, warn, info or debug."},
    {KEY(log, format, ENUM), .def = "text", .choices = "text|json",
     .flags = APP_CFG_RELOAD, .cli = "log-format", .metavar = "FORMAT",
     .help = "text: one readable line per event; json: one JSON object per "
             "line."},

    /* [metrics] */
    {KEY(metrics, enabled, BOOL), .def = "true", .flags = APP_CFG_RELOAD,
     .help = "Serve GET /metrics (Prometheus text format)."},
};

const size_t app_config_nkeys = APP_ARRLEN(app_config_keys);

/* ------------------------------------------------------------- lookup */

const struct app_config_key *app_config_find(const char *section,
                                             const char *name) {
  size_t i;
  for (i = 0; i < app_config_nkeys; i++)
    if (strcasecmp(app_config_keys[i].section, section) == 0 &&
        strcasecmp(app_config_keys[i].name, name) == 0)
      return &app_config_keys[i];
  return NULL;
}

void app_config_env_name(const struct app_config_key *k, char *buf,
                         size_t cap) {
  size_t o = 0;
  const char *parts[3] = {"SIO_", k->section, k->name};
  int i;
  if (cap == 0)
    return;
  for (i = 0; i < 3; i++) {
    const char *p;
    if (i == 2 && o + 1 < cap)
      buf[o++] = '_';
    for (p = parts[i]; *p && o + 1 < cap; p++)
      buf[o++] = (*p >= 'a' && *p <= 'z') ? (char)(*p - 'a' + 'A') : *p;
  }
  buf[o] = '\0';
}

static bool is_section(const char *s, size_t n) {
  size_t i;
  for (i = 0; i < app_config_nkeys; i++)
    if (strlen(app_config_keys[i].section) == n &&
        strncasecmp(app_config_keys[i].section, s, n) == 0)
      return true;
  return false;
}

static void *field_ptr(struct app_config *cfg, const struct app_config_key *k) {
  return (char *)cfg + k->offset;
}

static const void *cfield_ptr(const struct app_config *cfg,
                              const struct app_config_key *k) {
  return (const char *)cfg + k->offset;
}

static size_t field_size(enum app_cfg_type t) {
  switch (t) {
  case APP_CFG_INT:
  case APP_CFG_DURATION:
    return sizeof(int64_t);
  case APP_CFG_SIZE:
    return sizeof(uint64_t);
  case APP_CFG_BOOL:
    return sizeof(bool);
  default:
    return sizeof(char *);
  }
}

static bool is_str_type(enum app_cfg_type t) {
  return t == APP_CFG_STRING || t == APP_CFG_LIST || t == APP_CFG_ENUM;
}

/* ------------------------------------------------------------ parsing */

static void trim(const char **s, size_t *n) {
  while (*n && (**s == ' ' || **s == '\t'))
    (*s)++, (*n)--;
  while (*n && ((*s)[*n - 1] == ' ' || (*s)[*n - 1] == '\t' ||
                (*s)[*n - 1] == '\r' || (*s)[*n - 1] == '\n'))
    (*n)--;
}

/* Parses an unsigned decimal number with an optional suffix from units[]
 * (matched case-insensitively). Returns 0, -1 (not a number), -2 (bad
 * suffix) or -3 (overflow). */
struct unit {
  const char *suffix;
  uint64_t mult;
};

static int parse_scaled(const char *s, const struct unit *units, size_t nunits,
                        uint64_t *out, bool *negative) {
  size_t n = strlen(s), i;
  uint64_t v = 0;
  bool digits = false;
  trim(&s, &n);
  *negative = false;
  if (n && (*s == '-' || *s == '+')) {
    *negative = *s == '-';
    s++, n--;
  }
  while (n && *s >= '0' && *s <= '9') {
    uint64_t d = (uint64_t)(*s - '0');
    if (v > (UINT64_MAX - d) / 10)
      return -3;
    v = v * 10 + d;
    digits = true;
    s++, n--;
  }
  if (!digits)
    return -1;
  while (n && *s == ' ')
    s++, n--;
  if (n) {
    for (i = 0; i < nunits; i++)
      if (app_strn_ieq(s, n, units[i].suffix))
        break;
    if (i == nunits)
      return -2;
    if (units[i].mult && v > UINT64_MAX / units[i].mult)
      return -3;
    v *= units[i].mult;
  }
  *out = v;
  return 0;
}

static const struct unit size_units[] = {
    {"b", 1},        {"k", 1024},       {"kb", 1024},       {"m", 1048576},
    {"mb", 1048576}, {"g", 1073741824}, {"gb", 1073741824},
};
static const struct unit duration_units[] = {
    {"ms", 1},
    {"s", 1000},
    {"m", 60000},
    {"h", 3600000},
};

static bool parse_bool(const char *s, bool *out) {
  static const char *yes[] = {"true", "yes", "on", "1"};
  static const char *no[] = {"false", "no", "off", "0"};
  size_t n = strlen(s), i;
  trim(&s, &n);
  for (i = 0; i < 4; i++) {
    if (app_strn_ieq(s, n, yes[i])) {
      *out = true;
      return true;
    }
    if (app_strn_ieq(s, n, no[i])) {
      *out = false;
      return true;
    }
  }
  return false;
}

/* Finds item in a "a|b|c" list, case-insensitively; on success writes the
 * canonical spelling's start and length. */
static bool find_choice(const char *choices, const char *item, size_t n,
                        const char **canon, size_t *canon_len) {
  const char *p = choices;
  while (*p) {
    const char *e = strchr(p, '|');
    size_t len = e ? (size_t)(e - p) : strlen(p);
    if (len == n && strncasecmp(p, item, n) == 0) {
      *canon = p;
      *canon_len = len;
      return true;
    }
    if (!e)
      break;
    p = e + 1;
  }
  return false;
}

/* "a|b|c" -> "a, b, c" into buf. */
static void choices_text(const char *choices, char *buf, size_t cap) {
  size_t o = 0;
  const char *p;
  for (p = choices; *p && o + 3 < cap; p++) {
    if (*p == '|') {
      buf[o++] = ',';
      buf[o++] = ' ';
    } else {
      buf[o++] = *p;
    }
  }
  buf[o] = '\0';
}

static void mask_url(const char *url, char *buf, size_t cap);

/* Parses raw for key k into *field (freeing nothing: the caller hands an
 * empty slot). On failure writes a reason to why and returns -1; returns -2
 * when out of memory. */
static int parse_value(const struct app_config_key *k, const char *raw,
                       void *field, char *why, size_t whylen) {
  uint64_t u;
  bool neg, b;
  int rc;
  char choices[160];

  switch (k->type) {
  case APP_CFG_STRING: {
    const char *s = raw;
    size_t n = strlen(s);
    char *copy;
    trim(&s, &n);
    if (k->check) {
      copy = strndup(s, n);
      if (!copy)
        return -2;
      {
        const char *r = k->check(copy);
        if (r) {
          if (k->flags & APP_CFG_SECRET) {
            snprintf(why, whylen, "%s", r);
          } else if (k->flags & APP_CFG_URL) {
            char masked[160];
            mask_url(copy, masked, sizeof(masked));
            snprintf(why, whylen, "\"%s\": %s", masked, r);
          } else
            snprintf(why, whylen, "\"%s\": %s", copy, r);
          free(copy);
          return -1;
        }
      }
    } else {
      copy = strndup(s, n);
      if (!copy)
        return -2;
    }
    *(char **)field = copy;
    return 0;
  }
  case APP_CFG_ENUM: {
    const char *s = raw, *canon;
    size_t n = strlen(s), cn;
    trim(&s, &n);
    if (!find_choice(k->choices, s, n, &canon, &cn)) {
      choices_text(k->choices, choices, sizeof(choices));
      snprintf(why, whylen, "\"%.*s\" is not one of %s", (int)(n > 64 ? 64 : n),
               s, choices);
      return -1;
    }
    *(char **)field = strndup(canon, cn);
    return *(char **)field ? 0 : -2;
  }
  case APP_CFG_LIST: {
    char **items;
    size_t n, i;
    char *norm;
    if (app_list_split(raw, &items, &n) != 0)
      return -2;
    for (i = 0; i < n; i++) {
      const char *canon, *r = NULL;
      size_t cn;
      if (k->choices &&
          !find_choice(k->choices, items[i], strlen(items[i]), &canon, &cn)) {
        choices_text(k->choices, choices, sizeof(choices));
        snprintf(why, whylen, "\"%s\" is not one of %s", items[i], choices);
        app_strv_free(items);
        return -1;
      }
      if (k->check)
        r = k->check(items[i]);
      if (r) {
        snprintf(why, whylen, "\"%s\": %s", items[i], r);
        app_strv_free(items);
        return -1;
      }
    }
    /* Items of a closed list are stored in their canonical spelling. */
    for (i = 0; k->choices && i < n; i++) {
      const char *canon;
      size_t cn;
      find_choice(k->choices, items[i], strlen(items[i]), &canon, &cn);
      memcpy(items[i], canon, cn);
    }
    norm = app_list_join(items, n);
    app_strv_free(items);
    if (!norm)
      return -2;
    *(char **)field = norm;
    return 0;
  }
  case APP_CFG_BOOL:
    if (!parse_bool(raw, &b)) {
      snprintf(why, whylen,
               "not a boolean (true/false, yes/no, on/off, "
               "1/0)");
      return -1;
    }
    *(bool *)field = b;
    return 0;
  case APP_CFG_INT:
  case APP_CFG_SIZE:
  case APP_CFG_DURATION: {
    const struct unit *units = NULL;
    size_t nunits = 0;
    int64_t v;
    if (k->type == APP_CFG_SIZE) {
      units = size_units;
      nunits = APP_ARRLEN(size_units);
    } else if (k->type == APP_CFG_DURATION) {
      units = duration_units;
      nunits = APP_ARRLEN(duration_units);
    }
    rc = parse_scaled(raw, units, nunits, &u, &neg);
    if (rc == -1) {
      snprintf(why, whylen, "not a number");
      return -1;
    }
    if (rc == -2) {
      snprintf(why, whylen,
               k->type == APP_CFG_SIZE       ? "unknown size suffix (use k, "
                                               "m or g)"
               : k->type == APP_CFG_DURATION ? "unknown duration suffix "
                                               "(use ms, s, m or h)"
                                             : "not a number");
      return -1;
    }
    if (rc == -3 || u > (uint64_t)INT64_MAX) {
      snprintf(why, whylen, "number too large (maximum %lld)",
               (long long)k->max);
      return -1;
    }
    v = neg ? -(int64_t)u : (int64_t)u;
    if (v < k->min || v > k->max) {
      snprintf(why, whylen, "%lld is out of range %lld..%lld", (long long)v,
               (long long)k->min, (long long)k->max);
      return -1;
    }
    if (k->type == APP_CFG_SIZE)
      *(uint64_t *)field = (uint64_t)v;
    else
      *(int64_t *)field = v;
    return 0;
  }
  }
  return -1;
}

/* Canonical text of a parsed value (what the file would say). */
static void format_value(const struct app_config_key *k, const void *field,
                         char *buf, size_t cap) {
  switch (k->type) {
  case APP_CFG_STRING:
  case APP_CFG_LIST:
  case APP_CFG_ENUM:
    snprintf(buf, cap, "%s", *(char *const *)field);
    break;
  case APP_CFG_BOOL:
    snprintf(buf, cap, "%s", *(const bool *)field ? "true" : "false");
    break;
  case APP_CFG_SIZE:
    snprintf(buf, cap, "%llu", (unsigned long long)*(const uint64_t *)field);
    break;
  case APP_CFG_INT:
  case APP_CFG_DURATION:
    snprintf(buf, cap, "%lld", (long long)*(const int64_t *)field);
    break;
  }
}

/* Copies url into buf with its secrets replaced by "***": the userinfo's
 * password (or the whole userinfo when it has no ':'), which ends at the
 * last '@' so that a password holding '@', '/' or ',' is masked whole, and
 * the value of a password= query parameter (unix:// URLs). */
static void mask_url(const char *url, char *buf, size_t cap) {
  const char *auth = strstr(url, "://"), *at, *colon, *p;
  struct app_sbuf b = {0};
  char *out;
  if (!auth) {
    snprintf(buf, cap, "%s", url);
    return;
  }
  auth += 3;
  at = *auth == '/' ? NULL : strrchr(auth, '@');
  p = url;
  if (at) {
    colon = memchr(auth, ':', (size_t)(at - auth));
    app_sbuf_append(&b, url, (size_t)((colon ? colon + 1 : auth) - url));
    app_sbuf_puts(&b, "***");
    p = at;
  }
  for (;;) {
    const char *q = strstr(p, "password=");
    if (!q || q == url) {
      app_sbuf_puts(&b, p);
      break;
    }
    if (q[-1] != '?' && q[-1] != '&') {
      app_sbuf_append(&b, p, (size_t)(q + 9 - p));
      p = q + 9;
      continue;
    }
    app_sbuf_append(&b, p, (size_t)(q + 9 - p));
    app_sbuf_puts(&b, "***");
    p = q + 9 + strcspn(q + 9, "&#");
  }
  out = app_sbuf_take(&b, NULL);
  snprintf(buf, cap, "%s", out ? out : "(out of memory)");
  free(out);
}

/* ------------------------------------------------------------ loading */

/* Raw text per key while the sources are gathered. */
struct raw_value {
  char *text; /* owned; NULL = the default */
  enum app_cfg_source kind;
  char *where; /* owned */
  int file_line;
};

struct load_ctx {
  struct raw_value *raw; /* app_config_nkeys */
  struct app_msgs *msgs;
  const char *path;
  /* INI reader state */
  const char *p, *end;
  int line;
  int oversize_line;
  bool oom;
};

static void raw_free(struct raw_value *raw) {
  size_t i;
  if (!raw)
    return;
  for (i = 0; i < app_config_nkeys; i++) {
    free(raw[i].text);
    free(raw[i].where);
  }
  free(raw);
}

static int raw_set(struct raw_value *r, enum app_cfg_source kind,
                   const char *text, size_t len, char *where) {
  char *t = strndup(text, len);
  if (!t || !where) {
    free(t);
    free(where);
    return -1;
  }
  free(r->text);
  free(r->where);
  r->text = t;
  r->where = where;
  r->kind = kind;
  return 0;
}

static char *xasprintf(const char *fmt, ...) APP_PRINTF(1, 2);
static char *xasprintf(const char *fmt, ...) {
  va_list ap;
  int n;
  char *s;
  va_start(ap, fmt);
  n = vsnprintf(NULL, 0, fmt, ap);
  va_end(ap);
  if (n < 0)
    return NULL;
  s = malloc((size_t)n + 1);
  if (!s)
    return NULL;
  va_start(ap, fmt);
  vsnprintf(s, (size_t)n + 1, fmt, ap);
  va_end(ap);
  return s;
}

/* libinih reader: hands out one line of the in-memory file per call, with
 * leading blanks removed, counting lines. */
static char *cfg_ini_reader(char *str, int num, void *stream) {
  struct load_ctx *c = stream;
  const char *s, *e, *nl;
  size_t len;
  if (c->p >= c->end)
    return NULL;
  nl = memchr(c->p, '\n', (size_t)(c->end - c->p));
  s = c->p;
  e = nl ? nl : c->end;
  c->p = nl ? nl + 1 : c->end;
  c->line++;
  while (s < e && (*s == ' ' || *s == '\t'))
    s++;
  len = (size_t)(e - s);
  if (num < 3 || len + 2 > (size_t)num) {
    if (!c->oversize_line)
      c->oversize_line = c->line;
    len = 0; /* hand inih a blank line */
  }
  memcpy(str, s, len);
  str[len] = '\n';
  str[len + 1] = '\0';
  return str;
}

static int cfg_ini_handler(void *user, const char *section, const char *name,
                           const char *value) {
  struct load_ctx *c = user;
  const struct app_config_key *k;
  struct raw_value *r;
  size_t n;

  if (!section[0]) {
    app_msgs_add(c->msgs, APP_MSG_ERROR,
                 "%s:%d: key \"%s\" is outside any [section]", c->path, c->line,
                 name);
    return 1;
  }
  k = app_config_find(section, name);
  if (!k) {
    if (is_section(section, strlen(section)))
      app_msgs_add(c->msgs, APP_MSG_ERROR, "%s:%d: unknown key \"%s\" in [%s]",
                   c->path, c->line, name, section);
    else
      app_msgs_add(c->msgs, APP_MSG_ERROR, "%s:%d: unknown section [%s]",
                   c->path, c->line, section);
    return 1;
  }
  r = &c->raw[k - app_config_keys];
  if (r->kind == APP_CFG_SRC_FILE) {
    app_msgs_add(c->msgs, APP_MSG_ERROR,
                 "%s.%s: set twice in %s (lines %d and %d)", k->section,
                 k->name, c->path, r->file_line, c->line);
    return 1;
  }
  n = strlen(value);
  if (n >= 2 && value[0] == '"' && value[n - 1] == '"') {
    value++;
    n -= 2;
  }
  if (raw_set(r, APP_CFG_SRC_FILE, value, n,
              xasprintf("%s:%d", c->path, c->line)) != 0)
    c->oom = true;
  r->file_line = c->line;
  return 1;
}

static int read_ini(struct load_ctx *c, const char *path) {
  char *text = NULL;
  size_t len = 0;
  int rc = app_read_file(path, 1 << 20, &text, &len);
  if (rc != 0) {
    app_msgs_add(c->msgs, APP_MSG_ERROR, "cannot read config file %s: %s", path,
                 rc == -EFBIG ? "larger than 1 MiB" : strerror(-rc));
    return -1;
  }
  if (memchr(text, '\0', len)) {
    app_msgs_add(c->msgs, APP_MSG_ERROR,
                 "%s: contains a NUL byte (not a text file)", path);
    free(text);
    return -1;
  }
  c->path = path;
  c->p = text;
  c->end = text + len;
  c->line = 0;
  rc = ini_parse_stream(cfg_ini_reader, c, cfg_ini_handler, c);
  free(text);
  if (c->oversize_line)
    app_msgs_add(c->msgs, APP_MSG_ERROR,
                 "%s:%d: line too long for the INI parser (use the "
                 "environment variable for long values)",
                 path, c->oversize_line);
  if (rc == -2 || c->oom) {
    app_msgs_add(c->msgs, APP_MSG_ERROR, "%s: out of memory", path);
    return -1;
  }
  if (rc > 0 && rc != c->oversize_line) {
    app_msgs_add(c->msgs, APP_MSG_ERROR,
                 "%s:%d: syntax error (expected [section], key = value or a "
                 "comment)",
                 path, rc);
    return -1;
  }
  return 0;
}

static int read_env(struct load_ctx *c, char *const *envp) {
  char names[64][80];
  size_t i, nk = app_config_nkeys;
  char *const *e;
  _Static_assert(APP_ARRLEN(app_config_keys) <= 64, "grow names[]");

  for (i = 0; i < nk; i++)
    app_config_env_name(&app_config_keys[i], names[i], sizeof(names[i]));
  for (e = envp; e && *e; e++) {
    const char *eq = strchr(*e, '='), *sec;
    size_t n;
    if (strncmp(*e, "SIO_", 4) != 0 || !eq)
      continue;
    n = (size_t)(eq - *e);
    for (i = 0; i < nk; i++)
      if (strlen(names[i]) == n && memcmp(names[i], *e, n) == 0)
        break;
    if (i < nk) {
      if (raw_set(&c->raw[i], APP_CFG_SRC_ENV, eq + 1, strlen(eq + 1),
                  strndup(*e, n)) != 0)
        return -1;
      continue;
    }
    /* A SIO_<SECTION>_... name that matches no key is probably a typo. */
    sec = *e + 4;
    {
      const char *us = memchr(sec, '_', (size_t)(eq - sec));
      if (us && is_section(sec, (size_t)(us - sec)))
        app_msgs_add(c->msgs, APP_MSG_WARN,
                     "%.*s: no such configuration key (ignored)", (int)n, *e);
    }
  }
  return 0;
}

static int apply_cli(struct load_ctx *c, const struct app_cli *cli) {
  size_t i;
  for (i = 0; cli && i < cli->n_ov; i++) {
    const struct app_cli_override *o = &cli->ov[i];
    const char *eq = strchr(o->flag, '=');
    size_t n = eq ? (size_t)(eq - o->flag) : strlen(o->flag);
    if (raw_set(&c->raw[o->key], APP_CFG_SRC_CLI, o->value, strlen(o->value),
                strndup(o->flag, n)) != 0)
      return -1;
  }
  return 0;
}

unsigned app_config_threads(const struct app_config *cfg) {
  long n;
  if (strcasecmp(cfg->server_threads, "auto") != 0)
    return (unsigned)atoi(cfg->server_threads);
  n = sysconf(_SC_NPROCESSORS_ONLN);
  return n < 1 ? 1 : n > APP_MAX_THREADS ? APP_MAX_THREADS : (unsigned)n;
}

int app_config_copy(struct app_config *dst, const struct app_config *src) {
  size_t i;
  memcpy(dst, src, sizeof(*dst));
  dst->src = NULL;
  dst->file = NULL;
  for (i = 0; i < app_config_nkeys; i++)
    if (is_str_type(app_config_keys[i].type))
      *(char **)field_ptr(dst, &app_config_keys[i]) = NULL;
  for (i = 0; i < app_config_nkeys; i++) {
    const struct app_config_key *k = &app_config_keys[i];
    char **to;
    if (!is_str_type(k->type))
      continue;
    to = field_ptr(dst, k);
    if (!(*to = strdup(*(char *const *)cfield_ptr(src, k)))) {
      app_config_deinit(dst);
      return -1;
    }
  }
  return 0;
}

void app_config_deinit(struct app_config *cfg) {
  size_t i;
  if (!cfg)
    return;
  for (i = 0; i < app_config_nkeys; i++) {
    const struct app_config_key *k = &app_config_keys[i];
    if (is_str_type(k->type)) {
      char **p = field_ptr(cfg, k);
      free(*p);
      *p = NULL;
    }
  }
  if (cfg->src) {
    for (i = 0; i < app_config_nkeys; i++)
      free(cfg->src[i].where);
    free(cfg->src);
  }
  free(cfg->file);
  memset(cfg, 0, sizeof(*cfg));
}

static const char *src_text(const struct app_config_src *s, char *buf,
                            size_t cap) {
  if (s->kind == APP_CFG_SRC_DEFAULT)
    snprintf(buf, cap, "default");
  else
    snprintf(buf, cap, "from %s", s->where);
  return buf;
}

int app_config_load(struct app_config *cfg, const char *path, char *const *envp,
                    const struct app_cli *cli, struct app_msgs *msgs) {
  struct load_ctx c;
  size_t i, errors_before = msgs->n_errors;
  int rc = -1;

  memset(cfg, 0, sizeof(*cfg));
  memset(&c, 0, sizeof(c));
  c.msgs = msgs;
  c.raw = calloc(app_config_nkeys, sizeof(*c.raw));
  cfg->src = calloc(app_config_nkeys, sizeof(*cfg->src));
  if (!c.raw || !cfg->src)
    goto oom;
  if (path) {
    cfg->file = strdup(path);
    if (!cfg->file)
      goto oom;
    if (read_ini(&c, path) != 0)
      goto fail;
  }
  if (read_env(&c, envp) != 0 || apply_cli(&c, cli) != 0)
    goto oom;

  for (i = 0; i < app_config_nkeys; i++) {
    const struct app_config_key *k = &app_config_keys[i];
    struct raw_value *r = &c.raw[i];
    char why[256];
    int prc;
    cfg->src[i].kind = r->text ? r->kind : APP_CFG_SRC_DEFAULT;
    cfg->src[i].where = strdup(r->text ? r->where : "default");
    if (!cfg->src[i].where)
      goto oom;
    prc = parse_value(k, r->text ? r->text : k->def, field_ptr(cfg, k), why,
                      sizeof(why));
    if (prc == -2)
      goto oom;
    if (prc == -1) {
      char st[300];
      app_msgs_add(msgs, APP_MSG_ERROR, "%s.%s: %s (%s)", k->section, k->name,
                   why, src_text(&cfg->src[i], st, sizeof(st)));
      /* Keep the struct well-formed: fall back to the default. */
      if (parse_value(k, k->def, field_ptr(cfg, k), why, sizeof(why)) != 0)
        goto oom;
    }
  }
  app_config_validate(cfg, msgs);
  if (msgs->n_errors == errors_before)
    rc = 0;
  goto done;
oom:
  app_msgs_add(msgs, APP_MSG_ERROR, "configuration: out of memory");
fail:
  rc = -1;
done:
  raw_free(c.raw);
  if (rc != 0)
    app_config_deinit(cfg);
  return rc;
}

/* ---------------------------------------------------------- validation */

static const char *where_of(const struct app_config *cfg, const char *section,
                            const char *name, char *buf, size_t cap) {
  const struct app_config_key *k = app_config_find(section, name);
  if (!cfg->src || !k)
    return "default";
  return src_text(&cfg->src[k - app_config_keys], buf, cap);
}

static void check_readable(const struct app_config *cfg, const char *section,
                           const char *name, const char *path,
                           struct app_msgs *msgs) {
  char st[300];
  if (!*path || access(path, R_OK) == 0)
    return;
  app_msgs_add(msgs, APP_MSG_ERROR, "%s.%s: cannot read %s: %s (%s)", section,
               name, path, strerror(errno),
               where_of(cfg, section, name, st, sizeof(st)));
}

static void validate_redis(const struct app_config *cfg,
                           struct app_msgs *msgs) {
  const char *tls_key = *cfg->redis_tls_ca_file     ? "tls_ca_file"
                        : *cfg->redis_tls_cert_file ? "tls_cert_file"
                        : *cfg->redis_tls_key_file  ? "tls_key_file"
                                                    : NULL;
  int sch = redis_scheme(cfg->redis_url);
  char st[300];

  if (!*cfg->redis_tls_cert_file != !*cfg->redis_tls_key_file)
    app_msgs_add(msgs, APP_MSG_ERROR,
                 "%s: redis.tls_cert_file and redis.tls_key_file must be set "
                 "together (%s)",
                 *cfg->redis_tls_cert_file ? "redis.tls_key_file"
                                           : "redis.tls_cert_file",
                 *cfg->redis_tls_cert_file
                     ? where_of(cfg, "redis", "tls_cert_file", st, sizeof(st))
                     : where_of(cfg, "redis", "tls_key_file", st, sizeof(st)));
  check_readable(cfg, "redis", "tls_ca_file", cfg->redis_tls_ca_file, msgs);
  check_readable(cfg, "redis", "tls_cert_file", cfg->redis_tls_cert_file, msgs);
  check_readable(cfg, "redis", "tls_key_file", cfg->redis_tls_key_file, msgs);
  if (tls_key && !*cfg->redis_url)
    app_msgs_add(msgs, APP_MSG_WARN, "redis.%s: ignored without redis.url (%s)",
                 tls_key, where_of(cfg, "redis", tls_key, st, sizeof(st)));
  else if (tls_key && sch >= 0 && !redis_schemes[sch].tls)
    app_msgs_add(msgs, APP_MSG_WARN,
                 "redis.%s: ignored: redis.url is not a TLS URL (rediss://, "
                 "rediss+sentinel:// or rediss+cluster://) (%s)",
                 tls_key, where_of(cfg, "redis", tls_key, st, sizeof(st)));
  if (sch >= 0 && redis_schemes[sch].kind == REDIS_CLUSTER &&
      strcmp(cfg->redis_adapter, "classic") == 0)
    app_msgs_add(msgs, APP_MSG_ERROR,
                 "redis.adapter: a Redis Cluster needs redis.adapter sharded "
                 "or streams (the classic protocol's PUBLISH/PSUBSCRIBE want "
                 "one Redis) "
                 "(%s)",
                 where_of(cfg, "redis", "adapter", st, sizeof(st)));
  if (strcmp(cfg->redis_adapter, "classic") != 0 && !*cfg->redis_url)
    app_msgs_add(msgs, APP_MSG_WARN,
                 "redis.adapter: %s has no effect without redis.url (%s)",
                 cfg->redis_adapter,
                 where_of(cfg, "redis", "adapter", st, sizeof(st)));
}

size_t app_config_validate(const struct app_config *cfg,
                           struct app_msgs *msgs) {
  size_t before = msgs->n_errors;
  char st[300];

  if (!cfg->server_listen || !*cfg->server_listen)
    app_msgs_add(msgs, APP_MSG_ERROR,
                 "server.listen: at least one address is needed (%s)",
                 where_of(cfg, "server", "listen", st, sizeof(st)));
  if (!cfg->engine_transports || !*cfg->engine_transports)
    app_msgs_add(msgs, APP_MSG_ERROR,
                 "engine.transports: at least one of polling, websocket is "
                 "needed (%s)",
                 where_of(cfg, "engine", "transports", st, sizeof(st)));
  if (cfg->cors_origins && strchr(cfg->cors_origins, '*') &&
      strcmp(cfg->cors_origins, "*") != 0)
    app_msgs_add(msgs, APP_MSG_ERROR,
                 "cors.origins: * must be the only item when used (%s)",
                 where_of(cfg, "cors", "origins", st, sizeof(st)));
  if (cfg->cors_credentials && cfg->cors_origins &&
      strcmp(cfg->cors_origins, "*") == 0)
    app_msgs_add(msgs, APP_MSG_WARN,
                 "cors.credentials: browsers refuse credentials with origin "
                 "*; list the origins in cors.origins");

  if (cfg->auth_mode && strcmp(cfg->auth_mode, "none") == 0) {
    app_msgs_add(msgs, APP_MSG_WARN,
                 "auth.mode: none accepts every connection without a token "
                 "(development only) (%s)",
                 where_of(cfg, "auth", "mode", st, sizeof(st)));
  } else if (cfg->auth_algorithm && cfg->auth_algorithm[0] == 'H') {
    if (*cfg->auth_secret && *cfg->auth_secret_file)
      app_msgs_add(msgs, APP_MSG_ERROR,
                   "auth.secret_file: set either auth.secret or "
                   "auth.secret_file, not both (%s)",
                   where_of(cfg, "auth", "secret_file", st, sizeof(st)));
    else if (!*cfg->auth_secret && !*cfg->auth_secret_file)
      app_msgs_add(msgs, APP_MSG_WARN,
                   "auth.secret: no secret set (auth.secret, "
                   "auth.secret_file, SIO_AUTH_SECRET): no token can be "
                   "verified with %s",
                   cfg->auth_algorithm);
    if (*cfg->auth_public_key_file)
      app_msgs_add(msgs, APP_MSG_WARN,
                   "auth.public_key_file: ignored with algorithm %s",
                   cfg->auth_algorithm);
    check_readable(cfg, "auth", "secret_file", cfg->auth_secret_file, msgs);
  } else if (cfg->auth_algorithm) {
    if (!*cfg->auth_public_key_file)
      app_msgs_add(msgs, APP_MSG_ERROR,
                   "auth.public_key_file: required with algorithm %s (%s)",
                   cfg->auth_algorithm,
                   where_of(cfg, "auth", "algorithm", st, sizeof(st)));
    if (*cfg->auth_secret || *cfg->auth_secret_file)
      app_msgs_add(msgs, APP_MSG_WARN, "auth.secret: ignored with algorithm %s",
                   cfg->auth_algorithm);
    check_readable(cfg, "auth", "public_key_file", cfg->auth_public_key_file,
                   msgs);
  }
  if (cfg->api_key && *cfg->api_key && strlen(cfg->api_key) < 16)
    app_msgs_add(msgs, APP_MSG_WARN,
                 "api.key: shorter than 16 characters; use a long random "
                 "key");

  if (cfg->tls_cert_file && cfg->tls_key_file &&
      !*cfg->tls_cert_file != !*cfg->tls_key_file)
    app_msgs_add(msgs, APP_MSG_ERROR,
                 "%s: tls.cert_file and tls.key_file must be set together "
                 "(%s)",
                 *cfg->tls_cert_file ? "tls.key_file" : "tls.cert_file",
                 *cfg->tls_cert_file
                     ? where_of(cfg, "tls", "cert_file", st, sizeof(st))
                     : where_of(cfg, "tls", "key_file", st, sizeof(st)));
  if (cfg->tls_chain_file && *cfg->tls_chain_file && !*cfg->tls_cert_file)
    app_msgs_add(msgs, APP_MSG_ERROR,
                 "tls.chain_file: needs tls.cert_file (%s)",
                 where_of(cfg, "tls", "chain_file", st, sizeof(st)));
  if (cfg->tls_cert_file) {
    check_readable(cfg, "tls", "cert_file", cfg->tls_cert_file, msgs);
    check_readable(cfg, "tls", "key_file", cfg->tls_key_file, msgs);
    check_readable(cfg, "tls", "chain_file", cfg->tls_chain_file, msgs);
  }
  if (cfg->redis_url)
    validate_redis(cfg, msgs);
  if (cfg->engine_ping_timeout_ms > 0 && cfg->engine_ping_interval_ms > 0 &&
      cfg->engine_ping_interval_ms + cfg->engine_ping_timeout_ms >
          cfg->recovery_max_disconnection_ms &&
      cfg->recovery_enabled && cfg->recovery_max_disconnection_ms > 0)
    app_msgs_add(msgs, APP_MSG_WARN,
                 "recovery.max_disconnection_ms: shorter than "
                 "ping_interval_ms + ping_timeout_ms; a dropped client may "
                 "be noticed too late to recover");
  return msgs->n_errors - before;
}

/* -------------------------------------------------------------- reload */

int app_config_reload(struct app_config *cfg, const char *path,
                      char *const *envp, const struct app_cli *cli,
                      struct app_msgs *msgs,
                      struct app_config_changes *changes) {
  struct app_config fresh;
  size_t i;

  memset(changes, 0, sizeof(*changes));
  if (app_config_load(&fresh, path, envp, cli, msgs) != 0)
    return -1;
  changes->keys = calloc(app_config_nkeys, sizeof(*changes->keys));
  if (!changes->keys) {
    app_config_deinit(&fresh);
    app_msgs_add(msgs, APP_MSG_ERROR, "configuration: out of memory");
    return -1;
  }
  for (i = 0; i < app_config_nkeys; i++) {
    const struct app_config_key *k = &app_config_keys[i];
    char a[512], b[512];
    format_value(k, cfield_ptr(cfg, k), a, sizeof(a));
    format_value(k, cfield_ptr(&fresh, k), b, sizeof(b));
    if (strcmp(a, b) == 0 &&
        (!is_str_type(k->type) ||
         strcmp(*(char *const *)cfield_ptr(cfg, k),
                *(char *const *)cfield_ptr(&fresh, k)) == 0))
      continue;
    if (!(k->flags & APP_CFG_RELOAD)) {
      app_msgs_add(msgs, APP_MSG_WARN,
                   "%s.%s: changed, but takes effect only after a restart",
                   k->section, k->name);
      continue;
    }
    {
      unsigned char tmp[sizeof(uint64_t) > sizeof(char *) ? sizeof(uint64_t)
                                                          : sizeof(char *)];
      size_t sz = field_size(k->type);
      struct app_config_src s;
      memcpy(tmp, field_ptr(cfg, k), sz);
      memcpy(field_ptr(cfg, k), field_ptr(&fresh, k), sz);
      memcpy(field_ptr(&fresh, k), tmp, sz);
      s = cfg->src[i];
      cfg->src[i] = fresh.src[i];
      fresh.src[i] = s;
    }
    changes->keys[changes->n++] = i;
  }
  app_config_deinit(&fresh);
  return 0;
}

void app_config_changes_deinit(struct app_config_changes *c) {
  if (!c)
    return;
  free(c->keys);
  memset(c, 0, sizeof(*c));
}

bool app_config_changed(const struct app_config_changes *c, const char *section,
                        const char *name) {
  size_t i;
  for (i = 0; i < c->n; i++) {
    const struct app_config_key *k = &app_config_keys[c->keys[i]];
    if (strcmp(k->section, section) == 0 && strcmp(k->name, name) == 0)
      return true;
  }
  return false;
}

/* ------------------------------------------------------- command line */

static int cli_add(struct app_cli *cli, size_t key, const char *flag,
                   const char *value) {
  struct app_cli_override *v =
      realloc(cli->ov, (cli->n_ov + 1) * sizeof(*cli->ov));
  if (!v)
    return -1;
  cli->ov = v;
  v[cli->n_ov].key = key;
  v[cli->n_ov].flag = flag;
  v[cli->n_ov].value = value;
  cli->n_ov++;
  return 0;
}

/* Matches "--<flag>" (n bytes after the dashes) against the table. */
static const struct app_config_key *cli_key(const char *name, size_t n) {
  size_t i;
  const char *dot = memchr(name, '.', n);
  for (i = 0; i < app_config_nkeys; i++) {
    const struct app_config_key *k = &app_config_keys[i];
    size_t sl = strlen(k->section);
    if (k->cli && strlen(k->cli) == n && memcmp(k->cli, name, n) == 0)
      return k;
    if (dot && (size_t)(dot - name) == sl &&
        memcmp(k->section, name, sl) == 0 &&
        app_strn_ieq(dot + 1, n - sl - 1, k->name))
      return k;
  }
  return NULL;
}

int app_cli_parse(struct app_cli *cli, int argc, char **argv,
                  struct app_msgs *msgs) {
  int i;
  bool help = false, version = false, check = false;

  memset(cli, 0, sizeof(*cli));
  for (i = 1; i < argc; i++) {
    const char *a = argv[i], *eq, *name, *value = NULL;
    size_t n;
    const struct app_config_key *k;

    if (strcmp(a, "-h") == 0 || strcmp(a, "--help") == 0) {
      help = true;
      continue;
    }
    if (strcmp(a, "-V") == 0 || strcmp(a, "--version") == 0) {
      version = true;
      continue;
    }
    if (strcmp(a, "--check-config") == 0) {
      check = true;
      continue;
    }
    if (strcmp(a, "-c") == 0 || strcmp(a, "--config") == 0) {
      if (i + 1 >= argc) {
        app_msgs_add(msgs, APP_MSG_ERROR, "option %s needs a file name", a);
        return -1;
      }
      cli->config_path = argv[++i];
      continue;
    }
    if (strncmp(a, "--config=", 9) == 0) {
      cli->config_path = a + 9;
      continue;
    }
    if (strncmp(a, "--", 2) != 0 || a[2] == '\0') {
      app_msgs_add(msgs, APP_MSG_ERROR,
                   a[0] == '-' ? "unknown option %s (see --help)"
                               : "unexpected argument \"%s\" (see --help)",
                   a);
      return -1;
    }
    name = a + 2;
    eq = strchr(name, '=');
    n = eq ? (size_t)(eq - name) : strlen(name);
    k = cli_key(name, n);
    if (!k) {
      app_msgs_add(msgs, APP_MSG_ERROR, "unknown option --%.*s (see --help)",
                   (int)n, name);
      return -1;
    }
    if (k->flags & APP_CFG_SECRET) {
      char env[80];
      app_config_env_name(k, env, sizeof(env));
      app_msgs_add(msgs, APP_MSG_ERROR,
                   "%s.%s cannot be set on the command line (it would show "
                   "in ps); use %s or the config file",
                   k->section, k->name, env);
      return -1;
    }
    if (eq) {
      value = eq + 1;
    } else if (i + 1 < argc) {
      value = argv[++i];
    } else {
      app_msgs_add(msgs, APP_MSG_ERROR, "option --%.*s needs a value", (int)n,
                   name);
      return -1;
    }
    if (cli_add(cli, (size_t)(k - app_config_keys), a, value) != 0) {
      app_msgs_add(msgs, APP_MSG_ERROR, "out of memory");
      return -1;
    }
  }
  cli->action = help      ? APP_CLI_HELP
                : version ? APP_CLI_VERSION
                : check   ? APP_CLI_CHECK_CONFIG
                          : APP_CLI_RUN;
  return 0;
}

void app_cli_deinit(struct app_cli *cli) {
  if (!cli)
    return;
  free(cli->ov);
  memset(cli, 0, sizeof(*cli));
}

/* ------------------------------------------------------------- output */

void app_config_display(const struct app_config *cfg, size_t i, char *buf,
                        size_t cap) {
  const struct app_config_key *k = &app_config_keys[i];
  if (k->flags & APP_CFG_SECRET) {
    const char *v = *(char *const *)cfield_ptr(cfg, k);
    snprintf(buf, cap, "%s", v && *v ? "(set)" : "(not set)");
    return;
  }
  if (k->flags & APP_CFG_URL) {
    mask_url(*(char *const *)cfield_ptr(cfg, k), buf, cap);
    return;
  }
  format_value(k, cfield_ptr(cfg, k), buf, cap);
}

void app_config_dump(const struct app_config *cfg, FILE *out) {
  size_t i;
  for (i = 0; i < app_config_nkeys; i++) {
    const struct app_config_key *k = &app_config_keys[i];
    char v[1024], st[300];
    app_config_display(cfg, i, v, sizeof(v));
    fprintf(out, "%s.%s = %s", k->section, k->name, v);
    if (cfg->src && cfg->src[i].kind != APP_CFG_SRC_DEFAULT)
      fprintf(out, "    # %s", src_text(&cfg->src[i], st, sizeof(st)));
    fputc('\n', out);
  }
}

static void print_msgs(const struct app_msgs *m, FILE *err) {
  size_t i;
  for (i = 0; i < m->n; i++)
    fprintf(err, "%s: %s\n",
            m->v[i].level == APP_MSG_ERROR  ? "error"
            : m->v[i].level == APP_MSG_WARN ? "warning"
                                            : "info",
            m->v[i].text);
}

int app_config_check(const char *path, char *const *envp,
                     const struct app_cli *cli, FILE *out, FILE *err) {
  struct app_config cfg;
  struct app_msgs msgs = {0};
  int rc = app_config_load(&cfg, path, envp, cli, &msgs);
  print_msgs(&msgs, err);
  if (rc == 0) {
    app_config_dump(&cfg, out);
    fprintf(out, "configuration OK\n");
    app_config_deinit(&cfg);
  } else {
    fprintf(err, "configuration has %zu error%s\n", msgs.n_errors,
            msgs.n_errors == 1 ? "" : "s");
  }
  app_msgs_deinit(&msgs);
  return rc == 0 ? 0 : 1;
}

/* Appends text word-wrapped to width columns; every line starts with
 * prefix. */
static void wrap(struct app_sbuf *b, const char *text, size_t width,
                 const char *prefix) {
  size_t plen = strlen(prefix), col = 0;
  const char *p = text;
  while (*p) {
    const char *w = p;
    size_t wl;
    while (*w == ' ')
      w++;
    wl = strcspn(w, " ");
    if (wl == 0)
      break;
    if (col == 0) {
      app_sbuf_puts(b, prefix);
      col = plen;
    } else if (col + 1 + wl > width) {
      app_sbuf_putc(b, '\n');
      app_sbuf_puts(b, prefix);
      col = plen;
    } else {
      app_sbuf_putc(b, ' ');
      col++;
    }
    app_sbuf_append(b, w, wl);
    col += wl;
    p = w + wl;
  }
  if (col)
    app_sbuf_putc(b, '\n');
}

static const char *type_name(const struct app_config_key *k) {
  switch (k->type) {
  case APP_CFG_STRING:
    return "string";
  case APP_CFG_LIST:
    return "list";
  case APP_CFG_ENUM:
    return "enum";
  case APP_CFG_INT:
    return "integer";
  case APP_CFG_BOOL:
    return "boolean";
  case APP_CFG_SIZE:
    return "size";
  case APP_CFG_DURATION:
    return "duration";
  }
  return "?";
}

void app_config_help(FILE *out, const char *progname) {
  struct app_sbuf b = {0};
  const char *prev = "";
  size_t i;
  char *text;

  app_sbuf_printf(
      &b,
      "Usage: %s [OPTIONS]\n"
      "\n"
      "sio-server %s, a Socket.IO v4 compatible realtime server.\n"
      "\n"
      "Options:\n"
      "  -c, --config FILE        read the INI configuration file FILE\n"
      "      --check-config       check the configuration, print it and "
      "exit\n"
      "                           (status 0 when valid, 1 otherwise)\n"
      "  -h, --help               print this help and exit\n"
      "  -V, --version            print the version and exit\n"
      "      --SECTION.KEY VALUE  set any key below (also "
      "--SECTION.KEY=VALUE)\n"
      "\n"
      "Configuration keys. Each is read from the file ([section] key = "
      "value),\n"
      "from the environment variable shown, or from the command line.\n"
      "Precedence: command line > environment > file > default.\n"
      "Sizes take k, m, g suffixes; durations ms, s, m, h; lists are\n"
      "comma-separated; booleans true/false. Keys marked reloadable are\n"
      "re-read on SIGHUP.\n",
      progname ? progname : "sio-server", SIO_VERSION);
  for (i = 0; i < app_config_nkeys; i++) {
    const struct app_config_key *k = &app_config_keys[i];
    char env[80];
    if (strcmp(prev, k->section) != 0) {
      app_sbuf_printf(&b, "\n[%s]\n", k->section);
      prev = k->section;
    }
    app_config_env_name(k, env, sizeof(env));
    app_sbuf_printf(&b, "  %s.%s (%s, default %s)%s\n", k->section, k->name,
                    type_name(k), *k->def ? k->def : "empty",
                    k->flags & APP_CFG_RELOAD ? " reloadable" : "");
    if (k->flags & APP_CFG_SECRET)
      app_sbuf_printf(&b, "      env %s; not on the command line\n", env);
    else if (k->cli)
      app_sbuf_printf(&b, "      env %s, --%s %s\n", env, k->cli,
                      k->metavar ? k->metavar : "VALUE");
    else
      app_sbuf_printf(&b, "      env %s, --%s.%s %s\n", env, k->section,
                      k->name, k->metavar ? k->metavar : "VALUE");
    wrap(&b, k->help, 78, "      ");
  }
  text = app_sbuf_take(&b, NULL);
  if (text) {
    fputs(text, out);
    free(text);
  }
}

/* ---------------------------------------------------------- generators */

/* Section titles for the redis.conf-style banners of the sample file. */
static const char *section_blurb(const char *section) {
  static const struct {
    const char *s, *text;
  } t[] = {
      {"server", "Listening addresses, the Engine.IO path, reverse proxies "
                 "and shutdown."},
      {"engine", "Engine.IO settings sent to clients in the handshake."},
      {"auth", "JWT authentication of every connection. The token is taken "
               "from the Socket.IO auth payload {token}, else the "
               "Authorization: Bearer header, else the token query "
               "parameter."},
      {"redis", "The Redis adapter, shared with other sio-server instances, "
                "Node socket.io servers and emitters."},
      {"api", "The HTTP publish API, POST /api/v1/emit."},
      {"cors", "Cross-origin access (also the WebSocket Origin check)."},
      {"limits", "Abuse limits; every hit is counted in /metrics."},
      {"recovery", "Connection state recovery (socket.io 4.6+)."},
      {"replay", "Replay from the last event id, for any client (SPEC 3)."},
      {"tls", "Native HTTPS/WSS. Leave empty when a proxy terminates TLS."},
      {"log", "Logging to stderr (journald under systemd)."},
      {"metrics", "Prometheus metrics."},
  };
  size_t i;
  for (i = 0; i < APP_ARRLEN(t); i++)
    if (strcmp(t[i].s, section) == 0)
      return t[i].text;
  return "";
}

static void banner(struct app_sbuf *b, const char *section) {
  char title[40];
  size_t i, n, left, right;
  for (i = 0; section[i] && i + 1 < sizeof(title); i++)
    title[i] = (section[i] >= 'a' && section[i] <= 'z')
                   ? (char)(section[i] - 'a' + 'A')
                   : section[i];
  title[i] = '\0';
  n = strlen(title) + 2;
  left = (78 - n) / 2;
  right = 78 - n - left;
  for (i = 0; i < left; i++)
    app_sbuf_putc(b, '#');
  app_sbuf_printf(b, " %s ", title);
  for (i = 0; i < right; i++)
    app_sbuf_putc(b, '#');
  app_sbuf_putc(b, '\n');
}

char *app_config_sample_conf(void) {
  struct app_sbuf b = {0};
  const char *prev = "";
  size_t i;

  app_sbuf_puts(
      &b,
      "# sio-server configuration file (INI).\n"
      "#\n"
      "# Generated by gen_config_docs from the configuration table in\n"
      "# src/app/app_config.c; docs/configuration.md describes the same "
      "keys.\n"
      "#\n"
      "# Every key is shown commented out with its built-in default: "
      "uncomment a\n"
      "# line to change it. Each key can also be set by the environment "
      "variable\n"
      "# named below (SIO_<SECTION>_<KEY>), and the common ones by a "
      "command-line\n"
      "# flag. Precedence: command line > environment > this file > "
      "default.\n"
      "#\n"
      "# Values: booleans true/false (also yes/no, on/off, 1/0); sizes in "
      "bytes\n"
      "# with an optional k, m or g suffix (powers of 1024); durations in\n"
      "# milliseconds with an optional ms, s, m or h suffix; lists separated "
      "by\n"
      "# commas. Lines starting with # or ; are comments, and \" ;\" starts "
      "a\n"
      "# comment after a value; a value may be put in double quotes. Lines "
      "are\n"
      "# limited to 197 characters (use the environment for longer "
      "values).\n"
      "#\n"
      "# Keys marked reloadable are re-read on SIGHUP (systemctl reload\n"
      "# sio-server); the others need a restart. sio-server --check-config\n"
      "# validates this file and prints the effective configuration.\n");
  for (i = 0; i < app_config_nkeys; i++) {
    const struct app_config_key *k = &app_config_keys[i];
    char env[80];
    if (strcmp(prev, k->section) != 0) {
      app_sbuf_putc(&b, '\n');
      banner(&b, k->section);
      app_sbuf_putc(&b, '\n');
      wrap(&b, section_blurb(k->section), 78, "# ");
      app_sbuf_printf(&b, "\n[%s]\n", k->section);
      prev = k->section;
    }
    app_config_env_name(k, env, sizeof(env));
    app_sbuf_putc(&b, '\n');
    wrap(&b, k->help, 78, "# ");
    {
      char line[256];
      snprintf(line, sizeof(line), "Environment: %s.%s%s%s %s", env,
               k->cli ? " Flag: --" : "", k->cli ? k->cli : "",
               k->cli ? "." : "",
               k->flags & APP_CFG_RELOAD ? "Reloadable." : "Needs a restart.");
      wrap(&b, line, 78, "# ");
    }
    app_sbuf_printf(&b, "# %s =%s%s\n", k->name, *k->def ? " " : "", k->def);
  }
  return app_sbuf_take(&b, NULL);
}

char *app_config_markdown(void) {
  struct app_sbuf b = {0};
  const char *prev = "";
  size_t i;

  app_sbuf_puts(
      &b,
      "# sio-server configuration\n"
      "\n"
      "<!-- Generated by src/app/gen_config_docs from the table in\n"
      "     src/app/app_config.c. Do not edit: change the table and run\n"
      "     `make update-config-docs`. -->\n"
      "\n"
      "sio-server reads one INI file (`--config FILE`; the packages install\n"
      "`/etc/sio-server/sio-server.conf`, whose commented sample is\n"
      "generated from the same table). Every key can be overridden by an\n"
      "environment variable `SIO_<SECTION>_<KEY>` (uppercase) and on the\n"
      "command line with `--section.key VALUE`; the common keys also have "
      "a\n"
      "short flag. Precedence, highest first:\n"
      "\n"
      "1. command-line flag\n"
      "2. environment variable\n"
      "3. the INI file\n"
      "4. the built-in default (shown below)\n"
      "\n"
      "With no file and no variables the defaults give a development server "
      "on\n"
      "port 3000 with the in-memory adapter (no Redis).\n"
      "\n"
      "`sio-server --check-config` loads everything, reports each problem "
      "with\n"
      "the key and where its value came from (for example\n"
      "`engine.ping_interval_ms: not a number (from "
      "SIO_ENGINE_PING_INTERVAL_MS)`),\n"
      "prints the effective configuration and exits 0 when it is valid.\n"
      "`sio-server --help` lists the same keys.\n"
      "\n"
      "## Value syntax\n"
      "\n"
      "| type | syntax |\n"
      "|---|---|\n"
      "| string | text; in the file it may be put in double quotes |\n"
      "| list | items separated by commas; blanks around items are ignored "
      "|\n"
      "| enum | one of the listed words (case-insensitive) |\n"
      "| integer | a decimal number within the bounds shown |\n"
      "| boolean | `true`/`false`, `yes`/`no`, `on`/`off`, `1`/`0` |\n"
      "| size | bytes, optionally with a `k`, `m` or `g` suffix (powers of "
      "1024) |\n"
      "| duration | milliseconds, optionally with an `ms`, `s`, `m` or `h` "
      "suffix |\n"
      "\n"
      "In the file, lines starting with `#` or `;` are comments, ` ;` "
      "starts\n"
      "a comment after a value, and lines are limited to 197 characters "
      "(use\n"
      "the environment for longer values). An unknown key or section, or "
      "a\n"
      "key set twice, is an error.\n"
      "\n"
      "## Reloading\n"
      "\n"
      "On SIGHUP the daemon re-reads the file and the environment. If the\n"
      "result is valid, the keys marked *yes* under **reload** take effect\n"
      "at once (for new connections and events); a change to any other key\n"
      "is reported and needs a restart. An invalid file changes nothing.\n"
      "\n"
      "## Secrets\n"
      "\n"
      "`auth.secret` and `api.key` are never printed (`--check-config`,\n"
      "`--help`, `/config` and the log show `(set)`), and cannot be given "
      "on\n"
      "the command line, where other users could read them in `ps`. The\n"
      "password in `redis.url` (its userinfo, whatever the scheme, or the\n"
      "`password=` parameter of a unix socket URL) is shown as `***`, in\n"
      "error messages too. Prefer `auth.secret_file` or the environment for\n"
      "secrets.\n");
  for (i = 0; i < app_config_nkeys; i++) {
    const struct app_config_key *k = &app_config_keys[i];
    char env[80];
    if (strcmp(prev, k->section) != 0) {
      app_sbuf_printf(&b, "\n## [%s]\n\n", k->section);
      app_sbuf_put_md(&b, section_blurb(k->section));
      app_sbuf_puts(&b, "\n\n| key | type | default | environment | flag | "
                        "reload | description |\n"
                        "|---|---|---|---|---|---|---|\n");
      prev = k->section;
    }
    app_config_env_name(k, env, sizeof(env));
    app_sbuf_printf(&b, "| `%s` | %s", k->name, type_name(k));
    if (k->type == APP_CFG_ENUM || (k->type == APP_CFG_LIST && k->choices)) {
      const char *p = k->choices;
      app_sbuf_puts(&b, k->type == APP_CFG_ENUM ? ": " : " of ");
      while (*p) {
        size_t n = strcspn(p, "|");
        app_sbuf_printf(&b, "`%.*s`%s", (int)n, p, p[n] ? ", " : "");
        p += n + (p[n] ? 1 : 0);
      }
    } else if (k->type == APP_CFG_INT || k->type == APP_CFG_SIZE ||
               k->type == APP_CFG_DURATION) {
      app_sbuf_printf(&b, " (%lld..%lld)", (long long)k->min,
                      (long long)k->max);
    }
    app_sbuf_puts(&b, " | ");
    if (*k->def)
      app_sbuf_printf(&b, "`%s`", k->def);
    else
      app_sbuf_puts(&b, "(empty)");
    app_sbuf_printf(&b, " | `%s` | ", env);
    if (k->flags & APP_CFG_SECRET)
      app_sbuf_puts(&b, "(none)");
    else if (k->cli)
      app_sbuf_printf(&b, "`--%s`", k->cli);
    else
      app_sbuf_printf(&b, "`--%s.%s`", k->section, k->name);
    app_sbuf_printf(&b, " | %s | ", k->flags & APP_CFG_RELOAD ? "yes" : "no");
    app_sbuf_put_md(&b, k->help);
    app_sbuf_puts(&b, " |\n");
  }
  return app_sbuf_take(&b, NULL);
}
