/* fuzz_redis_url.c: libFuzzer harness for the Redis URL parser
 * (sio_redis_url.c), the configuration's redis.url. Any bytes (as a
 * NUL-terminated string) either parse into a URL the drivers can dial,
 * or are refused with the result owning nothing; parsing is repeatable. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "sio_int.h"
#include "sio_redis_url.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static int same(const char *a, const char *b) {
  return (!a && !b) || (a && b && strcmp(a, b) == 0);
}

static void check_ok(const char *in, const sio_redis_url *u) {
  sio_redis_url v;
  size_t i;
  if (u->path) { /* a unix socket: one server, no nodes */
    if (u->path[0] != '/' || u->nnodes || u->nodes || u->host ||
        u->topology != SIO_REDIS_STANDALONE || u->tls)
      abort();
  } else {
    if (u->nnodes < 1 || !u->nodes || u->host != u->nodes[0].host ||
        u->port != u->nodes[0].port)
      abort();
    for (i = 0; i < u->nnodes; i++)
      if (!u->nodes[i].host || !u->nodes[i].host[0] ||
          u->nodes[i].port < 1 || u->nodes[i].port > 65535)
        abort();
    if (u->topology == SIO_REDIS_STANDALONE && u->nnodes != 1)
      abort();
  }
  if (u->topology == SIO_REDIS_SENTINEL) {
    if (!u->master_name || !u->master_name[0])
      abort();
  } else if (u->master_name) {
    abort();
  }
  if (u->topology == SIO_REDIS_CLUSTER && u->db != 0)
    abort();
  if (u->db < 0 || u->db > 100000)
    abort();
  if (u->tls != (strncmp(in, "rediss", 6) == 0))
    abort();
  /* the same text, the same URL */
  if (sio_redis_url_parse(in, &v))
    abort();
  if (v.topology != u->topology || v.tls != u->tls || v.nnodes != u->nnodes ||
      v.port != u->port || v.db != u->db || !same(v.host, u->host) ||
      !same(v.path, u->path) || !same(v.master_name, u->master_name) ||
      !same(v.user, u->user) || !same(v.password, u->password))
    abort();
  for (i = 0; i < u->nnodes; i++)
    if (v.nodes[i].port != u->nodes[i].port ||
        strcmp(v.nodes[i].host, u->nodes[i].host) != 0)
      abort();
  sio_redis_url_clear(&v);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  char *in = malloc(size + 1);
  sio_redis_url u;
  int rv;
  if (!in)
    return 0;
  memcpy(in, data, size);
  in[size] = 0;
  rv = sio_redis_url_parse(in, &u);
  if (rv == 0) {
    check_ok(in, &u);
  } else {
    /* refused: nothing owned, nothing to clear */
    if (rv != SIO_ERR_INVAL && rv != SIO_ERR_NOMEM)
      abort();
    if (u.nodes || u.nnodes || u.host || u.path || u.master_name || u.user ||
        u.password)
      abort();
  }
  sio_redis_url_clear(&u);
  if (u.nodes || u.nnodes || u.host)
    abort();
  free(in);
  return 0;
}
