#!/usr/bin/env bash
# Is PILOT better when the learning rate is tuned? The learning-rate sweep of docs/evidence/images.md
# ("When the learning rate is tuned"), on CPU with real Fashion-MNIST, SmallCNN,
# 5 epochs (the CPU's budget): pilot, pilot_frozen and adam at peak learning rates 3e-4, 1e-3,
# 3e-3 and 1e-2, seeds 0-2, all in one folder (a learning rate other than the default is in the
# file name). Seed by seed, so that an interrupted sweep leaves complete seeds; with --resume a
# finished point made with the same set-up is skipped and an unfinished one continues from its
# last epoch: run the script again (in a later session too) and it goes on where it stopped.
# Usage: bash benchmarks/lr_sweep_run.sh [DATA_DIR]   (default /usr/share/datasets/fashion-mnist)
source "$(dirname "$0")/run_common.sh"
DATA=${1:-/usr/share/datasets/fashion-mnist}
OUT=benchmarks/results/fashionmnist_cnn_cpu_lr_sweep_5ep
for seed in 0 1 2; do
  python -m benchmarks.train --dataset fashionmnist --arch cnn --optimizer pilot,adam,pilot_frozen \
    --peak-lr 3e-4,3e-3,1e-2,1e-3 --epochs 5 --seeds "$seed" --data-dir "$DATA" --out "$OUT" --resume
done
python -m benchmarks.table "$OUT"
