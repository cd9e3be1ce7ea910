/* app_events.c: the catalog of the 22 event types, in one table, with what
 * each carries and where it usually goes; the envelope builder; and the
 * validation of POST /api/v1/emit bodies against the catalog. The table is
 * the single source for docs/events.md (gen_config_docs prints it), for the
 * list of publishable types, and for the server-only ones. Randomness and
 * time are parameters, so envelopes are reproducible in tests. The `fields`
 * are the contract between backends and clients as documented; the server
 * itself only requires data to be an object and forwards it unchanged. */
#include "app_events.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <sio/sio_json.h>

#include "app_policy.h"
#include "app_util.h"

#define FIELDS(...)                                                            \
  .fields = (const struct app_event_field[]){__VA_ARGS__},                     \
  .n_fields = sizeof((const struct app_event_field[]){__VA_ARGS__}) /          \
              sizeof(struct app_event_field)

#define REQ true
#define OPT false

const struct app_event_type app_event_types[] = {
    {.name = "project.updated",
     .summary = "A project's settings or metadata changed.",
     .room = "project:<project_id>",
     FIELDS(
         {"project_id", "string", REQ, "the project"},
         {"changes", "object", REQ, "changed attributes and their new values"},
         {"updated_by", "string", OPT, "user id of the author"})},
    {.name = "project.deleted",
     .summary = "A project was deleted; clients should leave its room.",
     .room = "project:<project_id>",
     FIELDS({"project_id", "string", REQ, "the project"},
            {"deleted_by", "string", OPT, "user id of the author"})},
    {.name = "agent.status_changed",
     .summary = "An agent's status changed.",
     .room = "agent:<agent_id>",
     FIELDS({"agent_id", "string", REQ, "the agent"},
            {"status", "string", REQ,
             "new status, e.g. idle, busy, offline, error"},
            {"previous_status", "string", OPT, "status before the change"},
            {"project_id", "string", OPT, "project the agent works on"})},
    {.name = "agent.connected",
     .summary = "An agent came online.",
     .room = "agent:<agent_id>",
     FIELDS({"agent_id", "string", REQ, "the agent"},
            {"project_id", "string", OPT, "project the agent works on"},
            {"version", "string", OPT, "agent software version"})},
    {.name = "agent.disconnected",
     .summary = "An agent went offline.",
     .room = "agent:<agent_id>",
     FIELDS({"agent_id", "string", REQ, "the agent"},
            {"reason", "string", OPT, "why, when known"})},
    {.name = "workflow.started",
     .summary = "A workflow run began.",
     .room = "project:<project_id>",
     FIELDS({"workflow_id", "string", REQ, "the run"},
            {"project_id", "string", REQ, "the project"},
            {"name", "string", OPT, "workflow name"},
            {"triggered_by", "string", OPT, "user or agent id"})},
    {.name = "workflow.progress",
     .summary = "A running workflow reports progress.",
     .room = "project:<project_id>",
     FIELDS({"workflow_id", "string", REQ, "the run"},
            {"project_id", "string", REQ, "the project"},
            {"progress", "number", OPT, "percent done, 0 to 100"},
            {"step", "string", OPT, "current step"},
            {"message", "string", OPT, "human-readable status"})},
    {.name = "workflow.completed",
     .summary = "A workflow run finished successfully.",
     .room = "project:<project_id>",
     FIELDS({"workflow_id", "string", REQ, "the run"},
            {"project_id", "string", REQ, "the project"},
            {"duration_ms", "integer", OPT, "run time"},
            {"result", "object", OPT, "workflow-specific output"})},
    {.name = "workflow.failed",
     .summary = "A workflow run failed.",
     .room = "project:<project_id>",
     FIELDS({"workflow_id", "string", REQ, "the run"},
            {"project_id", "string", REQ, "the project"},
            {"error", "string", REQ, "what went wrong"},
            {"step", "string", OPT, "step that failed"})},
    {.name = "pr.created",
     .summary = "A pull request was opened.",
     .room = "project:<project_id>",
     FIELDS({"project_id", "string", REQ, "the project"},
            {"number", "integer", REQ, "pull request number"},
            {"title", "string", REQ, "title"},
            {"url", "string", OPT, "link to the pull request"},
            {"author", "string", OPT, "author's login or user id"})},
    {.name = "pr.updated",
     .summary = "A pull request changed (commits, title, review state).",
     .room = "project:<project_id>",
     FIELDS({"project_id", "string", REQ, "the project"},
            {"number", "integer", REQ, "pull request number"},
            {"changes", "object", OPT, "changed attributes"},
            {"url", "string", OPT, "link to the pull request"})},
    {.name = "pr.closed",
     .summary = "A pull request was merged or closed.",
     .room = "project:<project_id>",
     FIELDS({"project_id", "string", REQ, "the project"},
            {"number", "integer", REQ, "pull request number"},
            {"merged", "boolean", REQ, "true when merged"},
            {"url", "string", OPT, "link to the pull request"})},
    {.name = "issue.created",
     .summary = "An issue was opened.",
     .room = "project:<project_id>",
     FIELDS({"project_id", "string", REQ, "the project"},
            {"number", "integer", REQ, "issue number"},
            {"title", "string", REQ, "title"},
            {"url", "string", OPT, "link to the issue"},
            {"author", "string", OPT, "author's login or user id"})},
    {.name = "issue.updated",
     .summary = "An issue changed (title, labels, assignees, comments).",
     .room = "project:<project_id>",
     FIELDS({"project_id", "string", REQ, "the project"},
            {"number", "integer", REQ, "issue number"},
            {"changes", "object", OPT, "changed attributes"})},
    {.name = "issue.closed",
     .summary = "An issue was closed.",
     .room = "project:<project_id>",
     FIELDS({"project_id", "string", REQ, "the project"},
            {"number", "integer", REQ, "issue number"},
            {"reason", "string", OPT, "completed or not_planned"})},
    {.name = "ai.suggestion",
     .summary = "An AI assistant suggests something to a user or project.",
     .room = "user:<sub> or project:<project_id>",
     FIELDS({"suggestion_id", "string", REQ, "the suggestion"},
            {"kind", "string", OPT, "e.g. code, review, task"},
            {"content", "string", REQ, "the suggestion text"},
            {"project_id", "string", OPT, "project it concerns"},
            {"target", "object", OPT,
             "what it applies to (file, issue, pull request)"})},
    {.name = "ai.analysis_complete",
     .summary = "An AI analysis finished.",
     .room = "project:<project_id>",
     FIELDS({"analysis_id", "string", REQ, "the analysis"},
            {"project_id", "string", REQ, "the project"},
            {"summary", "string", OPT, "short result"},
            {"result", "object", OPT, "full result"})},
    {.name = "task_status_update",
     .summary = "A task's status changed.",
     .room = "project:<project_id>",
     FIELDS({"task_id", "string", REQ, "the task"},
            {"project_id", "string", REQ, "the project"},
            {"status", "string", REQ, "new status"},
            {"previous_status", "string", OPT, "status before the change"},
            {"assignee", "string", OPT, "user or agent id"})},
    {.name = "agent_activity_update",
     .summary = "What an agent is doing now.",
     .room = "agent:<agent_id>",
     FIELDS({"agent_id", "string", REQ, "the agent"},
            {"activity", "string", REQ, "short description"},
            {"project_id", "string", OPT, "project concerned"},
            {"details", "object", OPT, "activity-specific data"})},
    {.name = "calendar_event_created",
     .summary = "A calendar event was created for a user.",
     .room = "user:<sub>",
     FIELDS({"calendar_event_id", "string", REQ, "the calendar entry"},
            {"title", "string", REQ, "title"},
            {"start", "string (ISO-8601)", REQ, "start time"},
            {"end", "string (ISO-8601)", OPT, "end time"},
            {"attendees", "array", OPT, "user ids"})},
    {.name = APP_EVENT_CONNECTION_ESTABLISHED,
     .summary = "Sent by the server to a socket right after it connects.",
     .room = "(the socket itself)",
     .server_only = true,
     FIELDS(
         {"sid", "string", REQ, "the socket id"},
         {"user_id", "string", REQ, "the token's sub"},
         {"rooms", "array", REQ, "rooms the socket is in (global, user:<sub>)"},
         {"server_id", "string", REQ, "the instance (server.id)"},
         {"replayed", "integer", OPT,
          "when the client presented a last_event_id: the missed events "
          "that follow this one"},
         {"complete", "boolean", OPT,
          "with replayed: false when events may be missing (the id is no "
          "longer in the history): refetch your state"})},
    {.name = APP_EVENT_CONNECTION_ERROR,
     .summary = "Sent by the server before it closes a socket for a reason "
                "the client should see.",
     .room = "(the socket itself)",
     .server_only = true,
     FIELDS({"code", "string", REQ,
             "rate_limited, token_expired, slow_consumer, server_shutdown"},
            {"message", "string", REQ, "human-readable reason"})},
};

const size_t app_event_ntypes = APP_ARRLEN(app_event_types);

_Static_assert(APP_ARRLEN(app_event_types) == APP_EVENT_COUNT,
               "the catalog has 22 types");

const struct app_event_type *app_event_find(const char *name) {
  size_t i;
  if (!name)
    return NULL;
  for (i = 0; i < app_event_ntypes; i++)
    if (strcmp(app_event_types[i].name, name) == 0)
      return &app_event_types[i];
  return NULL;
}

/* ------------------------------------------------------------- envelope */

json_object *app_event_envelope(const char *type, json_object *data,
                                const uint8_t rnd[16], uint64_t now_ms,
                                char id_out[37]) {
  char id[37], ts[25];
  json_object *o = json_object_new_object();
  json_object *jid, *jtype, *jts;

  app_uuid_v4(id, rnd);
  app_iso8601_ms(ts, now_ms);
  if (!data)
    data = json_object_new_object();
  jid = json_object_new_string(id);
  jtype = json_object_new_string(type);
  jts = json_object_new_string(ts);
  if (!o || !data || !jid || !jtype || !jts) {
    json_object_put(o);
    json_object_put(data);
    json_object_put(jid);
    json_object_put(jtype);
    json_object_put(jts);
    return NULL;
  }
  json_object_object_add(o, "event_id", jid);
  json_object_object_add(o, "type", jtype);
  json_object_object_add(o, "timestamp", jts);
  json_object_object_add(o, "data", data);
  if (id_out)
    memcpy(id_out, id, 37);
  return o;
}

static int add_str(json_object *o, const char *k, const char *v) {
  json_object *s = json_object_new_string(v ? v : "");
  if (!s)
    return -1;
  json_object_object_add(o, k, s);
  return 0;
}

json_object *app_event_established_data(const char *sid, const char *user_id,
                                        const char *const *rooms,
                                        size_t n_rooms, const char *server_id) {
  json_object *o = json_object_new_object(), *a;
  size_t i;
  if (!o || add_str(o, "sid", sid) || add_str(o, "user_id", user_id))
    goto fail;
  a = json_object_new_array();
  if (!a)
    goto fail;
  json_object_object_add(o, "rooms", a);
  for (i = 0; i < n_rooms; i++) {
    json_object *s = json_object_new_string(rooms[i]);
    if (!s || json_object_array_add(a, s) != 0) {
      json_object_put(s);
      goto fail;
    }
  }
  if (add_str(o, "server_id", server_id))
    goto fail;
  return o;
fail:
  json_object_put(o);
  return NULL;
}

json_object *app_event_error_data(const char *code, const char *message) {
  json_object *o = json_object_new_object();
  if (!o || add_str(o, "code", code) || add_str(o, "message", message)) {
    json_object_put(o);
    return NULL;
  }
  return o;
}

/* ------------------------------------------------------ publish request */

void app_publish_deinit(struct app_publish *p) {
  if (!p)
    return;
  app_strv_free(p->rooms);
  json_object_put(p->data);
  memset(p, 0, sizeof(*p));
}

int app_event_parse_publish(json_object *body, struct app_publish *out,
                            char *err, size_t errlen) {
  json_object *rooms = NULL, *event = NULL, *data = NULL;
  const struct app_event_type *t;
  size_t i, j, n;
  const char *name;

  memset(out, 0, sizeof(*out));
  if (!json_object_is_type(body, json_type_object)) {
    snprintf(err, errlen,
             "body must be a JSON object {\"rooms\": [...], "
             "\"event\": \"<type>\", \"data\": {...}}");
    return -1;
  }
  {
    json_object_object_foreach(body, key, val) {
      (void)val;
      if (strcmp(key, "rooms") != 0 && strcmp(key, "event") != 0 &&
          strcmp(key, "data") != 0) {
        snprintf(err, errlen,
                 "unknown member \"%.40s\" (expected rooms, event, data)", key);
        return -1;
      }
    }
  }
  json_object_object_get_ex(body, "event", &event);
  json_object_object_get_ex(body, "rooms", &rooms);
  json_object_object_get_ex(body, "data", &data);

  if (!event || !json_object_is_type(event, json_type_string)) {
    snprintf(err, errlen,
             "event: required, a string naming one of the "
             "event types (see docs/events.md)");
    return -1;
  }
  name = json_object_get_string(event);
  t = app_event_find(name);
  if (!t) {
    bool printable = strlen(name) <= 64;
    for (i = 0; printable && name[i]; i++)
      printable = name[i] > ' ' && name[i] < 0x7f && name[i] != '"';
    if (printable)
      snprintf(err, errlen, "event: unknown type \"%s\" (see docs/events.md)",
               name);
    else
      snprintf(err, errlen, "event: unknown type (see docs/events.md)");
    return -1;
  }
  if (t->server_only) {
    snprintf(err, errlen, "event: %s is sent by the server only", t->name);
    return -1;
  }
  if (!rooms || !json_object_is_type(rooms, json_type_array) ||
      json_object_array_length(rooms) == 0) {
    snprintf(err, errlen, "rooms: required, a non-empty array of room names");
    return -1;
  }
  n = json_object_array_length(rooms);
  if (n > APP_PUBLISH_MAX_ROOMS) {
    snprintf(err, errlen, "rooms: at most %d rooms per request",
             APP_PUBLISH_MAX_ROOMS);
    return -1;
  }
  for (i = 0; i < n; i++) {
    json_object *e = json_object_array_get_idx(rooms, i);
    if (!json_object_is_type(e, json_type_string) ||
        !app_room_name_valid(json_object_get_string(e),
                             (size_t)json_object_get_string_len(e))) {
      snprintf(err, errlen,
               "rooms[%zu]: not a valid room name (1 to %d characters of "
               "A-Z a-z 0-9 _ . : -)",
               i, APP_ROOM_MAX);
      return -1;
    }
  }
  if (data && !json_object_is_type(data, json_type_object)) {
    snprintf(err, errlen, "data: must be a JSON object");
    return -1;
  }

  out->rooms = calloc(n + 1, sizeof(*out->rooms));
  if (!out->rooms)
    goto oom;
  for (i = 0; i < n; i++) {
    const char *s = json_object_get_string(json_object_array_get_idx(rooms, i));
    for (j = 0; j < out->n_rooms; j++)
      if (strcmp(out->rooms[j], s) == 0)
        break;
    if (j < out->n_rooms)
      continue;
    out->rooms[out->n_rooms] = strdup(s);
    if (!out->rooms[out->n_rooms])
      goto oom;
    out->n_rooms++;
  }
  out->data = data ? json_object_get(data) : json_object_new_object();
  if (!out->data)
    goto oom;
  out->type = t;
  return 0;
oom:
  app_publish_deinit(out);
  snprintf(err, errlen, "out of memory");
  return -2;
}

int app_event_parse_publish_text(const char *text, size_t len,
                                 struct app_publish *out, char *err,
                                 size_t errlen) {
  json_object *body = NULL;
  int rv, rc;

  memset(out, 0, sizeof(*out));
  /* Every client will read the relayed data with its own JSON.parse: what
   * that would refuse (1., NaN, a trailing comma, a raw control character,
   * invalid UTF-8) must be refused here, not relayed to a whole room. */
  rv = sio_json_parse(text, len, 32, &body);
  if (rv == SIO_ERR_NOMEM) {
    snprintf(err, errlen, "out of memory");
    return -2;
  }
  if (rv) {
    snprintf(err, errlen, rv == SIO_ERR_DEPTH ? "body is nested too deeply"
                                              : "body is not valid JSON");
    return -1;
  }
  rc = app_event_parse_publish(body, out, err, errlen);
  json_object_put(body);
  return rc;
}

/* ------------------------------------------------------------------ docs */

/* A usual room in Markdown: each alternative ("a or b") in backticks, a
 * parenthesised remark as text. */
static void put_room(struct app_sbuf *b, const char *room) {
  const char *p = room;
  if (room[0] == '(') {
    app_sbuf_put_md(b, room);
    return;
  }
  for (;;) {
    const char *sep = strstr(p, " or ");
    size_t n = sep ? (size_t)(sep - p) : strlen(p);
    app_sbuf_printf(b, "`%.*s`", (int)n, p);
    if (!sep)
      break;
    app_sbuf_puts(b, " or ");
    p = sep + 4;
  }
}

char *app_events_markdown(void) {
  struct app_sbuf b = {0};
  size_t i, j;

  app_sbuf_puts(
      &b,
      "# sio-server events\n"
      "\n"
      "<!-- Generated by src/app/gen_config_docs from the catalog in\n"
      "     src/app/app_events.c. Do not edit: change the table and run\n"
      "     `make update-config-docs`. -->\n"
      "\n"
      "Clients receive 22 event types. Each arrives as a Socket.IO event "
      "named\n"
      "after its type, with one argument, the envelope:\n"
      "\n"
      "```json\n"
      "{\n"
      "  \"event_id\": \"0b7e7c52-3f1e-4b7a-9d43-6a1c2f0e9a11\",\n"
      "  \"type\": \"workflow.progress\",\n"
      "  \"timestamp\": \"2024-05-01T12:00:00.123Z\",\n"
      "  \"data\": { \"workflow_id\": \"wf-7\", \"project_id\": \"42\", "
      "\"progress\": 40 }\n"
      "}\n"
      "```\n"
      "\n"
      "`event_id` is a random UUID (version 4), `timestamp` the UTC time "
      "the\n"
      "server built the envelope, with milliseconds. `data` is what the "
      "backend\n"
      "published, forwarded unchanged: the fields below are the documented\n"
      "contract between backends and clients, and the server checks only "
      "that\n"
      "`data` is a JSON object.\n"
      "\n"
      "`connection.established` and `connection.error` are sent by the "
      "server\n"
      "itself. The other 20 are published by backends, either through the\n"
      "Redis adapter (any socket.io emitter) or with the HTTP API:\n"
      "\n"
      "```sh\n"
      "curl -X POST http://localhost:3000/api/v1/emit \\\n"
      "  -H 'Authorization: Bearer <api.key>' -H 'Content-Type: "
      "application/json' \\\n"
      "  -d '{\"rooms\": [\"project:42\"], \"event\": \"workflow.progress\",\n"
      "       \"data\": {\"workflow_id\": \"wf-7\", \"project_id\": \"42\", "
      "\"progress\": 40}}'\n"
      "```\n"
      "\n"
      "The body must have `rooms` (a non-empty array of room names), "
      "`event`\n"
      "(one of the 20 publishable types) and optionally `data` (an object);\n"
      "anything else is answered with 400 and a message. The answer is 202\n"
      "with the `event_id`. Only sockets in one of the named rooms receive "
      "the\n"
      "event. The usual room below is where backends normally send each "
      "type;\n"
      "rooms are described in the specification (`global`, `user:<sub>`,\n"
      "`project:<id>`, `agent:<id>`).\n"
      "\n"
      "## Replay from the last event id\n"
      "\n"
      "Every event delivered through a room is kept in that room's bounded\n"
      "history (`[replay]` in the configuration). Remember the `event_id` "
      "of\n"
      "the last event you handled; reconnect with\n"
      "`auth: {token, last_event_id}` (or `?last_event_id=`) and the events "
      "of\n"
      "`global` and `user:<sub>` published after it arrive right after\n"
      "`connection.established`, in publish order, before anything newer.\n"
      "`subscribe` takes `{\"room\": \"project:42\", \"since\": "
      "\"<event_id>\"}` and\n"
      "replays that room before its ack. `connection.established`'s data and "
      "the\n"
      "ack say `\"replayed\": N` and `\"complete\"`: false when the id is "
      "no\n"
      "longer in the history (too old, pushed out, or never delivered "
      "through a\n"
      "room, like connection.established's own): refetch your state then. "
      "Events\n"
      "are sent as they were published, nothing is appended, so every "
      "client\n"
      "library and fixed-arity handlers work.\n"
      "\n"
      "## Summary\n"
      "\n"
      "| type | usual room | published by |\n"
      "|---|---|---|\n");
  for (i = 0; i < app_event_ntypes; i++) {
    const struct app_event_type *t = &app_event_types[i];
    app_sbuf_printf(&b, "| [`%s`](#", t->name);
    for (j = 0; t->name[j]; j++)
      if (t->name[j] != '.')
        app_sbuf_putc(&b, t->name[j]);
    app_sbuf_puts(&b, ") | ");
    put_room(&b, t->room);
    app_sbuf_printf(&b, " | %s |\n",
                    t->server_only ? "the server" : "backends");
  }
  for (i = 0; i < app_event_ntypes; i++) {
    const struct app_event_type *t = &app_event_types[i];
    app_sbuf_printf(&b, "\n## %s\n\n", t->name);
    app_sbuf_put_md(&b, t->summary);
    app_sbuf_puts(&b, "\n\nUsual room: ");
    put_room(&b, t->room);
    app_sbuf_printf(&b, ".%s\n\n",
                    t->server_only ? " Sent by the server only; a publish "
                                     "request naming it is refused."
                                   : "");
    app_sbuf_puts(&b, "| data field | type | always | description |\n"
                      "|---|---|---|---|\n");
    for (j = 0; j < t->n_fields; j++) {
      const struct app_event_field *f = &t->fields[j];
      app_sbuf_printf(&b, "| `%s` | %s | %s | ", f->name, f->type,
                      f->required ? "yes" : "no");
      app_sbuf_put_md(&b, f->desc);
      app_sbuf_puts(&b, " |\n");
    }
  }
  return app_sbuf_take(&b, NULL);
}
