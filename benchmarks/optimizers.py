"""The six optimizers of the comparison and their hyperparameters, in one place.

Every baseline is optax's own implementation. The paper gives PILOT's tuned
(γ, η_φ, degree) per dataset and architecture (its "configuration-specific
selections"); it does not give the baselines' learning rates or weight decays,
so we use each method's standard recommendation:

| optimizer | peak learning rate | weight decay | other |
|---|---|---|---|
| pilot     | 1e-3 | 1e-4 (decoupled) | (γ, η_φ, degree) from PILOT_TUNED |
| adam      | 1e-3 | 0 | b1 0.9, b2 0.999, eps 1e-8 |
| adamw     | 1e-3 | 1e-2 (PyTorch's AdamW default) | |
| lion      | 1e-4 | 1e-2 | lr 10x smaller and decay 10x larger than AdamW's, as the Lion paper advises |
| adabelief | 1e-3 | 0 | eps 1e-16 (optax default) |
| sophia    | 2e-4 | 1e-4 | optax.contrib.sophia defaults (gamma 0.01, clip 1, Hessian every 10 steps) |

Two ablations of PILOT ask whether its *learned* policy matters (they are not
part of ``--optimizer all``, which stays the paper's six):

| ablation          | what differs from pilot |
|---|---|
| pilot_frozen      | η_φ = 0: the knobs stay at their initial "near Adam" values (p_m ≈ 0.802, p_v ≈ 0.476, p_s ≈ 0.119) |
| pilot_fast_policy | η_φ ten times the paper's value for the configuration |

The learning rate follows the protocol's schedule (cosine decay per step, with a
3-epoch linear warm-up for ResNet-18), scaled to each optimizer's peak.
"""

from __future__ import annotations

import optax
import optax.contrib

from pilot_optax import pilot

OPTIMIZERS = ("pilot", "adam", "adamw", "lion", "adabelief", "sophia")
ABLATIONS = ("pilot_frozen", "pilot_fast_policy")
# Every name `--optimizer` accepts; the PILOT family records its policy.
ALL_NAMES = OPTIMIZERS + ABLATIONS
PILOT_FAMILY = frozenset({"pilot", *ABLATIONS})

# η_φ of each PILOT variant, as a multiple of the paper's tuned value.
LR_PHI_FACTOR = {"pilot": 1.0, "pilot_frozen": 0.0, "pilot_fast_policy": 10.0}

PEAK_LEARNING_RATE = {
  "pilot": 1e-3,
  "adam": 1e-3,
  "adamw": 1e-3,
  "lion": 1e-4,
  "adabelief": 1e-3,
  "sophia": 2e-4,
}
WEIGHT_DECAY = {
  "pilot": 1e-4,
  "adam": 0.0,
  "adamw": 1e-2,
  "lion": 1e-2,
  "adabelief": 0.0,
  "sophia": 1e-4,
}

# The paper's configuration-specific selections for PILOT: (gamma, lr_phi, degree).
PILOT_TUNED = {
  ("cifar10", "cnn"): dict(gamma=0.882, lr_phi=0.00312, degree=1),
  ("cifar10", "resnet18"): dict(gamma=0.950, lr_phi=0.00500, degree=2),
  ("fashionmnist", "cnn"): dict(gamma=0.950, lr_phi=0.01000, degree=2),
  ("fashionmnist", "resnet18"): dict(gamma=0.957, lr_phi=0.00273, degree=3),
}

# Optimizers whose update needs the objective (`obj_fn=`) to estimate a Hessian.
NEEDS_OBJECTIVE = frozenset({"sophia"})


def parse_names(names: str) -> list[str]:
  """'all' (the paper's six) or a comma list of ALL_NAMES, validated."""
  chosen = (
    list(OPTIMIZERS)
    if names.strip() == "all"
    else [n.strip() for n in names.split(",") if n.strip()]
  )
  unknown = [n for n in chosen if n not in ALL_NAMES]
  if unknown or not chosen:
    raise ValueError(
      f"--optimizer: unknown {unknown or names!r}; choose from {', '.join(ALL_NAMES)} or 'all'."
    )
  return chosen


def learning_rate_schedule(peak: float, total_steps: int, warmup_steps: int = 0) -> optax.Schedule:
  """Cosine decay to 0 over `total_steps`, after `warmup_steps` of linear warm-up."""
  if warmup_steps:
    return optax.warmup_cosine_decay_schedule(0.0, peak, warmup_steps, total_steps, end_value=0.0)
  return optax.cosine_decay_schedule(peak, total_steps)


def hyperparameters(name: str, dataset: str, arch: str, peak_lr: float | None = None) -> dict:
  """The documented hyperparameters of `name` for this dataset and architecture.

  ``peak_lr`` replaces the documented peak learning rate (a learning-rate sweep).
  """
  base = "pilot" if name in PILOT_FAMILY else name
  peak = PEAK_LEARNING_RATE[base] if peak_lr is None else float(peak_lr)
  hp = {"peak_learning_rate": peak, "weight_decay": WEIGHT_DECAY[base]}
  if name in PILOT_FAMILY:
    tuned = PILOT_TUNED[(dataset, arch)]
    hp |= tuned | {"lr_phi": tuned["lr_phi"] * LR_PHI_FACTOR[name]}
  return hp


def make_optimizer(
  name: str, dataset: str, arch: str, schedule: optax.Schedule
) -> optax.GradientTransformationExtraArgs:
  hp = hyperparameters(name, dataset, arch)
  wd = hp["weight_decay"]
  if name in PILOT_FAMILY:
    return pilot(
      schedule, weight_decay=wd, gamma=hp["gamma"], lr_phi=hp["lr_phi"], degree=hp["degree"]
    )
  if name == "adam":
    return optax.adam(schedule)
  if name == "adamw":
    return optax.adamw(schedule, weight_decay=wd)
  if name == "lion":
    return optax.lion(schedule, weight_decay=wd)
  if name == "adabelief":
    return optax.adabelief(schedule)
  if name == "sophia":
    return optax.contrib.sophia(schedule, weight_decay=wd)
  raise ValueError(f"unknown optimizer {name!r}; choose from {ALL_NAMES}.")
