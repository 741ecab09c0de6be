"""The run scripts of benchmarks/: --help prints their documentation and runs nothing."""

import subprocess
from pathlib import Path

import pytest

SCRIPTS = sorted((Path(__file__).parents[1] / "benchmarks").glob("*_run.sh"))


def test_every_run_script_is_found():
  names = {p.name for p in SCRIPTS}
  assert {
    "ablation_run.sh",
    "cpu_run.sh",
    "gpu_run.sh",
    "landscape_run.sh",
    "lr_sweep_run.sh",
  } <= names


@pytest.mark.parametrize("script", SCRIPTS, ids=lambda p: p.name)
@pytest.mark.parametrize("flag", ["--help", "-h"])
def test_help_prints_the_header_and_trains_nothing(script, flag, tmp_path):
  done = subprocess.run(
    ["bash", str(script), flag], capture_output=True, text=True, timeout=60, cwd=tmp_path
  )
  assert done.returncode == 0, done.stderr
  header = [line[2:] for line in script.read_text().splitlines()[1:] if line.startswith("# ")][:2]
  assert header and all(line in done.stdout for line in header)
  assert "benchmarks.train" not in done.stdout + done.stderr and not list(tmp_path.iterdir())
