#!/usr/bin/env bash
# Installs everything the build and the tests need, by package name: Debian packages with apt-get,
# xsimd 13 (Debian 13's header-only package, unpacked into build/_deps: Debian 12's 8.1 has no wasm
# arch), and the npm packages in package.json. Safe to run again: it skips what is already there.
set -euo pipefail
cd "$(dirname "$0")/.."

need=()
for p in cmake ninja-build g++ libeigen3-dev doctest-dev libstb-dev nlohmann-json3-dev \
         emscripten node-acorn clang-14 libclang-rt-14-dev chromium fonts-dejavu-core ca-certificates \
         libhdf5-dev zlib1g-dev python3-h5py nanopb libnanopb-dev python3-protobuf protobuf-compiler \
         python3-torch python3-torchvision python3-onnx; do
  dpkg -s "$p" >/dev/null 2>&1 || need+=("$p")
done
command -v node >/dev/null 2>&1 || need+=(nodejs)
command -v npm >/dev/null 2>&1 || need+=(npm)
if [ ${#need[@]} -gt 0 ]; then
  echo "deps: installing ${need[*]}"
  SUDO=; [ "$(id -u)" = 0 ] || SUDO=sudo
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends "${need[@]}" >/dev/null
fi

# From Debian 13 through a private apt configuration that reads the mirror from this machine's own
# sources (the system's apt sources are not touched), unpacked into build/_deps:
#  - xsimd >= 11 with the wasm arch (Debian 12 has 8.1);
#  - stb with stb_image 2.30 (Debian 12's 2.27 indexes out of bounds on some corrupt JPEG Huffman
#    codes, found by tools/fuzz.sh; 2.28 added the check).
if [ ! -f build/_deps/xsimd/usr/include/xsimd/xsimd.hpp ] || [ ! -f build/_deps/stb/usr/include/stb/stb_image.h ]; then
  d=build/_deps/apt; mkdir -p $d/lists/partial $d/cache/archives/partial $d/dl
  MIRROR=$(awk '/^URIs:/{print $2; exit}' /etc/apt/sources.list.d/debian.sources 2>/dev/null || true)
  [ -n "$MIRROR" ] || MIRROR=$(awk '/^deb /{print $2; exit}' /etc/apt/sources.list)
  KEY=/usr/share/keyrings/debian-archive-keyring.gpg
  printf 'deb [signed-by=%s] %s trixie main\n' $KEY "$MIRROR" > $d/sources.list
  O=(-o Dir::Etc::SourceList=$PWD/$d/sources.list -o Dir::Etc::SourceParts=/dev/null
     -o Dir::State::Lists=$PWD/$d/lists -o Dir::Cache=$PWD/$d/cache -o Debug::NoLocking=1)
  apt-get "${O[@]}" update -qq
  rm -f $d/dl/libxsimd-dev_*.deb $d/dl/libstb-dev_*.deb
  (cd $d/dl && apt-get "${O[@]}" download libxsimd-dev libstb-dev >/dev/null 2>&1)
  rm -rf build/_deps/xsimd build/_deps/stb
  dpkg -x $d/dl/libxsimd-dev_*.deb build/_deps/xsimd
  dpkg -x $d/dl/libstb-dev_*.deb build/_deps/stb
  echo "deps: xsimd $(grep -m1 'define XSIMD_VERSION_MAJOR' build/_deps/xsimd/usr/include/xsimd/config/xsimd_config.hpp | awk '{print $3}'), $(head -1 build/_deps/stb/usr/include/stb/stb_image.h | cut -c4-20) in build/_deps"
fi

# nanopb 0.4.7's C runtime (pb_decode.c, pb_common.c) from Debian 12's source package, unpacked into
# build/_deps/nanopb: the ONNX reader compiles it into the engine in every tree, wasm included
# (libnanopb-dev has a native .a only). The generator and onnx.proto come from the packages above.
if [ ! -f build/_deps/nanopb/pb_decode.c ]; then
  d=build/_deps/apt-nanopb; mkdir -p $d/lists/partial $d/cache/archives/partial $d/dl
  MIRROR=$(awk '/^URIs:/{print $2; exit}' /etc/apt/sources.list.d/debian.sources 2>/dev/null || true)
  [ -n "$MIRROR" ] || MIRROR=$(awk '/^deb /{print $2; exit}' /etc/apt/sources.list)
  KEY=/usr/share/keyrings/debian-archive-keyring.gpg
  printf 'deb-src [signed-by=%s] %s bookworm main\n' $KEY "$MIRROR" > $d/sources.list
  O=(-o Dir::Etc::SourceList=$PWD/$d/sources.list -o Dir::Etc::SourceParts=/dev/null
     -o Dir::State::Lists=$PWD/$d/lists -o Dir::Cache=$PWD/$d/cache -o Debug::NoLocking=1
     -o APT::Sandbox::User=root)
  apt-get "${O[@]}" update -qq
  rm -f $d/dl/nanopb_*
  (cd $d/dl && apt-get "${O[@]}" source --download-only nanopb >/dev/null)
  orig=$(ls $d/dl/nanopb_*.orig.tar.* | head -1)
  rm -rf build/_deps/nanopb && mkdir -p build/_deps/nanopb
  tar xf "$orig" -C build/_deps/nanopb --strip-components=1
  test -f build/_deps/nanopb/pb_decode.c || { echo "deps: pb_decode.c not found in $orig" >&2; exit 1; }
  echo "deps: nanopb $(basename "$orig") in build/_deps/nanopb"
fi

bash web/deps.sh   # Dear ImGui 1.90.1 sources for the page's app (build/_deps/imgui-1.90.1)

if [ ! -d node_modules/@tensorflow/tfjs-backend-wasm ] || [ ! -d node_modules/onnxruntime-node ] || [ ! -d node_modules/esbuild ] \
   || [ ! -d node_modules/typescript ] || [ package.json -nt node_modules/.package-lock.json ]; then
  npm install --no-audit --no-fund --loglevel=error
fi

# The npm package's dependencies (npm/package.json) in an npm cache of their own, build/npm-cache:
# the package's test installs the tarball with `npm install --offline --cache build/npm-cache`, so it
# needs no network.
for dep in $(node -e 'const d = require("./npm/package.json").dependencies || {}; for (const [n, v] of Object.entries(d)) console.log(`${n}@${v}`)'); do
  npm cache ls --cache build/npm-cache 2>/dev/null | grep -q "/${dep%@*}/-/${dep%@*}-${dep##*@}.tgz" \
    || npm cache add "$dep" --cache build/npm-cache --loglevel=error
done
