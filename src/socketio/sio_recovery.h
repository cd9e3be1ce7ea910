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
 * back a client can recover. So is one restore: a missed set larger than
 * max_missed packets or max_missed_bytes is not replayed (the client
 * starts afresh and refetches), and no packet is replayed twice along a
 * session's life: restore removes the session, and the session the
 * restored socket leaves behind keeps the offset of the newest packet that
 * restore replayed (its floor), below which it cannot be asked again. The
 * pid stays the same (the stock client only reports socket.recovered when
 * the CONNECT reply carries the pid it presented), so replaying an old pid
 * with an old offset gets a fresh session once the session moved on.
 * A session may carry an owner key (the user that made it): only a
 * restore presenting the same owner gets it back. */

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
  size_t max_missed;             /* 0: 1000 packets replayed at once */
  size_t max_missed_bytes;       /* 0: 1 MiB replayed at once */
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

/* A restored session. sid and rooms are borrowed from the store until the
 * next call on it; missed is owned (its own references to the shared
 * buffers, in an array allocated once: never grown, so a packet's inline
 * attachment array stays where it is) and freed by
 * sio_recovered_release(). */
typedef struct sio_recovered {
  const char *sid;
  const char *const *rooms; /* the rooms kept, the session's id room first
                               when it had it */
  size_t nrooms;
  sio_outpkt *missed; /* the packets to replay, oldest first */
  size_t nmissed;
  char floor[SIO_OFFSET_MAX]; /* the newest offset replayed, or the one
                                 presented when none was: persist it with
                                 the session the socket leaves behind */
} sio_recovered;

/* Decides whether a restored session keeps room (borrowed): 1 keeps it,
 * 0 drops it, and packets addressed only through a dropped room are not
 * replayed. Must not call into the recovery store (no emit, broadcast or
 * disconnect): it is a policy check. */
typedef int (*sio_recovery_keep_cb)(const char *room, void *ud);

/* lim may be NULL (defaults); copied. */
void sio_recovery_init(sio_recovery *r, const sio_recovery_limits *lim);
/* Frees every stored packet and session. */
void sio_recovery_deinit(sio_recovery *r);

/* Writes the next offset (base-36 counter text) into out. */
void sio_recovery_next_offset(sio_recovery *r, char out[SIO_OFFSET_MAX]);
/* The offset text of counter value v (what next_offset writes). */
void sio_recovery_format_offset(uint64_t v, char out[SIO_OFFSET_MAX]);
/* Stores packet p sent with offset (copied) to the sockets o selected (o
 * borrowed, rooms and except copied; NULL: every socket). Takes its own
 * references to p's buffers. Returns 0 or SIO_ERR_NOMEM (nothing stored:
 * that packet cannot be recovered, which is all that happens). */
int sio_recovery_store(sio_recovery *r, const char *offset,
                       const sio_outpkt *p, const sio_broadcast_opts *o,
                       uint64_t now_ms);
/* Keeps the session of a socket that went away: pid, sid, owner (NULL:
 * none), floor (NULL or "": none; an offset older than it will not be
 * restored) and rooms are copied. Returns 0, SIO_ERR_INVAL (pid, sid or
 * floor too long) or SIO_ERR_NOMEM. */
int sio_recovery_persist(sio_recovery *r, const char *pid, const char *sid,
                         const char *owner, const char *floor,
                         const char *const *rooms, size_t nrooms,
                         uint64_t now_ms);
/* Restores the session of pid for a socket whose owner is owner (NULL or
 * "": none; it must equal the session's). Checks the session is recent and
 * offset still stored, filters its rooms through keep (NULL keeps all;
 * the id room, named sid, is always kept and never asked about), and
 * collects into out->missed every stored packet after offset that the kept
 * rooms select, oldest first. On success the session leaves the store (a
 * pid is restored once per disconnection) and *out is filled (release it
 * with sio_recovered_release). Returns 0; SIO_ERR_NOTFOUND (unknown or
 * expired pid, another owner, offset no longer stored or older than the
 * session's floor: the session stays for its owner unless expired);
 * SIO_ERR_LIMIT (the missed set passes max_missed or max_missed_bytes:
 * the session is dropped); SIO_ERR_NOMEM (the session stays). *out is
 * zeroed on failure. */
int sio_recovery_restore(sio_recovery *r, const char *pid, const char *offset,
                         const char *owner, uint64_t now_ms,
                         sio_recovery_keep_cb keep, void *keep_ud,
                         sio_recovered *out);
/* Drops out's references to the missed packets. NULL-safe, idempotent. */
void sio_recovered_release(sio_recovered *out);
/* Drops packets and sessions older than max_disconnection_ms. */
void sio_recovery_expire(sio_recovery *r, uint64_t now_ms);

#endif
