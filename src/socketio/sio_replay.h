#ifndef SIO_REPLAY_H
#define SIO_REPLAY_H

/* A socket's replays from the last event id (sio_socket_replay in
 * <sio/sio.h>): the requests waiting, the broadcasts held meanwhile and
 * the ids already replayed. Exists only while a replay is pending (the
 * socket's replay pointer is NULL otherwise, which is all a broadcast
 * reads of it). */

#include "sio/sio.h"
#include "sio_broadcast.h"

typedef struct sio_replay sio_replay;

/* A broadcast reaching s while s->replay is set: returns 1 when it was
 * taken (held, or dropped: volatile, or the hold bound passed and the
 * client is being closed), 0 when it must go out now (the replay is
 * sending). id is the event's history id or NULL; pkt borrowed. */
int sio_replay_hold(sio_socket *s, const sio_outpkt *pkt, const char *id,
                    int is_volatile);
/* s disconnected: its waiting replays end with SIO_ERR_CANCELED. */
void sio_replay_cancel(sio_socket *s);

#endif
