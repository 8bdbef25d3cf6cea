#!/usr/bin/env bash
# ward's GPT-2 training step against the PyTorch peer on the same configurations and thread count,
# in one run. Usage: benchmarks/compare_torch_gpt.sh [BUILD_DIR] [PYTHON]
#   PYTHON: an interpreter with torch (default python3); say which torch you measured against.
set -euo pipefail
build=${1:-build}
python=${2:-python3}
peer="$(dirname "$0")/torch_gpt_step.py"
export OMP_NUM_THREADS=${OMP_NUM_THREADS:-2}
for cfg in "4 256 4 8192 256 8" "12 768 12 50257 256 4"; do
  echo "== config $cfg (threads $OMP_NUM_THREADS)"
  # Peak resident memory of each whole process (weights, optimiser state, activations, caches).
  w=$(/usr/bin/time -f "max_rss_kB=%M" "$build/benchmarks/bench_gpt_step" $cfg 3 2>&1)
  t=$(/usr/bin/time -f "max_rss_kB=%M" "$python" "$peer" $cfg 3 2>&1)
  echo "$w"; echo "$t"
  wm=$(echo "$w" | sed -n 's/.*max_rss_kB=\([0-9]*\).*/\1/p')
  tm=$(echo "$t" | sed -n 's/.*max_rss_kB=\([0-9]*\).*/\1/p')
  awk -v a="$wm" -v b="$tm" 'BEGIN { printf "peak RSS ward %.0f MB, torch %.0f MB, ratio %.2f\n", a / 1024, b / 1024, a / b }'
  wt=$(echo "$w" | sed -n 's/.*tokens_per_s=\([0-9.]*\).*/\1/p')
  tt=$(echo "$t" | sed -n 's/.*tokens_per_s=\([0-9.]*\).*/\1/p')
  awk -v a="$wt" -v b="$tt" 'BEGIN { printf "ratio ward/torch tokens/s: %.2f\n", a / b }'
done
