# libFuzzer targets, built only with ./configure --enable-fuzz CC=clang.
# tests/fuzz/run.sh does that in its own build directory and also compiles
# the library with -fsanitize=fuzzer-no-link,address,undefined, so that the
# fuzzer sees the coverage of libsio itself, not only of the harness.
#
# To add a target fuzz_foo: write tests/fuzz/fuzz_foo.c (defining
# LLVMFuzzerTestOneInput), put a few seeds in tests/fuzz/corpus/fuzz_foo/
# (and optionally a tests/fuzz/fuzz_foo.dict), then append this block at the
# end of this file; run.sh builds and runs every target in FUZZ_TARGETS.
#
#   if ENABLE_FUZZ
#   FUZZ_TARGETS += tests/fuzz/fuzz_foo
#   tests_fuzz_fuzz_foo_SOURCES = tests/fuzz/fuzz_foo.c
#   tests_fuzz_fuzz_foo_CFLAGS = $(FUZZ_COMPILE_FLAGS)
#   tests_fuzz_fuzz_foo_LDFLAGS = $(FUZZ_LINK_FLAGS)
#   tests_fuzz_fuzz_foo_LDADD = $(FUZZ_LINK_LIBS)
#   endif

FUZZ_TARGETS =
FUZZ_COMPILE_FLAGS = $(AM_CFLAGS) -fsanitize=fuzzer,address,undefined
FUZZ_LINK_FLAGS = -fsanitize=fuzzer,address,undefined
FUZZ_LINK_LIBS = libsio_core.la $(JSONC_LIBS)
noinst_PROGRAMS += $(FUZZ_TARGETS)

# Prints the targets this build has (empty without --enable-fuzz).
fuzz-targets:
	@echo $(FUZZ_TARGETS)
.PHONY: fuzz-targets

if ENABLE_FUZZ
FUZZ_TARGETS += tests/fuzz/fuzz_eio_payload
tests_fuzz_fuzz_eio_payload_SOURCES = tests/fuzz/fuzz_eio_payload.c
tests_fuzz_fuzz_eio_payload_CFLAGS = $(FUZZ_COMPILE_FLAGS)
tests_fuzz_fuzz_eio_payload_LDFLAGS = $(FUZZ_LINK_FLAGS)
tests_fuzz_fuzz_eio_payload_LDADD = $(FUZZ_LINK_LIBS)
endif

if ENABLE_FUZZ
FUZZ_TARGETS += tests/fuzz/fuzz_sio_packet
tests_fuzz_fuzz_sio_packet_SOURCES = tests/fuzz/fuzz_sio_packet.c
tests_fuzz_fuzz_sio_packet_CFLAGS = $(FUZZ_COMPILE_FLAGS)
tests_fuzz_fuzz_sio_packet_LDFLAGS = $(FUZZ_LINK_FLAGS)
tests_fuzz_fuzz_sio_packet_LDADD = $(FUZZ_LINK_LIBS)
endif

if ENABLE_FUZZ
FUZZ_TARGETS += tests/fuzz/fuzz_http_request
tests_fuzz_fuzz_http_request_SOURCES = tests/fuzz/fuzz_http_request.c
tests_fuzz_fuzz_http_request_CFLAGS = $(FUZZ_COMPILE_FLAGS)
tests_fuzz_fuzz_http_request_LDFLAGS = $(FUZZ_LINK_FLAGS)
tests_fuzz_fuzz_http_request_LDADD = $(FUZZ_LINK_LIBS)
endif

if ENABLE_FUZZ
FUZZ_TARGETS += tests/fuzz/fuzz_redis_msg
tests_fuzz_fuzz_redis_msg_SOURCES = tests/fuzz/fuzz_redis_msg.c
tests_fuzz_fuzz_redis_msg_CFLAGS = $(FUZZ_COMPILE_FLAGS)
tests_fuzz_fuzz_redis_msg_LDFLAGS = $(FUZZ_LINK_FLAGS)
tests_fuzz_fuzz_redis_msg_LDADD = $(FUZZ_LINK_LIBS)
endif

# A whole WebSocket session against a server on loopback (frames, Engine.IO,
# Socket.IO, acks, rooms): links libuv too.
if ENABLE_FUZZ
FUZZ_TARGETS += tests/fuzz/fuzz_ws_session
tests_fuzz_fuzz_ws_session_SOURCES = tests/fuzz/fuzz_ws_session.c
tests_fuzz_fuzz_ws_session_CFLAGS = $(FUZZ_COMPILE_FLAGS) -I$(top_srcdir)/include \
	$(LIBUV_CFLAGS) $(JSONC_CFLAGS)
tests_fuzz_fuzz_ws_session_LDFLAGS = $(FUZZ_LINK_FLAGS)
tests_fuzz_fuzz_ws_session_LDADD = $(FUZZ_LINK_LIBS) $(LIBUV_LIBS) $(OPENSSL_LIBS)
endif

# Connection state recovery: several users connecting, publishing,
# dropping and reconnecting with old, new and foreign pids on loopback.
if ENABLE_FUZZ
FUZZ_TARGETS += tests/fuzz/fuzz_recovery
tests_fuzz_fuzz_recovery_SOURCES = tests/fuzz/fuzz_recovery.c
tests_fuzz_fuzz_recovery_CFLAGS = $(FUZZ_COMPILE_FLAGS) -I$(top_srcdir)/include \
	$(LIBUV_CFLAGS) $(JSONC_CFLAGS)
tests_fuzz_fuzz_recovery_LDFLAGS = $(FUZZ_LINK_FLAGS)
tests_fuzz_fuzz_recovery_LDADD = $(FUZZ_LINK_LIBS) $(LIBUV_LIBS) $(OPENSSL_LIBS)
endif

# The Redis URL forms (redis.url in the configuration).
if ENABLE_FUZZ
FUZZ_TARGETS += tests/fuzz/fuzz_redis_url
tests_fuzz_fuzz_redis_url_SOURCES = tests/fuzz/fuzz_redis_url.c
tests_fuzz_fuzz_redis_url_CFLAGS = $(FUZZ_COMPILE_FLAGS)
tests_fuzz_fuzz_redis_url_LDFLAGS = $(FUZZ_LINK_FLAGS)
tests_fuzz_fuzz_redis_url_LDADD = $(FUZZ_LINK_LIBS)
endif

# Replies of a hostile Redis, Sentinel or Cluster node, through the
# bounded reader and sio_redis_reply.
if ENABLE_FUZZ
FUZZ_TARGETS += tests/fuzz/fuzz_redis_reply
tests_fuzz_fuzz_redis_reply_SOURCES = tests/fuzz/fuzz_redis_reply.c
tests_fuzz_fuzz_redis_reply_CFLAGS = $(FUZZ_COMPILE_FLAGS) $(HIREDIS_CFLAGS)
tests_fuzz_fuzz_redis_reply_LDFLAGS = $(FUZZ_LINK_FLAGS)
tests_fuzz_fuzz_redis_reply_LDADD = $(FUZZ_LINK_LIBS) $(HIREDIS_LIBS)
endif

# The Redis streams adapter's codec: XREAD / XRANGE replies of a hostile
# Redis through the bounded reader, their entries, stored sessions and
# entry ids.
if ENABLE_FUZZ
FUZZ_TARGETS += tests/fuzz/fuzz_redis_streams
tests_fuzz_fuzz_redis_streams_SOURCES = tests/fuzz/fuzz_redis_streams.c
tests_fuzz_fuzz_redis_streams_CFLAGS = $(FUZZ_COMPILE_FLAGS) $(HIREDIS_CFLAGS)
tests_fuzz_fuzz_redis_streams_LDFLAGS = $(FUZZ_LINK_FLAGS)
tests_fuzz_fuzz_redis_streams_LDADD = $(FUZZ_LINK_LIBS) $(HIREDIS_LIBS)
endif

# The @socket.io/cluster-engine messages (eio_cluster_msg.c): what another
# node or another program on the engine.io# channels could publish, and
# eio_cm_msg structs built from the input, through encode and decode.
if ENABLE_FUZZ
FUZZ_TARGETS += tests/fuzz/fuzz_eio_cluster_msg
tests_fuzz_fuzz_eio_cluster_msg_SOURCES = tests/fuzz/fuzz_eio_cluster_msg.c
tests_fuzz_fuzz_eio_cluster_msg_CFLAGS = $(FUZZ_COMPILE_FLAGS)
tests_fuzz_fuzz_eio_cluster_msg_LDFLAGS = $(FUZZ_LINK_FLAGS)
tests_fuzz_fuzz_eio_cluster_msg_LDADD = $(FUZZ_LINK_LIBS)
endif
