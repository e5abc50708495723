#!/usr/bin/env bash
# The knob study recorded in README.md: one epoch of the quick model on the first 10,000
# training images (2,000 validation / test images) per setting, everything else as the
# quick preset. Prints one line per setting: name, validation and test bits/dim.
# Usage: scripts/knobs.sh [extra train options]   (about 1 minute per setting on lavapipe)
set -euo pipefail
cd "$(dirname "$0")/.."
cargo build --release --example train
base=(--preset quick --epochs 1 --subset 10000 --no-progress --no-report --runs-dir runs/knobs "$@")
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
run logit-a-0.05 --logit-alpha 0.05
run no-logit --logit-alpha 0
run lr-3e-4 --lr 3e-4
run lr-3e-3 --lr 3e-3
run constant-lr --lr-decay constant
run no-clipping --clip 0
run interleaved-mask --mask interleaved
run additive --coupling additive
