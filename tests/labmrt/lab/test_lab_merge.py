"""Station stores merged into one study: the union of the stations, idempotent, refusing clashes."""

from __future__ import annotations

import json
import os
import sqlite3
import stat
from pathlib import Path

import pandas as pd
import pytest
from lab_helpers import FakeLink, assert_merged_export_is_union, heartbeat

from labmrt.cli import main
from labmrt.lab.study import allocate_code, create_lab_study
from labmrt.store import DB_NAME

PROTOCOLS = Path(__file__).resolve().parents[3] / "protocols"


def _run(station_dir: Path, code: str, protocol: Path = PROTOCOLS / "demo.toml") -> None:
    argv = ["run", str(protocol), "--study", str(station_dir), "--participant", code]
    assert main([*argv, "--simulated", "--no-markers", "--workstation", station_dir.name]) == 0


def _counts(study_dir: Path) -> dict[str, int]:
    conn = sqlite3.connect(study_dir / DB_NAME)
    try:
        return {
            t: conn.execute(f"SELECT count(*) FROM {t}").fetchone()[0]
            for t in ("sessions", "decisions", "events", "states", "session_status")
        }
    finally:
        conn.close()


@pytest.fixture(scope="module")
def lab(tmp_path_factory) -> dict:
    root = tmp_path_factory.mktemp("lab")
    study = create_lab_study(root / "study", PROTOCOLS / "demo.toml")
    plan = {"ws-1": 2, "ws-2": 1, "ws-3": 1}
    for name, n in plan.items():
        for _ in range(n):
            _run(study.station_dir(name), allocate_code(study, name))
    return {"root": root, "study": study}


def test_the_secret_is_private_and_codes_are_never_given_twice(lab):
    study = lab["study"]
    mode = stat.S_IMODE(os.stat(study.dir / "lab.secret").st_mode)
    assert mode == 0o600
    assert len(study.secret()) == 32
    given = [
        json.loads(line)["code"] for line in (study.dir / "codes.jsonl").read_text().splitlines()
    ]
    assert given == ["P001", "P002", "P003", "P004"]
    assert allocate_code(study, "ws-9") == "P005"


def test_merged_export_is_the_union_of_the_station_exports(lab, tmp_path):
    study = lab["study"]
    stations = study.station_dirs()
    assert main(["merge", *map(str, stations), "--into", str(study.dir)]) == 0
    parts = assert_merged_export_is_union(study.dir, stations, tmp_path)
    # every merged session knows its station
    conn = sqlite3.connect(study.dir / DB_NAME)
    rows = dict(conn.execute("SELECT participant, station FROM sessions").fetchall())
    conn.close()
    assert rows == {"P001": "ws-1", "P002": "ws-1", "P003": "ws-2", "P004": "ws-3"}
    # and the merged study analyzes exactly as the union table does
    union_dp = pd.concat(parts["decision_points"], ignore_index=True)
    union_dir = tmp_path / "union"
    union_dir.mkdir()
    union_dp.to_csv(union_dir / "decision_points.csv", index=False)
    (union_dir / "codebook.json").write_text(
        (tmp_path / "merged" / "codebook.json").read_text(), encoding="utf-8"
    )
    outs = []
    for folder in (tmp_path / "merged", union_dir):
        out = tmp_path / f"{folder.name}.json"
        argv = [
            "analyze",
            str(folder),
            "--outcome",
            "help_hint_seconds",
            "--contrast",
            "gain-vs-baseline",
        ]
        code = _analyze(argv, out)
        result = json.loads(out.read_text())
        outs.append((code, {k: v for k, v in result.items() if str(folder) not in str(v)}))
    assert outs[0][0] == outs[1][0] == 0
    assert outs[0][1]["terms"]
    # the same rows, possibly summed in another order: equal to rounding (1e-12 relative)
    merged, union = _leaves(outs[0][1]), _leaves(outs[1][1])
    assert merged.keys() == union.keys()
    for key, value in merged.items():
        if isinstance(value, float):
            assert value == pytest.approx(union[key], rel=1e-12, abs=1e-15), key
        else:
            assert value == union[key], key


def _leaves(value, path=""):
    """Every leaf of a JSON document by its path."""
    if isinstance(value, dict):
        return {
            k: v for key, item in value.items() for k, v in _leaves(item, f"{path}/{key}").items()
        }
    if isinstance(value, list):
        return {
            k: v for i, item in enumerate(value) for k, v in _leaves(item, f"{path}[{i}]").items()
        }
    return {path: value}


def _analyze(argv: list[str], out: Path) -> int:
    import contextlib
    import io

    buf = io.StringIO()
    with contextlib.redirect_stdout(buf):
        code = main([*argv, "--json"])
    out.write_text(buf.getvalue())
    return code


def test_merging_again_adds_nothing_then_only_what_is_new(lab, capsys):
    study = lab["study"]
    stations = [str(d) for d in study.station_dirs()]
    assert main(["merge", *stations, "--into", str(study.dir)]) == 0
    before = _counts(study.dir)
    capsys.readouterr()
    assert main(["merge", *stations, "--into", str(study.dir)]) == 0
    assert "0 new row(s)" in capsys.readouterr().out.splitlines()[-1]
    assert _counts(study.dir) == before
    _run(study.station_dir("ws-2"), allocate_code(study, "ws-2"))
    assert main(["merge", *stations, "--into", str(study.dir)]) == 0
    after = _counts(study.dir)
    assert after["sessions"] == before["sessions"] + 1
    assert after["decisions"] == before["decisions"] + 8


def test_a_code_recorded_on_two_stations_is_refused_and_nothing_merged(lab, tmp_path, capsys):
    study = lab["study"]
    target = tmp_path / "study"
    stations = [str(d) for d in study.station_dirs()]
    assert main(["merge", stations[0], "--into", str(target)]) == 0
    before = _counts(target)
    clash = tmp_path / "ws-x"
    _run(clash, "P001")  # a code ws-1 already used
    capsys.readouterr()
    assert main(["merge", stations[1], str(clash), "--into", str(target)]) == 2
    err = capsys.readouterr().err
    assert "participant code P001" in err and "ws-1" in err and "nothing was merged" in err
    assert _counts(target) == before  # ws-2, merged first in that call, was rolled back too


def test_a_station_of_another_protocol_is_refused(lab, tmp_path, capsys):
    study = lab["study"]
    other = tmp_path / "ws-other"
    _run(other, "P077", PROTOCOLS / "minimal.toml")
    capsys.readouterr()
    assert main(["merge", str(other), "--into", str(study.dir)]) == 2
    err = capsys.readouterr().err
    assert err.startswith(f"{other}: session 1 (participant P077) ran protocol")
    assert "the study runs" in err and "Traceback" not in err


def test_a_folder_without_a_station_store_is_a_clear_error(tmp_path, capsys):
    assert main(["merge", str(tmp_path / "nothing"), "--into", str(tmp_path / "s")]) == 2
    assert "holds no station store" in capsys.readouterr().err


def test_the_console_merges_a_station_when_its_session_ends(tmp_path):
    from labmrt.lab.console import LabConsole

    study = create_lab_study(tmp_path / "study", PROTOCOLS / "demo.toml")
    _run(study.station_dir("ws-3"), "P001")
    assert not (study.dir / DB_NAME).exists()
    link = FakeLink()
    console = LabConsole(study, link)
    link.inbox.append(heartbeat(study, "ws-3", status="running", participant="P001"))
    console.poll()
    assert console.merges == []
    link.inbox.append(heartbeat(study, "ws-3", status="completed", participant="P001"))
    console.poll()
    assert len(console.merges) == 1
    console.merges[0].join(30)
    assert console.merge_errors == []
    conn = sqlite3.connect(study.dir / DB_NAME)
    rows = conn.execute("SELECT participant, station FROM sessions").fetchall()
    conn.close()
    assert rows == [("P001", "ws-3")]
