"""The monitor's sources turned into one stream buffer per signal kind.

The monitor is handed buffers (tests, the app's own plots) and stream
descriptions (discovery) alike. Buffers are used as they are; descriptions go
through channel selection (:func:`sensors.acquire.channels.choose_sources`)
and a :class:`~sensors.acquire.buffer.StreamBuffer` is opened on each chosen
channel with its unit conversion. This is the one place that needs both the
selection rules and the buffers, so neither has to know the other.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from sensors.acquire.buffer import StreamBuffer
from sensors.acquire.channels import ChannelChoice, choose_sources
from sensors.acquire.streams import StreamDescription


def build_buffers(
    sources: Iterable[Any], bufsize_s: float, pins: Mapping[str, Any] | None = None
) -> tuple[dict[str, Any], list[Any], list[str], list[ChannelChoice]]:
    """The monitor's buffers: ``(kind -> buffer, buffers opened here, notes, choices)``.

    Buffers handed in are used as they are (first per kind); stream
    descriptions go through :func:`choose_sources`, and a buffer is opened on
    each chosen channel with its unit conversion.
    """
    buffers: dict[str, Any] = {}
    owned: list[Any] = []
    notes: list[str] = []
    descs: list[StreamDescription] = []
    for src in sources:
        if isinstance(src, StreamBuffer):
            kind = src.kind
            if kind is None or kind in buffers:
                notes.append(f"{src.name} ({kind or 'not ECG/PPG/EDA'})")
                continue
            buffers[kind] = src
        elif isinstance(src, StreamDescription):
            descs.append(src)
        else:  # a resolved pylsl.StreamInfo
            descs.append(StreamDescription.from_info(src))
    sel = choose_sources(descs, pins, taken=buffers)
    for kind, choice in sel.choices.items():
        conv = None if choice.conversion.is_identity else choice.conversion
        buf = StreamBuffer(
            choice.stream, bufsize_s=bufsize_s, channel=choice.channel, kind=kind, convert=conv
        )
        buffers[kind] = buf
        owned.append(buf)
    return buffers, owned, notes + sel.notes, list(sel.choices.values())
