/* Unit tests of src/app/app_policy.c: room names, who may join what, and
 * the exact ack objects of subscribe / unsubscribe / ping (SPEC §3). */
#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "app_policy.h"
#include "check_suites.h"

static const char *json_text(json_object *o) {
  return json_object_to_json_string_ext(o, JSON_C_TO_STRING_PLAIN |
                                               JSON_C_TO_STRING_NOSLASHESCAPE);
}

/* Claims of user "u1": projects 42 and 7, agents all, not admin. */
static void claims_u1(struct app_claims *c) {
  static char *projects[] = {"42", "7"};
  memset(c, 0, sizeof(*c));
  c->sub = "u1";
  c->projects.ids = projects;
  c->projects.n = 2;
  c->agents.all = true;
}

struct cmd {
  struct app_claims claims;
  const char *rooms[8];
  size_t n;
  struct app_policy_ctx ctx;
};

static void cmd_init(struct cmd *k, size_t max_rooms) {
  memset(k, 0, sizeof(*k));
  claims_u1(&k->claims);
  k->rooms[k->n++] = "SID123";
  k->rooms[k->n++] = "global";
  k->rooms[k->n++] = "user:u1";
  k->ctx.claims = &k->claims;
  k->ctx.sid = "SID123";
  k->ctx.rooms = k->rooms;
  k->ctx.n_rooms = k->n;
  k->ctx.max_rooms = max_rooms;
}

static void cmd_add_room(struct cmd *k, const char *room) {
  k->rooms[k->n++] = room;
  k->ctx.n_rooms = k->n;
}

/* Runs subscribe (sub = 1) or unsubscribe with payload text; checks the ack
 * text and returns the number of rooms to apply (first in *first). */
static size_t run(struct cmd *k, int sub, const char *payload,
                  const char *want_ack, const char **first) {
  struct app_policy_result r;
  json_object *p = payload ? json_tokener_parse(payload) : NULL;
  size_t n;
  static char first_buf[160];
  if (payload)
    ck_assert_msg(p != NULL, "bad test payload %s", payload);
  ck_assert_int_eq(sub ? app_policy_subscribe(&k->ctx, p, &r)
                       : app_policy_unsubscribe(&k->ctx, p, &r),
                   0);
  ck_assert_str_eq(json_text(r.ack), want_ack);
  n = r.n_rooms;
  ck_assert_ptr_nonnull(r.rooms);
  ck_assert_ptr_null(r.rooms[n]);
  if (first) {
    snprintf(first_buf, sizeof(first_buf), "%s", n ? r.rooms[0] : "");
    *first = first_buf;
  }
  app_policy_result_deinit(&r);
  json_object_put(p);
  return n;
}

/* Same, for an error ack: checks the code only. */
static void run_err(struct cmd *k, int sub, const char *payload,
                    const char *code) {
  struct app_policy_result r;
  json_object *p = payload ? json_tokener_parse(payload) : NULL, *e, *c, *ok,
              *m;
  ck_assert_int_eq(sub ? app_policy_subscribe(&k->ctx, p, &r)
                       : app_policy_unsubscribe(&k->ctx, p, &r),
                   0);
  ck_assert_msg(json_object_object_get_ex(r.ack, "ok", &ok) &&
                    !json_object_get_boolean(ok),
                "%s", json_text(r.ack));
  ck_assert(json_object_object_get_ex(r.ack, "error", &e));
  ck_assert(json_object_object_get_ex(e, "code", &c));
  ck_assert(json_object_object_get_ex(e, "message", &m));
  ck_assert_uint_gt(strlen(json_object_get_string(m)), 0);
  ck_assert_msg(strcmp(json_object_get_string(c), code) == 0,
                "payload %s: got %s", payload ? payload : "NULL",
                json_text(r.ack));
  ck_assert_uint_eq(r.n_rooms, 0);
  ck_assert_uint_eq(json_object_object_length(r.ack), 2);
  app_policy_result_deinit(&r);
  json_object_put(p);
}

START_TEST(room_names) {
  char name[130];
  memset(name, 'a', sizeof(name));
  ck_assert(app_room_name_valid("project:42", 10));
  ck_assert(app_room_name_valid("a-b_c.d:E9", 10));
  ck_assert(app_room_name_valid(name, 128));
  ck_assert(!app_room_name_valid(name, 129));
  ck_assert(!app_room_name_valid("", 0));
  ck_assert(!app_room_name_valid("a b", 3));
  ck_assert(!app_room_name_valid("a/b", 3));
  ck_assert(!app_room_name_valid("caf\xc3\xa9", 5));
  ck_assert(!app_room_name_valid("a\0b", 3));
}
END_TEST

START_TEST(room_kinds) {
  const char *id;
  size_t n;
  ck_assert_int_eq(app_room_kind("global", NULL, NULL), APP_ROOM_GLOBAL);
  ck_assert_int_eq(app_room_kind("user:u1", &id, &n), APP_ROOM_USER);
  ck_assert_str_eq(id, "u1");
  ck_assert_int_eq(app_room_kind("project:42", &id, &n), APP_ROOM_PROJECT);
  ck_assert_uint_eq(n, 2);
  ck_assert_int_eq(app_room_kind("agent:", &id, &n), APP_ROOM_AGENT);
  ck_assert_uint_eq(n, 0);
  ck_assert_int_eq(app_room_kind("team:1", NULL, NULL), APP_ROOM_OTHER);
  ck_assert_int_eq(app_room_kind("globalx", NULL, NULL), APP_ROOM_OTHER);
}
END_TEST

START_TEST(may_join) {
  struct app_claims c, admin;
  char buf[16];
  claims_u1(&c);
  claims_u1(&admin);
  admin.admin = true;
  admin.projects.n = 0;
  admin.agents.all = false;
  ck_assert_int_eq(app_policy_may_join(&c, "global"), APP_POLICY_ALLOW);
  ck_assert_int_eq(app_policy_may_join(&c, "user:u1"), APP_POLICY_ALLOW);
  ck_assert_int_eq(app_policy_may_join(&c, "user:u2"), APP_POLICY_FORBIDDEN);
  ck_assert_int_eq(app_policy_may_join(&c, "user:u10"), APP_POLICY_FORBIDDEN);
  ck_assert_int_eq(app_policy_may_join(&c, "project:42"), APP_POLICY_ALLOW);
  ck_assert_int_eq(app_policy_may_join(&c, "project:4"), APP_POLICY_FORBIDDEN);
  ck_assert_int_eq(app_policy_may_join(&c, "agent:x"), APP_POLICY_ALLOW);
  ck_assert_int_eq(app_policy_may_join(&c, "project:"), APP_POLICY_INVALID);
  ck_assert_int_eq(app_policy_may_join(&c, "project: 4"), APP_POLICY_INVALID);
  ck_assert_int_eq(app_policy_may_join(&c, "team:1"), APP_POLICY_FORBIDDEN);
  ck_assert_int_eq(app_policy_may_join(&c, NULL), APP_POLICY_INVALID);
  /* admin: every project and agent, never another user's room */
  ck_assert_int_eq(app_policy_may_join(&admin, "project:999"),
                   APP_POLICY_ALLOW);
  ck_assert_int_eq(app_policy_may_join(&admin, "agent:a"), APP_POLICY_ALLOW);
  ck_assert_int_eq(app_policy_may_join(&admin, "user:u2"),
                   APP_POLICY_FORBIDDEN);
  ck_assert_int_eq(app_policy_user_room("u1", buf, sizeof(buf)), 0);
  ck_assert_str_eq(buf, "user:u1");
  ck_assert_int_eq(app_policy_user_room("0123456789abc", buf, sizeof(buf)), -1);
}
END_TEST

START_TEST(subscribe_ok_shapes) {
  struct cmd k;
  const char *first;
  cmd_init(&k, 100);
  ck_assert_uint_eq(run(&k, 1, "{\"room\":\"project:42\"}",
                        "{\"ok\":true,\"rooms\":[\"project:42\"]}", &first),
                    1);
  ck_assert_str_eq(first, "project:42");
  ck_assert_uint_eq(
      run(&k, 1, "{\"rooms\":[\"project:42\",\"agent:a\",\"project:42\"]}",
          "{\"ok\":true,\"rooms\":[\"project:42\",\"agent:a\"]}", NULL),
      2);
  /* bare string and bare array */
  ck_assert_uint_eq(run(&k, 1, "\"project:7\"",
                        "{\"ok\":true,\"rooms\":[\"project:7\"]}", NULL),
                    1);
  ck_assert_uint_eq(run(&k, 1, "[\"agent:b\"]",
                        "{\"ok\":true,\"rooms\":[\"agent:b\"]}", NULL),
                    1);
  /* already joined rooms are acknowledged but not joined again */
  cmd_add_room(&k, "project:42");
  ck_assert_uint_eq(
      run(&k, 1, "{\"rooms\":[\"global\",\"user:u1\",\"project:42\"]}",
          "{\"ok\":true,\"rooms\":[\"global\",\"user:u1\",\"project:42\"]}",
          NULL),
      0);
}
END_TEST

START_TEST(subscribe_errors_all_or_nothing) {
  struct cmd k;
  cmd_init(&k, 100);
  run_err(&k, 1, "{\"rooms\":[\"project:42\",\"project:5\"]}", "forbidden");
  run_err(&k, 1, "{\"room\":\"user:u2\"}", "forbidden");
  run_err(&k, 1, "{\"room\":\"team:1\"}", "forbidden");
  run_err(&k, 1, "{\"rooms\":[\"project:42\",\"bad room\"]}", "invalid_room");
  run_err(&k, 1, "{\"room\":\"\"}", "invalid_room");
  run_err(&k, 1, "{\"room\":\"agent:\"}", "invalid_room");
  {
    struct app_policy_result r;
    json_object *p = json_tokener_parse("{\"room\":\"project:5\"}");
    ck_assert_int_eq(app_policy_subscribe(&k.ctx, p, &r), 0);
    ck_assert_str_eq(json_text(r.ack),
                     "{\"ok\":false,\"error\":{\"code\":\"forbidden\","
                     "\"message\":\"not allowed to join \\\"project:5\\\"\"}}");
    app_policy_result_deinit(&r);
    json_object_put(p);
  }
}
END_TEST

START_TEST(bad_payloads) {
  static const char *bad[] = {
      "5",
      "true",
      "{}",
      "{\"room\":5}",
      "{\"rooms\":\"project:42\"}",
      "{\"rooms\":[]}",
      "[]",
      "{\"rooms\":[1]}",
      "[\"project:42\",null]",
      "{\"room\":\"project:42\",\"rooms\":[\"project:7\"]}",
      "{\"name\":\"project:42\"}",
  };
  struct cmd k;
  size_t i;
  cmd_init(&k, 100);
  run_err(&k, 1, NULL, "bad_request");
  run_err(&k, 0, NULL, "bad_request");
  for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
    run_err(&k, 1, bad[i], "bad_request");
    run_err(&k, 0, bad[i], "bad_request");
  }
}
END_TEST

START_TEST(batch_bound) {
  struct cmd k;
  struct app_policy_result r;
  json_object *a = json_object_new_array();
  int i;
  cmd_init(&k, 0);
  for (i = 0; i <= APP_POLICY_MAX_BATCH; i++)
    json_object_array_add(a, json_object_new_string("project:42"));
  ck_assert_int_eq(app_policy_subscribe(&k.ctx, a, &r), 0);
  ck_assert_ptr_nonnull(strstr(json_text(r.ack), "bad_request"));
  app_policy_result_deinit(&r);
  json_object_put(a);
}
END_TEST

/* subscribe's "since": copied into the result when it is an event id, a
 * bad_request otherwise; unsubscribe and the other shapes never have one. */
START_TEST(subscribe_since) {
  static const char *bad[] = {
      "{\"room\":\"project:42\",\"since\":5}",
      "{\"room\":\"project:42\",\"since\":\"\"}",
      "{\"room\":\"project:42\",\"since\":[\"a\"]}",
      "{\"room\":\"project:42\",\"since\":{}}",
  };
  struct cmd k;
  struct app_policy_result r;
  json_object *p;
  char big[APP_POLICY_SINCE_MAX + 40];
  size_t i;
  cmd_init(&k, 100);
  p = json_tokener_parse("{\"rooms\":[\"project:42\"],\"since\":\"e-1\"}");
  ck_assert_int_eq(app_policy_subscribe(&k.ctx, p, &r), 0);
  ck_assert_str_eq(json_text(r.ack),
                   "{\"ok\":true,\"rooms\":[\"project:42\"]}");
  ck_assert_str_eq(r.since, "e-1");
  app_policy_result_deinit(&r);
  ck_assert_ptr_null(r.since);
  json_object_put(p);
  /* null: no since; a forbidden room with since: no since either */
  p = json_tokener_parse("{\"room\":\"project:42\",\"since\":null}");
  ck_assert_int_eq(app_policy_subscribe(&k.ctx, p, &r), 0);
  ck_assert_ptr_null(r.since);
  app_policy_result_deinit(&r);
  json_object_put(p);
  p = json_tokener_parse("{\"room\":\"project:5\",\"since\":\"e-1\"}");
  ck_assert_int_eq(app_policy_subscribe(&k.ctx, p, &r), 0);
  ck_assert_ptr_null(r.since);
  app_policy_result_deinit(&r);
  json_object_put(p);
  for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
    run_err(&k, 1, bad[i], "bad_request");
  snprintf(big, sizeof(big), "{\"room\":\"global\",\"since\":\"%0*d\"}",
           APP_POLICY_SINCE_MAX + 1, 0);
  run_err(&k, 1, big, "bad_request");
  p = json_tokener_parse("{\"room\":\"project:42\",\"since\":\"e-1\"}");
  ck_assert_int_eq(app_policy_unsubscribe(&k.ctx, p, &r), 0);
  ck_assert_ptr_null(r.since);
  app_policy_result_deinit(&r);
  json_object_put(p);
}
END_TEST

START_TEST(room_limit) {
  struct cmd k;
  cmd_init(&k, 2); /* sid, global and user:u1 are not counted */
  cmd_add_room(&k, "project:42");
  ck_assert_uint_eq(run(&k, 1, "{\"room\":\"project:7\"}",
                        "{\"ok\":true,\"rooms\":[\"project:7\"]}", NULL),
                    1);
  run_err(&k, 1, "{\"rooms\":[\"project:7\",\"agent:a\"]}", "limit");
  /* re-subscribing to joined rooms does not count */
  ck_assert_uint_eq(run(&k, 1, "{\"rooms\":[\"project:42\",\"global\"]}",
                        "{\"ok\":true,\"rooms\":[\"project:42\",\"global\"]}",
                        NULL),
                    0);
  cmd_add_room(&k, "project:7");
  run_err(&k, 1, "{\"room\":\"agent:a\"}", "limit");
  k.ctx.max_rooms = 0; /* unlimited */
  ck_assert_uint_eq(run(&k, 1, "{\"room\":\"agent:a\"}",
                        "{\"ok\":true,\"rooms\":[\"agent:a\"]}", NULL),
                    1);
}
END_TEST

START_TEST(unsubscribe) {
  struct cmd k;
  const char *first;
  cmd_init(&k, 100);
  cmd_add_room(&k, "project:42");
  ck_assert_uint_eq(run(&k, 0, "{\"room\":\"project:42\"}",
                        "{\"ok\":true,\"rooms\":[\"project:42\"]}", &first),
                    1);
  ck_assert_str_eq(first, "project:42");
  /* not joined: still ok, nothing to leave */
  ck_assert_uint_eq(run(&k, 0, "{\"rooms\":[\"project:9\",\"user:u2\"]}",
                        "{\"ok\":true,\"rooms\":[\"project:9\",\"user:u2\"]}",
                        NULL),
                    0);
  ck_assert_uint_eq(
      run(&k, 0, "\"global\"", "{\"ok\":true,\"rooms\":[\"global\"]}", NULL),
      1);
  run_err(&k, 0, "{\"room\":\"user:u1\"}", "forbidden");
  run_err(&k, 0, "{\"rooms\":[\"project:42\",\"user:u1\"]}", "forbidden");
  run_err(&k, 0, "{\"room\":\"SID123\"}", "forbidden");
  run_err(&k, 0, "{\"room\":\"bad/room\"}", "invalid_room");
  run_err(&k, 0, "{\"room\":\"project:\"}", "invalid_room");
}
END_TEST

START_TEST(ping_and_acks) {
  json_object *o = app_policy_ping_ack(1700000000123LL);
  const char *rooms[] = {"a", "b"};
  ck_assert_str_eq(json_text(o), "{\"pong\":true,\"ts\":1700000000123}");
  json_object_put(o);
  o = app_policy_error_ack("rate_limited", "too many events");
  ck_assert_str_eq(json_text(o),
                   "{\"ok\":false,\"error\":{\"code\":\"rate_limited\","
                   "\"message\":\"too many events\"}}");
  json_object_put(o);
  o = app_policy_ok_ack(rooms, 2);
  ck_assert_str_eq(json_text(o), "{\"ok\":true,\"rooms\":[\"a\",\"b\"]}");
  json_object_put(o);
  o = app_policy_ok_ack(NULL, 0);
  ck_assert_str_eq(json_text(o), "{\"ok\":true,\"rooms\":[]}");
  json_object_put(o);
}
END_TEST

Suite *app_policy_suite(void) {
  Suite *s = suite_create("app_policy");
  TCase *tc = tcase_create("core");
  tcase_add_test(tc, room_names);
  tcase_add_test(tc, room_kinds);
  tcase_add_test(tc, may_join);
  tcase_add_test(tc, subscribe_ok_shapes);
  tcase_add_test(tc, subscribe_errors_all_or_nothing);
  tcase_add_test(tc, bad_payloads);
  tcase_add_test(tc, batch_bound);
  tcase_add_test(tc, subscribe_since);
  tcase_add_test(tc, room_limit);
  tcase_add_test(tc, unsubscribe);
  tcase_add_test(tc, ping_and_acks);
  suite_add_tcase(s, tc);
  return s;
}
