"""Own one session for the desktop app: store, engine, sensors, participant screen.

The console (:mod:`ui.console`) collects the set-up and calls :class:`LabSessionHost`;
the host builds the pieces from the layers below (``labmrt.store``,
``labmrt.session``, ``sensors``), runs the engine on its own thread, and
forwards the engine's signals through one :class:`~ui.session.bridge.EngineBridge`.
The participant starts the session themselves from the instruction screen,
so nothing happens on their screen before they are ready.
"""

from __future__ import annotations

import logging
import socket
import threading
from collections.abc import Callable
from pathlib import Path
from typing import Any

from PySide6.QtCore import QObject

from labmrt.errors import LabmrtError, Problem
from labmrt.session.display import instructions
from ui.participant import ParticipantWindow
from ui.session.bridge import EngineBridge
from ui.session.presenter import QtPresenter
from ui.widgets import run_in_background

log = logging.getLogger(__name__)


class LabSessionHost(QObject):
    """Implements the console's ``SessionHost`` for real (or simulated) sensors."""

    def __init__(
        self,
        participant_window: ParticipantWindow,
        *,
        monitor_factory: Callable[[list, Any], Any] | None = None,
        simulator_factory: Callable[[], Any] | None = None,
        markers: bool = True,
        parent=None,
    ):
        super().__init__(parent)
        self.window = participant_window
        self.bridge = EngineBridge(self)
        self.presenter = QtPresenter(participant_window)
        self._monitor_factory = monitor_factory or default_monitor
        self._simulator_factory = simulator_factory or default_simulator
        self._markers = markers
        self.markers = None  # the workstation's marker outlet, for every session
        self.station = socket.gethostname()
        self.engine = None
        self.store = None
        self.monitor = None
        self.simulator = None
        self.recorder = None
        self.labrecorder = None  # labmrt.recording.LabRecorderControl of the session, if any
        self.stream_info: list[dict] = []
        self.connected_pins: dict = {}  # the [sensors.pins] the streams were connected under
        self.study_dir: Path | None = None
        self._waiting_for_participant = False
        self._started = False
        # Held for the whole stop (a join of up to 5 s and the last copy): a second caller
        # waits for the tail to be written instead of counting samples before it is.
        self._recording_lock = threading.Lock()
        self._stop_job = None
        self._start_job = None
        self._starting = False
        self._shut_down = False
        # The first session's software record reads every installed distribution's
        # metadata (about a second); read it now, off the GUI thread, not at Start.
        self._warm_up = run_in_background(_software_versions)
        self.window.proceeded.connect(self._participant_ready)
        self.bridge.ended.connect(self._on_ended)
        self.bridge.phase_started.connect(self._on_phase)

    # ------------------------------------------------------------------ state
    @property
    def active(self) -> bool:
        if self._starting:
            return True
        return self.engine is not None and self.engine.status not in (
            "completed",
            "aborted",
            "failed",
        )

    # ------------------------------------------------------------------ markers
    def open_markers(self) -> Any:
        """This workstation's marker stream (``labmrt-markers-HOST``), opened once.

        The app opens it with its windows, before any session, so LabRecorder can
        list it and record from the first marker of the first session on.
        """
        if self._markers and self.markers is None:
            from labmrt.session.markers import station_outlet

            self.markers = station_outlet(self.station)
        return self.markers

    # ------------------------------------------------------------------ sensors
    def start_simulated_sensors(self) -> list:
        """Start simulated ECG/EDA outlets in this process; return their stream descriptions."""
        from sensors.acquire import find_stream

        if self.simulator is None:
            self.simulator = self._simulator_factory()
            self.simulator.start()
        found = []
        for row in self.simulator.streams:
            if row["kind"] == "truth":
                continue
            desc = find_stream(source_id=str(row["source_id"]), timeout=5.0)
            if desc is None:
                raise LabmrtError(
                    Problem(str(row["name"]), "the simulated stream did not appear on LSL")
                )
            found.append(desc)
        return found

    def connect_streams(self, descriptions: list, protocol: Any = None) -> tuple[list, Any]:
        """Connect the chosen streams through the live monitor; (buffers, state getter).

        ``protocol``: the protocol chosen, when its ``[sensors.pins]`` must pick
        the channels (a missing pinned stream or channel fails here, with the
        pin named); the pins are remembered so a session is not started with
        streams connected under other pins.
        """
        if self.active:
            raise LabmrtError(Problem("streams", "cannot change streams during a session"))
        if self.monitor is not None:
            self.monitor.stop()
            self.monitor = None
        self.monitor = self._monitor_factory(descriptions, protocol)
        self.connected_pins = _pins_of(protocol)
        self.monitor.start()
        self.stream_info = [d.as_row() for d in descriptions if hasattr(d, "as_row")]
        buffers = self.monitor.buffers
        return list(buffers.values()) if isinstance(buffers, dict) else list(buffers), (
            self.monitor.current_state
        )

    # ------------------------------------------------------------------ session
    def start(self, setup: dict[str, Any]) -> None:
        """Open the store, create the engine and show the instructions (blocks: disk I/O)."""
        self._check_streams(setup)
        self.close_store()
        self._launch(setup, *self._open_session(setup))

    def start_in_background(
        self,
        setup: dict[str, Any],
        on_started: Callable[[], None],
        on_failed: Callable[[str, str], None],
    ) -> None:
        """:meth:`start`, with the store and the engine created on a pool thread.

        Opening (or creating) the study database and the session row writes to
        disk with ``synchronous=FULL``: a fraction of a second on the GUI thread
        otherwise. The host counts as active from the call on, so a second Start
        is refused while the first is under way.
        """
        self._check_streams(setup)
        self.close_store()
        self._starting, self._shut_down = True, False

        def opened(result: tuple) -> None:
            self._starting = False
            if self._shut_down:  # the app closed meanwhile: the session row stays resumable
                result[0].close()
                return
            self._launch(setup, *result)
            on_started()

        def failed(message: str, details: str) -> None:
            self._starting = False
            on_failed(message, details)

        self._start_job = run_in_background(
            self._open_session, setup, on_done=opened, on_error=failed
        )

    def _check_streams(self, setup: dict[str, Any]) -> None:
        from labmrt.recording import RecorderSettings

        protocol = setup["protocol"]
        # a bad LabRecorder address fails the start here, before anything is written
        setup["recorder_settings"] = RecorderSettings.of(protocol, setup.get("labrecorder", ""))
        needs = protocol.sensors.streams if protocol.sensors else []
        if needs and self.monitor is None:
            raise LabmrtError(
                Problem(
                    "streams",
                    f"the protocol expects {', '.join(k.upper() for k in needs)} streams",
                    "connect the streams (or start simulated sensors) first",
                )
            )
        pins = _pins_of(protocol)
        if pins and self.simulator is None and self.connected_pins != pins:
            raise LabmrtError(
                Problem(
                    "streams",
                    "the protocol pins " + ", ".join(k.upper() for k in pins) + " to named "
                    "channels, but the streams were connected without those pins",
                    "connect the streams again with this protocol chosen",
                )
            )

    def _open_session(self, setup: dict[str, Any]) -> tuple[Any, Any]:
        """The study store and a new (or resumed) engine; touches no widget (any thread)."""
        from labmrt.session import SessionEngine
        from labmrt.store import StudyStore

        protocol = setup["protocol"]
        store = StudyStore.open(Path(setup["study_dir"]), create=True)
        kwargs = dict(
            state_source=self.monitor,
            markers=self.open_markers(),
            streams=self.stream_info or None,
            workstation=self.station,
        )
        try:
            if setup.get("resume_of") is not None:
                engine = SessionEngine.resume_interrupted(
                    protocol, store, setup["participant"], self.presenter, **kwargs
                )
            else:
                engine = SessionEngine(
                    protocol, store, setup["participant"], self.presenter, **kwargs
                )
        except BaseException:
            store.close()
            raise
        return store, engine

    def _launch(self, setup: dict[str, Any], store: Any, engine: Any) -> None:
        """On the GUI thread: keep the store, start recording, show the instructions."""
        self.study_dir = Path(setup["study_dir"])
        self.store = store
        if self.monitor is not None:
            from sensors.acquire import SampleRecorder

            self.recorder = SampleRecorder(self.monitor.buffers, self.store, engine.session_id)
            self.recorder.start()
        self.engine = engine
        self._start_labrecorder(setup, store, engine)
        self.presenter.reporter = engine.record_event
        self.bridge.attach(engine.signals)
        self._started = False
        self._waiting_for_participant = True
        self.window.show_instructions(instructions(setup["protocol"]))

    def _start_labrecorder(self, setup: dict[str, Any], store: Any, engine: Any) -> None:
        """LabRecorder, when the protocol or the console names one (stops at the session's end)."""
        from labmrt.recording import start_for_session

        self.stop_labrecorder()
        settings = setup.get("recorder_settings")
        if settings is not None:
            self.labrecorder = start_for_session(
                settings,
                store,
                engine,
                task=Path(setup["study_dir"]).resolve().name,
                recover=setup.get("resume_of") is not None,
            )

    def recording_alerts(self) -> list[str]:
        """What went wrong with LabRecorder in this session (the console shows it)."""
        return list(self.labrecorder.alerts) if self.labrecorder is not None else []

    def stop_labrecorder(self) -> None:
        if self.labrecorder is not None:
            self.labrecorder.stop("closed")

    def _participant_ready(self) -> None:
        if self._waiting_for_participant and self.engine is not None and not self._started:
            self._waiting_for_participant = False
            self._started = True
            self.engine.start()

    def pause(self) -> None:
        if self.engine is not None:
            self.engine.pause("paused by the experimenter")

    def resume(self) -> None:
        if self.engine is not None:
            self.engine.resume()

    def abort(self, reason: str) -> None:
        if self.engine is None:
            return
        self.engine.abort(reason)
        if not self._started:
            # The participant never pressed Start: run the engine so it records the abort.
            self._waiting_for_participant = False
            self._started = True
            self.engine.start()

    def interrupt(self) -> None:
        """The app closes mid-session: stop where we are; the session stays resumable."""
        self.presenter.close()
        self.engine = None
        self.shutdown()

    def calibration_problem(self) -> str | None:
        """Why the classifier could not be fitted on this session's calibration, if it failed."""
        return getattr(self.engine, "calibration_error", None)

    def calibration_summary(self) -> dict | None:
        """How well this session's calibration separated rest from stressor, with warnings."""
        return getattr(self.engine, "calibration", None)

    def summary(self) -> dict[str, Any]:
        """What the session wrote; stops the recorder first, so call it off the GUI thread."""
        engine, store = self.engine, self.store
        if engine is None or store is None:
            return {}
        sid = engine.session_id
        self.stop_recording()  # flush the last raw samples before counting
        store.flush()
        written = {
            "decisions": len(store.decisions(sid)),
            "task presentations": len(store.presentations(sid)),
            "feature events": len(store.events(sid)),
            "state readings": len(store.states(sid)),
        }
        try:
            streams = store.sample_streams(sid)
            for row in streams.itertuples(index=False):
                written[f"{row.kind} samples"] = int(getattr(row, "n_samples", 0) or 0)
        except Exception:  # noqa: BLE001 - the summary must not fail on an optional count
            log.exception("could not count samples")
        return {
            "participant": engine.participant,
            "session": sid,
            "study_dir": str(self.study_dir),
            "written": written,
        }

    def interrupted_sessions(self, study_dir: Path) -> list[Any]:
        from labmrt.store import DB_NAME, StudyStore

        if not (Path(study_dir) / DB_NAME).is_file():
            return []
        with StudyStore.open(study_dir, readonly=True) as store:
            return store.interrupted_sessions()

    def _on_ended(self, status: str, reason: str) -> None:
        # The recorder's stop joins its thread (up to 5 s) and copies the tail to
        # SQLite: on a pool thread, so the console stays live while it finishes.
        self._stop_job = run_in_background(self.stop_recording)

    def stop_recording(self) -> None:
        """Stop the raw-sample recorder and write its last samples (blocks; any thread)."""
        with self._recording_lock:
            recorder, self.recorder = self.recorder, None
            if recorder is not None:
                recorder.stop()

    def _on_phase(self, phase: str, t: float, duration_s) -> None:
        """Simulated sensors: let the simulated body follow the phase (calm, stressed, …)."""
        schedule = getattr(self.simulator, "schedule", None)
        t0 = getattr(self.simulator, "t0", None)
        if t0 is not None and hasattr(schedule, "follow"):
            schedule.follow(phase, max(0.0, t - t0))

    # ------------------------------------------------------------------ teardown
    def close_store(self) -> None:
        if self.store is not None:
            try:
                self.store.close()
            finally:
                self.store = None

    def shutdown(self) -> None:
        """Stop sensors and close the store (app exit)."""
        self._shut_down = True
        if self.engine is not None and self.active:
            self.presenter.close()
        self.stop_labrecorder()
        self.stop_recording()
        if self.monitor is not None:
            self.monitor.stop()
            self.monitor = None
        if self.simulator is not None:
            self.simulator.stop()
            self.simulator = None
        if self.markers is not None:
            self.markers.close()
            self.markers = None
        if self.engine is None or not self.active:
            self.close_store()


def _software_versions() -> dict:
    from labmrt.store.provenance import software_versions

    return software_versions()


def default_simulator(seed: int = 0):
    """Simulated ECG + EDA in a child process, its body following the session phases.

    See :mod:`sensors.simulate.process`: generating the signals in the app's process would
    compete with the GUI thread for the GIL.
    """
    import uuid

    from sensors.simulate import DEMO_HEART_RATE, SimulatorProcess

    return SimulatorProcess(
        seed=seed,
        ecg=True,
        eda=True,
        name_prefix=f"labmrt-sim-{uuid.uuid4().hex[:6]}",
        lead_s=3.0,
        **DEMO_HEART_RATE,
    )


def _pins_of(protocol: Any) -> dict:
    """The protocol's ``[sensors.pins]`` (empty without a protocol or pins)."""
    sensors = getattr(protocol, "sensors", None)
    return dict(getattr(sensors, "pins", None) or {})


def default_monitor(descriptions: list, protocol: Any):
    from sensors.state import monitor_for_protocol

    return monitor_for_protocol(descriptions, protocol)
