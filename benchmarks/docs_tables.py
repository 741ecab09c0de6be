"""Copies the tools' own markdown tables into the pages, so that no number is retyped.

    python -m benchmarks.docs_tables [--check]

A page (README.md, benchmarks/README.md, or a page of the site under docs/) names a committed
markdown file (a tool's table of results, or benchmarks/commands.md, the table of the
benchmark commands that two pages show) between two markers,

    <!-- results: benchmarks/results/step_overhead_cpu.md -->
    ...the file's text, copied here...
    <!-- end results -->

and this writes the file's current text between them (``--check``: changes nothing, exits 1
naming each block that differs from its file). The test suite runs the check.
"""

from __future__ import annotations

import argparse
import re
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
READMES = ("README.md", "benchmarks/README.md")


def pages(root: Path = ROOT) -> list[str]:
  """The READMEs and every page of the documentation site, relative to ``root``."""
  site = sorted(p.relative_to(root).as_posix() for p in (root / "docs").rglob("*.md"))
  return [*READMES, *(name for name in site if "/_build/" not in name)]


BLOCK = re.compile(
  r"(<!-- results: (?P<source>\S+) -->\n)(?P<body>.*?)(<!-- end results -->)", re.S
)


def synced(text: str, root: Path = ROOT) -> tuple[str, list[str]]:
  """``text`` with every block replaced by its file's text, and the sources that differed."""
  stale = []

  def fill(match: re.Match) -> str:
    source = match["source"]
    body = (root / source).read_text()
    body = body if body.endswith("\n") else body + "\n"
    if body != match["body"]:
      stale.append(source)
    return match.group(1) + body + match.group(4)

  return BLOCK.sub(fill, text), stale


def main(argv=None) -> int:
  parser = argparse.ArgumentParser(
    prog="python -m benchmarks.docs_tables", description=__doc__.split("\n\n")[0]
  )
  parser.add_argument(
    "--check", action="store_true", help="change nothing; exit 1 if a block differs from its file"
  )
  args = parser.parse_args(argv)
  failed = False
  for name in pages():
    path = ROOT / name
    text, stale = synced(path.read_text())
    for source in stale:
      print(f"{name}: the block from {source} differs from the file", flush=True)
    if stale and args.check:
      failed = True
    elif stale:
      path.write_text(text)
      print(f"updated {name}")
  return 1 if failed else 0


if __name__ == "__main__":
  sys.exit(main())
