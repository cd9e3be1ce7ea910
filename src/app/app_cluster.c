/* app_cluster.c: what the daemon does with other instances on Redis.
 *
 * Every 10 s an instance asks the others, with the server-side event
 * "sio-server:count", how many sockets they hold, and keeps the sum (its
 * own included) for /health's connections.total. Node socket.io peers do
 * not answer that event: the request then ends at its timeout with the
 * answers it got, so the total covers the sio-server instances. */
#include <string.h>

#include "app_daemon.h"
#include "app_log.h"

#define COUNT_EVENT "sio-server:count"

static int on_server_event(sio_namespace *ns, const char *event,
                           json_object *args, json_object **ack, void *ud) {
  struct app_daemon *d = ud;
  (void)args;
  if (strcmp(event, COUNT_EVENT) != 0 || !ack)
    return 0;
  *ack = json_object_new_int64((int64_t)sio_namespace_socket_count(ns));
  (void)d;
  return 1;
}

static void counted(sio_namespace *ns, int status, json_object *responses,
                    void *ud) {
  struct app_daemon *d = ud;
  size_t total = sio_namespace_socket_count(ns), i, n;
  d->counting = false;
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
  d->cluster_sockets = total;
}

void app_cluster_refresh(struct app_daemon *d) {
  if (!*d->cfg.redis_url || d->counting || !d->srv)
    return;
  if (sio_namespace_server_side_emit(d->ns, COUNT_EVENT, NULL, counted, d) ==
      0)
    d->counting = true;
}

int app_cluster_install(struct app_daemon *d) {
  sio_redis_config rc;
  int rv;
  if (!*d->cfg.redis_url)
    return 0;
  memset(&rc, 0, sizeof(rc));
  rc.url = d->cfg.redis_url;
  rc.key = d->cfg.redis_key;
  rc.connect_timeout_ms = (uint32_t)d->cfg.redis_connect_timeout_ms;
  rc.adapter = strcmp(d->cfg.redis_adapter, "sharded") == 0
                   ? SIO_REDIS_ADAPTER_SHARDED
               : strcmp(d->cfg.redis_adapter, "streams") == 0
                   ? SIO_REDIS_ADAPTER_STREAMS
                   : SIO_REDIS_ADAPTER_CLASSIC;
  /* "" leaves each at its default (sio.h): system CAs, no client cert. */
  rc.tls_ca_file = d->cfg.redis_tls_ca_file;
  rc.tls_cert_file =
      *d->cfg.redis_tls_cert_file ? d->cfg.redis_tls_cert_file : NULL;
  rc.tls_key_file =
      *d->cfg.redis_tls_key_file ? d->cfg.redis_tls_key_file : NULL;
  rv = sio_server_use_redis_config(d->srv, &rc);
  if (rv) {
    char url[512];
    app_config_display(
        &d->cfg, (size_t)(app_config_find("redis", "url") - app_config_keys),
        url, sizeof(url));
    if (rv == SIO_ERR_IO)
      APP_LOGE("redis: cannot read redis.tls_ca_file, redis.tls_cert_file "
               "or redis.tls_key_file: %s",
               sio_strerror(rv));
    else
      APP_LOGE("redis.url %s with redis.adapter %s: %s", url,
               d->cfg.redis_adapter, sio_strerror(rv));
    return -1;
  }
  sio_namespace_on_server_event(d->ns, on_server_event, d);
  APP_LOGI("joining the cluster on Redis (%s adapter, channel prefix %s)",
           d->cfg.redis_adapter, d->cfg.redis_key);
  return 0;
}
