"""Natural direct and indirect excursion effects (Qian 2025, arXiv:2506.20027), as MRTAnalysis ``mcee()``.

How much of the treatment's effect on a distal outcome ``Y`` runs through a
time-varying mediator ``M`` (in labmrt: framing -> feature use -> task
completion). With ``f(t)`` the basis of the time-varying effect, the natural
direct excursion effect is ``f(t)' alpha`` and the indirect one ``f(t)' beta``.

Stage 1 fits the nuisance functions on subsets of the rows and predicts them
on every row: ``q = P(A = 1 | H, M)`` (logistic, available rows), ``eta_a``
(``Y`` on the controls without the mediator), ``mu_a`` (with it) and the
cross-world ``nu_a`` (the fitted ``mu_a`` regressed on the controls without
the mediator in the other arm). The "treated" fits include the unavailable
rows, and on those rows ``p_1, p_0, q_1, q_0`` are all set to 1, so their
pseudo-outcomes equal ``Y`` and contribute nothing to either effect, while
still counting in the bread (the effects are averaged over every decision
point). Stage 2 is closed form:

    phi11 = D1 Y / p1 - (D1 - p1) eta1 / p1
    phi00 = D0 Y / p0 - (D0 - p0) eta0 / p0
    phi10 = D1 q0 (Y - mu1) / (p0 q1) + D0 (mu1 - nu1) / p0 + nu1
    alpha = (sum w f f')^-1 sum w (phi10 - phi00) f
    beta  = (sum w f f')^-1 sum w (phi11 - phi10) f

with ``D1 = 1{A = 1 or unavailable}``, ``D0 = 1{A = 0}``. The variance is the
participant sandwich of the stacked estimating functions with the nuisance
fits taken as known and no small-sample correction; inference is t with
``participants - 2p`` degrees of freedom.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import numpy as np
import pandas as pd

from labmrt.analysis.design import ColumnOrValue, describe_rows
from labmrt.analysis.distal import (
    _conf,
    check_df,
    dedupe,
    learner_problem,
    read_data,
    solve_bread,
)
from labmrt.analysis.distal_input import (
    DistalInput,
    read_distal_input,
    require_given,
    row_weights,
)
from labmrt.analysis.distal_result import DistalResult, distal_result
from labmrt.analysis.nuisance import fit_predict, term_matrix
from labmrt.analysis.sandwich import grouped_weighted_sum, sandwich
from labmrt.errors import LabmrtError, Problem

MCEE_LEARNERS = ("glm",)
MCEE_ALIASES = {"lm": "glm"}  # gaussian glm is least squares


def mcee_weights(
    inp: DistalInput, weights: str | None, specific_dp: Sequence[float] | None
) -> np.ndarray:
    """``weight_per_row`` (a column, as given) or 1 on the listed decision points (else 1)."""
    if weights is not None and specific_dp is not None:
        raise LabmrtError(
            Problem(
                "weights",
                "--weights and --specific-dp are both given",
                "give one: a weight column, or the decision points that weigh 1",
            )
        )
    if specific_dp is not None:
        wanted = np.asarray(list(specific_dp), dtype=float)
        absent = [v for v in wanted if not np.any(inp.dp == v)]
        if absent:
            raise LabmrtError(
                Problem(
                    "specific decision points",
                    f"{', '.join(f'{v:g}' for v in absent)} not among the decision points",
                    "list decision points that occur in the data",
                )
            )
        return np.isin(inp.dp, wanted).astype(float)
    w = row_weights(inp, weights)
    return np.ones(inp.n_rows) if w is None else w


def pseudo_outcomes(
    y, a, avail, prob, q1_fit, eta1, eta0, mu1, mu0, nu1, nu0
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """``phi11, phi10, phi00`` per row (probabilities forced to 1 where unavailable)."""
    off = avail == 0
    p1 = np.where(off, 1.0, prob)
    p0 = np.where(off, 1.0, 1.0 - prob)
    q1 = np.where(off, 1.0, q1_fit)
    q0 = np.where(off, 1.0, 1.0 - q1_fit)
    d1 = ((a == 1) | off).astype(float)
    d0 = (a == 0).astype(float)
    phi11 = d1 / p1 * y - (d1 - p1) / p1 * eta1
    phi00 = d0 / p0 * y - (d0 - p0) / p0 * eta0
    phi10 = d1 * q0 * (y - mu1) / (p0 * q1) + d0 * (mu1 - nu1) / p0 + nu1
    return phi11, phi10, phi00


def fit_mcee_arrays(
    phi11: np.ndarray,
    phi10: np.ndarray,
    phi00: np.ndarray,
    f: np.ndarray,
    w: np.ndarray,
    starts: np.ndarray,
    names: list[str],
) -> tuple[np.ndarray, np.ndarray]:
    """Stage 2: ``(alpha, beta)`` and their joint sandwich covariance (alpha block first)."""
    p = f.shape[1]
    gram = (f * w[:, None]).T @ f
    direct, indirect = phi10 - phi00, phi11 - phi10
    rhs = f.T @ np.column_stack([w * direct, w * indirect])
    coef = solve_bread(gram, rhs, names)
    alpha, beta = coef[:, 0], coef[:, 1]
    ff = np.asfortranarray(f)
    u_alpha = grouped_weighted_sum(ff, w * (direct - f @ alpha), starts)
    u_beta = grouped_weighted_sum(ff, w * (indirect - f @ beta), starts)
    bread = np.zeros((2 * p, 2 * p))
    bread[:p, :p] = gram
    bread[p:, p:] = gram
    cov = sandwich(bread, np.hstack([u_alpha, u_beta]))
    return np.r_[alpha, beta], cov


def mcee(
    data: pd.DataFrame | str | Path,
    id: str = "participant",
    decision_point: str | None = None,
    outcome: str | None = None,
    treatment: str | None = None,
    mediator: str | None = None,
    rand_prob: ColumnOrValue = None,
    controls: Sequence[str] = (),
    availability: str | None = None,
    *,
    effect_form: Sequence[str] = (),
    learner: str = "glm",
    weights: str | None = None,
    specific_dp: Sequence[float] | None = None,
    conf_level: float = 0.95,
) -> DistalResult:
    """Natural direct / indirect excursion effects on ``outcome`` through ``mediator``.

    As MRTAnalysis ``mcee()``: ``controls`` is its
    ``control_formula_with_mediator`` as column names (list the mediator among
    them; it is dropped, as an exact name, for ``eta`` and ``nu``);
    ``effect_form`` the columns of the basis ``f(t) = (1, ...)`` (e.g. the
    decision point itself); ``weights`` a column of per-row weights used as
    given, or ``specific_dp`` the decision points that weigh 1 (all others 0).
    """
    conf_level = _conf(conf_level)
    learner = MCEE_ALIASES.get(learner, learner)
    if learner not in MCEE_LEARNERS:
        raise LabmrtError(learner_problem(learner, MCEE_LEARNERS, tuple(MCEE_ALIASES)))
    require_given(
        {
            "decision point": decision_point,
            "distal outcome": outcome,
            "treatment": treatment,
            "mediator": mediator,
            "randomization probability": rand_prob,
        }
    )
    controls, effect_form = dedupe(controls), dedupe(effect_form)
    for bad, role in ((treatment, "treatment"), (outcome, "distal outcome")):
        if bad in controls:
            raise LabmrtError(
                Problem(
                    f"control {bad!r}",
                    f"is the {role}: the nuisance models must not contain it",
                    "leave it out of the controls",
                )
            )
    frame = read_data(data)
    extra = {mediator: "mediator"}
    extra.update({c: "effect form term" for c in effect_form})
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
    inp.column(mediator, "mediator")
    w = mcee_weights(inp, weights, specific_dp)
    f = np.column_stack(
        [np.ones(inp.n_rows), *(inp.column(c, "effect form term") for c in effect_form)]
    )
    basis = ["(Intercept)", *effect_form]
    p = len(basis)
    df = check_df(inp.n_participants, 2 * p, "coefficients (direct and indirect effect)")
    notes: list[str] = []
    if mediator not in controls:
        notes.append(
            f"the mediator {mediator!r} is not among the controls: q and mu do not use it, "
            "so the indirect effect is not identified through it"
        )
    without = [c for c in controls if c != mediator]
    x_with = term_matrix(inp.frame, controls, "control", inp.where)
    x_without = term_matrix(inp.frame, without, "control", inp.where)
    avail_rows, off = inp.avail == 1, inp.avail == 0
    d1, d0 = (inp.a == 1) | off, inp.a == 0
    fits = {"q": fit_predict(x_with, avail_rows, inp.a, "q", family="binomial")}
    fits["eta1"] = fit_predict(x_without, d1, inp.y, "eta1")
    fits["eta0"] = fit_predict(x_without, d0, inp.y, "eta0")
    fits["mu1"] = fit_predict(x_with, d1, inp.y, "mu1")
    fits["mu0"] = fit_predict(x_with, d0, inp.y, "mu0")
    fits["nu1"] = fit_predict(x_without, d0, fits["mu1"].pred, "nu1")
    fits["nu0"] = fit_predict(x_without, d1, fits["mu0"].pred, "nu0")
    for fit in fits.values():
        notes += fit.notes
    q1 = fits["q"].pred
    extreme = avail_rows & ((q1 < 1e-8) | (q1 > 1 - 1e-8))
    if extreme.any():
        notes.append(
            "q = P(A = 1 | H, M) is within 1e-8 of 0 or 1 at "
            + describe_rows(extreme, inp.where)
            + ": the cross-world weights are extreme there"
        )
    phi11, phi10, phi00 = pseudo_outcomes(
        inp.y,
        inp.a,
        inp.avail,
        inp.prob,
        q1,
        fits["eta1"].pred,
        fits["eta0"].pred,
        fits["mu1"].pred,
        fits["mu0"].pred,
        fits["nu1"].pred,
        fits["nu0"].pred,
    )
    theta, cov = fit_mcee_arrays(phi11, phi10, phi00, f, w, inp.starts, basis)
    names = [f"ndee:{b}" for b in basis] + [f"niee:{b}" for b in basis]
    notes.append(
        "unavailable decision points count in the estimating equations with no contribution "
        "to either effect (the effects are averaged over all decision points); nuisance fits "
        "taken as known, no small-sample correction"
    )
    if specific_dp is not None:
        weights_label = "1 at decision points " + ", ".join(f"{v:g}" for v in specific_dp)
    else:
        weights_label = weights
    return distal_result(
        "mcee",
        inp,
        theta,
        cov,
        names,
        df,
        conf_level,
        learner=learner,
        notes=notes,
        stage1={k: v.to_dict() for k, v in fits.items()},
        extra={
            "weights_sum": float(w.sum()),
            "decision_point": decision_point,
            "effect_form": basis,
        },
        mediator=mediator,
        weights=weights_label,
    )
