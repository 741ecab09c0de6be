#!/usr/bin/env bash
# Were the baselines tuned finely enough? The language-model follow-up's item 6, after
# lm_followup_run.sh, on the same workload and protocol (tuning on seed 0, then scoring), reusing
# the runs of the sweep and of the follow-up (read only):
#   1. Midpoints: each finalist (AdamW, NAdamW, PILOT's frozen policy, PILOT) on the tuning seed
#      at its tuned rate × 10^(±1/4), between the grid's rates half a decade apart.
#   2. AdamW with b2 = 0.95 (adamw_b2_095), common for language models: tuned from 3e-3 and 1e-2,
#      widened like the others (benchmarks.tuning).
#   3. Scoring, seeds 1-5: a finalist whose best rate on the tuning seed is now a midpoint, at
#      that midpoint; adamw_b2_095 at its tuned rate. A finalist whose best stays on the grid is
#      already scored there (the sweep's seeds 1-3, the follow-up's 4-5): nothing more runs.
# The report (benchmarks.lm_report over the three folders) is rewritten after each item.
# Resumable: run it again with the same options. 10-30 runs of 11-15 minutes on 2 CPU cores.
# Usage: bash benchmarks/lm_midpoints_run.sh [--out DIR] [--data DIR] [--commit] [--sweep DIR]
#                                            [--followup DIR]
#   --out DIR       where the results go (default results/bible_transformer_midpoints, a folder
#                   of your own); the project's results stay in benchmarks/results/, untouched
#   --data DIR      the SWORD modules (default /usr/share/sword)
#   --commit        the project's own mode, for its maintainers: writes benchmarks/results/, runs
#                   the commit recorded there in a git worktree, and commits each finished run
#   --sweep DIR     the first sweep (default benchmarks/results/bible_transformer_sweep)
#   --followup DIR  the follow-up (default benchmarks/results/bible_transformer_followup)
# Nothing is committed without --commit.
source "$(dirname "$0")/run_common.sh"
NAME=bible_transformer_midpoints
SWEEP=benchmarks/results/bible_transformer_sweep
FOLLOWUP=benchmarks/results/bible_transformer_followup
FOLDER_OPTIONS="sweep followup"
# lm_step_cpu.json, which the other reports cite, was measured before adamw_b2_095 existed.
STEP_COSTS=benchmarks/results/lm_step_cpu_repeat.json
source benchmarks/lm_common.sh
SWEEP=$(cd "$SWEEP" && pwd)
FOLLOWUP=$(cd "$FOLLOWUP" && pwd)
FINALISTS="adamw nadamw pilot_frozen pilot"

quarter_decade() {  # RATE SIGN: RATE × 10^(SIGN/4), to three significant digits
  python -c "import sys; print(f'{float(sys.argv[1]) * 10 ** (int(sys.argv[2]) / 4):.3g}')" "$1" "$2"
}

is_midpoint() {  # RATE: whether it lies off the grid's lattice {1, 3} × 10^k
  (cd "$CODE_DIR" && python -c "import sys; from benchmarks.tuning import on_lattice; \
    sys.exit(on_lattice(float(sys.argv[1])))" "$1")
}

# 1. Midpoints on the tuning seed, around each finalist's grid best
for name in $FINALISTS; do
  grid_best=$(tuning best "$name" "$([ "$name" = nadamw ] && echo "$FOLLOWUP" || echo "$SWEEP")")
  train "$name" "$(quarter_decade "$grid_best" -1)" 0
  train "$name" "$(quarter_decade "$grid_best" 1)" 0
done
report "$SWEEP" "$FOLLOWUP" "$OUT"; save "report: midpoints on the tuning seed"
# 2. AdamW with b2 = 0.95, tuned
train adamw_b2_095 3e-3 0; train adamw_b2_095 1e-2 0
widen adamw_b2_095
report "$SWEEP" "$FOLLOWUP" "$OUT"; save "report: AdamW with b2 0.95 tuned"
# 3. Scoring where the tuning moved, and AdamW with b2 = 0.95: the rates decided once, from the
# tuning seed's runs, which scoring does not change
TO_SCORE=()
for name in $FINALISTS; do
  rate=$(tuning best "$name" "$SWEEP" "$FOLLOWUP" "$OUT")
  if is_midpoint "$rate"; then TO_SCORE+=("$name $rate"); fi
done
TO_SCORE+=("adamw_b2_095 $(tuning best adamw_b2_095)")
for seed in 1 2 3 4 5; do
  for run in "${TO_SCORE[@]}"; do
    read -r name rate <<< "$run"; train "$name" "$rate" "$seed"
  done
done
report "$SWEEP" "$FOLLOWUP" "$OUT"; save "report: midpoints and b2 0.95 scored"
