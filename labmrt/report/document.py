"""A small document model rendered as Markdown and as one self-contained HTML file.

The pre-registration document and the study report are built as a list of
blocks (headings, paragraphs, tables, lists, figures) and rendered twice, so
the Markdown and the HTML cannot say different things. HTML embeds figures
as base64 ``data:`` URIs and its style sheet inline: the file opens anywhere,
offline, and can be uploaded alone. Rendering is deterministic (no dates,
no random ids); the one generation line is passed in by the caller.
"""

from __future__ import annotations

import base64
import html
import re
from dataclasses import dataclass, field

CSS = """
body{font-family:-apple-system,"Segoe UI",Roboto,"DejaVu Sans",sans-serif;color:#212121;
max-width:1060px;margin:2em auto;padding:0 1.2em;line-height:1.45}
h1{font-size:1.7em;border-bottom:2px solid #1565c0;padding-bottom:.2em}
h2{font-size:1.3em;margin-top:1.8em;border-bottom:1px solid #cfd8dc;padding-bottom:.15em}
h3{font-size:1.08em;margin-top:1.3em}
table{border-collapse:collapse;margin:.6em 0 1em;font-size:.9em}
th,td{border:1px solid #cfd8dc;padding:3px 8px;vertical-align:top}
th{background:#eceff1;text-align:left}
td.num{text-align:right;font-variant-numeric:tabular-nums;white-space:nowrap}
caption{caption-side:top;text-align:left;color:#455a64;font-size:.92em;padding:.2em 0}
figure{margin:1em 0}figcaption{color:#455a64;font-size:.9em}
img{max-width:100%;height:auto}
.yes{color:#1b5e20;font-weight:600}.no{color:#b71c1c;font-weight:600}
.warn{background:#fff3e0;border-left:4px solid #ef6c00;padding:.4em .8em}
.ok{background:#e8f5e9;border-left:4px solid #2e7d32;padding:.4em .8em}
.gen{color:#78909c;font-size:.85em}
code{background:#eceff1;padding:0 .25em;border-radius:3px}
"""

_NUMERIC = re.compile(r"^[-+−]?(\d[\d,]*\.?\d*(e[-+]?\d+)?|\.\d+|∞|inf)%?$|^\[.*\]$|^\(.*\)$")


@dataclass
class Heading:
    text: str
    level: int = 2


@dataclass
class Para:
    """A paragraph; ``style`` ``warn``/``ok`` marks a call-out box in HTML."""

    text: str
    style: str = ""


@dataclass
class Bullets:
    items: list[str]


@dataclass
class Table:
    columns: list[str]
    rows: list[list[object]]
    caption: str = ""


@dataclass
class Figure:
    """A PNG figure (bytes), embedded in HTML; Markdown links ``name`` beside it."""

    png: bytes
    alt: str
    caption: str = ""
    name: str = "figure.png"


@dataclass
class Document:
    title: str
    blocks: list = field(default_factory=list)

    def add(self, *blocks) -> Document:
        self.blocks.extend(blocks)
        return self

    # ------------------------------------------------------------------ Markdown
    def to_markdown(self, generated: str = "") -> str:
        out = [f"# {self.title}", ""]
        if generated:
            out += [f"_{generated}_", ""]
        for b in self.blocks:
            if isinstance(b, Heading):
                out += ["#" * b.level + " " + b.text, ""]
            elif isinstance(b, Para):
                prefix = "> " if b.style else ""
                out += [prefix + b.text, ""]
            elif isinstance(b, Bullets):
                out += [f"- {item}" for item in b.items] + [""]
            elif isinstance(b, Table):
                if b.caption:
                    out += [f"*{b.caption}*", ""]
                out.append("| " + " | ".join(_md_cell(c) for c in b.columns) + " |")
                out.append("|" + "|".join(" --- " for _ in b.columns) + "|")
                out += ["| " + " | ".join(_md_cell(c) for c in row) + " |" for row in b.rows]
                out.append("")
            elif isinstance(b, Figure):
                out += [f"![{b.alt}]({b.name})", ""]
                if b.caption:
                    out += [f"*{b.caption}*", ""]
        return "\n".join(out).rstrip() + "\n"

    # ------------------------------------------------------------------ HTML
    def to_html(self, generated: str = "") -> str:
        esc = html.escape
        parts = [
            "<!DOCTYPE html>",
            '<html lang="en"><head><meta charset="utf-8">',
            '<meta name="viewport" content="width=device-width, initial-scale=1">',
            f"<title>{esc(self.title)}</title>",
            f"<style>{CSS.strip()}</style>",
            "</head><body>",
            f"<h1>{esc(self.title)}</h1>",
        ]
        if generated:
            parts.append(f'<p class="gen">{esc(generated)}</p>')
        for b in self.blocks:
            if isinstance(b, Heading):
                parts.append(f'<h{b.level} id="{_anchor(b.text)}">{esc(b.text)}</h{b.level}>')
            elif isinstance(b, Para):
                cls = f' class="{b.style}"' if b.style else ""
                parts.append(f"<p{cls}>{_inline(b.text)}</p>")
            elif isinstance(b, Bullets):
                items = "".join(f"<li>{_inline(i)}</li>" for i in b.items)
                parts.append(f"<ul>{items}</ul>")
            elif isinstance(b, Table):
                parts.append(_html_table(b))
            elif isinstance(b, Figure):
                data = base64.b64encode(b.png).decode("ascii")
                cap = f"<figcaption>{_inline(b.caption)}</figcaption>" if b.caption else ""
                parts.append(
                    f'<figure><img src="data:image/png;base64,{data}" alt="{esc(b.alt)}">'
                    f"{cap}</figure>"
                )
        parts.append("</body></html>")
        return "\n".join(parts) + "\n"


def _md_cell(value: object) -> str:
    return str(value).replace("|", "\\|").replace("\n", " ")


def _anchor(text: str) -> str:
    return re.sub(r"[^a-z0-9]+", "-", text.lower()).strip("-")


def _inline(text: str) -> str:
    """Escaped text with `code` spans (the only inline markup the documents use)."""
    pieces = str(text).split("`")
    return "".join(
        f"<code>{html.escape(p)}</code>" if i % 2 else html.escape(p) for i, p in enumerate(pieces)
    )


def _html_table(t: Table) -> str:
    head = "".join(f"<th>{html.escape(str(c))}</th>" for c in t.columns)
    thead = f"<thead><tr>{head}</tr></thead>" if any(str(c) for c in t.columns) else ""
    body = []
    for row in t.rows:
        cells = []
        for value in row:
            text = str(value)
            cls = ""
            if text in ("yes", "yes (exploratory)"):
                cls = ' class="yes"'
            elif text in ("no", "no (exploratory)", "DIFFERS"):
                cls = ' class="no"'
            elif _NUMERIC.match(text.strip()):
                cls = ' class="num"'
            cells.append(f"<td{cls}>{_inline(text)}</td>")
        body.append("<tr>" + "".join(cells) + "</tr>")
    cap = f"<caption>{html.escape(t.caption)}</caption>" if t.caption else ""
    return f"<table>{cap}{thead}<tbody>{''.join(body)}</tbody></table>"


def fmt(value: object, digits: int = 4) -> str:
    """Numbers for tables: fixed significant digits, infinities as symbols, missing as a dash."""
    if value is None:
        return "–"
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, int):
        return str(value)
    try:
        v = float(value)  # type: ignore[arg-type]
    except (TypeError, ValueError):
        return str(value)
    if v != v:
        return "–"
    if v == float("inf"):
        return "∞"
    if v == float("-inf"):
        return "−∞"
    return f"{v:.{digits}g}" if abs(v) < 1e-3 and v != 0 else f"{v:.{digits}f}"


def fmt_p(p: object) -> str:
    if p is None:
        return "–"
    v = float(p)  # type: ignore[arg-type]
    if v != v:
        return "–"
    return "< 0.0001" if v < 1e-4 else f"{v:.4f}"
