#!/usr/bin/env bash
# Gets the inputs of trainer/gpu/device_run.sh ready on the workstation, in ignored folders that the
# device tool carries: the trainer built without -march=native and for the H100/H200 (sm_90), the
# CIFAR-10 archive, and the header-only dependencies for a rebuild there if the binaries don't run.
#   bash trainer/gpu/prepare.sh path/to/cifar10-jpeg.tar.gz   (train/<class>/*.jpg, test/<class>/*.jpg)
set -euo pipefail
cd "$(dirname "$0")/../.."
archive=${1:?usage: bash trainer/gpu/prepare.sh path/to/cifar10-jpeg.tar.gz (train/<class>/*.jpg, test/<class>/*.jpg)}
for d in .devbin .devdata .devdeps; do
  grep -qx "/$d/" .git/info/exclude 2>/dev/null || echo "/$d/" >>.git/info/exclude
done
cmake -S . -B build/device -G Ninja -DGRADCAM_NATIVE_ARCH=OFF -DCMAKE_CUDA_ARCHITECTURES=90 >/dev/null
ninja -C build/device gradcam_train trainer_tests
mkdir -p .devbin .devdata .devdeps
cp build/device/trainer/train build/device/trainer/trainer_tests .devbin/
cp "$archive" .devdata/cifar10-jpeg.tar.gz
rm -rf .devdeps/*
cp -r /usr/include/eigen3 /usr/include/nlohmann /usr/include/doctest .devdeps/
cp -r build/_deps/xsimd/usr/include/xsimd .devdeps/
cp -r build/_deps/stb/usr/include/stb .devdeps/
du -sh .devbin .devdata .devdeps
