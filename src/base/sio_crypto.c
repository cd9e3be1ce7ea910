/* sio_crypto.c: thin wrappers over libcrypto. */
#include "sio_crypto.h"

#include <openssl/rand.h>
#include <openssl/sha.h>

#include "sio_int.h"

int sio_random_bytes(void *buf, size_t n) {
  return RAND_bytes(buf, (int)n) == 1 ? 0 : SIO_ERR_IO;
}

void sio_sha1(uint8_t out[20], const void *data, size_t n) {
  SHA1(data, n, out);
}

int sio_random_id(char out[21]) {
  static const char abc[] =
      "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
  uint8_t r[15];
  int i, o = 0;
  if (sio_random_bytes(r, sizeof(r)))
    return SIO_ERR_IO;
  for (i = 0; i < 15; i += 3) {
    uint32_t v = (uint32_t)r[i] << 16 | (uint32_t)r[i + 1] << 8 | r[i + 2];
    out[o++] = abc[v >> 18];
    out[o++] = abc[(v >> 12) & 63];
    out[o++] = abc[(v >> 6) & 63];
    out[o++] = abc[v & 63];
  }
  out[o] = '\0';
  return 0;
}
