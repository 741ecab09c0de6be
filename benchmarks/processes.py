"""The processes and devices a training run spans: JAX's multi-process runtime, in one place.

One process (the usual case) or several, one per host, started with the same command line and
    --coordinator HOST:PORT --num-processes N --process-id I
or found by JAX's own cluster detection (SLURM, Open MPI, Cloud TPU pods, or
JAX_COORDINATOR_ADDRESS) when those flags are absent. All devices of all processes form one
mesh with a "data" axis; the batch is split along it and everything else (dataset, model and
optimizer state) is replicated. Every process runs the same program on the same values;
process 0 alone writes files (:func:`is_writer`).
"""

from __future__ import annotations

import os

import jax
import numpy as np
from jax.experimental import multihost_utils
from jax.sharding import AxisType, NamedSharding
from jax.sharding import PartitionSpec as P


def _cluster_has_several_processes() -> bool:
  """Whether the environment describes a job of several processes JAX can detect."""
  for name in ("SLURM_STEP_NUM_TASKS", "OMPI_COMM_WORLD_SIZE"):
    if int(os.environ.get(name, "1") or 1) > 1:
      return True
  if "JAX_COORDINATOR_ADDRESS" in os.environ:
    return True
  return "," in os.environ.get("TPU_WORKER_HOSTNAMES", "")


def initialize(
  coordinator: str | None = None, num_processes: int | None = None, process_id: int | None = None
) -> None:
  """Joins JAX's multi-process runtime when asked to, or when a cluster asks for it.

  With ``coordinator`` (then ``num_processes`` and ``process_id`` too), the
  processes meet there; without it, JAX's cluster detection decides, and only
  when the environment describes a job of several processes. On CPU the
  collectives go through gloo.
  """
  explicit = coordinator is not None
  if not explicit and not _cluster_has_several_processes():
    return
  # CPU collectives (the CPU backend's, whatever else the host has) through gloo.
  jax.config.update("jax_cpu_collectives_implementation", "gloo")
  if explicit:
    jax.distributed.initialize(coordinator, num_processes, process_id)
  else:
    jax.distributed.initialize()


def is_writer() -> bool:
  """Whether this process writes results, checkpoints and progress (process 0)."""
  return jax.process_index() == 0


def mesh() -> jax.sharding.Mesh:
  """All devices of all processes, along one "data" axis."""
  return jax.make_mesh((jax.device_count(),), ("data",), axis_types=(AxisType.Auto,))


def batch_sharding() -> NamedSharding | None:
  """How a batch is split: along its first axis over every device; None on one device."""
  return NamedSharding(mesh(), P("data")) if jax.device_count() > 1 else None


def replicate(tree):
  """Host values, identical on every process, as arrays replicated over every device."""
  if jax.device_count() == 1:
    return jax.device_put(tree)
  sharding = NamedSharding(mesh(), P())
  return jax.tree.map(
    lambda x: jax.make_array_from_process_local_data(sharding, np.asarray(x)), tree
  )


def to_host(tree):
  """NumPy copies of replicated arrays (from this process's own device)."""
  return jax.tree.map(lambda x: np.asarray(x.addressable_data(0)), tree)


def from_writer(tree):
  """Process 0's values of a host pytree, on every process."""
  if jax.process_count() == 1:
    return tree
  return multihost_utils.broadcast_one_to_all(tree)


def text_from_writer(text: str) -> str:
  """Process 0's string, on every process (sent as bytes)."""
  if jax.process_count() == 1:
    return text
  size = int(from_writer(np.int64(len(text.encode()))))
  data = np.zeros(size, np.uint8)
  if is_writer():
    data[:] = np.frombuffer(text.encode(), np.uint8)
  return bytes(from_writer(data)).decode()
