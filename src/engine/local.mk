libsio_core_la_SOURCES +=

libsio_core_la_SOURCES += src/engine/eio_server.c src/engine/eio_server.h \
	src/engine/eio_int.h src/engine/eio_socket.c src/engine/eio_polling.c \
	src/engine/eio_ws.c
libsio_core_la_SOURCES += src/engine/eio_packet.c src/engine/eio_packet.h \
	src/engine/eio_payload.c src/engine/eio_payload.h \
	src/engine/eio_cluster_msg.c src/engine/eio_cluster_msg.h
check_sources += tests/test_eio_packet.c tests/test_eio_payload.c \
	tests/test_eio_cluster_msg.c
check_sources += tests/test_eio_server.c tests/test_eio_polling.c \
	tests/test_eio_socket.c tests/test_eio_ws.c
libsio_core_la_SOURCES += src/engine/eio_cluster.c
check_sources += tests/test_eio_cluster.c
