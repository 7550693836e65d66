"""dcee and mcee on data unlike the reference's: against the textbook loops, invariances, truth.

The reference file pins the package's example data; here the fast
estimators meet :mod:`labmrt.analysis.distal_loops` (the formulas row by row,
statsmodels for stage 1) on simulated studies with unequal numbers of
decision points, weights, a categorical control, a binary distal outcome and
unavailable rows with missing probabilities; then invariances that follow
from the estimating equations; then simulations with a known distal effect
and known natural direct / indirect effects (coverage of the 95% intervals
within Monte Carlo error).
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from labmrt.analysis.distal import dcee
from labmrt.analysis.distal_loops import dcee_loop, mcee_loop
from labmrt.analysis.mediation import mcee


def study(seed: int, n: int = 40, binary_y: bool = False) -> pd.DataFrame:
    """Participants with 6 to 14 decision points, a mediator and a distal outcome."""
    rng = np.random.default_rng(seed)
    sizes = rng.integers(6, 15, size=n)
    pid = np.repeat(np.arange(1, n + 1), sizes)
    dp = np.concatenate([np.arange(1, k + 1) for k in sizes])
    rows = pid.size
    x = rng.normal(size=rows)
    avail = (rng.random(rows) < 0.8).astype(int)
    prob = np.clip(0.5 + 0.15 * np.tanh(x), 0.2, 0.8)
    a = ((rng.random(rows) < prob) & (avail == 1)).astype(int)
    m = 0.6 * a + 0.3 * x + rng.normal(size=rows)
    contrib = pd.Series(0.5 * a + 0.4 * m + 0.2 * x).groupby(pid).transform("sum").to_numpy()
    y = contrib + np.repeat(rng.normal(size=n), sizes)
    if binary_y:
        y = (y > np.median(y)).astype(float)
    frame = pd.DataFrame(
        {"pid": pid, "dp": dp, "x": x, "m": m, "avail": avail, "a": a, "p": prob, "y": y}
    )
    frame["site"] = np.where(pid % 3 == 0, "north", np.where(pid % 3 == 1, "south", "east"))
    frame["w"] = rng.uniform(0.2, 2.0, size=rows)
    frame.loc[frame["avail"] == 0, "p"] = np.nan  # not needed where unavailable
    return frame


# The study's columns as dcee / mcee arguments (moderator x, mediator m).
DCEE_KW = dict(
    id="pid",
    outcome="y",
    treatment="a",
    rand_prob="p",
    moderators=["x"],
    controls=["x"],
    availability="avail",
    learner="lm",
)
MCEE_KW = dict(
    id="pid",
    decision_point="dp",
    outcome="y",
    treatment="a",
    mediator="m",
    rand_prob="p",
    controls=["dp", "m", "x"],
    availability="avail",
)


def _controls(frame: pd.DataFrame, names: list[str]) -> np.ndarray:
    dummies = pd.get_dummies(frame[names], drop_first=True, dtype=float)
    return np.column_stack([np.ones(len(frame)), dummies.to_numpy(dtype=float)])


def _loop_inputs(frame: pd.DataFrame):
    prob = frame["p"].fillna(0.5).to_numpy()
    return frame["pid"].to_numpy(), frame["y"].to_numpy(), frame["a"].to_numpy(), prob


@pytest.mark.parametrize("weighted", [False, True])
def test_dcee_equals_the_textbook_loop(weighted):
    frame = study(1)
    ids, y, a, prob = _loop_inputs(frame)
    s = np.column_stack([np.ones(len(frame)), frame["x"], frame["dp"]])
    controls = ["x", "site", "dp"]
    # pandas orders the dummies as R does for this column: east is the reference level.
    want_b, want_v = dcee_loop(
        ids,
        y,
        a,
        prob,
        frame["avail"].to_numpy(),
        s,
        _controls(frame, controls),
        frame["w"].to_numpy() if weighted else None,
    )
    got = dcee(
        frame,
        **{**DCEE_KW, "moderators": ["x", "dp"], "controls": controls},
        weights="w" if weighted else None,
        decision_point="dp",
    )
    assert np.allclose(got.params, want_b, rtol=1e-10, atol=1e-12)
    assert np.allclose(got.cov_used, want_v, rtol=1e-9, atol=1e-14)
    assert got.df == 40 - 3
    assert list(got.stage1["A0"]["coefficients"]) == [
        "(Intercept)",
        "x",
        "sitenorth",
        "sitesouth",
        "dp",
    ]


@pytest.mark.parametrize("binary_y", [False, True])
def test_mcee_equals_the_textbook_loop(binary_y):
    frame = study(2, binary_y=binary_y)
    ids, y, a, prob = _loop_inputs(frame)
    f = np.column_stack([np.ones(len(frame)), frame["dp"]])
    x_with, x_without = _controls(frame, ["dp", "m", "x"]), _controls(frame, ["dp", "x"])
    want, want_v = mcee_loop(
        ids, y, a, prob, frame["avail"].to_numpy(), f, x_with, x_without, frame["w"].to_numpy()
    )
    got = mcee(frame, effect_form=["dp"], weights="w", **MCEE_KW)
    assert np.allclose(got.params, want, rtol=1e-8, atol=1e-10)
    assert np.allclose(got.cov_used, want_v, rtol=1e-7, atol=1e-12)
    family = "binomial" if binary_y else "gaussian"
    assert got.stage1["mu1"]["family"] == family and got.stage1["nu1"]["family"] == "gaussian"


def test_invariances_of_the_estimating_equations():
    frame = study(3)
    kw = DCEE_KW
    base = dcee(frame, **kw)
    # Whole participants in another order: the same sums.
    blocks = [g for _, g in frame.groupby("pid", sort=False)][::-1]
    assert np.allclose(dcee(pd.concat(blocks), **kw).cov_used, base.cov_used, rtol=1e-12)
    # A constant weight cancels; weighting one participant more does not.
    assert np.allclose(dcee(frame.assign(c=3.0), weights="c", **kw).params, base.params)
    heavy = frame.assign(c=np.where(frame["pid"] == 1, 5.0, 1.0))
    assert not np.allclose(dcee(heavy, weights="c", **kw).params, base.params)
    # Dropping the unavailable rows changes the estimand (they dilute it), as in R.
    assert not np.allclose(dcee(frame[frame["avail"] == 1], **kw).params, base.params)
    # set_to_zero: the pseudo-residual is the signed inverse-probability-weighted outcome.
    zero = dcee(frame, **{**kw, "learner": "set_to_zero"})
    on = frame["avail"].to_numpy() == 1
    a, p = frame["a"].to_numpy(), frame["p"].fillna(0.5).to_numpy()
    r = np.where(on, np.where(a == 1, 1 / p, -1 / (1 - p)) * frame["y"].to_numpy(), 0.0)
    s = np.column_stack([np.ones(len(frame)), frame["x"]])
    assert np.allclose(zero.params, np.linalg.solve(s.T @ s, s.T @ r), rtol=1e-12)
    assert zero.stage1 == {}
    # mcee: scaling every weight by a constant changes nothing; unit weights are the default.
    mk = MCEE_KW
    one = mcee(frame.assign(c=1.0), weights="c", **mk)
    assert np.allclose(mcee(frame.assign(c=7.0), weights="c", **mk).cov_used, one.cov_used)
    assert np.allclose(mcee(frame, **mk).params, one.params)


def _truth_study(rng, n, t, direct=0.5, theta=0.4, gamma=0.6, avail_rate=0.8):
    rows = n * t
    pid = np.repeat(np.arange(n), t)
    avail = rng.random(rows) < avail_rate
    a = ((rng.random(rows) < 0.5) & avail).astype(float)
    x = rng.normal(size=rows)
    m = gamma * a + rng.normal(size=rows)
    y_i = np.bincount(pid, weights=direct * a + theta * m + 0.3 * x) + rng.normal(size=n)
    return pd.DataFrame(
        {
            "pid": pid,
            "dp": np.tile(np.arange(1, t + 1), n),
            "x": x,
            "m": m,
            "avail": avail.astype(int),
            "a": a.astype(int),
            "y": y_i[pid],
        }
    )


def _coverage_bounds(reps: int, level: float = 0.95) -> tuple[float, float]:
    se = np.sqrt(level * (1 - level) / reps)
    return level - 3.5 * se, level + 3.5 * se


def test_dcee_recovers_a_known_distal_effect():
    """Y = sum_t (0.5 A_t + 0.4 M_t) + ..., M_t = 0.6 A_t + e: the total effect 0.74 where
    available, 0.592 averaged over decision points (availability 0.8)."""
    rng = np.random.default_rng(7)
    reps, truth = 200, (0.5 + 0.4 * 0.6) * 0.8
    est, hit = [], 0
    for _ in range(reps):
        res = dcee(
            _truth_study(rng, 60, 10),
            id="pid",
            outcome="y",
            treatment="a",
            rand_prob=0.5,
            controls=["x"],
            availability="avail",
            learner="lm",
        )
        row = res.table.iloc[0]
        est.append(row.estimate)
        hit += row.ci_lower <= truth <= row.ci_upper
    est = np.array(est)
    assert abs(est.mean() - truth) < 3.5 * est.std(ddof=1) / np.sqrt(reps)
    lo, hi = _coverage_bounds(reps)
    assert lo <= hit / reps <= hi


def test_mcee_recovers_known_direct_and_indirect_effects():
    """Direct 0.5 and indirect 0.4 x 0.6 where available, both diluted by availability 0.8."""
    rng = np.random.default_rng(11)
    reps, truth = 200, np.array([0.5 * 0.8, 0.4 * 0.6 * 0.8])
    est, hits = [], np.zeros(2)
    for _ in range(reps):
        res = mcee(
            _truth_study(rng, 80, 8),
            id="pid",
            decision_point="dp",
            outcome="y",
            treatment="a",
            mediator="m",
            rand_prob=0.5,
            controls=["m", "x"],
            availability="avail",
        )
        tab = res.table
        est.append(tab.estimate.to_numpy())
        hits += (tab.ci_lower.to_numpy() <= truth) & (truth <= tab.ci_upper.to_numpy())
    est = np.array(est)
    mc_se = est.std(axis=0, ddof=1) / np.sqrt(reps)
    assert np.all(np.abs(est.mean(axis=0) - truth) < 3.5 * mc_se), (est.mean(axis=0), truth)
    lo, hi = _coverage_bounds(reps)
    assert np.all((lo <= hits / reps) & (hits / reps <= hi)), hits / reps


def test_results_have_the_analysis_api_of_wcls():
    """params, bse, conf_int, vcov, lincomb and summary, consistent with the term table."""
    from labmrt import analysis

    frame = study(4)
    res = analysis.dcee(frame, **DCEE_KW)
    med = analysis.mcee(frame, **MCEE_KW)
    for r in (res, med):
        tab = r.table
        assert np.allclose(r.bse.to_numpy(), tab.std_error.to_numpy())
        assert np.allclose(r.conf_int().to_numpy(), tab[["ci_lower", "ci_upper"]].to_numpy())
        assert r.vcov.shape == (r.p, r.p) and list(r.vcov.index) == list(tab.index)
        w = np.ones(r.p)
        lc = r.lincomb(w).iloc[0]
        assert lc.estimate == pytest.approx(r.params.sum())
        assert lc.std_error == pytest.approx(np.sqrt(r.cov_used.sum()))
    assert "Distal causal excursion effect" in res.summary()
    assert "Natural indirect excursion effect" in med.summary()
    assert list(med.table.index) == ["ndee:(Intercept)", "niee:(Intercept)"]
