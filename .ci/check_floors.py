"""Fails unless each dependency in pyproject.toml is installed at exactly the floor it declares.

Run by .ci/run in the floors environment, so that the floors in pyproject.toml are the versions
the tests ran at (and .ci/floors.txt cannot drift from them).
"""

import importlib.metadata
import re
import sys
from pathlib import Path

import tomllib


def _release(version: str) -> tuple[int, ...]:
  """'0.6' and '0.6.0' alike: the release numbers without trailing zeros."""
  numbers = [int(part) for part in version.split(".")]
  while numbers and numbers[-1] == 0:
    numbers.pop()
  return tuple(numbers)


root = Path(__file__).resolve().parents[1]
declared = tomllib.loads((root / "pyproject.toml").read_text())["project"]["dependencies"]
wrong = []
for requirement in declared:
  name, floor = re.fullmatch(r"([A-Za-z0-9_.-]+)>=([0-9.]+)", requirement.replace(" ", "")).groups()
  installed = importlib.metadata.version(name)
  print(f"{name}: declared >= {floor}, installed {installed}")
  if _release(installed) != _release(floor):
    wrong.append(f"{name} {installed} (floor {floor})")
sys.exit(f"not at the floors: {', '.join(wrong)}" if wrong else 0)
