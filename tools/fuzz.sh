#!/usr/bin/env bash
# Builds the libFuzzer targets (clang 14, ASan + UBSan) and runs them. Two modes:
#
#   tools/fuzz.sh            CI mode, the same inputs on every run: replays the regressions and the
#                            seed corpora, then fuzzes each target for a fixed number of inputs
#                            (FUZZ_RUNS, default 20000) from a fixed seed (-seed=1). Nothing depends on
#                            wall time; -timeout is only a hang detector far above any input's work
#                            (the targets bound their own work: see fuzz_explain.cpp, fuzz_model.cpp).
#   tools/fuzz.sh --random   long random fuzzing for a person to run: FUZZ_SECONDS per target
#                            (default 600), a random seed. Not part of the test suite.
#
# Corpora grow in a scratch copy, never in the repository. A crash leaves its input in
# build/fuzz/<target>/ and fails the run: add that input to tests/fuzz/regressions/<target>/
# (replayed by every run) once it is fixed.
set -euo pipefail
cd "$(dirname "$0")/.."
mode=ci
case "${1:-}" in
  "") ;;
  --random) mode=random ;;
  *) echo "tools/fuzz.sh: unknown option \"$1\" (none for the CI run, or --random)" >&2; exit 2 ;;
esac
runs=${FUZZ_RUNS:-20000}
seconds=${FUZZ_SECONDS:-600}
out=build/fuzz
mkdir -p $out
CXX=${FUZZ_CXX:-clang++-14}
flags=(-std=c++20 -O1 -g -fsanitize=fuzzer,address,undefined -fno-sanitize-recover=undefined
       -Iengine/include -isystem /usr/include/eigen3 -isystem build/_deps/xsimd/usr/include
       -isystem build/_deps/stb/usr/include/stb -isystem build/native/include_shim)
srcs=(engine/src/architecture.cpp engine/src/safetensors.cpp engine/src/seed_network.cpp
      engine/src/network.cpp engine/src/kernels.cpp engine/src/winograd.cpp engine/src/methods.cpp engine/src/explain.cpp
      engine/src/cam_weights.cpp engine/src/score_cam.cpp engine/src/gradient_maps.cpp
      engine/src/image_decode.cpp engine/src/image_orientation.cpp engine/src/crop_geometry.cpp
      engine/src/area_resample.cpp engine/src/png_encode.cpp engine/src/colormap.cpp engine/src/map.cpp engine/src/request.cpp engine/src/result_json.cpp
      engine/src/deletion_insertion.cpp engine/src/road.cpp engine/src/map_similarity.cpp engine/src/sanity_check.cpp
      engine/src/engine.cpp engine/src/formats/keras_config.cpp engine/src/formats/keras_mapping.cpp
      engine/src/formats/keras_manifest.cpp engine/src/formats/keras_hdf5.cpp engine/src/formats/keras_archive.cpp
      engine/src/formats/zip_stored.cpp)
# Keras HDF5 through Debian's libhdf5 (libhdf5-dev), as the native build reads it.
flags+=(-DGRADCAM_HAVE_HDF5=1 -isystem /usr/include/hdf5/serial)
hdf5_libs=(-L/usr/lib/x86_64-linux-gnu/hdf5/serial -lhdf5)

# The engine once, as objects shared by the targets (-fsanitize=fuzzer-no-link for them).
objs=()
for s in "${srcs[@]}"; do
  o=$out/$(basename "$s" .cpp).o
  if [ ! -f "$o" ] || [ "$s" -nt "$o" ] || [ tools/fuzz.sh -nt "$o" ] || [ -n "$(find engine/include -newer "$o" -print -quit)" ]; then
    $CXX "${flags[@]/-fsanitize=fuzzer,address,undefined/-fsanitize=fuzzer-no-link,address,undefined}" -c "$s" -o "$o" &
  fi
  objs+=("$o")
done
wait

export ASAN_OPTIONS=detect_leaks=1:allocator_may_return_null=1
export LSAN_OPTIONS=suppressions=$PWD/tests/fuzz/lsan_hdf5.supp  # leaks inside libhdf5 itself (see the file)
limits=(-rss_limit_mb=2048 -malloc_limit_mb=1024 -max_len=65536 -print_final_stats=1)
status=0
for target in model image explain keras; do
  bin=$PWD/$out/fuzz_$target
  $CXX "${flags[@]}" tests/fuzz/fuzz_$target.cpp "${objs[@]}" "${hdf5_libs[@]}" -o "$bin"
  work=$out/$target; rm -rf "$work"; mkdir -p "$work/corpus"
  cp tests/fuzz/corpus/$target/* "$work/corpus/" 2>/dev/null || true
  # Regressions first: every input that once crashed must now pass.
  if compgen -G "tests/fuzz/regressions/$target/*" >/dev/null; then
    "$bin" "${limits[@]}" tests/fuzz/regressions/$target/* >"$work/regressions.log" 2>&1 \
      || { echo "fuzz $target: a regression input fails again (see $work/regressions.log)"; status=1; }
  fi
  if [ $mode = ci ]; then
    echo "fuzz $target: $runs inputs from seed 1"
    # -use_cmp=0 and -reload=0: comparison tracing sees heap addresses and reload reads the corpus
    # folder on a timer; with either on, two runs from the same seed explore different inputs.
    run=(-seed=1 -runs="$runs" -use_cmp=0 -reload=0 -timeout=300)
  else
    echo "fuzz $target: ${seconds}s, random seed"
    run=(-max_total_time="$seconds" -timeout=30)
  fi
  if ! (cd "$work" && "$bin" corpus "${run[@]}" "${limits[@]}" >fuzz.log 2>&1); then
    echo "fuzz $target: FOUND A PROBLEM (input and log in $work)"; tail -30 "$work/fuzz.log"; status=1
  else
    grep -E "stat::number_of_executed_units|cov:" "$work/fuzz.log" | tail -2
  fi
done
exit $status
