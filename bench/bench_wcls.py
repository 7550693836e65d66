"""Benchmark: the whole ``wcls()`` call on large MRT tables, vs a plain numpy WCLS.

Cases (3 moderators, 6 controls, constant randomization probability 0.4, an
availability column; the moderators are also controls, so 10 control and 4
effect coefficients):

- 1,000 participants x 1,000 decision points (1M rows);
- 10,000 x 100 (1M rows).

Both have more than 50 participants, so the plain cluster sandwich is used.
``wcls()`` runs from the loaded DataFrame (checks, design, solve, variance,
result). The baseline, measured in the same run and interleaved with it, is
the straightforward numpy version of the same estimator from the same
DataFrame: the design by ``np.hstack``, the weights, one weighted least
squares solve, per-participant score sums (``np.unique`` + ``np.bincount``,
faster than ``np.add.at``) and the cluster sandwich ``B^-1 (sum_i U_i U_i') B^-1``. The bench checks that
both give the same estimates and covariance. Times are medians of
``--repeat`` runs (others may load the machine).

A third case, 40 x 1,000, has the Mancl-DeRouen correction applied (at most 50
participants); its check is the textbook per-participant loop with the dense
T x T correction ``(I - H_ii)^{-1} r_i`` (``sandwich_dense_loop``).

    .venv/bin/python bench/bench_wcls.py [--repeat 7] [--skip-io]
"""

from __future__ import annotations

import argparse
import os
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
CONTROLS = ["c1", "c2", "c3", "c4", "c5", "c6"]
PROB = 0.4
NUMERATOR = 0.5  # MRTAnalysis's default numerator probability

# Goal: the whole call at most this fraction of the baseline, and at most this long.
GOAL_RATIO = 0.5
GOAL_SECONDS = 0.3


def simulate(n: int, t: int, seed: int = 0) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    rows = n * t
    m = rng.standard_normal((rows, len(MODERATORS)))
    c = rng.standard_normal((rows, len(CONTROLS)))
    avail = rng.random(rows) < 0.8
    a = ((rng.random(rows) < PROB) & avail).astype(np.int64)
    y = (
        np.repeat(rng.standard_normal(n), t)
        + c @ np.linspace(0.3, -0.2, len(CONTROLS))
        + 0.2 * m[:, 1]
        + a * (0.2 + 0.1 * m[:, 0])
        + rng.standard_normal(rows)
    )
    frame = pd.DataFrame(
        {
            "participant": np.repeat(np.arange(n), t),
            "decision_point": np.tile(np.arange(1, t + 1), n),
            "available": avail.astype(np.int64),
            "A": a,
            "y": y,
        }
    )
    for j, name in enumerate(MODERATORS):
        frame[name] = m[:, j]
    for j, name in enumerate(CONTROLS):
        frame[name] = c[:, j]
    return frame


KW = dict(
    id="participant",
    outcome="y",
    treatment="A",
    rand_prob=PROB,
    moderators=MODERATORS,
    controls=CONTROLS,
    availability="available",
    decision_point="decision_point",
)


def plain_numpy(frame: pd.DataFrame) -> tuple[np.ndarray, np.ndarray]:
    """WCLS as a numpy user writes it: design, weights, one WLS solve, cluster sandwich.

    Coefficients in the same order as ``wcls()``: intercept, controls,
    moderators (the working model), then the effect block ``(A - 0.5) S``.
    """
    ids = frame["participant"].to_numpy()
    avail = frame["available"].to_numpy(dtype=float)
    a = frame["A"].to_numpy(dtype=float)
    y = frame["y"].to_numpy(dtype=float)
    working = frame[CONTROLS + MODERATORS].to_numpy(dtype=float)
    mods = frame[MODERATORS].to_numpy(dtype=float)
    ones = np.ones((len(frame), 1))
    s = np.hstack([ones, mods])
    x = np.hstack([ones, working, (a - NUMERATOR)[:, None] * s])
    w = avail * np.where(a == 1, NUMERATOR / PROB, (1 - NUMERATOR) / (1 - PROB))
    xw = x * w[:, None]
    bread = np.linalg.inv(xw.T @ x)
    theta = bread @ (xw.T @ y)
    r = y - x @ theta
    _, cluster = np.unique(ids, return_inverse=True)
    u = xw * r[:, None]
    scores = np.column_stack([np.bincount(cluster, weights=u[:, j]) for j in range(u.shape[1])])
    return theta, bread @ (scores.T @ scores) @ bread


def interleaved(fns: dict, repeat: int) -> dict[str, list[float]]:
    """Run the functions in turn ``repeat`` times, so that load from others hits all alike."""
    times: dict[str, list[float]] = {name: [] for name in fns}
    for _ in range(repeat):
        for name, fn in fns.items():
            t0 = time.perf_counter()
            fn()
            times[name].append(time.perf_counter() - t0)
    return times


def blas_note() -> str:
    env = ", ".join(
        f"{k}={os.environ[k]}" for k in ("OPENBLAS_CORETYPE", "OPENBLAS_L2_SIZE") if k in os.environ
    )
    try:
        from threadpoolctl import threadpool_info

        info = [
            f"{d.get('internal_api')} {d.get('architecture')} x{d.get('num_threads')}"
            for d in threadpool_info()
            if d.get("user_api") == "blas"
        ]
    except ImportError:
        info = []
    return f"BLAS: {'; '.join(info) or 'unknown'}; {env or 'OPENBLAS_CORETYPE not set'}"


def load_note() -> str:
    one, five, _ = os.getloadavg()
    return f"load average {one:.1f} (1 min), {five:.1f} (5 min)"


def run_case(n: int, t: int, repeat: int, io: bool) -> bool:
    frame = simulate(n, t)
    load_before = load_note()
    label = f"{n:,} x {t:,} ({len(frame):,} rows)"
    res = wcls(frame, **KW)
    theta, cov = plain_numpy(frame)
    err_theta = np.max(np.abs(res.params - theta)) / np.max(np.abs(theta))
    err_cov = np.max(np.abs(res.cov_used - cov)) / np.max(np.abs(cov))
    if res.small_sample_applied or max(err_theta, err_cov) > 1e-9:
        raise SystemExit(f"{label}: wcls() and the baseline disagree ({err_theta}, {err_cov})")
    tracemalloc.start()
    wcls(frame, **KW)
    _, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    design = build_design(frame, **KW)
    times = interleaved(
        {
            "wcls": lambda: wcls(frame, **KW),
            "baseline": lambda: plain_numpy(frame),
            "build": lambda: build_design(frame, **KW),
            "fit": lambda: fit_design(design),
        },
        repeat,
    )
    med = {k: float(np.median(v)) for k, v in times.items()}
    ratios = np.array(times["wcls"]) / np.array(times["baseline"])
    ratio = float(np.median(ratios))
    met = ratio <= GOAL_RATIO and med["wcls"] <= GOAL_SECONDS
    print(f"\n{label}: plain sandwich (more than 50 participants)")
    print(f"  machine: {load_before} before, {load_note()} after")
    print(f"  wcls() from the DataFrame:         {med['wcls']:7.3f} s (median of {repeat})")
    print(f"    build_design alone:              {med['build']:7.3f} s")
    print(f"    fit_design alone:                {med['fit']:7.3f} s")
    print(f"  baseline (plain numpy WCLS):       {med['baseline']:7.3f} s")
    print(
        f"  wcls() / baseline:                 {ratio:7.2f}   (median of the per-run ratios; "
        f"range {ratios.min():.2f}-{ratios.max():.2f})"
    )
    print(
        f"  goal <= {GOAL_RATIO} x baseline and <= {GOAL_SECONDS} s: {'met' if met else 'NOT met'}"
    )
    print(f"  same numbers: max rel. diff estimates {err_theta:.1e}, covariance {err_cov:.1e}")
    print(f"  peak memory of wcls() (tracemalloc): {peak / 2**20:5.0f} MiB")
    print(
        f"  marginal effect {res.table.estimate.iloc[0]:.4f} (SE {res.table.std_error.iloc[0]:.4f})"
    )
    if io:
        with tempfile.TemporaryDirectory() as tmp:
            csv, pq = Path(tmp) / "d.csv", Path(tmp) / "d.parquet"
            frame.to_csv(csv, index=False)
            frame.to_parquet(pq)
            load = interleaved({"csv": lambda: read_table(csv), "pq": lambda: read_table(pq)}, 1)
        print(
            f"  load CSV {load['csv'][0]:.2f} s, Parquet {load['pq'][0]:.2f} s "
            "(separate from the fit)"
        )
    return met


def run_corrected(repeat: int) -> None:
    n, t = 40, 1000
    frame = simulate(n, t)
    design = build_design(frame, **KW)
    fit = fit_design(design)
    x, w, y = design.x, design.w, design.y
    bread = np.linalg.inv((x * w[:, None]).T @ x)
    r = y - x @ fit.theta
    times = interleaved(
        {
            "wcls": lambda: wcls(frame, **KW),
            "dense": lambda: sandwich_dense_loop(x, w, r, design.starts, bread, True),
        },
        max(1, repeat // 3),
    )
    want = sandwich_dense_loop(x, w, r, design.starts, bread, True)
    agree = np.max(np.abs(want - fit.cov)) / np.abs(fit.cov).max()
    print(f"\n{n} x {t:,}: Mancl-DeRouen correction applied")
    print(f"  wcls() from the DataFrame:         {np.median(times['wcls']):7.3f} s")
    print(f"  dense loop, correction only:       {np.median(times['dense']):7.3f} s")
    print(f"  max |cov - dense loop cov| / max|cov|: {agree:.1e}")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--repeat", type=int, default=7)
    ap.add_argument("--skip-io", action="store_true")
    args = ap.parse_args()
    print(
        f"WCLS benchmark: 10 control + 4 effect coefficients, p = {PROB}; {blas_note()}; "
        f"{os.cpu_count()} cores"
    )
    met = [
        run_case(n, t, args.repeat, io=not args.skip_io) for n, t in ((1000, 1000), (10000, 100))
    ]
    run_corrected(args.repeat)
    print(f"\ngoal met in {sum(met)} of {len(met)} large cases")


if __name__ == "__main__":
    main()
