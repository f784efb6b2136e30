#!/usr/bin/env bash
# Builds the libFuzzer targets (the fuzz preset: clang 14, ASan + UBSan) and runs them. Two modes:
#
#   tools/fuzz.sh            CI mode, the same inputs on every run (what tools/test.sh runs):
#                            ctest --preset fuzz, one test per target (see tools/test.d/fuzz.sh).
#   tools/fuzz.sh --random   long random fuzzing for a person to run: FUZZ_SECONDS per target
#                            (default 600), a random seed. Not part of the test suite.
set -euo pipefail
cd "$(dirname "$0")/.."
case "${1:-}" in
  ""|--random) ;;
  *) echo "tools/fuzz.sh: unknown option \"$1\" (none for the CI run, or --random)" >&2; exit 2 ;;
esac
cmake --preset fuzz --log-level=WARNING
cmake --build --preset fuzz
if [ -z "${1:-}" ]; then
  exec ctest --preset fuzz
fi
status=0
for src in tests/fuzz/fuzz_*.cpp; do
  target=$(basename "$src" .cpp)
  bash tools/test.d/fuzz.sh "build/fuzz/$target" "${target#fuzz_}" --random || status=1
done
exit $status
