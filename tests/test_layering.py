"""The domain core and the sensors must stay Qt-free: only ui/ imports Qt."""

import ast
import subprocess
import sys
from pathlib import Path

import pytest


def test_core_and_sensors_do_not_import_qt():
    code = (
        "import sys, pkgutil, importlib, labmrt, sensors\n"
        "for pkg in (labmrt, sensors):\n"
        "    for m in pkgutil.walk_packages(pkg.__path__, pkg.__name__ + '.'):\n"
        "        importlib.import_module(m.name)\n"
        "bad = [m for m in sys.modules if m.startswith(('PySide6', 'pyqtgraph'))]\n"
        "print(','.join(bad))\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "", f"Qt modules imported by the core: {out.stdout}"


def test_core_does_not_import_sensors():
    """Imports flow ui -> sensors -> labmrt; only the CLI's command handlers reach sensors."""
    code = (
        "import sys, pkgutil, importlib, labmrt\n"
        "for m in pkgutil.walk_packages(labmrt.__path__, 'labmrt.'):\n"
        "    if m.name == 'labmrt.cli' or m.name.startswith('labmrt.commands'):\n"
        "        continue\n"
        "    importlib.import_module(m.name)\n"
        "print(','.join(m for m in sys.modules if m == 'sensors' or m.startswith('sensors.')))\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "", f"sensors imported by the core: {out.stdout}"


# --------------------------------------------------------------------------- import graph
PROJECT = Path(__file__).resolve().parents[1]
PACKAGES = ("labmrt", "sensors", "ui")


def _modules() -> dict[str, Path]:
    mods = {}
    for top in PACKAGES:
        for path in (PROJECT / top).rglob("*.py"):
            parts = list(path.relative_to(PROJECT).with_suffix("").parts)
            if parts[-1] == "__init__":
                parts = parts[:-1]
            mods[".".join(parts)] = path
    return mods


def _imported(path: Path, known: dict[str, Path]) -> set[str]:
    """Project modules ``path`` imports anywhere in it: at module level, inside functions
    and classes, under ``if TYPE_CHECKING:`` (a type checker runs those, and a cycle there
    is a cycle of the design all the same).

    ``from pkg import name`` counts as an import of ``pkg.name`` when that is a module,
    else of ``pkg`` (the name comes from the package's face).
    """
    found: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            found.update(a.name for a in node.names if a.name in known)
        elif isinstance(node, ast.ImportFrom):
            assert node.level == 0, f"{path}:{node.lineno}: write absolute imports"
            base = node.module or ""
            for alias in node.names:
                full = f"{base}.{alias.name}"
                if full in known:
                    found.add(full)
                elif base in known:
                    found.add(base)
    return found


def _import_graph() -> dict[str, set[str]]:
    """Module -> the project modules it imports (itself left out)."""
    known = _modules()
    return {m: _imported(p, known) - {m} for m, p in known.items()}


def _cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """Strongly connected components with more than one member (Tarjan, 1972)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: list[list[str]] = []

    def connect(v: str) -> None:
        index[v] = low[v] = len(index)
        stack.append(v)
        on_stack.add(v)
        for w in sorted(graph.get(v, ())):
            if w not in index:
                connect(w)
                low[v] = min(low[v], low[w])
            elif w in on_stack:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            component = []
            while True:
                w = stack.pop()
                on_stack.discard(w)
                component.append(w)
                if w == v:
                    break
            if len(component) > 1:
                found.append(sorted(component))

    for v in sorted(graph):
        if v not in index:
            connect(v)
    return found


def test_cycle_finder_and_import_reader_see_what_they_must(tmp_path):
    assert _cycles({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}) == [["a", "b", "c"]]
    assert _cycles({"a": {"b"}, "b": set()}) == []
    source = tmp_path / "m.py"
    source.write_text(
        "from typing import TYPE_CHECKING\n"
        "import p.top\n"
        "if TYPE_CHECKING:\n"
        "    from p.typed import T\n"
        "def f():\n"
        "    from p import lazy\n"
        "class C:\n"
        "    def g(self):\n"
        "        from p.face import name\n",
        encoding="utf-8",
    )
    known = {m: source for m in ("p", "p.top", "p.typed", "p.lazy", "p.face", "p.unused")}
    assert _imported(source, known) == {"p.top", "p.typed", "p.lazy", "p.face"}


def test_no_import_cycle_between_modules():
    """No cycle between the modules of labmrt, sensors and ui, whatever kind of import."""
    cycles = _cycles(_import_graph())
    assert cycles == [], "import cycles:\n" + "\n".join(" <-> ".join(c) for c in cycles)


def _unit(module: str) -> str:
    """``labmrt.store.database`` -> ``labmrt.store``: the subpackage a module belongs to."""
    parts = module.split(".")
    if len(parts) >= 2 and (PROJECT / parts[0] / parts[1]).is_dir():
        return ".".join(parts[:2])
    return module


def _unit_uses(units: set[str], graph: dict[str, set[str]] | None = None) -> dict[str, set[str]]:
    """For each of ``units`` (subpackages or modules), the other units its modules import."""
    graph = _import_graph() if graph is None else graph
    uses: dict[str, set[str]] = {}
    for module, targets in graph.items():
        unit = _unit(module)
        if unit in units:
            found = {_unit(t) for t in targets}
            uses.setdefault(unit, set()).update(t for t in found if t != unit)
    return uses


def _units_of(package: str, graph: dict[str, set[str]]) -> set[str]:
    return {_unit(m) for m in graph if m == package or m.startswith(package + ".")}


def check_flow(rules: dict[str, set[str]], graph: dict[str, set[str]] | None = None) -> None:
    """Each unit named in ``rules`` (unit -> the units it may import) imports only what its
    rule allows, and those units, taken together, form no cycle."""
    graph = _import_graph() if graph is None else graph
    uses = _unit_uses(set(rules), graph)
    missing = sorted(set(rules) - set(uses))
    assert not missing, f"rules for units that do not exist: {missing}: update the rules"
    wrong = {unit: sorted(found - rules[unit]) for unit, found in uses.items()}
    assert {u: w for u, w in wrong.items() if w} == {}
    within = {u: {t for t in found if t in rules} for u, found in uses.items()}
    assert _cycles(within) == []


def test_flow_check_fails_on_a_forbidden_import_and_a_lost_unit():
    graph = {"labmrt.protocol.model": {"labmrt.store.database"}, "labmrt.store.database": set()}
    rules = {"labmrt.protocol": {"labmrt"}, "labmrt.store": {"labmrt"}}
    with pytest.raises(AssertionError, match="labmrt.store"):
        check_flow(rules, graph)
    check_flow({**rules, "labmrt.protocol": {"labmrt.store"}}, graph)
    with pytest.raises(AssertionError, match="do not exist"):
        check_flow({**rules, "labmrt.gone": set()}, graph)


# What each part of the core may import (any kind of import): data flows
# protocol -> session -> store -> export -> analysis; an effects file (what a study
# expects) feeds the two simulations; cli and commands wire them.
BASE = {"labmrt", "labmrt.errors", "labmrt.state", "labmrt.textcols"}
CORE_FLOW = {
    "labmrt.protocol": BASE,
    "labmrt.session": BASE | {"labmrt.protocol"},
    "labmrt.store": BASE,
    "labmrt.export": BASE | {"labmrt.store", "labmrt.protocol"},
    "labmrt.analysis": BASE,
    "labmrt.effects": BASE | {"labmrt.protocol", "labmrt.analysis"},
    "labmrt.report": BASE | {"labmrt.protocol", "labmrt.store", "labmrt.export", "labmrt.analysis"},
    "labmrt.simulate": BASE
    | {"labmrt.protocol", "labmrt.session", "labmrt.store", "labmrt.analysis", "labmrt.effects"},
    "labmrt.lab": BASE | {"labmrt.protocol", "labmrt.session", "labmrt.store"},
    "labmrt.powersim": BASE
    | {"labmrt.protocol", "labmrt.session", "labmrt.analysis", "labmrt.effects"},
}


# The core's shared modules, and its outer edge (the command line wires every part).
CORE_EDGE = BASE | {"labmrt.own_packages", "labmrt.cli", "labmrt.commands"}


def test_core_subpackages_depend_one_way():
    graph = _import_graph()
    unruled = _units_of("labmrt", graph) - set(CORE_FLOW) - CORE_EDGE
    assert not unruled, f"core parts without a rule in CORE_FLOW: {sorted(unruled)}"
    check_flow(CORE_FLOW, graph)


def test_package_faces_export_what_the_readme_documents():
    from labmrt.export import export_study, read_codebook
    from labmrt.protocol import Protocol, load_protocol
    from labmrt.session import SessionEngine
    from labmrt.store import StudyStore

    assert export_study.__module__ == "labmrt.export.tables"
    assert read_codebook.__module__ == "labmrt.export.tables"
    assert load_protocol.__module__ == "labmrt.protocol.load"
    assert Protocol.__module__ == "labmrt.protocol.model"
    assert SessionEngine.__module__ == "labmrt.session.engine"
    assert StudyStore.__module__ == "labmrt.store.database"


def test_tests_import_their_helpers_from_the_tests_folder():
    """`tests` is not a package here, and some dependencies (NeuroKit2 0.2.12) install a
    top-level `tests` of their own, which `from tests.x import ...` would pick up instead."""
    here = Path(__file__).resolve().parent
    bad = []
    for path in sorted(here.rglob("*.py")):
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            names = []
            if isinstance(node, ast.ImportFrom) and node.module:
                names = [node.module]
            elif isinstance(node, ast.Import):
                names = [a.name for a in node.names]
            if any(n == "tests" or n.startswith("tests.") for n in names):
                bad.append(f"{path.relative_to(here)}:{node.lineno}")
    assert not bad, f"import helpers by module name (pytest puts tests/ on sys.path): {bad}"
