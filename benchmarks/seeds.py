"""Several seeds of one (model, optimizer) trained by one jitted program.

The train state of every seed (model parameters, the rest of the model's state such as
BatchNorm statistics, the optimizer state) is stacked along a leading seed axis, and the train
and eval steps are ``jax.vmap``-ed over it. Each seed keeps its own initialisation, data order
and augmentation keys (the arguments that carry the seed axis), and its own PILOT policy (in
its optimizer state). One seed is a batch of one: the same code runs it.
"""

from __future__ import annotations

import functools
from typing import Any, NamedTuple

import jax
import jax.numpy as jnp
import numpy as np
import optax
from flax import nnx

from benchmarks import processes
from benchmarks.data import Dataset
from benchmarks.optimizers import Resolved


def preprocess(images_u8, dataset: Dataset, key, train: bool, dtype):
  """uint8 NHWC -> normalised `dtype`; random crop (pad 4) and flip when training CIFAR-10."""
  x = images_u8.astype(jnp.float32) / 255.0
  if train and dataset.augment:
    n, h, w, _ = x.shape
    k_crop, k_flip = jax.random.split(key)
    padded = jnp.pad(x, ((0, 0), (4, 4), (4, 4), (0, 0)))
    offsets = jax.random.randint(k_crop, (n, 2), 0, 9)
    x = jax.vmap(lambda img, o: jax.lax.dynamic_slice(img, (o[0], o[1], 0), (h, w, img.shape[-1])))(
      padded, offsets
    )
    flip = jax.random.bernoulli(k_flip, 0.5, (n, 1, 1, 1))
    x = jnp.where(flip, x[:, :, ::-1, :], x)
  x = (x - jnp.asarray(dataset.mean)) / jnp.asarray(dataset.std)
  return x.astype(dtype)


def epoch_orders(shuffles, num_examples: int, steps: int, batch_size: int) -> np.ndarray:
  """The next epoch's batches of every seed, (S, steps, batch) indices.

  ``shuffles``: one ``np.random.Generator`` per seed, seeded with it; each call advances them.
  """
  return np.stack(
    [
      rng.permutation(num_examples)[: steps * batch_size].reshape(steps, batch_size)
      for rng in shuffles
    ]
  ).astype(np.int32)


def _stack(trees):
  return jax.tree.map(lambda *xs: jnp.stack(xs), *trees)


class TrainState(NamedTuple):
  """Everything a run carries from step to step, every leaf with a leading seed axis."""

  params: Any  # the model's nnx.Param state
  rest: Any  # the rest of the model's state (BatchNorm statistics)
  opt_state: Any  # the optimizer's state


class SeedGroup:
  """The jitted, seed-vmapped train and eval steps of one (workload, optimizer) over ``seeds``.

  ``workload``: a :class:`benchmarks.workloads.Workload` (the model, how batches are cut, the
  evaluation sets). ``self.state`` is the :class:`TrainState`, every leaf with a leading axis
  of ``len(seeds)``, replicated over all devices.
  """

  def __init__(self, workload, optimizer: Resolved, seeds, schedule, dtype):
    models = [workload.build_model(s, dtype) for s in seeds]
    splits = [nnx.split(m, nnx.Param, ...) for m in models]
    self.graph_train = splits[0][0]
    models[0].eval()
    self.graph_eval = nnx.split(models[0], nnx.Param, ...)[0]
    params = _stack([p for _, p, _ in splits])
    rest = _stack([r for _, _, r in splits])
    self.num_params = sum(x.size for x in jax.tree.leaves(splits[0][1]))
    self.tx = optimizer.make(schedule, workload.decay_mask)
    self.state = processes.replicate(TrainState(params, rest, jax.vmap(self.tx.init)(params)))
    self.seeds = list(seeds)
    self.records_policy = optimizer.entry.is_pilot
    self.needs_objective = optimizer.entry.needs_objective
    self.workload, self.dtype = workload, dtype
    self.batch_sharding = processes.batch_sharding()
    # Seed axis on the state, the data order and the keys; the data and the step shared.
    self.train_step = jax.jit(
      jax.vmap(self._train_step, in_axes=(0, None, 0, None, 0)), donate_argnums=(0,)
    )
    self._eval_steps = {}  # one compiled eval step per batch size
    self._targets = {}  # targets per example, by (batch size, shapes of the evaluated arrays)

  def _shard(self, x):
    if self.batch_sharding is None:
      return x
    return jax.lax.with_sharding_constraint(x, self.batch_sharding)

  def _loss(self, params, rest, graph, inputs, targets):
    # copy=True: fresh Variables at this trace level, so BatchNorm may update its statistics.
    model = nnx.merge(graph, params, rest, copy=True)
    logits = model(inputs).astype(jnp.float32)
    loss = optax.softmax_cross_entropy_with_integer_labels(logits, targets).mean()
    return loss, (logits, nnx.split(model, nnx.Param, ...)[2])

  def _train_step(self, state, arrays, order, step, key):
    """One seed's step: its batch `order[step]`, its key folded with the global step."""
    params, rest, opt_state = state
    x, y = self.workload.train_batch(arrays, order[step], key, self.dtype)
    x, y = self._shard(x), self._shard(y)
    (loss, (_, rest)), grads = jax.value_and_grad(self._loss, has_aux=True)(
      params, rest, self.graph_train, x, y
    )
    extra = {}
    if self.needs_objective:
      extra["obj_fn"] = lambda p: self._loss(p, rest, self.graph_train, x, y)[0]
    updates, opt_state = self.tx.update(grads, opt_state, params, **extra)
    params = optax.apply_updates(params, updates)
    if self.records_policy:  # ρ and the knobs this step used, read from the state (no host sync)
      policy = jnp.concatenate(
        [optax.tree.get(opt_state, "rho")[None], optax.tree.get(opt_state, "policy")]
      )
    else:
      policy = jnp.zeros(4)
    return TrainState(params, rest, opt_state), loss, policy

  def _eval_step(self, state, arrays, start, size):
    params, rest, _ = state
    x, y = self.workload.eval_batch(arrays, start, size, self.dtype)
    loss, (logits, _) = self._loss(params, rest, self.graph_eval, x, y)
    return loss * y.size, jnp.sum(jnp.argmax(logits, -1) == y)

  def train(self, arrays, order, step: int, global_step: int, keys):
    """One step of every seed; returns each seed's loss and (ρ, p_m, p_v, p_s), shape (S,), (S, 4)."""
    step_keys = jax.vmap(jax.random.fold_in, in_axes=(0, None))(keys, global_step)
    self.state, loss, policy = self.train_step(
      self.state, arrays, order, jnp.int32(step), step_keys
    )
    return loss, policy

  def evaluate(self, arrays, slices):
    """Mean loss and accuracy of every seed over the batches ``slices`` ((start, size) pairs)
    of ``arrays``, shape (S,) each (host values); the mean is over every target."""
    total_loss, correct, count = 0.0, 0, 0
    for start, size in slices:
      if size not in self._eval_steps:
        step = functools.partial(self._eval_step, size=size)
        self._eval_steps[size] = jax.jit(jax.vmap(step, in_axes=(0, None, None)))
      loss, right = self._eval_steps[size](self.state, arrays, jnp.int32(start))
      loss, right = processes.to_host((loss, right))
      total_loss, correct = total_loss + loss.astype(np.float64), correct + right
      count += size * self._targets_per_example(arrays, size)
    return total_loss / count, correct / count

  def _targets_per_example(self, arrays, size) -> int:
    """From the shape of the batch's targets, traced once per batch size and set of arrays."""
    key = (size, tuple(a.shape for a in arrays))
    if key not in self._targets:
      batch = lambda a: self.workload.eval_batch(a, 0, size, self.dtype)[1]  # noqa: E731
      self._targets[key] = int(np.prod(jax.eval_shape(batch, arrays).shape[1:], dtype=np.int64))
    return self._targets[key]
