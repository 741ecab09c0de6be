"""Seeds in one program against seeds one after another: time per epoch (or step), side by side.

    python -m benchmarks.speed.vmap_seeds [--workload cnn|transformer] [--seeds 3] [--steps 60]
        [--reps 3] [--optimizer pilot] [--data-dir /usr/share/datasets/fashion-mnist]
        [--out benchmarks/results/vmap_seeds_cpu.json]

`cnn`: the SmallCNN on Fashion-MNIST-shaped data (the real files with --data-dir, random images
otherwise: the time does not depend on the pixels), batch 128, reported per epoch (468 steps).
`transformer`: the language-model workload's byte transformer (its default size, batch 32) on
random bytes, reported per step. Two ways to train S seeds:
one `SeedGroup` of S seeds (`--vmap-seeds`: one jitted, vmapped step) and S groups of one
(the default: one run after the other). Each is compiled and warmed up first; then, in every
repetition, each way runs `--steps` steps of every seed, interleaved, and we report the
median time.
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
from benchmarks.seeds import SeedGroup
from benchmarks.speed import timing
from benchmarks.text import Corpus
from benchmarks.workloads import ImageWorkload, TextWorkload

BATCH = 128
STEPS_PER_EPOCH = 60_000 // BATCH


def _random_fashion_mnist(n: int) -> Dataset:
  rng = np.random.default_rng(0)
  images = rng.integers(0, 256, (n, 28, 28, 1), dtype=np.uint8)
  labels = rng.integers(0, 10, n).astype(np.int32)
  mean, std = NORMALISATION["fashionmnist"]
  return Dataset("fashionmnist", images, labels, images[:1000], labels[:1000], mean, std, False)


def timed_workload(name: str, data_dir, steps: int):
  """The workload timed, and how many steps its reported unit (an epoch, a step) holds."""
  if name == "transformer":
    rng = np.random.default_rng(0)
    text = rng.integers(0, 256, 1 << 20, dtype=np.uint8)
    corpus = Corpus("bible", text, text[: 1 << 16], (), ())
    return TextWorkload(corpus, steps, steps, 32, valid_bytes=4096), 1
  dataset = load_dataset("fashionmnist", data_dir) if data_dir else _random_fashion_mnist(60_000)
  return ImageWorkload(dataset, "cnn", 30, BATCH), STEPS_PER_EPOCH


def interleaved_steps(groups, data, steps: int):
  """A step of every group, as :func:`benchmarks.speed.timing.time_interleaved` runs it."""

  def step(i, loss):
    for group, order, keys in groups:
      loss, _ = group.train(data, order, i, i, keys)
    return (i + 1) % steps, loss

  return step, (0, jnp.zeros(1))


def _suffix(workload: str) -> str:
  platform = jax.devices()[0].platform
  return platform if workload == "cnn" else f"{workload}_{platform}"


def _parser() -> argparse.ArgumentParser:
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
    "--workload",
    choices=["cnn", "transformer"],
    default="cnn",
    help="what is trained: the image CNN or the language model's byte transformer",
  )
  parser.add_argument(
    "--data-dir",
    default=None,
    help="cnn: Fashion-MNIST IDX files; default: random images of its shape (timing only)",
  )
  parser.add_argument(
    "--out",
    type=Path,
    default=None,
    help="JSON of the raw numbers; default: benchmarks/results/vmap_seeds_<platform>.json (cnn), "
    "vmap_seeds_transformer_<platform>.json",
  )
  return parser


def _ways(workload, optimizer, seeds: list[int], steps: int) -> dict[str, list]:
  """The two ways to train ``seeds``: one vmapped group, or a group per seed; each group with
  its batch orders and initial keys."""
  schedule = learning_rate_schedule(1e-3, workload.total_steps)

  def group(group_seeds):
    shuffles = [np.random.default_rng(s) for s in group_seeds]
    orders = jnp.asarray(workload.round_orders(shuffles)[:, :steps])
    keys = jnp.stack([jax.random.key(s) for s in group_seeds])
    return SeedGroup(workload, optimizer, group_seeds, schedule, jnp.float32), orders, keys

  return {
    f"{len(seeds)} seeds in one program (--vmap-seeds)": [group(seeds)],
    f"{len(seeds)} seeds one after another": [group([s]) for s in seeds],
  }


def main(argv=None):
  args = _parser().parse_args(argv)
  workload, unit_steps = timed_workload(args.workload, args.data_dir, args.steps)
  data = processes.replicate(workload.train_arrays())
  optimizer = resolve(args.optimizer, workload.dataset, workload.arch)
  ways = _ways(workload, optimizer, list(range(args.seeds)), args.steps)
  print(f"timing {args.reps} repetitions of {args.steps} steps each way ...", file=sys.stderr)
  per_step = timing.time_interleaved(
    {name: interleaved_steps(groups, data, args.steps) for name, groups in ways.items()},
    args.reps,
    args.steps,
  )
  times = {name: [t * unit_steps for t in ts] for name, ts in per_step.items()}
  unit = "epoch" if unit_steps > 1 else "step"
  med = {name: statistics.median(t) for name, t in times.items()}
  sequential = med[f"{args.seeds} seeds one after another"]
  print(
    f"| {args.workload}, {args.optimizer}, batch {workload.batch_size}, "
    f"{jax.devices()[0].device_kind} | s per {unit} (all seeds) | vs one after another |"
  )
  print("|---|---|---|")
  for name, sec in med.items():
    print(f"| {name} | {sec:.3g} | {sec / sequential:.2f}× |")
  records.write_json(
    args.out or records.results_path(f"vmap_seeds_{_suffix(args.workload)}.json"),
    records.header(records.command_line("benchmarks.speed.vmap_seeds", argv))
    | {f"seconds_per_{unit}_median": med, f"seconds_per_{unit}_raw": times}
    | {"steps_timed": args.steps, "workload": args.workload},
  )


if __name__ == "__main__":
  main()
