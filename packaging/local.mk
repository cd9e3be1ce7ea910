# What `make install` puts beside the daemon and the library (issue 6), and
# what the .deb and .rpm package: the man page, the commented sample
# configuration as $(sysconfdir)/sio-server/sio-server.conf, the systemd unit
# and the helper its ExecCondition= runs. packaging/debian and
# packaging/rpm/sio-server.spec build on these rules.

dist_man8_MANS = docs/sio-server.8

siosysconfdir = $(sysconfdir)/sio-server
siolibexecdir = $(libexecdir)/sio-server
dist_siolibexec_SCRIPTS = packaging/systemd/sio-server-configured

EXTRA_DIST += packaging/debian packaging/rpm \
	packaging/systemd/sio-server.service \
	packaging/systemd/sio-server.sysusers \
	examples/nginx examples/haproxy README.md

# The unit names /usr/bin, /usr/libexec and /etc (what the packages use);
# an install under another prefix gets its own paths substituted. The
# source file stays a literal unit that `systemd-analyze verify` can read.
sio-server.service.gen: $(srcdir)/packaging/systemd/sio-server.service Makefile
	$(AM_V_GEN)sed -e 's|/usr/bin/sio-server|$(bindir)/sio-server|g' \
	  -e 's|/usr/libexec/sio-server/|$(siolibexecdir)/|g' \
	  -e 's|/etc/sio-server/|$(siosysconfdir)/|g' \
	  $(srcdir)/packaging/systemd/sio-server.service > $@-t && mv $@-t $@
CLEANFILES += sio-server.service.gen
all-local: sio-server.service.gen

# The sample configuration is installed once: an existing file (an
# administrator's) is never overwritten by `make install`, and `make
# uninstall` removes it only while it is still the unchanged sample. The
# packages make it a conffile instead.
install-data-local: sio-server.service.gen
	$(MKDIR_P) '$(DESTDIR)$(siosysconfdir)'
	@if test -f '$(DESTDIR)$(siosysconfdir)/sio-server.conf'; then \
	  echo "keeping the existing $(DESTDIR)$(siosysconfdir)/sio-server.conf"; \
	else \
	  echo " $(INSTALL_DATA) packaging/sio-server.conf '$(DESTDIR)$(siosysconfdir)/sio-server.conf'"; \
	  $(INSTALL_DATA) '$(srcdir)/packaging/sio-server.conf' \
	    '$(DESTDIR)$(siosysconfdir)/sio-server.conf'; \
	fi
	@if test -n '$(systemdsystemunitdir)'; then \
	  echo " $(INSTALL_DATA) sio-server.service '$(DESTDIR)$(systemdsystemunitdir)/sio-server.service'"; \
	  $(MKDIR_P) '$(DESTDIR)$(systemdsystemunitdir)' && \
	  $(INSTALL_DATA) sio-server.service.gen \
	    '$(DESTDIR)$(systemdsystemunitdir)/sio-server.service'; \
	fi

uninstall-local:
	@f='$(DESTDIR)$(siosysconfdir)/sio-server.conf'; \
	if test -f "$$f" && cmp -s "$$f" '$(srcdir)/packaging/sio-server.conf'; then \
	  echo " rm -f '$$f'"; rm -f "$$f"; \
	elif test -f "$$f"; then \
	  echo "keeping the modified $$f"; \
	fi
	@rmdir '$(DESTDIR)$(siosysconfdir)' '$(DESTDIR)$(siolibexecdir)' 2>/dev/null || :
	@if test -n '$(systemdsystemunitdir)'; then \
	  echo " rm -f '$(DESTDIR)$(systemdsystemunitdir)/sio-server.service'"; \
	  rm -f '$(DESTDIR)$(systemdsystemunitdir)/sio-server.service'; \
	fi

# distcheck installs as an ordinary user under its own prefix: the unit
# goes there too, not to the system's unit directory.
AM_DISTCHECK_CONFIGURE_FLAGS = \
	--with-systemdsystemunitdir=$$dc_install_base/lib/systemd/system

# EXTRA_DIST names whole directories (compat, scripts, docs): leave out what
# npm and Python put in them on a developer's machine.
dist-hook:
	rm -rf '$(distdir)'/compat/*/node_modules '$(distdir)'/bench/node_modules
	find '$(distdir)' -name __pycache__ -prune -exec rm -rf {} +
