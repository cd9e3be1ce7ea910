libsio_core_la_SOURCES +=

libsio_core_la_SOURCES += src/net/sio_conn.c src/net/sio_conn.h \
	src/net/sio_listener.c src/net/sio_listener.h
libsio_core_la_SOURCES += src/net/sio_http.c src/net/sio_http.h
libsio_core_la_SOURCES += src/net/sio_http_cors.c src/net/sio_http_cors.h
check_sources += tests/test_sio_http.c tests/test_sio_http_cors.c \
	tests/test_sio_conn.c tests/test_sio_tls.c tests/test_sio_dial.c
libsio_core_la_SOURCES += src/net/sio_tls.c src/net/sio_tls.h
libsio_core_la_SOURCES += src/net/sio_dial.c src/net/sio_dial.h
libsio_core_la_SOURCES += src/net/sio_mailbox.c src/net/sio_mailbox.h
check_sources += tests/test_sio_mailbox.c
