"""Learning-rate tuning of a sweep: each optimizer's grid, widened until its best is inside.

Rates lie on the lattice {1, 3} x 10^k (steps of about half a decade). An optimizer's best
rate, on the tuning seed, is the one with the lowest final validation loss; a run whose loss
went non-finite counts as worse than any finite one. When the best is the lowest or the
highest rate tried, the grid is widened by one lattice step on that side, and again, until the
best has a neighbour on each side (so the best is not at an edge of what was tried).

    python -m benchmarks.tuning next DIR --optimizer adamw --seed 0   # a rate to run, or nothing
    python -m benchmarks.tuning best DIR --optimizer adamw --seed 0   # the best rate so far
"""

from __future__ import annotations

import argparse
import json
import math
import sys
from pathlib import Path


def lattice_neighbours(rate: float) -> tuple[float, float]:
  """(the next lower, the next higher) rate of the lattice {1, 3} x 10^k, from a lattice rate."""
  exponent = math.floor(math.log10(rate) + 1e-9)
  mantissa = round(rate / 10**exponent)
  if mantissa not in (1, 3):
    raise ValueError(f"learning rate {rate:g} is not on the lattice {{1, 3}} x 10^k.")
  if mantissa == 1:
    return float(f"3e{exponent - 1}"), float(f"3e{exponent}")
  return float(f"1e{exponent}"), float(f"1e{exponent + 1}")


def comparable(loss: float | None) -> float:
  """A final loss as tuning compares it: a missing or non-finite one as +inf (worse than any)."""
  return loss if loss is not None and math.isfinite(loss) else math.inf


def final_losses(directory: Path, optimizer: str, seed: int) -> dict[float, float]:
  """{peak learning rate: final validation loss} of ``optimizer``'s runs of ``seed`` (non-finite
  losses as +inf)."""
  losses = {}
  for path in sorted(Path(directory).glob("*.json")):
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
  parser.add_argument("directory", help="the sweep's folder of result JSONs")
  parser.add_argument("--optimizer", required=True)
  parser.add_argument("--seed", type=int, default=0, help="the tuning seed")
  args = parser.parse_args(argv)
  losses = final_losses(Path(args.directory), args.optimizer, args.seed)
  if not losses:
    sys.exit(f"error: no results of {args.optimizer} seed {args.seed} in {args.directory}.")
  rate = best(losses) if args.what == "best" else next_rate(losses)
  if rate is not None:
    print(f"{rate:g}")


if __name__ == "__main__":
  main()
