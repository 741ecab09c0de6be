"""benchmarks.landscape: the plane, the grid's losses, filter normalisation, the CLI."""

import json

import jax
import jax.numpy as jnp
import numpy as np
import optax
import pytest
from bench_files import small_run, write_cifar10, write_fashion_mnist
from flax import nnx

from benchmarks import landscape, train, trajectories
from benchmarks.data import load_dataset
from benchmarks.models import build_model
from benchmarks.seeds import preprocess


def test_pca_recovers_a_known_plane_and_the_coordinates():
  rng = np.random.default_rng(0)
  size = 5000
  basis, _ = np.linalg.qr(rng.normal(size=(size, 2)))
  u, w = basis.T
  start = rng.normal(size=size)
  # Two paths from the same start, in the plane of u and w.
  a1, b1 = np.linspace(0, 6, 20), 0.8 * np.sin(np.linspace(0, 3, 20))
  a2, b2 = -np.linspace(0, 5, 15), -0.8 * np.sin(np.linspace(0, 3, 15))
  known = [np.stack([a1, b1], 1), np.stack([a2, b2], 1)]
  paths = [(start + c @ np.stack([u, w])).astype(np.float32) for c in known]
  directions, shares = landscape.pca_directions(paths, start.astype(np.float64), chunk=777)
  assert directions.shape == (2, size) and shares[0] > shares[1] > 0
  assert abs(sum(shares) - 1) < 1e-5  # the paths lie in the plane: it holds everything
  np.testing.assert_allclose(directions @ directions.T, np.eye(2), atol=1e-5)
  for path, c in zip(paths, known, strict=True):
    coords, residual, distance = landscape.project(path, start, directions)
    np.testing.assert_allclose(distance, np.linalg.norm(path - start, axis=1), rtol=1e-5)
    assert residual.max() < 1e-4 * np.linalg.norm(path - start, axis=1).max()
    # The PCA axes are a rotation (or reflection) of (u, w) within the plane: the known
    # coordinates, turned by it, are the projected ones.
    turn = np.stack([u, w]) @ directions.T.astype(np.float64)
    np.testing.assert_allclose(turn @ turn.T, np.eye(2), atol=1e-5)
    np.testing.assert_allclose(coords, c @ turn, atol=2e-4)


def test_filter_normalised_direction_has_each_filters_norm():
  params = {
    "conv": {"kernel": jnp.asarray(np.random.default_rng(1).normal(size=(3, 3, 2, 5)))},
    "dense": {"kernel": jnp.arange(12.0).reshape(4, 3), "bias": jnp.array([1.0, -2.0, 2.0])},
  }
  direction = landscape.filter_normalized_direction(params, jax.random.key(0))
  for d, x in zip(direction, jax.tree.leaves(params), strict=True):
    x = np.asarray(x)
    assert d.shape == x.shape
    if x.ndim == 1:
      np.testing.assert_allclose(np.linalg.norm(d), np.linalg.norm(x), rtol=1e-5)
    else:
      for j in range(x.shape[-1]):  # each output filter
        np.testing.assert_allclose(np.linalg.norm(d[..., j]), np.linalg.norm(x[..., j]), rtol=1e-5)
  # Random, not a rescaled copy of the parameters.
  assert not np.allclose(
    direction[1] / np.linalg.norm(direction[1]),
    np.asarray(params["dense"]["kernel"]) / np.linalg.norm(params["dense"]["kernel"]),
  )


def _direct_loss(model, params, x, y):
  nnx.update(model, params)
  logits = model(x)
  return float(optax.softmax_cross_entropy_with_integer_labels(logits, y).mean())


def test_grid_losses_equal_the_loss_at_those_parameters(tmp_path):
  write_fashion_mnist(tmp_path, n_train=48, n_test=8)
  dataset = load_dataset("fashionmnist", str(tmp_path))
  images, labels = dataset.train_images[:40], dataset.train_labels[:40]
  evaluator = landscape.PlaneEvaluator("cnn", dataset, images, labels, chunk=3, batch=2)
  model = build_model("cnn", 1, 10, 28)
  like = nnx.state(model, nnx.Param)
  origin = trajectories.flatten(like)
  rng = np.random.default_rng(0)
  directions = 0.02 * rng.normal(size=(2, origin.size)).astype(np.float32)
  coefficients = np.array([[0.0, 0.0], [1.0, -2.0], [-0.5, 0.5], [2.0, 1.0]], np.float32)
  losses, accuracies = evaluator(origin, directions, coefficients)
  x = preprocess(jnp.asarray(images), dataset, None, False, jnp.float32)
  for c, loss, acc in zip(coefficients, losses, accuracies, strict=True):
    params = trajectories.unflatten(origin + c @ directions, like)
    np.testing.assert_allclose(loss, _direct_loss(model, params, x, jnp.asarray(labels)), rtol=1e-5)
    assert 0 <= acc <= 1
  assert len(set(np.round(losses, 6))) == len(losses)  # the points differ


def test_batch_norm_models_are_evaluated_with_each_batchs_statistics(tmp_path):
  write_cifar10(tmp_path, per_batch=4)
  dataset = load_dataset("cifar10", str(tmp_path))
  images, labels = dataset.train_images[:6], dataset.train_labels[:6]
  evaluator = landscape.PlaneEvaluator("resnet18", dataset, images, labels, chunk=1, batch=1)
  assert evaluator.has_batch_norm
  model = build_model("resnet18", 3, 10, 32)
  origin = trajectories.flatten(nnx.state(model, nnx.Param))
  (loss,), _ = evaluator(origin, np.zeros((2, origin.size), np.float32), np.zeros((1, 2)))
  x = preprocess(jnp.asarray(images), dataset, None, False, jnp.float32)
  y = jnp.asarray(labels)
  model.train()  # batch statistics, whatever the running averages hold
  expected = _direct_loss(model, nnx.state(model, nnx.Param), x, y)
  np.testing.assert_allclose(loss, expected, rtol=1e-4)
  model.eval()  # the fresh running statistics (0 and 1) give another number
  assert abs(_direct_loss(model, nnx.state(model, nnx.Param), x, y) - expected) > 1e-3


@pytest.fixture(scope="module")
def trained(tmp_path_factory):
  root = tmp_path_factory.mktemp("landscape")
  write_fashion_mnist(root / "data", n_train=64, n_test=16)
  out = root / "out"
  train.main(
    small_run(optimizer="pilot,adam", epochs=2, trajectory_every=2, data_dir=root / "data", out=out)
  )
  return root


def test_cli_writes_the_picture_and_its_numbers(trained, capsys):
  out = trained / "out"
  landscape.main(
    [
      str(out),
      "--optimizers",
      "pilot,adam",
      "--grid",
      "4",
      "--points",
      "24",
      "--line-points",
      "3",
      "--data-dir",
      str(trained / "data"),
    ]
  )
  printed = capsys.readouterr().out
  assert "of the paths' squared displacement" in printed and "grid on 24 images" in printed
  result = json.loads((out / "landscape_fashionmnist_cnn_seed0.json").read_text())
  assert (out / "landscape_fashionmnist_cnn_seed0.png").stat().st_size > 10_000
  assert np.asarray(result["grid"]["loss"]).shape == (4, 4)
  assert np.isfinite(result["grid"]["loss"]).all()
  assert result["command"].startswith("python -m benchmarks.landscape")
  pilot = result["paths"]["pilot"]
  assert pilot["steps"] == [0, 2, 4, 6, 8] and pilot["epoch_end_index"] == [2, 4]
  assert pilot["coords"][0] == [0.0, 0.0]  # the plane goes through the common start
  assert len(result["directions"]["shares"]) == 2 and sum(result["directions"]["shares"]) <= 1
  a, b = result["grid"]["a"], result["grid"]["b"]
  for path in result["paths"].values():  # the grid covers every path
    xy = np.asarray(path["coords"])
    assert a[0] < xy[:, 0].min() and xy[:, 0].max() < a[-1]
    assert b[0] < xy[:, 1].min() and xy[:, 1].max() < b[-1]
  assert [line["label"] for line in result["lines"]] == [
    "start → PILOT",
    "start → Adam",
    "PILOT → Adam",
  ]
  # t = 1 on "start → PILOT" is PILOT's end point: the loss recorded for it.
  line = result["lines"][0]
  np.testing.assert_allclose(line["loss"][line["t"].index(1.0)], pilot["final_loss"], rtol=1e-4)
  landscape.main(
    [
      str(out),
      "--optimizers",
      "adam,pilot",
      "--directions",
      "random",
      "--grid",
      "3",
      "--points",
      "16",
      "--line",
      "adam",
      "--data-dir",
      str(trained / "data"),
    ]
  )
  random = json.loads((out / "landscape_fashionmnist_cnn_seed0_random.json").read_text())
  assert (
    random["directions"]["kind"] == "random"
    and random["paths"]["adam"]["coords"][-1] == [pytest.approx(0.0, abs=1e-6)] * 2
  )  # centred on adam's end point


@pytest.mark.parametrize(
  "args, message",
  [
    (["--optimizers", "sophia"], "no trajectory of 'sophia'"),
    (["--optimizers", "pilot", "--seed", "3"], "with seed 3 (its seeds there: 0)"),
    (["--optimizers", "pilot,adam", "--line", "lion"], "--line lion"),
  ],
)
def test_cli_names_what_is_missing(trained, args, message, capsys):
  with pytest.raises(SystemExit) as stop:
    landscape.main(
      [
        str(trained / "out"),
        *args,
        "--data-dir",
        str(trained / "data"),
        "--grid",
        "2",
        "--points",
        "8",
      ]
    )
  assert message in str(stop.value)


def test_cli_without_trajectories_says_how_to_make_them(tmp_path):
  with pytest.raises(SystemExit) as stop:
    landscape.main([str(tmp_path)])
  assert "no trajectories" in str(stop.value) and "--trajectory-every" in str(stop.value)
