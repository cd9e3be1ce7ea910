/* app_cluster.c: what the daemon does with other instances on Redis.
 *
 * Every 10 s an instance asks the others, with the server-side event
 * "sio-server:count", how many sockets they hold, and keeps the sum (its
 * own included) for /health's connections.total. Node socket.io peers do
 * not answer that event: the request then ends at its timeout with the
 * answers it got, so the total covers the sio-server instances. With
 * server.threads > 1 each loop has an adapter of its own and is one
 * instance of the fleet: its siblings answer too. */
#include <string.h>

#include "app_daemon.h"
#include "app_log.h"

#define COUNT_EVENT "sio-server:count"

static int on_server_event(sio_namespace *ns, const char *event,
                           json_object *args, json_object **ack, void *ud) {
  (void)args;
  (void)ud;
  if (strcmp(event, COUNT_EVENT) != 0 || !ack)
    return 0;
  *ack = json_object_new_int64((int64_t)sio_namespace_socket_count(ns));
  return 1;
}

static void counted(sio_namespace *ns, int status, json_object *responses,
                    void *ud) {
  struct app_loop *l = ud;
  size_t total = sio_namespace_socket_count(ns), i, n;
  l->counting = false;
  if (status == SIO_ERR_CANCELED)
    return;
  n = responses && json_object_is_type(responses, json_type_array)
          ? json_object_array_length(responses)
          : 0;
  for (i = 0; i < n; i++) {
    int64_t v = json_object_get_int64(json_object_array_get_idx(responses, i));
    if (v > 0)
      total += (size_t)v;
  }
  l->cluster_sockets = total;
}

void app_cluster_refresh(struct app_loop *l) {
  if (!*l->cfg->redis_url || l->counting || !l->srv)
    return;
  if (sio_namespace_server_side_emit(l->ns, COUNT_EVENT, NULL, counted, l) ==
      0)
    l->counting = true;
}

int app_cluster_install(struct app_loop *l) {
  const struct app_config *c = l->cfg;
  sio_redis_config rc;
  int rv;
  if (!*c->redis_url)
    return 0;
  memset(&rc, 0, sizeof(rc));
  rc.url = c->redis_url;
  rc.key = c->redis_key;
  rc.connect_timeout_ms = (uint32_t)c->redis_connect_timeout_ms;
  rc.adapter = strcmp(c->redis_adapter, "sharded") == 0
                   ? SIO_REDIS_ADAPTER_SHARDED
               : strcmp(c->redis_adapter, "streams") == 0
                   ? SIO_REDIS_ADAPTER_STREAMS
                   : SIO_REDIS_ADAPTER_CLASSIC;
  /* "" leaves each at its default (sio.h): system CAs, no client cert. */
  rc.tls_ca_file = c->redis_tls_ca_file;
  rc.tls_cert_file =
      *c->redis_tls_cert_file ? c->redis_tls_cert_file : NULL;
  rc.tls_key_file =
      *c->redis_tls_key_file ? c->redis_tls_key_file : NULL;
  rv = sio_server_use_redis_config(l->srv, &rc);
  if (rv) {
    char url[512];
    app_config_display(
        c, (size_t)(app_config_find("redis", "url") - app_config_keys),
        url, sizeof(url));
    if (rv == SIO_ERR_IO)
      APP_LOGE("redis: cannot read redis.tls_ca_file, redis.tls_cert_file "
               "or redis.tls_key_file: %s",
               sio_strerror(rv));
    else
      APP_LOGE("redis.url %s with redis.adapter %s: %s", url,
               c->redis_adapter, sio_strerror(rv));
    return -1;
  }
  sio_namespace_on_server_event(l->ns, on_server_event, l);
  if (l->index == 0)
    APP_LOGI("joining the cluster on Redis (%s adapter, channel prefix %s)",
             c->redis_adapter, c->redis_key);
  return 0;
}
