#!/usr/bin/env bash
# Builds everything and runs every test suite: native doctest, the same doctest as wasm under
# node, and the Node tests (JS API, CLI parity, TF.js cross-check, browser). Installs what is
# missing first. Ends with one line "suites: N passed, M failed"; exits non-zero on any failure.
set -uo pipefail
cd "$(dirname "$0")/.."
bash tools/deps.sh || exit 1
bash tools/build.sh all || exit 1

passed=0; failed=0; failures=()
suite() {
  local name=$1; shift
  echo "=== $name: $*"
  if "$@"; then passed=$((passed + 1)); else failed=$((failed + 1)); failures+=("$name"); fi
}

suite "doctest (native)" build/native/engine_tests --no-colors=true
suite "doctest (wasm, node)" node build/wasm/engine_tests.js --no-colors=true
suite "node tests" node --test --test-concurrency=1 tests/js/
for extra in tools/test.d/*.sh; do
  [ -e "$extra" ] && suite "$(basename "$extra" .sh)" bash "$extra"
done

echo
[ $failed -eq 0 ] || echo "failed suites: ${failures[*]}"
echo "suites: $passed passed, $failed failed"
[ $failed -eq 0 ]
