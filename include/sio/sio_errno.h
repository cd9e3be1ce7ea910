#ifndef SIO_ERRNO_H
#define SIO_ERRNO_H

/* Error codes of libsio: every function that can fail returns 0 (or a size)
 * on success and one of these negative values on failure. Codes at or below
 * SIO_ERR_FATAL mean the object that returned it may only be destroyed. */

#define SIO_ERRNO_MAP(XX)                                                  \
  XX(NOMEM, -1, "out of memory")                                           \
  XX(INVAL, -2, "invalid argument")                                        \
  XX(PROTO, -3, "protocol error")                                          \
  XX(TOOBIG, -4, "payload too large")                                      \
  XX(LIMIT, -5, "limit exceeded")                                          \
  XX(AGAIN, -6, "need more data")                                          \
  XX(NOTFOUND, -7, "not found")                                            \
  XX(EXISTS, -8, "already exists")                                         \
  XX(CLOSED, -9, "closed")                                                 \
  XX(TIMEOUT, -10, "timed out")                                            \
  XX(CANCELED, -11, "canceled")                                            \
  XX(STATE, -12, "operation not allowed in this state")                    \
  XX(IO, -13, "I/O error")                                                 \
  XX(FORBIDDEN, -14, "forbidden")                                          \
  XX(UNSUPPORTED, -15, "unsupported")                                      \
  XX(DEPTH, -16, "nesting too deep")                                       \
  XX(FATAL, -100, "fatal error")

typedef enum sio_errno {
#define SIO_ERRNO_GEN(name, val, msg) SIO_ERR_##name = (val),
  SIO_ERRNO_MAP(SIO_ERRNO_GEN)
#undef SIO_ERRNO_GEN
} sio_errno;

#endif
