#!/usr/bin/env bash
# Runs the end-to-end suites (compat/node against sio_compat_server, then the
# daemon suites) with every server process under valgrind memcheck, and
# prints what memcheck reported: invalid reads and writes, uses of
# uninitialised values, bad frees and definite leaks. Not part of
# scripts/test.sh: under memcheck a server runs 20-50 times slower, so
# timing-bound tests may fail here for that reason alone; what counts is
# the memcheck summary at the end (exit 1 when any process reported an
# error).
#
# Usage: scripts/valgrind-e2e.sh [BUILD_DIR]   (default: build)
# Env:   SUITES="compat daemon" (default both), MOCHA_ARGS (extra arguments
#        for the daemon run, e.g. a test file list)
set -u
cd "$(dirname "$0")/.."
top=$PWD
build=$(cd "${1:-build}" && pwd)
command -v valgrind >/dev/null || { echo "valgrind is not installed" >&2; exit 2; }
logdir=$(mktemp -d "${TMPDIR:-/tmp}/sio-valgrind.XXXXXX")
wrap=$logdir/bin
mkdir -p "$wrap"

# One wrapper per server: the suites spawn SIO_COMPAT_SERVER / SIO_DAEMON
# directly, so each becomes "valgrind <the real program>" (through libtool,
# as build/sio-server is libtool's wrapper script around .libs/sio-server).
mkwrap() { # name real
  cat >"$wrap/$1" <<EOF
#!/bin/sh
exec "$build/libtool" --mode=execute valgrind --quiet --error-exitcode=0 --leak-check=full \\
  --show-leak-kinds=definite --errors-for-leak-kinds=definite \\
  --track-origins=yes --num-callers=30 \\
  --log-file="$logdir/$1.%p.log" "$2" "\$@"
EOF
  chmod +x "$wrap/$1"
}
mkwrap sio_compat_server "$build/tests/e2e/sio_compat_server"
mkwrap sio-server "$build/sio-server"

cd compat/node
[ -d node_modules ] || npm ci --no-audit --no-fund >/dev/null 2>&1
for s in ${SUITES:-compat daemon}; do
  case $s in
    compat)
      echo "== compat/node under memcheck"
      SIO_COMPAT_SERVER="$wrap/sio_compat_server" npx mocha --timeout 60000 2>&1 |
        grep -E '^[0-9]+ passed|passing|failing' ;;
    daemon)
      echo "== daemon suites under memcheck"
      # shellcheck disable=SC2086
      SIO_DAEMON="$wrap/sio-server" npx mocha --no-config --reporter ./reporter.cjs \
        --timeout 60000 --exit ${MOCHA_ARGS:-test/daemon*.test.mjs} 2>&1 |
        grep -E '^[0-9]+ passed|passing|failing' ;;
  esac
done
cd "$top"

procs=$(ls "$logdir"/*.log 2>/dev/null | wc -l)
bad=0
for f in "$logdir"/*.log; do
  [ -s "$f" ] || continue
  if grep -qE 'Invalid (read|write|free)|uninitialised|Mismatched free|definitely lost|Source and destination overlap|Syscall param' "$f"; then
    bad=$((bad + 1))
    echo "---- $f"
    head -n 60 "$f"
  fi
done
echo "memcheck: $procs server processes, $bad with errors (logs in $logdir)"
[ "$bad" -eq 0 ]
