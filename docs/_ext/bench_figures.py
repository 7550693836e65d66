"""Benchmark figures quoted from ``bench/results/<bench>.json`` at build time.

A figure on the site is the figure a bench printed (``bench/bench_record.py``
writes the files), never one typed again. Three pieces:

- the role ``{bench}`NAME:PATH:FORMAT``` quotes one value, e.g.
  ``{bench}`sensors_real:pooled.bal_label:.3f```; PATH is dotted, a number
  indexes a list and ``rows[key=value,key2=value2]`` picks the list item whose keys
  have those values; FORMAT is a Python format spec (``.3f``, ``.1%``, ``,d``);
- the directive ``bench-table`` renders a list of records as a table: its
  argument is the bench, ``:rows:`` the path of the list (``:extra-rows:``
  more paths of single records, separated by ``;``), and each line of its
  body one column, ``PATH | header | FORMAT`` (``PATH?``: may be absent);
- the directive ``bench-source`` states where the figures of a bench come
  from: the command, date, commit, machine load and versions.

A missing file, key or index is a build warning (an error under ``-W``), so a
page cannot quote a figure no bench wrote.
"""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

from docutils import nodes
from docutils.parsers.rst import directives
from sphinx.util import logging
from sphinx.util.docutils import SphinxDirective, SphinxRole

logger = logging.getLogger(__name__)
RESULTS = Path(__file__).resolve().parents[2] / "bench" / "results"
_PICK = re.compile(r"^(?P<name>[^\[]*)\[(?P<cond>[^\]]+=[^\]]*)\]$")


class FigureMissing(LookupError):
    """A bench's file, or a value in it, that a page quotes is not there."""


def load(bench: str, env=None) -> dict:
    path = RESULTS / f"{bench}.json"
    if env is not None:
        env.note_dependency(str(path))
    if not path.is_file():
        raise FigureMissing(
            f"bench/results/{bench}.json is missing (run bench/{bench}.py to write it)"
        )
    return json.loads(path.read_text("utf-8"))


def _split(path: str) -> list[str]:
    """Dotted parts, keeping dots inside ``[...]`` selections."""
    parts, depth, cur = [], 0, ""
    for ch in path:
        depth += (ch == "[") - (ch == "]")
        if ch == "." and depth == 0:
            parts.append(cur)
            cur = ""
        else:
            cur += ch
    parts.append(cur)
    return [p for p in parts if p]


def lookup(data: Any, path: str) -> Any:
    value = data
    for part in _split(path):
        pick = _PICK.match(part)
        try:
            if pick:
                if pick["name"]:
                    value = value[pick["name"]]
                conditions = [c.split("=", 1) for c in pick["cond"].split(",")]
                value = next(
                    item
                    for item in value
                    if all(str(item.get(k.strip())) == v.strip() for k, v in conditions)
                )
            elif isinstance(value, list):
                value = value[int(part)]
            else:
                value = value[part]
        except (KeyError, IndexError, ValueError, TypeError, StopIteration):
            raise FigureMissing(f"no {part!r} in {path!r}") from None
    return value


def render(value: Any, spec: str = "") -> str:
    if value is None:
        return "–"
    if isinstance(value, bool):
        return "yes" if value else "no"
    if spec:
        try:
            return format(value, spec)
        except (ValueError, TypeError):
            raise FigureMissing(f"{value!r} cannot be formatted as {spec!r}") from None
    if isinstance(value, float):
        return f"{value:.4g}"
    return str(value)


def figure(bench: str, path: str, spec: str = "", env=None) -> str:
    data = load(bench, env)
    return render(lookup(data, f"figures.{path}" if path else "figures"), spec)


class BenchRole(SphinxRole):
    """``{bench}`NAME:PATH[:FORMAT]``: one figure of a bench, as it printed it."""

    def run(self):
        bench, _, rest = self.text.partition(":")
        path, _, spec = rest.partition(":")
        try:
            text = figure(bench.strip(), path.strip(), spec.strip(), self.env)
        except FigureMissing as err:
            logger.warning(f"bench figure {self.text!r}: {err}", location=self.get_location())
            text = "??"
        return [nodes.inline(text, text, classes=["bench-figure"])], []


def _columns(lines: list[str]) -> list[tuple[str, str, str]]:
    cols = []
    for line in lines:
        if not line.strip():
            continue
        parts = [p.strip() for p in line.split("|")]
        parts += [""] * (3 - len(parts))
        cols.append((parts[0], parts[1] or parts[0], parts[2]))
    return cols


def _table(header: list[str], rows: list[list[str]]) -> nodes.table:
    table = nodes.table(classes=["bench-table"])
    group = nodes.tgroup(cols=len(header))
    table += group
    group.extend(nodes.colspec(colwidth=1) for _ in header)
    head = nodes.thead()
    group += head
    body = nodes.tbody()
    group += body
    for target, cells in ((head, [header]), (body, rows)):
        for cells_row in cells:
            row = nodes.row()
            for cell in cells_row:
                entry = nodes.entry()
                entry += nodes.paragraph(text=cell)
                row += entry
            target += row
    return table


def _cell(record: Any, path: str, spec: str) -> str:
    """A column whose path ends in ``?`` may be absent from a record (shown as a dash)."""
    if path.endswith("?"):
        try:
            return render(lookup(record, path[:-1]), spec)
        except FigureMissing:
            return "–"
    return render(lookup(record, path), spec)


class BenchTable(SphinxDirective):
    """A table of a bench's records, one column per line of the body."""

    required_arguments = 1
    has_content = True
    option_spec = {"rows": directives.unchanged_required, "extra-rows": directives.unchanged}

    def run(self):
        bench = self.arguments[0]
        try:
            data = load(bench, self.env)
            records = list(lookup(data, "figures." + self.options["rows"]))
            for extra in (self.options.get("extra-rows") or "").split(";"):
                if extra.strip():
                    records.append(lookup(data, "figures." + extra.strip()))
            cols = _columns(list(self.content))
            rows = [[_cell(r, path, spec) for path, _, spec in cols] for r in records]
        except FigureMissing as err:
            logger.warning(f"bench table of {bench!r}: {err}", location=self.get_location())
            return []
        return [_table([h for _, h, _ in cols], rows)]


class BenchSource(SphinxDirective):
    """Where a bench's figures come from: command, date, commit, load, versions."""

    required_arguments = 1

    def run(self):
        bench = self.arguments[0]
        try:
            data = load(bench, self.env)
        except FigureMissing as err:
            logger.warning(f"bench source {bench!r}: {err}", location=self.get_location())
            return []
        m = data.get("machine", {})
        v = data.get("versions", {})
        load_text = f"load average {m.get('load_average_start')}-{m.get('load_average_end')}"
        kind = (
            f"timings measured at {load_text} on {m.get('cpus')} cores shared with other work: "
            "absolute times move with the load, ratios to a baseline of the same run much less"
            if data.get("timing")
            else f"figures that do not depend on the machine's speed ({m.get('cpus')} cores, "
            f"{load_text})"
        )
        libs = ", ".join(
            f"{k} {v[k]}"
            for k in ("numpy", "pandas", "scipy", "statsmodels", "neurokit2")
            if k in v
        )
        text = (
            f"Figures written by {data.get('command')} on {data.get('date')} "
            f"(labmrt {v.get('labmrt', '?')}, commit {str(data.get('git_commit', ''))[:12]}; "
            f"Python {v.get('python', '?')}, {libs}; {kind})."
        )
        para = nodes.paragraph(classes=["bench-source"])
        para += nodes.emphasis(text=text)
        return [para]


def setup(app):
    app.add_role("bench", BenchRole())
    app.add_directive("bench-table", BenchTable)
    app.add_directive("bench-source", BenchSource)
    return {"parallel_read_safe": True, "parallel_write_safe": True}
