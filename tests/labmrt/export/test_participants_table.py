"""participants.csv: the participant-level measures, computed from a hand-built store.

The values are known by construction: P01 has two session records (a
resumed one) with four tasks, three of them scored (a task without a right
answer is not), one of those unanswered (a time-out, scored wrong); P02 has
one session with two scored tasks, both right. Each distal outcome must be
exact, repeated on every decision-point row of its participant (unavailable
rows included), listed in the codebook, and a protocol outcome that takes
its name must push it to a prefixed column.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from labmrt.export import export_study, load_export
from labmrt.export.participants import MEASURE_SOURCES, distal_outcome_names
from labmrt.protocol import load_protocol
from labmrt.store import StudyStore

# The small two-arm study of the distal checks, with its second task left unscored.
CHECK = Path(__file__).resolve().parents[2] / "e2e" / "mediation_check.toml"
PROTOCOL = CHECK.read_text("utf-8").replace('correct = "4"\n', "", 1)

# (participant, session index, task index, decision point, shown, answer, answer time, correct)
TASKS = [
    ("P01", 0, 0, 0, 100.0, "2", 110.0, True),
    ("P01", 0, 1, -1, 120.0, "hello", 124.0, None),  # not a decision point, not scored
    ("P01", 1, 2, 1, 300.0, "7", 330.0, False),  # the resumed session
    ("P01", 1, 3, 2, 340.0, None, None, False),  # timed out: scored as wrong
    ("P02", 0, 0, 0, 100.0, "2", 102.0, True),
    ("P02", 0, 2, 1, 110.0, "6", 116.0, True),
]


def _study(tmp_path: Path, outcome: str) -> Path:
    proto_file = tmp_path / "p.toml"
    proto_file.write_text(PROTOCOL.replace('name = "help_s"', f'name = "{outcome}"'), "utf-8")
    protocol = load_protocol(proto_file)
    study = tmp_path / "study"
    with StudyStore.open(study, create=True) as st:
        sids = {"P01": [st.create_session("P01", protocol, started_t=90.0)]}
        st.set_status(sids["P01"][0], "running", 90.0)
        sids["P01"].append(
            st.create_session(
                "P01", protocol, started_t=290.0, session_no=2, resume_of=sids["P01"][0]
            )
        )
        sids["P02"] = [st.create_session("P02", protocol, started_t=90.0)]
        for code, k, task, dp, shown, answer, answer_t, correct in TASKS:
            sid = sids[code][k]
            if dp >= 0:
                st.add_decision(
                    sid,
                    {
                        "decision_point": dp,
                        "task_index": task,
                        "task_id": f"t{task + 1}",
                        "t": shown - 1,
                        "available": not (code == "P01" and dp == 1),
                        "arm": None if (code == "P01" and dp == 1) else "loss",
                        "probabilities": {"neutral": 0.5, "loss": 0.5},
                    },
                )
                st.add_outcomes(sid, dp, {outcome: 1.0})
            st.add_presentation(
                sid,
                {
                    "decision_point": dp,
                    "task_index": task,
                    "task_id": f"t{task + 1}",
                    "shown_t": shown,
                    "answer": answer,
                    "answer_t": answer_t,
                    "correct": correct,
                    "end_t": shown + 40,
                },
            )
        for code in sids:
            st.set_status(sids[code][-1], "completed", 400.0)
    return study


def test_the_distal_outcomes_are_exact_and_repeated_on_every_row(tmp_path):
    files = export_study(_study(tmp_path, "help_seconds"), tmp_path / "out", signals=False)
    people = pd.read_csv(files["participants"]).set_index("participant")
    assert list(people.index) == ["P01", "P02"]
    p1, p2 = people.loc["P01"], people.loc["P02"]
    assert (p1["sessions"], p1["sessions_completed"]) == (2, 1)
    assert (p1["tasks_presented"], p1["tasks_scored"], p1["tasks_answered"]) == (4, 3, 3)
    assert p1["tasks_correct"] == 1 and p1["share_correct"] == pytest.approx(1 / 3, abs=1e-15)
    assert p1["mean_answer_s"] == pytest.approx((10 + 4 + 30) / 3, abs=1e-12)
    assert p2["share_correct"] == 1.0 and p2["mean_answer_s"] == pytest.approx(4.0, abs=1e-12)

    dp = pd.read_csv(files["decision_points"])
    assert len(dp) == 5 and dp["available"].tolist() == [1, 0, 1, 1, 1]
    for code, part in dp.groupby("participant"):
        for col in ("share_correct", "mean_answer_s"):
            assert (part[col] == people.loc[code, col]).all(), (code, col)

    book = json.loads(files["codebook_json"].read_text("utf-8"))
    assert book["distal_outcomes"] == ["share_correct", "mean_answer_s"]
    assert book["files"]["participants"] == "participants.csv"
    tables = {t["table"]: t for t in book["tables"]}
    cols = {c["name"]: c for c in tables["participants"]["columns"]}
    assert list(cols) == list(people.reset_index().columns)
    assert cols["share_correct"]["source"] == "distal" and cols["share_correct"]["unit"] == "0..1"
    assert cols["sessions"]["type"] == "integer"  # a count, though it holds only 1s and 2s
    dp_cols = {c["name"]: c for c in tables["decision_points"]["columns"]}
    assert dp_cols["mean_answer_s"]["source"] == "distal"
    assert "the same value on each of the participant's rows" in dp_cols["mean_answer_s"]["meaning"]

    data = load_export(tmp_path / "out")
    assert data.distal_outcomes == ["share_correct", "mean_answer_s"]
    assert "share_correct" not in data.outcomes and "share_correct" not in data.controls


def test_a_taken_name_gets_the_participant_prefix(tmp_path):
    files = export_study(_study(tmp_path, "share_correct"), tmp_path / "out", signals=False)
    dp = pd.read_csv(files["decision_points"])
    assert (dp["share_correct"] == 1.0).all()  # the proximal outcome keeps its name
    expected = np.where(dp["participant"] == "P01", 1 / 3, 1.0)
    np.testing.assert_allclose(dp["participant_share_correct"], expected, rtol=0, atol=1e-15)
    book = json.loads(files["codebook_json"].read_text("utf-8"))
    assert book["distal_outcomes"] == ["participant_share_correct", "mean_answer_s"]


def test_measure_names_are_unique_and_the_catalog_knows_them(tmp_path):
    with StudyStore.open(_study(tmp_path, "help_seconds"), readonly=True) as st:
        sessions = st.sessions()
        names = [m.name for source in MEASURE_SOURCES for m in source(st, sessions).measures]
    assert len(names) == len(set(names))
    proto_file = tmp_path / "p.toml"
    protocol = load_protocol(proto_file)
    assert distal_outcome_names(protocol) == ("share_correct", "mean_answer_s")
    unscored = PROTOCOL.replace('correct = "', 'question = "')
    proto_file.write_text(unscored, "utf-8")
    assert distal_outcome_names(load_protocol(proto_file)) == ("mean_answer_s",)
