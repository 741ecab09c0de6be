"""A tuned sweep's report, as the field judges optimizers: tuned rates, final loss, time to target.

    python -m benchmarks.lm_report DIR [DIR ...] [--baseline adamw] [--rivals nadamw]
        [--step-costs PATH] [--no-plots]

Several folders are read as one sweep (the language-model sweep and its follow-up,
`benchmarks/lm_followup_run.sh`); the report is written into the last one. Runs on a shorter
schedule of their own sit in a subfolder `steps_<N>` of one of them.

For the language-model sweep (`benchmarks/lm_run.sh`; losses in bits per byte) and for any
sweep of `benchmarks.train` over peak learning rates (the Fashion-MNIST sweep, per epoch, with
``--baseline adam``; losses in nats). The protocol:

- **tuning apart from scoring**: each optimizer's rate is the one of lowest final validation
  loss on the tuning seed (the lowest seed found, 0); it is scored on the other seeds run at
  that rate (when none has run yet, on the tuning seed alone, and the report says so);
- **final validation loss**, mean ± std over the scoring seeds, the training slice's loss and
  the gap; the difference to the baseline paired by seed (mean, 95% t-interval, sign-flip p);
- **time to target** (`benchmarks.targets`): target A is the tuned baseline's median final
  validation loss; target B, looser, its median loss at half its budget. A cosine schedule
  reaches its lowest loss near its end by construction, so target A asks whether another
  optimizer gets to the baseline's end result before its own end (its schedule decays at the
  same steps: reaching A earlier means being ahead while the rates are still high); target B
  asks the same halfway, where the comparison is less shaped by the decay. The speedup is the
  baseline's steps over the optimizer's, paired by seed;
- **time to target on a schedule of its own**: the best baseline run for fewer steps (its
  `steps_<N>` runs), against its full-length runs, the baseline's (when the best is a rival) and
  the frozen policy's loss at step N;
- **one knob at a time**: AdamW with one of the frozen policy's knobs switched on, and the share
  of the frozen policy's gain over AdamW each recovers; **the weight-decay swaps** against the
  runs they change and the frozen policy − AdamW at equal weight decay (runs at a given rate, on
  scoring seeds only, are scored as they are);
- **what the learned policy adds**: PILOT − its frozen policy, each at its tuned rate, paired by
  seed; and an optimizer scored at another rate too (its tuning moved since, e.g. to a
  midpoint): its tuned rate − the other, paired by seed;
- the policy of PILOT at its tuned rate: ρ and the knobs over training.

Writes DIR/lm_report.md (or --markdown), DIR/lm_summary.json and (unless --no-plots) PNGs:
validation curves at the tuned rates, the learning-rate sensitivity, PILOT's policy.
"""

from __future__ import annotations

import argparse
import json
import math
import sys
from collections import defaultdict
from pathlib import Path

import numpy as np

from benchmarks import targets, tuning
from benchmarks.optimizers import LABELS, listing_order
from benchmarks.stats import paired_row
from benchmarks.table import LEARNED_VS_FROZEN, NOT_RESULTS


def load(*directories: Path) -> list[dict]:
  """The result JSONs of ``benchmarks.train`` in ``directories`` (other JSONs skipped); an error
  when there are none in any of them."""
  found = []
  for path in sorted(p for d in directories for p in Path(d).glob("*.json")):
    if any(path.match(pattern) for pattern in NOT_RESULTS):
      continue
    record = json.loads(path.read_text())
    if isinstance(record, dict) and {"optimizer", "seed", "history", "final"} <= set(record):
      found.append(record)
  if not found:
    where = ", ".join(map(str, directories))
    raise ValueError(f"{where}: no result JSONs of benchmarks.train found.")
  return found


def position_key(record: dict) -> str:
  """What a history entry is indexed by: ``step`` (text) or ``epoch`` (images)."""
  return "step" if "steps" in record else "epoch"


def metric_of(record: dict, split: str = "val") -> str:
  """The loss reported: bits per byte where the run has it, else the loss in nats."""
  return f"{split}_bpb" if f"{split}_bpb" in record["final"] else f"{split}_loss"


def by_optimizer(records: list[dict]) -> dict:
  """{optimizer: {peak lr: {seed: record}}}, optimizers in the registry's order."""
  table = defaultdict(lambda: defaultdict(dict))
  for r in records:
    table[r["optimizer"]][float(r["hyperparameters"]["peak_learning_rate"])][r["seed"]] = r
  return {k: table[k] for k in sorted(table, key=listing_order)}


def tuned(runs: dict, tuning_seed: int) -> dict:
  """One optimizer's tuning: the losses by rate on the tuning seed, the best, the scoring runs."""
  losses = {
    lr: tuning.comparable(seeds[tuning_seed]["final"][metric_of(seeds[tuning_seed])])
    for lr, seeds in runs.items()
    if tuning_seed in seeds
  }
  if not losses:  # not tuned: run at a given rate on scoring seeds (the weight-decay swaps)
    if len(runs) != 1:
      raise ValueError(f"runs at {len(runs)} rates but none on the tuning seed {tuning_seed}.")
    ((rate, seeds),) = runs.items()
    return dict(losses={}, best=rate, interior=True, scoring=seeds, scored_on_tuning_seed=False,
                given_rate=True)  # fmt: skip
  best = tuning.best(losses)
  scoring = {s: r for s, r in runs[best].items() if s != tuning_seed}
  return dict(
    losses=losses,
    best=best,
    interior=tuning.next_rate(losses) is None,
    scoring=scoring or {tuning_seed: runs[best][tuning_seed]},
    scored_on_tuning_seed=not scoring,
    given_rate=False,
  )


def _mean_std(values) -> dict:
  values = np.asarray(values, np.float64)
  std = float(values.std(ddof=1)) if len(values) > 1 else None
  return dict(mean=float(values.mean()), std=std, n=len(values))


def best_baseline(tunings: dict, baseline: str, rivals: tuple[str, ...]) -> str:
  """Of ``baseline`` and its ``rivals`` (existing optimizers), the one of lowest mean final loss
  at its tuned rate on its scoring seeds (the baseline when no rival has been scored)."""
  scored = [
    n for n in (baseline, *rivals) if n in tunings and not tunings[n]["scored_on_tuning_seed"]
  ]

  def mean_final(name):
    return np.mean([r["final"][metric_of(r)] for r in tunings[name]["scoring"].values()])

  return min(scored, key=mean_final) if scored else baseline


def final_rows(tunings: dict, baseline: str, best: str | None = None) -> dict:
  """Per optimizer at its tuned rate: final loss, training slice, gap, paired Δ to the baseline
  (and, when another, to the best baseline ``best``)."""
  rows = {}
  for name, t in tunings.items():
    runs, val = t["scoring"], finals(tunings, name)
    row = dict(rate=t["best"], interior=t["interior"], val=_mean_std(list(val.values())))
    row["given_rate"] = t["given_rate"]
    slice_key = metric_of(next(iter(runs.values())), "train_slice")
    if slice_key in next(iter(runs.values()))["final"]:
      train = [r["final"][slice_key] for r in runs.values()]
      row |= dict(train_slice=_mean_std(train),
                  gap=_mean_std([v - x for v, x in zip(val.values(), train, strict=True)]))  # fmt: skip
    if name != baseline and baseline in tunings:
      row["vs_baseline"] = _paired_to(val, tunings, baseline)
    if best not in (None, baseline, name):
      row["vs_best"] = _paired_to(val, tunings, best)
    rows[name] = row
  return rows


def final_losses(runs: dict) -> dict:
  """{seed: final validation loss} of ``runs`` {seed: record}."""
  return {s: r["final"][metric_of(r)] for s, r in runs.items()}


def finals(tunings: dict, name: str) -> dict:
  """{seed: final validation loss} of ``name`` at its tuned rate, on its scoring seeds."""
  return final_losses(tunings[name]["scoring"])


def _paired_losses(losses: dict, others: dict) -> dict | None:
  """The paired differences ``losses`` − ``others`` ({seed: loss} each) on their common seeds."""
  return paired_row([(s, losses[s] - others[s]) for s in sorted(set(losses) & set(others))])


def _paired_to(val: dict, tunings: dict, other: str) -> dict | None:
  """The paired differences of final losses ``val`` {seed: loss} to ``other``'s, by seed."""
  return _paired_losses(val, finals(tunings, other))


def target_values(base_runs: dict, position: str) -> dict:
  """Target A (the baseline's median final loss) and B (its median loss at half its budget)."""
  finals = list(final_losses(base_runs).values())
  some = next(iter(base_runs.values()))
  positions = [e[position] for e in some["history"]]
  half = min(positions, key=lambda p: abs(p - positions[-1] / 2))
  halves = list(losses_at(base_runs, position, half).values())
  return {
    "A": dict(value=float(np.median(finals)), where=f"tuned baseline's final {position}"),
    "B": dict(value=float(np.median(halves)), where=f"tuned baseline at {position} {half}"),
  }


def time_to_target(tunings: dict, baseline: str, position: str) -> dict:
  """{target: {value, where, optimizers: {name: {per_seed, speedup}}}} at the tuned rates."""
  found = target_values(tunings[baseline]["scoring"], position)
  for target in found.values():
    reached = {
      name: {
        s: targets.first_reaching(r["history"], target["value"], position, metric_of(r))
        for s, r in t["scoring"].items()
      }
      for name, t in tunings.items()
    }
    target["optimizers"] = {
      name: dict(per_seed=per_seed, speedup=targets.speedup(reached[baseline], per_seed, position))
      for name, per_seed in reached.items()
    }
  return found


def policy_summary(tunings: dict) -> dict:
  """ρ and the knobs of each PILOT variant at its tuned rate: range, and mean over the last half."""
  out = {}
  for name, t in tunings.items():
    runs = [r for r in t["scoring"].values() if r.get("policy")]
    if not runs:
      continue
    out[name] = {}
    for knob in ("rho", "pm", "pv", "ps"):
      values = np.array([[p[knob] for p in r["policy"]] for r in runs], np.float64)
      late = values[:, values.shape[1] // 2 :]
      out[name][knob] = dict(min=float(values.min()), max=float(values.max()),
                             late_mean=float(late.mean()))  # fmt: skip
  return out


# The follow-up's variants (benchmarks/optimizers.py): AdamW with one of the frozen policy's knobs
# switched on, and each weight-decay swap with the run it changes.
FROZEN = "pilot_frozen"
KNOB_VARIANTS = {"pilot_pm": "p_m", "pilot_pv": "p_v", "pilot_ps": "p_s"}
WEIGHT_DECAY_SWAPS = {"adamw_wd_pilot": "adamw", "pilot_frozen_wd_adamw": FROZEN}


def knob_rows(tunings: dict, baseline: str) -> dict:
  """Each knob alone: its tuned rate, final loss, and the share of the frozen policy's gain over
  the baseline that it recovers: mean(baseline − knob alone) / mean(baseline − frozen policy),
  over the scoring seeds all three have."""
  if baseline not in tunings or FROZEN not in tunings:
    return {}
  base, frozen, rows = finals(tunings, baseline), finals(tunings, FROZEN), {}
  for name, knob in KNOB_VARIANTS.items():
    if name not in tunings:
      continue
    alone = finals(tunings, name)
    seeds = sorted(set(base) & set(frozen) & set(alone))
    # No seed in common (a knob tuned, not yet scored): no gain to give, rather than a NaN.
    gain = float(np.mean([base[s] - alone[s] for s in seeds])) if seeds else None
    frozen_gain = float(np.mean([base[s] - frozen[s] for s in seeds])) if seeds else None
    rows[name] = dict(
      knob=knob, rate=tunings[name]["best"], val=_mean_std(list(alone.values())), seeds=seeds,
      gain=gain, frozen_gain=frozen_gain, share=gain / frozen_gain if seeds else None,
    )  # fmt: skip
  return rows


def weight_decay_rows(tunings: dict, baseline: str) -> dict:
  """Each weight-decay swap against the run it changes (paired), against the baseline, and the
  frozen policy − AdamW at the swap's weight decay (the swap beside the other's original)."""
  rows = {}
  for name, original in WEIGHT_DECAY_SWAPS.items():
    if name not in tunings or original not in tunings:
      continue
    val = finals(tunings, name)
    decay = {k: next(iter(tunings[k]["scoring"].values()))["hyperparameters"].get("weight_decay")
             for k in (name, original)}  # fmt: skip
    rows[name] = dict(original=original, rate=tunings[name]["best"], weight_decay=decay[name],
                      original_weight_decay=decay[original], val=_mean_std(list(val.values())),
                      vs_original=_paired_to(val, tunings, original),
                      vs_baseline=_paired_to(val, tunings, baseline) if name != baseline else None)  # fmt: skip
    # Each swap takes the other original's weight decay: that original is its equal.
    partner = next(o for o in WEIGHT_DECAY_SWAPS.values() if o != original)
    frozen, adamw = (name, partner) if original == FROZEN else (partner, name)
    if partner in tunings:
      rows[name]["equal_decay"] = dict(frozen=frozen, adamw=adamw, paired=_paired_losses(
        finals(tunings, frozen), finals(tunings, adamw)))  # fmt: skip
  return rows


def losses_at(runs: dict, position: str, where: int) -> dict:
  """{seed: validation loss at ``position`` (step or epoch) ``where``} of ``runs`` {seed: record}."""
  return {s: targets.loss_at(r["history"], position, where, metric_of(r)) for s, r in runs.items()}


def own_schedule(short_records: list, tunings: dict, best: str, baseline: str) -> dict | None:
  """The best baseline on a shorter schedule of its own (same rate), against its full-length runs,
  the baseline's (when the best is a rival) and the frozen policy's loss at the same step: is
  the frozen policy's speedup real?"""
  runs = {r["seed"]: r for r in short_records if r["optimizer"] == best}
  if not runs or best not in tunings:
    return None
  steps = next(iter(runs.values()))["steps"]
  short, full = final_losses(runs), finals(tunings, best)
  out = dict(optimizer=best, steps=steps, full_steps=next(iter(tunings[best]["scoring"].values()))["steps"],
             val=_mean_std(list(short.values())), seeds=sorted(short),
             target=float(np.median(list(full.values()))),
             vs_full=_paired_losses(short, full))  # fmt: skip
  out["reached"] = sum(v <= out["target"] for v in short.values())
  # Its own longer runs read at step N: how far a reading mid-schedule flatters time to target.
  out["vs_full_at_step"] = _paired_losses(short, losses_at(tunings[best]["scoring"], "step", steps))
  if best != baseline and baseline in tunings:
    out["baseline"] = baseline
    out["vs_baseline_full"] = _paired_to(short, tunings, baseline)
  if FROZEN in tunings:
    out["vs_frozen_at_step"] = _paired_losses(
      short, losses_at(tunings[FROZEN]["scoring"], "step", steps)
    )
    out["vs_frozen_final"] = _paired_to(short, tunings, FROZEN)
  return out


def learned_policy_row(tunings: dict) -> dict | None:
  """PILOT − its frozen policy, each at its tuned rate, paired by seed: what the learned policy
  adds (None until both are tuned)."""
  learned, frozen = LEARNED_VS_FROZEN
  if learned not in tunings or frozen not in tunings:
    return None
  return dict(rates=[tunings[n]["best"] for n in LEARNED_VS_FROZEN],
              paired=_paired_to(finals(tunings, learned), tunings, frozen))  # fmt: skip


def rescored_rows(grouped: dict, tunings: dict, tuning_seed: int) -> dict:
  """Each optimizer scored at another rate too (its tuned rate moved since, e.g. to a midpoint):
  {name: {other rate: its tuned rate − that rate, paired by seed}}."""
  rows = {}
  for name, t in tunings.items():
    others = {
      f"{rate:g}": _paired_losses(finals(tunings, name), final_losses(scoring))
      for rate, seeds in grouped[name].items()
      if rate != t["best"]
      and (scoring := {s: r for s, r in seeds.items() if s != tuning_seed})
    }  # fmt: skip
    if others and not t["scored_on_tuning_seed"]:
      rows[name] = others
  return rows


def analyse(
  records: list[dict], baseline: str, rivals: tuple[str, ...] = (), short_records: list = ()
) -> dict:
  """Everything the report says, as JSON-able numbers; ``short_records``: runs on a shorter
  schedule of their own (the best baseline's, for time to target)."""
  grouped = by_optimizer(records)
  if baseline not in grouped:
    raise ValueError(f"no runs of the baseline {baseline!r}; found {sorted(grouped)}.")
  tuning_seed = min(r["seed"] for r in records)
  tunings = {name: tuned(runs, tuning_seed) for name, runs in grouped.items()}
  tunings = {k: v for k, v in tunings.items() if math.isfinite(v["losses"].get(v["best"], 0.0))}
  position = position_key(records[0])
  best = best_baseline(tunings, baseline, rivals)
  return dict(
    baseline=baseline,
    best_baseline=best,
    tuning_seed=tuning_seed,
    position=position,
    metric=metric_of(records[0]),
    sensitivity={
      name: {f"{lr:g}": v for lr, v in sorted(t["losses"].items())}
      for name, t in tunings.items()
      if t["losses"]
    },  # fmt: skip
    scoring_seeds={name: sorted(t["scoring"]) for name, t in tunings.items()},
    scored_on_tuning_seed=sorted(n for n, t in tunings.items() if t["scored_on_tuning_seed"]),
    final=final_rows(tunings, baseline, best),
    time_to_target=time_to_target(tunings, baseline, position),
    policy=policy_summary(tunings),
    knobs=knob_rows(tunings, baseline),
    weight_decay=weight_decay_rows(tunings, baseline),
    own_schedule=own_schedule(short_records, tunings, best, baseline),
    learned_policy=learned_policy_row(tunings),
    rescored=rescored_rows(grouped, tunings, tuning_seed),
  ), tunings


def _ms(cell: dict, digits: int = 3) -> str:
  if cell["std"] is None:
    return f"{cell['mean']:.{digits}f}"
  return f"{cell['mean']:.{digits}f} ± {cell['std']:.{digits}f}"


def _per_seed(row: dict) -> str:
  return ", ".join(f"{d:+.4f}" for d in row["differences"]) or "none"


def _paired(row: dict | None) -> str:
  if row is None:
    return "— | — | —"
  if "mean" not in row:
    return f"{_per_seed(row)} (under 3 seeds) | — | —"
  low, high = row["ci95"]
  return f"{row['mean']:+.4f} | [{low:+.4f}, {high:+.4f}] | {row['p_value']:.3f}"


def sensitivity_markdown(analysis: dict) -> str:
  rates = sorted({float(lr) for row in analysis["sensitivity"].values() for lr in row})
  head = "| optimizer | " + " | ".join(f"{lr:g}" for lr in rates) + " | best |"
  lines = [head, "|---" * (len(rates) + 2) + "|"]
  for name, row in analysis["sensitivity"].items():
    best = analysis["final"][name]["rate"]
    cells = []
    for lr in rates:
      value = row.get(f"{lr:g}")
      text = "" if value is None else ("diverged" if not math.isfinite(value) else f"{value:.4f}")
      cells.append(f"**{text}**" if value is not None and lr == best else text)
    edge = "" if analysis["final"][name]["interior"] else " (at an edge)"
    lines.append(f"| {LABELS.get(name, name)} | " + " | ".join(cells) + f" | {best:g}{edge} |")
  return "\n".join(lines)


def final_markdown(analysis: dict) -> str:
  base, metric = LABELS.get(analysis["baseline"], analysis["baseline"]), analysis["metric"]
  best = analysis.get("best_baseline", analysis["baseline"])
  extra = best != analysis["baseline"]
  head = (
    f"| optimizer | rate | seeds | final {metric} | train slice | gap | Δ vs {base} | 95% CI | p |"
  )
  if extra:
    head += f" Δ vs {LABELS.get(best, best)} (best baseline) | 95% CI | p |"
  lines = [head, "|---|---|---|---|---|---|---|---|---|" + ("---|---|---|" if extra else "")]
  for name, row in analysis["final"].items():
    seeds = ",".join(map(str, analysis["scoring_seeds"][name]))
    train = _ms(row["train_slice"]) if "train_slice" in row else "—"
    gap = _ms(row["gap"]) if "gap" in row else "—"
    rate = f"{row['rate']:g}" + (" (given)" if row.get("given_rate") else "")
    lines.append(f"| {LABELS.get(name, name)} | {rate} | {seeds} | {_ms(row['val'])} | "
                 f"{train} | {gap} | {_paired(row.get('vs_baseline'))} |"
                 + (f" {_paired(row.get('vs_best'))} |" if extra else ""))  # fmt: skip
  return "\n".join(lines)


def _reached_cell(result: dict, position: str) -> str:
  if position in result:
    return f"{result[position]} ({result['seconds']:.0f} s)"
  return f"not reached (missed by {result['missed_by']:.4f})"


def target_markdown(analysis: dict) -> str:
  position, blocks = analysis["position"], []
  for label, target in analysis["time_to_target"].items():
    lines = [
      f"Target {label}: {analysis['metric']} ≤ {target['value']:.4f} ({target['where']}).",
      "",
      f"| optimizer | per seed: {position} (training seconds) | reached | speedup vs baseline "
      "(per seed, or geometric mean) | 95% CI |",
      "|---|---|---|---|---|",
    ]
    for name, entry in target["optimizers"].items():
      per_seed = "; ".join(f"seed {s}: {_reached_cell(r, position)}"
                           for s, r in sorted(entry["per_seed"].items()))  # fmt: skip
      speed, runs = entry["speedup"], entry["per_seed"]
      reached = f"{sum(position in r for r in runs.values())} of {len(runs)}"
      if "geometric_mean" in speed:
        low, high = speed["ci95"]
        gain, interval = f"{speed['geometric_mean']:.2f}×", f"[{low:.2f}, {high:.2f}]"
      else:
        gain, interval = ", ".join(f"{x:.2f}×" for x in speed["ratios"]) or "—", "—"
      lines.append(f"| {LABELS.get(name, name)} | {per_seed} | {reached} | {gain} | {interval} |")
    blocks.append("\n".join(lines))
  return "\n\n".join(blocks)


def policy_markdown(analysis: dict) -> str:
  lines = ["| run | ρ range | ρ, late mean | p_m range | p_v range | p_s range |",
           "|---|---|---|---|---|---|"]  # fmt: skip
  for name, knobs in analysis["policy"].items():
    cells = [f"{knobs['rho']['min']:+.3f} … {knobs['rho']['max']:+.3f}",
             f"{knobs['rho']['late_mean']:+.3f}"]  # fmt: skip
    cells += [f"{knobs[k]['min']:.3f} … {knobs[k]['max']:.3f}" for k in ("pm", "pv", "ps")]
    lines.append(f"| {LABELS.get(name, name)} | " + " | ".join(cells) + " |")
  return "\n".join(lines)


def knob_markdown(analysis: dict) -> str:
  base, metric = LABELS.get(analysis["baseline"], analysis["baseline"]), analysis["metric"]
  lines = [f"| knob switched on (the others at Adam's) | tuned rate | final {metric} | "
           f"gain over {base} | the frozen policy's gain | share recovered | seeds |",
           "|---|---|---|---|---|---|---|"]  # fmt: skip
  for name, row in analysis["knobs"].items():
    share = "—" if row["share"] is None else f"{row['share']:.0%}"
    gains = [("—" if g is None else f"{g:+.4f}") for g in (row["gain"], row["frozen_gain"])]
    seeds = ",".join(map(str, row["seeds"])) or "none in common (not yet scored)"
    lines.append(f"| {LABELS.get(name, name)} | {row['rate']:g} | {_ms(row['val'])} | "
                 f"{gains[0]} | {gains[1]} | {share} | {seeds} |")  # fmt: skip
  return "\n".join(lines)


def weight_decay_markdown(analysis: dict) -> str:
  base, metric = LABELS.get(analysis["baseline"], analysis["baseline"]), analysis["metric"]
  lines = [f"| run | weight decay (was) | rate | final {metric} | Δ vs the original | 95% CI | p | "
           f"Δ vs {base} | 95% CI | p |", "|---|---|---|---|---|---|---|---|---|---|"]  # fmt: skip
  for name, row in analysis["weight_decay"].items():
    lines.append(f"| {LABELS.get(name, name)} | {row['weight_decay']:g} "
                 f"({row['original_weight_decay']:g}) | {row['rate']:g} | {_ms(row['val'])} | "
                 f"{_paired(row['vs_original'])} | {_paired(row['vs_baseline'])} |")  # fmt: skip
  equal = [(row["weight_decay"], row["equal_decay"]) for row in analysis["weight_decay"].values()
           if "equal_decay" in row]  # fmt: skip
  if equal:
    lines += ["", "The frozen policy − AdamW at equal weight decay (one of the two swapped):", "",
              "| weight decay | frozen policy | AdamW | Δ | 95% CI | p |", "|---|---|---|---|---|---|"]  # fmt: skip
    lines += [f"| {decay:g} | {LABELS.get(pair['frozen'], pair['frozen'])} | "
              f"{LABELS.get(pair['adamw'], pair['adamw'])} | {_paired(pair['paired'])} |"
              for decay, pair in sorted(equal, key=lambda e: e[0])]  # fmt: skip
  return "\n".join(lines)


def own_schedule_markdown(analysis: dict) -> str:
  row, metric = analysis["own_schedule"], analysis["metric"]
  name = LABELS.get(row["optimizer"], row["optimizer"])
  lines = [
    f"{name} on a {row['steps']}-step schedule of its own (the same rate and warm-up fraction), "
    f"seeds {','.join(map(str, row['seeds']))}: final {metric} {_ms(row['val'])}; at or below "
    f"its own {row['full_steps']}-step median ({row['target']:.4f}) on {row['reached']} of "
    f"{len(row['seeds'])} seeds.",
    "",
    "| paired difference of its final loss to | mean | 95% CI | p |",
    "|---|---|---|---|",
    f"| {name}, {row['full_steps']} steps | {_paired(row['vs_full'])} |",
    f"| {name} at step {row['steps']} of {row['full_steps']} | {_paired(row['vs_full_at_step'])} |",
  ]
  if "vs_baseline_full" in row:
    lines.append(f"| {LABELS.get(row['baseline'], row['baseline'])}, {row['full_steps']} steps | "
                 f"{_paired(row['vs_baseline_full'])} |")  # fmt: skip
  if "vs_frozen_at_step" in row:
    frozen = LABELS.get(FROZEN, FROZEN)
    lines += [f"| {frozen} at step {row['steps']} of {row['full_steps']} | "
              f"{_paired(row['vs_frozen_at_step'])} |",
              f"| {frozen}, {row['full_steps']} steps | {_paired(row['vs_frozen_final'])} |"]  # fmt: skip
  return "\n".join(lines)


def learned_policy_markdown(analysis: dict) -> str:
  row = analysis["learned_policy"]
  learned, frozen = (LABELS.get(n, n) for n in LEARNED_VS_FROZEN)
  rates = " − ".join(f"{r:g}" for r in row["rates"])
  return "\n".join([
    "| pair | rates | seeds | per seed | Δ | 95% CI | p |", "|---|---|---|---|---|---|---|",
    f"| {learned} − {frozen} | {rates} | {','.join(map(str, row['paired']['seeds']))} | "
    f"{_per_seed(row['paired'])} | {_paired(row['paired'])} |",
  ])  # fmt: skip


def rescored_markdown(analysis: dict) -> str:
  lines = ["| optimizer | tuned rate − other rate | seeds | per seed | Δ | 95% CI | p |",
           "|---|---|---|---|---|---|---|"]  # fmt: skip
  for name, others in analysis["rescored"].items():
    for rate, row in others.items():
      lines.append(f"| {LABELS.get(name, name)} | {analysis['final'][name]['rate']:g} − {rate} | "
                   f"{','.join(map(str, row['seeds']))} | {_per_seed(row)} | {_paired(row)} |")  # fmt: skip
  return "\n".join(lines)


def markdown(analysis: dict, step_costs: dict | None) -> str:
  parts = [
    f"Tuned on seed {analysis['tuning_seed']} (final {analysis['metric']} by peak rate; the best "
    "in bold):",
    sensitivity_markdown(analysis),
    "At each optimizer's tuned rate, on the scoring seeds:",
    final_markdown(analysis),
  ]
  if analysis["scored_on_tuning_seed"]:
    names = ", ".join(LABELS.get(n, n) for n in analysis["scored_on_tuning_seed"])
    parts.append(f"Not yet scored apart from tuning (only the tuning seed has run): {names}.")
  parts += [
    "Time to target (the first evaluation at or below it; the speedup is the baseline's "
    f"{analysis['position']}s over the optimizer's, on seeds where both reached it; training "
    "seconds are as each run measured them, in its own program on a shared machine, so the "
    f"{analysis['position']}s are the comparable count and the step costs below the price):",
    target_markdown(analysis),
  ]
  if analysis.get("own_schedule"):
    parts += ["Time to target on a schedule of its own (does the best baseline, given fewer "
              "steps, end as low?):", own_schedule_markdown(analysis)]  # fmt: skip
  if analysis.get("knobs"):
    parts += ["One knob at a time (AdamW with one of the frozen policy's knobs at its frozen "
              "value, each tuned; the share is of the frozen policy's gain, on common seeds):",
              knob_markdown(analysis)]  # fmt: skip
  if analysis.get("weight_decay"):
    parts += ["Weight decay out of the way (each at the original's tuned rate):",
              weight_decay_markdown(analysis)]  # fmt: skip
  if analysis.get("learned_policy"):
    parts += ["What the learned policy adds (PILOT − its frozen policy, each at its tuned rate, "
              "paired by seed):", learned_policy_markdown(analysis)]  # fmt: skip
  if analysis.get("rescored"):
    parts += ["Scored at another rate too (the tuning moved since; the tuned rate − the other, "
              "paired by seed):", rescored_markdown(analysis)]  # fmt: skip
  if analysis["policy"]:
    parts += ["PILOT's policy at its tuned rate (every recorded step):", policy_markdown(analysis)]
  if step_costs:
    # Only this report's optimizers: one measurement file serves the sweep and its follow-up.
    median = {n: s for n, s in step_costs["seconds_per_step_median"].items()
              if n in analysis["final"] or n == "adamw"}  # fmt: skip
    base = median.get("adamw") or next(iter(median.values()))
    parts.append("Seconds per training step, measured side by side in one program "
                 f"(`{step_costs['command']}`): " + ", ".join(
                   f"{LABELS.get(n, n)} {s:.4f} ({s / base:.3f}×)" for n, s in median.items()))  # fmt: skip
  return "\n\n".join(parts) + "\n"


def main(argv=None) -> None:
  parser = argparse.ArgumentParser(
    prog="python -m benchmarks.lm_report",
    description=__doc__,
    formatter_class=argparse.RawDescriptionHelpFormatter,  # keeps the bullet list a list
  )
  parser.add_argument(
    "directories", type=Path, nargs="+", metavar="DIR",
    help="the sweep's folders of result JSONs, read as one; the report goes into the last",
  )  # fmt: skip
  parser.add_argument(
    "--rivals", default="nadamw",
    help="comma list of existing optimizers that, with the baseline, may be the best baseline",
  )  # fmt: skip
  parser.add_argument(
    "--baseline", default="adamw", help="the optimizer the others are timed against"
  )
  parser.add_argument("--step-costs", type=Path, default=None,
                      help="benchmarks.speed.lm_step's JSON (seconds per step, one program)")  # fmt: skip
  parser.add_argument("--no-plots", action="store_true", help="tables only")
  parser.add_argument("--markdown", type=Path, default=None,
                      help="where the tables go (default DIR/lm_report.md); a README copies a "
                           "snapshot from a path of its own while a sweep still adds runs")  # fmt: skip
  args = parser.parse_args(argv)
  try:
    records = load(*args.directories)
    rivals = tuple(n for n in args.rivals.split(",") if n.strip())
    # A shorter schedule's folder holds only checkpoints until its first run ends: not yet read.
    shorter = sorted(p for d in args.directories for p in Path(d).glob("steps_*")
                     if p.is_dir() and any(p.glob("*.json")))  # fmt: skip
    short_records = load(*shorter) if shorter else []
    analysis, tunings = analyse(records, args.baseline, rivals, short_records)
  except ValueError as e:
    sys.exit(f"error: {e}")
  args.directory = args.directories[-1]
  step_costs = json.loads(args.step_costs.read_text()) if args.step_costs else None
  text = markdown(analysis, step_costs)
  print(text)
  (args.markdown or args.directory / "lm_report.md").write_text(text)
  (args.directory / "lm_summary.json").write_text(json.dumps(analysis, indent=1))
  if not args.no_plots:
    from benchmarks import lm_plots

    for path in lm_plots.plot_all(analysis, tunings, args.directory):
      print(f"wrote {path}")


if __name__ == "__main__":
  main()
