# Sourced by the benchmarks/*_run.sh scripts, first thing: `-h`/`--help` prints the script's
# header comment (its documentation) and exits; then strict mode, and the repository's root as
# the working directory.
if [ "${1:-}" = -h ] || [ "${1:-}" = --help ]; then
  sed -n '2,/^[^#]/p' "$0" | sed -n 's/^# \{0,1\}//p'
  exit 0
fi
set -euo pipefail
cd "$(dirname "$0")/.."
