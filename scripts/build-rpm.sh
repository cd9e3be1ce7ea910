#!/usr/bin/env bash
# Builds the RPM packages sio-server, libsio and libsio-devel from this
# checkout with packaging/rpm/sio-server.spec: a copy of the tree
# (scripts/export-tree.sh) is autoreconf'd and configured in a temporary
# directory, `make dist` makes the tarball, `rpmbuild -bb` builds from it.
#
# On Debian (CI) the spec's Fedora build dependencies cannot be resolved:
# the build runs with --nodeps against the Debian -dev packages, and when
# the systemd-rpm-macros package is missing packaging/rpm/
# macros.systemd-fallback provides %systemd_post and the rest.
#
# Usage: scripts/build-rpm.sh [OUTDIR]     (default: dist/rpm)
# Env:   RPM_NOCHECK=1   skip the spec's %check (make check)
#        TARBALL=FILE    build from this sio-server-VERSION.tar.gz instead
#                        of making one
#        DISTCHECK=1     make the tarball with `make distcheck` (which
#                        builds and tests it) instead of `make dist`
# Needs: scripts/install-deps.sh package (rpm, plus the build dependencies).
# Prints the .rpm paths, then their file lists, scripts and requires.
set -euo pipefail
top=$(cd "$(dirname "$0")/.." && pwd)
out=$(realpath -m "${1:-$top/dist/rpm}")
ver=$(sed -n 's/^AC_INIT(\[sio-server\], \[\([^]]*\)\].*/\1/p' "$top/configure.ac")
[ -n "$ver" ] || { echo "build-rpm: no version in configure.ac" >&2; exit 1; }
command -v rpmbuild >/dev/null || {
  echo "build-rpm: rpmbuild not found (scripts/install-deps.sh package)" >&2; exit 1; }

work=$(mktemp -d "${TMPDIR:-/tmp}/sio-rpm.XXXXXX")
trap 'rm -rf "$work"' EXIT
mkdir -p "$out" "$work"/rpmbuild/{SOURCES,SPECS,BUILD,RPMS,SRPMS}

tarball=${TARBALL:-}
if [ -z "$tarball" ]; then
  target=dist
  [ "${DISTCHECK:-0}" = 1 ] && target=distcheck
  echo "build-rpm: make $target" >&2
  "$top/scripts/export-tree.sh" "$work/src"
  (cd "$work/src" && autoreconf -fi && mkdir _build && cd _build &&
    ../configure -q && make -j"$(nproc)" "$target") > "$work/dist.log" 2>&1 || {
    tail -n 40 "$work/dist.log" >&2
    # which unit tests failed in distcheck's own check, if that was it
    find "$work/src/_build" -name check_main.log -exec grep -h -E ':[EF]:' {} + \
      2>/dev/null | head -n 10 >&2
    echo "build-rpm: make $target failed" >&2; exit 1; }
  cp "$work/dist.log" "$out/$target.log"
  tarball=$work/src/_build/sio-server-$ver.tar.gz
fi
cp "$tarball" "$work/rpmbuild/SOURCES/sio-server-$ver.tar.gz"
# The spec's Version follows configure.ac.
sed "s/^Version:.*/Version:        $ver/" "$top/packaging/rpm/sio-server.spec" \
  > "$work/rpmbuild/SPECS/sio-server.spec"

args=(--nodeps -bb --define "_topdir $work/rpmbuild")
if [ -z "$(rpm --eval '%{?systemd_post:defined}')" ]; then
  args+=(--load "$top/packaging/rpm/macros.systemd-fallback")
fi
[ "${RPM_NOCHECK:-0}" = 1 ] && args+=(--nocheck)
echo "build-rpm: rpmbuild ${args[*]}" >&2
rpmbuild "${args[@]}" "$work/rpmbuild/SPECS/sio-server.spec" \
  > "$work/rpmbuild.log" 2>&1 || {
  tail -n 60 "$work/rpmbuild.log" >&2; echo "build-rpm: rpmbuild failed" >&2; exit 1; }
cp "$work/rpmbuild.log" "$out/rpmbuild.log"
find "$work/rpmbuild/RPMS" -name '*.rpm' -exec cp {} "$out/" \;
for r in "$out"/*.rpm; do
  echo "== $r"
  rpm -qp --qf '%{NAME}-%{VERSION}-%{RELEASE}.%{ARCH}\n' "$r"
  rpm -qlvp "$r" | awk '{print $1, $3, $4, $NF}'
  echo "-- config files"; rpm -qcp "$r"
  echo "-- scripts"; rpm -qp --scripts "$r"
  echo "-- requires"; rpm -qp --requires "$r"
done
