#!/bin/sh
# Training throughput of sparselaw-train against PyTorch 1.13 on the CPU (Debian's
# python3-torch), same architecture and sizes, in one run. Not a test: it prints a table.
#
#   bench/train_bench.sh [BUILD_DIR]        (default: build; needs sparselaw-train built)
#
# Shapes: 2 layers x 96 and 4 x 128, 4 heads, context 64, batch 4 (256 tokens per step).
# Each implementation runs at 1 and 2 threads, ROUNDS times, interleaved; the table keeps
# the best of each (the least disturbed run on a shared machine) and the best thread count.
# GFLOP/s is the model's training FLOPs per token (sparselaw-train --dry-run: 3 x forward,
# causal attention counted as run) times tokens/s, the same count for both.
# Environment: ROUNDS (3), C_STEPS (300), TORCH_STEPS (150), CORPUS (tinyshakespeare),
# LOG (keep the raw JSON lines in this file).
set -eu
cd "$(dirname "$0")/.."
build=${1:-build}
train="$build/sparselaw-train"
py=/usr/bin/python3
corpus=${CORPUS:-data/tinyshakespeare.txt}
rounds=${ROUNDS:-3}
c_steps=${C_STEPS:-300}
torch_steps=${TORCH_STEPS:-150}
[ -x "$train" ] || { echo "no $train: build first (scripts/build.sh)" >&2; exit 2; }
"$py" -c 'import torch' 2>/dev/null || { echo "no PyTorch: scripts/deps.sh bench" >&2; exit 2; }
[ -r "$corpus" ] || { echo "cannot read $corpus" >&2; exit 2; }

log=${LOG:-$(mktemp)}
[ -n "${LOG:-}" ] || trap 'rm -f "$log"' EXIT
: > "$log"
for shape in "2 96" "4 128"; do
  set -- $shape
  args="--layers $1 --width $2 --heads 4 --context 64 --batch 4"
  "$train" $args --dry-run | sed "s/^/dry $1 $2 x /" >> "$log"
  r=1
  while [ "$r" -le "$rounds" ]; do
    for th in 1 2; do
      "$train" $args --corpus "$corpus" --steps "$c_steps" --threads "$th" --eval-every 1000000 \
        --val-tokens 256 --log-every 1000000 --progress off | tail -n 1 | sed "s/^/c $1 $2 $th /" >> "$log"
    done
    OMP_NUM_THREADS=2 "$py" bench/torch_train.py --corpus "$corpus" --layers "$1" --width "$2" \
      --heads 4 --context 64 --batch 4 --steps "$torch_steps" --threads 1,2 \
      | sed "s/^/torch $1 $2 x /" >> "$log"
    echo "  $1 x $2: round $r of $rounds done" >&2
    r=$((r + 1))
  done
done

"$py" - "$log" <<'PY'
import json, sys
best, flops, params = {}, {}, {}
for line in open(sys.argv[1]):
    impl, layers, width, th, js = line.split(" ", 4)
    d, key = json.loads(js), (int(layers), int(width))
    if impl == "dry":
        flops[key] = d["train_flops_per_token"]
        params[key] = d["total_params"]
        continue
    if impl == "torch":
        th = d["threads"]
        if d["total_params"] != params[key]:
            sys.exit(f"parameter counts differ at {key}: {d['total_params']} vs {params[key]}")
    tps = d["tokens_per_s"]
    k = (impl, key)
    if k not in best or tps > best[k][0]:
        best[k] = (tps, int(th))
print()
print("| model (layers x width) | params | sparselaw-train tok/s (threads) | PyTorch 1.13 tok/s (threads) | ratio | GFLOP/s sparselaw-train | GFLOP/s PyTorch |")
print("|---|---|---|---|---|---|---|")
for key in sorted(flops):
    c, t = best[("c", key)], best[("torch", key)]
    f = flops[key]
    print(f"| {key[0]} x {key[1]} | {params[key]:,} | {c[0]:,.0f} ({c[1]}) | {t[0]:,.0f} ({t[1]}) "
          f"| {c[0] / t[0]:.2f}x | {c[0] * f / 1e9:.1f} | {t[0] * f / 1e9:.1f} |")
print("\ncontext 64, batch 4, 4 heads; training FLOPs per token: " +
      ", ".join(f"{k[0]}x{k[1]} {flops[k]:,.0f}" for k in sorted(flops)))
PY
