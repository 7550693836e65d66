"""Find physiological LSL streams on the lab network and say what they carry.

Vendors label their streams inconsistently: an EDA stream may be typed
``EDA``, ``GSR`` or a vendor word, with the modality only in the name
(``"Shimmer GSR"``, ``"E4 BVP"``). Discovery therefore classifies each stream
by its type first and its name second, and normalises the result to one of
three kinds, ``ecg``, ``ppg`` or ``eda``, which is what the rest of
``sensors`` reasons about. Streams that match neither are left out.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass, field

import pylsl

KINDS: tuple[str, ...] = ("ecg", "ppg", "eda")

# Words that identify a modality, as seen in stream types and names of common
# LSL apps (BrainProducts, Shimmer, Empatica E4 bridges, BITalino/OpenSignals,
# Polar H10 bridges). Matched as whole tokens, case-insensitive.
_KIND_WORDS: dict[str, tuple[str, ...]] = {
    "ecg": ("ecg", "ekg", "electrocardiogram", "electrocardiography"),
    "ppg": ("ppg", "bvp", "pulse", "photoplethysmogram", "photoplethysmography", "pleth"),
    "eda": ("eda", "gsr", "scr", "scl", "electrodermal", "skinconductance", "skin_conductance"),
}

_GLUABLE = {"ecg", "ekg", "ppg", "bvp", "gsr", "electrodermal", "skinconductance"}

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
    """The normalised kind (``ecg``/``ppg``/``eda``) of a stream, or None.

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
class StreamDescription:
    """What a resolved LSL stream is, plus the ``info`` needed to open an inlet."""

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

    @classmethod
    def from_info(cls, info: pylsl.StreamInfo) -> StreamDescription:
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
        )

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
        return set(KINDS)
    wanted = set()
    for k in kinds:
        kind = kind_of(k)
        if kind is None:
            raise ValueError(f"unknown stream kind {k!r}; use one of ECG, PPG, EDA, GSR")
        wanted.add(kind)
    return wanted


def find_streams(
    timeout: float = 1.0,
    kinds: Iterable[str] | None = ("ECG", "PPG", "EDA", "GSR"),
    name_pattern: str | None = None,
) -> list[StreamDescription]:
    """Resolve ECG/PPG/EDA streams visible within ``timeout`` seconds.

    ``kinds`` takes stream-type words (``"GSR"`` counts as EDA); ``None`` means
    all three kinds. ``name_pattern`` is a case-insensitive regular expression
    searched in the stream name (e.g. a test's unique prefix). Results are
    sorted by kind, name and source id so that repeated calls list them in the
    same order.
    """
    wanted = _normalise_kinds(kinds)
    pattern = re.compile(name_pattern, re.IGNORECASE) if name_pattern else None
    found: dict[str, StreamDescription] = {}
    for info in pylsl.resolve_streams(wait_time=timeout):
        desc = StreamDescription.from_info(info)
        if desc.kind not in wanted:
            continue
        if pattern is not None and not pattern.search(desc.name):
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
    return StreamDescription.from_info(newest)
