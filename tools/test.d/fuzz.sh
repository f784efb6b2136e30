#!/usr/bin/env bash
# The libFuzzer targets (model reader, image decoder, explain path) under ASan+UBSan, in CI mode:
# regressions and seed corpora replayed, then a fixed number of inputs from a fixed seed, so the
# result never depends on the machine's load. Long random fuzzing: tools/fuzz.sh --random.
set -euo pipefail
cd "$(dirname "$0")/../.."
exec bash tools/fuzz.sh
