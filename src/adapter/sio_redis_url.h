#ifndef SIO_REDIS_URL_H
#define SIO_REDIS_URL_H

/* Redis URLs (SPEC §4), parsed once into what the drivers dial:
 *
 *   redis://[[user][:password]@]host[:port][/db]          one server
 *   rediss://...                                          the same, TLS
 *   unix:///path[?db=N&password=P&user=U]  (redis+unix)   a unix socket
 *   redis+sentinel://[auth@]host[:port][,host[:port]...]/master-name[/db]
 *   redis+cluster://[auth@]host[:port][,host[:port]...]   Cluster seeds
 *   rediss+sentinel://, rediss+cluster://                 the same, TLS
 *
 * host may be [v6addr]; user and password are percent-decoded and may
 * also come as ?user=&password= (and ?db=). Default ports: 6379, and
 * 26379 for sentinels. PURE: no I/O. */

#include <stddef.h>

typedef enum sio_redis_topology {
  SIO_REDIS_STANDALONE = 0,
  SIO_REDIS_SENTINEL = 1,
  SIO_REDIS_CLUSTER = 2
} sio_redis_topology;

typedef struct sio_redis_node {
  char *host; /* IPv6 without brackets */
  int port;
} sio_redis_node;

/* Strings owned (sio_redis_url_clear). */
typedef struct sio_redis_url {
  sio_redis_topology topology;
  int tls;               /* rediss */
  char *host;            /* nodes[0].host, NULL for a unix socket */
  int port;              /* nodes[0].port */
  char *path;            /* unix socket path, or NULL */
  sio_redis_node *nodes; /* the server, the sentinels or the seeds */
  size_t nnodes;
  char *master_name; /* sentinel: the monitored master's name */
  char *user;        /* NULL: none (AUTH password alone) */
  char *password;    /* NULL: no AUTH */
  int db;            /* SELECT db when > 0 (never for a cluster) */
} sio_redis_url;

/* Parses url (borrowed). Returns 0, SIO_ERR_INVAL (malformed, port or db
 * out of range, a sentinel URL without master name, a cluster URL with a
 * db) or SIO_ERR_NOMEM; on error out owns nothing. */
int sio_redis_url_parse(const char *url, sio_redis_url *out);
/* Frees u's strings and zeroes it. NULL-safe. */
void sio_redis_url_clear(sio_redis_url *u);

#endif
