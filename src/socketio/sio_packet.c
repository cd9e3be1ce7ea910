/* sio_packet.c: Socket.IO v5 packets <-> text (socket.io-protocol README,
 * "Packet encoding" / "Format"):
 *
 *   <type>[<attachments>-][<nsp>,][<id>][<JSON payload>]
 *
 * Decoding follows the reference parser of socket.io 4.8 (socket.io-parser
 * 4.2): a type digit 0-6; for the binary types a decimal attachment count
 * of 1..max_attachments ended by '-'; a namespace when the next byte is
 * '/', running to the next ',' (consumed) or to the end; an ack id made of
 * digits; then, if anything is left, a JSON payload that must parse and be
 * valid for the type (see sio_packet.h). We are stricter than the reference
 * where it is lax by accident: an empty packet is not a CONNECT, only ASCII
 * digits make an id or a count, EVENT/ACK packets need their array, and
 * whitespace before the JSON is refused (the reference takes it for an ack
 * id, since JavaScript's Number(" ") is 0).
 *
 * The JSON payload is read and written by sio_json (JavaScript's JSON.parse
 * and JSON.stringify, not json-c's tokener and writer). */
#include "sio_packet.h"

#include <string.h>

#include "sio_int.h"
#include "sio_mem.h"

#define SIO_DEFAULT_MAX_ATTACHMENTS 10
#define SIO_MAX_SAFE_INTEGER 9007199254740991LL /* 2^53 - 1 */

/* ------------------------------------------------------------------ */
/* Packets                                                              */

int sio_event_name_reserved(const char *s, size_t n) {
  static const char *const names[] = {"connect",     "connect_error",
                                      "disconnect",  "disconnecting",
                                      "newListener", "removeListener"};
  size_t i;
  for (i = 0; i < SIO_ARRLEN(names); i++)
    if (strlen(names[i]) == n && memcmp(names[i], s, n) == 0)
      return 1;
  return 0;
}

static int payload_valid(sio_packet_type type, json_object *d) {
  json_type t = d ? json_object_get_type(d) : json_type_null;
  json_object *first;
  switch (type) {
  case SIO_PACKET_CONNECT:
    return !d || t == json_type_object;
  case SIO_PACKET_DISCONNECT:
    return !d;
  case SIO_PACKET_CONNECT_ERROR:
    return !d || t == json_type_string || t == json_type_object;
  case SIO_PACKET_EVENT:
  case SIO_PACKET_BINARY_EVENT:
    if (t != json_type_array || json_object_array_length(d) == 0)
      return 0;
    first = json_object_array_get_idx(d, 0);
    if (json_object_is_type(first, json_type_int) ||
        json_object_is_type(first, json_type_double))
      return 1;
    return json_object_is_type(first, json_type_string) &&
           !sio_event_name_reserved(json_object_get_string(first),
                                    (size_t)json_object_get_string_len(first));
  case SIO_PACKET_ACK:
  case SIO_PACKET_BINARY_ACK:
    return t == json_type_array;
  }
  return 0;
}

int sio_packet_decode(sio_packet *p, const char *in, size_t len,
                      const sio_packet_limits *lim) {
  size_t max_att = SIO_DEFAULT_MAX_ATTACHMENTS, i = 1, j;
  int max_depth = SIO_JSON_DEFAULT_DEPTH, rv;
  const uint8_t *s = (const uint8_t *)in;
  if (lim && lim->max_attachments)
    max_att = lim->max_attachments;
  if (lim && lim->max_depth > 0)
    max_depth = SIO_MIN(lim->max_depth, SIO_JSON_MAX_DEPTH);
  p->data = NULL;
  p->nattach = 0;
  p->id = -1;
  p->nsp = "/";
  p->nsp_len = 1;
  if (len == 0 || s[0] < '0' || s[0] > '6')
    return SIO_ERR_PROTO;
  p->type = (sio_packet_type)(s[0] - '0');
  if (p->type == SIO_PACKET_BINARY_EVENT || p->type == SIO_PACKET_BINARY_ACK) {
    size_t n = 0;
    for (j = i; j < len && s[j] >= '0' && s[j] <= '9'; j++)
      if (n <= max_att) /* saturates just past the limit */
        n = n > (SIZE_MAX - 9) / 10 ? SIZE_MAX : n * 10 + (size_t)(s[j] - '0');
    if (j == i || j == len || s[j] != '-' || n == 0)
      return SIO_ERR_PROTO;
    if (n > max_att)
      return SIO_ERR_LIMIT;
    p->nattach = n;
    i = j + 1;
  }
  if (i < len && s[i] == '/') {
    const uint8_t *comma = memchr(s + i, ',', len - i);
    j = comma ? (size_t)(comma - s) : len;
    p->nsp = in + i;
    p->nsp_len = j - i;
    i = comma ? j + 1 : j;
  }
  if (i < len && s[i] >= '0' && s[i] <= '9') {
    int64_t id = 0;
    for (; i < len && s[i] >= '0' && s[i] <= '9'; i++) {
      id = id * 10 + (s[i] - '0');
      if (id > SIO_MAX_SAFE_INTEGER)
        return SIO_ERR_LIMIT;
    }
    p->id = id;
  }
  if (i < len) {
    /* the reference reads leading whitespace as part of an ack id (JS
     * Number(" ") is 0); we refuse it rather than guess */
    if (s[i] == ' ' || s[i] == '\t' || s[i] == '\n' || s[i] == '\r')
      return SIO_ERR_PROTO;
    rv = sio_json_parse((const char *)s + i, len - i, max_depth, &p->data);
    if (rv)
      return rv;
    if (!p->data) { /* a literal null is never a valid payload */
      return SIO_ERR_PROTO;
    }
  }
  if (!payload_valid(p->type, p->data)) {
    sio_packet_clear(p);
    return SIO_ERR_PROTO;
  }
  return 0;
}

void sio_packet_clear(sio_packet *p) {
  json_object_put(p->data);
  p->data = NULL;
}

/* Truncates out back to len after a failed append. */
static int rollback(sio_buf *out, size_t len, int rv) {
  if (rv)
    sio_buf_truncate(out, len);
  return rv;
}

static int encode_head(sio_buf *out, int eio_prefix, sio_packet_type type,
                       const char *nsp, int64_t id, size_t nattach) {
  int rv = 0;
  if ((unsigned)type > SIO_PACKET_BINARY_ACK)
    return SIO_ERR_INVAL;
  if (eio_prefix)
    rv = sio_buf_append_byte(out, '4');
  if (!rv)
    rv = sio_buf_append_byte(out, (uint8_t)('0' + type));
  if (!rv &&
      (type == SIO_PACKET_BINARY_EVENT || type == SIO_PACKET_BINARY_ACK)) {
    rv = sio_buf_append_u64(out, nattach);
    if (!rv)
      rv = sio_buf_append_byte(out, '-');
  }
  if (!rv && nsp && nsp[0] && strcmp(nsp, "/") != 0) {
    rv = sio_buf_append_str(out, nsp);
    if (!rv)
      rv = sio_buf_append_byte(out, ',');
  }
  if (!rv && id >= 0)
    rv = sio_buf_append_u64(out, (uint64_t)id);
  return rv;
}

int sio_packet_encode(sio_buf *out, int eio_prefix, sio_packet_type type,
                      const char *nsp, int64_t id, size_t nattach,
                      json_object *data) {
  size_t len0 = out->len;
  int rv = encode_head(out, eio_prefix, type, nsp, id, nattach);
  if (!rv && data)
    rv = sio_json_write(out, data, 0);
  return rollback(out, len0, rv);
}

int sio_packet_encode_event(sio_buf *out, int eio_prefix, const char *nsp,
                            int64_t id, const char *event, json_object *args,
                            size_t nbins) {
  size_t len0 = out->len, i, n = 0;
  int rv;
  if (!event || (args && !json_object_is_type(args, json_type_array)))
    return SIO_ERR_INVAL;
  rv = encode_head(out, eio_prefix,
                   nbins ? SIO_PACKET_BINARY_EVENT : SIO_PACKET_EVENT, nsp, id,
                   nbins);
  if (!rv)
    rv = sio_buf_append_byte(out, '[');
  if (!rv)
    rv = sio_json_append_string(out, event, strlen(event));
  if (args)
    n = json_object_array_length(args);
  for (i = 0; !rv && i < n; i++) {
    rv = sio_buf_append_byte(out, ',');
    if (!rv)
      rv = sio_json_write(out, json_object_array_get_idx(args, i), 1);
  }
  if (!rv)
    rv = sio_buf_append_byte(out, ']');
  return rollback(out, len0, rv);
}

int sio_packet_encode_ack(sio_buf *out, int eio_prefix, const char *nsp,
                          int64_t id, json_object *args, size_t nbins) {
  size_t len0 = out->len;
  int rv;
  if (args && !json_object_is_type(args, json_type_array))
    return SIO_ERR_INVAL;
  rv = encode_head(out, eio_prefix,
                   nbins ? SIO_PACKET_BINARY_ACK : SIO_PACKET_ACK, nsp, id,
                   nbins);
  if (!rv)
    rv = args ? sio_json_write(out, args, 0) : sio_buf_append(out, "[]", 2);
  return rollback(out, len0, rv);
}
