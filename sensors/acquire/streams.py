"""What an LSL stream is: its header, its channel metadata, and how to reach it again.

A resolved stream gives only its header; lab devices describe their
channels in ``desc/channels/channel`` (``label``, ``type``, ``unit``: the XDF
convention), which comes from the outlet itself. :class:`StreamDescription`
holds both, plus the resolved ``info`` an inlet is opened with, and is what
channel selection (:mod:`sensors.acquire.channels`) and the buffers read.
:func:`find_stream` reaches one known stream again (reconnection, tests).
"""

from __future__ import annotations

from dataclasses import dataclass, field

import pylsl

from sensors.kinds import kind_of

_FORMAT_NAMES = {
    pylsl.cf_float32: "float32",
    pylsl.cf_double64: "double64",
    pylsl.cf_string: "string",
    pylsl.cf_int32: "int32",
    pylsl.cf_int16: "int16",
    pylsl.cf_int8: "int8",
    pylsl.cf_int64: "int64",
}


@dataclass(frozen=True)
class Channel:
    """One channel as the stream's metadata describes it (empty strings when it does not)."""

    index: int
    label: str = ""
    type: str = ""
    unit: str = ""
    resolution: int | None = None  # bits of a raw ADC channel, when published


def read_channels(info: pylsl.StreamInfo) -> tuple[Channel, ...]:
    """The ``desc/channels/channel`` entries of a stream (empty when it publishes none)."""
    chans = info.desc().child("channels")
    if chans.empty():
        return ()
    out = []
    ch = chans.child("channel")
    while not ch.empty() and len(out) < info.channel_count():
        bits = ch.child_value("resolution").strip()
        out.append(
            Channel(
                index=len(out),
                label=ch.child_value("label").strip(),
                type=ch.child_value("type").strip(),
                unit=ch.child_value("unit").strip(),
                resolution=int(bits) if bits.isdigit() else None,
            )
        )
        ch = ch.next_sibling("channel")
    return tuple(out)


def full_info(info: pylsl.StreamInfo, timeout: float = 1.0) -> pylsl.StreamInfo:
    """The stream's full description, metadata included, or ``info`` when it cannot be had.

    Resolving returns only a stream's header; ``desc()`` (channel labels,
    types, units, manufacturer) comes from the outlet itself, through an inlet.
    """
    if not info.desc().child("channels").empty():
        return info
    try:
        inlet = pylsl.StreamInlet(info, recover=False)
        try:
            return inlet.info(timeout=timeout)
        finally:
            inlet.close_stream()
    except Exception:  # noqa: BLE001 - an unreachable outlet keeps its header only
        return info


@dataclass(frozen=True)
class StreamDescription:
    """What a resolved LSL stream is, plus the ``info`` needed to open an inlet.

    ``kind`` is the stream-level guess from its type and name; ``channels``
    and ``manufacturer`` come from its metadata, when it was fetched
    (:func:`full_info`), and are what :mod:`sensors.acquire.channels` selects by.
    """

    name: str
    type: str
    kind: str | None
    channel_count: int
    nominal_srate: float
    source_id: str
    hostname: str
    uid: str
    channel_format: str = "float32"
    info: pylsl.StreamInfo | None = field(default=None, repr=False, compare=False)
    channels: tuple[Channel, ...] = field(default=(), compare=False)
    manufacturer: str = field(default="", compare=False)

    @classmethod
    def from_info(
        cls, info: pylsl.StreamInfo, meta: pylsl.StreamInfo | None = None
    ) -> StreamDescription:
        """From a resolved ``info``; ``meta``: its full description, when fetched."""
        meta = meta or info
        return cls(
            name=info.name(),
            type=info.type(),
            kind=kind_of(info.type(), info.name()),
            channel_count=info.channel_count(),
            nominal_srate=float(info.nominal_srate()),
            source_id=info.source_id(),
            hostname=info.hostname(),
            uid=info.uid(),
            channel_format=_FORMAT_NAMES.get(info.channel_format(), "unknown"),
            info=info,
            channels=read_channels(meta),
            manufacturer=meta.desc().child_value("manufacturer").strip(),
        )

    @classmethod
    def fetch(cls, info: pylsl.StreamInfo, timeout: float = 1.0) -> StreamDescription:
        """Like :meth:`from_info`, after fetching the full metadata from the outlet.

        The resolved ``info`` is kept for opening inlets: the copy an inlet
        returns lacks the address it was reached at.
        """
        return cls.from_info(info, full_info(info, timeout))

    def as_row(self) -> dict[str, object]:
        """The printable fields, for tables and JSON."""
        return {
            "name": self.name,
            "type": self.type,
            "kind": self.kind or "",
            "channels": self.channel_count,
            "srate": self.nominal_srate,
            "format": self.channel_format,
            "source_id": self.source_id,
            "host": self.hostname,
        }


def find_stream(
    *, source_id: str | None = None, name: str | None = None, timeout: float = 2.0
) -> StreamDescription | None:
    """The one stream with this source id (or, without one, this exact name), or None.

    Resolving by property returns as soon as the stream answers, so this is the
    fast way to open a known stream (tests, reconnection).
    """
    if source_id:
        prop, value = "source_id", source_id
    elif name:
        prop, value = "name", name
    else:
        raise ValueError("find_stream needs a source_id or a name")
    infos = pylsl.resolve_byprop(prop, value, 1, timeout)
    if not infos:
        return None
    # A restarted source keeps its source id but gets a new uid; the newest wins.
    newest = max(infos, key=lambda i: i.created_at())
    return StreamDescription.fetch(newest, timeout=min(1.0, max(timeout, 0.2)))
