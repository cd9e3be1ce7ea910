#ifndef SIO_GROUP_H
#define SIO_GROUP_H

/* Internal side of the loop groups of <sio/sio.h> (sio_group.c): what the
 * rest of the Socket.IO layer asks of a grouped server. */

#include "sio_broadcast.h"
#include "sio_recovery.h"
#include "sio_server.h"

/* At the start of sio_server_close (s's loop): nobody posts to s any more. */
void sio_group_leave(sio_server *s);
/* s's Engine.IO sessions opened or closed: its load, for the loops'
 * choice of where a new session goes. */
void sio_group_note_load(const sio_server *s);
/* 1 when s's broadcasts go to the other loops of its group (it has the
 * loops adapter, not one of its own). */
static inline int sio_group_relays(const sio_server *s) {
  return s->group_relays;
}
/* Makes a freshly encoded pkt (each buffer held once) shareable with the
 * other loops: framed, then shared. Returns 0 or SIO_ERR_NOMEM (pkt
 * unchanged: it can still be delivered here). */
int sio_group_share(const sio_server *s, sio_outpkt *pkt);
/* Hands a broadcast of ns, pkt shared by sio_group_share, to every other
 * loop: their sockets selected by o get pkt; with offset (recovery), each
 * loop keeps pkt under it; with history_id, kept (shared too; the same
 * packet without its offset) goes into each loop's room history. What
 * cannot be handed is counted in relay_failures. */
void sio_group_relay(sio_namespace *ns, const sio_broadcast_opts *o,
                     const sio_outpkt *pkt, const sio_outpkt *kept,
                     const char *offset, const char *history_id);
/* Recovery across loops. A session may come back on any loop, so every
 * loop must hold every kept packet in one order: a broadcast recovery
 * keeps is numbered under the group's lock and handed, in that order, to
 * every loop (this one too, which delivers it when its letter comes):
 * seq_begin takes the lock and writes the process's next offset, seq_end
 * hands the encoded pkt over (NULL: it could not be encoded) and releases
 * the lock. */
int sio_group_sequences(const sio_namespace *ns);
void sio_group_seq_begin(sio_server *s, char offset[SIO_OFFSET_MAX]);
void sio_group_seq_end(sio_namespace *ns, const sio_broadcast_opts *o,
                       const sio_outpkt *pkt, const sio_outpkt *kept,
                       const char *offset, const char *history_id);
/* And the sessions: kept by the group, not by the loop the socket left
 * (arguments as sio_recovery_persist). Returns 0, SIO_ERR_INVAL or
 * SIO_ERR_NOMEM. */
int sio_group_persist_session(sio_namespace *ns, const char *pid,
                              const char *sid, const char *owner,
                              const char *floor, const char *const *rooms,
                              size_t nrooms, uint64_t now_ms);
/* Moves the session of pid, when the group has it for owner (NULL: none)
 * and it is recent, into ns's own store, where sio_recovery_restore finds
 * it (once: it leaves the group). */
void sio_group_claim_session(sio_namespace *ns, const char *pid,
                             const char *owner, uint64_t now_ms);

#endif
