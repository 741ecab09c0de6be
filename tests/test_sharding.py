"""Sharded params on 8 virtual CPU devices give the numbers of the unsharded run.

Each mode runs in a subprocess, since the device count is fixed when JAX starts.
"""

import os
import subprocess
import sys
from pathlib import Path

import pytest


@pytest.mark.parametrize("mode", ["auto", "explicit"])
def test_sharded_equals_unsharded(mode):
  script = Path(__file__).with_name("sharded_run.py")
  root = Path(__file__).parents[1]
  env = {**os.environ, "PYTHONPATH": str(root)}
  result = subprocess.run(
    [sys.executable, str(script), mode],
    capture_output=True,
    text=True,
    timeout=300,
    cwd=root,
    env=env,
  )
  assert result.returncode == 0, result.stdout + result.stderr
  assert f"OK {mode}" in result.stdout
