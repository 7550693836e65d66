"""Bounded logs: what a flood of messages from the network can cost is fixed in advance.

A station's ``commands.log`` lies on the study folder, which the lab shares,
so anyone who can publish an LSL stream could fill that disk if every refused
message were written out. :class:`RateLimit` (a token bucket: ``burst``
entries at once, then ``per_s`` a second) decides which refusals are written;
the next written entry says how many were left out. Each entry is one JSON
line cut to :data:`MAX_ENTRY` characters, and the file is rotated by the
standard library's :class:`logging.handlers.RotatingFileHandler` at
:data:`MAX_BYTES`, keeping :data:`BACKUPS` older files: at most about 4 MB per
station folder, whatever arrives. Accepted commands (which open with the study
key) are always written.
"""

from __future__ import annotations

import json
import logging
import logging.handlers
import threading
import time
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

MAX_ENTRY = 2000  #: characters of one log line at most
MAX_BYTES = 1_000_000  #: size at which the log file is rotated
BACKUPS = 3  #: rotated files kept


class RateLimit:
    """A token bucket: :meth:`allow` is true ``burst`` times at once, then ``per_s`` a second."""

    def __init__(
        self, per_s: float = 0.5, burst: int = 20, clock: Callable[[], float] = time.monotonic
    ):
        self.per_s = per_s
        self.burst = burst
        self.clock = clock
        self._tokens = float(burst)
        self._at = clock()
        self.suppressed = 0  # refused since the last allowed one
        self._lock = threading.Lock()

    def allow(self) -> tuple[bool, int]:
        """(write this one?, how many were left out before it)."""
        with self._lock:
            now = self.clock()
            self._tokens = min(self.burst, self._tokens + (now - self._at) * self.per_s)
            self._at = now
            if self._tokens < 1.0:
                self.suppressed += 1
                return False, 0
            self._tokens -= 1.0
            left_out, self.suppressed = self.suppressed, 0
            return True, left_out


def _line(entry: dict[str, Any]) -> str:
    text = json.dumps(entry, sort_keys=True, default=str, ensure_ascii=True)
    if len(text) <= MAX_ENTRY:
        return text
    short = {k: entry[k] for k in ("at", "refused", "left_out") if k in entry}
    short["cut"] = text[: MAX_ENTRY // 4]  # at most doubled by escaping: the line stays JSON
    return json.dumps(short, sort_keys=True, default=str, ensure_ascii=True)


class CommandLog:
    """A station's ``commands.log``: JSON lines, rotated, refusals rate-limited."""

    def __init__(self, path: Path, limit: RateLimit | None = None):
        self.path = path
        self.limit = limit or RateLimit()
        self._handler = logging.handlers.RotatingFileHandler(
            path, maxBytes=MAX_BYTES, backupCount=BACKUPS, encoding="utf-8", delay=True
        )
        self._handler.setFormatter(logging.Formatter("%(message)s"))

    def write(self, entry: dict[str, Any]) -> None:
        entry = {"at": datetime.now(UTC).isoformat(timespec="milliseconds"), **entry}
        self._handler.handle(logging.makeLogRecord({"msg": _line(entry), "levelno": 20}))

    def refused(self, reason: str, what: dict[str, Any]) -> bool:
        """Write a refusal if the rate allows; whether it was written."""
        ok, left_out = self.limit.allow()
        if ok:
            entry: dict[str, Any] = {"refused": reason, "command": what}
            if left_out:
                entry["left_out"] = left_out
            self.write(entry)
        return ok

    def close(self) -> None:
        self._handler.close()
