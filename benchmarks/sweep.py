"""A learning-rate sweep's tables and plot: is PILOT ahead when every optimizer's rate is tuned?

``benchmarks.table`` calls this when one folder holds an optimizer at several peak learning
rates (``benchmarks.train --peak-lr 3e-4,1e-3,...``):

- the **sensitivity table**: final validation accuracy, mean ± std over seeds, per optimizer
  (rows) and peak learning rate (columns), each optimizer's best rate and its **good range**
  (the rates whose mean lies within ``GOOD_RANGE_POINTS`` of its best);
- **PILOT − Adam, paired by seed, at every rate** (and PILOT's learned − frozen policy);
- the same **at each optimizer's own best rate**. The best is chosen on the split that is
  reported (the test split, as in the paper's protocol): that flatters every optimizer alike,
  and a difference between two flattered numbers is still optimistic about neither;
- the same with each rate **chosen without the seed it is scored on** (leave one seed out):
  seed s is scored at the rate whose mean over the *other* seeds is best, so a seed's own
  luck cannot pick the rate that is then reported for it (nested, as a tuner would do);
- a plot of accuracy against the learning rate (log axis), a line per optimizer, its seeds
  as dots.
"""

from __future__ import annotations

from collections import defaultdict
from pathlib import Path

import numpy as np

from benchmarks.optimizers import listing_order
from benchmarks.stats import paired_cells, paired_row

GOOD_RANGE_POINTS = 0.5
ZOOM_POINTS = 3.0  # the plot's second panel: accuracies within this of the best
# (minuend, subtrahend): the differences reported at every rate and at the best rates.
COMPARISONS = (("pilot", "adam"), ("pilot_frozen", "adam"), ("pilot", "pilot_frozen"))


def peak_lr(record: dict) -> float | None:
  """The run's peak learning rate (None in results that do not record it)."""
  value = record["hyperparameters"].get("peak_learning_rate")
  return None if value is None else float(value)


def is_sweep(records: list[dict]) -> bool:
  """Whether some optimizer of some (dataset, arch) ran at more than one peak learning rate."""
  rates = defaultdict(set)
  for r in records:
    rates[(r["dataset"], r["arch"], r["optimizer"])].add(peak_lr(r))
  return any(len(v - {None}) > 1 for v in rates.values())


def cells(records: list[dict]) -> dict:
  """{(dataset, arch): {optimizer: {lr: {seed: accuracy in %}}}}."""
  out = defaultdict(lambda: defaultdict(lambda: defaultdict(dict)))
  for r in records:
    out[(r["dataset"], r["arch"])][r["optimizer"]][peak_lr(r)][r["seed"]] = (
      100 * r["final"]["val_accuracy"]
    )
  return out


def _mean(by_seed: dict) -> float:
  return float(np.mean(list(by_seed.values())))


def best_rate(by_lr: dict) -> float:
  """The rate with the highest mean accuracy (the smaller rate on a tie)."""
  return max(sorted(by_lr), key=lambda lr: _mean(by_lr[lr]))


def good_range(by_lr: dict, points: float = GOOD_RANGE_POINTS) -> dict:
  """The rates whose mean is within ``points`` of the best, and their span in decades."""
  best = _mean(by_lr[best_rate(by_lr)])
  good = sorted(lr for lr, seeds in by_lr.items() if _mean(seeds) >= best - points)
  return {"rates": good, "decades": float(np.log10(good[-1] / good[0]))}


def _pair(a: dict, b: dict) -> dict:
  return paired_row([(s, a[s] - b[s]) for s in sorted(set(a) & set(b))])


def best_rate_without(by_lr: dict, seed: int) -> float | None:
  """The best rate by the mean over every seed but ``seed`` (None when no other seed ran)."""
  others = {lr: {s: v for s, v in by_seed.items() if s != seed} for lr, by_seed in by_lr.items()}
  others = {lr: by_seed for lr, by_seed in others.items() if by_seed}
  return best_rate(others) if others else None


def held_out_pair(a: dict, b: dict) -> dict:
  """a − b on each seed, each optimizer at its best rate chosen on the other seeds.

  ``a``, ``b``: {lr: {seed: accuracy}}. Adds ``rates``: {"seed": [a's rate, b's rate]}.
  """
  pairs, rates = [], {}
  for seed in sorted({s for by_seed in a.values() for s in by_seed}):
    lr_a, lr_b = best_rate_without(a, seed), best_rate_without(b, seed)
    if lr_a is None or lr_b is None or seed not in a[lr_a] or seed not in b.get(lr_b, {}):
      continue
    pairs.append((seed, a[lr_a][seed] - b[lr_b][seed]))
    rates[str(seed)] = [lr_a, lr_b]  # a JSON key
  return {"rates": rates, **paired_row(pairs)}


def analyse(records: list[dict]) -> dict:
  """Everything the sweep's tables and plot show, JSON-able (rates as strings)."""
  result = {}
  for (dataset, arch), unordered in cells(records).items():
    by_opt = {o: unordered[o] for o in sorted(unordered, key=listing_order)}
    rates = sorted({lr for by_lr in by_opt.values() for lr in by_lr})
    entry = {
      "rates": rates,
      "optimizers": {},
      "at_each_rate": {},
      "at_best_rates": {},
      "held_out_best": {},
    }
    for opt, by_lr in by_opt.items():
      entry["optimizers"][opt] = {
        "accuracy": {
          f"{lr:g}": {
            "seeds": sorted(by_lr[lr]),
            "values": [by_lr[lr][s] for s in sorted(by_lr[lr])],
            "mean": _mean(by_lr[lr]),
            "std": float(np.std(list(by_lr[lr].values()), ddof=1)) if len(by_lr[lr]) > 1 else None,
          }
          for lr in sorted(by_lr)
        },
        "best_rate": best_rate(by_lr),
        "good_range": good_range(by_lr),
      }
    for a, b in COMPARISONS:
      if a not in by_opt or b not in by_opt:
        continue
      key = f"{a} - {b}"
      entry["at_each_rate"][key] = {
        f"{lr:g}": _pair(by_opt[a][lr], by_opt[b][lr])
        for lr in rates
        if lr in by_opt[a] and lr in by_opt[b]
      }
      best_a, best_b = best_rate(by_opt[a]), best_rate(by_opt[b])
      entry["at_best_rates"][key] = {
        "rates": [best_a, best_b],
        **_pair(by_opt[a][best_a], by_opt[b][best_b]),
      }
      entry["held_out_best"][key] = held_out_pair(by_opt[a], by_opt[b])
    result[f"{dataset}/{arch}"] = entry
  return result


def _rates_markdown(entry: dict, names: dict) -> list[str]:
  """The table of accuracy by rate, with each optimizer's best rate and good range."""
  rates = entry["rates"]
  lines = [
    "Final validation accuracy (%), mean ± std over seeds (n); the best rate of each "
    f"optimizer, and its good range: the rates within {GOOD_RANGE_POINTS} points of its best.\n",
    "| optimizer | " + " | ".join(f"{lr:g}" for lr in rates) + " | best | good range (decades) |",
    "|---|" + "---|" * (len(rates) + 2),
  ]
  for opt, row in entry["optimizers"].items():
    cells_ = []
    for lr in rates:
      c = row["accuracy"].get(f"{lr:g}")
      if c is None:
        cells_.append("—")
      else:
        std = "—" if c["std"] is None else f"{c['std']:.2f}"
        cells_.append(f"{c['mean']:.2f} ± {std} ({len(c['seeds'])})")
    good = row["good_range"]
    span = ", ".join(f"{lr:g}" for lr in good["rates"])
    lines.append(
      f"| {names.get(opt, opt)} | "
      + " | ".join(cells_)
      + f" | {row['best_rate']:g} | {span} ({good['decades']:.1f}) |"
    )
  return [*lines, ""]


def _at_each_rate_markdown(entry: dict, names: dict) -> list[str]:
  """One table per comparison: the paired difference at every shared rate."""
  lines = []
  for comparison, by_rate in entry["at_each_rate"].items():
    a, b = comparison.split(" - ")
    lines += [
      f"#### {names.get(a, a)} − {names.get(b, b)} at each learning rate (paired by seed, points)\n",
      "| peak learning rate | paired seeds | mean difference | 95% interval | p (sign-flip) |",
      "|---|---|---|---|---|",
    ]
    for lr, row in by_rate.items():
      lines.append(f"| {lr} | {len(row['seeds'])} | " + " | ".join(paired_cells(row)) + " |")
    lines.append("")
  return lines


def _comparisons_markdown(
  rows: dict, names: dict, title: str, note: str, rates_header: str, rates_cell
) -> list[str]:
  """A table of paired differences, a row per comparison; ``rates_cell(row)`` says its rates."""
  lines = [
    f"#### {title} (paired by seed, points)\n",
    f"{note}\n",
    f"| comparison | {rates_header} | paired seeds | mean difference | 95% interval | p (sign-flip) |",
    "|---|---|---|---|---|---|",
  ]
  for comparison, row in rows.items():
    a, b = comparison.split(" - ")
    lines.append(
      f"| {names.get(a, a)} − {names.get(b, b)} | {rates_cell(row)} | {len(row['seeds'])} | "
      + " | ".join(paired_cells(row))
      + " |"
    )
  return [*lines, ""]


def _best_rates_cell(row: dict) -> str:
  best_a, best_b = row["rates"]
  return f"{best_a:g} vs {best_b:g}"


def _held_out_rates_cell(row: dict) -> str:
  chosen = "; ".join(f"{s}: {ra:g} vs {rb:g}" for s, (ra, rb) in row["rates"].items())
  return chosen or "—"


def markdown(analysis: dict, names: dict, epochs: dict) -> str:
  """The sweep's tables, per dataset/architecture: accuracy by rate, the paired differences at
  each rate, at each optimizer's best rate, and with the rate chosen without the scored seed."""
  lines = []
  for key, entry in analysis.items():
    lines.append(f"### Learning-rate sweep, {key} ({epochs.get(key, '?')} epochs)\n")
    lines += _rates_markdown(entry, names)
    lines += _at_each_rate_markdown(entry, names)
    lines += _comparisons_markdown(
      entry["at_best_rates"], names, "At each optimizer's own best learning rate",
      "Each optimizer's best rate is chosen on the reported (test) split: this flatters every "
      "optimizer alike, so read the difference, not the levels.",
      "best rates", _best_rates_cell,
    )  # fmt: skip
    lines += _comparisons_markdown(
      entry["held_out_best"], names, "Each rate chosen without the seed it is scored on",
      "Seed s is scored at each optimizer's best rate by the mean over the other seeds "
      "(leave one seed out): no seed's own result picks the rate reported for it.",
      "rates chosen (seed: a vs b)", _held_out_rates_cell,
    )  # fmt: skip
  return "\n".join(lines)


def plot(analysis: dict, names: dict, directory: Path) -> list[Path]:
  import matplotlib

  matplotlib.use("Agg")
  import matplotlib.pyplot as plt
  from matplotlib.ticker import FixedLocator, FuncFormatter, NullLocator

  written = []
  for key, entry in analysis.items():
    fig, axes = plt.subplots(1, 2, figsize=(13, 4.6))
    colours = plt.rcParams["axes.prop_cycle"].by_key()["color"]
    count = len(entry["optimizers"])
    values = [
      v
      for row in entry["optimizers"].values()
      for c in row["accuracy"].values()
      for v in c["values"]
    ]
    top = max(values)
    for ax in axes:
      for k, (opt, row) in enumerate(entry["optimizers"].items()):
        colour = colours[k % len(colours)]
        rates = [float(lr) for lr in row["accuracy"]]
        means = [c["mean"] for c in row["accuracy"].values()]
        ax.plot(rates, means, "-", color=colour, lw=1.8, label=names.get(opt, opt))
        # Each optimizer's seeds a little to the side of the rate (log axis): none hides another.
        shift = 10 ** (0.03 * (k - (count - 1) / 2))
        for lr, c in zip(rates, row["accuracy"].values(), strict=True):
          ax.plot([lr * shift] * len(c["values"]), c["values"], "o", color=colour, ms=4, alpha=0.6)
        best = row["best_rate"]
        ax.plot(best * shift, row["accuracy"][f"{best:g}"]["mean"], "*", color=colour, ms=13,
                mec="black", mew=0.5)  # fmt: skip
      ax.set_xscale("log")
      ax.xaxis.set_major_locator(FixedLocator(entry["rates"]))
      ax.xaxis.set_minor_locator(NullLocator())
      ax.xaxis.set_major_formatter(FuncFormatter(lambda x, _: f"{x:g}"))
      ax.set(xlabel="peak learning rate (log scale)", ylabel="final validation accuracy (%)")
      ax.grid(alpha=0.3)
    near = [v for v in values if v >= top - ZOOM_POINTS]
    axes[0].set_title("every rate (line: mean; dots: seeds; ★: each one's best)", fontsize=10)
    axes[1].set_ylim(min(near) - 0.2, top + 0.2)
    axes[1].set_title(f"zoomed to within {ZOOM_POINTS:g} points of the best", fontsize=10)
    axes[0].legend(fontsize=8)
    fig.suptitle(f"{key}: accuracy against the learning rate")
    fig.tight_layout()
    path = directory / f"{key.replace('/', '_')}_lr_sweep.png"
    fig.savefig(path, dpi=120)
    plt.close(fig)
    written.append(path)
  return written
