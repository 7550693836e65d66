"""Export a study folder to tidy tables, a codebook, and XDF/CSV signals.

Everything is derived from the study store alone, so an analysis never needs a
value typed in by hand. The decision-point table has one row per participant x
decision point (unavailable points included, with ``arm`` empty) and carries
what ``labmrt analyze`` needs: ``available``, ``arm``, the probability of every
arm as ``prob_<arm>``, the per-protocol ``received`` flag, the moderators
(affective state and its features), the controls, every proximal outcome and,
repeated on each of a participant's rows, the distal outcomes of the
participant-level table (:mod:`labmrt.export.participants`). The codebook
names the arms and the baseline arm of the protocol(s), each protocol's
content hash, the proximal and the distal outcomes.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from labmrt import __version__
from labmrt.errors import LabmrtError, Problem
from labmrt.export.codebook import FEATURE_UNITS, TableDoc, finish_codebook, write_codebook
from labmrt.export.participants import DISTAL, participants_table, repeat_on_rows
from labmrt.export.xdf import XdfStream, XdfWriter
from labmrt.store import StudyStore
from labmrt.store.provenance import SOFTWARE_COLUMNS, describe, parse_software, version_differences

EXPORT_FORMATS: tuple[str, ...] = ("csv", "parquet")
CLOCK = "s (LSL local_clock)"


@dataclass
class ProtocolSummary:
    """What the export needs to know about a protocol: its arms, baseline and outcomes."""

    hash: str
    name: str = ""
    arms: list[str] = field(default_factory=list)
    baseline_arm: str | None = None
    outcomes: list[dict] = field(default_factory=list)  # name, unit, meaning
    moderators: list[str] = field(default_factory=list)
    controls: list[str] = field(default_factory=list)


def _parse_protocol(text: str) -> Any | None:
    """The protocol model of a stored canonical protocol text, or None if it does not parse."""
    from labmrt.protocol import Protocol

    try:
        return Protocol.model_validate_json(text)
    except Exception:  # noqa: BLE001 - an unreadable old text only loses codebook detail
        return None


_OUTCOME_UNITS = {"duration": "s", "count": "count", "any": "0/1"}


def protocol_summary(text: str, content_hash: str) -> ProtocolSummary:
    """Arms (in protocol order), baseline arm and outcome definitions of a stored protocol."""
    summary = ProtocolSummary(hash=content_hash)
    proto = _parse_protocol(text)
    if proto is None:
        return summary
    study = getattr(proto, "study", None)
    summary.name = f"{study.title} (version {study.version})" if study is not None else ""
    for arm in proto.arms:
        summary.arms.append(arm.id)
        if arm.baseline:
            summary.baseline_arm = arm.id
    summary.moderators = list(getattr(proto, "moderators", []) or [])
    summary.controls = list(getattr(proto, "controls", []) or [])
    for outcome in proto.outcomes:
        measure = str(getattr(outcome, "measure", ""))
        transform = str(getattr(outcome, "transform", "none"))
        window = getattr(outcome, "window", "task")
        features = ", ".join(getattr(outcome, "features", []) or [])
        unit = _OUTCOME_UNITS.get(measure, "")
        what = {"duration": "seconds of use", "count": "number of uses", "any": "any use (0/1)"}
        meaning = f"proximal outcome: {what.get(measure, measure)} of {features} " + (
            "during the task" if window == "task" else f"in the {window} s after the decision"
        )
        if transform == "log1p":
            meaning += ", transformed log(1 + x)"
            unit = f"log(1 + {unit})"
        summary.outcomes.append({"name": outcome.name, "unit": unit, "meaning": meaning})
    return summary


def _ordered_keys(dicts: Any) -> list[str]:
    keys: dict[str, None] = {}
    for d in dicts:
        if isinstance(d, dict):
            for k in d:
                keys.setdefault(str(k), None)
    return list(keys)


def _num(value: Any) -> float:
    if value is None:
        return np.nan
    try:
        return float(value)
    except (TypeError, ValueError):
        return np.nan


class _Namer:
    """Column names for dict entries: the plain key when free, else prefixed by its category."""

    def __init__(self, reserved: list[str]):
        self.used = set(reserved)

    def name(self, key: str, category: str, *, prefix_always: bool = False) -> str:
        plain = f"{category}_{key}" if prefix_always else key
        if plain not in self.used:
            self.used.add(plain)
            return plain
        candidate = f"{category}_{key}"
        n = 2
        while candidate in self.used:
            candidate = f"{category}_{key}_{n}"
            n += 1
        self.used.add(candidate)
        return candidate


_BASE_COLUMNS = [
    "participant",
    "session",
    "decision_point",
    "task_index",
    "task_id",
    "t",
    "available",
    "unavailable_reason",
    "arm",
]


_PRESENTATION_COLUMNS = [
    "uniform",
    "shown_t",
    "received_t",
    "dwell_s",
    "confirmed",
    "answer",
    "answer_t",
    "correct",
    "end_t",
]


@dataclass
class _DecisionColumns:
    """The columns of the decision-point table beyond the fixed ones: one per arm,
    recorded feature, quality, control, outcome, signal window and context value."""

    arms: list[str]
    outcome_defs: dict[str, dict]
    feature_cols: dict[str, str]
    quality_cols: dict[str, str]
    control_cols: dict[str, str]
    outcome_cols: dict[str, str]
    window_cols: dict[str, tuple[str, str]]
    context_cols: dict[str, str]

    def names(self) -> list[str]:
        return (
            _BASE_COLUMNS
            + [f"prob_{a}" for a in self.arms]
            + ["received", "affect_state", "p_aroused"]
            + list(self.feature_cols.values())
            + list(self.quality_cols.values())
            + list(self.control_cols.values())
            + list(self.outcome_cols.values())
            + ["protocol_hash"]
            + _PRESENTATION_COLUMNS
            + [c for pair in self.window_cols.values() for c in pair]
            + list(self.context_cols.values())
        )


def _decision_columns(
    dec: pd.DataFrame, outc: pd.DataFrame, summaries: dict[str, ProtocolSummary]
) -> _DecisionColumns:
    """Name the columns of what the sessions recorded, without clashes (:class:`_Namer`)."""
    arms: list[str] = []
    outcome_defs: dict[str, dict] = {}
    for summary in summaries.values():
        arms += [a for a in summary.arms if a not in arms]
        for o in summary.outcomes:
            outcome_defs.setdefault(o["name"], o)
    for a in list(dec["arm"].dropna()) + _ordered_keys(dec["probabilities"]):
        if a not in arms:
            arms.append(a)
    for name in outc["name"]:
        outcome_defs.setdefault(name, {"name": name, "unit": "", "meaning": "proximal outcome"})
    namer = _Namer(
        _BASE_COLUMNS
        + [f"prob_{a}" for a in arms]
        + ["received", "affect_state", "p_aroused", "protocol_hash"]
    )
    return _DecisionColumns(
        arms=arms,
        outcome_defs=outcome_defs,
        feature_cols={k: namer.name(k, "feature") for k in _ordered_keys(dec["features"])},
        quality_cols={
            k: namer.name(k, "quality", prefix_always=True) for k in _ordered_keys(dec["quality"])
        },
        control_cols={k: namer.name(k, "control") for k in _ordered_keys(dec["controls"])},
        outcome_cols={k: namer.name(k, "outcome") for k in outcome_defs},
        window_cols={
            k: (
                namer.name(f"{k}_start", "window", prefix_always=True),
                namer.name(f"{k}_end", "window", prefix_always=True),
            )
            for k in _ordered_keys(dec["windows"])
        },
        context_cols={
            k: namer.name(k, "context", prefix_always=True) for k in _ordered_keys(dec["context"])
        },
    )


def decision_point_table(
    store: StudyStore, summaries: dict[str, ProtocolSummary]
) -> tuple[pd.DataFrame, TableDoc]:
    """One row per participant x decision point with everything the analysis needs."""
    doc = TableDoc(
        "decision_points",
        "One row per participant and decision point, available or not. Feeds `labmrt analyze`: "
        "`available` is I_t, `arm` the drawn treatment, `prob_<arm>` the randomization "
        "probabilities actually used, `received` the per-protocol flag.",
    )
    dec = store.decisions()
    sessions = store.sessions().set_index("session")
    pres = store.presentations().drop_duplicates(["session", "decision_point"], keep="last")
    pres = pres.set_index(["session", "decision_point"])
    outc = store.outcomes()
    outcome_values: dict[tuple[int, int], dict[str, float]] = {}
    for row in outc.itertuples(index=False):
        outcome_values.setdefault((row.session, row.decision_point), {})[row.name] = _num(row.value)
    cols = _decision_columns(dec, outc, summaries)
    records = []
    for row in dec.itertuples(index=False):
        key = (row.session, row.decision_point)
        p = pres.loc[key] if key in pres.index else None
        protocol_hash = row.protocol_hash or sessions.loc[row.session, "protocol_hash"]
        records.append(_decision_record(row, p, cols, outcome_values.get(key, {}), protocol_hash))
    frame = pd.DataFrame.from_records(records, columns=cols.names())
    for col in ("session", "decision_point", "available"):
        frame[col] = frame[col].astype("int64")
    for col in ("task_index", "received", "confirmed", "correct"):
        frame[col] = frame[col].astype("Int64")
    frame = frame.sort_values(["participant", "session", "decision_point"], kind="stable")
    frame = frame.reset_index(drop=True)
    _document_decision_columns(doc, cols, summaries)
    return frame, doc


def _decision_record(
    row: Any, p: pd.Series | None, cols: _DecisionColumns, outs: dict[str, float], protocol_hash
) -> dict[str, Any]:
    """One decision point (``row`` of the store) with its presentation ``p`` and outcomes."""
    probs = row.probabilities or {}
    rec: dict[str, Any] = {
        "participant": row.participant,
        "session": row.session,
        "decision_point": row.decision_point,
        "task_index": row.task_index,
        "task_id": row.task_id,
        "t": row.t,
        "available": int(bool(row.available)),
        "unavailable_reason": row.unavailable_reason or "",
        "arm": row.arm,
    }
    for a in cols.arms:
        rec[f"prob_{a}"] = _num(probs.get(a))
    rec["received"] = pd.NA if p is None or pd.isna(p["received"]) else int(p["received"])
    rec["affect_state"] = row.state
    rec["p_aroused"] = _num(row.p_aroused)
    for k, col in cols.feature_cols.items():
        rec[col] = _num((row.features or {}).get(k))
    for k, col in cols.quality_cols.items():
        rec[col] = _num((row.quality or {}).get(k))
    controls = row.controls or {}
    for k, col in cols.control_cols.items():
        v = controls.get(k)
        rec[col] = v if isinstance(v, str) else _num(v)
    for k, col in cols.outcome_cols.items():
        rec[col] = outs.get(k, np.nan)
    rec["protocol_hash"] = protocol_hash
    rec["uniform"] = _num(row.uniform)
    for col in _PRESENTATION_COLUMNS[1:]:
        value = None if p is None else p[col]
        if col in ("confirmed", "correct"):
            rec[col] = pd.NA if value is None or pd.isna(value) else int(value)
        elif col == "answer":
            rec[col] = value
        else:
            rec[col] = _num(value)
    windows = row.windows or {}
    for k, (c0, c1) in cols.window_cols.items():
        bounds = windows.get(k) or [None, None]
        rec[c0], rec[c1] = _num(bounds[0]), _num(bounds[1])
    context = row.context or {}
    for k, col in cols.context_cols.items():
        v = context.get(k)
        rec[col] = v if isinstance(v, str) or v is None else _num(v)
    return rec


def _document_decision_columns(
    doc: TableDoc, cols: _DecisionColumns, summaries: dict[str, ProtocolSummary]
) -> None:
    """The codebook entry of every column of the decision-point table."""
    baseline = {s.baseline_arm for s in summaries.values() if s.baseline_arm}
    doc.add("participant", "", "participant code (pseudonymous; never a name)")
    doc.add("session", "", "session id in the study database (see sessions table)")
    doc.add("decision_point", "", "0-based index of the decision point within the session")
    doc.add("task_index", "", "0-based index of the task in the protocol's task list")
    doc.add("task_id", "", "task id from the protocol")
    doc.add("t", CLOCK, "time of the decision (when the task was about to be shown)")
    doc.add("available", "", "availability I_t: 1 = randomized, 0 = not (no treatment drawn)")
    doc.add("unavailable_reason", "", "why the point was unavailable (empty when available)")
    doc.add(
        "arm",
        "",
        "treatment option (framing) drawn; empty when unavailable"
        + (f"; baseline arm: {', '.join(sorted(baseline))}" if baseline else ""),
    )
    for a in cols.arms:
        doc.add(
            f"prob_{a}",
            "probability",
            f"randomization probability of arm `{a}` used at this point"
            + (" (the baseline arm)" if a in baseline else "")
            + "; empty when unavailable unless the engine recorded it",
        )
    doc.add(
        "received",
        "",
        "per-protocol flag: 1 = the framing was received (read/confirmed), "
        "0 = shown but not received, empty = no presentation recorded",
    )
    doc.add("affect_state", "", "classified affective state at the decision (calm/aroused/unknown)")
    doc.add("p_aroused", "probability", "classifier probability of the aroused state")
    for k, col in cols.feature_cols.items():
        doc.add(
            col,
            FEATURE_UNITS.get(k.lower(), ""),
            f"physiological feature `{k}` at the decision, computed on the window "
            f"`window_{k}_start`..`window_{k}_end` when given",
            "moderator",
        )
    for k, col in cols.quality_cols.items():
        doc.add(col, "0..1", f"signal quality of the `{k}` stream at the decision", "moderator")
    for k, col in cols.control_cols.items():
        doc.add(col, "s" if k.endswith("_s") else "", f"control variable `{k}`", "control")
    for k, col in cols.outcome_cols.items():
        d = cols.outcome_defs[k]
        doc.add(col, d.get("unit", ""), d.get("meaning", "proximal outcome"), "outcome")
    doc.add("protocol_hash", "", "content hash of the protocol that produced the row")
    doc.add("uniform", "0..1", "uniform random number the arm was drawn with")
    doc.add("shown_t", CLOCK, "when the framed task was shown")
    doc.add("received_t", CLOCK, "when the framing counted as received")
    doc.add("dwell_s", "s", "time the framing was on screen before the participant moved on")
    doc.add("confirmed", "", "1 = the participant clicked 'I have read this'")
    doc.add("answer", "", "the participant's answer to the task")
    doc.add("answer_t", CLOCK, "when the answer was given")
    doc.add("correct", "", "1 = the answer was correct, 0 = wrong, empty = not scored")
    doc.add("end_t", CLOCK, "when the task ended")
    for k, (c0, c1) in cols.window_cols.items():
        doc.add(c0, CLOCK, f"start of the signal window `{k}` was computed on", "moderator")
        doc.add(c1, CLOCK, f"end of the signal window `{k}` was computed on", "moderator")
    for k, col in cols.context_cols.items():
        doc.add(col, "", f"context value `{k}` the randomizer saw", "context")


def events_table(store: StudyStore) -> tuple[pd.DataFrame, TableDoc]:
    ev = store.events()
    frame = ev[
        [
            "participant",
            "session",
            "decision_point",
            "task_index",
            "t",
            "feature",
            "action",
            "detail",
        ]
    ].copy()
    for col in ("decision_point", "task_index"):
        frame[col] = frame[col].astype("Int64")
    frame = frame.sort_values(["participant", "session", "t"], kind="stable").reset_index(drop=True)
    doc = TableDoc("events", "Every feature-use event of the information system, in time order.")
    doc.add("participant", "", "participant code")
    doc.add("session", "", "session id")
    doc.add("decision_point", "", "decision point whose task was running (empty outside tasks)")
    doc.add("task_index", "", "0-based task index in the protocol")
    doc.add("t", CLOCK, "time of the event")
    doc.add("feature", "", "feature id from the protocol (e.g. help, calculator)")
    doc.add("action", "", "open, close or use")
    doc.add("detail", "", "optional JSON detail of the event")
    return frame, doc


def states_table(store: StudyStore) -> tuple[pd.DataFrame, TableDoc]:
    st = store.states()
    feature_keys = _ordered_keys(st["features"])
    quality_keys = _ordered_keys(st["quality"])
    records = []
    for row in st.itertuples(index=False):
        rec = {
            "participant": row.participant,
            "session": row.session,
            "t": row.t,
            "affect_state": row.label,
            "p_aroused": _num(row.p_aroused),
        }
        for k in feature_keys:
            rec[k] = _num(row.features.get(k))
        for k in quality_keys:
            rec[f"quality_{k}"] = _num(row.quality.get(k))
        rec["reason"] = row.reason
        records.append(rec)
    columns = (
        ["participant", "session", "t", "affect_state", "p_aroused"]
        + feature_keys
        + [f"quality_{k}" for k in quality_keys]
        + ["reason"]
    )
    frame = pd.DataFrame.from_records(records, columns=columns)
    frame["session"] = frame["session"].astype("int64")
    doc = TableDoc("states", "Every affective-state update of the classifier during the sessions.")
    doc.add("participant", "", "participant code")
    doc.add("session", "", "session id")
    doc.add("t", CLOCK, "time of the state update")
    doc.add("affect_state", "", "calm, aroused or unknown")
    doc.add("p_aroused", "probability", "classifier probability of the aroused state")
    for k in feature_keys:
        doc.add(k, FEATURE_UNITS.get(k.lower(), ""), f"physiological feature `{k}`")
    for k in quality_keys:
        doc.add(f"quality_{k}", "0..1", f"signal quality of the `{k}` stream")
    doc.add("reason", "", "why the state is unknown, when it is")
    return frame, doc


def sessions_table(store: StudyStore) -> tuple[pd.DataFrame, TableDoc]:
    table = store.sessions()
    frame = table[
        [
            "participant",
            "session",
            "session_no",
            "status",
            "status_reason",
            "started_t",
            "status_t",
            "n_decisions",
            "n_events",
            "workstation",
            "protocol_hash",
            "resume_of",
            "created_at",
        ]
    ].copy()
    frame["resume_of"] = frame["resume_of"].astype("Int64")
    software = [parse_software(text) for text in table["software_json"]]
    for key, column in SOFTWARE_COLUMNS.items():
        frame[column] = pd.Series(
            [rec.get(key) for rec in software], index=frame.index, dtype=object
        )
    doc = TableDoc("sessions", "One row per session with its latest status.")
    doc.add("participant", "", "participant code")
    doc.add("session", "", "session id")
    doc.add("session_no", "", "the participant's session number (1 = first)")
    doc.add(
        "status",
        "",
        "latest status: created, running, paused, resumed, completed, aborted or incomplete",
    )
    doc.add("status_reason", "", "reason given with the latest status")
    doc.add("started_t", CLOCK, "when the session started")
    doc.add("status_t", CLOCK, "when the latest status was recorded")
    doc.add("n_decisions", "count", "decision points recorded")
    doc.add("n_events", "count", "feature-use events recorded")
    doc.add("workstation", "", "workstation id")
    doc.add("protocol_hash", "", "content hash of the protocol")
    doc.add("resume_of", "", "session this one resumed, if any")
    doc.add("created_at", "UTC ISO 8601", "wall-clock time the session record was created")
    for key, column in SOFTWARE_COLUMNS.items():
        what = {
            "labmrt": "labmrt version",
            "python": "Python version",
            "os": "operating system (platform.platform())",
        }.get(key, f"{key} version")
        doc.add(column, "", f"{what} the session ran with; empty if recorded before labmrt kept it")
    return frame, doc


def software_summary(store: StudyStore) -> tuple[list[dict], list[str]]:
    """The distinct software records of a study with their sessions, and what differs."""
    records = store.software()
    groups: dict[str, dict] = {}
    for sid, rec in records.items():
        group = groups.setdefault(
            json.dumps(rec, sort_keys=True), {"versions": rec, "sessions": []}
        )
        group["sessions"].append(sid)
    return list(groups.values()), version_differences(records)


# ----------------------------------------------------------------------------- signals
def _stream_meta(info_streams: list[dict], source_id: str, kind: str) -> dict:
    for s in info_streams:
        if str(s.get("source_id", "")) == source_id:
            return s
    for s in info_streams:
        if str(s.get("kind", s.get("type", ""))).lower() == kind.lower():
            return s
    return {}


def _channel_labels(meta: dict, kind: str, n_channels: int) -> list[str]:
    labels = meta.get("channel_labels") or meta.get("channels") or meta.get("labels")
    if isinstance(labels, list) and len(labels) == n_channels:
        return [str(x.get("label", x)) if isinstance(x, dict) else str(x) for x in labels]
    return [kind] if n_channels == 1 else [f"{kind}_{i + 1}" for i in range(n_channels)]


def _to_local(timestamps: np.ndarray, offsets: pd.DataFrame) -> np.ndarray:
    """Source-clock times to local LSL times with the measured offsets (interpolated)."""
    if offsets.empty:
        return timestamps.copy()
    source_t = offsets["t"].to_numpy() - offsets["offset"].to_numpy()
    order = np.argsort(source_t)
    return timestamps + np.interp(timestamps, source_t[order], offsets["offset"].to_numpy()[order])


class _SignalTable:
    """One signal table per kind, appended stream by stream (CSV or Parquet row groups)."""

    def __init__(self, path: Path, fmt: str):
        self.path = path
        self.fmt = fmt
        self.tmp = path.with_name(path.name + ".part")
        self.columns: list[str] | None = None
        self.head: pd.DataFrame | None = None
        self.rows = 0
        self._writer = None

    def append(self, frame: pd.DataFrame) -> None:
        if self.columns is None:
            self.columns = list(frame.columns)
            self.head = frame.head(20)
        if self.fmt == "csv":
            frame.to_csv(
                self.tmp, index=False, mode="a" if self.rows else "w", header=not self.rows
            )
        else:
            import pyarrow as pa
            import pyarrow.parquet as pq

            if self._writer is None:
                schema = pa.Table.from_pandas(frame, preserve_index=False).schema
                self._writer = pq.ParquetWriter(self.tmp, schema)
            table = pa.Table.from_pandas(frame, preserve_index=False)
            self._writer.write_table(table.cast(self._writer.schema))
        self.rows += len(frame)

    def close(self) -> Path:
        if self._writer is not None:
            self._writer.close()
        self.tmp.replace(self.path)
        return self.path


def _export_signals(
    store: StudyStore, out: Path, fmt: str
) -> tuple[dict[str, Path], list[TableDoc], dict[str, pd.DataFrame], dict[str, int]]:
    """Stream every raw stream (one in memory at a time) to signals.xdf and per-kind tables.

    The XDF file also gets each session's ``labmrt markers`` stream. Returns the files written,
    the codebook entries, the first rows of each table (for column types) and the row counts.
    """
    streams = store.sample_streams()
    offsets_all = store.clock_offsets()
    markers_all = store.markers()
    if streams.empty and markers_all.empty:
        return {}, [], {}, {}
    ext = "csv" if fmt == "csv" else "parquet"
    tables: dict[str, _SignalTable] = {}
    with XdfWriter(out / "signals.xdf") as xdf:
        for sid in store.sessions()["session"]:
            info = store.session_info(int(sid))
            label = f"{info.participant}/s{info.session_no}"
            for row in streams[streams["session"] == sid].itertuples(index=False):
                data, ts = store.samples(int(sid), row.kind, row.source_id)
                meta = _stream_meta(info.streams, row.source_id, row.kind)
                labels = _channel_labels(meta, row.kind, data.shape[1])
                offsets = offsets_all[
                    (offsets_all["session"] == sid) & (offsets_all["source_id"] == row.source_id)
                ]
                xdf.write_stream(
                    XdfStream(
                        name=f"{label} {meta.get('name', row.kind)}",
                        type=str(meta.get("type", row.kind)).upper(),
                        source_id=f"{row.source_id}@{label}",
                        data=data,
                        timestamps=ts,
                        nominal_srate=float(row.sfreq),
                        channel_labels=labels,
                        unit=str(meta.get("unit", "")),
                        clock_offsets=list(
                            zip(
                                offsets["t"].astype(float),
                                offsets["offset"].astype(float),
                                strict=True,
                            )
                        ),
                        hostname=info.workstation,
                    )
                )
                key = row.kind
                table = tables.get(key)
                if table is not None and len(table.columns or []) - 5 != data.shape[1]:
                    key = f"{row.kind}_{data.shape[1]}ch"  # another channel layout: own table
                    table = tables.get(key)
                if table is None:
                    table = tables[key] = _SignalTable(out / f"signals_{key}.{ext}", fmt)
                frame = pd.DataFrame(data, columns=table.columns[5:] if table.columns else labels)
                frame.insert(0, "t_local", _to_local(ts, offsets))
                frame.insert(0, "t", ts)
                frame.insert(0, "source_id", row.source_id)
                frame.insert(0, "session", int(sid))
                frame.insert(0, "participant", info.participant)
                table.append(frame)
                del data, ts, frame
            marks = markers_all[markers_all["session"] == sid]
            if len(marks):
                ts = marks["t"].to_numpy(dtype=float)
                xdf.write_stream(
                    XdfStream(
                        name=f"{label} labmrt markers",
                        type="Markers",
                        source_id=f"labmrt-markers@{label}",
                        data=list(marks["marker"]),
                        timestamps=ts,
                        channel_labels=["marker"],
                        # markers are stamped with the local clock itself: offset 0 by definition
                        clock_offsets=[(float(ts[0]), 0.0), (float(ts[-1]), 0.0)],
                        hostname=info.workstation,
                    )
                )
    written: dict[str, Path] = {"signals_xdf": out / "signals.xdf"}
    docs, heads, rows = [], {}, {}
    for key, table in tables.items():
        name = f"signals_{key}"
        written[name] = table.close()
        assert table.head is not None
        docs.append(_signal_doc(key, name, table.head))
        heads[name] = table.head
        rows[name] = table.rows
    return written, docs, heads, rows


def _signal_doc(kind: str, name: str, frame: pd.DataFrame) -> TableDoc:
    doc = TableDoc(name, f"Raw `{kind}` samples as recorded, one row per sample.")
    doc.add("participant", "", "participant code")
    doc.add("session", "", "session id")
    doc.add("source_id", "", "LSL source_id of the stream")
    doc.add("t", "s (LSL clock of the source)", "sample time stamp as received")
    doc.add(
        "t_local",
        CLOCK,
        "sample time on the recording workstation's clock (t + the "
        "interpolated LSL time_correction offset; equal to t when none was measured)",
    )
    for col in frame.columns[5:]:
        doc.add(col, "", f"channel `{col}` of the `{kind}` stream")
    return doc


# ----------------------------------------------------------------------------- writing
def _write_table(frame: pd.DataFrame, path: Path, fmt: str) -> Path:
    tmp = path.with_name(path.name + ".part")
    if fmt == "csv":
        frame.to_csv(tmp, index=False)
    else:
        frame.to_parquet(tmp, index=False)
    tmp.replace(path)
    return path


def export_study(
    study_dir: str | Path,
    out_dir: str | Path | None = None,
    format: str = "csv",
    *,
    signals: bool = True,
) -> dict[str, Path]:
    """Export all sessions of ``study_dir`` into ``out_dir`` (default ``STUDY_DIR/export``).

    Returns the written files by name: ``decision_points``, ``participants``, ``events``,
    ``states``, ``sessions``, ``codebook_json``, ``codebook_md`` and, with ``signals``, ``signals_xdf`` and
    ``signals_<kind>`` per recorded signal kind.
    """
    if format not in EXPORT_FORMATS:
        raise LabmrtError(
            Problem("--format", f"unknown export format {format!r}", "use csv or parquet")
        )
    study_dir = Path(study_dir)
    out = Path(out_dir) if out_dir is not None else study_dir / "export"
    with StudyStore.open(study_dir, readonly=True) as store:
        sessions_frame, sessions_doc = sessions_table(store)
        if sessions_frame.empty:
            raise LabmrtError(
                Problem(str(study_dir), "the study has no sessions yet", "run a session first")
            )
        summaries: dict[str, ProtocolSummary] = {}
        for sid in sessions_frame["session"]:
            info = store.session_info(int(sid))
            if info.protocol_hash not in summaries:
                summaries[info.protocol_hash] = protocol_summary(
                    info.protocol_text, info.protocol_hash
                )
        dp, dp_doc = decision_point_table(store, summaries)
        people, people_doc, measures = participants_table(store, store.sessions())
        namer = _Namer(list(dp.columns))
        dp = repeat_on_rows(
            dp, dp_doc, people, measures, lambda key: namer.name(key, "participant")
        )
        ev, ev_doc = events_table(store)
        st, st_doc = states_table(store)
        schema_version = store.schema_version()
        software, software_differences = software_summary(store)
        try:
            out.mkdir(parents=True, exist_ok=True)
        except OSError as err:
            raise LabmrtError(
                Problem(str(out), f"cannot create the export folder: {err}", "")
            ) from err
        ext = "csv" if format == "csv" else "parquet"
        frames = {
            "decision_points": dp,
            "participants": people,
            "events": ev,
            "states": st,
            "sessions": sessions_frame,
        }
        docs = [dp_doc, people_doc, ev_doc, st_doc, sessions_doc]
        written: dict[str, Path] = {}
        for name, frame in frames.items():
            written[name] = _write_table(frame, out / f"{name}.{ext}", format)
        rows = {name: len(frame) for name, frame in frames.items()}
        if signals:
            sig_written, sig_docs, sig_heads, sig_rows = _export_signals(store, out, format)
            written.update(sig_written)
            docs += sig_docs
            frames.update(sig_heads)
            rows.update(sig_rows)

    baselines = sorted({s.baseline_arm for s in summaries.values() if s.baseline_arm})
    arms = [c.removeprefix("prob_") for c in dp.columns if c.startswith("prob_")]
    outcome_names = [c for c, (_, _, source) in dp_doc.columns.items() if source == "outcome"]
    distal_names = [c for c, (_, _, source) in dp_doc.columns.items() if source == DISTAL]
    study = {
        "labmrt_version": __version__,
        "exported_at": datetime.now(UTC).isoformat(timespec="seconds"),
        "study": study_dir.resolve().name,
        "schema_version": schema_version,
        "time_base": CLOCK,
        "protocol_hashes": list(summaries),
        "protocols": [
            {
                "hash": s.hash,
                "name": s.name,
                "arms": s.arms,
                "baseline_arm": s.baseline_arm,
                "outcomes": s.outcomes,
                "moderators": s.moderators,
                "controls": s.controls,
            }
            for s in summaries.values()
        ],
        "arms": arms,
        "baseline_arm": baselines[0] if len(baselines) == 1 else (baselines or None),
        "outcomes": outcome_names,
        "distal_outcomes": distal_names,
        "participants": int(dp["participant"].nunique()) if len(dp) else 0,
        "sessions": len(sessions_frame),
        "software": [{**group, "summary": describe(group["versions"])} for group in software],
        "software_differences": software_differences,
        "format": format,
        "files": {k: p.name for k, p in written.items()},
    }
    codebook = finish_codebook(docs, frames, study, rows)
    written["codebook_json"], written["codebook_md"] = write_codebook(codebook, out)
    return written


def read_codebook(export_dir: str | Path) -> dict:
    """The codebook of an export folder (for the analyzer: arms, baseline_arm, outcomes)."""
    path = Path(export_dir) / "codebook.json"
    try:
        return json.loads(path.read_text("utf-8"))
    except FileNotFoundError as err:
        raise LabmrtError(
            Problem(str(path), "no codebook here", "run labmrt export on the study first")
        ) from err
