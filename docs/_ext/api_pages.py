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
  looking the name up where the object was defined. A value (a constant has
  no ``__module__``) is followed through the ``from ... import`` statements
  and lazy faces (``lazy_loader.attach``) of the source to the module that
  assigns it.

A third piece keeps the pages complete: every module of ``labmrt``,
``sensors`` and ``ui`` must be documented by an ``automodule`` somewhere
(a build warning names the ones that are not, an error under ``-W``).
"""

from __future__ import annotations

import ast
import functools
import importlib
import importlib.util
import inspect
import pkgutil

from docutils import nodes
from sphinx import addnodes
from sphinx.util import logging
from sphinx.util.docutils import SphinxDirective

logger = logging.getLogger(__name__)
#: The project's own top-level packages: their references must resolve, their modules be documented.
OWN = ("labmrt", "sensors", "ui")


@functools.cache
def _source_tree(modname: str) -> ast.Module | None:
    try:
        spec = importlib.util.find_spec(modname)
    except (ImportError, ValueError):
        return None
    if spec is None or not spec.origin or not spec.origin.endswith(".py"):
        return None
    with open(spec.origin, encoding="utf-8") as f:
        return ast.parse(f.read())


def _lazy_names(node: ast.AST) -> dict[str, list[str]]:
    """``lazy.attach(__name__, submod_attrs={"mod": ["name", ...]})`` -> that dict."""
    if isinstance(node, ast.Call) and ast.unparse(node.func).endswith("attach"):
        for kw in node.keywords:
            if kw.arg == "submod_attrs":
                return ast.literal_eval(kw.value)
    return {}


def defining_module(modname: str, name: str, depth: int = 0) -> str | None:
    """The module that assigns ``name`` at its top level, found from ``modname`` through
    its imports (``from x import name``) and its lazy face, or None."""
    tree = _source_tree(modname)
    if tree is None or depth > 10:
        return None
    for node in tree.body:
        targets = []
        if isinstance(node, ast.Assign):
            targets = node.targets
            for sub in _lazy_names(node.value).items():
                if name in sub[1]:
                    return defining_module(f"{modname}.{sub[0]}", name, depth + 1)
        elif isinstance(node, ast.AnnAssign):
            targets = [node.target]
        for target in targets:
            names = target.elts if isinstance(target, ast.Tuple) else [target]
            if any(isinstance(n, ast.Name) and n.id == name for n in names):
                return modname
        if isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            for alias in node.names:
                if (alias.asname or alias.name) == name:
                    return defining_module(node.module, alias.name, depth + 1)
    return None


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
                if len(tail) == 1:  # a value: where it is assigned, not where it is imported
                    base = defining_module(base, tail[0]) or base
                return ".".join([base, *tail])
            break
    return None


def _defined_once(domain, target: str) -> str | None:
    """A module-level value (``AFFECT_CONTEXT``) documented in one module of its package."""
    package = target.split(".")[0]
    if package not in OWN:
        return None
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
        canonical = _defined_once(domain, target)
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
            # a type alias (``Span = tuple[float, float]``) is callable but is a value
            role = "class" if inspect.isclass(obj) else "func" if inspect.isroutine(obj) else "data"
            if role != "data" and hasattr(obj, "__qualname__"):
                target = f"{obj.__module__}.{obj.__qualname__}"
            else:
                target = f"{defining_module(name, export) or name}.{export}"
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


def own_modules() -> list[str]:
    """Every module of the project's own packages (importing each package, not its modules)."""
    found = []
    for top in OWN:
        package = importlib.import_module(top)
        found.append(top)
        found += [
            m.name for m in pkgutil.walk_packages(package.__path__, top + ".", lambda _: None)
        ]
    return sorted(found)


def check_every_module_documented(app, env):
    documented = set(env.get_domain("py").modules)
    for name in own_modules():
        if name not in documented:
            logger.warning(
                f"{name} has no API entry: add an automodule for it to the page of its "
                "package under docs/api/",
                type="labmrt",
                subtype="api",
            )


def skip_foreign_imports(app, what, name, obj, skip, options):
    """A module's members include what it imports; another library's are never ours to
    document (autodoc would drop them later, after reading their signatures, which some
    decorated functions of SciPy do not survive)."""
    if what == "module" and (inspect.isclass(obj) or inspect.isroutine(obj)):
        owner = (getattr(obj, "__module__", None) or "").split(".")[0]
        if owner and owner not in OWN:
            return True
    return None


def setup(app):
    app.add_directive("public-face", PublicFace)
    app.connect("autodoc-skip-member", skip_foreign_imports)
    app.connect("missing-reference", resolve_through_imports)
    app.connect("env-check-consistency", check_every_module_documented)
    return {"parallel_read_safe": True, "parallel_write_safe": True}
