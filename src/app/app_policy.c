/* app_policy.c: who may be in which room, and the subscribe / unsubscribe /
 * ping commands with their acks (the rules are listed in app_policy.h).
 * Everything is a pure function of the claims, the socket's current rooms
 * and the payload: the caller (the daemon's event handler) sends the ack we
 * build and joins or leaves the rooms we list. A command is validated as a
 * whole before anything is applied, so a client never ends up half
 * subscribed, and every malformed payload still gets an ack. Messages in
 * the acks never echo an invalid room name (it may hold arbitrary bytes);
 * valid names are plain ASCII and are quoted to help the client. */
#include "app_policy.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "app_util.h"

static bool room_char(unsigned char c) {
  return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') ||
         (c >= '0' && c <= '9') || c == '_' || c == '.' || c == ':' || c == '-';
}

bool app_room_name_valid(const char *s, size_t n) {
  size_t i;
  if (!s || n == 0 || n > APP_ROOM_MAX)
    return false;
  for (i = 0; i < n; i++)
    if (!room_char((unsigned char)s[i]))
      return false;
  return true;
}

enum app_room_kind app_room_kind(const char *room, const char **id,
                                 size_t *id_len) {
  static const struct {
    const char *prefix;
    enum app_room_kind kind;
  } kinds[] = {{"user:", APP_ROOM_USER},
               {"project:", APP_ROOM_PROJECT},
               {"agent:", APP_ROOM_AGENT}};
  size_t i;
  if (strcmp(room, "global") == 0)
    return APP_ROOM_GLOBAL;
  for (i = 0; i < APP_ARRLEN(kinds); i++) {
    size_t pl = strlen(kinds[i].prefix);
    if (strncmp(room, kinds[i].prefix, pl) == 0) {
      if (id)
        *id = room + pl;
      if (id_len)
        *id_len = strlen(room + pl);
      return kinds[i].kind;
    }
  }
  return APP_ROOM_OTHER;
}

int app_policy_user_room(const char *sub, char *buf, size_t cap) {
  int n = snprintf(buf, cap, "user:%s", sub ? sub : "");
  return n < 0 || (size_t)n >= cap ? -1 : 0;
}

static bool is_own_user_room(const struct app_claims *c, const char *room) {
  return c && c->sub && strncmp(room, "user:", 5) == 0 &&
         strcmp(room + 5, c->sub) == 0;
}

enum app_policy_verdict app_policy_may_join(const struct app_claims *c,
                                            const char *room) {
  const char *id = NULL;
  size_t id_len = 0;
  enum app_room_kind kind;

  if (!room || !app_room_name_valid(room, strlen(room)))
    return APP_POLICY_INVALID;
  kind = app_room_kind(room, &id, &id_len);
  if (kind != APP_ROOM_GLOBAL && kind != APP_ROOM_OTHER && id_len == 0)
    return APP_POLICY_INVALID;
  switch (kind) {
  case APP_ROOM_GLOBAL:
    return APP_POLICY_ALLOW;
  case APP_ROOM_USER:
    return is_own_user_room(c, room) ? APP_POLICY_ALLOW : APP_POLICY_FORBIDDEN;
  case APP_ROOM_PROJECT:
    return c && (c->admin || app_id_set_has(&c->projects, id, id_len))
               ? APP_POLICY_ALLOW
               : APP_POLICY_FORBIDDEN;
  case APP_ROOM_AGENT:
    return c && (c->admin || app_id_set_has(&c->agents, id, id_len))
               ? APP_POLICY_ALLOW
               : APP_POLICY_FORBIDDEN;
  case APP_ROOM_OTHER:
    break;
  }
  return APP_POLICY_FORBIDDEN;
}

/* ----------------------------------------------------------------- acks */

json_object *app_policy_error_ack(const char *code, const char *message) {
  json_object *o = json_object_new_object(), *e = json_object_new_object();
  json_object *c = json_object_new_string(code);
  json_object *m = json_object_new_string(message ? message : "");
  json_object *f = json_object_new_boolean(0);
  if (!o || !e || !c || !m || !f) {
    json_object_put(o);
    json_object_put(e);
    json_object_put(c);
    json_object_put(m);
    json_object_put(f);
    return NULL;
  }
  json_object_object_add(e, "code", c);
  json_object_object_add(e, "message", m);
  json_object_object_add(o, "ok", f);
  json_object_object_add(o, "error", e);
  return o;
}

json_object *app_policy_ok_ack(const char *const *rooms, size_t n) {
  json_object *o = json_object_new_object(), *a = json_object_new_array();
  json_object *t = json_object_new_boolean(1);
  size_t i;
  if (!o || !a || !t)
    goto fail;
  for (i = 0; i < n; i++) {
    json_object *s = json_object_new_string(rooms[i]);
    if (!s || json_object_array_add(a, s) != 0) {
      json_object_put(s);
      goto fail;
    }
  }
  json_object_object_add(o, "ok", t);
  json_object_object_add(o, "rooms", a);
  return o;
fail:
  json_object_put(o);
  json_object_put(a);
  json_object_put(t);
  return NULL;
}

json_object *app_policy_ping_ack(int64_t now_ms) {
  json_object *o = json_object_new_object();
  json_object *t = json_object_new_boolean(1);
  json_object *ts = json_object_new_int64(now_ms);
  if (!o || !t || !ts) {
    json_object_put(o);
    json_object_put(t);
    json_object_put(ts);
    return NULL;
  }
  json_object_object_add(o, "pong", t);
  json_object_object_add(o, "ts", ts);
  return o;
}

/* ------------------------------------------------------------- commands */

void app_policy_result_deinit(struct app_policy_result *r) {
  if (!r)
    return;
  json_object_put(r->ack);
  app_strv_free(r->rooms);
  free(r->since);
  memset(r, 0, sizeof(*r));
}

/* The requested rooms, borrowed from the payload, deduplicated. */
struct request {
  const char **v;
  size_t n;
};

/* Extracts the room list. Returns 0, or -1 with a bad_request message in
 * why, or -2 when out of memory. */
static int parse_request(json_object *payload, struct request *req, char *why,
                         size_t whylen) {
  json_object *list = NULL, *one = NULL;
  size_t i, j, n;

  req->v = NULL;
  req->n = 0;
  if (json_object_is_type(payload, json_type_string)) {
    one = payload;
  } else if (json_object_is_type(payload, json_type_array)) {
    list = payload;
  } else if (json_object_is_type(payload, json_type_object)) {
    json_object_object_get_ex(payload, "room", &one);
    json_object_object_get_ex(payload, "rooms", &list);
    if (one && list) {
      snprintf(why, whylen, "give either room or rooms, not both");
      return -1;
    }
    if (one && !json_object_is_type(one, json_type_string)) {
      snprintf(why, whylen, "room must be a string");
      return -1;
    }
    if (list && !json_object_is_type(list, json_type_array)) {
      snprintf(why, whylen, "rooms must be an array of strings");
      return -1;
    }
  }
  if (!one && !list) {
    snprintf(why, whylen,
             "expected {\"room\": \"<name>\"} or {\"rooms\": [\"<name>\", "
             "...]}");
    return -1;
  }
  n = one ? 1 : json_object_array_length(list);
  if (n == 0) {
    snprintf(why, whylen, "rooms must not be empty");
    return -1;
  }
  if (n > APP_POLICY_MAX_BATCH) {
    snprintf(why, whylen, "at most %d rooms per request", APP_POLICY_MAX_BATCH);
    return -1;
  }
  req->v = calloc(n, sizeof(*req->v));
  if (!req->v)
    return -2;
  for (i = 0; i < n; i++) {
    json_object *e = one ? one : json_object_array_get_idx(list, i);
    const char *s;
    if (!json_object_is_type(e, json_type_string)) {
      snprintf(why, whylen, "rooms[%zu] must be a string", i);
      free(req->v);
      req->v = NULL;
      return -1;
    }
    s = json_object_get_string(e);
    for (j = 0; j < req->n; j++)
      if (strcmp(req->v[j], s) == 0)
        break;
    if (j == req->n)
      req->v[req->n++] = s;
  }
  return 0;
}

static bool in_rooms(const struct app_policy_ctx *ctx, const char *room) {
  size_t i;
  for (i = 0; i < ctx->n_rooms; i++)
    if (strcmp(ctx->rooms[i], room) == 0)
      return true;
  return false;
}

/* Rooms that count against limits.max_rooms_per_socket. */
static bool counted(const struct app_policy_ctx *ctx, const char *room) {
  return strcmp(room, "global") != 0 && !is_own_user_room(ctx->claims, room) &&
         !(ctx->sid && strcmp(ctx->sid, room) == 0);
}

static int finish_error(struct app_policy_result *out, const char *code,
                        const char *message) {
  out->ack = app_policy_error_ack(code, message);
  return out->ack ? 0 : -1;
}

/* Builds the ok ack and copies apply[0..n) into out->rooms. */
static int finish_ok(struct app_policy_result *out, const struct request *req,
                     const char **apply, size_t n) {
  size_t i;
  out->rooms = calloc(n + 1, sizeof(*out->rooms));
  if (!out->rooms)
    return -1;
  for (i = 0; i < n; i++) {
    out->rooms[i] = strdup(apply[i]);
    if (!out->rooms[i])
      return -1;
    out->n_rooms++;
  }
  out->ack = app_policy_ok_ack(req->v, req->n);
  return out->ack ? 0 : -1;
}

static void invalid_room_msg(char *buf, size_t cap, size_t idx,
                             const struct request *req) {
  if (req->n == 1)
    snprintf(buf, cap,
             "not a valid room name (1 to %d characters of A-Z a-z 0-9 _ . "
             ": -, and an id after user:, project: or agent:)",
             APP_ROOM_MAX);
  else
    snprintf(buf, cap,
             "rooms[%zu] is not a valid room name (1 to %d characters of "
             "A-Z a-z 0-9 _ . : -, and an id after user:, project: or "
             "agent:)",
             idx, APP_ROOM_MAX);
}

int app_policy_subscribe(const struct app_policy_ctx *ctx, json_object *payload,
                         struct app_policy_result *out) {
  struct request req;
  const char **apply = NULL;
  json_object *since = NULL;
  char msg[320];
  size_t i, n_apply = 0, have = 0;
  int rc;

  memset(out, 0, sizeof(*out));
  rc = parse_request(payload, &req, msg, sizeof(msg));
  if (rc == -2)
    return -1;
  if (rc == -1)
    return finish_error(out, "bad_request", msg);
  if (json_object_is_type(payload, json_type_object) &&
      json_object_object_get_ex(payload, "since", &since) &&
      !json_object_is_type(since, json_type_null) &&
      (!json_object_is_type(since, json_type_string) ||
       json_object_get_string_len(since) == 0 ||
       json_object_get_string_len(since) > APP_POLICY_SINCE_MAX)) {
    free(req.v);
    snprintf(msg, sizeof(msg), "since must be an event id (1 to %d bytes)",
             APP_POLICY_SINCE_MAX);
    return finish_error(out, "bad_request", msg);
  }
  if (json_object_is_type(since, json_type_null))
    since = NULL;

  for (i = 0; i < req.n; i++) {
    enum app_policy_verdict v = app_policy_may_join(ctx->claims, req.v[i]);
    if (v == APP_POLICY_INVALID) {
      invalid_room_msg(msg, sizeof(msg), i, &req);
      rc = finish_error(out, "invalid_room", msg);
      goto done;
    }
    if (v == APP_POLICY_FORBIDDEN) {
      snprintf(msg, sizeof(msg), "not allowed to join \"%s\"", req.v[i]);
      rc = finish_error(out, "forbidden", msg);
      goto done;
    }
  }
  apply = calloc(req.n, sizeof(*apply));
  if (!apply) {
    rc = -1;
    goto done;
  }
  for (i = 0; i < req.n; i++)
    if (!in_rooms(ctx, req.v[i]))
      apply[n_apply++] = req.v[i];
  if (ctx->max_rooms) {
    size_t adding = 0;
    for (i = 0; i < ctx->n_rooms; i++)
      if (counted(ctx, ctx->rooms[i]))
        have++;
    for (i = 0; i < n_apply; i++)
      if (counted(ctx, apply[i]))
        adding++;
    if (have + adding > ctx->max_rooms) {
      snprintf(msg, sizeof(msg),
               "at most %zu rooms per socket (%zu subscribed, %zu more "
               "requested)",
               ctx->max_rooms, have, adding);
      rc = finish_error(out, "limit", msg);
      goto done;
    }
  }
  rc = finish_ok(out, &req, apply, n_apply);
  if (rc == 0 && since) {
    out->since = strdup(json_object_get_string(since));
    if (!out->since)
      rc = -1;
  }
done:
  free(apply);
  free(req.v);
  if (rc != 0)
    app_policy_result_deinit(out);
  return rc;
}

int app_policy_unsubscribe(const struct app_policy_ctx *ctx,
                           json_object *payload,
                           struct app_policy_result *out) {
  struct request req;
  const char **apply = NULL;
  char msg[320];
  size_t i, n_apply = 0;
  int rc;

  memset(out, 0, sizeof(*out));
  rc = parse_request(payload, &req, msg, sizeof(msg));
  if (rc == -2)
    return -1;
  if (rc == -1)
    return finish_error(out, "bad_request", msg);

  for (i = 0; i < req.n; i++) {
    const char *id = NULL;
    size_t id_len = 0;
    enum app_room_kind kind;
    if (!app_room_name_valid(req.v[i], strlen(req.v[i]))) {
      invalid_room_msg(msg, sizeof(msg), i, &req);
      rc = finish_error(out, "invalid_room", msg);
      goto done;
    }
    kind = app_room_kind(req.v[i], &id, &id_len);
    if (kind != APP_ROOM_GLOBAL && kind != APP_ROOM_OTHER && id_len == 0) {
      invalid_room_msg(msg, sizeof(msg), i, &req);
      rc = finish_error(out, "invalid_room", msg);
      goto done;
    }
    if (is_own_user_room(ctx->claims, req.v[i]) ||
        (ctx->sid && strcmp(ctx->sid, req.v[i]) == 0)) {
      snprintf(msg, sizeof(msg), "\"%s\" cannot be left", req.v[i]);
      rc = finish_error(out, "forbidden", msg);
      goto done;
    }
  }
  apply = calloc(req.n, sizeof(*apply));
  if (!apply) {
    rc = -1;
    goto done;
  }
  for (i = 0; i < req.n; i++)
    if (in_rooms(ctx, req.v[i]))
      apply[n_apply++] = req.v[i];
  rc = finish_ok(out, &req, apply, n_apply);
done:
  free(apply);
  free(req.v);
  if (rc != 0)
    app_policy_result_deinit(out);
  return rc;
}
