#!/usr/bin/env bash
# Browser tests: the explorer (index.html) and the widget page (embed.html) from build/site, in
# Debian's Chromium, headless, with WebGL2 through SwiftShader (tests/browser/, playwright-core).
# Screenshots land in tests/artifacts/ (git-ignored). Needs tools/build.sh first.
set -euo pipefail
cd "$(dirname "$0")/../.."
if [ ! -f build/site/index.html ] || [ ! -f build/site/gradcam_app.wasm ]; then
  echo "browser tests: build/site is incomplete: run tools/build.sh (and web/deps.sh for Dear ImGui)" >&2
  exit 1
fi
mkdir -p tests/artifacts
exec node --test --test-concurrency=1 tests/browser/
