/* app_commands.c: what happens on the "/" namespace (SPEC §3).
 *
 * CONNECT: the token (auth payload, Authorization header, ?token=) is
 * verified; the per-user connection limit is applied; the socket joins
 * "global" and "user:<sub>" and gets connection.established.
 * Events: each costs a token of the socket's bucket (events_per_minute,
 * events_burst). Over the rate an event is not processed: an ack gets
 * {"ok":false,"error":{"code":"rate_limited"}}, otherwise it is dropped; a
 * client that keeps sending past the rate for a whole burst's worth of
 * events is told with connection.error and disconnected.
 * Commands: subscribe / unsubscribe / ping, always answered through the
 * ack; unknown events are ignored (debug log). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "app_daemon.h"
#include "app_events.h"
#include "app_log.h"
#include "app_policy.h"
#include "app_replay.h"
#include "app_util.h"

static void list_add(struct app_loop *l, struct app_sock *as) {
  as->prev = NULL;
  as->next = l->socks;
  if (l->socks)
    l->socks->prev = as;
  l->socks = as;
  l->nsocks++;
  atomic_fetch_add_explicit(&l->d->nsocks, 1, memory_order_relaxed);
}

static void list_remove(struct app_loop *l, struct app_sock *as) {
  if (as->prev)
    as->prev->next = as->next;
  else
    l->socks = as->next;
  if (as->next)
    as->next->prev = as->prev;
  l->nsocks--;
  atomic_fetch_sub_explicit(&l->d->nsocks, 1, memory_order_relaxed);
  app_loop_drain_check(l);
}

int app_emit_envelope(sio_socket *s, const char *type, json_object *data) {
  uint8_t rnd[16];
  json_object *env, *args;
  int rv;
  app_random_bytes(rnd, sizeof(rnd));
  env = app_event_envelope(type, data, rnd, app_now_ms(), NULL);
  if (!env)
    return -1;
  args = json_object_new_array();
  if (!args) {
    json_object_put(env);
    return -1;
  }
  json_object_array_add(args, env);
  rv = sio_socket_emit(s, type, args, NULL, 0);
  json_object_put(args);
  return rv ? -1 : 0;
}

void app_sock_close_with_error(struct app_sock *as, const char *code,
                               const char *message) {
  json_object *data = app_event_error_data(code, message);
  if (data)
    app_emit_envelope(as->s, APP_EVENT_CONNECTION_ERROR, data);
  sio_socket_disconnect(as->s, 1);
}

static int refuse(struct app_loop *l, enum app_auth_code code,
                  json_object **err) {
  app_metrics_inc(l->metrics, APP_M_AUTH_FAILURES, app_auth_code_name(code));
  *err = app_auth_connect_error(code);
  return -1;
}

static int on_authorize(sio_socket *s, json_object *auth, json_object **err,
                        void *ud) {
  struct app_loop *l = ud;
  const struct app_auth *keys = l->keys->auth;
  struct app_claims claims;
  struct app_sock *as;
  enum app_auth_code code;
  size_t len = 0;
  const char *tok;
  int rv;

  memset(&claims, 0, sizeof(claims));
  tok = app_auth_pick_token(app_auth_payload_token(auth),
                            sio_socket_header(s, "authorization"),
                            sio_socket_query(s, "token"), &len, NULL);
  code = app_auth_verify(keys, tok, len, (int64_t)(app_now_ms() / 1000),
                         &claims);
  if (code != APP_AUTH_OK) {
    APP_LOGD("connect refused from %s: %s", sio_socket_remote_addr(s),
             app_auth_code_name(code));
    app_claims_deinit(&claims);
    return refuse(l, code, err);
  }
  /* In auth.mode none everyone is "anonymous": no per-user limit then.
   * One table for every loop: the limit counts the user's sockets of the
   * whole process. */
  rv = app_users_acquire(
      l->d, claims.sub,
      app_auth_is_none(keys)
          ? 0
          : (uint32_t)l->cfg->limits_max_connections_per_user);
  if (rv != APP_RL_OK) {
    app_metrics_inc(l->metrics, APP_M_LIMIT_HITS,
                    APP_LIMIT_CONNECTIONS_PER_USER);
    app_claims_deinit(&claims);
    return refuse(l, APP_AUTH_CONNECTION_LIMIT, err);
  }
  as = calloc(1, sizeof(*as));
  if (!as || app_policy_user_room(claims.sub, as->user_room,
                                  sizeof(as->user_room)) != 0) {
    free(as);
    app_users_release(l->d, claims.sub);
    app_claims_deinit(&claims);
    return refuse(l, APP_AUTH_INVALID_TOKEN, err);
  }
  as->l = l;
  as->s = s;
  as->claims = claims;
  as->since_given = app_replay_pick_since(
                        auth, sio_socket_query(s, "last_event_id"),
                        &as->since) != 0;
  app_bucket_init(&as->bucket, &l->event_rate, app_now_ms());
  /* Recovery resumes a session only for the user that made it. */
  if (sio_socket_set_owner(s, claims.sub) ||
      sio_socket_join(s, "global") || sio_socket_join(s, as->user_room)) {
    app_users_release(l->d, claims.sub);
    app_claims_deinit(&as->claims);
    free(as->since);
    free(as);
    *err = NULL;
    return -1;
  }
  sio_socket_set_data(s, as);
  list_add(l, as);
  return 0;
}

struct room_list {
  const char *v[512];
  size_t n;
};

static void collect_room(const char *room, void *ud) {
  struct room_list *l = ud;
  if (l->n < sizeof(l->v) / sizeof(l->v[0]))
    l->v[l->n++] = room;
}

/* A resumed session's rooms, offered one by one before anything missed is
 * replayed: the token presented now decides which may stay (a token with
 * fewer projects than the one that made the session loses the others, and
 * their missed events). */
static int recovery_keeps(sio_socket *s, const char *room, void *ud) {
  struct app_sock *as = sio_socket_get_data(s);
  (void)ud;
  if (!as)
    return 0;
  return strcmp(room, "global") == 0 || strcmp(room, as->user_room) == 0 ||
         app_policy_may_join(&as->claims, room) == APP_POLICY_ALLOW;
}

static void on_connection(sio_socket *s, void *ud) {
  struct app_loop *l = ud;
  struct app_sock *as = sio_socket_get_data(s);
  struct room_list rooms = {.n = 0};
  const char *named[512];
  size_t i, n = 0;
  json_object *data;
  sio_socket_rooms(s, collect_room, &rooms);
  for (i = 0; i < rooms.n; i++) /* the socket's own id room is not news */
    if (strcmp(rooms.v[i], sio_socket_id(s)) != 0)
      named[n++] = rooms.v[i];
  data = app_event_established_data(sio_socket_id(s), as->claims.sub, named,
                                    n, l->d->server_id);
  if (data)
    app_replay_established(as, data);
  APP_LOGD("socket %s connected (user %s, %s)", sio_socket_id(s),
           as->claims.sub, sio_socket_transport(s));
}

void app_send_ack(sio_socket *s, int64_t ack_id, json_object *payload) {
  json_object *args;
  if (!payload)
    return;
  if (ack_id < 0) {
    json_object_put(payload);
    return;
  }
  args = json_object_new_array();
  if (args) {
    json_object_array_add(args, payload);
    sio_socket_ack(s, ack_id, args, NULL, 0);
    json_object_put(args);
  } else {
    json_object_put(payload);
  }
}

static void run_room_command(struct app_loop *l, struct app_sock *as,
                             int subscribe, json_object *payload,
                             int64_t ack_id) {
  struct room_list rooms = {.n = 0};
  struct app_policy_ctx ctx;
  struct app_policy_result res;
  size_t i;
  sio_socket_rooms(as->s, collect_room, &rooms);
  ctx.claims = &as->claims;
  ctx.sid = sio_socket_id(as->s);
  ctx.rooms = rooms.v;
  ctx.n_rooms = rooms.n;
  ctx.max_rooms = (size_t)l->cfg->limits_max_rooms_per_socket;
  memset(&res, 0, sizeof(res));
  if ((subscribe ? app_policy_subscribe(&ctx, payload, &res)
                 : app_policy_unsubscribe(&ctx, payload, &res)) != 0) {
    app_send_ack(as->s, ack_id,
             app_policy_error_ack("bad_request", "server out of memory"));
    return;
  }
  for (i = 0; i < res.n_rooms; i++) {
    if (subscribe)
      sio_socket_join(as->s, res.rooms[i]);
    else
      sio_socket_leave(as->s, res.rooms[i]);
  }
  if (res.ack) {
    json_object *ok = NULL, *err, *code;
    if (json_object_object_get_ex(res.ack, "ok", &ok) &&
        !json_object_get_boolean(ok) &&
        json_object_object_get_ex(res.ack, "error", &err) &&
        json_object_object_get_ex(err, "code", &code) &&
        strcmp(json_object_get_string(code), "limit") == 0)
      app_metrics_inc(l->metrics, APP_M_LIMIT_HITS, APP_LIMIT_ROOMS);
    if (subscribe && res.since && ok && json_object_get_boolean(ok))
      app_replay_subscribe(as, res.since, json_object_get(res.ack), ack_id);
    else
      app_send_ack(as->s, ack_id, json_object_get(res.ack));
  }
  app_policy_result_deinit(&res);
}

static void on_event(sio_socket *s, const char *event, json_object *args,
                     const sio_bin *bins, size_t nbins, int64_t ack_id,
                     void *ud) {
  struct app_loop *l = ud;
  struct app_sock *as = sio_socket_get_data(s);
  json_object *payload = NULL;
  (void)bins;
  (void)nbins;
  if (!as)
    return;
  if (!app_bucket_take(&as->bucket, &l->event_rate, app_now_ms())) {
    app_metrics_inc(l->metrics, APP_M_LIMIT_HITS, APP_LIMIT_EVENT_RATE);
    if (++as->rejected > l->event_rate.burst) {
      APP_LOGI("socket %s (user %s) closed: event rate", sio_socket_id(s),
               as->claims.sub);
      app_sock_close_with_error(as, "rate_limited",
                                "too many events; slow down and reconnect");
      return;
    }
    app_send_ack(s, ack_id,
             app_policy_error_ack("rate_limited", "too many events"));
    return;
  }
  as->rejected = 0;
  if (args && json_object_is_type(args, json_type_array) &&
      json_object_array_length(args) > 0)
    payload = json_object_array_get_idx(args, 0);
  if (strcmp(event, "subscribe") == 0) {
    run_room_command(l, as, 1, payload, ack_id);
  } else if (strcmp(event, "unsubscribe") == 0) {
    run_room_command(l, as, 0, payload, ack_id);
  } else if (strcmp(event, "ping") == 0) {
    app_send_ack(s, ack_id, app_policy_ping_ack((int64_t)app_now_ms()));
  } else {
    APP_LOGD("socket %s: unknown event ignored", sio_socket_id(s));
  }
}

static void on_disconnect(sio_socket *s, const char *reason, void *ud) {
  struct app_loop *l = ud;
  struct app_sock *as = sio_socket_get_data(s);
  app_metrics_inc(l->metrics, APP_M_DISCONNECTS, reason);
  if (!as)
    return;
  sio_socket_set_data(s, NULL);
  list_remove(l, as);
  app_users_release(l->d, as->claims.sub);
  app_claims_deinit(&as->claims);
  free(as->since);
  free(as);
}

void app_commands_install(struct app_loop *l) {
  sio_namespace_handlers h;
  memset(&h, 0, sizeof(h));
  h.on_authorize = on_authorize;
  h.on_connection = on_connection;
  h.on_event = on_event;
  h.on_disconnect = on_disconnect;
  sio_namespace_set_handlers(l->ns, &h, l);
  sio_namespace_set_recovery_filter(l->ns, recovery_keeps, l);
}
