"""benchmarks.train: a one-epoch smoke run of every optimizer on tiny files, and the CLI's errors."""

import json

import numpy as np
import pytest
from bench_files import cli, head_commit, small_run, write_cifar10, write_fashion_mnist

from benchmarks import seeds, train
from benchmarks.optimizers import OPTIMIZERS, parse_names

KEYS = {"dataset", "arch", "optimizer", "seed", "epochs", "hyperparameters", "history", "final"}


def test_every_optimizer_one_epoch_on_tiny_fashion_mnist(tmp_path, capsys):
  write_fashion_mnist(tmp_path / "data", n_train=64, n_test=32)
  out = tmp_path / "out"
  train.main(
    small_run(optimizer="all", epochs=1, policy_every=1, data_dir=tmp_path / "data", out=out)
  )
  for name in OPTIMIZERS:
    record = json.loads((out / f"fashionmnist_cnn_{name}_seed0.json").read_text())
    assert set(record) >= KEYS and record["optimizer"] == name
    (epoch,) = record["history"]
    assert set(epoch) == {"epoch", "train_loss", "val_loss", "val_accuracy", "seconds"}
    assert (
      np.isfinite([epoch["train_loss"], epoch["val_loss"]]).all()
      and 0 <= epoch["val_accuracy"] <= 1
    )
    assert set(record["final"]) == {"val_accuracy", "val_loss", "loss_variance"}
    assert record["final"]["loss_variance"] > 0
    assert ("policy" in record) == (name == "pilot")
  policy = json.loads((out / "fashionmnist_cnn_pilot_seed0.json").read_text())["policy"]
  assert [p["step"] for p in policy] == [1, 2, 3, 4]  # 64 / 16 steps, each recorded
  assert set(policy[0]) == {"step", "rho", "pm", "pv", "ps"} and policy[0]["rho"] == 0.0
  hp = json.loads((out / "fashionmnist_cnn_pilot_seed0.json").read_text())["hyperparameters"]
  assert (hp["gamma"], hp["lr_phi"], hp["degree"]) == (
    0.95,
    0.01,
    2,
  )  # the paper's FMNIST/CNN selection
  # The code that produced it: this checkout's commit (None outside git).
  head = head_commit()
  assert hp["source"] is None if head is None else hp["source"].startswith(head)
  printed = capsys.readouterr().out
  assert "[fashionmnist/cnn/pilot seed 0] epoch 1/1: train loss" in printed
  assert printed.count("wrote ") == len(OPTIMIZERS)


def test_resnet18_on_tiny_cifar10_bf16(tmp_path):
  write_cifar10(tmp_path / "data", per_batch=4)
  out = tmp_path / "out"
  train.main(
    cli(
      dataset="cifar10",
      arch="resnet18",
      optimizer="pilot",
      epochs=1,
      seeds=3,
      batch_size=10,
      precision="bf16",
      data_dir=tmp_path / "data",
      out=out,
    )
  )
  record = json.loads((out / "cifar10_resnet18_pilot_seed3.json").read_text())
  assert (
    record["hyperparameters"]["precision"] == "bf16"
    and record["hyperparameters"]["warmup_epochs"] == 3
  )
  assert record["hyperparameters"]["num_params"] > 11_000_000
  assert np.isfinite(record["final"]["val_loss"])


def test_augmentation_crops_and_flips():
  import jax
  import jax.numpy as jnp

  from benchmarks.data import Dataset

  ds = Dataset(
    "cifar10",
    *(np.zeros((1, 32, 32, 3), np.uint8), np.zeros(1, np.int32)) * 2,
    (0.0,) * 3,
    (1.0,) * 3,
    True,
  )
  image = jnp.arange(32 * 32 * 3, dtype=jnp.float32).reshape(1, 32, 32, 3) % 256
  images = jnp.repeat(image, 64, axis=0).astype(jnp.uint8)
  out = seeds.preprocess(images, ds, jax.random.key(0), True, jnp.float32)
  assert out.shape == images.shape
  plain = seeds.preprocess(images, ds, None, False, jnp.float32)
  differs = np.asarray(jnp.any(out != plain, axis=(1, 2, 3)))
  assert differs.mean() > 0.5  # most images were moved or flipped
  # Each output is a shifted (and maybe mirrored) window of the zero-padded input.
  padded = np.pad(np.asarray(plain[0]), ((4, 4), (4, 4), (0, 0)))
  for o in np.asarray(out[:8]):
    found = any(
      np.array_equal(cand, o)
      for dy in range(9)
      for dx in range(9)
      for cand in (padded[dy : dy + 32, dx : dx + 32], padded[dy : dy + 32, dx : dx + 32][:, ::-1])
    )
    assert found


def test_bad_optimizer_name_is_a_usage_error(capsys):
  with pytest.raises(SystemExit):
    train.parse_args(cli(dataset="cifar10", arch="cnn", optimizer="adam,sgd", out="x"))
  assert "sgd" in capsys.readouterr().err
  assert parse_names("all") == list(OPTIMIZERS)


def test_non_integer_seeds_name_the_flag(capsys):
  with pytest.raises(SystemExit):
    train.parse_args(cli(dataset="cifar10", arch="cnn", optimizer="adam", seeds="a", out="x"))
  assert "--seeds" in capsys.readouterr().err


def test_missing_data_is_a_clear_exit(tmp_path):
  with pytest.raises(SystemExit, match="file not found"):
    train.main(
      cli(
        dataset="fashionmnist",
        arch="cnn",
        optimizer="adam",
        data_dir=tmp_path,
        out=tmp_path / "out",
      )
    )


def test_batch_split_across_two_devices(tmp_path):
  """With several devices the batch is sharded along them (data parallel); run on 2 virtual CPUs."""
  import os
  import subprocess
  import sys
  from pathlib import Path

  write_fashion_mnist(tmp_path / "data", n_train=64, n_test=32)
  root = Path(__file__).parents[1]
  env = {
    **os.environ,
    "XLA_FLAGS": "--xla_force_host_platform_device_count=2",
    "PYTHONPATH": str(root),
  }
  cmd = [
    sys.executable,
    "-m",
    "benchmarks.train",
    *small_run(optimizer="pilot", epochs=1, data_dir=tmp_path / "data", out=tmp_path / "out"),
  ]
  result = subprocess.run(cmd, capture_output=True, text=True, timeout=300, cwd=root, env=env)
  assert result.returncode == 0, result.stdout + result.stderr
  assert "CpuDevice(id=1)" in result.stdout
  record = json.loads((tmp_path / "out" / "fashionmnist_cnn_pilot_seed0.json").read_text())
  assert np.isfinite(record["final"]["val_loss"])
