"""One task on the participant screen: the framed text, the features, the answer.

The view records what the per-protocol analysis needs (was the framing
received: confirmed by a click, or read for at least the minimum dwell time)
and hands back a presentation record when the task ends (answer submitted or
time limit reached). It shows only the framed text it is given: which framing
that is, and why, is never visible here.
"""

from __future__ import annotations

from PySide6.QtCore import Qt, QTimer, Signal
from PySide6.QtGui import QKeySequence, QShortcut
from PySide6.QtWidgets import (
    QButtonGroup,
    QFrame,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QPushButton,
    QRadioButton,
    QScrollArea,
    QSizePolicy,
    QVBoxLayout,
    QWidget,
)

from labmrt.session.clock import ClockFn, lsl_clock
from labmrt.session.display import CONTROLS, FeatureSpec, TaskDisplay
from ui.participant.features import FeatureWidget, make_feature
from ui.widgets import format_clock


class TaskView(QWidget):
    """Shows one :class:`TaskDisplay`; emits ``finished(record)`` once."""

    finished = Signal(dict)
    activity = Signal(str, str, float, str)  # feature_id, action, t, detail

    def __init__(self, task: TaskDisplay, *, clock: ClockFn = lsl_clock, parent=None):
        super().__init__(parent)
        if task.control not in CONTROLS:
            raise ValueError(f"unknown control {task.control!r}; use one of {CONTROLS}")
        self.task = task
        self._clock = clock
        self._done = False
        self.shown_t: float | None = None
        self.confirmed = False
        self.received_t: float | None = None
        self.first_interaction_t: float | None = None
        self.setObjectName("task_view")
        self._build()

    # -- layout ---------------------------------------------------------------------
    def _build(self) -> None:
        task = self.task
        outer = QHBoxLayout(self)
        outer.setContentsMargins(24, 18, 24, 18)
        outer.setSpacing(18)

        left = QVBoxLayout()
        left.setSpacing(12)
        top = QHBoxLayout()
        self.heading = QLabel(task.heading or f"Task {task.task_index + 1}")
        self.heading.setObjectName("task_heading")
        top.addWidget(self.heading)
        top.addStretch(1)
        self.time_left = QLabel("")
        self.time_left.setObjectName("time_left")
        self.time_left.setMinimumWidth(150)
        self.time_left.setAlignment(Qt.AlignRight | Qt.AlignVCenter)
        top.addWidget(self.time_left)
        left.addLayout(top)

        self.framing = QLabel(task.text)
        self.framing.setObjectName("task_text")
        self.framing.setWordWrap(True)
        self.framing.setTextFormat(Qt.PlainText)
        self.framing.setAlignment(Qt.AlignLeft | Qt.AlignTop)
        self.framing.setSizePolicy(QSizePolicy.Preferred, QSizePolicy.Minimum)
        frame = QFrame()
        frame.setObjectName("task_text_frame")
        frame_layout = QVBoxLayout(frame)
        frame_layout.addWidget(self.framing)
        left.addWidget(frame)

        self.confirm = QPushButton("I have read the task  (Ctrl+Enter)")
        self.confirm.setObjectName("confirm_read")
        self.confirm.setVisible(task.control == "confirm")
        self.confirm.clicked.connect(self.confirm_read)
        left.addWidget(self.confirm, alignment=Qt.AlignLeft)
        QShortcut(QKeySequence("Ctrl+Return"), self, activated=self.confirm_read)

        left.addWidget(self._answer_area())

        # A comparison table is the task's own data: it opens under the task, where there
        # is room for it; the other tools stack in the column on the right.
        self.feature_widgets: dict[str, FeatureWidget] = {}
        for spec in task.features:
            if spec.kind in ("comparison_table", "table"):
                widget = make_feature(spec, clock=self._clock)
                widget.activity.connect(self._feature_activity)
                left.addWidget(widget)
                self.feature_widgets[spec.id] = widget
        left.addStretch(1)
        outer.addLayout(left, 3)

        tools_specs = [s for s in task.features if s.id not in self.feature_widgets]
        if tools_specs:
            outer.addWidget(self._tools_panel(tools_specs), 2)

        self._locked = task.control == "confirm"
        self._set_workspace_enabled(not self._locked)
        self._tick = QTimer(self)
        self._tick.setInterval(200)
        self._tick.timeout.connect(self._update_time)

    def _answer_area(self) -> QWidget:
        """The question and the answer (a line or choices), locked until the task is read."""
        task = self.task
        self.workspace = QWidget()
        self.workspace.setObjectName("answer_area")
        work = QVBoxLayout(self.workspace)
        work.setContentsMargins(0, 0, 0, 0)
        if task.question:
            question = QLabel(task.question)
            question.setObjectName("task_question")
            question.setWordWrap(True)
            work.addWidget(question)
        self.answer_edit: QLineEdit | None = None
        self.choice_group: QButtonGroup | None = None
        if task.answer_kind == "choice" and task.choices:
            self.choice_group = QButtonGroup(self)
            for i, choice in enumerate(task.choices):
                radio = QRadioButton(choice)
                radio.setObjectName(f"choice_{i}")
                self.choice_group.addButton(radio, i)
                work.addWidget(radio, alignment=Qt.AlignLeft)
            self.choice_group.idClicked.connect(lambda _i: self._interacted())
        else:
            self.answer_edit = QLineEdit()
            self.answer_edit.setObjectName("answer")
            self.answer_edit.setPlaceholderText(
                "Type a number" if task.answer_kind == "number" else "Type your answer"
            )
            self.answer_edit.textEdited.connect(lambda _t: self._interacted())
            self.answer_edit.returnPressed.connect(self.submit)
            work.addWidget(self.answer_edit)
        self.submit_button = QPushButton("Submit answer")
        self.submit_button.setObjectName("submit_answer")
        self.submit_button.clicked.connect(self.submit)
        work.addWidget(self.submit_button, alignment=Qt.AlignRight)
        return self.workspace

    def _tools_panel(self, specs: list[FeatureSpec]) -> QScrollArea:
        """The information system's tools, stacked in a scrollable column right of the task."""
        panel = QWidget()
        panel.setObjectName("feature_panel")
        column = QVBoxLayout(panel)
        column.setContentsMargins(0, 0, 0, 0)
        tools = QLabel("Tools")
        tools.setObjectName("tools_heading")
        column.addWidget(tools)
        for spec in specs:
            widget = make_feature(spec, clock=self._clock)
            widget.activity.connect(self._feature_activity)
            column.addWidget(widget)
            self.feature_widgets[spec.id] = widget
        column.addStretch(1)
        scroll = QScrollArea()
        scroll.setObjectName("feature_scroll")
        scroll.setWidgetResizable(True)
        scroll.setFrameShape(QFrame.NoFrame)
        scroll.setWidget(panel)
        scroll.setMinimumWidth(300)
        return scroll

    # -- lifecycle ------------------------------------------------------------------
    def start(self) -> None:
        """Mark the task as shown now and start the time limit."""
        self.shown_t = float(self._clock())
        if self.task.time_limit_s:
            self._tick.start()
            self._update_time()
        if self.answer_edit is not None and not self._locked:
            self.answer_edit.setFocus()
        else:
            self.confirm.setFocus()

    def confirm_read(self) -> None:
        if self._done or self.task.control != "confirm" or self.confirmed:
            return
        self.confirmed = True
        self.received_t = float(self._clock())
        self.confirm.setVisible(False)
        self._locked = False
        self._set_workspace_enabled(True)
        if self.answer_edit is not None:
            self.answer_edit.setFocus()

    def answer(self) -> str | None:
        if self.answer_edit is not None:
            text = self.answer_edit.text().strip()
            return text or None
        if self.choice_group is not None:
            button = self.choice_group.checkedButton()
            return button.text() if button else None
        return None

    def submit(self) -> None:
        if self._done or self._locked:
            return
        if self.answer() is None:
            self.submit_button.setText("Please give an answer first")
            return
        self._interacted()
        self._finish(timed_out=False)

    def end_now(self) -> None:
        """End the task at once (the session is being stopped); keeps what was typed."""
        self._finish(timed_out=False)

    def _finish(self, *, timed_out: bool) -> None:
        if self._done:
            return
        self._done = True
        self._tick.stop()
        for widget in self.feature_widgets.values():
            widget.close_panel("task_end")
        end_t = float(self._clock())
        shown = self.shown_t if self.shown_t is not None else end_t
        answer = self.answer()
        dwell = None
        if self.task.control == "dwell":
            first = self.first_interaction_t if self.first_interaction_t is not None else end_t
            dwell = max(0.0, first - shown)
            received = dwell >= self.task.min_dwell_s
            received_t = shown + self.task.min_dwell_s if received else None
        elif self.task.control == "confirm":
            received, received_t = self.confirmed, self.received_t
        else:
            received, received_t = True, shown
        record = {
            "decision_point": self.task.decision_point,
            "task_index": self.task.task_index,
            "task_id": self.task.task_id,
            "shown_t": shown,
            "received": bool(received),
            "received_t": received_t,
            "dwell_s": dwell,
            "confirmed": bool(self.confirmed),
            "answer": answer,
            "answer_t": end_t if (answer is not None and not timed_out) else None,
            "end_t": end_t,
            "timed_out": timed_out,
        }
        self._set_workspace_enabled(False)
        self.confirm.setEnabled(False)
        self.finished.emit(record)

    # -- internals ------------------------------------------------------------------
    def _interacted(self) -> None:
        if self.first_interaction_t is None:
            self.first_interaction_t = float(self._clock())

    def _feature_activity(self, feature: str, action: str, t: float, detail: str) -> None:
        self._interacted()
        self.activity.emit(feature, action, t, detail)

    def _set_workspace_enabled(self, enabled: bool) -> None:
        self.workspace.setEnabled(enabled)
        for widget in self.feature_widgets.values():
            widget.setEnabled(enabled)

    def remaining_s(self) -> float | None:
        if not self.task.time_limit_s or self.shown_t is None:
            return None
        return max(0.0, self.task.time_limit_s - (float(self._clock()) - self.shown_t))

    def _update_time(self) -> None:
        remaining = self.remaining_s()
        if remaining is None:
            return
        self.time_left.setText(f"Time left {format_clock(remaining)}")
        if remaining <= 0:
            self._finish(timed_out=True)
