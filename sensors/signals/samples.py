"""A window's samples made ready for feature code: time stamps, holes, missing values.

Live windows come with one time stamp per sample and may hold a hole (a
reconnected stream) or missing samples (NaN); offline arrays may come with a
start time only. Every feature starts from the newest stretch without a hole
and fills short runs of missing samples by linear interpolation, and gives no
feature at all when more than :data:`MAX_NAN_SHARE` of the window is missing.
"""

from __future__ import annotations

import numpy as np

MAX_NAN_SHARE = 0.1  #: more missing samples than this: no features from the window


def timestamps_for(n: int, sfreq: float, t0: float, timestamps: np.ndarray | None) -> np.ndarray:
    if timestamps is None:
        return t0 + np.arange(n) / sfreq
    ts = np.asarray(timestamps, dtype=float)
    if ts.shape != (n,):
        raise ValueError(f"{len(ts)} timestamps for {n} samples")
    return ts


def fill_nans(x: np.ndarray) -> tuple[np.ndarray, float]:
    """Linearly interpolate missing samples; returns the filled copy and the missing share."""
    finite = np.isfinite(x)
    share = 1.0 - float(finite.mean()) if x.size else 1.0
    if share == 0.0 or share == 1.0:
        return x, share
    idx = np.arange(x.size)
    return np.interp(idx, idx[finite], x[finite]), share


def last_segment(ts: np.ndarray, sfreq: float) -> int:
    """Index where the newest gap-free stretch of samples starts."""
    if ts.size < 2:
        return 0
    gap = max(0.25, 10.0 / sfreq)
    holes = np.flatnonzero(np.diff(ts) > gap)
    return int(holes[-1] + 1) if holes.size else 0
