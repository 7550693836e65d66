"""Signed commands between the console and its stations, without any network.

A command is one JSON object: the study id, the target station, the command
(``start`` with a participant code, ``pause``, ``resume``, ``abort`` with a
reason), a sequence number, and an HMAC-SHA256 (RFC 2104, Python's ``hmac``)
over the canonical JSON of everything else, keyed with the study's secret
(:mod:`labmrt.lab.study`). The secret never travels; a station holding it
accepts a command only when

* it is for this study and this station,
* its MAC verifies (a console of another study or a forger cannot make one),
* its sequence number is higher than every one accepted before (a recorded
  command played back later is refused). The console's numbers start at its
  start time in milliseconds, so a restarted console still counts upwards.

A command arriving again with the sequence number just accepted is a retry
whose acknowledgement was lost: it is acknowledged again and not executed
twice. Everything refused is reported to the station's log with the reason.
Acknowledgements are signed the same way, so only a station of the study can
acknowledge.

The console side (:class:`CommandSender`) keeps every command until it is
acknowledged, sends it again every ``retry_s`` and gives it up as failed
after ``tries`` sendings. Both sides are plain objects driven by the caller's
clock, so the rules are tested without LSL (:mod:`labmrt.lab.transport`
carries the texts).
"""

from __future__ import annotations

import hashlib
import hmac
import json
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

VERSION = 1
COMMANDS = ("start", "pause", "resume", "abort")


def _canonical(payload: dict[str, Any]) -> bytes:
    return json.dumps(payload, sort_keys=True, separators=(",", ":")).encode("utf-8")


def sign(payload: dict[str, Any], secret: bytes) -> str:
    """The JSON text of ``payload`` with its ``mac`` added."""
    body = {k: v for k, v in payload.items() if k != "mac"}
    mac = hmac.new(secret, _canonical(body), hashlib.sha256).hexdigest()
    return json.dumps({**body, "mac": mac}, sort_keys=True, separators=(",", ":"))


def verify(payload: dict[str, Any], secret: bytes) -> bool:
    mac = payload.get("mac")
    if not isinstance(mac, str):
        return False
    body = {k: v for k, v in payload.items() if k != "mac"}
    good = hmac.new(secret, _canonical(body), hashlib.sha256).hexdigest()
    return hmac.compare_digest(mac, good)


def parse(text: str) -> dict[str, Any] | None:
    try:
        doc = json.loads(text)
    except (TypeError, ValueError):
        return None
    return doc if isinstance(doc, dict) else None


@dataclass(frozen=True)
class Command:
    seq: int
    station: str
    cmd: str
    args: dict[str, Any] = field(default_factory=dict)
    console: str = ""


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
    ):
        self.study_id = study_id
        self.secret = secret
        self.station = station
        self.last_seq = 0
        self._log = log or (lambda reason, doc: None)

    def _refuse(self, reason: str, doc: dict[str, Any] | None, text: str) -> Verdict:
        self._log(reason, doc if doc is not None else {"text": text[:200]})
        return Verdict(False, False, refused=reason)

    def check(self, text: str) -> Verdict:
        doc = parse(text)
        if doc is None or doc.get("type") != "command" or doc.get("v") != VERSION:
            return self._refuse("malformed", doc, text)
        if doc.get("study") != self.study_id:
            return self._refuse("another study", doc, text)
        if doc.get("station") != self.station:
            return Verdict(False, False)  # for a colleague station: not ours, not suspicious
        if not verify(doc, self.secret):
            return self._refuse("bad signature", doc, text)
        seq, cmd, args = doc.get("seq"), doc.get("cmd"), doc.get("args")
        if not isinstance(seq, int) or cmd not in COMMANDS or not isinstance(args, dict):
            return self._refuse("malformed", doc, text)
        command = Command(seq, self.station, cmd, args, str(doc.get("console", "")))
        if seq == self.last_seq:
            return Verdict(False, True, command)  # a retry: acknowledge again, run once
        if seq < self.last_seq:
            return self._refuse("replay", doc, text)
        self.last_seq = seq
        return Verdict(True, True, command)

    def ack_text(self, command: Command, ok: bool, error: str = "") -> str:
        return sign(
            {
                "v": VERSION,
                "type": "ack",
                "study": self.study_id,
                "station": self.station,
                "seq": command.seq,
                "cmd": command.cmd,
                "ok": bool(ok),
                "error": str(error),
            },
            self.secret,
        )


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


class CommandSender:
    """The console's side: numbering, signing, retrying, giving up."""

    def __init__(
        self,
        study_id: str,
        secret: bytes,
        console: str = "console",
        *,
        retry_s: float = 1.0,
        tries: int = 5,
        clock: Callable[[], float] = time.monotonic,
        first_seq: int | None = None,
    ):
        self.study_id = study_id
        self.secret = secret
        self.console = console
        self.retry_s = retry_s
        self.tries = tries
        self.clock = clock
        self._seq = int(time.time() * 1000) if first_seq is None else int(first_seq)
        self.commands: dict[int, Pending] = {}

    def at_least(self, seq: int) -> None:
        """Number the next command above ``seq`` (the highest a station says it has run)."""
        self._seq = max(self._seq, int(seq))

    def command(self, station: str, cmd: str, **args: Any) -> Pending:
        if cmd not in COMMANDS:
            raise ValueError(f"unknown command {cmd!r}")
        self._seq += 1
        text = sign(
            {
                "v": VERSION,
                "type": "command",
                "study": self.study_id,
                "station": station,
                "console": self.console,
                "seq": self._seq,
                "cmd": cmd,
                "args": args,
            },
            self.secret,
        )
        pending = Pending(self._seq, station, cmd, dict(args), text, self.clock())
        self.commands[self._seq] = pending
        return pending

    def on_ack(self, text: str) -> Pending | None:
        """The command an acknowledgement answers (None if it is not a valid one of ours)."""
        doc = parse(text)
        if doc is None or doc.get("type") != "ack" or doc.get("study") != self.study_id:
            return None
        if not verify(doc, self.secret):
            return None
        pending = self.commands.get(doc.get("seq"))  # type: ignore[arg-type]
        if pending is None or pending.station != doc.get("station") or pending.state != "pending":
            return None
        pending.state = "acked" if doc.get("ok") else "refused"
        pending.error = str(doc.get("error", ""))
        return pending

    def due(self) -> tuple[list[Pending], list[Pending]]:
        """(commands to send again now, commands that just failed)."""
        now = self.clock()
        again, failed = [], []
        for p in self.commands.values():
            if p.state != "pending" or now - p.sent_at < self.retry_s:
                continue
            if p.tries >= self.tries:
                p.state = "failed"
                p.error = f"not acknowledged after {p.tries} tries"
                failed.append(p)
            else:
                p.tries += 1
                p.sent_at = now
                again.append(p)
        return again, failed

    def unacknowledged(self) -> list[Pending]:
        return [p for p in self.commands.values() if p.state in ("pending", "failed")]
