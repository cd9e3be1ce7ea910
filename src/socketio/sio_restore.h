#ifndef SIO_RESTORE_H
#define SIO_RESTORE_H

/* Connection state recovery kept by the cluster adapter
 * (SIO_ADAPTER_RECOVERY, <sio/adapter.h>): sessions are persisted in the
 * adapter instead of this instance's memory, and a CONNECT presenting a
 * pid is answered once the adapter has taken the session and read what it
 * missed. Meanwhile the socket is PENDING on its client's restoring
 * queue: a client that goes away cancels it (the adapter's answer is then
 * dropped), and a packet for that namespace meanwhile is a protocol
 * error, as one before a CONNECT reply is. */

#include "sio/sio.h"

typedef struct sio_client sio_client;

/* Starts restoring the session of pid for s (PENDING, authorized) and
 * returns 1: the connect completes later (accepted, recovered or fresh).
 * Returns 0 when it could not be asked (the caller accepts s fresh). */
int sio_restore_start(sio_namespace *ns, sio_socket *s, const char *pid,
                      const char *offset);
/* 1 while c has a socket of ns waiting for its session. */
int sio_restore_pending(const sio_client *c, const sio_namespace *ns);
/* c's session ended: its waiting sockets are refused; the adapter's
 * answers for them are dropped when they come. */
void sio_restore_cancel(sio_client *c);
/* The default of sio_options_set_recovery_persist_interval. */
#define SIO_PERSIST_INTERVAL_MS 10000
/* A recovery tick (period_ms apart): hands the adapter the sessions of
 * connected sockets that are new or changed rooms since their last copy,
 * and of those whose copy is half-way to its TTL. */
void sio_restore_refresh(sio_server *srv, uint32_t period_ms);
/* s goes away for reason (recoverable or not): its session is persisted
 * in the adapter, or dropped there. */
void sio_restore_on_close(sio_socket *s, int recoverable);

#endif
