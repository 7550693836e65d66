"""Simulated sensors in a child process; the body follows the session (calm at rest, stressed).

With simulated sensors, the affective state must change when the calibration
says it should, or the classifier learns nothing. Real bodies do that on
their own; the simulated one is told: :class:`PhaseFollowingSchedule` is an
:class:`~sensors.schedule.ArousalSchedule` that the app extends as the phases
begin (calm for the rest, aroused for the stressor, then a random calm/aroused
script), so the simulator (which reads the schedule a few seconds ahead) turns
the body around within seconds of each phase change.
"""

from __future__ import annotations

import contextlib
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


class _RemoteSchedule:
    """The child's :class:`PhaseFollowingSchedule`, as far as the app uses it: ``follow``."""

    def __init__(self, process: SimulatorProcess):
        self._process = process

    def follow(self, phase: str, at_s: float) -> None:
        self._process.send("follow", phase, float(at_s))


class SimulatorProcess:
    """Simulated ECG + EDA outlets in a child process, whose body follows the session phases.

    Generating the signals (NeuroKit2's ECGSYN solves an ODE in Python) runs in
    bursts of pure Python; in the app's own process each burst would hold the
    GIL against the GUI thread, so the demo's sensors live in a child process,
    like real sensors that stream from their own program. It offers what the
    session host uses of :class:`~sensors.simulate.SimulatedSensors`:
    ``start``, ``stop``, ``streams``, ``t0`` (on the LSL clock, shared by the
    processes of one machine) and ``schedule.follow``.
    """

    def __init__(self, seed: int = 0, *, start_timeout_s: float = 60.0, **options):
        self.seed = int(seed)
        self.options = options
        self.start_timeout_s = start_timeout_s
        self.streams: list[dict] = []
        self.t0: float | None = None
        self.schedule = _RemoteSchedule(self)
        self._process = None
        self._conn = None
        self._send_lock = threading.Lock()

    def start(self) -> SimulatorProcess:
        import multiprocessing

        from labmrt.errors import LabmrtError, Problem

        # spawn, not fork: the app has threads (Qt, LSL) that a fork would copy mid-state
        context = multiprocessing.get_context("spawn")
        self._conn, child_end = context.Pipe()
        self._process = context.Process(
            target=_run_simulator,
            args=(child_end, self.seed, self.options),
            name="labmrt-simulated-sensors",
            daemon=True,  # ends with the app, whatever way the app ends
        )
        self._process.start()
        child_end.close()
        reply = None
        if self._conn.poll(self.start_timeout_s):
            try:
                reply = self._conn.recv()
            except EOFError:
                reply = None
        if not reply or reply[0] != "ready":
            self.stop()
            why = reply[1] if reply else "it did not answer"
            raise LabmrtError(
                Problem(
                    "simulated sensors",
                    f"the simulator process did not start ({why})",
                    "see the log; real sensors can be connected instead",
                )
            )
        _, self.streams, self.t0 = reply
        return self

    def send(self, *message) -> None:
        with self._send_lock:
            if self._conn is None:
                return
            # the child may have gone: its streams then show as lost in the console
            with contextlib.suppress(OSError, ValueError):
                self._conn.send(message)

    def stop(self) -> None:
        self.send("stop")
        process, self._process = self._process, None
        if process is not None:
            process.join(timeout=5.0)
            if process.is_alive():
                process.terminate()
                process.join(timeout=2.0)
        with self._send_lock:
            if self._conn is not None:
                self._conn.close()
                self._conn = None

    @property
    def running(self) -> bool:
        return self._process is not None and self._process.is_alive()


def _run_simulator(conn, seed: int, options: dict) -> None:
    """The child process: stream until told to stop or until the app's end of the pipe closes."""
    try:
        from sensors.simulate import SimulatedSensors

        sim = SimulatedSensors(seed=seed, schedule=PhaseFollowingSchedule(seed), **options)
        sim.start()
    except Exception as err:  # noqa: BLE001 - reported to the app as text
        conn.send(("failed", f"{type(err).__name__}: {err}"))
        return
    try:
        conn.send(("ready", sim.streams, sim.t0))
        while True:
            message = conn.recv()  # EOFError when the app is gone
            if message[0] == "follow":
                sim.schedule.follow(message[1], message[2])
            elif message[0] == "stop":
                break
    except (EOFError, OSError):
        pass
    finally:
        sim.stop()
