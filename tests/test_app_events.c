/* Unit tests of src/app/app_events.c: the 22-type catalog, the envelope
 * (with injected random bytes and time), connection.* data, and validation
 * of POST /api/v1/emit bodies. docs/events.md is compared with the table in
 * test_app_config.c (generated_files_match). */
#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "app_events.h"
#include "check_suites.h"

static const char *json_text(json_object *o) {
  return json_object_to_json_string_ext(o, JSON_C_TO_STRING_PLAIN |
                                               JSON_C_TO_STRING_NOSLASHESCAPE);
}

static const char *spec_types[] = {
    "project.updated",
    "project.deleted",
    "agent.status_changed",
    "agent.connected",
    "agent.disconnected",
    "workflow.started",
    "workflow.progress",
    "workflow.completed",
    "workflow.failed",
    "pr.created",
    "pr.updated",
    "pr.closed",
    "issue.created",
    "issue.updated",
    "issue.closed",
    "ai.suggestion",
    "ai.analysis_complete",
    "task_status_update",
    "agent_activity_update",
    "calendar_event_created",
    "connection.established",
    "connection.error",
};

START_TEST(catalog_matches_spec) {
  size_t i, j, server_only = 0;
  ck_assert_uint_eq(app_event_ntypes, 22);
  ck_assert_uint_eq(sizeof(spec_types) / sizeof(spec_types[0]), 22);
  for (i = 0; i < app_event_ntypes; i++) {
    const struct app_event_type *t = &app_event_types[i];
    ck_assert_str_eq(t->name, spec_types[i]);
    ck_assert_ptr_eq(app_event_find(spec_types[i]), t);
    ck_assert_uint_gt(strlen(t->summary), 0);
    ck_assert_uint_gt(strlen(t->room), 0);
    ck_assert_uint_gt(t->n_fields, 0);
    for (j = 0; j < t->n_fields; j++) {
      ck_assert_uint_gt(strlen(t->fields[j].name), 0);
      ck_assert_uint_gt(strlen(t->fields[j].type), 0);
      ck_assert_uint_gt(strlen(t->fields[j].desc), 0);
    }
    if (t->server_only)
      server_only++;
  }
  ck_assert_uint_eq(server_only, 2);
  ck_assert(app_event_find("connection.established")->server_only);
  ck_assert(app_event_find("connection.error")->server_only);
  ck_assert_ptr_null(app_event_find("project.Updated"));
  ck_assert_ptr_null(app_event_find(NULL));
}
END_TEST

START_TEST(envelope) {
  uint8_t rnd[16];
  char id[37];
  json_object *data = json_tokener_parse("{\"project_id\":\"42\"}");
  json_object *e;
  size_t i;
  for (i = 0; i < 16; i++)
    rnd[i] = (uint8_t)(i * 17);
  e = app_event_envelope("project.updated", data, rnd, 1700000000123ULL, id);
  ck_assert_str_eq(id, "00112233-4455-4677-8899-aabbccddeeff");
  ck_assert_str_eq(json_text(e),
                   "{\"event_id\":\"00112233-4455-4677-8899-aabbccddeeff\","
                   "\"type\":\"project.updated\","
                   "\"timestamp\":\"2023-11-14T22:13:20.123Z\","
                   "\"data\":{\"project_id\":\"42\"}}");
  json_object_put(e);
  memset(rnd, 0xff, sizeof(rnd));
  e = app_event_envelope("x", NULL, rnd, 0, NULL);
  ck_assert_str_eq(json_text(e),
                   "{\"event_id\":\"ffffffff-ffff-4fff-bfff-ffffffffffff\","
                   "\"type\":\"x\",\"timestamp\":\"1970-01-01T00:00:00.000Z\","
                   "\"data\":{}}");
  json_object_put(e);
}
END_TEST

START_TEST(connection_data) {
  const char *rooms[] = {"global", "user:u1"};
  json_object *o =
      app_event_established_data("SID", "u1", rooms, 2, "node-a-12");
  ck_assert_str_eq(json_text(o),
                   "{\"sid\":\"SID\",\"user_id\":\"u1\",\"rooms\":[\"global\","
                   "\"user:u1\"],\"server_id\":\"node-a-12\"}");
  json_object_put(o);
  o = app_event_error_data("rate_limited", "slow down");
  ck_assert_str_eq(json_text(o),
                   "{\"code\":\"rate_limited\",\"message\":\"slow down\"}");
  json_object_put(o);
}
END_TEST

static int parse(const char *text, struct app_publish *p, char *err) {
  return app_event_parse_publish_text(text, strlen(text), p, err, 200);
}

START_TEST(publish_ok) {
  struct app_publish p;
  char err[200];
  ck_assert_int_eq(
      parse("{\"rooms\":[\"project:42\",\"user:u1\",\"project:42\"],"
            "\"event\":\"workflow.progress\",\"data\":{\"progress\":40}}  \n",
            &p, err),
      0);
  ck_assert_str_eq(p.type->name, "workflow.progress");
  ck_assert_uint_eq(p.n_rooms, 2);
  ck_assert_str_eq(p.rooms[0], "project:42");
  ck_assert_str_eq(p.rooms[1], "user:u1");
  ck_assert_ptr_null(p.rooms[2]);
  ck_assert_str_eq(json_text(p.data), "{\"progress\":40}");
  app_publish_deinit(&p);
  ck_assert_int_eq(
      parse("{\"event\":\"pr.closed\",\"rooms\":[\"global\"]}", &p, err), 0);
  ck_assert_str_eq(json_text(p.data), "{}");
  app_publish_deinit(&p);
  app_publish_deinit(&p); /* idempotent */
}
END_TEST

START_TEST(publish_errors) {
  static const struct {
    const char *body, *msg;
  } cases[] = {
      {"", "body is not valid JSON"},
      {"{", "body is not valid JSON"},
      {"{} x", "body is not valid JSON"},
      {"[1]", "body must be a JSON object"},
      {"{\"rooms\":[\"global\"],\"event\":\"pr.closed\",\"extra\":1}",
       "unknown member \"extra\""},
      {"{\"rooms\":[\"global\"]}", "event: required"},
      {"{\"rooms\":[\"global\"],\"event\":7}", "event: required"},
      {"{\"rooms\":[\"global\"],\"event\":\"pr.merged\"}",
       "event: unknown type \"pr.merged\""},
      {"{\"rooms\":[\"global\"],\"event\":\"connection.established\"}",
       "event: connection.established is sent by the server only"},
      {"{\"rooms\":[\"global\"],\"event\":\"connection.error\"}",
       "event: connection.error is sent by the server only"},
      {"{\"event\":\"pr.closed\"}", "rooms: required"},
      {"{\"rooms\":[],\"event\":\"pr.closed\"}", "rooms: required"},
      {"{\"rooms\":\"global\",\"event\":\"pr.closed\"}", "rooms: required"},
      {"{\"rooms\":[\"global\",\"no way\"],\"event\":\"pr.closed\"}",
       "rooms[1]: not a valid room name"},
      {"{\"rooms\":[3],\"event\":\"pr.closed\"}",
       "rooms[0]: not a valid room name"},
      {"{\"rooms\":[\"global\"],\"event\":\"pr.closed\",\"data\":[]}",
       "data: must be a JSON object"},
      {"{\"rooms\":[\"global\"],\"event\":\"pr.closed\",\"data\":\"x\"}",
       "data: must be a JSON object"},
  };
  size_t i;
  for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
    struct app_publish p;
    char err[200] = "";
    ck_assert_msg(parse(cases[i].body, &p, err) == -1, "case %zu", i);
    ck_assert_msg(strncmp(err, cases[i].msg, strlen(cases[i].msg)) == 0,
                  "case %zu: got \"%s\"", i, err);
    ck_assert_ptr_null(p.rooms);
    ck_assert_ptr_null(p.data);
  }
}
END_TEST

/* Bodies json-c's tokener accepts but a client's JSON.parse refuses: each
 * relayed would make every client in the room drop with a parse error (and
 * recovery would replay it at each reconnect). */
START_TEST(publish_refuses_what_json_parse_refuses) {
  static const char *const data[] = {
      "{\"n\":1.}",          "{\"n\":.5}",      "{\"n\":01}",
      "{\"n\":-}",           "{\"n\":1e}",      "{\"n\":+1}",
      "{\"n\":NaN}",         "{\"n\":Infinity}", "{\"n\":-Infinity}",
      "{\"n\":0x10}",        "{\"a\":[1,]}",     "{\"a\":1,}",
      "{'a':1}",              "{\"a\":'x'}",      "{a:1}",
      "{\"a\":1/*c*/}",      "{\"a\":tru}",      "{\"a\":True}",
      "{\"s\":\"tab\there\"}", "{\"s\":\"\\x41\"}", "{\"s\":\"\\u12\"}",
      "{\"s\":\"\xff\"}",   "{\"s\":\"\xc0\xaf\"}", "{\"s\":\"\xed\xa0\x80\"}",
  };
  size_t i;
  for (i = 0; i < sizeof(data) / sizeof(data[0]); i++) {
    struct app_publish p;
    char body[200], err[200] = "";
    snprintf(body, sizeof(body),
             "{\"rooms\":[\"global\"],\"event\":\"project.updated\","
             "\"data\":%s}",
             data[i]);
    ck_assert_msg(parse(body, &p, err) == -1, "case %zu: %s accepted", i,
                  data[i]);
    ck_assert_msg(strcmp(err, "body is not valid JSON") == 0,
                  "case %zu: got \"%s\"", i, err);
    ck_assert_ptr_null(p.data);
  }
}
END_TEST

/* What JSON.parse accepts is accepted, numbers kept as written. */
START_TEST(publish_accepts_what_json_parse_accepts) {
  struct app_publish p;
  char err[200];
  ck_assert_int_eq(
      parse("{\"rooms\":[\"global\"],\"event\":\"project.updated\","
            "\"data\":{\"n\":-0.5e+3,\"s\":\"\\ud83d\\ude00 \xc3\xa9\","
            "\"z\":[]}}\r\n\t",
            &p, err),
      0);
  app_publish_deinit(&p);
}
END_TEST

START_TEST(publish_limits) {
  struct app_publish p;
  char err[200];
  size_t i, n = 0, cap = 64 * 1024;
  char *b = malloc(cap);
  n += (size_t)snprintf(b + n, cap - n, "{\"event\":\"pr.closed\",\"rooms\":[");
  for (i = 0; i <= APP_PUBLISH_MAX_ROOMS; i++)
    n += (size_t)snprintf(b + n, cap - n, "%s\"r%zu\"", i ? "," : "", i);
  snprintf(b + n, cap - n, "]}");
  ck_assert_int_eq(parse(b, &p, err), -1);
  ck_assert_ptr_nonnull(strstr(err, "at most"));
  /* nesting deeper than 32 is refused by the parser */
  n = (size_t)snprintf(b, cap,
                       "{\"event\":\"pr.closed\",\"rooms\":[\"g\"],\"data\":");
  for (i = 0; i < 40; i++)
    b[n++] = '[';
  for (i = 0; i < 40; i++)
    b[n++] = ']';
  b[n++] = '}';
  b[n] = '\0';
  ck_assert_int_eq(parse(b, &p, err), -1);
  ck_assert_str_eq(err, "body is nested too deeply");
  free(b);
}
END_TEST

START_TEST(events_markdown_lists_every_type) {
  char *md = app_events_markdown();
  size_t i, j;
  ck_assert_ptr_nonnull(md);
  for (i = 0; i < app_event_ntypes; i++) {
    char h[80];
    snprintf(h, sizeof(h), "\n## %s\n", app_event_types[i].name);
    ck_assert_msg(strstr(md, h) != NULL, "%s", h);
    for (j = 0; j < app_event_types[i].n_fields; j++) {
      char f[80];
      snprintf(f, sizeof(f), "| `%s` |", app_event_types[i].fields[j].name);
      ck_assert_msg(strstr(md, f) != NULL, "%s", f);
    }
  }
  free(md);
}
END_TEST

Suite *app_events_suite(void) {
  Suite *s = suite_create("app_events");
  TCase *tc = tcase_create("core");
  tcase_add_test(tc, catalog_matches_spec);
  tcase_add_test(tc, envelope);
  tcase_add_test(tc, connection_data);
  tcase_add_test(tc, publish_ok);
  tcase_add_test(tc, publish_errors);
  tcase_add_test(tc, publish_refuses_what_json_parse_refuses);
  tcase_add_test(tc, publish_accepts_what_json_parse_accepts);
  tcase_add_test(tc, publish_limits);
  tcase_add_test(tc, events_markdown_lists_every_type);
  suite_add_tcase(s, tc);
  return s;
}
