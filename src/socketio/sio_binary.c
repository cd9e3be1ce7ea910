/* sio_binary.c: binary attachments of BINARY_EVENT / BINARY_ACK packets
 * (socket.io-protocol README, "Packet encoding", the "with binary data"
 * examples). A header packet "51-[...]" announces N attachments that arrive
 * as the next N Engine.IO binary messages; in its JSON each attachment is
 * replaced by {"_placeholder":true,"num":i}. As in the reference parser, an
 * object is a placeholder when its "_placeholder" member is the boolean
 * true, and then its "num" must be an integer in [0, N); unlike the
 * reference, which tolerates it, a num used twice is rejected. Placeholders
 * stay in the JSON: the application receives the args and the attachment
 * array side by side, so nothing is rebuilt here. The reader copies the
 * header's namespace, since the Engine.IO message it points into is gone by
 * the time the last attachment arrives. */
#include "sio_binary.h"

#include <math.h>
#include <string.h>

#include "sio_int.h"
#include "sio_mem.h"

typedef struct ph_walk {
  size_t nattach;
  uint8_t *seen; /* one byte per attachment */
  int count;
} ph_walk;

static int placeholder_num(json_object *num, size_t nattach, size_t *out) {
  if (json_object_is_type(num, json_type_int)) {
    int64_t v = json_object_get_int64(num);
    if (v < 0 || (uint64_t)v >= nattach)
      return SIO_ERR_PROTO;
    *out = (size_t)v;
    return 0;
  }
  if (json_object_is_type(num, json_type_double)) {
    double d = json_object_get_double(num);
    if (!(d >= 0) || d != floor(d) || d >= (double)nattach)
      return SIO_ERR_PROTO;
    *out = (size_t)d;
    return 0;
  }
  return SIO_ERR_PROTO;
}

static int walk(ph_walk *w, json_object *v, int depth) {
  json_object *flag, *num;
  size_t i, n;
  int rv;
  if (json_object_is_type(v, json_type_array)) {
    if (depth >= SIO_JSON_MAX_DEPTH)
      return SIO_ERR_DEPTH;
    n = json_object_array_length(v);
    for (i = 0; i < n; i++) {
      rv = walk(w, json_object_array_get_idx(v, i), depth + 1);
      if (rv)
        return rv;
    }
    return 0;
  }
  if (!json_object_is_type(v, json_type_object))
    return 0;
  if (json_object_object_get_ex(v, "_placeholder", &flag) &&
      json_object_is_type(flag, json_type_boolean) &&
      json_object_get_boolean(flag)) {
    if (!json_object_object_get_ex(v, "num", &num))
      return SIO_ERR_PROTO;
    rv = placeholder_num(num, w->nattach, &i);
    if (rv)
      return rv;
    if (w->seen[i])
      return SIO_ERR_PROTO;
    w->seen[i] = 1;
    w->count++;
    return 0;
  }
  if (depth >= SIO_JSON_MAX_DEPTH)
    return SIO_ERR_DEPTH;
  {
    struct lh_entry *e;
    for (e = json_object_get_object(v)->head; e; e = e->next) {
      rv = walk(w, (json_object *)lh_entry_v(e), depth + 1);
      if (rv)
        return rv;
    }
  }
  return 0;
}

int sio_binary_count_placeholders(json_object *v, size_t nattach) {
  uint8_t small[64];
  ph_walk w;
  int rv;
  w.nattach = nattach;
  w.count = 0;
  w.seen = small;
  if (nattach > sizeof(small)) {
    w.seen = sio_calloc(nattach, 1);
    if (!w.seen)
      return SIO_ERR_NOMEM;
  } else {
    memset(small, 0, sizeof(small));
  }
  rv = walk(&w, v, 0);
  if (w.seen != small)
    sio_free(w.seen);
  return rv ? rv : w.count;
}

void sio_binary_reader_init(sio_binary_reader *r, size_t max_bytes) {
  memset(r, 0, sizeof(*r));
  r->pkt.id = -1;
  r->pkt.nsp = "/";
  r->pkt.nsp_len = 1;
  r->max_bytes = max_bytes;
}

void sio_binary_reader_deinit(sio_binary_reader *r) {
  size_t max_bytes = r->max_bytes;
  sio_packet_clear(&r->pkt);
  sio_binary_parts_free(r->parts, r->have);
  sio_free(r->nsp_buf);
  sio_binary_reader_init(r, max_bytes);
}

int sio_binary_reader_start(sio_binary_reader *r, sio_packet *pkt) {
  sio_bin_part *parts;
  char *nsp;
  int rv;
  if (r->active)
    return SIO_ERR_STATE;
  if ((pkt->type != SIO_PACKET_BINARY_EVENT &&
       pkt->type != SIO_PACKET_BINARY_ACK) ||
      pkt->nattach == 0 || !pkt->nsp)
    return SIO_ERR_INVAL;
  rv = sio_binary_count_placeholders(pkt->data, pkt->nattach);
  if (rv < 0)
    return rv;
  parts = sio_calloc(pkt->nattach, sizeof(*parts));
  if (!parts)
    return SIO_ERR_NOMEM;
  nsp = sio_strndup(pkt->nsp, pkt->nsp_len);
  if (!nsp) {
    sio_free(parts);
    return SIO_ERR_NOMEM;
  }
  sio_free(r->nsp_buf);
  r->nsp_buf = nsp;
  r->pkt = *pkt;
  r->pkt.nsp = nsp;
  r->parts = parts;
  r->have = 0;
  r->bytes = 0;
  r->active = 1;
  pkt->data = NULL;
  return 0;
}

int sio_binary_reader_add(sio_binary_reader *r, const uint8_t *data,
                          size_t len) {
  uint8_t *copy;
  if (!r->active || r->have >= r->pkt.nattach)
    return SIO_ERR_STATE;
  if (r->max_bytes && (len > r->max_bytes || r->bytes > r->max_bytes - len))
    return SIO_ERR_TOOBIG;
  copy = sio_malloc(len);
  if (!copy)
    return SIO_ERR_NOMEM;
  if (len)
    memcpy(copy, data, len);
  r->parts[r->have].data = copy;
  r->parts[r->have].len = len;
  r->have++;
  r->bytes += len;
  return r->have == r->pkt.nattach;
}

void sio_binary_reader_take(sio_binary_reader *r, sio_packet *pkt,
                            sio_bin_part **parts, size_t *nparts) {
  if (!r->active || r->have != r->pkt.nattach) {
    memset(pkt, 0, sizeof(*pkt));
    pkt->id = -1;
    pkt->nsp = "/";
    pkt->nsp_len = 1;
    *parts = NULL;
    *nparts = 0;
    return;
  }
  *pkt = r->pkt;
  *parts = r->parts;
  *nparts = r->have;
  r->pkt.data = NULL;
  r->parts = NULL;
  r->have = 0;
  r->bytes = 0;
  r->active = 0;
}

void sio_binary_parts_free(sio_bin_part *parts, size_t n) {
  size_t i;
  if (!parts)
    return;
  for (i = 0; i < n; i++)
    sio_free(parts[i].data);
  sio_free(parts);
}
