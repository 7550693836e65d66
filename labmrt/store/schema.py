"""The study database schema and its ordered migrations.

The schema version lives in ``PRAGMA user_version`` and the file is marked as a
labmrt study with ``PRAGMA application_id``, so a newer or foreign database is
recognised before anything is written to it. ``MIGRATIONS[i]`` brings a
database from version ``i`` to ``i + 1``; a new schema version appends one
entry and never edits an old one, so every database ever written can be
brought forward step by step.

Recorded facts are append-only: triggers abort any UPDATE or DELETE on them,
so a bug elsewhere cannot silently rewrite what happened in a session.
Session status changes are new rows in ``session_status``.
"""

from __future__ import annotations

# "LMRT" as a big-endian 32-bit integer: marks the file as a labmrt study database.
APPLICATION_ID = 0x4C4D5254

# Tables whose rows are never updated nor deleted once written.
APPEND_ONLY_TABLES: tuple[str, ...] = (
    "sessions",
    "session_status",
    "phases",
    "decisions",
    "presentations",
    "events",
    "outcomes",
    "states",
    "sample_chunks",
    "markers",
    "clock_offsets",
)

_V1_TABLES = """
CREATE TABLE sessions (
    id            INTEGER PRIMARY KEY,
    participant   TEXT    NOT NULL,
    session_no    INTEGER NOT NULL,
    protocol_hash TEXT    NOT NULL,
    protocol_text TEXT    NOT NULL,
    workstation   TEXT    NOT NULL DEFAULT '',
    streams_json  TEXT    NOT NULL DEFAULT '[]',
    started_t     REAL    NOT NULL,
    resume_of     INTEGER REFERENCES sessions(id),
    created_at    TEXT    NOT NULL,
    UNIQUE (participant, session_no)
);
CREATE TABLE session_status (
    id         INTEGER PRIMARY KEY,
    session_id INTEGER NOT NULL REFERENCES sessions(id),
    status     TEXT    NOT NULL,
    t          REAL    NOT NULL,
    reason     TEXT    NOT NULL DEFAULT '',
    created_at TEXT    NOT NULL
);
CREATE INDEX session_status_by_session ON session_status(session_id, id);
CREATE TABLE phases (
    id         INTEGER PRIMARY KEY,
    session_id INTEGER NOT NULL REFERENCES sessions(id),
    phase      TEXT    NOT NULL,
    start_t    REAL    NOT NULL,
    end_t      REAL
);
CREATE TABLE decisions (
    id                 INTEGER PRIMARY KEY,
    session_id         INTEGER NOT NULL REFERENCES sessions(id),
    decision_point     INTEGER NOT NULL,
    task_index         INTEGER,
    task_id            TEXT,
    t                  REAL    NOT NULL,
    available          INTEGER NOT NULL CHECK (available IN (0, 1)),
    unavailable_reason TEXT    NOT NULL DEFAULT '',
    arm                TEXT,
    probabilities_json TEXT    NOT NULL DEFAULT '{}',
    context_json       TEXT    NOT NULL DEFAULT '{}',
    uniform            REAL,
    protocol_hash      TEXT,
    state              TEXT,
    p_aroused          REAL,
    features_json      TEXT    NOT NULL DEFAULT '{}',
    windows_json       TEXT    NOT NULL DEFAULT '{}',
    quality_json       TEXT    NOT NULL DEFAULT '{}',
    controls_json      TEXT    NOT NULL DEFAULT '{}',
    UNIQUE (session_id, decision_point)
);
CREATE TABLE presentations (
    id             INTEGER PRIMARY KEY,
    session_id     INTEGER NOT NULL REFERENCES sessions(id),
    decision_point INTEGER NOT NULL,
    task_index     INTEGER,
    task_id        TEXT,
    shown_t        REAL,
    received       INTEGER CHECK (received IN (0, 1)),
    received_t     REAL,
    dwell_s        REAL,
    confirmed      INTEGER CHECK (confirmed IN (0, 1)),
    answer         TEXT,
    answer_t       REAL,
    correct        INTEGER CHECK (correct IN (0, 1)),
    end_t          REAL
);
CREATE INDEX presentations_by_session ON presentations(session_id, decision_point);
CREATE TABLE events (
    id             INTEGER PRIMARY KEY,
    session_id     INTEGER NOT NULL REFERENCES sessions(id),
    decision_point INTEGER,
    task_index     INTEGER,
    t              REAL    NOT NULL,
    feature        TEXT    NOT NULL,
    action         TEXT    NOT NULL,
    detail         TEXT    NOT NULL DEFAULT ''
);
CREATE INDEX events_by_session ON events(session_id, t);
CREATE TABLE outcomes (
    id             INTEGER PRIMARY KEY,
    session_id     INTEGER NOT NULL REFERENCES sessions(id),
    decision_point INTEGER NOT NULL,
    name           TEXT    NOT NULL,
    value          REAL
);
CREATE INDEX outcomes_by_session ON outcomes(session_id, decision_point);
CREATE TABLE states (
    id            INTEGER PRIMARY KEY,
    session_id    INTEGER NOT NULL REFERENCES sessions(id),
    t             REAL    NOT NULL,
    label         TEXT    NOT NULL,
    p_aroused     REAL,
    features_json TEXT    NOT NULL DEFAULT '{}',
    quality_json  TEXT    NOT NULL DEFAULT '{}',
    windows_json  TEXT    NOT NULL DEFAULT '{}',
    reason        TEXT    NOT NULL DEFAULT ''
);
CREATE INDEX states_by_session ON states(session_id, t);
CREATE TABLE sample_chunks (
    id          INTEGER PRIMARY KEY,
    session_id  INTEGER NOT NULL REFERENCES sessions(id),
    kind        TEXT    NOT NULL,
    source_id   TEXT    NOT NULL,
    sfreq       REAL    NOT NULL,
    dtype       TEXT    NOT NULL,
    n_samples   INTEGER NOT NULL,
    n_channels  INTEGER NOT NULL,
    t_first     REAL    NOT NULL,
    t_last      REAL    NOT NULL,
    data        BLOB    NOT NULL,
    timestamps  BLOB    NOT NULL
);
CREATE INDEX sample_chunks_by_session ON sample_chunks(session_id, kind, id);
CREATE TABLE markers (
    id         INTEGER PRIMARY KEY,
    session_id INTEGER NOT NULL REFERENCES sessions(id),
    t          REAL    NOT NULL,
    marker     TEXT    NOT NULL
);
CREATE INDEX markers_by_session ON markers(session_id, t);
CREATE TABLE clock_offsets (
    id         INTEGER PRIMARY KEY,
    session_id INTEGER NOT NULL REFERENCES sessions(id),
    source_id  TEXT    NOT NULL,
    t          REAL    NOT NULL,
    offset     REAL    NOT NULL
);
CREATE INDEX clock_offsets_by_session ON clock_offsets(session_id, source_id, t);
"""


def _append_only_triggers(tables: tuple[str, ...]) -> str:
    parts = []
    for table in tables:
        for op in ("UPDATE", "DELETE"):
            parts.append(
                f"CREATE TRIGGER {table}_no_{op.lower()} BEFORE {op} ON {table} "
                f"BEGIN SELECT RAISE(ABORT, 'labmrt: {table} is append-only'); END;"
            )
    return "\n".join(parts)


# MIGRATIONS[i] is the SQL that takes a database from schema version i to i + 1. The store
# runs each one in a single transaction together with the new user_version, so a migration
# either happens completely or not at all.
MIGRATIONS: list[str] = [
    f"PRAGMA application_id = {APPLICATION_ID};\n"
    + _V1_TABLES
    + _append_only_triggers(APPEND_ONLY_TABLES),
    # v2: the software a session ran with (labmrt, the data packages, Python, OS) as JSON;
    # sessions recorded before keep '{}' (unknown).
    "ALTER TABLE sessions ADD COLUMN software_json TEXT NOT NULL DEFAULT '{}';",
    # v3: studies gathered from several stations (labmrt.store.merge). Every store gets a random
    # identity, so a station store is recognised whatever folder it is copied to; a merged
    # session keeps the station it was recorded on, and merged_sessions / merge_marks say which
    # station rows are already in this store, so merging again adds only what is new.
    """
    ALTER TABLE sessions ADD COLUMN station TEXT NOT NULL DEFAULT '';
    CREATE TABLE store_identity (uid TEXT NOT NULL);
    INSERT INTO store_identity (uid) VALUES (lower(hex(randomblob(16))));
    CREATE TABLE merged_sessions (
        id             INTEGER PRIMARY KEY,
        source_uid     TEXT    NOT NULL,
        station        TEXT    NOT NULL,
        source_session INTEGER NOT NULL,
        session_id     INTEGER NOT NULL REFERENCES sessions(id),
        merged_at      TEXT    NOT NULL,
        UNIQUE (source_uid, source_session)
    );
    CREATE TABLE merge_marks (
        id         INTEGER PRIMARY KEY,
        source_uid TEXT    NOT NULL,
        tbl        TEXT    NOT NULL,
        last_id    INTEGER NOT NULL,
        merged_at  TEXT    NOT NULL
    );
    CREATE INDEX merge_marks_by_source ON merge_marks(source_uid, tbl, last_id);
    """
    + _append_only_triggers(("store_identity", "merged_sessions", "merge_marks")),
]


def current_version() -> int:
    """The schema version this labmrt writes."""
    return len(MIGRATIONS)
