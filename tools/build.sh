#!/usr/bin/env bash
# Builds the native engine (build/native), the SIMD WebAssembly engine (build/wasm) and the static
# site (build/site). Usage: tools/build.sh [native|wasm|site|all]   (default: all)
set -euo pipefail
cd "$(dirname "$0")/.."
what=${1:-all}
jobs=$(nproc)
export NODE_PATH=/usr/share/nodejs  # emcc's JS optimizer needs Debian's acorn

if [[ $what == native || $what == all ]]; then
  cmake -S . -B build/native -G Ninja -DCMAKE_BUILD_TYPE=Release >/dev/null
  ninja -C build/native -j "$jobs"
fi
if [[ $what == wasm || $what == site || $what == all ]]; then
  if [ ! -f build/wasm/build.ninja ]; then
    emcmake cmake -S . -B build/wasm -G Ninja -DCMAKE_BUILD_TYPE=Release >/dev/null
  fi
  ninja -C build/wasm -j "$jobs"
fi
if [[ $what == site || $what == all ]]; then
  site=build/site
  mkdir -p $site/samples $site/models
  cp build/wasm/gradcam_core.mjs build/wasm/gradcam_core.wasm engine/js/gradcam.mjs $site/
  # The page's own files (web/site.sh lays out its HTML, JS, shaders and app build).
  if [ -f web/site.sh ]; then bash web/site.sh "$site"; fi
  cp assets/models/cifar10.safetensors $site/models/
  cp assets/samples/* $site/samples/ 2>/dev/null || true
  echo "site: $site"
fi
