"""Find the physiological LSL streams on the lab network.

A stream's type and name are only a first guess at what it carries (a hub
typed ``"Biosignals"`` may hold an ECG channel), so :func:`find_streams`
fetches each stream's full description and keeps it when any of its
channels carries a wanted signal, as :mod:`sensors.acquire.channels` decides
from the channel metadata.
"""

from __future__ import annotations

import re
from collections.abc import Iterable

import pylsl

from sensors.acquire.channels import plan_stream
from sensors.acquire.streams import StreamDescription
from sensors.kinds import SOURCE_KINDS, kind_of


def _normalise_kinds(kinds: Iterable[str] | None) -> set[str]:
    if kinds is None:
        return set(SOURCE_KINDS)
    wanted = set()
    for k in kinds:
        kind = kind_of(k)
        if kind is None:
            raise ValueError(
                f"unknown stream kind {k!r}; use one of ECG, PPG, EDA, GSR, IBI, RR, HR"
            )
        wanted.add(kind)
    return wanted


def find_streams(
    timeout: float = 1.0,
    kinds: Iterable[str] | None = ("ECG", "PPG", "EDA", "GSR", "IBI", "HR"),
    name_pattern: str | None = None,
) -> list[StreamDescription]:
    """Resolve the streams visible within ``timeout`` s that carry a wanted signal.

    A stream counts when any of its channels does, by the channel metadata
    (:func:`sensors.acquire.channels.plan_stream`), so a multi-channel hub typed
    ``"Biosignals"`` with an ECG channel is found. ``kinds`` takes type words
    (``"GSR"`` counts as EDA, ``"RR"`` as IBI); ``None`` means every kind.
    ``name_pattern`` is a case-insensitive regular expression searched in the
    stream name (e.g. a test's unique prefix). Results are sorted by kind,
    name and source id so that repeated calls list them in the same order.
    """
    wanted = _normalise_kinds(kinds)
    pattern = re.compile(name_pattern, re.IGNORECASE) if name_pattern else None
    found: dict[str, StreamDescription] = {}
    for info in pylsl.resolve_streams(wait_time=timeout):
        if pattern is not None and not pattern.search(info.name()):
            continue
        if info.channel_format() == pylsl.cf_string:
            continue  # markers and other text streams carry no signal
        desc = StreamDescription.fetch(info, timeout=max(0.5, timeout))
        if not wanted & {c.kind for c in plan_stream(desc).choices}:
            continue
        found[desc.uid] = desc
    return sorted(found.values(), key=lambda d: (d.kind or "", d.name, d.source_id))
