"""Paper-style table and plots from the result JSONs of `benchmarks.train`.

    python -m benchmarks.table DIR

Prints a markdown table per (dataset, architecture): validation accuracy,
validation loss and loss variance, mean ± sample std over seeds, with the
paper's numbers beside ours; writes it to DIR/table.md with DIR/summary.json,
and PNG plots: training loss and validation accuracy per optimizer
(DIR/<dataset>_<arch>_curves.png) and PILOT's ρ, p_m, p_v, p_s over training
(DIR/<dataset>_<arch>_pilot_policy.png).
"""

from __future__ import annotations

import argparse
import json
import sys
from collections import defaultdict
from pathlib import Path

import numpy as np

from benchmarks.optimizers import ALL_NAMES

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
NAMES = {
  "pilot": "PILOT",
  "adam": "Adam",
  "adamw": "AdamW",
  "lion": "Lion",
  "adabelief": "AdaBelief",
  "sophia": "Sophia",
  "pilot_frozen": "PILOT, frozen policy",
  "pilot_fast_policy": "PILOT, 10× η_φ",
}


def load_results(directory: Path) -> list[dict]:
  if not Path(directory).is_dir():
    raise ValueError(
      f"{directory}: not a directory (give the --out directory of benchmarks.train)."
    )
  records = []
  for path in sorted(Path(directory).glob("*.json")):
    if path.name == "summary.json":
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


def _cell(mean_std, digits: int) -> str:
  mean, std = mean_std
  return f"{mean:.{digits}f} ± " + ("—" if std is None else f"{std:.{digits}f}")


def _plural(n: int, word: str) -> str:
  return f"{n} {word}" + ("" if n == 1 else "s")


def _grouped(records: list[dict]) -> dict:
  """{(dataset, arch): {optimizer: [records]}}, optimizers in ALL_NAMES order."""
  groups = defaultdict(lambda: defaultdict(list))
  for r in records:
    groups[(r["dataset"], r["arch"])][r["optimizer"]].append(r)
  order = lambda o: ALL_NAMES.index(o) if o in ALL_NAMES else len(ALL_NAMES)  # noqa: E731
  return {
    key: {opt: sorted(by_opt[opt], key=lambda r: r["seed"]) for opt in sorted(by_opt, key=order)}
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
    span = (
      _plural(epochs[0], "epoch") if len(epochs) == 1 else f"{', '.join(map(str, epochs))} epochs"
    )
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
        f"{_cell(var, 4)} | " + " | ".join(paper_cells) + " |"
      )
    lines.append("")
  return "\n".join(lines)


def _mean_curve(runs, field):
  length = min(len(r["history"]) for r in runs)
  return np.arange(1, length + 1), np.mean(
    [[h[field] for h in r["history"][:length]] for r in runs], axis=0
  )


# Each knob on its whole range, so that a change of 0.001 looks like one.
POLICY_FIELDS = (
  ("rho", "ρ", (-1.0, 1.0)),
  ("pm", "p_m", (0.0, 1.0)),
  ("pv", "p_v", (0.0, 0.5)),
  ("ps", "p_s", (0.0, 1.0)),
)


def _plain_ticks(axis):
  """Tick labels as plain numbers (0.3, 0.05), never 4.15×10⁻¹."""
  from matplotlib.ticker import FuncFormatter, NullFormatter

  axis.set_major_formatter(FuncFormatter(lambda y, _: f"{y:g}"))
  axis.set_minor_formatter(NullFormatter())


def _epoch_axis(ax, last_epoch: int):
  from matplotlib.ticker import MaxNLocator

  ax.xaxis.set_major_locator(MaxNLocator(integer=True))
  ax.set_xlim(0.5, last_epoch + 0.5)


def _plot_curves(plt, by_opt, dataset, arch, path):
  fig, (ax_loss, ax_acc) = plt.subplots(1, 2, figsize=(11, 4))
  last_epoch, losses = 1, []
  for opt, runs in by_opt.items():
    epochs, loss = _mean_curve(runs, "train_loss")
    ax_loss.plot(epochs, loss, marker="o", ms=4, label=NAMES.get(opt, opt))
    epochs, acc = _mean_curve(runs, "val_accuracy")
    ax_acc.plot(epochs, 100 * acc, marker="o", ms=4, label=NAMES.get(opt, opt))
    last_epoch, losses = max(last_epoch, int(epochs[-1])), [*losses, *loss]
  # A log axis only when the loss spans more than a decade (long runs).
  positive = [x for x in losses if x > 0]
  if positive and max(positive) > 10 * min(positive):
    ax_loss.set_yscale("log")
  ax_loss.set(xlabel="epoch", ylabel="training loss (mean over seeds)", title=f"{dataset} / {arch}")
  ax_acc.set(
    xlabel="epoch", ylabel="validation accuracy % (mean over seeds)", title=f"{dataset} / {arch}"
  )
  for ax in (ax_loss, ax_acc):
    _epoch_axis(ax, last_epoch)
    _plain_ticks(ax.yaxis)
    ax.grid(alpha=0.3)
  ax_acc.legend()
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


def plot(records: list[dict], directory: Path) -> list[Path]:
  import matplotlib

  matplotlib.use("Agg")
  import matplotlib.pyplot as plt

  written = []
  for (dataset, arch), by_opt in _grouped(records).items():
    path = directory / f"{dataset}_{arch}_curves.png"
    _plot_curves(plt, by_opt, dataset, arch, path)
    written.append(path)
    pilot_runs = {
      opt: [r for r in runs if r.get("policy")]
      for opt, runs in by_opt.items()
      if any(r.get("policy") for r in runs)
    }
    if pilot_runs:
      path = directory / f"{dataset}_{arch}_pilot_policy.png"
      _plot_policy(plt, pilot_runs, dataset, arch, path)
      written.append(path)
  return written


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
  summary = summarise(records)
  text = markdown(summary)
  print(text)
  commands = sorted({r["hyperparameters"].get("command", "") for r in records} - {""})
  provenance = "".join(f"\nProduced by `{c}`.\n" for c in commands)
  (args.directory / "table.md").write_text(text + "\n" + provenance)
  serialisable = {f"{d}/{a}": rows for (d, a), rows in summary.items()}
  (args.directory / "summary.json").write_text(json.dumps(serialisable, indent=1))
  if not args.no_plots:
    for path in plot(records, args.directory):
      print(f"wrote {path}")


if __name__ == "__main__":
  main()
