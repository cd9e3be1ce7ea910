#ifndef SIO_CRYPTO_H
#define SIO_CRYPTO_H

/* The libcrypto calls libsio needs: SHA-1 for Sec-WebSocket-Accept and a
 * CSPRNG for sids, pids and hash seeds. */

#include <stddef.h>
#include <stdint.h>

/* Fills buf with n cryptographically random bytes. Returns 0 or SIO_ERR_IO. */
int sio_random_bytes(void *buf, size_t n);
/* SHA-1 of data into out (20 bytes). */
void sio_sha1(uint8_t out[20], const void *data, size_t n);
/* Writes a 20-character session id (URL-safe base64 of 15 random bytes) and
 * a NUL into out. Returns 0 or SIO_ERR_IO. */
int sio_random_id(char out[21]);

#endif
