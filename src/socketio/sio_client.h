#ifndef SIO_CLIENT_H
#define SIO_CLIENT_H

/* One Engine.IO session seen from the Socket.IO layer (the reference
 * server's Client): decodes incoming packets, routes them to the socket of
 * their namespace, connects namespaces, enforces connectTimeout, and writes
 * encoded packets to the session. */

#include <stddef.h>
#include <stdint.h>

#include "eio_server.h"
#include "sio/sio.h"
#include "sio_binary.h"
#include "sio_broadcast.h"
#include "sio_queue.h"

typedef struct sio_client sio_client;
typedef struct sio_connect_timer sio_connect_timer;

struct sio_client {
  sio_server *srv;
  eio_socket *es;            /* NULL once the session ended */
  sio_queue link;            /* in srv->clients */
  sio_queue sockets;         /* connected sockets (sio_socket.client_link) */
  sio_queue restoring;       /* sockets waiting for the adapter's session
                                (sio_restore.c; same link) */
  sio_binary_reader *reader; /* allocated while a binary packet is open */
  sio_connect_timer *timer;  /* until the first namespace connects */
  uint32_t busy;             /* depth of our frames on the stack */
  uint8_t closing;           /* close requested: input is ignored */
  uint8_t ended;             /* Engine.IO on_close ran: free when idle */
  uint64_t issued_ms;        /* wall clock at the handshake (ms) */
};

/* Creates the client of session es (borrowed: valid until
 * sio_client_on_close) and starts its connect timer. Returns 0 or
 * SIO_ERR_NOMEM. */
int sio_client_new(sio_client **out, sio_server *srv, eio_socket *es);
/* Engine.IO upcalls, forwarded by the server. data borrowed. */
void sio_client_on_message(sio_client *c, int binary, const uint8_t *data,
                           size_t len);
/* Disconnects every socket with reason (borrowed) and frees c, at once or,
 * when called under one of c's own frames, when that frame returns. */
void sio_client_on_close(sio_client *c, const char *reason);

/* Client.close(): closes the session and disconnects every socket now with
 * "forced server close". No-op when already closing. */
void sio_client_close(sio_client *c);
/* Client._disconnect(): each socket gets a DISCONNECT packet and reason
 * "server namespace disconnect", then the session is closed. */
void sio_client_disconnect_all(sio_client *c);
/* Server shutdown: each socket disconnects with "server shutting down"
 * (no packet: the engine closes the session right after). */
void sio_client_shutdown(sio_client *c);

/* The socket of namespace nsp[0..len) on this client, or NULL. */
sio_socket *sio_client_find_socket(const sio_client *c, const char *nsp,
                                   size_t len);
/* Called by a socket once it is connected: cancels the connect timer. */
void sio_client_connected(sio_client *c);

/* Queues an encoded packet. Returns 0, SIO_ERR_CLOSED (the session is
 * closing or gone), SIO_ERR_LIMIT (its output bound was passed: it is being
 * closed) or SIO_ERR_NOMEM. A failure that leaves a binary packet half
 * queued closes the session. p borrowed. */
int sio_client_send(sio_client *c, const sio_outpkt *p);
/* What sio_client_send does after its sio_outpkt_send failed with rv
 * (partial as that call set it): marks c closing and, when a binary packet
 * was left half queued, closes the session. For senders that write to a
 * socket's session directly (broadcasts). */
void sio_client_send_failed(sio_client *c, int rv, int partial);
/* Closes c's session as one whose output could not be kept: "transport
 * error" on the server, a reconnection for the client. NULL-safe. */
void sio_client_close_slow(sio_client *c);

#endif
