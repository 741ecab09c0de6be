"""Train the benchmark's workloads: one JSON result per (optimizer, seed, peak learning rate).

    python -m benchmarks.train --dataset fashionmnist --arch cnn --optimizer all \
        --epochs 30 --seeds 0,1,2 --data-dir /usr/share/datasets/fashion-mnist --out DIR \
        [--vmap-seeds] [--resume | --overwrite] [--train-size N] [--peak-lr 3e-4,1e-3]
        [--coordinator HOST:PORT --num-processes N --process-id I]
    python -m benchmarks.train --dataset bible --arch transformer --optimizer adamw,pilot \
        --steps 2000 --eval-every 100 --peak-lr 3e-3 --seeds 0 --out DIR [--resume]

Two workloads (`benchmarks.workloads`), one loop (:func:`train_workload`):
- images (the paper's protocol): cross-entropy, batch 128, cosine decay of the learning rate per
  step (3-epoch linear warm-up for ResNet-18), official train split for training and test split
  for validation, evaluated after every epoch;
- text: next-byte prediction by the byte transformer on the World English Bible (split by books,
  `benchmarks.text`), batch 32, linear warm-up (5% of the steps) then cosine decay, evaluated in
  bits per byte every ``--eval-every`` steps on fixed windows of the validation books.
Optional bf16 compute with float32 params.

The line through the modules: data (`benchmarks.data`, `benchmarks.text`) -> workload (model,
batches, evaluation sets: `benchmarks.workloads`) -> step (`benchmarks.seeds`: every seed of a
run in one jitted, vmapped step) -> the loop below -> report (`benchmarks.table`,
`benchmarks.lm_report`). The data lives on the accelerator as uint8; each step cuts its batch
(and normalises and augments images) inside the jitted step, so the host only dispatches. The
batch is split across all devices of all processes (`benchmarks.processes`); `--resume`
continues from end-of-round checkpoints (`benchmarks.checkpoints`; a round is an epoch, or
``--eval-every`` steps). A result or checkpoint that exists under OUT is never replaced
silently: without `--resume` (keep it) or `--overwrite` (replace it) the run refuses, naming
the file and what differs.
"""

from __future__ import annotations

if __name__ == "__main__":
  # --help and argument errors answer before JAX, Flax and the data loaders load (seconds).
  from benchmarks.train_args import parse_args as _parse_args

  _ARGS = _parse_args()

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
from benchmarks.optimizers import REGISTRY, Resolved, learning_rate_schedule, resolve
from benchmarks.seeds import SeedGroup, TrainState
from benchmarks.sizes import TransformerSize
from benchmarks.text import load_bible
from benchmarks.train_args import parse_args
from benchmarks.workloads import ImageWorkload, TextWorkload, Workload

LOSS_VARIANCE_DEFINITION = "population variance of the per-batch training loss over the final round"


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


def run_setup(hp: dict, workload: Workload, precision: str) -> dict:
  """Everything that defines a run's result besides (dataset, arch, optimizer, seed).

  A finished or checkpointed run is reused under ``--resume`` only when all of it matches,
  the optimizer's own hyperparameters included.
  """
  return workload.setup() | dict(precision=precision, **hp)


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
  loss_variance: float | None = None  # of the last recorded round
  stopped: bool = False  # its training loss went non-finite: it records no more rounds


def train_seeds(
  dataset: Dataset, arch: str, optimizer, seeds, epochs: int, *, batch_size=128, **kw
):
  """:func:`train_workload` of the image workload (``dataset``, ``arch``, ``epochs``)."""
  workload = ImageWorkload(dataset, arch, epochs, batch_size)
  return train_workload(workload, optimizer, seeds, **kw)


@dataclasses.dataclass
class _Run:
  """One run of every seed of one optimizer: what its rounds share."""

  workload: Workload
  optimizer: Resolved
  group: SeedGroup
  setup: dict
  policy_every: int
  train_arrays: tuple = ()
  eval_arrays: dict = dataclasses.field(default_factory=dict)
  keys: object = None
  shuffles: list = dataclasses.field(default_factory=list)


def train_workload(
  workload: Workload,
  optimizer: str | Resolved,
  seeds: list[int],
  *,
  precision: str = "fp32",
  policy_every: int = 10,
  command: str = "",
  checkpoint_dir: Path | None = None,
  peak_lr: float | None = None,
  trajectory_dir: Path | None = None,
  trajectory_every: int = 0,
) -> tuple[list[dict], TrainState]:
  """Trains every seed of one optimizer on ``workload`` in one program; returns their records
  and final state. The one training loop of every workload.

  ``optimizer``: a name, or one already resolved (:func:`benchmarks.optimizers.resolve`);
  ``peak_lr`` replaces a name's documented peak learning rate. With ``checkpoint_dir``,
  continues from the latest end-of-round checkpoint found there (an error if it was made
  with another set-up, :func:`run_setup`) and writes one after every round (process 0).
  With ``trajectory_every`` > 0, each seed's parameters are saved under
  ``trajectory_dir/<run>/`` (:mod:`benchmarks.trajectories`).
  """
  run = _start(workload, optimizer, seeds, precision, policy_every, peak_lr)
  done, progress = _resume(run.group, checkpoint_dir, run.setup, seeds, run.optimizer.name)
  for _ in range(done):  # the batch orders of the rounds already trained
    workload.round_orders(run.shuffles)
  snapshots = _Snapshots(run, seeds, peak_lr, trajectory_dir, trajectory_every, done)
  for round_index in range(done + 1, workload.rounds + 1):
    _train_round(run, round_index, progress, snapshots)
    if all(p.stopped for p in progress):
      break
    if checkpoint_dir is not None and processes.is_writer() and round_index < workload.rounds:
      state = dict(progress=[dataclasses.asdict(p) for p in progress], setup=run.setup)
      leaves, folder = checkpoints.to_leaves(run.group.state), _round_name(workload, round_index)
      checkpoints.save(checkpoint_dir, round_index, leaves, state, folder)
  settings = workload.settings() | dict(
    precision=precision,
    num_params=run.group.num_params,
    seeds_in_one_program=len(seeds),
    processes=jax.process_count(),
    loss_variance=LOSS_VARIANCE_DEFINITION,
  ) | records.header(command)  # fmt: skip
  seed_records = [_seed_record(p, run, settings) for p in progress]
  return seed_records, run.group.state


def _start(workload, optimizer, seeds, precision, policy_every, peak_lr) -> _Run:
  """The run's optimizer, schedule, seed group and data on the devices."""
  if isinstance(optimizer, str):
    optimizer = resolve(optimizer, workload.dataset, workload.arch, peak_lr)
  schedule = learning_rate_schedule(
    optimizer.hyperparameters["peak_learning_rate"], workload.total_steps, workload.warmup_steps
  )
  dtype = jnp.bfloat16 if precision == "bf16" else jnp.float32
  group = SeedGroup(workload, optimizer, seeds, schedule, dtype)
  return _Run(
    workload,
    optimizer,
    group,
    run_setup(optimizer.hyperparameters, workload, precision),
    policy_every,
    processes.replicate(workload.train_arrays()),
    {name: processes.replicate(workload.eval_arrays(name)) for name in workload.eval_sets},
    jnp.stack([jax.random.key(seed) for seed in seeds]),
    [np.random.default_rng(seed) for seed in seeds],
  )


def _train_round(run: _Run, round_index: int, progress: list[SeedProgress], snapshots) -> None:
  """One round of every seed (its steps, then every evaluation set), recorded and reported."""
  orders = processes.replicate(run.workload.round_orders(run.shuffles))
  start = time.perf_counter()
  losses, policies = _train_steps(run, orders, round_index, snapshots)
  seconds = time.perf_counter() - start
  evaluations = {
    name: run.group.evaluate(run.eval_arrays[name], run.workload.eval_slices(name))
    for name in run.workload.eval_sets
  }
  for k, seed_progress in enumerate(progress):
    metrics = {}
    for name, (loss, accuracy) in evaluations.items():
      metrics |= run.workload.metrics(name, float(loss[k]), float(accuracy[k]))
    mark = {run.workload.round_key: run.workload.round_value(round_index)}
    _record_round(seed_progress, mark, losses[k], metrics, seconds,
                  [(step, p[k]) for step, p in policies])  # fmt: skip
    _report(seed_progress, run, round_index, len(progress), seconds)


def _train_steps(run: _Run, orders, round_index: int, snapshots):
  """One round's steps of every seed: (S, steps) host losses and [(step, (S, 4) policy)]."""
  workload, group = run.workload, run.group
  seeds = ",".join(str(s) for s in group.seeds)
  bar = tqdm(
    range(workload.steps_per_round),
    desc=f"{run.optimizer.name} seeds {seeds} round {round_index}/{workload.rounds}",
    unit="step",
    leave=False,
    mininterval=1.0,
    file=sys.stderr,
    disable=not processes.is_writer(),
  )
  losses, policies = [], []
  for i in bar:
    global_step = (round_index - 1) * workload.steps_per_round + i
    loss, policy = group.train(run.train_arrays, orders, i, global_step, run.keys)
    losses.append(loss)
    last_step = global_step == workload.total_steps - 1
    if group.records_policy and (global_step % run.policy_every == 0 or last_step):
      policies.append((global_step + 1, policy))
    snapshots.after_step(global_step + 1)
    if i % 50 == 0 and i >= 50:
      # The loss of 50 steps ago is surely computed: showing it does not stall the queue.
      bar.set_postfix(loss=f"{float(processes.to_host(losses[i - 50]).mean()):.4f}")
  losses = np.stack([processes.to_host(x) for x in losses], axis=1).astype(np.float64)
  return losses, [(step, processes.to_host(p)) for step, p in policies]


def _round_name(workload: Workload, round_index: int) -> str:
  """A round's checkpoint folder: ``epoch_3`` (images), ``step_300`` (text, the steps done)."""
  return f"{workload.round_key}_{workload.round_value(round_index)}"


def _resume(group, checkpoint_dir, setup, seeds, name) -> tuple[int, list[SeedProgress]]:
  """(rounds done, each seed's progress): from the latest checkpoint, or a fresh start."""
  fresh = 0, [SeedProgress(seed) for seed in seeds]
  if checkpoint_dir is None:
    return fresh
  found = checkpoints.latest_on_every_process(checkpoint_dir, group.state)
  if found is None:
    return fresh
  done, leaves, saved = found
  differences = setup_differences(saved.get("setup", {}), setup)
  if differences:
    raise SetupMismatchError(
      f"the checkpoint in {checkpoint_dir} was made with {', '.join(differences)}; "
      "remove it or use another --out."
    )
  group.state = checkpoints.from_leaves(group.state, leaves)
  workload = group.workload
  where = f"{workload.round_key} {workload.round_value(done)}"
  _say(f"[{name} seeds {seeds}] resumed after {where} from {checkpoint_dir}")
  return done, [SeedProgress(**p) for p in saved["progress"]]


class _Snapshots:
  """Each seed's trajectory writer (--trajectory-every), or nothing."""

  def __init__(self, run: _Run, seeds, peak_lr, directory, every, done):
    workload = run.workload
    self.group, self.every, self.steps_per_round = run.group, every, workload.steps_per_round
    self.writers = []
    if every <= 0 or not processes.is_writer():
      return
    first = jax.tree.map(lambda x: x[0], run.group.state.params)
    for seed in seeds:
      meta = trajectories.meta_for(
        dataset=workload.dataset,
        arch=workload.arch,
        optimizer=run.optimizer.name,
        seed=seed,
        peak_lr=run.optimizer.hyperparameters["peak_learning_rate"],
        params=first,
        steps_per_epoch=workload.steps_per_round,
      )
      name = run_name(workload.dataset, workload.arch, run.optimizer.name, seed, peak_lr)
      self.writers.append(
        trajectories.TrajectoryWriter(directory / name, meta, done * workload.steps_per_round)
      )
    if done == 0:
      self.save(0)

  def after_step(self, steps_done: int) -> None:
    if self.writers and trajectories.snapshot_due(steps_done, self.every, self.steps_per_round):
      self.save(steps_done)

  def save(self, steps_done: int) -> None:
    params = processes.to_host(self.group.state.params)
    for k, writer in enumerate(self.writers):
      writer.write(steps_done, trajectories.flatten([x[k] for x in jax.tree.leaves(params)]))


def _record_round(progress: SeedProgress, mark: dict, losses, metrics, seconds, policies):
  """Appends one round to a seed's history and policy (nothing once it has stopped)."""
  if progress.stopped:
    return
  progress.history.append(mark | dict(train_loss=float(losses.mean())) | metrics |
                          dict(seconds=seconds))  # fmt: skip
  progress.loss_variance = float(np.var(losses))
  for step, policy in policies:
    rho, pm, pv, ps = (float(v) for v in policy)
    progress.policy.append(dict(step=step, rho=rho, pm=pm, pv=pv, ps=ps))
  progress.stopped = not np.isfinite(losses).all()


def _report(progress: SeedProgress, run: _Run, round_index: int, num_seeds, seconds) -> None:
  workload, name = run.workload, run.optimizer.name
  key = workload.round_key
  if not progress.history or progress.history[-1][key] != workload.round_value(round_index):
    return  # stopped before this round
  where = f"{key} {workload.round_value(round_index)}"
  if progress.stopped:
    _say(f"[{name} seed {progress.seed}] non-finite training loss at {where}; stopping this run.")
    return
  _say(
    f"[{workload.dataset}/{workload.arch}/{name} seed {progress.seed}] {where}/"
    f"{workload.round_value(workload.rounds)}: {workload.summary(progress.history[-1], seconds, num_seeds)}"
  )


def _seed_record(progress: SeedProgress, run: _Run, settings: dict) -> dict:
  """One seed's result JSON."""
  workload, optimizer = run.workload, run.optimizer
  last = progress.history[-1]
  final = {
    k: v for k, v in last.items() if k.startswith(tuple(f"{n}_" for n in workload.eval_sets))
  }
  record = dict(
    dataset=workload.dataset,
    arch=workload.arch,
    optimizer=optimizer.name,
    seed=progress.seed,
    **{("epochs" if workload.round_key == "epoch" else "steps"): workload.round_value(workload.rounds)},
    hyperparameters=optimizer.hyperparameters | settings,
    history=progress.history,
    final=final | dict(loss_variance=progress.loss_variance),
  )  # fmt: skip
  if run.group.records_policy:
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


def build_workload(args) -> Workload:
  """The workload that ``args`` ask for, its data read (exits with the data's error)."""
  try:
    if args.dataset == "bible":
      corpus = load_bible(args.data_dir)
      if args.train_size is not None:
        corpus = dataclasses.replace(corpus, train=corpus.train[: args.train_size])
      size = TransformerSize(args.context, args.width, args.depth, args.heads)
      return TextWorkload(
        corpus, args.steps, args.eval_every, args.batch_size, size, args.valid_bytes
      )
    dataset = load_dataset(args.dataset, args.data_dir)
  except (DataError, ValueError) as e:
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
  try:
    return ImageWorkload(dataset, args.arch, args.epochs, args.batch_size)
  except ValueError as e:
    sys.exit(f"error: {e}")


def _describe(workload: Workload) -> str:
  if isinstance(workload, TextWorkload):
    c = workload.corpus
    return (f"{c.name}: {len(c.train)} train / {len(c.valid)} validation bytes "
            f"({len(c.valid_books)} books held out)")  # fmt: skip
  d = workload.data
  return f"{d.name}: {len(d.train_labels)} train / {len(d.test_labels)} validation images"


def main(argv=None, args=None):
  """Runs the command line ``argv`` (or the already parsed ``args``)."""
  args = parse_args(argv) if args is None else args
  processes.initialize(args.coordinator, args.num_processes, args.process_id)
  command = records.command_line("benchmarks.train", argv)
  workload = build_workload(args)
  out = Path(args.out)
  if processes.is_writer():
    out.mkdir(parents=True, exist_ok=True)
    print(
      f"{_describe(workload)}; {jax.process_count()} process(es), devices: {jax.devices()}",
      flush=True,
    )
  try:
    for peak_lr in args.peak_lrs:
      for optimizer in args.optimizers:
        run_optimizer(args, workload, optimizer, peak_lr, out, command)
  except SetupMismatchError as e:
    sys.exit(f"error: {e}")


def run_optimizer(args, workload: Workload, name: str, peak_lr, out: Path, command: str):
  """Trains (or, under --resume, skips or continues) every seed of one optimizer at one peak LR."""
  optimizer = resolve(name, workload.dataset, workload.arch, peak_lr)
  if peak_lr is not None and float(peak_lr) == REGISTRY[name].peak_learning_rate:
    peak_lr = None  # the default: the run keeps its default name
  setup = run_setup(optimizer.hyperparameters, workload, args.precision)

  def path(seed):
    return out / f"{run_name(workload.dataset, workload.arch, name, seed, peak_lr)}.json"

  def checkpoint_dir(seeds):
    return (
      out / "checkpoints" / checkpoint_name(workload.dataset, workload.arch, name, seeds, peak_lr)
    )

  todo = _seeds_to_train(args, setup, path, checkpoint_dir)
  groups = [todo] if args.vmap_seeds and todo else [[s] for s in todo]
  for seeds in groups:
    directory = checkpoint_dir(seeds) if args.resume else None
    seed_records, state = train_workload(
      workload,
      optimizer,
      seeds,
      precision=args.precision,
      policy_every=args.policy_every,
      command=command,
      checkpoint_dir=directory,
      peak_lr=peak_lr,
      trajectory_dir=out / trajectories.DIRNAME,
      trajectory_every=args.trajectory_every,
    )
    if processes.is_writer():
      _write_records(args, seed_records, state, path)
    if directory is not None and processes.is_writer():
      checkpoints.remove(directory)


def _write_records(args, seed_records, state, path) -> None:
  for k, record in enumerate(seed_records):
    path(record["seed"]).write_text(json.dumps(record, indent=1))
    if args.final_state:
      write_final_state(Path(args.final_state), path(record["seed"]).stem, state, k)
    f = record["final"]
    print(
      f"wrote {path(record['seed'])}: "
      + "  ".join(f"{k} {v:.4f}" for k, v in f.items() if k != "loss_variance"),
      flush=True,
    )


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
  main(args=_ARGS)
