"""``labmrt analyze`` reproduces MRTAnalysis dcee() / mcee() on the package's own example data.

Every number of ``mrtanalysis_distal_reference.json`` (R 4.2.2, MRTAnalysis at
d5fa992) is compared through the command line, within the tolerance the
file states for that fit (``|got - want| <= max(abs, rel |want|)``): the
terms at the fit's confidence level and at 95% and 90%, the covariance, the
lincomb rows, the stage-1 regressions' coefficients and sizes, df,
participants, rows, mcee's weight sum and dcee's never-printed 1.96 interval.
The vignette's row filters are applied as the file gives them. mcee is also
compared with the converged (``tight``) values, closer: labmrt runs its
logistic fit to convergence. The gam fits: labmrt refuses the gam learner
(no Python library reproduces mgcv), which the test checks, and the file's
own statement that its dcee gam numbers equal the lm ones is checked too.
"""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest

from labmrt.cli import main

TERM_FIELDS = {
    "estimate": "estimate",
    "std_error": "se",
    "ci_lower": "ci_lower",
    "ci_upper": "ci_upper",
    "statistic": "statistic",
    "p_value": "p_value",
}


@pytest.fixture
def reference(shared_data):
    return json.loads((shared_data / "mrtanalysis_distal_reference.json").read_text())


def _rhs(formula: str) -> list[str]:
    terms = [t.strip() for t in formula.strip().lstrip("~").split("+")]
    return [t for t in terms if t and t != "1"]


def _data_file(fit: dict, tmp_path, shared_data) -> str:
    source = shared_data / fit["data_file"]
    if fit["row_filter"] is None:
        return str(source)
    frame = pd.read_csv(source)
    drop = np.zeros(len(frame), dtype=bool)
    for row in fit["row_filter"]["drop_rows"]:
        drop |= (frame["id"] == row["id"]).to_numpy() & (frame["dp"] == row["dp"]).to_numpy()
    frame = frame[~drop]
    assert len(frame) == fit["row_filter"]["n_rows_after"]
    out = tmp_path / "filtered.csv"
    frame.to_csv(out, index=False, float_format="%.17g")
    return str(out)


def command(fit: dict, data: str, learner: str | None = None) -> list[str]:
    """The R call of ``fit`` as a ``labmrt analyze`` command line (the contract's options)."""
    c = fit["call_arguments"]
    args = ["analyze", data, "--id", c["id"], "--treatment", c["treatment"]]
    args += ["--prob", str(c["rand_prob"]), "--availability", c["availability"]]
    args += ["--learner", learner or c["control_reg_method"]]
    if fit["function"] == "dcee":
        args += ["--distal-outcome", c["outcome"]]
        mods = _rhs(c["moderator_formula"])
        if mods:
            args += ["--moderator", *mods]
        args += ["--control", *_rhs(c["control_formula"])]
    else:
        args += ["--decision-point", c["dp"], "--distal-outcome", c["outcome"]]
        args += [
            "--mediator",
            c["mediator"],
            "--control",
            *_rhs(c["control_formula_with_mediator"]),
        ]
        form = _rhs(c["time_varying_effect_form"])
        if form:
            args += ["--effect-form", *form]
        if c["specific_dp_only"] is not None:
            args += ["--specific-dp", *map(str, c["specific_dp_only"])]
    for lc in fit.get("lincomb", []):
        args.append("--lincomb=" + ",".join(str(w) for w in lc["weights"]))
    return args


def run_json(args: list[str], capsys) -> dict:
    code = main([*args, "--json"])
    captured = capsys.readouterr()
    assert code == 0, captured.err
    return json.loads(captured.out)


def close(got, want, tol) -> bool:
    return abs(got - want) <= max(tol["abs"], tol["rel"] * abs(want))


def compare_rows(got_rows, want_rows, tol, suffix=""):
    bad = []
    for got, want in zip(got_rows, want_rows, strict=True):
        for ours, theirs in TERM_FIELDS.items():
            if not close(
                got[ours], want[theirs + suffix if ours.startswith("ci") else theirs], tol
            ):
                bad.append((want.get("term", want.get("r_name")), ours, got[ours], want[theirs]))
        assert got["df"] == want["df"]
    return bad


def _fits(reference, function):
    return [
        name
        for name, fit in reference["fits"].items()
        if fit["function"] == function and fit["call_arguments"]["control_reg_method"] != "gam"
    ]


FIT_NAMES = [
    "dcee_roxygen_fit_lm",
    "dcee_vignette_fit_lm",
    "dcee_vignette_fit_mod",
    "mcee_vignette_fit1",
    "mcee_vignette_fit2",
    "mcee_vignette_fit4_specific_dp",
    "mcee_full_data_fit1",
    "mcee_full_data_fit2",
]


def test_every_non_gam_fit_of_the_reference_is_listed(reference):
    assert sorted(FIT_NAMES) == sorted(_fits(reference, "dcee") + _fits(reference, "mcee"))


@pytest.mark.parametrize("name", FIT_NAMES)
def test_cli_reproduces_the_reference_fit(reference, name, tmp_path, capsys, shared_data):
    fit = reference["fits"][name]
    tol = fit["tolerance"]
    args = command(fit, _data_file(fit, tmp_path, shared_data))
    out = run_json([*args, "--conf-level", str(fit["conf_level"])], capsys)
    at90 = run_json([*args, "--conf-level", "0.9"], capsys)

    assert out["method"] == fit["function"]
    assert [t["term"] for t in out["terms"]] == [t["term"] for t in fit["terms"]]
    assert out["df"] == fit["df"] and out["n_participants"] == fit["n_participants"]
    assert out["n_decision_points"] == fit["n_rows"]
    assert out["conf_level"] == fit["conf_level"]
    assert compare_rows(out["terms"], fit["terms"], tol) == []
    assert compare_rows(out["terms"], fit["terms"], tol, "_95") == []
    assert compare_rows(at90["terms"], fit["terms"], tol, "_90") == []

    assert out["covariance"]["names"] == fit["vcov"]["names"]
    got_v, want_v = np.array(out["covariance"]["used"]), np.array(fit["vcov"]["matrix"])
    assert all(close(g, w, tol) for g, w in zip(got_v.ravel(), want_v.ravel(), strict=True))

    want_lc = fit.get("lincomb", [])
    assert len(out.get("lincomb", [])) == len(want_lc)
    if want_lc:
        assert compare_rows(out["lincomb"], want_lc, tol) == []
        assert compare_rows(out["lincomb"], want_lc, tol, "_95") == []
        assert compare_rows(at90["lincomb"], want_lc, tol, "_90") == []

    assert set(out["stage1"]) == set(fit["stage1"])
    for model, want in fit["stage1"].items():
        got = out["stage1"][model]
        assert got["n_obs"] == want["n_obs"], model
        assert got["family"] == want.get("family", "gaussian"), model
        assert list(got["coefficients"]) == list(want["coefficients"]), model
        for term, value in want["coefficients"].items():
            assert close(got["coefficients"][term], value, tol), (model, term)

    if fit["function"] == "mcee":
        assert out["weights_sum"] == fit["weights_sum"]
        # Closer to the converged values: the numbers labmrt computes itself (CIs and p
        # also carry scipy's t quantiles, off by ~3e-9 before scipy 1.12).
        tight = fit["tight"]
        for got, want in zip(out["terms"], tight["terms"], strict=True):
            for ours, theirs in (("estimate", "estimate"), ("std_error", "se")):
                assert got[ours] == pytest.approx(want[theirs], rel=1e-9, abs=1e-12)
        got_t = np.array(out["covariance"]["used"]).ravel()
        want_t = np.array(tight["vcov"]["matrix"]).ravel()
        assert np.allclose(got_t, want_t, rtol=1e-9, atol=1e-15)
    else:
        want_z = np.array(fit["not_printed"]["conf_int_normal_1.96"]).ravel()
        got_z = np.array(out["conf_int_1.96"]).ravel()
        assert all(close(g, w, tol) for g, w in zip(got_z, want_z, strict=True))


def test_gam_learner_is_refused_and_the_reference_gam_fit_is_the_lm_fit(
    reference, tmp_path, capsys, shared_data
):
    """GCV gives s(X) a smoothing parameter of ~2.5e10 here: the gam numbers are lm's."""
    fits = reference["fits"]
    gam = fits["dcee_vignette_fit_gam"]
    args = command(gam, _data_file(gam, tmp_path, shared_data))
    assert "s(X)" in args
    assert main(args) == 2
    err = capsys.readouterr().err
    assert "learner 'gam': is not available" in err and "Traceback" not in err

    lm_args = command(fits["dcee_vignette_fit_mod"], _data_file(gam, tmp_path, shared_data))
    out = run_json(lm_args, capsys)
    assert compare_rows(out["terms"], gam["terms"], gam["tolerance"]) == []

    mcee_gam = fits["mcee_vignette_fit3_gam"]
    assert mcee_gam["optional"] is True
    assert main(command(mcee_gam, _data_file(mcee_gam, tmp_path, shared_data))) == 2
    assert "not available" in capsys.readouterr().err
