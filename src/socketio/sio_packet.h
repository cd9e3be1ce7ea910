#ifndef SIO_PACKET_H
#define SIO_PACKET_H

/* PURE: Socket.IO v5 packet <-> text with json-c (socket.io-protocol
 * README, "Packet encoding"):
 *   <type>[<attachments>-][<nsp>,][<id>][<JSON payload>]
 * The namespace is written only when it is not "/". Validation follows the
 * reference parser (socket.io-parser 4.x): CONNECT data must be an object
 * when present, DISCONNECT has none, CONNECT_ERROR is a string or object,
 * EVENT/BINARY_EVENT an array whose first item is a string that is not a
 * reserved name (connect, connect_error, disconnect, disconnecting,
 * newListener, removeListener) or a number, ACK/BINARY_ACK an array.
 * Stricter than the reference: an empty packet is an error (not CONNECT),
 * EVENT/ACK packets (binary ones too) must carry their array, only ASCII
 * digits make an id or an attachment count (1..max_attachments), and the
 * JSON may not start with whitespace (the reference reads "2 [..]" as ack
 * id 0). A decoded BINARY_EVENT/BINARY_ACK keeps its type (the reference
 * reports EVENT/ACK once the attachments are in; see sio_binary.h).

 *
 * The JSON payload is parsed and written by sio_json.h (what JSON.parse
 * accepts, what JSON.stringify writes). */

#include <json-c/json.h>
#include <stddef.h>
#include <stdint.h>

#include "sio_buf.h"
#include "sio_json.h"

typedef enum sio_packet_type {
  SIO_PACKET_CONNECT = 0,
  SIO_PACKET_DISCONNECT = 1,
  SIO_PACKET_EVENT = 2,
  SIO_PACKET_ACK = 3,
  SIO_PACKET_CONNECT_ERROR = 4,
  SIO_PACKET_BINARY_EVENT = 5,
  SIO_PACKET_BINARY_ACK = 6
} sio_packet_type;

/* A zero field takes its default. */
typedef struct sio_packet_limits {
  size_t max_attachments; /* default 10 */
  int max_depth;          /* JSON container nesting ([] is 1), default 32 */
} sio_packet_limits;

typedef struct sio_packet {
  sio_packet_type type;
  const char *nsp; /* borrowed from the input, or the static "/" */
  size_t nsp_len;
  int64_t id;        /* ack id, -1 when absent */
  size_t nattach;    /* attachments announced (binary types only) */
  json_object *data; /* owned (sio_packet_clear), NULL when absent */
} sio_packet;

/* Decodes one packet from text (the Engine.IO message without its '4').
 * lim (borrowed) may be NULL for defaults. Returns 0 or: SIO_ERR_PROTO
 * (any malformed or invalid packet), SIO_ERR_LIMIT (too many attachments,
 * id over 2^53 - 1), SIO_ERR_DEPTH (JSON nesting over the limit),
 * SIO_ERR_TOOBIG (a JSON string over 2 GiB), SIO_ERR_NOMEM. On error p
 * owns nothing. in is borrowed: p->nsp points into it (or is the static
 * "/") and is not NUL-terminated; p->data is owned by p. */
int sio_packet_decode(sio_packet *p, const char *in, size_t len,
                      const sio_packet_limits *lim);
/* Releases p->data and sets it to NULL. NULL-safe on the data field. */
void sio_packet_clear(sio_packet *p);

/* Appends the encoded packet to out (borrowed). eio_prefix adds the
 * Engine.IO message type '4' in front (what goes on the wire). nsp
 * (borrowed, NUL-terminated) NULL or "" means "/"; id < 0 means none; data
 * (borrowed) may be NULL. For BINARY_* types nattach is written. Returns 0,
 * SIO_ERR_INVAL (unknown type), SIO_ERR_DEPTH (data nested deeper than
 * SIO_JSON_MAX_DEPTH) or SIO_ERR_NOMEM; on error out is unchanged. */
int sio_packet_encode(sio_buf *out, int eio_prefix, sio_packet_type type,
                      const char *nsp, int64_t id, size_t nattach,
                      json_object *data);
/* The hot path of emit: appends an EVENT (BINARY_EVENT when nbins > 0)
 * whose payload is [event, ...args] without building a new JSON array.
 * event (borrowed) is a NUL-terminated UTF-8 string; args (borrowed) is an
 * array or NULL. Returns 0, SIO_ERR_INVAL (event NULL, args not an array),
 * SIO_ERR_DEPTH or SIO_ERR_NOMEM; on error out is unchanged. */
int sio_packet_encode_event(sio_buf *out, int eio_prefix, const char *nsp,
                            int64_t id, const char *event, json_object *args,
                            size_t nbins);
/* ACK (BINARY_ACK when nbins > 0) with payload args (borrowed; an array,
 * NULL means []). Returns 0, SIO_ERR_INVAL (args not an array),
 * SIO_ERR_DEPTH or SIO_ERR_NOMEM; on error out is unchanged. */
int sio_packet_encode_ack(sio_buf *out, int eio_prefix, const char *nsp,
                          int64_t id, json_object *args, size_t nbins);
/* 1 when the event name s[0..n) is reserved by the protocol and may be
 * neither received nor emitted: connect, connect_error, disconnect,
 * disconnecting, newListener, removeListener. */
int sio_event_name_reserved(const char *s, size_t n);

#endif
