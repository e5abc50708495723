#!/usr/bin/env bash
# The knob study recorded in README.md: one epoch on the first 20,000 training images
# (4,000 validation / test images) of the quick preset with H = 128 and a 20-step warm-up,
# one setting changed at a time. Prints one line per setting: validation and test bits/dim.
# Usage: scripts/knobs.sh [extra train options]   (about 1 minute per setting on lavapipe)
set -euo pipefail
cd "$(dirname "$0")/.."
cargo build --release --example train
base=(--preset quick --hidden 128 --warmup 20 --epochs 1 --subset 20000 --no-progress --no-report --runs-dir runs/knobs "$@")
run() {
    local name=$1; shift
    ./target/release/examples/train "${base[@]}" --name "$name" "$@" >"runs/knobs-$name.log" 2>&1
    local valid test
    valid=$(grep -o 'valid [0-9.]*' "runs/knobs-$name.log" | tail -1 | cut -d' ' -f2)
    test=$(grep -o '[0-9.]* ± [0-9.]* bits/dim' "runs/knobs-$name.log" | tail -1)
    printf '%-22s valid %s  test %s\n' "$name" "$valid" "$test"
}
mkdir -p runs/knobs
run baseline
run no-data-init --no-data-init
run logit-a-0.05 --logit-alpha 0.05
run no-logit --logit-alpha 0
run lr-3e-4 --lr 3e-4
run lr-3e-3 --lr 3e-3
run constant-lr --lr-decay constant
run no-clipping --clip 0
run interleaved-mask --mask interleaved
run additive --coupling additive
