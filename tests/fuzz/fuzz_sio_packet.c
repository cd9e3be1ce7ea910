/* fuzz_sio_packet.c: libFuzzer harness for the Socket.IO packet codec and
 * its JSON reader/writer (sio_packet.c) and the attachment reader
 * (sio_binary.c). The input is the text of one Socket.IO packet (an
 * Engine.IO message without its '4'). Besides "no crash, no sanitizer
 * report", it checks that a decoded packet re-encodes to text that decodes
 * to the same packet and the same JSON text, and that any JSON document
 * sio_json_parse accepts is written back in a form that is a fixed point. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "sio_binary.h"
#include "sio_int.h"
#include "sio_packet.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void check_packet(const char *in, size_t len,
                         const sio_packet_limits *lim) {
  sio_packet p, q;
  sio_buf e1, e2;
  char *nsp;
  int rv = sio_packet_decode(&p, in, len, lim);
  if (rv) {
    if (p.data ||
        (rv != SIO_ERR_PROTO && rv != SIO_ERR_LIMIT && rv != SIO_ERR_DEPTH))
      abort();
    return;
  }
  if ((unsigned)p.type > SIO_PACKET_BINARY_ACK || p.nsp_len == 0 ||
      p.nsp[0] != '/' || memchr(p.nsp, ',', p.nsp_len) ||
      (p.nattach != 0) != (p.type == SIO_PACKET_BINARY_EVENT ||
                           p.type == SIO_PACKET_BINARY_ACK))
    abort();
  sio_buf_init(&e1);
  sio_buf_init(&e2);
  nsp = malloc(p.nsp_len + 1);
  memcpy(nsp, p.nsp, p.nsp_len);
  nsp[p.nsp_len] = '\0';
  if (strlen(nsp) == p.nsp_len) { /* a NUL in the namespace cannot go back */
    if (sio_packet_encode(&e1, 0, p.type, nsp, p.id, p.nattach, p.data))
      abort();
    if (sio_packet_decode(&q, e1.data, e1.len, lim))
      abort();
    if (q.type != p.type || q.id != p.id || q.nattach != p.nattach ||
        q.nsp_len != p.nsp_len || memcmp(q.nsp, nsp, q.nsp_len) != 0)
      abort();
    if (sio_packet_encode(&e2, 0, q.type, nsp, q.id, q.nattach, q.data))
      abort();
    if (e1.len != e2.len || memcmp(e1.data, e2.data, e1.len) != 0)
      abort();
    sio_packet_clear(&q);
  }
  free(nsp);
  /* binary packets: validate placeholders, collect empty attachments */
  if (p.nattach) {
    sio_binary_reader r;
    sio_bin_part *parts;
    size_t n, i;
    sio_binary_reader_init(&r, 0);
    if (sio_binary_reader_start(&r, &p) == 0) {
      for (i = 0; i + 1 < p.nattach; i++)
        if (sio_binary_reader_add(&r, (const uint8_t *)in, i % (len + 1)) != 0)
          abort();
      if (sio_binary_reader_add(&r, NULL, 0) != 1)
        abort();
      sio_binary_reader_take(&r, &q, &parts, &n);
      if (n != q.nattach)
        abort();
      sio_packet_clear(&q);
      sio_binary_parts_free(parts, n);
    }
    sio_binary_reader_deinit(&r);
  }
  sio_packet_clear(&p);
  sio_buf_deinit(&e1);
  sio_buf_deinit(&e2);
}

static void check_json(const char *in, size_t len) {
  json_object *a = NULL, *b = NULL;
  sio_buf e1, e2;
  int rv = sio_json_parse(in, len, 0, &a);
  if (rv) {
    if (a)
      abort();
    return;
  }
  sio_buf_init(&e1);
  sio_buf_init(&e2);
  if (sio_json_append(&e1, a))
    abort();
  if (sio_json_parse(e1.data, e1.len, 0, &b))
    abort();
  if (sio_json_append(&e2, b))
    abort();
  if (e1.len != e2.len || memcmp(e1.data, e2.data, e1.len) != 0)
    abort();
  rv = sio_binary_count_placeholders(a, 4);
  if (rv < 0 && rv != SIO_ERR_PROTO)
    abort();
  json_object_put(a);
  json_object_put(b);
  sio_buf_deinit(&e1);
  sio_buf_deinit(&e2);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  static const sio_packet_limits tight = {2, 4};
  const char *in = (const char *)data;
  check_packet(in, size, NULL);
  check_packet(in, size, &tight);
  check_json(in, size);
  return 0;
}
