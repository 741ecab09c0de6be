"""PILOT against an independent NumPy float64 version of the algorithm, written from its spec.

Every other test of the lookahead compares it with itself (chunked against whole leaves, against
finite differences of the same objective). Here the meta-gradient is the closed form of
∂L/∂(p_m, p_v, p_s) chained through the policy map by hand, and the whole step is re-derived
in NumPy. ε = 0.1 with gradients of size ~0.1, so that v̂^{p_v} ≈ ε: where ε is used, and
where it sits (after the power), changes the numbers.
"""

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from conftest import enable_x64

from pilot_optax import PilotState, lookahead_objective, pilot, scale_by_pilot

TINY = 1e-12
INITIAL_CONSTANTS = (1.4, 3.0, -2.0)
HALF = (1.0, 0.5, 1.0)  # p_v is half a sigmoid


def sigmoid(x):
  return 1 / (1 + np.exp(-x))


def knobs_and_jacobian(phi, rho, degree):
  """(p_m, p_v, p_s) at (φ, ρ) and d knobs / d φ, shape (3, 3(d+1))."""
  powers = rho ** np.arange(degree, -1, -1, dtype=np.float64)  # highest power first
  blocks = phi.reshape(3, degree + 1)
  knobs, jac = np.zeros(3), np.zeros((3, 3 * (degree + 1)))
  for k in range(3):
    s = sigmoid(blocks[k] @ powers)
    knobs[k] = HALF[k] * s
    jac[k, k * (degree + 1) : (k + 1) * (degree + 1)] = HALF[k] * s * (1 - s) * powers
  return knobs, jac


def direction(knobs, m_hat, v_hat, g, eps):
  pm, pv, ps = knobs
  n = pm * m_hat + (1 - pm) * g
  return np.maximum(np.abs(n), TINY) ** (1 - ps) * np.sign(n) / (v_hat**pv + eps)


def lookahead_knob_gradient(knobs, m_hat, v_hat, g_prev, g, lr, eps):
  """∂L/∂(p_m, p_v, p_s) of L = Σ g · (-η u(knobs; m̂, max(v̂, 1e-12), g')), in closed form."""
  pm, pv, ps = knobs
  v_hat = np.maximum(v_hat, TINY)
  n = pm * m_hat + (1 - pm) * g_prev
  a = np.maximum(np.abs(n), TINY)
  denom = v_hat**pv + eps
  d_pm = -lr * (1 - ps) * np.sum(g * a ** (-ps) * (m_hat - g_prev) / denom)
  d_pv = lr * np.sum(g * np.sign(n) * a ** (1 - ps) * v_hat**pv * np.log(v_hat) / denom**2)
  d_ps = lr * np.sum(g * np.sign(n) * a ** (1 - ps) * np.log(a) / denom)
  return np.array([d_pm, d_pv, d_ps])


def numpy_pilot(params, grads_seq, *, lr, b1, b2, eps, wd, gamma, lr_phi, degree):
  """The algorithm of docs/algorithm.md, on one flat float64 vector."""
  theta = params.copy()
  m, v, g_prev = np.zeros_like(theta), np.zeros_like(theta), np.zeros_like(theta)
  rho = 0.0
  phi = np.zeros((3, degree + 1))
  phi[:, -1] = INITIAL_CONSTANTS
  phi = phi.reshape(-1)
  policy, _ = knobs_and_jacobian(phi, 0.0, degree)
  for t, g in enumerate(grads_seq, start=1):
    den = np.sqrt(np.sum(g * g) * np.sum(g_prev * g_prev))
    r = np.sum(g * g_prev) / max(den, TINY) if den > TINY else 0.0
    rho_new = gamma * rho + (1 - gamma) * r
    knobs, _ = knobs_and_jacobian(phi, rho_new, degree)
    if t >= 2:
      _, jac = knobs_and_jacobian(phi, rho, degree)  # the derivative at (φ_t, ρ_{t-1})
      m_hat_prev = m / (1 - b1 ** (t - 1))
      v_hat_prev = v / (1 - b2 ** (t - 1))
      d_knobs = lookahead_knob_gradient(policy, m_hat_prev, v_hat_prev, g_prev, g, lr, eps)
      meta = d_knobs @ jac
      meta = meta * min(1.0, 1.0 / (np.linalg.norm(meta) + TINY))
      phi = phi - lr_phi * meta
    m = b1 * m + (1 - b1) * g
    v = b2 * v + (1 - b2) * g * g
    u = direction(knobs, m / (1 - b1**t), v / (1 - b2**t), g, eps)
    theta = theta - lr * (u + wd * theta)
    g_prev, rho, policy = g, rho_new, knobs
  return theta, phi, rho, policy


SHAPES = {"b": (4,), "w": (5, 4)}  # sorted keys: the flat order of jax.tree.leaves


def _flat(tree):
  return np.concatenate([np.asarray(tree[k]).ravel() for k in sorted(tree)])


def _tree(flat):
  out, i = {}, 0
  for k in sorted(SHAPES):
    size = int(np.prod(SHAPES[k]))
    out[k] = jnp.asarray(flat[i : i + size].reshape(SHAPES[k]))
    i += size
  return out


def _gradients(steps, seed=0, scale=0.1):
  """Correlated random gradients of size ~scale (ρ moves away from 0)."""
  rng = np.random.default_rng(seed)
  size = sum(int(np.prod(s)) for s in SHAPES.values())
  base = rng.normal(size=size)
  return [scale * (base + 0.7 * rng.normal(size=size)) for _ in range(steps)]


@pytest.mark.parametrize("eps", [0.1, 1e-8])
def test_steps_match_numpy(eps):
  hyper = dict(lr=0.05, b1=0.9, b2=0.999, eps=eps, wd=0.01, gamma=0.6, lr_phi=20.0, degree=2)
  grads_seq = _gradients(6)
  rng = np.random.default_rng(1)
  theta0 = rng.normal(size=len(grads_seq[0]))
  expected = numpy_pilot(theta0, grads_seq, **hyper)
  with enable_x64(True):
    tx = pilot(
      hyper["lr"],
      hyper["b1"],
      hyper["b2"],
      hyper["eps"],
      weight_decay=hyper["wd"],
      gamma=hyper["gamma"],
      lr_phi=hyper["lr_phi"],
      degree=hyper["degree"],
    )
    params = _tree(theta0)
    state = tx.init(params)
    for g in grads_seq:
      updates, state = jax.jit(tx.update)(_tree(g), state, params)
      params = jax.tree.map(lambda p, u: p + u, params, updates)
    core = state[0]
    # φ moved well away from its start: the comparison is not of two initial values.
    assert (
      np.linalg.norm(np.asarray(core.phi) - np.asarray(scale_by_pilot().init(params).phi)) > 0.5
    )
    # φ, ρ and the knobs are float32 in the state (whatever the params); the params float64.
    np.testing.assert_allclose(np.asarray(core.phi), expected[1], rtol=1e-5, atol=1e-5)
    np.testing.assert_allclose(float(core.rho), expected[2], rtol=1e-5)
    np.testing.assert_allclose(np.asarray(core.policy), expected[3], rtol=1e-5)
    np.testing.assert_allclose(_flat(params), expected[0], rtol=1e-5, atol=1e-7)


def _mid_training_state():
  """A float64 state at count 3 whose v̂^{p_v} is comparable to ε = 0.1."""
  rng = np.random.default_rng(2)
  size = sum(int(np.prod(s)) for s in SHAPES.values())
  m = 0.1 * rng.normal(size=size)
  v = 0.01 * rng.uniform(0.1, 2.0, size=size) * (1 - 0.999**3)
  g_prev = 0.1 * rng.normal(size=size)
  phi = np.array([0.3, -0.2, 1.4, 0.1, 0.4, 3.0, -0.5, 0.2, -2.0])
  rho = 0.35
  policy = np.array([0.7, 0.3, 0.2])  # the knobs step t-1 used (not the policy at φ)
  return m, v, g_prev, phi, rho, policy


def test_meta_gradient_matches_closed_form_at_eps_comparable_to_v_hat_power():
  m, v, g_prev, phi, rho, policy = _mid_training_state()
  g = 0.1 * np.random.default_rng(3).normal(size=len(m))
  lr, eps, b1, b2, count = 0.05, 0.1, 0.9, 0.999, 3
  v_hat = v / (1 - b2**count)
  assert 0.2 < np.median(v_hat ** policy[1]) / eps < 5  # ε matters here
  _, jac = knobs_and_jacobian(phi, rho, 2)
  m_hat = m / (1 - b1**count)
  expected = lookahead_knob_gradient(policy, m_hat, v_hat, g_prev, g, lr, eps) @ jac
  with enable_x64(True):
    state = PilotState(
      count=jnp.int32(count),
      mu=_tree(m),
      nu=_tree(v),
      prev_grad=_tree(g_prev),
      rho=jnp.float64(rho),
      phi=jnp.asarray(phi),
      policy=jnp.asarray(policy),
    )
    got = jax.grad(lookahead_objective)(
      state.phi, state, _tree(g), lr, b1=b1, b2=b2, eps=eps, degree=2
    )
  np.testing.assert_allclose(np.asarray(got), expected, rtol=1e-9, atol=1e-14)


def test_lookahead_is_finite_at_a_fresh_state():
  # At init, count = 0 and v = 0: the lookahead's bias corrections read t - 1 as 1 and v̂ is
  # floored, so the objective and its gradient are finite (the step would hide a nan behind its
  # count >= 1 select; this asks the function itself).
  params = {"b": jnp.ones(4), "w": jnp.full((5, 4), -2.0)}
  state = scale_by_pilot().init(params)
  grads = jax.tree.map(lambda p: 0.3 * p, params)
  value, grad = jax.value_and_grad(lookahead_objective)(
    state.phi, state, grads, 1e-3, b1=0.9, b2=0.999, eps=1e-8, degree=2
  )
  assert np.isfinite(float(value)) and np.isfinite(np.asarray(grad)).all()
