#ifndef SIO_TLS_H
#define SIO_TLS_H

/* Native TLS (HTTPS/WSS) with libssl over memory BIOs: sio_conn feeds the
 * ciphertext it reads into the SSL object and hands the plaintext up; at
 * flush time the queued plaintext is encrypted and the records leave as one
 * write. TLS 1.2 is the minimum version. */

#include <stddef.h>

#include "sio_conn.h"

typedef struct sio_tls_ctx sio_tls_ctx;

/* Loads a PEM certificate (cert_file, may hold the chain too), its private
 * key and an optional extra chain file (NULL or ""); TLS 1.2 and 1.3 are
 * accepted, 1.3 only with tls13_only. On failure writes a
 * message naming the file into err. Returns 0, SIO_ERR_IO (unreadable or
 * invalid file, key not matching the certificate) or SIO_ERR_NOMEM. */
int sio_tls_ctx_new(sio_tls_ctx **out, const char *cert_file,
                    const char *key_file, const char *chain_file,
                    int tls13_only, char *err, size_t errlen);
void sio_tls_ctx_del(sio_tls_ctx *t);

/* Makes c a TLS server connection (before sio_conn_start). Returns 0 or
 * SIO_ERR_NOMEM. The SSL object is freed with the connection. */
int sio_tls_attach(sio_conn *c, sio_tls_ctx *t);

/* The client side (sio_dial.h): a context for outgoing connections that
 * verifies the server's certificate against ca_file (PEM; NULL or "":
 * the system's default CA paths) and its name, and presents a client
 * certificate when cert_file and key_file are given (NULL or "": none).
 * TLS 1.2 minimum. On failure writes a message naming the file into err.
 * Returns 0, SIO_ERR_IO or SIO_ERR_NOMEM. */
typedef struct sio_tls_client_ctx sio_tls_client_ctx;
int sio_tls_client_ctx_new(sio_tls_client_ctx **out, const char *ca_file,
                           const char *cert_file, const char *key_file,
                           char *err, size_t errlen);
void sio_tls_client_ctx_del(sio_tls_client_ctx *t);

/* Used by sio_dial.c: makes c a TLS client connection for the server
 * called name (SNI, unless an IP address, and the name or address its
 * certificate must match). Returns 0 or SIO_ERR_NOMEM. */
int sio_tls_client_attach(sio_conn *c, sio_tls_client_ctx *t,
                          const char *name);

/* Why the last TLS failure on this loop happened ("certificate not
 * accepted: unable to get local issuer certificate", "TLS error: tlsv13
 * alert certificate required"): valid right after sio_tls_on_read
 * returned SIO_ERR_PROTO. */
const char *sio_tls_last_failure(void);

/* Used by sio_conn.c. */
/* A client connection is connected: writes the ClientHello into the
 * pending ciphertext. Returns 0 or SIO_ERR_PROTO. */
int sio_tls_client_hello(sio_conn *c);
/* Decrypts ciphertext, calling c->ops->on_read with plaintext. Returns 0 or
 * SIO_ERR_PROTO (handshake or record failure: close the connection). */
int sio_tls_on_read(sio_conn *c, const uint8_t *data, size_t len);
/* Encrypts n plaintext bytes into the pending ciphertext. 0 or an error. */
int sio_tls_encrypt(sio_conn *c, const void *p, size_t n);
/* Moves pending ciphertext out: returns a malloc'ed buffer (sio_free) and
 * its length in *len, or NULL when there is none (*len 0) or no memory
 * for it (*len not 0: the ciphertext would be lost, so the caller fails
 * the connection). */
uint8_t *sio_tls_take_output(sio_conn *c, size_t *len);
/* Seals a close_notify alert into the pending ciphertext. */
void sio_tls_shutdown(sio_conn *c);
void sio_tls_free(sio_conn *c);
/* A session taken out of its connection (sio_conn_hand_off). NULL-safe. */
void sio_tls_free_session(struct ssl_st *ssl);
/* 1 when the session holds records not yet written out. */
int sio_tls_has_output(struct ssl_st *ssl);

#endif
