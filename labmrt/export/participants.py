"""The participant-level table: one row per participant, the one place participant-level measures live.

A distal outcome is measured once per participant: the share of tasks answered
correctly over the whole study, the mean time to answer, a post-session scale
score. The distal estimators (MRTAnalysis ``dcee()`` / ``mcee()``,
:mod:`labmrt.analysis.distal`) expect it repeated, identical, on each of the
participant's rows of the decision-point table. Both come from here, so the two
can never disagree: each *measure source* (a function of the study store)
returns per-participant columns with their codebook entries; the export writes
them all as ``participants.csv`` and repeats every measure marked ``repeat``
on the decision-point rows. A new participant-level measure (e.g. the scale
scores of a post-session questionnaire) is one more source in
:data:`MEASURE_SOURCES`, and :func:`distal_outcome_names` names the distal
ones a protocol will have, so an analysis plan can be checked before any data
exist.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import pandas as pd

from labmrt.export.codebook import TableDoc
from labmrt.store import StudyStore

#: Codebook ``source`` of a distal outcome (the other sources are the decision-point table's).
DISTAL = "distal"


@dataclass(frozen=True)
class Measure:
    """One participant-level column: how the codebook describes it and where it goes.

    ``source``: the codebook role, :data:`DISTAL` for an outcome of a distal
    analysis, ``""`` for bookkeeping (counts); ``repeat``: also written on each
    of the participant's decision-point rows (what the distal estimators read).
    """

    name: str
    unit: str
    meaning: str
    source: str = ""
    repeat: bool = False


@dataclass
class ParticipantColumns:
    """What one measure source gives: ``values`` indexed by participant code, one column
    per measure, in the order of ``measures``."""

    values: pd.DataFrame
    measures: list[Measure]


#: (the study store, its sessions table as ``StudyStore.sessions`` gives it) -> the columns.
MeasureSource = Callable[[StudyStore, pd.DataFrame], ParticipantColumns]

SHARE_CORRECT = "share_correct"
MEAN_ANSWER_S = "mean_answer_s"
#: What each distal outcome of the export is (the codebook's and the pre-registration's words).
DISTAL_MEANINGS = {
    SHARE_CORRECT: "share of the scored tasks answered correctly (an unanswered or timed-out "
    "task counts as wrong); empty without scored tasks",
    MEAN_ANSWER_S: "mean time from the framed task being shown to the answer, over the "
    "answered tasks; empty without answers",
}


def session_counts(store: StudyStore, sessions: pd.DataFrame) -> ParticipantColumns:
    """How many sessions each participant has, and how many of them completed."""
    g = sessions.groupby("participant", sort=True)
    values = pd.DataFrame(
        {
            "sessions": g.size().astype("int64"),
            "sessions_completed": g["status"].agg(lambda x: int((x == "completed").sum())),
        }
    )
    return ParticipantColumns(
        values.astype("int64"),
        [
            Measure("sessions", "count", "session records (a resumed session adds one)"),
            Measure("sessions_completed", "count", "sessions whose latest status is completed"),
        ],
    )


def task_answers(store: StudyStore, sessions: pd.DataFrame) -> ParticipantColumns:
    """Task completion over all of a participant's tasks (decision points or not).

    A task is scored when the protocol gives its right answer; an unanswered
    or timed-out scored task counts as wrong (the engine scores it so). The
    time to answer runs from the framed task being shown to the answer.
    """
    p = store.presentations().drop_duplicates(["session", "task_index"], keep="last")
    scored = p["correct"].notna()
    answered = p["answer_t"].notna() & p["shown_t"].notna()
    frame = pd.DataFrame(
        {
            "participant": p["participant"],
            "presented": 1,
            "scored": scored.astype("int64"),
            "answered": p["answer"].notna().astype("int64"),
            "correct": p["correct"].fillna(False).astype("int64"),
            "answer_s": np.where(answered, p["answer_t"] - p["shown_t"], np.nan),
        }
    )
    g = frame.groupby("participant", sort=True)
    counts = g[["presented", "scored", "answered", "correct"]].sum().astype("int64")
    with np.errstate(divide="ignore", invalid="ignore"):
        share = counts["correct"] / counts["scored"].where(counts["scored"] > 0)
    values = pd.DataFrame(
        {
            "tasks_presented": counts["presented"],
            "tasks_scored": counts["scored"],
            "tasks_answered": counts["answered"],
            "tasks_correct": counts["correct"],
            SHARE_CORRECT: share.astype(float),
            MEAN_ANSWER_S: g["answer_s"].mean().astype(float),
        }
    )
    measures = [
        Measure("tasks_presented", "count", "tasks shown in all of the participant's sessions"),
        Measure("tasks_scored", "count", "tasks shown whose right answer the protocol gives"),
        Measure("tasks_answered", "count", "tasks the participant gave an answer to"),
        Measure("tasks_correct", "count", "scored tasks answered correctly"),
        Measure(
            SHARE_CORRECT,
            "0..1",
            f"distal outcome: {DISTAL_MEANINGS[SHARE_CORRECT]}",
            DISTAL,
            repeat=True,
        ),
        Measure(
            MEAN_ANSWER_S, "s", f"distal outcome: {DISTAL_MEANINGS[MEAN_ANSWER_S]}", DISTAL, True
        ),
    ]
    return ParticipantColumns(values, measures)


#: The sources of ``participants.csv``, in column order.
MEASURE_SOURCES: tuple[MeasureSource, ...] = (session_counts, task_answers)


def distal_outcome_names(protocol) -> tuple[str, ...]:
    """The distal outcomes an export of ``protocol``'s sessions will carry.

    The share correct needs at least one scored task (a task with a right answer).
    """
    names = []
    if any(t.correct is not None for t in protocol.tasks):
        names.append(SHARE_CORRECT)
    names.append(MEAN_ANSWER_S)
    return tuple(names)


def participants_table(
    store: StudyStore, sessions: pd.DataFrame | None = None
) -> tuple[pd.DataFrame, TableDoc, list[Measure]]:
    """``participants.csv``: one row per participant with every source's measures.

    ``sessions``: the store's sessions table, when the caller has read it already.
    """
    sessions = store.sessions() if sessions is None else sessions
    doc = TableDoc(
        "participants",
        "One row per participant: the participant-level measures (distal outcomes and "
        "counts). Each measure marked as a distal outcome is also repeated, with the "
        "identical value, on each of the participant's rows of `decision_points`.",
    )
    doc.add("participant", "", "participant code (pseudonymous; never a name)")
    codes = sorted(sessions["participant"].unique())
    frame = pd.DataFrame(index=pd.Index(codes, name="participant"))
    measures: list[Measure] = []
    for source in MEASURE_SOURCES:
        cols = source(store, sessions)
        for m in cols.measures:
            if m.name in frame.columns or m.name == "participant":
                raise AssertionError(f"participant measure {m.name!r} is defined twice")
            column = cols.values[m.name].reindex(frame.index)
            if pd.api.types.is_integer_dtype(cols.values[m.name].dtype):
                column = column.fillna(0).astype("int64")
            frame[m.name] = column
            doc.add(m.name, m.unit, m.meaning, m.source)
            measures.append(m)
    return frame.reset_index(), doc, measures


def repeat_on_rows(
    rows: pd.DataFrame,
    doc: TableDoc,
    participants: pd.DataFrame,
    measures: list[Measure],
    name: Callable[[str], str],
) -> pd.DataFrame:
    """``rows`` (the decision-point table) with every repeated measure appended.

    ``name`` gives the column name of a measure in that table (a free name, or
    the measure prefixed when it is taken). Participants without a value get an
    empty cell on all of their rows.
    """
    by_code = participants.set_index("participant")
    out = rows.copy()
    for m in measures:
        if not m.repeat:
            continue
        col = name(m.name)
        out[col] = rows["participant"].map(by_code[m.name]).astype(float)
        doc.add(
            col,
            m.unit,
            f"{m.meaning}; participant-level (participants.csv `{m.name}`), the same "
            "value on each of the participant's rows",
            m.source,
        )
    return out
