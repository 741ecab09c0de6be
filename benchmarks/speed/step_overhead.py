"""Speed and memory of PILOT's step against optax's optimizers (and the PyTorch reference).

    python -m benchmarks.speed.step_overhead [--out benchmarks/results/step_overhead_cpu.json]
        [--torch-python /path/to/venv/bin/python] [--quick]

1. Optimizer step alone (update + apply_updates, jitted, buffers donated, after warm-up),
   for pilot, adam, adamw, lion, adabelief, on parameter sets shaped like ResNet-18 (11.2M),
   an MLP (0.97M) and a GPT-like transformer (101.2M) (benchmarks.speed.timing.SHAPE_SETS). The optimizers are interleaved in every repetition so
   that machine drift hits all alike; we report medians and the ratio to optax.adam.
2. Whole training step (forward, backward, update) of the benchmark `cnn` on
   Fashion-MNIST-shaped batches of 128, and of `resnet18` on CIFAR-shaped batches of 128:
   pilot over adam.
3. Optimizer-state bytes over parameter bytes.
4. With torch and pilot-optimizer (here or through --torch-python): the reference PILOT over
   torch.optim.Adam(foreach=True) on the same shapes.
Writes the raw numbers as JSON and a markdown table beside it (same name, .md).
"""

from __future__ import annotations

import argparse
import json
import subprocess
from pathlib import Path

import jax
import jax.numpy as jnp
import numpy as np
import optax

from benchmarks import records
from benchmarks.speed import timing
from benchmarks.speed import torch_reference as torch_reference_module
from benchmarks.speed.timing import SHAPE_SETS
from benchmarks.speed.torch_reference import time_reference
from pilot_optax import pilot

OPTIMIZERS = {
  "pilot": lambda: pilot(1e-3),
  # The same step with the lookahead skipped (lr_phi = 0 freezes the policy): what the rest costs.
  "pilot_no_lookahead": lambda: pilot(1e-3, lr_phi=0.0),
  "adam": lambda: optax.adam(1e-3),
  "adamw": lambda: optax.adamw(1e-3),
  "lion": lambda: optax.lion(1e-4),
  "adabelief": lambda: optax.adabelief(1e-3),
}


def time_optimizer_steps(shapes, reps, steps_per_rep):
  """Seconds per optimizer step (update + apply), the optimizers interleaved."""
  return timing.time_interleaved(timing.optimizer_runs(OPTIMIZERS, shapes), reps, steps_per_rep)


def state_bytes_ratio(shapes):
  params = [jax.ShapeDtypeStruct(s, jnp.float32) for s in shapes]
  param_bytes = sum(np.prod(s) * 4 for s in shapes)
  txs = {name: make() for name, make in OPTIMIZERS.items()} | {
    "pilot(mu_dtype=bf16)": pilot(1e-3, mu_dtype=jnp.bfloat16)
  }
  ratios = {}
  for name, tx in txs.items():
    state = jax.eval_shape(tx.init, params)
    ratios[name] = float(
      sum(np.prod(x.shape) * x.dtype.itemsize for x in jax.tree.leaves(state)) / param_bytes
    )
  return ratios


def time_training_steps(arch, reps, steps_per_rep):
  """Seconds per whole training step (forward, backward, update) with pilot and adam, interleaved."""
  from flax import nnx

  from benchmarks.models import build_model

  image_shape, channels = ((28, 28, 1), 1) if arch == "cnn" else ((32, 32, 3), 3)
  x = jax.random.normal(jax.random.key(0), (128, *image_shape))
  y = jax.random.randint(jax.random.key(1), (128,), 0, 10)
  runs = {}
  for name in ("pilot", "adam"):
    model = build_model(arch, channels, 10, image_shape[0])
    model.train()
    graph, params, rest = nnx.split(model, nnx.Param, ...)
    tx = OPTIMIZERS[name]()

    def step(params, rest, state, graph=graph, tx=tx):
      def loss_fn(params):
        model = nnx.merge(graph, params, rest, copy=True)
        loss = optax.softmax_cross_entropy_with_integer_labels(model(x), y).mean()
        return loss, nnx.split(model, nnx.Param, ...)[2]

      (_, rest), grads = jax.value_and_grad(loss_fn, has_aux=True)(params)
      updates, state = tx.update(grads, state, params)
      return optax.apply_updates(params, updates), rest, state

    runs[name] = (jax.jit(step, donate_argnums=(0, 1, 2)), (params, rest, tx.init(params)))
  return timing.time_interleaved(runs, reps, steps_per_rep)


def torch_reference(shape_sets, reps, python):
  """The reference's ratio, in-process if importable, else through another interpreter."""
  if python is None:
    try:
      import pilot as _  # noqa: F401
      import torch as _  # noqa: F401, F811
    except ImportError:
      return None
    return time_reference(shape_sets, reps)
  out = subprocess.run(
    [python, torch_reference_module.__file__, json.dumps(shape_sets), str(reps)],
    capture_output=True,
    text=True,
    check=True,
  )
  return json.loads(out.stdout)


def main(argv=None):
  parser = argparse.ArgumentParser(
    prog="python -m benchmarks.speed.step_overhead", description=__doc__.split("\n\n")[0]
  )
  parser.add_argument(
    "--out",
    type=Path,
    default=None,
    help="JSON path (default: benchmarks/results/step_overhead_<platform>.json)",
  )
  parser.add_argument(
    "--torch-python", default=None, help="interpreter with torch and pilot-optimizer"
  )
  parser.add_argument(
    "--quick", action="store_true", help="fewer repetitions, no 100M set, no resnet18 step"
  )
  args = parser.parse_args(argv)
  platform_name = jax.devices()[0].platform
  out = args.out or records.results_path(f"step_overhead_{platform_name}.json")
  reps = 3 if args.quick else 9
  sets = {k: v for k, v in SHAPE_SETS.items() if not (args.quick and k == "transformer_100M")}

  result = records.header(records.command_line("benchmarks.speed.step_overhead", argv)) | {
    "optimizer_step": {},
    "training_step": {},
    "state_bytes_over_param_bytes": {},
  }
  shapes_by_set = {name: fn() for name, fn in sets.items()}
  for name, shapes in shapes_by_set.items():
    n = int(sum(np.prod(s) for s in shapes))
    set_reps = max(3, reps // 3) if n > 50e6 else reps
    print(
      f"optimizer step, {name} ({n / 1e6:.1f}M parameters), {set_reps} repetitions ...", flush=True
    )
    result["optimizer_step"][name] = {
      "num_params": n,
      **timing.summarise(time_optimizer_steps(shapes, set_reps, 3)),
    }
    result["state_bytes_over_param_bytes"][name] = state_bytes_ratio(shapes)
  for arch in ("cnn",) if args.quick else ("cnn", "resnet18"):
    arch_reps = reps if arch == "cnn" else max(3, reps // 3)
    print(f"training step, {arch}, batch 128, {arch_reps} repetitions ...", flush=True)
    result["training_step"][arch] = timing.summarise(
      time_training_steps(arch, arch_reps, 5 if arch == "cnn" else 2)
    )
  torch_sets = {k: v for k, v in shapes_by_set.items() if k != "transformer_100M"}
  try:
    result["torch_reference"] = torch_reference(torch_sets, 5, args.torch_python)
  except (subprocess.CalledProcessError, json.JSONDecodeError) as e:
    result["torch_reference"] = {"error": str(e)}

  table = markdown(result)
  print(table)
  records.write_json(out, result)
  out.with_suffix(".md").write_text(f"`{result['command']}` on {result['device']}\n\n{table}\n")
  print(f"wrote {out.with_suffix('.md')}")


def markdown(result):
  lines = [
    "| optimizer step | params | " + " | ".join(OPTIMIZERS) + " |",
    "|---|---|" + "---|" * len(OPTIMIZERS),
  ]
  for name, r in result["optimizer_step"].items():
    cells = [
      f"{1e3 * r['median_seconds'][k]:.2f} ms ({r['over_adam'][k]:.2f}×)" for k in OPTIMIZERS
    ]
    lines.append(f"| {name} | {r['num_params'] / 1e6:.1f}M | " + " | ".join(cells) + " |")
  lines += ["", "| training step (batch 128) | pilot | adam | pilot / adam |", "|---|---|---|---|"]
  for arch, r in result["training_step"].items():
    m = r["median_seconds"]
    lines.append(
      f"| {arch} | {1e3 * m['pilot']:.1f} ms | {1e3 * m['adam']:.1f} ms | {r['over_adam']['pilot']:.3f} |"
    )
  names = list(next(iter(result["state_bytes_over_param_bytes"].values())))
  lines += [
    "",
    "| state bytes / param bytes | " + " | ".join(names) + " |",
    "|---|" + "---|" * len(names),
  ]
  for name, r in result["state_bytes_over_param_bytes"].items():
    lines.append(f"| {name} | " + " | ".join(f"{r[k]:.4f}" for k in names) + " |")
  ref = result.get("torch_reference")
  if ref and "sets" in ref:
    lines += [
      "",
      f"| same shapes | pilot_optax | optax.adam | ratio | reference PILOT (torch {ref['torch']}) | torch Adam(foreach) | ratio |",
      "|---|---|---|---|---|---|---|",
    ]
    for name, r in ref["sets"].items():
      ours = result["optimizer_step"][name]
      lines.append(
        f"| {name} | {1e3 * ours['median_seconds']['pilot']:.1f} ms | {1e3 * ours['median_seconds']['adam']:.1f} ms | "
        f"{ours['over_adam']['pilot']:.2f}× | {1e3 * r['seconds']['pilot']:.1f} ms | {1e3 * r['seconds']['adam']:.1f} ms | "
        f"{r['pilot_over_adam']:.2f}× |"
      )
  return "\n".join(lines)


if __name__ == "__main__":
  main()
