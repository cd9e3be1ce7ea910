# The adapter layer: libsio's own cluster adapters, peers of any an
# embedder writes, over the public seam <sio/adapter.h> only (the dispatch
# is src/socketio/sio_cluster.c). The Redis adapter protocols
# (sio_adapter_redis, classic, and sio_adapter_sharded, Redis 7 sharded
# pub/sub, over the sio_pubsub driver interface) and the request machinery
# they share (sio_adapter_req), their PURE message codec
# (sio_redis_msg, msgpack-c), the URL forms (sio_redis_url), one Redis
# connection over src/net with hiredis as the codec (sio_redis_conn), what
# the drivers read out of replies (sio_redis_reply, PURE), and
# the drivers: one server or Sentinel (sio_redis), a Cluster
# (sio_redis_cluster).
libsio_core_la_SOURCES += \
	src/adapter/sio_pubsub.h \
	src/adapter/sio_engine_bus.c src/adapter/sio_engine_bus.h \
	src/adapter/sio_adapter_req.c src/adapter/sio_adapter_req.h \
	src/adapter/sio_adapter_loops.c src/adapter/sio_adapter_loops.h \
	src/adapter/sio_adapter_redis.c src/adapter/sio_adapter_redis.h \
	src/adapter/sio_adapter_sharded.c src/adapter/sio_adapter_sharded.h \
	src/adapter/sio_adapter_streams.c src/adapter/sio_adapter_streams.h \
	src/adapter/sio_redis_msg.c src/adapter/sio_redis_msg.h \
	src/adapter/sio_redis_streams.c src/adapter/sio_redis_streams.h \
	src/adapter/sio_redis.c src/adapter/sio_redis.h \
	src/adapter/sio_redis_conn.c src/adapter/sio_redis_conn.h \
	src/adapter/sio_redis_reply.c src/adapter/sio_redis_reply.h \
	src/adapter/sio_redis_url.c src/adapter/sio_redis_url.h \
	src/adapter/sio_redis_history.c src/adapter/sio_redis_history.h \
	src/adapter/sio_redis_cluster.c src/adapter/sio_redis_cluster.h
check_sources += tests/test_sio_redis_msg.c tests/test_sio_adapter_req.c \
	tests/test_sio_adapter_loops.c \
	tests/test_sio_engine_bus.c \
	tests/test_sio_redis_streams.c \
	tests/test_sio_adapter_redis.c \
	tests/test_sio_adapter_sharded.c tests/test_sio_adapter_streams.c \
	tests/test_sio_redis.c tests/test_sio_redis_url.c \
	tests/test_sio_redis_conn.c tests/test_sio_redis_cluster.c \
	tests/test_sio_redis_reply.c tests/test_sio_redis_history.c \
	tests/helpers/pubsub_stub.c tests/helpers/pubsub_stub.h \
	tests/helpers/redis_proc.c tests/helpers/redis_proc.h
