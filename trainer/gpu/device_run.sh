#!/usr/bin/env bash
# The trainer's GPU run, as one prepared script for a machine lent for minutes: it proves the CUDA
# path against the CPU reference, times it against PyTorch on the same GPU, then trains the `seed`
# recipe in full and the `best` recipe, fitting the epochs into a deadline measured from its own
# first epochs. Everything it writes ends up in $OUT (results.tar.gz + summary.txt).
#
# Run from the repository root on the GPU machine:
#   BUDGET=480 bash trainer/gpu/device_run.sh
# Knobs: SEED_PRECISION=auto|fp32|tf32 (auto: FP32 when 150 epochs fit in 60% of the time left),
#        BEST_EPOCHS=auto|N (auto: what fits beside the seed run, at most 100; 0 skips it),
#        PYTORCH=1|0 (0 skips the PyTorch timing).
# Inputs (ignored folders carried beside the checkout):
#   .devdata/cifar10-jpeg.tar.gz   the CIFAR-10 JPEG archive (train/, test/ class folders)
#   .devbin/{train,trainer_tests}  the trainer built on the workstation (trainer/gpu/prepare.sh); when
#                                  they do not run there, it builds from source with .devdeps/ headers
set -u
T0=$(date +%s)
BUDGET=${BUDGET:-480}  # seconds this script may take, packing included
OUT=${OUT:-/tmp/gpu-out}
W=/tmp/gpu-work
mkdir -p "$OUT" "$W/logs" "$W/runs"
left() { echo $((T0 + BUDGET - $(date +%s))); }
say() { echo "[$(($(date +%s) - T0))s] $*" | tee -a "$W/summary.txt"; }
pack() { cp "$W/summary.txt" "$OUT/summary.txt"; tar czf "$OUT/results.tar.gz" -C "$W" . 2>/dev/null; }

# --- the machine -------------------------------------------------------------------------------
say "gpu: $(nvidia-smi --query-gpu=name,driver_version,memory.total --format=csv,noheader 2>&1 | head -1)"
say "cpu: $(nproc) cores, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | xargs)"
say "nvcc: $(nvcc --version 2>&1 | tail -1); torch: $(python3 -c 'import torch; print(torch.__version__)' 2>&1 | tail -1)"
for d in /usr/local/cuda/lib64 /usr/local/cuda/lib /usr/local/cuda/targets/x86_64-linux/lib; do
  [ -d "$d" ] && export LD_LIBRARY_PATH="$d${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}"
done
# A library the carried build links that is not on the path here: take the first copy found.
for lib in $(ldd .devbin/train 2>/dev/null | awk '/not found/ {print $1}'); do
  f=$(find / -xdev -name "$lib" 2>/dev/null | head -1)
  [ -n "$f" ] && export LD_LIBRARY_PATH="$(dirname "$f"):$LD_LIBRARY_PATH" && say "using $f"
done

# --- the trainer: the carried build, or one made here ------------------------------------------
BIN=.devbin
if ! "$BIN/trainer_tests" -tc="*seed architecture plans*" >"$W/logs/bin_check.log" 2>&1; then
  say "carried binaries do not run here ($(tail -1 "$W/logs/bin_check.log")); building"
  D=$PWD/.devdeps
  if cmake -S . -B /tmp/build -G Ninja -DGRADCAM_NATIVE_ARCH=OFF -DCMAKE_CUDA_ARCHITECTURES=90 \
      -DEIGEN3_INCLUDE_DIR="$D/eigen3" -DXSIMD_INCLUDE_DIR="$D" -DSTB_INCLUDE_DIR="$D/stb" \
      -DNLOHMANN_JSON_INCLUDE_DIR="$D" -DDOCTEST_INCLUDE_DIR="$D" >"$W/logs/build.log" 2>&1 &&
     ninja -C /tmp/build gradcam_train trainer_tests >>"$W/logs/build.log" 2>&1; then
    BIN=/tmp/build/trainer
    say "built in $(($(date +%s) - T0))s"
  else
    say "build failed: $(tail -3 "$W/logs/build.log")"; pack; exit 1
  fi
fi

# --- data ----------------------------------------------------------------------------------------
mkdir -p /tmp/data && tar xzf .devdata/cifar10-jpeg.tar.gz -C /tmp/data || { say "no data"; pack; exit 1; }
say "data: $(find /tmp/data/train -name '*.jpg' | wc -l) train, $(find /tmp/data/test -name '*.jpg' | wc -l) test JPEGs"

# --- 1. CPU/CUDA parity on this GPU -------------------------------------------------------------
timeout 120 "$BIN/trainer_tests" -tc="*CUDA*" >"$W/logs/parity.log" 2>&1
say "parity (trainer_tests -tc='*CUDA*'): rc $? | $(grep -E '^\[doctest\] (test cases|assertions)' "$W/logs/parity.log" | tr '\n' ' ')"
grep -B2 -A6 "ERROR\|FAILED" "$W/logs/parity.log" | head -40 | tee -a "$W/summary.txt"
pack

# --- 2. speed: our trainer and PyTorch, same network, batch 512, same GPU, one after another ------
ours() {  # name, extra flags...
  local name=$1; shift
  timeout 90 "$BIN/train" --data /tmp/data --backend cuda --no-test --out "$W/runs/$name" "$@" >"$W/logs/$name.log" 2>&1
  local rc=$?
  say "$name: rc $rc; $(python3 - "$W/runs/$name/metrics.json" <<'EOF'
import json, statistics, sys
try:
    e = json.load(open(sys.argv[1]))["epochs"]
    s = [x["seconds"] for x in e[1:]] or [e[0]["seconds"]]
    t = [45000 / x["images_per_second"] for x in e[1:]] or [45000 / e[0]["images_per_second"]]
    print(f"epochs {len(e)}; median after the first: {statistics.median(s):.3f} s/epoch with validation, "
          f"{statistics.median(t):.3f} s training only; val acc {e[-1]['val_accuracy']:.4f}")
except Exception as x:
    print("no metrics:", x)
EOF
)"
}
ours speed-seed-fp32 --recipe seed --epochs 4
ours speed-seed-tf32 --recipe seed --epochs 4 --tf32
[ "${BEST_EPOCHS:-auto}" = auto ] && ours speed-best-fp32 --recipe best --epochs 3
for mode in fp32 tf32; do
  [ "${PYTORCH:-1}" = 1 ] || break
  flag=""; [ $mode = tf32 ] && flag=--tf32
  PYTHONUNBUFFERED=1 timeout 150 python3 trainer/gpu/pytorch_baseline.py --data /tmp/data --epochs 4 $flag \
    --json "$W/runs/pytorch-$mode.json" >"$W/logs/pytorch-$mode.log" 2>&1
  say "pytorch-$mode: rc $?; $(tail -1 "$W/logs/pytorch-$mode.log")"
done
pack

# --- 3. the full runs, side by side on the GPU, epochs fitted to the time left -------------------
read -r SEED_FLAGS SEED_EPOCHS BEST_EPOCHS < <(python3 - "$W/runs" "$(left)" "${SEED_PRECISION:-auto}" "${BEST_EPOCHS:-auto}" <<'EOF'
import json, statistics, sys
runs, left, precision, best_req = sys.argv[1], float(sys.argv[2]) - 45, sys.argv[3], sys.argv[4]  # 45 s: tests, packing
def per_epoch(name, default):
    try:
        e = json.load(open(f"{runs}/{name}/metrics.json"))["epochs"]
        return statistics.median([x["seconds"] for x in e[1:]] or [e[0]["seconds"]])
    except Exception:
        return default
fp32, tf32, best = per_epoch("speed-seed-fp32", 9e9), per_epoch("speed-seed-tf32", 9e9), per_epoch("speed-best-fp32", 9e9)
if precision == "auto":
    precision = "fp32" if 150 * fp32 * 1.15 < left * 0.6 else "tf32"
seed_t = fp32 if precision == "fp32" else tf32
# The runs share the GPU: plan on the sum of their solo times, with 15% to spare.
seed_epochs = max(1, min(150, int(left / 1.15 / seed_t)))
if best_req == "auto":
    best_epochs = max(0, min(100, int((left / 1.15 - seed_epochs * seed_t) / best)))
else:
    best_epochs = int(best_req)
print("--tf32" if precision == "tf32" else "-", seed_epochs, best_epochs)
EOF
)
[ "$SEED_FLAGS" = "-" ] && SEED_FLAGS=""
say "plan: seed ${SEED_EPOCHS} epochs ${SEED_FLAGS:-fp32}, best ${BEST_EPOCHS} epochs fp32, $(left)s left"
STOP=$(($(left) - 15))
timeout $STOP "$BIN/train" --data /tmp/data --backend cuda --recipe seed --epochs "$SEED_EPOCHS" $SEED_FLAGS \
  --out "$W/runs/seed-gpu" >"$W/logs/seed-gpu.log" 2>&1 &
P1=$!
P2=""
if [ "$BEST_EPOCHS" -ge 10 ]; then
  timeout $STOP "$BIN/train" --data /tmp/data --backend cuda --recipe best --epochs "$BEST_EPOCHS" \
    --out "$W/runs/best-gpu" >"$W/logs/best-gpu.log" 2>&1 &
  P2=$!
fi
while kill -0 $P1 2>/dev/null || { [ -n "$P2" ] && kill -0 $P2 2>/dev/null; }; do
  sleep 5; [ $(( ($(date +%s) - T0) % 30 )) -lt 5 ] && pack
done
wait $P1; say "seed-gpu: rc $?; $(grep -E '^test|best validation' "$W/logs/seed-gpu.log" | tr '\n' ' ')"
[ -n "$P2" ] && { wait $P2; say "best-gpu: rc $?; $(grep -E '^test|best validation' "$W/logs/best-gpu.log" | tr '\n' ' ')"; }
nvidia-smi --query-gpu=name,clocks.max.sm,power.limit --format=csv >>"$W/summary.txt" 2>&1
say "done"
pack
