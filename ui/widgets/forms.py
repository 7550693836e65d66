"""Small pieces the forms and screens share: a button, a label, number boxes, a time left."""

from __future__ import annotations

from collections.abc import Callable

from PySide6.QtWidgets import QDoubleSpinBox, QLabel, QPushButton, QSpinBox


def button(
    text: str,
    slot: Callable | None = None,
    *,
    name: str = "",
    tooltip: str = "",
    shortcut: str = "",
) -> QPushButton:
    """A push button; ``name`` is its object name (tests and style sheets find it by that)."""
    widget = QPushButton(text)
    if name:
        widget.setObjectName(name)
    if tooltip:
        widget.setToolTip(tooltip)
    if shortcut:
        widget.setShortcut(shortcut)
    if slot is not None:
        widget.clicked.connect(slot)
    return widget


def label(text: str = "", *, name: str = "", wrap: bool = False) -> QLabel:
    """A label; ``name`` is its object name, ``wrap`` breaks long text into lines."""
    widget = QLabel(text)
    if name:
        widget.setObjectName(name)
    widget.setWordWrap(wrap)
    return widget


def spin_box(lo: float, hi: float, value: float, step: float, decimals: int = 2) -> QDoubleSpinBox:
    """A box for a decimal number in ``[lo, hi]``."""
    box = QDoubleSpinBox()
    box.setRange(lo, hi)
    box.setDecimals(decimals)
    box.setSingleStep(step)
    box.setValue(value)
    return box


def int_spin_box(lo: int, hi: int, value: int, step: int = 1) -> QSpinBox:
    """A box for a whole number in ``[lo, hi]``."""
    box = QSpinBox()
    box.setRange(lo, hi)
    box.setSingleStep(step)
    box.setValue(value)
    return box


def format_clock(seconds: float) -> str:
    """``m:ss`` of a time left, rounded to the second, never negative."""
    seconds = max(0, int(round(seconds)))
    return f"{seconds // 60}:{seconds % 60:02d}"
