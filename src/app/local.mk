# The sio-server daemon's application modules (src/app/): a convenience
# library that the daemon and the unit tests link. These files reach libsio
# only through <sio/*.h>, so the include path names no src/ layer directory.
noinst_LTLIBRARIES += libsio_app.la
libsio_app_la_SOURCES = \
	src/app/app_util.c src/app/app_util.h \
	src/app/app_config.c src/app/app_config.h \
	src/app/app_auth.c src/app/app_auth.h \
	src/app/app_policy.c src/app/app_policy.h \
	src/app/app_events.c src/app/app_events.h \
	src/app/app_metrics.c src/app/app_metrics.h \
	src/app/app_ratelimit.c src/app/app_ratelimit.h \
	src/app/app_sdnotify.c src/app/app_sdnotify.h \
	src/app/app_cluster.c src/app/app_log.c src/app/app_log.h
APP_CPPFLAGS = -I$(top_builddir) -I$(top_srcdir)/include \
	-I$(top_builddir)/include -I$(top_srcdir)/src/app \
	$(JSONC_CFLAGS) $(LIBJWT_CFLAGS) $(INIH_CFLAGS) $(OPENSSL_CFLAGS)
APP_LIBS = libsio_app.la $(LIBJWT_LIBS) $(INIH_LIBS) $(JSONC_LIBS) \
	$(OPENSSL_LIBS)
libsio_app_la_CPPFLAGS = $(APP_CPPFLAGS)
libsio_app_la_CFLAGS = $(AM_CFLAGS)

# Writes packaging/sio-server.conf, docs/configuration.md and docs/events.md
# from the tables; `make update-config-docs` refreshes the committed copies
# and test_app_config.c fails `make check` when they drift.
noinst_PROGRAMS += src/app/gen_config_docs
src_app_gen_config_docs_SOURCES = src/app/gen_config_docs.c
src_app_gen_config_docs_CPPFLAGS = $(APP_CPPFLAGS)
src_app_gen_config_docs_LDADD = $(APP_LIBS) libsio_core.la $(LIBUV_LIBS)
update-config-docs: src/app/gen_config_docs$(EXEEXT)
	$(AM_V_GEN)./src/app/gen_config_docs --write $(top_srcdir)
.PHONY: update-config-docs
EXTRA_DIST += packaging/sio-server.conf

check_sources += tests/test_app_config.c tests/test_app_auth.c \
	tests/test_app_policy.c tests/test_app_events.c \
	tests/test_app_metrics.c tests/test_app_ratelimit.c \
	tests/test_app_sdnotify.c tests/test_app_cluster.c

# The daemon: the application modules above plus the parts that run the
# server; it links the shared libsio, through its public API only.
bin_PROGRAMS += sio-server
sio_server_SOURCES = src/app/main.c src/app/app_daemon.h \
	src/app/app_commands.c src/app/app_replay.c src/app/app_replay.h \
	src/app/app_http_api.c src/app/app_signals.c src/app/app_loops.c
nodist_sio_server_SOURCES = src/app/app_dashboard_html.c
BUILT_SOURCES += src/app/app_dashboard_html.c
CLEANFILES += src/app/app_dashboard_html.c
EXTRA_DIST += examples/dashboard/index.html

# The dashboard page is embedded as bytes, so the daemon needs no data dir.
src/app/app_dashboard_html.c: $(top_srcdir)/examples/dashboard/index.html
	@$(MKDIR_P) src/app
	$(AM_V_GEN){ echo '/* generated from examples/dashboard/index.html */'; \
	  echo 'const char app_dashboard_html[] = {'; \
	  od -An -v -tx1 < $< | sed 's/ \([0-9a-f][0-9a-f]\)/0x\1,/g'; \
	  echo '0};'; \
	  echo 'const unsigned long app_dashboard_html_len ='; \
	  echo '    sizeof(app_dashboard_html) - 1;'; } > $@-t && mv $@-t $@
sio_server_CPPFLAGS = $(APP_CPPFLAGS) $(LIBUV_CFLAGS)
sio_server_CFLAGS = $(AM_CFLAGS)
sio_server_LDADD = libsio.la $(APP_LIBS) $(LIBUV_LIBS)
