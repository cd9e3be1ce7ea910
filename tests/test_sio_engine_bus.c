/* test_sio_engine_bus.c: the Engine.IO request bus in front of a pub/sub
 * driver (sio_engine_bus.c), on the in-memory bus of helpers/pubsub_stub:
 * what it refuses, that the two engine.io# channels reach the server and
 * nothing else does, that everything else reaches the adapter unchanged,
 * and that closing detaches the bus. (Requests carried end to end:
 * test_eio_cluster.c, compat/node daemon-forwarding.) */
#include <check.h>
#include <stdio.h>
#include <string.h>
#include <uv.h>

#include "check_suites.h"
#include "pubsub_stub.h"
#include "sio/adapter.h"
#include "sio/sio.h"
#include "sio_engine_bus.h"
#include "sio_mem.h"

typedef struct eb {
  uv_loop_t loop;
  pubsub_bus *bus;
  sio_server *srv;
  int messages, states, last_ready, closed;
  char last_channel[64];
} eb;

static void eb_message(void *ud, const char *pattern, const char *channel,
                       const uint8_t *data, size_t len) {
  eb *e = ud;
  (void)pattern;
  (void)data;
  (void)len;
  e->messages++;
  snprintf(e->last_channel, sizeof(e->last_channel), "%s", channel);
}

static void eb_state(void *ud, int ready) {
  eb *e = ud;
  e->states++;
  e->last_ready = ready;
}

static void eb_closed(void *arg) { ((eb *)arg)->closed = 1; }

static void eb_setup(eb *e, int forwarding) {
  sio_options *o;
  memset(e, 0, sizeof(*e));
  ck_assert_int_eq(uv_loop_init(&e->loop), 0);
  ck_assert_int_eq(sio_options_new(&o), 0);
  sio_options_set_forwarding(o, forwarding, 0);
  ck_assert_int_eq(sio_server_new(&e->srv, &e->loop, o), 0);
  sio_options_del(o);
  e->bus = pubsub_bus_new(&e->loop);
  ck_assert_ptr_nonnull(e->bus);
}

static void eb_teardown(eb *e) {
  sio_server_close(e->srv, NULL, NULL);
  pubsub_bus_close(e->bus);
  uv_run(&e->loop, UV_RUN_DEFAULT);
  ck_assert_int_eq(uv_loop_close(&e->loop), 0);
}

static void turn(eb *e) {
  int i;
  for (i = 0; i < 5; i++)
    uv_run(&e->loop, UV_RUN_NOWAIT);
}

START_TEST(routes_engine_channels_to_the_server_and_the_rest_on) {
  eb e;
  const sio_pubsub_ops *ops = &pubsub_stub_ops;
  pubsub_stub *stub;
  void *drv;
  char self[40];
  sio_pubsub_handler h = {eb_message, eb_state};
  sio_stats st;
  eb_setup(&e, 1);
  stub = pubsub_stub_new(e.bus);
  drv = stub;
  ck_assert_int_eq(sio_engine_bus_wrap(e.srv, &ops, &drv), 0);
  ck_assert_ptr_ne(ops, &pubsub_stub_ops);
  ops->set_handler(drv, &h, &e);
  snprintf(self, sizeof(self), "engine.io#%s#", sio_server_engine_node(e.srv));
  ck_assert(pubsub_stub_subscribed(stub, "engine.io#", SIO_PUBSUB_CHANNEL));
  ck_assert(pubsub_stub_subscribed(stub, self, SIO_PUBSUB_CHANNEL));
  /* the wrapped driver holds both subscriptions; the adapter adds its own */
  ck_assert_int_eq(ops->subscribe(drv, "socket.io#/#", SIO_PUBSUB_PATTERN), 0);
  /* garbage on both engine channels: the server counts it, the adapter
   * never sees it */
  pubsub_bus_publish(e.bus, "engine.io#", (const uint8_t *)"\xc1", 1);
  pubsub_bus_publish(e.bus, self, (const uint8_t *)"\xc1", 1);
  pubsub_bus_publish(e.bus, "socket.io#/#", (const uint8_t *)"x", 1);
  /* another node's private channel is not subscribed at all */
  pubsub_bus_publish(e.bus, "engine.io#abcdef#", (const uint8_t *)"\xc1", 1);
  turn(&e);
  sio_server_stats(e.srv, &st);
  ck_assert_uint_eq(st.forward_bad_messages, 2);
  ck_assert_int_eq(e.messages, 1);
  ck_assert_str_eq(e.last_channel, "socket.io#/#");
  /* the driver's losses reach the adapter as before */
  pubsub_stub_set_up(stub, 0);
  turn(&e);
  ck_assert_int_ge(e.states, 1);
  ck_assert_int_eq(e.last_ready, 0);
  ops->close(drv, eb_closed, &e);
  turn(&e);
  ck_assert_int_eq(e.closed, 1); /* the adapter's done, once the driver closed */
  eb_teardown(&e);
}
END_TEST

START_TEST(refuses_without_forwarding_and_leaves_no_subscription) {
  eb e;
  const sio_pubsub_ops *ops = &pubsub_stub_ops;
  pubsub_stub *stub;
  void *drv;
  eb_setup(&e, 0);
  stub = pubsub_stub_new(e.bus);
  drv = stub;
  ck_assert_int_eq(sio_engine_bus_wrap(e.srv, &ops, &drv), SIO_ERR_STATE);
  ck_assert_ptr_eq(ops, &pubsub_stub_ops); /* unchanged */
  ck_assert_ptr_eq(drv, stub);
  ck_assert_int_eq(pubsub_stub_subscribed(stub, "engine.io#", SIO_PUBSUB_CHANNEL), 0);
  ck_assert_uint_eq(pubsub_stub_count(stub, SIO_PUBSUB_CHANNEL), 0);
  ops->close(drv, eb_closed, &e);
  turn(&e);
  eb_teardown(&e);
}
END_TEST

START_TEST(refuses_a_driver_without_plain_pubsub) {
  eb e;
  sio_pubsub_ops shard_only = pubsub_stub_ops;
  const sio_pubsub_ops *ops = &shard_only;
  pubsub_stub *stub;
  void *drv;
  eb_setup(&e, 1);
  shard_only.publish = NULL; /* a Cluster driver: sharded pub/sub only */
  stub = pubsub_stub_new(e.bus);
  drv = stub;
  ck_assert_int_eq(sio_engine_bus_wrap(e.srv, &ops, &drv), SIO_ERR_UNSUPPORTED);
  ck_assert_ptr_eq(ops, &shard_only);
  ck_assert_ptr_eq(drv, stub);
  pubsub_stub_ops.close(stub, eb_closed, &e);
  turn(&e);
  eb_teardown(&e);
}
END_TEST

Suite *sio_engine_bus_suite(void) {
  Suite *s = suite_create("sio_engine_bus");
  TCase *tc = tcase_create("core");
  tcase_add_test(tc, routes_engine_channels_to_the_server_and_the_rest_on);
  tcase_add_test(tc, refuses_without_forwarding_and_leaves_no_subscription);
  tcase_add_test(tc, refuses_a_driver_without_plain_pubsub);
  suite_add_tcase(s, tc);
  return s;
}
