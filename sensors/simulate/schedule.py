"""The arousal script a simulated participant follows: the known truth of a simulation.

A schedule is a list of ``(start_s, state)`` segments, seconds from the start
of the simulation, each lasting until the next one starts; the last lasts
forever. States are ``calm`` and ``aroused``.

File format (``ArousalSchedule.from_file``), either CSV with a header::

    start_s,state
    0,calm
    90,aroused
    150,calm

or TOML with one ``[[segment]]`` table per segment::

    [[segment]]
    start_s = 0
    state = "calm"

    [[segment]]
    start_s = 90
    state = "aroused"

The first segment must start at 0 and starts must strictly increase.
"""

from __future__ import annotations

import bisect
import csv
import tomllib
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from labmrt.errors import LabmrtError, Problem

#: The states a simulated body is scripted in.
SIM_STATES: tuple[str, ...] = ("calm", "aroused")


@dataclass(frozen=True)
class ArousalSchedule:
    """Ordered ``(start_s, state)`` segments; see the module docstring for the file format."""

    segments: tuple[tuple[float, str], ...]

    def __init__(self, segments: Iterable[tuple[float, str]]):
        segs = tuple((float(s), str(state)) for s, state in segments)
        problems = _check(segs, where="schedule")
        if problems:
            raise LabmrtError(problems)
        object.__setattr__(self, "segments", segs)
        object.__setattr__(self, "_starts", [s for s, _ in segs])

    # ----------------------------------------------------------------- builders
    @classmethod
    def constant(cls, state: str) -> ArousalSchedule:
        return cls([(0.0, state)])

    @classmethod
    def alternating(
        cls, period_s: float, duration_s: float, first: str = "calm"
    ) -> ArousalSchedule:
        """``first`` and the other state taking turns every ``period_s`` seconds."""
        other = {"calm": "aroused", "aroused": "calm"}
        segs, state, t = [], first, 0.0
        while t < duration_s:
            segs.append((t, state))
            t, state = t + period_s, other.get(state, "calm")
        return cls(segs)

    @classmethod
    def random(
        cls,
        seed: int,
        duration_s: float,
        mean_segment_s: float = 60.0,
        min_segment_s: float | None = None,
    ) -> ArousalSchedule:
        """Alternating states with random segment lengths, reproducible per ``seed``.

        The first state is drawn at random; lengths are uniform on
        ``[min, 2*mean - min]`` (default ``min = mean/2``), so the mean is ``mean_segment_s``.
        """
        if mean_segment_s <= 0 or duration_s <= 0:
            raise ValueError("duration_s and mean_segment_s must be positive")
        low = mean_segment_s / 2 if min_segment_s is None else min(min_segment_s, mean_segment_s)
        rng = np.random.default_rng([int(seed), 7919])
        state = SIM_STATES[int(rng.integers(2))]
        segs, t = [], 0.0
        while t < duration_s:
            segs.append((round(t, 3), state))
            t += float(rng.uniform(low, 2 * mean_segment_s - low))
            state = "aroused" if state == "calm" else "calm"
        return cls(segs)

    @classmethod
    def from_file(cls, path: str | Path) -> ArousalSchedule:
        """Read a CSV (``start_s,state``) or TOML (``[[segment]]``) schedule file."""
        path = Path(path)
        if not path.is_file():
            raise LabmrtError(
                f"schedule file {path} does not exist",
                where=str(path),
                fix="give a CSV or TOML file with start_s,state rows, or 'random'",
            )
        text = path.read_text(encoding="utf-8")
        if path.suffix.lower() == ".toml":
            return cls._from_toml(text, str(path))
        return cls._from_csv(text, str(path))

    @classmethod
    def _from_csv(cls, text: str, where: str) -> ArousalSchedule:
        rows = [r for r in csv.reader(text.splitlines()) if r and not r[0].startswith("#")]
        if not rows:
            raise LabmrtError("the schedule is empty", where=where, fix="add start_s,state rows")
        header = [c.strip().lower() for c in rows[0]]
        if header[:2] != ["start_s", "state"]:
            raise LabmrtError(
                f"the header is {','.join(rows[0])!r}",
                where=f"{where}:1",
                fix="the first line must be 'start_s,state'",
            )
        segs, problems = [], []
        for line, row in enumerate(rows[1:], start=2):
            if len(row) < 2:
                problems.append(Problem(f"{where}:{line}", "expected two values: start_s,state"))
                continue
            try:
                start = float(row[0])
            except ValueError:
                problems.append(
                    Problem(f"{where}:{line}", f"start_s {row[0]!r} is not a number of seconds")
                )
                continue
            segs.append((start, row[1].strip().lower()))
        problems += _check(segs, where)
        if problems:
            raise LabmrtError(problems)
        return cls(segs)

    @classmethod
    def _from_toml(cls, text: str, where: str) -> ArousalSchedule:
        try:
            doc = tomllib.loads(text)
        except tomllib.TOMLDecodeError as err:
            raise LabmrtError(f"not valid TOML: {err}", where=where) from None
        tables = doc.get("segment")
        if not isinstance(tables, list) or not tables:
            raise LabmrtError(
                "no [[segment]] tables", where=where, fix="add [[segment]] start_s=.. state=.."
            )
        segs, problems = [], []
        for i, tab in enumerate(tables, start=1):
            start, state = tab.get("start_s"), tab.get("state")
            if not isinstance(start, int | float) or isinstance(start, bool):
                problems.append(Problem(f"{where}: segment {i}", "start_s must be a number"))
                continue
            if not isinstance(state, str):
                problems.append(Problem(f"{where}: segment {i}", "state must be a string"))
                continue
            segs.append((float(start), state.strip().lower()))
        problems += _check(segs, where)
        if problems:
            raise LabmrtError(problems)
        return cls(segs)

    # ----------------------------------------------------------------- queries
    def state_at(self, t: float) -> str:
        """The state at ``t`` seconds from the start (the first state before 0)."""
        i = bisect.bisect_right(self._starts, t) - 1
        return self.segments[max(i, 0)][1]

    def states_at(self, t: Sequence[float] | np.ndarray) -> np.ndarray:
        """Vectorised :meth:`state_at`."""
        idx = np.searchsorted(np.asarray(self._starts), np.asarray(t, dtype=float), "right") - 1
        labels = np.array([s for _, s in self.segments])
        return labels[np.clip(idx, 0, None)]

    def segment_index(self, t: float) -> int:
        return max(bisect.bisect_right(self._starts, t) - 1, 0)

    def next_change_after(self, t: float) -> float | None:
        """Start of the first segment after ``t``, or None when the state never changes again."""
        i = bisect.bisect_right(self._starts, t)
        return self._starts[i] if i < len(self._starts) else None

    def changes_between(self, t0: float, t1: float) -> list[tuple[float, str]]:
        """Segments starting in ``[t0, t1)``."""
        return [(s, st) for s, st in self.segments if t0 <= s < t1]

    def to_csv(self) -> str:
        return "start_s,state\n" + "".join(f"{s:g},{st}\n" for s, st in self.segments)

    def __len__(self) -> int:
        return len(self.segments)


def _check(segs: Sequence[tuple[float, str]], where: str) -> list[Problem]:
    problems: list[Problem] = []
    if not segs:
        return [Problem(where, "the schedule has no segments", "add at least '0,calm'")]
    if segs[0][0] != 0:
        problems.append(
            Problem(where, f"the first segment starts at {segs[0][0]:g} s", "start it at 0")
        )
    for i, (start, state) in enumerate(segs):
        if state not in SIM_STATES:
            problems.append(
                Problem(
                    f"{where}: segment {i + 1}", f"unknown state {state!r}", "use calm or aroused"
                )
            )
        if not np.isfinite(start):
            problems.append(Problem(f"{where}: segment {i + 1}", "start_s must be finite"))
        if i and start <= segs[i - 1][0]:
            problems.append(
                Problem(
                    f"{where}: segment {i + 1}",
                    f"start_s {start:g} does not come after {segs[i - 1][0]:g}",
                    "list segments in increasing start_s",
                )
            )
    return problems
