/* sio_engine_bus.c: see sio_engine_bus.h. */
#include "sio_engine_bus.h"

#include <stdio.h>
#include <string.h>

#include "sio/sio_errno.h"
#include "sio_log.h"
#include "sio_mem.h"

typedef struct bus {
  sio_pubsub_ops ops; /* what the adapter calls: this file's functions, NULL
                         where the driver has none */
  sio_server *srv;
  const sio_pubsub_ops *inner;
  void *drv;
  sio_pubsub_handler h; /* the adapter's */
  void *hud;
  void (*done)(void *arg);
  void *done_arg;
  char all[32];  /* "engine.io#" */
  char self[32]; /* "engine.io#<node>#" */
} bus;

static void on_message(void *ud, const char *pattern, const char *channel,
                       const uint8_t *data, size_t len) {
  bus *b = ud;
  if (!pattern && (strcmp(channel, b->all) == 0 ||
                   strcmp(channel, b->self) == 0)) {
    sio_server_engine_message(b->srv, data, len);
    return;
  }
  if (b->h.message)
    b->h.message(b->hud, pattern, channel, data, len);
}

static void on_state(void *ud, int ready) {
  bus *b = ud;
  if (b->h.state)
    b->h.state(b->hud, ready);
}

static int publish_engine(void *ud, const char *channel, const uint8_t *msg,
                          size_t len) {
  bus *b = ud;
  return b->inner->publish(b->drv, channel, msg, len);
}

static void op_set_handler(void *d, const sio_pubsub_handler *h, void *ud) {
  bus *b = d;
  b->h = *h;
  b->hud = ud;
}
static int op_subscribe(void *d, const char *name, int kind) {
  bus *b = d;
  return b->inner->subscribe(b->drv, name, kind);
}
static int op_unsubscribe(void *d, const char *name, int kind) {
  bus *b = d;
  return b->inner->unsubscribe(b->drv, name, kind);
}
static int op_publish(void *d, const char *ch, const uint8_t *data,
                      size_t len) {
  bus *b = d;
  return b->inner->publish(b->drv, ch, data, len);
}
static int op_numsub(void *d, const char *ch, sio_pubsub_count_cb cb,
                     void *ud) {
  bus *b = d;
  return b->inner->numsub(b->drv, ch, cb, ud);
}
static int op_spublish(void *d, const char *ch, const uint8_t *data,
                       size_t len) {
  bus *b = d;
  return b->inner->spublish(b->drv, ch, data, len);
}
static int op_shardnumsub(void *d, const char *ch, sio_pubsub_count_cb cb,
                          void *ud) {
  bus *b = d;
  return b->inner->shardnumsub(b->drv, ch, cb, ud);
}
static int op_command(void *d, int lane, int argc, const char **argv,
                      const size_t *lens, int key, uint32_t timeout_ms,
                      sio_pubsub_reply_cb cb, void *ud) {
  bus *b = d;
  return b->inner->command(b->drv, lane, argc, argv, lens, key, timeout_ms,
                           cb, ud);
}
static int op_ready(void *d) {
  bus *b = d;
  return b->inner->ready(b->drv);
}
static uint64_t op_latency_us(void *d) {
  bus *b = d;
  return b->inner->latency_us(b->drv);
}

static void closed(void *arg) {
  bus *b = arg;
  void (*done)(void *) = b->done;
  void *done_arg = b->done_arg;
  sio_free(b);
  if (done)
    done(done_arg);
}

static void op_close(void *d, void (*done)(void *arg), void *arg) {
  bus *b = d;
  sio_server_engine_bus(b->srv, NULL, NULL);
  b->done = done;
  b->done_arg = arg;
  b->inner->close(b->drv, closed, b);
}

int sio_engine_bus_wrap(sio_server *s, const sio_pubsub_ops **ops,
                        void **drv) {
  const sio_pubsub_ops *in = *ops;
  sio_pubsub_handler h = {on_message, on_state};
  bus *b;
  int rv;
  if (!in->publish || !in->subscribe)
    return SIO_ERR_UNSUPPORTED;
  b = sio_calloc(1, sizeof(*b));
  if (!b)
    return SIO_ERR_NOMEM;
  b->srv = s;
  b->inner = in;
  b->drv = *drv;
  snprintf(b->all, sizeof(b->all), "engine.io#");
  snprintf(b->self, sizeof(b->self), "engine.io#%s#",
           sio_server_engine_node(s));
  rv = in->subscribe(b->drv, b->all, SIO_PUBSUB_CHANNEL);
  if (!rv)
    rv = in->subscribe(b->drv, b->self, SIO_PUBSUB_CHANNEL);
  if (!rv)
    rv = sio_server_engine_bus(s, publish_engine, b);
  if (rv) {
    if (in->unsubscribe) {
      in->unsubscribe(b->drv, b->all, SIO_PUBSUB_CHANNEL);
      in->unsubscribe(b->drv, b->self, SIO_PUBSUB_CHANNEL);
    }
    sio_free(b);
    return rv;
  }
  b->ops.set_handler = op_set_handler;
  b->ops.subscribe = op_subscribe;
  b->ops.unsubscribe = in->unsubscribe ? op_unsubscribe : NULL;
  b->ops.publish = op_publish;
  b->ops.numsub = in->numsub ? op_numsub : NULL;
  b->ops.spublish = in->spublish ? op_spublish : NULL;
  b->ops.shardnumsub = in->shardnumsub ? op_shardnumsub : NULL;
  b->ops.command = in->command ? op_command : NULL;
  b->ops.ready = op_ready;
  b->ops.latency_us = in->latency_us ? op_latency_us : NULL;
  b->ops.close = op_close;
  in->set_handler(b->drv, &h, b);
  *ops = &b->ops;
  *drv = b;
  return 0;
}
