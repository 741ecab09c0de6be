"""The policy's meta-gradient (jax.grad of the lookahead) against finite differences, float64."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from conftest import enable_x64

from pilot_optax import PilotState, _fusion, init_phi, lookahead_objective, policy_knobs
from pilot_optax._lookahead import knob_gradient_pieces, meta_gradient

HYPER = dict(b1=0.9, b2=0.999, eps=1e-8)


def _state(key, degree, overrides=None):
  """A float64 mid-training state (count 5) with a perturbed φ."""
  ks = jax.random.split(jax.random.key(key), 8)
  shapes = {"w": (7, 3), "b": (3,), "s": ()}

  def tree(k, scale=1.0, positive=False):
    leaves = [
      scale * jax.random.normal(kk, s, jnp.float64)
      for kk, s in zip(jax.random.split(k, 3), shapes.values(), strict=True)
    ]
    if positive:
      leaves = [x * x for x in leaves]
    return dict(zip(shapes, leaves, strict=True))

  phi = init_phi(degree).astype(jnp.float64) + 0.3 * jax.random.normal(
    ks[0], (3 * (degree + 1),), jnp.float64
  )
  rho = jnp.float64(0.4)
  state = PilotState(
    count=jnp.int32(5),
    mu=tree(ks[1], 0.1),
    nu=tree(ks[2], 0.1, positive=True),
    prev_grad=tree(ks[3]),
    rho=rho,
    phi=phi,
    policy=policy_knobs(phi, rho, degree, policy_overrides=overrides),
  )
  return state, tree(ks[4])


def _central_difference(f, x, h=1e-6):
  basis = np.eye(x.shape[0])
  return np.array([(f(x + h * e) - f(x - h * e)) / (2 * h) for e in basis])


@pytest.mark.parametrize("degree", [1, 2, 3])
def test_meta_gradient_matches_finite_differences(degree):
  with enable_x64(True):
    state, grads = _state(degree, degree)

    def objective_with_live_policy(phi):
      # The stored knobs equal the policy at φ, so L is an ordinary function of φ.
      live = state._replace(policy=policy_knobs(phi, state.rho, degree))
      return lookahead_objective(phi, live, grads, 0.01, degree=degree, **HYPER)

    autodiff = jax.grad(lookahead_objective)(state.phi, state, grads, 0.01, degree=degree, **HYPER)
    numeric = _central_difference(objective_with_live_policy, state.phi)
    np.testing.assert_allclose(autodiff, numeric, rtol=1e-6, atol=1e-10)
    assert np.abs(autodiff).max() > 1e-4  # a real gradient, not a vacuous zero


def test_value_is_stored_policy_derivative_is_live_map():
  degree = 2
  with enable_x64(True):
    state, grads = _state(7, degree)
    stored = jnp.asarray([0.6, 0.3, 0.4], jnp.float64)  # not the policy at φ
    state = state._replace(policy=stored)
    value, autodiff = jax.value_and_grad(lookahead_objective)(
      state.phi, state, grads, 0.01, degree=degree, **HYPER
    )

    def objective_of_knobs(knobs):
      return lookahead_objective(
        state.phi, state._replace(policy=knobs), grads, 0.01, degree=degree, **HYPER
      )

    # Value: the objective at the stored knobs.
    np.testing.assert_allclose(value, objective_of_knobs(stored), rtol=1e-12)
    # Derivative: chain rule through the policy map at the current φ and stored ρ.
    dl_dknobs = _central_difference(objective_of_knobs, stored)
    jacobian = _central_difference(
      lambda phi: policy_knobs(phi, state.rho, degree), state.phi
    )  # (n_phi, 3)
    np.testing.assert_allclose(autodiff, jacobian @ dl_dknobs, rtol=1e-6, atol=1e-10)


def test_pinned_knob_block_gets_zero_gradient():
  degree = 2
  overrides = {"pv": 0.5}
  with enable_x64(True):
    state, grads = _state(3, degree, overrides)
    autodiff = jax.grad(lookahead_objective)(
      state.phi, state, grads, 0.01, degree=degree, policy_overrides=overrides, **HYPER
    )
    autodiff = np.asarray(autodiff)
  np.testing.assert_array_equal(autodiff[3:6], 0.0)
  assert np.all(autodiff[:3] != 0) and np.all(autodiff[6:] != 0)


def _pulled_back(state, grads, degree, overrides=None, eps=HYPER["eps"], chunk=4):
  """The step's meta-gradient: jax.grad of the lookahead piece by piece (chunks of 4), pulled back."""
  pieces = knob_gradient_pieces(
    state, b1=HYPER["b1"], b2=HYPER["b2"], eps=eps, policy_overrides=overrides
  )
  sums = _fusion.tree_sums(pieces, grads, state.mu, state.nu, state.prev_grad, chunk=chunk)
  return meta_gradient(sums, state, 0.01, degree=degree, policy_overrides=overrides)


@pytest.mark.parametrize(
  ("degree", "overrides", "eps"),
  [(1, None, 1e-8), (2, None, 1e-8), (3, None, 1e-8), (2, {"pv": 0.5}, 1e-8), (2, None, 0.0)],
)
def test_chunked_meta_gradient_equals_grad_of_the_objective(degree, overrides, eps):
  hyper = HYPER | {"eps": eps}
  with enable_x64(True):
    state, grads = _state(10 + degree, degree, overrides)
    autodiff = jax.grad(lookahead_objective)(
      state.phi, state, grads, 0.01, degree=degree, policy_overrides=overrides, **hyper
    )
    stepwise = _pulled_back(state, grads, degree, overrides, eps)
    np.testing.assert_allclose(stepwise, autodiff, rtol=1e-10, atol=1e-14)
    assert np.abs(autodiff).max() > 1e-4


def test_chunked_meta_gradient_where_n_and_v_are_zero():
  # Coordinates never updated (m = v = g_prev = 0): n = 0, v̂ at its floor. Both
  # ways must give the same finite numbers (the sign(n) = 0 there zeroes them).
  degree = 2
  with enable_x64(True):
    state, grads = _state(21, degree)
    zero_some = lambda tree: jax.tree.map(lambda x: x.at[..., :1].set(0.0) if x.ndim else x, tree)  # noqa: E731
    state = state._replace(
      mu=zero_some(state.mu), nu=zero_some(state.nu), prev_grad=zero_some(state.prev_grad)
    )
    # And coordinates where n = g' + p_m (m̂ - g') is exactly 0 although m̂ != g':
    # p_m = 1/2 and g' = -m̂ (the derivative through |n| is 0 there).
    state = state._replace(policy=state.policy.at[0].set(0.5))
    inv_bc1 = 1 / (1 - jnp.float32(HYPER["b1"]) ** jnp.float32(state.count))
    state = state._replace(
      prev_grad=jax.tree.map(
        lambda gp, m: gp.at[..., 1:2].set(-m[..., 1:2] * inv_bc1.astype(m.dtype)) if m.ndim else gp,
        state.prev_grad,
        state.mu,
      )
    )
    autodiff = jax.grad(lookahead_objective)(state.phi, state, grads, 0.01, degree=degree, **HYPER)
    stepwise = _pulled_back(state, grads, degree)
    assert np.all(np.isfinite(stepwise))
    np.testing.assert_allclose(stepwise, autodiff, rtol=1e-10, atol=1e-14)


def test_chunked_meta_gradient_float32_and_bfloat16_leaves():
  degree = 2
  with enable_x64(True):
    state64, grads64 = _state(5, degree)
    reference = jax.grad(lookahead_objective)(
      state64.phi, state64, grads64, 0.01, degree=degree, **HYPER
    )
  for dtype, rtol in ((jnp.float32, 1e-4), (jnp.bfloat16, 2e-2)):
    cast = lambda tree, dtype=dtype: jax.tree.map(lambda x: x.astype(dtype), tree)  # noqa: E731
    state = state64._replace(
      mu=cast(state64.mu),
      nu=cast(state64.nu),
      prev_grad=cast(state64.prev_grad),
      rho=jnp.float32(state64.rho),
      phi=state64.phi.astype(jnp.float32),
      policy=state64.policy.astype(jnp.float32),
    )
    stepwise = _pulled_back(state, cast(grads64), degree)
    assert stepwise.dtype == jnp.float32
    np.testing.assert_allclose(stepwise, reference, rtol=rtol, atol=rtol * 1e-2)
