"""Benchmark: a simulated study of 40 participants x 30 decision points, exported and analyzed.

Goal: under 60 s from simulation to the last WCLS fit. Prints the time of each
stage, and, as a baseline measured in the same run, the time plain sqlite3 needs
to commit the same number of rows one commit each (what the session engine must
do at least, since every fact is committed as it happens): the ratio is the
engine's overhead over bare durable writes.

    .venv/bin/python bench/bench_simulated_study.py [--participants 40] [--synchronous NORMAL]
"""

from __future__ import annotations

import argparse
import json
import sqlite3
import tempfile
import time
from pathlib import Path

import pandas as pd
from bench_record import BenchRecord

from labmrt.commands.simulate import schedule_factory
from labmrt.export import export_study
from labmrt.protocol import load_protocol
from labmrt.simulate import compare_with_truth, simulate_study
from labmrt.store import StudyStore

ROOT = Path(__file__).resolve().parents[1]


def count_rows(study: Path) -> int:
    with StudyStore.open(study, readonly=True) as store:
        return sum(
            len(frame)
            for frame in (
                store.decisions(),
                store.events(),
                store.presentations(),
                store.outcomes(),
                store.states(),
                store.markers(),
                store.status_history(),
                store.phases(),
            )
        )


def baseline_commits(folder: Path, n: int, synchronous: str) -> float:
    """n single-row commits of a 200-byte row with plain sqlite3 (WAL)."""
    conn = sqlite3.connect(folder / "baseline.sqlite", isolation_level=None)
    conn.execute("PRAGMA journal_mode=WAL")
    conn.execute(f"PRAGMA synchronous={synchronous}")
    conn.execute("CREATE TABLE facts (id INTEGER PRIMARY KEY, session INTEGER, t REAL, doc TEXT)")
    doc = "x" * 200
    start = time.perf_counter()
    for i in range(n):
        conn.execute("INSERT INTO facts (session, t, doc) VALUES (?, ?, ?)", (1, float(i), doc))
    elapsed = time.perf_counter() - start
    conn.close()
    return elapsed


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--participants", type=int, default=40)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--synchronous", default="NORMAL", choices=("NORMAL", "FULL"))
    args = parser.parse_args()
    record = BenchRecord("bench_simulated_study", timing=True)
    protocol = load_protocol(ROOT / "protocols" / "framing_affect.toml")
    with tempfile.TemporaryDirectory() as tmp:
        study = Path(tmp) / "study"
        t0 = time.perf_counter()
        run = simulate_study(
            protocol,
            study,
            args.participants,
            schedule_factory=schedule_factory,
            seed=args.seed,
            synchronous=args.synchronous,
        )
        t1 = time.perf_counter()
        written = export_study(study, None, format="csv", signals=True)
        t2 = time.perf_counter()
        table = pd.read_csv(written["decision_points"])
        truth = json.loads(run.truth_path.read_text())
        results = compare_with_truth(table, truth)
        t3 = time.perf_counter()
        n_rows = count_rows(study)
        base = baseline_commits(Path(tmp), n_rows, args.synchronous)
    total = t3 - t0
    n_dp = run.n_decisions
    print(f"simulated study: {args.participants} participants x {len(protocol.tasks)} tasks")
    print(f"  decision points          {n_dp} ({run.n_available} available)")
    print(f"  rows committed           {n_rows} (synchronous={args.synchronous})")
    print(
        f"  simulate (engine+store)  {t1 - t0:7.2f} s  ({1e3 * (t1 - t0) / n_dp:.2f} ms/decision)"
    )
    print(f"  export (CSV + XDF)       {t2 - t1:7.2f} s")
    print(f"  analyze (4 WCLS fits)    {t3 - t2:7.2f} s")
    print(
        f"  total                    {total:7.2f} s  (goal < 60 s: {'met' if total < 60 else 'MISSED'})"
    )
    print(
        f"  baseline: {n_rows} bare sqlite3 commits {base:.2f} s; "
        f"engine simulation / baseline = {(t1 - t0) / base:.2f}x"
    )
    print(f"  true effects inside 95% CI: {int(results['covered'].sum())}/{len(results)}")
    record.write(
        {
            "participants": args.participants,
            "decision_points": n_dp,
            "rows": n_rows,
            "synchronous": args.synchronous,
            "simulate_s": t1 - t0,
            "export_s": t2 - t1,
            "analyze_s": t3 - t2,
            "total_s": total,
            "baseline_commits_s": base,
            "simulate_over_baseline": (t1 - t0) / base,
            "effects_covered": int(results["covered"].sum()),
            "effects": len(results),
        }
    )


if __name__ == "__main__":
    main()
