"""The operator's style is applied by the composition roots, never by an import."""

from __future__ import annotations

import json
import subprocess
import sys

from ui.widgets.style import PLOT_OPTIONS

# Imports every module of ui/, reports pyqtgraph's settings, then builds the desktop app.
CHILD = """
import json, os, pkgutil, importlib
os.environ["QT_QPA_PLATFORM"] = "offscreen"
import pyqtgraph as pg
import ui
keys = ("antialias", "background", "foreground")
before = {k: pg.getConfigOption(k) for k in keys}
for m in pkgutil.walk_packages(ui.__path__, "ui."):
    importlib.import_module(m.name)
imported = {k: pg.getConfigOption(k) for k in keys}
from PySide6.QtWidgets import QApplication
app = QApplication([])
from ui.app import LabmrtApp
window = LabmrtApp()
window.console._force_close = True
built = {k: pg.getConfigOption(k) for k in keys}
window.quit()
print(json.dumps({"before": before, "imported": imported, "built": built}))
"""


def test_importing_ui_leaves_pyqtgraph_alone_and_the_app_applies_the_style(tmp_path):
    done = subprocess.run(
        [sys.executable, "-c", CHILD], capture_output=True, text=True, timeout=120, cwd=tmp_path
    )
    assert done.returncode == 0, done.stderr
    seen = json.loads(done.stdout.strip().splitlines()[-1])
    assert seen["imported"] == seen["before"]  # importing any ui module changes nothing
    assert seen["before"]["background"] != PLOT_OPTIONS["background"]  # the check can fail
    assert seen["built"] == PLOT_OPTIONS  # the composition root applied the style
