#!/usr/bin/env bash
# autograd/ names no device: every kernel the tape runs is reached through Backend<D>
# (tensor/ops.hpp, tensor/fused.hpp), so nothing in it may include or name the backends.
set -u
dir="${1:?usage: check_layering.sh <include/ward>}/autograd"
[ -d "$dir" ] || { echo "no such directory: $dir" >&2; exit 2; }
hits=$(grep -rnE '#include[[:space:]]*[<"]ward/backend/|backend::' "$dir")
if [ -n "$hits" ]; then
    echo "autograd/ reaches into backend/:" >&2
    echo "$hits" >&2
    exit 1
fi
echo "autograd/ includes nothing from backend/"
