"""Recorded signals read from files into the form the live pipeline takes.

CSV files (one signal per file, ``--signal KIND=FILE[:COLUMN]``) keep their
own time column (seconds); a CSV has no channel metadata, so the unit comes
from a suffix of the column name. An XDF file's streams and channels are
chosen as the live monitor chooses them (:mod:`sensors.acquire.channels`),
and its LSL time stamps are shifted so that 0 is the first sample of the
signal streams used (:attr:`Recording.t0` keeps the shift).
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd

from labmrt.errors import LabmrtError
from labmrt.textcols import read_csv
from sensors.acquire import Channel, StreamDescription, choose_sources
from sensors.kinds import (
    SOURCE_KINDS,
    Conversion,
    SignalWindow,
    Span,
    UnitError,
    conversion_for,
    kind_of,
)

KINDS: tuple[str, ...] = SOURCE_KINDS  # ecg, ppg, eda, ibi (beat intervals), hr (bpm only)
IRREGULAR_KINDS: frozenset[str] = frozenset({"ibi"})  # one sample per beat: no nominal rate

Signals = dict[str, SignalWindow]


@dataclass
class Recording:
    """Signals to replay, in the pipeline's input form, plus what is known about them.

    ``signals`` maps kind -> ``(values, time stamps, sampling rate)``;
    ``markers`` are ``(time, text)`` pairs (XDF marker streams), ``sources``
    says per kind where the signal came from (as ``sensors monitor`` says
    it: ``ECG <- 'stream' channel 1 ...``), ``t0`` is the shift applied to
    the file's time stamps (0 for CSV).
    """

    signals: Signals
    markers: list[tuple[float, str]] = field(default_factory=list)
    sources: dict[str, str] = field(default_factory=dict)
    t0: float = 0.0
    notes: list[str] = field(default_factory=list)

    @property
    def span(self) -> Span:
        """First and last sample time over all signals."""
        return (
            min(float(ts[0]) for _, ts, _ in self.signals.values()),
            max(float(ts[-1]) for _, ts, _ in self.signals.values()),
        )


@dataclass(frozen=True)
class SignalSpec:
    """One ``--signal KIND=FILE[:COLUMN]`` argument."""

    kind: str
    path: Path
    column: str | None = None


def parse_signal_spec(text: str) -> SignalSpec:
    """``KIND=FILE[:COLUMN]``; the column may be left out when the file says which it is."""
    where = f"--signal {text}"
    kind, sep, rest = text.partition("=")
    kind = kind.strip().lower()
    if not sep or not rest:
        raise LabmrtError(
            "expected KIND=FILE[:COLUMN]",
            where=where,
            fix=f"e.g. --signal ppg=bvp.csv.gz:bvp; KIND is one of {', '.join(KINDS)}",
        )
    if kind not in KINDS:
        raise LabmrtError(
            f"unknown signal kind {kind!r}", where=where, fix=f"use one of {', '.join(KINDS)}"
        )
    path, column = Path(rest), None
    if not path.exists() and ":" in rest:
        head, _, tail = rest.rpartition(":")
        if head and tail:
            path, column = Path(head), tail
    return SignalSpec(kind, path, column)


def _check_times(ts: np.ndarray, where: str, first_line: int = 2) -> None:
    if ts.size < 2:
        raise LabmrtError(f"{ts.size} sample(s); a signal needs at least two", where=where)
    bad = np.flatnonzero(~np.isfinite(ts))
    if bad.size:
        raise LabmrtError(
            f"time stamp missing or not a number at line {bad[0] + first_line}",
            where=where,
            fix="every sample needs its time in seconds",
        )
    back = np.flatnonzero(np.diff(ts) <= 0)
    if back.size:
        i = int(back[0]) + 1
        raise LabmrtError(
            f"time does not increase at line {i + first_line}: {ts[i]:g} s after {ts[i - 1]:g} s",
            where=where,
            fix="sort the rows by time and drop repeated rows",
        )


def rate_from_times(ts: np.ndarray) -> float:
    """Samples per second from the time stamps, over the stretches between gaps.

    Rounded time stamps (an E4 export's 0.0156/0.0157 s steps) make single
    steps wrong, so the rate is the number of steps over their total length,
    leaving out steps over 1.5 times the median (gaps in the recording).
    """
    d = np.diff(np.asarray(ts, dtype=float))
    ok = d <= 1.5 * float(np.median(d))
    return float(ok.sum() / d[ok].sum())


def column_conversion(kind: str, column: str) -> Conversion:
    """The unit conversion a column's name implies (``rr_ms``, ``eda_us``, ``ecg_uv``).

    A CSV has no channel metadata, so the unit can only come from a suffix of
    the column name; one that is not a unit of the kind (``eda_left``) is
    ignored and the values are read as the kind's unit, as a stream without
    a unit is read live (:func:`sensors.kinds.units.conversion_for`; intervals
    without a unit are read as ms or s by their size).
    """
    suffix = column.rsplit("_", 1)[1] if "_" in column else ""
    if suffix:
        try:
            conv = conversion_for(kind, suffix)
        except UnitError:
            conv = None
        if conv is not None and not conv.note:
            return conv
    return conversion_for(kind, "")


def read_signal_csv(spec: SignalSpec, time_column: str = "time_s") -> tuple[SignalWindow, str]:
    """One signal from a CSV (or CSV.gz): ``((values, times, rate), description)``.

    Without a column in ``spec``, the file's only numeric column besides the
    time is used, else the one whose name says the kind (``bvp`` for PPG,
    ``eda_us`` for EDA: the words stream discovery knows).
    """
    where = str(spec.path)
    if not spec.path.is_file():
        raise LabmrtError(
            "signal file does not exist",
            where=where,
            fix=f"check the path given to --signal {spec.kind}=FILE",
        )
    try:
        header = list(pd.read_csv(spec.path, nrows=0).columns)
    except (pd.errors.ParserError, pd.errors.EmptyDataError, UnicodeDecodeError, OSError) as err:
        raise LabmrtError(f"not a readable CSV file: {err}", where=where) from None
    if time_column not in header:
        raise LabmrtError(
            f"no time column {time_column!r}; columns are {', '.join(header)}",
            where=where,
            fix="name the time column with --time-column",
        )
    column = spec.column or _pick_column(spec, header, time_column, where)
    if column not in header:
        raise LabmrtError(
            f"no column {column!r}; columns are {', '.join(header)}",
            where=where,
            fix=f"use --signal {spec.kind}={spec.path}:COLUMN with one of them",
        )
    try:
        df = read_csv(spec.path, usecols=[time_column, column])
    except (pd.errors.ParserError, UnicodeDecodeError, OSError, ValueError) as err:
        raise LabmrtError(f"not a readable CSV file: {err}", where=where) from None
    cols = {}
    for name in (time_column, column):
        num = pd.to_numeric(df[name], errors="coerce")
        bad = np.flatnonzero(num.isna().to_numpy() & df[name].notna().to_numpy())
        if bad.size:
            raise LabmrtError(
                f"column {name!r} holds {df[name].iloc[bad[0]]!r} at line {bad[0] + 2}, "
                "not a number",
                where=where,
                fix="leave a cell empty for a missing sample",
            )
        cols[name] = num.to_numpy(dtype=float)
    ts, values = cols[time_column], cols[column]
    _check_times(ts, f"{where}: column {time_column}")
    conv = column_conversion(spec.kind, column)
    values = conv(values)
    desc = f"{spec.kind.upper()} <- {spec.path.name}:{column} [{conv.describe()}]"
    if spec.kind in IRREGULAR_KINDS:
        return SignalWindow(values, ts, 0.0), f"{desc}, irregular"
    rate = rate_from_times(ts)
    return SignalWindow(values, ts, rate), f"{desc}, {rate:.4g} Hz from the time stamps"


def _pick_column(spec: SignalSpec, header: list[str], time_column: str, where: str) -> str:
    others = [c for c in header if c != time_column]
    named = [c for c in others if c.lower() == spec.kind or kind_of(c) == spec.kind]
    if len(named) == 1:
        return named[0]
    sample = pd.read_csv(spec.path, usecols=others, nrows=50)
    numeric = [c for c in others if pd.api.types.is_numeric_dtype(sample[c])]
    if len(numeric) == 1:
        return numeric[0]
    raise LabmrtError(
        f"cannot tell which column holds the {spec.kind.upper()} signal "
        f"(columns: {', '.join(header)})",
        where=where,
        fix=f"name it: --signal {spec.kind}={spec.path}:COLUMN",
    )


def load_csv_signals(specs: Iterable[SignalSpec], time_column: str = "time_s") -> Recording:
    """Read every ``--signal`` file; one signal per kind."""
    signals: Signals = {}
    sources: dict[str, str] = {}
    for spec in specs:
        if spec.kind in signals:
            raise LabmrtError(
                f"two signals of kind {spec.kind}",
                where=f"--signal {spec.kind}={spec.path}",
                fix="give one file per kind (the monitor uses one stream per kind)",
            )
        signals[spec.kind], sources[spec.kind] = read_signal_csv(spec, time_column)
    if not signals:
        raise LabmrtError("no signal to replay", where="--signal", fix="give --signal KIND=FILE")
    return Recording(signals, sources=sources)


def _xdf_value(info: Mapping, key: str, default: str = "") -> str:
    """One field of a pyxdf stream header (pyxdf wraps every value in a list)."""
    value = info.get(key, [default])
    value = value[0] if isinstance(value, list) and value else value
    return default if value is None else str(value).strip()


def _xdf_channels(info: Mapping) -> tuple[Channel, ...]:
    desc = info.get("desc", [None])
    desc = desc[0] if isinstance(desc, list) and desc else desc
    if not isinstance(desc, Mapping):
        return ()
    chans = desc.get("channels", [None])
    chans = chans[0] if isinstance(chans, list) and chans else chans
    if not isinstance(chans, Mapping):
        return ()
    out = []
    for i, ch in enumerate(chans.get("channel", []) or []):
        if not isinstance(ch, Mapping):
            continue
        bits = _xdf_value(ch, "resolution")
        out.append(
            Channel(
                index=i,
                label=_xdf_value(ch, "label"),
                type=_xdf_value(ch, "type"),
                unit=_xdf_value(ch, "unit"),
                resolution=int(bits) if bits.isdigit() else None,
            )
        )
    return tuple(out)


def xdf_description(info: Mapping, index: int) -> StreamDescription:
    """A :class:`~sensors.acquire.streams.StreamDescription` of one XDF stream header.

    The same description live discovery builds from an outlet, so the
    channels are chosen by :mod:`sensors.acquire.channels` exactly as they would be live.
    """
    name, stype = _xdf_value(info, "name"), _xdf_value(info, "type")
    desc = info.get("desc", [None])
    desc = desc[0] if isinstance(desc, list) and desc else desc
    manufacturer = _xdf_value(desc, "manufacturer") if isinstance(desc, Mapping) else ""
    try:
        n_ch = int(float(_xdf_value(info, "channel_count", "1")))
        srate = float(_xdf_value(info, "nominal_srate", "0"))
    except ValueError:
        n_ch, srate = 1, 0.0
    return StreamDescription(
        name=name,
        type=stype,
        kind=kind_of(stype, name),
        channel_count=n_ch,
        nominal_srate=srate,
        source_id=_xdf_value(info, "source_id"),
        hostname=_xdf_value(info, "hostname"),
        uid=_xdf_value(info, "uid") or f"xdf-stream-{index}",
        channel_format=_xdf_value(info, "channel_format", "float32"),
        channels=_xdf_channels(info),
        manufacturer=manufacturer,
    )


def load_xdf(path: str | Path, name_pattern: str | None = None) -> Recording:
    """Signals and markers of an XDF file (LabRecorder's, or labmrt's export).

    Streams and channels are chosen as the live monitor chooses them
    (:func:`sensors.acquire.channels.choose_sources`, streams in the order discovery
    sorts them, ``name_pattern`` as ``sensors monitor --name``), values are
    converted to each kind's unit, and time stamps are taken as the live
    inlet takes them: clock-synchronised (pyxdf), not dejittered, held where
    they would run backwards (liblsl's ``proc_monotonize``). Marker streams
    (text) give the markers, from the streams matching ``name_pattern``
    when any does.
    """
    import pyxdf  # only here: the CSV path and the rest of the replay need none of it

    path = Path(path)
    where = str(path)
    if not path.is_file():
        raise LabmrtError("XDF file does not exist", where=where)
    try:
        streams, _ = pyxdf.load_xdf(str(path), dejitter_timestamps=False, verbose=False)
    except Exception as err:  # noqa: BLE001 - pyxdf raises anything on a broken file
        raise LabmrtError(
            f"not a readable XDF file: {type(err).__name__}: {err}", where=where
        ) from None
    try:
        pattern = re.compile(name_pattern, re.IGNORECASE) if name_pattern else None
    except re.error as err:
        raise LabmrtError(f"not a regular expression: {err}", where="--name") from None
    descs, data, marker_streams = [], {}, []
    for i, st in enumerate(streams):
        desc = xdf_description(st["info"], i)
        ts = np.asarray(st.get("time_stamps", []), dtype=float)
        match = pattern is None or bool(pattern.search(desc.name))
        if desc.channel_format == "string":
            marker_streams.append((match, ts, st.get("time_series", [])))
            continue
        if not match or ts.size < 2:
            continue
        descs.append(desc)
        data[desc.uid] = (np.asarray(st["time_series"]), ts)
    descs.sort(key=lambda d: (d.kind or "", d.name, d.source_id))
    sel = choose_sources(descs)
    if not sel.choices:
        seen = ", ".join(f"{d.name!r} ({d.type})" for d in descs) or "none"
        raise LabmrtError(
            f"no ECG, PPG, EDA, RR or HR channel in the file's streams (numeric streams: {seen})",
            where=where,
            fix="check the streams' types and channel metadata, or --name",
        )
    signals: Signals = {}
    sources: dict[str, str] = {}
    notes = list(sel.notes)
    for kind, choice in sel.choices.items():
        values, ts = data[choice.stream.uid]
        values = values.reshape(len(ts), -1)[:, choice.channel]
        values = choice.conversion(np.asarray(values, dtype=float))
        held = int(np.count_nonzero(np.diff(ts) < 0))
        if held:
            ts = np.maximum.accumulate(ts)
            notes.append(f"{kind.upper()}: {held} time stamp(s) ran backwards and were held")
        signals[kind] = SignalWindow(values, ts, float(choice.stream.nominal_srate))
        sources[kind] = choice.describe()
    t0 = min(float(ts[0]) for _, ts, _ in signals.values())
    signals = {k: SignalWindow(x, ts - t0, fs) for k, (x, ts, fs) in signals.items()}
    if any(m for m, _, _ in marker_streams):
        marker_streams = [s for s in marker_streams if s[0]]
    markers = []
    for _, ts, values in marker_streams:
        for t, v in zip(ts, values, strict=False):
            text = v[0] if isinstance(v, list | tuple) and v else v
            markers.append((float(t) - t0, str(text)))
    markers.sort(key=lambda m: m[0])
    return Recording(signals, markers, sources, t0, notes)
