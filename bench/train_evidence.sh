#!/bin/sh
# The paper's effect in a short run: at equal non-zeros N, the sparse model beats the dense
# one. 2 layers x 96 trained on 1M tokens dense, at 50 % and 75 % unstructured GMP and 2:4,
# beside a dense 2 x 48 (55,296 non-zeros, the same as 2 x 96 at 75 %); two seeds each.
# Not a test (about 5 minutes on 2 cores); prints a Markdown table of validation losses.
#
#   bench/train_evidence.sh [BUILD_DIR]     (default: build)
# Environment: TOKENS (1000000), SEEDS ("1 2"), CORPUS (tinyshakespeare), LOG (raw JSON lines).
set -eu
cd "$(dirname "$0")/.."
build=${1:-build}
train="$build/sparselaw-train"
corpus=${CORPUS:-data/tinyshakespeare.txt}
tokens=${TOKENS:-1000000}
seeds=${SEEDS:-1 2}
[ -x "$train" ] || { echo "no $train: build first (scripts/build.sh)" >&2; exit 2; }
log=${LOG:-$(mktemp)}
[ -n "${LOG:-}" ] || trap 'rm -f "$log"' EXIT
: > "$log"

run() { # label, then sparselaw-train flags
  label=$1
  shift
  for seed in $seeds; do
    "$train" --corpus "$corpus" --tokens "$tokens" --seed "$seed" --progress off "$@" \
      | tail -n 1 | sed "s/^/$label /" >> "$log"
    echo "  $label seed $seed: $(tail -n 1 "$log" | grep -o '"val_loss":[0-9.]*')" >&2
  done
}
run "2x96-dense" --layers 2 --width 96
run "2x96-50%" --layers 2 --width 96 --sparsity 0.5
run "2x96-2:4" --layers 2 --width 96 --pattern 2:4
run "2x96-75%" --layers 2 --width 96 --sparsity 0.75
run "2x48-dense" --layers 2 --width 48

python3 - "$log" <<'PY'
import json, sys
rows = {}
for line in open(sys.argv[1]):
    label, js = line.split(" ", 1)
    rows.setdefault(label, []).append(json.loads(js))
print()
print("| model | pattern | sparsity | non-zeros N | total params | val loss per seed (nats/byte) | mean | tokens/s |")
print("|---|---|---|---|---|---|---|---|")
for label, rs in rows.items():
    r = rs[0]
    losses = [x["val_loss"] for x in rs]
    tps = sum(x["tokens_per_s"] for x in rs) / len(rs)
    print(f"| {label.split('-')[0].replace('x', ' x ')} | {r['pattern']} | {r['sparsity']:.3f} "
          f"| {r['nonzeros']:,} | {r['total_params']:,} "
          f"| {' / '.join(f'{v:.4f}' for v in losses)} | {sum(losses) / len(losses):.4f} "
          f"| {tps:,.0f} |")
print(f"\n{rs[0]['tokens']:,} training tokens per run, seeds: {', '.join(str(x['seed']) for x in rs)}")
PY
