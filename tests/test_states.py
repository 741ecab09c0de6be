"""`pilot_states`: each PILOT policy of an optimizer state, under partition and nnx.Optimizer."""

import jax
import jax.numpy as jnp
import numpy as np
import optax
import pytest
from conftest import run
from flax import nnx

from pilot_optax import pilot, pilot_states


def test_pilot_states_reads_each_group_of_a_partition(params):
  labels = {"w": "matrix", "b": "vector", "s": "vector"}
  tx = optax.partition({"matrix": pilot(0.05), "vector": pilot(0.05, degree=1)}, labels)
  _, state = run(tx, params, 4)
  with pytest.raises(KeyError, match="multiple"):
    optax.tree.get(state, "phi")
  found = pilot_states(state)
  assert set(found) == {"inner_states/matrix/inner_state/0", "inner_states/vector/inner_state/0"}
  # Each group's policy is its own: the same as a lone pilot on that group.
  _, alone = run(pilot(0.05, degree=1), {"b": params["b"], "s": params["s"]}, 4)
  np.testing.assert_allclose(
    found["inner_states/vector/inner_state/0"].phi, alone[0].phi, rtol=1e-6
  )
  assert found["inner_states/matrix/inner_state/0"].phi.shape == (9,)


def test_policy_is_readable_under_nnx_optimizer():
  model = nnx.Linear(4, 2, rngs=nnx.Rngs(0))
  optimizer = nnx.Optimizer(model, pilot(0.05), wrt=nnx.Param)
  x = jnp.ones((8, 4))
  for _ in range(3):
    grads = nnx.grad(lambda m: jnp.mean((m(x) - 1.0) ** 2))(model)
    optimizer.update(model, grads)
  # nnx.Optimizer keeps OptArray variables; their values are the state README shows.
  values = jax.tree.map(
    lambda v: v[...], optimizer.opt_state, is_leaf=lambda x: isinstance(x, nnx.Variable)
  )
  (state,) = pilot_states(values).values()
  assert isinstance(state.phi, jax.Array) and state.phi.shape == (9,)
  assert int(state.count) == 3 and state.policy.shape == (3,)
  np.testing.assert_array_equal(optax.tree.get(values, "rho"), state.rho)
