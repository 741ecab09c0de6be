"""Sharded params on 8 virtual CPU devices give the numbers of the unsharded run.

Each mode runs in a subprocess, since the device count is fixed when JAX starts.
"""

import os
import subprocess
import sys
from pathlib import Path

import jax
import pytest

EXPLICIT_NEEDS = (0, 10)  # tested at 0.10.2; 0.6.0 and 0.7.0 refuse a scatter or reshape in it


@pytest.mark.parametrize(
  "mode",
  [
    "auto",
    pytest.param(
      "explicit",
      marks=pytest.mark.skipif(
        jax.__version_info__ < EXPLICIT_NEEDS,
        reason="explicit-axes sharding of the step needs jax >= 0.10 (docs/api.md)",
      ),
    ),
  ],
)
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
