#!/usr/bin/env bash
# Installs what is missing, builds every preset's tree and runs every test suite with ctest (the
# "all" workflow in CMakePresets.json): native and wasm doctest, the trainer, the Node tests, the
# browser tests, the sanitizer suite and the fuzz targets in CI mode. Ends with ctest's summary;
# exits non-zero on any failure.
set -euo pipefail
cd "$(dirname "$0")/.."
bash tools/deps.sh
exec cmake --workflow --preset all
