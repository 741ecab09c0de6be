"""Train the paper's protocol: one JSON result per (optimizer, seed).

    python -m benchmarks.train --dataset fashionmnist --arch cnn --optimizer all \
        --epochs 30 --seeds 0,1,2 --data-dir /usr/share/datasets/fashion-mnist --out DIR

Protocol (the paper's): cross-entropy, batch 128, cosine decay of the learning
rate per step (3-epoch linear warm-up for ResNet-18), official train split for
training and test split for validation, optional bf16 compute with float32 params.

The whole dataset lives on the accelerator as uint8; each step gathers its batch,
normalises and (CIFAR-10) augments it inside the jitted step, so the host only
dispatches. With several devices, the batch is split across them (data parallel).
"""

from __future__ import annotations

import argparse
import json
import platform
import sys
import time
from pathlib import Path

import jax
import jax.numpy as jnp
import numpy as np
import optax
from flax import nnx
from jax.sharding import AxisType, NamedSharding
from jax.sharding import PartitionSpec as P
from tqdm.auto import tqdm

from benchmarks.data import DataError, Dataset, load_dataset
from benchmarks.models import build_model
from benchmarks.optimizers import (
  NEEDS_OBJECTIVE,
  PILOT_FAMILY,
  hyperparameters,
  learning_rate_schedule,
  make_optimizer,
  parse_names,
)

WARMUP_EPOCHS = {"cnn": 0, "resnet18": 3}
EVAL_BATCH = 1000
LOSS_VARIANCE_DEFINITION = "population variance of the per-batch training loss over the final epoch"


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


class Trainer:
  """The jitted train and eval steps of one (model, optimizer) pair."""

  def __init__(self, dataset: Dataset, arch: str, optimizer: str, seed: int, schedule, dtype):
    _, h, _, c = dataset.train_images.shape
    model = build_model(arch, c, dataset.num_classes, h, dtype=dtype, seed=seed)
    self.num_params = sum(x.size for x in jax.tree.leaves(nnx.state(model, nnx.Param)))
    model.train()
    self.graph_train, self.params, self.rest = nnx.split(model, nnx.Param, ...)
    model.eval()
    self.graph_eval = nnx.split(model, nnx.Param, ...)[0]
    self.tx = make_optimizer(optimizer, dataset.name, arch, schedule)
    self.opt_state = self.tx.init(self.params)
    self.is_pilot = optimizer in PILOT_FAMILY
    self.needs_objective = optimizer in NEEDS_OBJECTIVE
    self.dataset, self.dtype = dataset, dtype
    self.batch_sharding = None
    if jax.device_count() > 1:
      mesh = jax.make_mesh((jax.device_count(),), ("data",), axis_types=(AxisType.Auto,))
      self.batch_sharding = NamedSharding(mesh, P("data"))
    self.train_step = jax.jit(self._train_step, donate_argnums=(0, 1, 2))
    self.eval_step = jax.jit(self._eval_step)

  def _shard(self, x):
    return (
      x if self.batch_sharding is None else jax.lax.with_sharding_constraint(x, self.batch_sharding)
    )

  def _loss(self, params, rest, graph, images, labels):
    # copy=True: fresh Variables at this trace level, so BatchNorm may update its statistics.
    model = nnx.merge(graph, params, rest, copy=True)
    logits = model(images).astype(jnp.float32)
    loss = optax.softmax_cross_entropy_with_integer_labels(logits, labels).mean()
    return loss, (logits, nnx.split(model, nnx.Param, ...)[2])

  def _train_step(self, params, rest, opt_state, images_u8, labels, order, step, key):
    batch = order[step]
    x = self._shard(preprocess(images_u8[batch], self.dataset, key, True, self.dtype))
    y = self._shard(labels[batch])
    (loss, (_, rest)), grads = jax.value_and_grad(self._loss, has_aux=True)(
      params, rest, self.graph_train, x, y
    )
    extra = {}
    if self.needs_objective:
      extra["obj_fn"] = lambda p: self._loss(p, rest, self.graph_train, x, y)[0]
    updates, opt_state = self.tx.update(grads, opt_state, params, **extra)
    params = optax.apply_updates(params, updates)
    if self.is_pilot:  # ρ and the knobs this step used, read from the state (no host sync)
      policy = jnp.concatenate(
        [optax.tree.get(opt_state, "rho")[None], optax.tree.get(opt_state, "policy")]
      )
    else:
      policy = jnp.zeros(4)
    return params, rest, opt_state, loss, policy

  def _eval_step(self, params, rest, images_u8, labels):
    x = preprocess(images_u8, self.dataset, None, False, self.dtype)
    loss, (logits, _) = self._loss(params, rest, self.graph_eval, x, labels)
    return loss * labels.shape[0], jnp.sum(jnp.argmax(logits, -1) == labels)

  def evaluate(self, images, labels):
    total_loss, correct = 0.0, 0
    for i in range(0, len(labels), EVAL_BATCH):
      loss, right = self.eval_step(
        self.params, self.rest, images[i : i + EVAL_BATCH], labels[i : i + EVAL_BATCH]
      )
      total_loss, correct = total_loss + float(loss), correct + int(right)
    return total_loss / len(labels), correct / len(labels)


def train_run(
  dataset: Dataset,
  arch: str,
  optimizer: str,
  seed: int,
  epochs: int,
  *,
  precision: str = "fp32",
  batch_size: int = 128,
  policy_every: int = 10,
  command: str = "",
) -> dict:
  """Trains one (optimizer, seed) and returns the result record."""
  steps_per_epoch = len(dataset.train_labels) // batch_size
  if steps_per_epoch == 0:
    raise ValueError(
      f"batch size {batch_size} exceeds the {len(dataset.train_labels)} training examples."
    )
  total_steps = steps_per_epoch * epochs
  hp = hyperparameters(optimizer, dataset.name, arch)
  # Runs shorter than the warm-up (smoke tests) warm up over their first half.
  warmup_steps = min(WARMUP_EPOCHS[arch] * steps_per_epoch, total_steps // 2)
  schedule = learning_rate_schedule(hp["peak_learning_rate"], total_steps, warmup_steps)
  dtype = jnp.bfloat16 if precision == "bf16" else jnp.float32
  trainer = Trainer(dataset, arch, optimizer, seed, schedule, dtype)

  train_x, train_y = jax.device_put(dataset.train_images), jax.device_put(dataset.train_labels)
  test_x, test_y = jax.device_put(dataset.test_images), jax.device_put(dataset.test_labels)
  shuffle = np.random.default_rng(seed)
  key = jax.random.key(seed)
  history, policy, last_losses = [], [], None
  for epoch in range(1, epochs + 1):
    order = shuffle.permutation(len(dataset.train_labels))[: steps_per_epoch * batch_size]
    order = jax.device_put(order.reshape(steps_per_epoch, batch_size).astype(np.int32))
    losses, knobs = [], []
    start = time.perf_counter()
    bar = tqdm(
      range(steps_per_epoch),
      desc=f"{optimizer} seed {seed} epoch {epoch}/{epochs}",
      unit="step",
      leave=False,
      mininterval=1.0,
      file=sys.stderr,
    )
    for i in bar:
      global_step = (epoch - 1) * steps_per_epoch + i
      trainer.params, trainer.rest, trainer.opt_state, loss, knob = trainer.train_step(
        trainer.params,
        trainer.rest,
        trainer.opt_state,
        train_x,
        train_y,
        order,
        np.int32(i),
        jax.random.fold_in(key, global_step),
      )
      losses.append(loss)
      if trainer.is_pilot and global_step % policy_every == 0:
        knobs.append((global_step + 1, knob))
      if i % 50 == 0 and i >= 50:
        # The loss of 50 steps ago is surely computed: showing it does not stall the queue.
        bar.set_postfix(loss=f"{float(losses[i - 50]):.4f}")
    last_losses = np.asarray(jax.device_get(jnp.stack(losses)), np.float64)
    seconds = time.perf_counter() - start
    val_loss, val_acc = trainer.evaluate(test_x, test_y)
    history.append(
      dict(
        epoch=epoch,
        train_loss=float(last_losses.mean()),
        val_loss=val_loss,
        val_accuracy=val_acc,
        seconds=seconds,
      )
    )
    for step, knob in knobs:
      rho, pm, pv, ps = (float(v) for v in jax.device_get(knob))
      policy.append(dict(step=step, rho=rho, pm=pm, pv=pv, ps=ps))
    if not np.isfinite(last_losses).all():
      tqdm.write(
        f"[{optimizer} seed {seed}] non-finite training loss in epoch {epoch}; stopping this run."
      )
      break
    tqdm.write(
      f"[{dataset.name}/{arch}/{optimizer} seed {seed}] epoch {epoch}/{epochs}: train loss "
      f"{last_losses.mean():.4f}  val loss {val_loss:.4f}  val acc {100 * val_acc:.2f}%  "
      f"{seconds:.1f}s ({steps_per_epoch * batch_size / seconds:.0f} img/s)"
    )

  record = dict(
    dataset=dataset.name,
    arch=arch,
    optimizer=optimizer,
    seed=seed,
    epochs=epochs,
    hyperparameters=hp
    | dict(
      batch_size=batch_size,
      schedule="cosine decay per step" + (", linear warm-up" if WARMUP_EPOCHS[arch] else ""),
      warmup_epochs=WARMUP_EPOCHS[arch],
      warmup_steps=warmup_steps,
      precision=precision,
      num_params=trainer.num_params,
      loss_variance=LOSS_VARIANCE_DEFINITION,
      device=str(jax.devices()[0].device_kind),
      jax=jax.__version__,
      python=platform.python_version(),
      command=command,
    ),
    history=history,
    final=dict(
      val_accuracy=history[-1]["val_accuracy"],
      val_loss=history[-1]["val_loss"],
      loss_variance=float(np.var(last_losses)),
    ),
  )
  if trainer.is_pilot:
    record["policy"] = policy
  return record


def parse_args(argv=None):
  parser = argparse.ArgumentParser(
    prog="python -m benchmarks.train", description=__doc__.split("\n\n")[0]
  )
  parser.add_argument("--dataset", required=True, choices=["fashionmnist", "cifar10"])
  parser.add_argument("--arch", required=True, choices=["cnn", "resnet18"])
  parser.add_argument(
    "--optimizer",
    required=True,
    help="comma list of pilot,adam,adamw,lion,adabelief,sophia and the ablations "
    "pilot_frozen,pilot_fast_policy; 'all' is the paper's six",
  )
  parser.add_argument("--epochs", type=int, default=30)
  parser.add_argument("--seeds", default="0,1,2", help="comma list of integers")
  parser.add_argument(
    "--data-dir", default=None, help="local original files; default: tensorflow-datasets"
  )
  parser.add_argument("--precision", choices=["fp32", "bf16"], default="fp32")
  parser.add_argument("--batch-size", type=int, default=128)
  parser.add_argument(
    "--policy-every", type=int, default=10, help="record PILOT's policy every N steps"
  )
  parser.add_argument("--out", required=True, help="directory for the result JSONs")
  args = parser.parse_args(argv)
  try:
    args.optimizers = parse_names(args.optimizer)
  except ValueError as e:
    parser.error(str(e))
  try:
    args.seed_list = [int(s) for s in args.seeds.split(",") if s.strip()]
  except ValueError:
    parser.error(f"--seeds: expected a comma list of integers such as 0,1,2; got {args.seeds!r}.")
  if args.epochs < 1 or args.batch_size < 1 or args.policy_every < 1 or not args.seed_list:
    parser.error("--epochs, --batch-size and --policy-every must be >= 1, and --seeds non-empty.")
  return args


def main(argv=None):
  args = parse_args(argv)
  command = "python -m benchmarks.train " + " ".join(sys.argv[1:] if argv is None else argv)
  try:
    dataset = load_dataset(args.dataset, args.data_dir)
  except DataError as e:
    sys.exit(f"error: {e}")
  out = Path(args.out)
  out.mkdir(parents=True, exist_ok=True)
  print(
    f"{dataset.name}: {len(dataset.train_labels)} train / {len(dataset.test_labels)} validation images; "
    f"devices: {jax.devices()}",
    flush=True,
  )
  for optimizer in args.optimizers:
    for seed in args.seed_list:
      record = train_run(
        dataset,
        args.arch,
        optimizer,
        seed,
        args.epochs,
        precision=args.precision,
        batch_size=args.batch_size,
        policy_every=args.policy_every,
        command=command,
      )
      path = out / f"{dataset.name}_{args.arch}_{optimizer}_seed{seed}.json"
      path.write_text(json.dumps(record, indent=1))
      f = record["final"]
      print(
        f"wrote {path}: val acc {100 * f['val_accuracy']:.2f}%, val loss {f['val_loss']:.4f}",
        flush=True,
      )


if __name__ == "__main__":
  main()
