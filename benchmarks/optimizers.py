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

Where does the frozen policy's gain come from? Its knobs are three constants, so it is compared
with its named relatives and taken apart one knob at a time (the language-model follow-up,
``benchmarks/lm_followup_run.sh``):

| entry                | what it is |
|---|---|
| nadamw               | optax.nadamw (Nesterov momentum: n ≈ 0.9·m̂ + 0.1·g), AdamW's settings |
| pilot_pm             | AdamW but p_m = σ(1.4) ≈ 0.802 (QHAdam with ν ≈ 0.8): p_v, p_s pinned at Adam's ½, 0 |
| pilot_pv             | AdamW but p_v = ½σ(3) ≈ 0.476 (the step divides by v̂^0.476): p_m, p_s at Adam's 1, 0 |
| pilot_ps             | AdamW but p_s = σ(−2) ≈ 0.119 (|n|^0.881 sign n): p_m, p_v at Adam's 1, ½ |
| adamw_wd_pilot       | AdamW at PILOT's weight decay, 1e-4 |
| pilot_frozen_wd_adamw | the frozen policy at AdamW's weight decay, 1e-2 |
| adamw_b2_095         | AdamW with b2 = 0.95, common for language models (``benchmarks/lm_midpoints_run.sh``) |

The three one-knob variants are ``pilot(lr_phi=0, policy_overrides=...)`` at AdamW's weight
decay, so that each differs from AdamW in that one knob only; all three pinned at Adam's values
would be AdamW itself (tested).

The learning rate follows the protocol's schedule (cosine decay per step, with a
3-epoch linear warm-up for ResNet-18), scaled to each optimizer's peak.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from typing import TYPE_CHECKING

if TYPE_CHECKING:  # optax (and JAX) load when an optimizer is built, not when the registry is read
  import optax

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
  weight-decay mask, None to decay every parameter); ``options``: an optax entry's other
  arguments (``b2=0.95``), recorded with its hyperparameters; ``lr_phi_factor``
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
  policy_overrides: dict | None = None
  options: dict | None = None

  @property
  def is_pilot(self) -> bool:
    """PILOT or one of its ablations: its runs record the policy."""
    return self.lr_phi_factor is not None


def _pilot(schedule, hp, mask):
  from pilot_optax import pilot

  return pilot(
    schedule, weight_decay=hp["weight_decay"], gamma=hp["gamma"], lr_phi=hp["lr_phi"],
    degree=hp["degree"], mask=mask, policy_overrides=hp.get("policy_overrides"),
  )  # fmt: skip


def _one_knob(knob: str) -> Entry:
  """AdamW with one of PILOT's frozen knobs switched on: the other two pinned at Adam's values."""
  adam_knobs = {"pm": 1.0, "pv": 0.5, "ps": 0.0}
  del adam_knobs[knob]
  label = {"pm": "p_m alone (QHAdam-like)", "pv": "p_v alone", "ps": "p_s alone"}[knob]
  return Entry(label, 1e-3, 1e-2, _pilot, lr_phi_factor=0.0, ablation=True,
               policy_overrides=adam_knobs)  # fmt: skip


def _optax(name: str) -> Callable:
  """The builder of optax's optimizer ``name`` (``optax.contrib`` for sophia), with the entry's
  options and its weight decay when it has one."""

  def build(schedule, hp, mask):
    import optax
    import optax.contrib

    make = getattr(optax.contrib, name) if name == "sophia" else getattr(optax, name)
    options = {k: v for k, v in hp.items() if k not in ("peak_learning_rate", "weight_decay")}
    if hp["weight_decay"] == 0:
      return make(schedule, **options)
    mask_name = "weight_decay_mask" if name == "sophia" else "mask"
    return make(schedule, weight_decay=hp["weight_decay"], **{mask_name: mask}, **options)

  return build


REGISTRY: dict[str, Entry] = {
  "pilot": Entry("PILOT", 1e-3, 1e-4, _pilot, lr_phi_factor=1.0),
  "adam": Entry("Adam", 1e-3, 0.0, _optax("adam")),
  "adamw": Entry("AdamW", 1e-3, 1e-2, _optax("adamw")),
  "lion": Entry("Lion", 1e-4, 1e-2, _optax("lion")),
  "adabelief": Entry("AdaBelief", 1e-3, 0.0, _optax("adabelief")),
  "sophia": Entry(
    "Sophia", 2e-4, 1e-4,
    _optax("sophia"),
    needs_objective=True,
  ),
  "pilot_frozen": Entry("PILOT, frozen policy", 1e-3, 1e-4, _pilot, lr_phi_factor=0.0, ablation=True),
  "pilot_fast_policy": Entry("PILOT, 10× η_φ", 1e-3, 1e-4, _pilot, lr_phi_factor=10.0, ablation=True),
  "nadamw": Entry("NAdamW", 1e-3, 1e-2, _optax("nadamw"), ablation=True),
  "pilot_pm": _one_knob("pm"),
  "pilot_pv": _one_knob("pv"),
  "pilot_ps": _one_knob("ps"),
  "adamw_wd_pilot": Entry("AdamW, wd 1e-4", 1e-3, 1e-4, _optax("adamw"), ablation=True),
  "pilot_frozen_wd_adamw": Entry("PILOT frozen, wd 1e-2", 1e-3, 1e-2, _pilot, lr_phi_factor=0.0, ablation=True),
  "adamw_b2_095": Entry("AdamW, b2 0.95", 1e-3, 1e-2, _optax("adamw"), ablation=True, options={"b2": 0.95}),
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
    if entry.policy_overrides:
      hp["policy_overrides"] = dict(entry.policy_overrides)
  return Resolved(name, entry, hp | (entry.options or {}))


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
  import optax

  if warmup_steps:
    return optax.warmup_cosine_decay_schedule(0.0, peak, warmup_steps, total_steps, end_value=0.0)
  return optax.cosine_decay_schedule(peak, total_steps)
