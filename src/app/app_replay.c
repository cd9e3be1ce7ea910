/* app_replay.c: replay from the last event id (SPEC §3).
 *
 * Kept: every event delivered through a room whose first argument is an
 * envelope with an event_id (the 20 backend types, from the HTTP API or
 * any emitter). connection.established and connection.error go to one
 * socket, not through a room, so their ids are never in the history: a
 * client that presents one gets complete:false.
 *
 * The outcome ("replayed": N, "complete": bool) is added to what the
 * client reads first: connection.established's data on connect (sent in
 * the FOUND stage, so it precedes the replayed events), the subscribe ack
 * (sent in the DONE stage, so it follows them). A replay that cannot run
 * (replay.enabled false, an id that is not one, too many at once) is
 * answered at once with replayed 0 and complete false: the client
 * refetches, which is always safe. */
#include "app_replay.h"

#include <stdlib.h>
#include <string.h>

#include "app_daemon.h"
#include "app_events.h"
#include "app_log.h"

static const char *envelope_id(const char *event, json_object *args, void *ud) {
  json_object *env, *id;
  size_t len;
  (void)event;
  (void)ud;
  if (!json_object_is_type(args, json_type_array) ||
      json_object_array_length(args) < 1)
    return NULL;
  env = json_object_array_get_idx(args, 0);
  if (!json_object_is_type(env, json_type_object) ||
      !json_object_object_get_ex(env, "event_id", &id) ||
      !json_object_is_type(id, json_type_string))
    return NULL;
  len = (size_t)json_object_get_string_len(id);
  if (len == 0 || len > APP_REPLAY_ID_MAX)
    return NULL;
  return json_object_get_string(id);
}

int app_replay_install(struct app_loop *l) {
  sio_history_config hc;
  if (!l->cfg->replay_enabled)
    return 0;
  memset(&hc, 0, sizeof(hc));
  hc.max_events = (uint32_t)l->cfg->replay_max_events;
  hc.max_age_ms = (uint32_t)(l->cfg->replay_max_age_s * 1000);
  hc.id_of = envelope_id;
  hc.ud = l;
  return sio_namespace_set_history(l->ns, &hc) == 0 ? 0 : -1;
}

int app_replay_pick_since(json_object *auth, const char *query, char **out) {
  json_object *v = NULL;
  const char *id;
  size_t len;
  *out = NULL;
  if (json_object_is_type(auth, json_type_object) &&
      json_object_object_get_ex(auth, "last_event_id", &v)) {
    if (json_object_is_type(v, json_type_null))
      return 0; /* a client's "no id yet" */
    if (!json_object_is_type(v, json_type_string))
      return -1;
    id = json_object_get_string(v);
    len = (size_t)json_object_get_string_len(v);
  } else if (query) {
    id = query;
    len = strlen(query);
  } else {
    return 0;
  }
  if (len == 0 || len > APP_REPLAY_ID_MAX || memchr(id, '\0', len))
    return -1;
  *out = strdup(id);
  return *out ? 1 : -1;
}

static int add_outcome(json_object *o, size_t replayed, int complete) {
  json_object *n = json_object_new_int64((int64_t)replayed);
  json_object *c = json_object_new_boolean(complete);
  if (!n || !c) {
    json_object_put(n);
    json_object_put(c);
    return -1;
  }
  json_object_object_add(o, "replayed", n);
  json_object_object_add(o, "complete", c);
  return 0;
}

static void count(struct app_loop *l, int complete) {
  app_metrics_inc(l->metrics, APP_M_REPLAYS, complete ? "true" : "false");
}

/* ---------------------------------------------------------------- connect */

struct connect_replay {
  struct app_loop *l;
  json_object *data; /* connection.established's, until FOUND sends it */
};

static void connect_step(sio_socket *s, int stage, int status, size_t n,
                         int complete, void *ud) {
  struct connect_replay *c = ud;
  if (stage == SIO_REPLAY_FOUND) {
    if (add_outcome(c->data, n, complete) == 0)
      app_emit_envelope(s, APP_EVENT_CONNECTION_ESTABLISHED, c->data);
    else
      json_object_put(c->data);
    c->data = NULL;
    return;
  }
  if (status != SIO_ERR_CANCELED)
    count(c->l, complete);
  json_object_put(c->data);
  free(c);
}

void app_replay_established(struct app_sock *as, json_object *data) {
  struct app_loop *l = as->l;
  const char *rooms[2] = {"global", as->user_room};
  struct connect_replay *c;
  int complete = 0;
  if (!as->since_given) {
    app_emit_envelope(as->s, APP_EVENT_CONNECTION_ESTABLISHED, data);
    return;
  }
  /* A recovered session got every missed event already, in every room. */
  if (sio_socket_recovered(as->s)) {
    complete = 1;
  } else if (as->since && l->cfg->replay_enabled &&
             (c = calloc(1, sizeof(*c))) != NULL) {
    c->l = l;
    c->data = data;
    if (sio_socket_replay(as->s, rooms, 2, as->since, connect_step, c) == 0) {
      free(as->since);
      as->since = NULL;
      return;
    }
    free(c);
  }
  free(as->since);
  as->since = NULL;
  count(l, complete);
  if (add_outcome(data, 0, complete) == 0)
    app_emit_envelope(as->s, APP_EVENT_CONNECTION_ESTABLISHED, data);
  else
    json_object_put(data);
}

/* -------------------------------------------------------------- subscribe */

struct subscribe_replay {
  struct app_loop *l;
  json_object *ack;
  int64_t ack_id;
};

static void subscribe_step(sio_socket *s, int stage, int status, size_t n,
                           int complete, void *ud) {
  struct subscribe_replay *c = ud;
  if (stage == SIO_REPLAY_FOUND)
    return;
  if (status != SIO_ERR_CANCELED) {
    count(c->l, complete);
    if (add_outcome(c->ack, n, complete) == 0) {
      app_send_ack(s, c->ack_id, c->ack);
      c->ack = NULL;
    }
  }
  json_object_put(c->ack);
  free(c);
}

void app_replay_subscribe(struct app_sock *as, const char *since,
                          json_object *ack, int64_t ack_id) {
  struct app_loop *l = as->l;
  json_object *list = NULL;
  const char **rooms = NULL;
  size_t i, n = 0;
  struct subscribe_replay *c;
  if (json_object_object_get_ex(ack, "rooms", &list) &&
      json_object_is_type(list, json_type_array) &&
      (n = json_object_array_length(list)) > 0)
    rooms = calloc(n, sizeof(*rooms));
  if (l->cfg->replay_enabled && rooms && (c = calloc(1, sizeof(*c))) != NULL) {
    for (i = 0; i < n; i++)
      rooms[i] = json_object_get_string(json_object_array_get_idx(list, i));
    c->l = l;
    c->ack = ack;
    c->ack_id = ack_id;
    /* the rooms are copied by the call */
    if (sio_socket_replay(as->s, rooms, n, since, subscribe_step, c) == 0) {
      free(rooms);
      return;
    }
    APP_LOGD("socket %s: replay refused", sio_socket_id(as->s));
    free(c);
  }
  free(rooms);
  count(l, 0);
  if (add_outcome(ack, 0, 0) == 0)
    app_send_ack(as->s, ack_id, ack);
  else
    json_object_put(ack);
}
