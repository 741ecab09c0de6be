"""The pictures of `benchmarks.lm_report`: validation curves at the tuned rates, the loss against
the learning rate, PILOT's policy over training, the final loss by optimizer."""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np

from benchmarks.colours import LINE_STYLES, MARKERS, PALETTE
from benchmarks.lm_report import finals
from benchmarks.optimizers import LABELS, listing_order
from benchmarks.table import LEARNED_VS_FROZEN, POLICY_FIELDS


def _pyplot():
  import matplotlib

  matplotlib.use("Agg")
  import matplotlib.pyplot as plt

  return plt


def _style(name: str) -> dict:
  """One colour and line style per optimizer, the same in every picture: by registry order,
  the styles shifted once the colours repeat, so that no two of the registry share both."""
  k, n = listing_order(name), len(PALETTE)
  return dict(color=PALETTE[k % n], ls=LINE_STYLES[(k + k // n) % len(LINE_STYLES)])


def final_values(tunings: dict) -> dict:
  """Each optimizer's final losses at its tuned rate, one per scoring seed (`lm_report.finals`)."""
  return {name: list(finals(tunings, name).values()) for name in tunings}


def far_from_best(analysis: dict, values: dict, off_scale: float = 0.25) -> dict:
  """The optimizers whose mean final loss is more than ``off_scale`` above the best baseline's:
  the pictures name them instead of stretching their axes to them."""
  best = float(np.mean(values[analysis["best_baseline"]]))
  return {n: float(np.mean(v)) for n, v in values.items() if np.mean(v) > best + off_scale}


def _marker(name: str) -> str:
  """Where colours repeat (past the palette's length in registry order), the marker differs."""
  return MARKERS[listing_order(name) // len(PALETTE) % len(MARKERS)]


def curves_figure(analysis: dict, tunings: dict):
  """Validation loss against the position, each optimizer at its tuned rate; seeds thin, mean
  thick. The zoomed half spans the final losses of all but the optimizers far above the best."""
  plt = _pyplot()
  position, metric = analysis["position"], analysis["metric"]
  fig, axes = plt.subplots(1, 2, figsize=(12, 4.4))
  values = final_values(tunings)
  far = far_from_best(analysis, values)
  for name, t in tunings.items():
    runs = list(t["scoring"].values())
    xs = [e[position] for e in runs[0]["history"]]
    curves = np.array(
      [[e[metric] for e in r["history"]] for r in runs if len(r["history"]) == len(xs)]
    )
    unscored = ", tuning seed only" if t["scored_on_tuning_seed"] else ""
    label = f"{LABELS.get(name, name)} (lr {t['best']:g}{unscored})"
    for ax in axes:
      for curve in curves:
        ax.plot(xs, curve, lw=0.7, alpha=0.45, **_style(name))
      ax.plot(xs, curves.mean(0), lw=2.0, label=label, **_style(name))
  for ax in axes:
    ax.set(xlabel=position, ylabel=f"validation {metric.removeprefix('val_')}")
    ax.grid(alpha=0.3)
  start = len(xs) // 2
  axes[1].set_xlim(xs[start], xs[-1])
  near = [v for n, finals in values.items() if n not in far for v in finals]
  low, high = min(near), max(near)
  axes[1].set_ylim(low - 0.02 * max(high - low, 0.05), high + 0.6 * max(high - low, 0.05))
  axes[0].set_title("whole run (thin: seeds; thick: their mean)", fontsize=10)
  above = ", ".join(f"{LABELS.get(n, n)} ({m:.3f})" for n, m in far.items())
  axes[1].set_title("second half, zoomed on the final losses"
                    + (f"; above it: {above}" if far else ""), fontsize=10)  # fmt: skip
  axes[0].legend(fontsize=8)
  fig.tight_layout()
  return fig


def _draw_sensitivity(ax, analysis: dict, top: float, mark_off_scale: bool) -> None:
  """Each optimizer's final loss on the tuning seed against the rate, on ``ax``; ★ its tuned
  rate. With ``mark_off_scale``, a loss above ``top`` (or diverged) is drawn on the top edge as
  ▲ with its value; without, the line leaves the panel."""
  for k, (name, row) in enumerate(analysis["sensitivity"].items()):
    colour = _style(name)["color"]
    rates, losses = [float(lr) for lr in row], list(row.values())
    shown = [min(v, top) if math.isfinite(v) else top for v in losses] if mark_off_scale else losses
    ax.plot(rates, shown, marker="o", ms=4, label=LABELS.get(name, name), **_style(name))
    best = analysis["final"][name]["rate"]
    ax.plot(best, row[f"{best:g}"], "*", ms=13, mec="black", mew=0.5, color=colour)
    for lr, v in zip(rates, losses, strict=True):
      if mark_off_scale and not v <= top:
        ax.plot(lr, top, "^", ms=8, color=colour)
        text = f"{v:.2f}" if math.isfinite(v) else "diverged"
        ax.annotate(text, (lr, top), textcoords="offset points", xytext=(4, -12 - 9 * k),
                    fontsize=7, color=colour)  # fmt: skip


def _rate_axis(ax, rates: list[float], apart: float = 10**0.1) -> None:
  """A log axis with a tick at each of ``rates``, labelled as written (1e-2 as 0.01), except a
  rate within a factor ``apart`` of one labelled before it (their labels would overlap)."""
  from matplotlib.ticker import FixedLocator, FuncFormatter, NullFormatter

  labelled = []
  for rate in sorted(rates):
    if not labelled or rate >= labelled[-1] * apart:
      labelled.append(rate)
  ax.set_xscale("log")
  ax.xaxis.set_major_locator(FixedLocator(labelled))
  ax.xaxis.set_minor_locator(FixedLocator(sorted(set(rates) - set(labelled))))
  ax.xaxis.set_major_formatter(FuncFormatter(lambda x, _: f"{x:g}"))
  ax.xaxis.set_minor_formatter(NullFormatter())


def sensitivity_figure(analysis: dict, zoom: float = 0.1):
  """Final validation loss on the tuning seed against the peak rate (log axis); ★ the tuned rate.

  Left, every rate tried, labelled on the grid's rates {1, 3} x 10^k: the axis stops at half
  again the lowest loss, a rate above it drawn on the top edge as ▲ with its value. Right, a
  zoom on the tuned rates (each within half a decade, every rate tried labelled) and on losses
  within ``zoom`` of the lowest: there the finer tuning's midpoints show at their true size."""
  plt = _pyplot()
  from benchmarks.tuning import on_lattice

  fig, (whole, near) = plt.subplots(1, 2, figsize=(13, 4.6), width_ratios=(1.2, 1))
  rows = analysis["sensitivity"]
  low = min(v for row in rows.values() for v in row.values() if math.isfinite(v))
  top = low + max(0.5 * low, 0.05)
  _draw_sensitivity(whole, analysis, top, mark_off_scale=True)
  _draw_sensitivity(near, analysis, top, mark_off_scale=False)
  rates = {float(lr) for row in rows.values() for lr in row}
  _rate_axis(whole, [r for r in rates if on_lattice(r)])
  tuned = [analysis["final"][name]["rate"] for name, row in rows.items()
           if row[f"{analysis['final'][name]['rate']:g}"] <= low + zoom]  # fmt: skip
  left, right = min(tuned) / 10**0.55, max(tuned) * 10**0.55
  _rate_axis(near, [r for r in rates if left <= r <= right])
  near.set_xlim(left, right)
  whole.set_ylim(low - 0.05 * (top - low), top + 0.05 * (top - low))
  near.set_ylim(low - 0.1 * zoom, low + zoom)
  metric = analysis["metric"].removeprefix("val_")
  for ax in (whole, near):
    ax.set(xlabel="peak learning rate (log scale)",
           ylabel=f"final validation {metric}, seed {analysis['tuning_seed']}")  # fmt: skip
    ax.grid(alpha=0.3)
  whole.set_title("learning-rate sensitivity (★: the tuned rate; ▲: off the scale)", fontsize=10)
  near.set_title(f"zoomed: the tuned rates, losses within {zoom:g} of the lowest", fontsize=10)
  whole.legend(fontsize=8)
  fig.tight_layout()
  return fig


def policy_figure(tunings: dict):
  """ρ and the knobs over training (the report's policy picture), or None when no run recorded a policy.

  Each panel spans its knob's whole range (ρ in [-1, 1], p_m and p_s in [0, 1], p_v in [0, ½]),
  so that knobs that barely move look as still as they are; its title says how far they moved.
  """
  with_policy = {
    n: t for n, t in tunings.items()
    if n in LEARNED_VS_FROZEN and any(r.get("policy") for r in t["scoring"].values())
  }  # fmt: skip
  if not with_policy:
    return None
  plt = _pyplot()
  fig, axes = plt.subplots(1, len(POLICY_FIELDS), figsize=(15, 3.6))
  moved = dict.fromkeys((knob for knob, _, _ in POLICY_FIELDS), 0.0)
  for name, t in with_policy.items():
    for seed, run in sorted(t["scoring"].items()):
      steps = [p["step"] for p in run["policy"]]
      for ax, (knob, _, _) in zip(axes, POLICY_FIELDS, strict=True):
        values = [p[knob] for p in run["policy"]]
        moved[knob] = max(moved[knob], max(values) - min(values))
        label = f"{LABELS.get(name, name)}" if seed == min(t["scoring"]) else None
        ax.plot(steps, values, lw=0.9, alpha=0.8, label=label, **_style(name))
  for ax, (knob, label, whole_range) in zip(axes, POLICY_FIELDS, strict=True):
    ax.set(title=f"{label}: moves by at most {moved[knob]:.3f}", xlabel="step", ylim=whole_range)
    ax.title.set_fontsize(10)
    ax.grid(alpha=0.3)
  axes[0].axhline(0, color="grey", lw=0.6)
  axes[0].legend(fontsize=8)
  fig.suptitle("PILOT's policy at its tuned rate, each knob on its whole range", fontsize=11)
  fig.tight_layout()
  return fig


def _save(fig, path: Path) -> Path | None:
  """Writes ``fig`` to ``path`` and frees it; None, writing nothing, when there is no figure."""
  if fig is None:
    return None
  fig.savefig(path, dpi=120)
  _pyplot().close(fig)
  return path


def finals_figure(analysis: dict, tunings: dict, off_scale: float = 0.25):
  """Final loss by optimizer at its tuned rate, each scoring seed a point, the mean a bar; a
  dashed line at the best baseline's mean. Optimizers more than ``off_scale`` above the best
  mean are named in the title instead, so that the axis shows the differences at their size."""
  plt = _pyplot()
  metric = analysis["metric"]
  values = final_values(tunings)
  best = float(np.mean(values[analysis["best_baseline"]]))
  far = far_from_best(analysis, values, off_scale)
  shown = [n for n in values if n not in far]
  unscored = {n for n in shown if tunings[n]["scored_on_tuning_seed"]}
  fig, ax = plt.subplots(figsize=(1.3 * len(shown) + 2.5, 4.4))
  for k, name in enumerate(shown):
    v, colour = values[name], _style(name)["color"]
    # Not yet scored: its one point is the tuning seed's, drawn hollow (it chose the rate).
    face = "white" if name in unscored else colour
    xs = k + np.linspace(-0.12, 0.12, len(v))
    ax.plot(xs, v, _marker(name), ms=5, alpha=0.8, color=colour, mfc=face, ls="")
    ax.plot([k - 0.25, k + 0.25], [np.mean(v)] * 2, lw=2.2, color=colour)
  ax.axhline(
    best, ls="--", lw=1, color="0.4", label=f"{LABELS.get(analysis['best_baseline'])} mean"
  )
  only_tuned = {n: "\ntuning seed only" if n in unscored else "" for n in shown}
  ticks = [f"{LABELS.get(n, n)}\nlr {tunings[n]['best']:g}{only_tuned[n]}" for n in shown]
  ax.set_xticks(range(len(shown)), ticks, fontsize=8)
  ax.set_ylabel(f"final validation {metric.removeprefix('val_')} (lower is better)")
  title = "each optimizer at its tuned rate: scoring seeds as points, their mean as a bar"
  if unscored:
    title += "\n(hollow: not yet scored, the tuning seed's run)"
  if far:
    title += "\noff the scale: " + ", ".join(
      f"{LABELS.get(n, n)} {mean:.3f}" for n, mean in far.items()
    )
  ax.set_title(title, fontsize=9)
  ax.grid(alpha=0.3, axis="y")
  ax.legend(fontsize=8, loc="best")  # not over a point
  fig.tight_layout()
  return fig


def plot_all(analysis: dict, tunings: dict, directory: Path) -> list[Path]:
  some = next(iter(next(iter(tunings.values()))["scoring"].values()))
  stem = f"{some['dataset']}_{some['arch']}"
  written = [
    _save(curves_figure(analysis, tunings), directory / f"{stem}_tuned_curves.png"),
    _save(sensitivity_figure(analysis), directory / f"{stem}_lr_sensitivity.png"),
    _save(policy_figure(tunings), directory / f"{stem}_tuned_policy.png"),
    _save(finals_figure(analysis, tunings), directory / f"{stem}_final_by_optimizer.png"),
  ]
  return [p for p in written if p is not None]
