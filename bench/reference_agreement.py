"""Agreement of the analyzer with the reference R package MRTAnalysis, fit by fit.

For each fit the reference recorded on its own example data (the README and
vignette fits of ``wcls()`` and two ``emee()`` fits, in
``../shared/data/*_reference.json``), the largest relative difference of
labmrt's estimates, standard errors, confidence bounds, test statistics and
covariance matrices, and the largest absolute difference of the p-values.
``tests/test_analysis_reference.py`` holds the same numbers to their
tolerances (1e-8 relative for WCLS, 1e-6 for EMEE, whose reference root
finder stops near the root); this prints how close they actually are.
Then the sample-size calculator against the R package MRTSampleSize's own
example (help pages of ``calculateSampleSize`` and ``calculatePower``).

    .venv/bin/python bench/reference_agreement.py
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

import numpy as np
import pandas as pd
from bench_record import BenchRecord

from labmrt.analysis import emee, wcls
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
    print("| fit | function | estimate | SE | CI | statistic | covariance | p-value (abs.) |")
    print("|---|---|---:|---:|---:|---:|---:|---:|")
    for r in rows:
        cov = f"{r['covariance']:.1e}" if "covariance" in r else "-"
        print(
            f"| {r['fit']} | {r['function']} | {r['estimate']:.1e} | {r['std_error']:.1e} "
            f"| {r['ci']:.1e} | {r['statistic']:.1e} | {cov} | {r['p_value_abs']:.1e} |"
        )
    worst = {
        fn: max(
            max(v for k, v in r.items() if isinstance(v, float))
            for r in rows
            if r["function"] == fn
        )
        for fn in ("wcls", "emee")
    }
    print(f"largest difference: WCLS {worst['wcls']:.1e}, EMEE {worst['emee']:.1e}")
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
