#ifndef SIO_REDIS_REPLY_H
#define SIO_REDIS_REPLY_H

/* What the Redis drivers read out of replies (hiredis redisReply trees):
 * one place that decides what a server, a sentinel or a cluster node may
 * send, so that a hostile or broken one is refused the same way
 * everywhere. PURE: no I/O, no loop.
 *
 * Every reply argument may be any tree a redisReader produces (NULL
 * included); nothing is assumed of its shape. Output strings are spans
 * borrowed from the reply (or text) given: valid while it lives. Ports
 * are decimal digits only, 1..65535. */

#include <hiredis/hiredis.h>
#include <stddef.h>
#include <stdint.h>

#define SIO_REDIS_NSLOTS 16384
#define SIO_REDIS_SLOT_NONE 0xffffu

/* A node's address. host is not NUL-terminated (hostlen bytes); in a
 * slot map, host NULL means "the node that was asked" (the reply said ""
 * or "?"). */
typedef struct sio_redis_addr {
  const char *host;
  size_t hostlen;
  int port;
} sio_redis_addr;

/* A CLUSTER SLOTS reply as a map: slot[s] is the index in owners[] of
 * the master owning slot s, or SIO_REDIS_SLOT_NONE. Owners are distinct
 * (host, port) pairs, each owning at least one slot; a later range
 * overrides an earlier one. */
typedef struct sio_redis_slot_map {
  uint16_t slot[SIO_REDIS_NSLOTS];
  size_t nowners;
  sio_redis_addr owners[]; /* nowners */
} sio_redis_slot_map;

/* Parses a CLUSTER SLOTS reply: [[start, end, [host, port, ...], ...],
 * ...] with 0 <= start <= end < 16384. Returns 0 with *out allocated
 * (sio_redis_slot_map_free; hosts borrowed from r), SIO_ERR_NOTFOUND (not
 * an array, or empty: no map), SIO_ERR_PROTO (an entry malformed: the
 * whole reply is refused) or SIO_ERR_NOMEM; on error *out is NULL. */
int sio_redis_slots_parse(const redisReply *r, sio_redis_slot_map **out);
void sio_redis_slot_map_free(sio_redis_slot_map *m);

typedef enum sio_redis_redirect_kind {
  SIO_REDIS_REDIRECT_NONE = 0,
  SIO_REDIS_REDIRECT_MOVED,
  SIO_REDIS_REDIRECT_ASK
} sio_redis_redirect_kind;

typedef struct sio_redis_redirect {
  sio_redis_redirect_kind kind;
  unsigned slot;
  sio_redis_addr addr; /* host borrowed from err, never empty */
} sio_redis_redirect;

/* An error reply's text "MOVED <slot> <host>:<port>" or "ASK ...".
 * Returns 0, SIO_ERR_NOTFOUND (neither: kind NONE) or SIO_ERR_PROTO (kind
 * set, the rest malformed). err NUL-terminated, NULL allowed. */
int sio_redis_redirect_parse(const char *err, sio_redis_redirect *out);

/* The +switch-master message payload "<name> <old-ip> <old-port>
 * <new-ip> <new-port>" (fields separated by spaces, the text ends at a
 * NUL; fields past the fifth are ignored). Returns 0 with the new
 * address when the name is master_name, SIO_ERR_NOTFOUND for another
 * master, SIO_ERR_PROTO when malformed. */
int sio_redis_switch_master_parse(const char *payload, size_t len,
                                  const char *master_name,
                                  sio_redis_addr *out);

/* The reply to SENTINEL get-master-addr-by-name: [host, port] as two bulk
 * strings. Returns 0, SIO_ERR_NOTFOUND (another shape: nil when the
 * sentinel knows no such master) or SIO_ERR_PROTO (the port malformed). */
int sio_redis_master_addr_parse(const redisReply *r, sio_redis_addr *out);

/* ROLE's reply: 0 when it says master, SIO_ERR_STATE for another role,
 * SIO_ERR_PROTO when it is no ROLE reply. */
int sio_redis_role_parse(const redisReply *r);

/* PUBSUB NUMSUB / SHARDNUMSUB of one channel: [channel, count]. Returns 0
 * with *count, or SIO_ERR_PROTO. */
int sio_redis_numsub_parse(const redisReply *r, int64_t *count);

/* The replies in pub/sub mode that answer no command. */
typedef enum sio_redis_push_kind {
  SIO_REDIS_PUSH_NONE = 0, /* a reply to the oldest command */
  SIO_REDIS_PUSH_MESSAGE,
  SIO_REDIS_PUSH_PMESSAGE,
  SIO_REDIS_PUSH_SMESSAGE,
  SIO_REDIS_PUSH_SUNSUBSCRIBE /* the server dropped a sharded channel */
} sio_redis_push_kind;

/* Classifies r by its first element (case-insensitive; an array of at
 * least 3, pmessage exactly 4). An "sunsubscribe" is a push unless the
 * oldest command waiting is an unsubscribe (oldest_is_unsub), which it
 * confirms. */
sio_redis_push_kind sio_redis_push_classify(const redisReply *r,
                                            int oldest_is_unsub);

/* A push's fields, each a bulk string (NUL-terminated by hiredis): */
typedef struct sio_redis_push {
  sio_redis_push_kind kind;
  const char *pattern; /* PMESSAGE, else NULL */
  const char *channel;
  size_t channel_len;
  const char *payload; /* messages; NULL for SUNSUBSCRIBE */
  size_t payload_len;
} sio_redis_push;

/* Reads a reply classified as a push: message, smessage and sunsubscribe
 * have exactly 3 elements, pmessage 4; the pattern, channel and payload
 * are bulk strings (an sunsubscribe's count is not looked at). Returns 0,
 * or SIO_ERR_PROTO with out->kind still set (NONE: no push at all). */
int sio_redis_push_parse(const redisReply *r, sio_redis_push *out);

/* A redisReader that refuses a reply whose size goes over a bound:
 * hiredis 0.14 allocates an array of the length a header declares
 * ("*2147483647\r\n": 16 GiB for 13 bytes) and buffers a bulk string of
 * any declared length until it is complete, so a hostile server could
 * otherwise take the process's memory. The size of a reply is what its
 * objects take (sizeof(redisReply) each, plus string bytes and element
 * tables) plus, while it is incomplete, the bytes buffered for it.
 * The struct must stay where it is between init and deinit. */
typedef struct sio_redis_reader {
  redisReader *rd;
  const redisReplyObjectFunctions *base;
  size_t max_reply_bytes;
  size_t cost; /* of the reply being read */
  int over;
} sio_redis_reader;

/* Returns 0 or SIO_ERR_NOMEM. max_reply_bytes 0: SIO_REDIS_MAX_REPLY. */
#define SIO_REDIS_MAX_REPLY ((size_t)512 << 20) /* Redis's own bulk cap */
int sio_redis_reader_init(sio_redis_reader *r, size_t max_reply_bytes);
void sio_redis_reader_deinit(sio_redis_reader *r);
/* Returns 0 or SIO_ERR_NOMEM. */
int sio_redis_reader_feed(sio_redis_reader *r, const void *data, size_t len);
/* The next complete reply (the caller frees it with freeReplyObject), or
 * *out NULL when more bytes are needed. Returns 0, SIO_ERR_TOOBIG (over
 * the bound), SIO_ERR_PROTO (not RESP) or SIO_ERR_NOMEM; after an error
 * the reader stays failed. */
int sio_redis_reader_get(sio_redis_reader *r, redisReply **out);

#endif
