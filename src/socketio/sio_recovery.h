#ifndef SIO_RECOVERY_H
#define SIO_RECOVERY_H

/* PURE (time passed in): connection state recovery, the socket.io >= 4.6
 * feature. Per namespace, it keeps
 *   - every event broadcast without an ack and not volatile, already
 *     encoded (the shared sio_outpkt buffers) and tagged with an offset
 *     that was appended to its arguments, for max_disconnection_ms;
 *   - the sessions of sockets that went away for a recoverable reason:
 *     private id (pid), socket id and rooms, for max_disconnection_ms.
 * A client reconnecting with {pid, offset} in its CONNECT payload gets its
 * socket id and rooms back and every stored packet after offset that its
 * rooms selected. Both stores are bounded (packets by count and bytes,
 * sessions by count): the oldest go first, which only shortens how far
 * back a client can recover. */

#include <stddef.h>
#include <stdint.h>

#include "sio/sio.h"
#include "sio_broadcast.h"
#include "sio_map.h"
#include "sio_queue.h"

#define SIO_OFFSET_MAX 24 /* offset text, NUL included */

typedef struct sio_recovery_limits {
  uint64_t max_disconnection_ms; /* 0: 120000 */
  size_t max_packets;            /* 0: 100000 */
  size_t max_bytes;              /* 0: 64 MiB of encoded packets */
  size_t max_sessions;           /* 0: 100000 */
} sio_recovery_limits;

typedef struct sio_recovery {
  sio_recovery_limits lim;
  uint64_t next_offset;
  sio_queue packets; /* oldest first */
  sio_map by_offset; /* offset -> packet */
  size_t npackets;
  size_t bytes;
  sio_queue sessions; /* oldest first */
  sio_map by_pid;     /* pid -> session */
  size_t nsessions;
  void *restored; /* the session handed out by the last restore */
} sio_recovery;

/* A restored session: borrowed from the store until the next call. */
typedef struct sio_recovered {
  const char *sid;
  const char *const *rooms; /* the socket's rooms (its id room included) */
  size_t nrooms;
} sio_recovered;

/* lim may be NULL (defaults); copied. */
void sio_recovery_init(sio_recovery *r, const sio_recovery_limits *lim);
/* Frees every stored packet and session. */
void sio_recovery_deinit(sio_recovery *r);

/* Writes the next offset (base-36 counter text) into out. */
void sio_recovery_next_offset(sio_recovery *r, char out[SIO_OFFSET_MAX]);
/* Stores packet p sent with offset (copied) to the sockets o selected (o
 * borrowed, rooms and except copied; NULL: every socket). Takes its own
 * references to p's buffers. Returns 0 or SIO_ERR_NOMEM (nothing stored:
 * that packet cannot be recovered, which is all that happens). */
int sio_recovery_store(sio_recovery *r, const char *offset,
                       const sio_outpkt *p, const sio_broadcast_opts *o,
                       uint64_t now_ms);
/* Keeps the session of a socket that went away: pid, sid and rooms are
 * copied. Returns 0 or SIO_ERR_NOMEM. */
int sio_recovery_persist(sio_recovery *r, const char *pid, const char *sid,
                         const char *const *rooms, size_t nrooms,
                         uint64_t now_ms);
/* Looks a session up by pid (and removes it: a pid is restored once) and
 * checks it is recent and that offset is still stored. On success fills
 * *out (valid until the next call on r, when the session is freed) and
 * calls each(p, ud) for every stored packet after offset that the
 * session's rooms select, oldest first. Returns 0, SIO_ERR_NOTFOUND
 * (unknown or expired pid, or offset no longer stored). */
int sio_recovery_restore(sio_recovery *r, const char *pid, const char *offset,
                         uint64_t now_ms, sio_recovered *out,
                         void (*each)(const sio_outpkt *p, void *ud),
                         void *ud);
/* Drops packets and sessions older than max_disconnection_ms. */
void sio_recovery_expire(sio_recovery *r, uint64_t now_ms);

#endif
