"""Proximal outcomes from feature-use events: pure functions, no clock, no store.

The protocol defines each outcome (:class:`labmrt.protocol.Outcome`) by the
features it watches, a measure, a window and a transform. The definitions
here are what the codebook promises, so they are kept small and exact:

* **window**: ``"task"`` is ``[decision time, end of that task]``; a number
  ``N`` is ``[decision time, decision time + N s]`` (it may reach into later
  tasks: feature use there still falls in the window).
* **duration**: seconds, within the window, during which *at least one* of the
  outcome's features was open (the union of their open intervals, so help and
  hint open side by side count once). An ``open`` starts an interval, the next
  ``close`` of the same feature ends it; a repeated ``open`` of an open
  feature and a ``close`` of a closed one are ignored; an interval still open
  at the window end counts up to the window end; one opened before the
  window and still open counts from the window start.
* **count**: the number of ``open`` and ``use`` events of the features with
  ``start <= t <= end`` (each time the participant opens or operates a
  feature; ``close`` is not a use).
* **any**: 1.0 when the count is positive or the duration is positive, else 0.0.
* **transform**: ``log1p`` applies ``log(1 + x)`` to duration and count.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

MEASURES = ("duration", "count", "any")
TRANSFORMS = ("none", "log1p")


@dataclass(frozen=True)
class FeatureEvent:
    """One feature-use event on the session clock."""

    t: float
    feature: str
    action: str  # open | close | use


def as_events(rows: Iterable[Any]) -> list[FeatureEvent]:
    """FeatureEvents from dicts or objects with ``t``, ``feature`` and ``action``, sorted by t."""
    out = []
    for row in rows:
        if isinstance(row, FeatureEvent):
            out.append(row)
        elif isinstance(row, Mapping):
            out.append(FeatureEvent(float(row["t"]), str(row["feature"]), str(row["action"])))
        else:
            out.append(FeatureEvent(float(row.t), str(row.feature), str(row.action)))
    out.sort(key=lambda e: e.t)  # stable: simultaneous events keep their recorded order
    return out


def open_intervals(
    events: Sequence[FeatureEvent], features: Iterable[str], until: float
) -> list[tuple[float, float]]:
    """Open intervals of the features (each feature paired on its own), closed at ``until``."""
    wanted = set(features)
    opened: dict[str, float] = {}
    intervals: list[tuple[float, float]] = []
    for ev in events:
        if ev.feature not in wanted or ev.t > until:
            continue
        if ev.action == "open" and ev.feature not in opened:
            opened[ev.feature] = ev.t
        elif ev.action == "close" and ev.feature in opened:
            intervals.append((opened.pop(ev.feature), ev.t))
    intervals += [(t0, until) for t0 in opened.values()]
    return sorted(intervals)


def union_overlap(intervals: Iterable[tuple[float, float]], start: float, end: float) -> float:
    """Length of the union of ``intervals`` intersected with ``[start, end]``."""
    clipped = sorted((max(a, start), min(b, end)) for a, b in intervals)
    total, cur_a, cur_b = 0.0, None, None
    for a, b in clipped:
        if b <= a:
            continue
        if cur_b is None or a > cur_b:
            if cur_b is not None:
                total += cur_b - cur_a
            cur_a, cur_b = a, b
        else:
            cur_b = max(cur_b, b)
    if cur_b is not None:
        total += cur_b - cur_a
    return total


def measure_duration(
    events: Sequence[FeatureEvent], features: Iterable[str], start: float, end: float
) -> float:
    return union_overlap(open_intervals(events, features, end), start, end)


def measure_count(
    events: Sequence[FeatureEvent], features: Iterable[str], start: float, end: float
) -> int:
    wanted = set(features)
    return sum(
        1
        for ev in events
        if ev.feature in wanted and ev.action in ("open", "use") and start <= ev.t <= end
    )


def apply_transform(value: float, transform: str) -> float:
    if transform == "log1p":
        return math.log1p(value)
    if transform == "none":
        return float(value)
    raise ValueError(f"unknown transform {transform!r}; use one of {TRANSFORMS}")


def outcome_value(
    events: Sequence[FeatureEvent],
    features: Iterable[str],
    measure: str,
    start: float,
    end: float,
    transform: str = "none",
) -> float:
    """The outcome over ``[start, end]`` (see the module docstring for the definitions)."""
    features = list(features)
    if measure == "duration":
        return apply_transform(measure_duration(events, features, start, end), transform)
    if measure == "count":
        return apply_transform(float(measure_count(events, features, start, end)), transform)
    if measure == "any":
        used = measure_count(events, features, start, end) > 0
        used = used or measure_duration(events, features, start, end) > 0
        return float(used)
    raise ValueError(f"unknown measure {measure!r}; use one of {MEASURES}")


def outcome_window(
    window: str | float, decision_t: float, task_end_t: float | None
) -> tuple[float, float | None]:
    """``(start, end)`` of an outcome window; ``end`` is None while the task has not ended."""
    if window == "task":
        return decision_t, task_end_t
    return decision_t, decision_t + float(window)


def compute_outcomes(
    outcomes: Iterable[Any],
    events: Sequence[FeatureEvent],
    decision_t: float,
    task_end_t: float | None,
) -> dict[str, float | None]:
    """Every outcome of one decision point; ``None`` where the window has no end yet.

    ``outcomes`` are objects with ``name``, ``features``, ``measure``,
    ``window`` and ``transform`` (the protocol's outcome definitions).
    """
    values: dict[str, float | None] = {}
    for o in outcomes:
        start, end = outcome_window(o.window, decision_t, task_end_t)
        values[o.name] = (
            None
            if end is None
            else outcome_value(events, o.features, o.measure, start, end, o.transform)
        )
    return values
