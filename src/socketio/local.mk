libsio_core_la_SOURCES +=

libsio_core_la_SOURCES += src/socketio/sio_packet.c src/socketio/sio_packet.h \
	src/socketio/sio_binary.c src/socketio/sio_binary.h
check_sources += tests/test_sio_packet.c tests/test_sio_binary.c
libsio_core_la_SOURCES += src/socketio/sio_rooms.c src/socketio/sio_rooms.h \
	src/socketio/sio_ack.c src/socketio/sio_ack.h \
	src/socketio/sio_broadcast.c src/socketio/sio_broadcast.h \
	src/socketio/sio_socket.c src/socketio/sio_socket.h \
	src/socketio/sio_namespace.c src/socketio/sio_namespace.h \
	src/socketio/sio_client.c src/socketio/sio_client.h \
	src/socketio/sio_server.c src/socketio/sio_server.h \
	src/socketio/sio_cluster.c \
	src/socketio/sio_group.c src/socketio/sio_group.h
check_sources += tests/test_sio_rooms.c tests/test_sio_ack.c \
	tests/test_sio_cluster.c tests/test_sio_group.c
check_sources += tests/test_sio_server.c \
	tests/helpers/ws_client.c tests/helpers/ws_client.h
libsio_core_la_SOURCES += src/socketio/sio_server_http.c
check_sources += tests/test_sio_server_http.c
libsio_core_la_SOURCES += src/socketio/sio_recovery.c src/socketio/sio_recovery.h \
	src/socketio/sio_history.c src/socketio/sio_history.h \
	src/socketio/sio_replay.c src/socketio/sio_replay.h \
	src/socketio/sio_restore.c src/socketio/sio_restore.h
check_sources += tests/test_sio_recovery.c tests/test_sio_history.c \
	tests/test_sio_restore.c \
	tests/test_sio_replay.c tests/test_sio_client.c \
	tests/test_sio_socket.c
