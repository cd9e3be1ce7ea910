libsio_core_la_SOURCES += \
	src/base/sio_int.h \
	src/base/sio_error.c \
	src/base/sio_mem.c src/base/sio_mem.h \
	src/base/sio_buf.c src/base/sio_buf.h \
	src/base/sio_rcbuf.c src/base/sio_rcbuf.h \
	src/base/sio_queue.h \
	src/base/sio_map.c src/base/sio_map.h \
	src/base/sio_log.c src/base/sio_log.h \
	src/base/sio_util.c src/base/sio_util.h \
	src/base/sio_json.c src/base/sio_json.h \
	src/base/sio_crypto.c src/base/sio_crypto.h

check_sources += \
	tests/test_sio_buf.c \
	tests/test_sio_json.c \
	tests/test_sio_map.c \
	tests/test_sio_util.c
