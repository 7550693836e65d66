"""The simulator: deterministic, physiologically ordered by state, continuous across
blocks and state changes, and identical whether generated offline or streamed."""

from __future__ import annotations

import time
import uuid

import neurokit2 as nk
import numpy as np
import pylsl
import pytest

from sensors.acquire import StreamBuffer, find_stream, wait_for
from sensors.simulate import ArousalSchedule, SimulatedSensors, generate_recording

CALM_AROUSED = ArousalSchedule([(0, "calm"), (60, "aroused")])


def _rr(x: np.ndarray, fs: float) -> np.ndarray:
    _, info = nk.ecg_peaks(nk.ecg_clean(x, sampling_rate=int(fs)), sampling_rate=int(fs))
    return np.diff(info["ECG_R_Peaks"]) / fs


def test_same_seed_same_samples_other_seed_other_samples():
    kw = dict(schedule=CALM_AROUSED, duration_s=20, ppg=True)
    a, b = generate_recording(seed=4, **kw), generate_recording(seed=4, **kw)
    c = generate_recording(seed=5, **kw)
    for kind in ("ecg", "ppg", "eda"):
        np.testing.assert_array_equal(a[kind][0], b[kind][0])
        assert not np.allclose(a[kind][0], c[kind][0])
        n = len(a[kind][0])
        assert n == 20 * a.sfreq[kind]
        np.testing.assert_allclose(np.diff(a[kind][1]), 1 / a.sfreq[kind])


@pytest.mark.parametrize(
    ("seed", "hr_calm", "hr_aroused", "noise"),
    [(21, (55, 65), (80, 90), 0.5), (22, (66, 74), (92, 104), 2.0)],
)
def test_physiology_follows_the_schedule(seed, hr_calm, hr_aroused, noise):
    rec = generate_recording(
        seed, CALM_AROUSED, 120, hr_calm=hr_calm, hr_aroused=hr_aroused, noise=noise
    )
    ecg, ts, _ = rec["ecg"]
    eda, ets, _ = rec["eda"]
    # Compare the settled parts of each state (10 s after the change excluded).
    calm, aroused = (ts >= 5) & (ts < 60), ts >= 70
    rr_c, rr_a = _rr(ecg[calm], 500), _rr(ecg[aroused], 500)
    hr_c, hr_a = 60 / rr_c.mean(), 60 / rr_a.mean()
    # Segment means are drawn inside the ranges; ECGSYN's realised mean is within ~2 bpm.
    assert hr_calm[0] - 2 <= hr_c <= hr_calm[1] + 2
    assert hr_aroused[0] - 2 <= hr_a <= hr_aroused[1] + 2
    rmssd = lambda rr: np.sqrt(np.mean(np.diff(rr * 1000) ** 2))  # noqa: E731
    assert rmssd(rr_c) > 2 * rmssd(rr_a)
    scl_c = np.median(eda[(ets >= 5) & (ets < 60)])
    scl_a = np.median(eda[ets >= 90])
    assert scl_a - scl_c > 1.0  # aroused tonic level is 1.5-3.5 uS above baseline
    assert eda.min() > 0.5  # physiological microsiemens


def test_signals_are_continuous_across_blocks_and_state_changes():
    sched = ArousalSchedule([(0, "calm"), (13.3, "aroused"), (27.1, "calm"), (41, "aroused")])
    rec = generate_recording(7, sched, 60, ppg=True, noise=0)
    rr = _rr(rec["ecg"][0], 500)
    # No beat split or doubled at a stitch: every interval is a heartbeat at 55-110 bpm.
    assert rr.min() > 60 / 115 and rr.max() < 60 / 50, (rr.min(), rr.max())
    pk = nk.ppg_findpeaks(rec["ppg"][0], sampling_rate=100)["PPG_Peaks"]
    prr = np.diff(pk) / 100
    assert prr.min() > 60 / 115 and prr.max() < 60 / 50
    # EDA blocks have exact lengths, so the stitches sit at known samples. Tonic lag and
    # overlap-added SCRs leave no step there: the tonic moves < 3.5 uS / 8 s (0.007 uS per
    # sample at 64 Hz); elsewhere the steepest rise is an SCR onset: NeuroKit2's shape rises
    # at most 0.1 x its amplitude (<= 0.8 uS) per sample, two overlapping ones < 0.2 uS.
    step = np.abs(np.diff(rec["eda"][0]))
    stitches = (np.array([10, 13.3, 23.3, 27.1, 37.1, 41, 51]) * 64).round().astype(int)
    assert step[stitches - 1].max() < 0.02
    assert step.max() < 0.2
    # ECG: the steepest slope anywhere is a QRS upstroke, not a stitch.
    ecg = rec["ecg"][0]
    qrs = np.abs(np.diff(ecg)).max()
    junction = np.abs(np.diff(ecg[4990:5010])).max()  # around the first 10 s block end
    assert junction < qrs / 2


def test_live_outlets_stream_the_offline_samples_and_the_truth():
    sched = ArousalSchedule([(0, "calm"), (1.2, "aroused")])
    prefix = f"t-sim-{uuid.uuid4().hex[:8]}"
    with SimulatedSensors(seed=9, schedule=sched, name_prefix=prefix, ppg=True) as sim:
        truth_desc = find_stream(source_id=sim.source_id("truth"), timeout=2.0)
        truth = pylsl.StreamInlet(truth_desc.info)
        truth.open_stream(2.0)
        ecg = StreamBuffer(find_stream(source_id=sim.source_id("ecg")), channel=0)
        idx = StreamBuffer(find_stream(source_id=sim.source_id("ecg")), channel=1)
        eda = StreamBuffer(find_stream(source_id=sim.source_id("eda")), channel=0)
        for b in (ecg, idx, eda):
            b.connect(acquisition_delay=None)
        assert {r["type"] for r in sim.streams} == {"ECG", "PPG", "EDA", "Markers"}
        assert wait_for(lambda: [b.acquire() for b in (ecg, idx, eda)] and idx.n_received > 600, 4)
        markers, stamps = truth.pull_chunk(timeout=1.5)
        for b in (ecg, idx, eda):
            b.acquire()
        assert ecg.state == idx.state == eda.state == "streaming"
        # the change to aroused at 1.2 s arrives stamped t0 + 1.2
        assert ["aroused"] in markers
        assert stamps[markers.index(["aroused"])] == pytest.approx(sim.t0 + 1.2, abs=1e-3)
        assert sim.truth_at(sim.t0 + 1.3) == "aroused"
        n, ts = idx.get_data()
        np.testing.assert_array_equal(np.diff(n), 1)  # no sample lost or repeated
        # sample i is stamped t0 + i/500 (to the same-host clock offset, < 1 ms)
        np.testing.assert_allclose(ts - (sim.t0 + n / 500), 0, atol=1e-3)
        x, xts = ecg.get_data()
    first = int(round((xts[0] - sim.t0) * 500))
    offline = generate_recording(9, sched, (first + len(x)) / 500 + 1, ppg=True)["ecg"][0]
    np.testing.assert_array_equal(x, offline[first : first + len(x)])
    assert sim.underruns == 0


def test_pause_makes_a_gap_and_stop_is_seen_as_loss():
    sim = SimulatedSensors(seed=1, ecg=False, eda=True, name_prefix=f"t-{uuid.uuid4().hex[:8]}")
    sim.start()
    try:
        buf = StreamBuffer(find_stream(source_id=sim.source_id("eda")), lost_after_s=0.5)
        buf.connect(acquisition_delay=0.02)
        assert wait_for(lambda: buf.state == "streaming", 3)
        sim.pause()
        assert wait_for(lambda: buf.state == "lost", 2)
        time.sleep(0.3)
        sim.resume()
        assert wait_for(lambda: buf.state == "streaming", 3)
        assert len(buf.gaps) == 1 and buf.gaps[0][1] - buf.gaps[0][0] > 0.5
    finally:
        sim.stop()
    assert wait_for(lambda: buf.state == "lost", 2.0)
    buf.disconnect()


def test_duration_ends_the_stream():
    sim = SimulatedSensors(seed=2, ecg=True, eda=False, duration=0.4, name_prefix="t-dur")
    with sim:
        assert sim.wait(3.0)
        assert sim._feeds["ecg"].pushed == int(0.4 * 500) + 1


def test_bad_rates_are_rejected():
    with pytest.raises(ValueError, match="at least one"):
        SimulatedSensors(ecg=False, eda=False)
    with pytest.raises(ValueError, match="whole number of Hz"):
        generate_recording(0, None, 1, ecg_rate=250.5)


def test_cli_simulate_streams_and_list_finds_them(capsys):
    import json
    import threading

    from labmrt.cli import main

    prefix = f"t-cli-{uuid.uuid4().hex[:8]}"
    argv = ["sensors", "simulate", "--ppg", "--eda", "--seed", "4", "--duration", "2.5"]
    argv += ["--name-prefix", prefix, "--mean-segment", "1"]
    result = {}
    runner = threading.Thread(target=lambda: result.setdefault("rc", main(argv)))
    runner.start()
    try:
        rows, seen, deadline = [], [], time.monotonic() + 5
        while len(rows) < 2 and time.monotonic() < deadline:
            assert main(["sensors", "list", "--json", "--timeout", "0.5"]) == 0
            seen += capsys.readouterr().out.splitlines()  # both commands print here
            rows = [json.loads(x) for x in seen if x[:1] == "{"]
            rows = [r for r in rows if r["name"].startswith(prefix)]
        assert {(r["name"], r["kind"], r["srate"], r["status"]) for r in rows} == {
            (f"{prefix}-ppg", "ppg", 100.0, "ok"),
            (f"{prefix}-eda", "eda", 64.0, "ok"),
        }
    finally:
        runner.join(10)
    assert result["rc"] == 0
    seen += capsys.readouterr().out.splitlines()
    # the simulate table names every outlet, then each true state change is announced
    assert any(x.startswith(f"{prefix}-truth") and "Markers" in x for x in seen)
    changes = [x for x in seen if x.startswith("  t=")]
    assert changes[0].startswith("  t=     0.0 s") and len(changes) >= 2


def test_cli_simulate_rejects_bad_options(capsys, tmp_path):
    from labmrt.cli import main

    assert main(["sensors", "simulate", "--ecg-rate", "100"]) == 2
    assert "--ecg-rate: 100 Hz is outside 250-1000 Hz" in capsys.readouterr().err
    bad = tmp_path / "s.csv"
    bad.write_text("start_s,state\n0,sleepy\n")
    assert main(["sensors", "simulate", "--schedule", str(bad)]) == 2
    assert "unknown state 'sleepy'" in capsys.readouterr().err
    assert main(["sensors", "list", "--timeout", "0"]) == 2
    assert main(["sensors", "simulate", "--nan-share", "1.5", "--hr-calm", "90", "95"]) == 2
    err = capsys.readouterr().err
    assert "--nan-share: 1.5" in err and "calm range overlaps" in err
