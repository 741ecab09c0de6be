"""Do two folders of results hold the same numbers? (the same runs made by two versions of the code)

    python -m benchmarks.compare_results BEFORE AFTER [--out benchmarks/results/NAME.json]

Each result JSON of BEFORE is matched by file name in AFTER; their numbers (the history without
wall-clock seconds, the final values, the policy) are compared exactly. Prints a table, one row a
run, and writes it with both folders' code commits as JSON. Exits 1 when a number differs.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from benchmarks import records


def numbers(record: dict) -> dict:
  """What a run computed: everything but the wall-clock seconds and the provenance."""
  history = [{k: v for k, v in h.items() if k != "seconds"} for h in record["history"]]
  return dict(history=history, final=record["final"], policy=record.get("policy"))


def compare(before: Path, after: Path) -> list[dict]:
  """One row per result file of ``before``: whether ``after`` has it with the same numbers."""
  rows = []
  for path in sorted(before.glob("*.json")):
    other = after / path.name
    a = json.loads(path.read_text())
    b = json.loads(other.read_text()) if other.exists() else None
    differing = (
      ["missing"] if b is None else [k for k, v in numbers(a).items() if numbers(b)[k] != v]
    )
    rows.append(
      dict(
        run=path.stem,
        same=not differing,
        differs_in=differing,
        before_source=a["hyperparameters"].get("source"),
        after_source=None if b is None else b["hyperparameters"].get("source"),
        final_before=a["final"],
      )
    )
  return rows


def main(argv=None) -> None:
  parser = argparse.ArgumentParser(prog="python -m benchmarks.compare_results", description=__doc__)
  parser.add_argument("before", type=Path)
  parser.add_argument("after", type=Path)
  parser.add_argument("--out", type=Path, default=None, help="JSON of the comparison")
  args = parser.parse_args(argv)
  rows = compare(args.before, args.after)
  if not rows:
    sys.exit(f"error: no result JSONs in {args.before}.")
  print("| run | same numbers | differs in | before | after |\n|---|---|---|---|---|")
  for r in rows:
    print(f"| {r['run']} | {'yes' if r['same'] else 'NO'} | {', '.join(r['differs_in']) or '-'} "
          f"| {r['before_source']} | {r['after_source']} |")  # fmt: skip
  if args.out:
    command = records.command_line("benchmarks.compare_results", argv)
    records.write_json(args.out, records.header(command) | {"runs": rows})
  if not all(r["same"] for r in rows):
    sys.exit(1)


if __name__ == "__main__":
  main()
