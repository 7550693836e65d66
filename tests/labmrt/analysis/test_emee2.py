"""emee2 by exact math and simulation, and where it must agree with emee.

There are no R numbers for emee2 in the reference data, so it is checked by
what must hold: the root solves the estimating equation; the corrected
covariance equals MRTAnalysis's formulas written out with dense T x T hat
blocks per participant (unavailable rows unmasked, as there); the
numerator probability changes nothing; with every decision point available,
no moderators and emee's numerator probability equal to the randomization
probability, emee2 and emee solve equivalent equations (emee2's residual is
emee's times exp(p beta), its intercept shifted by p beta), so the effect
estimate and its plain sandwich variance are the same; and a simulated
study with a known log relative risk is recovered with 95% coverage.
"""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest

from labmrt.analysis import emee
from labmrt.analysis.emee2 import emee2
from labmrt.cli import main


@pytest.fixture
def mimic(shared_data) -> pd.DataFrame:
    frame = pd.read_csv(shared_data / "data_mimicHeartSteps.csv")
    return frame.assign(steps_above_1=(frame["logstep_30min"] > 1).astype(int))


KW = dict(id="userid", outcome="steps_above_1", treatment="intervention", rand_prob=0.6)


def test_marginal_emee2_equals_emee_when_they_solve_the_same_equation(mimic):
    two = emee2(mimic, controls=["logstep_pre30min"], **KW)
    one = emee(mimic, controls=["logstep_pre30min"], numerator_prob=0.6, **KW)
    beta2, beta1 = two.params[-1], one.params[-1]
    assert beta2 == pytest.approx(beta1, rel=1e-10)
    assert two.params[0] == pytest.approx(one.params[0] + 0.6 * beta1, rel=1e-10)
    assert two.params[1] == pytest.approx(one.params[1], rel=1e-10)
    plain2, plain1 = two.cov_uncorrected.to_numpy(), one.cov_uncorrected.to_numpy()
    assert plain2[-1, -1] == pytest.approx(plain1[-1, -1], rel=1e-9)
    # The corrected variances differ: the per-participant hat blocks see exp(p beta)'s
    # derivative; close, not equal.
    se2, se1 = two.table.std_error.iloc[0], one.table.std_error.iloc[0]
    assert se2 != se1 and se2 == pytest.approx(se1, rel=1e-2)
    assert two.df == 37 - 1 - 2 and two.small_sample_applied


def _design_rows(frame, z_cols, x_cols, prob):
    n_rows = len(frame)
    z = np.column_stack([np.ones(n_rows), frame[z_cols].to_numpy(float)])
    x = np.column_stack([np.ones(n_rows), frame[x_cols].to_numpy(float)])
    y = frame["steps_above_1"].to_numpy(float)
    return z, x, y, frame["intervention"].to_numpy(float) - prob


def test_corrected_covariance_is_mrtanalysis_formula_with_dense_hat_blocks(mimic):
    """MRTAnalysis emee2's variance written out: per participant (I - H_ii)^{-1} r_i."""
    sub = mimic[mimic["userid"] <= 12].reset_index(drop=True)
    res = emee2(
        sub,
        controls=["logstep_pre30min"],
        moderators=["is_at_home_or_work"],
        availability="avail",
        **KW,
    )
    avail = sub["avail"].to_numpy(float)
    z, x, y, c = _design_rows(
        sub, ["logstep_pre30min", "is_at_home_or_work"], ["is_at_home_or_work"], 0.6
    )
    q = z.shape[1]
    alpha, beta = res.params[:q], res.params[q:]
    d = np.hstack([z, c[:, None] * x])
    r = np.exp(-c * (x @ beta)) * y - np.exp(z @ alpha)
    dr = np.hstack(
        [-np.exp(z @ alpha)[:, None] * z, -(np.exp(-c * (x @ beta)) * y * c)[:, None] * x]
    )
    assert np.max(np.abs((d * avail[:, None]).T @ r)) < 1e-10  # the root
    n = sub["userid"].nunique()
    mn = sum(avail[t] * np.outer(d[t], dr[t]) for t in range(len(sub))) / n
    mn_inv = np.linalg.inv(mn)
    sig = np.zeros((d.shape[1],) * 2)
    for _, rows in sub.groupby("userid").indices.items():
        di, ri, pi, ii = d[rows], r[rows], dr[rows], np.diag(avail[rows])
        h = pi @ mn_inv @ di.T / n
        rt = np.linalg.solve(np.eye(len(rows)) - h, ri)
        u = di.T @ ii @ rt
        sig += np.outer(u, u)
    want = mn_inv @ (sig / n) @ mn_inv.T / n
    assert np.allclose(res.cov.to_numpy(), want, rtol=1e-9, atol=1e-15)
    # The unavailable rows' outcomes move the corrected SE but not the estimate (as in R).
    flipped = sub.copy()
    off = flipped["avail"] == 0
    flipped.loc[off, "steps_above_1"] = 1 - flipped.loc[off, "steps_above_1"]
    other = emee2(
        flipped,
        controls=["logstep_pre30min"],
        moderators=["is_at_home_or_work"],
        availability="avail",
        **KW,
    )
    assert np.allclose(other.params, res.params, rtol=1e-10)
    assert not np.allclose(other.cov.to_numpy(), res.cov.to_numpy(), rtol=1e-6)


def test_numerator_probability_changes_nothing(mimic):
    kw = dict(controls=["logstep_pre30min"], availability="avail", **KW)
    a, b = emee2(mimic, **kw), emee2(mimic, numerator_prob=0.3, **kw)
    assert np.array_equal(a.params, b.params) and np.array_equal(a.cov_used, b.cov_used)
    assert any("not used" in note for note in b.notes)


def test_known_log_relative_risk_is_recovered():
    """P(Y = 1 | x, A) = exp(log 0.3 + 0.2 x + (A - p) 0.4): the log relative risk is 0.4."""
    rng = np.random.default_rng(5)
    reps, n, t, truth = 150, 40, 20, 0.4
    est, hit = [], 0
    for _ in range(reps):
        rows = n * t
        x = rng.normal(size=rows)
        avail = rng.random(rows) < 0.8
        a = ((rng.random(rows) < 0.5) & avail).astype(int)
        risk = np.exp(np.log(0.3) + 0.2 * x + (a - 0.5) * truth)
        frame = pd.DataFrame(
            {
                "pid": np.repeat(np.arange(n), t),
                "x": x,
                "a": a,
                "avail": avail.astype(int),
                "y": (rng.random(rows) < risk).astype(int),
            }
        )
        row = emee2(
            frame,
            id="pid",
            outcome="y",
            treatment="a",
            rand_prob=0.5,
            controls=["x"],
            availability="avail",
        ).table.iloc[0]
        est.append(row.estimate)
        hit += row.ci_lower <= truth <= row.ci_upper
    est = np.array(est)
    assert abs(est.mean() - truth) < 3.5 * est.std(ddof=1) / np.sqrt(reps)
    se = np.sqrt(0.95 * 0.05 / reps)
    assert 0.95 - 3.5 * se <= hit / reps <= 0.95 + 3.5 * se, hit / reps


def test_cli_json_contract(mimic, tmp_path, capsys):
    path = tmp_path / "m.csv"
    mimic.to_csv(path, index=False)
    args = [
        "analyze",
        str(path),
        "--binary",
        "--centered-residual",
        "--id",
        "userid",
        "--outcome",
        "steps_above_1",
        "--treatment",
        "intervention",
        "--prob",
        "0.6",
        "--moderator",
        "is_at_home_or_work",
        "--control",
        "logstep_pre30min",
        "is_at_home_or_work",
        "--availability",
        "avail",
        "--numerator-prob",
        "0.5",
        "--lincomb=1,1",
        "--json",
    ]
    assert main(args) == 0
    out = json.loads(capsys.readouterr().out)
    assert out["method"] == "emee2" and out["scale"] == "log relative risk"
    assert [t["term"] for t in out["terms"]] == ["(Intercept)", "is_at_home_or_work"]
    assert out["df"] == 37 - 2 - 3 and out["n_participants"] == 37
    cov = np.array(out["covariance"]["used"])
    assert cov.shape == (5, 5) and len(out["covariance"]["names"]) == 5
    se = [t["std_error"] for t in out["terms"]]
    assert np.allclose(np.sqrt(np.diag(cov)[-2:]), se, rtol=1e-12)
    lc = out["lincomb"][0]
    est = sum(t["estimate"] for t in out["terms"])
    assert lc["estimate"] == pytest.approx(est, rel=1e-12)
    assert lc["std_error"] == pytest.approx(np.sqrt(cov[-2:, -2:].sum()), rel=1e-12)
    assert lc["statistic"] == pytest.approx(lc["estimate"] / lc["std_error"], rel=1e-12)
