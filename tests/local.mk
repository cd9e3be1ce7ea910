# One Check runner for every unit suite (tests/check_main.c); suites are
# listed in tests/check_suites.h and their sources in each layer's local.mk.
if HAVE_CHECK
check_PROGRAMS += tests/check_main
TESTS += tests/check_main
tests_check_main_SOURCES = tests/check_main.c tests/check_suites.h \
	tests/helpers/failmalloc.c tests/helpers/failmalloc.h \
	tests/helpers/vectors.c tests/helpers/vectors.h \
	tests/helpers/sio_steps.c tests/helpers/sio_steps.h \
	tests/helpers/rawclient.c tests/helpers/rawclient.h \
	tests/helpers/eio_fixture.c tests/helpers/eio_fixture.h \
	$(check_sources)
tests_check_main_CPPFLAGS = $(AM_CPPFLAGS) -I$(top_srcdir)/tests \
	-I$(top_srcdir)/tests/helpers -I$(top_srcdir)/src/app \
	$(LIBJWT_CFLAGS) $(INIH_CFLAGS)
tests_check_main_CFLAGS = $(AM_CFLAGS) $(CHECK_CFLAGS)
tests_check_main_LDADD = libsio_core.la $(APP_LIBS) $(CHECK_LIBS) \
	$(LIBUV_LIBS) $(JSONC_LIBS) $(OPENSSL_LIBS) -lpthread
endif
