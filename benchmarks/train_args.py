"""The command line of `benchmarks.train`: its options, parsed and checked before JAX loads.

`benchmarks.train` parses its arguments with :func:`parse_args` first and imports JAX, Flax and
the data loaders only after, so that ``--help`` and a mistyped option answer in about a second.
Nothing here may import them: the registry (`benchmarks.optimizers`) and the transformer's size
(`benchmarks.sizes`) load optax and JAX only when an optimizer is built.
"""

from __future__ import annotations

import argparse
import dataclasses

from benchmarks.optimizers import ALL_NAMES, parse_names
from benchmarks.sizes import TransformerSize

DESCRIPTION = """Train the benchmark's workloads: one JSON result per (optimizer, seed, peak learning rate).

    python -m benchmarks.train --dataset fashionmnist --arch cnn --optimizer all \\
        --epochs 30 --seeds 0,1,2 --data-dir /usr/share/datasets/fashion-mnist --out DIR
    python -m benchmarks.train --dataset bible --arch transformer --optimizer adamw,pilot \\
        --steps 2000 --eval-every 100 --peak-lr 3e-3 --seeds 0 --out DIR --resume
"""


def _add_workload_options(parser) -> None:
  """What is trained: the data, the network, the optimizers and the schedule's length."""
  parser.add_argument(
    "--dataset",
    required=True,
    choices=["fashionmnist", "cifar10", "bible"],
    help="the data: two image sets, or the World English Bible as bytes (benchmarks.text)",
  )
  parser.add_argument(
    "--arch",
    required=True,
    choices=["cnn", "resnet18", "transformer"],
    help="the network: cnn, resnet18 for images; transformer for bible",
  )
  parser.add_argument(
    "--optimizer",
    required=True,
    help=f"comma list of {','.join(ALL_NAMES)}; 'all' is the paper's six "
    "(benchmarks/optimizers.py says what each is)",
  )
  parser.add_argument(
    "--epochs", type=int, default=30, help="images: epochs (the paper's: 30); one round each"
  )
  parser.add_argument("--steps", type=int, default=2000, help="bible: training steps")
  parser.add_argument(
    "--eval-every", type=int, default=100, help="bible: steps per round (evaluation, checkpoint)"
  )
  size = TransformerSize()
  for field in dataclasses.fields(size):
    parser.add_argument(
      f"--{field.name}",
      type=int,
      default=getattr(size, field.name),
      help=f"transformer: {field.name}",
    )
  parser.add_argument(
    "--valid-bytes",
    type=int,
    default=262_144,
    help="bible: predicted bytes of the fixed validation windows (and of the training slice)",
  )
  parser.add_argument(
    "--peak-lr",
    default=None,
    help="peak learning rate(s) replacing each optimizer's documented one: a value or a comma "
    "list run one after another (a sweep); a value other than the default goes into the result's "
    "file name (..._lr0.003_seed0.json), so one --out holds the whole sweep",
  )


def _add_recording_options(parser) -> None:
  """What a run records, its seeds, data folder and precision."""
  parser.add_argument(
    "--trajectory-every",
    type=int,
    default=0,
    help="save each run's parameters every K steps, at every epoch's end and before the first "
    "step, under OUT/trajectories/<run>/ (for benchmarks.landscape); costs 4 bytes a parameter "
    "a snapshot: the 0.8M-parameter cnn, 5 epochs at K=25, ~100 snapshots, ~330 MB a run. "
    "0: off",
  )
  parser.add_argument("--seeds", default="0,1,2", help="comma list of integers")
  parser.add_argument(
    "--data-dir",
    default=None,
    help="local original files; images default to tensorflow-datasets, bible to /usr/share/sword",
  )
  parser.add_argument(
    "--precision",
    choices=["fp32", "bf16"],
    default="fp32",
    help="compute dtype (parameters stay float32)",
  )
  parser.add_argument(
    "--batch-size", type=int, default=None, help="global batch size (default: images 128, bible 32)"
  )
  parser.add_argument(
    "--policy-every", type=int, default=10, help="record PILOT's policy every N steps"
  )


def _add_run_options(parser) -> None:
  """Where results go, how seeds run, resuming, and several processes."""
  parser.add_argument("--out", required=True, help="directory for the result JSONs")
  parser.add_argument(
    "--vmap-seeds",
    action="store_true",
    help="train all seeds of an optimizer in one jitted program (vmapped), not one after another",
  )
  parser.add_argument(
    "--resume",
    action="store_true",
    help="skip (optimizer, seed) runs whose JSON exists with the same set-up (epochs, data, "
    "batch, precision, hyperparameters; another set-up is an error); continue unfinished ones "
    "from their last end-of-epoch checkpoint under OUT/checkpoints/ (written after every epoch)",
  )
  parser.add_argument(
    "--overwrite",
    action="store_true",
    help="replace result JSONs (and remove checkpoints) that exist under OUT for the runs asked "
    "for; without it (or --resume) an existing result or checkpoint is an error, so that a rerun "
    "with another set-up cannot silently replace one",
  )
  parser.add_argument(
    "--train-size", type=int, default=None, help="train on the first N training images only"
  )
  parser.add_argument(
    "--final-state",
    default=None,
    help="directory for each run's final parameters (and PILOT's rho, phi) as .npz",
  )
  parser.add_argument("--coordinator", default=None, help="HOST:PORT of process 0 (several hosts)")
  parser.add_argument("--num-processes", type=int, default=None)
  parser.add_argument("--process-id", type=int, default=None)


class _Formatter(argparse.ArgumentDefaultsHelpFormatter, argparse.RawDescriptionHelpFormatter):
  """Defaults in the help, and the description's command lines kept as written."""


def parse_args(argv=None) -> argparse.Namespace:
  """The checked options of ``argv`` (default: ``sys.argv[1:]``); exits with a message on a bad one."""
  parser = argparse.ArgumentParser(
    prog="python -m benchmarks.train",
    description=DESCRIPTION,
    formatter_class=_Formatter,
  )
  _add_workload_options(parser)
  _add_recording_options(parser)
  _add_run_options(parser)
  args = parser.parse_args(argv)
  try:
    args.optimizers = parse_names(args.optimizer)
  except ValueError as e:
    parser.error(str(e))
  try:
    args.seed_list = [int(s) for s in args.seeds.split(",") if s.strip()]
  except ValueError:
    parser.error(f"--seeds: expected a comma list of integers such as 0,1,2; got {args.seeds!r}.")
  _check_workload_args(parser, args)
  if not args.seed_list:
    parser.error("--seeds must not be empty.")
  if len(set(args.seed_list)) != len(args.seed_list):
    parser.error(f"--seeds: each seed once; got {args.seeds!r}.")
  try:
    args.peak_lrs = (
      [None] if args.peak_lr is None else [float(x) for x in args.peak_lr.split(",") if x.strip()]
    )
  except ValueError:
    parser.error(
      f"--peak-lr: expected a number or a comma list such as 3e-4,1e-3; got {args.peak_lr!r}."
    )
  if not args.peak_lrs or any(lr is not None and not 0 < lr < float("inf") for lr in args.peak_lrs):
    parser.error(
      f"--peak-lr: each learning rate must be a finite number > 0; got {args.peak_lr!r}."
    )
  if args.trajectory_every < 0:
    parser.error(f"--trajectory-every must be >= 0 (0: off); got {args.trajectory_every}.")
  if args.train_size is not None and args.train_size < 1:
    parser.error(f"--train-size must be >= 1; got {args.train_size}.")
  if args.resume and args.overwrite:
    parser.error("--resume keeps what exists, --overwrite replaces it: pass one of them.")
  multi = (args.coordinator, args.num_processes, args.process_id)
  if any(x is not None for x in multi) and any(x is None for x in multi):
    parser.error("--coordinator, --num-processes and --process-id go together.")
  if args.num_processes is not None and not 0 <= args.process_id < args.num_processes:
    parser.error(f"--process-id must lie in [0, {args.num_processes}); got {args.process_id}.")
  return args


def _check_workload_args(parser, args) -> None:
  text = args.dataset == "bible"
  if text != (args.arch == "transformer"):
    parser.error("--arch transformer goes with --dataset bible, and only with it.")
  if args.batch_size is None:
    args.batch_size = 32 if text else 128
  counts = ["epochs", "batch_size", "policy_every", "steps", "eval_every", "valid_bytes"]
  counts += [f.name for f in dataclasses.fields(TransformerSize)]
  small = [f"--{k.replace('_', '-')} {getattr(args, k)}" for k in counts if getattr(args, k) < 1]
  if small:
    parser.error(f"{', '.join(small)}: each must be >= 1.")
  if text and args.steps % args.eval_every:
    parser.error(f"--steps {args.steps} must be a multiple of --eval-every {args.eval_every}.")
