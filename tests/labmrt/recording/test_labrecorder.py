"""LabRecorder under remote control, against a fake RCS server on loopback."""

from __future__ import annotations

import time
from pathlib import Path

import pandas as pd
import pytest
from labrecorder_fake import FakeLabRecorder, free_port

from labmrt.errors import LabmrtError
from labmrt.recording import LabRecorderControl, RecorderSettings, parse_address, session_entities
from labmrt.recording.control import _Check

TEMPLATE = "sub-P001/ses-2/eeg/sub-P001_ses-2_task-framing_run-1_eeg.xdf"


def until(condition, timeout: float = 10.0) -> bool:
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            return False
        time.sleep(0.02)
    return True


def _control(fake_address: str, root: Path, **kw) -> LabRecorderControl:
    kw = {"appear_s": 0.5, "check_s": 0.05, **kw}
    settings = RecorderSettings(fake_address, root=str(root), **kw)
    return LabRecorderControl(settings)


@pytest.fixture
def fake():
    recorders: list[FakeLabRecorder] = []

    def make(**kw) -> FakeLabRecorder:
        recorders.append(FakeLabRecorder(**kw))
        return recorders[-1]

    yield make
    for r in recorders:
        r.close()


def test_a_session_starts_checks_and_stops_the_recorder(fake, tmp_path):
    lr = fake()
    control = _control(lr.address, tmp_path)
    control.start("P001", 2, "framing")
    assert until(lambda: "start" in lr.commands)
    assert lr.commands[0] == "select all"
    assert lr.commands[1] == (
        f"filename {{root:{tmp_path}}} {{template:{TEMPLATE}}} {{participant:P001}} "
        "{session:2} {task:framing} {run:1} {modality:eeg}"
    )
    assert control.path == tmp_path / TEMPLATE
    assert until(lambda: control.path.is_file() and control.path.stat().st_size > 300)
    time.sleep(0.6)  # past appear_s: the checks have seen the file
    control.stop("completed")
    assert until(lambda: lr.commands[-1:] == ["stop"])
    assert control.alerts == []


def test_a_recorder_that_is_not_running_is_an_alert(tmp_path):
    seen: list[str] = []
    settings = RecorderSettings(f"127.0.0.1:{free_port()}", root=str(tmp_path))
    control = LabRecorderControl(settings, alert=seen.append)
    control.start("P001", 1, "framing")
    assert until(lambda: seen)
    assert "not reachable (connection refused)" in seen[0]
    control.stop()
    assert control.alerts == seen  # nothing more: there was no recording to stop


def test_a_recorder_dropping_mid_session_is_an_alert(fake, tmp_path):
    lr = fake(drop_after=3)  # select, filename, start: then it goes away
    control = _control(lr.address, tmp_path)
    control.start("P001", 1, "framing")
    assert until(lambda: any("dropped the connection" in a for a in control.alerts))
    control.stop("aborted")
    assert any("stop could not be sent" in a for a in control.alerts) or until(
        lambda: any("stop" in a for a in control.alerts)
    )


def test_a_recorder_slow_to_accept_still_gets_every_command(fake, tmp_path):
    lr = fake(accept_delay_s=1.0)
    streams = ("BioAmp ECG", "labmrt-markers-P001")
    control = _control(lr.address, tmp_path, streams=streams, appear_s=5.0)
    control.start("P001", 2, "framing")
    assert until(lambda: "start" in lr.commands)
    assert lr.commands[:2] == ["select BioAmp ECG", "select labmrt-markers-P001"]
    assert until(lambda: control.path.is_file())
    control.stop()
    assert until(lambda: lr.commands[-1:] == ["stop"])
    assert control.alerts == []


def test_a_recorder_writing_nothing_is_an_alert(fake, tmp_path):
    lr = fake(write=False)
    control = _control(lr.address, tmp_path)
    control.start("P001", 2, "framing")
    assert until(lambda: any("LabRecorder is not recording" in a for a in control.alerts))
    control.stop()
    assert lr.commands[-1] == "stop" or until(lambda: lr.commands[-1] == "stop")


def test_a_file_that_stops_growing_is_an_alert(tmp_path):
    now = [0.0]
    path = tmp_path / "rec.xdf"
    path.write_bytes(b"x" * 10)
    settings = RecorderSettings("127.0.0.1:1", stall_s=15.0)
    control = LabRecorderControl(settings, clock=lambda: now[0])
    control._dropped = True  # the connection is not what this test looks at
    check = _Check(path, started=0.0)
    for t in (1.0, 10.0):
        now[0] = t
        control.check(check)
    assert control.alerts == []
    now[0] = 17.0
    control.check(check)
    assert control.alerts == [
        f"LabRecorder 127.0.0.1:1: the file {path} stopped growing (10 bytes)"
    ]
    path.unlink()
    control.check(check)
    assert "disappeared" in control.alerts[-1]


def test_crash_recovery_stops_the_old_recording_first(fake, tmp_path):
    lr = fake()
    control = _control(lr.address, tmp_path)
    control.start("P001", 1, "framing", run=2, recover=True)
    assert until(lambda: "start" in lr.commands)
    assert lr.commands[:2] == ["stop", "select all"] and "{run:2}" in lr.commands[2]
    control.stop()


def test_settings_addresses_and_entities():
    assert parse_address("lab-pc") == ("lab-pc", 22345)
    assert parse_address("10.0.0.5:5000") == ("10.0.0.5", 5000)
    with pytest.raises(LabmrtError, match="not a LabRecorder address"):
        parse_address("lab pc:1")
    assert RecorderSettings.of(None, "") is None
    assert RecorderSettings.of(None, "localhost").watched_root is None
    local = RecorderSettings("localhost:22345", root="/data")
    assert local.watched_root == Path("/data")
    assert RecorderSettings("lab-pc:22345", root="D:/data").watched_root is None
    sessions = pd.DataFrame(
        {
            "session": [1, 2, 3, 4],
            "participant": ["P1", "P2", "P1", "P1"],
            "resume_of": [None, None, 1, None],
        }
    )
    assert session_entities(sessions, 1) == (1, 1)
    assert session_entities(sessions, 3) == (1, 2)  # resumed: same session, next run
    assert session_entities(sessions, 4) == (2, 1)
    assert session_entities(sessions, 2) == (1, 1)


def test_labmrt_run_records_with_labrecorder(fake, tmp_path, capsys):
    from labmrt.cli import main

    lr = fake(root=tmp_path / "recorder")
    protocol = Path(__file__).resolve().parents[3] / "protocols" / "minimal.toml"
    args = ["run", str(protocol), "--study", str(tmp_path / "pilot"), "--participant", "P002"]
    assert main([*args, "--simulated", "--no-markers", "--labrecorder", lr.address]) == 0
    assert until(lambda: lr.commands[-1:] == ["stop"])
    assert lr.commands[0] == "select all" and lr.commands[2] == "start"
    name = "sub-P002/ses-1/eeg/sub-P002_ses-1_task-pilot_run-1_eeg.xdf"
    assert f"{{template:{name}}}" in lr.commands[1]
    assert (tmp_path / "recorder" / name).is_file()
    assert main([*args, "--labrecorder", "lab pc:1"]) == 2
    assert "not a LabRecorder address" in capsys.readouterr().err
