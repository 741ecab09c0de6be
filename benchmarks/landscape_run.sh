#!/usr/bin/env bash
# The paper's picture: the loss landscape around the paths of PILOT, its frozen policy, Adam,
# AdamW, Lion and Sophia (docs/evidence/images.md, "Where do the optimizers go?"). Real
# Fashion-MNIST, SmallCNN, seed 0, 5 epochs (the CPU's budget; the paper's figure is CIFAR-10:
# pass --dataset cifar10 runs the same way where its files exist). Parameters are saved every 25
# steps under OUT/trajectories/ (~330 MB a run, git-ignored); --resume continues a stopped run.
# Usage: bash benchmarks/landscape_run.sh [DATA_DIR] [STAGE: train|landscape|all]
source "$(dirname "$0")/run_common.sh"
DATA=${1:-/usr/share/datasets/fashion-mnist}
STAGE=${2:-all}
OUT=benchmarks/results/fashionmnist_cnn_cpu_landscape_5ep
OPTIMIZERS=pilot,adam,pilot_frozen,adamw,lion,sophia
if [ "$STAGE" = train ] || [ "$STAGE" = all ]; then
  python -m benchmarks.train --dataset fashionmnist --arch cnn --optimizer "$OPTIMIZERS" \
    --epochs 5 --seeds 0 --data-dir "$DATA" --out "$OUT" --resume --trajectory-every 25
  python -m benchmarks.table "$OUT"
fi
if [ "$STAGE" = landscape ] || [ "$STAGE" = all ]; then
  python -m benchmarks.landscape "$OUT" --optimizers "$OPTIMIZERS" --seed 0 --data-dir "$DATA"
fi
