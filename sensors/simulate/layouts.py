"""Simulated devices that publish their signals the way real lab hardware does.

:class:`~sensors.simulate.SimulatedSensors` streams one tidy signal per
outlet. Real devices do not, and :mod:`sensors.acquire.channels` exists to cope, so
these layouts publish the same simulated body (same seed, same schedule,
same heart rate) in the shapes met in labs:

``hub``
    One 250 Hz stream typed ``Biosignals`` (a name and type that say nothing
    about its content): a sequence counter first, three accelerometer axes,
    ECG in microvolts, EDA in microsiemens; like a biosignalsplux or
    OpenBCI-style hub.
``rr-gsr``
    A chest strap's irregular ``RR`` stream (one interval per beat, in ms,
    stamped at the beat that ends it) plus a Shimmer-style two-channel
    ``GSR`` stream: skin resistance in kOhm first, conductance in uS second.
``hr-only``
    A wristband bridge's 1 Hz heart-rate stream (bpm) plus an EDA stream: no
    beats at all.
``bitalino``
    A BITalino-style ``OpenSignals`` stream at 1000 Hz of raw 10-bit ADC codes
    (int16): ``nSeq`` counter, ECG on A2, EDA on A3, to be converted by the
    datasheet transfer functions (:mod:`sensors.kinds.units`).

The intervals of ``rr-gsr`` and ``hr-only`` come from :class:`IntervalSynth`:
each segment's heart rate with a respiratory (0.25 Hz) modulation and
beat-to-beat noise scaled by the segment's heart-rate variability, so calm
segments have a higher RMSSD than aroused ones, as with the waveforms.
"""

from __future__ import annotations

import logging
import math
from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np
import pylsl

from sensors.kinds import DEVICES
from sensors.simulate.outlets import SampleFeed, SimulatedSensors
from sensors.simulate.synth import SignalSynth

log = logging.getLogger(__name__)

#: The device layouts a simulation publishes (see the module docstring).
LAYOUTS: tuple[str, ...] = ("standard", "hub", "rr-gsr", "hr-only", "bitalino")
RSA_HZ = 0.25
HR_EVERY_S = 1.0
#: Seconds of beats a simulated heart-rate sample averages, as a wristband's does.
HR_AVERAGE_S = 5.0


@dataclass(frozen=True)
class ChannelSpec:
    """One published channel: metadata plus where its values come from."""

    label: str
    type: str
    unit: str
    source: str  # "counter" | "acc" | "ecg" | "eda" | "rr" | "hr"
    encode: Callable[[np.ndarray], np.ndarray] | None = None
    resolution: int | None = None


@dataclass
class OutletSpec:
    """One stream of a layout."""

    suffix: str
    type: str
    rate: float  # 0 = irregular
    fmt: str
    channels: list[ChannelSpec]
    manufacturer: str = "labmrt simulator"
    outlet: pylsl.StreamOutlet | None = field(default=None, repr=False)
    pushed: int = 0
    last_beat: float = -math.inf  # irregular streams: time of the newest beat sent

    @property
    def kinds(self) -> list[str]:
        """The signal kinds this stream carries (``rr`` is the ``ibi`` kind)."""
        names = {"ecg": "ecg", "eda": "eda", "rr": "ibi", "hr": "hr"}
        return list(dict.fromkeys(names[c.source] for c in self.channels if c.source in names))


def _bitalino_ecg(mv: np.ndarray, bits: int = 10) -> np.ndarray:
    """mV -> ADC codes, the inverse of the datasheet's ECG transfer function."""
    spec = DEVICES["bitalino"]
    full = 2**bits
    codes = (np.asarray(mv) / 1000.0 * float(spec["ecg_gain"]) / float(spec["vcc"]) + 0.5) * full
    return np.clip(np.round(codes), 0, full - 1)


def _bitalino_eda(us: np.ndarray, bits: int = 10) -> np.ndarray:
    """uS -> ADC codes, the inverse of the datasheet's EDA transfer function."""
    spec = DEVICES["bitalino"]
    full = 2**bits
    codes = np.asarray(us) * float(spec["eda_divisor"]) / float(spec["vcc"]) * full
    return np.clip(np.round(codes), 0, full - 1)


def layout_outlets(layout: str, ecg_rate: float, eda_rate: float) -> list[OutletSpec]:
    """The streams a layout publishes (``standard`` has none here: the base class does it)."""
    if layout == "hub":
        rate = 250.0
        return [
            OutletSpec(
                "hub",
                "Biosignals",
                rate,
                "double64",
                [
                    ChannelSpec("nSeq", "Counter", "count", "counter"),
                    ChannelSpec("ACC_X", "ACC", "g", "acc"),
                    ChannelSpec("ACC_Y", "ACC", "g", "acc"),
                    ChannelSpec("ACC_Z", "ACC", "g", "acc"),
                    ChannelSpec("ECG", "ECG", "microvolts", "ecg", lambda x: x * 1000.0),
                    ChannelSpec("EDA", "EDA", "microsiemens", "eda"),
                ],
            )
        ]
    if layout == "rr-gsr":
        return [
            OutletSpec("rr", "RR", 0.0, "float32", [ChannelSpec("RR", "RR", "ms", "rr")]),
            OutletSpec(
                "gsr",
                "GSR",
                eda_rate,
                "double64",
                [
                    ChannelSpec(
                        "GSR_Skin_Resistance", "GSR", "kOhms", "eda", lambda us: 1000.0 / us
                    ),
                    ChannelSpec("GSR_Skin_Conductance", "GSR", "uS", "eda"),
                ],
            ),
        ]
    if layout == "hr-only":
        return [
            OutletSpec("hr", "HR", HR_EVERY_S, "float32", [ChannelSpec("HR", "HR", "bpm", "hr")]),
            OutletSpec(
                "eda", "EDA", eda_rate, "double64", [ChannelSpec("EDA", "EDA", "uS", "eda")]
            ),
        ]
    if layout == "bitalino":
        return [
            OutletSpec(
                "BITalino",
                "OpenSignals",
                1000.0,
                "int16",
                [
                    ChannelSpec("nSeq", "Counter", "", "counter"),
                    ChannelSpec("A2", "ECG", "raw", "ecg", _bitalino_ecg, 10),
                    ChannelSpec("A3", "EDA", "raw", "eda", _bitalino_eda, 10),
                ],
                manufacturer="PLUX BITalino (simulated by labmrt)",
            )
        ]
    raise ValueError(f"unknown layout {layout!r}; use one of {', '.join(LAYOUTS)}")


class IntervalSynth:
    """Beat-to-beat intervals following the schedule, deterministic per seed."""

    def __init__(self, schedule, params):
        self.schedule, self.params = schedule, params
        self.rng = np.random.default_rng([params.seed, 4])
        self.t = 0.0  # time of the newest beat (s from the start)
        self.beats: list[tuple[float, float]] = []  # (beat time, interval ending there)

    def until(self, t_end: float) -> list[tuple[float, float]]:
        """Generate beats up to ``t_end``; returns the new ``(time, interval)`` pairs."""
        new = []
        while self.t < t_end:
            seg = self.schedule.segment_index(self.t)
            phys = self.params.physiology(seg, self.schedule.segments[seg][1])
            wobble = 0.8 * math.sin(2 * math.pi * RSA_HZ * self.t) + 0.6 * self.rng.normal()
            hr = max(35.0, phys.hr + phys.hr_std * wobble)
            rr = 60.0 / hr
            self.t += rr
            new.append((self.t, rr))
        self.beats.extend(new)
        cutoff = self.t - 60.0
        if self.beats and self.beats[0][0] < cutoff:
            self.beats = [b for b in self.beats if b[0] >= cutoff]
        return new

    def heart_rate_at(self, t: float) -> float:
        """Mean heart rate (bpm) of the beats in the last :data:`HR_AVERAGE_S` before ``t``."""
        rr = [r for bt, r in self.beats if t - HR_AVERAGE_S < bt <= t]
        return 60.0 / float(np.mean(rr)) if rr else math.nan


class LayoutSensors(SimulatedSensors):
    """:class:`SimulatedSensors` publishing through a device ``layout`` (see the module doc)."""

    def __init__(self, layout: str = "hub", **kwargs):
        if layout not in LAYOUTS or layout == "standard":
            raise ValueError(f"unknown layout {layout!r}; use one of {', '.join(LAYOUTS[1:])}")
        super().__init__(**{**kwargs, "ecg": True, "ppg": False, "eda": True})
        self.layout = layout
        self.specs = layout_outlets(layout, self.rates["ecg"], self.rates["eda"])
        self.rates = {}  # the layout's outlets replace the base class's one-signal outlets
        self.intervals: IntervalSynth | None = None

    # ------------------------------------------------------------ description
    @property
    def streams(self) -> list[dict[str, object]]:
        rows = [
            {
                "name": self.stream_name(s.suffix),
                "type": s.type,
                "rate": s.rate,
                "source_id": self.source_id(s.suffix),
                "kind": "+".join(s.kinds),
            }
            for s in self.specs
        ]
        return rows + super().streams  # with ``rates`` empty: the truth stream only

    # ------------------------------------------------------------ lifecycle
    def start(self) -> LayoutSensors:
        if self._threads:
            raise RuntimeError("the simulator is already running")
        for spec in self.specs:
            for ch in spec.channels:
                if ch.source in ("ecg", "eda") and ch.source not in self._feeds:
                    feed = SampleFeed(SignalSynth(ch.source, spec.rate, self.schedule, self.params))
                    self._feeds[ch.source] = feed
                    self._fill(feed, until_s=1.0)
                if ch.source in ("rr", "hr") and self.intervals is None:
                    self.intervals = IntervalSynth(self.schedule, self.params)
            spec.outlet = pylsl.StreamOutlet(self._spec_info(spec), 0, 60)
        # the base class opens the truth outlet and starts the threads; with
        # ``rates`` empty it opens no one-signal outlets of its own
        super().start()
        return self

    def stop(self) -> None:
        super().stop()
        for spec in self.specs:
            spec.outlet = None

    # ------------------------------------------------------------ pushing
    def _push_loop(self) -> None:
        try:
            while not self._stop.is_set():
                elapsed = pylsl.local_clock() - self.t0
                if self.duration is not None:
                    elapsed = min(elapsed, self.duration)
                self._push_truth(elapsed)
                if self.intervals is not None:
                    self.intervals.until(elapsed + 2.0)
                for spec in self.specs:
                    if spec.rate > 0:
                        self._push_regular(spec, elapsed)
                    else:
                        self._push_beats(spec, elapsed)
                if self.duration is not None and elapsed >= self.duration:
                    break
                self._stop.wait(self.chunk_s)
        except Exception:  # noqa: BLE001 - report and stop rather than die silently
            log.exception("pushing simulated samples failed")
        finally:
            self._done.set()

    def _push_regular(self, spec: OutletSpec, elapsed: float) -> None:
        due = int(math.floor(elapsed * spec.rate)) + 1 - spec.pushed
        if due <= 0:
            return
        feeds = {k: self._feeds[k] for k in ("ecg", "eda") if k in spec.kinds}
        taken = {k: f.take(due) for k, f in feeds.items()}
        n = min([due, *(len(v) for v in taken.values())])
        for k, values in taken.items():
            if len(values) > n:  # keep what one kind has beyond the other for next time
                feeds[k].blocks.appendleft(values[n:])
            taken[k] = values[:n]
        if n < due:
            self.underruns += 1
        if n == 0:
            return
        first = spec.pushed
        spec.pushed += n
        if any(f.paused for f in feeds.values()):
            return
        index = np.arange(first, first + n, dtype=float)
        cols = []
        for ch in spec.channels:
            if ch.source == "counter":
                col = index % 16 if spec.fmt.startswith("int") else index
            elif ch.source == "acc":
                col = np.full(n, 1.0 if ch.label.endswith("Z") else 0.0)
            elif ch.source == "hr":
                col = np.array([self.intervals.heart_rate_at(i / spec.rate) for i in index])
            else:
                col = taken[ch.source]
            cols.append(ch.encode(col) if ch.encode is not None else col)
        chunk = np.column_stack(cols)
        dtype = {"int16": np.int16, "float32": np.float32}.get(spec.fmt, np.float64)
        if spec.outlet is not None:
            stamp = self.t0 + (spec.pushed - 1) / spec.rate
            spec.outlet.push_chunk(np.ascontiguousarray(chunk.astype(dtype)), stamp)

    def _push_beats(self, spec: OutletSpec, elapsed: float) -> None:
        """One sample per beat, in ms, stamped at the beat that ends the interval."""
        for bt, rr in self.intervals.beats:
            if bt > elapsed:
                break
            if bt <= spec.last_beat:
                continue
            if spec.outlet is not None:
                spec.outlet.push_sample([rr * 1000.0], self.t0 + bt)
            spec.pushed += 1
            spec.last_beat = bt

    # ------------------------------------------------------------ stream info
    def _spec_info(self, spec: OutletSpec) -> pylsl.StreamInfo:
        rate = spec.rate if spec.rate > 0 else pylsl.IRREGULAR_RATE
        info = pylsl.StreamInfo(
            self.stream_name(spec.suffix),
            spec.type,
            len(spec.channels),
            rate,
            spec.fmt,
            self.source_id(spec.suffix),
        )
        desc = info.desc()
        desc.append_child_value("manufacturer", spec.manufacturer)
        chans = desc.append_child("channels")
        for ch in spec.channels:
            node = chans.append_child("channel")
            node.append_child_value("label", ch.label)
            node.append_child_value("type", ch.type)
            node.append_child_value("unit", ch.unit)
            if ch.resolution is not None:
                node.append_child_value("resolution", str(ch.resolution))
        sim = desc.append_child("labmrt")
        sim.append_child_value("seed", str(self.seed))
        sim.append_child_value("layout", self.layout)
        return info
