"""How a benchmark records its numbers: a JSON file that names the command that produced it."""

from __future__ import annotations

import json
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
