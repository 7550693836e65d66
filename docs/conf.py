"""Sphinx configuration of labmrt's documentation site.

Build: ``.venv/bin/python -m sphinx -E -W --keep-going -q -b html docs build/docs``
(``bash test.sh`` runs it), then open ``build/docs/index.html``. Reference pages
are generated from the code at build time: the CLI from ``labmrt.cli.build_parser``
(sphinx-argparse), the file formats from their pydantic models
(``_ext/file_formats.py``), the export codebook from a small simulated study
(``_ext/codebook_page.py``), the Python API by autodoc (``_ext/api_pages.py``:
public faces, every module documented), and the validation figures from the
benches' JSON under ``bench/results/`` (``_ext/bench_figures.py``). Every path
and project name a page quotes must exist (``_ext/project_names.py``).
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

DOCS = Path(__file__).resolve().parent
ROOT = DOCS.parent
sys.path.insert(0, str(DOCS / "_ext"))
sys.path.insert(0, str(ROOT))
os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")

from labmrt import __version__  # noqa: E402

project = "labmrt"
author = "the labmrt contributors"
copyright = "the labmrt contributors"  # noqa: A001 - Sphinx's name
version = release = __version__

extensions = [
    "myst_parser",
    "sphinx.ext.autodoc",
    "sphinxarg.ext",
    "api_pages",
    "bench_figures",
    "codebook_page",
    "file_formats",
    "project_names",
]

source_suffix = {".md": "markdown", ".rst": "restructuredtext"}
root_doc = "index"
exclude_patterns = ["_build", "screenshots/*.py", "README.md"]
templates_path: list[str] = []

# Markdown: fenced directives, `{role}` syntax, definition lists, anchors on headings
# so that guides link to sections (page.md#heading).
myst_enable_extensions = ["colon_fence", "deflist", "fieldlist"]
myst_heading_anchors = 3

# Every cross-reference must resolve (the docstrings use Sphinx roles); names of other
# libraries are not documented here (no network for intersphinx), so they are let through.
nitpicky = True
nitpick_ignore_regex = [
    (
        r"py:.*",
        r"(np|numpy|pd|pandas|scipy|statsmodels|pydantic|pylsl|pyxdf|neurokit2|nk|dask|distributed|matplotlib|threading|concurrent|collections|typing|typing_extensions|pathlib|sqlite3|datetime|enum|argparse|io|os|json|tomllib|multiprocessing|subprocess|fractions|dataclasses|importlib|hmac|queue|socket|types|abc|ast|logging|PySide6|shiboken6|pyqtgraph|lazy_loader)(\..*)?",
    ),
    # builtins and typing names that autodoc writes into signatures
    (
        r"py:.*",
        r"(Path|Any|Callable|Iterable|Iterator|Mapping|Sequence|Literal|Self|ndarray|DataFrame|Series|BaseModel|FieldInfo|Generator|TextIO|Event|Thread|Lock|Future|Fraction|ValidationError|NoneType|ellipsis)",
    ),
    # private helpers (a leading underscore) are not documented, e.g. a models' base class
    (r"py:.*", r"(.*\.)?_[A-Za-z]\w*(\..*)?"),
]

# Inline code that looks like a name of the project but is not one (project_names.py).
project_names_not_code = [
    "labmrt.X",  # a placeholder: labmrt.protocol, labmrt.session, ...
    "labmrt.sensors",  # the layout that was not chosen (development.md)
    "labmrt.ui",
    "labmrt.sqlite",  # the study database's file name
    "labmrt.station",  # the LSL type of a station's status stream
]

autodoc_default_options = {
    "members": True,
    "undoc-members": True,
    "show-inheritance": True,
    "member-order": "bysource",
    # every public name of a module, not only its __all__ (the package faces list those)
    "ignore-module-all": True,
}
autodoc_typehints = "none"
autodoc_typehints_format = "short"
autodoc_preserve_defaults = True
autodoc_class_signature = "separated"

html_theme = "furo"
html_title = f"labmrt {release}"
html_static_path: list[str] = []
html_show_sourcelink = False
html_last_updated_fmt = None
