"""How fast the affective state follows a change, on simulated sessions, next to accuracy.

Run: ``.venv/bin/python bench/sensors_delay.py [--sessions 6] [--jobs 2]``
(about 1-2 min of CPU per session).

The simulator's skin conductance rises within seconds of arousal and
recovers with a time constant of a minute (``sensors.simulate``), as real
skin does; heart rate and skin-conductance responses change at once. Each
session is one of ``bench/sensors_accuracy.py``'s (seed, sensor, heart-rate
ranges, noise): calibration rest then stressor (180 s each, the monitor's
calibration rules), then :data:`TEST_S` seconds of alternating states
(segments of 60-180 s; ``sensors_accuracy.session_schedule``), replayed exactly as live, one update per second.

Delay of a change: from the true change to the first update from which the
state is the new one for :data:`STABLE_S` seconds in a row (or until the
next change); a change the state never follows before the next one counts
as a miss (not in the median). Accuracy: balanced accuracy over known states
of the updates at least :data:`EXCLUDE_S` after a change, as in
``sensors_accuracy.py``, and the share of ``unknown``. Three classifiers
on the same updates:

* ``live``: the monitor's classifier (``LIVE_FEATURES``: heart rate of the
  last 15 s, tonic SCL of the last 10 s carried 30 s ahead along its fall
  of the last 30 s, SCR rate; one model per clean feature group);
* ``level``: the same with the tonic level as it is (``LEVEL_FEATURES``,
  the live set before ``scl_ahead``);
* ``responsive``: the same with ``RESPONSIVE_FEATURES`` (the rise of the
  tonic level above its lowest point of the last 2 min instead of the
  level; a protocol's ``[sensors] state_features = "responsive"``);
* ``60 s HRV``: the same calibration on the earlier feature set (heart rate,
  RMSSD and SDNN of 60 s windows, SCL and SCR rate of 30 s);
* ``naive``: mean raw EDA of the last 10 s, aroused above the midpoint of
  its calibration means.
"""

from __future__ import annotations

import argparse
import functools
import hashlib
import math
import pickle
import sys
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
for p in (ROOT, ROOT / "bench"):
    if str(p) not in sys.path:
        sys.path.insert(0, str(p))

from bench_record import BenchRecord  # noqa: E402
from sensors_accuracy import (  # noqa: E402
    REST_S,
    SESSIONS,
    STRESS_S,
    TEST_S,
    Session,
    session_recording,
    session_schedule,
)
from sensors_real import pipeline_fingerprint  # noqa: E402

from sensors.signals import FeaturePipeline, offline_updates  # noqa: E402
from sensors.state import (  # noqa: E402
    DEFAULT_FEATURES,
    LEVEL_FEATURES,
    LIVE_FEATURES,
    RESPONSIVE_FEATURES,
    AffectClassifier,
    CalibrationPhase,
    fit_rows,
)

STABLE_S = 5.0
EXCLUDE_S = 60.0
NAIVE_S = 10.0
CLASSIFIERS = ("live", "level", "responsive", "60 s HRV", "naive")


def session_updates(s: Session, cache: Path | None = None):
    """``(schedule, [(UpdateResult, naive EDA level), ...])`` of one session, replayed as live.

    ``cache``: keep the updates per session and simulator + pipeline version.
    """
    schedule = session_schedule(s.seed)
    h = hashlib.sha256(pipeline_fingerprint().encode())
    h.update((ROOT / "sensors" / "simulate.py").read_bytes())
    path = cache / f"sim{s.seed}-{h.hexdigest()[:12]}.pkl" if cache else None
    if path is not None and path.exists():
        with path.open("rb") as fh:
            return schedule, pickle.load(fh)  # noqa: S301 - our own file, written below
    _, _, signals = session_recording(s)
    eda_x, eda_t, _ = signals["eda"]
    results = []
    for r in offline_updates(signals, FeaturePipeline()):
        lo, hi = np.searchsorted(eda_t, [r.t - NAIVE_S, r.t], side="right")
        results.append((r, float(np.mean(eda_x[lo:hi]))))
    if path is not None:
        path.parent.mkdir(parents=True, exist_ok=True)
        with path.open("wb") as fh:
            pickle.dump(results, fh)
    return schedule, results


def run(s: Session, cache: Path | None = None) -> dict:
    schedule, results = session_updates(s, cache)
    duration = REST_S + STRESS_S + TEST_S
    rest = CalibrationPhase("rest", 0.0, REST_S)
    stress = CalibrationPhase("stressor", REST_S, REST_S + STRESS_S)
    for r, _ in results:
        for ph in (rest, stress):
            if ph.start <= r.t <= ph.end:
                ph.add(r.t, r)
    live = fit_rows(AffectClassifier(features=LIVE_FEATURES), rest, stress)
    level = fit_rows(AffectClassifier(features=LEVEL_FEATURES), rest, stress)
    fast = fit_rows(AffectClassifier(features=RESPONSIVE_FEATURES), rest, stress)
    old = fit_rows(AffectClassifier(features=DEFAULT_FEATURES), rest, stress)
    cal = [v for r, v in results if r.t <= REST_S + STRESS_S]
    cal_t = np.array([r.t for r, _ in results if r.t <= REST_S + STRESS_S])
    thr = (np.mean(np.array(cal)[cal_t <= REST_S]) + np.mean(np.array(cal)[cal_t > REST_S])) / 2
    t, labels = [], {c: [] for c in CLASSIFIERS}
    for r, v in results:
        if r.t <= REST_S + STRESS_S:
            continue
        t.append(r.t)
        labels["live"].append(live.predict(r.features, r.quality).label)
        labels["level"].append(level.predict(r.features, r.quality).label)
        labels["responsive"].append(fast.predict(r.features, r.quality).label)
        labels["60 s HRV"].append(old.predict(r.features, r.quality).label)
        labels["naive"].append("aroused" if v > thr else "calm")
    t = np.array(t)
    truth = [schedule.state_at(x) for x in t]
    settled = np.array([not schedule.changes_between(x - EXCLUDE_S, x + 1e-9) for x in t])
    out = {"session": s, "auc": live.calibration_summary().get("auc")}
    changes = schedule.changes_between(REST_S + STRESS_S + 1e-6, duration)
    for c in CLASSIFIERS:
        lab = np.array(labels[c])
        out[c] = {
            "delays": change_delays(t, lab, changes, duration),
            "bal": balanced_accuracy([truth[i] for i in np.flatnonzero(settled)], lab[settled]),
            "unknown": float(np.mean(lab[settled] == "unknown")),
        }
    return out


def change_delays(t, labels, changes, end) -> list[tuple[str, float | None]]:
    """``(direction, delay or None for a miss)`` for each change."""
    out = []
    for i, (c, state) in enumerate(changes):
        nxt = changes[i + 1][0] if i + 1 < len(changes) else end
        idx = np.flatnonzero((t >= c) & (t < nxt))
        delay = None
        for j, k in enumerate(idx):
            stop = t[k] + STABLE_S
            run_ = idx[j:][t[idx[j:]] <= stop]
            if np.all(labels[run_] == state):
                delay = float(t[k] - c)
                break
        out.append(("calm->aroused" if state == "aroused" else "aroused->calm", delay))
    return out


def balanced_accuracy(truth, pred) -> float:
    recalls = []
    for cls in ("calm", "aroused"):
        known = [p for tr, p in zip(truth, pred, strict=True) if tr == cls and p != "unknown"]
        if known:
            recalls.append(np.mean([p == cls for p in known]))
    return float(np.mean(recalls)) if recalls else math.nan


def delay_figures(delays: list[tuple[str, float | None]], direction: str) -> dict:
    """Median delay (s) of the changes the state followed, and how many it missed."""
    d = [x for k, x in delays if k == direction]
    hit = [x for x in d if x is not None]
    return {
        "median_s": float(np.median(hit)) if hit else None,
        "missed": len(d) - len(hit),
        "changes": len(d),
    }


def summary(delays: list[tuple[str, float | None]], direction: str) -> str:
    f = delay_figures(delays, direction)
    med = "-" if f["median_s"] is None else f"{f['median_s']:.0f} s"
    return f"{med} ({f['missed']} of {f['changes']} missed)"


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--sessions", type=int, default=8, help="how many of the sessions (max 12)")
    ap.add_argument("--seeds", help="comma-separated seeds of the sessions instead")
    ap.add_argument("--jobs", type=int, default=2)
    ap.add_argument("--cache", type=Path, metavar="DIR", help="keep and reuse the replays")
    args = ap.parse_args(argv)
    record = BenchRecord("sensors_delay", timing=False, argv=argv)
    sessions = SESSIONS[: max(1, min(args.sessions, len(SESSIONS)))]
    if args.seeds:
        wanted = {int(x) for x in args.seeds.split(",")}
        sessions = [s for s in SESSIONS if s.seed in wanted]
    with ProcessPoolExecutor(max_workers=max(1, args.jobs)) as pool:
        results = list(pool.map(functools.partial(run, cache=args.cache), sessions))
    print(
        f"{len(results)} simulated sessions (SCL rises with tau 4 s, recovers with tau 60 s): "
        f"calibration {REST_S:.0f} s rest + {STRESS_S:.0f} s stressor, then {TEST_S:.0f} s of "
        f"alternating states; delay = first update with the new state held {STABLE_S:.0f} s"
    )
    print(
        "| seed | sensor | noise | classifier | calm->aroused | aroused->calm | bal. acc. | unknown |"
    )
    print("|---|---|---|---|---|---|---|---|")
    per_session, overall = [], []
    for res in results:
        s = res["session"]
        for c in CLASSIFIERS:
            r = res[c]
            per_session.append(
                {
                    "seed": s.seed,
                    "sensor": s.cardiac.upper(),
                    "noise": s.noise,
                    "classifier": c,
                    "calm_to_aroused": delay_figures(r["delays"], "calm->aroused"),
                    "aroused_to_calm": delay_figures(r["delays"], "aroused->calm"),
                    "balanced_accuracy": r["bal"],
                    "unknown": r["unknown"],
                }
            )
            print(
                f"| {s.seed} | {s.cardiac.upper()} | {s.noise:g} | {c} "
                f"| {summary(r['delays'], 'calm->aroused')} "
                f"| {summary(r['delays'], 'aroused->calm')} | {r['bal']:.3f} | {r['unknown']:.1%} |"
            )
    print("\nall sessions (median delay over changes; balanced accuracy: mean over sessions)")
    print("| classifier | calm->aroused | aroused->calm | bal. acc. | unknown |")
    print("|---|---|---|---|---|")
    for c in CLASSIFIERS:
        delays = [d for res in results for d in res[c]["delays"]]
        bal = np.mean([res[c]["bal"] for res in results])
        unk = np.mean([res[c]["unknown"] for res in results])
        overall.append(
            {
                "classifier": c,
                "calm_to_aroused": delay_figures(delays, "calm->aroused"),
                "aroused_to_calm": delay_figures(delays, "aroused->calm"),
                "balanced_accuracy": bal,
                "unknown": unk,
            }
        )
        print(
            f"| {c} | {summary(delays, 'calm->aroused')} | {summary(delays, 'aroused->calm')} "
            f"| {bal:.3f} | {unk:.1%} |"
        )
    record.write(
        {"overall": overall, "sessions": per_session, "seeds": [r["session"].seed for r in results]}
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
