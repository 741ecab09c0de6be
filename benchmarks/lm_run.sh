#!/usr/bin/env bash
# Does PILOT help a language model? The sweep of docs/evidence/language_model.md: the byte
# transformer (0.88M parameters, context 128) on the World English Bible, 2,000 steps of batch 32
# (8.2M bytes, 1.8 passes over the training books), evaluated every 100 steps;
# pilot, pilot_frozen, adamw and lion.
#   1. Tuning, on seed 0: each optimizer at four peak learning rates half a decade apart around
#      its centre (3e-3; lion 3e-4), then widened (benchmarks.tuning) until its best rate, by
#      final validation loss, is not at an edge.
#   2. Scoring: seeds 1-3 at each optimizer's tuned rate, seed by seed, AdamW and the two PILOTs
#      first and Lion's seeds last (so that a sweep stopped early has the paired seeds that the
#      verdict rests on).
#   3. The fifth rate of every grid (3e-2; lion 3e-3), then 1-2 again: nothing more runs unless a
#      fifth rate moved a best.
#   4. The tables and plots (python -m benchmarks.lm_report), from the checkout's current code,
#      with the step costs of results/lm_step_cpu.json (python -m benchmarks.speed.lm_step).
# The order changes when a run is made, never which runs make up the sweep.
# Resumable: a finished run is skipped, a stopped one continues from its last evaluation's
# checkpoint; run the script again with the same options (in a later session too).
# On these 2 CPU cores: 11-15 minutes a run (0.27 s a step, evaluations, checkpoints), 32 runs:
# seven hours or so, over more than one session.
# Usage: bash benchmarks/lm_run.sh [--out DIR] [--data DIR] [--commit]
#   --out DIR   where the results go (default results/bible_transformer_sweep, a folder of your
#               own); the project's results stay in benchmarks/results/, untouched
#   --data DIR  the SWORD modules (default /usr/share/sword)
#   --commit    the project's own mode, for its maintainers: writes benchmarks/results/, runs the
#               commit recorded there in a git worktree, and commits each finished run
# Nothing is committed without --commit.
source "$(dirname "$0")/run_common.sh"
NAME=bible_transformer_sweep
source benchmarks/lm_common.sh
OPTIMIZERS="adamw pilot lion pilot_frozen"
declare -A GRID=(
  [adamw]="3e-3 1e-3 1e-2 3e-4 3e-2" [pilot]="3e-3 1e-3 1e-2 3e-4 3e-2"
  [pilot_frozen]="3e-3 1e-3 1e-2 3e-4 3e-2" [lion]="3e-4 1e-4 1e-3 3e-5 3e-3"
)
grid() {  # K...: each optimizer at the K-th rates of its grid
  for k in "$@"; do
    for name in $OPTIMIZERS; do
      read -ra rates <<< "${GRID[$name]}"
      train "$name" "${rates[$k]}" 0
    done
  done
}

score() {  # seeds 1-3 at each optimizer's best rate
  declare -A best
  for name in $OPTIMIZERS; do best[$name]=$(tuning best "$name"); done
  for seed in 1 2 3; do
    for name in adamw pilot pilot_frozen; do train "$name" "${best[$name]}" "$seed"; done
  done
  for seed in 1 2 3; do train lion "${best[lion]}" "$seed"; done
}

grid 0 1 2 3
widen $OPTIMIZERS
score
grid 4
widen $OPTIMIZERS
score
report "$OUT"
save "tables and plots"
