"""The study store on a real SQLite database: durability, append-only, refusal of bad files."""

from __future__ import annotations

import os
import sqlite3
import subprocess
import sys
import textwrap
import threading
import time
from pathlib import Path

import numpy as np
import pytest

from labmrt.errors import LabmrtError
from labmrt.state import AffectState
from labmrt.store import DB_NAME, StudyStore, validate_participant_code
from labmrt.store import schema as store_schema


class FakeProtocol:
    """The two things the store reads from a protocol: its hash and canonical text."""

    def __init__(self, text: str = 'name = "demo"\n', content_hash: str = "sha256:abc"):
        self._text = text
        self.content_hash = content_hash

    def canonical_text(self) -> str:
        return self._text


def decision(dp: int, *, available: bool = True, arm: str | None = "gain", t: float = 0.0) -> dict:
    return {
        "decision_point": dp,
        "task_index": dp,
        "task_id": f"task{dp}",
        "t": t or 100.0 + dp,
        "available": available,
        "unavailable_reason": "" if available else "break",
        "arm": arm if available else None,
        "probabilities": {"neutral": 0.4, "gain": 0.3, "loss": 0.3} if available else {},
        "context": {"state": "calm"},
        "uniform": 0.52,
        "protocol_hash": "sha256:abc",
        "state": "calm",
        "p_aroused": 0.2,
        "features": {"hr": 71.5, "rmssd": 40.1, "scl": np.float64(2.5)},
        "windows": {"hr": (90.0, 100.0)},
        "quality": {"ecg": 0.9, "eda": 1.0},
        "controls": {"difficulty": 2, "time_in_session_s": 12.5},
    }


@pytest.fixture
def store(tmp_path: Path):
    with StudyStore.open(tmp_path / "study", create=True) as st:
        yield st


def file_fingerprint(path: Path) -> tuple[bytes, int]:
    return path.read_bytes(), path.stat().st_mtime_ns


def test_round_trip_of_every_record_survives_reopen(tmp_path: Path):
    study = tmp_path / "study"
    with StudyStore.open(study, create=True) as st:
        sid = st.create_session(
            "P01",
            FakeProtocol(),
            workstation="ws-3",
            streams=[{"kind": "ecg", "source_id": "abc"}],
            started_t=10.0,
        )
        st.set_status(sid, "running", 10.5)
        st.add_phase(sid, "rest", 11.0, 71.0)
        st.add_decision(sid, decision(0))
        st.add_decision(sid, decision(1, available=False))
        st.add_presentation(
            sid,
            {
                "decision_point": 0,
                "task_index": 0,
                "task_id": "task0",
                "shown_t": 100.1,
                "received": True,
                "received_t": 102.0,
                "dwell_s": 1.9,
                "confirmed": True,
                "answer": "42",
                "answer_t": 110.0,
                "correct": True,
                "end_t": 111.0,
            },
        )
        st.add_event(
            sid,
            {"decision_point": 0, "task_index": 0, "t": 103.0, "feature": "help", "action": "open"},
        )
        st.add_event(
            sid,
            {
                "decision_point": 0,
                "task_index": 0,
                "t": 105.5,
                "feature": "help",
                "action": "close",
                "detail": {"x": 1},
            },
        )
        st.add_outcomes(sid, 0, {"help_seconds": 2.5, "calculator_opened": 0.0, "log_help": None})
        st.add_state(
            sid,
            {
                "t": 99.0,
                "label": "calm",
                "p_aroused": 0.2,
                "features": {"hr": 70.0},
                "quality": {"ecg": 1.0},
                "windows": {"hr": [89.0, 99.0]},
                "reason": "",
            },
        )
        st.add_state(sid, AffectState(t=99.5, label="aroused", p_aroused=0.9, reason="x"))
        st.add_marker(sid, 100.0, '{"type": "decision"}')
        st.add_clock_offset(sid, "abc", 100.0, -0.25)

    with StudyStore.open(study) as st:
        info = st.session_info(sid)
        assert (info.participant, info.session_no, info.workstation) == ("P01", 1, "ws-3")
        assert info.protocol_hash == "sha256:abc"
        assert info.protocol_text == 'name = "demo"\n'
        assert info.status == "running" and info.streams == [{"kind": "ecg", "source_id": "abc"}]
        dec = st.decisions(sid)
        assert list(dec["decision_point"]) == [0, 1]
        assert list(dec["available"]) == [True, False]
        assert dec.loc[0, "arm"] == "gain" and dec.loc[1, "arm"] is None
        assert dec.loc[0, "probabilities"] == {"neutral": 0.4, "gain": 0.3, "loss": 0.3}
        assert dec.loc[0, "features"] == {"hr": 71.5, "rmssd": 40.1, "scl": 2.5}
        assert dec.loc[0, "windows"] == {"hr": [90.0, 100.0]}
        assert dec.loc[1, "unavailable_reason"] == "break"
        pres = st.presentations(sid)
        assert bool(pres.loc[0, "received"]) and pres.loc[0, "dwell_s"] == 1.9
        ev = st.events(sid)
        assert list(ev["action"]) == ["open", "close"] and ev.loc[1, "detail"] == '{"x": 1}'
        out = st.outcomes(sid)
        assert dict(zip(out["name"], out["value"], strict=True))["help_seconds"] == 2.5
        assert out.set_index("name").loc["log_help", "value"] is None or np.isnan(
            out.set_index("name").loc["log_help", "value"]
        )
        assert st.states(sid).loc[0, "features"] == {"hr": 70.0}
        assert list(st.states(sid)["label"]) == ["calm", "aroused"]
        assert st.markers(sid).loc[0, "marker"] == '{"type": "decision"}'
        assert st.clock_offsets(sid).loc[0, "offset"] == -0.25
        assert st.phases(sid).loc[0, "phase"] == "rest"
        assert st.last_decision_point(sid) == 1
        assert st.integrity_check() == []


def test_wal_and_full_synchronous(store: StudyStore):
    conn = store._conn
    assert conn.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    assert conn.execute("PRAGMA synchronous").fetchone()[0] == 2  # FULL
    assert store.schema_version() == store_schema.current_version()


@pytest.mark.parametrize("code", ["P01", "lab2-s014", "7", "A_1"])
def test_valid_participant_codes(code: str):
    assert validate_participant_code(code) == code


@pytest.mark.parametrize(
    "code", ["", "Anna Smith", "anna", "P 01", "x" * 32 + "1", "-P1", "P1@x", None]
)
def test_names_and_malformed_codes_are_refused(store: StudyStore, code):
    with pytest.raises(LabmrtError, match="not a participant code"):
        store.create_session(code, FakeProtocol(), started_t=0.0)
    assert store.sessions().empty


def test_reused_code_offers_resume_and_explicit_session_number_is_allowed(store: StudyStore):
    first = store.create_session("P02", FakeProtocol(), started_t=0.0)
    with pytest.raises(LabmrtError, match=r"already has session 1.*labmrt run --resume P02"):
        store.create_session("P02", FakeProtocol(), started_t=5.0)
    second = store.create_session(
        "P02", FakeProtocol(), started_t=5.0, session_no=2, resume_of=first
    )
    assert store.session_info(second).session_no == 2
    with pytest.raises(LabmrtError, match="session 2 already exists"):
        store.create_session("P02", FakeProtocol(), started_t=6.0, session_no=2)
    other = store.create_session("P03", FakeProtocol(), started_t=0.0)
    with pytest.raises(LabmrtError, match="belongs to participant P03"):
        store.create_session("P02", FakeProtocol(), started_t=7.0, session_no=3, resume_of=other)


def test_status_history_interrupted_sessions_and_closed_sessions(store: StudyStore):
    a = store.create_session("P10", FakeProtocol(), started_t=0.0)
    b = store.create_session("P11", FakeProtocol(), started_t=0.0)
    c = store.create_session("P12", FakeProtocol(), started_t=0.0)
    for sid in (a, b, c):
        store.set_status(sid, "running", 1.0)
    store.set_status(b, "paused", 2.0, "break")
    store.set_status(c, "completed", 3.0)
    assert sorted(s.id for s in store.interrupted_sessions()) == [a, b]
    assert (
        store.session_info(b).status == "paused" and store.session_info(b).status_reason == "break"
    )
    # resuming a as a new session supersedes it
    store.create_session("P10", FakeProtocol(), started_t=9.0, session_no=2, resume_of=a)
    assert a not in {s.id for s in store.interrupted_sessions()}
    with pytest.raises(LabmrtError, match="already completed"):
        store.set_status(c, "running", 4.0)
    with pytest.raises(LabmrtError, match="unknown session status"):
        store.set_status(a, "finished", 4.0)
    table = store.sessions()
    assert list(table["status"]) == ["running", "paused", "completed", "created"]
    assert list(store.status_history(b)["status"]) == ["created", "running", "paused"]


def test_recorded_facts_cannot_be_changed(store: StudyStore):
    sid = store.create_session("P20", FakeProtocol(), started_t=0.0)
    store.add_decision(sid, decision(0))
    with pytest.raises(LabmrtError, match="already recorded"):
        store.add_decision(sid, decision(0, arm="loss"))
    for sql in (
        "UPDATE decisions SET arm = 'loss'",
        "DELETE FROM decisions",
        "DELETE FROM sessions",
    ):
        with pytest.raises(sqlite3.IntegrityError, match="append-only"):
            store._conn.execute(sql)
    assert store.decisions(sid).loc[0, "arm"] == "gain"
    with pytest.raises(LabmrtError, match="no such session"):
        store.add_event(999, {"t": 1.0, "feature": "help", "action": "open"})
    with pytest.raises(LabmrtError, match="unknown action"):
        store.add_event(sid, {"t": 1.0, "feature": "help", "action": "toggle"})
    with pytest.raises(LabmrtError, match="no arm"):
        store.add_decision(sid, decision(1, arm=None))


def test_decision_is_visible_to_another_connection_as_soon_as_the_call_returns(store: StudyStore):
    sid = store.create_session("P21", FakeProtocol(), started_t=0.0)
    store.add_decision(sid, decision(0))
    store.add_event(sid, {"decision_point": 0, "t": 1.0, "feature": "help", "action": "use"})
    other = sqlite3.connect(store.path)
    try:
        assert other.execute("SELECT count(*) FROM decisions").fetchone()[0] == 1
        assert other.execute("SELECT count(*) FROM events").fetchone()[0] == 1
    finally:
        other.close()


def test_samples_from_threads_are_all_kept_in_order(store: StudyStore):
    sid = store.create_session("P30", FakeProtocol(), started_t=0.0)
    n_chunks, chunk = 40, 25

    def feed(kind: str, n_ch: int):
        for i in range(n_chunks):
            idx = np.arange(i * chunk, (i + 1) * chunk, dtype=float)
            data = np.repeat(idx[:, None], n_ch, axis=1)
            store.add_samples(sid, kind, f"src-{kind}", data, idx / 250.0, 250.0)
            time.sleep(0.002)

    threads = [threading.Thread(target=feed, args=(k, n)) for k, n in (("ecg", 1), ("eda", 2))]
    for th in threads:
        th.start()
    for dp in range(20):  # the session thread writes decisions meanwhile
        store.add_decision(sid, decision(dp))
    for th in threads:
        th.join()
    for kind, n_ch in (("ecg", 1), ("eda", 2)):
        data, ts = store.samples(sid, kind)
        assert data.shape == (n_chunks * chunk, n_ch)
        np.testing.assert_array_equal(data[:, 0], np.arange(n_chunks * chunk))
        np.testing.assert_array_equal(ts, np.arange(n_chunks * chunk) / 250.0)
    assert len(store.decisions(sid)) == 20
    streams = store.sample_streams(sid)
    assert list(streams["kind"]) == ["ecg", "eda"] and list(streams["n_channels"]) == [1, 2]
    with pytest.raises(LabmrtError, match="3 channels, earlier chunks had 2"):
        store.add_samples(sid, "eda", "src-eda", np.zeros((5, 3)), np.arange(5.0), 250.0)
    with pytest.raises(LabmrtError, match="does not match"):
        store.add_samples(sid, "ecg", "src-ecg", np.zeros((5, 1)), np.arange(4.0), 250.0)


def test_samples_reach_the_disk_within_a_second_without_further_calls(store: StudyStore):
    sid = store.create_session("P31", FakeProtocol(), started_t=0.0)
    store.add_samples(sid, "ecg", "s", np.ones((10, 1), dtype=np.float32), np.arange(10.0), 10.0)
    other = sqlite3.connect(store.path)
    try:
        deadline = time.monotonic() + 1.0
        n = 0
        while time.monotonic() < deadline and n == 0:
            time.sleep(0.05)
            n = other.execute("SELECT coalesce(sum(n_samples), 0) FROM sample_chunks").fetchone()[0]
        assert n == 10
    finally:
        other.close()
    data, _ = store.samples(sid, "ecg")
    assert data.dtype == np.float32


def test_hard_kill_keeps_decisions_and_all_but_the_last_second_of_samples(tmp_path: Path):
    study = tmp_path / "study"
    script = textwrap.dedent(
        f"""
        import os, signal, time
        import numpy as np
        from labmrt.store import StudyStore
        class P:
            content_hash = "h"
            def canonical_text(self): return "x"
        st = StudyStore.open({str(study)!r}, create=True)
        sid = st.create_session("P40", P(), started_t=0.0)
        st.add_decision(sid, {{"decision_point": 0, "t": 1.0, "available": True, "arm": "gain"}})
        st.add_samples(sid, "ecg", "s", np.arange(100.0), np.arange(100.0), 100.0)
        time.sleep(1.2)  # more than a second: these samples must be on disk
        st.add_samples(sid, "ecg", "s", np.arange(100.0, 110.0), np.arange(100.0, 110.0), 100.0)
        st.add_event(sid, {{"t": 2.0, "feature": "help", "action": "open"}})
        os.kill(os.getpid(), signal.SIGKILL)
        """
    )
    proc = subprocess.run([sys.executable, "-c", script], capture_output=True, timeout=60)
    assert proc.returncode == -9, proc.stderr.decode()
    with StudyStore.open(study) as st:
        assert st.integrity_check() == []
        assert len(st.decisions()) == 1 and len(st.events()) == 1
        data, ts = st.samples(1, "ecg")
        assert data.shape[0] >= 100  # the chunk older than a second survived
        np.testing.assert_array_equal(ts, np.arange(float(data.shape[0])))
        assert st.interrupted_sessions()[0].participant == "P40"


def test_full_disk_becomes_a_user_error_and_keeps_earlier_records(tmp_path: Path):
    study = tmp_path / "study"
    st = StudyStore.open(study, create=True)
    sid = st.create_session("P50", FakeProtocol(), started_t=0.0)
    st.add_decision(sid, decision(0))
    pages = st._conn.execute("PRAGMA page_count").fetchone()[0]
    st._conn.execute(f"PRAGMA max_page_count = {pages + 2}")  # a disk with two pages left
    big = np.random.default_rng(1).normal(size=(50_000, 1))
    with pytest.raises(LabmrtError, match="database or disk is full") as err:
        st.add_samples(sid, "ecg", "s", big, np.arange(50_000.0), 250.0)
        st.flush()
    assert "free disk space" in err.value.message
    # the store stays stopped: every further write says why
    with pytest.raises(LabmrtError, match="database or disk is full"):
        st.add_decision(sid, decision(1))
    with pytest.raises(LabmrtError, match="database or disk is full"):
        st.close()
    with StudyStore.open(study) as again:
        assert list(again.decisions()["decision_point"]) == [0]
        assert again.integrity_check() == []


def test_full_disk_on_a_decision(tmp_path: Path):
    st = StudyStore.open(tmp_path / "s", create=True)
    sid = st.create_session("P51", FakeProtocol(), started_t=0.0)
    pages = st._conn.execute("PRAGMA page_count").fetchone()[0]
    st._conn.execute(f"PRAGMA max_page_count = {pages}")
    with pytest.raises(LabmrtError, match="database or disk is full"):
        for dp in range(1000):
            st.add_decision(sid, decision(dp))
    st._conn.close()


def test_not_a_database_is_refused_untouched(tmp_path: Path):
    study = tmp_path / "study"
    study.mkdir()
    db = study / DB_NAME
    db.write_bytes(b"this is not sqlite at all" * 100)
    before = file_fingerprint(db)
    with pytest.raises(LabmrtError, match="not a SQLite database"):
        StudyStore.open(study, create=True)
    assert file_fingerprint(db) == before
    assert sorted(p.name for p in study.iterdir()) == [DB_NAME]


def test_damaged_database_is_refused_untouched(tmp_path: Path):
    study = tmp_path / "study"
    with StudyStore.open(study, create=True) as st:
        sid = st.create_session("P60", FakeProtocol(), started_t=0.0)
        for dp in range(200):
            st.add_decision(sid, decision(dp))
    db = study / DB_NAME
    raw = bytearray(db.read_bytes())
    page = 4096
    assert len(raw) > 4 * page
    raw[3 * page : 4 * page] = b"\xa5" * page  # scribble over a b-tree page
    db.write_bytes(bytes(raw))
    before = file_fingerprint(db)
    with pytest.raises(LabmrtError, match="damaged"):
        StudyStore.open(study, create=True)
    assert file_fingerprint(db) == before


def test_newer_schema_and_foreign_database_are_refused_untouched(tmp_path: Path):
    study = tmp_path / "study"
    with StudyStore.open(study, create=True):
        pass
    db = study / DB_NAME
    conn = sqlite3.connect(db)
    conn.execute(f"PRAGMA user_version = {store_schema.current_version() + 1}")
    conn.commit()
    conn.close()
    before = file_fingerprint(db)
    with pytest.raises(LabmrtError, match="newer labmrt"):
        StudyStore.open(study, create=True)
    assert file_fingerprint(db) == before

    foreign = tmp_path / "foreign"
    foreign.mkdir()
    conn = sqlite3.connect(foreign / DB_NAME)
    conn.execute("CREATE TABLE contacts (name TEXT)")
    conn.commit()
    conn.close()
    before = file_fingerprint(foreign / DB_NAME)
    with pytest.raises(LabmrtError, match="another program"):
        StudyStore.open(foreign, create=True)
    assert file_fingerprint(foreign / DB_NAME) == before


def test_missing_study_and_read_only_store(tmp_path: Path):
    with pytest.raises(LabmrtError, match="no labmrt study database"):
        StudyStore.open(tmp_path / "nowhere")
    assert not (tmp_path / "nowhere").exists()
    with StudyStore.open(tmp_path / "s", create=True) as st:
        st.create_session("P70", FakeProtocol(), started_t=0.0)
    with StudyStore.open(tmp_path / "s", readonly=True) as ro:
        assert list(ro.sessions()["participant"]) == ["P70"]
        with pytest.raises(LabmrtError, match="read-only"):
            ro.set_status(1, "running", 1.0)


def test_migration_from_v1_keeps_data_and_a_failed_migration_changes_nothing(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
):
    study = tmp_path / "study"
    current = list(store_schema.MIGRATIONS)
    monkeypatch.setattr(store_schema, "MIGRATIONS", current[:1])
    with StudyStore.open(study, create=True) as st:
        assert st.schema_version() == 1
        st._conn.execute(
            "INSERT INTO sessions (participant, session_no, protocol_hash, protocol_text, "
            "started_t, created_at) VALUES ('P80', 1, 'sha256:abc', '', 0.0, '')"
        )
        sid = 1
        st.add_decision(sid, decision(0))
    monkeypatch.undo()

    broken = current[:1] + [
        "CREATE TABLE notes (id INTEGER PRIMARY KEY);\nALTER TABLE nowhere ADD COLUMN x;"
    ]
    monkeypatch.setattr(store_schema, "MIGRATIONS", broken)
    with pytest.raises(LabmrtError, match="no such table: nowhere"):
        StudyStore.open(study)
    conn = sqlite3.connect(study / DB_NAME)
    assert conn.execute("PRAGMA user_version").fetchone()[0] == 1
    assert (
        conn.execute("SELECT count(*) FROM sqlite_master WHERE name = 'notes'").fetchone()[0] == 0
    )
    conn.close()

    newer = current + ["ALTER TABLE sessions ADD COLUMN site TEXT NOT NULL DEFAULT '';"]
    monkeypatch.setattr(store_schema, "MIGRATIONS", newer)
    with StudyStore.open(study) as st:
        assert st.schema_version() == len(newer)
        assert st.decisions(sid).loc[0, "arm"] == "gain"
        assert st._conn.execute("SELECT site FROM sessions").fetchone()[0] == ""


def test_readonly_open_of_an_old_schema_asks_for_upgrade(tmp_path: Path, monkeypatch):
    with StudyStore.open(tmp_path / "s", create=True):
        pass
    monkeypatch.setattr(store_schema, "MIGRATIONS", list(store_schema.MIGRATIONS) + ["SELECT 1;"])
    with pytest.raises(LabmrtError, match="to upgrade it"):
        StudyStore.open(tmp_path / "s", readonly=True)


def test_empty_file_left_by_an_interrupted_creation_is_initialised(tmp_path: Path):
    study = tmp_path / "study"
    study.mkdir()
    (study / DB_NAME).write_bytes(b"")
    with StudyStore.open(study) as st:
        assert st.schema_version() == store_schema.current_version()
    assert os.path.getsize(study / DB_NAME) > 0
