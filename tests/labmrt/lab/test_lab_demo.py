"""``labmrt demo --stations N`` without a screen: a whole lab run, merged into one study."""

from __future__ import annotations

import pytest

from labmrt.cli import main
from labmrt.store import StudyStore

pytest.importorskip("pylsl")


def test_the_lab_demo_runs_every_station_to_the_end_and_merges(tmp_path, capsys):
    out = tmp_path / "lab"
    argv = ["demo", "--stations", "2", "--headless", "--time-scale", "80", "--out", str(out)]
    assert main(argv) == 0
    text = capsys.readouterr().out
    assert "2 command(s) sent, 0 not acknowledged" in text
    with StudyStore.open(out, readonly=True) as store:
        sessions = store.sessions()
        n_decisions = len(store.decisions())
    assert sorted(sessions["participant"]) == ["P001", "P002"]
    assert set(sessions["status"]) == {"completed"}
    assert sorted(sessions["workstation"]) == ["ws-1", "ws-2"]
    assert n_decisions == 16  # demo.toml: 8 decision points per session


def test_the_lab_demo_refuses_a_bad_number_of_stations(tmp_path, capsys):
    assert main(["demo", "--stations", "40", "--out", str(tmp_path / "x")]) == 2
    assert "--stations" in capsys.readouterr().err
