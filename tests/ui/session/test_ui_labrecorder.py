"""A session started from the console drives LabRecorder (a fake RCS server) and shows
its failures in the console's warning banner."""

from __future__ import annotations

from labrecorder_fake import FakeLabRecorder, free_port
from test_ui_session_host import PROTOCOL

from ui.console import ConsoleWindow
from ui.participant import ParticipantWindow
from ui.session import LabSessionHost


def _console(qtbot, tmp_path, address: str):
    path = tmp_path / "p.toml"
    path.write_text(PROTOCOL + f'\n[recording]\nlabrecorder = "{address}"\nroot = "{tmp_path}"\n')
    participant = ParticipantWindow()
    qtbot.addWidget(participant)
    host = LabSessionHost(participant, markers=False)
    console = ConsoleWindow(host, study_dir=tmp_path / "framing")
    qtbot.addWidget(console)
    assert console.load_protocol(path)
    console.participant_edit.setText("P_01")
    return console, host


def _end(qtbot, console, host) -> None:
    """Wait for the session's end and its summary (closing a console mid-session asks)."""
    qtbot.waitUntil(lambda: not host.active and console.summary_dialog is not None, timeout=10000)
    console.summary_dialog.accept()
    host.shutdown()


def test_console_session_starts_and_stops_labrecorder(qtbot, tmp_path):
    fake = FakeLabRecorder()
    try:
        console, host = _console(qtbot, tmp_path, f"127.0.0.1:{free_port()}")
        console.labrecorder_edit.setText(fake.address)  # the console's field comes first
        assert console.start_session()
        qtbot.waitUntil(lambda: "start" in fake.commands, timeout=10000)
        name = "sub-P01/ses-1/eeg/sub-P01_ses-1_task-framing_run-1_eeg.xdf"
        assert fake.commands[:3] == [
            "select all",
            f"filename {{root:{tmp_path}}} {{template:{name}}} {{participant:P01}} "
            "{session:1} {task:framing} {run:1} {modality:eeg}",
            "start",
        ]
        qtbot.waitUntil(lambda: (tmp_path / name).is_file(), timeout=5000)
        host.abort("ended by the test")
        qtbot.waitUntil(lambda: fake.commands[-1:] == ["stop"], timeout=10000)
        assert host.recording_alerts() == []
        _end(qtbot, console, host)
    finally:
        fake.close()


def test_console_shows_a_labrecorder_that_is_not_running(qtbot, tmp_path, screenshot):
    console, host = _console(qtbot, tmp_path, f"127.0.0.1:{free_port()}")
    try:
        assert console.start_session()
        qtbot.waitUntil(lambda: "not reachable" in console.warning.text(), timeout=10000)
        assert not console.warning.isHidden()
        screenshot(console, "console_labrecorder_alert")
    finally:
        host.abort("ended by the test")
        _end(qtbot, console, host)
