"""Train the paper's protocol: one JSON result per (optimizer, seed).

    python -m benchmarks.train --dataset fashionmnist --arch cnn --optimizer all \
        --epochs 30 --seeds 0,1,2 --data-dir /usr/share/datasets/fashion-mnist --out DIR \
        [--vmap-seeds] [--resume | --overwrite] [--train-size N]
        [--coordinator HOST:PORT --num-processes N --process-id I]

Protocol (the paper's): cross-entropy, batch 128, cosine decay of the learning
rate per step (3-epoch linear warm-up for ResNet-18), official train split for
training and test split for validation, optional bf16 compute with float32 params.

The line through the modules: data (`benchmarks.data`) -> model (`benchmarks.models`) ->
step (`benchmarks.seeds`: every seed of a run in one jitted, vmapped step) -> the loop
below -> report (`benchmarks.table`). The whole dataset lives on the accelerator as
uint8; each step gathers its batch, normalises and (CIFAR-10) augments it inside the
jitted step, so the host only dispatches. The batch is split across all devices of all
processes (`benchmarks.processes`); `--resume` continues from end-of-epoch checkpoints
(`benchmarks.checkpoints`). A result or checkpoint that exists under OUT is never replaced
silently: without `--resume` (keep it) or `--overwrite` (replace it) the run refuses, naming
the file and what differs.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import sys
import time
from pathlib import Path

import jax
import jax.numpy as jnp
import numpy as np
import optax
from tqdm.auto import tqdm

from benchmarks import checkpoints, processes, records, trajectories
from benchmarks.data import DataError, Dataset, load_dataset
from benchmarks.optimizers import REGISTRY, Resolved, learning_rate_schedule, parse_names, resolve
from benchmarks.seeds import SeedGroup, TrainState, epoch_orders

WARMUP_EPOCHS = {"cnn": 0, "resnet18": 3}
LOSS_VARIANCE_DEFINITION = "population variance of the per-batch training loss over the final epoch"


def _prefix(dataset: str, arch: str, optimizer: str, peak_lr: float | None) -> str:
  lr = "" if peak_lr is None else f"_lr{peak_lr:g}"
  return f"{dataset}_{arch}_{optimizer}{lr}"


def run_name(
  dataset: str, arch: str, optimizer: str, seed: int, peak_lr: float | None = None
) -> str:
  """A run's file name (no suffix); the peak learning rate is in it when not the default."""
  return f"{_prefix(dataset, arch, optimizer, peak_lr)}_seed{seed}"


def checkpoint_name(
  dataset: str, arch: str, optimizer: str, seeds: list[int], peak_lr: float | None = None
) -> str:
  """The checkpoint folder of the seeds trained together in one program."""
  return f"{_prefix(dataset, arch, optimizer, peak_lr)}_seeds{'-'.join(map(str, seeds))}"


def run_setup(hp: dict, epochs: int, train_size: int, batch_size: int, precision: str) -> dict:
  """Everything that defines a run's result besides (dataset, arch, optimizer, seed).

  A finished or checkpointed run is reused under ``--resume`` only when all of it matches,
  the optimizer's own hyperparameters included.
  """
  return dict(
    epochs=epochs, train_size=train_size, batch_size=batch_size, precision=precision, **hp
  )


def record_setup(record: dict, keys) -> dict:
  """:func:`run_setup`'s keys as a result JSON of ``benchmarks.train`` holds them."""
  hp = record.get("hyperparameters", {})
  return {k: record["epochs"] if k == "epochs" else hp.get(k) for k in keys}


def setup_differences(found: dict, wanted: dict) -> list[str]:
  """``key=found (this run: wanted)`` for each key whose value differs; [] when they match."""
  return [
    f"{k}={found.get(k)!r} (this run: {v!r})"
    for k, v in wanted.items()
    if not _same(found.get(k), v)
  ]


def _same(a, b) -> bool:
  if isinstance(a, float) or isinstance(b, float):
    return a is not None and b is not None and float(a) == float(b)
  return a == b


class SetupMismatchError(ValueError):
  """A finished or checkpointed run was made with another set-up than the one asked for."""


@dataclasses.dataclass
class SeedProgress:
  """What one seed of a run has recorded so far (saved in each checkpoint)."""

  seed: int
  history: list[dict] = dataclasses.field(default_factory=list)
  policy: list[dict] = dataclasses.field(default_factory=list)
  loss_variance: float | None = None  # of the last recorded epoch
  stopped: bool = False  # its training loss went non-finite: it records no more epochs


@dataclasses.dataclass(frozen=True)
class Protocol:
  """The fixed quantities of one run: sizes, the schedule, what it is compared against."""

  steps_per_epoch: int
  epochs: int
  batch_size: int
  warmup_steps: int
  setup: dict


def _protocol(dataset, arch, optimizer, epochs, batch_size, precision) -> Protocol:
  steps_per_epoch = len(dataset.train_labels) // batch_size
  if steps_per_epoch == 0:
    raise ValueError(
      f"batch size {batch_size} exceeds the {len(dataset.train_labels)} training examples."
    )
  if batch_size % jax.device_count():
    raise ValueError(f"batch size {batch_size} does not split over {jax.device_count()} devices.")
  total_steps = steps_per_epoch * epochs
  # Runs shorter than the warm-up (smoke tests) warm up over their first half.
  warmup_steps = min(WARMUP_EPOCHS[arch] * steps_per_epoch, total_steps // 2)
  setup = run_setup(
    optimizer.hyperparameters, epochs, len(dataset.train_labels), batch_size, precision
  )
  return Protocol(steps_per_epoch, epochs, batch_size, warmup_steps, setup)


def train_seeds(
  dataset: Dataset,
  arch: str,
  optimizer: str | Resolved,
  seeds: list[int],
  epochs: int,
  *,
  precision: str = "fp32",
  batch_size: int = 128,
  policy_every: int = 10,
  command: str = "",
  checkpoint_dir: Path | None = None,
  peak_lr: float | None = None,
  trajectory_dir: Path | None = None,
  trajectory_every: int = 0,
) -> tuple[list[dict], TrainState]:
  """Trains every seed of one optimizer in one program; returns their records and final state.

  ``optimizer``: a name, or one already resolved (:func:`benchmarks.optimizers.resolve`);
  ``peak_lr`` replaces a name's documented peak learning rate. With ``checkpoint_dir``,
  continues from the latest end-of-epoch checkpoint found there (an error if it was made
  with another set-up, :func:`run_setup`) and writes one after every epoch (process 0).
  With ``trajectory_every`` > 0, each seed's parameters are saved under
  ``trajectory_dir/<run>/`` (:mod:`benchmarks.trajectories`).
  """
  if isinstance(optimizer, str):
    optimizer = resolve(optimizer, dataset.name, arch, peak_lr)
  protocol = _protocol(dataset, arch, optimizer, epochs, batch_size, precision)
  schedule = learning_rate_schedule(
    optimizer.hyperparameters["peak_learning_rate"],
    protocol.steps_per_epoch * epochs,
    protocol.warmup_steps,
  )
  dtype = jnp.bfloat16 if precision == "bf16" else jnp.float32
  group = SeedGroup(dataset, arch, optimizer, seeds, schedule, dtype)
  data = processes.replicate(
    (dataset.train_images, dataset.train_labels, dataset.test_images, dataset.test_labels)
  )
  keys = jnp.stack([jax.random.key(seed) for seed in seeds])
  shuffles = [np.random.default_rng(seed) for seed in seeds]

  done, progress = _resume(group, checkpoint_dir, protocol, seeds, optimizer.name)
  for _ in range(done):  # the data orders of the epochs already trained
    epoch_orders(shuffles, len(dataset.train_labels), protocol.steps_per_epoch, batch_size)
  snapshots = _Snapshots(
    group,
    dataset,
    arch,
    optimizer,
    seeds,
    peak_lr,
    protocol,
    trajectory_dir,
    trajectory_every,
    done,
  )

  for epoch in range(done + 1, epochs + 1):
    orders = processes.replicate(
      epoch_orders(shuffles, len(dataset.train_labels), protocol.steps_per_epoch, batch_size)
    )
    start = time.perf_counter()
    losses, policies = _train_epoch(
      group, data, orders, keys, epoch, protocol, policy_every, snapshots, optimizer.name
    )
    seconds = time.perf_counter() - start
    val_loss, val_acc = group.evaluate(data[2], data[3], len(dataset.test_labels))
    for k, seed_progress in enumerate(progress):
      _record_epoch(seed_progress, epoch, losses[k], val_loss[k], val_acc[k], seconds,
                    [(step, p[k]) for step, p in policies])  # fmt: skip
      _report(
        seed_progress, dataset.name, arch, optimizer.name, epoch, protocol, len(seeds), seconds
      )
    if all(p.stopped for p in progress):
      break
    if checkpoint_dir is not None and processes.is_writer() and epoch < epochs:
      state = dict(progress=[dataclasses.asdict(p) for p in progress], setup=protocol.setup)
      checkpoints.save(checkpoint_dir, epoch, checkpoints.to_leaves(group.state), state)

  settings = dict(
    batch_size=batch_size,
    schedule="cosine decay per step" + (", linear warm-up" if WARMUP_EPOCHS[arch] else ""),
    warmup_epochs=WARMUP_EPOCHS[arch],
    warmup_steps=protocol.warmup_steps,
    precision=precision,
    num_params=group.num_params,
    train_size=len(dataset.train_labels),
    seeds_in_one_program=len(seeds),
    processes=jax.process_count(),
    loss_variance=LOSS_VARIANCE_DEFINITION,
  ) | records.header(command)
  seed_records = [
    _seed_record(p, dataset.name, arch, optimizer, epochs, settings, group.records_policy)
    for p in progress
  ]
  return seed_records, group.state


def _resume(group, checkpoint_dir, protocol, seeds, name) -> tuple[int, list[SeedProgress]]:
  """(epochs done, each seed's progress): from the latest checkpoint, or a fresh start."""
  fresh = 0, [SeedProgress(seed) for seed in seeds]
  if checkpoint_dir is None:
    return fresh
  found = checkpoints.latest_on_every_process(checkpoint_dir, group.state)
  if found is None:
    return fresh
  done, leaves, saved = found
  differences = setup_differences(saved.get("setup", {}), protocol.setup)
  if differences:
    raise SetupMismatchError(
      f"the checkpoint in {checkpoint_dir} was made with {', '.join(differences)}; "
      "remove it or use another --out."
    )
  group.state = checkpoints.from_leaves(group.state, leaves)
  _say(f"[{name} seeds {seeds}] resumed after epoch {done} from {checkpoint_dir}")
  return done, [SeedProgress(**p) for p in saved["progress"]]


class _Snapshots:
  """Each seed's trajectory writer (--trajectory-every), or nothing."""

  def __init__(
    self, group, dataset, arch, optimizer, seeds, peak_lr, protocol, directory, every, done
  ):
    self.group, self.every, self.steps_per_epoch = group, every, protocol.steps_per_epoch
    self.writers = []
    if every <= 0 or not processes.is_writer():
      return
    first = jax.tree.map(lambda x: x[0], group.state.params)
    for seed in seeds:
      meta = trajectories.meta_for(
        dataset=dataset.name,
        arch=arch,
        optimizer=optimizer.name,
        seed=seed,
        peak_lr=optimizer.hyperparameters["peak_learning_rate"],
        params=first,
        steps_per_epoch=protocol.steps_per_epoch,
      )
      name = run_name(dataset.name, arch, optimizer.name, seed, peak_lr)
      self.writers.append(
        trajectories.TrajectoryWriter(directory / name, meta, done * protocol.steps_per_epoch)
      )
    if done == 0:
      self.save(0)

  def after_step(self, steps_done: int) -> None:
    if self.writers and trajectories.snapshot_due(steps_done, self.every, self.steps_per_epoch):
      self.save(steps_done)

  def save(self, steps_done: int) -> None:
    params = processes.to_host(self.group.state.params)
    for k, writer in enumerate(self.writers):
      writer.write(steps_done, trajectories.flatten([x[k] for x in jax.tree.leaves(params)]))


def _train_epoch(group, data, orders, keys, epoch, protocol, policy_every, snapshots, name):
  """One epoch of every seed: (S, steps) host losses and [(step, (S, 4) policy)]."""
  seeds = ",".join(str(s) for s in group.seeds)
  bar = tqdm(
    range(protocol.steps_per_epoch),
    desc=f"{name} seeds {seeds} epoch {epoch}/{protocol.epochs}",
    unit="step",
    leave=False,
    mininterval=1.0,
    file=sys.stderr,
    disable=not processes.is_writer(),
  )
  losses, policies = [], []
  for i in bar:
    global_step = (epoch - 1) * protocol.steps_per_epoch + i
    loss, policy = group.train(data[0], data[1], orders, i, global_step, keys)
    losses.append(loss)
    last_step = epoch == protocol.epochs and i == protocol.steps_per_epoch - 1
    if group.records_policy and (global_step % policy_every == 0 or last_step):
      policies.append((global_step + 1, policy))
    snapshots.after_step(global_step + 1)
    if i % 50 == 0 and i >= 50:
      # The loss of 50 steps ago is surely computed: showing it does not stall the queue.
      bar.set_postfix(loss=f"{float(processes.to_host(losses[i - 50]).mean()):.4f}")
  losses = np.stack([processes.to_host(x) for x in losses], axis=1).astype(np.float64)
  return losses, [(step, processes.to_host(p)) for step, p in policies]


def _record_epoch(progress: SeedProgress, epoch, losses, val_loss, val_acc, seconds, policies):
  """Appends one epoch to a seed's history and policy (nothing once it has stopped)."""
  if progress.stopped:
    return
  progress.history.append(
    dict(
      epoch=epoch,
      train_loss=float(losses.mean()),
      val_loss=float(val_loss),
      val_accuracy=float(val_acc),
      seconds=seconds,
    )
  )
  progress.loss_variance = float(np.var(losses))
  for step, policy in policies:
    rho, pm, pv, ps = (float(v) for v in policy)
    progress.policy.append(dict(step=step, rho=rho, pm=pm, pv=pv, ps=ps))
  progress.stopped = not np.isfinite(losses).all()


def _report(progress: SeedProgress, dataset, arch, name, epoch, protocol, num_seeds, seconds):
  if not progress.history or progress.history[-1]["epoch"] != epoch:
    return  # stopped before this epoch
  if progress.stopped:
    _say(
      f"[{name} seed {progress.seed}] non-finite training loss in epoch {epoch}; stopping this run."
    )
    return
  h = progress.history[-1]
  images = num_seeds * protocol.steps_per_epoch * protocol.batch_size
  _say(
    f"[{dataset}/{arch}/{name} seed {progress.seed}] epoch {epoch}/{protocol.epochs}: train loss "
    f"{h['train_loss']:.4f}  val loss {h['val_loss']:.4f}  val acc {100 * h['val_accuracy']:.2f}%  "
    f"{seconds:.1f}s ({images / seconds:.0f} img/s)"
  )


def _seed_record(progress: SeedProgress, dataset, arch, optimizer, epochs, settings, with_policy):
  """One seed's result JSON."""
  last = progress.history[-1]
  record = dict(
    dataset=dataset,
    arch=arch,
    optimizer=optimizer.name,
    seed=progress.seed,
    epochs=epochs,
    hyperparameters=optimizer.hyperparameters | settings,
    history=progress.history,
    final=dict(
      val_accuracy=last["val_accuracy"],
      val_loss=last["val_loss"],
      loss_variance=progress.loss_variance,
    ),
  )
  if with_policy:
    record["policy"] = progress.policy
  return record


def _say(message: str) -> None:
  if processes.is_writer():
    tqdm.write(message)


def write_final_state(directory: Path, name: str, state, k: int) -> Path:
  """Seed k's final parameters (and PILOT's ρ, φ) as one .npz, keys named by their paths."""
  params, opt_state = state.params, state.opt_state
  arrays = {
    jax.tree_util.keystr(path, simple=True, separator="/"): processes.to_host(x)[k]
    for path, x in jax.tree.leaves_with_path(params)
  }
  for field in ("rho", "phi"):
    value = optax.tree.get(opt_state, field, None)
    if value is not None:
      arrays[f"pilot/{field}"] = processes.to_host(value)[k]
  directory.mkdir(parents=True, exist_ok=True)
  path = directory / f"{name}.npz"
  np.savez(path, **arrays)
  return path


def parse_args(argv=None):
  parser = argparse.ArgumentParser(
    prog="python -m benchmarks.train",
    description=__doc__.split("\n\n")[0],
    formatter_class=argparse.ArgumentDefaultsHelpFormatter,
  )
  parser.add_argument(
    "--dataset", required=True, choices=["fashionmnist", "cifar10"], help="the data"
  )
  parser.add_argument("--arch", required=True, choices=["cnn", "resnet18"], help="the network")
  parser.add_argument(
    "--optimizer",
    required=True,
    help="comma list of pilot,adam,adamw,lion,adabelief,sophia and the ablations "
    "pilot_frozen,pilot_fast_policy; 'all' is the paper's six",
  )
  parser.add_argument("--epochs", type=int, default=30, help="epochs (the paper's: 30)")
  parser.add_argument(
    "--peak-lr",
    default=None,
    help="peak learning rate(s) replacing each optimizer's documented one: a value or a comma "
    "list run one after another (a sweep); a value other than the default goes into the result's "
    "file name (..._lr0.003_seed0.json), so one --out holds the whole sweep",
  )
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
    "--data-dir", default=None, help="local original files; default: tensorflow-datasets"
  )
  parser.add_argument(
    "--precision",
    choices=["fp32", "bf16"],
    default="fp32",
    help="compute dtype (parameters stay float32)",
  )
  parser.add_argument("--batch-size", type=int, default=128, help="global batch size")
  parser.add_argument(
    "--policy-every", type=int, default=10, help="record PILOT's policy every N steps"
  )
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


def main(argv=None):
  args = parse_args(argv)
  processes.initialize(args.coordinator, args.num_processes, args.process_id)
  command = records.command_line("benchmarks.train", argv)
  try:
    dataset = load_dataset(args.dataset, args.data_dir)
  except DataError as e:
    sys.exit(f"error: {e}")
  if args.train_size is not None:
    if args.train_size > len(dataset.train_labels):
      sys.exit(
        f"error: --train-size {args.train_size} exceeds the {len(dataset.train_labels)} training images."
      )
    n = args.train_size
    dataset = dataclasses.replace(
      dataset, train_images=dataset.train_images[:n], train_labels=dataset.train_labels[:n]
    )
  out = Path(args.out)
  if processes.is_writer():
    out.mkdir(parents=True, exist_ok=True)
    print(
      f"{dataset.name}: {len(dataset.train_labels)} train / {len(dataset.test_labels)} validation "
      f"images; {jax.process_count()} process(es), devices: {jax.devices()}",
      flush=True,
    )
  try:
    for peak_lr in args.peak_lrs:
      for optimizer in args.optimizers:
        run_optimizer(args, dataset, optimizer, peak_lr, out, command)
  except SetupMismatchError as e:
    sys.exit(f"error: {e}")


def run_optimizer(args, dataset: Dataset, name: str, peak_lr, out: Path, command: str):
  """Trains (or, under --resume, skips or continues) every seed of one optimizer at one peak LR."""
  optimizer = resolve(name, dataset.name, args.arch, peak_lr)
  if peak_lr is not None and float(peak_lr) == REGISTRY[name].peak_learning_rate:
    peak_lr = None  # the default: the run keeps its default name
  setup = run_setup(
    optimizer.hyperparameters,
    args.epochs,
    len(dataset.train_labels),
    args.batch_size,
    args.precision,
  )

  def path(seed):
    return out / f"{run_name(dataset.name, args.arch, name, seed, peak_lr)}.json"

  todo = _seeds_to_train(
    args, setup, path, lambda seeds: _checkpoint_dir(out, dataset, args, name, seeds, peak_lr)
  )
  groups = [todo] if args.vmap_seeds and todo else [[s] for s in todo]
  for seeds in groups:
    checkpoint_dir = (
      _checkpoint_dir(out, dataset, args, name, seeds, peak_lr) if args.resume else None
    )
    seed_records, state = train_seeds(
      dataset,
      args.arch,
      optimizer,
      seeds,
      args.epochs,
      precision=args.precision,
      batch_size=args.batch_size,
      policy_every=args.policy_every,
      command=command,
      checkpoint_dir=checkpoint_dir,
      peak_lr=peak_lr,
      trajectory_dir=out / trajectories.DIRNAME,
      trajectory_every=args.trajectory_every,
    )
    if not processes.is_writer():
      continue
    for k, record in enumerate(seed_records):
      path(record["seed"]).write_text(json.dumps(record, indent=1))
      if args.final_state:
        write_final_state(Path(args.final_state), path(record["seed"]).stem, state, k)
      f = record["final"]
      print(
        f"wrote {path(record['seed'])}: val acc {100 * f['val_accuracy']:.2f}%, "
        f"val loss {f['val_loss']:.4f}",
        flush=True,
      )
    if checkpoint_dir is not None:
      checkpoints.remove(checkpoint_dir)


def _checkpoint_dir(out: Path, dataset: Dataset, args, name: str, seeds, peak_lr) -> Path:
  return out / "checkpoints" / checkpoint_name(dataset.name, args.arch, name, seeds, peak_lr)


def _seeds_to_train(args, setup: dict, path, checkpoint_dir) -> list[int]:
  """The seeds of ``args.seed_list`` to train; refuses to overwrite what exists unless told to.

  A seed whose result JSON exists is skipped under ``--resume`` when it was made with
  ``setup`` (another set-up is an error); without ``--resume`` an existing result or
  checkpoint is an error naming the file, unless ``--overwrite`` (which removes the
  checkpoint, so that a later ``--resume`` cannot continue the replaced run). Process 0
  decides: only it has the files.
  """
  finished = np.zeros(len(args.seed_list), bool)
  if processes.is_writer():
    for k, seed in enumerate(args.seed_list):
      finished[k] = _result_is_kept(args, path(seed), setup)
    for seeds in [args.seed_list] + [[s] for s in args.seed_list]:
      _check_checkpoint(args, checkpoint_dir(seeds))
  todo = [s for s, f in zip(args.seed_list, processes.from_writer(finished), strict=True) if not f]
  for seed in sorted(set(args.seed_list) - set(todo)):
    _say(f"skipping {path(seed).stem}: its result exists with this set-up (--resume)")
  return todo


def _result_is_kept(args, path: Path, setup: dict) -> bool:
  """True when ``path`` holds this set-up's result and ``--resume`` keeps it; else raises or False."""
  if not path.exists():
    return False
  differences = setup_differences(record_setup(json.loads(path.read_text()), setup), setup)
  made_with = f"made with {', '.join(differences)}" if differences else "made with this set-up"
  if args.overwrite:
    _say(f"replacing {path} ({made_with}; --overwrite)")
    return False
  if differences:
    what = "remove it, use another --out or pass --overwrite"
    raise SetupMismatchError(f"{path} exists, {made_with}; {what}.")
  if not args.resume:
    raise SetupMismatchError(
      f"{path} exists, {made_with}; pass --resume to keep it or --overwrite to replace it."
    )
  return True


def _check_checkpoint(args, directory: Path) -> None:
  """Refuses a stopped run's checkpoint without --resume; --overwrite removes it."""
  if args.resume or not directory.exists():
    return
  if args.overwrite:
    _say(f"removing the checkpoint {directory} (--overwrite)")
    checkpoints.remove(directory)
    return
  raise SetupMismatchError(
    f"{directory} holds a stopped run's checkpoint; pass --resume to continue it or "
    "--overwrite to start again."
  )


if __name__ == "__main__":
  main()
