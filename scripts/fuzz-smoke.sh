#!/usr/bin/env bash
# Runs every fuzz target in BUILD/fuzz for SECONDS each and prints its exec count.
# Exits non-zero if any target crashes, leaks or trips a sanitizer.
set -euo pipefail
build=${1:-build-fuzz}
seconds=${2:-30}
corpus_root="$build/fuzz-corpus"
mkdir -p "$corpus_root"
status=0
printf '%-28s %12s %8s\n' target execs result
for bin in "$build"/fuzz/fuzz_*; do
  [ -x "$bin" ] || continue
  name=$(basename "$bin")
  mkdir -p "$corpus_root/$name"
  seeds=()
  [ -d "fuzz/corpus/$name" ] && seeds=("fuzz/corpus/$name")
  log="$corpus_root/$name.log"
  if "$bin" -max_total_time="$seconds" -rss_limit_mb=2048 -print_final_stats=1 \
       "$corpus_root/$name" "${seeds[@]}" >"$log" 2>&1; then
    result=ok
  else
    result=FAIL; status=1
  fi
  execs=$(grep -m1 'stat::number_of_executed_units' "$log" | awk '{print $2}')
  printf '%-28s %12s %8s\n' "$name" "${execs:-?}" "$result"
  [ "$result" = ok ] || tail -40 "$log"
done
exit $status
