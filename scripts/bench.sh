#!/bin/sh
# Runs every benchmark program in BUILD/bin and prints their output.
set -eu
build=${1:-build}
for b in "$build"/bin/bench_*; do
  [ -x "$b" ] || continue
  echo "== $(basename "$b")"
  "$b"
done
