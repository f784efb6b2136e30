#!/usr/bin/env bash
# Builds the libFuzzer targets (clang 14, ASan + UBSan) and runs each for FUZZ_SECONDS (default 60)
# from the seed corpora in tests/fuzz/corpus/<target>. Corpora grow in a scratch copy, never in the
# repository. A crash leaves its input in build/fuzz/<target>/ and fails the run: add that input to
# tests/fuzz/regressions/ (replayed by this script every time) once it is fixed.
set -euo pipefail
cd "$(dirname "$0")/.."
seconds=${FUZZ_SECONDS:-60}
out=build/fuzz
mkdir -p $out
CXX=${FUZZ_CXX:-clang++-14}
flags=(-std=c++20 -O1 -g -fsanitize=fuzzer,address,undefined -fno-sanitize-recover=undefined
       -Iengine/include -isystem /usr/include/eigen3 -isystem build/_deps/xsimd/usr/include
       -isystem build/_deps/stb/usr/include/stb -isystem build/native/include_shim)
srcs=(engine/src/model.cpp engine/src/network.cpp engine/src/kernels.cpp engine/src/winograd.cpp engine/src/cam.cpp
      engine/src/image.cpp engine/src/colormap.cpp engine/src/engine.cpp)

# The engine once, as objects shared by the three targets (-fsanitize=fuzzer-no-link for them).
objs=()
for s in "${srcs[@]}"; do
  o=$out/$(basename "$s" .cpp).o
  if [ ! -f "$o" ] || [ "$s" -nt "$o" ] || [ tools/fuzz.sh -nt "$o" ]; then
    $CXX "${flags[@]/-fsanitize=fuzzer,address,undefined/-fsanitize=fuzzer-no-link,address,undefined}" -c "$s" -o "$o" &
  fi
  objs+=("$o")
done
wait

status=0
for target in model image explain; do
  bin=$PWD/$out/fuzz_$target
  $CXX "${flags[@]}" tests/fuzz/fuzz_$target.cpp "${objs[@]}" -o "$bin"
  work=$out/$target; rm -rf "$work"; mkdir -p "$work/corpus"
  cp tests/fuzz/corpus/$target/* "$work/corpus/" 2>/dev/null || true
  # Regressions first: every input that once crashed must now pass.
  if compgen -G "tests/fuzz/regressions/$target/*" >/dev/null; then
    "$bin" tests/fuzz/regressions/$target/* >"$work/regressions.log" 2>&1 || { echo "fuzz $target: a regression input fails again (see $work/regressions.log)"; status=1; }
  fi
  echo "fuzz $target: ${seconds}s"
  if ! (cd "$work" && ASAN_OPTIONS=detect_leaks=1:allocator_may_return_null=1 "$bin" corpus \
        -max_total_time="$seconds" -rss_limit_mb=2048 -malloc_limit_mb=1024 -timeout=10 -max_len=65536 \
        -print_final_stats=1 >fuzz.log 2>&1); then
    echo "fuzz $target: FOUND A PROBLEM (input and log in $work)"; tail -30 "$work/fuzz.log"; status=1
  else
    grep -E "stat::number_of_executed_units|cov:" "$work/fuzz.log" | tail -2
  fi
done
exit $status
