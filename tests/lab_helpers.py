"""A short lab protocol and waiting helpers shared by the lab tests."""

from __future__ import annotations

import itertools
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pandas as pd

from labmrt.cli import main
from labmrt.lab.envelope import Header, Sealer
from labmrt.lab.heartbeat import heartbeat_body
from labmrt.lab.transport import Message, station_source_id
from labmrt.store.merge import session_map

TABLES = ("decision_points", "events", "states", "sessions")
KEYS = {
    "decision_points": ["participant", "session", "decision_point"],
    "events": ["participant", "session", "t"],
    "states": ["participant", "session", "t"],
    "sessions": ["session"],
}

LAB_PROTOCOL = """
[study]
title = "Lab test"
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

[randomization]
seed = 11
probabilities = { neutral = 0.5, gain = 0.5 }

[[features]]
id = "help"
label = "Help"
kind = "help"
content = "Read the question twice."

[[outcomes]]
name = "help_seconds"
features = ["help"]
measure = "duration"
window = "task"
"""


def write_protocol(folder: Path, n_tasks: int = 4) -> Path:
    tasks = "".join(
        f'\n[[tasks]]\nid = "t{i}"\ntext = "Which of two offers {i} is cheaper?"\n'
        for i in range(1, n_tasks + 1)
    )
    path = folder / "lab.toml"
    path.write_text(LAB_PROTOCOL + tasks, encoding="utf-8")
    return path


class FakeLink:
    """Stands in for an LSL link: queued messages in, sent commands (or heartbeats) kept."""

    def __init__(self):
        self.inbox: list[Message] = []
        self.sent: list[str] = []

    def poll(self) -> list[Message]:
        out, self.inbox = self.inbox, []
        return out

    commands = poll  # a station's side

    def send(self, text: str) -> None:
        self.sent.append(text)

    publish = send

    def gone(self) -> list[str]:
        return []


FOLDER = "f0" * 16  # the folder id of the stations the helpers make up
_SEQ = itertools.count(int(time.time() * 1000))


def from_station(study, name: str, text: str, uid: str = "") -> Message:
    """``text`` as it arrives from station ``name``'s own status stream."""
    source_id = station_source_id(study.study_id, name)
    return Message(text.encode(), source_id, uid or f"uid-{name}", "test-host")


def heartbeat(study, name: str, *, seq: int | None = None, uid: str = "", **fields: Any) -> Message:
    """A heartbeat of station ``name`` sealed with the study key (idle unless ``fields`` say)."""
    body = {
        "protocol_hash": study.protocol_hash,
        "folder": FOLDER,
        "beat": 1,
        "t": time.time(),
        "status": "idle",
        "task_n": 8,
        **fields,
    }
    header = Header("status", study.study_id, name, next(_SEQ) if seq is None else seq)
    text = Sealer(study.secret(), study.study_id).seal(header, heartbeat_body(body))
    return from_station(study, name, text, uid)


def wait_for(what: Callable[[], object], timeout: float, poll: Callable[[], object] = None):
    """Call ``poll`` and test ``what`` until it is true; its value, or AssertionError at timeout."""
    end = time.monotonic() + timeout
    while True:
        if poll is not None:
            poll()
        value = what()
        if value:
            return value
        if time.monotonic() > end:
            raise AssertionError(f"not reached within {timeout} s")
        time.sleep(0.05)


def export_tables(study_dir: Path, out: Path) -> dict[str, pd.DataFrame]:
    assert main(["export", str(study_dir), "--no-signals", "--out", str(out)]) == 0
    return {t: pd.read_csv(out / f"{t}.csv") for t in TABLES}


def assert_merged_export_is_union(
    study_dir: Path, stations: list[Path], tmp: Path
) -> dict[str, list[pd.DataFrame]]:
    """The merged study's export equals the stations' exports put together (session ids mapped).

    Returns the stations' tables (with study session ids) by table name.
    """
    merged = export_tables(study_dir, tmp / "merged")
    ids = session_map(study_dir)
    parts: dict[str, list[pd.DataFrame]] = {t: [] for t in TABLES}
    for d in stations:
        for t, frame in export_tables(d, tmp / d.name).items():
            frame["session"] = [ids[(d.name, int(s))] for s in frame["session"]]
            if "resume_of" in frame:
                frame["resume_of"] = [
                    float("nan") if pd.isna(s) else ids[(d.name, int(s))]
                    for s in frame["resume_of"]
                ]
            parts[t].append(frame)
    for t in TABLES:
        union = pd.concat(parts[t], ignore_index=True)
        union = union.sort_values(KEYS[t], kind="stable").reset_index(drop=True)
        got = merged[t].sort_values(KEYS[t], kind="stable").reset_index(drop=True)
        assert len(got) > 0
        assert set(got.columns) == set(union.columns)
        pd.testing.assert_frame_equal(got, union[got.columns], check_dtype=False)
    return parts
