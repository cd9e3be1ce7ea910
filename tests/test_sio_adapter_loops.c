/* Suite sio_adapter_loops: the loops adapter on one real server, with a
 * bus that records what it would carry to another loop and hands back
 * what that loop would answer. Requests are answered, merged and timed
 * out as over Redis; another loop's requests are served; malformed
 * messages are dropped without an answer or a crash. */
#include <check.h>
#include <string.h>
#include <uv.h>

#include "check_suites.h"
#include "sio/adapter.h"
#include "sio_adapter_loops.h"
#include "sio_json.h"

#define MAX_SENT 16

typedef struct sent_msg {
  unsigned to;
  char text[2048];
  size_t nbins;
} sent_msg;

static sent_msg sent[MAX_SENT];
static size_t nsent;
static int refuse; /* the bus refuses every message */

static int fake_send(void *ud, unsigned to, const uint8_t *msg, size_t len,
                     const sio_bin *bins, size_t nbins) {
  (void)ud, (void)bins;
  if (refuse)
    return SIO_ERR_CLOSED;
  ck_assert_uint_lt(nsent, MAX_SENT);
  ck_assert_uint_lt(len, sizeof(sent[0].text));
  sent[nsent].to = to;
  memcpy(sent[nsent].text, msg, len);
  sent[nsent].text[len] = 0;
  sent[nsent].nbins = nbins;
  nsent++;
  return 0;
}

static unsigned fake_count(void *ud) {
  (void)ud;
  return 2;
}

static uv_loop_t loop;
static sio_server *srv;
static sio_adapter_loops *ad;

static void setup(void) {
  sio_loops_bus bus = {fake_send, fake_count, NULL, 0, 2};
  nsent = 0;
  refuse = 0;
  uv_loop_init(&loop);
  ck_assert_int_eq(sio_server_new(&srv, &loop, NULL), 0);
  ck_assert_int_eq(sio_adapter_loops_install(srv, &bus, 200, &ad), 0);
}

static void teardown(void) {
  sio_server_close(srv, NULL, NULL);
  uv_run(&loop, UV_RUN_DEFAULT);
  ck_assert_int_eq(uv_loop_close(&loop), 0);
}

static void feed(const char *text) {
  sio_adapter_loops_message(ad, (const uint8_t *)text, strlen(text), NULL, 0);
}

static void run_until(int *flag) {
  int i;
  for (i = 0; i < 200 && !*flag; i++)
    uv_run(&loop, UV_RUN_ONCE);
  ck_assert(*flag);
}

/* The id of the last request sent. */
static void last_id(char *out) {
  json_object *m = NULL, *id;
  ck_assert_uint_gt(nsent, 0);
  ck_assert_int_eq(sio_json_parse(sent[nsent - 1].text,
                                  strlen(sent[nsent - 1].text), 0, &m),
                   0);
  ck_assert(json_object_object_get_ex(m, "id", &id));
  strcpy(out, json_object_get_string(id));
  json_object_put(m);
}

typedef struct result {
  int done, status;
  size_t n;
  char first[64];
} result;

static void on_fetch(sio_namespace *ns, int status,
                     const sio_socket_info *socks, size_t n, void *ud) {
  result *r = ud;
  (void)ns;
  r->done = 1;
  r->status = status;
  r->n = n;
  if (n)
    strcpy(r->first, socks[0].id);
}

static void on_count(sio_namespace *ns, int status, size_t count, void *ud) {
  result *r = ud;
  (void)ns;
  r->done = 1;
  r->status = status;
  r->n = count;
}

START_TEST(loops_fetch_merges_the_other_loop) {
  result r = {0};
  char id[32], ans[256];
  sio_namespace *ns = sio_server_of(srv, "/");
  ck_assert_int_eq(sio_namespace_fetch_sockets(ns, NULL, on_fetch, &r), 0);
  /* the count comes first (next turn), then the request goes out */
  while (nsent == 0)
    uv_run(&loop, UV_RUN_ONCE);
  ck_assert_uint_eq(sent[0].to, 1);
  ck_assert_ptr_nonnull(strstr(sent[0].text, "\"t\":\"fetch\""));
  last_id(id);
  feed("{\"t\":\"ans\",\"id\":\"nobody\",\"v\":[]}"); /* someone else's */
  snprintf(ans, sizeof(ans),
           "{\"t\":\"ans\",\"id\":\"%s\",\"v\":[{\"id\":\"remote1\","
           "\"rooms\":[\"remote1\"]}]}",
           id);
  feed(ans);
  run_until(&r.done);
  ck_assert_int_eq(r.status, 0);
  ck_assert_uint_eq(r.n, 1);
  ck_assert_str_eq(r.first, "remote1");
  feed(ans); /* late: nothing left to answer */
}
END_TEST

START_TEST(loops_fetch_times_out_without_answer) {
  result r = {0};
  sio_namespace *ns = sio_server_of(srv, "/");
  ck_assert_int_eq(sio_namespace_fetch_sockets(ns, NULL, on_fetch, &r), 0);
  run_until(&r.done);
  ck_assert_int_eq(r.status, SIO_ERR_TIMEOUT);
}
END_TEST

START_TEST(loops_count_is_the_group) {
  result r = {0};
  ck_assert_int_eq(
      sio_namespace_server_count(sio_server_of(srv, "/"), on_count, &r), 0);
  run_until(&r.done);
  ck_assert_int_eq(r.status, 0);
  ck_assert_uint_eq(r.n, 2);
}
END_TEST

START_TEST(loops_bus_refusing_fails_the_call) {
  result r = {0};
  refuse = 1;
  ck_assert_int_eq(sio_namespace_fetch_sockets(sio_server_of(srv, "/"), NULL,
                                               on_fetch, &r),
                   0);
  run_until(&r.done);
  ck_assert_int_eq(r.status, SIO_ERR_CLOSED);
}
END_TEST

static int sse_handler(sio_namespace *ns, const char *event,
                       json_object *args, json_object **ack, void *ud) {
  (void)ns, (void)args, (void)ud;
  if (!ack || strcmp(event, "ping"))
    return 0;
  *ack = json_object_new_string("pong");
  return 1;
}

START_TEST(loops_serves_the_other_loops_requests) {
  sio_namespace *ns = sio_server_of(srv, "/");
  sio_namespace_on_server_event(ns, sse_handler, NULL);
  feed("{\"t\":\"fetch\",\"id\":\"f1\",\"from\":1,\"nsp\":\"/\","
       "\"opts\":{\"rooms\":[],\"except\":[],\"flags\":0}}");
  ck_assert_uint_eq(nsent, 1);
  ck_assert_uint_eq(sent[0].to, 1);
  ck_assert_str_eq(sent[0].text, "{\"t\":\"ans\",\"id\":\"f1\",\"v\":[]}");
  feed("{\"t\":\"rooms\",\"id\":\"r1\",\"from\":1,\"nsp\":\"/\"}");
  ck_assert_str_eq(sent[1].text, "{\"t\":\"ans\",\"id\":\"r1\",\"v\":[]}");
  feed("{\"t\":\"sse\",\"id\":\"s1\",\"from\":1,\"nsp\":\"/\","
       "\"data\":[\"ping\"]}");
  ck_assert_str_eq(sent[2].text,
                   "{\"t\":\"ans\",\"id\":\"s1\",\"v\":\"pong\"}");
  /* no id: no answer wanted */
  feed("{\"t\":\"sse\",\"from\":1,\"nsp\":\"/\",\"data\":[\"ping\"]}");
  ck_assert_uint_eq(nsent, 3);
  /* a broadcast with acknowledgements to nobody: its count is 0 */
  feed("{\"t\":\"back\",\"id\":\"b1\",\"from\":1,\"nsp\":\"/\","
       "\"opts\":{\"rooms\":[],\"except\":[],\"flags\":0},\"event\":\"q\","
       "\"args\":[],\"timeout\":100}");
  ck_assert_str_eq(sent[3].text, "{\"t\":\"ackc\",\"id\":\"b1\",\"n\":0}");
}
END_TEST

/* socketsJoin and disconnectSockets go to the other loop as requests, and
 * the other loop's join applies to the selected local sockets (none here:
 * no answer, nothing broken); with the bus refusing, the local part still
 * runs and the call does not fail. */
START_TEST(loops_rooms_and_disconnects_go_to_the_other_loop) {
  sio_namespace *ns = sio_server_of(srv, "/");
  const char *room = "r1";
  ck_assert_int_eq(sio_namespace_sockets_join(ns, NULL, &room, 1), 0);
  ck_assert_int_eq(sio_namespace_disconnect_sockets(ns, NULL, 1), 0);
  ck_assert_uint_eq(nsent, 2);
  ck_assert_uint_eq(sent[0].to, 1);
  ck_assert_ptr_nonnull(strstr(sent[0].text, "\"t\":\"join\""));
  ck_assert_ptr_nonnull(strstr(sent[0].text, "\"rooms\":[\"r1\"]"));
  ck_assert_ptr_nonnull(strstr(sent[1].text, "\"t\":\"dc\""));
  ck_assert_ptr_nonnull(strstr(sent[1].text, "\"close\":true"));
  refuse = 1;
  ck_assert_int_eq(sio_namespace_sockets_leave(ns, NULL, &room, 1), 0);
  ck_assert_uint_eq(nsent, 2);
  refuse = 0;
  feed("{\"t\":\"leave\",\"nsp\":\"/\",\"opts\":{\"rooms\":[],"
       "\"except\":[],\"flags\":0},\"rooms\":[\"r1\"]}");
  feed("{\"t\":\"dc\",\"nsp\":\"/\",\"opts\":{},\"close\":false}");
  ck_assert_uint_eq(nsent, 2); /* neither is answered */
}
END_TEST

START_TEST(loops_malformed_messages_are_dropped) {
  static const char *const bad[] = {
      "",
      "not json",
      "[1,2]",
      "{}",
      "{\"t\":1}",
      "{\"t\":\"nope\",\"nsp\":\"/\"}",
      "{\"t\":\"fetch\",\"id\":\"x\",\"nsp\":\"/\"}",           /* no from */
      "{\"t\":\"fetch\",\"id\":\"x\",\"from\":0,\"nsp\":\"/\"}", /* us */
      "{\"t\":\"fetch\",\"id\":\"x\",\"from\":7,\"nsp\":\"/\"}",
      "{\"t\":\"fetch\",\"id\":\"x\",\"from\":-1,\"nsp\":\"/\"}",
      "{\"t\":\"fetch\",\"id\":\"x\",\"from\":\"1\",\"nsp\":\"/\"}",
      "{\"t\":\"fetch\",\"id\":\"x\",\"from\":1}", /* no nsp */
      "{\"t\":\"fetch\",\"id\":\"x\",\"from\":1,\"nsp\":\"/\",\"opts\":[]}",
      "{\"t\":\"fetch\",\"id\":\"x\",\"from\":1,\"nsp\":\"/\","
      "\"opts\":{\"rooms\":[1]}}",
      "{\"t\":\"join\",\"nsp\":\"/\",\"opts\":{},\"rooms\":\"r\"}",
      "{\"t\":\"sse\",\"id\":\"x\",\"from\":1,\"nsp\":\"/\",\"data\":{}}",
      "{\"t\":\"back\",\"id\":\"x\",\"from\":1,\"nsp\":\"/\",\"opts\":{}}",
      "{\"t\":\"fetch\",\"id\":\"x\",\"from\":1,\"nsp\":\"no-slash\","
      "\"opts\":{}}",
      "{\"t\":\"ackc\",\"id\":7}",
      "{\"t\":\"ans\"}",
  };
  size_t i;
  for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
    feed(bad[i]);
  ck_assert_uint_eq(nsent, 0); /* nothing answered */
}
END_TEST

Suite *sio_adapter_loops_suite(void) {
  Suite *s = suite_create("sio_adapter_loops");
  TCase *tc = tcase_create("core");
  tcase_add_checked_fixture(tc, setup, teardown);
  tcase_add_test(tc, loops_fetch_merges_the_other_loop);
  tcase_add_test(tc, loops_fetch_times_out_without_answer);
  tcase_add_test(tc, loops_count_is_the_group);
  tcase_add_test(tc, loops_bus_refusing_fails_the_call);
  tcase_add_test(tc, loops_serves_the_other_loops_requests);
  tcase_add_test(tc, loops_rooms_and_disconnects_go_to_the_other_loop);
  tcase_add_test(tc, loops_malformed_messages_are_dropped);
  suite_add_tcase(s, tc);
  return s;
}
