"""The participant's window: instructions, calibration, tasks, breaks, the end.

Meant for a second monitor, full screen. It is deliberately ignorant: it is
told what to show (already-framed task text, durations) and reports back what
the participant did (``task_finished``, ``phase_finished``, ``proceeded`` and
every feature ``activity``). Nothing about arms, probabilities or the affective
state is ever passed to it, so nothing can leak onto the participant's screen.
"""

from __future__ import annotations

from PySide6.QtCore import Qt, Signal
from PySide6.QtGui import QGuiApplication
from PySide6.QtWidgets import (
    QLabel,
    QStackedWidget,
    QVBoxLayout,
    QWidget,
)

from labmrt.session.clock import ClockFn, lsl_clock
from labmrt.session.display import TaskDisplay
from ui.participant.calibration import RestScreen, StressorScreen
from ui.participant.countdown import CountdownScreen
from ui.participant.pages import BreakScreen, MessageScreen
from ui.participant.task_view import TaskView

#: The participant screen's style sheet: large type, calm colours.
#:
#: :meta hide-value:
PARTICIPANT_STYLE = """
#participant_window { background: #f7f7f4; }
QWidget { font-size: 17px; color: #1d2329; }
#message_title, #calm_title, #break_title { font-size: 34px; font-weight: 600; }
#message_text, #calm_text, #break_text { font-size: 20px; color: #3b444d; }
#rest_screen { background: #dce9ee; }
#calm_title { color: #35566a; }
#calm_text { color: #4b6b7d; }
#calm_countdown { font-size: 44px; color: #5d7f92; }
#stressor_problem { font-size: 56px; font-weight: 600; }
#stressor_countdown { font-size: 20px; color: #59626b; }
#stressor_answer { font-size: 30px; min-width: 220px; max-width: 260px; padding: 6px; }
#stressor_feedback { font-size: 26px; }
#stressor_feedback[tone="good"] { color: #1f7a3a; }
#stressor_feedback[tone="bad"] { color: #b3261e; }
#stressor_item_time::chunk { background: #8a6d3b; }
#task_heading { font-size: 22px; font-weight: 600; color: #4a545e; }
#time_left { font-size: 19px; color: #59626b; }
#task_text_frame { background: white; border: 1px solid #d0d4d8; border-radius: 6px; }
#task_text { font-size: 22px; line-height: 140%; padding: 10px; }
#task_question { font-size: 19px; font-weight: 600; }
#tools_heading { font-size: 19px; font-weight: 600; color: #4a545e; }
#answer { font-size: 20px; padding: 6px; }
QPushButton { padding: 6px 14px; }
#confirm_read, #submit_answer, #message_button, #break_continue { font-size: 19px; padding: 8px 18px; }
#break_countdown { font-size: 40px; color: #59626b; }
"""


class ParticipantWindow(QWidget):
    """The participant's full-screen window; one page at a time."""

    proceeded = Signal()  # the participant pressed the button of an instruction screen
    phase_finished = Signal(str)  # 'rest' | 'stressor' | 'break'
    task_finished = Signal(dict)  # presentation record from TaskView
    activity = Signal(str, str, float, str)  # feature_id, action, t, detail

    def __init__(self, *, clock: ClockFn = lsl_clock, stressor_seed: int = 0, parent=None):
        super().__init__(parent)
        self._clock = clock
        self.setObjectName("participant_window")
        self.setWindowTitle("labmrt")
        self.setAttribute(Qt.WA_StyledBackground, True)
        self.setStyleSheet(PARTICIPANT_STYLE)
        self.resize(1280, 800)
        self.setMinimumSize(900, 600)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        self.stack = QStackedWidget()
        layout.addWidget(self.stack)

        self.message = MessageScreen()
        self.message.proceeded.connect(self.proceeded)
        self.rest = RestScreen(clock=clock)
        self.rest.finished.connect(lambda: self.phase_finished.emit("rest"))
        self.stressor = StressorScreen(clock=clock, seed=stressor_seed)
        self.stressor.finished.connect(lambda: self.phase_finished.emit("stressor"))
        self.stressor.activity.connect(self.activity)
        self.break_screen = BreakScreen(clock=clock)
        self.break_screen.continued.connect(lambda: self.phase_finished.emit("break"))
        for page in (self.message, self.rest, self.stressor, self.break_screen):
            self.stack.addWidget(page)
        self.task_view: TaskView | None = None
        self._before_pause: QWidget | None = None

    # -- pages ----------------------------------------------------------------------
    def show_instructions(self, text: str, *, title: str = "Welcome", button: str = "Start"):
        self._show(self.message)
        self.message.show_message(title, text, button)

    def show_message(self, title: str, text: str = "") -> None:
        self._show(self.message)
        self.message.show_message(title, text, "")

    def show_rest(self, duration_s: float) -> None:
        self._show(self.rest)
        self.rest.start(duration_s)

    def show_stressor(self, duration_s: float) -> None:
        self._show(self.stressor)
        self.stressor.start(duration_s)

    def show_break(self, duration_s: float, *, auto_continue: bool = False, text: str = ""):
        self._show(self.break_screen)
        self.break_screen.start(duration_s, auto_continue=auto_continue, text=text)

    def show_task(self, task: TaskDisplay) -> TaskView:
        return self.show_built_task(self.build_task(task))

    def build_task(self, task: TaskDisplay) -> TaskView:
        """The task's view, built but not shown (building and showing are each a GUI-thread
        step of about 15 ms; the session's presenter runs them as two events)."""
        view = TaskView(task, clock=self._clock)
        view.finished.connect(self.task_finished)
        view.activity.connect(self.activity)
        return view

    def show_built_task(self, view: TaskView) -> TaskView:
        """Show a view from :meth:`build_task`; its time on screen starts now."""
        old = self.task_view
        self.task_view = view
        self.stack.addWidget(view)
        self._show(view)
        if old is not None:
            self.stack.removeWidget(old)
            old.deleteLater()
        view.start()
        return view

    def show_end(self, text: str = "") -> None:
        self._show(self.message)
        self.message.show_message(
            "Thank you",
            text or "You have finished. Please let the experimenter know.",
            "",
        )

    def pause(self, text: str = "") -> None:
        """Cover whatever is shown with a neutral wait screen (the experimenter paused)."""
        if self._before_pause is None:
            self._before_pause = self.stack.currentWidget()
        self._show(self.message)
        self.message.show_message("Please wait", text or "The experimenter will continue soon.")

    def resume(self) -> None:
        if self._before_pause is not None:
            self._show(self._before_pause)
            self._before_pause = None

    def show_full_screen_on(self, screen_index: int | None = None) -> None:
        """Full screen on the given (default: the last, i.e. second) monitor."""
        screens = QGuiApplication.screens()
        if screens:
            screen = screens[-1 if screen_index is None else screen_index % len(screens)]
            self.setScreen(screen)
            self.setGeometry(screen.geometry())
        self.showFullScreen()

    allow_close = False  # set by the app when it quits; the participant cannot close it

    def closeEvent(self, event) -> None:  # noqa: N802 - Qt override
        if self.allow_close:
            event.accept()
        else:
            event.ignore()

    # -- internals ------------------------------------------------------------------
    def _show(self, page: QWidget) -> None:
        current = self.stack.currentWidget()
        pausing = self._before_pause is not None
        if current is not page and isinstance(current, CountdownScreen) and not pausing:
            current.stop()
        self.stack.setCurrentWidget(page)

    def visible_text(self) -> str:
        """All text currently visible in the window (used to check that nothing leaks)."""
        from PySide6.QtWidgets import (
            QAbstractButton,
            QLineEdit,
            QPlainTextEdit,
            QTableWidget,
            QTextEdit,
        )

        parts: list[str] = [self.windowTitle()]
        for widget in self.findChildren(QWidget):
            if not widget.isVisibleTo(self):
                continue
            if isinstance(widget, QLabel | QAbstractButton):
                parts.append(widget.text())
            elif isinstance(widget, QLineEdit):
                parts += [widget.text(), widget.placeholderText()]
            elif isinstance(widget, QTextEdit | QPlainTextEdit):
                parts.append(widget.toPlainText())
            elif isinstance(widget, QTableWidget):
                for c in range(widget.columnCount()):
                    header = widget.horizontalHeaderItem(c)
                    parts.append(header.text() if header else "")
                    for r in range(widget.rowCount()):
                        item = widget.item(r, c)
                        parts.append(item.text() if item else "")
            parts.append(widget.toolTip())
        return "\n".join(p for p in parts if p)
