"""The domain core and the sensors must stay Qt-free: only ui/ imports Qt."""

import ast
import subprocess
import sys
from pathlib import Path


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


def _imported(path: Path, known: dict[str, Path], *, lazy: bool) -> set[str]:
    """Project modules ``path`` imports: at import time only, or (``lazy``) anywhere in it.

    ``from pkg import name`` counts as an import of ``pkg.name`` when that is a module.
    Imports under ``if TYPE_CHECKING:`` never run and are left out.
    """
    found: set[str] = set()

    def note(node: ast.Import | ast.ImportFrom) -> None:
        if isinstance(node, ast.Import):
            found.update(a.name for a in node.names if a.name in known)
            return
        base = node.module or ""
        for alias in node.names:
            full = f"{base}.{alias.name}"
            if full in known:
                found.add(full)
            elif base in known:
                found.add(base)

    def visit(body: list[ast.stmt]) -> None:
        for node in body:
            if isinstance(node, ast.If) and "TYPE_CHECKING" in ast.unparse(node.test):
                continue
            if isinstance(node, ast.Import | ast.ImportFrom):
                note(node)
            elif isinstance(node, ast.If | ast.Try | ast.With):
                for name in ("body", "orelse", "finalbody"):
                    visit(getattr(node, name, []))
                for handler in getattr(node, "handlers", []):
                    visit(handler.body)

    tree = ast.parse(path.read_text(encoding="utf-8"))
    if lazy:
        for node in ast.walk(tree):
            if isinstance(node, ast.Import | ast.ImportFrom):
                note(node)
    else:
        visit(tree.body)
    return found


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


def test_no_module_imports_itself_back():
    """No import cycles between modules of labmrt, sensors and ui at import time."""
    known = _modules()
    graph = {m: _imported(p, known, lazy=False) - {m} for m, p in known.items()}
    assert _cycles({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}) == [["a", "b", "c"]]
    assert _cycles(graph) == []


def _unit(module: str) -> str:
    """``labmrt.store.database`` -> ``labmrt.store``: the subpackage a module belongs to."""
    parts = module.split(".")
    if len(parts) >= 2 and (PROJECT / parts[0] / parts[1]).is_dir():
        return ".".join(parts[:2])
    return module


# What each part of the core may import (lazy imports included): data flows
# protocol -> session -> store -> export -> analysis; cli and commands wire them.
BASE = {"labmrt", "labmrt.errors", "labmrt.state", "labmrt.textcols"}
ALLOWED = {
    "labmrt.protocol": BASE,
    "labmrt.session": BASE | {"labmrt.protocol"},
    "labmrt.store": BASE,
    "labmrt.export": BASE | {"labmrt.store", "labmrt.protocol"},
    "labmrt.analysis": BASE,
    "labmrt.report": BASE | {"labmrt.protocol", "labmrt.store", "labmrt.export", "labmrt.analysis"},
    "labmrt.simulate": BASE
    | {"labmrt.protocol", "labmrt.session", "labmrt.store", "labmrt.analysis"},
    "labmrt.lab": BASE | {"labmrt.protocol", "labmrt.session", "labmrt.store", "labmrt.recording"},
    "labmrt.recording": BASE,
    "labmrt.powersim": BASE | {"labmrt.protocol", "labmrt.session", "labmrt.analysis"},
}


def test_core_subpackages_depend_one_way():
    known = _modules()
    uses: dict[str, set[str]] = {}
    for module, path in known.items():
        unit = _unit(module)
        if unit in ALLOWED:
            targets = {_unit(t) for t in _imported(path, known, lazy=True)}
            uses.setdefault(unit, set()).update(t for t in targets if t != unit)
    assert set(uses) == set(ALLOWED), "a core part was added or removed: update ALLOWED"
    wrong = {unit: sorted(found - ALLOWED[unit]) for unit, found in uses.items()}
    assert {u: w for u, w in wrong.items() if w} == {}
    assert _cycles(uses) == []


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


def _face_modules(path: Path, package: str) -> set[str]:
    """The modules a lazy face loads: the keys of its ``lazy.attach(..., submod_attrs=...)``.

    A face imports its modules on first use, by name, so ``_imported`` does not see them.
    """
    found: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Call) and ast.unparse(node.func).endswith("attach"):
            for kw in node.keywords:
                if kw.arg == "submod_attrs" and isinstance(kw.value, ast.Dict):
                    found.update(f"{package}.{k.value}" for k in kw.value.keys)
    return found


def _sensors_graph() -> dict[str, set[str]]:
    """Every sensors module -> the sensors modules it imports, anywhere in it."""
    known = _modules()
    graph = {}
    for module, path in known.items():
        if module == "sensors" or module.startswith("sensors."):
            uses = _imported(path, known, lazy=True) | _face_modules(path, module)
            graph[module] = {t for t in uses if t.startswith("sensors")} - {module}
    return graph


def test_sensors_stages_depend_one_way():
    graph = _sensors_graph()
    loose = sorted(p.name for p in (PROJECT / "sensors").glob("*.py"))
    assert loose == ["__init__.py"], f"modules outside a stage's subpackage: {loose}"
    assert graph["sensors"] == set(), "the package face imports nothing: the CLI's start stays free"
    uses: dict[str, set[str]] = {}
    for module, targets in graph.items():
        if module != "sensors":
            unit = _unit(module)
            uses.setdefault(unit, set()).update(_unit(t) for t in targets if _unit(t) != unit)
    assert set(uses) == set(SENSORS_ALLOWED), "a stage was added or removed: update SENSORS_ALLOWED"
    wrong = {unit: sorted(found - SENSORS_ALLOWED[unit]) for unit, found in uses.items()}
    assert {u: w for u, w in wrong.items() if w} == {}
    assert _cycles(uses) == []


def test_no_import_cycle_among_sensors_modules_even_inside_functions():
    graph = _sensors_graph()
    assert graph["sensors.acquire"] >= {"sensors.acquire.buffer", "sensors.acquire.streams"}
    assert _cycles(graph) == []


def test_code_outside_sensors_imports_the_stages_faces():
    """labmrt, ui, bench and the screenshot scripts use ``from sensors.<stage> import ...``."""
    known = _modules()
    faces = set(SENSORS_ALLOWED)
    deep = []
    for top in ("labmrt", "ui", "bench", "docs"):
        for path in sorted((PROJECT / top).rglob("*.py")):
            for target in _imported(path, known, lazy=True):
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
