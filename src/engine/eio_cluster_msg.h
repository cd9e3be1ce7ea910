#ifndef EIO_CLUSTER_MSG_H
#define EIO_CLUSTER_MSG_H

/* PURE: the messages of @socket.io/cluster-engine 0.1 (RedisEngine), by
 * which Engine.IO servers without sticky sessions carry a request for a
 * session to the server that owns it. Each message is the msgpack
 * (@msgpack/msgpack 2.8) of one map, keys in this order (the order of
 * engine.ts's object literals):
 *   requestId    uint, only in ACQUIRE_LOCK(_RESPONSE), UPGRADE(_RESPONSE),
 *                and then first
 *   senderId     str, the sending node's id (6 hex digits)
 *   recipientId  str, absent only in ACQUIRE_LOCK (sent to every node)
 *   type         uint, eio_cm_type
 *   data         map, per type:
 *     ACQUIRE_LOCK          {sid, transportName, type: "read"|"write"}
 *     ACQUIRE_LOCK_RESPONSE {success: bool}
 *     DRAIN                 {sid, packets: [packet...]}
 *     PACKET                {sid, packet}
 *     UPGRADE               {sid, success: bool}
 *     UPGRADE_RESPONSE      {takeOver: bool, packets: [packet...]}
 *     CLOSE                 {sid, reason}
 *   _source      str "_eio" (the RedisEngine adds it last; other sources
 *                are ignored)
 * A message relayed by setupPrimaryWithRedis has a "_primaryId" after
 * _source (ignored here).
 *
 * A packet is an engine.io-parser Packet: {type: "open"|"close"|"ping"|
 * "pong"|"message"|"upgrade"|"noop", options?: {...}, data?: str|bin};
 * binary data is msgpack bin. DRAIN packets are what the owner's
 * Socket.sendPacket queued, {type, options: {compress: bool, ...}, data}
 * (socket.io broadcasts add preEncoded, volatile and wsPreEncodedFrame to
 * options); PACKET and UPGRADE_RESPONSE packets are what engine.io-parser
 * decoded from the client, {type, data} without options. engine.io's
 * transports read options only as `packet.options && ...`, so a packet
 * without them is sent fine (a polling response is then not compressed).
 * Node writes a text packet with empty data without the data key; it may
 * also forward engine.io-parser's {type: "error", data: "parser error"},
 * which has no eio_packet_type (SIO_ERR_PROTO here).
 *
 * Messages without a recipient go to the channel "<prefix>#", the others
 * to "<prefix>#<recipientId>#" (prefix "engine.io").
 *
 * Decoding is tolerant as a msgpack reader is (key order, extra keys,
 * int vs uint widths, an integral float where an integer is due, a nil
 * value as no value, the last of two equal keys) and strict about what it
 * needs: a wrong type or a missing key is SIO_ERR_PROTO; so is what
 * @msgpack/msgpack's decode throws on (trailing bytes, 0xc1, a map key
 * neither string nor number, "__proto__", a timestamp ext of a bad size)
 * and a value of the top map nested more than 64 containers deep (Node
 * has no limit; the protocol's messages nest 6 deep). senderId and sid
 * must not be empty; the recipient is not required (the Node nodes route
 * by channel and never read it). A bool absent or nil is false (engine.ts's
 * success can be undefined, and JSON relaying drops undefined members).
 * Decoded strings and packet data point into the decoder's storage (a
 * copy of the input), valid until eio_cm_decoded_free. */

#include <stddef.h>
#include <stdint.h>

#include "eio_packet.h"
#include "sio_buf.h"

#define EIO_CM_SOURCE "_eio"
#define EIO_CM_PREFIX "engine.io"
#define EIO_CM_NODE_ID_LEN 6
/* packets in one DRAIN or UPGRADE_RESPONSE */
#define EIO_CM_PACKETS_MAX 4096

typedef enum eio_cm_type {
  EIO_CM_ACQUIRE_LOCK = 0,
  EIO_CM_ACQUIRE_LOCK_RESPONSE = 1,
  EIO_CM_DRAIN = 2,
  EIO_CM_PACKET = 3,
  EIO_CM_UPGRADE = 4,
  EIO_CM_UPGRADE_RESPONSE = 5,
  EIO_CM_CLOSE = 6
} eio_cm_type;

/* A string view; s is not NUL-terminated unless said. */
typedef struct eio_cm_str {
  const char *s;
  size_t len;
} eio_cm_str;

typedef struct eio_cm_msg {
  eio_cm_type type;
  eio_cm_str sender;
  eio_cm_str recipient; /* len 0: none (ACQUIRE_LOCK; absent or nil) */
  int has_request_id;
  uint64_t request_id;
  eio_cm_str sid;       /* ACQUIRE_LOCK, DRAIN, PACKET, UPGRADE, CLOSE */
  eio_cm_str transport; /* ACQUIRE_LOCK: "polling", "websocket"... */
  int write;            /* ACQUIRE_LOCK: 1 "write", 0 "read" */
  int success;          /* ACQUIRE_LOCK_RESPONSE, UPGRADE */
  int take_over;        /* UPGRADE_RESPONSE */
  eio_cm_str reason;    /* CLOSE */
  /* DRAIN, UPGRADE_RESPONSE: npackets of them; PACKET: exactly one. A
   * packet whose data is absent has data NULL and len 0. Binary data is a
   * message packet with binary set. */
  const eio_packet *packets;
  size_t npackets;
} eio_cm_msg;

/* Decoder storage: holds what a decoded message points into. */
typedef struct eio_cm_decoded {
  eio_cm_msg msg;
  void *priv; /* owned */
} eio_cm_decoded;

/* Decodes one message (exactly len bytes of one msgpack value). Returns 0
 * (d filled, free it with eio_cm_decoded_free), SIO_ERR_PROTO (not
 * msgpack, trailing bytes, not a map, a key of the wrong type, a missing
 * key, a type past CLOSE, more than EIO_CM_PACKETS_MAX packets, a packet
 * type name not known, binary data on a packet that is not a message),
 * SIO_ERR_UNSUPPORTED (well formed, a map, but _source is not "_eio":
 * another program's message on the channel; checked before the other
 * fields) or SIO_ERR_NOMEM (one allocation: the packets and a copy of in);
 * on error d needs no freeing. d is borrowed and filled; in is borrowed for
 * the call only. */
int eio_cm_decode(eio_cm_decoded *d, const uint8_t *in, size_t len);
/* Frees what d owns (d borrowed, NULL-safe) and zeroes it. */
void eio_cm_decoded_free(eio_cm_decoded *d);

/* Appends the msgpack of m (borrowed) to out, keys in the order above,
 * _source last, byte for byte what a Node node publishes: DRAIN packets as
 * {type, options: {compress: true}, data}, PACKET and UPGRADE_RESPONSE
 * packets as {type, data}; a text packet's data is omitted when NULL, a
 * binary packet's is always written (bin). requestId is written for the
 * four types that have one (has_request_id is ignored for the others), the
 * recipient whenever it is not empty. Returns 0, SIO_ERR_INVAL (a field
 * the type needs is missing: empty sender, sid or transport, no recipient
 * where one is needed, no request id where one is needed; a type past
 * CLOSE; a PACKET with npackets not 1, more than EIO_CM_PACKETS_MAX
 * packets, a packet type past NOOP, binary data on a packet that is not a
 * message, a NULL pointer with a non-zero length) or SIO_ERR_NOMEM; on
 * error out is unchanged. */
int eio_cm_encode(sio_buf *out, const eio_cm_msg *m);

/* Appends the channel of m's recipient ("engine.io#" when recipient is
 * NULL or empty, else "engine.io#<recipient>#") to out, NUL-terminated.
 * prefix (borrowed) NULL or "" means EIO_CM_PREFIX (Node's
 * `channelPrefix || "engine.io"`); recipient is borrowed. Returns 0,
 * SIO_ERR_INVAL (recipient->s NULL with a non-zero length) or
 * SIO_ERR_NOMEM; on error out is unchanged. */
int eio_cm_channel(sio_buf *out, const char *prefix,
                   const eio_cm_str *recipient);

/* The packet type's name ("message", "error"), or NULL past ERROR. */
const char *eio_cm_packet_type_name(eio_packet_type t);

#endif
