"""Agreement of the analyzer with the reference R package MRTAnalysis, fit by fit.

For each fit the reference recorded on its own example data (the README and
vignette fits of ``wcls()`` and two ``emee()`` fits, in
``../shared/data/*_reference.json``), the largest relative difference of
labmrt's estimates, standard errors, confidence bounds, test statistics and
covariance matrices, and the largest absolute difference of the p-values.
``tests/test_analysis_reference.py`` holds the same numbers to their
tolerances (1e-8 relative for WCLS, 1e-6 for EMEE, whose reference root
finder stops near the root); this prints how close they actually are.
Then the distal and mediated analyses (``dcee()``, ``mcee()``) against every
fit of ``mrtanalysis_distal_reference.json`` that labmrt runs (all but the
gam fits, whose learner labmrt refuses): the same quantities plus the lincomb
rows, at the fit's confidence level and at 95% and 90%, and for mcee also
against the reference's converged (``tight``) values
(``tests/labmrt/analysis/test_distal_reference.py`` holds them to the file's
tolerances). Then the sample-size calculator against the R package
MRTSampleSize's own example (help pages of ``calculateSampleSize`` and
``calculatePower``).

    .venv/bin/python bench/reference_agreement.py
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

import numpy as np
import pandas as pd
from bench_record import BenchRecord

from labmrt.analysis import dcee, emee, mcee, wcls
from labmrt.analysis import power as mrtpower
from labmrt.analysis.power import StudyDesign, Trajectory

ROOT = Path(__file__).resolve().parents[1]
DATA = ROOT.parent / "shared" / "data"
# MRTSampleSize's example: 42 days x 5, prob 0.4, quadratic effect (mean 0.1, initial 0,
# maximum on day 28), quadratic availability (mean 0.5, initial 0.7, turning on day 42),
# alpha 0.05; the package's recorded outputs: N = 46 for power 0.8, power 0.731556859751723
# at N = 40.
HEARTSTEPS = StudyDesign(
    days=42,
    per_day=5,
    prob=0.4,
    availability=Trajectory("quadratic", 0.5, 0.7, 42),
    effect=Trajectory("quadratic", 0.1, 0.0, 28),
)
MRTSS_N, MRTSS_POWER_AT_40 = 46, 0.731556859751723


def _terms(formula: str) -> list[str]:
    return [t.strip() for t in formula.strip().lstrip("~").split("+") if t.strip() not in ("", "1")]


def _fit(fn, frame: pd.DataFrame, call: dict):
    return fn(
        frame,
        id=call["id"],
        outcome=call["outcome"],
        treatment=call["treatment"],
        rand_prob=call["rand_prob"],
        moderators=_terms(call["moderator_formula"]),
        controls=_terms(call["control_formula"]),
        availability=call["availability"],
        numerator_prob=call["numerator_prob"],
    )


def _rel(ours, theirs) -> float:
    ours, theirs = np.asarray(ours, float), np.asarray(theirs, float)
    return float(np.max(np.abs(ours - theirs) / np.maximum(np.abs(theirs), 1e-300)))


def _compare(tables: list[tuple[pd.DataFrame, dict]], statistic_squared: bool) -> dict:
    out = {"estimate": 0.0, "std_error": 0.0, "ci": 0.0, "statistic": 0.0, "p_value_abs": 0.0}
    for tab, rows in tables:
        names = list(tab.index)
        out["estimate"] = max(
            out["estimate"], _rel(tab.estimate, [rows[t]["estimate"] for t in names])
        )
        out["std_error"] = max(
            out["std_error"], _rel(tab.std_error, [rows[t]["se"] for t in names])
        )
        for col, key in (("ci_lower", "ci_lower_95"), ("ci_upper", "ci_upper_95")):
            out["ci"] = max(out["ci"], _rel(tab[col], [rows[t][key] for t in names]))
        stat = tab.statistic**2 if statistic_squared else tab.statistic
        out["statistic"] = max(out["statistic"], _rel(stat, [rows[t]["statistic"] for t in names]))
        p = np.max(np.abs(tab.p_value.to_numpy() - [rows[t]["p_value"] for t in names]))
        out["p_value_abs"] = max(out["p_value_abs"], float(p))
    return out


def _print_rows(rows: list[dict], extra: tuple[str, str] | None = None) -> None:
    """The per-fit differences as a Markdown table (``extra``: one more column, key and title)."""
    head = "| fit | function | estimate | SE | CI | statistic | covariance | p-value (abs.) |"
    print(head + (f" {extra[1]} |" if extra else ""))
    print("|---|---|" + "---:|" * (6 + bool(extra)))

    def num(r: dict, key: str) -> str:
        return f"{r[key]:.1e}" if key in r else "-"

    for r in rows:
        keys = ["estimate", "std_error", "ci", "statistic", "covariance", "p_value_abs"]
        keys += [extra[0]] if extra else []
        print(f"| {r['fit']} | {r['function']} | " + " | ".join(num(r, k) for k in keys) + " |")


def _distal_frame(fit: dict) -> pd.DataFrame:
    """The fit's data, with the rows the reference's vignette drops first dropped too."""
    frame = pd.read_csv(DATA / fit["data_file"])
    rule = fit["row_filter"]
    if rule is not None:
        drop = np.zeros(len(frame), dtype=bool)
        for row in rule["drop_rows"]:
            drop |= (frame["id"] == row["id"]).to_numpy() & (frame["dp"] == row["dp"]).to_numpy()
        frame = frame[~drop].reset_index(drop=True)
        assert len(frame) == rule["n_rows_after"]
    return frame


def _distal_fit(fit: dict, frame: pd.DataFrame, conf_level: float):
    """The reference's R call as a call of labmrt's Python API."""
    c = fit["call_arguments"]
    common = dict(
        id=c["id"],
        outcome=c["outcome"],
        treatment=c["treatment"],
        rand_prob=c["rand_prob"],
        availability=c["availability"],
        learner=c["control_reg_method"],
        conf_level=conf_level,
    )
    if fit["function"] == "dcee":
        return dcee(
            frame,
            moderators=_terms(c["moderator_formula"]),
            controls=_terms(c["control_formula"]),
            **common,
        )
    return mcee(
        frame,
        decision_point=c["dp"],
        mediator=c["mediator"],
        controls=_terms(c["control_formula_with_mediator"]),
        effect_form=_terms(c["time_varying_effect_form"]),
        specific_dp=c["specific_dp_only"],
        **common,
    )


def _distal_rows(res, want_terms: list[dict], want_lincomb: list[dict], suffix: str) -> list:
    """(ours, theirs) pairs of every printed number: terms, then the lincomb rows."""
    pairs = []
    weights = [lc["weights"] for lc in want_lincomb]
    got = res.to_dict(weights or None)
    for ours, theirs in ((got["terms"], want_terms), (got.get("lincomb", []), want_lincomb)):
        for g, w in zip(ours, theirs, strict=True):
            pairs += [
                (g["estimate"], w["estimate"], "estimate"),
                (g["std_error"], w["se"], "std_error"),
                (g["ci_lower"], w["ci_lower" + suffix], "ci"),
                (g["ci_upper"], w["ci_upper" + suffix], "ci"),
                (g["statistic"], w["statistic"], "statistic"),
                (g["p_value"], w["p_value"], "p_value_abs"),
            ]
    return pairs


def distal_agreement(ref: dict) -> tuple[list[dict], list[str]]:
    """Per fit of the distal reference: the largest relative difference per quantity."""
    rows, refused = [], []
    for name, fit in ref["fits"].items():
        if fit["call_arguments"]["control_reg_method"] == "gam":
            refused.append(name)
            continue
        frame = _distal_frame(fit)
        diff = {"estimate": 0.0, "std_error": 0.0, "ci": 0.0, "statistic": 0.0, "p_value_abs": 0.0}
        for conf, suffix in ((fit["conf_level"], ""), (0.95, "_95"), (0.9, "_90")):
            res = _distal_fit(fit, frame, conf)
            for ours, theirs, key in _distal_rows(
                res, fit["terms"], fit.get("lincomb", []), suffix
            ):
                d = abs(ours - theirs) if key == "p_value_abs" else _rel(ours, theirs)
                diff[key] = max(diff[key], d)
        diff["covariance"] = _rel(res.cov_used, fit["vcov"]["matrix"])
        row = {
            "fit": name,
            "function": fit["function"],
            "terms": len(fit["terms"]),
            "lincombs": len(fit.get("lincomb", [])),
            "participants": res.n_participants,
            "rows": res.n_decision_points,
            **diff,
            "max_rel": max(v for k, v in diff.items() if k != "p_value_abs"),
            "tolerance_rel": fit["tolerance"]["rel"],
        }
        if "tight" in fit:
            res = _distal_fit(fit, frame, fit["conf_level"])
            est = [t["estimate"] for t in fit["tight"]["terms"]]
            se = [t["se"] for t in fit["tight"]["terms"]]
            row["tight_max_rel"] = max(
                _rel(res.params, est),
                _rel(np.sqrt(np.diag(res.cov_used)), se),
                _rel(res.cov_used, fit["tight"]["vcov"]["matrix"]),
            )
        rows.append(row)
    return rows, refused


def main() -> int:
    record = BenchRecord("reference_agreement", timing=False)
    if not DATA.is_dir():
        print(f"skipped: {DATA} is absent (the reference data sits beside the project)")
        return 0
    frame = pd.read_csv(DATA / "data_mimicHeartSteps.csv")
    wcls_ref = json.loads((DATA / "mimic_heartsteps_reference.json").read_text())
    rows = []
    for name, ref in wcls_ref["fits"].items():
        res = _fit(wcls, frame, ref["call_arguments"])
        diff = _compare(
            [
                (res.table, ref["treatment_effect"]),
                (res.control_table, ref["control_coefficients"]),
            ],
            statistic_squared=True,  # the reference reports the F form of the t statistic
        )
        diff["covariance"] = _rel(res.cov.to_numpy(), ref["vcov"])
        diff["covariance_uncorrected"] = _rel(
            res.cov_uncorrected.to_numpy(), ref["vcov_without_small_sample_correction"]
        )
        rows.append({"fit": name, "function": "wcls", "terms": len(res.table), **diff})
    frame["steps_above_1"] = (frame["logstep_30min"] > 1).astype(int)
    emee_ref = json.loads((DATA / "emee_mimic_reference.json").read_text())
    for name, ref in emee_ref["fits"].items():
        res = _fit(emee, frame, ref["call_arguments"])
        diff = _compare([(res.table, ref["treatment_effect"])], statistic_squared=False)
        rows.append({"fit": name, "function": "emee", "terms": len(res.table), **diff})

    print(
        f"MRTAnalysis {wcls_ref.get('reference_package_version', '?')} on its example data "
        f"({len(frame)} rows): largest relative difference per quantity"
    )
    _print_rows(rows)
    worst = {
        fn: max(
            max(v for k, v in r.items() if isinstance(v, float))
            for r in rows
            if r["function"] == fn
        )
        for fn in ("wcls", "emee")
    }
    print(f"largest difference: WCLS {worst['wcls']:.1e}, EMEE {worst['emee']:.1e}")
    distal_ref = json.loads((DATA / "mrtanalysis_distal_reference.json").read_text())
    distal, refused = distal_agreement(distal_ref)
    print(
        f"MRTAnalysis {distal_ref['reference_package_version']} "
        f"({distal_ref['reference_package_source'].split(':')[0]}), dcee / mcee: largest "
        "relative difference per quantity (terms and lincomb rows at the fit's, 95% and 90% "
        "confidence)"
    )
    _print_rows(distal, ("tight_max_rel", "mcee vs converged"))
    print(f"not run (labmrt refuses the gam learner): {', '.join(refused)}")
    worst_distal = {
        fn: max(r["max_rel"] for r in distal if r["function"] == fn) for fn in ("dcee", "mcee")
    }
    worst_tight = max(r["tight_max_rel"] for r in distal if "tight_max_rel" in r)
    print(
        f"largest difference: dcee {worst_distal['dcee']:.1e}, mcee {worst_distal['mcee']:.1e} "
        f"(against the converged values {worst_tight:.1e})"
    )
    n = mrtpower.sample_size(HEARTSTEPS, 0.8, 0.05).n
    p40 = mrtpower.power(HEARTSTEPS, 40).power
    print(
        f"MRTSampleSize example: N = {n} (reference {MRTSS_N}); power at N = 40 {p40:.15f} "
        f"(reference {MRTSS_POWER_AT_40}, difference {abs(p40 - MRTSS_POWER_AT_40):.1e})"
    )
    record.write(
        {
            "fits": rows,
            "worst_wcls": worst["wcls"],
            "worst_emee": worst["emee"],
            "reference_package": wcls_ref.get("reference_package", "MRTAnalysis"),
            "reference_version": wcls_ref.get("reference_package_version", ""),
            "rows": len(frame),
            "distal": {
                "reference_package": distal_ref["reference_package"],
                "reference_version": distal_ref["reference_package_version"],
                "reference_source": distal_ref["reference_package_source"],
                "fits": distal,
                "refused_gam": refused,
                "worst_dcee": worst_distal["dcee"],
                "worst_mcee": worst_distal["mcee"],
                "worst_mcee_tight": worst_tight,
            },
            "sample_size": {
                "n": n,
                "n_reference": MRTSS_N,
                "power_at_40": p40,
                "power_at_40_reference": MRTSS_POWER_AT_40,
                "power_difference": abs(p40 - MRTSS_POWER_AT_40),
            },
        }
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
