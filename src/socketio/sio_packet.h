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
 * newListener, removeListener) or a number, ACK/BINARY_ACK an array. */

#include <json-c/json.h>
#include <stddef.h>
#include <stdint.h>

#include "sio_buf.h"

typedef enum sio_packet_type {
  SIO_PACKET_CONNECT = 0,
  SIO_PACKET_DISCONNECT = 1,
  SIO_PACKET_EVENT = 2,
  SIO_PACKET_ACK = 3,
  SIO_PACKET_CONNECT_ERROR = 4,
  SIO_PACKET_BINARY_EVENT = 5,
  SIO_PACKET_BINARY_ACK = 6
} sio_packet_type;

typedef struct sio_packet_limits {
  size_t max_attachments; /* default 10 */
  int max_depth;          /* JSON nesting, default 32 */
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
 * lim may be NULL for defaults. Returns 0 or: SIO_ERR_PROTO (any malformed
 * or invalid packet), SIO_ERR_LIMIT (too many attachments, id over 2^53),
 * SIO_ERR_DEPTH (JSON nesting over the limit), SIO_ERR_NOMEM. On error p
 * owns nothing. */
int sio_packet_decode(sio_packet *p, const char *in, size_t len,
                      const sio_packet_limits *lim);
/* Releases p->data. NULL-safe on the data field. */
void sio_packet_clear(sio_packet *p);

/* Appends the encoded packet. eio_prefix adds the Engine.IO message type
 * '4' in front (what goes on the wire). nsp NULL means "/"; id < 0 means
 * none; data (borrowed) may be NULL. For BINARY_* types nattach is written.
 * Returns 0 or SIO_ERR_NOMEM. */
int sio_packet_encode(sio_buf *out, int eio_prefix, sio_packet_type type,
                      const char *nsp, int64_t id, size_t nattach,
                      json_object *data);
/* The hot path of emit: appends an EVENT (BINARY_EVENT when nbins > 0)
 * whose payload is [event, ...args] without building a new JSON array.
 * args (borrowed) is an array or NULL. Returns 0 or SIO_ERR_NOMEM. */
int sio_packet_encode_event(sio_buf *out, int eio_prefix, const char *nsp,
                            int64_t id, const char *event, json_object *args,
                            size_t nbins);
/* ACK (BINARY_ACK when nbins > 0) with payload args (NULL means []). */
int sio_packet_encode_ack(sio_buf *out, int eio_prefix, const char *nsp,
                          int64_t id, json_object *args, size_t nbins);
/* Appends v as JSON text the way JavaScript's JSON.stringify writes it (no
 * spaces, "/" unescaped). Returns 0 or SIO_ERR_NOMEM. */
int sio_json_append(sio_buf *out, json_object *v);

#endif
