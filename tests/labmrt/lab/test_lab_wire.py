"""Signed console commands: a station obeys its study's console only, once per command."""

from __future__ import annotations

import json

from labmrt.lab.wire import CommandGate, CommandSender, sign

SECRET = bytes(range(32))
OTHER = bytes(range(1, 33))


class Clock:
    def __init__(self) -> None:
        self.t = 0.0

    def __call__(self) -> float:
        return self.t


def _pair(clock=None):
    logged: list[tuple[str, dict]] = []
    gate = CommandGate("study-a", SECRET, "ws-1", log=lambda r, d: logged.append((r, d)))
    sender = CommandSender("study-a", SECRET, clock=clock or Clock(), first_seq=100)
    return gate, sender, logged


def test_a_valid_command_runs_once_and_its_retry_is_only_acknowledged():
    gate, sender, logged = _pair()
    cmd = sender.command("ws-1", "start", participant="P001")
    first = gate.check(cmd.text)
    assert first.execute and first.ack and first.command.args == {"participant": "P001"}
    again = gate.check(cmd.text)
    assert again.ack and not again.execute
    assert logged == []
    acked = sender.on_ack(gate.ack_text(first.command, ok=True))
    assert acked is cmd and cmd.state == "acked"
    assert sender.on_ack(gate.ack_text(first.command, ok=True)) is None  # counted once


def test_another_study_a_forgery_and_a_replay_are_refused_and_logged():
    gate, sender, logged = _pair()
    foreign = CommandSender("study-b", OTHER, first_seq=10_000).command("ws-1", "abort", reason="x")
    assert not gate.check(foreign.text).execute
    # same study id, but signed with a guessed key
    same_id = CommandSender("study-a", OTHER, first_seq=10_000).command("ws-1", "pause")
    assert not gate.check(same_id.text).execute
    # a valid command altered in transit: the MAC no longer fits
    good = sender.command("ws-1", "start", participant="P001")
    doc = json.loads(good.text)
    doc["args"]["participant"] = "P666"
    assert not gate.check(json.dumps(doc)).execute
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
        "replay",
        "malformed",
    ]
    assert logged[2][1]["args"]["participant"] == "P666"  # the log keeps what was refused


def test_commands_for_a_colleague_station_are_neither_run_nor_logged():
    gate, sender, logged = _pair()
    verdict = gate.check(sender.command("ws-2", "pause").text)
    assert not verdict.execute and not verdict.ack and verdict.refused == ""
    assert logged == []


def test_unacknowledged_commands_are_retried_then_failed():
    clock = Clock()
    gate, sender, _ = _pair(clock)
    cmd = sender.command("ws-1", "pause")
    sender.tries = 3
    assert sender.due() == ([], [])  # not yet due
    clock.t = 1.0
    again, failed = sender.due()
    assert again == [cmd] and failed == [] and cmd.tries == 2
    clock.t = 1.5
    assert sender.due() == ([], [])
    clock.t = 2.0
    assert sender.due()[0] == [cmd] and cmd.tries == 3
    clock.t = 3.0
    again, failed = sender.due()
    assert again == [] and failed == [cmd] and cmd.state == "failed"
    assert "3 tries" in cmd.error
    assert sender.unacknowledged() == [cmd]


def test_acknowledgements_must_be_signed_by_the_study():
    gate, sender, _ = _pair()
    cmd = sender.command("ws-1", "abort", reason="participant unwell")
    verdict = gate.check(cmd.text)
    forged = json.loads(gate.ack_text(verdict.command, ok=True))
    assert sender.on_ack(sign(forged, OTHER)) is None
    assert cmd.state == "pending"
    refused = sender.on_ack(gate.ack_text(verdict.command, ok=False, error="no session"))
    assert refused is cmd and cmd.state == "refused" and cmd.error == "no session"


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
    old = sender.command("ws-1", "pause")  # no session: refused by the station, but run
    first = Station(study, "ws-1", no_sessions, Link())
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
    from lab_helpers import FakeLink, write_protocol

    from labmrt.lab.console import LabConsole
    from labmrt.lab.study import create_lab_study

    study = create_lab_study(tmp_path / "study", write_protocol(tmp_path, n_tasks=2))
    link = FakeLink()
    console = LabConsole(study, link, merge_on_end=False)
    ahead = console.sender._seq + 10_000_000  # e.g. a console on a machine whose clock is ahead
    link.inbox.append(
        {"type": "status", "study": study.study_id, "station": "ws-1", "last_seq": ahead}
    )
    console.poll()
    command = console.pause("ws-1")
    assert command.seq == ahead + 1
    gate = CommandGate(study.study_id, study.secret(), "ws-1")
    gate.last_seq = ahead
    assert gate.check(command.text).execute
