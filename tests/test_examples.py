"""The examples run (shortened) and learn."""

import importlib.util
from pathlib import Path

from bench_files import write_fashion_mnist

EXAMPLES = Path(__file__).parents[1] / "examples"


def _load(name):
  spec = importlib.util.spec_from_file_location(name, EXAMPLES / f"{name}.py")
  module = importlib.util.module_from_spec(spec)
  spec.loader.exec_module(module)
  return module


def test_quickstart(capsys):
  _load("quickstart").main(steps=60)
  lines = capsys.readouterr().out.strip().splitlines()
  assert lines[0].split()[:6] == ["step", "loss", "rho", "p_m", "p_v", "p_s"]
  first, last = float(lines[1].split()[1]), float(lines[-1].split()[1])
  assert last < first / 2


def test_linen_train_state():
  loss, accuracy = _load("linen_train_state").main(steps=200)
  assert accuracy > 0.9


def test_flax_nnx_example_on_tiny_files(tmp_path, capsys):
  write_fashion_mnist(tmp_path, n_train=64, n_test=16)
  metrics = _load("flax_nnx_fashion_mnist").main(
    ["--data-dir", str(tmp_path), "--steps", "3", "--batch-size", "8"]
  )
  assert 0 <= float(metrics["accuracy"]) <= 1
  assert "test accuracy" in capsys.readouterr().out
