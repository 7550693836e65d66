"""The WCLS design of an MRT table: which rows count, the columns, the weights.

The design is built once and kept apart from the solve so that other parts
(the randomization re-draw check, the coverage simulation) can re-use it with
another treatment vector through :meth:`Design.with_treatment`, which rebuilds
only the effect block and the weights.

Conventions (Boruvka et al. 2018; MRTAnalysis ``wcls()``):

- design row ``[g_t, (A_t - p~_t) S_t]``: the control (working-model) block
  first, then the effect block; both have an intercept;
- weight ``I_t (p~_t / p_t)^A_t ((1 - p~_t) / (1 - p_t))^(1 - A_t)``;
- a row is *used* when it carries weight: available, and not excluded by a
  contrast, the per-protocol restriction or a missing delayed outcome. Unused
  rows stay in the design with weight 0 (their values are zeroed so that a
  NaN there cannot leak into a sum), exactly as the reference package keeps
  unavailable rows with weight 0.

Categorical moderators and controls are dummy-coded as R's ``model.matrix``
does with treatment contrasts: the first level is the reference, and a dummy
is named column name + level, e.g. ``affect_statearoused`` (R style, not
patsy's ``affect_state[T.aroused]``). Levels are taken from the used rows, in
the order of a pandas ``Categorical``'s categories, otherwise sorted.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field, replace

import numpy as np
import pandas as pd

from labmrt.errors import LabmrtError, Problem

# How many offending rows an error message lists before summarizing.
_SHOW_ROWS = 5
# Rows of a design column written and checked at a time (512 KiB: stays in the cache).
_FILL_ROWS = 1 << 16

ColumnOrValue = str | float | int | np.ndarray | None


@dataclass
class Design:
    """A WCLS design: arrays sorted by participant (then decision point).

    ``starts[i]`` is the first row of participant ``participants[i]``.
    ``row_order[r]`` is the position in the input table of design row ``r``.
    """

    y: np.ndarray
    g: np.ndarray
    s: np.ndarray
    a: np.ndarray
    prob: np.ndarray
    num_prob: np.ndarray
    used: np.ndarray
    starts: np.ndarray
    participants: np.ndarray
    control_names: list[str]
    effect_names: list[str]
    treatment_label: str
    row_order: np.ndarray
    decision_points: np.ndarray | None = None
    factor_levels: dict[str, list] = field(default_factory=dict)
    term_sources: dict[str, tuple[str, object]] = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)
    row_labels: RowLabels | None = field(default=None, repr=False)
    # The full design ``[g, (A - p~) S]`` and the weights; derived from the fields
    # above unless given (``build_design`` writes them in one pass).
    x: np.ndarray | None = field(default=None, repr=False)
    w: np.ndarray | None = field(default=None, repr=False)

    def __post_init__(self) -> None:
        if self.x is None:
            q = self.g.shape[1]
            # Column-major: every column is written and later read as one contiguous run.
            self.x = np.empty((self.g.shape[0], q + self.s.shape[1]), order="F")
            self.x[:, :q] = self.g
            np.multiply((self.a - self.num_prob)[:, None], self.s, out=self.x[:, q:])
        if self.w is None:
            self.w = wcls_weight(self.a, self.prob, self.num_prob, self.used)

    # ---- sizes
    @property
    def n_rows(self) -> int:
        return int(self.y.size)

    @property
    def q(self) -> int:
        """Columns of the control block (intercept included)."""
        return self.g.shape[1]

    @property
    def p(self) -> int:
        """Columns of the effect block (intercept included)."""
        return self.s.shape[1]

    @property
    def k(self) -> int:
        return self.q + self.p

    @property
    def n_participants(self) -> int:
        return int(self.starts.size)

    @property
    def sizes(self) -> np.ndarray:
        return np.diff(np.r_[self.starts, self.n_rows])

    @property
    def cluster(self) -> np.ndarray:
        """Participant code (0..N-1) of every row."""
        return np.repeat(np.arange(self.n_participants), self.sizes)

    @property
    def n_effective(self) -> int:
        """Participants with at least one non-zero weight (MRTAnalysis ``cluster.number``)."""
        return int(np.count_nonzero(np.add.reduceat(self.w != 0, self.starts)))

    @property
    def n_used(self) -> int:
        return int(np.count_nonzero(self.w))

    @property
    def design_names(self) -> list[str]:
        """Column names as R's ``model.matrix`` writes them for the reference call."""
        t = self.treatment_label
        effects = [t if n == "(Intercept)" else f"{n}:{t}" for n in self.effect_names]
        return [*self.control_names, *effects]

    def with_treatment(self, a: np.ndarray) -> Design:
        """The same design with another 0/1 treatment vector (design row order).

        Only the effect block and the weights change; the probabilities, the
        numerator probability and the used rows are kept. This is what a
        re-drawn treatment in a randomization check needs.
        """
        return replace(self, a=np.asarray(a, dtype=float), x=None, w=None)


def wcls_weight(
    a: np.ndarray, prob: np.ndarray | float, num_prob: np.ndarray | float, used: np.ndarray
) -> np.ndarray:
    """``I_t (p~/p)^A ((1-p~)/(1-p))^(1-A)``; 0 on unused rows (probabilities: arrays or numbers)."""
    w = np.where(a == 1, num_prob / prob, (1.0 - num_prob) / (1.0 - prob))
    np.copyto(w, 0.0, where=~used)
    return w


def effect_block(a: np.ndarray, num_prob: np.ndarray, s: np.ndarray) -> np.ndarray:
    """``(A_t - p~_t) S_t``: the effect columns of the design."""
    return (a - num_prob)[:, None] * s


# --------------------------------------------------------------------------- input checks


def require_columns(frame: pd.DataFrame, names: dict[str, str]) -> None:
    """``names``: column -> role. One error listing every missing column and what is there."""
    missing = [c for c in names if c not in frame.columns]
    if missing:
        roles = ", ".join(f"{names[c]} {c!r}" for c in missing)
        names_there = ", ".join(map(str, frame.columns))
        raise LabmrtError(
            Problem(
                "columns",
                f"not in the data: {roles}",
                f"available columns: {names_there}",
            )
        )


def describe_rows(bad: np.ndarray, where: RowLabels) -> str:
    """``row 12 (participant 3, decision point 7), ...`` for the first few flagged rows."""
    idx = np.flatnonzero(bad)
    parts = [where.label(i) for i in idx[:_SHOW_ROWS]]
    more = f" and {idx.size - _SHOW_ROWS} more" if idx.size > _SHOW_ROWS else ""
    return ", ".join(parts) + more


@dataclass
class RowLabels:
    """Turns a design row into the row number of the input table plus its keys."""

    row_order: np.ndarray
    ids: np.ndarray
    decision_points: np.ndarray | None

    def label(self, r: int) -> str:
        text = f"row {int(self.row_order[r]) + 1} (participant {self.ids[r]}"
        if self.decision_points is not None:
            text += f", decision point {self.decision_points[r]}"
        return text + ")"


def _numeric(values, name: str, role: str) -> np.ndarray:
    """A float array; text that is not a number is an error naming the column."""
    if isinstance(values, pd.Series):
        if values.dtype == bool or pd.api.types.is_bool_dtype(values):
            return values.astype(float).to_numpy()
        if pd.api.types.is_numeric_dtype(values):
            return values.to_numpy(dtype=float, na_value=np.nan)
        conv = pd.to_numeric(values, errors="coerce")
        bad = conv.isna() & values.notna() & (values.astype("string").str.strip() != "")
        if bad.any():
            examples = ", ".join(map(repr, values[bad].unique()[:3]))
            raise LabmrtError(
                Problem(
                    f"{role} {name!r}",
                    f"is not numeric (values such as {examples})",
                    "choose a numeric column, or give a categorical one as moderator/control",
                )
            )
        return conv.to_numpy(dtype=float, na_value=np.nan)
    return np.asarray(values, dtype=float)


def _flag_values(
    frame: pd.DataFrame, spec: ColumnOrValue, n: int, name: str
) -> tuple[np.ndarray, str]:
    """As :func:`_value`, but a plain integer or boolean column is returned as it is.

    0/1 flags (availability, treatment) are only compared with 0 and 1, so a
    conversion to float would be a wasted pass over the table.
    """
    if isinstance(spec, str):
        col = frame[spec]
        if isinstance(col.dtype, np.dtype) and col.dtype.kind in "iub":
            return col.to_numpy(), spec
    return _value(frame, spec, n, name)


def _value(frame: pd.DataFrame, spec: ColumnOrValue, n: int, name: str) -> tuple[np.ndarray, str]:
    """A per-row float array from a column name, a number or an array; plus its label."""
    if isinstance(spec, str):
        return _numeric(frame[spec], spec, name), spec
    if isinstance(spec, np.ndarray | pd.Series):
        arr = np.asarray(spec, dtype=float)
        if arr.shape != (n,):
            raise LabmrtError(Problem(name, f"has {arr.size} values for {n} rows"))
        return arr, name
    if isinstance(spec, bool) or not isinstance(spec, int | float | np.floating | np.integer):
        raise LabmrtError(
            Problem(name, f"must be a column name or a number, got {spec!r}", "e.g. 0.5")
        )
    return np.full(n, float(spec)), repr(float(spec)) if spec != int(spec) else str(spec)


def _is_constant(spec: ColumnOrValue) -> bool:
    """A number or None (the default), as opposed to a column name or an array."""
    return spec is None or isinstance(spec, int | float | np.floating | np.integer)


def _scalar_or(spec: ColumnOrValue, values: np.ndarray) -> float | np.ndarray:
    """The number a constant probability was given as (None: 0.5), else its per-row values."""
    if spec is None:
        return 0.5
    return float(spec) if _is_constant(spec) else values


def is_categorical(col: pd.Series) -> bool:
    return (
        isinstance(col.dtype, pd.CategoricalDtype)
        or pd.api.types.is_object_dtype(col)
        or pd.api.types.is_string_dtype(col)
    )


@dataclass
class TermPlan:
    """One named moderator or control column, before anything of table size is written.

    A numeric column keeps its ``values``; a categorical one its level
    ``codes`` (-1 for a missing value or a level absent from the used rows)
    and ``width`` = levels - 1 dummies. Both in input-table order.
    """

    name: str
    values: np.ndarray | None = None
    codes: np.ndarray | None = None
    width: int = 1


def plan_terms(
    frame: pd.DataFrame, names: Sequence[str], used: np.ndarray, role: str
) -> tuple[list[TermPlan], list[str], dict[str, list], dict[str, tuple[str, object]]]:
    """Intercept plus the named columns, categorical ones dummy-coded R style.

    Returns the plans (see :func:`fill_terms`), the term names, the levels of
    every categorical column, and for every dummy the (column, level) it codes.
    Planning first fixes the number of design columns, so that the design is
    allocated once and each column written once.
    """
    plans: list[TermPlan] = []
    terms = ["(Intercept)"]
    levels: dict[str, list] = {}
    sources: dict[str, tuple[str, object]] = {}
    for name in names:
        col = frame[name]
        if is_categorical(col):
            present = col[used]
            if isinstance(col.dtype, pd.CategoricalDtype):
                lv = [c for c in col.cat.categories if (present == c).any()]
            else:
                lv = sorted(present.dropna().unique().tolist(), key=str)
            if len(lv) < 2:
                raise LabmrtError(
                    Problem(
                        f"{role} {name!r}",
                        f"has {len(lv)} level{'s' if len(lv) != 1 else ''} among the analyzed "
                        f"rows ({', '.join(map(str, lv)) or 'none'})",
                        "a categorical variable needs at least two levels; leave it out",
                    )
                )
            levels[name] = lv
            # -1 for a missing value and for a level seen only at unused rows.
            codes = pd.Index(lv).get_indexer(col)
            plans.append(TermPlan(name, codes=codes, width=len(lv) - 1))
            for level in lv[1:]:
                term = f"{name}{level}"
                terms.append(term)
                sources[term] = (name, level)
        else:
            plans.append(TermPlan(name, values=_numeric(col, name, role)))
            terms.append(name)
    return plans, terms, levels, sources


def fill_terms(
    out: np.ndarray,
    plans: Sequence[TermPlan],
    used: np.ndarray,
    order: np.ndarray | None,
) -> list[int]:
    """Write the intercept and the planned columns into ``out`` (design row order).

    ``order`` maps design rows to input rows (None: same order). The unused
    rows are set to 0 so that nothing undefined reaches a sum: a value times
    ``used`` is itself at a used row and 0 at an unused one, in the same pass
    as the copy, and the NaN check reads each piece while it is still in the
    cache; only a NaN or infinity at an unused row needs a second look.
    Returns the columns that are missing (NaN) at a used row, which the
    caller reports; a dummy is NaN where its column is missing.
    """
    n = out.shape[0]
    out[:, 0] = used
    missing_cols = []
    j = 1
    for plan in plans:
        if plan.values is not None:
            col = out[:, j]
            values = plan.values if order is None else plan.values[order]
            nan_seen = False
            with np.errstate(invalid="ignore"):  # inf at an unused row: NaN, set to 0 below
                for lo in range(0, n, _FILL_ROWS):
                    piece = col[lo : lo + _FILL_ROWS]
                    np.multiply(values[lo : lo + _FILL_ROWS], used[lo : lo + _FILL_ROWS], out=piece)
                    nan_seen = nan_seen or bool(np.isnan(piece).any())
            if nan_seen:
                nan = np.isnan(col)
                col[nan & ~used] = 0.0
                if np.any(nan & used):
                    missing_cols.append(j)
            j += 1
            continue
        codes = plan.codes if order is None else plan.codes[order]
        missing = np.flatnonzero((codes < 0) & used)
        for level in range(1, plan.width + 1):
            out[:, j] = (codes == level) & used
            if missing.size:
                out[missing, j] = np.nan
                missing_cols.append(j)
            j += 1
    return missing_cols


def _check_block(
    block: np.ndarray, cols: list[int], names: Sequence[str], role: str, where: RowLabels
) -> None:
    """Report the columns missing at used rows (``fill_terms``), with the rows."""
    if cols:
        rows = np.isnan(block[:, cols]).any(axis=1)
        raise LabmrtError(
            Problem(
                f"{role} {', '.join(repr(names[j]) for j in cols)}",
                "missing at available decision points: " + describe_rows(rows, where),
                "fill in the values, or exclude those decision points",
            )
        )


def _dedupe(names: Sequence[str] | str | None) -> list[str]:
    if names is None:
        return []
    if isinstance(names, str):
        names = [names]
    return list(dict.fromkeys(n for n in names if n not in ("1", "")))


# --------------------------------------------------------------------------- build


def build_design(
    frame: pd.DataFrame,
    *,
    id: str,
    outcome: str | np.ndarray,
    treatment: str | np.ndarray,
    rand_prob: ColumnOrValue,
    moderators: Sequence[str] = (),
    controls: Sequence[str] = (),
    availability: str | np.ndarray | None = None,
    numerator_prob: ColumnOrValue = None,
    decision_point: str | None = None,
    session: str | None = None,
    include: np.ndarray | None = None,
    binary_outcome: bool = False,
    add_moderators_to_controls: bool = True,
    labels: dict[str, str] | None = None,
) -> Design:
    """Check the table and build the WCLS design (MRTAnalysis ``wcls()`` conventions).

    ``include`` (bool per input row) further restricts the used rows (contrast,
    per-protocol, delayed outcome); excluded rows are treated as unavailable.
    ``numerator_prob=None`` means 0.5, as in MRTAnalysis 0.3.0. Moderators that
    are not among the controls are appended to them (R's formula
    ``~ controls + I(A - p~) * (moderators)`` adds them as main effects too),
    unless ``add_moderators_to_controls`` is false.
    """
    labels = labels or {}
    moderators = _dedupe(moderators)
    controls = _dedupe(controls)
    roles = {
        "outcome": outcome,
        "treatment": treatment,
        "randomization probability": rand_prob,
        "availability": availability,
        "numerator probability": numerator_prob,
    }
    _require_design_columns(frame, id, decision_point, session, roles, moderators, controls)
    notes: list[str] = []
    if add_moderators_to_controls:
        extra = [m for m in moderators if m not in controls]
        if extra:
            controls = controls + extra
            notes.append(
                "moderator(s) " + ", ".join(extra) + " added to the controls (working model), "
                "as MRTAnalysis's formula does"
            )
    n = len(frame)
    if n == 0:
        raise LabmrtError(Problem("data", "has no rows", "check the file"))
    rows = _row_order(frame, id, decision_point, session)
    where, in_order, order = rows.labels, rows.in_order, rows.order
    used = _used_rows(frame, availability, include, rows)
    a, prob, num, y, a_label, num_label = _checked_values(
        frame, outcome, treatment, rand_prob, numerator_prob, binary_outcome, labels, used, rows
    )

    # ---- moderator and control blocks (levels from the used rows), written once
    used_in_frame = used if in_order else np.empty(n, dtype=bool)
    if not in_order:
        used_in_frame[order] = used
    plans_g, control_names, lv_g, src_g = plan_terms(frame, controls, used_in_frame, "control")
    plans_s, effect_names, lv_s, src_s = plan_terms(frame, moderators, used_in_frame, "moderator")
    q, p = len(control_names), len(effect_names)
    # One column-major block [g | (A - p~) S | S]: x = [g | effect] and s are views of it.
    block = np.empty((n, q + 2 * p), order="F")
    g, s = block[:, :q], block[:, q + p :]
    row_map = None if in_order else order
    _check_block(g, fill_terms(g, plans_g, used, row_map), control_names, "control", where)
    _check_block(s, fill_terms(s, plans_s, used, row_map), effect_names, "moderator", where)

    # ---- zero the unused rows so nothing undefined reaches a sum
    off = np.flatnonzero(~used)
    if off.size:
        # Values read from the table or given as arrays may be the caller's: copied, once.
        # Constants and rows taken in sorted order are fresh arrays already.
        y, prob, num = (
            v if not in_order or _is_constant(spec) else v.astype(float)
            for v, spec in ((y, outcome), (prob, rand_prob), (num, numerator_prob))
        )
        y[off] = 0.0
        prob[off] = 0.5
        num[off] = 0.5
    # 0/1 at the used rows (checked above), 0 at the others.
    a = ((a == 1) & used).astype(float)
    for lo in range(0, n, _FILL_ROWS):  # the effect block (A - p~) S, a cached piece at a time
        piece = slice(lo, lo + _FILL_ROWS)
        centered = a[piece] - num[piece]
        for j in range(p):
            np.multiply(centered, s[piece, j], out=block[piece, q + j])

    return Design(
        y=y,
        g=g,
        s=s,
        a=a,
        prob=prob,
        num_prob=num,
        used=used,
        starts=rows.starts,
        participants=rows.participants,
        control_names=control_names,
        effect_names=effect_names,
        treatment_label=f"I({a_label} - {num_label})",
        row_order=order,
        decision_points=rows.decision_points,
        factor_levels={**lv_g, **lv_s},
        term_sources={**src_g, **src_s},
        notes=notes,
        row_labels=where,
        x=block[:, : q + p],
        # A constant probability enters the weights as a number: no per-row division.
        w=wcls_weight(a, _scalar_or(rand_prob, prob), _scalar_or(numerator_prob, num), used),
    )


def _require_design_columns(
    frame: pd.DataFrame,
    id: str,
    decision_point: str | None,
    session: str | None,
    roles: dict[str, object],
    moderators: list[str],
    controls: list[str],
) -> None:
    """Every column the analysis names exists (one message naming all that do not)."""
    needed: dict[str, str] = {id: "participant id"}
    if decision_point is not None:
        needed[decision_point] = "decision point"
    if session is not None:
        needed[session] = "session"
    for role, spec in roles.items():
        if isinstance(spec, str):
            needed.setdefault(spec, role)
    for c in moderators:
        needed.setdefault(c, "moderator")
    for c in controls:
        needed.setdefault(c, "control")
    require_columns(frame, needed)


@dataclass
class _RowOrder:
    """The design's row order: by participant (first appearance kept), then decision point."""

    order: np.ndarray
    in_order: bool  # the table is in that order already: no copies
    starts: np.ndarray  # first row of each participant (sorted rows)
    participants: np.ndarray
    decision_points: np.ndarray | None
    labels: RowLabels

    def take(self, arr: np.ndarray) -> np.ndarray:
        return arr if self.in_order else arr[self.order]


def _row_order(
    frame: pd.DataFrame, id: str, decision_point: str | None, session: str | None
) -> _RowOrder:
    """Sort by participant and decision point; ids and points must be present and unique."""
    n = len(frame)
    ids_raw = frame[id]
    if ids_raw.isna().any():
        bad_rows = np.flatnonzero(ids_raw.isna().to_numpy())[:_SHOW_ROWS] + 1
        raise LabmrtError(
            Problem(f"participant id {id!r}", f"missing in row(s) {', '.join(map(str, bad_rows))}")
        )
    codes, uniques = _participant_codes(ids_raw)
    grouped = n < 2 or bool(np.all(codes[1:] >= codes[:-1]))
    dp = None
    if decision_point is not None:
        dp = _numeric(frame[decision_point], decision_point, "decision point")
        if np.isnan(dp).any():
            bad_rows = np.flatnonzero(np.isnan(dp))[:_SHOW_ROWS] + 1
            raise LabmrtError(
                Problem(
                    f"decision point {decision_point!r}",
                    f"missing in row(s) {', '.join(map(str, bad_rows))}",
                )
            )
        keys: list[np.ndarray] = [codes]
        if session is not None:
            # Decision points are numbered within a session: order by session, then point.
            keys.append(pd.factorize(frame[session], sort=True)[0])
        keys.append(dp)
        in_order = grouped and _lex_nondecreasing(keys)
        order = np.arange(n) if in_order else np.lexsort(tuple(reversed(keys)))
    else:
        in_order = grouped
        order = np.arange(n) if in_order else np.argsort(codes, kind="stable")

    def take(arr: np.ndarray) -> np.ndarray:
        return arr if in_order else arr[order]

    sc = take(codes)
    starts = np.flatnonzero(np.r_[True, sc[1:] != sc[:-1]])
    dp_sorted = take(dp) if dp is not None else None
    where = RowLabels(order, take(np.asarray(ids_raw.to_numpy())), dp_sorted)
    if dp_sorted is not None and n > 1:
        dup = np.r_[False, (sc[1:] == sc[:-1]) & (dp_sorted[1:] == dp_sorted[:-1])]
        if session is not None:
            ss = np.asarray(frame[session].to_numpy())[order]
            dup &= np.r_[False, ss[1:] == ss[:-1]]
        if dup.any():
            raise LabmrtError(
                Problem(
                    "data",
                    f"{int(dup.sum())} duplicated (participant, "
                    f"{'session, ' if session else ''}decision point) key(s): "
                    + describe_rows(dup, where),
                    "keep one row per participant and decision point",
                )
            )
    return _RowOrder(order, in_order, starts, np.asarray(uniques)[sc[starts]], dp_sorted, where)


def _used_rows(
    frame: pd.DataFrame,
    availability: str | np.ndarray | None,
    include: np.ndarray | None,
    rows: _RowOrder,
) -> np.ndarray:
    """Available (a 0/1 flag without gaps) and included rows, in design order."""
    n = len(frame)
    if availability is None:
        used = np.ones(n, dtype=bool)
    else:
        avail, avail_label = _flag_values(frame, availability, n, "availability")
        avail = rows.take(avail)
        bad = ~np.isin(avail, (0.0, 1.0))
        if bad.any():
            raise LabmrtError(
                Problem(
                    f"availability {avail_label!r}",
                    "must be 0 or 1 (no missing values): " + describe_rows(bad, rows.labels),
                    "record unavailable decision points as 0",
                )
            )
        used = avail == 1
    if include is not None:
        used &= rows.take(np.asarray(include, dtype=bool))
    return used


def _checked_values(
    frame: pd.DataFrame,
    outcome: str | np.ndarray,
    treatment: str | np.ndarray,
    rand_prob: ColumnOrValue,
    numerator_prob: ColumnOrValue,
    binary_outcome: bool,
    labels: dict[str, str],
    used: np.ndarray,
    rows: _RowOrder,
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray, str, str]:
    """Treatment, probabilities and outcome in design order, checked at the used rows.

    Returns (a, prob, num, y, treatment label, numerator label).
    """
    n, take, where = len(frame), rows.take, rows.labels
    a, a_label = _flag_values(frame, treatment, n, "treatment")
    a = take(a)
    prob, p_label = _value(frame, rand_prob, n, "randomization probability")
    prob = take(prob)
    if numerator_prob is None:
        num, num_label = np.full(n, 0.5), "0.5"
    else:
        num, num_label = _value(frame, numerator_prob, n, "numerator probability")
        num = take(num)
    y, y_label = _value(frame, outcome, n, "outcome")
    y = take(y)
    a_label = labels.get("treatment", a_label)
    p_label = labels.get("rand_prob", p_label)
    y_label = labels.get("outcome", y_label)

    _check_no_nan(a, used, where, f"treatment {a_label!r}")
    bad = used & ~np.isin(a, (0.0, 1.0))
    if bad.any():
        raise LabmrtError(
            Problem(
                f"treatment {a_label!r}",
                "must be 0 or 1 at available decision points: " + describe_rows(bad, where),
                "code the treatment as 1 = treated, 0 = not (or name a --contrast)",
            )
        )
    for arr, spec, label in (
        (prob, rand_prob, f"randomization probability {p_label!r}"),
        (num, numerator_prob, f"numerator probability {num_label!r}"),
    ):
        if _is_constant(spec) and 0 < _scalar_or(spec, arr) < 1:
            continue  # one valid number: nothing to check row by row
        _check_no_nan(arr, used, where, label)
        _check_open_unit(arr, used, where, label)
    _check_no_nan(y, used, where, f"outcome {y_label!r}")
    if binary_outcome:
        bad = used & ~np.isin(y, (0.0, 1.0))
        if bad.any():
            raise LabmrtError(
                Problem(
                    f"outcome {y_label!r}",
                    "must be 0 or 1 for a binary outcome: " + describe_rows(bad, where),
                    "use the continuous analysis (without --binary) for other outcomes",
                )
            )
    return a, prob, num, y, a_label, num_label


def _participant_codes(ids: pd.Series) -> tuple[np.ndarray, np.ndarray]:
    """``pd.factorize(ids, sort=False)``: codes in order of first appearance, and the ids.

    Numeric ids in non-decreasing order (the usual export) are coded by counting
    the changes, which is cheaper than hashing every row.
    """
    values = ids.to_numpy()
    if values.dtype.kind in "iuf" and values.size > 1:
        change = values[1:] != values[:-1]
        if np.all(values[1:] >= values[:-1]):
            codes = np.empty(values.size, dtype=np.intp)
            codes[0] = 0
            np.cumsum(change, out=codes[1:])
            return codes, values[np.r_[True, change]]
    codes, uniques = pd.factorize(ids, sort=False)
    return codes, np.asarray(uniques)


def _lex_nondecreasing(keys: Sequence[np.ndarray]) -> bool:
    """Whether the rows already are in the order a stable sort by ``keys`` would give.

    Checking costs a few passes; sorting a table that is already in order
    (the usual export) would cost far more.
    """
    ordered = keys[-1][1:] >= keys[-1][:-1]
    for key in reversed(keys[:-1]):
        ordered = (key[1:] > key[:-1]) | ((key[1:] == key[:-1]) & ordered)
    return bool(ordered.all())


def _check_no_nan(arr: np.ndarray, used: np.ndarray, where: RowLabels, label: str) -> None:
    if arr.dtype.kind != "f" or not np.isnan(arr).any():
        return
    bad = used & np.isnan(arr)
    if bad.any():
        raise LabmrtError(
            Problem(
                label,
                f"missing at {int(bad.sum())} available decision point(s): "
                + describe_rows(bad, where),
                "fill in the values, or mark those decision points unavailable",
            )
        )


def _check_open_unit(arr: np.ndarray, used: np.ndarray, where: RowLabels, label: str) -> None:
    bad = used & ~((arr > 0) & (arr < 1))
    if bad.any():
        raise LabmrtError(
            Problem(
                label,
                "must lie strictly between 0 and 1 at available decision points: "
                + describe_rows(bad, where),
                "record the probability actually used; 0 or 1 means the point was not randomized",
            )
        )
