"""Simulation study with known truth: bias and 95% CI coverage of the WCLS analyzer.

2,000 simulated trials x 30 participants x 50 decision points per scenario
(marginal and moderated effects, constant and context-dependent randomization
probabilities, availability 0.8, correlated outcomes within a participant;
the model is in labmrt/analysis/coverage.py). Coverage uses the analyzer's
t intervals (df = n - p - q) with the Mancl-DeRouen correction; the plain
sandwich is shown for comparison. Prints a Markdown table.

    .venv/bin/python bench/sim_coverage.py [--trials 2000] [--seed 1]
"""

from __future__ import annotations

import argparse
import time

import numpy as np
from bench_record import BenchRecord

from labmrt.analysis.coverage import SCENARIOS, run_coverage


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--trials", type=int, default=2000)
    ap.add_argument("--participants", type=int, default=30)
    ap.add_argument("--decision-points", type=int, default=50)
    ap.add_argument("--seed", type=int, default=1)
    args = ap.parse_args()
    record = BenchRecord("sim_coverage", timing=False)
    start = time.perf_counter()
    mc = np.sqrt(0.95 * 0.05 / args.trials)
    print(
        f"{args.trials} trials x {args.participants} participants x "
        f"{args.decision_points} decision points; Monte Carlo SD of a coverage: {100 * mc:.2f}%"
    )
    print()
    print(
        "| scenario | term | truth | mean estimate | bias (MC SE) | SD of estimates | mean SE "
        "| coverage (corrected) | coverage (plain sandwich) |"
    )
    print("|---|---|---:|---:|---:|---:|---:|---:|---:|")
    worst, rows = [], []
    for i, sc in enumerate(SCENARIOS):
        for r in run_coverage(
            sc, args.trials, n=args.participants, t=args.decision_points, seed=args.seed + i
        ):
            worst.append(r["coverage"])
            rows.append(dict(r))
            print(
                f"| {r['scenario']} | {r['term']} | {r['truth']:.2f} | {r['mean_estimate']:.4f} "
                f"| {r['bias']:+.4f} ({r['mc_se_bias']:.4f}) | {r['sd_estimate']:.4f} "
                f"| {r['mean_se']:.4f} | {100 * r['coverage']:.1f}% "
                f"| {100 * r['coverage_uncorrected']:.1f}% |"
            )
    ok = all(0.935 <= c <= 0.965 for c in worst)
    print()
    print(
        f"all corrected coverages within 93.5-96.5%: {'yes' if ok else 'NO'}; "
        f"{time.perf_counter() - start:.1f} s"
    )
    record.write(
        {
            "rows": rows,
            "trials": args.trials,
            "participants": args.participants,
            "decision_points": args.decision_points,
            "mc_sd_coverage": mc,
            "all_within_93_5_to_96_5": ok,
        }
    )


if __name__ == "__main__":
    main()
