#!/usr/bin/env bash
# bench/fifty-k.sh: 50,000 idle WebSocket connections on one host, past the
# 20000-fd cap of a process (issue 5, "Past one process"), and one broadcast
# that reaches all of them.
#
# Starts a private redis-server (unix socket in a temporary directory, no
# TCP port, no persistence) and K bench_server processes joined through
# libsio's Redis adapter, each listening on 127.0.0.1 and holding N/K
# connections. One sio-bench run then connects N Socket.IO clients over
# WebSocket, dealt round-robin over the K ports, from several worker
# processes and source addresses 127.0.0.x; holds them all connected for
# --hold seconds and reads the servers' RSS (summed); then sends
# broadcasts: each is one "bcast" event to one server, which delivers it to
# its own clients and publishes it once to Redis, from where the other
# servers deliver it to theirs. Reported: total and per-connection RSS of
# the servers, and for the broadcasts the time from the send to the last of
# the N clients (p50/p99/max), plus server CPU per delivery (all servers).
#
# Usage: bench/fifty-k.sh [--build DIR] [-n N] [--servers K] [--count M]
#                         [--hold S] [--src-addrs A] [--out FILE]
#   --build      build directory with bench/bench_server and bench/sio-bench
#                (default: $SIO_BUILD, else ./build)
#   -n           connections in all (50000)
#   --servers    bench_server processes (3; each must stay under 20000 fds)
#   --count      measured broadcasts (10, after 2 not counted)
#   --hold       seconds every client is held before RSS is read (5)
#   --src-addrs  client source addresses 127.0.0.1..A (6)
#   --out        also append sio-bench's JSON line to FILE
# Bounded: sio-bench stops itself after 300 s and this script kills it at
# 330 s; every process started here is stopped by its PID on exit.
set -u
here=$(cd "$(dirname "$0")" && pwd)
top=$(cd "$here/.." && pwd)
build=${SIO_BUILD:-$top/build}
n=50000 nsrv=3 count=10 hold=5 nsrc=6 out=""

while [ $# -gt 0 ]; do
  case $1 in
    --build) build=$2; shift ;;
    -n) n=$2; shift ;;
    --servers) nsrv=$2; shift ;;
    --count) count=$2; shift ;;
    --hold) hold=$2; shift ;;
    --src-addrs) nsrc=$2; shift ;;
    --out) out=$2; shift ;;
    -h|--help) sed -n '2,30p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
    *) echo "fifty-k: unknown argument $1" >&2; exit 2 ;;
  esac
  shift
done
build=$(cd "$build" 2>/dev/null && pwd) || { echo "fifty-k: no build dir" >&2; exit 2; }
for f in "$build/bench/bench_server" "$build/bench/sio-bench"; do
  [ -x "$f" ] || { echo "fifty-k: $f missing: build first (make)" >&2; exit 2; }
done
command -v redis-server >/dev/null 2>&1 ||
  { echo "fifty-k: redis-server not installed" >&2; exit 77; }

ulimit -n "$(ulimit -Hn)" 2>/dev/null
per=$(( (n + nsrv - 1) / nsrv ))
if [ $((per + 64)) -gt "$(ulimit -n)" ]; then
  echo "fifty-k: $per connections per server exceed ulimit -n $(ulimit -n):" \
    "use more --servers" >&2
  exit 2
fi

dir=$(mktemp -d "${TMPDIR:-/tmp}/sio-fifty-k.XXXXXX")
rpid="" spids=() bpid="" mpid=""
cleanup() {
  local p
  for p in $bpid $mpid "${spids[@]}" $rpid; do
    kill -TERM "$p" 2>/dev/null
  done
  for p in $bpid $mpid "${spids[@]}" $rpid; do
    for _ in $(seq 50); do kill -0 "$p" 2>/dev/null || break; sleep 0.1; done
    kill -KILL "$p" 2>/dev/null
    wait "$p" 2>/dev/null
  done
  # anything a server said besides its port (warnings, sanitizer reports)
  for f in "$dir"/server*.log; do
    [ -f "$f" ] && grep -v '^LISTENING ' "$f" | head -n 20 | sed "s|^|  $(basename "$f"): |" >&2
  done
  rm -rf "$dir"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

redis-server --port 0 --unixsocket "$dir/redis.sock" --save '' \
  --appendonly no --loglevel warning >"$dir/redis.log" 2>&1 &
rpid=$!
for _ in $(seq 50); do [ -S "$dir/redis.sock" ] && break; sleep 0.1; done
[ -S "$dir/redis.sock" ] || { echo "fifty-k: redis-server did not start" >&2; exit 1; }

ports=() 
for i in $(seq "$nsrv"); do
  "$build/bench/bench_server" 0 --redis "unix://$dir/redis.sock" \
    >"$dir/server$i.log" 2>&1 &
  spids+=($!)
done
for i in $(seq "$nsrv"); do
  p=""
  for _ in $(seq 100); do
    p=$(sed -n 's/^LISTENING \([0-9]*\)$/\1/p' "$dir/server$i.log" | head -n 1)
    [ -n "$p" ] && break
    sleep 0.1
  done
  [ -n "$p" ] || { echo "fifty-k: server $i did not start: $(cat "$dir/server$i.log")" >&2; exit 1; }
  ports+=("$p")
done
plist=$(IFS=,; echo "${ports[*]}")
pidlist=$(IFS=,; echo "${spids[*]}")

# Peak VmRSS of each server and of redis-server, sampled every 0.5 s.
(
  while :; do
    for p in "${spids[@]}" "$rpid"; do
      r=$(sed -n 's/^VmRSS:[[:space:]]*\([0-9]*\) kB/\1/p' "/proc/$p/status" 2>/dev/null)
      [ -n "$r" ] || continue
      m=$(cat "$dir/peak.$p" 2>/dev/null || echo 0)
      [ "$r" -gt "$m" ] && echo "$r" >"$dir/peak.$p"
    done
    sleep 0.5
  done
) &
mpid=$!

echo "fifty-k: $n connections over $nsrv servers (ports $plist, pids $pidlist)," \
  "redis-server pid $rpid, $(nproc) CPUs"
timeout -k 5 330 "$build/bench/sio-bench" fanout -p "$plist" --pid "$pidlist" \
  -n "$n" -k 1 -c "$count" --warmup 2 --hold "$hold" --src-addrs "$nsrc" \
  --concurrency 512 --timeout 300 --label "fifty-k/$nsrv" >"$dir/bench.out" 2>&1 &
bpid=$!
wait "$bpid"
rc=$?
bpid=""
kill -TERM "$mpid" 2>/dev/null
wait "$mpid" 2>/dev/null
mpid=""
cat "$dir/bench.out"
for i in $(seq "$nsrv"); do
  p=${spids[$((i - 1))]}
  echo "  server $i (pid $p): peak VmRSS $(( $(cat "$dir/peak.$p" 2>/dev/null || echo 0) / 1024 )) MB"
done
echo "  redis-server: peak VmRSS $(( $(cat "$dir/peak.$rpid" 2>/dev/null || echo 0) / 1024 )) MB"
line=$(grep '^{"tool":"sio-bench"' "$dir/bench.out" | tail -n 1)
[ -n "$out" ] && [ -n "$line" ] && echo "$line" >>"$out"
exit $rc
