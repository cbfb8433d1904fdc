#!/bin/sh
# The device check of sparselaw-train on one CUDA GPU, in one command, under 8 minutes by
# construction (no step starts or runs past BUDGET, 470 s; each is killed 10 s after its limit).
# It needs the project's build dependencies (scripts/deps.sh build) and, for the PyTorch side,
# a CUDA PyTorch:
#
#   bench/gpu_check.sh [BUILD_DIR] [OUT_JSON]        (default: build-gpu, gpu_check.json)
#
#   1. nvidia-smi, configure and build with CUDA (Release),
#   2. the GPU tests (ctest -L gpu: gradients, CPU vs GPU, bf16 vs fp32, SIGTERM),
#   3. tokens/s and model FLOP/s of sparselaw-train --device cuda (bf16) against
#      bench/torch_train.py --device cuda (BF16 autocast, fused AdamW, fused attention) at
#      6 x 384, 12 x 768 and 24 x 1024, context 256 and 1024, 8192 tokens a step,
#   4. a 12-run calibration sweep through the worker backend (bench/gpu_sweep.py),
#   5. one JSON summary (bench/gpu_check_summary.py), written however far it got.
#
# Every step runs under its own timeout and inside an overall budget (BUDGET seconds, 470);
# a step that fails, times out or finds no time left is recorded as such and the next one
# runs. Exit status 0 when every step went through, 1 otherwise; the summary says which.
# Environment: BUDGET, BUILD_TYPE (Release), CORPUS (data/tinyshakespeare.txt), PYTHON
# (python3), TORCH_PYTHON (the interpreter with a CUDA PyTorch; PYTHON), WORK (the directory
# for logs; a new one under /tmp).
set -eu
cd "$(dirname "$0")/.."
build=${1:-build-gpu}
out=${2:-gpu_check.json}
budget=${BUDGET:-470}
py=${PYTHON:-python3}
torch_py=${TORCH_PYTHON:-$py}
corpus=${CORPUS:-data/tinyshakespeare.txt}
work=${WORK:-$(mktemp -d /tmp/sparselaw-gpu-check-XXXXXX)}
mkdir -p "$work"
steps="$work/steps.jsonl"
: > "$steps"
start=$(date +%s)
failed=0

# shellcheck disable=SC2317 # run by the EXIT trap
summary() {
  "$py" bench/gpu_check_summary.py --dir "$work" --out "$out" --started "$start" ||
    echo "gpu_check: the summary writer failed; the logs are in $work" >&2
}
trap summary EXIT
trap 'exit 130' INT TERM

# step NAME LIMIT CMD...: CMD under min(LIMIT, time left), its output in $work/NAME.log, a
# line in steps.jsonl. Never fails itself.
step() {
  name=$1
  limit=$2
  shift 2
  t0=$(date +%s)
  left=$((budget - (t0 - start)))
  [ "$limit" -le "$left" ] || limit=$left
  if [ "$limit" -lt 5 ]; then
    printf '{"step":"%s","status":"skipped","reason":"out of time","seconds":0}\n' "$name" \
      >> "$steps"
    echo "gpu_check: $name: skipped (out of time)" >&2
    failed=1
    return 0
  fi
  if timeout --kill-after=10 "$limit" "$@" > "$work/$name.log" 2>&1; then rc=0; else rc=$?; fi
  t1=$(date +%s)
  case $rc in
    0) st=ok ;;
    124 | 137) st=timeout ;;
    *) st=failed ;;
  esac
  [ "$rc" -eq 0 ] || failed=1
  printf '{"step":"%s","status":"%s","exit":%d,"seconds":%d,"limit":%d}\n' "$name" "$st" "$rc" \
    $((t1 - t0)) "$limit" >> "$steps"
  echo "gpu_check: $name: $st ($((t1 - t0)) s)" >&2
  return 0
}

step nvidia_smi 20 nvidia-smi --query-gpu=name,memory.total,driver_version --format=csv,noheader
step configure 120 cmake -S . -B "$build" -DCMAKE_BUILD_TYPE="${BUILD_TYPE:-Release}"
step build 240 cmake --build "$build" -j "$(nproc)"
step gpu_tests 200 ctest --test-dir "$build" -L gpu -V
# a skipped GPU test is no pass: the summary's gpu_tests.ran_on_a_gpu says whether they ran
grep -q "Skipped" "$work/gpu_tests.log" 2>/dev/null && failed=1

for shape in "6 384 6" "12 768 12" "24 1024 16"; do
  # shellcheck disable=SC2086 # the shape's three numbers
  set -- $shape
  for ctx in 256 1024; do
    batch=$((8192 / ctx))
    tag="$1x$2_t$ctx"
    step "ours_$tag" 90 "$build/sparselaw-train" --device cuda --layers "$1" --width "$2" \
      --heads "$3" --context "$ctx" --batch "$batch" --steps 20 --log-every 10 \
      --eval-every 1000000 --val-tokens 8192 --corpus "$corpus" --progress off
    step "torch_$tag" 120 "$torch_py" bench/torch_train.py --device cuda --layers "$1" \
      --width "$2" --heads "$3" --context "$ctx" --batch "$batch" --steps 10 --warmup-steps 5 \
      --threads 1 --corpus "$corpus"
  done
done

step sweep 200 "$py" bench/gpu_sweep.py --server "$build/sparselawd" \
  --trainer "$build/sparselaw-train" --corpus "$corpus" --out "$work/sweep.json" --timeout 180

exit "$failed"
