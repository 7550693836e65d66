"""The affective state on real wrist recordings (Stress-Predict, Empatica E4), next to a naive threshold.

Run: ``.venv/bin/python bench/sensors_real.py [--subjects S02,S05] [--jobs 2]``
(about 1 min of CPU per participant; skips with a reason when the data
folder ``../shared/data/stress_predict`` is absent).

Data: 17 people (S02-S18 of the Stress-Predict Dataset, Iqbal et al. 2022,
Sensors 22:8135) wearing an E4 wristband (BVP 64 Hz, EDA 4 Hz) through a
questionnaire baseline, a Stroop test, an interview and relax phases; the
phases are in ``segments.csv``.

Protocol, fixed before any figure was looked at:

* the recordings are replayed exactly as live: :func:`sensors.signals.pipeline.offline_updates`
  feeds the same :class:`~sensors.signals.pipeline.FeaturePipeline` one update per
  second with the newest samples (from 60 s on: the E4 settles first);
* calibration rest = the last :data:`CAL_S` seconds of the baseline,
  calibration stressor = the first :data:`CAL_S` seconds of the Stroop test;
  the calibration windows are picked by the monitor's own rules
  (:class:`sensors.state.calibration.CalibrationPhase`) and are the only labels the
  classifier sees (:meth:`sensors.state.calibration.fit_rows` fits it as the monitor
  does);
* the classifier then runs over every update in order (as the monitor would
  once calibrated, so its smoothing carries over from one update to the
  next); scored are every other update of the baseline and relax1-3 (calm)
  and of the Stroop and interview (aroused), skipping :data:`SKIP_S` seconds
  after each phase change; ``unknown`` is counted apart;
* a participant whose calibration did not separate gets states from the
  rest reference (the monitor's default, ``[sensors] not_separated``); the
  pooled figures are also given with those states withheld (``"unknown"``);
* naive threshold, on the same updates: the mean raw EDA of the last 10 s,
  aroused above the midpoint between its means over the two calibration
  spans.

Balanced accuracy is over known states (baseline vs Stroop + interview, and
with the relax phases counted as calm); "outside calibration" leaves out the
updates inside the two calibration spans, which the protocol scores too.
"""

from __future__ import annotations

import argparse
import copy
import functools
import hashlib
import math
import pickle
import sys
import time
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from bench_record import BenchRecord  # noqa: E402

from labmrt.errors import LabmrtError  # noqa: E402
from sensors.signals import FeaturePipeline, UpdateResult, offline_updates  # noqa: E402
from sensors.state import (  # noqa: E402
    FEATURE_SETS,
    LIVE_FEATURES,
    AffectClassifier,
    CalibrationPhase,
    fit_rows,
)

DATA = ROOT.parent / "shared" / "data" / "stress_predict"
SUBJECTS = tuple(f"S{i:02d}" for i in range(2, 19))
CAL_S = 180.0
SKIP_S = 60.0
START_S = 60.0
NAIVE_S = 10.0
CALM_PHASES = ("baseline", "relax1", "relax2", "relax3")
AROUSED_PHASES = ("stroop", "interview")


@dataclass
class Subject:
    """One participant's signals and phase table."""

    code: str
    signals: dict[str, tuple[np.ndarray, np.ndarray, float]]
    phases: pd.DataFrame  # phase, state, t_start_s, t_end_s

    def span(self, phase: str) -> tuple[float, float]:
        row = self.phases[self.phases["phase"] == phase].iloc[0]
        return float(row["t_start_s"]), float(row["t_end_s"])

    @property
    def rest_span(self) -> tuple[float, float]:
        _, end = self.span("baseline")
        return end - CAL_S, end

    @property
    def stress_span(self) -> tuple[float, float]:
        start, _ = self.span("stroop")
        return start, start + CAL_S

    @property
    def end_s(self) -> float:
        return self.span("relax3")[1]

    def phase_at(self, t: float) -> tuple[str, float]:
        """The phase at ``t`` and the seconds since it began."""
        for _, row in self.phases.iterrows():
            if row["t_start_s"] <= t < row["t_end_s"]:
                return str(row["phase"]), t - float(row["t_start_s"])
        return "", math.inf


def load_subject(code: str, data: Path = DATA) -> Subject:
    bvp = pd.read_csv(data / f"{code}_bvp_64hz.csv.gz", usecols=["time_s", "bvp"])
    eda = pd.read_csv(data / f"{code}_eda_4hz.csv.gz", usecols=["time_s", "eda_us"])
    seg = pd.read_csv(data / "segments.csv")
    seg = seg[seg["subject"] == code].drop_duplicates(["phase", "t_start_s"]).reset_index(drop=True)
    signals = {
        "ppg": (bvp["bvp"].to_numpy(float), bvp["time_s"].to_numpy(float), 64.0),
        "eda": (eda["eda_us"].to_numpy(float), eda["time_s"].to_numpy(float), 4.0),
    }
    return Subject(code, signals, seg)


@dataclass
class Run:
    """Per-update records of one participant, and the calibration outcome."""

    code: str
    t: list[float] = field(default_factory=list)
    label: list[str] = field(default_factory=list)
    reason: list[str] = field(default_factory=list)
    naive: list[str] = field(default_factory=list)
    truth: list[str] = field(default_factory=list)  # calm / aroused / ""
    phase: list[str] = field(default_factory=list)
    in_cal: list[bool] = field(default_factory=list)
    calibration: dict = field(default_factory=dict)
    error: str = ""
    cpu_s: float = 0.0


def replay_subject(subj: Subject, t_end: float | None = None) -> list[tuple[UpdateResult, float]]:
    """Every update of the live pipeline over the recording, with the naive EDA mean."""
    end = subj.end_s if t_end is None else min(t_end, subj.end_s)
    signals = {
        k: (x[ts <= end + 1], ts[ts <= end + 1], fs) for k, (x, ts, fs) in subj.signals.items()
    }
    eda_x, eda_t, _ = signals["eda"]
    out = []
    for r in offline_updates(signals, FeaturePipeline(), start_s=START_S):
        if r.t > end:
            break
        lo, hi = np.searchsorted(eda_t, [r.t - NAIVE_S, r.t], side="right")
        out.append((r, float(np.mean(eda_x[lo:hi])) if hi > lo else math.nan))
    return out


def score_subject(
    subj: Subject, results: list[tuple[UpdateResult, float]], features=LIVE_FEATURES
) -> Run:
    """Calibrate on the calibration spans as the monitor does, then classify every update."""
    rest = CalibrationPhase("rest", *subj.rest_span)
    stress = CalibrationPhase("stressor", *subj.stress_span)
    for r, _ in results:
        for ph in (rest, stress):
            if ph.start <= r.t <= ph.end:
                ph.add(r.t, r)
    out = Run(subj.code)
    clf = AffectClassifier(features=tuple(features))
    try:
        clf = fit_rows(clf, rest, stress)
    except LabmrtError as err:
        out.error = err.message
    out.calibration = clf.calibration_summary() if clf.is_calibrated else {}
    naive_rest = [v for r, v in results if rest.start <= r.t <= rest.end]
    naive_stress = [v for r, v in results if stress.start <= r.t <= stress.end]
    threshold = (np.nanmean(naive_rest) + np.nanmean(naive_stress)) / 2
    for r, v in results:
        pred = clf.predict(r.features, r.quality)
        phase, since = subj.phase_at(r.t)
        truth = ""
        if since >= SKIP_S:
            truth = "calm" if phase in CALM_PHASES else "aroused" if phase in AROUSED_PHASES else ""
        out.t.append(r.t)
        out.label.append(pred.label)
        out.reason.append(pred.reason)
        out.naive.append("aroused" if v > threshold else "calm")
        out.truth.append(truth)
        out.phase.append(phase)
        out.in_cal.append(rest.start <= r.t <= rest.end or stress.start <= r.t <= stress.end)
    return out


def pipeline_fingerprint() -> str:
    """Hash of the code an update runs through: a cached replay is only reused for the same."""
    h = hashlib.sha256()
    for name in ("features.py", "pipeline.py", "quality.py", "intervals.py"):
        path = ROOT / "sensors" / name
        if path.exists():
            h.update(path.read_bytes())
    return h.hexdigest()[:12]


def run_subject(code: str, cache: Path | None = None, features=LIVE_FEATURES) -> Run:
    """Replay, calibrate and score one participant (one process of the pool).

    ``cache``: a folder where the replay's updates are kept per participant
    and pipeline version, so the classifier can be re-scored without
    recomputing features the same code would compute again.
    """
    cpu0 = time.process_time()
    subj = load_subject(code)
    path = cache / f"{code}-{pipeline_fingerprint()}.pkl" if cache else None
    if path is not None and path.exists():
        with path.open("rb") as fh:
            results = pickle.load(fh)  # noqa: S301 - our own file, written below
    else:
        results = replay_subject(subj)
        if path is not None:
            path.parent.mkdir(parents=True, exist_ok=True)
            with path.open("wb") as fh:
                pickle.dump(results, fh)
    out = score_subject(subj, results, features)
    out.cpu_s = time.process_time() - cpu0
    return out


def scored(run: Run, *, relax: bool = True, outside_cal: bool = False) -> np.ndarray:
    """Indices of the scored updates: every other one in the scored phases."""
    idx = [
        i
        for i, tr in enumerate(run.truth)
        if tr
        and (relax or not run.phase[i].startswith("relax"))
        and not (outside_cal and run.in_cal[i])
    ]
    return np.asarray(idx[::2], dtype=int)


def balanced_accuracy(truth: list[str], pred: list[str]) -> float:
    recalls = []
    for cls in ("calm", "aroused"):
        known = [p for t, p in zip(truth, pred, strict=True) if t == cls and p != "unknown"]
        if known:
            recalls.append(np.mean([p == cls for p in known]))
    return float(np.mean(recalls)) if len(recalls) == 2 else math.nan


def figures(runs: list[Run]) -> dict[str, float]:
    """Pooled figures over the runs given (their scored updates)."""
    out = {}
    for key, kw in (
        ("bal", dict(relax=False)),
        ("bal_relax", dict(relax=True)),
        ("bal_outside", dict(relax=False, outside_cal=True)),
    ):
        for who in ("label", "naive", "naive_same"):
            truth, pred = [], []
            for run in runs:
                idx = scored(run, **kw)
                if who == "naive_same":  # the naive threshold where ours gave a state
                    idx = [i for i in idx if run.label[i] != "unknown"]
                truth += [run.truth[i] for i in idx]
                pred += [getattr(run, who.removesuffix("_same"))[i] for i in idx]
            out[f"{key}_{who}"] = balanced_accuracy(truth, pred)
    lab = [run.label[i] for run in runs for i in scored(run)]
    out["unknown"] = float(np.mean([p == "unknown" for p in lab])) if lab else math.nan
    out["n"] = len(lab)
    return out


def strict(run: Run) -> Run:
    """The run as ``not_separated = "unknown"`` gives it: rest-reference states withheld."""
    out = copy.copy(run)
    out.label = [
        "unknown" if why.startswith("rest reference") else lab
        for lab, why in zip(run.label, run.reason, strict=True)
    ]
    return out


def _fmt(v: float) -> str:
    return "-" if not math.isfinite(v) else f"{v:.3f}"


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--subjects", default=",".join(SUBJECTS))
    ap.add_argument("--jobs", type=int, default=2)
    ap.add_argument(
        "--cache",
        type=Path,
        metavar="DIR",
        help="keep each participant's replay here and reuse it while the pipeline code is unchanged",
    )
    ap.add_argument(
        "--state-features",
        choices=tuple(FEATURE_SETS),
        default="sustained",
        help="the live feature set the calibration fits (the protocol's [sensors] state_features)",
    )
    args = ap.parse_args(argv)
    suffix = "" if args.state_features == "sustained" else f"_{args.state_features}"
    record = BenchRecord(f"sensors_real{suffix}", timing=False, argv=argv)
    if not DATA.is_dir():
        print(f"skipped: {DATA} is absent (the reference data sits beside the project)")
        return 0
    codes = [c.strip() for c in args.subjects.split(",") if c.strip()]
    with ProcessPoolExecutor(max_workers=max(1, args.jobs)) as pool:
        job = functools.partial(
            run_subject, cache=args.cache, features=FEATURE_SETS[args.state_features]
        )
        runs = list(pool.map(job, codes))
    print(
        f"Stress-Predict, {len(runs)} participants, {args.state_features} features "
        f"({', '.join(FEATURE_SETS[args.state_features])}); calibration: last {CAL_S:.0f} s of baseline "
        f"+ first {CAL_S:.0f} s of Stroop; scored every other update, {SKIP_S:.0f} s after "
        "each phase change skipped"
    )
    print(
        "| participant | calibration | CV AUC | warnings | scored | unknown "
        "| bal. acc. | naive (same updates) | naive (all) | with relax | naive (same) "
        "| outside cal. | naive (same) |"
    )
    print("|---|---|---|---|---|---|---|---|---|---|---|---|---|")

    rows = []

    def row(name, f, status, auc, warn):
        rows.append({"participant": name, "calibration": status, "auc": auc, "warnings": warn, **f})
        print(
            f"| {name} | {status} | {'-' if auc is None else _fmt(auc)} | {warn} | {f['n']} | {f['unknown']:.1%} "
            f"| {_fmt(f['bal_label'])} | {_fmt(f['bal_naive_same'])} | {_fmt(f['bal_naive'])} "
            f"| {_fmt(f['bal_relax_label'])} | {_fmt(f['bal_relax_naive_same'])} "
            f"| {_fmt(f['bal_outside_label'])} | {_fmt(f['bal_outside_naive_same'])} |",
            flush=True,
        )

    for run in runs:
        cal = run.calibration
        status = "failed" if run.error else cal.get("status", "-")
        auc = cal.get("auc")
        row(run.code, figures([run]), status, auc, len(cal.get("warnings", [])))
    ok = sum(1 for r in runs if not r.error and r.calibration.get("status") == "ok")
    ref = sum(1 for r in runs if not r.error and r.calibration.get("status") == "rest reference")
    row("pooled", figures(runs), f"{ok} ok, {ref} rest reference", None, "")
    # the same updates under [sensors] not_separated = "unknown"
    row("pooled, not_separated = unknown", figures([strict(r) for r in runs]), f"{ok} ok", None, "")
    print()
    notes = []
    for run in runs:
        cal = run.calibration
        if run.error:
            notes.append(f"{run.code}: calibration failed: {run.error}")
        elif cal.get("status") != "ok":
            reasons = [m.get("reason", "") for m in cal.get("models", {}).values()]
            notes.append(f"{run.code}: {cal.get('status')}: " + "; ".join(r for r in reasons if r))
        notes += [f"{run.code}: warning: {note}" for note in cal.get("warnings", [])]
    print("\n".join(notes))
    cpu = sum(r.cpu_s for r in runs) / sum(len(r.t) for r in runs)
    print(f"replay CPU: {cpu * 1000:.1f} ms per update (PPG 64 Hz + EDA 4 Hz)")
    record.write(
        {
            "participants": rows[:-2],
            "pooled": rows[-2],
            "pooled_not_separated_unknown": rows[-1],
            "n_ok": ok,
            "n_rest_reference": ref,
            "n_participants": len(runs),
            "calibration_notes": notes,
            "replay_cpu_ms_per_update": cpu * 1000,
        },
        state_features=args.state_features,
        features=list(FEATURE_SETS[args.state_features]),
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
