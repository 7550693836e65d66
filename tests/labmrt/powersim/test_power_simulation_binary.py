"""Binary proximal outcomes in the power simulation: EMEE (log relative risk), as analyzed."""

from __future__ import annotations

import numpy as np
import pytest
from powersim_helpers import marginal_protocol
from scipy import integrate, stats
from test_power_simulation import FRAMING, FRAMING_EFFECTS, ROOT

from labmrt.analysis import emee, wcls
from labmrt.analysis.batch import EmeeRows, fit_emee_batched
from labmrt.powersim.effects import effects_from_dict, load_effects
from labmrt.powersim.run import run_chunk, simulate_power
from labmrt.powersim.trials import (
    SimPlan,
    analyze,
    analyze_single,
    build_terms,
    clipped_normal_mean,
    simulate_trial,
    stack,
    trial_frame,
)
from labmrt.protocol import load_protocol

CALC = ["calculator_used"]


@pytest.fixture(scope="module")
def study():
    """The framing protocol and its effects file."""
    protocol = load_protocol(FRAMING)
    return protocol, load_effects(FRAMING_EFFECTS, protocol)


def _binary_only(eff, **analysis):
    return eff.model_copy(
        update={
            "outcomes": {k: v for k, v in eff.outcomes.items() if k in CALC},
            "analysis": eff.analysis.model_copy(update=analysis),
        }
    )


# --------------------------------------------------------------------------- the same analysis
@pytest.mark.parametrize(
    ("n", "mode", "corrected"),
    [(35, None, True), (35, "never", False), (60, "auto", False), (60, None, True)],
)
def test_batched_emee_equals_the_analyzers_emee(study, n, mode, corrected):
    framing, framing_effects = study
    # Each trial's long table through labmrt.analysis.emee (the single fit of labmrt analyze
    # --binary), both contrasts, moderated, with a control: estimates and SEs to 1e-8.
    # small_sample None is emee()'s default ("always", correction also at 60 participants).
    eff = _binary_only(framing_effects, small_sample=mode, controls=["task_index"])
    plan = SimPlan(framing, eff, 60, seed=21)
    data = stack([simulate_trial(plan, j) for j in range(4)]).first(n)
    est, se, pv = analyze(plan, data)
    assert est.shape == (4, 4) and np.isfinite(est).all()
    for j in range(4):
        frame = trial_frame(plan, data, j)
        for c, contrast in enumerate(["gain-vs-baseline", "loss-vs-baseline"]):
            kw = {} if mode is None else {"small_sample": mode}
            fit = emee(
                frame, id="participant", outcome="calculator_used", moderators=["affect_state"],
                controls=["task_index"], availability="available", contrast=contrast, **kw,
            )  # fmt: skip
            assert fit.scale == "log relative risk" and fit.small_sample_applied == corrected
            assert fit.df == n - 2 - 3  # every participant counts (MRTAnalysis emee())
            cols = slice(2 * c, 2 * c + 2)
            np.testing.assert_allclose(est[j, cols], fit.table["estimate"], rtol=1e-8)
            np.testing.assert_allclose(se[j, cols], fit.table["std_error"], rtol=1e-8)
            np.testing.assert_allclose(pv[j, cols], fit.table["p_value"], rtol=1e-6, atol=1e-12)
    # Not the additive analysis any more: WCLS on the same table estimates something else.
    risk_difference = wcls(
        trial_frame(plan, data, 0), id="participant", outcome="calculator_used",
        moderators=["affect_state"], controls=["task_index"], availability="available",
        contrast="loss-vs-baseline",
    )  # fmt: skip
    assert np.abs(risk_difference.table["estimate"].to_numpy() - est[0, 2:]).max() > 1e-3


def test_each_data_set_converges_on_its_own(study):
    framing, framing_effects = study
    # A data set without a solution (no outcome at all) is NaN; the others are unaffected
    # and equal their fits alone; a different starting point reaches the same root.
    eff = _binary_only(framing_effects)
    plan = SimPlan(framing, eff, 30, seed=5)
    data = stack([simulate_trial(plan, j) for j in range(3)])
    y = data.y["calculator_used"].copy()
    y[1] = 0.0
    a = (data.arm == framing.arm_ids.index("loss")).astype(float)
    base = framing.arm_ids.index(framing.baseline_arm.id)
    used = data.available & ((data.arm == base) | (a == 1))
    p = data.probs[..., framing.arm_ids.index("loss")]
    p = p / (p + data.probs[..., base])
    w = np.where(a == 1, 0.5 / p, 0.5 / (1 - p)) * used
    calm = (~data.reported_aroused).astype(float)
    g = np.stack([np.ones_like(calm), calm], axis=-1)
    rows = EmeeRows(g, g.copy(), a, 0.5, w, y)
    fit = fit_emee_batched(rows, [2, 3], True, 30 - 4)
    assert np.isnan(fit.estimate[1]).all() and np.isfinite(fit.estimate[[0, 2]]).all()
    for j in (0, 2):
        alone = fit_emee_batched(rows.take(np.array([j])), [2, 3], True, 30 - 4)
        np.testing.assert_allclose(alone.estimate[0], fit.estimate[j], rtol=1e-10)
        np.testing.assert_allclose(alone.se[0], fit.se[j], rtol=1e-10)
    elsewhere = fit_emee_batched(rows, [2, 3], True, 26, start=np.full((3, 4), 0.1) - [1, 0, 0, 0])
    np.testing.assert_allclose(elsewhere.estimate[[0, 2]], fit.estimate[[0, 2]], rtol=1e-9)


# --------------------------------------------------------------------------- the truth
def test_clipped_normal_mean_against_quadrature():
    for mu, sd in [(0.3, 0.1), (0.05, 0.1), (0.97, 0.2), (1.2, 0.5), (0.4, 0.0)]:
        x = np.linspace(-12, 12, 200001)
        dens = stats.norm.pdf(x)
        want = (
            integrate.trapezoid(np.clip(mu + sd * x, 0, 1) * dens, x) if sd else min(max(mu, 0), 1)
        )
        assert clipped_normal_mean(mu, sd) == pytest.approx(want, abs=1e-9)


def test_relative_risks_are_the_truth_of_a_marginal_study(tmp_path):
    protocol = load_protocol(marginal_protocol(tmp_path))
    base = {"availability": {"share": 0.8}, "analysis": {"moderators": []}}
    y = {"scale": "binary", "baseline": 0.2}
    by_rr = effects_from_dict(
        {**base, "outcomes": {"y": {**y, "relative_risk": {"treat": 1.3}}}}, protocol, "e"
    )
    by_log = effects_from_dict(
        {**base, "outcomes": {"y": {**y, "log_relative_risk": {"treat": np.log(1.3)}}}},
        protocol,
        "e",
    )
    by_rd = effects_from_dict(
        {**base, "outcomes": {"y": {**y, "effects": {"treat": 0.06}}}}, protocol, "e"
    )
    for eff in (by_rr, by_log, by_rd):
        (term,) = build_terms(protocol, eff)
        assert term.truth == pytest.approx(np.log(1.3), abs=1e-12)
        assert term.meaning == "marginal log relative risk"
    # Intent-to-treat with 80% receipt: log(0.8 x 1.3 + 0.2).
    itt = by_rr.model_copy(update={"receipt": 0.8})
    assert build_terms(protocol, itt)[0].truth == pytest.approx(np.log(1.24), abs=1e-12)


def test_framing_truth_is_recovered_on_average(study):
    framing, framing_effects = study
    # 300 simulated framing studies of 120 participants, moderated EMEE: the mean estimate of
    # each log relative risk term lies within 3.5 Monte Carlo SE of the truth derived from the
    # effects file (misclassified states, receipt 0.9 and the random intercept included).
    eff = _binary_only(framing_effects)
    plan = SimPlan(framing, eff, 120, seed=6)
    est = np.concatenate([run_chunk(plan, [120], s, 25).estimate[:, 0] for s in range(0, 300, 25)])
    truth = np.array([t.truth for t in build_terms(framing, eff)])
    mc_se = est.std(axis=0) / np.sqrt(est.shape[0])
    assert np.all(np.abs(est.mean(axis=0) - truth) <= 3.5 * mc_se), (est.mean(axis=0), truth)
    assert truth[2] > 0.2 and truth[3] < -0.05  # loss: larger aroused, the moderation is real


# --------------------------------------------------------------------------- power and type I
def _analytic_power(n, t, prob, avail, p0, rr, num, alpha=0.05):
    """Power of the marginal EMEE t test from the sandwich at the true parameters.

    Rows independent within a participant (no random intercept): per available decision
    point, with ``d1 = [1, 1 - p~]``, ``d0 = [1, -p~]``, ``M = -p0 (p d1 [1, 1] + (1 - p) d0
    [1, 0])`` and ``Omega = p e^{-2 beta} mu1 (1 - mu1) d1 d1' + (1 - p) mu0 (1 - mu0) d0 d0'``;
    ``Var(beta) = [M^-1 Omega M^-T]_22 / (N T availability)``, and the t statistic with
    N - 2 df is non-central t with non-centrality beta / SE (the idea of Cohn, Qian & Murphy
    2023, Stat Med, for EMEE sample sizes). Weights are 1 (numerator = probability).
    """
    beta = np.log(rr)
    mu1, mu0 = p0 * rr, p0
    d1, d0 = np.array([1, 1 - num]), np.array([1, -num])
    m = -p0 * (prob * np.outer(d1, [1, 1]) + (1 - prob) * np.outer(d0, [1, 0]))
    om = prob * np.exp(-2 * beta) * mu1 * (1 - mu1) * np.outer(d1, d1) + (1 - prob) * mu0 * (
        1 - mu0
    ) * np.outer(d0, d0)
    mi = np.linalg.inv(m)
    se = np.sqrt((mi @ om @ mi.T)[1, 1] / (n * t * avail))
    df = n - 2
    crit = stats.t.ppf(1 - alpha / 2, df)
    return stats.nct.sf(crit, df, beta / se) + stats.nct.cdf(-crit, df, beta / se), se


def test_marginal_binary_power_agrees_with_the_sandwich_at_the_truth(tmp_path):
    # Constant probability 0.4 (numerator 0.4: weights 1), availability 0.8, 30 decision
    # points, baseline 0.2, relative risk 1.3, no random intercept: 1,000 trials per N.
    # Checked: (a) the power within 3 Monte Carlo SE of the analytic power (3,000 trials gave
    # N = 40 0.566 vs 0.569, N = 100 0.924 vs 0.929); (b) the SD of the estimates within 10% of
    # the analytic SE (the SD of an SD from 500 draws is 3.2%); (c) the mean estimate within
    # 3.5 MC SE of log 1.3 (b and c on the first 500 trials); (d) power increasing with N;
    # (e) every effect 0: type I error within
    # 3 MC SE of 0.05 (the Mancl-DeRouen correction, always applied as by emee(), makes the test
    # conservative below about 30 participants: 0.034 +- 0.004 at N = 20).
    protocol = load_protocol(marginal_protocol(tmp_path))
    doc = {
        "availability": {"share": 0.8},
        "analysis": {"moderators": [], "numerator_prob": 0.4},
        "outcomes": {"y": {"scale": "binary", "baseline": 0.2, "relative_risk": {"treat": 1.3}}},
    }
    eff = effects_from_dict(doc, protocol, "effects")
    ns, trials = [30, 60, 100], 1000
    result = simulate_power(protocol, eff, ns, trials, seed=3, null_trials=trials)
    (term,), (null,) = result.terms, result.type_one
    assert term.term.truth == pytest.approx(np.log(1.3))
    plan = SimPlan(protocol, eff, max(ns), seed=3)
    est = np.concatenate([run_chunk(plan, ns, s, 25).estimate[..., 0] for s in range(0, 500, 25)])
    for k, n in enumerate(ns):
        want, se = _analytic_power(n, 30, 0.4, 0.8, 0.2, 1.3, 0.4)
        assert abs(term.power[k] - want) <= 3 * term.mc_se[k], (n, term.power[k], want)
        sd = est[:, k].std()
        assert abs(sd / se - 1) <= 0.10, (n, sd, se)
        assert abs(est[:, k].mean() - np.log(1.3)) <= 3.5 * sd / np.sqrt(est.shape[0])
    assert term.power[0] < 0.6 and term.power[-1] > 0.85
    assert term.power == sorted(term.power) and term.failed == [0, 0, 0]
    mc_alpha = np.sqrt(0.05 * 0.95 / trials)
    assert np.all(np.abs(np.asarray(null.power) - 0.05) <= 3 * mc_alpha), null.power


# --------------------------------------------------------------------------- the effects file
def test_framing_effects_state_relative_risks(study):
    _, framing_effects = study
    calc = framing_effects.outcomes["calculator_used"]
    # 0.35 x 1.34 = 0.469: stored as the implied difference on the probability scale.
    assert calc.effects["loss"]["aroused"] == pytest.approx(0.35 * 0.34)
    assert framing_effects.analysis.small_sample == "auto"  # as the plan's H5


@pytest.mark.parametrize("n", [40, 60])
def test_the_plans_h5_is_what_the_simulation_tests(study, n):
    # protocols/framing_affect_plan.toml, H5: the loss framing's marginal log relative risk of
    # opening the calculator, EMEE with the plan's controls and small_sample = "auto". The
    # framing effects file with [outcomes.calculator_used.analysis] saying the same (help
    # seeking stays moderated) gives, per simulated trial, the estimate, SE and p-value the
    # report's own test of H5 (evaluate_hypothesis) gives on that trial's exported table:
    # correction at 40 participants, plain sandwich at 60.
    import tomllib

    from labmrt.analysis.hypotheses import evaluate_hypothesis
    from labmrt.analysis.spec import load_plan

    framing, _ = study
    plan_file = load_plan(ROOT / "protocols" / "framing_affect_plan.toml")
    h5 = plan_file.hypothesis("H5")
    doc = tomllib.loads(FRAMING_EFFECTS.read_text())
    doc["outcomes"]["calculator_used"]["analysis"] = {
        "contrasts": [h5.contrast],
        "moderators": [],
        "controls": plan_file.controls,
        "small_sample": plan_file.small_sample,
    }
    eff = effects_from_dict(doc, framing, "effects")
    terms = build_terms(framing, eff)
    assert [t.name for t in terms] == ["(Intercept)", "affect_statecalm"] * 2 + ["(Intercept)"]
    assert terms[-1].meaning == "marginal log relative risk" and terms[-1].truth > 0.1
    plan = SimPlan(framing, eff, n, seed=31)
    data = stack([simulate_trial(plan, j) for j in range(3)])
    est, se, pv = analyze(plan, data)
    assert est.shape == (3, 5)
    for j in range(3):
        res = evaluate_hypothesis(plan_file, h5, trial_frame(plan, data, j))
        assert not res.error and res.scale == "log relative risk"
        assert res.result.small_sample_applied == (n <= 50)
        np.testing.assert_allclose(est[j, 4], res.estimate, rtol=1e-8)
        np.testing.assert_allclose(se[j, 4], res.std_error, rtol=1e-8)
        np.testing.assert_allclose(pv[j, 4], res.p_value, rtol=1e-6)
    np.testing.assert_allclose(analyze_single(plan, data, 0), np.stack([est[0], se[0], pv[0]]),
                               rtol=1e-8)  # fmt: skip
