"""Analyzer behaviour beyond the reference: exact-math checks, contrasts, lags, PP, plans."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest

from labmrt.analysis import emee, fit_analysis, wcls
from labmrt.analysis.contrasts import parse_contrast
from labmrt.analysis.design import build_design
from labmrt.analysis.emee import _equations, fit_emee_design
from labmrt.analysis.sandwich import group_cross, sandwich_dense_loop
from labmrt.analysis.wcls import fit_design
from labmrt.errors import LabmrtError

ARMS = ["baseline", "gain", "loss"]
PROBS = {"calm": (0.4, 0.3, 0.3), "aroused": (0.2, 0.4, 0.4), "unknown": (1 / 3, 1 / 3, 1 / 3)}


def multiarm(seed: int = 1, n: int = 14, t: int = 40, uneven: bool = True) -> pd.DataFrame:
    """A labmrt-style export: arm + prob_<arm> per row, context-dependent probabilities."""
    rng = np.random.default_rng(seed)
    rows = []
    for i in range(n):
        ti = t - (i % 5) * 3 if uneven else t
        for dp in range(1, ti + 1):
            state = rng.choice(["calm", "aroused", "unknown"], p=[0.5, 0.35, 0.15])
            avail = rng.random() < 0.85
            probs = PROBS[state]
            arm = rng.choice(ARMS, p=probs) if avail else ""
            effect = {"baseline": 0.0, "gain": 0.3, "loss": 0.6 + 0.4 * (state == "aroused")}
            y = rng.normal() + 0.2 * dp / t + (effect[arm] if avail else 0.0)
            rows.append(
                {
                    "participant": f"P{i:02d}",
                    "decision_point": dp,
                    "available": int(avail),
                    "arm": arm,
                    **{
                        f"prob_{a}": (p if avail else np.nan)
                        for a, p in zip(ARMS, probs, strict=True)
                    },
                    "received": int(rng.random() < 0.8) if avail else np.nan,
                    "affect_state": state,
                    "task_index": dp,
                    "help_log": y if avail else np.nan,
                }
            )
    return pd.DataFrame(rows)


# --------------------------------------------------------------------------- exact math


def test_woodbury_correction_equals_dense_loop():
    """The O(T p^2) Mancl-DeRouen path equals the textbook dense (I - H_ii)^{-1} r_i."""
    frame = multiarm(uneven=True)
    frame["A"] = (frame["arm"] == "loss").astype(float)
    frame["p"] = frame["prob_loss"]
    d = build_design(
        frame,
        id="participant",
        outcome="help_log",
        treatment="A",
        rand_prob="p",
        moderators=["task_index"],
        controls=["task_index"],
        availability="available",
        decision_point="decision_point",
    )
    fit = fit_design(d, small_sample="always")
    bread = np.linalg.inv((d.x * d.w[:, None]).T @ d.x)
    r = d.y - d.x @ fit.theta
    for corrected, got in ((True, fit.cov), (False, fit.cov_uncorrected)):
        want = sandwich_dense_loop(d.x, d.w, r, d.starts, bread, corrected)
        np.testing.assert_allclose(got, want, rtol=1e-10, atol=1e-15)


def test_group_cross_padded_and_chunked_agree(monkeypatch):
    rng = np.random.default_rng(3)
    sizes = np.array([1, 50, 3, 400, 7])
    starts = np.r_[0, np.cumsum(sizes)[:-1]]
    a = rng.normal(size=(sizes.sum(), 3))
    b = rng.normal(size=(sizes.sum(), 2))
    want = np.stack([a[s : s + k].T @ b[s : s + k] for s, k in zip(starts, sizes, strict=True)])
    np.testing.assert_allclose(group_cross(a, b, starts), want, rtol=1e-12)
    import labmrt.analysis.sandwich as sw

    monkeypatch.setattr(sw, "_PAD_WASTE", 0.0)  # force the unpadded path
    monkeypatch.setattr(sw, "_CHUNK_ROWS", 60)
    np.testing.assert_allclose(sw.group_cross(a, b, starts), want, rtol=1e-12)


def test_emee_correction_equals_dense_hat_matrix():
    """EMEE's Woodbury correction equals H_ii = P_i M^{-1} D_i inverted densely."""
    frame = multiarm(seed=4)
    frame["A"] = (frame["arm"] == "gain").astype(float)
    frame["y01"] = (frame["help_log"] > 0.2).astype(float)
    d = build_design(
        frame,
        id="participant",
        outcome="y01",
        treatment="A",
        rand_prob="prob_gain",
        controls=["task_index"],
        availability="available",
        binary_outcome=True,
    )
    fit = fit_emee_design(d)
    total, u, v, e, mu, f, m = _equations(d, fit.theta)
    assert np.max(np.abs(total)) < 1e-10
    minv = np.linalg.inv(m)
    k = d.k
    meat = np.zeros((k, k))
    ends = np.r_[d.starts[1:], d.n_rows]
    for s, t in zip(d.starts, ends, strict=True):
        dmat = (u[s:t] * (d.w[s:t] * e[s:t])[:, None]).T  # k x T
        pmat = -(v[s:t] * mu[s:t, None]) * d.used[s:t, None]  # T x k
        r = (d.y[s:t] - mu[s:t]) * d.used[s:t]
        h = pmat @ minv @ dmat
        score = dmat @ np.linalg.solve(np.eye(t - s) - h, r)
        meat += np.outer(score, score)
    np.testing.assert_allclose(fit.cov, minv @ meat @ minv.T, rtol=1e-9, atol=1e-15)


# --------------------------------------------------------------------------- contrasts


def _manual(frame: pd.DataFrame, treated: list[str], control: list[str]) -> pd.DataFrame:
    out = frame.copy()
    in_t = out["arm"].isin(treated)
    in_c = out["arm"].isin(control)
    pt = out[[f"prob_{a}" for a in treated]].sum(axis=1)
    pc = out[[f"prob_{a}" for a in control]].sum(axis=1)
    out["A"] = in_t.astype(float)
    out["p"] = (pt / (pt + pc)).fillna(0.5)
    out["I"] = ((out["available"] == 1) & (in_t | in_c)).astype(int)
    return out


@pytest.mark.parametrize(
    "spec, treated, control",
    [
        ("loss-vs-baseline", ["loss"], ["baseline"]),
        ("loss:baseline", ["loss"], ["baseline"]),
        ("gain-vs-rest", ["gain"], ["baseline", "loss"]),
        ("any-vs-baseline", ["gain", "loss"], ["baseline"]),
        ("gain+loss:baseline", ["gain", "loss"], ["baseline"]),
        ("loss vs gain", ["loss"], ["gain"]),
    ],
)
def test_contrast_equals_hand_derived_columns(spec, treated, control):
    frame = multiarm()
    got = wcls(
        frame,
        outcome="help_log",
        contrast=spec,
        moderators=["affect_state"],
        availability="available",
    )
    m = _manual(frame, treated, control)
    want = wcls(
        m,
        outcome="help_log",
        treatment="A",
        rand_prob="p",
        moderators=["affect_state"],
        availability="I",
    )
    np.testing.assert_allclose(got.params, want.params, rtol=1e-12)
    np.testing.assert_allclose(got.cov_used, want.cov_used, rtol=1e-10)
    assert got.contrast["treated_arms"] == treated
    assert got.contrast["control_arms"] == control
    assert got.contrast["rows_excluded"] == int(((m.available == 1) & (m.I == 0)).sum())
    assert got.effect_names == ["(Intercept)", "affect_statecalm", "affect_stateunknown"]


def test_contrast_grammar_errors():
    arms = ARMS
    with pytest.raises(LabmrtError, match="prob_neutral"):
        parse_contrast("neutral-vs-loss", arms, "baseline")
    with pytest.raises(LabmrtError, match="'rest' goes on the right"):
        parse_contrast("rest-vs-loss", arms, "baseline")
    with pytest.raises(LabmrtError, match="not of the form"):
        parse_contrast("loss", arms, "baseline")
    with pytest.raises(LabmrtError, match="--baseline"):
        parse_contrast("loss-vs-baseline", ["neutral", "loss"], None)
    with pytest.raises(LabmrtError, match="both sides"):
        parse_contrast("loss+gain-vs-loss", arms, "baseline")
    c = parse_contrast("any-vs-neutral", ["neutral", "gain", "loss"], "neutral")
    assert (c.treated, c.control) == (["gain", "loss"], ["neutral"])


def test_baseline_from_codebook_beside_the_file(tmp_path):
    frame = multiarm().rename(columns={"prob_baseline": "prob_neutral"})
    frame["arm"] = frame["arm"].replace("baseline", "neutral")
    frame.to_csv(tmp_path / "decision_points.csv", index=False)
    (tmp_path / "codebook.json").write_text(json.dumps({"baseline_arm": "neutral"}))
    res = wcls(
        tmp_path / "decision_points.csv",
        outcome="help_log",
        contrast="loss-vs-baseline",
        availability="available",
    )
    assert res.contrast["control_arms"] == ["neutral"]
    assert res.contrast["baseline_arm"] == "neutral"
    with pytest.raises(LabmrtError, match="has no prob_ column"):
        wcls(frame, outcome="help_log", contrast="loss-vs-baseline", baseline="calm")


def test_contrast_probability_must_be_positive():
    frame = multiarm()
    frame.loc[frame.affect_state == "aroused", "prob_baseline"] = 0.0
    frame.loc[(frame.affect_state == "aroused") & (frame.arm == "baseline"), "arm"] = "loss"
    with pytest.raises(LabmrtError, match="not strictly between 0 and 1"):
        wcls(frame, outcome="help_log", contrast="loss-vs-baseline", availability="available")


# --------------------------------------------------------------------------- coding, lags, PP


def test_categorical_dummies_follow_r_and_categorical_order():
    frame = multiarm()
    res = wcls(frame, outcome="help_log", contrast="loss-vs-baseline", moderators=["affect_state"])
    assert res.factor_levels["affect_state"] == ["aroused", "calm", "unknown"]
    frame["affect_state"] = pd.Categorical(
        frame["affect_state"], categories=["calm", "aroused", "unknown"]
    )
    res2 = wcls(frame, outcome="help_log", contrast="loss-vs-baseline", moderators=["affect_state"])
    assert res2.effect_names == ["(Intercept)", "affect_statearoused", "affect_stateunknown"]
    manual = frame.assign(
        aroused=(frame.affect_state == "aroused").astype(float),
        unknown=(frame.affect_state == "unknown").astype(float),
    )
    res3 = wcls(
        manual, outcome="help_log", contrast="loss-vs-baseline", moderators=["aroused", "unknown"]
    )
    np.testing.assert_allclose(res2.params, res3.params, rtol=1e-12)
    # The effect when calm (reference) and when aroused, from the same fit.
    calm = res2.effect_at({"affect_state": "calm"}).estimate.iloc[0]
    aroused = res2.effect_at({"affect_state": "aroused"}).estimate.iloc[0]
    assert calm == pytest.approx(res2.table.estimate.iloc[0])
    assert aroused == pytest.approx(res2.table.estimate.iloc[0] + res2.table.estimate.iloc[1])


def test_treatment_lag_and_delayed_outcome_equal_hand_shifts():
    frame = multiarm(uneven=False)
    base = _manual(frame, ["loss"], ["baseline"])
    res = wcls(
        frame,
        outcome="help_log",
        contrast="loss-vs-baseline",
        availability="available",
        treatment_lags=[1],
    )
    assert "treatment_lag1" in res.control_names
    lag = base.groupby("participant")["A"].shift(1)
    lag = np.where(base.groupby("participant")["I"].shift(1) == 1, lag, 0.0)
    manual = base.assign(treatment_lag1=lag)
    want = wcls(
        manual,
        outcome="help_log",
        treatment="A",
        rand_prob="p",
        availability="I",
        controls=["treatment_lag1"],
    )
    np.testing.assert_allclose(res.params, want.params, rtol=1e-12)

    delayed = wcls(
        frame,
        outcome="help_log",
        contrast="loss-vs-baseline",
        availability="available",
        outcome_delay=2,
    )
    later = base.groupby("participant")["help_log"].shift(-2)
    manual2 = base.assign(y2=later, I2=base["I"] * later.notna())
    want2 = wcls(manual2, outcome="y2", treatment="A", rand_prob="p", availability="I2")
    np.testing.assert_allclose(delayed.params, want2.params, rtol=1e-12)
    assert any("later" in n for n in delayed.notes)


def test_per_protocol_restricts_and_is_labelled():
    frame = multiarm()
    pp = wcls(
        frame,
        outcome="help_log",
        contrast="loss-vs-baseline",
        availability="available",
        per_protocol=True,
    )
    m = _manual(frame, ["loss"], ["baseline"])
    m["I"] = m["I"] * (m["received"] == 1)
    want = wcls(m, outcome="help_log", treatment="A", rand_prob="p", availability="I")
    np.testing.assert_allclose(pp.params, want.params, rtol=1e-12)
    assert pp.analysis == "per-protocol"
    assert pp.to_dict()["protected_by_randomization"] is False
    assert "NOT protected by randomization" in pp.summary()


# --------------------------------------------------------------------------- bad input


@pytest.fixture
def simple():
    return _manual(multiarm(), ["loss"], ["baseline"])


def _fit(frame, **kw):
    args = dict(outcome="help_log", treatment="A", rand_prob="p", availability="I")
    args.update(kw)
    return wcls(frame, **args)


def test_missing_column_lists_available(simple):
    with pytest.raises(LabmrtError) as err:
        _fit(simple, moderators=["mood"])
    assert "moderator 'mood'" in err.value.message and "affect_state" in err.value.message


def test_probability_outside_open_interval_names_rows(simple):
    bad = simple.copy()
    row = bad.index[bad.I == 1][3]
    bad.loc[row, "p"] = 1.0
    with pytest.raises(LabmrtError, match=r"strictly between 0 and 1.*row \d+ \(participant P"):
        _fit(bad)


def test_treatment_not_binary(simple):
    bad = simple.copy()
    bad.loc[bad.index[bad.I == 1][0], "A"] = 2
    with pytest.raises(LabmrtError, match="must be 0 or 1"):
        _fit(bad)


def test_nan_at_available_point_names_rows_but_unavailable_is_fine(simple):
    bad = simple.copy()
    row = bad.index[bad.I == 1][5]
    bad.loc[row, "task_index"] = np.nan
    with pytest.raises(LabmrtError) as err:
        _fit(bad, controls=["task_index"])
    assert f"row {row + 1} (participant" in err.value.message
    ok = simple.copy()
    ok.loc[ok.I == 0, "task_index"] = np.nan  # never used: no error
    _fit(ok, controls=["task_index"])


def test_duplicated_decision_points(simple):
    bad = pd.concat([simple, simple.iloc[[7]]], ignore_index=True)
    with pytest.raises(LabmrtError, match="duplicated .participant, decision point"):
        _fit(bad)


def test_too_few_participants(simple):
    few = simple[simple.participant.isin(["P00", "P01", "P02"])]
    with pytest.raises(LabmrtError, match="no degrees of freedom"):
        _fit(few, moderators=["affect_state"], controls=["task_index"])


def test_singular_design_names_terms(simple):
    bad = simple.assign(twice=2 * simple.task_index)
    with pytest.raises(LabmrtError) as err:
        _fit(bad, controls=["task_index", "twice"])
    assert "control task_index ~ control twice" in err.value.message


def test_small_sample_modes(simple):
    never = _fit(simple, small_sample="never")
    always = _fit(simple, small_sample="always")
    assert not never.small_sample_applied and always.small_sample_applied
    np.testing.assert_array_equal(never.cov_used, never.cov_plain)
    np.testing.assert_allclose(never.cov_corrected, always.cov_used, rtol=1e-12)
    assert np.all(np.diag(always.cov_used) > np.diag(never.cov_used))


def test_binary_outcome_checked_for_emee(simple):
    with pytest.raises(LabmrtError, match="must be 0 or 1 for a binary outcome"):
        emee(simple, outcome="help_log", treatment="A", rand_prob="p", availability="I")


# --------------------------------------------------------------------------- outputs, plans


def test_summary_json_and_plot(simple, tmp_path):
    res = _fit(simple, moderators=["affect_state"], controls=["task_index"])
    text = res.summary()
    for term in res.effect_names + res.control_names:
        assert term in text
    d = json.loads(json.dumps(res.to_dict([[1, 1, 0]]), allow_nan=False))
    assert [t["term"] for t in d["terms"]] == res.effect_names
    assert d["lincomb"][0]["term"] == "(Intercept) + affect_statecalm"
    assert set(d["terms"][0]) >= {"estimate", "std_error", "ci_lower", "ci_upper", "p_value", "df"}
    fig = res.plot_effect(tmp_path / "effect.png")
    assert (tmp_path / "effect.png").read_bytes()[:4] == b"\x89PNG"
    assert [t.get_text() for t in fig.axes[0].get_xticklabels()] == ["aroused", "calm", "unknown"]


def test_conf_level_changes_interval_only(simple):
    a = _fit(simple)
    b = _fit(simple, conf_level=0.9)
    assert a.table.estimate.iloc[0] == b.table.estimate.iloc[0]
    assert b.table.ci_upper.iloc[0] < a.table.ci_upper.iloc[0]


def test_plan_file_reruns_the_same_analysis(tmp_path):
    frame = multiarm()
    frame.to_parquet(tmp_path / "dp.parquet")
    plan = tmp_path / "plan.toml"
    plan.write_text(
        'data = "dp.parquet"\noutcome = "help_log"\ncontrast = "loss-vs-baseline"\n'
        'moderators = ["affect_state"]\navailability = "available"\nconf_level = 0.9\n'
    )
    got = fit_analysis(plan)
    want = wcls(
        frame,
        outcome="help_log",
        contrast="loss-vs-baseline",
        moderators=["affect_state"],
        availability="available",
        conf_level=0.9,
    )
    pd.testing.assert_frame_equal(got.table, want.table)
    plan.write_text('outcome = "help_log"\nmoderator = ["affect_state"]\n')
    with pytest.raises(LabmrtError, match="moderator: unknown key"):
        fit_analysis(plan, frame)


def test_sessions_number_their_own_decision_points():
    """labmrt numbers decision points within a session: (participant, session, point) is the key."""
    one = multiarm(uneven=False)
    two = pd.concat([one.assign(session=1), one.assign(session=2)], ignore_index=True)
    res = wcls(two, outcome="help_log", contrast="loss-vs-baseline", availability="available")
    assert res.n_decision_points == 2 * len(one)
    dup = pd.concat([two, two.iloc[[3]]], ignore_index=True)
    with pytest.raises(LabmrtError, match="duplicated .participant, session, decision point"):
        wcls(dup, outcome="help_log", contrast="loss-vs-baseline", availability="available")


def test_functions_are_not_shadowed_by_their_modules():
    import labmrt.analysis.emee  # noqa: F401
    import labmrt.analysis.wcls  # noqa: F401
    from labmrt import analysis

    assert callable(analysis.wcls) and callable(analysis.emee)
