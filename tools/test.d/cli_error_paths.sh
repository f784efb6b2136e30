#!/usr/bin/env bash
# Bad input through the CLI (the asan tree's build; ctest sets ASAN_OPTIONS and UBSAN_OPTIONS):
# each must end in an error exit (1 or 2) with a message, never a sanitizer report.
# Usage: tools/test.d/cli_error_paths.sh path/to/gradcam
set -euo pipefail
cd "$(dirname "$0")/../.."
cli=${1:?usage: tools/test.d/cli_error_paths.sh path/to/gradcam}
tmp=$(mktemp -d); trap 'rm -rf "$tmp"' EXIT
head -c 300 assets/samples/cat.jpg > "$tmp/truncated.jpg"
head -c 5000 assets/models/cifar10.safetensors > "$tmp/truncated.safetensors"
: > "$tmp/empty.png"
for args in "explain --model assets/models/cifar10.safetensors --image $tmp/truncated.jpg" \
            "explain --model assets/models/cifar10.safetensors --image $tmp/empty.png" \
            "explain --model $tmp/truncated.safetensors --image assets/samples/cat.jpg" \
            "explain --model assets/models/cifar10.safetensors --image assets/samples/cat.jpg --layer nope"; do
  set +e; "$cli" $args >/dev/null 2>"$tmp/err"; rc=$?; set -e
  if [ $rc -ne 1 ] && [ $rc -ne 2 ]; then echo "gradcam $args exited $rc"; cat "$tmp/err"; exit 1; fi
  if grep -q "Sanitizer" "$tmp/err"; then cat "$tmp/err"; exit 1; fi
done
"$cli" explain --model assets/models/cifar10.safetensors --image assets/samples/cat.jpg --method scorecam --out "$tmp/o.png" >/dev/null
echo "CLI error paths clean under ASan+UBSan"
