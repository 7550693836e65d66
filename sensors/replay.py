"""Recorded signals through the live pipeline and classifier, one update per second.

Labs check the affective state on pilot data, and the pipeline is measured
on real recordings, by replaying files exactly as the monitor would have seen
them live: :func:`sensors.pipeline.replay` feeds the monitor's own
:class:`~sensors.pipeline.FeaturePipeline` one update per second with the
newest samples; the calibration rows are collected by the monitor's
:class:`~sensors.monitor.CalibrationPhase` over a time range of the recording
and fitted by :func:`sensors.monitor.fit_rows`; every state is built by
:meth:`sensors.monitor.AffectMonitor.state_for`. Nothing here classifies or
extracts features itself, so what a replay shows is what the monitor does.

Time: CSV files keep their own time column (seconds); an XDF file's LSL time
stamps are shifted so that 0 is the first sample of the signal streams used
(:attr:`Recording.t0` keeps the shift). The pipeline is stateful (its beat
tracker grows a beat list update by update), so one contiguous run covers
``--start`` to ``--end`` and both calibration ranges (its first update
already sees a full history window, as a monitor running for a while would);
only the updates in ``[start, end]`` are returned.

Replayed states use the classifier fitted on the calibration ranges,
wherever those lie in the recording (live, states before the calibration
would be ``unknown``).
"""

from __future__ import annotations

import json
import math
import re
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
import pandas as pd

from labmrt.errors import LabmrtError, Problem
from labmrt.state import AffectState
from labmrt.textcols import read_csv
from sensors.classifier import AffectClassifier, label_code
from sensors.discovery import SOURCE_KINDS, kind_of
from sensors.monitor import AffectMonitor, CalibrationPhase, fit_rows
from sensors.pipeline import FeaturePipeline, UpdateResult, replay
from sensors.units import Conversion, UnitError, conversion_for

if TYPE_CHECKING:
    from sensors.discovery import Channel, StreamDescription

KINDS: tuple[str, ...] = SOURCE_KINDS  # ecg, ppg, eda, ibi (beat intervals), hr (bpm only)
IRREGULAR_KINDS: frozenset[str] = frozenset({"ibi"})  # one sample per beat: no nominal rate
PHASE_NAMES: dict[str, str] = {"rest": "--calibrate-rest", "stressor": "--calibrate-stress"}
STEP_S = 1.0
# a span may end up to one update past the last sample (a 360 s file's last stamp is 359.99)
EDGE_S = STEP_S

Signals = dict[str, tuple[np.ndarray, np.ndarray, float]]
Span = tuple[float, float]


# ---------------------------------------------------------------------- loading
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
    a unit is read live (:func:`sensors.units.conversion_for`; intervals
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


def read_signal_csv(spec: SignalSpec, time_column: str = "time_s") -> tuple[tuple, str]:
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
        return (values, ts, 0.0), f"{desc}, irregular"
    rate = rate_from_times(ts)
    return (values, ts, rate), f"{desc}, {rate:.4g} Hz from the time stamps"


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
    from sensors.discovery import Channel

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
    """A :class:`~sensors.discovery.StreamDescription` of one XDF stream header.

    The same description live discovery builds from an outlet, so the
    channels are chosen by :mod:`sensors.channels` exactly as they would be live.
    """
    from sensors.discovery import StreamDescription

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
    (:func:`sensors.channels.choose_sources`, streams in the order discovery
    sorts them, ``name_pattern`` as ``sensors monitor --name``), values are
    converted to each kind's unit, and time stamps are taken as the live
    inlet takes them: clock-synchronised (pyxdf), not dejittered, held where
    they would run backwards (liblsl's ``proc_monotonize``). Marker streams
    (text) give the markers, from the streams matching ``name_pattern``
    when any does.
    """
    import pyxdf

    from sensors.channels import choose_sources

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
        signals[kind] = (values, ts, float(choice.stream.nominal_srate))
        sources[kind] = choice.describe()
    t0 = min(float(ts[0]) for _, ts, _ in signals.values())
    signals = {k: (x, ts - t0, fs) for k, (x, ts, fs) in signals.items()}
    if any(m for m, _, _ in marker_streams):
        marker_streams = [s for s in marker_streams if s[0]]
    markers = []
    for _, ts, values in marker_streams:
        for t, v in zip(ts, values, strict=False):
            text = v[0] if isinstance(v, list | tuple) and v else v
            markers.append((float(t) - t0, str(text)))
    markers.sort(key=lambda m: m[0])
    return Recording(signals, markers, sources, t0, notes)


# ---------------------------------------------------------------------- spans
def parse_span(text: str) -> Span | str:
    """``START:END`` in seconds -> ``(start, end)``; anything else is a marker name."""
    m = re.fullmatch(r"\s*([-+]?[\d.]+(?:e[-+]?\d+)?)\s*:\s*([-+]?[\d.]+(?:e[-+]?\d+)?)\s*", text)
    if m is None:
        return text.strip()
    try:
        return float(m.group(1)), float(m.group(2))
    except ValueError:
        return text.strip()


def _marker_event(text: str) -> tuple[str, str] | None:
    """``(event, phase)`` of a labmrt JSON phase marker, else None."""
    if not text.startswith("{"):
        return None
    try:
        doc = json.loads(text)
    except json.JSONDecodeError:
        return None
    if not isinstance(doc, dict) or doc.get("event") not in ("phase_start", "phase_end"):
        return None
    return str(doc["event"]), str(doc.get("phase", ""))


_START_WORDS = ("start", "begin", "onset")
_END_WORDS = ("end", "stop", "offset")


def _marker_role(text: str, name: str) -> str | None:
    """``"start"``/``"end"`` when ``text`` opens/closes span ``name``, ``"only"`` when it is it."""
    event = _marker_event(text)
    if event is not None:
        if event[1].lower() != name.lower():
            return None
        return "start" if event[0] == "phase_start" else "end"
    t, n = text.strip().lower(), name.strip().lower()
    if t == n:
        return "only"
    for role, words in (("start", _START_WORDS), ("end", _END_WORDS)):
        for w in words:
            for sep in ("_", " ", "-", ":", ""):
                if t in (f"{n}{sep}{w}", f"{w}{sep}{n}"):
                    return role
    return None


def marker_span(markers: Sequence[tuple[float, str]], name: str, last: float) -> Span:
    """The span a marker name stands for.

    labmrt's own ``phase_start``/``phase_end`` markers of that phase, or
    plain markers ``NAME_start``/``NAME_end`` (also ``begin``/``stop``, any
    of ``_ -:`` between), or a marker ``NAME`` alone: from it to the next
    marker (or the end of the recording). The first occurrence counts.
    """
    start = None
    for i, (t, text) in enumerate(markers):
        role = _marker_role(text, name)
        if start is None and role == "only":
            after = [m[0] for m in markers[i + 1 :] if m[0] > t]
            return t, after[0] if after else last
        if start is None and role == "start":
            start = t
        elif start is not None and role == "end":
            return start, t
    if start is not None:
        return start, last
    seen = sorted({_marker_event(m[1])[1] if _marker_event(m[1]) else m[1] for m in markers})
    raise LabmrtError(
        f"no marker {name!r} in the recording"
        + (f" (markers: {', '.join(seen[:12])}{' ...' if len(seen) > 12 else ''})" if seen else ""),
        fix="give START:END in seconds, or a marker name that is in the file",
    )


def resolve_span(value: Span | str | None, recording: Recording, option: str) -> Span | None:
    """A span in seconds of the recording, checked to lie inside it."""
    if value is None:
        return None
    first, last = recording.span
    if isinstance(value, str):
        if not recording.markers:
            raise LabmrtError(
                f"{value!r} is not START:END in seconds, and the recording has no markers",
                where=option,
                fix="give the span as START:END, e.g. 420:600",
            )
        try:
            value = marker_span(recording.markers, value, last)
        except LabmrtError as err:
            raise LabmrtError([Problem(option, p.what, p.fix) for p in err.problems]) from None
    a, b = float(value[0]), float(value[1])
    if not (math.isfinite(a) and math.isfinite(b) and a < b):
        raise LabmrtError(
            f"{a:g}:{b:g} is not a time span (START must be before END)", where=option
        )
    if a < first - EDGE_S or b > last + EDGE_S:
        raise LabmrtError(
            f"{a:g}:{b:g} s lies outside the recording ({first:g} to {last:g} s)",
            where=option,
            fix="give a span inside the recording's time",
        )
    return a, b


# ---------------------------------------------------------------------- replay
@dataclass
class Replay:
    """The outcome of :func:`replay_recording`.

    ``states``: one :class:`~labmrt.state.AffectState` per update in
    ``[start, end]``, ``t`` on the recording's time axis; ``results``: the
    pipeline's :class:`~sensors.pipeline.UpdateResult` of each (same order);
    ``phases``: the calibration phases with the updates they collected;
    ``classifier``: the fitted (or loaded) classifier; ``calibration_error``:
    why calibration failed (``strict=False`` only; the states are then
    ``unknown``).
    """

    states: list[AffectState]
    results: list[UpdateResult]
    classifier: AffectClassifier
    phases: dict[str, CalibrationPhase] = field(default_factory=dict)
    calibration_error: str | None = None

    def phase_at(self, t: float) -> str | None:
        """The calibration phase (``rest``/``stressor``) an update time falls in, if any."""
        for name, ph in self.phases.items():
            if ph.start <= t <= (ph.end if ph.end is not None else math.inf):
                return name
        return None


def _as_span(value, option: str) -> Span | None:
    if value is None:
        return None
    try:
        a, b = (float(v) for v in value)
    except (TypeError, ValueError):
        raise LabmrtError(
            f"expected (start, end) in seconds, got {value!r}", where=option
        ) from None
    return a, b


def replay_recording(
    signals: Mapping[str, tuple[np.ndarray, np.ndarray, float]] | Recording,
    calibrate_rest: Span | str | None = None,
    calibrate_stress: Span | str | None = None,
    model: AffectClassifier | str | Path | None = None,
    start: float | None = None,
    end: float | None = None,
    *,
    hrv_window_s: float = 60.0,
    eda_window_s: float = 30.0,
    strict: bool = True,
    pipeline: FeaturePipeline | None = None,
    progress: Callable[[float, float], None] | None = None,
) -> Replay:
    """Replay recorded signals as the monitor would run live, and classify every update.

    ``signals``: kind -> ``(values, time stamps, rate)`` (the pipeline's
    input) or a :class:`Recording` (whose markers then also name spans).
    ``calibrate_rest``/``calibrate_stress``: ``(start, end)`` seconds of the
    recording (or marker names). ``model``: a fitted classifier or its file,
    used instead of a calibration (a model standardised per participant
    still takes the rest span as baseline); an unfitted one is calibrated
    (to try other settings than the monitor's default classifier).
    ``start``/``end``: the updates returned (default: the whole recording).
    ``strict``: raise when the calibration fails; otherwise keep the reason
    in ``calibration_error`` and return ``unknown`` states. ``pipeline``:
    another :class:`~sensors.pipeline.FeaturePipeline` than the monitor's
    (then the window arguments are its business). ``progress(t, t_last)``
    is called after each update.
    """
    rec = signals if isinstance(signals, Recording) else Recording(dict(signals))
    if not rec.signals:
        raise LabmrtError("no signal to replay", where="signals")
    first, last = rec.span
    rest = resolve_span(
        calibrate_rest if isinstance(calibrate_rest, str) else _as_span(calibrate_rest, "rest"),
        rec,
        PHASE_NAMES["rest"],
    )
    stress = resolve_span(
        calibrate_stress
        if isinstance(calibrate_stress, str)
        else _as_span(calibrate_stress, "stressor"),
        rec,
        PHASE_NAMES["stressor"],
    )
    if rest is not None and stress is not None and stress[0] < rest[1] and rest[0] < stress[1]:
        raise LabmrtError(
            f"the stressor span {stress[0]:g}:{stress[1]:g} s overlaps the rest span "
            f"{rest[0]:g}:{rest[1]:g} s",
            where=PHASE_NAMES["stressor"],
            fix="give two separate stretches of the recording",
        )
    if isinstance(model, str | Path):
        model = AffectClassifier.load(model)
    fitted_model = model is not None and model.method is not None
    if stress is not None and rest is None and not fitted_model:
        raise LabmrtError(
            "a stressor span needs a rest span too",
            where="--calibrate-stress",
            fix="add --calibrate-rest START:END",
        )
    if fitted_model and model.baseline_source == "participant" and rest is None:
        raise LabmrtError(
            "this model standardises each participant against their own rest: it needs a rest span",
            where="--model",
            fix="add --calibrate-rest START:END",
        )
    t_start = first if start is None else float(start)
    t_end = last if end is None else float(end)
    if not (first - EDGE_S <= t_start < t_end <= last + EDGE_S):
        raise LabmrtError(
            f"start {t_start:g} s and end {t_end:g} s must lie inside the recording "
            f"({first:g} to {last:g} s), start before end",
            where="--start/--end",
        )
    spans = [s for s in (rest, stress) if s is not None]
    t_from = min([t_start, *(s[0] for s in spans)])
    t_to = max([t_end, *(s[1] for s in spans)])

    monitor = AffectMonitor(
        [], model, hrv_window_s=hrv_window_s, eda_window_s=eda_window_s, pipeline=pipeline
    )
    phases = {
        name: CalibrationPhase(name, span[0], span[1])
        for name, span in (("rest", rest), ("stressor", stress))
        if span is not None
    }
    cut = {}
    for kind, (x, ts, fs) in rec.signals.items():
        i1 = int(np.searchsorted(ts, t_to, side="right"))
        cut[kind] = (np.asarray(x[:i1], dtype=float), np.asarray(ts[:i1], dtype=float), fs)
    cut = {k: v for k, v in cut.items() if len(v[1])}
    results: list[UpdateResult] = []
    first_cut = min(float(ts[0]) for _, ts, _ in cut.values())
    for r in replay(cut, monitor.pipeline, STEP_S, start_s=max(t_from - first_cut, STEP_S)):
        results.append(r)
        for ph in phases.values():
            if ph.start <= r.t <= ph.end:
                ph.add(r.t, r)
        if progress is not None:
            progress(r.t, t_to)

    error = None
    if phases:
        try:
            monitor.classifier = fit_rows(
                monitor.classifier,
                phases.get("rest"),
                phases.get("stressor"),
                keep_model=fitted_model,
            )
        except LabmrtError as err:
            error = "; ".join(p.what for p in err.problems)
            if strict:
                spans = ", ".join(
                    f"{PHASE_NAMES[n]} {ph.start:g}:{ph.end:g}" for n, ph in phases.items()
                )
                raise LabmrtError(
                    [Problem(f"calibration ({spans})", p.what, p.fix) for p in err.problems]
                ) from None
    states, kept = [], []
    for r in results:
        state = monitor.state_for(r, t=r.t)
        if t_start - 1e-9 <= r.t <= t_end + 1e-9:
            states.append(state)
            kept.append(r)
    return Replay(states, kept, monitor.classifier, phases, error)


# ---------------------------------------------------------------------- scoring
@dataclass(frozen=True)
class Segment:
    """A stretch of the recording with a known state (``calm``/``aroused``) to score against."""

    start: float
    end: float
    state: str
    name: str = ""  # the phase, when the file names it (to score some phases only)


SEGMENT_COLUMNS: dict[str, tuple[str, ...]] = {
    "start_s": ("start_s", "t_start_s", "start"),
    "end_s": ("end_s", "t_end_s", "end"),
    "state": ("state", "label"),
}
GROUP_COLUMNS: tuple[str, ...] = ("subject", "participant")
NAME_COLUMNS: tuple[str, ...] = ("phase", "segment", "name")


def read_segments(path: str | Path, subject: str | None = None) -> list[Segment]:
    """Segments from a CSV ``start_s,end_s,state`` (``t_start_s``/``t_end_s`` also read).

    States other than calm/aroused words (``other``, ``hyperventilation``)
    are kept but never scored. A file covering several people (a
    ``subject`` or ``participant`` column) needs ``subject``; a ``phase``
    column names each segment (:attr:`Segment.name`), to score some only.
    """
    path = Path(path)
    where = str(path)
    if not path.is_file():
        raise LabmrtError("segments file does not exist", where=where)
    try:
        df = pd.read_csv(path)
    except (pd.errors.ParserError, pd.errors.EmptyDataError, UnicodeDecodeError) as err:
        raise LabmrtError(f"not a readable CSV file: {err}", where=where) from None
    cols = {}
    for key, names in SEGMENT_COLUMNS.items():
        found = [c for c in names if c in df.columns]
        if not found:
            raise LabmrtError(
                f"no {key} column; columns are {', '.join(map(str, df.columns))}",
                where=where,
                fix="the segments file has columns start_s,end_s,state",
            )
        cols[key] = found[0]
    group = next((c for c in GROUP_COLUMNS if c in df.columns), None)
    named = next((c for c in NAME_COLUMNS if c in df.columns), None)
    if subject is not None:
        if group is None:
            raise LabmrtError(
                "no subject or participant column to pick rows by",
                where=where,
                fix="leave out --subject",
            )
        keep = df[group].astype(str) == str(subject)
        if not keep.any():
            ids = ", ".join(sorted(df[group].astype(str).unique())[:20])
            raise LabmrtError(f"no rows of {group} {subject!r} (there are {ids})", where=where)
        df = df[keep]
    elif group is not None and df[group].nunique() > 1:
        raise LabmrtError(
            f"the file holds {df[group].nunique()} {group}s",
            where=where,
            fix=f"pick one with --subject (e.g. --subject {df[group].iloc[0]})",
        )
    segs = []
    for i, row in df.iterrows():
        line = int(i) + 2
        try:
            a, b = float(row[cols["start_s"]]), float(row[cols["end_s"]])
        except (TypeError, ValueError):
            raise LabmrtError(f"line {line}: start and end must be numbers", where=where) from None
        if not (math.isfinite(a) and math.isfinite(b) and a < b):
            raise LabmrtError(f"line {line}: start {a:g} is not before end {b:g}", where=where)
        code = label_code(row[cols["state"]])
        state = {0: "calm", 1: "aroused"}.get(code, str(row[cols["state"]]))
        name = str(row[named]) if named is not None and pd.notna(row[named]) else ""
        segs.append((a, b, state, line, name))
    segs.sort()
    for (_, b0, _, l0, _), (a1, _, _, l1, _) in zip(segs, segs[1:], strict=False):
        if a1 < b0 - 1e-9:
            raise LabmrtError(
                f"segments overlap: line {l1} starts at {a1:g} s, before line {l0} ends ({b0:g} s)",
                where=where,
                fix="each moment of the recording may be in one segment only",
            )
    return [Segment(a, b, s, name) for a, b, s, _, name in segs]


SCORED_STATES: tuple[str, ...] = ("calm", "aroused")
PREDICTED: tuple[str, ...] = ("calm", "aroused", "unknown")


@dataclass
class Score:
    """Replayed states against known segments.

    ``confusion[truth][predicted]`` counts the scored updates (truth calm or
    aroused; predicted calm, aroused or unknown). ``balanced_accuracy`` is
    the mean recall of the two states over the updates with a known state
    (NaN when a state has none); ``unknown_share`` is how many scored
    updates were ``unknown``.
    """

    confusion: dict[str, dict[str, int]]
    skip_s: float = 0.0
    every: int = 1

    @property
    def n(self) -> int:
        return sum(sum(row.values()) for row in self.confusion.values())

    @property
    def n_unknown(self) -> int:
        return sum(row["unknown"] for row in self.confusion.values())

    @property
    def unknown_share(self) -> float:
        return self.n_unknown / self.n if self.n else math.nan

    def recall(self, state: str) -> float:
        row = self.confusion[state]
        known = row["calm"] + row["aroused"]
        return row[state] / known if known else math.nan

    @property
    def balanced_accuracy(self) -> float:
        return float(np.mean([self.recall(s) for s in SCORED_STATES]))

    def as_dict(self) -> dict[str, object]:
        def num(v: float) -> float | None:
            return None if not math.isfinite(v) else round(v, 4)

        return {
            "n": self.n,
            "unknown_share": num(self.unknown_share),
            "balanced_accuracy": num(self.balanced_accuracy),
            "recall": {s: num(self.recall(s)) for s in SCORED_STATES},
            "confusion": self.confusion,
            "skip_s": self.skip_s,
            "every": self.every,
        }

    def table(self) -> str:
        """The confusion matrix and the figures, as console lines."""
        lines = ["truth \\ state".ljust(14) + "".join(f"{p:>9}" for p in PREDICTED)]
        for s in SCORED_STATES:
            lines.append(f"{s:<14}" + "".join(f"{self.confusion[s][p]:>9}" for p in PREDICTED))

        def fmt(v: float) -> str:
            return "-" if not math.isfinite(v) else f"{v:.3f}"

        lines.append(
            f"scored updates: {self.n} (every {self.every}, {self.skip_s:g} s skipped after "
            f"each segment change); unknown: {self.n_unknown} "
            f"({self.unknown_share:.1%})"
            if self.n
            else "scored updates: 0"
        )
        lines.append(
            f"balanced accuracy over known states: {fmt(self.balanced_accuracy)} "
            f"(calm recall {fmt(self.recall('calm'))}, aroused recall {fmt(self.recall('aroused'))})"
        )
        return "\n".join(lines)


def score(
    states: Iterable[AffectState] | Replay,
    segments: Iterable[Segment],
    skip_s: float = 0.0,
    every: int = 1,
) -> Score:
    """Confusion of the states in calm/aroused segments.

    An update counts when its time lies in a calm or aroused segment
    (``start <= t < end``) at least ``skip_s`` after the segment's start
    (physiology takes time to follow a change); of those, every
    ``every``-th one in time order is scored (neighbouring updates share
    most of their window, so they are not independent).
    """
    if every < 1:
        raise LabmrtError(f"must be 1 or more, got {every}", where="--every")
    if not (skip_s >= 0 and math.isfinite(skip_s)):
        raise LabmrtError(f"must be 0 or more seconds, got {skip_s}", where="--skip")
    if isinstance(states, Replay):
        states = states.states
    segs = sorted((s for s in segments if s.state in SCORED_STATES), key=lambda s: s.start)
    starts = np.array([s.start for s in segs])
    picked = []
    for st in sorted(states, key=lambda s: s.t):
        i = int(np.searchsorted(starts, st.t, side="right")) - 1
        if i < 0:
            continue
        seg = segs[i]
        if seg.start + skip_s <= st.t < seg.end:
            picked.append((seg.state, st.label))
    confusion = {s: dict.fromkeys(PREDICTED, 0) for s in SCORED_STATES}
    for truth, label in picked[::every]:
        confusion[truth][label if label in PREDICTED else "unknown"] += 1
    return Score(confusion, float(skip_s), int(every))
