"""The examples in the library's docstrings run and print what they show."""

import doctest
import importlib

import pytest

MODULES = [
  "pilot_optax._pilot",
  "pilot_optax._lookahead",
  "pilot_optax._policy",
  "pilot_optax._fusion",
  "pilot_optax._states",
]


@pytest.mark.parametrize("name", MODULES)
def test_docstring_examples(name):
  module = importlib.import_module(name)
  result = doctest.testmod(module, optionflags=doctest.ELLIPSIS | doctest.NORMALIZE_WHITESPACE)
  assert result.attempted > 0 and result.failed == 0
