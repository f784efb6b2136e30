#!/usr/bin/env bash
# The trainer's doctest suite (trainer/tests): every layer's backward pass against finite
# differences, the whole network's gradients, the data readers, a short training run, the train
# program end to end, and the written model in the engine. The CPU-vs-CUDA test runs only where a
# GPU is present and is reported as skipped elsewhere.
set -uo pipefail
cd "$(dirname "$0")/../.."
bin=build/native/trainer/trainer_tests
if [ ! -x "$bin" ]; then
  echo "missing $bin: build with tools/build.sh native (the trainer builds with the native engine)"
  exit 1
fi
exec "$bin" --no-colors=true
