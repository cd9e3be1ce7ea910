#ifndef APP_POLICY_H
#define APP_POLICY_H

/* Room policy and the client commands' acks (SPEC §3 "Rooms" and "Client
 * commands"). Pure functions: they take the verified claims, the socket's
 * current rooms and the command payload (json-c), and return the exact ack
 * object to send plus the rooms the caller must join or leave. Nothing here
 * touches a socket.
 *
 * Rooms and who may join them:
 *   global         every authenticated socket (joined automatically)
 *   user:<sub>     only the user itself (joined automatically); another
 *                  user's user: room is forbidden to everyone, admins
 *                  included ("a socket may never join another user's user:
 *                  room")
 *   project:<id>   when the projects claim lists id or "*", or role admin
 *   agent:<id>     when the agents claim lists id or "*", or role admin
 *   anything else  forbidden (this also keeps clients out of other sockets'
 *                  id rooms)
 * A room name is 1..128 bytes of [A-Za-z0-9_.:-]; project:/agent:/user:
 * need a non-empty id.
 *
 * Commands (the ack is always sent):
 *   subscribe    {"room": "r"} | {"rooms": ["r", ...]} | "r" | ["r", ...]
 *                -> {"ok": true, "rooms": [requested rooms, deduplicated,
 *                   in request order]}
 *                All or nothing: if any room is invalid, forbidden, or the
 *                per-socket limit would be passed, nothing is joined and the
 *                ack is {"ok": false, "error": {"code": "invalid_room" |
 *                "forbidden" | "limit", "message": "..."}}.
 *                An object may add "since": "<event id>" (result.since):
 *                the rooms' missed events are replayed before the ack.
 *   unsubscribe  same shapes -> {"ok": true, "rooms": [requested rooms]}
 *                (leaving a room the socket is not in is not an error); the
 *                own user: room (and the socket's id room) cannot be left:
 *                code forbidden.
 *   ping         anything -> {"pong": true, "ts": <ms since epoch>}
 * A payload of any other shape, an empty list, a non-string item or more
 * than APP_POLICY_MAX_BATCH rooms gets code bad_request. */

#include <json-c/json.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "app_auth.h"

#define APP_ROOM_MAX 128          /* longest room name, in bytes */
#define APP_POLICY_MAX_BATCH 1000 /* most rooms in one command */
#define APP_POLICY_SINCE_MAX 128  /* longest "since" event id, in bytes */

/* True when s[0..n) is a valid room name: 1..APP_ROOM_MAX bytes of
 * [A-Za-z0-9_.:-]. s is borrowed. */
bool app_room_name_valid(const char *s, size_t n);

enum app_room_kind {
  APP_ROOM_GLOBAL,
  APP_ROOM_USER,
  APP_ROOM_PROJECT,
  APP_ROOM_AGENT,
  APP_ROOM_OTHER,
};

/* Classifies a room name; for user:/project:/agent: points *id (may be
 * NULL) into room at the id, of *id_len bytes (0 when empty). */
enum app_room_kind app_room_kind(const char *room, const char **id,
                                 size_t *id_len);

enum app_policy_verdict {
  APP_POLICY_ALLOW = 0,
  APP_POLICY_FORBIDDEN,
  APP_POLICY_INVALID, /* not a valid room name */
};

/* May a socket with claims c join room? Both borrowed. */
enum app_policy_verdict app_policy_may_join(const struct app_claims *c,
                                            const char *room);

/* Writes "user:<sub>" into buf (NUL-terminated). Returns 0, or -1 when it
 * does not fit in cap. */
int app_policy_user_room(const char *sub, char *buf, size_t cap);

/* What a command runs against. Everything is borrowed. */
struct app_policy_ctx {
  const struct app_claims *claims;
  const char *sid;          /* the socket's id room, or NULL */
  const char *const *rooms; /* the rooms the socket is in now */
  size_t n_rooms;
  size_t max_rooms; /* limits.max_rooms_per_socket; 0 = unlimited.
                       global, the own user: room and the id room are not
                       counted. */
};

struct app_policy_result {
  json_object *ack; /* owned: the ack payload */
  char **rooms;     /* owned, NULL-terminated: rooms to join (subscribe) or
                       leave (unsubscribe) now; empty on failure */
  size_t n_rooms;
  char *since; /* owned, subscribe only: the payload's "since" event id
                  (replay what the rooms got after it), or NULL */
};

/* Runs subscribe / unsubscribe. payload is borrowed (may be NULL: then the
 * ack is bad_request). Returns 0 with *out filled (the caller sends
 * out->ack, applies out->rooms, then app_policy_result_deinit), or -1 when
 * out of memory (*out is then empty). */
int app_policy_subscribe(const struct app_policy_ctx *ctx, json_object *payload,
                         struct app_policy_result *out);
int app_policy_unsubscribe(const struct app_policy_ctx *ctx,
                           json_object *payload, struct app_policy_result *out);
void app_policy_result_deinit(struct app_policy_result *r);

/* {"pong": true, "ts": now_ms}. Returns a new object or NULL (OOM). */
json_object *app_policy_ping_ack(int64_t now_ms);
/* {"ok": true, "rooms": [...]} with the n rooms copied. New object or NULL.
 */
json_object *app_policy_ok_ack(const char *const *rooms, size_t n);
/* {"ok": false, "error": {"code": code, "message": message}}; both copied.
 * Codes used by the daemon: forbidden, invalid_room, limit, bad_request,
 * rate_limited. New object or NULL. */
json_object *app_policy_error_ack(const char *code, const char *message);

#endif
