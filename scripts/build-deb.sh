#!/usr/bin/env bash
# Builds the Debian packages sio-server, libsio0 and libsio-dev (plus their
# -dbgsym) from this checkout and runs lintian on them.
#
# It copies the tree as the next commit would have it (scripts/export-tree.sh)
# to a temporary directory, adds packaging/debian there as debian/, and runs
# dpkg-buildpackage -b (binary packages only: there is no upstream tarball
# to make a source package against). The tree holds no configure script:
# dh_autoreconf makes it in the copy.
#
# Usage: scripts/build-deb.sh [OUTDIR]     (default: dist/deb)
# Env:   DEB_BUILD_OPTIONS   e.g. nocheck (skip make check), parallel=N
#        LINTIAN=0           skip lintian
# Needs: scripts/install-deps.sh package (debhelper, dh-autoreconf, lintian,
#        and the build dependencies in packaging/debian/control).
# Prints the .deb paths; exits non-zero when the build or lintian fails
# (lintian fails on errors and on warnings not overridden in
# packaging/debian/*.lintian-overrides; packaging/debian/README.lintian
# explains each override).
set -euo pipefail
top=$(cd "$(dirname "$0")/.." && pwd)
out=$(realpath -m "${1:-$top/dist/deb}")
ver=$(sed -n 's/^AC_INIT(\[sio-server\], \[\([^]]*\)\].*/\1/p' "$top/configure.ac")
[ -n "$ver" ] || { echo "build-deb: no version in configure.ac" >&2; exit 1; }

work=$(mktemp -d "${TMPDIR:-/tmp}/sio-deb.XXXXXX")
trap 'rm -rf "$work"' EXIT
src=$work/sio-server-$ver
mkdir -p "$src" "$out"

"$top/scripts/export-tree.sh" "$src"
rm -rf "$src/debian"
cp -a "$top/packaging/debian" "$src/debian"

# debian/changelog names the upstream version; a tree whose configure.ac
# moved on gets a local entry so the packages carry the right version.
deb_ver=$(dpkg-parsechangelog -l "$src/debian/changelog" -S Version)
if [ "${deb_ver%-*}" != "$ver" ]; then
  { printf 'sio-server (%s-0local1) unstable; urgency=medium\n\n' "$ver"
    printf '  * Build of upstream %s from the source tree.\n\n' "$ver"
    printf ' -- %s  %s\n\n' \
      "$(dpkg-parsechangelog -l "$src/debian/changelog" -S Maintainer)" \
      "$(date -R)"
    cat "$src/debian/changelog"; } > "$src/debian/changelog.new"
  mv "$src/debian/changelog.new" "$src/debian/changelog"
fi

echo "build-deb: building sio-server $ver in $src" >&2
(cd "$src" && dpkg-buildpackage -b -us -uc -j"$(nproc)") \
  > "$work/build.log" 2>&1 || {
  tail -n 60 "$work/build.log" >&2
  echo "build-deb: dpkg-buildpackage failed (log above)" >&2
  exit 1
}
cp "$work/build.log" "$out/build.log"
changes=$(ls "$work"/sio-server_*.changes)
for f in $(sed -n '/^Files:/,/^[^ ]/s/^ [0-9a-f]* [0-9]* [^ ]* [^ ]* //p' "$changes"); do
  cp "$work/$f" "$out/"
done
cp "$changes" "$out/"

rc=0
if [ "${LINTIAN:-1}" != 0 ] && command -v lintian >/dev/null 2>&1; then
  echo "build-deb: lintian" >&2
  # The verdict (overridden tags do not count), then the full listing with
  # info and pedantic tags and the overrides, for the log.
  lintian --fail-on error,warning "$out/$(basename "$changes")" \
    > "$out/lintian.verdict" 2>&1 || rc=$?
  lintian -I --pedantic --show-overrides --tag-display-limit 0 \
    "$out/$(basename "$changes")" > "$out/lintian.log" 2>&1 || :
  grep -v 'root privileges' "$out/lintian.log" >&2
  [ $rc -eq 0 ] || echo "build-deb: lintian failed (exit $rc)" >&2
fi
ls "$out"/*.deb
exit $rc
