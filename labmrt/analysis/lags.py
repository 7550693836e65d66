"""Lagged treatments and delayed outcomes, within each participant.

- Lag k treatment (a control): the treatment indicator of the decision point
  k rows earlier for the same participant, in decision-point order; 0 before
  the participant's first k decision points and wherever that earlier point
  was not randomized into the contrast (unavailable or another arm).
- Delayed effect at k: the outcome of the decision point k rows later for the
  same participant replaces the proximal outcome; rows without one (the last
  k decision points of each participant, or a missing later outcome) are
  excluded (treated as unavailable) and counted in the result's notes.

"k rows" counts recorded decision points, so a table must hold every decision
point of a participant (available or not), as labmrt's export does.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from labmrt.errors import LabmrtError, Problem


def within_order(frame: pd.DataFrame, id: str, decision_point: str | None) -> np.ndarray:
    """Row positions sorted by participant (first appearance), session, then decision point.

    A ``session`` column is used when present (labmrt numbers decision points
    within a session), as :func:`labmrt.analysis.design.build_design` does.
    """
    codes, _ = pd.factorize(frame[id], sort=False)
    if decision_point is None:
        return np.argsort(codes, kind="stable")
    dp = pd.to_numeric(frame[decision_point], errors="coerce").to_numpy(dtype=float)
    if "session" in frame.columns:
        sess = pd.factorize(frame["session"], sort=True)[0]
        return np.lexsort((dp, sess, codes))
    return np.lexsort((dp, codes))


def shift_within(
    values: np.ndarray, frame: pd.DataFrame, id: str, decision_point: str | None, k: int
) -> np.ndarray:
    """``values`` moved k rows later (k > 0: lag) or earlier (k < 0: lead) per participant.

    Positions without a source row get NaN. Input and output are in table order.
    """
    order = within_order(frame, id, decision_point)
    ids = pd.factorize(frame[id], sort=False)[0][order]
    v = np.asarray(values, dtype=float)[order]
    out = np.full(v.size, np.nan)
    if k > 0:
        same = ids[k:] == ids[:-k]
        out[k:] = np.where(same, v[:-k], np.nan)
    elif k < 0:
        j = -k
        same = ids[:-j] == ids[j:]
        out[:-j] = np.where(same, v[j:], np.nan)
    else:
        out = v
    result = np.empty_like(out)
    result[order] = out
    return result


def check_k(k: int, what: str) -> int:
    if int(k) != k or k < 1:
        raise LabmrtError(Problem(what, f"must be a positive whole number, got {k!r}"))
    return int(k)


def lagged_treatments(
    treatment: np.ndarray,
    frame: pd.DataFrame,
    id: str,
    decision_point: str | None,
    lags: list[int],
    name: str,
) -> dict[str, np.ndarray]:
    """``{f"{name}_lag{k}": values}`` for each k; 0 where there is no earlier point."""
    out = {}
    for k in lags:
        k = check_k(k, "treatment lag")
        out[f"{name}_lag{k}"] = np.nan_to_num(
            shift_within(treatment, frame, id, decision_point, k), nan=0.0
        )
    return out


def delayed_outcome(
    outcome: np.ndarray, frame: pd.DataFrame, id: str, decision_point: str | None, k: int
) -> tuple[np.ndarray, np.ndarray]:
    """The outcome k decision points later, and the rows that have one (not missing)."""
    k = check_k(k, "outcome delay")
    y = shift_within(outcome, frame, id, decision_point, -k)
    return y, ~np.isnan(y)
