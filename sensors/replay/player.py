"""A recording played back as live LSL streams (``labmrt sensors play``).

Every stream of an XDF file (signals and markers) becomes an outlet with the
recorded name, type, channel count and format, nominal rate and channel
metadata (label, type, unit); CSV signals (the replay command's ``--signal``
files) become one outlet each, typed by their kind, in the kind's unit. So
the monitor, the console or a station finds and reads them exactly as it
would the devices.

Time stamps keep the recording's own spacing: sample ``i`` is stamped
``T0 + t_i`` on the local LSL clock, ``t_i`` its time in the recording and
``T0`` the clock when play began (minus ``--start``). At ``--speed 1`` that is
what a live device sends. Faster, the samples are pushed ``speed`` times
sooner than their stamps say, so features (heart rate, skin conductance) stay
those of the recorded person while the stamps run ahead of the clock: use
``--speed`` above 1 with the monitor and tests, not beside other live streams
one records. ``--loop`` starts again after the end, stamps still increasing
(one nominal sample interval after the last).

mne-lsl's ``PlayerLSL`` plays one MNE ``Raw`` (one rate, one stream, no speed
factor), so it does not fit a multi-stream XDF file played fast; this uses
pylsl outlets directly, as the simulator does.
"""

from __future__ import annotations

import re
import threading
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pylsl

from labmrt.errors import LabmrtError
from sensors.kinds import TARGET_UNITS

TICK_S = 0.02


@dataclass
class PlayStream:
    """One stream to play: its LSL header and its samples on the recording's time axis."""

    name: str
    type: str
    nominal_srate: float
    channel_format: str
    source_id: str
    channels: list[dict[str, str]]
    data: np.ndarray | list  # n x channels (numbers), or n strings (markers)
    t: np.ndarray  # seconds of the recording (0 = its first sample)
    manufacturer: str = ""

    @property
    def is_markers(self) -> bool:
        return self.channel_format == "string"


@dataclass
class Playable:
    """Streams to play, and the recording time their ``t`` is relative to (the file's clock)."""

    streams: list[PlayStream]
    t0: float = 0.0
    notes: list[str] = field(default_factory=list)

    @property
    def span(self) -> tuple[float, float]:
        numeric = [s for s in self.streams if len(s.t) and not s.is_markers] or self.streams
        return min(float(s.t[0]) for s in numeric), max(float(s.t[-1]) for s in numeric)


def _first(info: dict, key: str, default: str = "") -> str:
    value = info.get(key, [default])
    value = value[0] if isinstance(value, list) and value else value
    return default if value is None else str(value).strip()


def _desc(info: dict) -> dict:
    desc = info.get("desc", [None])
    desc = desc[0] if isinstance(desc, list) and desc else desc
    return desc if isinstance(desc, dict) else {}


def _xdf_channel_meta(info: dict, n: int) -> list[dict[str, str]]:
    chans = _desc(info).get("channels", [None])
    chans = chans[0] if isinstance(chans, list) and chans else chans
    rows = (chans or {}).get("channel", []) if isinstance(chans, dict) else []
    meta = [
        {k: _first(ch, k) for k in ("label", "type", "unit") if _first(ch, k)}
        for ch in rows
        if isinstance(ch, dict)
    ]
    return meta if len(meta) == n else [{} for _ in range(n)]


def load_xdf_streams(path: str | Path) -> Playable:
    """Every stream of an XDF file, with its header, on one time axis (0: the first sample)."""
    import pyxdf

    path = Path(path)
    if not path.is_file():
        raise LabmrtError("XDF file does not exist", where=str(path))
    try:
        raw, _ = pyxdf.load_xdf(str(path), dejitter_timestamps=False, verbose=False)
    except Exception as err:  # noqa: BLE001 - pyxdf raises anything on a broken file
        raise LabmrtError(
            f"not a readable XDF file: {type(err).__name__}: {err}", where=str(path)
        ) from None
    streams, notes = [], []
    for st in raw:
        info = st["info"]
        ts = np.asarray(st.get("time_stamps", []), dtype=float)
        name = _first(info, "name") or "stream"
        if ts.size == 0:
            notes.append(f"{name!r}: no samples, not played")
            continue
        fmt = _first(info, "channel_format", "float32")
        n_ch = int(float(_first(info, "channel_count", "1")))
        series = st["time_series"]
        if fmt == "string":
            data = [str(v[0] if isinstance(v, list | tuple) and v else v) for v in series]
        else:
            data = np.asarray(series).reshape(len(ts), n_ch)
        order = np.argsort(ts, kind="stable")
        streams.append(
            PlayStream(
                name=name,
                type=_first(info, "type"),
                nominal_srate=float(_first(info, "nominal_srate", "0") or 0),
                channel_format=fmt,
                source_id=_first(info, "source_id"),
                channels=_xdf_channel_meta(info, n_ch),
                data=[data[i] for i in order] if fmt == "string" else data[order],
                t=ts[order],
                manufacturer=_first(_desc(info), "manufacturer"),
            )
        )
    if not any(not s.is_markers for s in streams):
        raise LabmrtError("no signal stream with samples in the file", where=str(path))
    t0 = min(float(s.t[0]) for s in streams if not s.is_markers)
    for s in streams:
        s.t = s.t - t0
    return Playable(streams, t0, notes)


def csv_streams(recording, files: dict[str, Path]) -> Playable:
    """The replay command's CSV signals (:func:`sensors.replay.files.load_csv_signals`)."""
    streams = []
    for kind, (values, ts, rate) in recording.signals.items():
        stem = re.sub(r"\.csv(\.gz)?$", "", files[kind].name)
        streams.append(
            PlayStream(
                name=stem,
                type=kind.upper(),
                nominal_srate=float(rate),
                channel_format="double64",
                source_id=f"labmrt-play-{stem}",
                channels=[{"label": kind, "type": kind.upper(), "unit": _unit(kind)}],
                data=np.asarray(values, dtype=float).reshape(-1, 1),
                t=np.asarray(ts, dtype=float),
            )
        )
    return Playable(streams, 0.0, [])


def _unit(kind: str) -> str:
    """The unit the replay reader converted a kind to (PPG has none: values as published)."""
    unit = TARGET_UNITS.get(kind, "")
    return "" if " " in unit else unit


def _info(stream: PlayStream, file: str) -> pylsl.StreamInfo:
    info = pylsl.StreamInfo(
        stream.name,
        stream.type,
        len(stream.channels) if not stream.is_markers else 1,
        stream.nominal_srate,
        stream.channel_format,
        stream.source_id or f"labmrt-play-{stream.name}",
    )
    desc = info.desc()
    if stream.manufacturer:
        desc.append_child_value("manufacturer", stream.manufacturer)
    if any(stream.channels):
        chans = desc.append_child("channels")
        for ch in stream.channels:
            node = chans.append_child("channel")
            for key in ("label", "type", "unit"):
                node.append_child_value(key, ch.get(key, ""))
    desc.append_child("labmrt_playback").append_child_value("file", file)
    return info


class Player:
    """Plays :class:`Playable` streams from ``start`` to ``end`` s (see the module docstring).

    :meth:`start` opens the outlets and a thread that pushes the samples as they
    fall due; ``t0`` is then the LSL time of the recording's second 0 (for the
    first pass); :meth:`wait` blocks until the end (never, with ``loop``).
    """

    def __init__(
        self,
        playable: Playable,
        *,
        speed: float = 1.0,
        loop: bool = False,
        start: float | None = None,
        end: float | None = None,
        file: str = "",
        clock: Callable[[], float] = pylsl.local_clock,
    ):
        if not (speed > 0 and np.isfinite(speed)):
            raise LabmrtError(f"must be a positive number, got {speed}", where="--speed")
        first, last = playable.span
        self.start_s = first if start is None else float(start)
        self.end_s = last if end is None else float(end)
        if not self.start_s < self.end_s:
            raise LabmrtError(
                f"nothing to play between {self.start_s:g} and {self.end_s:g} s "
                f"(the recording spans {first:g} to {last:g} s)",
                where="--start/--end",
            )
        self.playable = playable
        self.speed = float(speed)
        self.loop = loop
        self.file = file
        self.clock = clock
        self.t0 = float("nan")
        self.passes = 0
        self.outlets: list[pylsl.StreamOutlet] = []
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._streams = [self._cut(s) for s in playable.streams]

    def _cut(self, s: PlayStream) -> PlayStream:
        keep = (s.t >= self.start_s) & (s.t <= self.end_s)
        data = [d for d, k in zip(s.data, keep, strict=True) if k] if s.is_markers else s.data[keep]
        return PlayStream(**{**s.__dict__, "data": data, "t": s.t[keep]})

    @property
    def period_s(self) -> float:
        """Recording seconds of one pass, plus one sample interval before the next pass."""
        rates = [s.nominal_srate for s in self._streams if s.nominal_srate > 0]
        return self.end_s - self.start_s + (1.0 / max(rates) if rates else 1.0)

    def open(self) -> Player:
        """Open the outlets (streams are found from now on; nothing is pushed yet)."""
        if not self.outlets:
            self.outlets = [pylsl.StreamOutlet(_info(s, self.file), 0, 360) for s in self._streams]
        return self

    def wait_for_consumers(self, timeout: float) -> bool:
        """Wait until every signal outlet has a reader (at most ``timeout`` s); True if so.

        Lets a reader started at the same time see the recording from its first second.
        """
        self.open()
        deadline = time.monotonic() + timeout
        signals = [o for o, s in zip(self.outlets, self._streams, strict=True) if not s.is_markers]
        while not all(o.have_consumers() for o in signals):
            if time.monotonic() > deadline:
                return False
            time.sleep(0.05)
        return True

    def start(self) -> Player:
        self.open()
        self.t0 = self.clock() - self.start_s
        self._thread = threading.Thread(target=self._run, name="labmrt-player", daemon=True)
        self._thread.start()
        return self

    def _run(self) -> None:
        wall0 = time.monotonic()
        sent = [0] * len(self._streams)
        while not self._stop.is_set():
            played = (time.monotonic() - wall0) * self.speed  # recording seconds so far
            passes, into = divmod(played, self.period_s) if self.loop else (0, played)
            if passes > self.passes:  # the last pass: push what is left, then go round
                self._push_until(sent, np.inf, self.passes)
                sent = [0] * len(self._streams)
                self.passes = int(passes)
            self._push_until(sent, self.start_s + into, self.passes)
            if not self.loop and played > self.end_s - self.start_s:
                self._push_until(sent, np.inf, 0)
                break
            self._stop.wait(TICK_S)

    def _push_until(self, sent: list[int], until: float, passes: int) -> None:
        shift = self.t0 + passes * self.period_s
        for i, (stream, outlet) in enumerate(zip(self._streams, self.outlets, strict=True)):
            upto = int(np.searchsorted(stream.t, until, side="right"))
            if upto <= sent[i]:
                continue
            stamps = stream.t[sent[i] : upto] + shift
            if stream.is_markers:
                for text, stamp in zip(stream.data[sent[i] : upto], stamps, strict=True):
                    outlet.push_sample([text], float(stamp))
            else:
                chunk = np.ascontiguousarray(stream.data[sent[i] : upto])
                outlet.push_chunk(chunk, stamps.tolist())
            sent[i] = upto

    def wait(self, timeout: float | None = None) -> bool:
        """Block until the pass ends (or ``timeout``); True when it has."""
        if self._thread is not None:
            self._thread.join(timeout)
        return self._thread is None or not self._thread.is_alive()

    def stop(self) -> None:
        self._stop.set()
        self.wait(5.0)
        self.outlets = []


def describe(playable: Playable) -> Iterable[str]:
    """One line per stream, as ``sensors play`` prints them."""
    for s in playable.streams:
        rate = f"{s.nominal_srate:g} Hz" if s.nominal_srate > 0 else "irregular"
        labels = ", ".join(c.get("label", "") for c in s.channels if c.get("label"))
        yield (
            f"{s.name!r} ({s.type or 'no type'}, {len(s.t)} samples, {rate}"
            + (f"; {labels}" if labels else "")
            + ")"
        )
