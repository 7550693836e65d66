"""Signal windows -> features and quality, one call per update, no threads and no LSL.

The monitor calls :meth:`FeaturePipeline.update` once per second with the
latest window of each stream; benchmarks and the accuracy study call it on
recorded arrays the same way, so what is measured is what runs live.

Cost is what shapes it (measured in ``bench/bench_sensors.py``): redoing beat
detection on a 120 s ECG window every second would cost more than everything
else together, so :class:`BeatTracker` keeps a running beat list and only
looks at the newest samples plus :data:`OVERLAP_S` seconds of context (filter
warm-up, and beats near the previous edge). A beat is committed once it is
at least :data:`SETTLE_S` old, so a half-seen beat at the trailing edge is
never used. The NeuroKit2 template-matching quality index costs ~20 ms per
10 s of ECG or PPG, so the full :func:`sensors.quality.signal_quality` runs
every ``quality_every_s`` seconds on the last ``quality_window_s``; a lost
stream, a flat line or NaNs still turn the state ``unknown`` at the next
update, because they remove the features themselves.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass, field

import numpy as np

from sensors.features import (
    EDA_WINDOW_S,
    FAST_FEATURES,
    HRV_FEATURES,
    HRV_WINDOW_S,
    LF_MIN_S,
    MAX_NAN_SHARE,
    _fill_nans,
    detect_beats,
    eda_window,
    hrv_from_beats,
)
from sensors.intervals import beat_level_update
from sensors.quality import signal_quality

OVERLAP_S = 4.0
SETTLE_S = 0.6
CARDIAC_KINDS: tuple[str, ...] = ("ecg", "ppg")
SCL_FLOOR_S = 120.0  # scl_rise: tonic level above its lowest point of this long
SCL_TREND_S = 30.0  # scl_ahead: the decline of the tonic level over this long ...
SCL_AHEAD_S = 30.0  # ... carried this far ahead
FEATURE_NAMES: tuple[str, ...] = (
    *HRV_FEATURES,
    "scl",
    "scr_rate",
    "scr_amp",
    *FAST_FEATURES,
    "scl_rise",
    "scl_ahead",
)


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
        x, share = _fill_nans(np.asarray(x, dtype=float))
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


@dataclass
class UpdateResult:
    """Everything one update produces (before classification)."""

    t: float  # newest sample time used
    features: dict[str, float | None]
    windows: dict[str, tuple[float, float]]
    quality: dict[str, float]
    quality_reason: dict[str, str]
    cardiac_source: str | None
    reasons: list[str]


class FeaturePipeline:
    """Per-update features and quality for any mix of ECG, PPG and EDA streams."""

    def __init__(
        self,
        hrv_window_s: float = HRV_WINDOW_S,
        eda_window_s: float = EDA_WINDOW_S,
        lf_window_s: float = LF_MIN_S,
        quality_window_s: float = 10.0,
        quality_every_s: float = 5.0,
        min_quality: float = 0.5,
    ):
        self.hrv_window_s = float(hrv_window_s)
        self.eda_window_s = float(eda_window_s)
        self.lf_window_s = float(lf_window_s)
        self.quality_window_s = float(quality_window_s)
        self.quality_every_s = float(quality_every_s)
        self.min_quality = float(min_quality)
        self.trackers: dict[str, BeatTracker] = {}
        self.scl_floor = RecentFloor()
        self.scl_ahead = LevelAhead()
        self._quality: dict[str, tuple[float, str, float]] = {}  # kind -> (score, reason, at)
        # frequency-domain HRV (Welch, ~0.1 s) is redone every quality_every_s, in between
        # the last values are carried with the window they were computed on
        self._spectral: dict[str, tuple[float, dict, dict]] = {}  # name -> (at, feats, windows)

    @property
    def window_needed_s(self) -> float:
        """Seconds of history an update reads (what the buffers must hold)."""
        return max(self.lf_window_s, self.hrv_window_s, self.eda_window_s + 10.0) + 5.0

    def reset(self, kind: str | None = None) -> None:
        for k in [kind] if kind else list(self.trackers):
            self.trackers.pop(k, None)
        for k in [kind] if kind else list(self._quality):
            self._quality.pop(k, None)
        self._spectral.clear()
        if kind in (None, "eda"):
            self.scl_floor = RecentFloor()
            self.scl_ahead = LevelAhead()

    def _stream_quality(self, kind: str, data, ts, sfreq, now: float) -> tuple[float, str]:
        cached = self._quality.get(kind)
        if cached is not None and now - cached[2] < self.quality_every_s and cached[0] > 0:
            return cached[0], cached[1]
        i0 = int(np.searchsorted(ts, ts[-1] - self.quality_window_s))
        seg, seg_ts = data[i0:], ts[i0:]
        peaks = None
        tracker = self.trackers.get(kind)
        if tracker is not None and kind in CARDIAC_KINDS:
            beats = tracker.beats_between(seg_ts[0], seg_ts[-1])
            if beats.size:
                peaks = np.searchsorted(seg_ts, beats)
        score, reason = signal_quality(kind, seg, sfreq, peaks=peaks)
        self._quality[kind] = (score, reason, now)
        return score, reason

    def _hrv(self, key, tracker, start, end, correct, now, spectral, *, time_domain=True):
        """HRV of ``[start, end]``; the ``spectral`` features are recomputed every
        ``quality_every_s`` and otherwise carried over with their own windows."""
        cached = self._spectral.get(key)
        fresh = cached is None or now - cached[0] >= self.quality_every_s or not cached[1]
        if not fresh and not time_domain:
            return cached[1], cached[2]
        hv, hw = hrv_from_beats(
            tracker.times, start, end, tracker.gaps, correct=correct, frequency=fresh
        )
        if fresh:
            self._spectral[key] = (
                now,
                {k: hv[k] for k in spectral},
                {k: hw[k] for k in spectral if k in hw},
            )
        else:
            hv = {**hv, **cached[1]}
            hw = {**{k: v for k, v in hw.items() if k not in spectral}, **cached[2]}
        return hv, hw

    def update(self, signals: Mapping[str, tuple[np.ndarray, np.ndarray, float]]) -> UpdateResult:
        """``signals`` maps kind -> ``(data, timestamps, sfreq)`` of each live stream's window.

        Kinds: ``ecg``, ``ppg`` (any unit), ``eda`` (uS), ``ibi`` (intervals in
        s, each stamped with the beat that ends it; ``sfreq`` 0 when irregular)
        and ``hr`` (bpm). Intervals and heart rate are used only when no ECG/PPG
        gave a heart rate (:mod:`sensors.intervals`).
        """
        feats: dict[str, float | None] = dict.fromkeys(FEATURE_NAMES)
        windows: dict[str, tuple[float, float]] = {}
        quality: dict[str, float] = {}
        qreason: dict[str, str] = {}
        reasons: list[str] = []
        newest = [float(ts[-1]) for _, ts, _ in signals.values() if len(ts)]
        now = max(newest) if newest else math.nan

        cardiac: list[tuple[float, str]] = []
        for kind in CARDIAC_KINDS:
            if kind not in signals:
                continue
            data, ts, sfreq = signals[kind]
            if len(ts) == 0:
                quality[kind], qreason[kind] = 0.0, "no samples"
                continue
            tracker = self.trackers.get(kind)
            if tracker is None or tracker.sfreq != sfreq:
                tracker = self.trackers[kind] = BeatTracker(kind, sfreq)
            tracker.update(np.asarray(data, dtype=float), np.asarray(ts, dtype=float))
            quality[kind], qreason[kind] = self._stream_quality(kind, data, ts, sfreq, now)
            cardiac.append((quality[kind], kind))
        source = None
        if cardiac:
            # ECG before PPG at equal quality (sharper beats)
            score, source = max(cardiac, key=lambda c: (c[0], c[1] == "ecg"))
            tracker = self.trackers[source]
            end = tracker.processed_to
            if end is None or tracker.segment_start is None:
                reasons.append(f"{source.upper()}: not enough signal yet")
            else:
                have = end - tracker.segment_start
                if have < self.hrv_window_s - 1.0:
                    reasons.append(
                        f"{source.upper()}: {max(have, 0):.0f} of {self.hrv_window_s:.0f} s "
                        "of HRV window"
                    )
                else:
                    correct = source == "ppg"
                    hv, hw = self._hrv(
                        "hf", tracker, end - self.hrv_window_s, end, correct, now, ("hf",)
                    )
                    for name in ("hr", "rmssd", "sdnn", "hf", "hr_fast"):
                        feats[name] = hv[name]
                    windows.update(
                        {
                            k: v
                            for k, v in hw.items()
                            if k in ("hr", "rmssd", "sdnn", "hf", "hr_fast")
                        }
                    )
                    if hv["hr"] is None:
                        reasons.append(f"{source.upper()}: too few clean beats")
                    if have >= self.lf_window_s - 1.0:
                        lv, lw = self._hrv(
                            "lf",
                            tracker,
                            end - self.lf_window_s,
                            end,
                            correct,
                            now,
                            ("lf", "lf_hf"),
                            time_domain=False,
                        )
                        for name in ("lf", "lf_hf"):
                            feats[name] = lv[name]
                            if name in lw:
                                windows[name] = lw[name]

        # beat-level sources (intervals, heart rate only) when no waveform gave a heart rate
        source = (
            beat_level_update(
                signals,
                feats,
                windows,
                quality,
                qreason,
                reasons,
                self.hrv_window_s,
                self.lf_window_s,
            )
            or source
        )
        if "eda" in signals:
            data, ts, sfreq = signals["eda"]
            if len(ts) == 0:
                quality["eda"], qreason["eda"] = 0.0, "no samples"
            else:
                quality["eda"], qreason["eda"] = self._stream_quality("eda", data, ts, sfreq, now)
                ev, einfo = eda_window(data, sfreq, timestamps=ts, window_s=self.eda_window_s)
                feats.update(ev)
                windows.update(einfo["windows"])
                feats["scl_rise"] = self.scl_floor.rise(now, ev.get("scl_fast"))
                if feats["scl_rise"] is not None:
                    windows["scl_rise"] = einfo["windows"]["scl_fast"]
                feats["scl_ahead"], first = self.scl_ahead.ahead(now, ev.get("scl_fast"))
                if feats["scl_ahead"] is not None:
                    lo, hi = einfo["windows"]["scl_fast"]
                    # carried along a fall: the oldest level of the trend read its own window
                    windows["scl_ahead"] = (lo, hi) if first is None else (first - (hi - lo), hi)
                if einfo["reason"]:
                    reasons.append(f"EDA: {einfo['reason']}")
        for kind, score in quality.items():
            if score < self.min_quality:
                reasons.append(f"{kind.upper()} quality {score:.2f}: {qreason[kind]}")
        return UpdateResult(now, feats, windows, quality, qreason, source, reasons)


def replay(
    signals: Mapping[str, tuple[np.ndarray, np.ndarray, float]],
    pipeline: FeaturePipeline,
    step_s: float = 1.0,
    start_s: float | None = None,
):
    """Run ``pipeline`` over recorded arrays as the monitor would live: yields UpdateResults.

    ``signals`` maps kind -> ``(data, timestamps, sfreq)`` of whole recordings;
    each step sees, per kind, the samples up to the step time within the
    pipeline's history length.
    """
    first = min(float(ts[0]) for _, ts, _ in signals.values())
    last = max(float(ts[-1]) for _, ts, _ in signals.values())
    t = first + (step_s if start_s is None else start_s)
    hist = pipeline.window_needed_s
    while t <= last + 1e-9:
        window = {}
        for kind, (data, ts, sfreq) in signals.items():
            i0, i1 = np.searchsorted(ts, [t - hist, t], side="right")
            window[kind] = (data[i0:i1], ts[i0:i1], sfreq)
        yield pipeline.update(window)
        t += step_s
