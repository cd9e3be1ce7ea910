#ifndef EIO_PACKET_H
#define EIO_PACKET_H

/* PURE: one Engine.IO v4 packet <-> bytes (engine.io-protocol README,
 * "Packet encoding"). A text packet is "<type digit>[data]"; over WebSocket
 * a binary frame is a binary message packet with no prefix; in a polling
 * payload a binary message is "b" + base64(data). */

#include <stddef.h>
#include <stdint.h>

#include "sio_buf.h"

typedef enum eio_packet_type {
  EIO_PACKET_OPEN = 0,
  EIO_PACKET_CLOSE = 1,
  EIO_PACKET_PING = 2,
  EIO_PACKET_PONG = 3,
  EIO_PACKET_MESSAGE = 4,
  EIO_PACKET_UPGRADE = 5,
  EIO_PACKET_NOOP = 6,
  /* never on the wire: engine.io-parser's {type: "error"} for a payload it
   * could not decode, which a node of @socket.io/cluster-engine forwards
   * to the session's owner (eio_cluster_msg) so that it closes the
   * session with "parse error" */
  EIO_PACKET_ERROR = 7
} eio_packet_type;

typedef struct eio_packet {
  eio_packet_type type;
  int binary;          /* 1 for a binary message */
  const uint8_t *data; /* borrowed from the decoded input */
  size_t len;
} eio_packet;

/* Decodes a WebSocket text frame (or one text record of a polling payload):
 * first byte '0'..'6', the rest is data. A leading 'b' (base64 binary) is
 * not accepted here: only polling payloads carry it (eio_payload_decode).
 * Returns 0 or SIO_ERR_PROTO (empty input, unknown type). p (borrowed) is
 * filled; in is borrowed and p->data points into it. */
int eio_packet_decode_text(eio_packet *p, const uint8_t *in, size_t len);
/* A WebSocket binary frame: a binary message whose data is the frame.
 * Cannot fail; p->data points into in (borrowed). */
void eio_packet_decode_binary(eio_packet *p, const uint8_t *in, size_t len);

/* Appends the text form "<type>data" of p (borrowed) to out (borrowed).
 * Returns 0, SIO_ERR_INVAL (p->binary set, or a type past NOOP) or
 * SIO_ERR_NOMEM; on error out is unchanged. */
int eio_packet_encode_text(sio_buf *out, const eio_packet *p);

#endif
