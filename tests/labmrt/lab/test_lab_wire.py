"""Sealed console commands: a station obeys its study's console only, once, in time, here."""

from __future__ import annotations

import base64
import json
import time

import pytest

from labmrt.lab.envelope import Header, Refused, Sealer, parse, read_header
from labmrt.lab.logbook import MAX_ENTRY
from labmrt.lab.wire import SKEW_S, CommandGate, CommandSender

SECRET = bytes(range(32))
OTHER = bytes(range(1, 33))
FOLDER = "ab" * 16


class Clock:
    def __init__(self, t: float = 0.0) -> None:
        self.t = t

    def __call__(self) -> float:
        return self.t


def _pair(clock=None, wall=None):
    logged: list[tuple[str, dict]] = []
    gate = CommandGate(
        "study-a",
        SECRET,
        "ws-1",
        log=lambda r, d: logged.append((r, d)),
        folder=FOLDER,
        wall=wall or time.time,
    )
    sender = CommandSender("study-a", SECRET, clock=clock or Clock(), wall=wall or time.time)
    sender.at_least(100)
    sender.peer("ws-1", FOLDER, (wall or time.time)())
    return gate, sender, logged


def test_a_valid_command_runs_once_and_its_retry_is_only_acknowledged():
    gate, sender, logged = _pair()
    cmd = sender.command("ws-1", "start", participant="P001")
    first = gate.check(cmd.text)
    assert first.execute and first.ack and first.command.args == {"participant": "P001"}
    again = gate.check(cmd.text)
    assert again.ack and not again.execute
    assert logged == []
    acked = sender.read_ack(gate.ack_text(first.command, ok=True))
    assert acked is cmd and cmd.state == "acked"
    assert sender.read_ack(gate.ack_text(first.command, ok=True)) is None  # counted once


def test_another_study_a_forgery_and_a_replay_are_refused_and_logged():
    gate, sender, logged = _pair()
    foreign = CommandSender("study-b", OTHER, first_seq=10_000).command("ws-1", "abort", reason="x")
    assert not gate.check(foreign.text).execute
    # same study id, but sealed with a guessed key
    same_id = CommandSender("study-a", OTHER, first_seq=10_000).command("ws-1", "pause")
    assert not gate.check(same_id.text).execute
    # a valid command altered in transit: one bit of its box, or its clear header
    good = sender.command("ws-1", "start", participant="P001")
    doc = json.loads(good.text)
    box = bytearray(base64.b64decode(doc["box"]))
    box[20] ^= 1
    assert not gate.check(json.dumps({**doc, "box": base64.b64encode(box).decode()})).execute
    assert not gate.check(json.dumps({**doc, "seq": doc["seq"] + 10})).execute
    # the genuine commands, then an old one played back
    older = sender.command("ws-1", "pause")
    newer = sender.command("ws-1", "resume")
    assert gate.check(newer.text).execute
    replay = gate.check(older.text)
    assert not replay.execute and not replay.ack
    assert not gate.check("not json at all").execute
    assert [r for r, _ in logged] == [
        "another study",
        "bad signature",
        "bad signature",
        "bad signature",
        "replay",
        "malformed: not JSON",
    ]
    assert logged[2][1]["seq"] == good.seq and "not sealed" in logged[2][1]["why"]
    assert logged[4][1]["cmd"] == "pause"  # an opened command is logged with what it said
    # nobody on the network reads the participant code or the reason
    assert "P001" not in good.text and "start" not in good.text


def test_a_command_expires_and_is_bound_to_its_station_folder():
    wall = Clock(1_000_000.0)  # the console's clock
    ahead = Clock(0.0)  # how far the station's clock is ahead of it
    gate, sender, logged = _pair(Clock(), wall)
    gate.wall = lambda: wall() + ahead()
    assert sender.valid_s == 5.0  # five tries, a second apart
    late = sender.command("ws-1", "pause")
    wall.t += sender.valid_s + 0.01
    assert not gate.check(late.text).execute  # delivered after its validity: never runs
    in_time = sender.command("ws-1", "pause")
    wall.t += sender.valid_s - 0.01
    assert gate.check(in_time.text).execute
    # a command for this station's name, made for another station folder
    sender.peer("ws-1", "cd" * 16, wall())
    elsewhere = sender.command("ws-1", "resume")
    assert not gate.check(elsewhere.text).execute
    # the station's clock is 2 minutes ahead; its heartbeat tells the console
    sender.peer("ws-1", FOLDER, gate.wall())
    ahead.t = 120.0
    stale = sender.command("ws-1", "resume")  # made before the console knew
    assert not gate.check(stale.text).execute
    sender.peer("ws-1", FOLDER, gate.wall())
    assert gate.check(sender.command("ws-1", "resume").text).execute
    # a console whose idea of the station's clock is an hour ahead
    sender.peer("ws-1", FOLDER, gate.wall() + 3600.0)
    assert not gate.check(sender.command("ws-1", "pause").text).execute
    assert [r for r, _ in logged] == [
        "expired",
        "another station folder",
        "expired",
        "valid for too long",
    ]
    assert logged[0][1]["late_s"] == pytest.approx(0.01, abs=1e-6)


HOSTILE = [
    '{"v":1,"type":"command","study":"study-a","station":"ws-1","seq":1,"mac":"\u00e9"}',
    '{"_text": 1}',
    b"\xff\xfe\x00 not utf-8 \xc3\x28",
    "[" * 5000 + "]" * 5000,
    '{"v":2,"type":"command","study":"study-a","station":"ws-1","seq":' + "9" * 4300 + "}",
    '{"v":2,"type":"command","study":"study-a","station":["ws-1"],"seq":1,"box":""}',
    '{"v":2,"type":"command","study":"study-a","station":"ws-1","seq":true,"box":""}',
    '{"v":2,"type":"command","study":"study-a","station":"ws-1","seq":1,"box":"***"}',
    '{"v":2,"type":"command","study":"study-a","station":"ws-1","seq":1,"box":"AAAA"}',
    '{"v":true,"type":"command","study":"study-a","station":"ws-1","seq":1,"box":""}',
    "x" * 1_000_000,
    "",
    "null",
    '"text"',
]


@pytest.mark.parametrize("text", HOSTILE, ids=range(len(HOSTILE)))
def test_a_hostile_message_is_refused_briefly_and_never_raises(text):
    gate, sender, logged = _pair()
    verdict = gate.check(text)
    assert not verdict.execute and not verdict.ack and verdict.refused
    assert len(logged) == 1
    assert len(json.dumps(logged[0][1])) < MAX_ENTRY  # the log keeps a bounded account
    assert gate.check(sender.command("ws-1", "pause").text).execute  # and the next one runs


def test_a_sealed_body_with_wrong_fields_is_refused():
    gate, sender, logged = _pair()
    sealer = Sealer(SECRET, "study-a")
    bodies = [
        {"cmd": "start", "args": {"participant": "Anna"}, "folder": FOLDER, "expires": 1e12},
        {"cmd": "start", "args": {}, "folder": FOLDER, "expires": 1e12},
        {"cmd": "format", "args": {}, "folder": FOLDER, "expires": 1e12},
        {"cmd": "abort", "args": {"reason": "x" * 1000}, "folder": FOLDER, "expires": 1e12},
        {"cmd": "pause", "args": {}, "folder": FOLDER, "expires": "soon"},
        [],
    ]
    for i, body in enumerate(bodies):
        header = Header("command", "study-a", "ws-1", 1000 + i)
        assert not gate.check(sealer.seal(header, body)).execute
    assert [r for r, _ in logged] == ["malformed"] * 5 + [
        "malformed: sealed body is not a JSON object"
    ]


def test_commands_for_a_colleague_station_are_neither_run_nor_logged():
    gate, sender, logged = _pair()
    verdict = gate.check(sender.command("ws-2", "pause").text)
    assert not verdict.execute and not verdict.ack and verdict.refused == ""
    assert logged == []


def test_unacknowledged_commands_are_retried_then_failed():
    clock = Clock()
    gate, sender, _ = _pair(clock)
    sender.tries = 3
    cmd = sender.command("ws-1", "pause")
    assert sender.due() == ([], [])  # not yet due
    clock.t = 1.0
    again, failed = sender.due()
    assert again == [cmd] and failed == [] and cmd.tries == 2
    clock.t = 1.5
    assert sender.due() == ([], [])
    clock.t = 2.0
    assert sender.due()[0] == [cmd] and cmd.tries == 3
    clock.t = 3.0 + SKEW_S - 0.01  # no more tries; still valid (with the margin for clocks)
    assert sender.due() == ([], []) and cmd.state == "pending"
    clock.t = 3.0 + SKEW_S
    again, failed = sender.due()
    assert again == [] and failed == [cmd] and cmd.state == "failed"
    assert "3 tries" in cmd.error
    assert sender.unacknowledged() == [cmd]


def test_acknowledgements_must_be_sealed_by_the_study(tmp_path):
    from lab_helpers import FakeLink, from_station, heartbeat, write_protocol

    from labmrt.lab.console import LabConsole
    from labmrt.lab.study import create_lab_study

    study = create_lab_study(tmp_path / "study", write_protocol(tmp_path, n_tasks=2))
    link = FakeLink()
    console = LabConsole(study, link, merge_on_end=False)
    link.inbox.append(heartbeat(study, "ws-1"))
    console.poll()
    cmd = console.abort("ws-1", "participant unwell")
    gate = CommandGate(
        study.study_id, study.secret(), "ws-1", folder=console.sender.peers["ws-1"].folder
    )
    verdict = gate.check(cmd.text)
    genuine = parse(gate.ack_text(verdict.command, ok=True))
    header = read_header(genuine)
    forged = Sealer(OTHER, study.study_id).seal(header, {"cmd": "abort", "ok": True, "error": ""})
    with pytest.raises(Refused):
        Sealer(study.secret(), study.study_id).open(header, parse(forged))
    link.inbox.append(from_station(study, "ws-1", forged))
    console.poll()
    assert cmd.state == "pending"
    assert "not sealed with this study's key" in console.notices()[0]
    ack = gate.ack_text(verdict.command, ok=False, error="no session")
    link.inbox.append(from_station(study, "ws-1", ack))
    console.poll()
    assert cmd.state == "refused" and cmd.error == "no session"


def test_a_restarted_station_still_refuses_an_old_command(tmp_path):
    from lab_helpers import write_protocol

    from labmrt.lab.station import Station
    from labmrt.lab.study import create_lab_study

    study = create_lab_study(tmp_path / "study", write_protocol(tmp_path, n_tasks=2))

    class Link:
        published: list[str] = []

        def commands(self):
            return []

        def publish(self, text):
            self.published.append(text)

    def no_sessions(code, store, resume):
        raise AssertionError("no command may run here")

    sender = CommandSender(study.study_id, study.secret())
    first = Station(study, "ws-1", no_sessions, Link())
    sender.peer("ws-1", first.folder_id, time.time())
    old = sender.command("ws-1", "pause")  # no session: refused by the station, but run
    first.receive(old.text)
    first.close()
    again = Station(study, "ws-1", no_sessions, Link())  # restarted
    assert again.gate.last_seq == old.seq
    again.receive(old.text)  # the same text again: a retry, acknowledged, not run
    newer = sender.command("ws-1", "resume")
    again.receive(newer.text)
    again.close()
    restarted = Station(study, "ws-1", no_sessions, Link())
    restarted.receive(old.text)
    restarted.close()
    log = [json.loads(x) for x in (restarted.dir / "commands.log").read_text().splitlines()]
    assert [x.get("refused") or x["command"]["cmd"] for x in log] == ["pause", "resume", "replay"]


def test_a_second_console_numbers_its_commands_above_what_the_station_ran(tmp_path):
    from lab_helpers import FOLDER, FakeLink, heartbeat, write_protocol

    from labmrt.lab.console import LabConsole
    from labmrt.lab.study import create_lab_study

    study = create_lab_study(tmp_path / "study", write_protocol(tmp_path, n_tasks=2))
    link = FakeLink()
    console = LabConsole(study, link, merge_on_end=False)
    ahead = console.sender._seq + 10_000_000  # e.g. a console on a machine whose clock is ahead
    link.inbox.append(heartbeat(study, "ws-1", last_seq=ahead))
    console.poll()
    command = console.pause("ws-1")
    assert command.seq == ahead + 1
    gate = CommandGate(study.study_id, study.secret(), "ws-1", folder=FOLDER)
    gate.last_seq = ahead
    assert gate.check(command.text).execute
