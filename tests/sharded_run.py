"""Run as a subprocess by test_sharding.py: 8 virtual CPU devices, sharded vs unsharded.

Usage: python tests/sharded_run.py {auto,explicit}. Prints OK or raises.
"""

import os
import sys

os.environ["XLA_FLAGS"] = (
  os.environ.get("XLA_FLAGS", "") + " --xla_force_host_platform_device_count=8"
)

import jax  # noqa: E402
import jax.numpy as jnp  # noqa: E402
import numpy as np  # noqa: E402
import optax  # noqa: E402
from jax.sharding import AxisType, NamedSharding  # noqa: E402

# jax.set_mesh is jax >= 0.7.1's name; the jax 0.6 floor has jax.sharding.use_mesh.
set_mesh = getattr(jax, "set_mesh", None) or jax.sharding.use_mesh
from jax.sharding import PartitionSpec as P  # noqa: E402

from pilot_optax import pilot  # noqa: E402

STEPS = 6


def loss(params):
  return sum(jnp.sum(jnp.cos(3 * x) + (x - 0.5) ** 2) for x in jax.tree.leaves(params))


def train(params, tx):
  state = tx.init(params)

  @jax.jit
  def step(params, state):
    updates, state = tx.update(jax.grad(loss)(params), state, params)
    return optax.apply_updates(params, updates), state

  for _ in range(STEPS):
    params, state = step(params, state)
  return params, state


def main(mode):
  assert jax.device_count() == 8, jax.devices()
  keys = jax.random.split(jax.random.key(0), 3)
  params = {
    "w": jax.random.normal(keys[0], (16, 24)),
    "b": jax.random.normal(keys[1], (24,)),
    "s": jax.random.normal(keys[2], ()),
  }
  tx = pilot(0.05, weight_decay=1e-2, lr_phi=0.1)
  expected_params, expected_state = train(params, tx)

  axis_type = {"auto": AxisType.Auto, "explicit": AxisType.Explicit}[mode]
  mesh = jax.make_mesh((4, 2), ("data", "model"), axis_types=(axis_type, axis_type))
  specs = {"w": P("data", "model"), "b": P("model"), "s": P()}
  with set_mesh(mesh):
    sharded = {k: jax.device_put(v, NamedSharding(mesh, specs[k])) for k, v in params.items()}
    got_params, got_state = train(sharded, tx)
    assert got_params["w"].sharding.spec == specs["w"], got_params["w"].sharding
    mu_w = optax.tree.get(got_state, "mu")["w"]
    assert len(mu_w.sharding.device_set) == 8, mu_w.sharding

  for k in params:
    np.testing.assert_allclose(got_params[k], expected_params[k], rtol=1e-5, atol=1e-6, err_msg=k)
  for name in ("phi", "rho", "policy"):
    np.testing.assert_allclose(
      optax.tree.get(got_state, name),
      optax.tree.get(expected_state, name),
      rtol=1e-5,
      atol=1e-6,
      err_msg=name,
    )
  check_no_gather(mode)
  print("OK", mode)


def check_no_gather(mode):
  """A leaf larger than a chunk, sharded: the compiled step gathers nothing."""
  axis_type = {"auto": AxisType.Auto, "explicit": AxisType.Explicit}[mode]
  mesh = jax.make_mesh((8,), ("data",), axis_types=(axis_type,))
  tx = pilot(1e-3)
  with set_mesh(mesh):
    params = {"w": jax.device_put(jnp.ones((1024, 1024)), NamedSharding(mesh, P("data")))}
    state = tx.init(params)
    step = jax.jit(lambda g, s, p: tx.update(g, s, p))
    hlo = step.lower(params, state, params).compile().as_text()
  assert "all-gather" not in hlo, "the step gathers a sharded leaf"


if __name__ == "__main__":
  main(sys.argv[1])
