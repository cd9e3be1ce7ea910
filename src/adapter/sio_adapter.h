#ifndef SIO_ADAPTER_INT_H
#define SIO_ADAPTER_INT_H

/* The adapter layer's dispatch (sio_adapter.c): the public cluster calls
 * of <sio/sio.h> (broadcast, socketsJoin/Leave, disconnectSockets,
 * fetchSockets, allRooms, serverCount, serverSideEmit, broadcast with
 * acknowledgements) run their local part on the namespace's room index
 * (the in-memory adapter) and hand the rest to the installed adapter
 * (<sio/adapter.h>), merging what comes back.
 *
 * The helpers below are the in-memory adapter's answers to what other
 * instances ask; an adapter such as sio_adapter_redis.c uses them to
 * serve requests. All run on the loop thread and borrow their pointer
 * arguments unless stated. */

#include <json-c/json.h>
#include <stddef.h>

#include "sio/adapter.h"
#include "sio/sio.h"

/* Makes the selected local sockets join (leave = 0) or leave rooms.
 * Returns the number of sockets affected, SIO_ERR_INVAL or SIO_ERR_NOMEM
 * (then nothing changed). */
int sio_adapter_apply_rooms(sio_namespace *ns, const sio_broadcast_opts *o,
                            const char *const *rooms, size_t nrooms, int leave);
/* Disconnects the selected local sockets (close_transport as
 * sio_socket_disconnect). Returns the number of sockets, SIO_ERR_INVAL or
 * SIO_ERR_NOMEM (then nothing changed). */
int sio_adapter_apply_disconnect(sio_namespace *ns, const sio_broadcast_opts *o,
                                 int close_transport);

/* A local socket the way the reference adapter answers REMOTE_FETCH:
 * {"id", "handshake", "rooms", "data"}. Returns a new object (the caller
 * owns it) or NULL when out of memory. */
json_object *sio_adapter_socket_json(sio_socket *s);
/* The selected local sockets as an array of sio_adapter_socket_json
 * objects. When socks is not NULL, *socks receives a sio_malloc'ed array
 * of the same sockets, each referenced (release with
 * sio_adapter_release_sockets). Returns the array or NULL (out of
 * memory). */
json_object *sio_adapter_local_sockets(sio_namespace *ns,
                                       const sio_broadcast_opts *o,
                                       sio_socket ***socks, size_t *nsocks);
/* Drops one reference on each of socks[0..n) and frees the array (takes
 * ownership of it). NULL-safe. */
void sio_adapter_release_sockets(sio_socket **socks, size_t n);
/* The ids of the local sockets in any of rooms (all when nrooms is 0):
 * a new array, or NULL when out of memory. */
json_object *sio_adapter_local_ids(sio_namespace *ns, const char *const *rooms,
                                   size_t nrooms);
/* This instance's rooms of ns, socket id rooms included (the reference's
 * adapter.rooms keys): a new array, or NULL when out of memory. */
json_object *sio_adapter_local_rooms(sio_namespace *ns);
/* Reads one socket object of a fetch answer into *info, borrowing from
 * obj; *rooms receives the room array info->rooms points to (sio_free it).
 * Returns 0, SIO_ERR_PROTO (no string id, rooms not strings) or
 * SIO_ERR_NOMEM. */
int sio_adapter_info_from_json(json_object *obj, sio_socket_info *info,
                               const char ***rooms);
/* Hands another instance's server-side event to ns's handler. data is
 * [event, ...args] (borrowed). With want_ack, returns 1 and sets *ack
 * (owned by the caller) when the handler answered, else 0. */
int sio_adapter_server_event(sio_namespace *ns, json_object *data, int want_ack,
                             json_object **ack);

#endif
