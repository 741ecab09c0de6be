"""The one timing harness of the speed tools: shape sets, a jitted optimizer step, interleaved
repetitions and their medians.

Every tool times what it compares **interleaved**: in each repetition every contender runs its
steps in turn, so that the drift of a shared machine hits all alike; the result is the median
over repetitions, and comparisons are ratios of medians measured in the same run.
"""

from __future__ import annotations

import statistics
import sys
import time
from collections.abc import Callable

import jax
import jax.numpy as jnp
import optax


def resnet18_shapes():
  """Parameter shapes of benchmarks.models.ResNet18 on CIFAR-10 (11.17M), without allocating it."""
  from flax import nnx

  from benchmarks.models import build_model

  abstract = nnx.eval_shape(lambda: build_model("resnet18", 3, 10, 32))
  return [tuple(x.shape) for x in jax.tree.leaves(nnx.state(abstract, nnx.Param))]


def mlp_shapes():
  """An MLP 784-896-256-128-10 with biases: 0.97M parameters."""
  sizes = (784, 896, 256, 128, 10)
  return [s for m, n in zip(sizes[:-1], sizes[1:], strict=True) for s in ((m, n), (n,))]


def transformer_shapes(layers=12, d=768, vocab=20000):
  """GPT-like: embeddings plus `layers` blocks of attention (4 d²) and MLP (8 d²): 101.2M."""
  block = [
    (d, 3 * d),
    (3 * d,),
    (d, d),
    (d,),
    (d, 4 * d),
    (4 * d,),
    (4 * d, d),
    (d,),
    (d,),
    (d,),
    (d,),
    (d,),
  ]
  return [(vocab, d), (1024, d)] + block * layers + [(d,), (d,)]


SHAPE_SETS = {
  "resnet18_11M": resnet18_shapes,
  "mlp_1M": mlp_shapes,
  "transformer_100M": transformer_shapes,
}


def random_tree(shapes, key: int) -> list[jax.Array]:
  """Standard normal float32 arrays of ``shapes`` (parameters or gradients)."""
  keys = jax.random.split(jax.random.key(key), len(shapes))
  return [jax.random.normal(k, s, jnp.float32) for k, s in zip(keys, shapes, strict=True)]


def optimizer_step(tx: optax.GradientTransformation, grads) -> Callable:
  """One jitted optimizer step (update + apply), params and state donated.

  The gradients are an argument of the compiled step, not a closed-over
  constant (XLA would fold what depends on constant gradients alone, g² and
  (1 - b) g, out of the step), and they are not returned: an output that
  repeats an input is a copy of the gradients every step, which an earlier
  version of this benchmark timed as part of every optimizer's step.
  """

  def step(params, state, grads):
    updates, state = tx.update(grads, state, params)
    return optax.apply_updates(params, updates), state

  compiled = jax.jit(step, donate_argnums=(0, 1))
  return lambda params, state: compiled(params, state, grads)


def optimizer_runs(makers: dict[str, Callable], shapes, dtype=jnp.float32) -> dict:
  """``{name: (step, (params, state))}`` for :func:`time_interleaved`, one per optimizer maker."""
  grads = [g.astype(dtype) for g in random_tree(shapes, 1)]
  runs = {}
  for name, make in makers.items():
    tx = make()
    params = [p.astype(dtype) for p in random_tree(shapes, 0)]
    runs[name] = (optimizer_step(tx, grads), (params, tx.init(params)))
  return runs


def time_interleaved(runs: dict, reps: int, steps_per_rep: int) -> dict[str, list[float]]:
  """Seconds per step of each run, interleaved in every repetition.

  ``runs`` maps a name to (step, carry): ``step(*carry)`` returns the next carry, whose
  buffers it may donate. Two calls compile and warm up each run before timing.
  """
  carries = {name: carry for name, (_, carry) in runs.items()}

  def advance(name, count):
    for _ in range(count):
      carries[name] = runs[name][0](*carries[name])
    jax.block_until_ready(carries[name])

  for name in runs:  # compiling each takes seconds to minutes: say where it is (stderr)
    print(f"compiling and warming up {name}", file=sys.stderr, flush=True)
    advance(name, 2)
  times = {name: [] for name in runs}
  for rep in range(reps):
    print(f"repetition {rep + 1}/{reps}", file=sys.stderr, flush=True)
    for name in runs:
      start = time.perf_counter()
      advance(name, steps_per_rep)
      times[name].append((time.perf_counter() - start) / steps_per_rep)
  return times


def summarise(times: dict[str, list[float]], baseline: str = "adam") -> dict:
  """Medians, their ratios to ``baseline``'s, and the raw seconds."""
  med = {k: statistics.median(v) for k, v in times.items()}
  return {
    "median_seconds": med,
    f"over_{baseline}": {k: v / med[baseline] for k, v in med.items()},
    "raw_seconds": times,
  }
