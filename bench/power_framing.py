"""Power of the framing study by simulation, its type I error, and a check against the closed form.

1. The framing study as designed (``protocols/framing_affect.toml`` with
   ``protocols/framing_affect_effects.toml``): ``simulate_power`` at N = 50,
   100, ..., 350, ``--trials`` trials per N (seed 1), and as many trials with
   every effect 0 for the type I error: what ``labmrt power --simulate``
   prints for it, power per term and N with its Monte Carlo SE, the smallest
   N reaching power 0.8.
2. Against the closed form (Liao et al. 2016, ``labmrt power``): a two-arm
   protocol with a constant probability 0.4, availability 0.8, a constant
   effect of 0.2 within-SD (icc 0.25), 30 decision points, analyzed
   marginally with numerator 0.4, so the closed form with q = 1 applies;
   ``--check-trials`` trials at N = 10, 25, 40, 60.

Neither depends on the machine's load (the seconds are printed for
information only).

    .venv/bin/python bench/power_framing.py [--trials 1000] [--check-trials 3000] [--workers 2]
"""

from __future__ import annotations

import argparse
import sys
import tempfile
from pathlib import Path

import numpy as np
from bench_record import BenchRecord

from labmrt.analysis import power as mrtpower
from labmrt.powersim.effects import effects_from_dict, load_effects
from labmrt.powersim.run import describe, simulate_power
from labmrt.protocol import load_protocol

ROOT = Path(__file__).resolve().parents[1]
NS = list(range(50, 351, 50))
CHECK_NS = [10, 25, 40, 60]

MARGINAL = """\
[study]
title = "Marginal"
version = "1"

[[arms]]
id = "control"
label = "Control"
framing = "{task}"
baseline = true

[[arms]]
id = "treat"
label = "Treatment"
framing = "Now: {task}"

[randomization]
seed = 7
probabilities = { control = 0.6, treat = 0.4 }
"""


def framing(trials: int, workers: int) -> dict:
    protocol = load_protocol(ROOT / "protocols" / "framing_affect.toml")
    effects = load_effects(ROOT / "protocols" / "framing_affect_effects.toml", protocol)
    result = simulate_power(protocol, effects, NS, trials, seed=1, workers=workers)
    print("\n".join(describe(result)))
    out = result.to_dict()
    rates = np.array([tp.power for tp in result.type_one])
    out["type_one_summary"] = {
        "mean": float(rates.mean()),
        "min": float(rates.min()),
        "max": float(rates.max()),
        "mc_se": float(np.sqrt(0.05 * 0.95 / result.null_trials)),
        "rates": int(rates.size),
    }
    print(
        f"type I error over {rates.size} rates: mean {rates.mean():.3f} "
        f"(range {rates.min():.3f}-{rates.max():.3f})"
    )
    return out


def closed_form_check(trials: int, workers: int) -> dict:
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "marginal.toml"
        tasks = "\n".join(f'[[tasks]]\nid = "t{i}"\ntext = "task {i}"\n' for i in range(30))
        path.write_text(MARGINAL + tasks)
        protocol = load_protocol(path)
    doc = {
        "availability": {"share": 0.8},
        "analysis": {"moderator": "", "numerator_prob": 0.4},
        "outcomes": {"y": {"baseline": 1.0, "sd": 1.0, "icc": 0.25, "effects": {"treat": 0.2}}},
    }
    effects = effects_from_dict(doc, protocol, "effects")
    result = simulate_power(
        protocol, effects, CHECK_NS, trials, seed=3, null_trials=0, workers=workers
    )
    (term,) = result.terms
    design = mrtpower.StudyDesign(
        30,
        1,
        0.4,
        mrtpower.Trajectory("constant", 0.8),
        mrtpower.Trajectory("constant", 0.2 * np.sqrt(0.75)),  # standardized by the total SD
    )
    closed = mrtpower.power_curve(design, CHECK_NS, 0.05, null_params=1)
    rows = []
    print(f"\nsimulated vs closed form (q = 1), {trials} trials per N:")
    for n, sim, se, cf in zip(CHECK_NS, term.power, term.mc_se, closed, strict=True):
        rows.append({"n": n, "simulated": sim, "mc_se": se, "closed_form": float(cf)})
        print(f"  N = {n:>3}: {sim:.3f} +- {se:.3f} vs {cf:.3f}")
    return {"trials": trials, "rows": rows}


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--trials", type=int, default=1000)
    ap.add_argument("--check-trials", type=int, default=3000)
    ap.add_argument("--workers", type=int, default=2)
    args = ap.parse_args()
    record = BenchRecord("power_framing", timing=False)
    figures = {
        "framing": framing(args.trials, args.workers),
        "closed_form_check": closed_form_check(args.check_trials, args.workers),
    }
    record.write(figures)
    return 0


if __name__ == "__main__":
    sys.exit(main())
