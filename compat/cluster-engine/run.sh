#!/usr/bin/env bash
# compat/cluster-engine/run.sh: sio-server against the real
# @socket.io/cluster-engine (RedisEngine), which is not published on the
# npm registry this project installs from. Give it a checkout of the
# socket.io monorepo; it compiles packages/socket.io-cluster-engine/lib
# with tsc in a temporary directory (npm installs typescript and the
# package's dependencies there), then runs interop.mjs. Nothing of the
# checkout is copied into this tree.
#
# Usage: SIO_DAEMON=build/sio-server compat/cluster-engine/run.sh <socket.io checkout>
# Needs redis-server and compat/node's node_modules (npm ci there).
set -eu
here=$(cd "$(dirname "$0")" && pwd)
src=${1:?usage: run.sh <socket.io monorepo checkout>}/packages/socket.io-cluster-engine
[ -d "$src/lib" ] || { echo "no $src/lib"; exit 2; }
work=$(mktemp -d "${TMPDIR:-/tmp}/sio-cluster-engine.XXXXXX")
trap 'rm -rf "$work"' EXIT
mkdir -p "$work/lib"
cp "$src"/lib/*.ts "$work/lib/"
cd "$work"
npm init -y >/dev/null
npm install --no-audit --no-fund --silent typescript@5 @types/node@20 \
  engine.io@6.6 engine.io-parser@5.2 @msgpack/msgpack@2.8 debug@4 >/dev/null
cat > tsconfig.json <<'JSON'
{ "compilerOptions": { "target": "es2020", "module": "commonjs",
  "outDir": "dist", "esModuleInterop": true, "skipLibCheck": true },
  "include": ["lib/*.ts"] }
JSON
npx tsc -p .
cd "$here"
CLUSTER_ENGINE_DIST="$work/dist" node interop.mjs
