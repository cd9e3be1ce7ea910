# End-to-end servers, built but not installed nor run by `make check`:
# sio_echo is what the upstream socket.io-protocol suite expects
# (tests/e2e/run-upstream.sh runs it), sio_compat_server is what the
# compat/node mocha suites drive with the stock socket.io-client.
noinst_PROGRAMS += tests/e2e/sio_echo tests/e2e/sio_compat_server

tests_e2e_sio_echo_SOURCES = tests/e2e/sio_echo.c
tests_e2e_sio_echo_CPPFLAGS = $(AM_CPPFLAGS)
tests_e2e_sio_echo_LDADD = libsio_core.la $(LIBUV_LIBS) $(JSONC_LIBS) \
	$(OPENSSL_LIBS)

tests_e2e_sio_compat_server_SOURCES = tests/e2e/sio_compat_server.c
tests_e2e_sio_compat_server_CPPFLAGS = $(AM_CPPFLAGS)
tests_e2e_sio_compat_server_LDADD = libsio_core.la $(LIBUV_LIBS) \
	$(JSONC_LIBS) $(OPENSSL_LIBS)

# eio_echo is what the upstream engine.io-protocol suite expects; it uses
# the internal Engine.IO layer (Engine.IO alone is not public API).
noinst_PROGRAMS += tests/e2e/eio_echo
tests_e2e_eio_echo_SOURCES = tests/e2e/eio_echo.c
tests_e2e_eio_echo_CPPFLAGS = $(AM_CPPFLAGS)
tests_e2e_eio_echo_LDADD = libsio_core.la $(LIBUV_LIBS) $(JSONC_LIBS) \
	$(OPENSSL_LIBS)

# sio_sharded_codec is the sharded adapter codec as a filter, for
# compat/node/test/sharded-codec.test.mjs (internal modules: the codec is
# not public API).
noinst_PROGRAMS += tests/e2e/sio_sharded_codec
tests_e2e_sio_sharded_codec_SOURCES = tests/e2e/sio_sharded_codec.c
tests_e2e_sio_sharded_codec_CPPFLAGS = $(AM_CPPFLAGS)
tests_e2e_sio_sharded_codec_LDADD = libsio_core.la $(LIBUV_LIBS) \
	$(JSONC_LIBS) $(OPENSSL_LIBS)
