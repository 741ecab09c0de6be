"""Seeds in one program against seeds one after another: time per epoch, side by side.

    python -m benchmarks.speed.vmap_seeds [--seeds 3] [--steps 60] [--reps 3] [--optimizer pilot]
        [--data-dir /usr/share/datasets/fashion-mnist] [--out benchmarks/results/vmap_seeds_cpu.json]

The `cnn` on Fashion-MNIST-shaped data (the real files with --data-dir, random images
otherwise: the time does not depend on the pixels), batch 128. Two ways to train S seeds:
one `SeedGroup` of S seeds (`--vmap-seeds`: one jitted, vmapped step) and S groups of one
(the default: one run after the other). Each is compiled and warmed up first; then, in every
repetition, each way runs `--steps` steps of every seed, interleaved, and we report the
median time scaled to a full epoch (468 steps).
"""

from __future__ import annotations

import argparse
import statistics
import sys
from pathlib import Path

import jax
import jax.numpy as jnp
import numpy as np

from benchmarks import processes, records
from benchmarks.data import NORMALISATION, Dataset, load_dataset
from benchmarks.optimizers import learning_rate_schedule, resolve
from benchmarks.seeds import SeedGroup, epoch_orders
from benchmarks.speed import timing

BATCH = 128
STEPS_PER_EPOCH = 60_000 // BATCH


def _random_fashion_mnist(n: int) -> Dataset:
  rng = np.random.default_rng(0)
  images = rng.integers(0, 256, (n, 28, 28, 1), dtype=np.uint8)
  labels = rng.integers(0, 10, n).astype(np.int32)
  mean, std = NORMALISATION["fashionmnist"]
  return Dataset("fashionmnist", images, labels, images[:1000], labels[:1000], mean, std, False)


def _run(groups, data, steps: int):
  """A step of every group, as :func:`benchmarks.speed.timing.time_interleaved` runs it."""
  train_x, train_y = data

  def step(i, loss):
    for group, order, keys in groups:
      loss, _ = group.train(train_x, train_y, order, i, i, keys)
    return (i + 1) % steps, loss

  return step, (0, jnp.zeros(1))


def main(argv=None):
  parser = argparse.ArgumentParser(
    prog="python -m benchmarks.speed.vmap_seeds",
    description=__doc__.split("\n\n")[0],
    formatter_class=argparse.ArgumentDefaultsHelpFormatter,
  )
  parser.add_argument("--seeds", type=int, default=3, help="seeds trained together (0..N-1)")
  parser.add_argument("--steps", type=int, default=60, help="training steps timed per repetition")
  parser.add_argument("--reps", type=int, default=3, help="repetitions; the table reports medians")
  parser.add_argument(
    "--optimizer", default="pilot", help="a name of benchmarks.optimizers.REGISTRY"
  )
  parser.add_argument(
    "--data-dir",
    default=None,
    help="Fashion-MNIST IDX files; default: random images of its shape (timing only)",
  )
  parser.add_argument(
    "--out",
    type=Path,
    default=None,
    help="JSON of the raw numbers; default: benchmarks/results/vmap_seeds_<platform>.json",
  )
  args = parser.parse_args(argv)
  dataset = (
    load_dataset("fashionmnist", args.data_dir) if args.data_dir else _random_fashion_mnist(60_000)
  )
  seeds = list(range(args.seeds))
  schedule = learning_rate_schedule(1e-3, STEPS_PER_EPOCH * 30)
  data = processes.replicate((dataset.train_images, dataset.train_labels))

  optimizer = resolve(args.optimizer, dataset.name, "cnn")

  def orders(group_seeds):
    shuffles = [np.random.default_rng(s) for s in group_seeds]
    return jnp.asarray(epoch_orders(shuffles, len(dataset.train_labels), args.steps, BATCH))

  def keys(group_seeds):
    return jnp.stack([jax.random.key(s) for s in group_seeds])

  ways = {
    f"{args.seeds} seeds in one program (--vmap-seeds)": [
      (
        SeedGroup(dataset, "cnn", optimizer, seeds, schedule, jnp.float32),
        orders(seeds),
        keys(seeds),
      )
    ],
    f"{args.seeds} seeds one after another": [
      (
        SeedGroup(dataset, "cnn", optimizer, [s], schedule, jnp.float32),
        orders([s]),
        keys([s]),
      )
      for s in seeds
    ],
  }
  print(f"timing {args.reps} repetitions of {args.steps} steps each way ...", file=sys.stderr)
  per_step = timing.time_interleaved(
    {name: _run(groups, data, args.steps) for name, groups in ways.items()}, args.reps, args.steps
  )
  times = {name: [t * STEPS_PER_EPOCH for t in ts] for name, ts in per_step.items()}
  med = {name: statistics.median(t) for name, t in times.items()}
  sequential = med[f"{args.seeds} seeds one after another"]
  print(
    f"| cnn, {args.optimizer}, batch {BATCH}, {jax.devices()[0].device_kind} | s per epoch (all seeds) | vs one after another |"
  )
  print("|---|---|---|")
  for name, sec in med.items():
    print(f"| {name} | {sec:.1f} | {sec / sequential:.2f}× |")
  records.write_json(
    args.out or records.results_path(f"vmap_seeds_{jax.devices()[0].platform}.json"),
    records.header(records.command_line("benchmarks.speed.vmap_seeds", argv))
    | {"seconds_per_epoch_median": med, "seconds_per_epoch_raw": times, "steps_timed": args.steps},
  )


if __name__ == "__main__":
  main()
