"""The experimenter's view of a lab, without a screen: stations, their state, commands.

:class:`LabConsole` keeps the latest status of every station of the study it
has heard from, says which are offline (no heartbeat for ``offline_s``, 3 s:
three missed beats), allocates participant codes (:func:`allocate_code`, so none
is used twice), sends signed commands and follows them until acknowledged,
retried or failed (:class:`labmrt.lab.wire.CommandSender`). When a station's
session ends, its store is merged into the study store on a background thread
(:func:`labmrt.store.merge.merge_stations`; merging again later adds only what
is new). The lab view of the desktop app draws this object; tests drive it
directly.
"""

from __future__ import annotations

import threading
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from labmrt.lab.study import LabStudy, allocate_code
from labmrt.lab.wire import CommandSender, Pending

OFFLINE_S = 3.0
HISTORY = 600
ENDED = ("completed", "aborted", "incomplete")


@dataclass
class StationView:
    """What the console knows of one station."""

    name: str
    status: dict[str, Any] = field(default_factory=dict)
    last_seen: float = 0.0
    alerts: list[str] = field(default_factory=list)
    # the last heartbeats (10 minutes at one a second), for the station's live plots
    history: deque = field(default_factory=lambda: deque(maxlen=HISTORY))

    def online(self, now: float, offline_s: float = OFFLINE_S) -> bool:
        return now - self.last_seen <= offline_s


class LabConsole:
    """See the module docstring. Call :meth:`poll` often (it never blocks)."""

    def __init__(
        self,
        study: LabStudy,
        link: Any,
        *,
        retry_s: float = 1.0,
        tries: int = 5,
        clock: Callable[[], float] = time.monotonic,
        merge_on_end: bool = True,
    ):
        self.study = study
        self.link = link
        self.clock = clock
        self.sender = CommandSender(
            study.study_id, study.secret(), retry_s=retry_s, tries=tries, clock=clock
        )
        self.stations: dict[str, StationView] = {}
        self.merge_on_end = merge_on_end
        self.merges: list[threading.Thread] = []
        self.merge_errors: list[str] = []
        self._merge_lock = threading.Lock()

    # ------------------------------------------------------------------ receiving
    def poll(self) -> set[str]:
        """Take in status and acknowledgements, resend what is due; the stations that changed."""
        changed: set[str] = set()
        now = self.clock()
        for doc in self.link.poll():
            kind = doc.get("type")
            if kind == "ack":
                pending = self.sender.on_ack(doc.get("_text", ""))
                if pending is not None:
                    changed.add(pending.station)
                    if pending.state == "refused":
                        self._alert(pending.station, f"{pending.cmd} refused: {pending.error}")
            elif kind == "status" and doc.get("study") == self.study.study_id:
                changed.add(self._status(doc, now))
        again, failed = self.sender.due()
        for p in again:
            self.link.send(p.text)
        for p in failed:
            self._alert(p.station, f"{p.cmd} failed: {p.error}")
            changed.add(p.station)
        return changed

    def _status(self, doc: dict[str, Any], now: float) -> str:
        name = str(doc.get("station", "?"))
        view = self.stations.setdefault(name, StationView(name))
        before = view.status.get("status")
        view.status = doc
        view.history.append(doc)
        view.last_seen = now
        if doc.get("protocol_hash") != self.study.protocol_hash:
            self._alert(name, "runs another protocol than this study")
        if doc.get("status") in ENDED and before not in ENDED and before is not None:
            self.merge(name)
        return name

    def _alert(self, station: str, text: str) -> None:
        view = self.stations.setdefault(station, StationView(station))
        if text not in view.alerts:
            view.alerts.append(text)

    def online(self, name: str) -> bool:
        view = self.stations.get(name)
        return view is not None and view.online(self.clock())

    # ------------------------------------------------------------------ commanding
    def _send(self, station: str, cmd: str, **args: Any) -> Pending:
        view = self.stations.get(station)
        if view is not None and isinstance(view.status.get("last_seq"), int):
            # another console (or this one on a machine whose clock is behind) numbered higher
            self.sender.at_least(view.status["last_seq"])
        pending = self.sender.command(station, cmd, **args)
        self.link.send(pending.text)
        return pending

    def start(self, station: str, participant: str | None = None) -> Pending:
        """Start a session; a new code unless ``participant`` (an interrupted one) is given."""
        code = participant or allocate_code(self.study, station)
        return self._send(station, "start", participant=code)

    def pause(self, station: str, reason: str = "") -> Pending:
        return self._send(station, "pause", reason=reason or "paused by the experimenter")

    def resume(self, station: str) -> Pending:
        return self._send(station, "resume")

    def abort(self, station: str, reason: str) -> Pending:
        return self._send(station, "abort", reason=reason)

    def commands(self, station: str | None = None) -> list[Pending]:
        return [p for p in self.sender.commands.values() if station in (None, p.station)]

    # ------------------------------------------------------------------ merging
    def merge(self, station: str) -> threading.Thread | None:
        """Merge one station's store into the study store, in the background."""
        if not self.merge_on_end:
            return None
        folder = self.study.station_dir(station)

        def work() -> None:
            from labmrt.errors import LabmrtError
            from labmrt.store.merge import merge_stations

            with self._merge_lock:
                try:
                    merge_stations([folder], self.study.dir, protocol_hash=self.study.protocol_hash)
                except LabmrtError as err:
                    self.merge_errors.append(err.message)

        thread = threading.Thread(target=work, name=f"labmrt-merge-{station}", daemon=True)
        thread.start()
        self.merges.append(thread)
        return thread
