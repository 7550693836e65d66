"""Export of a real study database: decision-point table, codebook, CSV/Parquet, XDF via pyxdf."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import pyxdf

from labmrt.cli import main
from labmrt.errors import LabmrtError
from labmrt.export import export_study, read_codebook
from labmrt.export.xdf import XdfStream, write_xdf
from labmrt.protocol import load_protocol
from labmrt.store import DB_NAME, StudyStore

PROTOCOL = """
[study]
title = "Framing export test"
version = "1"

[[arms]]
id = "neutral"
label = "Neutral"
framing = "{task}"
baseline = true

[[arms]]
id = "gain"
label = "Gain"
framing = "Think of what you gain. {task}"

[[arms]]
id = "loss"
label = "Loss"
framing = "Think of what you could lose. {task}"

[randomization]
seed = 7
probabilities = { neutral = 0.4, gain = 0.3, loss = 0.3 }

[[features]]
id = "help"
label = "Help"
kind = "help"

[[features]]
id = "calc"
label = "Calculator"
kind = "calculator"

[[tasks]]
id = "t1"
text = "Compute 2+2"

[[tasks]]
id = "t2"
text = "Compute 3+3"

[[outcomes]]
name = "help_seconds"
features = ["help"]
measure = "duration"
transform = "log1p"

[[outcomes]]
name = "calc_used"
features = ["calc"]
measure = "any"
"""

ARMS = ["neutral", "gain", "loss"]
PROBS = {"neutral": 0.4, "gain": 0.3, "loss": 0.3}
N_DP = 4
ECG_OFFSET = 0.25  # constant clock offset of the simulated ECG source

# pandas 3 parses floats exactly by default and deprecates the option pandas 2 needs for it.
EXACT_FLOATS = {"float_precision": "round_trip"} if int(pd.__version__.split(".")[0]) < 3 else {}


def _decision(dp: int, available: bool, arm: str | None, phash: str) -> dict:
    return {
        "decision_point": dp,
        "task_index": dp % 2,
        "task_id": f"t{dp % 2 + 1}",
        "t": 1000.0 + 10 * dp,
        "available": available,
        "unavailable_reason": "" if available else "break",
        "arm": arm,
        "probabilities": PROBS if available else {},
        "context": {"affect_state": "aroused" if dp % 2 else "calm"},
        "uniform": 0.1 * dp,
        "protocol_hash": phash,
        "state": "aroused" if dp % 2 else "calm",
        "p_aroused": 0.8 if dp % 2 else 0.1,
        "features": {"hr": 60.0 + dp, "rmssd": 40.0 - dp, "scl": 2.0},
        "windows": {"hr": [970.0 + 10 * dp, 1000.0 + 10 * dp]},
        "quality": {"ecg": 0.9, "eda": 1.0},
        "controls": {"difficulty": 1.0 + dp, "time_in_session_s": 10.0 * dp},
    }


@pytest.fixture
def study(tmp_path: Path) -> dict:
    """Two participants, four decision points each (one unavailable), signals and markers."""
    proto_file = tmp_path / "demo.toml"
    proto_file.write_text(PROTOCOL, "utf-8")
    protocol = load_protocol(proto_file)
    study_dir = tmp_path / "study"
    truth: dict = {"protocol": protocol, "dir": study_dir, "outcomes": {}, "arms": {}}
    rng = np.random.default_rng(3)
    with StudyStore.open(study_dir, create=True) as st:
        for p_i, code in enumerate(("P01", "P02")):
            sid = st.create_session(
                code,
                protocol,
                workstation="ws1",
                streams=[
                    {"kind": "ecg", "source_id": f"ecg-{code}", "name": "SimECG", "unit": "mV"},
                    {
                        "kind": "eda",
                        "source_id": f"eda-{code}",
                        "name": "SimEDA",
                        "unit": "uS",
                        "channel_labels": ["eda_left", "eda_right"],
                    },
                ],
                started_t=990.0,
            )
            st.set_status(sid, "running", 990.0)
            for dp in range(N_DP):
                available = dp != 2
                arm = ARMS[(dp + p_i) % 3] if available else None
                truth["arms"][(code, dp)] = arm
                st.add_decision(sid, _decision(dp, available, arm, protocol.content_hash))
                if dp != 3:  # the last task has no presentation record
                    st.add_presentation(
                        sid,
                        {
                            "decision_point": dp,
                            "task_index": dp % 2,
                            "task_id": f"t{dp % 2 + 1}",
                            "shown_t": 1000.5 + 10 * dp,
                            "received": dp != 1,
                            "dwell_s": 2.0,
                            "confirmed": dp != 1,
                            "answer": "4",
                            "answer_t": 1005.0 + 10 * dp,
                            "correct": True,
                            "end_t": 1006.0 + 10 * dp,
                        },
                    )
                help_s = float(np.log1p(dp + p_i))
                st.add_outcomes(sid, dp, {"help_seconds": help_s, "calc_used": float(dp % 2)})
                truth["outcomes"][(code, dp)] = help_s
                st.add_event(
                    sid,
                    {
                        "decision_point": dp,
                        "task_index": dp % 2,
                        "t": 1001.0 + 10 * dp,
                        "feature": "help",
                        "action": "open",
                    },
                )
                st.add_marker(sid, 1000.0 + 10 * dp, json.dumps({"event": "decision", "dp": dp}))
                st.add_state(
                    sid,
                    {
                        "t": 999.0 + 10 * dp,
                        "label": "calm",
                        "p_aroused": 0.1,
                        "features": {"hr": 60.0},
                        "quality": {"ecg": 1.0},
                        "windows": {},
                    },
                )
            n = 1000
            ecg_ts = 980.0 + np.arange(n) / 250.0  # source clock
            truth[f"ecg-{code}"] = (rng.normal(size=(n, 1)), ecg_ts)
            st.add_samples(sid, "ecg", f"ecg-{code}", truth[f"ecg-{code}"][0], ecg_ts, 250.0)
            for t in (980.0, 982.0, 984.0):
                st.add_clock_offset(sid, f"ecg-{code}", t + ECG_OFFSET, ECG_OFFSET)
            eda = rng.normal(size=(40, 2)).astype(np.float32)
            eda_ts = 1000.0 + np.arange(40) / 4.0
            truth[f"eda-{code}"] = (eda, eda_ts)
            st.add_samples(sid, "eda", f"eda-{code}", eda, eda_ts, 4.0)
            st.set_status(sid, "completed", 1100.0)
    return truth


def test_decision_point_table_has_one_row_per_participant_and_point(study, tmp_path):
    files = export_study(study["dir"], tmp_path / "out")
    # round_trip: the CSV holds the shortest exact repr; pandas' fast parser may be 1 ulp off
    dp = pd.read_csv(files["decision_points"], **EXACT_FLOATS)
    assert list(dp.columns[:9]) == [
        "participant", "session", "decision_point", "task_index", "task_id", "t",
        "available", "unavailable_reason", "arm",
    ]  # fmt: skip
    assert list(dp.columns[9:12]) == ["prob_neutral", "prob_gain", "prob_loss"]  # protocol order
    assert len(dp) == 2 * N_DP
    assert dp[["participant", "decision_point"]].duplicated().sum() == 0
    assert list(dp["participant"]) == ["P01"] * N_DP + ["P02"] * N_DP
    for row in dp.itertuples(index=False):
        key = (row.participant, row.decision_point)
        if row.decision_point == 2:  # unavailable: not randomized
            assert row.available == 0 and pd.isna(row.arm) and row.unavailable_reason == "break"
            assert np.isnan([row.prob_neutral, row.prob_gain, row.prob_loss]).all()
        else:
            assert row.available == 1 and row.arm == study["arms"][key]
            assert (row.prob_neutral, row.prob_gain, row.prob_loss) == (0.4, 0.3, 0.3)
        assert row.help_seconds == pytest.approx(study["outcomes"][key], abs=0)
        assert row.calc_used == row.decision_point % 2
        assert row.affect_state == ("aroused" if row.decision_point % 2 else "calm")
        assert row.hr == 60.0 + row.decision_point and row.rmssd == 40.0 - row.decision_point
        assert row.difficulty == 1.0 + row.decision_point
        assert row.window_hr_end == row.t
        assert row.protocol_hash == study["protocol"].content_hash
    received = dp.set_index(["participant", "decision_point"])["received"]
    assert received[("P01", 0)] == 1 and received[("P01", 1)] == 0
    assert pd.isna(received[("P01", 3)])  # no presentation recorded
    for col in ("received", "affect_state", "p_aroused", "quality_ecg", "time_in_session_s"):
        assert col in dp.columns


def test_parquet_holds_the_same_tables_as_csv(study, tmp_path):
    csv_files = export_study(study["dir"], tmp_path / "csv", signals=False)
    pq_files = export_study(study["dir"], tmp_path / "pq", format="parquet", signals=False)
    assert {k: p.suffix for k, p in pq_files.items() if k.endswith("s")}["decision_points"] == (
        ".parquet"
    )
    for name in ("decision_points", "events", "states", "sessions"):
        a = pd.read_csv(csv_files[name], **EXACT_FLOATS)
        b = pd.read_parquet(pq_files[name])
        assert list(a.columns) == list(b.columns)
        assert len(a) == len(b)
        for col in a.columns:
            if pd.api.types.is_numeric_dtype(a[col]):
                np.testing.assert_array_equal(
                    a[col].to_numpy(float, na_value=np.nan),
                    pd.to_numeric(b[col]).to_numpy(float, na_value=np.nan),
                )
            else:
                assert list(a[col].fillna("")) == list(b[col].fillna("").astype(str))


def test_codebook_describes_every_column_and_names_the_baseline(study, tmp_path):
    files = export_study(study["dir"], tmp_path / "out")
    book = read_codebook(tmp_path / "out")
    assert book["baseline_arm"] == "neutral"
    assert book["arms"] == ARMS
    assert book["protocol_hashes"] == [study["protocol"].content_hash]
    assert book["outcomes"] == ["help_seconds", "calc_used"]
    assert book["protocols"][0]["name"] == "Framing export test (version 1)"
    md = files["codebook_md"].read_text("utf-8")
    assert study["protocol"].content_hash in md
    for table in book["tables"]:
        name = table["table"]
        frame = pd.read_csv(files[name]) if name in files else None
        assert frame is not None, name
        assert [c["name"] for c in table["columns"]] == list(frame.columns)
        for col in table["columns"]:
            assert col["type"] and col["meaning"], (name, col)
            assert f"`{col['name']}`" in md
    cols = {c["name"]: c for c in book["tables"][0]["columns"]}
    assert cols["help_seconds"]["unit"] == "log(1 + s)"
    assert "help" in cols["help_seconds"]["meaning"]
    assert cols["calc_used"]["unit"] == "0/1"
    assert cols["available"]["type"] == "integer (0/1)"
    assert cols["hr"]["unit"] == "beats/min" and cols["hr"]["source"] == "moderator"
    assert "baseline" in cols["prob_neutral"]["meaning"]


def test_events_states_sessions_tables(study, tmp_path):
    files = export_study(study["dir"], tmp_path / "out", signals=False)
    ev = pd.read_csv(files["events"])
    assert len(ev) == 2 * N_DP and set(ev["action"]) == {"open"}
    assert list(ev.columns) == [
        "participant", "session", "decision_point", "task_index", "t", "feature", "action", "detail"
    ]  # fmt: skip
    states = pd.read_csv(files["states"])
    assert len(states) == 2 * N_DP and {"affect_state", "hr", "quality_ecg"} <= set(states.columns)
    sessions = pd.read_csv(files["sessions"])
    assert list(sessions["status"]) == ["completed", "completed"]
    assert list(sessions["n_decisions"]) == [N_DP, N_DP]


def test_xdf_is_read_by_pyxdf_with_markers_and_clock_offsets(study, tmp_path):
    files = export_study(study["dir"], tmp_path / "out")
    raw, _ = pyxdf.load_xdf(
        files["signals_xdf"], synchronize_clocks=False, dejitter_timestamps=False
    )
    synced, _ = pyxdf.load_xdf(files["signals_xdf"], dejitter_timestamps=False)
    by_name = {s["info"]["name"][0]: s for s in raw}
    synced_by_name = {s["info"]["name"][0]: s for s in synced}
    assert set(by_name) == {
        f"{c}/s1 {n}" for c in ("P01", "P02") for n in ("SimECG", "SimEDA", "labmrt markers")
    }
    for code in ("P01", "P02"):
        data, ts = study[f"ecg-{code}"]
        ecg = by_name[f"{code}/s1 SimECG"]
        np.testing.assert_array_equal(ecg["time_series"], data)
        np.testing.assert_array_equal(ecg["time_stamps"], ts)  # stored source-clock times, exact
        assert float(ecg["info"]["nominal_srate"][0]) == 250.0
        # pyxdf's clock synchronisation maps onto the workstation clock: t + offset.
        # A constant offset is fitted exactly up to float rounding (1e-9 s is far below 1 sample).
        np.testing.assert_allclose(
            synced_by_name[f"{code}/s1 SimECG"]["time_stamps"], ts + ECG_OFFSET, atol=1e-9, rtol=0
        )
        eda_data, eda_ts = study[f"eda-{code}"]
        eda = by_name[f"{code}/s1 SimEDA"]
        assert eda["time_series"].dtype == np.float32
        np.testing.assert_array_equal(eda["time_series"], eda_data)
        np.testing.assert_array_equal(eda["time_stamps"], eda_ts)
        labels = [c["label"][0] for c in eda["info"]["desc"][0]["channels"][0]["channel"]]
        assert labels == ["eda_left", "eda_right"]
        marks = by_name[f"{code}/s1 labmrt markers"]
        assert [json.loads(m[0])["dp"] for m in marks["time_series"]] == list(range(N_DP))
        np.testing.assert_array_equal(marks["time_stamps"], 1000.0 + 10 * np.arange(N_DP))
        np.testing.assert_array_equal(
            synced_by_name[f"{code}/s1 labmrt markers"]["time_stamps"],
            1000.0 + 10 * np.arange(N_DP),
        )
    sig = pd.read_csv(files["signals_ecg"], **EXACT_FLOATS)
    p01 = sig[sig["participant"] == "P01"]
    np.testing.assert_array_equal(p01["t"], study["ecg-P01"][1])
    np.testing.assert_allclose(p01["t_local"], study["ecg-P01"][1] + ECG_OFFSET, atol=1e-12)
    np.testing.assert_array_equal(p01["ecg"], study["ecg-P01"][0][:, 0])
    eda_csv = pd.read_csv(files["signals_eda"])
    assert {"eda_left", "eda_right"} <= set(eda_csv.columns)
    rows = {t["table"]: t["rows"] for t in read_codebook(tmp_path / "out")["tables"]}
    assert rows["signals_ecg"] == 2000 and rows["signals_eda"] == 80


def test_xdf_writer_drifting_clock_matches_pyxdf_sync(tmp_path):
    """A linearly drifting offset: pyxdf's fit and the exported t_local agree on the line."""
    ts = 50.0 + np.arange(3000) / 100.0
    when = np.arange(50.0, 80.0, 5.0)
    offsets = 0.1 + 1e-4 * (when - 50.0)
    data = np.arange(3000, dtype=np.int32)[:, None]
    path = write_xdf(
        tmp_path / "drift.xdf",
        [XdfStream("S", "EEG", "s1", data, ts, 100.0,
                   clock_offsets=list(zip(when, offsets, strict=True)))],
    )  # fmt: skip
    streams, header = pyxdf.load_xdf(path, dejitter_timestamps=False)
    assert header["info"]["version"][0] == "1.0"
    assert streams[0]["time_series"].dtype == np.int32
    np.testing.assert_array_equal(streams[0]["time_series"][:, 0], np.arange(3000))
    # offset as a function of source time s = t - offset: o(s) = 0.1 + 1e-4 (s + o - 50)
    expected_offset = (0.1 + 1e-4 * (ts - 50.0)) / (1 - 1e-4)
    # pyxdf's robust (ADMM) fit converges to within ~1e-9 s on exact collinear offsets
    np.testing.assert_allclose(streams[0]["time_stamps"], ts + expected_offset, atol=1e-7)
    with pytest.raises(ValueError, match="timestamps"):
        write_xdf(tmp_path / "bad.xdf", [XdfStream("S", "EEG", "s", data, ts[:-1], 100.0)])
    assert not (tmp_path / "bad.xdf").exists()


def test_export_leaves_the_database_untouched_and_refuses_bad_input(study, tmp_path):
    db = study["dir"] / DB_NAME
    before = db.read_bytes()
    export_study(study["dir"], tmp_path / "out")
    assert db.read_bytes() == before
    with pytest.raises(LabmrtError, match="unknown export format"):
        export_study(study["dir"], tmp_path / "out", format="xlsx")
    empty = tmp_path / "empty"
    with StudyStore.open(empty, create=True):
        pass
    with pytest.raises(LabmrtError, match="no sessions yet"):
        export_study(empty)


def test_colliding_names_get_their_category_as_prefix(tmp_path):
    protocol_file = tmp_path / "p.toml"
    protocol_file.write_text(PROTOCOL, "utf-8")
    protocol = load_protocol(protocol_file)
    with StudyStore.open(tmp_path / "s", create=True) as st:
        sid = st.create_session("P09", protocol, started_t=0.0)
        row = _decision(0, True, "gain", protocol.content_hash)
        row["features"] = {"help_seconds": 1.0, "arm": 2.0}
        row["controls"] = {"task_index": 0, "hr": 3.0}
        st.add_decision(sid, row)
        st.add_outcomes(sid, 0, {"help_seconds": 0.5})
    dp = pd.read_csv(export_study(tmp_path / "s", signals=False)["decision_points"])
    assert dp.loc[0, "arm"] == "gain" and dp.loc[0, "feature_arm"] == 2.0
    assert dp.loc[0, "help_seconds"] == 1.0  # features are named first
    assert dp.loc[0, "outcome_help_seconds"] == 0.5
    assert dp.loc[0, "control_task_index"] == 0 and dp.loc[0, "hr"] == 3.0
    book = read_codebook(tmp_path / "s" / "export")
    assert "outcome_help_seconds" in book["outcomes"]


def test_cli_export_and_sessions(study, tmp_path, capsys):
    out = tmp_path / "cli"
    assert main(["export", str(study["dir"]), "--out", str(out), "--format", "parquet"]) == 0
    text = capsys.readouterr().out
    assert "exported 8 decision points of 2 participant(s)" in text
    assert (out / "decision_points.parquet").is_file() and (out / "signals.xdf").is_file()
    ecg = pd.read_parquet(out / "signals_ecg.parquet")
    assert len(ecg) == 2000 and list(ecg["participant"].unique()) == ["P01", "P02"]
    np.testing.assert_array_equal(ecg["ecg"].to_numpy()[1000:], study["ecg-P02"][0][:, 0])
    assert main(["export", str(tmp_path / "missing")]) == 2
    assert "no labmrt study database" in capsys.readouterr().err
    assert main(["sessions", str(study["dir"])]) == 0
    listing = capsys.readouterr().out
    assert "P01" in listing and "completed" in listing and "interrupted" not in listing
    with StudyStore.open(study["dir"]) as st:
        st.create_session("P03", study["protocol"], started_t=2000.0)
    assert main(["sessions", str(study["dir"]), "--json"]) == 0
    records = json.loads(capsys.readouterr().out)
    assert [r["interrupted"] for r in records] == [False, False, True]


def test_export_of_a_study_run_by_the_session_engine(tmp_path, capsys):
    """Simulated sessions through the real engine and store export consistently."""
    shipped = Path(__file__).resolve().parents[3] / "protocols" / "framing_affect.toml"
    if not shipped.is_file():
        pytest.skip("shipped protocol protocols/framing_affect.toml is absent")
    protocol = load_protocol(shipped)
    study_dir = tmp_path / "sim"
    args = ["simulate", str(shipped), "--participants", "3", "--seed", "2", "--out", str(study_dir)]
    assert main(args) == 0
    files = export_study(study_dir, tmp_path / "out")
    dp = pd.read_csv(files["decision_points"])
    with StudyStore.open(study_dir, readonly=True) as st:
        n_decisions = len(st.decisions())
        n_markers = st.markers().groupby("session").size().to_dict()
        outcome_names = set(st.outcomes()["name"])
    assert len(dp) == n_decisions and dp["participant"].nunique() == 3
    assert not dp.duplicated(["participant", "decision_point"]).any()
    prob_cols = [f"prob_{a.id}" for a in protocol.arms]
    assert [c for c in dp.columns if c.startswith("prob_")] == prob_cols
    avail = dp[dp["available"] == 1]
    assert len(avail) > 0
    np.testing.assert_allclose(avail[prob_cols].sum(axis=1), 1.0, atol=1e-12)
    drawn = avail.apply(lambda r: r[f"prob_{r['arm']}"], axis=1)
    assert (drawn > 0).all() and (drawn < 1).all()
    assert dp.loc[dp["available"] == 0, "arm"].isna().all()
    assert {o.name for o in protocol.outcomes} <= set(dp.columns) and outcome_names
    book = read_codebook(tmp_path / "out")
    assert book["baseline_arm"] == protocol.baseline_arm.id
    assert book["protocol_hashes"] == [protocol.content_hash]
    streams, _ = pyxdf.load_xdf(files["signals_xdf"])
    marker_counts = sorted(
        len(s["time_series"]) for s in streams if s["info"]["type"][0] == "Markers"
    )
    assert marker_counts == sorted(n_markers.values())
    for s in streams:
        json.loads(s["time_series"][0][0])  # the marker payload is JSON
