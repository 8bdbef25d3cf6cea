#!/usr/bin/env bash
# Fuzzes the readers of outside input with libFuzzer (clang, ASan + UBSan), one target at a time:
#   scripts/fuzz.sh [SECONDS] [TARGET...]      (default: 60 s for each of tests/fuzz's targets)
# Each target starts from tests/fuzz/corpus/<target>. Afterwards the inputs it found are merged
# back minimised (-set_cover_merge=1: few files that reach every code edge reached), and any
# crash, leak, timeout or out-of-memory reproducer is saved to tests/fuzz/crashes/<target>/, which
# the CTest replay (label fuzz) then runs for good. Prints per target: executions, exec/s, corpus
# files, crashes. Exits non-zero when any target crashed.
set -euo pipefail
cd "$(dirname "$0")/.."

seconds=${1:-60}
[ $# -gt 0 ] && shift
# The targets tests/fuzz/CMakeLists.txt declares, unless named on the command line.
read -r -a all_targets <<<"$(sed -n 's/^set(WARD_FUZZ_TARGETS \(.*\))$/\1/p' tests/fuzz/CMakeLists.txt)"
targets=("$@")
[ ${#targets[@]} -eq 0 ] && targets=("${all_targets[@]}")

bash scripts/setup.sh
# clang with libFuzzer and the sanitizer runtimes, and LLVM's OpenMP (ward uses OpenMP).
missing=()
for p in clang libclang-rt-14-dev libomp-dev; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [ ${#missing[@]} -gt 0 ]; then
  echo "fuzz: installing ${missing[*]}"
  sudo_cmd=()
  [ "$(id -u)" -ne 0 ] && sudo_cmd=(sudo)
  export DEBIAN_FRONTEND=noninteractive
  "${sudo_cmd[@]}" apt-get update -qq
  "${sudo_cmd[@]}" apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi

jobs=${WARD_JOBS:-$(nproc)}
build=${WARD_FUZZ_BUILD_DIR:-build-fuzz}
# -O2 with assertions on (no NDEBUG): nlohmann-json's checks stay in.
cmake -S . -B "$build" -DCMAKE_CXX_COMPILER=clang++ -DCMAKE_BUILD_TYPE=RelWithDebInfo \
  -DCMAKE_CXX_FLAGS_RELWITHDEBINFO="-O2 -g" -DWARD_LIBFUZZER=ON -DWARD_TEST_PCH=OFF -DWARD_ENABLE_CUDA=OFF \
  -DWARD_BUILD_EXAMPLES=OFF -DWARD_BUILD_BENCHMARKS=OFF -DWARD_HEADER_CHECK=OFF >/dev/null
cmake --build "$build" -j "$jobs" --target "${targets[@]/#/fuzz_}"

# Inputs larger than the seeds need are slower and rarely reach more.
max_len() {
  case "$1" in
    hf_sharded) echo 32768 ;;
    hf_model|gpt2_bpe|epoch) echo 16384 ;;
    hf_config) echo 4096 ;;
    *) echo 8192 ;;
  esac
}

export OMP_NUM_THREADS=1
export ASAN_OPTIONS=${ASAN_OPTIONS:-detect_leaks=1}
export UBSAN_OPTIONS=${UBSAN_OPTIONS:-print_stacktrace=1}
summary=()
failed=0
for t in "${targets[@]}"; do
  fuzzer="$build/tests/fuzz/fuzz_$t"
  corpus="tests/fuzz/corpus/$t"
  crashes="tests/fuzz/crashes/$t"
  work="$build/fuzz-work/$t"
  rm -rf "$work"
  mkdir -p "$work/new" "$work/artifacts" "$work/merged" "$corpus"
  echo "== $t: $seconds s (log: $work/fuzz.log)"
  start=$(date +%s)
  rc=0
  # New inputs go to the first directory; the committed corpus and the reproducers of fixed
  # crashes (run first, so a regression stops the run at once) are only read.
  inputs=("$work/new" "$corpus")
  [ -d "$crashes" ] && inputs+=("$crashes")
  "$fuzzer" "${inputs[@]}" -max_total_time="$seconds" -max_len="$(max_len "$t")" -timeout=10 \
    -rss_limit_mb=2048 -artifact_prefix="$work/artifacts/" -print_final_stats=1 >"$work/fuzz.log" 2>&1 || rc=$?
  elapsed=$(( $(date +%s) - start ))
  execs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$work/fuzz.log" | tail -1)
  rate=$(sed -n 's/^stat::average_exec_per_sec: *//p' "$work/fuzz.log" | tail -1)
  # Minimise the committed corpus together with what this run found: a greedy set cover of the code
  # edges they reach (-use_counters=0: hit counts would keep many more files for little coverage).
  "$fuzzer" -set_cover_merge=1 -use_counters=0 -max_len="$(max_len "$t")" -timeout=10 -rss_limit_mb=2048 \
    "$work/merged" "$corpus" "$work/new" >"$work/merge.log" 2>&1 || true
  if [ -n "$(ls -A "$work/merged")" ]; then
    find "$corpus" -maxdepth 1 -type f -delete
    cp "$work/merged"/* "$corpus"/
  fi
  found=0
  for a in "$work"/artifacts/*; do
    [ -e "$a" ] || continue
    mkdir -p "$crashes"
    cp "$a" "$crashes/"
    found=$((found + 1))
  done
  if [ "$found" -gt 0 ] || [ "$rc" -ne 0 ]; then
    failed=1
    echo "   crashed (exit $rc): reproducers in $crashes; the report ends:"
    grep -E "^(==[0-9]+==ERROR|SUMMARY|ward fuzz:|.*runtime error)" "$work/fuzz.log" | head -5 | sed 's/^/   /'
  fi
  summary+=("$(printf '%-15s %8s %12s %10s %8s %8s' "$t" "${elapsed}s" "${execs:-?}" "${rate:-?}" \
    "$(find "$corpus" -maxdepth 1 -type f | wc -l)" "$found")")
done

printf '\n%-15s %8s %12s %10s %8s %8s\n' target time executions exec/s corpus crashes
printf '%s\n' "${summary[@]}"
exit "$failed"
