# Sourced by benchmarks/lm_run.sh, lm_followup_run.sh and lm_midpoints_run.sh, after
# run_common.sh: their options, the code that trains, and one training run. Each script names
# its sweep folder in NAME first, and
# in FOLDER_OPTIONS the folders of earlier sweeps it reads ("sweep followup": --sweep DIR sets
# SWEEP, --followup DIR sets FOLLOWUP; each keeps the script's default unless given).
#   --out DIR   where the results go (default: results/NAME, a folder of your own; a sweep
#               already there resumes: finished runs are skipped, stopped ones continue)
#   --data DIR  the SWORD modules (default /usr/share/sword)
#   --commit    the project's own mode, for its maintainers: results go to
#               benchmarks/results/NAME, the code is the commit recorded in OUT/CODE_COMMIT (at
#               the first start, HEAD), checked out in a git worktree (.worktrees/) so that later
#               edits do not change what trains, and every finished run is committed (OUT's files
#               only). Without it nothing is committed and the checkout's own code runs.
ARGS=("$@")
REPO=${LM_REPO:-$(pwd)}
cd "$REPO"
DATA=/usr/share/sword
OUT=results/$NAME
COMMIT=0
while [ $# -gt 0 ]; do
  case $1 in
    --out) OUT=${2:?--out needs a folder}; OUT_GIVEN=1; shift 2 ;;
    --data) DATA=${2:?--data needs a folder}; shift 2 ;;
    --commit) COMMIT=1; shift ;;
    *)
      [[ " ${FOLDER_OPTIONS:-} " = *" ${1#--} "* ]] || { echo "error: unknown option $1 (see --help)" >&2; exit 2; }
      folder=${1#--}; declare "${folder^^}=${2:?$1 needs a folder}"; shift 2 ;;
  esac
done
if [ "$COMMIT" = 1 ]; then
  [ -z "${OUT_GIVEN:-}" ] || { echo "error: --commit writes benchmarks/results/$NAME; drop --out" >&2; exit 2; }
  OUT=benchmarks/results/$NAME
fi
mkdir -p "$OUT"
OUT=$(cd "$OUT" && pwd)
CODE_DIR=$REPO
if [ "$COMMIT" = 1 ]; then
  [ -f "$OUT/CODE_COMMIT" ] || git rev-parse HEAD > "$OUT/CODE_COMMIT"
  CODE=$(cat "$OUT/CODE_COMMIT")
  CODE_DIR=$REPO/.worktrees/lm-${CODE:0:12}
  [ -d "$CODE_DIR" ] || git worktree add --detach "$CODE_DIR" "$CODE"
  # The worktree's own code must be what runs, not an installed or editable copy.
  (cd "$CODE_DIR" && python -c "import benchmarks, pilot_optax, sys; \
    sys.exit(any(not m.__file__.startswith('$CODE_DIR') for m in (benchmarks, pilot_optax)))") \
    || { echo "error: python does not import the worktree's code in $CODE_DIR" >&2; exit 1; }
  # Bash reads a script as it runs it: run the commit's own copy, which no later edit touches.
  SCRIPT=benchmarks/$(basename "$0")
  # (A commit older than this file's has its own script, with other options: not for it.)
  if [ "$(cd "$(dirname "$0")/.." && pwd)" != "$CODE_DIR" ] && [ -f "$CODE_DIR/benchmarks/lm_common.sh" ]; then
    LM_REPO=$REPO exec bash "$CODE_DIR/$SCRIPT" "${ARGS[@]}"
  fi
else
  CODE=$(git rev-parse HEAD 2>/dev/null || echo unknown)
fi
# The step costs the report cites: a script whose optimizers one file lacks names another.
STEP_COSTS=${STEP_COSTS:-benchmarks/results/lm_step_cpu.json}
report() {  # the tables and plots, by the checkout's current code (any failure only reported)
  (cd "$REPO" && python -m benchmarks.lm_report "$@" --step-costs "$STEP_COSTS") \
    || echo "warning: the report failed; the runs go on" >&2
}

echo "$NAME: results in $OUT, code $CODE_DIR ($CODE); commits: $([ "$COMMIT" = 1 ] && echo each run || echo none)"

save() {  # MESSAGE: with --commit, commit OUT's files (results, CODE_COMMIT), nothing else
  [ "$COMMIT" = 1 ] || return 0
  git add -- "$OUT" && git commit -q -m "$NAME ($CODE): $1" -- "$OUT" || true
}

train() {  # OPTIMIZER RATE SEED [FOLDER [EXTRA OPTIONS...]]: one run, 2,000 steps unless told
  local folder=${4:-$OUT}
  (cd "$CODE_DIR" && python -m benchmarks.train --dataset bible --arch transformer \
    --optimizer "$1" --peak-lr "$2" --seeds "$3" --steps 2000 --eval-every 100 \
    --data-dir "$DATA" --out "$folder" --resume "${@:5}")
  save "$1 at $2, seed $3${5:+ (${*:5})}"
}

tuning() {  # next|best OPTIMIZER [FOLDER...]: over OUT unless told
  local what=$1 name=$2; shift 2
  [ $# -gt 0 ] || set -- "$OUT"
  (cd "$CODE_DIR" && python -m benchmarks.tuning "$what" "$@" --optimizer "$name" --seed 0)
}

widen() {  # OPTIMIZER...: until each one's best rate has a tried rate on each side
  for name in "$@"; do
    while rate=$(tuning next "$name") && [ -n "$rate" ]; do
      train "$name" "$rate" 0
    done
  done
}
