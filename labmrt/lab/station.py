"""A workstation of a lab: runs sessions on the console's command and says how they go.

The station records into its own store (``STUDY/stations/NAME``), exactly as
a single labmrt app does, so a session it has started goes on and finishes
when the network or the console goes away; commands only start, pause,
resume or abort. Every received message passes the
:class:`labmrt.lab.wire.CommandGate` first; refused ones are appended to
``commands.log`` in the station folder with the reason (bounded in size and
rate, rotated: :mod:`labmrt.lab.logbook`), accepted ones always (with ``ok``
and the error, if any), so the folder tells afterwards who commanded what.
The highest sequence number run is kept in ``last_seq`` (written before the
command runs), so a command recorded off the network cannot be played back
after the station restarts either. ``station.json`` holds the folder's random
``folder_id``, which commands must name.

No message stops the station: each is handled on its own, and whatever goes
wrong with one (or with a heartbeat) is logged, briefly and at a bounded
rate, and the loop goes on.

Starting a participant whose session on this station was interrupted (the
station was killed, the machine lost power) resumes that session, as
``labmrt run --resume`` does: same random stream, next task.

How a session is made (who the participant is, where the affective state
comes from, which sensors are recorded) is the caller's: ``factory(code,
store, resume)`` returns the engine and a list of clean-up calls. This keeps
the station free of sensors and screens; ``labmrt station`` wires them.
"""

from __future__ import annotations

import json
import logging
import threading
import time
import uuid
from collections.abc import Callable
from dataclasses import asdict, is_dataclass
from typing import Any

from labmrt.errors import LabmrtError
from labmrt.lab.envelope import Header, Sealer
from labmrt.lab.heartbeat import heartbeat_body
from labmrt.lab.logbook import CommandLog, RateLimit
from labmrt.lab.study import LabStudy
from labmrt.lab.wire import Command, CommandGate
from labmrt.store import StudyStore
from labmrt.store.merge import STATION_FILE

log = logging.getLogger(__name__)

HEARTBEAT_S = 1.0
SEQ_FILE = "last_seq"
LOG_FILE = "commands.log"
EngineFactory = Callable[[str, Any, bool], tuple[Any, list[Callable[[], None]]]]


def folder_identity(folder, name: str, study_id: str) -> str:
    """The station folder's random id (``station.json``), created with the folder."""
    meta = folder / STATION_FILE
    try:
        doc = json.loads(meta.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        doc = None
    if not isinstance(doc, dict):
        doc = {"name": name, "study_id": study_id}
    folder_id = doc.get("folder_id")
    if isinstance(folder_id, str) and len(folder_id) == 32:
        return folder_id
    doc["folder_id"] = uuid.uuid4().hex
    tmp = meta.with_suffix(".tmp")
    tmp.write_text(json.dumps(doc) + "\n", encoding="utf-8")
    tmp.replace(meta)
    return doc["folder_id"]


class Station:
    """One station (see the module docstring); drive it with :meth:`tick` or :meth:`serve`."""

    def __init__(
        self,
        study: LabStudy,
        name: str,
        factory: EngineFactory,
        link: Any,
        *,
        heartbeat_s: float = HEARTBEAT_S,
        sensors: Any = None,
        labrecorder: Any = None,
    ):
        self.study = study
        self.name = name
        self.dir = study.station_dir(name)
        self.dir.mkdir(parents=True, exist_ok=True)
        self.folder_id = folder_identity(self.dir, name, study.study_id)
        self.protocol = study.load_protocol()
        self.store = StudyStore.open(self.dir, create=True)
        self.factory = factory
        self.link = link
        self.heartbeat_s = heartbeat_s
        # the station's own sensors, read between sessions too (electrodes checked before a start)
        self.sensors = sensors
        # LabRecorder started and stopped with every session (labmrt.recording.RecorderSettings)
        self.labrecorder = labrecorder
        secret = study.secret()
        self.sealer = Sealer(secret, study.study_id)
        self.commands_log = CommandLog(self.dir / LOG_FILE)
        self.gate = CommandGate(
            study.study_id, secret, name, log=self._log_refused, folder=self.folder_id
        )
        self.gate.last_seq = self._saved_seq()
        self.engine: Any = None
        self._cleanup: list[Callable[[], None]] = []
        self._lock = threading.Lock()
        self._beat = 0
        self._status_seq = 0
        self._next_beat = 0.0
        self._status: dict[str, Any] = {"status": "idle", "participant": "", "phase": ""}
        self._warnings: list[str] = []
        self._last_result: tuple[int | None, bool, str] = (None, True, "")
        self._errors = RateLimit(per_s=0.2, burst=5)

    # ------------------------------------------------------------------ the command log
    def _saved_seq(self) -> int:
        """The highest sequence number run before, so a restart does not reopen old ones."""
        try:
            return int((self.dir / SEQ_FILE).read_text(encoding="ascii").strip())
        except (OSError, ValueError):
            return 0

    def _save_seq(self, seq: int) -> None:
        tmp = self.dir / (SEQ_FILE + ".tmp")
        tmp.write_text(f"{seq}\n", encoding="ascii")
        tmp.replace(self.dir / SEQ_FILE)

    def _log_refused(self, reason: str, what: dict[str, Any]) -> None:
        if self.commands_log.refused(reason, what):
            log.warning("station %s refused a message (%s)", self.name, reason)

    def _trouble(self, what: str) -> None:
        """Something went wrong in the loop: logged (at a bounded rate), and the loop goes on."""
        if self._errors.allow()[0]:
            log.exception("station %s: %s", self.name, what)

    # ------------------------------------------------------------------ the loop
    def serve(self, stop: threading.Event, tick_s: float = 0.05) -> None:
        """Obey commands and beat until ``stop`` is set; the session goes on alone after."""
        while not stop.is_set():
            try:
                self.tick()
            except Exception:  # noqa: BLE001 - no message, stream or sensor stops the station
                self._trouble("the station loop")
            stop.wait(tick_s)

    def tick(self) -> None:
        for message in self.link.commands():
            try:
                self.receive(getattr(message, "data", message), getattr(message, "size", -1))
            except Exception:  # noqa: BLE001 - one message never affects the next
                self._trouble("a received message")
        now = time.monotonic()
        if now >= self._next_beat:
            self._next_beat = now + self.heartbeat_s
            self.link.publish(self.heartbeat_text())

    def receive(self, text: str | bytes, size: int = -1) -> None:
        verdict = self.gate.check(text, size)
        if verdict.command is None:
            return
        ok, error = True, ""
        if verdict.execute:
            self._save_seq(verdict.command.seq)
            try:
                self.execute(verdict.command)
            except LabmrtError as err:
                ok, error = False, err.message
            except Exception as err:  # noqa: BLE001 - answered and logged, the station goes on
                self._trouble(f"running {verdict.command.cmd}")
                ok, error = False, f"the station could not {verdict.command.cmd} ({err!r})"[:300]
            self.commands_log.write(
                {"command": asdict(verdict.command), "ok": ok, "error": error, "executed": True}
            )
            self._last_result = (verdict.command.seq, ok, error)
        elif self._last_result[0] == verdict.command.seq:
            _, ok, error = self._last_result
        if verdict.ack:
            self.link.publish(self.gate.ack_text(verdict.command, ok, error))

    # ------------------------------------------------------------------ commands
    def execute(self, command: Command) -> None:
        engine = self.engine
        running = engine is not None and engine.status not in ("completed", "aborted", "failed")
        if command.cmd == "start":
            if running:
                raise LabmrtError(
                    f"a session of {engine.participant} is running", where=f"station {self.name}"
                )
            self._start(str(command.args.get("participant", "")))
        elif not running:
            raise LabmrtError(
                f"no session is running to {command.cmd}", where=f"station {self.name}"
            )
        elif command.cmd == "pause":
            engine.pause(str(command.args.get("reason", "paused by the experimenter")))
        elif command.cmd == "resume":
            engine.resume()
        elif command.cmd == "abort":
            engine.abort(str(command.args.get("reason") or "aborted by the experimenter"))

    def interrupted(self) -> list[str]:
        return sorted({s.participant for s in self.store.interrupted_sessions()})

    def _start(self, code: str) -> None:
        from labmrt.store import validate_participant_code

        code = validate_participant_code(code)
        resume = code in self.interrupted()
        self._finish_cleanup()
        engine, cleanup = self.factory(code, self.store, resume)
        self._cleanup = cleanup
        self._warnings = []
        with self._lock:
            self._status = {
                "status": "starting",
                "participant": code,
                "session": engine.session_id,
                "phase": "",
                "task_k": engine.next_task_index,
                "task_n": len(self.protocol.tasks),
                "resumed": resume,
            }
        sig = engine.signals
        sig.status_changed.connect(lambda status, t, reason: self._set(status=status))
        sig.phase_started.connect(lambda phase, t, duration: self._set(phase=phase))
        sig.phase_ended.connect(lambda phase, t: self._set(phase=""))
        sig.progress.connect(lambda done, total: self._set(task_k=done, task_n=total))
        sig.task_shown.connect(lambda task, t: self._set(phase="task"))
        sig.failed.connect(lambda message: self._warn(message))
        sig.ended.connect(lambda status, reason: self._ended(status, reason))
        if self.labrecorder is not None:
            from labmrt.recording import start_for_session

            control = start_for_session(
                self.labrecorder,
                self.store,
                engine,
                task=self.study.dir.resolve().name,
                recover=resume,
                alert=self._warn,  # in the heartbeat's warnings: the console's lab view shows them
            )
            self._cleanup.append(control.stop)
        self.engine = engine
        engine.start()

    def _set(self, **fields: Any) -> None:
        with self._lock:
            self._status.update(fields)

    def _warn(self, message: str) -> None:
        with self._lock:
            self._warnings.append(message)

    def _ended(self, status: str, reason: str) -> None:
        self._set(status=status, phase="", reason=reason)

    def _finish_cleanup(self) -> None:
        for stop in reversed(self._cleanup):
            try:
                stop()
            except Exception:  # noqa: BLE001 - a sensor that will not stop must not stop us
                log.exception("station %s: a clean-up call failed", self.name)
        self._cleanup = []

    # ------------------------------------------------------------------ status
    def status(self) -> dict[str, Any]:
        """The heartbeat's body: who, where in the session, state, signal, warnings."""
        self._beat += 1
        with self._lock:
            doc = dict(self._status)
            warnings = list(self._warnings)
        engine = self.engine
        state = _current_state(engine, self.sensors)
        if engine is not None and getattr(engine, "calibration", None):
            warnings += [str(w) for w in engine.calibration.get("warnings", []) or []]
        if engine is not None and getattr(engine, "calibration_error", None):
            warnings.append(str(engine.calibration_error))
        quality = dict(state.get("quality") or {})
        if quality and min(quality.values()) < 0.5 and doc.get("status") in ("running", "resumed"):
            warnings.append("low signal quality: " + ", ".join(sorted(quality)))
        return heartbeat_body(
            {
                "protocol_hash": self.protocol.content_hash,
                "folder": self.folder_id,
                "beat": self._beat,
                "t": time.time(),
                "affect_state": state.get("label", "unknown"),
                "p_aroused": state.get("p_aroused"),
                "state_t": state.get("t"),
                "features": state.get("features", {}),
                "state_reason": state.get("reason", ""),
                "quality": quality,
                "warnings": warnings,
                "interrupted": self.interrupted() if doc.get("status") == "idle" else [],
                # a pause starts when the running task ends; the console shows it was asked for
                "pause_requested": bool(getattr(engine, "pause_pending", False)),
                "last_seq": self.gate.last_seq,
                **doc,
            }
        )

    def heartbeat_text(self) -> str:
        """The status message as it goes on the network: sealed, numbered above the last one."""
        self._status_seq = max(self._status_seq + 1, int(time.time() * 1000))
        header = Header("status", self.study.study_id, self.name, self._status_seq)
        return self.sealer.seal(header, self.status())

    def close(self) -> None:
        engine = self.engine
        if engine is not None:
            engine.join(timeout=0)
        self._finish_cleanup()
        self.store.close()
        self.commands_log.close()


def _current_state(engine: Any, sensors: Any = None) -> dict[str, Any]:
    active = engine is not None and engine.status not in ("completed", "aborted", "failed")
    source = getattr(engine, "state_source", None) if active else sensors
    if source is None:
        return {}
    try:
        state = source.current_state()
    except Exception:  # noqa: BLE001 - a sensor hiccup shows as no state, not a dead station
        return {}
    if is_dataclass(state):
        state = asdict(state)
    features = {
        k: None if v is None else round(float(v), 4)
        for k, v in (state.get("features") or {}).items()
        if v is None or isinstance(v, int | float)
    }
    return {
        "t": state.get("t"),
        "label": state.get("label", "unknown"),
        "p_aroused": state.get("p_aroused"),
        "features": features,
        "reason": state.get("reason", ""),
        "quality": {k: round(float(v), 3) for k, v in (state.get("quality") or {}).items()},
    }
