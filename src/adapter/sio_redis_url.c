/* sio_redis_url.c: the Redis URL forms of sio_redis_url.h. */
#include "sio_redis_url.h"

#include <string.h>

#include "sio_buf.h"
#include "sio_int.h"
#include "sio_mem.h"
#include "sio_util.h"

/* A percent-decoded copy of s[0..n), or NULL (a bad escape or an encoded
 * NUL: *err INVAL). */
static char *pct_dup(const char *s, size_t n, int *err) {
  sio_buf b;
  char *o;
  int rv;
  sio_buf_init(&b);
  rv = sio_pct_decode(&b, s, n, 0);
  if (rv == 0 && b.len && memchr(b.data, 0, b.len))
    rv = SIO_ERR_PROTO; /* an encoded NUL */
  if (rv) {
    sio_buf_deinit(&b);
    *err = rv == SIO_ERR_PROTO ? SIO_ERR_INVAL : rv;
    return NULL;
  }
  o = b.data ? sio_buf_steal(&b, NULL) : sio_strdup("");
  if (!o)
    *err = SIO_ERR_NOMEM;
  return o;
}

static int parse_int(const char *s, size_t n, long lo, long hi, int *out) {
  long v = 0;
  size_t i;
  if (n == 0 || n > 9)
    return SIO_ERR_INVAL;
  for (i = 0; i < n; i++) {
    if (s[i] < '0' || s[i] > '9')
      return SIO_ERR_INVAL;
    v = v * 10 + (s[i] - '0');
  }
  if (v < lo || v > hi)
    return SIO_ERR_INVAL;
  *out = (int)v;
  return 0;
}

/* ?db=N&password=P&user=U */
static int parse_params(const char *q, sio_redis_url *u) {
  int rv = 0;
  while (*q && !rv) {
    const char *amp = strchr(q, '&'), *eq;
    size_t len = amp ? (size_t)(amp - q) : strlen(q);
    eq = memchr(q, '=', len);
    if (eq) {
      size_t kl = (size_t)(eq - q), vl = len - kl - 1;
      if (kl == 2 && memcmp(q, "db", 2) == 0) {
        rv = parse_int(eq + 1, vl, 0, 100000, &u->db);
      } else if (kl == 8 && memcmp(q, "password", 8) == 0) {
        sio_free(u->password);
        u->password = pct_dup(eq + 1, vl, &rv);
      } else if (kl == 4 && memcmp(q, "user", 4) == 0) {
        sio_free(u->user);
        u->user = pct_dup(eq + 1, vl, &rv);
      }
    }
    q += len + (amp ? 1 : 0);
  }
  return rv;
}

void sio_redis_url_clear(sio_redis_url *u) {
  size_t i;
  if (!u)
    return;
  for (i = 0; i < u->nnodes; i++)
    sio_free(u->nodes[i].host);
  sio_free(u->nodes);
  sio_free(u->path);
  sio_free(u->master_name);
  sio_free(u->user);
  sio_free(u->password);
  memset(u, 0, sizeof(*u));
}

/* host[:port] or [v6][:port] in s[0..n), appended to u->nodes. */
static int parse_node(const char *s, size_t n, int defport, sio_redis_url *u) {
  const char *e = s + n, *he;
  sio_redis_node *nn, *node;
  int rv;
  nn = sio_realloc(u->nodes, (u->nnodes + 1) * sizeof(*nn));
  if (!nn)
    return SIO_ERR_NOMEM;
  u->nodes = nn;
  node = &nn[u->nnodes];
  node->host = NULL;
  node->port = defport;
  if (n > 0 && *s == '[') {
    const char *rb = memchr(s, ']', n);
    if (!rb || rb == s + 1)
      return SIO_ERR_INVAL;
    he = rb + 1;
    if (he < e && *he != ':')
      return SIO_ERR_INVAL;
    node->host = sio_strndup(s + 1, (size_t)(rb - s - 1));
  } else {
    he = memchr(s, ':', n);
    if (!he)
      he = e;
    if (he == s)
      return SIO_ERR_INVAL;
    node->host = sio_strndup(s, (size_t)(he - s));
  }
  if (!node->host)
    return SIO_ERR_NOMEM;
  u->nnodes++;
  if (he < e) {
    rv = parse_int(he + 1, (size_t)(e - he - 1), 1, 65535, &node->port);
    if (rv)
      return rv;
  }
  return 0;
}

static int parse_unix(const char *p, sio_redis_url *u) {
  const char *query = strchr(p, '?');
  const char *end = query ? query : p + strlen(p);
  if (end == p || *p != '/')
    return SIO_ERR_INVAL;
  u->path = sio_strndup(p, (size_t)(end - p));
  if (!u->path)
    return SIO_ERR_NOMEM;
  return query ? parse_params(query + 1, u) : 0;
}

static const struct {
  const char *prefix;
  sio_redis_topology topology;
  int tls;
} schemes[] = {
    {"redis://", SIO_REDIS_STANDALONE, 0},
    {"rediss://", SIO_REDIS_STANDALONE, 1},
    {"redis+sentinel://", SIO_REDIS_SENTINEL, 0},
    {"rediss+sentinel://", SIO_REDIS_SENTINEL, 1},
    {"redis+cluster://", SIO_REDIS_CLUSTER, 0},
    {"rediss+cluster://", SIO_REDIS_CLUSTER, 1},
};

int sio_redis_url_parse(const char *url, sio_redis_url *u) {
  const char *p = NULL, *at, *end, *hs, *slash, *query, *x;
  int rv = 0, defport;
  size_t i;
  memset(u, 0, sizeof(*u));
  u->port = 6379;
  if (!url)
    return SIO_ERR_INVAL;
  if (strncmp(url, "unix://", 7) == 0 ||
      strncmp(url, "redis+unix://", 13) == 0) {
    rv = parse_unix(url + (url[0] == 'u' ? 7 : 13), u);
    if (rv)
      sio_redis_url_clear(u);
    return rv;
  }
  for (i = 0; i < sizeof(schemes) / sizeof(schemes[0]); i++) {
    size_t n = strlen(schemes[i].prefix);
    if (strncmp(url, schemes[i].prefix, n) == 0) {
      p = url + n;
      u->topology = schemes[i].topology;
      u->tls = schemes[i].tls;
      break;
    }
  }
  if (!p)
    return SIO_ERR_INVAL;
  defport = u->topology == SIO_REDIS_SENTINEL ? 26379 : 6379;
  query = strchr(p, '?');
  end = query ? query : p + strlen(p);
  slash = memchr(p, '/', (size_t)(end - p));
  if (!slash)
    slash = end;
  /* userinfo: the last '@' before the path */
  at = NULL;
  for (x = p; x < slash; x++)
    if (*x == '@')
      at = x;
  if (at) {
    const char *colon = memchr(p, ':', (size_t)(at - p));
    if (colon) {
      if (colon > p)
        u->user = pct_dup(p, (size_t)(colon - p), &rv);
      if (!rv)
        u->password = pct_dup(colon + 1, (size_t)(at - colon - 1), &rv);
    } else if (at > p) {
      u->password = pct_dup(p, (size_t)(at - p), &rv);
    }
    if (rv)
      goto fail;
    hs = at + 1;
  } else {
    hs = p;
  }
  /* one host, or a comma-separated list for sentinels and seeds */
  for (;;) {
    const char *comma = memchr(hs, ',', (size_t)(slash - hs));
    const char *ne = comma ? comma : slash;
    if (comma && u->topology == SIO_REDIS_STANDALONE)
      goto inval;
    rv = parse_node(hs, (size_t)(ne - hs), defport, u);
    if (rv)
      goto fail;
    if (!comma)
      break;
    hs = comma + 1;
  }
  u->host = u->nodes[0].host;
  u->port = u->nodes[0].port;
  if (u->topology == SIO_REDIS_SENTINEL) {
    /* /master-name[/db] */
    const char *name = slash < end ? slash + 1 : end;
    const char *ne = memchr(name, '/', (size_t)(end - name));
    if (!ne)
      ne = end;
    if (ne == name)
      goto inval;
    u->master_name = pct_dup(name, (size_t)(ne - name), &rv);
    if (rv)
      goto fail;
    if (ne < end && ne + 1 < end) {
      rv = parse_int(ne + 1, (size_t)(end - ne - 1), 0, 100000, &u->db);
      if (rv)
        goto fail;
    }
  } else if (slash < end && slash + 1 < end) {
    if (u->topology == SIO_REDIS_CLUSTER)
      goto inval; /* a cluster has database 0 only */
    rv = parse_int(slash + 1, (size_t)(end - slash - 1), 0, 100000, &u->db);
    if (rv)
      goto fail;
  }
  if (query) {
    rv = parse_params(query + 1, u);
    if (rv)
      goto fail;
    if (u->topology == SIO_REDIS_CLUSTER && u->db > 0)
      goto inval;
  }
  return 0;
inval:
  rv = SIO_ERR_INVAL;
fail:
  sio_redis_url_clear(u);
  return rv;
}
