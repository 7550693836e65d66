"""Units of each signal kind, and how a channel's values become them.

The feature code works in fixed units: skin conductance in microsiemens (the
0.05 uS SCR criterion and the quality checks' physiological range assume it),
ECG in millivolts, beat-to-beat intervals in seconds and heart rate in beats
per minute. Devices publish whatever their firmware uses, named in the
stream's channel metadata (``desc/channels/channel/unit``, the XDF
convention), so every channel goes through a :class:`Conversion` picked from
that unit. PPG has no physical unit worth converting: beat timing is all that
is read from it.

Raw ADC codes need the device's transfer function. BITalino's are given in
its sensor datasheets (PLUX Wireless Biosignals):

* ECG (*ECG Sensor Data Sheet*, "Transfer function", range +-1.5 mV):
  ``ECG(V) = (ADC / 2**n - 1/2) * VCC / G_ECG`` and ``ECG(mV) = 1000 * ECG(V)``,
  with ``VCC = 3.3 V`` and sensor gain ``G_ECG = 1100``;
* EDA (*Electrodermal Activity (EDA) Sensor User Manual* v1.0, 2020,
  section 1.6 "Transfer Function", range 0-25 uS at VCC = 3.3 V):
  ``EDA(uS) = (ADC / 2**n) * VCC / 0.132``;

``n`` is the channel's resolution in bits: 10 on BITalino's analog inputs
A1-A4, 6 on A5-A6 (the datasheets' footnote). Both are linear, so they are
stored as ``scale * x + offset``.

A skin *resistance* channel (Shimmer-style GSR streams publish one next to
the conductance) is converted by its reciprocal: ``uS = 1e6 / R(Ohm)``.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

import numpy as np

#: The unit every stage works in, per kind (a PPG has no physical unit: kept as published).
TARGET_UNITS: dict[str, str] = {
    "ecg": "mV",
    "ppg": "as published",
    "eda": "uS",
    "ibi": "s",
    "hr": "bpm",
}

# unit word (normalised by _norm) -> factor to the kind's target unit
_LINEAR: dict[str, dict[str, float]] = {
    "ecg": {
        "mv": 1.0,
        "millivolt": 1.0,
        "millivolts": 1.0,
        "uv": 1e-3,
        "microvolt": 1e-3,
        "microvolts": 1e-3,
        "v": 1e3,
        "volt": 1e3,
        "volts": 1e3,
    },
    "eda": {
        "us": 1.0,
        "microsiemens": 1.0,
        "microsiemen": 1.0,
        "usiemens": 1.0,
        "ns": 1e-3,
        "nanosiemens": 1e-3,
        "ms": 1e3,
        "millisiemens": 1e3,
        "s": 1e6,
        "siemens": 1e6,
    },
    "ibi": {
        "s": 1.0,
        "sec": 1.0,
        "secs": 1.0,
        "second": 1.0,
        "seconds": 1.0,
        "ms": 1e-3,
        "msec": 1e-3,
        "millisecond": 1e-3,
        "milliseconds": 1e-3,
        "1/1024s": 1.0 / 1024.0,  # Polar's raw RR resolution
    },
    "hr": {
        "bpm": 1.0,
        "beats/min": 1.0,
        "beatsperminute": 1.0,
        "1/min": 1.0,
        "/min": 1.0,
        "min-1": 1.0,
        "hz": 60.0,
        "1/s": 60.0,
    },
}
# skin resistance unit -> uS = factor / value
_RESISTANCE: dict[str, float] = {
    "ohm": 1e6,
    "ohms": 1e6,
    "kohm": 1e3,
    "kohms": 1e3,
    "kiloohm": 1e3,
    "kiloohms": 1e3,
    "mohm": 1.0,  # skin resistance in milliohms is not a thing: mega
    "mohms": 1.0,
    "megaohm": 1.0,
    "megaohms": 1.0,
    "megohm": 1.0,
}
#: Unit words of raw ADC codes: such a channel needs a device's transfer function (:data:`DEVICES`).
RAW_UNITS = frozenset({"raw", "adc", "counts", "digital", "lsb", "rawadc", "adccounts", "au_raw"})

#: Transfer functions from the datasheets cited in the module docstring.
DEVICES: dict[str, dict[str, object]] = {
    "bitalino": {
        "vcc": 3.3,
        "ecg_gain": 1100.0,
        "eda_divisor": 0.132,
        "default_bits": 10,
        "source": "PLUX BITalino ECG Sensor Data Sheet; BITalino EDA Sensor User Manual v1.0 s.1.6",
    },
}


def _norm(unit: str) -> str:
    u = unit.strip().replace("µ", "u").replace("μ", "u").replace("Ω", "ohm")
    u = re.sub(r"[\s_]+", "", u)
    # mS (millisiemens) and MOhm keep their meaning once lower-cased: see the tables
    return u.lower()


def device_family(*texts: str) -> str | None:
    """The device family named in a stream's name, type or manufacturer, if one is known."""
    joined = " ".join(texts).lower()
    if "bitalino" in joined:
        return "bitalino"
    # OpenSignals also streams PLUX's biosignalsplux, whose transfer functions differ
    if "opensignals" in joined and "plux" not in joined.replace("plux bitalino", ""):
        return "bitalino"
    return None


@dataclass(frozen=True)
class Conversion:
    """How one channel's values become the kind's unit: ``scale * x + offset``,
    ``scale / x`` (resistance), or a per-value ms/s decision (intervals without a unit)."""

    kind: str
    unit_in: str
    mode: str = "linear"  # "linear" | "reciprocal" | "ms_or_s"
    scale: float = 1.0
    offset: float = 0.0
    note: str = ""

    def __call__(self, values: np.ndarray) -> np.ndarray:
        x = np.asarray(values, dtype=float)
        if self.mode == "reciprocal":
            with np.errstate(divide="ignore", invalid="ignore"):
                out = self.scale / x
            return np.where(np.isfinite(out) & (x > 0), out, np.nan)
        if self.mode == "ms_or_s":
            # no interval is 10 s long, nor 10 ms: the magnitude tells the unit
            return np.where(x >= 10.0, x / 1000.0, x)
        if self.scale == 1.0 and self.offset == 0.0:
            return x
        return self.scale * x + self.offset

    @property
    def is_identity(self) -> bool:
        return self.mode == "linear" and self.scale == 1.0 and self.offset == 0.0

    def describe(self) -> str:
        """How the values are read, for ``sensors list`` and the monitor's start-up lines."""
        target = TARGET_UNITS.get(self.kind, "?")
        shown = self.unit_in or "no unit"
        if self.note:
            return f"{shown} -> {target}: {self.note}"
        if self.is_identity:
            return f"{shown} (as is)"
        if self.mode == "reciprocal":
            return f"{shown} -> {target} ({self.scale:g} / x)"
        if self.offset:
            return f"{shown} -> {target} ({self.scale:.6g} * x {self.offset:+.6g})"
        return f"{shown} -> {target} (x {self.scale:g})"


class UnitError(ValueError):
    """A channel's unit cannot be turned into what the features need; the message says why."""


def conversion_for(
    kind: str, unit: str, *, device: str | None = None, bits: int | None = None
) -> Conversion:
    """The :class:`Conversion` for a ``kind`` channel published in ``unit``.

    ``device`` names a family in :data:`DEVICES` for raw ADC channels and
    ``bits`` their resolution (default: the device's usual one). Raises
    :class:`UnitError` when the values cannot be trusted in the kind's unit.
    """
    u = _norm(unit)
    if kind == "ppg":
        return Conversion(kind, unit, note="beat timing only" if u else "")
    if device is not None or u in RAW_UNITS:
        return _adc(kind, unit, device, bits)
    if not u:
        if kind == "ibi":
            return Conversion(kind, unit, mode="ms_or_s", note="values >= 10 read as ms, else s")
        return Conversion(kind, unit, note=f"no unit given, read as {TARGET_UNITS[kind]}")
    table = _LINEAR.get(kind, {})
    if u in table:
        return Conversion(kind, unit, scale=table[u])
    if kind == "eda" and u in _RESISTANCE:
        return Conversion(kind, unit, mode="reciprocal", scale=_RESISTANCE[u])
    if kind == "ecg":
        # beat detection does not care about scale; amplitudes are not used
        return Conversion(kind, unit, note="unknown unit, unscaled (beat timing only)")
    accepted = sorted(table) + (sorted(_RESISTANCE) if kind == "eda" else [])
    raise UnitError(
        f"unit {unit!r} of the {kind.upper()} channel is not one labmrt can convert "
        f"to {TARGET_UNITS[kind]} (accepted: {', '.join(accepted)}, or raw ADC with a device)"
    )


def _adc(kind: str, unit: str, device: str | None, bits: int | None) -> Conversion:
    if device is None:
        if kind == "ecg":
            return Conversion(
                kind, unit, note="raw ADC of an unknown device, unscaled (timing only)"
            )
        raise UnitError(
            f"the {kind.upper()} channel carries raw ADC values of an unknown device, so "
            f"they cannot be read as {TARGET_UNITS.get(kind, '?')}; name the device "
            f"(known: {', '.join(DEVICES)}) or have it publish {TARGET_UNITS.get(kind, '?')}"
        )
    spec = DEVICES.get(device)
    if spec is None:
        raise UnitError(f"unknown device {device!r}; known: {', '.join(DEVICES)}")
    n = int(bits or spec["default_bits"])
    if not 1 <= n <= 24:
        raise UnitError(f"a resolution of {n} bits is not plausible; give 1-24")
    vcc = float(spec["vcc"])
    full = float(2**n)
    where = f"{device} transfer function, {n}-bit"
    if kind == "ecg":
        # ECG(mV) = 1000 * (ADC / 2^n - 1/2) * VCC / G_ECG
        k = 1000.0 * vcc / float(spec["ecg_gain"])
        return Conversion(kind, unit, scale=k / full, offset=-k / 2.0, note=where)
    if kind == "eda":
        # EDA(uS) = (ADC / 2^n) * VCC / 0.132
        return Conversion(kind, unit, scale=vcc / (full * float(spec["eda_divisor"])), note=where)
    if kind == "ppg":
        return Conversion(kind, unit, note="raw ADC, beat timing only")
    raise UnitError(f"{device} has no transfer function for {kind.upper()} channels")
