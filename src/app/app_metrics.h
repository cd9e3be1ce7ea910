#ifndef APP_METRICS_H
#define APP_METRICS_H

/* Counters and gauges of the daemon and their Prometheus text exposition
 * (format 0.0.4), for GET /metrics (SPEC §3). The caller sets values (from
 * the library's callbacks and its own policy code); this module stores and
 * formats them, plus the usual process_* figures read from /proc and
 * getrusage(). Not thread-safe: a registry belongs to one loop (each
 * loop of the daemon has its own, summed with app_metrics_merge). */

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* X(id, name, type, label, help): every metric, in exposition order. label
 * is NULL for unlabelled metrics. Counters end in _total. */
#define APP_METRICS(X)                                                         \
  X(APP_M_CONNECTIONS, "sio_connections", "gauge", "transport",                \
    "Open Engine.IO connections by transport.")                                \
  X(APP_M_SOCKETS, "sio_sockets", "gauge", "namespace",                        \
    "Connected Socket.IO sockets by namespace.")                               \
  X(APP_M_HANDSHAKES, "sio_handshakes_total", "counter", NULL,                 \
    "Engine.IO handshakes accepted.")                                          \
  X(APP_M_PACKETS_RECEIVED, "sio_packets_received_total", "counter", NULL,     \
    "Socket.IO packets received from clients.")                                \
  X(APP_M_PACKETS_SENT, "sio_packets_sent_total", "counter", NULL,             \
    "Socket.IO packets sent to clients.")                                      \
  X(APP_M_BYTES_RECEIVED, "sio_bytes_received_total", "counter", NULL,         \
    "Payload bytes received from clients.")                                    \
  X(APP_M_BYTES_SENT, "sio_bytes_sent_total", "counter", NULL,                 \
    "Payload bytes sent to clients.")                                          \
  X(APP_M_BROADCASTS, "sio_broadcasts_total", "counter", NULL,                 \
    "Broadcasts (room emits) performed.")                                      \
  X(APP_M_ACKS, "sio_acks_total", "counter", NULL,                             \
    "Acknowledgements sent or received.")                                      \
  X(APP_M_AUTH_FAILURES, "sio_auth_failures_total", "counter", "code",         \
    "Connections refused, by CONNECT_ERROR code.")                             \
  X(APP_M_LIMIT_HITS, "sio_limit_hits_total", "counter", "limit",              \
    "Times a limit was hit, by limit.")                                        \
  X(APP_M_PUBLISH_REJECTED, "sio_publish_rejected_total", "counter",          \
    "reason", "POST /api/v1/emit requests refused, by reason.")                \
  X(APP_M_DISCONNECTS, "sio_disconnects_total", "counter", "reason",           \
    "Socket disconnections, by reason.")                                       \
  X(APP_M_CLOSE_TIMEOUTS, "sio_close_timeouts_total", "counter", NULL,         \
    "Closes cut short by limits.close_timeout_ms (peer not reading).")         \
  X(APP_M_REDIS_CONNECTED, "sio_redis_connected", "gauge", NULL,               \
    "1 when the Redis adapter is connected, else 0.")                          \
  X(APP_M_REDIS_MESSAGES, "sio_redis_messages_total", "counter", "direction",  \
    "Redis adapter messages, by direction (in, out).")                         \
  X(APP_M_REDIS_LATENCY, "sio_redis_latency_seconds", "gauge", NULL,           \
    "Round-trip time of the last Redis PING.")                                 \
  X(APP_M_REPLAY_EVENTS, "sio_replay_events", "gauge", NULL,                  \
    "Events kept in the rooms' replay history.")                               \
  X(APP_M_REPLAY_BYTES, "sio_replay_bytes", "gauge", NULL,                    \
    "Encoded bytes of the events kept for replay.")                            \
  X(APP_M_REPLAYS, "sio_replays_total", "counter", "complete",                 \
    "Replays from a last event id, by whether nothing was missing.")          \
  X(APP_M_REPLAYED, "sio_replayed_events_total", "counter", NULL,             \
    "Events sent by replays from a last event id.")                            \
  X(APP_M_FORWARDED, "sio_forwarded_total", "counter", "outcome",            \
    "Engine.IO requests for sessions of other instances (engine.forwarding), "\
    "by outcome: carried, unknown, served, taken_over, handed_over, "         \
    "proxied, bad_message, dropped.")                                          \
  X(APP_M_EVENT_LOOP_LAG, "sio_event_loop_lag_seconds", "gauge", NULL,         \
    "Delay of the last event-loop tick behind its schedule (the most "       \
    "behind of the loops).")                                                   \
  X(APP_M_LOOP_UP, "sio_loop_up", "gauge", "loop",                             \
    "1 when the event loop answered this scrape within 1 s; 0: its figures "  \
    "are missing from the totals.")                                            \
  X(APP_M_LOOP_CONNECTIONS, "sio_loop_connections", "gauge", "loop",           \
    "Open Engine.IO connections of each event loop (server.threads).")       \
  X(APP_M_LOOP_LAG, "sio_loop_lag_seconds", "gauge", "loop",                   \
    "Delay of each event loop's last tick behind its schedule.")              \
  X(APP_M_LOOP_HANDOFFS, "sio_loop_handoffs_total", "counter", "outcome",      \
    "Connections with a request for another loop's session, by outcome: "    \
    "handed (to the owner), adopted (from another loop), failed.")         \
  X(APP_M_LOOP_RELAY_FAILURES, "sio_loop_relay_failures_total", "counter",     \
    NULL,                                                                      \
    "Broadcasts a loop could not hand to the other loops (out of memory, "   \
    "mailbox full): delivered on that loop only.")

enum app_metric {
#define APP_METRIC_ENUM(id, name, type, label, help) id,
  APP_METRICS(APP_METRIC_ENUM)
#undef APP_METRIC_ENUM
      APP_M_COUNT
};

/* Label values created at zero when the registry is made, so the series
 * exist before the first event (Prometheus rate() needs that). */
#define APP_LIMIT_MAX_PAYLOAD "max_payload"
#define APP_LIMIT_EVENT_RATE "event_rate"
#define APP_LIMIT_CONNECTIONS_PER_USER "connections_per_user"
#define APP_LIMIT_HANDSHAKE_RATE "handshake_rate"
#define APP_LIMIT_MAX_CONNECTIONS "max_connections"
#define APP_LIMIT_SLOW_CONSUMER "slow_consumer"
#define APP_LIMIT_ORIGIN "origin"
#define APP_LIMIT_ROOMS "rooms_per_socket"
/* too many broadcasts arrived while a replay was read: the client is
 * closed and reconnects */
#define APP_LIMIT_REPLAY_BACKLOG "replay_backlog"
/* sio_publish_rejected_total reasons */
#define APP_PUBLISH_UNAUTHORIZED "unauthorized"
#define APP_PUBLISH_BAD_REQUEST "bad_request"

/* Distinct label values kept per metric; more are refused. */
#define APP_METRICS_MAX_SERIES 256

struct app_metrics;

/* Creates a registry with every metric at 0 and the preset label values
 * (transport: polling, websocket; code: the five auth codes; limit: the
 * APP_LIMIT_* names; direction: in, out). Returns 0 or -1 (out of memory).
 */
int app_metrics_new(struct app_metrics **out);
/* NULL-safe. */
void app_metrics_del(struct app_metrics *m);

/* Adds delta to (or sets) the series of metric id with the given label
 * value (copied; must be NULL for unlabelled metrics and non-NULL for
 * labelled ones). A new label value creates the series. Returns 0, or -1
 * when id is out of range, the label presence is wrong, the metric already
 * has APP_METRICS_MAX_SERIES series, or out of memory. */
int app_metrics_add(struct app_metrics *m, enum app_metric id,
                    const char *label, double delta);
int app_metrics_set(struct app_metrics *m, enum app_metric id,
                    const char *label, double value);
static inline int app_metrics_inc(struct app_metrics *m, enum app_metric id,
                                  const char *label) {
  return app_metrics_add(m, id, label, 1);
}
/* Adds every series of src to dst's (creating those dst lacks): the
 * registries of several loops summed. Returns 0, or -1 (out of memory, or
 * past APP_METRICS_MAX_SERIES: dst then holds part of src). */
int app_metrics_merge(struct app_metrics *dst, const struct app_metrics *src);
/* A registry holding the same series and values as m, or NULL (out of
 * memory): a loop's counters handed to another loop. */
struct app_metrics *app_metrics_copy(const struct app_metrics *m);
/* Current value; 0 for a series that does not exist. */
double app_metrics_get(const struct app_metrics *m, enum app_metric id,
                       const char *label);
/* The metric's exposition name, or NULL when id is out of range. */
const char *app_metrics_name(enum app_metric id);

/* process_* figures. */
struct app_process_stats {
  double cpu_seconds;      /* user + system, getrusage() */
  uint64_t resident_bytes; /* /proc/self/statm */
  uint64_t virtual_bytes;  /* /proc/self/statm */
  uint64_t open_fds;       /* entries of /proc/self/fd */
  uint64_t max_fds;        /* RLIMIT_NOFILE soft limit */
  double start_time_s;     /* Unix time the process started */
};

/* Reads the figures of the calling process. Fields that cannot be read are
 * left 0 (they are then omitted from the exposition). Returns 0 when
 * everything was read, -1 when something was not. */
int app_process_stats_read(struct app_process_stats *ps);

/* Renders every metric (and ps when not NULL) as Prometheus text: for each
 * metric "# HELP", "# TYPE" and one line per series, label values escaped
 * (\\, \", \n). Returns a malloc'd NUL-terminated text (length in *len when
 * len is not NULL) that the caller frees, or NULL when out of memory.
 * Content-Type: text/plain; version=0.0.4; charset=utf-8 */
char *app_metrics_render(const struct app_metrics *m,
                         const struct app_process_stats *ps, size_t *len);

#endif
