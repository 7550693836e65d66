"""The descriptive parts of a study report, read from the study store.

Participant flow, the randomization check (observed against designed arm
frequencies per context value, Pearson's chi-square goodness-of-fit test,
``scipy.stats.chisquare``), availability by participant and over the
session, sensor data quality (share of ``unknown`` states, the calibration
records the sessions stored, stream losses) and the sessions' protocols.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field

import numpy as np
import pandas as pd
from scipy import stats

from labmrt.protocol import Protocol

LOSS_WORDS = ("lost", "silent", "no valid signal")


@dataclass
class StudyData:
    """Everything the descriptive sections need, read once from the store."""

    sessions: pd.DataFrame
    decisions: pd.DataFrame
    presentations: pd.DataFrame
    states: pd.DataFrame
    markers: pd.DataFrame
    statuses: pd.DataFrame
    protocols: dict[str, Protocol] = field(default_factory=dict)

    @classmethod
    def read(cls, store) -> StudyData:
        sessions = store.sessions()
        protocols: dict[str, Protocol] = {}
        for sid, h in zip(sessions["session"], sessions["protocol_hash"], strict=True):
            if h not in protocols:
                protocols[h] = Protocol.from_canonical_json(
                    store.session_info(int(sid)).protocol_text
                )
        return cls(
            sessions=sessions,
            decisions=store.decisions(),
            presentations=store.presentations(),
            states=store.states(),
            markers=store.markers(),
            statuses=store.status_history(),
            protocols=protocols,
        )


# --------------------------------------------------------------------------- flow
def participant_flow(data: StudyData, arms: list[str]) -> list[list[object]]:
    """Rows ``(stage, count)``: participants, sessions by status, decision points, arms, receipt."""
    s, d = data.sessions, data.decisions
    ever = set(data.statuses.loc[data.statuses["status"] == "resumed", "session"])
    resumed_from = s["resume_of"].dropna()
    rows: list[list[object]] = [
        ["participants", int(s["participant"].nunique())],
        ["sessions started", len(s)],
    ]
    for status in ("completed", "aborted", "incomplete"):
        rows.append([f"sessions {status}", int((s["status"] == status).sum())])
    open_ = s["status"].isin(["created", "running", "paused", "resumed"]) & s["resumed_by"].isna()
    rows.append(["sessions left open (interrupted)", int(open_.sum())])
    rows.append(["sessions resumed (new session continuing one)", int(len(resumed_from))])
    if ever:
        rows.append(["sessions resumed after a pause", len(ever)])
    rows.append(["decision points", len(d)])
    avail = d[d["available"]]
    rows.append(["available (randomized)", len(avail)])
    for arm in arms:
        rows.append([f"  randomized to {arm}", int((avail["arm"] == arm).sum())])
    pres = data.presentations
    pres = pres[pres["decision_point"] >= 0].drop_duplicates(
        ["session", "decision_point"], keep="last"
    )
    got = pres.merge(avail[["session", "decision_point", "arm"]], on=["session", "decision_point"])
    rows.append(["framing received (available points)", int(got["received"].fillna(False).sum())])
    for arm in arms:
        part = got[got["arm"] == arm]
        rows.append([f"  received, {arm}", int(part["received"].fillna(False).sum())])
    return rows


# --------------------------------------------------------------------------- randomization
@dataclass
class ContextCheck:
    """Observed vs expected arm counts for one context row of the randomization table."""

    context: str
    n: int
    observed: dict[str, int]
    expected: dict[str, float]  # sum of the recorded probabilities
    designed: dict[str, float]  # the protocol's probabilities for that row
    chi2: float
    df: int
    p_value: float


def _row_key(context: dict, protocol: Protocol) -> str:
    return protocol.lookup_probabilities(context).table_key or "(constant)"


def randomization_check(data: StudyData, protocol: Protocol) -> list[ContextCheck]:
    """Per context row: arm counts against the recorded and the designed probabilities.

    The expected count of an arm is the sum of its recorded probabilities over
    the row's randomized decision points (exact under the design, whatever
    the mix of participants); Pearson's chi-square tests the observed counts
    against it with (arms - 1) degrees of freedom. ``designed`` are the
    protocol's probabilities, shown beside the observed shares.
    """
    d = data.decisions[data.decisions["available"] & data.decisions["arm"].notna()]
    arms = protocol.arm_ids
    if d.empty:
        return []
    keys = [_row_key(c if isinstance(c, dict) else {}, protocol) for c in d["context"]]
    d = d.assign(_row=keys)
    out = []
    order = list(protocol.randomization.table or {"(constant)": None})
    for key in [k for k in order if k in set(keys)] + sorted(set(keys) - set(order)):
        part = d[d["_row"] == key]
        observed = {a: int((part["arm"] == a).sum()) for a in arms}
        probs = np.array([[float(p.get(a, 0.0)) for a in arms] for p in part["probabilities"]])
        expected = dict(zip(arms, probs.sum(axis=0).tolist(), strict=True))
        ctx = {} if key == "(constant)" else {protocol.context_variable: key}
        designed = protocol.probabilities(ctx)
        obs = np.array([observed[a] for a in arms], dtype=float)
        exp = np.array([expected[a] for a in arms])
        keep = exp > 0
        if keep.sum() >= 2:
            exp = exp[keep] * obs[keep].sum() / exp[keep].sum()
            chi2, p = stats.chisquare(obs[keep], exp)
        else:
            chi2, p = float("nan"), float("nan")
        out.append(
            ContextCheck(
                key,
                len(part),
                observed,
                expected,
                designed,
                float(chi2),
                int(keep.sum() - 1),
                float(p),
            )
        )
    return out


def availability_by_participant(data: StudyData) -> pd.DataFrame:
    """Per participant: decision points, share available, and the most common reason otherwise."""
    d = data.decisions
    rows = []
    for code, part in d.groupby("participant", sort=True):
        reasons = part.loc[~part["available"], "unavailable_reason"].map(_reason_kind)
        top = reasons.value_counts()
        rows.append(
            {
                "participant": code,
                "decision points": len(part),
                "available": int(part["available"].sum()),
                "share available": float(part["available"].mean()),
                "main reason when unavailable": (
                    f"{top.index[0]} ({int(top.iloc[0])})" if len(top) else "–"
                ),
            }
        )
    return pd.DataFrame(rows)


def _reason_kind(reason: object) -> str:
    """The first clause of a recorded reason: 'no valid signal (ECG lost ...)' -> 'no valid signal'."""
    text = str(reason or "unknown").split(";")[0]
    return text.split("(")[0].strip() or "unknown"


def availability_over_session(data: StudyData) -> pd.DataFrame:
    """Share available at each decision point index, over all sessions."""
    d = data.decisions
    g = d.groupby("decision_point")["available"]
    return pd.DataFrame(
        {"decision_point": g.mean().index, "share": g.mean().values, "n": g.size().values}
    )


# --------------------------------------------------------------------------- data quality
def calibration_records(data: StudyData) -> dict[int, dict]:
    """The ``calibration`` marker each session stored (the classifier's calibration summary)."""
    out: dict[int, dict] = {}
    for sid, text in zip(data.markers["session"], data.markers["marker"], strict=True):
        if '"calibration"' not in text:
            continue
        try:
            m = json.loads(text)
        except json.JSONDecodeError:
            continue
        if m.get("event") == "calibration":
            out[int(sid)] = m
    return out


def data_quality(data: StudyData) -> pd.DataFrame:
    """Per participant: unknown states, calibration, stream losses."""
    cal = calibration_records(data)
    states, d = data.states, data.decisions
    rows = []
    for code, sess in data.sessions.groupby("participant", sort=True):
        sids = set(sess["session"])
        st = states[states["session"].isin(sids)]
        dp = d[d["session"].isin(sids)]
        if len(st):
            unknown = float((st["label"] == "unknown").mean())
            losses = int(st["reason"].fillna("").str.contains("lost|silent", regex=True).sum())
            source = f"{len(st)} state updates"
        else:
            unknown = (
                float((dp["state"].fillna("unknown") == "unknown").mean())
                if len(dp)
                else float("nan")
            )
            losses = 0
            source = f"{len(dp)} decision points"
        lost_dp = int(
            dp["unavailable_reason"].fillna("").str.contains("|".join(LOSS_WORDS), regex=True).sum()
        )
        cals = [cal[s] for s in sorted(sids) if s in cal]
        rows.append(
            {
                "participant": code,
                "share unknown": unknown,
                "from": source,
                "calibration": "; ".join(_calibration_text(c) for c in cals)
                or "no calibration record",
                "state updates with a lost stream": losses,
                "decision points without signal": lost_dp,
            }
        )
    return pd.DataFrame(rows)


def _calibration_text(c: dict) -> str:
    status = c.get("status", "?")
    if status == "failed":
        return f"failed: {c.get('error', '')}"
    auc = c.get("auc")
    text = status + (f", AUC {auc:.2f}" if isinstance(auc, int | float) else "")
    warnings = c.get("warnings") or []
    if warnings:
        text += "; warning: " + "; ".join(str(w) for w in warnings)
    return text
