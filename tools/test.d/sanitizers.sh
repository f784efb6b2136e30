#!/usr/bin/env bash
# The native doctest suite and the CLI's error paths under AddressSanitizer + UBSan (g++).
set -euo pipefail
cd "$(dirname "$0")/../.."
cmake -S . -B build/asan -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo -DGRADCAM_SANITIZE=ON -DGRADCAM_TRAINER=OFF >/dev/null
ninja -C build/asan engine_tests gradcam
export ASAN_OPTIONS=detect_leaks=1:halt_on_error=1 UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1
build/asan/engine_tests --no-colors=true
# Bad input through the CLI: errors, not sanitizer reports.
tmp=$(mktemp -d); trap 'rm -rf "$tmp"' EXIT
head -c 300 assets/samples/cat.jpg > "$tmp/truncated.jpg"
head -c 5000 assets/models/cifar10.safetensors > "$tmp/truncated.safetensors"
: > "$tmp/empty.png"
for args in "explain --model assets/models/cifar10.safetensors --image $tmp/truncated.jpg" \
            "explain --model assets/models/cifar10.safetensors --image $tmp/empty.png" \
            "explain --model $tmp/truncated.safetensors --image assets/samples/cat.jpg" \
            "explain --model assets/models/cifar10.safetensors --image assets/samples/cat.jpg --layer nope"; do
  set +e; build/asan/gradcam $args >/dev/null 2>"$tmp/err"; rc=$?; set -e
  if [ $rc -ne 1 ] && [ $rc -ne 2 ]; then echo "sanitizers: gradcam $args exited $rc"; cat "$tmp/err"; exit 1; fi
  if grep -q "Sanitizer" "$tmp/err"; then cat "$tmp/err"; exit 1; fi
done
build/asan/gradcam explain --model assets/models/cifar10.safetensors --image assets/samples/cat.jpg --method scorecam --out "$tmp/o.png" >/dev/null
echo "sanitizers: doctest and CLI error paths clean under ASan+UBSan"
