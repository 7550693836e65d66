"""Replayed states scored against segments of known state.

A segments file says which stretches of a recording were calm or aroused
(the protocol's phases, or an annotated data set); :func:`score` counts the
replayed states in each, as a confusion matrix and balanced accuracy.
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from labmrt.errors import LabmrtError
from labmrt.state import AffectState
from sensors.replay.run import ReplayResult
from sensors.state import label_code


@dataclass(frozen=True)
class Segment:
    """A stretch of the recording with a known state (``calm``/``aroused``) to score against."""

    start: float
    end: float
    state: str
    name: str = ""  # the phase, when the file names it (to score some phases only)


SEGMENT_COLUMNS: dict[str, tuple[str, ...]] = {
    "start_s": ("start_s", "t_start_s", "start"),
    "end_s": ("end_s", "t_end_s", "end"),
    "state": ("state", "label"),
}
GROUP_COLUMNS: tuple[str, ...] = ("subject", "participant")
NAME_COLUMNS: tuple[str, ...] = ("phase", "segment", "name")


def read_segments(path: str | Path, subject: str | None = None) -> list[Segment]:
    """Segments from a CSV ``start_s,end_s,state`` (``t_start_s``/``t_end_s`` also read).

    States other than calm/aroused words (``other``, ``hyperventilation``)
    are kept but never scored. A file covering several people (a
    ``subject`` or ``participant`` column) needs ``subject``; a ``phase``
    column names each segment (:attr:`Segment.name`), to score some only.
    """
    path = Path(path)
    where = str(path)
    if not path.is_file():
        raise LabmrtError("segments file does not exist", where=where)
    try:
        df = pd.read_csv(path)
    except (pd.errors.ParserError, pd.errors.EmptyDataError, UnicodeDecodeError) as err:
        raise LabmrtError(f"not a readable CSV file: {err}", where=where) from None
    cols = {}
    for key, names in SEGMENT_COLUMNS.items():
        found = [c for c in names if c in df.columns]
        if not found:
            raise LabmrtError(
                f"no {key} column; columns are {', '.join(map(str, df.columns))}",
                where=where,
                fix="the segments file has columns start_s,end_s,state",
            )
        cols[key] = found[0]
    group = next((c for c in GROUP_COLUMNS if c in df.columns), None)
    named = next((c for c in NAME_COLUMNS if c in df.columns), None)
    if subject is not None:
        if group is None:
            raise LabmrtError(
                "no subject or participant column to pick rows by",
                where=where,
                fix="leave out --subject",
            )
        keep = df[group].astype(str) == str(subject)
        if not keep.any():
            ids = ", ".join(sorted(df[group].astype(str).unique())[:20])
            raise LabmrtError(f"no rows of {group} {subject!r} (there are {ids})", where=where)
        df = df[keep]
    elif group is not None and df[group].nunique() > 1:
        raise LabmrtError(
            f"the file holds {df[group].nunique()} {group}s",
            where=where,
            fix=f"pick one with --subject (e.g. --subject {df[group].iloc[0]})",
        )
    segs = []
    for i, row in df.iterrows():
        line = int(i) + 2
        try:
            a, b = float(row[cols["start_s"]]), float(row[cols["end_s"]])
        except (TypeError, ValueError):
            raise LabmrtError(f"line {line}: start and end must be numbers", where=where) from None
        if not (math.isfinite(a) and math.isfinite(b) and a < b):
            raise LabmrtError(f"line {line}: start {a:g} is not before end {b:g}", where=where)
        code = label_code(row[cols["state"]])
        state = {0: "calm", 1: "aroused"}.get(code, str(row[cols["state"]]))
        name = str(row[named]) if named is not None and pd.notna(row[named]) else ""
        segs.append((a, b, state, line, name))
    segs.sort()
    for (_, b0, _, l0, _), (a1, _, _, l1, _) in zip(segs, segs[1:], strict=False):
        if a1 < b0 - 1e-9:
            raise LabmrtError(
                f"segments overlap: line {l1} starts at {a1:g} s, before line {l0} ends ({b0:g} s)",
                where=where,
                fix="each moment of the recording may be in one segment only",
            )
    return [Segment(a, b, s, name) for a, b, s, _, name in segs]


SCORED_STATES: tuple[str, ...] = ("calm", "aroused")
PREDICTED: tuple[str, ...] = ("calm", "aroused", "unknown")


@dataclass
class Score:
    """Replayed states against known segments.

    ``confusion[truth][predicted]`` counts the scored updates (truth calm or
    aroused; predicted calm, aroused or unknown). ``balanced_accuracy`` is
    the mean recall of the two states over the updates with a known state
    (NaN when a state has none); ``unknown_share`` is how many scored
    updates were ``unknown``.
    """

    confusion: dict[str, dict[str, int]]
    skip_s: float = 0.0
    every: int = 1

    @property
    def n(self) -> int:
        return sum(sum(row.values()) for row in self.confusion.values())

    @property
    def n_unknown(self) -> int:
        return sum(row["unknown"] for row in self.confusion.values())

    @property
    def unknown_share(self) -> float:
        return self.n_unknown / self.n if self.n else math.nan

    def recall(self, state: str) -> float:
        row = self.confusion[state]
        known = row["calm"] + row["aroused"]
        return row[state] / known if known else math.nan

    @property
    def balanced_accuracy(self) -> float:
        return float(np.mean([self.recall(s) for s in SCORED_STATES]))

    def as_dict(self) -> dict[str, object]:
        def num(v: float) -> float | None:
            return None if not math.isfinite(v) else round(v, 4)

        return {
            "n": self.n,
            "unknown_share": num(self.unknown_share),
            "balanced_accuracy": num(self.balanced_accuracy),
            "recall": {s: num(self.recall(s)) for s in SCORED_STATES},
            "confusion": self.confusion,
            "skip_s": self.skip_s,
            "every": self.every,
        }

    def table(self) -> str:
        """The confusion matrix and the figures, as console lines."""
        lines = ["truth \\ state".ljust(14) + "".join(f"{p:>9}" for p in PREDICTED)]
        for s in SCORED_STATES:
            lines.append(f"{s:<14}" + "".join(f"{self.confusion[s][p]:>9}" for p in PREDICTED))

        def fmt(v: float) -> str:
            return "-" if not math.isfinite(v) else f"{v:.3f}"

        lines.append(
            f"scored updates: {self.n} (every {self.every}, {self.skip_s:g} s skipped after "
            f"each segment change); unknown: {self.n_unknown} "
            f"({self.unknown_share:.1%})"
            if self.n
            else "scored updates: 0"
        )
        lines.append(
            f"balanced accuracy over known states: {fmt(self.balanced_accuracy)} "
            f"(calm recall {fmt(self.recall('calm'))}, aroused recall {fmt(self.recall('aroused'))})"
        )
        return "\n".join(lines)


def score(
    states: Iterable[AffectState] | ReplayResult,
    segments: Iterable[Segment],
    skip_s: float = 0.0,
    every: int = 1,
) -> Score:
    """Confusion of the states in calm/aroused segments.

    An update counts when its time lies in a calm or aroused segment
    (``start <= t < end``) at least ``skip_s`` after the segment's start
    (physiology takes time to follow a change); of those, every
    ``every``-th one in time order is scored (neighbouring updates share
    most of their window, so they are not independent).
    """
    if every < 1:
        raise LabmrtError(f"must be 1 or more, got {every}", where="--every")
    if not (skip_s >= 0 and math.isfinite(skip_s)):
        raise LabmrtError(f"must be 0 or more seconds, got {skip_s}", where="--skip")
    if isinstance(states, ReplayResult):
        states = states.states
    segs = sorted((s for s in segments if s.state in SCORED_STATES), key=lambda s: s.start)
    starts = np.array([s.start for s in segs])
    picked = []
    for st in sorted(states, key=lambda s: s.t):
        i = int(np.searchsorted(starts, st.t, side="right")) - 1
        if i < 0:
            continue
        seg = segs[i]
        if seg.start + skip_s <= st.t < seg.end:
            picked.append((seg.state, st.label))
    confusion = {s: dict.fromkeys(PREDICTED, 0) for s in SCORED_STATES}
    for truth, label in picked[::every]:
        confusion[truth][label if label in PREDICTED else "unknown"] += 1
    return Score(confusion, float(skip_s), int(every))
