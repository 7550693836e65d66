"""Pages of the participant's window between tasks: a message (with a button), a break."""

from __future__ import annotations

from PySide6.QtCore import Qt, Signal
from PySide6.QtWidgets import QLabel, QPushButton, QVBoxLayout, QWidget

from labmrt.session.clock import ClockFn, lsl_clock
from ui.participant.countdown import CountdownScreen
from ui.widgets import format_clock


class MessageScreen(QWidget):
    """A title, a text and an optional button (Space/Enter also press it)."""

    proceeded = Signal()

    def __init__(self, parent=None):
        super().__init__(parent)
        self.setObjectName("message_screen")
        layout = QVBoxLayout(self)
        layout.setContentsMargins(80, 40, 80, 40)
        layout.addStretch(2)
        self.title = QLabel("")
        self.title.setObjectName("message_title")
        self.title.setAlignment(Qt.AlignCenter)
        self.title.setWordWrap(True)
        self.text = QLabel("")
        self.text.setObjectName("message_text")
        self.text.setAlignment(Qt.AlignCenter)
        self.text.setWordWrap(True)
        self.button = QPushButton("")
        self.button.setObjectName("message_button")
        self.button.clicked.connect(self._press)
        layout.addWidget(self.title)
        layout.addSpacing(16)
        layout.addWidget(self.text)
        layout.addSpacing(28)
        layout.addWidget(self.button, alignment=Qt.AlignCenter)
        layout.addStretch(3)

    def show_message(self, title: str, text: str, button: str = "") -> None:
        self.title.setText(title)
        self.text.setText(text)
        self.button.setText(button)
        self.button.setVisible(bool(button))
        if button:
            self.button.setFocus()

    def keyPressEvent(self, event) -> None:  # noqa: N802 - Qt override
        if event.key() in (Qt.Key_Space, Qt.Key_Return, Qt.Key_Enter):
            self._press()
        else:
            super().keyPressEvent(event)

    def _press(self) -> None:
        if self.button.isVisibleTo(self):
            self.button.setVisible(False)
            self.proceeded.emit()


class BreakScreen(CountdownScreen):
    """A break with a countdown; afterwards the participant continues (or it ends by itself)."""

    continued = Signal()

    def __init__(self, *, clock: ClockFn = lsl_clock, parent=None):
        super().__init__(clock=clock, parent=parent)
        self.setObjectName("break_screen")
        self.auto_continue = False
        layout = QVBoxLayout(self)
        layout.addStretch(2)
        self.title = QLabel("Short break")
        self.title.setObjectName("break_title")
        self.title.setAlignment(Qt.AlignCenter)
        self.text = QLabel("Relax for a moment. The next part starts when the time is up.")
        self.text.setObjectName("break_text")
        self.text.setAlignment(Qt.AlignCenter)
        self.text.setWordWrap(True)
        self.countdown = QLabel("")
        self.countdown.setObjectName("break_countdown")
        self.countdown.setAlignment(Qt.AlignCenter)
        self.continue_button = QPushButton("Continue")
        self.continue_button.setObjectName("break_continue")
        self.continue_button.setEnabled(False)
        self.continue_button.clicked.connect(self._continue)
        layout.addWidget(self.title)
        layout.addWidget(self.text)
        layout.addSpacing(20)
        layout.addWidget(self.countdown)
        layout.addWidget(self.continue_button, alignment=Qt.AlignCenter)
        layout.addStretch(3)
        self._countdown_over = False

    def start(self, duration_s: float, *, auto_continue: bool = False, text: str = "") -> None:
        self.auto_continue = auto_continue
        self._countdown_over = False
        if text:
            self.text.setText(text)
        self.continue_button.setEnabled(False)
        self.continue_button.setVisible(not auto_continue)
        super().start(duration_s)

    def _show_remaining(self, remaining: float) -> None:
        self.countdown.setText(format_clock(remaining))

    def _on_finished(self) -> None:
        self._countdown_over = True
        if self.auto_continue:
            self.continued.emit()
        else:
            self.continue_button.setEnabled(True)
            self.continue_button.setFocus()

    def _continue(self) -> None:
        if self._countdown_over:
            self.continue_button.setEnabled(False)
            self.continued.emit()
