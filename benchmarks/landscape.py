"""The loss landscape with every optimizer's path through it (the paper's figure), in JAX.

    python -m benchmarks.landscape OUT --optimizers pilot,adam,adamw --seed 0 \
        [--directions pca|random] [--grid 31] [--points 4096] [--data-dir DIR]

Reads the parameter snapshots that ``benchmarks.train --trajectory-every K`` saved under
``OUT/trajectories/`` for the chosen optimizers and seed, and draws:

- **the plane.** Two directions shared by all the paths. By default (``pca``) the top two
  principal directions of every snapshot of every run together, taken about the paths'
  common start θ₀ (the same seed starts every optimizer at the same point): the plane then
  passes exactly through θ₀ and is the 2-D subspace through θ₀ that holds the most of the
  paths' squared displacement ‖θ − θ₀‖². Centring on the union's mean instead would put the
  plane through a point no optimizer visited, and θ₀ only approximately in it. The share of
  that displacement each direction holds is printed, recorded and written on the axes.
  With ``random``: two Gaussian directions, filter-normalised as in Li et al. (2018) (each
  output filter of a kernel, and each 1-D parameter as a whole, scaled to the norm of the
  same filter of the parameters), centred on one run's end point (``--center``).
- **the loss (and accuracy) on a G×G grid** over that plane, on a fixed subset of training
  images (``--points``), the extent covering every path with a margin. All grid points are
  evaluated by one jitted program (``lax.map`` over points, vmapped in batches); the host
  only feeds it rows of the grid, for a progress bar.
- **a 1-D view**: the loss along the straight lines from θ₀ to each of two end points and
  between them (``--line pilot,adam``), which tells whether they end in one basin (no
  barrier on the segment) or not.

Models with BatchNorm (ResNet-18): a point of the plane has parameters but no running
statistics of its own (interpolating those of the runs would mean nothing), so the loss is
taken in training mode: every batch of the evaluation subset is normalised by its own
statistics, at every grid point alike (as Li et al. do). Models without BatchNorm (the cnn)
are evaluated as at test time; they have no other mode-dependent layer.

Writes ``OUT/landscape_<dataset>_<arch>_seed<S>[_random].png`` and ``.json`` (the grid, each
path's coordinates and its distance from the plane, the directions' shares, the 1-D lines,
the wall time and the command).
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

import jax
import jax.numpy as jnp
import numpy as np
import optax
from flax import nnx
from tqdm.auto import tqdm

from benchmarks import records, trajectories
from benchmarks.colours import LINE_STYLES, MARKERS, PALETTE
from benchmarks.data import DataError, Dataset, load_dataset
from benchmarks.models import build_model
from benchmarks.optimizers import LABELS
from benchmarks.seeds import preprocess

# One colour, line style and epoch marker per path (benchmarks.colours), so that paths drawn over
# each other stay apart; the right panel's segments use greys only, so no colour means two things.
LINE_COLOURS = ("#000000", "#666666", "#AAAAAA")
# The colour scale ends at this multiple of the loss at the start: the grid's corners
# reach losses of 100 and more, which would otherwise take most of the scale.
SCALE_HEADROOM = 3.0
EVAL_BATCH = 1024


class LandscapeError(ValueError):
  """Bad input: the message names what is missing."""


# --- directions ------------------------------------------------------------------------------


def pca_directions(paths: list[np.ndarray], origin: np.ndarray, k: int = 2, chunk: int = 1 << 18):
  """The top ``k`` principal directions of the snapshots' displacements from ``origin``.

  Args:
    paths: arrays (T_i, P) of snapshots (memory-mapped is fine).
    origin: (P,), the point the displacements are taken from.
    k: how many directions.
    chunk: parameters per block of the Gram matrix (memory).

  Returns:
    ``(directions, shares)``: (k, P) orthonormal float32 rows, and the share of the total
    squared displacement Σ‖θ − origin‖² that each holds.

  The N×N Gram matrix of the displacements (N snapshots in all) is accumulated in float64
  block by block over the parameters, so that no (N, P) copy is made; its top eigenvectors
  give the right singular vectors.
  """
  n_total, size = sum(len(p) for p in paths), origin.shape[0]
  gram = np.zeros((n_total, n_total))
  for _, block in _displacement_blocks(paths, origin, chunk):
    gram += block @ block.T
  eigenvalues, eigenvectors = np.linalg.eigh(gram)
  order = np.argsort(eigenvalues)[::-1][:k]
  total = max(float(np.trace(gram)), np.finfo(np.float64).tiny)
  values, vectors = np.maximum(eigenvalues[order], 0.0), eigenvectors[:, order]
  directions = np.zeros((k, size), np.float64)
  for columns, block in _displacement_blocks(paths, origin, chunk):
    directions[:, columns] = vectors.T @ block
  norms = np.linalg.norm(directions, axis=1, keepdims=True)
  if np.any(norms == 0):
    raise LandscapeError("the paths do not move away from their start: no plane to draw.")
  return (directions / norms).astype(np.float32), values / total


def _displacement_blocks(paths, origin, chunk):
  """(columns, the float64 displacements of every snapshot over those columns), block by block."""
  for start in range(0, origin.shape[0], chunk):
    columns = slice(start, start + chunk)
    block = np.concatenate([np.asarray(p[:, columns], np.float64) for p in paths])
    yield columns, block - origin[columns]


def filter_normalized_direction(params, key) -> list[np.ndarray]:
  """A Gaussian direction like ``params``, each filter scaled to the parameters' filter norm.

  A filter is a slice along the last axis (a kernel's output channel, a dense layer's output
  unit, Flax's layout); a 1-D parameter is one filter (Li et al. 2018, "filter normalization").
  Returns the direction's leaves, in ``jax.tree.leaves`` order.
  """
  leaves = [np.asarray(x, np.float32) for x in jax.tree.leaves(params)]
  keys = jax.random.split(key, len(leaves))
  out = []
  for x, k in zip(leaves, keys, strict=True):
    d = np.array(jax.random.normal(k, x.shape, jnp.float32))
    if x.ndim <= 1:
      d *= np.linalg.norm(x) / max(np.linalg.norm(d), 1e-12)
    else:
      axes = tuple(range(x.ndim - 1))
      d *= np.sqrt(np.sum(x * x, axes)) / np.maximum(np.sqrt(np.sum(d * d, axes)), 1e-12)
    out.append(d)
  return out


def project(points: np.ndarray, origin: np.ndarray, directions: np.ndarray):
  """Coordinates of ``points`` (T, P) in the plane, their distance from it and from ``origin``.

  Least squares, so that non-orthogonal (random) directions are handled too.
  """
  displacement = np.asarray(points, np.float64) - origin
  basis = directions.astype(np.float64)
  coords = np.linalg.solve(basis @ basis.T, basis @ displacement.T).T
  residual = np.linalg.norm(displacement - coords @ basis, axis=1)
  return coords, residual, np.linalg.norm(displacement, axis=1)


# --- evaluation ------------------------------------------------------------------------------


class PlaneEvaluator:
  """Loss and accuracy at θ = origin + c₁d₁ + c₂d₂ for many (c₁, c₂), by one jitted program.

  The origin and the two directions are arguments of the program, not constants, so the plane,
  the 1-D lines and single points all run through the one compiled function (``chunk`` points
  a call, ``batch`` of them vmapped together inside ``lax.map``).
  """

  def __init__(self, arch: str, dataset: Dataset, images, labels, *, chunk: int, batch: int = 1):
    _, h, _, c = dataset.train_images.shape
    model = build_model(arch, c, dataset.num_classes, h)
    self.has_batch_norm = any(isinstance(m, nnx.BatchNorm) for _, m in nnx.iter_modules(model))
    if self.has_batch_norm:
      model.train()  # each batch normalised by its own statistics (module docstring)
    else:
      model.eval()
    self.graph, self.like, self.rest = nnx.split(model, nnx.Param, ...)
    x = preprocess(jnp.asarray(images), dataset, None, False, jnp.float32)
    size = min(EVAL_BATCH, len(labels))
    n = (len(labels) // size) * size  # whole batches (all of them when N <= EVAL_BATCH)
    self.x = x[:n].reshape(n // size, size, *x.shape[1:])
    self.y = jnp.asarray(labels[:n], jnp.int32).reshape(n // size, size)
    self.chunk, self.batch = chunk, batch
    self._program = jax.jit(self._evaluate_many)
    self._point = jax.jit(lambda flat: self.loss_at(trajectories.unflatten(flat, self.like)))

  def at_point(self, flat) -> tuple[float, float]:
    """Loss and accuracy at one flat parameter vector (a run's end point, off the plane)."""
    loss, acc = jax.device_get(self._point(jnp.asarray(flat, jnp.float32)))
    return float(loss), float(acc)

  @property
  def num_images(self) -> int:
    return int(self.y.size)

  def loss_at(self, params):
    """Mean loss and accuracy of the model with ``params`` over the evaluation subset."""

    def one_batch(carry, xy):
      x, y = xy
      model = nnx.merge(self.graph, params, self.rest, copy=True)
      logits = model(x).astype(jnp.float32)
      loss = optax.softmax_cross_entropy_with_integer_labels(logits, y).sum()
      right = jnp.sum(jnp.argmax(logits, -1) == y)
      return (carry[0] + loss, carry[1] + right), None

    (loss, right), _ = jax.lax.scan(one_batch, (0.0, 0), (self.x, self.y))
    return loss / self.y.size, right / self.y.size

  def _evaluate_many(self, origin, directions, coefficients):
    def at(c):
      return self.loss_at(trajectories.unflatten(origin + c @ directions, self.like))

    return jax.lax.map(at, coefficients, batch_size=self.batch)

  def __call__(self, origin, directions, coefficients, desc: str = ""):
    """Loss and accuracy at each row of ``coefficients`` (M, k <= 2): two (M,) host arrays."""
    coefficients = np.asarray(coefficients, np.float32)
    directions = np.asarray(directions, np.float32)
    if directions.shape[0] < 2:  # a line (or a point): pad to the plane's two directions
      pad = 2 - directions.shape[0]
      directions = np.concatenate([directions, np.zeros((pad, directions.shape[1]), np.float32)])
      coefficients = np.concatenate(
        [coefficients, np.zeros((len(coefficients), pad), np.float32)], 1
      )
    origin = jnp.asarray(origin, jnp.float32)
    directions = jnp.asarray(directions)
    losses, accuracies = [], []
    bar = tqdm(total=len(coefficients), desc=desc, unit="point", file=sys.stderr, leave=False)
    for start in range(0, len(coefficients), self.chunk):
      part = coefficients[start : start + self.chunk]
      keep = len(part)
      if keep < self.chunk:  # the same shape every call: one compiled program
        part = np.concatenate([part, np.repeat(part[-1:], self.chunk - keep, axis=0)])
      loss, acc = jax.device_get(self._program(origin, directions, jnp.asarray(part)))
      losses.append(loss[:keep])
      accuracies.append(acc[:keep])
      bar.update(keep)
    bar.close()
    return np.concatenate(losses), np.concatenate(accuracies)


# --- reading the runs ------------------------------------------------------------------------


def load_paths(out: Path, optimizers: list[str], seed: int) -> dict[str, trajectories.Trajectory]:
  """The trajectory of each optimizer's run with ``seed`` in ``out``; LandscapeError if missing."""
  found = trajectories.find_runs(out)
  if not found:
    raise LandscapeError(
      f"{Path(out) / trajectories.DIRNAME}: no trajectories (train with "
      "`python -m benchmarks.train ... --trajectory-every K --out OUT` first)."
    )
  optimizer_of = {
    name: json.loads((folder / trajectories.META).read_text())["optimizer"]
    for name, folder in found.items()
  }
  paths = {}
  for optimizer in optimizers:
    matches = [name for name in found if optimizer_of[name] == optimizer]
    wanted = [n for n in matches if n.endswith(f"_seed{seed}") and f"_{optimizer}_seed" in n]
    if not matches:
      raise LandscapeError(
        f"no trajectory of {optimizer!r} in {Path(out) / trajectories.DIRNAME} "
        f"(runs there: {', '.join(sorted(found))})."
      )
    if not wanted:
      seeds = sorted(n.rsplit("_seed", 1)[1] for n in matches)
      raise LandscapeError(
        f"no trajectory of {optimizer!r} with seed {seed} (its seeds there: {', '.join(seeds)})."
      )
    paths[optimizer] = trajectories.Trajectory(found[wanted[0]])
  metas = {(t.meta["dataset"], t.meta["arch"], t.meta["num_params"]) for t in paths.values()}
  if len(metas) > 1:
    raise LandscapeError(f"the runs are of different models or datasets: {sorted(metas)}.")
  starts = [t.points[0] for t in paths.values() if t.steps[0] == 0]
  if len(starts) != len(paths):
    missing = [o for o, t in paths.items() if t.steps[0] != 0]
    raise LandscapeError(f"trajectories without their initial point (step 0): {missing}.")
  if any(not np.array_equal(starts[0], s) for s in starts[1:]):
    raise LandscapeError("the runs do not start from the same parameters (different seeds?).")
  return paths


def grid_extent(coords: list[np.ndarray], margin: float) -> tuple[np.ndarray, np.ndarray]:
  """(low, high) per axis that hold every path with ``margin`` times its span on each side."""
  allc = np.concatenate(coords)
  low, high = allc.min(0), allc.max(0)
  span = np.maximum(high - low, 1e-6)
  return low - margin * span, high + margin * span


# --- the picture -----------------------------------------------------------------------------


def _loss_surface(ax, result: dict, lo: float, hi: float):
  """The grid's training loss as filled contours (log scale, greys) on ``ax``."""
  from matplotlib.colors import LogNorm

  grid = result["grid"]
  a, b, loss = np.asarray(grid["a"]), np.asarray(grid["b"]), np.asarray(grid["loss"])
  levels = np.geomspace(lo, hi, 30)
  filled = ax.contourf(
    a, b, loss.T, levels=levels, norm=LogNorm(lo, hi), cmap="Greys_r", extend="both"
  )
  ax.contour(a, b, loss.T, levels=levels[::3], colors="white", linewidths=0.4, alpha=0.6)
  return filled


def _draw_paths(ax, result: dict, labelled: bool) -> None:
  """Each path in its own colour, line style and epoch marker; its end as a star."""
  for i, path in enumerate(result["paths"].values()):
    k = i % len(PALETTE)
    xy = np.asarray(path["coords"])
    ends = np.asarray(path["epoch_end_index"], int)
    # The end point's loss is its own (off the plane), named in the legend: labels beside
    # the stars would overlap where paths end close together.
    label = f"{path['label']}: end loss {path['final_loss']:.3f}" if labelled else None
    # Wider lines first and a style of its own each, so that a path drawn over a nearly
    # identical one (AdamW over Adam) leaves it visible.
    ax.plot(
      xy[:, 0], xy[:, 1], color=PALETTE[k], ls=LINE_STYLES[k], lw=max(1.2, 3.6 - 0.45 * i),
      marker=MARKERS[k], markevery=list(ends), ms=6 - 0.4 * i, mec="white", mew=0.5, label=label,
    )  # fmt: skip
    ax.plot(xy[-1, 0], xy[-1, 1], "*", color=PALETTE[k], ms=14 - i, mec="black", mew=0.6)


def _crowded_box(result: dict, share: float = 0.15) -> tuple[np.ndarray, np.ndarray] | None:
  """The bounding box of the paths that end within ``share`` of the plot's span of the first
  path's end (where near-identical paths hide each other), or None if no other path does."""
  paths = [np.asarray(p["coords"]) for p in result["paths"].values()]
  span = np.ptp(np.concatenate(paths), axis=0).max()
  near = [p for p in paths if np.linalg.norm(p[-1] - paths[0][-1]) < share * span]
  if len(near) < 2:
    return None
  points = np.concatenate(near)
  pad = 0.08 * np.ptp(points, axis=0).max()
  return points.min(axis=0) - pad, points.max(axis=0) + pad


def plot(result: dict, png: Path) -> None:
  import matplotlib

  matplotlib.use("Agg")
  import matplotlib.pyplot as plt

  fig, (ax, ax_line) = plt.subplots(
    1, 2, figsize=(13, 5.6), gridspec_kw=dict(width_ratios=[1.35, 1])
  )
  loss = np.asarray(result["grid"]["loss"])
  finite = loss[np.isfinite(loss)]
  # The scale ends a few times above the start's loss (the highest loss between the
  # segments' end points), not at the grid corners' losses of 100 and more.
  inside = [
    v for line in result["lines"] for t, v in zip(line["t"], line["loss"], strict=True)
    if 0 <= t <= 1 and np.isfinite(v)
  ]  # fmt: skip
  lo = max(finite.min(), 1e-4)
  hi = min(finite.max(), SCALE_HEADROOM * max(inside, default=finite.max()))
  filled = _loss_surface(ax, result, lo, hi)
  fig.colorbar(filled, ax=ax, label="training loss (log scale)", format="%.2g")
  _draw_paths(ax, result, labelled=True)
  box = _crowded_box(result)
  if box is not None:
    inset = ax.inset_axes([0.56, 0.04, 0.42, 0.42])
    _loss_surface(inset, result, lo, hi)
    _draw_paths(inset, result, labelled=False)
    inset.set_xlim(box[0][0], box[1][0])
    inset.set_ylim(box[0][1], box[1][1])
    inset.tick_params(labelsize=6)
    ax.indicate_inset_zoom(inset, edgecolor="white")
  ax.plot([], [], "*", color="grey", mec="black", ms=10, label="end (markers: each epoch's end)")
  ax.plot(0, 0, "s", color="white", mec="black", ms=7, label="start (all runs)")
  shares = result["directions"]["shares"]
  kind = result["directions"]["kind"]
  axis = "PC" if kind == "pca" else "random direction "
  ax.set_xlabel(f"{axis}1 ({100 * shares[0]:.1f}% of the paths' displacement)" if shares else "d1")
  ax.set_ylabel(f"{axis}2 ({100 * shares[1]:.1f}%)" if shares else "d2")
  ax.set_title(
    f"{result['dataset']} / {result['arch']}, seed {result['seed']}: training loss on the plane"
    f" ({result['points']} images)",
    fontsize=10,
  )
  ax.legend(fontsize=8, loc="best", framealpha=0.8)
  for line, colour in zip(result["lines"], LINE_COLOURS, strict=False):
    ax_line.plot(line["t"], line["loss"], lw=1.8, label=line["label"], color=colour)
  ax_line.axvline(0, color="grey", lw=0.5)
  ax_line.axvline(1, color="grey", lw=0.5)
  ax_line.set_yscale("log")
  ax_line.set_xlabel("t along the segment (0: its first point, 1: its second)")
  ax_line.set_ylabel("training loss (log scale)")
  ax_line.set_title("the loss along straight lines between the points", fontsize=10)
  ax_line.legend(fontsize=8)
  fig.tight_layout()
  fig.savefig(png, dpi=130)
  plt.close(fig)


# --- the command -----------------------------------------------------------------------------


def compute(args, paths: dict[str, trajectories.Trajectory], dataset: Dataset) -> dict:
  """The picture's numbers: the plane (directions, grid of losses), each path in it, the lines."""
  meta = next(iter(paths.values())).meta
  start = np.asarray(next(iter(paths.values())).points[0], np.float64)
  points = [p.points for p in paths.values()]
  origin, directions, shares = plane_directions(args, paths, dataset, start)
  projected = [project(p, origin, directions) for p in points]
  a, b = _grid_axes(args, [coords for coords, _, _ in projected])
  evaluator = _evaluator(args, dataset, meta["arch"])
  began = time.perf_counter()
  mesh = np.stack(np.meshgrid(a, b, indexing="ij"), -1).reshape(-1, 2)
  loss, acc = evaluator(origin, directions, mesh, desc=f"{args.grid}x{args.grid} grid")
  grid_seconds = time.perf_counter() - began
  ends = {name: np.asarray(p.points[-1], np.float64) for name, p in paths.items()}
  lines = line_views(args, evaluator, start, ends)
  # Each run's true end point (off the plane by its distance from it).
  final_losses = [evaluator.at_point(end)[0] for end in ends.values()]
  return dict(
    dataset=meta["dataset"],
    arch=meta["arch"],
    seed=meta["seed"],
    points=evaluator.num_images,
    batch_norm=(
      "training mode: each evaluation batch normalised by its own statistics"
      if evaluator.has_batch_norm
      else "none in this model"
    ),
    directions=dict(
      kind=args.directions,
      centre="the common start θ₀" if args.directions == "pca" else f"{args.center}'s end point",
      shares=shares,
      share_definition="share of Σ‖θ − θ₀‖² over all snapshots held by each direction",
      direction_seed=args.direction_seed if args.directions == "random" else None,
    ),
    grid=dict(
      a=a.tolist(),
      b=b.tolist(),
      loss=loss.reshape(args.grid, args.grid).tolist(),
      accuracy=acc.reshape(args.grid, args.grid).tolist(),
    ),
    paths={
      name: path_in_plane(name, p, *where, final_loss)
      for (name, p), where, final_loss in zip(paths.items(), projected, final_losses, strict=True)
    },
    lines=lines,
    grid_seconds=grid_seconds,
    grid_points_per_second=args.grid**2 / grid_seconds,
  )


def plane_directions(args, paths, dataset: Dataset, start) -> tuple[np.ndarray, np.ndarray, list]:
  """(origin, two directions, their shares): PCA of the paths from the start, or two
  filter-normalised random directions centred on ``--center``'s end point."""
  if args.directions == "pca":
    directions, shares = pca_directions([p.points for p in paths.values()], start)
    return start, directions, [float(s) for s in shares]
  if args.center not in paths:
    raise LandscapeError(f"--center {args.center!r} is not one of --optimizers.")
  origin = np.asarray(paths[args.center].points[-1], np.float64)
  _, h, _, c = dataset.train_images.shape
  arch = next(iter(paths.values())).meta["arch"]
  like = nnx.split(build_model(arch, c, dataset.num_classes, h), nnx.Param, ...)[1]
  like = trajectories.unflatten(origin.astype(np.float32), like)
  pair = [
    np.concatenate([d.ravel() for d in filter_normalized_direction(like, key)])
    for key in jax.random.split(jax.random.key(args.direction_seed), 2)
  ]
  return origin, np.stack(pair), []


def _grid_axes(args, coords: list[np.ndarray]) -> tuple[np.ndarray, np.ndarray]:
  low, high = grid_extent(coords, args.margin)
  if args.directions == "random":
    # The paths barely project onto random directions: show at least ±1 direction length,
    # Li et al.'s extent.
    low, high = np.minimum(low, -1.0), np.maximum(high, 1.0)
  return np.linspace(low[0], high[0], args.grid), np.linspace(low[1], high[1], args.grid)


def _evaluator(args, dataset: Dataset, arch: str) -> PlaneEvaluator:
  """The evaluator on ``--points`` training images drawn once (seed 0)."""
  rng = np.random.default_rng(0)
  n_points = min(args.points, len(dataset.train_labels))
  subset = np.sort(rng.choice(len(dataset.train_labels), n_points, replace=False))
  images, labels = dataset.train_images[subset], dataset.train_labels[subset]
  return PlaneEvaluator(arch, dataset, images, labels, chunk=args.grid, batch=args.batch)


def line_views(args, evaluator: PlaneEvaluator, start, ends: dict) -> list[dict]:
  """The 1-D views: from the start to each end point of ``--line``, and between the two."""
  missing = [n for n in args.line if n not in ends]
  if missing:
    raise LandscapeError(f"--line {','.join(missing)}: not among --optimizers.")
  segments = [(f"start → {_label(n)}", start, ends[n]) for n in args.line]
  if len(args.line) == 2:
    first, second = args.line
    segments.append((f"{_label(first)} → {_label(second)}", ends[first], ends[second]))
  t = np.union1d(np.linspace(-0.25, 1.25, args.line_points), [0.0, 1.0])  # both ends exactly
  lines = []
  for label, p, q in segments:
    l_loss, l_acc = evaluator(p, (q - p)[None], t[:, None], desc=label)
    lines.append(dict(label=label, t=t.tolist(), loss=l_loss.tolist(), accuracy=l_acc.tolist()))
  return lines


def path_in_plane(name, path: trajectories.Trajectory, coords, residual, distance, final_loss):
  """One run's path as the picture draws it: its coordinates in the plane, how far off it lies."""
  per_epoch = path.meta["steps_per_epoch"]
  return dict(
    label=_label(name),
    steps=path.steps.tolist(),
    epochs=path.epochs.tolist(),
    epoch_end_index=[int(i) for i, s in enumerate(path.steps) if s > 0 and s % per_epoch == 0],
    coords=coords.tolist(),
    distance_from_plane=residual.tolist(),
    relative_distance_from_plane=(residual / np.maximum(distance, 1e-12)).tolist(),
    share_in_plane_at_end=float(1 - (residual[-1] / max(distance[-1], 1e-12)) ** 2),
    final_loss=float(final_loss),
  )


def _label(name: str) -> str:
  return LABELS.get(name, name)


def parse_args(argv=None):
  parser = argparse.ArgumentParser(
    prog="python -m benchmarks.landscape",
    description=__doc__.split("\n\n")[0],
    formatter_class=argparse.ArgumentDefaultsHelpFormatter,
  )
  parser.add_argument("out", help="the --out folder of benchmarks.train (with trajectories/)")
  parser.add_argument("--optimizers", default="pilot,adam", help="comma list of runs to draw")
  parser.add_argument("--seed", type=int, default=0, help="the runs' seed (their common start)")
  parser.add_argument(
    "--directions",
    choices=["pca", "random"],
    default="pca",
    help="the plane: principal directions of all the paths, or Li et al.'s filter-normalised "
    "random directions",
  )
  parser.add_argument(
    "--center",
    default=None,
    help="random directions: whose end point is the centre (None: the first optimizer)",
  )
  parser.add_argument("--direction-seed", type=int, default=0, help="random directions' key")
  parser.add_argument("--grid", type=int, default=31, help="G: a G×G grid")
  parser.add_argument(
    "--points", type=int, default=2048, help="training images in the evaluation subset"
  )
  parser.add_argument(
    "--margin",
    type=float,
    default=0.15,
    help="grid margin beyond the paths, as a share of their span",
  )
  parser.add_argument("--line", default="pilot,adam", help="the two runs of the 1-D view")
  parser.add_argument(
    "--line-points", type=int, default=31, help="points on each 1-D line, t in [-0.25, 1.25]"
  )
  parser.add_argument(
    "--batch",
    type=int,
    default=1,
    help="grid points vmapped together inside the program; on CPU 1 is fastest (vmapping over "
    "weights turns each convolution into a grouped one, which XLA:CPU runs ~7x slower); on an "
    "accelerator more may pay",
  )
  parser.add_argument(
    "--data-dir", default=None, help="local original files; default: tensorflow-datasets"
  )
  parser.add_argument(
    "--name", default=None, help="output file stem (None: landscape_<dataset>_<arch>_seed<S>)"
  )
  args = parser.parse_args(argv)
  args.optimizers = [o.strip() for o in args.optimizers.split(",") if o.strip()]
  args.line = [o.strip() for o in args.line.split(",") if o.strip()]
  if not args.optimizers:
    parser.error("--optimizers: give at least one run.")
  if args.grid < 2 or args.points < 1 or args.batch < 1 or args.line_points < 2 or args.margin < 0:
    parser.error("--grid and --line-points must be >= 2, --points and --batch >= 1, --margin >= 0.")
  args.center = args.center or args.optimizers[0]
  return args


def main(argv=None):
  args = parse_args(argv)
  command = records.command_line("benchmarks.landscape", argv)
  out = Path(args.out)
  try:
    paths = load_paths(out, args.optimizers, args.seed)
    meta = next(iter(paths.values())).meta
    dataset = load_dataset(meta["dataset"], args.data_dir)
    sizes = {len(t.points[0]) for t in paths.values()}
    print(
      f"{', '.join(f'{o}: {len(t.steps)} snapshots' for o, t in paths.items())}; "
      f"{sizes.pop()} parameters",
      flush=True,
    )
    result = compute(args, paths, dataset)
  except (LandscapeError, DataError) as e:
    sys.exit(f"error: {e}")
  result = records.header(command) | result
  stem = args.name or (
    f"landscape_{result['dataset']}_{result['arch']}_seed{args.seed}"
    + ("_random" if args.directions == "random" else "")
  )
  if result["directions"]["shares"]:
    print(
      "plane: "
      + ", ".join(
        f"direction {i + 1} holds {100 * s:.1f}%"
        for i, s in enumerate(result["directions"]["shares"])
      )
      + " of the paths' squared displacement from the start"
    )
  for path in result["paths"].values():
    print(
      f"{path['label']:>22}: end at ({path['coords'][-1][0]:.3g}, {path['coords'][-1][1]:.3g}), "
      f"loss there {path['final_loss']:.4f}; the plane holds "
      f"{100 * path['share_in_plane_at_end']:.0f}% of its end point's squared displacement"
    )
  print(
    f"{args.grid}x{args.grid} grid on {result['points']} images: {result['grid_seconds']:.1f} s"
  )
  records.write_json(out / f"{stem}.json", result)
  plot(result, out / f"{stem}.png")
  print(f"wrote {out / f'{stem}.png'}")


if __name__ == "__main__":
  main()
