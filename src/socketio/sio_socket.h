#ifndef SIO_SOCKET_H
#define SIO_SOCKET_H

/* Internal view of the public sio_socket: one client's membership of one
 * namespace. Kept small (about 130 bytes): handshake facts stay in the
 * Engine.IO session, rooms are slots in the namespace index, and there is
 * no per-socket buffer. */

#include <stddef.h>
#include <stdint.h>

#include "eio_server.h"
#include "sio/sio.h"
#include "sio_ack.h"
#include "sio_packet.h"
#include "sio_queue.h"
#include "sio_recovery.h"
#include "sio_rooms.h"

typedef struct sio_client sio_client;

typedef enum sio_socket_state {
  SIO_SOCKET_PENDING = 0, /* created, on_authorize deciding */
  SIO_SOCKET_CONNECTED = 1,
  SIO_SOCKET_CLOSED = 2 /* disconnected or refused; only refs remain */
} sio_socket_state;

struct sio_socket {
  /* What a broadcast reads of each recipient comes first, together (one
   * cache line where the allocation allows): the room index hands out
   * &member, and out leads straight to the session. */
  sio_room_member member;
  uint8_t state;
  uint8_t recovered; /* resumed an earlier session */
  uint8_t persist_dirty; /* the adapter's copy of the session is behind */
  uint32_t persisted_tick; /* the server's recovery tick of that copy */
  eio_socket *out;   /* the client's session while this socket is connected
                        and its client is not closing, else NULL */
  uint32_t refcnt;
  char id[21];
  char pid[21];       /* private session id (recovery on), else "" */
  char *owner;        /* recovery owner key (owned), NULL: none */
  char floor[SIO_OFFSET_MAX]; /* recovered: the newest offset replayed */
  sio_namespace *ns;  /* borrowed; not touched once the socket is closed */
  sio_client *client; /* NULL after the disconnect callback */
  void *data;         /* the application's */
  json_object *jdata; /* socket.data for the cluster (owned) */
  sio_queue client_link;
  sio_ack_table acks;
  struct sio_replay *replay; /* while a replay is pending (sio_replay.c) */
};

/* Creates a PENDING socket of ns on client c with a fresh random id, already
 * in the namespace's member table (so on_authorize may join rooms; a
 * broadcast skips it until connected). One reference, owned by the
 * connection. Returns 0, SIO_ERR_IO (no randomness) or SIO_ERR_NOMEM. */
int sio_socket_new(sio_socket **out, sio_namespace *ns, sio_client *c,
                   const char *want_id);
/* Gives PENDING s the id of the session it resumes: want (borrowed) must
 * be free in the namespace. Returns 0, SIO_ERR_EXISTS (taken: s keeps its
 * id), SIO_ERR_STATE (not PENDING), SIO_ERR_INVAL (too long) or
 * SIO_ERR_NOMEM. */
int sio_socket_take_id(sio_socket *s, const char *want);
/* PENDING -> CONNECTED: links s into its client and sends the CONNECT
 * reply. Returns 0 (a failed send is left to the session's close). */
int sio_socket_accept(sio_socket *s);
/* PENDING -> CLOSED after a refusal: leaves the index, drops the
 * connection's reference. */
void sio_socket_refuse(sio_socket *s);
/* Handles one packet for this socket (EVENT, ACK, their binary forms,
 * DISCONNECT). pkt and bins borrowed; pkt->data may be modified. */
void sio_socket_on_packet(sio_socket *s, sio_packet *pkt, const sio_bin *bins,
                          size_t nbins);
/* Socket._onclose(): CONNECTED -> CLOSED with reason (borrowed): leaves
 * every room, unlinks from the client, runs on_disconnect, cancels pending
 * acks, drops the connection's reference. No-op in other states. */
void sio_socket_close(sio_socket *s, const char *reason);
/* Queues a DISCONNECT packet for s (without closing it). */
void sio_socket_send_disconnect(sio_socket *s);

#endif
