"""A timed screen of the participant's: the calibration's rest and stressor, and breaks.

The time left is read from the injected clock on every tick (never counted in
ticks), so a screen ends when its time is up even if the GUI thread was busy.
"""

from __future__ import annotations

from PySide6.QtCore import QTimer, Signal
from PySide6.QtWidgets import QWidget

from labmrt.session.clock import ClockFn, lsl_clock


class CountdownScreen(QWidget):
    """A timed screen: ``start(duration_s)``, shows the time left, emits ``finished`` once."""

    finished = Signal()

    def __init__(self, *, clock: ClockFn = lsl_clock, parent=None):
        super().__init__(parent)
        self._clock = clock
        self.duration_s = 0.0
        self.started_t: float | None = None
        self._done = True
        self._tick = QTimer(self)
        self._tick.setInterval(100)
        self._tick.timeout.connect(self._update)

    def start(self, duration_s: float) -> None:
        self.duration_s = float(duration_s)
        self.started_t = float(self._clock())
        self._done = False
        self._tick.start()
        self._update()

    def stop(self) -> None:
        self._tick.stop()
        self._done = True

    def remaining_s(self) -> float:
        if self.started_t is None:
            return self.duration_s
        return max(0.0, self.duration_s - (float(self._clock()) - self.started_t))

    def _update(self) -> None:
        remaining = self.remaining_s()
        self._show_remaining(remaining)
        if remaining <= 0 and not self._done:
            self._tick.stop()
            self._done = True
            self._on_finished()
            self.finished.emit()

    def _show_remaining(self, remaining: float) -> None:  # pragma: no cover - abstract
        raise NotImplementedError

    def _on_finished(self) -> None:
        """Hook called just before ``finished`` is emitted."""
