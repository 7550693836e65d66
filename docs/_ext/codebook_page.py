"""The export codebook, generated at build time by exporting a small simulated study.

``.. export-codebook:: protocols/framing_affect.toml`` simulates two
participants of the protocol through the real engine and store (``labmrt
simulate``, on a virtual clock: under a second), exports them (``labmrt
export``) and renders the ``codebook.json`` that export wrote
(:mod:`labmrt.export.codebook`): every column of every table with its type,
unit and meaning. The columns that depend on the protocol (arms, features,
outcomes, controls) are those of the protocol named. The page thus shows
exactly what an export's own ``codebook.md`` says, never a copy kept by hand.
"""

from __future__ import annotations

import contextlib
import io
import json
import tempfile
from pathlib import Path

from docutils import nodes
from sphinx.errors import ExtensionError
from sphinx.util.docutils import SphinxDirective

ROOT = Path(__file__).resolve().parents[2]
_CACHE: dict[str, dict] = {}


def study_codebook(protocol: Path) -> dict:
    """The codebook of an export of two simulated participants of ``protocol``."""
    key = str(protocol)
    if key not in _CACHE:
        from labmrt.cli import main

        with tempfile.TemporaryDirectory() as tmp:
            study = Path(tmp) / "study"
            out = io.StringIO()
            with contextlib.redirect_stdout(out), contextlib.redirect_stderr(out):
                code = main(["simulate", str(protocol), "--participants", "2", "--seed", "1",
                             "--out", str(study)])  # fmt: skip
                if code == 0:
                    code = main(["export", str(study), "--no-signals"])
            if code != 0:
                raise ExtensionError(
                    f"export-codebook: the simulated export failed:\n{out.getvalue()}"
                )
            _CACHE[key] = json.loads((study / "export" / "codebook.json").read_text("utf-8"))
    return _CACHE[key]


def _table(header: list[str], rows: list[list[nodes.Node]]) -> nodes.table:
    table = nodes.table()
    group = nodes.tgroup(cols=len(header))
    table += group
    for width in (20, 12, 12, 56)[: len(header)]:
        group += nodes.colspec(colwidth=width)
    head = nodes.thead()
    group += head
    row = nodes.row()
    for h in header:
        row += nodes.entry("", nodes.paragraph(text=h))
    head += row
    body = nodes.tbody()
    group += body
    for cells in rows:
        row = nodes.row()
        for cell in cells:
            row += nodes.entry("", nodes.paragraph("", "", cell))
        body += row
    return table


class ExportCodebook(SphinxDirective):
    required_arguments = 1

    def run(self):
        protocol = (ROOT / self.arguments[0]).resolve()
        self.env.note_dependency(str(protocol))
        codebook = study_codebook(protocol)
        out: list[nodes.Node] = []
        for table in codebook["tables"]:
            section_id = f"codebook-{table['table'].replace('_', '-')}"
            section = nodes.section(ids=[section_id])
            section += nodes.title(text=f"{table['table']}")
            section += nodes.paragraph(text=table["meaning"])
            rows = [
                [
                    nodes.literal(text=c["name"]),
                    nodes.Text(c["type"]),
                    nodes.Text(c["unit"]),
                    nodes.Text(c["meaning"]),
                ]
                for c in table["columns"]
            ]
            section += _table(["column", "type", "unit", "meaning"], rows)
            out.append(section)
        return out


def setup(app):
    app.add_directive("export-codebook", ExportCodebook)
    return {"parallel_read_safe": True, "parallel_write_safe": True}
