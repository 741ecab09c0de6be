"""The byte transformer's shape, in a module of its own that loads no JAX.

The command line of `benchmarks.train` reads its fields to offer ``--context``, ``--width``...
before the heavy modules load, so that ``--help`` and argument errors answer at once.
"""

from __future__ import annotations

import dataclasses


@dataclasses.dataclass(frozen=True)
class TransformerSize:
  """The byte transformer's shape (`benchmarks.models.ByteTransformer`)."""

  context: int = 128
  width: int = 128
  depth: int = 4
  heads: int = 4
