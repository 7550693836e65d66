"""Randomization re-draw check: exact agreement with single fits, calibration, control, CLI."""

from __future__ import annotations

import json
import threading

import numpy as np
import pandas as pd
import pytest

from labmrt.analysis import AnalysisOptions
from labmrt.analysis import robustness as rb
from labmrt.cli import main

FIT3 = AnalysisOptions(
    outcome="logstep_30min",
    id="userid",
    moderators=["is_at_home_or_work"],
    controls=["logstep_pre30min", "logstep_30min_lag1", "is_at_home_or_work"],
    availability="avail",
    treatment="intervention",
    prob=0.6,
)


@pytest.fixture
def mimic(shared_data) -> pd.DataFrame:
    return pd.read_csv(shared_data / "data_mimicHeartSteps.csv")


@pytest.fixture
def reference(shared_data) -> dict:
    return json.loads((shared_data / "mimic_heartsteps_reference.json").read_text())["fits"]


def simulate_three_arms(n_part=24, n_dp=40, effect=0.0, seed=3) -> pd.DataFrame:
    """Three framings with state-dependent probabilities; `loss` shifts the outcome by `effect`."""
    rng = np.random.default_rng(seed)
    n = n_part * n_dp
    aroused = rng.random(n) < 0.4
    probs = np.where(aroused[:, None], [0.2, 0.5, 0.3], [0.4, 0.3, 0.3])
    avail = rng.random(n) < 0.9
    u = rng.random(n)
    idx = (u[:, None] >= np.cumsum(probs, axis=1)[:, :2]).sum(axis=1)
    names = np.array(["neutral", "loss", "gain"])
    arm = np.where(avail, names[idx], None)
    prior = rng.normal(size=n)
    y = 0.4 * prior + 0.3 * aroused + effect * (arm == "loss") + rng.normal(size=n)
    return pd.DataFrame(
        {
            "participant": np.repeat([f"p{i:02d}" for i in range(n_part)], n_dp),
            "available": avail.astype(int),
            "arm": arm,
            "prob_neutral": probs[:, 0],
            "prob_loss": probs[:, 1],
            "prob_gain": probs[:, 2],
            "aroused": aroused.astype(int),
            "prior": prior,
            "y": y,
            "y_alt": y + rng.normal(size=n),
            "task_index": np.tile(np.arange(n_dp), n_part),
        }
    )


# Tolerance: the reference JSON stores 15+ significant digits of R's doubles; the fits differ
# only by summation order, so 1e-8 relative covers it with a wide margin.
def test_observed_fit_reproduces_mrtanalysis(mimic, reference):
    design = rb.design_from_table(mimic, FIT3)
    fit = rb.fit_batch(design, design.observed[None])
    ref = reference["vignette_fit3"]["treatment_effect"]
    for j, name in enumerate(["(Intercept)", "is_at_home_or_work"]):
        assert fit.estimate[0, j] == pytest.approx(ref[name]["estimate"], rel=1e-8)
        assert fit.se[0, j] == pytest.approx(ref[name]["se"], rel=1e-8)
        assert fit.p_value[0, j] == pytest.approx(ref[name]["p_value"], rel=1e-7)
    assert design.small_sample and design.df == 37 - 2 - 4


@pytest.mark.parametrize("small_sample", [True, False])
def test_batched_fits_equal_the_row_by_row_loop(mimic, small_sample):
    # The loop forms (I - H_ii)^{-1} r_i with explicit n_i x n_i matrices; the batch uses the
    # Woodbury form. Equal up to rounding (1e-10 absolute on estimates of order 0.1).
    design = rb.design_from_table(mimic, FIT3)
    design.small_sample = small_sample
    arms = rb.draw_arms(design, np.random.default_rng(11), 6)
    a, b = rb.fit_batch(design, arms), rb.fit_loop(design, arms)
    np.testing.assert_allclose(a.estimate, b.estimate, atol=1e-10)
    np.testing.assert_allclose(a.se, b.se, atol=1e-10)


def test_multi_arm_contrast_equals_the_binary_coding():
    frame = simulate_three_arms(effect=0.3)
    spec = AnalysisOptions(
        outcome="y",
        moderators=["aroused"],
        controls=["prior"],
        availability="available",
        contrast="loss-vs-neutral",
    )
    design = rb.design_from_table(frame, spec)
    fit = rb.fit_batch(design, design.observed[None])
    # The same contrast coded by hand: gain rows out (availability 0), A = loss,
    # P(loss | loss or neutral) as the probability.
    binary = frame.assign(
        a=(frame.arm == "loss").astype(int),
        p=frame.prob_loss / (frame.prob_loss + frame.prob_neutral),
        avail2=((frame.available == 1) & (frame.arm != "gain")).astype(int),
    )
    bspec = AnalysisOptions(
        outcome="y",
        moderators=["aroused"],
        controls=["prior"],
        availability="avail2",
        treatment="a",
        prob="p",
    )
    bdesign = rb.design_from_table(binary, bspec)
    bfit = rb.fit_batch(bdesign, bdesign.observed[None])
    np.testing.assert_allclose(fit.estimate, bfit.estimate, rtol=1e-12)
    np.testing.assert_allclose(fit.se, bfit.se, rtol=1e-10)
    arms = rb.draw_arms(design, np.random.default_rng(2), 4)
    np.testing.assert_allclose(
        rb.fit_batch(design, arms).se, rb.fit_loop(design, arms).se, atol=1e-10
    )


def test_redraws_follow_the_recorded_probabilities():
    frame = simulate_three_arms(n_part=30, n_dp=50)
    spec = AnalysisOptions(outcome="y", availability="available", contrast="loss-vs-rest")
    design = rb.design_from_table(frame, spec)
    arms = rb.draw_arms(design, np.random.default_rng(0), 400)
    avail = design.randomized
    assert np.array_equal(
        arms[:, ~avail], np.broadcast_to(design.observed[~avail], (400, int((~avail).sum())))
    )
    for state in (0, 1):
        rows = avail & (frame.aroused.to_numpy() == state)
        freq = np.array([(arms[:, rows] == j).mean() for j in range(3)])
        expected = design.probs[rows][0]
        # ~400 x 600 draws per state: binomial SD < 0.0015, so 0.006 is four SDs.
        np.testing.assert_allclose(freq, expected, atol=0.006)
    shuffled = rb.draw_arms(design, np.random.default_rng(0), 5, method="shuffle")
    for row in shuffled:
        assert np.array_equal(np.sort(row[avail]), np.sort(design.observed[avail]))


def test_real_effect_is_rare_under_redraws_and_seeded():
    frame = simulate_three_arms(n_part=30, n_dp=60, effect=0.5, seed=9)
    spec = AnalysisOptions(
        outcome="y",
        controls=["prior", "aroused"],
        availability="available",
        contrast="loss-vs-rest",
    )
    design = rb.design_from_table(frame, spec)
    res = rb.randomization_test(design, 1000, seed=4, alpha=0.05)
    term = res.terms[0]
    assert term.p_value < 1e-6 and term.randomization_p == pytest.approx(1 / 1001)
    # Re-drawn treatments are independent of the outcome: about alpha are significant.
    # 1000 draws: binomial SD 0.0069; 0.03 is over four SDs.
    assert abs(term.share_significant - 0.05) < 0.03
    assert abs(term.null_estimates.mean()) < 4 * term.null_estimates.std() / np.sqrt(1000)
    again = rb.randomization_test(design, 1000, seed=4, chunk=130)
    np.testing.assert_array_equal(again.terms[0].null_estimates, term.null_estimates)
    other = rb.randomization_test(design, 300, seed=5)
    assert not np.array_equal(other.terms[0].null_estimates, term.null_estimates[:300])


def test_cancel_by_event_and_by_callback():
    frame = simulate_three_arms()
    design = rb.design_from_table(
        frame, AnalysisOptions(outcome="y", availability="available", contrast="loss-vs-rest")
    )
    stop = threading.Event()
    seen = []

    def progress(done, total):
        seen.append(done)
        if done >= 100:
            stop.set()

    res = rb.randomization_test(design, 5000, seed=1, progress=progress, cancel=stop, chunk=100)
    assert res.cancelled and res.draws_done == 100 and res.terms[0].null_estimates.size == 100
    assert seen == [0, 100]
    res = rb.randomization_test(design, 5000, seed=1, progress=lambda d, t: d < 200, chunk=100)
    assert res.cancelled and res.draws_done == 200


def test_plot_marks_the_observed_estimate(tmp_path):
    frame = simulate_three_arms()
    design = rb.design_from_table(
        frame,
        AnalysisOptions(
            outcome="y", moderators=["aroused"], availability="available", contrast="loss-vs-rest"
        ),
    )
    res = rb.randomization_test(design, 200, seed=1)
    path = rb.plot_null_distributions(res, tmp_path / "null.png")
    assert path.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_comparison_table_over_outcomes_and_subsets():
    frame = simulate_three_arms(effect=0.4)
    spec = AnalysisOptions(
        outcome="y", controls=["prior"], availability="available", contrast="loss-vs-rest"
    )
    table = rb.compare_analyses(frame, spec, ["y_alt"], ["task_index < 20"])
    assert list(table.outcome) == ["y", "y_alt", "y", "y_alt"]
    assert list(table.subset) == ["(all rows)"] * 2 + ["task_index < 20"] * 2
    direct = rb.design_from_table(frame[frame.task_index < 20], spec)
    fit = rb.fit_batch(direct, direct.observed[None])
    assert table.estimate[2] == pytest.approx(fit.estimate[0, 0], rel=1e-12)
    assert table.rows[2] == int((frame.task_index < 20).sum())


def _cli_args(path):
    return [
        "robustness",
        str(path),
        "--outcome", "y",
        "--contrast", "loss:neutral",
        "--control", "prior",
        "--moderator", "aroused",
        "--availability", "available",
    ]  # fmt: skip


def test_cli_json_and_table(tmp_path, capsys):
    frame = simulate_three_arms(effect=0.4)
    path = tmp_path / "decision_points.csv"
    frame.to_csv(path, index=False)
    assert main([*_cli_args(tmp_path), "--draws", "300", "--seed", "2", "--json"]) == 0
    out = json.loads(capsys.readouterr().out)
    rand = out["randomization"]
    assert rand["draws"] == 300 and rand["seed"] == 2 and rand["method"] == "redraw"
    assert [t["term"] for t in rand["terms"]] == ["(Intercept)", "aroused"]
    plot = tmp_path / "n.png"
    code = main(
        [*_cli_args(path), "--draws", "100", "--shuffle", "--plot", str(plot)]
        + ["--outcome-alt", "y_alt", "--subset", "task_index >= 10"]
    )
    captured = capsys.readouterr()
    assert code == 0 and plot.is_file()
    assert "naive shuffle" in captured.out and "comparison" in captured.out
    assert "100/100" in captured.err  # the progress bar


@pytest.mark.parametrize(
    ("extra", "message"),
    [
        (["--subset", "no_such_column > 1"], "cannot select rows"),
        (["--subset", "task_index > 1000"], "selects no rows"),
        (["--outcome-alt", "nope"], "not in the data: outcome 'nope'"),
        (["--control", "missing_col"], "not in the data: control 'missing_col'"),
        (["--contrast", "shout:neutral"], "arm 'shout' has no prob_shout column"),
        (["--draws", "-1"], "--draws: must be 0 or more"),
        (["--numerator-prob", "1.5"], "numerator probability '1.5': must lie strictly between 0"),
    ],
)
def test_cli_bad_input_exits_2(tmp_path, capsys, extra, message):
    path = tmp_path / "dp.csv"
    simulate_three_arms(n_part=8, n_dp=10).to_csv(path, index=False)
    code = main([*_cli_args(path), "--draws", "10", "--seed", "1", "--no-progress", *extra])
    err = capsys.readouterr().err
    assert code == 2, err
    assert message in err and "Traceback" not in err


def test_cli_missing_data_file(capsys, tmp_path):
    assert main(_cli_args(tmp_path / "absent.csv")) == 2
    assert "no such file" in capsys.readouterr().err


@pytest.mark.parametrize(
    ("key", "moderators", "controls"),
    [
        ("emee_marginal", (), ("logstep_pre30min",)),
        ("emee_moderated", ("is_at_home_or_work",), ("logstep_pre30min", "is_at_home_or_work")),
    ],
)
def test_emee_reproduces_mrtanalysis_and_its_loop(shared_data, mimic, key, moderators, controls):
    ref = json.loads((shared_data / "emee_mimic_reference.json").read_text())["fits"][key]
    frame = mimic.assign(steps_above_1=(mimic.logstep_30min > 1).astype(int))
    spec = AnalysisOptions(
        outcome="steps_above_1", id="userid", moderators=list(moderators),
        controls=list(controls), availability="avail", treatment="intervention", prob=0.6,
        method="emee",
    )  # fmt: skip
    design = rb.design_from_table(frame, spec)
    fit = rb.fit_batch(design, design.observed[None])
    # The reference's root finder stops about 1e-6 relative from the root (data README).
    for j, term in enumerate(ref["treatment_effect"].values()):
        assert fit.estimate[0, j] == pytest.approx(term["estimate"], rel=1e-6, abs=1e-9)
        assert fit.se[0, j] == pytest.approx(term["se"], rel=1e-6)
        assert design.df == term["df"]
    # Batched Newton + Woodbury vs scipy's root finder + explicit n_i x n_i hat matrices.
    arms = rb.draw_arms(design, np.random.default_rng(8), 3)
    a, b = rb.fit_batch(design, arms), rb.fit_loop(design, arms)
    np.testing.assert_allclose(a.estimate, b.estimate, atol=1e-9)
    np.testing.assert_allclose(a.se, b.se, atol=1e-10)


def test_draws_without_a_fit_are_left_out_not_fatal():
    # 4 participants x 6 points, a binary moderator with few rows: some re-draws leave a
    # moderator level without a treated (or untreated) row, so that draw has no fit.
    frame = simulate_three_arms(n_part=6, n_dp=6, seed=2)
    spec = AnalysisOptions(
        outcome="y", moderators=["aroused"], availability="available",
        contrast="loss-vs-neutral",
    )  # fmt: skip
    design = rb.design_from_table(frame, spec)
    arms = rb.draw_arms(design, np.random.default_rng(0), 400)
    fit = rb.fit_batch(design, arms)
    finite = np.isfinite(fit.estimate).all(axis=1) & np.isfinite(fit.se).all(axis=1)
    assert finite.any() and not finite.all()
    # A draw without a fit is one whose weighted design has no treated (or no untreated)
    # row in a moderator level, or a participant holding all the information of a term.
    res = rb.randomization_test(design, 400, seed=0)
    term = res.terms[0]
    assert term.failed_draws > 0
    assert term.null_estimates.size == 400 - term.failed_draws
    assert np.isfinite(term.null_estimates).all()
    assert np.isfinite(term.randomization_p) and 0 < term.randomization_p <= 1


def test_multiple_treated_arms_equal_the_binary_coding():
    frame = simulate_three_arms(effect=0.3)
    spec = AnalysisOptions(
        outcome="y", controls=["prior"], availability="available",
        contrast="gain+loss-vs-neutral",
    )  # fmt: skip
    design = rb.design_from_table(frame, spec)
    fit = rb.fit_batch(design, design.observed[None])
    binary = frame.assign(
        a=frame.arm.isin(["gain", "loss"]).astype(int),
        p=(frame.prob_gain + frame.prob_loss)
        / (frame.prob_gain + frame.prob_loss + frame.prob_neutral),
    )
    bspec = AnalysisOptions(
        outcome="y", controls=["prior"], availability="available", treatment="a", prob="p"
    )
    bfit = rb.fit_batch(*(lambda d: (d, d.observed[None]))(rb.design_from_table(binary, bspec)))
    np.testing.assert_allclose(fit.estimate, bfit.estimate, rtol=1e-12)
    np.testing.assert_allclose(fit.se, bfit.se, rtol=1e-10)


def test_cli_reads_an_analysis_plan(tmp_path, capsys):
    frame = simulate_three_arms(effect=0.4)
    frame.to_csv(tmp_path / "dp.csv", index=False)
    plan = tmp_path / "plan.toml"
    plan.write_text(
        'data = "dp.csv"\noutcome = "y"\ncontrast = "loss:neutral"\n'
        'controls = ["prior"]\navailability = "available"\n'
    )
    assert main(["robustness", "--plan", str(plan), "--draws", "50", "--seed", "3", "--json"]) == 0
    out = json.loads(capsys.readouterr().out)
    direct = rb.randomization_test(
        rb.design_from_table(
            frame,
            AnalysisOptions(
                outcome="y", controls=["prior"], availability="available",
                contrast="loss-vs-neutral",
            ),
        ),
        50,
        seed=3,
    )  # fmt: skip
    got = out["randomization"]["terms"][0]
    assert got["estimate"] == pytest.approx(direct.terms[0].estimate, rel=1e-12)
    assert got["randomization_p"] == direct.terms[0].randomization_p
