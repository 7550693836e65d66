"""The two live feature sets: tonic level carried ahead along its fall (sustained) and its
rise above a recent floor (responsive); what a calibration that does not separate gives."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest
from test_protocol_pins import _protocol  # same folder: pytest puts it on sys.path

from labmrt.cli import main
from labmrt.errors import LabmrtError
from sensors.signals import (
    SCL_AHEAD_S,
    SCL_FLOOR_S,
    FeaturePipeline,
    LevelAhead,
    RecentFloor,
    offline_updates,
)
from sensors.state import LIVE_FEATURES, RESPONSIVE_FEATURES, monitor_for_protocol

FS = 4.0


def test_recent_floor_is_the_lowest_level_of_its_span():
    floor = RecentFloor(span_s=10.0)
    assert floor.rise(0.0, 2.0) == 0.0
    assert floor.rise(1.0, 3.0) == pytest.approx(1.0)
    assert floor.rise(2.0, None) is None  # a lost window gives no rise, keeps the history
    assert floor.rise(5.0, 2.5) == pytest.approx(0.5)
    # 2.0 (t=0) leaves the span at t=10.5: the floor is 2.5 from then on
    assert floor.rise(10.5, 2.6) == pytest.approx(0.1)
    assert floor.rise(20.0, 1.0) == 0.0  # a new low is its own floor


def test_level_ahead_carries_a_fall_forward_and_takes_a_rise_as_it_is():
    ahead = LevelAhead(span_s=10.0, ahead_s=30.0)
    # until 60% of the span is seen no fall is known: the level itself, with its own window
    assert [ahead.ahead(float(t), 5.0 - 0.02 * t) for t in range(6)] == [
        (5.0 - 0.02 * t, None) for t in range(6)
    ]
    # a straight fall of 0.02 uS/s: least squares gives the slope exactly; the value
    # read the levels back to t = 0
    value, start = ahead.ahead(6.0, 5.0 - 0.12)
    assert value == pytest.approx(5.0 - 0.12 - 30.0 * 0.02) and start == 0.0
    for t in range(7, 12):
        value, start = ahead.ahead(float(t), 5.0 - 0.02 * t)
    assert start == 1.0  # the span moves on
    # a rise (or a flat level) is the level itself
    rising = LevelAhead(span_s=10.0)
    vals = [rising.ahead(float(t), 1.0 + 0.05 * t) for t in range(12)]
    assert vals[-1] == (pytest.approx(1.0 + 0.05 * 11), None)
    assert rising.ahead(12.0, None) == (None, None)  # a lost window gives nothing
    assert rising.ahead(13.0, 1.6) == (pytest.approx(1.6), None)


def _skin(duration_s: float, rise_at: float, recover_at: float) -> tuple[np.ndarray, np.ndarray]:
    """Tonic skin conductance: 2 uS, up 1 uS with tau 4 s, back down with tau 60 s."""
    t = np.arange(0.0, duration_s, 1.0 / FS)
    level = np.full(t.size, 2.0)
    up = (t >= rise_at) & (t < recover_at)
    level[up] += 1.0 - np.exp(-(t[up] - rise_at) / 4.0)
    top = 1.0 - np.exp(-(recover_at - rise_at) / 4.0)
    down = t >= recover_at
    level[down] += top * np.exp(-(t[down] - recover_at) / 60.0)
    return level + 0.002 * np.random.default_rng(3).standard_normal(t.size), t


def test_the_rise_follows_the_level_up_and_lets_go_once_it_levels_off():
    x, t = _skin(600.0, rise_at=100.0, recover_at=400.0)
    rows = {
        round(r.t): r.features
        for r in offline_updates({"eda": (x, t, FS)}, FeaturePipeline(), start_s=40.0)
    }
    assert rows[90]["scl_rise"] < 0.05
    # 20 s into the stressor both the level and the rise are up by most of the 1 uS
    assert rows[120]["scl_rise"] > 0.7 and rows[120]["scl_fast"] > 2.7
    # a plateau held longer than the floor's span is no longer a rise; the level stays up
    assert rows[100 + round(SCL_FLOOR_S) + 40]["scl_rise"] < 0.05
    assert rows[100 + round(SCL_FLOOR_S) + 40]["scl_fast"] > 2.9
    # recovery: the level is still half-way up after 40 s, the rise is back at once
    assert rows[440]["scl_fast"] > 2.4 and rows[440]["scl_rise"] < 0.05
    # the level carried ahead: the plateau at its height, the recovery ahead of the level
    assert rows[380]["scl_ahead"] == pytest.approx(rows[380]["scl_fast"], abs=0.02)
    assert rows[440]["scl_ahead"] < rows[440]["scl_fast"] - 0.3
    assert rows[440]["scl_ahead"] > 2.0 - 0.05  # not below where the level is heading


def test_level_ahead_is_the_level_30_s_on_along_a_steady_fall():
    """A steady fall of 0.01 uS/s: 30 s ahead is 0.3 uS below the level (to rounding)."""
    t = np.arange(0.0, 300.0, 1.0 / FS)
    x = np.where(t < 100.0, 4.0, 4.0 - 0.01 * (t - 100.0))
    rows = {
        round(r.t): r for r in offline_updates({"eda": (x, t, FS)}, FeaturePipeline(), start_s=40.0)
    }
    r = rows[250]
    assert r.features["scl_ahead"] == pytest.approx(
        r.features["scl_fast"] - SCL_AHEAD_S * 0.01, abs=0.01
    )
    # its window reaches back over the 30 s of levels and the first level's own window
    lo, hi = r.windows["scl_ahead"]
    assert hi == pytest.approx(250.0, abs=0.3) and lo == pytest.approx(210.0, abs=1.5)


def test_the_protocol_chooses_the_feature_set_and_the_default_keeps_the_hash(tmp_path):
    plain = _protocol(tmp_path, 'streams = ["ecg", "eda"]\n')
    same = _protocol(tmp_path, 'streams = ["ecg", "eda"]\nstate_features = "sustained"\n')
    fast = _protocol(tmp_path, 'streams = ["ecg", "eda"]\nstate_features = "responsive"\n')
    assert "state_features" not in plain.canonical_json
    assert same.content_hash == plain.content_hash
    assert '"state_features":"responsive"' in fast.canonical_json
    assert fast.content_hash != plain.content_hash
    assert monitor_for_protocol([], plain).classifier.features == LIVE_FEATURES
    assert monitor_for_protocol([], fast).classifier.features == RESPONSIVE_FEATURES
    assert "classifier: calibration (responsive features)" in fast.summary_text()
    assert "classifier: calibration (sustained features)" in plain.summary_text()


def test_the_protocol_chooses_what_a_calibration_that_does_not_separate_gives(tmp_path):
    plain = _protocol(tmp_path, 'streams = ["ecg", "eda"]\n')
    same = _protocol(tmp_path, 'streams = ["ecg", "eda"]\nnot_separated = "rest_reference"\n')
    strict = _protocol(tmp_path, 'streams = ["ecg", "eda"]\nnot_separated = "unknown"\n')
    assert same.content_hash == plain.content_hash
    assert '"not_separated":"unknown"' in strict.canonical_json
    assert strict.content_hash != plain.content_hash
    assert monitor_for_protocol([], plain).classifier.not_separated == "rest_reference"
    assert monitor_for_protocol([], strict).classifier.not_separated == "unknown"
    assert "(sustained features; not separated: unknown)" in strict.summary_text()
    with pytest.raises(LabmrtError) as err:
        _protocol(tmp_path, 'not_separated = "guess"\n')
    assert "sensors.not_separated" in str(err.value)
    with pytest.raises(LabmrtError) as err:
        _protocol(tmp_path, 'classifier = "model.json"\nnot_separated = "unknown"\n')
    assert 'sensors.not_separated: "unknown" applies to classifier = "calibration"' in str(
        err.value
    )


def test_an_unknown_feature_set_is_a_protocol_error(tmp_path):
    with pytest.raises(LabmrtError) as err:
        _protocol(tmp_path, 'state_features = "fast"\n')
    text = str(err.value)
    assert "sensors.state_features" in text and "sustained" in text and "responsive" in text
    with pytest.raises(LabmrtError) as err:
        _protocol(tmp_path, 'classifier = "model.json"\nstate_features = "responsive"\n')
    assert 'sensors.state_features: "responsive" applies to classifier = "calibration"' in str(
        err.value
    )


def test_replay_calibrates_the_chosen_set(tmp_path, capsys):
    x, t = _skin(420.0, rise_at=200.0, recover_at=330.0)
    eda = tmp_path / "eda.csv"
    pd.DataFrame({"time_s": t, "eda_us": x}).to_csv(eda, index=False)
    fitted = {}
    for name in ("sustained", "responsive"):
        model = tmp_path / f"{name}.json"
        code = main(
            [
                "sensors",
                "replay",
                "--signal",
                f"eda={eda}",
                "--calibrate-rest",
                "60:190",
                "--calibrate-stress",
                "205:325",
                "--state-features",
                name,
                "--save-model",
                str(model),
                "--no-updates",
            ]
        )
        out, err = capsys.readouterr()
        assert code == 0, err
        fitted[name] = json.loads(model.read_text())
    assert fitted["sustained"]["features"] == list(LIVE_FEATURES)
    assert "scl_ahead" in fitted["sustained"]["coef"]
    assert fitted["responsive"]["features"] == list(RESPONSIVE_FEATURES)
    assert "scl_rise" in fitted["responsive"]["coef"]


def test_replay_gives_rest_reference_states_or_unknown_as_asked(tmp_path, capsys):
    """A stressor span that moved nothing: later arousal is still seen from the rest
    reference by default, each state saying so; --not-separated unknown withholds it."""
    x, t = _skin(600.0, rise_at=400.0, recover_at=590.0)
    rng = np.random.default_rng(9)
    x = x + 0.02 * rng.standard_normal(x.size)  # rest and stressor alike, both noisy
    eda = tmp_path / "eda.csv"
    pd.DataFrame({"time_s": t, "eda_us": x}).to_csv(eda, index=False)
    records = {}
    for choice in ("rest_reference", "unknown"):
        args = ["sensors", "replay", "--signal", f"eda={eda}", "--calibrate-rest", "60:190"]
        args += ["--calibrate-stress", "200:330", "--start", "340", "--jsonl"]
        code = main([*args, "--not-separated", choice])
        out, err = capsys.readouterr()
        assert code == 0, err
        assert "did not separate" in err
        records[choice] = {round(r["t"]): r for r in map(json.loads, out.splitlines())}
    ref, strict = records["rest_reference"], records["unknown"]
    assert "states from the rest reference only" not in err  # the strict run's own line
    assert ref[360]["state"] == "calm" and ref[360]["reason"].startswith("rest reference on eda")
    assert ref[450]["state"] == "aroused" and "did not separate" in ref[450]["reason"]
    assert strict[360]["state"] == "unknown" and strict[450]["state"] == "unknown"
    assert "did not separate" in strict[450]["reason"]
