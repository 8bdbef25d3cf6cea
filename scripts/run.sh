#!/usr/bin/env bash
# Installs what is missing, builds the examples in Release and runs the main job on its embedded
# default. Extra arguments go to the program.
set -euo pipefail
cd "$(dirname "$0")/.."

bash scripts/setup.sh

build=${WARD_BUILD_DIR:-build}
cmake -S . -B "$build" -DCMAKE_BUILD_TYPE=Release >/dev/null
cmake --build "$build" -j "$(nproc)" --target quickstart
"$build/examples/quickstart" "$@"
