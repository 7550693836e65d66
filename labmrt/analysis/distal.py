"""Distal causal excursion effect (Qian 2025, Biometrics, doi:10.1093/biomtc/ujaf134), as MRTAnalysis ``dcee()``.

The effect of the treatment at a decision point on an outcome measured once
at the end (the distal outcome ``Y``, repeated on each of a participant's
rows), projected on the moderators ``S_t = (1, S...)``. Two stages:

1. nuisance regressions of ``Y`` on the controls, ``mu_0`` on every row with
   ``A = 0`` (the unavailable rows included) and ``mu_1`` on every row with
   ``A = 1``, both predicted on every row (``lm``, or ``set_to_zero``);
2. the closed-form estimating equation
   ``beta = (sum w S S')^-1 sum r S`` with the pseudo-residual
   ``r = w I (+1 | -1) / P(A | H) (Y - (1 - p) mu_1 - p mu_0)`` (note the
   cross-weighting of the two predictions), summed over every row: the
   unavailable ones have ``r = 0`` but stay in the bread, so the estimand is
   the projection of ``I_t tau_t`` on ``S_t``.

The variance is the participant sandwich of ``r S - w S S' beta`` with the
stage-1 fits taken as fixed and no small-sample correction; inference is t
with ``participants - p`` degrees of freedom (MRTAnalysis ``summary.dcee_fit``).
The moderators are raw numeric columns (MRTAnalysis takes the variables of
its moderator formula as they are).
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import numpy as np
import pandas as pd

from labmrt.analysis.design import ColumnOrValue
from labmrt.analysis.distal_input import (
    DistalInput,
    read_distal_input,
    require_given,
    row_weights,
)
from labmrt.analysis.distal_result import DistalResult, distal_result
from labmrt.analysis.nuisance import NuisanceFit, fit_predict, term_matrix
from labmrt.analysis.sandwich import grouped_weighted_sum, sandwich
from labmrt.analysis.wcls import collinear_terms
from labmrt.errors import LabmrtError, Problem

DCEE_LEARNERS = ("lm", "set_to_zero")
#: Why the reference package's default learner is not offered (see learner_problem).
GAM_UNAVAILABLE = (
    "MRTAnalysis's gam learner is mgcv's thin-plate regression spline with its GCV "
    "smoothing-parameter search, which no maintained Python GAM library reproduces "
    "(pyGAM's P-splines differ by 7-12% on the reference fit; mgcv-rust has no "
    "thin-plate basis and no multi-term GCV)"
)


def learner_problem(learner: str, offered: Sequence[str], aliases: Sequence[str] = ()) -> Problem:
    if learner == "gam":
        return Problem(
            f"learner {learner!r}",
            f"is not available: {GAM_UNAVAILABLE}",
            f"choose one of {', '.join(offered)}",
        )
    return Problem(
        f"learner {learner!r}",
        "is not one labmrt offers",
        f"choose one of {', '.join([*offered, *aliases])}",
    )


def dedupe(names: Sequence[str] | str | None) -> list[str]:
    if names is None:
        return []
    if isinstance(names, str):
        names = [names]
    return list(dict.fromkeys(n for n in names if n not in ("1", "")))


def read_data(data: pd.DataFrame | str | Path) -> pd.DataFrame:
    if isinstance(data, pd.DataFrame):
        return data
    from labmrt.analysis.api import read_table

    return read_table(data)


def check_df(n: int, p: int, what: str) -> int:
    df = n - p
    if df < 1:
        raise LabmrtError(
            Problem(
                "analysis",
                f"{n} participant(s) for {p} {what}: no degrees of freedom left (df = {df})",
                "use fewer terms, or analyze more participants",
            )
        )
    return df


def solve_bread(gram: np.ndarray, rhs: np.ndarray, names: list[str]) -> np.ndarray:
    """``gram^-1 rhs``; a singular bread names its collinear terms."""
    groups = collinear_terms(gram, names)
    if groups:
        text = "; ".join(" ~ ".join(g) for g in groups)
        raise LabmrtError(
            Problem(
                "effect terms",
                f"are collinear on the weighted rows: {text}",
                "drop one term of each group (a term constant on the weighted rows, or one "
                "that repeats another)",
            )
        )
    return np.linalg.solve(gram, rhs)


def dcee_pseudo_residual(
    y: np.ndarray,
    a: np.ndarray,
    prob: np.ndarray,
    avail: np.ndarray,
    mu0: np.ndarray,
    mu1: np.ndarray,
    omega: np.ndarray | float,
) -> np.ndarray:
    """``w I (+1 | -1) / P(A | H) (Y - (1 - p) mu_1 - p mu_0)``, 0 where unavailable."""
    treated = a == 1
    with np.errstate(divide="ignore", invalid="ignore"):
        pa = np.where(treated, prob, 1.0 - prob)
        r = np.where(treated, 1.0, -1.0) / pa * (y - (1.0 - prob) * mu1 - prob * mu0)
    r = np.where(avail == 1, r, 0.0)
    return r * omega


def fit_dcee_arrays(
    r: np.ndarray, s: np.ndarray, omega: np.ndarray | None, starts: np.ndarray, names: list[str]
) -> tuple[np.ndarray, np.ndarray]:
    """Stage 2: ``beta`` and its sandwich covariance from the pseudo-residuals ``r``.

    ``omega`` None means every row weighs the same (a constant cancels).
    """
    sw = s if omega is None else s * omega[:, None]
    gram = sw.T @ s
    beta = solve_bread(gram, s.T @ r, names)
    fitted = s @ beta if omega is None else omega * (s @ beta)
    scores = grouped_weighted_sum(np.asfortranarray(s), r - fitted, starts)
    return beta, sandwich(gram, scores)


def stage1_outcome(
    inp: DistalInput, controls: list[str], learner: str
) -> tuple[np.ndarray, np.ndarray, dict[str, NuisanceFit]]:
    """``mu_0`` and ``mu_1`` on every row, and the fits (none for set_to_zero)."""
    if learner == "set_to_zero":
        zero = np.zeros(inp.n_rows)
        return zero, zero, {}
    x = term_matrix(inp.frame, controls, "control", inp.where)
    fit0 = fit_predict(x, inp.a == 0, inp.y, "A0", family="gaussian")
    fit1 = fit_predict(x, inp.a == 1, inp.y, "A1", family="gaussian")
    return fit0.pred, fit1.pred, {"A0": fit0, "A1": fit1}


def dcee(
    data: pd.DataFrame | str | Path,
    id: str = "participant",
    outcome: str | None = None,
    treatment: str | None = None,
    rand_prob: ColumnOrValue = None,
    moderators: Sequence[str] = (),
    controls: Sequence[str] = (),
    availability: str | None = None,
    *,
    learner: str = "gam",
    weights: str | None = None,
    decision_point: str | None = None,
    conf_level: float = 0.95,
) -> DistalResult:
    """Distal causal excursion effect of the treatment on ``outcome`` (MRTAnalysis ``dcee()``).

    ``outcome`` is the distal outcome, one value per participant repeated on
    its rows. ``learner``: ``lm`` or ``set_to_zero`` (MRTAnalysis's default
    ``gam`` is refused with the reason, see :data:`GAM_UNAVAILABLE`).
    ``weights``: a column of per-row weights, used as given (MRTAnalysis's
    ``weighting_function``). ``decision_point``: when given, checked to
    increase within each participant.
    """
    conf_level = _conf(conf_level)
    if learner not in DCEE_LEARNERS:
        raise LabmrtError(learner_problem(learner, DCEE_LEARNERS))
    require_given(
        {"distal outcome": outcome, "treatment": treatment, "randomization probability": rand_prob}
    )
    frame = read_data(data)
    moderators, controls = dedupe(moderators), dedupe(controls)
    extra = {m: "moderator" for m in moderators}
    if weights is not None:
        extra[weights] = "weight"
    inp = read_distal_input(
        frame,
        id=id,
        outcome=outcome,
        treatment=treatment,
        rand_prob=rand_prob,
        availability=availability,
        decision_point=decision_point,
        extra_columns=extra,
    )
    notes = []
    if learner == "set_to_zero" and controls:
        notes.append("learner set_to_zero: the control terms are not used (mu_0 = mu_1 = 0)")
    mu0, mu1, fits = stage1_outcome(inp, controls, learner)
    for fit in fits.values():
        notes += fit.notes
    s = np.column_stack([np.ones(inp.n_rows), *(inp.column(m, "moderator") for m in moderators)])
    omega = row_weights(inp, weights)
    names = ["(Intercept)", *moderators]
    df = check_df(inp.n_participants, len(names), "effect coefficients")
    r = dcee_pseudo_residual(
        inp.y, inp.a, inp.prob, inp.avail, mu0, mu1, 1.0 if omega is None else omega
    )
    beta, cov = fit_dcee_arrays(r, s, omega, inp.starts, names)
    se = np.sqrt(np.diag(cov))
    notes.append(
        "unavailable decision points stay in the estimating equation with a zero "
        "pseudo-residual (the effect is averaged over all decision points); stage-1 "
        "regressions taken as known, no small-sample correction"
    )
    return distal_result(
        "dcee",
        inp,
        beta,
        cov,
        names,
        df,
        conf_level,
        learner=learner,
        notes=notes,
        stage1={k: f.to_dict() for k, f in fits.items()},
        extra={"conf_int_1.96": np.column_stack([beta - 1.96 * se, beta + 1.96 * se]).tolist()},
        weights=weights,
    )


def _conf(conf_level: float) -> float:
    if not 0 < float(conf_level) < 1:
        raise LabmrtError(
            Problem("confidence level", f"must lie strictly between 0 and 1, got {conf_level}")
        )
    return float(conf_level)
