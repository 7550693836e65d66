"""Benchmark: 5,000 re-drawn WCLS fits (2 moderators, 3 controls, 60 x 100) batched vs looped.

Prints the wall time of the batched randomization check for all draws, the
time per fit of looping the analyzer's single fit (``wcls.fit_design`` on
``Design.with_treatment``, measured on a subset of the same draws), and their
ratio. Both give the same numbers (checked here to 1e-10). Two cases: the
issue's 60 participants (plain sandwich, as MRTAnalysis above 50) and a
lab-sized 40 (Mancl-DeRouen correction).

    .venv/bin/python bench/bench_robustness.py [--draws 5000] [--loop-draws 100]
"""

from __future__ import annotations

import argparse
import time

import numpy as np
import pandas as pd

from labmrt.analysis.design import build_design
from labmrt.analysis.emee import fit_emee_design
from labmrt.analysis.robustness import arm_design, draw_arms, fit_batch, randomization_test
from labmrt.analysis.wcls import fit_design


def simulate(n_part: int = 60, n_dp: int = 100, seed: int = 7) -> pd.DataFrame:
    """A binary-treatment MRT with a context-dependent probability and a known effect."""
    rng = np.random.default_rng(seed)
    rows = n_part * n_dp
    pid = np.repeat(np.arange(n_part), n_dp)
    aroused = rng.random(rows) < 0.4
    difficulty = rng.normal(size=rows)
    prior = rng.normal(size=rows)
    baseline = np.repeat(rng.normal(size=n_part), n_dp)
    avail = rng.random(rows) < 0.85
    prob = np.where(aroused, 0.7, 0.4)
    a = ((rng.random(rows) < prob) & avail).astype(int)
    y = (
        0.5 * baseline
        + 0.3 * prior
        - 0.2 * difficulty
        + a * (0.15 + 0.1 * aroused - 0.05 * difficulty)
        + rng.normal(size=rows)
    )
    return pd.DataFrame(
        {
            "participant": pid,
            "available": avail.astype(int),
            "treated": a,
            "prob": prob,
            "aroused": aroused.astype(int),
            "difficulty": difficulty,
            "prior": prior,
            "baseline": baseline,
            "y": y,
        }
    )


def run_case(n_part: int, draws: int, loop_draws: int) -> None:
    frame = simulate(n_part=n_part)
    design = build_design(
        frame,
        id="participant",
        outcome="y",
        treatment="treated",
        rand_prob="prob",
        moderators=["aroused", "difficulty"],
        controls=["prior", "aroused", "difficulty"],
        availability="available",
        numerator_prob=0.5,
    )
    arm = arm_design(design)
    print(
        f"\n{n_part} participants x {len(frame) // n_part} decision points, effect terms "
        f"{design.effect_names}, controls {design.control_names}, "
        f"Mancl-DeRouen correction: {arm.small_sample}"
    )
    fit_batch(arm, arm.observed[None])  # warm-up
    t0 = time.perf_counter()
    result = randomization_test(arm, draws, seed=1)
    batched = time.perf_counter() - t0
    arms = draw_arms(arm, np.random.default_rng(5), loop_draws)
    # Baseline: the analyzer's single fit, called once per draw.
    mode = "always" if arm.small_sample else "never"
    t0 = time.perf_counter()
    single = [fit_design(design.with_treatment(a.astype(float)), mode) for a in arms]
    loop_per_fit = (time.perf_counter() - t0) / loop_draws
    p = len(design.effect_names)
    est_loop = np.array([f.theta[-p:] for f in single])
    se_loop = np.array([np.sqrt(np.diag(f.cov)[-p:]) for f in single])
    same = fit_batch(arm, arms)
    diff = max(np.abs(same.estimate - est_loop).max(), np.abs(same.se - se_loop).max())
    assert diff < 1e-10, diff
    loop_all = loop_per_fit * draws
    print(
        f"  batched: {draws} re-drawn fits in {batched:.2f} s "
        f"({1e3 * batched / draws:.3f} ms per fit)"
    )
    print(
        f"  loop of the analyzer's single fit (wcls.fit_design): {1e3 * loop_per_fit:.2f} ms "
        f"per fit (measured on {loop_draws} fits) -> {loop_all:.1f} s for {draws}"
    )
    print(f"  ratio loop / batched: {loop_all / batched:.1f}x; max |difference| {diff:.1e}")
    for term in result.terms:
        print(
            f"  {term.name:>12}: estimate {term.estimate:+.4f}, p {term.p_value:.2g}, "
            f"re-drawn significant {100 * term.share_significant:.1f}% at alpha 0.05, "
            f"randomization p {term.randomization_p:.4f}"
        )


def run_emee_case(n_part: int, draws: int, loop_draws: int) -> None:
    """EMEE (binary outcome): batched Newton for all draws vs looping emee.fit_emee_design."""
    frame = simulate(n_part=n_part)
    frame["y"] = (frame["y"] > 0.3).astype(int)
    design = build_design(
        frame,
        id="participant",
        outcome="y",
        treatment="treated",
        rand_prob="prob",
        moderators=["aroused"],
        controls=["prior", "aroused", "difficulty"],
        availability="available",
        binary_outcome=True,
    )
    arm = arm_design(design, estimator="emee")
    print(f"\nEMEE, {n_part} participants x {len(frame) // n_part} decision points")
    t0 = time.perf_counter()
    randomization_test(arm, draws, seed=1)
    batched = time.perf_counter() - t0
    arms = draw_arms(arm, np.random.default_rng(5), loop_draws)
    t0 = time.perf_counter()
    single = [fit_emee_design(design.with_treatment(a.astype(float))) for a in arms]
    loop_per_fit = (time.perf_counter() - t0) / loop_draws
    p = len(design.effect_names)
    est_loop = np.array([f.theta[-p:] for f in single])
    diff = np.abs(fit_batch(arm, arms).estimate - est_loop).max()
    assert diff < 1e-8, diff
    print(
        f"  batched: {draws} re-drawn fits in {batched:.2f} s; loop of emee.fit_emee_design: "
        f"{1e3 * loop_per_fit:.2f} ms per fit -> {loop_per_fit * draws:.1f} s "
        f"({loop_per_fit * draws / batched:.1f}x); max |difference| {diff:.1e}"
    )


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--draws", type=int, default=5000)
    ap.add_argument("--loop-draws", type=int, default=100)
    args = ap.parse_args()
    run_case(60, args.draws, args.loop_draws)  # the case: plain sandwich (n > 50)
    run_case(40, args.draws, args.loop_draws)  # a lab-sized study: small-sample correction
    run_emee_case(40, args.draws, min(args.loop_draws, 50))


if __name__ == "__main__":
    main()
