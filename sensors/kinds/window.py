"""One kind's samples as every stage hands them on: values, time stamps, nominal rate.

The feature pipeline reads a window of each stream per update, the offline
simulator and the file readers produce whole recordings, and the replay cuts
those into the windows the pipeline would have read live. All of them pass
the same three things, so they pass one type. It is a named tuple so that
``data, times, sfreq = window`` reads it, and a plain ``(data, times, sfreq)``
tuple (a caller's own arrays) is accepted wherever a window is.
"""

from __future__ import annotations

from typing import NamedTuple

import numpy as np

Span = tuple[float, float]  #: (start, end) in seconds, on the clock of the time stamps


class SignalWindow(NamedTuple):
    """Samples of one signal kind, oldest first.

    ``data``: values in the kind's unit (:mod:`sensors.kinds.units`);
    ``times``: one time stamp per sample (s; the local LSL clock live, the
    recording's own time offline); ``sfreq``: the nominal sampling rate (Hz),
    0 for an irregular stream (one interval per beat).
    """

    data: np.ndarray
    times: np.ndarray
    sfreq: float
