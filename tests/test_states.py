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
  # nnx.Optimizer keeps OptArray variables: pilot_states takes them as they are.
  (state,) = pilot_states(optimizer.opt_state).values()
  assert isinstance(state.phi, jax.Array) and state.phi.shape == (9,)
  assert int(state.count) == 3 and state.policy.shape == (3,)
  np.testing.assert_array_equal(optax.tree.get(optimizer.opt_state, "rho")[...], state.rho)


class _TwoLayers(nnx.Module):
  def __init__(self, rngs):
    self.body = nnx.Linear(4, 3, rngs=rngs)
    self.head = nnx.Linear(3, 2, rngs=rngs)

  def __call__(self, x):
    return self.head(jax.nn.relu(self.body(x)))


def test_policy_is_readable_under_a_partitioned_nnx_optimizer():
  model = _TwoLayers(nnx.Rngs(0))

  def group(params):
    return jax.tree_util.tree_map_with_path(
      lambda path, _: "head" if "head" in jax.tree_util.keystr(path) else "body", params
    )

  tx = optax.partition({"body": pilot(0.05), "head": pilot(0.05, degree=1)}, group)
  optimizer = nnx.Optimizer(model, tx, wrt=nnx.Param)
  x = jnp.ones((8, 4))
  for _ in range(3):
    grads = nnx.grad(lambda m: jnp.mean((m(x) - 1.0) ** 2))(model)
    optimizer.update(model, grads)
  found = pilot_states(optimizer.opt_state)
  assert set(found) == {"inner_states/body/inner_state/0", "inner_states/head/inner_state/0"}
  body, head = found["inner_states/body/inner_state/0"], found["inner_states/head/inner_state/0"]
  assert body.phi.shape == (9,) and head.phi.shape == (6,)
  for state in (body, head):
    assert isinstance(state.rho, jax.Array) and int(state.count) == 3
    assert np.isfinite(state.policy).all() and state.policy.shape == (3,)
  # The masked parameters of each group are MaskedNodes, not arrays.
  assert isinstance(body.mu["head"]["kernel"], optax.MaskedNode)
