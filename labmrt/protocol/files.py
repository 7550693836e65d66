"""Reading the bytes behind a protocol: the TOML file and the tasks CSV.

File-level trouble (missing, empty, binary, truncated, not TOML, a CSV with
unknown columns or ragged rows) is reported here, with the file and line,
before any model sees the content.
"""

from __future__ import annotations

import csv
import hashlib
import io
import tomllib
from pathlib import Path
from typing import Any

from labmrt.errors import LabmrtError, Problem
from labmrt.protocol.errors import TaskRows, did_you_mean


def _duplicates(items: list[str]) -> list[str]:
    seen: set[str] = set()
    out = []
    for item in items:
        if item in seen:
            out.append(item)
        seen.add(item)
    return out


#: The columns a tasks CSV may have (``framing_<arm id>`` columns besides).
TASK_CSV_COLUMNS = (
    "id",
    "text",
    "question",
    "answer_kind",
    "choices",
    "correct",
    "difficulty",
    "features",
    "time_limit_s",
    "hint",
    "help",
    "table",
)
FRAMING_COLUMN_PREFIX = "framing_"


def _split_list(cell: str) -> list[str]:
    """List cells in the tasks CSV are separated by ``;`` (commas are common in text)."""
    return [part.strip() for part in cell.split(";") if part.strip()]


def _csv_number(cell: str) -> Any:
    try:
        return float(cell)
    except ValueError:
        return cell  # reported by the model as "must be a number"


def read_tasks_csv(path: Path, shown: str) -> tuple[list[dict[str, Any]], TaskRows]:
    """Read the tasks CSV into task dicts; raise a located error for file-level problems.

    Columns: those of :data:`TASK_CSV_COLUMNS` plus ``framing_<arm id>`` for
    per-task wording; empty cells mean "not given". ``features`` and
    ``choices`` are ``;``-separated; ``table`` is JSON.
    """
    try:
        data = path.read_bytes()
    except FileNotFoundError:
        raise LabmrtError(
            Problem(shown, "tasks file not found", "check tasks_file, relative to the protocol")
        ) from None
    except IsADirectoryError:
        raise LabmrtError(
            Problem(shown, "is a folder, not a CSV file", "name the CSV file")
        ) from None
    except OSError as err:
        raise LabmrtError(Problem(shown, f"cannot be read ({err.strerror})", "")) from None
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError:
        raise LabmrtError(
            Problem(shown, "is not a UTF-8 text file", "save the tasks as CSV (UTF-8)")
        ) from None
    if "\x00" in text:
        raise LabmrtError(Problem(shown, "is not a text file", "save the tasks as CSV (UTF-8)"))
    if not text.strip():
        raise LabmrtError(
            Problem(shown, "is empty", "write a header row (id,text,...) and one row per task")
        )
    reader = csv.reader(io.StringIO(text, newline=""))
    try:
        header = [h.strip() for h in next(reader)]
        records = []
        for row in reader:
            records.append((reader.line_num, row))
    except csv.Error as err:
        raise LabmrtError(
            Problem(f"{shown}: line {reader.line_num}", f"is not valid CSV ({err})", "")
        ) from None
    problems = []
    for col in ("id", "text"):
        if col not in header:
            problems.append(
                Problem(f"{shown}: line 1", f"has no '{col}' column", f"add a {col} column")
            )
    for dup in _duplicates(header):
        problems.append(Problem(f"{shown}: line 1", f"column '{dup}' appears twice", ""))
    for name in header:
        if name not in TASK_CSV_COLUMNS and not name.startswith(FRAMING_COLUMN_PREFIX):
            problems.append(
                Problem(
                    f"{shown}: line 1",
                    f"unknown column '{name}'",
                    did_you_mean(name, TASK_CSV_COLUMNS + ("framing_<arm id>",)),
                )
            )
    if problems:
        raise LabmrtError(problems)
    tasks: list[dict[str, Any]] = []
    lines: list[int] = []
    ids: list[str] = []
    for line, row in records:
        if not any(cell.strip() for cell in row):
            continue
        if len(row) != len(header):
            problems.append(
                Problem(
                    f"{shown}: line {line}",
                    f"has {len(row)} cells but the header has {len(header)} columns",
                    "quote cells that contain commas",
                )
            )
            continue
        task: dict[str, Any] = {}
        framings: dict[str, str] = {}
        for name, cell in zip(header, row, strict=True):
            cell = cell.strip()
            if not cell:
                continue
            if name.startswith(FRAMING_COLUMN_PREFIX):
                framings[name[len(FRAMING_COLUMN_PREFIX) :]] = cell
            elif name in ("features", "choices"):
                task[name] = _split_list(cell)
            elif name in ("difficulty", "time_limit_s"):
                task[name] = _csv_number(cell)
            else:
                task[name] = cell
        if framings:
            task["framings"] = framings
        tasks.append(task)
        lines.append(line)
        ids.append(str(task.get("id", "")))
    if problems:
        raise LabmrtError(problems)
    if not tasks:
        raise LabmrtError(Problem(shown, "has a header but no tasks", "add one row per task"))
    return tasks, TaskRows(Path(shown), lines, ids)


def read_toml(path: Path, shown: str) -> dict[str, Any]:
    try:
        data = path.read_bytes()
    except FileNotFoundError:
        raise LabmrtError(Problem(shown, "file not found", "check the path")) from None
    except IsADirectoryError:
        raise LabmrtError(
            Problem(shown, "is a folder, not a protocol file", "name a .toml file")
        ) from None
    except OSError as err:
        raise LabmrtError(Problem(shown, f"cannot be read ({err.strerror})", "")) from None
    if not data.strip():
        raise LabmrtError(
            Problem(
                shown, "is empty", "start from protocols/minimal.toml (docs/guides/protocols.md)"
            )
        )
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError:
        raise LabmrtError(
            Problem(shown, "is not a text file (not UTF-8)", "a protocol is a TOML text file")
        ) from None
    if "\x00" in text:
        raise LabmrtError(
            Problem(
                shown, "is not a text file (contains NUL bytes)", "a protocol is a TOML text file"
            )
        )
    try:
        return tomllib.loads(text)
    except tomllib.TOMLDecodeError as err:
        msg = str(err)
        where = shown
        if msg.endswith("(at end of document)"):
            msg = msg.removesuffix(" (at end of document)")
            raise LabmrtError(
                Problem(
                    f"{shown}: end of file",
                    f"is not valid TOML: {msg}",
                    "the file looks truncated: complete or restore it",
                )
            ) from None
        if "(at line" in msg:
            msg, _, pos = msg.partition(" (at ")
            where = f"{shown}: {pos.rstrip(')')}"
        raise LabmrtError(
            Problem(
                where,
                f"is not valid TOML: {msg}",
                "fix the syntax there (docs/guides/protocols.md)",
            )
        ) from None


def sha256_file(path: Path) -> str:
    h = hashlib.sha256()
    with path.open("rb") as fh:
        for chunk in iter(lambda: fh.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()
