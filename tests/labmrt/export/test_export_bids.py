"""``labmrt export --bids``: a simulated study with raw streams, checked by the BIDS validator."""

from __future__ import annotations

import gzip
import json
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from labmrt.cli import main
from labmrt.export.bids import bids_label, export_bids
from labmrt.protocol import load_protocol
from labmrt.store import StudyStore

PROTOCOL = Path(__file__).resolve().parents[3] / "protocols" / "framing_affect.toml"
ECG_RATE, EDA_RATE = 130.0, 4.0
ECG_OFFSET = 0.25  # the ECG device's clock is 0.25 s behind the workstation's


def _validator() -> str:
    exe = shutil.which("bids-validator-deno", path=str(Path(sys.executable).parent))
    if exe is None:
        pytest.fail("bids-validator-deno is not installed (it is in the test extra: setup.sh)")
    return exe


@pytest.fixture(scope="module")
def study(tmp_path_factory) -> dict:
    """Two simulated participants; P001 with ECG (a gap), 2-channel EDA and an IBI stream,
    and a third participant whose session was interrupted and resumed."""
    root = tmp_path_factory.mktemp("bids")
    study_dir = root / "framing"
    args = ["simulate", str(PROTOCOL), "--participants", "2", "--seed", "5"]
    assert main([*args, "--out", str(study_dir)]) == 0
    protocol = load_protocol(PROTOCOL)
    rng = np.random.default_rng(1)
    with StudyStore.open(study_dir) as store:
        sid = int(store.sessions().query("participant == 'P001'")["session"].iloc[0])
        t0 = store.session_info(sid).started_t
        n = int(40 * ECG_RATE)
        ecg_t = t0 + 2.0 + np.arange(n) / ECG_RATE - ECG_OFFSET  # source clock
        keep = np.ones(n, bool)
        keep[1300:1430] = False  # one second lost (a dropped link)
        ecg = rng.normal(size=(n, 1))
        store.add_samples(sid, "ecg", "ecg-dev", ecg[keep], ecg_t[keep], ECG_RATE)
        for t in (ecg_t[0], ecg_t[-1]):
            store.add_clock_offset(sid, "ecg-dev", t + ECG_OFFSET, ECG_OFFSET)
        eda_t = t0 + 5.0 + np.arange(100) / EDA_RATE
        store.add_samples(sid, "eda", "eda-dev", rng.normal(5, 1, size=(100, 2)), eda_t, EDA_RATE)
        store.add_samples(sid, "ibi", "ibi-dev", rng.normal(800, 50, size=(30, 1)),
                          t0 + np.cumsum(np.full(30, 0.8)), 0.0)  # fmt: skip
        first = store.create_session("P_9", protocol, started_t=t0, workstation="ws2")
        store.set_status(first, "running", t0)
        store.add_phase(first, "rest", t0, t0 + 3.0)
        second = store.create_session(
            "P_9", protocol, started_t=t0 + 50, resume_of=first, session_no=2, workstation="ws2"
        )
        store.set_status(first, "incomplete", t0 + 49, "resumed")
        store.set_status(second, "completed", t0 + 60)
        store.flush()
    out = root / "bids"
    assert main(["export", str(study_dir), "--bids", str(out)]) == 0
    return {"dir": study_dir, "out": out, "t0": t0, "ecg": ecg, "keep": keep, "sid": sid}


def test_the_official_validator_finds_no_error(study):
    run = subprocess.run(
        [_validator(), str(study["out"]), "--format", "json"],
        capture_output=True,
        text=True,
        timeout=300,
    )
    report = json.loads(run.stdout)
    issues = report["issues"]["issues"]
    errors = [i for i in issues if i["severity"] == "error"]
    assert errors == [], json.dumps(errors, indent=1)[:3000]
    # the warnings left are the ones the data guide lists (metadata only a lab can give)
    codes = {i.get("subCode") or i["code"] for i in issues}
    assert codes <= {
        "TOO_FEW_AUTHORS",
        "Authors",
        "HEDVersion",
        "License",
        "SourceDatasets",
        "Instructions",
        "CogAtlasID",
        "CogPOID",
        "InstitutionName",
        "InstitutionAddress",
        "InstitutionalDepartmentName",
    }, codes


def test_layout_participants_and_sessions(study):
    out = study["out"]
    desc = json.loads((out / "dataset_description.json").read_text())
    assert desc["GeneratedBy"][0]["Name"] == "labmrt" and desc["GeneratedBy"][0]["Version"]
    parts = pd.read_csv(out / "participants.tsv", sep="\t")
    assert list(parts["participant_id"]) == ["sub-P001", "sub-P002", "sub-P9"]
    assert list(parts["labmrt_code"]) == ["P001", "P002", "P_9"]
    with StudyStore.open(study["dir"], readonly=True) as store:
        dec = store.decisions()
    for code in ("P001", "P002"):
        row = parts[parts["labmrt_code"] == code].iloc[0]
        assert row["decision_points"] == (dec["participant"] == code).sum() > 0
        assert row["available_points"] == dec[dec["participant"] == code]["available"].sum()
    # the resumed session is one session of two runs
    beh = out / "sub-P9" / "ses-1" / "beh"
    assert sorted(p.name for p in beh.glob("*_events.tsv")) == [
        "sub-P9_ses-1_task-framing_run-1_events.tsv",
        "sub-P9_ses-1_task-framing_run-2_events.tsv",
    ]
    sessions = pd.read_csv(out / "sub-P9" / "sub-P9_sessions.tsv", sep="\t")
    assert list(sessions["session_id"]) == ["ses-1"] and sessions["status"][0] == "completed"


def test_events_and_decision_table_share_the_session_clock(study):
    beh = study["out"] / "sub-P001" / "ses-1" / "beh"
    stem = "sub-P001_ses-1_task-framing"
    events = pd.read_csv(beh / f"{stem}_events.tsv", sep="\t", na_values="n/a")
    table = pd.read_csv(beh / f"{stem}_beh.tsv", sep="\t", na_values="n/a")
    with StudyStore.open(study["dir"], readonly=True) as store:
        dec = store.decisions(study["sid"])
        n_features = len(store.events(study["sid"]))
    assert events["onset"].is_monotonic_increasing
    decisions = events[events["trial_type"] == "decision"]
    np.testing.assert_allclose(decisions["onset"], dec["t"] - study["t0"], atol=1e-6)
    np.testing.assert_allclose(table["t"], decisions["onset"], atol=1e-6)
    assert list(decisions["arm"].fillna("")) == list(dec["arm"].fillna(""))
    assert (events["trial_type"] == "feature").sum() == n_features
    side = json.loads((beh / f"{stem}_events.json").read_text())
    assert set(side["trial_type"]["Levels"]) >= {"decision", "task", "feature", "rest"}
    assert side["onset"]["Units"] == "s" and "gain" in side["arm"]["Levels"]
    beh_side = json.loads((beh / f"{stem}_beh.json").read_text())
    assert set(table.columns) <= set(beh_side)
    assert "proximal outcome" in beh_side["help_hint_seconds"]["Description"]


def test_physio_keeps_gaps_in_place_and_starts_on_the_events_zero(study):
    beh = study["out"] / "sub-P001" / "ses-1" / "beh"
    stem = beh / "sub-P001_ses-1_task-framing_recording-ecg_physio"
    side = json.loads(stem.with_suffix(".json").read_text())
    assert side["SamplingFrequency"] == ECG_RATE and side["Columns"] == ["ecg"]
    # the first sample at t0 + 2 s on the workstation's clock (the clock offset applied)
    assert side["StartTime"] == pytest.approx(2.0, abs=1e-6)
    assert side["ecg"]["Units"] == "mV"
    with gzip.open(stem.with_name(stem.name + ".tsv.gz"), "rt") as fh:
        rows = pd.read_csv(fh, sep="\t", header=None, na_values="n/a")[0].to_numpy()
    ecg, keep = study["ecg"][:, 0], study["keep"]
    assert len(rows) == len(ecg)  # the lost second is n/a rows, not a shift
    assert np.isnan(rows[~keep]).all()
    np.testing.assert_allclose(rows[keep], ecg[keep], rtol=1e-12, atol=1e-9)
    eda = json.loads((beh / "sub-P001_ses-1_task-framing_recording-eda_physio.json").read_text())
    assert eda["Columns"] == ["eda_1", "eda_2"] and eda["StartTime"] == pytest.approx(5.0)
    readme = (study["out"] / "README.md").read_text()
    assert "ibi stream ibi-dev: irregular rate" in readme
    assert not list(beh.glob("*recording-ibi*"))


def test_labels_and_refusals(study, tmp_path):
    assert bids_label("P_07-a") == "P07a"
    (tmp_path / "other.txt").write_text("not ours")
    with pytest.raises(Exception, match="is not a BIDS dataset labmrt wrote"):
        export_bids(study["dir"], tmp_path)
    # an earlier labmrt export is replaced whole
    again = export_bids(study["dir"], study["out"])
    assert all(p.is_file() for p in again.files)
