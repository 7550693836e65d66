"""The session's time base: the LSL clock in the lab, a virtual clock in fast simulations.

Every timestamp the session engine records (decision, task shown, feature use,
phase bounds) comes from one :class:`Clock`, so it lines up with the
physiological streams and with LabRecorder. A simulated study swaps in a
:class:`VirtualClock`: waiting advances the clock instead of sleeping, so a
40-participant study with three-minute calibrations runs in seconds while the
record looks exactly like a real-time one.

The participant screen's widgets take the time as a plain callable
(:data:`ClockFn`, by default :func:`lsl_clock`), so a feature-use event sits on
the axis of the physiological samples and a test can drive a widget with a
fake clock.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from typing import Protocol, runtime_checkable

#: ``now`` in seconds as a plain callable: what a widget of the participant screen reads.
ClockFn = Callable[[], float]


def lsl_clock() -> float:
    """LSL ``local_clock()``: the time base of the streams and the session record."""
    from pylsl import local_clock

    return float(local_clock())


@runtime_checkable
class Clock(Protocol):
    """``now()`` in seconds on the session's time axis; ``wait`` returns early when woken."""

    def now(self) -> float: ...

    def wait(self, seconds: float, wake: threading.Event | None = None) -> bool:
        """Let ``seconds`` pass (or until ``wake`` is set); True when woken early."""
        ...

    def sleep_until(self, t: float, wake: threading.Event | None = None) -> bool:
        """Let time pass until ``now() >= t`` (or until ``wake``); True when woken early."""
        ...


class LSLClock:
    """The LSL ``local_clock()`` with real waiting; the default in the lab."""

    def __init__(self) -> None:
        from pylsl import local_clock

        self._local_clock = local_clock

    def now(self) -> float:
        return float(self._local_clock())

    def wait(self, seconds: float, wake: threading.Event | None = None) -> bool:
        if seconds <= 0:
            return bool(wake is not None and wake.is_set())
        if wake is None:
            time.sleep(seconds)
            return False
        return wake.wait(seconds)

    def sleep_until(self, t: float, wake: threading.Event | None = None) -> bool:
        return self.wait(t - self.now(), wake)


class VirtualClock:
    """A clock that jumps: waiting moves ``now()`` forward at once (fast simulations).

    Time never goes backwards: ``sleep_until`` a past time is a no-op. A set
    ``wake`` event stops a wait before the clock moves, as a real wait would
    end early.
    """

    def __init__(self, start: float = 1000.0):
        self._t = float(start)
        self._lock = threading.Lock()

    def now(self) -> float:
        return self._t

    def advance(self, seconds: float) -> float:
        with self._lock:
            self._t += max(0.0, float(seconds))
            return self._t

    def wait(self, seconds: float, wake: threading.Event | None = None) -> bool:
        if wake is not None and wake.is_set():
            return True
        self.advance(seconds)
        return False

    def sleep_until(self, t: float, wake: threading.Event | None = None) -> bool:
        return self.wait(t - self._t, wake)


class ScaledClock:
    """Session time running ``scale`` times faster than real time (paced simulations).

    ``now()`` starts at ``start`` and advances ``scale`` seconds per real
    second, and waits really sleep (``seconds / scale``), so other processes
    see a session that progresses, can be interrupted, and can be killed at
    any moment, yet a 40-minute session takes seconds.
    """

    def __init__(self, scale: float, start: float | None = None):
        if not scale > 0:
            raise ValueError(f"scale must be positive, got {scale}")
        self.scale = float(scale)
        self._m0 = time.monotonic()
        if start is None:
            from pylsl import local_clock

            start = float(local_clock())
        self._t0 = float(start)

    def now(self) -> float:
        return self._t0 + (time.monotonic() - self._m0) * self.scale

    def wait(self, seconds: float, wake: threading.Event | None = None) -> bool:
        real = max(0.0, seconds) / self.scale
        if wake is None:
            time.sleep(real)
            return False
        return wake.wait(real)

    def sleep_until(self, t: float, wake: threading.Event | None = None) -> bool:
        return self.wait(t - self.now(), wake)
