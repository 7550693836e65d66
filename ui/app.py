"""The one place that wires the desktop app: console, participant screen, analysis view.

``run_app`` builds the windows around a :class:`~ui.session_host.LabSessionHost`
(which owns store, engine and sensors) and runs the Qt event loop. The
participant screen goes full screen on the second monitor when there is one;
with a single monitor it is an ordinary window the operator can move.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

from PySide6.QtCore import QTimer
from PySide6.QtGui import QAction, QGuiApplication, QKeySequence
from PySide6.QtWidgets import QApplication

from ui.analysis_view import AnalysisWindow
from ui.console import ConsoleWindow
from ui.participant import ParticipantWindow
from ui.power_dialog import SampleSizeDialog
from ui.session_host import LabSessionHost


def bundled_protocols_dir() -> Path:
    """The ``protocols/`` folder shipped beside the ``labmrt`` package."""
    import labmrt

    return Path(labmrt.__file__).resolve().parents[1] / "protocols"


def display_available() -> bool:
    """False on a Linux machine without a display server and no QT_QPA_PLATFORM chosen."""
    if os.environ.get("QT_QPA_PLATFORM"):
        return True
    if sys.platform.startswith("linux"):
        return bool(os.environ.get("DISPLAY") or os.environ.get("WAYLAND_DISPLAY"))
    return True


class LabmrtApp:
    """The app's windows and their wiring (one per process)."""

    def __init__(
        self,
        *,
        study_dir: Path | None = None,
        protocol: Path | None = None,
        participant: str = "",
        simulate_sensors: bool = False,
        analysis_folder: Path | None = None,
        host: LabSessionHost | None = None,
    ):
        self.participant_window = ParticipantWindow()
        self.host = host or LabSessionHost(self.participant_window)
        self.console = ConsoleWindow(
            self.host, protocols_dir=bundled_protocols_dir(), study_dir=study_dir
        )
        self.analysis: AnalysisWindow | None = None
        self.console.analysis_requested.connect(self.open_analysis)
        self.console.sample_size_requested.connect(self.open_sample_size)
        self.console.closed.connect(self.quit)
        if protocol is not None:
            self.console.load_protocol(Path(protocol))
        if participant:
            self.console.participant_edit.setText(participant)
        full_screen = QAction("Participant screen full screen", self.console)
        full_screen.setShortcut(QKeySequence("F11"))
        full_screen.triggered.connect(self.toggle_participant_full_screen)
        self.console.addAction(full_screen)
        self.console.view_menu.addAction(full_screen)
        self._simulate = simulate_sensors
        self._analysis_folder = analysis_folder
        self.participant_window.show_message("Welcome", "The session will start soon.")

    def show(self) -> None:
        self.console.show()
        screens = QGuiApplication.screens()
        if len(screens) > 1:
            self.participant_window.show_full_screen_on(len(screens) - 1)
        else:
            self.participant_window.show()
        if self._simulate:
            QTimer.singleShot(0, self.console.start_simulated_sensors)
        if self._analysis_folder is not None:
            self.open_analysis(self._analysis_folder)

    def toggle_participant_full_screen(self) -> None:
        window = self.participant_window
        if window.isFullScreen():
            window.showNormal()
        else:
            screens = QGuiApplication.screens()
            window.show_full_screen_on(len(screens) - 1 if screens else None)

    def open_analysis(self, folder: Path | None = None) -> AnalysisWindow:
        if self.analysis is None:
            self.analysis = AnalysisWindow()
        if folder is None and self.host.study_dir is not None:
            folder = self.host.study_dir
        elif folder is None and self.console.study_edit.text().strip():
            candidate = Path(self.console.study_edit.text().strip())
            folder = candidate if candidate.is_dir() else None
        if folder is not None and self.analysis.data is None:
            self.analysis.open_folder(Path(folder))
        self.analysis.show()
        self.analysis.raise_()
        return self.analysis

    def open_sample_size(self) -> SampleSizeDialog:
        dialog = SampleSizeDialog(self.console)
        dialog.open()
        self._sample_size = dialog
        return dialog

    def quit(self) -> None:
        self.host.shutdown()
        self.participant_window.allow_close = True
        self.participant_window.close()
        if self.analysis is not None:
            self.analysis.close()
        app = QApplication.instance()
        if app is not None:
            app.quit()


def install_error_dialogs(parent_of=lambda: None) -> None:
    """Show errors that escape a Qt slot as a dialog (details behind a button), not a traceback."""
    import logging
    import traceback

    from labmrt.errors import LabmrtError
    from ui.dialogs import show_error

    log = logging.getLogger("labmrt.ui")

    def hook(kind, err, tb) -> None:
        if issubclass(kind, KeyboardInterrupt):
            QApplication.quit()
            return
        details = "".join(traceback.format_exception(kind, err, tb))
        log.error("unexpected error in the app:\n%s", details)
        if isinstance(err, LabmrtError):
            show_error(parent_of(), "Problem", err.message)
            return
        show_error(
            parent_of(),
            "Unexpected error",
            f"{kind.__name__}: {err}\nNothing recorded so far was lost; a running session "
            "goes on. If this repeats, save the details below and report them.",
            details,
        )

    sys.excepthook = hook


def run_app(**kwargs) -> int:
    """Create the QApplication, show the windows, run the event loop; returns the exit code."""
    app = QApplication.instance() or QApplication(sys.argv[:1])
    app.setApplicationName("labmrt")
    app.setQuitOnLastWindowClosed(False)
    window = LabmrtApp(**kwargs)
    install_error_dialogs(lambda: window.console)
    window.show()
    return int(app.exec())
