#!/usr/bin/env bash
# Builds sio-server and starts a development server on port 3000 with the
# defaults (in-memory adapter, no Redis, no config file).
# Usage: scripts/run-dev.sh [port]
set -eu
cd "$(dirname "$0")/.."
scripts/install-deps.sh build
[ -x configure ] || autoreconf -fi
mkdir -p build
cd build
[ -f Makefile ] || ../configure -q
make -j"$(nproc)" >/dev/null
exec ./examples/embed-echo "${1:-3000}"
