"""Shared fixtures: a small parameter tree with a matrix, a bias and a scalar; and ``--only``,
which runs the library's own tests or the rest (what CI runs at each set of dependency floors)."""

import re
from pathlib import Path

import jax
import jax.numpy as jnp
import pytest

# A test file that imports any of these needs more than the library's dependencies (jax, optax,
# chex, numpy): the [test] extra. Found from the file's imports, so no list of files is kept.
_NEEDS_EXTRAS = re.compile(
  r"^\s*(?:from|import)\s+(?:benchmarks|bench_files|flax|orbax|tensorflow_datasets|matplotlib)\b",
  re.M,
)
# ...and so does one that reads the repository's benchmarks/, examples/ or docs/ folder.
_READS_REPOSITORY = re.compile(r"""["'](?:benchmarks|examples|docs)["']""")
# The sdist ships the tests without benchmarks/ (MANIFEST.in): there, only the library's run.
_IN_SDIST = not (Path(__file__).parents[1] / "benchmarks").is_dir()


def pytest_addoption(parser):
  parser.addoption(
    "--only",
    choices=["library", "extras"],
    default=None,
    help="library: only the test files that need nothing beyond the library's dependencies; "
    "extras: only the others (they import flax, orbax, tensorflow_datasets, matplotlib or "
    "benchmarks)",
  )


def needs_extras(path) -> bool:
  """Whether the test file at ``path`` imports something beyond the library's dependencies."""
  text = path.read_text(encoding="utf-8")
  return bool(_NEEDS_EXTRAS.search(text) or _READS_REPOSITORY.search(text))


def pytest_ignore_collect(collection_path, config):
  only = config.getoption("--only") or ("library" if _IN_SDIST else None)
  if (
    only is None or collection_path.suffix != ".py" or not collection_path.name.startswith("test_")
  ):
    return None
  return True if needs_extras(collection_path) == (only == "library") else None


def make_params(key=0, dtype=jnp.float32):
  k1, k2, k3 = jax.random.split(jax.random.key(key), 3)
  return {
    "w": jax.random.normal(k1, (5, 3), dtype),
    "b": jax.random.normal(k2, (3,), dtype),
    "s": jax.random.normal(k3, (), dtype),
  }


def quadratic_loss(params):
  """A loss whose gradients change direction, so that ρ and φ move."""
  return sum(
    jnp.sum(jnp.cos(3 * p.astype(jnp.float32)) + (p.astype(jnp.float32) - 0.5) ** 2)
    for p in jax.tree.leaves(params)
  )


def run(tx, params, steps, loss=quadratic_loss):
  """Runs `steps` jitted steps of `tx`; returns (params, state)."""
  state = tx.init(params)

  @jax.jit
  def step(params, state):
    grads = jax.grad(loss)(params)
    updates, state = tx.update(grads, state, params)
    return jax.tree.map(lambda p, u: (p + u).astype(p.dtype), params, updates), state

  for _ in range(steps):
    params, state = step(params, state)
  return params, state


@pytest.fixture
def params():
  return make_params()


def enable_x64(on: bool = True):
  """``jax.enable_x64(on)`` (jax >= 0.7), or ``jax.experimental.enable_x64`` at the jax 0.6 floor."""
  if hasattr(jax, "enable_x64"):
    return jax.enable_x64(on)
  from jax.experimental import enable_x64 as legacy

  return legacy(on)
