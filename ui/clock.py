"""The clock every participant-screen timestamp comes from.

Feature-use events and task timings must sit on the same time axis as the
physiological samples, so the default is the LSL clock. Widgets take the clock
as a plain callable so tests can drive them with a fake one.
"""

from __future__ import annotations

from collections.abc import Callable

Clock = Callable[[], float]


def lsl_clock() -> float:
    """LSL ``local_clock()``: the time base of the streams and the session record."""
    from pylsl import local_clock

    return float(local_clock())
