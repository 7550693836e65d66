"""Every session records the software it ran with; mixed versions are flagged everywhere."""

from __future__ import annotations

import json
import sqlite3
import subprocess
import sys
from importlib import metadata
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

import labmrt
from labmrt.cli import main
from labmrt.export import export_study
from labmrt.store import DB_NAME, StudyStore
from labmrt.store import schema as store_schema
from labmrt.store.provenance import (
    SOFTWARE_COLUMNS,
    SOFTWARE_KEYS,
    software_versions,
    study_version_warnings,
    version_differences,
)


class FakeProtocol:
    content_hash = "sha256:abc"

    def canonical_text(self) -> str:
        return 'name = "demo"\n'


def _with(**changes: str) -> dict[str, str]:
    return {**software_versions(), **changes}


def test_versions_come_from_the_installed_distributions_without_importing_qt():
    record = software_versions()
    assert tuple(record) == SOFTWARE_KEYS
    assert record["labmrt"] == labmrt.__version__
    assert record["numpy"] == np.__version__
    assert record["pandas"] == pd.__version__
    assert record["scipy"] == metadata.version("scipy")
    # PySide6 is shipped as PySide6-Essentials (+ Addons): its version is still found
    from PySide6 import __version__ as qt_version

    assert record["PySide6"] == qt_version
    code = (
        "import sys; from labmrt.store.provenance import software_versions; r = software_versions(); "
        "assert 'PySide6' not in sys.modules, 'Qt was imported'; print(r['PySide6'])"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=60, check=True
    )
    assert out.stdout.strip() == qt_version


def test_each_session_row_keeps_its_software(tmp_path: Path):
    with StudyStore.open(tmp_path / "s", create=True) as st:
        a = st.create_session("P01", FakeProtocol(), started_t=0.0)
        b = st.create_session("P02", FakeProtocol(), started_t=1.0, software=_with(pandas="2.2.3"))
    with StudyStore.open(tmp_path / "s", readonly=True) as st:
        assert st.session_info(a).software == software_versions()
        assert st.session_info(b).software["pandas"] == "2.2.3"
        assert st.software() == {a: software_versions(), b: _with(pandas="2.2.3")}
        stored = st.sessions().set_index("session")["software_json"]
        assert json.loads(stored[b])["pandas"] == "2.2.3"


def test_an_existing_study_database_is_migrated_and_old_sessions_say_unknown(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
):
    study = tmp_path / "old"
    monkeypatch.setattr(store_schema, "MIGRATIONS", list(store_schema.MIGRATIONS[:1]))
    with StudyStore.open(study, create=True) as st:
        st._conn.execute(
            "INSERT INTO sessions (participant, session_no, protocol_hash, protocol_text, "
            "started_t, created_at) VALUES ('P01', 1, 'sha256:abc', '', 0.0, '')"
        )
    monkeypatch.undo()
    with StudyStore.open(study) as st:
        assert st.schema_version() == store_schema.current_version() >= 2
        new = st.create_session("P02", FakeProtocol(), started_t=1.0)
        assert st.software() == {1: {}, new: software_versions()}
        assert st.session_info(1).software == {}
    # the recorded facts stay append-only after the migration
    conn = sqlite3.connect(study / DB_NAME)
    with pytest.raises(sqlite3.DatabaseError, match="append-only"):
        conn.execute("UPDATE sessions SET software_json = '{}' WHERE id = ?", (new,))
    conn.close()
    # unknown versions are not "different" ones
    assert version_differences({1: {}, 2: software_versions()}) == []


def test_differences_name_the_package_the_versions_and_the_sessions():
    records = {1: _with(), 2: _with(), 3: _with(pandas="3.1.0", numpy="2.4.0"), 4: {}}
    lines = version_differences(records)
    assert len(lines) == 2
    numpy_line, pandas_line = lines
    assert pandas_line == f"pandas: {pd.__version__} (sessions 1, 2); 3.1.0 (session 3)"
    assert numpy_line.startswith("numpy: ") and "2.4.0 (session 3)" in numpy_line
    warnings = study_version_warnings(records, current=_with())
    assert len(warnings) == 2
    assert "different software versions" in warnings[0] and "pandas" in warnings[0]
    assert warnings[1].startswith("This workstation runs other software than session 3")
    assert f"pandas 3.1.0 -> {pd.__version__}" in warnings[1]
    assert study_version_warnings({1: _with(), 2: _with()}, current=_with()) == []


@pytest.fixture
def mixed_study(tmp_path: Path) -> Path:
    study = tmp_path / "study"
    with StudyStore.open(study, create=True) as st:
        st.create_session("P01", FakeProtocol(), started_t=0.0)
        st.create_session("P02", FakeProtocol(), started_t=1.0, software=_with(scipy="1.11.0"))
    return study


def test_export_shows_the_versions_in_sessions_csv_and_the_codebook(mixed_study, tmp_path):
    # the export refuses a study without decisions only when it has no sessions at all
    written = export_study(mixed_study, tmp_path / "out", signals=False)
    sessions = pd.read_csv(written["sessions"], dtype=str, keep_default_na=False)
    for key, column in SOFTWARE_COLUMNS.items():
        assert column in sessions.columns, column
        assert sessions.loc[0, column] == software_versions()[key]
    assert list(sessions["scipy_version"]) == [metadata.version("scipy"), "1.11.0"]
    codebook = json.loads(written["codebook_json"].read_text())
    assert [g["sessions"] for g in codebook["software"]] == [[1], [2]]
    assert codebook["software"][1]["versions"]["scipy"] == "1.11.0"
    assert codebook["software_differences"] == [
        f"scipy: {metadata.version('scipy')} (session 1); 1.11.0 (session 2)"
    ]
    cols = {
        c["name"]: c for t in codebook["tables"] if t["table"] == "sessions" for c in t["columns"]
    }
    assert "pandas version" in cols["pandas_version"]["meaning"]
    md = written["codebook_md"].read_text()
    assert "different software versions" in md and "scipy 1.11.0" in md


def test_cli_sessions_warns_about_mixed_versions(mixed_study, tmp_path, capsys):
    assert main(["sessions", str(mixed_study)]) == 0
    out = capsys.readouterr().out
    assert "warning: The sessions of this study were run with different software versions" in out
    assert "scipy" in out and "1.11.0 (session 2)" in out
    assert "This workstation runs other software than session 2: scipy 1.11.0 ->" in out
    assert main(["sessions", str(mixed_study), "--json"]) == 0
    captured = capsys.readouterr()
    records = json.loads(captured.out)
    assert records[1]["software"]["scipy"] == "1.11.0" and "software_json" not in records[1]
    assert "different software versions" in captured.err

    same = tmp_path / "same"
    with StudyStore.open(same, create=True) as st:
        st.create_session("P01", FakeProtocol(), started_t=0.0)
    assert main(["sessions", str(same)]) == 0
    assert "warning" not in capsys.readouterr().out
