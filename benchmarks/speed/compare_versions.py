"""PILOT's optimizer step at an earlier git revision against the working tree, side by side.

    python -m benchmarks.speed.compare_versions REV [--shapes resnet18_11M] [--dtype float32]
        [--mu-dtype bfloat16] [--reps 11] [--out benchmarks/results/compare_<rev>_<dtype>.json]

The package as it was at REV (`git archive REV pilot_optax`) is imported under another name
beside the current one, and the two steps are timed interleaved with optax.adam, in one process,
by the harness of `benchmarks.speed.timing` (update + apply, params and state donated, the
gradients an argument). This is how a change to the step is measured: as a ratio in one run.
"""

from __future__ import annotations

import argparse
import importlib
import io
import subprocess
import sys
import tarfile
import tempfile
from pathlib import Path

import jax.numpy as jnp
import optax

from benchmarks import records
from benchmarks.speed import timing
from pilot_optax import pilot

PACKAGE = "pilot_optax"


def import_at_revision(rev: str, where: Path):
  """``pilot_optax`` as it was at ``rev``, imported as a module of another name."""
  archive = subprocess.run(["git", "archive", rev, PACKAGE], capture_output=True, check=True).stdout
  alias = f"{PACKAGE}_{rev}".replace("-", "_").replace(".", "_")
  with tarfile.open(fileobj=io.BytesIO(archive)) as tar:
    tar.extractall(where, filter="data")
  (where / PACKAGE).rename(where / alias)
  for source in (where / alias).glob("*.py"):
    source.write_text(source.read_text().replace(PACKAGE, alias))
  sys.path.insert(0, str(where))
  return importlib.import_module(alias)


def main(argv=None):
  parser = argparse.ArgumentParser(
    prog="python -m benchmarks.speed.compare_versions",
    description=__doc__.split("\n\n")[0],
    formatter_class=argparse.ArgumentDefaultsHelpFormatter,
  )
  parser.add_argument("rev", help="git revision to compare with the working tree")
  parser.add_argument(
    "--shapes",
    default="resnet18_11M",
    choices=list(timing.SHAPE_SETS),
    help="parameter shapes of the timed step",
  )
  parser.add_argument(
    "--dtype", default="float32", choices=["float32", "bfloat16"], help="dtype of the parameters"
  )
  parser.add_argument(
    "--mu-dtype",
    default=None,
    choices=["bfloat16"],
    help="dtype of PILOT's first moment; default: the parameters' dtype",
  )
  parser.add_argument(
    "--reps", type=int, default=11, help="interleaved repetitions; medians are reported"
  )
  parser.add_argument(
    "--out",
    type=Path,
    default=None,
    help="JSON of the raw numbers; default: benchmarks/results/compare_<rev>_<dtype>.json",
  )
  args = parser.parse_args(argv)
  dtype = jnp.dtype(args.dtype)
  mu_dtype = None if args.mu_dtype is None else jnp.dtype(args.mu_dtype)

  # "now" is the working tree as imported here: this commit, +dirty if its code had
  # uncommitted changes (read now, not after the timing, while the files may be edited).
  source = records.source_revision()
  with tempfile.TemporaryDirectory() as where:
    old = import_at_revision(args.rev, Path(where))
    makers = {
      f"pilot at {args.rev}": lambda: old.pilot(1e-3, mu_dtype=mu_dtype),
      "pilot now": lambda: pilot(1e-3, mu_dtype=mu_dtype),
      "adam": lambda: optax.adam(1e-3, mu_dtype=mu_dtype),
    }
    runs = timing.optimizer_runs(makers, timing.SHAPE_SETS[args.shapes](), dtype)
    summary = timing.summarise(timing.time_interleaved(runs, args.reps, 3))

  med = summary["median_seconds"]
  now_over_rev = med["pilot now"] / med[f"pilot at {args.rev}"]
  print(f"| {args.shapes}, {args.dtype}, mu_dtype={args.mu_dtype} | step | over adam |")
  print("|---|---|---|")
  for name, sec in med.items():
    print(f"| {name} | {1e3 * sec:.2f} ms | {summary['over_adam'][name]:.2f}× |")
  print(f"pilot now / pilot at {args.rev}: {now_over_rev:.3f}")
  records.write_json(
    args.out or records.results_path(f"compare_{args.rev}_{args.dtype}.json"),
    records.header(records.command_line("benchmarks.speed.compare_versions", argv), source)
    | {"now_over_rev": now_over_rev, **summary},
  )


if __name__ == "__main__":
  main()
