#ifndef APP_RATELIMIT_H
#define APP_RATELIMIT_H

/* Token buckets and a bounded per-key table for the daemon's limits:
 * per-socket event rate (limits.events_per_minute / events_burst), per-IP
 * handshake rate (limits.handshakes_per_ip_per_s / handshakes_burst) and
 * per-user connection counts (limits.max_connections_per_user). Time is
 * always passed in (ms, any monotonic clock such as uv_now()), so tests
 * drive it directly. Not thread-safe. */

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* --------------------------------------------------------- token bucket */

/* per_minute tokens are added per minute, continuously, up to burst.
 * per_minute == 0 means unlimited (every take succeeds). A burst of 0 is
 * treated as 1. */
struct app_rate {
  uint32_t per_minute;
  uint32_t burst;
};

/* A per-second rate, e.g. handshakes_per_ip_per_s (saturating). */
static inline struct app_rate app_rate_per_second(uint32_t per_s,
                                                  uint32_t burst) {
  struct app_rate r;
  r.per_minute = per_s > UINT32_MAX / 60 ? UINT32_MAX : per_s * 60;
  r.burst = burst;
  return r;
}

/* The bucket state (16 bytes; embed it in the socket's data). The level is
 * kept in 1/60000 of a token so refills are exact integer math. */
struct app_bucket {
  uint64_t level;
  uint64_t last_ms;
};

/* Starts full at now_ms. */
void app_bucket_init(struct app_bucket *b, const struct app_rate *r,
                     uint64_t now_ms);
/* Takes one token if there is one. Returns true when the event may go on,
 * false when it is over the rate (nothing is taken then). A clock that goes
 * backwards refills nothing. A changed rate (reload) applies from the next
 * call; a smaller burst clamps the level. */
bool app_bucket_take(struct app_bucket *b, const struct app_rate *r,
                     uint64_t now_ms);
/* Milliseconds until a token is available (0 when one is; for Retry-After).
 */
uint64_t app_bucket_wait_ms(const struct app_bucket *b,
                            const struct app_rate *r, uint64_t now_ms);

/* ------------------------------------------------------- per-key table */

/* A hash table from a string key (a user id or a client IP) to a
 * connection count and a token bucket, with at most max_entries entries.
 * An entry is idle when its count is 0 and it was last used idle_ms ago;
 * idle entries are removed by app_keytab_expire() and, a few at a time, on
 * insertion. Choose idle_ms at least as long as a bucket takes to refill
 * (burst * 60000 / per_minute), so dropping an idle entry never forgives a
 * client early. Keys are hashed with SipHash-2-4 under a per-table seed, so
 * peers cannot aim at one chain. */
struct app_keytab;

enum {
  APP_RL_OK = 0,      /* allowed */
  APP_RL_LIMITED = 1, /* over the limit or rate */
  APP_RL_FULL = 2,    /* the key is new and the table is full of entries
                         that are in use; the caller decides (the daemon
                         refuses, and counts the limit hit) */
};

/* Creates a table. seed is 16 random bytes (borrowed; app_random_bytes()).
 * max_entries is at least 1. Returns 0 or -1 (out of memory). */
int app_keytab_new(struct app_keytab **out, size_t max_entries,
                   uint64_t idle_ms, const uint8_t seed[16]);
/* NULL-safe. */
void app_keytab_del(struct app_keytab *t);

/* Counts one more connection for key (copied) if that keeps it at or under
 * limit (0 = unlimited). Returns APP_RL_OK (counted), APP_RL_LIMITED (not
 * counted), APP_RL_FULL, or -1 when out of memory. */
int app_keytab_acquire(struct app_keytab *t, const char *key, uint32_t limit,
                       uint64_t now_ms);
/* Counts one connection less (never below 0; unknown keys are ignored). */
void app_keytab_release(struct app_keytab *t, const char *key, uint64_t now_ms);
/* Current count of key (0 when absent). */
uint32_t app_keytab_count(const struct app_keytab *t, const char *key);

/* Takes a token from key's bucket (created full at first use). Returns
 * APP_RL_OK, APP_RL_LIMITED, APP_RL_FULL, or -1 when out of memory. */
int app_keytab_take(struct app_keytab *t, const char *key,
                    const struct app_rate *r, uint64_t now_ms);

/* Removes every idle entry; returns how many. Call it from a timer (say
 * every 10 s). */
size_t app_keytab_expire(struct app_keytab *t, uint64_t now_ms);
/* Number of entries. */
size_t app_keytab_size(const struct app_keytab *t);

#endif
