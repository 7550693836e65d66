"""Heartbeats of an ECG or PPG signal, and the intervals between them that HRV may use.

* **Beats** come from NeuroKit2 (``ecg_clean`` + ``ecg_peaks`` for ECG,
  ``ppg_clean`` + ``ppg_findpeaks`` for PPG) on the whole signal handed in,
  and the HRV window is its last ``window_s`` seconds, so the filters have
  settled before the window starts.
* **Extra detections** that split one interval in two (tall T waves at slow
  heart rates) are dropped first (:func:`drop_extra_beats`).
* **Intervals** shorter than 0.3 s or longer than 2.0 s (200-30 bpm), more
  than :data:`NN_MAX_DEVIATION` away from the window's median interval, or
  spanning a hole in the timestamps, are artefacts, not normal-to-normal
  intervals; they are passed on as missing, so that HRV uses successive
  pairs only (RMSSD) and never bridges a gap.
* **Pulse beats** (PPG) are corrected before any interval is used, with the
  Kubios method of Lipponen & Tarvainen (2019, J Med Eng Technol 43:173) as
  NeuroKit2's ``signal_fixpeaks`` implements it: missed, extra and ectopic
  detections (a wrist sensor while the hand writes or the person talks) are
  replaced by interpolated beats (:func:`correct_beats`).
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass

import neurokit2 as nk
import numpy as np

from sensors.kinds import Span

RR_RANGE_S = (0.3, 2.0)
NN_MAX_DEVIATION = 0.3  #: relative to the window's median interval


@dataclass(frozen=True)
class Beats:
    """Detected beats of one signal: sample indices and their timestamps."""

    indices: np.ndarray
    times: np.ndarray


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


def clean_intervals(times: np.ndarray, gaps: list[Span] | None = None) -> np.ndarray:
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


def correct_beats(times: np.ndarray, gaps: list[Span] | None = None) -> tuple[np.ndarray, int]:
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
