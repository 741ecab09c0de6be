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
from collections import Counter, defaultdict
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


BASELINE = "adam"
MIN_PAIRED_SEEDS = 3

# Two-sided 95% quantiles of Student's t, by degrees of freedom (1.96 beyond the table).
_T975 = {1: 12.706, 2: 4.303, 3: 3.182, 4: 2.776, 5: 2.571, 6: 2.447, 7: 2.365, 8: 2.306,
         9: 2.262, 10: 2.228, 11: 2.201, 12: 2.179, 13: 2.160, 14: 2.145, 15: 2.131, 16: 2.120,
         17: 2.110, 18: 2.101, 19: 2.093, 20: 2.086, 25: 2.060, 30: 2.042, 40: 2.021, 60: 2.000,
         120: 1.980}  # fmt: skip


def _t975(df: int) -> float:
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
    out[key] = {}
    for opt, runs in by_opt.items():
      if opt == baseline:
        continue
      pairs = sorted(
        (r["seed"], 100 * r["final"]["val_accuracy"] - base[r["seed"]])
        for r in runs
        if r["seed"] in base
      )
      d = np.array([x for _, x in pairs])
      row = {"seeds": [s for s, _ in pairs], "differences": d.tolist()}
      if len(d) >= MIN_PAIRED_SEEDS:
        half = _t975(len(d) - 1) * d.std(ddof=1) / np.sqrt(len(d))
        row |= {
          "mean": float(d.mean()),
          "ci95": [float(d.mean() - half), float(d.mean() + half)],
          "p_value": sign_flip_p_value(d),
        }
      out[key][opt] = row
  return out


def policy_markdown(records: list[dict]) -> str:
  """How far each PILOT variant's knobs and ρ moved: first and last recorded, largest change.

  Means over seeds of the first and last recorded values, and the largest distance of any
  recorded value from the first (over steps and seeds).
  """
  lines = []
  for (dataset, arch), by_opt in _grouped(records).items():
    runs_with_policy = {o: [r for r in runs if r.get("policy")] for o, runs in by_opt.items()}
    runs_with_policy = {o: runs for o, runs in runs_with_policy.items() if runs}
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
      n = len(row["seeds"])
      if "mean" in row:
        low, high = row["ci95"]
        cells = [f"{row['mean']:+.2f}", f"[{low:+.2f}, {high:+.2f}]", f"{row['p_value']:.3f}"]
      else:
        cells = [f"fewer than {MIN_PAIRED_SEEDS} paired seeds: no statistics"] + ["—"] * 2
      lines.append(f"| {NAMES.get(opt, opt)} | {n} | " + " | ".join(cells) + " |")
    lines.append("")
  return "\n".join(lines)


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


def _plot_paired(plt, rows, dataset, arch, path):
  """Each seed's paired difference from the baseline as a dot, with the mean and interval."""
  fig, ax = plt.subplots(figsize=(1.8 + 1.4 * len(rows), 4))
  for x, row in enumerate(rows.values()):
    d = row["differences"]
    ax.plot([x] * len(d), d, "o", color="tab:blue", alpha=0.6, ms=5)
    if "mean" in row:
      low, high = row["ci95"]
      ax.errorbar(
        x + 0.15,
        row["mean"],
        yerr=[[row["mean"] - low], [high - row["mean"]]],
        fmt="s",
        color="black",
        capsize=4,
        label="mean, 95% interval" if x == 0 else None,
      )
  ax.axhline(0, color="gray", lw=0.8)
  ax.set_xticks(range(len(rows)), [NAMES.get(o, o) for o in rows], rotation=20, ha="right")
  ax.set(
    ylabel=f"accuracy − {NAMES.get(BASELINE)}'s (points)", title=f"{dataset} / {arch}, per seed"
  )
  _plain_ticks(ax.yaxis)
  ax.grid(alpha=0.3, axis="y")
  if any("mean" in r for r in rows.values()):
    ax.legend()
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
  for (dataset, arch), rows in paired(records).items():
    if rows:
      path = directory / f"{dataset}_{arch}_paired_vs_{BASELINE}.png"
      _plot_paired(plt, rows, dataset, arch, path)
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
  summary = summarise(records)
  stats = paired(records)
  # Whether the learned policy beats the frozen one: PILOT against its own ablation, paired.
  learned = paired(
    [r for r in records if r["optimizer"] in ("pilot", "pilot_frozen")], "pilot_frozen"
  )
  text = "\n".join(
    [
      markdown(summary),
      paired_markdown(stats),
      paired_markdown(learned, "pilot_frozen"),
      policy_markdown(records),
      provenance_markdown(records),
    ]
  )
  print(text)
  (args.directory / "table.md").write_text(text)
  serialisable = {f"{d}/{a}": rows for (d, a), rows in summary.items()}
  serialisable[f"paired_vs_{BASELINE}"] = {f"{d}/{a}": rows for (d, a), rows in stats.items()}
  serialisable["paired_vs_pilot_frozen"] = {f"{d}/{a}": rows for (d, a), rows in learned.items()}
  (args.directory / "summary.json").write_text(json.dumps(serialisable, indent=1))
  if not args.no_plots:
    for path in plot(records, args.directory):
      print(f"wrote {path}")


if __name__ == "__main__":
  main()
