/* sio_tls.c: TLS for sio_conn through OpenSSL memory BIOs.
 *
 * Reads: ciphertext -> rbio -> SSL_read -> plaintext upcall (in a loop-wide
 * buffer, like plain reads). The handshake advances inside SSL_read; any
 * records it produces (ServerHello, session tickets...) are taken from wbio
 * and queued raw at once, so records always leave in the order they were
 * sealed.
 * Writes: sio_conn keeps queuing plaintext chunks; when it starts a write it
 * encrypts them all (SSL_write) and sends the resulting records instead, so
 * the one-write-in-flight rule and coalescing hold for TLS too. */
#include "sio_tls.h"

#include <openssl/err.h>
#include <openssl/ssl.h>
#include <openssl/x509v3.h>
#include <stdio.h>
#include <string.h>

#include "sio_dial.h"

#include "sio_int.h"
#include "sio_log.h"
#include "sio_mem.h"

struct sio_tls_ctx {
  SSL_CTX *ctx;
};

struct sio_tls_client_ctx {
  SSL_CTX *ctx;
};

#define TLS_PLAIN_BUF 16384

static void ssl_err(char *err, size_t errlen, const char *what,
                    const char *file) {
  unsigned long e = ERR_get_error();
  char buf[256] = "";
  if (e)
    ERR_error_string_n(e, buf, sizeof(buf));
  snprintf(err, errlen, "%s %s: %s", what, file, buf[0] ? buf : "failed");
  ERR_clear_error();
}

int sio_tls_ctx_new(sio_tls_ctx **out, const char *cert_file,
                    const char *key_file, const char *chain_file,
                    int tls13_only, char *err, size_t errlen) {
  sio_tls_ctx *t = sio_calloc(1, sizeof(*t));
  if (!t)
    return SIO_ERR_NOMEM;
  t->ctx = SSL_CTX_new(TLS_server_method());
  if (!t->ctx) {
    sio_free(t);
    return SIO_ERR_NOMEM;
  }
  SSL_CTX_set_min_proto_version(t->ctx,
                                tls13_only ? TLS1_3_VERSION : TLS1_2_VERSION);
  SSL_CTX_set_options(t->ctx, SSL_OP_NO_RENEGOTIATION |
                                  SSL_OP_CIPHER_SERVER_PREFERENCE);
  SSL_CTX_set_mode(t->ctx, SSL_MODE_RELEASE_BUFFERS);
  if (SSL_CTX_use_certificate_chain_file(t->ctx, cert_file) != 1) {
    ssl_err(err, errlen, "certificate", cert_file);
    goto fail;
  }
  if (chain_file && *chain_file) {
    FILE *f = fopen(chain_file, "r");
    X509 *x;
    if (!f) {
      snprintf(err, errlen, "chain %s: cannot open", chain_file);
      goto fail;
    }
    while ((x = PEM_read_X509(f, NULL, NULL, NULL)) != NULL) {
      if (SSL_CTX_add_extra_chain_cert(t->ctx, x) != 1) {
        X509_free(x);
        fclose(f);
        ssl_err(err, errlen, "chain", chain_file);
        goto fail;
      }
    }
    ERR_clear_error();
    fclose(f);
  }
  if (SSL_CTX_use_PrivateKey_file(t->ctx, key_file, SSL_FILETYPE_PEM) != 1) {
    ssl_err(err, errlen, "private key", key_file);
    goto fail;
  }
  if (SSL_CTX_check_private_key(t->ctx) != 1) {
    ssl_err(err, errlen, "private key does not match certificate", key_file);
    goto fail;
  }
  *out = t;
  return 0;
fail:
  SSL_CTX_free(t->ctx);
  sio_free(t);
  return SIO_ERR_IO;
}

void sio_tls_ctx_del(sio_tls_ctx *t) {
  if (!t)
    return;
  SSL_CTX_free(t->ctx);
  sio_free(t);
}

int sio_tls_client_ctx_new(sio_tls_client_ctx **out, const char *ca_file,
                           const char *cert_file, const char *key_file,
                           char *err, size_t errlen) {
  int have_cert = cert_file && *cert_file, have_key = key_file && *key_file;
  sio_tls_client_ctx *t;
  if (have_cert != have_key) {
    snprintf(err, errlen,
             "client certificate %s: needs both a certificate "
             "and its key",
             have_cert ? cert_file : key_file);
    return SIO_ERR_IO;
  }
  t = sio_calloc(1, sizeof(*t));
  if (!t)
    return SIO_ERR_NOMEM;
  t->ctx = SSL_CTX_new(TLS_client_method());
  if (!t->ctx) {
    sio_free(t);
    return SIO_ERR_NOMEM;
  }
  SSL_CTX_set_min_proto_version(t->ctx, TLS1_2_VERSION);
  SSL_CTX_set_options(t->ctx, SSL_OP_NO_RENEGOTIATION);
  SSL_CTX_set_mode(t->ctx, SSL_MODE_RELEASE_BUFFERS);
  SSL_CTX_set_verify(t->ctx, SSL_VERIFY_PEER, NULL);
  if (ca_file && *ca_file) {
    if (SSL_CTX_load_verify_locations(t->ctx, ca_file, NULL) != 1) {
      ssl_err(err, errlen, "CA certificates", ca_file);
      goto fail;
    }
  } else if (SSL_CTX_set_default_verify_paths(t->ctx) != 1) {
    ssl_err(err, errlen, "CA certificates", "(system default)");
    goto fail;
  }
  if (have_cert) {
    if (SSL_CTX_use_certificate_chain_file(t->ctx, cert_file) != 1) {
      ssl_err(err, errlen, "client certificate", cert_file);
      goto fail;
    }
    if (SSL_CTX_use_PrivateKey_file(t->ctx, key_file, SSL_FILETYPE_PEM) != 1) {
      ssl_err(err, errlen, "client private key", key_file);
      goto fail;
    }
    if (SSL_CTX_check_private_key(t->ctx) != 1) {
      ssl_err(err, errlen, "client key does not match certificate", key_file);
      goto fail;
    }
  }
  *out = t;
  return 0;
fail:
  SSL_CTX_free(t->ctx);
  sio_free(t);
  return SIO_ERR_IO;
}

void sio_tls_client_ctx_del(sio_tls_client_ctx *t) {
  if (!t)
    return;
  SSL_CTX_free(t->ctx);
  sio_free(t);
}

/* An SSL object over a pair of memory BIOs. */
static SSL *ssl_new(SSL_CTX *ctx) {
  SSL *ssl = SSL_new(ctx);
  BIO *r, *w;
  if (!ssl)
    return NULL;
  r = BIO_new(BIO_s_mem());
  w = BIO_new(BIO_s_mem());
  if (!r || !w) {
    BIO_free(r);
    BIO_free(w);
    SSL_free(ssl);
    return NULL;
  }
  BIO_set_mem_eof_return(r, -1);
  SSL_set_bio(ssl, r, w);
  return ssl;
}

int sio_tls_attach(sio_conn *c, sio_tls_ctx *t) {
  SSL *ssl = ssl_new(t->ctx);
  if (!ssl)
    return SIO_ERR_NOMEM;
  SSL_set_accept_state(ssl);
  c->ssl = ssl;
  return 0;
}

static int is_ip_literal(const char *name) {
  unsigned char buf[sizeof(struct in6_addr)];
  return uv_inet_pton(AF_INET, name, buf) == 0 ||
         uv_inet_pton(AF_INET6, name, buf) == 0;
}

int sio_tls_client_attach(sio_conn *c, sio_tls_client_ctx *t,
                          const char *name) {
  SSL *ssl = ssl_new(t->ctx);
  X509_VERIFY_PARAM *param;
  int ok;
  if (!ssl)
    return SIO_ERR_NOMEM;
  param = SSL_get0_param(ssl);
  X509_VERIFY_PARAM_set_hostflags(param, X509_CHECK_FLAG_NO_PARTIAL_WILDCARDS);
  /* an address is matched against the certificate's IP entries, and is
   * never sent as SNI (RFC 6066 §3) */
  if (is_ip_literal(name))
    ok = X509_VERIFY_PARAM_set1_ip_asc(param, name) == 1;
  else
    ok = X509_VERIFY_PARAM_set1_host(param, name, 0) == 1 &&
         SSL_set_tlsext_host_name(ssl, name) == 1;
  if (!ok) {
    ERR_clear_error();
    SSL_free(ssl);
    return SIO_ERR_NOMEM;
  }
  SSL_set_connect_state(ssl);
  c->ssl = ssl;
  return 0;
}

int sio_tls_client_hello(sio_conn *c) {
  int r = SSL_do_handshake(c->ssl);
  if (r <= 0 && SSL_get_error(c->ssl, r) != SSL_ERROR_WANT_READ) {
    ERR_clear_error();
    return SIO_ERR_PROTO;
  }
  return 0;
}

/* Queues whatever the SSL object wrote (handshake records, alerts). */
static int flush_handshake(sio_conn *c) {
  size_t n;
  uint8_t *p;
  int rv = 0;
  if (!SSL_is_server(c->ssl)) {
    /* A client (sio_dial) may have plaintext queued, unencrypted, from
     * before the handshake ended (written while dialing, or from the dial
     * callback): a raw chunk behind it would not leave before it (the
     * handshake stalls) or would leave after records sealed later. The
     * flush takes these records from the SSL object before it encrypts
     * that plaintext, so they leave in the order they were sealed. */
    if (BIO_ctrl_pending(SSL_get_wbio(c->ssl)))
      sio_conn_flush_soon(c);
    return 0;
  }
  p = sio_tls_take_output(c, &n);
  if (!p)
    return n ? SIO_ERR_NOMEM : 0;
  rv = sio_conn_write_raw(c, p, n);
  if (rv)
    sio_free(p);
  return rv;
}

/* Why the last record or handshake failed (per thread: read at once by
 * whoever reports the failure, on the loop where it happened). */
static _Thread_local char last_failure[160] = "TLS error";

const char *sio_tls_last_failure(void) { return last_failure; }

int sio_tls_on_read(sio_conn *c, const uint8_t *data, size_t len) {
  SSL *ssl = c->ssl;
  /* one per thread: every loop decrypts into its own (server.threads) */
  static _Thread_local uint8_t plain[TLS_PLAIN_BUF];
  if (BIO_write(SSL_get_rbio(ssl), data, (int)len) != (int)len)
    return SIO_ERR_NOMEM;
  for (;;) {
    int n = SSL_read(ssl, plain, sizeof(plain));
    if (c->dialing && SSL_is_init_finished(ssl)) {
      /* A client's handshake is done: the dial reports it, and hands the
       * connection to its owner, before any plaintext goes up. */
      flush_handshake(c);
      sio_dial_tls_done(c);
      if (c->closing || !c->ssl)
        return 0;
    }
    if (n > 0) {
      /* Records SSL_read produced (TLS 1.3 session tickets) were sealed
       * before anything the upcall will write: queue them first, or the
       * peer sees records out of sequence (bad record mac). */
      if (flush_handshake(c))
        return SIO_ERR_NOMEM;
      c->ops->on_read(c, plain, (size_t)n);
      if (c->closing || !c->ssl)
        return 0;
      continue;
    }
    switch (SSL_get_error(ssl, n)) {
    case SSL_ERROR_WANT_READ:
    case SSL_ERROR_WANT_WRITE:
      return flush_handshake(c);
    case SSL_ERROR_ZERO_RETURN: /* close_notify */
      flush_handshake(c);
      return SIO_ERR_CLOSED;
    default:
      if (!SSL_is_server(ssl) && SSL_get_verify_result(ssl) != X509_V_OK) {
        snprintf(last_failure, sizeof(last_failure),
                 "certificate not accepted: %s",
                 X509_verify_cert_error_string(SSL_get_verify_result(ssl)));
      } else {
        const char *r = ERR_reason_error_string(ERR_peek_last_error());
        snprintf(last_failure, sizeof(last_failure), "TLS error: %s",
                 r ? r : "handshake failed");
      }
      SIO_LOGD("tls from %s: %s", c->remote, last_failure);
      ERR_clear_error();
      flush_handshake(c);
      return SIO_ERR_PROTO;
    }
  }
}

int sio_tls_encrypt(sio_conn *c, const void *p, size_t n) {
  while (n) {
    int w = SSL_write(c->ssl, p, (int)SIO_MIN(n, 1u << 30));
    if (w <= 0) {
      int e = SSL_get_error(c->ssl, w);
      ERR_clear_error();
      /* Before the handshake completes SSL_write wants to read: keep the
       * bytes for the next flush. */
      return e == SSL_ERROR_WANT_READ ? SIO_ERR_AGAIN : SIO_ERR_PROTO;
    }
    p = (const uint8_t *)p + w;
    n -= (size_t)w;
  }
  return 0;
}

uint8_t *sio_tls_take_output(sio_conn *c, size_t *len) {
  BIO *w = SSL_get_wbio(c->ssl);
  size_t n = (size_t)BIO_ctrl_pending(w);
  uint8_t *p;
  *len = n;
  if (!n)
    return NULL;
  p = sio_malloc(n);
  if (!p)
    return NULL;
  if (BIO_read(w, p, (int)n) != (int)n) {
    sio_free(p);
    return NULL;
  }
  return p;
}

void sio_tls_shutdown(sio_conn *c) {
  if (SSL_is_init_finished(c->ssl))
    SSL_shutdown(c->ssl);
  ERR_clear_error();
}

void sio_tls_free(sio_conn *c) {
  if (c->ssl) {
    SSL_free(c->ssl);
    c->ssl = NULL;
  }
}

void sio_tls_free_session(struct ssl_st *ssl) {
  if (ssl)
    SSL_free(ssl);
}

int sio_tls_has_output(struct ssl_st *ssl) {
  return ssl && BIO_ctrl_pending(SSL_get_wbio(ssl)) > 0;
}
