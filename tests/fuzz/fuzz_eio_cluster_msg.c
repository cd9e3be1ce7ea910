/* fuzz_eio_cluster_msg.c: libFuzzer harness for the messages of
 * @socket.io/cluster-engine (eio_cluster_msg.c), fed what another node,
 * or another program on the same Redis channels, could publish. The first
 * byte picks the input:
 *   0x00..0xef  the whole input is a message: it decodes or fails with
 *               SIO_ERR_PROTO / SIO_ERR_UNSUPPORTED (and then owns
 *               nothing); a decoded message keeps the header's promises,
 *               encodes again (unless it lacks a recipient the encoder
 *               requires), the encoding decodes to the same message and
 *               encodes to the same bytes;
 *   0xf0..0xff  (never a message: a negative fixint) the rest describes
 *               an eio_cm_msg, which either encodes to bytes that decode
 *               to it or is refused with SIO_ERR_INVAL.
 * Besides those, "no crash, no sanitizer report, no leak". */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "eio_cluster_msg.h"
#include "sio_int.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static int str_same(eio_cm_str a, eio_cm_str b) {
  return a.len == b.len && (a.len == 0 || memcmp(a.s, b.s, a.len) == 0);
}

/* a and b are one message: the fields a's type has */
static int msg_same(const eio_cm_msg *a, const eio_cm_msg *b) {
  eio_cm_type t = a->type;
  int req = t == EIO_CM_ACQUIRE_LOCK || t == EIO_CM_ACQUIRE_LOCK_RESPONSE ||
            t == EIO_CM_UPGRADE || t == EIO_CM_UPGRADE_RESPONSE;
  int pks =
      t == EIO_CM_DRAIN || t == EIO_CM_PACKET || t == EIO_CM_UPGRADE_RESPONSE;
  size_t i;
  if (t != b->type || !str_same(a->sender, b->sender) ||
      !str_same(a->recipient, b->recipient))
    return 0;
  if (req && (!b->has_request_id || a->request_id != b->request_id))
    return 0;
  if (t != EIO_CM_ACQUIRE_LOCK_RESPONSE && t != EIO_CM_UPGRADE_RESPONSE &&
      !str_same(a->sid, b->sid))
    return 0;
  if (t == EIO_CM_ACQUIRE_LOCK &&
      (!str_same(a->transport, b->transport) || !a->write != !b->write))
    return 0;
  if ((t == EIO_CM_ACQUIRE_LOCK_RESPONSE || t == EIO_CM_UPGRADE) &&
      !a->success != !b->success)
    return 0;
  if (t == EIO_CM_UPGRADE_RESPONSE && !a->take_over != !b->take_over)
    return 0;
  if (t == EIO_CM_CLOSE && !str_same(a->reason, b->reason))
    return 0;
  if (!pks)
    return b->npackets == 0;
  if (a->npackets != b->npackets)
    return 0;
  for (i = 0; i < a->npackets; i++) {
    const eio_packet *p = &a->packets[i], *q = &b->packets[i];
    if (p->type != q->type || !p->binary != !q->binary || p->len != q->len ||
        (p->len && memcmp(p->data, q->data, p->len)) ||
        (!p->binary && !p->data != !q->data))
      return 0;
  }
  return 1;
}

/* What eio_cluster_msg.h promises of a decoded message. */
static void check_decoded(const eio_cm_decoded *d) {
  const eio_cm_msg *m = &d->msg;
  size_t i;
  if (!d->priv || m->sender.len == 0 || (unsigned)m->type > EIO_CM_CLOSE ||
      m->npackets > EIO_CM_PACKETS_MAX || (m->npackets && !m->packets) ||
      (!m->npackets && m->packets))
    abort();
  if (m->type == EIO_CM_PACKET && m->npackets != 1)
    abort();
  if (m->type != EIO_CM_PACKET && m->type != EIO_CM_DRAIN &&
      m->type != EIO_CM_UPGRADE_RESPONSE && m->npackets)
    abort();
  if (m->type != EIO_CM_ACQUIRE_LOCK_RESPONSE &&
      m->type != EIO_CM_UPGRADE_RESPONSE && m->sid.len == 0)
    abort();
  if (m->type == EIO_CM_ACQUIRE_LOCK && m->transport.len == 0)
    abort();
  for (i = 0; i < m->npackets; i++) {
    const eio_packet *p = &m->packets[i];
    if ((unsigned)p->type > EIO_PACKET_ERROR ||
        (m->type == EIO_CM_DRAIN && p->type == EIO_PACKET_ERROR) ||
        !eio_cm_packet_type_name(p->type) ||
        (p->binary && p->type != EIO_PACKET_MESSAGE) || (p->len && !p->data) ||
        (p->binary && !p->data))
      abort();
  }
}

static void check_message(const uint8_t *in, size_t len) {
  eio_cm_decoded d, e;
  sio_buf a, b;
  int rv = eio_cm_decode(&d, in, len);
  if (rv) {
    if ((rv != SIO_ERR_PROTO && rv != SIO_ERR_UNSUPPORTED) || d.priv ||
        d.msg.packets)
      abort();
    return;
  }
  check_decoded(&d);
  sio_buf_init(&a);
  sio_buf_init(&b);
  if (eio_cm_channel(&a, NULL, &d.msg.recipient))
    abort();
  sio_buf_reset(&a);
  rv = eio_cm_encode(&a, &d.msg);
  if (rv) {
    /* the decoder does not require the recipient, the encoder does */
    if (rv != SIO_ERR_INVAL || d.msg.recipient.len ||
        d.msg.type == EIO_CM_ACQUIRE_LOCK)
      abort();
  } else {
    if (eio_cm_decode(&e, (const uint8_t *)a.data, a.len))
      abort();
    if (!msg_same(&d.msg, &e.msg) || eio_cm_encode(&b, &e.msg) ||
        a.len != b.len || memcmp(a.data, b.data, a.len))
      abort();
    eio_cm_decoded_free(&e);
  }
  sio_buf_deinit(&a);
  sio_buf_deinit(&b);
  eio_cm_decoded_free(&d);
  if (d.priv)
    abort();
}

/* ------------------------------------------------ structured messages */

typedef struct src {
  const uint8_t *p;
  size_t n;
} src;

static unsigned take(src *s) {
  unsigned v;
  if (!s->n)
    return 0;
  v = *s->p++;
  s->n--;
  return v;
}

/* a string of the next byte's length (or NULL, or a bad NULL+len) */
static eio_cm_str take_str(src *s) {
  eio_cm_str v = {NULL, 0};
  unsigned n = take(s);
  if (n == 0xff)
    return v;
  if (n == 0xfe) {
    v.len = 1; /* NULL with a length: INVAL */
    return v;
  }
  if (n > s->n)
    n = (unsigned)s->n;
  v.s = (const char *)s->p;
  v.len = n;
  s->p += n;
  s->n -= n;
  return v;
}

static void check_built(const uint8_t *in, size_t len) {
  eio_packet pk[40];
  eio_cm_msg m;
  eio_cm_decoded d;
  sio_buf out;
  src s = {in, len};
  unsigned flags;
  size_t i;
  int rv;
  memset(&m, 0, sizeof(m));
  m.type = (eio_cm_type)(take(&s) % 8); /* 7: INVAL */
  flags = take(&s);
  m.has_request_id = flags & 1;
  m.write = flags & 2;
  m.success = flags & 4;
  m.take_over = flags & 8;
  for (i = 0; i < 8; i++)
    m.request_id = m.request_id << 8 | take(&s);
  m.request_id >>= take(&s) % 64;
  m.sender = take_str(&s);
  m.recipient = take_str(&s);
  m.sid = take_str(&s);
  m.transport = take_str(&s);
  m.reason = take_str(&s);
  m.npackets = take(&s) % (SIO_ARRLEN(pk) + 1);
  m.packets = flags & 0x80 ? NULL : pk;
  for (i = 0; i < m.npackets; i++) {
    unsigned t = take(&s);
    eio_cm_str v = take_str(&s);
    pk[i].type = (eio_packet_type)(t % 9); /* 8: INVAL */
    pk[i].binary = (t >> 3) & 1;
    pk[i].data = (const uint8_t *)v.s;
    pk[i].len = v.len;
  }
  sio_buf_init(&out);
  rv = eio_cm_encode(&out, &m);
  if (rv == 0) {
    if (eio_cm_decode(&d, (const uint8_t *)out.data, out.len))
      abort();
    check_decoded(&d);
    if (!msg_same(&m, &d.msg))
      abort();
    eio_cm_decoded_free(&d);
  } else if (rv != SIO_ERR_INVAL || out.len) {
    abort();
  }
  sio_buf_deinit(&out);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  if (size == 0)
    return 0;
  if (data[0] < 0xf0)
    check_message(data, size);
  else
    check_built(data + 1, size - 1);
  return 0;
}
