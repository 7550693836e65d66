"""The one place that wires the desktop app: console, participant screen, analysis view.

``run_app`` builds the windows around a :class:`~ui.session.LabSessionHost`
(which owns store, engine and sensors) and runs the Qt event loop. The
participant screen goes full screen on the second monitor when there is one;
with a single monitor it is an ordinary window placed beside the console (or,
on a screen too narrow for both, over the console's plots, never over its
controls), so a demo on a laptop can be watched and driven.
"""

from __future__ import annotations

import sys
from pathlib import Path

from PySide6.QtCore import QRect, QTimer
from PySide6.QtGui import QAction, QGuiApplication, QKeySequence
from PySide6.QtWidgets import QApplication

from ui.analysis import AnalysisWindow, SampleSizeDialog
from ui.app.layout import single_screen_layout
from ui.console import ConsoleWindow
from ui.participant import ParticipantWindow
from ui.session import LabSessionHost
from ui.widgets import apply_style, show_error


def bundled_protocols_dir() -> Path:
    """The ``protocols/`` folder shipped beside the ``labmrt`` package."""
    import labmrt

    return Path(labmrt.__file__).resolve().parents[1] / "protocols"


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
        apply_style()  # before the first plot: pyqtgraph reads its colours when a plot is made
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
            self.place_on_one_screen()
            self.participant_window.show()
        if self._simulate:
            QTimer.singleShot(0, self.console.start_simulated_sensors)
        if self._analysis_folder is not None:
            self.open_analysis(self._analysis_folder)

    def place_on_one_screen(self) -> tuple[QRect, QRect]:
        """Console and participant window side by side (see :func:`single_screen_layout`)."""
        screen = self.console.screen() or QGuiApplication.primaryScreen()
        if screen is None:
            return self.console.geometry(), self.participant_window.geometry()
        console, participant = single_screen_layout(
            screen.availableGeometry(),
            self.console.minimumSize(),
            self.participant_window.minimumSize(),
        )
        for window, rect in ((self.console, console), (self.participant_window, participant)):
            window.resize(rect.size())
            window.move(rect.topLeft())
        return console, participant

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
        # the simulation tab starts from the protocol loaded in the console, if any
        dialog = SampleSizeDialog(self.console, protocol_path=self.console.protocol_path)
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
