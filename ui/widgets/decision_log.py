"""The experimenter's live decision log: one row per decision point as it happens.

Rows are the engine's decision records (the dict the store receives, see the
store contract); the presentation record of the same decision point later
fills in whether the framing was received. Only the experimenter sees this.
"""

from __future__ import annotations

import math
import re
from typing import Any

from PySide6.QtCore import QAbstractTableModel, QModelIndex, Qt, QTimer
from PySide6.QtGui import QColor
from PySide6.QtWidgets import QHeaderView, QTableView

from ui.widgets.style import STATE_COLOURS

#: The columns of the decision log.
LOG_COLUMNS = ("Time", "Task", "Available", "Arm", "Probabilities", "State", "Received")
#: Columns whose text may wrap (task, reason, probabilities, state); the others stay one line.
WRAPPED_COLUMNS = ("Task", "Available", "Probabilities", "State")
NOT_DRAWN = "–"  # nothing was randomized, so there is nothing to receive either


def _probs(probabilities: dict[str, float] | None) -> str:
    if not probabilities:
        return ""
    # an arm and its probability never part at a line break (Qt's item views do not keep
    # a no-break space unbroken: the pair has no space in it)
    return "  ".join(f"{arm}={p:.2f}" for arm, p in probabilities.items())


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
            # a framing is received only where one was drawn
            "received": sum(
                bool(r.get("available")) and r.get("received") is True for r in self.rows
            ),
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
            # a long id may wrap after its separators (a zero-width space is a break chance)
            task = re.sub(r"([_\-.])", "\\1\u200b", row.get("task_id") or "")
            return f"{index + 1}. {task}" if index is not None else task
        if column == "Available":
            if row.get("available"):
                return "yes"
            reason = row.get("unavailable_reason") or ""
            return f"no ({reason})" if reason else "no"
        if column == "Arm":
            return row.get("arm") or NOT_DRAWN
        if column == "Probabilities":
            return _probs(row.get("probabilities"))
        if column == "State":
            p = row.get("p_aroused")
            state = row.get("state") or "unknown"
            if p is None or (isinstance(p, float) and math.isnan(p)):
                return state
            return f"{state} ({p:.2f})"
        if column == "Received":
            if not row.get("available"):
                return NOT_DRAWN
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
            if column == "Received" and row.get("available") and row.get("received") is False:
                return QColor("#c62828")
        return None


class DecisionLogView(QTableView):
    """The decision log, every column in view at any width the console allows.

    Short columns (time, arm, received) are as wide as their widest text,
    measured on the new rows only (measuring every row again would cost more with
    each decision late in a session). The task, the availability (with the reason a
    point was unavailable), the arms' probabilities and the state keep their text on one line
    while there is room; when there is not, they give up width in proportion and wrap,
    never narrower than their widest word, so nothing is cut off.
    """

    def __init__(self, model: DecisionLogModel, parent=None):
        super().__init__(parent)
        self.setObjectName("decision_log")
        self.setModel(model)
        self.verticalHeader().setVisible(False)
        self.setWordWrap(True)
        self.setAlternatingRowColors(True)
        self.setHorizontalScrollBarPolicy(Qt.ScrollBarAlwaysOff)
        self.setTextElideMode(Qt.ElideNone)  # wrapped, never cut short with an ellipsis
        header = self.horizontalHeader()
        header.setMinimumSectionSize(40)
        header.setSectionResizeMode(QHeaderView.Interactive)
        header.setStretchLastSection(True)
        for col, name in enumerate(LOG_COLUMNS):
            self.setColumnWidth(col, self._text_width(name))
        # per column that may wrap: its widest text on one line, and its widest word
        self._natural = {n: self._text_width(n) for n in WRAPPED_COLUMNS}
        self._word = dict(self._natural)
        self._rewrap = QTimer(self, singleShot=True, interval=0)  # dies with the view
        self._rewrap.timeout.connect(self.resizeRowsToContents)
        # a column that changed width re-wraps its rows (a few hundred rows at most)
        header.sectionResized.connect(lambda *_: self.resizeRowsToContents())
        model.rowsInserted.connect(self._rows_added)
        model.modelReset.connect(self.resizeRowsToContents)

    def resizeEvent(self, event) -> None:  # noqa: N802 - Qt override
        super().resizeEvent(event)
        self._share_width()
        self._rewrap.start()  # the header shares out the new width after this event

    def _share_width(self) -> None:
        short = sum(
            self.columnWidth(c) for c, n in enumerate(LOG_COLUMNS) if n not in WRAPPED_COLUMNS
        )
        # each its widest word, then the room left shared in proportion to what each wants
        spare = self.viewport().width() - short - sum(self._word.values())
        wants = {n: max(0, w - self._word[n]) for n, w in self._natural.items()}
        share = min(1.0, max(spare, 0) / sum(wants.values())) if sum(wants.values()) else 0.0
        for name, want in wants.items():
            self.setColumnWidth(LOG_COLUMNS.index(name), self._word[name] + int(want * share))

    def _text_width(self, text: str) -> int:
        return 18 + self.fontMetrics().horizontalAdvance(text)

    def _rows_added(self, _parent=None, first: int = 0, last: int | None = None) -> None:
        model: DecisionLogModel = self.model()
        last = model.rowCount() - 1 if last is None else last
        for col, name in enumerate(LOG_COLUMNS):
            texts = [model.text(model.rows[r], name) for r in range(first, last + 1)]
            wanted = max(self._text_width(t) for t in texts)
            if name in self._natural:
                self._natural[name] = max(self._natural[name], wanted)
                words = [w for t in texts for w in re.split(r"[\s\u200b]+", t)]
                self._word[name] = max([self._word[name], *map(self._text_width, words)])
            elif wanted > self.columnWidth(col):
                self.setColumnWidth(col, wanted)
        self._share_width()
        for r in range(first, last + 1):
            self.resizeRowToContents(r)
        self.scrollToBottom()
