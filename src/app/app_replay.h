#ifndef APP_REPLAY_H
#define APP_REPLAY_H

/* Replay from the last event id (SPEC §3), the daemon's side: which events
 * the rooms' history keeps (those with an envelope event_id), the id a
 * reconnecting client presents, and the replays of connect and subscribe
 * with "since". libsio keeps the history and orders the replay against
 * live broadcasts (sio_socket_replay). */

#include <sio/sio.h>

struct app_loop;
struct app_sock;

/* Longest event id accepted; envelope ids are 36-byte UUIDs. */
#define APP_REPLAY_ID_MAX 128

/* Gives l->ns its history when replay.enabled. Returns 0 or -1. */
int app_replay_install(struct app_loop *l);

/* The last event id of a connecting client: auth.last_event_id, else the
 * last_event_id query parameter (borrowed). Returns 1 with *out a malloc'd
 * copy, 0 when none was given, -1 when one was given but is not an id (not
 * a string, empty or longer than APP_REPLAY_ID_MAX: replayed as unknown)
 * or out of memory. */
int app_replay_pick_since(json_object *auth, const char *query, char **out);

/* Sends connection.established with data (taken) to as's socket. When the
 * client presented a last event id (as->since, freed here) the data gets
 * "replayed" and "complete", and the missed events of the automatic rooms
 * follow it, before any newer event. */
void app_replay_established(struct app_sock *as, json_object *data);

/* subscribe with "since": replays the rooms the ack lists, then sends the
 * ack (taken) with "replayed" and "complete" through ack_id. */
void app_replay_subscribe(struct app_sock *as, const char *since,
                          json_object *ack, int64_t ack_id);

#endif
