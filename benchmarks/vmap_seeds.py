"""Seeds in one program against seeds one after another: time per epoch, side by side.

    python -m benchmarks.vmap_seeds [--seeds 3] [--steps 60] [--reps 3] [--optimizer pilot]
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
import time
from pathlib import Path

import jax
import jax.numpy as jnp
import numpy as np

from benchmarks import processes, records
from benchmarks.data import Dataset, load_dataset
from benchmarks.optimizers import learning_rate_schedule
from benchmarks.seeds import SeedGroup

BATCH = 128
STEPS_PER_EPOCH = 60_000 // BATCH


def _random_fashion_mnist(n: int) -> Dataset:
  rng = np.random.default_rng(0)
  images = rng.integers(0, 256, (n, 28, 28, 1), dtype=np.uint8)
  labels = rng.integers(0, 10, n).astype(np.int32)
  return Dataset(
    "fashionmnist", images, labels, images[:1000], labels[:1000], (0.286,), (0.353,), False
  )


def _time_steps(groups, data, steps: int) -> float:
  """Seconds for `steps` steps of every group, until the last result is ready."""
  train_x, train_y = data
  start = time.perf_counter()
  for i in range(steps):
    for group, order, keys in groups:
      loss, _ = group.train(train_x, train_y, order, i, i, keys)
  jax.block_until_ready(loss)
  return time.perf_counter() - start


def main(argv=None):
  parser = argparse.ArgumentParser(
    prog="python -m benchmarks.vmap_seeds", description=__doc__.split("\n\n")[0]
  )
  parser.add_argument("--seeds", type=int, default=3)
  parser.add_argument("--steps", type=int, default=60)
  parser.add_argument("--reps", type=int, default=3)
  parser.add_argument("--optimizer", default="pilot")
  parser.add_argument("--data-dir", default=None)
  parser.add_argument("--out", type=Path, default=None)
  args = parser.parse_args(argv)
  dataset = (
    load_dataset("fashionmnist", args.data_dir) if args.data_dir else _random_fashion_mnist(60_000)
  )
  seeds = list(range(args.seeds))
  schedule = learning_rate_schedule(1e-3, STEPS_PER_EPOCH * 30)
  data = processes.replicate((dataset.train_images, dataset.train_labels))
  rng = np.random.default_rng(0)

  def orders(k):
    return jnp.asarray(
      np.stack(
        [
          rng.permutation(len(dataset.train_labels))[: args.steps * BATCH].reshape(
            args.steps, BATCH
          )
          for _ in range(k)
        ]
      ).astype(np.int32)
    )

  def keys(group_seeds):
    return jnp.stack([jax.random.key(s) for s in group_seeds])

  ways = {
    f"{args.seeds} seeds in one program (--vmap-seeds)": [
      (
        SeedGroup(dataset, "cnn", args.optimizer, seeds, schedule, jnp.float32),
        orders(len(seeds)),
        keys(seeds),
      )
    ],
    f"{args.seeds} seeds one after another": [
      (SeedGroup(dataset, "cnn", args.optimizer, [s], schedule, jnp.float32), orders(1), keys([s]))
      for s in seeds
    ],
  }
  for groups in ways.values():
    _time_steps(groups, data, 2)  # compile and warm up
  times = {name: [] for name in ways}
  for rep in range(args.reps):
    for name, groups in ways.items():
      seconds = _time_steps(groups, data, args.steps)
      times[name].append(seconds * STEPS_PER_EPOCH / args.steps)
      print(
        f"rep {rep + 1}/{args.reps}: {name}: {times[name][-1]:.1f} s per epoch",
        file=sys.stderr,
        flush=True,
      )
  med = {name: statistics.median(t) for name, t in times.items()}
  sequential = med[f"{args.seeds} seeds one after another"]
  print(
    f"| cnn, {args.optimizer}, batch {BATCH}, {jax.devices()[0].device_kind} | s per epoch (all seeds) | vs one after another |"
  )
  print("|---|---|---|")
  for name, sec in med.items():
    print(f"| {name} | {sec:.1f} | {sec / sequential:.2f}× |")
  records.write_json(
    args.out or Path("benchmarks/results") / f"vmap_seeds_{jax.devices()[0].platform}.json",
    {
      "command": records.command_line("benchmarks.vmap_seeds", argv),
      "seconds_per_epoch_median": med,
      "seconds_per_epoch_raw": times,
      "steps_timed": args.steps,
      "device": str(jax.devices()[0].device_kind),
    },
  )


if __name__ == "__main__":
  main()
