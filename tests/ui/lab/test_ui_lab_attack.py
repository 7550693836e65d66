"""An attacker on the lab network against real stations and a real console (loopback LSL).

Three ``labmrt station`` processes (simulated participants) and the console's
lab view in this process, on its real LSL link. The attacker
(:mod:`lab_attacker`) has pylsl streams of its own and no labmrt code; it
knows the study id and the station names, which every labmrt stream shows.
Each test is one attack of issue 25, run against the same processes in
order; after each, the stations are still running, a genuine command is
acknowledged and the tiles show what the stations really do. The last test
checks that nothing committed was lost and that only genuine commands ran.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import time

import pytest
from lab_attacker import COMMANDS, STATUS, Attacker
from lab_helpers import wait_for, write_protocol

from labmrt.cli import main
from labmrt.commands.lab import spawn_station, stop_stations
from labmrt.lab.console import HISTORY, LabConsole
from labmrt.lab.study import create_lab_study
from labmrt.lab.transport import ConsoleLink
from labmrt.store import StudyStore

pytest.importorskip("pylsl")
NAMES = ("ws-1", "ws-2", "ws-3")
PACE = 8.0  # a task takes about 5 s: ws-1's session of 40 tasks outlasts the module
HEADER_KEYS = {"v", "type", "study", "station", "seq", "box"}


class Lab:
    """The console side of the test, and what it knows to be true."""

    def __init__(self, root, study, procs, console, view):
        self.root, self.study, self.procs = root, study, procs
        self.console, self.view = console, view
        self.attacker = Attacker(study.study_id)
        self.codes: dict[str, str] = {}  # participant each station really runs
        self.sent: dict[str, list[str]] = {n: [] for n in NAMES}  # genuine commands run
        self.extra: list = []
        self._flip = False

    def refresh(self) -> None:
        from PySide6.QtWidgets import QApplication

        self.view.refresh()
        QApplication.processEvents()

    def until(self, what, timeout: float = 15.0):
        return wait_for(what, timeout, self.refresh)

    def run(self, name: str, cmd: str, **args):
        """A genuine command: it must be acknowledged, and it ran (ok or refused by the station)."""
        pending = getattr(self.console, cmd)(name, **args)
        self.until(lambda: pending.state != "pending", 20)
        assert pending.state in ("acked", "refused"), pending.error
        self.sent[name].append(cmd)
        return pending

    def genuine_command_works(self) -> None:
        self._flip = not self._flip
        pending = self.run("ws-1", "pause" if self._flip else "resume")
        assert pending.state == "acked", pending.error

    def tile(self, name: str):
        return self.view.tiles[name]

    def truthful(self) -> None:
        """Every station alive and online; the tiles show their real participants and nothing else."""
        assert all(p.poll() is None for p in self.procs.values()), "a station process died"
        self.until(lambda: all(self.console.online(n) for n in NAMES), 10)
        self.refresh()
        assert sorted(self.view.tiles) == list(NAMES)
        for name in NAMES:
            text = self.tile(name).participant.text()
            code = self.codes.get(name)
            if code is None:
                assert text == "participant: —   (idle)", (name, text)
                assert self.tile(name).buttons["start"].isEnabled()
            else:
                assert text.startswith(f"participant: {code}   ("), (name, text)
            assert "P999" not in text and "P777" not in self.tile(name).alerts.text()
        for view in self.console.stations.values():
            assert len(view.history) <= HISTORY
            assert all(len(json.dumps(h)) < 2000 for h in view.history)

    def retained(self) -> int:
        """Bytes of what the console keeps of its stations (status, history, alerts, notices)."""
        size = sum(
            len(json.dumps(v.status)) + len(json.dumps(list(v.history))) + len(json.dumps(v.alerts))
            for v in self.console.stations.values()
        )
        return size + len(json.dumps(self.console.notices(100)))

    def log_size(self, name: str, folder=None) -> int:
        folder = folder or self.study.station_dir(name)
        return sum(p.stat().st_size for p in folder.glob("commands.log*"))

    def log(self, name: str, folder=None) -> list[dict]:
        path = (folder or self.study.station_dir(name)) / "commands.log"
        return [json.loads(line) for line in path.read_text().splitlines()]


@pytest.fixture(scope="module")
def lab(tmp_path_factory, qapp):
    from ui.lab import LabView

    root = tmp_path_factory.mktemp("attack")
    study = create_lab_study(root / "study", write_protocol(root, n_tasks=40))
    procs = {
        n: spawn_station(study.dir, n, PACE, seed=i, log=root / f"{n}.log")
        for i, n in enumerate(NAMES)
    }
    link = ConsoleLink(study.study_id)
    console = LabConsole(study, link, merge_on_end=False)
    view = LabView(console, poll_ms=60_000)  # the tests drive refresh()
    view.resize(1180, 400)
    view.show()
    state = Lab(root, study, procs, console, view)
    try:
        state.until(lambda: all(console.online(n) for n in NAMES), 60)
        yield state
    finally:
        link.close()
        stop_stations([*procs.values(), *state.extra])
        view.close()
        state.attacker.outlets.clear()


def test_the_lab_runs_and_nobody_on_the_network_reads_codes_or_signals(lab):
    tap_status = lab.attacker.tap(STATUS, f"labmrt-station-{lab.study.study_id}-ws-1")
    tap_commands = lab.attacker.tap(COMMANDS, lab.console.link.source_id)
    start = lab.run("ws-1", "start")
    assert start.state == "acked"
    lab.codes["ws-1"] = start.args["participant"]
    lab.until(lambda: lab.console.stations["ws-1"].status["status"] == "running", 20)
    lab.truthful()
    seen = lab.attacker.read(tap_status, 1.5) + lab.attacker.read(tap_commands, 0.1)
    assert len(seen) >= 2
    for text in seen:  # the clear header only; codes, phases and signals are ciphertext
        doc = json.loads(text)
        assert set(doc) == HEADER_KEYS
        assert lab.codes["ws-1"] not in text and "running" not in text
    kinds = {json.loads(t)["type"] for t in seen}
    assert kinds == {"status", "ack", "command"}


def test_junk_commands_do_not_stop_a_station(lab):
    before = {n: lab.log_size(n) for n in NAMES}
    fake = lab.attacker.fake_console("junk")
    assert lab.attacker.heard(fake)
    junk = [m for n in NAMES for m in lab.attacker.junk_commands(n)]
    sent = lab.attacker.flood(fake, junk, hz=100, seconds=3.0)
    assert sent > 200
    lab.genuine_command_works()
    lab.truthful()
    grown = {n: lab.log_size(n) - before[n] for n in NAMES}
    assert all(0 < g < 100_000 for g in grown.values()), grown  # refusals logged, briefly
    refused = [e for e in lab.log("ws-2") if "refused" in e]
    assert any(e.get("left_out") for e in refused)  # and at a bounded rate


def test_a_console_stream_that_vanishes_on_connect_does_not_deafen_a_station(lab):
    prefix = f"labmrt-console-{lab.study.study_id}-gone"
    assert lab.attacker.vanish_on_connect(COMMANDS, prefix, times=3) == 3
    lab.genuine_command_works()
    lab.genuine_command_works()
    lab.truthful()


def test_the_console_believes_no_status_it_cannot_open(lab, screenshot):
    kept = lab.retained()
    statuses = lab.attacker.fake_statuses(lab.study.protocol_hash)
    statuses[0] = statuses[0].replace("P001", "P999")
    statuses[2] = statuses[2].replace("P001", "P777")
    spoofs = [lab.attacker.fake_station(n) for n in ("ws-1", "ws-2", "ws-9")]
    assert all(lab.attacker.heard(s) for s in spoofs)
    for _ in range(25):  # each spoofed stream sends every poison, ten times a second
        for spoof in spoofs:
            for text in statuses:
                spoof.push_sample([text])
        time.sleep(0.1)
        lab.refresh()
        assert "ws-9" not in lab.view.tiles
        assert "P999" not in lab.tile("ws-1").participant.text()
    lab.truthful()
    assert len(lab.console.stations) == 3
    assert lab.retained() - kept < 50_000  # 75 MB of poison later: a few new heartbeats
    notices = "\n".join(lab.console.notices(10))
    assert "ignored from stream" in notices and "too large (1000" in notices
    screenshot(lab.view, "lab_view_attacked")
    # Start on ws-2 starts a new participant, not the interrupted one the attacker made up
    ws2 = lab.tile("ws-2")
    assert ws2.buttons["start"].isEnabled() and "interrupted" not in ws2.alerts.text()
    ws2.buttons["start"].click()
    start = lab.console.commands("ws-2")[-1]
    lab.until(lambda: start.state != "pending", 20)
    assert start.state == "acked" and start.args["participant"] not in ("P777", "P001")
    lab.sent["ws-2"].append("start")
    lab.codes["ws-2"] = start.args["participant"]
    lab.until(lambda: lab.console.stations["ws-2"].status["participant"] == lab.codes["ws-2"])
    # the commands' numbering was not pushed out of range by a forged last_seq
    assert start.seq < 2**53 and start.seq < time.time() * 1000 + 10**6
    lab.genuine_command_works()
    lab.truthful()


def test_a_status_stream_that_vanishes_on_connect_does_not_blind_the_console(lab):
    source = f"labmrt-station-{lab.study.study_id}-ws-2"
    beats = {n: lab.console.stations[n].status["beat"] for n in NAMES}
    assert lab.attacker.vanish_on_connect(STATUS, source, times=3) == 3
    lab.until(lambda: all(lab.console.stations[n].status["beat"] > beats[n] + 2 for n in NAMES))
    lab.genuine_command_works()
    lab.truthful()


def test_a_replayed_heartbeat_is_refused(lab):
    tap = lab.attacker.tap(STATUS, f"labmrt-station-{lab.study.study_id}-ws-3")
    captured = [t for t in lab.attacker.read(tap, 2.5) if '"type":"status"' in t]
    assert captured
    replay = lab.attacker.fake_station("ws-3")
    assert lab.attacker.heard(replay)
    lab.until(lambda: lab.console.stations["ws-3"].status["seq"] >= json.loads(captured[-1])["seq"])
    before = dict(lab.console.dropped)
    alerts = list(lab.console.stations["ws-3"].alerts)
    lab.attacker.flood(replay, captured, hz=50, seconds=1.0)
    played = (
        "heartbeat of ws-3 played back",
        replay_source(lab),
        lab.console.stations["ws-3"].host,
    )
    lab.until(lambda: lab.console.dropped.get(played, 0) > before.get(played, 0))
    assert lab.console.stations["ws-3"].alerts == alerts  # a replay is no second station
    lab.truthful()


def replay_source(lab) -> str:
    return f"labmrt-station-{lab.study.study_id}-ws-3"


def test_a_command_that_failed_never_runs_later_and_forged_acks_settle_nothing(lab):
    ws3 = lab.procs["ws-3"]
    tap = lab.attacker.tap(COMMANDS, lab.console.link.source_id)
    ws3.send_signal(signal.SIGSTOP)  # the station hangs: the command cannot be delivered
    try:
        start = lab.console.start("ws-3")
        forger = lab.attacker.fake_station("ws-3")
        assert lab.attacker.heard(forger)
        ack = {"v": 1, "type": "ack", "study": lab.study.study_id, "station": "ws-3"}
        forged = [
            json.dumps({**ack, "seq": start.seq, "cmd": "start", "ok": True, "mac": "0" * 64}),
            lab.attacker.random_box("ack", "ws-3", seq=start.seq),
        ]
        lab.attacker.flood(forger, forged, hz=20, seconds=1.0)
        lab.until(lambda: start.state != "pending", 15)
        assert start.state == "failed"
        captured = [t for t in lab.attacker.read(tap, 0.2) if '"type":"command"' in t]
    finally:
        ws3.send_signal(signal.SIGCONT)
    lab.until(lambda: lab.console.online("ws-3"), 15)
    assert captured  # the attacker recorded the start; it plays it back now
    replayer = lab.attacker.fake_console("replay")
    assert lab.attacker.heard(replayer)
    lab.attacker.flood(replayer, captured, hz=10, seconds=0.5)
    lab.until(lambda: [e for e in lab.log("ws-3") if e.get("command", {}).get("seq") == start.seq])
    late = [e for e in lab.log("ws-3") if e.get("command", {}).get("seq") == start.seq]
    assert {e.get("refused") for e in late} == {"expired"}
    assert not any(e.get("executed") for e in late)
    lab.refresh()
    assert "start failed" in lab.tile("ws-3").alerts.text()
    lab.genuine_command_works()
    lab.truthful()  # ws-3 is still idle: the failed start never ran


def test_a_second_stream_for_a_name_is_an_alert_and_commands_do_not_run_in_another_folder(lab):
    copy = lab.root / "copy"  # the same study, copied to another workstation
    copy.mkdir()
    for name in ("lab.json", "lab.secret"):
        shutil.copy2(lab.study.dir / name, copy / name)
    twin = spawn_station(copy, "ws-3", PACE, log=lab.root / "twin.log")
    lab.extra.append(twin)
    lab.until(lambda: "second stream claims ws-3" in lab.tile("ws-3").alerts.text(), 40)
    start = lab.run("ws-3", "start")  # both hear it; only the station it was made for runs it
    assert start.state == "acked"
    lab.codes["ws-3"] = start.args["participant"]
    twin_folder = copy / "stations" / "ws-3"
    lab.until(lambda: any(e.get("refused") for e in lab.log("ws-3", twin_folder)), 10)
    assert {e["refused"] for e in lab.log("ws-3", twin_folder)} == {"another station folder"}
    twin.send_signal(signal.SIGTERM)
    twin.wait(15)
    with StudyStore.open(twin_folder, readonly=True) as store:
        assert len(store.sessions()) == 0
    lab.until(lambda: lab.console.stations["ws-3"].status["participant"] == lab.codes["ws-3"])
    lab.genuine_command_works()
    lab.truthful()


def test_nothing_committed_is_lost_and_only_genuine_commands_ran(lab):
    for name in NAMES:
        if lab.console.stations[name].status["status"] == "paused":
            lab.run(name, "resume")
        abort = lab.run(name, "abort", reason="end of the attack")
        assert abort.state == "acked", abort.error
    lab.until(lambda: all(lab.console.stations[n].status["status"] == "aborted" for n in NAMES), 40)
    done = {n: lab.console.stations[n].status["task_k"] for n in NAMES}
    stop_stations(list(lab.procs.values()))
    for name in NAMES:
        executed = [e["command"]["cmd"] for e in lab.log(name) if e.get("executed")]
        assert executed == lab.sent[name], name
        assert lab.log_size(name) < 300_000
        with StudyStore.open(lab.study.station_dir(name), readonly=True) as store:
            sessions = store.sessions()
            assert list(sessions["participant"]) == [lab.codes[name]]
            assert list(sessions["status"]) == ["aborted"]
            assert len(store.decisions()) >= done[name]
    stations = [str(lab.study.station_dir(n)) for n in NAMES]
    assert main(["merge", *stations, "--into", str(lab.study.dir)]) == 0
    with StudyStore.open(lab.study.dir, readonly=True) as store:
        assert sorted(store.sessions()["participant"]) == sorted(lab.codes.values())
    assert os.stat(lab.study.dir / "lab.secret").st_mode & 0o077 == 0
