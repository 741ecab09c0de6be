"""Quickstart: a small MLP on a synthetic regression task with PILOT in an optax chain.

    python examples/quickstart.py [--steps 600] [--batch 128]

Prints the loss and the policy (ρ, p_m, p_v, p_s) as it learns; a few seconds on CPU. Needs
only the library (`pip install -e .`).
"""

import argparse

import jax
import jax.numpy as jnp
import optax

from pilot_optax import pilot


def init_mlp(key, sizes=(8, 64, 64, 1)):
  keys = jax.random.split(key, len(sizes) - 1)
  return [
    {"w": jax.random.normal(k, (m, n)) / jnp.sqrt(m), "b": jnp.zeros(n)}
    for k, m, n in zip(keys, sizes[:-1], sizes[1:], strict=True)
  ]


def mlp(params, x):
  for layer in params[:-1]:
    x = jax.nn.gelu(x @ layer["w"] + layer["b"])
  return x @ params[-1]["w"] + params[-1]["b"]


def loss_fn(params, x, y):
  return jnp.mean((mlp(params, x) - y) ** 2)


def main(steps=600, batch=128):
  key_data, key_model = jax.random.split(jax.random.key(0))
  x_all = jax.random.normal(key_data, (4096, 8))
  y_all = jnp.sin(x_all @ jnp.linspace(-1, 1, 8))[:, None]
  params = init_mlp(key_model)

  schedule = optax.cosine_decay_schedule(3e-3, steps)
  tx = optax.chain(optax.clip_by_global_norm(1.0), pilot(schedule, weight_decay=1e-4))
  opt_state = tx.init(params)

  @jax.jit
  def train_step(params, opt_state, x, y):
    loss, grads = jax.value_and_grad(loss_fn)(params, x, y)
    updates, opt_state = tx.update(grads, opt_state, params)
    return optax.apply_updates(params, updates), opt_state, loss

  phi0 = optax.tree.get(opt_state, "phi")
  print(f"{'step':>5} {'loss':>9} {'rho':>7} {'p_m':>7} {'p_v':>7} {'p_s':>7} {'|phi-phi0|':>10}")
  for step in range(steps):
    i = (step * batch) % x_all.shape[0]
    params, opt_state, loss = train_step(
      params, opt_state, x_all[i : i + batch], y_all[i : i + batch]
    )
    if step % 50 == 0 or step == steps - 1:
      # The policy lives in the optimizer state: read it, no callbacks needed.
      rho = optax.tree.get(opt_state, "rho")
      p_m, p_v, p_s = optax.tree.get(opt_state, "policy")
      moved = jnp.linalg.norm(optax.tree.get(opt_state, "phi") - phi0)
      print(f"{step:5d} {loss:9.5f} {rho:7.3f} {p_m:7.4f} {p_v:7.4f} {p_s:7.4f} {moved:10.2e}")


if __name__ == "__main__":
  parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
  parser.add_argument("--steps", type=int, default=600, help="training steps")
  parser.add_argument("--batch", type=int, default=128, help="examples a step")
  args = parser.parse_args()
  main(args.steps, args.batch)
