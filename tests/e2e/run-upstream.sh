#!/bin/sh
# Runs the upstream Engine.IO and Socket.IO protocol test suites against
# tests/e2e/eio_echo and tests/e2e/sio_echo.
#
# usage: run-upstream.sh <engine.io-protocol checkout> \
#                        <socket.io-protocol checkout> <build dir>
#
# Each checkout's test-suite/ is copied to a temporary directory (never into
# the source tree), its locked dependencies are installed with `npm ci`, and
# ws is raised to 8.16.0: the lockfiles pin ws 8.5, whose message events let
# the suites' waitFor() helper drop a message when two packets arrive in one
# TCP read; 8.16 delivers each WebSocket message as its own task. The server
# is started on port 3000 (the suites hardcode localhost:3000), the suite
# runs with `npx mocha test-suite.js`, and the server is stopped by its PID.
#
# Prints the counts of each suite and a last line "N passed, M failed".
# Exit status: 0 when every test passed, 1 on a failure or an error, 77
# (automake's "skipped") when neither checkout is present or Node.js/npm is
# missing. The suites need the npm registry for `npm ci`.

set -u

PORT=3000
START_TIMEOUT=10

if [ $# -ne 3 ]; then
  echo "usage: $0 <engine.io-protocol dir> <socket.io-protocol dir>" \
    "<build dir>" >&2
  exit 2
fi
EIO_DIR=$1
SIO_DIR=$2
BUILD_DIR=$3

have_suite() {
  [ -f "$1/test-suite/test-suite.js" ] && [ -f "$1/test-suite/package.json" ]
}

if ! have_suite "$EIO_DIR" && ! have_suite "$SIO_DIR"; then
  echo "SKIP: no upstream checkouts at $EIO_DIR and $SIO_DIR" >&2
  exit 77
fi
if ! command -v node >/dev/null 2>&1 || ! command -v npm >/dev/null 2>&1; then
  echo "SKIP: node and npm are needed to run the upstream suites" >&2
  exit 77
fi

WORK=$(mktemp -d "${TMPDIR:-/tmp}/sio-upstream.XXXXXX") || exit 1
SERVER_PID=
# shellcheck disable=SC2317 # invoked by the EXIT trap
cleanup() {
  if [ -n "$SERVER_PID" ]; then
    kill -TERM "$SERVER_PID" 2>/dev/null
    wait "$SERVER_PID" 2>/dev/null
  fi
  rm -rf "$WORK"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

TOTAL_PASSED=0
TOTAL_FAILED=0
STATUS=0

port_busy() {
  # bash and busybox sh lack a portable probe; node is here anyway.
  node -e '
    const s = require("net").connect(Number(process.argv[1]), "127.0.0.1");
    s.on("connect", () => process.exit(0));
    s.on("error", () => process.exit(1));
  ' "$1"
}

# start_server <binary> <log prefix>: starts it on $PORT, sets SERVER_PID,
# waits for its "LISTENING" line (or, failing that, for the port to accept).
start_server() {
  if port_busy "$PORT"; then
    echo "ERROR: port $PORT is busy; the upstream suites need it free" >&2
    return 1
  fi
  "$1" "$PORT" >"$2.out" 2>"$2.err" &
  SERVER_PID=$!
  waited=0
  while ! grep -q '^LISTENING ' "$2.out" 2>/dev/null &&
    ! port_busy "$PORT"; do
    if ! kill -0 "$SERVER_PID" 2>/dev/null; then
      wait "$SERVER_PID" 2>/dev/null
      echo "ERROR: $1 exited before listening:" >&2
      cat "$2.err" >&2
      SERVER_PID=
      return 1
    fi
    if [ "$waited" -ge $((START_TIMEOUT * 10)) ]; then
      echo "ERROR: $1 did not listen within ${START_TIMEOUT}s" >&2
      return 1
    fi
    sleep 0.1
    waited=$((waited + 1))
  done
  return 0
}

stop_server() {
  [ -n "$SERVER_PID" ] || return 0
  kill -TERM "$SERVER_PID" 2>/dev/null
  waited=0
  while kill -0 "$SERVER_PID" 2>/dev/null && [ "$waited" -lt 50 ]; do
    sleep 0.1
    waited=$((waited + 1))
  done
  if kill -0 "$SERVER_PID" 2>/dev/null; then
    echo "WARN: server $SERVER_PID ignored SIGTERM; killing it" >&2
    kill -KILL "$SERVER_PID" 2>/dev/null
  fi
  wait "$SERVER_PID" 2>/dev/null
  rc=$?
  SERVER_PID=
  if [ "$rc" -ne 0 ]; then
    echo "WARN: server exited with status $rc" >&2
  fi
  return 0
}

# run_suite <name> <checkout> <server binary>
run_suite() {
  name=$1
  checkout=$2
  server=$3
  dir="$WORK/$name"

  echo "=== $name"
  if ! have_suite "$checkout"; then
    echo "$name: checkout $checkout absent, not run"
    return 0
  fi
  if [ ! -x "$server" ]; then
    echo "ERROR: $server is missing; build it first" >&2
    TOTAL_FAILED=$((TOTAL_FAILED + 1))
    STATUS=1
    return 0
  fi
  cp -R "$checkout/test-suite" "$dir" || return 1
  if ! (cd "$dir" && npm ci --no-audit --no-fund >"$WORK/$name-npm.log" 2>&1 &&
    npm install --no-audit --no-fund ws@8.16.0 >>"$WORK/$name-npm.log" 2>&1); then
    echo "ERROR: npm install failed for $name:" >&2
    tail -n 20 "$WORK/$name-npm.log" >&2
    TOTAL_FAILED=$((TOTAL_FAILED + 1))
    STATUS=1
    return 0
  fi
  if ! start_server "$server" "$WORK/$name-server"; then
    TOTAL_FAILED=$((TOTAL_FAILED + 1))
    STATUS=1
    return 0
  fi
  (cd "$dir" && npx --no-install mocha --reporter spec test-suite.js) \
    >"$WORK/$name-mocha.log" 2>&1
  mocha_rc=$?
  stop_server
  cat "$WORK/$name-mocha.log"

  passed=$(sed -n 's/^ *\([0-9][0-9]*\) passing.*/\1/p' "$WORK/$name-mocha.log")
  failed=$(sed -n 's/^ *\([0-9][0-9]*\) failing.*/\1/p' "$WORK/$name-mocha.log")
  passed=${passed:-0}
  failed=${failed:-0}
  if [ "$mocha_rc" -ne 0 ] && [ "$failed" -eq 0 ]; then
    echo "ERROR: mocha exited with status $mocha_rc for $name" >&2
    failed=1
  fi
  if [ "$failed" -ne 0 ]; then
    STATUS=1
    echo "--- $name server stderr:"
    cat "$WORK/$name-server.err"
  fi
  echo "$name: $passed passed, $failed failed"
  TOTAL_PASSED=$((TOTAL_PASSED + passed))
  TOTAL_FAILED=$((TOTAL_FAILED + failed))
}

run_suite engine.io-protocol "$EIO_DIR" "$BUILD_DIR/tests/e2e/eio_echo"
run_suite socket.io-protocol "$SIO_DIR" "$BUILD_DIR/tests/e2e/sio_echo"

echo "$TOTAL_PASSED passed, $TOTAL_FAILED failed"
exit $STATUS
