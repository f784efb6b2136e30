#!/usr/bin/env bash
# Configures and builds presets (CMakePresets.json): native (build/native), wasm (build/wasm, which
# also lays out the static site in build/site). Usage: tools/build.sh [native|wasm|site|all]
# (default: all = native and wasm; site = wasm).
set -euo pipefail
cd "$(dirname "$0")/.."
case "${1:-all}" in
  native) presets=(native) ;;
  wasm|site) presets=(wasm) ;;
  all) presets=(native wasm) ;;
  *) echo "tools/build.sh: unknown build \"$1\" (native, wasm, site or all)" >&2; exit 2 ;;
esac
for preset in "${presets[@]}"; do
  cmake --preset "$preset" --log-level=WARNING
  cmake --build --preset "$preset"
done
