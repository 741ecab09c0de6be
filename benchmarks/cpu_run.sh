#!/usr/bin/env bash
# The CPU runs committed under benchmarks/results/ (2 CPU cores, real Fashion-MNIST files).
#   1. the comparison: cnn, five optimizers, seeds 0 and 1, 5 epochs (the CPU's budget);
#   2. the SmallCNN calibration: Adam under the full protocol (30 epochs), seed 0.
# Usage: bash benchmarks/cpu_run.sh [DATA_DIR]
source "$(dirname "$0")/run_common.sh"
DATA=${1:-/usr/share/datasets/fashion-mnist}
python -m benchmarks.train --dataset fashionmnist --arch cnn --optimizer pilot,adam,adamw,lion,adabelief \
  --epochs 5 --seeds 0,1 --data-dir "$DATA" --out benchmarks/results/fashionmnist_cnn_cpu_5ep
python -m benchmarks.table benchmarks/results/fashionmnist_cnn_cpu_5ep
python -m benchmarks.train --dataset fashionmnist --arch cnn --optimizer adam \
  --epochs 30 --seeds 0 --data-dir "$DATA" --out benchmarks/results/calibration_fashionmnist_cnn_adam_30ep
