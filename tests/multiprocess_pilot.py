"""Run by test_bench_harness.py: pilot_optax alone (no Flax) on params sharded over processes.

Usage: python tests/multiprocess_pilot.py NUM_PROCESSES PROCESS_ID PORT OUT.npz
Five steps of `pilot` on a parameter tree whose matrix is sharded along its rows across every
device of every process; process 0 writes the parameters, ρ and φ.
"""

import sys

import jax

num_processes, process_id, port, out = int(sys.argv[1]), int(sys.argv[2]), sys.argv[3], sys.argv[4]
if num_processes > 1:
  jax.config.update("jax_cpu_collectives_implementation", "gloo")
  jax.distributed.initialize(f"localhost:{port}", num_processes, process_id)

import jax.numpy as jnp  # noqa: E402
import numpy as np  # noqa: E402
import optax  # noqa: E402
from jax.sharding import NamedSharding  # noqa: E402
from jax.sharding import PartitionSpec as P  # noqa: E402

from pilot_optax import pilot  # noqa: E402

rng = np.random.default_rng(0)
host = {
  "w": rng.standard_normal((8, 6)).astype(np.float32),
  "b": rng.standard_normal(6).astype(np.float32),
}
mesh = jax.make_mesh((jax.device_count(),), ("x",))
jax.set_mesh(mesh)  # the steps run over every device of every process
shardings = {"w": NamedSharding(mesh, P("x")), "b": NamedSharding(mesh, P())}


def to_global(name, value):
  sharding = shardings[name]
  return jax.make_array_from_callback(value.shape, sharding, lambda index: value[index])


params = {k: to_global(k, v) for k, v in host.items()}


def loss(p):
  return jnp.sum(jnp.cos(3 * p["w"]) + (p["w"] - 0.5) ** 2) + jnp.sum((p["b"] + 1) ** 2)


tx = pilot(0.05, lr_phi=0.1)
state = jax.jit(tx.init)(params)


@jax.jit
def step(params, state):
  updates, state = tx.update(jax.grad(loss)(params), state, params)
  return optax.apply_updates(params, updates), state


for _ in range(5):
  params, state = step(params, state)

gather = jax.jit(lambda x: x, out_shardings=NamedSharding(mesh, P()))
result = {k: np.asarray(gather(v).addressable_data(0)) for k, v in params.items()}
result |= {
  "rho": np.asarray(gather(optax.tree.get(state, "rho")).addressable_data(0)),
  "phi": np.asarray(gather(optax.tree.get(state, "phi")).addressable_data(0)),
}
if num_processes > 1:
  # The matrix really is split across the processes' devices.
  result["sharded_across"] = np.int32(len(params["w"].sharding.device_set))
if jax.process_index() == 0:
  np.savez(out, **result)
print("OK")
