#ifndef EIO_FIXTURE_H
#define EIO_FIXTURE_H

/* A real eio_server on 127.0.0.1:0 for the engine's loop-level suites
 * (test_eio_polling, test_eio_socket, test_eio_ws), driven by a blocking
 * client thread (rawclient.h). The server is scripted by what the client
 * sends: "kill" queues "4bye" and "4bye2" then closes the session (as a
 * rate-limit disconnect does), "quiet" closes with nothing queued, anything
 * else is echoed. */

#include <uv.h>

#include "eio_server.h"

#define UNKNOWN "{\"code\":1,\"message\":\"Session ID unknown\"}"

typedef struct fx {
  uv_loop_t loop;
  eio_server *srv;
  int port;
  int opens, closes, messages, closed;
  char reasons[8][32];
  eio_stats stats; /* taken just before the server closes */
  size_t sessions; /* eio_server_session_count then */
  void (*scenario)(struct fx *f);
} fx;

/* Queues the text packet t (copied) on es. */
void fx_send_text(eio_socket *es, const char *t);
/* Options with no ping in the way of the scripted answers (interval 5 s),
 * a 300 ms ping timeout, max_payload 1000, both transports. */
eio_options fx_default_opts(void);
/* Runs scenario(f) on the client thread against a fresh server with o, then
 * closes the server (stats and session count taken first into f) and checks
 * the loop closes. */
void fx_run(fx *f, const eio_options *o, void (*scenario)(fx *f));
/* Opens a polling session; its sid in sid, its polling URL in u. */
void fx_handshake(fx *f, char sid[32], char u[128]);

/* Sends a GET on a new connection without reading the answer (parked);
 * returns its fd. */
int fx_park_get(fx *f, const char *u);
/* A GET on u must answer status with exactly body. */
void fx_expect_get(fx *f, const char *u, int status, const char *body);

#endif
