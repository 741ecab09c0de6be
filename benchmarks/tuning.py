"""Learning-rate tuning of a sweep: each optimizer's grid, widened until its best is inside.

Rates lie on the lattice {1, 3} x 10^k (steps of about half a decade). An optimizer's best
rate, on the tuning seed, is the one with the lowest final validation loss; a run whose loss
went non-finite counts as worse than any finite one. When the best is the lowest or the
highest rate tried, the grid is widened by one lattice step on that side, and again, until the
best has a neighbour on each side (so the best is not at an edge of what was tried). A rate
off the lattice (a midpoint, 10^(1/4) from a lattice rate) is compared like the others; its
neighbours are the lattice rates on either side of it.

    python -m benchmarks.tuning next DIR --optimizer adamw --seed 0   # a rate to run, or nothing
    python -m benchmarks.tuning best DIR --optimizer adamw --seed 0   # the best rate so far
    python -m benchmarks.tuning best DIR1 DIR2 --optimizer adamw      # over several folders
"""

from __future__ import annotations

import argparse
import json
import math
import sys
from pathlib import Path


def lattice_neighbours(rate: float) -> tuple[float, float]:
  """(the next lower, the next higher) rate of the lattice {1, 3} x 10^k than ``rate`` (> 0)."""
  if not (math.isfinite(rate) and rate > 0):
    raise ValueError(f"learning rate must be a finite number > 0, got {rate!r}.")
  exponent = math.floor(math.log10(rate))
  lattice = [float(f"{m}e{k}") for k in range(exponent - 1, exponent + 2) for m in (1, 3)]
  lower = max(r for r in lattice if r < rate and not math.isclose(r, rate))
  higher = min(r for r in lattice if r > rate and not math.isclose(r, rate))
  return lower, higher


def on_lattice(rate: float) -> bool:
  """Whether ``rate`` is one of {1, 3} x 10^k (a midpoint is not)."""
  exponent = math.floor(math.log10(rate) + 1e-9)
  return any(math.isclose(rate, float(f"{m}e{exponent}")) for m in (1, 3))


def comparable(loss: float | None) -> float:
  """A final loss as tuning compares it: a missing or non-finite one as +inf (worse than any)."""
  return loss if loss is not None and math.isfinite(loss) else math.inf


def final_losses(directories, optimizer: str, seed: int) -> dict[float, float]:
  """{peak learning rate: final validation loss} of ``optimizer``'s runs of ``seed`` in a folder
  or a list of folders (non-finite losses as +inf)."""
  folders = [directories] if isinstance(directories, (str, Path)) else directories
  losses = {}
  for path in sorted(p for folder in folders for p in Path(folder).glob("*.json")):
    record = json.loads(path.read_text())
    if not isinstance(record, dict) or record.get("optimizer") != optimizer:
      continue
    if record.get("seed") != seed or "final" not in record:
      continue
    rate = float(record["hyperparameters"]["peak_learning_rate"])
    losses[rate] = comparable(record["final"].get("val_loss"))
  return losses


def best(losses: dict[float, float]) -> float:
  """The rate of the lowest loss (the lower rate on a tie)."""
  if not losses:
    raise ValueError("no runs to choose a learning rate from.")
  return min(sorted(losses), key=lambda rate: losses[rate])


def next_rate(losses: dict[float, float]) -> float | None:
  """The rate to try next so that the best has a tried neighbour on each side; None when it has."""
  chosen = best(losses)
  lower, higher = lattice_neighbours(chosen)
  if not any(math.isclose(r, lower) for r in losses):
    return lower
  if not any(math.isclose(r, higher) for r in losses):
    return higher
  return None


def main(argv=None) -> None:
  parser = argparse.ArgumentParser(prog="python -m benchmarks.tuning", description=__doc__)
  parser.add_argument("what", choices=["next", "best"], help="the next rate to run, or the best")
  parser.add_argument("directories", nargs="+", help="the sweep's folders of result JSONs")
  parser.add_argument("--optimizer", required=True)
  parser.add_argument("--seed", type=int, default=0, help="the tuning seed")
  args = parser.parse_args(argv)
  losses = final_losses(args.directories, args.optimizer, args.seed)
  if not losses:
    where = ", ".join(args.directories)
    sys.exit(f"error: no results of {args.optimizer} seed {args.seed} in {where}.")
  rate = best(losses) if args.what == "best" else next_rate(losses)
  if rate is not None:
    print(f"{rate:g}")


if __name__ == "__main__":
  main()
