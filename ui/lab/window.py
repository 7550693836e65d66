"""The lab view as its own window (``labmrt lab``, ``labmrt demo --stations N``)."""

from __future__ import annotations

import sys
from collections.abc import Callable

from PySide6.QtWidgets import QApplication

from labmrt.lab.console import LabConsole
from labmrt.lab.study import LabStudy
from ui.lab.view import LabView
from ui.widgets import apply_style


def run_lab_window(study: LabStudy, on_close: Callable[[], None] | None = None) -> int:
    """Show the lab view until it is closed; ``on_close`` runs after (e.g. the final merge)."""
    from labmrt.lab.transport import ConsoleLink

    app = QApplication.instance() or QApplication(sys.argv[:1])
    app.setApplicationName("labmrt lab")
    apply_style()
    link = ConsoleLink(study.study_id)
    view = LabView(LabConsole(study, link))
    view.resize(1200, 560)
    view.show()
    try:
        return int(app.exec())
    finally:
        link.close()
        if on_close is not None:
            on_close()
