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

from benchmarks.optimizers import OPTIMIZERS

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
}


def load_results(directory: Path) -> list[dict]:
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


def _mean_std(values):
  values = np.asarray(values, np.float64)
  return float(values.mean()), float(values.std(ddof=1)) if len(values) > 1 else 0.0


def summarise(records: list[dict]) -> dict:
  """{(dataset, arch): {optimizer: stats}} with mean and std over seeds."""
  groups = defaultdict(lambda: defaultdict(list))
  for r in records:
    groups[(r["dataset"], r["arch"])][r["optimizer"]].append(r)
  summary = {}
  for key, by_opt in groups.items():
    summary[key] = {}
    for opt in sorted(by_opt, key=lambda o: OPTIMIZERS.index(o) if o in OPTIMIZERS else 99):
      runs = by_opt[opt]
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
    lines.append(f"### {dataset} / {arch} ({', '.join(map(str, epochs))} epochs; paper: 30)\n")
    lines.append(
      "| optimizer | seeds | accuracy (%) ↑ | val loss ↓ | loss var. ↓ | paper accuracy | paper val loss | paper loss var. |"
    )
    lines.append("|---|---|---|---|---|---|---|---|")
    for opt, s in rows.items():
      p = paper.get(opt)
      paper_cells = [f"{p[0]:.2f}", f"{p[1]:.4f}", f"{p[2]:.4f}"] if p else ["—"] * 3
      acc, loss, var = s["val_accuracy"], s["val_loss"], s["loss_variance"]
      lines.append(
        f"| {NAMES.get(opt, opt)} | {len(s['seeds'])} | {acc[0]:.2f} ± {acc[1]:.2f} | {loss[0]:.4f} ± {loss[1]:.4f} | "
        f"{var[0]:.4f} ± {var[1]:.4f} | " + " | ".join(paper_cells) + " |"
      )
    lines.append("")
  return "\n".join(lines)


def _mean_curve(runs, field):
  length = min(len(r["history"]) for r in runs)
  return np.arange(1, length + 1), np.mean(
    [[h[field] for h in r["history"][:length]] for r in runs], axis=0
  )


def plot(records: list[dict], directory: Path) -> list[Path]:
  import matplotlib

  matplotlib.use("Agg")
  import matplotlib.pyplot as plt

  written = []
  groups = defaultdict(lambda: defaultdict(list))
  for r in records:
    groups[(r["dataset"], r["arch"])][r["optimizer"]].append(r)
  for (dataset, arch), by_opt in groups.items():
    fig, (ax_loss, ax_acc) = plt.subplots(1, 2, figsize=(11, 4))
    for opt, runs in by_opt.items():
      epochs, loss = _mean_curve(runs, "train_loss")
      ax_loss.plot(epochs, loss, marker="o", label=NAMES.get(opt, opt))
      epochs, acc = _mean_curve(runs, "val_accuracy")
      ax_acc.plot(epochs, 100 * acc, marker="o", label=NAMES.get(opt, opt))
    ax_loss.set(
      xlabel="epoch",
      ylabel="training loss (mean over seeds)",
      yscale="log",
      title=f"{dataset} / {arch}",
    )
    ax_acc.set(
      xlabel="epoch", ylabel="validation accuracy % (mean over seeds)", title=f"{dataset} / {arch}"
    )
    ax_acc.legend()
    fig.tight_layout()
    path = directory / f"{dataset}_{arch}_curves.png"
    fig.savefig(path, dpi=110)
    plt.close(fig)
    written.append(path)

    pilot_runs = [r for r in by_opt.get("pilot", []) if r.get("policy")]
    if pilot_runs:
      fig, axes = plt.subplots(1, 4, figsize=(16, 3.6))
      for r in pilot_runs:
        steps = [p["step"] for p in r["policy"]]
        for ax, field, label in zip(
          axes, ("rho", "pm", "pv", "ps"), ("ρ", "p_m", "p_v", "p_s"), strict=True
        ):
          ax.plot(steps, [p[field] for p in r["policy"]], lw=0.8, label=f"seed {r['seed']}")
          ax.set(xlabel="step", title=label)
      axes[0].legend()
      fig.suptitle(f"PILOT's policy over training, {dataset} / {arch}")
      fig.tight_layout()
      path = directory / f"{dataset}_{arch}_pilot_policy.png"
      fig.savefig(path, dpi=110)
      plt.close(fig)
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
