"""Simulation with known truth: bias and 95% CI coverage of dcee and mcee on simulated studies.

The study of ``tests/e2e/test_distal_coverage.py`` at scale: participants of
``tests/e2e/mediation_check.toml`` (two arms, 4 scored tasks, the loss framing
with probability 0.4, a tenth of the points unavailable after breaks) run
through ``labmrt simulate``'s engine and store with the answers model of
``mediation_check_effects.toml`` (a loss framing lengthens help use and,
directly and through it, raises the chance of a right answer), exported, and
analyzed as independent studies of N participants: dcee for the distal
effect on the share of tasks answered correctly, mcee for its natural direct
and indirect parts. The truth of each study is its own
(:func:`labmrt.simulate.distal_truth`: the per-task effects of truth.json
averaged over its rows). Participants are simulated in batches of one study
folder each (exports of a very large store are slow), then split into
studies. Prints a Markdown table; figures to ``bench/results/distal_coverage.json``.

    .venv/bin/python bench/distal_coverage.py [--studies 300] [--participants 40 100]
"""

from __future__ import annotations

import argparse
import json
import math
import tempfile
import time
from pathlib import Path

import pandas as pd
from bench_record import ROOT, BenchRecord

from labmrt.export import export_study
from labmrt.protocol import load_protocol
from labmrt.simulate import compare_distal_with_truth, simulate_study

STUDY = ROOT / "tests" / "e2e" / "mediation_check.toml"
EFFECTS = ROOT / "tests" / "e2e" / "mediation_check_effects.toml"
BATCH = 800  # participants per simulated study folder


def run_scenario(n: int, studies: int, seed: int, tmp: Path) -> list[dict]:
    """``studies`` studies of ``n`` participants: one row per study and effect."""
    from sensors.simulate import ArousalSchedule

    protocol = load_protocol(STUDY)
    per_batch = max(1, BATCH // n)
    rows: list[dict] = []
    done, batch = 0, 0
    while done < studies:
        k = min(per_batch, studies - done)
        folder = tmp / f"n{n}_b{batch}"
        run = simulate_study(protocol, folder, k * n, schedule_factory=ArousalSchedule.random,
                             seed=seed + batch, effects=EFFECTS)  # fmt: skip
        files = export_study(folder, folder / "export", signals=False)
        table = pd.read_csv(files["decision_points"])
        truth = json.loads(run.truth_path.read_text())
        codes = sorted(table["participant"].unique())
        for g in range(k):
            part = table[table["participant"].isin(codes[g::k])]
            res = compare_distal_with_truth(part, truth, "loss-vs-baseline", mediator="help_s")
            for r in res.to_dict("records"):
                rows.append({"n": n, "study": done + g, **r})
        done += k
        batch += 1
        print(f"  N = {n}: {done}/{studies} studies", flush=True)
    return rows


def summarize(rows: list[dict]) -> list[dict]:
    frame = pd.DataFrame(rows)
    out = []
    for (n, effect), part in frame.groupby(["n", "effect"], sort=False):
        err = part["estimate"] - part["truth"]
        r = len(part)
        cov = float(part["covered"].mean())
        out.append(
            {
                "n": int(n),
                "effect": effect,
                "studies": r,
                "truth": float(part["truth"].mean()),
                "mean_estimate": float(part["estimate"].mean()),
                "bias": float(err.mean()),
                "mc_se_bias": float(err.std(ddof=1) / math.sqrt(r)),
                "sd_estimate": float(part["estimate"].std(ddof=1)),
                "mean_se": float(part["std_error"].mean()),
                "coverage": cov,
                "mc_se_coverage": math.sqrt(0.95 * 0.05 / r),
            }
        )
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--studies", type=int, default=300)
    ap.add_argument("--participants", type=int, nargs="+", default=[40, 100])
    ap.add_argument("--seed", type=int, default=1)
    args = ap.parse_args()
    record = BenchRecord("distal_coverage", timing=False)
    start = time.perf_counter()
    rows: list[dict] = []
    with tempfile.TemporaryDirectory(prefix="labmrt-distal-cov-") as tmp:
        for i, n in enumerate(args.participants):
            studies = args.studies if i == 0 else max(50, args.studies * args.participants[0] // n)
            rows += run_scenario(n, studies, args.seed + 1000 * i, Path(tmp))
    table = summarize(rows)
    print()
    print("| N | effect | studies | truth | mean estimate | bias (MC SE) | SD of estimates "
          "| mean SE | coverage (MC SE) |")  # fmt: skip
    print("|---:|---|---:|---:|---:|---:|---:|---:|---:|")
    for r in table:
        print(
            f"| {r['n']} | {r['effect']} | {r['studies']} | {r['truth']:.4f} "
            f"| {r['mean_estimate']:.4f} | {r['bias']:+.4f} ({r['mc_se_bias']:.4f}) "
            f"| {r['sd_estimate']:.4f} | {r['mean_se']:.4f} "
            f"| {100 * r['coverage']:.1f}% ({100 * r['mc_se_coverage']:.1f}%) |"
        )
    within = all(abs(r["coverage"] - 0.95) <= 3 * r["mc_se_coverage"] for r in table)
    unbiased = all(abs(r["bias"]) <= 3 * r["mc_se_bias"] for r in table)
    print()
    print(
        f"coverage within 3 Monte Carlo SEs of 95%: {'yes' if within else 'NO'}; "
        f"bias within 3 Monte Carlo SEs of 0: {'yes' if unbiased else 'NO'}; "
        f"{time.perf_counter() - start:.0f} s"
    )
    record.write(
        {
            "rows": table,
            "coverage_within_3_mc_se": within,
            "bias_within_3_mc_se": unbiased,
            "worst_coverage": min(r["coverage"] for r in table),
        },
        study=str(STUDY.relative_to(ROOT)),
        effects=str(EFFECTS.relative_to(ROOT)),
    )


if __name__ == "__main__":
    main()
