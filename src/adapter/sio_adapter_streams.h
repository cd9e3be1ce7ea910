#ifndef SIO_ADAPTER_STREAMS_H
#define SIO_ADAPTER_STREAMS_H

/* The stream half of the streams adapter (@socket.io/redis-streams-adapter
 * 0.3; its wire form is sio_redis_streams.h): the sharded adapter in its
 * streams mode (sio_adapter_sharded.c) hands it the non-ephemeral
 * messages to append and gets back every entry of the stream, in order;
 * it also keeps the recovery sessions (<sio/adapter.h>'s persist, restore
 * and drop), all over one pub/sub driver's command op.
 *
 * The reader starts where the stream ends when the driver first becomes
 * ready (XREVRANGE + - COUNT 1 on the publisher lane, so every append this
 * instance makes afterwards is after it), then loops XREAD BLOCK COUNT 100
 * on the blocking lane, resuming from the last entry it handed over after
 * an outage. Its position is the exact frontier of what this instance's
 * sockets were given, which makes a restore exact: the missed entries are
 * read from the offset up to that position at the moment the read
 * completes (reading on while the reader moved meanwhile), and the socket
 * joins its rooms in the same loop turn, so nothing falls between the two
 * and nothing comes twice.
 *
 * Sessions are the reference's (base64 msgpack {sid, pid, rooms, data}
 * under "sio:session:<pid>", SET PX); the owner rides in data.owner. A
 * restore GETs the session, refuses another owner's without spending it,
 * deletes it only if unchanged (a script comparing the value), checks the
 * offset is still the stream's (the first entry of XRANGE offset ...),
 * then collects the namespace's broadcasts after it. */

#include <stdint.h>
#include <uv.h>

#include "sio/adapter.h"
#include "sio_buf.h"
#include "sio_pubsub.h"
#include "sio_redis_msg.h"

typedef struct sio_adapter_streams sio_adapter_streams;

/* One entry of the stream, decoded (m and id borrowed for the call). */
typedef void (*sio_adapter_streams_entry_cb)(void *ud, const char *id,
                                             sio_redis_cluster_msg *m);

typedef struct sio_adapter_streams_config {
  const char *stream;         /* NULL: "socket.io" */
  uint32_t maxlen;            /* MAXLEN ~, 0: 10000 */
  const char *session_prefix; /* NULL: "sio:session:" */
} sio_adapter_streams_config;

/* ops/drv borrowed (the caller owns the driver and forwards its state
 * changes with _state). Returns 0 or SIO_ERR_NOMEM. */
int sio_adapter_streams_new(sio_adapter_streams **out, uv_loop_t *loop,
                            const sio_pubsub_ops *ops, void *drv,
                            const sio_adapter_streams_config *cfg,
                            sio_adapter_streams_entry_cb entry, void *ud);
/* The driver became ready (1) or lost a connection (0). */
void sio_adapter_streams_state(sio_adapter_streams *st, int ready);

/* Appends env (an envelope from the sio_redis_encode_cluster_* encoders).
 * With ns set, Redis refusing it delivers the broadcast in env to ns's
 * sockets here, without an offset (libsio left its delivery to the
 * stream); a connection lost with it in flight leaves it to the stream
 * (delivered when the reader reads again if Redis had it: never twice).
 * Returns 0 or what the driver's command returns (then nothing was
 * sent). */
int sio_adapter_streams_append(sio_adapter_streams *st, const sio_buf *env,
                               sio_namespace *ns);

int sio_adapter_streams_persist(sio_adapter_streams *st, sio_namespace *ns,
                                const sio_adapter_session *sess,
                                uint32_t ttl_ms);
int sio_adapter_streams_drop(sio_adapter_streams *st, sio_namespace *ns,
                             const char *pid);
int sio_adapter_streams_restore(sio_adapter_streams *st, sio_namespace *ns,
                                const char *pid, const char *offset,
                                const char *owner, sio_adapter_restore_cb cb,
                                void *ud);

/* Stops the reader's retry timer; closed(arg) once it is closed. The
 * driver's close then cancels the commands in flight (restores answer
 * SIO_ERR_CANCELED); free after the driver closed. */
void sio_adapter_streams_close(sio_adapter_streams *st,
                               void (*closed)(void *arg), void *arg);
void sio_adapter_streams_free(sio_adapter_streams *st);

#endif
