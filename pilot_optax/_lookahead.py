r"""PILOT's one-step lookahead, whose gradient (by ``jax.grad``) trains the policy.

At step t, the lookahead judges the *previous* step's update by the *new*
gradient, to first order the change of the loss it caused:

.. math::

  L(\phi) = \sum g_t \cdot \bigl(-\eta_t\, u(P(\phi);\ \hat m_{t-1},
    \max(\hat v_{t-1}, 10^{-12}),\ g_{t-1})\bigr),

with u the direction of :func:`pilot_optax._math.direction`,
:math:`\hat m_{t-1} = m_{t-1} / (1 - b_1^{t-1})` and
:math:`\hat v_{t-1} = v_{t-1} / (1 - b_2^{t-1})` read from the state before
the step overwrites them (at t = 1 the exponent t - 1 is read as 1; φ does not
move at t = 1 anyway), and η_t this step's learning rate. Conventions of the
reference implementation, kept here:

- **value and derivative differ**: P(φ) has the *value* of the knobs step
  t - 1 used (``state.policy``) but the *derivative* of the policy map at the
  current φ_t and the previous ρ_{t-1} (``state.rho``);
- the floor of v̂ (so that log v̂ stays finite where no gradient was seen) and
  that of |n| are differentiated as if absent, as PyTorch's autograd does;
- a knob pinned by ``policy_overrides`` is a constant: its block of φ gets 0.

The step then clips G = ∇_φ L to norm at most 1, G · min(1, 1 / (‖G‖ + 1e-12)),
and sets φ_{t+1} = φ_t - η_φ G.

**How the step computes G.** :func:`lookahead_sum` is the lookahead written
once, for a piece of the parameters. :func:`lookahead_objective` sums it over
whole leaves (the definition). The step takes ``jax.grad`` of the same function
with respect to the knobs, piece by piece, inside the sweep over the
parameters that also sums the agreement (the gradient of a sum is the sum of
the gradients, :mod:`pilot_optax._fusion`), and pulls the result back to φ
through the policy map with ``jax.vjp`` (:func:`meta_gradient`). The knobs
enter each piece through ``_fusion.spread``: a broadcast, differentiated as
one, whose transpose (a sum) XLA:CPU then computes in fused loops rather than
through YNNPACK.

*For explanation only (the code does not compute this)*: with
n = g' + p_m(m̂ - g'), a = max(|n|, 1e-12) and D = v̂^{p_v} + ε, the
derivatives those ``jax.grad`` calls evaluate are

.. math::

  \partial L / \partial p_m &= -\eta (1 - p_s) \sum g\, a^{-p_s} (\hat m - g') / D, \\
  \partial L / \partial p_v &= \eta \sum g\, \mathrm{sign}(n)\, a^{1 - p_s}\,
      \hat v^{p_v} \log \hat v / D^2, \\
  \partial L / \partial p_s &= \eta \sum g\, \mathrm{sign}(n)\, a^{1 - p_s} \log a / D.
"""

from collections.abc import Callable, Mapping, Sequence

import chex
import jax
import jax.numpy as jnp
import optax

from pilot_optax import _fusion
from pilot_optax._math import (
  TINY,
  bias_correction,
  bounded,
  compute_dtype,
  direction,
  finite_only,
  in_compute_dtype,
)
from pilot_optax._policy import KNOBS, policy_knobs
from pilot_optax._states import PilotState


def previous_bias_corrections(state: PilotState, b1: chex.Numeric, b2: chex.Numeric):
  """1 / (1 - b^(t-1)) for both moments; t - 1 = 0 (first step) is read as 1."""
  prev_count = jnp.maximum(state.count, 1)
  return 1 / bias_correction(b1, prev_count), 1 / bias_correction(b2, prev_count)


def lookahead_sum(
  knobs: chex.Array | Sequence[chex.Array],
  inv_bc1: chex.Array,
  inv_bc2: chex.Array,
  eps: chex.Numeric,
  g: chex.Array,
  m: chex.Array,
  v: chex.Array,
  g_prev: chex.Array,
) -> chex.Array:
  """Σ g · u(knobs; m̂_{t-1}, max(v̂_{t-1}, 1e-12), g_{t-1}) over one piece: -L / η_t.

  The one definition of the lookahead: :func:`lookahead_objective` sums it
  over the parameters, the step differentiates it with ``jax.grad``. Computed
  in float32, or float64 for float64 leaves. ``knobs`` are (p_m, p_v, p_s):
  a (3,) array, or three arrays that broadcast against the piece. Elements where g, m, v or
  g_prev is nan or inf are left out of the sum (:func:`pilot_optax._math.finite_only`), and
  g is clipped to ±2^40 (:func:`pilot_optax._math.bounded`, no change below that) so that a
  finite gradient cannot overflow the sum.
  """
  g, m, v, g_prev = finite_only(*in_compute_dtype(g, m, v, g_prev))
  g = bounded(g)
  dtype = g.dtype
  knobs = [jnp.asarray(knob).astype(dtype) for knob in knobs]
  v_hat = jnp.maximum(v * inv_bc2.astype(dtype), TINY)
  u = direction(knobs, m * inv_bc1.astype(dtype), v_hat, g_prev, eps)
  return jnp.sum(g * u)


def lookahead_knobs(
  phi: chex.Array,
  state: PilotState,
  degree: int,
  policy_overrides: Mapping[str, float] | None = None,
) -> chex.Array:
  """P(φ): the value of ``state.policy``, the derivative of the policy map at (φ, ρ_{t-1})."""
  live = policy_knobs(phi, state.rho, degree, policy_overrides=policy_overrides)
  # Value of one thing, derivative of another: live - stop_gradient(live) is
  # exactly 0, but carries the live map's derivative.
  return state.policy + (live - jax.lax.stop_gradient(live))


def lookahead_objective(
  phi: chex.Array,
  state: PilotState,
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
  the reference implementation. ``jax.grad`` of this is the meta-gradient of
  the step, before its clipping (the step evaluates the same function,
  :func:`lookahead_sum`, chunk by chunk).

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
  knobs = lookahead_knobs(phi, state, degree, policy_overrides)
  inv_bc1, inv_bc2 = previous_bias_corrections(state, b1, b2)

  def piece_sum(*piece):
    return lookahead_sum(knobs, inv_bc1, inv_bc2, eps, *piece)[None]

  (total,) = _fusion.tree_sums(piece_sum, grads, state.mu, state.nu, state.prev_grad, chunk=None)
  return -learning_rate * total


def _free_knobs(policy_overrides: Mapping[str, float] | None) -> list[int]:
  """Indices of the knobs the policy sets (not pinned by ``policy_overrides``)."""
  return [k for k, name in enumerate(KNOBS) if name not in (policy_overrides or {})]


def _with_free(
  fixed: Sequence[chex.Array], free: list[int], values: Sequence[chex.Array]
) -> list[chex.Array]:
  """The 3 knobs: ``values`` in turn at the indices ``free``, ``fixed`` (constants) elsewhere."""
  at_free = dict(zip(free, values, strict=True))
  return [
    at_free[k] if k in at_free else jax.lax.stop_gradient(fixed[k]) for k in range(len(KNOBS))
  ]


def knob_gradient_pieces(
  state: PilotState,
  *,
  b1: chex.Numeric,
  b2: chex.Numeric,
  eps: chex.Numeric,
  policy_overrides: Mapping[str, float] | None = None,
) -> Callable[..., chex.Array]:
  """``jax.grad`` of :func:`lookahead_sum` at the stored knobs, for one piece.

  Returns a function of 1-D pieces ``(g, m, v, g_prev)`` of one leaf giving
  the gradient of the piece's lookahead sum with respect to the knobs that are
  not pinned (in the order of :data:`KNOBS`; pinned knobs are constants and
  their derivatives are not computed). Summed over the pieces and multiplied
  by -η_t, it is ∂L/∂knobs (:func:`meta_gradient`).
  """
  inv_bc1, inv_bc2 = previous_bias_corrections(state, b1, b2)
  free = _free_knobs(policy_overrides)
  stored = [state.policy[k] for k in range(len(KNOBS))]

  def piece_gradient(g, m, v, g_prev):
    def of_free_knobs(*values):
      # Each free knob is spread over the piece (_fusion.spread: the same
      # derivative, a faster sum on CPU); pinned knobs are constants.
      knobs = _with_free(stored, free, [_fusion.spread(x, g.shape) for x in values])
      return lookahead_sum(knobs, inv_bc1, inv_bc2, eps, g, m, v, g_prev)

    dtype = compute_dtype(g.dtype)
    values = [stored[k].astype(dtype) for k in free]
    return jnp.stack(jax.grad(of_free_knobs, argnums=tuple(range(len(free))))(*values))

  return piece_gradient


def meta_gradient(
  knob_gradient_sums: chex.Array,
  state: PilotState,
  learning_rate: chex.Numeric,
  *,
  degree: int,
  policy_overrides: Mapping[str, float] | None = None,
) -> chex.Array:
  """∇_φ L from the summed :func:`knob_gradient_pieces`, by ``jax.vjp`` of P(φ).

  The chain rule through :func:`lookahead_knobs`: pinned knobs (constants of
  the policy map) give their blocks of φ zero. Not yet clipped.
  """
  zeros = [jnp.zeros([], state.phi.dtype)] * len(KNOBS)
  d_loss_d_knobs = jnp.stack(
    _with_free(zeros, _free_knobs(policy_overrides), -learning_rate * knob_gradient_sums)
  ).astype(state.phi.dtype)
  _, pull_back = jax.vjp(
    lambda phi: lookahead_knobs(phi, state, degree, policy_overrides), state.phi
  )
  (grad_phi,) = pull_back(d_loss_d_knobs)
  return grad_phi
