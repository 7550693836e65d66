"""Cost and latency of the affect pipeline: ECG 500 Hz + PPG 100 Hz + EDA 64 Hz.

Run: ``.venv/bin/python bench/bench_sensors.py [--signal-s 600] [--live-s 120]``.

1. CPU: ``--signal-s`` seconds of simulated signal (default 10 min) replayed
   through the pipeline exactly as the monitor runs it (one update per
   second: incremental beats on ECG and PPG, 60 s HRV, 120 s LF, 30 s EDA,
   quality every 5 s, classification). Reported as CPU seconds per signal
   second, i.e. the share of one core at real time (goal < 5%). Baseline in
   the same run: the straightforward design that recomputes everything on
   the whole window every second (``hrv_window`` on 120 s of ECG and PPG,
   ``eda_window``, full quality every update).
2. Latency: live simulated LSL outlets (pushing every 50 ms) and an
   ``AffectMonitor`` for ``--live-s`` seconds: the time from the newest
   sample's timestamp to the published state (``state.t - newest``),
   p50/p99 (goal p99 < 100 ms), and the monitor thread's own CPU per update
   (``time.thread_time``; the simulator's threads run in the same process).
"""

from __future__ import annotations

import argparse
import sys
import time
import uuid
import warnings

import numpy as np
import pylsl

from sensors.acquire import find_stream
from sensors.signals import FeaturePipeline, eda_window, hrv_window, offline_updates, signal_quality
from sensors.simulate import ArousalSchedule, SimulatedSensors, generate_recording
from sensors.state import AffectClassifier, AffectMonitor, CalibrationPhase

RATES = {"ecg": 500, "ppg": 100, "eda": 64}


def _recording(seconds: float):
    schedule = ArousalSchedule.alternating(120.0, seconds)
    rec = generate_recording(
        77,
        schedule,
        seconds,
        ecg=True,
        ppg=True,
        eda=True,
        ecg_rate=RATES["ecg"],
        ppg_rate=RATES["ppg"],
        eda_rate=RATES["eda"],
    )
    return dict(rec.signals), schedule


def _classifier(signals) -> AffectClassifier:
    """Calibrated on the first 240 s (calm 0-120, aroused 120-240)."""
    short = {k: tuple(a[ts <= 240] for a in (d, ts)) + (fs,) for k, (d, ts, fs) in signals.items()}
    rest, stress = CalibrationPhase("rest", 0, 120), CalibrationPhase("stressor", 120, 240)
    for r in offline_updates(short, FeaturePipeline()):
        (rest if r.t <= 120 else stress).add(r.t, r)
    return AffectClassifier().fit(rest.feature_rows(0.5), stress.feature_rows(0.5))


def cpu_pipeline(signals, clf, seconds: float) -> float:
    pipe = FeaturePipeline()
    cpu0 = time.process_time()
    for r in offline_updates(signals, pipe):
        clf.predict(r.features, r.quality)
    return (time.process_time() - cpu0) / seconds


def cpu_naive(signals, seconds: float, stride: int = 10) -> float:
    """Every ``stride``-th second only (it is slow); scaled to per-second cost."""
    cpu0 = time.process_time()
    n = 0
    for t in np.arange(130.0, seconds, stride):
        for kind in ("ecg", "ppg"):
            d, ts, fs = signals[kind]
            m = (ts > t - 120) & (ts <= t)
            hrv_window(d[m], fs, kind, timestamps=ts[m], window_s=60)
            hrv_window(d[m], fs, kind, timestamps=ts[m], window_s=120)
            q = ts[m] > t - 10
            signal_quality(kind, d[m][q], fs)
        d, ts, fs = signals["eda"]
        m = (ts > t - 40) & (ts <= t)
        eda_window(d[m], fs, timestamps=ts[m])
        signal_quality("eda", d[m][ts[m] > t - 10], fs)
        n += 1
    return (time.process_time() - cpu0) / n  # CPU s per update = per signal second


def live(seconds: float, clf: AffectClassifier) -> dict:
    tag = f"bench-{uuid.uuid4().hex[:8]}"
    sim = SimulatedSensors(
        5,
        ecg=True,
        ppg=True,
        eda=True,
        schedule=ArousalSchedule.alternating(60.0, seconds + 60),
        name_prefix=tag,
        source_id_prefix=tag,
    ).start()
    try:
        descs = [find_stream(source_id=sim.source_id(k), timeout=5.0) for k in RATES]
        with AffectMonitor(descs, clf, update_interval_s=1.0) as mon:
            time.sleep(seconds)
            lat = np.array(mon.latencies)
            cpu = np.array(mon.update_costs)
            wall = np.array(mon.update_walls)
            state = mon.current_state()
    finally:
        sim.stop()
    return {"lat": lat, "cpu": cpu, "wall": wall, "state": state, "underruns": sim.underruns}


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--signal-s", type=float, default=600.0)
    ap.add_argument("--live-s", type=float, default=120.0)
    args = ap.parse_args(argv)
    warnings.simplefilter("ignore")
    signals, _ = _recording(args.signal_s)
    clf = _classifier(signals)
    ours = cpu_pipeline(signals, clf, args.signal_s)
    naive = cpu_naive(signals, args.signal_s)
    print(f"signal: ECG {RATES['ecg']} Hz + PPG {RATES['ppg']} Hz + EDA {RATES['eda']} Hz")
    print(
        f"CPU per signal second, {args.signal_s:.0f} s replayed, 1 update/s: "
        f"{ours:.4f} s ({ours:.1%} of one core)"
    )
    print(
        f"baseline (whole-window recompute + full quality every update): {naive:.4f} s "
        f"({naive:.1%}); pipeline / baseline = {ours / naive:.2f}"
    )
    res = live(args.live_s, clf)
    lat = res["lat"] * 1000
    print(
        f"live, {args.live_s:.0f} s, {len(lat)} updates: latency newest sample -> state "
        f"p50 {np.percentile(lat, 50):.1f} ms, p99 {np.percentile(lat, 99):.1f} ms, "
        f"max {lat.max():.1f} ms"
    )
    cpu, wall = res["cpu"] * 1000, res["wall"] * 1000
    print(
        f"monitor thread per update: CPU mean {cpu.mean():.1f} ms (p99 {np.percentile(cpu, 99):.1f}),"
        f" wall mean {wall.mean():.1f} ms (p99 {np.percentile(wall, 99):.1f}); "
        f"last state {res['state'].label} ({res['state'].reason or 'ok'}); "
        f"simulator underruns {res['underruns']}; local clock {pylsl.local_clock():.0f}"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
