#!/usr/bin/env bash
# Builds sio-server and starts it on port 3000 with the defaults: in-memory
# adapter (no Redis), no config file, a development secret and API key made
# for this run (both printed), and the dashboard at http://localhost:3000/.
# Usage: scripts/run-dev.sh [port]     (installs build deps as root if missing)
set -eu
cd "$(dirname "$0")/.."
scripts/install-deps.sh build
[ -x configure ] || autoreconf -fi
mkdir -p build
cd build
[ -f Makefile ] || ../configure -q
make -j"$(nproc)" >/dev/null
# The dashboard uses socket.io-client; serve the bundle when the compat
# suites' node_modules have it, else the page loads it from the CDN.
js=../compat/node/node_modules/socket.io-client/dist/socket.io.min.js
[ -f "$js" ] && export SIO_SERVER_CLIENT_JS=$PWD/$js
export SIO_SERVER_LISTEN=${SIO_SERVER_LISTEN:-0.0.0.0:${1:-3000}}
exec ./sio-server
