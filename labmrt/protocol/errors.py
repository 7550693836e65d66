"""Turn everything that can go wrong while reading a protocol into readable problems.

A protocol is read in three stages (bytes -> TOML -> pydantic model -> study
rules), and each stage fails in its own vocabulary. This module translates all
of them into :class:`~labmrt.errors.Problem` records of the one form users see,
``FILE: path.to.field: what is wrong (how to fix it)``, so that a typo in a key
gets a "did you mean" and a wrong type names the type that was expected.

Positions inside the file are written as dotted paths with list items counted
from 1, as a person counts ``[[arms]]`` tables: ``arms[2].framing`` is the
``framing`` of the second arm. Tasks read from a CSV file are reported against
that file with their line number instead.
"""

from __future__ import annotations

import difflib
import types
import typing
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ValidationError

from labmrt.errors import LabmrtError, Problem, loc_text

Loc = tuple[str | int, ...]

#: Model fields filled in by the loader, never written in a file.
INTERNAL_FIELDS = frozenset({"source_path", "classifier_sha256"})


@dataclass(frozen=True)
class Issue:
    """A problem found inside the protocol, located by its path in the parsed content."""

    loc: Loc
    what: str
    fix: str = ""


class ProtocolInvalid(LabmrtError):
    """The protocol content breaks a study rule (raised from the model's own checks).

    Carries the located :class:`Issue` list so the loader can report each one
    against the file (or CSV line) it came from; used on its own, the message
    shows the dotted paths.
    """

    def __init__(self, issues: list[Issue]):
        self.issues = list(issues)
        super().__init__([Problem(loc_text(i.loc), i.what, i.fix) for i in self.issues])


def did_you_mean(word: str, options: Iterable[str]) -> str:
    """``did you mean 'x'?`` for the closest option, else the list of options."""
    options = [str(o) for o in options]
    close = difflib.get_close_matches(str(word), options, n=1, cutoff=0.6)
    if not close and len(str(word)) >= 3:
        close = [o for o in options if o.lower().startswith(str(word).lower())][:1]
    if close:
        return f"did you mean '{close[0]}'?"
    if options:
        return "use one of: " + ", ".join(options)
    return ""


def _type_name(value: Any) -> str:
    names = {
        str: "text",
        int: "an integer",
        float: "a number",
        bool: "true/false",
        list: "a list",
        dict: "a table",
        type(None): "nothing",
    }
    return names.get(type(value), type(value).__name__)


def _show(value: Any) -> str:
    text = repr(value)
    return text if len(text) <= 60 else text[:57] + "..."


# --------------------------------------------------------------------------- model walking
def _model_in(annotation: Any) -> type[BaseModel] | None:
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return annotation
    for arg in typing.get_args(annotation):
        found = _model_in(arg)
        if found is not None:
            return found
    return None


def _walk(model: type[BaseModel], loc: Loc) -> type[BaseModel] | None:
    """The model class that owns the last element of ``loc`` (for key suggestions)."""
    current: Any = model
    for part in loc:
        if isinstance(part, int):
            continue
        if isinstance(current, type) and issubclass(current, BaseModel):
            field = current.model_fields.get(part)
            if field is None:
                # A key inside a dict-valued field: stay on the dict's value type.
                continue
            annotation = field.annotation
            origin = typing.get_origin(annotation)
            if origin is dict or (
                origin in (typing.Union, types.UnionType)
                and any(typing.get_origin(a) is dict for a in typing.get_args(annotation))
            ):
                return None
            current = _model_in(annotation) or annotation
        else:
            return None
    return current if isinstance(current, type) and issubclass(current, BaseModel) else None


def _allowed_keys(model: type[BaseModel]) -> list[str]:
    return [name for name in model.model_fields if name not in INTERNAL_FIELDS]


# --------------------------------------------------------------------------- pydantic
def issues_from_validation_error(err: ValidationError, root: type[BaseModel]) -> list[Issue]:
    """One :class:`Issue` per pydantic error, worded for a person editing a TOML file."""
    issues: list[Issue] = []
    for e in err.errors(include_url=False):
        loc: Loc = tuple(p for p in e["loc"] if not (isinstance(p, str) and "[" in p))
        kind = e["type"]
        value = e.get("input")
        ctx = e.get("ctx") or {}
        key = loc[-1] if loc else ""
        if kind == "extra_forbidden":
            owner = _walk(root, loc[:-1])
            options = _allowed_keys(owner) if owner else []
            issues.append(
                Issue(loc, f"unknown key '{key}'", did_you_mean(str(key), options) or "remove it")
            )
        elif kind == "missing":
            issues.append(Issue(loc, "is required but missing", f"add {key} = ..."))
        elif kind in ("string_type", "str_type"):
            issues.append(
                Issue(loc, f"must be text, got {_type_name(value)} {_show(value)}", "quote it")
            )
        elif kind in ("int_type", "int_parsing", "int_from_float"):
            issues.append(
                Issue(
                    loc,
                    f"must be a whole number, got {_type_name(value)} {_show(value)}",
                    "write an integer such as 3",
                )
            )
        elif kind == "finite_number":
            issues.append(Issue(loc, f"must be a finite number, got {value!r}", "write a number"))
        elif kind in ("float_type", "float_parsing"):
            issues.append(
                Issue(
                    loc,
                    f"must be a number, got {_type_name(value)} {_show(value)}",
                    "write a number such as 0.5 without quotes",
                )
            )
        elif kind in ("bool_type", "bool_parsing"):
            issues.append(
                Issue(
                    loc,
                    f"must be true or false, got {_type_name(value)} {_show(value)}",
                    "write true or false without quotes",
                )
            )
        elif kind == "list_type":
            issues.append(
                Issue(
                    loc,
                    f"must be a list, got {_type_name(value)} {_show(value)}",
                    'write it as ["a", "b"]',
                )
            )
        elif kind in ("dict_type", "model_type", "model_attributes_type"):
            issues.append(
                Issue(
                    loc,
                    f"must be a table, got {_type_name(value)} {_show(value)}",
                    f"write it as [{loc_text(loc)}] with keys below, or as {{ key = value }}",
                )
            )
        elif kind == "literal_error":
            expected = ctx.get("expected", "")
            options = [
                o.strip().strip("'\"") for o in str(expected).replace(" or ", ",").split(",")
            ]
            options = [o for o in options if o]
            issues.append(
                Issue(loc, f"{_show(value)} is not allowed", did_you_mean(str(value), options))
            )
        elif kind in ("greater_than", "greater_than_equal", "less_than", "less_than_equal"):
            bound = {
                "greater_than": ("gt", "greater than"),
                "greater_than_equal": ("ge", "at least"),
                "less_than": ("lt", "less than"),
                "less_than_equal": ("le", "at most"),
            }[kind]
            issues.append(
                Issue(
                    loc,
                    f"is {_show(value)} but must be {bound[1]} {ctx.get(bound[0])}",
                    "change the value",
                )
            )
        elif kind == "too_short":
            issues.append(
                Issue(
                    loc,
                    f"has {ctx.get('actual_length', 0)} item(s) but needs at least "
                    f"{ctx.get('min_length')}",
                    "add more",
                )
            )
        elif kind == "string_too_short":
            issues.append(Issue(loc, "is empty", "write some text"))
        elif kind == "string_pattern_mismatch":
            issues.append(
                Issue(
                    loc,
                    f"{_show(value)} is not a valid identifier",
                    "use letters, digits and _ only, starting with a letter",
                )
            )
        elif kind == "value_error":
            text = str(e["msg"]).removeprefix("Value error, ")
            what, _, fix = text.partition(" || ")
            issues.append(Issue(loc, what, fix))
        else:
            issues.append(Issue(loc, str(e["msg"]), ""))
    return issues


# --------------------------------------------------------------------------- reporting
@dataclass(frozen=True)
class TaskRows:
    """Where tasks came from when they were read from a CSV file."""

    csv_path: Path
    lines: list[int]
    ids: list[str]


def to_problems(
    issues: list[Issue], file: Path | str, rows: TaskRows | None = None
) -> list[Problem]:
    """Locate each issue in the protocol file, or in the tasks CSV for task fields."""
    problems = []
    for issue in issues:
        loc = issue.loc
        if rows is not None and len(loc) >= 2 and loc[0] == "tasks" and isinstance(loc[1], int):
            i = loc[1]
            line = rows.lines[i] if i < len(rows.lines) else "?"
            tid = rows.ids[i] if i < len(rows.ids) else ""
            where = f"{rows.csv_path}: line {line}" + (f" (task {tid})" if tid else "")
            rest = loc_text(loc[2:])
            if rest:
                where += f": {rest}"
        else:
            path = loc_text(loc)
            where = f"{file}: {path}" if path else str(file)
        problems.append(Problem(where, issue.what, issue.fix))
    return problems
