#ifndef APP_EVENTS_H
#define APP_EVENTS_H

/* The 22 server-to-client event types (SPEC §3 "Events") in one table, the
 * envelope every one of them is sent in, and validation of the HTTP publish
 * API's request body.
 *
 * Envelope (the single argument of the Socket.IO event named after the
 * type):
 *   {"event_id": "<uuid v4>", "type": "<type>",
 *    "timestamp": "<YYYY-MM-DDTHH:MM:SS.mmmZ>", "data": {...}}
 *
 * connection.established and connection.error are sent by the server
 * itself; the other 20 come from backends (Redis emitters or POST
 * /api/v1/emit). The `fields` of each entry document the usual data; the
 * server forwards data unchanged and does not enforce them. docs/events.md
 * is generated from this table. */

#include <json-c/json.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define APP_EVENT_CONNECTION_ESTABLISHED "connection.established"
#define APP_EVENT_CONNECTION_ERROR "connection.error"
#define APP_EVENT_COUNT 22
#define APP_PUBLISH_MAX_ROOMS 1000 /* rooms in one publish request */

struct app_event_field {
  const char *name; /* "project_id" */
  const char *type; /* "string", "integer", "number", "boolean", "object",
                       "array", "string (ISO-8601)" */
  bool required;    /* documented as always present */
  const char *desc;
};

struct app_event_type {
  const char *name;    /* "project.updated" */
  const char *summary; /* one sentence */
  const char *room;    /* usual room, e.g. "project:<project_id>" */
  bool server_only;    /* sent by the server, not publishable */
  const struct app_event_field *fields;
  size_t n_fields;
};

/* The catalog, APP_EVENT_COUNT entries in SPEC order. */
extern const struct app_event_type app_event_types[];
extern const size_t app_event_ntypes;

/* The entry named name (exact match), or NULL. name is borrowed. */
const struct app_event_type *app_event_find(const char *name);

/* Builds the envelope. type is copied; data is taken over (NULL gives {}),
 * and freed even on failure; rnd are 16 random bytes for the uuid (borrowed)
 * and now_ms the wall-clock time. When id_out is not NULL the event_id is
 * also written there (37 bytes). Returns a new object the caller owns, or
 * NULL when out of memory. */
json_object *app_event_envelope(const char *type, json_object *data,
                                const uint8_t rnd[16], uint64_t now_ms,
                                char id_out[37]);

/* data of connection.established: {"sid", "user_id", "rooms": [...],
 * "server_id"}. All arguments are copied. New object or NULL (OOM). */
json_object *app_event_established_data(const char *sid, const char *user_id,
                                        const char *const *rooms,
                                        size_t n_rooms, const char *server_id);
/* data of connection.error: {"code": code, "message": message}, e.g. code
 * "rate_limited" or "token_expired". Copied. New object or NULL. */
json_object *app_event_error_data(const char *code, const char *message);

/* ------------------------------------------------------ publish request */

struct app_publish {
  const struct app_event_type *type; /* catalog entry */
  char **rooms; /* owned, NULL-terminated, deduplicated, request order */
  size_t n_rooms;
  json_object *data; /* owned reference (json_object_put) */
};

/* Validates a POST /api/v1/emit body:
 *   {"rooms": ["room", ...], "event": "<type>", "data": {...}}
 * rooms: a non-empty array (at most APP_PUBLISH_MAX_ROOMS) of valid room
 * names; event: one of the 20 backend types (not connection.established or
 * connection.error); data: an object ({} when absent); no other members.
 * body is borrowed. Returns 0 with *out filled (free with
 * app_publish_deinit), -1 with a one-line English reason in err (for the
 * 400 response), or -2 when out of memory. *out is empty unless 0. */
int app_event_parse_publish(json_object *body, struct app_publish *out,
                            char *err, size_t errlen);
/* Same from the raw body text (len bytes, JSON nesting limited to 32).
 * Non-JSON text gives -1 with "body is not valid JSON". */
int app_event_parse_publish_text(const char *text, size_t len,
                                 struct app_publish *out, char *err,
                                 size_t errlen);
void app_publish_deinit(struct app_publish *p);

/* docs/events.md, generated from the table. A malloc'd text (free()) or
 * NULL when out of memory. */
char *app_events_markdown(void);

#endif
