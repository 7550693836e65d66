"""Sample size and power (Liao et al., 2016) against closed forms and the reference's outputs."""

from __future__ import annotations

import json

import numpy as np
import pytest
from scipy import stats

from labmrt.analysis import power as mrtpower
from labmrt.analysis.power import StudyDesign, Trajectory
from labmrt.cli import main
from labmrt.errors import LabmrtError

# The MRTSampleSize package's own example (help pages of calculateSampleSize and
# calculatePower): 42 days x 5, prob 0.4, quadratic effect (mean 0.1, initial 0,
# maximum on day 28), quadratic availability (mean 0.5, initial 0.7, turning on
# day 42), alpha 0.05. Recorded package outputs: N = 46 for power 0.8 and power
# 0.731556859751723 for N = 40.
HEARTSTEPS = StudyDesign(
    days=42,
    per_day=5,
    prob=0.4,
    availability=Trajectory("quadratic", 0.5, 0.7, 42),
    effect=Trajectory("quadratic", 0.1, 0.0, 28),
)
HEARTSTEPS_ARGS = [
    "power",
    "--days", "42", "--per-day", "5", "--prob", "0.4",
    "--availability-shape", "quadratic", "--availability-mean", "0.5",
    "--availability-initial", "0.7", "--availability-max-day", "42",
    "--effect-shape", "quadratic", "--effect-mean", "0.1",
    "--effect-initial", "0", "--effect-max-day", "28",
]  # fmt: skip


def test_reference_example_sample_size_and_power():
    assert mrtpower.sample_size(HEARTSTEPS, 0.8, 0.05).n == 46
    # Tolerance 1e-8: both sides evaluate the same non-central F tail; R's pnbeta and
    # scipy's ncf differ in the last ~1e-10 of the series sum.
    assert mrtpower.power(HEARTSTEPS, 40).power == pytest.approx(0.731556859751723, abs=1e-8)


def test_constant_effect_matches_closed_form_via_noncentral_t():
    # Constant effect b, availability tau, probability r over T points: Z = 1, so
    # Sigma^{-1} = T tau r (1 - r) and c_N = N T tau r (1 - r) b^2 (unit variance).
    # With one effect parameter, F(1, v; c) is the square of a non-central t with v df
    # and non-centrality sqrt(c): power = P(|t| > t_{1 - alpha/2, v}). This uses scipy's
    # nct, not the ncf code path of the module.
    days, k, r, tau, b, q, n = 10, 6, 0.3, 0.85, 0.12, 3, 25
    design = StudyDesign(days, k, r, Trajectory("constant", tau), Trajectory("constant", b))
    res = mrtpower.power(design, n, alpha=0.05, null_params=q)
    v = n - q - 1
    delta = np.sqrt(n * days * k * tau * r * (1 - r) * b * b)
    tcrit = stats.t.isf(0.025, v)
    expected = stats.nct.sf(tcrit, v, delta) + stats.nct.cdf(-tcrit, v, delta)
    assert res.df1 == 1 and res.df2 == v
    assert res.noncentrality == pytest.approx(delta**2, rel=1e-12)
    assert res.power == pytest.approx(expected, abs=1e-9)  # two quadratures of one integral


def _ncf_sf_series(x: float, d1: int, d2: int, nc: float, terms: int = 400) -> float:
    """Non-central F tail as the Poisson mixture of central beta tails (independent check)."""
    u = d1 * x / (d1 * x + d2)
    j = np.arange(terms)
    weights = stats.poisson.pmf(j, nc / 2)
    return float(np.sum(weights * stats.beta.sf(u, d1 / 2 + j, d2 / 2)))


def test_quadratic_power_matches_poisson_mixture_series():
    res = mrtpower.power(HEARTSTEPS, 33, alpha=0.05)
    assert res.df1 == 3 and res.df2 == 33 - 6
    series = _ncf_sf_series(res.critical_value, 3, res.df2, res.noncentrality)
    assert res.power == pytest.approx(series, abs=1e-10)


def test_sample_size_is_the_smallest_n_reaching_the_power():
    design = StudyDesign(6, 20, 0.5, Trajectory("linear", 0.9, 0.95), Trajectory("constant", 0.1))
    res = mrtpower.sample_size(design, 0.9, 0.05)
    assert res.power >= 0.9
    assert mrtpower.power(design, res.n - 1).power < 0.9
    curve = mrtpower.power_curve(design, np.arange(5, 200))
    assert np.all(np.diff(curve) > 0)


def test_no_floor_or_ceiling_on_the_number_found():
    big = StudyDesign(2, 5, 0.5, Trajectory("constant", 1.0), Trajectory("constant", 5.0))
    res = mrtpower.sample_size(big, 0.8)
    assert res.n == 1 + 3 + 1  # the smallest N with a defined F test (df2 = 1)
    tiny = StudyDesign(5, 5, 0.5, Trajectory("constant", 1.0), Trajectory("constant", 0.005))
    n_tiny = mrtpower.sample_size(tiny, 0.8).n
    assert n_tiny > 1000  # the reference would stop at 1000
    # c_N grows linearly in N, so for a large N the answer tracks 1 / effect^2.
    tiny2 = StudyDesign(5, 5, 0.5, Trajectory("constant", 1.0), Trajectory("constant", 0.01))
    assert n_tiny / mrtpower.sample_size(tiny2, 0.8).n == pytest.approx(4.0, rel=0.01)


def test_trajectories_follow_the_reference_parametrization():
    lin = Trajectory("linear", 0.1, 0.2).per_day(5)
    np.testing.assert_allclose(lin, [0.2, 0.15, 0.1, 0.05, 0.0], atol=1e-15)
    # Quadratic over 3 days, initial 0, mean 1, turning on day 2: 0, 3, 0 (worked by hand).
    quad = Trajectory("quadratic", 1.0, 0.0, 2).per_day(3)
    np.testing.assert_allclose(quad, [0.0, 3.0, 0.0], atol=1e-12)
    q42 = HEARTSTEPS.effect.per_day(42)
    assert q42[0] == 0.0 and q42.mean() == pytest.approx(0.1, abs=1e-14)
    assert int(np.argmax(q42)) == 27  # day 28
    av = HEARTSTEPS.availability.per_day(42)
    assert av[0] == pytest.approx(0.7) and av.mean() == pytest.approx(0.5, abs=1e-14)


def test_vectors_and_files_match_the_scalar_forms(tmp_path):
    base = StudyDesign(4, 10, 0.4, Trajectory("constant", 0.8), Trajectory("linear", 0.1, 0.05))
    probs = tmp_path / "probs.txt"
    probs.write_text("# one per decision point\n" + "0.4\n" * 40)
    as_vectors = StudyDesign(
        4,
        10,
        mrtpower.read_probabilities(probs),
        [0.8] * 4,
        base.effect.per_day(4),
        effect_degree=2,
    )
    assert mrtpower.power(as_vectors, 30).power == pytest.approx(
        mrtpower.power(base, 30).power, rel=1e-12
    )


def test_cli_reproduces_reference_and_json(capsys, tmp_path):
    plot = tmp_path / "curve.png"
    assert main([*HEARTSTEPS_ARGS, "--json", "--plot", str(plot)]) == 0
    out = json.loads(capsys.readouterr().out)
    assert out["n"] == 46 and out["power"] >= 0.8 and out["null_params"] == 3
    assert plot.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert main([*HEARTSTEPS_ARGS, "--n", "40", "--json"]) == 0
    out = json.loads(capsys.readouterr().out)
    assert out["n"] == 40 and out["power"] == pytest.approx(0.731556859751723, abs=1e-8)


def test_cli_sessions_map_onto_days(capsys):
    common = ["--prob", "0.5", "--availability-mean", "0.9", "--effect-mean", "0.1", "--json"]
    assert main(["power", "--sessions", "3", "--per-session", "40", *common]) == 0
    by_session = json.loads(capsys.readouterr().out)
    assert main(["power", "--days", "3", "--per-day", "40", *common]) == 0
    by_day = json.loads(capsys.readouterr().out)
    # the result is the same; each records the options it was given
    assert by_session.pop("inputs")["sessions"] == 3 and by_day.pop("inputs")["days"] == 3
    assert by_day == by_session


def test_cli_prob_file_with_wrong_length(capsys, tmp_path):
    probs = tmp_path / "p.txt"
    probs.write_text("0.5\n" * 7)
    code = main(
        ["power", "--days", "3", "--per-day", "4", "--prob", str(probs)]
        + ["--availability-mean", "0.9", "--effect-mean", "0.1"]
    )
    assert code == 2
    assert "has 7 values" in capsys.readouterr().err


@pytest.mark.parametrize(
    ("extra", "message"),
    [
        (["--prob", "1.0"], "randomization probability: must lie strictly between 0 and 1"),
        (["--prob", "0"], "randomization probability: must lie strictly between 0 and 1"),
        (["--availability-mean", "0"], "availability mean: must lie in (0, 1]"),
        (["--availability-mean", "1.2"], "availability mean: must lie in (0, 1]"),
        (["--effect-mean", "-0.1"], "effect mean: must be a positive standardized effect"),
        (["--power", "1.0"], "power: must lie strictly between 0 and 1"),
        (["--alpha", "0"], "alpha: must lie strictly between 0 and 1"),
        (["--n", "4"], "give at least 5 participants"),
        (["--effect-shape", "linear"], "--effect-initial: is required for a linear effect"),
        (
            ["--effect-shape", "linear", "--effect-initial", "-0.2"],
            "effect initial value: must be 0 or more",
        ),
        (
            ["--availability-shape", "quadratic", "--availability-initial", "0.5"]
            + ["--availability-max-day", "3"],
            "availability: must lie in (0, 1] on every day; day 2",
        ),
        (["--sessions", "2", "--per-session", "3"], "not both"),
        (["--prob", "nofile.txt"], "nofile.txt: cannot read"),
    ],
)
def test_cli_bad_input_exits_2_with_a_clear_message(capsys, extra, message):
    base = {
        "--days": "5",
        "--per-day": "10",
        "--prob": "0.5",
        "--availability-mean": "0.9",
        "--effect-mean": "0.1",
    }
    args = ["power"]
    for flag, value in base.items():
        if flag not in extra:
            args += [flag, value]
    code = main(args + extra)
    captured = capsys.readouterr()
    assert code == 2
    assert message in captured.err
    assert "Traceback" not in captured.err


def test_quadratic_needs_enough_days_and_a_usable_turning_point():
    with pytest.raises(LabmrtError, match="needs at least 3 days"):
        mrtpower.power(
            StudyDesign(
                2, 30, 0.5, Trajectory("constant", 1.0), Trajectory("quadratic", 0.1, 0, 2)
            ),
            20,
        )
    # Turning point at 1 + (2D - 1)/6: the mean does not depend on the curvature.
    with pytest.raises(LabmrtError, match="cannot pin it down"):
        Trajectory("quadratic", 0.1, 0.0, 1 + 11 / 6).per_day(6)


def test_power_matches_simulated_trials_analyzed_with_wcls():
    # Known truth: 25 participants x 12 days x 5 points, p = 0.5, availability 0.8, constant
    # standardized effect 0.15, two controls (q = 3 with the intercept); each simulated
    # trial is analyzed by the analyzer's WCLS (small-sample correction, t test with
    # N - q - p df) and the share of rejections compared with the calculated power (0.698).
    # 400 trials: Monte Carlo SE 0.023; the paper's F approximation adds ~0.02 (1,500 trials
    # gave 0.681 +- 0.012), so 0.1 allows both while a wrong non-centrality (x2 or /2 gives
    # 0.93 or 0.41) fails.
    import pandas as pd

    from labmrt.analysis.design import build_design
    from labmrt.analysis.wcls import fit_design

    n, days, k, rho, tau, beta = 25, 12, 5, 0.5, 0.8, 0.15
    design = StudyDesign(days, k, rho, Trajectory("constant", tau), Trajectory("constant", beta))
    expected = mrtpower.power(design, n).power
    rng = np.random.default_rng(20)
    rows = n * days * k
    pid = np.repeat(np.arange(n), days * k)
    rejections = []
    for _ in range(400):
        x1, x2 = rng.normal(size=rows), rng.normal(size=rows)
        avail = rng.random(rows) < tau
        a = ((rng.random(rows) < rho) & avail).astype(float)
        y = 0.5 + 0.3 * x1 - 0.2 * x2 + beta * a + rng.normal(size=rows)
        frame = pd.DataFrame(
            {"pid": pid, "x1": x1, "x2": x2, "av": avail.astype(int), "a": a, "y": y}
        )
        d = build_design(
            frame, id="pid", outcome="y", treatment="a", rand_prob=rho, controls=["x1", "x2"],
            availability="av", numerator_prob=rho,
        )  # fmt: skip
        fit = fit_design(d)
        t = fit.theta[-1] / np.sqrt(fit.cov[-1, -1])
        rejections.append(abs(t) > stats.t.isf(0.025, fit.df))
    assert np.mean(rejections) == pytest.approx(expected, abs=0.1)
