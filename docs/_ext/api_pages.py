"""Python API pages: a package's public face, and references to names where they are used.

Each object is documented once, in the module that defines it
(``labmrt.protocol.model.Protocol``). Code and docstrings name it where it is
imported from: the package's face (``labmrt.protocol.Protocol``) or, inside
a module, the bare name it imported (``:class:`LabmrtError``` in
``labmrt.protocol.model``). Two pieces make those names work:

- ``.. public-face:: labmrt.protocol`` lists the package's ``__all__``, each
  name linked to its definition;
- a ``missing-reference`` handler resolves a Python reference that names an
  object through a module that imports it, by importing that module and
  looking the name up where the object was defined.
"""

from __future__ import annotations

import importlib
import inspect

from docutils import nodes
from sphinx import addnodes
from sphinx.util.docutils import SphinxDirective


def _canonical(target: str, context_module: str | None) -> str | None:
    """``labmrt.protocol.Protocol`` -> ``labmrt.protocol.model.Protocol``.

    A bare name is first looked up in the module the reference is made from
    (where the name was imported), then as a full name.
    """
    candidates = [f"{context_module}.{target}"] if context_module else []
    for candidate in [*candidates, target]:
        parts = candidate.split(".")
        for cut in range(len(parts), 0, -1):
            try:
                obj = importlib.import_module(".".join(parts[:cut]))
            except Exception:  # noqa: BLE001 - not a module (or not importable here)
                continue
            base, tail = obj.__name__, []
            for attr in parts[cut:]:
                try:
                    obj = getattr(obj, attr)
                except AttributeError:
                    obj = None
                    break
                module = getattr(obj, "__module__", None)
                qualname = getattr(obj, "__qualname__", None)
                if inspect.ismodule(obj):
                    base, tail = obj.__name__, []
                elif (inspect.isclass(obj) or inspect.isroutine(obj)) and module and qualname:
                    base, tail = f"{module}.{qualname}", []
                else:
                    tail.append(attr)
            if obj is not None:
                return ".".join([base, *tail])
            break
    return None


def _defined_once(domain, target: str) -> str | None:
    """A module-level value (``AFFECT_CONTEXT``) documented in one module of its package."""
    package = target.split(".")[0]
    last = target.rsplit(".", 1)[-1]
    found = [
        name
        for name in domain.objects
        if name.endswith("." + last) and name.startswith(package + ".")
    ]
    return found[0] if len(found) == 1 else None


def resolve_through_imports(app, env, node, contnode):
    if node.get("refdomain") != "py":
        return None
    target = node.get("reftarget", "")
    domain = env.get_domain("py")
    canonical = _canonical(target, node.get("py:module"))
    if canonical and canonical != target and canonical not in domain.objects:
        canonical = None
    if canonical is None or canonical == target:
        canonical = _defined_once(domain, target) if target.startswith("labmrt.") else None
    if canonical is None or canonical == target:
        return None
    new = node.deepcopy()
    new["reftarget"] = canonical
    new["py:module"] = None
    new["py:class"] = None
    return domain.resolve_xref(
        env, node.get("refdoc", env.docname), app.builder, node["reftype"], canonical, new, contnode
    )


class PublicFace(SphinxDirective):
    """The names a package exports, each linked to where it is defined."""

    required_arguments = 1

    def run(self):
        name = self.arguments[0]
        package = importlib.import_module(name)
        names = list(getattr(package, "__all__", []))
        if not names:
            para = nodes.paragraph(
                text=f"{name} exports no names of its own: import from its modules."
            )
            return [para]
        items = nodes.bullet_list()
        for export in names:
            obj = getattr(package, export)
            role = "class" if inspect.isclass(obj) else "func" if callable(obj) else "data"
            target = (
                f"{obj.__module__}.{obj.__qualname__}"
                if role != "data" and hasattr(obj, "__qualname__")
                else f"{name}.{export}"
            )
            ref = addnodes.pending_xref(
                "", refdomain="py", reftype=role, reftarget=target, refexplicit=True,
                refwarn=True, **{"py:module": name},
            )  # fmt: skip
            ref += nodes.literal(text=f"{name}.{export}")
            para = nodes.paragraph()
            para += ref
            items += nodes.list_item("", para)
        intro = nodes.paragraph(text=f"from {name} import ...:")
        return [intro, items]


def setup(app):
    app.add_directive("public-face", PublicFace)
    app.connect("missing-reference", resolve_through_imports)
    return {"parallel_read_safe": True, "parallel_write_safe": True}
