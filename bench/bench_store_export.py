"""Store and export figures: commit latency of decisions, raw-sample throughput, export time.

Run: .venv/bin/python bench/bench_store_export.py [--participants 40] [--points 30]

Baselines measured in the same run: a decision commit is compared with a plain
SQLite INSERT + commit into a WAL database at synchronous=NORMAL (what durability
against power loss costs), and the export with reading the same rows back.
"""

from __future__ import annotations

import argparse
import sqlite3
import tempfile
import time
from pathlib import Path

import numpy as np

from labmrt.export import export_study
from labmrt.store import StudyStore


class _Proto:
    content_hash = "bench"
    canonical_json = "{}"


def _decision(dp: int, rng: np.random.Generator) -> dict:
    arm = ["neutral", "gain", "loss"][int(rng.integers(3))]
    return {
        "decision_point": dp,
        "task_index": dp,
        "task_id": f"t{dp}",
        "t": 100.0 + dp,
        "available": True,
        "arm": arm,
        "probabilities": {"neutral": 0.4, "gain": 0.3, "loss": 0.3},
        "context": {"affect_state": "calm"},
        "uniform": float(rng.random()),
        "state": "calm",
        "p_aroused": 0.2,
        "features": {"hr": 70.0, "rmssd": 40.0, "scl": 2.0},
        "windows": {"hr": [70.0, 100.0]},
        "quality": {"ecg": 1.0, "eda": 1.0},
        "controls": {"difficulty": 1.0, "time_in_session_s": 10.0 * dp},
    }


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--participants", type=int, default=40)
    ap.add_argument("--points", type=int, default=30)
    args = ap.parse_args()
    rng = np.random.default_rng(0)
    with tempfile.TemporaryDirectory() as tmp:
        tmp_path = Path(tmp)
        # baseline: plain INSERT + commit, WAL, synchronous=NORMAL
        conn = sqlite3.connect(tmp_path / "plain.sqlite", isolation_level=None)
        conn.execute("PRAGMA journal_mode=WAL")
        conn.execute("PRAGMA synchronous=NORMAL")
        conn.execute("CREATE TABLE d (i INTEGER, payload TEXT)")
        n = 300
        t0 = time.perf_counter()
        for i in range(n):
            conn.execute("INSERT INTO d VALUES (?, ?)", (i, "x" * 400))
        plain = (time.perf_counter() - t0) / n
        conn.close()

        study = tmp_path / "study"
        t_dec: list[float] = []
        n_samples = 0
        t_samples = 0.0
        with StudyStore.open(study, create=True) as st:
            for p in range(args.participants):
                sid = st.create_session(f"P{p:03d}", _Proto(), started_t=0.0)
                for dp in range(args.points):
                    row = _decision(dp, rng)
                    t0 = time.perf_counter()
                    st.add_decision(sid, row)
                    t_dec.append(time.perf_counter() - t0)
                    st.add_outcomes(sid, dp, {"help_seconds": float(rng.exponential())})
                    st.add_event(sid, {"decision_point": dp, "t": 100.5 + dp, "feature": "help",
                                       "action": "open"})  # fmt: skip
                # one minute of ECG at 250 Hz and EDA at 32 Hz, pushed in 32-sample chunks
                t0 = time.perf_counter()
                for kind, sfreq in (("ecg", 250.0), ("eda", 32.0)):
                    total = int(60 * sfreq)
                    for start in range(0, total, 32):
                        k = min(32, total - start)
                        ts = (start + np.arange(k)) / sfreq
                        st.add_samples(sid, kind, f"{kind}-{p}", rng.normal(size=(k, 1)), ts, sfreq)
                        n_samples += k
                st.flush()
                t_samples += time.perf_counter() - t0
        t_dec_arr = np.array(t_dec) * 1e3
        size_mb = (study / "labmrt.sqlite").stat().st_size / 1e6

        with StudyStore.open(study, readonly=True) as st:
            t0 = time.perf_counter()
            st.decisions()
            st.outcomes()
            read_s = time.perf_counter() - t0
        t0 = time.perf_counter()
        export_study(study, tmp_path / "out", signals=False)
        export_tables_s = time.perf_counter() - t0
        t0 = time.perf_counter()
        export_study(study, tmp_path / "out2")
        export_all_s = time.perf_counter() - t0

    rows = args.participants * args.points
    print(f"study: {args.participants} participants x {args.points} decision points = {rows} rows")
    print(
        f"add_decision commit (WAL, synchronous=FULL): median {np.median(t_dec_arr):.2f} ms, "
        f"p99 {np.percentile(t_dec_arr, 99):.2f} ms; plain INSERT+commit at NORMAL "
        f"{plain * 1e3:.2f} ms (ratio {np.median(t_dec_arr) / (plain * 1e3):.1f}x)"
    )
    print(
        f"raw samples: {n_samples} samples in 32-sample chunks stored at "
        f"{n_samples / t_samples / 1e3:.0f} k samples/s; database {size_mb:.1f} MB"
    )
    print(
        f"export tables+codebook: {export_tables_s:.2f} s (reading the rows alone {read_s:.2f} s, "
        f"ratio {export_tables_s / read_s:.1f}x); with signals (XDF + CSV): {export_all_s:.2f} s"
    )


if __name__ == "__main__":
    main()
