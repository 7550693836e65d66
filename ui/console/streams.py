"""Pick the participant's LSL streams from what is on the network (or simulate them).

Resolving streams waits on the network for a second, so it runs in the
background (:mod:`ui.widgets.worker`); the list fills in when the answer arrives.
ECG/PPG/EDA/RR/HR streams are ticked by default, one per kind; the kind column
and tooltips say which channel carries what (``sensors.acquire.channels``).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

from PySide6.QtCore import Qt, Signal
from PySide6.QtWidgets import (
    QHBoxLayout,
    QHeaderView,
    QLabel,
    QTableWidget,
    QTableWidgetItem,
    QVBoxLayout,
    QWidget,
)

from ui.widgets import Job, button, run_in_background


def _find_streams(timeout: float):
    from sensors.acquire import find_streams

    return find_streams(timeout=timeout)


class StreamPicker(QWidget):
    """A ticked list of discovered streams, a refresh button and a one-click simulation."""

    simulate_requested = Signal()
    streams_found = Signal(list)

    COLUMNS = ("Use", "Stream", "Kind", "Rate (Hz)")

    def __init__(
        self,
        finder: Callable[[float], Sequence] = _find_streams,
        *,
        timeout: float = 1.0,
        parent=None,
    ):
        super().__init__(parent)
        self._finder = finder
        self._timeout = timeout
        self.descriptions: list = []
        self._job: Job | None = None
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        self.table = QTableWidget(0, len(self.COLUMNS))
        self.table.setObjectName("stream_picker")
        self.table.setHorizontalHeaderLabels(self.COLUMNS)
        self.table.verticalHeader().setVisible(False)
        self.table.setEditTriggers(QTableWidget.NoEditTriggers)
        header = self.table.horizontalHeader()
        header.setSectionResizeMode(QHeaderView.ResizeToContents)
        header.setSectionResizeMode(1, QHeaderView.Stretch)
        self.table.setMinimumHeight(80)
        self.table.setMaximumHeight(150)
        layout.addWidget(self.table)
        row = QHBoxLayout()
        self.refresh_button = button(
            "Find streams",
            self.refresh,
            name="find_streams",
            tooltip="Look for ECG, PPG and EDA streams on the network (Ctrl+L)",
        )
        self.simulate_button = button(
            "Start simulated sensors",
            self.simulate_requested,
            name="simulate_sensors",
            tooltip="Stream simulated ECG and EDA from this computer",
        )
        self.status = QLabel("")
        self.status.setObjectName("stream_status")
        row.addWidget(self.refresh_button)
        row.addWidget(self.simulate_button)
        row.addStretch(1)
        layout.addLayout(row)
        self.status.setWordWrap(True)
        layout.addWidget(self.status)

    def refresh(self) -> Job | None:
        if self._job is not None and self._job.running:
            return self._job
        self.refresh_button.setEnabled(False)
        self.status.setText("Looking for streams…")
        self._job = run_in_background(
            self._finder, self._timeout, on_done=self.set_streams, on_error=self._failed
        )
        self._job.ended.connect(lambda: self.refresh_button.setEnabled(True))
        return self._job

    def _failed(self, message: str, _details: str) -> None:
        self.status.setText(f"Could not look for streams: {message}")

    def set_streams(self, descriptions: Sequence, select: Sequence[str] = ()) -> None:
        """Show ``descriptions``; tick those whose source id is in ``select``
        (default: the first of each kind)."""
        from sensors.acquire import signal_summary

        self.descriptions = list(descriptions)
        self.table.setRowCount(len(self.descriptions))
        seen: set[str] = set()
        for r, desc in enumerate(self.descriptions):
            # what the stream carries, by its channel metadata (a hub: ECG+EDA)
            kinds, why = signal_summary(desc)
            tick = QTableWidgetItem()
            tick.setFlags(Qt.ItemIsUserCheckable | Qt.ItemIsEnabled)
            chosen = desc.source_id in select if select else not set(kinds) <= seen
            tick.setCheckState(Qt.Checked if chosen else Qt.Unchecked)
            seen.update(kinds)
            self.table.setItem(r, 0, tick)
            shown = "+".join(k.upper() for k in kinds) or "?"
            for c, text in enumerate((desc.name, shown, f"{desc.nominal_srate:g}"), start=1):
                item = QTableWidgetItem(text)
                item.setToolTip(f"source id {desc.source_id}" + (f"\n{why}" if why else ""))
                self.table.setItem(r, c, item)
        n = len(self.descriptions)
        self.status.setText(
            f"{n} stream{'s' if n != 1 else ''} found" if n else "No ECG/PPG/EDA streams found"
        )
        self.streams_found.emit(self.descriptions)

    def selected(self) -> list:
        return [
            desc
            for r, desc in enumerate(self.descriptions)
            if self.table.item(r, 0).checkState() == Qt.Checked
        ]
