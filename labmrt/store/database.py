"""The crash-safe study store: one SQLite database per study folder.

Why it looks the way it does:

* Every recorded fact (session, status change, decision, presentation,
  feature-use event, outcome, state update, marker, clock offset, raw sample
  chunk) is an appended row; triggers refuse UPDATE and DELETE
  (:mod:`labmrt.store.schema`), so a session can be reconstructed exactly as it
  happened and nothing recorded is ever altered.
* The database runs in WAL mode with ``synchronous=FULL``. Each ``add_*`` call
  for decisions, presentations, events, outcomes, states, markers and status
  changes commits before it returns, so the fact survives a hard kill (and a
  power cut) the moment the call is back. Raw physiological samples arrive
  many times per second; they are buffered in memory and written as one chunk
  per stream at least once per second (a background flusher wakes every
  0.25 s and writes anything older than 0.5 s), so a hard kill loses at most
  the last second of raw signal.
* One connection, guarded by one lock, is shared by all threads: sensor
  threads may call :meth:`StudyStore.add_samples` while the session thread
  adds decisions. SQLite serialises the writes; the lock keeps the Python side
  of the connection consistent.
* Opening never writes to a file it cannot vouch for: a file that is not a
  SQLite database, a damaged one, a foreign one, or one from a newer labmrt
  schema is inspected read-only and refused with a :class:`LabmrtError`.
* A full disk becomes a :class:`LabmrtError` saying so; the failed write is
  rolled back and every fact committed before it stays intact.
* Participants are known by codes only (see :data:`PARTICIPANT_CODE_PATTERN`).
"""

from __future__ import annotations

import json
import math
import re
import sqlite3
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from dataclasses import asdict, dataclass, field, is_dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from labmrt.errors import LabmrtError, Problem
from labmrt.store import schema as store_schema
from labmrt.store.provenance import parse_software, software_versions
from labmrt.store.schema import APPLICATION_ID
from labmrt.textcols import text_as_objects

#: The database file of a study folder.
DB_NAME = "labmrt.sqlite"
SQLITE_MAGIC = b"SQLite format 3\x00"

# 1-32 characters: letters, digits, '_' and '-', starting with a letter or digit and holding at
# least one digit ("P07", "lab2-s014"). The digit rule keeps plain names ("anna") out of the data.
#: What a participant code may be (a regular expression): codes only, never names.
PARTICIPANT_CODE_PATTERN = r"^(?=[^0-9]*[0-9])[A-Za-z0-9][A-Za-z0-9_-]{0,31}$"
_PARTICIPANT_CODE_RE = re.compile(PARTICIPANT_CODE_PATTERN)

STATUSES: tuple[str, ...] = (
    "created",
    "running",
    "paused",
    "resumed",
    "completed",
    "aborted",
    "incomplete",
)
#: Statuses of a session that has not ended: it can be resumed or closed as incomplete.
OPEN_STATUSES = frozenset({"created", "running", "paused", "resumed"})
TERMINAL_STATUSES = frozenset({"completed", "aborted", "incomplete"})
PHASES: tuple[str, ...] = ("rest", "stressor", "break", "task", "calibration")
EVENT_ACTIONS: tuple[str, ...] = ("open", "close", "use")

# Raw samples: the flusher wakes this often and writes buffers older than SAMPLE_MAX_AGE_S.
SAMPLE_FLUSH_TICK_S = 0.25
SAMPLE_MAX_AGE_S = 0.5
# A buffer this large (values) is written at once, whatever its age (fast simulations).
SAMPLE_MAX_BUFFERED_VALUES = 2_000_000


def validate_participant_code(code: object, where: str = "participant") -> str:
    """Return ``code`` if it is a valid participant code, else raise a LabmrtError."""
    if not isinstance(code, str) or not _PARTICIPANT_CODE_RE.match(code):
        raise LabmrtError(
            Problem(
                where,
                f"{code!r} is not a participant code",
                "use a pseudonymous code of 1-32 letters, digits, '_' or '-' with at least one "
                "digit, e.g. P07; never a name",
            )
        )
    return code


@dataclass(frozen=True)
class SessionInfo:
    """What the store knows about one session; ``status`` is the latest appended status."""

    id: int
    participant: str
    session_no: int
    protocol_hash: str
    protocol_text: str
    workstation: str
    status: str
    started_t: float
    status_t: float | None = None
    status_reason: str = ""
    resume_of: int | None = None
    streams: list[dict] = field(default_factory=list)
    created_at: str = ""
    # labmrt, package, Python and OS versions the session ran with ({} before they were kept)
    software: dict[str, str] = field(default_factory=dict)


def _now_iso() -> str:
    return datetime.now(UTC).isoformat(timespec="seconds")


def _plain(value: Any) -> Any:
    """JSON-ready copy: numpy scalars to Python, tuples to lists, NaN/inf to None."""
    if isinstance(value, dict):
        return {str(k): _plain(v) for k, v in value.items()}
    if isinstance(value, list | tuple | np.ndarray):
        return [_plain(v) for v in value]
    if isinstance(value, np.generic):
        value = value.item()
    if isinstance(value, float) and not math.isfinite(value):
        return None
    return value


def _dumps(value: Any) -> str:
    return json.dumps(_plain(value if value is not None else {}), sort_keys=True)


def _opt_float(value: Any) -> float | None:
    if value is None:
        return None
    value = float(value)
    return value if math.isfinite(value) else None


def _opt_int(value: Any) -> int | None:
    return None if value is None else int(value)


def _opt_bool(value: Any) -> int | None:
    return None if value is None else int(bool(value))


def _protocol_text(protocol: Any) -> str:
    """The canonical text of a protocol, whatever the protocol model calls it."""
    for attr in ("canonical_text", "canonical_json", "source_text", "text"):
        value = getattr(protocol, attr, None)
        if callable(value):
            value = value()
        if isinstance(value, str) and value:
            return value
    dump = getattr(protocol, "model_dump_json", None)
    if callable(dump):
        return dump()
    raise LabmrtError(
        Problem("protocol", "the protocol has no text to store", "load it with load_protocol()")
    )


def _disk_full(err: BaseException) -> bool:
    return "full" in str(err).lower()


class _SampleBuffer:
    """Pending raw samples of one stream of one session, not yet written."""

    __slots__ = ("sfreq", "n_channels", "dtype", "data", "timestamps", "n_values", "since")

    def __init__(self, sfreq: float, n_channels: int, dtype: np.dtype):
        self.sfreq = sfreq
        self.n_channels = n_channels
        self.dtype = dtype
        self.data: list[np.ndarray] = []
        self.timestamps: list[np.ndarray] = []
        self.n_values = 0
        self.since = 0.0


class StudyStore:
    """All records of one study folder. Open with :meth:`open`; close (or use ``with``)."""

    def __init__(self, conn: sqlite3.Connection, path: Path, *, readonly: bool = False):
        self._conn = conn
        self.path = path
        self.study_dir = path.parent
        self.readonly = readonly
        self._lock = threading.RLock()
        self._closed = False
        self._failure: LabmrtError | None = None
        self._buffers: dict[tuple[int, str, str], _SampleBuffer] = {}
        self._shapes: dict[tuple[int, str, str], tuple[int, str]] = {}
        self._flusher: threading.Thread | None = None
        self._stop = threading.Event()

    # ------------------------------------------------------------------ opening
    @classmethod
    def open(
        cls,
        study_dir: str | Path,
        create: bool = False,
        *,
        readonly: bool = False,
        check: bool = True,
        synchronous: str = "FULL",
    ) -> StudyStore:
        """Open the study database in ``study_dir`` (``create`` makes folder and database).

        ``check`` runs SQLite's quick_check on an existing file before anything is written.
        ``readonly`` opens for reading only (exports, listings; safe beside a running session).
        ``synchronous`` may be lowered to ``NORMAL`` for simulated studies: commits then survive a
        killed process but not a power cut.
        """
        study_dir = Path(study_dir)
        path = study_dir / DB_NAME
        where = str(path)
        if study_dir.exists() and not study_dir.is_dir():
            raise LabmrtError(
                Problem(str(study_dir), "is a file, not a study folder", "give a folder path")
            )
        if synchronous.upper() not in ("FULL", "NORMAL", "EXTRA"):
            raise LabmrtError(Problem("synchronous", f"unknown level {synchronous!r}", "use FULL"))
        exists = path.exists()
        if not exists and (not create or readonly):
            raise LabmrtError(
                Problem(
                    str(study_dir),
                    f"no labmrt study database ({DB_NAME}) in this folder",
                    "check the folder name, or record a session into it first",
                )
            )
        version = cls._inspect(path, check=check) if exists else 0
        if readonly:
            if version < store_schema.current_version():
                raise LabmrtError(
                    Problem(
                        where,
                        f"the study database has schema version {version}, this labmrt reads "
                        f"version {store_schema.current_version()}",
                        "open it once for writing to upgrade it (labmrt run into this folder does)",
                    )
                )
            conn = sqlite3.connect(
                f"{path.resolve().as_uri()}?mode=ro",
                uri=True,
                isolation_level=None,
                check_same_thread=False,
                timeout=30,
            )
            return cls(conn, path, readonly=True)
        try:
            study_dir.mkdir(parents=True, exist_ok=True)
            conn = sqlite3.connect(
                str(path), isolation_level=None, check_same_thread=False, timeout=30
            )
            mode = conn.execute("PRAGMA journal_mode=WAL").fetchone()[0]
            if str(mode).lower() != "wal":
                conn.close()
                raise LabmrtError(
                    Problem(
                        where,
                        f"SQLite could not switch to WAL journaling (got {mode!r})",
                        "put the study folder on a local disk",
                    )
                )
            conn.execute(f"PRAGMA synchronous={synchronous.upper()}")
            conn.execute("PRAGMA foreign_keys=ON")
            cls._migrate(conn, version, where)
        except sqlite3.Error as err:
            raise cls._as_user_error(err, where, "opening the study database") from err
        except OSError as err:
            raise LabmrtError(
                Problem(str(study_dir), f"cannot create the study folder: {err}", "check the path")
            ) from err
        return cls(conn, path)

    @staticmethod
    def _inspect(path: Path, *, check: bool) -> int:
        """Read-only look at an existing file: its schema version, or a LabmrtError."""
        where = str(path)
        corrupt_fix = (
            "the file was left untouched; restore it from a backup or choose another study folder"
        )
        try:
            with path.open("rb") as fh:
                head = fh.read(len(SQLITE_MAGIC))
        except OSError as err:
            raise LabmrtError(
                Problem(where, f"cannot read the file: {err}", "check permissions")
            ) from err
        if not head:
            return 0  # an empty file: created, never written (killed during set-up)
        if head != SQLITE_MAGIC:
            raise LabmrtError(
                Problem(where, "is not a SQLite database (corrupt or foreign file)", corrupt_fix)
            )
        try:
            conn = sqlite3.connect(f"{path.resolve().as_uri()}?mode=ro", uri=True, timeout=30)
        except sqlite3.Error as err:
            raise LabmrtError(Problem(where, f"cannot be opened: {err}", corrupt_fix)) from err
        try:
            version = conn.execute("PRAGMA user_version").fetchone()[0]
            app_id = conn.execute("PRAGMA application_id").fetchone()[0]
            n_objects = conn.execute("SELECT count(*) FROM sqlite_master").fetchone()[0]
            if check:
                result = [r[0] for r in conn.execute("PRAGMA quick_check").fetchall()]
                if result != ["ok"]:
                    raise LabmrtError(
                        Problem(
                            where,
                            "the study database is damaged: " + "; ".join(result[:3]),
                            corrupt_fix,
                        )
                    )
        except sqlite3.DatabaseError as err:
            raise LabmrtError(
                Problem(where, f"the study database is damaged ({err})", corrupt_fix)
            ) from err
        finally:
            conn.close()
        if app_id != APPLICATION_ID and (n_objects or version):
            raise LabmrtError(
                Problem(
                    where,
                    "is a SQLite database of another program, not a labmrt study",
                    "choose another study folder",
                )
            )
        if version > store_schema.current_version():
            raise LabmrtError(
                Problem(
                    where,
                    f"was written by a newer labmrt (schema version {version}; this labmrt "
                    f"knows up to version {store_schema.current_version()})",
                    "upgrade labmrt to open this study; the file was left untouched",
                )
            )
        return version

    @staticmethod
    def _migrate(conn: sqlite3.Connection, version: int, where: str) -> None:
        for target in range(version + 1, store_schema.current_version() + 1):
            script = store_schema.MIGRATIONS[target - 1]
            try:
                conn.executescript(
                    f"BEGIN IMMEDIATE;\n{script}\nPRAGMA user_version = {target};\nCOMMIT;"
                )
            except sqlite3.Error:
                if conn.in_transaction:
                    conn.execute("ROLLBACK")
                raise

    @staticmethod
    def _as_user_error(err: sqlite3.Error, where: str, doing: str) -> LabmrtError:
        if _disk_full(err):
            return LabmrtError(
                Problem(
                    where,
                    f"database or disk is full while {doing}; the session cannot record more",
                    "free disk space; everything recorded before this point is kept",
                )
            )
        if isinstance(err, sqlite3.IntegrityError):
            text = str(err)
            fix = (
                "this fact is already recorded; recorded facts are never overwritten"
                if "UNIQUE" in text
                else "no such session in this study"
                if "FOREIGN KEY" in text
                else "check the value"
            )
            return LabmrtError(Problem(where, f"refused while {doing}: {text}", fix))
        return LabmrtError(Problem(where, f"SQLite error while {doing}: {err}", ""))

    # ------------------------------------------------------------------ lifecycle
    def __enter__(self) -> StudyStore:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        """Write pending samples, stop the flusher and close the database."""
        if self._closed:
            return
        self._stop.set()
        if self._flusher is not None and self._flusher is not threading.current_thread():
            self._flusher.join(timeout=5)
        failure: LabmrtError | None = None
        with self._lock:
            if not self.readonly:
                try:
                    self._flush_locked(force=True)
                except LabmrtError as err:
                    failure = err
            self._closed = True
            self._conn.close()
        if failure is not None:
            raise failure

    @contextmanager
    def _writing(self, doing: str) -> Iterator[sqlite3.Connection]:
        """Hold the lock, refuse writes after a failure, and turn SQLite errors into user errors."""
        with self._lock:
            if self._closed:
                raise LabmrtError(Problem(str(self.path), "the study store is closed", ""))
            if self.readonly:
                raise LabmrtError(Problem(str(self.path), "the store was opened read-only", ""))
            if self._failure is not None:
                raise self._failure
            try:
                yield self._conn
            except sqlite3.Error as err:
                if self._conn.in_transaction:
                    with suppress(sqlite3.Error):
                        self._conn.execute("ROLLBACK")
                error = self._as_user_error(err, str(self.path), doing)
                if _disk_full(err):
                    self._failure = error
                raise error from err
            except BaseException:  # e.g. Ctrl+C mid-transaction: leave the connection usable
                if self._conn.in_transaction:
                    with suppress(sqlite3.Error):
                        self._conn.execute("ROLLBACK")
                raise

    def _query(self, sql: str, params: tuple = ()) -> pd.DataFrame:
        with self._lock:
            if self._closed:
                raise LabmrtError(Problem(str(self.path), "the study store is closed", ""))
            return text_as_objects(pd.read_sql_query(sql, self._conn, params=params))

    def _session_row(self, sid: int) -> tuple:
        with self._lock:
            row = self._conn.execute(
                "SELECT id, participant, session_no, protocol_hash, protocol_text, workstation, "
                "started_t, resume_of, streams_json, created_at, software_json FROM sessions WHERE id = ?",
                (int(sid),),
            ).fetchone()
        if row is None:
            raise LabmrtError(Problem(f"session {sid}", "no such session in this study", ""))
        return row

    def _latest_status(self, sid: int) -> tuple[str, float | None, str]:
        with self._lock:
            row = self._conn.execute(
                "SELECT status, t, reason FROM session_status WHERE session_id = ? "
                "ORDER BY id DESC LIMIT 1",
                (int(sid),),
            ).fetchone()
        return row if row is not None else ("created", None, "")

    # ------------------------------------------------------------------ sessions
    def create_session(
        self,
        participant: str,
        protocol: Any,
        *,
        workstation: str = "",
        streams: list[dict] | None = None,
        session_no: int | None = None,
        started_t: float,
        resume_of: int | None = None,
        software: dict[str, str] | None = None,
    ) -> int:
        """Record a new session (protocol text + content hash) and return its id.

        A participant code that already has a session is refused, offering resume, unless
        ``session_no`` is given explicitly (a planned further session, or a resumed one).
        ``software`` defaults to the versions this process runs with
        (:func:`labmrt.store.provenance.software_versions`).
        """
        code = validate_participant_code(participant)
        protocol_hash = str(protocol.content_hash)
        text = _protocol_text(protocol)
        software_json = json.dumps(software_versions() if software is None else software)
        with self._lock:  # check and insert as one step for this process
            return self._create_session_locked(
                code,
                protocol_hash,
                text,
                workstation,
                streams,
                session_no,
                started_t,
                resume_of,
                software_json,
            )

    def _create_session_locked(
        self,
        code: str,
        protocol_hash: str,
        text: str,
        workstation: str,
        streams: list[dict] | None,
        session_no: int | None,
        started_t: float,
        resume_of: int | None,
        software_json: str,
    ) -> int:
        existing = self._conn.execute(
            "SELECT id, session_no FROM sessions WHERE participant = ? ORDER BY session_no",
            (code,),
        ).fetchall()
        if resume_of is not None:
            prior = self._session_row(resume_of)
            if prior[1] != code:
                raise LabmrtError(
                    Problem(
                        f"session {resume_of}",
                        f"belongs to participant {prior[1]}, not {code}",
                        "resume a session of the same participant",
                    )
                )
        if existing and session_no is None:
            last_id, last_no = existing[-1]
            status = self._latest_status(last_id)[0]
            raise LabmrtError(
                Problem(
                    f"participant {code}",
                    f"already has session {last_no} in this study (status: {status})",
                    f"resume it with `labmrt run --resume {code}` or close it as incomplete; "
                    "a new person needs a new code",
                )
            )
        if session_no is None:
            session_no = 1
        if any(no == session_no for _, no in existing):
            raise LabmrtError(
                Problem(
                    f"participant {code}",
                    f"session {session_no} already exists",
                    "choose the next session number",
                )
            )
        now = _now_iso()
        with self._writing("creating the session") as conn:
            conn.execute("BEGIN IMMEDIATE")
            cur = conn.execute(
                "INSERT INTO sessions (participant, session_no, protocol_hash, protocol_text, "
                "workstation, streams_json, started_t, resume_of, created_at, software_json) "
                "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                (
                    code,
                    int(session_no),
                    protocol_hash,
                    text,
                    str(workstation),
                    json.dumps(_plain(streams or [])),
                    float(started_t),
                    _opt_int(resume_of),
                    now,
                    software_json,
                ),
            )
            sid = int(cur.lastrowid)
            conn.execute(
                "INSERT INTO session_status (session_id, status, t, reason, created_at) "
                "VALUES (?, 'created', ?, '', ?)",
                (sid, float(started_t), now),
            )
            conn.execute("COMMIT")
        return sid

    def set_status(self, sid: int, status: str, t: float, reason: str = "") -> None:
        """Append a status change; a completed, aborted or incomplete session stays closed."""
        if status not in STATUSES:
            raise LabmrtError(
                Problem("status", f"unknown session status {status!r}", f"use one of {STATUSES}")
            )
        with self._writing("recording the session status") as conn:
            self._session_row(sid)
            latest = self._latest_status(sid)[0]
            if latest in TERMINAL_STATUSES:
                raise LabmrtError(
                    Problem(
                        f"session {sid}",
                        f"is already {latest}; its status cannot change to {status}",
                        "start a new session to record more",
                    )
                )
            conn.execute(
                "INSERT INTO session_status (session_id, status, t, reason, created_at) "
                "VALUES (?, ?, ?, ?, ?)",
                (int(sid), status, float(t), str(reason), _now_iso()),
            )

    def session_info(self, sid: int) -> SessionInfo:
        row = self._session_row(sid)
        status, status_t, reason = self._latest_status(sid)
        return SessionInfo(
            id=int(row[0]),
            participant=row[1],
            session_no=int(row[2]),
            protocol_hash=row[3],
            protocol_text=row[4],
            workstation=row[5],
            status=status,
            started_t=float(row[6]),
            status_t=status_t,
            status_reason=reason,
            resume_of=row[7],
            streams=json.loads(row[8]),
            created_at=row[9],
            software=parse_software(row[10]),
        )

    def sessions(self) -> pd.DataFrame:
        """One row per session with its latest status and how much it recorded."""
        return self._query(
            """
            SELECT s.id AS session, s.participant, s.session_no, st.status,
                   st.reason AS status_reason, s.started_t, st.t AS status_t,
                   (SELECT count(*) FROM decisions d WHERE d.session_id = s.id) AS n_decisions,
                   (SELECT max(decision_point) FROM decisions d WHERE d.session_id = s.id)
                       AS last_decision_point,
                   (SELECT count(*) FROM events e WHERE e.session_id = s.id) AS n_events,
                   s.workstation, s.protocol_hash, s.resume_of,
                   (SELECT min(r.id) FROM sessions r WHERE r.resume_of = s.id) AS resumed_by,
                   s.created_at, s.software_json
            FROM sessions s
            JOIN session_status st ON st.id = (
                SELECT max(id) FROM session_status WHERE session_id = s.id)
            ORDER BY s.id
            """
        )

    def software(self) -> dict[int, dict[str, str]]:
        """Each session's software record by session id ({} where it was not kept yet)."""
        with self._lock:
            rows = self._conn.execute("SELECT id, software_json FROM sessions ORDER BY id")
            return {int(sid): parse_software(text) for sid, text in rows.fetchall()}

    def interrupted_sessions(self) -> list[SessionInfo]:
        """Sessions left open (created/running/paused/resumed) and not resumed by another one."""
        table = self.sessions()
        open_rows = table[table["status"].isin(sorted(OPEN_STATUSES)) & table["resumed_by"].isna()]
        return [self.session_info(int(s)) for s in open_rows["session"]]

    def add_phase(self, sid: int, phase: str, start_t: float, end_t: float | None) -> None:
        with self._writing("recording a phase") as conn:
            conn.execute(
                "INSERT INTO phases (session_id, phase, start_t, end_t) VALUES (?, ?, ?, ?)",
                (int(sid), str(phase), float(start_t), _opt_float(end_t)),
            )

    # ------------------------------------------------------------------ decisions & co
    def add_decision(self, sid: int, row: dict) -> None:
        """Record a decision point (available or not); committed when this returns."""
        available = bool(row["available"])
        arm = row.get("arm")
        if available and arm is None:
            raise LabmrtError(
                Problem(
                    f"decision point {row.get('decision_point')}",
                    "is available but has no arm",
                    "an available decision point is always randomized",
                )
            )
        values = (
            int(sid),
            int(row["decision_point"]),
            _opt_int(row.get("task_index")),
            None if row.get("task_id") is None else str(row["task_id"]),
            float(row["t"]),
            int(available),
            str(row.get("unavailable_reason") or ""),
            None if arm is None else str(arm),
            _dumps(row.get("probabilities")),
            _dumps(row.get("context")),
            _opt_float(row.get("uniform")),
            row.get("protocol_hash"),
            row.get("state"),
            _opt_float(row.get("p_aroused")),
            _dumps(row.get("features")),
            _dumps(row.get("windows")),
            _dumps(row.get("quality")),
            _dumps(row.get("controls")),
        )
        with self._writing(f"recording decision point {row['decision_point']}") as conn:
            conn.execute(
                "INSERT INTO decisions (session_id, decision_point, task_index, task_id, t, "
                "available, unavailable_reason, arm, probabilities_json, context_json, uniform, "
                "protocol_hash, state, p_aroused, features_json, windows_json, quality_json, "
                "controls_json) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                values,
            )

    def add_presentation(self, sid: int, row: dict) -> None:
        """Record how a framed task was shown, received and answered; committed on return."""
        values = (
            int(sid),
            int(row["decision_point"]),
            _opt_int(row.get("task_index")),
            None if row.get("task_id") is None else str(row["task_id"]),
            _opt_float(row.get("shown_t")),
            _opt_bool(row.get("received")),
            _opt_float(row.get("received_t")),
            _opt_float(row.get("dwell_s")),
            _opt_bool(row.get("confirmed")),
            None if row.get("answer") is None else str(row["answer"]),
            _opt_float(row.get("answer_t")),
            _opt_bool(row.get("correct")),
            _opt_float(row.get("end_t")),
        )
        with self._writing("recording a task presentation") as conn:
            conn.execute(
                "INSERT INTO presentations (session_id, decision_point, task_index, task_id, "
                "shown_t, received, received_t, dwell_s, confirmed, answer, answer_t, correct, "
                "end_t) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                values,
            )

    def add_event(self, sid: int, row: dict) -> None:
        """Record one feature-use event; committed when this returns."""
        action = str(row["action"])
        if action not in EVENT_ACTIONS:
            raise LabmrtError(
                Problem("event", f"unknown action {action!r}", f"use one of {EVENT_ACTIONS}")
            )
        detail = row.get("detail") or ""
        if not isinstance(detail, str):
            detail = _dumps(detail)
        with self._writing("recording a feature-use event") as conn:
            conn.execute(
                "INSERT INTO events (session_id, decision_point, task_index, t, feature, action, "
                "detail) VALUES (?, ?, ?, ?, ?, ?, ?)",
                (
                    int(sid),
                    _opt_int(row.get("decision_point")),
                    _opt_int(row.get("task_index")),
                    float(row["t"]),
                    str(row["feature"]),
                    action,
                    detail,
                ),
            )

    def add_outcomes(
        self, sid: int, decision_point: int, outcomes: dict[str, float | None]
    ) -> None:
        """Record the proximal outcomes of one decision point (one transaction)."""
        rows = [
            (int(sid), int(decision_point), str(name), _opt_float(value))
            for name, value in outcomes.items()
        ]
        with self._writing(f"recording outcomes of decision point {decision_point}") as conn:
            conn.execute("BEGIN IMMEDIATE")
            conn.executemany(
                "INSERT INTO outcomes (session_id, decision_point, name, value) "
                "VALUES (?, ?, ?, ?)",
                rows,
            )
            conn.execute("COMMIT")

    def add_state(self, sid: int, row: dict | Any) -> None:
        """Record one affective-state update (a dict, or an :class:`~labmrt.state.AffectState` itself)."""
        if is_dataclass(row) and not isinstance(row, type):
            row = asdict(row)
        with self._writing("recording a state update") as conn:
            conn.execute(
                "INSERT INTO states (session_id, t, label, p_aroused, features_json, "
                "quality_json, windows_json, reason) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
                (
                    int(sid),
                    float(row["t"]),
                    str(row.get("label") or "unknown"),
                    _opt_float(row.get("p_aroused")),
                    _dumps(row.get("features")),
                    _dumps(row.get("quality")),
                    _dumps(row.get("windows")),
                    str(row.get("reason") or ""),
                ),
            )

    def add_marker(self, sid: int, t: float, marker: str) -> None:
        """Keep a copy of a marker pushed to the LSL marker stream."""
        with self._writing("recording a marker") as conn:
            conn.execute(
                "INSERT INTO markers (session_id, t, marker) VALUES (?, ?, ?)",
                (int(sid), float(t), str(marker)),
            )

    def add_clock_offset(self, sid: int, source_id: str, t: float, offset: float) -> None:
        """Record an LSL ``time_correction()`` of a stream: local time = stream time + offset."""
        with self._writing("recording a clock offset") as conn:
            conn.execute(
                "INSERT INTO clock_offsets (session_id, source_id, t, offset) VALUES (?, ?, ?, ?)",
                (int(sid), str(source_id), float(t), float(offset)),
            )

    # ------------------------------------------------------------------ raw samples
    def add_samples(
        self,
        sid: int,
        kind: str,
        source_id: str,
        data: np.ndarray,
        timestamps: np.ndarray,
        sfreq: float,
    ) -> None:
        """Buffer a chunk of raw samples (n x channels); written within a second. Thread-safe."""
        values = np.asarray(data)
        if values.ndim == 1:
            values = values[:, None]
        stamps = np.asarray(timestamps, dtype=np.float64).ravel()
        if values.ndim != 2 or values.shape[0] != stamps.shape[0]:
            raise LabmrtError(
                Problem(
                    f"samples {kind}/{source_id}",
                    f"data of shape {values.shape} does not match {stamps.shape[0]} timestamps",
                    "pass an (n_samples, n_channels) array and n timestamps",
                )
            )
        if values.dtype.kind not in "fiu":
            raise LabmrtError(
                Problem(f"samples {kind}/{source_id}", f"non-numeric data ({values.dtype})", "")
            )
        if stamps.size == 0:
            return
        dtype = values.dtype.newbyteorder("<")
        key = (int(sid), str(kind), str(source_id))
        with self._lock:
            if self._failure is not None:
                raise self._failure
            if self._closed:
                raise LabmrtError(Problem(str(self.path), "the study store is closed", ""))
            shape = self._shapes.get(key)
            if shape is None:
                shape = self._recorded_shape(key) or (values.shape[1], dtype.str)
                self._shapes[key] = shape
            if shape[0] != values.shape[1]:
                raise LabmrtError(
                    Problem(
                        f"samples {kind}/{source_id}",
                        f"{values.shape[1]} channels, earlier chunks had {shape[0]}",
                        "keep one channel layout per stream",
                    )
                )
            buf = self._buffers.get(key)
            if buf is None:
                buf = self._buffers[key] = _SampleBuffer(float(sfreq), shape[0], np.dtype(shape[1]))
            if not buf.data:
                buf.since = time.monotonic()
            buf.data.append(np.ascontiguousarray(values, dtype=buf.dtype))
            buf.timestamps.append(stamps.copy())
            buf.n_values += values.size
            if buf.n_values >= SAMPLE_MAX_BUFFERED_VALUES:
                self._flush_locked(force=True)
            if self._flusher is None:
                self._flusher = threading.Thread(
                    target=self._flush_loop, name="labmrt-store-flusher", daemon=True
                )
                self._flusher.start()

    def _recorded_shape(self, key: tuple[int, str, str]) -> tuple[int, str] | None:
        row = self._conn.execute(
            "SELECT n_channels, dtype FROM sample_chunks WHERE session_id = ? AND kind = ? "
            "AND source_id = ? ORDER BY id LIMIT 1",
            key,
        ).fetchone()
        return (int(row[0]), row[1]) if row else None

    def _flush_loop(self) -> None:
        while not self._stop.wait(SAMPLE_FLUSH_TICK_S):
            with self._lock:
                if self._closed or self._failure is not None:
                    return
                try:
                    self._flush_locked(force=False)
                except LabmrtError:
                    return  # kept in self._failure; the next call on the store raises it

    def flush(self) -> None:
        """Write all buffered raw samples now."""
        with self._lock:
            if self._failure is not None:
                raise self._failure
            self._flush_locked(force=True)

    def _flush_locked(self, *, force: bool) -> None:
        now = time.monotonic()
        due = [
            (key, buf)
            for key, buf in self._buffers.items()
            if buf.data and (force or now - buf.since >= SAMPLE_MAX_AGE_S)
        ]
        if not due:
            return
        rows = []
        for (sid, kind, source_id), buf in due:
            data = np.concatenate(buf.data, axis=0)
            stamps = np.concatenate(buf.timestamps)
            rows.append(
                (
                    sid,
                    kind,
                    source_id,
                    buf.sfreq,
                    buf.dtype.str,
                    int(data.shape[0]),
                    buf.n_channels,
                    float(stamps[0]),
                    float(stamps[-1]),
                    data.tobytes(),
                    stamps.tobytes(),
                )
            )
        conn = self._conn
        try:
            conn.execute("BEGIN IMMEDIATE")
            conn.executemany(
                "INSERT INTO sample_chunks (session_id, kind, source_id, sfreq, dtype, n_samples, "
                "n_channels, t_first, t_last, data, timestamps) "
                "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                rows,
            )
            conn.execute("COMMIT")
        except sqlite3.Error as err:
            if conn.in_transaction:
                with suppress(sqlite3.Error):
                    conn.execute("ROLLBACK")
            error = self._as_user_error(err, str(self.path), "writing raw samples")
            self._failure = error
            raise error from err
        for _, buf in due:
            buf.data.clear()
            buf.timestamps.clear()
            buf.n_values = 0

    def sample_streams(self, sid: int | None = None) -> pd.DataFrame:
        """The raw streams recorded: session, kind, source_id, sfreq, n_channels, n_samples."""
        if not self.readonly:
            self.flush()
        where, params = ("WHERE session_id = ?", (int(sid),)) if sid is not None else ("", ())
        return self._query(
            "SELECT session_id AS session, kind, source_id, max(sfreq) AS sfreq, "
            "max(n_channels) AS n_channels, sum(n_samples) AS n_samples, min(t_first) AS t_first, "
            f"max(t_last) AS t_last FROM sample_chunks {where} "
            "GROUP BY session_id, kind, source_id ORDER BY session_id, kind, source_id",
            params,
        )

    def samples(
        self, sid: int, kind: str, source_id: str | None = None
    ) -> tuple[np.ndarray, np.ndarray]:
        """All raw samples of ``kind`` (optionally one source) as (n x channels, timestamps)."""
        if not self.readonly:
            self.flush()
        sql = (
            "SELECT dtype, n_samples, n_channels, data, timestamps FROM sample_chunks "
            "WHERE session_id = ? AND kind = ?"
        )
        params: tuple = (int(sid), str(kind))
        if source_id is not None:
            sql += " AND source_id = ?"
            params += (str(source_id),)
        with self._lock:
            rows = self._conn.execute(sql + " ORDER BY id", params).fetchall()
        if not rows:
            return np.empty((0, 0)), np.empty(0)
        data = [
            np.frombuffer(blob, dtype=np.dtype(dt)).reshape(n, ch) for dt, n, ch, blob, _ in rows
        ]
        stamps = [np.frombuffer(ts, dtype="<f8") for *_, ts in rows]
        return np.concatenate(data, axis=0), np.concatenate(stamps)

    # ------------------------------------------------------------------ reading tables
    @staticmethod
    def _decode(frame: pd.DataFrame, columns: tuple[str, ...]) -> pd.DataFrame:
        for col in columns:
            name = col.removesuffix("_json")
            frame[name] = [json.loads(v) if v else {} for v in frame.pop(col)]
        return frame

    def _table(self, sql: str, sid: int | None, order: str) -> pd.DataFrame:
        params: tuple = ()
        if sid is not None:
            sql += " WHERE x.session_id = ?"
            params = (int(sid),)
        frame = self._query(f"{sql} ORDER BY {order}", params)
        return frame

    def decisions(self, sid: int | None = None) -> pd.DataFrame:
        """Decision points with JSON fields decoded to dicts (probabilities, features, ...)."""
        frame = self._table(
            "SELECT x.session_id AS session, s.participant, x.decision_point, x.task_index, "
            "x.task_id, x.t, x.available, x.unavailable_reason, x.arm, x.probabilities_json, "
            "x.context_json, x.uniform, x.protocol_hash, x.state, x.p_aroused, x.features_json, "
            "x.windows_json, x.quality_json, x.controls_json "
            "FROM decisions x JOIN sessions s ON s.id = x.session_id",
            sid,
            "x.session_id, x.decision_point",
        )
        frame["available"] = frame["available"].astype(bool)
        return self._decode(
            frame,
            (
                "probabilities_json",
                "context_json",
                "features_json",
                "windows_json",
                "quality_json",
                "controls_json",
            ),
        )

    def presentations(self, sid: int | None = None) -> pd.DataFrame:
        frame = self._table(
            "SELECT x.session_id AS session, s.participant, x.decision_point, x.task_index, "
            "x.task_id, x.shown_t, x.received, x.received_t, x.dwell_s, x.confirmed, x.answer, "
            "x.answer_t, x.correct, x.end_t FROM presentations x "
            "JOIN sessions s ON s.id = x.session_id",
            sid,
            "x.session_id, x.decision_point, x.id",
        )
        for col in ("received", "confirmed", "correct"):
            frame[col] = frame[col].astype("boolean")
        return frame

    def events(self, sid: int | None = None) -> pd.DataFrame:
        return self._table(
            "SELECT x.session_id AS session, s.participant, x.decision_point, x.task_index, x.t, "
            "x.feature, x.action, x.detail FROM events x JOIN sessions s ON s.id = x.session_id",
            sid,
            "x.session_id, x.t, x.id",
        )

    def outcomes(self, sid: int | None = None) -> pd.DataFrame:
        """Proximal outcomes in long form: session, participant, decision_point, name, value."""
        return self._table(
            "SELECT x.session_id AS session, s.participant, x.decision_point, x.name, x.value "
            "FROM outcomes x JOIN sessions s ON s.id = x.session_id",
            sid,
            "x.session_id, x.decision_point, x.id",
        )

    def states(self, sid: int | None = None) -> pd.DataFrame:
        frame = self._table(
            "SELECT x.session_id AS session, s.participant, x.t, x.label, x.p_aroused, "
            "x.features_json, x.quality_json, x.windows_json, x.reason "
            "FROM states x JOIN sessions s ON s.id = x.session_id",
            sid,
            "x.session_id, x.t, x.id",
        )
        return self._decode(frame, ("features_json", "quality_json", "windows_json"))

    def phases(self, sid: int | None = None) -> pd.DataFrame:
        return self._table(
            "SELECT x.session_id AS session, x.phase, x.start_t, x.end_t FROM phases x",
            sid,
            "x.session_id, x.start_t, x.id",
        )

    def status_history(self, sid: int | None = None) -> pd.DataFrame:
        return self._table(
            "SELECT x.session_id AS session, x.status, x.t, x.reason, x.created_at "
            "FROM session_status x",
            sid,
            "x.session_id, x.id",
        )

    def markers(self, sid: int | None = None) -> pd.DataFrame:
        return self._table(
            "SELECT x.session_id AS session, x.t, x.marker FROM markers x",
            sid,
            "x.session_id, x.t, x.id",
        )

    def clock_offsets(self, sid: int | None = None) -> pd.DataFrame:
        return self._table(
            "SELECT x.session_id AS session, x.source_id, x.t, x.offset FROM clock_offsets x",
            sid,
            "x.session_id, x.source_id, x.t, x.id",
        )

    def last_decision_point(self, sid: int) -> int | None:
        with self._lock:
            row = self._conn.execute(
                "SELECT max(decision_point) FROM decisions WHERE session_id = ?", (int(sid),)
            ).fetchone()
        return None if row[0] is None else int(row[0])

    def integrity_check(self) -> list[str]:
        """SQLite's full integrity check: an empty list when the database is sound."""
        with self._lock:
            result = [r[0] for r in self._conn.execute("PRAGMA integrity_check").fetchall()]
        return [] if result == ["ok"] else result

    def schema_version(self) -> int:
        with self._lock:
            return int(self._conn.execute("PRAGMA user_version").fetchone()[0])
