"""The live monitor against real LSL outlets on this machine (unique names and source ids):
calibration, states that follow the truth, unknown on loss / bad streams, and the CLI."""

from __future__ import annotations

import json
import time
import uuid

import numpy as np
import pylsl
import pytest

from labmrt.cli import main
from labmrt.state import AffectState, StateSource
from sensors.acquire import StreamBuffer, find_stream, wait_for
from sensors.signals import FeaturePipeline, offline_updates
from sensors.simulate import ArousalSchedule, SimulatedSensors, generate_recording
from sensors.state import AffectClassifier, AffectMonitor, CalibrationPhase

WINDOWS = dict(hrv_window_s=10.0, eda_window_s=10.0)  # short windows keep the tests short


def _sim(seed: int, schedule: ArousalSchedule, **kw) -> SimulatedSensors:
    tag = f"t-mon-{uuid.uuid4().hex[:10]}"
    return SimulatedSensors(seed, schedule=schedule, name_prefix=tag, source_id_prefix=tag, **kw)


def _descs(sim: SimulatedSensors, kinds=("ecg", "eda")):
    found = [find_stream(source_id=sim.source_id(k), timeout=5.0) for k in kinds]
    assert all(found), "simulated streams not resolved"
    return found


def _until(sim: SimulatedSensors, elapsed: float) -> None:
    while pylsl.local_clock() - sim.t0 < elapsed:
        time.sleep(0.05)


@pytest.mark.slow
def test_live_calibration_then_states_follow_the_truth():
    """Calibrate on rest then stressor, as a protocol would, and keep classifying."""
    schedule = ArousalSchedule([(0, "calm"), (17, "aroused")])
    sim = _sim(41, schedule).start()
    try:
        mon = AffectMonitor(_descs(sim), update_interval_s=0.5, **WINDOWS).start()
        assert isinstance(mon, StateSource)
        seen: list[AffectState] = []
        mon.on_update(seen.append)
        mon.begin_phase("rest")
        _until(sim, 17)
        mon.begin_phase("stressor")
        _until(sim, 34)
        clf = mon.fit_calibration()
        assert clf.method == "logistic" and clf.n_rest >= 10 and clf.n_stress >= 10
        assert set(clf.used_features) == {"hr_fast", "scl_ahead", "scr_rate"}  # LIVE_FEATURES
        n_before = len(seen)
        _until(sim, 40)
        after = seen[n_before:]
        # at least one update per update interval (0.5 s), give or take scheduling
        assert len(after) >= 10
        labels = [s.label for s in after]
        assert labels.count("aroused") >= 0.8 * len(after), labels
        state = mon.current_state()
        assert state.p_aroused is not None and 0.0 <= state.p_aroused <= 1.0
        assert (
            state.quality == {"ecg": pytest.approx(1.0, abs=0.2), "eda": 1.0}
            or min(state.quality.values()) >= 0.5
        )
        # every window ends before the state's time: the moderator precedes its use
        assert all(end <= state.t for _, end in state.windows.values())
        assert state.windows["hr"][1] - state.windows["hr"][0] == pytest.approx(10.0)

        # the ECG device stalls: within ~2 s the state says so, and rests on skin
        # conductance alone (the calibration's EDA model) instead of turning unknown
        sim.pause("ecg")
        assert wait_for(lambda: "ECG" in mon.current_state().reason, timeout=4.0)
        state = mon.current_state()
        assert state.reason.startswith("eda features only") and state.label != "unknown"
        sim.resume("ecg")
        # back once the buffer reconnects and a full HRV window (10 s) has refilled
        assert wait_for(lambda: mon.current_state().label != "unknown", timeout=20.0)
        mon.stop()
    finally:
        sim.stop()


@pytest.mark.slow
def test_live_states_equal_the_offline_pipeline_with_a_prefitted_model():
    """A model fitted offline on the same seed classifies the live streams correctly,
    in both states: what runs live is what the accuracy study measures."""
    schedule = ArousalSchedule([(0, "aroused"), (22, "calm")])
    rec = generate_recording(52, schedule, 44.0)
    signals = {k: rec[k] for k in ("ecg", "eda")}
    aroused, calm = CalibrationPhase("stressor", 0, 22), CalibrationPhase("rest", 22, 44)
    for r in offline_updates(signals, FeaturePipeline(**WINDOWS), step_s=0.5):
        (aroused if r.t <= 22 else calm).add(r.t, r)
    clf = AffectClassifier().fit(calm.feature_rows(0.5), aroused.feature_rows(0.5))

    sim = _sim(52, schedule).start()
    try:
        with AffectMonitor(_descs(sim), clf, update_interval_s=0.5, **WINDOWS) as mon:
            seen: list[tuple[float, str]] = []
            mon.on_update(lambda s: seen.append((s.t - sim.t0, s.label)))
            _until(sim, 44)
        # away from the start (window filling) and the change at 22 s (+ the window)
        early = [lab for t, lab in seen if 13 <= t <= 21.5]
        late = [lab for t, lab in seen if 34 <= t <= 44]
        assert early and late
        assert early.count("aroused") >= 0.9 * len(early), early
        assert late.count("calm") >= 0.9 * len(late), late
    finally:
        sim.stop()


def test_unusable_and_missing_streams_give_unknown_not_a_crash(make_outlet):
    slow = make_outlet("ECG", srate=5.0, channels=1)  # 5 Hz: no ECG can be that
    text = make_outlet("EDA", srate=10.0, channels=1, fmt="string")
    nan_eda = make_outlet("GSR", srate=32.0, channels=1)
    bufs = [StreamBuffer(o.info) for o in (slow, text)]
    nan_buf = StreamBuffer(nan_eda.info)
    nan_buf.connect()
    clf = AffectClassifier(method="rest_threshold", mean={"scl": 3.0}, sd={"scl": 0.1})
    mon = AffectMonitor([bufs[0], nan_buf, bufs[1]], clf, update_interval_s=0.2)
    assert "ppg" not in mon.buffers and len(mon.ignored) == 1  # second EDA stream ignored
    for b in bufs:
        b.connect()
    with mon:
        for _ in range(16):
            nan_eda.push(8, values=np.full(8, np.nan))
            time.sleep(0.25)
        state = mon.current_state()
    for b in bufs + [nan_buf]:
        b.disconnect()
    assert state.label == "unknown" and state.p_aroused is None
    assert "ECG stream unusable" in state.reason and "5 Hz" in state.reason
    assert state.features["scl"] is None
    assert state.quality["ecg"] == 0.0 and state.quality["eda"] == 0.0


def test_no_streams_at_all_is_unknown():
    mon = AffectMonitor([], update_interval_s=0.1)
    state = mon.update()
    assert state.label == "unknown" and "no ECG, PPG or EDA stream" in state.reason


def test_monitor_command_prints_json_lines(capsys):
    schedule = ArousalSchedule([(0, "calm")])
    sim = _sim(63, schedule, ppg=True, ecg=False).start()
    try:
        code = main(
            [
                "sensors",
                "monitor",
                "--name",
                f"^{sim.name_prefix}",
                "--calibrate-rest",
                "3",
                "--duration",
                "2",
                "--jsonl",
                "--timeout",
                "3",
            ]
        )
    finally:
        sim.stop()
    out, err = capsys.readouterr()
    assert code == 0
    lines = [json.loads(line) for line in out.splitlines()]
    assert len(lines) >= 4
    for rec in lines:
        assert {"t", "state", "p_aroused", "features", "quality"} <= set(rec)
        assert rec["state"] == "unknown"  # 3 s of rest cannot calibrate anything
    assert {"ppg", "eda"} <= set(lines[-1]["quality"])
    assert "using PPG" in err and "calibration failed" in err


def test_monitor_command_errors(capsys):
    code = main(
        ["sensors", "monitor", "--name", f"^nothing-{uuid.uuid4().hex}", "--timeout", "0.5"]
    )
    assert code == 2 and "no ECG, PPG, EDA, RR or HR stream" in capsys.readouterr().err
    code = main(["sensors", "monitor", "--calibrate-stress", "10"])
    assert code == 2 and "needs a rest phase" in capsys.readouterr().err
    code = main(["sensors", "monitor", "--duration", "-1"])
    assert code == 2 and "--duration" in capsys.readouterr().err


def test_a_source_nobody_here_wrote_is_monitored_and_its_noise_is_not_a_state():
    """pylsl's own SendData example as an 'ECG' (8 channels of rand() at 250 Hz), run as
    a separate process: the monitor uses it, reports why, and never claims a state."""
    import subprocess
    import sys

    name = f"Vendor ECG {uuid.uuid4().hex[:8]}"
    cmd = [sys.executable, "-m", "pylsl.examples.SendData", "-s", "250", "-n", name, "-t", "ECG"]
    proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        desc = find_stream(name=name, timeout=8.0)
        assert desc is not None and desc.kind == "ecg"
        clf = AffectClassifier(method="rest_threshold", mean={"hr": 70.0}, sd={"hr": 3.0})
        with AffectMonitor([desc], clf, update_interval_s=0.25, **WINDOWS) as mon:
            assert wait_for(lambda: mon.buffers["ecg"].n_received > 2000, 10.0)
            states = []
            mon.on_update(states.append)
            assert wait_for(lambda: len(states) >= 8, 6.0)
        assert all(s.label == "unknown" and s.p_aroused is None for s in states)
        assert states[-1].quality["ecg"] < 0.5
        assert "cardiac signal quality" in states[-1].reason
    finally:
        proc.kill()
        proc.wait(5)
