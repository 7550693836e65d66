"""``wcls()``, ``emee()`` and ``fit_analysis()``: from a table to an :class:`EffectResult`.

The steps are kept apart so that each can be re-used: :func:`prepare`
(read, contrast, per-protocol, lags, delayed outcome) gives the arguments of
:func:`labmrt.analysis.design.build_design`; the design is then solved by
:func:`labmrt.analysis.wcls.fit_design` or
:func:`labmrt.analysis.emee.fit_emee_design`; :func:`make_result` wraps it.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd

from labmrt.analysis.contrasts import contrast_columns, parse_contrast, resolve_baseline
from labmrt.analysis.design import ColumnOrValue, Design, build_design, require_columns
from labmrt.analysis.lags import delayed_outcome, lagged_treatments
from labmrt.analysis.results import EffectResult
from labmrt.errors import LabmrtError, Problem
from labmrt.textcols import read_csv, text_as_objects

TABLE_SUFFIXES = (".csv", ".parquet", ".pq", ".tsv")


def read_table(path: str | Path) -> pd.DataFrame:
    """A CSV (or TSV) or Parquet table; an export folder reads its ``decision_points`` table."""
    path = Path(path)
    if path.is_dir():
        for name in ("decision_points.parquet", "decision_points.csv"):
            if (path / name).is_file():
                return read_table(path / name)
        raise LabmrtError(
            Problem(str(path), "is a folder without a decision_points table", "name the file")
        )
    if not path.is_file():
        raise LabmrtError(Problem(str(path), "no such file", "check the path"))
    suffix = path.suffix.lower()
    try:
        if suffix in (".parquet", ".pq"):
            return text_as_objects(pd.read_parquet(path))
        if suffix == ".tsv":
            return read_csv(path, sep="\t")
        return read_csv(path)
    except (ValueError, OSError, ImportError) as err:
        raise LabmrtError(
            Problem(str(path), f"cannot be read as a table: {err}", "give a CSV or Parquet file")
        ) from None


@dataclass
class Prepared:
    """Everything ``build_design`` needs, plus what the result reports."""

    frame: pd.DataFrame
    kwargs: dict
    analysis: str = "intent-to-treat"
    contrast: dict | None = None
    notes: list[str] = field(default_factory=list)
    treatment_label: str = ""
    prob_label: str = ""


def _avail_mask(frame: pd.DataFrame, availability) -> np.ndarray | None:
    if availability is None:
        return None
    if isinstance(availability, str):
        return (pd.to_numeric(frame[availability], errors="coerce") == 1).to_numpy(dtype=bool)
    return np.asarray(availability, dtype=float) == 1


def prepare(
    data: pd.DataFrame | str | Path,
    *,
    id: str = "participant",
    outcome: str | None = None,
    treatment: str | None = None,
    rand_prob: ColumnOrValue = None,
    moderators: Sequence[str] = (),
    controls: Sequence[str] = (),
    availability: str | None = None,
    numerator_prob: ColumnOrValue = None,
    decision_point: str | None = None,
    contrast: str | None = None,
    baseline: str | None = None,
    arm: str = "arm",
    per_protocol: bool = False,
    received: str = "received",
    treatment_lags: Sequence[int] = (),
    outcome_delay: int = 0,
    binary: bool = False,
) -> Prepared:
    """Resolve contrast, per-protocol rows, lags and delayed outcome into design arguments."""
    source = None if isinstance(data, pd.DataFrame) else data
    frame = data if isinstance(data, pd.DataFrame) else read_table(data)
    if outcome is None:
        raise LabmrtError(Problem("outcome", "not given", "name the proximal outcome column"))
    if decision_point is None and "decision_point" in frame.columns:
        decision_point = "decision_point"
    session = "session" if decision_point is not None and "session" in frame.columns else None
    moderators = list(moderators or [])
    controls = list(controls or [])
    notes: list[str] = []
    include = None
    treatment_spec: ColumnOrValue | np.ndarray = treatment
    prob_spec: ColumnOrValue | np.ndarray = rand_prob
    treatment_label = treatment or ""
    prob_label = str(rand_prob) if rand_prob is not None else ""
    contrast_info = None
    needed = {id: "participant id", outcome: "outcome"}
    if isinstance(availability, str):
        needed.setdefault(availability, "availability")
    require_columns(frame, needed)

    if contrast is not None:
        if treatment is not None or rand_prob is not None:
            raise LabmrtError(
                Problem(
                    "contrast",
                    "given together with a treatment column or probability",
                    "with --contrast the treatment and its probability come from the arm and "
                    "prob_<arm> columns; leave out --treatment and --prob",
                )
            )
        cc, contrast_info = _contrast(frame, contrast, baseline, arm, availability, source, notes)
        treatment_spec, prob_spec, include = cc.treatment, cc.prob, cc.include
        treatment_label = cc.contrast.label
        treated, control = "+".join(cc.contrast.treated), "+".join(cc.contrast.control)
        prob_label = f"p({treated}) / (p({treated}) + p({control})) from prob_ columns"
    else:
        cc = None
        if treatment is None:
            raise LabmrtError(
                Problem("treatment", "not given", "name a 0/1 treatment column or a --contrast")
            )
        if rand_prob is None:
            raise LabmrtError(
                Problem(
                    "randomization probability",
                    "not given",
                    "name the column holding P(treatment = 1), or give the constant",
                )
            )
    if baseline is not None and contrast is None:
        resolve_baseline(frame, baseline, source)

    analysis = "intent-to-treat"
    if per_protocol:
        include = _received_rows(frame, received, availability, include, notes)
        analysis = "per-protocol"
    if treatment_lags:
        lag_cols = _lag_columns(
            frame, treatment, treatment_spec, cc, id, decision_point, treatment_lags, availability
        )
        frame = frame.assign(**lag_cols)
        controls += list(lag_cols)
        notes.append(
            "lagged treatment(s) " + ", ".join(lag_cols) + " added to the controls "
            "(1 if that earlier decision point was randomized to the treated side)"
        )
    outcome_spec: str | np.ndarray = outcome
    outcome_label = outcome
    if outcome_delay:
        outcome_spec, has = _delayed(
            frame, outcome, id, decision_point, outcome_delay, availability, notes
        )
        include = has if include is None else include & has
        outcome_label = f"{outcome} (at t+{int(outcome_delay)})"

    kwargs = dict(
        id=id,
        outcome=outcome_spec,
        treatment=treatment_spec,
        rand_prob=prob_spec,
        moderators=moderators,
        controls=controls,
        availability=availability,
        numerator_prob=numerator_prob,
        decision_point=decision_point,
        session=session,
        include=include,
        binary_outcome=binary,
        labels={"treatment": treatment_label, "rand_prob": prob_label, "outcome": outcome_label},
    )
    return Prepared(
        frame=frame,
        kwargs=kwargs,
        analysis=analysis,
        contrast=contrast_info,
        notes=notes,
        treatment_label=treatment_label,
        prob_label=prob_label,
    )


def _contrast(frame, contrast, baseline, arm, availability, source, notes):
    """The contrast's treatment, probability and rows (:mod:`labmrt.analysis.contrasts`)."""
    from labmrt.analysis.contrasts import arms_of

    base = resolve_baseline(frame, baseline, source)
    con = parse_contrast(contrast, arms_of(frame), base)
    cc = contrast_columns(frame, con, arm, _avail_mask(frame, availability))
    info = {**con.to_dict(), "baseline_arm": base, "rows_excluded": cc.n_excluded}
    if cc.n_excluded:
        notes.append(
            f"{cc.n_excluded} available decision point(s) drew an arm outside the contrast "
            "and are excluded (treated as unavailable)"
        )
    return cc, info


def _received_rows(frame, received, availability, include, notes) -> np.ndarray:
    """Per-protocol: the rows (already included) whose framing was received."""
    require_columns(frame, {received: "received flag"})
    got = (pd.to_numeric(frame[received], errors="coerce") == 1).to_numpy(dtype=bool)
    avail = _avail_mask(frame, availability)
    base_rows = avail if avail is not None else np.ones(len(frame), dtype=bool)
    if include is not None:
        base_rows = base_rows & include
    dropped = int(np.count_nonzero(base_rows & ~got))
    notes.append(
        f"per-protocol: only decision points with {received} = 1 are analyzed "
        f"({dropped} available point(s) dropped); this comparison is NOT protected by "
        "randomization (receipt may depend on the participant's state)"
    )
    return got if include is None else include & got


def _lag_columns(frame, treatment, treatment_spec, cc, id, decision_point, lags, availability):
    """Columns of the treatment at earlier decision points (0 where not randomized)."""
    if isinstance(treatment_spec, str):
        require_columns(frame, {treatment_spec: "treatment"})
        a_now = pd.to_numeric(frame[treatment_spec], errors="coerce").to_numpy(dtype=float)
    else:
        a_now = np.asarray(treatment_spec, dtype=float)
    avail = _avail_mask(frame, availability)
    randomized = np.ones(len(frame), dtype=bool) if avail is None else avail
    if cc is not None:
        randomized = randomized & cc.include
    a_now = np.where(randomized, np.nan_to_num(a_now, nan=0.0), 0.0)
    base_name = treatment if isinstance(treatment, str) else "treatment"
    lag_cols = lagged_treatments(a_now, frame, id, decision_point, list(lags), base_name)
    clash = [c for c in lag_cols if c in frame.columns]
    if clash:
        raise LabmrtError(Problem("treatment lag", f"column(s) {', '.join(clash)} already exist"))
    return lag_cols


def _delayed(frame, outcome, id, decision_point, delay, availability, notes):
    """The outcome ``delay`` decision points later, and the rows that have it."""
    y = pd.to_numeric(frame[outcome], errors="coerce").to_numpy(dtype=float)
    y_later, has = delayed_outcome(y, frame, id, decision_point, delay)
    avail = _avail_mask(frame, availability)
    lost = int(np.count_nonzero(~has if avail is None else ~has & avail))
    notes.append(
        f"delayed effect: outcome taken {int(delay)} decision point(s) later; "
        f"{lost} decision point(s) without it are excluded"
    )
    return y_later, has


def used_range(values: np.ndarray, used: np.ndarray, some_unused: bool) -> tuple[float, float]:
    """Minimum and maximum over the used rows; the unused rows of the design hold 0.

    The range of the whole column is the answer unless 0 is at its edge (it
    could come from an unused row); only then are the used rows picked out.
    """
    low, high = float(values.min()), float(values.max())
    if some_unused and (low == 0 or high == 0):
        picked = values[used]
        low, high = float(picked.min()), float(picked.max())
    return low, high


def few_distinct(values: np.ndarray, used: np.ndarray, limit: int) -> np.ndarray | None:
    """The sorted distinct values at the used rows if there are at most ``limit``, else None.

    A continuous moderator is recognized from its first rows, and a discrete
    one confirmed with one membership pass, instead of sorting the column.
    """
    head = 64 * limit
    found = np.unique(values[:head][used[:head]])
    while found.size <= limit:
        rest = np.flatnonzero(used & ~np.isin(values, found))
        if rest.size == 0:
            return found
        found = np.union1d(found, np.unique(values[rest[:head]]))
    return None


def make_result(
    design: Design,
    fit,
    prepared: Prepared,
    *,
    method: str,
    conf_level: float,
    numerator_prob: ColumnOrValue,
) -> EffectResult:
    ranges = {}
    discrete: dict[str, list[float]] = {}
    n_used = design.n_used
    for term in design.effect_names[1:]:
        if term not in design.term_sources:
            j = design.effect_names.index(term)
            vals, used = design.s[:, j], design.used
            if n_used:
                ranges[term] = used_range(vals, used, n_used < design.n_rows)
                distinct = few_distinct(vals, used, 6)
                if distinct is not None:
                    discrete[term] = [float(v) for v in distinct]
    notes = list(design.notes) + list(prepared.notes)
    if method == "emee" and fit.small_sample_applied:
        notes.append("small-sample correction always applied, df = all participants - p - q")
    return EffectResult(
        method=method,
        params=fit.theta,
        cov_used=fit.cov,
        cov_plain=fit.cov_uncorrected,
        corrected_fn=fit.corrected_fn,
        small_sample_applied=fit.small_sample_applied,
        control_names=list(design.control_names),
        effect_names=list(design.effect_names),
        design_names=design.design_names,
        df=fit.df,
        n_participants=design.n_participants,
        n_effective=fit.n_effective,
        n_decision_points=design.n_rows,
        n_used=n_used,
        conf_level=conf_level,
        outcome=prepared.kwargs["labels"]["outcome"],
        treatment=prepared.treatment_label,
        rand_prob=prepared.prob_label,
        numerator_prob="0.5" if numerator_prob is None else str(numerator_prob),
        analysis=prepared.analysis,
        scale="log relative risk" if method == "emee" else "additive",
        contrast=prepared.contrast,
        notes=notes,
        factor_levels=dict(design.factor_levels),
        term_sources=dict(design.term_sources),
        moderator_ranges=ranges,
        moderator_values=discrete,
        iterations=fit.iterations,
        _cov_corrected=fit.cov_corrected,
    )


def _check_conf(conf_level: float) -> float:
    if not 0 < float(conf_level) < 1:
        raise LabmrtError(
            Problem("confidence level", f"must lie strictly between 0 and 1, got {conf_level}")
        )
    return float(conf_level)


def _run(method: str, data, small_sample: str, conf_level: float, **kw) -> EffectResult:
    from labmrt.analysis.emee import fit_emee_design
    from labmrt.analysis.wcls import fit_design, small_sample_applies

    conf_level = _check_conf(conf_level)
    small_sample_applies(small_sample, 0)  # validates the mode early
    prepared = prepare(data, binary=(method == "emee"), **kw)
    design = build_design(prepared.frame, **prepared.kwargs)
    if method == "emee":
        fit = fit_emee_design(design, small_sample=small_sample)
    else:
        fit = fit_design(design, small_sample=small_sample)
    return make_result(
        design,
        fit,
        prepared,
        method=method,
        conf_level=conf_level,
        numerator_prob=kw.get("numerator_prob"),
    )


def wcls(
    data: pd.DataFrame | str | Path,
    id: str = "participant",
    outcome: str | None = None,
    treatment: str | None = None,
    rand_prob: ColumnOrValue = None,
    moderators: Sequence[str] = (),
    controls: Sequence[str] = (),
    availability: str | None = None,
    numerator_prob: ColumnOrValue = None,
    *,
    decision_point: str | None = None,
    contrast: str | None = None,
    baseline: str | None = None,
    arm: str = "arm",
    per_protocol: bool = False,
    received: str = "received",
    treatment_lags: Sequence[int] = (),
    outcome_delay: int = 0,
    small_sample: str = "auto",
    conf_level: float = 0.95,
) -> EffectResult:
    """Causal excursion effect of a continuous proximal outcome (MRTAnalysis ``wcls()``).

    ``rand_prob`` and ``numerator_prob`` are a column name or a constant;
    ``numerator_prob=None`` means 0.5 (MRTAnalysis 0.3.0). ``contrast``
    (e.g. ``"loss-vs-baseline"``) replaces ``treatment``/``rand_prob`` with
    values derived from the ``arm`` and ``prob_<arm>`` columns (see
    :mod:`labmrt.analysis.contrasts`). ``small_sample``: ``auto`` (as
    MRTAnalysis: Mancl-DeRouen when at most 50 participants carry weight),
    ``always`` or ``never``.
    """
    return _run(
        "wcls",
        data,
        small_sample,
        conf_level,
        id=id,
        outcome=outcome,
        treatment=treatment,
        rand_prob=rand_prob,
        moderators=moderators,
        controls=controls,
        availability=availability,
        numerator_prob=numerator_prob,
        decision_point=decision_point,
        contrast=contrast,
        baseline=baseline,
        arm=arm,
        per_protocol=per_protocol,
        received=received,
        treatment_lags=treatment_lags,
        outcome_delay=outcome_delay,
    )


def emee(
    data: pd.DataFrame | str | Path,
    id: str = "participant",
    outcome: str | None = None,
    treatment: str | None = None,
    rand_prob: ColumnOrValue = None,
    moderators: Sequence[str] = (),
    controls: Sequence[str] = (),
    availability: str | None = None,
    numerator_prob: ColumnOrValue = None,
    *,
    decision_point: str | None = None,
    contrast: str | None = None,
    baseline: str | None = None,
    arm: str = "arm",
    per_protocol: bool = False,
    received: str = "received",
    treatment_lags: Sequence[int] = (),
    outcome_delay: int = 0,
    small_sample: str = "always",
    conf_level: float = 0.95,
) -> EffectResult:
    """Causal excursion effect of a binary proximal outcome on the log relative risk scale.

    As MRTAnalysis ``emee()``: same arguments as :func:`wcls`; the
    small-sample correction is always applied by default and the degrees of
    freedom count every participant in the data.
    """
    return _run(
        "emee",
        data,
        small_sample,
        conf_level,
        id=id,
        outcome=outcome,
        treatment=treatment,
        rand_prob=rand_prob,
        moderators=moderators,
        controls=controls,
        availability=availability,
        numerator_prob=numerator_prob,
        decision_point=decision_point,
        contrast=contrast,
        baseline=baseline,
        arm=arm,
        per_protocol=per_protocol,
        received=received,
        treatment_lags=treatment_lags,
        outcome_delay=outcome_delay,
    )
