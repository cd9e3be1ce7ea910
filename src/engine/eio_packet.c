/* eio_packet.c: one Engine.IO v4 packet <-> bytes (engine.io-protocol
 * README, "Protocol" for the packet types and "Packet encoding" /
 * "WebSocket" for the framing). A text packet is one type digit followed
 * by its data; a WebSocket binary frame is a message packet whose data is
 * the frame, with no type byte. The "b" + base64 form of binary messages
 * exists only inside polling payloads and is handled by eio_payload.c.
 * Nothing here allocates except the output buffer. */
#include "eio_packet.h"

#include "sio_int.h"

int eio_packet_decode_text(eio_packet *p, const uint8_t *in, size_t len) {
  if (len == 0 || in[0] < '0' || in[0] > '6')
    return SIO_ERR_PROTO;
  p->type = (eio_packet_type)(in[0] - '0');
  p->binary = 0;
  p->data = in + 1;
  p->len = len - 1;
  return 0;
}

void eio_packet_decode_binary(eio_packet *p, const uint8_t *in, size_t len) {
  p->type = EIO_PACKET_MESSAGE;
  p->binary = 1;
  p->data = in;
  p->len = len;
}

int eio_packet_encode_text(sio_buf *out, const eio_packet *p) {
  int rv;
  if (p->binary || (unsigned)p->type > EIO_PACKET_NOOP || (p->len && !p->data))
    return SIO_ERR_INVAL;
  rv = sio_buf_reserve(out, p->len + 1);
  if (rv)
    return rv;
  rv = sio_buf_append_byte(out, (uint8_t)('0' + p->type));
  if (!rv)
    rv = sio_buf_append(out, p->data, p->len);
  return rv;
}
