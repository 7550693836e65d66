"""The demo's simulated sensors in a child process, whose body follows the session phases.

Why a process, and what the app may ask of it: :class:`SimulatorProcess`.
"""

from __future__ import annotations

import contextlib
import threading

from sensors.simulate.phases import PhaseFollowingSchedule


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
        # imported here, in the child only: the app's process never loads NeuroKit2 for it
        from sensors.simulate.outlets import SimulatedSensors

        sim = SimulatedSensors(seed=seed, schedule=PhaseFollowingSchedule(), **options)
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
