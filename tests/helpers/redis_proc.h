#ifndef TEST_REDIS_PROC_H
#define TEST_REDIS_PROC_H

/* Private redis-server processes for the suites that need the real
 * thing: each on 127.0.0.1 and a free port (or a unix socket) in its own
 * temporary directory, without persistence, stopped by PID. A suite
 * without redis-server installed skips (SKIP_WITHOUT_REDIS). */

#include <stdio.h>
#include <sys/types.h>

typedef struct redis_proc {
  pid_t pid;
  int port;
  char dir[64];
  char sock[96];
  char url[256];
  char conf[128];    /* a config file to start with (before the flags) */
  char cli_tls[400]; /* redis-cli's TLS flags for this server, or "" */
} redis_proc;

#define SKIP_WITHOUT_REDIS()                                                   \
  do {                                                                         \
    if (!have_redis()) {                                                       \
      fprintf(stderr, "%s: skipped, redis-server is not installed\n",          \
              __func__);                                                       \
      return;                                                                  \
    }                                                                          \
  } while (0)

int have_redis(void);
/* A TCP port free on 127.0.0.1 right now. */
int free_port(void);
/* Makes the temporary directory; call first. */
void redis_init(redis_proc *r);
/* Starts redis-server (r->port, or a free one) with extra arguments
 * (NULL-terminated) and waits until it accepts; with unix_sock, a socket
 * in r->dir instead of TCP. Dies with the test process. */
void redis_start(redis_proc *r, int unix_sock, const char *const *extra);
int redis_can_connect(const redis_proc *r);
void redis_kill(redis_proc *r, int sig);
/* Stops it (SIGTERM) and removes its directory. */
void redis_cleanup(redis_proc *r);

/* A Sentinel group: a master, a replica of it and three sentinels
 * (quorum 2, down-after 1000 ms) monitoring it as `name`. Started and
 * waited for until every sentinel knows the replica and its peers. */
typedef struct redis_sentinels {
  redis_proc master, replica, sentinel[3];
  char name[32];
  char url[256]; /* redis+sentinel://127.0.0.1:s1,.../name */
} redis_sentinels;

void redis_sentinels_start(redis_sentinels *g);
/* The same with TLS only (servers and sentinels, tls-replication yes),
 * certificates from redis_make_certs(certdir); url is rediss+sentinel://. */
void redis_sentinels_start_tls(redis_sentinels *g, const char *certdir);
void redis_sentinels_cleanup(redis_sentinels *g);
/* The port of the master the sentinels name now (0: unknown). */
int redis_sentinels_master_port(redis_sentinels *g);

/* A Redis Cluster of n masters (no replicas) on free ports, created with
 * redis-cli --cluster create and waited for until every node reports
 * cluster_state:ok. */
#define REDIS_CLUSTER_MAX 6
typedef struct redis_cluster {
  int n;
  redis_proc node[REDIS_CLUSTER_MAX];
  char url[512]; /* redis+cluster://127.0.0.1:p1,127.0.0.1:p2,... */
} redis_cluster;

void redis_cluster_start(redis_cluster *c, int n);
/* The same with TLS only (tls-cluster yes, no plain port), certificates
 * from redis_make_certs(certdir); url is rediss+cluster://. */
void redis_cluster_start_tls(redis_cluster *c, int n, const char *certdir);
void redis_cluster_cleanup(redis_cluster *c);
/* Runs redis-cli against node i with the arguments (a shell-quoted
 * string), output into out (may be NULL). Returns the exit status. */
int redis_cli(const redis_proc *p, const char *args, char *out, size_t outlen);
/* Moves slot from the node owning it to node `to` (it holds no keys:
 * pub/sub only), as redis-cli --cluster reshard would: IMPORTING,
 * MIGRATING, then NODE on every node. Returns 0 or -1. */
int redis_cluster_move_slot(redis_cluster *c, unsigned slot, int to);
/* The index of the node owning slot, or -1. */
int redis_cluster_owner(redis_cluster *c, unsigned slot);

/* Makes, in dir, with the openssl CLI: ca.crt/ca.key, server.crt/.key for
 * localhost and 127.0.0.1, client.crt/.key. Returns 1 on success. */
int redis_make_certs(const char *dir);

#endif
