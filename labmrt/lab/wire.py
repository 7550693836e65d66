"""The console's commands and the stations' acknowledgements, without any network.

A command (``start`` with a participant code, ``pause``, ``resume``, ``abort``
with a reason) travels sealed (:mod:`labmrt.lab.envelope`: AES-256-GCM under a
key derived from the study secret). Its clear header names the study, the
target station and the console's sequence number; its sealed body holds the
command, its arguments, the console's name, the **station folder** it is for
and the moment it **expires**. A station holding the secret runs a command only
when

* it is for this study and this station,
* it opens with the study's key (a console of another study or a forger
  cannot make one; a byte changed in transit makes it unreadable),
* it names this station's folder (the random ``folder_id`` of its
  ``station.json``, which the station announces in its sealed heartbeat), so a
  command captured for one station folder does not run on a fresh or copied one,
* it has not expired by the station's own clock, and does not claim a validity
  longer than :data:`MAX_AHEAD_S`,
* its sequence number is higher than every one accepted before (a recorded
  command played back later is refused). The console's numbers start at its
  start time in milliseconds, so a restarted console still counts upwards.

A command arriving again with the sequence number just accepted is a retry
whose acknowledgement was lost: it is acknowledged again and not executed
twice. Everything refused is reported to the station's log with the reason.
Acknowledgements are sealed the same way, so only a station of the study can
acknowledge.

**Validity.** The console sends a command again every ``retry_s`` (1 s) up to
``tries`` (5) times; the command is valid for ``retry_s * tries`` (5 s) from its
first sending, counted on the station's clock (the console learns each
station's clock offset from its heartbeats), and the console shows it as
failed :data:`SKEW_S` (1 s) after that, when it can no longer run anywhere.

Both sides are plain objects driven by the caller's clocks, so the rules are
tested without LSL (:mod:`labmrt.lab.transport` carries the texts).
"""

from __future__ import annotations

import re
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Annotated, Any, Literal

from pydantic import AfterValidator, BaseModel, ConfigDict, Field, ValidationError

from labmrt.lab.envelope import Header, Refused, Sealer, describe, parse, read_header
from labmrt.store.database import PARTICIPANT_CODE_PATTERN

COMMANDS = ("start", "pause", "resume", "abort")
#: Seconds the console waits after a command's validity before calling it failed.
SKEW_S = 1.0
#: A station refuses a command that claims to stay valid longer than this (seconds).
MAX_AHEAD_S = 60.0
MAX_REASON = 200
KEPT_COMMANDS = 500  # settled commands the console remembers (pending ones are always kept)


_CODE = re.compile(PARTICIPANT_CODE_PATTERN)


def check_code(value: str) -> str:
    """``value`` if it is a participant code (ValueError otherwise), for the schemas."""
    if not _CODE.match(value):
        raise ValueError("not a participant code")
    return value


Reason = Annotated[str, Field(max_length=MAX_REASON)]
#: A participant code as the store takes it (see :func:`labmrt.store.validate_participant_code`).
Code = Annotated[str, AfterValidator(check_code)]


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", strict=True, allow_inf_nan=False, frozen=True)


class StartArgs(_Strict):
    participant: Code


class ReasonArgs(_Strict):
    reason: Reason = ""


class NoArgs(_Strict):
    pass


ARGS: dict[str, type[_Strict]] = {
    "start": StartArgs,
    "pause": ReasonArgs,
    "resume": NoArgs,
    "abort": ReasonArgs,
}


class CommandBody(_Strict):
    """The sealed part of a command."""

    cmd: Literal["start", "pause", "resume", "abort"]
    args: dict[str, Any]
    console: Annotated[str, Field(max_length=64)] = ""
    folder: Annotated[str, Field(max_length=64)]
    expires: float


class AckBody(_Strict):
    """The sealed part of an acknowledgement."""

    cmd: Literal["start", "pause", "resume", "abort"]
    ok: bool
    error: Annotated[str, Field(max_length=400)] = ""


def command_args(cmd: str, args: dict[str, Any]) -> dict[str, Any]:
    """The checked arguments of a command (ValueError names what is wrong)."""
    model = ARGS.get(cmd)
    if model is None:
        raise ValueError(f"unknown command {cmd!r}")
    try:
        return model.model_validate(args).model_dump()
    except ValidationError as err:
        raise ValueError(f"{cmd}: {_first_error(err)}") from None


def _first_error(err: ValidationError) -> str:
    first = err.errors()[0]
    where = ".".join(str(p) for p in first.get("loc", ())) or "message"
    return f"{where}: {first.get('msg', 'invalid')}"[:200]


@dataclass(frozen=True)
class Command:
    seq: int
    station: str
    cmd: str
    args: dict[str, Any] = field(default_factory=dict)
    console: str = ""
    folder: str = ""
    expires: float = 0.0


@dataclass(frozen=True)
class Verdict:
    """What a station makes of one received text."""

    execute: bool  # a new, valid command: run it, then acknowledge
    ack: bool  # acknowledge (a new command, or a retry of the last one)
    command: Command | None = None
    refused: str = ""  # why it was refused ('' when accepted or not addressed to us)


class CommandGate:
    """The station's check of every received command (see the module docstring)."""

    def __init__(
        self,
        study_id: str,
        secret: bytes,
        station: str,
        log: Callable[[str, dict[str, Any]], None] | None = None,
        *,
        folder: str = "",
        wall: Callable[[], float] = time.time,
    ):
        self.study_id = study_id
        self.sealer = Sealer(secret, study_id)
        self.station = station
        self.folder = folder
        self.wall = wall
        self.last_seq = 0
        self._log = log or (lambda reason, doc: None)

    def _refuse(self, reason: str, what: dict[str, Any]) -> Verdict:
        self._log(reason, what)
        return Verdict(False, False, refused=reason)

    def check(self, text: str | bytes, size: int = -1) -> Verdict:
        """The verdict on one received text (``size``: its sent length, if ``text`` is a head)."""
        try:
            doc = parse(text, size)
            header = read_header(doc)
        except Refused as err:
            return self._refuse(f"malformed: {err.reason}", describe(text, size=size))
        if header.type != "command":
            return self._refuse(f"malformed: a {header.type} on the command stream", _seen(header))
        if header.study != self.study_id:
            return self._refuse("another study", _seen(header))
        if header.station != self.station:
            return Verdict(False, False)  # for a colleague station: not ours, not suspicious
        try:
            body = CommandBody.model_validate(self.sealer.open(header, doc))
            args = command_args(body.cmd, body.args)
        except Refused as err:
            reason = "bad signature" if err.forged else f"malformed: {err.reason}"
            return self._refuse(reason, {**_seen(header), "why": err.reason})
        except (ValidationError, ValueError) as err:
            why = _first_error(err) if isinstance(err, ValidationError) else str(err)
            return self._refuse("malformed", {**_seen(header), "why": why})
        command = Command(
            header.seq, self.station, body.cmd, args, body.console, body.folder, body.expires
        )
        seen = {**_seen(header), "cmd": body.cmd, "args": args, "console": body.console}
        if body.folder != self.folder:
            return self._refuse("another station folder", {**seen, "folder": body.folder})
        if header.seq == self.last_seq:
            return Verdict(False, True, command)  # a retry: acknowledge again, run once
        if header.seq < self.last_seq:
            return self._refuse("replay", seen)
        now = self.wall()
        if now > body.expires:
            return self._refuse("expired", {**seen, "late_s": round(now - body.expires, 3)})
        if body.expires - now > MAX_AHEAD_S:
            return self._refuse("valid for too long", {**seen, "ahead_s": body.expires - now})
        self.last_seq = header.seq
        return Verdict(True, True, command)

    def ack_text(self, command: Command, ok: bool, error: str = "") -> str:
        header = Header("ack", self.study_id, self.station, command.seq)
        body = {"cmd": command.cmd, "ok": bool(ok), "error": str(error)[:400]}
        return self.sealer.seal(header, body)


def _seen(header: Header) -> dict[str, Any]:
    return {"type": header.type, "station": header.station, "seq": header.seq}


@dataclass
class Pending:
    """A command the console sent and the station has not acknowledged yet."""

    seq: int
    station: str
    cmd: str
    args: dict[str, Any]
    text: str
    sent_at: float
    tries: int = 1
    state: str = "pending"  # pending, acked, refused (station answered not ok), failed
    error: str = ""
    first_sent: float = 0.0
    expires: float = 0.0  # on the station's clock


@dataclass
class Peer:
    """What the console knows of a station from its sealed heartbeats."""

    folder: str = ""
    offset_s: float = 0.0  # the station's clock minus the console's


class CommandSender:
    """The console's side: numbering, sealing, retrying, expiring, giving up."""

    def __init__(
        self,
        study_id: str,
        secret: bytes,
        console: str = "console",
        *,
        retry_s: float = 1.0,
        tries: int = 5,
        clock: Callable[[], float] = time.monotonic,
        wall: Callable[[], float] = time.time,
        first_seq: int | None = None,
    ):
        self.study_id = study_id
        self.sealer = Sealer(secret, study_id)
        self.console = console
        self.retry_s = retry_s
        self.tries = tries
        self.clock = clock
        self.wall = wall
        self._seq = int(time.time() * 1000) if first_seq is None else int(first_seq)
        self.commands: dict[int, Pending] = {}
        self.peers: dict[str, Peer] = {}

    @property
    def valid_s(self) -> float:
        """How long a command may run after its first sending (its tries, a retry apart)."""
        return self.retry_s * self.tries

    def at_least(self, seq: int) -> None:
        """Number the next command above ``seq`` (the highest a station says it has run)."""
        self._seq = max(self._seq, int(seq))

    def peer(self, station: str, folder: str, station_time: float) -> None:
        """A station's folder and clock, from a heartbeat that opened with the study key."""
        self.peers[station] = Peer(folder, float(station_time) - self.wall())

    def command(self, station: str, cmd: str, **args: Any) -> Pending:
        args = command_args(cmd, args)
        peer = self.peers.get(station, Peer())
        self._seq += 1
        now = self.clock()
        expires = self.wall() + peer.offset_s + self.valid_s
        body = {
            "cmd": cmd,
            "args": args,
            "console": self.console,
            "folder": peer.folder,
            "expires": expires,
        }
        text = self.sealer.seal(Header("command", self.study_id, station, self._seq), body)
        pending = Pending(self._seq, station, cmd, args, text, now, first_sent=now, expires=expires)
        self.commands[self._seq] = pending
        self._forget_settled()
        return pending

    def _forget_settled(self) -> None:
        settled = [s for s, p in self.commands.items() if p.state != "pending"]
        for seq in settled[: max(0, len(settled) - KEPT_COMMANDS)]:
            del self.commands[seq]

    def on_ack(self, header: Header, body: dict[str, Any]) -> Pending | None:
        """The command an opened acknowledgement answers (None if it is not one of ours)."""
        try:
            ack = AckBody.model_validate(body)
        except ValidationError:
            return None
        pending = self.commands.get(header.seq)
        if pending is None or pending.station != header.station or pending.state != "pending":
            return None
        if pending.cmd != ack.cmd:
            return None
        pending.state = "acked" if ack.ok else "refused"
        pending.error = ack.error
        return pending

    def read_ack(self, text: str | bytes) -> Pending | None:
        """:meth:`on_ack` of a received text (None unless it opens as an ack of the study)."""
        try:
            doc = parse(text)
            header = read_header(doc)
            if header.type != "ack" or header.study != self.study_id:
                return None
            return self.on_ack(header, self.sealer.open(header, doc))
        except Refused:
            return None

    def due(self) -> tuple[list[Pending], list[Pending]]:
        """(commands to send again now, commands that just failed)."""
        now = self.clock()
        again, failed = [], []
        for p in self.commands.values():
            if p.state != "pending":
                continue
            if now - p.first_sent >= self.valid_s + SKEW_S:
                p.state = "failed"
                p.error = f"not acknowledged after {p.tries} tries (valid {self.valid_s:g} s)"
                failed.append(p)
            elif p.tries < self.tries and now - p.sent_at >= self.retry_s:
                p.tries += 1
                p.sent_at = now
                again.append(p)
        return again, failed

    def unacknowledged(self) -> list[Pending]:
        return [p for p in self.commands.values() if p.state in ("pending", "failed")]
