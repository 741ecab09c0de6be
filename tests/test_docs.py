"""The READMEs' copied tables match their files; the version has one source."""

import importlib.metadata
import re
from pathlib import Path

import pytest

import pilot_optax
from benchmarks import docs_tables

ROOT = Path(__file__).resolve().parents[1]


def test_readme_tables_are_the_files_they_name():
  names = docs_tables.pages()
  assert "docs/evidence/cost.md" in names and "README.md" in names
  for name in names:
    text = (ROOT / name).read_text()
    _, stale = docs_tables.synced(text)
    assert not stale, f"{name}: run python -m benchmarks.docs_tables ({stale} changed)"
  assert "step_overhead_cpu.md -->" in (ROOT / "docs/evidence/cost.md").read_text()


def test_a_block_that_drifted_is_found_and_rewritten(tmp_path):
  (tmp_path / "table.md").write_text("| a | 6.19× |\n")
  readme = "x\n<!-- results: table.md -->\n| a | 6.26× |\n<!-- end results -->\ny\n"
  text, stale = docs_tables.synced(readme, root=tmp_path)
  assert stale == ["table.md"]
  assert "6.19×" in text and "6.26×" not in text and text.startswith("x\n") and text.endswith("y\n")
  assert docs_tables.synced(text, root=tmp_path)[1] == []


def test_version_has_one_source():
  assert importlib.metadata.version("pilot-optax") == pilot_optax.__version__
  pyproject = (ROOT / "pyproject.toml").read_text()
  assert not re.search(r'^version\s*=\s*"', pyproject, re.M)  # dynamic, from __version__
  assert f"## [{pilot_optax.__version__}]" in (ROOT / "CHANGELOG.md").read_text()


def test_library_tests_are_told_from_the_others_by_their_imports():
  """What `pytest --only library` runs at the library's floors (without flax, orbax, ...)."""
  from conftest import needs_extras

  tests = ROOT / "tests"
  library = {p.name for p in tests.glob("test_*.py") if not needs_extras(p)}
  assert {"test_pilot.py", "test_overflow.py", "test_sharding.py"} <= library
  assert not {"test_states.py", "test_bench_lm.py", "test_docs.py"} & library
  allowed = {"jax", "numpy", "optax", "chex", "pytest", "pilot_optax", "conftest"}
  for name in library:
    imported = re.findall(r"^\s*(?:from|import)\s+([A-Za-z_]\w*)", (tests / name).read_text(), re.M)
    outside = {m for m in imported if m not in allowed and not _is_stdlib(m)}
    assert not outside, f"{name} imports {outside}: it needs more than the library's dependencies"


def _is_stdlib(module: str) -> bool:
  import sys

  return module in sys.stdlib_module_names or module == "__future__"


def github_slug(heading: str) -> str:
  """The anchor a code host (and MyST, with myst_heading_anchors) gives a markdown heading."""
  text = re.sub(r"[^\w\- ]", "", heading.strip().lower())
  return text.replace(" ", "-")


def _anchors(path: Path) -> set[str]:
  text = re.sub(r"^```.*?^```", "", path.read_text(), flags=re.S | re.M)  # not in code blocks
  return {github_slug(h) for h in re.findall(r"^#{1,6} (.+)$", text, re.M)}


@pytest.mark.parametrize("name", ["README.md", "benchmarks/README.md"])
def test_every_relative_link_of_the_readmes_resolves(name):
  page = ROOT / name
  links = re.findall(r"\]\(([^)\s]+)\)", page.read_text())
  local = [link for link in links if not re.match(r"[a-z]+:", link)]
  assert len(local) >= 5
  for link in local:
    target, _, anchor = link.partition("#")
    path = (page.parent / target).resolve() if target else page
    assert path.exists(), f"{name}: {link} names no file"
    if anchor:
      assert anchor in _anchors(path), f"{name}: {link}: no heading with that anchor"


def test_slugs_follow_the_code_host():
  assert github_slug("scale_by_pilot") == "scale_by_pilot"
  assert github_slug("The algorithm, exactly") == "the-algorithm-exactly"
  assert github_slug("Time to target on the Fashion-MNIST sweep") == (
    "time-to-target-on-the-fashion-mnist-sweep"
  )
