"""A run's path through parameter space: its parameters saved every K steps, for the landscape.

``OUT/trajectories/<run>/`` holds one file per snapshot, ``step_<NNNNNNN>.npy``, the model's
parameters flattened (in ``jax.tree.leaves`` order) to one float32 vector, and ``meta.json``
with what is needed to read them back into a model: the dataset, architecture, optimizer, seed,
the leaves' paths and shapes, and the steps per epoch. A snapshot is taken before the first
step (step 0), after every K-th step and at every epoch's end.

One file per snapshot, the list read off the file names, keeps it append-only: a run resumed
from its epoch-E checkpoint deletes only the snapshots taken after epoch E (the interrupted
epoch, which it trains again), so nothing is lost or written twice.

Cost: 4 bytes a parameter a snapshot (the 0.8M-parameter SmallCNN: 3.3 MB; 100 snapshots:
330 MB a run), and a device-to-host copy of the parameters at each snapshot.
"""

from __future__ import annotations

import json
from pathlib import Path

import jax
import numpy as np

META = "meta.json"
DIRNAME = "trajectories"


def snapshot_due(steps_done: int, every: int, steps_per_epoch: int) -> bool:
  """Whether the parameters after ``steps_done`` steps are saved (every K-th, each epoch's end)."""
  return steps_done % every == 0 or steps_done % steps_per_epoch == 0


def flatten(params) -> np.ndarray:
  """One float32 vector of a parameter tree's leaves, in ``jax.tree.leaves`` order."""
  return np.concatenate([np.asarray(x, np.float32).ravel() for x in jax.tree.leaves(params)])


def unflatten(vector, like):
  """The inverse of :func:`flatten`: a tree shaped like ``like`` (leaves in its dtypes)."""
  leaves, treedef = jax.tree.flatten(like)
  sizes = np.cumsum([0] + [x.size for x in leaves])
  restored = [
    vector[a:b].reshape(x.shape).astype(x.dtype)
    for a, b, x in zip(sizes[:-1], sizes[1:], leaves, strict=True)
  ]
  return jax.tree.unflatten(treedef, restored)


class TrajectoryWriter:
  """Writes the snapshots of one (optimizer, seed) run into ``directory``.

  Args:
    directory: ``OUT/trajectories/<run>``.
    meta: JSON-able description of the run and its parameters (see the module docstring).
    steps_done: the steps the run has already trained (0, or those of the checkpoint it
      resumes from); snapshots taken after them are deleted (they are trained again).
  """

  def __init__(self, directory: Path, meta: dict, steps_done: int):
    self.directory = Path(directory)
    self.directory.mkdir(parents=True, exist_ok=True)
    for step in snapshot_steps(self.directory):
      if step > steps_done:
        (self.directory / _file(step)).unlink()
    (self.directory / META).write_text(json.dumps(meta, indent=1))

  def write(self, step: int, flat: np.ndarray) -> None:
    # Written under a temporary name, then renamed: a killed run leaves no half snapshot.
    tmp = self.directory / f"{_file(step)}.tmp.npy"
    np.save(tmp, flat)
    tmp.rename(self.directory / _file(step))


def _file(step: int) -> str:
  return f"step_{step:07d}.npy"


def snapshot_steps(directory: Path) -> list[int]:
  """The steps of the snapshots in ``directory``, in order."""
  steps = []
  for path in Path(directory).glob("step_*.npy"):
    digits = path.name.removeprefix("step_").removesuffix(".npy")
    if digits.isdigit():
      steps.append(int(digits))
  return sorted(steps)


def meta_for(
  *, dataset: str, arch: str, optimizer: str, seed: int, peak_lr, params, steps_per_epoch: int
) -> dict:
  """The ``meta.json`` of a run: enough to rebuild its model and read its snapshots."""
  paths_shapes = [
    (jax.tree_util.keystr(path, simple=True, separator="/"), list(np.shape(x)))
    for path, x in jax.tree.leaves_with_path(params)
  ]
  return dict(
    dataset=dataset,
    arch=arch,
    optimizer=optimizer,
    seed=seed,
    peak_learning_rate=peak_lr,
    steps_per_epoch=steps_per_epoch,
    leaves=[dict(path=p, shape=s) for p, s in paths_shapes],
    num_params=int(sum(np.prod(s, dtype=np.int64) for _, s in paths_shapes)),
  )


class Trajectory:
  """One run's snapshots as read back: ``steps`` (T,), ``points`` (T, P) float32 (memory-mapped)."""

  def __init__(self, directory: Path):
    self.directory = Path(directory)
    meta_path = self.directory / META
    if not meta_path.exists():
      raise FileNotFoundError(f"{self.directory}: no {META} (not a trajectory folder).")
    self.meta = json.loads(meta_path.read_text())
    self.steps = np.asarray(snapshot_steps(self.directory), np.int64)
    if len(self.steps) == 0:
      raise FileNotFoundError(f"{self.directory}: no snapshots (step_*.npy).")
    self.points = np.stack(
      [np.load(self.directory / _file(int(s)), mmap_mode="r") for s in self.steps]
    )

  @property
  def epochs(self) -> np.ndarray:
    """The epoch each snapshot ends (fractional between epoch ends)."""
    return self.steps / self.meta["steps_per_epoch"]


def find_runs(out: Path) -> dict[str, Path]:
  """Run name -> trajectory folder, for every run with a ``meta.json`` under ``OUT/trajectories``."""
  root = Path(out) / DIRNAME
  if not root.is_dir():
    return {}
  return {p.parent.name: p.parent for p in sorted(root.glob(f"*/{META}"))}
