"""Sphinx configuration for the sktransfer documentation.

Build with (from the repository root)::

    .venv/bin/python -m sphinx -W --keep-going -b html docs docs/_build/html
"""

import os
import sys
from datetime import date

# Make the package importable when the docs are built from a source checkout
# that is not installed.
sys.path.insert(0, os.path.abspath(".."))

import matplotlib  # noqa: E402

matplotlib.use("Agg")

# -- Project information ------------------------------------------------------

project = "sktransfer"
author = "The sktransfer developers"
copyright = f"{date.today().year}, {author}"

try:
    import sktransfer

    release = getattr(sktransfer, "__version__", "0.1.0.dev0")
except Exception:  # pragma: no cover - the docs still build without the package
    release = "0.1.0.dev0"
version = release

# -- General configuration ----------------------------------------------------

extensions = [
    "sphinx.ext.autodoc",
    "sphinx.ext.autosummary",
    "sphinx.ext.mathjax",
    "numpydoc",
    "sphinx_gallery.gen_gallery",
]

templates_path = ["_templates"]
exclude_patterns = ["_build", "Thumbs.db", ".DS_Store", "**.ipynb_checkpoints"]
root_doc = "index"
default_role = "literal"

# autosummary / autodoc
autosummary_generate = True
autodoc_default_options = {"members": True}
autodoc_typehints = "none"

# numpydoc
numpydoc_show_class_members = False
numpydoc_class_members_toctree = False

# -- sphinx-gallery -----------------------------------------------------------

sphinx_gallery_conf = {
    "examples_dirs": "../examples",
    "gallery_dirs": "auto_examples",
    "filename_pattern": r"/plot_",
    # Ignore no file: every script matching ``filename_pattern`` is run.
    "ignore_pattern": r"^$",
    # Given by name (a string) so that the configuration stays picklable.
    "within_subsection_order": "FileNameSortKey",
    "matplotlib_animations": False,
    "image_scrapers": ("matplotlib",),
    "reference_url": {"sktransfer": None},
    # "Examples using ..." sections on the API pages (see _templates/autosummary).
    "doc_module": ("sktransfer",),
    "backreferences_dir": "generated",
    "download_all_examples": False,
    "remove_config_comments": True,
}

# -- HTML output --------------------------------------------------------------

try:
    import pydata_sphinx_theme  # noqa: F401

    html_theme = "pydata_sphinx_theme"
    html_theme_options = {
        "navigation_with_keys": False,
        "show_toc_level": 2,
    }
except ImportError:  # pragma: no cover
    html_theme = "alabaster"
    html_theme_options = {}

html_title = f"sktransfer {release}"
html_static_path = []
