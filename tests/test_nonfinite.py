"""Non-finite elements in PILOT's sums over the parameters, tested directly.

A nan or inf in one element of g, g_{t-1}, m or v is left out of the agreement's sums and of
the lookahead's: it counts as zero (not as one, and the rest of its leaf still counts), so the
sums equal those over the other elements. The meta-gradient has a guard of its own.
"""

import jax
import jax.numpy as jnp
import numpy as np
import optax
import pytest

from pilot_optax import PilotState, pilot
from pilot_optax._lookahead import lookahead_sum
from pilot_optax._math import agreement_sums
from pilot_optax._pilot import _meta_step

BAD = [np.nan, np.inf, -np.inf]
KNOBS = jnp.array([0.8, 0.47, 0.12])
INV_BC = (jnp.float32(1 / (1 - 0.9**3)), jnp.float32(1 / (1 - 0.999**3)))


def _pieces(seed=0, size=7):
  rng = np.random.default_rng(seed)
  g, m, g_prev = (rng.normal(size=size).astype(np.float32) for _ in range(3))
  v = rng.uniform(0.1, 2.0, size).astype(np.float32)
  return {"g": g, "m": m, "v": v, "g_prev": g_prev}


@pytest.mark.parametrize("bad", BAD)
@pytest.mark.parametrize("which", ["g", "g_prev"])
def test_agreement_sums_leave_a_non_finite_element_out(which, bad):
  x = _pieces()
  x[which][3] = bad
  keep = np.arange(7) != 3
  ours = np.asarray(agreement_sums(jnp.asarray(x["g"]), jnp.asarray(x["g_prev"])))
  g, gp = x["g"][keep].astype(np.float64), x["g_prev"][keep].astype(np.float64)
  np.testing.assert_allclose(ours, [g @ gp, g @ g, gp @ gp], rtol=1e-6)


def _lookahead(x, knobs=KNOBS):
  return lookahead_sum(
    knobs, *INV_BC, 1e-8, *(jnp.asarray(x[k]) for k in ("g", "m", "v", "g_prev"))
  )


@pytest.mark.parametrize("bad", BAD)
@pytest.mark.parametrize("which", ["g", "m", "v", "g_prev"])
def test_lookahead_sum_and_its_gradient_leave_a_non_finite_element_out(which, bad):
  x = _pieces(1)
  x[which][3] = bad
  rest = {k: np.delete(a, 3) for k, a in x.items()}
  ours, theirs = _lookahead(x), _lookahead(rest)
  assert np.isfinite(ours) and float(theirs) != 0.0
  np.testing.assert_allclose(ours, theirs, rtol=1e-6)  # the other elements, all of them
  # Counting as zero, not as one: an element of ones in its place would change the sum.
  as_one = {k: np.where(np.arange(7) == 3, 1.0, a).astype(np.float32) for k, a in x.items()}
  assert abs(float(_lookahead(as_one)) - float(theirs)) > 1e-4
  grad_ours = jax.grad(lambda k: _lookahead(x, k))(KNOBS)
  grad_rest = jax.grad(lambda k: _lookahead(rest, k))(KNOBS)
  assert np.isfinite(grad_ours).all()
  np.testing.assert_allclose(grad_ours, grad_rest, rtol=1e-5)


def _state(count):
  return PilotState(
    count=jnp.int32(count), rho=jnp.float32(0), phi=jnp.arange(9, dtype=jnp.float32),
    policy=KNOBS, mu=(), nu=(), prev_grad=(),
  )  # fmt: skip


def test_meta_step_moves_phi_by_the_clipped_meta_gradient():
  meta_grad = jnp.array([3.0, 4.0] + [0.0] * 7)  # norm 5: clipped to norm 1
  phi = _meta_step(_state(2), meta_grad, 0.1)
  np.testing.assert_allclose(phi - _state(2).phi, -0.1 * meta_grad / 5, rtol=1e-5)


@pytest.mark.parametrize(
  ("count", "meta_grad", "why"),
  [
    (0, jnp.ones(9), "the first step has no previous update to look ahead with"),
    (2, jnp.ones(9).at[4].set(jnp.nan), "a nan meta-gradient"),
    (2, jnp.ones(9).at[0].set(jnp.inf), "an infinite meta-gradient (its norm would zero the rest)"),
  ],
)
def test_meta_step_leaves_phi_alone(count, meta_grad, why):
  phi = _meta_step(_state(count), meta_grad, 0.1)
  np.testing.assert_array_equal(phi, _state(count).phi, err_msg=why)


def test_python_float_gradient_leaves_work_as_in_optax_adam():
  params = {"w": 1.5, "b": -0.5}  # Python floats, as optax.adam takes them
  grads = {"w": 0.25, "b": -1.0}
  pinned = pilot(0.1, weight_decay=0.0, policy_overrides={"pm": 1.0, "pv": 0.5, "ps": 0.0})
  ours, state = pinned.update(grads, pinned.init(params), params)
  theirs, _ = optax.adam(0.1).update(grads, optax.adam(0.1).init(params), params)
  for key in params:
    np.testing.assert_allclose(ours[key], theirs[key], rtol=1e-6)
  assert int(state[0].count) == 1 and np.isfinite(state[0].phi).all()
  ours, _ = pilot(0.1).update(grads, state, params)  # a second step, meta-gradient included
  assert all(np.isfinite(u) for u in jax.tree.leaves(ours))
