#!/usr/bin/env bash
# Does PILOT help a language model? The sweep of benchmarks/README.md ("Does PILOT help a language
# model?"): the byte transformer (0.88M parameters, context 128) on the World English Bible,
# 2,000 steps of batch 32 (8.2M bytes, 1.8 passes over the training books), evaluated every 100
# steps; pilot, pilot_frozen, adamw and lion.
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
# One commit's code for the whole sweep: the first start records HEAD in OUT/CODE_COMMIT, and
# every start runs that commit, checked out in a git worktree (.worktrees/), so that later edits
# of the checkout do not change the code that trains. Every finished run is committed at once
# (only OUT's files; LM_COMMIT=0: not at all). Resumable: a finished run is skipped, a stopped one
# continues from its last evaluation's checkpoint; run the script again (in a later session too).
# On these 2 CPU cores: 11-15 minutes a run (0.27 s a step, evaluations, checkpoints), 32 runs:
# seven hours or so, over more than one session.
# Usage: bash benchmarks/lm_run.sh [DATA_DIR]   (default /usr/share/sword)
source "$(dirname "$0")/run_common.sh"
DATA=${1:-/usr/share/sword}
REPO=$(pwd)
OUT=benchmarks/results/bible_transformer_sweep
OPTIMIZERS="adamw pilot lion pilot_frozen"
declare -A GRID=(
  [adamw]="3e-3 1e-3 1e-2 3e-4 3e-2" [pilot]="3e-3 1e-3 1e-2 3e-4 3e-2"
  [pilot_frozen]="3e-3 1e-3 1e-2 3e-4 3e-2" [lion]="3e-4 1e-4 1e-3 3e-5 3e-3"
)
mkdir -p "$OUT"
[ -f "$OUT/CODE_COMMIT" ] || git rev-parse HEAD > "$OUT/CODE_COMMIT"
CODE=$(cat "$OUT/CODE_COMMIT")
WORKTREE=$REPO/.worktrees/lm-${CODE:0:12}
[ -d "$WORKTREE" ] || git worktree add --detach "$WORKTREE" "$CODE"
# The worktree's own code must be what runs, not an installed or editable copy.
(cd "$WORKTREE" && python -c "import benchmarks, pilot_optax, sys; \
  sys.exit(any(not m.__file__.startswith('$WORKTREE') for m in (benchmarks, pilot_optax)))") \
  || { echo "error: python does not import the worktree's code in $WORKTREE" >&2; exit 1; }

save() {  # commit OUT's files (results, CODE_COMMIT), nothing else
  [ "${LM_COMMIT:-1}" = 1 ] || return 0
  git add -- "$OUT" && git commit -q -m "LM sweep ($CODE): $1" -- "$OUT" || true
}

train() {  # OPTIMIZER RATE SEED
  (cd "$WORKTREE" && python -m benchmarks.train --dataset bible --arch transformer \
    --optimizer "$1" --peak-lr "$2" --seeds "$3" --steps 2000 --eval-every 100 \
    --data-dir "$DATA" --out "$REPO/$OUT" --resume)
  save "$1 at $2, seed $3"
}

tuning() {  # next|best OPTIMIZER
  (cd "$WORKTREE" && python -m benchmarks.tuning "$1" "$REPO/$OUT" --optimizer "$2" --seed 0)
}

grid() {  # K...: each optimizer at the K-th rates of its grid
  for k in "$@"; do
    for name in $OPTIMIZERS; do
      read -ra rates <<< "${GRID[$name]}"
      train "$name" "${rates[$k]}" 0
    done
  done
}

widen() {  # until each optimizer's best rate has a tried rate on each side
  for name in $OPTIMIZERS; do
    while rate=$(tuning next "$name") && [ -n "$rate" ]; do
      train "$name" "$rate" 0
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
widen
score
grid 4
widen
score
python -m benchmarks.lm_report "$OUT" --step-costs benchmarks/results/lm_step_cpu.json
save "tables and plots"
