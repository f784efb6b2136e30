#!/usr/bin/env bash
# Short libFuzzer runs of the model reader, the image decoder and the explain path (ASan+UBSan).
set -euo pipefail
cd "$(dirname "$0")/../.."
FUZZ_SECONDS=${FUZZ_SECONDS:-60} bash tools/fuzz.sh
