"""`labmrt demo`: the app gets the short demo protocol, the headless study the full one."""

from __future__ import annotations

import json
from pathlib import Path

from labmrt.cli import main


def test_app_demo_opens_the_short_protocol(monkeypatch, tmp_path):
    opened = []

    def fake_open_demo(protocol: Path, out: Path) -> int:
        opened.append((protocol, out))
        return 0

    monkeypatch.setattr("labmrt.commands.gui.open_demo", fake_open_demo)
    assert main(["demo", "--out", str(tmp_path / "study")]) == 0
    assert [(p.name, o) for p, o in opened] == [("demo.toml", tmp_path / "study")]


def test_headless_demo_simulates_the_full_study(tmp_path, capsys):
    out = tmp_path / "study"
    assert main(["demo", "--headless", "--json", "--participants", "6", "--out", str(out)]) == 0
    report = json.loads(capsys.readouterr().out)
    # 30 tasks, every one a decision point: the analysis needs them all
    assert report["participants"] == 6 and report["n_decisions"] == 6 * 30
    assert Path(report["study_dir"]) == out


def test_too_few_participants_for_the_demo_analysis_is_refused_up_front(tmp_path, capsys):
    out = tmp_path / "study"
    assert main(["demo", "--headless", "--participants", "4", "--out", str(out)]) == 2
    assert "at least 5 participants" in capsys.readouterr().err
    assert not out.exists()  # refused before anything is simulated
