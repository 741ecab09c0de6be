"""PILOT with a Flax Linen `TrainState`: a small MLP classifies two interleaved spirals.

    python examples/linen_train_state.py [--steps 600]

`TrainState.create(..., tx=pilot(...))` and `state.apply_gradients` work as with any optax
optimizer; the policy is read from `state.opt_state`. Runs in a few seconds on CPU. Needs flax
(`pip install flax`, or the repository's `pip install -e ".[bench]"`).
"""

import argparse

import jax
import jax.numpy as jnp
import optax
from flax import linen as nn
from flax.training import train_state

from pilot_optax import pilot


class MLP(nn.Module):
  @nn.compact
  def __call__(self, x):
    for width in (64, 64):
      x = nn.gelu(nn.Dense(width)(x))
    return nn.Dense(2)(x)


def spirals(key, n=1024):
  t = jnp.sqrt(jax.random.uniform(key, (n,))) * 3 * jnp.pi
  labels = jnp.arange(n) % 2
  sign = jnp.where(labels == 0, 1.0, -1.0)[:, None]
  points = sign * jnp.stack([t * jnp.cos(t), t * jnp.sin(t)], axis=1) / (3 * jnp.pi)
  return points, labels


@jax.jit
def train_step(state, x, y):
  def loss_fn(params):
    logits = state.apply_fn({"params": params}, x)
    return optax.softmax_cross_entropy_with_integer_labels(logits, y).mean(), logits

  (loss, logits), grads = jax.value_and_grad(loss_fn, has_aux=True)(state.params)
  accuracy = jnp.mean(jnp.argmax(logits, -1) == y)
  return state.apply_gradients(grads=grads), loss, accuracy


def main(steps=600):
  x, y = spirals(jax.random.key(0))
  model = MLP()
  params = model.init(jax.random.key(1), x[:1])["params"]
  tx = pilot(optax.warmup_cosine_decay_schedule(0.0, 1e-2, 100, steps), weight_decay=1e-4)
  state = train_state.TrainState.create(apply_fn=model.apply, params=params, tx=tx)
  for step in range(steps):
    state, loss, accuracy = train_step(state, x, y)
    if step % 100 == 0 or step == steps - 1:
      p_m, p_v, p_s = optax.tree.get(state.opt_state, "policy")
      print(
        f"step {step:4d}: loss {loss:.4f} accuracy {100 * accuracy:5.1f}%  "
        f"rho {optax.tree.get(state.opt_state, 'rho'):+.3f}  p_m {p_m:.4f} p_v {p_v:.4f} p_s {p_s:.4f}"
      )
  return float(loss), float(accuracy)


if __name__ == "__main__":
  parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
  parser.add_argument("--steps", type=int, default=600, help="training steps")
  main(parser.parse_args().steps)
