"""Hypotheses of an analysis plan: checks against the protocol, tests, adjustment, robustness.

Closed forms: the effect at a level (recoded reference) equals the analyzer's
``effect_at`` linear combination to 1e-10; a difference of levels equals the
difference of ``effect_at`` weights; one-sided p-values are the t tail and
half the two-sided one; Holm's adjustment matches its definition
(sorted p, multiplied by m, m-1, ..., made monotone). Known truth: on a
simulated study the primary effects' one-sided bounds lie below the truth.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np
import pytest
from scipy import stats

from labmrt.analysis.api import read_table, wcls
from labmrt.analysis.hypotheses import (
    INTERCEPT,
    coded_frame,
    directional,
    evaluate_hypotheses,
    redraw_check,
    variant_checks,
)
from labmrt.analysis.spec import load_plan, plan_from_dict
from labmrt.cli import main
from labmrt.errors import LabmrtError

ROOT = Path(__file__).resolve().parents[3]
PROTOCOL = ROOT / "protocols" / "framing_affect.toml"
PLAN = ROOT / "protocols" / "framing_affect_plan.toml"


@pytest.fixture(scope="module")
def export(tmp_path_factory):
    root = tmp_path_factory.mktemp("hyp")
    study = root / "study"
    assert main(["simulate", str(PROTOCOL), "--participants", "16", "--seed", "5",
                 "--out", str(study)]) == 0  # fmt: skip
    assert main(["export", str(study), "--no-signals", "--out", str(root / "x")]) == 0
    return root


@pytest.fixture(scope="module")
def frame(export):
    return read_table(export / "x" / "decision_points.csv")


@pytest.fixture(scope="module")
def plan():
    return load_plan(PLAN).model_copy(update={"baseline": "neutral"})


def _write_plan(tmp_path: Path, body: str) -> Path:
    path = tmp_path / "plan.toml"
    path.write_text(f'protocol = "{PROTOCOL}"\noutcome = "help_hint_seconds"\n' + body)
    return path


HYP = """
[[hypotheses]]
id = "H1"
text = "loss raises help use when aroused"
outcome = "help_hint_seconds"
contrast = "loss-vs-baseline"
moderator = "affect_state"
level = "aroused"
direction = ">0"
"""


# --------------------------------------------------------------------------- checks
@pytest.mark.parametrize(
    "change, message",
    [
        (
            ('outcome = "help_hint_seconds"\ncontrast', 'outcome = "help_seconds"\ncontrast'),
            "plan.toml: hypotheses[1].outcome: 'help_seconds' is not an outcome of the protocol "
            "(use one of: help_hint_seconds, calculator_used)",
        ),
        (
            ("loss-vs-baseline", "lose-vs-baseline"),
            "plan.toml: hypotheses[1].contrast: contrast 'lose-vs-baseline': arm 'lose' is not an "
            "arm of the protocol (arms: neutral, gain, loss)",
        ),
        (
            ('moderator = "affect_state"', 'moderator = "mood"'),
            "plan.toml: hypotheses[1].moderator: 'mood' is not a moderator of the protocol "
            "(use one of: affect_state, hr, rmssd, scl, scr_rate)",
        ),
        (
            ('level = "aroused"', 'level = "stressed"'),
            "plan.toml: hypotheses[1].level: 'stressed' is not a level of affect_state "
            "(use one of: calm, aroused, unknown)",
        ),
        (
            ('direction = ">0"', 'direction = "> 0"'),
            "plan.toml: hypotheses[1].direction: Input should be '>0', '<0' or '!=0'",
        ),
        (
            ('level = "aroused"', ""),
            "plan.toml: hypotheses[1].level: missing: moderator 'affect_state' needs the level "
            "the effect is taken at (add level = ..., or leave out moderator for the marginal effect)",
        ),
        (
            ('text = "loss', 'colour = "red"\ntext = "loss'),
            "plan.toml: hypotheses[1].colour: unknown key (keys: id, text, outcome, contrast, "
            "moderator, level, versus, direction, role, alpha, method, mediator, effect)",
        ),
    ],
)
def test_a_bad_hypothesis_is_named_with_its_key_and_fix(tmp_path, capsys, change, message):
    path = _write_plan(tmp_path, HYP.replace(*change))
    capsys.readouterr()
    assert main(["analyze", "--plan", str(path)]) == 2
    err = capsys.readouterr().err
    assert message in err.replace(str(tmp_path) + "/", "")
    assert "Traceback" not in err


def test_numeric_moderators_take_numbers_and_primary_alphas_must_agree(tmp_path):
    text = HYP.replace('"affect_state"', '"hr"').replace('"aroused"', '"high"')
    text += HYP.replace('"H1"', '"H2"').replace(
        'direction = ">0"', 'direction = ">0"\nalpha = 0.01'
    )
    from labmrt.report.catalog import checked_plan

    with pytest.raises(LabmrtError) as err:
        checked_plan(_write_plan(tmp_path, text))
    assert "primary hypotheses have different alphas (0.01, 0.05)" in err.value.message
    text = text.replace("alpha = 0.01", "")
    with pytest.raises(LabmrtError) as err:
        checked_plan(_write_plan(tmp_path, text))
    assert "hypotheses[1].level: 'high' is not a number, but hr is numeric" in err.value.message


def test_duplicate_ids_and_unknown_robustness_hypotheses_are_refused():
    h = {"id": "H1", "text": "t", "outcome": "y", "contrast": "a-vs-b"}
    with pytest.raises(LabmrtError) as err:
        plan_from_dict(
            {"outcome": "y", "hypotheses": [h, h], "robustness": {"hypotheses": ["H9"]}}, "p.toml"
        )
    msg = err.value.message
    assert "p.toml: hypotheses[2].id: 'H1' is used twice" in msg
    assert "p.toml: robustness.hypotheses[1]: no hypothesis 'H9' (use one of: H1, H1)" in msg


def test_the_shipped_plan_fits_the_shipped_protocol():
    from labmrt.report.catalog import checked_plan

    plan = checked_plan(PLAN)
    assert [h.id for h in plan.hypotheses] == ["H1", "H2", "H3", "H4", "H5", "H6", "H7", "H8"]
    assert plan.baseline == "neutral"  # from the protocol
    assert plan.robustness is not None and plan.robustness.draws == 5000


# --------------------------------------------------------------------------- closed forms
def test_the_effect_at_a_level_equals_the_analyzers_linear_combination(frame, plan):
    res = wcls(frame, outcome="help_hint_seconds", contrast="loss-vs-baseline",
               baseline="neutral", moderators=["affect_state"], controls=plan.controls,
               availability="available")  # fmt: skip
    results = {r.id: r for r in evaluate_hypotheses(plan, frame)}
    for hid, level in (("H1", "aroused"), ("H2", "calm")):
        at = res.effect_at({"affect_state": level})
        assert results[hid].estimate == pytest.approx(float(at.estimate.iloc[0]), abs=1e-10)
        assert results[hid].std_error == pytest.approx(float(at.std_error.iloc[0]), abs=1e-10)
    # H3: aroused minus calm is the difference of the two combinations' weights
    w = np.zeros(res.p)
    names = res.effect_names
    for level, sign in (("aroused", 1), ("calm", -1)):
        if f"affect_state{level}" in names:
            w[names.index(f"affect_state{level}")] += sign
    diff = res.lincomb(w)
    assert results["H3"].estimate == pytest.approx(float(diff.estimate.iloc[0]), abs=1e-10)
    assert results["H3"].std_error == pytest.approx(float(diff.std_error.iloc[0]), abs=1e-10)


def test_a_numeric_level_is_the_effect_at_that_value(frame, plan):
    h = plan.hypotheses[0].model_copy(update={"moderator": "hr", "level": 75.0})
    coded, term = coded_frame(frame, h)
    assert term == INTERCEPT
    res = wcls(frame, outcome="help_hint_seconds", contrast="loss-vs-baseline", baseline="neutral",
               moderators=["hr"], controls=plan.controls, availability="available")  # fmt: skip
    mine = wcls(coded, outcome="help_hint_seconds", contrast="loss-vs-baseline", baseline="neutral",
                moderators=["hr"], controls=plan.controls, availability="available")  # fmt: skip
    at = res.effect_at({"hr": 75.0})
    assert float(mine.table.loc[INTERCEPT, "estimate"]) == pytest.approx(
        float(at.estimate.iloc[0]), abs=1e-9
    )


def test_one_sided_tests_are_the_t_tail():
    t, df = 1.7, 12
    p_up, lo, hi = directional(1.7, 1.0, df, ">0", 0.05)
    assert p_up == pytest.approx(stats.t.sf(t, df), abs=1e-15)
    p_two, lo2, hi2 = directional(1.7, 1.0, df, "!=0", 0.05)
    assert p_up == pytest.approx(p_two / 2, abs=1e-15)
    assert lo == pytest.approx(1.7 - stats.t.ppf(0.95, df)) and hi == np.inf
    assert lo2 == pytest.approx(1.7 - stats.t.ppf(0.975, df))
    p_down, lo3, hi3 = directional(1.7, 1.0, df, "<0", 0.05)
    assert p_down == pytest.approx(1 - p_up, abs=1e-15) and lo3 == -np.inf


def test_holm_adjusts_the_primary_family_only(frame, plan):
    results = evaluate_hypotheses(plan, frame)
    primary = [r for r in results if r.hypothesis.role == "primary"]
    p = sorted(r.p_value for r in primary)
    holm = [min(1.0, 2 * p[0]), min(1.0, max(2 * p[0], p[1]))]
    assert sorted(r.p_adjusted for r in primary) == pytest.approx(holm, abs=1e-15)
    for r in results:
        if r.hypothesis.role != "primary":
            assert r.p_adjusted == r.p_value
        assert r.supported == (r.p_adjusted < r.alpha)
    assert {r.id: r.hypothesis.method or plan.method for r in results}["H5"] == "emee"
    assert next(r for r in results if r.id == "H5").scale == "log relative risk"


# --------------------------------------------------------------------------- known truth
def test_primary_effects_are_found_and_bounded_by_the_truth(export, frame, plan):
    truth = json.loads((export / "study" / "truth.json").read_text())
    itt = truth["outcomes"]["help_hint_seconds"]["arms"]["loss"]["itt"]
    results = {r.id: r for r in evaluate_hypotheses(plan, frame)}
    for hid, state in (("H1", "aroused"), ("H2", "calm")):
        r = results[hid]
        # The true effect lies within 4 SE (a 1e-4 two-sided miss rate per check).
        assert abs(r.estimate - itt[state]) < 4 * r.std_error, (hid, r.estimate, itt[state])
    assert results["H1"].supported  # true ITT effect 0.54 on the log scale, 16 participants


def test_redraws_are_seeded_and_share_significant_is_near_alpha(frame, plan):
    h = plan.hypotheses[0]
    a = redraw_check(plan, h, frame, 400, seed=7)
    b = redraw_check(plan, h, frame, 400, seed=7)
    assert np.array_equal(a.null_estimates, b.null_estimates)
    assert a.error == ""
    # Under re-drawn arms the null holds: significant in about alpha (5%) of the analyses;
    # 400 draws give SE 1.1 points, and the small-sample correction is conservative.
    assert 0.0 <= a.share_significant < 0.10
    assert a.randomization_p == pytest.approx(1 / 401)  # the true effect is far outside
    assert a.estimate == pytest.approx(evaluate_hypotheses(plan, frame)[0].estimate, abs=1e-10)


def test_variants_re_run_the_hypothesis(frame, plan):
    h = plan.hypotheses[0]
    alt = plan.model_copy(
        update={
            "robustness": plan.robustness.model_copy(
                update={"alternative_outcomes": {"help_hint_seconds": ["calculator_used"]}}
            )
        }
    )
    variants = {v.variant: v for v in variant_checks(alt, h, frame)}
    assert set(variants) == {
        "outcome calculator_used",
        "task_index >= 5",
        "received framings only",
    }
    sub = variants["task_index >= 5"].result
    direct = wcls(frame.query("task_index >= 5"), outcome="help_hint_seconds",
                  contrast="loss-vs-baseline", baseline="neutral", moderators=["affect_state"],
                  controls=plan.controls, availability="available")  # fmt: skip
    assert sub.estimate == pytest.approx(
        float(direct.effect_at({"affect_state": "aroused"}).estimate.iloc[0]), abs=1e-10
    )
    assert (
        variants["received framings only"].result.n_used
        < evaluate_hypotheses(plan, frame)[0].n_used
    )


def test_analyze_plan_prints_the_hypotheses(export, tmp_path, capsys):
    plan = tmp_path / "plan.toml"
    shutil.copy(PLAN, plan)
    text = plan.read_text().replace('protocol = "framing_affect.toml"', f'protocol = "{PROTOCOL}"')
    plan.write_text(text)
    capsys.readouterr()
    assert main(["analyze", str(export / "x"), "--plan", str(plan), "--json"]) == 0
    out = json.loads(capsys.readouterr().out)
    ids = [h["id"] for h in out["hypotheses"]]
    assert ids == ["H1", "H2", "H3", "H4", "H5", "H6", "H7", "H8"]
    assert out["hypotheses"][0]["adjustment"] == "holm over 2 primary"
    distal = {h["id"]: h for h in out["hypotheses"][5:]}
    assert [h["method"] for h in distal.values()] == ["dcee", "mcee", "mcee"]
    assert all(h["error"] == "" and h["supported"] is not None for h in distal.values())
