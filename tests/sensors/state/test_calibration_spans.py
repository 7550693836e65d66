"""Validation of calibration spans against the feature windows and the classifier's needs."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from labmrt.cli import main
from labmrt.protocol import load_protocol
from sensors.signals import UpdateResult
from sensors.state import (
    LIVE_FEATURES,
    MIN_WINDOWS,
    AffectClassifier,
    CalibrationPhase,
    calibration_needs,
    calibration_problems,
)
from sensors.state.calibration import feature_window_s

PROTOCOLS = Path(__file__).resolve().parents[3] / "protocols"


def demo_variant(tmp_path, **replace: str):
    text = (PROTOCOLS / "demo.toml").read_text()
    for old, new in replace.items():
        assert old in text
        text = text.replace(old, new)
    (tmp_path / "demo_tasks.csv").write_text((PROTOCOLS / "demo_tasks.csv").read_text())
    path = tmp_path / "p.toml"
    path.write_text(text)
    return path


def test_bundled_protocols_can_calibrate():
    for name in ("demo.toml", "framing_affect.toml"):
        assert calibration_problems(load_protocol(PROTOCOLS / name)) == []


def test_a_rest_shorter_than_the_longest_window_plus_ten_updates_is_refused(tmp_path, capsys):
    path = demo_variant(tmp_path, **{"rest_s = 60": "rest_s = 30"})
    problems = calibration_problems(load_protocol(path))
    assert [p.where for p in problems] == ["calibration.rest_s"]
    assert "scl_ahead's window is 40 s" in problems[0].what
    assert problems[0].fix == "set rest_s to at least 50"
    assert main(["validate", str(path)]) == 2
    err = capsys.readouterr().err
    assert "p.toml: calibration.rest_s: 30 s is too short to calibrate" in err


def test_the_eda_window_and_a_short_stressor_count(tmp_path):
    path = demo_variant(
        tmp_path, **{"window_s = 30": "window_s = 60", "stressor_s = 30": "stressor_s = 15"}
    )
    problems = {p.where: p for p in calibration_problems(load_protocol(path))}
    assert set(problems) == {"calibration.rest_s", "calibration.stressor_s"}
    assert "scr_rate's window is 60 s" in problems["calibration.rest_s"].what
    assert problems["calibration.rest_s"].fix.startswith("set rest_s to at least 70 (or shorten")
    assert "at least 20" in problems["calibration.stressor_s"].fix
    rest_only = demo_variant(tmp_path, **{"stressor_s = 30": "stressor_s = 0"})
    assert calibration_problems(load_protocol(rest_only)) == []


def updates(start: float, seconds: float, eda_window_s: float) -> CalibrationPhase:
    """A phase as the monitor records it: one update a second, each feature over its window."""
    phase = CalibrationPhase("rest", start, start + seconds)
    rng = np.random.default_rng(3)
    for t in np.arange(start + 1.0, start + seconds + 1e-9, 1.0):
        windows = {f: (t - feature_window_s(f, eda_window_s), t) for f in LIVE_FEATURES}
        features = {f: float(5.0 + rng.normal(0, 0.3)) for f in LIVE_FEATURES}
        phase.add(t, UpdateResult(t, features, windows, {"ecg": 1.0, "eda": 1.0}, {}, "ecg", []))
    return phase


@pytest.mark.parametrize("eda_window_s", [30.0, 60.0])
def test_the_rule_matches_what_the_calibration_keeps(eda_window_s):
    """At the shortest rest allowed every feature gets its baseline; two seconds less and the
    longest-windowed one does not (the rule is the calibration's own, not a guess)."""
    need = calibration_needs(LIVE_FEATURES, eda_window_s)["rest_s"]
    for seconds, complete in ((need, True), (need - 2.0, False)):
        rows = updates(1000.0, seconds, eda_window_s).feature_rows(0.5)
        clf = AffectClassifier(features=LIVE_FEATURES).fit_baseline(rows)
        assert (set(clf.mean) == set(LIVE_FEATURES)) is complete, seconds
    assert need == max(feature_window_s(f, eda_window_s) for f in LIVE_FEATURES) + MIN_WINDOWS
