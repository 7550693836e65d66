"""End to end: labmrt simulate -> labmrt export -> labmrt analyze recovers the true effects.

30 simulated participants of the bundled framing x affect protocol (900 decision
points) go through the real engine and store; the exported decision-point table
is analyzed with WCLS, loss and gain vs the baseline arm, moderated by the
affective state. Tolerances: each of the 8 true effects (2 outcomes x 2 contrasts
x 2 states) must lie inside its 99.9% CI (8 simultaneous checks: a false alarm
in about 0.8% of seeds), and the largest effects must be detected at 5%.
"""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd
import pytest

from labmrt.cli import main
from labmrt.simulate import compare_with_truth

ROOT = Path(__file__).resolve().parents[2]
PROTOCOL = ROOT / "protocols" / "framing_affect.toml"


@pytest.fixture(scope="module")
def study(tmp_path_factory):
    out = tmp_path_factory.mktemp("e2e") / "study"
    assert main(["simulate", str(PROTOCOL), "--participants", "30", "--seed", "11",
                 "--out", str(out)]) == 0  # fmt: skip
    assert main(["export", str(out), "--no-signals"]) == 0
    return out


def test_truth_is_written_next_to_the_data(study):
    truth = json.loads((study / "truth.json").read_text())
    assert set(truth["outcomes"]) == {"help_hint_seconds", "calculator_used"}
    assert len(truth["participants"]) == 30
    loss = truth["outcomes"]["help_hint_seconds"]["arms"]["loss"]
    # intent-to-treat = receipt probability x effect when received
    assert loss["itt"]["aroused"] == pytest.approx(
        truth["model"]["receipt"] * loss["if_received"]["aroused"]
    )


def test_export_feeds_the_analyzer_and_recovers_the_truth(study):
    table = pd.read_csv(study / "export" / "decision_points.csv")
    assert len(table) == 30 * 30
    assert 0.75 < table["available"].mean() < 0.99  # dropouts, low quality, breaks
    truth = json.loads((study / "truth.json").read_text())
    res = compare_with_truth(table, truth, conf_level=0.999)
    assert len(res) == 8
    assert res["covered"].all(), res.to_string()
    strongest = res[(res["contrast"] == "loss vs neutral") & (res["state"] == "aroused")]
    assert (strongest["p_value"] < 0.05).all(), strongest.to_string()


def test_cli_analyze_json_on_the_export(study, capsys):
    capsys.readouterr()
    code = main(["analyze", str(study / "export"), "--outcome", "help_hint_seconds",
                 "--contrast", "loss-vs-baseline", "--moderator", "affect_state",
                 "--availability", "available", "--conf-level", "0.999", "--json"])  # fmt: skip
    assert code == 0
    out = json.loads(capsys.readouterr().out)
    terms = {t["term"]: t for t in out["terms"]}
    truth = json.loads((study / "truth.json").read_text())
    itt = truth["outcomes"]["help_hint_seconds"]["arms"]["loss"]["itt"]
    # categorical moderator, first level (aroused) as reference
    intercept, calm = terms["(Intercept)"], terms["affect_statecalm"]
    assert intercept["ci_lower"] <= itt["aroused"] <= intercept["ci_upper"]
    assert calm["ci_lower"] <= itt["calm"] - itt["aroused"] <= calm["ci_upper"]


def test_bad_input_is_a_clear_message_not_a_traceback(tmp_path, capsys):
    study = tmp_path / "s"
    assert main(["simulate", str(tmp_path / "nope.toml"), "--participants", "2",
                 "--out", str(study)]) == 2  # fmt: skip
    assert "file not found" in capsys.readouterr().err
    assert main(["run", str(PROTOCOL), "--study", str(study), "--participant", "P01",
                 "--simulated"]) == 0  # fmt: skip
    capsys.readouterr()
    # the same code again: refused, resume offered
    assert main(["run", str(PROTOCOL), "--study", str(study), "--participant", "P01",
                 "--simulated"]) == 2  # fmt: skip
    assert "labmrt run --resume P01" in capsys.readouterr().err
    # nothing to resume
    assert main(["run", str(PROTOCOL), "--study", str(study), "--participant", "P01",
                 "--simulated", "--resume"]) == 2  # fmt: skip
    assert "no interrupted session" in capsys.readouterr().err
    # a name is not a participant code
    assert main(["run", str(PROTOCOL), "--study", str(study), "--participant", "anna",
                 "--simulated"]) == 2  # fmt: skip
    assert "not a participant code" in capsys.readouterr().err
    # an existing study is never overwritten by a simulation
    assert main(["simulate", str(PROTOCOL), "--participants", "2", "--out", str(study)]) == 2
    assert "already holds a study database" in capsys.readouterr().err
    # a corrupt database is refused and left untouched
    bad = tmp_path / "corrupt"
    bad.mkdir()
    (bad / "labmrt.sqlite").write_bytes(b"not a database at all" * 50)
    before = (bad / "labmrt.sqlite").read_bytes()
    assert main(["run", str(PROTOCOL), "--study", str(bad), "--participant", "P02",
                 "--simulated"]) == 2  # fmt: skip
    assert "not a SQLite database" in capsys.readouterr().err
    assert (bad / "labmrt.sqlite").read_bytes() == before
