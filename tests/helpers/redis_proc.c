/* redis_proc.c: private redis-server processes for tests. */
#include "redis_proc.h"

#include <check.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>
#ifdef __linux__
#include <sys/prctl.h>
#endif

int have_redis(void) {
  const char *path = getenv("PATH");
  char buf[4096], *p, *save = NULL;
  if (!path)
    return 0;
  snprintf(buf, sizeof(buf), "%s", path);
  for (p = strtok_r(buf, ":", &save); p; p = strtok_r(NULL, ":", &save)) {
    char f[4200];
    snprintf(f, sizeof(f), "%s/redis-server", p);
    if (access(f, X_OK) == 0)
      return 1;
  }
  return 0;
}

int free_port(void) {
  struct sockaddr_in a;
  socklen_t len = sizeof(a);
  int fd = socket(AF_INET, SOCK_STREAM, 0), port;
  memset(&a, 0, sizeof(a));
  a.sin_family = AF_INET;
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  ck_assert_int_eq(bind(fd, (struct sockaddr *)&a, sizeof(a)), 0);
  ck_assert_int_eq(getsockname(fd, (struct sockaddr *)&a, &len), 0);
  port = ntohs(a.sin_port);
  close(fd);
  return port;
}

int redis_can_connect(const redis_proc *r) {
  int fd, ok;
  if (r->port) {
    struct sockaddr_in a;
    fd = socket(AF_INET, SOCK_STREAM, 0);
    memset(&a, 0, sizeof(a));
    a.sin_family = AF_INET;
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    a.sin_port = htons((uint16_t)r->port);
    ok = connect(fd, (struct sockaddr *)&a, sizeof(a)) == 0;
  } else {
    struct sockaddr_un a;
    fd = socket(AF_UNIX, SOCK_STREAM, 0);
    memset(&a, 0, sizeof(a));
    a.sun_family = AF_UNIX;
    snprintf(a.sun_path, sizeof(a.sun_path), "%s", r->sock);
    ok = connect(fd, (struct sockaddr *)&a, sizeof(a)) == 0;
  }
  close(fd);
  return ok;
}

/* Starts redis-server with extra arguments (NULL-terminated list). With
 * unix set, it listens on a socket in its directory only. */
void redis_start(redis_proc *r, int unix_sock, const char *const *extra) {
  char portbuf[16];
  const char *argv[48];
  int n = 0, i;
  argv[n++] = "redis-server";
  if (r->conf[0]) /* a config file comes first (sentinels need one) */
    argv[n++] = r->conf;
  argv[n++] = "--bind";
  argv[n++] = "127.0.0.1";
  argv[n++] = "--port";
  if (unix_sock) {
    r->port = 0;
    argv[n++] = "0";
    snprintf(r->sock, sizeof(r->sock), "%s/redis.sock", r->dir);
    argv[n++] = "--unixsocket";
    argv[n++] = r->sock;
  } else {
    if (!r->port)
      r->port = free_port();
    snprintf(portbuf, sizeof(portbuf), "%d", r->port);
    argv[n++] = portbuf;
  }
  argv[n++] = "--save";
  argv[n++] = "";
  argv[n++] = "--appendonly";
  argv[n++] = "no";
  argv[n++] = "--dir";
  argv[n++] = r->dir;
  for (i = 0; extra && extra[i]; i++)
    argv[n++] = extra[i];
  argv[n] = NULL;
  r->pid = fork();
  ck_assert_int_ge(r->pid, 0);
  if (r->pid == 0) {
    int null = open("/dev/null", O_WRONLY);
#ifdef __linux__
    /* dies with the test process, even when an assertion ends it */
    prctl(PR_SET_PDEATHSIG, SIGKILL);
#endif
    dup2(null, 1);
    dup2(null, 2);
    execvp("redis-server", (char *const *)argv);
    _exit(127);
  }
  for (i = 0; i < 200 && !redis_can_connect(r); i++)
    usleep(10000);
  ck_assert_msg(redis_can_connect(r), "redis-server did not start");
}

void redis_init(redis_proc *r) {
  memset(r, 0, sizeof(*r));
  snprintf(r->dir, sizeof(r->dir), "/tmp/sio-redis-test-XXXXXX");
  ck_assert_ptr_nonnull(mkdtemp(r->dir));
}

void redis_kill(redis_proc *r, int sig) {
  int st;
  if (r->pid <= 0)
    return;
  kill(r->pid, sig);
  waitpid(r->pid, &st, 0);
  r->pid = 0;
}

void redis_cleanup(redis_proc *r) {
  char cmd[256];
  redis_kill(r, SIGTERM);
  snprintf(cmd, sizeof(cmd), "rm -rf '%s'", r->dir);
  if (system(cmd) != 0)
    fprintf(stderr, "cannot remove %s\n", r->dir);
}

/* ------------------------------------------------------------- cluster */

int redis_cli(const redis_proc *p, const char *args, char *out, size_t outlen) {
  char cmd[1024];
  FILE *f;
  size_t n = 0;
  int st;
  snprintf(cmd, sizeof(cmd), "redis-cli -h 127.0.0.1 -p %d %s %s 2>&1", p->port,
           p->cli_tls, args);
  f = popen(cmd, "r");
  if (!f)
    return -1;
  if (out && outlen) {
    n = fread(out, 1, outlen - 1, f);
    out[n] = 0;
  } else {
    char sink[4096];
    while (fread(sink, 1, sizeof(sink), f) > 0)
      ;
  }
  st = pclose(f);
  return WIFEXITED(st) ? WEXITSTATUS(st) : -1;
}

/* certdir NULL: plain TCP. */
static void cluster_start(redis_cluster *c, int n, const char *certdir) {
  char cmd[2048], out[4096], crt[160], key[160], ca[160], tls_port[16];
  size_t off;
  int i, tries;
  ck_assert_int_le(n, REDIS_CLUSTER_MAX);
  memset(c, 0, sizeof(*c));
  c->n = n;
  if (certdir) {
    snprintf(crt, sizeof(crt), "%s/server.crt", certdir);
    snprintf(key, sizeof(key), "%s/server.key", certdir);
    snprintf(ca, sizeof(ca), "%s/ca.crt", certdir);
  }
  off = (size_t)snprintf(c->url, sizeof(c->url),
                         certdir ? "rediss+cluster://" : "redis+cluster://");
  for (i = 0; i < n; i++) {
    /* TLS only: the port redis_start passes is overridden by --port 0 and
     * becomes the TLS port (which accepts TCP, for the start check) */
    const char *extra[] = {"--cluster-enabled",
                           "yes",
                           "--cluster-config-file",
                           "nodes.conf",
                           "--cluster-node-timeout",
                           "2000",
                           certdir ? "--port" : NULL,
                           "0",
                           "--tls-port",
                           tls_port,
                           "--tls-cluster",
                           "yes",
                           "--tls-cert-file",
                           crt,
                           "--tls-key-file",
                           key,
                           "--tls-ca-cert-file",
                           ca,
                           "--tls-auth-clients",
                           "no",
                           NULL};
    redis_init(&c->node[i]);
    do /* the cluster bus listens on port + 10000 */
      c->node[i].port = free_port();
    while (c->node[i].port > 55000);
    snprintf(tls_port, sizeof(tls_port), "%d", c->node[i].port);
    if (certdir)
      snprintf(c->node[i].cli_tls, sizeof(c->node[i].cli_tls),
               "--tls --cacert %s", ca);
    redis_start(&c->node[i], 0, extra);
    off += (size_t)snprintf(c->url + off, sizeof(c->url) - off,
                            "%s127.0.0.1:%d", i ? "," : "", c->node[i].port);
  }
  off = (size_t)snprintf(cmd, sizeof(cmd),
                         "redis-cli %s --cluster create --cluster-yes",
                         c->node[0].cli_tls);
  for (i = 0; i < n; i++)
    off += (size_t)snprintf(cmd + off, sizeof(cmd) - off, " 127.0.0.1:%d",
                            c->node[i].port);
  snprintf(cmd + off, sizeof(cmd) - off, " >/dev/null 2>&1");
  ck_assert_msg(system(cmd) == 0, "redis-cli --cluster create failed");
  for (tries = 0; tries < 500; tries++) {
    int ok = 1;
    for (i = 0; i < n && ok; i++)
      ok = redis_cli(&c->node[i], "CLUSTER INFO", out, sizeof(out)) == 0 &&
           strstr(out, "cluster_state:ok") != NULL;
    if (ok)
      return;
    usleep(20000);
  }
  ck_abort_msg("the cluster did not reach cluster_state:ok");
}

void redis_cluster_start(redis_cluster *c, int n) { cluster_start(c, n, NULL); }

void redis_cluster_start_tls(redis_cluster *c, int n, const char *certdir) {
  cluster_start(c, n, certdir);
}

void redis_cluster_cleanup(redis_cluster *c) {
  int i;
  for (i = 0; i < c->n; i++)
    redis_cleanup(&c->node[i]);
}

static int node_id(const redis_proc *p, char *id, size_t len) {
  char out[128];
  size_t n;
  if (redis_cli(p, "CLUSTER MYID", out, sizeof(out)) != 0)
    return -1;
  n = strcspn(out, "\r\n");
  if (n == 0 || n >= len)
    return -1;
  memcpy(id, out, n);
  id[n] = 0;
  return 0;
}

int redis_cluster_owner(redis_cluster *c, unsigned slot) {
  char out[16384], needle[32];
  int i;
  /* CLUSTER SLOTS through redis-cli: find which node's port follows the
   * range that holds slot; simpler: ask each node CLUSTER COUNTKEYSINSLOT
   * is no help, so use CLUSTER NODES of node 0 */
  if (redis_cli(&c->node[0], "CLUSTER NODES", out, sizeof(out)) != 0)
    return -1;
  for (i = 0; i < c->n; i++) {
    char *line;
    snprintf(needle, sizeof(needle), "127.0.0.1:%d@", c->node[i].port);
    line = strstr(out, needle);
    if (!line)
      continue;
    {
      char *end = strchr(line, '\n'), *p;
      if (end)
        *end = 0;
      /* slot ranges are the fields after "connected" */
      p = strstr(line, "connected");
      while (p && (p = strchr(p, ' ')) != NULL) {
        unsigned a, b;
        p++;
        if (sscanf(p, "%u-%u", &a, &b) == 2) {
          if (slot >= a && slot <= b) {
            if (end)
              *end = '\n';
            return i;
          }
        } else if (sscanf(p, "%u", &a) == 1 && a == slot) {
          if (end)
            *end = '\n';
          return i;
        }
      }
      if (end)
        *end = '\n';
    }
  }
  return -1;
}

int redis_cluster_move_slot(redis_cluster *c, unsigned slot, int to) {
  char src_id[64], dst_id[64], args[256];
  int from = redis_cluster_owner(c, slot), i;
  if (from < 0 || from == to)
    return -1;
  if (node_id(&c->node[from], src_id, sizeof(src_id)) ||
      node_id(&c->node[to], dst_id, sizeof(dst_id)))
    return -1;
  snprintf(args, sizeof(args), "CLUSTER SETSLOT %u IMPORTING %s", slot, src_id);
  if (redis_cli(&c->node[to], args, NULL, 0))
    return -1;
  snprintf(args, sizeof(args), "CLUSTER SETSLOT %u MIGRATING %s", slot, dst_id);
  if (redis_cli(&c->node[from], args, NULL, 0))
    return -1;
  /* no keys to MIGRATE: pub/sub channels are not keys */
  snprintf(args, sizeof(args), "CLUSTER SETSLOT %u NODE %s", slot, dst_id);
  if (redis_cli(&c->node[to], args, NULL, 0) ||
      redis_cli(&c->node[from], args, NULL, 0))
    return -1;
  for (i = 0; i < c->n; i++)
    if (i != to && i != from)
      redis_cli(&c->node[i], args, NULL, 0);
  return 0;
}

/* ------------------------------------------------------------ sentinel */

static void sentinel_start(redis_proc *r, int master_port, const char *name,
                           const char *certdir) {
  FILE *f;
  int i;
  redis_init(r);
  r->port = free_port();
  snprintf(r->conf, sizeof(r->conf), "%s/sentinel.conf", r->dir);
  f = fopen(r->conf, "w");
  ck_assert_ptr_nonnull(f);
  if (certdir) { /* TLS only, to clients and to the servers it watches */
    fprintf(f,
            "port 0\ntls-port %d\ntls-cert-file %s/server.crt\n"
            "tls-key-file %s/server.key\ntls-ca-cert-file %s/ca.crt\n"
            "tls-replication yes\ntls-auth-clients no\n",
            r->port, certdir, certdir, certdir);
    snprintf(r->cli_tls, sizeof(r->cli_tls), "--tls --cacert %s/ca.crt",
             certdir);
  } else {
    fprintf(f, "port %d\n", r->port);
  }
  fprintf(f,
          "bind 127.0.0.1\ndir %s\n"
          "sentinel monitor %s 127.0.0.1 %d 2\n"
          "sentinel down-after-milliseconds %s 1000\n"
          "sentinel failover-timeout %s 4000\n"
          "sentinel parallel-syncs %s 1\n",
          r->dir, name, master_port, name, name, name);
  fclose(f);
  r->pid = fork();
  ck_assert_int_ge(r->pid, 0);
  if (r->pid == 0) {
    int null = open("/dev/null", O_WRONLY);
#ifdef __linux__
    prctl(PR_SET_PDEATHSIG, SIGKILL);
#endif
    dup2(null, 1);
    dup2(null, 2);
    execlp("redis-server", "redis-server", r->conf, "--sentinel", (char *)NULL);
    _exit(127);
  }
  for (i = 0; i < 200 && !redis_can_connect(r); i++)
    usleep(10000);
  ck_assert_msg(redis_can_connect(r), "redis-sentinel did not start");
}

int redis_sentinels_master_port(redis_sentinels *g) {
  char args[96], out[256], *nl;
  snprintf(args, sizeof(args), "SENTINEL get-master-addr-by-name %s", g->name);
  if (redis_cli(&g->sentinel[0], args, out, sizeof(out)) != 0)
    return 0;
  nl = strchr(out, '\n');
  return nl ? atoi(nl + 1) : 0;
}

static void sentinels_start(redis_sentinels *g, const char *certdir) {
  char replicaof[64], args[96], out[4096], tls_port[16], crt[160], key[160],
      ca[160];
  /* TLS only: --port 0 overrides the port redis_start passes, which
   * becomes the TLS one */
  const char *tls[] = {"--port",
                       "0",
                       "--tls-port",
                       tls_port,
                       "--tls-replication",
                       "yes",
                       "--tls-cert-file",
                       crt,
                       "--tls-key-file",
                       key,
                       "--tls-ca-cert-file",
                       ca,
                       "--tls-auth-clients",
                       "no",
                       NULL};
  const char *extra[20];
  size_t off;
  int i, tries, k;
  memset(g, 0, sizeof(*g));
  snprintf(g->name, sizeof(g->name), "mymaster");
  if (certdir) {
    snprintf(crt, sizeof(crt), "%s/server.crt", certdir);
    snprintf(key, sizeof(key), "%s/server.key", certdir);
    snprintf(ca, sizeof(ca), "%s/ca.crt", certdir);
  }
  for (k = 0; certdir && tls[k]; k++)
    extra[k] = tls[k];
  extra[k] = NULL;
  redis_init(&g->master);
  g->master.port = free_port();
  snprintf(tls_port, sizeof(tls_port), "%d", g->master.port);
  if (certdir)
    snprintf(g->master.cli_tls, sizeof(g->master.cli_tls), "--tls --cacert %s",
             ca);
  redis_start(&g->master, 0, extra);
  snprintf(replicaof, sizeof(replicaof), "127.0.0.1 %d", g->master.port);
  extra[k] = "--replicaof";
  extra[k + 1] = replicaof;
  extra[k + 2] = NULL;
  redis_init(&g->replica);
  g->replica.port = free_port();
  snprintf(tls_port, sizeof(tls_port), "%d", g->replica.port);
  strcpy(g->replica.cli_tls, g->master.cli_tls);
  redis_start(&g->replica, 0, extra);
  for (i = 0; i < 3; i++)
    sentinel_start(&g->sentinel[i], g->master.port, g->name, certdir);
  off = (size_t)snprintf(g->url, sizeof(g->url),
                         certdir ? "rediss+sentinel://" : "redis+sentinel://");
  for (i = 0; i < 3; i++)
    off +=
        (size_t)snprintf(g->url + off, sizeof(g->url) - off, "%s127.0.0.1:%d",
                         i ? "," : "", g->sentinel[i].port);
  snprintf(g->url + off, sizeof(g->url) - off, "/%s", g->name);
  /* ready for a failover: the replica in sync, every sentinel knowing it
   * and the two others */
  for (tries = 0; tries < 1000; tries++) {
    int ok =
        redis_cli(&g->replica, "INFO replication", out, sizeof(out)) == 0 &&
        strstr(out, "master_link_status:up") != NULL;
    for (i = 0; i < 3 && ok; i++) {
      snprintf(args, sizeof(args), "SENTINEL replicas %s", g->name);
      ok = redis_cli(&g->sentinel[i], args, out, sizeof(out)) == 0 &&
           strstr(out, "slave") != NULL;
      if (ok) {
        snprintf(args, sizeof(args), "SENTINEL master %s", g->name);
        ok = redis_cli(&g->sentinel[i], args, out, sizeof(out)) == 0 &&
             strstr(out, "num-other-sentinels\n2") != NULL;
      }
    }
    if (ok)
      return;
    usleep(20000);
  }
  ck_abort_msg("the sentinel group did not settle");
}

void redis_sentinels_start(redis_sentinels *g) { sentinels_start(g, NULL); }

void redis_sentinels_start_tls(redis_sentinels *g, const char *certdir) {
  sentinels_start(g, certdir);
}

void redis_sentinels_cleanup(redis_sentinels *g) {
  int i;
  for (i = 0; i < 3; i++)
    redis_cleanup(&g->sentinel[i]);
  redis_cleanup(&g->replica);
  redis_cleanup(&g->master);
}

/* ----------------------------------------------------------------- TLS */

int redis_make_certs(const char *dir) {
  char cmd[2048];
  snprintf(
      cmd, sizeof(cmd),
      "cd '%s' && "
      "openssl req -x509 -newkey rsa:2048 -nodes -days 2 -subj /CN=test-ca "
      "-keyout ca.key -out ca.crt >/dev/null 2>&1 && "
      "openssl req -newkey rsa:2048 -nodes -subj /CN=localhost "
      "-keyout server.key -out server.csr >/dev/null 2>&1 && "
      "printf 'subjectAltName=DNS:localhost,IP:127.0.0.1' > san.ext && "
      "openssl x509 -req -in server.csr -CA ca.crt -CAkey ca.key "
      "-CAcreateserial -days 2 -extfile san.ext -out server.crt "
      ">/dev/null 2>&1 && "
      "openssl req -newkey rsa:2048 -nodes -subj /CN=client "
      "-keyout client.key -out client.csr >/dev/null 2>&1 && "
      "openssl x509 -req -in client.csr -CA ca.crt -CAkey ca.key "
      "-CAcreateserial -days 2 -out client.crt >/dev/null 2>&1",
      dir);
  return system(cmd) == 0;
}
