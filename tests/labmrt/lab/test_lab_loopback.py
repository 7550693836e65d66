"""Console and station over real LSL streams on this machine: status, commands, refusals."""

from __future__ import annotations

import json
import threading

import pytest
from lab_helpers import wait_for, write_protocol

from labmrt.commands.station import simulated_factory
from labmrt.lab.console import LabConsole
from labmrt.lab.station import Station
from labmrt.lab.study import create_lab_study
from labmrt.lab.transport import ConsoleLink, StationLink
from labmrt.lab.wire import CommandSender
from labmrt.store import StudyStore

pytest.importorskip("pylsl")


@pytest.fixture
def lab(tmp_path):
    study = create_lab_study(tmp_path / "study", write_protocol(tmp_path, n_tasks=12))
    protocol = study.load_protocol()
    factory = simulated_factory(protocol, "ws-1", time_scale=40.0, markers=False)
    link = StationLink(study.study_id, "ws-1")
    station = Station(study, "ws-1", factory, link, heartbeat_s=0.25)
    serving = {"stop": threading.Event()}

    def serve() -> None:
        serving["thread"] = threading.Thread(
            target=station.serve, args=(serving["stop"],), daemon=True
        )
        serving["thread"].start()

    def cut() -> None:
        """The station loses the network: no heartbeat goes out, no command comes in."""
        serving["stop"].set()
        serving["thread"].join(5)
        station.link.close()
        serving["stop"] = threading.Event()

    serve()
    console_link = ConsoleLink(study.study_id)
    console = LabConsole(study, console_link, retry_s=0.5, tries=8, merge_on_end=False)
    yield {
        "study": study,
        "station": station,
        "console": console,
        "link": console_link,
        "cut": cut,
        "serve": serve,
    }
    cut()
    if station.engine is not None:
        station.engine.abort("test over")
        station.engine.join(10)
    station.close()
    console_link.close()


def _status(console, key="status"):
    view = console.stations.get("ws-1")
    return None if view is None else view.status.get(key)


def test_the_console_runs_a_session_on_a_station(lab):
    console, station, study = lab["console"], lab["station"], lab["study"]
    wait_for(lambda: _status(console) == "idle", 20, console.poll)
    status = console.stations["ws-1"].status
    assert status["protocol_hash"] == study.protocol_hash and status["study"] == study.study_id
    start = console.start("ws-1")
    wait_for(lambda: start.state == "acked", 20, console.poll)
    assert start.args == {"participant": "P001"}
    wait_for(lambda: _status(console) == "running", 20, console.poll)
    assert _status(console, "participant") == "P001" and _status(console, "task_n") == 12
    beat = _status(console, "beat")
    wait_for(lambda: _status(console, "beat") > beat, 5, console.poll)  # the heartbeat goes on
    assert _status(console, "affect_state") in ("calm", "aroused", "unknown")
    assert set(_status(console, "quality")) <= {"ecg", "eda", "ppg"}
    pause = console.pause("ws-1", "participant asked for water")
    wait_for(lambda: _status(console) == "paused", 30, console.poll)
    resume = console.resume("ws-1")
    wait_for(lambda: _status(console) == "resumed", 30, console.poll)
    abort = console.abort("ws-1", "fire drill")
    wait_for(lambda: _status(console) == "aborted", 30, console.poll)
    assert [c.state for c in (start, pause, resume, abort)] == ["acked"] * 4
    assert all(c.tries >= 1 for c in console.commands())
    with StudyStore.open(station.dir, readonly=True) as store:
        history = store.status_history()
    assert list(history["status"]) == ["created", "running", "paused", "resumed", "aborted"]
    assert history["reason"].iloc[-1] == "fire drill"
    assert history["reason"].iloc[2] == "participant asked for water"


def test_forged_and_replayed_commands_are_ignored_and_logged(lab):
    console, station, study = lab["console"], lab["station"], lab["study"]
    wait_for(lambda: _status(console) == "idle", 20, console.poll)
    # a console that knows the study id but not its secret
    wait_for(lab["link"].have_stations, 20)  # the station listens to our command stream
    forger = CommandSender(study.study_id, b"guessed" * 4)
    forged = forger.command("ws-1", "start", participant="P900")
    lab["link"].send(forged.text)
    # a genuine command, executed, then played back after a newer one
    first = console.start("ws-1")
    wait_for(lambda: first.state == "acked", 20, console.poll)
    second = console.abort("ws-1", "end of test")
    wait_for(lambda: second.state == "acked", 20, console.poll)
    lab["link"].send(first.text)
    log_path = station.dir / "commands.log"

    def refused():
        lines = [json.loads(x) for x in log_path.read_text().splitlines()]
        return [x["refused"] for x in lines if "refused" in x]

    wait_for(lambda: "replay" in refused(), 10, console.poll)
    assert refused() == ["bad signature", "replay"]
    with StudyStore.open(station.dir, readonly=True) as store:
        participants = list(store.sessions()["participant"])
    assert participants == ["P001"]  # the forged start never ran, the replay not twice


def test_an_unanswered_command_fails_and_a_silent_station_goes_offline(lab):
    console = lab["console"]
    wait_for(lambda: _status(console) == "idle", 20, console.poll)
    console.sender.tries = 2
    ghost = console.pause("ws-9")
    wait_for(lambda: ghost.state == "failed", 10, console.poll)
    assert console.stations["ws-9"].alerts == [
        "pause failed: not acknowledged after 2 tries (valid 1 s)"
    ]
    assert console.online("ws-1")
    now = console.clock()
    view = console.stations["ws-1"]
    assert view.online(now + 2.5) and not view.online(now + 3.5)


def test_a_station_cut_off_finishes_its_session_and_comes_back(lab):
    console, station, study = lab["console"], lab["station"], lab["study"]
    station.factory = simulated_factory(study.load_protocol(), "ws-1", time_scale=200.0)
    wait_for(lambda: _status(console) == "idle", 20, console.poll)
    start = console.start("ws-1")
    wait_for(lambda: start.state == "acked" and _status(console) == "running", 20, console.poll)
    lab["cut"]()
    wait_for(lambda: not console.online("ws-1"), 10, console.poll)
    assert _status(console) == "running"  # the last the console heard
    assert station.engine.join(60) and station.engine.status == "completed"
    station.link = StationLink(study.study_id, "ws-1")  # the network is back
    lab["serve"]()
    wait_for(lambda: console.online("ws-1") and _status(console) == "completed", 20, console.poll)
    assert _status(console, "participant") == "P001"
    with StudyStore.open(station.dir, readonly=True) as store:
        assert len(store.decisions()) == 12
