"""PILOT: Policy-Informed Learned Optimization, as an optax transformation.

The algorithm, one step (t = count + 1, g = g_t, η_t the learning rate):

1. agreement   r_t = <g_t, g_{t-1}> / (|g_t| |g_{t-1}|)       (0 when either is 0)
2. smoothing   ρ_t = γ ρ_{t-1} + (1 - γ) r_t
3. policy      (p_m, p_v, p_s) = policy_knobs(φ_t, ρ_t)
4. meta-step   φ_{t+1} = φ_t - η_φ clip(∇_φ L(φ_t)),  with L the one-step lookahead
               L = Σ g_t · (-η_t u_{t-1}(P(φ)))  (t >= 2 only), ∇ by jax.grad
5. moments     m_t, v_t as in Adam; m̂_t, v̂_t bias corrected
6. direction   n_t = p_m m̂_t + (1 - p_m) g_t
               u_t = max(|n_t|, 1e-12)^(1 - p_s) sign(n_t) / (v̂_t^{p_v} + ε)
7. update      Δθ = -η_t (u_t + λ θ)     (`pilot`; `scale_by_pilot` returns u_t)
8. bookkeeping g_{t-1} ← g_t, ρ ← ρ_t, φ ← φ_{t+1}, policy ← this step's knobs

Steps 1 and 4 need sums over all the parameters, taken in one sweep
(:mod:`pilot_optax._fusion`); steps 5-6 are a second pass.

The reference implementation (PyTorch, ``pilot-optimizer==0.1.0.post3``) is
reproduced detail for detail: initial φ (constant terms 1.4, 3.0, -2.0, so
p ≈ (0.802, 0.476, 0.119) "near Adam"), the floors 1e-12 of |n| and (in the
lookahead) of v̂, the lookahead's bias corrections at t-1, its value/derivative
convention and the clipping of the meta-gradient to norm 1 are documented in
:mod:`pilot_optax._lookahead` and in docs/algorithm.md ("The algorithm, exactly").
Two deliberate differences: ``weight_decay`` defaults to 1e-4 (the reference's
code: 0.01), and the lookahead uses ``eps`` (the reference hard-codes 1e-8).
"""

from collections.abc import Callable, Mapping
from typing import Any

import chex
import jax
import jax.numpy as jnp
import optax

from pilot_optax import _checks, _fusion
from pilot_optax._lookahead import knob_gradient_pieces, meta_gradient
from pilot_optax._math import (
  TINY,
  agreement,
  agreement_sums,
  bias_correction,
  compute_dtype,
  direction,
)
from pilot_optax._policy import init_phi, policy_knobs
from pilot_optax._states import PilotState


def _learning_rate_at(learning_rate: optax.ScalarOrSchedule, count: chex.Array):
  """η for the step whose count (before the increment) is ``count``."""
  return learning_rate(count) if callable(learning_rate) else learning_rate


def _unzip3(tree_of_triples: Any, like: optax.Updates) -> tuple[Any, Any, Any]:
  """A tree of 3-tuples (structure of ``like``) as three trees; empty trees too."""
  treedef = jax.tree.structure(like)
  triples = treedef.flatten_up_to(tree_of_triples)
  return tuple(treedef.unflatten([t[k] for t in triples]) for k in range(3))


def _check_grads_match(grads: optax.Updates, state: PilotState) -> None:
  expected = jax.tree.structure(state.prev_grad)
  got = jax.tree.structure(grads)
  if got != expected:
    raise ValueError(
      "PILOT: the gradient tree does not match the optimizer state (was the "
      f"state made by init on other params?).\n  state: {expected}\n  grads: {got}"
    )
  leaves = zip(jax.tree.leaves_with_path(grads), jax.tree.leaves(state.prev_grad), strict=True)
  for (path, leaf_g), leaf_s in leaves:
    if jnp.shape(leaf_g) != jnp.shape(leaf_s):
      raise ValueError(
        f"PILOT: gradient leaf {jax.tree_util.keystr(path)} has shape "
        f"{jnp.shape(leaf_g)}, the optimizer state holds {jnp.shape(leaf_s)}."
      )


def _meta_step(state: PilotState, meta_grad: jax.Array, lr_phi) -> jax.Array:
  """φ_{t+1} = φ_t - η_φ clip(∇_φ L), the meta-gradient clipped to norm 1.

  φ does not move at the first step (there is no u_{t-1} to look ahead with), nor (a guard:
  the sums already leave non-finite elements out) when the meta-gradient is not finite.
  """
  meta_grad = jnp.where((state.count >= 1) & jnp.isfinite(meta_grad).all(), meta_grad, 0.0)
  meta_grad = meta_grad * jnp.minimum(1.0, 1.0 / (jnp.linalg.norm(meta_grad) + TINY))
  return (state.phi - lr_phi * meta_grad).astype(jnp.float32)


def _moments_and_directions(grads, state: PilotState, knobs, count, *, decays, b1, b2, eps):
  """Steps 5 and 6 on every leaf, in float32 (or wider) whatever the leaves' dtype.

  ``decays`` are (b1, b2) as arrays ordered after the sweep (``_fusion.after``). Returns the
  directions u_t (each in its gradient's dtype), m_t and v_t (in the moments' dtypes).
  """
  decay1, decay2 = decays
  inv_bc1 = 1 / bias_correction(b1, count)
  inv_bc2 = 1 / bias_correction(b2, count)

  def step_leaf(g, m, v):
    dtype = compute_dtype(g.dtype)
    g32 = g.astype(dtype)
    # The direction reads the moments as stored (rounded to mu_dtype and the params'
    # dtype): the next step's lookahead then recomputes exactly this direction, and XLA
    # need not keep the old m, v (a copy) to recompute the unrounded ones after
    # overwriting them.
    m_new = (decay1.astype(dtype) * m.astype(dtype) + (1 - b1) * g32).astype(m.dtype)
    v_new = (decay2.astype(dtype) * v.astype(dtype) + (1 - b2) * g32 * g32).astype(v.dtype)
    m_hat = m_new.astype(dtype) * inv_bc1.astype(dtype)
    v_hat = v_new.astype(dtype) * inv_bc2.astype(dtype)
    u = direction(knobs.astype(dtype), m_hat, v_hat, g32, eps)
    return u.astype(g.dtype), m_new, v_new

  return _unzip3(jax.tree.map(step_leaf, grads, state.mu, state.nu), grads)


def scale_by_pilot(
  learning_rate: optax.ScalarOrSchedule = 1e-3,
  b1: chex.Numeric = 0.9,
  b2: chex.Numeric = 0.999,
  eps: chex.Numeric = 1e-8,
  *,
  gamma: chex.Numeric = 0.95,
  lr_phi: chex.Numeric = 0.01,
  degree: int = 2,
  mu_dtype: Any | None = None,
  policy_overrides: Mapping[str, float] | None = None,
) -> optax.GradientTransformationExtraArgs:
  r"""Rescales gradients by PILOT's policy-controlled direction.

  With ρ_t the smoothed cosine between successive gradients and the knobs
  :math:`(p_m, p_v, p_s)` given by the learned policy at ρ_t,

  .. math::

    n_t = p_m \hat m_t + (1 - p_m) g_t, \qquad
    u_t = \frac{\max(|n_t|, 10^{-12})^{1 - p_s}\,\mathrm{sign}(n_t)}
               {\hat v_t^{\,p_v} + \varepsilon}.

  The transform returns :math:`u_t` (no learning rate, no weight decay; see
  :func:`pilot`). It still needs the learning rate: the policy is trained by
  the gradient of the one-step lookahead (:func:`lookahead_objective`), which
  measures the previous update :math:`-\eta u_{t-1}` against :math:`g_t`. The
  step takes ``jax.grad`` of that lookahead with respect to the knobs piece by
  piece, in the same sweep over the parameters as the agreement's sums, and
  pulls it back to φ by ``jax.vjp``; the meta-gradient is clipped to norm 1 and
  applied with step ``lr_phi``.

  Args:
    learning_rate: η, a float or an optax schedule ``count -> lr``; used only
      inside the lookahead. Nothing ties it to the rate that scales the step
      later in your chain (``optax.scale(-lr)`` or a schedule): pass the same
      value or schedule to both, as :func:`pilot` does.
    b1: decay of the first moment, in [0, 1).
    b2: decay of the second moment, in [0, 1).
    eps: ε added to :math:`\hat v^{p_v}`, >= 0.
    gamma: γ, smoothing of the agreement signal, in [0, 1).
    lr_phi: η_φ, the policy's learning rate, >= 0.
    degree: degree of the policy polynomials, an integer >= 1 (Python or NumPy).
    mu_dtype: dtype of the first moment; the params' dtype when None. The
      direction uses m as stored, rounded to this dtype (optax.adam uses the
      unrounded m of the step), so that the next lookahead recomputes it exactly.
    policy_overrides: mapping from ``'pm'``, ``'pv'``, ``'ps'`` to pinned
      values (pm, ps in [0, 1]; pv in [0, 0.5]), for ablations. Pinned knobs
      get no meta-gradient.

  Returns:
    An :class:`optax.GradientTransformationExtraArgs` whose state is a
    :class:`PilotState`.

  Example:
    >>> import jax.numpy as jnp, optax
    >>> from pilot_optax import scale_by_pilot
    >>> tx = optax.chain(scale_by_pilot(learning_rate=0.1), optax.scale(-0.1))
    >>> params = jnp.array([1.0, -2.0])
    >>> state = tx.init(params)
    >>> updates, state = tx.update(2 * params, state)

  References:
    PILOT: Policy-Informed Learned Optimization for Adaptive Deep Network
    Training, arXiv:2605.24570.
  """
  _checks.check_range("learning_rate", learning_rate, 0.0, schedule_ok=True)
  _checks.check_range("b1", b1, 0.0, 1.0, high_open=True)
  _checks.check_range("b2", b2, 0.0, 1.0, high_open=True)
  _checks.check_range("eps", eps, 0.0)
  _checks.check_range("gamma", gamma, 0.0, 1.0, high_open=True)
  _checks.check_range("lr_phi", lr_phi, 0.0)
  degree = _checks.check_degree(degree)
  _checks.check_policy_overrides(policy_overrides)
  _checks.check_mu_dtype(mu_dtype)
  overrides = dict(policy_overrides or {})
  policy_is_frozen = len(overrides) == 3 or (_checks.concrete(lr_phi) == 0.0)
  mu_dtype = None if mu_dtype is None else jax.dtypes.canonicalize_dtype(mu_dtype)

  def init_fn(params):
    _checks.check_params(params)
    phi = init_phi(degree)
    return PilotState(
      count=jnp.zeros([], jnp.int32),
      mu=optax.tree.zeros_like(params, dtype=mu_dtype),
      nu=optax.tree.zeros_like(params),
      prev_grad=optax.tree.zeros_like(params),
      rho=jnp.zeros([], jnp.float32),
      phi=phi,
      policy=policy_knobs(phi, jnp.float32(0), degree, policy_overrides=overrides),
    )

  def update_fn(updates, state: PilotState, params=None, **extra_args):
    del params, extra_args
    _check_grads_match(updates, state)
    grads = jax.tree.map(jnp.asarray, updates)  # Python scalars too, as optax.adam takes them
    lr = _learning_rate_at(learning_rate, state.count)
    count = optax.safe_increment(state.count)

    # The sums over all the parameters that steps 1 and 4 need, in one sweep: the
    # agreement's and, unless φ is frozen, jax.grad of the lookahead with respect
    # to the knobs (a frozen φ cannot move: the lookahead, most of the cost, is skipped).
    # Both clip g and g_{t-1} to ±2^40 inside the sums, so that no finite gradient can
    # overflow them (_math.bounded).
    wanted = {"agreement": (agreement_sums, ("g", "g_prev"))}
    if not policy_is_frozen:
      knob_gradient = knob_gradient_pieces(state, b1=b1, b2=b2, eps=eps, policy_overrides=overrides)
      wanted["knob_gradient"] = (knob_gradient, ("g", "m", "v", "g_prev"))
    sums = _fusion.sweep(wanted, g=grads, m=state.mu, v=state.nu, g_prev=state.prev_grad)

    # 1. Agreement r_t and 2. its smoothing ρ_t.
    rho = (gamma * state.rho + (1 - gamma) * agreement(*sums["agreement"])).astype(jnp.float32)

    # 3. This step's knobs, from the current φ at ρ_t.
    knobs = policy_knobs(state.phi, rho, degree, policy_overrides=overrides)

    # 4. Meta-step: φ_{t+1} = φ_t - η_φ clip(∇_φ L), from the second step on.
    if policy_is_frozen:
      meta_grad = jnp.zeros_like(state.phi)
    else:
      meta_grad = meta_gradient(
        sums["knob_gradient"], state, lr, degree=degree, policy_overrides=overrides
      )
    phi = _meta_step(state, meta_grad, lr_phi)

    # 5. Moments and 6. direction. The new m, v and g_{t-1} are made after the sweep has
    # read the old ones, so that they are written over them in place (_fusion.after).
    decay1, decay2, grads = _fusion.after(phi[0] + rho, b1, b2, grads)
    directions, mu, nu = _moments_and_directions(
      grads, state, knobs, count, decays=(decay1, decay2), b1=b1, b2=b2, eps=eps
    )

    # 7. is `pilot`'s (learning rate and weight decay). 8. Bookkeeping.
    new_state = PilotState(
      count=count,
      mu=mu,
      nu=nu,
      prev_grad=jax.tree.map(lambda g, old: g.astype(old.dtype), grads, state.prev_grad),
      rho=rho,
      phi=phi,
      policy=knobs.astype(jnp.float32),
    )
    return directions, new_state

  return optax.GradientTransformationExtraArgs(init_fn, update_fn)


def pilot(
  learning_rate: optax.ScalarOrSchedule = 1e-3,
  b1: chex.Numeric = 0.9,
  b2: chex.Numeric = 0.999,
  eps: chex.Numeric = 1e-8,
  *,
  weight_decay: chex.Numeric = 1e-4,
  gamma: chex.Numeric = 0.95,
  lr_phi: chex.Numeric = 0.01,
  degree: int = 2,
  mask: Any | Callable[[optax.Params], Any] | None = None,
  mu_dtype: Any | None = None,
  policy_overrides: Mapping[str, float] | None = None,
) -> optax.GradientTransformationExtraArgs:
  r"""The PILOT optimizer: an Adam-like step whose shape is learned online.

  A policy reads ρ_t, the smoothed cosine between successive gradients, and
  sets three knobs each step: momentum reliance :math:`p_m`, strength of the
  variance normalisation :math:`p_v` and sign compression :math:`p_s`:

  .. math::

    r_t &= \frac{\langle g_t, g_{t-1}\rangle}{\|g_t\| \|g_{t-1}\|}, \quad
    \rho_t = \gamma \rho_{t-1} + (1 - \gamma) r_t, \\
    (p_m, p_v, p_s) &= \bigl(\sigma(f(\rho_t; \phi_m)),
      \tfrac12 \sigma(f(\rho_t; \phi_v)), \sigma(f(\rho_t; \phi_s))\bigr), \\
    n_t &= p_m \hat m_t + (1 - p_m) g_t, \\
    \theta_{t+1} &= \theta_t - \eta_t \left(
      \frac{\max(|n_t|, 10^{-12})^{1 - p_s} \mathrm{sign}(n_t)}
           {\hat v_t^{\,p_v} + \varepsilon} + \lambda \theta_t \right),

  with :math:`f` a polynomial of degree ``degree`` and φ trained by a clipped
  step of the gradient of the one-step lookahead (see :func:`scale_by_pilot`).
  :math:`(p_m, p_v, p_s) = (1, \tfrac12, 0)` is AdamW; :math:`(1, 0, 1)` with
  ε = 0 is sign descent on the momentum.

  Non-finite gradients: a NaN or inf gradient element stays in its element, as
  with ``optax.adam`` (that parameter and its moments become NaN, nothing else).
  The sums over all parameters (the agreement ρ, the lookahead that trains φ)
  leave out the elements whose gradient or moments are not finite, so the policy
  stays finite and keeps learning from the rest; merely skipping φ's update on
  a non-finite meta-gradient would freeze φ for good, since the NaN moments
  would make every later lookahead NaN. To keep the parameter too, skip such
  steps whole: ``optax.apply_if_finite(pilot(...), max_consecutive_errors=5)``.

  Everything after ``eps`` is keyword-only: ``optax.adamw``'s fifth positional
  argument is ``eps_root``, ours would have been ``weight_decay``, and a call
  written for one must not silently mean something else to the other.

  Names in the PyTorch reference (``pilot.PILOT``): ``lr`` is
  ``learning_rate``, ``betas`` is ``(b1, b2)``, ``eta_phi`` is ``lr_phi``.
  The reference's default weight decay is 0.01; ours is optax.adamw's 1e-4.

  Args:
    learning_rate: η, a float or an optax schedule, >= 0.
    b1: decay of the first moment, in [0, 1).
    b2: decay of the second moment, in [0, 1).
    eps: ε added to :math:`\hat v^{p_v}`, >= 0.
    weight_decay: λ, decoupled weight decay (scaled by η, as in optax.adamw), >= 0.
    gamma: γ, smoothing of the agreement signal, in [0, 1).
    lr_phi: η_φ, the policy's learning rate, >= 0.
    degree: degree of the policy polynomials, an integer >= 1 (Python or
      NumPy; static: under ``optax.inject_hyperparams`` pass
      ``static_args=("degree",)``).
    mask: weight-decay mask, a pytree of bools like the params (or a prefix),
      or a callable returning one, as in :func:`optax.adamw`.
    mu_dtype: dtype of the first moment; the params' dtype when None. The
      direction uses m as stored, rounded to this dtype (optax.adam uses the
      unrounded m of the step), so that the next lookahead recomputes it exactly.
    policy_overrides: mapping from ``'pm'``, ``'pv'``, ``'ps'`` to pinned
      values, for ablations.

  Returns:
    An :class:`optax.GradientTransformationExtraArgs`. Its state holds a
    :class:`PilotState`: ``optax.tree.get(state, 'policy')`` gives the knobs
    of the last step, ``'rho'`` the agreement, ``'phi'`` the coefficients.

  Example:
    >>> import jax, jax.numpy as jnp, optax
    >>> from pilot_optax import pilot
    >>> loss = lambda p: jnp.sum((p - 3.0) ** 2)
    >>> tx = pilot(learning_rate=0.1)
    >>> params = jnp.zeros(3)
    >>> state = tx.init(params)
    >>> for _ in range(100):
    ...   updates, state = tx.update(jax.grad(loss)(params), state, params)
    ...   params = optax.apply_updates(params, updates)
    >>> bool(loss(params) < 0.1)
    True

  References:
    PILOT: Policy-Informed Learned Optimization for Adaptive Deep Network
    Training, arXiv:2605.24570.
  """
  _checks.check_range("weight_decay", weight_decay, 0.0)
  core = scale_by_pilot(
    learning_rate,
    b1,
    b2,
    eps,
    gamma=gamma,
    lr_phi=lr_phi,
    degree=degree,
    mu_dtype=mu_dtype,
    policy_overrides=policy_overrides,
  )
  decay = optax.add_decayed_weights(weight_decay, mask)

  def init_fn(params):
    return core.init(params), decay.init(params)

  def update_fn(updates, state, params=None, **extra_args):
    del extra_args
    core_state, decay_state = state
    # The schedule reads PILOT's own counter: a second counter (as
    # optax.scale_by_learning_rate would add) would make
    # optax.tree.get(state, 'count') ambiguous.
    lr = _learning_rate_at(learning_rate, core_state.count)
    updates, core_state = core.update(updates, core_state, params)
    updates, decay_state = decay.update(updates, decay_state, params)
    updates = jax.tree.map(lambda u: (-lr * u).astype(u.dtype), updates)
    return updates, (core_state, decay_state)

  return optax.GradientTransformationExtraArgs(init_fn, update_fn)
