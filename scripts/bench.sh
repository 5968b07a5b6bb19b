#!/usr/bin/env bash
# Runs every Google Benchmark program of the build and prints its table.
set -euo pipefail
build=${1:-build}
for bin in "$build"/bench/bench_*; do
  [ -x "$bin" ] || continue
  echo "== $(basename "$bin")"
  "$bin" --benchmark_min_time=0.2
done
