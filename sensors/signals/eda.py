"""Skin-conductance features of a sliding window, via NeuroKit2.

``eda_clean`` (3 Hz low-pass), ``eda_phasic`` (high-pass split at 0.05 Hz into
tonic and phasic parts) run on the window plus up to :data:`EDA_MARGIN_S`
seconds before it (filter warm-up). SCRs count only when their peak lies in
the window and their amplitude reaches :data:`SCR_MIN_AMPLITUDE_US` (the
0.05 uS criterion common in the literature, Boucsein et al. 2012,
Psychophysiology 49:1017); NeuroKit2's own threshold is relative to the
largest response and would count noise in a quiet window. ``scl_fast``, the
tonic level of the last :data:`FAST_SCL_WINDOW_S` s, follows a change within
seconds, where the window's mean would lag it.

Features are plain ``dict[str, float | None]`` (``scl``, ``scl_fast``,
``scr_rate``, ``scr_amp``), each with the ``(start, end)`` window it was
computed on.
"""

from __future__ import annotations

import warnings

import neurokit2 as nk
import numpy as np
from scipy.signal import find_peaks

from sensors.signals.samples import MAX_NAN_SHARE, fill_nans, last_segment, timestamps_for

#: Length of the skin-conductance window (s).
EDA_WINDOW_S = 30.0
#: Seconds before the window the filters warm up on (their output there is not used).
EDA_MARGIN_S = 10.0
#: Smallest skin-conductance response counted (uS; Boucsein et al. 2012).
SCR_MIN_AMPLITUDE_US = 0.05
#: The last seconds whose tonic level is ``scl_fast``.
FAST_SCL_WINDOW_S = 10.0
#: The skin-conductance features of a window.
EDA_FEATURES: tuple[str, ...] = ("scl", "scr_rate", "scr_amp")


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
    ``(features, info)`` like :func:`~sensors.signals.hrv.hrv_window`, ``info["n_scr"]`` counting SCRs.
    """
    x = np.asarray(signal, dtype=float).ravel()
    ts = timestamps_for(x.size, sfreq, t0, timestamps)
    info: dict = {"windows": {}, "n_scr": 0, "nan_share": 0.0, "reason": ""}
    feats: dict[str, float | None] = dict.fromkeys((*EDA_FEATURES, "scl_fast"))
    cut = last_segment(ts, sfreq)
    if ts.size:
        cut = max(cut, int(np.searchsorted(ts, ts[-1] - window_s - EDA_MARGIN_S)))
    x, ts = x[cut:], ts[cut:]
    x, share = fill_nans(x)
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
