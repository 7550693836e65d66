"""A station's commands.log stays small whatever arrives: rate-limited, entries cut, rotated."""

from __future__ import annotations

import json

from labmrt.lab import logbook
from labmrt.lab.logbook import MAX_ENTRY, CommandLog, RateLimit


class Clock:
    def __init__(self) -> None:
        self.t = 0.0

    def __call__(self) -> float:
        return self.t


def test_refusals_are_written_at_a_bounded_rate_and_say_how_many_were_left_out(tmp_path):
    clock = Clock()
    book = CommandLog(tmp_path / "commands.log", RateLimit(per_s=0.5, burst=20, clock=clock))
    written = sum(book.refused("malformed: not JSON", {"head": "x"}) for _ in range(1000))
    assert written == 20  # a burst of 20, then nothing while the flood lasts
    clock.t += 2.0  # one more token
    assert book.refused("bad signature", {"seq": 1})
    book.write({"command": {"cmd": "pause"}, "ok": True, "executed": True})  # always written
    book.close()
    lines = [json.loads(x) for x in (tmp_path / "commands.log").read_text().splitlines()]
    assert len(lines) == 22
    assert lines[20]["left_out"] == 980 and lines[20]["refused"] == "bad signature"
    assert lines[21]["executed"] is True


def test_entries_are_cut_and_the_file_rotates(tmp_path, monkeypatch):
    monkeypatch.setattr(logbook, "MAX_BYTES", 50_000)
    path = tmp_path / "commands.log"
    book = CommandLog(path, RateLimit(per_s=0.0, burst=10**9))
    for i in range(2000):
        book.refused("malformed: not JSON", {"head": "\u00e9" * 100_000, "i": i})
    book.close()
    files = sorted(tmp_path.glob("commands.log*"))
    assert [f.name for f in files] == [f"commands.log{s}" for s in ("", ".1", ".2", ".3")]
    assert sum(f.stat().st_size for f in files) <= 4 * (50_000 + MAX_ENTRY + 1)
    last = [json.loads(x) for x in path.read_text().splitlines()][-1]
    assert last["refused"] == "malformed: not JSON" and len(json.dumps(last)) <= MAX_ENTRY
