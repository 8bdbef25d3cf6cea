#!/usr/bin/env bash
# Installs what is missing, builds the tests and the examples they run in Release and runs the whole
# test suite, then rebuilds the tests of the layers that index memory themselves under
# AddressSanitizer + UndefinedBehaviorSanitizer and runs them again. Tests that need a GPU (ctest
# label "gpu") report themselves skipped on machines without one.
#
#   bash scripts/test.sh          # what CI runs
#   bash scripts/test.sh --all    # also the benchmarks, the header check, the programs nvcc compiles,
#                                 # and every layer's tests under the sanitizers
#
# Its build trees (build-test, build-test-asan; WARD_BUILD_DIR moves them) are its own: everything
# in them is built to be checked (-O2, CUDA unoptimised), not to be timed; scripts/run.sh builds in build.
set -euo pipefail
cd "$(dirname "$0")/.."

everything=OFF
case "${1:-}" in
  "") ;;
  --all) everything=ON ;;
  *) echo "usage: bash scripts/test.sh [--all]" >&2; exit 2 ;;
esac

bash scripts/setup.sh

# One compile job more than cores: while a job links or waits on the precompiled header, the
# cores stay busy.
jobs=${WARD_JOBS:-$(( $(nproc) + 1 ))}
build=${WARD_BUILD_DIR:-build-test}

# Without a GPU the CUDA tests can only be compiled (they report themselves skipped), so their
# device code is compiled to be checked, not to run fast (WARD_CUDA_COMPILE_ONLY).
cuda_compile_only=ON
if command -v nvidia-smi >/dev/null && nvidia-smi -L >/dev/null 2>&1; then cuda_compile_only=OFF; fi

# ctest runs one test per core and each test's OpenMP/oneDNN uses two threads: OpenMP's default
# spin-waiting then burns the core a descheduled thread needs, and the heavy tests run 10 to 100
# times slower than alone (the defence smoke test: 257 s instead of 4). Waiting threads sleep.
export OMP_WAIT_POLICY=${OMP_WAIT_POLICY:-passive}

# Only the tests and the examples they run are needed to pass; the rest is compiled with --all. The
# examples are checked at -O2, as the tests are: 0.68 of -O3's compile time for defence_demo.
echo "== Release build"
cmake -S . -B "$build" -DCMAKE_BUILD_TYPE=Release -DCMAKE_CXX_FLAGS_RELEASE="-O2 -DNDEBUG" \
  -DWARD_CUDA_COMPILE_ONLY=$cuda_compile_only -DWARD_BUILD_BENCHMARKS=$everything \
  -DWARD_HEADER_CHECK=$everything -DWARD_BUILD_CUDA_PROGRAMS=$everything >/dev/null
cmake --build "$build" -j "$jobs"
echo "== Release tests"
(cd "$build" && ctest --output-on-failure -j "$(nproc)")

if [ "${WARD_SKIP_SANITIZERS:-0}" != "1" ]; then
  echo "== ASan + UBSan build (tests only)"
  # The layers whose code indexes memory itself (buffers, strides, kernels, the tape, parsers of
  # outside input, the fuzz corpora); defence/, rl/, train/, eval/ and attack/ compose them (--all
  # adds them).
  layers="core;tensor;backend;autograd;io;data;optim;nn;irt;cmdp;fuzz"
  if [ "$everything" = ON ]; then layers=""; fi
  # -Og -g1 (line tables, enough for the sanitizers' stack traces) compiles the heaviest test
  # files 2.6 times faster than -O1 -g, and the tests run about 1.3 times slower.
  cmake -S . -B "$build-asan" -DCMAKE_BUILD_TYPE=Debug -DWARD_SANITIZE=address,undefined \
    -DCMAKE_CXX_FLAGS_DEBUG="-Og -g1" -DWARD_ENABLE_CUDA=OFF -DWARD_BUILD_EXAMPLES=OFF \
    -DWARD_BUILD_BENCHMARKS=OFF -DWARD_HEADER_CHECK=OFF -DWARD_TEST_LAYERS="$layers" >/dev/null
  cmake --build "$build-asan" -j "$jobs"
  echo "== ASan + UBSan tests"
  # oneDNN's JIT and OpenMP runtime hold allocations for the life of the process: leaks are not checked.
  (cd "$build-asan" && ASAN_OPTIONS=detect_leaks=0 UBSAN_OPTIONS=print_stacktrace=1 \
    ctest --output-on-failure -j "$(nproc)" -LE "gpu|package")
fi
