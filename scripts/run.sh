#!/usr/bin/env bash
# Installs what is missing, builds the examples in Release and runs the main job on its embedded
# default: the end-to-end defence demo (pre-train, align, defend, attack, judge, probe) on a
# synthetic world, three seeds. The report goes to out/defence_demo (report.json, CSVs, the table,
# plots). Extra arguments go to the program (see defence_demo --help).
set -euo pipefail
cd "$(dirname "$0")/.."

bash scripts/setup.sh

build=${WARD_BUILD_DIR:-build}
cmake -S . -B "$build" -DCMAKE_BUILD_TYPE=Release >/dev/null
cmake --build "$build" -j "$(nproc)" --target defence_demo
OMP_NUM_THREADS=${OMP_NUM_THREADS:-$(nproc)} "$build/examples/defence_demo" --out out/defence_demo "$@"
