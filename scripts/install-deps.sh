#!/bin/sh
# Installs the Debian 12 packages sio-server needs to build and test.
# Usage: scripts/install-deps.sh [build|test|package]   (default: test)
#   build    what ./configure && make needs
#   test     build + the test suites' tools (a superset of build)
#   package  build + what scripts/build-deb.sh, build-rpm.sh and
#            test-package.sh need (debhelper, lintian, rpm, systemd-analyze)
set -eu
what=${1:-test}
build="build-essential autoconf automake libtool pkg-config
  libuv1-dev node-llhttp libwslay-dev libhiredis-dev libjwt-dev libssl-dev
  libjson-c-dev libmsgpack-dev libinih-dev check"
test="$build clang libclang-rt-14-dev redis-server nginx-light haproxy
  python3-socketio python3-engineio python3-uvicorn python3-requests
  python3-websocket python3-redis python3-msgpack openssl curl iproute2
  chromium"
package="$build debhelper dh-autoreconf dpkg-dev lintian rpm curl python3
  man-db groff-base systemd util-linux"
case $what in
  build) pkgs=$build ;;
  package) pkgs=$package ;;
  test) pkgs=$test ;;
  *) echo "usage: $0 [build|test|package]" >&2; exit 2 ;;
esac
# Node may come from elsewhere (nodesource ships npm inside nodejs, which
# conflicts with Debian's npm): only ask apt for it when there is none.
if [ "$what" = test ] && ! command -v npm >/dev/null 2>&1; then
  pkgs="$pkgs nodejs npm"
fi
missing=
for p in $pkgs; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'ok installed' ||
    missing="$missing $p"
done
[ -z "$missing" ] && exit 0
if [ "$(id -u)" != 0 ]; then
  echo "missing packages:$missing (run as root, or: sudo apt-get install$missing)" >&2
  exit 1
fi
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq
apt-get install -y -qq --no-install-recommends $missing
