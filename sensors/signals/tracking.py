"""What the feature pipeline keeps from one update to the next.

Cost is what shapes :class:`BeatTracker` (measured in ``bench/bench_sensors.py``):
redoing beat detection on a 120 s ECG window every second would cost more
than everything else together, so it keeps a running beat list and only
looks at the newest samples plus :data:`OVERLAP_S` seconds of context (filter
warm-up, and beats near the previous edge). A beat is committed once it is at
least :data:`SETTLE_S` old, so a half-seen beat at the trailing edge is never
used. :class:`RecentFloor` and :class:`LevelAhead` keep the skin-conductance
levels of the last minutes, which span more history than a window holds.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np

from sensors.signals.beats import detect_beats
from sensors.signals.hrv import LF_MIN_S
from sensors.signals.samples import MAX_NAN_SHARE, fill_nans

#: Seconds of context before the newest samples that beat detection looks at again.
OVERLAP_S = 4.0
#: Age (s) at which a detected beat is committed.
SETTLE_S = 0.6
SCL_FLOOR_S = 120.0  #: scl_rise: tonic level above its lowest point of this long
SCL_TREND_S = 30.0  #: scl_ahead: the decline of the tonic level over this long ...
SCL_AHEAD_S = 30.0  #: ... carried this far ahead


@dataclass
class RecentFloor:
    """The lowest tonic level of the last ``span_s`` seconds, from the updates' own values.

    ``scl_rise`` (tonic level above that floor) follows arousal up within
    seconds and back down as soon as the level stops climbing, whereas the
    level itself needs minutes to come back (skin conductance recovers with
    a time constant of about a minute and often not at all within a
    5-minute rest; Boucsein 2012, Electrodermal Activity, 2nd ed., ch. 2.3).
    Kept by the pipeline because it spans more history than a window holds.
    """

    span_s: float = SCL_FLOOR_S
    values: list[tuple[float, float]] = field(default_factory=list)

    def rise(self, t: float, level: float | None) -> float | None:
        self.values = [(u, v) for u, v in self.values if u >= t - self.span_s]
        if level is None or not math.isfinite(level):
            return None
        self.values.append((t, level))
        return level - min(v for _, v in self.values)


@dataclass
class LevelAhead:
    """The tonic level carried :data:`SCL_AHEAD_S` ahead along its decline of the last seconds.

    Skin conductance climbs within seconds of arousal but comes back down
    with a time constant of a minute or more (Boucsein 2012, Electrodermal
    Activity, 2nd ed., ch. 2.3), so the level alone keeps a participant
    "aroused" for a minute after the stressor ends. While the level falls,
    ``scl_ahead`` is where it will be in :data:`SCL_AHEAD_S` seconds if the
    fall of the last :data:`SCL_TREND_S` seconds (least-squares slope of the
    updates' levels) goes on; a rising or flat level is taken as it is, since
    the level already follows a rise within seconds, and so is the level while
    less than 60% of the span has been seen (the first seconds, or after a
    gap: no fall is known yet). Unlike ``scl_rise`` it keeps a plateau that
    lasts minutes (a long stressor) at its full height.
    """

    span_s: float = SCL_TREND_S
    ahead_s: float = SCL_AHEAD_S
    values: list[tuple[float, float]] = field(default_factory=list)

    def ahead(self, t: float, level: float | None) -> tuple[float | None, float | None]:
        """``(value, start)``: the level carried ahead, and the time of the oldest level it
        read (None when it is the level itself, whose own window then applies)."""
        self.values = [(u, v) for u, v in self.values if u >= t - self.span_s]
        if level is None or not math.isfinite(level):
            return None, None
        self.values.append((t, level))
        if len(self.values) < 3 or t - self.values[0][0] < 0.6 * self.span_s:
            return level, None
        ts = np.array([u for u, _ in self.values])
        vs = np.array([v for _, v in self.values])
        ts = ts - ts.mean()
        slope = float(ts @ (vs - vs.mean()) / (ts @ ts))
        if slope >= 0.0:
            return level, None
        return level + self.ahead_s * slope, self.values[0][0]


@dataclass
class BeatTracker:
    """Running list of beat times of one ECG/PPG stream, updated from its newest samples."""

    kind: str
    sfreq: float
    keep_s: float = LF_MIN_S + 10.0
    times: np.ndarray = field(default_factory=lambda: np.zeros(0))
    gaps: list[tuple[float, float]] = field(default_factory=list)
    segment_start: float | None = None  # first timestamp after the newest gap
    processed_to: float | None = None  # beats are final up to this time
    last_ts: float | None = None

    def update(self, data: np.ndarray, ts: np.ndarray) -> None:
        """Feed a window ending with the newest samples (it may overlap earlier calls)."""
        if ts.size == 0:
            return
        gap_s = max(0.25, 10.0 / self.sfreq)
        if self.last_ts is not None and ts[-1] <= self.last_ts:
            return  # nothing new
        # holes: inside the window, and between what we saw last and this window
        holes = np.flatnonzero(np.diff(ts) > gap_s)
        for h in holes:
            self._gap(float(ts[h]), float(ts[h + 1]))
        if self.last_ts is not None and ts[0] - self.last_ts > gap_s:
            self._gap(self.last_ts, float(ts[0]))
        if self.segment_start is None:
            self.segment_start = float(ts[0])
        start = self.segment_start
        if self.processed_to is not None:
            start = max(start, self.processed_to - OVERLAP_S)
        i0 = int(np.searchsorted(ts, start))
        x, t = data[i0:], ts[i0:]
        self.last_ts = float(ts[-1])
        if t.size < 2 * self.sfreq:
            return
        x, share = fill_nans(np.asarray(x, dtype=float))
        final = float(t[-1]) - SETTLE_S
        if share <= MAX_NAN_SHARE:
            idx = detect_beats(x, self.sfreq, self.kind)
            new = t[idx] if idx.size else np.zeros(0)
            # a beat committed earlier may be re-detected a sample or two apart:
            # nothing within a refractory 0.25 s of the last committed beat is new
            after = self.times[-1] + 0.25 if self.times.size else -math.inf
            new = new[(new > after) & (new <= final)]
            self.times = np.concatenate([self.times, new])
        else:
            # too much missing to trust beats here: treat the stretch as a gap
            self._gap(float(t[0]), final)
        self.processed_to = final
        cutoff = final - self.keep_s
        self.times = self.times[self.times >= cutoff]
        self.gaps = [g for g in self.gaps if g[1] >= cutoff]

    def _gap(self, t0: float, t1: float) -> None:
        self.gaps.append((t0, t1))
        self.segment_start = t1
        self.processed_to = None
        self.times = self.times[self.times < t0]

    def beats_between(self, start: float, end: float) -> np.ndarray:
        return self.times[(self.times >= start) & (self.times <= end)]
