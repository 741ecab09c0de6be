"""The examples run (shortened) and learn."""

import importlib.util
from pathlib import Path

from bench_files import write_fashion_mnist

EXAMPLES = Path(__file__).parents[1] / "examples"


def _load_file(path: Path, name: str):
  spec = importlib.util.spec_from_file_location(name, path)
  module = importlib.util.module_from_spec(spec)
  spec.loader.exec_module(module)
  return module


def _load(name):
  return _load_file(EXAMPLES / f"{name}.py", name)


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


def test_examples_help_and_do_not_train(tmp_path):
  import subprocess
  import sys

  for name in ("quickstart", "linen_train_state", "flax_nnx_fashion_mnist"):
    done = subprocess.run(
      [sys.executable, str(EXAMPLES / f"{name}.py"), "--help"],
      capture_output=True,
      text=True,
      timeout=120,
    )
    assert done.returncode == 0 and "usage:" in done.stdout and "step " not in done.stdout, name


def _readme_quickstart(text: str) -> str:
  """.ci/check_wheel.py's definition (CI runs the same block from the installed wheel)."""
  return _load_file(EXAMPLES.parent / ".ci" / "check_wheel.py", "check_wheel").readme_quickstart(
    text
  )


def test_the_readme_quickstart_runs_on_its_own_and_learns(capsys):
  block = _readme_quickstart((EXAMPLES.parent / "README.md").read_text())
  namespace = {}
  exec(compile(block, "README.md quickstart", "exec"), namespace)  # nothing defined beforehand
  assert float(namespace["loss"]) < 0.05  # from 13.5 at the start
  assert "knobs (p_m, p_v, p_s)" in capsys.readouterr().out
