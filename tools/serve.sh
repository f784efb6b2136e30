#!/usr/bin/env bash
# Installs what is missing, builds the site (the wasm preset) with the shipped model and serves it
# on 127.0.0.1.
set -euo pipefail
cd "$(dirname "$0")/.."
bash tools/deps.sh
bash tools/build.sh site
exec node tools/serve.mjs "$@"
