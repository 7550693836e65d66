"""Checked inputs of the distal analyses (dcee, mcee): one participant's rows together, in order.

The distal estimators sum over participants by their blocks of rows and
(mcee) rely on decision points increasing within a participant. The reference
package silently gives wrong standard errors for interleaved rows (dcee) or
stops (mcee), so labmrt checks what both need up front and names the
offending participants and rows:

- the rows of each participant are contiguous, and decision points (when a
  decision-point column is given) strictly increase within a participant;
- the distal outcome is one value per participant, compared exactly (as
  MRTAnalysis ``mcee()`` does);
- treatment and availability are 0/1 on every row; the randomization
  probability lies in (0, 1) wherever the participant was available (it is
  not used elsewhere).

Rows are never reordered or altered: the estimators see the table as given.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from labmrt.analysis.design import ColumnOrValue, RowLabels, describe_rows, require_columns
from labmrt.errors import LabmrtError, Problem

_SHOW = 5


@dataclass
class DistalInput:
    """The columns every distal analysis uses, as float arrays in table order."""

    frame: pd.DataFrame
    ids: np.ndarray
    starts: np.ndarray
    participants: np.ndarray
    y: np.ndarray
    a: np.ndarray
    prob: np.ndarray
    avail: np.ndarray
    dp: np.ndarray | None
    where: RowLabels
    labels: dict[str, str]

    @property
    def n_rows(self) -> int:
        return int(self.y.size)

    @property
    def n_participants(self) -> int:
        return int(self.starts.size)

    def column(self, name: str, role: str) -> np.ndarray:
        """A numeric column, finite on every row (the distal estimators use every row)."""
        values = numeric_column(self.frame, name, role)
        bad = ~np.isfinite(values)
        if bad.any():
            raise LabmrtError(
                Problem(
                    f"{role} {name!r}",
                    "missing (or not finite) at " + describe_rows(bad, self.where),
                    "fill in the values: this analysis uses every row",
                )
            )
        return values


def require_given(values: dict[str, object]) -> None:
    """Each named argument must be given (role -> value)."""
    for what, value in values.items():
        if value is None:
            fix = (
                "name its column or give it"
                if what == "randomization probability"
                else f"name the {what} column"
            )
            raise LabmrtError(Problem(what, "not given", fix))


def numeric_column(frame: pd.DataFrame, name: str, role: str) -> np.ndarray:
    col = frame[name]
    if pd.api.types.is_bool_dtype(col):
        return col.to_numpy(dtype=float)
    if not pd.api.types.is_numeric_dtype(col):
        conv = pd.to_numeric(col, errors="coerce")
        bad = conv.isna() & col.notna()
        if bad.any():
            examples = ", ".join(map(repr, col[bad].unique()[:3]))
            raise LabmrtError(
                Problem(
                    f"{role} {name!r}",
                    f"is not numeric (values such as {examples})",
                    "code it as numbers (e.g. 0/1 columns for a categorical variable)",
                )
            )
        col = conv
    return col.to_numpy(dtype=float, na_value=np.nan)


def participant_blocks(ids: np.ndarray, id_name: str) -> np.ndarray:
    """Start rows of the participants' blocks; an id seen in two blocks is an error."""
    n = ids.size
    if n == 0:
        raise LabmrtError(Problem("data", "has no rows", "check the file"))
    change = np.r_[True, ids[1:] != ids[:-1]]
    starts = np.flatnonzero(change)
    block_ids = pd.Series(ids[starts])
    repeated = block_ids[block_ids.duplicated(keep=False)]
    if not repeated.empty:
        who = list(dict.fromkeys(repeated.tolist()))
        first_break = []
        for pid in who[:_SHOW]:
            rows = starts[(block_ids == pid).to_numpy()]
            first_break.append(f"{pid} (rows {rows[0] + 1} and {rows[1] + 1} start separate runs)")
        more = f" and {len(who) - _SHOW} more" if len(who) > _SHOW else ""
        raise LabmrtError(
            Problem(
                f"participant id {id_name!r}",
                "the rows of a participant are not together: " + ", ".join(first_break) + more,
                "sort the table by participant, then decision point",
            )
        )
    return starts


def check_increasing(dp: np.ndarray, starts: np.ndarray, where: RowLabels, name: str) -> None:
    """Decision points strictly increase within every participant."""
    step = np.diff(dp)
    new_block = np.zeros(dp.size, dtype=bool)
    new_block[starts] = True
    bad = np.r_[False, (step <= 0) & ~new_block[1:]]
    if bad.any():
        raise LabmrtError(
            Problem(
                f"decision point {name!r}",
                "does not increase within a participant at " + describe_rows(bad, where),
                "sort each participant's rows by decision point and keep one row per point",
            )
        )


def check_constant(y: np.ndarray, starts: np.ndarray, ids: np.ndarray, name: str) -> None:
    """The distal outcome has one value per participant (exact comparison)."""
    n = y.size
    block = np.repeat(np.arange(starts.size), np.diff(np.r_[starts, n]))
    first = y[starts][block]
    differs = (y != first) & ~(np.isnan(y) & np.isnan(first))
    if differs.any():
        who = list(dict.fromkeys(ids[differs].tolist()))
        shown = ", ".join(map(str, who[:_SHOW])) + (
            f" and {len(who) - _SHOW} more" if len(who) > _SHOW else ""
        )
        raise LabmrtError(
            Problem(
                f"distal outcome {name!r}",
                f"varies within participant(s) {shown}",
                "a distal outcome is measured once per participant: repeat that one value on "
                "each of the participant's rows",
            )
        )


def _flag(frame: pd.DataFrame, name: str, role: str, where: RowLabels) -> np.ndarray:
    values = numeric_column(frame, name, role)
    bad = ~np.isin(values, (0.0, 1.0))
    if bad.any():
        raise LabmrtError(
            Problem(
                f"{role} {name!r}",
                "must be 0 or 1 on every row: " + describe_rows(bad, where),
                "code it as 1 = yes, 0 = no (no missing values)",
            )
        )
    return values


def _probability(
    frame: pd.DataFrame, spec: ColumnOrValue, avail: np.ndarray, where: RowLabels
) -> tuple[np.ndarray, str]:
    n = len(frame)
    if isinstance(spec, str):
        values, label = numeric_column(frame, spec, "randomization probability"), spec
    elif isinstance(spec, bool) or not isinstance(spec, int | float | np.integer | np.floating):
        raise LabmrtError(
            Problem(
                "randomization probability",
                f"must be a column name or a number, got {spec!r}",
                "e.g. --prob 0.5 or --prob prob_A",
            )
        )
    else:
        values, label = np.full(n, float(spec)), f"{float(spec):g}"
    bad = (avail == 1) & ~((values > 0) & (values < 1))
    if bad.any():
        raise LabmrtError(
            Problem(
                f"randomization probability {label!r}",
                "must lie strictly between 0 and 1 at available decision points: "
                + describe_rows(bad, where),
                "record the probability actually used; 0 or 1 means the point was not randomized",
            )
        )
    return values, label


def read_distal_input(
    data: pd.DataFrame,
    *,
    id: str,
    outcome: str,
    treatment: str,
    rand_prob: ColumnOrValue,
    availability: str | None,
    decision_point: str | None,
    extra_columns: dict[str, str],
) -> DistalInput:
    """Check the table for a distal analysis; ``extra_columns`` (name -> role) must exist."""
    needed = {id: "participant id", outcome: "distal outcome", treatment: "treatment"}
    if isinstance(rand_prob, str):
        needed.setdefault(rand_prob, "randomization probability")
    if availability is not None:
        needed.setdefault(availability, "availability")
    if decision_point is not None:
        needed.setdefault(decision_point, "decision point")
    for col, role in extra_columns.items():
        needed.setdefault(col, role)
    require_columns(data, needed)
    ids_col = data[id]
    if ids_col.isna().any():
        rows = np.flatnonzero(ids_col.isna().to_numpy())[:_SHOW] + 1
        raise LabmrtError(
            Problem(f"participant id {id!r}", f"missing in row(s) {', '.join(map(str, rows))}")
        )
    ids = ids_col.to_numpy()
    starts = participant_blocks(ids, id)
    n = len(data)
    dp = None
    where = RowLabels(np.arange(n), ids, None)
    if decision_point is not None:
        dp = numeric_column(data, decision_point, "decision point")
        if np.isnan(dp).any():
            raise LabmrtError(
                Problem(
                    f"decision point {decision_point!r}",
                    "missing at " + describe_rows(np.isnan(dp), where),
                    "fill in the decision points",
                )
            )
        where = RowLabels(np.arange(n), ids, dp)
        check_increasing(dp, starts, where, decision_point)
    a = _flag(data, treatment, "treatment", where)
    avail = np.ones(n) if availability is None else _flag(data, availability, "availability", where)
    prob, prob_label = _probability(data, rand_prob, avail, where)
    y = numeric_column(data, outcome, "distal outcome")
    bad = ~np.isfinite(y)
    if bad.any():
        raise LabmrtError(
            Problem(
                f"distal outcome {outcome!r}",
                "missing (or not finite) at " + describe_rows(bad, where),
                "fill in each participant's distal outcome on all of its rows, or leave out "
                "participants without one",
            )
        )
    check_constant(y, starts, ids, outcome)
    return DistalInput(
        frame=data,
        ids=ids,
        starts=starts,
        participants=ids[starts],
        y=y,
        a=a,
        prob=prob,
        avail=avail,
        dp=dp,
        where=where,
        labels={"outcome": outcome, "treatment": treatment, "rand_prob": prob_label},
    )


def row_weights(inp: DistalInput, column: str | None) -> np.ndarray | None:
    """A per-row weight column, used as given: finite and not negative (None: not given)."""
    if column is None:
        return None
    w = inp.column(column, "weight")
    bad = w < 0
    if bad.any():
        raise LabmrtError(
            Problem(
                f"weight {column!r}",
                "is negative at " + describe_rows(bad, inp.where),
                "weights are non-negative",
            )
        )
    if not np.any(w > 0):
        raise LabmrtError(Problem(f"weight {column!r}", "is 0 on every row", "weight some rows"))
    return w
