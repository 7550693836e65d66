"""The TOML file formats (protocol, effects file, analysis plan) from their pydantic models.

``.. file-format:: package.module.Model`` (in reStructuredText: in a MyST page,
inside an ``{eval-rst}`` block) renders one section per TOML table
the model reads (``[study]``, ``[[arms]]``, ``[sensors.pins.<kind>]``, ...):
the model's docstring, then each key with its type, default and constraints
as the model's JSON schema states them. So the reference is the validator:
a key added to a model appears here on the next build. Options:

- ``:hide:`` dotted keys that are not written by hand (``source_path``);
- ``:table:`` the name of the root table (empty for a file's top level);
- ``:omit:`` ``Model: package.module.NAMES``, field names that the model's
  tables leave out (``TrialAnalysis: labmrt.effects.schema.SET_BY_SIMULATION``,
  the options a simulation sets itself), listed under the table instead;
- ``:renamed:`` a mapping ``{(table path, old key): (new key, conversion)}``
  of keys that were renamed and are still read (``labmrt.effects.schema.RENAMED``),
  rendered as a table of old and new keys after the sections.
"""

from __future__ import annotations

import importlib
import inspect
import types
import typing
from typing import Any

from docutils import nodes
from docutils.parsers.rst import directives
from docutils.statemachine import StringList
from pydantic import BaseModel
from sphinx.util.docutils import SphinxDirective
from sphinx.util.nodes import nested_parse_with_titles


def _import(path: str) -> type[BaseModel]:
    module, _, name = path.rpartition(".")
    return getattr(importlib.import_module(module), name)


def _models_in(annotation: Any) -> list[tuple[str, type[BaseModel]]]:
    """The models a field holds, with how: ``one``, ``list`` (``[[t]]``) or ``dict`` (``[t.<k>]``)."""
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return [("one", annotation)]
    origin = typing.get_origin(annotation)
    args = typing.get_args(annotation)
    if origin in (list, tuple):
        return [("list", m) for _, m in _models_in(args[0])] if args else []
    if origin is dict:
        return [("dict", m) for _, m in _models_in(args[1])] if len(args) == 2 else []
    if origin in (typing.Union, types.UnionType):
        return [found for a in args for found in _models_in(a)]
    if origin is typing.Annotated:
        return _models_in(args[0])
    return []


def _key_name(annotation: Any) -> str:
    """What a dict's keys are called in the heading: the allowed values, or ``<name>``."""
    args = typing.get_args(annotation)
    if typing.get_origin(annotation) in (typing.Union, types.UnionType):
        annotation = next(a for a in args if a is not type(None))
        args = typing.get_args(annotation)
    key = args[0] if args else str
    if typing.get_origin(key) is typing.Literal:
        return "<" + "/".join(str(v) for v in typing.get_args(key)) + ">"
    return "<name>"


def _type_text(schema: dict, defs: dict) -> str:
    if "$ref" in schema:
        return "table (" + schema["$ref"].rsplit("/", 1)[-1] + ")"
    if "anyOf" in schema:
        parts = [_type_text(s, defs) for s in schema["anyOf"] if s.get("type") != "null"]
        return " or ".join(dict.fromkeys(parts))
    if "enum" in schema:
        return "one of " + ", ".join(
            f"``{v!r}``" if isinstance(v, str) else f"``{v}``" for v in schema["enum"]
        )
    if "const" in schema:
        return f"``{schema['const']!r}``"
    kind = schema.get("type")
    if kind == "array" and "prefixItems" in schema:  # a fixed-length tuple
        return "[" + ", ".join(_type_text(s, defs) for s in schema["prefixItems"]) + "]"
    if kind == "array":
        return "list of " + _type_text(schema.get("items", {}), defs)
    if kind == "object":
        inner = schema.get("additionalProperties")
        if isinstance(inner, dict):
            return "table of " + _type_text(inner, defs)
        return "table"
    names = {"string": "text", "number": "number", "integer": "integer", "boolean": "boolean"}
    return names.get(kind, kind or "any")


def _constraints(schema: dict) -> str:
    out = []
    for key, word in (
        ("exclusiveMinimum", "> {}"),
        ("minimum", ">= {}"),
        ("exclusiveMaximum", "< {}"),
        ("maximum", "<= {}"),
        ("minLength", "at least {} characters"),  # 1: "not empty", below
        ("maxLength", "at most {} characters"),
        ("minItems", "at least {} items"),
        ("maxItems", "at most {} items"),
        ("minProperties", "at least {} entries"),
        ("pattern", "matches ``{}``"),
    ):
        if key in schema:
            out.append(word.format(schema[key]))
    if schema.get("minLength") == 1:
        out = ["not empty" if o == "at least 1 characters" else o for o in out]
    if "prefixItems" in schema:  # the length is the type's
        out = [o for o in out if not o.endswith(" items")]
    if schema.get("maxItems") == 1:
        out = ["at most one item" if o == "at most 1 items" else o for o in out]
    if schema.get("minItems") == 1:
        out = ["not empty" if o == "at least 1 items" else o for o in out]
    for sub in schema.get("anyOf", []):
        out.append(_constraints(sub))
    items = schema.get("items")
    if isinstance(items, dict) and _constraints(items):
        out.append("each " + _constraints(items))
    return ", ".join(o for o in out if o)


def _default_text(field) -> str:
    if field.is_required():
        return "required"
    value = field.get_default(call_default_factory=True)
    if isinstance(value, BaseModel):
        return "its defaults"
    if value is None:
        return "none"
    if isinstance(value, str):
        return f'``"{value}"``'
    if isinstance(value, bool):
        return f"``{str(value).lower()}``"
    if isinstance(value, tuple):  # TOML writes an array
        value = list(value)
    return f"``{value!r}``"


def _cell(text: str) -> str:
    return text.replace("|", "\\|").replace("\n", " ")


class FileFormat(SphinxDirective):
    required_arguments = 1
    option_spec = {
        "hide": directives.unchanged,
        "table": directives.unchanged,
        "renamed": directives.unchanged,
        "omit": directives.unchanged,
    }

    def run(self):
        root = _import(self.arguments[0])
        self.env.note_dependency(inspect.getsourcefile(root) or "")
        hidden = {h.strip() for h in (self.options.get("hide") or "").split(",") if h.strip()}
        self.omitted: dict[str, tuple[str, list[str]]] = {}
        if self.options.get("omit"):
            model_name, _, names_path = self.options["omit"].partition(":")
            self.omitted[model_name.strip()] = (
                names_path.strip(),
                list(_import(names_path.strip())),
            )
        lines: list[str] = []
        self._section(root, self.options.get("table", ""), "", hidden, lines, seen=set())
        if self.options.get("renamed"):
            lines += self._renamed(self.options["renamed"])
        container = nodes.container(classes=["file-format"])
        # the docstrings' references are relative to the model's module
        before = self.env.ref_context.get("py:module")
        self.env.ref_context["py:module"] = root.__module__
        try:
            nested_parse_with_titles(
                self.state, StringList(lines, self.get_source_info()[0]), container
            )
        finally:
            if before is None:
                self.env.ref_context.pop("py:module", None)
            else:
                self.env.ref_context["py:module"] = before
        return container.children

    def _renamed(self, path: str) -> list[str]:
        renamed = _import(path)
        title = "Renamed keys"
        lines = [title, "~" * len(title), ""]
        lines += [
            "Still read, each with a ``warning:`` line that says what to write instead",
            f"(:data:`{path}`).",
            "",
            ".. list-table::",
            "   :header-rows: 1",
            "",
            "   * - old key",
            "     - write instead",
        ]
        for (table, old), (new, *_) in renamed.items():
            where = f"[{'.'.join(table)}] " if table else ""
            lines += [f"   * - ``{where}{old}``", f"     - ``{where}{new}``"]
        return [*lines, ""]

    def _section(self, model, heading, dotted, hidden, lines, seen):
        schema = model.model_json_schema(mode="validation")
        defs = schema.get("$defs", {})
        title = f"``{heading}``" if heading else f"Top level of ``{model.__name__}``"
        lines += [title, "~" * (len(title) + 4), ""]
        doc = inspect.getdoc(model) or ""
        if doc and model.__doc__ and model.__module__ != "pydantic.main":
            lines += [*doc.splitlines(), ""]
        lines += [f"Read by :class:`{model.__module__}.{model.__qualname__}`.", ""]
        rows = []
        nested = []
        names_path, omitted = self.omitted.get(model.__name__, ("", []))
        for name, field in model.model_fields.items():
            key = f"{dotted}.{name}" if dotted else name
            if key in hidden or name in omitted:
                continue
            found = _models_in(field.annotation)
            if found:
                how, sub = found[0]
                if how == "list":
                    sub_heading = f"[[{key}]]"
                elif how == "dict":
                    sub_heading = f"[{key}.{_key_name(field.annotation)}]"
                else:
                    sub_heading = f"[{key}]"
                nested.append((sub, sub_heading, sub_heading.strip("[]")))
                rows.append((name, f"see ``{sub_heading}``", _default_text(field), ""))
                continue
            prop = schema.get("properties", {}).get(name, {})
            text = _type_text(prop, defs)
            rows.append((name, text, _default_text(field), _constraints(prop)))
            if field.description:
                rows[-1] = (
                    *rows[-1][:3],
                    (rows[-1][3] + "; " if rows[-1][3] else "") + field.description,
                )
        if rows:
            lines += [".. list-table::", "   :header-rows: 1", "   :widths: 20 35 15 30", ""]
            lines += ["   * - key", "     - type", "     - default", "     - constraints"]
            for name, text, default, cons in rows:
                lines += [
                    f"   * - ``{name}``",
                    f"     - {_cell(text)}",
                    f"     - {_cell(default)}",
                    f"     - {_cell(cons)}",
                ]
            lines.append("")
        if omitted:
            lines += [
                "Not written here (:data:`"
                + names_path
                + "`, an error if given): "
                + ", ".join(f"``{n}``" for n in omitted)
                + ".",
                "",
            ]
        for sub, sub_heading, key in nested:
            if (sub, sub_heading) in seen:
                continue
            seen.add((sub, sub_heading))
            self._section(sub, sub_heading, key, hidden, lines, seen)


def setup(app):
    app.add_directive("file-format", FileFormat)
    return {"parallel_read_safe": True, "parallel_write_safe": True}
