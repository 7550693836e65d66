"""One screen, two windows: the participant's window never covers the console's controls."""

from __future__ import annotations

import pytest
from PySide6.QtCore import QRect, QSize

from ui.app import CONSOLE_CONTROLS_WIDTH, LabmrtApp, single_screen_layout

CONSOLE_MIN, PARTICIPANT_MIN = QSize(1000, 640), QSize(900, 600)


@pytest.mark.parametrize("size", [(1920, 1080), (2560, 1440), (3840, 2160)])
def test_wide_screen_puts_the_windows_side_by_side(size):
    screen = QRect(0, 0, *size)
    console, participant = single_screen_layout(screen, CONSOLE_MIN, PARTICIPANT_MIN)
    assert not console.intersects(participant)
    assert console.left() == 0 and participant.left() > console.right()
    for rect, minimum in ((console, CONSOLE_MIN), (participant, PARTICIPANT_MIN)):
        assert rect.width() >= minimum.width() and rect.height() >= minimum.height()
        assert screen.contains(rect)


@pytest.mark.parametrize("size", [(1366, 768), (1440, 900), (1600, 900)])
def test_narrow_screen_keeps_the_console_controls_uncovered(size):
    screen = QRect(0, 0, *size)
    console, participant = single_screen_layout(screen, CONSOLE_MIN, PARTICIPANT_MIN)
    assert participant.left() >= CONSOLE_CONTROLS_WIDTH  # set-up, start, pause, abort
    assert participant.size() == PARTICIPANT_MIN
    assert participant.topLeft() != console.topLeft()
    assert screen.contains(participant)


def test_layout_follows_the_screen_offset():
    """A screen that does not start at (0, 0) (a panel on the left, a second desktop)."""
    screen = QRect(64, 27, 1920, 1053)
    console, participant = single_screen_layout(screen, CONSOLE_MIN, PARTICIPANT_MIN)
    assert console.topLeft() == screen.topLeft()
    assert screen.contains(participant) and not console.intersects(participant)


def test_app_on_one_screen_does_not_hide_the_console(qtbot, tmp_path, protocols_dir):
    from PySide6.QtGui import QGuiApplication

    assert len(QGuiApplication.screens()) == 1  # offscreen: one screen
    app = LabmrtApp(study_dir=tmp_path / "study", protocol=protocols_dir / "demo.toml")
    app.console._force_close = True
    app.show()
    try:
        qtbot.waitUntil(lambda: app.participant_window.isVisible())
        assert not app.participant_window.isFullScreen()
        expected = single_screen_layout(
            app.console.screen().availableGeometry(),
            app.console.minimumSize(),
            app.participant_window.minimumSize(),
        )
        console, participant = app.console.geometry(), app.participant_window.geometry()
        assert (console.size(), participant.size()) == (expected[0].size(), expected[1].size())
        assert participant.topLeft() - console.topLeft() == expected[1].topLeft() - (
            expected[0].topLeft()
        )
        assert participant.topLeft() != console.topLeft()
        assert participant.left() - console.left() >= CONSOLE_CONTROLS_WIDTH
    finally:
        app.quit()
