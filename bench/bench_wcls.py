"""Benchmark: WCLS fit + sandwich variance on large MRT tables, vs a straightforward loop.

Cases (3 moderators, 3 controls; moderators are also controls, so 7 control
and 4 effect coefficients):

- 1,000 participants x 1,000 decision points (1M rows, plain sandwich: > 50);
- 10,000 x 100 (1M rows, plain sandwich);
- 40 x 1,000 (Mancl-DeRouen correction applies: <= 50 participants).

For each: ``wcls()`` from the loaded DataFrame (checks + design + solve +
variance), the solve + variance alone (``fit_design``), and the baseline
measured in the same run: the same WLS solve followed by a per-participant
Python loop with the dense T x T correction ``(I - H_ii)^{-1} r_i``
(``sandwich_dense_loop``). Both give the same covariance (checked here).
Peak memory is the tracemalloc peak of the ``wcls()`` call. Reading the same
table from CSV and Parquet is timed separately.

    .venv/bin/python bench/bench_wcls.py [--repeat 3] [--skip-io]
"""

from __future__ import annotations

import argparse
import tempfile
import time
import tracemalloc
from pathlib import Path

import numpy as np
import pandas as pd

from labmrt.analysis import read_table, wcls
from labmrt.analysis.design import build_design
from labmrt.analysis.sandwich import sandwich_dense_loop
from labmrt.analysis.wcls import fit_design

MODERATORS = ["m1", "m2", "m3"]
CONTROLS = ["c1", "c2", "c3"]


def simulate(n: int, t: int, seed: int = 0) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    rows = n * t
    m = rng.standard_normal((rows, 3))
    c = rng.standard_normal((rows, 3))
    avail = rng.random(rows) < 0.8
    prob = np.where(m[:, 0] > 0, 0.6, 0.4)
    a = ((rng.random(rows) < prob) & avail).astype(np.int8)
    y = (
        np.repeat(rng.standard_normal(n), t)
        + c @ [0.3, -0.2, 0.1]
        + a * (0.2 + 0.1 * m[:, 0])
        + rng.standard_normal(rows)
    )
    frame = pd.DataFrame(
        {
            "participant": np.repeat(np.arange(n), t),
            "decision_point": np.tile(np.arange(1, t + 1), n),
            "available": avail.astype(np.int8),
            "A": a,
            "prob": prob,
            "y": y,
        }
    )
    for j in range(3):
        frame[MODERATORS[j]] = m[:, j]
        frame[CONTROLS[j]] = c[:, j]
    return frame


KW = dict(
    id="participant",
    outcome="y",
    treatment="A",
    rand_prob="prob",
    moderators=MODERATORS,
    controls=CONTROLS,
    availability="available",
    decision_point="decision_point",
)


def best_of(fn, repeat: int) -> tuple[float, object]:
    times, out = [], None
    for _ in range(repeat):
        t0 = time.perf_counter()
        out = fn()
        times.append(time.perf_counter() - t0)
    return min(times), out


def baseline(design, corrected: bool) -> np.ndarray:
    """Straightforward: WLS, then a Python loop over participants with dense correction."""
    x, w, y = design.x, design.w, design.y
    xtw = x.T * w
    bread = np.linalg.inv(xtw @ x)
    theta = bread @ (xtw @ y)
    r = y - x @ theta
    return sandwich_dense_loop(x, w, r, design.starts, bread, corrected)


def run_case(n: int, t: int, repeat: int, io: bool) -> None:
    frame = simulate(n, t)
    label = f"{n:,} x {t:,} ({len(frame):,} rows)"
    tracemalloc.start()
    res = wcls(frame, **KW)
    _, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    t_api, res = best_of(lambda: wcls(frame, **KW), repeat)
    design = build_design(frame, **KW)
    t_fit, fit = best_of(lambda: fit_design(design), repeat)
    corrected = fit.small_sample_applied
    t_base, cov_base = best_of(lambda: baseline(design, corrected), 1)
    agree = np.max(np.abs(cov_base - fit.cov) / np.abs(fit.cov).max())
    print(f"\n{label}: small-sample correction {'applied' if corrected else 'not applied'}")
    print(f"  wcls() from DataFrame (checks+design+fit+variance): {t_api:7.3f} s")
    print(f"  fit + variance (fit_design):                        {t_fit:7.3f} s")
    print(f"  baseline (loop over participants, dense T x T):      {t_base:7.3f} s")
    print(f"  speed-up fit+variance vs baseline:                  {t_base / t_fit:7.1f} x")
    print(f"  peak memory of wcls() (tracemalloc):                {peak / 2**20:7.0f} MiB")
    print(f"  max |cov - baseline cov| / max|cov|:                {agree:9.1e}")
    print(
        f"  marginal effect {res.table.estimate.iloc[0]:.4f} (SE {res.table.std_error.iloc[0]:.4f})"
    )
    if not corrected and t >= 1000:
        # What the correction would cost densely at this size, from a few participants.
        few = build_design(frame[frame.participant < 5], **KW)
        t_few, _ = best_of(lambda: baseline(few, True), 1)
        t_fast, _ = best_of(lambda: fit_design(design, small_sample="always"), repeat)
        print(
            f"  with the correction forced: fast {t_fast:.3f} s; dense baseline "
            f"~{t_few / 5 * n:.0f} s (extrapolated from 5 participants)"
        )
    if io:
        with tempfile.TemporaryDirectory() as tmp:
            csv, pq = Path(tmp) / "d.csv", Path(tmp) / "d.parquet"
            frame.to_csv(csv, index=False)
            frame.to_parquet(pq)
            t_csv, _ = best_of(lambda: read_table(csv), 1)
            t_pq, _ = best_of(lambda: read_table(pq), 1)
        print(f"  load CSV {t_csv:.2f} s, Parquet {t_pq:.2f} s (separate from the fit)")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--skip-io", action="store_true")
    args = ap.parse_args()
    print("WCLS benchmark (best of", args.repeat, "runs; 7 control + 4 effect coefficients)")
    for n, t in ((1000, 1000), (10000, 100), (40, 1000)):
        run_case(n, t, args.repeat, io=not args.skip_io and n * t >= 10**6)


if __name__ == "__main__":
    main()
