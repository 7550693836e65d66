"""LabRecorder started, checked and stopped with each session; every failure an alert.

At session start :meth:`LabRecorderControl.start` connects to the RCS, sends
``select all`` (or ``select`` per configured stream), the BIDS-style file name
of this participant and session, and ``start``; when the session ends, is
aborted, or the app closes, :meth:`~LabRecorderControl.stop` sends ``stop``.
Resuming a session after a crash first sends ``stop`` (the crashed app left the
recorder running) and then starts the next run's file.

LabRecorder acknowledges nothing, so the recording is checked: when its data
folder is visible here (``check_root``, or ``root`` when it runs on this
machine) the file must appear within ``appear_s`` and keep growing (no
``stall_s`` without growth); otherwise only the connection is watched. The
recorder not running, refusing, dropping the connection, the file missing or
stalled, a command that could not be sent: each is an alert (``alert``
callback and :attr:`~LabRecorderControl.alerts`), never a silent gap. The
session itself goes on: labmrt records its own streams in any case.
"""

from __future__ import annotations

import logging
import re
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from labmrt.recording.rcs import RcsClient, filename_command, parse_address
from labmrt.store.chains import session_entities

log = logging.getLogger(__name__)

LOCAL_HOSTS = {"localhost", "127.0.0.1", "::1"}


@dataclass(frozen=True)
class RecorderSettings:
    """Where LabRecorder is and how its files are named (the protocol's ``[recording]``)."""

    address: str
    streams: tuple[str, ...] = ()  # stream names to select; empty: select all
    root: str = ""  # LabRecorder's data folder as it sees it; empty: its own StudyRoot
    check_root: str = ""  # the same folder as seen from here, to watch the file
    modality: str = "eeg"
    appear_s: float = 10.0
    stall_s: float = 15.0
    check_s: float = 2.0

    @classmethod
    def of(
        cls, protocol: Any = None, address: str = "", **overrides: Any
    ) -> RecorderSettings | None:
        """The protocol's ``[recording]`` with ``address`` (a console or station field) first."""
        section = getattr(protocol, "recording", None)
        address = (address or "").strip() or (getattr(section, "labrecorder", None) or "")
        if not address:
            return None
        parse_address(address)
        base = cls(address=address)
        if section is not None:
            base = replace(
                base,
                streams=tuple(section.streams),
                root=section.root,
                check_root=section.check_root,
                modality=section.modality,
            )
        return replace(base, **overrides)

    @property
    def watched_root(self) -> Path | None:
        if self.check_root:
            return Path(self.check_root)
        host, _ = parse_address(self.address)
        return Path(self.root) if self.root and host in LOCAL_HOSTS else None


def _label(text: Any) -> str:
    return re.sub(r"[^0-9A-Za-z]", "", str(text))


@dataclass
class _Check:
    path: Path | None
    started: float
    size: int = -1
    grew_at: float = 0.0
    seen: bool = False


@dataclass
class LabRecorderControl:
    """One session's LabRecorder (see the module docstring). Thread-safe; never raises."""

    settings: RecorderSettings
    alert: Callable[[str], None] | None = None
    clock: Callable[[], float] = time.monotonic
    alerts: list[str] = field(default_factory=list)
    commands: list[str] = field(default_factory=list)
    path: Path | None = None

    def __post_init__(self) -> None:
        host, port = parse_address(self.settings.address)
        self.client = RcsClient(host, port)
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._recording = False
        self._dropped = False

    # ------------------------------------------------------------------ alerts
    def _alert(self, text: str) -> None:
        text = f"LabRecorder {self.client.address}: {text}"
        with self._lock:
            if text in self.alerts:
                return
            self.alerts.append(text)
        log.warning("%s", text)
        if self.alert is not None:
            try:
                self.alert(text)
            except Exception:  # noqa: BLE001 - a broken listener must not stop the checks
                log.exception("the LabRecorder alert listener failed")

    def _send(self, command: str) -> bool:
        try:
            self.client.send(command)
        except OSError as err:
            self._alert(f"could not send '{command.split(' ')[0]}': {err}")
            return False
        self.commands.append(command)
        return True

    # ------------------------------------------------------------------ session
    def file_fields(self, participant: str, ses: int, task: str, run: int) -> dict[str, str]:
        """The ``filename`` options: the template written out, and each value as well."""
        p, m, t = _label(participant), _label(self.settings.modality) or "eeg", _label(task)
        template = f"sub-{p}/ses-{ses}/{m}/sub-{p}_ses-{ses}_task-{t}_run-{run}_{m}.xdf"
        return {
            "root": self.settings.root,
            "template": template,
            "participant": p,
            "session": str(ses),
            "task": t,
            "run": str(run),
            "modality": m,
        }

    def start(
        self, participant: str, ses: int, task: str, run: int = 1, *, recover: bool = False
    ) -> None:
        """Connect and start recording, on a thread of its own (a slow host never blocks)."""
        fields = self.file_fields(participant, ses, task, run)
        root = self.settings.watched_root
        self.path = root / fields["template"] if root is not None else None
        self._thread = threading.Thread(
            target=self._run, args=(fields, recover), name="labrecorder", daemon=True
        )
        self._thread.start()

    def _run(self, fields: dict[str, str], recover: bool) -> None:
        try:
            self.client.connect()
        except OSError as err:
            reason = "connection refused" if isinstance(err, ConnectionRefusedError) else str(err)
            self._alert(
                f"not reachable ({reason}): nothing is recorded by LabRecorder for this "
                "session (start LabRecorder with RCSEnabled, or record by hand)"
            )
            return
        if recover:
            self._send("stop")  # the interrupted session's recording, if it still runs
        selected = all(self._send(f"select {name}") for name in self.settings.streams or ("all",))
        if not (selected and self._send(filename_command(fields)) and self._send("start")):
            return
        with self._lock:
            self._recording = True
        check = _Check(self.path, self.clock())
        while not self._stop.wait(self.settings.check_s):
            self.check(check)

    def check(self, check: _Check) -> None:
        """One look at the connection and the file (the thread runs it every ``check_s``)."""
        if not self.client.alive() and not self._dropped:
            self._dropped = True
            self._alert("dropped the connection mid-session: the recording may have stopped")
        if check.path is None:
            return
        now = self.clock()
        try:
            size = check.path.stat().st_size
        except OSError:
            if check.seen:
                self._alert(f"the file {check.path} disappeared")
            elif now - check.started > self.settings.appear_s:
                self._alert(
                    f"no file {check.path} after {self.settings.appear_s:g} s: "
                    "LabRecorder is not recording (check its window and stream list)"
                )
            return
        if not check.seen or size > check.size:
            check.seen, check.size, check.grew_at = True, size, now
        elif now - check.grew_at > self.settings.stall_s:
            self._alert(f"the file {check.path} stopped growing ({size} bytes)")

    def stop(self, reason: str = "") -> None:
        """Send ``stop`` and close (idempotent)."""
        self._stop.set()
        thread = self._thread
        if thread is not None and thread is not threading.current_thread():
            thread.join(self.client.timeout + self.settings.check_s + 1.0)
        with self._lock:
            recording, self._recording = self._recording, False
        if recording and not self._send("stop"):
            self._alert("stop could not be sent: stop LabRecorder by hand" + _why(reason))
        self.client.close()

    def attach(self, signals: Any) -> LabRecorderControl:
        """Stop when the session ends (completed, aborted, failed): ``signals.ended``."""
        signals.ended.connect(lambda status, reason: self.stop(status))
        return self


def _why(reason: str) -> str:
    return f" (session {reason})" if reason else ""


def start_for_session(
    settings: RecorderSettings,
    store: Any,
    engine: Any,
    *,
    task: str,
    recover: bool = False,
    alert: Callable[[str], None] | None = None,
) -> LabRecorderControl:
    """Start LabRecorder for ``engine``'s session; it stops when the session ends.

    The file is named as ``labmrt export --bids`` names the session (``ses``, ``run``).
    """
    ses, run = session_entities(store.sessions(), engine.session_id)
    control = LabRecorderControl(settings, alert=alert)
    control.start(engine.participant, ses, task, run, recover=recover)
    return control.attach(engine.signals)
