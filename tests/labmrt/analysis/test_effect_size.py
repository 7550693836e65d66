"""The standardized proximal effect size: exact math, the smoother, a known truth, the CLI.

Known truth: ``Y = 1 + 0.8 z + A tau(t) + N(0, 1.2^2)`` with the treatment
probability depending on ``z``. Within each arm the inverse-probability
weights restore the population's ``z``, so the outcome's standard deviation
in an arm is ``sqrt(0.8^2 + 1.2^2)`` and the standardized effect is
``d(t) = tau(t) / sqrt(0.8^2 + 1.2^2)`` (Luers et al. 2019's estimand).
"""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest
import statsmodels.api as sm

from labmrt.analysis.effect_size import effect_size, smoother_matrix
from labmrt.cli import main

GAMMA, SIGMA = 0.8, 1.2


def simulate(seed: int, n: int = 200, t: int = 20) -> tuple[pd.DataFrame, np.ndarray]:
    rng = np.random.default_rng(seed)
    rows = n * t
    dp = np.tile(np.arange(1, t + 1), n)
    z = rng.normal(size=rows)
    avail = rng.random(rows) < 0.8
    p = np.where(z > 0, 0.6, 0.4)
    a = ((rng.random(rows) < p) & avail).astype(int)
    tau = 0.1 + 0.02 * np.arange(1, t + 1)
    y = 1 + GAMMA * z + a * tau[dp - 1] + rng.normal(scale=SIGMA, size=rows)
    frame = pd.DataFrame(
        {
            "pid": np.repeat(np.arange(n), t),
            "dp": dp,
            "z": z,
            "avail": avail.astype(int),
            "p": p,
            "a": a,
            "y": y,
        }
    )
    return frame, tau / np.hypot(GAMMA, SIGMA)


KW = dict(id="pid", outcome="y", treatment="a", availability="avail", decision_point="dp")


def test_without_covariates_or_smoothing_it_is_the_mean_difference_over_the_pooled_sd():
    frame, _ = simulate(1, n=60, t=8)
    res = effect_size(frame, rand_prob=0.5, smooth=False, bootstrap=0, **KW)
    on = frame[frame["avail"] == 1]
    means = on.groupby(["dp", "a"])["y"].mean().unstack()
    var = on.groupby(["dp", "a"])["y"].var(ddof=1).unstack()
    size = on.groupby(["dp", "a"]).size().unstack()
    pooled = np.sqrt(((size - 1) * var).sum(axis=1) / (size.sum(axis=1) - 2))
    tab = res.table.set_index("decision_point")
    assert np.allclose(tab["effect_raw"], means[1] - means[0], rtol=1e-12)
    assert np.allclose(tab["sd_raw"], pooled, rtol=1e-12)
    assert np.allclose(tab["estimate"], (means[1] - means[0]) / pooled, rtol=1e-12)
    assert (tab["n_treated"] == size[1]).all() and tab["ci_lower"].isna().all()


def test_covariate_adjusted_effect_is_the_weighted_least_squares_coefficient():
    frame, _ = simulate(2, n=80, t=6)
    res = effect_size(frame, rand_prob="p", covariates=["z"], smooth=False, bootstrap=0, **KW)
    groups = frame[frame["avail"] == 1].groupby("dp")
    for (t, rows), got in zip(groups, res.table["effect_raw"], strict=True):
        w = np.where(rows["a"] == 1, 1 / rows["p"], 1 / (1 - rows["p"]))
        fit = sm.WLS(rows["y"], sm.add_constant(rows[["a", "z"]]), weights=w).fit()
        assert got == pytest.approx(fit.params["a"], rel=1e-10), t


def test_local_linear_smoother_keeps_a_straight_line_and_averages_locally():
    x = np.arange(1.0, 31.0)
    mat = smoother_matrix(x, 0.25)
    line = 2.0 - 0.3 * x
    assert np.allclose(mat @ line, line, atol=1e-12)
    assert np.allclose(mat.sum(axis=1), 1.0)
    assert np.count_nonzero(np.abs(mat[15]) > 1e-12) <= int(0.25 * 30)  # local


def test_known_standardized_effect_is_recovered_with_bootstrap_coverage():
    hits, total, errors = 0, 0, []
    for seed in range(30):
        frame, truth = simulate(100 + seed)
        res = effect_size(
            frame, rand_prob="p", covariates=["z"], bootstrap=200, seed=seed, span=0.5, **KW
        )
        tab = res.table
        errors.append(tab["estimate"].to_numpy() - truth)
        hits += int(((tab["ci_lower"] <= truth) & (truth <= tab["ci_upper"])).sum())
        total += len(tab)
    errors = np.array(errors)
    # Unbiased at every decision point, within Monte Carlo error (30 studies).
    mc = errors.std(axis=0, ddof=1) / np.sqrt(len(errors))
    assert np.all(np.abs(errors.mean(axis=0)) < 4 * mc)
    assert 0.90 <= hits / total <= 0.99, hits / total


def test_seeded_bootstrap_is_reproducible(tmp_path, capsys):
    frame, _ = simulate(3, n=50, t=10)
    one = effect_size(frame, rand_prob="p", bootstrap=100, seed=4, span=0.5, **KW).table
    two = effect_size(frame, rand_prob="p", bootstrap=100, seed=4, span=0.5, **KW).table
    other = effect_size(frame, rand_prob="p", bootstrap=100, seed=5, span=0.5, **KW).table
    pd.testing.assert_frame_equal(one, two)
    assert not np.allclose(one["ci_lower"], other["ci_lower"])


def test_cli_json_and_plot(tmp_path, capsys):
    frame, truth = simulate(4, n=120, t=12)
    path, png = tmp_path / "d.csv", tmp_path / "d.png"
    frame.to_csv(path, index=False)
    args = [
        "analyze",
        str(path),
        "--effect-size",
        "--id",
        "pid",
        "--outcome",
        "y",
        "--treatment",
        "a",
        "--prob",
        "p",
        "--availability",
        "avail",
        "--decision-point",
        "dp",
        "--control",
        "z",
        "--bootstrap",
        "200",
        "--seed",
        "9",
        "--span",
        "0.5",
        "--plot",
        str(png),
        "--json",
    ]
    assert main(args) == 0
    out = json.loads(capsys.readouterr().out)
    assert out["method"] == "effect_size" and out["n_decision_points"] == 12
    assert out["bootstrap"] == 200 and out["seed"] == 9 and out["covariates"] == ["z"]
    rows = out["decision_points"]
    assert [r["decision_point"] for r in rows] == list(range(1, 13))
    assert all(r["ci_lower"] <= r["estimate"] <= r["ci_upper"] for r in rows)
    assert png.read_bytes()[:4] == b"\x89PNG"
    assert main(args[:-1]) == 0
    assert "Standardized proximal effect size" in capsys.readouterr().out
