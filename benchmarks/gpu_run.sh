#!/usr/bin/env bash
# The full 30-epoch `cnn` protocol on Fashion-MNIST for all six optimizers, on one GPU, then the
# table and plots; then the optimizer-step speed benchmark on the same GPU. No network needed.
#
#   bash benchmarks/gpu_run.sh [DATA_DIR] [OUT_DIR]
#
# DATA_DIR holds Fashion-MNIST's four IDX .gz files (default /usr/share/datasets/fashion-mnist);
# OUT_DIR defaults to benchmarks/results/fashionmnist_cnn_gpu_30ep. SEEDS (default 0,1,2) picks seeds.
# For a dry run of the plumbing without a GPU: ALLOW_CPU=1 EPOCHS=1 QUICK=1 (never for results).
# Needs JAX with CUDA, flax, optax, chex, tqdm, matplotlib (pip install -e ".[bench]" "jax[cuda12]").
# The six optimizers train as six processes sharing the GPU, so that Python dispatch overlaps;
# each trains its seeds in one program (--vmap-seeds) and resumes where a stopped run ended
# (--resume: finished runs are skipped, unfinished ones continue from their last epoch).
# No run time is stated here: this script has not yet been run on a GPU.
source "$(dirname "$0")/run_common.sh"
DATA=${1:-/usr/share/datasets/fashion-mnist}
OUT=${2:-benchmarks/results/fashionmnist_cnn_gpu_30ep}
SEEDS=${SEEDS:-0,1,2}
EPOCHS=${EPOCHS:-30}
export XLA_PYTHON_CLIENT_PREALLOCATE=false PYTHONUNBUFFERED=1
python -c "import jax, os, sys; d = jax.devices(); print('devices:', d); sys.exit(0 if d[0].platform == 'gpu' or os.environ.get('ALLOW_CPU') else 'no GPU visible to JAX')"
mkdir -p "$OUT"
start=$(date +%s)
pids=()
for opt in pilot adam adamw lion adabelief sophia; do
  python -m benchmarks.train --dataset fashionmnist --arch cnn --optimizer "$opt" --epochs "$EPOCHS" --seeds "$SEEDS" \
    --precision bf16 --data-dir "$DATA" --out "$OUT" --vmap-seeds --resume >> "$OUT/log_$opt.txt" 2>&1 &
  pids+=($!)
done
status=0
for pid in "${pids[@]}"; do wait "$pid" || status=1; done
echo "training: $(( $(date +%s) - start )) s wall for six optimizers x $EPOCHS epochs (exit status $status)"
grep -h "wrote" "$OUT"/log_*.txt || true
python -m benchmarks.table "$OUT"
python -m benchmarks.speed.step_overhead ${QUICK:+--quick} --out "${SPEED_OUT:-benchmarks/results/step_overhead_gpu.json}"
exit $status
