#!/usr/bin/env bash
# A check of flowgpu on a machine with a real GPU, run by hand (nothing depends on it):
#   1. the test suite (`cargo test --release`),
#   2. the benchmarks (`cargo bench`),
#   3. a spec-preset training capped at MINUTES of wall clock (default 8): at the cap it gets
#      SIGINT, saves a resumable checkpoint and stops; if it finishes first it reports the
#      test bits/dim,
# then prints a summary: GPU, % of the measured FMA peak and of the datasheet fp32 peak,
# samples/s, bits/dim reached.
#
# Usage: scripts/gpu-check.sh [--minutes N] [--skip-tests] [--skip-bench] [--data-dir DIR]
# Environment: FLOWGPU_ADAPTER (default `hardware`: refuses a software adapter),
#   GPU_FP32_TFLOPS (the GPU's datasheet fp32 peak, when the table below lacks it),
#   GPU_CHECK_OUT (logs and the run folder; default target/gpu-check).
# MNIST is fetched into --data-dir (default data/) on first use; on a machine without
# network access copy the four IDX files there first.
set -uo pipefail

minutes=8
run_tests=1
run_bench=1
data_dir=""
while [ $# -gt 0 ]; do
    case "$1" in
        --minutes) minutes="$2"; shift 2 ;;
        --skip-tests) run_tests=0; shift ;;
        --skip-bench) run_bench=0; shift ;;
        --data-dir) data_dir="$2"; shift 2 ;;
        -h|--help) sed -n '2,17p' "$0"; exit 0 ;;
        *) echo "unknown option $1 (see --help)" >&2; exit 2 ;;
    esac
done

cd "$(dirname "$0")/.." || exit 1
out="${GPU_CHECK_OUT:-target/gpu-check}"
mkdir -p "$out"
export FLOWGPU_ADAPTER="${FLOWGPU_ADAPTER:-hardware}"
echo "gpu-check: logs in $out, adapter choice $FLOWGPU_ADAPTER, training cap ${minutes} min"
command -v nvidia-smi >/dev/null && nvidia-smi -L | tee "$out/nvidia-smi.txt"

tests="skipped"
if [ "$run_tests" = 1 ]; then
    echo "== cargo test --release"
    if cargo test --release 2>&1 | tee "$out/tests.log"; then
        tests="passed"
    else
        tests="FAILED (see $out/tests.log)"
    fi
fi

if [ "$run_bench" = 1 ]; then
    echo "== cargo bench"
    cargo bench 2>&1 | tee "$out/bench.log" || echo "bench FAILED (see $out/bench.log)"
fi

echo "== spec training, at most ${minutes} min"
cargo build --release --example train 2>&1 | tail -n 3
run_name="gpu-check-$(date +%Y%m%d-%H%M%S)"
train_args=(--preset spec --name "$run_name" --runs-dir "$out/runs" --no-progress --no-report)
[ -n "$data_dir" ] && train_args+=(--data-dir "$data_dir")
# SIGINT 20 s before the cap leaves time to save; killed outright 20 s after that.
cap=$((minutes * 60 - 40))
start=$(date +%s)
timeout -s INT -k 20 "$cap" target/release/examples/train "${train_args[@]}" 2>&1 \
    | tee "$out/train.log"
train_rc=${PIPESTATUS[0]}
train_s=$(( $(date +%s) - start ))
run_dir="$out/runs/$run_name"

# ---- summary ------------------------------------------------------------------------------
bench="$out/bench.log"
field() { grep -m1 "$1" "$bench" 2>/dev/null; }
adapter_line=$(field '^adapter:' | sed 's/^adapter: //')
gpu_name=$(head -n1 "$out/nvidia-smi.txt" 2>/dev/null | sed 's/ (UUID.*//;s/^GPU 0: //')
[ -z "$gpu_name" ] && gpu_name="$adapter_line"
peak=$(field 'measured peak' | grep -o '[0-9.]* GFLOP/s')
copy=$(field 'reference copy bandwidth')
median=$(grep 'median % of peak' "$bench" 2>/dev/null | tail -n1 | grep -o '[0-9.]*%$')
step_1024=$(grep -A0 '^H=1024 batch 256' "$bench" 2>/dev/null | head -n1)

# Datasheet fp32 (non-tensor) peaks in TFLOP/s; GPU_FP32_TFLOPS wins.
datasheet="${GPU_FP32_TFLOPS:-}"
if [ -z "$datasheet" ]; then
    case "$gpu_name" in
        *H200*|*"H100 80GB HBM3"*|*"H100 SXM"*) datasheet=67 ;;
        *"H100 PCIe"*) datasheet=51 ;;
        *A100*) datasheet=19.5 ;;
        *L40S*) datasheet=91.6 ;;
        *L4*) datasheet=30.3 ;;
        *"RTX 4090"*) datasheet=82.6 ;;
        *"RTX 3090"*) datasheet=35.6 ;;
        *V100*) datasheet=15.7 ;;
        *T4*) datasheet=8.1 ;;
    esac
fi

test_bpd=$(grep -m1 '^test:' "$out/train.log" | grep -o '[0-9.]* ± [0-9.]* bits/dim')
metrics="$run_dir/metrics.csv"
last_valid=$(grep '^valid,' "$metrics" 2>/dev/null | tail -n1)
last_train=$(grep '^train_step,' "$metrics" 2>/dev/null | tail -n1)
samples_s=""
if [ -n "$last_train" ]; then
    # kind,step,epoch,bits_per_dim,learning_rate,elapsed_s; batch 256 (spec preset).
    samples_s=$(echo "$last_train" | awk -F, '$6 > 0 { printf "%.0f", $2 * 256 / $6 }')
else
    # No logged step yet: steps done over the whole wall time, start-up included.
    steps=$(grep -o 'stopped at step [0-9]*' "$out/train.log" | grep -o '[0-9]*$')
    [ -n "$steps" ] && samples_s="$(awk -v n="$steps" -v t="$train_s" 'BEGIN { printf "%.0f", n * 256 / t }') (from $steps steps over ${train_s} s, start-up included)"
fi

echo
echo "================ gpu-check summary ================"
echo "GPU:                 $gpu_name"
echo "adapter:             $adapter_line"
echo "tests:               $tests"
echo "FMA peak (measured): ${peak:-n/a}${datasheet:+ (datasheet fp32 ${datasheet} TFLOP/s)}"
echo "copy:                ${copy:-n/a}"
echo "median matmul:       ${median:-n/a} of the measured peak (spec shapes, chosen variants)"
if [ -n "$step_1024" ]; then
    echo "spec step (bench):   $step_1024   [ms GFLOP/s %peak samples/s]"
    if [ -n "$datasheet" ]; then
        gflops=$(echo "$step_1024" | awk '{print $5}')
        echo "                     $(awk -v g="$gflops" -v p="$datasheet" 'BEGIN { printf "%.1f%% of the datasheet fp32 peak", 100 * g / (p * 1000) }')"
    fi
fi
echo "training:            ${train_s} s, exit $train_rc ($([ "$train_rc" = 124 ] && echo 'stopped at the cap, checkpoint saved' || echo 'finished or failed: see train.log'))"
echo "samples/s (training, incl. validation): ${samples_s:-n/a}"
echo "last train bits/dim: $(echo "$last_train" | awk -F, '{ if ($4 != "") printf "%s at step %s (epoch %.2f)", $4, $2, $3 }')"
echo "last valid bits/dim: $(echo "$last_valid" | awk -F, '{ if ($4 != "") printf "%s after epoch %s", $4, $3 }')"
echo "test bits/dim:       ${test_bpd:-n/a (the run did not finish within the cap)}"
echo "run folder:          $run_dir"
