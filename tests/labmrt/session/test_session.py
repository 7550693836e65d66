"""The session engine on a virtual clock: lifecycle, availability, outcomes, pause, abort,
resume, full disk. Every expectation is computed by hand from the scripted participant."""

from __future__ import annotations

import math
import textwrap
from dataclasses import dataclass, field

import pytest

from labmrt.errors import LabmrtError
from labmrt.protocol import load_protocol
from labmrt.session import SessionEngine, close_interrupted
from labmrt.session.clock import VirtualClock
from labmrt.session.engine import NOT_A_DECISION_POINT, receipt
from labmrt.session.randomizer import MicroRandomizer
from labmrt.state import AffectState
from labmrt.store import StudyStore

PROTOCOL = """
moderators = ["affect_state", "hr"]
controls = ["task_index", "time_in_session_s"]

[study]
title = "engine test"
version = "1"

[[arms]]
id = "neutral"
label = "Neutral"
framing = "{task}"
baseline = true

[[arms]]
id = "gain"
label = "Gain"
framing = "GAIN {task}"

[[arms]]
id = "loss"
label = "Loss"
framing = "LOSS {task}"

[randomization]
seed = 7
context = "affect_state"
[randomization.table.calm]
neutral = 0.4
gain = 0.3
loss = 0.3
[randomization.table.aroused]
neutral = 0.5
gain = 0.25
loss = 0.25
[randomization.table.unknown]
neutral = 0.4
gain = 0.3
loss = 0.3

[decision_rules]
select = "{select}"
every_k = 2
min_spacing_s = {spacing}
require_signal = true
min_quality = 0.5
break_unavailable = true

[[features]]
id = "help"
label = "Help"
kind = "help"

[[features]]
id = "hint"
label = "Hint"
kind = "hint"

[[features]]
id = "calc"
label = "Calculator"
kind = "calculator"

[[outcomes]]
name = "help_s"
features = ["help", "hint"]
measure = "duration"
window = "task"
transform = "log1p"

[[outcomes]]
name = "calc_any"
features = ["calc"]
measure = "any"

[[outcomes]]
name = "help_opens_60"
features = ["help"]
measure = "count"
window = 60

[control]
min_dwell_s = 2
require_confirmation = true

[calibration]
rest_s = 10
stressor_s = 5

[sensors]
streams = ["ecg", "eda"]
window_s = 30

[[tasks]]
id = "t0"
text = "first"
question = "pick"
answer_kind = "choice"
choices = ["A", "B"]
correct = "A"

[[tasks]]
id = "t1"
text = "second"

[[tasks]]
id = "t2"
text = "third"

[[tasks]]
id = "t3"
text = "fourth"
"""


def write_protocol(tmp_path, select="all", spacing=0):
    path = tmp_path / "p.toml"
    text = PROTOCOL.replace("{select}", select).replace("{spacing}", str(spacing))
    path.write_text(textwrap.dedent(text))
    return load_protocol(path)


@dataclass
class Script:
    """One task of the scripted participant: times relative to when it is shown."""

    events: list = field(default_factory=list)  # (dt, feature, action)
    read: float = 3.0
    confirm: bool = True
    duration: float = 30.0
    answer: str | None = "A"
    hook: object = None  # called with (engine, task) at the start of the task


class ScriptedParticipant:
    def __init__(self, clock, scripts, store=None):
        self.clock = clock
        self.scripts = list(scripts)
        self.store = store
        self.engine = None
        self.tasks = []
        self.phases = []
        self.ended = None
        self.committed_before_show = []

    def begin_phase(self, phase, duration_s):
        self.phases.append(("begin", phase, self.clock.now(), duration_s))

    def end_phase(self, phase):
        self.phases.append(("end", phase, self.clock.now(), None))

    def end_session(self, status, reason):
        self.ended = (status, reason)

    def present(self, task, report):
        shown = self.clock.now()
        self.tasks.append(task)
        if self.store is not None and task.decision_point is not None:
            dps = set(self.store.decisions(self.engine.session_id)["decision_point"])
            self.committed_before_show.append(task.decision_point in dps)
        script = self.scripts[task.task_index]
        if script.hook is not None:
            script.hook(self.engine, task)
        for dt, feature, action in script.events:
            self.clock.sleep_until(shown + dt)
            report(feature, action, shown + dt, "")
        self.clock.sleep_until(shown + script.duration)
        return {
            "shown_t": shown,
            "confirmed": script.confirm,
            "received_t": shown + script.read if script.confirm else None,
            "answer": script.answer,
            "answer_t": shown + script.duration,
            "end_t": shown + script.duration,
        }


class FixedSource:
    """A state source that returns queued states (the last one repeats); records phases."""

    def __init__(self, clock, states=None):
        self.clock = clock
        self.states = list(states or [("calm", 0.9)])
        self.phases = []

    def begin_phase(self, phase, t):
        self.phases.append(("begin", phase, t))

    def end_phase(self, phase, t):
        self.phases.append(("end", phase, t))

    def current_state(self):
        label, q = self.states.pop(0) if len(self.states) > 1 else self.states[0]
        now = self.clock.now()
        return AffectState(
            t=now,
            label=label,
            p_aroused=0.8 if label == "aroused" else 0.2,
            features={"hr": 70.0},
            windows={"hr": (now - 30, now)},
            quality={"ecg": q, "eda": q} if q is not None else {},
            reason="lost" if q is None else "",
        )


SCRIPTS = [
    # task 0: help 5-10, hint 8-12 (union 7 s), calc used, help opened twice within 60 s
    Script(
        events=[
            (5, "help", "open"),
            (8, "hint", "open"),
            (10, "help", "close"),
            (12, "hint", "close"),
            (14, "calc", "open"),
            (15, "calc", "use"),
            (16, "calc", "close"),
            (20, "help", "open"),
            (25, "help", "close"),
        ],
        duration=30.0,
    ),
    # task 1: confirmed too fast (read 1 s < 2 s): not received; help 2-4 opened
    Script(events=[(2, "help", "open"), (4, "help", "close")], read=1.0, duration=20.0),
    # task 2: never confirmed; nothing used
    Script(confirm=False, duration=10.0, answer=None),
    # task 3: hint 1-2
    Script(events=[(1, "hint", "open"), (2, "hint", "close")], duration=5.0, answer="x"),
]


@pytest.fixture
def store(tmp_path):
    with StudyStore.open(tmp_path / "study", create=True) as s:
        yield s


def make_engine(protocol, store, clock, scripts=SCRIPTS, states=None, code="P01", **kw):
    person = ScriptedParticipant(clock, scripts, store)
    source = FixedSource(clock, states)
    engine = SessionEngine(protocol, store, code, person, state_source=source, clock=clock, **kw)
    person.engine = engine
    return engine, person, source


def test_full_session_records_everything_in_order(tmp_path, store):
    protocol = write_protocol(tmp_path)
    clock = VirtualClock(100.0)
    engine, person, source = make_engine(protocol, store, clock)
    seen = []
    engine.signals.decision_made.connect(lambda row: seen.append(("decision", row["t"])))
    engine.signals.feature_used.connect(lambda row: seen.append(("event", row["t"])))
    assert engine.run() == "completed"
    sid = engine.session_id

    # calibration: rest 100-110, stressor 110-115, told to presenter and state source
    phases = store.phases(sid)
    assert phases[["phase", "start_t", "end_t"]].values.tolist() == [
        ["rest", 100.0, 110.0],
        ["stressor", 110.0, 115.0],
        ["task", 115.0, 115.0 + 30 + 20 + 10 + 5],
    ]
    assert [p[:2] for p in person.phases] == [
        ("begin", "rest"),
        ("end", "rest"),
        ("begin", "stressor"),
        ("end", "stressor"),
    ]
    assert source.phases == [
        ("begin", "rest", 100.0),
        ("end", "rest", 110.0),
        ("begin", "stressor", 110.0),
        ("end", "stressor", 115.0),
    ]

    dec = store.decisions(sid)
    assert dec["decision_point"].tolist() == [0, 1, 2, 3]
    assert dec["t"].tolist() == [115.0, 145.0, 165.0, 175.0]
    assert dec["available"].all()
    # the draws are exactly the randomizer's stream for (seed 7, P01, session 1)
    rnd = MicroRandomizer(protocol, "P01", 1)
    expected = [rnd.draw(k, {"affect_state": "calm"}).arm for k in range(4)]
    assert dec["arm"].tolist() == expected
    assert dec["probabilities"][0] == {"neutral": 0.4, "gain": 0.3, "loss": 0.3}
    assert dec["context"][0] == {"affect_state": "calm", "hr": "70.0"}
    assert dec["windows"][0] == {"hr": [85.0, 115.0]}
    assert dec["controls"][1]["time_in_session_s"] == 45.0
    # prior outcomes: decision point 0's task window closed at 145, its 60 s window not yet
    assert dec["controls"][1]["prior_help_s"] == pytest.approx(math.log1p(12.0))
    assert dec["controls"][1]["prior_help_opens_60"] is None
    assert dec["controls"][2]["prior_help_opens_60"] is None  # 145 + 60 > 165
    assert dec["controls"][0]["prior_help_s"] == 0.0
    # framed text shown matches the arm drawn
    for task, arm in zip(person.tasks, expected, strict=True):
        prefix = {"neutral": "", "gain": "GAIN ", "loss": "LOSS "}[arm]
        assert task.text.startswith(prefix) and task.arm == arm
    # every decision was committed before its task was shown
    assert person.committed_before_show == [True, True, True, True]
    # decision precedes the events of its task in the signals too
    assert seen[0] == ("decision", 115.0) and seen[1] == ("event", 120.0)

    pres = store.presentations(sid)
    assert pres["received"].tolist() == [True, False, False, True]
    assert pres["received_t"].tolist()[0] == 118.0
    assert pres["dwell_s"].tolist()[:2] == [3.0, 1.0]
    assert pres["correct"].tolist()[0] is True
    assert pd_isna(pres["correct"].tolist()[1])  # not scored

    out = store.outcomes(sid).pivot(index="decision_point", columns="name", values="value")
    # task 0 (decision 115, ends 145): union help/hint 7 s + help 20-25 -> 12 s
    assert out.loc[0, "help_s"] == pytest.approx(math.log1p(12.0))
    assert out.loc[0, "calc_any"] == 1.0
    # help opens within [115, 175]: 120 and 135 (task 0) and 147 (task 1) -> 3
    assert out.loc[0, "help_opens_60"] == 3.0
    assert out.loc[1, "help_s"] == pytest.approx(math.log1p(2.0))
    assert out.loc[1, "calc_any"] == 0.0
    assert out.loc[2, "help_s"] == 0.0
    assert out.loc[3, "help_s"] == pytest.approx(math.log1p(1.0))
    # the 60 s window of decision point 3 (175-235) outlives the session: complete anyway
    assert out.loc[3, "help_opens_60"] == 0.0

    events = store.events(sid)
    assert len(events) == 9 + 2 + 0 + 2
    assert events["decision_point"].tolist()[:9] == [0] * 9
    status = store.status_history(sid)["status"].tolist()
    assert status == ["created", "running", "completed"]
    markers = store.markers(sid)["marker"].tolist()
    assert sum('"event":"decision"' in m for m in markers) == 4
    assert sum('"event":"feature"' in m for m in markers) == 13
    assert person.ended == ("completed", "")


def pd_isna(value):
    import pandas as pd

    return pd.isna(value)


def test_availability_reasons(tmp_path, store):
    protocol = write_protocol(tmp_path, spacing=25)
    clock = VirtualClock(0.0)
    states = [("unknown", None), ("calm", 0.3), ("aroused", 0.9), ("calm", 0.9)]
    engine, _, _ = make_engine(protocol, store, clock, states=states)
    engine.run()
    dec = store.decisions(engine.session_id)
    reasons = dec["unavailable_reason"].tolist()
    assert reasons[0] == "no valid signal (lost)"
    assert reasons[1].startswith("signal quality below threshold (0.30 < 0.5)")
    assert reasons[2] == ""
    # decision 3 comes 10 s after decision 2 (task 2 lasts 10 s), spacing is 25 s
    assert reasons[3] == "min spacing (10.0 s < 25 s)"
    assert dec["available"].tolist() == [False, False, True, False]
    assert dec["arm"].isna().tolist() == [True, True, False, True]
    # unavailable points still record every arm's probability and the state
    assert dec["probabilities"][0] == {"neutral": 0.4, "gain": 0.3, "loss": 0.3}
    assert dec["state"].tolist() == ["unknown", "calm", "aroused", "calm"]
    assert dec["probabilities"][2] == {"neutral": 0.5, "gain": 0.25, "loss": 0.25}
    # unavailable tasks are shown with the baseline wording
    pres = store.presentations(engine.session_id)
    assert len(pres) == 4


def test_break_makes_the_next_decision_unavailable(tmp_path, store):
    protocol = write_protocol(tmp_path)
    clock = VirtualClock(0.0)
    scripts = list(SCRIPTS)
    scripts[1] = Script(duration=20.0, hook=lambda engine, task: engine.pause("tired", 40.0))
    engine, person, _ = make_engine(protocol, store, clock, scripts=scripts)
    engine.run()
    sid = engine.session_id
    phases = store.phases(sid)
    brk = phases[phases["phase"] == "break"]
    # task 1 starts at 15 + 30 = 45 and ends at 65; the break runs 65-105
    assert brk[["start_t", "end_t"]].values.tolist() == [[65.0, 105.0]]
    dec = store.decisions(sid)
    assert dec["unavailable_reason"].tolist() == ["", "", "break", "break"]
    # decision 3 is 10 s after decision 2 at 105 (within the 30 s feature window)
    assert dec["t"].tolist()[2:] == [105.0, 115.0]
    history = store.status_history(sid)
    assert history["status"].tolist() == ["created", "running", "paused", "resumed", "completed"]
    assert history["reason"].tolist()[2] == "tired"
    assert ("begin", "break", 65.0, 40.0) in person.phases


def test_abort_stops_after_the_running_task(tmp_path, store):
    protocol = write_protocol(tmp_path)
    clock = VirtualClock(0.0)
    scripts = list(SCRIPTS)
    scripts[1] = Script(
        events=[(1, "help", "open")], duration=5.0, hook=lambda e, t: e.abort("fire alarm")
    )
    engine, person, _ = make_engine(protocol, store, clock, scripts=scripts)
    assert engine.run() == "aborted"
    sid = engine.session_id
    assert store.decisions(sid)["decision_point"].tolist() == [0, 1]
    info = store.session_info(sid)
    assert (info.status, info.status_reason) == ("aborted", "fire alarm")
    out = store.outcomes(sid).pivot(index="decision_point", columns="name", values="value")
    # decision 1 (at 45, task ended 50): task windows complete, the 60 s window is not
    assert out.loc[1, "help_s"] == pytest.approx(math.log1p(4.0))
    assert math.isnan(out.loc[1, "help_opens_60"])
    assert math.isnan(out.loc[0, "help_opens_60"])  # 15 + 60 = 75 > 50
    assert person.ended == ("aborted", "fire alarm")


def test_tasks_that_are_not_decision_points(tmp_path, store):
    protocol = write_protocol(tmp_path, select="every_k")
    clock = VirtualClock(0.0)
    engine, person, _ = make_engine(protocol, store, clock)
    engine.run()
    sid = engine.session_id
    dec = store.decisions(sid)
    assert dec["task_index"].tolist() == [0, 2]
    assert dec["decision_point"].tolist() == [0, 1]
    pres = store.presentations(sid).sort_values("task_index")
    assert pres["decision_point"].tolist() == [0, NOT_A_DECISION_POINT, 1, NOT_A_DECISION_POINT]
    assert [t.decision_point for t in person.tasks] == [0, None, 1, None]
    assert person.tasks[1].text == "second" and person.tasks[1].arm is None
    events = store.events(sid)
    assert events[events["task_index"] == 1]["decision_point"].isna().all()


class Crash(Exception):
    """Stands in for the process dying in the middle of a task."""


def crash_at(task_index):
    scripts = list(SCRIPTS)

    def hook(engine, task):
        engine.record_event("help", "open", engine.clock.now())
        raise Crash

    scripts[task_index] = Script(hook=hook)
    return scripts


def test_resume_continues_the_same_stream_at_the_next_task(tmp_path, store):
    protocol = write_protocol(tmp_path)
    clock = VirtualClock(0.0)
    engine, _, _ = make_engine(protocol, store, clock, scripts=crash_at(2))
    with pytest.raises(Crash):
        engine.run()
    old = engine.session_id
    assert [s.id for s in store.interrupted_sessions()] == [old]
    # the same code again is refused with an offer to resume
    with pytest.raises(LabmrtError, match="--resume P01"):
        make_engine(protocol, store, clock)

    clock.advance(100)
    person = ScriptedParticipant(clock, SCRIPTS, store)
    resumed = SessionEngine.resume_interrupted(
        protocol,
        store,
        "P01",
        person,
        state_source=FixedSource(clock),
        clock=clock,
        calibrate=False,
    )
    person.engine = resumed
    assert resumed.run() == "completed"
    new = resumed.session_id
    assert store.session_info(new).resume_of == old
    assert store.session_info(old).status == "incomplete"
    assert store.interrupted_sessions() == []
    # task 2 was running at the crash: its decision stays, the session goes on with task 3
    assert store.decisions(old)["decision_point"].tolist() == [0, 1, 2]
    assert store.decisions(new)["decision_point"].tolist() == [3]
    assert store.decisions(new)["task_index"].tolist() == [3]
    # same stream: the uniform of decision point 3 is the 4th uniform of session 1's stream
    rnd = MicroRandomizer(protocol, "P01", 1)
    expected = [rnd.draw(k, {"affect_state": "calm"}) for k in range(4)]
    all_dec = store.decisions()
    assert all_dec["uniform"].tolist() == [d.u for d in expected]
    # outcomes of the interrupted task are missing, earlier ones complete
    out = store.outcomes(old).pivot(index="decision_point", columns="name", values="value")
    assert math.isnan(out.loc[2, "help_s"])
    assert out.loc[0, "help_s"] == pytest.approx(math.log1p(12.0))


def test_close_interrupted_and_protocol_mismatch(tmp_path, store):
    protocol = write_protocol(tmp_path)
    clock = VirtualClock(0.0)
    engine, _, _ = make_engine(protocol, store, clock, scripts=crash_at(1))
    with pytest.raises(Crash):
        engine.run()
    (tmp_path / "other").mkdir()
    other = write_protocol(tmp_path / "other", spacing=3)  # a different protocol hash
    with pytest.raises(LabmrtError, match="exact protocol file"):
        SessionEngine.resume_interrupted(other, store, "P01", ScriptedParticipant(clock, SCRIPTS))
    with pytest.raises(LabmrtError, match="no interrupted session"):
        close_interrupted(store, protocol, "P99", t=clock.now())
    sid = close_interrupted(store, protocol, "P01", t=clock.now(), reason="participant left")
    info = store.session_info(sid)
    assert (info.status, info.status_reason) == ("incomplete", "participant left")
    assert set(store.outcomes(sid)["decision_point"]) == {0, 1}


def test_full_disk_stops_safely_and_keeps_what_was_recorded(tmp_path, store):
    protocol = write_protocol(tmp_path)
    clock = VirtualClock(0.0)
    failed = []

    def fill_disk(engine, task):
        # SQLite's own "database or disk is full": cap the file at its current size
        pages = store._conn.execute("PRAGMA page_count").fetchone()[0]
        store._conn.execute(f"PRAGMA max_page_count = {pages}")
        for i in range(200):  # the next events no longer fit
            engine.record_event("calc", "use", engine.clock.now(), "x" * 2000 + str(i))

    scripts = list(SCRIPTS)
    scripts[2] = Script(hook=fill_disk)
    engine, person, _ = make_engine(protocol, store, clock, scripts=scripts)
    engine.signals.failed.connect(failed.append)
    with pytest.raises(LabmrtError, match="full"):
        engine.run()
    assert failed and "full" in failed[0]
    assert person.ended[0] == "failed"
    assert engine.status == "failed"
    store._conn.execute("PRAGMA max_page_count = 1073741823")
    # nothing recorded before is lost, the session stays open (resumable)
    sid = engine.session_id
    assert store.decisions(sid)["decision_point"].tolist() == [0, 1, 2]
    assert len(store.presentations(sid)) == 2
    assert store.integrity_check() == []


def test_receipt_rules(tmp_path):
    protocol = write_protocol(tmp_path)  # confirmation required and 2 s minimum dwell
    assert receipt(protocol, {"shown_t": 10.0, "confirmed": True, "received_t": 13.0}) == (
        True,
        13.0,
        3.0,
    )
    assert receipt(protocol, {"shown_t": 10.0, "confirmed": True, "received_t": 11.0}) == (
        False,
        None,
        1.0,
    )
    assert receipt(protocol, {"shown_t": 10.0, "confirmed": False})[0] is False
    assert receipt(protocol, {"confirmed": True, "received_t": 1.0}) == (False, None, None)


class MonitorLike(FixedSource):
    """The live monitor's calibration API: begin_phase(name), end_phase(), fit_calibration()."""

    def __init__(self, clock, fail=False):
        super().__init__(clock)
        self.fail = fail

    def begin_phase(self, name):
        self.phases.append(("begin", name))

    def end_phase(self):
        self.phases.append(("end",))

    def fit_calibration(self):
        self.phases.append(("fit",))
        if self.fail:
            raise LabmrtError("too few usable rest windows")


@pytest.mark.parametrize("fail", [False, True])
def test_engine_drives_the_monitor_calibration(tmp_path, store, fail):
    protocol = write_protocol(tmp_path)
    clock = VirtualClock(0.0)
    person = ScriptedParticipant(clock, SCRIPTS, store)
    source = MonitorLike(clock, fail=fail)
    engine = SessionEngine(protocol, store, "P01", person, state_source=source, clock=clock)
    person.engine = engine
    assert engine.run() == "completed"
    # breaks and the task block are not calibration phases: the monitor hears only these
    assert source.phases == [
        ("begin", "rest"),
        ("end",),
        ("begin", "stressor"),
        ("end",),
        ("fit",),
    ]
    assert engine.calibration_error == ("too few usable rest windows" if fail else None)


class SeparationLike(MonitorLike):
    """A monitor whose calibration fitted but did not separate rest from stressor."""

    status = "not separated"

    def fit_calibration(self):
        super().fit_calibration()
        summary = {
            "status": self.status,
            "auc": 0.55,
            "models": {
                "eda": {"auc": 0.55, "ok": False, "reason": "did not separate on eda (AUC 0.55)"}
            },
            "warnings": ["heart rate did not change between rest and stressor (+0.4 bpm)"],
        }
        return type("Fitted", (), {"calibration_summary": staticmethod(lambda: summary)})()


def test_engine_records_how_well_the_calibration_separated(tmp_path, store):
    import json

    protocol = write_protocol(tmp_path)
    clock = VirtualClock(0.0)
    person = ScriptedParticipant(clock, SCRIPTS, store)
    engine = SessionEngine(
        protocol, store, "P01", person, state_source=SeparationLike(clock), clock=clock
    )
    person.engine = engine
    assert engine.run() == "completed"
    markers = [json.loads(m) for m in store.markers(engine.session_id)["marker"]]
    cal = [m for m in markers if m["event"] == "calibration"]
    assert len(cal) == 1 and cal[0]["status"] == "not separated" and cal[0]["auc"] == 0.55
    assert cal[0]["warnings"][0].startswith("heart rate did not change")
    assert engine.calibration["status"] == "not separated"
    assert engine.calibration_error == "did not separate on eda (AUC 0.55)"


def test_engine_says_when_states_come_from_the_rest_reference(tmp_path, store):
    import json

    protocol = write_protocol(tmp_path)
    clock = VirtualClock(0.0)
    person = ScriptedParticipant(clock, SCRIPTS, store)
    source = SeparationLike(clock)
    source.status = "rest reference"
    engine = SessionEngine(protocol, store, "P01", person, state_source=source, clock=clock)
    person.engine = engine
    assert engine.run() == "completed"
    markers = [json.loads(m) for m in store.markers(engine.session_id)["marker"]]
    cal = [m for m in markers if m["event"] == "calibration"]
    assert len(cal) == 1 and cal[0]["status"] == "rest reference"
    assert engine.calibration_error == (
        "did not separate on eda (AUC 0.55); states from the rest reference only"
    )


def test_resume_without_a_pause_does_not_cut_the_calibration(tmp_path, store):
    protocol = write_protocol(tmp_path)
    clock = VirtualClock(0.0)
    engine, _, _ = make_engine(protocol, store, clock)
    engine.resume()  # a stray click before anything was paused
    engine.run()
    phases = store.phases(engine.session_id)
    assert phases[["phase", "start_t", "end_t"]].values.tolist()[:2] == [
        ["rest", 0.0, 10.0],
        ["stressor", 10.0, 15.0],
    ]


def test_open_ended_pause_waits_for_resume_from_another_thread(tmp_path, store):
    import time

    protocol = write_protocol(tmp_path)
    clock = VirtualClock(0.0)
    scripts = list(SCRIPTS)
    scripts[0] = Script(duration=30.0, hook=lambda engine, task: engine.pause("operator"))
    engine, _, _ = make_engine(protocol, store, clock, scripts=scripts)
    statuses = []
    engine.signals.status_changed.connect(lambda status, t, reason: statuses.append(status))
    thread = engine.start()
    deadline = time.monotonic() + 10
    while engine.status != "paused" and time.monotonic() < deadline:
        time.sleep(0.01)
    assert engine.status == "paused" and engine.pause_pending
    time.sleep(0.2)
    assert engine.status == "paused"  # still waiting: nobody resumed
    engine.resume()
    thread.join(10)
    assert engine.status == "completed"
    assert statuses == ["running", "paused", "resumed", "completed"]
    assert store.decisions(engine.session_id)["unavailable_reason"].tolist()[1] == "break"


def record_emits(engine, emitted):
    """Wrap every engine signal's emit to append (name, args) to ``emitted``, then emit."""
    for name, signal in engine.signals.all().items():

        def emit(*args, _name=name, _emit=signal.emit):
            emitted.append((_name, args))
            _emit(*args)

        signal.emit = emit


def test_every_signal_is_emitted_with_its_declared_arguments(tmp_path, store):
    """Bridges build one Qt signal per SESSION_SIGNALS entry: a count mismatch breaks them."""
    from labmrt.session.events import SESSION_SIGNALS

    protocol = write_protocol(tmp_path)
    clock = VirtualClock(0.0)
    scripts = list(SCRIPTS)
    scripts[1] = Script(duration=20.0, hook=lambda engine, task: engine.pause("tired", 40.0))
    engine, _, _ = make_engine(protocol, store, clock, scripts=scripts)
    emitted = []
    record_emits(engine, emitted)
    assert engine.run() == "completed"

    # a second session stops on a full disk: the only way to see `failed`
    def fill_disk(engine, task):
        pages = store._conn.execute("PRAGMA page_count").fetchone()[0]
        store._conn.execute(f"PRAGMA max_page_count = {pages}")
        for i in range(200):
            engine.record_event("calc", "use", engine.clock.now(), "x" * 2000 + str(i))

    scripts = list(SCRIPTS)
    scripts[0] = Script(hook=fill_disk)
    engine, _, _ = make_engine(protocol, store, clock, scripts=scripts, code="P02")
    record_emits(engine, emitted)
    with pytest.raises(LabmrtError, match="full"):
        engine.run()
    store._conn.execute("PRAGMA max_page_count = 1073741823")

    assert {name for name, _ in emitted} == set(SESSION_SIGNALS), "a signal was never emitted"
    wrong = {(name, len(args)) for name, args in emitted if len(args) != len(SESSION_SIGNALS[name])}
    assert wrong == set(), f"emitted with an argument count other than declared: {wrong}"
    for name, signal in engine.signals.all().items():
        assert signal.args == SESSION_SIGNALS[name]
