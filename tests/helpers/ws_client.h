#ifndef WS_CLIENT_H
#define WS_CLIENT_H

/* A minimal WebSocket client on libuv for loopback tests: the RFC 6455
 * opening handshake, masked client frames, unfragmented server frames. It
 * speaks raw Engine.IO on top (answers the server's "2" pings with "3" when
 * auto_pong is set) and queues every other message for the test to read.
 * Blocking helpers run the loop until something happens or a deadline
 * passes, so tests read as a script. */

#include <stddef.h>
#include <stdint.h>
#include <uv.h>

typedef struct ws_msg {
  int binary;
  size_t len;
  char *data; /* NUL-terminated; owned by the client */
} ws_msg;

typedef struct ws_client {
  uv_loop_t *loop;
  uv_tcp_t tcp;
  uv_connect_t creq;
  uv_timer_t timer;
  char *in; /* unparsed input */
  size_t inlen, incap;
  ws_msg *msgs; /* queue of received messages */
  size_t nmsgs, head, cap;
  ws_msg last; /* the message handed out by ws_client_recv */
  int open;    /* handshake done */
  int closed;  /* peer closed, or error */
  int failed;  /* handshake or connect failed */
  int timed_out;
  int auto_pong;
  int handles; /* open handles, for ws_client_close */
} ws_client;

/* Connects to 127.0.0.1:port and requests path (with its query) as a
 * WebSocket; runs the loop until the handshake finished. Returns 0 or -1. */
int ws_client_open(ws_client *c, uv_loop_t *loop, int port, const char *path);
/* Sends one masked frame (text or binary). Returns 0 or -1. */
int ws_client_send(ws_client *c, int binary, const void *data, size_t len);
int ws_client_send_text(ws_client *c, const char *text);
/* Runs the loop until a message is queued, the connection closed, or
 * timeout_ms passed. Returns the message (valid until the next call) or
 * NULL. */
const ws_msg *ws_client_recv(ws_client *c, uint32_t timeout_ms);
/* Like recv, and the message must be text equal to expect: returns 1 when
 * it is, else 0 (and prints what came). */
int ws_client_expect(ws_client *c, const char *expect, uint32_t timeout_ms);
/* Runs the loop until the peer closed or timeout_ms passed; returns 1 when
 * closed. */
int ws_client_wait_closed(ws_client *c, uint32_t timeout_ms);
/* Runs the loop for ms milliseconds (to let the server work). */
void ws_client_pump(ws_client *c, uint32_t ms);
/* Closes the handles and frees the buffers; the loop must run afterwards
 * for the close callbacks. */
void ws_client_close(ws_client *c);

#endif
