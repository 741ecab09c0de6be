"""Fails unless each requirement in pyproject.toml is installed at exactly the floor it declares.

    python .ci/check_floors.py            # the library's dependencies
    python .ci/check_floors.py test bench # the requirements of these extras

Run by .ci/run in each floors environment, so that the floors in pyproject.toml are the versions
the tests ran at (and .ci/floors.txt, .ci/floors-extras.txt cannot drift from them).
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


def declared(extras: list[str]) -> list[str]:
  """The requirements checked: the dependencies, or those of ``extras`` (each once)."""
  project = tomllib.loads((Path(__file__).resolve().parents[1] / "pyproject.toml").read_text())
  project = project["project"]
  if not extras:
    return project["dependencies"]
  found = [r for extra in extras for r in project["optional-dependencies"][extra]]
  return list(dict.fromkeys(found))


wrong = []
for requirement in declared(sys.argv[1:]):
  match = re.fullmatch(r"([A-Za-z0-9_.-]+)>=([0-9.]+)", requirement.replace(" ", ""))
  if match is None:
    wrong.append(f"{requirement} (no floor of the form NAME>=VERSION)")
    continue
  name, floor = match.groups()
  installed = importlib.metadata.version(name)
  print(f"{name}: declared >= {floor}, installed {installed}")
  if _release(installed) != _release(floor):
    wrong.append(f"{name} {installed} (floor {floor})")
sys.exit(f"not at the floors: {', '.join(wrong)}" if wrong else 0)
