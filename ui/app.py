"""The one place that wires the desktop app: console, participant screen, analysis view.

``run_app`` builds the windows around a :class:`~ui.session_host.LabSessionHost`
(which owns store, engine and sensors) and runs the Qt event loop. The
participant screen goes full screen on the second monitor when there is one;
with a single monitor it is an ordinary window placed beside the console (or,
on a screen too narrow for both, over the console's plots, never over its
controls), so a demo on a laptop can be watched and driven.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

from PySide6.QtCore import QRect, QSize, QTimer
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


#: Room a window manager's frame takes around a window (title bar, borders), in pixels.
FRAME_ALLOWANCE = QSize(4, 40)
#: Width of the console's left column (set-up, start, pause, abort): never covered.
CONSOLE_CONTROLS_WIDTH = 460
#: Sizes the windows open at when the screen has room (they are larger than their minimum).
CONSOLE_PREFERRED = QSize(1400, 860)
PARTICIPANT_PREFERRED = QSize(1280, 800)


def single_screen_layout(
    available: QRect,
    console_min: QSize,
    participant_min: QSize,
    console_preferred: QSize = CONSOLE_PREFERRED,
    participant_preferred: QSize = PARTICIPANT_PREFERRED,
) -> tuple[QRect, QRect]:
    """Where console and participant window go on one screen: (console, participant).

    Side by side when the screen holds both at their minimum widths; otherwise
    the console fills the screen and the participant window (at its minimum
    size) sits in the bottom-right corner, over the live plots but not over the
    console's controls column. Rectangles are client areas; each leaves room
    for a window frame (:data:`FRAME_ALLOWANCE`).
    """
    fw, fh = FRAME_ALLOWANCE.width(), FRAME_ALLOWANCE.height()
    x, y, w, h = available.x(), available.y(), available.width(), available.height()
    c_min, p_min = console_min.width() + fw, participant_min.width() + fw
    if w >= c_min + p_min:
        console_w = max(c_min, min(console_preferred.width() + fw, w - p_min))
        participant_w = min(w - console_w, participant_preferred.width() + fw)
        c_h = max(min(h, console_preferred.height() + fh) - fh, console_min.height())
        p_h = max(min(h, participant_preferred.height() + fh) - fh, participant_min.height())
        return (
            QRect(x, y, console_w - fw, c_h),
            QRect(x + console_w, y, participant_w - fw, p_h),
        )
    console = QRect(
        x,
        y,
        max(min(w, console_preferred.width() + fw) - fw, console_min.width()),
        max(min(h, console_preferred.height() + fh) - fh, console_min.height()),
    )
    p_w, p_h = participant_min.width(), participant_min.height()
    p_x = max(x + w - p_w - fw, x + CONSOLE_CONTROLS_WIDTH)
    p_y = max(y + h - p_h - fh, y)
    return console, QRect(p_x, p_y, p_w, p_h)


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
