#!/usr/bin/env bash
# bench/redis-topologies.sh: broadcasts per second that two libsio
# instances carry through one Redis, and through a 3-master Redis Cluster
# with the sharded adapter, in the same run (issue 10).
#
# Starts, on 127.0.0.1 and free ports, a private redis-server and a
# 3-master Redis Cluster (no persistence, no replicas). Each case starts
# two bench_server processes joined through one topology and runs
# `sio-bench fanout` with N clients dealt over both: every "bcast" goes to
# one instance, which delivers it to its clients and publishes it once;
# the other instance delivers it to its own. Cases, interleaved over R
# repeats so that background noise falls on all alike:
#
#   single-classic   redis://         @socket.io/redis-adapter's protocol
#   single-sharded   redis://         createShardedAdapter's, on one Redis 7
#   cluster-sharded  redis+cluster:// createShardedAdapter's, 3 masters
#   single-streams   redis://         @socket.io/redis-streams-adapter's
#   streams-recovery redis://         the same with connection state
#                                     recovery (numbered by the stream
#                                     before any delivery)
#
# Reported per case: the median broadcasts per second (deliveries per
# second / N) and the ratio to single-classic.
#
# Usage: bench/redis-topologies.sh [--build DIR] [-n N] [--inflight K]
#                                  [--count M] [--repeats R] [--out FILE]
#   defaults: -n 200 --inflight 32 --count 4000 --repeats 3
# Bounded: each sio-bench run stops itself after 60 s; every process
# started here is stopped by its PID on exit.
set -u
here=$(cd "$(dirname "$0")" && pwd)
top=$(cd "$here/.." && pwd)
build=${SIO_BUILD:-$top/build}
n=200 inflight=32 count=4000 repeats=3 out=""

while [ $# -gt 0 ]; do
  case $1 in
    --build) build=$2; shift ;;
    -n) n=$2; shift ;;
    --inflight) inflight=$2; shift ;;
    --count) count=$2; shift ;;
    --repeats) repeats=$2; shift ;;
    --out) out=$2; shift ;;
    -h|--help) sed -n '2,26p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
    *) echo "redis-topologies: unknown argument $1" >&2; exit 2 ;;
  esac
  shift
done
command -v redis-server >/dev/null 2>&1 && command -v redis-cli >/dev/null 2>&1 ||
  { echo "redis-topologies: redis-server/redis-cli not installed" >&2; exit 77; }
server=$build/bench/bench_server bench=$build/bench/sio-bench
[ -x "$server" ] && [ -x "$bench" ] ||
  { echo "redis-topologies: build bench/bench_server and bench/sio-bench first" >&2; exit 2; }

dir=$(mktemp -d "${TMPDIR:-/tmp}/sio-redis-topo.XXXXXX")
pids=()
cleanup() {
  local p
  for p in "${pids[@]}"; do kill "$p" 2>/dev/null; done
  for p in "${pids[@]}"; do wait "$p" 2>/dev/null; done
  rm -rf "$dir"
}
trap cleanup EXIT INT TERM

free_port() { # below 55000: a cluster node's bus listens on port + 10000
  python3 -c 'import socket
while True:
    s = socket.socket(); s.bind(("127.0.0.1", 0)); p = s.getsockname()[1]; s.close()
    if p < 55000: print(p); break'
}

start_redis() { # name port [args...]
  local name=$1 port=$2; shift 2
  mkdir -p "$dir/$name"
  redis-server --bind 127.0.0.1 --port "$port" --save '' --appendonly no \
    --dir "$dir/$name" --loglevel warning "$@" >"$dir/$name/log" 2>&1 &
  pids+=($!)
  for _ in $(seq 200); do
    redis-cli -p "$port" PING >/dev/null 2>&1 && return 0
    sleep 0.02
  done
  echo "redis-topologies: redis-server $name did not start" >&2; exit 1
}

single=$(free_port)
start_redis single "$single"
cports=()
for i in 0 1 2; do
  p=$(free_port); cports+=("$p")
  start_redis "node$i" "$p" --cluster-enabled yes --cluster-config-file nodes.conf
done
redis-cli --cluster create --cluster-yes "${cports[@]/#/127.0.0.1:}" >/dev/null 2>&1 ||
  { echo "redis-topologies: cluster create failed" >&2; exit 1; }
for _ in $(seq 500); do
  ok=1
  for p in "${cports[@]}"; do
    redis-cli -p "$p" CLUSTER INFO 2>/dev/null | grep -q cluster_state:ok || ok=0
  done
  [ $ok -eq 1 ] && break
  sleep 0.02
done
[ $ok -eq 1 ] || { echo "redis-topologies: cluster not ok" >&2; exit 1; }
cluster_url="redis+cluster://127.0.0.1:${cports[0]},127.0.0.1:${cports[1]},127.0.0.1:${cports[2]}"

start_server() { # url adapter [--recovery] -> "pid port"
  local fifo=$dir/srv.$RANDOM
  mkfifo "$fifo"
  "$server" 0 --redis "$1" --adapter "$2" ${3:-} >"$fifo" 2>>"$dir/servers.log" &
  local pid=$! line port=""
  pids+=($pid)
  if read -r -t 10 line <"$fifo"; then port=${line#LISTENING }; fi
  rm -f "$fifo"
  [ -n "$port" ] || { echo "redis-topologies: bench_server did not start" >&2; exit 1; }
  echo "$pid $port"
}

raw=${out:-$dir/raw.jsonl}
run_case() { # name url adapter [--recovery]
  local a b json
  read -r pa porta < <(start_server "$2" "$3" "${4:-}")
  read -r pb portb < <(start_server "$2" "$3" "${4:-}")
  json=$("$bench" fanout -p "$porta,$portb" --pid "$pa,$pb" -n "$n" \
    --inflight "$inflight" --count "$count" --payload 64 --duration 60 2>/dev/null |
    grep '^{"tool":"sio-bench"' | tail -n 1)
  kill "$pa" "$pb" 2>/dev/null; wait "$pa" "$pb" 2>/dev/null
  [ -n "$json" ] || { echo "redis-topologies: sio-bench failed ($1)" >&2; exit 1; }
  echo "{\"case\":\"$1\",\"run\":$json}" >>"$raw"
  python3 -c 'import json,sys
r = json.loads(sys.argv[1]); print("%.1f" % (r["deliveries_per_s"] / int(sys.argv[2])))' \
    "$json" "$n"
}

declare -A results
cases=(single-classic single-sharded cluster-sharded single-streams streams-recovery)
for r in $(seq "$repeats"); do
  for c in "${cases[@]}"; do
    case $c in
      single-classic) v=$(run_case "$c" "redis://127.0.0.1:$single" classic) ;;
      single-sharded) v=$(run_case "$c" "redis://127.0.0.1:$single" sharded) ;;
      cluster-sharded) v=$(run_case "$c" "$cluster_url" sharded) ;;
      single-streams) v=$(run_case "$c" "redis://127.0.0.1:$single" streams) ;;
      streams-recovery)
        v=$(run_case "$c" "redis://127.0.0.1:$single" streams --recovery) ;;
    esac
    results[$c]+="$v "
    echo "repeat $r  $c  $v broadcasts/s" >&2
  done
done

python3 - "$n" "${results[single-classic]}" "${results[single-sharded]}" \
  "${results[cluster-sharded]}" "${results[single-streams]}" \
  "${results[streams-recovery]}" <<'EOF'
import statistics, sys
n = sys.argv[1]
names = ["single-classic", "single-sharded", "cluster-sharded",
         "single-streams", "streams-recovery"]
med = {k: statistics.median(float(x) for x in v.split()) for k, v in zip(names, sys.argv[2:])}
print(f"broadcasts per second to two instances, {n} clients, median of the repeats")
for k in names:
    print(f"  {k:16s} {med[k]:10.1f}   x{med[k] / med['single-classic']:.2f} of single-classic")
EOF
