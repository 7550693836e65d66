"""Proximal outcomes: exact hand-computed cases for every measure, window and transform."""

from __future__ import annotations

import math
from dataclasses import dataclass

import pytest

from labmrt.session.outcomes import (
    FeatureEvent,
    as_events,
    compute_outcomes,
    measure_count,
    measure_duration,
    open_intervals,
    outcome_value,
    outcome_window,
    union_overlap,
)


def ev(t, feature, action):
    return FeatureEvent(float(t), feature, action)


# help open 2-7 (5 s), hint open 5-9 (overlaps help by 2 s), calculator used at 3 and 4,
# help opened again at 12 and never closed.
EVENTS = [
    ev(2, "help", "open"),
    ev(3, "calc", "open"),
    ev(3.5, "calc", "use"),
    ev(4, "calc", "use"),
    ev(5, "hint", "open"),
    ev(7, "help", "close"),
    ev(8, "calc", "close"),
    ev(9, "hint", "close"),
    ev(12, "help", "open"),
]


def test_open_intervals_pair_each_feature_and_close_at_until():
    assert open_intervals(EVENTS, ["help"], until=20) == [(2, 7), (12, 20)]
    assert open_intervals(EVENTS, ["help", "hint"], until=10) == [(2, 7), (5, 9)]


def test_repeated_open_and_stray_close_are_ignored():
    events = [ev(0, "h", "close"), ev(1, "h", "open"), ev(2, "h", "open"), ev(4, "h", "close")]
    assert open_intervals(events, ["h"], until=10) == [(1, 4)]


def test_union_overlap_counts_simultaneous_features_once():
    # help 2-7 and hint 5-9: union 2-9 = 7 s (the sum would be 9 s)
    assert union_overlap([(2, 7), (5, 9)], 0, 100) == 7.0
    # clipped to the window [6, 8]: 2 s
    assert union_overlap([(2, 7), (5, 9)], 6, 8) == 2.0
    assert union_overlap([], 0, 10) == 0.0
    assert union_overlap([(1, 2), (3, 4)], 0, 10) == 2.0


def test_duration_windows():
    # task window [0, 10]: help 2-7 + hint 5-9 -> 7 s; help reopened at 12 is outside
    assert measure_duration(EVENTS, ["help", "hint"], 0, 10) == 7.0
    # window [0, 15]: plus 12-15 (still open at the window end) = 10 s
    assert measure_duration(EVENTS, ["help", "hint"], 0, 15) == 10.0
    # window starting while help is open: [4, 6] -> 2 s
    assert measure_duration(EVENTS, ["help"], 4, 6) == 2.0
    assert measure_duration(EVENTS, ["notes"], 0, 100) == 0.0


def test_count_counts_opens_and_uses_inclusive_bounds():
    # calc: open 3, use 3.5, use 4 -> 3; close is not a use
    assert measure_count(EVENTS, ["calc"], 0, 10) == 3
    # inclusive at both ends: [3.5, 4] holds the two uses
    assert measure_count(EVENTS, ["calc"], 3.5, 4) == 2
    assert measure_count(EVENTS, ["help"], 0, 20) == 2


def test_outcome_value_measures_and_transforms():
    assert outcome_value(EVENTS, ["help", "hint"], "duration", 0, 10) == 7.0
    assert outcome_value(EVENTS, ["help", "hint"], "duration", 0, 10, "log1p") == math.log(8.0)
    assert outcome_value(EVENTS, ["calc"], "count", 0, 10, "log1p") == math.log(4.0)
    assert outcome_value(EVENTS, ["calc"], "any", 0, 10) == 1.0
    assert outcome_value(EVENTS, ["calc"], "any", 9, 20) == 0.0
    # any: a panel opened before the window and still open inside it counts as use
    assert outcome_value(EVENTS, ["help"], "any", 13, 14) == 1.0
    with pytest.raises(ValueError, match="unknown measure"):
        outcome_value(EVENTS, ["calc"], "mean", 0, 1)
    with pytest.raises(ValueError, match="unknown transform"):
        outcome_value(EVENTS, ["calc"], "count", 0, 1, "sqrt")


def test_windows_task_and_seconds():
    assert outcome_window("task", 100.0, 130.0) == (100.0, 130.0)
    assert outcome_window("task", 100.0, None) == (100.0, None)
    assert outcome_window(60.0, 100.0, 130.0) == (100.0, 160.0)


@dataclass
class Spec:
    name: str
    features: list
    measure: str
    window: object = "task"
    transform: str = "none"


def test_compute_outcomes_for_a_decision_point():
    specs = [
        Spec("help_hint_s", ["help", "hint"], "duration", "task", "log1p"),
        Spec("calc_any", ["calc"], "any"),
        Spec("help_opens_15s", ["help"], "count", 15.0),
    ]
    # decision at 1, task ends at 10
    values = compute_outcomes(specs, EVENTS, 1.0, 10.0)
    assert values == {"help_hint_s": math.log(8.0), "calc_any": 1.0, "help_opens_15s": 2.0}
    # task not ended yet: the task window has no value, the seconds window does
    values = compute_outcomes(specs, EVENTS, 1.0, None)
    assert values["help_hint_s"] is None and values["calc_any"] is None
    assert values["help_opens_15s"] == 2.0


def test_as_events_accepts_dicts_and_sorts_stably():
    rows = [
        {"t": 2, "feature": "a", "action": "close"},
        {"t": 1, "feature": "a", "action": "open"},
        {"t": 2, "feature": "b", "action": "open"},
    ]
    events = as_events(rows)
    assert [(e.t, e.feature, e.action) for e in events] == [
        (1.0, "a", "open"),
        (2.0, "a", "close"),
        (2.0, "b", "open"),
    ]
