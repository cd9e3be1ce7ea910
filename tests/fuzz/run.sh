#!/bin/sh
# Builds the libFuzzer targets with clang in a separate build directory and
# runs each for a bounded time. Exits non-zero when a target finds a crash,
# a sanitizer report, a leak or a timeout (the reproducer is left in the
# build directory under fuzz-artifacts/).
#
#   tests/fuzz/run.sh                      every target, 30 s each
#   FUZZ_SECONDS=300 tests/fuzz/run.sh fuzz_sio_packet
#
# Environment: FUZZ_SECONDS (default 30), FUZZ_BUILDDIR (default
# ${TMPDIR:-/tmp}/sio-fuzz-build), CC (default clang), FUZZ_JOBS for make
# (default 2). New corpus entries go to the build directory, never into the
# source tree; the seeds under tests/fuzz/corpus/ are only read.
set -eu

srcdir=$(cd "$(dirname "$0")/../.." && pwd)
builddir=${FUZZ_BUILDDIR:-${TMPDIR:-/tmp}/sio-fuzz-build}
seconds=${FUZZ_SECONDS:-30}
cc=${CC:-clang}
san="-fsanitize=address,undefined -fno-sanitize-recover=undefined"

mkdir -p "$builddir"
cd "$builddir"
# a build directory configured from another checkout names a source tree
# that may be gone, and its dependency files name that tree's headers:
# empty it and configure afresh for this one
if [ -f config.status ] &&
   [ "$(sed -n 's/^abs_top_srcdir = //p' Makefile 2>/dev/null)" != "$srcdir" ]; then
  echo "run.sh: $builddir was configured for another source tree; rebuilding" >&2
  find . -mindepth 1 -delete
fi
if [ ! -f Makefile ]; then
  "$srcdir/configure" -q --enable-fuzz CC="$cc" \
    CFLAGS="-O1 -g -fno-omit-frame-pointer -fsanitize=fuzzer-no-link $san" \
    LDFLAGS="$san"
fi

# bring the Makefile up to date first (a changed local.mk reruns automake),
# so that only the list comes out of the query
make Makefile >fuzz-build.log 2>&1 || { cat fuzz-build.log >&2; exit 1; }
targets=$(make -s fuzz-targets | tail -n 1)
[ -n "$targets" ] || { echo "run.sh: no fuzz targets configured" >&2; exit 1; }
if [ $# -gt 0 ]; then
  want=
  for t in "$@"; do want="$want tests/fuzz/${t##*/}"; done
  targets=$want
fi
if ! make -j"${FUZZ_JOBS:-2}" $targets >fuzz-build.log 2>&1; then
  cat fuzz-build.log >&2
  exit 1
fi

status=0
mkdir -p fuzz-artifacts
for t in $targets; do
  name=${t##*/}
  work=fuzz-corpus/$name
  mkdir -p "$work"
  set -- -max_total_time="$seconds" -timeout=10 -rss_limit_mb=2048 \
    -max_len=8192 -print_final_stats=1 \
    -artifact_prefix="fuzz-artifacts/$name-"
  if [ -f "$srcdir/tests/fuzz/$name.dict" ]; then
    set -- "$@" -dict="$srcdir/tests/fuzz/$name.dict"
  fi
  rm -f fuzz-artifacts/"$name"-* # only this run's findings are reported
  seeds=$srcdir/tests/fuzz/corpus/$name
  [ -d "$seeds" ] || seeds=
  echo "== $name: ${seconds}s"
  if ASAN_OPTIONS=detect_leaks=1 ./"$t" "$@" "$work" $seeds \
      >"fuzz-$name.log" 2>&1; then
    grep -E '^(stat::number_of_executed_units|Done)' "fuzz-$name.log" || :
    echo "fuzz ok $name"
  else
    echo "fuzz FAIL $name"
    echo "!! $name failed; see $builddir/fuzz-$name.log" >&2
    grep -E -A12 '^==[0-9]+==|runtime error|^SUMMARY|libFuzzer: (deadly|out-of|timeout)' \
      "fuzz-$name.log" | head -n 40 >&2
    # the reproducer, so that a failure seen only in CI can be replayed:
    #   base64 -d >crash && ./tests/fuzz/<target> crash
    for a in fuzz-artifacts/"$name"-*; do
      [ -f "$a" ] || continue
      echo "!! reproducer $a ($(wc -c <"$a") bytes), base64:" >&2
      echo "!! $(head -c 4096 "$a" | base64 -w 0)" >&2
    done
    status=1
  fi
done
exit $status
