"""Calibration screens: a calm rest with a countdown, and a timed arithmetic stressor.

The affect classifier is calibrated per participant on a rest block (calm) and
a stressor block (aroused). The stressor follows the Montreal Imaging Stress
Task idea (Dedovic et al., 2005): mental arithmetic under a time limit that
tightens after correct answers, with immediate feedback. Every stressor answer
is reported as an ``activity`` so the calibration record shows what happened.
"""

from __future__ import annotations

import json
import random
from dataclasses import dataclass

from PySide6.QtCore import Qt, QTimer, Signal
from PySide6.QtWidgets import (
    QLabel,
    QLineEdit,
    QProgressBar,
    QVBoxLayout,
)

from labmrt.session.clock import ClockFn, lsl_clock
from ui.participant.countdown import CountdownScreen
from ui.widgets import format_clock


class RestScreen(CountdownScreen):
    """A calm, low-contrast screen asking the participant to sit still and breathe."""

    def __init__(self, *, clock: ClockFn = lsl_clock, parent=None):
        super().__init__(clock=clock, parent=parent)
        self.setObjectName("rest_screen")
        self.setAttribute(Qt.WA_StyledBackground, True)
        layout = QVBoxLayout(self)
        layout.addStretch(2)
        title = QLabel("Please relax")
        title.setObjectName("calm_title")
        title.setAlignment(Qt.AlignCenter)
        text = QLabel(
            "Sit comfortably, keep your hands still and breathe calmly.\n"
            "There is nothing to do until the screen changes."
        )
        text.setObjectName("calm_text")
        text.setAlignment(Qt.AlignCenter)
        text.setWordWrap(True)
        self.countdown = QLabel("")
        self.countdown.setObjectName("calm_countdown")
        self.countdown.setAlignment(Qt.AlignCenter)
        layout.addWidget(title)
        layout.addWidget(text)
        layout.addSpacing(24)
        layout.addWidget(self.countdown)
        layout.addStretch(3)

    def _show_remaining(self, remaining: float) -> None:
        self.countdown.setText(format_clock(remaining))


@dataclass(frozen=True)
class Problem:
    text: str
    answer: int


def make_problem(rng: random.Random, level: int) -> Problem:
    """A mental-arithmetic item; ``level`` 0..3 widens the operands."""
    hi = (20, 50, 99, 199)[max(0, min(level, 3))]
    op = rng.choice("+-×")
    if op == "×":
        a, b = rng.randint(3, 9 + 3 * level), rng.randint(6, 19)
        return Problem(f"{a} × {b}", a * b)
    a, b = rng.randint(10, hi), rng.randint(7, hi)
    if op == "-":
        a, b = max(a, b), min(a, b)
        return Problem(f"{a} − {b}", a - b)
    return Problem(f"{a} + {b}", a + b)


class StressorScreen(CountdownScreen):
    """Timed mental arithmetic with feedback and a per-item limit that adapts.

    After a correct answer the item limit shrinks by 10% (never under 2 s), after
    a wrong or late one it grows by 10% (never over the start limit), which keeps
    the participant failing often enough to be stressed.
    """

    activity = Signal(str, str, float, str)  # "stressor", "use", t, detail

    def __init__(
        self,
        *,
        clock: ClockFn = lsl_clock,
        seed: int = 0,
        item_limit_s: float = 7.0,
        feedback_ms: int = 700,
        parent=None,
    ):
        super().__init__(clock=clock, parent=parent)
        self.setObjectName("stressor_screen")
        self._rng = random.Random(seed)
        self.start_limit_s = float(item_limit_s)
        self.item_limit_s = float(item_limit_s)
        self.feedback_ms = feedback_ms
        self.results: list[dict] = []
        self.problem: Problem | None = None
        self._problem_t = 0.0
        self._streak = 0
        layout = QVBoxLayout(self)
        layout.setContentsMargins(40, 30, 40, 30)
        top = QLabel("Solve each problem in your head, as fast as you can.")
        top.setObjectName("stressor_instructions")
        top.setAlignment(Qt.AlignCenter)
        top.setWordWrap(True)
        self.countdown = QLabel("")
        self.countdown.setObjectName("stressor_countdown")
        self.countdown.setAlignment(Qt.AlignRight)
        layout.addWidget(self.countdown)
        layout.addWidget(top)
        layout.addStretch(1)
        self.problem_label = QLabel("")
        self.problem_label.setObjectName("stressor_problem")
        self.problem_label.setAlignment(Qt.AlignCenter)
        layout.addWidget(self.problem_label)
        self.item_bar = QProgressBar()
        self.item_bar.setObjectName("stressor_item_time")
        self.item_bar.setTextVisible(False)
        self.item_bar.setRange(0, 1000)
        self.item_bar.setMaximumHeight(10)
        self.item_bar.setFixedWidth(420)
        layout.addWidget(self.item_bar, alignment=Qt.AlignCenter)
        self.answer_edit = QLineEdit()
        self.answer_edit.setObjectName("stressor_answer")
        self.answer_edit.setAlignment(Qt.AlignCenter)
        self.answer_edit.setPlaceholderText("answer, then Enter")
        self.answer_edit.returnPressed.connect(self.submit)
        layout.addWidget(self.answer_edit, alignment=Qt.AlignCenter)
        self.feedback = QLabel("")
        self.feedback.setObjectName("stressor_feedback")
        self.feedback.setAlignment(Qt.AlignCenter)
        layout.addWidget(self.feedback)
        self.score = QLabel("")
        self.score.setObjectName("stressor_score")
        self.score.setAlignment(Qt.AlignCenter)
        layout.addWidget(self.score)
        layout.addStretch(2)
        self._next_timer = QTimer(self)
        self._next_timer.setSingleShot(True)
        self._next_timer.timeout.connect(self._next_problem)

    def start(self, duration_s: float) -> None:
        self.results.clear()
        self.item_limit_s = self.start_limit_s
        super().start(duration_s)
        self._next_problem()

    def _next_problem(self) -> None:
        if self._done:
            return
        level = min(3, self._streak // 3 + 1)
        self.problem = make_problem(self._rng, level)
        self._problem_t = float(self._clock())
        self.problem_label.setText(f"{self.problem.text} = ?")
        self.feedback.setText("")
        self.feedback.setProperty("tone", "")
        self.answer_edit.clear()
        self.answer_edit.setEnabled(True)
        self.answer_edit.setFocus()

    def submit(self) -> None:
        if self._done or self.problem is None or not self.answer_edit.isEnabled():
            return
        text = self.answer_edit.text().strip().replace("−", "-")
        try:
            given: int | None = int(text)
        except ValueError:
            given = None
        self._score(given, late=False)

    def _score(self, given: int | None, *, late: bool) -> None:
        assert self.problem is not None
        t = float(self._clock())
        correct = (given == self.problem.answer) and not late
        if correct:
            self._streak += 1
            self.item_limit_s = max(2.0, self.item_limit_s * 0.9)
            message, tone = "Correct", "good"
        else:
            self._streak = 0
            self.item_limit_s = min(self.start_limit_s, self.item_limit_s * 1.1)
            message = "Too slow" if late else "Wrong"
            message += f": {self.problem.text} = {self.problem.answer}"
            tone = "bad"
        result = {
            "problem": self.problem.text,
            "answer": given,
            "correct": correct,
            "late": late,
            "rt_s": round(t - self._problem_t, 3),
        }
        self.results.append(result)
        self.activity.emit("stressor", "use", t, json.dumps(result, sort_keys=True))
        self.feedback.setText(message)
        self.feedback.setProperty("tone", tone)
        self.feedback.style().unpolish(self.feedback)
        self.feedback.style().polish(self.feedback)
        n_ok = sum(r["correct"] for r in self.results)
        self.score.setText(f"{n_ok} of {len(self.results)} correct")
        self.answer_edit.setEnabled(False)
        self._next_timer.start(self.feedback_ms)

    def _show_remaining(self, remaining: float) -> None:
        self.countdown.setText(format_clock(remaining))
        if self.problem is not None and self.answer_edit.isEnabled():
            used = float(self._clock()) - self._problem_t
            self.item_bar.setValue(int(1000 * max(0.0, 1 - used / self.item_limit_s)))
            if used >= self.item_limit_s:
                self._score(None, late=True)

    def _on_finished(self) -> None:
        self._next_timer.stop()
        self.answer_edit.setEnabled(False)
        self.problem_label.setText("Done")
        self.feedback.setText("")
