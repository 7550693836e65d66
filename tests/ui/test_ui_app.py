"""The app opens its windows; ``labmrt gui`` refuses clearly where there is no display."""

from __future__ import annotations

import pytest

from labmrt.commands import gui as gui_command
from labmrt.errors import LabmrtError
from ui.app import LabmrtApp, display_available


def test_app_opens_console_and_participant_screen(qtbot, tmp_path, protocols_dir, screenshot):
    app = LabmrtApp(
        study_dir=tmp_path / "study",
        protocol=protocols_dir / "framing_affect.toml",
        participant="P01",
    )
    app.show()
    qtbot.waitUntil(lambda: app.console.isVisible() and app.participant_window.isVisible())
    assert app.console.protocol is not None
    assert app.console.start_button.isEnabled()
    assert "Welcome" in app.participant_window.visible_text()
    analysis = app.open_analysis()
    assert analysis.isVisible()
    dialog = app.open_sample_size()
    assert dialog.result is not None
    screenshot(app.console, "console_start")
    app.quit()
    assert not app.participant_window.isVisible()


def test_no_display_is_a_user_error(monkeypatch):
    monkeypatch.delenv("QT_QPA_PLATFORM", raising=False)
    monkeypatch.delenv("DISPLAY", raising=False)
    monkeypatch.delenv("WAYLAND_DISPLAY", raising=False)
    monkeypatch.setattr("sys.platform", "linux")
    assert not display_available()
    with pytest.raises(LabmrtError, match="no display"):
        gui_command.require_display()
