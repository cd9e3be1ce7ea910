#ifndef SIO_REDIS_STREAMS_H
#define SIO_REDIS_STREAMS_H

/* PURE: the wire codec of @socket.io/redis-streams-adapter 0.3.1 (the
 * latest release; on socket.io-adapter 2.5 ClusterAdapter, msgpack by
 * @msgpack/msgpack 2.8), as read in its dist and captured from it against
 * redis-server 7.0 (the captures are this module's test vectors). No I/O,
 * no loop: sio_adapter_streams builds on it.
 *
 * The stream (option streamName, default "socket.io"; with streamCount > 1,
 * default 1, namespace n goes to "<streamName>-<hashCode(n) % count>").
 * Every message the ClusterAdapter publishes that is NOT ephemeral is one
 * entry, for all namespaces, appended with
 *   XADD <stream> MAXLEN ~ <maxLen, default 10000> * uid <uid> nsp <nsp>
 *        type <type> [data <data>]
 * fields in that order: uid (the adapter's 16 hex digits), nsp, type (the
 * MessageType in decimal, "3"), data. data is present only when the message
 * has a data object; it is its JSON text (JSON.stringify) unless the type
 * may hold binary (BROADCAST, FETCH_SOCKETS_RESPONSE, SERVER_SIDE_EMIT,
 * SERVER_SIDE_EMIT_RESPONSE, BROADCAST_ACK), the data holds a Buffer
 * somewhere and the option onlyPlaintext is off: then base64 of the
 * msgpack of the data object. A reader takes data starting with '{' as
 * JSON, anything else as base64 (Node's lenient decoder; ours is strict).
 * The entry id is the broadcast's offset, appended as the last argument of
 * the packet delivered (by the ClusterAdapter, for EVENT packets without
 * an ack id and not volatile).
 *
 * Ephemeral messages are NOT on the stream: a BROADCAST with a requestId
 * (acknowledgements), SERVER_SIDE_EMIT and FETCH_SOCKETS go with PUBLISH
 * (SPUBLISH when useShardedPubSub) to "<channelPrefix, default
 * socket.io>#<nsp>#" as msgpack of the whole envelope {type, data, uid,
 * nsp} (keys in that order); responses (types 8, 10, 11, 12) go to
 * "<channelPrefix>#<nsp>#<requester uid>#" the same way. Each adapter
 * subscribes to both channels of its namespace. There are no heartbeats
 * in 0.3.1 (ClusterAdapter, not ClusterAdapterWithHeartbeat; its
 * heartbeatInterval 5000 / heartbeatTimeout 10000 options are unused):
 * serverCount() is PUBSUB NUMSUB (SHARDNUMSUB) of the public channel.
 * Captured: broadcasts (3) and socketsJoin (4) on the stream,
 * serverSideEmit on "socket.io#/#".
 *
 * Readers: one client per stream, XREAD BLOCK <blockTimeInMs, default
 * 5000> COUNT <readCount, default 100> STREAMS <stream> <last id>, from "$"
 * at start; an entry without nsp (or an empty one) is skipped; entries of
 * an uid that is the adapter's own are ignored (ClusterAdapter.onMessage),
 * as are other namespaces.
 *
 * Sessions (persistSession, on a recoverable disconnect): key
 * "<sessionKeyPrefix, default sio:session:><pid>", value base64 of the
 * msgpack of {sid, pid, rooms: [...], data} (keys in that order; rooms
 * include the socket's own id room; data is socket.data, {} by default),
 * written with SET key value PX <maxDisconnectionDuration>. restoreSession
 * refuses an offset not matching ^[0-9]+-[0-9]+$, then, in parallel,
 * MULTI GET key DEL key EXEC and XRANGE stream offset offset; refused when
 * either is empty. Then up to 100 rounds of XRANGE stream <ms>-<seq+1> +
 * (no COUNT, no exclusive "(": the next id computed by hand), until a
 * round returns nothing; it keeps entries whose nsp is the namespace and
 * type is exactly "3" whose opts.rooms are empty or meet the session's
 * rooms and whose opts.except holds none of them (volatile broadcasts
 * included), each packet's data with the entry id pushed at the end. */

#include <hiredis/hiredis.h>
#include <json-c/json.h>
#include <stddef.h>
#include <stdint.h>

#include "sio_buf.h"
#include "sio_redis_msg.h"

#define SIO_REDIS_STREAMS_NAME "socket.io"
#define SIO_REDIS_STREAMS_MAXLEN 10000
#define SIO_REDIS_STREAMS_READ_COUNT 100
#define SIO_REDIS_STREAMS_BLOCK_MS 5000
#define SIO_REDIS_STREAMS_SESSION_PREFIX "sio:session:"
#define SIO_REDIS_STREAMS_RESTORE_ROUNDS 100
/* "<ms>-<seq>", two uint64 in decimal */
#define SIO_REDIS_STREAMS_ID_MAX 41
/* bound of one data field or session value (text), before decoding */
#define SIO_REDIS_STREAMS_DATA_MAX ((size_t)64 << 20)
/* entries in one reply, when the caller gives 0 */
#define SIO_REDIS_STREAMS_ENTRIES_MAX 100000

/* ------------------------------------------------------------- entry ids */

typedef struct sio_redis_streams_id {
  uint64_t ms, seq;
} sio_redis_streams_id;

/* Parses "<ms>-<seq>" (decimal digits only, each part at most a uint64,
 * at most SIO_REDIS_STREAMS_ID_MAX bytes). out may be NULL. Returns 0 or
 * SIO_ERR_PROTO. */
int sio_redis_streams_id_parse(const char *s, size_t n,
                               sio_redis_streams_id *out);
/* -1, 0 or 1, numerically. */
int sio_redis_streams_id_cmp(sio_redis_streams_id a, sio_redis_streams_id b);
/* The smallest id after a (seq + 1, carrying into ms). Returns 0 or
 * SIO_ERR_LIMIT (a is the largest id). */
int sio_redis_streams_id_next(sio_redis_streams_id a,
                              sio_redis_streams_id *out);
/* Writes "<ms>-<seq>" and a NUL; returns its length. */
size_t sio_redis_streams_id_format(char out[SIO_REDIS_STREAMS_ID_MAX + 1],
                                   sio_redis_streams_id a);

/* ------------------------------------------------------------------ XADD */

#define SIO_REDIS_STREAMS_XADD_ARGC 14

/* An XADD command as argv/argvlen (the form redisCommandArgv and the
 * drivers' command op take): every argument lives in buf, argv points into
 * it. Valid until the next build or deinit. */
typedef struct sio_redis_streams_cmd {
  sio_buf buf;
  int argc;
  const char *argv[SIO_REDIS_STREAMS_XADD_ARGC];
  size_t argvlen[SIO_REDIS_STREAMS_XADD_ARGC];
} sio_redis_streams_cmd;

void sio_redis_streams_cmd_init(sio_redis_streams_cmd *c);
void sio_redis_streams_cmd_deinit(sio_redis_streams_cmd *c);

/* XADD <stream> MAXLEN ~ <maxlen> * uid <uid> nsp <nsp> type <type>
 * [data <data>]; data NULL omits the field (data_len bytes otherwise, as
 * given: JSON text or base64). Strings borrowed (copied). Returns 0,
 * SIO_ERR_INVAL (stream, uid or nsp NULL, type < 0) or SIO_ERR_NOMEM (c
 * empty then). */
int sio_redis_streams_xadd(sio_redis_streams_cmd *c, const char *stream,
                           uint64_t maxlen, const char *uid, const char *nsp,
                           int type, const char *data, size_t data_len);

/* The same from a whole envelope {type, data, uid, nsp} as the
 * sio_redis_encode_cluster_* encoders write it (JSON, or msgpack when it
 * holds binary): uid, nsp and type are taken from it, and data is written
 * as JSON text, or as base64 of its msgpack when it holds binary, the
 * Node adapter's rule; a null or absent data omits the field. Returns 0,
 * the errors of sio_redis_value_decode, SIO_ERR_PROTO (not an envelope:
 * not an object, type not a non-negative integer, uid or nsp not strings)
 * or SIO_ERR_NOMEM. */
int sio_redis_streams_xadd_envelope(sio_redis_streams_cmd *c,
                                    const char *stream, uint64_t maxlen,
                                    const uint8_t *env, size_t len,
                                    const sio_redis_limits *lim);

/* ------------------------------------------------------- reading entries */

/* A span borrowed from a reply: NULL when absent. Not NUL-terminated by
 * contract (hiredis does terminate bulk strings). */
typedef struct sio_redis_streams_span {
  const char *p;
  size_t n;
} sio_redis_streams_span;

/* One stream entry. Fields other than these are ignored; a field given
 * twice keeps its last value (as the Node reader's object does). */
typedef struct sio_redis_streams_entry {
  sio_redis_streams_span id; /* always set, a valid id */
  sio_redis_streams_id idv;
  sio_redis_streams_span uid, nsp, type, data;
} sio_redis_streams_entry;

typedef struct sio_redis_streams_entries {
  sio_redis_streams_entry *v; /* owned array */
  size_t n;
} sio_redis_streams_entries;

/* XREAD's reply for one stream: nil (timed out: no entries) or
 * [[stream, [[id, [f, v, ...]], ...]]]. stream, when not NULL, must be the
 * stream named. XRANGE's: [[id, [f, v, ...]], ...]. Every id, field name
 * and value a bulk (or status) string, field lists of even length, ids
 * valid and in increasing order, at most max_entries (0: the default)
 * entries. Returns 0 with out filled (spans borrowed from r), or
 * SIO_ERR_PROTO / SIO_ERR_LIMIT / SIO_ERR_NOMEM with out empty. */
int sio_redis_streams_parse_xread(const redisReply *r, const char *stream,
                                  size_t max_entries,
                                  sio_redis_streams_entries *out);
int sio_redis_streams_parse_xrange(const redisReply *r, size_t max_entries,
                                   sio_redis_streams_entries *out);
void sio_redis_streams_entries_clear(sio_redis_streams_entries *e);

/* A decoded entry: the envelope m was rebuilt from the entry's fields (env
 * holds it; m and its bins point into env, nothing into the reply). */
typedef struct sio_redis_streams_msg {
  sio_redis_cluster_msg m;
  sio_buf env;
} sio_redis_streams_msg;

/* Decodes e: type decimal digits (at most 9), uid and nsp present, data
 * absent / empty (no data), JSON text when it starts with '{' (one value,
 * an object), else base64 of msgpack (of bounded size); then the checks of
 * sio_redis_cluster_decode for that type. Returns 0 (x filled, release
 * with _msg_clear), SIO_ERR_PROTO, SIO_ERR_DEPTH, SIO_ERR_LIMIT or
 * SIO_ERR_NOMEM; on error x owns nothing. */
int sio_redis_streams_entry_decode(const sio_redis_streams_entry *e,
                                   sio_redis_streams_msg *x,
                                   const sio_redis_limits *lim);
void sio_redis_streams_msg_clear(sio_redis_streams_msg *x);

/* Whether a decoded entry is one restoreSession replays for a session of
 * namespace nsp in rooms[0..nrooms): a BROADCAST of that namespace without
 * requestId whose rooms are empty or meet the session's and whose except
 * holds none of them. */
int sio_redis_streams_replays(const sio_redis_cluster_msg *m, const char *nsp,
                              const char *const *rooms, size_t nrooms);

/* ------------------------------------------------------------- sessions */

typedef struct sio_redis_streams_session {
  sio_redis_value root;
  uint8_t *raw;          /* owned: the msgpack bytes root.bins point into */
  const char *sid, *pid; /* borrowed from root */
  sio_redis_strv rooms;  /* strings borrowed from root */
  json_object *data;     /* borrowed from root; NULL is null or absent */
} sio_redis_streams_session;

/* Appends base64 of the msgpack of {sid, pid, rooms, data}; data NULL is
 * {} (placeholders in data name bins, written as bin). Returns 0,
 * SIO_ERR_INVAL (sid or pid NULL, a room NULL, a placeholder naming no
 * attachment), SIO_ERR_DEPTH or SIO_ERR_NOMEM; out unchanged on error. */
int sio_redis_streams_session_encode(sio_buf *out, const char *sid,
                                     const char *pid, const char *const *rooms,
                                     size_t nrooms, json_object *data,
                                     const sio_bin *bins, size_t nbins);
/* Decodes a stored value (at most SIO_REDIS_STREAMS_DATA_MAX bytes): an
 * object with string sid and pid, rooms an array of strings (absent: none)
 * and any data; other keys ignored. Returns 0, SIO_ERR_PROTO, SIO_ERR_DEPTH,
 * SIO_ERR_LIMIT or SIO_ERR_NOMEM; on error s owns nothing. */
int sio_redis_streams_session_decode(sio_redis_streams_session *s,
                                     const char *in, size_t len,
                                     const sio_redis_limits *lim);
void sio_redis_streams_session_clear(sio_redis_streams_session *s);

#endif
