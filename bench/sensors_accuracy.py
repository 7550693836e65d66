"""Accuracy of the affective state and of heart rate, on simulated sessions and real recordings.

Run: ``.venv/bin/python bench/sensors_accuracy.py [--quick]`` (about 8 min; --quick: 2 sessions).

1. State: simulated sessions (``sensors.simulate.generate_recording``) with
   seeds, heart-rate ranges, noise levels and cardiac sensor (ECG 500 Hz or
   PPG 100 Hz, always EDA 64 Hz) chosen away from the simulator's defaults.
   Each session starts with the calibration the protocol would run (rest
   ``REST_S`` calm, then stressor ``STRESS_S`` aroused), then follows a
   random schedule for ``TEST_S`` seconds. The pipeline runs exactly as live
   (``sensors.signals.pipeline.offline_updates``: one update per second on the newest
   samples) and the monitor's calibration rules choose the calibration
   windows. Updates with a state change within the last ``EXCLUDE_S``
   seconds (the HRV window) are excluded; balanced accuracy and the
   confusion matrix are over the rest, with ``unknown`` counted apart.
2. Heart rate against the simulator's known mean heart rate of each
   schedule segment (windows wholly inside a segment).
3. A real PPG recording shipped in the HeartPy package (``heartpy/data/
   data2.csv``: 128 s of finger PPG at 117 Hz with a millisecond timer; van
   Gent et al. 2019, Transportation Research Part F 66:368), where no beat
   annotations exist: NeuroKit2's beats are compared with HeartPy's
   independent detector (beats matched within 100 ms), and heart rates with
   HeartPy's. Skipped when heartpy is not installed
   (``pip install -e .[bench]``).
"""

from __future__ import annotations

import argparse
import math
import sys
import time
import warnings
from dataclasses import dataclass

import numpy as np
from bench_record import BenchRecord

from sensors.signals import FeaturePipeline, detect_beats, offline_updates
from sensors.simulate import ArousalSchedule, generate_recording
from sensors.state import DEFAULT_FEATURES, AffectClassifier, CalibrationPhase

REST_S = 180.0
STRESS_S = 180.0
TEST_S = 900.0
EXCLUDE_S = 60.0


@dataclass(frozen=True)
class Session:
    seed: int
    cardiac: str  # "ecg" or "ppg"
    hr_calm: tuple[float, float]
    hr_aroused: tuple[float, float]
    noise: float


SESSIONS = [
    Session(101, "ecg", (55.0, 65.0), (75.0, 88.0), 0.5),
    Session(202, "ecg", (62.0, 75.0), (82.0, 95.0), 1.0),
    Session(303, "ecg", (68.0, 80.0), (90.0, 110.0), 2.0),
    Session(404, "ppg", (58.0, 70.0), (78.0, 92.0), 1.0),
    Session(505, "ppg", (65.0, 78.0), (88.0, 105.0), 2.0),
    Session(606, "ecg", (50.0, 60.0), (68.0, 80.0), 1.5),
    Session(707, "ppg", (70.0, 82.0), (92.0, 112.0), 0.5),
    Session(808, "ecg", (60.0, 72.0), (80.0, 92.0), 3.0),
    Session(909, "ppg", (54.0, 66.0), (74.0, 86.0), 1.5),
    Session(1010, "ecg", (64.0, 76.0), (86.0, 100.0), 1.0),
    # overlapping heart-rate ranges: heart rate alone cannot tell the states apart
    Session(1111, "ecg", (65.0, 80.0), (75.0, 90.0), 2.0),
    Session(1212, "ppg", (62.0, 78.0), (72.0, 88.0), 3.0),
]


def session_schedule(seed: int) -> ArousalSchedule:
    """Rest, stressor, then a random schedule (segments of 60-180 s)."""
    test = ArousalSchedule.random(seed, TEST_S, mean_segment_s=120.0, min_segment_s=60.0)
    segs = [(0.0, "calm"), (REST_S, "aroused")]
    segs += [(REST_S + STRESS_S + s, st) for s, st in test.segments]
    return ArousalSchedule(segs)


def session_recording(s: Session):
    """``(schedule, recording, signals)`` of one session (signals as ``replay`` takes them)."""
    schedule = session_schedule(s.seed)
    rec = generate_recording(
        s.seed,
        schedule,
        REST_S + STRESS_S + TEST_S,
        ecg=s.cardiac == "ecg",
        ppg=s.cardiac == "ppg",
        eda=True,
        hr_calm=s.hr_calm,
        hr_aroused=s.hr_aroused,
        noise=s.noise,
    )
    return schedule, rec, dict(rec.signals)


def run_session(s: Session) -> dict:
    schedule, rec, signals = session_recording(s)
    duration = REST_S + STRESS_S + TEST_S
    pipe = FeaturePipeline()
    clf = AffectClassifier()
    rest_only = AffectClassifier()
    rest = CalibrationPhase("rest", 0.0, REST_S)
    stress = CalibrationPhase("stressor", REST_S, REST_S + STRESS_S)
    truth, pred, pred_rest, hr_err = [], [], [], []
    near_truth, near_pred = [], []
    cpu0 = time.process_time()
    for r in offline_updates(signals, pipe):
        t = r.t
        if t <= REST_S:
            rest.add(t, r)
            continue
        if t <= REST_S + STRESS_S:
            stress.add(t, r)
            continue
        if clf.method is None:
            clf.fit(rest.feature_rows(clf.min_quality), stress.feature_rows(clf.min_quality))
            rest_only.fit(rest.feature_rows(clf.min_quality))
        # heart rate vs the segment's known mean (window wholly inside the segment)
        hw = r.windows.get("hr")
        if hw is not None and r.features["hr"] is not None:
            seg = schedule.segment_index(hw[0])
            if schedule.segment_index(t) == seg and hw[0] >= schedule.segments[seg][0] + 10:
                known = rec.params.physiology(seg, schedule.segments[seg][1]).hr
                hr_err.append(r.features["hr"] - known)
        label = clf.predict(r.features, r.quality).label
        if schedule.changes_between(t - EXCLUDE_S, t + 1e-9):
            near_truth.append(schedule.state_at(t))
            near_pred.append(label)
            continue
        truth.append(schedule.state_at(t))
        pred.append(label)
        pred_rest.append(rest_only.predict(r.features, r.quality).label)
    cpu = time.process_time() - cpu0
    return {
        "session": s,
        "truth": truth,
        "pred": pred,
        "pred_rest": pred_rest,
        "near_truth": near_truth,
        "near_pred": near_pred,
        "hr_err": np.array(hr_err),
        "cpu_per_s": cpu / duration,
        "method": clf.method,
    }


def confusion(truth: list[str], pred: list[str]) -> dict[tuple[str, str], int]:
    out = {}
    for tr in ("calm", "aroused"):
        for pr in ("calm", "aroused", "unknown"):
            out[tr, pr] = sum(1 for a, b in zip(truth, pred, strict=True) if a == tr and b == pr)
    return out


def balanced_accuracy(cm: dict[tuple[str, str], int]) -> float:
    recalls = []
    for tr in ("calm", "aroused"):
        known = cm[tr, "calm"] + cm[tr, "aroused"]
        if known:
            recalls.append(cm[tr, tr] / known)
    return float(np.mean(recalls)) if recalls else math.nan


def real_ppg() -> dict | None:
    try:
        from importlib.resources import files

        import heartpy as hp
        import pandas as pd
    except ImportError:
        print("real PPG: skipped (pip install -e .[bench] to get heartpy and its example data)")
        return None
    df = pd.read_csv(files("heartpy") / "data" / "data2.csv")
    ts = df["timer"].to_numpy(float) / 1000.0
    raw = df["hr"].to_numpy(float)
    fs_raw = (len(ts) - 1) / (ts[-1] - ts[0])
    fs = 100.0  # resampled to a whole rate, as NeuroKit2 expects integer rates
    grid = np.arange(ts[0], ts[-1], 1.0 / fs)
    x = np.interp(grid, ts, raw)
    ours = grid[detect_beats(x, fs, "ppg")]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        wd, m = hp.process(raw, fs_raw)
    theirs = ts[np.asarray(wd["peaklist"], dtype=int)]
    kept = np.setdiff1d(np.asarray(wd["peaklist"]), np.asarray(wd["removed_beats"]))
    d = np.abs(ours[:, None] - theirs[None, :])
    matched = int(np.sum(d.min(axis=1) <= 0.1))
    rec = matched / len(theirs)
    prec = matched / len(ours)
    hr_ours = 60.0 / np.median(np.diff(ours))
    hr_theirs = 60.0 / np.median(np.diff(theirs))
    print(
        f"real PPG (HeartPy data2.csv, {ts[-1] - ts[0]:.0f} s at {fs_raw:.0f} Hz): "
        f"{len(ours)} beats (NeuroKit2) vs {len(theirs)} (HeartPy, {len(kept)} kept); "
        f"agreement within 100 ms: {rec:.1%} of HeartPy's beats, {prec:.1%} of ours; "
        f"median HR {hr_ours:.1f} vs {hr_theirs:.1f} bpm (HeartPy mean {m['bpm']:.1f})"
    )
    return {
        "seconds": ts[-1] - ts[0],
        "rate_hz": fs_raw,
        "beats_neurokit2": len(ours),
        "beats_heartpy": len(theirs),
        "beats_heartpy_kept": len(kept),
        "share_of_heartpy_beats_found": rec,
        "share_of_ours_matched": prec,
        "median_hr_neurokit2": hr_ours,
        "median_hr_heartpy": hr_theirs,
        "mean_hr_heartpy": float(m["bpm"]),
    }


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--quick", action="store_true", help="two sessions only")
    args = ap.parse_args(argv)
    record = BenchRecord("sensors_accuracy", timing=False, argv=argv)
    sessions = SESSIONS[:2] if args.quick else SESSIONS
    rows = []
    print(
        f"{len(sessions)} simulated sessions: rest {REST_S:.0f} s + stressor {STRESS_S:.0f} s "
        f"calibration, {TEST_S:.0f} s random schedule; updates within {EXCLUDE_S:.0f} s "
        "after a state change excluded"
    )
    print(
        "| seed | sensor | HR calm | HR aroused | noise | n | unknown | bal. acc. "
        "| bal. acc. rest only | HR error (bpm) mean +- sd |"
    )
    print("|---|---|---|---|---|---|---|---|---|---|")
    all_truth, all_pred, all_hr, cpus = [], [], {"ecg": [], "ppg": []}, []
    all_rest, near_truth, near_pred = [], [], []
    for s in sessions:
        res = run_session(s)
        cm = confusion(res["truth"], res["pred"])
        n = len(res["truth"])
        unknown = sum(p == "unknown" for p in res["pred"]) / max(n, 1)
        e = res["hr_err"]
        rows.append(
            {
                "seed": s.seed,
                "sensor": s.cardiac.upper(),
                "hr_calm": f"{s.hr_calm[0]:g}-{s.hr_calm[1]:g}",
                "hr_aroused": f"{s.hr_aroused[0]:g}-{s.hr_aroused[1]:g}",
                "noise": s.noise,
                "updates": n,
                "unknown": unknown,
                "balanced_accuracy": balanced_accuracy(cm),
                "balanced_accuracy_rest_only": balanced_accuracy(
                    confusion(res["truth"], res["pred_rest"])
                ),
                "hr_error_mean": e.mean(),
                "hr_error_sd": e.std(),
            }
        )
        print(
            f"| {s.seed} | {s.cardiac.upper()} | {s.hr_calm[0]:g}-{s.hr_calm[1]:g} "
            f"| {s.hr_aroused[0]:g}-{s.hr_aroused[1]:g} | {s.noise:g} | {n} "
            f"| {unknown:.1%} | {balanced_accuracy(cm):.3f} "
            f"| {balanced_accuracy(confusion(res['truth'], res['pred_rest'])):.3f} "
            f"| {e.mean():+.2f} +- {e.std():.2f} |",
            flush=True,
        )
        all_rest += res["pred_rest"]
        near_truth += res["near_truth"]
        near_pred += res["near_pred"]
        all_truth += res["truth"]
        all_pred += res["pred"]
        all_hr[s.cardiac].append(e)
        cpus.append(res["cpu_per_s"])
    cm = confusion(all_truth, all_pred)
    print(f"\nall sessions: balanced accuracy {balanced_accuracy(cm):.3f} (unknown excluded)")
    print("confusion matrix (rows: truth, columns: state)")
    print("| truth | calm | aroused | unknown |\n|---|---|---|---|")
    for tr in ("calm", "aroused"):
        print(f"| {tr} | {cm[tr, 'calm']} | {cm[tr, 'aroused']} | {cm[tr, 'unknown']} |")
    cm_rest = confusion(all_truth, all_rest)
    print(
        f"rest-only calibration (threshold model): balanced accuracy {balanced_accuracy(cm_rest):.3f}"
    )
    print("| truth | calm | aroused | unknown |\n|---|---|---|---|")
    for tr in ("calm", "aroused"):
        print(
            f"| {tr} | {cm_rest[tr, 'calm']} | {cm_rest[tr, 'aroused']} | {cm_rest[tr, 'unknown']} |"
        )
    cm_near = confusion(near_truth, near_pred)
    print(
        f"for information, within {EXCLUDE_S:.0f} s after a change (windows straddle both states): "
        f"balanced accuracy {balanced_accuracy(cm_near):.3f} over {len(near_truth)} updates"
    )
    hr = {}
    for kind, errs in all_hr.items():
        if errs:
            e = np.concatenate(errs)
            hr[kind] = {
                "mean_abs_error_bpm": np.abs(e).mean(),
                "within_2_bpm": np.mean(np.abs(e) <= 2.0),
                "windows": e.size,
            }
            print(
                f"{kind.upper()} heart rate vs simulator truth: mean abs error {np.abs(e).mean():.2f}"
                f" bpm, {np.mean(np.abs(e) <= 2.0):.1%} of windows within 2 bpm (n={e.size})"
            )
    print(f"replay CPU: {np.mean(cpus):.4f} s per signal second (one cardiac stream + EDA)")
    ppg = real_ppg()

    def matrix(c) -> dict:
        return {
            tr: {st: c[tr, st] for st in ("calm", "aroused", "unknown")}
            for tr in ("calm", "aroused")
        }

    record.write(
        {
            "sessions": rows,
            "balanced_accuracy": balanced_accuracy(cm),
            "unknown": sum(p == "unknown" for p in all_pred) / max(len(all_pred), 1),
            "confusion": matrix(cm),
            "balanced_accuracy_rest_only": balanced_accuracy(cm_rest),
            "confusion_rest_only": matrix(cm_rest),
            "balanced_accuracy_near_change": balanced_accuracy(cm_near),
            "updates_near_change": len(near_truth),
            "heart_rate": hr,
            "real_ppg_heartpy": ppg,
            "replay_cpu_s_per_signal_s": np.mean(cpus),
        },
        classifier_features=list(DEFAULT_FEATURES),
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
