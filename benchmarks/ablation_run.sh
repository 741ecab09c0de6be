#!/usr/bin/env bash
# Does PILOT's learned policy matter? The paired multi-seed runs of docs/evidence/images.md
# ("Does the learned policy matter?"), on CPU with real Fashion-MNIST, SmallCNN:
#   1. 5 epochs (the CPU's budget): pilot, pilot_frozen, pilot_fast_policy, adam, adamw; seeds 0-4;
#   2. the paper's 30 epochs: pilot, pilot_frozen, adam; seeds 0-2.
# Seed by seed, so that an interrupted run leaves complete pairs. With --resume a (optimizer,
# seed) whose JSON exists is skipped and an unfinished one continues from its last epoch, so the
# script continues where a stopped one ended (run it again, in a later session too).
# Usage: bash benchmarks/ablation_run.sh [DATA_DIR] [STAGE: 5ep|30ep|all]
source "$(dirname "$0")/run_common.sh"
DATA=${1:-/usr/share/datasets/fashion-mnist}
STAGE=${2:-all}

run() {  # run EPOCHS OUT SEEDS OPTIMIZERS...
  local epochs=$1 out=$2 seeds=$3
  shift 3
  for seed in $seeds; do
    for opt in "$@"; do
      python -m benchmarks.train --dataset fashionmnist --arch cnn --optimizer "$opt" \
        --epochs "$epochs" --seeds "$seed" --data-dir "$DATA" --out "$out" --resume
    done
  done
  python -m benchmarks.table "$out"
}

if [ "$STAGE" = 5ep ] || [ "$STAGE" = all ]; then
  run 5 benchmarks/results/fashionmnist_cnn_cpu_ablation_5ep "0 1 2 3 4" \
    pilot pilot_frozen pilot_fast_policy adam adamw
fi
if [ "$STAGE" = 30ep ] || [ "$STAGE" = all ]; then
  run 30 benchmarks/results/fashionmnist_cnn_cpu_ablation_30ep "0 1 2" pilot pilot_frozen adam
fi
