# The adapter layer: how a server's namespaces reach the other instances of
# a cluster. sio_adapter (dispatch and the cluster-wide public calls), the
# Redis adapter protocols (sio_adapter_redis, classic, and
# sio_adapter_sharded, Redis 7 sharded pub/sub, over the sio_pubsub driver
# interface), its PURE message codec (sio_redis_msg, msgpack-c) and the one
# module owning hiredis (sio_redis).
libsio_core_la_SOURCES += \
	src/adapter/sio_adapter.c src/adapter/sio_adapter.h \
	src/adapter/sio_pubsub.h \
	src/adapter/sio_adapter_redis.c src/adapter/sio_adapter_redis.h \
	src/adapter/sio_adapter_sharded.c src/adapter/sio_adapter_sharded.h \
	src/adapter/sio_redis_msg.c src/adapter/sio_redis_msg.h \
	src/adapter/sio_redis.c src/adapter/sio_redis.h
check_sources += tests/test_sio_redis_msg.c tests/test_sio_adapter.c \
	tests/test_sio_adapter_sharded.c \
	tests/test_sio_redis.c \
	tests/helpers/pubsub_stub.c tests/helpers/pubsub_stub.h
