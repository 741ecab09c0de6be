"""Validation of hyperparameters at construction time.

Only concrete numbers are checked: inside `optax.inject_hyperparams` the
hyperparameters arrive as traced arrays, and schedules are callables.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import jax
import numpy as np

from pilot_optax._policy import KNOB_RANGES


def concrete(value: Any) -> float | None:
  """The value as a float, or None when it cannot be known before tracing."""
  if callable(value) or isinstance(value, jax.core.Tracer):
    return None
  array = np.asarray(value)
  if array.size != 1:
    return None
  return float(array.reshape(()))


def check_range(
  name: str,
  value: Any,
  low: float,
  high: float = float("inf"),
  *,
  high_open: bool = False,
) -> None:
  """Raises ValueError unless ``low <= value <= high`` (``< high`` if open)."""
  x = concrete(value)
  if x is None:
    return
  above = x >= high if high_open else x > high
  if not x >= low or above:  # `not >=` also catches NaN.
    bracket = ")" if high_open else "]"
    raise ValueError(f"{name} must lie in [{low}, {high}{bracket}; got {value!r}.")


def check_degree(degree: Any) -> None:
  """Raises ValueError unless degree is a Python int >= 1 (bools excluded)."""
  if isinstance(degree, bool) or not isinstance(degree, int) or degree < 1:
    raise ValueError(
      f"degree must be a Python int >= 1 (it sets the size of phi); got {degree!r}."
      " Under optax.inject_hyperparams, pass static_args=('degree',)."
    )


def check_policy_overrides(overrides: Mapping[str, Any] | None) -> None:
  """Raises ValueError for unknown knobs or pinned values out of range."""
  if overrides is None:
    return
  if not isinstance(overrides, Mapping):
    raise ValueError(
      f"policy_overrides must be a mapping such as {{'pm': 1.0}}; got {type(overrides).__name__}."
    )
  for key, value in overrides.items():
    if key not in KNOB_RANGES:
      raise ValueError(
        f"policy_overrides has unknown key {key!r}; allowed keys: {sorted(KNOB_RANGES)}."
      )
    low, high = KNOB_RANGES[key]
    check_range(f"policy_overrides[{key!r}]", value, low, high)
