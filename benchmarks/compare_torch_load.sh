#!/usr/bin/env bash
# Loading a Llama-2-7B-shaped bf16 checkpoint (random weights, 2 shards written by transformers) in
# ward and in transformers' from_pretrained, alternately, twice each: seconds and peak resident memory
# added, against the 13.5 GB of weights. Makes the checkpoint in a temporary directory and deletes it.
# Usage: benchmarks/compare_torch_load.sh [BUILD_DIR] [PYTHON] [LAYERS]
#   PYTHON: an interpreter with torch and transformers (default python3); LAYERS: 32 (7B) or fewer.
set -euo pipefail
build=${1:-build}
python=${2:-python3}
layers=${3:-32}
here="$(dirname "$0")"
dir=$(mktemp -d "${TMPDIR:-/tmp}/ward-7b-XXXXXX")
trap 'rm -rf "$dir"' EXIT
"$python" "$here/make_llama7b_checkpoint.py" "$dir" "$layers"
ls -l "$dir"
for round in 1 2; do
  echo "== round $round (threads ${OMP_NUM_THREADS:-all})"
  "$build/benchmarks/bench_load" "$dir" bf16
  "$python" "$here/torch_load.py" "$dir" bf16
done
