"""Stretches of a recording named by the user: ``START:END`` in seconds, or a marker.

The calibration ranges and the stretch replayed are given as spans; a
recording with markers (an XDF file's marker streams, labmrt's own phase
markers) lets them be named instead.
"""

from __future__ import annotations

import json
import math
import re
from collections.abc import Sequence

from labmrt.errors import LabmrtError, Problem
from sensors.kinds import Span
from sensors.replay.files import Recording

STEP_S = 1.0
# a span may end up to one update past the last sample (a 360 s file's last stamp is 359.99)
EDGE_S = STEP_S


def parse_span(text: str) -> Span | str:
    """``START:END`` in seconds -> ``(start, end)``; anything else is a marker name."""
    m = re.fullmatch(r"\s*([-+]?[\d.]+(?:e[-+]?\d+)?)\s*:\s*([-+]?[\d.]+(?:e[-+]?\d+)?)\s*", text)
    if m is None:
        return text.strip()
    try:
        return float(m.group(1)), float(m.group(2))
    except ValueError:
        return text.strip()


def _marker_event(text: str) -> tuple[str, str] | None:
    """``(event, phase)`` of a labmrt JSON phase marker, else None."""
    if not text.startswith("{"):
        return None
    try:
        doc = json.loads(text)
    except json.JSONDecodeError:
        return None
    if not isinstance(doc, dict) or doc.get("event") not in ("phase_start", "phase_end"):
        return None
    return str(doc["event"]), str(doc.get("phase", ""))


_START_WORDS = ("start", "begin", "onset")
_END_WORDS = ("end", "stop", "offset")


def _marker_role(text: str, name: str) -> str | None:
    """``"start"``/``"end"`` when ``text`` opens/closes span ``name``, ``"only"`` when it is it."""
    event = _marker_event(text)
    if event is not None:
        if event[1].lower() != name.lower():
            return None
        return "start" if event[0] == "phase_start" else "end"
    t, n = text.strip().lower(), name.strip().lower()
    if t == n:
        return "only"
    for role, words in (("start", _START_WORDS), ("end", _END_WORDS)):
        for w in words:
            for sep in ("_", " ", "-", ":", ""):
                if t in (f"{n}{sep}{w}", f"{w}{sep}{n}"):
                    return role
    return None


def marker_span(markers: Sequence[tuple[float, str]], name: str, last: float) -> Span:
    """The span a marker name stands for.

    labmrt's own ``phase_start``/``phase_end`` markers of that phase, or
    plain markers ``NAME_start``/``NAME_end`` (also ``begin``/``stop``, any
    of ``_ -:`` between), or a marker ``NAME`` alone: from it to the next
    marker (or the end of the recording). The first occurrence counts.
    """
    start = None
    for i, (t, text) in enumerate(markers):
        role = _marker_role(text, name)
        if start is None and role == "only":
            after = [m[0] for m in markers[i + 1 :] if m[0] > t]
            return t, after[0] if after else last
        if start is None and role == "start":
            start = t
        elif start is not None and role == "end":
            return start, t
    if start is not None:
        return start, last
    seen = sorted({_marker_event(m[1])[1] if _marker_event(m[1]) else m[1] for m in markers})
    raise LabmrtError(
        f"no marker {name!r} in the recording"
        + (f" (markers: {', '.join(seen[:12])}{' ...' if len(seen) > 12 else ''})" if seen else ""),
        fix="give START:END in seconds, or a marker name that is in the file",
    )


def resolve_span(value: Span | str | None, recording: Recording, option: str) -> Span | None:
    """A span in seconds of the recording, checked to lie inside it."""
    if value is None:
        return None
    first, last = recording.span
    if isinstance(value, str):
        if not recording.markers:
            raise LabmrtError(
                f"{value!r} is not START:END in seconds, and the recording has no markers",
                where=option,
                fix="give the span as START:END, e.g. 420:600",
            )
        try:
            value = marker_span(recording.markers, value, last)
        except LabmrtError as err:
            raise LabmrtError([Problem(option, p.what, p.fix) for p in err.problems]) from None
    a, b = float(value[0]), float(value[1])
    if not (math.isfinite(a) and math.isfinite(b) and a < b):
        raise LabmrtError(
            f"{a:g}:{b:g} is not a time span (START must be before END)", where=option
        )
    if a < first - EDGE_S or b > last + EDGE_S:
        raise LabmrtError(
            f"{a:g}:{b:g} s lies outside the recording ({first:g} to {last:g} s)",
            where=option,
            fix="give a span inside the recording's time",
        )
    return a, b
