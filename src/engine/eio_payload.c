/* eio_payload.c: HTTP long-polling payloads (engine.io-protocol README,
 * "Packet encoding" / "HTTP long-polling"). A payload is one or more
 * records joined by the record separator \x1e; each record is a text
 * packet ("4hello") or, for a binary message, "b" followed by the base64
 * of its bytes. The decoder checks the record count against max_packets
 * before delivering anything, so a payload over the limit has no effect;
 * any other bad record stops decoding after the records before it were
 * delivered (as the reference parser does, which stops at its first error
 * packet). */
#include "eio_payload.h"

#include <string.h>

#include "sio_int.h"
#include "sio_util.h"

static int decode_record(eio_packet *p, const uint8_t *rec, size_t n,
                         sio_buf *scratch) {
  long dec;
  int rv;
  if (n == 0)
    return SIO_ERR_PROTO;
  if (rec[0] != 'b')
    return eio_packet_decode_text(p, rec, n);
  n--;
  rec++;
  sio_buf_reset(scratch);
  rv = sio_buf_reserve(scratch, n / 4 * 3 + 3);
  if (rv)
    return rv;
  dec = sio_base64_decode((uint8_t *)scratch->data, (const char *)rec, n);
  if (dec < 0)
    return SIO_ERR_PROTO;
  scratch->len = (size_t)dec;
  scratch->data[dec] = '\0';
  eio_packet_decode_binary(p, (const uint8_t *)scratch->data, (size_t)dec);
  return 0;
}

int eio_payload_decode(const uint8_t *in, size_t len, size_t max_packets,
                       sio_buf *scratch, eio_payload_cb cb, void *ud) {
  const uint8_t *end = in + len, *rec = in;
  if (len == 0)
    return SIO_ERR_PROTO;
  if (max_packets) {
    size_t count = 1;
    const uint8_t *q = in;
    while ((q = memchr(q, EIO_RECORD_SEPARATOR, (size_t)(end - q))) != NULL) {
      q++;
      if (++count > max_packets)
        return SIO_ERR_LIMIT;
    }
  }
  for (;;) {
    const uint8_t *sep = memchr(rec, EIO_RECORD_SEPARATOR, (size_t)(end - rec));
    size_t n = sep ? (size_t)(sep - rec) : (size_t)(end - rec);
    eio_packet p;
    int rv = decode_record(&p, rec, n, scratch);
    if (rv)
      return rv;
    rv = cb(&p, ud);
    if (rv)
      return rv;
    if (!sep)
      return 0;
    rec = sep + 1;
  }
}

int eio_payload_append(sio_buf *out, int first, int binary, const uint8_t *data,
                       size_t len) {
  int rv;
  size_t need = (first ? 0 : 1) + (binary ? 1 + sio_base64_len(len) : len);
  if (binary && len > (SIZE_MAX - 2) / 4 * 3 - 3)
    return SIO_ERR_NOMEM;
  rv = sio_buf_reserve(out, need);
  if (rv)
    return rv;
  if (!first)
    sio_buf_append_byte(out, (uint8_t)EIO_RECORD_SEPARATOR);
  if (!binary)
    return sio_buf_append(out, data, len);
  sio_buf_append_byte(out, 'b');
  return sio_base64_append(out, data, len);
}
