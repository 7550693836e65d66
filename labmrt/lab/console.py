"""The experimenter's view of a lab, without a screen: stations, their state, commands.

:class:`LabConsole` keeps the latest status of every station of the study it
has heard from, says which are offline (no heartbeat for ``offline_s``, 3 s:
three missed beats), allocates participant codes (:func:`allocate_code`, so none
is used twice), sends sealed commands and follows them until acknowledged,
retried or failed (:class:`labmrt.lab.wire.CommandSender`). When a station's
session ends, its store is merged into the study store on a background thread
(:func:`labmrt.store.merge.merge_stations`; merging again later adds only what
is new). The lab view of the desktop app draws this object; tests drive it
directly.

Only what opens with the study's key is believed. A received message is
dropped, and counted in :meth:`LabConsole.notices`, when it is not a labmrt
message of this study, did not come on the stream of the station it names
(``source_id`` ``labmrt-station-STUDY-NAME``), does not open with the study
key, has fields out of range (:class:`labmrt.lab.heartbeat.Heartbeat`), or
is a heartbeat played back; a second stream claiming a station name while
the first one is heard from is dropped and shown as an alert on that
station's tile (:class:`labmrt.lab.heartbeat.Claims`). So a tile, its
participant, its interrupted sessions and the Start button only ever follow
the station itself. Memory is bounded: at most :data:`MAX_STATIONS`
stations, :data:`HISTORY` heartbeats each (only the fields the live view
plots), :data:`MAX_ALERTS` alerts each, :data:`MAX_NOTICES` kinds of dropped
message.
"""

from __future__ import annotations

import logging
import threading
import time
from collections import OrderedDict, deque
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from pydantic import ValidationError

from labmrt.lab.envelope import Header, Refused, Sealer, parse, read_header
from labmrt.lab.heartbeat import LIVE_FIELDS, Claims, Heartbeat
from labmrt.lab.logbook import RateLimit
from labmrt.lab.study import LabStudy, allocate_code
from labmrt.lab.transport import station_source_id
from labmrt.lab.wire import CommandSender, Pending

log = logging.getLogger(__name__)

OFFLINE_S = 3.0
#: Heartbeats kept per station (the fields the live view plots).
HISTORY = 600
#: Stations followed at most: the heartbeats of any further station are dropped.
MAX_STATIONS = 64
#: Alerts kept per station.
MAX_ALERTS = 10
#: Kinds of dropped message counted.
MAX_NOTICES = 32
ENDED = ("completed", "aborted", "incomplete")


@dataclass
class StationView:
    """What the console knows of one station (from its own heartbeats only)."""

    name: str
    status: dict[str, Any] = field(default_factory=dict)
    last_seen: float = 0.0
    alerts: list[str] = field(default_factory=list)
    # the last heartbeats (10 minutes at one a second), for the station's live plots
    history: deque = field(default_factory=lambda: deque(maxlen=HISTORY))
    host: str = ""

    def online(self, now: float, offline_s: float = OFFLINE_S) -> bool:
        return now - self.last_seen <= offline_s


def _shown(text: str, limit: int = 60) -> str:
    """A sender-chosen name, printable and short, for a notice or an alert."""
    text = "".join(c if c.isprintable() else "?" for c in str(text))
    return text if len(text) <= limit else text[: limit - 3] + "..."


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
        secret = study.secret()
        self.sealer = Sealer(secret, study.study_id)
        self.sender = CommandSender(
            study.study_id, secret, retry_s=retry_s, tries=tries, clock=clock
        )
        self.claims = Claims(OFFLINE_S)
        self.stations: dict[str, StationView] = {}
        self.dropped: OrderedDict[tuple[str, str, str], int] = OrderedDict()
        self.merge_on_end = merge_on_end
        self.merges: list[threading.Thread] = []
        self.merge_errors: list[str] = []
        self._merge_lock = threading.Lock()
        self._limit = RateLimit(per_s=0.2, burst=5)

    # ------------------------------------------------------------------ receiving
    def poll(self) -> set[str]:
        """Take in heartbeats and acknowledgements, resend what is due; the stations changed."""
        changed: set[str] = set()
        now = self.clock()
        for uid in getattr(self.link, "gone", list)():
            self.claims.release(uid)
        for message in self.link.poll():
            try:
                name = self._receive(message, now)
            except Exception:  # noqa: BLE001 - one message never affects the next
                name = None
                if self._limit.allow()[0]:
                    log.exception("lab console: a received message")
            if name is not None:
                changed.add(name)
        again, failed = self.sender.due()
        for p in again:
            self.link.send(p.text)
        for p in failed:
            self._alert(p.station, f"{p.cmd} failed: {p.error}")
            changed.add(p.station)
        return changed

    def _drop(self, message: Any, reason: str) -> None:
        key = (reason, _shown(message.source_id, 80), _shown(message.host, 40))
        self.dropped[key] = self.dropped.pop(key, 0) + 1
        while len(self.dropped) > MAX_NOTICES:
            self.dropped.popitem(last=False)
        if self._limit.allow()[0]:
            log.warning("lab console dropped a message from %s on %s: %s", key[1], key[2], reason)

    def notices(self, n: int = 3) -> list[str]:
        """The latest kinds of message dropped, with how many (for the lab view's header)."""
        items = list(self.dropped.items())[-n:]
        return [
            f"{count} message(s) ignored from stream {source!r} on host {host!r}: {reason}"
            for (reason, source, host), count in reversed(items)
        ]

    def _receive(self, message: Any, now: float) -> str | None:
        try:
            doc = parse(message.data, getattr(message, "size", -1))
            header = read_header(doc)
        except Refused as err:
            return self._drop(message, f"malformed ({err.reason})")
        if header.study != self.study.study_id:
            return self._drop(message, "another study")
        if header.type == "command":
            return self._drop(message, "a command on a station stream")
        if message.source_id != station_source_id(header.study, header.station):
            return self._drop(message, f"names station {header.station} on another stream")
        try:
            body = self.sealer.open(header, doc)
        except Refused as err:
            return self._drop(message, err.reason)
        if header.type == "ack":
            return self._ack(header, body)
        try:
            beat = Heartbeat.model_validate(body)
        except ValidationError as err:
            first = err.errors()[0]
            where = ".".join(str(p) for p in first.get("loc", ()))
            return self._drop(message, f"heartbeat field {where}: {first.get('msg', '')}"[:160])
        return self._status(header, beat.model_dump(), message, now)

    def _ack(self, header: Header, body: dict[str, Any]) -> str | None:
        pending = self.sender.on_ack(header, body)
        if pending is None:
            return None
        if pending.state == "refused":
            self._alert(pending.station, f"{pending.cmd} refused: {pending.error}")
        return pending.station

    def _status(self, header: Header, body: dict[str, Any], message: Any, now: float) -> str | None:
        name = header.station
        verdict = self.claims.check(name, message.uid, header.seq, now)
        if verdict == "replay":
            return self._drop(message, f"heartbeat of {name} played back")
        if verdict == "conflict":
            self._drop(message, f"a second stream claims station {name}")
            self._alert(
                name,
                f"a second stream claims {name} (host {_shown(message.host, 40)!r}); "
                "ignored while this one is heard",
            )
            return name
        view = self.stations.get(name)
        if view is None:
            if len(self.stations) >= MAX_STATIONS:
                return self._drop(message, f"more than {MAX_STATIONS} stations")
            view = self.stations[name] = StationView(name)
        self.claims.accept(name, message.uid, header.seq, now)
        before = view.status.get("status")
        view.status = {"study": header.study, "station": name, "seq": header.seq, **body}
        view.history.append({k: body[k] for k in LIVE_FIELDS})
        view.last_seen = now
        view.host = _shown(message.host, 40)
        self.sender.peer(name, body["folder"], body["t"])
        if body["protocol_hash"] != self.study.protocol_hash:
            self._alert(name, "runs another protocol than this study")
        if body["status"] in ENDED and before not in ENDED and before is not None:
            self.merge(name)
        return name

    def _alert(self, station: str, text: str) -> None:
        view = self.stations.get(station)
        if view is None:
            if len(self.stations) >= MAX_STATIONS:
                return
            view = self.stations[station] = StationView(station)
        if text not in view.alerts:
            view.alerts.append(text)
            del view.alerts[:-MAX_ALERTS]

    def online(self, name: str) -> bool:
        view = self.stations.get(name)
        return view is not None and view.online(self.clock())

    # ------------------------------------------------------------------ commanding
    def _send(self, station: str, cmd: str, **args: Any) -> Pending:
        view = self.stations.get(station)
        if view is not None and "last_seq" in view.status:
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
