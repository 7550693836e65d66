"""The console's lab view: tiles from station heartbeats, offline after 3 s, sealed commands."""

from __future__ import annotations

import pytest
from lab_helpers import FOLDER, FakeLink, from_station, heartbeat

from labmrt.cli import main
from labmrt.lab.console import LabConsole
from labmrt.lab.envelope import Sealer, parse, read_header
from labmrt.lab.study import create_lab_study
from labmrt.lab.wire import CommandBody, CommandGate


def _status(study, name, **fields):
    return heartbeat(study, name, **fields)


def _opened(study, text: str) -> dict:
    """What a station of the study reads in a sent command."""
    doc = parse(text)
    header = read_header(doc)
    body = CommandBody.model_validate(Sealer(study.secret(), study.study_id).open(header, doc))
    return {"station": header.station, "cmd": body.cmd, "args": body.args}


@pytest.fixture
def lab(qtbot, tmp_path, protocols_dir, clock):
    from ui.lab import LabView

    study = create_lab_study(tmp_path / "study", protocols_dir / "demo.toml")
    link = FakeLink()
    console = LabConsole(study, link, clock=clock, merge_on_end=False)
    view = LabView(console, poll_ms=10_000)  # the test drives refresh()
    qtbot.addWidget(view)
    view.resize(1180, 330)
    view.show()
    return {"study": study, "link": link, "clock": clock, "console": console, "view": view}


def _beat(lab, *docs):
    lab["link"].inbox.extend(docs)
    lab["view"].refresh()


RUNNING = dict(
    status="running",
    participant="P001",
    phase="task",
    task_k=5,
    affect_state="calm",
    p_aroused=0.18,
    quality={"ecg": 0.94, "eda": 0.88},
)
PAUSED = dict(
    status="paused",
    participant="P002",
    phase="break",
    task_k=3,
    affect_state="aroused",
    p_aroused=0.81,
    quality={"ecg": 0.41, "eda": 0.90},
    warnings=["low signal quality: ecg, eda"],
)
INTERRUPTED = dict(status="idle", interrupted=["P003"])


def test_tiles_show_each_station_and_go_offline_without_heartbeat(lab, screenshot):
    study, view, clock = lab["study"], lab["view"], lab["clock"]
    _beat(
        lab,
        _status(study, "ws-1", **RUNNING),
        _status(study, "ws-2", **PAUSED),
        _status(study, "ws-3", **INTERRUPTED),
        _status(study, "ws-4", status="completed", participant="P004", task_k=8),
    )
    assert list(view.tiles) == ["ws-1", "ws-2", "ws-3", "ws-4"]
    t1 = view.tiles["ws-1"]
    assert t1.participant.text() == "participant: P001   (running)"
    assert t1.progress.format() == "task 5 of 8" and t1.progress.value() == 5
    assert "calm" in t1.state.text() and t1.quality.text() == "signal: ECG 0.94  EDA 0.88"
    assert t1.buttons["pause"].isEnabled() and not t1.buttons["start"].isEnabled()
    assert view.tiles["ws-2"].buttons["resume"].isEnabled()
    assert "low signal quality" in view.tiles["ws-2"].alerts.text()
    assert "interrupted: P003 (Start resumes)" in view.tiles["ws-3"].alerts.text()
    # three of them keep beating; ws-4 falls silent
    clock.advance(2.0)
    _beat(
        lab,
        *(
            _status(study, n, **x)
            for n, x in zip(("ws-1", "ws-2", "ws-3"), (RUNNING, PAUSED, INTERRUPTED), strict=True)
        ),
    )
    clock.advance(1.5)
    view.refresh()
    assert view.tiles["ws-4"].online_label.text() == "OFFLINE"
    assert view.tiles["ws-1"].online_label.text() == "online"
    assert not view.tiles["ws-4"].buttons["start"].isEnabled()
    assert view.header.text().endswith("3 of 4 station(s) online")
    path = screenshot(view, "lab_view")
    assert path.stat().st_size > 10_000


def test_buttons_send_signed_commands_with_fresh_codes(lab, monkeypatch):
    study, view, link = lab["study"], lab["view"], lab["link"]
    _beat(lab, _status(study, "ws-1"), _status(study, "ws-2", interrupted=["P007"]))
    view.tiles["ws-1"].buttons["start"].click()
    view.tiles["ws-2"].buttons["start"].click()
    from ui.lab import view as lab_view

    monkeypatch.setattr(
        lab_view.QInputDialog, "getText", staticmethod(lambda *a, **k: ("fire drill", True))
    )
    _beat(lab, _status(study, "ws-1", status="running", participant="P001"))
    view.tiles["ws-1"].buttons["abort"].click()
    docs = [_opened(study, t) for t in link.sent]
    assert [(d["station"], d["cmd"], d["args"]) for d in docs] == [
        ("ws-1", "start", {"participant": "P001"}),
        ("ws-2", "start", {"participant": "P007"}),  # the interrupted session resumes
        ("ws-1", "abort", {"reason": "fire drill"}),
    ]
    gate = CommandGate(study.study_id, study.secret(), "ws-1", folder=FOLDER)
    started = gate.check(link.sent[0])
    assert started.execute and gate.check(link.sent[2]).execute
    # the station's acknowledgement settles the command; silence makes it fail
    ack = gate.ack_text(started.command, ok=True)
    lab["link"].inbox.append(from_station(study, "ws-1", ack))
    view.refresh()
    assert [c.state for c in lab["console"].commands("ws-1")] == ["acked", "pending"]
    for _ in range(7):  # 5 tries a second apart, failed 1 s after the last could run
        lab["clock"].advance(1.0)
        view.refresh()
    assert lab["console"].commands("ws-1")[1].state == "failed"
    assert "abort failed" in view.tiles["ws-1"].alerts.text()


def test_the_decision_log_of_a_station(lab):
    study, view = lab["study"], lab["view"]
    folder = study.station_dir("ws-2")
    argv = ["run", str(study.protocol_path), "--study", str(folder), "--participant", "P002"]
    assert main([*argv, "--simulated", "--no-markers"]) == 0
    _beat(lab, _status(study, "ws-2", status="completed", participant="P002", task_k=8))
    view.tiles["ws-2"].buttons["log"].click()
    dialog = view.logs[-1]
    assert dialog.model.rowCount() == 8
    assert dialog.windowTitle() == "Decision log: ws-2"


def test_a_station_live_view_plots_its_heartbeats(lab, screenshot):
    study, view = lab["study"], lab["view"]
    for i in range(40):
        p = 0.2 + 0.6 * (i >= 25)
        _beat(
            lab,
            _status(
                study,
                "ws-1",
                status="running",
                participant="P001",
                state_t=1000.0 + 5 * i,
                affect_state="aroused" if p > 0.5 else "calm",
                p_aroused=p,
                features={"hr": 70.0 + i, "rmssd": 40.0, "scl": 3.25},
                quality={"ecg": 0.9, "eda": 0.8},
            ),
        )
    view.tiles["ws-1"].buttons["live"].click()
    live = view.live["ws-1"]
    assert len(live.plot.points) == 40
    assert live.readouts.values["hr"].text().startswith("109")
    last = {"features": {"hr": 112.0, "rmssd": 31.0, "scl": 4.5}, "quality": {"ecg": 0.9}}
    _beat(
        lab,
        _status(study, "ws-1", state_t=1300.0, affect_state="aroused", p_aroused=0.9, **last),
    )
    assert len(live.plot.points) == 41 and live.plot.points[-1][1] == 0.9
    assert live.readouts.values["hr"].text().startswith("112")
    screenshot(live, "lab_station_live")
