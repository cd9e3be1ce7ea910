#ifndef EIO_PAYLOAD_H
#define EIO_PAYLOAD_H

/* PURE: HTTP long-polling payloads, records separated by \x1e; a record
 * starting with 'b' is a base64 binary message (engine.io-protocol README,
 * "HTTP long-polling" under "Packet encoding"). */

#include <stddef.h>
#include <stdint.h>

#include "eio_packet.h"
#include "sio_buf.h"

#define EIO_RECORD_SEPARATOR '\x1e'

/* Called once per decoded packet; p and its data are borrowed for the call.
 * Return 0 to go on; any other value stops decoding and is returned. */
typedef int (*eio_payload_cb)(const eio_packet *p, void *ud);

/* Splits a POST body into packets, base64-decoding binary records into
 * scratch (reused between records). An empty body, an empty record, an
 * unknown packet type or bad base64 is SIO_ERR_PROTO; at most max_packets
 * records are accepted (more: SIO_ERR_LIMIT, found before any packet is
 * delivered; 0 means no limit). Returns 0, SIO_ERR_PROTO, SIO_ERR_LIMIT,
 * SIO_ERR_NOMEM or the callback's value. Packets before a bad record have
 * already been delivered. in is borrowed (text packets point into it);
 * scratch (borrowed, initialised, must not be NULL) holds the bytes of the
 * current binary packet and is overwritten by the next one; ud is passed
 * through. */
int eio_payload_decode(const uint8_t *in, size_t len, size_t max_packets,
                       sio_buf *scratch, eio_payload_cb cb, void *ud);

/* Appends one packet to a payload being built in out (borrowed), preceded
 * by the separator when first is 0. A text packet's bytes are given in full
 * ("4hello", as sent over WebSocket); a binary one as raw data, written as
 * "b" + base64. data is copied. Returns 0 or SIO_ERR_NOMEM; on error out
 * is unchanged. */
int eio_payload_append(sio_buf *out, int first, int binary, const uint8_t *data,
                       size_t len);

#endif
