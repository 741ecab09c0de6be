"""The public policy helper and φ's layout."""

import jax.numpy as jnp
import numpy as np
import pytest

from pilot_optax import init_phi, policy_knobs


def _sigmoid(x):
  return 1 / (1 + np.exp(-x))


@pytest.mark.parametrize("degree", [1, 2, 4])
def test_policy_knobs_evaluates_polynomials_highest_power_first(degree):
  rng = np.random.default_rng(degree)
  phi = rng.normal(size=3 * (degree + 1)).astype(np.float32)
  rho = np.float32(-0.7)
  blocks = phi.reshape(3, degree + 1)
  expected = [
    _sigmoid(np.polyval(blocks[0], rho)),
    0.5 * _sigmoid(np.polyval(blocks[1], rho)),
    _sigmoid(np.polyval(blocks[2], rho)),
  ]
  np.testing.assert_allclose(policy_knobs(phi, rho, degree), expected, rtol=1e-6)
  np.testing.assert_allclose(policy_knobs(phi, rho), expected, rtol=1e-6)  # degree inferred


def test_initial_policy_is_flat_and_near_adam():
  rho = jnp.linspace(-1, 1, 11)
  knobs = policy_knobs(init_phi(3), rho)
  assert knobs.shape == (11, 3)
  np.testing.assert_allclose(
    knobs, np.broadcast_to([_sigmoid(1.4), 0.5 * _sigmoid(3.0), _sigmoid(-2.0)], (11, 3)), rtol=1e-6
  )


def test_overrides_pin_knobs():
  knobs = policy_knobs(init_phi(2), 0.3, policy_overrides={"ps": 0.0, "pm": 1.0})
  np.testing.assert_allclose(knobs, [1.0, 0.5 * _sigmoid(3.0), 0.0], rtol=1e-6)


def test_wrong_phi_length_raises():
  with pytest.raises(ValueError, match="degree=3"):
    policy_knobs(init_phi(2), 0.0, degree=3)


def test_phi_of_a_size_no_degree_has_is_refused_with_the_sizes_that_exist():
  with pytest.raises(ValueError, match=r"5 coefficients, which is not 3 \* \(degree \+ 1\)"):
    policy_knobs(jnp.ones(5), 0.0)
  with pytest.raises(ValueError, match=r"degree=3 needs 3 \* 4 = 12"):
    policy_knobs(jnp.ones(9), 0.0, 3)
