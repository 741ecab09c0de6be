"""Paper-style table and plots from the result JSONs of `benchmarks.train`.

    python -m benchmarks.table DIR

Prints a markdown table per (dataset, architecture): validation accuracy,
validation loss and loss variance, mean ± sample std over seeds, with the
paper's numbers beside ours, and each optimizer's paired difference from Adam
in final accuracy (seed by seed: mean, 95% interval, sign-flip p-value; a plot
DIR/<dataset>_<arch>_paired_vs_adam.png); writes it to DIR/table.md with DIR/summary.json,
and PNG plots: training loss and validation accuracy per optimizer
(DIR/<dataset>_<arch>_curves.png) and PILOT's ρ, p_m, p_v, p_s over training
(DIR/<dataset>_<arch>_pilot_policy.png).
"""

from __future__ import annotations

import argparse
import json
import sys
import textwrap
from collections import Counter, defaultdict
from pathlib import Path

import numpy as np

from benchmarks import sweep
from benchmarks.optimizers import LABELS, REGISTRY, listing_order
from benchmarks.stats import paired_cells, paired_row

# The paper's tables (PyPI page of pilot-optimizer): (accuracy %, val loss, loss variance).
PAPER = {
  ("fashionmnist", "cnn"): {
    "adam": (93.28, 0.1957, 0.0033),
    "adamw": (93.22, 0.1944, 0.0034),
    "lion": (92.91, 0.2091, 0.0041),
    "adabelief": (93.66, 0.1822, 0.0046),
    "pilot": (94.13, 0.1719, 0.0045),
  },
  ("cifar10", "cnn"): {
    "adam": (79.91, 0.5794, 0.0103),
    "lion": (80.87, 0.5487, 0.0105),
    "pilot": (81.94, 0.5302, 0.0073),
  },
  ("fashionmnist", "resnet18"): {
    "adabelief": (95.33, 0.1711, 0.0056),
    "pilot": (95.71, 0.2690, 0.0030),
  },
  ("cifar10", "resnet18"): {
    "adam": (93.18, 0.2140, 0.0073),
    "adamw": (92.90, 0.2514, 0.0066),
    "pilot": (93.42, 0.2496, 0.0001),
  },
}
REQUIRED_KEYS = (
  "dataset",
  "arch",
  "optimizer",
  "seed",
  "epochs",
  "hyperparameters",
  "history",
  "final",
)
NAMES = LABELS


# JSONs that this project's own tools write beside the results: this table's summary,
# benchmarks.lm_report's summary, benchmarks.compare_results' comparison and
# benchmarks.landscape's pictures' numbers. The one list: benchmarks.lm_report skips them too.
NOT_RESULTS = ("summary.json", "lm_summary.json", "comparison.json", "landscape_*.json")


def load_results(directory: Path) -> list[dict]:
  if not Path(directory).is_dir():
    raise ValueError(
      f"{directory}: not a directory (give the --out directory of benchmarks.train)."
    )
  records = []
  for path in sorted(Path(directory).glob("*.json")):
    if any(path.match(pattern) for pattern in NOT_RESULTS):
      continue
    try:
      record = json.loads(path.read_text())
    except json.JSONDecodeError as e:
      raise ValueError(f"{path}: not valid JSON ({e}).") from e
    missing = [k for k in REQUIRED_KEYS if k not in record]
    if missing:
      raise ValueError(f"{path}: not a benchmarks.train result, missing keys {missing}.")
    records.append(record)
  if not records:
    raise ValueError(f"{directory}: no result JSONs found.")
  return records


def _mean_std(values) -> tuple[float, float | None]:
  """Mean and sample std; the std of one value is undefined (None)."""
  values = np.asarray(values, np.float64)
  return float(values.mean()), float(values.std(ddof=1)) if len(values) > 1 else None


def _cell(mean_std, digits: int, fmt: str = "f") -> str:
  """'mean ± std', or the value alone for one seed; ``fmt='e'`` for quantities that shrink by
  orders of magnitude."""
  mean, std = mean_std
  value = f"{mean:.{digits}{fmt}}"
  return value if std is None else f"{value} ± {std:.{digits}{fmt}}"


BASELINE = "adam"
LEARNED_VS_FROZEN = ("pilot", "pilot_frozen")

# Each knob on its whole range, so that a change of 0.001 looks like one.
POLICY_FIELDS = (
  ("rho", "ρ", (-1.0, 1.0)),
  ("pm", "p_m", (0.0, 1.0)),
  ("pv", "p_v", (0.0, 0.5)),
  ("ps", "p_s", (0.0, 1.0)),
)


def paired(records: list[dict], baseline: str = BASELINE) -> dict:
  """Per (dataset, arch) and optimizer: final-accuracy differences from ``baseline``, seed by seed.

  Pairs are the seeds both ran. With at least MIN_PAIRED_SEEDS of them: mean, 95% t-interval
  and the sign-flip p-value (in accuracy points); with fewer, the differences only.
  """
  out = {}
  for key, by_opt in _grouped(records).items():
    if baseline not in by_opt:
      continue
    base = {r["seed"]: 100 * r["final"]["val_accuracy"] for r in by_opt[baseline]}
    out[key] = {
      opt: paired_row(
        [
          (r["seed"], 100 * r["final"]["val_accuracy"] - base[r["seed"]])
          for r in runs
          if r["seed"] in base
        ]
      )
      for opt, runs in by_opt.items()
      if opt != baseline
    }
  return out


def learned_vs_frozen(records: list[dict]) -> dict:
  """PILOT's learned policy against its frozen one, paired by seed (:func:`paired`)."""
  return paired([r for r in records if r["optimizer"] in LEARNED_VS_FROZEN], "pilot_frozen")


def _with_policy(by_opt: dict) -> dict:
  """{optimizer: its runs that recorded PILOT's policy}, optimizers without any left out."""
  runs = {opt: [r for r in rs if r.get("policy")] for opt, rs in by_opt.items()}
  return {opt: rs for opt, rs in runs.items() if rs}


def policy_markdown(records: list[dict]) -> str:
  """How far each PILOT variant's knobs and ρ moved: first and last recorded, largest change.

  Means over seeds of the first and last recorded values, and the largest distance of any
  recorded value from the first (over steps and seeds).
  """
  lines = []
  for (dataset, arch), by_opt in _grouped(records).items():
    runs_with_policy = _with_policy(by_opt)
    if not runs_with_policy:
      continue
    lines.append(f"#### PILOT's policy over training, {dataset} / {arch}\n")
    lines.append(
      "| optimizer | seeds | "
      + " | ".join(f"{label}: first → last (largest change)" for _, label, _ in POLICY_FIELDS)
      + " |"
    )
    lines.append("|---|---|" + "---|" * len(POLICY_FIELDS))
    for opt, runs in runs_with_policy.items():
      cells = []
      for field, _, _ in POLICY_FIELDS:
        series = [np.array([p[field] for p in r["policy"]]) for r in runs]
        first = np.mean([x[0] for x in series])
        last = np.mean([x[-1] for x in series])
        moved = max(float(np.abs(x - x[0]).max()) for x in series)
        cells.append(f"{first:.4f} → {last:.4f} ({moved:.4f})")
      lines.append(f"| {NAMES.get(opt, opt)} | {len(runs)} | " + " | ".join(cells) + " |")
    lines.append("")
  return "\n".join(lines)


def paired_markdown(stats: dict, baseline: str = BASELINE) -> str:
  lines = []
  for (dataset, arch), rows in stats.items():
    if not rows:
      continue
    name = NAMES.get(baseline, baseline)
    lines.append(f"#### Paired difference from {name} in final accuracy, {dataset} / {arch}\n")
    lines.append(
      "Same seed, same initial parameters and batch order: each optimizer minus "
      f"{name}, in accuracy points; 95% t-interval; p of the exact sign-flip test.\n"
    )
    lines.append("| optimizer | paired seeds | mean difference | 95% interval | p (sign-flip) |")
    lines.append("|---|---|---|---|---|")
    for opt, row in rows.items():
      cells = paired_cells(row)
      lines.append(f"| {NAMES.get(opt, opt)} | {len(row['seeds'])} | " + " | ".join(cells) + " |")
    lines.append("")
  return "\n".join(lines)


def _grouped(records: list[dict]) -> dict:
  """{(dataset, arch): {optimizer: [records]}}, optimizers in registry order."""
  groups = defaultdict(lambda: defaultdict(list))
  for r in records:
    groups[(r["dataset"], r["arch"])][r["optimizer"]].append(r)
  return {
    key: {
      opt: sorted(by_opt[opt], key=lambda r: r["seed"]) for opt in sorted(by_opt, key=listing_order)
    }
    for key, by_opt in groups.items()
  }


def summarise(records: list[dict]) -> dict:
  """{(dataset, arch): {optimizer: stats}} with mean and std over seeds."""
  summary = {}
  for key, by_opt in _grouped(records).items():
    summary[key] = {}
    for opt, runs in by_opt.items():
      summary[key][opt] = {
        "seeds": sorted(r["seed"] for r in runs),
        "epochs": sorted({r["epochs"] for r in runs}),
        "val_accuracy": _mean_std([100 * r["final"]["val_accuracy"] for r in runs]),
        "val_loss": _mean_std([r["final"]["val_loss"] for r in runs]),
        "loss_variance": _mean_std([r["final"]["loss_variance"] for r in runs]),
        "seconds_per_epoch": float(np.median([h["seconds"] for r in runs for h in r["history"]])),
      }
  return summary


def markdown(summary: dict) -> str:
  lines = []
  for (dataset, arch), rows in summary.items():
    paper = PAPER.get((dataset, arch), {})
    epochs = sorted({e for s in rows.values() for e in s["epochs"]})
    span = f"{', '.join(map(str, epochs))} epoch" + ("s" if epochs != [1] else "")
    lines.append(f"### {dataset} / {arch} ({span}; paper: 30)\n")
    lines.append(
      "| optimizer | seeds | accuracy (%) ↑ | val loss ↓ | loss var. ↓ | paper accuracy | paper val loss | paper loss var. |"
    )
    lines.append("|---|---|---|---|---|---|---|---|")
    for opt, s in rows.items():
      p = paper.get(opt)
      paper_cells = [f"{p[0]:.2f}", f"{p[1]:.4f}", f"{p[2]:.4f}"] if p else ["—"] * 3
      acc, loss, var = s["val_accuracy"], s["val_loss"], s["loss_variance"]
      lines.append(
        f"| {NAMES.get(opt, opt)} | {len(s['seeds'])} | {_cell(acc, 2)} | {_cell(loss, 4)} | "
        f"{_cell(var, 2, 'e')} | " + " | ".join(paper_cells) + " |"
      )
    lines.append("")
  return "\n".join(lines)


def _mean_curve(runs, field):
  length = min(len(r["history"]) for r in runs)
  return np.arange(1, length + 1), np.mean(
    [[h[field] for h in r["history"][:length]] for r in runs], axis=0
  )


def _plain_ticks(axis):
  """Tick labels as plain numbers (0.3, 0.05), never 4.15×10⁻¹."""
  from matplotlib.ticker import FuncFormatter, NullFormatter

  axis.set_major_formatter(FuncFormatter(lambda y, _: f"{y:g}"))
  axis.set_minor_formatter(NullFormatter())


def _epoch_axis(ax, last_epoch: int):
  """Whole epochs only: every epoch ticked up to 10, integer ticks beyond."""
  from matplotlib.ticker import MaxNLocator

  if last_epoch <= 10:
    ax.set_xticks(range(1, last_epoch + 1))
  else:
    ax.xaxis.set_major_locator(MaxNLocator(integer=True))
  ax.set_xlim(0.5, last_epoch + 0.5)


def _finish_limits(curves: list[np.ndarray], share: float = 0.2) -> tuple[float, float]:
  """y-limits that hold each curve after its first ``share`` of epochs, with a margin.

  The early epochs (low accuracy) would otherwise squash the finish, where the comparison lives.
  """
  tails = np.concatenate([c[max(1, int(share * len(c))) :] if len(c) > 1 else c for c in curves])
  low, high = float(tails.min()), float(tails.max())
  margin = max(0.15 * (high - low), 0.05)
  return low - margin, high + margin


def _plot_curves(plt, by_opt, dataset, arch, path):
  fig, (ax_loss, ax_val, ax_acc) = plt.subplots(1, 3, figsize=(15, 4.2))
  last_epoch, train_losses, accuracies = 1, [], []
  for opt, runs in by_opt.items():
    label = NAMES.get(opt, opt)
    epochs, loss = _mean_curve(runs, "train_loss")
    ax_loss.plot(epochs, loss, marker="o", ms=4, label=label)
    epochs, val_loss = _mean_curve(runs, "val_loss")
    ax_val.plot(epochs, val_loss, marker="o", ms=4, label=label)
    epochs, acc = _mean_curve(runs, "val_accuracy")
    ax_acc.plot(epochs, 100 * acc, marker="o", ms=4, label=label)
    last_epoch = max(last_epoch, int(epochs[-1]))
    train_losses += list(loss)
    accuracies.append(100 * acc)
  # A log axis only when the loss spans more than a decade (long runs).
  positive = [x for x in train_losses if x > 0]
  if positive and max(positive) > 10 * min(positive):
    ax_loss.set_yscale("log")
  ax_loss.set(xlabel="epoch", ylabel="mean over seeds", title="training loss")
  ax_val.set(
    xlabel="epoch", ylabel="mean over seeds", title="validation loss (overfitting shows here)"
  )
  ax_acc.set(
    xlabel="epoch",
    ylabel="%, mean over seeds",
    title="validation accuracy (zoomed to the finish)",
    ylim=_finish_limits(accuracies),
  )
  for ax in (ax_loss, ax_val, ax_acc):
    _epoch_axis(ax, last_epoch)
    _plain_ticks(ax.yaxis)
    ax.grid(alpha=0.3)
  ax_acc.legend(fontsize=8)
  seeds = sorted({len(runs) for runs in by_opt.values()})
  fig.suptitle(f"{dataset} / {arch}: {' or '.join(map(str, seeds))} seed(s) per optimizer")
  fig.tight_layout()
  fig.savefig(path, dpi=110)
  plt.close(fig)


def _plot_policy(plt, pilot_runs, dataset, arch, path):
  """ρ and the knobs over training: each on its full range (top), zoomed (bottom)."""
  fig, axes = plt.subplots(2, len(POLICY_FIELDS), figsize=(16, 6.4), squeeze=False)
  colors = plt.rcParams["axes.prop_cycle"].by_key()["color"]
  for k, (opt, runs) in enumerate(pilot_runs.items()):
    for n, r in enumerate(runs):
      steps = [p["step"] for p in r["policy"]]
      for col, (field, _, _) in enumerate(POLICY_FIELDS):
        for row in (0, 1):
          axes[row, col].plot(
            steps,
            [p[field] for p in r["policy"]],
            lw=0.8,
            color=colors[k % len(colors)],
            label=NAMES.get(opt, opt) if n == 0 else None,
          )
  for col, (_, label, limits) in enumerate(POLICY_FIELDS):
    axes[0, col].set(title=f"{label} (full range)", ylim=limits)
    axes[1, col].set(title=f"{label} (zoomed to the data)", xlabel="step")
    for row in (0, 1):
      _plain_ticks(axes[row, col].yaxis)
      axes[row, col].grid(alpha=0.3)
  axes[0, 0].legend()
  fig.suptitle(f"PILOT's policy over training, {dataset} / {arch} (one line per seed)")
  fig.tight_layout()
  fig.savefig(path, dpi=110)
  plt.close(fig)


def _jitter(values, width: float = 0.22) -> np.ndarray:
  """x offsets that spread equal (to 0.01 points) values side by side instead of stacking them."""
  values = np.round(np.asarray(values, np.float64), 2)
  offsets = np.zeros(len(values))
  for v in np.unique(values):
    idx = np.flatnonzero(values == v)
    if len(idx) > 1:
      offsets[idx] = np.linspace(-width / 2, width / 2, len(idx))
  return offsets


def _plot_paired(plt, comparisons, dataset, arch, path):
  """Each seed's paired difference as a dot (equal ones side by side), with mean and interval.

  ``comparisons``: ``{panel title: {optimizer: row}}``, one panel each (e.g. against Adam, and
  the learned policy against the frozen one).
  """
  panels = [(title, rows) for title, rows in comparisons.items() if rows]
  widths = [max(1.4 * len(rows) + 1.2, 3.0) for _, rows in panels]
  # At least wide enough for the figure's title (it was cut off with a single pair).
  fig, axes = plt.subplots(
    1,
    len(panels),
    figsize=(max(sum(widths) + 1, 6.5), 4.2),
    squeeze=False,
    gridspec_kw=dict(width_ratios=widths),
  )
  for ax, (title, rows), width in zip(axes[0], panels, widths, strict=True):
    for x, row in enumerate(rows.values()):
      d = row["differences"]
      ax.plot(
        x + _jitter(d),
        d,
        "o",
        color="tab:blue",
        alpha=0.7,
        ms=5,
        label="one seed" if x == 0 else None,
      )
      if "mean" in row:
        low, high = row["ci95"]
        ax.errorbar(
          x + 0.3,
          row["mean"],
          yerr=[[row["mean"] - low], [high - row["mean"]]],
          fmt="s",
          color="black",
          capsize=4,
          label="mean, 95% interval" if x == 0 else None,
        )
    ax.axhline(0, color="gray", lw=0.8)
    ax.set_xticks(range(len(rows)), [NAMES.get(o, o) for o in rows], rotation=20, ha="right")
    ax.set_xlim(-0.6, len(rows) - 0.4)
    # Panel titles wrapped to their panel (about 11 characters an inch at this size).
    ax.set(ylabel="difference in final accuracy (points)")
    ax.set_title(textwrap.fill(title, max(20, int(11 * width))), fontsize=10)
    _plain_ticks(ax.yaxis)
    ax.grid(alpha=0.3, axis="y")
    ax.legend(fontsize=8)
  fig.suptitle(f"{dataset} / {arch}: paired by seed (same start, same batches)")
  fig.tight_layout()
  fig.savefig(path, dpi=110)
  plt.close(fig)


def plot(records: list[dict], directory: Path) -> list[Path]:
  import matplotlib

  matplotlib.use("Agg")
  import matplotlib.pyplot as plt

  written = []
  for (dataset, arch), by_opt in _grouped(records).items():
    path = directory / f"{dataset}_{arch}_curves.png"
    _plot_curves(plt, by_opt, dataset, arch, path)
    written.append(path)
    pilot_runs = _with_policy(by_opt)
    if pilot_runs:
      path = directory / f"{dataset}_{arch}_pilot_policy.png"
      _plot_policy(plt, pilot_runs, dataset, arch, path)
      written.append(path)
  learned = learned_vs_frozen(records)
  for key, rows in paired(records).items():
    comparisons = {
      f"minus {NAMES[BASELINE]}": rows,
      "learned policy minus frozen": learned.get(key, {}),
    }
    if rows:
      path = directory / f"{key[0]}_{key[1]}_paired_vs_{BASELINE}.png"
      _plot_paired(plt, comparisons, *key, path)
      written.append(path)
  return written


def provenance_markdown(records: list[dict]) -> str:
  """Where the runs come from: the commands that produced them, and the commits of the code.

  One command is quoted; several (one per optimizer and seed, typically) are listed in a
  collapsed block. Runs from before commits were recorded count as "not recorded".
  """
  hps = [r["hyperparameters"] for r in records]
  commands = sorted({hp.get("command", "") for hp in hps} - {""})
  lines = []
  if len(commands) == 1:
    lines.append(f"Produced by `{commands[0]}`.")
  elif commands:
    lines += [f"<details><summary>Produced by {len(commands)} commands</summary>", ""]
    lines += [f"- `{c}`" for c in commands]
    lines += ["", "</details>"]
  runs_by_source = Counter(hp.get("source") or "not recorded" for hp in hps)
  code = ", ".join(
    f"{source} ({n} run{'s' * (n != 1)})" for source, n in sorted(runs_by_source.items())
  )
  lines += ["", f"Code (git commit): {code}."]
  return "\n".join(lines) + "\n"


def main(argv=None):
  parser = argparse.ArgumentParser(
    prog="python -m benchmarks.table", description=__doc__.split("\n\n")[0]
  )
  parser.add_argument("directory", type=Path)
  parser.add_argument("--no-plots", action="store_true")
  args = parser.parse_args(argv)
  try:
    records = load_results(args.directory)
  except ValueError as e:
    sys.exit(f"error: {e}")
  swept = sweep.is_sweep(records)
  # A sweep's folder: the usual tables show each optimizer at its documented rate; the sweep's
  # tables show them all.
  documented = [r for r in records if _at_documented_rate(r)] if swept else records
  summary = summarise(documented)
  stats = paired(documented)
  # Whether the learned policy beats the frozen one: PILOT against its own ablation, paired.
  learned = learned_vs_frozen(documented)
  sections = []
  if swept:
    analysis = sweep.analyse(records)
    epochs = {
      f"{d}/{a}": ", ".join(map(str, sorted({r["epochs"] for r in records}))) for d, a in summary
    }
    sections.append(sweep.markdown(analysis, NAMES, epochs))
    sections.append("## At each optimizer's documented learning rate\n")
  text = "\n".join(
    [
      *sections,
      markdown(summary),
      paired_markdown(stats),
      paired_markdown(learned, "pilot_frozen"),
      policy_markdown(documented),
      provenance_markdown(records),
    ]
  )
  print(text)
  (args.directory / "table.md").write_text(text)
  serialisable = {f"{d}/{a}": rows for (d, a), rows in summary.items()}
  serialisable[f"paired_vs_{BASELINE}"] = {f"{d}/{a}": rows for (d, a), rows in stats.items()}
  serialisable["paired_vs_pilot_frozen"] = {f"{d}/{a}": rows for (d, a), rows in learned.items()}
  if swept:
    serialisable["lr_sweep"] = analysis
  (args.directory / "summary.json").write_text(json.dumps(serialisable, indent=1))
  if not args.no_plots:
    written = plot(documented, args.directory)
    if swept:
      written += sweep.plot(analysis, NAMES, args.directory)
    for path in written:
      print(f"wrote {path}")


def _at_documented_rate(record: dict) -> bool:
  entry = REGISTRY.get(record["optimizer"])
  rate = sweep.peak_lr(record)
  return entry is None or rate is None or rate == entry.peak_learning_rate


if __name__ == "__main__":
  main()
