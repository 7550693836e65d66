"""The framing study's mediation question, end to end: simulate -> export -> analyze -> report.

Does a loss framing change task completion, and how much of that runs
through the help and hint it makes participants use? 24 simulated
participants of the shipped framing protocol, with the shipped effects
(``[correct]``: answers improve with help use, no direct effect), go through
the real engine and store; the export carries the share of tasks answered
correctly on every row; ``labmrt analyze --distal-outcome --mediator``
estimates the natural direct and indirect excursion effects of loss against
the other framings; ``labmrt report`` tests the plan's H6-H8 with the same
numbers. Tolerances: each true effect inside its 99% CI (3 checks), the
report's estimates equal the command's to the 4 digits it prints.
"""

from __future__ import annotations

import json
import re
from pathlib import Path

import pandas as pd
import pytest

from labmrt.cli import main
from labmrt.simulate import distal_truth

ROOT = Path(__file__).resolve().parents[2]
PROTOCOL = ROOT / "protocols" / "framing_affect.toml"
EFFECTS = ROOT / "protocols" / "framing_affect_effects.toml"
PLAN = ROOT / "protocols" / "framing_affect_plan.toml"
CONTROLS = ["task_index", "difficulty"]  # the plan's controls


def _json(capsys, *args: str) -> dict:
    capsys.readouterr()
    assert main(list(args)) == 0
    return json.loads(capsys.readouterr().out)


@pytest.fixture(scope="module")
def study(tmp_path_factory):
    root = tmp_path_factory.mktemp("mediation")
    assert main(["simulate", str(PROTOCOL), "--effects", str(EFFECTS), "--participants", "24",
                 "--seed", "8", "--out", str(root / "study")]) == 0  # fmt: skip
    assert main(["export", str(root / "study"), "--no-signals"]) == 0
    return root


def test_the_export_carries_the_distal_outcome_on_every_row(study):
    export = study / "study" / "export"
    dp = pd.read_csv(export / "decision_points.csv")
    people = pd.read_csv(export / "participants.csv").set_index("participant")
    assert len(people) == 24 and (people["tasks_scored"] == 30).all()
    # every task is a decision point here, so the share is the mean of the rows' `correct`
    by_rows = dp.groupby("participant")["correct"].mean()
    pd.testing.assert_series_equal(
        by_rows, people["share_correct"], check_names=False, rtol=0, atol=1e-15
    )
    assert (dp.groupby("participant")["share_correct"].nunique() == 1).all()
    book = json.loads((export / "codebook.json").read_text())
    assert book["distal_outcomes"] == ["share_correct", "mean_answer_s"]


def test_analyze_answers_the_mediation_question(study, capsys):
    export = study / "study" / "export"
    truth = json.loads((study / "study" / "truth.json").read_text())
    assert truth["distal"]["mediation_identified"] is True
    common = ["--distal-outcome", "share_correct", "--contrast", "loss-vs-rest",
              "--availability", "available", "--conf-level", "0.99", "--json"]  # fmt: skip
    mediated = _json(capsys, "analyze", str(export), *common, "--mediator", "help_hint_seconds",
                     "--decision-point", "decision_point",
                     "--control", *CONTROLS, "help_hint_seconds")  # fmt: skip
    distal = _json(capsys, "analyze", str(export), *common, "--learner", "lm",
                   "--control", *CONTROLS)  # fmt: skip
    assert mediated["method"] == "mcee" and distal["method"] == "dcee"
    assert mediated["treatment"] == "loss vs neutral+gain" and mediated["df"] == 24 - 2
    table = pd.read_csv(export / "decision_points.csv")
    true = distal_truth(table, truth, "loss-vs-rest")
    assert true["direct"] == 0.0 and true["indirect"] > 0  # the shipped effects: no direct path
    terms = {t["term"]: t for t in mediated["terms"] + distal["terms"]}
    for term, key in (("ndee:(Intercept)", "direct"), ("niee:(Intercept)", "indirect"),
                      ("(Intercept)", "total")):  # fmt: skip
        t = terms[term]
        assert t["ci_lower"] <= true[key] <= t["ci_upper"], (term, t, true)
    (study / "cli.json").write_text(json.dumps({"mcee": mediated, "dcee": distal}))


def test_the_report_tests_the_plans_distal_hypotheses(study, capsys):
    plan = study / "plan.toml"
    text = PLAN.read_text().replace('protocol = "framing_affect.toml"', f'protocol = "{PROTOCOL}"')
    plan.write_text(text.replace("draws = 5000", "draws = 0"))  # no re-draws: lean
    out = study / "report.html"
    assert main(["report", str(study / "study"), "--plan", str(plan), "--out", str(out)]) == 0
    html = out.read_text()
    results = html[html.index("<caption>Results</caption>") :]
    results = results[: results.index("</table>")]
    rows = {
        cells[0]: cells
        for cells in (
            re.findall(r"<td[^>]*>(.*?)</td>", row, re.S)
            for row in re.findall(r"<tr>(.*?)</tr>", results, re.S)
        )
        if cells
    }
    assert "natural indirect excursion effect (through help_hint_seconds)" in rows["H7"][3]
    assert "natural direct excursion effect (not through help_hint_seconds)" in rows["H8"][3]
    assert "distal excursion effect" in rows["H6"][3] and "loss-vs-rest" in rows["H6"][3]
    assert all(rows[h][-1] in ("yes", "no", "no (exploratory)", "yes (exploratory)")
               for h in ("H6", "H7", "H8"))  # fmt: skip
    cli = json.loads((study / "cli.json").read_text())
    estimate = {t["term"]: t["estimate"] for t in cli["mcee"]["terms"] + cli["dcee"]["terms"]}
    for hid, term in (("H6", "(Intercept)"), ("H7", "niee:(Intercept)"),
                      ("H8", "ndee:(Intercept)")):  # fmt: skip
        assert float(rows[hid][5]) == pytest.approx(estimate[term], rel=5e-4, abs=5e-5), hid
