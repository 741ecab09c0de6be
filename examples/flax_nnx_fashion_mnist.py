"""PILOT in a Flax NNX training loop (`nnx.Optimizer`) on Fashion-MNIST.

    python examples/flax_nnx_fashion_mnist.py --data-dir /usr/share/datasets/fashion-mnist

Needs the benchmark extras (`pip install -e ".[bench]"`: flax, and `benchmarks.data`, which reads
the data, from this repository) and the four original IDX files (Debian: `apt-get install -y
dataset-fashion-mnist`); run it from the repository root.
One epoch takes about a minute on two CPU cores; --steps shortens it.
"""

import argparse
import sys
from pathlib import Path

import jax
import jax.numpy as jnp
import numpy as np
import optax
from flax import nnx

from pilot_optax import pilot

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # the IDX reader lives in benchmarks/
from benchmarks.data import load_fashion_mnist_dir  # noqa: E402


class CNN(nnx.Module):
  def __init__(self, rngs: nnx.Rngs):
    self.conv1 = nnx.Conv(1, 32, kernel_size=(3, 3), rngs=rngs)
    self.conv2 = nnx.Conv(32, 64, kernel_size=(3, 3), rngs=rngs)
    self.hidden = nnx.Linear(7 * 7 * 64, 256, rngs=rngs)
    self.head = nnx.Linear(256, 10, rngs=rngs)

  def __call__(self, x):
    x = nnx.max_pool(jax.nn.relu(self.conv1(x)), (2, 2), strides=(2, 2))
    x = nnx.max_pool(jax.nn.relu(self.conv2(x)), (2, 2), strides=(2, 2))
    return self.head(jax.nn.relu(self.hidden(x.reshape(x.shape[0], -1))))


def loss_fn(model, images, labels):
  logits = model(images)
  return optax.softmax_cross_entropy_with_integer_labels(logits, labels).mean(), logits


@nnx.jit
def train_step(model, optimizer, metrics, images, labels):
  (loss, logits), grads = nnx.value_and_grad(loss_fn, has_aux=True)(model, images, labels)
  metrics.update(loss=loss, logits=logits, labels=labels)
  optimizer.update(model, grads)


@nnx.jit
def eval_step(model, metrics, images, labels):
  loss, logits = loss_fn(model, images, labels)
  metrics.update(loss=loss, logits=logits, labels=labels)


def normalise(images_u8):
  return (jnp.asarray(images_u8, jnp.float32) / 255.0 - 0.2860) / 0.3530


def main(argv=None):
  parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
  parser.add_argument(
    "--data-dir",
    default="/usr/share/datasets/fashion-mnist",
    help="folder of the Fashion-MNIST IDX .gz files (Debian: dataset-fashion-mnist)",
  )
  parser.add_argument("--steps", type=int, default=468, help="training steps (468 = one epoch)")
  parser.add_argument("--batch-size", type=int, default=128, help="images per training step")
  args = parser.parse_args(argv)

  data = load_fashion_mnist_dir(args.data_dir)
  model = CNN(nnx.Rngs(0))
  tx = pilot(
    optax.cosine_decay_schedule(1e-3, args.steps),
    weight_decay=1e-4,
    gamma=0.95,
    lr_phi=0.01,
    degree=2,
  )
  optimizer = nnx.Optimizer(model, tx, wrt=nnx.Param)
  metrics = nnx.MultiMetric(accuracy=nnx.metrics.Accuracy(), loss=nnx.metrics.Average("loss"))

  rng = np.random.default_rng(0)
  n = len(data.train_labels)
  for step in range(args.steps):
    idx = rng.integers(0, n, args.batch_size)
    train_step(
      model,
      optimizer,
      metrics,
      normalise(data.train_images[idx]),
      jnp.asarray(data.train_labels[idx]),
    )
    if (step + 1) % 100 == 0 or step + 1 == args.steps:
      m = metrics.compute()
      # The policy is in the optimizer state, an ordinary pytree.
      rho = optax.tree.get(optimizer.opt_state, "rho")
      p_m, p_v, p_s = optax.tree.get(optimizer.opt_state, "policy")
      print(
        f"step {step + 1}: train loss {m['loss']:.4f} acc {100 * m['accuracy']:.2f}%  "
        f"rho {float(rho):+.3f} p_m {float(p_m):.4f} p_v {float(p_v):.4f} p_s {float(p_s):.4f}"
      )
      metrics.reset()

  for i in range(0, len(data.test_labels), 1000):
    eval_step(
      model,
      metrics,
      normalise(data.test_images[i : i + 1000]),
      jnp.asarray(data.test_labels[i : i + 1000]),
    )
  m = metrics.compute()
  print(f"test loss {m['loss']:.4f}, test accuracy {100 * m['accuracy']:.2f}%")
  return m


if __name__ == "__main__":
  main()
