"""Time to a target: the first evaluation at which a run's validation loss reaches a fixed value.

After AlgoPerf (Dahl et al. 2023, arXiv:2306.07179): an optimizer is scored by how soon it
reaches a validation target that a tuned baseline reaches, the optimizer's own cost included
(wall seconds), not by its loss at an arbitrary step.

- :func:`first_reaching`: a run's first evaluation whose loss is at or below the target (its
  step or epoch, and the training seconds up to and including it), or how far it missed;
- :func:`speedup`: the baseline's steps over an optimizer's, paired by seed, with the geometric
  mean and a 95% t-interval of the per-seed log ratios (both runs of a seed must reach it).

A history is a run's list of evaluations (``benchmarks.train``'s ``history``): each has the
round's position (``step`` or ``epoch``), the validation loss and the round's training seconds.
"""

from __future__ import annotations

import math

import numpy as np

from benchmarks.stats import MIN_PAIRED_SEEDS, t975


def first_reaching(history: list[dict], target: float, position: str, loss: str = "val_loss"):
  """{position, seconds} of the first entry with ``loss`` <= ``target``; else {missed_by}.

  ``seconds``: the training time of every round up to and including that one (evaluations not
  counted). ``missed_by``: the best loss of the run minus the target (> 0).
  """
  seconds = 0.0
  for entry in history:
    seconds += entry["seconds"]
    value = entry[loss]
    if value is not None and math.isfinite(value) and value <= target:
      return {position: entry[position], "seconds": seconds}
  finite = [e[loss] for e in history if e[loss] is not None and math.isfinite(e[loss])]
  return {"missed_by": (min(finite) - target) if finite else math.inf}


def loss_at(history: list[dict], position: str, where: int, loss: str = "val_loss") -> float:
  """The loss of the entry at ``position`` == ``where`` (a KeyError-free lookup: NaN if absent)."""
  for entry in history:
    if entry[position] == where:
      return entry[loss]
  return math.nan


def speedup(baseline: dict[int, dict], other: dict[int, dict], position: str) -> dict:
  """Baseline's position over the other's at the target, seed by seed.

  ``baseline``, ``other``: {seed: :func:`first_reaching` result}. Returns the per-seed ratios
  (seeds where both reached it), and with at least MIN_PAIRED_SEEDS of them the geometric mean
  and its 95% interval (t on the log ratios); ``unreached``: seeds where either did not.
  """
  seeds = sorted(set(baseline) & set(other))
  reached = [s for s in seeds if position in baseline[s] and position in other[s]]
  ratios = [baseline[s][position] / other[s][position] for s in reached]
  row = {"seeds": reached, "ratios": ratios, "unreached": [s for s in seeds if s not in reached]}
  if len(ratios) >= MIN_PAIRED_SEEDS:
    logs = np.log(ratios)
    half = t975(len(logs) - 1) * logs.std(ddof=1) / math.sqrt(len(logs))
    row |= {
      "geometric_mean": float(math.exp(logs.mean())),
      "ci95": [float(math.exp(logs.mean() - half)), float(math.exp(logs.mean() + half))],
    }
  return row
