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
  rest, aroused for the stressor, then two minutes calm and one and a half
  aroused, in turn, through the tasks. The simulator reads the schedule a few
  seconds ahead, so the body turns around within seconds of each phase change.
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


#: The demo's body over its task block: calm this long, then aroused (:data:`DEMO_AROUSED_S`),
#: and again. The stretches are long next to the monitor's lag (skin conductance takes about
#: a minute to recover, the feature windows are up to 40 s), so a ten-minute demo shows
#: decision points in both states.
DEMO_CALM_S = 120.0
#: How long each aroused stretch of the demo's task block lasts (s).
DEMO_AROUSED_S = 90.0
#: The demo body's heart rate (bpm ranges, calm and aroused): a rise of about 14 bpm
#: separates the states, and the intervals of the change stay within 30 % of a window's
#: median, the artefact rule of :mod:`sensors.signals.beats`. A 30 bpm jump (the
#: simulator's default ranges) breaks that rule for every window that spans the change,
#: and the heart features drop out ("too few clean beats") for up to a minute.
DEMO_HEART_RATE = {"hr_calm": (62.0, 68.0), "hr_aroused": (76.0, 84.0)}


class PhaseFollowingSchedule(ArousalSchedule):
    """An arousal schedule that grows at run time (``switch``); starts calm.

    The task block alternates ``calm_s`` of calm and ``aroused_s`` of arousal, calm first
    (the body settles after the stressor), the same in every demo, so what the console
    shows can be told in advance (the demo walk-through does).
    """

    def __init__(self, calm_s: float = DEMO_CALM_S, aroused_s: float = DEMO_AROUSED_S):
        super().__init__([(0.0, "calm")])
        self.calm_s, self.aroused_s = float(calm_s), float(aroused_s)
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

    def alternate_from(self, at_s: float, duration_s: float = 4 * 3600.0) -> None:
        """From ``at_s`` on, ``calm_s`` calm and ``aroused_s`` aroused, in turn (the task block)."""
        with self._grow:
            kept = [seg for seg in self.segments if seg[0] < at_s]
            t, state = float(at_s), "calm"
            while t < at_s + duration_s:
                if not kept or kept[-1][1] != state:
                    kept.append((t, state))
                t += self.calm_s if state == "calm" else self.aroused_s
                state = "aroused" if state == "calm" else "calm"
            self._replace(kept)

    def follow(self, phase: str, at_s: float) -> None:
        """Apply the session phase that just began ``at_s`` seconds after the simulator start."""
        if phase == "rest":
            self.switch("calm", at_s)
        elif phase == "stressor":
            self.switch("aroused", at_s)
        elif phase == "task":
            self.alternate_from(at_s)
