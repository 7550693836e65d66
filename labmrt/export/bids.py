"""A study as a BIDS dataset: behaviour, events and physiology, checked by the BIDS validator.

Built from what :func:`labmrt.export.export_study` writes (the decision-point,
events and sessions tables and the codebook, whose descriptions become the
JSON sidecars) and from the store (phases, markers, raw samples), so the BIDS
files say exactly what the tidy export says. Layout (BIDS 1.10, "Behavioral
experiments" and "Physiological recordings")::

    dataset_description.json  README  participants.tsv/.json
    sub-<code>/sub-<code>_sessions.tsv
    sub-<code>/ses-<n>/beh/sub-<code>_ses-<n>_task-<study>[_run-<k>]_events.tsv/.json
                          ..._beh.tsv/.json                 the decision-point table
                          ..._recording-<kind>_physio.tsv.gz/.json   one per raw stream

``ses-<n>`` is the participant's n-th session; a session resumed after a crash
is one session of several runs (``run-1`` the interrupted part, ``run-2`` the
continuation). Every time of a run is in seconds from that run's start (the
session's ``started_t``): event onsets, the decision-point table's times and the
physio files' ``StartTime``, so all three line up. BIDS labels are letters and
digits only, so a participant code ``P_07`` becomes ``sub-P07`` (two codes
that collide are refused); ``participants.tsv`` keeps the original code.
"""

from __future__ import annotations

import json
import re
import shutil
import tempfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from labmrt import __version__
from labmrt.errors import LabmrtError, Problem
from labmrt.export.bids_physio import KIND_UNITS, PhysioStream, to_local, write_physio
from labmrt.export.tables import CLOCK, export_study
from labmrt.store import StudyStore
from labmrt.store.chains import session_chains

BIDS_VERSION = "1.10.0"
NA = "n/a"
ENDED = ("completed", "aborted", "incomplete")


@dataclass
class BidsExport:
    """What :func:`export_bids` wrote, and what it could not put into BIDS (and why)."""

    root: Path
    files: list[Path] = field(default_factory=list)
    left_out: list[str] = field(default_factory=list)

    def count(self, suffix: str) -> int:
        return sum(p.name.endswith(suffix) for p in self.files)


def bids_label(text: str) -> str:
    """A BIDS entity label: the letters and digits of ``text``."""
    return re.sub(r"[^0-9A-Za-z]", "", str(text))


def _read(path: Path) -> pd.DataFrame:
    return pd.read_csv(path, keep_default_na=True, dtype={"participant": str, "arm": str})


def _columns_doc(codebook: dict, table: str) -> dict[str, dict]:
    for t in codebook.get("tables", []):
        if t["table"] == table:
            return {c["name"]: c for c in t["columns"]}
    return {}


def _tsv(frame: pd.DataFrame, path: Path) -> Path:
    out = frame.copy()
    for col in out.columns:
        if pd.api.types.is_bool_dtype(out[col]):
            out[col] = out[col].astype("Int64")
    out.to_csv(path, sep="\t", index=False, na_rep=NA, lineterminator="\n")
    return path


def _json(doc: dict, path: Path) -> Path:
    path.write_text(json.dumps(doc, indent=2, ensure_ascii=False) + "\n", "utf-8")
    return path


def _column_sidecar(doc: dict | None, *, relative: bool = False) -> dict:
    """A BIDS column description from a codebook column (unit, meaning)."""
    if doc is None:
        return {"Description": "see the labmrt codebook"}
    entry = {"Description": doc["meaning"] or doc["name"]}
    unit = doc.get("unit", "")
    if relative:
        entry["Description"] += " (seconds from the start of the run)"
        unit = "s"
    if unit and unit not in ("probability", "0..1", "count", "0/1") and "log" not in unit:
        entry["Units"] = unit.replace("µ", "u")
    return entry


# ----------------------------------------------------------------------------- sessions
def _subject_labels(codes: list[str]) -> dict[str, str]:
    labels: dict[str, str] = {}
    for code in codes:
        label = bids_label(code)
        clash = [c for c, lab in labels.items() if lab == label]
        if not label or clash:
            raise LabmrtError(
                Problem(
                    f"participant {code}",
                    "has no BIDS label of its own (BIDS labels are letters and digits only"
                    + (f"; {clash[0]} gives sub-{label} too)" if clash else ")"),
                    "export the participants to separate BIDS datasets, or rename one code",
                )
            )
        labels[code] = label
    return labels


def _acq_time(created_at: str) -> str:
    try:
        stamp = pd.Timestamp(created_at)
    except ValueError:
        return NA
    if stamp.tzinfo is not None:
        stamp = stamp.tz_convert("UTC").tz_localize(None)
    return stamp.strftime("%Y-%m-%dT%H:%M:%S")


# ----------------------------------------------------------------------------- events
_EVENT_LEVELS = {
    "rest": "calibration: rest",
    "stressor": "calibration: stressor (mental arithmetic)",
    "break": "a break (the session paused)",
    "task_block": "the block of tasks",
    "decision": "a decision point: availability, the drawn arm and its probabilities",
    "task": "a framed task on screen (onset: shown; duration: until it ended)",
    "answer": "the participant answered the task",
    "feature": "a use of an information-system feature (see feature, action)",
}


def _events(dp: pd.DataFrame, ev: pd.DataFrame, phases: pd.DataFrame, zero: float) -> pd.DataFrame:
    prob_cols = [c for c in dp.columns if c.startswith("prob_")]
    rows: list[dict[str, Any]] = []
    for p in phases.itertuples(index=False):
        end = p.end_t if p.end_t is not None and not pd.isna(p.end_t) else np.nan
        rows.append(
            {
                "onset": p.start_t - zero,
                "duration": end - p.start_t,
                "trial_type": "task_block" if p.phase == "task" else p.phase,
            }
        )
    for r in dp.to_dict("records"):
        common = {"decision_point": r["decision_point"], "task_id": r["task_id"], "arm": r["arm"]}
        rows.append(
            {
                "onset": r["t"] - zero,
                "duration": 0.0,
                "trial_type": "decision",
                **common,
                "available": r["available"],
                **{c: r[c] for c in prob_cols},
                "affect_state": r["affect_state"],
                "p_aroused": r["p_aroused"],
            }
        )
        if not pd.isna(r["shown_t"]):
            rows.append(
                {
                    "onset": r["shown_t"] - zero,
                    "duration": r["end_t"] - r["shown_t"],
                    "trial_type": "task",
                    **common,
                    "received": r["received"],
                    "confirmed": r["confirmed"],
                    "dwell_s": r["dwell_s"],
                }
            )
        if not pd.isna(r["answer_t"]):
            rows.append(
                {
                    "onset": r["answer_t"] - zero,
                    "duration": 0.0,
                    "trial_type": "answer",
                    **common,
                    "value": r["answer"],
                    "correct": r["correct"],
                }
            )
    for e in ev.to_dict("records"):
        rows.append(
            {
                "onset": e["t"] - zero,
                "duration": 0.0,
                "trial_type": "feature",
                "decision_point": e["decision_point"],
                "feature": e["feature"],
                "action": e["action"],
            }
        )
    columns = (
        ["onset", "duration", "trial_type", "decision_point", "task_id", "arm", "available"]
        + prob_cols
        + ["affect_state", "p_aroused", "received", "confirmed", "dwell_s"]
        + ["value", "correct", "feature", "action"]
    )
    frame = pd.DataFrame.from_records(rows, columns=columns)
    frame["duration"] = frame["duration"].where(frame["duration"] >= 0)  # open phase: n/a
    for col in ("decision_point", "available", "received", "confirmed", "correct"):
        frame[col] = pd.array(frame[col], dtype="Float64").round().astype("Int64")
    for col in ("onset", "duration"):
        frame[col] = frame[col].astype(float).round(6)
    return frame.sort_values("onset", kind="stable").reset_index(drop=True)


def _events_sidecar(frame: pd.DataFrame, dp_doc: dict, ev_doc: dict, arms: list[str]) -> dict:
    side: dict[str, Any] = {
        "onset": {
            "Description": "seconds from the start of the run (the session's start)",
            "Units": "s",
        },
        "duration": {
            "Description": "seconds the event lasted (0: an instant; n/a: open)",
            "Units": "s",
        },
        "trial_type": {
            "Description": "what happened",
            "Levels": {k: v for k, v in _EVENT_LEVELS.items() if k in set(frame["trial_type"])},
        },
        "decision_point": _column_sidecar(dp_doc.get("decision_point")),
        "task_id": _column_sidecar(dp_doc.get("task_id")),
        "arm": {**_column_sidecar(dp_doc.get("arm")), "Levels": {a: f"arm {a}" for a in arms}},
        "available": _column_sidecar(dp_doc.get("available")),
        "affect_state": {
            **_column_sidecar(dp_doc.get("affect_state")),
            "Levels": {"calm": "calm", "aroused": "aroused", "unknown": "no state could be read"},
        },
        "p_aroused": _column_sidecar(dp_doc.get("p_aroused")),
        "received": _column_sidecar(dp_doc.get("received")),
        "confirmed": _column_sidecar(dp_doc.get("confirmed")),
        "dwell_s": _column_sidecar(dp_doc.get("dwell_s")),
        "value": {"Description": "task rows: the participant's answer"},
        "correct": _column_sidecar(dp_doc.get("correct")),
        "feature": _column_sidecar(ev_doc.get("feature")),
        "action": _column_sidecar(ev_doc.get("action")),
    }
    for col in frame.columns:
        if col.startswith("prob_"):
            side[col] = _column_sidecar(dp_doc.get(col))
    return {c: side[c] for c in frame.columns}


# ----------------------------------------------------------------------------- participants
def _participants(
    sessions: pd.DataFrame, dp: pd.DataFrame, labels: dict[str, str], calibration: dict[str, str]
) -> tuple[pd.DataFrame, dict]:
    rows = []
    for code, label in labels.items():
        mine_s = sessions[sessions["participant"] == code]
        mine = dp[dp["participant"] == code]
        scored = mine["correct"].dropna()
        rows.append(
            {
                "participant_id": f"sub-{label}",
                "labmrt_code": code,
                "sessions": int(mine_s["resume_of"].isna().sum()),
                "completed_sessions": int((mine_s["status"] == "completed").sum()),
                "decision_points": len(mine),
                "available_points": int(mine["available"].sum()),
                "tasks_answered": int(mine["answer_t"].notna().sum()),
                "share_correct": round(float(scored.mean()), 4) if len(scored) else np.nan,
                "calibration": calibration.get(code, NA),
            }
        )
    doc = {
        "participant_id": {"Description": "BIDS subject label (letters and digits of the code)"},
        "labmrt_code": {"Description": "the participant code in the labmrt study store"},
        "sessions": {"Description": "sessions run (a resumed session counts once)"},
        "completed_sessions": {"Description": "session parts that ended as completed"},
        "decision_points": {"Description": "decision points recorded, available or not"},
        "available_points": {"Description": "decision points at which an arm was randomized"},
        "tasks_answered": {"Description": "tasks the participant answered"},
        "share_correct": {"Description": "share of the scored answers that were correct"},
        "calibration": {
            "Description": "how the last calibration of the affective-state classifier went",
            "Levels": {
                "separated": "rest and stressor were told apart",
                "not separated": "rest and stressor could not be told apart",
                "rest reference": "states judged against the rest reference only",
                "failed": "too little clean signal to fit the classifier",
                NA: "no calibration marker recorded",
            },
        },
    }
    return pd.DataFrame(rows), doc


def _calibration_status(markers: pd.DataFrame, sessions: pd.DataFrame) -> dict[str, str]:
    owner = dict(zip(sessions["session"], sessions["participant"], strict=True))
    status: dict[str, str] = {}
    for m in markers.itertuples(index=False):
        try:
            payload = json.loads(m.marker)
        except (TypeError, ValueError):
            continue
        if isinstance(payload, dict) and payload.get("event") == "calibration":
            status[owner.get(m.session, "")] = str(payload.get("status", NA))
    return status


# ----------------------------------------------------------------------------- streams
def _streams(store: StudyStore, sid: int, info: Any, left_out: list[str]) -> list[PhysioStream]:
    offsets = store.clock_offsets(sid)
    found = []
    for row in store.sample_streams(sid).itertuples(index=False):
        what = f"session {sid}: {row.kind} stream {row.source_id}"
        if not row.sfreq or row.sfreq <= 0:
            left_out.append(f"{what}: irregular rate (BIDS physio needs a sampling frequency)")
            continue
        data, ts = store.samples(sid, row.kind, row.source_id)
        if len(ts) == 0:
            continue
        order = np.argsort(ts, kind="stable")
        meta = next((s for s in info.streams if str(s.get("source_id")) == row.source_id), {})
        n = data.shape[1]
        labels = meta.get("channel_labels") or ([meta.get("label")] if meta.get("label") else [])
        labels = [str(x) for x in labels] if len(labels) == n else None
        if labels is None:
            labels = [row.kind] if n == 1 else [f"{row.kind}_{i + 1}" for i in range(n)]
        unit = str(meta.get("unit") or KIND_UNITS.get(row.kind, ""))
        found.append(
            PhysioStream(
                kind=row.kind,
                source_id=row.source_id,
                sfreq=float(row.sfreq),
                data=np.asarray(data, dtype=float)[order],
                local_t=to_local(ts[order], offsets[offsets["source_id"] == row.source_id]),
                labels=labels,
                units=[unit] * n,
                stream_name=str(meta.get("stream") or meta.get("name") or ""),
            )
        )
    return found


# ----------------------------------------------------------------------------- dataset
def _readme(title: str, task: str, left_out: list[str]) -> str:
    lines = [
        f"# {title}",
        "",
        f"A micro-randomized trial recorded with labmrt {__version__} and exported to BIDS "
        f"{BIDS_VERSION}. Each session of a participant is `ses-<n>`; a session resumed "
        "after an interruption has one run per part. In `beh/`, `*_task-" + task + "_events.tsv` "
        "holds every decision point, framed task, answer, feature use and phase with onsets "
        "in seconds from the start of the run; `*_beh.tsv` is the decision-point table "
        "(one row per decision point, as `labmrt analyze` reads it); "
        "`*_recording-<kind>_physio.tsv.gz` holds each raw LSL stream the session recorded, "
        "its `StartTime` on the same zero as the events.",
    ]
    if left_out:
        lines += ["", "Not in this dataset (no BIDS form for them):", ""]
        lines += [f"- {item}" for item in left_out]
    return "\n".join(lines) + "\n"


def _entities(label: str, ses: int, task: str, run: int | None) -> str:
    return f"sub-{label}_ses-{ses}_task-{task}" + (f"_run-{run}" if run is not None else "")


def export_bids(study_dir: str | Path, out_dir: str | Path) -> BidsExport:
    """Write the BIDS dataset of ``study_dir`` to ``out_dir`` (replacing an earlier one)."""
    study_dir = Path(study_dir)
    out = Path(out_dir)
    if out.exists() and any(out.iterdir()) and not _is_our_bids(out):
        raise LabmrtError(
            Problem(
                str(out),
                "exists and is not a BIDS dataset labmrt wrote",
                "name a new folder (or an earlier labmrt BIDS export to replace)",
            )
        )
    task = bids_label(study_dir.resolve().name) or "labmrt"
    with tempfile.TemporaryDirectory(prefix="labmrt-bids-") as tmp:
        written = export_study(study_dir, tmp, signals=False)
        codebook = json.loads(Path(written["codebook_json"]).read_text("utf-8"))
        dp = _read(written["decision_points"])
        ev = _read(written["events"])
        sessions = _read(written["sessions"])
    staging = out.with_name(out.name + ".partial")
    shutil.rmtree(staging, ignore_errors=True)
    staging.mkdir(parents=True)
    result = BidsExport(root=out)
    dp_doc, ev_doc = _columns_doc(codebook, "decision_points"), _columns_doc(codebook, "events")
    arms = list(codebook.get("arms") or [])
    labels = _subject_labels(sorted(sessions["participant"].unique()))
    files: list[Path] = []
    with StudyStore.open(study_dir, readonly=True) as store:
        markers = store.markers()
        for code, chains in session_chains(sessions).items():
            label = labels[code]
            sessions_rows = []
            for ses, chain in enumerate(chains, start=1):
                beh = staging / f"sub-{label}" / f"ses-{ses}" / "beh"
                beh.mkdir(parents=True)
                for run, sid in enumerate(chain, start=1):
                    info = store.session_info(sid)
                    zero = float(info.started_t)
                    stem = beh / _entities(label, ses, task, run if len(chain) > 1 else None)
                    mine = dp[dp["session"] == sid]
                    events = _events(mine, ev[ev["session"] == sid], store.phases(sid), zero)
                    files.append(_tsv(events, Path(f"{stem}_events.tsv")))
                    task_doc = _task_doc(task, info)
                    side = {**task_doc, **_events_sidecar(events, dp_doc, ev_doc, arms)}
                    side["StimulusPresentation"] = _presentation(info)
                    files.append(_json(side, Path(f"{stem}_events.json")))
                    files += _beh_table(mine, dp_doc, zero, stem, task_doc)
                    kinds: dict[str, int] = {}
                    for stream in _streams(store, sid, info, result.left_out):
                        kinds[stream.kind] = kinds.get(stream.kind, 0) + 1
                        rec = bids_label(stream.kind) + (
                            str(kinds[stream.kind]) if kinds[stream.kind] > 1 else ""
                        )
                        physio = Path(f"{stem}_recording-{rec}")
                        write_physio(stream, physio, zero, {"TaskName": task})
                        files += [Path(f"{physio}_physio.tsv.gz"), Path(f"{physio}_physio.json")]
                parts = sessions[sessions["session"].isin(chain)]
                last = parts.iloc[-1]
                sessions_rows.append(
                    {
                        "session_id": f"ses-{ses}",
                        "acq_time": _acq_time(str(parts.iloc[0]["created_at"])),
                        "labmrt_sessions": ",".join(str(s) for s in chain),
                        "status": last["status"],
                        "workstation": last["workstation"] if pd.notna(last["workstation"]) else NA,
                    }
                )
            sub = staging / f"sub-{label}"
            files.append(_tsv(pd.DataFrame(sessions_rows), sub / f"sub-{label}_sessions.tsv"))
            files.append(_json(_SESSIONS_DOC, sub / f"sub-{label}_sessions.json"))
        calibration = _calibration_status(markers, sessions)
    participants, participants_doc = _participants(sessions, dp, labels, calibration)
    files.append(_tsv(participants, staging / "participants.tsv"))
    files.append(_json(participants_doc, staging / "participants.json"))
    title = next((p["name"] for p in codebook.get("protocols", []) if p.get("name")), task)
    files.append(_json(_description(title, codebook), staging / "dataset_description.json"))
    (staging / "README.md").write_text(_readme(title, task, result.left_out), "utf-8")
    files.append(staging / "README.md")
    if out.exists():
        shutil.rmtree(out)
    staging.replace(out)
    result.files = [out / p.relative_to(staging) for p in files]
    return result


_SESSIONS_DOC = {
    "session_id": {"Description": "the participant's n-th session"},
    "acq_time": {"Description": "when the session was created (UTC)"},
    "labmrt_sessions": {
        "Description": "the session ids in the labmrt store, one per run (resumed parts)"
    },
    "status": {"Description": "how the session (its last run) ended"},
    "workstation": {"Description": "the workstation the session ran on"},
}


def _task_doc(task: str, info: Any) -> dict:
    """TaskName and, from the protocol the session ran, TaskDescription."""
    from labmrt.protocol import Protocol

    doc = {"TaskName": task}
    try:
        study = Protocol.from_canonical_json(info.protocol_text).study
    except LabmrtError:  # an unreadable old protocol text only loses the description
        return doc
    doc["TaskDescription"] = study.description or study.title
    return doc


def _presentation(info: Any) -> dict:
    """What showed the tasks: labmrt's participant screen, on the session's system."""
    software = info.software or {}
    doc = {"SoftwareName": "labmrt", "SoftwareVersion": software.get("labmrt", __version__)}
    if software.get("os"):
        doc["OperatingSystem"] = software["os"]
    return doc


def _beh_table(
    mine: pd.DataFrame, dp_doc: dict, zero: float, stem: Path, task_doc: dict
) -> list[Path]:
    """The session's rows of the decision-point table, its clock times made run-relative."""
    frame = mine.drop(columns=["participant", "session"]).reset_index(drop=True)
    side: dict[str, Any] = dict(task_doc)
    for col in frame.columns:
        doc = dp_doc.get(col)
        relative = doc is not None and doc.get("unit") == CLOCK
        if relative:
            frame[col] = (frame[col] - zero).round(6)
        side[col] = _column_sidecar(doc, relative=relative)
    return [_tsv(frame, Path(f"{stem}_beh.tsv")), _json(side, Path(f"{stem}_beh.json"))]


def _description(title: str, codebook: dict) -> dict:
    return {
        "Name": title,
        "BIDSVersion": BIDS_VERSION,
        "DatasetType": "raw",
        "GeneratedBy": [
            {
                "Name": "labmrt",
                "Version": __version__,
                "Description": "labmrt export --bids from the study store (schema version "
                f"{codebook.get('schema_version')}), protocol(s) "
                + ", ".join(codebook.get("protocol_hashes", [])),
            }
        ],
    }


def _is_our_bids(path: Path) -> bool:
    try:
        doc = json.loads((path / "dataset_description.json").read_text("utf-8"))
    except (OSError, ValueError):
        return False
    return any(g.get("Name") == "labmrt" for g in doc.get("GeneratedBy", []))
