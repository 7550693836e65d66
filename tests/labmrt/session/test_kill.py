"""Kill a real session process with SIGKILL at random moments, many times, and check that
nothing committed is lost or altered, and that resuming continues the same random stream.

Each round starts ``labmrt run --simulated --time-scale 600 --print-commits`` (a paced
simulated session: a whole session takes a few seconds) and kills it after a random delay,
so kills land during start-up, calibration, decisions, feature-use events and outcome
writes. The process prints a record only after the store committed it; after every kill
each printed record must be in the database with the same values, every row seen in an
earlier round must still be there unchanged, and the database must pass SQLite's
integrity check. At the end, the decisions of each participant's chain of resumed
sessions must be exactly the participant's random stream.
"""

from __future__ import annotations

import contextlib
import json
import math
import os
import random
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

from labmrt.protocol import load_protocol
from labmrt.session.randomizer import MicroRandomizer, choose_arm
from labmrt.store import StudyStore

ROOT = Path(__file__).resolve().parents[3]
PROTOCOL = ROOT / "protocols" / "framing_affect.toml"
KILLS = 20
BUDGET_S = 75.0  # wall-clock budget of the kill loop (the 2-core machine is shared)


def start(study: Path, code: str, resume: bool) -> tuple[subprocess.Popen, list[str]]:
    cmd = [
        sys.executable,
        "-m",
        "labmrt.cli",
        "run",
        str(PROTOCOL),
        "--study",
        str(study),
        "--participant",
        code,
        "--simulated",
        "--time-scale",
        "600",
        "--print-commits",
        "--no-markers",
        "--seed",
        "5",
    ]
    if resume:
        cmd.append("--resume")
    proc = subprocess.Popen(
        cmd, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True, cwd=ROOT
    )
    lines: list[str] = []

    def read() -> None:
        for line in proc.stdout:
            lines.append(line)

    reader = threading.Thread(target=read, daemon=True)
    reader.start()
    proc._reader = reader  # type: ignore[attr-defined]
    return proc, lines


def parse(lines: list[str]) -> list[dict]:
    out = []
    for line in lines:
        with contextlib.suppress(json.JSONDecodeError):  # a line cut by the kill
            out.append(json.loads(line))
    return out


def snapshot(study: Path) -> dict[str, set]:
    if not (study / "labmrt.sqlite").exists():  # killed before the database was created
        return {k: set() for k in ("decisions", "events", "presentations", "outcomes")}
    with StudyStore.open(study) as store:
        assert store.integrity_check() == []
        dec = store.decisions()
        ev = store.events()
        pres = store.presentations()
        out = store.outcomes()
        assert not out.duplicated(["session", "decision_point", "name"]).any()
        assert not dec.duplicated(["session", "decision_point"]).any()
        return {
            "decisions": {
                (
                    r.session,
                    r.decision_point,
                    r.task_index,
                    r.t,
                    r.available,
                    r.arm,
                    _opt(r.uniform),
                )
                for r in dec.itertuples(index=False)
            },
            "events": {(r.session, r.t, r.feature, r.action) for r in ev.itertuples(index=False)},
            "presentations": {
                (r.session, r.task_index, r.end_t) for r in pres.itertuples(index=False)
            },
            "outcomes": {
                (r.session, r.decision_point, r.name, repr(r.value))
                for r in out.itertuples(index=False)
            },
        }


def _opt(value):
    return None if value is None or math.isnan(value) else value


def has_interrupted(study: Path, code: str) -> bool:
    if not (study / "labmrt.sqlite").exists():
        return False
    with StudyStore.open(study) as store:
        return any(s.participant == code for s in store.interrupted_sessions())


def completed(study: Path, code: str) -> bool:
    if not (study / "labmrt.sqlite").exists():
        return False
    with StudyStore.open(study) as store:
        table = store.sessions()
    return bool(((table["participant"] == code) & (table["status"] == "completed")).any())


@pytest.mark.slow
def test_sigkill_at_random_moments_loses_nothing(tmp_path):
    study = tmp_path / "study"
    rng = random.Random(20240917)
    codes = ["P01"]
    before: dict[str, set] = {
        k: set() for k in ("decisions", "events", "presentations", "outcomes")
    }
    kills = 0
    committed_total = 0
    t_start = time.monotonic()
    while kills < KILLS and time.monotonic() - t_start < BUDGET_S:
        code = codes[-1]
        proc, lines = start(study, code, resume=has_interrupted(study, code))
        delay = rng.uniform(0.4, 2.8)
        try:
            proc.wait(timeout=delay)
        except subprocess.TimeoutExpired:
            os.kill(proc.pid, signal.SIGKILL)
            proc.wait()
            kills += 1
        proc._reader.join(timeout=5)  # type: ignore[attr-defined]
        records = parse(lines)
        now = snapshot(study)
        # every row of earlier rounds is still there, unchanged
        for table, rows in before.items():
            missing = rows - now[table]
            assert not missing, f"{table} lost or altered after kill {kills}: {sorted(missing)[:3]}"
        # everything the process reported as committed is in the database, same values
        for rec in records:
            if rec.get("committed") == "decision":
                key = (
                    rec["session"],
                    rec["decision_point"],
                    rec["task_index"],
                    rec["t"],
                    rec["available"],
                    rec["arm"],
                    rec["uniform"],
                )
                assert key in now["decisions"], f"decision {key} missing after kill {kills}"
                committed_total += 1
            elif rec.get("committed") == "event":
                key = (rec["session"], rec["t"], rec["feature"], rec["action"])
                assert key in now["events"], f"event {key} missing after kill {kills}"
                committed_total += 1
            elif rec.get("committed") == "presentation":
                key = (rec["session"], rec["task_index"], rec["end_t"])
                assert key in now["presentations"]
        before = now
        if completed(study, code):
            codes.append(f"P{len(codes) + 1:02d}")
    assert kills >= 15, f"only {kills} kills in {BUDGET_S} s"
    assert committed_total > 50

    # finish the last participant, then check every chain against the random stream
    code = codes[-1]
    if not completed(study, code):
        proc, _ = start(study, code, resume=has_interrupted(study, code))
        assert proc.wait(timeout=120) == 0
        proc._reader.join(timeout=5)  # type: ignore[attr-defined]
    protocol = load_protocol(PROTOCOL)
    with StudyStore.open(study) as store:
        table = store.sessions()
        dec = store.decisions()
    for code in codes:
        if not completed(study, code):
            continue
        mine = dec[dec["participant"] == code].sort_values("decision_point")
        # one decision per task, decision points counted without gaps across resumed sessions
        assert mine["decision_point"].tolist() == list(range(len(mine)))
        assert mine["task_index"].is_monotonic_increasing
        assert mine["task_index"].is_unique
        assert mine["task_index"].max() == len(protocol.tasks) - 1
        stream = MicroRandomizer(protocol, code, 1)
        uniforms = [stream.draw(k).u for k in range(len(mine))]
        for row, u in zip(mine.itertuples(index=False), uniforms, strict=True):
            if row.available:
                assert row.uniform == u
                # the inverse CDF runs over the arms in protocol order (the stored JSON is sorted)
                probs = {a: row.probabilities[a] for a in protocol.arm_ids}
                assert row.arm == choose_arm(u, probs)
            else:
                assert row.arm is None
        sessions = table[table["participant"] == code]
        # every interrupted session of the chain was resumed or closed: none left open
        assert sessions["status"].isin(["completed", "incomplete"]).all()
