#ifndef SIO_STEPS_H
#define SIO_STEPS_H

/* Test steps shared by the suites that run servers and WebSocket clients
 * on one loop (test_sio_adapter.c, test_sio_cluster.c). Each fails the
 * running Check test when the step does not happen within STEPS_T ms.
 * Only public libsio headers: usable by a suite that proves the public
 * API is enough. */

#include <json-c/json.h>
#include <stdint.h>
#include <uv.h>

#include "ws_client.h"

#define STEPS_T 2000
#define STEPS_WS_PATH "/socket.io/?EIO=4&transport=websocket"

/* Runs loop for ms milliseconds. */
void steps_pump(uv_loop_t *loop, uint32_t ms);
/* Opens c on 127.0.0.1:port as a WebSocket, answers pings, and connects
 * it to namespace nsp (NULL: "/"), checking the CONNECT reply. */
void steps_connect(ws_client *c, uv_loop_t *loop, int port, const char *nsp);
/* The next message of c is the text want. */
void steps_expect(ws_client *c, const char *want);
/* Nothing (but pings) arrives on c within ms. */
void steps_expect_nothing(ws_client *c, uint32_t ms);
/* The JSON text s parsed (sio_json_parse); owned by the caller. */
json_object *steps_json(const char *s);

#endif
