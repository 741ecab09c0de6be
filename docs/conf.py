"""Sphinx configuration: the documentation site, built from MyST markdown.

pip install -e ".[docs]" && sphinx-build -W --keep-going -n docs docs/_build/html
"""

import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))  # the library from this checkout, installed or not

import pilot_optax  # noqa: E402

project = "pilot-optax"
author = "the pilot-optax authors"
copyright = "2026, the pilot-optax authors"
release = version = pilot_optax.__version__

extensions = [
  "myst_parser",
  "sphinx.ext.autodoc",
  "sphinx.ext.napoleon",
  "sphinx.ext.mathjax",
  "sphinx-mathjax-offline",  # MathJax served with the pages: the math renders offline too
]
source_suffix = {".md": "markdown"}
exclude_patterns = ["_build"]
myst_enable_extensions = ["dollarmath", "amsmath", "colon_fence"]
myst_heading_anchors = 3  # [text](page.md#a-heading) resolves here as on a code host

autodoc_member_order = "bysource"
autodoc_typehints = "description"
autodoc_typehints_format = "short"
napoleon_google_docstring = True
napoleon_numpy_docstring = False

# Nitpicky for our own names: a reference to a pilot_optax name that does not resolve is an
# error. Names of other projects (jax, optax, numpy; no intersphinx, the build is offline) and
# Python's typing internals are left as text.
nitpicky = True
nitpick_ignore_regex = [(r"py:.*", r"^(?!pilot_optax\b).*")]

html_theme = "furo"
html_title = f"pilot-optax {release}"
html_static_path = ["_static"]
html_css_files = ["tables.css"]  # the reports' wide tables (docs/_static/tables.css)
