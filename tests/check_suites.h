#ifndef CHECK_SUITES_H
#define CHECK_SUITES_H

/* Every unit suite, one line each: X(name) declares Suite *name##_suite(void)
 * and check_main.c adds it to the runner. Keep one suite per src module. */
#include <check.h>

#define CHECK_SUITES(X)                                                        \
  X(eio_packet)                                                                \
  X(eio_payload)                                                               \
  X(eio_cluster_msg)                                                           \
  X(sio_json)                                                                  \
  X(sio_packet)                                                                \
  X(sio_binary)                                                                \
  X(eio_polling)                                                               \
  X(eio_cluster)                                                               \
  X(eio_socket)                                                                \
  X(eio_ws)                                                                    \
  X(eio_server)                                                                \
  X(sio_ack)                                                                   \
  X(sio_buf)                                                                   \
  X(sio_http)                                                                  \
  X(sio_mailbox)                                                               \
  X(sio_group)                                                                 \
  X(sio_adapter_loops)                                                         \
  X(sio_conn)                                                                  \
  X(sio_tls)                                                                   \
  X(sio_dial)                                                                  \
  X(sio_http_cors)                                                             \
  X(sio_map)                                                                   \
  X(sio_recovery)                                                              \
  X(sio_history)                                                               \
  X(sio_replay)                                                                \
  X(sio_restore)                                                               \
  X(sio_client)                                                                \
  X(sio_socket)                                                                \
  X(sio_rooms)                                                                 \
  X(sio_server_http)                                                           \
  X(sio_server)                                                                \
  X(app_config)                                                                \
  X(app_auth)                                                                  \
  X(app_policy)                                                                \
  X(app_events)                                                                \
  X(app_metrics)                                                               \
  X(app_ratelimit)                                                             \
  X(app_sdnotify)                                                              \
  X(app_cluster)                                                               \
  X(sio_util)                                                                  \
  X(sio_redis_msg)                                                             \
  X(sio_redis_streams)                                                         \
  X(sio_redis_url)                                                             \
  X(sio_redis_history)                                                         \
  X(sio_redis_conn)                                                            \
  X(sio_redis_reply)                                                           \
  X(sio_redis_cluster)                                                         \
  X(sio_cluster)                                                               \
  X(sio_engine_bus)                                                            \
  X(sio_adapter_req)                                                           \
  X(sio_adapter_redis)                                                         \
  X(sio_adapter_sharded)                                                       \
  X(sio_adapter_streams)                                                       \
  X(sio_redis)

#define CHECK_SUITE_DECL(name) Suite *name##_suite(void);
CHECK_SUITES(CHECK_SUITE_DECL)
#undef CHECK_SUITE_DECL

#endif
