"""How a benchmark records its numbers: a JSON file under the results folder whose header names
the command that produced it, the code (git commit) and the machine."""

from __future__ import annotations

import json
import platform
import shlex
import subprocess
import sys
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any


def command_line(module: str, argv: Sequence[str] | None) -> str:
  """The command that runs ``module`` with ``argv`` (the process's own arguments when None).

  Quoted so that it can be pasted back into a shell.
  """
  args = sys.argv[1:] if argv is None else list(argv)
  return shlex.join(["python", "-m", module, *args])


def write_json(out: Path, record: Mapping[str, Any]) -> Path:
  """Writes ``record`` to ``out`` (creating its folder) and says so on stdout."""
  out.parent.mkdir(parents=True, exist_ok=True)
  out.write_text(json.dumps(record, indent=1))
  print(f"wrote {out}")
  return out


# Where benchmarks write their numbers: changing these files does not change the code that runs.
RESULTS_DIR = "benchmarks/results"


def results_path(name: str) -> Path:
  """``benchmarks/results/<name>`` of this checkout (the default place of a result file)."""
  return Path(__file__).resolve().parents[1] / RESULTS_DIR / name


def header(command: str, source: str | None | bool = False) -> dict[str, Any]:
  """The fields every result JSON starts with: command, code, device and versions.

  Args:
    command: :func:`command_line` of the run.
    source: the git commit of the code that ran, when read earlier (:func:`source_revision`
      is read now by default).
  """
  import jax
  import optax

  return {
    "command": command,
    "source": source_revision() if source is False else source,
    "device": str(jax.devices()[0].device_kind),
    "platform": jax.devices()[0].platform,
    "device_count": jax.device_count(),
    "jax": jax.__version__,
    "optax": optax.__version__,
    "python": platform.python_version(),
  }


def source_revision(root: str | Path | None = None) -> str | None:
  """The git commit of the code that runs, with ``+dirty`` when tracked files were changed.

  Changes to tracked files under ``benchmarks/results/`` do not count: a run that regenerates a
  table or a plot while another run trains changes no code. None outside a git checkout (an
  installed copy, an archive).

  Args:
    root: the repository's top folder; by default the one this file belongs to.
  """
  root = str(Path(__file__).resolve().parents[1] if root is None else root)

  def git(*args):
    done = subprocess.run(["git", "-C", root, *args], capture_output=True, text=True, timeout=30)
    return done.stdout.strip() if done.returncode == 0 else None

  try:
    commit = git("rev-parse", "HEAD")
    changes = git(
      "status", "--porcelain", "--untracked-files=no", "--", ".", f":(exclude){RESULTS_DIR}"
    )
  except (OSError, subprocess.TimeoutExpired):
    return None
  if not commit:
    return None
  return commit + ("+dirty" if changes else "")
