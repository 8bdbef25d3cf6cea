#!/usr/bin/env bash
# check_lm_score.sh LM DIR [TOLERANCE [LM_ARGS...]]: `LM --model DIR --score DIR/sample.txt LM_ARGS`
# must print the mean NLL that transformers computed in f32 (DIR/score_nll.txt,
# tests/nn/fixtures/make_lm_score_reference.py) within TOLERANCE relative (default 1e-4; lm prints 4
# decimals, well inside that).
set -euo pipefail
lm=$1
dir=$2
tolerance=${3:-1e-4}
shift $(( $# < 3 ? $# : 3 ))
out=$("$lm" --model "$dir" --score "$dir/sample.txt" "$@")
echo "$out"
got=$(echo "$out" | sed -n 's/.*mean NLL \([0-9.]*\) nats.*/\1/p')
want=$(tr -d '[:space:]' < "$dir/score_nll.txt")
[ -n "$got" ] || { echo "no NLL in lm's output"; exit 1; }
awk -v got="$got" -v want="$want" -v tol="$tolerance" 'BEGIN {
  rel = (got - want) / want; if (rel < 0) rel = -rel
  printf "ward %s, transformers %s, relative error %.2g\n", got, want, rel
  exit !(rel <= tol) }'
