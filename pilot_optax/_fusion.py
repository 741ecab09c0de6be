"""Ways of writing the step so that XLA:CPU fuses it instead of materialising it.

Two behaviours of XLA:CPU (jaxlib 0.10) cost PILOT's step more than its
arithmetic, and each has a cheap way around it:

1. A reduction fuses everything element-wise that feeds it into one pass (a
   YNNPACK fusion), but a value with several consumers is computed once and
   written to memory: the shared exponentials and logarithms of the lookahead,
   and even the broadcast of a scalar or constant that two same-shaped
   reductions both use. Each such temporary is a fresh allocation of the
   parameters' size, and its page faults alone cost more than recomputing it.
   :func:`private_scalars` gives every reduction its own copy of its scalars,
   so that common-subexpression elimination cannot merge them and each
   reduction is one self-contained pass.
2. A donated state buffer (m, v, g_{t-1}) that is read by the lookahead and
   overwritten by the step is copied first, unless the write visibly depends
   on the reads. :func:`zero_after` makes that dependence explicit.

On other backends (GPU, TPU) sibling reductions are fused with their shared
inputs, so the scalars are left shared there.
"""

from __future__ import annotations

import chex
import jax
import jax.numpy as jnp


def zero_after(x: chex.Array) -> chex.Array:
  """A float32 0 that XLA cannot fold away and that is computed after ``x``.

  ``x > inf`` is false for every x, nan included, so adding the result changes
  nothing (not even a nan), but it orders whatever uses it after ``x``.
  """
  return (jnp.asarray(x) > jnp.inf).astype(jnp.float32)


def separate_reductions() -> bool:
  """Whether reductions should not share scalars (XLA:CPU, see the module doc)."""
  return jax.default_backend() == "cpu"


def private_scalars(scalars: chex.Array, zero: chex.Array, index: int) -> chex.Array:
  """``scalars`` again, as a value that no other reduction shares.

  Args:
    scalars: a vector of the scalars one reduction uses.
    zero: a traced 0 (from :func:`zero_after`).
    index: distinct for every reduction of one step.

  Returns:
    ``scalars + zero * (index + 2)``: the same numbers, a different expression
    for every ``index``; ``zero`` is not a constant, so XLA folds none of it.
  """
  if not separate_reductions():
    return scalars
  return scalars + (zero * (index + 2)).astype(scalars.dtype)
