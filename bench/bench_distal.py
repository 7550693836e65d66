"""Benchmark: dcee and mcee with linear learners on 1,000 participants x 100 decision points.

The goal (issue 20): each fit under 1 s, from the loaded DataFrame (checks,
stage-1 regressions, stage 2, variance, result). The baseline, measured in
the same run right after each estimator's own runs, is the straightforward implementation
of the same estimators (:mod:`labmrt.analysis.distal_loops`: statsmodels
for stage 1, then every sum a Python loop over rows and participants, as the
reference package writes them). The bench checks that both give the same
numbers. Times are medians (others may load the machine); the figures are
also written to ``bench/results/bench_distal.json`` with the date, the load
average, the versions and the commit (``bench_record.py``), for the
validation page.

The study: 1,000 participants x 100 decision points, availability 0.8,
randomization probability 0.3-0.7 depending on a covariate, a mediator
affected by the treatment and a distal outcome summing both; dcee with
controls (x, m, dp) and moderator x, mcee with controls (dp, m, x) and the
time basis (1, dp).

    .venv/bin/python bench/bench_distal.py [--repeat 5] [--baseline-repeat 1]
"""

from __future__ import annotations

import argparse
import os
import sys

import numpy as np
import pandas as pd
from bench_record import BenchRecord
from bench_wcls import blas_note, interleaved, load_note

from labmrt.analysis.distal import dcee
from labmrt.analysis.distal_loops import dcee_loop, mcee_loop
from labmrt.analysis.mediation import mcee

GOAL_SECONDS = 1.0


def simulate(n: int, t: int, seed: int = 0) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    rows = n * t
    pid = np.repeat(np.arange(n), t)
    x = rng.normal(size=rows)
    avail = rng.random(rows) < 0.8
    prob = 0.5 + 0.2 * np.tanh(x)
    a = ((rng.random(rows) < prob) & avail).astype(np.int64)
    m = 0.5 * a + 0.3 * x + rng.normal(size=rows)
    y = np.bincount(pid, weights=0.3 * a + 0.4 * m + 0.1 * x) + rng.normal(size=n)
    return pd.DataFrame(
        {
            "participant": pid,
            "dp": np.tile(np.arange(1, t + 1), n),
            "x": x,
            "m": m,
            "available": avail.astype(np.int64),
            "A": a,
            "prob": prob,
            "y": y[pid],
        }
    )


DCEE = dict(
    id="participant",
    outcome="y",
    treatment="A",
    rand_prob="prob",
    moderators=["x"],
    controls=["x", "m", "dp"],
    availability="available",
    learner="lm",
)
MCEE = dict(
    id="participant",
    decision_point="dp",
    outcome="y",
    treatment="A",
    mediator="m",
    rand_prob="prob",
    controls=["dp", "m", "x"],
    availability="available",
    effect_form=["dp"],
)


def baselines(frame: pd.DataFrame) -> dict:
    ids = frame["participant"].to_numpy()
    y, a = frame["y"].to_numpy(float), frame["A"].to_numpy(float)
    prob, avail = frame["prob"].to_numpy(float), frame["available"].to_numpy(float)
    one = np.ones(len(frame))

    def cols(*names):
        return np.column_stack([one, *(frame[c].to_numpy(float) for c in names)])

    return {
        "dcee": lambda: dcee_loop(ids, y, a, prob, avail, cols("x"), cols("x", "m", "dp")),
        "mcee": lambda: mcee_loop(
            ids, y, a, prob, avail, cols("dp"), cols("dp", "m", "x"), cols("dp", "x")
        ),
    }


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--repeat", type=int, default=5, help="runs of labmrt's fits (median)")
    ap.add_argument("--baseline-repeat", type=int, default=1, help="runs of the loops")
    ap.add_argument("--participants", type=int, default=1000)
    ap.add_argument("--decision-points", type=int, default=100)
    args = ap.parse_args()
    record = BenchRecord("bench_distal", timing=True)
    n, t = args.participants, args.decision_points
    frame = simulate(n, t)
    print(f"distal benchmark: {n:,} participants x {t:,} decision points ({len(frame):,} rows)")
    print(f"  {blas_note()}; {os.cpu_count()} cores")
    print(f"  machine: {load_note()} before")
    fast = {"dcee": lambda: dcee(frame, **DCEE), "mcee": lambda: mcee(frame, **MCEE)}
    slow = baselines(frame)
    figures, met = {}, True
    for name in ("dcee", "mcee"):
        ours = fast[name]()
        want, want_cov = slow[name]()
        err = float(np.max(np.abs(ours.params - want)) / np.max(np.abs(want)))
        err_cov = float(np.max(np.abs(ours.cov_used - want_cov)) / np.max(np.abs(want_cov)))
        if max(err, err_cov) > 1e-7:
            raise SystemExit(f"{name}: labmrt and the loops disagree ({err:.1e}, {err_cov:.1e})")
        t_fast = interleaved({"fit": fast[name]}, args.repeat)["fit"]
        t_slow = interleaved({"loop": slow[name]}, args.baseline_repeat)["loop"]
        fit_s, loop_s = float(np.median(t_fast)), float(np.median(t_slow))
        ok = fit_s < GOAL_SECONDS
        met &= ok
        figures[name] = {
            "seconds": fit_s,
            "seconds_all_runs": [round(v, 4) for v in t_fast],
            "baseline_seconds": loop_s,
            "baseline_over_labmrt": loop_s / fit_s,
            "goal_seconds": GOAL_SECONDS,
            "goal_met": ok,
            "max_rel_diff_estimates": err,
            "max_rel_diff_covariance": err_cov,
            "estimates": [float(v) for v in ours.params],
        }
        print(
            f"  {name}: labmrt {fit_s:6.3f} s (median of {args.repeat}), textbook loops "
            f"{loop_s:6.2f} s: {loop_s / fit_s:5.0f} x faster; goal < {GOAL_SECONDS:g} s "
            f"{'met' if ok else 'NOT met'}; same numbers to {max(err, err_cov):.0e}"
        )
    print(f"  machine: {load_note()} after")
    record.write(
        {"participants": n, "decision_points": t, "rows": len(frame), **figures},
        case=f"{n} participants x {t} decision points, linear learners",
        blas=blas_note(),
    )
    return 0 if met else 1


if __name__ == "__main__":
    sys.exit(main())
