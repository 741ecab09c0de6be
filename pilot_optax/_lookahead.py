r"""PILOT's one-step lookahead, whose derivative trains the policy.

.. math::

  L(p) = \sum g_t \cdot \bigl(-\eta_t\, u(p;\ \hat m_{t-1},
    \max(\hat v_{t-1}, 10^{-12}),\ g_{t-1})\bigr)

is the first-order change of the loss caused by the previous step's update,
seen through the new gradient. Its derivative with respect to the knobs
p = (p_m, p_v, p_s) has a closed form: with n = g' + p_m(\hat m - g'),
a = \max(|n|, 10^{-12}) and D = \hat v^{p_v} + ε,

.. math::

  \partial L / \partial p_m &= -\eta (1 - p_s) \sum g\, \mathrm{sign}(n)^2\,
      a^{-p_s} (\hat m - g') / D, \\
  \partial L / \partial p_v &= \eta \sum g\, \mathrm{sign}(n)\, a^{1 - p_s}\,
      \hat v^{p_v} \log \hat v / D^2, \\
  \partial L / \partial p_s &= \eta \sum g\, \mathrm{sign}(n)\, a^{1 - p_s} \log a / D,

the floors differentiated straight through, as the reference's autograd does.
:func:`lookahead_objective` is the definition (differentiate it with
``jax.grad``); :func:`knob_gradient` is what the step uses, three sums that
XLA fuses each into one pass over the parameters.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import chex
import jax
import jax.numpy as jnp
import optax

from pilot_optax import _fusion
from pilot_optax._math import TINY, bias_correction, compute_dtype, direction, sum_f32
from pilot_optax._policy import KNOBS, policy_knobs


def _previous_bias_corrections(state: Any, b1: chex.Numeric, b2: chex.Numeric):
  """1 / (1 - b^(t-1)) for both moments; t - 1 = 0 (first step) is read as 1."""
  prev_count = jnp.maximum(state.count, 1)
  return 1 / bias_correction(b1, prev_count), 1 / bias_correction(b2, prev_count)


def lookahead_objective(
  phi: chex.Array,
  state: Any,
  grads: optax.Updates,
  learning_rate: chex.Numeric,
  *,
  b1: chex.Numeric,
  b2: chex.Numeric,
  eps: chex.Numeric,
  degree: int,
  policy_overrides: Mapping[str, float] | None = None,
) -> chex.Array:
  r"""One-step lookahead objective whose φ-gradient trains the policy.

  .. math::

    L(\phi) = \sum g_t \cdot \bigl(-\eta_t\, u(P(\phi);\ \hat m_{t-1},
      \max(\hat v_{t-1}, 10^{-12}),\ g_{t-1})\bigr)

  ``state`` is the :class:`PilotState` *before* this step, so that ``mu``,
  ``nu``, ``prev_grad`` and ``count`` still describe step t-1.

  P(φ) has the **value** of ``state.policy`` (the knobs step t-1 used) and the
  **derivative** of the policy map at φ and ``state.rho`` (= ρ_{t-1}), as in
  the reference implementation. The optimizer computes ``jax.grad`` of this in
  closed form (:func:`knob_gradient`); this function is the definition.

  Args:
    phi: policy coefficients φ_t.
    state: the optimizer state before this step.
    grads: g_t.
    learning_rate: η_t, this step's learning rate.
    b1: decay of the first moment.
    b2: decay of the second moment.
    eps: ε of the direction's denominator.
    degree: polynomial degree of the policy.
    policy_overrides: pinned knobs, as in :func:`scale_by_pilot`.

  Returns:
    The scalar L.

  Example:
    >>> import jax, jax.numpy as jnp
    >>> from pilot_optax import lookahead_objective, scale_by_pilot
    >>> params = jnp.ones(3)
    >>> state = scale_by_pilot().init(params)
    >>> grad_phi = jax.grad(lookahead_objective)(
    ...   state.phi, state, params, 1e-3, b1=0.9, b2=0.999, eps=1e-8, degree=2)
    >>> grad_phi.shape
    (9,)

  References:
    PILOT, arXiv:2605.24570, the meta-objective.
  """
  live = policy_knobs(phi, state.rho, degree, policy_overrides=policy_overrides)
  # Value of the stored knobs, derivative of the live policy map: adding
  # live - stop_gradient(live) (exactly 0) leaves the value untouched.
  knobs = state.policy + (live - jax.lax.stop_gradient(live))
  inv_bc1, inv_bc2 = _previous_bias_corrections(state, b1, b2)

  def leaf_term(g, m, v, g_prev):
    v_hat = jnp.maximum(v * inv_bc2.astype(v.dtype), TINY)
    return g * direction(knobs.astype(g.dtype), m * inv_bc1.astype(m.dtype), v_hat, g_prev, eps)

  return -learning_rate * sum_f32(leaf_term, grads, state.mu, state.nu, state.prev_grad)


def _knob_term(knob: int, scalars: chex.Array, g, m, v, g_prev) -> chex.Array:
  """Element-wise summand of ∂L/∂knob (without the factor ±η, (1 - p_s))."""
  pm, pv, ps, inv_bc1, inv_bc2, eps, tiny, normal_tiny, sign_scale, one = scalars
  diff = m * inv_bc1 - g_prev  # m̂ - g'
  n = g_prev + pm * diff
  log_a = jnp.log(jnp.maximum(jnp.abs(n), tiny))
  log_v = jnp.log(jnp.maximum(v * inv_bc2, tiny))
  v_pow = jnp.exp(pv * log_v)
  denom = jnp.maximum(v_pow + eps, normal_tiny)
  # sign(n) without a select (which the fused reductions run slowly): exact
  # for every normal float, since |n| * sign_scale >= 1 there.
  sign = jnp.minimum(jnp.maximum(n * sign_scale, -one), one)
  if knob == 0:
    return g * (sign * sign) * jnp.exp(-ps * log_a) * diff / denom
  magnitude = g * sign * jnp.exp((one - ps) * log_a)
  if knob == 1:
    return magnitude * v_pow * log_v / (denom * denom)
  return magnitude * log_a / denom


def knob_gradient(
  state: Any,
  grads: optax.Updates,
  learning_rate: chex.Numeric,
  *,
  b1: chex.Numeric,
  b2: chex.Numeric,
  eps: chex.Numeric,
  pinned: Sequence[str] = (),
) -> chex.Array:
  """∂L/∂(p_m, p_v, p_s) of :func:`lookahead_objective` at the stored knobs.

  Closed form of the derivative (module docstring), as three sums over the
  parameters, each written so that XLA fuses it into one pass
  (:mod:`pilot_optax._fusion`). Knobs in ``pinned`` get 0 without a pass.

  Returns:
    An array of shape (3,), float32 (float64 when a leaf is).
  """
  inv_bc1, inv_bc2 = _previous_bias_corrections(state, b1, b2)
  # From every scalar of the state: a 0 XLA could fold would merge the sums again.
  zero = _fusion.zero_after(state.rho + jnp.sum(state.policy) + state.count)
  leaves = list(
    zip(*(jax.tree.leaves(t) for t in (grads, state.mu, state.nu, state.prev_grad)), strict=True)
  )
  sums = []
  for knob, name in enumerate(KNOBS):
    total = jnp.float32(0)
    for index, leaf in enumerate(leaves if name not in pinned else ()):
      dtype = compute_dtype(leaf[0].dtype)
      info = jnp.finfo(dtype)
      scalars = jnp.stack(
        [*state.policy, inv_bc1, inv_bc2, eps, TINY, info.tiny, 1 / info.tiny, 1.0]
      ).astype(dtype)
      scalars = _fusion.private_scalars(scalars, zero, knob * len(leaves) + index)
      flat = (x.astype(dtype).reshape(-1) for x in leaf)
      total += jnp.sum(_knob_term(knob, scalars, *flat), dtype=dtype)
    sums.append(total)
  ps = state.policy[2]
  return jnp.stack(sums) * jnp.stack([-(1 - ps), 1.0, 1.0]) * learning_rate
