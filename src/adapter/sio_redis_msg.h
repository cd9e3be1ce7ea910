#ifndef SIO_REDIS_MSG_H
#define SIO_REDIS_MSG_H

/* PURE: the messages of the socket.io Redis adapter protocol, as
 * @socket.io/redis-adapter 8 and @socket.io/redis-emitter 5 write them
 * (msgpack through notepack.io, or JSON text), with msgpack-c.
 *
 * Channels (key defaults to "socket.io"):
 *   <key>#<nsp>#            broadcasts to everyone or to several rooms
 *   <key>#<nsp>#<room>#     broadcasts to exactly one room
 *   <key>-request#<nsp>#    requests (JSON text, BROADCAST in msgpack)
 *   <key>-response#<nsp>#   responses (JSON text, BROADCAST_ACK in msgpack)
 *   <key>-response#<nsp>#<uid>#  responses for one requester (an option of
 *                                the Node adapter; every v8 adapter listens)
 *
 * Broadcast message (msgpack):
 *   [uid, {type: 2, data: [event, ...args], nsp}, {rooms, except, flags}]
 * with binary arguments as msgpack bin inside data, flags an object such
 * as {} or {volatile: true} or {timeout: 2000}. The emitter writes the
 * options in the order rooms, flags, except and uid "emitter".
 *
 * Requests and responses: a JSON object with a numeric "type" (see
 * sio_redis_type) and the fields listed at sio_redis_request and
 * sio_redis_response; a message starting with '{' is JSON, anything else
 * msgpack (the adapter's own rule).
 *
 * Values cross into libsio as json-c objects in which every binary leaf
 * is replaced by a {"_placeholder":true,"num":i} object standing for
 * bins[i] (the representation sio_socket_emit takes), and leave it the
 * other way round, so binary arguments survive both directions. Decoding
 * bounds nesting, counts and sizes before msgpack-c allocates anything and
 * never aborts on malformed input; encoding writes what notepack.io writes
 * for the same JavaScript value (smallest integer forms, float64 for
 * non-integers, str8/bin8 and up, integer-like object keys first). */

#include <json-c/json.h>
#include <stddef.h>
#include <stdint.h>

#include "sio/sio.h"
#include "sio_buf.h"

/* RequestType of the Node adapter. */
typedef enum sio_redis_type {
  SIO_REDIS_SOCKETS = 0,
  SIO_REDIS_ALL_ROOMS = 1,
  SIO_REDIS_REMOTE_JOIN = 2,
  SIO_REDIS_REMOTE_LEAVE = 3,
  SIO_REDIS_REMOTE_DISCONNECT = 4,
  SIO_REDIS_REMOTE_FETCH = 5,
  SIO_REDIS_SERVER_SIDE_EMIT = 6,
  SIO_REDIS_BROADCAST = 7,
  SIO_REDIS_BROADCAST_CLIENT_COUNT = 8,
  SIO_REDIS_BROADCAST_ACK = 9
} sio_redis_type;

/* A zero field takes its default. */
typedef struct sio_redis_limits {
  int max_depth;   /* container nesting of a whole message, default 32 */
  size_t max_bins; /* binary leaves per message, default 256 */
} sio_redis_limits;

/* A decoded message: JSON with placeholders; bins point into the input
 * bytes (borrowed: valid as long as they are). */
typedef struct sio_redis_value {
  json_object *json; /* owned; NULL is JSON null */
  sio_bin *bins;     /* owned array */
  size_t nbins;
} sio_redis_value;

/* A list of strings borrowed from the message's json. */
typedef struct sio_redis_strv {
  const char **v; /* owned array; the strings are borrowed */
  size_t n;
} sio_redis_strv;

/* The broadcast options {rooms, except, flags}. */
typedef struct sio_redis_opts {
  sio_redis_strv rooms;
  sio_redis_strv except;
  int flags;       /* SIO_BCAST_VOLATILE when flags.volatile is true */
  int64_t timeout; /* flags.timeout in ms, -1 when absent */
} sio_redis_opts;

/* socket.io-parser's packet object {type, data, nsp, id}, an EVENT. */
typedef struct sio_redis_packet {
  int type;          /* 2 (EVENT) or 5 (BINARY_EVENT) */
  const char *nsp;   /* borrowed; "/" when absent */
  int64_t id;        /* -1 when absent */
  const char *event; /* borrowed; a numeric name in its String() form */
  json_object *args; /* owned: data[1..] (a new array sharing the items) */
} sio_redis_packet;

/* A message of a broadcast channel. */
typedef struct sio_redis_bcast {
  sio_redis_value root;
  const char *uid; /* borrowed from root */
  sio_redis_packet packet;
  sio_redis_opts opts;
  char event_buf[SIO_JSON_NUMBER_MAX]; /* packet.event for numeric names */
} sio_redis_bcast;

/* A message of a request channel. Which fields are set depends on type:
 *   SOCKETS            uid, request_id, rooms (a filter)
 *   ALL_ROOMS          uid, request_id
 *   REMOTE_JOIN/LEAVE  uid (absent from emitters), has_opts + opts and
 *                      rooms (to join/leave); or the legacy single-socket
 *                      form request_id, sid, room
 *   REMOTE_DISCONNECT  uid, has_opts + opts, close; or request_id, sid,
 *                      close
 *   REMOTE_FETCH       uid, request_id, has_opts + opts
 *   SERVER_SIDE_EMIT   uid, data ([event, ...args]), request_id when the
 *                      sender waits for acknowledgements
 *   BROADCAST          uid, request_id, packet, has_opts + opts
 * Any other type is returned as is (callers ignore it). */
typedef struct sio_redis_request {
  sio_redis_value root;
  int type;
  const char *uid;        /* borrowed; NULL when absent */
  const char *request_id; /* borrowed; NULL when absent */
  int has_opts;
  sio_redis_opts opts;
  sio_redis_strv rooms;
  const char *sid;  /* borrowed; NULL when absent */
  const char *room; /* borrowed; NULL when absent */
  int close;
  json_object *data; /* borrowed array; NULL when absent */
  int has_packet;
  sio_redis_packet packet;
  char event_buf[SIO_JSON_NUMBER_MAX];
} sio_redis_request;

/* A message of a response channel:
 *   SOCKETS / REMOTE_FETCH  {requestId, sockets: [...]} (ids / objects)
 *   ALL_ROOMS               {requestId, rooms: [...]}
 *   REMOTE_JOIN/LEAVE/DISCONNECT (legacy)  {requestId}
 *   SERVER_SIDE_EMIT        {type: 6, requestId, data}
 *   BROADCAST_CLIENT_COUNT  {type: 8, requestId, clientCount}
 *   BROADCAST_ACK           {type: 9, requestId, packet} (msgpack)
 * Only type 8 and 9 responses say their type; the others are known by
 * the request they answer. */
typedef struct sio_redis_response {
  sio_redis_value root;
  int type;               /* -1 when absent */
  const char *request_id; /* borrowed; never NULL after a decode */
  json_object *sockets;   /* borrowed array or NULL */
  json_object *rooms;     /* borrowed array or NULL */
  int has_data;
  json_object *data;    /* borrowed; SERVER_SIDE_EMIT's answer, NULL = null */
  int64_t client_count; /* -1 when absent */
  int has_packet;
  json_object *packet; /* borrowed; BROADCAST_ACK's answer (placeholders
                          index root.bins) */
} sio_redis_response;

/* ------------------------------------------------------------- channels */

/* Appends "<key>#<nsp>#", or "<key>#<nsp>#<room>#" when room is not NULL.
 * Strings borrowed. Returns 0 or SIO_ERR_NOMEM (out unchanged then). */
int sio_redis_channel(sio_buf *out, const char *key, const char *nsp,
                      const char *room);
/* Appends "<key>-request#<nsp>#". Returns 0 or SIO_ERR_NOMEM. */
int sio_redis_request_channel(sio_buf *out, const char *key, const char *nsp);
/* Appends "<key>-response#<nsp>#", followed by "<uid>#" when uid is not
 * NULL. Returns 0 or SIO_ERR_NOMEM. */
int sio_redis_response_channel(sio_buf *out, const char *key, const char *nsp,
                               const char *uid);
/* Appends the PSUBSCRIBE pattern matching every broadcast channel of nsp:
 * "<key>#<nsp>#*" with the glob characters of key and nsp escaped.
 * Returns 0 or SIO_ERR_NOMEM. */
int sio_redis_pattern(sio_buf *out, const char *key, const char *nsp);

/* ------------------------------------------------------------- decoding */

/* Decodes one whole message (msgpack, or JSON text when it starts with
 * '{') into v. in is borrowed and must outlive v->bins; lim (borrowed) may
 * be NULL. Returns 0 or: SIO_ERR_PROTO (malformed, trailing bytes, map
 * keys that are neither strings nor integers), SIO_ERR_DEPTH (nesting),
 * SIO_ERR_LIMIT (too many binary leaves), SIO_ERR_NOMEM. On error v owns
 * nothing. */
int sio_redis_value_decode(sio_redis_value *v, const uint8_t *in, size_t len,
                           const sio_redis_limits *lim);
/* Releases what v owns. NULL-safe fields; v may be reused after. */
void sio_redis_value_clear(sio_redis_value *v);

/* Decodes a broadcast-channel message. in borrowed (the result points into
 * it). Returns 0 or the errors of sio_redis_value_decode, or SIO_ERR_PROTO
 * when the shape is not [uid, packet, opts] with an EVENT packet whose data
 * starts with a string or number. On error m owns nothing. */
int sio_redis_bcast_decode(sio_redis_bcast *m, const uint8_t *in, size_t len,
                           const sio_redis_limits *lim);
/* Each _clear releases what a successful decode left in the struct (every
 * borrowed field goes with it); the struct may be decoded into again. */
void sio_redis_bcast_clear(sio_redis_bcast *m);

/* Decodes a request-channel message. in borrowed. Returns 0, the errors of
 * sio_redis_value_decode, or SIO_ERR_PROTO (not an object, no numeric
 * type, or a field of the wrong type for its request). On error r owns
 * nothing. */
int sio_redis_request_decode(sio_redis_request *r, const uint8_t *in,
                             size_t len, const sio_redis_limits *lim);
void sio_redis_request_clear(sio_redis_request *r);

/* Decodes a response-channel message. in borrowed. Returns 0, the errors
 * of sio_redis_value_decode, or SIO_ERR_PROTO (not an object, no string
 * requestId, a field of the wrong type). On error r owns nothing. */
int sio_redis_response_decode(sio_redis_response *r, const uint8_t *in,
                              size_t len, const sio_redis_limits *lim);
void sio_redis_response_clear(sio_redis_response *r);

/* ------------------------------------------------------------- encoding */

/* Every encoder appends to out (borrowed) and leaves it unchanged on
 * error; every other pointer is borrowed. args is a JSON array or NULL,
 * whose placeholders name bins[0..nbins). o may be NULL (no rooms, no
 * except); only SIO_BCAST_VOLATILE of o->flags is written (as
 * flags.volatile), and timeout_ms >= 0 adds flags.timeout. They return 0,
 * SIO_ERR_INVAL (event NULL, args not an array, a placeholder naming no
 * attachment), SIO_ERR_DEPTH (nested deeper than SIO_JSON_MAX_DEPTH) or
 * SIO_ERR_NOMEM. */

/* Writes v as msgpack, each placeholder as the bin it stands for. */
int sio_redis_pack_value(sio_buf *out, json_object *v, const sio_bin *bins,
                         size_t nbins);
/* The broadcast-channel message [uid, packet, opts] as the adapter writes
 * it (options in the order rooms, except, flags). */
int sio_redis_encode_bcast(sio_buf *out, const char *uid, const char *nsp,
                           const char *event, json_object *args,
                           const sio_bin *bins, size_t nbins,
                           const sio_broadcast_opts *o, int64_t timeout_ms);
/* BROADCAST request (msgpack) {uid, requestId, type, packet, opts}. */
int sio_redis_encode_bcast_request(sio_buf *out, const char *uid,
                                   const char *request_id, const char *nsp,
                                   const char *event, json_object *args,
                                   const sio_bin *bins, size_t nbins,
                                   const sio_broadcast_opts *o,
                                   int64_t timeout_ms);
/* JSON requests, keys in the adapter's order:
 *   REMOTE_JOIN / REMOTE_LEAVE  {uid, type, opts: {rooms, except}, rooms}
 *   REMOTE_DISCONNECT           {uid, type, opts, close}
 *   REMOTE_FETCH                {uid, requestId, type, opts}
 *   ALL_ROOMS                   {uid, requestId, type}
 *   SERVER_SIDE_EMIT            {uid, [requestId,] type, data}
 * uid may be NULL (omitted, as the emitter does for its requests). */
int sio_redis_encode_rooms_request(sio_buf *out, int type, const char *uid,
                                   const sio_broadcast_opts *o,
                                   const char *const *rooms, size_t nrooms);
int sio_redis_encode_disconnect_request(sio_buf *out, const char *uid,
                                        const sio_broadcast_opts *o, int close);
int sio_redis_encode_fetch_request(sio_buf *out, const char *uid,
                                   const char *request_id,
                                   const sio_broadcast_opts *o);
int sio_redis_encode_all_rooms_request(sio_buf *out, const char *uid,
                                       const char *request_id);
/* request_id NULL: no acknowledgement wanted. event and args make data. */
int sio_redis_encode_sse_request(sio_buf *out, const char *uid,
                                 const char *request_id, const char *event,
                                 json_object *args);
/* JSON responses:
 *   {requestId, <field>: value}   field "sockets" or "rooms"; field NULL
 *                                 writes {requestId} alone
 *   {type: 6, requestId, data}    data NULL is null
 *   {type: 8, requestId, clientCount} */
int sio_redis_encode_response(sio_buf *out, const char *request_id,
                              const char *field, json_object *value);
int sio_redis_encode_sse_response(sio_buf *out, const char *request_id,
                                  json_object *data);
int sio_redis_encode_client_count(sio_buf *out, const char *request_id,
                                  uint64_t count);
/* BROADCAST_ACK (msgpack) {type: 9, requestId, packet}: packet is a
 * client's first acknowledgement argument (NULL is null). */
int sio_redis_encode_bcast_ack(sio_buf *out, const char *request_id,
                               json_object *packet, const sio_bin *bins,
                               size_t nbins);

/* ------------------------------------------- the sharded adapter (v8.2) */

/* The messages of createShardedAdapter (@socket.io/redis-adapter >= 8.2,
 * the ClusterAdapter of socket.io-adapter 2.5). One envelope for every
 * message, requests and responses alike:
 *   {type, data, uid, nsp}      keys in this order
 * JSON text, except when data holds binary (then msgpack, binary leaves as
 * bin). Channels (sharded pub/sub, SPUBLISH / SSUBSCRIBE):
 *   <key>#<nsp>#          every request, and broadcasts to all / several
 *                         rooms / with acknowledgements
 *   <key>#<nsp>#<room>#   a broadcast without acknowledgements to exactly
 *                         one room ("dynamic" subscription modes)
 *   <key>#<nsp>#<uid>#    responses to the server with that uid
 * (sio_redis_channel builds all three.) */

/* ClusterAdapter's MessageType. */
typedef enum sio_redis_cluster_type {
  SIO_REDIS_CLUSTER_INITIAL_HEARTBEAT = 1,
  SIO_REDIS_CLUSTER_HEARTBEAT = 2,
  SIO_REDIS_CLUSTER_BROADCAST = 3,
  SIO_REDIS_CLUSTER_SOCKETS_JOIN = 4,
  SIO_REDIS_CLUSTER_SOCKETS_LEAVE = 5,
  SIO_REDIS_CLUSTER_DISCONNECT_SOCKETS = 6,
  SIO_REDIS_CLUSTER_FETCH_SOCKETS = 7,
  SIO_REDIS_CLUSTER_FETCH_SOCKETS_RESPONSE = 8,
  SIO_REDIS_CLUSTER_SERVER_SIDE_EMIT = 9,
  SIO_REDIS_CLUSTER_SERVER_SIDE_EMIT_RESPONSE = 10,
  SIO_REDIS_CLUSTER_BROADCAST_CLIENT_COUNT = 11,
  SIO_REDIS_CLUSTER_BROADCAST_ACK = 12,
  SIO_REDIS_CLUSTER_ADAPTER_CLOSE = 13
} sio_redis_cluster_type;

/* A decoded envelope. Which data fields are set depends on type:
 *   BROADCAST           packet, opts, request_id (with acknowledgements)
 *   SOCKETS_JOIN/LEAVE  opts, rooms
 *   DISCONNECT_SOCKETS  opts, close
 *   FETCH_SOCKETS       opts, request_id
 *   FETCH_SOCKETS_RESPONSE  request_id, sockets
 *   SERVER_SIDE_EMIT    sse ([event, ...args]), request_id (with acks)
 *   SERVER_SIDE_EMIT_RESPONSE, BROADCAST_ACK  request_id, answer
 *   BROADCAST_CLIENT_COUNT  request_id, client_count
 * Any other type is returned with the envelope fields only (callers
 * ignore it). */
typedef struct sio_redis_cluster_msg {
  sio_redis_value root;
  int type;
  const char *uid;        /* borrowed; NULL when absent */
  const char *nsp;        /* borrowed; NULL when absent */
  const char *request_id; /* borrowed; NULL when absent */
  sio_redis_opts opts;
  sio_redis_strv rooms;
  int close;
  sio_redis_packet packet;
  json_object *sse;     /* borrowed array */
  json_object *sockets; /* borrowed array */
  json_object *answer;  /* borrowed; NULL is null or absent */
  int64_t client_count;
  char event_buf[SIO_JSON_NUMBER_MAX];
} sio_redis_cluster_msg;

/* Decodes one envelope. in borrowed (the result points into it). Returns
 * 0, the errors of sio_redis_value_decode, or SIO_ERR_PROTO (not an
 * object, no numeric type, uid or nsp not strings, or data missing or of
 * the wrong shape for a known type). On error m owns nothing. */
int sio_redis_cluster_decode(sio_redis_cluster_msg *m, const uint8_t *in,
                             size_t len, const sio_redis_limits *lim);
void sio_redis_cluster_clear(sio_redis_cluster_msg *m);

/* Encoders, with the rules of the encoders above; uid and nsp are
 * required (SIO_ERR_INVAL). The data objects, keys in the reference's
 * order:
 *   BROADCAST       {packet: {type: 2, data: [event, ...args]},
 *                    [requestId,] opts: {rooms, except, flags}}
 *   SOCKETS_JOIN / SOCKETS_LEAVE  {opts, rooms}
 *   DISCONNECT_SOCKETS            {opts, close}
 *   FETCH_SOCKETS                 {opts, requestId}
 *   SERVER_SIDE_EMIT              {[requestId,] packet: [event, ...args]}
 *   FETCH_SOCKETS_RESPONSE        {requestId, sockets: value}
 *   SERVER_SIDE_EMIT_RESPONSE / BROADCAST_ACK  {requestId, packet: value}
 *   BROADCAST_CLIENT_COUNT        {requestId, clientCount}
 * flags is {} plus volatile: true (SIO_BCAST_VOLATILE) and timeout when
 * timeout_ms >= 0. The message is msgpack when nbins > 0, else JSON. */
int sio_redis_encode_cluster_bcast(sio_buf *out, const char *uid,
                                   const char *nsp, const char *request_id,
                                   const char *event, json_object *args,
                                   const sio_bin *bins, size_t nbins,
                                   const sio_broadcast_opts *o,
                                   int64_t timeout_ms);
/* type SIO_REDIS_CLUSTER_SOCKETS_JOIN or _LEAVE */
int sio_redis_encode_cluster_rooms(sio_buf *out, int type, const char *uid,
                                   const char *nsp, const sio_broadcast_opts *o,
                                   const char *const *rooms, size_t nrooms);
int sio_redis_encode_cluster_disconnect(sio_buf *out, const char *uid,
                                        const char *nsp,
                                        const sio_broadcast_opts *o, int close);
int sio_redis_encode_cluster_fetch(sio_buf *out, const char *uid,
                                   const char *nsp, const char *request_id,
                                   const sio_broadcast_opts *o);
/* request_id NULL: no acknowledgement wanted. */
int sio_redis_encode_cluster_sse(sio_buf *out, const char *uid, const char *nsp,
                                 const char *request_id, const char *event,
                                 json_object *args);
/* type FETCH_SOCKETS_RESPONSE, SERVER_SIDE_EMIT_RESPONSE or BROADCAST_ACK;
 * value NULL is null (placeholders in value name bins). */
int sio_redis_encode_cluster_answer(sio_buf *out, int type, const char *uid,
                                    const char *nsp, const char *request_id,
                                    json_object *value, const sio_bin *bins,
                                    size_t nbins);
int sio_redis_encode_cluster_client_count(sio_buf *out, const char *uid,
                                          const char *nsp,
                                          const char *request_id,
                                          uint64_t count);

#endif
