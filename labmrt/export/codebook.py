"""The codebook of an export: every column of every table with type, unit and meaning.

The exported tables are derived from the session record alone, so the codebook
is written from the same place that builds them (:mod:`labmrt.export`): each
column is described when it is created, and :func:`finish_codebook` refuses to
write a codebook that misses a column, so the two can never drift apart.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass
from pathlib import Path

import pandas as pd

# Units of the physiological features the sensors compute (HRV and EDA conventions).
FEATURE_UNITS: dict[str, str] = {
    "hr": "beats/min",
    "heart_rate": "beats/min",
    "rmssd": "ms",
    "sdnn": "ms",
    "hf": "ms^2",
    "hf_power": "ms^2",
    "lf": "ms^2",
    "lf_hf": "ratio",
    "scl": "µS",
    "tonic": "µS",
    "eda_tonic": "µS",
    "scr_rate": "responses/min",
    "scr_count": "count",
    "scr_amplitude": "µS",
}


@dataclass(frozen=True)
class Column:
    """How one column of an exported table is read."""

    name: str
    type: str
    unit: str
    meaning: str
    source: str = ""


def column_type(series: pd.Series, unit: str = "") -> str:
    """A plain-language type of a column, as a reader of the CSV should treat it.

    An integer column of 0s and 1s is a flag, unless it counts (unit ``count``).
    """
    dtype = series.dtype
    if pd.api.types.is_bool_dtype(dtype):
        return "boolean"
    if pd.api.types.is_integer_dtype(dtype):
        values = series.dropna()
        counts = series.name in _COUNTS or unit == "count"
        if len(values) and values.isin([0, 1]).all() and not counts:
            return "integer (0/1)"
        return "integer"
    if pd.api.types.is_float_dtype(dtype):
        return "number"
    return "string"


_COUNTS = {"session", "session_no", "decision_point", "task_index"}


class TableDoc:
    """The columns of one exported table, in order, each described once."""

    def __init__(self, table: str, meaning: str):
        self.table = table
        self.meaning = meaning
        self.columns: dict[str, tuple[str, str, str]] = {}

    def add(self, name: str, unit: str, meaning: str, source: str = "") -> str:
        self.columns.setdefault(name, (unit, meaning, source))
        return name


def finish_codebook(
    docs: list[TableDoc],
    frames: dict[str, pd.DataFrame],
    study: dict,
    rows: dict[str, int] | None = None,
) -> dict:
    """Combine descriptions and the actual frames; every column must be described.

    ``frames`` may hold only the first rows of a large table; ``rows`` then gives its length.
    """
    tables = []
    for doc in docs:
        frame = frames[doc.table]
        missing = [c for c in frame.columns if c not in doc.columns]
        if missing:
            raise AssertionError(f"codebook of {doc.table} misses columns {missing}")
        cols = [
            asdict(Column(name, column_type(frame[name], doc.columns[name][0]), *doc.columns[name]))
            for name in frame.columns
        ]
        tables.append(
            {
                "table": doc.table,
                "meaning": doc.meaning,
                "rows": (rows or {}).get(doc.table, len(frame)),
                "columns": cols,
            }
        )
    return {**study, "tables": tables}


def write_codebook(codebook: dict, out_dir: Path) -> tuple[Path, Path]:
    """Write ``codebook.json`` and ``codebook.md`` into ``out_dir``."""
    json_path = out_dir / "codebook.json"
    json_path.write_text(json.dumps(codebook, indent=2, ensure_ascii=False) + "\n", "utf-8")
    md_path = out_dir / "codebook.md"
    md_path.write_text(codebook_markdown(codebook), "utf-8")
    return json_path, md_path


def _cell(value: object) -> str:
    return str(value).replace("|", "\\|").replace("\n", " ")


def codebook_markdown(codebook: dict) -> str:
    lines = ["# Codebook", ""]
    lines.append(
        f"Exported by labmrt {codebook.get('labmrt_version', '')} on "
        f"{codebook.get('exported_at', '')}. Time stamps are seconds on the LSL clock "
        "(`local_clock`) of the recording workstation."
    )
    lines.append("")
    lines.append("| study field | value |")
    lines.append("| --- | --- |")
    for key in (
        "protocol_hashes",
        "arms",
        "baseline_arm",
        "outcomes",
        "distal_outcomes",
        "participants",
        "sessions",
        "schema_version",
    ):
        value = codebook.get(key)
        if isinstance(value, list):
            value = ", ".join(
                v["name"] if isinstance(v, dict) and "name" in v else str(v) for v in value
            )
        lines.append(f"| {key} | {_cell(value if value is not None else '')} |")
    for group in codebook.get("software", []):
        ids = ", ".join(str(i) for i in group.get("sessions", []))
        lines.append(f"| software of sessions {ids} | {_cell(group.get('summary', ''))} |")
    differences = codebook.get("software_differences") or []
    if differences:
        lines += ["", "**Warning:** the sessions were run with different software versions:", ""]
        lines += [f"- {_cell(line)}" for line in differences]
    for proto in codebook.get("protocols", []):
        lines += [
            "",
            f"Protocol `{proto.get('hash', '')}`: {_cell(proto.get('name', ''))}, "
            f"arms {', '.join(proto.get('arms', []))} (baseline "
            f"`{proto.get('baseline_arm')}`).",
        ]
    for table in codebook["tables"]:
        lines += ["", f"## {table['table']}", "", table["meaning"], ""]
        lines.append("| column | type | unit | meaning |")
        lines.append("| --- | --- | --- | --- |")
        for col in table["columns"]:
            lines.append(
                f"| `{col['name']}` | {col['type']} | {_cell(col['unit'])} | "
                f"{_cell(col['meaning'])} |"
            )
    return "\n".join(lines) + "\n"
