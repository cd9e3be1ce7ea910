#ifndef SIO_REDIS_CONN_H
#define SIO_REDIS_CONN_H

/* One Redis connection we own (DESIGN §25). hiredis is the codec only:
 * commands are formatted with redisFormatCommandArgv and replies parsed
 * with a redisReader, bounded (sio_redis_reader: a reply over
 * max_reply_bytes ends the connection); the bytes travel over src/net (sio_dial: TCP or a
 * unix socket, TLS, one deadline for resolve + connect + handshake), so
 * plain, TLS, Sentinel and Cluster connections share this one path.
 *
 * A connection is used once: it dials, authenticates (AUTH [user]
 * password), selects its database, reports ready, carries commands, and
 * ends exactly once: lost() when it fails or the peer goes away, or the
 * owner's sio_redis_conn_close(). Reconnecting is the owner's business.
 *
 * Replies are matched to commands in order. In pub/sub mode three kinds
 * of reply belong to no command and go to push(): messages ("message",
 * "pmessage", "smessage") and an "sunsubscribe" the server sends by
 * itself when a slot moves away (Redis Cluster). A (S|P)SUBSCRIBE or
 * (S|P)UNSUBSCRIBE command gets one confirmation per channel; its
 * callback fires once, with the last confirmation or the first error.
 *
 * Every pending command has a deadline (command_timeout_ms): a Redis that
 * stops answering is dropped (lost with SIO_ERR_TIMEOUT), which is also
 * how a dead peer behind a silent network is noticed. A command that
 * waits in Redis (sio_redis_conn_command_wait) extends its own deadline
 * and those of the commands behind it by its wait. */

#include <hiredis/hiredis.h>
#include <stddef.h>
#include <stdint.h>

#include "sio_conn.h"
#include "sio_tls.h"

typedef struct sio_redis_conn sio_redis_conn;

/* Where and as whom to connect. Strings borrowed for the open call. */
typedef struct sio_redis_target {
  const char *host; /* name or address; NULL with path */
  int port;
  const char *path;        /* unix socket, or NULL */
  sio_tls_client_ctx *tls; /* NULL: plain; borrowed for the conn's life */
  const char *server_name; /* TLS name checked, NULL: host */
  const char *user;        /* ACL user, NULL: AUTH password alone */
  const char *password;    /* NULL: no AUTH */
  int db;                  /* SELECT when > 0 */
} sio_redis_target;

typedef struct sio_redis_conn_opts {
  uint32_t connect_timeout_ms; /* dial + AUTH/SELECT, 0: 5000 */
  uint32_t command_timeout_ms; /* a reply, 0: 5000 */
  uint32_t max_pending;        /* commands awaiting replies, 0: 10000 */
  size_t max_reply_bytes; /* one reply's size (sio_redis_reader), 0: 512 MiB */
} sio_redis_conn_opts;

/* A command's outcome: status 0 with the reply (borrowed for the call;
 * may be an error reply), or status SIO_ERR_IO (connection lost),
 * SIO_ERR_TIMEOUT or SIO_ERR_CANCELED (closed by the owner) with reply
 * NULL. */
typedef void (*sio_redis_reply_cb)(void *ud, int status,
                                   const redisReply *reply);

typedef struct sio_redis_conn_handler {
  /* Connected, authenticated, database selected. */
  void (*ready)(void *ud, sio_redis_conn *c);
  /* A reply no command waits for (see above); borrowed. May be NULL. */
  void (*push)(void *ud, sio_redis_conn *c, const redisReply *r);
  /* The connection failed (status from sio_dial, SIO_ERR_FORBIDDEN when
   * AUTH was refused, SIO_ERR_PROTO for another handshake error or a
   * reply that does not parse, SIO_ERR_TOOBIG for a reply over
   * max_reply_bytes, SIO_ERR_TIMEOUT) or ended (SIO_ERR_IO).
   * why is a short text for the log. Every pending command has already
   * reported. The connection frees itself afterwards: forget c. */
  void (*lost)(void *ud, sio_redis_conn *c, int status, const char *why);
  /* The memory and the socket are gone (after lost or close): an owner
   * waits for this before closing the sio_net. May be NULL. */
  void (*freed)(void *ud);
} sio_redis_conn_handler;

/* Starts connecting over net (its loop, its flush). t and o borrowed for
 * the call (o NULL: defaults), h copied. Returns 0 (ready or lost will
 * follow, never from inside this call), SIO_ERR_INVAL or SIO_ERR_NOMEM;
 * on error nothing will be called. */
int sio_redis_conn_open(sio_redis_conn **out, sio_net *net,
                        const sio_redis_target *t, const sio_redis_conn_opts *o,
                        const sio_redis_conn_handler *h, void *ud);

/* Sends a command (argv[i] of lens[i] bytes; lens NULL: NUL-terminated
 * strings). Commands may be sent before ready: they leave after the
 * handshake. cb (may be NULL) fires once, later. Returns 0, SIO_ERR_CLOSED
 * (lost or closing), SIO_ERR_LIMIT (max_pending commands wait) or
 * SIO_ERR_NOMEM; cb never fires on error. */
int sio_redis_conn_command(sio_redis_conn *c, int argc, const char **argv,
                           const size_t *lens, sio_redis_reply_cb cb, void *ud);

/* sio_redis_conn_command for a command that may wait wait_ms in Redis
 * before answering (XREAD BLOCK wait_ms): its deadline is the command
 * timeout plus wait_ms, and a command pipelined behind it gets wait_ms
 * more too, as its reply can only follow. wait_ms 0: the plain command. */
int sio_redis_conn_command_wait(sio_redis_conn *c, int argc, const char **argv,
                                const size_t *lens, uint32_t wait_ms,
                                sio_redis_reply_cb cb, void *ud);

/* Commands sent and not yet answered. */
size_t sio_redis_conn_pending(const sio_redis_conn *c);

/* 1 once ready, until lost or closed. */
int sio_redis_conn_is_ready(const sio_redis_conn *c);

/* Ends the connection: pending commands report SIO_ERR_CANCELED now, no
 * handler call follows, the memory is freed once the socket closed.
 * NULL-safe. */
void sio_redis_conn_close(sio_redis_conn *c);

/* The text of an error or status reply, or of a string reply; NULL
 * otherwise (reply NULL included). */
const char *sio_redis_reply_str(const redisReply *r);

/* A command's arguments copied in one block: sio_redis_argv_bytes is its
 * size (the pointers, the lengths and the text; lens NULL: NUL-terminated
 * arguments), sio_redis_argv_copy fills mem and points *argv_out and
 * *lens_out into it. */
size_t sio_redis_argv_bytes(int argc, const char **argv, const size_t *lens);
void sio_redis_argv_copy(void *mem, int argc, const char **argv,
                         const size_t *lens, const char ***argv_out,
                         size_t **lens_out);

#endif
