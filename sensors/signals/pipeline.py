"""Signal windows -> features and quality, one call per update, no threads and no LSL.

The monitor calls :meth:`FeaturePipeline.update` once per second with the
latest window of each stream; benchmarks and the accuracy study call it on
recorded arrays the same way (:func:`offline_updates`), so what is measured is
what runs live.

Beats are tracked across updates (:mod:`sensors.signals.tracking`), so each
update detects only the newest ones. The NeuroKit2 template-matching quality
index costs ~20 ms per 10 s of ECG or PPG, so the full
:func:`sensors.signals.quality.signal_quality` runs every ``quality_every_s``
seconds on the last ``quality_window_s``; a lost stream, a flat line or NaNs
still turn the state ``unknown`` at the next update, because they remove the
features themselves.
"""

from __future__ import annotations

import math
from collections.abc import Iterator, Mapping
from dataclasses import dataclass

import numpy as np
import pandas as pd

from sensors.kinds import SignalWindow
from sensors.signals.eda import EDA_WINDOW_S, eda_window
from sensors.signals.hrv import HRV_FEATURES, HRV_WINDOW_S, LF_MIN_S, hrv_from_beats
from sensors.signals.intervals import beat_level_update
from sensors.signals.quality import signal_quality
from sensors.signals.tracking import BeatTracker, LevelAhead, RecentFloor

CARDIAC_KINDS: tuple[str, ...] = ("ecg", "ppg")
FAST_FEATURES: tuple[str, ...] = ("hr_fast", "scl_fast")
#: Every feature an update may report, in the order of its columns.
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

    def update(self, signals: Mapping[str, SignalWindow]) -> UpdateResult:
        """``signals`` maps kind -> the :class:`~sensors.kinds.SignalWindow` of each live stream.

        Kinds: ``ecg``, ``ppg`` (any unit), ``eda`` (uS), ``ibi`` (intervals in
        s, each stamped with the beat that ends it; ``sfreq`` 0 when irregular)
        and ``hr`` (bpm). Intervals and heart rate are used only when no ECG/PPG
        gave a heart rate (:mod:`sensors.signals.intervals`).
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


def offline_updates(
    signals: Mapping[str, SignalWindow],
    pipeline: FeaturePipeline,
    step_s: float = 1.0,
    start_s: float | None = None,
) -> Iterator[UpdateResult]:
    """Run ``pipeline`` over recorded arrays as the monitor would live: yields UpdateResults.

    ``signals`` maps kind -> :class:`~sensors.kinds.SignalWindow` of whole recordings;
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
            window[kind] = SignalWindow(data[i0:i1], ts[i0:i1], sfreq)
        yield pipeline.update(window)
        t += step_s


def as_frame(features: dict[str, float | None], kind: str = "") -> pd.DataFrame:
    """NeuroKit2-style prefixed one-row DataFrame (``HRV_RMSSD``, ``EDA_SCL``, ...)."""
    row = {}
    for name, value in features.items():
        prefix = "HRV_" if name in HRV_FEATURES else "EDA_"
        if kind:
            prefix = f"{kind.upper()}_{prefix}"
        row[prefix + name.upper()] = np.nan if value is None else value
    return pd.DataFrame([row])
