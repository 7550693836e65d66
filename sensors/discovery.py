"""Find physiological LSL streams on the lab network and say what they carry.

Vendors label their streams inconsistently: an EDA stream may be typed
``EDA``, ``GSR`` or a vendor word, with the modality only in the name
(``"Shimmer GSR"``, ``"E4 BVP"``). Discovery therefore classifies each stream
by its type first and its name second, and normalises the result to one of
the kinds the rest of ``sensors`` reasons about: waveforms ``ecg``, ``ppg``,
``eda``, and the beat-level cardiac sources ``ibi`` (beat-to-beat intervals,
an irregular RR stream) and ``hr`` (heart rate only).

A stream's kind is only a first guess: lab devices publish several signals
in one stream, described channel by channel in ``desc/channels/channel``
(``label``, ``type``, ``unit``: the XDF convention). :func:`find_streams`
therefore fetches each stream's full description (resolving returns only the
header) and :mod:`sensors.channels` decides, from that metadata, which
channel carries what.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass, field

import pylsl

KINDS: tuple[str, ...] = ("ecg", "ppg", "eda")
SOURCE_KINDS: tuple[str, ...] = (*KINDS, "ibi", "hr")

# Words that identify a modality, as seen in stream types and names of common
# LSL apps (BrainProducts, Shimmer, Empatica E4 bridges, BITalino/OpenSignals,
# Polar H10 bridges). Matched as whole tokens, case-insensitive.
_KIND_WORDS: dict[str, tuple[str, ...]] = {
    # beat-level sources first: "pulse rate" is a heart rate, not a PPG
    "ibi": ("ibi", "ibis", "rr", "rri", "nn", "interbeat", "rrinterval", "rrintervals"),
    "hr": ("hr", "bpm", "heartrate", "pulserate"),
    "ecg": ("ecg", "ekg", "electrocardiogram", "electrocardiography"),
    "ppg": ("ppg", "bvp", "pulse", "photoplethysmogram", "photoplethysmography", "pleth"),
    "eda": ("eda", "gsr", "scr", "scl", "electrodermal", "skinconductance", "skin_conductance"),
}

_GLUABLE = {
    "ecg",
    "ekg",
    "ppg",
    "bvp",
    "gsr",
    "electrodermal",
    "skinconductance",
    "heartrate",
    "pulserate",
    "interbeat",
}

_FORMAT_NAMES = {
    pylsl.cf_float32: "float32",
    pylsl.cf_double64: "double64",
    pylsl.cf_string: "string",
    pylsl.cf_int32: "int32",
    pylsl.cf_int16: "int16",
    pylsl.cf_int8: "int8",
    pylsl.cf_int64: "int64",
}


def _tokens(text: str) -> set[str]:
    """Words of a label, splitting on punctuation, digits and camel case ("ShimmerEDA01")."""
    words = re.findall(r"[A-Z]+(?![a-z])|[A-Z]?[a-z]+", text)
    return {w.lower() for w in words}


def kind_of(stream_type: str, name: str = "") -> str | None:
    """The normalised kind (``ecg``/``ppg``/``eda``/``ibi``/``hr``) of a stream, or None.

    The type wins over the name: a stream typed ``EDA`` named ``"ECG box"`` is EDA.
    Whole words only, so that ``"Medal"`` is not EDA; the unambiguous acronyms
    (``ecg``, ``gsr``, ``bvp``, ...) also count when glued to other letters.
    """
    for text in (stream_type, name):
        tokens = _tokens(text)
        squashed = re.sub(r"[^a-z]", "", text.lower())
        for kind, words in _KIND_WORDS.items():
            if tokens.intersection(words) or squashed in words:
                return kind
            if any(w in squashed for w in words if w in _GLUABLE):
                return kind
    return None


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
    (:func:`full_info`), and are what :mod:`sensors.channels` selects by.
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
    (:func:`sensors.channels.plan_stream`), so a multi-channel hub typed
    ``"Biosignals"`` with an ECG channel is found. ``kinds`` takes type words
    (``"GSR"`` counts as EDA, ``"RR"`` as IBI); ``None`` means every kind.
    ``name_pattern`` is a case-insensitive regular expression searched in the
    stream name (e.g. a test's unique prefix). Results are sorted by kind,
    name and source id so that repeated calls list them in the same order.
    """
    from sensors.channels import plan_stream

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
