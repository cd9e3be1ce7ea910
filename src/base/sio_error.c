/* sio_error.c: names and messages for the SIO_ERRNO_MAP table. */
#include "sio/sio.h"

const char *sio_strerror(int err) {
  switch (err) {
  case 0:
    return "success";
#define SIO_STRERROR_GEN(name, val, msg)                                       \
  case SIO_ERR_##name:                                                         \
    return msg;
    SIO_ERRNO_MAP(SIO_STRERROR_GEN)
#undef SIO_STRERROR_GEN
  }
  return "unknown error";
}

const char *sio_err_name(int err) {
  switch (err) {
  case 0:
    return "OK";
#define SIO_ERRNAME_GEN(name, val, msg)                                        \
  case SIO_ERR_##name:                                                         \
    return "SIO_ERR_" #name;
    SIO_ERRNO_MAP(SIO_ERRNAME_GEN)
#undef SIO_ERRNAME_GEN
  }
  return "SIO_ERR_UNKNOWN";
}
