noinst_PROGRAMS += examples/embed-echo
examples_embed_echo_SOURCES = examples/embed-echo.c
examples_embed_echo_LDADD = libsio.la $(LIBUV_LIBS) $(JSONC_LIBS)
