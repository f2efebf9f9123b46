#!/bin/sh
# Runs the libFuzzer targets of a fuzz build, one after the other.
# Usage: fuzz/run.sh BUILD_DIR SECONDS [TARGET...]      (default: every target)
#
# Each target fuzzes for SECONDS from its seeds (fuzz/corpus/<target>/, read only) and its
# working corpus (BUILD_DIR/fuzz/work/<target>/, kept between runs). A crash, leak, timeout
# or broken invariant leaves its input in BUILD_DIR/fuzz/artifacts/<target>/: fix the cause,
# then copy the input to fuzz/regressions/<target>/ so that ctest replays it forever.
# Prints execs, execs/s and coverage (cov, ft from libFuzzer's final line) per target and
# exits 1 when any target failed.
set -u
if [ $# -lt 2 ]; then
  echo "usage: $0 BUILD_DIR SECONDS [TARGET...]" >&2
  exit 2
fi
build=$1
secs=$2
shift 2
src=$(cd "$(dirname "$0")" && pwd)
bin=$build/fuzz
if [ $# -gt 0 ]; then
  targets=$*
else
  targets=$(cd "$bin" && ls fuzz_* 2>/dev/null | sed -n 's/^fuzz_//p' | grep -v '^gen_corpus$')
fi
[ -n "$targets" ] || { echo "fuzz: no targets in $bin (build fuzz_all first)" >&2; exit 2; }

export ASAN_OPTIONS=${ASAN_OPTIONS:-detect_leaks=1}
export UBSAN_OPTIONS=${UBSAN_OPTIONS:-print_stacktrace=1:halt_on_error=1}
failed=0
table=""
for t in $targets; do
  work=$bin/work/$t
  art=$bin/artifacts/$t
  log=$bin/logs/$t.log
  mkdir -p "$work" "$art" "$bin/logs"
  echo "fuzz: $t for ${secs}s (log $log)"
  "$bin/fuzz_$t" -max_total_time="$secs" -print_final_stats=1 -timeout=60 -rss_limit_mb=2048 \
    -artifact_prefix="$art/" "$work" "$src/corpus/$t" >"$log" 2>&1
  rc=$?
  execs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$log" | tail -1)
  eps=$(sed -n 's/^stat::average_exec_per_sec: *//p' "$log" | tail -1)
  cov=$(grep -o 'cov: [0-9]*' "$log" | tail -1 | cut -d' ' -f2)
  ft=$(grep -o 'ft: [0-9]*' "$log" | tail -1 | cut -d' ' -f2)
  status=ok
  if [ $rc -ne 0 ]; then
    status="FAILED (rc $rc)"
    failed=1
    grep -m3 -E 'ERROR|invariant|runtime error|SUMMARY' "$log" | sed 's/^/    /'
  fi
  table="$table$(printf '%-18s %10s %8s %7s %7s  %s' "$t" "${execs:-?}" "${eps:-?}" \
    "${cov:-?}" "${ft:-?}" "$status")
"
done
printf '\n%-18s %10s %8s %7s %7s  %s\n' target execs exec/s cov ft status
printf '%s' "$table"
exit $failed
