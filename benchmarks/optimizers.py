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

import dataclasses
from collections.abc import Callable

import optax
import optax.contrib

from pilot_optax import pilot

# The paper's configuration-specific selections for PILOT: (gamma, lr_phi, degree).
PILOT_TUNED = {
  ("cifar10", "cnn"): dict(gamma=0.882, lr_phi=0.00312, degree=1),
  ("cifar10", "resnet18"): dict(gamma=0.950, lr_phi=0.00500, degree=2),
  ("fashionmnist", "cnn"): dict(gamma=0.950, lr_phi=0.01000, degree=2),
  ("fashionmnist", "resnet18"): dict(gamma=0.957, lr_phi=0.00273, degree=3),
  # The paper has no text workload: the reference's (and pilot_optax's) defaults.
  ("bible", "transformer"): dict(gamma=0.95, lr_phi=0.01, degree=2),
}


@dataclasses.dataclass(frozen=True)
class Entry:
  """One optimizer of the comparison: how it is named, tuned and built.

  ``build(schedule, hyperparameters, mask)`` returns the optax transformation (``mask``: the
  weight-decay mask, None to decay every parameter); ``lr_phi_factor``
  (PILOT's family only) scales the paper's η_φ; ``needs_objective``: its update takes the
  loss (``obj_fn=``) to estimate a Hessian; ``ablation``: not one of the paper's six.
  """

  label: str
  peak_learning_rate: float
  weight_decay: float
  build: Callable[[optax.Schedule, dict, object], optax.GradientTransformationExtraArgs]
  lr_phi_factor: float | None = None
  needs_objective: bool = False
  ablation: bool = False

  @property
  def is_pilot(self) -> bool:
    """PILOT or one of its ablations: its runs record the policy."""
    return self.lr_phi_factor is not None


def _pilot(schedule, hp, mask):
  return pilot(
    schedule, weight_decay=hp["weight_decay"], gamma=hp["gamma"], lr_phi=hp["lr_phi"],
    degree=hp["degree"], mask=mask,
  )  # fmt: skip


REGISTRY: dict[str, Entry] = {
  "pilot": Entry("PILOT", 1e-3, 1e-4, _pilot, lr_phi_factor=1.0),
  "adam": Entry("Adam", 1e-3, 0.0, lambda s, hp, mask: optax.adam(s)),
  "adamw": Entry("AdamW", 1e-3, 1e-2, lambda s, hp, mask: optax.adamw(s, weight_decay=hp["weight_decay"], mask=mask)),
  "lion": Entry("Lion", 1e-4, 1e-2, lambda s, hp, mask: optax.lion(s, weight_decay=hp["weight_decay"], mask=mask)),
  "adabelief": Entry("AdaBelief", 1e-3, 0.0, lambda s, hp, mask: optax.adabelief(s)),
  "sophia": Entry(
    "Sophia", 2e-4, 1e-4,
    lambda s, hp, mask: optax.contrib.sophia(s, weight_decay=hp["weight_decay"], weight_decay_mask=mask),
    needs_objective=True,
  ),
  "pilot_frozen": Entry("PILOT, frozen policy", 1e-3, 1e-4, _pilot, lr_phi_factor=0.0, ablation=True),
  "pilot_fast_policy": Entry("PILOT, 10× η_φ", 1e-3, 1e-4, _pilot, lr_phi_factor=10.0, ablation=True),
}  # fmt: skip
# Every name `--optimizer` accepts, in the order tables list them; 'all' is the paper's six.
ALL_NAMES = tuple(REGISTRY)
OPTIMIZERS = tuple(name for name, entry in REGISTRY.items() if not entry.ablation)
LABELS = {name: entry.label for name, entry in REGISTRY.items()}


def listing_order(name: str) -> int:
  """Where tables and plots list optimizer ``name``: registry order, unknown names last."""
  return ALL_NAMES.index(name) if name in ALL_NAMES else len(ALL_NAMES)


@dataclasses.dataclass(frozen=True)
class Resolved:
  """An optimizer resolved for one run: its entry and its hyperparameters for that run."""

  name: str
  entry: Entry
  hyperparameters: dict

  def make(self, schedule: optax.Schedule, mask=None) -> optax.GradientTransformationExtraArgs:
    """The optax transformation, its learning rate following ``schedule``; weight decay on the
    parameters ``mask`` selects (a pytree of bools or a function of the params; None: all)."""
    return self.entry.build(schedule, self.hyperparameters, mask)


def resolve(name: str, dataset: str, arch: str, peak_lr: float | None = None) -> Resolved:
  """The optimizer ``name`` for (dataset, arch); ``peak_lr`` replaces its documented peak."""
  if name not in REGISTRY:
    raise ValueError(f"unknown optimizer {name!r}; choose from {', '.join(ALL_NAMES)}.")
  entry = REGISTRY[name]
  hp = {
    "peak_learning_rate": entry.peak_learning_rate if peak_lr is None else float(peak_lr),
    "weight_decay": entry.weight_decay,
  }
  if entry.is_pilot:
    tuned = PILOT_TUNED[(dataset, arch)]
    hp |= tuned | {"lr_phi": tuned["lr_phi"] * entry.lr_phi_factor}
  return Resolved(name, entry, hp)


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
