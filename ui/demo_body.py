"""A simulated participant's body that follows the session: calm at rest, aroused under stress.

With simulated sensors, the affective state must change when the calibration
says it should, or the classifier learns nothing. Real bodies do that on
their own; the simulated one is told: :class:`PhaseFollowingSchedule` is an
:class:`~sensors.schedule.ArousalSchedule` that the app extends as the phases
begin (calm for the rest, aroused for the stressor, then a random calm/aroused
script), so the simulator (which reads the schedule a few seconds ahead) turns
the body around within seconds of each phase change.
"""

from __future__ import annotations

import threading

from sensors.schedule import ArousalSchedule


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
