/* Unit tests of src/app/app_metrics.c: the metric names of SPEC §3, label
 * handling and escaping, number formatting, the process_* figures and the
 * exact Prometheus text of a few series. */
#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "app_metrics.h"
#include "check_suites.h"

static char *render(struct app_metrics *m) {
  size_t len;
  char *t = app_metrics_render(m, NULL, &len);
  ck_assert_ptr_nonnull(t);
  ck_assert_uint_eq(strlen(t), len);
  return t;
}

START_TEST(spec_names_present) {
  static const char *names[][2] = {
      {"sio_connections", "gauge"},
      {"sio_sockets", "gauge"},
      {"sio_handshakes_total", "counter"},
      {"sio_packets_received_total", "counter"},
      {"sio_packets_sent_total", "counter"},
      {"sio_bytes_received_total", "counter"},
      {"sio_bytes_sent_total", "counter"},
      {"sio_broadcasts_total", "counter"},
      {"sio_acks_total", "counter"},
      {"sio_auth_failures_total", "counter"},
      {"sio_limit_hits_total", "counter"},
      {"sio_disconnects_total", "counter"},
      {"sio_redis_connected", "gauge"},
      {"sio_redis_messages_total", "counter"},
      {"sio_event_loop_lag_seconds", "gauge"},
  };
  struct app_metrics *m;
  char *t;
  size_t i;
  ck_assert_int_eq(app_metrics_new(&m), 0);
  t = render(m);
  for (i = 0; i < sizeof(names) / sizeof(names[0]); i++) {
    char want[160];
    snprintf(want, sizeof(want), "\n# TYPE %s %s\n", names[i][0], names[i][1]);
    ck_assert_msg(strstr(t, want) != NULL, "%s", want);
    snprintf(want, sizeof(want), "# HELP %s ", names[i][0]);
    ck_assert_msg(strstr(t, want) != NULL, "%s", want);
  }
  ck_assert_str_eq(app_metrics_name(APP_M_ACKS), "sio_acks_total");
  ck_assert_ptr_null(app_metrics_name(APP_M_COUNT));
  /* series that exist from the start */
  ck_assert_ptr_nonnull(
      strstr(t, "\nsio_connections{transport=\"polling\"} 0\n"));
  ck_assert_ptr_nonnull(
      strstr(t, "\nsio_connections{transport=\"websocket\"} 0\n"));
  ck_assert_ptr_nonnull(
      strstr(t, "\nsio_auth_failures_total{code=\"connection_limit\"} 0\n"));
  ck_assert_ptr_nonnull(
      strstr(t, "\nsio_limit_hits_total{limit=\"event_rate\"} 0\n"));
  ck_assert_ptr_nonnull(
      strstr(t, "\nsio_redis_messages_total{direction=\"out\"} 0\n"));
  ck_assert_ptr_nonnull(strstr(t, "\nsio_redis_connected 0\n"));
  /* a labelled metric with no series yet has only its header */
  ck_assert_ptr_nonnull(strstr(t, "# TYPE sio_sockets gauge\n# HELP"));
  ck_assert_int_eq(strncmp(t, "# HELP sio_connections ", 23), 0);
  free(t);
  app_metrics_del(m);
}
END_TEST

START_TEST(counters_and_exact_text) {
  struct app_metrics *m;
  char *t;
  ck_assert_int_eq(app_metrics_new(&m), 0);
  ck_assert_int_eq(app_metrics_inc(m, APP_M_HANDSHAKES, NULL), 0);
  ck_assert_int_eq(app_metrics_inc(m, APP_M_HANDSHAKES, NULL), 0);
  ck_assert_int_eq(app_metrics_add(m, APP_M_BYTES_SENT, NULL, 1e6), 0);
  ck_assert_int_eq(app_metrics_set(m, APP_M_SOCKETS, "/", 3), 0);
  ck_assert_int_eq(app_metrics_set(m, APP_M_SOCKETS, "/admin", 1), 0);
  ck_assert_int_eq(app_metrics_add(m, APP_M_SOCKETS, "/", -1), 0);
  ck_assert_int_eq(app_metrics_set(m, APP_M_EVENT_LOOP_LAG, NULL, 0.0025), 0);
  ck_assert_int_eq(app_metrics_inc(m, APP_M_DISCONNECTS, "transport close"), 0);
  ck_assert(app_metrics_get(m, APP_M_HANDSHAKES, NULL) == 2);
  ck_assert(app_metrics_get(m, APP_M_SOCKETS, "/") == 2);
  ck_assert(app_metrics_get(m, APP_M_SOCKETS, "/none") == 0);
  t = render(m);
  ck_assert_ptr_nonnull(
      strstr(t, "# HELP sio_handshakes_total Engine.IO handshakes accepted.\n"
                "# TYPE sio_handshakes_total counter\n"
                "sio_handshakes_total 2\n"));
  ck_assert_ptr_nonnull(strstr(t, "\nsio_bytes_sent_total 1000000\n"));
  ck_assert_ptr_nonnull(strstr(t, "# TYPE sio_sockets gauge\n"
                                  "sio_sockets{namespace=\"/\"} 2\n"
                                  "sio_sockets{namespace=\"/admin\"} 1\n"));
  ck_assert_ptr_nonnull(strstr(t, "\nsio_event_loop_lag_seconds 0.0025\n"));
  ck_assert_ptr_nonnull(
      strstr(t, "\nsio_disconnects_total{reason=\"transport close\"} 1\n"));
  ck_assert_int_eq(t[strlen(t) - 1], '\n');
  free(t);
  app_metrics_del(m);
}
END_TEST

START_TEST(label_rules_and_escaping) {
  struct app_metrics *m;
  char *t, name[16];
  int i;
  ck_assert_int_eq(app_metrics_new(&m), 0);
  ck_assert_int_eq(app_metrics_inc(m, APP_M_SOCKETS, NULL), -1);
  ck_assert_int_eq(app_metrics_inc(m, APP_M_HANDSHAKES, "x"), -1);
  ck_assert_int_eq(app_metrics_inc(m, APP_M_COUNT, NULL), -1);
  ck_assert_int_eq(app_metrics_inc(m, (enum app_metric) - 1, NULL), -1);
  ck_assert_int_eq(app_metrics_inc(m, APP_M_DISCONNECTS, "a\"b\\c\nd"), 0);
  t = render(m);
  ck_assert_ptr_nonnull(
      strstr(t, "sio_disconnects_total{reason=\"a\\\"b\\\\c\\nd\"} 1\n"));
  free(t);
  /* bounded number of series */
  for (i = 1; i < APP_METRICS_MAX_SERIES; i++) {
    snprintf(name, sizeof(name), "r%d", i);
    ck_assert_int_eq(app_metrics_inc(m, APP_M_DISCONNECTS, name), 0);
  }
  ck_assert_int_eq(app_metrics_inc(m, APP_M_DISCONNECTS, "one-too-many"), -1);
  ck_assert_int_eq(app_metrics_inc(m, APP_M_DISCONNECTS, "r7"), 0);
  app_metrics_del(m);
  app_metrics_del(NULL);
}
END_TEST

START_TEST(number_formats) {
  static const struct {
    double v;
    const char *text;
  } cases[] = {
      {0, "0"},           {3, "3"},
      {-2, "-2"},         {0.5, "0.5"},
      {0.1, "0.1"},       {1e21, "1e+21"},
      {123.25, "123.25"}, {1.0 / 3, "0.3333333333333333"},
  };
  size_t i;
  for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
    struct app_metrics *m;
    char want[64], *t;
    ck_assert_int_eq(app_metrics_new(&m), 0);
    app_metrics_set(m, APP_M_REDIS_LATENCY, NULL, cases[i].v);
    t = render(m);
    snprintf(want, sizeof(want), "\nsio_redis_latency_seconds %s\n",
             cases[i].text);
    ck_assert_msg(strstr(t, want) != NULL, "%s", want);
    free(t);
    app_metrics_del(m);
  }
}
END_TEST

/* The loops' registries summed: a copy holds the same series, a merge
 * adds each (creating those missing); the copy is independent. */
START_TEST(merge_and_copy) {
  struct app_metrics *a, *b, *c;
  ck_assert_int_eq(app_metrics_new(&a), 0);
  ck_assert_int_eq(app_metrics_new(&b), 0);
  app_metrics_inc(a, APP_M_DISCONNECTS, "transport close");
  app_metrics_add(a, APP_M_LIMIT_HITS, APP_LIMIT_EVENT_RATE, 3);
  app_metrics_inc(b, APP_M_DISCONNECTS, "transport close");
  app_metrics_inc(b, APP_M_DISCONNECTS, "ping timeout");
  app_metrics_inc(b, APP_M_LOOP_UP, "1");
  c = app_metrics_copy(a);
  ck_assert_ptr_nonnull(c);
  app_metrics_inc(a, APP_M_DISCONNECTS, "transport close");
  ck_assert(app_metrics_get(c, APP_M_DISCONNECTS, "transport close") == 1);
  ck_assert_int_eq(app_metrics_merge(c, b), 0);
  ck_assert(app_metrics_get(c, APP_M_DISCONNECTS, "transport close") == 2);
  ck_assert(app_metrics_get(c, APP_M_DISCONNECTS, "ping timeout") == 1);
  ck_assert(app_metrics_get(c, APP_M_LIMIT_HITS, APP_LIMIT_EVENT_RATE) == 3);
  ck_assert(app_metrics_get(c, APP_M_LOOP_UP, "1") == 1);
  ck_assert(app_metrics_get(b, APP_M_LIMIT_HITS, APP_LIMIT_EVENT_RATE) == 0);
  app_metrics_del(a);
  app_metrics_del(b);
  app_metrics_del(c);
}
END_TEST

START_TEST(process_figures) {
  struct app_process_stats ps;
  struct app_metrics *m;
  char *t;
  double now = (double)time(NULL);
  ck_assert_int_eq(app_process_stats_read(&ps), 0);
  ck_assert_uint_gt(ps.resident_bytes, 0);
  ck_assert_uint_ge(ps.virtual_bytes, ps.resident_bytes);
  ck_assert_uint_ge(ps.open_fds, 3);
  ck_assert(ps.cpu_seconds >= 0);
  ck_assert(ps.start_time_s > now - 3600 && ps.start_time_s < now + 5);
  ck_assert_int_eq(app_metrics_new(&m), 0);
  t = app_metrics_render(m, &ps, NULL);
  ck_assert_ptr_nonnull(strstr(t, "# TYPE process_cpu_seconds_total counter\n"
                                  "process_cpu_seconds_total "));
  ck_assert_ptr_nonnull(strstr(t, "\nprocess_resident_memory_bytes "));
  ck_assert_ptr_nonnull(strstr(t, "\nprocess_open_fds "));
  ck_assert_ptr_nonnull(strstr(t, "\nprocess_start_time_seconds "));
  free(t);
  app_metrics_del(m);
}
END_TEST

Suite *app_metrics_suite(void) {
  Suite *s = suite_create("app_metrics");
  TCase *tc = tcase_create("core");
  tcase_add_test(tc, spec_names_present);
  tcase_add_test(tc, counters_and_exact_text);
  tcase_add_test(tc, label_rules_and_escaping);
  tcase_add_test(tc, number_formats);
  tcase_add_test(tc, merge_and_copy);
  tcase_add_test(tc, process_figures);
  suite_add_tcase(s, tc);
  return s;
}
