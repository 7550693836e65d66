"""The analysis form's tick lists, and a table widget filled from a data frame."""

from __future__ import annotations

import math
from collections.abc import Callable

import pandas as pd
from PySide6.QtCore import Qt
from PySide6.QtWidgets import QListWidget, QListWidgetItem, QTableWidget, QTableWidgetItem


def checked_names(widget: QListWidget) -> tuple[str, ...]:
    """The names ticked in a list made by :func:`check_list`, in list order."""
    return tuple(
        widget.item(i).data(Qt.UserRole)
        for i in range(widget.count())
        if widget.item(i).checkState() == Qt.Checked
    )


def check_list(name: str) -> QListWidget:
    """An empty tick list (short: it sits in a form beside other inputs)."""
    widget = QListWidget()
    widget.setObjectName(name)
    widget.setMaximumHeight(120)
    return widget


def fill_check_list(widget: QListWidget, names: list[str], describe: Callable[[str], str]) -> None:
    """One unticked item per name; ``describe(name)`` is its tooltip (the codebook's words)."""
    widget.clear()
    for name in names:
        item = QListWidgetItem(name)
        item.setData(Qt.UserRole, name)
        item.setFlags(Qt.ItemIsUserCheckable | Qt.ItemIsEnabled)
        item.setCheckState(Qt.Unchecked)
        item.setToolTip(describe(name))
        widget.addItem(item)


def frame_to_table(widget: QTableWidget, frame: pd.DataFrame) -> None:
    """Show ``frame`` in ``widget``: numbers right-aligned to 4 significant digits."""
    widget.clear()
    widget.setRowCount(len(frame))
    widget.setColumnCount(len(frame.columns))
    widget.setHorizontalHeaderLabels([str(c) for c in frame.columns])
    for r, row in enumerate(frame.itertuples(index=False)):
        for c, value in enumerate(row):
            if isinstance(value, float):
                text = "" if math.isnan(value) else f"{value:.4g}"
            else:
                text = str(value)
            item = QTableWidgetItem(text)
            if isinstance(value, int | float):
                item.setTextAlignment(Qt.AlignRight | Qt.AlignVCenter)
            widget.setItem(r, c, item)
    widget.resizeColumnsToContents()
