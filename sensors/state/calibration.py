"""The calibration phases: the updates seen during rest and stressor, and the fit on them.

The protocol tells the monitor when rest and stressor happen. A phase
contributes the updates whose feature windows lie wholly inside it (the
state before the phase must not leak in); when the phase is too short for
that to leave :data:`~sensors.state.classifier.MIN_WINDOWS` updates, its
second half is used instead. The live monitor and the offline replay
collect phases and fit them here alike (:func:`fit_rows`), so recordings are
calibrated by the live rules.
"""

from __future__ import annotations

import copy
import math
from dataclasses import dataclass, field

from sensors.signals import UpdateResult
from sensors.state.classifier import MIN_WINDOWS, AffectClassifier
from sensors.state.feature_sets import CARDIAC_SOURCES, FEATURE_KIND

#: The calibration phases, in the order they are run.
PHASES: tuple[str, ...] = ("rest", "stressor")


@dataclass
class CalibrationPhase:
    """The updates seen during one calibration phase (``rest`` or ``stressor``)."""

    name: str
    start: float
    end: float | None = None
    rows: list[tuple[float, UpdateResult]] = field(default_factory=list)

    def add(self, t: float, result: UpdateResult) -> None:
        self.rows.append((t, result))

    def usable(self) -> list[tuple[float, UpdateResult, set[str]]]:
        """``(t, update, features)`` of the updates with features whose windows lie inside.

        Per feature, not per update: the state before the phase must not leak
        in, yet a 60 s heart-rate window still filling must not throw away the
        skin-conductance features of the same update. When that leaves fewer
        than :data:`MIN_WINDOWS` updates, the second half of the phase is used
        with whatever its windows hold.
        """
        end = self.end if self.end is not None else math.inf
        inside = []
        for t, r in self.rows:
            if t > end:
                continue
            names = {n for n, w in r.windows.items() if w[0] >= self.start}
            if names:
                inside.append((t, r, names))
        if len(inside) < MIN_WINDOWS:
            last = self.rows[-1][0] if self.rows else self.start
            mid = self.start + (min(last, end) - self.start) / 2
            inside = [(t, r, set(r.windows)) for t, r in self.rows if mid <= t <= end]
        return inside

    def feature_rows(self, min_quality: float) -> list[dict[str, float | None]]:
        """Features of the usable updates, each group kept where its quality passed.

        Quality is judged per feature group: the better of the cardiac sources
        for the heart features, EDA for skin conductance. A group below
        ``min_quality`` is left out of that row (``None``), the rest of the row
        stays: calibration uses every clean window it has. Each row carries
        its update time ``t`` (blocked cross-validation needs the order).
        """
        out = []
        for t, r, names in self.usable():
            q = r.quality
            cardiac = [q[k] for k in CARDIAC_SOURCES if k in q and q[k] is not None]
            ok = {
                "cardiac": bool(cardiac) and max(cardiac) >= min_quality,
                "eda": "eda" in q and q["eda"] is not None and q["eda"] >= min_quality,
            }
            row: dict[str, float | None] = {}
            for name, value in r.features.items():
                group = FEATURE_KIND.get(name)
                keep = name in names and (group is None or ok.get(group, True))
                row[name] = value if keep else None
            if any(v is not None for v in row.values()):
                row["t"] = t
                out.append(row)
        return out


def fit_rows(
    classifier: AffectClassifier,
    rest: CalibrationPhase | None,
    stress: CalibrationPhase | None = None,
    *,
    keep_model: bool | None = None,
) -> AffectClassifier:
    """A copy of ``classifier`` fitted on the calibration windows of ``rest`` and ``stress``.

    The copy is what makes a live refit safe (the update thread swaps the new
    model in whole and never sees a half-fitted one); the offline replay
    calls this too, so recordings are calibrated by the live rules.
    ``keep_model``: keep the coefficients of a model trained offline and only
    take the rest baseline (when it was trained with per-participant
    standardisation); default: when ``classifier`` is already fitted.
    Raises :class:`~labmrt.errors.LabmrtError` when the rest phase gave too few usable windows.
    """
    if keep_model is None:
        keep_model = classifier.method is not None
    rest_rows = rest.feature_rows(classifier.min_quality) if rest else []
    stress_rows = stress.feature_rows(classifier.min_quality) if stress else []
    clf = copy.deepcopy(classifier)
    if keep_model:
        if clf.baseline_source == "participant":
            clf.fit_baseline(rest_rows)
    else:
        clf.fit(rest_rows, stress_rows or None)
    return clf
