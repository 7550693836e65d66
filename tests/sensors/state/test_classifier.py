"""The calm/aroused classifier: exact fitting maths, calibration rules, unknown states,
model files, and offline training from a CSV (library and CLI)."""

from __future__ import annotations

import json
import math

import numpy as np
import pandas as pd
import pytest
import statsmodels.api as sm

from labmrt.cli import main
from labmrt.errors import LabmrtError
from sensors.state import (
    MIN_WINDOWS,
    REST_THRESHOLD,
    AffectClassifier,
    label_code,
    train_from_table,
)
from sensors.state.fitting import SD_FLOOR, fit_logistic


def _rows(rng, n, hr, rmssd, scl, scr_rate, spread=1.0):
    return [
        {
            "hr": hr + 2.0 * spread * rng.standard_normal(),
            "rmssd": rmssd * math.exp(0.1 * spread * rng.standard_normal()),
            "sdnn": rmssd * 0.8 * math.exp(0.1 * spread * rng.standard_normal()),
            "scl": scl + 0.2 * spread * rng.standard_normal(),
            "scr_rate": max(0.0, scr_rate + 1.0 * spread * rng.standard_normal()),
        }
        for _ in range(n)
    ]


def calm_rows(rng, n=60, **kw):
    return _rows(rng, n, 66.0, 60.0, 3.0, 1.0, **kw)


def aroused_rows(rng, n=60, **kw):
    return _rows(rng, n, 88.0, 20.0, 5.5, 7.0, **kw)


def test_unpenalised_fit_equals_statsmodels_logit():
    rng = np.random.default_rng(3)
    x = rng.standard_normal((400, 3))
    eta = 0.3 + x @ np.array([1.0, -0.5, 0.25])
    y = (rng.random(400) < 1 / (1 + np.exp(-eta))).astype(float)
    b0, b = fit_logistic(x, y, ridge=0.0)
    ref = sm.Logit(y, sm.add_constant(x)).fit(disp=0).params
    # both solve the same smooth convex problem; L-BFGS stops at gradient ~1e-5
    np.testing.assert_allclose(np.r_[b0, b], ref, atol=1e-3)


def test_ridge_keeps_separable_data_finite():
    x = np.r_[np.zeros(20), np.full(20, 5.0)][:, None]
    y = np.r_[np.zeros(20), np.ones(20)]
    b0, b = fit_logistic(x, y)
    assert np.isfinite(b0) and 0 < b[0] < 50
    assert 1 / (1 + np.exp(-(b0 + 5 * b[0]))) > 0.9


def test_logistic_calibration_classifies_new_windows():
    rng = np.random.default_rng(5)
    clf = AffectClassifier().fit(calm_rows(rng), aroused_rows(rng))
    assert clf.method == "logistic" and clf.used_features == clf.features
    assert clf.coef["hr"] > 0 and clf.coef["rmssd"] < 0 and clf.coef["scl"] > 0
    test_calm, test_aroused = calm_rows(rng, 100), aroused_rows(rng, 100)
    labels_c = [clf.predict(r).label for r in test_calm]
    labels_a = [clf.predict(r).label for r in test_aroused]
    assert labels_c.count("calm") >= 98 and labels_a.count("aroused") >= 98


def test_baseline_is_rest_mean_and_floored_sd():
    rng = np.random.default_rng(6)
    rest = calm_rows(rng)
    for r in rest:
        r["scr_rate"] = 0.0  # no response in any rest window
    clf = AffectClassifier().fit(rest)
    hr = np.array([r["hr"] for r in rest])
    assert clf.mean["hr"] == pytest.approx(hr.mean())
    assert clf.sd["hr"] == pytest.approx(max(hr.std(ddof=1), SD_FLOOR["hr"], 0.05 * hr.mean()))
    assert clf.mean["rmssd"] == pytest.approx(np.mean([math.log(r["rmssd"]) for r in rest]))
    assert clf.sd["scr_rate"] == SD_FLOOR["scr_rate"]  # not zero: the floor
    assert clf.z_scores({"scr_rate": 3.0})["scr_rate"] == pytest.approx(3.0)


def test_rest_only_threshold_is_where_documented():
    rng = np.random.default_rng(7)
    clf = AffectClassifier().fit(calm_rows(rng))
    assert clf.method == "rest_threshold"
    # a row whose every signed z-score equals u: index u; at u = threshold * index_sd, p = 0.5
    u = REST_THRESHOLD * clf.index_sd

    def row_at(z):
        out = {}
        for n in clf.mean:
            sign = {"rmssd": -1, "sdnn": -1}.get(n, 1)
            v = clf.mean[n] + sign * z * clf.sd[n]
            out[n] = math.exp(v) if n in ("rmssd", "sdnn") else v
        return out

    assert clf.predict_proba(row_at(u)) == pytest.approx(0.5, abs=1e-9)
    assert clf.predict(row_at(u + 0.5)).label == "aroused"
    assert clf.predict(row_at(u - 0.5)).label == "calm"
    assert clf.predict(row_at(0.0)).p_aroused < 0.05
    # and it recognises arousal it never saw
    assert [clf.predict(r).label for r in aroused_rows(rng, 50)].count("aroused") == 50


def test_too_few_stress_windows_fall_back_to_rest_threshold():
    rng = np.random.default_rng(8)
    clf = AffectClassifier().fit(calm_rows(rng), aroused_rows(rng, MIN_WINDOWS - 1))
    assert clf.method == "rest_threshold" and "rest-only" in clf.notes[0]


def test_too_little_rest_is_a_user_error():
    rng = np.random.default_rng(9)
    with pytest.raises(LabmrtError, match="rest window"):
        AffectClassifier().fit(calm_rows(rng, MIN_WINDOWS - 1))
    empty = [dict.fromkeys(("hr", "rmssd", "sdnn", "scl", "scr_rate")) for _ in range(30)]
    with pytest.raises(LabmrtError, match="0 usable feature"):
        AffectClassifier().fit(empty)


def test_features_missing_at_calibration_are_not_used():
    rng = np.random.default_rng(10)
    rest, stress = calm_rows(rng), aroused_rows(rng)
    for r in rest + stress:
        r["scl"] = r["scr_rate"] = None  # no EDA sensor
    clf = AffectClassifier().fit(rest, stress)
    assert set(clf.used_features) == {"hr", "rmssd", "sdnn"}
    assert clf.predict({"hr": 90.0, "rmssd": 18.0, "sdnn": 15.0}, {"ecg": 1.0}).label == "aroused"


FULL = {"hr": 70.0, "rmssd": 50.0, "sdnn": 40.0, "scl": 3.0, "scr_rate": 1.0}


@pytest.mark.parametrize(
    ("features", "quality", "used", "reason"),
    [
        ({**FULL, "scr_rate": None}, None, "cardiac", "missing: scr_rate"),
        ({**FULL, "hr": float("nan")}, None, "eda", "missing: hr"),
        ({**FULL, "rmssd": -1.0}, None, "eda", "missing: rmssd"),
        (FULL, {"ecg": 0.2, "eda": 1.0}, "eda", "cardiac signal quality 0.20"),
        (FULL, {"ecg": 1.0, "eda": 0.1}, "cardiac", "eda signal quality 0.10"),
    ],
)
def test_a_lost_feature_group_leaves_the_state_to_the_other(features, quality, used, reason):
    """A movement artefact in one signal: the model of the clean group answers, and says so."""
    rng = np.random.default_rng(11)
    clf = AffectClassifier().fit(calm_rows(rng), aroused_rows(rng))
    assert set(clf.models) == {"cardiac+eda", "cardiac", "eda"}
    pred = clf.predict(features, quality)
    assert pred.label == "calm" and pred.p_aroused is not None
    assert pred.reason.startswith(f"{used} features only") and reason in pred.reason


@pytest.mark.parametrize(
    ("features", "quality", "reason"),
    [
        ({"hr": None, "scl": 3.0, "scr_rate": None}, None, "missing"),
        (FULL, {"ecg": 0.2}, "cardiac signal quality 0.20"),
        (FULL, {"ecg": 0.2, "eda": 0.1}, "signal quality"),
    ],
)
def test_unknown_when_no_group_is_usable(features, quality, reason):
    rng = np.random.default_rng(11)
    clf = AffectClassifier().fit(calm_rows(rng), aroused_rows(rng))
    pred = clf.predict(features, quality)
    assert pred.label == "unknown" and pred.p_aroused is None and reason in pred.reason


def test_ppg_quality_stands_in_for_a_bad_ecg():
    rng = np.random.default_rng(12)
    clf = AffectClassifier().fit(calm_rows(rng), aroused_rows(rng))
    row = aroused_rows(rng, 1)[0]
    assert clf.predict(row, {"ecg": 0.0, "ppg": 0.9, "eda": 1.0}).label == "aroused"


def test_uncalibrated_is_unknown():
    pred = AffectClassifier().predict({"hr": 70.0})
    assert pred.label == "unknown" and "not calibrated" in pred.reason


def test_model_file_round_trip(tmp_path):
    rng = np.random.default_rng(13)
    clf = AffectClassifier().fit(calm_rows(rng), aroused_rows(rng))
    path = clf.save(tmp_path / "m.json")
    again = AffectClassifier.load(path)
    for r in calm_rows(rng, 10) + aroused_rows(rng, 10):
        assert again.predict_proba(r) == pytest.approx(clf.predict_proba(r), rel=1e-12)
    assert json.loads(path.read_text())["format"] == "labmrt-affect-classifier"


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("{not json", "cannot read"),
        ('{"format": "other"}', "not a labmrt-affect-classifier"),
        ('{"format": "labmrt-affect-classifier", "version": 99}', "version 99"),
        (
            '{"format": "labmrt-affect-classifier", "version": 1, "method": "logistic", '
            '"features": ["hr"], "baseline": {"mean": {"hr": 60}, "sd": {"hr": 0}}, '
            '"coef": {"hr": 1}}',
            "SDs <= 0",
        ),
    ],
)
def test_bad_model_files_are_user_errors(tmp_path, text, message):
    path = tmp_path / "bad.json"
    path.write_text(text)
    with pytest.raises(LabmrtError, match=message):
        AffectClassifier.load(path)
    with pytest.raises(LabmrtError, match="does not exist"):
        AffectClassifier.load(tmp_path / "missing.json")


def test_label_codes():
    assert [label_code(v) for v in ("Stress", "1", 1.0, "baseline", 0, "amusement")] == [
        1,
        1,
        1,
        0,
        0,
        None,
    ]


def _table(rng, participants=4):
    frames = []
    for p in range(participants):
        shift = {"hr": 8.0 * p, "scl": 1.5 * p}  # people differ more than states do
        for label, maker in (
            ("baseline", calm_rows),
            ("stress", aroused_rows),
            ("amusement", None),
        ):
            rows = maker(rng, 40) if maker else calm_rows(rng, 5)
            for r in rows:
                r["hr"] += shift["hr"]
                r["scl"] += shift["scl"]
                frames.append({**r, "label": label, "subject": f"S{p}"})
    return pd.DataFrame(frames)


def test_offline_training_population_and_per_participant():
    rng = np.random.default_rng(14)
    df = _table(rng)
    clf, summary = train_from_table(df, "label")
    assert summary["n_calm"] == 160 and summary["n_aroused"] == 160
    assert summary["n_dropped_labels"] == 20
    assert clf.baseline_source == "training" and clf.is_calibrated
    assert summary["train_balanced_accuracy"] > 0.95

    per, summary = train_from_table(df, "label", group="subject")
    assert per.baseline_source == "participant" and not per.has_baseline
    assert per.predict({"hr": 70.0}).reason.startswith("no rest baseline")
    # a new participant far from everyone in training: baseline from their rest only
    new_rest = calm_rows(rng)
    for r in new_rest:
        r["hr"] += 30.0
    per.fit_baseline(new_rest)
    aroused = aroused_rows(rng, 50)
    for r in aroused:
        r["hr"] += 30.0
    calm = calm_rows(rng, 50)
    for r in calm:
        r["hr"] += 30.0  # a heart rate every training participant would call aroused
    assert [per.predict(r).label for r in aroused].count("aroused") >= 48
    assert [per.predict(r).label for r in calm].count("calm") >= 48


def test_training_input_errors(tmp_path):
    rng = np.random.default_rng(15)
    df = _table(rng, 1)
    with pytest.raises(LabmrtError, match="unknown feature"):
        train_from_table(df, "label", features=["hr", "pulse"])
    with pytest.raises(LabmrtError, match="training needs at least"):
        train_from_table(df[df.label != "stress"], "label")
    bad = df.copy()
    bad["hr"] = bad["hr"].astype(object)
    bad.loc[3, "hr"] = "fast"
    with pytest.raises(LabmrtError, match="non-numeric"):
        train_from_table(bad, "label")
    with pytest.raises(LabmrtError, match="none of the feature columns"):
        train_from_table(df[["label"]], "label")


def test_train_command(tmp_path, capsys):
    rng = np.random.default_rng(16)
    csv = tmp_path / "features.csv"
    _table(rng).to_csv(csv, index=False)
    out = tmp_path / "model.json"
    code = main(["sensors", "train", "--features", str(csv), "--label", "label", "--out", str(out)])
    assert code == 0
    summary = json.loads(capsys.readouterr().out)
    assert summary["model"] == str(out) and AffectClassifier.load(out).is_calibrated
    code = main(["sensors", "train", "--features", str(csv), "--label", "mood", "--out", str(out)])
    assert code == 2
    assert "no column 'mood'" in capsys.readouterr().err
    code = main(
        ["sensors", "train", "--features", str(tmp_path / "x.csv"), "--label", "l", "--out", "m"]
    )
    assert code == 2
