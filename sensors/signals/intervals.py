"""Cardiac features from beat-level sources: beat-to-beat intervals, or a heart rate only.

Chest straps and wristband bridges often publish no waveform: a Polar-style
strap sends each R-R interval (an irregular stream, one sample per beat, in
ms or s), an Empatica-style bridge a heart rate once a second. They enter
:class:`~sensors.signals.pipeline.FeaturePipeline` under two kinds, with the same
``(values, timestamps, sfreq)`` contract as the waveforms:

* ``ibi``: ``values`` are intervals in **seconds**, each stamped with the
  time of the beat that **ends** it; ``sfreq`` is the stream's nominal rate
  (0 when irregular). HRV comes from the intervals themselves, through the
  same :func:`sensors.signals.hrv.hrv_from_beats` as ECG and PPG beats.
* ``hr``: ``values`` are heart rates in bpm; only the ``hr`` feature exists.

Why beats are rebuilt from the intervals rather than taken from the time
stamps: a Bluetooth bridge stamps a packet of several intervals at once, so
differences of time stamps are off by tens of milliseconds, more than RMSSD
itself. The device's intervals are exact; the time stamps only anchor them.
Beat times are therefore chained interval by interval from the first stamp
of a run, and a new run starts (the hole becomes a gap, as for a waveform)
when a stamp and the chained time part by more than :data:`CHAIN_TOLERANCE_S`
(dropped intervals, a pause of the device).
"""

from __future__ import annotations

import math

import numpy as np

from sensors.kinds import Span
from sensors.signals.beats import clean_intervals
from sensors.signals.hrv import FAST_HR_WINDOW_S, hrv_from_beats

#: How far (s) a time stamp and the chained beat time may part before a new run starts.
CHAIN_TOLERANCE_S = 2.0
#: Plausible heart rates (bpm): a value outside is an artefact, not a feature.
HR_RANGE_BPM = (30.0, 220.0)
HR_GAP_S = 5.0  # a heart-rate stream silent this long has a hole


def beats_from_intervals(
    intervals: np.ndarray, timestamps: np.ndarray, tolerance_s: float = CHAIN_TOLERANCE_S
) -> tuple[np.ndarray, list[Span], float | None]:
    """Beat times rebuilt from intervals (s) stamped at their ending beat.

    Returns ``(beat times, gaps, start of the newest run)``; the gaps cover
    the holes between runs, so no interval is ever bridged across one.
    """
    rr = np.asarray(intervals, dtype=float)
    ts = np.asarray(timestamps, dtype=float)
    times: list[float] = []
    gaps: list[Span] = []
    last: float | None = None  # chained time of the newest beat
    run_start: float | None = None
    for value, stamp in zip(rr, ts, strict=True):
        if not (math.isfinite(value) and value > 0 and math.isfinite(stamp)):
            if last is not None:
                gaps.append((last + 1e-3, float(stamp)))
            last = None
            continue
        if last is not None and abs(stamp - (last + value)) <= tolerance_s:
            last += value
            times.append(last)
            continue
        # a new run: anchor at this stamp
        begin = float(stamp) - value
        if times and begin <= times[-1] + 0.25:
            begin = None  # overlaps what we had: keep only its end beat
        if times:
            gaps.append((times[-1] + 1e-3, (begin if begin is not None else float(stamp)) - 1e-3))
        if begin is not None:
            times.append(begin)
        times.append(float(stamp))
        last = float(stamp)
        run_start = begin if begin is not None else float(stamp)
    return np.asarray(times), gaps, run_start


def interval_quality(times: np.ndarray, gaps: list[Span], start: float, end: float):
    """``(score, reason)``: the share of the window's intervals that are normal-to-normal."""
    t = np.asarray(times, dtype=float)
    t = t[(t >= start) & (t <= end)]
    if t.size < 3:
        return 0.0, "fewer than 3 beats"
    share = float(np.isfinite(clean_intervals(t, gaps)).mean())
    if share >= 0.999:
        return 1.0, "ok"
    return share, f"{1.0 - share:.0%} of the intervals are artefacts or gaps"


def ibi_features(
    intervals: np.ndarray,
    timestamps: np.ndarray,
    hrv_window_s: float,
    lf_window_s: float,
) -> tuple[dict[str, float | None], dict[str, Span], float, str, str]:
    """HRV of the newest ``hrv_window_s`` (LF/HF over ``lf_window_s``) of an interval stream.

    Returns ``(features, windows, quality, quality reason, why no features)``;
    the last is empty when the features were computed.
    """
    times, gaps, run_start = beats_from_intervals(intervals, timestamps)
    if times.size < 2 or run_start is None:
        return {}, {}, 0.0, "no intervals", "IBI: no intervals yet"
    end = float(times[-1])
    have = end - run_start
    q, qreason = interval_quality(times, gaps, max(run_start, end - hrv_window_s), end)
    if have < hrv_window_s - 1.0:
        return {}, {}, q, qreason, f"IBI: {max(have, 0):.0f} of {hrv_window_s:.0f} s of HRV window"
    feats, windows = hrv_from_beats(times, end - hrv_window_s, end, gaps)
    # hr_fast (the last few seconds alone) is what the live classifier follows; a strap's
    # intervals give it as directly as beats detected in a waveform do.
    out = {k: feats[k] for k in ("hr", "rmssd", "sdnn", "hf", "hr_fast")}
    wins = {k: v for k, v in windows.items() if k in out}
    if have >= lf_window_s - 1.0:
        lv, lw = hrv_from_beats(times, end - lf_window_s, end, gaps)
        for name in ("lf", "lf_hf"):
            out[name] = lv[name]
            if name in lw:
                wins[name] = lw[name]
    why = "" if out["hr"] is not None else "IBI: too few clean intervals"
    return out, wins, q, qreason, why


def hr_feature(
    rates: np.ndarray, timestamps: np.ndarray, window_s: float
) -> tuple[dict[str, float | None], dict[str, Span], float, str, str]:
    """Mean heart rate (bpm) of the newest ``window_s`` of a heart-rate-only stream.

    Returns ``(features, windows, quality, quality reason, why no feature)``.
    Values outside :data:`HR_RANGE_BPM` are artefacts; the quality is the
    share of plausible values in the window.
    """
    v = np.asarray(rates, dtype=float)
    ts = np.asarray(timestamps, dtype=float)
    if ts.size == 0:
        return {}, {}, 0.0, "no samples", "HR: no samples yet"
    holes = np.flatnonzero(np.diff(ts) > HR_GAP_S)
    first = int(holes[-1] + 1) if holes.size else 0
    v, ts = v[first:], ts[first:]
    end = float(ts[-1])
    start = end - window_s
    inside = ts > start
    v = v[inside]
    ok = np.isfinite(v) & (v >= HR_RANGE_BPM[0]) & (v <= HR_RANGE_BPM[1])
    q = float(ok.mean()) if v.size else 0.0
    qreason = "ok" if q >= 0.999 else f"{1.0 - q:.0%} of heart rates missing or implausible"
    spacing = float(np.median(np.diff(ts))) if ts.size > 1 else window_s
    have = end - float(ts[0])
    if have < window_s - max(1.0, 1.5 * spacing):
        return {}, {}, q, qreason, f"HR: {max(have, 0):.0f} of {window_s:.0f} s of window"
    if ok.sum() < 3:
        return {}, {}, q, qreason, "HR: fewer than 3 plausible heart rates"
    out: dict[str, float | None] = {"hr": float(np.mean(v[ok]))}
    wins: dict[str, Span] = {"hr": (start, end)}
    # The same fast heart rate the classifier follows from beats, from the device's rates.
    fast = ok & (ts[inside] > end - FAST_HR_WINDOW_S)
    if fast.sum() >= 3:
        out["hr_fast"] = float(np.mean(v[fast]))
        wins["hr_fast"] = (end - FAST_HR_WINDOW_S, end)
    return out, wins, q, qreason, ""


def beat_level_update(
    signals,
    feats: dict[str, float | None],
    windows: dict[str, Span],
    quality: dict[str, float],
    qreason: dict[str, str],
    reasons: list[str],
    hrv_window_s: float,
    lf_window_s: float,
) -> str | None:
    """Fill the cardiac features from ``ibi`` (else ``hr``) when no waveform gave them.

    Called by :meth:`~sensors.signals.pipeline.FeaturePipeline.update` with its result being built;
    returns the kind used, or None.
    """
    if feats.get("hr") is not None:
        return None
    for kind in ("ibi", "hr"):
        if kind not in signals:
            continue
        values, ts, _ = signals[kind]
        if len(ts) == 0:
            quality[kind], qreason[kind] = 0.0, "no samples"
            continue
        if kind == "ibi":
            got, wins, q, qr, why = ibi_features(values, ts, hrv_window_s, lf_window_s)
        else:
            got, wins, q, qr, why = hr_feature(values, ts, hrv_window_s)
        quality[kind], qreason[kind] = q, qr
        if why:
            reasons.append(why)
        if got.get("hr") is not None:
            feats.update(got)
            windows.update(wins)
            return kind
    return None
