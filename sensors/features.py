"""Sliding-window heart-rate variability and skin-conductance features, via NeuroKit2.

Every feature comes with the ``(start, end)`` window it was computed on, on the
clock of the timestamps given (the local LSL clock in the monitor), so a
moderator can be shown to precede the treatment it moderates.

Why the rules are what they are:

* **Beats** come from NeuroKit2 (``ecg_clean`` + ``ecg_peaks`` for ECG,
  ``ppg_clean`` + ``ppg_findpeaks`` for PPG) on the whole signal handed in,
  and the HRV window is its last ``window_s`` seconds, so the filters have
  settled before the window starts.
* **Extra detections** that split one interval in two (tall T waves at slow
  heart rates) are dropped first (:func:`drop_extra_beats`).
* **Intervals** shorter than 0.3 s or longer than 2.0 s (200-30 bpm), more
  than :data:`NN_MAX_DEVIATION` away from the window's median interval, or
  spanning a hole in the timestamps, are artefacts, not normal-to-normal
  intervals; they are passed to ``nk.hrv_time``/``nk.hrv_frequency`` as
  missing, which then use successive pairs only (RMSSD) and never bridge a gap.
* **Frequency-domain** power is only reported when the window is long enough
  to hold ten cycles of the band's lowest frequency, rounded as in the Task
  Force of the ESC/NASPE (1996, Circulation 93:1043): about 1 min for HF
  (0.15-0.4 Hz) and 2 min for LF (0.04-0.15 Hz). Shorter windows report
  ``None``, never a number Welch's method would happily produce from too
  little data.
* **Skin conductance**: ``eda_clean`` (3 Hz low-pass), ``eda_phasic``
  (high-pass split at 0.05 Hz into tonic and phasic parts) and ``eda_findpeaks``
  on the window plus up to :data:`EDA_MARGIN_S` seconds before it (filter
  warm-up). SCRs count only when their peak lies in the window and their
  amplitude reaches :data:`SCR_MIN_AMPLITUDE_US` (the 0.05 uS criterion
  common in the literature, Boucsein et al. 2012, Psychophysiology 49:1017);
  NeuroKit2's own threshold is relative to the largest response and would
  count noise in a quiet window.

* **Pulse beats** (PPG) are corrected before any interval is used, with the
  Kubios method of Lipponen & Tarvainen (2019, J Med Eng Technol 43:173) as
  NeuroKit2's ``signal_fixpeaks`` implements it: missed, extra and ectopic
  detections (a wrist sensor while the hand writes or the person talks) are
  replaced by interpolated beats; a window where more than
  :data:`MAX_CORRECTED_SHARE` of the beats needed correcting is not used.
* **Fast features** follow a change within seconds, for a state that must
  follow the person: ``hr_fast``, the heart rate of the clean intervals of the
  last :data:`FAST_HR_WINDOW_S` s, and ``scl_fast``, the tonic level of the
  last :data:`FAST_SCL_WINDOW_S` s. A 60 s mean would lag a change by ~30 s.
* **Time-domain HRV** (RMSSD over successive clean pairs, SDNN over clean
  intervals; Task Force 1996) is computed directly: ``nk.hrv_time`` returns
  ~30 indices the monitor never uses, at ~50 ms per window, once a second.

Features are plain ``dict[str, float | None]`` with short names
(``hr``, ``rmssd``, ``sdnn``, ``hf``, ``lf``, ``lf_hf``, ``hr_fast``, ``scl``,
``scl_fast``, ``scr_rate``, ``scr_amp``); :func:`as_frame` gives NeuroKit2's
prefixed one-row DataFrame.
"""

from __future__ import annotations

import math
import warnings
from dataclasses import dataclass

import neurokit2 as nk
import numpy as np
import pandas as pd
from scipy.signal import find_peaks

HRV_WINDOW_S = 60.0
EDA_WINDOW_S = 30.0
EDA_MARGIN_S = 10.0
HF_MIN_S = 60.0  # Task Force (1996): ~1 min for HF
LF_MIN_S = 120.0  # Task Force (1996): ~2 min for LF
RR_RANGE_S = (0.3, 2.0)
NN_MAX_DEVIATION = 0.3  # relative to the window's median interval
MIN_BEATS = 8  # fewer beats in a window: no HRV at all
MIN_NN_SHARE = 0.8  # share of clean intervals needed for any HRV feature
MAX_NAN_SHARE = 0.1  # more missing samples than this: no features from the window
SCR_MIN_AMPLITUDE_US = 0.05
MAX_CORRECTED_SHARE = 0.2  # more Kubios-corrected beats than this: no HRV from the window
FAST_HR_WINDOW_S = 15.0
FAST_SCL_WINDOW_S = 10.0
HRV_FEATURES: tuple[str, ...] = ("hr", "rmssd", "sdnn", "hf", "lf", "lf_hf")
EDA_FEATURES: tuple[str, ...] = ("scl", "scr_rate", "scr_amp")
FAST_FEATURES: tuple[str, ...] = ("hr_fast", "scl_fast")

Window = tuple[float, float]


@dataclass(frozen=True)
class Beats:
    """Detected beats of one signal: sample indices and their timestamps."""

    indices: np.ndarray
    times: np.ndarray


def _timestamps(n: int, sfreq: float, t0: float, timestamps: np.ndarray | None) -> np.ndarray:
    if timestamps is None:
        return t0 + np.arange(n) / sfreq
    ts = np.asarray(timestamps, dtype=float)
    if ts.shape != (n,):
        raise ValueError(f"{len(ts)} timestamps for {n} samples")
    return ts


def _fill_nans(x: np.ndarray) -> tuple[np.ndarray, float]:
    """Linearly interpolate missing samples; returns the filled copy and the missing share."""
    finite = np.isfinite(x)
    share = 1.0 - float(finite.mean()) if x.size else 1.0
    if share == 0.0 or share == 1.0:
        return x, share
    idx = np.arange(x.size)
    return np.interp(idx, idx[finite], x[finite]), share


def _last_segment(ts: np.ndarray, sfreq: float) -> int:
    """Index where the newest gap-free stretch of samples starts."""
    if ts.size < 2:
        return 0
    gap = max(0.25, 10.0 / sfreq)
    holes = np.flatnonzero(np.diff(ts) > gap)
    return int(holes[-1] + 1) if holes.size else 0


def detect_beats(signal: np.ndarray, sfreq: float, kind: str) -> np.ndarray:
    """Sample indices of R peaks (``kind="ecg"``) or pulse peaks (``"ppg"``), via NeuroKit2."""
    fs = int(round(sfreq))
    x = np.asarray(signal, dtype=float)
    if x.size < 2 * fs:
        return np.zeros(0, dtype=int)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        if kind == "ecg":
            clean = nk.ecg_clean(x, sampling_rate=fs)
            _, info = nk.ecg_peaks(clean, sampling_rate=fs)
            peaks = info["ECG_R_Peaks"]
        elif kind == "ppg":
            clean = nk.ppg_clean(x, sampling_rate=fs)
            peaks = nk.ppg_findpeaks(clean, sampling_rate=fs)["PPG_Peaks"]
        else:
            raise ValueError(f"beats need an ECG or PPG signal, not {kind!r}")
    return np.asarray(peaks, dtype=int)


def drop_extra_beats(times: np.ndarray) -> np.ndarray:
    """Remove detections that split one normal interval in two (e.g. a tall T wave).

    A beat is extra when the interval before it is under 70% of the median
    interval and the two intervals around it add up to within 20% of the
    median: the "extra beat" case of Lipponen & Tarvainen (2019, J Med Eng
    Technol 43:173), which NeuroKit2's ``signal_fixpeaks`` does not catch
    when the extra detections are frequent (they shift the median it uses).
    """
    t = np.asarray(times, dtype=float)
    if t.size < 4:
        return t
    rr = np.diff(t)
    med = float(np.median(rr[rr >= RR_RANGE_S[0]])) if (rr >= RR_RANGE_S[0]).any() else 0.0
    if med <= 0:
        return t
    keep = np.ones(t.size, dtype=bool)
    i = 0
    while i < rr.size - 1:
        if rr[i] < 0.7 * med and abs(rr[i] + rr[i + 1] - med) <= 0.2 * med:
            keep[i + 1] = False
            i += 2
        else:
            i += 1
    return t[keep]


def clean_intervals(times: np.ndarray, gaps: list[Window] | None = None) -> np.ndarray:
    """Intervals (s) between successive beat times, with artefacts set to NaN (see module doc)."""
    rr = np.diff(np.asarray(times, dtype=float))
    if rr.size == 0:
        return rr
    bad = (rr < RR_RANGE_S[0]) | (rr > RR_RANGE_S[1])
    if (~bad).any():
        median = float(np.median(rr[~bad]))
        bad |= np.abs(rr - median) > NN_MAX_DEVIATION * median
    for g0, g1 in gaps or ():
        bad |= (times[:-1] <= g1) & (times[1:] >= g0)
    return np.where(bad, np.nan, rr)


def correct_beats(times: np.ndarray, gaps: list[Window] | None = None) -> tuple[np.ndarray, int]:
    """Kubios-corrected beat times and how many beats were flagged (see module doc).

    NeuroKit2's ``signal_fixpeaks(method="kubios")`` works on sample indices;
    beat times go in as milliseconds at 1000 Hz. Each stretch between holes
    in the data is corrected on its own: a hole is not a run of missed beats.
    """
    t = np.asarray(times, dtype=float)
    if t.size < 2:
        return t, 0
    cuts = [0]
    for g0, g1 in gaps or ():
        inside = np.flatnonzero((t[:-1] <= g1) & (t[1:] >= g0))
        cuts += [int(i) + 1 for i in inside]
    cuts = sorted(set(cuts)) + [t.size]
    parts, flagged = [], 0
    for a, b in zip(cuts[:-1], cuts[1:], strict=True):
        seg = t[a:b]
        if seg.size < 10:  # Kubios needs a local median of 91 beats at most, ~10 at least
            parts.append(seg)
            continue
        ms = np.round((seg - seg[0]) * 1000.0).astype(int)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            try:
                art, fixed = nk.signal_fixpeaks(
                    ms, sampling_rate=1000, method="kubios", iterative=False
                )
            except (ValueError, IndexError):
                parts.append(seg)
                continue
        flagged += sum(len(art.get(k, ())) for k in ("ectopic", "missed", "extra", "longshort"))
        parts.append(seg[0] + np.asarray(fixed, dtype=float) / 1000.0)
    return np.concatenate(parts), flagged


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
    gaps: list[Window] | None = None,
    *,
    correct: bool = False,
    frequency: bool = True,
) -> tuple[dict[str, float | None], dict[str, Window]]:
    """HRV features of the beats at ``times`` (s) falling in ``[start, end]``.

    ``end - start`` is the window length the frequency gates refer to, so a
    caller that has less signal than its nominal window passes the true bounds.
    ``correct`` applies the Kubios beat correction (pulse beats); ``frequency``
    False skips HF/LF (the costly part) and leaves them ``None``. ``hr_fast``
    is the heart rate of the last :data:`FAST_HR_WINDOW_S` seconds alone, so a
    movement earlier in the window does not take it away.
    """
    feats: dict[str, float | None] = dict.fromkeys((*HRV_FEATURES, "hr_fast"))
    windows: dict[str, Window] = {}
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
    ts = _timestamps(x.size, sfreq, t0, timestamps)
    info: dict = {"windows": {}, "n_beats": 0, "nan_share": 0.0, "reason": ""}
    empty = dict.fromkeys(HRV_FEATURES)
    cut = _last_segment(ts, sfreq)
    x, ts = x[cut:], ts[cut:]
    x, share = _fill_nans(x)
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


def eda_window(
    signal: np.ndarray,
    sfreq: float,
    t0: float = 0.0,
    *,
    timestamps: np.ndarray | None = None,
    window_s: float = EDA_WINDOW_S,
) -> tuple[dict[str, float | None], dict]:
    """Tonic level (uS), SCR rate (per min) and mean SCR amplitude (uS) of the last ``window_s`` s.

    Signal before the window (up to :data:`EDA_MARGIN_S`) only warms up the
    filters. ``scr_amp`` is ``None`` when no SCR occurred. Returns
    ``(features, info)`` like :func:`hrv_window`, ``info["n_scr"]`` counting SCRs.
    """
    x = np.asarray(signal, dtype=float).ravel()
    ts = _timestamps(x.size, sfreq, t0, timestamps)
    info: dict = {"windows": {}, "n_scr": 0, "nan_share": 0.0, "reason": ""}
    feats: dict[str, float | None] = dict.fromkeys((*EDA_FEATURES, "scl_fast"))
    cut = _last_segment(ts, sfreq)
    if ts.size:
        cut = max(cut, int(np.searchsorted(ts, ts[-1] - window_s - EDA_MARGIN_S)))
    x, ts = x[cut:], ts[cut:]
    x, share = _fill_nans(x)
    info["nan_share"] = share
    if share > MAX_NAN_SHARE:
        info["reason"] = f"{share:.0%} of EDA samples missing"
        return feats, info
    if x.size == 0 or ts[-1] - ts[0] < min(window_s, 10.0) - 2.0 / sfreq:
        info["reason"] = "less than 10 s of EDA"
        return feats, info
    fs = int(round(sfreq))
    end = float(ts[-1])
    start = max(float(ts[0]), end - window_s)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        clean = nk.eda_clean(x, sampling_rate=fs) if fs >= 8 else x
        parts = nk.eda_phasic(clean, sampling_rate=fs, method="highpass")
        tonic = parts["EDA_Tonic"].to_numpy()
        phasic = parts["EDA_Phasic"].to_numpy()
    # SCRs as NeuroKit2's eda_peaks defines them (a peak of the phasic part, its
    # amplitude measured from the trough before it), found with scipy's find_peaks:
    # nk.eda_findpeaks spends ~0.3 s per window matching onsets in pandas.
    peaks, _ = find_peaks(phasic)
    troughs, _ = find_peaks(-phasic)
    before = np.searchsorted(troughs, peaks) - 1
    has_onset = before >= 0
    peaks, onsets = peaks[has_onset], troughs[before[has_onset]]
    amps = phasic[peaks] - phasic[onsets]
    inside = ts >= start
    keep = (ts[peaks] >= start) & np.isfinite(amps) & (amps >= SCR_MIN_AMPLITUDE_US)
    length = end - start
    feats["scl"] = float(np.mean(tonic[inside]))
    fast0 = max(start, end - FAST_SCL_WINDOW_S)
    feats["scl_fast"] = float(np.mean(tonic[ts >= fast0]))
    feats["scr_rate"] = float(keep.sum()) * 60.0 / length
    feats["scr_amp"] = float(np.mean(amps[keep])) if keep.any() else None
    info["n_scr"] = int(keep.sum())
    bounds = (start, end)
    info["windows"] = {k: bounds for k, v in feats.items() if v is not None}
    info["windows"]["scl_fast"] = (fast0, end)
    return feats, info


def as_frame(features: dict[str, float | None], kind: str = "") -> pd.DataFrame:
    """NeuroKit2-style prefixed one-row DataFrame (``HRV_RMSSD``, ``EDA_SCL``, ...)."""
    row = {}
    for name, value in features.items():
        prefix = "HRV_" if name in HRV_FEATURES else "EDA_"
        if kind:
            prefix = f"{kind.upper()}_{prefix}"
        row[prefix + name.upper()] = np.nan if value is None else value
    return pd.DataFrame([row])
