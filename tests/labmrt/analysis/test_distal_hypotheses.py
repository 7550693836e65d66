"""Distal and mediated hypotheses of an analysis plan: checked, tested, the same numbers as dcee/mcee.

A distal hypothesis is the intercept of a dcee fit, a mediated one the
intercept of the natural direct or indirect effect of an mcee fit, on every
decision point with the treatment of a contrast that covers every arm. Checked
exactly: the hypothesis's estimate and standard error are the fit's, computed
here from hand-derived treatment columns (1 for loss, its recorded
probability), and the one-sided p-value is the t tail. Bad plans get
``FILE: key: what (fix)``.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from scipy import stats

from labmrt.analysis.api import read_table
from labmrt.analysis.distal import dcee
from labmrt.analysis.hypotheses import evaluate_hypotheses
from labmrt.analysis.mediation import mcee
from labmrt.analysis.spec import load_plan
from labmrt.cli import main
from labmrt.report.catalog import checked_plan

ROOT = Path(__file__).resolve().parents[3]
PROTOCOL = ROOT / "protocols" / "framing_affect.toml"
EFFECTS = ROOT / "protocols" / "framing_affect_effects.toml"
PLAN = ROOT / "protocols" / "framing_affect_plan.toml"

HEAD = f'protocol = "{PROTOCOL}"\noutcome = "help_hint_seconds"\nlearner = "lm"\n'
DISTAL = """
[[hypotheses]]
id = "D1"
text = "loss changes task completion through help seeking"
outcome = "share_correct"
contrast = "loss-vs-rest"
mediator = "help_hint_seconds"
effect = "indirect"
direction = ">0"
"""


@pytest.fixture(scope="module")
def frame(tmp_path_factory):
    root = tmp_path_factory.mktemp("distal_hyp")
    assert main(["simulate", str(PROTOCOL), "--effects", str(EFFECTS), "--participants", "12",
                 "--seed", "2", "--out", str(root / "s")]) == 0  # fmt: skip
    assert main(["export", str(root / "s"), "--no-signals", "--out", str(root / "x")]) == 0
    return read_table(root / "x" / "decision_points.csv")


def _plan(tmp_path: Path, body: str) -> Path:
    path = tmp_path / "plan.toml"
    path.write_text(HEAD + body, "utf-8")
    return path


@pytest.mark.parametrize(
    "change, message",
    [
        (('effect = "indirect"\n', ""), "hypotheses[1].effect: missing: a mediated hypothesis is "
         'about its direct or its indirect effect (add effect = "indirect"'),
        (('mediator = "help_hint_seconds"\n', ""), "hypotheses[1].mediator: missing: effect is "
         "given without a mediator"),
        (("direction", 'method = "wcls"\ndirection'), "hypotheses[1].method: is 'wcls', but a "
         "hypothesis with a mediator is tested by mcee"),
        (("direction", 'moderator = "affect_state"\nlevel = "calm"\ndirection'),
         "hypotheses[1].moderator: a distal or mediated hypothesis is about the marginal effect"),
        (("loss-vs-rest", "loss-vs-baseline"), "hypotheses[1].contrast: contrast "
         "'loss-vs-baseline': leaves out arm(s) gain, but a distal outcome depends on every "
         "decision point, so none can be left out of the analysis (put every arm on a side, "
         "e.g. loss-vs-rest)"),
        (('outcome = "share_correct"', 'outcome = "help_hint_seconds"'), "hypotheses[1].outcome: "
         "'help_hint_seconds' is not a distal outcome of the study (use one of: share_correct, "
         "mean_answer_s)"),
        (('mediator = "help_hint_seconds"', 'mediator = "share_correct"'), "hypotheses[1]"
         ".mediator: 'share_correct' is not a proximal outcome of the protocol (use one of: "
         "help_hint_seconds, calculator_used)"),
        (('mediator = "help_hint_seconds"\neffect = "indirect"\n', ""), "hypotheses[1].outcome: "
         "'share_correct' is a distal outcome (one value per participant) (test it with method = "
         '"dcee", or name a mediator'),
        (("direction", "[robustness]\nhypotheses = [\"D1\"]\n[[hypotheses]]\nid = \"X\"\n"
                       "text = \"x\"\noutcome = \"help_hint_seconds\"\ncontrast = \"loss-vs-baseline\"\n"
                       "direction"),
         "robustness.hypotheses[1]: 'D1' is a distal hypothesis"),
    ],
)  # fmt: skip
def test_a_bad_distal_hypothesis_is_named_with_its_key_and_fix(tmp_path, capsys, change, message):
    path = _plan(tmp_path, DISTAL.replace(*change, 1))
    capsys.readouterr()
    assert main(["analyze", "--plan", str(path), "data.csv"]) == 2
    err = capsys.readouterr().err
    assert message in err.replace(str(tmp_path) + "/", ""), err
    assert "Traceback" not in err


def test_the_hypotheses_are_the_distal_fits_on_hand_made_treatment_columns(frame):
    plan = checked_plan(PLAN)
    results = {r.id: r for r in evaluate_hypotheses(plan, frame)}
    data = frame.assign(
        A=(frame["arm"] == "loss").astype(float),
        pA=np.where(frame["available"] == 1, frame["prob_loss"], np.nan),
    )
    controls = ["task_index", "difficulty"]
    d = dcee(data, outcome="share_correct", treatment="A", rand_prob="pA", controls=controls,
             availability="available", learner="lm")  # fmt: skip
    m = mcee(data, decision_point="decision_point", outcome="share_correct", treatment="A",
             mediator="help_hint_seconds", rand_prob="pA", controls=[*controls, "help_hint_seconds"],
             availability="available")  # fmt: skip
    for hid, fit, term in (
        ("H6", d, "(Intercept)"),
        ("H7", m, "niee:(Intercept)"),
        ("H8", m, "ndee:(Intercept)"),
    ):
        r, row = results[hid], fit.table.loc[term]
        assert r.error == "" and r.term == term
        assert r.estimate == pytest.approx(row["estimate"], rel=1e-12, abs=1e-15), hid
        assert r.std_error == pytest.approx(row["std_error"], rel=1e-12, abs=1e-15), hid
        assert r.df == fit.df == (12 - 1 if hid == "H6" else 12 - 2)
        assert r.n_participants == 12 and r.n_used == int(frame["available"].sum())
    h7 = results["H7"]  # ">0": one-sided, the t tail
    assert h7.p_value == pytest.approx(stats.t.sf(h7.estimate / h7.std_error, h7.df), rel=1e-12)
    assert h7.hypothesis.effect_label() == (
        "natural indirect excursion effect (through help_hint_seconds)"
    )
    assert h7.p_adjusted == h7.p_value  # secondary: not in the primary family


def test_a_plan_of_a_distal_analysis_runs_with_analyze_and_robustness_refuses_it(
    frame, tmp_path, capsys
):
    data = tmp_path / "dp.csv"
    frame.to_csv(data, index=False)
    plan = tmp_path / "distal.toml"
    plan.write_text('method = "dcee"\noutcome = "share_correct"\ncontrast = "loss-vs-rest"\n'
                    'baseline = "neutral"\navailability = "available"\n', "utf-8")  # fmt: skip
    capsys.readouterr()
    assert main(["analyze", str(data), "--plan", str(plan)]) == 2
    assert "learner: not given, and MRTAnalysis dcee()'s default learner gam" in (
        capsys.readouterr().err
    )
    plan.write_text(plan.read_text() + 'learner = "lm"\n', "utf-8")
    assert main(["analyze", str(data), "--plan", str(plan), "--json"]) == 0
    import json

    out = json.loads(capsys.readouterr().out)
    assert out["method"] == "dcee" and out["treatment"] == "loss vs neutral+gain"
    assert load_plan(plan).method == "dcee"
    assert main(["robustness", str(data), "--plan", str(plan)]) == 2
    assert "the robustness checks re-draw the arms of a WCLS or EMEE" in capsys.readouterr().err


def test_the_catalog_knows_the_distal_outcomes():
    from labmrt.protocol import load_protocol
    from labmrt.report.catalog import catalog_of

    catalog = catalog_of(load_protocol(PROTOCOL))
    assert catalog.distal_outcomes == ("share_correct", "mean_answer_s")
    plan = checked_plan(PLAN)
    distal = [h.id for h in plan.hypotheses if h.is_distal(plan.method)]
    assert distal == ["H6", "H7", "H8"]
    from labmrt.analysis.hypotheses import robustness_hypotheses

    assert [h.id for h in robustness_hypotheses(plan)] == ["H1", "H2"]
