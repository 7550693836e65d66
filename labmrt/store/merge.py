"""Gather the stores of several stations into one study store.

Each station of a lab records into its own crash-safe store, so it keeps
working without the network; the study is the union of those stores. Merging
copies every station row the study store does not have yet, with the station's
session ids renumbered into the study's and the station name kept on each
session (``sessions.station``), so every merged row knows where it was recorded.

Why it is safe to repeat: recorded rows are append-only (schema triggers), so
a station's row ids only grow. The study store keeps, per station store
identity and table, the last station row id it copied (``merge_marks``) and
which station session became which study session (``merged_sessions``).
Merging the same station again copies only rows above the marks: nothing when
the station recorded nothing since, the rest of a session when it was merged
while still running. A merge is one transaction: refused (a station ran
another protocol, a participant code recorded on two stations) means nothing
was written.
"""

from __future__ import annotations

import json
import sqlite3
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

from labmrt.errors import LabmrtError, Problem
from labmrt.store.database import DB_NAME, StudyStore
from labmrt.store.schema import APPEND_ONLY_TABLES

# Tables that hang off a session, in an order that respects their references.
SESSION_TABLES: tuple[str, ...] = tuple(t for t in APPEND_ONLY_TABLES if t != "sessions")
STATION_FILE = "station.json"


@dataclass
class MergeReport:
    """What one merge copied, per station folder."""

    sessions: dict[str, int] = field(default_factory=dict)  # station -> new sessions
    rows: dict[str, int] = field(default_factory=dict)  # station -> rows copied (all tables)

    @property
    def total_rows(self) -> int:
        return sum(self.rows.values())

    def describe(self, into: str | Path) -> str:
        """What the merge did, in an experimenter's words (``labmrt lab``, ``labmrt merge``).

        A lab copies each session into the study store when it ends, so a merge at the
        end usually finds nothing new: that is the good case, and is said so.
        """
        n, sessions = len(self.rows), sum(self.sessions.values())
        if not self.total_rows:
            return (
                f"The study store in {into} already holds everything the {n} station(s) "
                "recorded: nothing new to copy."
            )
        return (
            f"Copied {sessions} new session(s) ({self.total_rows} new record(s)) from {n} "
            f"station(s) into the study store in {into}; it now holds everything they recorded."
        )


def station_name(station_dir: Path) -> str:
    """The name a station folder was created with (``station.json``), else the folder name."""
    meta = station_dir / STATION_FILE
    if meta.is_file():
        try:
            name = json.loads(meta.read_text(encoding="utf-8")).get("name")
        except (OSError, ValueError):
            name = None
        if isinstance(name, str) and name:
            return name
    return station_dir.name


def store_uid(conn: sqlite3.Connection) -> str:
    return str(conn.execute("SELECT uid FROM store_identity LIMIT 1").fetchone()[0])


def _columns(conn: sqlite3.Connection, table: str) -> list[str]:
    return [r[1] for r in conn.execute(f"PRAGMA table_info({table})").fetchall() if r[1] != "id"]


def _mark(conn: sqlite3.Connection, uid: str, table: str) -> int:
    row = conn.execute(
        "SELECT max(last_id) FROM merge_marks WHERE source_uid = ? AND tbl = ?", (uid, table)
    ).fetchone()
    return int(row[0]) if row[0] is not None else 0


def merge_stations(
    station_dirs: list[str | Path],
    study_dir: str | Path,
    *,
    protocol_hash: str | None = None,
) -> MergeReport:
    """Copy what is new in each station store into the study store (created if missing).

    ``protocol_hash``: the study's protocol; without it, the protocol of the sessions
    already in the study store (or of the first station) is the one every session must have.
    """
    dirs = [Path(d) for d in station_dirs]
    if not dirs:
        raise LabmrtError(Problem("STATION_DIRS", "no station folder given", "name at least one"))
    study_dir = Path(study_dir)
    for d in dirs:
        if d.resolve() == study_dir.resolve():
            raise LabmrtError(
                Problem(str(d), "is the study folder itself", "name the station folders")
            )
        if not (d / DB_NAME).is_file():
            raise LabmrtError(
                Problem(
                    str(d),
                    f"holds no station store ({DB_NAME})",
                    "name folders a station recorded into (STUDY_DIR/stations/NAME)",
                )
            )
    sources = [StudyStore.open(d, readonly=True) for d in dirs]
    report = MergeReport()
    try:
        with StudyStore.open(study_dir, create=True) as study, study._writing("merging") as conn:
            conn.execute("BEGIN IMMEDIATE")
            try:
                expected = protocol_hash or _study_hash(conn)
                for d, src in zip(dirs, sources, strict=True):
                    expected = _merge_one(conn, src, d, expected, report)
                conn.execute("COMMIT")
            except BaseException:
                if conn.in_transaction:
                    conn.execute("ROLLBACK")
                raise
    finally:
        for src in sources:
            src.close()
    return report


def _study_hash(conn: sqlite3.Connection) -> str | None:
    hashes = [r[0] for r in conn.execute("SELECT DISTINCT protocol_hash FROM sessions")]
    return hashes[0] if len(hashes) == 1 else None


def _merge_one(
    conn: sqlite3.Connection,
    src_store: StudyStore,
    station_dir: Path,
    expected: str | None,
    report: MergeReport,
) -> str | None:
    src = src_store._conn
    where = str(station_dir)
    name = station_name(station_dir)
    src.execute("BEGIN")  # one snapshot of a station that may still be recording
    try:
        uid = store_uid(src)
        if uid == store_uid(conn):
            raise LabmrtError(Problem(where, "is the study store itself", "name station folders"))
        now = datetime.now(UTC).isoformat(timespec="seconds")
        mapping = dict(
            conn.execute(
                "SELECT source_session, session_id FROM merged_sessions WHERE source_uid = ?",
                (uid,),
            ).fetchall()
        )
        new_sessions = _copy_sessions(conn, src, uid, name, where, expected, mapping, now)
        if new_sessions and expected is None:
            expected = new_sessions[0][1]
        copied = len(new_sessions)
        for table in SESSION_TABLES:
            last = _mark(conn, uid, table)
            cols = _columns(conn, table)
            rows = src.execute(
                f"SELECT id, {', '.join(cols)} FROM {table} WHERE id > ? ORDER BY id", (last,)
            ).fetchall()
            if not rows:
                continue
            at = cols.index("session_id")
            out = []
            for row in rows:
                values = list(row[1:])
                values[at] = mapping[values[at]]
                out.append(values)
            conn.executemany(
                f"INSERT INTO {table} ({', '.join(cols)}) VALUES ({', '.join('?' * len(cols))})",
                out,
            )
            conn.execute(
                "INSERT INTO merge_marks (source_uid, tbl, last_id, merged_at) VALUES (?, ?, ?, ?)",
                (uid, table, int(rows[-1][0]), now),
            )
            copied += len(rows)
    finally:
        src.execute("ROLLBACK")
    report.sessions[name] = report.sessions.get(name, 0) + len(new_sessions)
    report.rows[name] = report.rows.get(name, 0) + copied
    return expected


def _copy_sessions(
    conn: sqlite3.Connection,
    src: sqlite3.Connection,
    uid: str,
    name: str,
    where: str,
    expected: str | None,
    mapping: dict[int, int],
    now: str,
) -> list[tuple[int, str]]:
    """Insert the station's sessions not merged before; refuse foreign protocols and clashes."""
    cols = [c for c in _columns(conn, "sessions") if c != "station"]
    rows = src.execute(f"SELECT id, {', '.join(cols)} FROM sessions ORDER BY id").fetchall()
    i_part, i_hash, i_resume = (
        cols.index(c) for c in ("participant", "protocol_hash", "resume_of")
    )
    done = []
    for row in rows:
        sid, values = int(row[0]), list(row[1:])
        if sid in mapping:
            continue
        code, phash = values[i_part], values[i_hash]
        expected = expected or phash
        if phash != expected:
            raise LabmrtError(
                Problem(
                    where,
                    f"session {sid} (participant {code}) ran protocol {phash[:12]}, "
                    f"the study runs {expected[:12]}",
                    "merge only stations of this study; a changed protocol is a new study folder",
                )
            )
        others = conn.execute(
            "SELECT s.id, s.station, m.source_uid FROM sessions s "
            "LEFT JOIN merged_sessions m ON m.session_id = s.id WHERE s.participant = ?",
            (code,),
        ).fetchall()
        foreign = [o for o in others if o[2] != uid]
        if foreign:
            other = foreign[0][1] or "this study folder"
            raise LabmrtError(
                Problem(
                    where,
                    f"participant code {code} (session {sid}) was also recorded on {other}",
                    "one code is one person: correct the code on one station before merging "
                    "(nothing was merged)",
                )
            )
        if values[i_resume] is not None:
            values[i_resume] = mapping[int(values[i_resume])]
        cur = conn.execute(
            f"INSERT INTO sessions ({', '.join(cols)}, station) "
            f"VALUES ({', '.join('?' * (len(cols) + 1))})",
            (*values, name),
        )
        mapping[sid] = int(cur.lastrowid)
        conn.execute(
            "INSERT INTO merged_sessions (source_uid, station, source_session, session_id, "
            "merged_at) VALUES (?, ?, ?, ?, ?)",
            (uid, name, sid, mapping[sid], now),
        )
        done.append((mapping[sid], phash))
    return done


def session_map(study_dir: str | Path) -> dict[tuple[str, int], int]:
    """(station, station session id) -> study session id, for every merged session."""
    with StudyStore.open(study_dir, readonly=True) as store, store._lock:
        rows = store._conn.execute(
            "SELECT station, source_session, session_id FROM merged_sessions"
        ).fetchall()
    return {(str(s), int(a)): int(b) for s, a, b in rows}
