/* fuzz_eio_payload.c: libFuzzer harness for the Engine.IO codecs
 * (eio_payload.c, eio_packet.c). The input is a polling POST body. Besides
 * "no crash, no sanitizer report", it checks that whatever decodes
 * re-encodes (eio_payload_append) to a payload that decodes to the same
 * packets. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "eio_payload.h"
#include "sio_int.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

typedef struct pkts {
  sio_buf enc;  /* the packets re-encoded as a payload */
  sio_buf flat; /* type, binary, len, bytes of every packet */
  size_t n;
} pkts;

static int record(const eio_packet *p, void *ud) {
  pkts *k = ud;
  uint8_t hdr[2] = {(uint8_t)p->type, (uint8_t)p->binary};
  uint64_t len = p->len;
  if ((unsigned)p->type > EIO_PACKET_NOOP || (p->binary && p->type != 4))
    abort();
  if (sio_buf_append(&k->flat, hdr, 2) ||
      sio_buf_append(&k->flat, &len, sizeof(len)) ||
      sio_buf_append(&k->flat, p->data, p->len))
    return SIO_ERR_NOMEM;
  if (p->binary) {
    if (eio_payload_append(&k->enc, k->n == 0, 1, p->data, p->len))
      return SIO_ERR_NOMEM;
  } else {
    eio_packet q = *p;
    sio_buf one;
    int rv;
    sio_buf_init(&one);
    rv = eio_packet_encode_text(&one, &q);
    if (!rv)
      rv = eio_payload_append(&k->enc, k->n == 0, 0, (uint8_t *)one.data,
                              one.len);
    sio_buf_deinit(&one);
    if (rv)
      return rv;
  }
  k->n++;
  return 0;
}

static void pkts_init(pkts *k) {
  sio_buf_init(&k->enc);
  sio_buf_init(&k->flat);
  k->n = 0;
}

static void pkts_deinit(pkts *k) {
  sio_buf_deinit(&k->enc);
  sio_buf_deinit(&k->flat);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  sio_buf scratch;
  pkts a, b;
  eio_packet p;
  int rv;
  sio_buf_init(&scratch);
  pkts_init(&a);
  pkts_init(&b);
  rv = eio_payload_decode(data, size, 0, &scratch, record, &a);
  if (rv == 0) {
    /* round trip: same packets again */
    rv = eio_payload_decode((const uint8_t *)a.enc.data, a.enc.len, 0, &scratch,
                            record, &b);
    if (rv != 0 || a.n != b.n || a.flat.len != b.flat.len ||
        memcmp(a.flat.data, b.flat.data, a.flat.len) != 0)
      abort();
    /* the record count limit is exact */
    if (eio_payload_decode(data, size, a.n, &scratch, record, &b) != 0)
      abort();
    if (a.n > 1 && eio_payload_decode(data, size, a.n - 1, &scratch, record,
                                      &b) != SIO_ERR_LIMIT)
      abort();
  } else if (rv != SIO_ERR_PROTO) {
    abort();
  }
  /* the same bytes as one WebSocket frame */
  if (eio_packet_decode_text(&p, data, size) == 0 &&
      (p.data != data + 1 || p.len != size - 1))
    abort();
  eio_packet_decode_binary(&p, data, size);
  pkts_deinit(&a);
  pkts_deinit(&b);
  sio_buf_deinit(&scratch);
  return 0;
}
