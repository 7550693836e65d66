"""A station's heartbeat: what it says every second, how it is checked, who may say it.

The heartbeat is sealed like a command (:mod:`labmrt.lab.envelope`): its
header carries the station name and a **per-station sequence number** (the
station's clock in milliseconds, at least one above the last it sent, so it
keeps rising across restarts); its sealed body carries everything the lab
view shows (participant, session status, phase, task k of N, affective state,
P(aroused), features, signal quality, warnings, interrupted participants) and
what the console needs to command the station (its folder id, its clock, the
last command sequence number it ran). On the network it is a few hundred
bytes of ciphertext.

:class:`Heartbeat` is the body's schema (pydantic, strict: types, sizes,
names and ranges); the station clips what it sends to it
(:func:`heartbeat_body`) and the console refuses whatever does not fit.
:class:`Claims` is the console's rule that a station name is spoken for by
one stream at a time: the first stream whose heartbeat opens and whose
``source_id`` is the station's holds the name; a second stream claiming it
while the first is heard from (a second workstation started with the same
name, or someone replaying) is refused and reported as a conflict; when the
holder's stream vanishes or falls silent for ``offline_s``, the name is free
again. Heartbeats whose sequence number is not above the last accepted one
for that name (a recorded heartbeat played back, on any stream) are refused
before that, so a replay is no conflict.
"""

from __future__ import annotations

import math
import re
from typing import Annotated, Any, Literal

from pydantic import AfterValidator, BaseModel, ConfigDict, Field

from labmrt.lab.envelope import MAX_SEQ
from labmrt.lab.wire import MAX_REASON, Code, check_code
from labmrt.store.database import STATUSES as SESSION_STATUSES

#: A station's own states, the stored session statuses, and an engine that failed.
STATUSES = ("idle", "starting", *SESSION_STATUSES, "failed")
MAX_WARNINGS = 10
MAX_FEATURES = 16
MAX_QUALITY = 8
MAX_INTERRUPTED = 50
MAX_TASKS = 100_000
_KEY = re.compile(r"^[A-Za-z][A-Za-z0-9_]{0,31}$")


def _key(value: str) -> str:
    if not _KEY.match(value):
        raise ValueError("not a feature or stream name")
    return value


def _code_or_empty(value: str) -> str:
    return value if value == "" else check_code(value)


Key = Annotated[str, AfterValidator(_key)]
Text = Annotated[str, Field(max_length=MAX_REASON)]
Unit = Annotated[float, Field(ge=0.0, le=1.0)]
Count = Annotated[int, Field(ge=0, le=MAX_TASKS)]


class Heartbeat(BaseModel):
    """The sealed body of a station's status message (see the module docstring)."""

    model_config = ConfigDict(extra="forbid", strict=True, allow_inf_nan=False, frozen=True)

    protocol_hash: Annotated[str, Field(pattern=r"^[0-9a-f]{1,64}$")]
    folder: Annotated[str, Field(pattern=r"^[0-9a-f]{0,64}$")]
    beat: Annotated[int, Field(ge=0, lt=MAX_SEQ)]
    t: float
    status: Literal[STATUSES]  # type: ignore[valid-type]
    participant: Annotated[str, AfterValidator(_code_or_empty)] = ""
    session: Annotated[int, Field(ge=0, lt=MAX_SEQ)] | None = None
    phase: Annotated[str, Field(max_length=32)] = ""
    task_k: Count = 0
    task_n: Count = 0
    resumed: bool = False
    reason: Text = ""
    affect_state: Literal["calm", "aroused", "unknown"] = "unknown"
    p_aroused: Unit | None = None
    state_t: float | None = None
    features: Annotated[dict[Key, float | None], Field(max_length=MAX_FEATURES)] = {}
    state_reason: Text = ""
    quality: Annotated[dict[Key, Unit], Field(max_length=MAX_QUALITY)] = {}
    warnings: Annotated[list[Text], Field(max_length=MAX_WARNINGS)] = []
    interrupted: Annotated[list[Code], Field(max_length=MAX_INTERRUPTED)] = []
    last_seq: Annotated[int, Field(ge=0, lt=MAX_SEQ)] = 0


def _number(value: Any, low: float | None = None, high: float | None = None) -> float | None:
    if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value):
        return None
    value = float(value)
    if low is not None:
        value = max(low, value)
    if high is not None:
        value = min(high, value)
    return value


def _text(value: Any, limit: int = MAX_REASON) -> str:
    text = str(value or "")
    return text if len(text) <= limit else text[: limit - 3] + "..."


def heartbeat_body(doc: dict[str, Any]) -> dict[str, Any]:
    """``doc`` cut to what :class:`Heartbeat` allows (the station sends nothing the console drops).

    Long texts and lists are shortened, numbers out of range clamped or left out,
    names that are not names left out; the result validates.
    """
    out = dict(doc)
    for key in ("reason", "state_reason"):
        out[key] = _text(out.get(key))
    out["phase"] = _text(out.get("phase"), 32)
    for key in ("task_k", "task_n"):
        value = out.get(key)
        out[key] = int(min(max(value, 0), MAX_TASKS)) if isinstance(value, int) else 0
    out["p_aroused"] = _number(out.get("p_aroused"), 0.0, 1.0)
    out["state_t"] = _number(out.get("state_t"))
    if out.get("affect_state") not in ("calm", "aroused", "unknown"):
        out["affect_state"] = "unknown"
    features = out.get("features") or {}
    out["features"] = {
        k: _number(v) for k, v in list(features.items())[:MAX_FEATURES] if _KEY.match(str(k))
    }
    quality = out.get("quality") or {}
    out["quality"] = {
        k: _number(v, 0.0, 1.0)
        for k, v in list(quality.items())[:MAX_QUALITY]
        if _KEY.match(str(k)) and _number(v) is not None
    }
    warnings = [_text(w) for w in out.get("warnings") or []]
    if len(warnings) > MAX_WARNINGS:
        warnings = warnings[: MAX_WARNINGS - 1] + [f"and {len(warnings) - MAX_WARNINGS + 1} more"]
    out["warnings"] = warnings
    out["interrupted"] = list(out.get("interrupted") or [])[:MAX_INTERRUPTED]
    return Heartbeat.model_validate(out).model_dump()


#: The fields of a heartbeat the live view plots; the console keeps only these in its history.
LIVE_FIELDS = ("t", "state_t", "affect_state", "p_aroused", "features", "quality", "state_reason")


class Claims:
    """Which stream speaks for each station name, and the last heartbeat number accepted."""

    def __init__(self, offline_s: float):
        self.offline_s = offline_s
        self.holder: dict[str, str] = {}  # station name -> stream uid
        self.last: dict[str, int] = {}  # station name -> highest heartbeat seq accepted
        self.heard: dict[str, float] = {}  # station name -> when the holder was last accepted

    def check(self, name: str, uid: str, seq: int, now: float) -> str:
        """'' to accept the heartbeat; else why not.

        'replay': not numbered above the last accepted (on whatever stream it came);
        'conflict': a new heartbeat, but another stream holds the name.
        """
        if seq <= self.last.get(name, -1):
            return "replay"
        holder = self.holder.get(name)
        if holder is not None and holder != uid and now - self.heard[name] <= self.offline_s:
            return "conflict"
        return ""

    def accept(self, name: str, uid: str, seq: int, now: float) -> None:
        self.holder[name] = uid
        self.last[name] = seq
        self.heard[name] = now

    def release(self, uid: str) -> list[str]:
        """A stream vanished: the names it held are free (their sequence numbers stay)."""
        names = [n for n, u in self.holder.items() if u == uid]
        for name in names:
            del self.holder[name]
        return names
