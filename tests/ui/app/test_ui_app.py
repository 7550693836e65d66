"""The app opens its windows; ``labmrt gui`` refuses clearly where there is no display."""

from __future__ import annotations

import pytest

from labmrt.commands import gui as gui_command
from labmrt.errors import LabmrtError
from ui.app import LabmrtApp
from ui.display import display_available


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
    # the simulation tab starts from the console's protocol
    assert dialog.simulation.protocol.content_hash == app.console.protocol.content_hash
    screenshot(app.console, "console_start")
    app.toggle_participant_full_screen()
    assert app.participant_window.isFullScreen()
    app.toggle_participant_full_screen()
    assert not app.participant_window.isFullScreen()
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


def test_demo_falls_back_to_headless_without_a_display(monkeypatch, tmp_path, capsys):
    monkeypatch.setenv("QT_QPA_PLATFORM", "offscreen")
    monkeypatch.delenv("DISPLAY", raising=False)
    assert not gui_command.interactive_display()
    assert gui_command.open_demo(tmp_path / "p.toml", tmp_path / "study") is None
    assert "running the headless demo instead" in capsys.readouterr().err


def test_demo_opens_the_app_ready_to_run(qtbot, tmp_path, protocols_dir):
    from labmrt.commands.demo import APP_DEMO_PROTOCOL, bundled_protocol

    settings = gui_command.demo_settings(
        bundled_protocol(APP_DEMO_PROTOCOL), tmp_path / "demo-study"
    )
    app = LabmrtApp(**settings)
    app.console._force_close = True
    app.show()
    try:
        # the simulated sensors are a child process that imports NeuroKit2 first
        qtbot.waitUntil(lambda: len(app.console.buffers) == 2, timeout=60000)
        assert app.console.protocol is not None
        assert app.console.protocol.study.title.startswith("Framing and affect")
        assert len(app.console.protocol.tasks) == 8  # the short demo protocol
        assert app.console.participant_edit.text() == "D01"
        assert app.console.start_button.isEnabled()
        assert {b.kind for b in app.console.buffers} == {"ecg", "eda"}
    finally:
        app.quit()


def test_unexpected_errors_become_dialogs(qtbot, monkeypatch):
    import sys

    from PySide6.QtWidgets import QMessageBox, QWidget

    from ui.app import install_error_dialogs

    parent = QWidget()
    qtbot.addWidget(parent)
    monkeypatch.setattr(sys, "excepthook", sys.excepthook)
    install_error_dialogs(lambda: parent)
    try:
        raise ZeroDivisionError("division by zero")
    except ZeroDivisionError:
        sys.excepthook(*sys.exc_info())
    boxes = parent.findChildren(QMessageBox)
    assert boxes and boxes[-1].text() == "Unexpected error"
    assert "ZeroDivisionError: division by zero" in boxes[-1].informativeText()
    assert "Traceback" in boxes[-1].detailedText()
