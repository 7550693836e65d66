"""The one-pass WCLS design and solve against the textbook numpy computation.

``build_design`` writes the design once (unused rows zeroed in the copy) and
``fit_design`` works in blocks of rows; these tests pin that the result is the
plain weighted least squares fit with the participant-cluster sandwich, for
unsorted tables, unequal participants, values that are undefined at
unavailable rows, categorical terms and constant or per-row probabilities.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

import labmrt.analysis.sandwich as sw
from labmrt.analysis import wcls
from labmrt.analysis.design import build_design
from labmrt.analysis.wcls import fit_design
from labmrt.errors import LabmrtError


def table(seed: int = 0, n: int = 60, uneven: bool = True) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    sizes = rng.integers(5, 40, n) if uneven else np.full(n, 20)
    rows = int(sizes.sum())
    pid = np.repeat(np.arange(100, 100 + n), sizes)
    dp = np.concatenate([np.arange(1, s + 1) for s in sizes])
    avail = rng.random(rows) < 0.75
    state = rng.choice(["calm", "aroused", "tired"], rows)
    prob = np.where(state == "aroused", 0.6, 0.3)
    a = ((rng.random(rows) < prob) & avail).astype(int)
    m = rng.standard_normal(rows)
    c = rng.standard_normal(rows)
    y = np.repeat(rng.standard_normal(n), sizes) + 0.4 * c + a * (0.3 + 0.2 * m)
    y = y + rng.standard_normal(rows)
    return pd.DataFrame(
        {
            "participant": pid,
            "decision_point": dp,
            "available": avail.astype(int),
            "A": a,
            "p": prob,
            "y": y,
            "m": m,
            "c": c,
            "state": state,
        }
    )


KW = dict(
    id="participant",
    outcome="y",
    treatment="A",
    moderators=["m", "state"],
    controls=["c"],
    availability="available",
    decision_point="decision_point",
)


def plain_wcls(frame: pd.DataFrame, prob, numerator: float = 0.5):
    """Textbook WCLS on the available rows: hstack design, one solve, bincount sandwich."""
    f = frame[frame["available"] == 1].sort_values(["participant", "decision_point"])
    ones = np.ones((len(f), 1))
    dummies = pd.get_dummies(f["state"]).drop(columns="aroused").to_numpy(float)
    s = np.hstack([ones, f[["m"]].to_numpy(float), dummies])
    a = f["A"].to_numpy(float)
    x = np.hstack([ones, f[["c", "m"]].to_numpy(float), dummies, (a - numerator)[:, None] * s])
    p = f[prob].to_numpy(float) if isinstance(prob, str) else np.full(len(f), prob)
    w = np.where(a == 1, numerator / p, (1 - numerator) / (1 - p))
    bread = np.linalg.inv((x * w[:, None]).T @ x)
    theta = bread @ ((x * w[:, None]).T @ f["y"].to_numpy(float))
    u = x * (w * (f["y"].to_numpy(float) - x @ theta))[:, None]
    _, cluster = np.unique(f["participant"].to_numpy(), return_inverse=True)
    scores = np.column_stack([np.bincount(cluster, weights=u[:, j]) for j in range(x.shape[1])])
    return theta, bread @ scores.T @ scores @ bread


@pytest.mark.parametrize("prob", ["p", 0.4])
@pytest.mark.parametrize("uneven", [True, False])
def test_wcls_equals_the_textbook_fit(prob, uneven):
    frame = table(uneven=uneven)
    res = wcls(frame, rand_prob=prob, small_sample="never", **KW)
    theta, cov = plain_wcls(frame, prob)
    assert res.control_names == ["(Intercept)", "c", "m", "statecalm", "statetired"]
    np.testing.assert_allclose(res.params, theta, rtol=1e-11, atol=1e-13)
    np.testing.assert_allclose(res.cov_used, cov, rtol=1e-10, atol=1e-16)


def test_shuffled_table_with_undefined_values_at_unavailable_rows_fits_the_same():
    """Row order does not matter, and NaN, inf or an unseen level at an unavailable row is inert."""
    frame = table(seed=3)
    want = wcls(frame, rand_prob="p", **KW)
    junk = frame.sample(frac=1.0, random_state=7).reset_index(drop=True)
    off = np.flatnonzero(junk["available"].to_numpy() == 0)
    junk.loc[off[::3], "m"] = np.nan
    junk.loc[off[1::3], "c"] = np.inf
    junk.loc[off[2::3], "y"] = -np.inf
    junk.loc[off[::4], "state"] = "asleep"
    junk.loc[off[1::4], "p"] = np.nan
    got = wcls(junk, rand_prob="p", **KW)
    np.testing.assert_allclose(got.params, want.params, rtol=1e-12, atol=1e-14)
    np.testing.assert_allclose(got.cov_used, want.cov_used, rtol=1e-11, atol=1e-16)
    design = build_design(junk, rand_prob="p", **KW)
    assert np.isfinite(design.x).all() and np.isfinite(design.w).all()
    assert not design.x[~design.used].any()
    assert got.moderator_ranges["m"] == want.moderator_ranges["m"]


def test_missing_value_at_an_available_row_names_column_and_row():
    frame = table(seed=5)
    row = int(np.flatnonzero(frame["available"].to_numpy() == 1)[4])
    frame.loc[row, "c"] = np.nan
    with pytest.raises(LabmrtError) as err:
        wcls(frame, rand_prob="p", **KW)
    text = str(err.value)
    assert "control 'c'" in text and f"row {row + 1} (participant" in text
    frame = table(seed=5)
    frame["state"] = frame["state"].astype(object)
    frame.loc[row, "state"] = None
    with pytest.raises(LabmrtError, match="moderator 'statecalm', 'statetired'"):
        build_design(frame, rand_prob="p", add_moderators_to_controls=False, **KW)


def test_blocked_normal_equations_and_scores_match_whole_products(monkeypatch):
    """Many small blocks, blocks cutting no participant, equal and unequal participants."""
    rng = np.random.default_rng(11)
    for sizes in (np.full(30, 17), rng.integers(1, 60, 40)):
        n = int(sizes.sum())
        starts = np.r_[0, np.cumsum(sizes)[:-1]]
        x = np.asfortranarray(rng.standard_normal((n, 5)))
        w = rng.random(n) * (rng.random(n) < 0.8)
        y = rng.standard_normal(n)
        theta = rng.standard_normal(5)
        u = x * (w * (y - x @ theta))[:, None]
        want_scores = np.add.reduceat(u, starts, axis=0)
        for block in (sw._BLOCK_ELEMENTS, 64, 1):
            monkeypatch.setattr(sw, "_BLOCK_ELEMENTS", block)
            gram, rhs = sw.weighted_normal_equations(x, w, y)
            np.testing.assert_allclose(gram, (x * w[:, None]).T @ x, rtol=1e-12)
            np.testing.assert_allclose(rhs, x.T @ (w * y), rtol=1e-12)
            got = sw.residual_scores(x, w, y, theta, starts)
            np.testing.assert_allclose(got, want_scores, rtol=1e-11, atol=1e-13)
        # a row-major design takes the sparse path
        got = sw.grouped_weighted_sum(np.ascontiguousarray(x), w * (y - x @ theta), starts)
        np.testing.assert_allclose(got, want_scores, rtol=1e-11, atol=1e-13)


def test_with_treatment_rebuilds_design_and_weights():
    frame = table(seed=2)
    design = build_design(frame, rand_prob="p", **KW)
    flipped = design.with_treatment(np.where(design.used, 1.0 - design.a, 0.0))
    assert flipped.x is not design.x
    np.testing.assert_array_equal(flipped.x[:, : design.q], design.x[:, : design.q])
    centered = (flipped.a - flipped.num_prob)[:, None] * design.s
    np.testing.assert_array_equal(flipped.x[:, design.q :], centered)
    fit = fit_design(flipped, small_sample="never")
    assert np.all(np.isfinite(fit.cov))
