#!/usr/bin/env bash
# Runs one libFuzzer target (built by the fuzz preset; ctest calls this once per target).
#   tools/test.d/fuzz.sh BINARY NAME            CI mode, the same inputs on every run: replays
#       tests/fuzz/regressions/NAME, then fuzzes FUZZ_RUNS inputs (default 20000) from seed 1,
#       starting from tests/fuzz/corpus/NAME. Nothing depends on wall time; -timeout is only a hang
#       detector far above any input's work (the targets bound their own work).
#   tools/test.d/fuzz.sh BINARY NAME --random   FUZZ_SECONDS (default 600) with a random seed.
# The corpus grows in a scratch copy beside the binary (build/fuzz/NAME/), never in the repository.
# A crash leaves its input and log there and fails the run: add that input to
# tests/fuzz/regressions/NAME/ (replayed by every run) once it is fixed.
set -euo pipefail
cd "$(dirname "$0")/../.."
bin=$(realpath "${1:?usage: tools/test.d/fuzz.sh BINARY NAME [--random]}")
target=${2:?usage: tools/test.d/fuzz.sh BINARY NAME [--random]}
mode=ci
case "${3:-}" in
  "") ;;
  --random) mode=random ;;
  *) echo "tools/test.d/fuzz.sh: unknown option \"$3\" (none for the CI run, or --random)" >&2; exit 2 ;;
esac
runs=${FUZZ_RUNS:-20000}
seconds=${FUZZ_SECONDS:-600}

export ASAN_OPTIONS=detect_leaks=1:allocator_may_return_null=1
# fuzz_keras forks a child per HDF5 input (the native reader's isolation), and a fork costs in
# proportion to the fuzzer's resident memory, most of it ASan's quarantine of freed blocks (256 MiB
# by default): 16 MiB keeps use-after-free detection for this target's small inputs and cuts the
# run's system time about 3x.
[ "$target" = keras ] && ASAN_OPTIONS+=:quarantine_size_mb=16
export LSAN_OPTIONS=suppressions=$PWD/tests/fuzz/lsan_hdf5.supp  # leaks inside libhdf5 itself (see the file)
limits=(-rss_limit_mb=2048 -malloc_limit_mb=1024 -max_len=65536 -print_final_stats=1)
work=$(dirname "$bin")/$target; rm -rf "$work"; mkdir -p "$work/corpus"
cp tests/fuzz/corpus/$target/* "$work/corpus/" 2>/dev/null || true
status=0
# Regressions first: every input that once crashed must now pass.
if compgen -G "tests/fuzz/regressions/$target/*" >/dev/null; then
  "$bin" "${limits[@]}" tests/fuzz/regressions/$target/* >"$work/regressions.log" 2>&1 \
    || { echo "fuzz $target: a regression input fails again (see $work/regressions.log)"; status=1; }
fi
if [ $mode = ci ]; then
  echo "fuzz $target: $runs inputs from seed 1"
  # -use_cmp=0 and -reload=0: comparison tracing sees heap addresses and reload reads the corpus
  # folder on a timer; with either on, two runs from the same seed explore different inputs.
  run=(-seed=1 -runs="$runs" -use_cmp=0 -reload=0 -timeout=300)
else
  echo "fuzz $target: ${seconds}s, random seed"
  run=(-max_total_time="$seconds" -timeout=30)
fi
if ! (cd "$work" && "$bin" corpus "${run[@]}" "${limits[@]}" >fuzz.log 2>&1); then
  echo "fuzz $target: FOUND A PROBLEM (input and log in $work)"; tail -30 "$work/fuzz.log"; status=1
else
  grep -E "stat::number_of_executed_units|cov:" "$work/fuzz.log" | tail -2
fi
exit $status
