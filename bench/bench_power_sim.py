"""Benchmark: power of the framing study by simulation, batched fits vs a per-trial loop.

The framing study (``protocols/framing_affect.toml``: 30 decision points, 3
arms, probabilities by affective state) with its effects file, 1,000 trials
at 7 sample sizes (50 to 350), 2 outcomes x 2 contrasts x 2 terms: the wall
time of ``simulate_power`` (simulation through the protocol's randomizer, the
batched WCLS fits of the continuous outcome and the batched EMEE fits of the
binary one, ``--workers`` local processes) against the per-trial loop a
hand-written simulation script would run: each trial's long table analyzed by
the analyzer's single fit (``labmrt.analysis.wcls``, ``emee`` for the binary
outcome) per outcome and contrast. The loop is measured on ``--loop-trials`` trials per sample
size and extrapolated to all trials (stated in the output); both give the
same estimates (checked here to 1e-9 on those trials).

    .venv/bin/python bench/bench_power_sim.py [--trials 1000] [--workers 2] [--loop-trials 3]
"""

from __future__ import annotations

import argparse
import os
import time
from pathlib import Path

import numpy as np
from bench_record import BenchRecord

from labmrt.powersim.effects import load_effects
from labmrt.powersim.run import simulate_power
from labmrt.powersim.trials import SimPlan, analyze, analyze_single, simulate_trial
from labmrt.protocol import load_protocol

ROOT = Path(__file__).resolve().parents[1]


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--trials", type=int, default=1000)
    ap.add_argument("--workers", type=int, default=2)
    ap.add_argument("--loop-trials", type=int, default=3)
    args = ap.parse_args()
    record = BenchRecord("bench_power_sim", timing=True)
    protocol = load_protocol(ROOT / "protocols" / "framing_affect.toml")
    effects = load_effects(ROOT / "protocols" / "framing_affect_effects.toml", protocol)
    ns = list(range(50, 351, 50))
    print(f"load average {os.getloadavg()[0]:.1f}; {args.trials} trials x N = {ns}")

    start = time.perf_counter()
    result = simulate_power(
        protocol, effects, ns, args.trials, seed=1, null_trials=0, workers=args.workers
    )
    batched = time.perf_counter() - start
    per_n = {"wcls": 0, "emee": 0}
    for t in result.terms:
        if t.term.name == "(Intercept)":
            binary = effects.outcomes[t.term.outcome].scale == "binary"
            per_n["emee" if binary else "wcls"] += 1
    fits = {k: args.trials * len(ns) * v for k, v in per_n.items()}
    total = sum(fits.values())
    print(
        f"batched ({args.workers} workers): {batched:.1f} s for {args.trials} trials x {len(ns)} N "
        f"({fits['wcls']:,} WCLS + {fits['emee']:,} EMEE fits, "
        f"{batched / total * 1e6:.0f} us per fit, simulation included)"
    )

    plan = SimPlan(protocol, effects, max(ns), seed=1)
    loop_s, sim_s = 0.0, 0.0
    for j in range(args.loop_trials):
        t0 = time.perf_counter()
        data = simulate_trial(plan, j)
        sim_s += time.perf_counter() - t0
        for n in ns:
            part = data.first(n)
            t0 = time.perf_counter()
            ref = analyze_single(plan, part, 0)
            loop_s += time.perf_counter() - t0
            est = analyze(plan, part)[0][0]
            if not np.allclose(est, ref[0], rtol=1e-9, atol=1e-12):
                raise SystemExit(f"batched and looped fits differ at N = {n}: {est} vs {ref[0]}")
    per_trial = (loop_s + sim_s) / args.loop_trials
    loop_total = per_trial * args.trials
    print(
        f"per-trial loop of wcls()/emee() (one process): {per_trial:.2f} s per trial at all {len(ns)} N "
        f"(measured on {args.loop_trials} trials, extrapolated to {args.trials}): "
        f"{loop_total:.0f} s"
    )
    print(f"batched / loop: {batched / loop_total:.3f} ({loop_total / batched:.0f}x faster)")
    goal = "met" if batched < 60 else "NOT met"
    print(f"goal (under 60 s): {goal}")
    moderation = next(
        t
        for t in result.terms
        if t.term.outcome == "help_hint_seconds"
        and t.term.treated == "loss"
        and t.term.name != "(Intercept)"
    )
    print(
        f"loss vs neutral moderation by affect_state: N for power 0.8 = {moderation.n_for_target}"
    )
    record.write(
        {
            "trials": args.trials,
            "ns": ns,
            "workers": args.workers,
            "fits": fits,
            "batched_s": batched,
            "loop_per_trial_s": per_trial,
            "loop_extrapolated_s": loop_total,
            "loop_trials_measured": args.loop_trials,
            "batched_over_loop": batched / loop_total,
        }
    )


if __name__ == "__main__":
    main()
