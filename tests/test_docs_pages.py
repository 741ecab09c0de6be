"""Every Python block of the documentation site runs: each page's blocks in order, one namespace."""

import re
from pathlib import Path

import pytest

from benchmarks import docs_tables

DOCS = Path(__file__).resolve().parents[1] / "docs"
# A fenced block whose info string is exactly "python" (MyST directives, e.g. literalinclude,
# are fenced with {...} and are not Python to run).
_PYTHON_BLOCK = re.compile(r"^```python\n(.*?)^```$", re.S | re.M)
# The site's pages as docs_tables finds them (its build folder left out).
PAGES = [name.removeprefix("docs/") for name in docs_tables.pages() if name.startswith("docs/")]


def python_blocks(text: str) -> list[str]:
  return _PYTHON_BLOCK.findall(text)


def test_blocks_are_found_as_markdown_fences():
  page = "a\n```python\nx = 1\n```\n```{literalinclude} f.py\n```\n```bash\nls\n```\n```python\ny = x\n```\n"
  assert python_blocks(page) == ["x = 1\n", "y = x\n"]
  assert len(PAGES) > 10 and "guides/policy.md" in PAGES


@pytest.mark.parametrize("page", [p for p in PAGES if python_blocks((DOCS / p).read_text())])
def test_page_runs(page, tmp_path, monkeypatch):
  monkeypatch.chdir(tmp_path)  # a page that writes files writes them here
  namespace = {"__name__": f"docs.{page}"}
  for number, block in enumerate(python_blocks((DOCS / page).read_text()), 1):
    exec(compile(block, f"docs/{page}, block {number}", "exec"), namespace)
