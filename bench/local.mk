# Benchmarks (issue 5), built but not installed nor run by `make check`:
# sio-bench is the load generator, bench_server the libsio side of
# bench/compare (bench/node-server.js is the Node side).
noinst_PROGRAMS += bench/sio-bench bench/bench_server

bench_sio_bench_SOURCES = bench/sio_bench.c bench/bench_client.c \
	bench/bench_util.c bench/bench.h
bench_sio_bench_LDADD = $(LIBUV_LIBS)

# Linked statically against the library's objects so that perf and
# callgrind see one binary; it includes only <sio/sio.h>.
bench_bench_server_SOURCES = bench/bench_server.c
bench_bench_server_LDADD = libsio_core.la $(LIBUV_LIBS) $(JSONC_LIBS) \
	$(OPENSSL_LIBS)

EXTRA_DIST += bench/compare bench/node-server.js bench/node-daemon.js \
	bench/publisher.js bench/package.json \
	bench/package-lock.json

# What replay's room history costs per broadcast and per kept event.
noinst_PROGRAMS += bench/history_cost
bench_history_cost_SOURCES = bench/history_cost.c
bench_history_cost_LDADD = libsio_core.la $(LIBUV_LIBS) $(JSONC_LIBS) \
	$(OPENSSL_LIBS)

# The kernel's floor: one write() per delivery and nothing else.
noinst_PROGRAMS += bench/floor_server
bench_floor_server_SOURCES = bench/floor_server.c
EXTRA_DIST += bench/fifty-k.sh bench/redis-topologies.sh
