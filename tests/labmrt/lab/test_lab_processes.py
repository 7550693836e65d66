"""A lab on this machine: station processes, one console, a killed station and a killed console.

Four ``labmrt station`` processes (simulated participants, paced 40x) and a
console in this process talk over loopback LSL. One station is killed
mid-session (SIGKILL) and started again; the console sees it go offline,
come back with the interrupted participant, and resumes that session. The
console itself is dropped mid-session and replaced: the stations go on. At the
end the stations are merged: the merged export is the union of the stations'
exports, and every command the consoles sent was acknowledged.
"""

from __future__ import annotations

import subprocess

import pytest
from lab_helpers import assert_merged_export_is_union, wait_for, write_protocol

from labmrt.cli import main
from labmrt.commands.lab import spawn_station, stop_stations
from labmrt.lab.console import LabConsole
from labmrt.lab.study import create_lab_study
from labmrt.lab.transport import ConsoleLink
from labmrt.store import StudyStore

pytest.importorskip("pylsl")
NAMES = ("ws-1", "ws-2", "ws-3", "ws-4")
DONE = ("completed", "aborted")


def _station(study_dir, name) -> subprocess.Popen:
    return spawn_station(study_dir, name, 40.0)


def _status(console, name, key="status"):
    view = console.stations.get(name)
    return None if view is None else view.status.get(key)


@pytest.fixture
def processes():
    procs: list[subprocess.Popen] = []
    yield procs
    stop_stations(procs)


def test_a_lab_of_four_stations_with_a_killed_station_and_a_killed_console(tmp_path, processes):
    study = create_lab_study(tmp_path / "study", write_protocol(tmp_path, n_tasks=10))
    procs = {name: _station(study.dir, name) for name in NAMES}
    processes.extend(procs.values())
    consoles = [LabConsole(study, ConsoleLink(study.study_id), merge_on_end=False)]
    console = consoles[0]
    wait_for(lambda: all(_status(console, n) == "idle" for n in NAMES), 60, console.poll)
    starts = {n: console.start(n) for n in NAMES}
    wait_for(lambda: all(p.state == "acked" for p in starts.values()), 20, console.poll)
    codes = {n: p.args["participant"] for n, p in starts.items()}
    assert sorted(codes.values()) == ["P001", "P002", "P003", "P004"]

    # ws-1 is paused by the experimenter and resumed
    wait_for(lambda: _status(console, "ws-1") == "running", 20, console.poll)
    console.pause("ws-1", "participant asked a question")
    wait_for(lambda: _status(console, "ws-1") == "paused", 30, console.poll)
    console.resume("ws-1")

    # ws-2 is killed mid-session, goes offline, comes back and resumes its participant
    wait_for(lambda: (_status(console, "ws-2", "task_k") or 0) >= 2, 30, console.poll)
    procs["ws-2"].kill()
    procs["ws-2"].wait(10)
    wait_for(lambda: not console.online("ws-2"), 10, console.poll)
    procs["ws-2"] = _station(study.dir, "ws-2")
    processes.append(procs["ws-2"])
    wait_for(lambda: _status(console, "ws-2", "interrupted") == [codes["ws-2"]], 60, console.poll)
    assert console.online("ws-2")
    resume = console.start("ws-2", codes["ws-2"])
    wait_for(lambda: resume.state == "acked", 20, console.poll)

    # the console goes away; a new one finds the stations still at work
    console.link.close()
    console = LabConsole(study, ConsoleLink(study.study_id), merge_on_end=False)
    consoles.append(console)
    wait_for(lambda: len(console.stations) == 4, 30, console.poll)
    assert any(_status(console, n) not in DONE for n in NAMES)
    wait_for(lambda: all(_status(console, n) in DONE for n in NAMES), 90, console.poll)
    assert [_status(console, n) for n in NAMES] == ["completed"] * 4

    # every command of both consoles was acknowledged, none refused or failed
    sent = [c for k in consoles for c in k.commands()]
    assert len(sent) == 7 and {c.state for c in sent} == {"acked"}
    with StudyStore.open(study.station_dir("ws-2"), readonly=True) as store:
        sessions = store.sessions()
    assert list(sessions["status"]) == ["incomplete", "completed"]
    assert list(sessions["participant"]) == [codes["ws-2"]] * 2

    # one study from the four stations
    stations = [study.station_dir(n) for n in NAMES]
    assert main(["merge", *map(str, stations), "--into", str(study.dir)]) == 0
    parts = assert_merged_export_is_union(study.dir, stations, tmp_path)
    dp = [row for frame in parts["decision_points"] for row in frame.itertuples()]
    assert len(dp) == 40  # 10 decision points per participant, none lost to the kill
    assert {w for frame in parts["sessions"] for w in frame["workstation"]} == set(NAMES)
    assert main(["merge", *map(str, stations), "--into", str(study.dir)]) == 0  # again: no-op
    consoles[-1].link.close()
