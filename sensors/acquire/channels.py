"""Which channel of which stream carries each signal, decided from the stream's metadata.

Lab devices rarely publish one signal per stream in channel 0. A BITalino or
biosignalsplux hub sends a sequence counter first, then its analog inputs; a
Shimmer GSR unit sends skin resistance and conductance side by side; a chest
strap sends beat-to-beat intervals, a wristband's bridge only a heart rate.
What each channel is, is written in the stream's description
(``desc/channels/channel`` with ``label``, ``type`` and ``unit``, the XDF
convention), so that is what is read, never the position:

1. A channel whose **type** names a signal (``ECG``, ``PPG``/``BVP``,
   ``EDA``/``GSR``, ``RR``/``IBI``, ``HR``) is that signal. A type that names
   something else (``Counter``, ``ACC``, ``Gyro``, ``Temperature``, ...) rules
   the channel out. A generic type (``MISC``, empty) defers to the label,
   then to a telling unit (``bpm`` is a heart rate, ``uS`` or ``kOhm`` skin
   conductance or resistance).
2. When a stream has several channels of one kind, the first convertible one
   is used; for EDA, conductance units come before resistance, and both
   before raw ADC codes.
3. A stream whose metadata names no signal at all, but whose type or name
   does (``type="ECG"``), uses its first channel that is not a counter, a
   time stamp or a motion sensor (the stream type is trusted over channel
   types copied from a template); a stream without channel metadata uses
   channel 0.
4. Across streams, the first stream offering a kind wins (streams are
   sorted by name). A heart-rate-only source is used only when nothing gives
   beats (ECG, PPG or intervals): a mean heart rate is all it can tell.
5. The protocol's ``[sensors.pins]`` overrides all of this for a kind: it
   names the stream and the channel label (and may set the unit or device).

Values are converted to each kind's unit by :mod:`sensors.kinds.units`; the
monitor's buffers are opened on the chosen channels by
:func:`sensors.acquire.connect.build_buffers`.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from labmrt.errors import LabmrtError, Problem
from sensors.acquire.streams import Channel, StreamDescription
from sensors.kinds import (
    SOURCE_KINDS,
    Conversion,
    UnitError,
    conversion_for,
    device_family,
    kind_of,
    label_words,
)

BEAT_SOURCES: tuple[str, ...] = ("ecg", "ppg", "ibi")

# words of channel types/labels that are not physiological signals labmrt reads
_NOT_SIGNAL: dict[str, tuple[str, ...]] = {
    "a counter": (
        "counter",
        "count",
        "nseq",
        "seq",
        "sequence",
        "index",
        "sampleindex",
        "samplenumber",
        "packet",
        "framecounter",
    ),
    "a time stamp": ("timestamp", "time", "clock", "unixtime", "localtime"),
    "a motion sensor": (
        "acc",
        "accx",
        "accy",
        "accz",
        "accel",
        "accelerometer",
        "acceleration",
        "gyro",
        "gyroscope",
        "mag",
        "magnetometer",
        "imu",
        "motion",
        "orientation",
        "quaternion",
    ),
    "another measure": (
        "temp",
        "temperature",
        "skt",
        "resp",
        "respiration",
        "emg",
        "eeg",
        "eog",
        "spo",
        "battery",
        "marker",
        "markers",
        "trigger",
        "event",
        "status",
        "digital",
        "button",
    ),
}
_NEVER_SIGNAL = ("a counter", "a time stamp", "a motion sensor")
_EDA_CONDUCTANCE = re.compile(r"siemens|^[unm]?s$", re.IGNORECASE)
_RESISTANCE = re.compile(r"ohm|Ω", re.IGNORECASE)


def _not_signal(text: str) -> str | None:
    """What kind of non-signal channel ``text`` names, or None."""
    if not text:
        return None
    tokens = label_words(text) | {re.sub(r"[^a-z]", "", text.lower())}
    for what, words in _NOT_SIGNAL.items():
        if tokens.intersection(words):
            return what
    return None


def _unit_kind(unit: str) -> str | None:
    u = unit.strip().lower().replace("µ", "u").replace("μ", "u")
    if u in ("bpm", "beats/min", "1/min"):
        return "hr"
    if u in ("us", "microsiemens", "ns", "nanosiemens") or _RESISTANCE.search(unit):
        return "eda"
    return None


def classify_channel(ch: Channel) -> tuple[str | None, str]:
    """``(kind or None, why)`` for one channel, by its type, then label, then unit."""
    if ch.type:
        kind = kind_of(ch.type)
        if kind is not None:
            return kind, f"typed {ch.type!r}"
        what = _not_signal(ch.type)
        if what is not None:
            return None, f"typed {ch.type!r}: {what}"
    if ch.label:
        what = _not_signal(ch.label)
        kind = kind_of(ch.label)
        if kind is not None and what is None:
            return kind, f"labelled {ch.label!r}"
        if what is not None:
            return None, f"labelled {ch.label!r}: {what}"
    kind = _unit_kind(ch.unit)
    if kind is not None:
        return kind, f"unit {ch.unit!r}"
    shown = ch.label or ch.type or f"#{ch.index}"
    return None, f"{shown!r}: metadata names no ECG, PPG, EDA, RR or HR signal"


@dataclass(frozen=True)
class ChannelChoice:
    """One channel chosen to feed one kind, with its conversion and the reason."""

    stream: StreamDescription
    kind: str
    channel: int
    label: str
    unit: str
    conversion: Conversion
    reason: str
    pinned: bool = False

    def describe(self) -> str:
        label = f" {self.label!r}" if self.label else ""
        return (
            f"{self.kind.upper()} <- {self.stream.name!r} channel {self.channel}{label} "
            f"[{self.conversion.describe()}]: {self.reason}"
        )

    def as_row(self) -> dict[str, object]:
        return {
            "kind": self.kind,
            "stream": self.stream.name,
            "source_id": self.stream.source_id,
            "channel": self.channel,
            "label": self.label,
            "unit": self.unit,
            "conversion": self.conversion.describe(),
            "reason": self.reason,
            "pinned": self.pinned,
        }


@dataclass
class StreamPlan:
    """What one stream offers: the chosen channel per kind, and every channel left out."""

    stream: StreamDescription
    choices: list[ChannelChoice] = field(default_factory=list)
    ignored: list[tuple[int, str, str]] = field(default_factory=list)  # index, label, why


def _conversion(
    desc: StreamDescription,
    kind: str,
    unit: str,
    bits: int | None,
    device: str | None = None,
) -> Conversion:
    raw_ints = desc.channel_format.startswith("int") and not unit.strip()
    family = device or device_family(desc.name, desc.type, desc.manufacturer)
    looks_raw = unit.strip().lower() in ("raw", "adc", "counts", "digital", "lsb") or raw_ints
    return conversion_for(kind, unit, device=family if looks_raw or device else None, bits=bits)


def _eda_rank(ch: Channel) -> int:
    if _EDA_CONDUCTANCE.search(ch.unit.strip()):
        return 0
    if _RESISTANCE.search(ch.unit):
        return 1
    return 2


def plan_stream(desc: StreamDescription) -> StreamPlan:
    """The channels of ``desc`` that carry signals, by its metadata (see the module doc)."""
    plan = StreamPlan(desc)
    if desc.channel_format in ("string", "unknown"):
        return plan
    found: dict[str, list[tuple[Channel, str]]] = {}
    unknown: list[Channel] = []
    for ch in desc.channels:
        kind, why = classify_channel(ch)
        if kind in SOURCE_KINDS:
            found.setdefault(kind, []).append((ch, why))
        else:
            plan.ignored.append((ch.index, ch.label, why))
            if not why.endswith(_NEVER_SIGNAL):
                unknown.append(ch)
    by_stream_type = not found
    if not desc.channels and desc.kind is not None:
        ch = Channel(0)
        found[desc.kind] = [
            (ch, f"stream typed/named {desc.type!r}/{desc.name!r}; no channel metadata: channel 0")
        ]
    elif not found and desc.kind is not None and unknown:
        ch = unknown[0]
        plan.ignored = [i for i in plan.ignored if i[0] != ch.index]
        found[desc.kind] = [
            (
                ch,
                f"stream typed/named {desc.type!r}/{desc.name!r}; its first channel "
                "that is not a counter or motion sensor",
            )
        ]
    for kind, cands in found.items():
        if kind == "eda":
            cands = sorted(cands, key=lambda c: _eda_rank(c[0]))
        chosen = None
        for ch, why in cands:
            if chosen is not None:
                plan.ignored.append(
                    (ch.index, ch.label, f"{kind.upper()} is read from channel {chosen.channel}")
                )
                continue
            try:
                conv = _conversion(desc, kind, ch.unit, ch.resolution)
            except UnitError as err:
                if not by_stream_type:
                    plan.ignored.append((ch.index, ch.label, str(err)))
                    continue
                # the metadata is a template's (it does not even name the signal)
                conv = Conversion(kind, ch.unit, note=f"unit does not fit {kind.upper()}, as is")
            chosen = ChannelChoice(desc, kind, ch.index, ch.label, ch.unit, conv, why)
            plan.choices.append(chosen)
    plan.choices.sort(key=lambda c: SOURCE_KINDS.index(c.kind))
    return plan


def _pin_field(pin: Any, name: str) -> Any:
    return pin.get(name) if isinstance(pin, Mapping) else getattr(pin, name, None)


def pinned_choice(kind: str, pin: Any, descriptions: Iterable[StreamDescription]) -> ChannelChoice:
    """The channel the protocol's ``[sensors.pins.<kind>]`` names; a clear error when absent.

    ``pin`` has ``stream`` (the stream name, case-insensitive), ``channel``
    (a channel label, case-insensitive, or the channel index for a stream
    without channel metadata) and optionally ``unit``, ``device`` and
    ``resolution_bits``.
    """
    where = f"[sensors.pins.{kind}]"
    stream_name = str(_pin_field(pin, "stream") or "")
    label = str(_pin_field(pin, "channel") or "")
    descs = list(descriptions)
    match = [d for d in descs if d.name.lower() == stream_name.lower()]
    if not match:
        seen = ", ".join(sorted({repr(d.name) for d in descs})) or "none"
        raise LabmrtError(
            Problem(
                f"{where} stream",
                f"no stream named {stream_name!r} is available (streams seen: {seen})",
                "start the device, or correct the name as `labmrt sensors list --all` shows it",
            )
        )
    desc = match[0]
    channel = next((c for c in desc.channels if c.label.lower() == label.lower()), None)
    if (
        channel is None
        and not desc.channels
        and label.isdigit()
        and int(label) < desc.channel_count
    ):
        channel = Channel(int(label))
    if channel is None:
        labels = ", ".join(repr(c.label) for c in desc.channels if c.label)
        hint = (
            f"its channels are {labels}"
            if labels
            else f"it has no channel labels; give an index 0-{desc.channel_count - 1}"
        )
        raise LabmrtError(
            Problem(
                f"{where} channel",
                f"stream {desc.name!r} has no channel {label!r} ({hint})",
                "use one of those labels",
            )
        )
    unit = _pin_field(pin, "unit")
    unit = channel.unit if unit is None else str(unit)
    bits = _pin_field(pin, "resolution_bits") or channel.resolution
    try:
        conv = _conversion(desc, kind, unit, bits, _pin_field(pin, "device"))
    except UnitError as err:
        raise LabmrtError(
            Problem(f"{where} unit", str(err), "set unit (and device for raw ADC values)")
        ) from None
    return ChannelChoice(
        desc,
        kind,
        channel.index,
        channel.label,
        unit,
        conv,
        f"pinned as {kind} ([sensors.pins] or --pin)",
        True,
    )


@dataclass
class Selection:
    """The channel used for each kind, and why every other candidate is not."""

    choices: dict[str, ChannelChoice] = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)
    plans: list[StreamPlan] = field(default_factory=list)


def choose_sources(
    descriptions: Iterable[StreamDescription],
    pins: Mapping[str, Any] | None = None,
    *,
    taken: Iterable[str] = (),
) -> Selection:
    """One channel per kind across ``descriptions`` (rules 1-5 of the module doc).

    ``taken``: kinds already served (buffers handed to the monitor directly).
    """
    descs = list(descriptions)
    sel = Selection()
    taken = set(taken)
    for kind, pin in (pins or {}).items():
        if pin is None:
            continue
        sel.choices[kind] = pinned_choice(kind, pin, descs)
    for desc in descs:
        plan = plan_stream(desc)
        sel.plans.append(plan)
        if not plan.choices:
            sel.notes.append(f"{desc.name} (no ECG, PPG, EDA, RR or HR channel)")
        for choice in plan.choices:
            if choice.kind in taken:
                continue
            current = sel.choices.get(choice.kind)
            if current is None:
                sel.choices[choice.kind] = choice
            elif current.stream.uid != desc.uid or current.channel != choice.channel:
                sel.notes.append(
                    f"{desc.name} channel {choice.channel} ({choice.kind.upper()}): "
                    f"{choice.kind.upper()} is read from {current.stream.name} "
                    f"channel {current.channel}"
                )
    hr = sel.choices.get("hr")
    beats = [k for k in BEAT_SOURCES if k in sel.choices or k in taken]
    if hr is not None and not hr.pinned and beats:
        del sel.choices["hr"]
        sel.notes.append(
            f"{hr.stream.name} channel {hr.channel} (HR only): {beats[0].upper()} gives beats"
        )
    return sel


def signal_summary(desc: Any) -> tuple[list[str], str]:
    """``(kinds, explanation)`` of one stream, for pickers: what it carries and from where.

    Objects that are not a :class:`StreamDescription` (a picker's test
    doubles) answer with their stream-level ``kind``.
    """
    if not isinstance(desc, StreamDescription):
        kind = getattr(desc, "kind", None)
        return ([kind] if kind else []), ""
    plan = plan_stream(desc)
    lines = [
        f"channel {c.channel} {c.label!r} -> {c.kind.upper()} [{c.conversion.describe()}]: "
        f"{c.reason}"
        for c in plan.choices
    ]
    lines += [f"channel {i} {lbl!r} not used: {why}" for i, lbl, why in plan.ignored]
    return [c.kind for c in plan.choices], "\n".join(lines)


def pin_problems(pins: Mapping[str, Any], where: str = "") -> list[Problem]:
    """What can be checked of ``[sensors.pins]`` without the streams: unit and device.

    ``labmrt validate`` reports these before a study starts; the stream and
    channel are checked when the monitor meets the streams.
    """
    problems = []
    for kind, pin in pins.items():
        unit = _pin_field(pin, "unit")
        device = _pin_field(pin, "device")
        if unit is None and device is None:
            continue
        try:
            conversion_for(
                kind, str(unit or "raw"), device=device, bits=_pin_field(pin, "resolution_bits")
            )
        except UnitError as err:
            problems.append(
                Problem(
                    f"{where}sensors.pins.{kind}",
                    str(err),
                    "set unit (and device for raw ADC values)",
                )
            )
    return problems
