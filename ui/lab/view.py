"""The console's lab view: one tile per station of the study, and the commands to run them.

Everything the view shows comes from a :class:`labmrt.lab.console.LabConsole`
(which hears the stations' heartbeats and acknowledgements on LSL); the view
only draws it. A timer polls the console every 100 ms; polling never blocks
(the LSL inlets live on the console link's own thread), so the GUI thread
stays free with many stations streaming (``bench/bench_lab_console.py``).
A tile is redrawn when its station said something new or its online state
changed, and is marked offline after 3 s without a heartbeat. The console
believes only heartbeats sealed with the study key; what it ignored is
summed up under the header (plain text: stream and host names are chosen by
whoever sent them). A tile that cannot be drawn is logged and skipped, so the
others keep refreshing.
"""

from __future__ import annotations

import logging
from typing import Any

from PySide6.QtCore import Qt, QTimer
from PySide6.QtWidgets import (
    QDialog,
    QFrame,
    QGridLayout,
    QHBoxLayout,
    QInputDialog,
    QLabel,
    QProgressBar,
    QPushButton,
    QTableView,
    QVBoxLayout,
    QWidget,
)

from labmrt.lab.console import LabConsole
from labmrt.lab.logbook import RateLimit
from labmrt.state import AffectState
from ui.widgets import STATE_COLOURS, DecisionLogModel, Readouts, StateHistoryPlot

TILE_STYLE = """
#station_tile { background: #fafafa; border: 1px solid #cfd8dc; border-radius: 6px; }
#station_tile[offline="true"] { background: #eceff1; border: 1px dashed #90a4ae; }
#tile_title { font-size: 15px; font-weight: 600; }
#tile_alerts { color: #b3261e; }
#tile_online { font-weight: 600; }
"""
COLUMNS = 4
log = logging.getLogger(__name__)


def _quality_text(quality: dict[str, float]) -> str:
    if not quality:
        return "signal: none"
    return "signal: " + "  ".join(f"{k.upper()} {v:.2f}" for k, v in sorted(quality.items()))


class StationTile(QFrame):
    """One station: who, how far, state, signal, alerts, and its command buttons."""

    def __init__(self, name: str, view: LabView):
        super().__init__()
        self.name = name
        self.lab = view
        self.setObjectName("station_tile")
        self.setMinimumWidth(260)
        self.title = QLabel(name, objectName="tile_title")
        self.online_label = QLabel("", objectName="tile_online")
        self.participant = QLabel("")
        self.phase = QLabel("")
        self.progress = QProgressBar()
        self.progress.setTextVisible(True)
        self.state = QLabel("")
        self.quality = QLabel("")
        self.alerts = QLabel("", objectName="tile_alerts")
        self.alerts.setTextFormat(Qt.PlainText)
        self.alerts.setWordWrap(True)
        self.buttons: dict[str, QPushButton] = {}
        rows = (QHBoxLayout(), QHBoxLayout())
        for i, (key, text) in enumerate(
            (
                ("start", "Start"),
                ("pause", "Pause"),
                ("resume", "Resume"),
                ("abort", "Abort…"),
                ("live", "Live"),
                ("log", "Decisions"),
            )
        ):
            button = QPushButton(text)
            button.setObjectName(f"{key}_button")
            rows[i // 3].addWidget(button)
            self.buttons[key] = button
        self.buttons["start"].clicked.connect(lambda: self.lab.start(self.name))
        self.buttons["pause"].clicked.connect(lambda: self.lab.console.pause(self.name))
        self.buttons["resume"].clicked.connect(lambda: self.lab.console.resume(self.name))
        self.buttons["abort"].clicked.connect(self._ask_abort)
        self.buttons["log"].clicked.connect(lambda: self.lab.open_decision_log(self.name))
        self.buttons["live"].clicked.connect(lambda: self.lab.open_live(self.name))
        head = QHBoxLayout()
        head.addWidget(self.title)
        head.addStretch(1)
        head.addWidget(self.online_label)
        layout = QVBoxLayout(self)
        layout.addLayout(head)
        for widget in (self.participant, self.phase, self.progress, self.state, self.quality):
            layout.addWidget(widget)
        layout.addWidget(self.alerts)
        for row in rows:
            layout.addLayout(row)

    def _ask_abort(self) -> None:
        reason, ok = QInputDialog.getText(
            self, f"Abort {self.name}", "Reason (kept with the data):"
        )
        if ok and reason.strip():
            self.lab.console.abort(self.name, reason.strip())

    def update_from(self, status: dict[str, Any], online: bool, alerts: list[str]) -> None:
        self.setProperty("offline", "false" if online else "true")
        self.style().unpolish(self)
        self.style().polish(self)
        self.online_label.setText("online" if online else "OFFLINE")
        self.online_label.setStyleSheet(f"color: {'#2e7d32' if online else '#b3261e'}")
        code = status.get("participant") or "—"
        session = status.get("status", "?")
        self.participant.setText(f"participant: {code}   ({session})")
        phase = status.get("phase") or ""
        self.phase.setText(f"phase: {phase}" if phase else "phase: —")
        done, total = int(status.get("task_k") or 0), int(status.get("task_n") or 0)
        self.progress.setRange(0, max(total, 1))
        self.progress.setValue(min(done, max(total, 1)))
        self.progress.setFormat(f"task {done} of {total}" if total else "no session")
        label = status.get("affect_state") or "unknown"
        colour = STATE_COLOURS.get(label, STATE_COLOURS["unknown"])
        p = status.get("p_aroused")
        extra = f" (p aroused {p:.2f})" if isinstance(p, int | float) else ""
        self.state.setText(f"state: <b style='color:{colour}'>{label}</b>{extra}")
        self.quality.setText(_quality_text(status.get("quality") or {}))
        warnings = [*status.get("warnings", []), *alerts]
        interrupted = status.get("interrupted") or []
        if interrupted:
            warnings.append("interrupted: " + ", ".join(interrupted) + " (Start resumes)")
        if not online:
            warnings.insert(0, "no heartbeat for 3 s")
        self.alerts.setText("\n".join(warnings))
        running = session in ("starting", "running", "resumed", "paused")
        self.buttons["start"].setEnabled(online and not running)
        for key in ("pause", "abort"):
            self.buttons[key].setEnabled(online and running)
        self.buttons["resume"].setEnabled(online and session == "paused")


def state_of(status: dict[str, Any]) -> AffectState | None:
    """The affective state a heartbeat carried (None when it carried none)."""
    t = status.get("state_t")
    if not isinstance(t, int | float):
        return None
    return AffectState(
        t=float(t),
        label=status.get("affect_state") or "unknown",
        p_aroused=status.get("p_aroused"),
        features=dict(status.get("features") or {}),
        quality=dict(status.get("quality") or {}),
        reason=str(status.get("state_reason") or ""),
    )


class StationLive(QDialog):
    """A station's state as its heartbeats tell it: readouts and P(aroused) over 5 minutes."""

    def __init__(self, name: str, history, parent=None):
        super().__init__(parent)
        self.setWindowTitle(f"Live: {name}")
        self.readouts = Readouts(self)
        self.plot = StateHistoryPlot(parent=self)
        self.quality = QLabel("")
        layout = QVBoxLayout(self)
        layout.addWidget(self.readouts)
        layout.addWidget(self.plot)
        layout.addWidget(self.quality)
        self.resize(640, 300)
        for status in history:
            self.add(status)

    def add(self, status: dict[str, Any]) -> None:
        state = state_of(status)
        self.readouts.show_state(state)
        self.quality.setText(_quality_text(status.get("quality") or {}))
        if state is not None:
            self.plot.add(state)


class LabView(QWidget):
    """The lab: a grid of :class:`StationTile`, refreshed from a :class:`LabConsole`."""

    def __init__(self, console: LabConsole, *, poll_ms: int = 100, parent=None):
        super().__init__(parent)
        self.console = console
        self.setWindowTitle(f"labmrt lab: {console.study.title}")
        self.setStyleSheet(TILE_STYLE)
        self.tiles: dict[str, StationTile] = {}
        self._online: dict[str, bool] = {}
        self.header = QLabel("")
        self.header.setObjectName("progress_label")
        self.notices = QLabel("", objectName="lab_notices")
        self.notices.setTextFormat(Qt.PlainText)
        self.notices.setWordWrap(True)
        self.grid = QGridLayout()
        self.grid.setAlignment(Qt.AlignTop | Qt.AlignLeft)
        layout = QVBoxLayout(self)
        layout.addWidget(self.header)
        layout.addWidget(self.notices)
        layout.addLayout(self.grid)
        layout.addStretch(1)
        self.logs: list[QDialog] = []
        self.live: dict[str, StationLive] = {}
        self._trouble = RateLimit(per_s=0.1, burst=3)
        self.timer = QTimer(self)
        self.timer.timeout.connect(self.refresh)
        self.timer.start(poll_ms)
        self.refresh()

    def refresh(self) -> None:
        changed = self.console.poll()
        now = self.console.clock()
        for name, station in sorted(self.console.stations.items()):
            try:
                self._refresh_tile(name, station, now, changed)
            except Exception:  # noqa: BLE001 - one tile never stops the others
                if self._trouble.allow()[0]:
                    log.exception("lab view: the tile of %s", name)
        n_on = sum(self._online.values())
        self.header.setText(
            f"{self.console.study.title}: {n_on} of {len(self.tiles)} station(s) online"
        )
        notices = "\n".join(self.console.notices())
        if notices != self.notices.text():
            self.notices.setText(notices)

    def _refresh_tile(self, name: str, station, now: float, changed: set[str]) -> None:
        online = station.online(now)
        if name not in self.tiles:
            tile = StationTile(name, self)
            n = len(self.tiles)
            self.grid.addWidget(tile, n // COLUMNS, n % COLUMNS)
            self.tiles[name] = tile
            changed.add(name)
        if name in changed or self._online.get(name) != online:
            self._online[name] = online
            self.tiles[name].update_from(station.status, online, station.alerts)
            live = self.live.get(name)
            if name in changed and live is not None and live.isVisible():
                live.add(station.status)

    def start(self, station: str) -> None:
        """Start the station's interrupted participant again, else a newly allocated code."""
        status = self.console.stations[station].status
        interrupted = status.get("interrupted") or []
        self.console.start(station, interrupted[0] if interrupted else None)

    def open_live(self, station: str) -> StationLive:
        """The station's readouts and state history, from the heartbeats heard so far."""
        dialog = StationLive(station, list(self.console.stations[station].history), self)
        self.live[station] = dialog
        dialog.show()
        return dialog

    def open_decision_log(self, station: str) -> QDialog:
        """The decisions recorded so far by the station's latest session (its own store)."""
        from labmrt.store import DB_NAME, StudyStore

        dialog = QDialog(self)
        dialog.setWindowTitle(f"Decision log: {station}")
        model = DecisionLogModel(dialog)
        folder = self.console.study.station_dir(station)
        if (folder / DB_NAME).is_file():
            with StudyStore.open(folder, readonly=True, check=False) as store:
                sessions = store.sessions()
                if len(sessions):
                    sid = int(sessions["session"].iloc[-1])
                    model.clear(float(sessions["started_t"].iloc[-1]))
                    for row in store.decisions(sid).to_dict("records"):
                        model.add_decision(row)
        table = QTableView(dialog)
        table.setModel(model)
        table.resizeColumnsToContents()
        layout = QVBoxLayout(dialog)
        layout.addWidget(table)
        dialog.resize(760, 360)
        dialog.model = model  # for tests and callers
        dialog.show()
        self.logs.append(dialog)
        return dialog
