#!/usr/bin/env bash
# Installs what is missing, builds everything in Release and runs the whole test suite, then
# rebuilds the tests under AddressSanitizer + UndefinedBehaviorSanitizer and runs them again.
# Tests that need a GPU (ctest label "gpu") report themselves skipped on machines without one.
set -euo pipefail
cd "$(dirname "$0")/.."

bash scripts/setup.sh

# One compile job more than cores: while a job links or waits on the precompiled header, the
# cores stay busy.
jobs=${WARD_JOBS:-$(( $(nproc) + 1 ))}
build=${WARD_BUILD_DIR:-build}

# Without a GPU the CUDA tests can only be compiled (they report themselves skipped), so their
# device code is compiled to be checked, not to run fast (WARD_CUDA_COMPILE_ONLY).
cuda_compile_only=ON
if command -v nvidia-smi >/dev/null && nvidia-smi -L >/dev/null 2>&1; then cuda_compile_only=OFF; fi

# ctest runs one test per core and each test's OpenMP/oneDNN uses two threads: OpenMP's default
# spin-waiting then burns the core a descheduled thread needs, and the heavy tests run 10 to 100
# times slower than alone (the defence smoke test: 257 s instead of 4). Waiting threads sleep.
export OMP_WAIT_POLICY=${OMP_WAIT_POLICY:-passive}

echo "== Release build"
cmake -S . -B "$build" -DCMAKE_BUILD_TYPE=Release -DWARD_CUDA_COMPILE_ONLY=$cuda_compile_only >/dev/null
cmake --build "$build" -j "$jobs"
echo "== Release tests"
(cd "$build" && ctest --output-on-failure -j "$(nproc)")

if [ "${WARD_SKIP_SANITIZERS:-0}" != "1" ]; then
  echo "== ASan + UBSan build (tests only)"
  # -Og -g1 (line tables, enough for the sanitizers' stack traces) compiles the heaviest test
  # files 2.6 times faster than -O1 -g, and the tests run about 1.3 times slower.
  cmake -S . -B "$build-asan" -DCMAKE_BUILD_TYPE=Debug -DWARD_SANITIZE=address,undefined \
    -DCMAKE_CXX_FLAGS_DEBUG="-Og -g1" -DWARD_ENABLE_CUDA=OFF -DWARD_BUILD_EXAMPLES=OFF \
    -DWARD_BUILD_BENCHMARKS=OFF -DWARD_HEADER_CHECK=OFF >/dev/null
  cmake --build "$build-asan" -j "$jobs"
  echo "== ASan + UBSan tests"
  # oneDNN's JIT and OpenMP runtime hold allocations for the life of the process: leaks are not checked.
  (cd "$build-asan" && ASAN_OPTIONS=detect_leaks=0 UBSAN_OPTIONS=print_stacktrace=1 \
    ctest --output-on-failure -j "$(nproc)" -LE "gpu|package")
fi
