"""Sliding-window heart-rate variability from beat times, via NeuroKit2.

Every feature comes with the ``(start, end)`` window it was computed on, on the
clock of the timestamps given (the local LSL clock in the monitor), so a
moderator can be shown to precede the treatment it moderates. Beats and their
clean intervals come from :mod:`sensors.signals.beats`.

* **Frequency-domain** power is only reported when the window is long enough
  to hold ten cycles of the band's lowest frequency, rounded as in the Task
  Force of the ESC/NASPE (1996, Circulation 93:1043): about 1 min for HF
  (0.15-0.4 Hz) and 2 min for LF (0.04-0.15 Hz). Shorter windows report
  ``None``, never a number Welch's method would happily produce from too
  little data. Intervals that are artefacts go to ``nk.hrv_frequency`` as
  missing.
* **Pulse beats** (PPG): a window where more than
  :data:`MAX_CORRECTED_SHARE` of the beats needed the Kubios correction is
  not used.
* **Fast heart rate** follows a change within seconds, for a state that must
  follow the person: ``hr_fast``, the heart rate of the clean intervals of the
  last :data:`FAST_HR_WINDOW_S` s. A 60 s mean would lag a change by ~30 s.
* **Time-domain HRV** (RMSSD over successive clean pairs, SDNN over clean
  intervals; Task Force 1996) is computed directly: ``nk.hrv_time`` returns
  ~30 indices the monitor never uses, at ~50 ms per window, once a second.

Features are plain ``dict[str, float | None]`` with short names (``hr``,
``rmssd``, ``sdnn``, ``hf``, ``lf``, ``lf_hf``, ``hr_fast``).
"""

from __future__ import annotations

import math
import warnings

import neurokit2 as nk
import numpy as np

from sensors.kinds import Span
from sensors.signals.beats import (
    Beats,
    clean_intervals,
    correct_beats,
    detect_beats,
    drop_extra_beats,
)
from sensors.signals.samples import MAX_NAN_SHARE, fill_nans, last_segment, timestamps_for

#: Length of the heart-rate-variability window (s).
HRV_WINDOW_S = 60.0
HF_MIN_S = 60.0  #: Task Force (1996): ~1 min for HF
LF_MIN_S = 120.0  #: Task Force (1996): ~2 min for LF
MIN_BEATS = 8  # fewer beats in a window: no HRV at all
MIN_NN_SHARE = 0.8  # share of clean intervals needed for any HRV feature
MAX_CORRECTED_SHARE = 0.2  #: more Kubios-corrected beats than this: no HRV from the window
#: The last seconds whose clean intervals give ``hr_fast``.
FAST_HR_WINDOW_S = 15.0
#: The cardiac features of a window.
HRV_FEATURES: tuple[str, ...] = ("hr", "rmssd", "sdnn", "hf", "lf", "lf_hf")


def _time_domain(rr: np.ndarray) -> tuple[float | None, float | None]:
    """RMSSD and SDNN (ms) of intervals (s) with artefacts as NaN (Task Force 1996)."""
    succ = np.diff(rr)
    succ = succ[np.isfinite(succ)]
    rmssd = float(np.sqrt(np.mean(succ**2))) * 1000.0 if succ.size else None
    nn = rr[np.isfinite(rr)]
    sdnn = float(np.std(nn, ddof=1)) * 1000.0 if nn.size > 1 else None
    return rmssd, sdnn


def hrv_from_beats(
    times: np.ndarray,
    start: float,
    end: float,
    gaps: list[Span] | None = None,
    *,
    correct: bool = False,
    frequency: bool = True,
) -> tuple[dict[str, float | None], dict[str, Span]]:
    """HRV features of the beats at ``times`` (s) falling in ``[start, end]``.

    ``end - start`` is the window length the frequency gates refer to, so a
    caller that has less signal than its nominal window passes the true bounds.
    ``correct`` applies the Kubios beat correction (pulse beats); ``frequency``
    False skips HF/LF (the costly part) and leaves them ``None``. ``hr_fast``
    is the heart rate of the last :data:`FAST_HR_WINDOW_S` seconds alone, so a
    movement earlier in the window does not take it away.
    """
    feats: dict[str, float | None] = dict.fromkeys((*HRV_FEATURES, "hr_fast"))
    windows: dict[str, Span] = {}
    t = np.asarray(times, dtype=float)
    t = drop_extra_beats(t[(t >= start) & (t <= end)])
    if t.size < MIN_BEATS:
        return feats, windows
    flagged = 0
    if correct:
        t, flagged = correct_beats(t, gaps)
        t = t[(t >= start) & (t <= end)]
    rr = clean_intervals(t, gaps)
    fast0 = max(start, end - FAST_HR_WINDOW_S)
    recent = rr[t[1:] >= fast0] if rr.size else rr
    if recent.size >= 5 and np.isfinite(recent).mean() >= MIN_NN_SHARE:
        feats["hr_fast"] = 60.0 / float(np.nanmean(recent))
        windows["hr_fast"] = (float(fast0), float(end))
    ok = np.isfinite(rr)
    if (
        ok.sum() < MIN_BEATS - 1
        or ok.mean() < MIN_NN_SHARE
        or flagged > MAX_CORRECTED_SHARE * t.size
    ):
        return feats, windows
    bounds = (float(start), float(end))
    feats["hr"] = 60.0 / float(np.nanmean(rr))
    feats["rmssd"], feats["sdnn"] = _time_domain(rr)
    windows.update(hr=bounds, rmssd=bounds, sdnn=bounds)
    length = end - start
    if frequency and length >= HF_MIN_S - 1e-9:
        rri = {"RRI": rr * 1000.0, "RRI_Time": t[1:] - t[0]}
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            fd = nk.hrv_frequency(rri, normalize=False)
        feats["hf"] = _finite(fd["HRV_HF"].iloc[0])
        windows["hf"] = bounds
        if length >= LF_MIN_S - 1e-9:
            feats["lf"] = _finite(fd["HRV_LF"].iloc[0])
            lf, hf = feats["lf"], feats["hf"]
            feats["lf_hf"] = lf / hf if lf is not None and hf else None
            windows.update(lf=bounds, lf_hf=bounds)
    return feats, {k: v for k, v in windows.items() if feats.get(k) is not None}


def _finite(value) -> float | None:
    v = float(value)
    return v if math.isfinite(v) else None


def hrv_window(
    signal: np.ndarray,
    sfreq: float,
    kind: str,
    t0: float = 0.0,
    *,
    timestamps: np.ndarray | None = None,
    window_s: float = HRV_WINDOW_S,
) -> tuple[dict[str, float | None], dict]:
    """HRV features of the last ``window_s`` seconds of an ECG or PPG signal.

    ``t0`` stamps the first sample (or pass ``timestamps``, one per sample).
    Returns ``(features, info)``; ``info`` holds ``windows`` (feature ->
    bounds), ``beats`` (:class:`Beats` of the whole input), ``n_beats`` in the
    window, ``nan_share`` and ``reason`` (empty when features were computed).
    """
    x = np.asarray(signal, dtype=float).ravel()
    ts = timestamps_for(x.size, sfreq, t0, timestamps)
    info: dict = {"windows": {}, "n_beats": 0, "nan_share": 0.0, "reason": ""}
    empty = dict.fromkeys(HRV_FEATURES)
    cut = last_segment(ts, sfreq)
    x, ts = x[cut:], ts[cut:]
    x, share = fill_nans(x)
    info["nan_share"] = share
    info["beats"] = Beats(np.zeros(0, dtype=int), np.zeros(0))
    if share > MAX_NAN_SHARE:
        info["reason"] = f"{share:.0%} of {kind.upper()} samples missing"
        return empty, info
    if x.size < 2 * sfreq:
        info["reason"] = f"only {x.size / sfreq:.1f} s of {kind.upper()}"
        return empty, info
    idx = detect_beats(x, sfreq, kind)
    beats = Beats(idx + cut, ts[idx])
    info["beats"] = beats
    end = float(ts[-1])
    start = max(float(ts[0]), end - window_s)
    feats, windows = hrv_from_beats(beats.times, start, end, correct=kind == "ppg")
    info["windows"] = windows
    info["n_beats"] = int(np.count_nonzero((beats.times >= start) & (beats.times <= end)))
    if feats["hr"] is None:
        info["reason"] = f"too few clean beats ({info['n_beats']}) in the {kind.upper()} window"
    return feats, info
