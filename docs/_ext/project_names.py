"""Every file path and Python name of the project a page names must exist.

Guides name modules, test files and functions as inline code
(```labmrt/session/outcomes.py```, ```sensors.acquire.SampleRecorder```) and
in their code examples (``from sensors.signals import FeaturePipeline``,
``python -m ui.analysis.report_browser``). Nothing would notice when such a
thing moves, so this extension checks each one at build time, a warning
(an error under ``-W``) naming the page and what is gone:

- inline code that is a path under one of the project's folders
  (``labmrt/``, ``sensors/``, ``ui/``, ``tests/``, ``bench/``, ``docs/``,
  ``protocols/``) must exist; a path with a placeholder in capitals
  (``bench/NAME.py``) or a wildcard is left alone;
- a dotted name starting with ``labmrt.``, ``sensors.`` or ``ui.`` must
  import (a module, or a name in one), unless it is a key of the protocol
  file (``sensors.window_s``, ``sensors.pins.eda``) or listed in the
  configuration value ``project_names_not_code``;
- in code blocks, ``from X import a, b`` and ``python -m X`` of the project's
  packages must import.
"""

from __future__ import annotations

import importlib
import importlib.util
import re
import typing
from pathlib import Path

from api_pages import OWN, _canonical
from docutils import nodes
from file_formats import _models_in
from sphinx.util import logging

logger = logging.getLogger(__name__)
ROOT = Path(__file__).resolve().parents[2]
FOLDERS = ("labmrt", "sensors", "ui", "tests", "bench", "docs", "protocols")
_PATH = re.compile(rf"^(?:{'|'.join(FOLDERS)})/[\w./-]*$")
_NAME = re.compile(rf"^(?:{'|'.join(OWN)})(?:\.\w+)+$")
_TOKEN = re.compile(r"[\w./*-]+")
_FROM = re.compile(rf"^\s*from\s+((?:{'|'.join(OWN)})[\w.]*)\s+import\s+\(?([\w\s,]+)\)?")
_RUN = re.compile(rf"python3?\s+-m\s+((?:{'|'.join(OWN)})[\w.]*)")


def _placeholder(path: str) -> bool:
    """``bench/NAME.py``, ``tests/*.py``: a pattern, not a file."""
    return "*" in path or any(p.isalpha() and p.isupper() for p in re.split(r"[./_-]", path))


def _protocol_key(dotted: str) -> bool:
    """``sensors.pins.eda`` is a key path of the protocol file (its pydantic model)."""
    from labmrt.protocol.model import Protocol

    model, free = Protocol, False
    for part in dotted.split("."):
        if free:  # a key of a table of tables ([sensors.pins.<kind>])
            free = False
            continue
        if model is None or part not in model.model_fields:
            return False
        ann = model.model_fields[part].annotation
        found = _models_in(ann)
        model = found[0][1] if found else None
        free = bool(found) and found[0][0] == "dict"
        if not found and typing.get_origin(ann) is dict:
            free = True
    return True


def _name_exists(dotted: str) -> bool:
    if _canonical(dotted, None) is not None:
        return True
    try:
        return importlib.util.find_spec(dotted) is not None
    except (ImportError, ValueError):
        return False


def _problems_in_code(text: str) -> list[str]:
    found = []
    for line in text.splitlines():
        m = _FROM.match(line)
        if m:
            module = m.group(1)
            for name in (n.strip() for n in m.group(2).split(",")):
                if name and not _name_exists(f"{module}.{name}"):
                    found.append(f"from {module} import {name}")
        for m in _RUN.finditer(line):
            if not _name_exists(m.group(1)):
                found.append(f"python -m {m.group(1)}")
    return found


def _problems_in_literal(text: str, ignored: set[str]) -> list[str]:
    found = []
    for token in _TOKEN.findall(text):
        token = token.rstrip(".,;:")
        if token in ignored:
            continue
        if _PATH.match(token):
            if not _placeholder(token) and not (ROOT / token.rstrip("/")).exists():
                found.append(token)
        elif _NAME.match(token) and not _name_exists(token) and not _protocol_key(token):
            found.append(token)
    return found


def check_names(app, doctree):
    ignored = set(app.config.project_names_not_code)
    for node in doctree.findall(nodes.literal_block):
        for what in _problems_in_code(node.astext()):
            logger.warning(
                f"code example: {what!r} does not import (renamed or moved?)",
                location=node,
                type="labmrt",
                subtype="names",
            )
    for node in doctree.findall(nodes.literal):
        # references made by roles are checked by Sphinx itself
        if isinstance(node.parent, nodes.reference) or "xref" in node.get("classes", []):
            continue
        for what in _problems_in_literal(node.astext(), ignored):
            logger.warning(
                f"{what!r} names no file or Python object of the project (renamed or moved?)",
                location=node,
                type="labmrt",
                subtype="names",
            )


def setup(app):
    app.add_config_value("project_names_not_code", [], "env")
    app.connect("doctree-read", check_names)
    return {"parallel_read_safe": True, "parallel_write_safe": True}
