"""How well a calibration separated rest from stressor, non-responder warnings, and the
per-group models that keep a state when one signal is lost."""

from __future__ import annotations

import numpy as np
import pytest

from labmrt.errors import LabmrtError
from sensors.signals import UpdateResult
from sensors.state import (
    AUC_MIN,
    LIVE_FEATURES,
    AffectClassifier,
    CalibrationPhase,
    describe_calibration,
)
from sensors.state.fitting import auc, blocked_cv_auc


def _timed_rows(rng, n, t0, hr, scl, scr, *, hr_sd=2.0, scl_sd=0.03, scr_sd=0.8):
    """One row per second, as the monitor makes them (``t`` carried along)."""
    rows = []
    for i in range(n):
        level = scl + scl_sd * rng.standard_normal()
        rows.append(
            {
                "t": t0 + i,
                "hr_fast": hr + hr_sd * rng.standard_normal(),
                "scl_fast": level,
                "scl_ahead": level,  # a level that is not falling is carried ahead as it is
                "scr_rate": max(0.0, scr + scr_sd * rng.standard_normal()),
            }
        )
    return rows


def test_auc_is_the_mann_whitney_probability():
    y = np.r_[np.zeros(3), np.ones(3)]
    assert auc(np.array([0.1, 0.2, 0.3, 0.4, 0.5, 0.6]), y) == 1.0
    assert auc(np.array([0.6, 0.5, 0.4, 0.3, 0.2, 0.1]), y) == 0.0
    assert auc(np.array([1.0, 2.0, 3.0, 1.0, 2.0, 3.0]), y) == pytest.approx(0.5)
    assert auc(np.array([1.0, 2.0]), np.zeros(2)) is None


def test_blocked_cv_auc_near_one_when_separable_and_near_half_when_not():
    rng = np.random.default_rng(1)
    n = 150
    t = np.r_[np.arange(n), 200 + np.arange(n)].astype(float)
    y = np.r_[np.zeros(n), np.ones(n)]
    sep = np.c_[np.r_[rng.normal(70, 2, n), rng.normal(85, 2, n)], rng.normal(0, 1, 2 * n)]
    assert blocked_cv_auc(sep, y, t, ["hr_fast", "scr_rate"], purge_s=15.0) > 0.95
    same = rng.normal(70, 2, (2 * n, 2))
    a = blocked_cv_auc(same, y, t, ["hr_fast", "scr_rate"], purge_s=15.0)
    assert a is not None and abs(a - 0.5) < 0.15
    # too few rows to hold any block out after the purge: not measurable (None)
    assert blocked_cv_auc(sep[::30], y[::30], t[::30], ["hr_fast", "scr_rate"], 500.0) is None


def test_calibration_that_does_not_separate_gives_unknown_with_the_reason():
    rng = np.random.default_rng(2)
    rest = _timed_rows(rng, 150, 0.0, 72.0, 0.5, 1.0)
    stress = _timed_rows(rng, 150, 300.0, 72.0, 0.5, 1.0)  # the stressor changed nothing
    clf = AffectClassifier(features=LIVE_FEATURES, not_separated="unknown").fit(rest, stress)
    summary = clf.calibration_summary()
    assert summary["status"] == "not separated" and not clf.separated
    assert summary["not_separated"] == "unknown" and "rest_reference" not in summary
    assert all(m["auc"] < AUC_MIN and not m["ok"] for m in summary["models"].values())
    pred = clf.predict(_timed_rows(rng, 1, 500.0, 90.0, 1.5, 8.0)[0])
    assert pred.label == "unknown" and pred.p_aroused is None
    assert "did not separate" in pred.reason and "AUC" in pred.reason
    # non-responder warnings name what did not move
    warn = " | ".join(summary["warnings"])
    assert "skin conductance did not respond" in warn and "heart rate did not change" in warn
    assert "did not separate" in describe_calibration(summary)


def test_calibration_that_does_not_separate_falls_back_to_the_rest_reference():
    """By default the rest baseline still gives states: a departure from rest in
    physiology's direction, each state saying where it comes from."""
    rng = np.random.default_rng(2)
    rest = _timed_rows(rng, 150, 0.0, 72.0, 0.5, 1.0)
    stress = _timed_rows(rng, 150, 300.0, 72.0, 0.5, 1.0)
    clf = AffectClassifier(features=LIVE_FEATURES).fit(rest, stress)
    summary = clf.calibration_summary()
    assert summary["status"] == "rest reference" and not clf.separated
    assert summary["rest_reference"] == {
        "cardiac+eda": list(LIVE_FEATURES),
        "cardiac": ["hr_fast"],
        "eda": ["scl_ahead", "scr_rate"],
    }
    assert "states from the rest reference only" in describe_calibration(summary)
    # index = mean signed z; aroused above REST_THRESHOLD spreads (index SD floored at 1.5)
    ref = clf.rest_reference["cardiac+eda"]
    assert ref["index_sd"] >= 1.5 and ref["n_rest"] == 150
    up = _timed_rows(rng, 1, 500.0, 95.0, 1.5, 9.0, hr_sd=0, scl_sd=0, scr_sd=0)[0]
    pred = clf.predict(up, {"ppg": 1.0, "eda": 1.0})
    assert pred.label == "aroused" and pred.p_aroused > 0.9
    assert pred.reason.startswith("rest reference on cardiac+eda features (rest and stressor")
    z = clf.z_scores(up)
    expected = 1 / (1 + np.exp(-1.7 * (np.mean(list(z.values())) / ref["index_sd"] - 2.0)))
    assert pred.p_aroused == pytest.approx(expected)
    calm = [
        clf.predict(r, {"ppg": 1.0, "eda": 1.0})
        for r in _timed_rows(rng, 50, 600.0, 72.0, 0.5, 1.0)
    ]
    assert sum(p.label == "calm" for p in calm) >= 48
    # the pulse lost: skin conductance alone carries the reference
    lost = clf.predict(up, {"ppg": 0.1, "eda": 1.0})
    assert lost.label == "aroused" and lost.reason.startswith("rest reference on eda features")
    # everything lost: unknown, with why
    gone = clf.predict(up, {"ppg": 0.1, "eda": 0.1})
    assert gone.label == "unknown" and "signal quality" in gone.reason
    # the reference survives the model file
    again = AffectClassifier.from_dict(clf.to_dict())
    assert (
        again.calibration_summary() == summary
        and again.predict(up, {"ppg": 1.0, "eda": 1.0}) == pred
    )


def test_a_model_file_with_an_unknown_not_separated_choice_is_refused():
    rng = np.random.default_rng(2)
    clf = AffectClassifier(features=LIVE_FEATURES).fit(
        _timed_rows(rng, 150, 0.0, 72.0, 0.5, 1.0), _timed_rows(rng, 150, 300.0, 90.0, 0.9, 5.0)
    )
    doc = clf.to_dict() | {"not_separated": "guess"}
    with pytest.raises(LabmrtError) as err:
        AffectClassifier.from_dict(doc)
    assert "not_separated 'guess' is not one of rest_reference, unknown" in str(err.value)
    # a rest reference on a feature the baseline does not hold cannot be computed
    doc = clf.to_dict() | {
        "rest_reference": {"eda": {"features": ["scl"], "index_sd": 1.5, "n_rest": 150}}
    }
    with pytest.raises(LabmrtError) as err:
        AffectClassifier.from_dict(doc)
    assert "baseline, coefficients or rest reference are incomplete" in str(err.value)


def test_separating_calibration_reports_auc_per_model_and_classifies():
    rng = np.random.default_rng(3)
    rest = _timed_rows(rng, 150, 0.0, 70.0, 0.5, 1.0)
    stress = _timed_rows(rng, 150, 300.0, 84.0, 0.9, 5.0)
    clf = AffectClassifier(features=LIVE_FEATURES).fit(rest, stress)
    summary = clf.calibration_summary()
    assert summary["status"] == "ok" and summary["warnings"] == []
    assert set(summary["models"]) == {"cardiac+eda", "cardiac", "eda"}
    assert all(m["ok"] and m["auc"] > 0.95 for m in summary["models"].values())
    assert summary["changes"]["hr_fast"] == pytest.approx(14.0, abs=1.0)
    calm = _timed_rows(rng, 50, 600.0, 70.0, 0.5, 1.0)
    aroused = _timed_rows(rng, 50, 700.0, 84.0, 0.9, 5.0)
    assert [clf.predict(r).label for r in calm].count("calm") >= 48
    assert [clf.predict(r).label for r in aroused].count("aroused") >= 48
    line = describe_calibration(summary)
    assert line.startswith("calibration separated") and "cardiac+eda" in line
    # the summary and the models survive the model file
    again = AffectClassifier.from_dict(clf.to_dict())
    assert again.calibration_summary() == summary
    assert again.predict(aroused[0]) == clf.predict(aroused[0])


def test_floor_skin_conductance_is_named():
    rng = np.random.default_rng(4)
    rest = _timed_rows(rng, 150, 0.0, 70.0, 0.03, 0.0, scl_sd=0.002, scr_sd=0.0)
    stress = _timed_rows(rng, 150, 300.0, 85.0, 0.04, 0.0, scl_sd=0.002, scr_sd=0.0)
    clf = AffectClassifier(features=LIVE_FEATURES).fit(rest, stress)
    warn = " | ".join(clf.calibration_summary()["warnings"])
    assert "near the floor (0.03 uS" in warn and "did not respond" in warn
    assert "heart rate" not in warn
    # heart rate alone still separates: the state does not depend on the flat EDA
    assert clf.models["cardiac"]["ok"]


def test_only_one_group_separating_is_what_the_state_uses():
    rng = np.random.default_rng(5)
    rest = _timed_rows(rng, 150, 0.0, 70.0, 0.5, 1.0)
    stress = _timed_rows(rng, 150, 300.0, 70.0, 1.0, 5.0)  # skin responds, heart does not
    clf = AffectClassifier(features=LIVE_FEATURES).fit(rest, stress)
    assert clf.models["eda"]["ok"] and not clf.models["cardiac"]["ok"]
    row = _timed_rows(rng, 1, 600.0, 70.0, 1.0, 5.0)[0]
    # with EDA lost, the cardiac model is all there is, and it did not separate
    pred = clf.predict(row, {"ppg": 1.0, "eda": 0.1})
    assert pred.label == "unknown" and "did not separate on cardiac" in pred.reason
    assert clf.predict(row, {"ppg": 1.0, "eda": 1.0}).label == "aroused"


def _update(t, features, windows, quality):
    return UpdateResult(t, features, windows, quality, {}, "ppg", [])


def test_calibration_rows_keep_the_clean_group_and_drop_windows_from_before():
    phase = CalibrationPhase("rest", 100.0, 200.0)
    feats = {"hr_fast": 70.0, "scl_fast": 0.5, "scr_rate": 1.0}
    for t in range(101, 200):
        windows = {
            "hr_fast": (t - 15.0, float(t)),
            "scl_fast": (t - 10.0, float(t)),
            "scr_rate": (t - 30.0, float(t)),
        }
        quality = {"ppg": 0.2 if t % 2 else 0.9, "eda": 1.0}
        phase.add(float(t), _update(float(t), dict(feats), windows, quality))
    rows = phase.feature_rows(0.5)
    by_t = {r["t"]: r for r in rows}
    # a noisy pulse window loses only its heart rate
    assert by_t[151.0]["hr_fast"] is None and by_t[151.0]["scl_fast"] == 0.5
    assert by_t[150.0]["hr_fast"] == 70.0
    # a 30 s SCR window still reaching back before the phase is not used; the 10 s level is
    assert by_t[120.0]["scr_rate"] is None and by_t[120.0]["scl_fast"] == 0.5
    assert by_t[140.0]["scr_rate"] == 1.0
    assert 101.0 not in by_t or by_t[101.0]["scl_fast"] is None
