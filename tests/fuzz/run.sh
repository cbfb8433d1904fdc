#!/bin/sh
# Builds the libFuzzer harnesses of tests/fuzz/ (clang, ASan, UBSan, in their
# own build directory) and fuzzes each for a bounded time from its seed corpus
# (tests/fuzz/corpus/<harness>/). Exits non-zero on any finding (crash, broken
# property, leak, undefined behaviour, timeout, out of memory); the input that
# caused it is left in BUILD_DIR/findings/<harness>/. Inputs that reach new
# code are kept in BUILD_DIR/corpus/<harness>/ and read again by the next run.
#   tests/fuzz/run.sh [harness...]        all of them by default
#   FUZZ_SECONDS=600 tests/fuzz/run.sh decode
# FUZZ_SECONDS: per harness, default 60; 0 runs the corpus once, no fuzzing.
# FUZZ_BUILD_DIR: default build-fuzz. FUZZ_CC: default clang-14.
# scripts/deps.sh fuzz installs the compiler and its runtime.
set -eu
cd "$(dirname "$0")/../.."
seconds=${FUZZ_SECONDS:-60}
dir=${FUZZ_BUILD_DIR:-build-fuzz}
all="dataset query decode events"
harnesses=${*:-$all}

cc=${FUZZ_CC:-clang-14}
command -v "$cc" >/dev/null || { echo "tests/fuzz/run.sh: no $cc; scripts/deps.sh fuzz installs it" >&2; exit 2; }
CC=$cc cmake -S . -B "$dir" -DSL_FUZZ=ON -DCMAKE_BUILD_TYPE=RelWithDebInfo >/dev/null
cmake --build "$dir" -j "$(nproc)" >/dev/null

# The longest input each harness takes: a few rows or a small request hold
# every construct; longer ones only slow each run down.
max_len() {
  case $1 in
    dataset) echo 8192 ;;
    query) echo 256 ;;
    decode) echo 4096 ;;
    events) echo 8192 ;;
    *) echo "tests/fuzz/run.sh: no harness '$1' (harnesses: $all)" >&2; exit 2 ;;
  esac
}

if [ "$seconds" -gt 0 ]; then budget="-max_total_time=$seconds"; else budget="-runs=0"; fi
export ASAN_OPTIONS="${ASAN_OPTIONS:-detect_leaks=1}"
export UBSAN_OPTIONS="${UBSAN_OPTIONS:-print_stacktrace=1:halt_on_error=1}"
failed=""
report=""
for h in $harnesses; do
  len=$(max_len "$h")
  mkdir -p "$dir/corpus/$h" "$dir/findings/$h"
  log="$dir/fuzz-$h.log"
  echo "fuzzing $h for ${seconds}s (-max_len=$len; log in $log)" >&2
  if "$dir/fuzz_$h" "$budget" -max_len="$len" -timeout=10 -rss_limit_mb=2048 \
    -print_final_stats=1 -dict="tests/fuzz/$h.dict" -artifact_prefix="$dir/findings/$h/" \
    "$dir/corpus/$h" "tests/fuzz/corpus/$h" >"$log" 2>&1; then
    result=ok
  else
    result=FAILED
    failed="$failed $h"
    tail -n 60 "$log" >&2
  fi
  # libFuzzer's last status line (cov: edges, ft: features) and its final stats.
  last=$(grep -E '^#[0-9]+' "$log" | tail -n 1 || true)
  execs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$log" | tail -n 1)
  cov=$(echo "$last" | sed -n 's/.* cov: \([0-9]*\).*/\1/p')
  ft=$(echo "$last" | sed -n 's/.* ft: \([0-9]*\).*/\1/p')
  corp=$(echo "$last" | sed -n 's/.* corp: \([0-9]*\).*/\1/p')
  report="$report$(printf '%-8s %12s %7s %7s %7s  %s' "$h" "${execs:-?}" "${cov:-?}" \
    "${ft:-?}" "${corp:-?}" "$result")
"
done
printf '%-8s %12s %7s %7s %7s  %s\n%s' harness executions cov ft corpus result "$report"
if [ -n "$failed" ]; then
  echo "fuzzing found a problem in:$failed (inputs in $dir/findings/)" >&2
  exit 1
fi
