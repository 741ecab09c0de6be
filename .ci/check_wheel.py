"""Checks the built sdist and wheel, then uses the installed wheel as a user would.

    python .ci/check_wheel.py DIST_DIR README.md    (run from a folder outside the repository)

- the wheel holds pilot_optax with py.typed, and nothing of benchmarks/, tests/ or examples/;
- the sdist holds the license, the README, the changelog and the tests (a packager can run them);
- pilot_optax imports from site-packages (not from a checkout), with every public name;
- the README's quickstart (its first python block) runs to the end.
"""

import re
import runpy
import sys
import tarfile
import zipfile
from pathlib import Path


def readme_quickstart(readme_text: str) -> str:
  """The README's quickstart: the first python block after its "## Quickstart" heading.

  The one definition: tests/test_examples.py loads it from this file too."""
  return re.search(r"## Quickstart.*?```python\n(.*?)```", readme_text, re.S)[1]


def check_wheel(wheel: Path) -> None:
  with zipfile.ZipFile(wheel) as archive:
    names = archive.namelist()
  assert "pilot_optax/py.typed" in names, names
  assert "pilot_optax/__init__.py" in names, names
  top = {n.split("/")[0] for n in names}
  assert not top & {"benchmarks", "tests", "examples"}, sorted(top)
  print(f"{wheel.name}: {len(names)} files, top level {sorted(top)}")


def check_sdist(sdist: Path) -> None:
  with tarfile.open(sdist) as archive:
    members = [m.split("/", 1)[-1] for m in archive.getnames()]
  for needed in ("LICENSE", "README.md", "CHANGELOG.md", "pyproject.toml", "tests/test_pilot.py"):
    assert needed in members, (needed, sorted(members)[:40])
  print(f"{sdist.name}: {len(members)} entries, license, README, changelog and tests included")


def check_installed() -> None:
  import pilot_optax

  where = Path(pilot_optax.__file__).resolve()
  assert "site-packages" in where.parts, where
  for name in pilot_optax.__all__:
    getattr(pilot_optax, name)
  print(
    f"pilot_optax {pilot_optax.__version__} from {where.parent}: {len(pilot_optax.__all__)} names"
  )


def main() -> None:
  dist, readme = Path(sys.argv[1]), Path(sys.argv[2])
  (wheel,) = dist.glob("*.whl")
  (sdist,) = dist.glob("*.tar.gz")
  check_wheel(wheel)
  check_sdist(sdist)
  check_installed()
  Path("quickstart.py").write_text(readme_quickstart(readme.read_text()))
  runpy.run_path("quickstart.py", run_name="__main__")
  print("the README's quickstart ran from", Path.cwd())


if __name__ == "__main__":
  main()
