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
    if path.name == "__init__.py":
        package = ".".join(path.parent.relative_to(PROJECT).parts)
        found |= _face_modules(path, package)
    return found


def _face_modules(path: Path, package: str) -> set[str]:
    """The modules a lazy face loads: the keys of its ``lazy.attach(..., submod_attrs=...)``.

    A face imports its modules on first use, by name, so no import statement names them.
    """
    found: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Call) and ast.unparse(node.func).endswith("attach"):
            for kw in node.keywords:
                if kw.arg == "submod_attrs" and isinstance(kw.value, ast.Dict):
                    found.update(f"{package}.{k.value}" for k in kw.value.keys)
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


def check_flow(
    rules: dict[str, set[str]],
    graph: dict[str, set[str]] | None = None,
    *,
    scope: str | None = None,
) -> None:
    """Each unit named in ``rules`` (unit -> the units it may import) imports only what its
    rule allows, and those units, taken together, form no cycle. With ``scope`` (a top
    package such as ``ui``) only imports of that package's own units are judged."""
    graph = _import_graph() if graph is None else graph
    uses = _unit_uses(set(rules), graph)
    if scope is not None:
        uses = {u: {t for t in found if t.split(".")[0] == scope} for u, found in uses.items()}
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
    "labmrt.lab": BASE | {"labmrt.protocol", "labmrt.session", "labmrt.store", "labmrt.recording"},
    "labmrt.recording": BASE | {"labmrt.store"},
    "labmrt.powersim": BASE
    | {"labmrt.protocol", "labmrt.session", "labmrt.analysis", "labmrt.effects"},
}


# The core's shared modules, and its outer edge (the command line wires every part; liblsl's
# log is set for the whole process before any part runs).
CORE_EDGE = BASE | {"labmrt.own_packages", "labmrt.cli", "labmrt.commands", "labmrt.lsl_log"}


def test_core_subpackages_depend_one_way():
    graph = _import_graph()
    unruled = _units_of("labmrt", graph) - set(CORE_FLOW) - CORE_EDGE
    assert not unruled, f"core parts without a rule in CORE_FLOW: {sorted(unruled)}"
    check_flow(CORE_FLOW, graph)


# --------------------------------------------------------------------------- ui's subpackages
# What each subpackage of ui may import of the others (lazy imports and those under
# TYPE_CHECKING included): widgets < participant < session < console, lab; the analyst's
# windows use the shared widgets only; display (asked before Qt loads) uses nothing; app,
# the desktop app's composition root, wires them.
UI_ALLOWED: dict[str, set[str]] = {
    "ui.widgets": set(),
    "ui.display": set(),
    "ui.participant": {"ui.widgets"},
    "ui.session": {"ui.widgets", "ui.participant"},
    "ui.console": {"ui.widgets", "ui.participant", "ui.session"},
    "ui.lab": {"ui.widgets", "ui.participant", "ui.session"},
    "ui.analysis": {"ui.widgets"},
    "ui.app": {
        "ui.widgets",
        "ui.participant",
        "ui.session",
        "ui.console",
        "ui.analysis",
        "ui.display",
    },
}


def _face_names(path: Path) -> tuple[list[str], set[str]]:
    """A face's ``__all__`` (empty when it has none) and the names its imports bind."""
    tree = ast.parse(path.read_text(encoding="utf-8"))
    exported: list[str] = []
    bound: set[str] = set()
    for node in tree.body:
        if isinstance(node, ast.Assign) and any(
            isinstance(t, ast.Name) and t.id == "__all__" for t in node.targets
        ):
            exported = list(ast.literal_eval(node.value))
        elif isinstance(node, ast.ImportFrom):
            bound.update(a.asname or a.name for a in node.names)
    return exported, bound


def test_ui_subpackages_depend_one_way():
    graph = _import_graph()
    loose = sorted(p.name for p in (PROJECT / "ui").glob("*.py") if p.name != "__init__.py")
    assert loose == [], "only the package face sits directly in ui/: move these into a subpackage"
    found = _units_of("ui", graph) - {"ui"}
    assert found == set(UI_ALLOWED), "a ui subpackage was added or removed: update UI_ALLOWED"
    check_flow(UI_ALLOWED, graph, scope="ui")


def test_ui_faces_export_what_they_import():
    """Each subpackage of ui has a face whose ``__all__`` is exactly what it re-exports."""
    for unit in sorted(UI_ALLOWED):
        face = PROJECT / unit.replace(".", "/") / "__init__.py"
        exported, bound = _face_names(face)
        assert exported, f"{unit}: its face has no __all__"
        assert sorted(exported) == sorted(bound), f"{unit}: __all__ and the face's imports differ"


def test_code_outside_ui_imports_its_faces():
    """The CLI, the benches and the screenshot scripts use ``ui.<subpackage>``, never deeper."""
    paths = [p for m, p in _modules().items() if not m.startswith("ui")]
    paths += sorted((PROJECT / "bench").glob("*.py"))
    paths += sorted((PROJECT / "docs").rglob("*.py"))
    deep = []
    for path in paths:
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.ImportFrom) and node.module:
                names = [node.module]
            elif isinstance(node, ast.Import):
                names = [a.name for a in node.names]
            else:
                continue
            for name in names:
                parts = name.split(".")
                if parts[0] == "ui" and (len(parts) > 2 or isinstance(node, ast.Import)):
                    deep.append(f"{path.relative_to(PROJECT)}:{node.lineno} {name}")
    assert deep == [], "import ui's subpackages by their faces (ui.app, ui.lab, ...)"


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


# --------------------------------------------------------------------------- sensors' stages
# What each stage of sensors may import from the others (lazy imports included): the
# signal kinds first; acquisition, features and the simulator side by side on them; the
# affective state on acquisition and features; the replay on the state; one composition
# of every stage for the live chain on simulated sensors.
SENSORS_ALLOWED = {
    "sensors.kinds": set(),
    "sensors.acquire": {"sensors.kinds"},
    "sensors.signals": {"sensors.kinds"},
    "sensors.simulate": {"sensors.kinds"},
    "sensors.state": {"sensors.kinds", "sensors.acquire", "sensors.signals"},
    "sensors.replay": {"sensors.kinds", "sensors.acquire", "sensors.signals", "sensors.state"},
    "sensors.live": {
        "sensors.kinds",
        "sensors.acquire",
        "sensors.signals",
        "sensors.simulate",
        "sensors.state",
    },
}


def test_sensors_stages_depend_one_way():
    graph = _import_graph()
    loose = sorted(p.name for p in (PROJECT / "sensors").glob("*.py"))
    assert loose == ["__init__.py"], f"modules outside a stage's subpackage: {loose}"
    assert graph["sensors"] == set(), "the package face imports nothing: the CLI's start stays free"
    assert graph["sensors.acquire"] >= {"sensors.acquire.buffer", "sensors.acquire.streams"}
    found = _units_of("sensors", graph) - {"sensors"}
    assert found == set(SENSORS_ALLOWED), "a stage was added or removed: update SENSORS_ALLOWED"
    check_flow(SENSORS_ALLOWED, graph, scope="sensors")


def test_code_outside_sensors_imports_the_stages_faces():
    """labmrt, ui, bench and the screenshot scripts use ``from sensors.<stage> import ...``."""
    known = _modules()
    faces = set(SENSORS_ALLOWED)
    deep = []
    for top in ("labmrt", "ui", "bench", "docs"):
        for path in sorted((PROJECT / top).rglob("*.py")):
            for target in _imported(path, known):
                if target.startswith("sensors.") and target not in faces:
                    deep.append(f"{path.relative_to(PROJECT)}: {target}")
    assert deep == []


def test_sensors_faces_offer_every_name_they_list():
    code = (
        "import importlib\n"
        f"for face in {sorted(SENSORS_ALLOWED)!r}:\n"
        "    module = importlib.import_module(face)\n"
        "    for name in module.__all__:\n"
        "        getattr(module, name)\n"
        "import sys\n"
        "print(len([m for m in sys.modules if m.startswith('sensors.')]))\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert int(out.stdout) > len(SENSORS_ALLOWED)


def test_a_light_name_does_not_load_its_stages_heavy_modules():
    """``labmrt simulate`` reads the arousal script and the console a calibration line,
    neither needs NeuroKit2 (seconds to import): the faces load a module on first use."""
    code = (
        "import sys\n"
        "from sensors.simulate import ArousalSchedule\n"
        "from sensors.state import describe_calibration\n"
        "from sensors.kinds import kind_of\n"
        "print(','.join(m for m in ('neurokit2', 'pylsl') if m in sys.modules))\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == ""
