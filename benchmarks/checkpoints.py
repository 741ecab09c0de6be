"""End-of-round checkpoints of a training run (orbax), so that a stopped run continues.

A round is an epoch (images) or ``--eval-every`` steps (text). A run's checkpoints live in
``OUT/checkpoints/<run>/epoch_<N>`` (images) or ``step_<S>`` (text: S = N x eval-every, the
steps done; ``round_<N>`` is read too): the arrays of the train
state (model parameters and statistics, optimizer state; every seed of the run along their
leading axis) saved with orbax, and ``progress.json`` beside them with the history recorded so
far. Only the latest round is kept; a finished run's directory is removed. Process 0 alone
reads and writes them (:mod:`benchmarks.processes`), so the hosts need no shared file system.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import jax
import jax.numpy as jnp
import numpy as np
import orbax.checkpoint as ocp

from benchmarks import processes

_ONLY_THIS_PROCESS = ocp.options.MultiprocessingOptions(
  primary_host=None, active_processes={0}, barrier_sync_key_prefix="benchmarks"
)


def _checkpointer() -> ocp.Checkpointer:
  if jax.process_count() == 1:
    return ocp.PyTreeCheckpointer()
  handler = ocp.PyTreeCheckpointHandler(multiprocessing_options=_ONLY_THIS_PROCESS)
  return ocp.Checkpointer(handler, multiprocessing_options=_ONLY_THIS_PROCESS)


def _saved(directory: Path) -> list[tuple[int, Path]]:
  """The checkpoint folders ``<unit>_<number>`` under ``directory``, in the order they were made
  (the number counts epochs or steps, and grows with the round)."""
  if not directory.is_dir():
    return []
  found = []
  for path in directory.iterdir():
    unit, _, number = path.name.rpartition("_")
    if path.is_dir() and unit and number.isdigit():
      found.append((int(number), path))
  return sorted(found)


def save(directory: Path, round_index: int, leaves: list[np.ndarray], progress: dict,
         name: str | None = None) -> None:  # fmt: skip
  """Writes round ``round_index`` (host arrays and a JSON-able progress record) into the folder
  ``name`` (``epoch_<N>``, ``step_<S>``; default ``round_<N>``), and drops older rounds."""
  path = directory / (name or f"round_{round_index}")
  if path.exists():
    shutil.rmtree(path)
  directory.mkdir(parents=True, exist_ok=True)
  _checkpointer().save(path.absolute(), {f"{i:05d}": x for i, x in enumerate(leaves)})
  (path / "progress.json").write_text(json.dumps(progress | {"round": round_index}))
  for _, older in _saved(directory):
    if older != path:
      shutil.rmtree(older)


def latest(directory: Path) -> tuple[int, list[np.ndarray], dict] | None:
  """(round index, leaves, progress) of the latest complete checkpoint, or None."""
  for number, path in reversed(_saved(directory)):
    if not (path / "progress.json").exists():
      continue  # interrupted while writing
    restored = _checkpointer().restore(path.absolute())
    leaves = [np.asarray(restored[k]) for k in sorted(restored)]
    progress = json.loads((path / "progress.json").read_text())
    return int(progress.pop("round", number)), leaves, progress
  return None


def to_leaves(state) -> list[np.ndarray]:
  """A train state as host arrays (PRNG keys as their raw data), as a checkpoint holds it."""
  return [
    processes.to_host(jax.random.key_data(x) if jnp.issubdtype(x.dtype, jax.dtypes.prng_key) else x)
    for x in jax.tree.leaves(state)
  ]


def from_leaves(template, leaves: list[np.ndarray]):
  """The inverse of :func:`to_leaves`: a state like ``template``, replicated on the devices."""

  def restore(like, value):
    if jnp.issubdtype(like.dtype, jax.dtypes.prng_key):
      return jax.random.wrap_key_data(value, impl=jax.random.key_impl(like))
    return value.astype(like.dtype)

  restored = [restore(t, v) for t, v in zip(jax.tree.leaves(template), leaves, strict=True)]
  return processes.replicate(jax.tree.unflatten(jax.tree.structure(template), restored))


def latest_on_every_process(directory: Path, state) -> tuple[int, list[np.ndarray], dict] | None:
  """:func:`latest` as process 0 reads it, on every process (the others may not see its files).

  ``state``: the run's freshly initialised train state, whose shapes and dtypes the other
  processes receive process 0's arrays into.
  """
  found = latest(directory) if processes.is_writer() else None
  if jax.process_count() == 1:
    return found
  if not processes.from_writer(np.int32(found is not None)):
    return None
  epoch, leaves, progress = found if found is not None else (0, to_leaves(state), {})
  epoch, leaves = processes.from_writer((np.int32(epoch), leaves))
  return int(epoch), list(leaves), json.loads(processes.text_from_writer(json.dumps(progress)))


def remove(directory: Path) -> None:
  """Removes a run's checkpoints (it has finished)."""
  if directory.exists():
    shutil.rmtree(directory)
  parent = directory.parent
  if parent.name == "checkpoints" and parent.is_dir() and not any(parent.iterdir()):
    parent.rmdir()
