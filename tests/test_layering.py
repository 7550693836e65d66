"""The domain core and the sensors must stay Qt-free: only ui/ imports Qt."""

import subprocess
import sys


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
