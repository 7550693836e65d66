"""The demo's closed loop: the simulated body, the live monitor's rules, the engine's draws.

One demo session offline: the demo body (its schedule following the session's phases,
its heart rate) is generated as the simulator would stream it, replayed through the
monitor's pipeline and calibration (:func:`sensors.replay.replay_recording`, the live
rules), and the engine runs the demo protocol for the demo participant on a virtual
clock, reading those states, with a simulated participant's pace.
"""

from __future__ import annotations

import bisect
from pathlib import Path

import numpy as np
import pytest

from labmrt.commands.gui import DEMO_PARTICIPANT
from labmrt.protocol import load_protocol
from labmrt.session import SessionEngine
from labmrt.session.clock import VirtualClock
from labmrt.simulate import SimulatedParticipant, load_effect_model
from labmrt.store import StudyStore
from sensors.replay import replay_recording
from sensors.signals import UpdateResult
from sensors.simulate import DEMO_HEART_RATE, PhaseFollowingSchedule, generate_recording
from sensors.state import (
    LIVE_FEATURES,
    AffectClassifier,
    AffectMonitor,
    CalibrationPhase,
    describe_calibration,
)

PROTOCOLS = Path(__file__).resolve().parents[3] / "protocols"
LEAD_S = 20.0  # sensors streaming before the participant presses Start
LAG_S = 45.0  # the monitor's lag behind a change: feature windows and skin conductance
TASKS_S = 330.0  # recorded after the calibration: the simulated participant needs ~300 s


class ReplayedStates:
    """The engine's state source: the replayed state current at the clock's time."""

    def __init__(self, clock, states):
        self.clock, self.states = clock, states
        self.times = [s.t for s in states]

    def current_state(self):
        return self.states[max(bisect.bisect_right(self.times, self.clock.now()) - 1, 0)]


@pytest.fixture(scope="module")
def demo_session(tmp_path_factory):
    protocol = load_protocol(PROTOCOLS / "demo.toml")
    cal = protocol.calibration
    rest, stressor = LEAD_S, LEAD_S + cal.rest_s
    tasks = stressor + cal.stressor_s
    body = PhaseFollowingSchedule()
    for phase, t in (("rest", rest), ("stressor", stressor), ("task", tasks)):
        body.follow(phase, t)
    recording = generate_recording(
        seed=0, schedule=body, duration_s=tasks + TASKS_S, **DEMO_HEART_RATE
    )
    replay = replay_recording(
        recording.signals,
        (rest, stressor),
        (stressor, tasks),
        model=AffectClassifier(features=LIVE_FEATURES),
        start=tasks - 2.0,
    )
    clock = VirtualClock(start=tasks)
    model, _ = load_effect_model(None, protocol)
    person = SimulatedParticipant(protocol, model, clock, body.state_at, seed=1)
    with StudyStore.open(tmp_path_factory.mktemp("demo") / "study", create=True) as store:
        engine = SessionEngine(
            protocol,
            store,
            DEMO_PARTICIPANT,
            person,
            state_source=ReplayedStates(clock, replay.states),
            clock=clock,
            calibrate=False,  # calibrated by the replay, on the same spans
        )
        engine.run()
        decisions = store.decisions(engine.session_id)
    return protocol, body, replay, decisions, clock.now() - tasks


def test_the_state_follows_the_demo_body_and_every_arm_is_drawn(demo_session):
    protocol, body, replay, decisions, task_block_s = demo_session
    assert replay.calibration_error is None
    assert task_block_s < TASKS_S, "the session outran the recording"
    assert len(decisions) == len(protocol.tasks)
    settled = 0
    for row in decisions.itertuples():
        truth = body.state_at(row.t)
        since = row.t - max(start for start, _ in body.segments if start <= row.t)
        assert row.state != "unknown", row
        if since >= LAG_S:
            assert row.state == truth, (
                f"{row.t:.0f}: {row.state}, the body {truth} for {since:.0f} s"
            )
            settled += 1
    assert settled >= len(decisions) // 2
    assert set(decisions["state"]) == {"calm", "aroused"}
    assert set(decisions.loc[decisions["available"], "arm"]) == set(protocol.arm_ids)


def test_the_demo_body_keeps_its_heart_rate_features(demo_session):
    """A change of heart rate the artefact rule reads as artefacts would drop HR and RMSSD."""
    _, _, replay, _, _ = demo_session
    missing = np.mean([s.features.get("hr") is None for s in replay.states])
    assert missing < 0.05


def test_the_calibration_line_shows_its_figures(demo_session):
    _, _, replay, _, _ = demo_session
    summary = replay.classifier.calibration_summary()
    line = describe_calibration(summary)
    assert line.startswith("calibration separated rest from stressor (")
    assert f"{summary['n_rest']} rest and {summary['n_stress']} stressor windows" in line
    assert "heart rate +" in line and "skin conductance +" in line
    assert " -" not in line and "AUC not measured: too few stressor windows" in line


def test_the_first_decision_after_calibration_reads_the_fitted_model():
    """The engine reads the state right after the fit: it must not be the unfitted one's."""
    monitor = AffectMonitor([], AffectClassifier(features=("hr_fast",)))
    rng = np.random.default_rng(0)
    for name, start, hr in (("rest", 0.0, 65.0), ("stressor", 100.0, 85.0)):
        phase = monitor._phases[name] = CalibrationPhase(name, start, start + 40.0)
        for t in np.arange(start + 16.0, start + 40.0):
            row = {"hr_fast": hr + float(rng.normal(0, 1))}
            phase.add(t, UpdateResult(t, row, {"hr_fast": (t - 15, t)}, {"ecg": 1.0}, {}, "", []))
    monitor.last_result = phase.rows[-1][1]
    assert monitor.current_state().label == "unknown"
    monitor.fit_calibration()
    assert monitor.current_state().label == "aroused"
