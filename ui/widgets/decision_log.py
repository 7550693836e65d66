"""The experimenter's live decision log: one row per decision point as it happens.

Rows are the engine's decision records (the dict the store receives, see the
store contract); the presentation record of the same decision point later
fills in whether the framing was received. Only the experimenter sees this.
"""

from __future__ import annotations

import math
from typing import Any

from PySide6.QtCore import QAbstractTableModel, QModelIndex, Qt
from PySide6.QtGui import QColor

from ui.widgets.style import STATE_COLOURS

#: The columns of the decision log.
LOG_COLUMNS = ("Time", "Task", "Available", "Arm", "Probabilities", "State", "Received")


def _probs(probabilities: dict[str, float] | None) -> str:
    if not probabilities:
        return ""
    return "  ".join(f"{arm} {p:.2f}" for arm, p in probabilities.items())


class DecisionLogModel(QAbstractTableModel):
    """Table model over decision rows; ``t0`` turns LSL times into session seconds."""

    def __init__(self, parent=None):
        super().__init__(parent)
        self.rows: list[dict[str, Any]] = []
        self._by_point: dict[int, int] = {}
        self.t0: float | None = None

    # -- feeding --------------------------------------------------------------------
    def clear(self, t0: float | None = None) -> None:
        self.beginResetModel()
        self.rows.clear()
        self._by_point.clear()
        self.t0 = t0
        self.endResetModel()

    def add_decision(self, row: dict[str, Any]) -> None:
        point = row.get("decision_point")
        if point in self._by_point:  # a repeated notification (e.g. after resume)
            return
        n = len(self.rows)
        self.beginInsertRows(QModelIndex(), n, n)
        self.rows.append(dict(row))
        if point is not None:
            self._by_point[int(point)] = n
        self.endInsertRows()

    def set_received(self, decision_point: int, received: bool | None) -> None:
        i = self._by_point.get(int(decision_point))
        if i is None:
            return
        self.rows[i]["received"] = received
        col = LOG_COLUMNS.index("Received")
        self.dataChanged.emit(self.index(i, col), self.index(i, col))

    # -- summary helpers ----------------------------------------------------------
    def counts(self) -> dict[str, Any]:
        arms: dict[str, int] = {}
        for r in self.rows:
            if r.get("available") and r.get("arm"):
                arms[r["arm"]] = arms.get(r["arm"], 0) + 1
        n = len(self.rows)
        available = sum(bool(r.get("available")) for r in self.rows)
        return {
            "decision_points": n,
            "available": available,
            "availability_rate": available / n if n else float("nan"),
            "arms": arms,
            "received": sum(r.get("received") is True for r in self.rows),
        }

    # -- Qt model -------------------------------------------------------------------
    def rowCount(self, parent=None) -> int:  # noqa: N802 - Qt API
        return 0 if parent is not None and parent.isValid() else len(self.rows)

    def columnCount(self, parent=None) -> int:  # noqa: N802 - Qt API
        return 0 if parent is not None and parent.isValid() else len(LOG_COLUMNS)

    def headerData(self, section, orientation, role=Qt.DisplayRole):  # noqa: N802 - Qt API
        if role == Qt.DisplayRole and orientation == Qt.Horizontal:
            return LOG_COLUMNS[section]
        if role == Qt.DisplayRole and orientation == Qt.Vertical:
            return str(section + 1)
        return None

    def text(self, row: dict[str, Any], column: str) -> str:
        if column == "Time":
            t = row.get("t")
            if t is None:
                return ""
            seconds = t - self.t0 if self.t0 is not None else t
            return f"{int(seconds // 60)}:{seconds % 60:04.1f}"
        if column == "Task":
            index = row.get("task_index")
            task = row.get("task_id") or ""
            return f"{index + 1}. {task}" if index is not None else task
        if column == "Available":
            if row.get("available"):
                return "yes"
            reason = row.get("unavailable_reason") or ""
            return f"no ({reason})" if reason else "no"
        if column == "Arm":
            return row.get("arm") or "–"
        if column == "Probabilities":
            return _probs(row.get("probabilities"))
        if column == "State":
            p = row.get("p_aroused")
            state = row.get("state") or "unknown"
            if p is None or (isinstance(p, float) and math.isnan(p)):
                return state
            return f"{state} ({p:.2f})"
        if column == "Received":
            received = row.get("received")
            return "" if received is None else ("yes" if received else "no")
        return ""

    def data(self, index, role=Qt.DisplayRole):
        if not index.isValid():
            return None
        row = self.rows[index.row()]
        column = LOG_COLUMNS[index.column()]
        if role == Qt.DisplayRole:
            return self.text(row, column)
        if role == Qt.ForegroundRole:
            if column == "State":
                return QColor(STATE_COLOURS.get(row.get("state") or "unknown", "#757575"))
            if column == "Available" and not row.get("available"):
                return QColor("#c62828")
            if column == "Received" and row.get("received") is False:
                return QColor("#c62828")
        return None
