"""Fixtures for the desktop-app tests (pytest-qt, offscreen)."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")

PROJECT_ROOT = Path(__file__).resolve().parents[2]
SCREENSHOTS = PROJECT_ROOT / "screenshots"
PROTOCOLS = PROJECT_ROOT / "protocols"


class FakeClock:
    """A settable clock standing in for the LSL clock; ``advance`` moves it forward."""

    def __init__(self, t: float = 1000.0):
        self.t = t

    def __call__(self) -> float:
        return self.t

    def advance(self, seconds: float) -> float:
        self.t += seconds
        return self.t


@pytest.fixture(scope="session", autouse=True)
def operator_style():
    """pyqtgraph's colours as the app sets them before its first window (ui.widgets.style)."""
    from ui.widgets import apply_style

    apply_style()


@pytest.fixture
def protocols_dir() -> Path:
    return PROTOCOLS


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


@pytest.fixture
def screenshot():
    """``screenshot(widget, name)`` saves ``screenshots/<name>.png`` for a look by eye."""
    SCREENSHOTS.mkdir(exist_ok=True)

    def save(widget, name: str) -> Path:
        from PySide6.QtWidgets import QApplication

        for _ in range(3):  # let pending layout passes run before grabbing
            QApplication.processEvents()
        path = SCREENSHOTS / f"{name}.png"
        assert widget.grab().save(str(path)), f"could not save {path}"
        return path

    return save
