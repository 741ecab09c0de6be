"""What a training step of the language-model workload costs, per optimizer, in one program.

    python -m benchmarks.speed.lm_step [--steps 20] [--reps 5] [--optimizers A,B,...] [--out PATH]

The whole step (forward, backward, update) of the sweep's byte transformer (default size,
batch 32, context 128), run by the harness's own seed group (`benchmarks.seeds.SeedGroup`, as
`benchmarks.train` runs it, PILOT's policy read out included) on random bytes (the time does
not depend on them), for AdamW, NAdamW, Lion, PILOT, its frozen policy and the frozen knobs one
at a time (the weight-decay swaps cost what the optimizers they change cost). Each is compiled and warmed up;
then in every repetition each runs ``--steps`` steps, interleaved, so that the machine's drift
hits all alike. Reports the median seconds per step and the ratio to AdamW (the optimizer's own
cost counts, as in AlgoPerf); writes the raw numbers as JSON (default:
benchmarks/results/lm_step_<platform>.json).
"""

from __future__ import annotations

import argparse
import statistics
from pathlib import Path

import jax
import jax.numpy as jnp
import numpy as np

from benchmarks import processes, records
from benchmarks.optimizers import learning_rate_schedule, resolve
from benchmarks.seeds import SeedGroup
from benchmarks.speed import timing
from benchmarks.speed.vmap_seeds import interleaved_steps, timed_workload

OPTIMIZERS = (
  "adamw",
  "nadamw",
  "lion",
  "pilot",
  "pilot_frozen",
  "pilot_pm",
  "pilot_pv",
  "pilot_ps",
  "adamw_b2_095",
)


def main(argv=None):
  parser = argparse.ArgumentParser(
    prog="python -m benchmarks.speed.lm_step", description=__doc__.split("\n\n")[0]
  )
  parser.add_argument("--steps", type=int, default=20, help="steps of each optimizer a repetition")
  parser.add_argument("--reps", type=int, default=5, help="repetitions (the median is reported)")
  parser.add_argument(
    "--optimizers", default=",".join(OPTIMIZERS),
    help="comma list of registry names, adamw among them (the ratios are to it)",
  )  # fmt: skip
  parser.add_argument("--out", type=Path, default=None, help="JSON path of the raw numbers")
  args = parser.parse_args(argv)
  names = [n.strip() for n in args.optimizers.split(",") if n.strip()]
  if "adamw" not in names:
    parser.error("--optimizers must include adamw (the ratios are to it)")
  workload, _ = timed_workload("transformer", None, args.steps)
  data = processes.replicate(workload.train_arrays())
  schedule = learning_rate_schedule(1e-3, workload.total_steps)
  order = jnp.asarray(workload.round_orders([np.random.default_rng(0)]))
  keys = jnp.stack([jax.random.key(0)])
  runs = {}
  for name in names:
    optimizer = resolve(name, workload.dataset, workload.arch, 1e-3)
    group = SeedGroup(workload, optimizer, [0], schedule, jnp.float32)
    runs[name] = interleaved_steps([(group, order, keys)], data, args.steps)
  per_step = timing.time_interleaved(runs, args.reps, args.steps)
  median = {name: statistics.median(t) for name, t in per_step.items()}
  print(f"| optimizer ({jax.devices()[0].device_kind}) | s per step | vs AdamW |\n|---|---|---|")
  for name, seconds in median.items():
    print(f"| {name} | {seconds:.4f} | {seconds / median['adamw']:.3f}× |")
  records.write_json(
    args.out or records.results_path(f"lm_step_{jax.devices()[0].platform}.json"),
    records.header(records.command_line("benchmarks.speed.lm_step", argv))
    | {"seconds_per_step_median": median, "seconds_per_step_raw": per_step}
    | {"steps_per_rep": args.steps, "num_params": group.num_params},
  )


if __name__ == "__main__":
  main()
