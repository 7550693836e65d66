"""The affective state on real wrist recordings (Stress-Predict, Empatica E4: BVP 64 Hz, EDA 4 Hz).

A shortened form of ``bench/sensors_real.py``'s protocol, to stay fast: the
live pipeline over 9 minutes around the calibration of a participant
(every other second), calibration on the last 180 s of the baseline and the
first 180 s of the Stroop test, then the updates outside those spans are
scored: the two minutes of baseline before the rest span (calm) and the
minute of Stroop after the stressor span (aroused). Skipped where the
reference data is absent.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from sensors.signals import FeaturePipeline, offline_updates
from sensors.state import LIVE_FEATURES, AffectClassifier, CalibrationPhase, fit_rows

CAL_S = 180.0


def _recording(folder, code):
    bvp = pd.read_csv(folder / f"{code}_bvp_64hz.csv.gz", usecols=["time_s", "bvp"])
    eda = pd.read_csv(folder / f"{code}_eda_4hz.csv.gz", usecols=["time_s", "eda_us"])
    seg = pd.read_csv(folder / "segments.csv")
    seg = seg[seg["subject"] == code].drop_duplicates(["phase", "t_start_s"])
    base_end = float(seg.loc[seg["phase"] == "baseline", "t_end_s"].iloc[0])
    stroop = seg.loc[seg["phase"] == "stroop"].iloc[0]
    t0, t1 = base_end - CAL_S - 120.0, float(stroop["t_start_s"]) + CAL_S + 60.0
    keep_b = bvp["time_s"] <= t1 + 1
    keep_e = eda["time_s"] <= t1 + 1
    signals = {
        "ppg": (bvp["bvp"].to_numpy(float)[keep_b], bvp["time_s"].to_numpy(float)[keep_b], 64.0),
        "eda": (eda["eda_us"].to_numpy(float)[keep_e], eda["time_s"].to_numpy(float)[keep_e], 4.0),
    }
    return signals, base_end, float(stroop["t_start_s"]), t0, t1


def _replay(shared_data, code):
    folder = shared_data / "stress_predict"
    if not folder.is_dir():
        pytest.skip(f"{folder} is absent")
    signals, base_end, stroop_start, t0, t1 = _recording(folder, code)
    rest = CalibrationPhase("rest", base_end - CAL_S, base_end)
    stress = CalibrationPhase("stressor", stroop_start, stroop_start + CAL_S)
    results = []
    for r in offline_updates(signals, FeaturePipeline(), step_s=2.0, start_s=t0):
        if r.t > t1:
            break
        for ph in (rest, stress):
            if ph.start <= r.t <= ph.end:
                ph.add(r.t, r)
        results.append(r)
    clf = fit_rows(AffectClassifier(features=LIVE_FEATURES), rest, stress)
    return signals, rest, stress, results, clf


def test_real_wrist_participant_whose_calibration_does_not_separate(shared_data):
    """S16: skin conductance did not respond to the Stroop test (and the wrist pulse gave
    too few clean beats to say anything); no weights come from that calibration. By
    default the rest reference gives the states, each saying so; with
    ``not_separated = "unknown"`` the state says why it is withheld instead of guessing."""
    _, rest, stress, results, clf = _replay(shared_data, "S16")
    summary = clf.calibration_summary()
    assert summary["status"] == "rest reference" and summary["auc"] < 0.7
    assert any("skin conductance did not respond" in w for w in summary["warnings"])
    preds = [clf.predict(r.features, r.quality) for r in results[::10]]
    known = [p for p in preds if p.label != "unknown"]
    assert len(known) >= 0.9 * len(preds)
    assert all(p.reason.startswith("rest reference on") for p in known)
    assert all("did not separate" in p.reason for p in known)
    strict = fit_rows(
        AffectClassifier(features=LIVE_FEATURES, not_separated="unknown"), rest, stress
    )
    assert strict.calibration_summary()["status"] == "not separated"
    preds = [strict.predict(r.features, r.quality) for r in results[::10]]
    assert all(p.label == "unknown" for p in preds)
    # the rest are updates whose features are missing (the reason says which)
    assert sum("did not separate" in p.reason for p in preds) >= 0.9 * len(preds)


def test_real_wrist_recording_calibrates_and_classifies_held_out_minutes(shared_data):
    """S02: the calibration separates (skin conductance rose in the Stroop test), and the
    minutes of baseline and Stroop outside the calibration spans are classified."""
    signals, rest, stress, results, clf = _replay(shared_data, "S02")
    summary = clf.calibration_summary()
    assert summary["status"] == "ok" and summary["auc"] >= 0.8, summary

    eda_x, eda_t, _ = signals["eda"]

    def naive_level(t):
        lo, hi = np.searchsorted(eda_t, [t - 10.0, t], side="right")
        return float(np.mean(eda_x[lo:hi]))

    cal = {"rest": [], "stressor": []}
    for r in results:
        for ph in (rest, stress):
            if ph.start <= r.t <= ph.end:
                cal[ph.name].append(naive_level(r.t))
    threshold = (np.mean(cal["rest"]) + np.mean(cal["stressor"])) / 2
    truth, ours, naive = [], [], []
    for r in results:
        if r.t < rest.start - 1.0:
            state = "calm"
        elif r.t > stress.end + 1.0:
            state = "aroused"
        else:
            continue
        truth.append(state)
        ours.append(clf.predict(r.features, r.quality).label)
        naive.append("aroused" if naive_level(r.t) > threshold else "calm")
    truth, ours, naive = map(np.array, (truth, ours, naive))
    assert (truth == "calm").sum() >= 50 and (truth == "aroused").sum() >= 25
    assert np.mean(ours == "unknown") <= 0.15

    def balanced(pred):
        known = pred != "unknown"
        return np.mean([np.mean(pred[known & (truth == c)] == c) for c in ("calm", "aroused")])

    assert balanced(ours) >= 0.8
    assert balanced(ours) >= balanced(naive) - 0.05
