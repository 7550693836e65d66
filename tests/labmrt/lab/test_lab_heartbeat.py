"""Heartbeats: checked fields, one stream per station name, bounded console memory, a station
that survives what its loop meets."""

from __future__ import annotations

import json
import math
import threading
import time

import pytest
from lab_helpers import FakeLink, from_station, heartbeat, write_protocol
from pydantic import ValidationError

from labmrt.lab.console import HISTORY, MAX_ALERTS, MAX_NOTICES, MAX_STATIONS, LabConsole
from labmrt.lab.envelope import Header, Sealer
from labmrt.lab.heartbeat import LIVE_FIELDS, Claims, Heartbeat, heartbeat_body
from labmrt.lab.station import Station
from labmrt.lab.study import create_lab_study

GOOD = {"protocol_hash": "ab" * 32, "folder": "cd" * 16, "beat": 1, "t": 1e9, "status": "idle"}


@pytest.fixture
def study(tmp_path):
    return create_lab_study(tmp_path / "study", write_protocol(tmp_path, n_tasks=2))


@pytest.mark.parametrize(
    "bad",
    [
        {"task_k": "x"},
        {"task_k": True},
        {"last_seq": 2**60},
        {"p_aroused": 1.5},
        {"p_aroused": math.nan},
        {"participant": "Anna"},
        {"interrupted": ["P001", "not a code!"]},
        {"status": "owned"},
        {"features": {f"f{i}": 1.0 for i in range(100)}},
        {"quality": {"ecg": 2.0}},
        {"warnings": ["x" * 10_000]},
        {"surprise": 1},
        {"t": "now"},
    ],
)
def test_a_heartbeat_field_out_of_range_is_refused(bad):
    Heartbeat.model_validate(GOOD)
    with pytest.raises(ValidationError):
        Heartbeat.model_validate({**GOOD, **bad})


def test_the_station_clips_what_it_sends_to_what_the_console_takes():
    body = heartbeat_body(
        {
            **GOOD,
            "warnings": [f"warning {i}: " + "x" * 500 for i in range(30)],
            "p_aroused": math.inf,
            "features": {"hr": 71.5, "bad name": 1.0, "rmssd": math.nan},
            "quality": {"ecg": 1.2, "eda": None},
            "phase": "task" * 20,
            "task_k": -3,
        }
    )
    Heartbeat.model_validate(body)
    assert len(body["warnings"]) == 10 and body["warnings"][-1] == "and 21 more"
    assert all(len(w) <= 200 for w in body["warnings"])
    assert body["p_aroused"] is None and body["task_k"] == 0
    assert body["features"] == {"hr": 71.5, "rmssd": None}
    assert body["quality"] == {"ecg": 1.0}
    assert set(LIVE_FIELDS) <= set(body)


def test_one_stream_holds_a_name_until_it_vanishes_or_falls_silent():
    claims = Claims(offline_s=3.0)
    assert claims.check("ws-1", "a", 10, now=0.0) == ""
    claims.accept("ws-1", "a", 10, 0.0)
    assert claims.check("ws-1", "a", 10, 0.5) == "replay"
    assert claims.check("ws-1", "b", 9, 0.5) == "replay"  # played back elsewhere: no conflict
    assert claims.check("ws-1", "b", 11, 0.5) == "conflict"  # a second station, heard anew
    assert claims.check("ws-1", "b", 11, 3.5) == ""  # the first fell silent: the name is free
    assert claims.release("a") == ["ws-1"]  # or its stream vanished
    assert claims.check("ws-1", "b", 11, 1.0) == ""


def test_the_console_keeps_bounded_state_whatever_the_stations_say(study):
    link = FakeLink()
    console = LabConsole(study, link, merge_on_end=False)
    for i in range(MAX_STATIONS + 20):
        link.inbox.append(heartbeat(study, f"ws-{i}"))
    for _ in range(HISTORY + 50):
        link.inbox.append(heartbeat(study, "ws-0", warnings=["w" * 200] * 10))
    console.poll()
    assert len(console.stations) == MAX_STATIONS
    assert "more than 64 stations" in console.notices()[0]
    view = console.stations["ws-0"]
    assert len(view.history) == HISTORY and set(view.history[-1]) == set(LIVE_FIELDS)
    assert len(json.dumps(view.status)) < 4000
    for i in range(3 * MAX_ALERTS):
        console._alert("ws-0", f"alert {i}")
    assert len(view.alerts) == MAX_ALERTS
    for i in range(3 * MAX_NOTICES):  # junk from many streams: counted per kind, bounded
        link.inbox.append(from_station(study, f"ws-{i}", "junk " * i, uid=f"junk-{i}"))
    console.poll()
    assert len(console.dropped) == MAX_NOTICES  # the oldest kinds make room
    assert console.notices()[0].endswith("'test-host': malformed (not JSON)")


def test_the_console_refuses_a_heartbeat_on_another_stations_stream(study):
    link = FakeLink()
    console = LabConsole(study, link, merge_on_end=False)
    text = heartbeat(study, "ws-1").data.decode()
    link.inbox.append(from_station(study, "ws-2", text))  # ws-1's message on ws-2's stream
    sealer = Sealer(bytes(32), study.study_id)  # someone with another key
    forged = sealer.seal(Header("status", study.study_id, "ws-3", 1), GOOD)
    link.inbox.append(from_station(study, "ws-3", forged))
    console.poll()
    assert console.stations == {}
    assert [n.split(": ", 1)[1] for n in console.notices()] == [
        "not sealed with this study's key (forged or altered)",
        "names station ws-1 on another stream",
    ]


class Flaky(FakeLink):
    """A link whose reading fails now and then, and whose messages are poison."""

    def __init__(self):
        super().__init__()
        self.calls = 0

    def commands(self):
        self.calls += 1
        if self.calls % 3 == 0:
            raise RuntimeError("liblsl hiccup")
        return [b"\xff", "{" * 100_000, '{"_text": 1}']


def test_a_station_loop_outlives_failing_reads_and_poison(study):
    def no_sessions(code, store, resume):
        raise AssertionError("nothing may run")

    link = Flaky()
    station = Station(study, "ws-1", no_sessions, link, heartbeat_s=0.05)
    stop = threading.Event()
    thread = threading.Thread(target=station.serve, args=(stop, 0.01), daemon=True)
    thread.start()
    time.sleep(0.6)
    stop.set()
    thread.join(5)
    station.close()
    assert link.calls > 20 and len(link.sent) > 5  # it went on reading and beating
    refused = [json.loads(x) for x in (station.dir / "commands.log").read_text().splitlines()]
    assert {e["refused"] for e in refused} == {
        "malformed: not UTF-8 text",
        "malformed: too large (100000 bytes, at most 8192)",
        "malformed: not a labmrt message of this version",
    }
