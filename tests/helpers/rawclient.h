#ifndef RAWCLIENT_H
#define RAWCLIENT_H

/* A blocking HTTP/WebSocket client for loop-level tests: the server runs on
 * the test's uv loop in the main thread while a scenario thread talks to it
 * over loopback with these calls (every read has a 5 s timeout, so a server
 * bug fails the test instead of hanging it). */

#include <stddef.h>
#include <stdint.h>
#include <uv.h>

typedef struct rc_response {
  int status;     /* 0 when no response could be read */
  char head[4096];
  char body[65536];
  size_t body_len;
} rc_response;

/* Connects to 127.0.0.1:port. Returns the fd or -1. */
int rc_connect(int port);
void rc_close(int fd);
/* Sends all n bytes. Returns 0 or -1. */
int rc_send(int fd, const void *p, size_t n);
/* Reads one response (Content-Length framed). Returns the status or 0. */
int rc_read_response(int fd, rc_response *r);
/* Sends "METHOD target HTTP/1.1" with Host, optional extra header lines and
 * a body, then reads the response. Returns the status or 0. */
int rc_request(int fd, const char *method, const char *target,
               const char *extra_headers, const char *body, size_t body_len,
               rc_response *r);
/* One-shot: connect, request, close. */
int rc_fetch(int port, const char *method, const char *target,
             const char *body, rc_response *r);
/* Value of a response header (case-insensitive) copied into out, or NULL. */
const char *rc_header(const rc_response *r, const char *name, char *out,
                      size_t cap);

/* WebSocket: opening handshake on target; returns the fd or -1. */
int rc_ws_open(int port, const char *target);
/* Sends one masked frame (opcode 1 text, 2 binary, 8 close, 9 ping). */
int rc_ws_send(int fd, int opcode, const void *p, size_t n);
/* Sends one masked frame with the FIN bit as given (fragmentation). */
int rc_ws_send_frame(int fd, int fin, int opcode, const void *p, size_t n);
/* Reads one frame: returns its opcode, -1 on EOF/timeout. */
int rc_ws_recv(int fd, uint8_t *buf, size_t cap, size_t *len);
/* Reads text frames until one that is not "2" (a ping); answers pings with
 * "3" when pong is set. Returns the opcode or -1. */
int rc_ws_recv_skip_pings(int fd, uint8_t *buf, size_t cap, size_t *len,
                          int pong);
/* 1 when the peer closed the TCP connection within timeout_ms. */
int rc_wait_eof(int fd, int timeout_ms);

/* An Engine.IO polling handshake on the engine at port, path /engine.io/:
 * its sid in sid, its polling URL in u (a failed check fails the test). */
void rc_eio_handshake(int port, char sid[32], char u[128]);

/* Runs fn(ud) on a thread while loop runs in this thread; when fn returns,
 * done(ud) is called on the loop thread (it should close the server so the
 * loop ends). Returns when the loop has no more handles. */
void rc_run(uv_loop_t *loop, void (*fn)(void *ud), void (*done)(void *ud),
            void *ud);

#endif
