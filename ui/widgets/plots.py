"""Live views of the physiology for the experimenter: signals, readouts, state, streams.

Everything here is pulled by a Qt timer on the GUI thread and is cheap: each
tick copies the last few seconds out of the stream buffers
(``get_data(winsize)``, which only takes a lock long enough to read indices)
and hands the arrays to pyqtgraph. Feature extraction and classification run
on the monitor's own thread; the widgets only read its latest
:class:`~labmrt.state.AffectState`. Nothing here blocks on the network.
"""

from __future__ import annotations

import math
from collections import deque
from collections.abc import Callable, Sequence
from typing import Any, Protocol

import numpy as np
import pyqtgraph as pg
from PySide6.QtCore import Qt, QTimer
from PySide6.QtGui import QColor
from PySide6.QtWidgets import (
    QGridLayout,
    QHeaderView,
    QLabel,
    QTableWidget,
    QTableWidgetItem,
    QVBoxLayout,
    QWidget,
)

from labmrt.state import AffectState
from ui.widgets.style import KIND_COLOURS, STATE_COLOURS


class BufferLike(Protocol):
    """What the plots need from a :class:`sensors.acquire.buffer.StreamBuffer`."""

    name: str
    kind: str | None
    source_id: str
    sfreq: float
    state: str
    observed_rate: float | None

    def get_data(self, winsize_s: float | None = None) -> tuple[np.ndarray, np.ndarray]: ...


StateGetter = Callable[[], AffectState | None]


def _fmt(value: float | None, unit: str, digits: int = 0) -> str:
    if value is None or not math.isfinite(value):
        return "–"
    return f"{value:.{digits}f} {unit}"


class SignalPlot(pg.PlotWidget):
    """The last ``window_s`` seconds of one stream, x in seconds before now."""

    def __init__(self, buffer: BufferLike, window_s: float = 10.0, parent=None):
        super().__init__(parent=parent)
        self.buffer = buffer
        self.window_s = window_s
        kind = (buffer.kind or "").lower()
        unit = "µS" if kind == "eda" else "a.u."
        self.setLabel("left", f"{kind.upper() or buffer.name}", units=None)
        self.getAxis("left").setWidth(48)
        self.setTitle(f"{buffer.name}  ({unit})", size="9pt")
        self.setMouseEnabled(x=False, y=False)
        self.setMenuEnabled(False)
        self.hideButtons()
        self.setXRange(-window_s, 0, padding=0)
        # The y range is set here, not auto-ranged: pyqtgraph's auto-range moves the
        # axis on every new chunk, which re-generates its ticks and label (about
        # half the cost of a frame at 20 frames a second, all on the GUI thread).
        self.enableAutoRange(x=False, y=False)
        for axis in ("left", "bottom"):
            self.getAxis(axis).enableAutoSIPrefix(False)
        self.y_range: tuple[float, float] | None = None
        self.setClipToView(True)
        self.setDownsampling(auto=True, mode="peak")
        self.curve = self.plot(pen=pg.mkPen(KIND_COLOURS.get(kind, "#333"), width=1))
        self.setMinimumHeight(90)

    def refresh(self) -> int:
        data, ts = self.buffer.get_data(self.window_s)
        if len(ts) == 0:
            self.curve.setData([], [])
            return 0
        self.curve.setData(ts - ts[-1], data, connect="finite")
        self.fit_y(data)
        return len(ts)

    def fit_y(self, data: np.ndarray) -> None:
        """Keep the trace in view; move the axis only when it leaves or shrinks to < 1/3.

        Hysteresis keeps the axis still from frame to frame, so its ticks are
        drawn from a cached picture instead of being re-generated 20 times a second.
        """
        values = np.asarray(data, dtype=float)
        if values.ndim > 1:
            values = values[:, 0]
        finite = values[np.isfinite(values)]
        if finite.size == 0:
            return
        lo, hi = float(finite.min()), float(finite.max())
        span = hi - lo if hi > lo else max(abs(hi), 1.0) * 1e-3
        current = self.y_range
        if current is not None:
            inside = lo >= current[0] and hi <= current[1]
            if inside and span >= (current[1] - current[0]) / 3:
                return
        pad = 0.15 * span
        self.y_range = (lo - pad, hi + pad)
        self.setYRange(*self.y_range, padding=0)


class StateHistoryPlot(pg.PlotWidget):
    """P(aroused) over the last minutes, each point coloured by its label."""

    def __init__(self, history_s: float = 300.0, parent=None):
        super().__init__(parent=parent)
        self.history_s = history_s
        self.points: deque[tuple[float, float, str]] = deque(maxlen=4000)
        self._brushes: dict[str, Any] = {}
        self.setLabel("left", "P(aroused)")
        self.setLabel("bottom", "seconds before now")
        self.getAxis("left").setWidth(48)
        # three ticks only: the strip is short, and 0 / 0.5 / 1 is all the operator reads
        self.getAxis("left").setTicks([[(0.0, "0"), (0.5, "0.5"), (1.0, "1")], []])
        self.setYRange(0, 1, padding=0.05)
        self.setXRange(-history_s, 0, padding=0)
        self.setMouseEnabled(x=False, y=False)
        self.setMenuEnabled(False)
        self.hideButtons()
        self.addLine(y=0.5, pen=pg.mkPen("#bbb", style=Qt.DashLine))
        self.line = self.plot(pen=pg.mkPen("#90a4ae", width=1))
        self.scatter = pg.ScatterPlotItem(size=5, pen=None)
        self.addItem(self.scatter)
        self.setMinimumHeight(90)

    def add(self, state: AffectState) -> bool:
        if state.p_aroused is None and state.label != "unknown":
            return False
        if self.points and state.t <= self.points[-1][0]:
            return False
        p = state.p_aroused if state.p_aroused is not None else float("nan")
        self.points.append((state.t, p, state.label))
        self._redraw()
        return True

    def _redraw(self) -> None:
        t_now = self.points[-1][0]
        pts = [p for p in self.points if p[0] >= t_now - self.history_s]
        x = np.array([p[0] - t_now for p in pts])
        y = np.array([p[1] for p in pts])
        self.line.setData(x, y, connect="finite")
        finite = np.isfinite(y)
        brushes = [self._brush(p[2]) for p, f in zip(pts, finite, strict=True) if f]
        self.scatter.setData(x=x[finite], y=y[finite], brush=brushes)

    def _brush(self, label: str):
        # one brush per label, reused: the whole history is redrawn on every new state
        brush = self._brushes.get(label)
        if brush is None:
            brush = self._brushes[label] = pg.mkBrush(STATE_COLOURS.get(label, "#757575"))
        return brush


class Readouts(QWidget):
    """Heart rate, RMSSD, skin conductance level and the current state in big type."""

    FIELDS = (
        ("hr", "Heart rate", "bpm", 0),
        ("rmssd", "RMSSD", "ms", 0),
        ("scl", "Skin conductance", "µS", 2),
    )

    def __init__(self, parent=None):
        super().__init__(parent)
        grid = QGridLayout(self)
        grid.setContentsMargins(4, 4, 4, 4)
        self.values: dict[str, QLabel] = {}
        for col, (key, title, _, _) in enumerate(self.FIELDS):
            caption = QLabel(title)
            caption.setStyleSheet("color: #666;")
            value = QLabel("–")
            value.setObjectName(f"readout_{key}")
            value.setStyleSheet("font-size: 20px; font-weight: 600;")
            grid.addWidget(caption, 0, col)
            grid.addWidget(value, 1, col)
            self.values[key] = value
        caption = QLabel("State")
        caption.setStyleSheet("color: #666;")
        self.state = QLabel("–")
        self.state.setObjectName("readout_state")
        grid.addWidget(caption, 0, len(self.FIELDS))
        grid.addWidget(self.state, 1, len(self.FIELDS))
        self.reason = QLabel("")
        self.reason.setObjectName("readout_reason")
        self.reason.setStyleSheet("color: #a15c00;")
        self.reason.setWordWrap(True)
        grid.addWidget(self.reason, 2, 0, 1, len(self.FIELDS) + 1)

    def show_state(self, state: AffectState | None) -> None:
        features = state.features if state else {}
        for key, _, unit, digits in self.FIELDS:
            self.values[key].setText(_fmt(features.get(key), unit, digits))
        if state is None:
            self.state.setText("–")
            self.reason.setText("")
            return
        p = "" if state.p_aroused is None else f"  p={state.p_aroused:.2f}"
        colour = STATE_COLOURS.get(state.label, "#757575")
        self.state.setText(f"{state.label}{p}")
        style = f"font-size: 20px; font-weight: 600; color: {colour};"
        if self.state.styleSheet() != style:  # a new style sheet re-polishes the widget
            self.state.setStyleSheet(style)
        self.reason.setText(state.reason)


class StreamTable(QTableWidget):
    """One row per stream: name, kind, state, observed rate, signal quality."""

    COLUMNS = ("Stream", "Kind", "Status", "Rate (Hz)", "Quality")

    def __init__(self, parent=None):
        super().__init__(0, len(self.COLUMNS), parent)
        self.setObjectName("stream_table")
        self.setHorizontalHeaderLabels(self.COLUMNS)
        self.verticalHeader().setVisible(False)
        self.setEditTriggers(QTableWidget.NoEditTriggers)
        self.setSelectionBehavior(QTableWidget.SelectRows)
        header = self.horizontalHeader()
        header.setSectionResizeMode(QHeaderView.ResizeToContents)
        header.setSectionResizeMode(0, QHeaderView.Stretch)
        self.setMinimumHeight(90)

    def show_streams(
        self, buffers: Sequence[BufferLike], quality: dict[str, float] | None = None
    ) -> None:
        quality = quality or {}
        self.setRowCount(len(buffers))
        for row, buf in enumerate(buffers):
            rate = buf.observed_rate
            q = quality.get(buf.kind or "")
            alive = buf.state == "streaming"
            cells: list[tuple[str, Any]] = [
                (buf.name, None),
                ((buf.kind or "?").upper(), None),
                (buf.state, "#2e7d32" if alive else "#c62828"),
                (f"{rate:.0f} / {buf.sfreq:g}" if rate else f"– / {buf.sfreq:g}", None),
                ("–" if q is None else f"{q:.2f}", None if q is None or q >= 0.5 else "#c62828"),
            ]
            for col, (text, colour) in enumerate(cells):
                item = self.item(row, col)
                if item is None:
                    item = QTableWidgetItem()
                    self.setItem(row, col, item)
                if item.text() != text:
                    item.setText(text)
                # only on a change: every setForeground re-measures the resize-to-contents columns
                brush = QColor(colour) if colour else self.palette().text().color()
                if item.foreground().color() != brush:
                    item.setForeground(brush)


class LiveSignals(QWidget):
    """Stacked signal plots + readouts + state history, refreshed by one timer.

    ``buffers`` are the connected stream buffers; ``state`` returns the
    monitor's latest state (or None). Signals are redrawn every
    ``interval_ms``; the readouts and the state history every ``state_every``
    ticks.
    """

    def __init__(
        self,
        buffers: Sequence[BufferLike] = (),
        state: StateGetter | None = None,
        *,
        window_s: float = 10.0,
        interval_ms: int = 50,
        state_every: int = 10,
        parent=None,
    ):
        super().__init__(parent)
        self.setObjectName("live_signals")
        self.window_s = window_s
        self._state_getter = state
        self._state_every = max(1, state_every)
        self._ticks = 0
        self.last_state: AffectState | None = None
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        self.readouts = Readouts()
        layout.addWidget(self.readouts)
        self._plot_box = QVBoxLayout()
        layout.addLayout(self._plot_box, 3)
        self.history = StateHistoryPlot()
        layout.addWidget(self.history, 1)
        self.plots: list[SignalPlot] = []
        self.placeholder = QLabel("No streams connected. Pick streams or start simulated sensors.")
        self.placeholder.setAlignment(Qt.AlignCenter)
        self.placeholder.setStyleSheet("color: #777;")
        self._plot_box.addWidget(self.placeholder)
        self.timer = QTimer(self)
        self.timer.setInterval(interval_ms)
        self.timer.timeout.connect(self.refresh)
        self.set_sources(buffers, state)

    def set_sources(self, buffers: Sequence[BufferLike], state: StateGetter | None = None) -> None:
        for plot in self.plots:
            self._plot_box.removeWidget(plot)
            plot.deleteLater()
        order = {"ecg": 0, "ppg": 1, "eda": 2}
        self.plots = [
            SignalPlot(b, self.window_s)
            for b in sorted(buffers, key=lambda b: order.get(b.kind or "", 9))
        ]
        for plot in self.plots:
            self._plot_box.addWidget(plot)
        self.placeholder.setVisible(not self.plots)
        if state is not None:
            self._state_getter = state
        if self.plots or self._state_getter is not None:
            self.timer.start()
        else:
            self.timer.stop()

    def refresh(self) -> None:
        for plot in self.plots:
            plot.refresh()
        self._ticks += 1
        if self._state_getter is not None and (self._ticks - 1) % self._state_every == 0:
            self.refresh_state()

    def refresh_state(self) -> AffectState | None:
        state = self._state_getter() if self._state_getter is not None else None
        self.last_state = state
        self.readouts.show_state(state)
        if state is not None:
            self.history.add(state)
        return state

    def stop(self) -> None:
        self.timer.stop()
