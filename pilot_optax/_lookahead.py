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
``jax.grad``); :func:`knob_terms` are the summands the step uses, summed in
the same sweep over the parameters as the agreement's.
"""

from collections.abc import Callable, Mapping, Sequence
from typing import Any

import chex
import jax
import jax.numpy as jnp
import optax

from pilot_optax import _fusion
from pilot_optax._math import TINY, bias_correction, direction, in_compute_dtype
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

  def leaf_terms(g, m, v, g_prev):
    g, m, v, g_prev = in_compute_dtype(g, m, v, g_prev)
    v_hat = jnp.maximum(v * inv_bc2.astype(v.dtype), TINY)
    return [g * direction(knobs.astype(g.dtype), m * inv_bc1.astype(m.dtype), v_hat, g_prev, eps)]

  # The definition sums whole leaves; the step's chunked sweep is an optimisation.
  (total,) = _fusion.tree_sums(leaf_terms, grads, state.mu, state.nu, state.prev_grad, chunk=None)
  return -learning_rate * total


def knob_terms(
  state: Any, *, b1: chex.Numeric, b2: chex.Numeric, eps: chex.Numeric, pinned: Sequence[str] = ()
) -> Callable[..., list[chex.Array]]:
  """The element-wise summands of ∂L/∂knob, for the knobs not in ``pinned``.

  Returns a function of 1-D pieces ``(g, m, v, g_prev)`` of one leaf giving one
  array per unpinned knob, in the order of :data:`KNOBS`, without the factors
  ±η and (1 - p_s) (:func:`knob_gradient_from_sums` applies them). The
  logarithms and powers are computed once and shared by the summands.
  """
  inv_bc1, inv_bc2 = _previous_bias_corrections(state, b1, b2)
  scalars = jnp.stack([*state.policy, inv_bc1, inv_bc2, eps])
  wanted = [k for k, name in enumerate(KNOBS) if name not in pinned]

  def terms(g, m, v, g_prev):
    g, m, v, g_prev = in_compute_dtype(g, m, v, g_prev)
    dtype = g.dtype
    pm, pv, ps, inv_bc1, inv_bc2, eps = scalars.astype(dtype)
    normal_tiny = jnp.finfo(dtype).tiny
    diff = m * inv_bc1 - g_prev  # m̂ - g'
    n = g_prev + pm * diff
    a = jnp.maximum(jnp.abs(n), TINY)
    log_a = jnp.log(a)
    log_v = jnp.log(jnp.maximum(v * inv_bc2, TINY))
    v_pow = jnp.exp(pv * log_v)
    denom = jnp.maximum(v_pow + eps, normal_tiny)
    # sign(n) without a select (which XLA:CPU runs slowly in fused loops):
    # exact for every normal float, since |n| / tiny >= 1 there.
    sign = jnp.clip(n * (1 / normal_tiny), -1, 1)
    # g sign(n) a^(-p_s) / D, common to all three.
    common = g * sign * jnp.exp(-ps * log_a) / denom
    by_knob = (
      lambda: common * sign * diff,
      lambda: common * a * v_pow * log_v / denom,
      lambda: common * a * log_a,
    )
    return [by_knob[k]() for k in wanted]

  return terms


def knob_gradient_from_sums(
  sums: chex.Array, state: Any, learning_rate: chex.Numeric, *, pinned: Sequence[str] = ()
) -> chex.Array:
  """∂L/∂(p_m, p_v, p_s) from the sums of :func:`knob_terms` (0 for pinned knobs)."""
  sums = iter(sums)
  raw = jnp.stack([jnp.float32(0) if name in pinned else next(sums) for name in KNOBS])
  ps = state.policy[2]
  return raw * jnp.stack([-(1 - ps), 1.0, 1.0]) * learning_rate


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

  The closed form of the module docstring, summed in one sweep over the
  parameters (:func:`pilot_optax._fusion.tree_sums`). Knobs in ``pinned`` get
  0 without a sum. (The step sums these terms together with the agreement's.)

  Returns:
    An array of shape (3,), float32 (float64 when a leaf is).
  """
  pinned = tuple(pinned)
  if len(pinned) == len(KNOBS):
    return jnp.zeros(3, jnp.float32)
  terms = knob_terms(state, b1=b1, b2=b2, eps=eps, pinned=pinned)
  sums = _fusion.tree_sums(terms, grads, state.mu, state.nu, state.prev_grad)
  return knob_gradient_from_sums(sums, state, learning_rate, pinned=pinned)
