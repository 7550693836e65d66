"""Arousal schedules that follow a session's phases, so a simulated body calibrates right.

With simulated sensors, the affective state must change when the calibration
says it should, or the classifier learns nothing. Real bodies do that on
their own; the simulated one is told, in one of two ways:

* :func:`calibration_schedule` plans the whole script ahead from the
  protocol: calm through the rest, aroused through the stressor, then a
  random script (``labmrt run --simulated-sensors``, ``labmrt simulate
  --realtime``, where the session's timing is known in advance);
* :class:`PhaseFollowingSchedule` grows at run time as the app announces
  each phase (the demo, whose participant takes their own time): calm for the
  rest, aroused for the stressor, then a random calm/aroused script. The
  simulator reads the schedule a few seconds ahead, so the body turns around
  within seconds of each phase change.
"""

from __future__ import annotations

import threading
from typing import Any

from sensors.simulate.schedule import ArousalSchedule


def calibration_schedule(protocol: Any, seed: int, mean_segment_s: float, lead_s: float = 5.0):
    """Calm through the rest, aroused through the stressor, then a random script.

    So the monitor calibrates on what it should: the simulated participant's
    arousal is placed where the protocol has its calibration phases.
    """
    cal = protocol.calibration
    rest = 0.0 if cal is None else cal.rest_s
    stress = 0.0 if cal is None else cal.stressor_s
    segments: list[tuple[float, str]] = [(0.0, "calm")]
    t = lead_s + rest
    if stress > 0:
        segments.append((t, "aroused"))
        t += stress
    tail = ArousalSchedule.random(seed, 4 * 3600.0, mean_segment_s)
    for start, state in tail.segments:
        if start == 0.0 and state == segments[-1][1]:
            continue
        if start == 0.0:
            segments.append((t, state))
        else:
            segments.append((t + start, state))
    merged = [segments[0]]
    for start, state in segments[1:]:
        if state != merged[-1][1] and start > merged[-1][0]:
            merged.append((start, state))
    return ArousalSchedule(merged)


class PhaseFollowingSchedule(ArousalSchedule):
    """An arousal schedule that grows at run time (``switch``); starts calm."""

    def __init__(self, seed: int = 0, mean_segment_s: float = 90.0):
        super().__init__([(0.0, "calm")])
        self._seed = seed
        self._mean_segment_s = mean_segment_s
        self._grow = threading.Lock()

    def _replace(self, segments: list[tuple[float, str]]) -> None:
        # Readers (the simulator's threads) see either the old or the new tuple, never a mix.
        object.__setattr__(self, "segments", tuple(segments))
        object.__setattr__(self, "_starts", [s for s, _ in segments])

    def switch(self, state: str, at_s: float) -> None:
        """From ``at_s`` seconds after the simulator's start on, the body is ``state``."""
        with self._grow:
            kept = [seg for seg in self.segments if seg[0] < at_s]
            if kept and kept[-1][1] == state:
                self._replace(kept)
            else:
                self._replace([*kept, (float(at_s), state)])

    def random_from(self, at_s: float) -> None:
        """From ``at_s`` on, alternate calm and aroused at random (the task block)."""
        tail = ArousalSchedule.random(self._seed, 4 * 3600.0, self._mean_segment_s)
        with self._grow:
            kept = [seg for seg in self.segments if seg[0] < at_s]
            for start, state in tail.segments:
                if not kept or kept[-1][1] != state:
                    kept.append((float(at_s + start), state))
            self._replace(kept)

    def follow(self, phase: str, at_s: float) -> None:
        """Apply the session phase that just began ``at_s`` seconds after the simulator start."""
        if phase == "rest":
            self.switch("calm", at_s)
        elif phase == "stressor":
            self.switch("aroused", at_s)
        elif phase == "task":
            self.random_from(at_s)
