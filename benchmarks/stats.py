"""Paired statistics of final accuracies: each seed's difference, its mean, interval and p-value."""

from __future__ import annotations

import numpy as np

# Below this many paired seeds, only the differences are reported (no interval, no p).
MIN_PAIRED_SEEDS = 3

# Two-sided 95% quantiles of Student's t, by degrees of freedom (1.96 beyond the table).
_T975 = {1: 12.706, 2: 4.303, 3: 3.182, 4: 2.776, 5: 2.571, 6: 2.447, 7: 2.365, 8: 2.306,
         9: 2.262, 10: 2.228, 11: 2.201, 12: 2.179, 13: 2.160, 14: 2.145, 15: 2.131, 16: 2.120,
         17: 2.110, 18: 2.101, 19: 2.093, 20: 2.086, 25: 2.060, 30: 2.042, 40: 2.021, 60: 2.000,
         120: 1.980}  # fmt: skip


def t975(df: int) -> float:
  """The 97.5% quantile of Student's t with ``df`` degrees of freedom (the next smaller tabled df)."""
  return _T975[max(k for k in _T975 if k <= df)] if df <= 120 else 1.960


def sign_flip_p_value(differences) -> float:
  """Exact two-sided p-value of the sign-flip permutation test of a zero mean difference.

  Under the null hypothesis each paired difference is as likely positive as negative: the
  p-value is the share of the 2^n sign patterns whose |mean| is at least the observed one.
  """
  d = np.asarray(differences, np.float64)
  signs = 1 - 2 * ((np.arange(2 ** len(d))[:, None] >> np.arange(len(d))) & 1)
  means = np.abs(signs @ d) / len(d)
  observed = abs(d.mean())
  return float(np.mean(means >= observed - 1e-12 * max(1.0, observed)))


def paired_row(pairs: list[tuple[int, float]]) -> dict:
  """(seed, difference) pairs -> their seeds and differences, and with at least
  MIN_PAIRED_SEEDS of them the mean, the 95% t-interval and the sign-flip p-value."""
  pairs = sorted(pairs)
  d = np.array([x for _, x in pairs], np.float64)
  row = {"seeds": [s for s, _ in pairs], "differences": d.tolist()}
  if len(d) >= MIN_PAIRED_SEEDS:
    half = t975(len(d) - 1) * d.std(ddof=1) / np.sqrt(len(d))
    row |= {
      "mean": float(d.mean()),
      "ci95": [float(d.mean() - half), float(d.mean() + half)],
      "p_value": sign_flip_p_value(d),
    }
  return row


def paired_cells(row: dict) -> list[str]:
  """Markdown cells: mean difference, 95% interval, p (or the differences alone)."""
  if "mean" in row:
    low, high = row["ci95"]
    return [f"{row['mean']:+.2f}", f"[{low:+.2f}, {high:+.2f}]", f"{row['p_value']:.3f}"]
  shown = ", ".join(f"{x:+.2f}" for x in row["differences"]) or "none"
  return [f"{shown} (fewer than {MIN_PAIRED_SEEDS} seeds: no statistics)", "—", "—"]
