"""Validation of hyperparameters at construction time.

Only concrete numbers are checked: inside `optax.inject_hyperparams` the
hyperparameters arrive as traced arrays, and schedules are callables.
"""

import math
from collections.abc import Mapping
from typing import Any

import jax
import jax.numpy as jnp
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


def check_type(name: str, value: Any, *, schedule_ok: bool = False) -> None:
  """Raises TypeError unless ``value`` is a real number (or a schedule, if allowed).

  Accepted: Python ints and floats, real NumPy/JAX scalars (shape ()), traced values (``optax.inject_hyperparams``) and, when
  ``schedule_ok``, callables ``count -> value``.
  """
  if isinstance(value, jax.core.Tracer) or (schedule_ok and callable(value)):
    return
  dtype = getattr(value, "dtype", None)
  if isinstance(value, bool) or (dtype is not None and dtype == np.bool_):
    ok = False
  elif isinstance(value, int | float):
    ok = True
  elif dtype is not None:
    real = jnp.issubdtype(dtype, jnp.integer) or jnp.issubdtype(dtype, jnp.floating)
    ok = real and np.ndim(value) == 0
  else:
    ok = False
  if not ok:
    accepted = "a real number (float, int or a real scalar array of shape ())"
    if schedule_ok:
      accepted += " or an optax schedule (a callable count -> value)"
    raise TypeError(f"{name} must be {accepted}; got {type(value).__name__} {value!r}.")


def check_range(
  name: str,
  value: Any,
  low: float,
  high: float = float("inf"),
  *,
  high_open: bool = False,
  schedule_ok: bool = False,
) -> None:
  """Raises ValueError unless ``value`` is finite and ``low <= value <= high`` (``< high`` if open).

  Every hyperparameter must be finite: an infinite one (``optax.adamw`` takes ``inf``) would turn
  the parameters into NaN at the first step. Raises TypeError (from :func:`check_type`) for a
  value that is not a number, or a schedule where ``schedule_ok``.
  """
  check_type(name, value, schedule_ok=schedule_ok)
  x = concrete(value)
  if x is None:
    return
  above = x >= high if high_open else x > high
  if math.isfinite(x) and x >= low and not above:
    return
  if math.isinf(high):
    allowed = f"a finite number >= {low}"
  else:
    allowed = f"a finite number in [{low}, {high}{')' if high_open else ']'}"
  raise ValueError(f"{name} must be {allowed}; got {value!r}.")


def check_degree(degree: Any) -> int:
  """``degree`` as a Python int; TypeError unless it is an integer (bools excluded), ValueError if < 1.

  Python ints and NumPy integer scalars are accepted (``np.int64(2)`` is an
  integer); a JAX array is not, since the degree sets the size of φ. Only for
  a JAX array (what ``optax.inject_hyperparams`` passes, concrete or traced)
  does the message add advice about ``static_args``.
  """
  is_integer = isinstance(degree, int | np.integer) and not isinstance(degree, bool | np.bool_)
  what = "degree must be an integer >= 1 (it sets the size of phi)"
  if isinstance(degree, jax.Array):
    raise TypeError(
      f"{what}; got a JAX array {degree!r}. Under optax.inject_hyperparams, which passes"
      " hyperparameters as arrays, pass static_args=('degree',)."
    )
  if not is_integer:
    raise TypeError(f"{what}; got {type(degree).__name__} {degree!r}.")
  if degree < 1:
    raise ValueError(f"{what}; got {degree!r}.")
  return int(degree)


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


def _why_untrainable(dtype) -> str | None:
  """Why PILOT cannot train a leaf of this dtype, or None when it can."""
  if jnp.issubdtype(dtype, jnp.complexfloating):
    return (
      "complex (PILOT's sign and fractional powers are defined for real numbers;"
      " split the parameter into real and imaginary parts)"
    )
  if not jnp.issubdtype(dtype, jnp.floating):
    return "not floating point (moments and steps need a float dtype; cast the parameter first)"
  return None


def check_mu_dtype(mu_dtype: Any) -> None:
  """Raises ValueError unless ``mu_dtype`` is None or a real floating dtype."""
  if mu_dtype is None:
    return
  why = _why_untrainable(jnp.dtype(mu_dtype))
  if why:
    raise ValueError(f"mu_dtype must be a real floating dtype; {jnp.dtype(mu_dtype)} is {why}.")


def check_params(params: Any) -> None:
  """Raises ValueError naming the first leaf whose dtype PILOT cannot train."""
  for path, leaf in jax.tree.leaves_with_path(params):
    dtype = leaf.dtype if hasattr(leaf, "dtype") else jnp.result_type(leaf)
    why = _why_untrainable(dtype)
    if why:
      raise ValueError(
        f"PILOT: parameter {jax.tree_util.keystr(path) or '(root)'} has dtype {dtype},"
        f" which is {why}."
      )
