"""The two live feature sets: tonic level (sustained) and its rise above a recent floor (responsive)."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest
from test_protocol_pins import _protocol  # same folder: pytest puts it on sys.path

from labmrt.cli import main
from labmrt.errors import LabmrtError
from sensors.classifier import LIVE_FEATURES, RESPONSIVE_FEATURES
from sensors.pipeline import SCL_FLOOR_S, FeaturePipeline, RecentFloor, replay
from sensors.state_source import monitor_for_protocol

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
        round(r.t): r.features for r in replay({"eda": (x, t, FS)}, FeaturePipeline(), start_s=40.0)
    }
    assert rows[90]["scl_rise"] < 0.05
    # 20 s into the stressor both the level and the rise are up by most of the 1 uS
    assert rows[120]["scl_rise"] > 0.7 and rows[120]["scl_fast"] > 2.7
    # a plateau held longer than the floor's span is no longer a rise; the level stays up
    assert rows[100 + round(SCL_FLOOR_S) + 40]["scl_rise"] < 0.05
    assert rows[100 + round(SCL_FLOOR_S) + 40]["scl_fast"] > 2.9
    # recovery: the level is still half-way up after 40 s, the rise is back at once
    assert rows[440]["scl_fast"] > 2.4 and rows[440]["scl_rise"] < 0.05


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
    assert "scl_fast" in fitted["sustained"]["coef"]
    assert fitted["responsive"]["features"] == list(RESPONSIVE_FEATURES)
    assert "scl_rise" in fitted["responsive"]["coef"]
