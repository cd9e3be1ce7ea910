#ifndef SIO_STEPS_H
#define SIO_STEPS_H

/* Test steps shared by the suites that run servers and WebSocket clients
 * on one loop (test_sio_adapter_redis.c, test_sio_cluster.c). Each fails the
 * running Check test when the step does not happen within STEPS_T ms.
 * Only public libsio headers: usable by a suite that proves the public
 * API is enough. */

#include <json-c/json.h>
#include <stdint.h>
#include <uv.h>

#include "sio/sio.h"
#include "ws_client.h"

#define STEPS_T 2000
#define STEPS_WS_PATH "/socket.io/?EIO=4&transport=websocket"

#define STEPS_MAXS 8

/* The server-side sockets a test keeps (each referenced), in connection
 * order. */
typedef struct steps_sockets {
  sio_socket *v[STEPS_MAXS];
  int n;
} steps_sockets;

/* Keeps s (an on_connection handler's socket) when there is room. */
void steps_keep(steps_sockets *k, sio_socket *s);
/* Drops every kept socket. */
void steps_release(steps_sockets *k);

/* What the asynchronous calls of a test answered: their callbacks record
 * here (steps_answer) and describe the rest in text. */
typedef struct steps_result {
  int calls;
  int status;
  size_t count;
  int nlocal;
  char text[1024];
} steps_result;

/* One answer in: counts it, keeps its status and count. */
void steps_answer(steps_result *r, int status, size_t count);
/* Runs loop until r holds n answers, failing after STEPS_T ms. */
void steps_wait_answers(uv_loop_t *loop, steps_result *r, int n);

/* Runs loop for ms milliseconds. */
void steps_pump(uv_loop_t *loop, uint32_t ms);
/* Opens c on 127.0.0.1:port as a WebSocket, answers pings, and connects
 * it to namespace nsp (NULL: "/"), checking the CONNECT reply. */
void steps_connect(ws_client *c, uv_loop_t *loop, int port, const char *nsp);
/* steps_connect, and returns the socket the server's on_connection kept
 * in k for it. */
sio_socket *steps_connect_kept(ws_client *c, uv_loop_t *loop, int port,
                               const char *nsp, steps_sockets *k);
/* The next message of c is the text want. */
void steps_expect(ws_client *c, const char *want);
/* Nothing (but pings) arrives on c within ms. */
void steps_expect_nothing(ws_client *c, uint32_t ms);
/* on_authorize of the recovery suites: auth.user names the user, who
 * becomes the socket's recovery owner and is put in room "user:<user>";
 * without one the CONNECT is refused. */
int steps_authorize_user(sio_socket *s, json_object *auth, json_object **err,
                         void *ud);
/* on_event of the recovery suites: "join" [room] joins room; an event with
 * an ack id is acknowledged (no arguments) once handled. */
void steps_join_on_event(sio_socket *s, const char *event, json_object *args,
                         const sio_bin *bins, size_t nbins, int64_t ack_id,
                         void *ud);

/* A session as the CONNECT reply named it. */
typedef struct steps_session {
  char sid[32], pid[32];
} steps_session;

/* Opens c on port (waiting for the open packet), sends CONNECT "/" with
 * auth (JSON text), checks the reply accepts it with a 20-character sid
 * and pid (recovery on), and fills *out. */
void steps_connect_auth(ws_client *c, uv_loop_t *loop, int port,
                        const char *auth, steps_session *out);
/* The same presenting old's pid and offset, as user (auth.user). */
void steps_resume(ws_client *c, uv_loop_t *loop, int port, const char *user,
                  const steps_session *old, const char *offset,
                  steps_session *out);
/* The next message of c is event "e" [n, offset]; returns the offset
 * (static storage). */
const char *steps_expect_e(ws_client *c, int n);

/* The JSON text s parsed (sio_json_parse); owned by the caller. */
json_object *steps_json(const char *s);

#endif
