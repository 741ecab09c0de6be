#!/usr/bin/env bash
# Where does PILOT's language-model gain come from? The follow-up of lm_run.sh's sweep, on the same
# workload and protocol (the byte transformer on the World English Bible, 2,000 steps, tuning on
# seed 0 then scoring), reusing the sweep's runs (benchmarks/results/bible_transformer_sweep, read
# only). In the order of what answers the question first:
#   1. NAdamW (optax.nadamw, AdamW's settings): tuned, then seeds 1-3.
#   2. One knob at a time: AdamW with one frozen knob of PILOT switched on (pilot_pm, the QHAdam-like
#      blend; pilot_pv; pilot_ps; benchmarks/optimizers.py): each tuned, then seeds 1-3.
#   3. Seeds 4 and 5 for the finalists: AdamW, NAdamW, PILOT and its frozen policy.
#   4. Weight decay out of the way: AdamW at PILOT's 1e-4, the frozen policy at AdamW's 1e-2, each
#      at its tuned rate, seeds 1-5.
#   5. Time to target on a schedule of its own: the better of AdamW and NAdamW (mean final loss
#      over its scoring seeds) on a 1,600-step schedule (same 5% warm-up), seeds 1-5, in OUT/steps_1600.
# Tuning starts from 3e-3 and 1e-2 (the tuned rates of PILOT and AdamW) and widens half a decade
# at a time (benchmarks.tuning) until the best rate has a tried rate on each side, the sweep's rule.
# The report (benchmarks.lm_report, the sweep's folder and this one) is rewritten after each item.
# Resumable: run it again with the same options. About 50 runs of 11-15 minutes on 2 CPU cores.
# Usage: bash benchmarks/lm_followup_run.sh [--out DIR] [--data DIR] [--commit] [--sweep DIR]
#   --out DIR   where the results go (default results/bible_transformer_followup, a folder of
#               your own); the project's results stay in benchmarks/results/, untouched
#   --data DIR  the SWORD modules (default /usr/share/sword)
#   --commit    the project's own mode, for its maintainers: writes benchmarks/results/, runs the
#               commit recorded there in a git worktree, and commits each finished run
#   --sweep DIR the first sweep, for AdamW's and PILOT's tuned rates (default
#               benchmarks/results/bible_transformer_sweep)
# Nothing is committed without --commit.
source "$(dirname "$0")/run_common.sh"
NAME=bible_transformer_followup
SWEEP=benchmarks/results/bible_transformer_sweep
FOLDER_OPTIONS=sweep
source benchmarks/lm_common.sh
SWEEP=$(cd "$SWEEP" && pwd)
KNOBS="pilot_pm pilot_pv pilot_ps"

best_in_sweep() {  # OPTIMIZER: its tuned rate in the first sweep
  tuning best "$1" "$SWEEP"
}

tune() {  # OPTIMIZER...: 3e-3 and 1e-2, then widened
  for name in "$@"; do train "$name" 3e-3 0; train "$name" 1e-2 0; done
  widen "$@"
}

score() {  # "SEEDS" OPTIMIZER...: each tuned here at its best rate, seed by seed
  local seeds=$1; shift
  for seed in $seeds; do
    for name in "$@"; do train "$name" "$(tuning best "$name")" "$seed"; done
  done
}

mean_final() {  # OPTIMIZER RATE DIR...: its mean final validation loss over seeds >= 1 in DIRs
  python - "$@" <<'PY'
import json, sys
from pathlib import Path
name, rate, folders = sys.argv[1], float(sys.argv[2]), sys.argv[3:]
records = [json.loads(p.read_text()) for f in folders for p in Path(f).glob("*.json")]
losses = [r["final"]["val_loss"] for r in records if isinstance(r, dict)
          and r.get("optimizer") == name and r.get("seed", 0) >= 1
          and r.get("hyperparameters", {}).get("peak_learning_rate") == rate]
print(sum(losses) / len(losses) if losses else float("inf"))
PY
}

# 1. NAdamW
tune nadamw
score "1 2 3" nadamw
report "$SWEEP" "$OUT"; save "report: NAdamW"
# 2. One knob at a time
tune $KNOBS
score "1 2 3" $KNOBS
report "$SWEEP" "$OUT"; save "report: one knob at a time"
# 3. Seeds 4 and 5 for the finalists
ADAMW=$(best_in_sweep adamw); PILOT=$(best_in_sweep pilot); FROZEN=$(best_in_sweep pilot_frozen)
for seed in 4 5; do
  train adamw "$ADAMW" "$seed"; train pilot "$PILOT" "$seed"; train pilot_frozen "$FROZEN" "$seed"
done
score "4 5" nadamw
report "$SWEEP" "$OUT"; save "report: five seeds"
# 4. Weight decay out of the way
for seed in 1 2 3 4 5; do
  train adamw_wd_pilot "$ADAMW" "$seed"; train pilot_frozen_wd_adamw "$FROZEN" "$seed"
done
report "$SWEEP" "$OUT"; save "report: weight decay swapped"
# 5. The better baseline on a 1,600-step schedule of its own
NADAMW=$(tuning best nadamw)
if python -c "import sys; sys.exit(not $(mean_final nadamw "$NADAMW" "$OUT") < $(mean_final adamw "$ADAMW" "$SWEEP" "$OUT"))"; then
  BASE=nadamw RATE=$NADAMW
else
  BASE=adamw RATE=$ADAMW
fi
for seed in 1 2 3 4 5; do train "$BASE" "$RATE" "$seed" "$OUT/steps_1600" --steps 1600; done
report "$SWEEP" "$OUT"; save "report: time to target on a schedule of its own"
