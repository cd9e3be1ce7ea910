#!/usr/bin/env bash
# Builds sio-server and runs every test suite: the Check unit suites (plain
# and under ASan+UBSan), the fuzz smoke run, the Node compatibility suites
# and, when checkouts are available, the upstream protocol suites; as root,
# the package test (scripts/test-package.sh: .deb and .rpm).
# The last line sums every suite: "N passed, M failed[, K skipped]".
#
# Usage: scripts/test.sh            (as root on a fresh Debian 12 it first
#                                    installs what it needs with apt-get)
# Env:   FUZZ_SECONDS (default 20 per target), JOBS (default nproc),
#        SOCKETIO_DIR (a socket.io monorepo checkout: the real
#        @socket.io/cluster-engine is then tested against the daemon),
#        UPSTREAM_DIR (dir holding engine.io-protocol and socket.io-protocol
#        checkouts; the upstream suites are skipped without it)
set -u
cd "$(dirname "$0")/.."
top=$PWD
jobs=${JOBS:-$(nproc)}
passed=0 failed=0 skipped=0
summary=()
details=() # what failed, repeated beside the summary where CI logs keep it


log() { printf '\n=== %s\n' "$*"; }
record() { # name passed failed skipped
  passed=$((passed + $2)); failed=$((failed + $3)); skipped=$((skipped + $4))
  summary+=("$(printf '%-28s %4d passed, %d failed, %d skipped' "$1" "$2" "$3" "$4")")
}

# Check prints "100%: Checks: N, Failures: F, Errors: E".
check_counts() { # logfile name
  local line n f e
  line=$(grep -E '^[0-9]+%: Checks: ' "$1" | tail -n 1)
  if [ -z "$line" ]; then record "$2" 0 1 0; return; fi
  n=$(sed -E 's/.*Checks: ([0-9]+).*/\1/' <<<"$line")
  f=$(sed -E 's/.*Failures: ([0-9]+).*/\1/' <<<"$line")
  e=$(sed -E 's/.*Errors: ([0-9]+).*/\1/' <<<"$line")
  record "$2" $((n - f - e)) $((f + e)) 0
  [ $((f + e)) -eq 0 ] || details+=("$2: $(grep -E ':[EF]:' "$1" | head -n 10)")
}

scripts/install-deps.sh test || { echo "dependency install failed"; exit 1; }

log "autoreconf"
autoreconf -fi >/dev/null 2>&1 || { echo "autoreconf failed"; exit 1; }

build() { # dir configure-args...
  local dir=$1; shift
  mkdir -p "$dir" && (cd "$dir" && "$top/configure" -q "$@" >/dev/null &&
    make -j"$jobs" >/dev/null 2>"$dir.make.log") ||
    { cat "$dir.make.log" 2>/dev/null | tail -40; return 1; }
}

log "build (--enable-werror)"
if build build --enable-werror; then
  log "unit suites"
  (cd build && make -j"$jobs" check >/dev/null 2>&1)
  cat build/tests/check_main.log 2>/dev/null | grep -vE '^(PASS|FAIL):' | tail -n 30
  check_counts build/tests/check_main.log "unit (Check)"
else
  record "build" 0 1 0
fi

log "layering and exported symbols"
if scripts/check-layers.sh build/.libs/libsio.so; then
  record "layers + exports" 1 0 0
else
  record "layers + exports" 0 1 0
fi

log "build with ASan+UBSan"
san="-O1 -g -fsanitize=address,undefined -fno-omit-frame-pointer -fno-sanitize-recover=undefined"
if build build-asan CFLAGS="$san" LDFLAGS="-fsanitize=address,undefined"; then
  (cd build-asan && ASAN_OPTIONS=detect_leaks=1 make -j"$jobs" check >/dev/null 2>&1)
  grep -E '^[0-9]+%|ERROR|runtime error' build-asan/tests/check_main.log | tail -n 20
  check_counts build-asan/tests/check_main.log "unit (ASan+UBSan)"
else
  record "build-asan" 0 1 0
fi

# ThreadSanitizer (DESIGN §24): the unit suites, whose loop-level tests
# run clients on threads beside the loop and whose mailbox suite posts from
# several threads; a race fails the test it happens in (exit code 66).
log "build with ThreadSanitizer"
tsan="-O1 -g -fsanitize=thread -fno-omit-frame-pointer"
if build build-tsan CFLAGS="$tsan" LDFLAGS="-fsanitize=thread"; then
  # ThreadSanitizer slows the code 5 to 15 times: so many more seconds
  (cd build-tsan && CK_TIMEOUT_MULTIPLIER=10 \
    TSAN_OPTIONS="halt_on_error=0 exitcode=66 second_deadlock_stack=1 suppressions=$top/tests/tsan.supp" \
    make -j"$jobs" check >/dev/null 2>&1)
  grep -E '^[0-9]+%|ThreadSanitizer' build-tsan/tests/check_main.log | tail -n 20
  check_counts build-tsan/tests/check_main.log "unit (ThreadSanitizer)"
else
  record "build-tsan" 0 1 0
fi

if [ -x tests/fuzz/run.sh ]; then
  log "fuzz smoke"
  out=$(FUZZ_SECONDS=${FUZZ_SECONDS:-20} tests/fuzz/run.sh 2>&1); rc=$?
  printf '%s\n' "$out" | tail -n 20
  ok=$(grep -c '^fuzz ok' <<<"$out"); bad=$(grep -c '^fuzz FAIL' <<<"$out")
  [ $rc -ne 0 ] && [ "$bad" -eq 0 ] && bad=1
  record "fuzz smoke" "$ok" "$bad" 0
  [ "$bad" -eq 0 ] || details+=("$(grep -E '^(fuzz FAIL|!! |==[0-9]+==|SUMMARY|.*runtime error)' <<<"$out" | head -n 30)")
fi

if [ -f compat/node/package.json ] && [ ! -x build/tests/e2e/sio_compat_server ]; then
  record "compat/node (no server built)" 0 1 0
elif [ -f compat/node/package.json ]; then
  log "compat/node (stock socket.io-client)"
  (cd compat/node && npm ci --no-audit --no-fund >/dev/null 2>&1) ||
    echo "npm ci failed"
  out=$(cd compat/node && SIO_COMPAT_SERVER="$top/build/tests/e2e/sio_compat_server" \
    SIO_SHARDED_CODEC="$top/build/tests/e2e/sio_sharded_codec" \
    npm test 2>&1); rc=$?
  printf '%s\n' "$out" | tail -n 40
  last=$(grep -E '^[0-9]+ passed, [0-9]+ failed' <<<"$out" | tail -n 1)
  p=$(cut -d' ' -f1 <<<"$last"); f=$(cut -d' ' -f3 <<<"$last")
  [ -z "$last" ] && p=0 f=1
  [ $rc -ne 0 ] && [ "${f:-0}" -eq 0 ] && f=1
  pe=0
  record "compat/node" "${p:-0}" "${f:-0}" "${pe:-0}"
fi

# The sio-server daemon end to end (SPEC §3-§4): compat/node/test/daemon.test.mjs
# with the stock socket.io-client, then Debian's python3-socketio client.
if [ -f compat/node/package.json ] && [ ! -x build/sio-server ]; then
  record "compat/node daemon (no sio-server built)" 0 1 0
elif [ -f compat/node/package.json ]; then
  log "compat/node daemon (sio-server end to end)"
  [ -d compat/node/node_modules ] ||
    (cd compat/node && npm ci --no-audit --no-fund >/dev/null 2>&1) ||
    echo "npm ci failed"
  out=$(cd compat/node && SIO_DAEMON="$top/build/sio-server" \
    npm run -s test:daemon 2>&1); rc=$?
  printf '%s\n' "$out" | tail -n 60
  last=$(grep -E '^[0-9]+ passed, [0-9]+ failed' <<<"$out" | tail -n 1)
  p=$(cut -d' ' -f1 <<<"$last"); f=$(cut -d' ' -f3 <<<"$last" | tr -d ,)
  sk=$(sed -nE 's/.*, ([0-9]+) skipped.*/\1/p' <<<"$last")
  [ -z "$last" ] && p=0 f=1
  [ $rc -ne 0 ] && [ "${f:-0}" -eq 0 ] && f=1
  record "compat/node daemon" "${p:-0}" "${f:-0}" "${sk:-0}"
fi

# The same two end-to-end suites against the ASan+UBSan build: real
# clients drive the code paths the unit suites only sample. A sanitizer
# report (written to a file per process, since the suites capture the
# servers' stderr) fails the suite even when every test passed; so does a
# leak found when a daemon exits. Every daemon runs two loops here
# (server.threads = 2; the plain run above has one), so each suite also
# crosses loops.
if [ -f compat/node/package.json ] && [ -x build-asan/sio-server ] &&
   [ -x build-asan/tests/e2e/sio_compat_server ]; then
  log "compat/node + daemon under ASan+UBSan"
  sandir=$(mktemp -d "${TMPDIR:-/tmp}/sio-e2e-asan.XXXXXX")
  export ASAN_OPTIONS="detect_leaks=1:log_path=$sandir/asan"
  export UBSAN_OPTIONS="print_stacktrace=1:log_path=$sandir/ubsan"
  out=$(cd compat/node &&
    SIO_COMPAT_SERVER="$top/build-asan/tests/e2e/sio_compat_server" npm test 2>&1); rc=$?
  out+=$'\n'$(cd compat/node && SIO_TEST_THREADS=2 \
    SIO_DAEMON="$top/build-asan/sio-server" npm run -s test:daemon 2>&1) || rc=1
  unset ASAN_OPTIONS UBSAN_OPTIONS
  p=0 f=0
  while read -r line; do
    p=$((p + $(cut -d' ' -f1 <<<"$line"))); f=$((f + $(cut -d' ' -f3 <<<"$line" | tr -d ,)))
  done < <(grep -E '^[0-9]+ passed, [0-9]+ failed' <<<"$out")
  [ $rc -ne 0 ] && [ "$f" -eq 0 ] && f=1
  reports=$(ls "$sandir" 2>/dev/null | wc -l)
  if [ "$reports" -gt 0 ]; then
    f=$((f + reports))
    details+=("sanitizer reports of the e2e suites: $(head -n 30 "$sandir"/* 2>/dev/null)")
    head -n 60 "$sandir"/*
  fi
  grep -E 'passed, [0-9]+ failed|failing' <<<"$out"
  # the failing tests' titles and first lines, for the CI log
  [ "$f" -gt 0 ] && grep -A8 -E '^  [0-9]+\) ' <<<"$out" | head -n 60
  record "e2e under ASan+UBSan" "$p" "$f" 0
  rm -rf "$sandir"
fi

# The daemon suites against the ThreadSanitizer build with two loops
# (server.threads = 2): a race between the loops is a report, and a
# report fails the stage even when every test passed.
if [ -f compat/node/package.json ] && [ -x build-tsan/sio-server ]; then
  log "daemon under ThreadSanitizer (server.threads = 2)"
  sandir=$(mktemp -d "${TMPDIR:-/tmp}/sio-e2e-tsan.XXXXXX")
  export TSAN_OPTIONS="halt_on_error=0 second_deadlock_stack=1 suppressions=$top/tests/tsan.supp log_path=$sandir/tsan"
  out=$(cd compat/node && SIO_TEST_THREADS=2 \
    SIO_DAEMON="$top/build-tsan/sio-server" npm run -s test:daemon 2>&1); rc=$?
  unset TSAN_OPTIONS
  last=$(grep -E '^[0-9]+ passed, [0-9]+ failed' <<<"$out" | tail -n 1)
  p=$(cut -d' ' -f1 <<<"$last"); f=$(cut -d' ' -f3 <<<"$last" | tr -d ,)
  sk=$(sed -nE 's/.*, ([0-9]+) skipped.*/\1/p' <<<"$last")
  [ -z "$last" ] && p=0 f=1
  [ $rc -ne 0 ] && [ "${f:-0}" -eq 0 ] && f=1
  reports=$(ls "$sandir" 2>/dev/null | wc -l)
  if [ "$reports" -gt 0 ]; then
    f=$((f + reports))
    details+=("ThreadSanitizer reports of the daemon suites: $(head -n 40 "$sandir"/* 2>/dev/null)")
    head -n 80 "$sandir"/*
  fi
  grep -E 'passed, [0-9]+ failed|failing' <<<"$out"
  [ "${f:-0}" -gt 0 ] && grep -A8 -E '^  [0-9]+\) ' <<<"$out" | head -n 60
  record "daemon under ThreadSanitizer (threads = 2)" "${p:-0}" "${f:-0}" "${sk:-0}"
  rm -rf "$sandir"
fi

# Load balancers (SPEC §4): two daemons on one Redis behind the real nginx
# and HAProxy, with the stock socket.io-client from compat/node's
# node_modules (compat/lb/README.md).
if [ -f compat/lb/package.json ] && [ ! -x build/sio-server ]; then
  record "compat/lb (no sio-server built)" 0 1 0
elif [ -f compat/lb/package.json ]; then
  log "compat/lb (nginx and HAProxy in front of two daemons)"
  [ -d compat/node/node_modules ] ||
    (cd compat/node && npm ci --no-audit --no-fund >/dev/null 2>&1) ||
    echo "npm ci failed"
  out=$(cd compat/lb && SIO_DAEMON="$top/build/sio-server" npm run -s test 2>&1); rc=$?
  printf '%s\n' "$out" | tail -n 50
  last=$(grep -E '^[0-9]+ passed, [0-9]+ failed' <<<"$out" | tail -n 1)
  p=$(cut -d' ' -f1 <<<"$last"); f=$(cut -d' ' -f3 <<<"$last" | tr -d ,)
  sk=$(sed -nE 's/.*, ([0-9]+) skipped.*/\1/p' <<<"$last")
  [ -z "$last" ] && p=0 f=1
  [ $rc -ne 0 ] && [ "${f:-0}" -eq 0 ] && f=1
  record "compat/lb" "${p:-0}" "${f:-0}" "${sk:-0}"
fi

if [ -f compat/python/test_emitter.py ] && [ -x build/tests/e2e/sio_compat_server ]; then
  log "compat/python emitter (Redis adapter protocol from Python)"
  out=$(SIO_COMPAT_SERVER="$top/build/tests/e2e/sio_compat_server" \
    /usr/bin/python3 compat/python/test_emitter.py 2>&1); rc=$?
  printf '%s\n' "$out" | tail -n 20
  last=$(grep -E '^[0-9]+ passed, [0-9]+ failed' <<<"$out" | tail -n 1)
  p=$(cut -d' ' -f1 <<<"$last"); f=$(cut -d' ' -f3 <<<"$last")
  [ -z "$last" ] && p=0 f=1
  [ $rc -ne 0 ] && [ "${f:-0}" -eq 0 ] && f=1
  record "compat/python emitter" "${p:-0}" "${f:-0}" 0
fi

if [ -f compat/python/test_daemon.py ]; then
  if [ ! -x build/sio-server ]; then
    record "compat/python daemon (no sio-server built)" 0 1 0
  else
    log "compat/python daemon (python3-socketio client)"
    # Debian's python3 (python3-socketio, python3-requests for polling,
    # python3-websocket for WebSocket), not whichever python3 is first on PATH
    out=$(SIO_DAEMON="$top/build/sio-server" /usr/bin/python3 \
      compat/python/test_daemon.py 2>&1); rc=$?
    printf '%s\n' "$out" | tail -n 30
    last=$(grep -E '^[0-9]+ passed, [0-9]+ failed' <<<"$out" | tail -n 1)
    p=$(cut -d' ' -f1 <<<"$last"); f=$(cut -d' ' -f3 <<<"$last")
    [ -z "$last" ] && p=0 f=1
    [ $rc -ne 0 ] && [ "${f:-0}" -eq 0 ] && f=1
    record "compat/python daemon" "${p:-0}" "${f:-0}" 0
  fi
fi

if [ -x tests/e2e/run-upstream.sh ]; then
  up=${UPSTREAM_DIR:-}
  if [ -n "$up" ] && [ -d "$up/engine.io-protocol" ]; then
    log "upstream protocol suites"
    out=$(tests/e2e/run-upstream.sh "$up/engine.io-protocol" "$up/socket.io-protocol" "$top/build" 2>&1)
    printf '%s\n' "$out" | tail -n 30
    last=$(grep -E '^[0-9]+ passed, [0-9]+ failed' <<<"$out" | tail -n 1)
    if [ -n "$last" ]; then
      record "upstream suites" "$(cut -d' ' -f1 <<<"$last")" "$(cut -d' ' -f3 <<<"$last")" 0
    else
      record "upstream suites" 0 1 0
    fi
  else
    record "upstream suites (no checkout)" 0 0 1
  fi
fi

# The real @socket.io/cluster-engine against the daemon (sticky-free
# forwarding both ways); the package is not on the npm registry, so it runs
# only with a checkout of the socket.io monorepo in SOCKETIO_DIR.
if [ -x compat/cluster-engine/run.sh ]; then
  if [ -n "${SOCKETIO_DIR:-}" ] && [ -x build/sio-server ]; then
    log "compat/cluster-engine (the real RedisEngine)"
    out=$(SIO_DAEMON="$top/build/sio-server" compat/cluster-engine/run.sh "$SOCKETIO_DIR" 2>&1)
    printf '%s\n' "$out" | tail -n 15
    last=$(grep -E '^[0-9]+ passed, [0-9]+ failed' <<<"$out" | tail -n 1)
    if [ -n "$last" ]; then
      record "compat/cluster-engine" "$(cut -d' ' -f1 <<<"$last")" "$(cut -d' ' -f3 <<<"$last")" 0
    else
      record "compat/cluster-engine" 0 1 0
    fi
  else
    record "compat/cluster-engine (no checkout)" 0 0 1
  fi
fi

if [ -x bench/compare ] && [ -x build/bench/sio-bench ]; then
  if command -v node >/dev/null 2>&1; then
    log "bench smoke (bench/compare --smoke)"
    out=$(bench/compare --smoke --build build 2>&1); rc=$?
    printf '%s\n' "$out" | tail -n 25
    if [ $rc -eq 0 ]; then
      record "bench smoke" 1 0 0
    else
      record "bench smoke" 0 1 0
    fi
  else
    record "bench smoke (no node)" 0 0 1
  fi
fi

# Packages (issue 6): builds the .deb from this tree, installs it, runs the
# installed daemon as its unit would, purges it; builds and inspects the
# .rpm (from make distcheck's tarball). Root only: it installs packages and
# creates the sio-server system user.
if [ -x scripts/test-package.sh ]; then
  if [ "$(id -u)" = 0 ]; then
    log "packages (scripts/test-package.sh)"
    out=$(scripts/test-package.sh 2>&1); rc=$?
    printf '%s\n' "$out" | grep -vE '^ok ' | tail -n 40
    last=$(grep -E '^[0-9]+ passed, [0-9]+ failed' <<<"$out" | tail -n 1)
    p=$(cut -d' ' -f1 <<<"$last"); f=$(cut -d' ' -f3 <<<"$last")
    [ -z "$last" ] && p=0 f=1
    [ $rc -ne 0 ] && [ "${f:-0}" -eq 0 ] && f=1
    record "packages (.deb, .rpm)" "${p:-0}" "${f:-0}" 0
  else
    record "packages (not root)" 0 0 1
  fi
fi

if [ ${#details[@]} -gt 0 ]; then
  log "what failed"
  printf '%s\n' "${details[@]}"
fi

log "summary"
printf '%s\n' "${summary[@]}"
echo "$passed passed, $failed failed, $skipped skipped"
[ "$failed" -eq 0 ]
